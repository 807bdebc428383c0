/* test-files.c: small model files written by the engine tests themselves. */
#include "test-files.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "tsf-config.h"

void
test_assert_tsf_error (GError **error, TsfError code, const gchar *culprit, const gchar *where)
{
  if (*error == NULL)
    g_error ("%s: expected an error with code %d naming '%s', got none", where, code, culprit);
  g_test_message ("%s: %s", where, (*error)->message);
  if ((*error)->domain != TSF_ERROR || (*error)->code != (gint) code)
    g_error ("%s: expected code %d, got %s %d: %s", where, code,
        g_quark_to_string ((*error)->domain), (*error)->code, (*error)->message);
  if (strstr ((*error)->message, culprit) == NULL)
    g_error ("%s: message does not name '%s': %s", where, culprit, (*error)->message);
  g_clear_error (error);
}

gchar *
test_dir_new (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("tsf-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const gchar *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);
    if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
      remove_tree (child);
    else
      g_unlink (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

void
test_dir_free (gchar *dir)
{
  remove_tree (dir);
  g_free (dir);
}

gchar *
test_write_file (const gchar *dir, const gchar *name, const void *data, gssize length)
{
  GError *error = NULL;
  gchar *path = g_build_filename (dir, name, NULL);
  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
  return path;
}

GBytes *
test_safetensors_bytes (const gchar *header, gsize data_size)
{
  guint64 length = strlen (header);
  GByteArray *bytes = g_byte_array_new ();
  for (guint i = 0; i < 8; i++) {
    guint8 byte = length >> (8 * i);
    g_byte_array_append (bytes, &byte, 1);
  }
  g_byte_array_append (bytes, (const guint8 *) header, length);
  for (gsize i = 0; i < data_size; i++) {
    guint8 byte = i;
    g_byte_array_append (bytes, &byte, 1);
  }
  return g_byte_array_free_to_bytes (bytes);
}

static void
test_tensor_clear (gpointer data)
{
  g_free (((TestTensor *) data)->name);
}

void
test_add_tensor (GArray *tensors, const gchar *name, const gchar *dtype, guint ndim,
    const gint64 *shape)
{
  TestTensor tensor = { g_strdup (name), dtype, ndim, { 0 } };
  for (guint d = 0; d < ndim; d++)
    tensor.shape[d] = shape[d];
  g_array_append_val (tensors, tensor);
}

#define ADD(name, ...) \
  test_add_tensor (tensors, name, "F32", sizeof ((gint64[]) { __VA_ARGS__ }) / sizeof (gint64), \
      (gint64[]) { __VA_ARGS__ })

static void
add_linear (GArray *tensors, const gchar *prefix, gint64 out, gint64 in, gboolean bias)
{
  g_autofree gchar *weight = g_strconcat (prefix, ".weight", NULL);
  g_autofree gchar *bias_name = g_strconcat (prefix, ".bias", NULL);
  ADD (weight, out, in);
  if (bias)
    ADD (bias_name, out);
}

static void
add_norm (GArray *tensors, const gchar *prefix, gint64 hidden)
{
  g_autofree gchar *weight = g_strconcat (prefix, ".weight", NULL);
  g_autofree gchar *bias = g_strconcat (prefix, ".bias", NULL);
  ADD (weight, hidden);
  ADD (bias, hidden);
}

GArray *
test_tensors_new (void)
{
  GArray *tensors = g_array_new (FALSE, TRUE, sizeof (TestTensor));
  g_array_set_clear_func (tensors, test_tensor_clear);
  return tensors;
}

GArray *
test_tiny_tensors (TsfAttentionType attention, gboolean qkv_bias)
{
  const gint64 hidden = 4, inter = 8, frames = 2, patches = 4, labels = 3;
  const gchar *l = "timesformer.encoder.layer.0";
  GArray *tensors = test_tensors_new ();
  ADD ("timesformer.embeddings.patch_embeddings.projection.weight", hidden, 3, 2, 2);
  ADD ("timesformer.embeddings.patch_embeddings.projection.bias", hidden);
  ADD ("timesformer.embeddings.cls_token", 1, 1, hidden);
  ADD ("timesformer.embeddings.position_embeddings", 1, patches + 1, hidden);
  if (attention != TSF_ATTENTION_SPACE_ONLY)
    ADD ("timesformer.embeddings.time_embeddings", 1, frames, hidden);
  g_autofree gchar *p = NULL;
#define SUB(suffix) (g_free (p), p = g_strconcat (l, suffix, NULL))
  if (attention == TSF_ATTENTION_DIVIDED_SPACE_TIME) {
    add_norm (tensors, SUB (".temporal_layernorm"), hidden);
    add_linear (tensors, SUB (".temporal_attention.attention.qkv"), 3 * hidden, hidden,
        qkv_bias);
    add_linear (tensors, SUB (".temporal_attention.output.dense"), hidden, hidden, TRUE);
    add_linear (tensors, SUB (".temporal_dense"), hidden, hidden, TRUE);
  }
  add_norm (tensors, SUB (".layernorm_before"), hidden);
  add_linear (tensors, SUB (".attention.attention.qkv"), 3 * hidden, hidden, qkv_bias);
  add_linear (tensors, SUB (".attention.output.dense"), hidden, hidden, TRUE);
  add_norm (tensors, SUB (".layernorm_after"), hidden);
  add_linear (tensors, SUB (".intermediate.dense"), inter, hidden, TRUE);
  add_linear (tensors, SUB (".output.dense"), hidden, inter, TRUE);
#undef SUB
  add_norm (tensors, "timesformer.layernorm", hidden);
  add_linear (tensors, "classifier", labels, hidden, TRUE);
  return tensors;
}

TestTensor *
test_find_tensor (GArray *tensors, const gchar *name)
{
  for (guint i = 0; i < tensors->len; i++) {
    TestTensor *tensor = &g_array_index (tensors, TestTensor, i);
    if (strcmp (tensor->name, name) == 0)
      return tensor;
  }
  g_error ("no test tensor %s", name);
  return NULL;
}

void
test_remove_tensor (GArray *tensors, const gchar *name)
{
  TestTensor *tensor = test_find_tensor (tensors, name);
  g_array_remove_index (tensors, tensor - &g_array_index (tensors, TestTensor, 0));
}

/* Multiples of 1/8 in [-1, 1]: exact in F32, F16 and BF16. */
gfloat
test_tensor_value (const gchar *name, gint64 index)
{
  return ((g_str_hash (name) + index) % 17) * 0.125f - 1.0f;
}

static guint16
exact_f16 (gfloat value)
{
  guint32 bits;
  memcpy (&bits, &value, 4);
  if ((bits & 0x7fffffff) == 0)
    return bits >> 16;
  guint32 exponent = ((bits >> 23) & 0xff) - 112;
  return ((bits >> 16) & 0x8000) | (exponent << 10) | ((bits & 0x7fffff) >> 13);
}

static void
append_value (GByteArray *data, const gchar *dtype, gfloat value)
{
  guint32 bits;
  memcpy (&bits, &value, 4);
  guint16 half = strcmp (dtype, "F16") == 0 ? exact_f16 (value) : bits >> 16;
  gint8 byte = (gint8) (value * 8);
  if (strcmp (dtype, "I8") == 0)
    g_byte_array_append (data, (const guint8 *) &byte, 1);
  else if (strcmp (dtype, "F32") == 0)
    g_byte_array_append (data, (const guint8 *) &bits, 4);
  else
    g_byte_array_append (data, (const guint8 *) &half, 2);
}

GBytes *
test_checkpoint_bytes (GArray *tensors)
{
  GString *header = g_string_new ("{\"__metadata__\": {\"format\": \"pt\"}");
  GByteArray *data = g_byte_array_new ();
  for (guint i = 0; i < tensors->len; i++) {
    const TestTensor *tensor = &g_array_index (tensors, TestTensor, i);
    gint64 numel = 1;
    guint begin = data->len;
    g_string_append_printf (header, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [", tensor->name,
        tensor->dtype);
    for (guint d = 0; d < tensor->ndim; d++) {
      g_string_append_printf (header, "%s%" G_GINT64_FORMAT, d ? ", " : "", tensor->shape[d]);
      numel *= tensor->shape[d];
    }
    for (gint64 n = 0; n < numel; n++)
      append_value (data, tensor->dtype, g_str_has_suffix (tensor->name, "_scale")
          ? fabsf (test_tensor_value (tensor->name, n)) + 0.125f   /* int8 scales: positive */
          : test_tensor_value (tensor->name, n));
    g_string_append_printf (header, "], \"data_offsets\": [%u, %u]}", begin, data->len);
  }
  g_string_append (header, "}");
  GBytes *prefix = test_safetensors_bytes (header->str, 0);
  GByteArray *file = g_bytes_unref_to_array (prefix);
  g_byte_array_append (file, data->data, data->len);
  g_byte_array_unref (data);
  g_string_free (header, TRUE);
  return g_byte_array_free_to_bytes (file);
}

gchar *
test_tiny_config_json (TsfAttentionType attention, const gchar *extra)
{
  return g_strdup_printf ("{\"architectures\": [\"TimesformerForVideoClassification\"], "
      "\"model_type\": \"timesformer\", \"image_size\": 4, \"patch_size\": 2, "
      "\"num_channels\": 3, \"num_frames\": 2, \"hidden_size\": 4, \"num_hidden_layers\": 1, "
      "\"num_attention_heads\": 2, \"intermediate_size\": 8, \"hidden_act\": \"gelu\", "
      "\"layer_norm_eps\": 1e-06, \"qkv_bias\": true, \"attention_type\": \"%s\", "
      "\"id2label\": {\"0\": \"abseiling\", \"1\": \"air drumming\", \"2\": \"zumba\"}, "
      "\"label2id\": {\"abseiling\": 0, \"air drumming\": 1, \"zumba\": 2}%s%s}",
      tsf_attention_type_to_string (attention), extra ? ", " : "", extra ? extra : "");
}

void
test_write_model_dir (const gchar *dir, const gchar *config_json, GArray *tensors)
{
  g_autoptr (GBytes) checkpoint = test_checkpoint_bytes (tensors);
  gsize size;
  const void *data = g_bytes_get_data (checkpoint, &size);
  g_free (test_write_file (dir, "config.json", config_json, -1));
  g_free (test_write_file (dir, "model.safetensors", data, size));
}

gfloat *
test_random_clip (const TsfClipShape *shape, guint seed)
{
  gsize n = (gsize) shape->frames * shape->channels * shape->height * shape->width;
  gfloat *clip = g_new (gfloat, n);
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < n; i++)
    clip[i] = (gfloat) g_rand_double_range (rand, -2.0, 2.0);
  g_rand_free (rand);
  return clip;
}

TsfModel *
test_small_random_model (TsfAttentionType attention)
{
  return test_small_random_model_with_options (attention, NULL);
}

void
test_small_config (TsfConfig *config, TsfAttentionType attention)
{
  tsf_config_init_defaults (config);
  config->image_size = 32;
  config->patch_size = 8;
  config->num_frames = 4;
  config->hidden_size = 32;
  config->num_hidden_layers = 2;
  config->num_attention_heads = 2;
  config->intermediate_size = 48;
  config->num_labels = 5;
  config->attention_type = attention;
}

TsfModel *
test_random_model (const TsfConfig *config, guint64 seed, const TsfModelOptions *options)
{
  g_autoptr (GError) error = NULL;
  TsfModel *model = tsf_model_new_random (config, seed, options, &error);

  g_assert_no_error (error);
  return model;
}

TsfModel *
test_small_random_model_with_options (TsfAttentionType attention,
    const TsfModelOptions *options)
{
  TsfConfig config;
  TsfModel *model;

  test_small_config (&config, attention);
  model = test_random_model (&config, 7, options);
  tsf_config_clear (&config);
  return model;
}

TsfModel *
test_small_lucidrains_model (gboolean shift_tokens, const TsfModelOptions *options)
{
  TsfConfig config;
  TsfModel *model;

  test_small_config (&config, TSF_ATTENTION_TIMESFORMER_PYTORCH);
  config.attention_size = 48;
  config.intermediate_size = 128;
  config.qkv_bias = FALSE;
  config.rotary_emb = !shift_tokens;
  config.shift_tokens = shift_tokens;
  model = test_random_model (&config, 7, options);
  tsf_config_clear (&config);
  return model;
}
