#!/usr/bin/python3
"""Tests of tools/lucidrains_reference.py (lucidrains' TimeSformer-pytorch 0.4.1) and of the
seed's generated test models ($TSF_TEST_MODELS/seed-cases.json): the references reproduce the
stored logits from the stored files, model.pt uses only what the engine's restricted unpickler
reads, and properties of the library's computation hold (rotary tables, token shift, frame
mask). The reference itself was checked against the library with tools/compare_lucidrains.py
(docs/seed-models.md). Run by meson (suite 'tools')."""

import json
import math
import os
import pickletools
import sys
import tempfile
import unittest
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import lucidrains_reference as lucid  # noqa: E402
import timesformer_reference as ref  # noqa: E402

MODELS = os.environ.get("TSF_TEST_MODELS")
BASE = dict(dim=24, num_frames=4, num_classes=3, image_size=32, patch_size=8, depth=1, heads=2, dim_head=8)

# What engine/tsf-pickle.c accepts (docs/checkpoints.md).
ALLOWED_GLOBALS = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch FloatStorage"}
ALLOWED_OPCODES = {"PROTO", "FRAME", "MARK", "STOP", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "DICT", "LIST",
                   "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "SETITEM", "SETITEMS", "APPEND", "APPENDS", "BININT",
                   "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE",
                   "BINUNICODE8", "NONE", "NEWTRUE", "NEWFALSE", "BINPUT", "LONG_BINPUT", "MEMOIZE", "BINGET",
                   "LONG_BINGET", "GLOBAL", "STACK_GLOBAL", "BINPERSID", "REDUCE", "BUILD"}


def video(batch, frames, height=32, width=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 3, height, width, generator=gen, dtype=torch.float64)


def run(model, x, mask=None):
    with torch.no_grad():
        return lucid.forward(model, x, None if mask is None else torch.tensor(mask))


def cases():
    with open(os.path.join(MODELS, "seed-cases.json")) as f:
        return json.load(f)


@unittest.skipIf(MODELS is None, "TSF_TEST_MODELS is not set (meson test sets it)")
class GeneratedModelsTest(unittest.TestCase):
    def test_references_reproduce_the_stored_logits(self):
        seen = set()
        for case in cases():
            with self.subTest(case=case["name"]):
                folder = os.path.join(MODELS, case["model"])
                x = torch.from_numpy(np.load(os.path.join(MODELS, case["input"]))).double().unsqueeze(0)
                self.assertEqual(tuple(x.shape[1:]), (case["frames"], 3, case["height"], case["width"]))
                expected = np.load(os.path.join(MODELS, case["expected"]))
                self.assertEqual(expected.dtype, np.float64)
                with torch.no_grad():
                    if case["family"] == "huggingface":
                        got = ref.forward(ref.load_pretrained(folder, torch.float64), x)[0]
                    else:
                        model, _ = lucid.load_folder(folder)
                        mask = None
                        if case["mask"]:
                            mask = torch.from_numpy(np.load(os.path.join(MODELS, case["mask"])).astype(bool))
                            self.assertEqual(tuple(mask.shape), (case["frames"],))
                            mask = mask.unsqueeze(0)
                        got = lucid.forward(model, x, mask)[0]
                np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)
                seen.add(case["scheme"])
        self.assertTrue({"axial", "sparse_local_global", "rotary", "learned", "rotary+shift_tokens",
                         "learned+shift_tokens"} <= seen)

    def test_model_pt_is_what_the_engine_reads(self):
        """A zip with one <folder>/data.pkl; its pickle only uses the opcodes and globals of
        engine/tsf-pickle.c; every tensor float32; torch.load(weights_only=True) takes it."""
        folders = sorted({c["model"] for c in cases() if c["family"] == "timesformer_pytorch"})
        self.assertGreaterEqual(len(folders), 6)
        for folder in folders:
            path = os.path.join(MODELS, folder, "model.pt")
            with self.subTest(folder=folder), zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
                self.assertEqual(len(pickles), 1)
                ops, strings = set(), []
                for op, arg, _ in pickletools.genops(archive.read(pickles[0])):
                    ops.add(op.name)
                    if op.name in ("SHORT_BINUNICODE", "BINUNICODE"):
                        strings.append(arg)
                    elif op.name == "STACK_GLOBAL":
                        self.assertIn(f"{strings[-2]} {strings[-1]}", ALLOWED_GLOBALS)
                    elif op.name == "GLOBAL":
                        self.assertIn(arg, ALLOWED_GLOBALS)
                self.assertTrue(ops <= ALLOWED_OPCODES, ops - ALLOWED_OPCODES)
                state = torch.load(path, weights_only=True)
                self.assertTrue(all(t.dtype == torch.float32 for t in state.values()))


class RotaryTablesTest(unittest.TestCase):
    def test_time_angles_repeat_the_frequency_list(self):
        """dim_head 8: frequencies 1, 0.1, 0.01, 0.001 written twice; angle = frame x frequency."""
        model = lucid.TimeSformer(**dict(BASE, dim_head=8))
        freqs = [1.0, 0.1, 0.01, 0.001]
        np.testing.assert_allclose(model.frame_rot_emb.inv_freqs.numpy(), freqs, rtol=1e-6)
        angles = lucid.time_angles(model, 3).double().numpy()
        np.testing.assert_allclose(angles, [[t * w for w in freqs + freqs] for t in range(3)], rtol=1e-6)

    def test_space_angles(self):
        """dim_head 8: K = 2 scales 1, 5; a 2x3 grid: rows at -1, 1, columns at -1, 0, 1;
        channels (y s0, y s0, y s1, y s1, x s0, x s0, x s1, x s1) pi."""
        model = lucid.TimeSformer(**dict(BASE, dim_head=8)).double()
        np.testing.assert_allclose(model.image_rot_emb.scales.numpy(), [1.0, 5.0], rtol=1e-6)
        got = lucid.space_angles(model, 2, 3).numpy()
        expected = [[math.pi * v for v in (y, y, 5 * y, 5 * y, x, x, 5 * x, 5 * x)]
                    for y in (-1, 1) for x in (-1, 0, 1)]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
        self.assertEqual(lucid.space_scales(4).tolist(), [1.0])                 # K = 1
        self.assertEqual(lucid.space_angles(lucid.TimeSformer(**dict(BASE, dim_head=10)), 1, 1).shape, (1, 8))

    def test_rotate(self):
        x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=torch.float64)
        theta = torch.tensor([[0.5, 0.25, 1.0, 2.0]], dtype=torch.float64)
        c, s = math.cos, math.sin
        expected = [1 * c(0.5) - 2 * s(0.5), 2 * c(0.25) + 1 * s(0.25),
                    3 * c(1.0) - 4 * s(1.0), 4 * c(2.0) + 3 * s(2.0), 5.0]
        np.testing.assert_allclose(lucid.rotate(x, theta)[0].numpy(), expected, rtol=1e-14)


class ComputationTest(unittest.TestCase):
    def test_token_shift(self):
        """dim 7 (c = 2): channels 0-1 from the next frame, 4-5 from the previous, 2-3 and 6 kept."""
        model = lucid.TimeSformer(**dict(BASE, dim=7, heads=1, num_frames=3, image_size=8, shift_tokens=True))
        x = torch.arange(4 * 7, dtype=torch.float64).reshape(1, 4, 7)         # cls + 3 frames of 1 patch
        out = lucid.shift_tokens(model, x)[0]
        self.assertEqual(out[0].tolist(), x[0, 0].tolist())
        frame = lambda t: x[0, 1 + t].tolist()                                 # noqa: E731
        for t in range(3):
            nxt = frame(t + 1)[0:2] if t < 2 else [0, 0]
            prev = frame(t - 1)[4:6] if t > 0 else [0, 0]
            self.assertEqual(out[1 + t].tolist(), nxt + frame(t)[2:4] + prev + frame(t)[6:7])

    def test_masked_frames_do_not_reach_the_logits(self):
        """Without token shift a masked frame is seen only by its own (masked) patches; with
        token shift its channels move into its neighbours."""
        mask = [[True, False, True, True]]
        for rotary in (True, False):
            model = lucid.random_model(3, **dict(BASE, rotary_emb=rotary)).double()
            x = video(1, 4)
            y = x.clone()
            y[:, 1] += 1
            self.assertLess((run(model, x, mask) - run(model, y, mask)).abs().max().item(), 1e-12)
            self.assertGreater((run(model, x) - run(model, y)).abs().max().item(), 1e-6)
            np.testing.assert_array_equal(run(model, x, [[True] * 4]).numpy(), run(model, x).numpy())
        shifted = lucid.random_model(3, **dict(BASE, shift_tokens=True)).double()
        self.assertGreater((run(shifted, x, mask) - run(shifted, y, mask)).abs().max().item(), 1e-6)

    def test_batch_is_per_clip(self):
        model = lucid.random_model(4, **BASE).double()
        x = video(2, 4)
        mask = [[True, True, False, True], [True, True, True, True]]
        both = run(model, x, mask)
        np.testing.assert_allclose(both[0].numpy(), run(model, x[:1], mask[:1])[0].numpy(), atol=1e-13)
        np.testing.assert_allclose(both[1].numpy(), run(model, x[1:])[0].numpy(), atol=1e-13)

    def test_refusals(self):
        shifted = lucid.random_model(1, **dict(BASE, shift_tokens=True))
        with self.assertRaisesRegex(ValueError, "exactly num_frames=4"):
            lucid.forward(shifted, video(1, 3).float())
        learned = lucid.random_model(1, **dict(BASE, rotary_emb=False))
        with self.assertRaisesRegex(ValueError, "rows of pos_emb"):
            lucid.forward(learned, video(1, 5).float())
        with self.assertRaisesRegex(ValueError, "even dim_head"):
            lucid.TimeSformer(**dict(BASE, dim_head=7))

    def test_flops_formula_counts_what_the_forward_pass_runs(self):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from test_grouped_attention import count_flops
        for kwargs, frames, height, width in ((BASE, 4, 32, 32), (dict(BASE, dim_head=16, heads=3), 3, 24, 40)):
            model = lucid.random_model(1, **kwargs).double()
            counted = count_flops(lambda: lucid.forward(model, video(1, frames, height, width)))
            self.assertEqual(lucid.flops(kwargs, frames, height, width), counted)

    def test_folder_round_trip_and_names(self):
        model = lucid.random_model(5, **dict(BASE, shift_tokens=True))
        with tempfile.TemporaryDirectory() as tmp:
            lucid.save_folder(model, tmp, ["a", "b", "c"])
            loaded, labels = lucid.load_folder(tmp)
            with open(os.path.join(tmp, "timesformer_pytorch.json")) as f:
                kwargs = json.load(f)
        self.assertEqual(labels, ["a", "b", "c"])
        self.assertNotIn("attn_dropout", kwargs)
        x = video(1, 4)
        np.testing.assert_array_equal(run(loaded, x).numpy(), run(model.double(), x).numpy())
        names = set(loaded.state_dict())
        for name in ("cls_token", "to_patch_embedding.weight", "frame_rot_emb.inv_freqs", "image_rot_emb.scales",
                     "layers.0.0.norm.weight", "layers.0.0.fn.fn.to_qkv.weight", "layers.0.1.fn.fn.to_out.0.bias",
                     "layers.0.2.fn.fn.net.0.weight", "layers.0.2.fn.fn.net.3.bias", "to_out.0.weight",
                     "to_out.1.bias"):
            self.assertIn(name, names)


if __name__ == "__main__":
    unittest.main()
