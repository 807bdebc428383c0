/* gstclipresults.c: each result once, and the results of the EOS event. */
#include "gstclipresults.h"

struct _ClipResultFilter {
  GHashTable *next_clip;     /* producer quark -> guint64 next clip index not seen yet */
};

ClipResultFilter *
clip_result_filter_new (void)
{
  ClipResultFilter *filter = g_new (ClipResultFilter, 1);

  filter->next_clip = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return filter;
}

gboolean
clip_result_filter_is_new (ClipResultFilter *filter, const GstClipLabelsMeta *result)
{
  gpointer key = GUINT_TO_POINTER (result->producer);
  guint64 *next = g_hash_table_lookup (filter->next_clip, key);

  if (next != NULL && result->clip_index < *next)
    return FALSE;
  if (next == NULL) {
    next = g_new (guint64, 1);
    g_hash_table_insert (filter->next_clip, key, next);
  }
  *next = result->clip_index + 1;
  return TRUE;
}

void
clip_result_filter_reset (ClipResultFilter *filter)
{
  g_hash_table_remove_all (filter->next_clip);
}

void
clip_result_filter_free (ClipResultFilter *filter)
{
  g_hash_table_unref (filter->next_clip);
  g_free (filter);
}

const GstClipLabelsMeta *
clip_result_from_event (GstEvent *event, GstBuffer **holder)
{
  const GstStructure *structure = gst_clip_labels_event_get_structure (event);
  const GstClipLabelsMeta *result;

  *holder = NULL;
  if (structure == NULL)
    return NULL;
  *holder = gst_buffer_new ();
  result = gst_buffer_add_clip_labels_meta_from_structure (*holder, structure);
  if (result == NULL) {
    GST_WARNING ("ignoring an invalid clip-labels event: %" GST_PTR_FORMAT, structure);
    gst_clear_buffer (holder);
  }
  return result;
}
