/* gsttsfsampler.h: cuts clips out of a video stream and preprocesses their frames for the model
 * (internal to the timesformer element; used from the streaming thread only).
 *
 * Frames are sampled into slots: by time, slot n holds the frame whose timestamp is nearest to
 * n intervals after the window's first frame (a frame that skips slots fills them too); by
 * counting, every frame_stride-th frame is the next slot. A clip is num_frames consecutive
 * slots; a new clip starts every clip_hop slots. Only sampled frames that belong to a clip are
 * read: the region of interest resized by Pillow's bilinear (gsttsfresample.h) and cropped by
 * the model's recipe (gsttsfpreprocess.h), rescaled and normalised into planar floats, RGB or
 * BGR. RGB is resized where it lies; planar 8-bit YUV plane by plane, then the window converted
 * (GstVideoConverter's matrix, measured per caps); other formats after GstVideoConverter
 * decodes the whole frame to RGB. */
#pragma once

#include <gst/video/video.h>

#include "gsttsfpreprocess.h"
#include "timesformer.h"

G_BEGIN_DECLS

typedef struct {
  gfloat *data;              /* frames x channels x height x width, normalised */
  TsfClipShape shape;
  GstClockTime first_pts;    /* of the first and last sampled frame */
  GstClockTime last_pts;
  GstClockTime first_running_time;
  GstClockTime last_running_time;
  guint real_frames;         /* frames from the stream; the rest repeat the last (at EOS) */
} GstTsfClip;

void gst_tsf_clip_free (GstTsfClip *clip);

typedef enum {
  GST_TSF_SAMPLING_TIME,     /* by the buffers' timestamps */
  GST_TSF_SAMPLING_FRAMES,   /* by counting frames */
} GstTsfSamplingMode;

/* Which frames make a clip. */
typedef struct {
  GstTsfSamplingMode mode;
  GstClockTime interval;     /* time: one slot per interval */
  guint frame_stride;        /* frames: every frame_stride-th frame is a slot */
  guint num_frames;          /* slots per clip */
  guint clip_hop;            /* slots from one clip's start to the next */
} GstTsfSampling;

/* The sampling of the model's config (its training sampling, TsfConfig.sampling) under the
 * element's properties: user_stride 0 = the model's (else frames apart at the model's fps),
 * num_frames 0 = the model's, clip_hop 0 = num_frames. */
void gst_tsf_sampling_resolve (const TsfConfig *config, GstTsfSamplingMode mode,
    guint user_stride, guint num_frames, guint clip_hop, GstTsfSampling *sampling);
/* For the log: "by time: 8 frames 0.125 s apart, a clip every 1 s (from the model: 8x3 at 24
 * fps ...)"; free it. */
gchar *gst_tsf_sampling_describe (const GstTsfSampling *sampling, const TsfConfig *config,
    guint user_stride);

typedef struct _GstTsfSampler GstTsfSampler;

/* How a sampled frame becomes the model's input, besides the model's recipe. */
typedef struct {
  GstTsfFit fit;             /* the recipe's centre crop, or the whole region */
  gboolean bgr;              /* the model takes BGR: its channel 0 is blue */
} GstTsfFrameOptions;

/* The preprocessing recipe comes from the model's config; options NULL: the recipe, RGB. */
GstTsfSampler *gst_tsf_sampler_new (const TsfConfig *config, const GstTsfSampling *sampling,
    const GstTsfFrameOptions *options);
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

/* Takes one input frame. Returns the clips this frame completes, oldest first (usually none or
 * one; free each with gst_tsf_clip_free), or NULL: no clip completed, or an error (then *error
 * is set). */
GList *gst_tsf_sampler_push (GstTsfSampler *sampler, GstBuffer *buffer,
    GstClockTime running_time, GError **error);

/* At the end of the stream: the oldest clip that has started but is not complete, its missing
 * slots filled with its last sampled frame (real_frames says how many were sampled), or NULL
 * when no clip has a sampled frame waiting (or no memory for it: a warning in the log). Then
 * forgets the frames, as a reset. */
GstTsfClip *gst_tsf_sampler_finish (GstTsfSampler *sampler);

G_END_DECLS
