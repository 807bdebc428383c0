/* gstcliplabelsbuffer.c: the meta of a buffer as a function, and the introspection annotations
 * of the library's API (g-ir-scanner reads them from here; the C API is unchanged). */
#include "gstcliplabelsbuffer.h"

/**
 * GstClipLabel:
 * @class_id: index into the model's labels
 * @label: the class label (a quark: GLib.quark_to_string() in Python)
 * @score: softmax probability, 0..1
 *
 * One class of a clip's result.
 */

/**
 * GstClipLabelsMeta:
 * @meta: the parent meta
 * @model: the model's name (a quark)
 * @producer: name of the element that classified the clip (a quark)
 * @clip_index: 0, 1, 2... per producer since it started
 * @num_frames: sampled frames in the clip
 * @first_pts: PTS of the clip's first sampled frame
 * @last_pts: PTS of its last sampled frame
 * @first_running_time: running time of the first sampled frame
 * @last_running_time: running time of the last sampled frame
 * @n_labels: number of labels
 * @labels: (array length=n_labels): the labels, descending score
 *
 * The result of classifying one clip, attached to a buffer.
 */

/**
 * gst_clip_labels_meta_get_n_labels:
 * @meta: a result
 *
 * Returns: the number of labels
 */

/**
 * gst_clip_labels_meta_get_label:
 * @meta: a result
 * @index: 0 .. n_labels - 1 (labels in descending score)
 * @class_id: (out) (optional): the class's index in the model's labels
 * @label: (out) (optional) (transfer none): the class label
 * @score: (out) (optional): its score
 *
 * Returns: FALSE if @index is out of range
 */

/**
 * gst_buffer_add_clip_labels_meta_from_structure:
 * @buffer: a writable buffer
 * @structure: a result's structure, as gst_clip_labels_event_get_structure() gives
 *
 * Returns: (transfer none) (nullable): the meta added, or NULL if @structure is not a result
 */

/**
 * gst_clip_labels_meta_from_buffer:
 * @buffer: a buffer
 * @index: which of the buffer's clip-labels metas, from 0
 *
 * Returns: (transfer none) (nullable): the @index-th clip-labels meta of @buffer, or NULL
 */
GstClipLabelsMeta *
gst_clip_labels_meta_from_buffer (GstBuffer *buffer, guint index)
{
  gpointer state = NULL;
  GstMeta *meta;
  guint i = 0;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)) != NULL) {
    if (i++ == index)
      return (GstClipLabelsMeta *) meta;
  }
  return NULL;
}
