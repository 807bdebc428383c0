/* gstclipevent.h: an action event (a label that started, goes on or ended) made from the
 * per-clip results of one stream by `labelevents`.
 *
 * Plain data. It travels downstream as a custom serialized event and on the bus as an element
 * message, both carrying the GstStructure of gst_clip_event_to_structure(); `labellog` and
 * `labelpublish` write it as JSON with gst_clip_event_to_json(). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Name of the structure of the downstream event and of the bus message. */
#define GST_CLIP_EVENT_STRUCTURE_NAME "GstClipEvent"

/* Version of the event's JSON object (its "version" member). */
#define GST_CLIP_EVENT_JSON_VERSION 1

/**
 * GstClipEventKind:
 * @GST_CLIP_EVENT_START: the label started (its score stayed above the on-threshold)
 * @GST_CLIP_EVENT_UPDATE: the label goes on; the figures so far
 * @GST_CLIP_EVENT_END: the label ended (its score fell below the off-threshold, or EOS)
 */
typedef enum {
  GST_CLIP_EVENT_START,
  GST_CLIP_EVENT_UPDATE,
  GST_CLIP_EVENT_END,
} GstClipEventKind;

/**
 * GstClipEvent:
 * @kind: start, update or end
 * @event_id: 0, 1, 2... per `labelevents` element since it started; the same for the start,
 *   updates and end of one event
 * @model: the model's name
 * @producer: the element that classified the clips
 * @class_id: the label's index in the model's labels
 * @label: the label
 * @start_running_time: running time of the first frame of the event's first clip
 * @end_running_time: running time of the last frame of the event's last clip so far
 * @start_pts: PTS of that first frame
 * @end_pts: PTS of that last frame
 * @start_wallclock_unix_us: wall clock (UTC, microseconds since 1970) of @start_running_time
 * @end_wallclock_unix_us: wall clock of @end_running_time
 * @peak_score: highest score of the label over the event's clips
 * @mean_score: mean score over them
 * @n_clips: clips the event spans so far
 * @first_clip_index: clip index of the first of them
 * @last_clip_index: clip index of the last of them
 * @reason: why an end event ended: "below-threshold", "eos" or "flush" (an interned string);
 *   NULL otherwise
 *
 * Times are GST_CLOCK_TIME_NONE when unknown; wall clocks are 0 when unknown.
 */
typedef struct {
  GstClipEventKind kind;
  guint64 event_id;
  GQuark model;
  GQuark producer;
  guint class_id;
  GQuark label;
  GstClockTime start_running_time;
  GstClockTime end_running_time;
  GstClockTime start_pts;
  GstClockTime end_pts;
  gint64 start_wallclock_unix_us;
  gint64 end_wallclock_unix_us;
  gfloat peak_score;
  gfloat mean_score;
  guint n_clips;
  guint64 first_clip_index;
  guint64 last_clip_index;
  const gchar *reason;
} GstClipEvent;

/**
 * gst_clip_event_kind_to_string:
 * @kind: a kind
 *
 * Returns: (transfer none): "start", "update" or "end"
 */
const gchar *gst_clip_event_kind_to_string (GstClipEventKind kind);

/**
 * gst_clip_event_to_structure:
 * @event: an event
 *
 * Returns: (transfer full): a structure named GST_CLIP_EVENT_STRUCTURE_NAME with the fields
 *   kind (string), event-id (guint64), model, producer, label (string), class-id (uint),
 *   start-running-time, end-running-time, start-pts, end-pts (guint64), start-wallclock-unix-us,
 *   end-wallclock-unix-us (gint64), peak-score, mean-score (float), n-clips (uint),
 *   first-clip-index, last-clip-index (guint64) and, on end events, reason (string).
 */
GstStructure *gst_clip_event_to_structure (const GstClipEvent *event);

/**
 * gst_clip_event_from_structure:
 * @structure: a structure made by gst_clip_event_to_structure()
 * @event: (out caller-allocates): the event read from it
 *
 * Returns: FALSE if @structure is not a valid clip event (then @event is untouched)
 */
gboolean gst_clip_event_from_structure (const GstStructure *structure, GstClipEvent *event);

/**
 * gst_clip_event_new_gst_event:
 * @event: an event
 *
 * Returns: (transfer full): the custom serialized downstream event that carries @event
 */
GstEvent *gst_clip_event_new_gst_event (const GstClipEvent *event);

/**
 * gst_clip_event_parse_gst_event:
 * @gst_event: any GStreamer event
 * @event: (out caller-allocates): the clip event it carries
 *
 * Returns: TRUE if @gst_event carries a clip event
 */
gboolean gst_clip_event_parse_gst_event (GstEvent *gst_event, GstClipEvent *event);

/**
 * gst_clip_event_to_json:
 * @event: an event
 * @stream: (nullable): the stream's name (written null when NULL)
 *
 * One JSON object, no newline: {"version": 1, "type": "clip-event", "event": "start" |
 * "update" | "end", "event_id", "stream", "model", "producer", "label", "class_id",
 * "start_running_time", "end_running_time", "start_pts", "end_pts" (nanoseconds, null when
 * unknown), "start_wallclock", "end_wallclock" (ISO 8601, UTC, null when unknown),
 * "start_wallclock_unix_ns", "end_wallclock_unix_ns", "peak_score", "mean_score", "clips",
 * "first_clip_index", "last_clip_index", "reason" (null but on end events)}.
 *
 * Returns: (transfer full): the JSON text; free with g_free()
 */
gchar *gst_clip_event_to_json (const GstClipEvent *event, const gchar *stream);

G_END_DECLS
