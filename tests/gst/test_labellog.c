/* Tests of labellog: every result written once as a line of JSON, from metas and events, with
 * the stream's name; appending; a log that cannot be opened; state bounded whatever the run's
 * length. */
#include <malloc.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>

#include "labels-test-util.h"

#ifdef HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

static gchar *tmp_dir;

static void
make_tmp_dir (void)
{
  tmp_dir = g_dir_make_tmp ("labellog-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
}

static void
remove_tmp_dir (void)
{
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  const gchar *name;

  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *path = g_build_filename (tmp_dir, name, NULL);

    g_unlink (path);
    g_free (path);
  }
  g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
}

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* The line holds exactly the result test_add_result() made. */
static void
assert_logged_result (JsonObject *line, const gchar *producer, guint64 clip_index,
    guint n_labels)
{
  GstClockTime start = clip_index * GST_SECOND, end = start + 7 * GST_SECOND / 8;
  JsonArray *labels = json_object_get_array_member (line, "labels");
  gint64 now_ns = g_get_real_time () * 1000;
  guint i;

  fail_unless_equals_string (json_object_get_string_member (line, "model"), "tiny");
  fail_unless_equals_string (json_object_get_string_member (line, "producer"), producer);
  fail_unless_equals_int64 (json_object_get_int_member (line, "clip_index"), clip_index);
  fail_unless_equals_int64 (json_object_get_int_member (line, "num_frames"), 8);
  fail_unless_equals_int64 (json_object_get_int_member (line, "first_pts"), start);
  fail_unless_equals_int64 (json_object_get_int_member (line, "last_pts"), end);
  fail_unless_equals_int64 (json_object_get_int_member (line, "first_running_time"), start);
  fail_unless_equals_int64 (json_object_get_int_member (line, "last_running_time"), end);
  fail_unless (g_str_has_suffix (json_object_get_string_member (line, "wallclock"), "Z"));
  fail_unless (ABS (now_ns - json_object_get_int_member (line, "wallclock_unix_ns"))
      < 60 * GST_SECOND);

  fail_unless_equals_int (json_array_get_length (labels), n_labels);
  for (i = 0; i < n_labels; i++) {
    JsonObject *label = json_array_get_object_element (labels, i);

    fail_unless_equals_int64 (json_object_get_int_member (label, "id"), 10 + i);
    fail_unless_equals_string (json_object_get_string_member (label, "label"),
        test_label_names[i]);
    fail_unless_equals_float ((gfloat) json_object_get_double_member (label, "score"),
        test_label_scores[i]);
  }
}

static GstHarness *
log_harness (const gchar *launch_format, const gchar *path)
{
  gchar *launch = g_strdup_printf (launch_format, path);
  GstHarness *h = gst_harness_new_parse (launch);

  g_free (launch);
  gst_harness_set_src_caps_str (h, "video/x-raw, format=GRAY8, width=4, height=4, "
      "framerate=30/1");
  return h;
}

static GstBuffer *
frame_with_result (gint64 clip_index, guint n_labels)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 16, NULL);

  GST_BUFFER_PTS (buffer) = clip_index >= 0 ? clip_index * GST_SECOND : 0;
  if (clip_index >= 0)
    test_add_result (buffer, "timesformer0", clip_index, n_labels);
  return buffer;
}

/* Pulls events from the harness until EOS came out. */
static void
pull_until_eos (GstHarness *h)
{
  GstEvent *event;
  gboolean eos = FALSE;

  while (!eos && (event = gst_harness_pull_event (h)) != NULL) {
    eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos);
}

GST_START_TEST (test_logs_metas_and_events_once)
{
  gchar *path = tmp_path ("results.jsonl");
  GstHarness *h = log_harness ("labellog location=\"%s\"", path);
  GstBuffer *clip0 = frame_with_result (0, 3);
  GPtrArray *lines;

  fail_unless_equals_int (gst_harness_push (h, gst_buffer_copy (clip0)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, clip0), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, frame_with_result (-1, 0)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, frame_with_result (1, 2)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, test_result_event ("timesformer0", 1, 2)));
  fail_unless (gst_harness_push_event (h, test_result_event ("timesformer0", 2, 1)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  /* passthrough: the buffers and the events go on */
  fail_unless_equals_int (gst_harness_buffers_received (h), 4);
  pull_until_eos (h);

  lines = test_read_json_lines (path);
  fail_unless_equals_int (lines->len, 3);
  assert_logged_result (g_ptr_array_index (lines, 0), "timesformer0", 0, 3);
  assert_logged_result (g_ptr_array_index (lines, 1), "timesformer0", 1, 2);
  assert_logged_result (g_ptr_array_index (lines, 2), "timesformer0", 2, 1);
  fail_unless (json_object_get_null_member (g_ptr_array_index (lines, 0), "stream"));
  g_ptr_array_unref (lines);
  gst_harness_teardown (h);
  g_free (path);
}
GST_END_TEST;

GST_START_TEST (test_flush_logs_results_again)
{
  gchar *path = tmp_path ("flush.jsonl");
  GstHarness *h = log_harness ("labellog location=\"%s\" stream-name=cam1", path);
  GstSegment segment;
  GPtrArray *lines;

  fail_unless_equals_int (gst_harness_push (h, frame_with_result (0, 1)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless_equals_int (gst_harness_push (h, frame_with_result (0, 1)), GST_FLOW_OK);
  gst_harness_teardown (h);

  lines = test_read_json_lines (path);
  fail_unless_equals_int (lines->len, 2);
  fail_unless_equals_string (json_object_get_string_member (g_ptr_array_index (lines, 1),
          "stream"), "cam1");
  g_ptr_array_unref (lines);
  g_free (path);
}
GST_END_TEST;

static guint
log_one_result (const gchar *path, gboolean append, guint64 clip_index)
{
  GstHarness *h = log_harness (append ? "labellog location=\"%s\" append=true" :
      "labellog location=\"%s\"", path);
  GPtrArray *lines;
  guint n;

  fail_unless_equals_int (gst_harness_push (h, frame_with_result (clip_index, 1)), GST_FLOW_OK);
  gst_harness_teardown (h);
  lines = test_read_json_lines (path);
  n = lines->len;
  g_ptr_array_unref (lines);
  return n;
}

GST_START_TEST (test_append)
{
  gchar *path = tmp_path ("append.jsonl");

  fail_unless_equals_int (log_one_result (path, FALSE, 0), 1);
  fail_unless_equals_int (log_one_result (path, FALSE, 1), 1);
  fail_unless_equals_int (log_one_result (path, TRUE, 2), 2);
  fail_unless_equals_int (log_one_result (path, TRUE, 3), 3);
  fail_unless_equals_int (log_one_result (path, FALSE, 4), 1);
  g_free (path);
}
GST_END_TEST;

/* A file whose last line lacks its newline gets one before the first appended record. */
GST_START_TEST (test_append_after_unterminated_line)
{
  gchar *path = tmp_path ("unterminated.jsonl");
  gchar *contents;

  fail_unless (g_file_set_contents (path, "{\"note\": \"written by hand\"}", -1, NULL));
  fail_unless_equals_int (log_one_result (path, TRUE, 0), 2);
  fail_unless_equals_int (log_one_result (path, TRUE, 1), 3);
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless (g_str_has_prefix (contents, "{\"note\": \"written by hand\"}\n{"), "%s",
      contents);
  fail_if (strstr (contents, "\n\n") != NULL, "an empty line: %s", contents);
  g_free (contents);
  g_free (path);
}
GST_END_TEST;

/* location and append apply when the file is opened: refused past READY, old value kept. */
GST_START_TEST (test_ready_only_properties_refused_while_playing)
{
  gchar *path = tmp_path ("playing.jsonl");
  GstHarness *h = log_harness ("labellog location=\"%s\"", path);
  GstElement *log = gst_harness_find_element (h, "labellog");
  gchar *location;
  gboolean append;

  g_object_set (log, "location", "/elsewhere.jsonl", "append", TRUE, NULL);
  g_object_get (log, "location", &location, "append", &append, NULL);
  fail_unless_equals_string (location, path);
  fail_if (append);
  g_free (location);
  fail_unless_equals_int (gst_element_set_state (log, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  g_object_set (log, "append", TRUE, NULL);
  g_object_get (log, "append", &append, NULL);
  fail_unless (append);
  gst_object_unref (log);
  gst_harness_teardown (h);
  g_free (path);
}
GST_END_TEST;

GST_START_TEST (test_unwritable_location_fails_state_change)
{
  gchar *path = g_build_filename (tmp_dir, "no-such-dir", "log.jsonl", NULL);
  gchar *launch = g_strdup_printf ("fakesrc ! labellog location=\"%s\" ! fakesink", path);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *message;
  GError *error = NULL;
  gchar *debug = NULL;

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (message != NULL);
  gst_message_parse_error (message, &error, &debug);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE));
  fail_unless (strstr (error->message, path) != NULL, "message does not name the file: %s",
      error->message);
  g_error_free (error);
  g_free (debug);
  gst_message_unref (message);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (launch);
  g_free (path);
}
GST_END_TEST;

/* Both copies of each result made by a tee reach the log through a funnel: one line each. */
GST_START_TEST (test_tee_copies_logged_once)
{
  gchar *path = tmp_path ("tee.jsonl");
  GstHarness *h = log_harness ("tee name=t ! queue ! funnel name=f ! labellog location=\"%s\" "
      "t. ! queue ! f.", path);
  GPtrArray *lines;
  guint i;

  for (i = 0; i < 4; i++)
    fail_unless_equals_int (gst_harness_push (h, frame_with_result (i, 2)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, test_result_event ("timesformer0", 4, 2)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  pull_until_eos (h);
  fail_unless_equals_int (gst_harness_buffers_received (h), 8);

  lines = test_read_json_lines (path);
  fail_unless_equals_int (lines->len, 5);
  for (i = 0; i < 5; i++) {
    gboolean found = FALSE;
    guint j;

    for (j = 0; j < lines->len && !found; j++)
      found = json_object_get_int_member (g_ptr_array_index (lines, j), "clip_index") == i;
    fail_unless (found, "clip %u not logged", i);
  }
  g_ptr_array_unref (lines);
  gst_harness_teardown (h);
  g_free (path);
}
GST_END_TEST;

static GstPadProbeReturn
add_result_to_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer counter)
{
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  guint *clips = counter;

  test_add_result (buffer, "stamp", (*clips)++, 2);
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

static void
run_to_eos (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *message;

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  message = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (message != NULL && GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS);
  gst_message_unref (message);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
}

/* A file of three 4 kB blocks. */
static gchar *
make_source_file (void)
{
  gchar *path = tmp_path ("source.bin");
  gchar *data = g_malloc0 (3 * 4096);

  fail_unless (g_file_set_contents (path, data, 3 * 4096, NULL));
  g_free (data);
  return path;
}

/* The source (inside a bin, or not) is found upstream; its URI names the stream. */
static void
check_stream_name_from_source (gboolean source_in_bin)
{
  gchar *source = make_source_file ();
  gchar *log = tmp_path ("source.jsonl");
  gchar *launch = g_strdup_printf ("%s filesrc location=\"%s\" blocksize=4096 ! queue name=q "
      "%s ! labellog location=\"%s\" ! fakesink", source_in_bin ? "bin.(" : "", source,
      source_in_bin ? ")" : "", log);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstElement *queue = gst_bin_get_by_name_recurse_up (GST_BIN (pipeline), "q");
  GstPad *pad = gst_element_get_static_pad (queue, "src");
  gchar *uri = gst_filename_to_uri (source, NULL);
  guint clips = 0, i;
  GPtrArray *lines;

  fail_unless (pipeline != NULL, "could not parse %s", launch);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, add_result_to_buffer, &clips, NULL);
  run_to_eos (pipeline);
  lines = test_read_json_lines (log);
  fail_unless_equals_int (lines->len, 3);
  for (i = 0; i < lines->len; i++)
    fail_unless_equals_string (json_object_get_string_member (g_ptr_array_index (lines, i),
            "stream"), uri);

  g_ptr_array_unref (lines);
  g_free (uri);
  gst_object_unref (pad);
  gst_object_unref (queue);
  gst_object_unref (pipeline);
  g_free (launch);
  g_free (log);
  g_free (source);
}

GST_START_TEST (test_stream_name_is_source_uri)
{
  check_stream_name_from_source (FALSE);
}
GST_END_TEST;

GST_START_TEST (test_stream_name_is_source_uri_through_bin)
{
  check_stream_name_from_source (TRUE);
}
GST_END_TEST;

static guint
tracked_producers (GstHarness *h)
{
  GstElement *log = gst_harness_find_element (h, "labellog");
  guint n = G_MAXUINT;

  g_object_get (log, "tracked-producers", &n, NULL);
  gst_object_unref (log);
  return n;
}

/* Pushes a frame carrying one result and drops what comes out. */
static void
push_result (GstHarness *h, const gchar *producer, guint64 clip_index)
{
  GstBuffer *buffer = gst_buffer_new ();

  test_add_result (buffer, producer, clip_index, 1);
  fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
}

/* Each producer's results come in clip order; copies (not above the last index) are skipped. */
GST_START_TEST (test_results_once_per_producer)
{
  gchar *path = tmp_path ("producers.jsonl");
  GstHarness *h = log_harness ("labellog location=\"%s\"", path);
  static const gchar *expected[][2] = { {"a", "0"}, {"b", "0"}, {"a", "1"}, {"b", "1"},
    {"a", "2"} };
  GPtrArray *lines;
  guint i;

  fail_unless_equals_int (tracked_producers (h), 0);
  push_result (h, "a", 0);
  push_result (h, "b", 0);
  push_result (h, "a", 1);
  push_result (h, "a", 0);
  push_result (h, "b", 1);
  push_result (h, "a", 1);
  fail_unless (gst_harness_push_event (h, test_result_event ("b", 1, 1)));
  fail_unless (gst_harness_push_event (h, test_result_event ("a", 2, 1)));
  fail_unless_equals_int (tracked_producers (h), 2);
  gst_harness_teardown (h);

  lines = test_read_json_lines (path);
  fail_unless_equals_int (lines->len, G_N_ELEMENTS (expected));
  for (i = 0; i < lines->len; i++) {
    JsonObject *line = g_ptr_array_index (lines, i);

    fail_unless_equals_string (json_object_get_string_member (line, "producer"),
        expected[i][0]);
    fail_unless_equals_int64 (json_object_get_int_member (line, "clip_index"),
        g_ascii_strtoll (expected[i][1], NULL, 10));
  }
  g_ptr_array_unref (lines);
  g_free (path);
}
GST_END_TEST;

/* At most 64 producers are remembered: the one written to longest ago is forgotten first. */
GST_START_TEST (test_producers_beyond_the_limit)
{
  gchar *path = tmp_path ("many-producers.jsonl");
  GstHarness *h = log_harness ("labellog location=\"%s\"", path);
  GPtrArray *lines;
  guint i;

  for (i = 0; i < 70; i++) {
    gchar *producer = g_strdup_printf ("p%u", i);

    push_result (h, producer, 0);
    g_free (producer);
  }
  fail_unless_equals_int (tracked_producers (h), 64);
  push_result (h, "p69", 0);    /* remembered: a copy */
  push_result (h, "p0", 0);     /* forgotten: written again */
  fail_unless_equals_int (tracked_producers (h), 64);
  gst_harness_teardown (h);

  lines = test_read_json_lines (path);
  fail_unless_equals_int (lines->len, 71);
  fail_unless_equals_string (json_object_get_string_member (g_ptr_array_index (lines, 70),
          "producer"), "p0");
  g_ptr_array_unref (lines);
  g_free (path);
}
GST_END_TEST;

/* A million results of three producers (and copies): labellog keeps three entries, and the
 * heap does not grow. One buffer goes round, its meta renumbered each time. */
GST_START_TEST (test_state_flat_over_a_million_results)
{
  static const gchar *producers[] = { "a", "b", "c" };
  guint n = RUNNING_ON_VALGRIND ? 10000 : 1000000;
  GstHarness *h = log_harness ("labellog location=%s", "/dev/null");
  GstBuffer *buffer = gst_buffer_new ();
  GstClipLabelsMeta *meta = test_add_result (buffer, "a", 0, 0);
  gsize heap_early = 0;
  guint i;

  for (i = 0; i < n; i++) {
    meta->producer = g_quark_from_string (producers[i % 3]);
    meta->clip_index = i / 3;
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (buffer)), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
    if (i % 1000 == 999) {      /* a copy of the last result */
      fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (buffer)), GST_FLOW_OK);
      gst_buffer_unref (gst_harness_pull (h));
    }
    if (i == n / 10)
      heap_early = mallinfo2 ().uordblks;
  }
  fail_unless_equals_int (tracked_producers (h), 3);
  GST_INFO ("heap in use: %" G_GSIZE_FORMAT " bytes after %u results, %" G_GSIZE_FORMAT
      " after %u", heap_early, n / 10, mallinfo2 ().uordblks, n);
  fail_unless (mallinfo2 ().uordblks < heap_early + 256 * 1024, "the heap grew from %"
      G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT " bytes", heap_early, mallinfo2 ().uordblks);
  gst_buffer_unref (buffer);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
labellog_suite (void)
{
  Suite *s = suite_create ("labellog");
  TCase *tc = tcase_create ("general");
  TCase *long_tc = tcase_create ("long");

  suite_add_tcase (s, tc);
  suite_add_tcase (s, long_tc);
  tcase_set_timeout (long_tc, 300);
  tcase_add_checked_fixture (tc, make_tmp_dir, remove_tmp_dir);
  tcase_add_test (tc, test_logs_metas_and_events_once);
  tcase_add_test (tc, test_flush_logs_results_again);
  tcase_add_test (tc, test_append);
  tcase_add_test (tc, test_append_after_unterminated_line);
  tcase_add_test (tc, test_ready_only_properties_refused_while_playing);
  tcase_add_test (tc, test_unwritable_location_fails_state_change);
  tcase_add_test (tc, test_tee_copies_logged_once);
  tcase_add_test (tc, test_stream_name_is_source_uri);
  tcase_add_test (tc, test_stream_name_is_source_uri_through_bin);
  tcase_add_test (tc, test_results_once_per_producer);
  tcase_add_test (tc, test_producers_beyond_the_limit);
  tcase_add_test (long_tc, test_state_flat_over_a_million_results);
  return s;
}

GST_CHECK_MAIN (labellog);
