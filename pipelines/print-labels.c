/* print-labels: runs a pipeline and prints the clip labels that reach its element "sink".
 *
 *   print-labels 'videotestsrc num-buffers=64 ! timesformer model=DIR ! fakesink name=sink'
 *
 * Results come on buffers (GstClipLabelsMeta) and, for the clips still pending at EOS, as
 * custom downstream events. Exits 1 if no result was seen. */
#include <gst/gst.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>

static void
print_result (const GstClipLabelsMeta *meta)
{
  guint i;

  g_print ("clip %" G_GUINT64_FORMAT " (%" GST_TIME_FORMAT " - %" GST_TIME_FORMAT "):",
      meta->clip_index, GST_TIME_ARGS (meta->first_pts), GST_TIME_ARGS (meta->last_pts));
  for (i = 0; i < gst_clip_labels_meta_get_n_labels (meta); i++) {
    const gchar *label;
    gfloat score;

    gst_clip_labels_meta_get_label (meta, i, NULL, &label, &score);
    g_print ("  %s %.3f", label, score);
  }
  g_print ("\n");
}

/* A buffer may carry several results (an element that caught up, or two classifiers). */
static guint
print_buffer_results (GstBuffer *buffer)
{
  gpointer state = NULL;
  GstMeta *meta;
  guint n = 0;

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)) != NULL) {
    print_result ((GstClipLabelsMeta *) meta);
    n++;
  }
  return n;
}

/* Results sent at EOS: the event's structure turned back into a meta on a scratch buffer. */
static guint
print_event_result (GstEvent *event)
{
  const GstStructure *structure = gst_clip_labels_event_get_structure (event);
  GstBuffer *scratch;
  guint n;

  if (structure == NULL)
    return 0;
  scratch = gst_buffer_new ();
  gst_buffer_add_clip_labels_meta_from_structure (scratch, structure);
  n = print_buffer_results (scratch);
  gst_buffer_unref (scratch);
  return n;
}

static GstPadProbeReturn
on_data (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  guint *results = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    *results += print_buffer_results (GST_PAD_PROBE_INFO_BUFFER (info));
  else
    *results += print_event_result (GST_PAD_PROBE_INFO_EVENT (info));
  return GST_PAD_PROBE_OK;
}

/* Runs until EOS or an error; returns FALSE on error. */
static gboolean
run (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *message;
  gboolean ok;

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  message = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ok = GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS;
  if (!ok) {
    GError *error = NULL;

    gst_message_parse_error (message, &error, NULL);
    g_printerr ("print-labels: %s\n", error->message);
    g_error_free (error);
  }
  gst_message_unref (message);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return ok;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *sink;
  GError *error = NULL;
  GstPad *pad;
  guint results = 0;
  gboolean ok;

  gst_init (&argc, &argv);
  if (argc != 2) {
    g_printerr ("usage: %s 'PIPELINE with an element named sink'\n", argv[0]);
    return 2;
  }
  pipeline = gst_parse_launch (argv[1], &error);
  if (pipeline == NULL) {
    g_printerr ("print-labels: %s\n", error->message);
    return 2;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (sink == NULL) {
    g_printerr ("print-labels: the pipeline has no element named 'sink'\n");
    return 2;
  }
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      on_data, &results, NULL);
  ok = run (pipeline);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_print ("print-labels: %u results\n", results);
  return ok && results > 0 ? 0 : 1;
}
