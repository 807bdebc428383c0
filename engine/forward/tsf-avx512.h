/* tsf-avx512.h: what the host attention kernels share (tsf-short-attention.c,
 * tsf-long-attention.c): the AVX-512 target and e^x of a score minus its row's maximum. */
#pragma once

#include <glib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HOST_ATTENTION_KERNELS 1
#define AVX512 __attribute__ ((target ("avx512f")))
#define LANES 16

/* e^x for x <= 0 (a score minus its row's maximum), NaN kept: 2^n e^r, r in [-ln2/2, ln2/2],
 * e^r by its Taylor polynomial of degree 7 (relative error < 3e-9). */
static inline AVX512 __m512
exp_nonpositive (__m512 x)
{
  const __m512 ln2_hi = _mm512_set1_ps (0.693359375f), ln2_lo = _mm512_set1_ps (-2.12194440e-4f);
  __m512 n, r, p;

  x = _mm512_max_ps (_mm512_set1_ps (-87.0f), x);   /* the second operand if NaN */
  n = _mm512_roundscale_ps (_mm512_mul_ps (x, _mm512_set1_ps (1.44269504f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm512_fnmadd_ps (n, ln2_hi, x);
  r = _mm512_fnmadd_ps (n, ln2_lo, r);
  p = _mm512_set1_ps (1.0f / 5040);
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f / 720));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f / 120));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f / 24));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f / 6));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (0.5f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f));
  return _mm512_scalef_ps (p, n);
}
#endif
