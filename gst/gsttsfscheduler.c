/* gsttsfscheduler.c: the process-wide registry of shared models, and each model's inference
 * threads serving the streams of many timesformer elements (see gsttsfscheduler.h). */
#include "gsttsfscheduler.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_tsf_scheduler_debug);
#define GST_CAT_DEFAULT gst_tsf_scheduler_debug

typedef enum {
  LOAD_PENDING,
  LOAD_DONE,
  LOAD_FAILED,
} LoadState;

/* One clip waiting for, in, or just out of an inference thread. */
typedef struct {
  GstTsfStream *stream;
  GstTsfClip *clip;
  GstTsfClipRequest request;
  guint generation;            /* the stream's at queueing; flushes bump it */
  guint64 seq;                 /* the stream's dispatch order, set when a thread takes it */
  GstClipLabelsResult *result; /* once run; NULL if it failed */
} Job;

/* Building plans ahead of the first clip (and timing one run), on every inference thread. */
typedef struct {
  TsfClipShape shape;
  gboolean prepare;            /* every session builds the shape's plans */
  gboolean time_run;           /* the first thread times one run */
  guint64 seq;                 /* threads do requests in this order */
  guint remaining;             /* threads that have not done it */
  GError *error;               /* the first failure */
  gint64 run_us;               /* the timed run */
} PrepareRequest;

typedef struct {
  GstTsfScheduler *scheduler;
  guint index;
  TsfSession *session;         /* used by this thread only */
  GThread *thread;
  guint64 prepared_seq;        /* the last PrepareRequest done (scheduler lock) */
} InferenceThread;

struct _GstTsfScheduler {
  /* Registry lock. */
  gchar *key;                  /* the registry's key; NULL for a private scheduler */
  gint users;                  /* elements holding it (written under the registry lock) */
  LoadState state;
  GError *load_error;

  /* Read-only once loaded. */
  TsfModel *model;
  GQuark model_name;
  guint n_threads;             /* inference threads, one session each */
  guint threads_per_session;
  guint max_batch;             /* clips of one shape per run at most (when batching pays) */
  InferenceThread *threads;

  GMutex lock;                 /* guards what follows and the state of every stream */
  GCond work;                  /* a clip was queued, a prepare asked, stop */
  GCond prepared;              /* a thread did a PrepareRequest */
  gboolean stop;               /* the threads exit */
  guint idle;                  /* threads waiting for work */
  GQueue streams;              /* GstTsfStream, the next to serve first */
  GQueue prepares;             /* PrepareRequest, oldest first */
  guint64 prepare_seq;
};

struct _GstTsfStream {
  GstTsfScheduler *scheduler;
  GQuark producer;
  GstTsfStreamResultFunc on_result;
  gpointer user_data;
  GList link;                  /* in scheduler->streams */

  /* The scheduler's lock. */
  GCond cond;                  /* room in waiting, a clip reported, flushing */
  gboolean flushing;           /* waits return at once */
  gboolean removed;            /* out of the scheduler: no clip runs any more */
  GQueue waiting;              /* Job, oldest first */
  guint in_flight;             /* jobs taken by a thread and not yet counted done */
  guint generation;            /* bumped by flushes: results of older jobs are discarded */
  guint64 next_seq;            /* seq of the next job a thread takes */
  guint64 next_release;        /* seq of the next job to report */
  GQueue done;                 /* Job run ahead of an earlier one, by seq */
  GQueue to_post;              /* GstClipLabelsResult released, to report with no lock held */
  gboolean posting;            /* a thread reports to_post */
  GQueue ready;                /* GstClipLabelsResult not yet taken */
  gchar *error;                /* the first inference failure */
  gchar *skipped;              /* why the latest skipped clip was, until taken */
  guint unreported_skips;      /* clips skipped since `skipped` was last taken */
  GstTsfStreamStats stats;
};

static void
job_free (Job *job)
{
  gst_tsf_clip_free (job->clip);
  if (job->result != NULL)
    gst_clip_labels_result_free (job->result);
  g_free (job);
}

/* ---- running a clip (an inference thread, no lock held) ---- */

/* The best labels above the threshold, with the clip's times. */
static GstClipLabelsResult *
make_result (const Job *job, GQuark model_name, const TsfPrediction *best, guint n_best)
{
  GstClipLabelsResult *result = gst_clip_labels_result_new ();
  guint i;

  result->model = model_name;
  result->producer = job->stream->producer;
  result->clip_index = job->request.clip_index;
  result->num_frames = job->clip->shape.frames;
  result->real_frames = job->clip->real_frames;
  result->first_pts = job->clip->first_pts;
  result->last_pts = job->clip->last_pts;
  result->first_running_time = job->clip->first_running_time;
  result->last_running_time = job->clip->last_running_time;
  for (i = 0; i < n_best && best[i].score >= job->request.threshold; i++)
    gst_clip_labels_result_add_label (result, best[i].id, best[i].label, best[i].score);
  return result;
}

/* The frame mask of a clip padded at EOS: the models that take one (lucidrains'
 * TimeSformer-pytorch) leave the repeated frames out of the attention across frames; NULL for
 * the others. */
static guint8 *
padding_mask (const TsfModel *model, const GstTsfClip *clip)
{
  guint8 *mask;

  if (clip->real_frames == 0 || clip->real_frames >= clip->shape.frames
      || tsf_model_get_config (model)->attention_type != TSF_ATTENTION_TIMESFORMER_PYTORCH)
    return NULL;
  mask = g_new0 (guint8, clip->shape.frames);
  memset (mask, 1, clip->real_frames);
  return mask;
}

static GstClipLabelsResult *
result_of_logits (InferenceThread *thread, const Job *job, const gfloat *logits)
{
  const TsfModel *model = thread->scheduler->model;
  guint k = MIN (job->request.top_k, tsf_model_get_config (model)->num_labels);
  TsfPrediction *best = g_new (TsfPrediction, MAX (k, 1));
  guint n_best = tsf_model_top_k (model, logits, job->request.top_k, best);
  GstClipLabelsResult *result = make_result (job, thread->scheduler->model_name, best, n_best);

  g_free (best);
  return result;
}

/* One engine run over the clips of `jobs` (one shape); each job's result, or its error in
 * errors[i]. A batch that fails runs again clip by clip, so that a bad clip fails only its own
 * stream. */
static void
classify (InferenceThread *thread, Job **jobs, guint n, GError **errors)
{
  const TsfModel *model = thread->scheduler->model;
  guint num_labels = tsf_model_get_config (model)->num_labels;
  gfloat *logits = g_new (gfloat, (gsize) n * num_labels);
  const gfloat **clips = g_new (const gfloat *, n);
  guint8 **masks = g_new (guint8 *, n);
  gboolean ok;

  for (guint i = 0; i < n; i++) {
    clips[i] = jobs[i]->clip->data;
    masks[i] = padding_mask (model, jobs[i]->clip);
  }
  ok = tsf_session_run_batch (thread->session, n, clips, &jobs[0]->clip->shape,
      (const guint8 * const *) masks, logits, n == 1 ? &errors[0] : NULL);
  if (!ok && n > 1)
    GST_DEBUG ("a batch of %u clips failed: running them one by one", n);
  for (guint i = 0; i < n; i++) {
    if (ok || (n > 1 && tsf_session_run_batch (thread->session, 1, &clips[i],
                &jobs[i]->clip->shape, (const guint8 * const *) &masks[i],
                logits + (gsize) i * num_labels, &errors[i])))
      jobs[i]->result = result_of_logits (thread, jobs[i], logits + (gsize) i * num_labels);
    g_free (masks[i]);
  }
  g_free (masks);
  g_free (clips);
  g_free (logits);
}

/* ---- a stream's results, in clip order (scheduler lock held) ---- */

static gint
compare_seq (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Job *ja = a, *jb = b;

  return ja->seq < jb->seq ? -1 : ja->seq > jb->seq;
}

/* Moves the jobs done in sequence to `ready` and `to_post`, dropping those of an older
 * generation (a flush came after them). */
static void
release_in_order (GstTsfStream *stream)
{
  Job *job;

  while ((job = g_queue_peek_head (&stream->done)) != NULL && job->seq == stream->next_release) {
    g_queue_pop_head (&stream->done);
    stream->next_release++;
    if (job->result != NULL && job->generation == stream->generation) {
      g_queue_push_tail (&stream->ready, gst_clip_labels_result_copy (job->result));
      g_queue_push_tail (&stream->to_post, g_steal_pointer (&job->result));
    }
    job_free (job);
  }
}

/* Reports to_post in order with the lock released; one thread at a time per stream. */
static void
post_results (GstTsfStream *stream)
{
  GMutex *lock = &stream->scheduler->lock;
  GstClipLabelsResult *result;

  if (stream->posting)
    return;
  stream->posting = TRUE;
  while ((result = g_queue_pop_head (&stream->to_post)) != NULL) {
    g_mutex_unlock (lock);
    stream->on_result (result, stream->user_data);
    gst_clip_labels_result_free (result);
    g_mutex_lock (lock);
  }
  stream->posting = FALSE;
}

static void
record_job_done (GstTsfStream *stream, const Job *job, gdouble ms, guint batch,
    const GError *error)
{
  if (g_error_matches (error, TSF_ERROR, TSF_ERROR_NON_FINITE)) {
    GST_WARNING ("%s: clip %" G_GUINT64_FORMAT " skipped: %s",
        g_quark_to_string (stream->producer), job->request.clip_index, error->message);
    g_free (stream->skipped);
    stream->skipped = g_strdup_printf ("clip %" G_GUINT64_FORMAT ": %s",
        job->request.clip_index, error->message);
    stream->unreported_skips++;
    stream->stats.skipped_clips++;
    return;
  }
  if (error != NULL) {
    GST_WARNING ("%s: clip %" G_GUINT64_FORMAT " failed: %s",
        g_quark_to_string (stream->producer), job->request.clip_index, error->message);
    if (stream->error == NULL)
      stream->error = g_strdup (error->message);
    return;
  }
  GST_DEBUG ("%s: clip %" G_GUINT64_FORMAT " classified in %.1f ms",
      g_quark_to_string (stream->producer), job->request.clip_index, ms);
  stream->stats.clips_processed++;
  stream->stats.clips_batched += batch > 1;
  stream->stats.inference_ms_total += ms;
}

/* Called with the lock held; `job` is taken; `ms`: its share of the run of `batch` clips. */
static void
finish_job (Job *job, gdouble ms, guint batch, const GError *error)
{
  GstTsfStream *stream = job->stream;

  record_job_done (stream, job, ms, batch, error);
  g_queue_insert_sorted (&stream->done, job, compare_seq, NULL);
  release_in_order (stream);
  post_results (stream);
  /* Done only once reported: a drain waits for this. */
  stream->in_flight--;
  g_cond_broadcast (&stream->cond);
}

/* ---- the inference threads ---- */

static gboolean
same_shape (const TsfClipShape *a, const TsfClipShape *b)
{
  return a->frames == b->frames && a->channels == b->channels && a->height == b->height
      && a->width == b->width;
}

/* Called with the lock held: the head of the first stream (round-robin) with a clip waiting
 * (of `shape`, unless NULL); that stream goes to the back of the line. */
static Job *
take_next_job (GstTsfScheduler *scheduler, const TsfClipShape *shape)
{
  GList *l;

  for (l = scheduler->streams.head; l != NULL; l = l->next) {
    GstTsfStream *stream = l->data;
    Job *job;

    if (stream->flushing || g_queue_is_empty (&stream->waiting) || (shape != NULL
            && !same_shape (shape, &((Job *) g_queue_peek_head (&stream->waiting))->clip->shape)))
      continue;
    job = g_queue_pop_head (&stream->waiting);
    job->seq = stream->next_seq++;
    stream->in_flight++;
    g_queue_unlink (&scheduler->streams, l);
    g_queue_push_tail_link (&scheduler->streams, l);
    g_cond_broadcast (&stream->cond);   /* room for a clip that waits */
    return job;
  }
  return NULL;
}

/* Called with the lock held: clips waiting in every stream. */
static guint
count_waiting (GstTsfScheduler *scheduler)
{
  guint n = 0;

  for (GList *l = scheduler->streams.head; l != NULL; l = l->next) {
    GstTsfStream *stream = l->data;
    n += stream->flushing ? 0 : g_queue_get_length (&stream->waiting);
  }
  return n;
}

/* Called with the lock held: a run's jobs, round-robin over the streams. Beyond the first, up
 * to the batch limit of its shape, and no more than this thread's share of the clips waiting
 * among the idle threads (which run in parallel: a batch must not leave them without work). */
static guint
take_jobs (GstTsfScheduler *scheduler, Job **jobs)
{
  const TsfClipShape *shape;
  guint n = 0, limit, waiting;

  if ((jobs[n] = take_next_job (scheduler, NULL)) == NULL)
    return 0;
  shape = &jobs[n++]->clip->shape;
  limit = gst_tsf_scheduler_get_batch_limit (scheduler, shape);
  if (limit > 1) {
    waiting = count_waiting (scheduler);
    limit = MIN (limit, 1 + waiting / (scheduler->idle + 1));
  }
  while (n < limit && (jobs[n] = take_next_job (scheduler, shape)) != NULL)
    n++;
  if (n > 1)
    GST_LOG ("a batch of %u clips", n);
  return n;
}

/* Called with the lock held. */
static PrepareRequest *
next_prepare (GstTsfScheduler *scheduler, InferenceThread *thread)
{
  GList *l;

  for (l = scheduler->prepares.head; l != NULL; l = l->next) {
    PrepareRequest *request = l->data;

    if (request->seq > thread->prepared_seq)
      return request;
  }
  return NULL;
}

/* A clip of zeros of the shape, run once; its duration in *run_us. */
static gboolean
time_one_run (InferenceThread *thread, const TsfClipShape *shape, gint64 *run_us,
    GError **error)
{
  guint num_labels = tsf_model_get_config (thread->scheduler->model)->num_labels;
  gfloat *clip = g_new0 (gfloat, (gsize) shape->frames * shape->channels * shape->height
      * shape->width);
  gfloat *logits = g_new (gfloat, num_labels);
  gint64 start_us = g_get_monotonic_time ();
  GError *run_error = NULL;
  gboolean ok = tsf_session_run (thread->session, clip, shape, logits, &run_error);

  *run_us = g_get_monotonic_time () - start_us;
  /* non-finite logits still timed a whole run; each clip reports them */
  if (g_error_matches (run_error, TSF_ERROR, TSF_ERROR_NON_FINITE)) {
    g_clear_error (&run_error);
    ok = TRUE;
  }
  if (!ok)
    g_propagate_error (error, run_error);
  g_free (clip);
  g_free (logits);
  return ok;
}

/* The plans of every batch size of `shape` (when batching pays for it). A size that cannot
 * be prepared (its memory bound) is only logged: such a batch fails at run time and its
 * clips run one by one. */
static void
prepare_batches (InferenceThread *thread, const TsfClipShape *shape)
{
  guint limit = gst_tsf_scheduler_get_batch_limit (thread->scheduler, shape);

  for (guint n = 2; n <= limit; n++) {
    g_autoptr (GError) error = NULL;
    if (!tsf_session_prepare_batch (thread->session, shape, n, &error)) {
      GST_WARNING ("no batches of %u clips: %s", n, error->message);
      return;
    }
  }
}

/* Called with the lock held; releases it while the session works. */
static void
do_prepare (InferenceThread *thread, PrepareRequest *request)
{
  GstTsfScheduler *scheduler = thread->scheduler;
  TsfClipShape shape = request->shape;
  gboolean time_run = request->time_run && thread->index == 0;
  gboolean prepare = request->prepare;
  GError *error = NULL;
  gint64 run_us = 0;

  thread->prepared_seq = request->seq;
  g_mutex_unlock (&scheduler->lock);
  /* the timed session builds its plan first in any case: the engine checks the shape's
   * memory against max_clip_bytes before the clip of zeros is allocated */
  if (!(prepare || time_run) || tsf_session_prepare (thread->session, &shape, &error)) {
    if (time_run)
      time_one_run (thread, &shape, &run_us, &error);
  }
  if (prepare && error == NULL)
    prepare_batches (thread, &shape);
  g_mutex_lock (&scheduler->lock);
  if (time_run)
    request->run_us = run_us;
  if (error != NULL && request->error == NULL)
    request->error = g_steal_pointer (&error);
  g_clear_error (&error);
  request->remaining--;
  g_cond_broadcast (&scheduler->prepared);
}

static gpointer
inference_thread_main (gpointer data)
{
  InferenceThread *thread = data;
  GstTsfScheduler *scheduler = thread->scheduler;

  g_mutex_lock (&scheduler->lock);
  while (!scheduler->stop) {
    PrepareRequest *request = next_prepare (scheduler, thread);
    Job *jobs[TSF_MAX_BATCH];
    GError *errors[TSF_MAX_BATCH] = { NULL };
    gint64 start_us;
    gdouble ms;
    guint n;

    if (request != NULL) {
      do_prepare (thread, request);
      continue;
    }
    n = take_jobs (scheduler, jobs);
    if (n == 0) {
      scheduler->idle++;
      g_cond_wait (&scheduler->work, &scheduler->lock);
      scheduler->idle--;
      continue;
    }
    g_mutex_unlock (&scheduler->lock);
    start_us = g_get_monotonic_time ();
    classify (thread, jobs, n, errors);
    ms = (g_get_monotonic_time () - start_us) / 1000.0 / n;
    g_mutex_lock (&scheduler->lock);
    for (guint i = 0; i < n; i++) {
      finish_job (jobs[i], ms, n, errors[i]);
      g_clear_error (&errors[i]);
    }
  }
  g_mutex_unlock (&scheduler->lock);
  return NULL;
}

gboolean
gst_tsf_scheduler_prepare (GstTsfScheduler *scheduler, const TsfClipShape *shape,
    gboolean prepare, GstClockTime *run_time, GError **error)
{
  PrepareRequest request = { .shape = *shape, .prepare = prepare,
    .time_run = run_time != NULL, .remaining = scheduler->n_threads };

  g_mutex_lock (&scheduler->lock);
  request.seq = ++scheduler->prepare_seq;
  g_queue_push_tail (&scheduler->prepares, &request);
  g_cond_broadcast (&scheduler->work);
  while (request.remaining > 0)
    g_cond_wait (&scheduler->prepared, &scheduler->lock);
  g_queue_remove (&scheduler->prepares, &request);
  g_mutex_unlock (&scheduler->lock);

  if (run_time != NULL)
    *run_time = request.run_us * GST_USECOND;
  if (request.error != NULL) {
    g_propagate_error (error, request.error);
    return FALSE;
  }
  return TRUE;
}

/* ---- loading, the thread budget, freeing ---- */

/* Sessions and threads per session for a budget of `threads` (0 = all cores). */
static void
resolve_budget (gint threads, guint sessions, guint *n_sessions, guint *threads_per_session)
{
  guint budget = threads > 0 ? (guint) threads : g_get_num_processors ();

  *n_sessions = MIN (sessions > 0 ? sessions : GST_TSF_SCHEDULER_DEFAULT_SESSIONS, budget);
  *threads_per_session = budget / *n_sessions;
}

static guint
resolve_max_batch (guint max_batch)
{
  return MIN (max_batch > 0 ? max_batch : GST_TSF_SCHEDULER_DEFAULT_MAX_BATCH, TSF_MAX_BATCH);
}

static GstTsfScheduler *
scheduler_new (guint n_sessions, guint threads_per_session, guint max_batch)
{
  GstTsfScheduler *scheduler = g_new0 (GstTsfScheduler, 1);

  scheduler->n_threads = n_sessions;
  scheduler->threads_per_session = threads_per_session;
  scheduler->max_batch = resolve_max_batch (max_batch);
  scheduler->state = LOAD_PENDING;
  g_mutex_init (&scheduler->lock);
  g_cond_init (&scheduler->work);
  g_cond_init (&scheduler->prepared);
  g_queue_init (&scheduler->streams);
  g_queue_init (&scheduler->prepares);
  return scheduler;
}

static void
scheduler_free (GstTsfScheduler *scheduler)
{
  guint i;

  g_warn_if_fail (g_queue_is_empty (&scheduler->streams));
  g_mutex_lock (&scheduler->lock);
  scheduler->stop = TRUE;
  g_cond_broadcast (&scheduler->work);
  g_mutex_unlock (&scheduler->lock);
  for (i = 0; scheduler->threads != NULL && i < scheduler->n_threads; i++) {
    if (scheduler->threads[i].thread != NULL)
      g_thread_join (scheduler->threads[i].thread);
    tsf_session_free (scheduler->threads[i].session);
  }
  g_free (scheduler->threads);
  if (scheduler->model != NULL)
    GST_INFO ("freeing the model %s", g_quark_to_string (scheduler->model_name));
  tsf_model_free (scheduler->model);
  g_clear_error (&scheduler->load_error);
  g_free (scheduler->key);
  g_mutex_clear (&scheduler->lock);
  g_cond_clear (&scheduler->work);
  g_cond_clear (&scheduler->prepared);
  g_free (scheduler);
}

/* Opens the model, makes a session per thread and starts the threads. */
static gboolean
scheduler_load (GstTsfScheduler *scheduler, const GstTsfSchedulerOptions *options,
    GError **error)
{
  TsfSessionOptions session_options = { .threads = (gint) scheduler->threads_per_session,
      .max_clip_bytes = options->max_clip_bytes };
  TsfModelOptions model_options;
  guint i;

  tsf_model_options_init (&model_options);
  /* The load's weight reorders run on the caller's thread: no wider than one session. */
  model_options.threads = scheduler->threads_per_session;
  model_options.num_heads = options->num_heads;
  model_options.precision = options->precision;
  model_options.labels_file = options->labels_file;
  model_options.max_clip_bytes = options->max_clip_bytes;
  scheduler->model = tsf_model_open (options->model_path, &model_options, error);
  if (scheduler->model == NULL)
    return FALSE;
  scheduler->model_name = g_quark_from_string (tsf_model_get_name (scheduler->model));
  scheduler->threads = g_new0 (InferenceThread, scheduler->n_threads);
  for (i = 0; i < scheduler->n_threads; i++) {
    InferenceThread *thread = &scheduler->threads[i];

    thread->scheduler = scheduler;
    thread->index = i;
    thread->session = tsf_session_new (scheduler->model, &session_options, error);
    if (thread->session == NULL)
      return FALSE;
  }
  for (i = 0; i < scheduler->n_threads; i++)
    scheduler->threads[i].thread = g_thread_new ("tsf-inference", inference_thread_main,
        &scheduler->threads[i]);
  GST_INFO ("loaded %s: %u sessions of %u threads, batches of at most %u clips",
      options->model_path, scheduler->n_threads, scheduler->threads_per_session,
      scheduler->max_batch);
  return TRUE;
}

/* ---- the registry ---- */

static GMutex registry_lock;
static GCond registry_loaded;          /* a pending load finished */
static GHashTable *registry;           /* key -> GstTsfScheduler (pending or loaded) */

/* The absolute path with symbolic links resolved; the absolute path if that fails. */
static gchar *
resolve_path (const gchar *path)
{
  char resolved[PATH_MAX];

  if (path == NULL)
    return g_strdup ("");
  if (realpath (path, resolved) != NULL)
    return g_strdup (resolved);
  return g_canonicalize_filename (path, NULL);
}

static gchar *
make_key (const GstTsfSchedulerOptions *options, guint n_sessions, guint threads_per_session)
{
  gchar *model = resolve_path (options->model_path);
  gchar *labels = resolve_path (options->labels_file);
  guint64 max_clip_bytes = options->max_clip_bytes > 0 ? options->max_clip_bytes
      : tsf_default_max_clip_bytes ();
  gchar *key = g_strdup_printf ("%s\nlabels=%s\nheads=%u\nprecision=%s\nsessions=%u\n"
      "threads=%u\nmax-clip-bytes=%" G_GUINT64_FORMAT "\nmax-batch=%u", model, labels,
      options->num_heads, tsf_precision_to_string (options->precision), n_sessions,
      threads_per_session, max_clip_bytes, resolve_max_batch (options->max_batch));

  g_free (model);
  g_free (labels);
  return key;
}

/* A private scheduler: loaded here, in no registry. */
static GstTsfScheduler *
acquire_private (const GstTsfSchedulerOptions *options, guint n_sessions,
    guint threads_per_session, GError **error)
{
  GstTsfScheduler *scheduler = scheduler_new (n_sessions, threads_per_session,
      options->max_batch);

  if (!scheduler_load (scheduler, options, error)) {
    scheduler_free (scheduler);
    return NULL;
  }
  scheduler->state = LOAD_DONE;
  scheduler->users = 1;
  return scheduler;
}

/* Called with the registry lock held: drops one user; frees the scheduler at the last one
 * (with the lock released). */
static void
drop_user_locked (GstTsfScheduler *scheduler)
{
  if (!g_atomic_int_dec_and_test (&scheduler->users)) {
    g_mutex_unlock (&registry_lock);
    return;
  }
  if (scheduler->state != LOAD_FAILED)
    g_hash_table_remove (registry, scheduler->key);
  g_mutex_unlock (&registry_lock);
  scheduler_free (scheduler);
}

/* Waits for the load another caller does; NULL with its error if it failed. */
static GstTsfScheduler *
join_loaded (GstTsfScheduler *scheduler, GError **error)
{
  g_atomic_int_inc (&scheduler->users);
  while (scheduler->state == LOAD_PENDING)
    g_cond_wait (&registry_loaded, &registry_lock);
  if (scheduler->state == LOAD_FAILED) {
    g_propagate_error (error, g_error_copy (scheduler->load_error));
    drop_user_locked (scheduler);
    return NULL;
  }
  GST_DEBUG ("sharing %s with %d elements", g_quark_to_string (scheduler->model_name),
      g_atomic_int_get (&scheduler->users) - 1);
  g_mutex_unlock (&registry_lock);
  return scheduler;
}

/* Called with the registry lock held; loads with it released. */
static GstTsfScheduler *
load_shared (gchar *key, const GstTsfSchedulerOptions *options, guint n_sessions,
    guint threads_per_session, GError **error)
{
  GstTsfScheduler *scheduler = scheduler_new (n_sessions, threads_per_session,
      options->max_batch);
  GError *load_error = NULL;
  gboolean loaded;

  scheduler->key = key;
  scheduler->users = 1;
  g_hash_table_insert (registry, key, scheduler);
  g_mutex_unlock (&registry_lock);

  loaded = scheduler_load (scheduler, options, &load_error);

  g_mutex_lock (&registry_lock);
  scheduler->state = loaded ? LOAD_DONE : LOAD_FAILED;
  g_cond_broadcast (&registry_loaded);
  if (loaded) {
    g_mutex_unlock (&registry_lock);
    return scheduler;
  }
  /* Out of the registry at once: a later element tries again. */
  g_hash_table_remove (registry, key);
  scheduler->load_error = g_error_copy (load_error);
  g_propagate_error (error, load_error);
  drop_user_locked (scheduler);
  return NULL;
}

/* Under the registry lock: the first callers of acquire may run at once
 * (GST_DEBUG_CATEGORY_INIT's store raced: tsan-first-use-scheduler). */
static void
init_debug_category (void)
{
  g_mutex_lock (&registry_lock);
  GST_DEBUG_CATEGORY_INIT (gst_tsf_scheduler_debug, "timesformerscheduler", 0,
      "timesformer's shared models and inference threads");
  g_mutex_unlock (&registry_lock);
}

GstTsfScheduler *
gst_tsf_scheduler_acquire (const GstTsfSchedulerOptions *options, GError **error)
{
  guint n_sessions, threads_per_session;
  GstTsfScheduler *scheduler;
  gchar *key;

  init_debug_category ();
  resolve_budget (options->threads, options->sessions, &n_sessions, &threads_per_session);
  if (!options->shared)
    return acquire_private (options, n_sessions, threads_per_session, error);

  key = make_key (options, n_sessions, threads_per_session);
  g_mutex_lock (&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new (g_str_hash, g_str_equal);
  scheduler = g_hash_table_lookup (registry, key);
  if (scheduler != NULL) {
    g_free (key);
    return join_loaded (scheduler, error);
  }
  return load_shared (key, options, n_sessions, threads_per_session, error);
}

void
gst_tsf_scheduler_release (GstTsfScheduler *scheduler)
{
  if (scheduler == NULL)
    return;
  if (scheduler->key == NULL) {
    scheduler_free (scheduler);
    return;
  }
  g_mutex_lock (&registry_lock);
  drop_user_locked (scheduler);
}

const TsfModel *
gst_tsf_scheduler_get_model (GstTsfScheduler *scheduler)
{
  return scheduler->model;
}

guint
gst_tsf_scheduler_get_users (GstTsfScheduler *scheduler)
{
  return g_atomic_int_get (&scheduler->users);
}

gboolean
gst_tsf_scheduler_is_shared (GstTsfScheduler *scheduler)
{
  return scheduler->key != NULL;
}

void
gst_tsf_scheduler_get_budget (GstTsfScheduler *scheduler, guint *sessions,
    guint *threads_per_session)
{
  *sessions = scheduler->n_threads;
  *threads_per_session = scheduler->threads_per_session;
}

guint
gst_tsf_scheduler_get_max_batch (GstTsfScheduler *scheduler)
{
  return scheduler->max_batch;
}

guint
gst_tsf_scheduler_get_batch_limit (GstTsfScheduler *scheduler, const TsfClipShape *shape)
{
  gdouble flops = tsf_model_get_flops (scheduler->model, shape);

  return flops < GST_TSF_SCHEDULER_BATCH_MAX_GFLOP * 1e9 ? scheduler->max_batch : 1;
}

guint
gst_tsf_scheduler_count_shared (void)
{
  guint n;

  g_mutex_lock (&registry_lock);
  n = registry != NULL ? g_hash_table_size (registry) : 0;
  g_mutex_unlock (&registry_lock);
  return n;
}

/* ---- streams ---- */

GstTsfStream *
gst_tsf_scheduler_add_stream (GstTsfScheduler *scheduler, const gchar *producer,
    GstTsfStreamResultFunc on_result, gpointer user_data)
{
  GstTsfStream *stream = g_new0 (GstTsfStream, 1);

  stream->scheduler = scheduler;
  stream->producer = g_quark_from_string (producer);
  stream->on_result = on_result;
  stream->user_data = user_data;
  stream->link.data = stream;
  g_cond_init (&stream->cond);
  g_queue_init (&stream->waiting);
  g_queue_init (&stream->done);
  g_queue_init (&stream->to_post);
  g_queue_init (&stream->ready);
  g_mutex_lock (&scheduler->lock);
  g_queue_push_tail_link (&scheduler->streams, &stream->link);
  g_mutex_unlock (&scheduler->lock);
  return stream;
}

/* Called with the lock held: drops the clips waiting and the results not reported (a thread
 * reporting another one of the stream's results meanwhile) or not taken. */
static void
drop_pending (GstTsfStream *stream)
{
  g_queue_clear_full (&stream->waiting, (GDestroyNotify) job_free);
  g_queue_clear_full (&stream->to_post, (GDestroyNotify) gst_clip_labels_result_free);
  g_queue_clear_full (&stream->ready, (GDestroyNotify) gst_clip_labels_result_free);
}

void
gst_tsf_stream_remove (GstTsfStream *stream)
{
  GstTsfScheduler *scheduler = stream->scheduler;

  g_mutex_lock (&scheduler->lock);
  if (!stream->removed) {
    stream->removed = TRUE;
    stream->flushing = TRUE;
    drop_pending (stream);
    g_cond_broadcast (&stream->cond);
    while (stream->in_flight > 0 || stream->posting)
      g_cond_wait (&stream->cond, &scheduler->lock);
    g_queue_unlink (&scheduler->streams, &stream->link);
  }
  g_mutex_unlock (&scheduler->lock);
}

void
gst_tsf_stream_free (GstTsfStream *stream)
{
  if (stream == NULL)
    return;
  gst_tsf_stream_remove (stream);
  g_warn_if_fail (g_queue_is_empty (&stream->done));
  g_warn_if_fail (g_queue_is_empty (&stream->to_post));
  g_queue_clear_full (&stream->ready, (GDestroyNotify) gst_clip_labels_result_free);
  g_free (stream->error);
  g_free (stream->skipped);
  g_cond_clear (&stream->cond);
  g_free (stream);
}

/* Called with the lock held: drops the oldest waiting clips until fewer than max_pending wait. */
static guint
make_room_live (GstTsfStream *stream, guint max_pending, GstTsfClip *dropped)
{
  guint n_dropped = 0;

  while (g_queue_get_length (&stream->waiting) >= max_pending) {
    Job *oldest = g_queue_pop_head (&stream->waiting);

    GST_INFO ("%s: model busy: dropping clip %" G_GUINT64_FORMAT,
        g_quark_to_string (stream->producer), oldest->request.clip_index);
    *dropped = *oldest->clip;
    dropped->data = NULL;  /* only its times are reported */
    job_free (oldest);
    stream->stats.dropped_clips++;
    n_dropped++;
  }
  return n_dropped;
}

GstFlowReturn
gst_tsf_stream_queue_clip (GstTsfStream *stream, GstTsfClip *clip,
    const GstTsfClipRequest *request, guint *n_dropped, GstTsfClip *dropped)
{
  GstTsfScheduler *scheduler = stream->scheduler;
  Job *job = g_new0 (Job, 1);
  guint max_pending = MAX (request->max_pending, 1);

  job->stream = stream;
  job->clip = clip;
  job->request = *request;
  *n_dropped = 0;

  g_mutex_lock (&scheduler->lock);
  if (request->drop)
    *n_dropped = make_room_live (stream, max_pending, dropped);
  while (!stream->flushing && g_queue_get_length (&stream->waiting) >= max_pending)
    g_cond_wait (&stream->cond, &scheduler->lock);
  if (stream->flushing) {
    g_mutex_unlock (&scheduler->lock);
    job_free (job);
    return GST_FLOW_FLUSHING;
  }
  job->generation = stream->generation;
  g_queue_push_tail (&stream->waiting, job);
  g_cond_signal (&scheduler->work);
  g_mutex_unlock (&scheduler->lock);
  return GST_FLOW_OK;
}

GList *
gst_tsf_stream_take_results (GstTsfStream *stream)
{
  GMutex *lock = &stream->scheduler->lock;
  GList *results;

  g_mutex_lock (lock);
  results = stream->ready.head;
  g_queue_init (&stream->ready);
  g_mutex_unlock (lock);
  return results;
}

gboolean
gst_tsf_stream_drain (GstTsfStream *stream)
{
  GMutex *lock = &stream->scheduler->lock;
  gboolean flushing;

  g_mutex_lock (lock);
  while (!stream->flushing && (stream->in_flight > 0 || stream->posting
          || !g_queue_is_empty (&stream->waiting)))
    g_cond_wait (&stream->cond, lock);
  flushing = stream->flushing;
  g_mutex_unlock (lock);
  return !flushing;
}

void
gst_tsf_stream_set_flushing (GstTsfStream *stream, gboolean flushing)
{
  GMutex *lock = &stream->scheduler->lock;

  g_mutex_lock (lock);
  stream->flushing = flushing;
  if (!flushing) {
    stream->generation++;
    drop_pending (stream);
  }
  g_cond_broadcast (&stream->cond);
  g_mutex_unlock (lock);
}

void
gst_tsf_stream_get_stats (GstTsfStream *stream, GstTsfStreamStats *stats)
{
  GMutex *lock = &stream->scheduler->lock;

  g_mutex_lock (lock);
  *stats = stream->stats;
  g_mutex_unlock (lock);
}

gchar *
gst_tsf_stream_dup_error (GstTsfStream *stream)
{
  GMutex *lock = &stream->scheduler->lock;
  gchar *error;

  g_mutex_lock (lock);
  error = g_strdup (stream->error);
  g_mutex_unlock (lock);
  return error;
}

gchar *
gst_tsf_stream_take_skipped (GstTsfStream *stream, guint *n_skipped)
{
  GMutex *lock = &stream->scheduler->lock;
  gchar *skipped;

  g_mutex_lock (lock);
  skipped = g_steal_pointer (&stream->skipped);
  *n_skipped = stream->unreported_skips;
  stream->unreported_skips = 0;
  g_mutex_unlock (lock);
  return skipped;
}
