/* tsf-attention-joint.c: joint space-time attention: every token over all tokens of the clip
 * (one cls token, then the patches frame by frame). */
#include "tsf-plan.h"

static guint
joint_views (const TsfLayout *l, TsfAttentionView *views)
{
  views[0] = (TsfAttentionView) { 1, l->rows, 0, 0, 1, 0, 0, FALSE };
  return 1;
}

static gboolean
joint_block (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  return tsf_add_spatial_attention (plan, c, ops, views, w, plan->hidden[0], plan->hidden[1],
      error)
      && tsf_add_mlp (plan, c, ops, w, plan->hidden[1], error);
}

static gdouble
joint_pairs (const TsfLayout *l)
{
  gdouble t = l->frames, n = l->patches;

  return (1 + n * t) * (1 + n * t);
}

static guint
joint_tokens (guint t, guint n)
{
  return 1 + n * t;
}

static guint
joint_gemms (const TsfConfig *c, guint t, guint n, gboolean temporal_folded,
    TsfGemmShape *out)
{
  guint d = c->hidden_size, layers = c->num_hidden_layers;

  out[0] = (TsfGemmShape) { 1 + n * t, d, 3 * d, layers };    /* qkv */
  out[1] = (TsfGemmShape) { 1 + n * t, d, d, layers };        /* output.dense */
  return 2;
}

const TsfAttentionScheme tsf_attention_joint = {
  .type = TSF_ATTENTION_JOINT_SPACE_TIME,
  .temporal_block = FALSE,
  .time_embeddings = TRUE,
  .cls_per_frame = FALSE,
  .average_frames_before_head = FALSE,
  .views = joint_views,
  .add_block = joint_block,
  .attention_pairs = joint_pairs,
  .mlp_tokens = joint_tokens,
  .attention_gemms = joint_gemms,
};
