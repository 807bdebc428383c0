/* Model directories: what is needed where, and checkpoints checked against their config. */
#include <glib/gstdio.h>
#include <string.h>

#include "test-files.h"
#include "timesformer-convert.h"
#include "tsf-config.h"
#include "tsf-source.h"
#include "tsf-weights.h"

typedef struct {
  gchar *dir;
  GArray *tensors;
  gchar *config_json;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = test_dir_new ();
  f->tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  f->config_json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  test_dir_free (f->dir);
  g_array_unref (f->tensors);
  g_free (f->config_json);
}

/* Opens and binds f->dir; NULL and `error` set on failure. */
static TsfWeights *
open_and_bind (Fixture *f, TsfConfig *config, GError **error)
{
  TsfTensorSet *tensors = tsf_source_open (f->dir, config, NULL, error);
  if (tensors == NULL)
    return NULL;
  TsfWeights *weights = tsf_weights_bind (config, tensors, error);
  if (weights == NULL)
    tsf_config_clear (config);
  return weights;
}

static void
assert_bind_fails (Fixture *f, TsfError code, const gchar *culprit)
{
  TsfConfig config;
  GError *error = NULL;
  test_write_model_dir (f->dir, f->config_json, f->tensors);
  g_assert_null (open_and_bind (f, &config, &error));
  assert_tsf_error (error, code, culprit);
}

static void
test_good_directory (Fixture *f, gconstpointer data)
{
  TsfConfig config;
  GError *error = NULL;
  gchar *name = NULL;
  test_write_model_dir (f->dir, f->config_json, f->tensors);
  TsfTensorSet *tensors = tsf_source_open (f->dir, &config, &name, &error);
  g_assert_no_error (error);
  g_autofree gchar *base = g_path_get_basename (f->dir);
  g_assert_cmpstr (name, ==, base);
  g_free (name);
  g_assert_cmpuint (config.num_labels, ==, 3);
  g_assert_cmpstr (config.labels[2], ==, "zumba");
  TsfWeights *weights = tsf_weights_bind (&config, tensors, &error);
  g_assert_no_error (error);
  g_assert_nonnull (weights);
  for (guint i = 0; i < 3 * 4; i++)
    g_assert_cmpfloat (weights->classifier.weight[i], ==,
        test_tensor_value ("classifier.weight", i));
  g_assert_cmpfloat (weights->layers[0].temporal_dense.bias[3], ==,
      test_tensor_value ("timesformer.encoder.layer.0.temporal_dense.bias", 3));
  tsf_weights_free (weights);
  tsf_config_clear (&config);
}

static void
test_other_variants_load (Fixture *f, gconstpointer data)
{
  const TsfAttentionType types[] = { TSF_ATTENTION_JOINT_SPACE_TIME, TSF_ATTENTION_SPACE_ONLY };
  for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
    g_autofree gchar *json = test_tiny_config_json (types[i], "\"qkv_bias\": false");
    GArray *tensors = test_tiny_tensors (types[i], FALSE);
    /* F16 and BF16 checkpoints */
    for (guint t = 0; t < tensors->len; t++)
      g_array_index (tensors, TestTensor, t).dtype = t % 2 ? "F16" : "BF16";
    test_write_model_dir (f->dir, json, tensors);
    TsfConfig config;
    GError *error = NULL;
    TsfWeights *weights = open_and_bind (f, &config, &error);
    g_assert_no_error (error);
    g_assert_cmpint (config.attention_type, ==, types[i]);
    g_assert_null (weights->layers[0].qkv.bias);
    g_assert_cmpfloat (weights->layers[0].output.weight[5], ==,
        test_tensor_value ("timesformer.encoder.layer.0.output.dense.weight", 5));
    tsf_weights_free (weights);
    tsf_config_clear (&config);
    g_array_unref (tensors);
  }
}

static void
test_with_preprocessor_config (Fixture *f, gconstpointer data)
{
  TsfConfig config;
  test_write_model_dir (f->dir, f->config_json, f->tensors);
  g_free (test_write_file (f->dir, "preprocessor_config.json",
      "{\"size\": {\"shortest_edge\": 6}, \"crop_size\": {\"height\": 4, \"width\": 4}}", -1));
  TsfTensorSet *tensors = tsf_source_open (f->dir, &config, NULL, NULL);
  g_assert_nonnull (tensors);
  g_assert_cmpuint (config.resize_shortest_edge, ==, 6);
  tsf_tensor_set_free (tensors);
  tsf_config_clear (&config);
}

static void
test_missing_directory (Fixture *f, gconstpointer data)
{
  TsfConfig config;
  GError *error = NULL;
  g_autofree gchar *missing = g_build_filename (f->dir, "no-such-model", NULL);
  g_assert_null (tsf_source_open (missing, &config, NULL, &error));
  assert_tsf_error (error, TSF_ERROR_IO, missing);
  g_assert_null (config.labels);

  g_autofree gchar *file = test_write_file (f->dir, "model.txt", "hello", -1);
  g_assert_null (tsf_source_open (file, &config, NULL, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "is not a PyTorch zip checkpoint");
}

static void
test_missing_config (Fixture *f, gconstpointer data)
{
  TsfConfig config;
  GError *error = NULL;
  test_write_model_dir (f->dir, f->config_json, f->tensors);
  g_autofree gchar *path = g_build_filename (f->dir, "config.json", NULL);
  g_unlink (path);
  g_assert_null (tsf_source_open (f->dir, &config, NULL, &error));
  assert_tsf_error (error, TSF_ERROR_IO, path);
}

static void
test_missing_weights (Fixture *f, gconstpointer data)
{
  TsfConfig config;
  GError *error = NULL;
  g_free (test_write_file (f->dir, "config.json", f->config_json, -1));
  g_assert_null (tsf_source_open (f->dir, &config, NULL, &error));
  assert_tsf_error (error, TSF_ERROR_IO, "holds no weights; expected model.safetensors");
  g_assert_null (config.labels);
}

static void
test_invalid_config_json (Fixture *f, gconstpointer data)
{
  g_free (f->config_json);
  f->config_json = g_strdup ("{\"image_size\": 224, \"patch_size\": 16,,}");
  assert_bind_fails (f, TSF_ERROR_CONFIG, "config.json: invalid JSON");
}

static void
test_impossible_config (Fixture *f, gconstpointer data)
{
  g_free (f->config_json);
  f->config_json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"num_frames\": 0");
  assert_bind_fails (f, TSF_ERROR_CONFIG, "'num_frames'");
}

static void
test_config_missing_field (Fixture *f, gconstpointer data)
{
  /* without id2label the config means transformers' default of 2 classes, which the
   * 3-class checkpoint contradicts */
  g_free (f->config_json);
  f->config_json = g_strdup ("{\"image_size\": 4, \"patch_size\": 2, \"num_frames\": 2, "
      "\"hidden_size\": 4, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
      "\"intermediate_size\": 8}");
  assert_bind_fails (f, TSF_ERROR_TENSOR, "tensor 'classifier.weight' has shape [3, 4], but "
      "config.json implies [2, 4]");
}

static void
test_truncated_checkpoint (Fixture *f, gconstpointer data)
{
  test_write_model_dir (f->dir, f->config_json, f->tensors);
  g_autofree gchar *path = g_build_filename (f->dir, "model.safetensors", NULL);
  gchar *contents;
  gsize length;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (path, contents, length / 2, NULL));
  g_free (contents);
  TsfConfig config;
  GError *error = NULL;
  g_assert_null (tsf_source_open (f->dir, &config, NULL, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, path);
  g_assert_null (config.labels);
}

static void
test_missing_tensor (Fixture *f, gconstpointer data)
{
  test_remove_tensor (f->tensors, "timesformer.encoder.layer.0.temporal_dense.bias");
  assert_bind_fails (f, TSF_ERROR_TENSOR,
      "tensor 'timesformer.encoder.layer.0.temporal_dense.bias' of shape [4] is missing");
}

static void
test_extra_tensor (Fixture *f, gconstpointer data)
{
  test_add_tensor (f->tensors, "timesformer.encoder.layer.1.output.dense.bias", "F32", 1,
      (gint64[]) { 4 });
  assert_bind_fails (f, TSF_ERROR_TENSOR,
      "unexpected tensor 'timesformer.encoder.layer.1.output.dense.bias'");
}

static void
test_wrong_shape (Fixture *f, gconstpointer data)
{
  TestTensor *tensor = test_find_tensor (f->tensors,
      "timesformer.embeddings.position_embeddings");
  tensor->shape[1] = 17;
  assert_bind_fails (f, TSF_ERROR_TENSOR, "tensor 'timesformer.embeddings.position_embeddings' "
      "has shape [1, 17, 4], but config.json implies [1, 5, 4]");
}

/* Converts f->dir (its config.json replaced by `config_json`) and reads back the sampling. */
static TsfSampling
converted_sampling (Fixture *f, const gchar *config_json, TsfChannelOrder *order)
{
  g_autofree gchar *out = g_build_filename (f->dir, "converted", NULL);
  TsfConfig config;
  GError *error = NULL;
  TsfSampling sampling;

  test_write_model_dir (f->dir, config_json, f->tensors);
  g_assert_true (tsf_convert_to_hf (f->dir, NULL, out, &error));
  g_assert_no_error (error);
  g_assert_true (tsf_config_load_dir (&config, out, &error));
  g_assert_no_error (error);
  sampling = config.sampling;
  if (order != NULL)
    *order = config.channel_order;
  tsf_config_clear (&config);
  return sampling;
}

/* The tiny model's tensors resized to a hub model's classes, frames and image size. */
static void
resize_to_hub_model (Fixture *f, guint num_labels, guint frames, guint image_size)
{
  guint grid = image_size / 2;   /* patch 2 */

  test_find_tensor (f->tensors, "classifier.weight")->shape[0] = num_labels;
  test_find_tensor (f->tensors, "classifier.bias")->shape[0] = num_labels;
  test_find_tensor (f->tensors, "timesformer.embeddings.time_embeddings")->shape[1] = frames;
  test_find_tensor (f->tensors, "timesformer.embeddings.position_embeddings")->shape[1] =
      grid * grid + 1;
}

/* convert keeps a stated sampling, states the known hub models' and nothing for the others. */
static void
test_convert_sampling (Fixture *f, gconstpointer data)
{
  g_autofree gchar *stated = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"sampling\": {\"frame_stride\": 5, \"fps\": 25}");
  g_autofree gchar *k400 = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"num_frames\": 8, \"image_size\": 224, \"num_labels\": 400");
  g_autofree gchar *ssv2 = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"num_frames\": 8, \"image_size\": 224, \"num_labels\": 174");
  TsfSampling sampling;
  TsfChannelOrder order;

  sampling = converted_sampling (f, f->config_json, NULL);
  g_assert_cmpint (sampling.origin, ==, TSF_SAMPLING_DEFAULT);
  sampling = converted_sampling (f, stated, NULL);
  g_assert_cmpint (sampling.origin, ==, TSF_SAMPLING_STATED);
  g_assert_cmpuint (sampling.frame_stride, ==, 5);
  g_assert_cmpfloat (sampling.fps, ==, 25);

  resize_to_hub_model (f, 400, 8, 224);
  sampling = converted_sampling (f, k400, &order);
  g_assert_cmpint (order, ==, TSF_CHANNEL_ORDER_RGB);
  g_assert_cmpint (sampling.origin, ==, TSF_SAMPLING_STATED);
  g_assert_cmpuint (sampling.frame_stride, ==, 32);
  g_assert_cmpfloat (sampling.fps, ==, 30);
  resize_to_hub_model (f, 174, 8, 224);
  sampling = converted_sampling (f, ssv2, &order);
  g_assert_cmpint (order, ==, TSF_CHANNEL_ORDER_BGR);   /* and it reads back */
  g_assert_cmpuint (sampling.frame_stride, ==, 0);
  g_assert_cmpfloat (sampling.clip_duration, ==, 3.5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, test) \
  g_test_add (path, Fixture, NULL, fixture_set_up, test, fixture_tear_down)
  ADD ("/source/good-directory", test_good_directory);
  ADD ("/source/other-variants-load", test_other_variants_load);
  ADD ("/source/with-preprocessor-config", test_with_preprocessor_config);
  ADD ("/source/missing-directory", test_missing_directory);
  ADD ("/source/missing-config", test_missing_config);
  ADD ("/source/missing-weights", test_missing_weights);
  ADD ("/source/invalid-config-json", test_invalid_config_json);
  ADD ("/source/impossible-config", test_impossible_config);
  ADD ("/source/config-missing-field", test_config_missing_field);
  ADD ("/source/truncated-checkpoint", test_truncated_checkpoint);
  ADD ("/source/missing-tensor", test_missing_tensor);
  ADD ("/source/extra-tensor", test_extra_tensor);
  ADD ("/source/wrong-shape", test_wrong_shape);
  ADD ("/source/convert-sampling", test_convert_sampling);
#undef ADD
  return g_test_run ();
}
