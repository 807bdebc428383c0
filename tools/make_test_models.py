#!/usr/bin/python3
"""Generates the test models: small TimeSformers with random weights in the Hugging Face layout,
random normalised clips, and the logits the reference computes for them in float64.

  make_test_models.py --out DIR
      the suite: DIR/<model>/ (config.json, model.safetensors, preprocessor_config.json),
      DIR/inputs/<case>.npy (float32, T x C x H x W), DIR/expected/<case>.npy (float32 logits)
      and DIR/cases.json: [{"name", "model", "input", "expected", "frames", "height", "width",
      "attention_type", "dtype"}] with paths relative to DIR.
  make_test_models.py --config CONFIG.json --out DIR [--seed N] [--dtype F32|F16|BF16]
      one model with random weights for a config (partial: missing fields take transformers'
      defaults; labels from id2label or num_labels).

Everything is seeded: the same command writes the same files. Run with /usr/bin/python3.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # tiny matrices; before numpy/torch load OpenBLAS
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timesformer_reference as ref  # noqa: E402

SMALL = dict(image_size=32, patch_size=8, num_frames=4, hidden_size=64, num_hidden_layers=2,
             num_attention_heads=4, intermediate_size=128)

LABELS_50 = ["abseiling", "air drumming", "answering questions", "applauding", "applying cream",
             "archery", "arm wrestling", "arranging flowers", "assembling computer", "auctioning",
             'saying "hello"', "café crème", "tai chi / qigong", "back\\slash", "über-jumping",
             ] + [f"action {i:02d}" for i in range(15, 50)]

# name: (seed, checkpoint dtype, config)
MODELS = {
    # head dim 16, config 4 frames at 32x32
    "divided": (1, "F32", dict(SMALL, num_labels=10)),
    # head dim 64, three layers, config 8 frames
    "divided_hd64": (2, "F32", dict(SMALL, hidden_size=128, num_attention_heads=2, intermediate_size=256,
                                    num_hidden_layers=3, num_frames=8, num_labels=7)),
    # no qkv bias, patch 16 on 64x64, one layer
    "divided_noqkvbias": (3, "F32", dict(SMALL, image_size=64, patch_size=16, num_frames=8, hidden_size=32,
                                         num_attention_heads=2, intermediate_size=64, num_hidden_layers=1,
                                         qkv_bias=False, num_labels=5)),
    # head dim 32, an intermediate size that is not 4 x hidden
    "joint": (4, "F32", dict(SMALL, num_attention_heads=2, intermediate_size=96, num_frames=8,
                             attention_type="joint_space_time", num_labels=10)),
    # head dim 64, patch 16 on 48x48 (a 3x3 grid)
    "space_only": (5, "F32", dict(SMALL, image_size=48, patch_size=16, hidden_size=128, num_attention_heads=2,
                                  intermediate_size=256, num_frames=8, attention_type="space_only",
                                  num_labels=10)),
    # half-precision checkpoints: the expected logits use the rounded weights
    "divided_f16": (6, "F16", dict(SMALL, num_attention_heads=2, num_labels=10)),
    "divided_bf16": (7, "BF16", dict(SMALL, num_labels=10)),
    "joint_bf16": (8, "BF16", dict(SMALL, attention_type="joint_space_time", num_labels=10)),
    # 50 named labels; a layer_norm_eps (1e-2) that shows whether the engine reads it
    "labels50": (9, "F32", dict(SMALL, hidden_size=48, num_attention_heads=3, intermediate_size=96,
                                num_hidden_layers=1, layer_norm_eps=1e-2, labels=LABELS_50)),
}

# (model, frames, height, width); the config's size first, then clips that differ from it.
# A grid with as many patches as the config's (2x8, 8x2 for 4x4) is not resized: the official
# code then adds the position embeddings as they are, in raster order.
CASES = [
    ("divided", 4, 32, 32), ("divided", 1, 32, 32), ("divided", 8, 32, 32), ("divided", 16, 32, 32),
    ("divided", 4, 48, 48), ("divided", 4, 24, 40), ("divided", 8, 40, 24), ("divided", 4, 16, 64),
    ("divided_hd64", 8, 32, 32), ("divided_hd64", 16, 32, 32), ("divided_hd64", 4, 48, 32),
    ("divided_noqkvbias", 8, 64, 64), ("divided_noqkvbias", 4, 48, 80),
    ("joint", 8, 32, 32), ("joint", 1, 32, 32), ("joint", 4, 32, 32), ("joint", 16, 32, 32),
    ("joint", 8, 48, 48), ("joint", 4, 24, 40), ("joint", 2, 64, 16),
    ("space_only", 8, 48, 48), ("space_only", 1, 48, 48), ("space_only", 4, 48, 48),
    ("space_only", 16, 48, 48), ("space_only", 8, 64, 64), ("space_only", 8, 32, 48),
    ("divided_f16", 4, 32, 32), ("divided_f16", 8, 48, 48),
    ("divided_bf16", 4, 32, 32), ("divided_bf16", 16, 24, 40),
    ("joint_bf16", 4, 32, 32), ("joint_bf16", 8, 40, 24),
    ("labels50", 4, 32, 32),
]


def model_config(spec):
    spec = dict(spec)
    labels = spec.pop("labels", None)
    return ref.make_config(num_labels=spec.pop("num_labels", None), labels=labels, **spec)


def random_clip(seed, frames, channels, height, width):
    """A normalised clip: roughly zero mean, unit variance per channel."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(frames, channels, height, width, generator=gen, dtype=torch.float32).numpy()


def make_suite(out):
    stored = {}
    for name, (seed, dtype, spec) in MODELS.items():
        model = ref.random_model(model_config(spec), seed)
        stored[name] = ref.save_pretrained(model, os.path.join(out, name), dtype)
    for folder in ("inputs", "expected"):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    cases = []
    for index, (name, frames, height, width) in enumerate(CASES):
        model = stored[name]
        case = f"{name}_t{frames}_{height}x{width}"
        clip = random_clip(1000 + index, frames, model.config["num_channels"], height, width)
        logits = ref.classify_clip(model, clip.astype(np.float64))
        np.save(os.path.join(out, "inputs", case + ".npy"), clip)
        np.save(os.path.join(out, "expected", case + ".npy"), logits.astype(np.float32))
        cases.append({"name": case, "model": name, "input": f"inputs/{case}.npy",
                      "expected": f"expected/{case}.npy", "frames": frames, "height": height,
                      "width": width, "attention_type": model.config["attention_type"],
                      "dtype": MODELS[name][1]})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return cases


def make_one(config_path, out, seed, dtype):
    config = ref.read_config(config_path)
    model = ref.random_model(config, seed, dtype=torch.float32)
    ref.save_pretrained(model, out, dtype)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--config", help="generate one model from this config JSON instead of the suite")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (with --config)")
    parser.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"],
                        help="checkpoint dtype (with --config)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.config:
        make_one(args.config, args.out, args.seed, args.dtype)
    else:
        os.makedirs(args.out, exist_ok=True)
        cases = make_suite(args.out)
        print(f"make_test_models: {len(MODELS)} models, {len(cases)} cases in {args.out}")


if __name__ == "__main__":
    main()
