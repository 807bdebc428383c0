/* gsttsfresample.c: Pillow's bilinear resize (see gsttsfresample.h). */
#include "gsttsfresample.h"

#include <math.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Explicit AVX2 and AVX-512 kernels, chosen at run time by the CPU (x86-64 with GCC). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define X86_KERNELS
#include <immintrin.h>
#endif

#define PRECISION_BITS 22      /* Pillow's: 32 - 8 bits of result - 2 of headroom */
#define HALF (1 << (PRECISION_BITS - 1))
#define LANES 16               /* rows filtered at once by the horizontal pass */

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

typedef struct {
  void (*transpose_rows) (const guint8 *const rows[LANES], gsize bytes, guint8 *out);
  void (*transpose_lanes_to_rows) (const guint8 *in, gsize stride, guint8 *out);
  void (*filter_columns) (GstTsfResampler *resampler);
  void (*vertical_pass_row) (GstTsfResampler *resampler, guint j, guint8 *restrict out);
} Kernels;

struct _GstTsfResampler {
  Axis x, y;
  Kernels kernels;
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

static void choose_kernels (Kernels *kernels);

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
  choose_kernels (&resampler->kernels);
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

/* Four perfect shuffles of 16 vectors of bytes (v0..v15, with u0..u15 free) transpose each
 * 16 x 16 block of their 128-bit lanes (unpack: the vector width's byte interleave). */
#define SHUFFLE(v, u, lo, hi) \
  u##0 = lo (v##0, v##8); u##1 = hi (v##0, v##8); u##2 = lo (v##1, v##9); \
  u##3 = hi (v##1, v##9); u##4 = lo (v##2, v##10); u##5 = hi (v##2, v##10); \
  u##6 = lo (v##3, v##11); u##7 = hi (v##3, v##11); u##8 = lo (v##4, v##12); \
  u##9 = hi (v##4, v##12); u##10 = lo (v##5, v##13); u##11 = hi (v##5, v##13); \
  u##12 = lo (v##6, v##14); u##13 = hi (v##6, v##14); u##14 = lo (v##7, v##15); \
  u##15 = hi (v##7, v##15)
#define TRANSPOSE_16(type, lo, hi, LOAD, STORE) do { \
    type v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15; \
    type u0, u1, u2, u3, u4, u5, u6, u7, u8, u9, u10, u11, u12, u13, u14, u15; \
    LOAD (0); LOAD (1); LOAD (2); LOAD (3); LOAD (4); LOAD (5); LOAD (6); LOAD (7); \
    LOAD (8); LOAD (9); LOAD (10); LOAD (11); LOAD (12); LOAD (13); LOAD (14); LOAD (15); \
    SHUFFLE (v, u, lo, hi); SHUFFLE (u, v, lo, hi); SHUFFLE (v, u, lo, hi); \
    SHUFFLE (u, v, lo, hi); \
    STORE (0); STORE (1); STORE (2); STORE (3); STORE (4); STORE (5); STORE (6); STORE (7); \
    STORE (8); STORE (9); STORE (10); STORE (11); STORE (12); STORE (13); STORE (14); \
    STORE (15); \
  } while (0)

/* A LANES x LANES block of bytes transposed: dst[c * dst_stride + r] = src[r][c]. */
static inline __attribute__ ((always_inline)) void
transpose_block (const guint8 *const src[LANES], guint8 *dst, gsize dst_stride)
{
#ifdef __SSE2__
#define LOAD(i) v##i = _mm_loadu_si128 ((const __m128i *) src[i])
#define STORE(i) _mm_storeu_si128 ((__m128i *) (dst + i * dst_stride), v##i)
  TRANSPOSE_16 (__m128i, _mm_unpacklo_epi8, _mm_unpackhi_epi8, LOAD, STORE);
#undef LOAD
#undef STORE
#else
  for (guint c = 0; c < LANES; c++)
    for (guint r = 0; r < LANES; r++)
      dst[c * dst_stride + r] = src[r][c];
#endif
}

/* Bytes [j, bytes) of LANES rows to out[j * LANES + r]. */
static inline __attribute__ ((always_inline)) void
transpose_rows_from (const guint8 *const rows[LANES], gsize j, gsize bytes, guint8 *out)
{
  const guint8 *src[LANES];

  for (; j + LANES <= bytes; j += LANES) {
    for (guint r = 0; r < LANES; r++)
      src[r] = rows[r] + j;
    transpose_block (src, out + j * LANES, LANES);
  }
  for (; j < bytes; j++)
    for (guint r = 0; r < LANES; r++)
      out[j * LANES + r] = rows[r][j];
}

/* in[k * LANES + r] for k in [k, stride) to out[r * stride + k] (stride: whole blocks). */
static inline __attribute__ ((always_inline)) void
transpose_lanes_to_rows_from (const guint8 *in, gsize k, gsize stride, guint8 *out)
{
  const guint8 *src[LANES];

  for (; k < stride; k += LANES) {
    for (guint i = 0; i < LANES; i++)
      src[i] = in + (k + i) * LANES;
    transpose_block (src, out + k, stride);
  }
}

static void
transpose_rows_generic (const guint8 *const rows[LANES], gsize bytes, guint8 *out)
{
  transpose_rows_from (rows, 0, bytes, out);
}

static void
transpose_lanes_to_rows_generic (const guint8 *in, gsize stride, guint8 *out)
{
  transpose_lanes_to_rows_from (in, 0, stride, out);
}

#ifdef X86_KERNELS
/* The transposes two blocks at a time in 256-bit vectors (with AVX-512's 32 registers: none
 * spilled). */
#define AVX2_TRANSPOSE_16(LOAD, STORE) \
  TRANSPOSE_16 (__m256i, _mm256_unpacklo_epi8, _mm256_unpackhi_epi8, LOAD, STORE)

#define PREFETCH_AHEAD 512       /* bytes of each of the 16 input rows read ahead (DRAM) */

#define DEFINE_TRANSPOSES(suffix, attributes) \
attributes static void \
transpose_rows_##suffix (const guint8 *const rows[LANES], gsize bytes, guint8 *out) \
{ \
  gsize j = 0; \
\
  for (; j + 2 * LANES <= bytes; j += 2 * LANES) { \
    guint8 *block = out + j * LANES; \
\
    AVX2_TRANSPOSE_16 (ROWS_LOAD, ROWS_STORE); \
  } \
  transpose_rows_from (rows, j, bytes, out); \
} \
\
attributes static void \
transpose_lanes_to_rows_##suffix (const guint8 *in, gsize stride, guint8 *out) \
{ \
  gsize k = 0; \
\
  for (; k + 2 * LANES <= stride; k += 2 * LANES) \
    AVX2_TRANSPOSE_16 (LANES_LOAD, LANES_STORE); \
  transpose_lanes_to_rows_from (in, k, stride, out); \
}
#define ROWS_LOAD(i) \
  _mm_prefetch ((const char *) (rows[i] + j + PREFETCH_AHEAD), _MM_HINT_T0); \
  v##i = _mm256_loadu_si256 ((const __m256i *) (rows[i] + j))
#define ROWS_STORE(i) \
  _mm_storeu_si128 ((__m128i *) (block + i * LANES), _mm256_castsi256_si128 (v##i)); \
  _mm_storeu_si128 ((__m128i *) (block + (LANES + i) * LANES), \
      _mm256_extracti128_si256 (v##i, 1))
#define LANES_LOAD(i) v##i = _mm256_inserti128_si256 (_mm256_castsi128_si256 (_mm_loadu_si128 \
        ((const __m128i *) (in + (k + i) * LANES))), _mm_loadu_si128 \
      ((const __m128i *) (in + (k + LANES + i) * LANES)), 1)
#define LANES_STORE(i) _mm256_storeu_si256 ((__m256i *) (out + i * stride + k), v##i)

DEFINE_TRANSPOSES (avx512, __attribute__ ((target ("avx512f,avx512vl,avx512bw"))))
DEFINE_TRANSPOSES (avx2, __attribute__ ((target ("avx2"))))
#endif

/* One output pixel of one channel for LANES rows: `in` at its first tap, a tap every `step`. */
static inline __attribute__ ((always_inline)) void
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

#ifdef X86_KERNELS
/* filter_lanes in one 512-bit vector of 16 sums (clip8: shifted, negatives to 0, saturated). */
static inline __attribute__ ((always_inline, target ("avx512f,avx512vl,avx512bw"))) void
filter_lanes_avx512 (const guint8 *restrict in, gsize step, const gint32 *restrict weights,
    guint count, guint8 *restrict out)
{
  __m512i sum = _mm512_set1_epi32 (HALF);

  for (guint t = 0; t < count; t++)
    sum = _mm512_add_epi32 (sum, _mm512_mullo_epi32 (_mm512_cvtepu8_epi32 (_mm_loadu_si128
                ((const __m128i *) (in + t * step))), _mm512_set1_epi32 (weights[t])));
  sum = _mm512_max_epi32 (_mm512_srai_epi32 (sum, PRECISION_BITS), _mm512_setzero_si512 ());
  _mm_storeu_si128 ((__m128i *) out, _mm512_cvtusepi32_epi8 (sum));
}

/* filter_lanes in two 256-bit vectors of 8 sums. */
static inline __attribute__ ((always_inline, target ("avx2"))) void
filter_lanes_avx2 (const guint8 *restrict in, gsize step, const gint32 *restrict weights,
    guint count, guint8 *restrict out)
{
  __m256i low = _mm256_set1_epi32 (HALF), high = low, packed;

  for (guint t = 0; t < count; t++) {
    __m256i weight = _mm256_set1_epi32 (weights[t]);
    const guint8 *tap = in + t * step;

    low = _mm256_add_epi32 (low, _mm256_mullo_epi32 (_mm256_cvtepu8_epi32 (_mm_loadl_epi64
                ((const __m128i *) tap)), weight));
    high = _mm256_add_epi32 (high, _mm256_mullo_epi32 (_mm256_cvtepu8_epi32 (_mm_loadl_epi64
                ((const __m128i *) (tap + 8))), weight));
  }
  packed = _mm256_permute4x64_epi64 (_mm256_packs_epi32 (_mm256_srai_epi32 (low,
              PRECISION_BITS), _mm256_srai_epi32 (high, PRECISION_BITS)), 0xd8);
  _mm_storeu_si128 ((__m128i *) out, _mm_packus_epi16 (_mm256_castsi256_si128 (packed),
          _mm256_extracti128_si256 (packed, 1)));
}
#endif

/* The horizontal pass of the transposed LANES rows in resampler->columns into ->filtered, and
 * one output row from the rows of the horizontal pass, with one filter_lanes. */
#define DEFINE_PASSES(suffix, attributes, filter) \
attributes static void \
filter_columns_##suffix (GstTsfResampler *resampler) \
{ \
  const Axis *x = &resampler->x; \
  guint channels = resampler->channels; \
\
  for (guint i = 0; i < x->out_count; i++) \
    for (guint c = 0; c < channels; c++) \
      filter (resampler->columns + ((gsize) x->first[i] * channels + c) * LANES, \
          (gsize) channels * LANES, x->weights + (gsize) i * x->taps, x->count[i], \
          resampler->filtered + ((gsize) i * channels + c) * LANES); \
} \
\
attributes static void \
vertical_pass_row_##suffix (GstTsfResampler *resampler, guint j, guint8 *restrict out) \
{ \
  const Axis *y = &resampler->y; \
  const gint32 *restrict weights = y->weights + (gsize) j * y->taps; \
  const guint8 *restrict first = resampler->rows + (gsize) y->first[j] * resampler->rows_stride; \
  gsize stride = resampler->rows_stride, k; \
  guint8 *restrict block = resampler->filtered;   /* free between horizontal passes */ \
\
  for (k = 0; k < stride; k += LANES) \
    filter (first + k, stride, weights, y->count[j], block + k); \
  memcpy (out, block, resampler->row_bytes); \
}

DEFINE_PASSES (generic, , filter_lanes)
#ifdef X86_KERNELS
DEFINE_PASSES (avx512, __attribute__ ((target ("avx512f,avx512vl,avx512bw"))), filter_lanes_avx512)
DEFINE_PASSES (avx2, __attribute__ ((target ("avx2"))), filter_lanes_avx2)
#endif

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
    resampler->kernels.transpose_rows (rows, resampler->in_bytes, resampler->columns);
    resampler->kernels.filter_columns (resampler);
    resampler->kernels.transpose_lanes_to_rows (resampler->filtered, resampler->rows_stride,
        resampler->rows + block * resampler->rows_stride);
  }
}

/* The widest kernels the CPU runs; TSF_RESAMPLE_KERNELS ("avx2" or "generic", for the tests)
 * caps them. */
static void
choose_kernels (Kernels *kernels)
{
#ifdef X86_KERNELS
  const gchar *cap = g_getenv ("TSF_RESAMPLE_KERNELS");
  gboolean avx512 = cap == NULL, avx2 = avx512 || g_strcmp0 (cap, "avx2") == 0;
#endif

  *kernels = (Kernels) { transpose_rows_generic, transpose_lanes_to_rows_generic,
    filter_columns_generic, vertical_pass_row_generic };
#ifdef X86_KERNELS
  if (avx512 && __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512vl")
      && __builtin_cpu_supports ("avx512bw"))
    *kernels = (Kernels) { transpose_rows_avx512, transpose_lanes_to_rows_avx512,
      filter_columns_avx512, vertical_pass_row_avx512 };
  else if (avx2 && __builtin_cpu_supports ("avx2"))
    *kernels = (Kernels) { transpose_rows_avx2, transpose_lanes_to_rows_avx2,
      filter_columns_avx2, vertical_pass_row_avx2 };
#endif
}

void
gst_tsf_resampler_run (GstTsfResampler *resampler, const guint8 *in, gsize in_stride,
    guint8 *out, gsize out_stride)
{
  horizontal_pass (resampler, in, in_stride);
  for (guint j = 0; j < resampler->y.out_count; j++)
    resampler->kernels.vertical_pass_row (resampler, j, out + j * out_stride);
}
