/* gsttsfsampler.c: the sampling window and the preprocessing of sampled frames. */
#include "gsttsfsampler.h"

#include "gsttsfpreprocess.h"
#include "gsttsfresample.h"

#include <math.h>
#include <string.h>

#define CHANNELS 3

GST_DEBUG_CATEGORY_STATIC (gst_tsf_sampler_debug);
#define GST_CAT_DEFAULT gst_tsf_sampler_debug

typedef struct {
  GstClockTime pts;
  GstClockTime running_time;
} SampledTimes;

struct _GstTsfSampler {
  GstTsfSampling sampling;
  TsfClipShape shape;          /* frames = num_frames, channels = 3, height/width: the plan's */
  TsfConfig recipe;            /* the model's preprocessing (labels not copied) */
  GstTsfFrameOptions options;
  gfloat scale[CHANNELS];      /* model channel c = byte * scale[c] + offset[c] */
  gfloat offset[CHANNELS];

  GstVideoInfo in_info;
  GstVideoInfo rgb_info;       /* the part of the frame converted to RGB, at its size */
  GstVideoRectangle converted; /* that part, in frame pixels (the whole frame) */
  GstVideoConverter *converter;
  GstBuffer *rgb_buffer;       /* the converter's output */
  GstTsfPreprocessPlan plan;
  GstTsfResampler *resampler;  /* the plan's resize of the region, its window only */
  guint8 *input;               /* the model's input, packed RGB bytes, black around the window */

  guint64 frames_seen;         /* input frames since the last reset */
  guint64 next_slot;           /* slots filled since the last reset */
  GstClockTime origin;         /* time: the timestamp of slot 0 */
  GstClockTime last_time;      /* time: the previous frame's timestamp, NONE after a reset */
  gfloat *window;              /* num_frames slots of one preprocessed frame, a ring */
  guint64 max_window_bytes;    /* bound on the window (and so on each clip) */
  SampledTimes *times;         /* the ring's timestamps */
};

void
gst_tsf_sampling_resolve (const TsfConfig *config, GstTsfSamplingMode mode, guint user_stride,
    guint num_frames, guint clip_hop, GstTsfSampling *sampling)
{
  gdouble fps = tsf_config_get_sampling_fps (config);
  gdouble seconds = user_stride > 0 ? user_stride / fps : tsf_config_get_frame_interval (config);

  sampling->mode = mode;
  sampling->interval = MAX ((GstClockTime) llround (seconds * GST_SECOND), 1);
  sampling->frame_stride = user_stride > 0 ? user_stride : MAX (lround (seconds * fps), 1);
  sampling->num_frames = num_frames > 0 ? num_frames : config->num_frames;
  sampling->clip_hop = clip_hop > 0 ? clip_hop : sampling->num_frames;
}

gchar *
gst_tsf_sampling_describe (const GstTsfSampling *sampling, const TsfConfig *config,
    guint user_stride)
{
  g_autofree gchar *model = tsf_sampling_describe (config);
  g_autofree gchar *source = user_stride > 0 ? g_strdup_printf ("frame-stride=%u; the model: %s",
      user_stride, model) : g_strdup_printf ("the model's: %s", model);

  if (sampling->mode == GST_TSF_SAMPLING_FRAMES)
    return g_strdup_printf ("by counting frames: %u frames, every %u-th frame, a new clip every "
        "%u (%s)", sampling->num_frames, sampling->frame_stride, sampling->clip_hop, source);
  return g_strdup_printf ("by time: %u frames %.3f s apart, a clip of %.3f s, a new clip every "
      "%u (%s)", sampling->num_frames, (gdouble) sampling->interval / GST_SECOND,
      (gdouble) sampling->interval * sampling->num_frames / GST_SECOND, sampling->clip_hop,
      source);
}

static gsize
frame_floats (const TsfClipShape *shape)
{
  return (gsize) shape->channels * shape->height * shape->width;
}

GstTsfSampler *
gst_tsf_sampler_new (const TsfConfig *config, const GstTsfSampling *sampling,
    const GstTsfFrameOptions *options)
{
  GstTsfSampler *sampler = g_new0 (GstTsfSampler, 1);
  guint c;

  GST_DEBUG_CATEGORY_INIT (gst_tsf_sampler_debug, "timesformersampler", 0,
      "timesformer's frame sampling");
  sampler->sampling = *sampling;
  sampler->sampling.frame_stride = MAX (sampling->frame_stride, 1);
  sampler->sampling.interval = MAX (sampling->interval, 1);
  sampler->shape.frames = MAX (sampling->num_frames, 1);
  sampler->sampling.clip_hop = MAX (sampling->clip_hop, 1);
  sampler->shape.channels = CHANNELS;
  sampler->recipe = *config;
  sampler->recipe.labels = NULL;
  if (options != NULL)
    sampler->options = *options;
  for (c = 0; c < CHANNELS; c++) {
    sampler->scale[c] = (gfloat) (config->rescale_factor / config->image_std[c]);
    sampler->offset[c] = -config->image_mean[c] / config->image_std[c];
  }
  sampler->times = g_new0 (SampledTimes, sampler->shape.frames);
  sampler->max_window_bytes = G_MAXUINT64;
  gst_video_info_init (&sampler->in_info);
  gst_tsf_sampler_reset (sampler);
  return sampler;
}

static void
clear_converter (GstTsfSampler *sampler)
{
  g_clear_pointer (&sampler->converter, gst_video_converter_free);
  gst_clear_buffer (&sampler->rgb_buffer);
  g_clear_pointer (&sampler->resampler, gst_tsf_resampler_free);
  g_clear_pointer (&sampler->input, g_free);
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
  sampler->next_slot = 0;
  sampler->origin = GST_CLOCK_TIME_NONE;
  sampler->last_time = GST_CLOCK_TIME_NONE;
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

/* A converter of `rect` of the frame to RGB at its own size. The whole frame: GstVideoConverter
 * converts a part of a YUV frame to other RGB values than the same part of the whole frame (by
 * about 10 of 255 in tests/gst/test_pil_reference.c), and the model must see the frame as
 * decoded. */
static GstVideoConverter *
new_converter (GstTsfSampler *sampler, const GstVideoRectangle *rect)
{
  GstStructure *options;

  gst_video_info_set_format (&sampler->rgb_info, GST_VIDEO_FORMAT_RGB, rect->w, rect->h);
  /* The converter wants both sides to agree on what it does not convert. */
  GST_VIDEO_INFO_FPS_N (&sampler->rgb_info) = GST_VIDEO_INFO_FPS_N (&sampler->in_info);
  GST_VIDEO_INFO_FPS_D (&sampler->rgb_info) = GST_VIDEO_INFO_FPS_D (&sampler->in_info);
  GST_VIDEO_INFO_INTERLACE_MODE (&sampler->rgb_info) =
      GST_VIDEO_INFO_INTERLACE_MODE (&sampler->in_info);
  options = gst_structure_new ("GstVideoConverter",
      GST_VIDEO_CONVERTER_OPT_SRC_X, G_TYPE_INT, rect->x,
      GST_VIDEO_CONVERTER_OPT_SRC_Y, G_TYPE_INT, rect->y,
      GST_VIDEO_CONVERTER_OPT_SRC_WIDTH, G_TYPE_INT, rect->w,
      GST_VIDEO_CONVERTER_OPT_SRC_HEIGHT, G_TYPE_INT, rect->h,
      GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
      GST_VIDEO_DITHER_NONE, NULL);
  return gst_video_converter_new (&sampler->in_info, &sampler->rgb_info, options);
}

gboolean
gst_tsf_sampler_set_info (GstTsfSampler *sampler, const GstVideoInfo *info,
    const GstVideoRectangle *roi, GError **error)
{
  GstTsfPreprocessPlan *plan = &sampler->plan;

  clear_converter (sampler);
  gst_tsf_sampler_reset (sampler);
  if (!gst_tsf_preprocess_plan (&sampler->recipe, sampler->options.fit, roi, plan, error))
    return FALSE;
  if (!set_frame_size (sampler, plan->width, plan->height, error))
    return FALSE;
  sampler->in_info = *info;
  sampler->resampler = gst_tsf_resampler_new (&(GstTsfResize) { CHANNELS, plan->region.w,
      plan->region.h, { 0, 0, plan->region.w, plan->region.h }, plan->resized_width,
      plan->resized_height, plan->window });
  sampler->input = g_new0 (guint8, (gsize) plan->width * plan->height * CHANNELS);
  sampler->converted = (GstVideoRectangle) { 0, 0, GST_VIDEO_INFO_WIDTH (info),
    GST_VIDEO_INFO_HEIGHT (info) };
  if (GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_RGB)
    return TRUE;               /* resized where it lies: no converter */
  sampler->converter = new_converter (sampler, &sampler->converted);
  if (sampler->converter == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "cannot convert %s %dx%d to RGB", gst_video_format_to_string
        (GST_VIDEO_INFO_FORMAT (info)), GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info));
    return FALSE;
  }
  sampler->rgb_buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&sampler->rgb_info),
      NULL);
  return TRUE;
}

/* The model's input bytes (packed RGB) to planar, rescaled, normalised floats in the model's
 * channel order. */
static void
normalise_input (const GstTsfSampler *sampler, gfloat *out)
{
  guint width = sampler->shape.width, height = sampler->shape.height;
  gsize pixels = (gsize) width * height, i;
  guint c;

  for (c = 0; c < CHANNELS; c++) {
    guint source = sampler->options.bgr ? CHANNELS - 1 - c : c;
    gfloat *plane = out + c * pixels;

    for (i = 0; i < pixels; i++)
      plane[i] = sampler->input[i * CHANNELS + source] * sampler->scale[c] + sampler->offset[c];
  }
}

/* The plan's resize of the converted RGB into the model's input. */
static void
resize_into_input (GstTsfSampler *sampler, const GstVideoFrame *rgb)
{
  const GstTsfPreprocessPlan *plan = &sampler->plan;
  gsize in_stride = GST_VIDEO_FRAME_PLANE_STRIDE (rgb, 0), out_stride = plan->width * CHANNELS;
  const guint8 *in = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (rgb, 0)
      + (plan->region.y - sampler->converted.y) * in_stride
      + (plan->region.x - sampler->converted.x) * CHANNELS;
  gst_tsf_resampler_run (sampler->resampler, in, in_stride, sampler->input
      + plan->dest_y * out_stride + plan->dest_x * CHANNELS, out_stride);
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
  if (sampler->converter == NULL) {
    resize_into_input (sampler, &in_frame);
    normalise_input (sampler, out);
    gst_video_frame_unmap (&in_frame);
    return TRUE;
  }
  if (!gst_video_frame_map (&rgb_frame, &sampler->rgb_info, sampler->rgb_buffer,
          GST_MAP_WRITE)) {
    gst_video_frame_unmap (&in_frame);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "cannot map the RGB scratch frame");
    return FALSE;
  }
  gst_video_converter_frame (sampler->converter, &in_frame, &rgb_frame);
  resize_into_input (sampler, &rgb_frame);
  normalise_input (sampler, out);
  gst_video_frame_unmap (&rgb_frame);
  gst_video_frame_unmap (&in_frame);
  return TRUE;
}

/* Clip k holds slots k*hop .. k*hop + frames - 1. */
static gboolean
slot_is_in_a_clip (const GstTsfSampler *sampler, guint64 slot)
{
  return slot % sampler->sampling.clip_hop < sampler->shape.frames;
}

static gboolean
slot_completes_a_clip (const GstTsfSampler *sampler, guint64 slot)
{
  guint64 last = sampler->shape.frames - 1;

  return slot >= last && (slot - last) % sampler->sampling.clip_hop == 0;
}

/* The clip ending at slot `last`, copied out of the ring in time order. */
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
  clip->real_frames = frames;
  clip->data = data;
  for (i = 0; i < frames; i++) {
    guint slot = (last + 1 + i) % frames;   /* oldest first */

    memcpy (clip->data + i * floats, sampler->window + slot * floats, floats * sizeof (gfloat));
  }
  clip->first_pts = sampler->times[(last + 1) % frames].pts;
  clip->first_running_time = sampler->times[(last + 1) % frames].running_time;
  clip->last_pts = sampler->times[last % frames].pts;
  clip->last_running_time = sampler->times[last % frames].running_time;
  return clip;
}

/* An input frame's duration: by the caps' rate, else the buffer's, else one interval. */
static GstClockTime
frame_duration (const GstTsfSampler *sampler, GstBuffer *buffer)
{
  gint fps_n = GST_VIDEO_INFO_FPS_N (&sampler->in_info);
  gint fps_d = GST_VIDEO_INFO_FPS_D (&sampler->in_info);

  if (fps_n > 0 && fps_d > 0)
    return gst_util_uint64_scale (GST_SECOND, fps_d, fps_n);
  if (GST_BUFFER_DURATION_IS_VALID (buffer) && GST_BUFFER_DURATION (buffer) > 0)
    return GST_BUFFER_DURATION (buffer);
  return sampler->sampling.interval;
}

/* The frame's timestamp; a frame without one comes one frame duration after the previous. */
static GstClockTime
frame_time (const GstTsfSampler *sampler, GstBuffer *buffer)
{
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    return GST_BUFFER_PTS (buffer);
  return GST_CLOCK_TIME_IS_VALID (sampler->last_time)
      ? sampler->last_time + frame_duration (sampler, buffer) : 0;
}

/* Time: slot n takes the first frame from half a frame (at most half an interval) before its
 * time n x interval on: the nearest frame of a steady stream. -1 when the frame falls in a
 * slot already filled. Times going backwards, or a hole longer than a clip, start afresh. */
static gint64
slot_by_time (GstTsfSampler *sampler, GstBuffer *buffer)
{
  GstClockTime interval = sampler->sampling.interval;
  GstClockTime time = frame_time (sampler, buffer);
  GstClockTime early = MIN (frame_duration (sampler, buffer), interval) / 2;
  guint64 slot;

  if (GST_CLOCK_TIME_IS_VALID (sampler->last_time) && time < sampler->last_time) {
    GST_DEBUG ("timestamps went back from %" GST_TIME_FORMAT " to %" GST_TIME_FORMAT
        ": sampling afresh", GST_TIME_ARGS (sampler->last_time), GST_TIME_ARGS (time));
    gst_tsf_sampler_reset (sampler);
  }
  sampler->last_time = time;
  if (!GST_CLOCK_TIME_IS_VALID (sampler->origin))
    sampler->origin = time;
  slot = (time - sampler->origin + early - 1) / interval;   /* a tie: the earlier slot */
  if (sampler->next_slot > 0 && slot >= sampler->next_slot + sampler->shape.frames) {
    GST_DEBUG ("no frame for %" G_GUINT64_FORMAT " slots: sampling afresh",
        slot - sampler->next_slot);
    sampler->next_slot = 0;
    sampler->origin = time;
    slot = 0;
  }
  return slot >= sampler->next_slot ? (gint64) slot : -1;
}

/* Frames: every frame_stride-th frame is the next slot, else -1. */
static gint64
slot_by_count (GstTsfSampler *sampler)
{
  guint64 frame = sampler->frames_seen++;

  return frame % sampler->sampling.frame_stride == 0 ? (gint64) sampler->next_slot : -1;
}

/* The slots from next_slot to `last` get this frame; the clips they complete are appended. */
static gboolean
fill_slots (GstTsfSampler *sampler, guint64 last, GstBuffer *buffer, GstClockTime running_time,
    GList **clips, GError **error)
{
  gsize floats = frame_floats (&sampler->shape);
  gfloat *converted = NULL;
  guint64 slot;

  for (slot = sampler->next_slot; slot <= last; slot++) {
    guint ring = slot % sampler->shape.frames;

    if (!slot_is_in_a_clip (sampler, slot))
      continue;
    if (converted == NULL) {
      converted = sampler->window + ring * floats;
      if (!preprocess_frame (sampler, buffer, converted, error))
        return FALSE;
    } else {
      memcpy (sampler->window + ring * floats, converted, floats * sizeof (gfloat));
    }
    sampler->times[ring].pts = GST_BUFFER_PTS (buffer);
    sampler->times[ring].running_time = running_time;
    if (slot_completes_a_clip (sampler, slot)) {
      GstTsfClip *clip = assemble_clip (sampler, slot, error);

      if (clip == NULL)
        return FALSE;
      *clips = g_list_append (*clips, clip);
    }
  }
  sampler->next_slot = last + 1;
  return TRUE;
}

GList *
gst_tsf_sampler_push (GstTsfSampler *sampler, GstBuffer *buffer, GstClockTime running_time,
    GError **error)
{
  GList *clips = NULL;
  gint64 slot = sampler->sampling.mode == GST_TSF_SAMPLING_TIME
      ? slot_by_time (sampler, buffer) : slot_by_count (sampler);

  if (slot < 0)
    return NULL;
  if (!fill_slots (sampler, slot, buffer, running_time, &clips, error)) {
    g_list_free_full (clips, (GDestroyNotify) gst_tsf_clip_free);
    return NULL;
  }
  return clips;
}

/* Fills the ring slots after the clip's last sampled one with it, up to its end. */
static guint64
pad_clip (GstTsfSampler *sampler, guint64 start)
{
  gsize floats = frame_floats (&sampler->shape);
  guint64 last = sampler->next_slot - 1, end = start + sampler->shape.frames - 1, slot;
  guint from = last % sampler->shape.frames;

  for (slot = last + 1; slot <= end; slot++) {
    guint to = slot % sampler->shape.frames;

    memcpy (sampler->window + to * floats, sampler->window + from * floats,
        floats * sizeof (gfloat));
    sampler->times[to] = sampler->times[from];
  }
  return end;
}

GstTsfClip *
gst_tsf_sampler_finish (GstTsfSampler *sampler)
{
  guint64 hop = sampler->sampling.clip_hop, frames = sampler->shape.frames;
  guint64 next = sampler->next_slot, start;
  GstTsfClip *clip;
  GError *error = NULL;

  /* the first clip not yet complete: k = (next - frames) / hop + 1 once one is complete */
  start = next >= frames ? ((next - frames) / hop + 1) * hop : 0;
  if (next == 0 || start >= next || sampler->window == NULL) {
    gst_tsf_sampler_reset (sampler);
    return NULL;
  }
  clip = assemble_clip (sampler, pad_clip (sampler, start), &error);
  if (clip == NULL) {
    GST_WARNING ("EOS: %s; the last clip is not classified", error->message);
    g_clear_error (&error);
  } else {
    clip->real_frames = next - start;
  }
  gst_tsf_sampler_reset (sampler);
  return clip;
}

void
gst_tsf_clip_free (GstTsfClip *clip)
{
  if (clip == NULL)
    return;
  g_free (clip->data);
  g_free (clip);
}
