#!/usr/bin/python3
"""Tests of tools/render_motion_test_clips.py, the independent renderer of the shipped model's
test clips. Run by meson (suite 'tools')."""

import json
import math
import os
import random
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import render_motion_test_clips as render  # noqa: E402


class MotionTest(unittest.TestCase):
    def test_every_motion_stays_inside_the_square_within_the_documented_ranges(self):
        side = 300.0
        for seed in range(300):
            rnd = random.Random(seed)
            for label in render.CLASSES:
                motion = render.choose_motion(rnd, label, side)
                with self.subTest(seed=seed, label=label):
                    for t in np.linspace(0.0, 1.0, 9):
                        (x, y), size, _ = motion.at(t)
                        self.assertTrue(size <= x <= side - size and size <= y <= side - size)
                    self._check_class(label, motion, side)

    def _check_class(self, label, motion, side):
        dx = motion.centre1[0] - motion.centre0[0]
        dy = motion.centre1[1] - motion.centre0[1]
        turn = math.degrees(motion.angle1 - motion.angle0)
        ratio = motion.size1 / motion.size0
        if label.startswith("moving"):
            along, across = (dx, dy) if label in ("moving left", "moving right") else (dy, dx)
            sign = -1 if label in ("moving left", "moving up") else 1
            self.assertEqual(across, 0.0)
            self.assertGreater(sign * along, 0.0)
            self.assertLessEqual(abs(along), render.TRAVEL[1] * side + 1e-9)
            self.assertTrue(render.MOVING_SIZE[0] * side <= motion.size0 <= render.MOVING_SIZE[1] * side)
        else:
            self.assertEqual((dx, dy), (0.0, 0.0))
        if label == "rotating clockwise":          # y points down: a growing angle is clockwise
            self.assertTrue(render.TURN_DEGREES[0] <= turn <= render.TURN_DEGREES[1])
        elif label == "rotating counterclockwise":
            self.assertTrue(render.TURN_DEGREES[0] <= -turn <= render.TURN_DEGREES[1])
        else:
            self.assertEqual(turn, 0.0)
        if label == "growing":
            self.assertGreater(ratio, 1.0)
        elif label == "shrinking":
            self.assertLess(ratio, 1.0)
        else:
            self.assertEqual(ratio, 1.0)


def _shape_centroid_x(clip):
    """x of the centre of the pixels that differ from the clip's per-pixel median, per frame."""
    median = np.median(clip, axis=0)
    xs = []
    for frame in clip:
        mask = np.abs(frame - median).max(axis=2) > 40
        xs.append(np.nonzero(mask)[1].mean())
    return np.array(xs)


class VideoTest(unittest.TestCase):
    def test_a_video_motion_stays_inside_at_the_documented_rate_per_clip_span(self):
        side, spans = 300.0, 2.4 / render.CLIP_SECONDS
        for seed in range(200):
            rnd = random.Random(seed)
            for label in render.CLASSES:
                motion = render.choose_video_motion(rnd, label, side, spans)
                with self.subTest(seed=seed, label=label):
                    for u in np.linspace(0.0, spans, 12):
                        (x, y), size, _ = motion.at(u)
                        self.assertTrue(size <= x <= side - size and size <= y <= side - size)
                        self.assertLessEqual(size, render.MAX_SIZE * side + 1e-9)
                    (x0, y0), size0, angle0 = motion.at(1.0)
                    (x1, y1), size1, angle1 = motion.at(2.0)   # any one span, here the second
                    travel = math.hypot(x1 - x0, y1 - y0) / side
                    turn = abs(math.degrees(angle1 - angle0))
                    ratio = max(size1 / size0, size0 / size1)
                    if label.startswith("moving"):
                        self.assertTrue(render.TRAVEL[0] - 1e-9 <= travel <= render.TRAVEL[1])
                    elif label.startswith("rotating"):
                        self.assertTrue(render.TURN_DEGREES[0] <= turn <= render.TURN_DEGREES[1])
                    elif label in ("growing", "shrinking"):
                        self.assertTrue(render.SIZE_RATIO[0] - 0.2 <= ratio <= render.SIZE_RATIO[1])
                        self.assertEqual(size1 > size0, label == "growing")
                    else:
                        self.assertEqual((travel, turn, ratio), (0.0, 0.0, 1.0))

    def test_videos_are_written_at_every_rate(self):
        with tempfile.TemporaryDirectory() as out:
            entries = render.write_videos(out, 3, 0.5, [15, 30], (32, 24))
            self.assertEqual(len(entries), 2 * len(render.CLASSES))
            for entry in entries:
                self.assertEqual(entry["frames"], int(round(0.5 * entry["fps"])))
                size = os.path.getsize(os.path.join(out, entry["file"]))
                self.assertEqual(size, entry["frames"] * 32 * 24 * 3)


class ClipTest(unittest.TestCase):
    def test_a_seed_gives_the_same_clips_and_the_manifest_describes_them(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            render.write_clips(a, 3, 2, [(100, 75), (72, 120)])
            render.write_clips(b, 3, 2, [(100, 75), (72, 120)])
            with open(os.path.join(a, "manifest.json")) as f:
                clips = json.load(f)["clips"]
            self.assertEqual(len(clips), 2 * len(render.CLASSES))
            for entry in clips:
                with open(os.path.join(a, entry["file"]), "rb") as f:
                    data = f.read()
                with open(os.path.join(b, entry["file"]), "rb") as f:
                    self.assertEqual(data, f.read())
                self.assertEqual(len(data), entry["frames"] * entry["width"] * entry["height"] * 3)
                self.assertEqual(entry["reversed_label"], render.OPPOSITE[entry["label"]])
                if entry["label"].startswith("rotating") and entry["shape"] == "disc":
                    self.assertTrue(entry["marker"])

    def test_the_drawn_shape_moves_the_way_its_class_says(self):
        rnd = random.Random(11)
        for label, sign in (("moving right", 1), ("moving left", -1)):
            for _ in range(5):
                data, _ = render.render_clip(rnd, label, 100, 75)
                clip = np.frombuffer(data, np.uint8).reshape(render.FRAMES, 75, 100, 3).astype(int)
                xs = _shape_centroid_x(clip)
                with self.subTest(label=label):
                    self.assertGreater(sign * (xs[-1] - xs[0]), 0.2 * 75 * 0.5)


if __name__ == "__main__":
    unittest.main()
