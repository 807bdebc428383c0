/* gstclipevent.c: the action event, its GstStructure form, its GStreamer event and its JSON. */
#include "gstclipevent.h"

#include <math.h>
#include <json-glib/json-glib.h>

static const gchar *const kind_names[] = { "start", "update", "end" };

const gchar *
gst_clip_event_kind_to_string (GstClipEventKind kind)
{
  return (guint) kind < G_N_ELEMENTS (kind_names) ? kind_names[kind] : "unknown";
}

static gboolean
kind_from_string (const gchar *name, GstClipEventKind *kind)
{
  guint i;

  for (i = 0; name != NULL && i < G_N_ELEMENTS (kind_names); i++) {
    if (g_strcmp0 (name, kind_names[i]) == 0) {
      *kind = (GstClipEventKind) i;
      return TRUE;
    }
  }
  return FALSE;
}

static const gchar *
quark_string (GQuark quark)
{
  return quark != 0 ? g_quark_to_string (quark) : "";
}

GstStructure *
gst_clip_event_to_structure (const GstClipEvent *event)
{
  GstStructure *structure;

  g_return_val_if_fail (event != NULL, NULL);

  structure = gst_structure_new (GST_CLIP_EVENT_STRUCTURE_NAME,
      "kind", G_TYPE_STRING, gst_clip_event_kind_to_string (event->kind),
      "event-id", G_TYPE_UINT64, event->event_id,
      "model", G_TYPE_STRING, quark_string (event->model),
      "producer", G_TYPE_STRING, quark_string (event->producer),
      "class-id", G_TYPE_UINT, event->class_id,
      "label", G_TYPE_STRING, quark_string (event->label),
      "start-running-time", G_TYPE_UINT64, event->start_running_time,
      "end-running-time", G_TYPE_UINT64, event->end_running_time,
      "start-pts", G_TYPE_UINT64, event->start_pts,
      "end-pts", G_TYPE_UINT64, event->end_pts,
      "start-wallclock-unix-us", G_TYPE_INT64, event->start_wallclock_unix_us,
      "end-wallclock-unix-us", G_TYPE_INT64, event->end_wallclock_unix_us,
      "peak-score", G_TYPE_FLOAT, event->peak_score,
      "mean-score", G_TYPE_FLOAT, event->mean_score,
      "n-clips", G_TYPE_UINT, event->n_clips,
      "first-clip-index", G_TYPE_UINT64, event->first_clip_index,
      "last-clip-index", G_TYPE_UINT64, event->last_clip_index, NULL);
  if (event->reason != NULL)
    gst_structure_set (structure, "reason", G_TYPE_STRING, event->reason, NULL);
  return structure;
}

static GQuark
quark_field (const GstStructure *structure, const gchar *field)
{
  const gchar *value = gst_structure_get_string (structure, field);

  return value != NULL && value[0] != '\0' ? g_quark_from_string (value) : 0;
}

gboolean
gst_clip_event_from_structure (const GstStructure *structure, GstClipEvent *event)
{
  GstClipEvent read = { 0 };
  const gchar *reason;

  g_return_val_if_fail (structure != NULL && event != NULL, FALSE);

  if (!gst_structure_has_name (structure, GST_CLIP_EVENT_STRUCTURE_NAME)
      || !kind_from_string (gst_structure_get_string (structure, "kind"), &read.kind)
      || !gst_structure_get (structure,
          "event-id", G_TYPE_UINT64, &read.event_id,
          "class-id", G_TYPE_UINT, &read.class_id,
          "start-running-time", G_TYPE_UINT64, &read.start_running_time,
          "end-running-time", G_TYPE_UINT64, &read.end_running_time,
          "start-pts", G_TYPE_UINT64, &read.start_pts,
          "end-pts", G_TYPE_UINT64, &read.end_pts,
          "start-wallclock-unix-us", G_TYPE_INT64, &read.start_wallclock_unix_us,
          "end-wallclock-unix-us", G_TYPE_INT64, &read.end_wallclock_unix_us,
          "peak-score", G_TYPE_FLOAT, &read.peak_score,
          "mean-score", G_TYPE_FLOAT, &read.mean_score,
          "n-clips", G_TYPE_UINT, &read.n_clips,
          "first-clip-index", G_TYPE_UINT64, &read.first_clip_index,
          "last-clip-index", G_TYPE_UINT64, &read.last_clip_index, NULL))
    return FALSE;
  read.model = quark_field (structure, "model");
  read.producer = quark_field (structure, "producer");
  read.label = quark_field (structure, "label");
  reason = gst_structure_get_string (structure, "reason");
  read.reason = reason != NULL ? g_intern_string (reason) : NULL;
  *event = read;
  return TRUE;
}

GstEvent *
gst_clip_event_new_gst_event (const GstClipEvent *event)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_clip_event_to_structure (event));
}

gboolean
gst_clip_event_parse_gst_event (GstEvent *gst_event, GstClipEvent *event)
{
  const GstStructure *structure;

  g_return_val_if_fail (GST_IS_EVENT (gst_event), FALSE);

  if (GST_EVENT_TYPE (gst_event) != GST_EVENT_CUSTOM_DOWNSTREAM)
    return FALSE;
  structure = gst_event_get_structure (gst_event);
  return structure != NULL && gst_clip_event_from_structure (structure, event);
}

/* ---- JSON ---- */

static void
add_string (JsonBuilder *builder, const gchar *member, const gchar *value)
{
  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_int (JsonBuilder *builder, const gchar *member, gint64 value)
{
  json_builder_set_member_name (builder, member);
  json_builder_add_int_value (builder, value);
}

static void
add_time (JsonBuilder *builder, const gchar *member, GstClockTime time)
{
  json_builder_set_member_name (builder, member);
  if (GST_CLOCK_TIME_IS_VALID (time))
    json_builder_add_int_value (builder, (gint64) time);
  else
    json_builder_add_null_value (builder);
}

static void
add_score (JsonBuilder *builder, const gchar *member, gfloat score)
{
  json_builder_set_member_name (builder, member);
  if (isfinite (score))
    json_builder_add_double_value (builder, score);
  else
    json_builder_add_null_value (builder);
}

/* "<prefix>_wallclock" (ISO 8601) and "<prefix>_wallclock_unix_ns"; null when unknown (0). */
static void
add_event_wallclock (JsonBuilder *builder, const gchar *prefix, gint64 unix_us)
{
  gchar *iso_member = g_strconcat (prefix, "_wallclock", NULL);
  gchar *ns_member = g_strconcat (prefix, "_wallclock_unix_ns", NULL);
  gchar *iso = NULL;

  if (unix_us > 0) {
    GDateTime *seconds = g_date_time_new_from_unix_utc (unix_us / G_USEC_PER_SEC);
    GDateTime *time = g_date_time_add (seconds, unix_us % G_USEC_PER_SEC);

    iso = g_date_time_format_iso8601 (time);
    g_date_time_unref (time);
    g_date_time_unref (seconds);
  }
  add_string (builder, iso_member, iso);
  json_builder_set_member_name (builder, ns_member);
  if (unix_us > 0)
    json_builder_add_int_value (builder, unix_us * 1000);
  else
    json_builder_add_null_value (builder);
  g_free (iso);
  g_free (ns_member);
  g_free (iso_member);
}

gchar *
gst_clip_event_to_json (const GstClipEvent *event, const gchar *stream)
{
  JsonBuilder *builder;
  JsonGenerator *generator;
  JsonNode *root;
  gchar *text;

  g_return_val_if_fail (event != NULL, NULL);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_int (builder, "version", GST_CLIP_EVENT_JSON_VERSION);
  add_string (builder, "type", "clip-event");
  add_string (builder, "event", gst_clip_event_kind_to_string (event->kind));
  add_int (builder, "event_id", (gint64) event->event_id);
  add_string (builder, "stream", stream);
  add_string (builder, "model", quark_string (event->model));
  add_string (builder, "producer", quark_string (event->producer));
  add_string (builder, "label", quark_string (event->label));
  add_int (builder, "class_id", event->class_id);
  add_time (builder, "start_running_time", event->start_running_time);
  add_time (builder, "end_running_time", event->end_running_time);
  add_time (builder, "start_pts", event->start_pts);
  add_time (builder, "end_pts", event->end_pts);
  add_event_wallclock (builder, "start", event->start_wallclock_unix_us);
  add_event_wallclock (builder, "end", event->end_wallclock_unix_us);
  add_score (builder, "peak_score", event->peak_score);
  add_score (builder, "mean_score", event->mean_score);
  add_int (builder, "clips", event->n_clips);
  add_int (builder, "first_clip_index", (gint64) event->first_clip_index);
  add_int (builder, "last_clip_index", (gint64) event->last_clip_index);
  add_string (builder, "reason", event->reason);
  json_builder_end_object (builder);

  generator = json_generator_new ();
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  json_node_unref (root);
  g_object_unref (generator);
  g_object_unref (builder);
  return text;
}
