/* gsttsfsampler.h: cuts clips out of a video stream and preprocesses their frames for the model
 * (internal to the timesformer element; used from the streaming thread only).
 *
 * Every frame_stride-th frame is sampled; a clip is num_frames consecutive sampled frames; a new
 * clip starts every clip_hop sampled frames. Only sampled frames that belong to a clip are
 * converted: the region of interest resized and cropped by the model's recipe
 * (gsttsfpreprocess.h), RGB, rescaled and normalised into planar floats. */
#pragma once

#include <gst/video/video.h>

#include "timesformer.h"

G_BEGIN_DECLS

typedef struct {
  gfloat *data;              /* frames x channels x height x width, normalised */
  TsfClipShape shape;
  GstClockTime first_pts;    /* of the first and last sampled frame */
  GstClockTime last_pts;
  GstClockTime first_running_time;
  GstClockTime last_running_time;
} GstTsfClip;

void gst_tsf_clip_free (GstTsfClip *clip);

typedef struct _GstTsfSampler GstTsfSampler;

/* The preprocessing recipe comes from the model's config; clip_hop 0 means num_frames. */
GstTsfSampler *gst_tsf_sampler_new (const TsfConfig *config, guint frame_stride,
    guint num_frames, guint clip_hop);
void gst_tsf_sampler_free (GstTsfSampler *sampler);
/* Most bytes of the window of sampled frames (one clip), checked by set_info before it
 * allocates (default: no bound). */
void gst_tsf_sampler_set_max_window_bytes (GstTsfSampler *sampler, guint64 max_bytes);

/* The shape of the clips this sampler cuts (height and width 0 before set_info). */
const TsfClipShape *gst_tsf_sampler_get_shape (const GstTsfSampler *sampler);

/* New input format; `roi` must lie inside the frame. Resets the window; the clips' frame size
 * is the recipe's for this ROI. FALSE if the recipe cannot be applied to it. */
gboolean gst_tsf_sampler_set_info (GstTsfSampler *sampler, const GstVideoInfo *info,
    const GstVideoRectangle *roi, GError **error);

/* Forgets the frames seen so far (flush, caps change). */
void gst_tsf_sampler_reset (GstTsfSampler *sampler);

/* Takes one input frame. Returns the clip this frame completes (free it with
 * gst_tsf_clip_free), or NULL: no clip completed, or an error (then *error is set). */
GstTsfClip *gst_tsf_sampler_push (GstTsfSampler *sampler, GstBuffer *buffer,
    GstClockTime running_time, GError **error);

G_END_DECLS
