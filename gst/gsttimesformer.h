/* gsttimesformer.h: the timesformer element, a video clip classifier (see docs/element.md). */
#pragma once

#include <gst/video/gstvideofilter.h>

#include "gsttsfsampler.h"
#include "timesformer.h"

G_BEGIN_DECLS

#define GST_TYPE_TIMESFORMER (gst_timesformer_get_type ())
G_DECLARE_FINAL_TYPE (GstTimesformer, gst_timesformer, GST, TIMESFORMER, GstVideoFilter)

struct _GstTimesformer {
  GstVideoFilter parent;

  /* Properties (GST_OBJECT_LOCK). */
  gchar *model_path;           /* model directory or checkpoint file */
  guint frame_stride;          /* every frame_stride-th frame is sampled */
  guint num_frames;            /* sampled frames per clip, 0 = the model's */
  guint clip_hop;              /* sampled frames between clip starts, 0 = num_frames */
  guint max_pending;           /* clips that may wait for the worker */
  gboolean sync;               /* wait for each result, attach it to the completing buffer */
  guint top_k;                 /* labels reported per clip */
  gfloat threshold;            /* labels below this score are not reported */
  gint threads;                /* oneDNN threads, 0 = all cores */
  guint num_heads;             /* heads of a checkpoint without config.json, 0 = default */
  gchar *labels_file;          /* one label per line replacing the model's, NULL = keep */
  GstVideoRectangle roi;       /* region to classify; w or h 0 = to the frame's edge */

  /* Set in start(), read-only until stop(). */
  TsfModel *model;             /* used by the worker thread only while it runs */
  gchar *model_info;           /* the model-info property */
  GstClockTime sync_latency;   /* latency added by sync=true (an inference's duration) */

  /* Streaming thread. */
  GstTsfSampler *sampler;      /* the window of sampled frames, NULL until caps */
  gboolean live_known;         /* upstream liveness was queried */
  guint64 next_clip_index;     /* index of the next clip cut */

  /* Shared with the worker thread (lock, cond). */
  GMutex lock;
  GCond cond;                  /* signalled when a job is queued or finished, on flush, on stop */
  GThread *worker;
  gboolean worker_stop;        /* the worker exits */
  gboolean flushing;           /* waits in the streaming thread return at once */
  gboolean live;               /* upstream is live: clips may be dropped */
  GQueue waiting;              /* GstTimesformerJob, oldest first */
  gboolean busy;               /* the worker runs a job (and has not yet posted its result) */
  guint generation;            /* bumped by flushes: results of older jobs are discarded */
  GQueue ready;                /* GstClipLabelsResult not yet attached to a buffer */
  gchar *worker_error;         /* the first inference failure, for the streaming thread */
  guint64 clips_processed;
  guint64 dropped_clips;
  gdouble inference_ms_total;  /* sum over clips_processed, for the average */
};

GST_ELEMENT_REGISTER_DECLARE (timesformer);

G_END_DECLS
