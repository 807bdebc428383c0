/* tsf-gemms.c: the GEMM inventory and the FLOPs of one clip, as the engine computes them (the
 * official model's for the official schemes, less the temporal output layer the forward folds
 * at bf16 and int8; the scheme names its attention part). */
#include "tsf-plan.h"

guint
tsf_forward_linear_shapes (const TsfForward *forward, const TsfClipShape *shape,
    TsfGemmShape *out)
{
  const TsfConfig *c = forward->config;
  guint t = shape->frames, n = (shape->height / c->patch_size) * (shape->width / c->patch_size);
  guint d = c->hidden_size, i = c->intermediate_size, k = c->num_channels * c->patch_size
      * c->patch_size, layers = c->num_hidden_layers;
  const TsfAttentionScheme *scheme = tsf_attention_scheme (c->attention_type);
  guint tokens = scheme->mlp_tokens (t, n);
  guint count = 0;

  out[count++] = (TsfGemmShape) { t * n, k, d, 1 };               /* patch embedding */
  count += scheme->attention_gemms (c, t, n, forward->temporal_folded, out + count);
  out[count++] = (TsfGemmShape) { tokens, d, i,                   /* intermediate.dense */
    layers * (scheme->geglu ? 2 : 1) };                           /* (GEGLU: and its gate) */
  out[count++] = (TsfGemmShape) { tokens, i, d, layers };         /* output.dense */
  out[count++] = (TsfGemmShape) { 1, d, c->num_labels, 1 };       /* classifier */
  return count;
}

gdouble
tsf_forward_flops (const TsfForward *forward, const TsfClipShape *shape)
{
  const TsfConfig *c = forward->config;
  TsfGemmShape shapes[TSF_MAX_GEMM_SHAPES];
  guint n_shapes = tsf_forward_linear_shapes (forward, shape, shapes);
  gdouble d = tsf_config_attention_size (c), layers = c->num_hidden_layers, flops = 0;
  TsfLayout layout;
  gdouble attention;

  tsf_layout_init (&layout, c, shape);
  attention = tsf_attention_scheme (c->attention_type)->attention_pairs (&layout);

  for (guint i = 0; i < n_shapes; i++)
    flops += 2.0 * shapes[i].m * shapes[i].k * shapes[i].n * shapes[i].count;
  /* q k^T and probabilities x v: 2 * 2 * sequences * length^2 * hidden */
  return flops + 4.0 * attention * d * layers;
}
