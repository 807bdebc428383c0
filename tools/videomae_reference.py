#!/usr/bin/python3
"""The model input that transformers' VideoMAEImageProcessor makes of RGB frames, with Pillow and
numpy only (Debian's python3-pil; transformers is not needed), for tests/gst/test_preprocess.c.

The steps of VideoMAEImageProcessor._preprocess_image, as transformers' image_transforms does
them on a uint8 HxWx3 frame:
  resize      Pillow Image.resize((w, h), BILINEAR); size {"shortest_edge": S}: the shorter side
              to S, the longer to int(S * long / short); {"height", "width"}: exactly
  center_crop top = (H - h) // 2, left = (W - w) // 2; a crop larger than the image: the image
              pasted at ceil((h - H) / 2), ceil((w - W) / 2) into zeros first
  rescale     float64 * rescale_factor, to float32
  normalize   (x - mean) / std, float32
then channels first. The element's additions, done here the same way: a region of interest cut
first; channel_order "bgr": the frame's channels reversed before all this (a BGR frame);
fit "stretch" (resize exactly to the recipe's input) and "letterbox" (resize by the factor
that fits, rounded, then centred in zeros, the odd pixel before); the input cut on the right and
at the bottom to whole patches (what the patch convolution reads).

    videomae_reference.py CASES.json OUT_DIR

CASES.json: [{"name", "rgb" (raw file, height x width x 3), "width", "height", "roi" [x, y, w, h],
"recipe": {preprocessor_config.json members}, "fit", "channel_order", "patch_size"}]; writes
OUT_DIR/<name>.npy (float32, 3 x h x w).
"""

import json
import math
import os
import sys

import numpy as np
from PIL import Image


def target_size(recipe):
    """The input letterbox and stretch fill: the crop, else the exact size, else the shortest
    edge squared."""
    if recipe.get("do_center_crop", True) and "crop_size" in recipe:
        return recipe["crop_size"]["width"], recipe["crop_size"]["height"]
    size = recipe.get("size", {})
    if "width" in size:
        return size["width"], size["height"]
    return size["shortest_edge"], size["shortest_edge"]


def resize_size(recipe, width, height):
    size = recipe["size"]
    if "shortest_edge" in size:
        edge = size["shortest_edge"]
        if width <= height:
            return edge, int(edge * height / width)
        return int(edge * width / height), edge
    return size["width"], size["height"]


def pil_resize(frame, width, height):
    if (width, height) == (frame.shape[1], frame.shape[0]):
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


def center_crop(frame, height, width):
    orig_height, orig_width = frame.shape[:2]
    top, left = (orig_height - height) // 2, (orig_width - width) // 2
    if top >= 0 and left >= 0 and top + height <= orig_height and left + width <= orig_width:
        return frame[top:top + height, left:left + width]
    new_height, new_width = max(height, orig_height), max(width, orig_width)
    padded = np.zeros((new_height, new_width, 3), frame.dtype)
    top_pad = math.ceil((new_height - orig_height) / 2)
    left_pad = math.ceil((new_width - orig_width) / 2)
    padded[top_pad:top_pad + orig_height, left_pad:left_pad + orig_width] = frame
    top, left = top + top_pad, left + left_pad
    return padded[max(0, top):min(new_height, top + height),
                  max(0, left):min(new_width, left + width)]


def fitted(frame, recipe, fit):
    width, height = target_size(recipe)
    if fit == "stretch":
        return pil_resize(frame, width, height)
    scale = min(width / frame.shape[1], height / frame.shape[0])
    inner = pil_resize(frame, max(round(frame.shape[1] * scale), 1),
                       max(round(frame.shape[0] * scale), 1))
    out = np.zeros((height, width, 3), np.uint8)
    top = (height - inner.shape[0] + 1) // 2
    left = (width - inner.shape[1] + 1) // 2
    out[top:top + inner.shape[0], left:left + inner.shape[1]] = inner
    return out


def preprocess(frame, recipe, fit="crop", channel_order="rgb", patch_size=1):
    """uint8 H x W x 3 RGB -> float32 3 x h x w, the model's input."""
    if channel_order == "bgr":
        frame = frame[:, :, ::-1]
    frame = np.ascontiguousarray(frame)
    if fit != "crop":
        frame = fitted(frame, recipe, fit)
    else:
        if recipe.get("do_resize", True):
            frame = pil_resize(frame, *resize_size(recipe, frame.shape[1], frame.shape[0]))
        if recipe.get("do_center_crop", True):
            frame = center_crop(frame, recipe["crop_size"]["height"], recipe["crop_size"]["width"])
    x = frame.astype(np.float32)
    if recipe.get("do_rescale", True):
        x = (frame.astype(np.float64) * recipe.get("rescale_factor", 1 / 255)).astype(np.float32)
    if recipe.get("do_normalize", True):
        mean = np.array(recipe.get("image_mean", [0.45] * 3), np.float32)
        std = np.array(recipe.get("image_std", [0.225] * 3), np.float32)
        x = ((x - mean) / std).astype(np.float32)
    x = x.transpose(2, 0, 1)
    height, width = x.shape[1] - x.shape[1] % patch_size, x.shape[2] - x.shape[2] % patch_size
    return np.ascontiguousarray(x[:, :height, :width])


def main(argv):
    cases_path, out = argv[1], argv[2]
    with open(cases_path) as f:
        cases = json.load(f)
    os.makedirs(out, exist_ok=True)
    for case in cases:
        frame = np.fromfile(case["rgb"], np.uint8).reshape(case["height"], case["width"], 3)
        x, y, w, h = case["roi"]
        result = preprocess(frame[y:y + h, x:x + w], case["recipe"], case.get("fit", "crop"),
                            case.get("channel_order", "rgb"), case.get("patch_size", 1))
        np.save(os.path.join(out, case["name"] + ".npy"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
