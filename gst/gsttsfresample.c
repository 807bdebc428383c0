/* gsttsfresample.c: Pillow's bilinear resize (see gsttsfresample.h). */
#include "gsttsfresample.h"

#include <math.h>
#include <string.h>

#define CHANNELS 3
#define PRECISION_BITS 22      /* Pillow's: 32 - 8 bits of result - 2 of headroom */

/* The taps of one output pixel on one axis: input [first, first + count), fixed-point weights. */
typedef struct {
  guint out_first;             /* the window on this axis, in output pixels */
  guint out_count;
  guint taps;                  /* weights per output pixel (Pillow's ksize) */
  guint *first;                /* out_count input indices */
  guint *count;                /* out_count tap counts */
  gint32 *weights;             /* out_count x taps */
  gboolean resize;             /* FALSE: the size does not change, the pass is skipped */
  guint in_first;              /* the input the window reads */
  guint in_count;
} Axis;

struct _GstTsfResampler {
  Axis x, y;
  guint8 *rows;                /* the horizontal pass: y.in_count rows of x.out_count pixels */
};

static gdouble
triangle (gdouble x)
{
  x = fabs (x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs and normalize_coeffs_8bpc, for the window's pixels. */
static void
axis_init (Axis *axis, guint in_size, guint out_size, guint out_first, guint out_count)
{
  gdouble scale = (gdouble) in_size / out_size, filter_scale = MAX (scale, 1.0);
  gdouble support = filter_scale, inverse = 1.0 / filter_scale;   /* the triangle's support: 1 */
  guint i, in_last = 0;
  gdouble *w;

  axis->out_first = out_first;
  axis->out_count = out_count;
  axis->resize = in_size != out_size;
  axis->taps = (guint) ceil (support) * 2 + 1;
  axis->first = g_new (guint, out_count);
  axis->count = g_new (guint, out_count);
  axis->weights = g_new0 (gint32, (gsize) out_count * axis->taps);
  axis->in_first = G_MAXUINT;
  w = g_new (gdouble, axis->taps);
  for (i = 0; i < out_count; i++) {
    gdouble centre = (out_first + i + 0.5) * scale, sum = 0.0;
    gint min = (gint) (centre - support + 0.5), max = (gint) (centre + support + 0.5);
    guint t;

    min = MAX (min, 0);
    max = MIN (max, (gint) in_size) - min;
    for (t = 0; t < (guint) max; t++) {
      w[t] = triangle ((t + min - centre + 0.5) * inverse);
      sum += w[t];
    }
    for (t = 0; t < (guint) max; t++) {
      gdouble k = sum != 0.0 ? w[t] / sum : w[t];

      axis->weights[(gsize) i * axis->taps + t] = (gint32) (k < 0
          ? -0.5 + k * (1 << PRECISION_BITS) : 0.5 + k * (1 << PRECISION_BITS));
    }
    axis->first[i] = min;
    axis->count[i] = max;
    axis->in_first = MIN (axis->in_first, (guint) min);
    in_last = MAX (in_last, (guint) (min + max));
  }
  g_free (w);
  if (!axis->resize) {         /* the window itself */
    axis->in_first = out_first;
    in_last = out_first + out_count;
  }
  axis->in_count = in_last - axis->in_first;
}

static void
axis_clear (Axis *axis)
{
  g_free (axis->first);
  g_free (axis->count);
  g_free (axis->weights);
}

GstTsfResampler *
gst_tsf_resampler_new (guint in_width, guint in_height, guint out_width, guint out_height,
    guint x, guint y, guint width, guint height)
{
  GstTsfResampler *resampler = g_new0 (GstTsfResampler, 1);

  g_return_val_if_fail (width > 0 && height > 0 && x + width <= out_width
      && y + height <= out_height, NULL);
  axis_init (&resampler->x, in_width, out_width, x, width);
  axis_init (&resampler->y, in_height, out_height, y, height);
  resampler->rows = g_new (guint8, (gsize) resampler->y.in_count * width * CHANNELS);
  return resampler;
}

void
gst_tsf_resampler_free (GstTsfResampler *resampler)
{
  if (resampler == NULL)
    return;
  axis_clear (&resampler->x);
  axis_clear (&resampler->y);
  g_free (resampler->rows);
  g_free (resampler);
}

void
gst_tsf_resampler_get_input_columns (const GstTsfResampler *resampler, guint *first,
    guint *count)
{
  *first = resampler->x.in_first;
  *count = resampler->x.in_count;
}

void
gst_tsf_resampler_get_input_rows (const GstTsfResampler *resampler, guint *first,
    guint *count)
{
  *first = resampler->y.in_first;
  *count = resampler->y.in_count;
}

/* Pillow's rounding: half added, shifted, clamped. */
static guint8
clip8 (gint32 sum)
{
  gint32 value = sum >> PRECISION_BITS;

  return (guint8) CLAMP (value, 0, 255);
}

/* One output pixel from `count` input pixels `step` bytes apart. */
static void
filter_pixel (const guint8 *in, gsize step, const gint32 *weights, guint count, guint8 *out)
{
  for (guint c = 0; c < CHANNELS; c++) {
    gint32 sum = 1 << (PRECISION_BITS - 1);

    for (guint t = 0; t < count; t++)
      sum += in[t * step + c] * weights[t];
    out[c] = clip8 (sum);
  }
}

/* Input rows (x.in_first based) to the window's columns, into resampler->rows. */
static void
horizontal_pass (GstTsfResampler *resampler, const guint8 *in, gsize in_stride)
{
  const Axis *x = &resampler->x;
  gsize row_bytes = (gsize) x->out_count * CHANNELS;

  for (guint r = 0; r < resampler->y.in_count; r++) {
    const guint8 *row = in + r * in_stride;
    guint8 *out = resampler->rows + r * row_bytes;

    if (!x->resize) {
      memcpy (out, row, row_bytes);
      continue;
    }
    for (guint i = 0; i < x->out_count; i++)
      filter_pixel (row + (gsize) (x->first[i] - x->in_first) * CHANNELS, CHANNELS,
          x->weights + (gsize) i * x->taps, x->count[i], out + (gsize) i * CHANNELS);
  }
}

void
gst_tsf_resampler_run (GstTsfResampler *resampler, const guint8 *in, gsize in_stride,
    guint8 *out, gsize out_stride)
{
  const Axis *y = &resampler->y;
  gsize row_bytes = (gsize) resampler->x.out_count * CHANNELS;

  horizontal_pass (resampler, in, in_stride);
  for (guint j = 0; j < y->out_count; j++) {
    guint8 *dest = out + j * out_stride;

    if (!y->resize) {
      memcpy (dest, resampler->rows + j * row_bytes, row_bytes);
      continue;
    }
    for (guint i = 0; i < resampler->x.out_count; i++)
      filter_pixel (resampler->rows + (gsize) (y->first[j] - y->in_first) * row_bytes
          + (gsize) i * CHANNELS, row_bytes, y->weights + (gsize) j * y->taps, y->count[j],
          dest + (gsize) i * CHANNELS);
  }
}
