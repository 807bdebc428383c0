#!/usr/bin/python3
"""A contact sheet: chosen frames of a raw RGB video tiled into one PNG.

    contact_sheet.py --size 320x240 --frames 23,47,71 --columns 4 --out sheet.png < video.rgb
    contact_sheet.py --size 320x240 --segments sample.rgb.json --out sheet.png < video.rgb

--segments takes the JSON written by make_motion_clips.py video and picks the last frame of every
segment (where the result of the segment's clip is on screen). The PNG is written with zlib
alone (no imaging library). Run with Debian's numpy (/usr/bin/python3).
"""

import argparse
import json
import struct
import sys
import zlib

import numpy as np


def write_png(path, image):
    """image: uint8 (H, W, 3) RGB."""
    height, width, _ = image.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", header))
        f.write(chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)))
        f.write(chunk(b"IEND", b""))


def tile(frames, columns, gap=4):
    """Frames (N, H, W, 3) into a grid with a dark gap between them."""
    count, height, width, _ = frames.shape
    rows = (count + columns - 1) // columns
    sheet = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), 24, np.uint8)
    for i, frame in enumerate(frames):
        y, x = gap + (i // columns) * (height + gap), gap + (i % columns) * (width + gap)
        sheet[y:y + height, x:x + width] = frame
    return sheet


def read_frames(stream, width, height, wanted):
    """The frames whose indices are in `wanted`, read from a raw RGB stream in one pass."""
    size = width * height * 3
    picked, index, last = {}, 0, max(wanted)
    while index <= last:
        data = stream.read(size)
        if len(data) < size:
            break
        if index in wanted:
            picked[index] = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        index += 1
    return [picked[i] for i in sorted(picked)]


def segment_ends(path):
    with open(path) as f:
        segments = json.load(f)["segments"]
    ends, total = [], 0
    for segment in segments:
        total += segment["frames"]
        ends.append(total - 1)
    return ends


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", required=True, help="WIDTHxHEIGHT of the raw RGB frames")
    parser.add_argument("--frames", help="comma-separated frame indices")
    parser.add_argument("--segments", help="JSON of make_motion_clips.py video: last frame of each segment")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("input", nargs="?", help="raw RGB video (default: standard input)")
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    if args.segments:
        wanted = segment_ends(args.segments)
    elif args.frames:
        wanted = [int(x) for x in args.frames.split(",")]
    else:
        parser.error("give --frames or --segments")
    stream = open(args.input, "rb") if args.input else sys.stdin.buffer
    frames = read_frames(stream, width, height, set(wanted))
    if not frames:
        sys.exit(f"contact_sheet: no frame read from {args.input or 'standard input'} "
                 f"(expected raw RGB {width}x{height})")
    write_png(args.out, tile(np.stack(frames), args.columns))
    print(f"contact_sheet: {len(frames)} frames into {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
