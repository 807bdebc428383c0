/* gsttsfworker.c: the clip queue and the inference thread of one timesformer element. */
#include "gsttsfworker.h"

GST_DEBUG_CATEGORY_STATIC (gst_tsf_worker_debug);
#define GST_CAT_DEFAULT gst_tsf_worker_debug

/* One clip waiting for, or in, the worker. */
typedef struct {
  GstTsfClip *clip;
  GstTsfClipRequest request;
  guint generation;
} Job;

struct _GstTsfWorker {
  TsfModel *model;             /* used by the thread only */
  GQuark model_name;
  GQuark producer;
  GstTsfWorkerResultFunc on_result;
  gpointer user_data;
  GThread *thread;

  GMutex lock;                 /* guards what follows */
  GCond cond;                  /* signalled when a job is queued or finished, on flush, on stop */
  gboolean stop;               /* the thread exits */
  gboolean flushing;           /* waits return at once */
  GQueue waiting;              /* Job, oldest first */
  gboolean busy;               /* the thread runs a job (and has not yet reported it) */
  guint generation;            /* bumped by flushes: results of older jobs are discarded */
  GQueue ready;                /* GstClipLabelsResult not yet taken */
  gchar *error;                /* the first inference failure */
  GstTsfWorkerStats stats;
};

static void
job_free (Job *job)
{
  gst_tsf_clip_free (job->clip);
  g_free (job);
}

/* ---- the thread ---- */

/* The best labels above the threshold, with the clip's times. */
static GstClipLabelsResult *
make_result (GstTsfWorker *worker, const Job *job, const TsfPrediction *best, guint n_best)
{
  GstClipLabelsResult *result = gst_clip_labels_result_new ();
  guint i;

  result->model = worker->model_name;
  result->producer = worker->producer;
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

static GstClipLabelsResult *
run_job (GstTsfWorker *worker, const Job *job, GError **error)
{
  guint num_labels = tsf_model_get_config (worker->model)->num_labels;
  gfloat *logits = g_new (gfloat, num_labels);
  TsfPrediction *best = g_new (TsfPrediction, MIN (job->request.top_k, num_labels));
  GstClipLabelsResult *result = NULL;

  if (tsf_model_run (worker->model, job->clip->data, &job->clip->shape, logits, error)) {
    guint n_best = tsf_model_top_k (worker->model, logits, job->request.top_k, best);

    result = make_result (worker, job, best, n_best);
  }
  g_free (best);
  g_free (logits);
  return result;
}

/* Called with the lock held. */
static void
record_job_done (GstTsfWorker *worker, gint64 start_us, const GError *error)
{
  if (error != NULL) {
    if (worker->error == NULL)
      worker->error = g_strdup (error->message);
    return;
  }
  worker->stats.clips_processed++;
  worker->stats.inference_ms_total += (g_get_monotonic_time () - start_us) / 1000.0;
}

static void
process_job (GstTsfWorker *worker, const Job *job)
{
  gint64 start_us = g_get_monotonic_time ();
  GError *error = NULL;
  GstClipLabelsResult *result = run_job (worker, job, &error);
  GstClipLabelsResult *kept = NULL;

  g_mutex_lock (&worker->lock);
  record_job_done (worker, start_us, error);
  if (result != NULL && job->generation == worker->generation) {
    kept = gst_clip_labels_result_copy (result);
    g_queue_push_tail (&worker->ready, kept);
  }
  g_mutex_unlock (&worker->lock);

  if (kept != NULL) {
    GST_DEBUG ("%s: clip %" G_GUINT64_FORMAT " classified in %.1f ms",
        g_quark_to_string (worker->producer), job->request.clip_index,
        (g_get_monotonic_time () - start_us) / 1000.0);
    worker->on_result (result, worker->user_data);
  }
  gst_clip_labels_result_free (result);
  g_clear_error (&error);
}

static gpointer
worker_main (gpointer data)
{
  GstTsfWorker *worker = data;

  g_mutex_lock (&worker->lock);
  while (!worker->stop) {
    Job *job = g_queue_pop_head (&worker->waiting);

    if (job == NULL) {
      g_cond_wait (&worker->cond, &worker->lock);
      continue;
    }
    worker->busy = TRUE;
    g_mutex_unlock (&worker->lock);

    process_job (worker, job);
    job_free (job);

    g_mutex_lock (&worker->lock);
    /* Not busy only once the result is kept and reported: drain waits for this. */
    worker->busy = FALSE;
    g_cond_broadcast (&worker->cond);
  }
  g_mutex_unlock (&worker->lock);
  return NULL;
}

GstTsfWorker *
gst_tsf_worker_new (TsfModel *model, const gchar *producer, GstTsfWorkerResultFunc on_result,
    gpointer user_data)
{
  GstTsfWorker *worker = g_new0 (GstTsfWorker, 1);

  GST_DEBUG_CATEGORY_INIT (gst_tsf_worker_debug, "timesformerworker", 0,
      "timesformer's clip queue and inference thread");
  worker->model = model;
  worker->model_name = g_quark_from_string (tsf_model_get_name (model));
  worker->producer = g_quark_from_string (producer);
  worker->on_result = on_result;
  worker->user_data = user_data;
  g_mutex_init (&worker->lock);
  g_cond_init (&worker->cond);
  g_queue_init (&worker->waiting);
  g_queue_init (&worker->ready);
  worker->thread = g_thread_new ("timesformer", worker_main, worker);
  return worker;
}

/* Called with the lock held. */
static void
clear_queues (GstTsfWorker *worker)
{
  g_queue_clear_full (&worker->waiting, (GDestroyNotify) job_free);
  g_queue_clear_full (&worker->ready, (GDestroyNotify) gst_clip_labels_result_free);
}

void
gst_tsf_worker_free (GstTsfWorker *worker)
{
  if (worker == NULL)
    return;
  g_mutex_lock (&worker->lock);
  worker->stop = TRUE;
  g_cond_broadcast (&worker->cond);
  g_mutex_unlock (&worker->lock);
  g_thread_join (worker->thread);

  clear_queues (worker);
  g_free (worker->error);
  g_mutex_clear (&worker->lock);
  g_cond_clear (&worker->cond);
  g_free (worker);
}

/* ---- the element's side ---- */

/* Called with the lock held: drops the oldest waiting clips until fewer than max_pending wait. */
static guint
make_room_live (GstTsfWorker *worker, guint max_pending, GstTsfClip *dropped)
{
  guint n_dropped = 0;

  while (g_queue_get_length (&worker->waiting) >= max_pending) {
    Job *oldest = g_queue_pop_head (&worker->waiting);

    GST_INFO ("%s: worker busy: dropping clip %" G_GUINT64_FORMAT,
        g_quark_to_string (worker->producer), oldest->request.clip_index);
    *dropped = *oldest->clip;
    dropped->data = NULL;  /* only its times are reported */
    job_free (oldest);
    worker->stats.dropped_clips++;
    n_dropped++;
  }
  return n_dropped;
}

GstFlowReturn
gst_tsf_worker_queue_clip (GstTsfWorker *worker, GstTsfClip *clip,
    const GstTsfClipRequest *request, guint *n_dropped, GstTsfClip *dropped)
{
  Job *job = g_new0 (Job, 1);
  guint max_pending = MAX (request->max_pending, 1);

  job->clip = clip;
  job->request = *request;
  *n_dropped = 0;

  g_mutex_lock (&worker->lock);
  if (request->drop)
    *n_dropped = make_room_live (worker, max_pending, dropped);
  while (!worker->flushing && g_queue_get_length (&worker->waiting) >= max_pending)
    g_cond_wait (&worker->cond, &worker->lock);
  if (worker->flushing) {
    g_mutex_unlock (&worker->lock);
    job_free (job);
    return GST_FLOW_FLUSHING;
  }
  job->generation = worker->generation;
  g_queue_push_tail (&worker->waiting, job);
  g_cond_broadcast (&worker->cond);
  g_mutex_unlock (&worker->lock);
  return GST_FLOW_OK;
}

GList *
gst_tsf_worker_take_results (GstTsfWorker *worker)
{
  GList *results;

  g_mutex_lock (&worker->lock);
  results = worker->ready.head;
  g_queue_init (&worker->ready);
  g_mutex_unlock (&worker->lock);
  return results;
}

gboolean
gst_tsf_worker_drain (GstTsfWorker *worker)
{
  gboolean flushing;

  g_mutex_lock (&worker->lock);
  while (!worker->flushing && (worker->busy || !g_queue_is_empty (&worker->waiting)))
    g_cond_wait (&worker->cond, &worker->lock);
  flushing = worker->flushing;
  g_mutex_unlock (&worker->lock);
  return !flushing;
}

void
gst_tsf_worker_set_flushing (GstTsfWorker *worker, gboolean flushing)
{
  g_mutex_lock (&worker->lock);
  worker->flushing = flushing;
  if (!flushing) {
    worker->generation++;
    clear_queues (worker);
  }
  g_cond_broadcast (&worker->cond);
  g_mutex_unlock (&worker->lock);
}

void
gst_tsf_worker_get_stats (GstTsfWorker *worker, GstTsfWorkerStats *stats)
{
  g_mutex_lock (&worker->lock);
  *stats = worker->stats;
  g_mutex_unlock (&worker->lock);
}

gchar *
gst_tsf_worker_dup_error (GstTsfWorker *worker)
{
  gchar *error;

  g_mutex_lock (&worker->lock);
  error = g_strdup (worker->error);
  g_mutex_unlock (&worker->lock);
  return error;
}
