/* gsttsfworker.h: the clip queue and the inference thread of one timesformer element (internal).
 *
 * The element's streaming thread queues clips; one worker thread classifies them in order and
 * keeps each result until the element takes it. Live streams drop the oldest waiting clip when
 * more than max_pending wait (the newest clip wins); other streams wait for room. A flush
 * discards what waits and the results of clips classified meanwhile. A shared scheduler will
 * take this unit's place: the element sees only clips in and results out. */
#pragma once

#include <gst/gst.h>

#include "gstcliplabelsmeta.h"
#include "gsttsfsampler.h"
#include "timesformer.h"

G_BEGIN_DECLS

typedef struct _GstTsfWorker GstTsfWorker;

/* Called from the worker thread, with no lock held, for every result kept for the element
 * (before gst_tsf_worker_drain() can return). */
typedef void (*GstTsfWorkerResultFunc) (const GstClipLabelsResult *result, gpointer user_data);

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
  gdouble inference_ms_total; /* time spent classifying them */
} GstTsfWorkerStats;

/* Starts the worker thread. `model` (already prepared for the clips' shape) is used by that
 * thread only, until gst_tsf_worker_free(); results name `producer`. */
GstTsfWorker *gst_tsf_worker_new (TsfModel *model, const gchar *producer,
    GstTsfWorkerResultFunc on_result, gpointer user_data);

/* Stops: waits for the clip being classified, drops the rest, joins the thread. */
void gst_tsf_worker_free (GstTsfWorker *worker);

/* Queues `clip` (taken). Returns GST_FLOW_FLUSHING if a flush interrupted the wait (the clip is
 * dropped), else GST_FLOW_OK. Clips dropped to make room are counted in *n_dropped, the times
 * of the last one in *dropped (its data NULL). */
GstFlowReturn gst_tsf_worker_queue_clip (GstTsfWorker *worker, GstTsfClip *clip,
    const GstTsfClipRequest *request, guint *n_dropped, GstTsfClip *dropped);

/* The results ready so far, oldest first (GstClipLabelsResult; the caller owns the list). */
GList *gst_tsf_worker_take_results (GstTsfWorker *worker);

/* Waits until every queued clip is classified; FALSE if a flush interrupted the wait. */
gboolean gst_tsf_worker_drain (GstTsfWorker *worker);

/* TRUE: waits return at once and queueing fails. FALSE: the end of a flush: clips waiting and
 * results not taken are dropped, and so is the result of the clip being classified. */
void gst_tsf_worker_set_flushing (GstTsfWorker *worker, gboolean flushing);

void gst_tsf_worker_get_stats (GstTsfWorker *worker, GstTsfWorkerStats *stats);

/* The message of the first inference failure, or NULL (free it). */
gchar *gst_tsf_worker_dup_error (GstTsfWorker *worker);

G_END_DECLS
