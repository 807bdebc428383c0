/* What a clip shape may cost and what a clip may hold: the memory of a shape is computed and
 * bounded (max_clip_bytes) before anything is allocated, random weights too; thread counts
 * are range-checked; NaN and infinities in a clip, and logits that are not finite, are
 * errors. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "timesformer.h"
#include "test-files.h"
#include "tsf-config.h"

#define SMALL_CLIP { 4, 3, 32, 32 }

/* The config of issue #18: inside every config bound, but 2^20 tokens in one frame. */
static TsfModel *
huge_grid_model (TsfAttentionType attention)
{
  TsfConfig config;
  TsfModel *model;

  tsf_config_init_defaults (&config);
  config.image_size = 2048;
  config.patch_size = 2;
  config.num_frames = 1;
  config.hidden_size = 8;
  config.num_attention_heads = 2;
  config.intermediate_size = 8;
  config.num_hidden_layers = 1;
  config.attention_type = attention;
  model = test_random_model (&config, 1, NULL);
  tsf_config_clear (&config);
  return model;
}

static void
test_huge_attention_refused (gconstpointer data)
{
  TsfAttentionType attention = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  TsfModel *model = huge_grid_model (attention);
  TsfClipShape shape = { 1, 3, 2048, 2048 };

  /* 2^20 tokens attending to each other: terabytes of scores */
  g_assert_false (tsf_model_prepare (model, &shape, &error));
  assert_tsf_error (error, TSF_ERROR_MEMORY, "attention scores 4.4 TB");
  g_assert_cmpuint (tsf_model_get_buffer_bytes (model), ==, 0);
  tsf_model_free (model);
}

static void
test_bound_is_exact (void)
{
  g_autoptr (GError) error = NULL;
  TsfModel *model = test_small_random_model (TSF_ATTENTION_DIVIDED_SPACE_TIME);
  TsfClipShape shape = SMALL_CLIP;
  TsfSessionOptions options = { 0 };
  TsfSession *session;
  guint64 needed;

  g_assert_true (tsf_model_prepare (model, &shape, &error));
  needed = tsf_model_get_buffer_bytes (model);
  g_assert_cmpuint (needed, >, 0);

  options.max_clip_bytes = needed;
  session = tsf_session_new (model, &options, &error);
  g_assert_true (tsf_session_prepare (session, &shape, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tsf_session_get_buffer_bytes (session), ==, needed);
  tsf_session_free (session);

  options.max_clip_bytes = needed - 1;
  session = tsf_session_new (model, &options, &error);
  g_assert_false (tsf_session_prepare (session, &shape, &error));
  g_autofree gchar *bound = g_strdup_printf ("is %.1f kB (%" G_GUINT64_FORMAT " bytes)",
      (needed - 1) / 1000.0, needed - 1);
  assert_tsf_error (error, TSF_ERROR_MEMORY, bound);
  g_assert_cmpuint (tsf_session_get_buffer_bytes (session), ==, 0);
  tsf_session_free (session);
  tsf_model_free (model);
}

static void
test_model_option_bounds_default_session (void)
{
  g_autoptr (GError) error = NULL;
  TsfModelOptions options = { .max_clip_bytes = 1000 };
  TsfModel *model = test_small_random_model_with_options (TSF_ATTENTION_JOINT_SPACE_TIME,
      &options);
  TsfClipShape shape = SMALL_CLIP;

  g_assert_false (tsf_model_prepare (model, &shape, &error));
  assert_tsf_error (error, TSF_ERROR_MEMORY, "the bound (max_clip_bytes");
  tsf_model_free (model);
}

static void
test_random_weights_bounded (void)
{
  g_autoptr (GError) error = NULL;
  TsfConfig config;

  tsf_config_init_defaults (&config);
  config.hidden_size = 65536;
  config.num_attention_heads = 1024;
  config.intermediate_size = 1 << 18;
  config.num_hidden_layers = 1024;
  g_assert_null (tsf_model_new_random (&config, 1, NULL, &error));
  assert_tsf_error (error, TSF_ERROR_MEMORY, "random weights for this config need");
}

static void
test_threads_range (void)
{
  g_autoptr (GError) error = NULL;
  TsfModel *model = test_small_random_model (TSF_ATTENTION_SPACE_ONLY);
  const gint bad[] = { -1, TSF_MAX_THREADS + 1, 65536, G_MININT };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    TsfSessionOptions options = { .threads = bad[i] };
    g_assert_null (tsf_session_new (model, &options, &error));
    assert_tsf_error (error, TSF_ERROR_INPUT, "threads must be from 0 (all cores) to 1024");
    g_assert_false (tsf_model_set_threads (model, bad[i], &error) && tsf_model_prepare (model,
            &(TsfClipShape) SMALL_CLIP, &error));
    assert_tsf_error (error, TSF_ERROR_INPUT, "threads must be from 0");
    g_assert_true (tsf_model_set_threads (model, 1, &error));
  }
  TsfSessionOptions options = { .threads = TSF_MAX_THREADS };
  TsfSession *session = tsf_session_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_false (tsf_session_set_threads (session, -1, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "found -1");
  g_assert_cmpint (tsf_session_get_threads (session), ==, TSF_MAX_THREADS);
  tsf_session_free (session);
  tsf_model_free (model);
}

static gfloat *
clip_new (const TsfClipShape *shape, gsize *n)
{
  gfloat *clip;

  *n = (gsize) shape->frames * shape->channels * shape->height * shape->width;
  clip = g_new (gfloat, *n);
  for (gsize i = 0; i < *n; i++)
    clip[i] = sinf (i * 0.37f);
  return clip;
}

static void
test_non_finite_clip (void)
{
  g_autoptr (GError) error = NULL;
  TsfModel *model = test_small_random_model (TSF_ATTENTION_DIVIDED_SPACE_TIME);
  TsfClipShape shape = SMALL_CLIP;
  gsize n;
  g_autofree gfloat *clip = clip_new (&shape, &n);
  gfloat logits[5];
  /* frame 1, channel 2, row 3, column 4 */
  gsize at = ((1 * 3 + 2) * 32 + 3) * 32 + 4;

  clip[at] = NAN;
  g_assert_false (tsf_model_run (model, clip, &shape, logits, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "NaN at frame 1, channel 2, row 3, column 4");
  clip[at] = -INFINITY;
  g_assert_false (tsf_model_run (model, clip, &shape, logits, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "an infinity at frame 1");
  clip[at] = 0;
  g_assert_true (tsf_model_run (model, clip, &shape, logits, &error));
  g_assert_no_error (error);

  tsf_model_free (model);
}

/* Sets element 0 of tensor `name` of a safetensors file (F32) to `value`. */
static void
poke_tensor (GBytes *file, const gchar *name, gfloat value)
{
  gsize size;
  guint8 *data = (guint8 *) g_bytes_get_data (file, &size);
  guint64 header = 0;
  g_autoptr (JsonParser) parser = json_parser_new ();

  for (guint i = 0; i < 8; i++)
    header |= (guint64) data[i] << (8 * i);
  g_assert_true (json_parser_load_from_data (parser, (const gchar *) data + 8, header, NULL));
  JsonObject *entry = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (parser)), name);
  gint64 begin = json_array_get_int_element (json_object_get_array_member (entry,
          "data_offsets"), 0);
  g_assert_cmpuint (8 + header + begin + sizeof value, <=, size);
  memcpy (data + 8 + header + begin, &value, sizeof value);
}

static void
test_non_finite_logits (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  g_autofree gchar *config = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  g_autoptr (GBytes) weights = test_checkpoint_bytes (tensors);
  gchar *dir = test_dir_new ();
  TsfClipShape shape = { 2, 3, 4, 4 };
  gsize n, size;
  g_autofree gfloat *clip = clip_new (&shape, &n);
  gfloat logits[3];

  poke_tensor (weights, "classifier.bias", NAN);
  g_free (test_write_file (dir, "config.json", config, -1));
  const void *bytes = g_bytes_get_data (weights, &size);
  g_free (test_write_file (dir, "model.safetensors", bytes, size));
  TsfModel *model = tsf_model_open (dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (tsf_model_run (model, clip, &shape, logits, &error));
  assert_tsf_error (error, TSF_ERROR_NON_FINITE, "1 of the 3 logits are NaN or infinite");
  tsf_model_free (model);
  test_dir_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/limits/divided/huge-attention-refused",
      GINT_TO_POINTER (TSF_ATTENTION_DIVIDED_SPACE_TIME), test_huge_attention_refused);
  g_test_add_data_func ("/limits/joint/huge-attention-refused",
      GINT_TO_POINTER (TSF_ATTENTION_JOINT_SPACE_TIME), test_huge_attention_refused);
  g_test_add_data_func ("/limits/space-only/huge-attention-refused",
      GINT_TO_POINTER (TSF_ATTENTION_SPACE_ONLY), test_huge_attention_refused);
  g_test_add_func ("/limits/bound-is-exact", test_bound_is_exact);
  g_test_add_func ("/limits/model-option-bounds-default-session",
      test_model_option_bounds_default_session);
  g_test_add_func ("/limits/random-weights-bounded", test_random_weights_bounded);
  g_test_add_func ("/limits/threads-range", test_threads_range);
  g_test_add_func ("/limits/non-finite-clip", test_non_finite_clip);
  g_test_add_func ("/limits/non-finite-logits", test_non_finite_logits);
  return g_test_run ();
}
