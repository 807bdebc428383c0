/* tsf-forward.c: TimeSformer inference on oneDNN.
 *
 * Token layout. The hidden state is a [rows, hidden] matrix. For divided_space_time and
 * space_only every frame holds its own copy of the cls token followed by its N patches
 * (row t * (1 + N) + s), so the spatial attention of a frame is a plain strided view and the
 * temporal attention of a patch is another (stride 1 + N rows). The copies of the cls token are
 * kept equal (the divided block averages them, as the official model averages the per-frame cls
 * outputs). joint_space_time has one cls token then the patches frame by frame; attention, norms
 * and MLPs act per token or over all tokens, so the order is free.
 *
 * Weights. The layers' linear weights (97% of the work) are reordered once into the blocked
 * layouts oneDNN's brgemm matmul prefers, layer by layer, each original released as soon as it
 * is copied, so the weights never exist twice. The rest (patch projection, classifier, norms,
 * biases, embeddings) is read in place from TsfWeights, which must outlive the runner.
 */
#include "tsf-forward.h"
#include "tsf-dnnl.h"

#include <math.h>
#include <string.h>
#include <omp.h>

#define ALIGNMENT 64
/* Above this many bytes of attention scores, attention runs one head at a time. */
#ifndef MAX_SCORES_BYTES
#define MAX_SCORES_BYTES (128u << 20)
#endif
/* Attention products below this run on the calling thread (temporal attention of 8 frames:
 * 20 MFLOP, where a parallel region costs more than it saves on a busy machine). */
#define SMALL_PRODUCT_FLOPS 64e6

typedef struct {
  guint frames, grid_h, grid_w, patches;  /* T, grid, N = grid_h * grid_w */
  gboolean cls_per_frame;                 /* divided_space_time, space_only */
  gsize rows;                             /* tokens held in the hidden state */
  gsize frame_stride;                     /* rows from a frame's patch to the next frame's */
} TsfLayout;

typedef struct {
  TsfClipShape shape;
  TsfLayout layout;
  gfloat *patches;       /* [T * N, C * p * p] the clip cut into patches */
  gfloat *embeddings;    /* [rows, D] cls + pos[0] on cls rows, pos + time on patch rows */
  gfloat *hidden[3];     /* [rows, D] the hidden state, ping-pong */
  gfloat *normed;        /* [rows, D] LayerNorm output */
  gfloat *projected;     /* [rows, D] temporal attention output */
  gfloat *attended;      /* [rows, D] attention heads, concatenated */
  gfloat *qkv;           /* [rows, 3 D] */
  gfloat *scores;        /* attention probabilities of one step */
  gfloat *mlp;           /* [rows, intermediate] */
  gfloat *logits;        /* [num_labels] */
  gsize buffer_bytes;
  TsfProgram *program;
  dnnl_memory_t clip;    /* the reorder's source, pointed at each clip */
} TsfPlan;

/* Layouts of the layers' linear weights, as the matmul prefers them ([in, out]). */
typedef struct {
  dnnl_memory_desc_t qkv, proj, fc1, fc2;
} TsfWeightLayouts;

/* The model's side: read-only once tsf_forward_new() returns. */
struct _TsfForward {
  const TsfConfig *config;    /* borrowed from the model */
  const TsfWeights *weights;  /* borrowed; its layers' linear weights point into `prepared` */
  TsfWeightLayouts layouts;
  GPtrArray *prepared;        /* the reordered linear weights (aligned blocks) */
};

/* One caller's side: plans, buffers, scratchpads, its own oneDNN engine and stream. */
struct _TsfRunner {
  const TsfConfig *config;    /* the forward's */
  const TsfWeights *weights;  /* the forward's */
  const TsfWeightLayouts *layouts;  /* the forward's */
  gint threads;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  GPtrArray *plans;           /* TsfPlan, one per clip shape */
};

/* Ops shared by every layer of a plan (all layers have the same shapes). */
typedef struct {
  TsfOp *norm, *qkv, *proj, *proj_residual, *fc1, *fc2;
  TsfOp *qk[2], *softmax[2], *sv[2];   /* [0] spatial or joint, [1] temporal */
} TsfLayerOps;

/* One attention pattern: `groups` independent sequences of `length` tokens; token s of
 * group g is row offset + g * group_stride + s * token_stride. */
typedef struct {
  gsize groups, length, offset, group_stride, token_stride, heads_per_step;
} TsfAttentionView;

static gfloat *
plan_alloc (TsfPlan *plan, gsize floats)
{
  gsize bytes = MAX (floats, 1) * sizeof (gfloat);

  plan->buffer_bytes += bytes;
  return g_aligned_alloc0 (1, bytes + TSF_DNNL_TAIL_BYTES, ALIGNMENT);
}

static void
plan_free (TsfPlan *plan)
{
  gfloat **buffers[] = { &plan->patches, &plan->embeddings, &plan->hidden[0], &plan->hidden[1],
    &plan->hidden[2], &plan->normed, &plan->projected, &plan->attended, &plan->qkv,
    &plan->scores, &plan->mlp, &plan->logits };

  tsf_program_free (plan->program);
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    g_aligned_free (*buffers[i]);
  g_free (plan);
}

static void
layout_init (TsfLayout *layout, const TsfConfig *config, const TsfClipShape *shape)
{
  layout->frames = shape->frames;
  layout->grid_h = shape->height / config->patch_size;
  layout->grid_w = shape->width / config->patch_size;
  layout->patches = layout->grid_h * layout->grid_w;
  layout->cls_per_frame = config->attention_type != TSF_ATTENTION_JOINT_SPACE_TIME;
  layout->frame_stride = layout->patches + (layout->cls_per_frame ? 1 : 0);
  layout->rows = layout->cls_per_frame ? (gsize) layout->frames * (1 + layout->patches)
      : 1 + (gsize) layout->frames * layout->patches;
}

static gsize
patch_row (const TsfLayout *layout, guint frame, guint patch)
{
  return 1 + frame * layout->frame_stride + patch;
}

/* The source index torch's interpolate(mode='nearest') reads for output index `dst`. */
static guint
nearest_source (guint dst, guint out_size, guint in_size)
{
  gfloat scale = (gfloat) in_size / (gfloat) out_size;

  return MIN ((guint) floorf ((gfloat) dst * scale), in_size - 1);
}

static gint
resolve_threads (gint threads)
{
  return threads > 0 ? threads : omp_get_num_procs ();
}

/* --- validation --- */

static gboolean
check_shape (const TsfConfig *config, const TsfClipShape *shape, GError **error)
{
  guint p = config->patch_size;

  if (shape->channels != config->num_channels) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
        "The clip has %u channels; the model expects %u (clip shape is frames x channels x "
        "height x width)", shape->channels, config->num_channels);
    return FALSE;
  }
  if (shape->frames < 1) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The clip has no frames");
    return FALSE;
  }
  if (shape->height < p || shape->width < p || shape->height % p || shape->width % p) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
        "The clip's frames are %ux%u (width x height); both sides must be non-zero multiples "
        "of the patch size %u", shape->width, shape->height, p);
    return FALSE;
  }
  return TRUE;
}

/* --- embeddings table --- */

static void
fill_embeddings (const TsfConfig *config, const TsfWeights *weights, TsfPlan *plan)
{
  const TsfLayout *l = &plan->layout;
  guint d = config->hidden_size, side = config->image_size / config->patch_size;
  gboolean resize = l->patches != side * side;

  for (gsize r = 0; r < (l->cls_per_frame ? l->frames : 1); r++) {
    gfloat *row = plan->embeddings + r * (1 + l->patches) * d;
    for (guint i = 0; i < d; i++)
      row[i] = weights->cls_token[i] + weights->position_embeddings[i];
  }
  for (guint t = 0; t < l->frames; t++) {
    const gfloat *time = weights->time_embeddings == NULL ? NULL
        : weights->time_embeddings + (gsize) nearest_source (t, l->frames,
        config->num_frames) * d;
    for (guint y = 0; y < l->grid_h; y++) {
      for (guint x = 0; x < l->grid_w; x++) {
        guint source = resize ? nearest_source (y, l->grid_h, side) * side
            + nearest_source (x, l->grid_w, side) : y * l->grid_w + x;
        const gfloat *pos = weights->position_embeddings + (gsize) (1 + source) * d;
        gfloat *row = plan->embeddings + patch_row (l, t, y * l->grid_w + x) * d;
        for (guint i = 0; i < d; i++)
          row[i] = pos[i] + (time != NULL ? time[i] : 0.0f);
      }
    }
  }
}

/* --- host steps --- */

/* args: dst, src; sizes: rows, row stride, width. Copies rows of src into dst. */
static void
host_copy_rows (const gpointer *args, const gsize *sizes)
{
  gfloat *dst = args[0];
  const gfloat *src = args[1];

  for (gsize r = 0; r < sizes[0]; r++)
    memcpy (dst + r * sizes[1], src + r * sizes[1], sizes[2] * sizeof (gfloat));
}

/* args: data; sizes: rows, row stride, width. Every row becomes the mean of the rows. */
static void
host_average_rows (const gpointer *args, const gsize *sizes)
{
  gfloat *data = args[0];
  gsize rows = sizes[0], stride = sizes[1], width = sizes[2];

  for (gsize i = 0; i < width; i++) {
    gfloat sum = 0;
    for (gsize r = 0; r < rows; r++)
      sum += data[r * stride + i];
    for (gsize r = 0; r < rows; r++)
      data[r * stride + i] = sum / rows;
  }
}

static void
add_cls_rows_step (TsfPlan *plan, TsfHostFunc func, gfloat *dst, const gfloat *src, gsize d)
{
  const TsfLayout *l = &plan->layout;
  gpointer args[2] = { dst, (gpointer) src };
  gsize sizes[3] = { l->cls_per_frame ? l->frames : 1, (1 + l->patches) * d, d };

  tsf_program_host (plan->program, func, 2, args, 3, sizes);
}

/* --- ops --- */

/* A linear layer on `rows` tokens; `layout` is its prepared weights' layout, or NULL for the
 * PyTorch weight read in place. */
static TsfOp *
linear_op (TsfProgram *program, gsize rows, guint in, guint out, gboolean bias,
    gboolean gelu, gboolean residual, const dnnl_memory_desc_t *layout, GError **error)
{
  dnnl_memory_desc_t src, weights, bias_md, dst;
  TsfMatmulOptions options = { .gelu = gelu, .residual = residual, .prefer_gemm = !layout };

  if (!tsf_md_matrix (&src, rows, in, error) || !tsf_md_matrix (&dst, rows, out, error)
      || !tsf_md_matrix (&bias_md, 1, out, error))
    return NULL;
  if (layout != NULL)
    weights = *layout;
  else if (!tsf_md_linear_weight (&weights, 2, in, out, error))
    return NULL;
  return tsf_program_matmul_op (program, &src, &weights, bias ? &bias_md : NULL, &dst,
      &options, error);
}

static gsize
attention_heads_per_step (const TsfAttentionView *view, guint heads)
{
  gsize bytes = view->groups * heads * view->length * view->length * sizeof (gfloat);

  return bytes > MAX_SCORES_BYTES ? 1 : heads;
}

/* q k^T * scale, softmax and probabilities x v for `view`, heads_per_step heads at a time. */
static gboolean
attention_ops (TsfProgram *program, const TsfConfig *config, const TsfAttentionView *v,
    TsfOp **qk, TsfOp **softmax, TsfOp **sv, GError **error)
{
  gsize d = config->hidden_size, hd = d / config->num_attention_heads;
  gsize g = v->groups, h = v->heads_per_step, n = v->length;
  dnnl_dim_t dims_q[4] = { g, h, n, hd }, strides_q[4] = { v->group_stride * 3 * d, hd,
    v->token_stride * 3 * d, 1 };
  dnnl_dim_t dims_k[4] = { g, h, hd, n }, strides_k[4] = { v->group_stride * 3 * d, hd, 1,
    v->token_stride * 3 * d };
  dnnl_dim_t dims_s[4] = { g, h, n, n }, strides_s[4] = { h * n * n, n * n, n, 1 };
  dnnl_dim_t strides_o[4] = { v->group_stride * d, hd, v->token_stride * d, 1 };
  dnnl_memory_desc_t q, k, s, o;
  gboolean small = 2.0 * g * h * n * n * hd < SMALL_PRODUCT_FLOPS;
  TsfMatmulOptions scaled = { .scale = 1.0f / sqrtf ((gfloat) hd), .prefer_gemm = TRUE,
    .single_thread = small };
  TsfMatmulOptions plain = { .prefer_gemm = TRUE, .single_thread = small };

  if (g == 1)   /* a single group: its stride is never used but must be valid */
    strides_q[0] = strides_k[0] = strides_o[0] = (dnnl_dim_t) n * v->token_stride * 3 * d;
  if (!tsf_md_strided (&q, 4, dims_q, strides_q, error)
      || !tsf_md_strided (&k, 4, dims_k, strides_k, error)
      || !tsf_md_strided (&s, 4, dims_s, strides_s, error)
      || !tsf_md_strided (&o, 4, dims_q, strides_o, error))
    return FALSE;
  *qk = tsf_program_matmul_op (program, &q, &k, NULL, &s, &scaled, error);
  *softmax = *qk ? tsf_program_softmax_op (program, &s, 3, error) : NULL;
  *sv = *softmax ? tsf_program_matmul_op (program, &s, &q, NULL, &o, &plain, error) : NULL;
  return *sv != NULL;
}

static gboolean
layer_ops (TsfProgram *program, const TsfConfig *config, const TsfWeightLayouts *w,
    const TsfLayout *l, const TsfAttentionView *views, guint n_views, TsfLayerOps *ops,
    GError **error)
{
  guint d = config->hidden_size, inter = config->intermediate_size;
  dnnl_memory_desc_t rows;

  if (!tsf_md_matrix (&rows, l->rows, d, error)
      || !(ops->norm = tsf_program_layernorm_op (program, &rows, config->layer_norm_eps, error))
      || !(ops->qkv = linear_op (program, l->rows, d, 3 * d, config->qkv_bias, FALSE, FALSE,
              &w->qkv, error))
      || !(ops->proj = linear_op (program, l->rows, d, d, TRUE, FALSE, FALSE, &w->proj, error))
      || !(ops->proj_residual = linear_op (program, l->rows, d, d, TRUE, FALSE, TRUE, &w->proj,
              error))
      || !(ops->fc1 = linear_op (program, l->rows, d, inter, TRUE, TRUE, FALSE, &w->fc1, error))
      || !(ops->fc2 = linear_op (program, l->rows, inter, d, TRUE, FALSE, TRUE, &w->fc2,
              error)))
    return FALSE;
  for (guint i = 0; i < n_views; i++)
    if (!attention_ops (program, config, &views[i], &ops->qk[i], &ops->softmax[i],
            &ops->sv[i], error))
      return FALSE;
  return TRUE;
}

/* --- the model's stages --- */

/* The clip cut into patches (a reorder), the patch projection with the position and time
 * embeddings added as a fused residual, and the cls rows. */
static gboolean
add_patch_embedding (TsfRunner *runner, TsfPlan *plan, GError **error)
{
  const TsfConfig *c = runner->config;
  const TsfLayout *l = &plan->layout;
  gsize p = c->patch_size, ch = c->num_channels, d = c->hidden_size, k = ch * p * p;
  gsize H = plan->shape.height, W = plan->shape.width, T = l->frames;
  dnnl_dim_t clip_dims[6] = { T, l->grid_h, l->grid_w, ch, p, p };
  dnnl_dim_t clip_strides[6] = { ch * H * W, p * W, p, H * W, W, 1 };
  dnnl_dim_t patch_strides[6] = { l->patches * k, l->grid_w * k, k, p * p, p, 1 };
  dnnl_dim_t src_dims[3] = { T, l->patches, k }, src_strides[3] = { l->patches * k, k, 1 };
  dnnl_dim_t dst_dims[3] = { T, l->patches, d }, dst_strides[3] = { l->frame_stride * d, d, 1 };
  dnnl_memory_desc_t clip, patches, src, weights, bias, dst;
  TsfMatmulOptions options = { .residual = TRUE, .prefer_gemm = TRUE };
  TsfOp *reorder, *project;

  if (!tsf_md_strided (&clip, 6, clip_dims, clip_strides, error)
      || !tsf_md_strided (&patches, 6, clip_dims, patch_strides, error)
      || !tsf_md_strided (&src, 3, src_dims, src_strides, error)
      || !tsf_md_strided (&dst, 3, dst_dims, dst_strides, error)
      || !tsf_md_linear_weight (&weights, 3, k, d, error)
      || !tsf_md_strided (&bias, 3, (dnnl_dim_t[]) { 1, 1, d }, (dnnl_dim_t[]) { d, d, 1 },
          error)
      || !(reorder = tsf_program_reorder_op (plan->program, &clip, &patches, error))
      || !(project = tsf_program_matmul_op (plan->program, &src, &weights, &bias, &dst,
              &options, error)))
    return FALSE;
  plan->clip = tsf_program_reorder (plan->program, reorder, NULL, plan->patches, error);
  if (plan->clip == NULL
      || !tsf_program_matmul (plan->program, project, plan->patches,
          runner->weights->patch_weight, runner->weights->patch_bias,
          plan->hidden[0] + d, plan->embeddings + d, error))
    return FALSE;
  add_cls_rows_step (plan, host_copy_rows, plan->hidden[0], plan->embeddings, d);
  return TRUE;
}

/* Multi-head self-attention over `view` from the qkv rows into plan->attended. */
static gboolean
add_attention (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *view, TsfOp *qk,
    TsfOp *softmax, TsfOp *sv, GError **error)
{
  gsize d = c->hidden_size, hd = d / c->num_attention_heads;
  const gfloat *qkv = plan->qkv + view->offset * 3 * d;
  gfloat *out = plan->attended + view->offset * d;

  for (gsize h = 0; h < c->num_attention_heads; h += view->heads_per_step) {
    const gfloat *q = qkv + h * hd, *k = q + d, *v = q + 2 * d;
    if (!tsf_program_matmul (plan->program, qk, q, k, NULL, plan->scores, NULL, error)
        || !tsf_program_softmax (plan->program, softmax, plan->scores, error)
        || !tsf_program_matmul (plan->program, sv, plan->scores, v, NULL, out + h * hd, NULL,
            error))
      return FALSE;
  }
  return TRUE;
}

/* LayerNorm, qkv and attention: `in` -> plan->attended. */
static gboolean
add_self_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops, guint view,
    const TsfAttentionView *views, const gfloat *in, const TsfNorm *norm, const TsfLinear *qkv,
    GError **error)
{
  return tsf_program_layernorm (plan->program, ops->norm, in, plan->normed, norm->weight,
      norm->bias, error)
      && tsf_program_matmul (plan->program, ops->qkv, plan->normed, qkv->weight, qkv->bias,
      plan->qkv, NULL, error)
      && add_attention (plan, c, &views[view], ops->qk[view], ops->softmax[view],
      ops->sv[view], error);
}

/* Divided block, part 1: each patch attends over its frames; output.dense, temporal_dense,
 * residual. hidden[0] -> hidden[1]; the cls rows pass through unchanged. */
static gboolean
add_temporal_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  if (!add_self_attention (plan, c, ops, 1, views, plan->hidden[0], &w->temporal_layernorm,
          &w->temporal_qkv, error)
      || !tsf_program_matmul (plan->program, ops->proj, plan->attended,
          w->temporal_proj.weight, w->temporal_proj.bias, plan->projected, NULL, error)
      || !tsf_program_matmul (plan->program, ops->proj_residual, plan->projected,
          w->temporal_dense.weight, w->temporal_dense.bias, plan->hidden[1], plan->hidden[0],
          error))
    return FALSE;
  add_cls_rows_step (plan, host_copy_rows, plan->hidden[1], plan->hidden[0], c->hidden_size);
  return TRUE;
}

/* Attention of every frame over its cls copy and patches, output.dense, residual:
 * `in` -> `out`. The divided block then averages the frames' cls outputs. */
static gboolean
add_spatial_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, const gfloat *in, gfloat *out,
    GError **error)
{
  if (!add_self_attention (plan, c, ops, 0, views, in, &w->layernorm_before, &w->qkv, error)
      || !tsf_program_matmul (plan->program, ops->proj_residual, plan->attended,
          w->proj.weight, w->proj.bias, out, in, error))
    return FALSE;
  if (c->attention_type == TSF_ATTENTION_DIVIDED_SPACE_TIME)
    add_cls_rows_step (plan, host_average_rows, out, NULL, c->hidden_size);
  return TRUE;
}

/* layernorm_after, intermediate.dense + GELU, output.dense + residual: `in` -> hidden[0]. */
static gboolean
add_mlp (TsfPlan *plan, const TsfLayerOps *ops, const TsfLayerWeights *w, const gfloat *in,
    GError **error)
{
  return tsf_program_layernorm (plan->program, ops->norm, in, plan->normed,
      w->layernorm_after.weight, w->layernorm_after.bias, error)
      && tsf_program_matmul (plan->program, ops->fc1, plan->normed, w->intermediate.weight,
      w->intermediate.bias, plan->mlp, NULL, error)
      && tsf_program_matmul (plan->program, ops->fc2, plan->mlp, w->output.weight,
      w->output.bias, plan->hidden[0], in, error);
}

static gboolean
add_layer (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error)
{
  if (c->attention_type == TSF_ATTENTION_DIVIDED_SPACE_TIME)
    return add_temporal_attention (plan, c, ops, views, w, error)
        && add_spatial_attention (plan, c, ops, views, w, plan->hidden[1], plan->hidden[2],
        error)
        && add_mlp (plan, ops, w, plan->hidden[2], error);
  return add_spatial_attention (plan, c, ops, views, w, plan->hidden[0], plan->hidden[1],
      error)
      && add_mlp (plan, ops, w, plan->hidden[1], error);
}

/* space_only averages the frames first; timesformer.layernorm on the cls token; classifier. */
static gboolean
add_head (TsfRunner *runner, TsfPlan *plan, GError **error)
{
  const TsfConfig *c = runner->config;
  const TsfWeights *w = runner->weights;
  dnnl_memory_desc_t cls;
  TsfOp *norm, *classifier;

  if (c->attention_type == TSF_ATTENTION_SPACE_ONLY)
    add_cls_rows_step (plan, host_average_rows, plan->hidden[0], NULL, c->hidden_size);
  if (!tsf_md_matrix (&cls, 1, c->hidden_size, error)
      || !(norm = tsf_program_layernorm_op (plan->program, &cls, c->layer_norm_eps, error))
      || !(classifier = linear_op (plan->program, 1, c->hidden_size, c->num_labels, TRUE,
              FALSE, FALSE, NULL, error)))
    return FALSE;
  return tsf_program_layernorm (plan->program, norm, plan->hidden[0], plan->normed,
      w->layernorm.weight, w->layernorm.bias, error)
      && tsf_program_matmul (plan->program, classifier, plan->normed, w->classifier.weight,
      w->classifier.bias, plan->logits, NULL, error);
}

/* --- plans --- */

static guint
attention_views (const TsfConfig *c, const TsfLayout *l, TsfAttentionView *views)
{
  if (!l->cls_per_frame) {
    views[0] = (TsfAttentionView) { 1, l->rows, 0, 0, 1, 0 };
  } else {
    /* each frame: its cls copy and N patches */
    views[0] = (TsfAttentionView) { l->frames, 1 + l->patches, 0, 1 + l->patches, 1, 0 };
    /* each patch over the frames */
    views[1] = (TsfAttentionView) { l->patches, l->frames, 1, 1, 1 + l->patches, 0 };
  }
  guint n = c->attention_type == TSF_ATTENTION_DIVIDED_SPACE_TIME ? 2 : 1;
  for (guint i = 0; i < n; i++)
    views[i].heads_per_step = attention_heads_per_step (&views[i], c->num_attention_heads);
  return n;
}

static void
plan_alloc_buffers (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *views,
    guint n_views)
{
  const TsfLayout *l = &plan->layout;
  gsize d = c->hidden_size, rows = l->rows, scores = 0;

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
  plan->attended = plan_alloc (plan, rows * d);
  plan->qkv = plan_alloc (plan, rows * 3 * d);
  plan->scores = plan_alloc (plan, scores);
  plan->mlp = plan_alloc (plan, rows * c->intermediate_size);
  plan->logits = plan_alloc (plan, c->num_labels);
}

static TsfPlan *
plan_new (TsfRunner *runner, const TsfClipShape *shape, GError **error)
{
  const TsfConfig *c = runner->config;
  TsfPlan *plan = g_new0 (TsfPlan, 1);
  TsfAttentionView views[2];
  TsfLayerOps ops = { 0 };
  guint n_views;
  gboolean ok;

  plan->shape = *shape;
  layout_init (&plan->layout, c, shape);
  n_views = attention_views (c, &plan->layout, views);
  plan_alloc_buffers (plan, c, views, n_views);
  fill_embeddings (c, runner->weights, plan);
  plan->program = tsf_program_new (runner->engine, runner->threads);

  ok = add_patch_embedding (runner, plan, error)
      && layer_ops (plan->program, c, runner->layouts, &plan->layout, views, n_views, &ops,
      error);
  for (guint i = 0; ok && i < c->num_hidden_layers; i++)
    ok = add_layer (plan, c, &ops, views, &runner->weights->layers[i], error);
  ok = ok && add_head (runner, plan, error) && tsf_program_finish (plan->program, error);
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

/* --- weights --- */

/* The layout oneDNN's default matmul prefers for an [in, out] weight on `rows` tokens. */
static gboolean
preferred_layout (dnnl_engine_t engine, gsize rows, guint in, guint out,
    dnnl_memory_desc_t *layout, GError **error)
{
  dnnl_memory_desc_t src, weights, dst;
  dnnl_dims_t dims = { in, out };
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd;

  if (!tsf_md_matrix (&src, rows, in, error) || !tsf_md_matrix (&dst, rows, out, error))
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&weights, 2, dims, dnnl_f32,
          dnnl_format_tag_any), error, FALSE);
  TSF_DNNL_CHECK (dnnl_matmul_desc_init (&desc, &src, &weights, NULL, &dst), error, FALSE);
  if (!tsf_dnnl_pd_create (&pd, &desc, NULL, engine, FALSE, error))
    return FALSE;
  *layout = *dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy (pd);
  return TRUE;
}

/* Copies a PyTorch [out, in] weight into `layout`, lets the original go and points `weight`
 * at the copy. */
static gboolean
prepare_weight (TsfForward *forward, TsfWeights *weights, dnnl_engine_t engine,
    dnnl_stream_t stream, const gfloat **weight, guint in, guint out,
    const dnnl_memory_desc_t *layout, GError **error)
{
  dnnl_memory_desc_t source;
  gfloat *data;

  if (!tsf_md_linear_weight (&source, 2, in, out, error))
    return FALSE;
  data = g_aligned_alloc0 (1, dnnl_memory_desc_get_size (layout) + TSF_DNNL_TAIL_BYTES, ALIGNMENT);
  g_ptr_array_add (forward->prepared, data);
  if (!tsf_dnnl_reorder_once (engine, stream, &source, *weight, layout, data,
          error))
    return FALSE;
  tsf_weights_release_data (weights, *weight);
  *weight = data;
  return TRUE;
}

/* The layers' linear weights, layer by layer into the layouts the matmuls prefer (brgemm's
 * blocked layouts), each original released as soon as it is copied: one copy at a time. */
static gboolean
prepare_weights (TsfForward *forward, TsfWeights *weights, dnnl_engine_t engine,
    dnnl_stream_t stream, GError **error)
{
  const TsfConfig *c = forward->config;
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  guint d = c->hidden_size, inter = c->intermediate_size;
  TsfWeightLayouts *l = &forward->layouts;
  TsfLayout layout;

  layout_init (&layout, c, &shape);
  if (!preferred_layout (engine, layout.rows, d, 3 * d, &l->qkv, error)
      || !preferred_layout (engine, layout.rows, d, d, &l->proj, error)
      || !preferred_layout (engine, layout.rows, d, inter, &l->fc1, error)
      || !preferred_layout (engine, layout.rows, inter, d, &l->fc2, error))
    return FALSE;
  for (guint i = 0; i < c->num_hidden_layers; i++) {
    TsfLayerWeights *w = &weights->layers[i];
    if (!prepare_weight (forward, weights, engine, stream, &w->qkv.weight, d, 3 * d, &l->qkv, error)
        || !prepare_weight (forward, weights, engine, stream, &w->proj.weight, d, d, &l->proj, error)
        || !prepare_weight (forward, weights, engine, stream, &w->intermediate.weight, d, inter, &l->fc1, error)
        || !prepare_weight (forward, weights, engine, stream, &w->output.weight, inter, d, &l->fc2, error))
      return FALSE;
    if (c->attention_type == TSF_ATTENTION_DIVIDED_SPACE_TIME
        && (!prepare_weight (forward, weights, engine, stream, &w->temporal_qkv.weight, d, 3 * d, &l->qkv, error)
            || !prepare_weight (forward, weights, engine, stream, &w->temporal_proj.weight, d, d, &l->proj, error)
            || !prepare_weight (forward, weights, engine, stream, &w->temporal_dense.weight, d, d, &l->proj, error)))
      return FALSE;
  }
  return TRUE;
}

/* --- the runner --- */

TsfForward *
tsf_forward_new (const TsfConfig *config, TsfWeights *weights, gint threads, GError **error)
{
  TsfForward *forward = g_new0 (TsfForward, 1);
  dnnl_engine_t engine = NULL;
  dnnl_stream_t stream = NULL;
  gboolean ok;

  forward->config = config;
  forward->weights = weights;
  forward->prepared = g_ptr_array_new_with_free_func (g_aligned_free);
  omp_set_num_threads (resolve_threads (threads));
  ok = tsf_dnnl_engine_new (&engine, &stream, error)
      && prepare_weights (forward, weights, engine, stream, error);
  if (stream != NULL)
    dnnl_stream_destroy (stream);
  if (engine != NULL)
    dnnl_engine_destroy (engine);
  if (!ok) {
    tsf_forward_free (forward);
    return NULL;
  }
  return forward;
}

void
tsf_forward_free (TsfForward *forward)
{
  if (forward == NULL)
    return;
  g_ptr_array_free (forward->prepared, TRUE);
  g_free (forward);
}

guint64
tsf_forward_weight_bytes (const TsfForward *forward)
{
  return tsf_weights_parameter_count (forward->config) * sizeof (gfloat);
}

TsfRunner *
tsf_runner_new (const TsfForward *forward, gint threads, GError **error)
{
  TsfRunner *runner = g_new0 (TsfRunner, 1);

  runner->config = forward->config;
  runner->weights = forward->weights;
  runner->layouts = &forward->layouts;
  runner->threads = resolve_threads (threads);
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
  gint resolved = resolve_threads (threads);

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

  if (!check_shape (runner->config, shape, error))
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

gboolean
tsf_runner_run (TsfRunner *runner, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error)
{
  TsfPlan *plan = get_plan (runner, shape, error);

  if (plan == NULL)
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_set_data_handle (plan->clip, (void *) clip), error, FALSE);
  if (!tsf_program_run (plan->program, runner->stream, error))
    return FALSE;
  memcpy (logits, plan->logits, runner->config->num_labels * sizeof (gfloat));
  return TRUE;
}

guint
tsf_config_linear_shapes (const TsfConfig *c, const TsfClipShape *shape, TsfGemmShape *out)
{
  guint t = shape->frames, n = (shape->height / c->patch_size) * (shape->width / c->patch_size);
  guint d = c->hidden_size, i = c->intermediate_size, k = c->num_channels * c->patch_size
      * c->patch_size, layers = c->num_hidden_layers;
  guint tokens = c->attention_type == TSF_ATTENTION_SPACE_ONLY ? t * (1 + n) : 1 + n * t;
  guint spatial = c->attention_type == TSF_ATTENTION_JOINT_SPACE_TIME ? tokens : t * (1 + n);
  guint count = 0;

  out[count++] = (TsfGemmShape) { t * n, k, d, 1 };               /* patch embedding */
  if (c->attention_type == TSF_ATTENTION_DIVIDED_SPACE_TIME) {
    out[count++] = (TsfGemmShape) { n * t, d, 3 * d, layers };    /* temporal qkv */
    out[count++] = (TsfGemmShape) { n * t, d, d, 2 * layers };    /* output.dense, temporal_dense */
  }
  out[count++] = (TsfGemmShape) { spatial, d, 3 * d, layers };    /* qkv */
  out[count++] = (TsfGemmShape) { spatial, d, d, layers };        /* output.dense */
  out[count++] = (TsfGemmShape) { tokens, d, i, layers };         /* intermediate.dense */
  out[count++] = (TsfGemmShape) { tokens, i, d, layers };         /* output.dense */
  out[count++] = (TsfGemmShape) { 1, d, c->num_labels, 1 };       /* classifier */
  return count;
}

gdouble
tsf_runner_flops (const TsfConfig *c, const TsfClipShape *shape)
{
  TsfGemmShape shapes[TSF_MAX_GEMM_SHAPES];
  guint n_shapes = tsf_config_linear_shapes (c, shape, shapes);
  gdouble t = shape->frames, n = (shape->height / c->patch_size) * (shape->width / c->patch_size);
  gdouble d = c->hidden_size, layers = c->num_hidden_layers, flops = 0, attention;

  for (guint i = 0; i < n_shapes; i++)
    flops += 2.0 * shapes[i].m * shapes[i].k * shapes[i].n * shapes[i].count;
  /* q k^T and probabilities x v: 2 * 2 * sequences * length^2 * hidden */
  switch (c->attention_type) {
    case TSF_ATTENTION_DIVIDED_SPACE_TIME:
      attention = n * t * t + t * (1 + n) * (1 + n);
      break;
    case TSF_ATTENTION_JOINT_SPACE_TIME:
      attention = (1 + n * t) * (1 + n * t);
      break;
    default:
      attention = t * (1 + n) * (1 + n);
      break;
  }
  return flops + 4.0 * attention * d * layers;
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
