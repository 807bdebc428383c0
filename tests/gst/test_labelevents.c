/* test_labelevents.c: action events from scripted score sequences, pushed through a GstHarness
 * as results built with the meta library. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/cliplabels/gstclipevent.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>

#include "bus-harness.h"

#define PRODUCER "timesformer0"
#define CLIP_FRAMES 8

static GstClockTime
clip_start (guint64 index)
{
  return index * GST_SECOND;
}

static GstClockTime
clip_end (guint64 index)
{
  return index * GST_SECOND + 7 * GST_SECOND / 8;
}

/* A result with "falling" at `falling` and "walking" at 1 - falling (descending order). */
static GstClipLabelsMeta *
add_scripted_result (GstBuffer *buffer, guint64 index, gfloat falling)
{
  GstClipLabelsMeta *meta = gst_buffer_add_clip_labels_meta (buffer, "tiny", PRODUCER, index,
      CLIP_FRAMES, clip_start (index), clip_end (index), clip_start (index), clip_end (index));

  if (falling >= 0.5f) {
    gst_clip_labels_meta_add_label (meta, 3, "falling", falling);
    gst_clip_labels_meta_add_label (meta, 7, "walking", 1.0f - falling);
  } else {
    gst_clip_labels_meta_add_label (meta, 7, "walking", 1.0f - falling);
    gst_clip_labels_meta_add_label (meta, 3, "falling", falling);
  }
  return meta;
}

static GstHarness *
events_harness (const gchar *properties)
{
  gchar *launch = g_strdup_printf ("labelevents %s", properties);
  GstHarness *h = bus_harness_new (launch);

  g_free (launch);
  return h;
}

/* Pushes one clip per score, clip indices first, first + 1, ... */
static void
push_scores (GstHarness *h, guint64 first, const gfloat *scores, guint n)
{
  guint i;

  for (i = 0; i < n; i++) {
    GstBuffer *buffer = gst_buffer_new ();

    GST_BUFFER_PTS (buffer) = clip_start (first + i);
    add_scripted_result (buffer, first + i, scores[i]);
    fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
}

/* The clip events of "falling" that went downstream so far, in order ("walking" has its own). */
static GArray *
pull_clip_events (GstHarness *h)
{
  GArray *events = g_array_new (FALSE, FALSE, sizeof (GstClipEvent));
  GstEvent *event;

  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    GstClipEvent clip_event;

    if (gst_clip_event_parse_gst_event (event, &clip_event)
        && clip_event.label == g_quark_from_static_string ("falling"))
      g_array_append_val (events, clip_event);
    gst_event_unref (event);
  }
  return events;
}

/* The clip events of "falling" posted on the bus so far, in order. */
static GArray *
pop_bus_events (GstHarness *h)
{
  GArray *events = g_array_new (FALSE, FALSE, sizeof (GstClipEvent));
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *message;

  while ((message = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    GstClipEvent clip_event;

    if (gst_clip_event_from_structure (gst_message_get_structure (message), &clip_event)
        && clip_event.label == g_quark_from_static_string ("falling"))
      g_array_append_val (events, clip_event);
    gst_message_unref (message);
  }
  gst_object_unref (bus);
  return events;
}

#define EVENT(events, i) (&g_array_index ((events), GstClipEvent, (i)))

static void
assert_event (const GstClipEvent *event, GstClipEventKind kind, guint64 first_clip,
    guint64 last_clip, gfloat peak, gfloat mean)
{
  fail_unless_equals_string (gst_clip_event_kind_to_string (event->kind),
      gst_clip_event_kind_to_string (kind));
  fail_unless_equals_string (g_quark_to_string (event->label), "falling");
  fail_unless_equals_int (event->class_id, 3);
  fail_unless_equals_string (g_quark_to_string (event->model), "tiny");
  fail_unless_equals_string (g_quark_to_string (event->producer), PRODUCER);
  fail_unless_equals_uint64 (event->first_clip_index, first_clip);
  fail_unless_equals_uint64 (event->last_clip_index, last_clip);
  fail_unless_equals_int (event->n_clips, last_clip - first_clip + 1);
  fail_unless_equals_uint64 (event->start_running_time, clip_start (first_clip));
  fail_unless_equals_uint64 (event->end_running_time, clip_end (last_clip));
  fail_unless_equals_uint64 (event->start_pts, clip_start (first_clip));
  fail_unless_equals_uint64 (event->end_pts, clip_end (last_clip));
  fail_unless (event->start_wallclock_unix_us > 0
      && event->start_wallclock_unix_us <= event->end_wallclock_unix_us);
  fail_unless (ABS (event->peak_score - peak) < 1e-5, "peak %f, expected %f", event->peak_score,
      peak);
  fail_unless (ABS (event->mean_score - mean) < 1e-5, "mean %f, expected %f", event->mean_score,
      mean);
}

/* Start after min-clips clips above on, updates while at or above off, end below off. */
GST_START_TEST (test_start_update_end)
{
  const gfloat scores[] = { 0.1f, 0.7f, 0.8f, 0.9f, 0.5f, 0.3f, 0.2f };
  GstHarness *h = events_harness ("on-threshold=0.6 off-threshold=0.4 min-clips=2");
  GArray *events, *posted;
  guint i;

  push_scores (h, 0, scores, G_N_ELEMENTS (scores));
  events = pull_clip_events (h);
  fail_unless_equals_int (events->len, 4);
  assert_event (EVENT (events, 0), GST_CLIP_EVENT_START, 1, 2, 0.8f, 0.75f);
  assert_event (EVENT (events, 1), GST_CLIP_EVENT_UPDATE, 1, 3, 0.9f, 0.8f);
  assert_event (EVENT (events, 2), GST_CLIP_EVENT_UPDATE, 1, 4, 0.9f, 0.725f);
  assert_event (EVENT (events, 3), GST_CLIP_EVENT_END, 1, 4, 0.9f, 0.725f);
  fail_unless_equals_string (EVENT (events, 3)->reason, "below-threshold");
  fail_unless (EVENT (events, 0)->reason == NULL);
  for (i = 0; i < events->len; i++)
    fail_unless_equals_uint64 (EVENT (events, i)->event_id, 0);
  /* The bus holds the same events. */
  posted = pop_bus_events (h);
  fail_unless_equals_int (posted->len, events->len);
  for (i = 0; i < events->len; i++)
    fail_unless (memcmp (EVENT (posted, i), EVENT (events, i), sizeof (GstClipEvent)) == 0);
  g_array_unref (posted);
  g_array_unref (events);
  bus_harness_teardown (h);
}
GST_END_TEST;

/* Flicker around the thresholds: with hysteresis one event; with the thresholds equal (no
 * hysteresis) an event per crossing. */
GST_START_TEST (test_flicker)
{
  const gfloat scores[] = { 0.7f, 0.7f, 0.45f, 0.55f, 0.45f, 0.55f, 0.45f, 0.3f };
  GstHarness *h = events_harness ("on-threshold=0.6 off-threshold=0.4 min-clips=2 "
      "update-interval=0");
  GArray *events;

  push_scores (h, 0, scores, G_N_ELEMENTS (scores));
  events = pull_clip_events (h);
  fail_unless_equals_int (events->len, 2);
  assert_event (EVENT (events, 0), GST_CLIP_EVENT_START, 0, 1, 0.7f, 0.7f);
  assert_event (EVENT (events, 1), GST_CLIP_EVENT_END, 0, 6, 0.7f,
      (0.7f + 0.7f + 0.45f + 0.55f + 0.45f + 0.55f + 0.45f) / 7);
  g_array_unref (events);
  bus_harness_teardown (h);

  h = events_harness ("on-threshold=0.5 off-threshold=0.5 min-clips=1 update-interval=0");
  push_scores (h, 0, scores + 2, 5);
  events = pull_clip_events (h);
  /* 0.45 0.55 0.45 0.55 0.45: two events, each of one clip */
  fail_unless_equals_int (events->len, 4);
  assert_event (EVENT (events, 0), GST_CLIP_EVENT_START, 1, 1, 0.55f, 0.55f);
  assert_event (EVENT (events, 1), GST_CLIP_EVENT_END, 1, 1, 0.55f, 0.55f);
  assert_event (EVENT (events, 2), GST_CLIP_EVENT_START, 3, 3, 0.55f, 0.55f);
  fail_unless_equals_uint64 (EVENT (events, 1)->event_id, EVENT (events, 0)->event_id);
  fail_unless (EVENT (events, 2)->event_id > EVENT (events, 0)->event_id);
  g_array_unref (events);
  bus_harness_teardown (h);
}
GST_END_TEST;

/* Flicker around on-threshold before the start: min-clips must be in a row. */
GST_START_TEST (test_min_clips_in_a_row)
{
  const gfloat scores[] = { 0.7f, 0.59f, 0.7f, 0.59f, 0.7f, 0.7f, 0.7f };
  GstHarness *h = events_harness ("on-threshold=0.6 off-threshold=0.4 min-clips=3 "
      "update-interval=0");
  GArray *events;

  push_scores (h, 0, scores, G_N_ELEMENTS (scores));
  events = pull_clip_events (h);
  fail_unless_equals_int (events->len, 1);
  assert_event (EVENT (events, 0), GST_CLIP_EVENT_START, 4, 6, 0.7f, 0.7f);
  g_array_unref (events);
  bus_harness_teardown (h);
}
GST_END_TEST;

/* At EOS every open event ends, before the EOS; a result that comes in the clip-labels event
 * counts; a result seen twice counts once. */
GST_START_TEST (test_eos_ends_open_events)
{
  const gfloat scores[] = { 0.7f, 0.8f };
  GstHarness *h = events_harness ("min-clips=1 update-interval=0");
  GstBuffer *carrier = gst_buffer_new ();
  GstEvent *event;
  GArray *events;
  gboolean end_seen = FALSE, eos_seen = FALSE;

  push_scores (h, 0, scores, G_N_ELEMENTS (scores));
  push_scores (h, 1, scores + 1, 1);        /* clip 1 again */
  fail_unless (gst_harness_push_event (h, gst_clip_labels_event_new (
              gst_clip_labels_meta_to_structure (add_scripted_result (carrier, 2, 0.9f)))));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    GstClipEvent clip_event;

    if (gst_clip_event_parse_gst_event (event, &clip_event)
        && clip_event.kind == GST_CLIP_EVENT_END) {
      fail_if (eos_seen, "end after EOS");
      assert_event (&clip_event, GST_CLIP_EVENT_END, 0, 2, 0.9f, 0.8f);
      fail_unless_equals_string (clip_event.reason, "eos");
      end_seen = TRUE;
    }
    eos_seen |= GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (end_seen && eos_seen);
  events = pop_bus_events (h);
  fail_unless_equals_int (events->len, 2);
  g_array_unref (events);
  gst_buffer_unref (carrier);
  bus_harness_teardown (h);
}
GST_END_TEST;

/* A flush ends open events after the flush (events sent while flushing would be lost); the clips
 * seen before count no more, so the same clip indices start afresh. */
GST_START_TEST (test_flush_ends_open_events)
{
  const gfloat scores[] = { 0.7f, 0.8f };
  GstHarness *h = events_harness ("min-clips=1 update-interval=0");
  GArray *events;

  push_scores (h, 0, scores, G_N_ELEMENTS (scores));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_harness_set_src_caps_str (h, "application/x-test");
  push_scores (h, 0, scores, 1);
  events = pull_clip_events (h);
  fail_unless_equals_int (events->len, 3);
  assert_event (EVENT (events, 0), GST_CLIP_EVENT_START, 0, 0, 0.7f, 0.7f);
  assert_event (EVENT (events, 1), GST_CLIP_EVENT_END, 0, 1, 0.8f, 0.75f);
  fail_unless_equals_string (EVENT (events, 1)->reason, "flush");
  assert_event (EVENT (events, 2), GST_CLIP_EVENT_START, 0, 0, 0.7f, 0.7f);
  g_array_unref (events);
  bus_harness_teardown (h);
}
GST_END_TEST;

/* The event's JSON: every field, version 1. */
GST_START_TEST (test_event_json)
{
  const gfloat scores[] = { 0.7f };
  GstHarness *h = events_harness ("min-clips=1");
  GArray *events;
  gchar *json;

  push_scores (h, 5, scores, 1);
  events = pull_clip_events (h);
  fail_unless_equals_int (events->len, 1);
  EVENT (events, 0)->start_wallclock_unix_us = 1700000000123456;
  EVENT (events, 0)->end_wallclock_unix_us = 1700000000999999;
  json = gst_clip_event_to_json (EVENT (events, 0), "cam");
  fail_unless_equals_string (json, "{\"version\":1,\"type\":\"clip-event\",\"event\":\"start\","
      "\"event_id\":0,\"stream\":\"cam\",\"model\":\"tiny\",\"producer\":\"timesformer0\","
      "\"label\":\"falling\",\"class_id\":3,\"start_running_time\":5000000000,"
      "\"end_running_time\":5875000000,\"start_pts\":5000000000,\"end_pts\":5875000000,"
      "\"start_wallclock\":\"2023-11-14T22:13:20.123456Z\","
      "\"start_wallclock_unix_ns\":1700000000123456000,"
      "\"end_wallclock\":\"2023-11-14T22:13:20.999999Z\","
      "\"end_wallclock_unix_ns\":1700000000999999000,\"peak_score\":0.69999998807907104,"
      "\"mean_score\":0.69999998807907104,\"clips\":1,\"first_clip_index\":5,"
      "\"last_clip_index\":5,\"reason\":null}");
  g_free (json);
  g_array_unref (events);
  bus_harness_teardown (h);
}
GST_END_TEST;

/* off-threshold above on-threshold: the element does not start. */
GST_START_TEST (test_thresholds_refused)
{
  GstElement *element = gst_element_factory_make ("labelevents", NULL);

  g_object_set (element, "on-threshold", 0.3f, "off-threshold", 0.5f, NULL);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_object_unref (element);
}
GST_END_TEST;

static Suite *
labelevents_suite (void)
{
  Suite *s = suite_create ("labelevents");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_start_update_end);
  tcase_add_test (tc, test_flicker);
  tcase_add_test (tc, test_min_clips_in_a_row);
  tcase_add_test (tc, test_eos_ends_open_events);
  tcase_add_test (tc, test_flush_ends_open_events);
  tcase_add_test (tc, test_event_json);
  tcase_add_test (tc, test_thresholds_refused);
  return s;
}

GST_CHECK_MAIN (labelevents);
