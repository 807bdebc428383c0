#!/usr/bin/python3
"""Generates the test models: small TimeSformers with random weights in the Hugging Face layout,
random normalised clips, and the logits the reference computes for them in float64.

  make_test_models.py --out DIR
      the suite: DIR/<model>/ (config.json, model.safetensors, preprocessor_config.json),
      DIR/inputs/<case>.npy (float32, T x C x H x W), DIR/expected/<case>.npy (float32 logits)
      and DIR/cases.json: [{"name", "model", "input", "expected", "frames", "height", "width",
      "attention_type", "dtype"}] with paths relative to DIR; and DIR/divided_inf_bias/, the
      model "divided" with an infinite classifier bias (every clip's logits are not finite).
  make_test_models.py --suite seed --out DIR
      the seed's other models (docs/seed-models.md): Hugging Face folders of the schemes
      sparse_local_global and axial, and lucidrains TimeSformer-pytorch folders (model.pt +
      timesformer_pytorch.json), under DIR/seed/; inputs (float32), masks (bool or uint8,
      shape (frames,)) and float64 expected logits under DIR/seed/{inputs,masks,expected}/ and
      DIR/seed-cases.json: [{"name", "family" ("huggingface" | "timesformer_pytorch"), "model",
      "input", "mask" (or null), "expected", "frames", "height", "width", "scheme"}], paths
      relative to DIR.
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
import lucidrains_reference as lucid  # noqa: E402
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


# The seed's other models. Hugging Face layout: name -> (seed, config).
SEED_HF_MODELS = {
    # head dim 16, config 4 frames at 32x32 (a 4x4 grid)
    "axial": (21, dict(SMALL, attention_type="axial", num_labels=6)),
    # head dim 64, no qkv bias, one layer, config 8 frames
    "axial_hd64_noqkvbias": (22, dict(SMALL, hidden_size=128, num_attention_heads=2, intermediate_size=256,
                                      num_hidden_layers=1, num_frames=8, qkv_bias=False,
                                      attention_type="axial", num_labels=4)),
    "sparse": (23, dict(SMALL, attention_type="sparse_local_global", num_labels=6)),
    # head dim 32, patch 16 on 48x48 (an odd 3x3 grid), config 3 frames
    "sparse_hd32": (24, dict(SMALL, image_size=48, patch_size=16, num_frames=3, num_attention_heads=2,
                             intermediate_size=96, attention_type="sparse_local_global", num_labels=5)),
}

# lucidrains' TimeSformer-pytorch: name -> (seed, constructor arguments, labels or None).
LUCID_BASE = dict(dim=48, num_frames=4, num_classes=5, image_size=32, patch_size=8, depth=2, heads=3,
                  dim_head=16)
SEED_LUCID_MODELS = {
    "lucidrains_rotary": (31, dict(LUCID_BASE), None),
    "lucidrains_learned": (32, dict(LUCID_BASE, rotary_emb=False), None),
    "lucidrains_shift": (33, dict(LUCID_BASE, shift_tokens=True), None),
    "lucidrains_shift_learned": (34, dict(LUCID_BASE, shift_tokens=True, rotary_emb=False), None),
    # dim_head x heads (128) != dim (64), patch 16, labels
    "lucidrains_dim_head_32": (35, dict(dim=64, num_frames=4, num_classes=3, image_size=64, patch_size=16,
                                        depth=2, heads=4, dim_head=32),
                               ["walking", "running", "standing still"]),
    # dim_head 10: the space rotation covers 8 of the 10 channels; dim 40: shift chunks of 13
    "lucidrains_dim_head_10": (36, dict(dim=40, num_frames=3, num_classes=4, image_size=32, patch_size=8,
                                        depth=1, heads=2, dim_head=10, shift_tokens=True), None),
}

# (model, frames, height, width, mask or None); a mask is a list of 0/1 per frame, stored as
# bool, or as uint8 when the list is a tuple.
SEED_CASES = [
    ("axial", 4, 32, 32, None), ("axial", 3, 24, 40, None), ("axial", 1, 32, 32, None),
    ("axial", 8, 40, 24, None), ("axial", 5, 8, 32, None),
    ("axial_hd64_noqkvbias", 8, 32, 32, None), ("axial_hd64_noqkvbias", 3, 48, 16, None),
    ("sparse", 4, 32, 32, None), ("sparse", 3, 24, 40, None), ("sparse", 5, 40, 24, None),
    ("sparse", 1, 8, 8, None), ("sparse", 2, 16, 48, None),
    ("sparse_hd32", 3, 48, 48, None), ("sparse_hd32", 4, 80, 48, None), ("sparse_hd32", 6, 16, 16, None),
    ("lucidrains_rotary", 4, 32, 32, None), ("lucidrains_rotary", 4, 24, 16, None),
    ("lucidrains_rotary", 3, 32, 40, None), ("lucidrains_rotary", 6, 32, 32, None),
    ("lucidrains_rotary", 4, 32, 32, [1, 1, 0, 0]), ("lucidrains_rotary", 4, 32, 32, (0, 1, 1, 1)),
    ("lucidrains_learned", 4, 32, 32, None), ("lucidrains_learned", 4, 24, 16, None),
    ("lucidrains_learned", 2, 32, 32, None), ("lucidrains_learned", 4, 32, 32, [1, 0, 1, 1]),
    ("lucidrains_shift", 4, 32, 32, None), ("lucidrains_shift", 4, 24, 32, None),
    ("lucidrains_shift", 4, 32, 32, [1, 1, 1, 0]),
    ("lucidrains_shift_learned", 4, 32, 32, None), ("lucidrains_shift_learned", 4, 32, 32, (1, 0, 0, 1)),
    ("lucidrains_dim_head_32", 4, 64, 64, None), ("lucidrains_dim_head_32", 4, 48, 32, None),
    ("lucidrains_dim_head_32", 4, 64, 64, [1, 1, 1, 0]),
    ("lucidrains_dim_head_10", 3, 32, 32, None), ("lucidrains_dim_head_10", 3, 16, 24, [1, 0, 1]),
]


def seed_case_name(name, frames, height, width, mask):
    case = f"{name}_t{frames}_{height}x{width}"
    return case if mask is None else case + "_mask" + "".join(str(int(m)) for m in mask)


def make_seed_suite(out):
    """The seed's other models, their inputs, masks and float64 expected logits."""
    root = os.path.join(out, "seed")
    for folder in ("inputs", "masks", "expected"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    stored = {}
    for name, (seed, spec) in SEED_HF_MODELS.items():
        model = ref.random_model(model_config(spec), seed)
        stored[name] = ("huggingface", ref.save_pretrained(model, os.path.join(root, name), "F32"))
    for name, (seed, kwargs, labels) in SEED_LUCID_MODELS.items():
        lucid.save_folder(lucid.random_model(seed, **kwargs), os.path.join(root, name), labels)
        stored[name] = ("timesformer_pytorch", lucid.load_folder(os.path.join(root, name))[0])
    cases = []
    for index, (name, frames, height, width, mask) in enumerate(SEED_CASES):
        family, model = stored[name]
        case = seed_case_name(name, frames, height, width, mask)
        clip = random_clip(2000 + index, frames, 3, height, width)
        x = torch.from_numpy(clip).double().unsqueeze(0)
        entry = {"name": case, "family": family, "model": f"seed/{name}", "input": f"seed/inputs/{case}.npy",
                 "mask": None, "expected": f"seed/expected/{case}.npy", "frames": frames, "height": height,
                 "width": width}
        with torch.no_grad():
            if family == "huggingface":
                logits = ref.forward(model, x)[0]
                entry["scheme"] = model.config["attention_type"]
            else:
                m = None
                if mask is not None:
                    array = np.array(mask, dtype=np.uint8 if isinstance(mask, tuple) else bool)
                    np.save(os.path.join(root, "masks", case + ".npy"), array)
                    entry["mask"] = f"seed/masks/{case}.npy"
                    m = torch.from_numpy(array.astype(bool)).unsqueeze(0)
                logits = lucid.forward(model, x, m)[0]
                entry["scheme"] = ("rotary" if model.kwargs["rotary_emb"] else "learned") + (
                    "+shift_tokens" if model.kwargs["shift_tokens"] else "")
        np.save(os.path.join(root, "inputs", case + ".npy"), clip)
        np.save(os.path.join(root, "expected", case + ".npy"), logits.numpy().astype(np.float64))
        cases.append(entry)
    with open(os.path.join(out, "seed-cases.json"), "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return cases


# A model whose weights hold an infinity: NON_FINITE_OF with classifier.bias[0] = +inf.
NON_FINITE_OF, NON_FINITE_MODEL = "divided", "divided_inf_bias"


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
        if name == NON_FINITE_OF:
            with torch.no_grad():
                model.classifier.bias[0] = float("inf")
            ref.save_pretrained(model, os.path.join(out, NON_FINITE_MODEL), dtype)
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
    parser.add_argument("--suite", choices=["default", "seed"], default="default",
                        help="which suite: the engine's (default) or the seed's other models")
    parser.add_argument("--config", help="generate one model from this config JSON instead of the suite")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (with --config)")
    parser.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"],
                        help="checkpoint dtype (with --config)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.config:
        make_one(args.config, args.out, args.seed, args.dtype)
    elif args.suite == "seed":
        os.makedirs(args.out, exist_ok=True)
        cases = make_seed_suite(args.out)
        print(f"make_test_models: {len(SEED_HF_MODELS) + len(SEED_LUCID_MODELS)} seed models, "
              f"{len(cases)} cases in {args.out}/seed")
    else:
        os.makedirs(args.out, exist_ok=True)
        cases = make_suite(args.out)
        print(f"make_test_models: {len(MODELS)} models, {len(cases)} cases in {args.out}")


if __name__ == "__main__":
    main()
