#!/usr/bin/python3
"""Trains a TimeSformer of any attention scheme (tools/timesformer_reference.py: divided, joint,
space-only, sparse local-global, axial) on your own clips, and exports the Hugging Face folder
the engine and the `timesformer` element load.

Data: one folder per class, its name the label:
    DATA/<label>/<clip>.npy     uint8 (T, H, W, 3) RGB frames
    DATA/<label>/<clip>/        image files (PNG, JPEG...), one frame each, in name order
Every clip is cut to --frames evenly spaced frames (a shorter clip repeats frames), its centre
square scaled to --image-size (tools/train_shipped_model.py's preprocessing, as the element
does at inference), /255 and normalised with --mean/--std.

    nice /usr/bin/python3 tools/train_on_clips.py --data DATA --out models/mine --attention-type axial

Then `timesformer model=models/mine` in a pipeline. CPU only; deterministic by --seed.
"""

import argparse
import json
import math
import os
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timesformer_reference as reference  # noqa: E402
from train_shipped_model import preprocess  # noqa: E402

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")


def read_clip(path):
    """uint8 (T, H, W, 3) from a .npy file or a folder of images."""
    if os.path.isdir(path):
        from PIL import Image
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES))
        if not names:
            raise ValueError(f"{path}: no image files")
        frames = [np.asarray(Image.open(os.path.join(path, n)).convert("RGB")) for n in names]
        if len({f.shape for f in frames}) != 1:
            raise ValueError(f"{path}: frames of different sizes")
        return np.stack(frames)
    clip = np.load(path)
    if clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[3] != 3 or clip.shape[0] < 1:
        raise ValueError(f"{path}: expected uint8 (T, H, W, 3), got {clip.dtype} {clip.shape}")
    return clip


def sample_frames(clip, frames):
    """`frames` evenly spaced frames of the clip (repeated when it has fewer)."""
    index = np.round(np.linspace(0, len(clip) - 1, frames)).astype(int)
    return clip[index]


def load_data(root, frames, image_size):
    """(uint8 (N, T, S, S, 3), labels (N,), label names): the class folders in name order."""
    labels = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if len(labels) < 2:
        raise ValueError(f"{root}: needs at least two class folders, found {labels}")
    data, targets = [], []
    for label_id, label in enumerate(labels):
        folder = os.path.join(root, label)
        entries = sorted(e for e in os.listdir(folder)
                         if e.endswith(".npy") or os.path.isdir(os.path.join(folder, e)))
        if not entries:
            raise ValueError(f"{folder}: no clips (.npy files or folders of images)")
        for entry in entries:
            clip = sample_frames(read_clip(os.path.join(folder, entry)), frames)
            data.append(preprocess(clip, image_size))
            targets.append(label_id)
    return np.stack(data), np.array(targets, dtype=np.int64), labels


def normalise(batch, mean, std):
    """uint8 (B, T, S, S, 3) tensor -> float (B, T, 3, S, S)."""
    x = batch.permute(0, 1, 4, 2, 3).float() / 255.0
    return (x - torch.tensor(mean).view(1, 1, 3, 1, 1)) / torch.tensor(std).view(1, 1, 3, 1, 1)


def build_model(args, labels):
    config = reference.make_config(
        labels=labels, image_size=args.image_size, patch_size=args.patch_size, num_frames=args.frames,
        hidden_size=args.hidden_size, num_hidden_layers=args.layers, num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden_size, attention_type=args.attention_type)
    model = reference.TimesformerForVideoClassification(config)
    with torch.no_grad():                     # embeddings on the scale of the patch features
        for name, p in model.named_parameters():
            if name.endswith(("position_embeddings", "time_embeddings")):
                torch.nn.init.normal_(p, std=args.embedding_std)
            elif name.endswith("cls_token"):
                torch.nn.init.trunc_normal_(p, std=0.02)
    if args.init:
        model.load_state_dict(reference.load_pretrained(args.init).state_dict())
    return model


def train(model, data, labels, args, log):
    """AdamW, warm-up then cosine; returns the mean loss of every epoch."""
    gen = torch.Generator().manual_seed(args.seed)
    batches = max(len(data) // args.batch_size, 1)
    steps = args.epochs * batches
    warmup = max(steps // 20, 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min((s + 1) / warmup, 1.0)
                                                 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    all_data, all_labels = torch.from_numpy(data), torch.from_numpy(labels)
    losses, start = [], time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        for b in range(batches):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            loss = F.cross_entropy(model(normalise(all_data[idx], args.mean, args.std)), all_labels[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
        losses.append(total / batches)
        log(f"epoch {epoch + 1}/{args.epochs}: loss {losses[-1]:.4f} ({time.time() - start:.0f} s)")
    return losses


def accuracy(model, data, labels, args):
    model.eval()
    with torch.no_grad():
        x = normalise(torch.from_numpy(data), args.mean, args.std).to(next(model.parameters()).dtype)
        return float((model(x).argmax(dim=1).numpy() == labels).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of class folders")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument("--attention-type", default="divided_space_time", choices=reference.ATTENTION_TYPES)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--patch-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--embedding-std", type=float, default=0.5,
                        help="initial scale of the position and time embeddings")
    parser.add_argument("--mean", type=float, nargs=3, default=[0.45, 0.45, 0.45])
    parser.add_argument("--std", type=float, nargs=3, default=[0.225, 0.225, 0.225])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--init", help="Hugging Face model folder of the same configuration to start from")
    args = parser.parse_args(argv)
    if args.image_size % args.patch_size or args.hidden_size % args.heads:
        parser.error("--patch-size must divide --image-size and --heads must divide --hidden-size")

    def log(message):
        print(f"train_on_clips: {message}", file=sys.stderr, flush=True)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data, labels, names = load_data(args.data, args.frames, args.image_size)
    log(f"{len(data)} clips of {len(names)} classes ({', '.join(names)})")
    model = build_model(args, names)
    losses = train(model, data, labels, args, log)
    preprocessor = reference.preprocessor_config(args.image_size, args.mean, args.std)
    reference.save_pretrained(model.eval(), args.out, "F32", preprocessor)
    saved = reference.load_pretrained(args.out, torch.float64)
    train_accuracy = accuracy(saved, data, labels, args)
    log(f"saved {args.out} ({args.attention_type}); accuracy on the training clips {train_accuracy:.3f}")
    command = "/usr/bin/python3 tools/train_on_clips.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"command": command, "args": vars(args), "epoch_losses": losses,
                   "training_accuracy": train_accuracy}, f, indent=1)
        f.write("\n")
    return losses, train_accuracy


if __name__ == "__main__":
    main()
