/* tsf-attention.c: multi-head self-attention over a strided view of the qkv rows, the steps
 * every scheme shares (LayerNorm, qkv, attention, output.dense + residual), and the table of
 * schemes. One file per scheme: tsf-attention-<scheme>.c. */
#include "tsf-plan.h"

#include <math.h>

/* Above this many bytes of attention scores, attention runs one head at a time. */
#ifndef MAX_SCORES_BYTES
#define MAX_SCORES_BYTES (128u << 20)
#endif
/* Attention products below this run on the calling thread (temporal attention of 8 frames:
 * 20 MFLOP, where a parallel region costs more than it saves on a busy machine). */
#define SMALL_PRODUCT_FLOPS 64e6

static const TsfAttentionScheme *const schemes[] = {
  [TSF_ATTENTION_DIVIDED_SPACE_TIME] = &tsf_attention_divided,
  [TSF_ATTENTION_JOINT_SPACE_TIME] = &tsf_attention_joint,
  [TSF_ATTENTION_SPACE_ONLY] = &tsf_attention_space_only,
  [TSF_ATTENTION_SPARSE_LOCAL_GLOBAL] = &tsf_attention_sparse_local_global,
  [TSF_ATTENTION_AXIAL] = &tsf_attention_axial,
  [TSF_ATTENTION_TIMESFORMER_PYTORCH] = &tsf_attention_lucidrains,
};

const TsfAttentionScheme *
tsf_attention_scheme (TsfAttentionType type)
{
  g_return_val_if_fail ((guint) type < G_N_ELEMENTS (schemes), schemes[0]);
  return schemes[type];
}

const TsfAttentionScheme *
tsf_attention_scheme_for_tensors (gboolean temporal_block, gboolean time_embeddings)
{
  const TsfAttentionScheme *found = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (schemes); i++) {
    if (schemes[i]->temporal_block != temporal_block || schemes[i]->n_steps > 0
        || schemes[i]->expect_tensors != NULL)
      continue;
    if (schemes[i]->time_embeddings == time_embeddings)
      return schemes[i];
    found = found != NULL ? found : schemes[i];
  }
  return found != NULL ? found : &tsf_attention_joint;
}

static gsize
attention_heads_per_step (const TsfAttentionView *view, guint heads)
{
  gsize bytes = view->groups * heads * view->length * view->length * sizeof (gfloat);

  return bytes > MAX_SCORES_BYTES ? 1 : heads;
}

/* q k^T * scale, softmax and probabilities x v for `view`, heads_per_step heads at a time. */
gboolean
tsf_attention_ops (TsfProgram *program, const TsfConfig *config, const TsfAttentionView *v,
    TsfOp **qk, TsfOp **softmax, TsfOp **sv, GError **error)
{
  gsize d = tsf_config_attention_size (config), hd = d / config->num_attention_heads;
  gsize g = v->groups, h = v->heads_per_step, n = v->length;
  dnnl_dim_t dims_q[4] = { g, h, n, hd }, strides_q[4] = { v->group_stride * 3 * d, hd,
    v->token_stride * 3 * d, 1 };
  dnnl_dim_t dims_k[4] = { g, h, hd, n }, strides_k[4] = { v->group_stride * 3 * d, hd, 1,
    v->token_stride * 3 * d };
  dnnl_dim_t dims_s[4] = { g, h, n, n }, strides_s[4] = { h * n * n, n * n, n, 1 };
  dnnl_dim_t strides_o[4] = { v->group_stride * d, hd, v->token_stride * d, 1 };
  dnnl_memory_desc_t q, k, s, o;
  gboolean small = 2.0 * g * h * n * n * hd < SMALL_PRODUCT_FLOPS;
  TsfMatmulOptions scaled = { .scale = 1.0f / sqrtf ((gfloat) hd), .prefer_gemm = TRUE,
    .single_thread = small };
  TsfMatmulOptions plain = { .prefer_gemm = TRUE, .single_thread = small };

  if (g == 1)   /* a single group: its stride is never used but must be valid */
    strides_q[0] = strides_k[0] = strides_o[0] = (dnnl_dim_t) n * v->token_stride * 3 * d;
  if (!tsf_md_strided (&q, tsf_program_get_precision (program), 4, dims_q, strides_q, error)
      || !tsf_md_strided (&k, tsf_program_get_precision (program), 4, dims_k, strides_k, error)
      || !tsf_md_strided (&s, tsf_program_get_precision (program), 4, dims_s, strides_s, error)
      || !tsf_md_strided (&o, tsf_program_get_precision (program), 4, dims_q, strides_o, error))
    return FALSE;
  *qk = tsf_program_matmul_op (program, &q, &k, NULL, &s, &scaled, error);
  *softmax = *qk ? tsf_program_softmax_op (program, &s, 3, error) : NULL;
  *sv = *softmax ? tsf_program_matmul_op (program, &s, &q, NULL, &o, &plain, error) : NULL;
  return *sv != NULL;
}

/* args: scores, key_mask; sizes: score rows, keys. Scores of removed keys become -inf. */
static void
host_mask_keys (const gpointer *args, const gsize *sizes)
{
  gfloat *scores = args[0];
  const guint8 *keep = args[1];

  for (gsize s = 0; s < sizes[1]; s++)
    if (!keep[s])
      for (gsize r = 0; r < sizes[0]; r++)
        scores[r * sizes[1] + s] = -INFINITY;
}

/* Multi-head self-attention over `view` from the qkv rows `qkv_rows` ([rows, 3 A]) into
 * `out_rows` ([rows, A]), A the attention size, for each clip of the plan (`clip_rows` rows
 * each); `key_mask` (or NULL): per key of a sequence, 0 removes it (its scores -inf before the
 * softmax), 1 + frames of them per clip. */
gboolean
tsf_add_attention_view (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *view,
    TsfOp *qk, TsfOp *softmax, TsfOp *sv, const gfloat *qkv_rows, gfloat *out_rows,
    gsize clip_rows, const guint8 *key_mask, GError **error)
{
  gsize mask_sizes[2] = { view->groups * view->heads_per_step * view->length, view->length };
  gsize d = tsf_config_attention_size (c), hd = d / c->num_attention_heads;

  for (gsize b = 0; b < plan->clips; b++) {
    const gfloat *qkv = qkv_rows + (b * clip_rows + view->offset) * 3 * d;
    gfloat *out = out_rows + (b * clip_rows + view->offset) * d;
    gpointer mask_args[2] = { plan->scores, key_mask == NULL ? NULL
        : (gpointer) (key_mask + b * (1 + plan->layout.frames)) };

    for (gsize h = 0; h < c->num_attention_heads; h += view->heads_per_step) {
      const gfloat *q = qkv + h * hd, *k = q + d, *v = q + 2 * d;
      if (!tsf_program_matmul (plan->program, qk, q, k, NULL, plan->scores, NULL, error))
        return FALSE;
      if (key_mask != NULL)
        tsf_program_host (plan->program, host_mask_keys, 2, mask_args, 2, mask_sizes);
      if (!tsf_program_softmax (plan->program, softmax, plan->scores, error)
          || !tsf_program_matmul (plan->program, sv, plan->scores, v, NULL, out + h * hd, NULL,
              error))
        return FALSE;
    }
  }
  return TRUE;
}

/* LayerNorm, qkv and attention: `in` -> plan->attended. */
gboolean
tsf_add_self_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops, guint view,
    const TsfAttentionView *views, const gfloat *in, const TsfNorm *norm, const TsfLinear *qkv,
    GError **error)
{
  return tsf_program_layernorm (plan->program, ops->norm, in, plan->normed, norm->weight,
      norm->bias, error)
      && tsf_add_linear (plan, &ops->qkv, plan->normed, qkv, plan->qkv, NULL, error)
      && tsf_add_attention_view (plan, c, &views[view], ops->qk[view], ops->softmax[view],
      ops->sv[view], plan->qkv, plan->attended, plan->layout.rows, NULL, error);
}

/* Attention of every frame over its cls copy and patches, output.dense, residual:
 * `in` -> `out`. */
gboolean
tsf_add_spatial_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, const gfloat *in, gfloat *out,
    GError **error)
{
  if (!tsf_add_self_attention (plan, c, ops, 0, views, in, &w->layernorm_before, &w->qkv, error)
      || !tsf_add_linear (plan, &ops->proj_residual, plan->attended, &w->proj, out, in, error))
    return FALSE;
  return TRUE;
}

guint
tsf_attention_views (const TsfConfig *c, const TsfLayout *l, TsfAttentionView *views)
{
  guint n = tsf_attention_scheme (c->attention_type)->views (l, views);

  for (guint i = 0; i < n; i++)
    views[i].heads_per_step = attention_heads_per_step (&views[i], c->num_attention_heads);
  return n;
}
