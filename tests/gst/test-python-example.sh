#!/bin/sh
# pipelines/print-labels.py (PyGObject through GstClipLabels-1.0.typelib) prints exactly what the C
# example pipelines/print-labels prints for the same pipeline: every clip, its times and labels.
set -eu
: "${BUILDDIR:?}" "${TSF_SOURCE_ROOT:?}" "${TSF_TEST_MODELS:?}"
pipeline="videotestsrc num-buffers=24 ! video/x-raw,width=64,height=48 ! timesformer model=$TSF_TEST_MODELS/divided frame-stride=1 ! fakesink name=sink"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

timeout 60 "$BUILDDIR/pipelines/print-labels" "$pipeline" > "$out/c.txt"
GI_TYPELIB_PATH="$BUILDDIR/gst/cliplabels" LD_LIBRARY_PATH="$BUILDDIR/gst/cliplabels" \
  timeout 60 /usr/bin/python3 "$TSF_SOURCE_ROOT/pipelines/print-labels.py" "$pipeline" > "$out/py.txt"
if ! cmp -s "$out/c.txt" "$out/py.txt"; then
  echo "print-labels.py differs from print-labels:"; diff "$out/c.txt" "$out/py.txt"; exit 1
fi
clips=$(grep -c '^clip [0-9]* (.*):  [^ ]* [01]\.[0-9][0-9][0-9]' "$out/py.txt")
grep -q "^print-labels: $clips results\$" "$out/py.txt"
[ "$clips" -ge 6 ] || { echo "only $clips clips"; exit 1; }
echo "print-labels.py: $clips clips, the same lines as print-labels"
