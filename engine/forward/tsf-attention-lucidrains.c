/* tsf-attention-lucidrains.c: lucidrains' TimeSformer-pytorch 0.4.1 (docs/seed-models.md), a
 * grouped scheme of two steps per layer: time (the patch queries of one position over [cls,
 * that position in every frame], masked frames removed) and space (those of one frame over
 * [cls, the frame's patches]); in both the cls query attends over every token with unrotated
 * keys (masked frames removed), and with rotary_emb the patch tokens' q and k are rotated by
 * the frame index (time) or the patch position (space). Tokens are frame-major (joint's
 * layout), the MLP is GEGLU, positions are pos_emb rows in token order or rotations. */
#include "tsf-plan.h"

#include <math.h>

static guint
space_keys (const TsfLayout *l)
{
  return l->frames;
}

static guint
space_key (const TsfLayout *l, guint t, guint i, guint j)
{
  return t;
}

static const TsfGroupedStep lucidrains_steps[] = {
  { tsf_position_keys, tsf_position_key, TRUE, TSF_ROTARY_FRAME },
  { space_keys, space_key, FALSE, TSF_ROTARY_GRID },
};

/* Channels a step rotates: time 2 x ceil(d / 2), space 4 x floor(d / 4) (d the head size). */
static gsize
rotated_channels (TsfRotaryKind kind, gsize head_size)
{
  return kind == TSF_ROTARY_FRAME ? 2 * ((head_size + 1) / 2) : 4 * (head_size / 4);
}

static gsize
rotary_positions (TsfRotaryKind kind, const TsfLayout *l)
{
  return kind == TSF_ROTARY_FRAME ? l->frames : l->patches;
}

/* torch.linspace (-1, 1, steps)[i] in float32 (the library's grid positions). */
static gfloat
grid_position (guint i, guint steps)
{
  gfloat step;

  if (steps == 1)
    return -1.0f;
  step = 2.0f / (gfloat) (steps - 1);
  return i < steps / 2 ? -1.0f + step * (gfloat) i : 1.0f - step * (gfloat) (steps - 1 - i);
}

/* The angle of channel ch at position `pos` (a frame, or a patch of the grid). */
static gdouble
rotary_angle (TsfRotaryKind kind, const TsfLayout *l, const TsfWeights *w, gsize head_size,
    gsize pos, gsize ch)
{
  gsize m = (head_size + 1) / 2, k = head_size / 4;

  if (kind == TSF_ROTARY_FRAME)
    return (gdouble) pos * w->time_frequencies[ch % m];
  if (ch < 2 * k)
    return (gdouble) grid_position (pos / l->grid_w, l->grid_h) * w->space_scales[ch / 2] * G_PI;
  return (gdouble) grid_position (pos % l->grid_w, l->grid_w) * w->space_scales[(ch - 2 * k) / 2]
      * G_PI;
}

void
tsf_fill_rotary (const TsfConfig *c, const TsfWeights *w, TsfPlan *plan)
{
  const TsfLayout *l = &plan->layout;
  gsize head_size = tsf_config_attention_size (c) / c->num_attention_heads;

  for (guint s = 0; s < l->scheme->n_steps; s++) {
    TsfRotaryKind kind = l->scheme->grouped_steps[s].rotary;
    gsize r = rotated_channels (kind, head_size), positions = rotary_positions (kind, l);
    gfloat *cos_table = plan->rotary[s], *sin_table = cos_table + positions * r;

    if (cos_table == NULL)
      continue;
    for (gsize p = 0; p < positions; p++)
      for (gsize ch = 0; ch < r; ch++) {
        gdouble theta = rotary_angle (kind, l, w, head_size, p, ch);
        cos_table[p * r + ch] = cos (theta);
        sin_table[p * r + ch] = sin (theta);
      }
  }
}

/* args: gathered qkv, rows, cos, sin; sizes: gathered rows, attention size, heads, rotated
 * channels, by frame (1) or by patch (0), patches. Rotates the q and k of every head of the
 * patch rows: out[2k] = x[2k] cos[2k] - x[2k+1] sin[2k], out[2k+1] = x[2k+1] cos[2k+1] +
 * x[2k] sin[2k+1]. */
static void
host_rotate (const gpointer *args, const gsize *sizes)
{
  gfloat *qkv = args[0];
  const guint32 *rows = args[1];
  const gfloat *cos_table = args[2], *sin_table = args[3];
  gsize a = sizes[1], heads = sizes[2], r = sizes[3], patches = sizes[5];
  gsize head_size = a / heads;

  for (gsize row = 0; row < sizes[0]; row++) {
    gsize token = rows[row];
    if (token == 0)
      continue;
    gsize pos = sizes[4] ? (token - 1) / patches : (token - 1) % patches;
    const gfloat *cs = cos_table + pos * r, *sn = sin_table + pos * r;
    for (gsize part = 0; part < 2; part++)       /* q, k */
      for (gsize h = 0; h < heads; h++) {
        gfloat *x = qkv + row * 3 * a + part * a + h * head_size;
        for (gsize k = 0; k + 1 < r; k += 2) {
          gfloat even = x[k], odd = x[k + 1];
          x[k] = even * cs[k] - odd * sn[k];
          x[k + 1] = odd * cs[k + 1] + even * sn[k + 1];
        }
      }
  }
}

void
tsf_add_rotary (TsfPlan *plan, const TsfConfig *c, guint step)
{
  const TsfLayout *l = &plan->layout;
  TsfRotaryKind kind = l->scheme->grouped_steps[step].rotary;
  gsize a = tsf_config_attention_size (c), heads = c->num_attention_heads;
  gsize r = rotated_channels (kind, a / heads);
  gfloat *cos_table = plan->rotary[step];
  gsize gathered = plan->groups[step].n_rows;

  for (gsize b = 0; b < plan->clips; b++) {
    gpointer args[4] = { plan->gathered_qkv + b * gathered * 3 * a, plan->groups[step].rows,
      cos_table, cos_table + rotary_positions (kind, l) * r };
    tsf_program_host (plan->program, host_rotate, 4, args, 6, (gsize[]) {
          gathered, a, heads, r, kind == TSF_ROTARY_FRAME, l->patches });
  }
}

/* args: qkv, attended, key mask, scores; sizes: rows, attention size, heads, patches. Per
 * head: softmax over every row's key of the cls query (row 0), scaled by head_size^-0.5, keys
 * of removed frames left out; the weighted sum of the values into attended row 0. */
static void
host_cls_attention (const gpointer *args, const gsize *sizes)
{
  const gfloat *qkv = args[0];
  gfloat *out = args[1], *scores = args[3];
  const guint8 *keep = args[2];
  gsize rows = sizes[0], a = sizes[1], heads = sizes[2], patches = sizes[3];
  gsize head_size = a / heads;
  gdouble scale = 1.0 / sqrt ((gdouble) head_size);

  for (gsize h = 0; h < heads; h++) {
    const gfloat *q = qkv + h * head_size;
    gdouble max = -INFINITY, sum = 0;
    for (gsize r = 0; r < rows; r++) {
      const gfloat *k = qkv + r * 3 * a + a + h * head_size;
      gdouble dot = 0;
      if (r > 0 && !keep[1 + (r - 1) / patches]) {
        scores[r] = -INFINITY;
        continue;
      }
      for (gsize i = 0; i < head_size; i++)
        dot += (gdouble) q[i] * k[i];
      scores[r] = dot * scale;
      max = MAX (max, scores[r]);
    }
    for (gsize r = 0; r < rows; r++)
      sum += scores[r] = exp (scores[r] - max);
    for (gsize i = 0; i < head_size; i++) {
      gdouble value = 0;
      for (gsize r = 0; r < rows; r++)
        value += scores[r] * qkv[r * 3 * a + 2 * a + h * head_size + i];
      out[h * head_size + i] = value / sum;
    }
  }
}

void
tsf_add_cls_attention (TsfPlan *plan, const TsfConfig *c)
{
  gsize a = tsf_config_attention_size (c), rows = plan->layout.rows;

  for (gsize b = 0; b < plan->clips; b++) {
    gpointer args[4] = { plan->qkv + b * rows * 3 * a, plan->attended + b * rows * a,
      plan->key_mask + b * (1 + plan->layout.frames), plan->cls_scores };
    tsf_program_host (plan->program, host_cls_attention, 4, args, 4, (gsize[]) {
          rows, a, c->num_attention_heads, plan->layout.patches });
  }
}

/* The grouped steps' pairs, and per step the cls query over every token. */
static gdouble
lucidrains_pairs (const TsfLayout *l)
{
  return tsf_grouped_pairs (l) + G_N_ELEMENTS (lucidrains_steps) * (gdouble) l->rows;
}

const TsfAttentionScheme tsf_attention_lucidrains = {
  .type = TSF_ATTENTION_TIMESFORMER_PYTORCH,
  .temporal_block = FALSE,
  .time_embeddings = FALSE,
  .cls_per_frame = FALSE,
  .average_frames_before_head = FALSE,
  .n_steps = G_N_ELEMENTS (lucidrains_steps),
  .step_names = { "time", "space" },
  .grouped_steps = lucidrains_steps,
  .flat_positions = TRUE,
  .patch_channels_last = TRUE,
  .geglu = TRUE,
  .frame_mask = TRUE,
  .cls_attends_all = TRUE,
  .expect_tensors = tsf_lucidrains_expect_tensors,
  .views = tsf_grouped_views,
  .add_block = tsf_grouped_block,
  .attention_pairs = lucidrains_pairs,
  .mlp_tokens = tsf_grouped_tokens,
  .attention_gemms = tsf_grouped_gemms,
};
