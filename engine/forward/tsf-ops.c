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
static inline guint8
quantized_value (gfloat x, gfloat inverse, gfloat zero_point)
{
  return (guint8) (CLAMP (x * inverse + zero_point, 0.0f, 255.0f) + 0.5f);
}

TSF_VECTOR_CLONES static void
quantize_u8 (const gfloat *src, gsize n, gfloat inverse, gfloat zero_point, guint8 *dst)
{
#pragma omp simd
  for (gsize i = 0; i < n; i++)
    dst[i] = quantized_value (src[i], inverse, zero_point);
}

/* One affine scale for a tensor over [lo, hi] (lo <= 0 <= hi), as PyTorch's dynamic
 * quantisation takes it: its zero point, and the output scales of the run (the weight's
 * times the input's); returns 1 / the input's scale. */
static gfloat
input_scale (gfloat lo, gfloat hi, const gfloat *weight_scales, gsize out, gint32 *zero_point,
    gfloat *scales)
{
  gfloat scale = hi > lo ? (hi - lo) / 255.0f : 1.0f, inverse = 1.0f / scale;

  *zero_point = CLAMP ((gint32) lrintf (-lo * inverse), 0, 255);
  for (gsize i = 0; i < out; i++)
    scales[i] = weight_scales[i] * scale;
  return inverse;
}

/* Host step of an int8 linear layer: args src (float [n]), dst (guint8 [n]), zero point
 * (gint32), output scales (float [out]), weight scales (float [out]); sizes n, out.
 * The scale over [min (x, 0), max (x, 0)]. A memory-bound pass on the calling thread (see
 * PARALLEL_MIN_ELEMENTS in tsf-dnnl.c: on a busy machine a parallel region costs more than
 * it saves). */
static void
host_quantize (const gpointer *args, const gsize *sizes)
{
  const gfloat *src = args[0];
  gsize n = sizes[0];
  gfloat lo, hi, inverse;

  range_of (src, n, &lo, &hi);
  inverse = input_scale (lo, hi, args[4], sizes[1], args[2], args[3]);
  quantize_u8 (src, n, inverse, (gfloat) *(gint32 *) args[2], args[1]);
}

/* Layer norm of each row of `src` [rows, d] (as oneDNN's: the mean, the biased variance,
 * float32), its mean and 1 / standard deviation kept in `stats` [rows, 2], and the range
 * [min (y, 0), max (y, 0)] of its output y; y itself is not stored. Four rows at a time: four
 * independent sums hide the vector adds' latency (the last group repeats the last row). */
TSF_VECTOR_CLONES static void
norm_rows_range (const gfloat *src, gsize rows, gsize d, const gfloat *gamma,
    const gfloat *beta, gfloat epsilon, gfloat *stats, gfloat *lo_out, gfloat *hi_out)
{
  gfloat lo = 0, hi = 0;

  for (gsize r = 0; r < rows; r += 4) {
    gsize r1 = MIN (r + 1, rows - 1), r2 = MIN (r + 2, rows - 1), r3 = MIN (r + 3, rows - 1);
    const gfloat *x0 = src + r * d, *x1 = src + r1 * d, *x2 = src + r2 * d, *x3 = src + r3 * d;
    gfloat s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    gfloat m0, m1, m2, m3, i0, i1, i2, i3;

#pragma omp simd reduction (+:s0, s1, s2, s3)
    for (gsize j = 0; j < d; j++) {
      s0 += x0[j];
      s1 += x1[j];
      s2 += x2[j];
      s3 += x3[j];
    }
    m0 = s0 / d, m1 = s1 / d, m2 = s2 / d, m3 = s3 / d;
#pragma omp simd reduction (+:q0, q1, q2, q3)
    for (gsize j = 0; j < d; j++) {
      q0 += (x0[j] - m0) * (x0[j] - m0);
      q1 += (x1[j] - m1) * (x1[j] - m1);
      q2 += (x2[j] - m2) * (x2[j] - m2);
      q3 += (x3[j] - m3) * (x3[j] - m3);
    }
    i0 = 1.0f / sqrtf (q0 / d + epsilon), i1 = 1.0f / sqrtf (q1 / d + epsilon);
    i2 = 1.0f / sqrtf (q2 / d + epsilon), i3 = 1.0f / sqrtf (q3 / d + epsilon);
#pragma omp simd reduction (min:lo) reduction (max:hi)
    for (gsize j = 0; j < d; j++) {
      gfloat y0 = (x0[j] - m0) * i0 * gamma[j] + beta[j];
      gfloat y1 = (x1[j] - m1) * i1 * gamma[j] + beta[j];
      gfloat y2 = (x2[j] - m2) * i2 * gamma[j] + beta[j];
      gfloat y3 = (x3[j] - m3) * i3 * gamma[j] + beta[j];
      lo = MIN (lo, MIN (MIN (y0, y1), MIN (y2, y3)));
      hi = MAX (hi, MAX (MAX (y0, y1), MAX (y2, y3)));
    }
    stats[2 * r3] = m3, stats[2 * r3 + 1] = i3;   /* the repeated row's last */
    stats[2 * r2] = m2, stats[2 * r2 + 1] = i2;
    stats[2 * r1] = m1, stats[2 * r1 + 1] = i1;
    stats[2 * r] = m0, stats[2 * r + 1] = i0;
  }
  *lo_out = lo;
  *hi_out = hi;
}

/* The layer norm of norm_rows_range again, from its `stats`, written quantised. */
TSF_VECTOR_CLONES static void
norm_rows_quantize (const gfloat *src, gsize rows, gsize d, const gfloat *gamma,
    const gfloat *beta, const gfloat *stats, gfloat inverse, gfloat zero_point, guint8 *dst)
{
  for (gsize r = 0; r < rows; r++) {
    const gfloat *x = src + r * d;
    gfloat mean = stats[2 * r], inverse_std = stats[2 * r + 1];

#pragma omp simd
    for (gsize j = 0; j < d; j++)
      dst[r * d + j] = quantized_value ((x[j] - mean) * inverse_std * gamma[j] + beta[j],
          inverse, zero_point);
  }
}

/* Host step of an int8 linear layer fed by a layer norm: host_quantize's args (src the
 * norm's input [rows, d]), then the norm's weight and bias ([d]), epsilon (gdouble) and
 * row statistics (float [rows, 2]); sizes rows, d, out. Two passes over the norm's input
 * instead of the norm's float output written and read twice. */
static void
host_norm_quantize (const gpointer *args, const gsize *sizes)
{
  const gfloat *src = args[0], *gamma = args[5], *beta = args[6];
  gsize rows = sizes[0], d = sizes[1];
  gfloat lo, hi, inverse;

  norm_rows_range (src, rows, d, gamma, beta, (gfloat) *(const gdouble *) args[7], args[8],
      &lo, &hi);
  inverse = input_scale (lo, hi, args[4], sizes[2], args[2], args[3]);
  norm_rows_quantize (src, rows, d, gamma, beta, args[8], inverse,
      (gfloat) *(gint32 *) args[2], args[1]);
}

/* Clip b's int8 matmul on the quantised input of the host step before it. */
static gboolean
add_quantized_matmul (TsfPlan *plan, const TsfLinearOp *op, const TsfLinear *w, gsize b,
    gfloat *dst, const gfloat *residual, GError **error)
{
  gsize out = op->rows * op->out;

  return tsf_program_matmul_quantized (plan->program, op->matmul, plan->linear_input,
      plan->zero_point, w->weight, plan->scales, w->bias, dst + b * out,
      residual != NULL ? residual + b * out : NULL, error);
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
  for (gsize b = 0, in = op->rows * op->in; b < plan->clips; b++) {
    tsf_program_host (plan->program, host_quantize, 5, (gpointer[]) { (gpointer) (src + b * in),
          plan->linear_input, plan->zero_point, plan->scales, (gpointer) w->scales }, 2,
        (gsize[]) { in, op->out });
    if (!add_quantized_matmul (plan, op, w, b, dst, residual, error))
      return FALSE;
  }
  return TRUE;
}

gboolean
tsf_add_normed_input (TsfPlan *plan, const TsfConfig *c, const TsfOp *norm_op,
    const TsfNorm *norm, gboolean shift, const gfloat *src, GError **error)
{
  if (!tsf_program_layernorm (plan->program, norm_op, src, plan->normed, norm->weight,
          norm->bias, error))
    return FALSE;
  if (shift && c->shift_tokens)
    tsf_add_token_shift (plan, c);
  return TRUE;
}

gboolean
tsf_add_normed_linear (TsfPlan *plan, const TsfConfig *c, const TsfOp *norm_op,
    const TsfNorm *norm, gboolean shift, const gfloat *src, const TsfLinearOp *op,
    const TsfLinear *w, gfloat *dst, GError **error)
{
  shift = shift && c->shift_tokens;
  if (plan->linear != TSF_PRECISION_INT8 || shift)
    return tsf_add_normed_input (plan, c, norm_op, norm, shift, src, error)
        && tsf_add_linear (plan, op, plan->normed, w, dst, NULL, error);
  g_return_val_if_fail (w->scales != NULL, FALSE);
  for (gsize b = 0, in = op->rows * op->in; b < plan->clips; b++) {
    tsf_program_host (plan->program, host_norm_quantize, 9, (gpointer[]) {
          (gpointer) (src + b * in), plan->linear_input, plan->zero_point, plan->scales,
          (gpointer) w->scales, (gpointer) norm->weight, (gpointer) norm->bias,
          (gpointer) &c->layer_norm_eps, plan->row_stats }, 3,
        (gsize[]) { op->rows, op->in, op->out });
    if (!add_quantized_matmul (plan, op, w, b, dst, NULL, error))
      return FALSE;
  }
  return TRUE;
}
