/* gsttimesformer.h: the timesformer element, a video clip classifier (see docs/element.md). */
#pragma once

#include <gst/video/gstvideofilter.h>

#include "gsttsfsampler.h"
#include "gsttsfworker.h"
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
  guint max_clip_mb;           /* bound on one clip shape's memory, 0 = half of the RAM */

  /* Set in start(), read-only until stop(). */
  TsfModel *model;             /* used by the worker's thread only while it runs */
  gchar *model_info;           /* the model-info property */
  GstClockTime sync_latency;   /* latency added by sync=true (an inference's duration) */

  /* Streaming thread. */
  GstTsfSampler *sampler;      /* the window of sampled frames, NULL until caps */
  gboolean live_known;         /* upstream liveness was queried */
  gboolean live;               /* upstream is live: clips may be dropped */
  guint64 next_clip_index;     /* index of the next clip cut */

  /* The clip queue and inference thread, from start() to stop(); the pointer and the statistics
   * of the last run are guarded by the object lock. */
  GstTsfWorker *worker;
  GstTsfWorkerStats last_stats; /* the statistics when the worker stopped */
};

GST_ELEMENT_REGISTER_DECLARE (timesformer);

G_END_DECLS
