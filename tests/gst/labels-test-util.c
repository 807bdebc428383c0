/* labels-test-util.c: results for the tests of labeloverlay and labellog. */
#include "labels-test-util.h"

#include <gst/check/gstcheck.h>

const gchar *const test_label_names[TEST_MAX_LABELS] = { "walking", "running", "dancing" };
const gfloat test_label_scores[TEST_MAX_LABELS] = { 0.625f, 0.25f, 0.125f };

/* A result of model "tiny" with no label yet. */
static GstClipLabelsMeta *
add_empty_result (GstBuffer *buffer, const gchar *producer, guint64 clip_index)
{
  GstClockTime start = clip_index * GST_SECOND;

  return gst_buffer_add_clip_labels_meta (buffer, "tiny", producer, clip_index, 8, start,
      start + 7 * GST_SECOND / 8, start, start + 7 * GST_SECOND / 8);
}

GstClipLabelsMeta *
test_add_result (GstBuffer *buffer, const gchar *producer, guint64 clip_index, guint n_labels)
{
  GstClipLabelsMeta *meta = add_empty_result (buffer, producer, clip_index);
  guint i;

  for (i = 0; i < MIN (n_labels, TEST_MAX_LABELS); i++)
    gst_clip_labels_meta_add_label (meta, 10 + i, test_label_names[i], test_label_scores[i]);
  return meta;
}

GstClipLabelsMeta *
test_add_one_label_result (GstBuffer *buffer, const gchar *producer, guint64 clip_index,
    const gchar *label, gfloat score)
{
  GstClipLabelsMeta *meta = add_empty_result (buffer, producer, clip_index);

  gst_clip_labels_meta_add_label (meta, 10, label, score);
  return meta;
}

GstEvent *
test_result_event (const gchar *producer, guint64 clip_index, guint n_labels)
{
  GstBuffer *carrier = gst_buffer_new ();
  GstEvent *event = gst_clip_labels_event_new (gst_clip_labels_meta_to_structure (
          test_add_result (carrier, producer, clip_index, n_labels)));

  gst_buffer_unref (carrier);
  return event;
}

/* The JSON objects of the log's lines; every line must parse as one object. */
GPtrArray *
test_read_json_lines (const gchar *path)
{
  GPtrArray *objects = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  gchar *text = NULL, **lines;
  guint i;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  fail_unless (text[0] == '\0' || g_str_has_suffix (text, "\n"), "last line not ended");
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
    JsonParser *parser = json_parser_new ();
    GError *error = NULL;

    fail_unless (json_parser_load_from_data (parser, lines[i], -1, &error),
        "line %u is not JSON: %s", i, error != NULL ? error->message : "");
    fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
    g_ptr_array_add (objects, json_object_ref (json_node_get_object (json_parser_get_root (
                    parser))));
    g_object_unref (parser);
  }
  g_strfreev (lines);
  g_free (text);
  return objects;
}
