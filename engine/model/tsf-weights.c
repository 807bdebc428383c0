/* tsf-weights.c: binds the tensors of a checkpoint to the model's parameters.
 *
 * The config says which tensors a TimesformerForVideoClassification has and their shapes
 * (one table, built by expected_tensors()); binding checks the checkpoint against it and
 * converts what is not already aligned contiguous float32. */
#include "tsf-weights.h"
#include "tsf-attention.h"
#include "tsf-error.h"

#include <math.h>
#include <string.h>

typedef struct {
  gchar *name;
  guint ndim;
  gint64 shape[4];
  const gfloat **slot;
  gboolean optional;  /* may be absent (no slot is filled) */
  TsfInitKind init;
  TsfLinear *quantizable;  /* a layer's linear weight: may be saved as I8 with a scale */
} Expected;

static void
expected_clear (gpointer data)
{
  g_free (((Expected *) data)->name);
}

void
tsf_weights_expect (GArray *table, const gfloat **slot, TsfInitKind init, guint ndim,
    const gint64 *shape, const gchar *format, ...)
{
  Expected e = { 0 };
  va_list args;

  va_start (args, format);
  e.name = g_strdup_vprintf (format, args);
  va_end (args);
  e.ndim = ndim;
  memcpy (e.shape, shape, ndim * sizeof (gint64));
  e.slot = slot;
  e.init = init;
  g_array_append_val (table, e);
}

void
tsf_weights_expect_linear (GArray *table, TsfLinear *linear, gint64 out, gint64 in, gboolean bias,
    const gchar *prefix)
{
  tsf_weights_expect (table, &linear->weight, TSF_INIT_LINEAR, 2, (gint64[]) { out, in },
      "%s.weight", prefix);
  if (bias)
    tsf_weights_expect (table, &linear->bias, TSF_INIT_BIAS, 1, (gint64[]) { out }, "%s.bias",
        prefix);
}

void
tsf_weights_expect_norm (GArray *table, TsfNorm *norm, gint64 hidden, const gchar *prefix)
{
  tsf_weights_expect (table, &norm->weight, TSF_INIT_NORM_SCALE, 1, (gint64[]) { hidden },
      "%s.weight", prefix);
  tsf_weights_expect (table, &norm->bias, TSF_INIT_BIAS, 1, (gint64[]) { hidden }, "%s.bias",
      prefix);
}

/* A layer's linear layer: its weight is one the int8 forward quantises. */
static void
expect_layer_linear (GArray *table, TsfLinear *linear, gint64 out, gint64 in, gboolean bias,
    const gchar *prefix)
{
  tsf_weights_expect_linear (table, linear, out, in, bias, prefix);
  g_array_index (table, Expected, table->len - (bias ? 2 : 1)).quantizable = linear;
}

/* `folded`: the temporal sub-block's two output layers saved as one (temporal_output). */
static void
expect_layer (GArray *table, const TsfConfig *config, TsfLayerWeights *layer, guint index,
    gboolean folded)
{
  const TsfAttentionScheme *scheme = tsf_attention_scheme (config->attention_type);
  gint64 d = config->hidden_size, inter = config->intermediate_size;
  gchar *p = g_strdup_printf ("timesformer.encoder.layer.%u", index);
  gchar *name;

#define SUB(suffix) (g_free (name), name = g_strconcat (p, suffix, NULL))
  name = NULL;
  if (scheme->temporal_block) {
    tsf_weights_expect_norm (table, &layer->temporal_layernorm, d, SUB (".temporal_layernorm"));
    expect_layer_linear (table, &layer->temporal_qkv, 3 * d, d, config->qkv_bias,
        SUB (".temporal_attention.attention.qkv"));
    if (folded) {
      expect_layer_linear (table, &layer->temporal_output, d, d, TRUE, SUB (".temporal_output"));
    } else {
      expect_layer_linear (table, &layer->temporal_proj, d, d, TRUE,
          SUB (".temporal_attention.output.dense"));
      expect_layer_linear (table, &layer->temporal_dense, d, d, TRUE, SUB (".temporal_dense"));
    }
  }
  if (scheme->n_steps == 0) {
    tsf_weights_expect_norm (table, &layer->layernorm_before, d, SUB (".layernorm_before"));
    expect_layer_linear (table, &layer->qkv, 3 * d, d, config->qkv_bias,
        SUB (".attention.attention.qkv"));
    expect_layer_linear (table, &layer->proj, d, d, TRUE, SUB (".attention.output.dense"));
  }
  for (guint s = 0; s < scheme->n_steps; s++) {
    const gchar *step = scheme->step_names[s];
    g_autofree gchar *norm = g_strdup_printf (".%s_layernorm", step);
    g_autofree gchar *qkv = g_strdup_printf (".%s_attention.attention.qkv", step);
    g_autofree gchar *proj = g_strdup_printf (".%s_attention.output.dense", step);

    tsf_weights_expect_norm (table, &layer->step_layernorm[s], d, SUB (norm));
    expect_layer_linear (table, &layer->step_qkv[s], 3 * d, d, config->qkv_bias, SUB (qkv));
    expect_layer_linear (table, &layer->step_proj[s], d, d, TRUE, SUB (proj));
  }
  tsf_weights_expect_norm (table, &layer->layernorm_after, d, SUB (".layernorm_after"));
  expect_layer_linear (table, &layer->intermediate, inter, d, TRUE,
      SUB (".intermediate.dense"));
  expect_layer_linear (table, &layer->output, d, inter, TRUE, SUB (".output.dense"));
#undef SUB
  g_free (name);
  g_free (p);
}

/* Every tensor of the model, with the slot in `weights` that receives it. */
static GArray *
expected_tensors (const TsfConfig *config, TsfWeights *weights)
{
  GArray *table = g_array_new (FALSE, TRUE, sizeof (Expected));
  gint64 d = config->hidden_size, p = config->patch_size;
  gint64 grid = config->image_size / config->patch_size;

  g_array_set_clear_func (table, expected_clear);
  if (tsf_attention_scheme (config->attention_type)->expect_tensors != NULL) {
    tsf_attention_scheme (config->attention_type)->expect_tensors (table, config, weights);
    return table;
  }
  tsf_weights_expect (table, &weights->patch_weight, TSF_INIT_LINEAR, 4,
      (gint64[]) { d, config->num_channels, p, p },
      "timesformer.embeddings.patch_embeddings.projection.weight");
  tsf_weights_expect (table, &weights->patch_bias, TSF_INIT_BIAS, 1, (gint64[]) { d },
      "timesformer.embeddings.patch_embeddings.projection.bias");
  tsf_weights_expect (table, &weights->cls_token, TSF_INIT_LINEAR, 3, (gint64[]) { 1, 1, d },
      "timesformer.embeddings.cls_token");
  tsf_weights_expect (table, &weights->position_embeddings, TSF_INIT_LINEAR, 3,
      (gint64[]) { 1, 1 + grid * grid, d }, "timesformer.embeddings.position_embeddings");
  if (tsf_attention_scheme (config->attention_type)->time_embeddings)
    tsf_weights_expect (table, &weights->time_embeddings, TSF_INIT_LINEAR, 3,
        (gint64[]) { 1, config->num_frames, d }, "timesformer.embeddings.time_embeddings");
  for (guint i = 0; i < config->num_hidden_layers; i++)
    expect_layer (table, config, &weights->layers[i], i, weights->temporal_folded);
  tsf_weights_expect_norm (table, &weights->layernorm, d, "timesformer.layernorm");
  tsf_weights_expect_linear (table, &weights->classifier, config->num_labels, d, TRUE,
      "classifier");
  return table;
}

static gint64
expected_numel (const Expected *e)
{
  gint64 numel = 1;

  for (guint i = 0; i < e->ndim; i++)
    numel *= e->shape[i];
  return numel;
}

static gchar *
shape_to_string (guint ndim, const gint64 *shape)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static TsfWeights *
weights_new (const TsfConfig *config)
{
  TsfWeights *weights = g_new0 (TsfWeights, 1);

  weights->layers = g_new0 (TsfLayerWeights, config->num_hidden_layers);
  weights->converted = g_ptr_array_new_with_free_func (g_free);
  return weights;
}

static gboolean
is_contiguous (const TsfTensor *tensor)
{
  gint64 stride = 1;

  for (gint d = (gint) tensor->ndim - 1; d >= 0; d--) {
    if (tensor->shape[d] != 1 && tensor->strides[d] != stride)
      return FALSE;
    stride *= tensor->shape[d];
  }
  return TRUE;
}

/* Aligned contiguous float32 is used in place; anything else becomes an owned float array. */
static const gfloat *
tensor_as_f32 (TsfWeights *weights, const TsfTensor *tensor)
{
  gfloat *copy;

  if (tensor->dtype == TSF_DTYPE_F32 && is_contiguous (tensor)
      && ((guintptr) tensor->data % sizeof (gfloat)) == 0
      && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    return (const gfloat *) tensor->data;
  copy = g_new (gfloat, tsf_tensor_numel (tensor));
  tsf_tensor_to_f32 (tensor, copy);
  g_ptr_array_add (weights->converted, copy);
  return copy;
}

static gboolean
check_shape (const TsfTensorSet *set, const Expected *e, const TsfTensor *tensor,
    GError **error)
{
  gboolean same = tensor->ndim == e->ndim
      && memcmp (tensor->shape, e->shape, e->ndim * sizeof (gint64)) == 0;
  gchar *want, *found;

  if (same)
    return TRUE;
  want = shape_to_string (e->ndim, e->shape);
  found = shape_to_string (tensor->ndim, tensor->shape);
  g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR,
      "%s: tensor '%s' has shape %s, but config.json implies %s",
      tsf_tensor_set_source (set), e->name, found, want);
  g_free (want);
  g_free (found);
  return FALSE;
}

/* A layer's linear weight saved at int8: I8 [out, in] and its F32 [out] scales, finite and
 * positive. */
static gboolean
bind_quantized (TsfWeights *weights, const Expected *e, const TsfTensor *tensor,
    GHashTable *used, GError **error)
{
  const TsfTensorSet *set = weights->tensors;
  g_autofree gchar *scale_name = g_strconcat (e->name, "_scale", NULL);
  const TsfTensor *scale = tsf_tensor_set_lookup (set, scale_name);
  const gfloat *scales;

  if (e->quantizable == NULL) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: tensor '%s' has dtype I8, but only "
        "the layers' linear weights can be int8 (a model written by convert --precision int8)",
        tsf_tensor_set_source (set), e->name);
    return FALSE;
  }
  if (scale == NULL || scale->dtype != TSF_DTYPE_F32 || scale->ndim != 1
      || scale->shape[0] != e->shape[0]) {
    g_autofree gchar *found = scale ? shape_to_string (scale->ndim, scale->shape) : NULL;
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: int8 tensor '%s' needs '%s', F32 of "
        "shape [%" G_GINT64_FORMAT "] (one scale per output channel); found %s%s%s",
        tsf_tensor_set_source (set), e->name, scale_name, e->shape[0],
        scale ? tsf_dtype_to_string (scale->dtype) : "none", scale ? " of shape " : "",
        scale ? found : "");
    return FALSE;
  }
  scales = tensor_as_f32 (weights, scale);
  for (gint64 i = 0; i < scale->shape[0]; i++)
    if (!(scales[i] > 0 && scales[i] < G_MAXFLOAT)) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: '%s' holds %g at %" G_GINT64_FORMAT
          "; the scales of an int8 weight must be finite and positive",
          tsf_tensor_set_source (set), scale_name, scales[i], i);
      return FALSE;
    }
  e->quantizable->quantized = (const gint8 *) tensor->data;
  e->quantizable->scales = scales;
  g_hash_table_add (used, e->name);
  g_hash_table_add (used, (gpointer) scale->name);
  return TRUE;
}

/* All of the layers' linear weights are int8, or none. */
static gboolean
check_quantized_all_or_none (TsfWeights *weights, GArray *table, GError **error)
{
  const Expected *first_float = NULL, *first_int8 = NULL;

  for (guint i = 0; i < table->len; i++) {
    const Expected *e = &g_array_index (table, Expected, i);
    if (e->quantizable == NULL)
      continue;
    if (e->quantizable->quantized != NULL)
      first_int8 = first_int8 ? first_int8 : e;
    else
      first_float = first_float ? first_float : e;
  }
  weights->quantized = first_int8 != NULL;
  if (first_int8 == NULL || first_float == NULL)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: '%s' is int8 but '%s' is not; a model "
      "saved at int8 has all the layers' linear weights in I8",
      tsf_tensor_set_source (weights->tensors), first_int8->name, first_float->name);
  return FALSE;
}

static gboolean
bind_expected (TsfWeights *weights, GArray *table, GHashTable *used, GError **error)
{
  TsfTensorSet *set = weights->tensors;

  for (guint i = 0; i < table->len; i++) {
    const Expected *e = &g_array_index (table, Expected, i);
    const TsfTensor *tensor = tsf_tensor_set_lookup (set, e->name);

    if (!tensor) {
      gchar *want = shape_to_string (e->ndim, e->shape);

      g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR,
          "%s: tensor '%s' of shape %s is missing", tsf_tensor_set_source (set), e->name,
          want);
      g_free (want);
      return FALSE;
    }
    if (!check_shape (set, e, tensor, error))
      return FALSE;
    if (tensor->dtype == TSF_DTYPE_I8) {
      if (!bind_quantized (weights, e, tensor, used, error))
        return FALSE;
      continue;
    }
    *e->slot = tensor_as_f32 (weights, tensor);
    g_hash_table_add (used, e->name);
  }
  return TRUE;
}

static gboolean
check_no_extra (TsfTensorSet *set, GHashTable *used, const TsfConfig *config, GError **error)
{
  for (const gchar *const *name = tsf_tensor_set_names (set); *name; name++) {
    if (g_hash_table_contains (used, *name))
      continue;
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR,
        "%s: unexpected tensor '%s' (not part of a %s TimeSformer with %u layers%s)",
        tsf_tensor_set_source (set), *name,
        tsf_attention_type_to_string (config->attention_type), config->num_hidden_layers,
        config->qkv_bias ? "" : " and qkv_bias false");
    return FALSE;
  }
  return TRUE;
}

/* A model saved with the temporal sub-block folded (layer 0 says it for all: every layer's
 * tensors are then checked against that) holds it only at int8. */
static gboolean
saved_folded (const TsfConfig *config, const TsfTensorSet *tensors)
{
  return tsf_attention_scheme (config->attention_type)->temporal_block
      && tsf_tensor_set_lookup (tensors, TSF_TEMPORAL_OUTPUT_WEIGHT (0)) != NULL;
}

static gboolean
check_folded_quantized (const TsfWeights *weights, GError **error)
{
  if (!weights->temporal_folded || weights->quantized)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: tensor '%s' is float; the temporal "
      "output layers folded into one exist only in a model saved at int8 (I8 with its _scale)",
      tsf_tensor_set_source (weights->tensors), TSF_TEMPORAL_OUTPUT_WEIGHT (0));
  return FALSE;
}

TsfWeights *
tsf_weights_bind (const TsfConfig *config, TsfTensorSet *tensors, GError **error)
{
  TsfWeights *weights = weights_new (config);
  GArray *table;
  GHashTable *used = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok;

  weights->tensors = tensors;
  weights->temporal_folded = saved_folded (config, tensors);
  table = expected_tensors (config, weights);
  ok = bind_expected (weights, table, used, error)
      && check_quantized_all_or_none (weights, table, error)
      && check_folded_quantized (weights, error)
      && check_no_extra (tensors, used, config, error);
  g_hash_table_destroy (used);
  g_array_free (table, TRUE);
  if (!ok) {
    tsf_weights_free (weights);
    return NULL;
  }
  return weights;
}

/* xorshift64*, uniform in [-1, 1) */
static gfloat
random_uniform (guint64 *state)
{
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (gfloat) ((*state * G_GUINT64_CONSTANT (2685821657736338717)) >> 40)
      / (gfloat) (1 << 23) - 1.0f;
}

static void
fill_random (gfloat *data, gint64 numel, TsfInitKind init, guint64 *state)
{
  /* uniform on [-a, a] has std a / sqrt(3) */
  const gfloat std = 0.02f * 1.7320508f;

  for (gint64 i = 0; i < numel; i++) {
    gfloat u = random_uniform (state);

    data[i] = init == TSF_INIT_NORM_SCALE ? 1.0f + 0.1f * u
        : init == TSF_INIT_BIAS ? 0.01f * u : std * u;
  }
}

static gboolean
check_random_bytes (const TsfConfig *config, guint64 max_bytes, GError **error)
{
  guint64 bytes = tsf_weights_parameter_count (config) * sizeof (gfloat);

  if (bytes <= max_bytes)
    return TRUE;
  g_autofree gchar *need = tsf_format_bytes (bytes);
  g_autofree gchar *bound = tsf_format_bytes (max_bytes);
  g_set_error (error, TSF_ERROR, TSF_ERROR_MEMORY, "random weights for this config need %s; "
      "the bound (half of the physical memory) is %s", need, bound);
  return FALSE;
}

TsfWeights *
tsf_weights_new_random (const TsfConfig *config, guint64 seed, guint64 max_bytes,
    GError **error)
{
  TsfWeights *weights;
  GArray *table;
  guint64 state = seed * 2 + 1;

  if (!check_random_bytes (config, max_bytes, error))
    return NULL;
  weights = weights_new (config);
  table = expected_tensors (config, weights);
  for (guint i = 0; i < table->len; i++) {
    const Expected *e = &g_array_index (table, Expected, i);
    gint64 numel = expected_numel (e);
    gfloat *data = g_try_new (gfloat, numel);

    if (data == NULL) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_MEMORY, "cannot allocate %" G_GINT64_FORMAT
          " floats of random weights", numel);
      g_clear_pointer (&weights, tsf_weights_free);
      break;
    }
    fill_random (data, numel, e->init, &state);
    g_ptr_array_add (weights->converted, data);
    *e->slot = data;
  }
  g_array_free (table, TRUE);
  return weights;
}

guint64
tsf_weights_parameter_count (const TsfConfig *config)
{
  TsfWeights *weights = weights_new (config);
  GArray *table = expected_tensors (config, weights);
  guint64 count = 0;

  for (guint i = 0; i < table->len; i++)
    count += expected_numel (&g_array_index (table, Expected, i));
  g_array_free (table, TRUE);
  tsf_weights_free (weights);
  return count;
}

void
tsf_weights_release_source (TsfWeights *weights)
{
  const gchar *const *names;

  if (!weights->tensors)
    return;
  names = tsf_tensor_set_names (weights->tensors);
  for (; *names; names++)
    tsf_tensor_set_release (weights->tensors, tsf_tensor_set_lookup (weights->tensors, *names));
}

gchar **
tsf_weights_quantizable_names (const TsfConfig *config)
{
  TsfWeights *weights = weights_new (config);
  GArray *table = expected_tensors (config, weights);
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; i < table->len; i++)
    if (g_array_index (table, Expected, i).quantizable != NULL)
      g_ptr_array_add (names, g_strdup (g_array_index (table, Expected, i).name));
  g_ptr_array_add (names, NULL);
  g_array_free (table, TRUE);
  tsf_weights_free (weights);
  return (gchar **) g_ptr_array_free (names, FALSE);
}

void
tsf_weights_quantize_rows (const gfloat *weight, guint in, guint out, gint8 *quantized,
    gfloat *scales)
{
#pragma omp parallel for
  for (guint o = 0; o < out; o++) {
    const gfloat *row = weight + (gsize) o * in;
    gfloat max = 0, inverse;
    for (guint i = 0; i < in; i++)
      max = MAX (max, fabsf (row[i]));
    scales[o] = max > 0 ? max / 127.0f : 1.0f;
    inverse = 1.0f / scales[o];
    for (guint i = 0; i < in; i++)
      quantized[(gsize) o * in + i] = (gint8) CLAMP (lrintf (row[i] * inverse), -127, 127);
  }
}

void
tsf_weights_release_data (TsfWeights *weights, gconstpointer data)
{
  const gchar *const *names;

  if (g_ptr_array_remove_fast (weights->converted, (gpointer) data) || !weights->tensors)
    return;
  for (names = tsf_tensor_set_names (weights->tensors); *names; names++) {
    const TsfTensor *tensor = tsf_tensor_set_lookup (weights->tensors, *names);
    if ((gconstpointer) tensor->data == data) {
      tsf_tensor_set_release (weights->tensors, tensor);
      return;
    }
  }
}

void
tsf_weights_free (TsfWeights *weights)
{
  if (!weights)
    return;
  tsf_tensor_set_free (weights->tensors);
  g_ptr_array_free (weights->converted, TRUE);
  g_free (weights->layers);
  g_free (weights);
}
