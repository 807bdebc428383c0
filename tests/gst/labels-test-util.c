/* labels-test-util.c: results for the tests of labeloverlay and labellog. */
#include "labels-test-util.h"

const gchar *const test_label_names[TEST_MAX_LABELS] = { "walking", "running", "dancing" };
const gfloat test_label_scores[TEST_MAX_LABELS] = { 0.625f, 0.25f, 0.125f };

GstClipLabelsMeta *
test_add_result (GstBuffer *buffer, const gchar *producer, guint64 clip_index, guint n_labels)
{
  GstClockTime start = clip_index * GST_SECOND;
  GstClipLabelsMeta *meta = gst_buffer_add_clip_labels_meta (buffer, "tiny", producer,
      clip_index, 8, start, start + 7 * GST_SECOND / 8, start, start + 7 * GST_SECOND / 8);
  guint i;

  for (i = 0; i < MIN (n_labels, TEST_MAX_LABELS); i++)
    gst_clip_labels_meta_add_label (meta, 10 + i, test_label_names[i], test_label_scores[i]);
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
