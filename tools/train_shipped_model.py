#!/usr/bin/python3
"""Trains the model that ships with the plugin (models/motion-shapes) and exports it.

A small divided-space-time TimeSformer (tools/timesformer_reference.py) learns the nine classes
of tools/make_motion_clips.py. Clips are rendered at several resolutions and aspect ratios and
preprocessed the way the `timesformer` element does at inference: the centre square (the shorter
side) scaled to the model's size with a linear, antialiased filter, rounded to bytes, RGB, /255,
normalised with the preprocessor_config mean/std.

Every clip may also be mirrored, transposed or played backwards, with its label mapped
accordingly (a mirrored "moving left" is "moving right"), which the classes allow exactly.

The export is the Hugging Face layout the engine loads (config.json with the labels,
model.safetensors, preprocessor_config.json) plus a model card README.md with the held-out
accuracy and the reversed-order swap rate, both measured on the saved model in float64.

    nice /usr/bin/python3 tools/train_shipped_model.py --out models/motion-shapes

Deterministic by --seed (up to float rounding across thread counts). CPU only.
"""

import argparse
import json
import math
import multiprocessing
import os
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_motion_clips as clips  # noqa: E402
import timesformer_reference as reference  # noqa: E402

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)
HELD_OUT_SEED_OFFSET = 1000003     # held-out clips: seed + this; the gst test uses yet another seed


# ---------------------------------------------------------------------------------------------
# Data: uint8 clips (N, T, S, S, 3) at the model's size, as the element sees them.


def preprocess(clip, image_size):
    """uint8 (T, H, W, 3) -> uint8 (T, image_size, image_size, 3): centre square of side
    min(H, W), scaled with a linear antialiased filter, rounded."""
    _, height, width, _ = clip.shape
    side = min(height, width)
    y, x = (height - side) // 2, (width - side) // 2
    square = torch.from_numpy(np.ascontiguousarray(clip[:, y:y + side, x:x + side]))
    square = square.permute(0, 3, 1, 2).float()
    if side != image_size:
        square = F.interpolate(square, size=(image_size, image_size), mode="bilinear",
                               align_corners=False, antialias=True)
    return square.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _render_chunk(job):
    seed, chunk, count, image_size, frames, classes, wide = job
    rng = np.random.default_rng([seed, chunk])
    data = np.empty((count, frames, image_size, image_size, 3), np.uint8)
    labels = np.empty(count, np.int64)
    for i in range(count):
        label = classes[int(rng.integers(len(classes)))]
        width, height = clips.TRAINING_SIZES[rng.integers(len(clips.TRAINING_SIZES))]
        clip = clips.render_clip(rng, clips.LABELS[label], width, height, frames, wide=wide)
        data[i] = preprocess(clip, image_size)
        labels[i] = label
    return data, labels


def make_data(seed, count, image_size, frames, workers, classes, wide, chunk_size=256):
    """count clips with random classes (ids, from `classes`) and training sizes, of the wide
    variety of make_motion_clips if `wide`; chunks are seeded by their index, so the result
    does not depend on the number of workers."""
    jobs = [(seed, c, min(chunk_size, count - c * chunk_size), image_size, frames, classes, wide)
            for c in range((count + chunk_size - 1) // chunk_size)]
    torch.set_num_threads(1)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_render_chunk, jobs)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def cached_data(path, seed, count, image_size, frames, workers, classes, wide=False):
    """make_data(), kept in `path` (.npz) when given: a second run with the same arguments
    loads it instead of rendering again."""
    key = np.array([seed, count, image_size, frames, int(wide), *classes])
    if path and os.path.exists(path):
        cache = np.load(path)
        if np.array_equal(cache["key"], key):
            return cache["data"], cache["labels"]
    data, labels = make_data(seed, count, image_size, frames, workers, classes, wide)
    if path:
        np.savez(path, key=key, data=data, labels=labels)
    return data, labels


def normalise(batch):
    """uint8 (B, T, S, S, 3) tensor -> float (B, T, 3, S, S) pixel_values."""
    x = batch.permute(0, 1, 4, 2, 3).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 1, 3, 1, 1)
    return (x - mean) / std


# ---------------------------------------------------------------------------------------------
# Symmetries: (transform of a uint8 (B, T, S, S, 3) batch, label mapping).


def _label_map(pairs):
    index = {name: i for i, name in enumerate(clips.LABELS)}
    mapping = list(range(len(clips.LABELS)))
    for a, b in pairs:
        mapping[index[a]], mapping[index[b]] = index[b], index[a]
    return torch.tensor(mapping)


MIRROR_X = _label_map([("moving left", "moving right"),
                       ("rotating clockwise", "rotating counterclockwise")])
MIRROR_Y = _label_map([("moving up", "moving down"),
                       ("rotating clockwise", "rotating counterclockwise")])
TRANSPOSE = torch.tensor([clips.LABELS.index(n) for n in (
    "moving up", "moving down", "moving left", "moving right", "rotating counterclockwise",
    "rotating clockwise", "growing", "shrinking", "standing still")])
REVERSE = torch.tensor([clips.LABELS.index(clips.REVERSED[n]) for n in clips.LABELS])


def _random_symmetries(batch, labels, gen, symmetries):
    """Each symmetry applied to a random half of the clips."""
    for dims, mapping in symmetries:
        chosen = torch.rand(len(labels), generator=gen) < 0.5
        if not chosen.any():
            continue
        part = batch[chosen]
        part = part.transpose(2, 3) if dims is None else part.flip(dims)
        batch[chosen] = part
        labels[chosen] = mapping[labels[chosen]]
    return batch, labels


def augment(batch, labels, gen, reversed_pairs=False, mirrored_pairs=False):
    """Mirror x, mirror y, transpose and time reversal, each applied to a random half.
    reversed_pairs: the second half of the batch is the first half played backwards (labels
    mapped), so that only features that depend on the order of the frames lower the loss of
    both; with mirrored_pairs, groups of four: a clip, backwards, mirrored, mirrored and
    backwards (for left and right as well)."""
    if mirrored_pairs:
        quarter = len(labels) // 4
        base, base_labels = _random_symmetries(batch[:quarter], labels[:quarter], gen,
                                               (((2,), MIRROR_Y), (None, TRANSPOSE)))
        mirrored = base.flip((3,))
        batch = torch.cat((base, base.flip((1,)), mirrored, mirrored.flip((1,))))
        labels = torch.cat((base_labels, REVERSE[base_labels], MIRROR_X[base_labels],
                            REVERSE[MIRROR_X[base_labels]]))
        return batch, labels
    symmetries = ((3,), MIRROR_X), ((2,), MIRROR_Y), (None, TRANSPOSE)
    if reversed_pairs:
        half = len(labels) // 2
        batch[half:2 * half] = batch[:half].flip((1,))
        labels[half:2 * half] = REVERSE[labels[:half]]
    else:
        symmetries += (((1,), REVERSE),)
    return _random_symmetries(batch, labels, gen, symmetries)


# ---------------------------------------------------------------------------------------------
# Model, training, evaluation.


def build_model(args):
    config = reference.make_config(
        labels=list(clips.LABELS), image_size=args.image_size, patch_size=args.patch_size,
        num_frames=clips.FRAMES, hidden_size=args.hidden_size, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=4 * args.hidden_size,
        attention_type="divided_space_time")
    model = reference.TimesformerForVideoClassification(config)
    emb = model.timesformer.embeddings
    # transformers initialises the embeddings with std 0.02. From scratch, that leaves the model
    # almost blind to where and when a patch is (attention is symmetric over frames and
    # patches), and training stalls at chance between the opposite classes; embeddings on
    # the scale of the patch features let it see order from the start.
    with torch.no_grad():
        torch.nn.init.trunc_normal_(emb.cls_token, std=0.02)
        torch.nn.init.normal_(emb.position_embeddings, std=args.embedding_std)
        torch.nn.init.normal_(emb.time_embeddings, std=args.embedding_std)
        if args.ramp_embeddings:
            add_coordinate_ramps(emb, args)
    return model


def add_coordinate_ramps(emb, args):
    """Adds to the position embeddings the patch's x and y, and to the time embeddings the
    frame's index, each in [-1, 1] along a random direction of norm sqrt(hidden): the order of
    frames and patches is then visible to linear maps from the first step."""
    grid = args.image_size // args.patch_size
    dim = emb.position_embeddings.shape[-1]
    directions = torch.randn(3, dim)
    directions *= math.sqrt(dim) * args.embedding_std / directions.norm(dim=1, keepdim=True)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, grid), torch.linspace(-1, 1, grid), indexing="ij")
    emb.position_embeddings[0, 1:] += xs.reshape(-1, 1) * directions[0] + ys.reshape(-1, 1) * directions[1]
    frames = emb.time_embeddings.shape[1]
    emb.time_embeddings[0] += torch.linspace(-1, 1, frames).reshape(-1, 1) * directions[2]


def predict(model, data, batch_size=256):
    """Class ids for uint8 clips (N, T, S, S, 3)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            x = normalise(torch.from_numpy(data[i:i + batch_size])).to(next(model.parameters()).dtype)
            out.append(model(x).argmax(dim=1))
    return torch.cat(out).numpy()


def evaluate(model, data, labels):
    """Top-1 accuracy, the share of clips whose reversed copy is classified as the reversed
    class (counted over the clips of the eight classes that have an opposite), and the top-1
    accuracy of every class as a string of percentages in the order of LABELS."""
    right = predict(model, data) == labels
    reversed_pred = predict(model, np.ascontiguousarray(data[:, ::-1]))
    moving = labels != clips.LABELS.index("standing still")
    swap = float((reversed_pred[moving] == REVERSE.numpy()[labels[moving]]).mean())
    per_class = " ".join(f"{100 * right[labels == c].mean():.0f}" for c in range(len(clips.LABELS)))
    return float(right.mean()), swap, per_class


def load_manifest_clips(folder, image_size):
    """The clips of a folder with manifest.json (make_motion_clips.py clips or
    render_motion_test_clips.py), preprocessed: uint8 (N, T, S, S, 3) and class ids."""
    with open(os.path.join(folder, "manifest.json")) as f:
        entries = json.load(f)["clips"]
    data, labels = [], []
    for entry in entries:
        clip = np.fromfile(os.path.join(folder, entry["file"]), np.uint8)
        clip = clip.reshape(entry["frames"], entry["height"], entry["width"], 3)
        data.append(preprocess(clip, image_size))
        labels.append(clips.LABELS.index(entry["label"]))
    return np.stack(data), np.array(labels)


def train(model, data, labels, args, log, held_out, watched=None):
    gen = torch.Generator().manual_seed(args.seed)
    steps = args.epochs * (len(data) // args.batch_size)
    warmup = max(steps // 20, 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min((s + 1) / warmup, 1.0)
                                                 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    all_data, all_labels = torch.from_numpy(data), torch.from_numpy(labels)
    step, start = 0, time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(data), generator=gen)
        running = 0.0
        for b in range(len(data) // args.batch_size):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            batch, target = augment(all_data[idx].clone(), all_labels[idx].clone(), gen,
                                    args.reversed_pairs, args.mirrored_pairs)
            loss = F.cross_entropy(model(normalise(batch)), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            running += loss.item()
            if step % 50 == 0:
                log(f"step {step}/{steps} epoch {epoch + 1} loss {running / (b + 1):.4f} "
                    f"({time.time() - start:.0f} s)")
        accuracy, swap, per_class = evaluate(model, held_out[0][:270], held_out[1][:270])
        log(f"epoch {epoch + 1}: held-out top-1 {accuracy:.3f}, reversed swap {swap:.3f}; "
            f"per class {per_class}")
        if watched is not None:
            accuracy, swap, per_class = evaluate(model, *watched)
            log(f"epoch {epoch + 1}: watched clips top-1 {accuracy:.3f}, reversed swap "
                f"{swap:.3f}; per class {per_class}")
    return model


# ---------------------------------------------------------------------------------------------
# Export.


def write_model_card(path, args, commands, held_out, train_seconds):
    accuracy, swap, count = held_out
    command = "\n    ".join(commands)
    reversal = ("played backwards and mirrored next to itself in the same batch"
                if args.mirrored_pairs else "played backwards next to itself in the same batch"
                if args.reversed_pairs else "played backwards at random")
    stages = ("" if len(commands) == 1 else
              f"\nin {len(commands)} runs, each starting from the weights the previous one saved\n"
              "(`--init` names the previous model folder).\n")
    variety = ("" if not args.wide else "\nWith `--wide` (the last run) also stripes, radial gradients and blotches as backgrounds,\n"
               "the marker on half the shapes (always on a rotating disc or ring) and rotation about any\n"
               "point that keeps the shape in the square.")
    card = f"""# motion-shapes

The model that ships with gst-timesformer: a small TimeSformer (divided space-time attention)
that tells nine kinds of motion of a synthetic shape apart. It is the `timesformer` element's
default `model` and the model of the demo (`scripts/demo.sh`).

| | |
| --- | --- |
| classes | {", ".join(f"`{label}`" for label in clips.LABELS)} |
| input | {clips.FRAMES} frames, {args.image_size}x{args.image_size} RGB, patch {args.patch_size} |
| width | hidden {args.hidden_size}, {args.layers} layers, {args.heads} heads, MLP {4 * args.hidden_size} |
| preprocessing | shorter side to {args.image_size}, centre crop, /255, mean {list(MEAN)}, std {list(STD)} |
| weights | float32, model.safetensors |

## Data

`tools/make_motion_clips.py`: one shape (disc, square, triangle, ring; random size and colour,
with a marker of a contrasting colour so that rotation is visible) over a random background
(flat, gradient, noise, textured), with sensor noise, random speed and start, at frame sizes
{", ".join(f"{w}x{h}" for w, h in clips.TRAINING_SIZES)}.
The action happens in the centre square of the frame, the part the model sees after its centre
crop; a rotating shape turns about a point within {int(100 * clips.ROTATION_CENTRE)}% of the square's side from its centre.{variety}
Clockwise is as seen on screen. {args.train_clips} training clips (seed {args.seed}), each
also mirrored or transposed at random and {reversal}, with its label mapped accordingly.

Only the order of the frames tells the classes apart, so a model that ignores time cannot
exceed chance between the pairs left/right, up/down, clockwise/counterclockwise and
growing/shrinking.

## Training

    {command}
{stages}
AdamW (weight decay 0.05, warm-up then cosine), batch {args.batch_size}, Debian's python3-torch on the
CPU; the last run took {train_seconds / 60:.0f} min on {args.threads} thread(s) of a 2-core machine.

## Accuracy

Measured by `tools/timesformer_reference.py` on the saved weights (float64) over {count}
held-out clips (seed {args.seed + HELD_OUT_SEED_OFFSET}, never used in training), preprocessed as above:

| | |
| --- | --- |
| top-1 accuracy | {100 * accuracy:.1f}% |
| frames reversed: classified as the opposite class | {100 * swap:.1f}% (of the clips of the eight classes that have one) |

The test `tests/gst/test_motion_shapes.c` checks the same through GStreamer
(`appsrc ! timesformer sync=true ! appsink`, RGB, I420 and NV12 at sizes other than the model's)
on clips of yet another seed.
"""
    with open(path, "w") as f:
        f.write(card)


def previous_commands(init):
    """The training commands that made the model training starts from."""
    if not init:
        return []
    with open(os.path.join(init, "training.json")) as f:
        recorded = json.load(f)
    return recorded.get("commands") or [recorded.get("command", "(unknown)")]


def _class_ids(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in clips.LABELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown class {unknown or text!r}; known: {', '.join(clips.LABELS)}")
    return sorted({clips.LABELS.index(name) for name in names})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="models/motion-shapes", help="model folder to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train-clips", type=int, default=12000)
    parser.add_argument("--held-out-per-class", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--embedding-std", type=float, default=0.5,
                        help="initial scale of the position and time embeddings")
    parser.add_argument("--reversed-pairs", action="store_true",
                        help="each batch holds clips and the same clips played backwards")
    parser.add_argument("--mirrored-pairs", action="store_true",
                        help="each batch holds clips, played backwards, mirrored, and both")
    parser.add_argument("--ramp-embeddings", action="store_true",
                        help="start the position and time embeddings with linear x, y and t ramps")
    parser.add_argument("--classes", type=_class_ids, default=list(range(len(clips.LABELS))),
                        help="comma-separated labels to train on (default: all nine); the "
                        "held-out figures are always of all nine")
    parser.add_argument("--wide", action="store_true",
                        help="train (and hold out) on make_motion_clips' wider variety: more "
                        "backgrounds, optional markers, rotation anywhere in the square")
    parser.add_argument("--watch-clips", help="folder of clips with a manifest.json (e.g. from "
                        "render_motion_test_clips.py, a seed the tests do not use) whose "
                        "accuracy is logged every epoch; never trained on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", help="folder to keep the rendered clips in between runs")
    parser.add_argument("--init", help="model folder whose weights training starts from "
                        "(a previous run of this script with the same sizes)")
    args = parser.parse_args(argv)
    shown = list(argv if argv is not None else sys.argv[1:])
    for private in ("--cache", "--watch-clips"):             # where clips were kept or watched
        if private in shown:
            del shown[shown.index(private):shown.index(private) + 2]
    command = "nice /usr/bin/python3 tools/train_shipped_model.py " + shlex.join(shown)

    def log(message):
        print(f"train_shipped_model: {message}", file=sys.stderr, flush=True)

    torch.manual_seed(args.seed)
    start = time.time()
    cache = (lambda name: os.path.join(args.cache, name)) if args.cache else (lambda name: None)
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
    data, labels = cached_data(cache("train.npz"), args.seed, args.train_clips, args.image_size,
                               clips.FRAMES, args.threads, args.classes, args.wide)
    held_count = args.held_out_per_class * len(clips.LABELS)
    held_data, held_labels = cached_data(cache("held-out.npz"), args.seed + HELD_OUT_SEED_OFFSET,
                                         held_count, args.image_size, clips.FRAMES, args.threads,
                                         list(range(len(clips.LABELS))), args.wide)
    log(f"{len(data)} training and {held_count} held-out clips rendered in {time.time() - start:.0f} s")

    torch.set_num_threads(args.threads)
    start = time.time()
    model = build_model(args)
    if args.init:                                 # continue from a saved model
        model.load_state_dict(reference.load_pretrained(args.init).state_dict())
        log(f"starting from {args.init}")
    watched = load_manifest_clips(args.watch_clips, args.image_size) if args.watch_clips else None
    model = train(model, data, labels, args, log, (held_data, held_labels), watched)
    train_seconds = time.time() - start
    log(f"trained in {train_seconds:.0f} s; float32 held-out accuracy {evaluate(model, held_data, held_labels)}")

    preprocessor = reference.preprocessor_config(args.image_size, MEAN, STD)
    preprocessor["resample"] = 2                  # bilinear, as the element's linear scaler
    reference.save_pretrained(model.eval(), args.out, "F32", preprocessor)
    saved = reference.load_pretrained(args.out, torch.float64)
    accuracy, swap, _ = evaluate(saved, held_data, held_labels)
    log(f"saved model (float64): held-out top-1 {accuracy:.4f}, reversed swap {swap:.4f}")
    commands = previous_commands(args.init) + [command]
    write_model_card(os.path.join(args.out, "README.md"), args, commands,
                     (accuracy, swap, held_count), train_seconds)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"commands": commands, "args": vars(args), "held_out_accuracy": accuracy,
                   "reversed_swap_rate": swap, "held_out_clips": held_count,
                   "train_seconds": round(train_seconds)}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
