#!/usr/bin/env bash
# N non-live streams on one model through timesformer: aggregate clips per second and peak RSS
# of the process, for each way of running them, in one run (a benchmark, not a test: it prints a
# table for docs/performance.md and asserts nothing).
#
#   scripts/bench-streams.sh [-b BUILDDIR] [-m MODEL] [-c CLIPS] [-n "1 2 4 8"] [-w "separate shared"]
#
# Ways (-w):
#   separate   every element its own copy of the model, one session on all cores
#              (shared-model=false sessions=1: what each element did before the scheduler)
#   shared     one shared model and scheduler, default sessions
#   shared:S   the same with sessions=S
# MODEL: default a base-size model, 8 frames of 224x224, random weights
# (tools/configs/timesformer-base-k400.json), made once by tools/make_test_models.py into
# $BENCH_DIR (default /tmp/tsf-bench-streams). CLIPS: clips per stream (default 2).
# clips/s is counted from PLAYING to EOS (gst-launch-1.0's "Execution ended after"), so it leaves
# out the loads; peak RSS is the whole process's (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build
model=
clips=2
counts="1 2 4 8"
ways="separate shared"
while getopts "b:m:c:n:w:" opt; do
  case $opt in
    b) builddir=$OPTARG ;;
    m) model=$OPTARG ;;
    c) clips=$OPTARG ;;
    n) counts=$OPTARG ;;
    w) ways=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done

if [ -z "$model" ]; then
  model=${BENCH_DIR:-/tmp/tsf-bench-streams}/base-k400
  if [ ! -f "$model/model.safetensors" ]; then
    echo "making $model (486 MB of random weights)" >&2
    /usr/bin/python3 tools/make_test_models.py --config tools/configs/timesformer-base-k400.json \
      --out "$model" --seed 1 >&2
  fi
fi

export GST_PLUGIN_PATH=$PWD/$builddir/gst
frames=$((clips * 8))

# The properties of one element for a way.
way_properties() {
  case $1 in
    separate) echo "shared-model=false sessions=1" ;;
    shared) echo "" ;;
    shared:*) echo "sessions=${1#shared:}" ;;
    *) echo "unknown way '$1'" >&2; exit 2 ;;
  esac
}

# Seconds from PLAYING to EOS and peak RSS in MB of one pipeline of $1 streams, way $2.
run_once() {
  local n=$1 properties pipeline="" i out rss_kb
  properties=$(way_properties "$2")
  for i in $(seq "$n"); do
    pipeline+=" videotestsrc num-buffers=$frames pattern=$((i % 20)) ! video/x-raw,width=224,height=224"
    pipeline+=" ! timesformer model=$model frame-stride=1 num-frames=8 $properties ! fakesink"
  done
  out=$(/usr/bin/time -f 'rss_kb=%M' gst-launch-1.0 $pipeline 2>&1)
  rss_kb=$(sed -n 's/^rss_kb=//p' <<<"$out")
  sed -n 's/^Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' <<<"$out" \
    | awk -v rss="$rss_kb" '{ printf "%.2f %d\n", $1 * 3600 + $2 * 60 + $3, rss / 1024 }'
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $model; $clips clips of 8 frames per stream, not live"
echo
echo "| streams | way | seconds | clips/s | clips/s vs separate | peak RSS MB |"
echo "|---|---|---|---|---|---|"
for n in $counts; do
  separate_rate=
  for way in $ways; do
    read -r seconds rss < <(run_once "$n" "$way")
    rate=$(awk -v c=$((n * clips)) -v s="$seconds" 'BEGIN { printf "%.3f", c / s }')
    ratio=
    if [ "$way" = separate ]; then
      separate_rate=$rate
    elif [ -n "$separate_rate" ]; then
      ratio=$(awk -v a="$rate" -v b="$separate_rate" 'BEGIN { printf "%.2fx", a / b }')
    fi
    echo "| $n | $way | $seconds | $rate | $ratio | $rss |"
  done
done
