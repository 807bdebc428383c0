/* tsf-long-attention.c: attention over sequences longer than tsf-short-attention.c takes
 * (divided space-time's spatial attention: a frame's cls copy and 196 patches) as one host
 * step with AVX-512 kernels. Each head of a sequence at a time: its keys transposed once into
 * a scratch block, then 6 queries at a time, their scores, softmax and weighted sum of the
 * values in L1 and L2. oneDNN's batched products write all scores of a layer (15 MB for
 * base) and read them twice more for the softmax and the second product. */
#include "tsf-plan.h"

#include <math.h>
#include <string.h>

#include "tsf-avx512.h"

#include <omp.h>

/* Queries of a block; vectors of keys (or of channels) of a block: 6 x 4 accumulators. */
#define QUERIES 6
#define VECTORS 4

/* A sequence's keys rounded up to whole vectors of 16 (the rows of the scratch). */
static gsize
padded_length (gsize length)
{
  return (length + 15) / 16 * 16;
}

/* f32: the keys transposed [head_size][padded], a block's scores [QUERIES][padded]. bf16:
 * the keys as channel pairs [head_size / 2][padded], the values as key pairs
 * [padded / 2][head_size] (32-bit pairs), the scores, their bf16 copy, the block's queries
 * in bf16 [QUERIES][head_size]. */
gsize
tsf_long_attention_scratch (gsize length, gsize head_size)
{
  return (head_size + 2 * QUERIES) * padded_length (length) + QUERIES * head_size;
}

#ifdef HOST_ATTENTION_KERNELS
#define ALWAYS_INLINE inline __attribute__ ((always_inline))

/* One sequence's head: n tokens, their q, k and v rows `stride` floats apart. */
typedef struct {
  const gfloat *q, *k, *v;
  gfloat *out;
  gsize stride, out_stride, n, padded, head_size;
  gfloat scale;
} Sequence;

/* A 16 x 16 block transposed in registers: unpacks of pairs of rows, of pairs of pairs,
 * then two rounds of 128-bit lane shuffles. */
static ALWAYS_INLINE AVX512 void
transpose_16 (__m512 *r)
{
  __m512 t[16], u[16];

#pragma GCC unroll 16
  for (guint i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps (r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps (r[2 * i], r[2 * i + 1]);
  }
  /* u[4 i + k], 128-bit lane q: rows 4 i to 4 i + 3 of column 4 q + k */
#pragma GCC unroll 16
  for (guint i = 0; i < 4; i++)
#pragma GCC unroll 16
    for (guint k = 0; k < 4; k++) {
      __m512d x = _mm512_castps_pd (t[4 * i + k / 2]);
      __m512d y = _mm512_castps_pd (t[4 * i + 2 + k / 2]);
      u[4 * i + k] = _mm512_castpd_ps (k % 2 ? _mm512_unpackhi_pd (x, y)
          : _mm512_unpacklo_pd (x, y));
    }
#pragma GCC unroll 16
  for (guint k = 0; k < 4; k++) {
    __m512 v0 = _mm512_shuffle_f32x4 (u[k], u[4 + k], 0x44);
    __m512 v1 = _mm512_shuffle_f32x4 (u[k], u[4 + k], 0xee);
    __m512 w0 = _mm512_shuffle_f32x4 (u[8 + k], u[12 + k], 0x44);
    __m512 w1 = _mm512_shuffle_f32x4 (u[8 + k], u[12 + k], 0xee);
    r[k] = _mm512_shuffle_f32x4 (v0, w0, 0x88);
    r[4 + k] = _mm512_shuffle_f32x4 (v0, w0, 0xdd);
    r[8 + k] = _mm512_shuffle_f32x4 (v1, w1, 0x88);
    r[12 + k] = _mm512_shuffle_f32x4 (v1, w1, 0xdd);
  }
}

/* k^T: keys[c * padded + j] = channel c of key j, keys n to padded zero. */
static AVX512 void
transpose_keys (const Sequence *s, gfloat *keys)
{
  for (gsize j = 0; j < s->padded; j += LANES)
    for (gsize c = 0; c < s->head_size; c += LANES) {
      __m512 block[LANES];
#pragma GCC unroll 16
      for (guint m = 0; m < LANES; m++)
        block[m] = j + m < s->n ? _mm512_loadu_ps (s->k + (j + m) * s->stride + c)
            : _mm512_setzero_ps ();
      transpose_16 (block);
#pragma GCC unroll 16
      for (guint m = 0; m < LANES; m++)
        _mm512_store_ps (keys + (c + m) * s->padded + j, block[m]);
    }
}

static ALWAYS_INLINE AVX512 void
zero_block (__m512 (*acc)[VECTORS], guint nv)
{
#pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++)
#pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      acc[r][v] = _mm512_setzero_ps ();
}

/* acc[r][v] = the sum over t < length of a[r][t] b[t * b_stride + v * LANES], for the block's
 * QUERIES rows r and nv vectors v. */
static ALWAYS_INLINE AVX512 void
product_block (const gfloat *const *a, const gfloat *b, gsize b_stride, gsize length,
    guint nv, __m512 (*acc)[VECTORS])
{
  zero_block (acc, nv);
  for (gsize t = 0; t < length; t++) {
    __m512 x[VECTORS];
#pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      x[v] = _mm512_loadu_ps (b + t * b_stride + v * LANES);
#pragma GCC unroll 8
    for (guint r = 0; r < QUERIES; r++) {
      __m512 w = _mm512_set1_ps (a[r][t]);
#pragma GCC unroll 8
      for (guint v = 0; v < nv; v++)
        acc[r][v] = _mm512_fmadd_ps (w, x[v], acc[r][v]);
    }
  }
}

/* A block of scores: rows of `padded`, keys first to first + nv * LANES. */
static ALWAYS_INLINE AVX512 void
store_scores (__m512 (*acc)[VECTORS], gfloat *scores, gsize padded, gsize first, guint nv)
{
#pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++)
#pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      _mm512_store_ps (scores + r * padded + first + v * LANES, acc[r][v]);
}

/* A block of weighted sums divided by the rows' sums of weights: the first `rows` rows, channels
 * first to first + nv * LANES. */
static ALWAYS_INLINE AVX512 void
store_outputs (__m512 (*acc)[VECTORS], gfloat *const *out, const gfloat *sums, gsize first,
    guint nv, guint rows)
{
#pragma GCC unroll 8
  for (guint r = 0; r < rows; r++)
#pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      _mm512_storeu_ps (out[r] + first + v * LANES, _mm512_mul_ps (acc[r][v],
              _mm512_set1_ps (1.0f / sums[r])));
}

/* The output rows of queries first to first + QUERIES (past n, the last one again); returns
 * how many are real. */
static guint
block_outputs (const Sequence *s, gsize first, gfloat **out)
{
  guint rows = (guint) MIN (QUERIES, s->n - first);

  for (guint r = 0; r < QUERIES; r++)
    out[r] = s->out + (first + MIN (r, rows - 1)) * s->out_stride;
  return rows;
}

/* A row of scores into e^(scale (score - max)), padding lanes 0; returns their sum. */
static AVX512 gfloat
exponentiate (gfloat *row, gsize n, gfloat scale)
{
  __m512 largest = _mm512_set1_ps (-INFINITY), sum = _mm512_setzero_ps ();
  gsize j;

  for (j = 0; j + LANES <= n; j += LANES)
    largest = _mm512_max_ps (largest, _mm512_load_ps (row + j));
  if (j < n)
    largest = _mm512_mask_max_ps (largest, (__mmask16) ((1u << (n - j)) - 1), largest,
        _mm512_load_ps (row + j));
  largest = _mm512_set1_ps (_mm512_reduce_max_ps (largest));
  for (j = 0; j < n; j += LANES) {
    __mmask16 keys = n - j >= LANES ? 0xffff : (__mmask16) ((1u << (n - j)) - 1);
    __m512 e = _mm512_maskz_mov_ps (keys, exp_nonpositive (_mm512_mul_ps (_mm512_sub_ps (
                    _mm512_load_ps (row + j), largest), _mm512_set1_ps (scale))));
    _mm512_store_ps (row + j, e);
    sum = _mm512_add_ps (sum, e);
  }
  return _mm512_reduce_add_ps (sum);
}

/* The scores of the block's queries over keys first to first + nv * LANES. */
static ALWAYS_INLINE AVX512 void
score_keys (const Sequence *s, const gfloat *const *q, const gfloat *keys, gfloat *scores,
    gsize first, guint nv)
{
  __m512 acc[QUERIES][VECTORS];

  product_block (q, keys + first, s->padded, s->head_size, nv, acc);
  store_scores (acc, scores, s->padded, first, nv);
}

/* The outputs' channels first to first + nv * LANES. */
static ALWAYS_INLINE AVX512 void
weigh_values (const Sequence *s, const gfloat *const *weights, const gfloat *sums,
    gfloat *const *out, guint rows, gsize first, guint nv)
{
  __m512 acc[QUERIES][VECTORS];

  product_block (weights, s->v + first, s->stride, s->n, nv, acc);
  store_outputs (acc, out, sums, first, nv, rows);
}

/* Queries first to first + QUERIES (the last of them repeated past n). */
static AVX512 void
attend_queries (const Sequence *s, const gfloat *keys, gfloat *scores, gsize first)
{
  const gfloat *q[QUERIES], *weights[QUERIES];
  gfloat *out[QUERIES], sums[QUERIES];
  guint rows = block_outputs (s, first, out);
  gsize i;

  for (guint r = 0; r < QUERIES; r++) {
    q[r] = s->q + MIN (first + r, s->n - 1) * s->stride;
    weights[r] = scores + r * s->padded;
  }
  for (i = 0; i + VECTORS * LANES <= s->padded; i += VECTORS * LANES)
    score_keys (s, q, keys, scores, i, VECTORS);
  for (; i < s->padded; i += LANES)
    score_keys (s, q, keys, scores, i, 1);
  for (guint r = 0; r < QUERIES; r++)
    sums[r] = exponentiate (scores + r * s->padded, s->n, s->scale);
  for (i = 0; i + VECTORS * LANES <= s->head_size; i += VECTORS * LANES)
    weigh_values (s, weights, sums, out, rows, i, VECTORS);
  for (; i < s->head_size; i += LANES)
    weigh_values (s, weights, sums, out, rows, i, 1);
}

#define BF16 __attribute__ ((target ("avx512f,avx512bw,avx512bf16")))

/* Two bf16 values (consecutive channels, or keys) as one 32-bit lane in every lane. */
static ALWAYS_INLINE BF16 __m512bh
pair_of (const guint16 *values)
{
  gint32 pair;

  memcpy (&pair, values, sizeof pair);
  return (__m512bh) _mm512_set1_epi32 (pair);
}

/* 16 floats in bf16 (round to nearest even). */
static ALWAYS_INLINE BF16 void
store_bf16 (guint16 *dst, __m512 x)
{
  _mm256_storeu_si256 ((__m256i *) dst, (__m256i) _mm512_cvtneps_pbh (x));
}

/* The keys as channel pairs: keys[c2 * padded + j] = channels 2 c2 and 2 c2 + 1 of key j
 * (keys n to padded zero). A key's 32 channels in bf16 are its 16 pairs in order. */
static BF16 void
pack_keys_bf16 (const Sequence *s, gfloat *keys)
{
  for (gsize j = 0; j < s->padded; j += LANES)
    for (gsize c = 0; c < s->head_size; c += 2 * LANES) {
      __m512 block[LANES];
#pragma GCC unroll 16
      for (guint m = 0; m < LANES; m++) {
        const gfloat *k = s->k + (j + m) * s->stride + c;
        block[m] = j + m < s->n ? (__m512) _mm512_cvtne2ps_pbh (_mm512_loadu_ps (k + LANES),
            _mm512_loadu_ps (k)) : _mm512_setzero_ps ();
      }
      transpose_16 (block);
#pragma GCC unroll 16
      for (guint m = 0; m < LANES; m++)
        _mm512_store_ps (keys + (c / 2 + m) * s->padded + j, block[m]);
    }
}

/* The values as key pairs: values[j2 * head_size + c] = channel c of keys 2 j2 and 2 j2 + 1
 * (key n zero). */
static BF16 void
pack_values_bf16 (const Sequence *s, gfloat *values)
{
  static const guint16 interleave[32] = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
    7, 23, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
  __m512i order = _mm512_loadu_si512 (interleave);

  for (gsize j = 0; j < s->n; j += 2)
    for (gsize c = 0; c < s->head_size; c += LANES) {
      const gfloat *v = s->v + j * s->stride + c;
      __m512 second = j + 1 < s->n ? _mm512_loadu_ps (v + s->stride) : _mm512_setzero_ps ();
      __m512i both = (__m512i) _mm512_cvtne2ps_pbh (second, _mm512_loadu_ps (v));
      _mm512_store_si512 (values + j / 2 * s->head_size + c,
          _mm512_permutexvar_epi16 (order, both));
    }
}

/* product_block on pairs: a[r] + 2 t two bf16 values, b's 32-bit lanes two bf16 values. */
static ALWAYS_INLINE BF16 void
product_block_bf16 (const guint16 *const *a, const gfloat *b, gsize b_stride, gsize length,
    guint nv, __m512 (*acc)[VECTORS])
{
  zero_block (acc, nv);
  for (gsize t = 0; t < length; t++) {
    __m512bh x[VECTORS];
#pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      x[v] = (__m512bh) _mm512_load_ps (b + t * b_stride + v * LANES);
#pragma GCC unroll 8
    for (guint r = 0; r < QUERIES; r++) {
      __m512bh w = pair_of (a[r] + 2 * t);
#pragma GCC unroll 8
      for (guint v = 0; v < nv; v++)
        acc[r][v] = _mm512_dpbf16_ps (acc[r][v], w, x[v]);
    }
  }
}

static ALWAYS_INLINE BF16 void
score_keys_bf16 (const Sequence *s, const guint16 *const *q, const gfloat *keys,
    gfloat *scores, gsize first, guint nv)
{
  __m512 acc[QUERIES][VECTORS];

  product_block_bf16 (q, keys + first, s->padded, s->head_size / 2, nv, acc);
  store_scores (acc, scores, s->padded, first, nv);
}

static ALWAYS_INLINE BF16 void
weigh_values_bf16 (const Sequence *s, const guint16 *const *weights, const gfloat *values,
    const gfloat *sums, gfloat *const *out, guint rows, gsize first, guint nv)
{
  __m512 acc[QUERIES][VECTORS];

  product_block_bf16 (weights, values + first, s->head_size, (s->n + 1) / 2, nv, acc);
  store_outputs (acc, out, sums, first, nv, rows);
}

/* attend_queries with bf16 products: the block's queries and probabilities rounded to bf16,
 * float sums and softmax. */
static BF16 void
attend_queries_bf16 (const Sequence *s, const gfloat *keys, const gfloat *values,
    gfloat *scores, guint16 *weights, guint16 *q, gsize first)
{
  const guint16 *q_rows[QUERIES], *weight_rows[QUERIES];
  gfloat *out[QUERIES], sums[QUERIES];
  guint rows = block_outputs (s, first, out);
  gsize i;

  for (guint r = 0; r < QUERIES; r++) {
    const gfloat *query = s->q + MIN (first + r, s->n - 1) * s->stride;
    for (gsize c = 0; c < s->head_size; c += LANES)
      store_bf16 (q + r * s->head_size + c, _mm512_loadu_ps (query + c));
    q_rows[r] = q + r * s->head_size;
    weight_rows[r] = weights + r * s->padded;
  }
  for (i = 0; i + VECTORS * LANES <= s->padded; i += VECTORS * LANES)
    score_keys_bf16 (s, q_rows, keys, scores, i, VECTORS);
  for (; i < s->padded; i += LANES)
    score_keys_bf16 (s, q_rows, keys, scores, i, 1);
  for (guint r = 0; r < QUERIES; r++) {
    sums[r] = exponentiate (scores + r * s->padded, s->n, s->scale);
    for (gsize j = 0; j < s->padded; j += LANES)
      store_bf16 (weights + r * s->padded + j, _mm512_load_ps (scores + r * s->padded + j));
  }
  for (i = 0; i + VECTORS * LANES <= s->head_size; i += VECTORS * LANES)
    weigh_values_bf16 (s, weight_rows, values, sums, out, rows, i, VECTORS);
  for (; i < s->head_size; i += LANES)
    weigh_values_bf16 (s, weight_rows, values, sums, out, rows, i, 1);
}

/* The scratch as tsf_long_attention_scratch() lays it out for bf16. */
static BF16 void
attend_bf16 (const Sequence *s, gfloat *scratch)
{
  gfloat *keys = scratch, *values = scratch + s->head_size * s->padded / 2;
  gfloat *scores = scratch + s->head_size * s->padded;
  guint16 *weights = (guint16 *) (scores + QUERIES * s->padded);
  guint16 *q = weights + QUERIES * s->padded;

  pack_keys_bf16 (s, keys);
  pack_values_bf16 (s, values);
  for (gsize first = 0; first < s->n; first += QUERIES)
    attend_queries_bf16 (s, keys, values, scores, weights, q, first);
}

typedef void (*AttendFunc) (const Sequence *s, gfloat *scratch);

static AVX512 void
attend_f32 (const Sequence *s, gfloat *scratch)
{
  transpose_keys (s, scratch);
  for (gsize first = 0; first < s->n; first += QUERIES)
    attend_queries (s, scratch, scratch + s->head_size * s->padded, first);
}

/* Every head of every sequence, each thread in its own slice of the scratch. */
static void
attend_all (const gpointer *args, const gsize *sizes, AttendFunc attend)
{
  gsize groups = sizes[0], n = sizes[1], gs = sizes[2], ts = sizes[3], a = sizes[4];
  gsize heads = sizes[5], clips = sizes[6], clip_rows = sizes[7], head_size = a / heads;
  gsize padded = padded_length (n), scratch = sizes[8];

  /* not under ThreadSanitizer: Debian's libgomp is not instrumented (tsf-short-attention.c) */
#ifndef __SANITIZE_THREAD__
#pragma omp parallel for schedule (static) num_threads (sizes[9])
#endif
  for (gsize item = 0; item < clips * groups * heads; item++) {
    gsize sequence = item / heads, h = item % heads;
    gsize row = sequence / groups * clip_rows + sequence % groups * gs;
    const gfloat *q = (const gfloat *) args[0] + row * 3 * a + h * head_size;
    Sequence s = { q, q + a, q + 2 * a, (gfloat *) args[1] + row * a + h * head_size,
      ts * 3 * a, ts * a, n, padded, head_size, 1.0f / sqrtf ((gfloat) head_size) };

    attend (&s, (gfloat *) args[2] + omp_get_thread_num () * scratch);
  }
}

void
tsf_host_long_attention (const gpointer *args, const gsize *sizes)
{
  attend_all (args, sizes, attend_f32);
}

static void
host_long_attention_bf16 (const gpointer *args, const gsize *sizes)
{
  attend_all (args, sizes, attend_bf16);
}
#endif

TsfHostFunc
tsf_long_attention_kernel (TsfPrecision linear, gsize head_size)
{
#ifdef HOST_ATTENTION_KERNELS
  if (linear != TSF_PRECISION_F32 && head_size % 32 == 0
      && g_strcmp0 (g_getenv ("TSF_ATTENTION_KERNELS"), "f32") != 0
      && __builtin_cpu_supports ("avx512bf16"))
    return host_long_attention_bf16;
  return tsf_host_long_attention;
#else
  g_return_val_if_reached (NULL);
#endif
}
