#!/usr/bin/env bash
# Batching (docs/performance.md, "Batching"): what one engine run over B clips costs per clip
# against one clip per run, on the shipped small model and on the base 8x224 config, per thread
# count of a session (a benchmark, not a test: it prints figures and asserts nothing).
#
#   scripts/bench-batch.sh [-b BUILDDIR] [-t "1 2"] [-n ITERATIONS]
#
# Each model's batch sizes are timed in alternation in one process (timesformer-cli bench
# --batch), next to oneDNN's matmul peak on the model's linear-layer shapes at B times the rows.
# Run it under flock /tmp/tsf-bench.lock on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build
thread_counts="1 2"
iterations=20
while getopts "b:t:n:" opt; do
  case $opt in
    b) builddir=$OPTARG ;;
    t) thread_counts=$OPTARG ;;
    n) iterations=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
cli=$builddir/engine/cli/timesformer-cli

date -u '+%Y-%m-%d %H:%M UTC'
lscpu | grep 'Model name'
uptime
for threads in $thread_counts; do
  echo
  echo "== shipped small model (models/motion-shapes), session of $threads thread(s)"
  "$cli" bench --model models/motion-shapes --batch 1,2,4,8,16 -n "$iterations" -t "$threads"
  echo
  echo "== base 8x224 (tools/configs/timesformer-base-k400.json, random weights), $threads thread(s)"
  "$cli" bench --config tools/configs/timesformer-base-k400.json --batch 1,2,4 \
    -n "$(( (iterations + 9) / 10 ))" -t "$threads"
done
echo
uptime
