#!/usr/bin/python3
"""tools/train_on_clips.py trains axial and sparse local-global models on a few tiny clips (.npy
files and a folder of PNG frames) and exports folders the reference loads. Run by meson (suite
'tools')."""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import timesformer_reference as ref  # noqa: E402
import train_on_clips  # noqa: E402

TINY = ["--frames", "4", "--image-size", "16", "--patch-size", "8", "--hidden-size", "16", "--layers", "1",
        "--heads", "2", "--epochs", "6", "--batch-size", "4", "--lr", "3e-3", "--threads", "1"]


def make_data(root):
    """Two classes told apart by brightness; clips of other sizes and lengths than the model's."""
    rng = np.random.default_rng(0)
    for label, level in (("bright", 200), ("dark", 50)):
        os.makedirs(os.path.join(root, label))
        for i in range(6):
            clip = np.clip(level + rng.normal(0, 30, (3 + i, 20, 28, 3)), 0, 255).astype(np.uint8)
            np.save(os.path.join(root, label, f"clip{i}.npy"), clip)
    frames = os.path.join(root, "dark", "clip_frames")
    os.makedirs(frames)
    for t in range(5):
        Image.fromarray(np.full((24, 18, 3), 40, np.uint8)).save(os.path.join(frames, f"{t:03d}.png"))


class TrainOnClipsTest(unittest.TestCase):
    def test_trains_and_exports(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            make_data(data)
            for scheme in ("axial", "sparse_local_global"):
                with self.subTest(scheme=scheme):
                    out = os.path.join(tmp, scheme)
                    with contextlib.redirect_stderr(io.StringIO()) as log:
                        losses, _ = train_on_clips.main(["--data", data, "--out", out,
                                                         "--attention-type", scheme] + TINY)
                    self.assertIn("13 clips of 2 classes (bright, dark)", log.getvalue())
                    self.assertLess(losses[-1], losses[0])
                    model = ref.load_pretrained(out, torch.float64)
                    self.assertEqual(model.config["attention_type"], scheme)
                    self.assertEqual(model.config["id2label"], {"0": "bright", "1": "dark"})
                    with open(os.path.join(out, "training.json")) as f:
                        self.assertEqual(json.load(f)["epoch_losses"], losses)

    def test_frames_are_sampled_evenly(self):
        clip = np.arange(10).reshape(10, 1, 1, 1).repeat(3, axis=3).astype(np.uint8)
        self.assertEqual(train_on_clips.sample_frames(clip, 4)[:, 0, 0, 0].tolist(), [0, 3, 6, 9])
        self.assertEqual(train_on_clips.sample_frames(clip[:2], 4)[:, 0, 0, 0].tolist(), [0, 0, 1, 1])

    def test_bad_data_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "a"))
            os.makedirs(os.path.join(tmp, "b"))
            np.save(os.path.join(tmp, "a", "x.npy"), np.zeros((2, 4, 4, 3), np.float32))
            np.save(os.path.join(tmp, "b", "y.npy"), np.zeros((2, 4, 4, 3), np.uint8))
            with self.assertRaisesRegex(ValueError, "x.npy: expected uint8"):
                train_on_clips.load_data(tmp, 4, 16)


if __name__ == "__main__":
    unittest.main()
