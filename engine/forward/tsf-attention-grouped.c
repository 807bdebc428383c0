/* tsf-attention-grouped.c: the attention step shared by the grouped schemes (axial,
 * sparse_local_global; docs/seed-models.md). y = LayerNorm_step(x); the video tokens are split
 * into groups; each group, with the cls token first, goes through multi-head attention; every
 * video token adds its own output to x, the cls token the mean of its outputs over the groups.
 *
 * qkv runs once on all rows; the groups' qkv rows are gathered one group after another
 * ([cls, the group's tokens]); groups of one length are one batched view; the outputs are
 * scattered back (the cls row averaged) and output.dense + residual runs once on all rows
 * (it is linear, so the mean may be taken before it). */
#include "tsf-plan.h"

#include <string.h>

guint
tsf_position_keys (const TsfLayout *l)
{
  return l->patches;
}

guint
tsf_position_key (const TsfLayout *l, guint t, guint i, guint j)
{
  return i * l->grid_w + j;
}

static gsize
token_row (const TsfLayout *l, guint t, guint i, guint j)
{
  return 1 + t * l->frame_stride + i * l->grid_w + j;
}

/* Appends group `key` ([0 = cls, its tokens in row order]) to `rows` at `at`. */
static gsize
fill_group (const TsfGroupedStep *step, const TsfLayout *l, guint key, guint32 *rows, gsize at)
{
  rows[at++] = 0;
  for (guint t = 0; t < l->frames; t++)
    for (guint i = 0; i < l->grid_h; i++)
      for (guint j = 0; j < l->grid_w; j++)
        if (step->key (l, t, i, j) == key)
          rows[at++] = token_row (l, t, i, j);
  return at;
}

/* The views of one step: its non-empty groups by ascending length, groups of one length (in
 * key order) one view. With `rows`, also the gathered rows' table. Returns how many views. */
static guint
step_views (const TsfGroupedStep *step, const TsfLayout *l, TsfAttentionView *views,
    guint32 *rows)
{
  guint n_keys = step->n_keys (l), n_views = 0, length = 0;
  g_autofree guint *count = g_new0 (guint, n_keys);
  gsize offset = 0;

  for (guint t = 0; t < l->frames; t++)
    for (guint i = 0; i < l->grid_h; i++)
      for (guint j = 0; j < l->grid_w; j++)
        count[step->key (l, t, i, j)]++;
  for (;;) {
    guint next = G_MAXUINT, groups = 0;

    for (guint k = 0; k < n_keys; k++)
      if (count[k] > length && count[k] < next)
        next = count[k];
    if (next == G_MAXUINT || n_views == TSF_MAX_ATTENTION_VIEWS)
      return n_views;
    for (guint k = 0; k < n_keys; k++)
      if (count[k] == next) {
        if (rows != NULL)
          fill_group (step, l, k, rows, offset + (gsize) groups * (1 + next));
        groups++;
      }
    views[n_views++] = (TsfAttentionView) { groups, 1 + next, offset, 1 + next, 1, 0, 0, FALSE };
    offset += (gsize) groups * (1 + next);
    length = next;
  }
}

guint
tsf_grouped_views (const TsfLayout *l, TsfAttentionView *views)
{
  guint n = 0;

  for (guint s = 0; s < l->scheme->n_steps; s++) {
    guint step = step_views (&l->scheme->grouped_steps[s], l, views + n, NULL);
    gsize rows = tsf_grouped_rows (views + n, step);   /* the step's gathered rows per clip */

    for (guint v = n; v < n + step; v++)
      views[v].clip_rows = rows;
    n += step;
  }
  return n;
}

gsize
tsf_grouped_rows (const TsfAttentionView *views, guint n_views)
{
  gsize rows = 0;

  for (guint v = 0; v < n_views; v++)
    rows = MAX (rows, views[v].offset + views[v].groups * views[v].group_stride);
  return rows;
}

/* The plan's group tables, one per step (once per plan: every layer has the same groups). */
static void
build_tables (TsfPlan *plan)
{
  const TsfLayout *l = &plan->layout;
  TsfAttentionView views[TSF_MAX_ATTENTION_VIEWS];
  guint first = 0;

  for (guint s = 0; s < l->scheme->n_steps; s++) {
    const TsfGroupedStep *step = &l->scheme->grouped_steps[s];
    TsfGroupTable *table = &plan->groups[s];
    guint n = step_views (step, l, views, NULL);

    table->n_rows = tsf_grouped_rows (views, n);
    table->rows = g_new (guint32, table->n_rows);
    plan->buffer_bytes += table->n_rows * sizeof (guint32);
    step_views (step, l, views, table->rows);
    table->n_groups = 0;
    for (guint v = 0; v < n; v++)
      table->n_groups += views[v].groups;
    table->first_view = first;
    table->n_views = n;
    first += n;
  }
}

/* args: dst, src, rows; sizes: gathered rows, width. dst row r = src row rows[r]. */
static void
host_gather_rows (const gpointer *args, const gsize *sizes)
{
  gfloat *dst = args[0];
  const gfloat *src = args[1];
  const guint32 *rows = args[2];
  gsize width = sizes[1];

  for (gsize r = 0; r < sizes[0]; r++)
    memcpy (dst + r * width, src + rows[r] * width, width * sizeof (gfloat));
}

/* args: dst, src, rows; sizes: gathered rows, width, groups. dst row rows[r] = src row r for
 * the video tokens; dst row 0 = the mean of the groups' cls rows (unchanged if groups is 0). */
static void
host_scatter_rows (const gpointer *args, const gsize *sizes)
{
  gfloat *dst = args[0];
  const gfloat *src = args[1];
  const guint32 *rows = args[2];
  gsize width = sizes[1];

  if (sizes[2] != 0)
    memset (dst, 0, width * sizeof (gfloat));
  for (gsize r = 0; r < sizes[0]; r++) {
    const gfloat *row = src + r * width;
    if (rows[r] != 0) {
      memcpy (dst + rows[r] * width, row, width * sizeof (gfloat));
      continue;
    }
    for (gsize i = 0; i < width && sizes[2] != 0; i++)
      dst[i] += row[i];
  }
  for (gsize i = 0; i < width && sizes[2] != 0; i++)
    dst[i] /= (gfloat) sizes[2];
}

/* One step: LayerNorm, qkv, the groups' attention, output.dense + residual: `in` -> `out`. */
static gboolean
add_step (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, guint s, const gfloat *in,
    gfloat *out, GError **error)
{
  const TsfAttentionScheme *scheme = plan->layout.scheme;
  const TsfGroupTable *table = &plan->groups[s];
  gsize a = tsf_config_attention_size (c), rows = plan->layout.rows, gathered = table->n_rows;
  const guint8 *key_mask = scheme->grouped_steps[s].masked_keys ? plan->key_mask : NULL;

  if (!tsf_add_normed_linear (plan, c, ops->norm, &w->step_layernorm[s], TRUE, in, &ops->qkv,
          &w->step_qkv[s], plan->qkv, error))
    return FALSE;
  for (gsize b = 0; b < plan->clips; b++) {
    gpointer gather[3] = { plan->gathered_qkv + b * gathered * 3 * a,
      plan->qkv + b * rows * 3 * a, table->rows };
    tsf_program_host (plan->program, host_gather_rows, 3, gather, 2,
        (gsize[]) { gathered, 3 * a });
  }
  if (plan->rotary[s] != NULL)
    tsf_add_rotary (plan, c, s);
  for (guint v = table->first_view; v < table->first_view + table->n_views; v++)
    if (!tsf_add_attention_view (plan, c, &views[v], ops->qk[v], ops->softmax[v], ops->sv[v],
            plan->gathered_qkv, plan->gathered, key_mask, error))
      return FALSE;
  if (scheme->cls_attends_all)
    tsf_add_cls_attention (plan, c);
  /* the cls row: the mean of the groups' cls outputs, or (0 groups) left as it is */
  for (gsize b = 0; b < plan->clips; b++) {
    gpointer scatter[3] = { plan->attended + b * rows * a, plan->gathered + b * gathered * a,
      table->rows };
    tsf_program_host (plan->program, host_scatter_rows, 3, scatter, 3,
        (gsize[]) { gathered, a, scheme->cls_attends_all ? 0 : table->n_groups });
  }
  return tsf_add_linear (plan, &ops->proj_residual, plan->attended, &w->step_proj[s], out, in,
      error);
}

/* The steps in order (hidden[0] -> hidden[1] -> hidden[2] -> hidden[1]), then the MLP. */
gboolean
tsf_grouped_block (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  gfloat *in = plan->hidden[0];

  if (plan->groups[0].rows == NULL)
    build_tables (plan);
  for (guint s = 0; s < plan->layout.scheme->n_steps; s++) {
    gfloat *out = plan->hidden[1 + s % 2];
    if (!add_step (plan, c, ops, views, w, s, in, out, error))
      return FALSE;
    in = out;
  }
  return tsf_add_mlp (plan, c, ops, w, in, error);
}

gdouble
tsf_grouped_pairs (const TsfLayout *l)
{
  TsfAttentionView views[TSF_MAX_ATTENTION_VIEWS];
  guint n = tsf_grouped_views (l, views);
  gdouble pairs = 0;

  for (guint v = 0; v < n; v++)
    pairs += (gdouble) views[v].groups * views[v].length * views[v].length;
  return pairs;
}

guint
tsf_grouped_tokens (guint t, guint n)
{
  return 1 + n * t;
}

guint
tsf_grouped_gemms (const TsfConfig *c, guint t, guint n, gboolean temporal_folded,
    TsfGemmShape *out)
{
  guint d = c->hidden_size, a = tsf_config_attention_size (c);
  guint count = tsf_attention_scheme (c->attention_type)->n_steps * c->num_hidden_layers;

  out[0] = (TsfGemmShape) { 1 + n * t, d, 3 * a, count };    /* each step's qkv */
  out[1] = (TsfGemmShape) { 1 + n * t, a, d, count };        /* each step's output.dense */
  return 2;
}
