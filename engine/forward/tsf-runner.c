/* tsf-runner.c: one caller's side of the forward pass: a plan per clip shape (buffers, the
 * step program, its scratchpad), built on first use and run many times. */
#include "tsf-plan.h"

#include <string.h>
#include <omp.h>

static gfloat *
plan_alloc (TsfPlan *plan, gsize floats)
{
  gsize bytes = MAX (floats, 1) * sizeof (gfloat);

  plan->buffer_bytes += bytes;
  return g_aligned_alloc0 (1, bytes + TSF_DNNL_TAIL_BYTES, TSF_ALIGNMENT);
}

static void
plan_free (TsfPlan *plan)
{
  gfloat **buffers[] = { &plan->patches, &plan->embeddings, &plan->hidden[0], &plan->hidden[1],
    &plan->hidden[2], &plan->normed, &plan->projected, &plan->attended, &plan->qkv,
    &plan->scores, &plan->mlp, &plan->mlp_gate, &plan->logits, &plan->gathered_qkv,
    &plan->gathered };

  tsf_program_free (plan->program);
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    g_aligned_free (*buffers[i]);
  for (guint i = 0; i < TSF_MAX_ATTENTION_STEPS; i++) {
    g_free (plan->groups[i].rows);
    g_aligned_free (plan->rotary[i]);
  }
  g_aligned_free (plan->cls_scores);
  g_free (plan->key_mask);
  g_free (plan);
}

static void
plan_alloc_buffers (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *views,
    guint n_views)
{
  const TsfLayout *l = &plan->layout;
  gsize d = c->hidden_size, a = tsf_config_attention_size (c), rows = l->rows, scores = 0;

  for (guint i = 0; i < n_views; i++)
    scores = MAX (scores, views[i].groups * views[i].heads_per_step * views[i].length
        * views[i].length);
  plan->patches = plan_alloc (plan, (gsize) l->frames * l->patches * c->num_channels
      * c->patch_size * c->patch_size);
  plan->embeddings = plan_alloc (plan, rows * d);
  for (guint i = 0; i < 3; i++)
    plan->hidden[i] = plan_alloc (plan, rows * d);
  plan->normed = plan_alloc (plan, rows * d);
  plan->projected = plan_alloc (plan, rows * d);
  plan->attended = plan_alloc (plan, rows * a);
  plan->qkv = plan_alloc (plan, rows * 3 * a);
  plan->scores = plan_alloc (plan, scores);
  plan->mlp = plan_alloc (plan, rows * c->intermediate_size);
  plan->logits = plan_alloc (plan, c->num_labels);
  if (l->scheme->n_steps > 0) {
    gsize gathered = tsf_grouped_rows (views, n_views);
    plan->gathered_qkv = plan_alloc (plan, gathered * 3 * a);
    plan->gathered = plan_alloc (plan, gathered * a);
  }
  if (l->scheme->geglu)
    plan->mlp_gate = plan_alloc (plan, rows * c->intermediate_size);
  if (l->scheme->frame_mask) {
    plan->key_mask = g_malloc (1 + l->frames);
    memset (plan->key_mask, 1, 1 + l->frames);
    plan->buffer_bytes += 1 + l->frames;
  }
  if (l->scheme->cls_attends_all)
    plan->cls_scores = plan_alloc (plan, rows);
  for (guint s = 0; c->rotary_emb && s < l->scheme->n_steps; s++)
    if (l->scheme->grouped_steps[s].rotary != TSF_ROTARY_NONE)   /* cos and sin */
      plan->rotary[s] = plan_alloc (plan,
          2 * MAX (l->frames, l->patches) * a / c->num_attention_heads);
}

static TsfPlan *
plan_new (TsfRunner *runner, const TsfClipShape *shape, GError **error)
{
  const TsfConfig *c = runner->config;
  const TsfAttentionScheme *scheme = tsf_attention_scheme (c->attention_type);
  TsfPlan *plan = g_new0 (TsfPlan, 1);
  TsfAttentionView views[TSF_MAX_ATTENTION_VIEWS];
  TsfLayerOps ops = { 0 };
  guint n_views;
  gboolean ok;

  plan->shape = *shape;
  plan->precision = runner->precision;
  tsf_layout_init (&plan->layout, c, shape);
  n_views = tsf_attention_views (c, &plan->layout, views);
  plan_alloc_buffers (plan, c, views, n_views);
  tsf_fill_embeddings (c, runner->weights, plan);
  plan->program = tsf_program_new (runner->engine, runner->precision, runner->threads);

  ok = tsf_add_patch_embedding (runner, plan, error)
      && tsf_layer_ops (plan->program, c, runner->layouts, &plan->layout, views, n_views, &ops,
      error);
  for (guint i = 0; ok && i < c->num_hidden_layers; i++)
    ok = scheme->add_block (plan, c, &ops, views, &runner->weights->layers[i], error);
  ok = ok && tsf_add_head (runner, plan, error) && tsf_program_finish (plan->program, error);
  if (!ok) {
    g_prefix_error (error, "Preparing the model for %u frames of %ux%u: ", shape->frames,
        shape->width, shape->height);
    plan_free (plan);
    return NULL;
  }
  return plan;
}

static TsfPlan *
find_plan (TsfRunner *runner, const TsfClipShape *shape)
{
  for (guint i = 0; i < runner->plans->len; i++) {
    TsfPlan *plan = g_ptr_array_index (runner->plans, i);
    if (plan->shape.frames == shape->frames && plan->shape.height == shape->height
        && plan->shape.width == shape->width)
      return plan;
  }
  return NULL;
}

TsfRunner *
tsf_runner_new (const TsfForward *forward, gint threads, GError **error)
{
  TsfRunner *runner = g_new0 (TsfRunner, 1);

  runner->config = forward->config;
  runner->weights = forward->weights;
  runner->layouts = &forward->layouts;
  runner->precision = forward->precision;
  runner->threads = tsf_resolve_threads (threads);
  runner->plans = g_ptr_array_new_with_free_func ((GDestroyNotify) plan_free);
  if (!tsf_dnnl_engine_new (&runner->engine, &runner->stream, error)) {
    tsf_runner_free (runner);
    return NULL;
  }
  return runner;
}

gint
tsf_runner_get_threads (const TsfRunner *runner)
{
  return runner->threads;
}

gboolean
tsf_runner_set_threads (TsfRunner *runner, gint threads, GError **error)
{
  gint resolved = tsf_resolve_threads (threads);

  if (resolved != runner->threads) {
    /* primitives choose their partitioning for the thread count they were created with */
    g_ptr_array_set_size (runner->plans, 0);
    runner->threads = resolved;
  }
  return TRUE;
}

static TsfPlan *
get_plan (TsfRunner *runner, const TsfClipShape *shape, GError **error)
{
  TsfPlan *plan;

  if (!tsf_check_shape (runner->config, shape, error))
    return NULL;
  omp_set_num_threads (runner->threads);
  plan = find_plan (runner, shape);
  if (plan == NULL && (plan = plan_new (runner, shape, error)) != NULL)
    g_ptr_array_add (runner->plans, plan);
  return plan;
}

gboolean
tsf_runner_prepare (TsfRunner *runner, const TsfClipShape *shape, GError **error)
{
  return get_plan (runner, shape, error) != NULL;
}

/* The plan's key mask from the run's frame mask (NULL: every frame). */
static gboolean
set_frame_mask (TsfPlan *plan, const guint8 *mask, GError **error)
{
  guint kept = 0;

  if (plan->key_mask == NULL) {
    if (mask == NULL)
      return TRUE;
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "A frame mask was given, but this "
        "model (%s attention) takes none; only lucidrains' TimeSformer-pytorch models do",
        tsf_attention_type_to_string (plan->layout.scheme->type));
    return FALSE;
  }
  for (guint t = 0; t < plan->layout.frames; t++)
    kept += plan->key_mask[1 + t] = mask == NULL || mask[t] != 0;
  if (kept > 0)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The frame mask removes all %u frames of the "
      "clip; at least one must stay", plan->layout.frames);
  return FALSE;
}

gboolean
tsf_runner_run (TsfRunner *runner, const gfloat *clip, const TsfClipShape *shape,
    const guint8 *mask, gfloat *logits, GError **error)
{
  TsfPlan *plan = get_plan (runner, shape, error);

  if (plan == NULL || !set_frame_mask (plan, mask, error))
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_set_data_handle (plan->clip, (void *) clip), error, FALSE);
  if (!tsf_program_run (plan->program, runner->stream, error))
    return FALSE;
  memcpy (logits, plan->logits, runner->config->num_labels * sizeof (gfloat));
  return TRUE;
}

guint64
tsf_runner_buffer_bytes (const TsfRunner *runner)
{
  guint64 bytes = 0;

  for (guint i = 0; i < runner->plans->len; i++) {
    TsfPlan *plan = g_ptr_array_index (runner->plans, i);
    bytes += plan->buffer_bytes + tsf_program_scratchpad_size (plan->program);
  }
  return bytes;
}

void
tsf_runner_free (TsfRunner *runner)
{
  if (runner == NULL)
    return;
  g_ptr_array_free (runner->plans, TRUE);
  if (runner->stream != NULL)
    dnnl_stream_destroy (runner->stream);
  if (runner->engine != NULL)
    dnnl_engine_destroy (runner->engine);
  g_free (runner);
}
