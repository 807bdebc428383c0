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

/* One layer-sized matmul (256 tokens, 768 x 768) per precision, run in turns so that every
 * precision sees the same machine load; the best of PROBE_ROUNDS runs each. */
#define PROBE_ROUNDS 8
/* bf16 is reported slow only beyond measurement noise */
#define SLOWER_MARGIN 1.15

static gboolean
probe_seconds (gboolean with_int8, gint threads, gdouble *seconds, GError **error)
{
  TsfGemmShape shape = { 256, 768, 768, 1 };
  TsfMatmulPeak *peaks[TSF_PRECISION_AUTO] = { NULL };
  guint n = with_int8 ? TSF_PRECISION_AUTO : TSF_PRECISION_INT8;
  gboolean ok = TRUE;

  for (guint p = 0; ok && p < n; p++) {
    seconds[p] = G_MAXDOUBLE;
    /* a precision oneDNN has no matmul for on this CPU stays at G_MAXDOUBLE */
    peaks[p] = tsf_matmul_peak_new (&shape, 1, p, threads, p == TSF_PRECISION_F32 ? error : NULL);
    ok = p != TSF_PRECISION_F32 || peaks[p] != NULL;
  }
  for (guint i = 0; ok && i < PROBE_ROUNDS; i++)
    for (guint p = 0; ok && p < n; p++) {
      if (peaks[p] == NULL)
        continue;
      gdouble s;
      ok = tsf_matmul_peak_run (peaks[p], &s, error);
      seconds[p] = MIN (seconds[p], s);
    }
  for (guint p = 0; p < n; p++)
    tsf_matmul_peak_free (peaks[p]);
  if (!ok)
    g_prefix_error (error, "Measuring the precisions' matmul speed: ");
  return ok;
}

gboolean
tsf_precision_choose (TsfPrecision requested, gint threads, TsfPrecision *chosen,
    gchar **warning, GError **error)
{
  gdouble seconds[TSF_PRECISION_AUTO] = { 0 };

  *warning = NULL;
  *chosen = requested;
  if (requested == TSF_PRECISION_F32)
    return TRUE;
  if (!probe_seconds (requested != TSF_PRECISION_BF16, threads, seconds, error))
    return FALSE;
  if (requested != TSF_PRECISION_AUTO && seconds[requested] == G_MAXDOUBLE) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "Precision %s is not supported on "
        "this CPU (oneDNN has no %s matmul for it): use f32", tsf_precision_to_string (requested),
        tsf_precision_to_string (requested));
    return FALSE;
  }
  if (requested == TSF_PRECISION_AUTO) {
    *chosen = TSF_PRECISION_F32;
    for (TsfPrecision p = TSF_PRECISION_BF16; p < TSF_PRECISION_AUTO; p++)
      if (seconds[p] < seconds[*chosen])
        *chosen = p;
  }
  if (*chosen == TSF_PRECISION_BF16
      && seconds[TSF_PRECISION_BF16] > SLOWER_MARGIN * seconds[TSF_PRECISION_F32])
    *warning = g_strdup_printf ("bf16 runs slower than f32 on this CPU (its matmuls measured "
        "%.2fx the f32 speed: no fast bf16 arithmetic here); precision=f32 is faster",
        seconds[TSF_PRECISION_F32] / seconds[TSF_PRECISION_BF16]);
  return TRUE;
}
