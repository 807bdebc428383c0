/* gsttsfresample.h: Pillow's bilinear resize of 8-bit RGB (Image.resize(..., BILINEAR), the
 * resize of transformers' image processors), computed for one window of the output only
 * (internal to the timesformer element).
 *
 * Like Pillow: a triangle filter widened by the downscale factor (antialiasing), weights
 * normalised per output pixel and rounded to 22-bit fixed point, a horizontal pass into 8-bit
 * rows then a vertical pass, each rounded and clamped to 0..255; a pass whose size does not
 * change is skipped. An output pixel depends only on its position, so the window's pixels are
 * the ones Pillow computes for the whole image. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GstTsfResampler GstTsfResampler;

/* Resizes in_width x in_height to out_width x out_height, of which the window
 * (x, y, width, height, inside the output) is computed. */
GstTsfResampler *gst_tsf_resampler_new (guint in_width, guint in_height, guint out_width,
    guint out_height, guint x, guint y, guint width, guint height);
void gst_tsf_resampler_free (GstTsfResampler *resampler);

/* The input rows and columns the window reads: [*first, *first + *count). */
void gst_tsf_resampler_get_input_columns (const GstTsfResampler *resampler, guint *first,
    guint *count);
void gst_tsf_resampler_get_input_rows (const GstTsfResampler *resampler, guint *first,
    guint *count);

/* `in`: packed RGB of the input columns and rows above (pixel (first column, first row) at
 * in[0]); `out`: the window, packed RGB. */
void gst_tsf_resampler_run (GstTsfResampler *resampler, const guint8 *in, gsize in_stride,
    guint8 *out, gsize out_stride);

G_END_DECLS
