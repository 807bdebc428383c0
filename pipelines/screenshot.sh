#!/usr/bin/env bash
# Writes one annotated frame as PNG: 48 frames of videotestsrc classified by timesformer and drawn
# by labeloverlay; the last frame is kept.
#   pipelines/screenshot.sh MODEL_DIR OUTPUT.png [WIDTHxHEIGHT [TIMESFORMER_PROPERTIES...]]
# docs/labeloverlay.png is made with the test model labels50:
#   GST_PLUGIN_PATH=build/gst pipelines/screenshot.sh build/tests/models/labels50 \
#     docs/labeloverlay.png 640x360 frame-stride=4
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 MODEL_DIR OUTPUT.png [WIDTHxHEIGHT [timesformer properties...]]" >&2
  exit 2
fi
model=$1 output=$2 size=${3:-640x360}
shift $(( $# < 3 ? $# : 3 ))
frames=$(mktemp -d)
trap 'rm -rf "$frames"' EXIT
gst-launch-1.0 -q \
  videotestsrc num-buffers=48 pattern=smpte \
  ! "video/x-raw,width=${size%x*},height=${size#*x},framerate=30/1" \
  ! timesformer model="$model" sync=true "$@" \
  ! labeloverlay top-k=3 \
  ! videoconvert ! pngenc ! multifilesink location="$frames/frame%04d.png"
cp "$(ls "$frames"/frame*.png | tail -n 1)" "$output"
