/* config.json and preprocessor_config.json: defaults, values, and every kind of bad input. */
#include <string.h>

#include "test-files.h"
#include "tsf-config.h"

static gboolean
parse (TsfConfig *config, const gchar *json, GError **error)
{
  return tsf_config_parse (config, json, strlen (json), "config.json", error);
}

/* Parses the tiny config with `extra` spliced in and expects an error naming `culprit`. */
static void
assert_tiny_config_fails (const gchar *extra, TsfError code, const gchar *culprit)
{
  g_autofree gchar *json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, extra);
  TsfConfig config;
  GError *error = NULL;
  g_assert_false (parse (&config, json, &error));
  assert_tsf_error (error, code, culprit);
  g_assert_null (config.labels);
}

static void
test_defaults (void)
{
  TsfConfig config;
  GError *error = NULL;
  g_assert_true (parse (&config, "{}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config.image_size, ==, 224);
  g_assert_cmpuint (config.patch_size, ==, 16);
  g_assert_cmpuint (config.num_channels, ==, 3);
  g_assert_cmpuint (config.num_frames, ==, 8);
  g_assert_cmpuint (config.hidden_size, ==, 768);
  g_assert_cmpuint (config.num_hidden_layers, ==, 12);
  g_assert_cmpuint (config.num_attention_heads, ==, 12);
  g_assert_cmpuint (config.intermediate_size, ==, 3072);
  g_assert_cmpfloat (config.layer_norm_eps, ==, 1e-6);
  g_assert_true (config.qkv_bias);
  g_assert_cmpint (config.attention_type, ==, TSF_ATTENTION_DIVIDED_SPACE_TIME);
  g_assert_cmpuint (config.num_labels, ==, 2);
  g_assert_cmpstr (config.labels[0], ==, "LABEL_0");
  g_assert_cmpstr (config.labels[1], ==, "LABEL_1");
  g_assert_null (config.labels[2]);
  g_assert_cmpfloat (config.image_mean[2], ==, 0.45f);
  g_assert_cmpfloat (config.image_std[0], ==, 0.225f);
  g_assert_cmpuint (config.resize_shortest_edge, ==, 224);
  g_assert_cmpuint (config.crop_width, ==, 224);
  g_assert_cmpuint (config.crop_height, ==, 224);
  g_assert_cmpfloat_with_epsilon (config.rescale_factor, 1 / 255.0, 1e-12);
  tsf_config_clear (&config);
}

static void
test_full_config (void)
{
  g_autofree gchar *json = test_tiny_config_json (TSF_ATTENTION_JOINT_SPACE_TIME,
      "\"qkv_bias\": false, \"layer_norm_eps\": 1e-5");
  TsfConfig config, copy;
  GError *error = NULL;
  g_assert_true (parse (&config, json, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config.image_size, ==, 4);
  g_assert_cmpuint (config.patch_size, ==, 2);
  g_assert_cmpuint (config.num_frames, ==, 2);
  g_assert_cmpuint (config.hidden_size, ==, 4);
  g_assert_cmpuint (config.num_hidden_layers, ==, 1);
  g_assert_cmpuint (config.num_attention_heads, ==, 2);
  g_assert_cmpuint (config.intermediate_size, ==, 8);
  g_assert_false (config.qkv_bias);
  g_assert_cmpfloat (config.layer_norm_eps, ==, 1e-5);
  g_assert_cmpint (config.attention_type, ==, TSF_ATTENTION_JOINT_SPACE_TIME);
  g_assert_cmpuint (config.num_labels, ==, 3);
  g_assert_cmpstr (config.labels[1], ==, "air drumming");
  g_assert_cmpuint (config.resize_shortest_edge, ==, 4);
  g_assert_cmpuint (config.crop_width, ==, 4);
  g_assert_true (tsf_config_validate (&config, "config.json", &error));

  tsf_config_copy (&copy, &config);
  tsf_config_clear (&config);
  g_assert_null (config.labels);
  g_assert_cmpstr (copy.labels[2], ==, "zumba");
  g_assert_cmpuint (copy.hidden_size, ==, 4);
  tsf_config_clear (&copy);
}

static void
test_attention_type_names (void)
{
  const TsfAttentionType types[] = { TSF_ATTENTION_DIVIDED_SPACE_TIME,
    TSF_ATTENTION_JOINT_SPACE_TIME, TSF_ATTENTION_SPACE_ONLY, TSF_ATTENTION_SPARSE_LOCAL_GLOBAL,
    TSF_ATTENTION_AXIAL };
  for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
    g_autofree gchar *json = test_tiny_config_json (types[i], NULL);
    TsfConfig config;
    g_assert_true (parse (&config, json, NULL));
    g_assert_cmpint (config.attention_type, ==, types[i]);
    tsf_config_clear (&config);
  }
  g_assert_cmpstr (tsf_attention_type_to_string (TSF_ATTENTION_SPACE_ONLY), ==, "space_only");
  g_assert_cmpstr (tsf_attention_type_to_string (TSF_ATTENTION_SPARSE_LOCAL_GLOBAL), ==,
      "sparse_local_global");
  g_assert_cmpstr (tsf_attention_type_to_string (TSF_ATTENTION_AXIAL), ==, "axial");
  g_assert_cmpstr (tsf_attention_type_to_string (42), ==, "invalid");
}

static void
test_invalid_json (void)
{
  TsfConfig config;
  GError *error = NULL;
  g_assert_false (parse (&config, "{\"image_size\": 224,", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "config.json: invalid JSON");
  g_assert_false (parse (&config, "", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "config.json");
  g_autofree gchar *nested = g_strnfill (100000, '[');
  g_assert_false (parse (&config, nested, &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "config.json: invalid JSON: nested deeper");
  g_assert_false (parse (&config, "[1, 2]", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "expected a JSON object at the top level, found "
      "a list");
}

static void
test_wrong_types (void)
{
  assert_tiny_config_fails ("\"image_size\": \"224\"", TSF_ERROR_CONFIG,
      "'image_size' must be an integer from 1 to 8192, found \"224\"");
  assert_tiny_config_fails ("\"num_frames\": 8.5", TSF_ERROR_CONFIG,
      "'num_frames' must be an integer from 1 to 4096, found 8.5");
  assert_tiny_config_fails ("\"qkv_bias\": 1", TSF_ERROR_CONFIG,
      "'qkv_bias' must be true or false, found 1");
  assert_tiny_config_fails ("\"layer_norm_eps\": null", TSF_ERROR_CONFIG,
      "'layer_norm_eps' must be a number, found null");
  assert_tiny_config_fails ("\"attention_type\": [\"divided_space_time\"]", TSF_ERROR_CONFIG,
      "'attention_type' must be a string, found a list");
  assert_tiny_config_fails ("\"id2label\": [\"a\", \"b\"]", TSF_ERROR_CONFIG,
      "'id2label' must be an object, found a list");
  assert_tiny_config_fails ("\"id2label\": {\"0\": 7}", TSF_ERROR_CONFIG,
      "'0' must be a string, found 7");
  /* found by fuzz-config: the labels read before the bad one leaked */
  assert_tiny_config_fails ("\"id2label\": {\"2\": \"c\", \"0\": 7}", TSF_ERROR_CONFIG,
      "'0' must be a string, found 7");
  assert_tiny_config_fails ("\"model_type\": \"videomae\"", TSF_ERROR_CONFIG,
      "model_type 'videomae'");
}

static void
test_zero_frames (void)
{
  assert_tiny_config_fails ("\"num_frames\": 0", TSF_ERROR_CONFIG,
      "config.json: 'num_frames' must be an integer from 1 to 4096, found 0");
}

static void
test_zero_or_negative_sizes (void)
{
  assert_tiny_config_fails ("\"patch_size\": 0", TSF_ERROR_CONFIG, "'patch_size'");
  assert_tiny_config_fails ("\"num_attention_heads\": 0", TSF_ERROR_CONFIG,
      "'num_attention_heads'");
  assert_tiny_config_fails ("\"hidden_size\": -4", TSF_ERROR_CONFIG, "found -4");
  assert_tiny_config_fails ("\"layer_norm_eps\": 0", TSF_ERROR_CONFIG,
      "'layer_norm_eps' must be a positive number");
  assert_tiny_config_fails ("\"num_labels\": 0", TSF_ERROR_CONFIG, "'num_labels'");
}

static void
test_patch_not_dividing_image (void)
{
  assert_tiny_config_fails ("\"image_size\": 5", TSF_ERROR_CONFIG,
      "patch_size 2 does not divide image_size 5");
}

static void
test_hidden_not_divisible_by_heads (void)
{
  assert_tiny_config_fails ("\"num_attention_heads\": 3", TSF_ERROR_CONFIG,
      "hidden_size 4 is not divisible by num_attention_heads 3");
}

static void
test_absurd_sizes (void)
{
  assert_tiny_config_fails ("\"hidden_size\": 1000000000000", TSF_ERROR_CONFIG,
      "'hidden_size' must be an integer from 1 to 65536, found 1000000000000");
  assert_tiny_config_fails ("\"intermediate_size\": 4294967297", TSF_ERROR_CONFIG,
      "'intermediate_size'");
  assert_tiny_config_fails ("\"num_hidden_layers\": 100000", TSF_ERROR_CONFIG,
      "'num_hidden_layers'");
  /* each value allowed, their product not */
  assert_tiny_config_fails ("\"image_size\": 8192, \"patch_size\": 1, \"num_frames\": 8",
      TSF_ERROR_CONFIG, "tokens");
}

static void
test_unsupported_values (void)
{
  assert_tiny_config_fails ("\"hidden_act\": \"gelu_new\"", TSF_ERROR_UNSUPPORTED,
      "hidden_act 'gelu_new'");
  assert_tiny_config_fails ("\"attention_type\": \"space_time\"", TSF_ERROR_UNSUPPORTED,
      "attention_type 'space_time'");
}

static void
test_id2label_errors (void)
{
  assert_tiny_config_fails ("\"num_labels\": 2", TSF_ERROR_CONFIG,
      "id2label key '2' is out of range; class ids go from 0 to 1");
  assert_tiny_config_fails ("\"id2label\": {\"0\": \"a\", \"x\": \"b\"}", TSF_ERROR_CONFIG,
      "id2label key 'x' is not a class id");
  assert_tiny_config_fails ("\"id2label\": {\"-1\": \"a\"}", TSF_ERROR_CONFIG,
      "id2label key '-1'");
  assert_tiny_config_fails ("\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"01\": \"c\"}",
      TSF_ERROR_CONFIG, "id2label names class 1 twice");
  assert_tiny_config_fails ("\"id2label\": {}", TSF_ERROR_CONFIG, "'id2label' is empty");
  assert_tiny_config_fails ("\"id2label\": {\"99999999999\": \"a\"}", TSF_ERROR_CONFIG,
      "id2label key '99999999999' is out of range");
}

static void
test_labels_from_sparse_id2label (void)
{
  g_autofree gchar *json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"id2label\": {\"3\": \"d\", \"1\": \"b\"}");
  TsfConfig config;
  g_assert_true (parse (&config, json, NULL));
  g_assert_cmpuint (config.num_labels, ==, 4);
  g_assert_cmpstr (config.labels[0], ==, "LABEL_0");
  g_assert_cmpstr (config.labels[1], ==, "b");
  g_assert_cmpstr (config.labels[2], ==, "LABEL_2");
  g_assert_cmpstr (config.labels[3], ==, "d");
  tsf_config_clear (&config);

  g_free (json);
  json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"num_labels\": 5, \"id2label\": {\"0\": \"a\"}");
  g_assert_true (parse (&config, json, NULL));
  g_assert_cmpuint (config.num_labels, ==, 5);
  g_assert_cmpstr (config.labels[0], ==, "a");
  g_assert_cmpstr (config.labels[4], ==, "LABEL_4");
  tsf_config_clear (&config);
}

static gboolean
parse_preprocessor (TsfConfig *config, const gchar *json, GError **error)
{
  g_autofree gchar *model = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  g_assert_true (parse (config, model, NULL));
  return tsf_config_parse_preprocessor (config, json, strlen (json),
      "preprocessor_config.json", error);
}

static void
test_preprocessor (void)
{
  TsfConfig config;
  GError *error = NULL;
  /* facebook/timesformer-base-finetuned-k400 */
  g_assert_true (parse_preprocessor (&config, "{\"crop_size\": {\"height\": 224, \"width\": "
      "224}, \"do_center_crop\": true, \"do_normalize\": true, \"do_rescale\": true, "
      "\"do_resize\": true, \"image_mean\": [0.45, 0.45, 0.45], \"image_processor_type\": "
      "\"VideoMAEImageProcessor\", \"image_std\": [0.225, 0.225, 0.225], \"resample\": 2, "
      "\"rescale_factor\": 0.00392156862745098, \"size\": {\"shortest_edge\": 256}}", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config.resize_shortest_edge, ==, 256);
  g_assert_cmpuint (config.resize_width, ==, 0);
  g_assert_cmpuint (config.crop_width, ==, 224);
  g_assert_cmpuint (config.crop_height, ==, 224);
  g_assert_cmpfloat (config.image_std[1], ==, 0.225f);
  g_assert_cmpfloat_with_epsilon (config.rescale_factor, 1 / 255.0, 1e-12);
  tsf_config_clear (&config);

  g_assert_true (parse_preprocessor (&config, "{\"size\": {\"height\": 240, \"width\": 320}, "
      "\"crop_size\": 200, \"image_mean\": 0.5, \"image_std\": [0.1, 0.2, 0.3]}", &error));
  g_assert_cmpuint (config.resize_shortest_edge, ==, 0);
  g_assert_cmpuint (config.resize_height, ==, 240);
  g_assert_cmpuint (config.resize_width, ==, 320);
  g_assert_cmpuint (config.crop_width, ==, 200);
  g_assert_cmpuint (config.crop_height, ==, 200);
  g_assert_cmpfloat (config.image_mean[2], ==, 0.5f);
  g_assert_cmpfloat (config.image_std[2], ==, 0.3f);
  tsf_config_clear (&config);

  g_assert_true (parse_preprocessor (&config, "{\"size\": 300, \"do_normalize\": false, "
      "\"do_rescale\": false, \"do_center_crop\": false}", &error));
  g_assert_cmpuint (config.resize_shortest_edge, ==, 300);
  g_assert_cmpfloat (config.image_mean[0], ==, 0.0f);
  g_assert_cmpfloat (config.image_std[0], ==, 1.0f);
  g_assert_cmpfloat (config.rescale_factor, ==, 1.0);
  g_assert_cmpuint (config.crop_width, ==, 0);
  tsf_config_clear (&config);

  g_assert_true (parse_preprocessor (&config, "{\"do_resize\": false}", &error));
  g_assert_cmpuint (config.resize_shortest_edge, ==, 0);
  g_assert_cmpuint (config.resize_width, ==, 0);
  tsf_config_clear (&config);
}

static void
assert_preprocessor_fails (const gchar *json, const gchar *culprit)
{
  TsfConfig config;
  GError *error = NULL;
  g_assert_false (parse_preprocessor (&config, json, &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, culprit);
  /* a failed parse leaves the defaults */
  g_assert_cmpuint (config.resize_shortest_edge, ==, 4);
  g_assert_cmpfloat (config.image_std[0], ==, 0.225f);
  tsf_config_clear (&config);
}

static void
test_preprocessor_errors (void)
{
  assert_preprocessor_fails ("{\"size\": {\"shortest_edge\": 8}, \"image_std\": [0.2, 0, 0.2]}",
      "preprocessor_config.json: 'image_std' must hold numbers from 1e-06 to 1e+06, found 0");
  assert_preprocessor_fails ("{\"image_mean\": [0.5, 0.5]}",
      "'image_mean' must be a number or a list of 3 numbers, found a list");
  assert_preprocessor_fails ("{\"size\": {\"longest_edge\": 8}}", "'size' must be");
  assert_preprocessor_fails ("{\"crop_size\": {\"height\": 8}}", "'crop_size' must be");
  assert_preprocessor_fails ("{\"crop_size\": {\"height\": 0, \"width\": 8}}",
      "'crop_size.height' must be an integer from 1 to 65536, found 0");
  assert_preprocessor_fails ("{\"rescale_factor\": -1}", "'rescale_factor'");
  assert_preprocessor_fails ("{\"do_normalize\": \"yes\"}", "'do_normalize'");
  assert_preprocessor_fails ("{\"size\": ", "invalid JSON");
}

static void
test_sampling (void)
{
  TsfConfig config;
  GError *error = NULL;
  g_autofree gchar *stride = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"sampling\": {\"frame_stride\": 3, \"fps\": 30}");
  g_autofree gchar *duration = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME,
      "\"sampling\": {\"clip_duration\": 1.5}");
  g_autofree gchar *text = NULL;

  /* none stated: the paper's 8x32 at 30 fps */
  g_assert_true (parse (&config, "{}", &error));
  g_assert_cmpint (config.sampling.origin, ==, TSF_SAMPLING_DEFAULT);
  g_assert_cmpfloat_with_epsilon (tsf_config_get_frame_interval (&config), 32 / 30.0, 1e-12);
  text = tsf_sampling_describe (&config);
  g_assert_cmpstr (text, ==, "8x32 at 30 fps (the default: the model states none)");
  g_clear_pointer (&text, g_free);
  tsf_config_clear (&config);

  g_assert_true (parse (&config, stride, &error));
  g_assert_no_error (error);
  g_assert_cmpint (config.sampling.origin, ==, TSF_SAMPLING_STATED);
  g_assert_cmpuint (config.sampling.frame_stride, ==, 3);
  g_assert_cmpfloat_with_epsilon (tsf_config_get_frame_interval (&config), 0.1, 1e-12);
  text = tsf_sampling_describe (&config);
  g_assert_cmpstr (text, ==, "2x3 at 30 fps (stated by the model)");
  g_clear_pointer (&text, g_free);
  g_assert_true (tsf_config_validate (&config, "config.json", &error));
  tsf_config_clear (&config);

  /* the tiny config has 2 frames: 0.75 s each */
  g_assert_true (parse (&config, duration, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config.sampling.frame_stride, ==, 0);
  g_assert_cmpfloat_with_epsilon (tsf_config_get_frame_interval (&config), 0.75, 1e-12);
  text = tsf_sampling_describe (&config);
  g_assert_cmpstr (text, ==, "2 frames over 1.5 s (stated by the model)");
  tsf_config_clear (&config);
}

static void
test_sampling_errors (void)
{
  assert_tiny_config_fails ("\"sampling\": 3", TSF_ERROR_CONFIG,
      "'sampling' must be an object");
  assert_tiny_config_fails ("\"sampling\": {}", TSF_ERROR_CONFIG,
      "'sampling' must state either frame_stride (frames from one sampled frame to the next, "
      "at fps) or clip_duration (seconds one clip covers), not neither");
  assert_tiny_config_fails ("\"sampling\": {\"frame_stride\": 2, \"clip_duration\": 1}",
      TSF_ERROR_CONFIG, "not both");
  assert_tiny_config_fails ("\"sampling\": {\"stride\": 2}", TSF_ERROR_CONFIG,
      "'sampling' has an unknown member 'stride'; expected frame_stride (with fps) or "
      "clip_duration");
  assert_tiny_config_fails ("\"sampling\": {\"frame_stride\": 0}", TSF_ERROR_CONFIG,
      "'sampling.frame_stride' must be an integer from 1 to 10000, found 0");
  assert_tiny_config_fails ("\"sampling\": {\"frame_stride\": 2.5}", TSF_ERROR_CONFIG,
      "'sampling.frame_stride'");
  assert_tiny_config_fails ("\"sampling\": {\"frame_stride\": 2, \"fps\": 0}",
      TSF_ERROR_CONFIG, "'sampling.fps' must be a number above 0 and at most 1000, found 0");
  assert_tiny_config_fails ("\"sampling\": {\"frame_stride\": 2, \"fps\": \"30\"}",
      TSF_ERROR_CONFIG, "'sampling.fps' must be a number");
  assert_tiny_config_fails ("\"sampling\": {\"clip_duration\": -1}", TSF_ERROR_CONFIG,
      "'sampling.clip_duration' must be a number above 0 and at most 3600, found -1");
  assert_tiny_config_fails ("\"sampling\": {\"clip_duration\": 1e9}", TSF_ERROR_CONFIG,
      "'sampling.clip_duration'");
}

static void
test_channel_order (void)
{
  TsfConfig config;
  GError *error = NULL;
  g_autofree gchar *json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);

  g_assert_true (parse (&config, json, &error));
  g_assert_cmpint (config.channel_order, ==, TSF_CHANNEL_ORDER_RGB);
  tsf_config_clear (&config);
  g_assert_true (parse_preprocessor (&config, "{\"channel_order\": \"bgr\"}", &error));
  g_assert_no_error (error);
  g_assert_cmpint (config.channel_order, ==, TSF_CHANNEL_ORDER_BGR);
  tsf_config_clear (&config);
  g_assert_true (parse_preprocessor (&config, "{\"channel_order\": \"rgb\"}", &error));
  g_assert_cmpint (config.channel_order, ==, TSF_CHANNEL_ORDER_RGB);
  tsf_config_clear (&config);
  g_assert_false (parse_preprocessor (&config, "{\"channel_order\": \"BGR\"}", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG,
      "preprocessor_config.json: 'channel_order' must be \"rgb\" or \"bgr\", found \"BGR\"");
  tsf_config_clear (&config);
  g_assert_false (parse_preprocessor (&config, "{\"channel_order\": 1}", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "'channel_order'");
  tsf_config_clear (&config);
}

static void
test_validate_hand_filled (void)
{
  TsfConfig config;
  GError *error = NULL;
  tsf_config_init_defaults (&config);
  g_assert_null (config.labels);
  g_assert_true (tsf_config_validate (&config, "bench.json", &error));
  g_assert_no_error (error);
  config.patch_size = 15;
  g_assert_false (tsf_config_validate (&config, "bench.json", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "bench.json: patch_size 15 does not divide");
  config.patch_size = 16;
  config.attention_type = 7;
  g_assert_false (tsf_config_validate (&config, "bench.json", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "attention_type 7");
  config.attention_type = TSF_ATTENTION_SPACE_ONLY;
  config.num_channels = 0;
  g_assert_false (tsf_config_validate (&config, "bench.json", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "'num_channels'");
  config.num_channels = 3;
  config.rescale_factor = 0.0 / 0.0;
  g_assert_false (tsf_config_validate (&config, "bench.json", &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "'rescale_factor'");
}

static void
test_load_dir (void)
{
  gchar *dir = test_dir_new ();
  TsfConfig config;
  GError *error = NULL;
  g_autofree gchar *config_path = g_build_filename (dir, "config.json", NULL);

  g_assert_false (tsf_config_load_dir (&config, dir, &error));
  assert_tsf_error (error, TSF_ERROR_IO, config_path);

  g_autofree gchar *json = test_tiny_config_json (TSF_ATTENTION_SPACE_ONLY, NULL);
  g_free (test_write_file (dir, "config.json", json, -1));
  g_assert_true (tsf_config_load_dir (&config, dir, &error));
  g_assert_no_error (error);
  g_assert_cmpint (config.attention_type, ==, TSF_ATTENTION_SPACE_ONLY);
  g_assert_cmpuint (config.crop_width, ==, 4);
  tsf_config_clear (&config);

  g_autofree gchar *preprocessor = test_write_file (dir, "preprocessor_config.json",
      "{\"crop_size\": {\"height\": 2, \"width\": 3}}", -1);
  g_assert_true (tsf_config_load_dir (&config, dir, &error));
  g_assert_cmpuint (config.crop_width, ==, 3);
  g_assert_cmpuint (config.crop_height, ==, 2);
  tsf_config_clear (&config);

  g_free (test_write_file (dir, "preprocessor_config.json", "{\"crop_size\": true}", -1));
  g_assert_false (tsf_config_load_dir (&config, dir, &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, preprocessor);
  g_free (test_write_file (dir, "preprocessor_config.json", "{\"size\": {\"shortest_edge\": "
      "\"x\"}}", -1));
  g_assert_false (tsf_config_load_dir (&config, dir, &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, "'size.shortest_edge' must be an integer");
  g_assert_null (config.labels);

  g_free (test_write_file (dir, "config.json", "{\"num_frames\": 0}", -1));
  g_assert_false (tsf_config_load_dir (&config, dir, &error));
  assert_tsf_error (error, TSF_ERROR_CONFIG, config_path);
  test_dir_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/full", test_full_config);
  g_test_add_func ("/config/attention-type-names", test_attention_type_names);
  g_test_add_func ("/config/invalid-json", test_invalid_json);
  g_test_add_func ("/config/wrong-types", test_wrong_types);
  g_test_add_func ("/config/zero-frames", test_zero_frames);
  g_test_add_func ("/config/zero-or-negative-sizes", test_zero_or_negative_sizes);
  g_test_add_func ("/config/patch-not-dividing-image", test_patch_not_dividing_image);
  g_test_add_func ("/config/hidden-not-divisible-by-heads", test_hidden_not_divisible_by_heads);
  g_test_add_func ("/config/absurd-sizes", test_absurd_sizes);
  g_test_add_func ("/config/unsupported-values", test_unsupported_values);
  g_test_add_func ("/config/id2label-errors", test_id2label_errors);
  g_test_add_func ("/config/labels-from-sparse-id2label", test_labels_from_sparse_id2label);
  g_test_add_func ("/config/preprocessor", test_preprocessor);
  g_test_add_func ("/config/preprocessor-errors", test_preprocessor_errors);
  g_test_add_func ("/config/validate-hand-filled", test_validate_hand_filled);
  g_test_add_func ("/config/sampling", test_sampling);
  g_test_add_func ("/config/channel-order", test_channel_order);
  g_test_add_func ("/config/sampling-errors", test_sampling_errors);
  g_test_add_func ("/config/load-dir", test_load_dir);
  return g_test_run ();
}
