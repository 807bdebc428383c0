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
  guint8 *rgb_window;          /* BGR, RGBx ...: the window resized in the frame's own pixels */
  GstTsfResampler *planes[GST_VIDEO_MAX_PLANES];  /* YUV: each plane resized as it is */
  guint8 *resized_planes[GST_VIDEO_MAX_PLANES];   /* their windows, packed */
  guint plane_channels[GST_VIDEO_MAX_PLANES];     /* bytes per pixel of each plane */
  gfloat yuv_to_rgb[CHANNELS][4];  /* YUV: R, G, B bytes = matrix x (Y, U, V, 1) */

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

/* Under a lock: the streaming threads of several elements make their first samplers at once
 * (GST_DEBUG_CATEGORY_INIT's store raced: tsan-first-use-sampler). */
static void
init_debug_category (void)
{
  static GMutex lock;

  g_mutex_lock (&lock);
  GST_DEBUG_CATEGORY_INIT (gst_tsf_sampler_debug, "timesformersampler", 0,
      "timesformer's frame sampling");
  g_mutex_unlock (&lock);
}

GstTsfSampler *
gst_tsf_sampler_new (const TsfConfig *config, const GstTsfSampling *sampling,
    const GstTsfFrameOptions *options)
{
  GstTsfSampler *sampler = g_new0 (GstTsfSampler, 1);
  guint c;

  init_debug_category ();
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
  g_clear_pointer (&sampler->rgb_window, g_free);
  for (guint p = 0; p < GST_VIDEO_MAX_PLANES; p++) {
    g_clear_pointer (&sampler->planes[p], gst_tsf_resampler_free);
    g_clear_pointer (&sampler->resized_planes[p], g_free);
  }
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

/* Bytes per pixel of a progressive format of 8-bit R, G, B in one plane without alpha (RGB,
 * BGR, RGBx, BGRx, xRGB, xBGR): resized where it lies; else 0. */
static guint
rgb_pixel_bytes (const GstVideoInfo *info)
{
  const GstVideoFormatInfo *finfo = info->finfo;

  if (!GST_VIDEO_FORMAT_INFO_IS_RGB (finfo) || GST_VIDEO_FORMAT_INFO_HAS_ALPHA (finfo)
      || GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo) || GST_VIDEO_FORMAT_INFO_IS_TILED (finfo)
      || GST_VIDEO_FORMAT_INFO_N_PLANES (finfo) != 1
      || GST_VIDEO_INFO_INTERLACE_MODE (info) != GST_VIDEO_INTERLACE_MODE_PROGRESSIVE)
    return 0;
  for (guint c = 0; c < 3; c++)
    if (GST_VIDEO_FORMAT_INFO_DEPTH (finfo, c) != 8 || GST_VIDEO_FORMAT_INFO_SHIFT (finfo, c) != 0)
      return 0;
  return GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, 0);
}

/* A format whose planes are images of interleaved Y, U, V bytes (I420, YV12, NV12, NV21, Y444
 * ...): resized plane by plane before conversion (see docs/element.md, "Preprocessing"). */
static gboolean
resizes_in_yuv (const GstVideoInfo *info)
{
  const GstVideoFormatInfo *finfo = info->finfo;

  if (!GST_VIDEO_FORMAT_INFO_IS_YUV (finfo) || GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo) != 3
      || GST_VIDEO_FORMAT_INFO_IS_TILED (finfo)
      || GST_VIDEO_INFO_INTERLACE_MODE (info) != GST_VIDEO_INTERLACE_MODE_PROGRESSIVE)
    return FALSE;
  for (guint c = 0; c < 3; c++) {
    guint in_plane = 0;

    for (guint d = 0; d < 3; d++) {
      if (finfo->plane[d] != finfo->plane[c])
        continue;
      in_plane++;
      if (finfo->w_sub[d] != finfo->w_sub[c] || finfo->h_sub[d] != finfo->h_sub[c])
        return FALSE;
    }
    if (finfo->depth[c] != 8 || finfo->pixel_stride[c] != (gint) in_plane
        || finfo->poffset[c] >= (guint) in_plane)
      return FALSE;
  }
  return TRUE;
}

/* Luma position `at` in the plane's pixels: its samples sit every 2^sub luma pixels, at the first
 * (cosited) or between them. */
static gdouble
plane_position (gdouble at, guint sub, gboolean cosited)
{
  gdouble factor = 1 << sub, shift = cosited ? 0 : (factor - 1) / 2;

  return (at - 0.5 - shift) / factor + 0.5;
}

#define PROBE_BLOCKS 4          /* probe frame: PROBE_BLOCKS^2 flat blocks of 8x8 */

/* Solves the 4x4 system a x = b in place (Gauss-Jordan; a is well conditioned here). */
static void
solve4 (gdouble a[4][4], gdouble b[4])
{
  for (guint k = 0; k < 4; k++)
    for (guint i = 0; i < 4; i++) {
      gdouble f = a[i][k] / a[k][k];

      if (i == k)
        continue;
      for (guint j = 0; j < 4; j++)
        a[i][j] -= f * a[k][j];
      b[i] -= f * b[k];
    }
  for (guint k = 0; k < 4; k++)
    b[k] /= a[k][k];
}

/* The YUV to RGB matrix GstVideoConverter applies for these caps (their matrix and range, in its
 * own fixed point: Y 235 decodes to 253), measured on flat colours of a small probe frame and
 * fitted by least squares. TRUE if it could convert. */
static gboolean
set_yuv_matrix (GstTsfSampler *sampler, const GstVideoInfo *info)
{
  static const guint8 ys[] = { 60, 110, 160, 200 }, us[] = { 100, 128, 150, 120 };
  static const guint8 vs[] = { 110, 150, 128, 100 };
  GstVideoInfo in = *info, rgb;
  gint size = PROBE_BLOCKS * 8;
  GstVideoConverter *converter;
  GstVideoFrame yuv_frame, rgb_frame;
  GstBuffer *yuv_buffer, *rgb_buffer;
  gdouble ata[CHANNELS][4][4] = { { { 0 } } }, atb[CHANNELS][4] = { { 0 } };

  gst_video_info_set_format (&in, GST_VIDEO_INFO_FORMAT (info), size, size);
  in.colorimetry = info->colorimetry;
  in.chroma_site = info->chroma_site;
  gst_video_info_set_format (&rgb, GST_VIDEO_FORMAT_RGB, size, size);
  converter = gst_video_converter_new (&in, &rgb, gst_structure_new ("GstVideoConverter",
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
          GST_VIDEO_DITHER_NONE, NULL));
  if (converter == NULL)
    return FALSE;
  yuv_buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&in), NULL);
  rgb_buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&rgb), NULL);
  gst_video_frame_map (&yuv_frame, &in, yuv_buffer, GST_MAP_WRITE);
  gst_video_frame_map (&rgb_frame, &rgb, rgb_buffer, GST_MAP_WRITE);
  for (guint c = 0; c < 3; c++)
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&yuv_frame, c); y++)
      for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&yuv_frame, c); x++) {
        guint bx = x * PROBE_BLOCKS / GST_VIDEO_FRAME_COMP_WIDTH (&yuv_frame, c);
        guint by = y * PROBE_BLOCKS / GST_VIDEO_FRAME_COMP_HEIGHT (&yuv_frame, c);
        const guint8 *values = c == 0 ? ys : c == 1 ? us : vs;

        ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (&yuv_frame, c))[y
            * GST_VIDEO_FRAME_COMP_STRIDE (&yuv_frame, c) + x
            * GST_VIDEO_FRAME_COMP_PSTRIDE (&yuv_frame, c)] = values[c == 0 ? bx : (bx + by) % 4];
      }
  gst_video_converter_frame (converter, &yuv_frame, &rgb_frame);
  for (guint by = 0; by < PROBE_BLOCKS; by++)
    for (guint bx = 0; bx < PROBE_BLOCKS; bx++) {
      gdouble row[4] = { ys[bx], us[(bx + by) % 4], vs[(bx + by) % 4], 1 };
      const guint8 *pixel = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&rgb_frame, 0)
          + (by * 8 + 4) * GST_VIDEO_FRAME_PLANE_STRIDE (&rgb_frame, 0) + (bx * 8 + 4) * 3;

      for (guint c = 0; c < CHANNELS; c++)
        for (guint i = 0; i < 4; i++) {
          for (guint j = 0; j < 4; j++)
            ata[c][i][j] += row[i] * row[j];
          atb[c][i] += row[i] * pixel[c];
        }
    }
  for (guint c = 0; c < CHANNELS; c++) {
    solve4 (ata[c], atb[c]);
    for (guint k = 0; k < 4; k++)
      sampler->yuv_to_rgb[c][k] = atb[c][k] + (k == 3 ? 0.5 : 0);
  }
  gst_video_frame_unmap (&rgb_frame);
  gst_video_frame_unmap (&yuv_frame);
  gst_buffer_unref (yuv_buffer);
  gst_buffer_unref (rgb_buffer);
  gst_video_converter_free (converter);
  return TRUE;
}

/* One resampler per plane: its part under the region, to the plan's window. FALSE if
 * GstVideoConverter cannot convert the format (then no YUV path). */
static gboolean
new_plane_resamplers (GstTsfSampler *sampler, const GstVideoInfo *info)
{
  const GstVideoFormatInfo *finfo = info->finfo;
  const GstTsfPreprocessPlan *plan = &sampler->plan;
  const GstVideoRectangle *region = &plan->region;
  gboolean h_cosited = (info->chroma_site & GST_VIDEO_CHROMA_SITE_H_COSITED) != 0;
  gboolean v_cosited = (info->chroma_site & GST_VIDEO_CHROMA_SITE_V_COSITED) != 0;

  if (!set_yuv_matrix (sampler, info))
    return FALSE;
  for (guint c = 0; c < 3; c++) {
    guint p = finfo->plane[c], ws = finfo->w_sub[c], hs = finfo->h_sub[c];
    GstTsfResize resize = { finfo->pixel_stride[c], GST_VIDEO_INFO_COMP_WIDTH (info, c),
      GST_VIDEO_INFO_COMP_HEIGHT (info, c), { plane_position (region->x, ws, h_cosited),
        plane_position (region->y, hs, v_cosited),
        plane_position (region->x + region->w, ws, h_cosited),
        plane_position (region->y + region->h, hs, v_cosited) }, plan->resized_width,
      plan->resized_height, plan->window };

    if (sampler->planes[p] != NULL)
      continue;
    sampler->planes[p] = gst_tsf_resampler_new (&resize);
    sampler->plane_channels[p] = resize.channels;
    sampler->resized_planes[p] = g_new (guint8, (gsize) plan->window.w * plan->window.h
        * resize.channels);
  }
  return TRUE;
}

gboolean
gst_tsf_sampler_set_info (GstTsfSampler *sampler, const GstVideoInfo *info,
    const GstVideoRectangle *roi, GError **error)
{
  GstTsfPreprocessPlan *plan = &sampler->plan;
  guint pixel_bytes;

  clear_converter (sampler);
  gst_tsf_sampler_reset (sampler);
  if (!gst_tsf_preprocess_plan (&sampler->recipe, sampler->options.fit, roi, plan, error))
    return FALSE;
  if (!set_frame_size (sampler, plan->width, plan->height, error))
    return FALSE;
  sampler->in_info = *info;
  pixel_bytes = GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_RGB ? CHANNELS
      : rgb_pixel_bytes (info);
  sampler->resampler = gst_tsf_resampler_new (&(GstTsfResize) { MAX (pixel_bytes, CHANNELS),
      plan->region.w, plan->region.h, { 0, 0, plan->region.w, plan->region.h },
      plan->resized_width, plan->resized_height, plan->window });
  sampler->input = g_new0 (guint8, (gsize) plan->width * plan->height * CHANNELS);
  sampler->converted = (GstVideoRectangle) { 0, 0, GST_VIDEO_INFO_WIDTH (info),
    GST_VIDEO_INFO_HEIGHT (info) };
  if (pixel_bytes == CHANNELS && GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_RGB)
    return TRUE;               /* resized where it lies: no converter */
  if (pixel_bytes > 0) {       /* resized where it lies, then its R, G, B bytes picked */
    sampler->rgb_window = g_new (guint8, (gsize) plan->window.w * plan->window.h * pixel_bytes);
    return TRUE;
  }
  if (resizes_in_yuv (info) && new_plane_resamplers (sampler, info))
    return TRUE;
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

/* The plan's resize of a frame of packed RGB (`pixel_bytes` per pixel) into `out`, the
 * window's first pixel. */
static void
resize_region (GstTsfSampler *sampler, const GstVideoFrame *rgb, guint pixel_bytes,
    guint8 *out, gsize out_stride)
{
  const GstTsfPreprocessPlan *plan = &sampler->plan;
  gsize in_stride = GST_VIDEO_FRAME_PLANE_STRIDE (rgb, 0);
  const guint8 *in = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (rgb, 0)
      + (plan->region.y - sampler->converted.y) * in_stride
      + (plan->region.x - sampler->converted.x) * pixel_bytes;

  gst_tsf_resampler_run (sampler->resampler, in, in_stride, out, out_stride);
}

/* The plan's resize of the converted RGB (or of an RGB frame) into the model's input. */
static void
resize_into_input (GstTsfSampler *sampler, const GstVideoFrame *rgb)
{
  const GstTsfPreprocessPlan *plan = &sampler->plan;
  gsize out_stride = plan->width * CHANNELS;

  resize_region (sampler, rgb, CHANNELS, sampler->input + plan->dest_y * out_stride
      + plan->dest_x * CHANNELS, out_stride);
}

/* BGR, RGBx ...: the window resized in the frame's pixels, its R, G, B bytes to the input. */
static void
resize_rgb_window_into_input (GstTsfSampler *sampler, const GstVideoFrame *frame)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  const GstTsfPreprocessPlan *plan = &sampler->plan;
  guint pixel_bytes = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, 0);
  gsize out_stride = plan->width * CHANNELS;

  resize_region (sampler, frame, pixel_bytes, sampler->rgb_window,
      (gsize) plan->window.w * pixel_bytes);
  for (gint j = 0; j < plan->window.h; j++) {
    guint8 *out = sampler->input + (plan->dest_y + j) * out_stride + plan->dest_x * CHANNELS;
    const guint8 *in = sampler->rgb_window + (gsize) j * plan->window.w * pixel_bytes;

    for (gint i = 0; i < plan->window.w; i++)
      for (guint c = 0; c < CHANNELS; c++)
        out[i * CHANNELS + c] = in[i * pixel_bytes + GST_VIDEO_FORMAT_INFO_POFFSET (finfo, c)];
  }
}

#define CONVERT_CHUNK 64        /* pixels converted at once (vectorised) */

/* `count` <= CONVERT_CHUNK pixels from `first` on of the resized Y, U, V components to RGB
 * bytes at `out` (gathered into floats first so that the matrix is vectorised). */
static void
convert_chunk (const gfloat (*m)[4], const guint8 *const component[3], const guint step[3],
    gsize first, guint count, guint8 *restrict out)
{
  gfloat yuv[3][CONVERT_CHUNK] = { { 0 } }, rgb[CHANNELS][CONVERT_CHUNK];

  for (guint k = 0; k < 3; k++)
    for (guint i = 0; i < count; i++)
      yuv[k][i] = component[k][(first + i) * step[k]];
  for (guint c = 0; c < CHANNELS; c++)
    for (guint i = 0; i < CONVERT_CHUNK; i++) {   /* whole chunks: vectorised at -O2 */
      gfloat value = m[c][0] * yuv[0][i] + m[c][1] * yuv[1][i] + m[c][2] * yuv[2][i] + m[c][3];

      rgb[c][i] = CLAMP (value, 0.0f, 255.0f);
    }
  for (guint i = 0; i < count; i++)
    for (guint c = 0; c < CHANNELS; c++)
      out[i * CHANNELS + c] = (guint8) rgb[c][i];
}

/* YUV: each plane's window resized, then converted into the model's input. */
static void
resize_planes_into_input (GstTsfSampler *sampler, const GstVideoFrame *frame)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  const GstTsfPreprocessPlan *plan = &sampler->plan;
  const gfloat (*m)[4] = (const gfloat (*)[4]) sampler->yuv_to_rgb;
  gsize out_stride = plan->width * CHANNELS;
  const guint8 *component[3];
  guint step[3];

  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame); p++)
    gst_tsf_resampler_run (sampler->planes[p], GST_VIDEO_FRAME_PLANE_DATA (frame, p),
        GST_VIDEO_FRAME_PLANE_STRIDE (frame, p), sampler->resized_planes[p],
        (gsize) plan->window.w * sampler->plane_channels[p]);
  for (guint c = 0; c < 3; c++) {
    component[c] = sampler->resized_planes[finfo->plane[c]] + finfo->poffset[c];
    step[c] = finfo->pixel_stride[c];
  }
  for (gint j = 0; j < plan->window.h; j++) {
    guint8 *out = sampler->input + (plan->dest_y + j) * out_stride + plan->dest_x * CHANNELS;
    gsize first = (gsize) j * plan->window.w;

    for (guint i = 0; i < (guint) plan->window.w; i += CONVERT_CHUNK)
      convert_chunk (m, component, step, first + i, MIN (CONVERT_CHUNK, plan->window.w - i),
          out + i * CHANNELS);
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
  if (sampler->converter == NULL) {
    if (sampler->planes[0] != NULL)
      resize_planes_into_input (sampler, &in_frame);
    else if (sampler->rgb_window != NULL)
      resize_rgb_window_into_input (sampler, &in_frame);
    else
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
