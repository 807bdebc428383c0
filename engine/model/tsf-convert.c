/* tsf-convert.c: a model as a Hugging Face directory (see tsf-convert.h). */
#include "timesformer-convert.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "tsf-config.h"
#include "tsf-dnnl.h"
#include "tsf-source.h"
#include "tsf-weights.h"

#define SAFETENSORS_ALIGN 8

/* Writes `contents` to path.tmp and renames it to path. */
static gboolean
replace_file (const gchar *path, const gchar *contents, gsize length, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (g_file_set_contents (path, contents, length, &local))
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot write %s: %s", path, local->message);
  return FALSE;
}

static gchar *
to_json (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  return json_generator_to_data (generator, NULL);
}

static void
add_int (JsonBuilder *b, const gchar *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_double (JsonBuilder *b, const gchar *name, gdouble value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
add_string (JsonBuilder *b, const gchar *name, const gchar *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_bool (JsonBuilder *b, const gchar *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_labels (JsonBuilder *b, const TsfConfig *config)
{
  json_builder_set_member_name (b, "id2label");
  json_builder_begin_object (b);
  for (guint i = 0; i < config->num_labels; i++) {
    g_autofree gchar *id = g_strdup_printf ("%u", i);
    add_string (b, id, config->labels[i]);
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "label2id");
  json_builder_begin_object (b);
  for (guint i = 0; i < config->num_labels; i++)
    add_int (b, config->labels[i], i);
  json_builder_end_object (b);
}

/* The training sampling of the hub's TimeSformers (docs/real-models.md), recognised by their
 * classes, frames and image size: the official configs' DATA.NUM_FRAMES x DATA.SAMPLING_RATE at
 * 30 fps (Kinetics); Something-Something v2 spreads the frames over each whole video (2-6 s). */
typedef struct {
  guint num_labels;
  guint num_frames;
  guint image_size;
  guint frame_stride;
  gdouble clip_duration;
  TsfChannelOrder channel_order;  /* the official SSv2 configs: REVERSE_INPUT_CHANNEL */
} KnownSampling;

#define RGB TSF_CHANNEL_ORDER_RGB
#define BGR TSF_CHANNEL_ORDER_BGR
static const KnownSampling known_samplings[] = {
  { 400, 8, 224, 32, 0, RGB }, { 600, 8, 224, 32, 0, RGB },   /* base: divST_8x32_224 */
  { 400, 16, 448, 16, 0, RGB }, { 600, 16, 448, 16, 0, RGB }, /* hr: divST_16x16_448 */
  { 400, 96, 224, 4, 0, RGB }, { 600, 96, 224, 4, 0, RGB },   /* large: divST_96x4_224 */
  { 174, 8, 224, 0, 3.5, BGR }, { 174, 16, 448, 0, 3.5, BGR },  /* SSv2 */
  { 174, 64, 224, 0, 3.5, BGR },
};
#undef RGB
#undef BGR

/* A model that states no sampling gets the one of the hub model it is, if known (and its
 * channel order). */
static void
add_known_sampling (TsfConfig *config)
{
  if (config->sampling.origin == TSF_SAMPLING_STATED)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (known_samplings); i++) {
    const KnownSampling *known = &known_samplings[i];

    if (known->num_labels != config->num_labels || known->num_frames != config->num_frames
        || known->image_size != config->image_size)
      continue;
    config->sampling = (TsfSampling) { TSF_SAMPLING_STATED, known->frame_stride, 30.0,
      known->clip_duration };
    config->channel_order = known->channel_order;
    return;
  }
}

static void
add_sampling (JsonBuilder *b, const TsfSampling *sampling)
{
  if (sampling->origin != TSF_SAMPLING_STATED)
    return;
  json_builder_set_member_name (b, "sampling");
  json_builder_begin_object (b);
  if (sampling->frame_stride > 0)
    add_int (b, "frame_stride", sampling->frame_stride);
  else
    add_double (b, "clip_duration", sampling->clip_duration);
  add_double (b, "fps", sampling->fps);
  json_builder_end_object (b);
}

/* config.json of TimesformerForVideoClassification. */
static gchar *
config_json (const TsfConfig *config)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "architectures");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "TimesformerForVideoClassification");
  json_builder_end_array (b);
  add_string (b, "model_type", "timesformer");
  add_int (b, "image_size", config->image_size);
  add_int (b, "patch_size", config->patch_size);
  add_int (b, "num_channels", config->num_channels);
  add_int (b, "num_frames", config->num_frames);
  add_int (b, "hidden_size", config->hidden_size);
  add_int (b, "num_hidden_layers", config->num_hidden_layers);
  add_int (b, "num_attention_heads", config->num_attention_heads);
  add_int (b, "intermediate_size", config->intermediate_size);
  add_string (b, "hidden_act", "gelu");
  add_double (b, "layer_norm_eps", config->layer_norm_eps);
  add_bool (b, "qkv_bias", config->qkv_bias);
  add_string (b, "attention_type", tsf_attention_type_to_string (config->attention_type));
  add_double (b, "hidden_dropout_prob", 0.0);
  add_double (b, "attention_probs_dropout_prob", 0.0);
  add_double (b, "drop_path_rate", 0.0);
  add_double (b, "initializer_range", 0.02);
  add_string (b, "torch_dtype", "float32");
  add_labels (b, config);
  add_sampling (b, &config->sampling);
  json_builder_end_object (b);
  return to_json (b);
}

static void
add_channels (JsonBuilder *b, const gchar *name, const gfloat *values)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint c = 0; c < 3; c++)
    json_builder_add_double_value (b, values[c]);
  json_builder_end_array (b);
}

static void
add_size (JsonBuilder *b, const gchar *name, guint height, guint width)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  add_int (b, "height", height);
  add_int (b, "width", width);
  json_builder_end_object (b);
}

/* preprocessor_config.json (VideoMAEImageProcessor) that reads back as the same recipe. */
static gchar *
preprocessor_json (const TsfConfig *config)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gboolean resize = config->resize_shortest_edge || config->resize_width;
  gboolean crop = config->crop_width && config->crop_height;

  json_builder_begin_object (b);
  add_string (b, "image_processor_type", "VideoMAEImageProcessor");
  add_bool (b, "do_resize", resize);
  if (config->resize_shortest_edge) {
    json_builder_set_member_name (b, "size");
    json_builder_begin_object (b);
    add_int (b, "shortest_edge", config->resize_shortest_edge);
    json_builder_end_object (b);
  } else if (config->resize_width) {
    add_size (b, "size", config->resize_height, config->resize_width);
  }
  add_bool (b, "do_center_crop", crop);
  if (crop)
    add_size (b, "crop_size", config->crop_height, config->crop_width);
  add_bool (b, "do_rescale", TRUE);
  add_double (b, "rescale_factor", config->rescale_factor);
  add_bool (b, "do_normalize", TRUE);
  add_channels (b, "image_mean", config->image_mean);
  add_channels (b, "image_std", config->image_std);
  if (config->channel_order == TSF_CHANNEL_ORDER_BGR)
    add_string (b, "channel_order", "bgr");
  json_builder_end_object (b);
  return to_json (b);
}

/* What is written: the tensors of the model, float32 (each of `quantize`, when not NULL, as
 * I8 [out, in] followed by its F32 [out] `<name>_scale`; I8 tensors as they are). Folding (int8
 * from float weights, a scheme with a temporal sub-block), each layer's temporal output layers
 * are written as one, temporal_output (I8 weight, its scale, F32 bias), where its
 * temporal_dense.weight was. */
typedef struct {
  TsfTensorSet *tensors;
  GHashTable *quantize;   /* names to write at int8, or NULL */
  const TsfWeights *weights;
  guint hidden;
  GHashTable *fold_at;    /* folding: temporal_dense.weight -> 1 + its layer; or NULL */
  GHashTable *folded;     /* folding: the other tensors of the two layers, not written */
  dnnl_engine_t engine;   /* folding: where the products are made */
  dnnl_stream_t stream;
} Output;

/* 1 + the layer whose temporal_output is written in place of `name`, or 0. */
static guint
output_fold_layer (const Output *o, const gchar *name)
{
  return o->fold_at != NULL ? GPOINTER_TO_UINT (g_hash_table_lookup (o->fold_at, name)) : 0;
}

static gboolean
output_skips (const Output *o, const gchar *name)
{
  return o->folded != NULL && g_hash_table_contains (o->folded, name);
}

static gboolean
output_quantizes (const Output *o, const TsfTensor *t)
{
  return o->quantize != NULL && t->dtype != TSF_DTYPE_I8
      && g_hash_table_contains (o->quantize, t->name);
}

static void
add_entry (JsonBuilder *b, const gchar *name, const gchar *dtype, guint ndim,
    const gint64 *shape, gint64 *offset, gint64 bytes)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  add_string (b, "dtype", dtype);
  json_builder_set_member_name (b, "shape");
  json_builder_begin_array (b);
  for (guint d = 0; d < ndim; d++)
    json_builder_add_int_value (b, shape[d]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "data_offsets");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, *offset);
  json_builder_add_int_value (b, *offset + bytes);
  json_builder_end_array (b);
  json_builder_end_object (b);
  *offset += bytes;
}

/* The safetensors header: the tensors at consecutive offsets, padded with spaces. */
static GString *
safetensors_header (const Output *o)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree gchar *json = NULL;
  gint64 offset = 0;
  GString *header;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  add_string (b, "format", "pt");
  if (o->quantize != NULL)
    add_string (b, "tsf_precision", "int8");
  json_builder_end_object (b);
  for (const gchar *const *name = tsf_tensor_set_names (o->tensors); *name; name++) {
    const TsfTensor *t = tsf_tensor_set_lookup (o->tensors, *name);
    gint64 numel = tsf_tensor_numel (t);
    guint layer = output_fold_layer (o, *name);

    if (output_skips (o, *name))
      continue;
    if (layer > 0) {
      g_autofree gchar *weight = g_strdup_printf ("timesformer.encoder.layer.%u.temporal_output"
          ".weight", layer - 1);
      g_autofree gchar *scale = g_strconcat (weight, "_scale", NULL);
      g_autofree gchar *bias = g_strdup_printf ("timesformer.encoder.layer.%u.temporal_output"
          ".bias", layer - 1);
      add_entry (b, weight, "I8", t->ndim, t->shape, &offset, numel);
      add_entry (b, scale, "F32", 1, t->shape, &offset, t->shape[0] * sizeof (gfloat));
      add_entry (b, bias, "F32", 1, t->shape, &offset, t->shape[0] * sizeof (gfloat));
    } else if (output_quantizes (o, t)) {
      g_autofree gchar *scale = g_strconcat (*name, "_scale", NULL);
      add_entry (b, *name, "I8", t->ndim, t->shape, &offset, numel);
      add_entry (b, scale, "F32", 1, t->shape, &offset, t->shape[0] * sizeof (gfloat));
    } else if (t->dtype == TSF_DTYPE_I8) {
      add_entry (b, *name, "I8", t->ndim, t->shape, &offset, numel);
    } else {
      add_entry (b, *name, "F32", t->ndim, t->shape, &offset, numel * sizeof (gfloat));
    }
  }
  json_builder_end_object (b);
  {
    g_autoptr (JsonGenerator) generator = json_generator_new ();
    g_autoptr (JsonNode) root = json_builder_get_root (b);

    json_generator_set_root (generator, root);
    json = json_generator_to_data (generator, NULL);
  }
  header = g_string_new (json);
  while (header->len % SAFETENSORS_ALIGN)
    g_string_append_c (header, ' ');
  return header;
}

static gboolean
write_all (FILE *file, const void *data, gsize size)
{
  return size == 0 || fwrite (data, 1, size, file) == size;
}

/* Rows `out` of `values` [out, in] quantised, then their scales. */
static gboolean
write_quantized (FILE *file, const gfloat *values, guint in, guint out)
{
  g_autofree gint8 *quantized = g_malloc (MAX ((gsize) in * out, 1));
  g_autofree gfloat *scales = g_new (gfloat, MAX (out, 1));

  tsf_weights_quantize_rows (values, in, out, quantized, scales);
  return write_all (file, quantized, (gsize) in * out)
      && write_all (file, scales, out * sizeof (gfloat));
}

/* Layer `layer`'s temporal_output: the product of its two temporal output layers as loading at
 * int8 makes it (tsf-prepared.c), quantised; its bias. */
static gboolean
write_temporal_output (FILE *file, const Output *o, guint layer, GError **error)
{
  const TsfLayerWeights *w = &o->weights->layers[layer];
  guint d = o->hidden;
  g_autofree gfloat *weight = g_new (gfloat, (gsize) d * d);
  g_autofree gfloat *bias = g_new (gfloat, d);

  return tsf_dnnl_fold_linears (o->engine, o->stream, d, d, d, w->temporal_proj.weight,
      w->temporal_proj.bias, w->temporal_dense.weight, w->temporal_dense.bias, weight, bias,
      error)
      && write_quantized (file, weight, d, d) && write_all (file, bias, d * sizeof (gfloat));
}

/* One tensor's bytes (float32 little-endian: x86-64 is little-endian). */
static gboolean
write_tensor (FILE *file, const Output *o, const TsfTensor *t)
{
  gint64 numel = tsf_tensor_numel (t);
  g_autofree gfloat *values = NULL;

  if (t->dtype == TSF_DTYPE_I8)   /* contiguous, as every reader's I8 tensor */
    return write_all (file, t->data, numel);
  values = g_new (gfloat, MAX (numel, 1));
  tsf_tensor_to_f32 (t, values);
  if (output_quantizes (o, t))
    return write_quantized (file, values, t->shape[1], t->shape[0]);
  return write_all (file, values, numel * sizeof (gfloat));
}

/* Streams one tensor at a time; FALSE with `error` set only by a fold (else errno tells). */
static gboolean
write_tensors (FILE *file, const Output *o, GError **error)
{
  g_autoptr (GString) header = safetensors_header (o);
  guint64 length = GUINT64_TO_LE (header->len);

  if (!write_all (file, &length, sizeof length) || !write_all (file, header->str, header->len))
    return FALSE;
  for (const gchar *const *name = tsf_tensor_set_names (o->tensors); *name; name++) {
    guint layer = output_fold_layer (o, *name);

    if (output_skips (o, *name))
      continue;
    if (layer > 0 ? !write_temporal_output (file, o, layer - 1, error)
        : !write_tensor (file, o, tsf_tensor_set_lookup (o->tensors, *name)))
      return FALSE;
  }
  return TRUE;
}

static gboolean
write_safetensors (const gchar *path, const Output *o, GError **error)
{
  g_autofree gchar *tmp = g_strconcat (path, ".tmp", NULL);
  g_autoptr (GError) fold_error = NULL;
  FILE *file = g_fopen (tmp, "wb");
  gboolean ok;

  if (!file) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot create %s: %s", tmp, g_strerror (errno));
    return FALSE;
  }
  ok = write_tensors (file, o, &fold_error);
  ok = (fclose (file) == 0) && ok;
  if (ok && g_rename (tmp, path) == 0)
    return TRUE;
  if (fold_error != NULL)
    g_propagate_error (error, g_steal_pointer (&fold_error));
  else
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot write %s: %s", path,
        g_strerror (errno));
  g_unlink (tmp);
  return FALSE;
}

/* Folding: which tensors the temporal_output of each layer replaces, and an engine. */
static gboolean
output_fold (Output *o, const TsfConfig *config, GError **error)
{
  static const gchar *const parts[] = { "temporal_attention.output.dense.weight",
    "temporal_attention.output.dense.bias", "temporal_dense.bias" };

  o->hidden = config->hidden_size;
  o->fold_at = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  o->folded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < config->num_hidden_layers; i++) {
    g_hash_table_insert (o->fold_at, g_strdup_printf ("timesformer.encoder.layer.%u."
            "temporal_dense.weight", i), GUINT_TO_POINTER (i + 1));
    for (guint p = 0; p < G_N_ELEMENTS (parts); p++)
      g_hash_table_add (o->folded, g_strdup_printf ("timesformer.encoder.layer.%u.%s", i,
              parts[p]));
  }
  return tsf_dnnl_engine_new (&o->engine, &o->stream, error);
}

/* f32 writes float32; int8 the layers' linear weights quantised (or kept so); a model saved
 * at int8 cannot go back to f32 (its float weights are gone). */
static gboolean
output_init (Output *o, TsfWeights *weights, const TsfConfig *config, TsfPrecision precision,
    const gchar *source, GError **error)
{
  o->tensors = weights->tensors;
  o->weights = weights;
  if (precision != TSF_PRECISION_F32 && precision != TSF_PRECISION_INT8) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "convert writes precision f32 or "
        "int8, not %s", tsf_precision_to_string (precision));
    return FALSE;
  }
  if (weights->quantized && precision != TSF_PRECISION_INT8) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "%s was saved at int8: it can only "
        "be written at int8 (--precision int8), its float weights are gone", source);
    return FALSE;
  }
  if (precision == TSF_PRECISION_INT8) {
    g_auto (GStrv) names = tsf_weights_quantizable_names (config);
    o->quantize = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; names[i] != NULL; i++)
      g_hash_table_add (o->quantize, g_strdup (names[i]));
  }
  if (precision == TSF_PRECISION_INT8 && !weights->quantized
      && tsf_attention_scheme (config->attention_type)->temporal_block)
    return output_fold (o, config, error);
  return TRUE;
}

static void
output_clear (Output *o)
{
  g_clear_pointer (&o->quantize, g_hash_table_destroy);
  g_clear_pointer (&o->fold_at, g_hash_table_destroy);
  g_clear_pointer (&o->folded, g_hash_table_destroy);
  g_clear_pointer (&o->stream, dnnl_stream_destroy);
  g_clear_pointer (&o->engine, dnnl_engine_destroy);
}

gboolean
tsf_convert_to_hf (const gchar *source, const TsfModelOptions *options, const gchar *out_dir,
    GError **error)
{
  g_autofree gchar *config_path = g_build_filename (out_dir, "config.json", NULL);
  g_autofree gchar *preprocessor_path = g_build_filename (out_dir, "preprocessor_config.json",
      NULL);
  g_autofree gchar *weights_path = g_build_filename (out_dir, "model.safetensors", NULL);
  g_autofree gchar *config_text = NULL, *preprocessor_text = NULL;
  TsfWeights *weights;
  TsfTensorSet *tensors;
  TsfConfig config;
  Output output = { 0 };
  gboolean ok;

  tensors = tsf_source_open_with_options (source, options, &config, NULL, error);
  if (!tensors)
    return FALSE;
  if (config.attention_type == TSF_ATTENTION_TIMESFORMER_PYTORCH) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "%s is a lucidrains "
        "TimeSformer-pytorch model; it has no Hugging Face TimesformerForVideoClassification "
        "equivalent (GEGLU, rotary or flat positions): use the folder itself", source);
    tsf_tensor_set_free (tensors);
    tsf_config_clear (&config);
    return FALSE;
  }
  /* checks every tensor against the config (names, shapes, none missing or extra) */
  weights = tsf_weights_bind (&config, tensors, error);
  if (!weights) {
    tsf_config_clear (&config);
    return FALSE;
  }
  add_known_sampling (&config);
  config_text = config_json (&config);
  preprocessor_text = preprocessor_json (&config);
  ok = output_init (&output, weights, &config, options != NULL ? options->precision
      : TSF_PRECISION_F32, source, error);
  if (ok && g_mkdir_with_parents (out_dir, 0755) != 0) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot create %s: %s", out_dir,
        g_strerror (errno));
    ok = FALSE;
  }
  ok = ok && write_safetensors (weights_path, &output, error)
      && replace_file (config_path, config_text, strlen (config_text), error)
      && replace_file (preprocessor_path, preprocessor_text, strlen (preprocessor_text), error);
  output_clear (&output);
  tsf_weights_free (weights);
  tsf_config_clear (&config);
  return ok;
}
