#!/usr/bin/python3
"""Test clips of the shipped model's nine motions, drawn by code independent of its training data.

tools/make_motion_clips.py renders the training clips with numpy signed distances. This renderer
shares no code with it: it draws with PIL's ImageDraw at four times the frame size and scales
down with a box filter (anti-aliased edges), on backgrounds of its own (linear and radial
gradients, smooth and fine noise, stripes, checks), from Python's `random` module. It follows the
class definitions of models/motion-shapes/README.md and docs/shipped-model.md:

    moving left/right/up/down   a shape of circumradius 13-24% of the centre square's side S
                                travels 22-50% of S along the axis over the clip
    rotating (counter)clockwise a shape of circumradius 22-36% of S turns 120-210 degrees
                                (clockwise as seen on screen)
    growing / shrinking         the circumradius changes 1.6-2.4 times
    standing still              a shape of circumradius 22-36% of S does not move

The shape is a disc, a square or a triangle, with or without a marker dot of a contrasting
colour; a disc without a marker shows no rotation, so rotating discs always carry one. The
shape's centre is anywhere in the centre square (side min(W, H)) that keeps it inside.

    render_motion_test_clips.py --out DIR --seed S --clips-per-class N --sizes 100x75,72x120

writes DIR/clip-NNNN.rgb (frames x H x W x 3 bytes) and DIR/manifest.json, the layout that
tests/gst/test_motion_shapes.c reads.

    render_motion_test_clips.py videos --out DIR --seed S --seconds 2.4 --fps 15,30,60 --size 80x60

writes one scene per class, continuous over the whole duration, each at every frame rate:
DIR/video-<class>-<fps>.rgb and DIR/manifest.json ({"clip_seconds", "videos": [{"file", "label",
"fps", "frames", "width", "height"}]}); the motion goes on at the documented rate per clip span
(CLIP_SECONDS: the model's 8 frames 1/8 s apart), so any window of that span through the video
shows one training-like motion. Read by tests/gst/test_out_of_box.c.
Run with Debian's python3-pil (/usr/bin/python3).
"""

import argparse
import colorsys
import json
import math
import os
import random
import re
import sys

from PIL import Image, ImageChops, ImageDraw

# The classes of models/motion-shapes/config.json, and the class a clip becomes played backwards.
CLASSES = ("moving left", "moving right", "moving up", "moving down", "rotating clockwise",
           "rotating counterclockwise", "growing", "shrinking", "standing still")
OPPOSITE = {"moving left": "moving right", "moving right": "moving left",
            "moving up": "moving down", "moving down": "moving up",
            "rotating clockwise": "rotating counterclockwise",
            "rotating counterclockwise": "rotating clockwise",
            "growing": "shrinking", "shrinking": "growing", "standing still": "standing still"}

FRAMES = 8
SUPERSAMPLE = 4
SHAPES = ("disc", "square", "triangle")
BACKGROUNDS = ("linear gradient", "radial gradient", "smooth noise", "fine noise", "stripes",
               "checks")

# The documented ranges, as fractions of the centre square's side.
MOVING_SIZE = (0.13, 0.24)
LARGE_SIZE = (0.22, 0.36)          # rotating and standing still
TRAVEL = (0.22, 0.50)
TURN_DEGREES = (120.0, 210.0)
SIZE_RATIO = (1.6, 2.4)
GROWING_START = (0.11, 0.18)
MAX_SIZE = 0.42


class Motion:
    """Where the shape is at time t in [0, 1]: centre (x, y) and circumradius in pixels of the
    centre square, and its orientation in radians (y points down: a growing angle is clockwise)."""

    def __init__(self, centre0, centre1, size0, size1, angle0, angle1):
        self.centre0, self.centre1 = centre0, centre1
        self.size0, self.size1 = size0, size1
        self.angle0, self.angle1 = angle0, angle1

    def at(self, t):
        x = self.centre0[0] + (self.centre1[0] - self.centre0[0]) * t
        y = self.centre0[1] + (self.centre1[1] - self.centre0[1]) * t
        return (x, y), self.size0 + (self.size1 - self.size0) * t, \
            self.angle0 + (self.angle1 - self.angle0) * t


def _place(rnd, reach, side):
    """A centre coordinate that keeps a shape of circumradius `reach` inside [0, side]."""
    return rnd.uniform(reach + 1.0, side - reach - 1.0)


def choose_motion(rnd, label, side):
    angle = rnd.uniform(0.0, 2 * math.pi)
    if label.startswith("moving"):
        size = rnd.uniform(*MOVING_SIZE) * side
        travel = rnd.uniform(*TRAVEL) * side
        room = side - 2 * (size + 1.0)
        travel = min(travel, room)
        along0 = (size + 1.0) + rnd.uniform(0.0, room - travel)
        along = (along0, along0 + travel)
        if label in ("moving left", "moving up"):
            along = along[::-1]
        across = _place(rnd, size, side)
        if label in ("moving left", "moving right"):
            return Motion((along[0], across), (along[1], across), size, size, angle, angle)
        return Motion((across, along[0]), (across, along[1]), size, size, angle, angle)
    if label in ("growing", "shrinking"):
        small = rnd.uniform(*GROWING_START) * side
        large = min(small * rnd.uniform(*SIZE_RATIO), MAX_SIZE * side)
        centre = (_place(rnd, large, side), _place(rnd, large, side))
        sizes = (small, large) if label == "growing" else (large, small)
        return Motion(centre, centre, sizes[0], sizes[1], angle, angle)
    size, centre, turn = _turning(rnd, label, side)
    return Motion(centre, centre, size, size, angle, angle + turn)


def _turning(rnd, label, side):
    """Size, centre and turn (radians, clockwise > 0) of a rotating or still shape."""
    size = rnd.uniform(*LARGE_SIZE) * side
    centre = (_place(rnd, size, side), _place(rnd, size, side))
    turn = 0.0
    if label.startswith("rotating"):
        turn = math.radians(rnd.uniform(*TURN_DEGREES))
        turn = turn if label == "rotating clockwise" else -turn
    return size, centre, turn


# ---------------------------------------------------------------------------------------------
# Colours and backgrounds (PIL images of the supersampled frame size).


def _random_rgb(rnd):
    hue, lightness, saturation = rnd.random(), rnd.uniform(0.1, 0.9), rnd.uniform(0.0, 1.0)
    return tuple(int(255 * c) for c in colorsys.hls_to_rgb(hue, lightness, saturation))


def _luma(rgb):
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _far_colour(rnd, against, min_distance=90.0):
    """A random colour whose luma differs from `against`'s by min_distance or more."""
    for _ in range(200):
        colour = _random_rgb(rnd)
        if abs(_luma(colour) - _luma(against)) >= min_distance:
            return colour
    return (0, 0, 0) if _luma(against) > 127 else (255, 255, 255)


def _blend(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def make_background(rnd, kind, width, height):
    """The background image and its mean colour."""
    first = _random_rgb(rnd)
    second = _blend(first, _random_rgb(rnd), rnd.uniform(0.3, 0.8))
    if kind == "linear gradient":
        ramp = Image.linear_gradient("L").rotate(rnd.uniform(0, 360), resample=Image.BILINEAR,
                                                 expand=False, fillcolor=128)
        mask = ramp.resize((width, height), Image.BILINEAR)
    elif kind == "radial gradient":
        mask = Image.radial_gradient("L").resize((width, height), Image.BILINEAR)
    elif kind in ("smooth noise", "fine noise"):
        cells = rnd.randint(3, 8) if kind == "smooth noise" else max(width, height) // SUPERSAMPLE
        mask = Image.new("L", (cells, cells))
        mask.putdata([rnd.randint(0, 255) for _ in range(cells * cells)])
        mask = mask.resize((width, height), Image.BICUBIC if kind == "smooth noise" else Image.NEAREST)
    else:
        mask = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask)
        period = rnd.uniform(0.08, 0.3) * min(width, height)
        if kind == "stripes":
            tilt = rnd.uniform(0, math.pi)
            reach = width + height
            cx, cy = width / 2, height / 2
            ux, uy = math.cos(tilt), math.sin(tilt)
            k = -reach / period
            while k * period < reach:
                a, b = k * period, (k + 0.5) * period
                draw.polygon([(cx + ux * a - uy * reach, cy + uy * a + ux * reach),
                              (cx + ux * b - uy * reach, cy + uy * b + ux * reach),
                              (cx + ux * b + uy * reach, cy + uy * b - ux * reach),
                              (cx + ux * a + uy * reach, cy + uy * a - ux * reach)], fill=255)
                k += 1
        else:
            step = int(period)
            for y in range(0, height, step):
                for x in range(0, width, step):
                    if (x // step + y // step) % 2 == 0:
                        draw.rectangle([x, y, x + step - 1, y + step - 1], fill=255)
    background = Image.composite(Image.new("RGB", (width, height), second),
                                 Image.new("RGB", (width, height), first), mask)
    mean = tuple(sum(c * n for n, c in enumerate(band.histogram())) / (width * height)
                 for band in background.split())
    return background, mean


# ---------------------------------------------------------------------------------------------
# Shapes.


def _rotated(points, centre, angle):
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    return [(centre[0] + x * cos_a - y * sin_a, centre[1] + x * sin_a + y * cos_a) for x, y in points]


def _outline(shape, size):
    """The shape's polygon (or None for a disc) around (0, 0) at angle 0, circumradius `size`."""
    if shape == "square":
        return [(size * math.cos(a), size * math.sin(a))
                for a in (math.pi / 4 + k * math.pi / 2 for k in range(4))]
    if shape == "triangle":
        return [(size * math.cos(a), size * math.sin(a)) for a in (k * 2 * math.pi / 3 for k in range(3))]
    return None


def draw_shape(draw, look, centre, size, angle):
    outline = _outline(look["shape"], size)
    if outline is None:
        x, y = centre
        draw.ellipse([x - size, y - size, x + size, y + size], fill=look["colour"])
    else:
        draw.polygon(_rotated(outline, centre, angle), fill=look["colour"])
    if look["marker"]:
        offset, radius = look["marker_offset"] * size, look["marker_size"] * size
        (mx, my), = _rotated([(offset, 0.0)], centre, angle + look["marker_angle"])
        draw.ellipse([mx - radius, my - radius, mx + radius, my + radius], fill=look["marker_colour"])


def choose_look(rnd, label, background_mean):
    shape = rnd.choice(SHAPES)
    marker = rnd.random() < 0.5
    if label.startswith("rotating") and shape == "disc":
        marker = True                                   # a plain disc shows no rotation
    colour = _far_colour(rnd, background_mean)
    # The marker sits towards a corner of the square, a vertex of the triangle, or anywhere
    # off a disc's centre.
    marker_angle = {"square": math.pi / 4, "triangle": 0.0}.get(shape, rnd.uniform(0, 2 * math.pi))
    return {"shape": shape, "colour": colour, "marker": marker,
            "marker_colour": _far_colour(rnd, colour), "marker_angle": marker_angle,
            "marker_offset": rnd.uniform(0.4, 0.55), "marker_size": rnd.uniform(0.2, 0.3)}


# ---------------------------------------------------------------------------------------------
# Clips.


def render_clip(rnd, label, width, height, frames=FRAMES):
    """One clip: bytes of frames x height x width x 3 RGB, and what it shows."""
    big_w, big_h = width * SUPERSAMPLE, height * SUPERSAMPLE
    kind = rnd.choice(BACKGROUNDS)
    background, mean = make_background(rnd, kind, big_w, big_h)
    side = min(big_w, big_h)
    left, top = (big_w - side) / 2, (big_h - side) / 2
    motion = choose_motion(rnd, label, side)
    look = choose_look(rnd, label, mean)
    grain = rnd.uniform(0.0, 6.0)
    data = bytearray()
    for i in range(frames):
        centre, size, angle = motion.at(i / (frames - 1))
        frame = background.copy()
        draw_shape(ImageDraw.Draw(frame), look, (left + centre[0], top + centre[1]), size, angle)
        frame = frame.resize((width, height), Image.BOX)
        if grain > 0:
            frame = _add_grain(rnd, frame, grain)
        data += frame.tobytes()
    return bytes(data), {"shape": look["shape"], "marker": look["marker"], "background": kind}


def _add_grain(rnd, frame, sigma):
    """Uniform sensor noise of standard deviation sigma (0-255 units) on every channel, from rnd
    (PIL's own effect_noise is not seeded)."""
    half_width = sigma * math.sqrt(3.0)
    table = [int(round(128 + (v - 127.5) / 127.5 * half_width)) for v in range(256)] * 3
    noise = Image.frombytes("RGB", frame.size, rnd.randbytes(frame.size[0] * frame.size[1] * 3))
    return ImageChops.add(frame, noise.point(table), 1.0, -128)


def write_clips(out, seed, per_class, sizes, frames=FRAMES):
    """per_class clips of every class, class by class in turn, each at the next size in turn."""
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(seed)
    entries = []
    for n in range(per_class * len(CLASSES)):
        label = CLASSES[n % len(CLASSES)]
        width, height = sizes[n % len(sizes)]
        data, shown = render_clip(rnd, label, width, height, frames)
        name = f"clip-{n:04d}.rgb"
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        entries.append({"file": name, "width": width, "height": height, "frames": frames,
                        "label_id": CLASSES.index(label), "label": label,
                        "reversed_label": OPPOSITE[label], **shown})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"seed": seed, "format": "RGB", "renderer": "render_motion_test_clips.py",
                   "labels": list(CLASSES), "clips": entries}, f, indent=1)
        f.write("\n")
    return entries


# ---------------------------------------------------------------------------------------------
# Videos: one motion going on for seconds (the shipped model's sampling: 8 frames 1/8 s apart).

CLIP_SECONDS = 7 / 8.0               # from a clip's first sampled frame to its last


class VideoMotion:
    """Where the shape is after u clip spans: centre, circumradius (growing by `ratio` per
    span: the same ratio in any window), orientation."""

    def __init__(self, centre, velocity, size, ratio, angle, spin):
        self.centre, self.velocity = centre, velocity
        self.size, self.ratio, self.angle, self.spin = size, ratio, angle, spin

    def at(self, u):
        return ((self.centre[0] + self.velocity[0] * u, self.centre[1] + self.velocity[1] * u),
                self.size * self.ratio ** u, self.angle + self.spin * u)


def choose_video_motion(rnd, label, side, spans):
    """A motion at the documented rate per span that stays in the square for `spans` spans."""
    angle = rnd.uniform(0.0, 2 * math.pi)
    if label.startswith("moving"):
        size = rnd.uniform(MOVING_SIZE[0], 0.16) * side
        room = side - 2 * (size + 1.0)
        travel = min(rnd.uniform(TRAVEL[0], 0.26) * side, room / spans)
        start = size + 1.0 + rnd.uniform(0.0, room - travel * spans)
        if label in ("moving left", "moving up"):
            start, travel = side - start, -travel
        across = _place(rnd, size, side)
        horizontal = label in ("moving left", "moving right")
        centre = (start, across) if horizontal else (across, start)
        velocity = (travel, 0.0) if horizontal else (0.0, travel)
        return VideoMotion(centre, velocity, size, 1.0, angle, 0.0)
    if label in ("growing", "shrinking"):
        small = rnd.uniform(0.09, 0.11) * side
        ratio = min(rnd.uniform(SIZE_RATIO[0], 1.7), (MAX_SIZE * side / small) ** (1.0 / spans))
        large = small * ratio ** spans
        centre = (_place(rnd, large, side), _place(rnd, large, side))
        if label == "growing":
            return VideoMotion(centre, (0.0, 0.0), small, ratio, angle, 0.0)
        return VideoMotion(centre, (0.0, 0.0), large, 1.0 / ratio, angle, 0.0)
    size, centre, spin = _turning(rnd, label, side)
    return VideoMotion(centre, (0.0, 0.0), size, 1.0, angle, spin)


def render_video(rnd, label, width, height, seconds, rates):
    """One scene of `label` lasting `seconds`, rendered at each frame rate of `rates`: a dict
    fps -> bytes of frames x height x width x 3 RGB."""
    big_w, big_h = width * SUPERSAMPLE, height * SUPERSAMPLE
    background, mean = make_background(rnd, rnd.choice(BACKGROUNDS), big_w, big_h)
    side = min(big_w, big_h)
    left, top = (big_w - side) / 2, (big_h - side) / 2
    motion = choose_video_motion(rnd, label, side, seconds / CLIP_SECONDS)
    look = choose_look(rnd, label, mean)
    grain = rnd.uniform(0.0, 4.0)
    videos = {}
    for fps in rates:
        data = bytearray()
        for i in range(int(round(seconds * fps))):
            centre, size, angle = motion.at(i / fps / CLIP_SECONDS)
            frame = background.copy()
            draw_shape(ImageDraw.Draw(frame), look, (left + centre[0], top + centre[1]), size,
                       angle)
            frame = frame.resize((width, height), Image.BOX)
            data += (_add_grain(rnd, frame, grain) if grain > 0 else frame).tobytes()
        videos[fps] = bytes(data)
    return videos


def write_videos(out, seed, seconds, rates, size):
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(seed)
    entries = []
    for label in CLASSES:
        for fps, data in render_video(rnd, label, size[0], size[1], seconds, rates).items():
            name = f"video-{label.replace(' ', '-')}-{fps}.rgb"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            entries.append({"file": name, "label": label, "fps": fps,
                            "frames": len(data) // (size[0] * size[1] * 3),
                            "width": size[0], "height": size[1]})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"seed": seed, "format": "RGB", "renderer": "render_motion_test_clips.py",
                   "clip_seconds": CLIP_SECONDS, "videos": entries}, f, indent=1)
        f.write("\n")
    return entries


def _parse_sizes(text):
    """"100x75,72x120" -> [(100, 75), (72, 120)]; each side at least 16."""
    matches = [re.fullmatch(r"(\d+)x(\d+)", item.strip().lower()) for item in text.split(",")]
    if not all(matches) or any(int(n) < 16 for m in matches for n in m.groups()):
        raise argparse.ArgumentTypeError(f"sizes {text!r}: WIDTHxHEIGHT[,...], sides >= 16")
    return [(int(m.group(1)), int(m.group(2))) for m in matches]


def videos_main(argv):
    parser = argparse.ArgumentParser(description="Videos of one continuous motion per class.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=2.4)
    parser.add_argument("--fps", default="30", help="frame rates, comma-separated")
    parser.add_argument("--size", type=_parse_sizes, default=[(80, 60)])
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.fps.split(",")]
    entries = write_videos(args.out, args.seed, args.seconds, rates, args.size[0])
    print(f"render_motion_test_clips: {len(entries)} videos in {args.out}", file=sys.stderr)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["videos"]:
        return videos_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the clips and manifest.json")
    parser.add_argument("--seed", type=int, required=True, help="seed of Python's random")
    parser.add_argument("--clips-per-class", type=int, default=24)
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per clip")
    parser.add_argument("--sizes", type=_parse_sizes, default=[(100, 75)],
                        help="frame sizes WIDTHxHEIGHT, comma-separated, one clip each in turn")
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error("--frames: at least 2")
    entries = write_clips(args.out, args.seed, args.clips_per_class, args.sizes, args.frames)
    print(f"render_motion_test_clips: {len(entries)} clips in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
