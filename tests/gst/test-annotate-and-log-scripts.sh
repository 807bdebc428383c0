#!/usr/bin/env bash
# Runs pipelines/annotate-file.sh and pipelines/log-file.sh on a short WebM made here, with the
# test model labels50 (4 frames per clip; sampling=frames frame-stride=1 makes a clip of every 4 frames).
set -eu
pipelines="$TSF_SOURCE_ROOT/pipelines"
model="$TSF_TEST_MODELS/labels50"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gst-launch-1.0 -q videotestsrc num-buffers=24 pattern=smpte \
  ! video/x-raw,width=96,height=64,framerate=24/1 \
  ! vp8enc deadline=1 ! webmmux ! filesink location="$work/in.webm"

"$pipelines/annotate-file.sh" "$work/in.webm" "$model" "$work/out.webm" sampling=frames frame-stride=1
mkdir "$work/frames"
gst-launch-1.0 -q filesrc location="$work/out.webm" ! decodebin ! videoconvert \
  ! video/x-raw,format=GRAY8 ! multifilesink location="$work/frames/%04d.raw"
frames=$(ls "$work/frames" | wc -l)
if [ "$frames" -ne 24 ]; then
  echo "the annotated video has $frames frames, expected 24" >&2
  exit 1
fi

"$pipelines/log-file.sh" "$work/in.webm" "$model" "$work/log.jsonl" sampling=frames frame-stride=1
/usr/bin/python3 - "$work/log.jsonl" "$work/in.webm" <<'PY'
import json, sys, pathlib
results = [json.loads(line) for line in open(sys.argv[1]).read().splitlines()]
indices = sorted(r["clip_index"] for r in results)
assert indices == list(range(6)), f"clips logged: {indices}, expected 0..5"
uri = pathlib.Path(sys.argv[2]).resolve().as_uri()
for r in results:
    assert r["stream"] == uri, f"stream {r['stream']}, expected {uri}"
    assert r["model"] and r["labels"], r
    assert all(0.0 <= label["score"] <= 1.0 for label in r["labels"]), r
print(f"{len(results)} results logged, annotated video of 24 frames")
PY
