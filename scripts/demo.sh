#!/usr/bin/env bash
# The demo: installs the dependencies, builds, makes a sample video of moving shapes and
# classifies it with the shipped model (models/motion-shapes). No display needed.
#   scripts/demo.sh [OUTPUT_FOLDER]        (default: demo-output)
# Writes into OUTPUT_FOLDER:
#   sample.webm         the input: 18 one-second scenes of a shape moving, turning, growing...
#   annotated.webm      the same with the labels drawn by labeloverlay
#   labels.jsonl        one JSON line per clip, as labellog printed it on the terminal
#   contact-sheet.png   the last frame of every scene, annotated
# pipelines/demo-live.sh shows the same live where a display exists.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(realpath -m "${1:-demo-output}")
builddir=${BUILDDIR:-build}
python=/usr/bin/python3

scripts/install-deps.sh
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir"
fi
meson compile -C "$builddir"
export GST_PLUGIN_PATH="$root/$builddir/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

# The sample: 18 scenes of 24 frames at 24 fps. The classifier samples every 3rd frame
# (frame-stride=3), so each scene is one 8-frame clip of the model.
size=320x240 fps=24 stride=3
mkdir -p "$out"
raw="$out/.sample.rgb"
trap 'rm -f "$raw"' EXIT
echo "== demo: generating the sample video"
$python tools/make_motion_clips.py video --out "$raw" --seed 7 --size $size --segments 18 \
  --stride $stride
mv "$raw.json" "$out/sample.json"
gst-launch-1.0 -q filesrc location="$raw" \
  ! rawvideoparse format=rgb width=${size%x*} height=${size#*x} framerate=$fps/1 \
  ! videoconvert ! vp8enc deadline=1 target-bitrate=4000000 ! webmmux \
  ! filesink location="$out/sample.webm"
rm -f "$raw"

# The demo pipeline: timesformer without model= loads the shipped model; labellog prints one
# JSON line per clip; labeloverlay draws the labels, and the video is encoded again.
echo "== demo: classifying (labellog, one line per clip)"
gst-launch-1.0 -q -e filesrc location="$out/sample.webm" ! decodebin ! videoconvert \
  ! timesformer frame-stride=$stride sync=true top-k=3 \
  ! labellog stream-name=sample.webm \
  ! labeloverlay top-k=2 \
  ! videoconvert ! vp8enc deadline=1 target-bitrate=4000000 ! webmmux \
  ! filesink location="$out/annotated.webm" | tee "$out/labels.jsonl"

# The contact sheet: the annotated video decoded to raw RGB, the last frame of each scene kept.
gst-launch-1.0 -q filesrc location="$out/annotated.webm" ! decodebin ! videoconvert \
  ! video/x-raw,format=RGB ! fdsink fd=1 \
  | $python tools/contact_sheet.py --size $size --segments "$out/sample.json" --columns 6 \
      --out "$out/contact-sheet.png"

echo "== demo: $($python tools/make_motion_clips.py score --video "$out/sample.json" \
  --log "$out/labels.jsonl" --fps-n $fps)"
echo "== demo: written to $out"
ls -l "$out"
