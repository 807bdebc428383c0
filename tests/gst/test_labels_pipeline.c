/* labellog and labeloverlay after a real timesformer (test model labels50, from
 * TSF_TEST_MODELS): the log holds exactly the results posted on the bus, none lost at EOS, none
 * twice; the overlay draws the results on the video. */
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include "labels-test-util.h"

/* 4 frames per clip, frame-stride=1: 40 frames make 10 clips. */
#define FRAMES 40
#define CLIPS 10

static gchar *
model_dir (void)
{
  const gchar *models = g_getenv ("TSF_TEST_MODELS");

  fail_unless (models != NULL, "TSF_TEST_MODELS is not set");
  return g_build_filename (models, "labels50", NULL);
}

/* Runs the pipeline to EOS; returns the results timesformer posted on the bus. */
static GPtrArray *
run_collecting_results (GstElement *pipeline)
{
  GPtrArray *results = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  GstBus *bus = gst_element_get_bus (pipeline);
  gboolean done = FALSE;

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  while (!done) {
    GstMessage *message = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    const GstStructure *s;

    fail_unless (message != NULL, "no EOS after 120 s");
    fail_if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR, "error from %s",
        GST_MESSAGE_SRC_NAME (message));
    done = GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS;
    s = gst_message_get_structure (message);
    if (s != NULL && gst_structure_has_name (s, GST_CLIP_LABELS_STRUCTURE_NAME))
      g_ptr_array_add (results, gst_structure_copy (s));
    gst_message_unref (message);
  }
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
  return results;
}

static JsonObject *
find_logged (GPtrArray *lines, guint64 clip_index)
{
  guint i;

  for (i = 0; i < lines->len; i++) {
    JsonObject *line = g_ptr_array_index (lines, i);

    if ((guint64) json_object_get_int_member (line, "clip_index") == clip_index)
      return line;
  }
  return NULL;
}

/* The logged line holds the posted result: model, producer, times and every label exactly. */
static void
assert_line_matches (JsonObject *line, const GstStructure *posted)
{
  const GValue *labels = gst_structure_get_value (posted, "labels");
  JsonArray *logged = json_object_get_array_member (line, "labels");
  guint64 last_pts = 0;
  guint i;

  fail_unless_equals_string (json_object_get_string_member (line, "model"),
      gst_structure_get_string (posted, "model"));
  fail_unless_equals_string (json_object_get_string_member (line, "producer"),
      gst_structure_get_string (posted, "producer"));
  fail_unless (gst_structure_get_uint64 (posted, "last-pts", &last_pts));
  fail_unless_equals_int64 (json_object_get_int_member (line, "last_pts"), last_pts);
  fail_unless_equals_int (json_array_get_length (logged), gst_value_array_get_size (labels));
  for (i = 0; i < json_array_get_length (logged); i++) {
    const GstStructure *label = gst_value_get_structure (gst_value_array_get_value (labels, i));
    JsonObject *entry = json_array_get_object_element (logged, i);
    guint id = 0;
    gfloat score = 0;

    gst_structure_get_uint (label, "id", &id);
    gst_structure_get (label, "score", G_TYPE_FLOAT, &score, NULL);
    fail_unless_equals_int64 (json_object_get_int_member (entry, "id"), id);
    fail_unless_equals_string (json_object_get_string_member (entry, "label"),
        gst_structure_get_string (label, "label"));
    fail_unless_equals_float ((gfloat) json_object_get_double_member (entry, "score"), score);
  }
}

/* Asynchronous timesformer: some results come only with the event at EOS. Both copies of the
 * stream made by the tee reach the log through the funnel. */
GST_START_TEST (test_log_holds_every_posted_result_once)
{
  gchar *dir = g_dir_make_tmp ("labels-pipeline-XXXXXX", NULL);
  gchar *log = g_build_filename (dir, "log.jsonl", NULL);
  gchar *model = model_dir ();
  gchar *launch = g_strdup_printf ("videotestsrc num-buffers=%d ! video/x-raw,width=64,height=48 "
      "! timesformer model=\"%s\" frame-stride=1 ! tee name=t ! queue ! funnel name=f "
      "! labellog location=\"%s\" ! fakesink t. ! queue ! f.", FRAMES, model, log);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GPtrArray *posted, *lines;
  guint i;

  fail_unless (pipeline != NULL);
  posted = run_collecting_results (pipeline);
  lines = test_read_json_lines (log);
  fail_unless_equals_int (posted->len, CLIPS);
  fail_unless_equals_int (lines->len, CLIPS);
  for (i = 0; i < posted->len; i++) {
    const GstStructure *result = g_ptr_array_index (posted, i);
    guint64 clip_index = G_MAXUINT64;
    JsonObject *line;

    fail_unless (gst_structure_get_uint64 (result, "clip-index", &clip_index));
    line = find_logged (lines, clip_index);
    fail_unless (line != NULL, "clip %" G_GUINT64_FORMAT " not logged", clip_index);
    assert_line_matches (line, result);
  }

  g_ptr_array_unref (lines);
  g_ptr_array_unref (posted);
  gst_object_unref (pipeline);
  g_unlink (log);
  g_rmdir (dir);
  g_free (launch);
  g_free (model);
  g_free (log);
  g_free (dir);
}
GST_END_TEST;

/* The last frame out of labeloverlay, and the region it reported for it. */
typedef struct {
  GstElement *overlay;
  GstSample *sample;
  gint x, y, w, h;
} LastFrame;

static GstFlowReturn
keep_last_frame (GstElement *appsink, gpointer data)
{
  LastFrame *last = data;
  GValue region = G_VALUE_INIT;
  GstSample *sample = NULL;

  g_signal_emit_by_name (appsink, "pull-sample", &sample);
  if (last->sample != NULL)
    gst_sample_unref (last->sample);
  last->sample = sample;
  g_object_get_property (G_OBJECT (last->overlay), "region", &region);
  last->x = g_value_get_int (gst_value_array_get_value (&region, 0));
  last->y = g_value_get_int (gst_value_array_get_value (&region, 1));
  last->w = g_value_get_int (gst_value_array_get_value (&region, 2));
  last->h = g_value_get_int (gst_value_array_get_value (&region, 3));
  g_value_unset (&region);
  return GST_FLOW_OK;
}

/* On a plain frame, the last frame out of labeloverlay differs from the input inside the region
 * it reports, and only there. */
GST_START_TEST (test_overlay_draws_timesformer_results)
{
  gchar *model = model_dir ();
  gchar *launch = g_strdup_printf ("videotestsrc num-buffers=%d pattern=solid-color "
      "foreground-color=0xff4080c0 ! video/x-raw,format=RGB,width=160,height=120 "
      "! timesformer model=\"%s\" frame-stride=1 sync=true ! labeloverlay name=overlay "
      "hold=18446744073709551615 ! appsink name=sink emit-signals=true", FRAMES, model);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  LastFrame last = { gst_bin_get_by_name (GST_BIN (pipeline), "overlay"), NULL, 0, 0, 0, 0 };
  gint changed_inside = 0, changed_outside = 0, row, col;
  GPtrArray *posted;
  GstMapInfo map;

  g_signal_connect (sink, "new-sample", G_CALLBACK (keep_last_frame), &last);
  posted = run_collecting_results (pipeline);
  fail_unless_equals_int (posted->len, CLIPS);
  fail_unless (last.sample != NULL);
  fail_unless (last.w > 0 && last.h > 0, "nothing drawn on the last frame");

  fail_unless (gst_buffer_map (gst_sample_get_buffer (last.sample), &map, GST_MAP_READ));
  for (row = 0; row < 120; row++) {
    for (col = 0; col < 160; col++) {
      const guint8 *pixel = map.data + row * GST_ROUND_UP_4 (160 * 3) + col * 3;
      gboolean changed = pixel[0] != 0x40 || pixel[1] != 0x80 || pixel[2] != 0xc0;
      gboolean inside = col >= last.x && col < last.x + last.w && row >= last.y
          && row < last.y + last.h;

      changed_inside += changed && inside;
      changed_outside += changed && !inside;
    }
  }
  gst_buffer_unmap (gst_sample_get_buffer (last.sample), &map);
  fail_unless_equals_int (changed_outside, 0);
  fail_unless (changed_inside > 0.95 * last.w * last.h);

  gst_sample_unref (last.sample);
  g_ptr_array_unref (posted);
  gst_object_unref (last.overlay);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (launch);
  g_free (model);
}
GST_END_TEST;

static Suite *
labels_pipeline_suite (void)
{
  Suite *s = suite_create ("labels-pipeline");
  TCase *log = tcase_create ("log");
  TCase *overlay = tcase_create ("overlay");

  tcase_set_timeout (log, 300);
  tcase_set_timeout (overlay, 300);
  suite_add_tcase (s, log);
  suite_add_tcase (s, overlay);
  tcase_add_test (log, test_log_holds_every_posted_result_once);
  tcase_add_test (overlay, test_overlay_draws_timesformer_results);
  return s;
}

GST_CHECK_MAIN (labels_pipeline);
