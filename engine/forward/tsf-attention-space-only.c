/* tsf-attention-space-only.c: space-only attention: each frame over its cls copy and patches,
 * no time embeddings; the head averages the frames' cls rows. */
#include "tsf-plan.h"

static guint
space_only_views (const TsfLayout *l, TsfAttentionView *views)
{
  views[0] = (TsfAttentionView) { l->frames, 1 + l->patches, 0, 1 + l->patches, 1, 0, 0, FALSE };
  return 1;
}

static gboolean
space_only_block (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  return tsf_add_spatial_attention (plan, c, ops, views, w, plan->hidden[0], plan->hidden[1],
      error)
      && tsf_add_mlp (plan, c, ops, w, plan->hidden[1], error);
}

static gdouble
space_only_pairs (const TsfLayout *l)
{
  gdouble t = l->frames, n = l->patches;

  return t * (1 + n) * (1 + n);
}

static guint
space_only_tokens (guint t, guint n)
{
  return t * (1 + n);
}

static guint
space_only_gemms (const TsfConfig *c, guint t, guint n, gboolean temporal_folded,
    TsfGemmShape *out)
{
  guint d = c->hidden_size, layers = c->num_hidden_layers;

  out[0] = (TsfGemmShape) { t * (1 + n), d, 3 * d, layers };  /* qkv */
  out[1] = (TsfGemmShape) { t * (1 + n), d, d, layers };      /* output.dense */
  return 2;
}

const TsfAttentionScheme tsf_attention_space_only = {
  .type = TSF_ATTENTION_SPACE_ONLY,
  .temporal_block = FALSE,
  .time_embeddings = FALSE,
  .cls_per_frame = TRUE,
  .average_frames_before_head = TRUE,
  .views = space_only_views,
  .add_block = space_only_block,
  .attention_pairs = space_only_pairs,
  .mlp_tokens = space_only_tokens,
  .attention_gemms = space_only_gemms,
};
