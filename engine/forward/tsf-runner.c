/* tsf-runner.c: one caller's side of the forward pass: a plan per clip shape (buffers, the
 * step program, its scratchpad), built on first use and run many times. */
#include "tsf-plan.h"
#include "tsf-error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <omp.h>

/* One of a plan's buffers and its size, known before anything is allocated. */
typedef struct {
  gfloat **slot;
  guint64 floats;
  gboolean scores;       /* attention scores (reported apart: they grow with length^2) */
} PlanBuffer;

/* The buffers every plan has, then those of some schemes: the gathered rows of grouped steps
 * (2), GEGLU's gate, the cls query's scores, a rotary table per step; then those of bf16 and
 * int8 linear layers (3), the row statistics of int8 (1). */
#define N_PLAN_BUFFERS (12 + 2 + 1 + 1 + TSF_MAX_ATTENTION_STEPS + 4)

static guint64
mul_sat (guint64 a, guint64 b)
{
  guint64 r;

  return __builtin_mul_overflow (a, b, &r) ? G_MAXUINT64 : r;
}

static guint64
add_sat (guint64 a, guint64 b)
{
  return a > G_MAXUINT64 - b ? G_MAXUINT64 : a + b;
}

/* As counted in buffer_bytes (the zeroed tails not included). */
static guint64
buffer_bytes (const PlanBuffer *buffer)
{
  return mul_sat (MAX (buffer->floats, 1), sizeof (gfloat));
}

/* The plan's buffers and their sizes; returns how many. */
static guint
plan_buffers (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *views, guint n_views,
    PlanBuffer *b)
{
  const TsfLayout *l = &plan->layout;
  guint64 d = c->hidden_size, a = tsf_config_attention_size (c), scores = 0;
  guint64 rows = mul_sat (plan->clips, l->rows);
  guint64 hidden = mul_sat (rows, d), attention = mul_sat (rows, a);
  guint n = 0;

  for (guint i = 0; i < n_views; i++)
    if (!views[i].on_host)
      scores = MAX (scores, mul_sat (mul_sat (mul_sat (plan->clips, views[i].groups),
            views[i].heads_per_step), mul_sat (views[i].length, views[i].length)));
    else if (views[i].length > TSF_MAX_SHORT_LENGTH)
      scores = MAX (scores, mul_sat (tsf_program_get_threads (plan->program), tsf_long_attention_scratch (views[i].length,
                  a / c->num_attention_heads)));
  b[n++] = (PlanBuffer) { &plan->patches, mul_sat (mul_sat (l->frames, l->patches),
          (guint64) c->num_channels * c->patch_size * c->patch_size), FALSE };
  b[n++] = (PlanBuffer) { &plan->embeddings, hidden, FALSE };
  for (guint i = 0; i < 3; i++)
    b[n++] = (PlanBuffer) { &plan->hidden[i], hidden, FALSE };
  b[n++] = (PlanBuffer) { &plan->normed, hidden, FALSE };
  b[n++] = (PlanBuffer) { &plan->projected, hidden, FALSE };
  b[n++] = (PlanBuffer) { &plan->attended, attention, FALSE };
  b[n++] = (PlanBuffer) { &plan->qkv, mul_sat (attention, 3), FALSE };
  b[n++] = (PlanBuffer) { &plan->scores, scores, TRUE };
  b[n++] = (PlanBuffer) { &plan->mlp, mul_sat (rows, c->intermediate_size), FALSE };
  b[n++] = (PlanBuffer) { &plan->logits, mul_sat (plan->clips, c->num_labels), FALSE };
  if (l->scheme->n_steps > 0) {
    guint64 gathered = mul_sat (plan->clips, tsf_grouped_rows (views, n_views));

    b[n++] = (PlanBuffer) { &plan->gathered_qkv, mul_sat (mul_sat (gathered, 3), a), FALSE };
    b[n++] = (PlanBuffer) { &plan->gathered, mul_sat (gathered, a), FALSE };
  }
  if (l->scheme->geglu)
    b[n++] = (PlanBuffer) { &plan->mlp_gate, mul_sat (rows, c->intermediate_size), FALSE };
  if (l->scheme->cls_attends_all)
    b[n++] = (PlanBuffer) { &plan->cls_scores, l->rows, TRUE };
  for (guint s = 0; c->rotary_emb && s < l->scheme->n_steps; s++)
    if (l->scheme->grouped_steps[s].rotary != TSF_ROTARY_NONE)   /* cos and sin */
      b[n++] = (PlanBuffer) { &plan->rotary[s], mul_sat (2 * MAX (l->frames, l->patches),
              a / c->num_attention_heads), FALSE };
  if (plan->linear != TSF_PRECISION_F32) {
    guint64 widest = MAX (3 * MAX (d, a), c->intermediate_size);
    /* in floats, rounded up: the converted input is bf16 or u8 */
    b[n++] = (PlanBuffer) { (gfloat **) &plan->linear_input, add_sat (mul_sat (
            mul_sat (rows, widest), tsf_precision_size (plan->linear)), sizeof (gfloat) - 1)
        / sizeof (gfloat), FALSE };
    b[n++] = (PlanBuffer) { &plan->scales, widest, FALSE };
    b[n++] = (PlanBuffer) { (gfloat **) &plan->zero_point, 1, FALSE };
  }
  if (plan->linear == TSF_PRECISION_INT8)
    b[n++] = (PlanBuffer) { &plan->row_stats, mul_sat (l->rows, 2), FALSE };
  g_assert (n <= N_PLAN_BUFFERS);
  return n;
}

static gchar *
format_bytes (guint64 bytes)
{
  return bytes == G_MAXUINT64 ? g_strdup ("more than 2^64 bytes")
      : tsf_format_bytes (bytes);
}

/* TSF_ERROR_MEMORY naming what the shape needs, of what, and the bound. */
static gboolean
check_bound (const TsfRunner *runner, guint64 activations, guint64 scores, guint64 scratchpad,
    GError **error)
{
  guint64 total = add_sat (add_sat (activations, scores), scratchpad);

  if (total <= runner->max_clip_bytes)
    return TRUE;
  g_autofree gchar *total_s = format_bytes (total), *activations_s = format_bytes (activations);
  g_autofree gchar *scores_s = format_bytes (scores), *bound_s = format_bytes
      (runner->max_clip_bytes);
  g_autofree gchar *scratchpad_s = scratchpad ? format_bytes (scratchpad) : NULL;
  g_set_error (error, TSF_ERROR, TSF_ERROR_MEMORY, "a clip of this shape needs %s: "
      "activations %s, attention scores %s%s%s; the bound (max_clip_bytes; by default half "
      "of the physical memory) is %s", total_s, activations_s, scores_s,
      scratchpad ? ", scratchpad " : "", scratchpad ? scratchpad_s : "", bound_s);
  return FALSE;
}

/* Sizes every buffer, checks the sum against the bound, then allocates (without aborting). */
static gboolean
plan_alloc_buffers (TsfRunner *runner, TsfPlan *plan, const TsfAttentionView *views,
    guint n_views, guint64 *activations_out, guint64 *scores_out, GError **error)
{
  const TsfLayout *l = &plan->layout;
  PlanBuffer buffers[N_PLAN_BUFFERS];
  guint64 activations = 0, scores = 0;
  guint n = plan_buffers (plan, runner->config, views, n_views, buffers);

  for (guint i = 0; i < n; i++) {
    if (buffers[i].scores)
      scores = add_sat (scores, buffer_bytes (&buffers[i]));
    else
      activations = add_sat (activations, buffer_bytes (&buffers[i]));
  }
  if (l->scheme->frame_mask)
    activations = add_sat (activations, (guint64) plan->clips * (1 + l->frames));
  *activations_out = activations;
  *scores_out = scores;
  if (!check_bound (runner, activations, scores, 0, error))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    gsize bytes = MAX (buffers[i].floats, 1) * sizeof (gfloat);
    *buffers[i].slot = tsf_try_alloc_zeroed (bytes, TSF_ALIGNMENT, "a clip's activations",
        error);
    if (*buffers[i].slot == NULL)
      return FALSE;
    plan->buffer_bytes += bytes;
  }
  if (l->scheme->frame_mask) {   /* at most TSF_MAX_TOKENS frames (tsf_check_shape) */
    gsize bytes = (gsize) plan->clips * (1 + l->frames);
    plan->key_mask = g_malloc (bytes);
    memset (plan->key_mask, 1, bytes);
    plan->buffer_bytes += bytes;
  }
  return TRUE;
}

/* The buffers were allocated by tsf_try_alloc_zeroed (posix_memalign): free(). */
static void
plan_free (TsfPlan *plan)
{
  gfloat **buffers[] = { &plan->patches, &plan->embeddings, &plan->hidden[0], &plan->hidden[1],
    &plan->hidden[2], &plan->normed, &plan->projected, &plan->attended, &plan->qkv,
    &plan->scores, &plan->mlp, &plan->mlp_gate, &plan->logits, &plan->gathered_qkv,
    &plan->gathered, &plan->cls_scores, &plan->scales, (gfloat **) &plan->linear_input,
    (gfloat **) &plan->zero_point, &plan->row_stats };

  tsf_program_free (plan->program);
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    free (*buffers[i]);
  for (guint i = 0; i < TSF_MAX_ATTENTION_STEPS; i++) {
    g_free (plan->groups[i].rows);
    free (plan->rotary[i]);
  }
  g_free (plan->key_mask);
  g_free (plan);
}

static TsfPlan *
plan_new (TsfRunner *runner, const TsfClipShape *shape, guint clips, GError **error)
{
  const TsfConfig *c = runner->config;
  const TsfAttentionScheme *scheme = tsf_attention_scheme (c->attention_type);
  TsfPlan *plan = g_new0 (TsfPlan, 1);
  TsfAttentionView views[TSF_MAX_ATTENTION_VIEWS];
  TsfLayerOps ops = { 0 };
  guint64 activations = 0, scores = 0;
  guint n_views;
  gboolean ok;

  plan->shape = *shape;
  plan->clips = clips;
  plan->precision = TSF_PRECISION_F32;
  plan->linear = runner->precision;
  tsf_layout_init (&plan->layout, c, shape);
  n_views = tsf_attention_views (c, &plan->layout, views);
  plan->program = tsf_program_new (runner->engine, plan->precision, runner->threads);
  ok = plan_alloc_buffers (runner, plan, views, n_views, &activations, &scores, error);
  if (ok)
    tsf_fill_embeddings (c, runner->weights, plan);
  ok = ok && tsf_add_patch_embedding (runner, plan, error)
      && tsf_layer_ops (plan->program, plan->linear, c, runner->layouts, &plan->layout,
      clips, views, n_views, &ops, error);
  for (guint i = 0; ok && i < c->num_hidden_layers; i++)
    ok = scheme->add_block (plan, c, &ops, views, &runner->weights->layers[i], error);
  ok = ok && tsf_add_head (runner, plan, error)
      && check_bound (runner, activations, scores, tsf_program_scratchpad_size (plan->program),
          error)
      && tsf_program_finish (plan->program, error);
  if (!ok) {
    g_prefix_error (error, "Preparing the model for %s%u frames of %ux%u: ",
        clips > 1 ? "batches of clips of " : "", shape->frames, shape->width, shape->height);
    plan_free (plan);
    return NULL;
  }
  return plan;
}

guint64
tsf_default_max_clip_bytes (void)
{
  glong pages = sysconf (_SC_PHYS_PAGES), page_size = sysconf (_SC_PAGESIZE);

  return pages > 0 && page_size > 0 ? (guint64) pages * page_size / 2 : G_MAXUINT64;
}

static TsfPlan *
find_plan (TsfRunner *runner, const TsfClipShape *shape, guint clips)
{
  for (guint i = 0; i < runner->plans->len; i++) {
    TsfPlan *plan = g_ptr_array_index (runner->plans, i);
    if (plan->shape.frames == shape->frames && plan->shape.height == shape->height
        && plan->shape.width == shape->width && plan->clips == clips)
      return plan;
  }
  return NULL;
}

TsfRunner *
tsf_runner_new (const TsfForward *forward, gint threads, guint64 max_clip_bytes,
    GError **error)
{
  TsfRunner *runner;

  if (!tsf_check_threads (threads, error))
    return NULL;
  runner = g_new0 (TsfRunner, 1);
  runner->max_clip_bytes = max_clip_bytes ? max_clip_bytes : tsf_default_max_clip_bytes ();

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
  gint resolved;

  if (!tsf_check_threads (threads, error))
    return FALSE;
  resolved = tsf_resolve_threads (threads);
  if (resolved != runner->threads) {
    /* primitives choose their partitioning for the thread count they were created with */
    g_ptr_array_set_size (runner->plans, 0);
    runner->threads = resolved;
  }
  return TRUE;
}

static gboolean
check_clips (guint clips, GError **error)
{
  if (clips >= 1 && clips <= TSF_MAX_BATCH)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "A batch holds from 1 to %d clips, found %u",
      TSF_MAX_BATCH, clips);
  return FALSE;
}

static TsfPlan *
get_plan (TsfRunner *runner, const TsfClipShape *shape, guint clips, GError **error)
{
  TsfPlan *plan;

  if (!check_clips (clips, error) || !tsf_check_shape (runner->config, shape, error))
    return NULL;
  omp_set_num_threads (runner->threads);
  plan = find_plan (runner, shape, clips);
  if (plan == NULL && (plan = plan_new (runner, shape, clips, error)) != NULL)
    g_ptr_array_add (runner->plans, plan);
  return plan;
}

gboolean
tsf_runner_prepare (TsfRunner *runner, const TsfClipShape *shape, guint n_clips,
    GError **error)
{
  return get_plan (runner, shape, n_clips, error) != NULL;
}

/* Clip `clip`'s key mask from its frame mask (NULL: every frame). */
static gboolean
set_frame_mask (TsfPlan *plan, guint clip, const guint8 *mask, GError **error)
{
  guint8 *key_mask = plan->key_mask + (gsize) clip * (1 + plan->layout.frames);
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
    kept += key_mask[1 + t] = mask == NULL || mask[t] != 0;
  if (kept > 0)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The frame mask removes all %u frames of the "
      "clip; at least one must stay", plan->layout.frames);
  return FALSE;
}

/* Points the plan at clip `i` of a run and checks it; errors name the clip in a batch. */
static gboolean
set_clip (TsfPlan *plan, guint i, const gfloat *clip, const guint8 *mask, GError **error)
{
  gboolean ok = clip != NULL || (g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
          "No clip was given (NULL)"), FALSE);

  ok = ok && set_frame_mask (plan, i, mask, error)
      && tsf_check_clip_finite (clip, &plan->shape, error);
  if (ok && dnnl_memory_set_data_handle (plan->clip[i], (void *) clip) != dnnl_success) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_BACKEND, "oneDNN refused the clip's address");
    ok = FALSE;
  }
  if (!ok && plan->clips > 1)
    g_prefix_error (error, "Clip %u of the batch of %u: ", i, plan->clips);
  return ok;
}

/* Logits of clip i, with the clip named when it is one of a batch. */
static gboolean
check_logits (const TsfPlan *plan, const gfloat *logits, guint labels, GError **error)
{
  for (guint i = 0; i < plan->clips; i++)
    if (!tsf_check_logits_finite (logits + (gsize) i * labels, labels, error)) {
      if (plan->clips > 1)
        g_prefix_error (error, "Clip %u of the batch of %u: ", i, plan->clips);
      return FALSE;
    }
  return TRUE;
}

gboolean
tsf_runner_run (TsfRunner *runner, guint n_clips, const gfloat *const *clips,
    const TsfClipShape *shape, const guint8 *const *masks, gfloat *logits, GError **error)
{
  TsfPlan *plan = get_plan (runner, shape, n_clips, error);
  guint labels = runner->config->num_labels;

  if (plan == NULL)
    return FALSE;
  for (guint i = 0; i < n_clips; i++)
    if (!set_clip (plan, i, clips[i], masks != NULL ? masks[i] : NULL, error))
      return FALSE;
  if (!tsf_program_run (plan->program, runner->stream, error))
    return FALSE;
  memcpy (logits, plan->logits, (gsize) n_clips * labels * sizeof (gfloat));
  return check_logits (plan, logits, labels, error);
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
