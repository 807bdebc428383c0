/* The reference test models saved as PyTorch checkpoints (tests/checkpoints/models.json):
 * pytorch_model.bin folders in both naming schemes and official .pyth files (with and without
 * the model_state wrapper, float32/float16/bfloat16, strided views with storage offsets).
 * Each must resolve to the same config and bit-identical float32 weights as the model's
 * model.safetensors; official files get their config inferred from the tensor shapes. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "timesformer.h"
#include "tsf-config.h"
#include "timesformer-convert.h"
#include "timesformer-npy.h"
#include "tsf-source.h"

static gchar *checkpoints_dir;
static JsonArray *entries;

/* One entry of models.json. */
typedef struct {
  gchar *path;
  gchar *model;                /* the safetensors test model it must equal */
  gchar *labels;
  gchar *input;                /* a clip for that model */
  TsfModelOptions options;
} Entry;

static Entry *
entry_new (gconstpointer data)
{
  JsonObject *object = (JsonObject *) data;
  Entry *e = g_new0 (Entry, 1);

  e->path = g_build_filename (checkpoints_dir, json_object_get_string_member (object, "path"),
      NULL);
  e->model = g_strdup (json_object_get_string_member (object, "model"));
  if (!json_object_get_null_member (object, "labels"))
    e->labels = g_build_filename (checkpoints_dir,
        json_object_get_string_member (object, "labels"), NULL);
  e->input = g_build_filename (g_getenv ("TSF_TEST_MODELS"),
      json_object_get_string_member (object, "input"), NULL);
  e->options.num_heads = json_object_get_int_member (object, "num_heads");
  e->options.labels_file = e->labels;
  return e;
}

static void
entry_free (Entry *e)
{
  g_free (e->path);
  g_free (e->model);
  g_free (e->labels);
  g_free (e->input);
  g_free (e);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Entry, entry_free)

static void
assert_same_config (const TsfConfig *got, const TsfConfig *want)
{
  g_assert_cmpuint (got->image_size, ==, want->image_size);
  g_assert_cmpuint (got->patch_size, ==, want->patch_size);
  g_assert_cmpuint (got->num_channels, ==, want->num_channels);
  g_assert_cmpuint (got->num_frames, ==, want->num_frames);
  g_assert_cmpuint (got->hidden_size, ==, want->hidden_size);
  g_assert_cmpuint (got->num_hidden_layers, ==, want->num_hidden_layers);
  g_assert_cmpuint (got->num_attention_heads, ==, want->num_attention_heads);
  g_assert_cmpuint (got->intermediate_size, ==, want->intermediate_size);
  g_assert_cmpfloat (got->layer_norm_eps, ==, want->layer_norm_eps);
  g_assert_cmpint (got->qkv_bias, ==, want->qkv_bias);
  g_assert_cmpint (got->attention_type, ==, want->attention_type);
  g_assert_cmpuint (got->num_labels, ==, want->num_labels);
}

static gfloat *
to_f32 (const TsfTensor *tensor)
{
  gfloat *out = g_new0 (gfloat, tsf_tensor_numel (tensor));

  tsf_tensor_to_f32 (tensor, out);
  return out;
}

static void
assert_same_tensors (TsfTensorSet *got, TsfTensorSet *want, gboolean same_dtype)
{
  const gchar *const *names = tsf_tensor_set_names (want);

  g_assert_cmpuint (tsf_tensor_set_size (got), ==, tsf_tensor_set_size (want));
  for (guint i = 0; names[i]; i++) {
    const TsfTensor *a = tsf_tensor_set_lookup (got, names[i]);
    const TsfTensor *b = tsf_tensor_set_lookup (want, names[i]);
    g_autofree gfloat *va = NULL, *vb = NULL;

    if (!a)
      g_error ("tensor %s is missing", names[i]);
    if (same_dtype)
      g_assert_cmpint (a->dtype, ==, b->dtype);
    else
      g_assert_cmpint (a->dtype, ==, TSF_DTYPE_F32);
    g_assert_cmpuint (a->ndim, ==, b->ndim);
    g_assert_cmpmem (a->shape, a->ndim * sizeof (gint64), b->shape, b->ndim * sizeof (gint64));
    va = to_f32 (a);
    vb = to_f32 (b);
    g_assert_cmpmem (va, tsf_tensor_numel (a) * sizeof (gfloat),
        vb, tsf_tensor_numel (b) * sizeof (gfloat));
  }
}

static void
assert_labels_file (const TsfConfig *config, const gchar *path)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; i < config->num_labels; i++)
    g_assert_cmpstr (config->labels[i], ==, lines[i]);
}

static void
test_checkpoint (gconstpointer data)
{
  g_autoptr (Entry) e = entry_new (data);
  g_autofree gchar *reference = g_build_filename (g_getenv ("TSF_TEST_MODELS"), e->model, NULL);
  g_autoptr (GError) error = NULL;
  TsfConfig got, want;
  TsfTensorSet *got_tensors, *want_tensors;

  got_tensors = tsf_source_open_with_options (e->path, &e->options, &got, NULL, &error);
  g_assert_no_error (error);
  want_tensors = tsf_source_open (reference, &want, NULL, &error);
  g_assert_no_error (error);
  assert_same_config (&got, &want);
  if (e->labels)
    assert_labels_file (&got, e->labels);
  else
    for (guint i = 0; i < want.num_labels; i++)
      g_assert_cmpstr (got.labels[i], ==, want.labels[i]);
  assert_same_tensors (got_tensors, want_tensors, TRUE);
  tsf_tensor_set_free (got_tensors);
  tsf_tensor_set_free (want_tensors);
  tsf_config_clear (&got);
  tsf_config_clear (&want);
}

static gfloat *
run_model (const gchar *path, const TsfModelOptions *options, const TsfNpyArray *clip,
    guint *num_labels)
{
  TsfClipShape shape = { clip->shape[0], clip->shape[1], clip->shape[2], clip->shape[3] };
  g_autoptr (GError) error = NULL;
  TsfModel *model = tsf_model_open (path, options, &error);
  gfloat *logits;

  g_assert_no_error (error);
  *num_labels = tsf_model_get_config (model)->num_labels;
  logits = g_new0 (gfloat, *num_labels);
  g_assert_true (tsf_model_run (model, clip->data, &shape, logits, &error));
  g_assert_no_error (error);
  tsf_model_free (model);
  return logits;
}

/* The public API on the checkpoint gives exactly the logits of the safetensors model. */
static void
test_logits (gconstpointer data)
{
  g_autoptr (Entry) e = entry_new (data);
  g_autofree gchar *reference = g_build_filename (g_getenv ("TSF_TEST_MODELS"), e->model, NULL);
  g_autofree gfloat *got = NULL, *want = NULL;
  g_autoptr (GError) error = NULL;
  TsfNpyArray clip = { 0 };
  guint n_got, n_want;

  g_assert_true (tsf_npy_read (e->input, &clip, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (clip.ndim, ==, 4);
  got = run_model (e->path, &e->options, &clip, &n_got);
  want = run_model (reference, NULL, &clip, &n_want);
  g_assert_cmpmem (got, n_got * sizeof (gfloat), want, n_want * sizeof (gfloat));
  tsf_npy_clear (&clip);
}

static void
assert_same_preprocessing (const TsfConfig *got, const TsfConfig *want)
{
  g_assert_cmpmem (got->image_mean, sizeof got->image_mean, want->image_mean, sizeof want->image_mean);
  g_assert_cmpmem (got->image_std, sizeof got->image_std, want->image_std, sizeof want->image_std);
  g_assert_cmpuint (got->resize_shortest_edge, ==, want->resize_shortest_edge);
  g_assert_cmpuint (got->resize_width, ==, want->resize_width);
  g_assert_cmpuint (got->resize_height, ==, want->resize_height);
  g_assert_cmpuint (got->crop_width, ==, want->crop_width);
  g_assert_cmpuint (got->crop_height, ==, want->crop_height);
  g_assert_cmpfloat (got->rescale_factor, ==, want->rescale_factor);
}

/* convert: a checkpoint becomes a Hugging Face directory with float32 safetensors that reads
 * back as the same config, labels, preprocessing and weights. */
static void
test_convert (gconstpointer data)
{
  g_autoptr (Entry) e = entry_new (data);
  g_autofree gchar *tmp = g_dir_make_tmp ("tsf-convert-XXXXXX", NULL);
  g_autofree gchar *out = g_build_filename (tmp, "converted", NULL);
  g_autoptr (GError) error = NULL;
  TsfConfig got, want;
  TsfTensorSet *got_tensors, *want_tensors;

  g_assert_true (tsf_convert_to_hf (e->path, &e->options, out, &error));
  g_assert_no_error (error);
  got_tensors = tsf_source_open (out, &got, NULL, &error);
  g_assert_no_error (error);
  want_tensors = tsf_source_open_with_options (e->path, &e->options, &want, NULL, &error);
  g_assert_no_error (error);
  assert_same_config (&got, &want);
  assert_same_preprocessing (&got, &want);
  for (guint i = 0; i < want.num_labels; i++)
    g_assert_cmpstr (got.labels[i], ==, want.labels[i]);
  assert_same_tensors (got_tensors, want_tensors, FALSE);
  tsf_tensor_set_free (got_tensors);
  tsf_tensor_set_free (want_tensors);
  tsf_config_clear (&got);
  tsf_config_clear (&want);
  for (const gchar *const *f = (const gchar *[]) { "config.json", "preprocessor_config.json",
           "model.safetensors", NULL }; *f; f++) {
    g_autofree gchar *file = g_build_filename (out, *f, NULL);
    g_assert_cmpint (g_unlink (file), ==, 0);
  }
  g_assert_cmpint (g_rmdir (out), ==, 0);
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

/* An official checkpoint without --num-heads gets the default (hidden size / 64 = 1 here),
 * and a labels file of the wrong length is refused. */
static void
test_options (void)
{
  g_autofree gchar *pyth = g_build_filename (checkpoints_dir, "models", "divided.pyth", NULL);
  g_autofree gchar *labels = g_build_filename (checkpoints_dir, "models",
      "divided_noqkvbias.labels.txt", NULL);
  g_autofree gchar *hf_bin = g_build_filename (checkpoints_dir, "models", "divided_hf_bin", NULL);
  TsfModelOptions options = { 0 };
  g_autoptr (GError) error = NULL;
  TsfConfig config;
  TsfTensorSet *tensors;

  tensors = tsf_source_open_with_options (pyth, &options, &config, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config.num_attention_heads, ==, config.hidden_size / 64);
  g_assert_cmpstr (config.labels[3], ==, "LABEL_3");
  tsf_tensor_set_free (tensors);
  tsf_config_clear (&config);

  options.num_heads = 3;       /* does not divide hidden size 64 */
  g_assert_null (tsf_source_open_with_options (pyth, &options, &config, NULL, &error));
  g_assert_nonnull (strstr (error->message, "--num-heads"));
  g_clear_error (&error);

  options.num_heads = 4;
  options.labels_file = labels; /* 5 labels for 10 classes */
  g_assert_null (tsf_source_open_with_options (pyth, &options, &config, NULL, &error));
  g_assert_nonnull (strstr (error->message, "has 5 labels; the model has 10 classes"));
  g_clear_error (&error);

  /* options.num_heads = 4 with a config.json that says 4 is fine; 2 is refused */
  options.labels_file = NULL;
  options.num_heads = 2;
  g_assert_null (tsf_source_open_with_options (hf_bin, &options, &config, NULL, &error));
  g_assert_nonnull (strstr (error->message, "config says 4 attention heads but 2"));
  g_clear_error (&error);
}

/* A pytorch_model.bin with Hugging Face names needs its config.json. */
static void
test_hf_names_without_config (void)
{
  g_autofree gchar *src = g_build_filename (checkpoints_dir, "models", "divided_hf_bin",
      "pytorch_model.bin", NULL);
  g_autofree gchar *tmp = g_dir_make_tmp ("tsf-bin-XXXXXX", NULL);
  g_autofree gchar *alone = g_build_filename (tmp, "pytorch_model.bin", NULL);
  g_autofree gchar *bytes = NULL;
  g_autoptr (GError) error = NULL;
  TsfConfig config;
  gsize size;

  g_assert_true (g_file_get_contents (src, &bytes, &size, NULL));
  g_assert_true (g_file_set_contents (alone, bytes, size, NULL));
  g_assert_null (tsf_source_open (alone, &config, NULL, &error));
  g_assert_nonnull (strstr (error->message, "has no config.json next to it"));
  g_assert_cmpint (g_unlink (alone), ==, 0);
  g_assert_cmpint (g_rmdir (tmp), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *manifest = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  g_assert_nonnull (g_getenv ("TSF_BUILD_ROOT"));
  g_assert_nonnull (g_getenv ("TSF_TEST_MODELS"));
  checkpoints_dir = g_build_filename (g_getenv ("TSF_BUILD_ROOT"), "tests", "checkpoints", NULL);
  manifest = g_build_filename (checkpoints_dir, "models.json", NULL);
  json_parser_load_from_file (parser, manifest, &error);
  g_assert_no_error (error);
  entries = json_array_ref (json_node_get_array (json_parser_get_root (parser)));
  g_assert_cmpuint (json_array_get_length (entries), >, 0);
  for (guint i = 0; i < json_array_get_length (entries); i++) {
    JsonObject *entry = json_array_get_object_element (entries, i);
    g_autofree gchar *name = g_strdup_printf ("/checkpoints/%s",
        json_object_get_string_member (entry, "path"));
    g_autofree gchar *convert_name = g_strdup_printf ("/convert/%s",
        json_object_get_string_member (entry, "path"));
    g_test_add_data_func (name, entry, test_checkpoint);
    g_autofree gchar *logits_name = g_strdup_printf ("/logits/%s",
        json_object_get_string_member (entry, "path"));
    g_test_add_data_func (convert_name, entry, test_convert);
    g_test_add_data_func (logits_name, entry, test_logits);
  }
  g_test_add_func ("/checkpoints/options", test_options);
  g_test_add_func ("/checkpoints/hf-names-without-config", test_hf_names_without_config);
  status = g_test_run ();
  json_array_unref (entries);
  g_free (checkpoints_dir);
  return status;
}
