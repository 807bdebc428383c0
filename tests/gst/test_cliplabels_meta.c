/* Tests of the clip-labels meta: adding, reading, copying, the structure and the event. */
#include <gst/check/gstcheck.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>

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
  return suite;
}

GST_CHECK_MAIN (cliplabels_meta);
