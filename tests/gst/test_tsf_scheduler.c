/* Tests of timesformer's shared models and scheduler (gsttsfscheduler) on real test models:
 * one stream's results in clip order, the live drop policy (newest wins), waiting when not
 * live, flush, drain, removal with clips pending; sharing by key, one load for concurrent
 * callers and its error for all, round-robin between streams, clip order with two sessions,
 * batches of clips of several streams (results as unbatched, a bad clip failing its stream),
 * batches of clips of several streams (results as unbatched, a bad clip failing its stream),
 * streams that do not wait for each other, a flush dropping results not yet reported, a
 * failed clip failing its own stream only, many streams fed at once, streams joining and
 * leaving while others run, a clip padded at EOS run with its frame mask on a lucidrains
 * model. Also run under ThreadSanitizer (scripts/test.sh).
 * The result callback can hold the inference thread, which makes "the model is busy" a state
 * the tests set, not a race they hope to win. */
#include <math.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "gsttsfscheduler.h"
#include "pipeline-test-util.h"

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

/* Every result of every stream, in callback order ("producer:index"). */
static GMutex order_lock;
static GPtrArray *order;

static void
log_order (const GstClipLabelsResult *result)
{
  g_mutex_lock (&order_lock);
  if (order != NULL)
    g_ptr_array_add (order, g_strdup_printf ("%s:%" G_GUINT64_FORMAT,
            g_quark_to_string (result->producer), result->clip_index));
  g_mutex_unlock (&order_lock);
}

static void
on_result (const GstClipLabelsResult *result, gpointer user_data)
{
  Gate *gate = user_data;

  log_order (result);
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

static GstTsfScheduler *
acquire_with (const GstTsfSchedulerOptions *options)
{
  GError *error = NULL;
  GstTsfScheduler *scheduler = gst_tsf_scheduler_acquire (options, &error);

  fail_unless (scheduler != NULL, "%s: %s", options->model_path,
      error != NULL ? error->message : "");
  return scheduler;
}

/* The scheduler of the test model `name`: `sessions` sessions of one thread each (no OpenMP
 * team), batches of at most `max_batch` clips (0: the default). */
static GstTsfScheduler *
acquire_batched (const gchar *name, guint sessions, gboolean shared, guint max_batch)
{
  gchar *path = test_model_path (name);
  GstTsfSchedulerOptions options = { path, NULL, 0, sessions, sessions, shared,
    TSF_PRECISION_F32, 0, max_batch };
  GstTsfScheduler *scheduler = acquire_with (&options);

  g_free (path);
  return scheduler;
}

static GstTsfScheduler *
acquire (const gchar *name, guint sessions, gboolean shared)
{
  return acquire_batched (name, sessions, shared, 0);
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
new_clip (const TsfClipShape *shape, guint64 index)
{
  GstTsfClip *clip = g_new0 (GstTsfClip, 1);

  clip->shape = *shape;
  clip->data = g_new0 (gfloat, (gsize) shape->frames * 3 * shape->height * shape->width);
  clip->first_pts = index * GST_SECOND;
  clip->last_pts = index * GST_SECOND + GST_SECOND / 2;
  clip->first_running_time = clip->first_pts + 1;
  clip->last_running_time = clip->last_pts + 1;
  return clip;
}

static GstFlowReturn
queue_on (GstTsfStream *stream, const TsfClipShape *shape, guint64 index, guint max_pending,
    gboolean drop, guint *n_dropped, GstTsfClip *dropped)
{
  GstTsfClipRequest request = { index, 3, 0.0f, max_pending, drop };
  guint n;
  GstTsfClip times;

  return gst_tsf_stream_queue_clip (stream, new_clip (shape, index), &request,
      n_dropped != NULL ? n_dropped : &n, dropped != NULL ? dropped : &times);
}

static GstFlowReturn
queue (Fixture *f, guint64 index, guint max_pending, gboolean drop, guint *n_dropped,
    GstTsfClip *dropped)
{
  return queue_on (f->stream, &f->shape, index, max_pending, drop, n_dropped, dropped);
}

/* The indices of the results taken from `stream`, which are freed. */
static GArray *
take_stream_indices (GstTsfStream *stream)
{
  GList *results = gst_tsf_stream_take_results (stream), *l;
  GArray *indices = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (l = results; l != NULL; l = l->next)
    g_array_append_val (indices, ((GstClipLabelsResult *) l->data)->clip_index);
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
  return indices;
}

static GArray *
take_indices (Fixture *f)
{
  return take_stream_indices (f->stream);
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

/* A clip padded at the end of a stream (2 real frames of 4, the last repeated) on a lucidrains
 * model, which takes a frame mask: the result is the engine's masked run of the clip (mask
 * 1 1 0 0), not its plain run. */
GST_START_TEST (test_padded_clip_masked)
{
  GstTsfScheduler *scheduler = acquire ("seed/lucidrains_rotary", 1, FALSE);
  const TsfModel *model = gst_tsf_scheduler_get_model (scheduler);
  const TsfConfig *config = tsf_model_get_config (model);
  TsfClipShape shape = { config->num_frames, 3, config->crop_height, config->crop_width };
  gsize frame = (gsize) 3 * shape.height * shape.width, i;
  GstTsfClip *clip = new_clip (&shape, 0);
  static const guint8 mask[] = { 1, 1, 0, 0 };
  GstTsfClipRequest request = { 0, 1, 0.0f, 4, FALSE };
  gfloat *masked = g_new (gfloat, config->num_labels);
  gfloat *plain = g_new (gfloat, config->num_labels);
  TsfPrediction want_masked, want_plain;
  GstClipLabelsResult *result;
  GstTsfClip dropped;
  TsfSession *session;
  GstTsfStream *stream;
  GList *results;
  Gate gate;
  guint n;

  fail_unless_equals_int (shape.frames, 4);
  for (i = 0; i < 2 * frame; i++)
    clip->data[i] = sinf ((gfloat) i * 0.37f);
  for (i = 2 * frame; i < 4 * frame; i++)
    clip->data[i] = clip->data[frame + i % frame];
  clip->real_frames = 2;
  session = tsf_session_new (model, NULL, NULL);
  fail_unless (session != NULL);
  fail_unless (tsf_session_run_masked (session, clip->data, &shape, mask, masked, NULL));
  fail_unless (tsf_session_run (session, clip->data, &shape, plain, NULL));
  fail_unless_equals_int (tsf_model_top_k (model, masked, 1, &want_masked), 1);
  fail_unless_equals_int (tsf_model_top_k (model, plain, 1, &want_plain), 1);

  gate_init (&gate, FALSE);
  stream = gst_tsf_scheduler_add_stream (scheduler, "tsf7", on_result, &gate);
  fail_unless_equals_int (gst_tsf_stream_queue_clip (stream, clip, &request, &n, &dropped),
      GST_FLOW_OK);
  fail_unless (gst_tsf_stream_drain (stream));
  results = gst_tsf_stream_take_results (stream);
  fail_unless_equals_int (g_list_length (results), 1);
  result = results->data;
  fail_unless_equals_int (result->real_frames, 2);
  fail_unless_equals_int (result->labels[0].class_id, want_masked.id);
  fail_unless (fabsf (result->labels[0].score - want_masked.score) < 1e-5f, "%g != %g",
      result->labels[0].score, want_masked.score);
  fail_unless (want_masked.id != want_plain.id
      || fabsf (want_masked.score - want_plain.score) > 1e-4f,
      "the mask changes nothing: %g, %g", want_masked.score, want_plain.score);
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
  fail_unless (gst_tsf_stream_dup_error (stream) == NULL);
  gst_tsf_stream_free (stream);
  gate_clear (&gate);
  tsf_session_free (session);
  gst_tsf_scheduler_release (scheduler);
  g_free (masked);
  g_free (plain);
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

/* ---- many streams, shared models ---- */

static const TsfClipShape divided_shape = { 4, 3, 32, 32 };   /* the model's own */

/* One stream and the gate of its result callback. */
typedef struct {
  GstTsfStream *stream;
  Gate gate;
} Lane;

static void
lane_init (Lane *lane, GstTsfScheduler *scheduler, const gchar *producer, gboolean held)
{
  gate_init (&lane->gate, held);
  lane->stream = gst_tsf_scheduler_add_stream (scheduler, producer, on_result, &lane->gate);
}

static void
lane_clear (Lane *lane)
{
  gate_set_held (&lane->gate, FALSE);
  gst_tsf_stream_free (lane->stream);
  gate_clear (&lane->gate);
}

static void
lane_queue (Lane *lane, const TsfClipShape *shape, guint64 index)
{
  fail_unless_equals_int (queue_on (lane->stream, shape, index, 64, FALSE, NULL, NULL),
      GST_FLOW_OK);
}

static void
order_start (void)
{
  g_mutex_lock (&order_lock);
  order = g_ptr_array_new_with_free_func (g_free);
  g_mutex_unlock (&order_lock);
}

/* The results logged since order_start(), "a:0 b:0 ...". */
static gchar *
order_take (void)
{
  gchar *text;

  g_mutex_lock (&order_lock);
  g_ptr_array_add (order, NULL);
  text = g_strjoinv (" ", (gchar **) order->pdata);
  g_clear_pointer (&order, g_ptr_array_unref);
  g_mutex_unlock (&order_lock);
  return text;
}

/* The same model, options and budget: one scheduler; any other option: another one. */
GST_START_TEST (test_shared_by_key)
{
  guint shared_before = gst_tsf_scheduler_count_shared ();
  gchar *path = test_model_path ("divided");
  gchar *dir = g_dir_make_tmp ("tsf-share-XXXXXX", NULL);
  gchar *link = g_build_filename (dir, "divided-link", NULL);
  gchar *labels = g_build_filename (dir, "labels.txt", NULL);
  GstTsfSchedulerOptions options = { path, NULL, 0, 1, 1, TRUE, TSF_PRECISION_F32, 0, 0 };
  GstTsfSchedulerOptions defaults = { path, NULL, 0, 0, 0, TRUE, TSF_PRECISION_F32, 0, 0 };
  guint n_cores = g_get_num_processors ();
  GstTsfScheduler *a, *b, *via_link, *other_labels, *other_heads, *other_budget, *resolved,
      *private, *other_bound, *other_batch;

  fail_unless (symlink (path, link) == 0);
  fail_unless (g_file_set_contents (labels, "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n", -1,
          NULL));
  a = acquire_with (&options);
  b = acquire_with (&options);
  fail_unless (a == b);
  fail_unless (gst_tsf_scheduler_is_shared (a));
  options.model_path = link;
  via_link = acquire_with (&options);
  fail_unless (via_link == a);
  fail_unless_equals_int (gst_tsf_scheduler_get_users (a), 3);

  options.model_path = path;
  options.labels_file = labels;
  other_labels = acquire_with (&options);
  fail_unless (other_labels != a);
  fail_unless_equals_string (tsf_model_get_config (gst_tsf_scheduler_get_model
          (other_labels))->labels[0], "c0");
  options.labels_file = NULL;
  options.num_heads = 4;
  other_heads = acquire_with (&options);
  fail_unless (other_heads != a);
  options.num_heads = 0;
  options.threads = 2;
  other_budget = acquire_with (&options);   /* one session of 2 threads */
  fail_unless (other_budget != a);
  /* threads 0 and sessions 0 are the cores and the default: the same budget, once resolved. */
  resolved = acquire_with (&defaults);
  defaults.threads = n_cores;
  defaults.sessions = MIN (GST_TSF_SCHEDULER_DEFAULT_SESSIONS, n_cores);
  fail_unless (acquire_with (&defaults) == resolved);
  /* max_clip_bytes 0 is the default bound, once resolved; another bound, another model */
  defaults.max_clip_bytes = tsf_default_max_clip_bytes ();
  fail_unless (acquire_with (&defaults) == resolved);
  options.threads = options.sessions = 1;
  options.max_clip_bytes = 1 << 30;
  other_bound = acquire_with (&options);
  fail_unless (other_bound != a);
  options.max_clip_bytes = 0;
  /* max_batch 0 is the default, once resolved; another limit, another scheduler */
  options.max_batch = GST_TSF_SCHEDULER_DEFAULT_MAX_BATCH;
  fail_unless (acquire_with (&options) == a);
  options.max_batch = GST_TSF_SCHEDULER_DEFAULT_MAX_BATCH + 3;
  other_batch = acquire_with (&options);
  fail_unless (other_batch != a);
  options.max_batch = 0;
  options.shared = FALSE;
  private = acquire_with (&options);
  fail_unless (private != a);
  fail_if (gst_tsf_scheduler_is_shared (private));
  fail_unless_equals_int (gst_tsf_scheduler_get_users (private), 1);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before + 7);

  /* The last release frees it; the others stay. */
  gst_tsf_scheduler_release (a);
  gst_tsf_scheduler_release (b);
  gst_tsf_scheduler_release (via_link);
  fail_unless_equals_int (gst_tsf_scheduler_get_users (a), 1);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before + 7);
  gst_tsf_scheduler_release (a);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before + 6);
  gst_tsf_scheduler_release (other_batch);
  gst_tsf_scheduler_release (other_labels);
  gst_tsf_scheduler_release (other_heads);
  gst_tsf_scheduler_release (other_budget);
  gst_tsf_scheduler_release (resolved);
  gst_tsf_scheduler_release (resolved);
  gst_tsf_scheduler_release (resolved);
  gst_tsf_scheduler_release (other_bound);
  gst_tsf_scheduler_release (private);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before);

  g_unlink (link);
  g_unlink (labels);
  g_rmdir (dir);
  g_free (labels);
  g_free (link);
  g_free (dir);
  g_free (path);
}
GST_END_TEST;

typedef struct {
  const gchar *path;
  GstTsfScheduler *scheduler;
  gchar *message;            /* the error's, when it failed */
} AcquireCall;

static gpointer
acquire_in_thread (gpointer data)
{
  AcquireCall *call = data;
  GstTsfSchedulerOptions options = { call->path, NULL, 0, 1, 1, TRUE, TSF_PRECISION_F32, 0, 0 };
  GError *error = NULL;

  call->scheduler = gst_tsf_scheduler_acquire (&options, &error);
  if (error != NULL)
    call->message = g_strdup (error->message);
  g_clear_error (&error);
  return NULL;
}

#define N_CALLERS 4

/* N_CALLERS threads acquire `path` at once; the calls are in `calls`. */
static void
acquire_at_once (const gchar *path, AcquireCall calls[N_CALLERS])
{
  GThread *threads[N_CALLERS];
  guint i;

  for (i = 0; i < N_CALLERS; i++) {
    calls[i] = (AcquireCall) { path, NULL, NULL };
    threads[i] = g_thread_new ("acquire", acquire_in_thread, &calls[i]);
  }
  for (i = 0; i < N_CALLERS; i++)
    g_thread_join (threads[i]);
}

GST_START_TEST (test_concurrent_callers_share_one_load)
{
  guint shared_before = gst_tsf_scheduler_count_shared ();
  gchar *path = test_model_path ("divided");
  AcquireCall calls[N_CALLERS];
  guint i;

  acquire_at_once (path, calls);
  for (i = 0; i < N_CALLERS; i++) {
    fail_unless (calls[i].scheduler != NULL, "%s", calls[i].message);
    fail_unless (calls[i].scheduler == calls[0].scheduler);
  }
  fail_unless_equals_int (gst_tsf_scheduler_get_users (calls[0].scheduler), N_CALLERS);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before + 1);
  for (i = 0; i < N_CALLERS; i++)
    gst_tsf_scheduler_release (calls[i].scheduler);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before);
  g_free (path);
}
GST_END_TEST;

/* Every caller of a model that fails to load gets the same error; a later caller tries again
 * (here after the model was repaired). */
GST_START_TEST (test_load_error_given_to_every_caller)
{
  guint shared_before = gst_tsf_scheduler_count_shared ();
  gchar *dir = g_dir_make_tmp ("tsf-bad-XXXXXX", NULL);
  gchar *config = g_build_filename (dir, "config.json", NULL);
  gchar *weights = g_build_filename (dir, "model.safetensors", NULL);
  gchar *good_config = g_build_filename (g_getenv ("TSF_TEST_MODELS"), "divided",
      "config.json", NULL);
  gchar *good_weights = g_build_filename (g_getenv ("TSF_TEST_MODELS"), "divided",
      "model.safetensors", NULL);
  AcquireCall calls[N_CALLERS];
  guint i;

  fail_unless (g_file_set_contents (config, "{ \"image_size\": ", -1, NULL));
  acquire_at_once (dir, calls);
  for (i = 0; i < N_CALLERS; i++) {
    fail_unless (calls[i].scheduler == NULL);
    fail_unless (strstr (calls[i].message, "config.json") != NULL, "%s", calls[i].message);
    fail_unless_equals_string (calls[i].message, calls[0].message);
  }
  for (i = 0; i < N_CALLERS; i++)
    g_free (calls[i].message);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before);

  g_unlink (config);
  fail_unless (symlink (good_config, config) == 0);
  fail_unless (symlink (good_weights, weights) == 0);
  acquire_in_thread (&calls[0]);
  fail_unless (calls[0].scheduler != NULL, "%s", calls[0].message);
  gst_tsf_scheduler_release (calls[0].scheduler);

  g_unlink (config);
  g_unlink (weights);
  g_rmdir (dir);
  g_free (good_weights);
  g_free (good_config);
  g_free (weights);
  g_free (config);
  g_free (dir);
}
GST_END_TEST;

/* One session: a stream with many clips waiting and one with few take turns. */
GST_START_TEST (test_streams_served_round_robin)
{
  GstTsfScheduler *scheduler = acquire ("divided", 1, FALSE);
  Lane busy, other;
  gchar *served;
  guint64 i;

  lane_init (&busy, scheduler, "busy", TRUE);
  lane_init (&other, scheduler, "other", FALSE);
  order_start ();
  lane_queue (&busy, &divided_shape, 0);
  gate_wait_entered (&busy.gate, 1);    /* the thread holds busy:0 */
  for (i = 1; i < 6; i++)
    lane_queue (&busy, &divided_shape, i);
  lane_queue (&other, &divided_shape, 0);
  lane_queue (&other, &divided_shape, 1);
  gate_set_held (&busy.gate, FALSE);
  fail_unless (gst_tsf_stream_drain (busy.stream));
  fail_unless (gst_tsf_stream_drain (other.stream));

  served = order_take ();
  fail_unless_equals_string (served,
      "busy:0 other:0 busy:1 other:1 busy:2 busy:3 busy:4 busy:5");
  g_free (served);
  lane_clear (&busy);
  lane_clear (&other);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

static void
assert_increasing (GArray *indices)
{
  guint i;

  for (i = 1; i < indices->len; i++)
    fail_unless (g_array_index (indices, guint64, i) > g_array_index (indices, guint64, i - 1));
}

static void
assert_first_indices (GArray *indices, guint n)
{
  guint i;

  fail_unless_equals_int (indices->len, n);
  for (i = 0; i < n; i++)
    fail_unless_equals_uint64 (g_array_index (indices, guint64, i), i);
}

/* Two sessions: a long clip and short ones after it run at once; results keep clip order. */
GST_START_TEST (test_two_sessions_keep_clip_order)
{
  static const TsfClipShape long_clip = { 16, 3, 64, 64 }, short_clip = { 1, 3, 32, 32 };
  GstTsfScheduler *scheduler = acquire ("divided", 2, FALSE);
  GstTsfStreamStats stats;
  GArray *taken;
  Lane lane;
  guint64 i;

  lane_init (&lane, scheduler, "tsf", FALSE);
  lane_queue (&lane, &long_clip, 0);
  for (i = 1; i < 7; i++)
    lane_queue (&lane, &short_clip, i);
  fail_unless (gst_tsf_stream_drain (lane.stream));
  assert_first_indices (lane.gate.indices, 7);
  taken = take_stream_indices (lane.stream);
  assert_first_indices (taken, 7);
  gst_tsf_stream_get_stats (lane.stream, &stats);
  fail_unless_equals_uint64 (stats.clips_processed, 7);
  g_array_unref (taken);
  lane_clear (&lane);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

/* Two sessions, one stream held in its callback: another stream still runs, drains, flushes
 * and leaves without waiting for it. */
GST_START_TEST (test_held_stream_does_not_hold_others)
{
  GstTsfScheduler *scheduler = acquire ("divided", 2, FALSE);
  Lane held, free_lane;
  GArray *taken;
  guint64 i;

  lane_init (&held, scheduler, "held", TRUE);
  lane_init (&free_lane, scheduler, "free", FALSE);
  lane_queue (&held, &divided_shape, 0);
  gate_wait_entered (&held.gate, 1);
  lane_queue (&held, &divided_shape, 1);
  for (i = 0; i < 3; i++)
    lane_queue (&free_lane, &divided_shape, i);
  fail_unless (gst_tsf_stream_drain (free_lane.stream));
  taken = take_stream_indices (free_lane.stream);
  assert_first_indices (taken, 3);
  g_array_unref (taken);

  gst_tsf_stream_set_flushing (free_lane.stream, TRUE);
  gst_tsf_stream_set_flushing (free_lane.stream, FALSE);
  lane_queue (&free_lane, &divided_shape, 3);
  fail_unless (gst_tsf_stream_drain (free_lane.stream));
  lane_clear (&free_lane);                 /* returns with `held` still held */

  fail_unless_equals_int (held.gate.entered, 1);
  gate_set_held (&held.gate, FALSE);
  fail_unless (gst_tsf_stream_drain (held.stream));
  taken = take_stream_indices (held.stream);
  assert_first_indices (taken, 2);
  g_array_unref (taken);
  lane_clear (&held);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

/* Two sessions: a clip the engine refuses (not whole patches) fails its own stream only: the
 * other stream gets all its results, and the failed one classifies its next good clip. */
GST_START_TEST (test_failed_clip_fails_only_its_stream)
{
  static const TsfClipShape not_whole_patches = { 4, 3, 33, 32 };
  static const guint64 good_clips[] = { 1 };
  GstTsfScheduler *scheduler = acquire ("divided", 2, TRUE);
  GstTsfStreamStats stats;
  Lane failing, other;
  GArray *taken;
  gchar *message;
  guint64 i;

  lane_init (&failing, scheduler, "failing", FALSE);
  lane_init (&other, scheduler, "other", FALSE);
  lane_queue (&failing, &not_whole_patches, 0);
  for (i = 0; i < 3; i++)
    lane_queue (&other, &divided_shape, i);
  lane_queue (&failing, &divided_shape, 1);
  fail_unless (gst_tsf_stream_drain (failing.stream));
  fail_unless (gst_tsf_stream_drain (other.stream));

  message = gst_tsf_stream_dup_error (failing.stream);
  fail_unless (message != NULL && strstr (message, "patch") != NULL, "%s", message);
  g_free (message);
  taken = take_stream_indices (failing.stream);
  assert_indices (taken, good_clips, 1);
  g_array_unref (taken);
  gst_tsf_stream_get_stats (failing.stream, &stats);
  fail_unless_equals_uint64 (stats.clips_processed, 1);

  fail_unless (gst_tsf_stream_dup_error (other.stream) == NULL);
  taken = take_stream_indices (other.stream);
  assert_first_indices (taken, 3);
  g_array_unref (taken);
  lane_clear (&failing);
  lane_clear (&other);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

GST_START_TEST (test_prepare)
{
  static const TsfClipShape not_whole_patches = { 4, 3, 33, 32 };
  GstTsfScheduler *scheduler = acquire ("divided", 2, FALSE);
  GstClockTime run_time = 0;
  GError *error = NULL;

  fail_unless (gst_tsf_scheduler_prepare (scheduler, &divided_shape, TRUE, &run_time, NULL));
  fail_unless (run_time > 0);
  fail_if (gst_tsf_scheduler_prepare (scheduler, &not_whole_patches, TRUE, NULL, &error));
  fail_unless (g_error_matches (error, TSF_ERROR, TSF_ERROR_INPUT), "%s",
      error != NULL ? error->message : "no error");
  g_clear_error (&error);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

/* A clip of `shape` with values from `seed`, and the top label a session of its own gives it
 * (what an unbatched run classifies it as). */
static GstTsfClip *
new_seeded_clip (const TsfModel *model, const TsfClipShape *shape, guint64 index, guint seed,
    TsfPrediction *expected)
{
  GstTsfClip *clip = new_clip (shape, index);
  gsize n = (gsize) shape->frames * 3 * shape->height * shape->width;
  gfloat *logits = g_new (gfloat, tsf_model_get_config (model)->num_labels);
  TsfSession *session = tsf_session_new (model, NULL, NULL);

  for (gsize i = 0; i < n; i++)
    clip->data[i] = sinf ((gfloat) (i * (seed + 1)) * 0.013f);
  fail_unless (tsf_session_run (session, clip->data, shape, logits, NULL));
  fail_unless_equals_int (tsf_model_top_k (model, logits, 1, expected), 1);
  tsf_session_free (session);
  g_free (logits);
  return clip;
}

static void
queue_clip_on (Lane *lane, GstTsfClip *clip, guint64 index)
{
  GstTsfClipRequest request = { index, 1, 0.0f, 64, FALSE };
  GstTsfClip dropped;
  guint n;

  fail_unless_equals_int (gst_tsf_stream_queue_clip (lane->stream, clip, &request, &n,
          &dropped), GST_FLOW_OK);
}

/* The stream's one result (taken) is `expected`. */
static void
assert_one_result (Lane *lane, const TsfPrediction *expected)
{
  GList *results = gst_tsf_stream_take_results (lane->stream);
  const GstClipLabelsResult *result;

  fail_unless_equals_int (g_list_length (results), 1);
  result = results->data;
  fail_unless_equals_int (result->labels[0].class_id, expected->id);
  fail_unless (fabsf (result->labels[0].score - expected->score) < 1e-5f, "%g != %g",
      result->labels[0].score, expected->score);
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
}

static guint64
clips_batched (Lane *lane)
{
  GstTsfStreamStats stats;

  gst_tsf_stream_get_stats (lane->stream, &stats);
  return stats.clips_batched;
}

#define N_BATCH_LANES 3

/* One session, busy: the clips that three streams queue meanwhile run as one batch, taken
 * round-robin, and each result is the unbatched run's. With a bad clip among them, only its
 * own stream fails. */
static void
check_batch_across_streams (gboolean with_bad_clip)
{
  GstTsfScheduler *scheduler = acquire_batched ("divided", 1, FALSE, 4);
  const TsfModel *model = gst_tsf_scheduler_get_model (scheduler);
  TsfPrediction expected[N_BATCH_LANES];
  Lane hold, lanes[N_BATCH_LANES];
  gchar *served, *error;
  guint i;

  fail_unless_equals_int (gst_tsf_scheduler_get_batch_limit (scheduler, &divided_shape), 4);
  lane_init (&hold, scheduler, "hold", TRUE);
  for (i = 0; i < N_BATCH_LANES; i++) {
    gchar *name = g_strdup_printf ("s%u", i);
    lane_init (&lanes[i], scheduler, name, FALSE);
    g_free (name);
  }
  order_start ();
  lane_queue (&hold, &divided_shape, 0);
  gate_wait_entered (&hold.gate, 1);    /* the session is busy */
  for (i = 0; i < N_BATCH_LANES; i++) {
    GstTsfClip *clip = new_seeded_clip (model, &divided_shape, 0, i, &expected[i]);
    if (with_bad_clip && i == 1)
      clip->data[7] = NAN;
    queue_clip_on (&lanes[i], clip, 0);
  }
  gate_set_held (&hold.gate, FALSE);
  for (i = 0; i < N_BATCH_LANES; i++)
    fail_unless (gst_tsf_stream_drain (lanes[i].stream));

  served = order_take ();
  fail_unless_equals_string (served, with_bad_clip ? "hold:0 s0:0 s2:0" : "hold:0 s0:0 s1:0 s2:0");
  g_free (served);
  fail_unless_equals_int (clips_batched (&hold), 0);
  for (i = 0; i < N_BATCH_LANES; i++) {
    error = gst_tsf_stream_dup_error (lanes[i].stream);
    if (with_bad_clip && i == 1) {
      fail_unless (error != NULL && strstr (error, "NaN") != NULL, "%s", error);
      fail_unless (gst_tsf_stream_take_results (lanes[i].stream) == NULL);
    } else {
      fail_unless (error == NULL, "%s", error);
      assert_one_result (&lanes[i], &expected[i]);
      fail_unless_equals_int (clips_batched (&lanes[i]), 1);
    }
    g_free (error);
    lane_clear (&lanes[i]);
  }
  lane_clear (&hold);
  gst_tsf_scheduler_release (scheduler);
}

GST_START_TEST (test_batch_across_streams)
{
  check_batch_across_streams (FALSE);
}
GST_END_TEST;

GST_START_TEST (test_batch_bad_clip_fails_its_stream_only)
{
  check_batch_across_streams (TRUE);
}
GST_END_TEST;

/* While the session is busy: a live stream drops its own older clips (newest wins), another
 * stream's flush drops only its own; the batch that follows holds what is left, and the
 * flushed stream runs again afterwards. */
GST_START_TEST (test_batch_keeps_drop_policy_and_flush)
{
  GstTsfScheduler *scheduler = acquire_batched ("divided", 1, FALSE, 4);
  Lane hold, steady, flushed, live;
  GstTsfStreamStats stats;
  guint n_dropped = 0;
  gchar *served;
  guint64 i;

  lane_init (&hold, scheduler, "hold", TRUE);
  lane_init (&steady, scheduler, "steady", FALSE);
  lane_init (&flushed, scheduler, "flushed", FALSE);
  lane_init (&live, scheduler, "live", FALSE);
  order_start ();
  lane_queue (&hold, &divided_shape, 0);
  gate_wait_entered (&hold.gate, 1);
  lane_queue (&steady, &divided_shape, 0);
  lane_queue (&flushed, &divided_shape, 0);
  for (i = 0; i < 3; i++) {
    guint n = 0;
    fail_unless_equals_int (queue_on (live.stream, &divided_shape, i, 1, TRUE, &n, NULL),
        GST_FLOW_OK);
    n_dropped += n;
  }
  fail_unless_equals_int (n_dropped, 2);
  gst_tsf_stream_set_flushing (flushed.stream, TRUE);
  gst_tsf_stream_set_flushing (flushed.stream, FALSE);
  gate_set_held (&hold.gate, FALSE);
  fail_unless (gst_tsf_stream_drain (steady.stream));
  fail_unless (gst_tsf_stream_drain (live.stream));
  fail_unless (gst_tsf_stream_drain (flushed.stream));
  served = order_take ();
  fail_unless_equals_string (served, "hold:0 steady:0 live:2");
  g_free (served);
  gst_tsf_stream_get_stats (live.stream, &stats);
  fail_unless_equals_uint64 (stats.dropped_clips, 2);
  fail_unless_equals_uint64 (stats.clips_batched, 1);
  fail_unless (gst_tsf_stream_take_results (flushed.stream) == NULL);
  lane_queue (&flushed, &divided_shape, 1);
  fail_unless (gst_tsf_stream_drain (flushed.stream));
  fail_unless_equals_int (flushed.gate.entered, 1);
  lane_clear (&hold);
  lane_clear (&steady);
  lane_clear (&flushed);
  lane_clear (&live);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

/* Batches only where they pay: none for a clip of more work than the rule's bound, none with
 * max_batch 1 (the default). */
GST_START_TEST (test_batch_limit)
{
  static const TsfClipShape large = { 32, 3, 256, 256 };
  GstTsfScheduler *scheduler = acquire_batched ("divided", 1, FALSE, 4);
  GstTsfScheduler *unbatched = acquire_batched ("divided", 1, FALSE, 0);
  const TsfModel *model = gst_tsf_scheduler_get_model (scheduler);

  fail_unless (tsf_model_get_flops (model, &divided_shape)
      < GST_TSF_SCHEDULER_BATCH_MAX_GFLOP * 1e9);
  fail_unless_equals_int (gst_tsf_scheduler_get_max_batch (scheduler), 4);
  fail_unless_equals_int (gst_tsf_scheduler_get_batch_limit (scheduler, &divided_shape), 4);
  fail_unless_equals_int (gst_tsf_scheduler_get_max_batch (unbatched), 1);
  fail_unless (tsf_model_get_flops (model, &large) >= GST_TSF_SCHEDULER_BATCH_MAX_GFLOP * 1e9,
      "%g FLOP", tsf_model_get_flops (model, &large));
  fail_unless_equals_int (gst_tsf_scheduler_get_batch_limit (scheduler, &large), 1);
  fail_unless_equals_int (gst_tsf_scheduler_get_batch_limit (unbatched, &divided_shape), 1);
  gst_tsf_scheduler_release (scheduler);
  gst_tsf_scheduler_release (unbatched);
}
GST_END_TEST;

/* Waits (bounded) until `n` clips of the stream are classified. */
static void
wait_processed (GstTsfStream *stream, guint64 n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  GstTsfStreamStats stats;

  for (;;) {
    gst_tsf_stream_get_stats (stream, &stats);
    if (stats.clips_processed >= n)
      return;
    fail_unless (g_get_monotonic_time () < deadline, "%" G_GUINT64_FORMAT " of %"
        G_GUINT64_FORMAT " clips classified after 60 s", stats.clips_processed, n);
    g_usleep (G_TIME_SPAN_MILLISECOND);
  }
}

/* Two sessions, the thread that reports clip 0 held: clip 1, classified meanwhile, waits to be
 * reported. A flush drops it: no result of before the flush is reported after it. */
GST_START_TEST (test_flush_drops_results_not_reported)
{
  static const guint64 expected[] = { 0, 2 };
  /* No batches: clip 1 must run on the second session, not behind clip 0's held report. */
  GstTsfScheduler *scheduler = acquire_batched ("divided", 2, FALSE, 1);
  GArray *taken;
  Lane lane;

  lane_init (&lane, scheduler, "tsf", TRUE);
  lane_queue (&lane, &divided_shape, 0);
  lane_queue (&lane, &divided_shape, 1);
  gate_wait_entered (&lane.gate, 1);
  wait_processed (lane.stream, 2);
  gst_tsf_stream_set_flushing (lane.stream, TRUE);
  gst_tsf_stream_set_flushing (lane.stream, FALSE);
  gate_set_held (&lane.gate, FALSE);
  fail_unless (gst_tsf_stream_drain (lane.stream));
  taken = take_stream_indices (lane.stream);
  fail_unless_equals_int (taken->len, 0);
  g_array_unref (taken);

  lane_queue (&lane, &divided_shape, 2);
  fail_unless (gst_tsf_stream_drain (lane.stream));
  assert_indices (lane.gate.indices, expected, 2);
  lane_clear (&lane);
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

#define N_FEEDERS 3
#define CLIPS_PER_FEEDER 6

typedef struct {
  Lane lane;
  gboolean live;
} Feeder;

static gpointer
feed (gpointer data)
{
  Feeder *feeder = data;
  guint64 i;

  for (i = 0; i < CLIPS_PER_FEEDER; i++)
    fail_unless_equals_int (queue_on (feeder->lane.stream, &divided_shape, i, 1, feeder->live,
            NULL, NULL), GST_FLOW_OK);
  fail_unless (gst_tsf_stream_drain (feeder->lane.stream));
  return NULL;
}

/* Streams fed from their own threads at once, one of them live: every clip is classified or
 * dropped, each stream's results in order. */
GST_START_TEST (test_streams_fed_at_once)
{
  GstTsfScheduler *scheduler = acquire ("divided", 2, TRUE);
  Feeder feeders[N_FEEDERS];
  GThread *threads[N_FEEDERS];
  guint i;

  for (i = 0; i < N_FEEDERS; i++) {
    gchar *name = g_strdup_printf ("feeder%u", i);

    lane_init (&feeders[i].lane, scheduler, name, FALSE);
    feeders[i].live = i == N_FEEDERS - 1;
    g_free (name);
  }
  for (i = 0; i < N_FEEDERS; i++)
    threads[i] = g_thread_new ("feeder", feed, &feeders[i]);
  for (i = 0; i < N_FEEDERS; i++)
    g_thread_join (threads[i]);
  for (i = 0; i < N_FEEDERS; i++) {
    GArray *taken = take_stream_indices (feeders[i].lane.stream);
    GstTsfStreamStats stats;

    gst_tsf_stream_get_stats (feeders[i].lane.stream, &stats);
    fail_unless_equals_uint64 (stats.clips_processed + stats.dropped_clips, CLIPS_PER_FEEDER);
    fail_unless_equals_int (taken->len, stats.clips_processed);
    if (!feeders[i].live)
      fail_unless_equals_uint64 (stats.dropped_clips, 0);
    assert_increasing (taken);
    g_array_unref (taken);
    lane_clear (&feeders[i].lane);
  }
  gst_tsf_scheduler_release (scheduler);
}
GST_END_TEST;

#define N_CHURNERS 2
#define CHURN_ROUNDS 6
#define STEADY_CLIPS 12

/* As an element that starts (acquires the shared model, adds its stream), streams three clips
 * and stops, CHURN_ROUNDS times; each round ends its own way: removed with its clips pending,
 * flushed and fed again, or drained. Live every other round. */
static gpointer
churn (gpointer data)
{
  guint id = GPOINTER_TO_UINT (data), round;

  for (round = 0; round < CHURN_ROUNDS; round++) {
    GstTsfScheduler *scheduler = acquire ("divided", 2, TRUE);
    gchar *name = g_strdup_printf ("churn%u-%u", id, round);
    gboolean live = round % 2 == 1;
    GArray *taken;
    Lane lane;
    guint64 i;

    lane_init (&lane, scheduler, name, FALSE);
    for (i = 0; i < 3; i++)
      fail_unless_equals_int (queue_on (lane.stream, &divided_shape, i, 2, live, NULL, NULL),
          GST_FLOW_OK);
    if (round % 3 == 1) {
      static const guint64 after_flush[] = { 3 };

      gst_tsf_stream_set_flushing (lane.stream, TRUE);
      gst_tsf_stream_set_flushing (lane.stream, FALSE);
      lane_queue (&lane, &divided_shape, 3);
      fail_unless (gst_tsf_stream_drain (lane.stream));
      taken = take_stream_indices (lane.stream);
      assert_indices (taken, after_flush, 1);
      g_array_unref (taken);
    } else if (round % 3 == 2) {
      fail_unless (gst_tsf_stream_drain (lane.stream));
      taken = take_stream_indices (lane.stream);
      assert_increasing (taken);
      g_array_unref (taken);
    }
    lane_clear (&lane);
    gst_tsf_scheduler_release (scheduler);
    g_free (name);
  }
  return NULL;
}

static void
churn_at_once (void)
{
  GThread *threads[N_CHURNERS];
  guint i;

  for (i = 0; i < N_CHURNERS; i++)
    threads[i] = g_thread_new ("churn", churn, GUINT_TO_POINTER (i));
  for (i = 0; i < N_CHURNERS; i++)
    g_thread_join (threads[i]);
}

static gpointer
feed_steady (gpointer data)
{
  Lane *lane = data;
  guint64 i;

  for (i = 0; i < STEADY_CLIPS; i++)
    fail_unless_equals_int (queue_on (lane->stream, &divided_shape, i, 2, FALSE, NULL, NULL),
        GST_FLOW_OK);
  fail_unless (gst_tsf_stream_drain (lane->stream));
  return NULL;
}

/* Streams join and leave (an application adds and removes cameras) from their own threads
 * while a steady stream runs: it gets every result, in order; each leaving stream's flush,
 * removal or drain touches its own clips only. Then the same with no steady user: the model is
 * loaded and freed as users come and go, and freed after the last one. */
GST_START_TEST (test_streams_join_and_leave_while_others_run)
{
  guint shared_before = gst_tsf_scheduler_count_shared ();
  GstTsfScheduler *scheduler = acquire ("divided", 2, TRUE);
  GstTsfStreamStats stats;
  GThread *feeder;
  GArray *taken;
  Lane steady;

  lane_init (&steady, scheduler, "steady", FALSE);
  feeder = g_thread_new ("steady", feed_steady, &steady);
  churn_at_once ();
  g_thread_join (feeder);
  assert_first_indices (steady.gate.indices, STEADY_CLIPS);
  taken = take_stream_indices (steady.stream);
  assert_first_indices (taken, STEADY_CLIPS);
  g_array_unref (taken);
  gst_tsf_stream_get_stats (steady.stream, &stats);
  fail_unless_equals_uint64 (stats.clips_processed, STEADY_CLIPS);
  fail_unless_equals_uint64 (stats.dropped_clips, 0);
  fail_unless (gst_tsf_stream_dup_error (steady.stream) == NULL);
  fail_unless_equals_int (gst_tsf_scheduler_get_users (scheduler), 1);
  lane_clear (&steady);
  gst_tsf_scheduler_release (scheduler);
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before);

  churn_at_once ();
  fail_unless_equals_int (gst_tsf_scheduler_count_shared (), shared_before);
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
  tcase_add_test (tc, test_padded_clip_masked);
  tcase_add_test (tc, test_live_newest_clip_wins);
  tcase_add_test (tc, test_not_live_waits_for_room);
  tcase_add_test (tc, test_flush);
  tcase_add_test (tc, test_stop_with_clips_pending);
  tcase_add_test (tc, test_shared_by_key);
  tcase_add_test (tc, test_concurrent_callers_share_one_load);
  tcase_add_test (tc, test_load_error_given_to_every_caller);
  tcase_add_test (tc, test_streams_served_round_robin);
  tcase_add_test (tc, test_two_sessions_keep_clip_order);
  tcase_add_test (tc, test_held_stream_does_not_hold_others);
  tcase_add_test (tc, test_flush_drops_results_not_reported);
  tcase_add_test (tc, test_failed_clip_fails_only_its_stream);
  tcase_add_test (tc, test_prepare);
  tcase_add_test (tc, test_streams_fed_at_once);
  tcase_add_test (tc, test_streams_join_and_leave_while_others_run);
  tcase_add_test (tc, test_batch_across_streams);
  tcase_add_test (tc, test_batch_bad_clip_fails_its_stream_only);
  tcase_add_test (tc, test_batch_keeps_drop_policy_and_flush);
  tcase_add_test (tc, test_batch_limit);
  return suite;
}

GST_CHECK_MAIN (tsf_scheduler);
