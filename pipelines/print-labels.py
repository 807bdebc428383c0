#!/usr/bin/python3
"""print-labels.py: the Python twin of print-labels.c. Runs a pipeline and prints the clip
labels that reach its element "sink", read from the GstClipLabelsMeta of each buffer through
GObject introspection (GstClipLabels-1.0; python3-gi).

    ./print-labels.py 'videotestsrc num-buffers=64 ! timesformer model=DIR ! fakesink name=sink'

Results come on buffers and, for the clips still pending at EOS, as custom downstream events.
Prints the same lines as print-labels.c. Exits 1 if no result was seen.
From a build folder: GI_TYPELIB_PATH=build/gst/cliplabels LD_LIBRARY_PATH=build/gst/cliplabels
GST_PLUGIN_PATH=build/gst."""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstClipLabels", "1.0")
from gi.repository import GLib, Gst, GstClipLabels  # noqa: E402


def format_time(time):
    """GST_TIME_FORMAT: h:mm:ss.nnnnnnnnn, 99:99:99.999999999 when unknown."""
    if time == Gst.CLOCK_TIME_NONE:
        return "99:99:99.999999999"
    seconds, nanoseconds = divmod(time, Gst.SECOND)
    return "%u:%02u:%02u.%09u" % (seconds // 3600, seconds // 60 % 60, seconds % 60, nanoseconds)


def print_result(meta):
    line = "clip %u (%s - %s):" % (meta.clip_index, format_time(meta.first_pts),
                                   format_time(meta.last_pts))
    for i in range(meta.get_n_labels()):
        found, _class_id, label, score = meta.get_label(i)
        if found:
            line += "  %s %.3f" % (label, score)
    print(line, flush=True)


def print_buffer_results(buffer):
    """A buffer may carry several results (an element that caught up, or two classifiers)."""
    n = 0
    while True:
        meta = GstClipLabels.ClipLabelsMeta.from_buffer(buffer, n)
        if meta is None:
            return n
        print_result(meta)
        n += 1


def print_event_result(event):
    """Results sent at EOS: the event's structure made a meta again on a scratch buffer."""
    structure = GstClipLabels.clip_labels_event_get_structure(event)
    if structure is None:
        return 0
    scratch = Gst.Buffer.new()
    GstClipLabels.buffer_add_clip_labels_meta_from_structure(scratch, structure)
    return print_buffer_results(scratch)


def main(argv):
    Gst.init(None)
    if len(argv) != 2:
        print("usage: %s 'PIPELINE with an element named sink'" % argv[0], file=sys.stderr)
        return 2
    try:
        pipeline = Gst.parse_launch(argv[1])
    except GLib.Error as error:
        print("print-labels.py: %s" % error.message, file=sys.stderr)
        return 2
    sink = pipeline.get_by_name("sink")
    if sink is None:
        print("print-labels.py: the pipeline has no element named 'sink'", file=sys.stderr)
        return 2
    results = [0]

    def on_data(_pad, info):
        if info.type & Gst.PadProbeType.BUFFER:
            results[0] += print_buffer_results(info.get_buffer())
        else:
            results[0] += print_event_result(info.get_event())
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, on_data)
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    ok = message.type == Gst.MessageType.EOS
    if not ok:
        error, _debug = message.parse_error()
        print("print-labels.py: %s" % error.message, file=sys.stderr)
    pipeline.set_state(Gst.State.NULL)
    print("print-labels: %u results" % results[0])
    return 0 if ok and results[0] > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
