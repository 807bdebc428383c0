/* tsf-plan.h: what the files of the forward pass share (internal to engine/forward/).
 *
 * Token layout. The hidden state is a [rows, hidden] matrix. For divided_space_time and
 * space_only every frame holds its own copy of the cls token followed by its N patches
 * (row t * (1 + N) + s), so the spatial attention of a frame is a plain strided view and the
 * temporal attention of a patch is another (stride 1 + N rows). The copies of the cls token are
 * kept equal (the divided block averages them, as the official model averages the per-frame cls
 * outputs). joint_space_time has one cls token then the patches frame by frame; attention, norms
 * and MLPs act per token or over all tokens, so the order is free. The grouped schemes (axial,
 * sparse_local_global) have joint's layout and gather each group's rows for its attention.
 *
 * Weights. The layers' linear weights (97% of the work) are reordered once, at load
 * (tsf-prepared.c), into the blocked layouts oneDNN's brgemm matmul prefers, layer by layer,
 * each original released as soon as it is copied, so the weights never exist twice (a model
 * saved at int8 brings them already quantised: TsfLinear.quantized). The rest
 * (patch projection, classifier, norms, biases, embeddings) is read in place from TsfWeights.
 *
 * Files: tsf-layout.c (layout, shape checks, cls-row steps), tsf-embeddings.c, tsf-attention.c
 * and tsf-attention-<scheme>.c, tsf-mlp.c, tsf-head.c, tsf-ops.c (ops shared by the layers),
 * tsf-prepared.c (the model's side), tsf-runner.c (plans: a session's side), tsf-gemms.c.
 */
#pragma once

#include "tsf-forward.h"
#include "tsf-config.h"
#include "tsf-attention.h"
#include "tsf-dnnl.h"

G_BEGIN_DECLS

#define TSF_ALIGNMENT 64

struct _TsfLayout {
  const TsfAttentionScheme *scheme;       /* of the config */
  guint frames, grid_h, grid_w, patches;  /* T, grid, N = grid_h * grid_w */
  gboolean cls_per_frame;                 /* the scheme's token layout */
  gsize rows;                             /* tokens held in the hidden state */
  gsize frame_stride;                     /* rows from a frame's patch to the next frame's */
};

/* A grouped step's groups on one clip shape: gathered row r holds hidden-state row rows[r]
 * (0: the cls token, first in each group); built once per plan. */
typedef struct {
  guint32 *rows;
  gsize n_rows, n_groups;
  guint first_view, n_views;   /* the step's attention views (one per group length) */
} TsfGroupTable;

struct _TsfPlan {
  TsfClipShape shape;
  TsfLayout layout;        /* of one clip */
  guint clips;             /* clips run at once (a batch): the [rows, ...] buffers hold `clips`
                            * blocks of layout.rows (clip b's row r is b * layout.rows + r);
                            * per-token ops run once over all of them, per-clip steps (the
                            * patch cut, attention, cls rows, the head) once per clip */
  TsfPrecision precision;  /* of its activations: float32 */
  TsfPrecision linear;     /* of the layers' linear layers (the forward's) */
  gfloat *patches;       /* [T * N, C * p * p] one clip cut into patches */
  gfloat *embeddings;    /* [clips x rows, D] cls + pos[0] on cls rows, pos + time on patch
                          * rows (the same for every clip) */
  gfloat *hidden[3];     /* [rows, D] the hidden state, ping-pong */
  gfloat *normed;        /* [rows, D] LayerNorm output */
  gfloat *projected;     /* [rows, D] temporal attention output */
  gfloat *attended;      /* [rows, D] attention heads, concatenated */
  gfloat *qkv;           /* [rows, 3 D] */
  gfloat *scores;        /* attention probabilities of one step of every clip; or the host
                          * kernels' scratch (tsf_long_attention_scratch() per thread) */
  gfloat *mlp;           /* [rows, intermediate] */
  gfloat *mlp_gate;      /* [rows, intermediate] GEGLU's gate (GELU of its half) */
  gfloat *logits;        /* [clips, num_labels] */
  /* grouped schemes only (tsf-attention-grouped.c): per step, the qkv rows of its groups
   * gathered as [cls, the group's tokens] after one another, and their attention outputs */
  gfloat *gathered_qkv;  /* [gathered rows, 3 D] */
  gfloat *gathered;      /* [gathered rows, D] */
  TsfGroupTable groups[TSF_MAX_ATTENTION_STEPS];
  /* lucidrains only (tsf-attention-lucidrains.c) */
  guint8 *key_mask;      /* [clips, 1 + frames] 1 keeps a key: the cls, then each frame (per
                          * run) */
  gfloat *cls_scores;    /* [rows] the cls query's attention over every token of a clip */
  gfloat *rotary[TSF_MAX_ATTENTION_STEPS]; /* per step: cos then sin [positions, rotated] */
  gpointer linear_input; /* bf16 / int8: [rows, intermediate] a linear layer's converted input */
  gfloat *scales;        /* int8: [3 D or intermediate] a layer's output scales of this run */
  gint32 *zero_point;    /* int8: [1] of linear_input */
  gfloat *row_stats;     /* int8: [rows, 2] a layer norm's mean and 1 / std per row (of a clip) */
  gsize buffer_bytes;
  TsfProgram *program;
  dnnl_memory_t clip[TSF_MAX_BATCH];  /* the reorders' sources, pointed at each run's clips */
};

/* Rows of a plan's [rows, ...] buffers: every clip's tokens. */
static inline gsize
tsf_plan_rows (const TsfPlan *plan)
{
  return plan->clips * plan->layout.rows;
}

/* Layouts of the layers' linear weights, as the matmul prefers them ([in, out]). */
typedef struct {
  dnnl_memory_desc_t qkv, proj, fc1, fc2;
} TsfWeightLayouts;

/* The model's side: read-only once tsf_forward_new() returns. */
struct _TsfForward {
  const TsfConfig *config;    /* borrowed from the model */
  const TsfWeights *weights;  /* borrowed; its layers' linear weights point into `prepared` */
  TsfPrecision precision;     /* of the prepared linear weights (never AUTO) */
  gsize prepared_bytes;       /* of `prepared` */
  guint64 prepared_params;    /* parameters held there (or folded away) */
  gboolean temporal_folded;   /* the temporal sub-block's output layers run as one */
  TsfWeightLayouts layouts;
  GPtrArray *prepared;        /* the reordered linear weights (aligned blocks) */
};

/* One caller's side: plans, buffers, scratchpads, its own oneDNN engine and stream. */
struct _TsfRunner {
  const TsfConfig *config;    /* the forward's */
  const TsfWeights *weights;  /* the forward's */
  const TsfWeightLayouts *layouts;  /* the forward's */
  TsfPrecision precision;     /* the forward's */
  gint threads;
  guint64 max_clip_bytes;     /* bound on one plan's buffers and scratchpad */
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  GPtrArray *plans;           /* TsfPlan, one per clip shape */
};

/* A layer's linear op in the forward's precision. f32 reads its input in place; bf16 first
 * converts it (a reorder into plan->linear_input); int8 first quantises it (a host step: one
 * scale and zero point for the tensor, the output scales of the run), one clip at a time so
 * that a clip's scale does not depend on the others of its batch. */
typedef struct {
  TsfOp *convert;        /* bf16: the reorder; NULL otherwise */
  TsfOp *matmul;
  gsize rows;            /* all clips' rows; int8: one clip's (it runs once per clip) */
  guint in, out;
} TsfLinearOp;

/* Ops shared by every layer of a plan (all layers have the same shapes). */
struct _TsfLayerOps {
  TsfOp *norm;
  TsfLinearOp qkv, proj, proj_residual, fc1, fc2;
  TsfLinearOp fc1_gated; /* GEGLU: intermediate.dense times the gate (src1); else no matmul */
  TsfOp *qk[TSF_MAX_ATTENTION_VIEWS], *softmax[TSF_MAX_ATTENTION_VIEWS];
  TsfOp *sv[TSF_MAX_ATTENTION_VIEWS];   /* per view of the scheme */
};

/* One attention pattern: `groups` independent sequences of `length` tokens; token s of
 * group g is row offset + g * group_stride + s * token_stride; in a batch, clip b's rows
 * follow after b * clip_rows (the rows of one clip in the buffer the view reads). */
struct _TsfAttentionView {
  gsize groups, length, offset, group_stride, token_stride, heads_per_step;
  gsize clip_rows;       /* 0 from the scheme: the layout's rows */
  gboolean on_host;      /* the host kernels (tsf_host_attention_fits()), no oneDNN ops */
};

/* tsf-layout.c */
gint tsf_resolve_threads (gint threads);
gboolean tsf_check_clip_finite (const gfloat *clip, const TsfClipShape *shape, GError **error);
gboolean tsf_check_logits_finite (const gfloat *logits, guint n, GError **error);
void tsf_layout_init (TsfLayout *layout, const TsfConfig *config, const TsfClipShape *shape);
gboolean tsf_check_shape (const TsfConfig *config, const TsfClipShape *shape, GError **error);
void tsf_host_copy_rows (const gpointer *args, const gsize *sizes);
void tsf_host_average_rows (const gpointer *args, const gsize *sizes);
/* `func` on the cls rows of each clip of `dst` (and `src`, or NULL): [clips x rows, d]. */
void tsf_add_cls_rows_step (TsfPlan *plan, TsfHostFunc func, gfloat *dst, const gfloat *src,
    gsize d);

/* tsf-embeddings.c */
void tsf_fill_embeddings (const TsfConfig *config, const TsfWeights *weights, TsfPlan *plan);
gboolean tsf_add_patch_embedding (TsfRunner *runner, TsfPlan *plan, GError **error);

/* tsf-ops.c */
TsfOp *tsf_linear_op (TsfProgram *program, gsize rows, guint in, guint out, gboolean bias,
    gboolean gelu, gboolean residual, const dnnl_memory_desc_t *layout, GError **error);
gboolean tsf_layer_ops (TsfProgram *program, TsfPrecision linear, const TsfConfig *config,
    const TsfWeightLayouts *w, const TsfLayout *l, guint clips, const TsfAttentionView *views,
    guint n_views, TsfLayerOps *ops, GError **error);
/* `src` [rows, in] -> `dst` [rows, out] through `w`, plus `residual` when the op has one. */
gboolean tsf_add_linear (TsfPlan *plan, const TsfLinearOp *op, const gfloat *src,
    const TsfLinear *w, gfloat *dst, const gfloat *residual, GError **error);
/* The layer norm `norm_op` of `src` into plan->normed, then the token shift when `shift` (and
 * the config has one). */
gboolean tsf_add_normed_input (TsfPlan *plan, const TsfConfig *c, const TsfOp *norm_op,
    const TsfNorm *norm, gboolean shift, const gfloat *src, GError **error);
/* The layer norm `norm_op` (weights `norm`) of `src`, the token shift when `shift` (and the
 * config has one), then the linear op: -> `dst`. At int8 without a shift one host step per
 * clip normalises and quantises at once (no float output); otherwise the norm's output is
 * plan->normed. */
gboolean tsf_add_normed_linear (TsfPlan *plan, const TsfConfig *c, const TsfOp *norm_op,
    const TsfNorm *norm, gboolean shift, const gfloat *src, const TsfLinearOp *op,
    const TsfLinear *w, gfloat *dst, GError **error);

/* tsf-attention.c */
guint tsf_attention_views (const TsfConfig *c, const TsfLayout *l, TsfAttentionView *views);
/* The view's products over `clips` clips at once (an outer dimension of stride clip_rows). */
gboolean tsf_attention_ops (TsfProgram *program, const TsfConfig *config,
    const TsfAttentionView *v, guint clips, TsfOp **qk, TsfOp **softmax, TsfOp **sv,
    GError **error);
gboolean tsf_add_self_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    guint view, const TsfAttentionView *views, const gfloat *in, const TsfNorm *norm,
    const TsfLinear *qkv, GError **error);
gboolean tsf_add_spatial_attention (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, const gfloat *in, gfloat *out,
    GError **error);

/* Every clip of the plan at once: `qkv_rows` and `out_rows` hold view->clip_rows rows per
 * clip, `key_mask` 1 + frames keys per clip. */
gboolean tsf_add_attention_view (TsfPlan *plan, const TsfConfig *c, const TsfAttentionView *view,
    TsfOp *qk, TsfOp *softmax, TsfOp *sv, const gfloat *qkv_rows, gfloat *out_rows,
    const guint8 *key_mask, GError **error);

/* Whether the host kernels take a view's attention (tsf-short-attention.c up to
 * TSF_MAX_SHORT_LENGTH tokens, tsf-long-attention.c past it): head_size a multiple of 16, a
 * CPU with AVX-512 (TSF_ATTENTION_KERNELS=onednn, for the tests, says no). */
gboolean tsf_host_attention_fits (gsize head_size);
/* The host steps: args qkv rows, output rows (the view's first row of the first clip), the
 * long kernels' scratch (plan->scores); sizes groups, length, group stride and token stride
 * (rows), attention size, heads, clips, rows per clip, the scratch's floats per thread,
 * threads. Only where tsf_host_attention_fits(). */
#define TSF_MAX_SHORT_LENGTH 16
void tsf_host_short_attention (const gpointer *args, const gsize *sizes);
void tsf_host_long_attention (const gpointer *args, const gsize *sizes);
/* The long kernel for a plan whose linear layers run at `linear`: at bf16 and int8, where the
 * CPU has AVX512_BF16 and head_size is a multiple of 32, its products in bf16 (float sums,
 * softmax and output; TSF_ATTENTION_KERNELS=f32 says no); else tsf_host_long_attention. */
TsfHostFunc tsf_long_attention_kernel (TsfPrecision linear, gsize head_size);
/* The long kernels' scratch per thread, in floats (the larger of the f32 and bf16 layouts:
 * tsf-long-attention.c). */
gsize tsf_long_attention_scratch (gsize length, gsize head_size);

/* tsf-attention-grouped.c: the functions of a grouped scheme (its TsfAttentionScheme has
 * grouped_steps): steps that split the video tokens into groups, each attended together with
 * the cls token (axial, sparse_local_global). */
guint tsf_grouped_views (const TsfLayout *l, TsfAttentionView *views);
/* The grouping of a time step: one group per patch position (row, column), all frames. */
guint tsf_position_keys (const TsfLayout *l);
guint tsf_position_key (const TsfLayout *l, guint t, guint i, guint j);
gboolean tsf_grouped_block (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfAttentionView *views, const TsfLayerWeights *w, GError **error);
gdouble tsf_grouped_pairs (const TsfLayout *l);
guint tsf_grouped_tokens (guint t, guint n);
guint tsf_grouped_gemms (const TsfConfig *c, guint t, guint n, gboolean temporal_folded,
    TsfGemmShape *out);
/* tsf-attention-lucidrains.c: what its grouped steps add (read by tsf-attention-grouped.c) */
/* Rotates the patch tokens' q and k of step `step`'s gathered rows (plan->rotary[step]). */
void tsf_add_rotary (TsfPlan *plan, const TsfConfig *c, guint step);
/* The cls query over every token of plan->qkv (key mask applied) into plan->attended row 0. */
void tsf_add_cls_attention (TsfPlan *plan, const TsfConfig *c);
/* The rotation angles' cos and sin tables of the plan's steps (with rotary_emb). */
void tsf_fill_rotary (const TsfConfig *c, const TsfWeights *weights, TsfPlan *plan);
/* Rows of the gathered buffers: the largest step's tokens plus its groups. */
gsize tsf_grouped_rows (const TsfAttentionView *views, guint n_views);

/* tsf-mlp.c */
gboolean tsf_add_mlp (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfLayerWeights *w, const gfloat *in, GError **error);
/* The token shift on plan->normed when the config has shift_tokens (lucidrains). */
void tsf_add_token_shift (TsfPlan *plan, const TsfConfig *c);

/* tsf-head.c */
gboolean tsf_add_head (TsfRunner *runner, TsfPlan *plan, GError **error);

G_END_DECLS
