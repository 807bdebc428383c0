/* tsf-precision.c: precision names and the choice of TSF_PRECISION_AUTO. */
#include "tsf-precision.h"
#include "timesformer-bench.h"

static const gchar *const names[] = {
  [TSF_PRECISION_F32] = "f32", [TSF_PRECISION_BF16] = "bf16",
  [TSF_PRECISION_INT8] = "int8", [TSF_PRECISION_AUTO] = "auto",
};

const gchar *
tsf_precision_to_string (TsfPrecision precision)
{
  g_return_val_if_fail ((guint) precision < G_N_ELEMENTS (names), "f32");
  return names[precision];
}

gboolean
tsf_precision_from_string (const gchar *name, TsfPrecision *precision, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i]) == 0) {
      *precision = i;
      return TRUE;
    }
  g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED,
      "Unknown precision \"%s\": expected f32, bf16, int8 or auto", name);
  return FALSE;
}

/* One layer-sized matmul (256 tokens, 768 x 768), the best of a few runs. */
#define PROBE_RUNS 4

static gboolean
probe_seconds (TsfPrecision precision, gint threads, gdouble *seconds, GError **error)
{
  TsfGemmShape shape = { 256, 768, 768, 1 };
  TsfMatmulPeak *peak = tsf_matmul_peak_new (&shape, 1, precision, threads, error);
  gboolean ok = peak != NULL;

  *seconds = G_MAXDOUBLE;
  for (guint i = 0; ok && i < PROBE_RUNS; i++) {
    gdouble s;
    ok = tsf_matmul_peak_run (peak, &s, error);
    *seconds = MIN (*seconds, s);
  }
  tsf_matmul_peak_free (peak);
  return ok;
}

gboolean
tsf_precision_choose (TsfPrecision requested, gint threads, TsfPrecision *chosen,
    gchar **warning, GError **error)
{
  gdouble seconds[TSF_PRECISION_AUTO] = { 0 };

  *warning = NULL;
  *chosen = requested;
  if (requested != TSF_PRECISION_BF16 && requested != TSF_PRECISION_AUTO)
    return TRUE;
  for (TsfPrecision p = TSF_PRECISION_F32; p < TSF_PRECISION_AUTO; p++) {
    if ((requested == TSF_PRECISION_AUTO || p != TSF_PRECISION_INT8)
        && !probe_seconds (p, threads, &seconds[p], error)) {
      g_prefix_error (error, "Measuring %s matmuls: ", tsf_precision_to_string (p));
      return FALSE;
    }
  }
  if (requested == TSF_PRECISION_AUTO) {
    *chosen = TSF_PRECISION_F32;
    for (TsfPrecision p = TSF_PRECISION_BF16; p < TSF_PRECISION_AUTO; p++)
      if (seconds[p] < seconds[*chosen])
        *chosen = p;
  }
  if (*chosen == TSF_PRECISION_BF16 && seconds[TSF_PRECISION_BF16] > seconds[TSF_PRECISION_F32])
    *warning = g_strdup_printf ("bf16 runs slower than f32 on this CPU (its matmuls measured "
        "%.2fx the f32 speed: no native bf16 arithmetic); precision=f32 is faster",
        seconds[TSF_PRECISION_F32] / seconds[TSF_PRECISION_BF16]);
  return TRUE;
}
