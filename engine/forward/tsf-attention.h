/* tsf-attention.h: an attention scheme, the seam where a new one goes (internal).
 *
 * A scheme is a table: what its blocks need (tensors, token layout) and how it builds them.
 * One file per scheme (tsf-attention-<name>.c) defines one; tsf_attention_scheme() maps the
 * config's attention_type to it. A new scheme: a new file, an entry in TsfAttentionType,
 * config.json's name in tsf-config.c and a line in the table of tsf-attention.c.
 */
#pragma once

#include "timesformer.h"
#include "timesformer-bench.h"

G_BEGIN_DECLS

typedef struct _TsfPlan TsfPlan;
typedef struct _TsfLayout TsfLayout;
typedef struct _TsfLayerOps TsfLayerOps;
typedef struct _TsfAttentionView TsfAttentionView;
struct _TsfLayerWeights;
struct _TsfWeights;

/* What a lucidrains step rotates its patch tokens' q and k by (with rotary_emb). */
typedef enum {
  TSF_ROTARY_NONE,
  TSF_ROTARY_FRAME,    /* the frame index */
  TSF_ROTARY_GRID,     /* the patch's row and column */
} TsfRotaryKind;

/* One step of a grouped scheme (tsf-attention-grouped.c): the group key, below n_keys, of the
 * token of frame t, patch row i, column j. A group's tokens are in frame order. */
typedef struct {
  guint (*n_keys) (const TsfLayout *l);
  guint (*key) (const TsfLayout *l, guint t, guint i, guint j);
  gboolean masked_keys;   /* lucidrains' time step: the frame mask removes keys (1 + frame) */
  TsfRotaryKind rotary;
} TsfGroupedStep;

/* Attention patterns of one block at most (the divided scheme: spatial and temporal; a
 * grouped scheme: one per step and group length, sparse_local_global up to 4 + 8). */
#define TSF_MAX_ATTENTION_VIEWS 16
/* Attention steps of a grouped scheme's layer at most (axial: time, width, height). */
#define TSF_MAX_ATTENTION_STEPS 3

typedef struct {
  TsfAttentionType type;
  /* tensors and layout */
  gboolean temporal_block;     /* layers hold temporal_* tensors (a temporal sub-block) */
  gboolean time_embeddings;    /* the embeddings hold time_embeddings */
  gboolean cls_per_frame;      /* token layout: every frame holds a copy of the cls token */
  gboolean average_frames_before_head; /* the head reads the mean of the frames' cls rows */
  /* grouped schemes (tsf-attention-grouped.c): the layer's attention steps in order, each with
   * the tensors <name>_layernorm and <name>_attention in place of layernorm_before and
   * attention; 0 for the others */
  guint n_steps;
  const gchar *step_names[TSF_MAX_ATTENTION_STEPS];
  const TsfGroupedStep *grouped_steps;  /* n_steps of them */
  /* lucidrains' TimeSformer-pytorch (tsf-attention-lucidrains.c) */
  gboolean flat_positions;      /* position_embeddings: a row per token in token order (or
                                 * none, with rotary_emb) */
  gboolean patch_channels_last; /* a patch vector is (row, column, channel), not (channel,
                                 * row, column) */
  gboolean geglu;               /* MLP: intermediate half times GELU of the gate half */
  gboolean frame_mask;          /* takes a frame mask (tsf_session_run_masked) */
  gboolean cls_attends_all;     /* in each grouped step the cls query attends over every
                                 * token (unrotated keys), instead of the mean over groups */
  /* the tensors of the model, if not the Hugging Face layout's (model/tsf-weights.h) */
  void (*expect_tensors) (GArray *table, const TsfConfig *config, struct _TsfWeights *weights);
  /* the attention patterns of a block on `layout` (heads_per_step left to the caller);
   * returns how many (at most TSF_MAX_ATTENTION_VIEWS) */
  guint (*views) (const TsfLayout *layout, TsfAttentionView *views);
  /* adds one block's steps to `plan`: hidden[0] in, hidden[0] out */
  gboolean (*add_block) (TsfPlan *plan, const TsfConfig *config, const TsfLayerOps *ops,
      const TsfAttentionView *views, const struct _TsfLayerWeights *weights, GError **error);
  /* FLOPs, as the engine computes them, for T frames of N patches: the token pairs of one
   * block's attention on `layout` (sum of length^2 over its sequences), the tokens of its MLP,
   * and its attention's linear layers (written to `out`; returns how many, at most 4) */
  gdouble (*attention_pairs) (const TsfLayout *layout);
  guint (*mlp_tokens) (guint frames, guint patches);
  guint (*attention_gemms) (const TsfConfig *config, guint frames, guint patches,
      gboolean temporal_folded, TsfGemmShape *out);  /* temporal_folded: the temporal
                                * sub-block's two output layers run as one (bf16, int8) */
} TsfAttentionScheme;

extern const TsfAttentionScheme tsf_attention_divided;
extern const TsfAttentionScheme tsf_attention_joint;
extern const TsfAttentionScheme tsf_attention_space_only;
extern const TsfAttentionScheme tsf_attention_sparse_local_global;
extern const TsfAttentionScheme tsf_attention_axial;
extern const TsfAttentionScheme tsf_attention_lucidrains;

/* The scheme of a (validated) attention type. */
const TsfAttentionScheme *tsf_attention_scheme (TsfAttentionType type);
/* The scheme whose tensors a checkpoint holds: the one with (or without) a temporal sub-block
 * and time embeddings; else the first with (or without) a temporal sub-block (binding the
 * tensors then names what is missing). */
const TsfAttentionScheme *tsf_attention_scheme_for_tensors (gboolean temporal_block,
    gboolean time_embeddings);

G_END_DECLS
