/* gsttsfresample.h: Pillow's bilinear resize of 8-bit images (Image.resize(..., BILINEAR, box),
 * the resize of transformers' image processors), computed for one window of the output only
 * (internal to the timesformer element).
 *
 * Like Pillow: a triangle filter widened by the downscale factor (antialiasing), weights
 * normalised per output pixel and rounded to 22-bit fixed point, a horizontal pass into 8-bit
 * rows then a vertical pass, each rounded and clamped to 0..255 (a pass whose size does not
 * change copies, as Pillow skips it). An output pixel depends only on its position, so the
 * window's pixels are the ones Pillow computes for the whole image: the same bytes.
 *
 * Speed: 16 input rows at a time are transposed so that each filter tap is one multiply-add
 * of 16 rows (explicit AVX-512 or AVX2 kernels on x86-64, chosen by the CPU at _new(); else
 * vectorised by the compiler; the environment's TSF_RESAMPLE_KERNELS=avx2 or generic caps
 * them, for the tests); every buffer is allocated by _new(), none per frame. */
#pragma once

#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct _GstTsfResampler GstTsfResampler;

/* What is resized: `channels` interleaved bytes per pixel, an in_width x in_height image of
 * which `box` (x0, y0, x1, y1 in pixels, as Pillow's box; {0, 0, in_width, in_height}: all of
 * it) goes to out_width x out_height; only `window` (inside the output) is computed. */
typedef struct {
  guint channels;
  guint in_width;
  guint in_height;
  gdouble box[4];
  guint out_width;
  guint out_height;
  GstVideoRectangle window;
} GstTsfResize;

GstTsfResampler *gst_tsf_resampler_new (const GstTsfResize *resize);
void gst_tsf_resampler_free (GstTsfResampler *resampler);

/* `in`: pixel (0, 0) of the image; `out`: the window's first pixel, `channels` bytes per pixel. */
void gst_tsf_resampler_run (GstTsfResampler *resampler, const guint8 *in, gsize in_stride,
    guint8 *out, gsize out_stride);

G_END_DECLS
