/* tsf-prepared.c: the model's side of the forward pass: the layers' linear weights reordered
 * once, at load, into the blocked layouts oneDNN's brgemm matmul prefers. */
#include "tsf-plan.h"

#include <stdlib.h>
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
  dnnl_dims_t dims = { in, out };
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd;

  if (!tsf_md_matrix (&src, precision, rows, in, error)
      || !tsf_md_matrix (&dst, precision, rows, out, error))
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&weights, 2, dims,
          tsf_precision_data_type (precision), dnnl_format_tag_any), error, FALSE);
  TSF_DNNL_CHECK (dnnl_matmul_desc_init (&desc, &src, &weights, NULL, &dst), error, FALSE);
  if (!tsf_dnnl_pd_create (&pd, &desc, NULL, engine, FALSE, error))
    return FALSE;
  *layout = *dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy (pd);
  return TRUE;
}

/* Copies a PyTorch [out, in] float32 weight into `layout` (of the forward's precision) and
 * points `weight` at the copy. */
static gboolean
copy_weight (Loader *loader, const gfloat **weight, guint in, guint out,
    const dnnl_memory_desc_t *layout, GError **error)
{
  dnnl_memory_desc_t source;
  gfloat *data;

  if (!tsf_md_linear_weight (&source, TSF_PRECISION_F32, 2, in, out, error))
    return FALSE;
  data = tsf_try_alloc_zeroed (dnnl_memory_desc_get_size (layout), TSF_ALIGNMENT,
      "the prepared weights", error);
  if (data == NULL)
    return FALSE;
  g_ptr_array_add (loader->forward->prepared, data);
  if (!tsf_dnnl_reorder_once (loader->engine, loader->stream, &source, *weight, layout, data,
          error))
    return FALSE;
  *weight = data;
  return TRUE;
}

/* copy_weight(), and the original let go. */
static gboolean
prepare_weight (Loader *loader, const gfloat **weight, guint in, guint out,
    const dnnl_memory_desc_t *layout, GError **error)
{
  const gfloat *original = *weight;

  if (!copy_weight (loader, weight, in, out, layout, error))
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
    if (!prepare_weight (loader, &w->step_qkv[s].weight, d, 3 * a, &l->qkv, error)
        || !prepare_weight (loader, &w->step_proj[s].weight, a, d, &l->proj, error))
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
  return copy_weight (loader, &w->gate.weight, d, inter, &loader->forward->layouts.fc1, error);
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
  TsfLayout layout;

  tsf_layout_init (&layout, c, &shape);
  if (!preferred_layout (loader->engine, p, layout.rows, d, 3 * a, &l->qkv, error)
      || !preferred_layout (loader->engine, p, layout.rows, a, d, &l->proj, error)
      || !preferred_layout (loader->engine, p, layout.rows, d, inter, &l->fc1, error)
      || !preferred_layout (loader->engine, p, layout.rows, inter, d, &l->fc2, error))
    return FALSE;
  for (guint i = 0; i < c->num_hidden_layers; i++) {
    TsfLayerWeights *w = &loader->weights->layers[i];
    if ((w->qkv.weight != NULL     /* every scheme but the grouped ones */
            && (!prepare_weight (loader, &w->qkv.weight, d, 3 * d, &l->qkv, error)
                || !prepare_weight (loader, &w->proj.weight, d, d, &l->proj, error)))
        || !prepare_steps (loader, w, error)
        || !prepare_gate (loader, w, error)
        || !prepare_weight (loader, &w->intermediate.weight, d, inter, &l->fc1, error)
        || !prepare_weight (loader, &w->output.weight, inter, d, &l->fc2, error))
      return FALSE;
    if (w->temporal_qkv.weight != NULL   /* a scheme with a temporal sub-block */
        && (!prepare_weight (loader, &w->temporal_qkv.weight, d, 3 * d, &l->qkv, error)
            || !prepare_weight (loader, &w->temporal_proj.weight, d, d, &l->proj, error)
            || !prepare_weight (loader, &w->temporal_dense.weight, d, d, &l->proj, error)))
      return FALSE;
  }
  return TRUE;
}

TsfForward *
tsf_forward_new (const TsfConfig *config, TsfWeights *weights, gint threads, GError **error)
{
  TsfForward *forward = g_new0 (TsfForward, 1);
  Loader loader = { forward, weights, NULL, NULL };
  gboolean ok;

  forward->config = config;
  forward->weights = weights;
  forward->precision = TSF_PRECISION_F32;
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
  return tsf_weights_parameter_count (forward->config) * sizeof (gfloat);
}
