#!/usr/bin/env bash
# Classifies a video file and writes it again with the labels drawn on it (WebM, VP8).
#   pipelines/annotate-file.sh INPUT MODEL_DIR OUTPUT.webm [TIMESFORMER_PROPERTIES...]
# e.g. pipelines/annotate-file.sh walk.mp4 models/timesformer-base-k400 walk-labels.webm frame-stride=4
# Uninstalled: GST_PLUGIN_PATH=<builddir>/gst.
set -eu
if [ $# -lt 3 ]; then
  echo "usage: $0 INPUT MODEL_DIR OUTPUT.webm [timesformer properties...]" >&2
  exit 2
fi
input=$1 model=$2 output=$3
shift 3
# sync=true: every frame is written after its clip's result, so the labels line up with the video.
exec gst-launch-1.0 -q -e \
  filesrc location="$input" ! decodebin ! videoconvert \
  ! timesformer model="$model" sync=true "$@" \
  ! labeloverlay \
  ! videoconvert ! vp8enc deadline=1 ! webmmux ! filesink location="$output"
