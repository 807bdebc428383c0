/* tsf-peak.c: oneDNN matmul speed on the model's GEMM shapes, the bench's reference point. */
#include "timesformer-bench.h"
#include "tsf-dnnl.h"

#include <omp.h>

typedef struct {
  TsfGemmShape shape;
  dnnl_primitive_t primitive;
  dnnl_memory_t src, weights, dst;
} PeakGemm;

struct _TsfMatmulPeak {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  gint threads;
  TsfPrecision precision;
  GArray *gemms;               /* PeakGemm */
  gfloat *src, *weights, *dst; /* shared by every shape, sized for the largest */
  gsize weights_bytes;
};

static gdouble
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static gboolean
gemm_run (TsfMatmulPeak *peak, const PeakGemm *gemm, gdouble *seconds, GError **error)
{
  dnnl_exec_arg_t args[3] = { { DNNL_ARG_SRC, gemm->src }, { DNNL_ARG_WEIGHTS, gemm->weights },
    { DNNL_ARG_DST, gemm->dst } };
  gdouble start = now ();

  TSF_DNNL_CHECK (dnnl_primitive_execute (gemm->primitive, peak->stream, 3, args), error, FALSE);
  TSF_DNNL_CHECK (dnnl_stream_wait (peak->stream), error, FALSE);
  *seconds = now () - start;
  return TRUE;
}

static void
gemm_clear (PeakGemm *gemm)
{
  g_clear_pointer (&gemm->primitive, dnnl_primitive_destroy);
  g_clear_pointer (&gemm->src, dnnl_memory_destroy);
  g_clear_pointer (&gemm->weights, dnnl_memory_destroy);
  g_clear_pointer (&gemm->dst, dnnl_memory_destroy);
}

/* A matmul for `shape` with oneDNN's default or its GEMM-based implementation. */
static gboolean
gemm_init (TsfMatmulPeak *peak, PeakGemm *gemm, const TsfGemmShape *shape, gboolean gemm_impl,
    GError **error)
{
  dnnl_memory_desc_t src, weights, dst;
  dnnl_dims_t dims = { shape->k, shape->n }, src_dims = { shape->m, shape->k };
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_status_t status;

  gemm->shape = *shape;
  if (!tsf_md_matrix (&dst, TSF_PRECISION_F32, shape->m, shape->n, error))
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src, 2, src_dims,
          tsf_precision_src_type (peak->precision), dnnl_ab), error, FALSE);
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&weights, 2, dims,
          tsf_precision_data_type (peak->precision), dnnl_format_tag_any), error, FALSE);
  TSF_DNNL_CHECK (dnnl_matmul_desc_init (&desc, &src, &weights, NULL, &dst), error, FALSE);
  if (!tsf_dnnl_pd_create (&pd, &desc, NULL, peak->engine, gemm_impl, error))
    return FALSE;
  if (dnnl_memory_desc_get_size (dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0))
      > peak->weights_bytes) {
    dnnl_primitive_desc_destroy (pd);
    g_set_error (error, TSF_ERROR, TSF_ERROR_BACKEND, "matmul weights layout larger than planned");
    return FALSE;
  }
  status = dnnl_primitive_create (&gemm->primitive, pd);
  if (status == dnnl_success)
    status = dnnl_memory_create (&gemm->weights, dnnl_primitive_desc_query_md (pd,
            dnnl_query_weights_md, 0), peak->engine, peak->weights);
  dnnl_primitive_desc_destroy (pd);
  TSF_DNNL_CHECK (status, error, FALSE);
  TSF_DNNL_CHECK (dnnl_memory_create (&gemm->src, &src, peak->engine, peak->src), error, FALSE);
  TSF_DNNL_CHECK (dnnl_memory_create (&gemm->dst, &dst, peak->engine, peak->dst), error, FALSE);
  return TRUE;
}

/* Keeps the faster of oneDNN's default and GEMM-based implementations (best of 2 runs). */
static gboolean
gemm_init_fastest (TsfMatmulPeak *peak, PeakGemm *out, const TsfGemmShape *shape,
    GError **error)
{
  gdouble best = G_MAXDOUBLE;

  for (gint gemm_impl = 0; gemm_impl < 2; gemm_impl++) {
    PeakGemm candidate = { 0 };
    gdouble seconds, fastest = G_MAXDOUBLE;
    gboolean ok = gemm_init (peak, &candidate, shape, gemm_impl, error);
    for (gint i = 0; ok && i < 3; i++) {
      ok = gemm_run (peak, &candidate, &seconds, error);
      if (i > 0)
        fastest = MIN (fastest, seconds);
    }
    if (!ok) {
      gemm_clear (&candidate);
      return FALSE;
    }
    if (fastest < best) {
      gemm_clear (out);
      *out = candidate;
      best = fastest;
    } else {
      gemm_clear (&candidate);
    }
  }
  return TRUE;
}

TsfMatmulPeak *
tsf_matmul_peak_new (const TsfGemmShape *shapes, guint n_shapes, TsfPrecision precision,
    gint threads, GError **error)
{
  TsfMatmulPeak *peak = g_new0 (TsfMatmulPeak, 1);
  gsize src = 1, weights = 1, dst = 1;

  g_return_val_if_fail (precision != TSF_PRECISION_AUTO, NULL);
  peak->precision = precision;
  peak->threads = threads > 0 ? threads : omp_get_num_procs ();
  peak->gemms = g_array_new (FALSE, TRUE, sizeof (PeakGemm));
  for (guint i = 0; i < n_shapes; i++) {
    src = MAX (src, (gsize) shapes[i].m * shapes[i].k);
    /* room for a blocked layout's padding */
    weights = MAX (weights, (gsize) (shapes[i].k + 64) * (shapes[i].n + 64));
    dst = MAX (dst, (gsize) shapes[i].m * shapes[i].n);
  }
  peak->src = g_aligned_alloc0 (src, sizeof (gfloat), 64);
  peak->weights = g_aligned_alloc0 (weights, sizeof (gfloat), 64);
  peak->weights_bytes = weights * sizeof (gfloat);
  peak->dst = g_aligned_alloc0 (dst, sizeof (gfloat), 64);
  /* small values in every type: floats for f32, their high halves for bf16, bytes for int8 */
  for (gsize i = 0; i < src; i++)
    peak->src[i] = precision == TSF_PRECISION_INT8 ? 0.0f : (i % 13) * 0.01f;
  for (gsize i = 0; i < weights; i++)
    peak->weights[i] = precision == TSF_PRECISION_INT8 ? 0.0f : (i % 7) * 0.01f;

  omp_set_num_threads (peak->threads);
  if (!tsf_dnnl_engine_new (&peak->engine, &peak->stream, error))
    goto fail;
  for (guint i = 0; i < n_shapes; i++) {
    PeakGemm gemm = { 0 };
    if (!gemm_init_fastest (peak, &gemm, &shapes[i], error))
      goto fail;
    g_array_append_val (peak->gemms, gemm);
  }
  return peak;

fail:
  g_prefix_error (error, "Measuring the matmul peak: ");
  tsf_matmul_peak_free (peak);
  return NULL;
}

gboolean
tsf_matmul_peak_run (TsfMatmulPeak *peak, gdouble *seconds, GError **error)
{
  omp_set_num_threads (peak->threads);
  *seconds = 0;
  for (guint i = 0; i < peak->gemms->len; i++) {
    const PeakGemm *gemm = &g_array_index (peak->gemms, PeakGemm, i);
    gdouble s;
    if (!gemm_run (peak, gemm, &s, error))
      return FALSE;
    *seconds += s * gemm->shape.count;
  }
  return TRUE;
}

gdouble
tsf_matmul_peak_flops (const TsfMatmulPeak *peak)
{
  gdouble flops = 0;

  for (guint i = 0; i < peak->gemms->len; i++) {
    const TsfGemmShape *s = &g_array_index (peak->gemms, PeakGemm, i).shape;
    flops += 2.0 * s->m * s->k * s->n * s->count;
  }
  return flops;
}

void
tsf_matmul_peak_free (TsfMatmulPeak *peak)
{
  if (peak == NULL)
    return;
  for (guint i = 0; i < peak->gemms->len; i++)
    gemm_clear (&g_array_index (peak->gemms, PeakGemm, i));
  g_array_free (peak->gemms, TRUE);
  if (peak->stream != NULL)
    dnnl_stream_destroy (peak->stream);
  if (peak->engine != NULL)
    dnnl_engine_destroy (peak->engine);
  g_aligned_free (peak->src);
  g_aligned_free (peak->weights);
  g_aligned_free (peak->dst);
  g_free (peak);
}
