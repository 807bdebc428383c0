/* gsttsfscheduler.h: one model shared by many timesformer elements, and the inference threads
 * that serve their streams (internal).
 *
 * Elements of one process that name the same model with the same load options (the resolved
 * path, labels file, num-heads, thread budget and sessions) share one GstTsfScheduler: the
 * model is loaded once, and a fixed set of inference threads, each with its own TsfSession of
 * threads_per_session oneDNN threads (sessions x threads_per_session <= the budget), serves
 * every element. The last element to leave frees it. A load that fails fails every element
 * that asked, with the same GError.
 *
 * Each element registers a GstTsfStream. The threads take clips from the streams round-robin,
 * up to max_batch clips of one shape per run when clips are small (a batch: one engine run);
 * a live stream drops its own oldest waiting clip beyond its max_pending (the newest clip
 * wins), other streams wait for room in their own queue. Flushing, draining and removing a
 * stream touch its own clips only. A stream's results are kept, reported and taken in clip
 * order, also when two of its clips run at once.
 *
 * Threads: acquire/release and prepare from the application's thread (an element's start and
 * stop); the stream calls from the element's streaming thread, except get_stats,
 * dup_error and set_flushing (any thread). One lock guards every stream of a scheduler; the
 * result callback is called with no lock held. */
#pragma once

#include <gst/gst.h>

#include "gstcliplabelsmeta.h"
#include "gsttsfsampler.h"
#include "timesformer.h"

G_BEGIN_DECLS

/* Sessions run at once when GstTsfSchedulerOptions.sessions is 0 (docs/performance.md,
 * "Sessions at once": on 2 cores, two 1-thread sessions were faster than one of 2 threads for
 * one stream and as fast for 2-4, at the same CPU per clip). */
#define GST_TSF_SCHEDULER_DEFAULT_SESSIONS 2

/* Clips one session runs at once, from several streams, when GstTsfSchedulerOptions.max_batch
 * is 0, and the work of a clip below which batching pays in the engine (docs/performance.md,
 * "Batching": on the shipped model, 0.04 GFLOP a clip, a batch of 4 costs 14-18% less per
 * clip; from 0.34 GFLOP up, as much or more on sessions of one thread). The default is no
 * batches: through whole pipelines on this machine (preprocessing on the same cores) batches
 * of the shipped model were 1-11% slower for files and dropped more clips of live streams. */
#define GST_TSF_SCHEDULER_DEFAULT_MAX_BATCH 1
#define GST_TSF_SCHEDULER_BATCH_MAX_GFLOP 0.15

typedef struct {
  const gchar *model_path;   /* directory or checkpoint; resolved (symbolic links too) */
  const gchar *labels_file;  /* NULL = the model's labels */
  guint num_heads;           /* 0 = the default (TsfModelOptions) */
  gint threads;              /* oneDNN threads in all, 0 = all cores */
  guint sessions;            /* clips classified at once, 0 = the default; at most `threads` */
  gboolean shared;           /* FALSE: a private model and scheduler, shared with no one */
  TsfPrecision precision;    /* the linear layers' arithmetic (TsfModelOptions) */
  guint64 max_clip_bytes;    /* every session's bound on one clip shape's memory
                              * (TsfSessionOptions), 0 = tsf_default_max_clip_bytes() */
  guint max_batch;           /* clips of one shape a session runs in one pass, from several
                              * streams, when a clip's work is below
                              * GST_TSF_SCHEDULER_BATCH_MAX_GFLOP; 0 = the default, 1 = none */
} GstTsfSchedulerOptions;

typedef struct _GstTsfScheduler GstTsfScheduler;

/* The scheduler of these options, loaded by the first caller (others wait for that load), or
 * NULL with the load's error. Release it with gst_tsf_scheduler_release(). */
GstTsfScheduler *gst_tsf_scheduler_acquire (const GstTsfSchedulerOptions *options,
    GError **error);
/* Every stream of the caller must be removed first. The last release frees the model. */
void gst_tsf_scheduler_release (GstTsfScheduler *scheduler);

/* Read-only while the scheduler is held. */
const TsfModel *gst_tsf_scheduler_get_model (GstTsfScheduler *scheduler);
/* Elements holding this scheduler now. */
guint gst_tsf_scheduler_get_users (GstTsfScheduler *scheduler);
gboolean gst_tsf_scheduler_is_shared (GstTsfScheduler *scheduler);
void gst_tsf_scheduler_get_budget (GstTsfScheduler *scheduler, guint *sessions,
    guint *threads_per_session);
/* Clips per run at most (max_batch resolved), for clips small enough to batch. */
guint gst_tsf_scheduler_get_max_batch (GstTsfScheduler *scheduler);
/* The most clips one run takes for clips of `shape`: max_batch when batching pays for that
 * shape, else 1. */
guint gst_tsf_scheduler_get_batch_limit (GstTsfScheduler *scheduler, const TsfClipShape *shape);
/* Shared schedulers loaded in this process (for tests). */
guint gst_tsf_scheduler_count_shared (void);

/* Every session builds its plans for `shape` (when `prepare`); with `run_time` non-NULL one
 * session also times a run of a clip of zeros of that shape. Runs on the inference threads;
 * waits for them. */
gboolean gst_tsf_scheduler_prepare (GstTsfScheduler *scheduler, const TsfClipShape *shape,
    gboolean prepare, GstClockTime *run_time, GError **error);

/* ---- streams: one per element ---- */

typedef struct _GstTsfStream GstTsfStream;

/* Called from an inference thread, with no lock held, for every result kept for the stream,
 * in clip order (before gst_tsf_stream_drain() can return). */
typedef void (*GstTsfStreamResultFunc) (const GstClipLabelsResult *result, gpointer user_data);

/* How one clip is queued and reported. */
typedef struct {
  guint64 clip_index;        /* the result's clip index */
  guint top_k;               /* labels kept at most, best first */
  gfloat threshold;          /* labels scoring less are not kept */
  guint max_pending;         /* clips that may wait, at least 1 */
  gboolean drop;             /* live: drop the oldest waiting clips instead of waiting */
} GstTsfClipRequest;

typedef struct {
  guint64 clips_processed;   /* clips classified */
  guint64 dropped_clips;     /* clips dropped by the live policy */
  guint64 skipped_clips;     /* clips whose logits were not finite: no result */
  gdouble inference_ms_total; /* time spent classifying them (a batch's shared equally) */
  guint64 clips_batched;     /* of clips_processed, those run in a batch of 2 or more */
} GstTsfStreamStats;

/* A stream whose results name `producer`. */
GstTsfStream *gst_tsf_scheduler_add_stream (GstTsfScheduler *scheduler, const gchar *producer,
    GstTsfStreamResultFunc on_result, gpointer user_data);

/* Takes the stream out of the scheduler: drops its waiting clips and waits for those being
 * classified. Its statistics and error can still be read, until gst_tsf_stream_free(). */
void gst_tsf_stream_remove (GstTsfStream *stream);
/* Removes the stream (if not done yet) and frees it. */
void gst_tsf_stream_free (GstTsfStream *stream);

/* Queues `clip` (taken). Returns GST_FLOW_FLUSHING if a flush interrupted the wait (the clip is
 * dropped), else GST_FLOW_OK. Clips dropped to make room are counted in *n_dropped, the times
 * of the last one in *dropped (its data NULL). */
GstFlowReturn gst_tsf_stream_queue_clip (GstTsfStream *stream, GstTsfClip *clip,
    const GstTsfClipRequest *request, guint *n_dropped, GstTsfClip *dropped);

/* The results ready so far, oldest first (GstClipLabelsResult; the caller owns the list). */
GList *gst_tsf_stream_take_results (GstTsfStream *stream);

/* Waits until every clip of the stream is classified and reported; FALSE if a flush
 * interrupted the wait. */
gboolean gst_tsf_stream_drain (GstTsfStream *stream);

/* TRUE: waits return at once and queueing fails. FALSE: the end of a flush: clips waiting and
 * results not reported or not taken are dropped, and so are the results of clips being
 * classified: no result of before the flush is reported after it. */
void gst_tsf_stream_set_flushing (GstTsfStream *stream, gboolean flushing);

void gst_tsf_stream_get_stats (GstTsfStream *stream, GstTsfStreamStats *stats);

/* The message of the stream's first inference failure, or NULL (free it). Clips whose logits
 * are not finite (TSF_ERROR_NON_FINITE) are no failure: they are skipped. */
gchar *gst_tsf_stream_dup_error (GstTsfStream *stream);

/* Why the latest skipped clip was skipped, or NULL when no clip was skipped since the last
 * call (free it); *n_skipped: the clips skipped since then. */
gchar *gst_tsf_stream_take_skipped (GstTsfStream *stream, guint *n_skipped);

G_END_DECLS
