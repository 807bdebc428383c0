#!/usr/bin/python3
"""Tests of tools/make_motion_clips.py, the data set of the shipped model. Run by meson (suite
'tools')."""

import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import make_motion_clips as clips  # noqa: E402


class SceneTest(unittest.TestCase):
    def test_moving_shape_fills_the_whole_travel(self):
        # Seed 438 at side 48 draws a travel of exactly the room there is; the start was drawn
        # from an interval that rounding made negative ("high - low < 0").
        scene = clips.make_scene(np.random.default_rng(438), "moving right", 48)
        (start, end), (radius, _) = scene["centre"], scene["radius"]
        self.assertGreaterEqual(start[0], radius)
        self.assertLessEqual(end[0], 48 - radius)

    def test_every_scene_stays_inside_its_square(self):
        for side, wide in ((48, False), (60, False), (96, False), (48, True), (96, True)):
            for seed in range(600):
                for label in clips.LABELS:
                    scene = clips.make_scene(np.random.default_rng(seed), label, side, wide)
                    reach = max(scene["radius"])
                    for centre in scene["centre"]:
                        with self.subTest(side=side, seed=seed, label=label):
                            self.assertTrue(np.all(centre >= reach) and np.all(centre <= side - reach))


class WideVarietyTest(unittest.TestCase):
    def test_rotation_anywhere_and_markers_only_where_rotation_needs_them(self):
        centres, markers = [], {True: 0, False: 0}
        for seed in range(400):
            rng = np.random.default_rng(seed)
            scene = clips.make_scene(rng, "rotating clockwise", 96, wide=True)
            centres.append(scene["centre"][0])
            marker = clips._has_marker(rng, scene, wide=True)
            if scene["shape"] in ("disc", "ring"):
                self.assertTrue(marker)
            else:
                markers[marker] += 1
            self.assertTrue(clips._has_marker(rng, scene, wide=False))
        offsets = np.abs(np.array(centres) - 48) / 96
        self.assertGreater(offsets.max(), 2 * clips.ROTATION_CENTRE)
        self.assertGreater(min(markers.values()), 40)


class ClipTest(unittest.TestCase):
    def test_a_seed_gives_the_same_clips(self):
        first = [c for *_, c in clips.make_clips(7, 1, [(64, 48)])]
        second = [c for *_, c in clips.make_clips(7, 1, [(64, 48)])]
        self.assertEqual(len(first), len(clips.LABELS))
        for a, b in zip(first, second):
            self.assertEqual(a.shape, (clips.FRAMES, 48, 64, 3))
            np.testing.assert_array_equal(a, b)


if __name__ == "__main__":
    unittest.main()
