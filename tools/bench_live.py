#!/usr/bin/python3
"""Live streams through timesformer elements sharing one model: each stream's share of the
results, its dropped clips and its latency over time (a benchmark: it prints tables and asserts
nothing). Run by scripts/bench-live.sh, which sets GST_TRACERS=latency, GST_DEBUG=GST_TRACER:7
and GST_DEBUG_FILE before GStreamer starts.

  bench_live.py --model DIR --streams N [--seconds S] [--size WxH] [--fps F]
                [--props "timesformer properties"] [--windows W] [--tracer-log FILE]

N live `videotestsrc is-live=true` sources at F fps, each through its own `timesformer` (one
shared model and scheduler, with the properties --props) into `fakesink sync=true`, for S
seconds. Per stream:
  results, share     GstClipLabels messages of its element, and their share of all streams'
  dropped            its element's `dropped-clips` at the end
  result latency     bus arrival (pipeline running time) minus the clip's last-running-time:
                     from the clip's last frame to its result; median per window of S/W seconds
  buffer latency     the latency tracer's src-to-sink time of the stream's buffers, mean and
                     max per window (grows when the streaming thread falls behind)
"""

import argparse
import re
import statistics
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

TRACER_LINE = re.compile(r"latency, src-element-id=\(string\)[^,]*, src-element=\(string\)([^,]+),"
                         r".*sink-element=\(string\)([^,]+), sink=\(string\)[^,]+,"
                         r" time=\(guint64\)(\d+), ts=\(guint64\)(\d+);")


def build_pipeline(args):
    width, height = args.size.split("x")
    parts = []
    for i in range(args.streams):
        parts.append(f"videotestsrc name=src{i} is-live=true pattern={i % 20} "
                     f"! video/x-raw,width={width},height={height},framerate={args.fps}/1 "
                     f"! timesformer name=tsf{i} model={args.model} {args.props} "
                     f"! fakesink name=sink{i} sync=true")
    return Gst.parse_launch(" ".join(parts))


def run(args):
    """Plays the pipeline for args.seconds; returns per stream: [(arrival_ns, latency_ns)],
    dropped, processed, and the elements' model-info."""
    pipeline = build_pipeline(args)
    arrivals = {i: [] for i in range(args.streams)}
    loop = GLib.MainLoop()
    failure = []

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            failure.append(message.parse_error()[0].message)
            loop.quit()
        elif message.type == Gst.MessageType.ELEMENT:
            s = message.get_structure()
            name = message.src.get_name()
            if s.get_name() == "GstClipLabels" and name.startswith("tsf"):
                now = pipeline.get_clock().get_time() - pipeline.get_base_time()
                last = s.get_value("last-running-time")
                arrivals[int(name[3:])].append((now, now - last))
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        sys.exit("the pipeline did not start")
    GLib.timeout_add(int(args.seconds * 1000), loop.quit)
    loop.run()
    if failure:
        sys.exit(f"pipeline error: {failure[0]}")
    elements = [pipeline.get_by_name(f"tsf{i}") for i in range(args.streams)]
    dropped = [e.get_property("dropped-clips") for e in elements]
    processed = [e.get_property("clips-processed") for e in elements]
    info = elements[0].get_property("model-info")
    if elements[0].find_property("batched-clips") is not None:  # the scheduler batches clips
        info += f" batched-clips={sum(e.get_property('batched-clips') for e in elements)}"
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    return arrivals, dropped, processed, info


def tracer_latencies(path, streams):
    """Per stream: [(ts_ns, latency_ns)] from the latency tracer's records of src{i} -> sink{i}."""
    records = {i: [] for i in range(streams)}
    with open(path, errors="replace") as log:
        for line in log:
            m = TRACER_LINE.search(line)
            if m and m.group(1).startswith("src") and m.group(2) == f"sink{m.group(1)[3:]}":
                records[int(m.group(1)[3:])].append((int(m.group(4)), int(m.group(3))))
    return records


def windows_of(samples, start, seconds, n_windows):
    """samples [(t_ns, value)] split into n_windows equal windows from start."""
    width = seconds * 1e9 / n_windows
    out = [[] for _ in range(n_windows)]
    for t, v in samples:
        w = int((t - start) / width)
        if 0 <= w < n_windows:
            out[w].append(v)
    return out


def ms(ns):
    return f"{ns / 1e6:.0f}"


def report(args, arrivals, dropped, processed, info, tracer):
    total = sum(len(a) for a in arrivals.values())
    print(f"model-info: {info}")
    print(f"{args.streams} live streams of {args.size} at {args.fps} fps, {args.seconds:g} s, "
          f"timesformer {args.props or '(defaults)'}")
    print()
    print("| stream | results | share | clips-processed | dropped-clips | dropped share |"
          " result latency ms, median per window | buffer latency ms, mean / max per window |")
    print("|---|---|---|---|---|---|---|---|")
    for i in range(args.streams):
        a = arrivals[i]
        share = len(a) / total if total else 0.0
        cut = processed[i] + dropped[i]
        dshare = dropped[i] / cut if cut else 0.0
        lat = windows_of(a, 0, args.seconds, args.windows)
        lat_text = " ".join(ms(statistics.median(w)) if w else "-" for w in lat)
        trc = tracer.get(i, [])
        tstart = trc[0][0] if trc else 0
        tw = windows_of(trc, tstart, args.seconds, args.windows)
        trc_text = " ".join(f"{statistics.mean(w) / 1e6:.2f}/{max(w) / 1e6:.1f}" if w else "-"
                            for w in tw)
        print(f"| {i} | {len(a)} | {share:.0%} | {processed[i]} | {dropped[i]} | {dshare:.0%} |"
              f" {lat_text} | {trc_text} |")
    print()
    print(f"results in all: {total} ({total / args.seconds:.2f}/s); dropped in all: {sum(dropped)};"
          f" result latency windows of {args.seconds / args.windows:g} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--size", default="224x224")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--props", default="")
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--tracer-log", help="the GST_DEBUG_FILE the latency tracer writes")
    args = parser.parse_args()
    Gst.init(None)
    arrivals, dropped, processed, info = run(args)
    tracer = tracer_latencies(args.tracer_log, args.streams) if args.tracer_log else {}
    report(args, arrivals, dropped, processed, info, tracer)


if __name__ == "__main__":
    main()
