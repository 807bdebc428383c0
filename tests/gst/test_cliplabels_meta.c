/* Tests of the clip-labels meta: adding, reading, copying, the structure, the event and JSON. */
#include <math.h>
#include <gst/check/gstcheck.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>
#include <json-glib/json-glib.h>

static GstClipLabelsMeta *
add_example_meta (GstBuffer *buffer)
{
  GstClipLabelsMeta *meta = gst_buffer_add_clip_labels_meta (buffer, "tiny", "timesformer0", 7,
      8, 1 * GST_SECOND, 2 * GST_SECOND, 11 * GST_SECOND, 12 * GST_SECOND);

  gst_clip_labels_meta_add_label (meta, 3, "dancing", 0.75f);
  gst_clip_labels_meta_add_label (meta, 1, "running", 0.125f);
  return meta;
}

static void
assert_example_meta (const GstClipLabelsMeta *meta)
{
  const gchar *label = NULL;
  guint class_id = 0;
  gfloat score = 0;

  fail_unless (meta != NULL);
  fail_unless_equals_string (g_quark_to_string (meta->model), "tiny");
  fail_unless_equals_string (g_quark_to_string (meta->producer), "timesformer0");
  fail_unless_equals_uint64 (meta->clip_index, 7);
  fail_unless_equals_int (meta->num_frames, 8);
  fail_unless_equals_uint64 (meta->first_pts, 1 * GST_SECOND);
  fail_unless_equals_uint64 (meta->last_pts, 2 * GST_SECOND);
  fail_unless_equals_uint64 (meta->first_running_time, 11 * GST_SECOND);
  fail_unless_equals_uint64 (meta->last_running_time, 12 * GST_SECOND);
  fail_unless_equals_int (gst_clip_labels_meta_get_n_labels (meta), 2);
  fail_unless (gst_clip_labels_meta_get_label (meta, 0, &class_id, &label, &score));
  fail_unless_equals_int (class_id, 3);
  fail_unless_equals_string (label, "dancing");
  fail_unless_equals_float (score, 0.75f);
  fail_unless (gst_clip_labels_meta_get_label (meta, 1, &class_id, &label, &score));
  fail_unless_equals_int (class_id, 1);
  fail_unless_equals_string (label, "running");
  fail_unless_equals_float (score, 0.125f);
  fail_if (gst_clip_labels_meta_get_label (meta, 2, &class_id, NULL, NULL));
}

GST_START_TEST (test_add_and_get)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 16, NULL);

  fail_unless (gst_buffer_get_clip_labels_meta (buffer) == NULL);
  add_example_meta (buffer);
  assert_example_meta (gst_buffer_get_clip_labels_meta (buffer));
  fail_unless (gst_meta_api_type_has_tag (GST_CLIP_LABELS_META_API_TYPE,
          g_quark_from_string ("video")));
  gst_buffer_unref (buffer);
}
GST_END_TEST;

GST_START_TEST (test_survives_copy_and_make_writable)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 16, NULL);
  GstBuffer *copy, *writable;

  add_example_meta (buffer);
  copy = gst_buffer_copy (buffer);
  assert_example_meta (gst_buffer_get_clip_labels_meta (copy));

  writable = gst_buffer_ref (buffer);
  writable = gst_buffer_make_writable (writable);
  fail_unless (writable != buffer);
  assert_example_meta (gst_buffer_get_clip_labels_meta (writable));

  /* The copy owns its labels: freeing the original leaves it intact. */
  gst_buffer_unref (buffer);
  assert_example_meta (gst_buffer_get_clip_labels_meta (copy));
  gst_buffer_unref (copy);
  gst_buffer_unref (writable);
}
GST_END_TEST;

GST_START_TEST (test_structure_round_trip)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 16, NULL);
  GstBuffer *other = gst_buffer_new ();
  GstStructure *structure, *parsed;
  const GValue *labels;
  guint64 clip_index = 0;
  gchar *text;

  structure = gst_clip_labels_meta_to_structure (add_example_meta (buffer));
  fail_unless (gst_structure_has_name (structure, GST_CLIP_LABELS_STRUCTURE_NAME));
  fail_unless_equals_string (gst_structure_get_string (structure, "model"), "tiny");
  fail_unless (gst_structure_get_uint64 (structure, "clip-index", &clip_index));
  fail_unless_equals_uint64 (clip_index, 7);
  labels = gst_structure_get_value (structure, "labels");
  fail_unless_equals_int (gst_value_array_get_size (labels), 2);
  fail_unless_equals_string (gst_structure_get_string (gst_value_get_structure
          (gst_value_array_get_value (labels, 1)), "label"), "running");

  assert_example_meta (gst_buffer_add_clip_labels_meta_from_structure (other, structure));

  /* The structure also survives its text form (gst-launch -m, logs). */
  text = gst_structure_to_string (structure);
  parsed = gst_structure_from_string (text, NULL);
  fail_unless (parsed != NULL, "cannot parse %s", text);
  gst_buffer_remove_meta (other, (GstMeta *) gst_buffer_get_clip_labels_meta (other));
  assert_example_meta (gst_buffer_add_clip_labels_meta_from_structure (other, parsed));

  g_free (text);
  gst_structure_free (parsed);
  gst_structure_free (structure);
  gst_buffer_unref (buffer);
  gst_buffer_unref (other);
}
GST_END_TEST;

GST_START_TEST (test_invalid_structures_refused)
{
  GstBuffer *buffer = gst_buffer_new ();
  GstStructure *wrong_name = gst_structure_new_empty ("Other");
  GstStructure *no_labels = gst_structure_new (GST_CLIP_LABELS_STRUCTURE_NAME,
      "clip-index", G_TYPE_UINT64, (guint64) 0, "num-frames", G_TYPE_UINT, 8, NULL);
  GstStructure *bad_label = gst_structure_copy (no_labels);
  GValue labels = G_VALUE_INIT, entry = G_VALUE_INIT;

  gst_value_array_init (&labels, 1);
  g_value_init (&entry, G_TYPE_STRING);
  g_value_set_string (&entry, "not-a-structure");
  gst_value_array_append_and_take_value (&labels, &entry);
  gst_structure_take_value (bad_label, "labels", &labels);

  fail_unless (gst_buffer_add_clip_labels_meta_from_structure (buffer, wrong_name) == NULL);
  fail_unless (gst_buffer_add_clip_labels_meta_from_structure (buffer, no_labels) == NULL);
  fail_unless (gst_buffer_add_clip_labels_meta_from_structure (buffer, bad_label) == NULL);
  fail_unless (gst_buffer_get_clip_labels_meta (buffer) == NULL);

  gst_structure_free (wrong_name);
  gst_structure_free (no_labels);
  gst_structure_free (bad_label);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

GST_START_TEST (test_event)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 16, NULL);
  GstEvent *event = gst_clip_labels_event_new (gst_clip_labels_meta_to_structure
      (add_example_meta (buffer)));
  GstEvent *other = gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
      gst_structure_new_empty ("Other"));
  GstEvent *eos = gst_event_new_eos ();
  GstBuffer *from_event = gst_buffer_new ();

  fail_unless (GST_EVENT_IS_SERIALIZED (event));
  fail_unless (GST_EVENT_IS_DOWNSTREAM (event));
  assert_example_meta (gst_buffer_add_clip_labels_meta_from_structure (from_event,
          gst_clip_labels_event_get_structure (event)));
  fail_unless (gst_clip_labels_event_get_structure (other) == NULL);
  fail_unless (gst_clip_labels_event_get_structure (eos) == NULL);

  gst_event_unref (event);
  gst_event_unref (other);
  gst_event_unref (eos);
  gst_buffer_unref (buffer);
  gst_buffer_unref (from_event);
}
GST_END_TEST;

/* 2026-12-02T05:06:07.089012Z */
#define EXAMPLE_WALLCLOCK_US G_GINT64_CONSTANT (1796187967089012)

/* Parses one line of JSON into an object; fails the test unless it is one. */
static JsonObject *
parse_json_object (const gchar *text)
{
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  JsonObject *object;

  fail_if (strchr (text, '\n') != NULL, "not one line: %s", text);
  fail_unless (json_parser_load_from_data (parser, text, -1, &error), "invalid JSON %s: %s",
      text, error != NULL ? error->message : "");
  fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  object = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  g_object_unref (parser);
  return object;
}

GST_START_TEST (test_json_fields)
{
  GstBuffer *buffer = gst_buffer_new ();
  gchar *text = gst_clip_labels_meta_to_json (add_example_meta (buffer), "file:///a.mp4",
      EXAMPLE_WALLCLOCK_US);
  JsonObject *line = parse_json_object (text);
  JsonArray *labels = json_object_get_array_member (line, "labels");
  JsonObject *second = json_array_get_object_element (labels, 1);

  fail_unless_equals_string (json_object_get_string_member (line, "stream"), "file:///a.mp4");
  fail_unless_equals_string (json_object_get_string_member (line, "model"), "tiny");
  fail_unless_equals_string (json_object_get_string_member (line, "producer"), "timesformer0");
  fail_unless_equals_int64 (json_object_get_int_member (line, "clip_index"), 7);
  fail_unless_equals_int64 (json_object_get_int_member (line, "num_frames"), 8);
  fail_unless_equals_int64 (json_object_get_int_member (line, "first_pts"), 1 * GST_SECOND);
  fail_unless_equals_int64 (json_object_get_int_member (line, "last_pts"), 2 * GST_SECOND);
  fail_unless_equals_int64 (json_object_get_int_member (line, "first_running_time"),
      11 * GST_SECOND);
  fail_unless_equals_int64 (json_object_get_int_member (line, "last_running_time"),
      12 * GST_SECOND);
  fail_unless_equals_string (json_object_get_string_member (line, "wallclock"),
      "2026-12-02T05:06:07.089012Z");
  fail_unless_equals_int64 (json_object_get_int_member (line, "wallclock_unix_ns"),
      EXAMPLE_WALLCLOCK_US * 1000);
  fail_unless_equals_int (json_array_get_length (labels), 2);
  fail_unless_equals_int64 (json_object_get_int_member (second, "id"), 1);
  fail_unless_equals_string (json_object_get_string_member (second, "label"), "running");
  fail_unless_equals_float (json_object_get_double_member (second, "score"), 0.125);

  json_object_unref (line);
  g_free (text);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

/* The exact bytes: labellog's lines and a publisher's messages must not drift apart. */
GST_START_TEST (test_json_bytes)
{
  GstBuffer *buffer = gst_buffer_new ();
  gchar *text = gst_clip_labels_meta_to_json (add_example_meta (buffer), "cam",
      EXAMPLE_WALLCLOCK_US);

  fail_unless_equals_string (text, "{\"stream\":\"cam\",\"model\":\"tiny\","
      "\"producer\":\"timesformer0\",\"clip_index\":7,\"num_frames\":8,\"real_frames\":8,"
      "\"first_pts\":1000000000,\"last_pts\":2000000000,"
      "\"first_running_time\":11000000000,\"last_running_time\":12000000000,"
      "\"wallclock\":\"2026-12-02T05:06:07.089012Z\",\"wallclock_unix_ns\":1796187967089012000,"
      "\"labels\":[{\"id\":3,\"label\":\"dancing\",\"score\":0.75},"
      "{\"id\":1,\"label\":\"running\",\"score\":0.125}]}");
  g_free (text);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

/* A clip padded at EOS says how many frames were real: in the meta, its copies, the structure,
 * the event and the JSON; a structure without the field (an older producer) means all. */
GST_START_TEST (test_real_frames)
{
  GstBuffer *buffer = gst_buffer_new (), *copy;
  GstClipLabelsResult result = { .num_frames = 8, .real_frames = 3,
    .first_pts = GST_CLOCK_TIME_NONE, .last_pts = GST_CLOCK_TIME_NONE,
    .first_running_time = GST_CLOCK_TIME_NONE, .last_running_time = GST_CLOCK_TIME_NONE };
  GstClipLabelsMeta *meta = gst_buffer_add_clip_labels_meta_from_result (buffer, &result);
  GstStructure *structure;
  GstClipLabelsResult *parsed;
  JsonNode *node;
  gchar *text;

  fail_unless_equals_int (gst_clip_labels_meta_get_real_frames (meta), 3);
  copy = gst_buffer_copy (buffer);
  fail_unless_equals_int (gst_clip_labels_meta_get_real_frames
      (gst_buffer_get_clip_labels_meta (copy)), 3);
  structure = gst_clip_labels_meta_to_structure (meta);
  parsed = gst_clip_labels_result_new_from_structure (structure);
  fail_unless_equals_int (gst_clip_labels_result_get_real_frames (parsed), 3);
  gst_clip_labels_result_free (parsed);
  gst_structure_remove_field (structure, "real-frames");
  parsed = gst_clip_labels_result_new_from_structure (structure);
  fail_unless_equals_int (gst_clip_labels_result_get_real_frames (parsed), 8);
  gst_clip_labels_result_free (parsed);
  gst_structure_set (structure, "real-frames", G_TYPE_STRING, "3", NULL);
  fail_unless (gst_clip_labels_result_new_from_structure (structure) == NULL);
  gst_structure_free (structure);

  text = gst_clip_labels_meta_to_json (meta, NULL, EXAMPLE_WALLCLOCK_US);
  node = json_from_string (text, NULL);
  fail_unless_equals_int64 (json_object_get_int_member (json_node_get_object (node),
          "real_frames"), 3);
  json_node_unref (node);
  g_free (text);

  /* made without it (0): all frames were real */
  result.real_frames = 0;
  fail_unless_equals_int (gst_clip_labels_result_get_real_frames (&result), 8);
  gst_buffer_unref (copy);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

GST_START_TEST (test_json_null_stream_and_unknown_times)
{
  GstBuffer *buffer = gst_buffer_new ();
  GstClipLabelsMeta *meta = gst_buffer_add_clip_labels_meta (buffer, NULL, NULL, 0, 1,
      GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  gchar *text = gst_clip_labels_meta_to_json (meta, NULL, EXAMPLE_WALLCLOCK_US);
  JsonObject *line = parse_json_object (text);

  fail_unless (json_object_get_null_member (line, "stream"));
  fail_unless_equals_string (json_object_get_string_member (line, "model"), "");
  fail_unless_equals_string (json_object_get_string_member (line, "producer"), "");
  fail_unless (json_object_get_null_member (line, "first_pts"));
  fail_unless (json_object_get_null_member (line, "last_pts"));
  fail_unless (json_object_get_null_member (line, "first_running_time"));
  fail_unless (json_object_get_null_member (line, "last_running_time"));
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member (line, "labels")),
      0);

  json_object_unref (line);
  g_free (text);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

GST_START_TEST (test_json_special_characters_and_non_finite_scores)
{
  const gchar *odd = "say \"hi\"\\\n\t\x01 caf\xc3\xa9 </script>";
  GstBuffer *buffer = gst_buffer_new ();
  GstClipLabelsMeta *meta = gst_buffer_add_clip_labels_meta (buffer, "m\"odel", "p\\1", 2, 8,
      0, 1, 0, 1);
  JsonObject *line;
  JsonArray *labels;
  gchar *text;
  guint i;

  gst_clip_labels_meta_add_label (meta, 0, odd, NAN);
  gst_clip_labels_meta_add_label (meta, 1, "up", INFINITY);
  gst_clip_labels_meta_add_label (meta, 2, "down", -INFINITY);
  gst_clip_labels_meta_add_label (meta, 3, NULL, 0.5f);
  text = gst_clip_labels_meta_to_json (meta, "rtsp://cam/\"1\"", EXAMPLE_WALLCLOCK_US);
  line = parse_json_object (text);
  labels = json_object_get_array_member (line, "labels");

  fail_unless_equals_string (json_object_get_string_member (line, "stream"),
      "rtsp://cam/\"1\"");
  fail_unless_equals_string (json_object_get_string_member (line, "model"), "m\"odel");
  fail_unless_equals_string (json_object_get_string_member (line, "producer"), "p\\1");
  fail_unless_equals_int (json_array_get_length (labels), 4);
  fail_unless_equals_string (json_object_get_string_member (json_array_get_object_element
          (labels, 0), "label"), odd);
  for (i = 0; i < 3; i++)
    fail_unless (json_object_get_null_member (json_array_get_object_element (labels, i),
            "score"), "score %u of %s", i, text);
  fail_unless_equals_string (json_object_get_string_member (json_array_get_object_element
          (labels, 3), "label"), "");
  fail_unless_equals_float (json_object_get_double_member (json_array_get_object_element
          (labels, 3), "score"), 0.5);

  json_object_unref (line);
  g_free (text);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

/* The example result as plain data. */
static GstClipLabelsResult *
new_example_result (void)
{
  GstBuffer *buffer = gst_buffer_new ();
  GstClipLabelsResult view, *result;

  gst_clip_labels_meta_get_result (add_example_meta (buffer), &view);
  result = gst_clip_labels_result_copy (&view);
  gst_buffer_unref (buffer);
  return result;
}

GST_START_TEST (test_result_to_meta_and_back)
{
  GstClipLabelsResult *result = new_example_result ();
  GstClipLabelsResult *empty = gst_clip_labels_result_new ();
  GstBuffer *buffer = gst_buffer_new ();
  GstClipLabelsResult view;

  /* the copy outlived the buffer it was viewed from */
  assert_example_meta (gst_buffer_add_clip_labels_meta_from_result (buffer, result));
  gst_clip_labels_meta_get_result (gst_buffer_get_clip_labels_meta (buffer), &view);
  fail_unless (gst_clip_labels_result_is_same_clip (&view, result));
  fail_unless_equals_int (view.n_labels, 2);
  fail_unless (view.labels != result->labels);

  fail_unless_equals_int (empty->n_labels, 0);
  fail_unless_equals_uint64 (empty->first_pts, GST_CLOCK_TIME_NONE);
  fail_unless_equals_uint64 (empty->last_running_time, GST_CLOCK_TIME_NONE);
  fail_if (gst_clip_labels_result_is_same_clip (empty, result));
  empty->producer = result->producer;
  empty->clip_index = result->clip_index;
  fail_unless (gst_clip_labels_result_is_same_clip (empty, result));

  gst_clip_labels_result_free (empty);
  gst_clip_labels_result_free (result);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

GST_START_TEST (test_result_structure_and_event)
{
  GstClipLabelsResult *result = new_example_result ();
  GstStructure *structure = gst_clip_labels_result_to_structure (result);
  GstClipLabelsResult *parsed = gst_clip_labels_result_new_from_structure (structure);
  GstEvent *event = gst_clip_labels_event_new (gst_structure_copy (structure));
  GstEvent *eos = gst_event_new_eos ();
  GstClipLabelsResult *from_event = gst_clip_labels_event_parse_result (event);
  GstBuffer *buffer = gst_buffer_new ();
  GstStructure *from_meta;

  /* the result and its meta make the same structure */
  from_meta = gst_clip_labels_meta_to_structure (gst_buffer_add_clip_labels_meta_from_result
      (buffer, result));
  fail_unless (gst_structure_is_equal (structure, from_meta));
  fail_unless (parsed != NULL && from_event != NULL);
  gst_buffer_remove_meta (buffer, (GstMeta *) gst_buffer_get_clip_labels_meta (buffer));
  assert_example_meta (gst_buffer_add_clip_labels_meta_from_result (buffer, parsed));
  gst_buffer_remove_meta (buffer, (GstMeta *) gst_buffer_get_clip_labels_meta (buffer));
  assert_example_meta (gst_buffer_add_clip_labels_meta_from_result (buffer, from_event));
  fail_unless (gst_clip_labels_event_parse_result (eos) == NULL);

  gst_structure_free (from_meta);
  gst_structure_free (structure);
  gst_clip_labels_result_free (parsed);
  gst_clip_labels_result_free (from_event);
  gst_clip_labels_result_free (result);
  gst_event_unref (event);
  gst_event_unref (eos);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

GST_START_TEST (test_result_json_is_meta_json)
{
  GstClipLabelsResult *result = new_example_result ();
  GstBuffer *buffer = gst_buffer_new ();
  gchar *from_result = gst_clip_labels_result_to_json (result, NULL, EXAMPLE_WALLCLOCK_US);
  gchar *from_meta = gst_clip_labels_meta_to_json (add_example_meta (buffer), NULL,
      EXAMPLE_WALLCLOCK_US);

  fail_unless_equals_string (from_result, from_meta);
  g_free (from_result);
  g_free (from_meta);
  gst_clip_labels_result_free (result);
  gst_buffer_unref (buffer);
}
GST_END_TEST;

static Suite *
cliplabels_meta_suite (void)
{
  Suite *suite = suite_create ("cliplabels-meta");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (suite, tc);
  tcase_add_test (tc, test_add_and_get);
  tcase_add_test (tc, test_survives_copy_and_make_writable);
  tcase_add_test (tc, test_structure_round_trip);
  tcase_add_test (tc, test_invalid_structures_refused);
  tcase_add_test (tc, test_event);
  tcase_add_test (tc, test_json_fields);
  tcase_add_test (tc, test_json_bytes);
  tcase_add_test (tc, test_real_frames);
  tcase_add_test (tc, test_json_null_stream_and_unknown_times);
  tcase_add_test (tc, test_json_special_characters_and_non_finite_scores);
  tcase_add_test (tc, test_result_to_meta_and_back);
  tcase_add_test (tc, test_result_structure_and_event);
  tcase_add_test (tc, test_result_json_is_meta_json);
  return suite;
}

GST_CHECK_MAIN (cliplabels_meta);
