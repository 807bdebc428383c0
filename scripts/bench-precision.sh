#!/bin/sh
# The engine at f32, bf16 and int8 against PyTorch's f32, mkldnn, bf16-autocast and
# dynamic-int8 modes on one config, alternated in one run (ROUNDS rounds), as a table:
# ms per clip, GFLOP/s (GOP/s for int8), efficiency against oneDNN's matmul peak of the same
# precision measured in the same run (engine rows), peak RSS, ratios. A benchmark, not a test.
#
#   scripts/bench-precision.sh [CONFIG.json] [ROUNDS] [ITERATIONS]
#
# Defaults: tools/configs/timesformer-base-k400.json (base 8x224), 2 rounds of 3 clips each.
# Needs a build in build/ and /usr/bin/python3 with torch. TSF_CLI: the timesformer-cli to
# time (default build/'s). TSF_BASELINE_CLI: another build's timesformer-cli (an older
# commit's): then ROUNDS more rounds alternate the two at f32 (7 clips each), rows
# "engine f32" and "baseline f32" of a second table.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-$root/tools/configs/timesformer-base-k400.json}
rounds=${2:-2}
iterations=${3:-3}
cli=${TSF_CLI:-$root/build/engine/cli/timesformer-cli}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

lscpu | grep 'Model name' | sed 's/  */ /g'
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), config: $config, $rounds rounds x $iterations clips"
echo "load at the start: $(uptime | sed 's/.*load average: //')"
round=0
while [ "$round" -lt "$rounds" ]; do
  for precision in f32 bf16 int8; do
    printf 'engine %s ' "$precision" >>"$out"
    "$cli" bench --config "$config" --precision "$precision" --iterations "$iterations" --json \
      | tr -d '\n' >>"$out"
    echo >>"$out"
  done
  for mode in f32 mkldnn bf16 int8; do
    printf 'torch %s ' "$mode" >>"$out"
    /usr/bin/python3 "$root/tools/bench_torch.py" --config "$config" --mode "$mode" \
      --iterations "$iterations" --json >>"$out"
  done
  round=$((round + 1))
done
baseline=$(mktemp)
trap 'rm -f "$out" "$baseline"' EXIT
round=0
while [ -n "${TSF_BASELINE_CLI:-}" ] && [ "$round" -lt "$rounds" ]; do
  for who in engine baseline; do
    bin=$cli
    [ "$who" = baseline ] && bin=$TSF_BASELINE_CLI
    printf '%s f32 ' "$who" >>"$baseline"
    "$bin" bench --config "$config" --iterations 7 --json | tr -d '\n' >>"$baseline"
    echo >>"$baseline"
  done
  round=$((round + 1))
done
echo "load at the end: $(uptime | sed 's/.*load average: //')"

/usr/bin/python3 - "$out" "$baseline" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    who, mode, data = line.split(" ", 2)
    runs.setdefault((who, mode), []).append(json.loads(data))
# each engine row its own work (bf16 and int8 fold divided's temporal projections); PyTorch
# runs the model as it is, the work of the engine's f32
work = {mode: statistics.median(r["gflop"] for r in v) for (who, mode), v in runs.items()
        if who == "engine"}
rows = []
for (who, mode), v in runs.items():
    gop = work[mode] if who == "engine" else work["f32"]
    ms = statistics.median(r["median_ms"] for r in v)
    eff = statistics.median(r["efficiency"] for r in v) if who == "engine" else None
    peak = statistics.median(r["matmul_peak_gflops"] for r in v) if who == "engine" else None
    rss = max(r["peak_rss_mb"] for r in v)
    rows.append((f"{who} {mode}", ms, gop / ms * 1e3, peak, eff, rss))
f32 = next(r[1] for r in rows if r[0] == "engine f32")
torch_best = min(r[1] for r in rows if r[0].startswith("torch"))
print("work per clip: " + ", ".join(f"{mode} {gop:.1f}" for mode, gop in work.items())
      + " GFLOP (GOP in int8; PyTorch: f32's)\n")
print("| what | ms/clip | GFLOP/s or GOP/s | matmul peak, same run | efficiency | peak RSS MB "
      "| engine f32 / this | fastest PyTorch / this |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, ms, rate, peak, eff, rss in rows:
    peak_s = f"{peak:.0f}" if peak else "-"
    eff_s = f"{100 * eff:.0f}%" if eff is not None else "-"
    print(f"| {name} | {ms:.0f} | {rate:.0f} | {peak_s} | {eff_s} | {rss:.0f} "
          f"| {f32 / ms:.2f} | {torch_best / ms:.2f} |")
base = {}
for line in open(sys.argv[2]):
    who, mode, data = line.split(" ", 2)
    base.setdefault(who, []).append(json.loads(data))
if base:
    print("\n| f32 build | ms/clip per round | matmul peak per round | efficiency per round |")
    print("| --- | ---: | ---: | ---: |")
    for who, v in base.items():
        print(f"| {who} | " + ", ".join(f"{r['median_ms']:.0f}" for r in v) + " | "
              + ", ".join(f"{r['matmul_peak_gflops']:.0f}" for r in v) + " | "
              + ", ".join(f"{100 * r['efficiency']:.0f}%" for r in v) + " |")
PY
