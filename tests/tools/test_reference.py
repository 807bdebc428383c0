#!/usr/bin/python3
"""Tests of tools/timesformer_reference.py: the safetensors and model-directory round trips, and
properties of the forward pass that hold whatever the weights (so they check the reference
without a second implementation of it). Run by meson (suite 'tools')."""

import json
import os
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import timesformer_reference as ref  # noqa: E402

SMALL = dict(image_size=32, patch_size=8, num_frames=4, hidden_size=32, num_hidden_layers=2,
             num_attention_heads=2, intermediate_size=64)


def small_model(seed=1, **overrides):
    return ref.random_model(ref.make_config(num_labels=6, **dict(SMALL, **overrides)), seed)


def clip(frames, height=32, width=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, frames, 3, height, width, generator=gen, dtype=torch.float64)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def logits(model, pixel_values):
    with torch.no_grad():
        return ref.forward(model, pixel_values)


class SafetensorsTest(unittest.TestCase):
    def test_round_trip_per_dtype(self):
        tensors = {"a.weight": torch.randn(3, 5, dtype=torch.float64), "b": torch.randn(7, dtype=torch.float64)}
        for dtype, torch_dtype in ref.SAFETENSORS_DTYPES.items():
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "m.safetensors")
                ref.write_safetensors(path, tensors, dtype)
                back, metadata = ref.read_safetensors(path)
                self.assertEqual(metadata, {"format": "pt"})
                for name, tensor in tensors.items():
                    self.assertEqual(back[name].dtype, torch_dtype)
                    self.assertTrue(torch.equal(back[name], tensor.to(torch_dtype)), (dtype, name))

    def test_layout(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.safetensors")
            ref.write_safetensors(path, {"x": torch.arange(3.0), "y": torch.ones(2, 2)}, "BF16")
            with open(path, "rb") as f:
                raw = f.read()
        (length,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(length % 8, 0)
        header = json.loads(raw[8:8 + length])
        self.assertEqual(header["x"], {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]})
        self.assertEqual(header["y"], {"dtype": "BF16", "shape": [2, 2], "data_offsets": [6, 14]})
        self.assertEqual(len(raw), 8 + length + 14)
        self.assertEqual(raw[8 + length + 2:8 + length + 4], b"\x80\x3f")   # 1.0 in bfloat16, LE


class ModelDirectoryTest(unittest.TestCase):
    def test_save_and_load_give_the_same_logits(self):
        model = small_model()
        x = clip(4)
        for dtype in ("F32", "F16", "BF16"):
            with tempfile.TemporaryDirectory() as tmp:
                stored = ref.save_pretrained(model, tmp, dtype)
                loaded = ref.load_pretrained(tmp, dtype=torch.float64)
                self.assertEqual(loaded.config, model.config)
                self.assertTrue(torch.equal(logits(stored, x), logits(loaded, x)), dtype)
                config = read_json(os.path.join(tmp, "config.json"))
                self.assertEqual(config["architectures"], ["TimesformerForVideoClassification"])
                self.assertEqual(config["model_type"], "timesformer")
                pre = read_json(os.path.join(tmp, "preprocessor_config.json"))
                self.assertEqual(pre["crop_size"], {"height": 32, "width": 32})

    def test_parameter_names_are_hugging_face(self):
        names = set(small_model().state_dict())
        layer = "timesformer.encoder.layer.1."
        for name in ("timesformer.embeddings.patch_embeddings.projection.weight",
                     "timesformer.embeddings.cls_token", "timesformer.embeddings.time_embeddings",
                     layer + "temporal_layernorm.weight", layer + "temporal_attention.attention.qkv.bias",
                     layer + "temporal_attention.output.dense.weight", layer + "temporal_dense.bias",
                     layer + "attention.attention.qkv.weight", layer + "intermediate.dense.weight",
                     layer + "output.dense.bias", "timesformer.layernorm.bias", "classifier.weight"):
            self.assertIn(name, names)
        names = set(small_model(attention_type="space_only", qkv_bias=False).state_dict())
        self.assertNotIn("timesformer.embeddings.time_embeddings", names)
        self.assertNotIn(layer + "temporal_dense.weight", names)
        self.assertNotIn(layer + "attention.attention.qkv.bias", names)

    def test_missing_tensor_is_named(self):
        model = small_model()
        with tempfile.TemporaryDirectory() as tmp:
            ref.save_pretrained(model, tmp)
            state = {k: v for k, v in model.state_dict().items() if k != "classifier.bias"}
            ref.write_safetensors(os.path.join(tmp, "model.safetensors"), state)
            with self.assertRaisesRegex(ValueError, "classifier.bias"):
                ref.load_pretrained(tmp)


class ForwardPropertiesTest(unittest.TestCase):
    def test_space_only_averages_frames(self):
        """The frames are independent and averaged: order does not matter, copies do not count."""
        model = small_model(attention_type="space_only")
        x = clip(3)
        reordered = x[:, [2, 0, 1]]
        self.assertTrue(torch.allclose(logits(model, x), logits(model, reordered), atol=1e-12))
        one = clip(1)
        self.assertTrue(torch.allclose(logits(model, one), logits(model, one.repeat(1, 5, 1, 1, 1)), atol=1e-12))

    def test_joint_one_frame_without_time_is_space_only(self):
        joint = small_model(attention_type="joint_space_time")
        space = ref.TimesformerForVideoClassification(dict(joint.config, attention_type="space_only")).double()
        with torch.no_grad():
            joint.timesformer.embeddings.time_embeddings.zero_()
        space.load_state_dict({k: v for k, v in joint.state_dict().items() if "time_embeddings" not in k})
        x = clip(1)
        self.assertTrue(torch.allclose(logits(joint, x), logits(space, x), atol=1e-12))

    def test_every_frame_reaches_the_cls_token(self):
        """Changing one frame changes the logits of divided and joint models (the cls token sees
        every frame), with a clip of other frame counts and sizes than the config's."""
        for attention in ("divided_space_time", "joint_space_time"):
            model = small_model(attention_type=attention)
            x = clip(6, 24, 40)
            y = x.clone()
            y[:, 5] += 1
            self.assertFalse(torch.allclose(logits(model, x), logits(model, y)), attention)

    def test_resized_embeddings_are_nearest(self):
        model = small_model()
        time = model.timesformer.embeddings.time_embeddings
        self.assertTrue(torch.equal(ref.resized_time_embeddings(model, 8)[0], time[0].repeat_interleave(2, 0)))
        self.assertTrue(torch.equal(ref.resized_time_embeddings(model, 2)[0], time[0, [0, 2]]))
        pos = model.timesformer.embeddings.position_embeddings
        grid = pos[0, 1:].reshape(4, 4, -1)
        resized = ref.resized_position_embeddings(model, (8, 3))[0]
        self.assertTrue(torch.equal(resized[0], pos[0, 0]))
        self.assertTrue(torch.equal(resized[1:].reshape(8, 3, -1), grid[[0, 0, 1, 1, 2, 2, 3, 3]][:, [0, 1, 2]]))
        self.assertTrue(ref.resized_position_embeddings(model, (2, 8)) is pos)   # same count: as is

    def test_float32_matches_float64(self):
        model = small_model()
        x = clip(4)
        expected = logits(model, x)
        got = logits(model.float(), x.float()).double()
        self.assertLess((got - expected).abs().max().item(), 1e-4)

    def test_classify_clip(self):
        model = small_model()
        x = clip(4)
        out = ref.classify_clip(model, x[0].numpy())
        self.assertEqual(out.shape, (6,))
        np.testing.assert_array_equal(out, logits(model, x)[0].numpy())


if __name__ == "__main__":
    unittest.main()
