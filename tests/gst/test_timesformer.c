/* Tests of the timesformer element: GstHarness for the element alone, pipelines for the rest.
 * Models: TSF_TEST_MODELS (tests/models) and TSF_GST_SLOW_MODEL (slower than real time). */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>

#include "model-copy.h"
#include "frames-test-util.h"
#include "pipeline-test-util.h"

#ifdef HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define FRAME_DURATION TEST_FRAME_DURATION
#define SMALL_CAPS "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"

/* "timesformer model=<model> <properties>" in a harness, caps set. */
static GstHarness *
new_harness_for (const gchar *model, const gchar *properties)
{
  gchar *launch = g_strdup_printf ("timesformer model=\"%s\" %s", model, properties);
  GstHarness *h = gst_harness_new_parse (launch);

  gst_harness_set_src_caps_str (h, SMALL_CAPS);
  g_free (launch);
  return h;
}

/* The same with the test model "divided". */
static GstHarness *
new_harness (const gchar *properties)
{
  gchar *model = test_model_path ("divided");
  GstHarness *h = new_harness_for (model, properties);

  g_free (model);
  return h;
}

/* The results on a buffer, as structures (GstClipLabels), in attachment order. */
static GList *
buffer_results (GstBuffer *buffer)
{
  gpointer state = NULL;
  GstMeta *meta;
  GList *results = NULL;

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)))
    results = g_list_append (results,
        gst_clip_labels_meta_to_structure ((GstClipLabelsMeta *) meta));
  return results;
}

static guint64
structure_uint64 (const GstStructure *structure, const gchar *field)
{
  guint64 value = 0;

  fail_unless (gst_structure_get_uint64 (structure, field, &value), "no %s", field);
  return value;
}

static guint
structure_uint (const GstStructure *structure, const gchar *field)
{
  guint value = 0;

  fail_unless (gst_structure_get_uint (structure, field, &value), "no %s", field);
  return value;
}

/* Pushes frames first_index.. first_index + n - 1 through a sync harness; returns per frame index the results it got. */
static GList **
push_frames_collect (GstHarness *h, guint first_index, guint n)
{
  GList **per_frame = g_new0 (GList *, n);
  guint i;

  for (i = 0; i < n; i++) {
    GstBuffer *out;

    fail_unless_equals_int (gst_harness_push (h, test_new_frame (SMALL_CAPS, first_index + i)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    per_frame[i] = buffer_results (out);
    gst_buffer_unref (out);
  }
  return per_frame;
}

static void
free_per_frame (GList **per_frame, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    g_list_free_full (per_frame[i], (GDestroyNotify) gst_structure_free);
  g_free (per_frame);
}

/* With sync=true, clip k of (stride, frames, hop) completes at input frame
 * stride * (k * hop + frames - 1) and starts at stride * k * hop. */
static void
check_sampling (guint stride, guint frames, guint hop, guint n_frames)
{
  gchar *properties = g_strdup_printf ("sync=true frame-stride=%u num-frames=%u clip-hop=%u",
      stride, frames, hop);
  GstHarness *h = new_harness (properties);
  GList **per_frame = push_frames_collect (h, 0, n_frames);
  guint i, clip = 0;

  for (i = 0; i < n_frames; i++) {
    guint completing = stride * (clip * hop + frames - 1);

    if (i != completing) {
      fail_unless (per_frame[i] == NULL, "unexpected result on frame %u", i);
      continue;
    }
    fail_unless_equals_int (g_list_length (per_frame[i]), 1);
    {
      const GstStructure *r = per_frame[i]->data;

      fail_unless_equals_uint64 (structure_uint64 (r, "clip-index"), clip);
      fail_unless_equals_int (structure_uint (r, "num-frames"), frames);
      fail_unless_equals_uint64 (structure_uint64 (r, "first-pts"),
          stride * clip * hop * FRAME_DURATION);
      fail_unless_equals_uint64 (structure_uint64 (r, "last-pts"), i * FRAME_DURATION);
      fail_unless_equals_uint64 (structure_uint64 (r, "first-running-time"),
          stride * clip * hop * FRAME_DURATION);
      fail_unless_equals_uint64 (structure_uint64 (r, "last-running-time"),
          i * FRAME_DURATION);
      fail_unless_equals_string (gst_structure_get_string (r, "model"), "divided");
    }
    clip++;
  }
  fail_unless (clip >= 2, "too few frames for two clips");
  free_per_frame (per_frame, n_frames);
  gst_harness_teardown (h);
  g_free (properties);
}

GST_START_TEST (test_sampling_arithmetic)
{
  check_sampling (1, 4, 4, 12);     /* back to back */
  check_sampling (2, 4, 2, 30);     /* strided, overlapping by half */
  check_sampling (3, 2, 5, 40);     /* gaps between clips */
  check_sampling (1, 4, 1, 9);      /* a sliding window: one clip per frame */
}
GST_END_TEST;

/* The input frames (30 fps) on which the first `n` results arrive. */
static void
assert_results_on_frames (const gchar *model, const gchar *properties, const guint *frames,
    guint n)
{
  GstHarness *h = new_harness_for (model, properties);
  guint last = frames[n - 1] + 1, i, k = 0;
  GList **per_frame = push_frames_collect (h, 0, last);

  for (i = 0; i < last; i++) {
    if (per_frame[i] == NULL)
      continue;
    fail_unless (k < n && i == frames[k], "%s: a result on frame %u", properties, i);
    k++;
  }
  fail_unless_equals_int (k, n);
  free_per_frame (per_frame, last);
  gst_harness_teardown (h);
}

static GString *sampling_log;

static void
keep_sampling_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message,
    gpointer user_data)
{
  const gchar *text = gst_debug_message_get (message);

  if (g_str_equal (gst_debug_category_get_name (category), "timesformer")
      && g_str_has_prefix (text, "sampling "))
    g_string_append_printf (sampling_log, "%s\n", text);
}

/* With no property the model's own sampling is used (and logged); frame-stride still wins;
 * a model that states none gets 8x32. */
GST_START_TEST (test_sampling_from_the_model)
{
  gchar *plain = test_model_path ("divided");
  gchar *model = test_model_copy (plain, "\"sampling\": {\"frame_stride\": 2, \"fps\": 30}",
      NULL);
  const guint strided[] = { 6, 14 }, every[] = { 3, 7 }, paper[] = { 96 };

  sampling_log = g_string_new (NULL);
  gst_debug_set_threshold_for_name ("timesformer", GST_LEVEL_INFO);
  gst_debug_add_log_function (keep_sampling_log, NULL, NULL);
  assert_results_on_frames (model, "sync=true", strided, 2);
  fail_unless (strstr (sampling_log->str, "sampling by time: 4 frames 0.067 s apart, a clip of "
          "0.267 s, a new clip every 4 (the model's: 4x2 at 30 fps (stated by the model))"),
      "%s", sampling_log->str);
  assert_results_on_frames (model, "sync=true sampling=frames", strided, 2);
  assert_results_on_frames (model, "sync=true frame-stride=1", every, 2);
  fail_unless (strstr (sampling_log->str, "(frame-stride=1; the model: 4x2 at 30 fps"),
      "%s", sampling_log->str);
  assert_results_on_frames (plain, "sync=true", paper, 1);
  fail_unless (strstr (sampling_log->str, "(the model's: 4x32 at 30 fps (the default: the "
          "model states none))"), "%s", sampling_log->str);
  gst_debug_remove_log_function (keep_sampling_log);
  gst_debug_set_threshold_for_name ("timesformer", GST_LEVEL_WARNING);
  g_string_free (sampling_log, TRUE);
  test_model_copy_remove (model);
  g_free (plain);
}
GST_END_TEST;

/* The labels (ids and scores, serialized) of the one-frame clip of frame 5. */
static gchar *
one_frame_labels (const gchar *model, const gchar *properties)
{
  gchar *all = g_strdup_printf ("sync=true frame-stride=1 num-frames=1 top-k=10 %s",
      properties);
  GstHarness *h = new_harness_for (model, all);
  GList **per_frame = push_frames_collect (h, 5, 1);
  gchar *labels;

  fail_unless (per_frame[0] != NULL, "%s: no result", properties);
  labels = gst_value_serialize (gst_structure_get_value (per_frame[0]->data, "labels"));
  free_per_frame (per_frame, 1);
  gst_harness_teardown (h);
  g_free (all);
  return labels;
}

/* channel-order and fit change what the model sees; a model that states BGR gets BGR. */
GST_START_TEST (test_channel_order_and_fit)
{
  gchar *model = test_model_path ("divided");
  gchar *bgr_model = test_model_copy (model, NULL, "{\"channel_order\": \"bgr\"}");
  gchar *rgb = one_frame_labels (model, ""), *bgr = one_frame_labels (model, "channel-order=bgr");
  gchar *stated = one_frame_labels (bgr_model, "");
  gchar *forced = one_frame_labels (bgr_model, "channel-order=rgb");
  gchar *letterbox = one_frame_labels (model, "fit=letterbox");
  gchar *stretch = one_frame_labels (model, "fit=stretch");

  fail_if (g_str_equal (rgb, bgr), "the channel order changed nothing");
  fail_unless_equals_string (stated, bgr);
  fail_unless_equals_string (forced, rgb);
  fail_if (g_str_equal (rgb, letterbox) || g_str_equal (rgb, stretch)
      || g_str_equal (letterbox, stretch), "the fit changed nothing");
  g_free (rgb);
  g_free (bgr);
  g_free (stated);
  g_free (forced);
  g_free (letterbox);
  g_free (stretch);
  test_model_copy_remove (bgr_model);
  g_free (model);
}
GST_END_TEST;

/* The results sent downstream at EOS, as structures. */
static GList *
push_eos_collect (GstHarness *h)
{
  GList *results = NULL;
  GstEvent *event;

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    const GstStructure *s = gst_clip_labels_event_get_structure (event);

    if (s != NULL)
      results = g_list_append (results, gst_structure_copy (s));
    gst_event_unref (event);
  }
  return results;
}

/* Two frames of a 4-frame clip, then EOS: one result, 2 real frames; none with
 * pad-at-eos=false. */
GST_START_TEST (test_short_stream_padded_at_eos)
{
  GstHarness *h = new_harness ("sync=true frame-stride=1");
  GList **per_frame = push_frames_collect (h, 0, 2), *results;
  const GstStructure *r;

  fail_unless (per_frame[0] == NULL && per_frame[1] == NULL);
  free_per_frame (per_frame, 2);
  results = push_eos_collect (h);
  fail_unless_equals_int (g_list_length (results), 1);
  r = results->data;
  fail_unless_equals_int (structure_uint (r, "num-frames"), 4);
  fail_unless_equals_int (structure_uint (r, "real-frames"), 2);
  fail_unless_equals_uint64 (structure_uint64 (r, "first-pts"), 0);
  fail_unless_equals_uint64 (structure_uint64 (r, "last-pts"), FRAME_DURATION);
  g_list_free_full (results, (GDestroyNotify) gst_structure_free);
  gst_harness_teardown (h);

  h = new_harness ("sync=true frame-stride=1 pad-at-eos=false");
  per_frame = push_frames_collect (h, 0, 2);
  free_per_frame (per_frame, 2);
  fail_unless (push_eos_collect (h) == NULL);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_labels_and_threshold)
{
  GstHarness *h = new_harness ("sync=true frame-stride=1 top-k=3");
  GList **per_frame = push_frames_collect (h, 0, 4);
  const GstStructure *r = per_frame[3]->data;
  const GValue *labels = gst_structure_get_value (r, "labels");
  gfloat previous = 1.0f, score;
  GstElement *element;
  guint i;

  fail_unless_equals_int (gst_value_array_get_size (labels), 3);
  for (i = 0; i < 3; i++) {
    const GstStructure *label = gst_value_get_structure (gst_value_array_get_value (labels, i));

    fail_unless (gst_structure_get (label, "score", G_TYPE_FLOAT, &score, NULL));
    fail_unless (score <= previous && score > 0.0f);
    previous = score;
  }
  free_per_frame (per_frame, 4);

  /* A threshold above every score leaves a result without labels. */
  element = gst_harness_find_element (h, "timesformer");
  g_object_set (element, "threshold", 0.99f, NULL);
  gst_object_unref (element);
  per_frame = push_frames_collect (h, 4, 4);
  labels = gst_structure_get_value (per_frame[3]->data, "labels");
  fail_unless_equals_int (gst_value_array_get_size (labels), 0);
  free_per_frame (per_frame, 4);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_pixels_unchanged_and_meta_not_on_shared_buffer)
{
  GstHarness *h = new_harness ("sync=true frame-stride=1 num-frames=1");
  GstBuffer *in = test_new_frame (SMALL_CAPS, 5), *kept = gst_buffer_copy_deep (in), *out;
  GstMapInfo a, b;

  gst_buffer_ref (in);          /* shared: the element must not put its meta on it */
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (gst_buffer_get_clip_labels_meta (out) != NULL);
  fail_unless (gst_buffer_get_clip_labels_meta (in) == NULL);
  gst_buffer_map (out, &a, GST_MAP_READ);
  gst_buffer_map (kept, &b, GST_MAP_READ);
  fail_unless_equals_uint64 (a.size, b.size);
  fail_unless (memcmp (a.data, b.data, a.size) == 0);
  gst_buffer_unmap (out, &a);
  gst_buffer_unmap (kept, &b);
  gst_buffer_unref (out);
  gst_buffer_unref (kept);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_flush_clears_window)
{
  GstHarness *h = new_harness ("sync=true frame-stride=1 num-frames=4");
  GList **per_frame = push_frames_collect (h, 0, 3);
  GstSegment segment;

  free_per_frame (per_frame, 3);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));

  /* The three frames before the flush do not count: the first clip is frames 10..13. */
  per_frame = push_frames_collect (h, 10, 4);
  fail_unless (per_frame[0] == NULL && per_frame[1] == NULL && per_frame[2] == NULL);
  fail_unless_equals_int (g_list_length (per_frame[3]), 1);
  fail_unless_equals_uint64 (structure_uint64 (per_frame[3]->data, "first-pts"),
      10 * FRAME_DURATION);
  free_per_frame (per_frame, 4);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_caps_change_resets_window)
{
  GstHarness *h = new_harness ("sync=true frame-stride=1 num-frames=4");
  const gchar *other_caps = "video/x-raw,format=I420,width=80,height=60,framerate=30/1";
  GList *results = NULL;
  guint i;

  free_per_frame (push_frames_collect (h, 0, 2), 2);
  gst_harness_set_src_caps_str (h, other_caps);
  for (i = 2; i < 6; i++) {
    GstBuffer *out;

    fail_unless_equals_int (gst_harness_push (h, test_new_frame (other_caps, i)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    results = g_list_concat (results, buffer_results (out));
    fail_unless ((results != NULL) == (i == 5), "result on frame %u", i);
    gst_buffer_unref (out);
  }
  fail_unless_equals_uint64 (structure_uint64 (results->data, "first-pts"), 2 * FRAME_DURATION);
  g_list_free_full (results, (GDestroyNotify) gst_structure_free);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Latency reported downstream of the element, as a sink would ask for it. */
static GstClockTime
harness_min_latency (GstHarness *h)
{
  GstQuery *query = gst_query_new_latency ();
  GstClockTime min = GST_CLOCK_TIME_NONE;

  fail_unless (gst_pad_peer_query (h->sinkpad, query));
  gst_query_parse_latency (query, NULL, &min, NULL);
  gst_query_unref (query);
  return min;
}

GST_START_TEST (test_sync_adds_latency)
{
  GstHarness *async = new_harness ("sync=false");
  GstHarness *sync = new_harness ("sync=true");

  fail_unless_equals_uint64 (harness_min_latency (async), 0);
  fail_unless (harness_min_latency (sync) > 0);
  gst_harness_teardown (async);
  gst_harness_teardown (sync);
}
GST_END_TEST;

/* ---- Pipelines ---- */

typedef struct {
  GMutex lock;
  GPtrArray *buffer_results;  /* GstStructure, from metas at the sink */
  GPtrArray *event_results;   /* GstStructure, from custom events at the sink */
  GArray *result_buffer_pts;  /* PTS of the buffers that carried a result */
  GArray *lags;               /* per buffer: clock running time - buffer running time */
  GstElement *pipeline;
  gboolean eos;
  gboolean result_after_eos;
} Collected;

static void
collected_init (Collected *c, GstElement *pipeline)
{
  g_mutex_init (&c->lock);
  c->buffer_results = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  c->event_results = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  c->result_buffer_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  c->lags = g_array_new (FALSE, FALSE, sizeof (GstClockTimeDiff));
  c->pipeline = pipeline;
  c->eos = FALSE;
  c->result_after_eos = FALSE;
}

static void
collected_clear (Collected *c)
{
  g_ptr_array_unref (c->buffer_results);
  g_ptr_array_unref (c->event_results);
  g_array_unref (c->result_buffer_pts);
  g_array_unref (c->lags);
  g_mutex_clear (&c->lock);
}

static void
record_lag (Collected *c, GstBuffer *buffer)
{
  GstClock *clock = gst_element_get_clock (c->pipeline);
  GstClockTimeDiff lag;

  if (clock == NULL)
    return;
  lag = GST_CLOCK_DIFF (GST_BUFFER_PTS (buffer), gst_clock_get_time (clock)
      - gst_element_get_base_time (c->pipeline));
  g_array_append_val (c->lags, lag);
  gst_object_unref (clock);
}

static void
record_buffer (Collected *c, GstBuffer *buffer)
{
  GList *results = buffer_results (buffer), *l;

  record_lag (c, buffer);
  for (l = results; l != NULL; l = l->next) {
    g_ptr_array_add (c->buffer_results, l->data);
    g_array_append_val (c->result_buffer_pts, GST_BUFFER_PTS (buffer));
  }
  g_list_free (results);
}

static void
record_event (Collected *c, GstEvent *event)
{
  const GstStructure *result = gst_clip_labels_event_get_structure (event);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    c->eos = TRUE;
  if (result == NULL)
    return;
  c->result_after_eos |= c->eos;
  g_ptr_array_add (c->event_results, gst_structure_copy (result));
}

static GstPadProbeReturn
collect_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Collected *c = data;

  g_mutex_lock (&c->lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    record_buffer (c, GST_PAD_PROBE_INFO_BUFFER (info));
  else
    record_event (c, GST_PAD_PROBE_INFO_EVENT (info));
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

/* A model slower than real time. Under valgrind every model is: the small one keeps the time
 * bounded (and spares oneDNN's large-shape kernels, whose vector loads over-read). */
static gchar *
slow_model (void)
{
  if (RUNNING_ON_VALGRIND)
    return test_model_path ("divided");
  return g_strdup (g_getenv ("TSF_GST_SLOW_MODEL"));
}

/* Pipelines a test created; the fixture stops those a failed test left playing (without
 * forking, a failed test returns at once, and a source task left running would hang the next
 * gst_task_cleanup_all ()). */
static GPtrArray *test_pipelines;

static GstElement *
track_pipeline (GstElement *pipeline)
{
  if (pipeline != NULL)
    g_ptr_array_add (test_pipelines, gst_object_ref (pipeline));
  return pipeline;
}

static void
setup_pipelines (void)
{
  test_pipelines = g_ptr_array_new ();
}

static void
teardown_pipelines (void)
{
  guint i;

  for (i = 0; i < test_pipelines->len; i++) {
    gst_element_set_state (g_ptr_array_index (test_pipelines, i), GST_STATE_NULL);
    gst_object_unref (g_ptr_array_index (test_pipelines, i));
  }
  g_clear_pointer (&test_pipelines, g_ptr_array_unref);
}

/* A pipeline with @MODELS@ the test models' folder and @SLOW@ the slow model; its element
 * "sink" is probed. */
static GstElement *
new_pipeline (const gchar *description, Collected *c)
{
  gchar *slow = slow_model ();
  gchar **parts = g_strsplit (description, "@SLOW@", -1);
  gchar *launch = g_strjoinv (slow, parts);
  GstElement *pipeline = track_pipeline (test_parse_pipeline (launch));
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  collected_init (c, pipeline);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      collect_probe, c, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  g_strfreev (parts);
  g_free (launch);
  g_free (slow);
  return pipeline;
}

/* Plays to EOS (or for `duration`, then sends EOS); fails on an error message. */
static TestBusCounts
play_until_eos (GstElement *pipeline, GstClockTime duration)
{
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  return test_run_bus (pipeline, duration, TRUE, NULL, NULL);
}

static guint64
get_uint64_property (GstElement *pipeline, const gchar *element, const gchar *property)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  guint64 value = 0;

  g_object_get (e, property, &value, NULL);
  gst_object_unref (e);
  return value;
}

static void
stop_pipeline (GstElement *pipeline, Collected *c)
{
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
  collected_clear (c);
}

/* Async, not live, a model slower than the source: every clip is classified, none dropped,
 * and the results still pending at EOS arrive as events before EOS. */
GST_START_TEST (test_not_live_never_drops)
{
  guint clips = 4;
  gchar *description = g_strdup_printf ("videotestsrc num-buffers=%u ! "
      "video/x-raw,width=160,height=120 ! timesformer name=tsf model=@SLOW@ frame-stride=2 "
      "num-frames=4 ! fakesink name=sink", clips * 8);
  Collected c;
  GstElement *pipeline = new_pipeline (description, &c);
  TestBusCounts counts = play_until_eos (pipeline, GST_CLOCK_TIME_NONE);

  fail_unless_equals_int (counts.result_messages, clips);
  fail_unless_equals_int (c.buffer_results->len + c.event_results->len, clips);
  fail_unless (c.event_results->len >= 1, "the last clip's result must come at EOS");
  fail_if (c.result_after_eos);
  fail_unless_equals_uint64 (get_uint64_property (pipeline, "tsf", "clips-processed"), clips);
  fail_unless_equals_uint64 (get_uint64_property (pipeline, "tsf", "dropped-clips"), 0);
  stop_pipeline (pipeline, &c);
  g_free (description);
}
GST_END_TEST;

/* Sums the clips that the warnings of "tsf" say were skipped for non-finite logits. */
static gboolean
count_skipped_in_warnings (GstMessage *m, gpointer data)
{
  guint *skipped = data, n = 0;
  GError *error = NULL;

  if (GST_MESSAGE_TYPE (m) != GST_MESSAGE_WARNING)
    return FALSE;
  gst_message_parse_warning (m, &error, NULL);
  fail_unless_equals_string (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), "tsf");
  fail_unless (strstr (error->message, "logits are NaN or infinite") != NULL, "%s",
      error->message);
  fail_unless (sscanf (error->message, "Skipped %u clip", &n) == 1, "%s", error->message);
  *skipped += n;
  g_error_free (error);
  return FALSE;
}

/* A model whose weights hold an infinity: every clip's logits are not finite. Each clip is
 * skipped with a warning and counted; the pipeline runs to EOS (with sync too, whose timed
 * run at the start gives such logits as well). */
GST_START_TEST (test_non_finite_logits_warn_and_skip)
{
  const gchar *syncs[] = { "false", "true" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (syncs); i++) {
    gchar *description = g_strdup_printf ("videotestsrc num-buffers=16 ! " SMALL_CAPS " ! "
        "timesformer name=tsf model=@MODELS@/divided_inf_bias frame-stride=1 sync=%s ! "
        "fakesink name=sink", syncs[i]);
    Collected c;
    GstElement *pipeline = new_pipeline (description, &c);
    TestBusCounts counts;
    guint skipped = 0;

    fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
    counts = test_run_bus (pipeline, GST_CLOCK_TIME_NONE, TRUE, count_skipped_in_warnings,
        &skipped);
    fail_unless (counts.warning_messages >= 1);
    fail_unless_equals_int (skipped, 4);      /* 16 frames, 4 per clip */
    fail_unless_equals_uint64 (get_uint64_property (pipeline, "tsf", "skipped-clips"), 4);
    fail_unless_equals_uint64 (get_uint64_property (pipeline, "tsf", "clips-processed"), 0);
    fail_unless_equals_int (counts.result_messages, 0);
    fail_unless_equals_int (c.buffer_results->len + c.event_results->len, 0);
    fail_unless (c.eos);
    stop_pipeline (pipeline, &c);
    g_free (description);
  }
}
GST_END_TEST;

/* Async results come on a buffer after the clip's last frame, in clip order. */
GST_START_TEST (test_async_results_follow_their_clip)
{
  Collected c;
  GstElement *pipeline = new_pipeline ("videotestsrc num-buffers=60 ! " SMALL_CAPS " ! "
      "timesformer model=@MODELS@/divided frame-stride=1 max-pending=64 ! "
      "fakesink name=sink", &c);
  TestBusCounts counts = play_until_eos (pipeline, GST_CLOCK_TIME_NONE);
  guint i, total = c.buffer_results->len + c.event_results->len;

  fail_unless_equals_int (counts.result_messages, 15);
  fail_unless_equals_int (total, 15);
  for (i = 0; i < c.buffer_results->len; i++) {
    const GstStructure *r = g_ptr_array_index (c.buffer_results, i);

    fail_unless_equals_uint64 (structure_uint64 (r, "clip-index"), i);
    fail_unless (g_array_index (c.result_buffer_pts, GstClockTime, i)
        >= structure_uint64 (r, "last-pts"));
  }
  stop_pipeline (pipeline, &c);
}
GST_END_TEST;

static GstClockTimeDiff
average_lag (GArray *lags, guint from, guint to)
{
  GstClockTimeDiff sum = 0;
  guint i;

  for (i = from; i < to; i++)
    sum += g_array_index (lags, GstClockTimeDiff, i);
  return sum / (GstClockTimeDiff) (to - from);
}

/* Live source, a model slower than real time: clips are dropped, reported, and the latency of
 * the buffers at the sink stays flat. One session: valgrind runs one thread at a time, so
 * every busy inference thread takes a share from the streaming thread there. A clip of 2
 * frames every 2 frames: at 240 fps 8 ms for a clip that takes ~35 ms with the AVX-512
 * attention kernels (2 cores, AMD EPYC); under valgrind (no AVX-512, everything ~50 times
 * slower) 30 fps. */
GST_START_TEST (test_live_drops_keep_latency_flat)
{
  Collected c;
  gchar *description = g_strdup_printf ("videotestsrc is-live=true ! "
      "video/x-raw,width=160,height=120,framerate=%d/1 ! timesformer name=tsf model=@SLOW@ "
      "sampling=frames frame-stride=1 num-frames=2 max-pending=1 sessions=1 ! "
      "fakesink name=sink sync=false", RUNNING_ON_VALGRIND ? 30 : 240);
  GstElement *pipeline = new_pipeline (description, &c);
  TestBusCounts counts = play_until_eos (pipeline, 3 * GST_SECOND);
  guint n = c.lags->len;
  GstClockTimeDiff early, late;
  guint64 dropped = get_uint64_property (pipeline, "tsf", "dropped-clips");
  /* Valgrind slows the streaming thread itself: looser bounds there. */
  guint min_buffers = RUNNING_ON_VALGRIND ? 20 : 30;
  GstClockTimeDiff max_growth = (RUNNING_ON_VALGRIND ? 500 : 150) * GST_MSECOND;

  fail_unless (n >= min_buffers, "only %u buffers", n);
  early = average_lag (c.lags, 5, 15);
  late = average_lag (c.lags, n - 10, n);
  GST_INFO ("%u buffers, lag %" G_GINT64_FORMAT " ms early, %" G_GINT64_FORMAT " ms late, "
      "%" G_GUINT64_FORMAT " clips dropped", n, early / GST_MSECOND, late / GST_MSECOND, dropped);
  fail_unless (late - early < max_growth, "latency grew from %" G_GINT64_FORMAT
      " to %" G_GINT64_FORMAT " ms", early / GST_MSECOND, late / GST_MSECOND);
  fail_unless (dropped > 0);
  fail_unless_equals_int (counts.qos_messages, (gint) dropped);
  stop_pipeline (pipeline, &c);
  g_free (description);
}
GST_END_TEST;

GST_START_TEST (test_seek)
{
  Collected c;
  GstElement *pipeline = new_pipeline ("videotestsrc ! " SMALL_CAPS " ! "
      "timesformer model=@MODELS@/divided sync=true frame-stride=1 ! "
      "fakesink name=sink sync=false", &c);
  guint i;

  fail_if (gst_element_set_state (pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
          GST_SEEK_TYPE_SET, 10 * GST_SECOND, GST_SEEK_TYPE_SET, 11 * GST_SECOND));
  play_until_eos (pipeline, GST_CLOCK_TIME_NONE);

  /* 30 frames from 10 s: clips start at 10 s, running time starts again at 0. */
  g_mutex_lock (&c.lock);
  fail_unless (c.buffer_results->len >= 7);
  fail_unless_equals_uint64 (structure_uint64 (g_ptr_array_index (c.buffer_results, 0),
          "first-pts"), 10 * GST_SECOND);
  fail_unless_equals_uint64 (structure_uint64 (g_ptr_array_index (c.buffer_results, 0),
          "first-running-time"), 0);
  for (i = 0; i < c.buffer_results->len; i++)
    fail_unless (structure_uint64 (g_ptr_array_index (c.buffer_results, i), "first-pts")
        >= 10 * GST_SECOND);
  g_mutex_unlock (&c.lock);
  stop_pipeline (pipeline, &c);
}
GST_END_TEST;

#define N_CLASSES 10          /* of the model "divided" */

/* One sync clip of 4 frames of `format` at 321x241: every class's score. */
static void
classify_format (const gchar *format, gfloat scores[N_CLASSES])
{
  gchar *description = g_strdup_printf ("videotestsrc num-buffers=4 pattern=smpte ! "
      "video/x-raw,format=%s,width=321,height=241 ! timesformer model=@MODELS@/divided "
      "sync=true frame-stride=1 top-k=%d ! fakesink name=sink", format, N_CLASSES);
  Collected c;
  GstElement *pipeline = new_pipeline (description, &c);
  const GValue *labels;
  guint i;

  play_until_eos (pipeline, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (c.buffer_results->len, 1);
  labels = gst_structure_get_value (g_ptr_array_index (c.buffer_results, 0), "labels");
  fail_unless_equals_int (gst_value_array_get_size (labels), N_CLASSES);
  for (i = 0; i < N_CLASSES; i++) {
    const GstStructure *label = gst_value_get_structure (gst_value_array_get_value (labels, i));
    guint id = N_CLASSES;

    fail_unless (gst_structure_get_uint (label, "id", &id) && id < N_CLASSES);
    fail_unless (gst_structure_get (label, "score", G_TYPE_FLOAT, &scores[id], NULL));
  }
  stop_pipeline (pipeline, &c);
  g_free (description);
}

/* The same picture in another layout gives nearly the same scores (the converter's paths
 * round differently; YUV also subsamples the chroma and videotestsrc's YUV bars differ). */
static void
check_format_close (const gchar *format, const gfloat reference[N_CLASSES], gfloat tolerance)
{
  gfloat scores[N_CLASSES], distance = 0;
  guint i;

  classify_format (format, scores);
  for (i = 0; i < N_CLASSES; i++)
    distance += fabsf (scores[i] - reference[i]);
  GST_INFO ("%s: L1 distance to RGB %f", format, distance);
  fail_unless (distance < tolerance, "%s: scores %f away from RGB's", format, distance);
}

GST_START_TEST (test_formats_at_odd_size)
{
  const gchar *rgb[] = { "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB",
    "ABGR" };
  const gchar *yuv[] = { "I420", "YV12", "NV12", "NV21", "YUY2", "UYVY", "Y42B", "Y444" };
  /* Under valgrind one format of each family keeps the time bounded. */
  guint n_rgb = RUNNING_ON_VALGRIND ? 1 : G_N_ELEMENTS (rgb);
  guint n_yuv = RUNNING_ON_VALGRIND ? 1 : G_N_ELEMENTS (yuv);
  gfloat reference[N_CLASSES], grey[N_CLASSES];
  guint i;

  classify_format ("RGB", reference);
  for (i = 0; i < n_rgb; i++)
    check_format_close (rgb[i], reference, 0.02f);
  for (i = 0; i < n_yuv; i++)
    check_format_close (yuv[i], reference, 0.15f);
  classify_format ("GRAY8", grey);
}
GST_END_TEST;

GST_START_TEST (test_two_elements)
{
  Collected c;
  GstElement *pipeline = new_pipeline ("videotestsrc num-buffers=16 ! " SMALL_CAPS " ! "
      "timesformer name=a model=@MODELS@/divided sync=true frame-stride=1 ! "
      "timesformer name=b model=@MODELS@/divided_hd64 sync=true frame-stride=2 ! "
      "fakesink name=sink", &c);
  guint i, from_a = 0, from_b = 0;

  play_until_eos (pipeline, GST_CLOCK_TIME_NONE);
  for (i = 0; i < c.buffer_results->len; i++) {
    const gchar *producer = gst_structure_get_string (g_ptr_array_index (c.buffer_results, i),
        "producer");

    from_a += g_strcmp0 (producer, "a") == 0;
    from_b += g_strcmp0 (producer, "b") == 0;
  }
  fail_unless_equals_int (from_a, 4);   /* 16 frames, 4 per clip */
  fail_unless_equals_int (from_b, 1);   /* 8 sampled frames, 8 per clip */
  stop_pipeline (pipeline, &c);
}
GST_END_TEST;

GST_START_TEST (test_meta_survives_queue_tee_and_convert)
{
  Collected c, converted;
  GstElement *pipeline = new_pipeline ("videotestsrc num-buffers=8 ! " SMALL_CAPS " ! "
      "timesformer model=@MODELS@/divided sync=true frame-stride=1 ! queue ! tee name=t "
      "t. ! queue ! fakesink name=sink "
      "t. ! queue ! videoconvert ! videoscale ! video/x-raw,format=I420,width=32,height=24 ! "
      "fakesink name=converted", &c);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "converted");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  collected_init (&converted, pipeline);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_probe, &converted, NULL);
  play_until_eos (pipeline, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (c.buffer_results->len, 2);
  fail_unless_equals_int (converted.buffer_results->len, 2);
  fail_unless (gst_structure_is_equal (g_ptr_array_index (c.buffer_results, 1),
          g_ptr_array_index (converted.buffer_results, 1)));
  gst_object_unref (pad);
  gst_object_unref (sink);
  stop_pipeline (pipeline, &c);
  collected_clear (&converted);
}
GST_END_TEST;

GST_START_TEST (test_state_cycling)
{
  gchar *model = test_model_path ("divided");
  gchar *launch = g_strdup_printf ("videotestsrc is-live=true ! " SMALL_CAPS " ! "
      "timesformer model=%s frame-stride=1 ! fakesink", model);
  GstElement *pipeline = track_pipeline (gst_parse_launch (launch, NULL));
  GstBus *bus = gst_element_get_bus (pipeline);
  guint i;

  for (i = 0; i < 3; i++) {
    fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
    fail_unless (gst_element_get_state (pipeline, NULL, NULL, 5 * GST_SECOND)
        == GST_STATE_CHANGE_SUCCESS);
    g_usleep (300 * 1000);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
  }
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING) == NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (launch);
  g_free (model);
}
GST_END_TEST;

/* The state change fails and the error names the model and the engine's reason.
 * model_property NULL: the model property set to NULL (no model at all; the default is the
 * shipped model). */
static void
check_bad_model (const gchar *model_property, const gchar *expected_in_message)
{
  gchar *launch = g_strdup_printf ("videotestsrc ! timesformer name=tsf %s ! fakesink",
      model_property ? model_property : "");
  GstElement *pipeline = track_pipeline (gst_parse_launch (launch, NULL));
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *m;
  GError *error = NULL;
  gchar *debug = NULL, *text;

  if (model_property == NULL) {
    GstElement *tsf = gst_bin_get_by_name (GST_BIN (pipeline), "tsf");
    g_object_set (tsf, "model", NULL, NULL);
    gst_object_unref (tsf);
  }

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL);
  gst_message_parse_error (m, &error, &debug);
  text = g_strdup_printf ("%s %s", error->message, debug ? debug : "");
  fail_unless (strstr (text, expected_in_message) != NULL, "'%s' not in: %s",
      expected_in_message, text);
  g_free (text);
  g_free (debug);
  g_error_free (error);
  gst_message_unref (m);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (launch);
}

GST_START_TEST (test_bad_model)
{
  gchar *dir = g_dir_make_tmp ("tsf-bad-model-XXXXXX", NULL);
  gchar *config = g_build_filename (dir, "config.json", NULL);
  gchar *property = g_strdup_printf ("model=%s", dir);

  check_bad_model ("model=/nonexistent/model", "/nonexistent/model");
  check_bad_model (NULL, "model");
  /* The engine's reason, not only the path, reaches the user. */
  fail_unless (g_file_set_contents (config, "{ \"image_size\": ", -1, NULL));
  check_bad_model (property, "config.json");
  g_unlink (config);
  g_rmdir (dir);
  g_free (property);
  g_free (config);
  g_free (dir);
}
GST_END_TEST;

static gchar *
checkpoint_file (const gchar *name)
{
  return g_build_filename (g_getenv ("TSF_CHECKPOINTS"), "models", name, NULL);
}

/* The labels of the result on the 4th frame (a 4-frame clip, stride 1). */
static const GValue *
fourth_frame_labels (GList **per_frame)
{
  fail_unless_equals_int (g_list_length (per_frame[3]), 1);
  return gst_structure_get_value (per_frame[3]->data, "labels");
}

/* An official .pyth checkpoint (no config.json) with num-heads and a labels file gives the
 * scores of the same model as safetensors, under the file's labels. */
GST_START_TEST (test_pyth_checkpoint_with_labels)
{
  gchar *pyth = checkpoint_file ("divided.pyth");
  gchar *labels_file = checkpoint_file ("divided.labels.txt");
  gchar *properties = g_strdup_printf ("sync=true frame-stride=1 top-k=5 num-heads=4 "
      "labels=\"%s\"", labels_file);
  GstHarness *from_pyth = new_harness_for (pyth, properties);
  GstHarness *from_dir = new_harness ("sync=true frame-stride=1 top-k=5");
  GList **pyth_frames = push_frames_collect (from_pyth, 0, 4);
  GList **dir_frames = push_frames_collect (from_dir, 0, 4);
  const GValue *got = fourth_frame_labels (pyth_frames);
  const GValue *want = fourth_frame_labels (dir_frames);
  guint i;

  fail_unless_equals_int (gst_value_array_get_size (got), 5);
  fail_unless_equals_int (gst_value_array_get_size (want), 5);
  for (i = 0; i < 5; i++) {
    const GstStructure *g = gst_value_get_structure (gst_value_array_get_value (got, i));
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (want, i));
    guint id = structure_uint (g, "id");
    gfloat g_score, w_score;
    gchar *label = g_strdup_printf ("divided class %u", id);

    fail_unless_equals_int (id, structure_uint (w, "id"));
    fail_unless (gst_structure_get (g, "score", G_TYPE_FLOAT, &g_score, NULL));
    fail_unless (gst_structure_get (w, "score", G_TYPE_FLOAT, &w_score, NULL));
    fail_unless (fabsf (g_score - w_score) < 1e-5f, "%g != %g", g_score, w_score);
    fail_unless_equals_string (gst_structure_get_string (g, "label"), label);
    g_free (label);
  }
  free_per_frame (pyth_frames, 4);
  free_per_frame (dir_frames, 4);
  gst_harness_teardown (from_pyth);
  gst_harness_teardown (from_dir);
  g_free (properties);
  g_free (labels_file);
  g_free (pyth);
}
GST_END_TEST;

/* precision=int8 and bf16: model-info names it, and the clip's top score is close to f32's. */
GST_START_TEST (test_precision)
{
  const gchar *precisions[] = { "bf16", "int8" };
  GstHarness *reference = new_harness ("sync=true frame-stride=1 top-k=1");
  GList **want_frames = push_frames_collect (reference, 0, 4);
  const GstStructure *want = gst_value_get_structure (gst_value_array_get_value (
          fourth_frame_labels (want_frames), 0));
  gfloat want_score, got_score;
  guint i;

  fail_unless (gst_structure_get (want, "score", G_TYPE_FLOAT, &want_score, NULL));
  for (i = 0; i < G_N_ELEMENTS (precisions); i++) {
    gchar *properties = g_strdup_printf ("sync=true frame-stride=1 top-k=1 precision=%s",
        precisions[i]);
    gchar *expected = g_strdup_printf ("precision=(string)%s", precisions[i]);
    GstHarness *h = new_harness (properties);
    GList **got_frames = push_frames_collect (h, 0, 4);
    const GstStructure *got = gst_value_get_structure (gst_value_array_get_value (
            fourth_frame_labels (got_frames), 0));
    GstElement *element = gst_harness_find_element (h, "timesformer");
    gchar *info = NULL;

    g_object_get (element, "model-info", &info, NULL);
    fail_unless (strstr (info, expected) != NULL, "%s", info);
    fail_unless (gst_structure_get (got, "score", G_TYPE_FLOAT, &got_score, NULL));
    fail_unless (fabsf (got_score - want_score) < 0.05f, "%s: %g, f32 %g", precisions[i],
        got_score, want_score);
    g_free (info);
    gst_object_unref (element);
    free_per_frame (got_frames, 4);
    gst_harness_teardown (h);
    g_free (expected);
    g_free (properties);
  }
  free_per_frame (want_frames, 4);
  gst_harness_teardown (reference);
}
GST_END_TEST;

/* A copy of the test model "divided" whose recipe crops `crop` x `crop` pixels. */
static gchar *
model_with_crop (guint crop)
{
  gchar *source = g_build_filename (g_getenv ("TSF_TEST_MODELS"), "divided", NULL);
  gchar *preprocessor = g_strdup_printf ("{\"size\": {\"shortest_edge\": %u}, "
      "\"crop_size\": {\"height\": %u, \"width\": %u}}", crop, crop, crop);
  gchar *dir = test_model_copy (source, NULL, preprocessor);

  g_free (preprocessor);
  g_free (source);
  return dir;
}

/* A clip shape past max-clip-mb (or, by default, past half of the RAM: 16 GB of activations,
 * and on oneDNN's attention products terabytes of scores) fails the state change with the
 * sizes, before anything is allocated. */
GST_START_TEST (test_max_clip_mb)
{
  gchar *medium = model_with_crop (128), *huge = model_with_crop (8192);
  gchar *bounded = g_strdup_printf ("model=%s max-clip-mb=1", medium);
  gchar *unbounded = g_strdup_printf ("model=%s", huge);
  GstElement *e = gst_element_factory_make ("timesformer", NULL);
  guint mb;

  g_object_get (e, "max-clip-mb", &mb, NULL);
  fail_unless_equals_int (mb, 0);
  gst_object_unref (e);
  check_bad_model (bounded, "the bound (max_clip_bytes; by default half of the physical "
      "memory) is 1.0 MB (1048576 bytes)");
  check_bad_model (unbounded, "activations 16.1 GB (16106139688 bytes)");
  test_model_copy_remove (medium);
  test_model_copy_remove (huge);
  g_free (bounded);
  g_free (unbounded);
}
GST_END_TEST;

GST_START_TEST (test_bad_labels_file)
{
  gchar *pyth = checkpoint_file ("divided.pyth");
  gchar *property = g_strdup_printf ("model=\"%s\" num-heads=4 labels=/nonexistent/labels.txt",
      pyth);

  check_bad_model (property, "/nonexistent/labels.txt");
  g_free (property);
  g_free (pyth);
}
GST_END_TEST;

GST_START_TEST (test_bad_property_values_refused)
{
  GstElement *e = gst_element_factory_make ("timesformer", NULL);
  guint stride, top_k;
  gfloat threshold;
  gchar *roi;

  g_object_set (e, "roi", "10,20,100,50", NULL);
  ASSERT_WARNING (g_object_set (e, "frame-stride", 10001, NULL));
  ASSERT_WARNING (g_object_set (e, "top-k", 0, NULL));
  ASSERT_WARNING (g_object_set (e, "num-heads", 5000, NULL));
  ASSERT_WARNING (g_object_set (e, "threshold", 1.5f, NULL));
  ASSERT_WARNING (g_object_set (e, "roi", "10,20,-5,5", NULL));
  ASSERT_WARNING (g_object_set (e, "roi", "left half", NULL));
  g_object_get (e, "frame-stride", &stride, "top-k", &top_k, "threshold", &threshold,
      "roi", &roi, NULL);
  fail_unless_equals_int (stride, 0);
  fail_unless_equals_int (top_k, 5);
  fail_unless_equals_float (threshold, 0.0f);
  fail_unless_equals_string (roi, "10,20,100,50");
  g_free (roi);
  gst_object_unref (e);
}
GST_END_TEST;

/* Every property documented as READY-only is refused while playing (old value kept); a
 * PLAYING-mutable one still changes; in NULL they change again. */
GST_START_TEST (test_ready_only_properties_refused_while_playing)
{
  GstHarness *h = new_harness ("sync=true frame-stride=4 roi=1,2,30,40");
  GstElement *e = gst_harness_find_element (h, "timesformer");
  guint stride, frames, hop, heads, mb, top_k, sessions, max_pending;
  gint threads, sampling, old_sampling, fit, old_fit, order, old_order;
  gboolean sync, shared, pad;
  gchar *model, *roi, *labels, *old_model;

  g_object_get (e, "model", &old_model, "sampling", &old_sampling, "fit", &old_fit,
      "channel-order", &old_order, NULL);
  fail_unless (GST_STATE (e) == GST_STATE_PLAYING);
  /* the sampling, scheduler and frame-fitting properties are READY-only too */
  gst_util_set_object_arg (G_OBJECT (e), "sampling", "frames");
  gst_util_set_object_arg (G_OBJECT (e), "fit", "stretch");
  gst_util_set_object_arg (G_OBJECT (e), "channel-order", "bgr");
  g_object_set (e, "sessions", 3, "shared-model", FALSE, "pad-at-eos", FALSE,
      "max-pending", 4, NULL);
  g_object_get (e, "sampling", &sampling, "fit", &fit, "channel-order", &order,
      "sessions", &sessions, "shared-model", &shared, "pad-at-eos", &pad,
      "max-pending", &max_pending, NULL);
  fail_unless_equals_int (sampling, old_sampling);
  fail_unless_equals_int (fit, old_fit);
  fail_unless_equals_int (order, old_order);
  fail_unless_equals_int (sessions, 0);
  fail_unless (shared);
  fail_if (pad);                          /* changeable while playing */
  fail_unless_equals_int (max_pending, 4);
  g_object_set (e, "model", "/elsewhere", "frame-stride", 7, "num-frames", 2, "clip-hop", 3,
      "roi", "0,0,8,8", "sync", FALSE, "threads", 1, "labels", "/labels.txt",
      "num-heads", 3, "max-clip-mb", 5, "top-k", 2, NULL);
  g_object_get (e, "model", &model, "frame-stride", &stride, "num-frames", &frames,
      "clip-hop", &hop, "roi", &roi, "sync", &sync, "threads", &threads, "labels", &labels,
      "num-heads", &heads, "max-clip-mb", &mb, "top-k", &top_k, NULL);
  fail_unless_equals_string (model, old_model);
  fail_unless_equals_int (stride, 4);
  fail_unless_equals_int (frames, 0);
  fail_unless_equals_int (hop, 0);
  fail_unless_equals_string (roi, "1,2,30,40");
  fail_unless (sync);
  fail_unless_equals_int (threads, 0);
  fail_unless (labels == NULL);
  fail_unless_equals_int (heads, 0);
  fail_unless_equals_int (mb, 0);
  fail_unless_equals_int (top_k, 2);
  g_free (model);
  g_free (roi);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  g_object_set (e, "frame-stride", 7, NULL);
  g_object_get (e, "frame-stride", &stride, NULL);
  fail_unless_equals_int (stride, 7);
  g_free (old_model);
  gst_object_unref (e);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* The labels of the one-frame clip of the first frame, classified with `roi`. */
static gchar *
first_clip_labels (const gchar *roi)
{
  gchar *properties = g_strdup_printf ("sync=true frame-stride=1 num-frames=1 roi=%s", roi);
  GstHarness *h = new_harness (properties);
  GList **frames = push_frames_collect (h, 0, 1);
  gchar *labels;

  fail_unless (frames[0] != NULL);
  labels = gst_value_serialize (gst_structure_get_value (frames[0]->data, "labels"));
  free_per_frame (frames, 1);
  gst_harness_teardown (h);
  g_free (properties);
  return labels;
}

/* A huge width and height clip to the frame's edge without overflowing x + w: the same region
 * as the clipped ROI; values past G_MAXINT or with a sign are refused. */
GST_START_TEST (test_roi_arithmetic)
{
  GstElement *e = gst_element_factory_make ("timesformer", NULL);
  gchar *huge = first_clip_labels ("10,10,2147483647,2147483647");
  gchar *clipped = first_clip_labels ("10,10,54,38");
  gchar *whole = first_clip_labels ("0,0,64,48");
  gchar *roi;

  fail_unless_equals_string (huge, clipped);
  fail_if (g_str_equal (clipped, whole), "the ROI made no difference: %s", whole);
  ASSERT_WARNING (g_object_set (e, "roi", "0,0,4294967296,10", NULL));
  ASSERT_WARNING (g_object_set (e, "roi", "0,0,2147483648,10", NULL));
  ASSERT_WARNING (g_object_set (e, "roi", "+1,0,2,2", NULL));
  ASSERT_WARNING (g_object_set (e, "roi", "1,0,2,2,", NULL));
  ASSERT_WARNING (g_object_set (e, "roi", "1, 0,2,2", NULL));
  g_object_set (e, "roi", "0,0,2147483647,1", NULL);
  g_object_get (e, "roi", &roi, NULL);
  fail_unless_equals_string (roi, "0,0,2147483647,1");
  g_free (roi);
  g_free (huge);
  g_free (clipped);
  g_free (whole);
  gst_object_unref (e);
}
GST_END_TEST;

GST_START_TEST (test_roi)
{
  /* The left half of the frame differs from the right: a ROI on each gives other results. */
  GstHarness *left = new_harness ("sync=true frame-stride=1 num-frames=1 roi=0,0,32,48");
  GstHarness *right = new_harness ("sync=true frame-stride=1 num-frames=1 roi=32,0,32,48");
  GList **l = push_frames_collect (left, 0, 1), **r = push_frames_collect (right, 0, 1);

  fail_unless (l[0] != NULL && r[0] != NULL);
  fail_if (gst_structure_is_equal (gst_value_get_structure (gst_value_array_get_value
              (gst_structure_get_value (l[0]->data, "labels"), 0)),
          gst_value_get_structure (gst_value_array_get_value (gst_structure_get_value
                  (r[0]->data, "labels"), 0))));
  free_per_frame (l, 1);
  free_per_frame (r, 1);
  gst_harness_teardown (left);
  gst_harness_teardown (right);
}
GST_END_TEST;

static Suite *
timesformer_suite (void)
{
  Suite *suite = suite_create ("timesformer");
  TCase *harness = tcase_create ("harness");
  TCase *pipelines = tcase_create ("pipelines");

  tcase_set_timeout (harness, 120);
  tcase_set_timeout (pipelines, 300);
  tcase_add_checked_fixture (pipelines, setup_pipelines, teardown_pipelines);
  suite_add_tcase (suite, harness);
  suite_add_tcase (suite, pipelines);
  tcase_add_test (harness, test_sampling_arithmetic);
  tcase_add_test (harness, test_sampling_from_the_model);
  tcase_add_test (harness, test_short_stream_padded_at_eos);
  tcase_add_test (harness, test_channel_order_and_fit);
  tcase_add_test (harness, test_labels_and_threshold);
  tcase_add_test (harness, test_pixels_unchanged_and_meta_not_on_shared_buffer);
  tcase_add_test (harness, test_flush_clears_window);
  tcase_add_test (harness, test_caps_change_resets_window);
  tcase_add_test (harness, test_sync_adds_latency);
  tcase_add_test (harness, test_bad_property_values_refused);
  tcase_add_test (harness, test_roi);
  tcase_add_test (harness, test_roi_arithmetic);
  tcase_add_test (harness, test_ready_only_properties_refused_while_playing);
  tcase_add_test (harness, test_pyth_checkpoint_with_labels);
  /* valgrind emulates no AVX-512: oneDNN refuses bf16 there */
  if (!RUNNING_ON_VALGRIND)
    tcase_add_test (harness, test_precision);
  tcase_add_test (pipelines, test_not_live_never_drops);
  tcase_add_test (pipelines, test_non_finite_logits_warn_and_skip);
  tcase_add_test (pipelines, test_async_results_follow_their_clip);
  tcase_add_test (pipelines, test_live_drops_keep_latency_flat);
  tcase_add_test (pipelines, test_seek);
  tcase_add_test (pipelines, test_formats_at_odd_size);
  tcase_add_test (pipelines, test_two_elements);
  tcase_add_test (pipelines, test_meta_survives_queue_tee_and_convert);
  tcase_add_test (pipelines, test_state_cycling);
  tcase_add_test (pipelines, test_bad_model);
  tcase_add_test (pipelines, test_bad_labels_file);
  tcase_add_test (pipelines, test_max_clip_mb);
  return suite;
}

GST_CHECK_MAIN (timesformer);
