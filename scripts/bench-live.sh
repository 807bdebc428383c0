#!/usr/bin/env bash
# Live streams through timesformer elements sharing one model: per stream its share of the
# results, its dropped clips, and its latency over time (the clip's last frame to its result,
# and GStreamer's latency tracer on its buffers), in one run (a benchmark: it prints tables for
# docs/performance.md and asserts nothing; tools/bench_live.py does the pipeline).
#
#   scripts/bench-live.sh [-b BUILDDIR] [-m MODEL] [-n "4"] [-t SECONDS] [-s WxH] [-f FPS]
#                         [-p "timesformer properties"] [-x "more properties"]
#
# MODEL: default an overload model, slower than real time for a few 30 fps streams: 224x224,
# 8 frames, hidden 384, 6 layers, random weights, made once by tools/make_test_models.py into
# $BENCH_DIR (default /tmp/tsf-bench-streams); `shipped` is models/motion-shapes.
# -n: stream counts, one run each (default 4). -t: seconds per run (default 40), the latencies
# reported per 10 s window.
# -p: the elements' properties (default "frame-stride=1 num-frames=8": a clip every 8 frames).
# -b: a build folder, relative to the worktree or absolute (another branch's build, e.g. a copy of
#     its build/gst in /tmp/X/gst: -b /tmp/X).
# -x: more properties for every element: with the scheduler's batching (`max-batch`, default 4
#     for small clips), -x "max-batch=1" runs without it, -x "max-batch=8" with bigger batches;
#     the clips run in batches are printed after model-info when the element counts them.
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build
model=
counts=4
seconds=40
size=224x224
fps=30
props="frame-stride=1 num-frames=8"
extra=
while getopts "b:m:n:t:s:f:p:x:" opt; do
  case $opt in
    b) builddir=$OPTARG ;;
    m) model=$OPTARG ;;
    n) counts=$OPTARG ;;
    t) seconds=$OPTARG ;;
    s) size=$OPTARG ;;
    f) fps=$OPTARG ;;
    p) props=$OPTARG ;;
    x) extra=$OPTARG ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done

bench_dir=${BENCH_DIR:-/tmp/tsf-bench-streams}
if [ "$model" = shipped ]; then
  model=$PWD/models/motion-shapes
elif [ -z "$model" ]; then
  model=$bench_dir/overload-224
  if [ ! -f "$model/model.safetensors" ]; then
    mkdir -p "$bench_dir"
    echo '{"image_size": 224, "patch_size": 16, "num_frames": 8, "hidden_size": 384,
      "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1536,
      "num_labels": 400}' > "$bench_dir/overload-224.json"
    echo "making $model" >&2
    /usr/bin/python3 tools/make_test_models.py --config "$bench_dir/overload-224.json" \
      --out "$model" --seed 1 >&2
  fi
fi

case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
export GST_PLUGIN_PATH=$builddir/gst
export GST_TRACERS=latency GST_DEBUG=GST_TRACER:7
log=$(mktemp /tmp/tsf-bench-live.XXXXXX.log)
trap 'rm -f "$log"' EXIT

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $model"
for n in $counts; do
  echo
  echo "### $n streams (from $(date -u '+%H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  : > "$log"
  GST_DEBUG_FILE=$log /usr/bin/python3 tools/bench_live.py --model "$model" --streams "$n" \
    --seconds "$seconds" --size "$size" --fps "$fps" --props "$props $extra" --tracer-log "$log" \
    --windows $((seconds >= 20 ? seconds / 10 : 2))
done
echo
echo "ended $(date -u '+%H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
