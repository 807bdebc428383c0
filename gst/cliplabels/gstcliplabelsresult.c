/* gstcliplabelsresult.c: a clip's result as plain data, and its one GstStructure form. */
#include "gstcliplabelsmeta.h"

#define LABEL_STRUCTURE_NAME "label"

GstClipLabelsResult *
gst_clip_labels_result_new (void)
{
  GstClipLabelsResult *result = g_new0 (GstClipLabelsResult, 1);

  result->first_pts = GST_CLOCK_TIME_NONE;
  result->last_pts = GST_CLOCK_TIME_NONE;
  result->first_running_time = GST_CLOCK_TIME_NONE;
  result->last_running_time = GST_CLOCK_TIME_NONE;
  return result;
}

GstClipLabelsResult *
gst_clip_labels_result_copy (const GstClipLabelsResult *result)
{
  GstClipLabelsResult *copy;

  g_return_val_if_fail (result != NULL, NULL);

  copy = g_memdup2 (result, sizeof (GstClipLabelsResult));
  copy->labels = g_memdup2 (result->labels, sizeof (GstClipLabel) * result->n_labels);
  return copy;
}

void
gst_clip_labels_result_free (GstClipLabelsResult *result)
{
  if (result == NULL)
    return;
  g_free (result->labels);
  g_free (result);
}

void
gst_clip_labels_result_add_label (GstClipLabelsResult *result, guint class_id,
    const gchar *label, gfloat score)
{
  GstClipLabel *added;

  g_return_if_fail (result != NULL);

  result->labels = g_renew (GstClipLabel, result->labels, result->n_labels + 1);
  added = &result->labels[result->n_labels++];
  added->class_id = class_id;
  added->label = label != NULL ? g_quark_from_string (label) : 0;
  added->score = score;
}

gboolean
gst_clip_labels_result_is_same_clip (const GstClipLabelsResult *a,
    const GstClipLabelsResult *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  return a->producer == b->producer && a->clip_index == b->clip_index;
}

guint
gst_clip_labels_result_get_real_frames (const GstClipLabelsResult *result)
{
  g_return_val_if_fail (result != NULL, 0);

  if (result->real_frames == 0 || result->real_frames > result->num_frames)
    return result->num_frames;
  return result->real_frames;
}

static const gchar *
quark_to_string_or_empty (GQuark quark)
{
  return quark != 0 ? g_quark_to_string (quark) : "";
}

static GstStructure *
label_to_structure (const GstClipLabel *label)
{
  return gst_structure_new (LABEL_STRUCTURE_NAME,
      "id", G_TYPE_UINT, label->class_id,
      "label", G_TYPE_STRING, quark_to_string_or_empty (label->label),
      "score", G_TYPE_FLOAT, label->score, NULL);
}

GstStructure *
gst_clip_labels_result_to_structure (const GstClipLabelsResult *result)
{
  GValue labels = G_VALUE_INIT;
  GstStructure *structure;
  guint i;

  g_return_val_if_fail (result != NULL, NULL);

  structure = gst_structure_new (GST_CLIP_LABELS_STRUCTURE_NAME,
      "model", G_TYPE_STRING, quark_to_string_or_empty (result->model),
      "producer", G_TYPE_STRING, quark_to_string_or_empty (result->producer),
      "clip-index", G_TYPE_UINT64, result->clip_index,
      "num-frames", G_TYPE_UINT, result->num_frames,
      "real-frames", G_TYPE_UINT, gst_clip_labels_result_get_real_frames (result),
      "first-pts", G_TYPE_UINT64, result->first_pts,
      "last-pts", G_TYPE_UINT64, result->last_pts,
      "first-running-time", G_TYPE_UINT64, result->first_running_time,
      "last-running-time", G_TYPE_UINT64, result->last_running_time, NULL);

  gst_value_array_init (&labels, result->n_labels);
  for (i = 0; i < result->n_labels; i++) {
    GValue entry = G_VALUE_INIT;

    g_value_init (&entry, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&entry, label_to_structure (&result->labels[i]));
    gst_value_array_append_and_take_value (&labels, &entry);
  }
  gst_structure_take_value (structure, "labels", &labels);
  return structure;
}

/* Reads a guint64 field; absent means GST_CLOCK_TIME_NONE for times. */
static gboolean
get_time_field (const GstStructure *structure, const gchar *field, GstClockTime *out)
{
  if (!gst_structure_has_field (structure, field)) {
    *out = GST_CLOCK_TIME_NONE;
    return TRUE;
  }
  return gst_structure_get_uint64 (structure, field, out);
}

/* real-frames is optional (structures made before it existed): absent means all. */
static gboolean
get_real_frames_field (const GstStructure *structure, guint *out)
{
  *out = 0;
  return !gst_structure_has_field (structure, "real-frames")
      || gst_structure_get_uint (structure, "real-frames", out);
}

/* Appends the label an array entry holds; FALSE if it is not a valid label. */
static gboolean
add_label_from_entry (GstClipLabelsResult *result, const GValue *entry)
{
  const GstStructure *label;
  guint class_id = 0;
  gfloat score = 0.0f;

  if (!GST_VALUE_HOLDS_STRUCTURE (entry))
    return FALSE;
  label = gst_value_get_structure (entry);
  if (!gst_structure_has_name (label, LABEL_STRUCTURE_NAME)
      || !gst_structure_has_field_typed (label, "label", G_TYPE_STRING)
      || !gst_structure_get_uint (label, "id", &class_id)
      || !gst_structure_get (label, "score", G_TYPE_FLOAT, &score, NULL))
    return FALSE;
  gst_clip_labels_result_add_label (result, class_id, gst_structure_get_string (label, "label"),
      score);
  return TRUE;
}

static gboolean
add_labels_from_array (GstClipLabelsResult *result, const GValue *labels)
{
  guint i;

  if (labels == NULL || !GST_VALUE_HOLDS_ARRAY (labels))
    return FALSE;
  for (i = 0; i < gst_value_array_get_size (labels); i++) {
    if (!add_label_from_entry (result, gst_value_array_get_value (labels, i)))
      return FALSE;
  }
  return TRUE;
}

static GQuark
string_field_quark (const GstStructure *structure, const gchar *field)
{
  const gchar *value = gst_structure_get_string (structure, field);

  return value != NULL ? g_quark_from_string (value) : 0;
}

GstClipLabelsResult *
gst_clip_labels_result_new_from_structure (const GstStructure *structure)
{
  GstClipLabelsResult *result;

  g_return_val_if_fail (structure != NULL, NULL);

  if (!gst_structure_has_name (structure, GST_CLIP_LABELS_STRUCTURE_NAME))
    return NULL;
  result = gst_clip_labels_result_new ();
  result->model = string_field_quark (structure, "model");
  result->producer = string_field_quark (structure, "producer");
  if (!gst_structure_get_uint64 (structure, "clip-index", &result->clip_index)
      || !gst_structure_get_uint (structure, "num-frames", &result->num_frames)
      || !get_real_frames_field (structure, &result->real_frames)
      || !get_time_field (structure, "first-pts", &result->first_pts)
      || !get_time_field (structure, "last-pts", &result->last_pts)
      || !get_time_field (structure, "first-running-time", &result->first_running_time)
      || !get_time_field (structure, "last-running-time", &result->last_running_time)
      || !add_labels_from_array (result, gst_structure_get_value (structure, "labels"))) {
    gst_clip_labels_result_free (result);
    return NULL;
  }
  return result;
}
