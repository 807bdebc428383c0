"""The README's first gst-launch example, as written there, on a short WebM made here and the
test model labels50: its stdout must be labellog's JSON lines only (gst-launch's own messages
would mix in without -q).  Usage: test_readme_example.py (TSF_SOURCE_ROOT, TSF_BUILD_ROOT,
TSF_TEST_MODELS set by meson)."""
import json
import os
import subprocess
import sys
import tempfile

ROOT, BUILD = os.environ["TSF_SOURCE_ROOT"], os.environ["TSF_BUILD_ROOT"]
MODEL = os.path.join(os.environ["TSF_TEST_MODELS"], "labels50")


def readme_example():
    """The first indented command line that runs gst-launch-1.0, with its continuations."""
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("    ") and "gst-launch-1.0" in line)
    command = []
    for line in lines[start:]:
        command.append(line.strip().removesuffix("\\"))
        if not line.endswith("\\"):
            return " ".join(command)


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


with tempfile.TemporaryDirectory() as tmp:
    clip = os.path.join(tmp, "clip.webm")
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=16", "!",
                    "video/x-raw,width=64,height=48,framerate=16/1", "!", "vp8enc",
                    "deadline=1", "!", "webmmux", "!", "filesink", f"location={clip}"],
                   check=True, timeout=60)
    example = readme_example()
    print("README:", example)
    command = (example.replace("GST_PLUGIN_PATH=build/gst",
                               f"GST_PLUGIN_PATH={os.path.join(BUILD, 'gst')}")
               .replace("location=clip.webm", f"location={clip}")
               # a clip of every 4 frames of the short test video
               .replace("/path/to/timesformer-base-finetuned-k400",
                        f"{MODEL} sampling=frames frame-stride=1"))
    r = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120,
                       cwd=tmp)
    if r.returncode != 0:
        fail(f"exit {r.returncode}: {r.stderr}")
    lines = r.stdout.splitlines()
    if not lines:
        fail("no output")
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            fail(f"stdout holds a line that is not JSON: {line!r}")
        if not isinstance(record, dict) or "labels" not in record:
            fail(f"not a labellog record: {line!r}")
    print(f"{len(lines)} JSON lines, nothing else")
