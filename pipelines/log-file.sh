#!/usr/bin/env bash
# Classifies a video file and writes one JSON line per clip result (JSON Lines).
#   pipelines/log-file.sh INPUT MODEL_DIR OUTPUT.jsonl [TIMESFORMER_PROPERTIES...]
# OUTPUT "-" writes to stdout. Uninstalled: GST_PLUGIN_PATH=<builddir>/gst.
set -eu
if [ $# -lt 3 ]; then
  echo "usage: $0 INPUT MODEL_DIR OUTPUT.jsonl [timesformer properties...]" >&2
  exit 2
fi
input=$1 model=$2 output=$3
shift 3
exec gst-launch-1.0 -q -e \
  filesrc location="$input" ! decodebin ! videoconvert \
  ! timesformer model="$model" "$@" \
  ! labellog location="$output" \
  ! fakesink
