/* tsf-short-attention.c: attention over short sequences (divided space-time's temporal
 * attention: each patch over its 8 frames) as one host step with AVX-512 kernels. oneDNN 2.6
 * runs these thousands of 8 x 8 products as gemm:jit calls at a few GFLOP/s; here q k^T,
 * the softmax and the weighted sum of a sequence's head stay in registers and L1. */
#include "tsf-plan.h"

#include <math.h>

#include "tsf-avx512.h"

#ifdef HOST_ATTENTION_KERNELS
/* Query row q's scaled scores over the n keys (stride `stride` floats) as one vector, the
 * lanes past n -inf. */
static inline AVX512 __m512
scores_of (const gfloat *q, const gfloat *k, gsize stride, gsize n, gsize head_size,
    gfloat scale)
{
  __mmask16 keys = (__mmask16) ((1u << n) - 1);
  gfloat scores[LANES];

  for (gsize j = 0; j < n; j++) {
    __m512 sum = _mm512_setzero_ps ();
    for (gsize c = 0; c < head_size; c += LANES)
      sum = _mm512_fmadd_ps (_mm512_loadu_ps (q + c), _mm512_loadu_ps (k + j * stride + c), sum);
    scores[j] = _mm512_reduce_add_ps (sum);
  }
  return _mm512_mask_mul_ps (_mm512_set1_ps (-INFINITY), keys, _mm512_maskz_loadu_ps (keys,
          scores), _mm512_set1_ps (scale));
}

/* Each of 16 vectors summed into one lane of one vector: lane m = the sum of sums[m]. A tree
 * of pairs whose lanes come out as (m % 4) * 4 + m / 4: the inputs go in in that order. */
static inline AVX512 __m512
sum_lanes_16 (const __m512 *sums)
{
  __m512 v[16];

  for (guint m = 0; m < 16; m++)
    v[m] = sums[(m % 4) * 4 + m / 4];
  for (guint k = 0; k < 8; k++)
    v[k] = _mm512_add_ps (_mm512_shuffle_f32x4 (v[2 * k], v[2 * k + 1], 0x44),
        _mm512_shuffle_f32x4 (v[2 * k], v[2 * k + 1], 0xee));
  for (guint k = 0; k < 4; k++)
    v[k] = _mm512_add_ps (_mm512_shuffle_f32x4 (v[2 * k], v[2 * k + 1], 0x88),
        _mm512_shuffle_f32x4 (v[2 * k], v[2 * k + 1], 0xdd));
  for (guint k = 0; k < 2; k++)
    v[k] = _mm512_add_ps (_mm512_shuffle_ps (v[2 * k], v[2 * k + 1], 0x44),
        _mm512_shuffle_ps (v[2 * k], v[2 * k + 1], 0xee));
  return _mm512_add_ps (_mm512_shuffle_ps (v[0], v[1], 0x88), _mm512_shuffle_ps (v[0], v[1], 0xdd));
}

/* The maximum (or sum) of each half's 8 lanes, in all of its lanes. */
static inline AVX512 __m512
max_of_halves (__m512 x)
{
  x = _mm512_max_ps (x, _mm512_shuffle_ps (x, x, 0xb1));
  x = _mm512_max_ps (x, _mm512_shuffle_ps (x, x, 0x4e));
  return _mm512_max_ps (x, _mm512_shuffle_f32x4 (x, x, 0xb1));
}

static inline AVX512 __m512
sum_of_halves (__m512 x)
{
  x = _mm512_add_ps (x, _mm512_shuffle_ps (x, x, 0xb1));
  x = _mm512_add_ps (x, _mm512_shuffle_ps (x, x, 0x4e));
  return _mm512_add_ps (x, _mm512_shuffle_f32x4 (x, x, 0xb1));
}

/* One head of one sequence of n <= 8 tokens, `stride` floats apart in q, k, v and out
 * (out_stride in out). Two queries at a time: one vector holds both rows of 8 scores. */
static AVX512 void
attend_sequence_8 (const gfloat *q, const gfloat *k, const gfloat *v, gsize stride,
    gfloat *out, gsize out_stride, gsize n, gsize head_size, gfloat scale)
{
  __mmask16 keys = (__mmask16) (((1u << n) - 1) * 0x101u);
  gfloat p[LANES];

  for (gsize i = 0; i < n; i += 2) {
    const gfloat *q0 = q + i * stride, *q1 = q + MIN (i + 1, n - 1) * stride;
    __m512 sums[16], s, e;

    for (guint m = 0; m < 16; m++)
      sums[m] = _mm512_setzero_ps ();
    for (gsize c = 0; c < head_size; c += LANES) {
      __m512 a0 = _mm512_loadu_ps (q0 + c), a1 = _mm512_loadu_ps (q1 + c);
#pragma GCC unroll 8
      for (guint j = 0; j < 8; j++) {
        __m512 kj = _mm512_loadu_ps (k + MIN (j, n - 1) * stride + c);
        sums[j] = _mm512_fmadd_ps (a0, kj, sums[j]);
        sums[8 + j] = _mm512_fmadd_ps (a1, kj, sums[8 + j]);
      }
    }
    s = _mm512_mask_mul_ps (_mm512_set1_ps (-INFINITY), keys, sum_lanes_16 (sums),
        _mm512_set1_ps (scale));
    e = _mm512_maskz_mov_ps (keys, exp_nonpositive (_mm512_sub_ps (s, max_of_halves (s))));
    _mm512_storeu_ps (p, _mm512_div_ps (e, sum_of_halves (e)));
    for (gsize c = 0; c < head_size; c += LANES) {
      __m512 o0 = _mm512_setzero_ps (), o1 = _mm512_setzero_ps ();
      for (gsize j = 0; j < n; j++) {
        __m512 vj = _mm512_loadu_ps (v + j * stride + c);
        o0 = _mm512_fmadd_ps (_mm512_set1_ps (p[j]), vj, o0);
        o1 = _mm512_fmadd_ps (_mm512_set1_ps (p[8 + j]), vj, o1);
      }
      _mm512_storeu_ps (out + i * out_stride + c, o0);
      if (i + 1 < n)
        _mm512_storeu_ps (out + (i + 1) * out_stride + c, o1);
    }
  }
}

/* One head of one sequence of n <= 16 tokens: one query at a time. */
static AVX512 void
attend_sequence_16 (const gfloat *q, const gfloat *k, const gfloat *v, gsize stride,
    gfloat *out, gsize out_stride, gsize n, gsize head_size, gfloat scale)
{
  gfloat p[LANES];

  for (gsize i = 0; i < n; i++) {
    __m512 s = scores_of (q + i * stride, k, stride, n, head_size, scale);
    __m512 e = exp_nonpositive (_mm512_sub_ps (s, _mm512_set1_ps (_mm512_reduce_max_ps (s))));
    e = _mm512_maskz_mov_ps ((__mmask16) ((1u << n) - 1), e);
    _mm512_storeu_ps (p, _mm512_div_ps (e, _mm512_set1_ps (_mm512_reduce_add_ps (e))));
    for (gsize c = 0; c < head_size; c += LANES) {
      __m512 sum = _mm512_setzero_ps ();
      for (gsize j = 0; j < n; j++)
        sum = _mm512_fmadd_ps (_mm512_set1_ps (p[j]), _mm512_loadu_ps (v + j * stride + c), sum);
      _mm512_storeu_ps (out + i * out_stride + c, sum);
    }
  }
}

void
tsf_host_short_attention (const gpointer *args, const gsize *sizes)
{
  gsize groups = sizes[0], n = sizes[1], gs = sizes[2], ts = sizes[3], a = sizes[4];
  gsize heads = sizes[5], clips = sizes[6], clip_rows = sizes[7], head_size = a / heads;
  gfloat scale = 1.0f / sqrtf ((gfloat) head_size);

  /* not under ThreadSanitizer: Debian's libgomp is not instrumented, so TSan cannot see it
   * hand the loop's variables to its threads (each sequence writes its own rows) */
#ifndef __SANITIZE_THREAD__
#pragma omp parallel for schedule (static)
#endif
  for (gsize s = 0; s < clips * groups; s++) {
    gsize row = s / groups * clip_rows + s % groups * gs;
    const gfloat *qkv = (const gfloat *) args[0] + row * 3 * a;
    gfloat *out = (gfloat *) args[1] + row * a;
    for (gsize h = 0; h < heads; h++) {
      const gfloat *q = qkv + h * head_size;
      (n <= 8 ? attend_sequence_8 : attend_sequence_16) (q, q + a, q + 2 * a, ts * 3 * a,
          out + h * head_size, ts * a, n, head_size, scale);
    }
  }
}
#endif
