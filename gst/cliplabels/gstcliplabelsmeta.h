/* gstcliplabelsmeta.h: the result of classifying one clip, attached to buffers.
 *
 * Plain data, close in shape to GstAnalyticsClsMtd of GStreamer 1.24 (per class: a quark and a
 * confidence) so that a later move is easy. The meta survives buffer copies, queue, tee and
 * gst_buffer_make_writable(). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Name of the GstStructure used by gst_clip_labels_meta_to_structure(), the element message on
 * the bus and the custom downstream event sent at EOS. */
#define GST_CLIP_LABELS_STRUCTURE_NAME "GstClipLabels"

typedef struct {
  guint class_id;            /* index into the model's labels */
  GQuark label;              /* the class label */
  gfloat score;              /* softmax probability, 0..1 */
} GstClipLabel;

/* One clip's result as plain data: what the meta carries, without a buffer. Made by the
 * classifier, turned into a meta, a bus message or an event by the functions below; kept by
 * consumers that outlive the buffer (labeloverlay). Owns its labels. */
typedef struct {
  GQuark model;              /* the model's name, 0 if unknown */
  GQuark producer;           /* name of the element that classified the clip, 0 if unknown */
  guint64 clip_index;        /* 0, 1, 2... per producer since it started */
  guint num_frames;          /* sampled frames in the clip */
  GstClockTime first_pts;    /* PTS of the clip's first and last sampled frame */
  GstClockTime last_pts;
  GstClockTime first_running_time; /* their running times */
  GstClockTime last_running_time;

  guint n_labels;
  GstClipLabel *labels;      /* n_labels, descending score */
  guint real_frames;         /* frames from the stream (below num_frames: padded at the end of
                              * the stream by repeating the last); 0 = all (num_frames) */
} GstClipLabelsResult;

/* An empty result: no names, index 0, times GST_CLOCK_TIME_NONE, no labels. */
GstClipLabelsResult *gst_clip_labels_result_new (void);
GstClipLabelsResult *gst_clip_labels_result_copy (const GstClipLabelsResult *result);
void gst_clip_labels_result_free (GstClipLabelsResult *result);

/* Appends a label; callers add them in descending score. */
void gst_clip_labels_result_add_label (GstClipLabelsResult *result, guint class_id,
    const gchar *label, gfloat score);

/* TRUE if both are the same clip of the same producer (the same result reached us twice). */
gboolean gst_clip_labels_result_is_same_clip (const GstClipLabelsResult *a,
    const GstClipLabelsResult *b);

/* The GstStructure form of a result, the one made for GStreamer (bus message, event); see
 * gst_clip_labels_meta_to_structure() for its fields. */
GstStructure *gst_clip_labels_result_to_structure (const GstClipLabelsResult *result);

/* The result such a structure holds; NULL if it is not a valid result. */
GstClipLabelsResult *gst_clip_labels_result_new_from_structure (const GstStructure *structure);

/* The result as one line of JSON; see gst_clip_labels_meta_to_json(). */
gchar *gst_clip_labels_result_to_json (const GstClipLabelsResult *result, const gchar *stream,
    gint64 wallclock_unix_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstClipLabelsResult, gst_clip_labels_result_free)

typedef struct {
  GstMeta meta;

  GQuark model;              /* the model's name */
  GQuark producer;           /* name of the element that classified the clip */
  guint64 clip_index;        /* 0, 1, 2... per producer since it started */
  guint num_frames;          /* sampled frames in the clip */
  GstClockTime first_pts;    /* PTS of the clip's first and last sampled frame */
  GstClockTime last_pts;
  GstClockTime first_running_time; /* their running times */
  GstClockTime last_running_time;

  guint n_labels;
  GstClipLabel *labels;      /* n_labels, descending score */
  guint real_frames;         /* as in GstClipLabelsResult; read it with
                              * gst_clip_labels_meta_get_real_frames() */
} GstClipLabelsMeta;

GType gst_clip_labels_meta_api_get_type (void);
#define GST_CLIP_LABELS_META_API_TYPE (gst_clip_labels_meta_api_get_type ())

const GstMetaInfo *gst_clip_labels_meta_get_info (void);
#define GST_CLIP_LABELS_META_INFO (gst_clip_labels_meta_get_info ())

#define gst_buffer_get_clip_labels_meta(b) \
  ((GstClipLabelsMeta *) gst_buffer_get_meta ((b), GST_CLIP_LABELS_META_API_TYPE))

/* Adds an empty result (no labels) to a writable buffer. */
GstClipLabelsMeta *gst_buffer_add_clip_labels_meta (GstBuffer *buffer, const gchar *model,
    const gchar *producer, guint64 clip_index, guint num_frames,
    GstClockTime first_pts, GstClockTime last_pts,
    GstClockTime first_running_time, GstClockTime last_running_time);

/* Adds a meta holding a copy of `result` to a writable buffer. */
GstClipLabelsMeta *gst_buffer_add_clip_labels_meta_from_result (GstBuffer *buffer,
    const GstClipLabelsResult *result);

/* Fills `view` with the meta's fields: a borrowed view, whose labels belong to the meta (valid
 * while the meta lives and gets no label added; copy it with gst_clip_labels_result_copy()). */
void gst_clip_labels_meta_get_result (const GstClipLabelsMeta *meta, GstClipLabelsResult *view);

/* Appends a label; callers add them in descending score. */
void gst_clip_labels_meta_add_label (GstClipLabelsMeta *meta, guint class_id,
    const gchar *label, gfloat score);

guint gst_clip_labels_meta_get_n_labels (const GstClipLabelsMeta *meta);
/* How many of the clip's num_frames frames came from the stream: num_frames, or fewer when
 * the classifier completed a short clip at the end of the stream by repeating its last frame. */
guint gst_clip_labels_meta_get_real_frames (const GstClipLabelsMeta *meta);
guint gst_clip_labels_result_get_real_frames (const GstClipLabelsResult *result);
/* FALSE if index is out of range. Any out pointer may be NULL. */
gboolean gst_clip_labels_meta_get_label (const GstClipLabelsMeta *meta, guint index,
    guint *class_id, const gchar **label, gfloat *score);

/* GstStructure named GST_CLIP_LABELS_STRUCTURE_NAME with the fields:
 *   model (string), producer (string), clip-index (guint64), num-frames (uint),
 *   real-frames (uint; absent when read back: num-frames), first-pts, last-pts, first-running-time, last-running-time (guint64, GST_CLOCK_TIME_NONE
 *   when unknown), labels (GstValueArray of GstStructure "label": id (uint), label (string),
 *   score (float)). */
GstStructure *gst_clip_labels_meta_to_structure (const GstClipLabelsMeta *meta);

/* Adds a meta built from such a structure; NULL if the structure is not a valid result. */
GstClipLabelsMeta *gst_buffer_add_clip_labels_meta_from_structure (GstBuffer *buffer,
    const GstStructure *structure);

/* The custom serialized downstream event that carries one result (the element sends one per
 * result still pending at EOS, before EOS). Takes ownership of `structure`, which must be
 * named GST_CLIP_LABELS_STRUCTURE_NAME. */
GstEvent *gst_clip_labels_event_new (GstStructure *structure);

/* The result an event carries, or NULL if the event is not a clip-labels event. */
const GstStructure *gst_clip_labels_event_get_structure (GstEvent *event);

/* The result an event carries, typed (free it); NULL if the event is not a clip-labels event or
 * holds no valid result. What consumers of the event call. */
GstClipLabelsResult *gst_clip_labels_event_parse_result (GstEvent *event);

/* The result as one line of JSON (no newline), the line labellog writes:
 *   {"stream", "model", "producer", "clip_index", "num_frames", "real_frames", "first_pts",
 *    "last_pts",
 *    "first_running_time", "last_running_time" (nanoseconds, null when unknown),
 *    "wallclock" (ISO 8601, UTC), "wallclock_unix_ns", "labels": [{"id", "label", "score"}]}
 * `stream` may be NULL (written null); a name the meta lacks is written ""; a score that is not
 * finite is written null. Free with g_free(). */
gchar *gst_clip_labels_meta_to_json (const GstClipLabelsMeta *meta, const gchar *stream,
    gint64 wallclock_unix_us);

G_END_DECLS
