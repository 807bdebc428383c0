#!/bin/sh
# Nothing outside engine/ (but the engine's own tests and fuzzers) includes an internal engine
# header: the headers of engine/'s sub-folders. Prints the offending lines and fails if any.
src=${1:?usage: check-includes.sh SOURCE_ROOT}
cd "$src" || exit 1
internal=$(cd engine && ls */*.h | xargs -n1 basename | sed 's/\./\\./g' | paste -sd'|' -)
[ -n "$internal" ] || { echo "check-includes: no internal headers found under engine/"; exit 1; }
found=$(grep -rnE "#include [<\"]($internal)[>\"]" --include='*.c' --include='*.h' \
  gst pipelines tools engine/cli 2>/dev/null)
if [ -n "$found" ]; then
  echo "internal engine headers included from outside engine/:"
  echo "$found"
  exit 1
fi
echo "check-includes: only public engine headers are included outside engine/"
