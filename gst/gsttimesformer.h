/* gsttimesformer.h: the timesformer element, a video clip classifier (see docs/element.md). */
#pragma once

#include <gst/video/gstvideofilter.h>

#include "gsttsfsampler.h"
#include "gsttsfscheduler.h"
#include "timesformer.h"

G_BEGIN_DECLS

#define GST_TYPE_TIMESFORMER (gst_timesformer_get_type ())
G_DECLARE_FINAL_TYPE (GstTimesformer, gst_timesformer, GST, TIMESFORMER, GstVideoFilter)

struct _GstTimesformer {
  GstVideoFilter parent;

  /* Properties (GST_OBJECT_LOCK). */
  gchar *model_path;           /* model directory or checkpoint file */
  GstTsfSamplingMode sampling; /* by timestamps or by counting frames */
  guint frame_stride;          /* frames between sampled frames, 0 = the model's sampling */
  guint num_frames;            /* sampled frames per clip, 0 = the model's */
  guint clip_hop;              /* sampled frames between clip starts, 0 = num_frames */
  gboolean pad_at_eos;         /* classify the incomplete last clip, its last frame repeated */
  guint max_pending;           /* clips that may wait for the worker */
  gboolean sync;               /* wait for each result, attach it to the completing buffer */
  guint top_k;                 /* labels reported per clip */
  gfloat threshold;            /* labels below this score are not reported */
  gint threads;                /* oneDNN threads of the model's scheduler, 0 = all cores */
  guint sessions;              /* clips the scheduler classifies at once, 0 = the default */
  guint max_batch;             /* clips of several streams per engine run, 0 = the default */
  gboolean shared_model;       /* share the model with the elements that name it too */
  guint num_heads;             /* heads of a checkpoint without config.json, 0 = default */
  TsfPrecision precision;      /* of the linear layers */
  gchar *labels_file;          /* one label per line replacing the model's, NULL = keep */
  GstVideoRectangle roi;       /* region to classify; w or h 0 = to the frame's edge */
  GstTsfFit fit;               /* the model's crop, letterbox or stretch */
  gint channel_order;          /* the model's, RGB or BGR (ChannelOrder of the .c) */
  guint max_clip_mb;           /* bound on one clip shape's memory, 0 = half of the RAM */

  /* Set in start(), read-only until stop(); the scheduler pointer is also read by the
   * application's thread under the object lock. */
  GstTsfScheduler *scheduler;  /* the (shared) model and its inference threads */
  const TsfModel *model;       /* the scheduler's model */
  GstStructure *model_info;    /* the model-info property (object lock; kept after stop) */
  GstClockTime sync_latency;   /* latency added by sync=true (an inference's duration) */

  /* Streaming thread. */
  GstTsfSampler *sampler;      /* the window of sampled frames, NULL until caps */
  gboolean live_known;         /* upstream liveness was queried */
  gboolean live;               /* upstream is live: clips may be dropped */
  guint64 next_clip_index;     /* index of the next clip cut */

  /* This element's clips in the scheduler, from start() to stop(); the pointer and the
   * statistics of the last run are guarded by the object lock. */
  GstTsfStream *stream;
  GstTsfStreamStats last_stats; /* the statistics when the stream was removed */
};

GST_ELEMENT_REGISTER_DECLARE (timesformer);

G_END_DECLS
