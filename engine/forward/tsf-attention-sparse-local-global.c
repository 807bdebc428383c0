/* tsf-attention-sparse-local-global.c: sparse local-global attention (the paper's L+G; issue
 * 17's specification, see docs/seed-models.md): two grouped steps per layer, local (the patch
 * rows split at ceil(GH/2), the columns at ceil(GW/2): up to four windows, each over all
 * frames) and global (the tokens of one (frame mod 2, row mod 2, column mod 2): a stride of 2 in
 * time, height and width); empty groups are skipped (tsf-attention-grouped.c). */
#include "tsf-plan.h"

static guint
local_keys (const TsfLayout *l)
{
  return 4;
}

static guint
local_key (const TsfLayout *l, guint t, guint i, guint j)
{
  return (i >= (l->grid_h + 1) / 2) * 2 + (j >= (l->grid_w + 1) / 2);
}

static guint
global_keys (const TsfLayout *l)
{
  return 8;
}

static guint
global_key (const TsfLayout *l, guint t, guint i, guint j)
{
  return (t % 2) * 4 + (i % 2) * 2 + j % 2;
}

static const TsfGroupedStep sparse_steps[] = {
  { local_keys, local_key, FALSE, TSF_ROTARY_NONE },
  { global_keys, global_key, FALSE, TSF_ROTARY_NONE },
};

const TsfAttentionScheme tsf_attention_sparse_local_global = {
  .type = TSF_ATTENTION_SPARSE_LOCAL_GLOBAL,
  .temporal_block = FALSE,
  .time_embeddings = TRUE,
  .cls_per_frame = FALSE,
  .average_frames_before_head = FALSE,
  .n_steps = G_N_ELEMENTS (sparse_steps),
  .step_names = { "local", "global" },
  .grouped_steps = sparse_steps,
  .views = tsf_grouped_views,
  .add_block = tsf_grouped_block,
  .attention_pairs = tsf_grouped_pairs,
  .mlp_tokens = tsf_grouped_tokens,
  .attention_gemms = tsf_grouped_gemms,
};
