/* gsttsfsampler.c: the sampling window and the preprocessing of sampled frames. */
#include "gsttsfsampler.h"

#include "gsttsfpreprocess.h"

#include <math.h>
#include <string.h>

#define CHANNELS 3

typedef struct {
  GstClockTime pts;
  GstClockTime running_time;
} SampledTimes;

struct _GstTsfSampler {
  guint frame_stride;
  guint clip_hop;
  TsfClipShape shape;          /* frames = num_frames, channels = 3, height/width: the plan's */
  TsfConfig recipe;            /* the model's preprocessing (labels not copied) */
  gfloat scale[CHANNELS];      /* value = byte * scale[c] + offset[c] */
  gfloat offset[CHANNELS];

  GstVideoInfo in_info;
  GstVideoInfo rgb_info;       /* the model's input size, RGB */
  GstVideoConverter *converter;
  GstBuffer *rgb_buffer;       /* the converter's output */

  guint64 frames_seen;         /* input frames since the last reset */
  guint64 sampled;             /* sampled frames since the last reset */
  gfloat *window;              /* num_frames slots of one preprocessed frame, a ring */
  guint64 max_window_bytes;    /* bound on the window (and so on each clip) */
  SampledTimes *times;         /* the ring's timestamps */
};

static gsize
frame_floats (const TsfClipShape *shape)
{
  return (gsize) shape->channels * shape->height * shape->width;
}

GstTsfSampler *
gst_tsf_sampler_new (const TsfConfig *config, guint frame_stride, guint num_frames,
    guint clip_hop)
{
  GstTsfSampler *sampler = g_new0 (GstTsfSampler, 1);
  guint c;

  sampler->frame_stride = MAX (frame_stride, 1);
  sampler->shape.frames = num_frames > 0 ? num_frames : config->num_frames;
  sampler->clip_hop = clip_hop > 0 ? clip_hop : sampler->shape.frames;
  sampler->shape.channels = CHANNELS;
  sampler->recipe = *config;
  sampler->recipe.labels = NULL;
  for (c = 0; c < CHANNELS; c++) {
    sampler->scale[c] = (gfloat) (config->rescale_factor / config->image_std[c]);
    sampler->offset[c] = -config->image_mean[c] / config->image_std[c];
  }
  sampler->times = g_new0 (SampledTimes, sampler->shape.frames);
  sampler->max_window_bytes = G_MAXUINT64;
  gst_video_info_init (&sampler->in_info);
  return sampler;
}

static void
clear_converter (GstTsfSampler *sampler)
{
  g_clear_pointer (&sampler->converter, gst_video_converter_free);
  gst_clear_buffer (&sampler->rgb_buffer);
}

void
gst_tsf_sampler_free (GstTsfSampler *sampler)
{
  if (sampler == NULL)
    return;
  clear_converter (sampler);
  g_free (sampler->window);
  g_free (sampler->times);
  g_free (sampler);
}

const TsfClipShape *
gst_tsf_sampler_get_shape (const GstTsfSampler *sampler)
{
  return &sampler->shape;
}

void
gst_tsf_sampler_reset (GstTsfSampler *sampler)
{
  sampler->frames_seen = 0;
  sampler->sampled = 0;
}

void
gst_tsf_sampler_set_max_window_bytes (GstTsfSampler *sampler, guint64 max_bytes)
{
  sampler->max_window_bytes = max_bytes;
}

/* The window holds num_frames preprocessed frames of the plan's size; its size (that of a
 * clip) is bounded and checked before it is allocated. */
static gboolean
set_frame_size (GstTsfSampler *sampler, guint width, guint height, GError **error)
{
  guint64 bytes;

  if (sampler->window != NULL && sampler->shape.width == width
      && sampler->shape.height == height)
    return TRUE;
  g_clear_pointer (&sampler->window, g_free);
  sampler->shape.width = width;
  sampler->shape.height = height;
  /* below 2^64: frames <= 4096, channels 3, width and height <= 65536 */
  bytes = (guint64) frame_floats (&sampler->shape) * sampler->shape.frames * sizeof (gfloat);
  if (bytes <= sampler->max_window_bytes
      && (sampler->window = g_try_malloc (bytes)) != NULL)
    return TRUE;
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT, "A clip of %u "
      "frames of %ux%u takes %" G_GUINT64_FORMAT " bytes, more than %s %" G_GUINT64_FORMAT
      " bytes (max-clip-mb)", sampler->shape.frames, width, height, bytes,
      bytes <= sampler->max_window_bytes ? "can be allocated now, or" : "the bound of",
      sampler->max_window_bytes);
  return FALSE;
}

gboolean
gst_tsf_sampler_set_info (GstTsfSampler *sampler, const GstVideoInfo *info,
    const GstVideoRectangle *roi, GError **error)
{
  GstTsfPreprocessPlan plan;
  GstStructure *options;

  clear_converter (sampler);
  gst_tsf_sampler_reset (sampler);
  if (!gst_tsf_preprocess_plan (&sampler->recipe, roi, &plan, error))
    return FALSE;
  if (!set_frame_size (sampler, plan.width, plan.height, error))
    return FALSE;
  sampler->in_info = *info;
  gst_video_info_set_format (&sampler->rgb_info, GST_VIDEO_FORMAT_RGB, sampler->shape.width,
      sampler->shape.height);
  /* The converter wants both sides to agree on what it does not convert. */
  GST_VIDEO_INFO_FPS_N (&sampler->rgb_info) = GST_VIDEO_INFO_FPS_N (info);
  GST_VIDEO_INFO_FPS_D (&sampler->rgb_info) = GST_VIDEO_INFO_FPS_D (info);
  GST_VIDEO_INFO_INTERLACE_MODE (&sampler->rgb_info) = GST_VIDEO_INFO_INTERLACE_MODE (info);

  options = gst_structure_new ("GstVideoConverter",
      GST_VIDEO_CONVERTER_OPT_SRC_X, G_TYPE_INT, plan.source.x,
      GST_VIDEO_CONVERTER_OPT_SRC_Y, G_TYPE_INT, plan.source.y,
      GST_VIDEO_CONVERTER_OPT_SRC_WIDTH, G_TYPE_INT, plan.source.w,
      GST_VIDEO_CONVERTER_OPT_SRC_HEIGHT, G_TYPE_INT, plan.source.h,
      GST_VIDEO_CONVERTER_OPT_DEST_X, G_TYPE_INT, plan.dest.x,
      GST_VIDEO_CONVERTER_OPT_DEST_Y, G_TYPE_INT, plan.dest.y,
      GST_VIDEO_CONVERTER_OPT_DEST_WIDTH, G_TYPE_INT, plan.dest.w,
      GST_VIDEO_CONVERTER_OPT_DEST_HEIGHT, G_TYPE_INT, plan.dest.h,
      GST_VIDEO_CONVERTER_OPT_FILL_BORDER, G_TYPE_BOOLEAN, TRUE,
      GST_VIDEO_CONVERTER_OPT_BORDER_ARGB, G_TYPE_UINT, 0xff000000u,
      GST_VIDEO_CONVERTER_OPT_RESAMPLER_METHOD, GST_TYPE_VIDEO_RESAMPLER_METHOD,
      GST_VIDEO_RESAMPLER_METHOD_LINEAR,
      GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
      GST_VIDEO_DITHER_NONE, NULL);
  sampler->converter = gst_video_converter_new (&sampler->in_info, &sampler->rgb_info, options);
  if (sampler->converter == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "cannot convert %s %dx%d to RGB %ux%u", gst_video_format_to_string
        (GST_VIDEO_INFO_FORMAT (info)), GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info), sampler->shape.width, sampler->shape.height);
    return FALSE;
  }
  sampler->rgb_buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&sampler->rgb_info),
      NULL);
  return TRUE;
}

/* Packed RGB bytes to planar, rescaled, normalised floats. */
static void
normalise_rgb (const GstTsfSampler *sampler, const GstVideoFrame *rgb, gfloat *out)
{
  const guint8 *pixels = GST_VIDEO_FRAME_PLANE_DATA (rgb, 0);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (rgb, 0);
  guint width = sampler->shape.width, height = sampler->shape.height;
  guint x, y, c;

  for (c = 0; c < CHANNELS; c++) {
    gfloat *plane = out + (gsize) c * width * height;

    for (y = 0; y < height; y++) {
      const guint8 *row = pixels + (gsize) y * stride;

      for (x = 0; x < width; x++)
        plane[(gsize) y * width + x] = row[3 * x + c] * sampler->scale[c] + sampler->offset[c];
    }
  }
}

static gboolean
preprocess_frame (GstTsfSampler *sampler, GstBuffer *buffer, gfloat *out, GError **error)
{
  GstVideoFrame in_frame, rgb_frame;

  if (!gst_video_frame_map (&in_frame, &sampler->in_info, buffer, GST_MAP_READ)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "cannot map a %" G_GSIZE_FORMAT "-byte buffer as %s %dx%d",
        gst_buffer_get_size (buffer), GST_VIDEO_INFO_NAME (&sampler->in_info),
        GST_VIDEO_INFO_WIDTH (&sampler->in_info), GST_VIDEO_INFO_HEIGHT (&sampler->in_info));
    return FALSE;
  }
  if (!gst_video_frame_map (&rgb_frame, &sampler->rgb_info, sampler->rgb_buffer,
          GST_MAP_WRITE)) {
    gst_video_frame_unmap (&in_frame);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "cannot map the RGB scratch frame");
    return FALSE;
  }
  gst_video_converter_frame (sampler->converter, &in_frame, &rgb_frame);
  normalise_rgb (sampler, &rgb_frame, out);
  gst_video_frame_unmap (&rgb_frame);
  gst_video_frame_unmap (&in_frame);
  return TRUE;
}

/* Clip k holds sampled frames k*hop .. k*hop + frames - 1. */
static gboolean
sampled_frame_is_in_a_clip (const GstTsfSampler *sampler, guint64 index)
{
  return index % sampler->clip_hop < sampler->shape.frames;
}

static gboolean
sampled_frame_completes_a_clip (const GstTsfSampler *sampler, guint64 index)
{
  guint64 last = sampler->shape.frames - 1;

  return index >= last && (index - last) % sampler->clip_hop == 0;
}

/* The clip ending at sampled frame `last`, copied out of the ring in time order. */
static GstTsfClip *
assemble_clip (const GstTsfSampler *sampler, guint64 last, GError **error)
{
  guint frames = sampler->shape.frames;
  gsize floats = frame_floats (&sampler->shape);
  GstTsfClip *clip;
  guint i;
  gfloat *data = g_try_new (gfloat, floats * frames);

  if (data == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT, "No memory for "
        "a clip of %u frames of %ux%u", frames, sampler->shape.width, sampler->shape.height);
    return NULL;
  }
  clip = g_new0 (GstTsfClip, 1);
  clip->shape = sampler->shape;
  clip->data = data;
  for (i = 0; i < frames; i++) {
    guint slot = (last + 1 + i) % frames;   /* oldest first */

    memcpy (clip->data + i * floats, sampler->window + slot * floats, floats * sizeof (gfloat));
    if (i == 0) {
      clip->first_pts = sampler->times[slot].pts;
      clip->first_running_time = sampler->times[slot].running_time;
    }
  }
  clip->last_pts = sampler->times[last % frames].pts;
  clip->last_running_time = sampler->times[last % frames].running_time;
  return clip;
}

GstTsfClip *
gst_tsf_sampler_push (GstTsfSampler *sampler, GstBuffer *buffer, GstClockTime running_time,
    GError **error)
{
  guint64 frame = sampler->frames_seen++;
  guint64 index;
  guint slot;

  if (frame % sampler->frame_stride != 0)
    return NULL;
  index = sampler->sampled++;
  if (!sampled_frame_is_in_a_clip (sampler, index))
    return NULL;

  slot = index % sampler->shape.frames;
  if (!preprocess_frame (sampler, buffer, sampler->window + slot * frame_floats
          (&sampler->shape), error))
    return NULL;
  sampler->times[slot].pts = GST_BUFFER_PTS (buffer);
  sampler->times[slot].running_time = running_time;

  if (!sampled_frame_completes_a_clip (sampler, index))
    return NULL;
  return assemble_clip (sampler, index, error);
}

void
gst_tsf_clip_free (GstTsfClip *clip)
{
  if (clip == NULL)
    return;
  g_free (clip->data);
  g_free (clip);
}
