#!/usr/bin/python3
"""Tests of the grouped schemes of tools/timesformer_reference.py (sparse_local_global, axial):
group membership, a hand-computed step, and equivalences with the other schemes that hold for
any weights. Run by meson (suite 'tools')."""

import itertools
import math
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import timesformer_reference as ref  # noqa: E402

SMALL = dict(image_size=32, patch_size=8, num_frames=4, hidden_size=32, num_hidden_layers=2,
             num_attention_heads=2, intermediate_size=64)
SHAPES = [(t, gh, gw) for t in (1, 2, 3, 4) for gh in (1, 2, 3, 4, 5) for gw in (1, 2, 3, 6)]


def decode(index, frames, gw):
    """video-token index -> (frame, row, column)."""
    n, t = divmod(int(index), frames)
    return t, n // gw, n % gw


def keys_of(step, frames, grid):
    """What the tokens of a group must share, per step, computed from (frame, row, column)."""
    gh, gw = grid
    half_h, half_w = math.ceil(gh / 2), math.ceil(gw / 2)
    return {"time": lambda t, i, j: (i, j), "width": lambda t, i, j: (t, i),
            "height": lambda t, i, j: (t, j),
            "local": lambda t, i, j: (i >= half_h, j >= half_w),
            "global": lambda t, i, j: (t % 2, i % 2, j % 2)}[step]


def model(attention_type, seed=1, **overrides):
    return ref.random_model(ref.make_config(num_labels=5, attention_type=attention_type,
                                            **dict(SMALL, **overrides)), seed)


def logits(m, x):
    with torch.no_grad():
        return ref.forward(m, x)


def clip(frames, height, width, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, frames, 3, height, width, generator=gen, dtype=torch.float64)


def zero_step(layer, prefix):
    with torch.no_grad():
        getattr(layer, prefix).output.dense.weight.zero_()
        getattr(layer, prefix).output.dense.bias.zero_()


class GroupMembershipTest(unittest.TestCase):
    def test_groups_are_the_classes_of_their_key(self):
        """For every step and odd/even frames, rows and columns: the groups partition the video
        tokens, none is empty, tokens of a group share the key and groups differ in it."""
        for step in ("time", "width", "height", "local", "global"):
            for frames, gh, gw in SHAPES:
                with self.subTest(step=step, frames=frames, grid=(gh, gw)):
                    groups = ref.step_groups(step, frames, (gh, gw))
                    flat = sorted(int(i) for g in groups for i in g)
                    self.assertEqual(flat, list(range(frames * gh * gw)))
                    key = keys_of(step, frames, (gh, gw))
                    seen = set()
                    for g in groups:
                        self.assertGreater(len(g), 0)
                        keys = {key(*decode(i, frames, gw)) for i in g}
                        self.assertEqual(len(keys), 1)
                        self.assertFalse(keys & seen)
                        seen |= keys
                    self.assertEqual(len(seen), len(groups))

    def test_group_counts_and_sizes(self):
        count = lambda step, t, gh, gw: sorted(len(g) for g in ref.step_groups(step, t, (gh, gw)))  # noqa: E731
        self.assertEqual(count("time", 3, 2, 5), [3] * 10)
        self.assertEqual(count("width", 3, 2, 5), [5] * 6)
        self.assertEqual(count("height", 3, 2, 5), [2] * 15)
        # rows [0, 2) [2, 3), columns [0, 3) [3, 5), all 3 frames
        self.assertEqual(count("local", 3, 3, 5), [1 * 2 * 3, 1 * 3 * 3, 2 * 2 * 3, 2 * 3 * 3])
        self.assertEqual(count("local", 2, 1, 1), [2])             # three empty windows skipped
        self.assertEqual(count("local", 1, 1, 4), [2, 2])
        self.assertEqual(count("local", 4, 4, 4), [16] * 4)
        # frames {0, 2} {1}, rows {0, 2} {1}, columns {0} : 4 groups
        self.assertEqual(count("global", 3, 3, 1), [1, 2, 2, 4])
        self.assertEqual(count("global", 1, 1, 1), [1])
        self.assertEqual(count("global", 4, 4, 4), [8] * 8)

    def test_explicit_indices(self):
        """Token index n * T + t (patch-major, frame-minor), as the divided model orders them."""
        self.assertEqual([g.tolist() for g in ref.step_groups("local", 2, (3, 3))],
                         [[0, 1, 2, 3, 6, 7, 8, 9], [4, 5, 10, 11], [12, 13, 14, 15], [16, 17]])
        self.assertEqual([g.tolist() for g in ref.step_groups("global", 3, (3, 1))],
                         [[0, 2, 6, 8], [3, 5], [1, 7], [4]])
        self.assertEqual([g.tolist() for g in ref.step_groups("width", 2, (2, 2))],
                         [[0, 2], [4, 6], [1, 3], [5, 7]])


class HandComputedStepTest(unittest.TestCase):
    """One head of one channel; v = y, output dense identity."""

    def attention(self, qk_weight):
        config = ref.make_config(num_labels=1, hidden_size=1, num_attention_heads=1, intermediate_size=1,
                                 num_hidden_layers=1)
        a = ref.Attention(config).double()
        with torch.no_grad():
            a.attention.qkv.weight.copy_(torch.tensor([[qk_weight], [qk_weight], [1.0]]))
            a.attention.qkv.bias.zero_()
            a.output.dense.weight.fill_(1.0)
            a.output.dense.bias.zero_()
        return a

    def test_uniform_attention_averages_each_group(self):
        """q = k = 0: every output is the mean of [cls, its group]. cls 6, one frame of three
        patches 0, 3, 9 (grid 1x3)."""
        a = self.attention(0.0)
        y = torch.tensor([[[6.0], [0.0], [3.0], [9.0]]], dtype=torch.float64)
        out = lambda step: ref.grouped_attention(a, y, ref.step_groups(step, 1, (1, 3)), 1)[0, :, 0].tolist()  # noqa
        self.assertEqual(out("width"), [4.5, 4.5, 4.5, 4.5])            # one group [6, 0, 3, 9]
        # global: columns {0, 2} -> [6, 0, 9] mean 5; {1} -> [6, 3] mean 4.5; cls (5 + 4.5) / 2
        self.assertEqual(out("global"), [4.75, 5.0, 4.5, 5.0])
        # height: every patch alone with the cls: [6, v] -> 3, 4.5, 7.5; cls mean 5
        self.assertEqual(out("height"), [5.0, 3.0, 4.5, 7.5])
        # local: columns [0, 2) and [2, 3): [6, 0, 3] mean 3, [6, 9] mean 7.5; cls 5.25
        self.assertEqual(out("local"), [5.25, 3.0, 3.0, 7.5])

    def test_softmax_weights(self):
        """q = k = v = y, scale 1 (head dim 1): query a over keys [cls 0, 1, -1]."""
        a = self.attention(1.0)
        y = torch.tensor([[[0.0], [1.0], [-1.0]]], dtype=torch.float64)
        out = ref.grouped_attention(a, y, ref.step_groups("width", 1, (1, 2)), 1)[0, :, 0]
        e = math.e
        # query 1: scores [0, 1, -1], weights [1, e, 1/e] over values [0, 1, -1]
        self.assertAlmostEqual(out[1].item(), (e - 1 / e) / (1 + e + 1 / e), places=14)
        # query -1: scores [0, -1, 1], weights [1, 1/e, e]
        self.assertAlmostEqual(out[2].item(), (1 / e - e) / (1 + e + 1 / e), places=14)
        # cls 0: scores all 0, the mean of [0, 1, -1]
        self.assertAlmostEqual(out[0].item(), 0.0, places=14)


def transplant(source, scheme, parts, unused=()):
    """A model of `scheme` holding source's weights, layer parts renamed by `parts`
    (e.g. {"attention": "width_attention"}); parts starting with an `unused` prefix are left out.
    Returns the model and the names it did not receive."""
    target = ref.TimesformerForVideoClassification(dict(source.config, attention_type=scheme)).double()
    state = {}
    for key, value in source.state_dict().items():
        pieces = key.split(".")
        if key.startswith("timesformer.encoder.layer."):
            if pieces[4].startswith(tuple(unused)):
                continue
            pieces[4] = parts.get(pieces[4], pieces[4])
        state[".".join(pieces)] = value
    return target, target.load_state_dict(state, strict=False).missing_keys


def zero_steps(m, *steps):
    for layer in m.timesformer.encoder.layer:
        for step in steps:
            zero_step(layer, f"{step}_attention")


def max_difference(a, b, x):
    return (logits(a, x) - logits(b, x)).abs().max().item()


def as_step(step):
    return {"layernorm_before": f"{step}_layernorm", "attention": f"{step}_attention"}


def without_temporal_dense(divided, identity=False):
    with torch.no_grad():
        for layer in divided.timesformer.encoder.layer:
            weight = layer.temporal_dense.weight
            weight.copy_(torch.eye(weight.shape[0]) if identity else torch.zeros_like(weight))
            layer.temporal_dense.bias.zero_()


class EquivalenceTest(unittest.TestCase):
    def test_local_on_a_2x2_grid_is_axial_time(self):
        """Windows of one patch position each: the local step is the time step. A sparse model
        without its global step equals an axial model without width and height steps."""
        sparse = model("sparse_local_global")
        local_as_time = {"local_layernorm": "time_layernorm", "local_attention": "time_attention"}
        axial, missing = transplant(sparse, "axial", local_as_time, unused=("global_",))
        self.assertTrue(all("width_" in k or "height_" in k for k in missing))
        zero_steps(sparse, "global")
        zero_steps(axial, "width", "height")
        self.assertLess(max_difference(sparse, axial, clip(3, 16, 16)), 1e-12)
        self.assertGreater(max_difference(sparse, axial, clip(3, 24, 16)), 1e-6)   # 3x2: they differ

    def test_axial_width_on_one_row_is_divided_space(self):
        """With one patch row, a frame's row is the frame: the width step (and with one column,
        the height step) is the divided model's spatial attention, cls averaged over frames.
        The divided model's temporal part is switched off (temporal_dense zero)."""
        for step, other, height, width in (("width", "height", 8, 32), ("height", "width", 40, 8)):
            with self.subTest(step=step):
                divided = model("divided_space_time")
                axial, missing = transplant(divided, "axial", as_step(step), unused=("temporal_",))
                self.assertTrue(all("time_" in k or f"{other}_" in k for k in missing), missing)
                without_temporal_dense(divided)
                zero_steps(axial, "time", other)
                self.assertLess(max_difference(divided, axial, clip(3, height, width)), 1e-12)

    def test_one_patch_one_frame_is_joint(self):
        """A 1x1 grid and one frame: one local window and one global group, both all tokens;
        without the global step the sparse model is the joint model."""
        joint = model("joint_space_time")
        sparse, missing = transplant(joint, "sparse_local_global", as_step("local"))
        self.assertTrue(all("global_" in k for k in missing))
        zero_steps(sparse, "global")
        self.assertLess(max_difference(joint, sparse, clip(1, 8, 8)), 1e-12)

    def test_axial_time_is_not_divided_temporal(self):
        """Not an equivalence: the time step's groups hold the cls token and its residual has no
        temporal_dense, so with the same weights (temporal_dense the identity) the two differ."""
        divided = model("divided_space_time")
        parts = dict(as_step("width"), temporal_layernorm="time_layernorm", temporal_attention="time_attention")
        axial, _ = transplant(divided, "axial", parts, unused=("temporal_dense",))
        without_temporal_dense(divided, identity=True)
        zero_steps(axial, "height")
        self.assertGreater(max_difference(divided, axial, clip(3, 8, 32)), 1e-3)   # one row: width = space


def count_flops(run):
    """2 x multiply-adds of every matrix product and convolution run() runs, counted at the
    dispatcher (aten.mm, addmm, bmm, convolution)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    aten = torch.ops.aten
    total = [0]

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            packet = func.overloadpacket
            if packet in (aten.mm, aten.addmm):
                a = args[1] if packet == aten.addmm else args[0]
                total[0] += 2 * a.shape[0] * a.shape[1] * out.shape[1]
            elif packet == aten.bmm:
                total[0] += 2 * out.numel() * args[0].shape[2]
            elif packet == aten.convolution:
                total[0] += 2 * out.numel() * args[1][0].numel()
            return out

    with torch.no_grad(), Count():
        run()
    return total[0]


class FlopsTest(unittest.TestCase):
    def test_formula_counts_what_the_forward_pass_runs(self):
        for scheme in ref.ATTENTION_TYPES:
            for frames, height, width in ((4, 32, 32), (3, 24, 40)):
                with self.subTest(scheme=scheme, shape=(frames, height, width)):
                    m = model(scheme)
                    x = clip(frames, height, width)
                    self.assertEqual(ref.flops(m.config, frames, height, width)["total"],
                                     count_flops(lambda: ref.forward(m, x)))


class ForwardTest(unittest.TestCase):
    def test_parameter_names(self):
        layer = "timesformer.encoder.layer.1."
        for scheme, steps in ref.ATTENTION_STEPS.items():
            names = set(model(scheme).state_dict())
            suffixes = ("layernorm.weight", "layernorm.bias", "attention.attention.qkv.weight",
                        "attention.attention.qkv.bias", "attention.output.dense.weight",
                        "attention.output.dense.bias")
            for step, suffix in itertools.product(steps, suffixes):
                self.assertIn(f"{layer}{step}_{suffix}", names)
            for absent in ("layernorm_before.weight", "attention.attention.qkv.weight", "temporal_dense.weight"):
                self.assertNotIn(layer + absent, names)
            self.assertIn("timesformer.embeddings.time_embeddings", names)
            self.assertNotIn(layer + steps[0] + "_attention.attention.qkv.bias",
                             set(model(scheme, qkv_bias=False).state_dict()))

    def test_every_frame_and_patch_reaches_the_cls_token(self):
        for scheme in ref.ATTENTION_STEPS:
            m = model(scheme)
            x = clip(5, 24, 40)
            base = logits(m, x)
            for t, i, j in ((4, 0, 0), (0, 2, 4), (2, 1, 3)):
                y = x.clone()
                y[:, t, :, 8 * i:8 * i + 8, 8 * j:8 * j + 8] += 1
                self.assertGreater((logits(m, y) - base).abs().max().item(), 1e-6, (scheme, t, i, j))

    def test_float32_matches_float64_and_saves(self):
        import tempfile
        for scheme in ref.ATTENTION_STEPS:
            m = model(scheme)
            x = clip(3, 24, 40)
            with tempfile.TemporaryDirectory() as tmp:
                stored = ref.save_pretrained(m, tmp)
                loaded = ref.load_pretrained(tmp, torch.float32)
            self.assertEqual(loaded.config["attention_type"], scheme)
            self.assertLess((logits(loaded, x.float()).double() - logits(stored, x)).abs().max().item(), 1e-4)


if __name__ == "__main__":
    unittest.main()
