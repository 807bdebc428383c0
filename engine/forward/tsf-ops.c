/* tsf-ops.c: the oneDNN ops a plan shares between its layers (all layers have one shape), and
 * the linear layers in each precision. */
#include "tsf-plan.h"

#include <math.h>

/* A linear layer on `rows` tokens; `layout` is its prepared weights' layout, or NULL for the
 * PyTorch weight read in place. */
static TsfOp *
linear_op (TsfProgram *program, gsize rows, guint in, guint out, gboolean bias,
    TsfMatmulOptions options, const dnnl_memory_desc_t *layout, GError **error)
{
  dnnl_memory_desc_t src, weights, bias_md, dst;
  TsfPrecision p = tsf_program_get_precision (program);

  if (!tsf_md_matrix (&src, p, rows, in, error) || !tsf_md_matrix (&dst, p, rows, out, error)
      || !tsf_md_matrix (&bias_md, p, 1, out, error))
    return NULL;
  if (layout != NULL)
    weights = *layout;
  else if (!tsf_md_linear_weight (&weights, p, 2, in, out, error))
    return NULL;
  options.prefer_gemm = !layout;
  return tsf_program_matmul_op (program, &src, &weights, bias ? &bias_md : NULL, &dst,
      &options, error);
}

TsfOp *
tsf_linear_op (TsfProgram *program, gsize rows, guint in, guint out, gboolean bias,
    gboolean gelu, gboolean residual, const dnnl_memory_desc_t *layout, GError **error)
{
  return linear_op (program, rows, in, out, bias,
      (TsfMatmulOptions) { .gelu = gelu, .residual = residual }, layout, error);
}

/* A layer's linear op in `precision` on its prepared weights (`layout`). */
static gboolean
layer_linear_op (TsfProgram *program, TsfPrecision precision, gsize rows, guint in, guint out,
    gboolean bias, TsfMatmulOptions options, const dnnl_memory_desc_t *layout,
    TsfLinearOp *op, GError **error)
{
  dnnl_memory_desc_t src, input, bias_md, dst;
  dnnl_dims_t dims = { rows, in };

  *op = (TsfLinearOp) { .rows = rows, .in = in, .out = out };
  if (precision == TSF_PRECISION_F32) {
    op->matmul = linear_op (program, rows, in, out, bias, options, layout, error);
    return op->matmul != NULL;
  }
  options.quantized = precision == TSF_PRECISION_INT8;
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&input, 2, dims,
          tsf_precision_src_type (precision), dnnl_ab), error, FALSE);
  if (!tsf_md_matrix (&src, TSF_PRECISION_F32, rows, in, error)
      || !tsf_md_matrix (&dst, TSF_PRECISION_F32, rows, out, error)
      || !tsf_md_matrix (&bias_md, TSF_PRECISION_F32, 1, out, error))
    return FALSE;
  if (precision == TSF_PRECISION_BF16
      && !(op->convert = tsf_program_reorder_op (program, &src, &input, error)))
    return FALSE;
  op->matmul = tsf_program_matmul_op (program, &input, layout, bias ? &bias_md : NULL, &dst,
      &options, error);
  return op->matmul != NULL;
}

gboolean
tsf_layer_ops (TsfProgram *program, TsfPrecision linear, const TsfConfig *config,
    const TsfWeightLayouts *w, const TsfLayout *l, guint clips, const TsfAttentionView *views,
    guint n_views, TsfLayerOps *ops, GError **error)
{
  guint d = config->hidden_size, inter = config->intermediate_size;
  guint a = tsf_config_attention_size (config);
  TsfPrecision p = tsf_program_get_precision (program);
  /* int8 quantises each clip on its own: its linear layers run per clip */
  gsize r = linear == TSF_PRECISION_INT8 ? l->rows : clips * l->rows;
  dnnl_memory_desc_t rows;

  if (!tsf_md_matrix (&rows, p, clips * l->rows, d, error)
      || !(ops->norm = tsf_program_layernorm_op (program, &rows, config->layer_norm_eps, error))
      || !layer_linear_op (program, linear, r, d, 3 * a, config->qkv_bias, (TsfMatmulOptions) { 0 },
          &w->qkv, &ops->qkv, error)
      || !layer_linear_op (program, linear, r, a, d, TRUE, (TsfMatmulOptions) { 0 }, &w->proj,
          &ops->proj, error)
      || !layer_linear_op (program, linear, r, a, d, TRUE, (TsfMatmulOptions) { .residual = TRUE },
          &w->proj, &ops->proj_residual, error)
      || !layer_linear_op (program, linear, r, d, inter, TRUE, (TsfMatmulOptions) { .gelu = TRUE },
          &w->fc1, &ops->fc1, error)
      || !layer_linear_op (program, linear, r, inter, d, TRUE,
          (TsfMatmulOptions) { .residual = TRUE }, &w->fc2, &ops->fc2, error))
    return FALSE;
  if (l->scheme->geglu   /* intermediate half x GELU (gate half) */
      && !layer_linear_op (program, linear, r, d, inter, TRUE,
          (TsfMatmulOptions) { .multiply = TRUE }, &w->fc1, &ops->fc1_gated, error))
    return FALSE;
  for (guint i = 0; i < n_views; i++)
    if (!tsf_attention_ops (program, config, &views[i], clips, &ops->qk[i], &ops->softmax[i],
            &ops->sv[i], error))
      return FALSE;
  return TRUE;
}

/* The int8 host kernels, compiled for AVX-512, AVX2 and baseline x86-64 and picked at load
 * by the CPU (the build itself targets baseline x86-64). Not under ThreadSanitizer: the
 * clones' resolvers (ifuncs) run at relocation, before TSan is set up, and crash there. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) \
    && !defined(__SANITIZE_THREAD__)
#define TSF_VECTOR_CLONES \
  __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TSF_VECTOR_CLONES
#endif

TSF_VECTOR_CLONES static void
range_of (const gfloat *src, gsize n, gfloat *lo_out, gfloat *hi_out)
{
  gfloat lo = 0, hi = 0;

#pragma omp simd reduction (min:lo) reduction (max:hi)
  for (gsize i = 0; i < n; i++) {
    lo = MIN (lo, src[i]);
    hi = MAX (hi, src[i]);
  }
  *lo_out = lo;
  *hi_out = hi;
}

/* clamped first, then rounded half up by truncation: no libm call per value */
TSF_VECTOR_CLONES static void
quantize_u8 (const gfloat *src, gsize n, gfloat inverse, gfloat zero_point, guint8 *dst)
{
#pragma omp simd
  for (gsize i = 0; i < n; i++)
    dst[i] = (guint8) (CLAMP (src[i] * inverse + zero_point, 0.0f, 255.0f) + 0.5f);
}

/* Host step of an int8 linear layer: args src (float [n]), dst (guint8 [n]), zero point
 * (gint32), output scales (float [out]), weight scales (float [out]); sizes n, out.
 * One affine scale for the tensor over [min (x, 0), max (x, 0)], as PyTorch's dynamic
 * quantisation does; the output scales are the weight's times the input's. A memory-bound
 * pass on the calling thread (see PARALLEL_MIN_ELEMENTS in tsf-dnnl.c: on a busy machine a
 * parallel region costs more than it saves). */
static void
host_quantize (const gpointer *args, const gsize *sizes)
{
  const gfloat *src = args[0], *weight_scales = args[4];
  guint8 *dst = args[1];
  gint32 *zero_point = args[2];
  gfloat *scales = args[3], lo, hi, scale, inverse;
  gsize n = sizes[0], out = sizes[1];

  range_of (src, n, &lo, &hi);
  scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
  inverse = 1.0f / scale;
  *zero_point = CLAMP ((gint32) lrintf (-lo * inverse), 0, 255);
  quantize_u8 (src, n, inverse, (gfloat) *zero_point, dst);
  for (gsize i = 0; i < out; i++)
    scales[i] = weight_scales[i] * scale;
}

gboolean
tsf_add_linear (TsfPlan *plan, const TsfLinearOp *op, const gfloat *src, const TsfLinear *w,
    gfloat *dst, const gfloat *residual, GError **error)
{
  if (plan->linear == TSF_PRECISION_F32)
    return tsf_program_matmul (plan->program, op->matmul, src, w->weight, w->bias, dst,
        residual, error);
  if (plan->linear == TSF_PRECISION_BF16)
    return tsf_program_reorder (plan->program, op->convert, src, plan->linear_input, error)
        && tsf_program_matmul (plan->program, op->matmul, plan->linear_input, w->weight,
        w->bias, dst, residual, error);
  g_return_val_if_fail (w->scales != NULL, FALSE);
  for (gsize b = 0, in = op->rows * op->in, out = op->rows * op->out; b < plan->clips; b++) {
    tsf_program_host (plan->program, host_quantize, 5, (gpointer[]) { (gpointer) (src + b * in),
          plan->linear_input, plan->zero_point, plan->scales, (gpointer) w->scales }, 2,
        (gsize[]) { in, op->out });
    if (!tsf_program_matmul_quantized (plan->program, op->matmul, plan->linear_input,
            plan->zero_point, w->weight, plan->scales, w->bias, dst + b * out,
            residual != NULL ? residual + b * out : NULL, error))
      return FALSE;
  }
  return TRUE;
}
