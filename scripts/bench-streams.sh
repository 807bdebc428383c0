#!/usr/bin/env bash
# N non-live streams on one model through timesformer: aggregate clips per second and peak RSS
# of the process, for each way of running them, in one run (a benchmark, not a test: it prints a
# table for docs/performance.md and asserts nothing).
#
#   scripts/bench-streams.sh [-b BUILDDIR] [-m MODEL] [-c CLIPS] [-n "1 2 4 8"]
#                            [-w "separate shared"] [-r ROUNDS]
#
# Ways (-w):
#   separate   every element its own copy of the model, one session on all cores
#              (shared-model=false sessions=1: what each element did before the scheduler)
#   shared     one shared model and scheduler, default sessions
#   shared:S   the same with S sessions of one oneDNN thread each when S exceeds the cores
#              (threads=S: S sessions on the cores), else sessions=S on all cores
# The ratio column compares each way with the first one of -w, for the same stream count in the
# same round. ROUNDS (default 1) repeats everything, the order of the ways reversed every other
# round (alternations against a drifting load).
# MODEL: default a base-size model, 8 frames of 224x224, random weights
# (tools/configs/timesformer-base-k400.json), made once by tools/make_test_models.py into
# $BENCH_DIR (default /tmp/tsf-bench-streams). CLIPS: clips per stream (default 2).
# clips/s is counted from PLAYING to EOS (gst-launch-1.0's "Execution ended after"), so it leaves
# out the loads; peak RSS is the whole process's (/usr/bin/time). load = the 1-minute load
# average when the row's pipeline ended. CPU s/clip = the process's user + system seconds less
# those of the same pipeline stopped before its first clip (the loads), per clip: what a clip
# costs the machine, whatever share of a busy machine's cores the way's threads got (on a
# shared machine more threads get more of the cores, which flatters clips/s).
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build
model=
clips=2
counts="1 2 4 8"
ways="separate shared"
rounds=1
while getopts "b:m:c:n:w:r:" opt; do
  case $opt in
    b) builddir=$OPTARG ;;
    m) model=$OPTARG ;;
    c) clips=$OPTARG ;;
    n) counts=$OPTARG ;;
    w) ways=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
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

case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac
export GST_PLUGIN_PATH=$builddir/gst
frames=$((clips * 8))
cores=$(nproc)

# The properties of one element for a way.
way_properties() {
  local s
  case $1 in
    separate) echo "shared-model=false sessions=1" ;;
    shared) echo "" ;;
    shared:*)
      s=${1#shared:}
      if [ "$s" -gt "$cores" ]; then echo "sessions=$s threads=$s"; else echo "sessions=$s"; fi ;;
    *) echo "unknown way '$1'" >&2; exit 2 ;;
  esac
}

# The launch line of $1 streams, way $2, $3 frames per stream.
pipeline_of() {
  local n=$1 properties pipeline="" i
  properties=$(way_properties "$2")
  for i in $(seq "$n"); do
    pipeline+=" videotestsrc num-buffers=$3 pattern=$((i % 20)) ! video/x-raw,width=224,height=224"
    pipeline+=" ! timesformer model=$model frame-stride=1 num-frames=8 pad-at-eos=false"
    pipeline+=" $properties ! fakesink"
  done
  echo "$pipeline"
}

# Runs gst-launch-1.0 on $1; its output with rss_kb= and cpu_s= lines.
launch() {
  local out
  out=$(/usr/bin/time -f $'rss_kb=%M\ncpu_s=%U %S' gst-launch-1.0 $1 2>&1) || {
    echo "pipeline failed: $out" >&2; exit 1; }
  echo "$out"
}

# CPU seconds of one launch's output.
cpu_seconds() {
  sed -n 's/^cpu_s=//p' <<<"$1" | awk '{ printf "%.1f", $1 + $2 }'
}

# Seconds from PLAYING to EOS, peak RSS in MB, CPU seconds and CPU seconds of the loads alone
# of one pipeline of $1 streams, way $2.
run_once() {
  local out load_out rss_kb
  load_out=$(launch "$(pipeline_of "$1" "$2" 1)")
  out=$(launch "$(pipeline_of "$1" "$2" "$frames")")
  rss_kb=$(sed -n 's/^rss_kb=//p' <<<"$out")
  sed -n 's/^Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' <<<"$out" \
    | awk -v rss="$rss_kb" -v cpu="$(cpu_seconds "$out")" -v load="$(cpu_seconds "$load_out")" \
      '{ printf "%.2f %d %s %s\n", $1 * 3600 + $2 * 60 + $3, rss / 1024, cpu, load }'
}

# The ways of round $1: in order, reversed in odd rounds.
round_ways() {
  if [ $(($1 % 2)) -eq 1 ]; then tr ' ' '\n' <<<"$ways" | tac | tr '\n' ' '; else echo "$ways"; fi
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $model; $clips clips of 8 frames per stream, not live; ways: $ways; $rounds round(s)"
echo
echo "| round | streams | way | properties | seconds | clips/s | clips/s vs ${ways%% *} | peak RSS MB | CPU s, loads | CPU s/clip | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq 0 $((rounds - 1))); do
  for n in $counts; do
    declare -A rate=() seconds=() rss=() cpu=() cpu_load=() load=()
    for way in $(round_ways "$round"); do
      read -r seconds[$way] rss[$way] cpu[$way] cpu_load[$way] < <(run_once "$n" "$way")
      rate[$way]=$(awk -v c=$((n * clips)) -v s="${seconds[$way]}" 'BEGIN { printf "%.3f", c / s }')
      load[$way]=$(cut -d' ' -f1 /proc/loadavg)
    done
    reference=${ways%% *}
    for way in $ways; do
      ratio=$(awk -v a="${rate[$way]}" -v b="${rate[$reference]}" 'BEGIN { printf "%.2fx", a / b }')
      echo "| $((round + 1)) | $n | $way | $(way_properties "$way") | ${seconds[$way]} | ${rate[$way]} | $ratio | ${rss[$way]} | ${cpu[$way]}, ${cpu_load[$way]} | $(awk -v a="${cpu[$way]}" -v b="${cpu_load[$way]}" -v c=$((n * clips)) 'BEGIN { printf "%.2f", (a - b) / c }') | ${load[$way]} |"
    done
    unset rate seconds rss cpu cpu_load load
  done
done
echo
echo "ended $(date -u '+%H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
