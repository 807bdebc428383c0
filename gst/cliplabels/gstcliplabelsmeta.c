/* gstcliplabelsmeta.c: the clip-labels meta, its GstStructure form and its event. */
#include "gstcliplabelsmeta.h"

#include <gst/video/video.h>

#define LABEL_STRUCTURE_NAME "label"

static gboolean
clip_labels_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstClipLabelsMeta *self = (GstClipLabelsMeta *) meta;

  self->model = 0;
  self->producer = 0;
  self->clip_index = 0;
  self->num_frames = 0;
  self->first_pts = GST_CLOCK_TIME_NONE;
  self->last_pts = GST_CLOCK_TIME_NONE;
  self->first_running_time = GST_CLOCK_TIME_NONE;
  self->last_running_time = GST_CLOCK_TIME_NONE;
  self->n_labels = 0;
  self->labels = NULL;
  return TRUE;
}

static void
clip_labels_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstClipLabelsMeta *self = (GstClipLabelsMeta *) meta;

  g_clear_pointer (&self->labels, g_free);
  self->n_labels = 0;
}

static GstClipLabelsMeta *
clip_labels_meta_copy_to (const GstClipLabelsMeta *src, GstBuffer *dest)
{
  GstClipLabelsMeta *copy = (GstClipLabelsMeta *) gst_buffer_add_meta (dest,
      GST_CLIP_LABELS_META_INFO, NULL);

  if (copy == NULL)
    return NULL;
  copy->model = src->model;
  copy->producer = src->producer;
  copy->clip_index = src->clip_index;
  copy->num_frames = src->num_frames;
  copy->first_pts = src->first_pts;
  copy->last_pts = src->last_pts;
  copy->first_running_time = src->first_running_time;
  copy->last_running_time = src->last_running_time;
  copy->n_labels = src->n_labels;
  copy->labels = g_memdup2 (src->labels, sizeof (GstClipLabel) * src->n_labels);
  return copy;
}

/* A clip's labels stay true whatever is done to the pixels: copies and scaled copies keep them. */
static gboolean
clip_labels_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  if (GST_META_TRANSFORM_IS_COPY (type) || GST_VIDEO_META_TRANSFORM_IS_SCALE (type))
    return clip_labels_meta_copy_to ((GstClipLabelsMeta *) meta, dest) != NULL;
  return FALSE;
}

GType
gst_clip_labels_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { GST_META_TAG_VIDEO_STR, NULL };

  if (g_once_init_enter (&type)) {
    GType registered = gst_meta_api_type_register ("GstClipLabelsMetaAPI", tags);
    g_once_init_leave (&type, registered);
  }
  return type;
}

const GstMetaInfo *
gst_clip_labels_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *registered = gst_meta_register (GST_CLIP_LABELS_META_API_TYPE,
        "GstClipLabelsMeta", sizeof (GstClipLabelsMeta), clip_labels_meta_init,
        clip_labels_meta_free, clip_labels_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) registered);
  }
  return info;
}

static GQuark
quark_or_zero (const gchar *string)
{
  return string != NULL ? g_quark_from_string (string) : 0;
}

GstClipLabelsMeta *
gst_buffer_add_clip_labels_meta (GstBuffer *buffer, const gchar *model, const gchar *producer,
    guint64 clip_index, guint num_frames, GstClockTime first_pts, GstClockTime last_pts,
    GstClockTime first_running_time, GstClockTime last_running_time)
{
  GstClipLabelsMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);

  meta = (GstClipLabelsMeta *) gst_buffer_add_meta (buffer, GST_CLIP_LABELS_META_INFO, NULL);
  if (meta == NULL)
    return NULL;
  meta->model = quark_or_zero (model);
  meta->producer = quark_or_zero (producer);
  meta->clip_index = clip_index;
  meta->num_frames = num_frames;
  meta->first_pts = first_pts;
  meta->last_pts = last_pts;
  meta->first_running_time = first_running_time;
  meta->last_running_time = last_running_time;
  return meta;
}

void
gst_clip_labels_meta_add_label (GstClipLabelsMeta *meta, guint class_id, const gchar *label,
    gfloat score)
{
  GstClipLabel *added;

  g_return_if_fail (meta != NULL);

  meta->labels = g_renew (GstClipLabel, meta->labels, meta->n_labels + 1);
  added = &meta->labels[meta->n_labels++];
  added->class_id = class_id;
  added->label = quark_or_zero (label);
  added->score = score;
}

guint
gst_clip_labels_meta_get_n_labels (const GstClipLabelsMeta *meta)
{
  g_return_val_if_fail (meta != NULL, 0);
  return meta->n_labels;
}

gboolean
gst_clip_labels_meta_get_label (const GstClipLabelsMeta *meta, guint index, guint *class_id,
    const gchar **label, gfloat *score)
{
  g_return_val_if_fail (meta != NULL, FALSE);

  if (index >= meta->n_labels)
    return FALSE;
  if (class_id != NULL)
    *class_id = meta->labels[index].class_id;
  if (label != NULL)
    *label = g_quark_to_string (meta->labels[index].label);
  if (score != NULL)
    *score = meta->labels[index].score;
  return TRUE;
}

static const gchar *
quark_to_string_or_empty (GQuark quark)
{
  return quark != 0 ? g_quark_to_string (quark) : "";
}

GstStructure *
gst_clip_labels_meta_to_structure (const GstClipLabelsMeta *meta)
{
  GValue labels = G_VALUE_INIT;
  GstStructure *structure;
  guint i;

  g_return_val_if_fail (meta != NULL, NULL);

  structure = gst_structure_new (GST_CLIP_LABELS_STRUCTURE_NAME,
      "model", G_TYPE_STRING, quark_to_string_or_empty (meta->model),
      "producer", G_TYPE_STRING, quark_to_string_or_empty (meta->producer),
      "clip-index", G_TYPE_UINT64, meta->clip_index,
      "num-frames", G_TYPE_UINT, meta->num_frames,
      "first-pts", G_TYPE_UINT64, meta->first_pts,
      "last-pts", G_TYPE_UINT64, meta->last_pts,
      "first-running-time", G_TYPE_UINT64, meta->first_running_time,
      "last-running-time", G_TYPE_UINT64, meta->last_running_time, NULL);

  gst_value_array_init (&labels, meta->n_labels);
  for (i = 0; i < meta->n_labels; i++) {
    GValue entry = G_VALUE_INIT;

    g_value_init (&entry, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&entry, gst_structure_new (LABEL_STRUCTURE_NAME,
            "id", G_TYPE_UINT, meta->labels[i].class_id,
            "label", G_TYPE_STRING, quark_to_string_or_empty (meta->labels[i].label),
            "score", G_TYPE_FLOAT, meta->labels[i].score, NULL));
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

static gboolean
label_entry_is_valid (const GValue *entry)
{
  const GstStructure *label;

  if (!GST_VALUE_HOLDS_STRUCTURE (entry))
    return FALSE;
  label = gst_value_get_structure (entry);
  return gst_structure_has_name (label, LABEL_STRUCTURE_NAME)
      && gst_structure_has_field_typed (label, "id", G_TYPE_UINT)
      && gst_structure_has_field_typed (label, "label", G_TYPE_STRING)
      && gst_structure_has_field_typed (label, "score", G_TYPE_FLOAT);
}

static void
add_labels_from_array (GstClipLabelsMeta *meta, const GValue *labels)
{
  guint i;

  for (i = 0; i < gst_value_array_get_size (labels); i++) {
    const GstStructure *label = gst_value_get_structure (gst_value_array_get_value (labels, i));
    guint class_id = 0;
    gfloat score = 0.0f;

    gst_structure_get_uint (label, "id", &class_id);
    gst_structure_get (label, "score", G_TYPE_FLOAT, &score, NULL);
    gst_clip_labels_meta_add_label (meta, class_id, gst_structure_get_string (label, "label"),
        score);
  }
}

static gboolean
labels_array_is_valid (const GValue *labels)
{
  guint i;

  if (labels == NULL || !GST_VALUE_HOLDS_ARRAY (labels))
    return FALSE;
  for (i = 0; i < gst_value_array_get_size (labels); i++) {
    if (!label_entry_is_valid (gst_value_array_get_value (labels, i)))
      return FALSE;
  }
  return TRUE;
}

GstClipLabelsMeta *
gst_buffer_add_clip_labels_meta_from_structure (GstBuffer *buffer,
    const GstStructure *structure)
{
  GstClockTime first_pts, last_pts, first_rt, last_rt;
  const GValue *labels;
  GstClipLabelsMeta *meta;
  guint64 clip_index = 0;
  guint num_frames = 0;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (structure != NULL, NULL);

  labels = gst_structure_get_value (structure, "labels");
  if (!gst_structure_has_name (structure, GST_CLIP_LABELS_STRUCTURE_NAME)
      || !gst_structure_get_uint64 (structure, "clip-index", &clip_index)
      || !gst_structure_get_uint (structure, "num-frames", &num_frames)
      || !get_time_field (structure, "first-pts", &first_pts)
      || !get_time_field (structure, "last-pts", &last_pts)
      || !get_time_field (structure, "first-running-time", &first_rt)
      || !get_time_field (structure, "last-running-time", &last_rt)
      || !labels_array_is_valid (labels))
    return NULL;

  meta = gst_buffer_add_clip_labels_meta (buffer, gst_structure_get_string (structure, "model"),
      gst_structure_get_string (structure, "producer"), clip_index, num_frames, first_pts,
      last_pts, first_rt, last_rt);
  if (meta != NULL)
    add_labels_from_array (meta, labels);
  return meta;
}

GstEvent *
gst_clip_labels_event_new (GstStructure *structure)
{
  g_return_val_if_fail (structure != NULL, NULL);
  g_return_val_if_fail (gst_structure_has_name (structure, GST_CLIP_LABELS_STRUCTURE_NAME),
      NULL);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, structure);
}

const GstStructure *
gst_clip_labels_event_get_structure (GstEvent *event)
{
  const GstStructure *structure;

  g_return_val_if_fail (GST_IS_EVENT (event), NULL);

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM)
    return NULL;
  structure = gst_event_get_structure (event);
  if (structure == NULL || !gst_structure_has_name (structure, GST_CLIP_LABELS_STRUCTURE_NAME))
    return NULL;
  return structure;
}
