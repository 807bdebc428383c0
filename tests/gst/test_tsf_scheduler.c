/* Tests of timesformer's shared models and scheduler (gsttsfscheduler) on real test models:
 * one stream's results in clip order, the live drop policy (newest wins), waiting when not
 * live, flush, drain, removal with clips pending. The result callback can hold the inference
 * thread, which makes "the model is busy" a state the tests set, not a race they hope to win. */
#include <gst/check/gstcheck.h>

#include "gsttsfscheduler.h"

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean held;            /* callbacks wait while TRUE */
  guint entered;            /* callbacks entered */
  GArray *indices;          /* clip index per callback */
} Gate;

typedef struct {
  GstTsfScheduler *scheduler;
  const TsfModel *model;
  TsfClipShape shape;
  GstTsfStream *stream;
  Gate gate;
} Fixture;

static void
on_result (const GstClipLabelsResult *result, gpointer user_data)
{
  Gate *gate = user_data;

  g_mutex_lock (&gate->lock);
  gate->entered++;
  g_array_append_val (gate->indices, result->clip_index);
  g_cond_broadcast (&gate->cond);
  while (gate->held)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

static void
gate_wait_entered (Gate *gate, guint entered)
{
  g_mutex_lock (&gate->lock);
  while (gate->entered < entered)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

static void
gate_set_held (Gate *gate, gboolean held)
{
  g_mutex_lock (&gate->lock);
  gate->held = held;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

static gchar *
test_model (const gchar *name)
{
  return g_build_filename (g_getenv ("TSF_TEST_MODELS"), name, NULL);
}

/* The scheduler of the test model `name`: one session of one thread (no OpenMP team). */
static GstTsfScheduler *
acquire (const gchar *name, guint sessions, gboolean shared)
{
  gchar *path = test_model (name);
  GstTsfSchedulerOptions options = { path, NULL, 0, sessions, sessions, shared };
  GError *error = NULL;
  GstTsfScheduler *scheduler = gst_tsf_scheduler_acquire (&options, &error);

  fail_unless (scheduler != NULL, "%s: %s", path, error != NULL ? error->message : "");
  g_free (path);
  return scheduler;
}

static void
gate_init (Gate *gate, gboolean held)
{
  g_mutex_init (&gate->lock);
  g_cond_init (&gate->cond);
  gate->held = held;
  gate->entered = 0;
  gate->indices = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
gate_clear (Gate *gate)
{
  g_array_unref (gate->indices);
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->cond);
}

static void
fixture_init (Fixture *f, gboolean held)
{
  const TsfConfig *config;

  memset (f, 0, sizeof (*f));
  f->scheduler = acquire ("divided", 1, FALSE);
  f->model = gst_tsf_scheduler_get_model (f->scheduler);
  config = tsf_model_get_config (f->model);
  f->shape = (TsfClipShape) { config->num_frames, 3, config->crop_height, config->crop_width };
  fail_unless (gst_tsf_scheduler_prepare (f->scheduler, &f->shape, TRUE, NULL, NULL));
  gate_init (&f->gate, held);
  f->stream = gst_tsf_scheduler_add_stream (f->scheduler, "tsf7", on_result, &f->gate);
}

static void
fixture_clear (Fixture *f)
{
  gate_set_held (&f->gate, FALSE);
  gst_tsf_stream_free (f->stream);
  gst_tsf_scheduler_release (f->scheduler);
  gate_clear (&f->gate);
}

/* A clip of zeros whose frames are at index, index + 1/2 s. */
static GstTsfClip *
new_clip (const Fixture *f, guint64 index)
{
  GstTsfClip *clip = g_new0 (GstTsfClip, 1);

  clip->shape = f->shape;
  clip->data = g_new0 (gfloat, (gsize) f->shape.frames * 3 * f->shape.height * f->shape.width);
  clip->first_pts = index * GST_SECOND;
  clip->last_pts = index * GST_SECOND + GST_SECOND / 2;
  clip->first_running_time = clip->first_pts + 1;
  clip->last_running_time = clip->last_pts + 1;
  return clip;
}

static GstFlowReturn
queue (Fixture *f, guint64 index, guint max_pending, gboolean drop, guint *n_dropped,
    GstTsfClip *dropped)
{
  GstTsfClipRequest request = { index, 3, 0.0f, max_pending, drop };
  guint n;
  GstTsfClip times;

  return gst_tsf_stream_queue_clip (f->stream, new_clip (f, index), &request,
      n_dropped != NULL ? n_dropped : &n, dropped != NULL ? dropped : &times);
}

/* The indices of the results taken, which are freed. */
static GArray *
take_indices (Fixture *f)
{
  GList *results = gst_tsf_stream_take_results (f->stream), *l;
  GArray *indices = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (l = results; l != NULL; l = l->next)
    g_array_append_val (indices, ((GstClipLabelsResult *) l->data)->clip_index);
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
  return indices;
}

static void
assert_indices (GArray *indices, const guint64 *expected, guint n)
{
  guint i;

  fail_unless_equals_int (indices->len, n);
  for (i = 0; i < n; i++)
    fail_unless_equals_uint64 (g_array_index (indices, guint64, i), expected[i]);
}

GST_START_TEST (test_results_in_clip_order)
{
  static const guint64 expected[] = { 0, 1, 2, 3, 4 };
  GstTsfStreamStats stats;
  GList *results;
  GstClipLabelsResult *result0;
  Fixture f;
  guint64 i;

  fixture_init (&f, FALSE);
  for (i = 0; i < 5; i++)
    fail_unless_equals_int (queue (&f, i, 64, FALSE, NULL, NULL), GST_FLOW_OK);
  fail_unless (gst_tsf_stream_drain (f.stream));
  assert_indices (f.gate.indices, expected, 5);

  results = gst_tsf_stream_take_results (f.stream);
  fail_unless_equals_int (g_list_length (results), 5);
  result0 = results->data;
  fail_unless_equals_uint64 (result0->clip_index, 0);
  fail_unless_equals_string (g_quark_to_string (result0->producer), "tsf7");
  fail_unless_equals_string (g_quark_to_string (result0->model),
      tsf_model_get_name (f.model));
  fail_unless_equals_int (result0->num_frames, f.shape.frames);
  fail_unless_equals_uint64 (result0->first_pts, 0);
  fail_unless_equals_uint64 (result0->last_pts, GST_SECOND / 2);
  fail_unless_equals_uint64 (result0->first_running_time, 1);
  fail_unless_equals_uint64 (result0->last_running_time, GST_SECOND / 2 + 1);
  fail_unless_equals_int (result0->n_labels, 3);
  fail_unless (result0->labels[0].score >= result0->labels[1].score);
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
  fail_unless (gst_tsf_stream_take_results (f.stream) == NULL);

  gst_tsf_stream_get_stats (f.stream, &stats);
  fail_unless_equals_uint64 (stats.clips_processed, 5);
  fail_unless_equals_uint64 (stats.dropped_clips, 0);
  fail_unless (stats.inference_ms_total > 0);
  fail_unless (gst_tsf_stream_dup_error (f.stream) == NULL);
  fixture_clear (&f);
}
GST_END_TEST;

/* Live, max_pending 1, the model busy: each new clip replaces the one waiting. */
GST_START_TEST (test_live_newest_clip_wins)
{
  static const guint64 expected[] = { 0, 3 };
  GstTsfStreamStats stats;
  GstTsfClip dropped;
  guint n_dropped;
  GArray *indices;
  Fixture f;

  fixture_init (&f, TRUE);
  fail_unless_equals_int (queue (&f, 0, 1, TRUE, &n_dropped, NULL), GST_FLOW_OK);
  gate_wait_entered (&f.gate, 1);       /* clip 0 classified, the thread held */
  fail_unless_equals_int (queue (&f, 1, 1, TRUE, &n_dropped, NULL), GST_FLOW_OK);
  fail_unless_equals_int (n_dropped, 0);
  fail_unless_equals_int (queue (&f, 2, 1, TRUE, &n_dropped, &dropped), GST_FLOW_OK);
  fail_unless_equals_int (n_dropped, 1);
  fail_unless_equals_uint64 (dropped.first_pts, 1 * GST_SECOND);
  fail_unless (dropped.data == NULL);
  fail_unless_equals_int (queue (&f, 3, 1, TRUE, &n_dropped, &dropped), GST_FLOW_OK);
  fail_unless_equals_int (n_dropped, 1);
  fail_unless_equals_uint64 (dropped.first_pts, 2 * GST_SECOND);

  gate_set_held (&f.gate, FALSE);
  fail_unless (gst_tsf_stream_drain (f.stream));
  indices = take_indices (&f);
  assert_indices (indices, expected, 2);
  gst_tsf_stream_get_stats (f.stream, &stats);
  fail_unless_equals_uint64 (stats.clips_processed, 2);
  fail_unless_equals_uint64 (stats.dropped_clips, 2);
  g_array_unref (indices);
  fixture_clear (&f);
}
GST_END_TEST;

typedef struct {
  Fixture *fixture;
  guint64 index;
  GstFlowReturn ret;
  gint returned;            /* atomic */
} QueueThread;

static gpointer
queue_in_thread (gpointer data)
{
  QueueThread *q = data;

  q->ret = queue (q->fixture, q->index, 1, FALSE, NULL, NULL);
  g_atomic_int_set (&q->returned, 1);
  return NULL;
}

/* Not live, max_pending 1: result 0 ready (not taken) and the thread held, clip 1 waiting, and
 * clip q->index queued by a thread that waits for room. */
static GThread *
start_waiting_for_room (Fixture *f, QueueThread *q)
{
  fixture_init (f, TRUE);
  q->fixture = f;
  fail_unless_equals_int (queue (f, 0, 1, FALSE, NULL, NULL), GST_FLOW_OK);
  gate_wait_entered (&f->gate, 1);
  fail_unless_equals_int (queue (f, 1, 1, FALSE, NULL, NULL), GST_FLOW_OK);
  return g_thread_new ("queue", queue_in_thread, q);
}

/* Not live: a full queue makes the caller wait for room, and nothing is dropped. */
GST_START_TEST (test_not_live_waits_for_room)
{
  static const guint64 expected[] = { 0, 1, 2 };
  QueueThread q = { NULL, 2, GST_FLOW_ERROR, 0 };
  GstTsfStreamStats stats;
  GArray *indices;
  GThread *thread;
  Fixture f;

  thread = start_waiting_for_room (&f, &q);
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  fail_if (g_atomic_int_get (&q.returned), "queued a clip beyond max_pending");

  gate_set_held (&f.gate, FALSE);
  g_thread_join (thread);
  fail_unless_equals_int (q.ret, GST_FLOW_OK);
  fail_unless (gst_tsf_stream_drain (f.stream));
  indices = take_indices (&f);
  assert_indices (indices, expected, 3);
  gst_tsf_stream_get_stats (f.stream, &stats);
  fail_unless_equals_uint64 (stats.dropped_clips, 0);
  g_array_unref (indices);
  fixture_clear (&f);
}
GST_END_TEST;

/* A flush wakes the waits, refuses clips, then drops what waited and what was not taken. */
GST_START_TEST (test_flush)
{
  static const guint64 expected[] = { 5 };
  QueueThread q = { NULL, 2, GST_FLOW_OK, 0 };
  GArray *indices;
  GThread *thread;
  Fixture f;

  thread = start_waiting_for_room (&f, &q);

  gst_tsf_stream_set_flushing (f.stream, TRUE);
  g_thread_join (thread);
  fail_unless_equals_int (q.ret, GST_FLOW_FLUSHING);
  fail_if (gst_tsf_stream_drain (f.stream));
  fail_unless_equals_int (queue (&f, 3, 1, FALSE, NULL, NULL), GST_FLOW_FLUSHING);
  gst_tsf_stream_set_flushing (f.stream, FALSE);
  gate_set_held (&f.gate, FALSE);

  fail_unless (gst_tsf_stream_drain (f.stream));
  indices = take_indices (&f);
  fail_unless_equals_int (indices->len, 0);
  g_array_unref (indices);
  fail_unless_equals_int (queue (&f, 5, 1, FALSE, NULL, NULL), GST_FLOW_OK);
  fail_unless (gst_tsf_stream_drain (f.stream));
  indices = take_indices (&f);
  assert_indices (indices, expected, 1);
  g_array_unref (indices);
  fixture_clear (&f);
}
GST_END_TEST;

/* Stopping with clips waiting and results not taken frees them (valgrind checks). */
GST_START_TEST (test_stop_with_clips_pending)
{
  Fixture f;
  guint64 i;

  fixture_init (&f, TRUE);
  fail_unless_equals_int (queue (&f, 0, 8, FALSE, NULL, NULL), GST_FLOW_OK);
  gate_wait_entered (&f.gate, 1);
  for (i = 1; i < 8; i++)
    fail_unless_equals_int (queue (&f, i, 8, FALSE, NULL, NULL), GST_FLOW_OK);
  fixture_clear (&f);
}
GST_END_TEST;

static Suite *
tsf_scheduler_suite (void)
{
  Suite *suite = suite_create ("tsf-scheduler");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (suite, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_results_in_clip_order);
  tcase_add_test (tc, test_live_newest_clip_wins);
  tcase_add_test (tc, test_not_live_waits_for_room);
  tcase_add_test (tc, test_flush);
  tcase_add_test (tc, test_stop_with_clips_pending);
  return suite;
}

GST_CHECK_MAIN (tsf_scheduler);
