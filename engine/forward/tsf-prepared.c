/* tsf-prepared.c: the model's side of the forward pass: the layers' linear weights reordered
 * once, at load, into the blocked layouts oneDNN's brgemm matmul prefers, in the forward's
 * precision (bf16 converted, int8 quantised per output channel). */
#include "tsf-plan.h"

#include <stdlib.h>
#include <string.h>
#include <omp.h>

/* What loading needs: the forward being made, the weights it releases, a one-off engine. */
typedef struct {
  TsfForward *forward;
  TsfWeights *weights;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
} Loader;

/* The layout oneDNN's default matmul prefers for an [in, out] weight on `rows` tokens. */
static gboolean
preferred_layout (dnnl_engine_t engine, TsfPrecision precision, gsize rows, guint in,
    guint out, dnnl_memory_desc_t *layout, GError **error)
{
  dnnl_memory_desc_t src, weights, dst;
  dnnl_dims_t dims = { in, out }, src_dims = { rows, in };
  dnnl_matmul_desc_t desc;
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  gint32 runtime = DNNL_RUNTIME_S32_VAL;
  gboolean ok;

  if (!tsf_md_matrix (&dst, TSF_PRECISION_F32, rows, out, error))
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src, 2, src_dims,
          tsf_precision_src_type (precision), dnnl_ab), error, FALSE);
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&weights, 2, dims,
          tsf_precision_data_type (precision), dnnl_format_tag_any), error, FALSE);
  TSF_DNNL_CHECK (dnnl_matmul_desc_init (&desc, &src, &weights, NULL, &dst), error, FALSE);
  TSF_DNNL_CHECK (dnnl_primitive_attr_create (&attr), error, FALSE);
  /* int8: the input's zero point changes what the kernels expect of the weights */
  if (precision == TSF_PRECISION_INT8)
    dnnl_primitive_attr_set_zero_points (attr, DNNL_ARG_SRC, 1, 0, &runtime);
  ok = tsf_dnnl_pd_create (&pd, &desc, attr, engine, FALSE, error);
  dnnl_primitive_attr_destroy (attr);
  if (!ok)
    return FALSE;
  *layout = *dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy (pd);
  return TRUE;
}

static gpointer
prepared_alloc (TsfForward *forward, gsize bytes, GError **error)
{
  gpointer data = tsf_try_alloc_zeroed (bytes, TSF_ALIGNMENT, "the prepared weights", error);

  if (data == NULL)
    return NULL;
  forward->prepared_bytes += bytes;
  g_ptr_array_add (forward->prepared, data);
  return data;
}

/* Copies a PyTorch [out, in] float32 weight into `layout` (of the forward's precision:
 * converted to bf16 by the reorder, or quantised to int8 first; a weight saved at int8 as it
 * is) and points `linear` at the copy (and its scales). */
static gboolean
copy_weight (Loader *loader, TsfLinear *linear, guint in, guint out,
    const dnnl_memory_desc_t *layout, GError **error)
{
  TsfForward *forward = loader->forward;
  gboolean int8 = forward->precision == TSF_PRECISION_INT8;
  dnnl_memory_desc_t source;
  gconstpointer from = linear->weight;
  gint8 *quantized = NULL;
  gpointer data;
  gboolean ok;

  if (!tsf_md_linear_weight (&source, int8 ? TSF_PRECISION_INT8 : TSF_PRECISION_F32, 2, in,
          out, error))
    return FALSE;
  g_return_val_if_fail (int8 || linear->quantized == NULL, FALSE);   /* tsf-model.c refuses */
  data = prepared_alloc (forward, dnnl_memory_desc_get_size (layout), error);
  if (data == NULL)
    return FALSE;
  if (int8) {
    gfloat *scales = prepared_alloc (forward, out * sizeof (gfloat), error);
    if (scales == NULL)
      return FALSE;
    if (linear->quantized != NULL) {
      memcpy (scales, linear->scales, out * sizeof (gfloat));
      from = linear->quantized;
    } else {
      from = quantized = g_malloc ((gsize) in * out);
      tsf_weights_quantize_rows (linear->weight, in, out, quantized, scales);
    }
    linear->scales = scales;
  }
  ok = tsf_dnnl_reorder_once (loader->engine, loader->stream, &source, from, layout, data,
      error);
  g_free (quantized);
  if (!ok)
    return FALSE;
  linear->weight = data;
  linear->quantized = NULL;
  forward->prepared_params += (guint64) in * out;
  return TRUE;
}

/* copy_weight(), and the original let go. */
static gboolean
prepare_weight (Loader *loader, TsfLinear *linear, guint in, guint out,
    const dnnl_memory_desc_t *layout, GError **error)
{
  gconstpointer original = linear->quantized ? (gconstpointer) linear->quantized
      : (gconstpointer) linear->weight;

  if (!copy_weight (loader, linear, in, out, layout, error))
    return FALSE;
  tsf_weights_release_data (loader->weights, original);
  return TRUE;
}

/* The qkv and output.dense of a grouped scheme's attention steps. */
static gboolean
prepare_steps (Loader *loader, TsfLayerWeights *w, GError **error)
{
  const TsfConfig *c = loader->forward->config;
  const TsfWeightLayouts *l = &loader->forward->layouts;
  guint d = c->hidden_size, a = tsf_config_attention_size (c);

  for (guint s = 0; s < tsf_attention_scheme (c->attention_type)->n_steps; s++)
    if (!prepare_weight (loader, &w->step_qkv[s], d, 3 * a, &l->qkv, error)
        || !prepare_weight (loader, &w->step_proj[s], a, d, &l->proj, error))
      return FALSE;
  return TRUE;
}

/* GEGLU: the gate is the second half of the intermediate tensor; it is copied before the
 * tensor (and with it the first half) is let go. */
static gboolean
prepare_gate (Loader *loader, TsfLayerWeights *w, GError **error)
{
  const TsfConfig *c = loader->forward->config;
  gsize d = c->hidden_size, inter = c->intermediate_size;

  if (!tsf_attention_scheme (c->attention_type)->geglu)
    return TRUE;
  w->gate.weight = w->intermediate.weight + inter * d;
  w->gate.bias = w->intermediate.bias + inter;
  return copy_weight (loader, &w->gate, d, inter, &loader->forward->layouts.fc1, error);
}

/* temporal_proj then temporal_dense as one linear layer, from their float weights: the
 * product into `weights->converted`, the bias into `prepared`; the two originals let go
 * (weights and biases). */
static gboolean
fold_temporal_output (Loader *loader, TsfLayerWeights *w, GError **error)
{
  guint d = loader->forward->config->hidden_size;
  gfloat *weight = g_malloc ((gsize) d * d * sizeof (gfloat));
  gfloat *bias = prepared_alloc (loader->forward, d * sizeof (gfloat), error);

  g_ptr_array_add (loader->weights->converted, weight);   /* freed when released */
  if (bias == NULL || !tsf_dnnl_fold_linears (loader->engine, loader->stream, d, d, d,
          w->temporal_proj.weight, w->temporal_proj.bias, w->temporal_dense.weight,
          w->temporal_dense.bias, weight, bias, error))
    return FALSE;
  w->temporal_output = (TsfLinear) { weight, bias, NULL, NULL };
  tsf_weights_release_data (loader->weights, w->temporal_proj.weight);
  tsf_weights_release_data (loader->weights, w->temporal_proj.bias);
  tsf_weights_release_data (loader->weights, w->temporal_dense.weight);
  tsf_weights_release_data (loader->weights, w->temporal_dense.bias);
  w->temporal_proj = w->temporal_dense = (TsfLinear) { 0 };
  return TRUE;
}

/* The temporal sub-block's output: f32 (exact to the reference) and a model saved at int8
 * before the fold run temporal_proj and temporal_dense; bf16 and int8 one layer,
 * temporal_output (folded here, or saved so). */
static gboolean
prepare_temporal_output (Loader *loader, TsfLayerWeights *w, GError **error)
{
  TsfForward *forward = loader->forward;
  const TsfWeightLayouts *l = &forward->layouts;
  guint d = forward->config->hidden_size;

  if (!loader->weights->temporal_folded
      && (forward->precision == TSF_PRECISION_F32 || loader->weights->quantized))
    return prepare_weight (loader, &w->temporal_proj, d, d, &l->proj, error)
        && prepare_weight (loader, &w->temporal_dense, d, d, &l->proj, error);
  if (!loader->weights->temporal_folded && !fold_temporal_output (loader, w, error))
    return FALSE;
  /* of the two layers' 2 d^2 + 2 d parameters, one weight and one bias are gone and the
   * other bias is read in place (saved) or gone too (folded here: its bias is prepared) */
  forward->prepared_params += (guint64) d * d + (loader->weights->temporal_folded ? d : 2 * d);
  forward->temporal_folded = TRUE;
  return prepare_weight (loader, &w->temporal_output, d, d, &l->proj, error);
}

/* The layers' linear weights, layer by layer into the layouts the matmuls prefer (brgemm's
 * blocked layouts), each original released as soon as it is copied: one copy at a time. */
static gboolean
prepare_weights (Loader *loader, GError **error)
{
  TsfForward *forward = loader->forward;
  const TsfConfig *c = forward->config;
  TsfPrecision p = forward->precision;
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  guint d = c->hidden_size, inter = c->intermediate_size, a = tsf_config_attention_size (c);
  TsfWeightLayouts *l = &forward->layouts;
  const TsfAttentionScheme *scheme = tsf_attention_scheme (c->attention_type);
  TsfLayout layout;

  tsf_layout_init (&layout, c, &shape);
  if (!preferred_layout (loader->engine, p, layout.rows, d, 3 * a, &l->qkv, error)
      || !preferred_layout (loader->engine, p, layout.rows, a, d, &l->proj, error)
      || !preferred_layout (loader->engine, p, layout.rows, d, inter, &l->fc1, error)
      || !preferred_layout (loader->engine, p, layout.rows, inter, d, &l->fc2, error))
    return FALSE;
  for (guint i = 0; i < c->num_hidden_layers; i++) {
    TsfLayerWeights *w = &loader->weights->layers[i];
    if ((scheme->n_steps == 0      /* every scheme but the grouped ones */
            && (!prepare_weight (loader, &w->qkv, d, 3 * d, &l->qkv, error)
                || !prepare_weight (loader, &w->proj, d, d, &l->proj, error)))
        || !prepare_steps (loader, w, error)
        || !prepare_gate (loader, w, error)
        || !prepare_weight (loader, &w->intermediate, d, inter, &l->fc1, error)
        || !prepare_weight (loader, &w->output, inter, d, &l->fc2, error))
      return FALSE;
    if (scheme->temporal_block   /* a scheme with a temporal sub-block */
        && (!prepare_weight (loader, &w->temporal_qkv, d, 3 * d, &l->qkv, error)
            || !prepare_temporal_output (loader, w, error)))
      return FALSE;
  }
  return TRUE;
}

TsfForward *
tsf_forward_new (const TsfConfig *config, TsfWeights *weights, TsfPrecision precision,
    gint threads, GError **error)
{
  TsfForward *forward = g_new0 (TsfForward, 1);
  Loader loader = { forward, weights, NULL, NULL };
  gboolean ok;

  forward->config = config;
  forward->weights = weights;
  g_return_val_if_fail (precision != TSF_PRECISION_AUTO, NULL);
  forward->precision = precision;
  forward->prepared = g_ptr_array_new_with_free_func (free);
  omp_set_num_threads (tsf_resolve_threads (threads));
  ok = tsf_dnnl_engine_new (&loader.engine, &loader.stream, error)
      && prepare_weights (&loader, error);
  if (loader.stream != NULL)
    dnnl_stream_destroy (loader.stream);
  if (loader.engine != NULL)
    dnnl_engine_destroy (loader.engine);
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
  return (tsf_weights_parameter_count (forward->config) - forward->prepared_params)
      * sizeof (gfloat) + forward->prepared_bytes;
}
