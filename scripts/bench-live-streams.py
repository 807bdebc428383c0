#!/usr/bin/python3
"""How many live 30 fps streams one process keeps up with on one shared model, with and without
batching (docs/performance.md, "Batching"). A benchmark, not a test: it prints a table and
asserts nothing.

  /usr/bin/python3 scripts/bench-live-streams.py [--build build] [--model DIR]
      [--streams 8,16,32] [--max-batch 1,4] [--seconds 10] [--rounds 1] [--properties "..."]

Every stream is `videotestsrc is-live=true` at 30 fps (32x32, the model's own size, so that
little CPU goes to preprocessing; a moving ball) into `timesformer` with a new clip every
frame (sampling=frames frame-stride=1 clip-hop=1: 30 clips/s per stream, a label per frame), max-pending 1, all elements sharing one model and its scheduler (default
sessions and threads). A stream keeps up when it drops at most 1% of its clips over the run
(after a warm-up of 2 s, not counted). Figures per stream count and max-batch: clips
classified and dropped per second (all streams), the worst stream's drop share, the share of
clips run in batches, and the mean inference time per clip (since the start). With --rounds R
every stream count runs R times, the max-batch values in turn each round.
"""
import argparse
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

WARMUP_S = 2.0
KEEP_UP_DROPS = 0.01


def pipeline_text(n, model, max_batch, properties):
    branch = ("videotestsrc is-live=true pattern=ball ! video/x-raw,width=32,height=32,"
              "framerate=30/1 ! timesformer name=t{i} model={model} sampling=frames "
              "frame-stride=1 clip-hop=1 max-pending=1 max-batch={max_batch} {properties} "
              "! fakesink sync=false")
    return " ".join(branch.format(i=i, model=model, max_batch=max_batch, properties=properties)
                    for i in range(n))


def counters(pipeline, n):
    out = []
    for i in range(n):
        e = pipeline.get_by_name(f"t{i}")
        out.append((e.get_property("clips-processed"), e.get_property("dropped-clips"),
                    e.get_property("batched-clips"), e.get_property("inference-ms")))
    return out


def run_for(pipeline, seconds):
    """Iterates the bus for `seconds`; an error ends the run."""
    bus = pipeline.get_bus()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = bus.timed_pop_filtered(int(0.1 * Gst.SECOND), Gst.MessageType.ERROR)
        if msg is not None:
            err, debug = msg.parse_error()
            raise RuntimeError(f"{msg.src.get_name()}: {err.message} ({debug})")


def measure(n, model, max_batch, seconds, properties):
    pipeline = Gst.parse_launch(pipeline_text(n, model, max_batch, properties))
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        raise RuntimeError("the pipeline does not start")
    try:
        run_for(pipeline, WARMUP_S)
        before, t0 = counters(pipeline, n), time.monotonic()
        run_for(pipeline, seconds)
        after, elapsed = counters(pipeline, n), time.monotonic() - t0
    finally:
        pipeline.set_state(Gst.State.NULL)
    done = [a[0] - b[0] for a, b in zip(after, before)]
    dropped = [a[1] - b[1] for a, b in zip(after, before)]
    batched = sum(a[2] - b[2] for a, b in zip(after, before))
    worst = max(d / max(c + d, 1) for c, d in zip(done, dropped))
    ms = sum(a[3] for a in after) / n
    return {"clips_s": sum(done) / elapsed, "dropped_s": sum(dropped) / elapsed,
            "worst_drop": worst, "batched": batched / max(sum(done), 1), "ms": ms,
            "keeps_up": worst <= KEEP_UP_DROPS}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--model", default="models/motion-shapes")
    parser.add_argument("--streams", default="8,16,24,32,48,64")
    parser.add_argument("--max-batch", default="1,4")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--properties", default="", help="more timesformer properties")
    args = parser.parse_args()

    os.environ["GST_PLUGIN_PATH"] = os.path.abspath(os.path.join(args.build, "gst"))
    Gst.init(None)
    if Gst.ElementFactory.find("timesformer") is None:
        sys.exit(f"no timesformer element in {os.environ['GST_PLUGIN_PATH']}")
    model = os.path.abspath(args.model)
    batches = [int(b) for b in args.max_batch.split(",")]
    print(f"{'streams':>7} {'max-batch':>9} {'clips/s':>8} {'dropped/s':>9} "
          f"{'worst drop':>10} {'batched':>8} {'ms/clip':>8}  keeps up")
    most = {b: 0 for b in batches}
    runs = [(n, b) for n in (int(s) for s in args.streams.split(","))
            for _ in range(args.rounds) for b in batches]   # the ways in turn at each count
    for n, b in runs:
        r = measure(n, model, b, args.seconds, args.properties)
        print(f"{n:>7} {b:>9} {r['clips_s']:>8.0f} {r['dropped_s']:>9.1f} "
              f"{100 * r['worst_drop']:>9.1f}% {100 * r['batched']:>7.0f}% "
              f"{r['ms']:>8.2f}  {'yes' if r['keeps_up'] else 'no'}", flush=True)
        if r["keeps_up"]:
            most[b] = max(most[b], n)
    for b in batches:
        print(f"max-batch={b}: kept up with at most {most[b]} live 30 fps streams in a run")


if __name__ == "__main__":
    main()
