#!/usr/bin/env bash
# Classifies a video file and prints the labels of every clip in the terminal.
#
#   pipelines/classify-file.sh [FILE [MODEL]]
#
# Without FILE, first encodes a demo file (videotestsrc, Theora in Ogg). MODEL defaults to
# $TSF_MODEL, else to the build's test model (random weights: its labels mean nothing).
# Environment: BUILDDIR (default: build), FRAME_STRIDE (default 8), DEMO_FRAMES (default 300).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$root/build}
export GST_PLUGIN_PATH="$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

file=${1:-}
model=${2:-${TSF_MODEL:-$build/tests/models/divided}}

if [ -z "$file" ]; then
  file=$(mktemp --suffix=.ogg)
  trap 'rm -f "$file"' EXIT
  gst-launch-1.0 -q videotestsrc num-buffers="${DEMO_FRAMES:-300}" pattern=ball \
    ! video/x-raw,width=320,height=240,framerate=30/1 ! theoraenc ! oggmux \
    ! filesink location="$file"
fi

"$build/pipelines/print-labels" "filesrc location=\"$file\" ! decodebin ! videoconvert \
  ! timesformer model=\"$model\" frame-stride=${FRAME_STRIDE:-8} ! fakesink name=sink"
