/* tsf-weights.h: the model's parameters as float32 arrays in PyTorch layout (internal).
 * tsf_weights_bind() checks a TsfTensorSet against the config (every expected tensor present
 * with its shape, none extra) and fills this struct; the forward pass reads it when it
 * prepares its own layouts. */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"

G_BEGIN_DECLS

typedef struct {
  const gfloat *weight;  /* [out, in], row-major as in torch.nn.Linear */
  const gfloat *bias;    /* [out], or NULL (qkv without bias) */
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
  /* every attention type */
  TsfNorm layernorm_before;
  TsfLinear qkv;               /* attention.attention.qkv */
  TsfLinear proj;              /* attention.output.dense */
  TsfNorm layernorm_after;
  TsfLinear intermediate;      /* intermediate.dense [intermediate, hidden] */
  TsfLinear output;            /* output.dense [hidden, intermediate] */
} TsfLayerWeights;

typedef struct {
  const gfloat *patch_weight;  /* [hidden, channels, patch, patch] */
  const gfloat *patch_bias;    /* [hidden] */
  const gfloat *cls_token;     /* [hidden] */
  const gfloat *position_embeddings; /* [1 + (image/patch)^2, hidden] */
  const gfloat *time_embeddings;     /* [num_frames, hidden], NULL for space_only */
  TsfLayerWeights *layers;     /* num_hidden_layers */
  TsfNorm layernorm;           /* timesformer.layernorm */
  TsfLinear classifier;        /* [num_labels, hidden] */

  /* private */
  TsfTensorSet *tensors;       /* owned; pointers above may point into it */
  GPtrArray *converted;        /* owned float arrays (converted or realigned tensors) */
} TsfWeights;

/* Takes ownership of `tensors` (also on failure). */
TsfWeights *tsf_weights_bind (const TsfConfig *config, TsfTensorSet *tensors, GError **error);
/* Random weights (truncated-normal-like, std 0.02; norms near 1/0) for benchmarks; more than
 * `max_bytes` of them is refused (TSF_ERROR_MEMORY) before anything is allocated. */
TsfWeights *tsf_weights_new_random (const TsfConfig *config, guint64 seed, guint64 max_bytes,
    GError **error);
guint64 tsf_weights_parameter_count (const TsfConfig *config);
/* Drops the source tensors once the forward pass holds its own copies. */
void tsf_weights_release_source (TsfWeights *weights);
/* Lets one parameter's float array go once the forward pass holds its own copy: a converted
 * array is freed, a tensor of a mapped file drops its pages. The caller clears its pointer. */
void tsf_weights_release_data (TsfWeights *weights, const gfloat *data);
void tsf_weights_free (TsfWeights *weights);

G_END_DECLS
