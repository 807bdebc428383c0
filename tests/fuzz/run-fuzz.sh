#!/usr/bin/env bash
# Builds each libFuzzer target with clang (ASan + UBSan) into the build folder and runs it for
# a bounded time on a copy of its seed corpus. Fails if a target crashes, leaks or hits UB.
# Usage: run-fuzz.sh SOURCE_ROOT BUILD_DIR [SECONDS_PER_TARGET]
set -euo pipefail
src=$1
out=$2/fuzz
seconds=${3:-${TSF_FUZZ_SECONDS:-20}}
clang=${CLANG:-clang}
command -v "$clang" >/dev/null || { echo "run-fuzz: no clang, skipping"; exit 77; }

mkdir -p "$out"
engine=(model/tsf-error.c formats/tsf-file.c formats/tsf-json.c model/tsf-config.c formats/tsf-tensors.c
  formats/tsf-safetensors.c formats/tsf-npy.c formats/tsf-pickle.c formats/tsf-torchzip.c)
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -D_GNU_SOURCE -I"$src/engine" -I"$src/engine/formats" -I"$src/engine/model"
  $(pkg-config --cflags glib-2.0 gio-2.0 json-glib-1.0 libzip))
libs=($(pkg-config --libs glib-2.0 gio-2.0 json-glib-1.0 libzip) -lm)

# One library of the engine's parsers, built with coverage and sanitizers.
objects=()
for f in "${engine[@]}"; do
  "$clang" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src/engine/$f" -o "$out/$(basename "${f%.c}").o"
  objects+=("$out/$(basename "${f%.c}").o")
done

# The model target opens whole model directories: it links the whole engine (but the CLI),
# oneDNN and OpenMP, though it never runs the forward pass.
model_objects=()
model_flags=(-I"$src/engine/forward" -I"$src/engine/dnnl" -fopenmp=libgomp)
while IFS= read -r f; do
  o=$out/model-$(basename "${f%.c}").o
  "$clang" "${flags[@]}" "${model_flags[@]}" -fsanitize=fuzzer-no-link -c "$f" -o "$o"
  model_objects+=("$o")
done < <(find "$src/engine" -name '*.c' ! -path '*/cli/*' | sort)

status=0
for target in safetensors config npy pickle torchzip model; do
  binary=$out/fuzz-$target
  if [ "$target" = model ]; then
    "$clang" "${flags[@]}" "${model_flags[@]}" "$src/tests/fuzz/fuzz-$target.c" \
      "${model_objects[@]}" "${libs[@]}" -ldnnl -o "$binary"
  else
    "$clang" "${flags[@]}" "$src/tests/fuzz/fuzz-$target.c" "${objects[@]}" "${libs[@]}" -o "$binary"
  fi
  corpus=$out/corpus-$target
  mkdir -p "$corpus"
  cp "$src/tests/fuzz/corpus/$target"/* "$corpus/"
  dict=$src/tests/fuzz/json.dict
  [ "$target" = npy ] && dict=$src/tests/fuzz/npy.dict
  [ "$target" = pickle ] || [ "$target" = torchzip ] && dict=$src/tests/fuzz/pickle.dict
  echo "run-fuzz: $target for ${seconds}s"
  max_len=4096
  [ "$target" = model ] && max_len=16384   # a tiny model's three files together
  if ! (cd "$out" && "$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=1024 -dict="$dict" -print_final_stats=1 "$corpus" 2>"$out/$target.log"); then
    echo "run-fuzz: $target FAILED; the input is in $out (crash-*, leak-*, timeout-*)"
    tail -n 60 "$out/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$out/$target.log" || true
  fi
done
exit $status
