#!/bin/sh
# The sampler's cost per frame (tests/gst/bench-preprocess.c) before and after a change, in one
# run: the same benchmark built against the preprocessing sources of BASE and of this tree,
# alternated PASSES times. Run it under flock (docs/performance.md):
#   flock /tmp/tsf-bench.lock scripts/bench-preprocess.sh [BASE] [PASSES] [ROUNDS]
set -eu
base=${1:-c4b0e3c}
passes=${2:-2}
rounds=${3:-5}
build=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in gsttsfsampler gsttsfpreprocess gsttsfresample; do
  git show "$base:gst/$f.c" > "$tmp/$f.c"
  git show "$base:gst/$f.h" > "$tmp/$f.h"
done
# The flags of the meson build (debugoptimized: -O2 -g).
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -I"$tmp" -Iengine tests/gst/bench-preprocess.c "$tmp"/*.c \
  "$build/engine/libtsf-engine.a" -o "$tmp/bench-before" \
  $(pkg-config --cflags --libs gstreamer-video-1.0 json-glib-1.0 gio-2.0) -lm
meson compile -C "$build" bench-preprocess > /dev/null

echo "date: $(date -u +%Y-%m-%dT%H:%MZ), before: $base, after: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- gst || echo '+changes')"
lscpu | grep 'Model name'
for pass in $(seq "$passes"); do
  echo "uptime: $(uptime)"
  echo "-- before ($base), pass $pass"
  "$tmp/bench-before" --rounds "$rounds"
  echo "-- after, pass $pass"
  "$build/tests/gst/bench-preprocess" --rounds "$rounds"
done
echo "uptime: $(uptime)"
