#!/bin/sh
# The demo on screen: plays the sample video of scripts/demo.sh with the shipped model's labels
# drawn on it, and prints one JSON line per clip. Needs a display (autovideosink).
#   pipelines/demo-live.sh [VIDEO]        (default: demo-output/sample.webm; run scripts/demo.sh first)
# Uninstalled: GST_PLUGIN_PATH=<builddir>/gst (set here when build/ exists).
set -eu
cd "$(dirname "$0")/.."
video=${1:-demo-output/sample.webm}
if [ ! -f "$video" ]; then
  echo "$0: $video not found: run scripts/demo.sh first, or pass a video" >&2
  exit 2
fi
if [ -d "${BUILDDIR:-build}/gst" ]; then
  GST_PLUGIN_PATH="$(pwd)/${BUILDDIR:-build}/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
  export GST_PLUGIN_PATH
fi
# The sample is 24 fps with one motion per second: every 3rd frame, 8 frames per clip.
exec gst-launch-1.0 -q filesrc location="$video" ! decodebin ! videoconvert \
  ! timesformer frame-stride=3 \
  ! labellog \
  ! labeloverlay top-k=2 \
  ! videoconvert ! autovideosink
