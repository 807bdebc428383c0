/* gsttsfresample.c: Pillow's bilinear resize (see gsttsfresample.h). */
#include "gsttsfresample.h"

#include <math.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PRECISION_BITS 22      /* Pillow's: 32 - 8 bits of result - 2 of headroom */
#define HALF (1 << (PRECISION_BITS - 1))
#define LANES 16               /* rows filtered at once by the horizontal pass */

/* Clones of the hot loops for wider vectors, chosen at load by the CPU (x86-64 with GCC). Not
 * under ThreadSanitizer: the clones' resolvers (ifuncs) run at relocation, before TSan is set
 * up, and crash there when instrumented. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) \
    && !defined(__SANITIZE_THREAD__)
#define VECTOR_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* The taps of the window's output pixels on one axis: input [first, first + count), fixed-point
 * weights. An axis whose size does not change gets one tap of weight 1 per pixel (the same
 * bytes as Pillow's skipped pass). */
typedef struct {
  guint out_count;             /* the window on this axis, in output pixels */
  guint taps;                  /* weights per output pixel (Pillow's ksize) */
  guint *first;                /* out_count input indices, relative to in_first */
  guint *count;                /* out_count tap counts */
  gint32 *weights;             /* out_count x taps */
  guint in_first;              /* the input the window reads */
  guint in_count;
} Axis;

struct _GstTsfResampler {
  Axis x, y;
  guint channels;
  gsize in_bytes;              /* bytes of one input row the window reads */
  gsize row_bytes;             /* bytes of one output row of the window */
  gsize rows_stride;           /* row_bytes rounded up to whole vectors */
  guint8 *columns;             /* LANES input rows transposed: byte j of row r at j * LANES + r */
  guint8 *filtered;            /* their horizontal pass, transposed alike */
  guint8 *rows;                /* the horizontal pass: y.in_count rows (rounded up to LANES) */
};

static gdouble
triangle (gdouble x)
{
  x = fabs (x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

static gint32
fixed_point (gdouble k)
{
  return (gint32) (k < 0 ? -0.5 + k * (1 << PRECISION_BITS) : 0.5 + k * (1 << PRECISION_BITS));
}

/* Pillow's precompute_coeffs and normalize_coeffs_8bpc for the window's pixels of an axis that
 * resizes [in0, in1) of in_size pixels to out_size (the box is single precision in Pillow). */
static void
axis_init_filter (Axis *axis, guint in_size, gfloat in0, gfloat in1, guint out_size,
    guint out_first)
{
  gdouble scale = (gdouble) (in1 - in0) / out_size, filter_scale = MAX (scale, 1.0);
  gdouble support = filter_scale, inverse = 1.0 / filter_scale;   /* the triangle's support: 1 */
  gdouble *w = g_new (gdouble, axis->taps);
  gint *min = g_new (gint, axis->out_count);
  guint i, in_last = 0;

  axis->in_first = G_MAXUINT;
  for (i = 0; i < axis->out_count; i++) {
    gdouble centre = in0 + (out_first + i + 0.5) * scale, sum = 0.0;
    gint lo = (gint) (centre - support + 0.5), hi = (gint) (centre + support + 0.5);
    guint t;

    lo = MAX (lo, 0);
    hi = MIN (hi, (gint) in_size) - lo;
    for (t = 0; t < (guint) MAX (hi, 0); t++) {
      w[t] = triangle ((t + lo - centre + 0.5) * inverse);
      sum += w[t];
    }
    for (t = 0; t < (guint) MAX (hi, 0); t++)
      axis->weights[(gsize) i * axis->taps + t] = fixed_point (sum != 0.0 ? w[t] / sum : w[t]);
    min[i] = lo;
    axis->count[i] = MAX (hi, 0);
    axis->in_first = MIN (axis->in_first, (guint) lo);
    in_last = MAX (in_last, (guint) (lo + MAX (hi, 0)));
  }
  for (i = 0; i < axis->out_count; i++)
    axis->first[i] = min[i] - axis->in_first;
  axis->in_count = in_last - axis->in_first;
  g_free (min);
  g_free (w);
}

static void
axis_init (Axis *axis, guint in_size, gdouble in0, gdouble in1, guint out_size,
    guint out_first, guint out_count)
{
  gboolean resize = out_size != in_size || in0 != 0 || in1 != in_size;
  gdouble filter_scale = MAX ((gdouble) ((gfloat) in1 - (gfloat) in0) / out_size, 1.0);

  axis->out_count = out_count;
  axis->taps = resize ? (guint) ceil (filter_scale) * 2 + 1 : 1;
  axis->first = g_new (guint, out_count);
  axis->count = g_new (guint, out_count);
  axis->weights = g_new0 (gint32, (gsize) out_count * axis->taps);
  if (resize) {
    axis_init_filter (axis, in_size, in0, in1, out_size, out_first);
    return;
  }
  for (guint i = 0; i < out_count; i++) {
    axis->first[i] = i;
    axis->count[i] = 1;
    axis->weights[i] = 1 << PRECISION_BITS;
  }
  axis->in_first = out_first;
  axis->in_count = out_count;
}

static void
axis_clear (Axis *axis)
{
  g_free (axis->first);
  g_free (axis->count);
  g_free (axis->weights);
}

static gsize
round_up (gsize n, gsize multiple)
{
  return (n + multiple - 1) / multiple * multiple;
}

GstTsfResampler *
gst_tsf_resampler_new (const GstTsfResize *resize)
{
  const GstVideoRectangle *window = &resize->window;
  GstTsfResampler *resampler;

  g_return_val_if_fail (resize->channels > 0 && window->x >= 0 && window->y >= 0
      && window->w > 0 && window->h > 0 && window->x + window->w <= (gint) resize->out_width
      && window->y + window->h <= (gint) resize->out_height, NULL);
  resampler = g_new0 (GstTsfResampler, 1);
  resampler->channels = resize->channels;
  axis_init (&resampler->x, resize->in_width, resize->box[0], resize->box[2],
      resize->out_width, window->x, window->w);
  axis_init (&resampler->y, resize->in_height, resize->box[1], resize->box[3],
      resize->out_height, window->y, window->h);
  resampler->in_bytes = (gsize) resampler->x.in_count * resize->channels;
  resampler->row_bytes = (gsize) window->w * resize->channels;
  resampler->rows_stride = round_up (resampler->row_bytes, LANES);
  resampler->columns = g_new (guint8, round_up (resampler->in_bytes, LANES) * LANES);
  resampler->filtered = g_new0 (guint8, resampler->rows_stride * LANES);
  resampler->rows = g_new0 (guint8, round_up (resampler->y.in_count, LANES)
      * resampler->rows_stride);
  return resampler;
}

void
gst_tsf_resampler_free (GstTsfResampler *resampler)
{
  if (resampler == NULL)
    return;
  axis_clear (&resampler->x);
  axis_clear (&resampler->y);
  g_free (resampler->columns);
  g_free (resampler->filtered);
  g_free (resampler->rows);
  g_free (resampler);
}

/* Pillow's rounding: half added before, shifted, clamped. */
static inline guint8
clip8 (gint32 sum)
{
  gint32 value = sum >> PRECISION_BITS;

  return (guint8) CLAMP (value, 0, 255);
}

/* A LANES x LANES block of bytes transposed: dst[c * dst_stride + r] = src[r][c]. */
static inline __attribute__ ((always_inline)) void
transpose_block (const guint8 *const src[LANES], guint8 *dst, gsize dst_stride)
{
#ifdef __SSE2__
  /* Four perfect shuffles of 16 vectors of 16 bytes transpose them (unrolled: registers). */
#define SHUFFLE(v, u) \
  u##0 = _mm_unpacklo_epi8 (v##0, v##8); u##1 = _mm_unpackhi_epi8 (v##0, v##8); \
  u##2 = _mm_unpacklo_epi8 (v##1, v##9); u##3 = _mm_unpackhi_epi8 (v##1, v##9); \
  u##4 = _mm_unpacklo_epi8 (v##2, v##10); u##5 = _mm_unpackhi_epi8 (v##2, v##10); \
  u##6 = _mm_unpacklo_epi8 (v##3, v##11); u##7 = _mm_unpackhi_epi8 (v##3, v##11); \
  u##8 = _mm_unpacklo_epi8 (v##4, v##12); u##9 = _mm_unpackhi_epi8 (v##4, v##12); \
  u##10 = _mm_unpacklo_epi8 (v##5, v##13); u##11 = _mm_unpackhi_epi8 (v##5, v##13); \
  u##12 = _mm_unpacklo_epi8 (v##6, v##14); u##13 = _mm_unpackhi_epi8 (v##6, v##14); \
  u##14 = _mm_unpacklo_epi8 (v##7, v##15); u##15 = _mm_unpackhi_epi8 (v##7, v##15)
#define LOAD(i) v##i = _mm_loadu_si128 ((const __m128i *) src[i])
#define STORE(i) _mm_storeu_si128 ((__m128i *) (dst + i * dst_stride), v##i)
  __m128i v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15;
  __m128i u0, u1, u2, u3, u4, u5, u6, u7, u8, u9, u10, u11, u12, u13, u14, u15;

  LOAD (0); LOAD (1); LOAD (2); LOAD (3); LOAD (4); LOAD (5); LOAD (6); LOAD (7);
  LOAD (8); LOAD (9); LOAD (10); LOAD (11); LOAD (12); LOAD (13); LOAD (14); LOAD (15);
  SHUFFLE (v, u);
  SHUFFLE (u, v);
  SHUFFLE (v, u);
  SHUFFLE (u, v);
  STORE (0); STORE (1); STORE (2); STORE (3); STORE (4); STORE (5); STORE (6); STORE (7);
  STORE (8); STORE (9); STORE (10); STORE (11); STORE (12); STORE (13); STORE (14); STORE (15);
#undef SHUFFLE
#undef LOAD
#undef STORE
#else
  for (guint c = 0; c < LANES; c++)
    for (guint r = 0; r < LANES; r++)
      dst[c * dst_stride + r] = src[r][c];
#endif
}

/* Bytes [0, bytes) of LANES rows to out[j * LANES + r]. */
VECTOR_CLONES static void
transpose_rows (const guint8 *const rows[LANES], gsize bytes, guint8 *out)
{
  const guint8 *src[LANES];
  gsize j = 0;

  for (; j + LANES <= bytes; j += LANES) {
    for (guint r = 0; r < LANES; r++)
      src[r] = rows[r] + j;
    transpose_block (src, out + j * LANES, LANES);
  }
  for (; j < bytes; j++)
    for (guint r = 0; r < LANES; r++)
      out[j * LANES + r] = rows[r][j];
}

/* in[k * LANES + r] for k in [0, stride) to out[r * stride + k] (stride: whole blocks). */
VECTOR_CLONES static void
transpose_lanes_to_rows (const guint8 *in, gsize stride, guint8 *out)
{
  const guint8 *src[LANES];

  for (gsize k = 0; k < stride; k += LANES) {
    for (guint i = 0; i < LANES; i++)
      src[i] = in + (k + i) * LANES;
    transpose_block (src, out + k, stride);
  }
}

/* One output pixel of one channel for LANES rows: `in` at its first tap, a tap every `step`. */
static inline void
filter_lanes (const guint8 *restrict in, gsize step, const gint32 *restrict weights,
    guint count, guint8 *restrict out)
{
  gint32 sums[LANES];

  for (guint r = 0; r < LANES; r++)
    sums[r] = HALF;
  for (guint t = 0; t < count; t++)
    for (guint r = 0; r < LANES; r++)
      sums[r] += in[t * step + r] * weights[t];
  for (guint r = 0; r < LANES; r++)
    out[r] = clip8 (sums[r]);
}

/* The horizontal pass of the transposed LANES rows in resampler->columns into ->filtered. */
VECTOR_CLONES static void
filter_columns (GstTsfResampler *resampler)
{
  const Axis *x = &resampler->x;
  guint channels = resampler->channels;

  for (guint i = 0; i < x->out_count; i++)
    for (guint c = 0; c < channels; c++)
      filter_lanes (resampler->columns + ((gsize) x->first[i] * channels + c) * LANES,
          (gsize) channels * LANES, x->weights + (gsize) i * x->taps, x->count[i],
          resampler->filtered + ((gsize) i * channels + c) * LANES);
}

/* Input rows (of the window's input) to the window's columns, into resampler->rows. */
static void
horizontal_pass (GstTsfResampler *resampler, const guint8 *in, gsize in_stride)
{
  const guint8 *rows[LANES];
  guint count = resampler->y.in_count;

  in += (gsize) resampler->y.in_first * in_stride + (gsize) resampler->x.in_first
      * resampler->channels;
  for (guint block = 0; block < count; block += LANES) {
    for (guint r = 0; r < LANES; r++)   /* past the last row: the last row again */
      rows[r] = in + MIN (block + r, count - 1) * in_stride;
    transpose_rows (rows, resampler->in_bytes, resampler->columns);
    filter_columns (resampler);
    transpose_lanes_to_rows (resampler->filtered, resampler->rows_stride,
        resampler->rows + block * resampler->rows_stride);
  }
}

/* One output row from the rows of the horizontal pass, LANES bytes at a time. */
VECTOR_CLONES static void
vertical_pass_row (GstTsfResampler *resampler, guint j, guint8 *restrict out)
{
  const Axis *y = &resampler->y;
  const gint32 *restrict weights = y->weights + (gsize) j * y->taps;
  const guint8 *restrict first = resampler->rows + (gsize) y->first[j] * resampler->rows_stride;
  gsize stride = resampler->rows_stride, k;
  guint8 *restrict block = resampler->filtered;   /* free between horizontal passes */

  for (k = 0; k < stride; k += LANES)
    filter_lanes (first + k, stride, weights, y->count[j], block + k);
  memcpy (out, block, resampler->row_bytes);
}

void
gst_tsf_resampler_run (GstTsfResampler *resampler, const guint8 *in, gsize in_stride,
    guint8 *out, gsize out_stride)
{
  horizontal_pass (resampler, in, in_stride);
  for (guint j = 0; j < resampler->y.out_count; j++)
    vertical_pass_row (resampler, j, out + j * out_stride);
}
