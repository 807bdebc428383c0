/* gstlabelevents.c: action events from per-clip results.
 *
 * Per producer and label: a label starts when its score is at least on-threshold in min-clips
 * clips in a row, goes on while it stays at least off-threshold, and ends at the first clip below
 * off-threshold or without the label (hysteresis: a score between the thresholds neither starts
 * nor ends an event). The event spans the clips from the first above on-threshold to the last at
 * or above off-threshold. Every event is sent downstream (a custom serialized event, before the
 * buffer whose result caused it) and posted on the bus (an element message); at EOS and at a
 * flush every open event ends. Buffers pass untouched. */
#include "gstlabelevents.h"

#include "cliplabels/gstclipevent.h"
#include "cliplabels/gstcliplabelsmeta.h"
#include "gstclipresults.h"

GST_DEBUG_CATEGORY_STATIC (gst_label_events_debug);
#define GST_CAT_DEFAULT gst_label_events_debug

enum {
  PROP_0,
  PROP_ON_THRESHOLD,
  PROP_OFF_THRESHOLD,
  PROP_MIN_CLIPS,
  PROP_UPDATE_INTERVAL,
  PROP_POST_MESSAGES,
};

#define DEFAULT_ON_THRESHOLD 0.6f
#define DEFAULT_OFF_THRESHOLD 0.4f
#define DEFAULT_MIN_CLIPS 2
#define DEFAULT_UPDATE_INTERVAL 1
#define DEFAULT_POST_MESSAGES TRUE

#define REASON_BELOW "below-threshold"
#define REASON_EOS "eos"
#define REASON_FLUSH "flush"

/* One label of one producer: a candidate (n_clips > 0, not active) or an open event. */
typedef struct {
  gboolean active;
  GstClipEvent event;        /* the figures so far; kind set when sent */
  gdouble score_sum;
} LabelTrack;

typedef struct {
  gfloat on_threshold;
  gfloat off_threshold;
  guint min_clips;
  guint update_interval;
  gboolean post_messages;
} EventSettings;

struct _GstLabelEvents {
  GstBaseTransform parent;

  /* properties, guarded by the object lock */
  EventSettings settings;

  /* streaming state */
  GHashTable *tracks;        /* (producer << 32 | label) -> LabelTrack */
  ClipResultFilter *seen;    /* results processed already */
  guint64 next_event_id;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

G_DEFINE_TYPE (GstLabelEvents, gst_label_events, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (labelevents, "labelevents", GST_RANK_NONE, GST_TYPE_LABEL_EVENTS);

static guint64
track_key (GQuark producer, GQuark label)
{
  return ((guint64) producer << 32) | label;
}

/* The wall clock at running time `time`, through the pipeline clock when there is one; else now. */
static gint64
wallclock_of (GstLabelEvents *self, GstClockTime time)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (self));
  gint64 now = g_get_real_time ();

  if (clock != NULL && GST_CLOCK_TIME_IS_VALID (time) && GST_CLOCK_TIME_IS_VALID (base_time)) {
    GstClockTimeDiff running_now = GST_CLOCK_DIFF (base_time, gst_clock_get_time (clock));

    now -= GST_CLOCK_DIFF (time, running_now) / GST_USECOND;
  }
  if (clock != NULL)
    gst_object_unref (clock);
  return now;
}

static void
send_event (GstLabelEvents *self, LabelTrack *track, GstClipEventKind kind, const gchar *reason,
    gboolean post_message)
{
  GstClipEvent *event = &track->event;

  event->kind = kind;
  event->reason = reason;
  event->mean_score = (gfloat) (track->score_sum / event->n_clips);
  GST_DEBUG_OBJECT (self, "%s %" G_GUINT64_FORMAT " %s: %u clips, peak %.3f mean %.3f%s%s",
      gst_clip_event_kind_to_string (kind), event->event_id, g_quark_to_string (event->label),
      event->n_clips, event->peak_score, event->mean_score, reason != NULL ? ", " : "",
      reason != NULL ? reason : "");
  if (post_message)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
            gst_clip_event_to_structure (event)));
  gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), gst_clip_event_new_gst_event (event));
}

/* Adds a clip whose score counts for the track. */
static void
track_add_clip (GstLabelEvents *self, LabelTrack *track, const GstClipLabelsMeta *clip,
    gfloat score)
{
  GstClipEvent *event = &track->event;

  if (event->n_clips == 0) {
    event->start_running_time = clip->first_running_time;
    event->start_pts = clip->first_pts;
    event->start_wallclock_unix_us = wallclock_of (self, clip->first_running_time);
    event->first_clip_index = clip->clip_index;
    event->peak_score = score;
    track->score_sum = 0.0;
  }
  event->model = clip->model;
  event->end_running_time = clip->last_running_time;
  event->end_pts = clip->last_pts;
  event->end_wallclock_unix_us = wallclock_of (self, clip->last_running_time);
  event->last_clip_index = clip->clip_index;
  event->peak_score = MAX (event->peak_score, score);
  track->score_sum += score;
  event->n_clips++;
}

/* One clip's score of the track's label (negative: the clip lacks the label). Returns FALSE when
 * the track is neither a candidate nor open any more. */
static gboolean
track_update (GstLabelEvents *self, LabelTrack *track, const GstClipLabelsMeta *clip,
    gfloat score, const EventSettings *settings)
{
  if (!track->active) {
    if (score < settings->on_threshold)
      return FALSE;
    track_add_clip (self, track, clip, score);
    if (track->event.n_clips >= settings->min_clips) {
      track->active = TRUE;
      track->event.event_id = self->next_event_id++;
      send_event (self, track, GST_CLIP_EVENT_START, NULL, settings->post_messages);
    }
    return TRUE;
  }
  if (score < settings->off_threshold) {
    send_event (self, track, GST_CLIP_EVENT_END, REASON_BELOW, settings->post_messages);
    return FALSE;
  }
  track_add_clip (self, track, clip, score);
  if (settings->update_interval > 0
      && (track->event.n_clips - settings->min_clips) % settings->update_interval == 0)
    send_event (self, track, GST_CLIP_EVENT_UPDATE, NULL, settings->post_messages);
  return TRUE;
}

static void
take_settings (GstLabelEvents *self, EventSettings *settings)
{
  GST_OBJECT_LOCK (self);
  *settings = self->settings;
  GST_OBJECT_UNLOCK (self);
}

static void
process_clip (GstLabelEvents *self, const GstClipLabelsMeta *clip)
{
  EventSettings settings;
  GHashTable *seen = g_hash_table_new (NULL, NULL);
  GHashTableIter iter;
  gpointer key, value;
  guint i;

  if (!clip_result_filter_is_new (self->seen, clip)) {
    GST_LOG_OBJECT (self, "clip %" G_GUINT64_FORMAT " seen already", clip->clip_index);
    g_hash_table_unref (seen);
    return;
  }
  take_settings (self, &settings);
  for (i = 0; i < clip->n_labels; i++) {
    const GstClipLabel *label = &clip->labels[i];
    guint64 key_value = track_key (clip->producer, label->label);
    LabelTrack *track = g_hash_table_lookup (self->tracks, &key_value);

    if (track == NULL) {
      guint64 *track_key_copy = g_memdup2 (&key_value, sizeof key_value);

      track = g_new0 (LabelTrack, 1);
      track->event.producer = clip->producer;
      track->event.label = label->label;
      track->event.class_id = label->class_id;
      g_hash_table_insert (self->tracks, track_key_copy, track);
    }
    g_hash_table_add (seen, track);
    if (!track_update (self, track, clip, label->score, &settings)) {
      track->active = FALSE;
      track->event.n_clips = 0;
    }
  }
  /* Labels of this producer the clip lacks end or stop being candidates. */
  g_hash_table_iter_init (&iter, self->tracks);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    LabelTrack *track = value;

    if (track->event.producer != clip->producer || g_hash_table_contains (seen, track))
      continue;
    if (!track->active || !track_update (self, track, clip, -1.0f, &settings))
      g_hash_table_iter_remove (&iter);
  }
  /* Tracks that are neither candidates nor open are forgotten. */
  g_hash_table_iter_init (&iter, self->tracks);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    if (((LabelTrack *) value)->event.n_clips == 0)
      g_hash_table_iter_remove (&iter);
  }
  g_hash_table_unref (seen);
}

static GstFlowReturn
gst_label_events_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (trans);
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)) != NULL)
    process_clip (self, (const GstClipLabelsMeta *) meta);
  return GST_FLOW_OK;
}

/* Ends every open event and forgets the candidates. */
static void
end_all (GstLabelEvents *self, const gchar *reason)
{
  EventSettings settings;
  GHashTableIter iter;
  gpointer value;

  take_settings (self, &settings);
  g_hash_table_iter_init (&iter, self->tracks);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    LabelTrack *track = value;

    if (track->active)
      send_event (self, track, GST_CLIP_EVENT_END, reason, settings.post_messages);
  }
  g_hash_table_remove_all (self->tracks);
}

static gboolean
gst_label_events_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (trans);
  gboolean flush_stop = GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP;
  GstBuffer *holder = NULL;
  const GstClipLabelsMeta *result = clip_result_from_event (event, &holder);
  gboolean forwarded;

  /* A result that comes as an event (the ones pending at EOS) counts like one on a buffer. */
  if (result != NULL)
    process_clip (self, result);
  gst_clear_buffer (&holder);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    end_all (self, REASON_EOS);
  forwarded = GST_BASE_TRANSFORM_CLASS (gst_label_events_parent_class)->sink_event (trans, event);
  /* Events pushed while flushing would be dropped: they go after the flush. */
  if (flush_stop) {
    end_all (self, REASON_FLUSH);
    clip_result_filter_reset (self->seen);
  }
  return forwarded;
}

static gboolean
gst_label_events_start (GstBaseTransform *trans)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (trans);
  EventSettings settings;

  take_settings (self, &settings);
  if (settings.off_threshold > settings.on_threshold) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("off-threshold (%.3f) is above on-threshold (%.3f).", settings.off_threshold,
            settings.on_threshold), ("an event would end as it starts"));
    return FALSE;
  }
  self->next_event_id = 0;
  return TRUE;
}

static gboolean
gst_label_events_stop (GstBaseTransform *trans)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (trans);

  g_hash_table_remove_all (self->tracks);
  clip_result_filter_reset (self->seen);
  return TRUE;
}

/* ---- properties ---- */

static void
gst_label_events_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ON_THRESHOLD:
      self->settings.on_threshold = g_value_get_float (value);
      break;
    case PROP_OFF_THRESHOLD:
      self->settings.off_threshold = g_value_get_float (value);
      break;
    case PROP_MIN_CLIPS:
      self->settings.min_clips = g_value_get_uint (value);
      break;
    case PROP_UPDATE_INTERVAL:
      self->settings.update_interval = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->settings.post_messages = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_events_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ON_THRESHOLD:
      g_value_set_float (value, self->settings.on_threshold);
      break;
    case PROP_OFF_THRESHOLD:
      g_value_set_float (value, self->settings.off_threshold);
      break;
    case PROP_MIN_CLIPS:
      g_value_set_uint (value, self->settings.min_clips);
      break;
    case PROP_UPDATE_INTERVAL:
      g_value_set_uint (value, self->settings.update_interval);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->settings.post_messages);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_events_finalize (GObject *object)
{
  GstLabelEvents *self = GST_LABEL_EVENTS (object);

  g_hash_table_unref (self->tracks);
  clip_result_filter_free (self->seen);
  G_OBJECT_CLASS (gst_label_events_parent_class)->finalize (object);
}

#define MUTABLE (G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS)

static void
gst_label_events_class_init (GstLabelEventsClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_label_events_debug, "labelevents", 0,
      "Action events from clip classification results");

  gobject_class->set_property = gst_label_events_set_property;
  gobject_class->get_property = gst_label_events_get_property;
  gobject_class->finalize = gst_label_events_finalize;

  g_object_class_install_property (gobject_class, PROP_ON_THRESHOLD,
      g_param_spec_float ("on-threshold", "On threshold",
          "A label starts when its score is at least this in min-clips clips in a row", 0.0f,
          1.0f, DEFAULT_ON_THRESHOLD, MUTABLE));
  g_object_class_install_property (gobject_class, PROP_OFF_THRESHOLD,
      g_param_spec_float ("off-threshold", "Off threshold",
          "An event ends at the first clip whose score of its label is below this "
          "(at most on-threshold)", 0.0f, 1.0f, DEFAULT_OFF_THRESHOLD, MUTABLE));
  g_object_class_install_property (gobject_class, PROP_MIN_CLIPS,
      g_param_spec_uint ("min-clips", "Min clips",
          "Clips in a row at or above on-threshold before an event starts", 1, 10000,
          DEFAULT_MIN_CLIPS, MUTABLE));
  g_object_class_install_property (gobject_class, PROP_UPDATE_INTERVAL,
      g_param_spec_uint ("update-interval", "Update interval",
          "An update event every this many clips of an open event (0: none)", 0, 10000,
          DEFAULT_UPDATE_INTERVAL, MUTABLE));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post every event on the bus too, as an element message \"GstClipEvent\"",
          DEFAULT_POST_MESSAGES, MUTABLE));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Clip label events", "Filter/Analyzer",
      "Turns per-clip classification results into start, update and end events of actions",
      "gst-timesformer");

  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_label_events_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_label_events_sink_event);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_label_events_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_label_events_stop);
}

static void
gst_label_events_init (GstLabelEvents *self)
{
  self->settings.on_threshold = DEFAULT_ON_THRESHOLD;
  self->settings.off_threshold = DEFAULT_OFF_THRESHOLD;
  self->settings.min_clips = DEFAULT_MIN_CLIPS;
  self->settings.update_interval = DEFAULT_UPDATE_INTERVAL;
  self->settings.post_messages = DEFAULT_POST_MESSAGES;
  self->tracks = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  self->seen = clip_result_filter_new ();
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
