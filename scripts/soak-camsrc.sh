#!/usr/bin/env bash
# Soak test of camsrc (not in CI): one camera whose server is killed and restarted every few
# seconds, for DURATION seconds (default 1800); every SAMPLE seconds the pipeline's resident
# memory and open file descriptors are printed, then the first and last samples.
#   scripts/soak-camsrc.sh [BUILDDIR]      (env: DURATION, PERIOD (s between restarts), SAMPLE)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
duration=${DURATION:-1800}
period=${PERIOD:-5}
sample=${SAMPLE:-60}
work=$(mktemp -d)
server=$build/tests/gst/test-rtsp-server
model=$build/tests/models/divided
server_pid=""
pipeline_pid=""
cleanup() {
  [ -z "$pipeline_pid" ] || kill "$pipeline_pid" 2>/dev/null || true
  [ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {   # $1: port (0: a free one); sets server_pid and port
  : >"$work/server.out"
  "$server" --port "$1" >"$work/server.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^port=//p' "$work/server.out")
    [ -n "$port" ] && return
    sleep 0.1
  done
  echo "soak: the server did not start" >&2; exit 1
}

start_server 0
GST_PLUGIN_PATH=$build/gst gst-launch-1.0 -q camsrc uri="rtsp://127.0.0.1:$port/cam" timeout=2 \
  retry-min-ms=200 retry-max-ms=2000 ! videoconvert ! timesformer model="$model" frame-stride=1 \
  ! labellog location="$work/labels.jsonl" ! fakesink sync=false >"$work/pipeline.out" 2>&1 &
pipeline_pid=$!

sample_line() {
  local rss fds results
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pipeline_pid/status")
  fds=$(ls "/proc/$pipeline_pid/fd" | wc -l)
  results=$(cat "$work/labels.jsonl" 2>/dev/null | wc -l)
  echo "$1 s: rss ${rss} kB, ${fds} fds, ${restarts} restarts, ${results} results"
}

start=$(date +%s)
next_sample=$start
restarts=0
samples=()
while (( $(date +%s) - start < duration )); do
  kill -0 "$pipeline_pid" 2>/dev/null || { echo "soak: the pipeline ended:" >&2; cat "$work/pipeline.out" >&2; exit 1; }
  if (( $(date +%s) >= next_sample )); then
    samples+=("$(sample_line $(( $(date +%s) - start )))")
    echo "${samples[-1]}"
    next_sample=$(( next_sample + sample ))
  fi
  sleep "$period"
  kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null || true
  sleep 1
  start_server "$port"
  restarts=$(( restarts + 1 ))
done
samples+=("$(sample_line $(( $(date +%s) - start )))")
echo "soak: $duration s, $restarts restarts of the server"
echo "  first: ${samples[0]}"
echo "  after the first minute: ${samples[1]:-none}"
echo "  last:  ${samples[-1]}"
