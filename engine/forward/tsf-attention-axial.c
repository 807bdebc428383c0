/* tsf-attention-axial.c: axial attention (the paper's T+W+H; issue 17's specification, see
 * docs/seed-models.md): three grouped steps per layer, time (the tokens of one patch position,
 * all frames), width (one frame and row, all columns), height (one frame and column, all
 * rows); each group attends with the cls token (tsf-attention-grouped.c). */
#include "tsf-plan.h"

static guint
width_keys (const TsfLayout *l)
{
  return l->frames * l->grid_h;
}

static guint
width_key (const TsfLayout *l, guint t, guint i, guint j)
{
  return t * l->grid_h + i;
}

static guint
height_keys (const TsfLayout *l)
{
  return l->frames * l->grid_w;
}

static guint
height_key (const TsfLayout *l, guint t, guint i, guint j)
{
  return t * l->grid_w + j;
}

static const TsfGroupedStep axial_steps[] = {
  { tsf_position_keys, tsf_position_key, FALSE, TSF_ROTARY_NONE },
  { width_keys, width_key, FALSE, TSF_ROTARY_NONE },
  { height_keys, height_key, FALSE, TSF_ROTARY_NONE },
};

const TsfAttentionScheme tsf_attention_axial = {
  .type = TSF_ATTENTION_AXIAL,
  .temporal_block = FALSE,
  .time_embeddings = TRUE,
  .cls_per_frame = FALSE,
  .average_frames_before_head = FALSE,
  .n_steps = G_N_ELEMENTS (axial_steps),
  .step_names = { "time", "width", "height" },
  .grouped_steps = axial_steps,
  .views = tsf_grouped_views,
  .add_block = tsf_grouped_block,
  .attention_pairs = tsf_grouped_pairs,
  .mlp_tokens = tsf_grouped_tokens,
  .attention_gemms = tsf_grouped_gemms,
};
