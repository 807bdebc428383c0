#!/usr/bin/env bash
# Batching (docs/performance.md, "Batching"): what one engine run over B clips costs per clip
# against one clip per run, on the shipped small model and on the base 8x224 config, per thread
# count of a session (a benchmark, not a test: it prints figures and asserts nothing).
#
#   scripts/bench-batch.sh [-b BUILDDIR] [-t "1 2"] [-n ITERATIONS] [-p "engine streams files"]
#        [-s STREAM_COUNTS]
#
# engine: each model's batch sizes are timed in alternation in one process (timesformer-cli
# bench --batch), next to oneDNN's matmul peak on the model's linear-layer shapes at B times the
# rows. streams: how many live 30 fps streams of the shipped model one process keeps up with,
# max-batch=1 against 4 (scripts/bench-live-streams.py; STREAM_COUNTS comma-separated).
# files: 8 non-live streams of the shipped model (900 frames each, a clip every frame), seconds
# from PLAYING to EOS, max-batch=1 and 4 in turn, 3 rounds.
# Run it under flock /tmp/tsf-bench.lock on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build
thread_counts="1 2"
iterations=20
parts="engine streams files"
stream_counts=24,28,32,36,40
while getopts "b:t:n:p:s:" opt; do
  case $opt in
    b) builddir=$OPTARG ;;
    t) thread_counts=$OPTARG ;;
    n) iterations=$OPTARG ;;
    p) parts=$OPTARG ;;
    s) stream_counts=$OPTARG ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
cli=$builddir/engine/cli/timesformer-cli

date -u '+%Y-%m-%d %H:%M UTC'
lscpu | grep 'Model name'
uptime
# Three divided configs between the shipped model (0.04 GFLOP a clip) and the base (~200):
# hidden 64, 128 and 256, 4 layers, 8 frames of 64x64, patch 8 (0.35, 1.25 and 4.8 GFLOP).
configs=$(mktemp -d)
trap 'rm -rf "$configs"' EXIT
shape='"image_size": 64, "patch_size": 8, "num_frames": 8, "num_hidden_layers": 4'
for hidden in 64 128 256; do
  printf '{%s, "hidden_size": %d, "num_attention_heads": 4, "intermediate_size": %d}\n' \
    "$shape" "$hidden" "$((4 * hidden))" > "$configs/hidden$hidden.json"
done

for threads in $thread_counts; do
  [[ " $parts " == *" engine "* ]] || break
  echo
  echo "== shipped small model (models/motion-shapes), session of $threads thread(s)"
  "$cli" bench --model models/motion-shapes --batch 1,2,4,8,16 -n "$iterations" -t "$threads"
  for hidden in 64 128 256; do
    echo
    echo "== divided, hidden $hidden, 4 layers, 8x64x64 patch 8 (random weights)," \
      "$threads thread(s)"
    "$cli" bench --config "$configs/hidden$hidden.json" --batch 1,2,4,8 -n "$iterations" \
      -t "$threads"
  done
  echo
  echo "== base 8x224 (tools/configs/timesformer-base-k400.json, random weights)," \
    "$threads thread(s)"
  "$cli" bench --config tools/configs/timesformer-base-k400.json --batch 1,2,4 \
    -n "$(( (iterations + 9) / 10 ))" -t "$threads"
done
if [[ " $parts " == *" streams "* ]]; then
  echo
  echo "== live 30 fps streams of the shipped model, one shared model (default sessions, threads)"
  /usr/bin/python3 scripts/bench-live-streams.py --build "$builddir" --streams "$stream_counts" \
    --max-batch 1,4 --rounds 2
fi
if [[ " $parts " == *" files "* ]]; then
  echo
  echo "== 8 non-live streams of the shipped model, 900 frames each, a clip every frame"
  export GST_PLUGIN_PATH=$PWD/$builddir/gst
  for round in 1 2 3; do
    for batch in 1 4; do
      branches=""
      for i in 1 2 3 4 5 6 7 8; do
        branches+=" videotestsrc num-buffers=900 pattern=ball ! video/x-raw,width=32,height=32"
        branches+=" ! timesformer sampling=frames frame-stride=1 clip-hop=1 max-pending=4"
        branches+=" max-batch=$batch ! fakesink"
      done
      # shellcheck disable=SC2086
      ended=$(gst-launch-1.0 $branches 2>&1 | sed -n 's/.*Execution ended after //p')
      echo "round $round max-batch=$batch: $ended (h:mm:ss)"
    done
  done
fi
echo
uptime
