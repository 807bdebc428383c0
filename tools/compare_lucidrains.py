#!/usr/bin/python3
"""Checks tools/lucidrains_reference.py against lucidrains' own TimeSformer-pytorch: the same
random weights in both (their state_dict loaded into ours), logits compared in float64.

    PYTHONPATH=/tmp/lucid:/tmp/einops /usr/bin/python3 tools/compare_lucidrains.py

with their repository (and einops) checked out on PYTHONPATH; nothing of theirs is in this
project. Prints one line per case and the largest difference; exits 1 above --tolerance.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lucidrains_reference as ours  # noqa: E402

BASE = dict(dim=48, num_frames=4, num_classes=5, image_size=32, patch_size=8, depth=2, heads=3, dim_head=16)

# name: (constructor overrides, batch, frames, height, width, mask or None)
CASES = {
    "rotary": ({}, 1, 4, 32, 32, None),
    "learned": (dict(rotary_emb=False), 1, 4, 32, 32, None),
    "shift_tokens_rotary": (dict(shift_tokens=True), 1, 4, 32, 32, None),
    "shift_tokens_learned": (dict(shift_tokens=True, rotary_emb=False), 1, 4, 32, 32, None),
    "mask_rotary": ({}, 1, 4, 32, 32, [[True, True, False, True]]),
    "mask_learned_shift": (dict(rotary_emb=False, shift_tokens=True), 1, 4, 32, 32, [[True, False, False, True]]),
    "dim_head_32": (dict(dim_head=32), 1, 4, 32, 32, None),
    "dim_head_64_heads_1": (dict(dim_head=64, heads=1), 1, 4, 32, 32, None),
    "dim_head_8_rotary": (dict(dim_head=8), 1, 4, 32, 32, None),
    "dim_head_4_rotary": (dict(dim_head=4), 1, 4, 32, 32, None),
    "smaller_image_rotary": ({}, 1, 4, 24, 16, None),
    "smaller_image_learned": (dict(rotary_emb=False), 1, 4, 24, 16, None),
    "fewer_frames_rotary": ({}, 1, 3, 32, 40, None),
    "batch_2_mask": ({}, 2, 4, 32, 32, [[True, True, True, False], [False, True, True, True]]),
    "batch_2_learned_shift": (dict(rotary_emb=False, shift_tokens=True), 2, 4, 32, 32, None),
    "dim_head_10_rotary": (dict(dim_head=10, heads=2), 1, 4, 32, 32, None),
    "larger_image_rotary": ({}, 1, 4, 48, 40, None),
    "patch_16_dim_65": (dict(dim=65, heads=2, dim_head=24, image_size=64, patch_size=16), 1, 4, 48, 64, None),
}


def compare(theirs_class, name, seed):
    overrides, batch, frames, height, width, mask = CASES[name]
    kwargs = dict(BASE, **overrides)
    mine = ours.random_model(seed, **kwargs)
    theirs = theirs_class(**kwargs)
    for key, value in theirs.state_dict().items():   # their constructor's buffers are ours
        if "rot_emb" in key and not torch.equal(value, mine.state_dict()[key]):
            raise SystemExit(f"{name}: buffer {key} differs: theirs {value}, ours {mine.state_dict()[key]}")
    theirs = theirs.double().eval()
    theirs.load_state_dict(mine.state_dict())        # same names, or this raises
    mine = mine.double().eval()
    gen = torch.Generator().manual_seed(seed)
    video = torch.randn(batch, frames, kwargs["channels"] if "channels" in kwargs else 3, height, width,
                        generator=gen, dtype=torch.float64)
    m = None if mask is None else torch.tensor(mask)
    with torch.no_grad():
        expected = theirs(video, mask=m)
        got = ours.forward(mine, video, m)
    return (got - expected).abs().max().item(), expected.abs().max().item()


def same_file_as_theirs(theirs_class, directory):
    """torch.save of their model's state dict (our weights loaded) is byte-identical to our
    model.pt: the same names, dtypes, layout and pickle."""
    import tempfile
    mine, _ = ours.load_folder(directory, torch.float32)
    theirs = theirs_class(**mine.kwargs)
    theirs.load_state_dict(mine.state_dict())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        torch.save(theirs.state_dict(), path)
        with open(path, "rb") as a, open(os.path.join(directory, "model.pt"), "rb") as b:
            return a.read() == b.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tolerance", type=float, default=1e-10)
    args = parser.parse_args()
    from timesformer_pytorch import TimeSformer
    import einops
    import timesformer_pytorch
    print(f"timesformer_pytorch from {os.path.dirname(timesformer_pytorch.__file__)}, "
          f"einops {einops.__version__}, torch {torch.__version__}")
    worst = 0.0
    for seed, name in enumerate(CASES, start=1):
        diff, scale = compare(TimeSformer, name, seed)
        worst = max(worst, diff)
        print(f"{name:24s} max |ours - theirs| = {diff:.3e}  (max |logit| {scale:.3f})")
    print(f"largest difference {worst:.3e}")
    import tempfile
    for name in ("rotary", "learned", "shift_tokens_rotary", "patch_16_dim_65"):
        with tempfile.TemporaryDirectory() as tmp:
            directory = os.path.join(tmp, "model")
            ours.save_folder(ours.random_model(1, **dict(BASE, **CASES[name][0])), directory)
            same = same_file_as_theirs(TimeSformer, directory)
        print(f"{name:24s} model.pt byte-identical to torch.save of their state_dict: {same}")
        worst = worst if same else float("inf")
    sys.exit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
