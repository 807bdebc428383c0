/* tsf-long-attention.c: attention over sequences longer than tsf-short-attention.c takes
 * (divided space-time's spatial attention: a frame's cls copy and 196 patches) as one host
 * step with AVX-512 kernels. Each head of a sequence at a time: its keys transposed once into
 * a scratch block, then 6 queries at a time, their scores, softmax and weighted sum of the
 * values in L1 and L2. oneDNN's batched products write all scores of a layer (15 MB for
 * base) and read them twice more for the softmax and the second product. */
#include "tsf-plan.h"

#include <math.h>

#include "tsf-avx512.h"

#include <omp.h>

/* Queries of a block; vectors of keys (or of channels) of a block: 6 x 4 accumulators. */
#define QUERIES 6
#define VECTORS 4

gsize
tsf_long_attention_scratch (gsize length, gsize head_size)
{
  gsize padded = (length + 15) / 16 * 16;

  return (head_size + QUERIES) * padded;
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
      __m512d x = _mm512_castps_pd (t[4 * i + k / 2]), y = _mm512_castps_pd (t[4 * i + 2 + k / 2]);
      u[4 * i + k] = _mm512_castpd_ps (k % 2 ? _mm512_unpackhi_pd (x, y) : _mm512_unpacklo_pd (x, y));
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

/* The scores of queries q[] over keys first to first + nv * LANES, into rows of `padded`. */
static ALWAYS_INLINE AVX512 void
score_block (const Sequence *s, const gfloat *const *q, const gfloat *keys, gsize first,
    guint nv, gfloat *scores)
{
  __m512 acc[QUERIES][VECTORS];

  #pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++)
    #pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      acc[r][v] = _mm512_setzero_ps ();
  for (gsize c = 0; c < s->head_size; c++) {
    const gfloat *row = keys + c * s->padded + first;
    __m512 k[VECTORS];
    #pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      k[v] = _mm512_load_ps (row + v * LANES);
    #pragma GCC unroll 8
    for (guint r = 0; r < QUERIES; r++) {
      __m512 qc = _mm512_set1_ps (q[r][c]);
      #pragma GCC unroll 8
      for (guint v = 0; v < nv; v++)
        acc[r][v] = _mm512_fmadd_ps (qc, k[v], acc[r][v]);
    }
  }
  #pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++)
    #pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      _mm512_store_ps (scores + r * s->padded + first + v * LANES, acc[r][v]);
}

/* The weighted sums of the values' channels first to first + nv * LANES, divided by the
 * rows' sums, into out[]. */
static ALWAYS_INLINE AVX512 void
weigh_block (const Sequence *s, const gfloat *weights, const gfloat *sums, gsize first,
    guint nv, gfloat *const *out, guint rows)
{
  __m512 acc[QUERIES][VECTORS];

  #pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++)
    #pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      acc[r][v] = _mm512_setzero_ps ();
  for (gsize j = 0; j < s->n; j++) {
    const gfloat *row = s->v + j * s->stride + first;
    __m512 x[VECTORS];
    #pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      x[v] = _mm512_loadu_ps (row + v * LANES);
    #pragma GCC unroll 8
    for (guint r = 0; r < QUERIES; r++) {
      __m512 w = _mm512_set1_ps (weights[r * s->padded + j]);
      #pragma GCC unroll 8
      for (guint v = 0; v < nv; v++)
        acc[r][v] = _mm512_fmadd_ps (w, x[v], acc[r][v]);
    }
  }
  #pragma GCC unroll 8
  for (guint r = 0; r < rows; r++)
    #pragma GCC unroll 8
    for (guint v = 0; v < nv; v++)
      _mm512_storeu_ps (out[r] + first + v * LANES, _mm512_mul_ps (acc[r][v],
              _mm512_set1_ps (1.0f / sums[r])));
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

/* Queries first to first + QUERIES (the last of them repeated past n). */
static AVX512 void
attend_queries (const Sequence *s, const gfloat *keys, gfloat *scores, gsize first)
{
  const gfloat *q[QUERIES];
  gfloat *out[QUERIES], sums[QUERIES];
  guint rows = (guint) MIN (QUERIES, s->n - first);
  gsize i;

  #pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++) {
    q[r] = s->q + MIN (first + r, s->n - 1) * s->stride;
    out[r] = s->out + (first + MIN (r, rows - 1)) * s->out_stride;
  }
  for (i = 0; i + VECTORS * LANES <= s->padded; i += VECTORS * LANES)
    score_block (s, q, keys, i, VECTORS, scores);
  for (; i < s->padded; i += LANES)
    score_block (s, q, keys, i, 1, scores);
  #pragma GCC unroll 8
  for (guint r = 0; r < QUERIES; r++)
    sums[r] = exponentiate (scores + r * s->padded, s->n, s->scale);
  for (i = 0; i + VECTORS * LANES <= s->head_size; i += VECTORS * LANES)
    weigh_block (s, scores, sums, i, VECTORS, out, rows);
  for (; i < s->head_size; i += LANES)
    weigh_block (s, scores, sums, i, 1, out, rows);
}

void
tsf_host_long_attention (const gpointer *args, const gsize *sizes)
{
  gsize groups = sizes[0], n = sizes[1], gs = sizes[2], ts = sizes[3], a = sizes[4];
  gsize heads = sizes[5], clips = sizes[6], clip_rows = sizes[7], head_size = a / heads;
  gsize padded = (n + LANES - 1) / LANES * LANES, scratch = sizes[8];

  /* not under ThreadSanitizer: Debian's libgomp is not instrumented (tsf-short-attention.c) */
#ifndef __SANITIZE_THREAD__
#pragma omp parallel num_threads (sizes[9])
#endif
  {
    gfloat *keys = (gfloat *) args[2] + omp_get_thread_num () * scratch;
    gfloat *scores = keys + head_size * padded;

#ifndef __SANITIZE_THREAD__
#pragma omp for schedule (static)
#endif
    for (gsize item = 0; item < clips * groups * heads; item++) {
      gsize sequence = item / heads, h = item % heads;
      gsize row = sequence / groups * clip_rows + sequence % groups * gs;
      const gfloat *q = (const gfloat *) args[0] + row * 3 * a + h * head_size;
      Sequence s = { q, q + a, q + 2 * a, (gfloat *) args[1] + row * a + h * head_size,
        ts * 3 * a, ts * a, n, padded, head_size, 1.0f / sqrtf ((gfloat) head_size) };

      transpose_keys (&s, keys);
      for (gsize first = 0; first < n; first += QUERIES)
        attend_queries (&s, keys, scores, first);
    }
  }
}
#endif
