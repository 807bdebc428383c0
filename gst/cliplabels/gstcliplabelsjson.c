/* gstcliplabelsjson.c: one result of the clip-labels meta as one line of JSON.
 *
 * The bytes labellog writes and a broker publisher sends: both call this one function. */
#include "gstcliplabelsmeta.h"

#include <math.h>
#include <json-glib/json-glib.h>

static void
add_string_or_null (JsonBuilder *builder, const gchar *member, const gchar *value)
{
  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* Names are written "" when the result has none (quark 0). */
static void
add_quark (JsonBuilder *builder, const gchar *member, GQuark quark)
{
  add_string_or_null (builder, member, quark != 0 ? g_quark_to_string (quark) : "");
}

/* Times in nanoseconds; null when unknown. */
static void
add_time (JsonBuilder *builder, const gchar *member, GstClockTime time)
{
  json_builder_set_member_name (builder, member);
  if (GST_CLOCK_TIME_IS_VALID (time))
    json_builder_add_int_value (builder, (gint64) time);
  else
    json_builder_add_null_value (builder);
}

/* JSON has no NaN or infinity: such a score is written null. */
static void
add_score (JsonBuilder *builder, gfloat score)
{
  json_builder_set_member_name (builder, "score");
  if (isfinite (score))
    json_builder_add_double_value (builder, score);
  else
    json_builder_add_null_value (builder);
}

static void
add_labels (JsonBuilder *builder, const GstClipLabelsResult *result)
{
  guint i;

  json_builder_set_member_name (builder, "labels");
  json_builder_begin_array (builder);
  for (i = 0; i < result->n_labels; i++) {
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "id");
    json_builder_add_int_value (builder, result->labels[i].class_id);
    add_quark (builder, "label", result->labels[i].label);
    add_score (builder, result->labels[i].score);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
}

static void
add_wallclock (JsonBuilder *builder, gint64 unix_us)
{
  GDateTime *seconds = g_date_time_new_from_unix_utc (unix_us / G_USEC_PER_SEC);
  GDateTime *now = g_date_time_add (seconds, unix_us % G_USEC_PER_SEC);
  gchar *iso = g_date_time_format_iso8601 (now);

  add_string_or_null (builder, "wallclock", iso);
  json_builder_set_member_name (builder, "wallclock_unix_ns");
  json_builder_add_int_value (builder, unix_us * 1000);
  g_free (iso);
  g_date_time_unref (now);
  g_date_time_unref (seconds);
}

static gchar *
builder_to_text (JsonBuilder *builder)
{
  JsonGenerator *generator = json_generator_new ();
  JsonNode *root = json_builder_get_root (builder);
  gchar *text;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  json_node_unref (root);
  g_object_unref (generator);
  return text;
}

gchar *
gst_clip_labels_result_to_json (const GstClipLabelsResult *result, const gchar *stream,
    gint64 wallclock_unix_us)
{
  JsonBuilder *builder;
  gchar *text;

  g_return_val_if_fail (result != NULL, NULL);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_string_or_null (builder, "stream", stream);
  add_quark (builder, "model", result->model);
  add_quark (builder, "producer", result->producer);
  json_builder_set_member_name (builder, "clip_index");
  json_builder_add_int_value (builder, (gint64) result->clip_index);
  json_builder_set_member_name (builder, "num_frames");
  json_builder_add_int_value (builder, result->num_frames);
  json_builder_set_member_name (builder, "real_frames");
  json_builder_add_int_value (builder, gst_clip_labels_result_get_real_frames (result));
  add_time (builder, "first_pts", result->first_pts);
  add_time (builder, "last_pts", result->last_pts);
  add_time (builder, "first_running_time", result->first_running_time);
  add_time (builder, "last_running_time", result->last_running_time);
  add_wallclock (builder, wallclock_unix_us);
  add_labels (builder, result);
  json_builder_end_object (builder);

  text = builder_to_text (builder);
  g_object_unref (builder);
  return text;
}

gchar *
gst_clip_labels_meta_to_json (const GstClipLabelsMeta *meta, const gchar *stream,
    gint64 wallclock_unix_us)
{
  GstClipLabelsResult view;

  g_return_val_if_fail (meta != NULL, NULL);

  gst_clip_labels_meta_get_result (meta, &view);
  return gst_clip_labels_result_to_json (&view, stream, wallclock_unix_us);
}
