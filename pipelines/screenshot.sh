#!/bin/sh
# Writes one annotated frame as PNG: videotestsrc classified by timesformer, drawn by labeloverlay.
#   pipelines/screenshot.sh MODEL_DIR OUTPUT.png [WIDTHxHEIGHT]
# docs/labeloverlay.png is made with the test model labels50:
#   GST_PLUGIN_PATH=build/gst pipelines/screenshot.sh build/tests/models/labels50 docs/labeloverlay.png
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 MODEL_DIR OUTPUT.png [WIDTHxHEIGHT]" >&2
  exit 2
fi
model=$1 output=$2 size=${3:-640x360}
frames=$(mktemp -d)
trap 'rm -rf "$frames"' EXIT
gst-launch-1.0 -q \
  videotestsrc num-buffers=48 pattern=smpte \
  ! "video/x-raw,width=${size%x*},height=${size#*x},framerate=30/1" \
  ! timesformer model="$model" sync=true \
  ! labeloverlay top-k=3 \
  ! videoconvert ! pngenc ! multifilesink location="$frames/frame%04d.png"
cp "$(ls "$frames"/frame*.png | tail -n 1)" "$output"
