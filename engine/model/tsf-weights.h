/* tsf-weights.h: the model's parameters as float32 arrays in PyTorch layout (internal).
 * tsf_weights_bind() checks a TsfTensorSet against the config (every expected tensor present
 * with its shape, none extra) and fills this struct; the forward pass reads it when it
 * prepares its own layouts. */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"
#include "tsf-attention.h"

G_BEGIN_DECLS

typedef struct {
  const gfloat *weight;  /* [out, in], row-major as in torch.nn.Linear */
  const gfloat *bias;    /* [out], or NULL (qkv without bias) */
  const gfloat *scales;  /* [out] of an int8 weight (saved, or prepared by the forward pass) */
  const gint8 *quantized; /* [out, in] of a model saved at int8 (then weight is NULL): weight
                           * row o = scales[o] x quantized row o */
} TsfLinear;

typedef struct {
  const gfloat *weight;  /* [hidden] */
  const gfloat *bias;    /* [hidden] */
} TsfNorm;

typedef struct _TsfLayerWeights {
  /* schemes with a temporal sub-block only (divided_space_time; NULL otherwise) */
  TsfNorm temporal_layernorm;
  TsfLinear temporal_qkv;
  TsfLinear temporal_proj;     /* temporal_attention.output.dense */
  TsfLinear temporal_dense;
  TsfLinear temporal_output;   /* int8 and bf16: temporal_proj then temporal_dense as one
                                * (W_dense W_proj, W_dense b_proj + b_dense), folded at load or
                                * saved so (`temporal_output.*` of a model saved at int8; then
                                * temporal_proj and temporal_dense are NULL) */
  /* every attention type but the grouped ones (NULL there) */
  TsfNorm layernorm_before;
  TsfLinear qkv;               /* attention.attention.qkv */
  TsfLinear proj;              /* attention.output.dense */
  /* grouped schemes (axial, sparse_local_global): per attention step (NULL otherwise) */
  TsfNorm step_layernorm[TSF_MAX_ATTENTION_STEPS];   /* <step>_layernorm */
  TsfLinear step_qkv[TSF_MAX_ATTENTION_STEPS];       /* <step>_attention.attention.qkv */
  TsfLinear step_proj[TSF_MAX_ATTENTION_STEPS];      /* <step>_attention.output.dense */
  /* every attention type */
  TsfNorm layernorm_after;
  TsfLinear intermediate;      /* intermediate.dense [intermediate, hidden]; a GEGLU MLP
                                * (lucidrains) binds [2 x intermediate, hidden] here and the
                                * forward pass reads its second half as `gate` */
  TsfLinear gate;              /* GEGLU only: the half that goes through GELU */
  TsfLinear output;            /* output.dense [hidden, intermediate] */
} TsfLayerWeights;

typedef struct _TsfWeights {
  const gfloat *patch_weight;  /* [hidden, channels, patch, patch] */
  const gfloat *patch_bias;    /* [hidden] */
  const gfloat *cls_token;     /* [hidden] */
  const gfloat *position_embeddings; /* [1 + (image/patch)^2, hidden] */
  const gfloat *time_embeddings;     /* [num_frames, hidden], NULL for space_only */
  /* lucidrains: position_embeddings is pos_emb [rows, hidden] (one row per token, in token
   * order; NULL with rotary_emb), and with rotary_emb the library's buffers */
  const gfloat *time_frequencies;    /* frame_rot_emb.inv_freqs [ceil(head size / 2)] */
  const gfloat *space_scales;        /* image_rot_emb.scales [floor(head size / 4)] */
  TsfLayerWeights *layers;     /* num_hidden_layers */
  TsfNorm layernorm;           /* timesformer.layernorm */
  TsfLinear classifier;        /* [num_labels, hidden] */

  gboolean quantized;          /* saved at int8: the layers' linear weights are `quantized` */
  gboolean temporal_folded;    /* saved with `temporal_output` (convert --precision int8) */

  /* private */
  TsfTensorSet *tensors;       /* owned; pointers above may point into it */
  GPtrArray *converted;        /* owned float arrays (converted or realigned tensors) */
} TsfWeights;

/* The expected-tensor table (an array of entries): what bind checks, new_random fills and
 * parameter_count counts. A scheme with tensors of its own names them through its
 * expect_tensors (tsf-attention.h) with these. */
typedef enum {
  TSF_INIT_LINEAR,     /* random weights, std 0.02 */
  TSF_INIT_BIAS,       /* small */
  TSF_INIT_NORM_SCALE, /* near 1 */
} TsfInitKind;

void tsf_weights_expect (GArray *table, const gfloat **slot, TsfInitKind init, guint ndim,
    const gint64 *shape, const gchar *format, ...) G_GNUC_PRINTF (6, 7);
void tsf_weights_expect_linear (GArray *table, TsfLinear *linear, gint64 out, gint64 in,
    gboolean bias, const gchar *prefix);
void tsf_weights_expect_norm (GArray *table, TsfNorm *norm, gint64 hidden, const gchar *prefix);

/* lucidrains' tensors (tsf-family-lucidrains.c): the scheme timesformer_pytorch's table. */
void tsf_lucidrains_expect_tensors (GArray *table, const TsfConfig *config,
    TsfWeights *weights);

/* The weight of layer `i`'s temporal_output (a string literal for a literal `i`). */
#define TSF_TEMPORAL_OUTPUT_WEIGHT(i) "timesformer.encoder.layer." #i ".temporal_output.weight"

/* Takes ownership of `tensors` (also on failure). The layers' linear weights (those the int8
 * forward quantises) may all be I8 [out, in] tensors, each with an F32 [out] `<name>_scale`
 * (a model written by `convert --precision int8`); they are then bound as `quantized`. Such a
 * model of a scheme with a temporal sub-block may hold each layer's temporal_output (I8)
 * instead of its temporal_attention.output.dense and temporal_dense (temporal_folded). */
TsfWeights *tsf_weights_bind (const TsfConfig *config, TsfTensorSet *tensors, GError **error);
/* Random weights (truncated-normal-like, std 0.02; norms near 1/0) for benchmarks; more than
 * `max_bytes` of them is refused (TSF_ERROR_MEMORY) before anything is allocated. */
TsfWeights *tsf_weights_new_random (const TsfConfig *config, guint64 seed, guint64 max_bytes,
    GError **error);
guint64 tsf_weights_parameter_count (const TsfConfig *config);
/* Names of the tensors that a model saved at int8 holds as I8 (the layers' linear weights);
 * NULL-terminated, free with g_strfreev(). */
gchar **tsf_weights_quantizable_names (const TsfConfig *config);
/* int8, symmetric per output channel: each row of a PyTorch [out, in] weight scaled into
 * [-127, 127] (`quantized`, out x in bytes); `scales` [out] gets the rows' scales. */
void tsf_weights_quantize_rows (const gfloat *weight, guint in, guint out, gint8 *quantized,
    gfloat *scales);
/* Drops the source tensors once the forward pass holds its own copies. */
void tsf_weights_release_source (TsfWeights *weights);
/* Lets one parameter's float array go once the forward pass holds its own copy: a converted
 * array is freed, a tensor of a mapped file drops its pages. The caller clears its pointer. */
void tsf_weights_release_data (TsfWeights *weights, gconstpointer data);
void tsf_weights_free (TsfWeights *weights);

G_END_DECLS
