/* tsf-attention-divided.c: divided space-time attention (the paper's default): each patch
 * attends over its frames (temporal sub-block, with its own LayerNorm, qkv and projections),
 * then each frame over its cls copy and patches; the frames' cls outputs are averaged. */
#include "tsf-plan.h"

static guint
divided_views (const TsfLayout *l, TsfAttentionView *views)
{
  /* each frame: its cls copy and N patches */
  views[0] = (TsfAttentionView) { l->frames, 1 + l->patches, 0, 1 + l->patches, 1, 0, 0, FALSE };
  /* each patch over the frames */
  views[1] = (TsfAttentionView) { l->patches, l->frames, 1, 1, 1 + l->patches, 0, 0, FALSE };
  return 2;
}

/* temporal output.dense then temporal_dense, plus the residual: two linear layers (f32), or
 * one, temporal_output, where the forward folded them (bf16, int8). */
static gboolean
add_temporal_output (TsfPlan *plan, const TsfLayerOps *ops, const TsfLayerWeights *w,
    GError **error)
{
  if (w->temporal_output.weight != NULL)
    return tsf_add_linear (plan, &ops->proj_residual, plan->attended, &w->temporal_output,
        plan->hidden[1], plan->hidden[0], error);
  return tsf_add_linear (plan, &ops->proj, plan->attended, &w->temporal_proj, plan->projected,
      NULL, error)
      && tsf_add_linear (plan, &ops->proj_residual, plan->projected, &w->temporal_dense,
          plan->hidden[1], plan->hidden[0], error);
}

/* Divided block, part 1: each patch attends over its frames; output.dense, temporal_dense,
 * residual. hidden[0] -> hidden[1]; the cls rows pass through unchanged. */
static gboolean
add_temporal_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  if (!tsf_add_self_attention (plan, c, ops, 1, views, plan->hidden[0], &w->temporal_layernorm,
          &w->temporal_qkv, error)
      || !add_temporal_output (plan, ops, w, error))
    return FALSE;
  tsf_add_cls_rows_step (plan, tsf_host_copy_rows, plan->hidden[1], plan->hidden[0],
      c->hidden_size);
  return TRUE;
}

static gboolean
divided_block (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  if (!add_temporal_attention (plan, c, ops, views, w, error)
      || !tsf_add_spatial_attention (plan, c, ops, views, w, plan->hidden[1], plan->hidden[2],
          error))
    return FALSE;
  tsf_add_cls_rows_step (plan, tsf_host_average_rows, plan->hidden[2], NULL, c->hidden_size);
  return tsf_add_mlp (plan, c, ops, w, plan->hidden[2], error);
}

static gdouble
divided_pairs (const TsfLayout *l)
{
  gdouble t = l->frames, n = l->patches;

  return n * t * t + t * (1 + n) * (1 + n);
}

static guint
divided_mlp_tokens (guint t, guint n)
{
  return 1 + n * t;
}

static guint
divided_gemms (const TsfConfig *c, guint t, guint n, gboolean temporal_folded,
    TsfGemmShape *out)
{
  guint d = c->hidden_size, layers = c->num_hidden_layers;

  out[0] = (TsfGemmShape) { n * t, d, 3 * d, layers };        /* temporal qkv */
  out[1] = (TsfGemmShape) { n * t, d, d,                      /* output.dense, temporal_dense */
    (temporal_folded ? 1 : 2) * layers };                     /* (or both as one) */
  out[2] = (TsfGemmShape) { t * (1 + n), d, 3 * d, layers };  /* qkv */
  out[3] = (TsfGemmShape) { t * (1 + n), d, d, layers };      /* output.dense */
  return 4;
}

const TsfAttentionScheme tsf_attention_divided = {
  .type = TSF_ATTENTION_DIVIDED_SPACE_TIME,
  .temporal_block = TRUE,
  .time_embeddings = TRUE,
  .cls_per_frame = TRUE,
  .average_frames_before_head = FALSE,
  .views = divided_views,
  .add_block = divided_block,
  .attention_pairs = divided_pairs,
  .mlp_tokens = divided_mlp_tokens,
  .attention_gemms = divided_gemms,
};
