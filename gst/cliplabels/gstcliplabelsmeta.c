/* gstcliplabelsmeta.c: the clip-labels meta and its event. */
#include "gstcliplabelsmeta.h"

#include <gst/video/video.h>

static void clip_labels_meta_set (GstClipLabelsMeta *meta, const GstClipLabelsResult *result);

static gboolean
clip_labels_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  static const GstClipLabelsResult empty = {
    .first_pts = GST_CLOCK_TIME_NONE,
    .last_pts = GST_CLOCK_TIME_NONE,
    .first_running_time = GST_CLOCK_TIME_NONE,
    .last_running_time = GST_CLOCK_TIME_NONE,
  };

  clip_labels_meta_set ((GstClipLabelsMeta *) meta, &empty);
  return TRUE;
}

static void
clip_labels_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstClipLabelsMeta *self = (GstClipLabelsMeta *) meta;

  g_clear_pointer (&self->labels, g_free);
  self->n_labels = 0;
}

/* Copies the result's fields and labels into a meta without any. */
static void
clip_labels_meta_set (GstClipLabelsMeta *meta, const GstClipLabelsResult *result)
{
  meta->model = result->model;
  meta->producer = result->producer;
  meta->clip_index = result->clip_index;
  meta->num_frames = result->num_frames;
  meta->real_frames = result->real_frames;
  meta->first_pts = result->first_pts;
  meta->last_pts = result->last_pts;
  meta->first_running_time = result->first_running_time;
  meta->last_running_time = result->last_running_time;
  meta->n_labels = result->n_labels;
  meta->labels = g_memdup2 (result->labels, sizeof (GstClipLabel) * result->n_labels);
}

static GstClipLabelsMeta *
clip_labels_meta_add (GstBuffer *buffer, const GstClipLabelsResult *result)
{
  GstClipLabelsMeta *meta = (GstClipLabelsMeta *) gst_buffer_add_meta (buffer,
      GST_CLIP_LABELS_META_INFO, NULL);

  if (meta != NULL)
    clip_labels_meta_set (meta, result);
  return meta;
}

static GstClipLabelsMeta *
clip_labels_meta_copy_to (const GstClipLabelsMeta *src, GstBuffer *dest)
{
  GstClipLabelsResult view;

  gst_clip_labels_meta_get_result (src, &view);
  return clip_labels_meta_add (dest, &view);
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

GstClipLabelsMeta *
gst_buffer_add_clip_labels_meta (GstBuffer *buffer, const gchar *model, const gchar *producer,
    guint64 clip_index, guint num_frames, GstClockTime first_pts, GstClockTime last_pts,
    GstClockTime first_running_time, GstClockTime last_running_time)
{
  GstClipLabelsResult result = {
    .model = model != NULL ? g_quark_from_string (model) : 0,
    .producer = producer != NULL ? g_quark_from_string (producer) : 0,
    .clip_index = clip_index,
    .num_frames = num_frames,
    .first_pts = first_pts,
    .last_pts = last_pts,
    .first_running_time = first_running_time,
    .last_running_time = last_running_time,
  };

  return gst_buffer_add_clip_labels_meta_from_result (buffer, &result);
}

GstClipLabelsMeta *
gst_buffer_add_clip_labels_meta_from_result (GstBuffer *buffer,
    const GstClipLabelsResult *result)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);
  g_return_val_if_fail (result != NULL, NULL);

  return clip_labels_meta_add (buffer, result);
}

void
gst_clip_labels_meta_get_result (const GstClipLabelsMeta *meta, GstClipLabelsResult *view)
{
  g_return_if_fail (meta != NULL && view != NULL);

  view->model = meta->model;
  view->producer = meta->producer;
  view->clip_index = meta->clip_index;
  view->num_frames = meta->num_frames;
  view->real_frames = meta->real_frames;
  view->first_pts = meta->first_pts;
  view->last_pts = meta->last_pts;
  view->first_running_time = meta->first_running_time;
  view->last_running_time = meta->last_running_time;
  view->n_labels = meta->n_labels;
  view->labels = meta->labels;
}

guint
gst_clip_labels_meta_get_real_frames (const GstClipLabelsMeta *meta)
{
  GstClipLabelsResult view;

  g_return_val_if_fail (meta != NULL, 0);

  gst_clip_labels_meta_get_result (meta, &view);
  return gst_clip_labels_result_get_real_frames (&view);
}

/* The meta's labels are a result's labels: one way to append them. */
void
gst_clip_labels_meta_add_label (GstClipLabelsMeta *meta, guint class_id, const gchar *label,
    gfloat score)
{
  GstClipLabelsResult view;

  g_return_if_fail (meta != NULL);

  gst_clip_labels_meta_get_result (meta, &view);
  gst_clip_labels_result_add_label (&view, class_id, label, score);
  meta->labels = view.labels;
  meta->n_labels = view.n_labels;
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

GstStructure *
gst_clip_labels_meta_to_structure (const GstClipLabelsMeta *meta)
{
  GstClipLabelsResult view;

  g_return_val_if_fail (meta != NULL, NULL);

  gst_clip_labels_meta_get_result (meta, &view);
  return gst_clip_labels_result_to_structure (&view);
}

GstClipLabelsMeta *
gst_buffer_add_clip_labels_meta_from_structure (GstBuffer *buffer,
    const GstStructure *structure)
{
  GstClipLabelsResult *result;
  GstClipLabelsMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (structure != NULL, NULL);

  result = gst_clip_labels_result_new_from_structure (structure);
  if (result == NULL)
    return NULL;
  meta = gst_buffer_add_clip_labels_meta_from_result (buffer, result);
  gst_clip_labels_result_free (result);
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

GstClipLabelsResult *
gst_clip_labels_event_parse_result (GstEvent *event)
{
  const GstStructure *structure = gst_clip_labels_event_get_structure (event);

  return structure != NULL ? gst_clip_labels_result_new_from_structure (structure) : NULL;
}
