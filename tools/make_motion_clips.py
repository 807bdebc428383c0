#!/usr/bin/python3
"""Synthetic clips of moving shapes: the data set of the shipped model (models/motion-shapes).

A clip shows one shape (disc, square, triangle or ring, random size and colour) on a random
background (flat, gradient, noise or textured) with sensor noise, doing one of nine things:

    moving left, moving right, moving up, moving down, rotating clockwise,
    rotating counterclockwise, growing, shrinking, standing still

Only the time dimension tells them apart: a single frame of "moving left" is a frame of
"moving right" or of "standing still". Every shape carries a marker of a contrasting colour
(a dot off its centre, near a corner or on the ring), so that rotation is visible and the
shape has no rotational symmetry. Clockwise is as seen on screen. Classes come in
time-reversed pairs: a clip played backwards is a clip of the opposite class (left/right,
up/down, clockwise/counterclockwise, growing/shrinking), and "standing still" stays still.

Frames are W x H at several resolutions and aspect ratios. The action happens inside the
centre square of the frame (side min(W, H)), the part a TimeSformer sees after its resize of
the shorter side and centre crop; the rest is background. A rotating shape turns about a point
near the centre of that square (within ROTATION_CENTRE of its side): telling the direction of a
turn about an arbitrary point is beyond the small shipped model (see its model card).

Everything is drawn from a numpy Generator, so a seed gives the same clips on any machine.

Command line (writes raw RGB frames and a manifest; used by the tests and the demo):
    make_motion_clips.py clips --out DIR --seed S --per-class N --sizes 96x72,64x112
    make_motion_clips.py video --out FILE.rgb --seed S --size 320x240 --segments 18 --stride 3
    make_motion_clips.py score --video FILE.rgb.json --log labels.jsonl
Run with Debian's numpy (/usr/bin/python3).
"""

import argparse
import json
import math
import os
import sys

import numpy as np

LABELS = (
    "moving left",
    "moving right",
    "moving up",
    "moving down",
    "rotating clockwise",
    "rotating counterclockwise",
    "growing",
    "shrinking",
    "standing still",
)

# The class a clip becomes when its frames are played in reverse order.
REVERSED = {
    "moving left": "moving right",
    "moving right": "moving left",
    "moving up": "moving down",
    "moving down": "moving up",
    "rotating clockwise": "rotating counterclockwise",
    "rotating counterclockwise": "rotating clockwise",
    "growing": "shrinking",
    "shrinking": "growing",
    "standing still": "standing still",
}

SHAPES = ("disc", "square", "triangle", "ring")
BACKGROUNDS = ("flat", "gradient", "noise", "textured")
# The wider variety (render_clip(wide=True)): also hard-edged stripes, radial gradients and
# smooth blotches; markers optional where the shape's rotation shows without one; rotation
# about any point of the square.
WIDE_BACKGROUNDS = BACKGROUNDS + ("stripes", "radial", "blotches")

# Frame sizes (width, height) of the training data: several resolutions, 4:3, 16:9, 1:1, portrait.
TRAINING_SIZES = ((64, 48), (80, 60), (96, 96), (112, 63), (128, 96), (72, 128), (144, 108),
                  (160, 90), (120, 160), (176, 144))

FRAMES = 8

# Motion ranges, as fractions of the centre square's side S (sizes) or per clip (angles, scale).
RADIUS = (0.13, 0.24)             # circumradius of the shape
STILL_RADIUS = (0.22, 0.36)       # of a shape that rotates or stands still: large enough that
                                  # its marker's turn shows at the model's 32x32
TRAVEL = (0.22, 0.50)             # distance covered by a moving shape over the clip
TURN_DEGREES = (120.0, 210.0)     # rotation over the clip (17-30 degrees per frame at 8 frames)
ROTATION_CENTRE = 0.08            # a rotating shape turns about a point this close to the centre
SCALE_CHANGE = (1.6, 2.4)         # radius ratio between the last and the first frame
NOISE_SIGMA = (0.0, 7.0)          # sensor noise, in 0-255 units
MIN_CONTRAST = 110.0              # distance in RGB between shape colour and background mean


# ---------------------------------------------------------------------------------------------
# Scene: the parameters of one clip, as functions of time t in [0, 1] (first to last frame).


def _uniform(rng, bounds):
    return float(rng.uniform(bounds[0], bounds[1]))


def _random_colour(rng):
    return rng.uniform(0, 255, size=3)


def _contrasting_colour(rng, against):
    for _ in range(100):
        colour = _random_colour(rng)
        if np.linalg.norm(colour - against) >= MIN_CONTRAST:
            return colour
    return np.where(against > 127, 0.0, 255.0)


def _marker_colour(shape_colour):
    """The complement of the shape colour, or black/white when that is too close."""
    complement = 255.0 - shape_colour
    if np.linalg.norm(complement - shape_colour) >= MIN_CONTRAST:
        return complement
    return np.full(3, 0.0 if shape_colour.mean() > 127 else 255.0)


def make_scene(rng, label, side, wide=False):
    """Draws the parameters of one clip whose action fits in a square of `side` pixels.
    Returns a dict with centre(t), radius(t), angle(t) as (start, end) pairs: the shape moves
    linearly (centre, angle) or geometrically (radius) between them. wide: a rotating shape
    turns about any point that keeps it inside the square, not only near its centre."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; known: {', '.join(LABELS)}")
    radius = _uniform(rng, RADIUS if label.startswith("moving") else STILL_RADIUS) * side
    radius_end = radius
    angle = _uniform(rng, (0.0, 2 * math.pi))
    angle_end = angle
    if label in ("growing", "shrinking"):
        small = _uniform(rng, (RADIUS[0] * 0.8, RADIUS[1] * 0.75)) * side
        large = min(small * _uniform(rng, SCALE_CHANGE), 0.42 * side)
        radius, radius_end = (small, large) if label == "growing" else (large, small)
    if label.startswith("rotating"):
        turn = math.radians(_uniform(rng, TURN_DEGREES))
        # Image y points down, so a growing angle turns clockwise on screen.
        angle_end = angle + (turn if label == "rotating clockwise" else -turn)

    reach = max(radius, radius_end) + 1.5                    # keep the shape inside the square
    low, high = reach, side - reach
    start = rng.uniform(low, high, size=2)     # drawn for every class: keeps the later draws
    if label.startswith("rotating") and not wide:
        start = side / 2 + rng.uniform(-ROTATION_CENTRE, ROTATION_CENTRE, size=2) * side
    end = start.copy()
    if label.startswith("moving"):
        axis = 0 if label in ("moving left", "moving right") else 1
        sign = -1.0 if label in ("moving left", "moving up") else 1.0
        travel = min(_uniform(rng, TRAVEL) * side, high - low)
        drift = rng.uniform(-0.15, 0.15) * travel            # a little sideways motion
        slack = rng.uniform(0.0, high - low - travel)          # >= 0 even after rounding
        start[axis] = low + slack if sign > 0 else low + travel + slack
        end[axis] = start[axis] + sign * travel
        end[1 - axis] = np.clip(start[1 - axis] + drift, low, high)

    return {
        "label": label,
        "shape": SHAPES[rng.integers(len(SHAPES))],
        "centre": (start, end),
        "radius": (radius, radius_end),
        "angle": (angle, angle_end),
    }


def scene_at(scene, t):
    """Centre (x, y), radius and angle at time t."""
    (c0, c1), (r0, r1), (a0, a1) = scene["centre"], scene["radius"], scene["angle"]
    return c0 + (c1 - c0) * t, r0 * (r1 / r0) ** t, a0 + (a1 - a0) * t


# ---------------------------------------------------------------------------------------------
# Drawing with signed distances (negative inside), antialiased over one pixel.


def _coverage(distance):
    return np.clip(0.5 - distance, 0.0, 1.0)


def _shape_distance(shape, u, v, radius):
    """Signed distance of the points (u, v), in the shape's own rotated frame, to its outline."""
    if shape == "disc":
        return np.hypot(u, v) - radius
    if shape == "ring":
        return np.abs(np.hypot(u, v) - 0.775 * radius) - 0.225 * radius
    if shape == "square":
        half = 0.75 * radius
        return np.maximum(np.abs(u), np.abs(v)) - half
    # Equilateral triangle, one vertex at angle 0: the inradius is half the circumradius.
    distance = None
    for k in range(3):
        normal = math.pi + 2 * math.pi * k / 3
        d = u * math.cos(normal) + v * math.sin(normal) - 0.5 * radius
        distance = d if distance is None else np.maximum(distance, d)
    return distance


# Where the marker sits in the shape's frame (fraction of the radius) and its radius.
_MARKERS = {
    "disc": ((0.55, 0.0), 0.38),
    "ring": ((0.775, 0.0), 0.3),
    "square": ((0.4, 0.4), 0.3),
    "triangle": ((0.4, 0.0), 0.28),
}


def draw_shape(frame, shape, centre, radius, angle, colour, marker_colour):
    """Blends the shape and its marker (none if marker_colour is None) into frame (H, W, 3
    float) in place (only the pixels around the shape are computed)."""
    height, width, _ = frame.shape
    reach = 1.1 * radius                                      # a square's corner is at 1.06 r
    x0, x1 = max(int(centre[0] - reach) - 2, 0), min(int(centre[0] + reach) + 3, width)
    y0, y1 = max(int(centre[1] - reach) - 2, 0), min(int(centre[1] + reach) + 3, height)
    if x0 >= x1 or y0 >= y1:
        return
    frame = frame[y0:y1, x0:x1]
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5                     # pixel centres
    dx, dy = xs - centre[0], ys - centre[1]
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    u, v = dx * cos_a + dy * sin_a, -dx * sin_a + dy * cos_a  # rotate into the shape's frame
    alpha = _coverage(_shape_distance(shape, u, v, radius))[..., None]
    frame *= 1.0 - alpha
    frame += alpha * colour
    if marker_colour is None:
        return
    (mu, mv), mr = _MARKERS[shape]
    alpha = _coverage(np.hypot(u - mu * radius, v - mv * radius) - mr * radius)[..., None]
    frame *= 1.0 - alpha
    frame += alpha * marker_colour


def make_background(rng, width, height, kinds=BACKGROUNDS):
    """A static background (H, W, 3 float) of a random kind."""
    kind = kinds[rng.integers(len(kinds))]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    base = _random_colour(rng)
    if kind in WIDE_BACKGROUNDS[len(BACKGROUNDS):]:
        return _wide_background(rng, kind, base, xs, ys)
    if kind == "flat":
        return np.broadcast_to(base, (height, width, 3)).copy()
    if kind == "gradient":
        other = _random_colour(rng)
        direction = _uniform(rng, (0.0, 2 * math.pi))
        ramp = xs * math.cos(direction) + ys * math.sin(direction)
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
        return base + (other - base) * ramp[..., None]
    if kind == "noise":
        amplitude = _uniform(rng, (15.0, 50.0))
        return np.clip(base + rng.uniform(-amplitude, amplitude, size=(height, width, 3)), 0, 255)
    # textured: a few random plane waves (stripes, checks, blobs) around the base colour
    texture = np.zeros((height, width))
    for _ in range(int(rng.integers(1, 4))):
        period = _uniform(rng, (6.0, 40.0))
        direction = _uniform(rng, (0.0, math.pi))
        phase = _uniform(rng, (0.0, 2 * math.pi))
        texture += np.sin(2 * math.pi * (xs * math.cos(direction) + ys * math.sin(direction)) / period + phase)
    texture /= max(np.abs(texture).max(), 1e-9)
    amplitude = rng.uniform(15.0, 55.0, size=3)
    return np.clip(base + texture[..., None] * amplitude, 0, 255)


def _wide_background(rng, kind, base, xs, ys):
    other = _random_colour(rng)
    if kind == "stripes":
        period = _uniform(rng, (5.0, 30.0))
        direction = _uniform(rng, (0.0, math.pi))
        phase = xs * math.cos(direction) + ys * math.sin(direction)
        mix = (np.floor(phase / period * 2) % 2)[..., None]
    elif kind == "radial":
        cx, cy = rng.uniform(0, xs.shape[1]), rng.uniform(0, xs.shape[0])
        distance = np.hypot(xs - cx, ys - cy)
        mix = (distance / max(distance.max(), 1e-9))[..., None]
    else:                                     # blotches: a coarse random grid, bilinear
        cells = int(rng.integers(2, 7))
        grid = rng.uniform(0, 1, size=(cells + 1, cells + 1))
        gx = xs / max(xs.max(), 1) * cells
        gy = ys / max(ys.max(), 1) * cells
        x0, y0 = np.minimum(gx.astype(int), cells - 1), np.minimum(gy.astype(int), cells - 1)
        fx, fy = gx - x0, gy - y0
        mix = (grid[y0, x0] * (1 - fx) * (1 - fy) + grid[y0, x0 + 1] * fx * (1 - fy)
               + grid[y0 + 1, x0] * (1 - fx) * fy + grid[y0 + 1, x0 + 1] * fx * fy)[..., None]
    return base + (other - base) * mix


def _has_marker(rng, scene, wide):
    """Always in the default variety; in the wide one, half the time, or always when the shape
    rotates and looks the same at every angle without it (disc, ring)."""
    if not wide:
        return True
    symmetric = scene["shape"] in ("disc", "ring")
    return bool(rng.random() < 0.5) or (symmetric and scene["label"].startswith("rotating"))


def render_clip(rng, label, width, height, frames=FRAMES, substeps=1, wide=False):
    """One clip as uint8 (frames * substeps, height, width, 3) RGB.

    With substeps > 1 the same motion is rendered with substeps - 1 frames in between: taking
    every substeps-th frame gives the frames-frame clip (a video to be sampled with
    frame-stride = substeps). wide: the wider variety of WIDE_BACKGROUNDS, optional markers
    and rotation anywhere (the default draws the same clips as before it existed)."""
    side = min(width, height)
    offset = np.array([(width - side) / 2.0, (height - side) / 2.0])
    background = make_background(rng, width, height, WIDE_BACKGROUNDS if wide else BACKGROUNDS)
    scene = make_scene(rng, label, side, wide)
    colour = _contrasting_colour(rng, background.reshape(-1, 3).mean(axis=0))
    marker = _marker_colour(colour) if _has_marker(rng, scene, wide) else None
    sigma = _uniform(rng, NOISE_SIGMA)
    count = frames * substeps
    span = max((frames - 1) * substeps, 1)
    clip = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        centre, radius, angle = scene_at(scene, i / span)
        frame = background.copy()
        draw_shape(frame, scene["shape"], centre + offset, radius, angle, colour, marker)
        if sigma > 0:
            frame += rng.normal(0.0, sigma, size=frame.shape)
        clip[i] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return clip


def make_clips(seed, per_class, sizes, frames=FRAMES):
    """per_class clips of every class, interleaved class by class, each at the next size of
    `sizes` in turn. Yields (label_id, width, height, clip uint8 (T, H, W, 3))."""
    rng = np.random.default_rng(seed)
    index = 0
    for _ in range(per_class):
        for label_id, label in enumerate(LABELS):
            width, height = sizes[index % len(sizes)]
            index += 1
            yield label_id, width, height, render_clip(rng, label, width, height, frames)


# ---------------------------------------------------------------------------------------------
# Command line.


def _parse_size(text):
    try:
        width, height = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"size {text!r}: at least 16x16")
    return width, height


def _parse_sizes(text):
    return [_parse_size(s) for s in text.split(",") if s]


def write_clips(args):
    """DIR/clip-NNNN.rgb (frames x H x W x 3 bytes) and DIR/manifest.json."""
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for n, (label_id, width, height, clip) in enumerate(
            make_clips(args.seed, args.per_class, args.sizes, args.frames)):
        name = f"clip-{n:04d}.rgb"
        clip.tofile(os.path.join(args.out, name))
        entries.append({"file": name, "width": width, "height": height, "frames": args.frames,
                        "label_id": label_id, "label": LABELS[label_id],
                        "reversed_label": REVERSED[LABELS[label_id]]})
    manifest = {"seed": args.seed, "format": "RGB", "labels": list(LABELS), "clips": entries}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"make_motion_clips: {len(entries)} clips in {args.out}", file=sys.stderr)


def write_video(args):
    """A raw RGB video: segments of random classes, each `frames` sampled frames long at
    frame-stride `stride`, so that clips of the classifier line up with the segments.
    FILE gets the frames, FILE.json the segments' labels."""
    rng = np.random.default_rng(args.seed)
    width, height = args.size
    order = list(LABELS) * (args.segments // len(LABELS) + 1)
    order = [order[i] for i in rng.permutation(len(order))][:args.segments]
    segments = []
    with open(args.out, "wb") as f:
        for label in order:
            clip = render_clip(rng, label, width, height, args.frames, args.stride)
            clip.tofile(f)
            segments.append({"label": label, "frames": len(clip)})
    with open(args.out + ".json", "w") as f:
        json.dump({"width": width, "height": height, "format": "RGB", "frame_stride": args.stride,
                   "segments": segments}, f, indent=1)
        f.write("\n")
    total = sum(s["frames"] for s in segments)
    print(f"make_motion_clips: {total} frames of {width}x{height} RGB in {args.out}", file=sys.stderr)


def score_log(args):
    """Compares a labellog JSON Lines file with the segments of a video made by `video`: the
    top label of each result against the label of the segment its clip starts in."""
    with open(args.video) as f:
        video = json.load(f)
    starts, total = [], 0
    for segment in video["segments"]:
        starts.append(total)
        total += segment["frames"]
    frame_ns = 1e9 * args.fps_d / args.fps_n
    right = results = 0
    with open(args.log) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            result = json.loads(line)
            if not result.get("labels") or result.get("first_pts") is None:
                continue
            frame = round(result["first_pts"] / frame_ns)
            segment = max(i for i, start in enumerate(starts) if start <= frame)
            results += 1
            right += result["labels"][0]["label"] == video["segments"][segment]["label"]
    print(f"{right} of {results} clips classified as the motion shown "
          f"({len(starts)} segments in the video)")
    return 0 if results else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    clips = sub.add_parser("clips", help="separate clips of every class and a manifest")
    clips.add_argument("--out", required=True, help="output folder")
    clips.add_argument("--seed", type=int, required=True)
    clips.add_argument("--per-class", type=int, default=24, help="clips per class")
    clips.add_argument("--frames", type=int, default=FRAMES)
    clips.add_argument("--sizes", type=_parse_sizes, default=[(96, 72)],
                       help="comma-separated WIDTHxHEIGHT, used in turn")
    video = sub.add_parser("video", help="one raw RGB video of random segments")
    video.add_argument("--out", required=True, help="output file (raw RGB frames)")
    video.add_argument("--seed", type=int, required=True)
    video.add_argument("--size", type=_parse_size, default=(320, 240))
    video.add_argument("--segments", type=int, default=12)
    video.add_argument("--frames", type=int, default=FRAMES, help="sampled frames per segment")
    video.add_argument("--stride", type=int, default=4, help="frame-stride of the classifier")
    score = sub.add_parser("score", help="compare a labellog JSON Lines file with a video's segments")
    score.add_argument("--video", required=True, help="the JSON written next to the video")
    score.add_argument("--log", required=True, help="JSON Lines written by labellog")
    score.add_argument("--fps-n", type=int, default=24)
    score.add_argument("--fps-d", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "clips":
        write_clips(args)
    elif args.command == "video":
        write_video(args)
    else:
        return score_log(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
