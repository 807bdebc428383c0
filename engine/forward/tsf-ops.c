/* tsf-ops.c: the oneDNN ops a plan shares between its layers (all layers have one shape). */
#include "tsf-plan.h"

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

gboolean
tsf_layer_ops (TsfProgram *program, const TsfConfig *config, const TsfWeightLayouts *w,
    const TsfLayout *l, const TsfAttentionView *views, guint n_views, TsfLayerOps *ops,
    GError **error)
{
  guint d = config->hidden_size, inter = config->intermediate_size;
  guint a = tsf_config_attention_size (config);
  TsfPrecision p = tsf_program_get_precision (program);
  dnnl_memory_desc_t rows;

  if (!tsf_md_matrix (&rows, p, l->rows, d, error)
      || !(ops->norm = tsf_program_layernorm_op (program, &rows, config->layer_norm_eps, error))
      || !(ops->qkv = tsf_linear_op (program, l->rows, d, 3 * a, config->qkv_bias, FALSE, FALSE,
              &w->qkv, error))
      || !(ops->proj = tsf_linear_op (program, l->rows, a, d, TRUE, FALSE, FALSE, &w->proj, error))
      || !(ops->proj_residual = tsf_linear_op (program, l->rows, a, d, TRUE, FALSE, TRUE, &w->proj,
              error))
      || !(ops->fc1 = tsf_linear_op (program, l->rows, d, inter, TRUE, TRUE, FALSE, &w->fc1, error))
      || !(ops->fc2 = tsf_linear_op (program, l->rows, inter, d, TRUE, FALSE, TRUE, &w->fc2,
              error)))
    return FALSE;
  if (l->scheme->geglu   /* intermediate half x GELU (gate half) */
      && !(ops->fc1_gated = linear_op (program, l->rows, d, inter, TRUE,
              (TsfMatmulOptions) { .multiply = TRUE }, &w->fc1, error)))
    return FALSE;
  for (guint i = 0; i < n_views; i++)
    if (!tsf_attention_ops (program, config, &views[i], &ops->qk[i], &ops->softmax[i],
            &ops->sv[i], error))
      return FALSE;
  return TRUE;
}
