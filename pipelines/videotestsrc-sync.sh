#!/usr/bin/env bash
# A live test picture classified with sync=true: each result is attached to the buffer that
# completes its clip, and the labels are printed in the terminal.
#
#   pipelines/videotestsrc-sync.sh [MODEL]
#
# MODEL defaults to $TSF_MODEL, else to the build's test model (random weights).
# Environment: BUILDDIR (default: build), FRAMES (default 240), FRAME_STRIDE (default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$root/build}
export GST_PLUGIN_PATH="$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

model=${1:-${TSF_MODEL:-$build/tests/models/divided}}

"$build/pipelines/print-labels" "videotestsrc is-live=true num-buffers=${FRAMES:-240} \
  pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 \
  ! timesformer model=\"$model\" sync=true frame-stride=${FRAME_STRIDE:-2} \
  ! fakesink name=sink sync=true"
