/* tsf-attention.c: multi-head self-attention over a strided view of the qkv rows, the steps
 * every scheme shares (LayerNorm, qkv, attention, output.dense + residual), and the table of
 * schemes. One file per scheme: tsf-attention-<scheme>.c. */
#include "tsf-plan.h"

#include <math.h>

#include "tsf-avx512.h"

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

/* q k^T * scale, softmax and probabilities x v for `view`, heads_per_step heads at a time, of
 * `clips` clips (with more than one, an outer dimension of the descriptors). */
gboolean
tsf_attention_ops (TsfProgram *program, const TsfConfig *config, const TsfAttentionView *v,
    guint clips, TsfOp **qk, TsfOp **softmax, TsfOp **sv, GError **error)
{
  gsize d = tsf_config_attention_size (config), hd = d / config->num_attention_heads;
  gsize g = v->groups, h = v->heads_per_step, n = v->length, cs = v->clip_rows;
  /* [clip,] group, head, token, channel */
  dnnl_dim_t dims_q[5] = { clips, g, h, n, hd }, strides_q[5] = { cs * 3 * d,
    v->group_stride * 3 * d, hd, v->token_stride * 3 * d, 1 };
  dnnl_dim_t dims_k[5] = { clips, g, h, hd, n }, strides_k[5] = { cs * 3 * d,
    v->group_stride * 3 * d, hd, 1, v->token_stride * 3 * d };
  dnnl_dim_t dims_s[5] = { clips, g, h, n, n }, strides_s[5] = { g * h * n * n, h * n * n,
    n * n, n, 1 };
  dnnl_dim_t strides_o[5] = { cs * d, v->group_stride * d, hd, v->token_stride * d, 1 };
  gint first = clips > 1 ? 0 : 1, nd = 5 - first;
  TsfPrecision p = tsf_program_get_precision (program);
  dnnl_memory_desc_t q, k, s, o;
  gboolean small = 2.0 * clips * g * h * n * n * hd < SMALL_PRODUCT_FLOPS;
  TsfMatmulOptions scaled = { .scale = 1.0f / sqrtf ((gfloat) hd), .prefer_gemm = TRUE,
    .single_thread = small };
  TsfMatmulOptions plain = { .prefer_gemm = TRUE, .single_thread = small };

  *qk = *softmax = *sv = NULL;
  if (v->on_host)
    return TRUE;

  if (g == 1)   /* a single group: its stride is never used but must be valid */
    strides_q[1] = strides_k[1] = strides_o[1] = (dnnl_dim_t) n * v->token_stride * 3 * d;
  if (!tsf_md_strided (&q, p, nd, dims_q + first, strides_q + first, error)
      || !tsf_md_strided (&k, p, nd, dims_k + first, strides_k + first, error)
      || !tsf_md_strided (&s, p, nd, dims_s + first, strides_s + first, error)
      || !tsf_md_strided (&o, p, nd, dims_q + first, strides_o + first, error))
    return FALSE;
  *qk = tsf_program_matmul_op (program, &q, &k, NULL, &s, &scaled, error);
  *softmax = *qk ? tsf_program_softmax_op (program, &s, nd - 1, error) : NULL;
  *sv = *softmax ? tsf_program_matmul_op (program, &s, &q, NULL, &o, &plain, error) : NULL;
  return *sv != NULL;
}

gboolean
tsf_host_attention_fits (gsize head_size)
{
#ifdef HOST_ATTENTION_KERNELS
  return head_size % LANES == 0 && g_strcmp0 (g_getenv ("TSF_ATTENTION_KERNELS"), "onednn") != 0
      && __builtin_cpu_supports ("avx512f");
#else
  return FALSE;
#endif
}

/* The view's attention (no key mask) of every clip as one host step: the short or the long
 * sequences' kernels. */
static void
add_host_attention (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *view,
    const gfloat *qkv_rows, gfloat *out_rows)
{
#ifdef HOST_ATTENTION_KERNELS
  gsize a = tsf_config_attention_size (c);
  gpointer args[3] = { (gpointer) (qkv_rows + view->offset * 3 * a), out_rows + view->offset * a,
    plan->scores };

  tsf_program_host (plan->program, view->length <= TSF_MAX_SHORT_LENGTH
      ? tsf_host_short_attention : tsf_long_attention_kernel (plan->linear,
          a / c->num_attention_heads), 3, args, 10, (gsize[]) {
        view->groups, view->length, view->group_stride, view->token_stride, a,
        c->num_attention_heads, plan->clips, view->clip_rows,
        tsf_long_attention_scratch (view->length, a / c->num_attention_heads),
        tsf_program_get_threads (plan->program) });
#else
  g_return_if_reached ();
#endif
}

/* args: scores, key_mask; sizes: score rows of a clip, keys, clips, the mask's keys per clip.
 * Scores of removed keys become -inf. */
static void
host_mask_keys (const gpointer *args, const gsize *sizes)
{
  gsize rows = sizes[0], keys = sizes[1];

  for (gsize b = 0; b < sizes[2]; b++) {
    gfloat *scores = (gfloat *) args[0] + b * rows * keys;
    const guint8 *keep = (const guint8 *) args[1] + b * sizes[3];
    for (gsize s = 0; s < keys; s++)
      if (!keep[s])
        for (gsize r = 0; r < rows; r++)
          scores[r * keys + s] = -INFINITY;
  }
}

/* Multi-head self-attention over `view` from the qkv rows `qkv_rows` ([rows, 3 A]) into
 * `out_rows` ([rows, A]), A the attention size, for every clip of the plan at once
 * (view->clip_rows rows each); `key_mask` (or NULL): per key of a sequence, 0 removes it (its
 * scores -inf before the softmax), 1 + frames of them per clip. */
gboolean
tsf_add_attention_view (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *view,
    TsfOp *qk, TsfOp *softmax, TsfOp *sv, const gfloat *qkv_rows, gfloat *out_rows,
    const guint8 *key_mask, GError **error)
{
  gpointer mask_args[2] = { plan->scores, (gpointer) key_mask };
  gsize mask_sizes[4] = { view->groups * view->heads_per_step * view->length, view->length,
    plan->clips, 1 + plan->layout.frames };
  gsize d = tsf_config_attention_size (c), hd = d / c->num_attention_heads;
  const gfloat *qkv = qkv_rows + view->offset * 3 * d;
  gfloat *out = out_rows + view->offset * d;

  if (view->on_host) {
    g_return_val_if_fail (key_mask == NULL, FALSE);
    add_host_attention (plan, c, view, qkv_rows, out_rows);
    return TRUE;
  }
  for (gsize h = 0; h < c->num_attention_heads; h += view->heads_per_step) {
    const gfloat *q = qkv + h * hd, *k = q + d, *v = q + 2 * d;
    if (!tsf_program_matmul (plan->program, qk, q, k, NULL, plan->scores, NULL, error))
      return FALSE;
    if (key_mask != NULL)
      tsf_program_host (plan->program, host_mask_keys, 2, mask_args, 4, mask_sizes);
    if (!tsf_program_softmax (plan->program, softmax, plan->scores, error)
        || !tsf_program_matmul (plan->program, sv, plan->scores, v, NULL, out + h * hd, NULL,
            error))
      return FALSE;
  }
  return TRUE;
}

/* LayerNorm, qkv and attention: `in` -> plan->attended. */
gboolean
tsf_add_self_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops, guint view,
    const TsfAttentionView *views, const gfloat *in, const TsfNorm *norm, const TsfLinear *qkv,
    GError **error)
{
  return tsf_add_normed_linear (plan, c, ops->norm, norm, FALSE, in, &ops->qkv, qkv, plan->qkv,
      error)
      && tsf_add_attention_view (plan, c, &views[view], ops->qk[view], ops->softmax[view],
      ops->sv[view], plan->qkv, plan->attended, NULL, error);
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
  const TsfAttentionScheme *scheme = tsf_attention_scheme (c->attention_type);
  guint n = scheme->views (l, views);
  gsize head_size = tsf_config_attention_size (c) / c->num_attention_heads;

  for (guint i = 0; i < n; i++) {
    views[i].heads_per_step = attention_heads_per_step (&views[i], c->num_attention_heads);
    views[i].clip_rows = views[i].clip_rows ? views[i].clip_rows : l->rows;
    /* the grouped schemes' views may take a key mask */
    views[i].on_host = scheme->n_steps == 0 && tsf_host_attention_fits (head_size);
  }
  return n;
}
