#!/usr/bin/python3
"""Tests of the command line and data of tools/train_shipped_model.py (not of training itself).
Run by meson (suite 'tools')."""

import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import make_motion_clips as clips  # noqa: E402
import render_motion_test_clips as render  # noqa: E402
import train_shipped_model as training  # noqa: E402


class ClassesTest(unittest.TestCase):
    def test_labels_become_sorted_ids(self):
        self.assertEqual(training._class_ids("rotating counterclockwise, rotating clockwise"), [4, 5])
        self.assertEqual(training._class_ids("growing,growing"), [6])

    def test_unknown_or_no_class_is_refused(self):
        for text in ("flying", "moving left,flying", "", " , "):
            with self.subTest(text=text), contextlib.redirect_stderr(io.StringIO()) as err:
                with self.assertRaises(SystemExit) as exit_:
                    training.main(["--out", "/nonexistent/never-written", "--classes", text])
                self.assertEqual(exit_.exception.code, 2)
                self.assertIn("unknown class", err.getvalue())

    def test_clips_are_of_the_chosen_classes_only(self):
        data, labels = training._render_chunk((1, 0, 6, 32, clips.FRAMES, [4, 5], True))
        self.assertEqual(data.shape, (6, clips.FRAMES, 32, 32, 3))
        self.assertTrue(set(labels.tolist()) <= {4, 5})


class WatchedClipsTest(unittest.TestCase):
    def test_clips_of_the_independent_renderer_load_preprocessed_with_their_classes(self):
        with tempfile.TemporaryDirectory() as folder:
            render.write_clips(folder, 1, 1, [(100, 75), (72, 120)])
            data, labels = training.load_manifest_clips(folder, 32)
        self.assertEqual(data.shape, (len(clips.LABELS), clips.FRAMES, 32, 32, 3))
        self.assertEqual(labels.tolist(), list(range(len(clips.LABELS))))


if __name__ == "__main__":
    unittest.main()
