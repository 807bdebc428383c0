/* Models saved at int8 (`convert --precision int8`, docs/model-format.md): the round trip runs
 * exactly as quantising at load does, and an inconsistent int8 file is refused with an error
 * that names the tensor. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "test-files.h"
#include "timesformer-bench.h"
#include "timesformer-convert.h"

#define FC1 "timesformer.encoder.layer.0.intermediate.dense.weight"
#define FC1_SCALE FC1 "_scale"

typedef struct {
  gchar *dir;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = test_dir_new ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  test_dir_free (f->dir);
}

static TsfModel *
open_at (const gchar *path, TsfPrecision precision, GError **error)
{
  TsfModelOptions options;

  tsf_model_options_init (&options);
  options.precision = precision;
  return tsf_model_open (path, &options, error);
}

static void
run (TsfModel *model, gfloat *logits)
{
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  gsize n = (gsize) shape.frames * shape.channels * shape.height * shape.width;
  g_autofree gfloat *clip = g_new (gfloat, n);
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < n; i++)
    clip[i] = (gfloat) ((i * 37) % 23) / 11.0f - 1.0f;
  g_assert_true (tsf_model_run (model, clip, &shape, logits, &error));
  g_assert_no_error (error);
}

/* The logits of `path` opened at int8 on the test clip. */
static void
logits_at_int8 (const gchar *path, gfloat *logits)
{
  g_autoptr (GError) error = NULL;
  TsfModel *model = open_at (path, TSF_PRECISION_INT8, &error);

  g_assert_no_error (error);
  run (model, logits);
  tsf_model_free (model);
}

#define TEMPORAL_OUTPUT "timesformer.encoder.layer.0.temporal_output"
#define TEMPORAL_PROJ "timesformer.encoder.layer.0.temporal_attention.output.dense"
#define TEMPORAL_DENSE "timesformer.encoder.layer.0.temporal_dense"

/* Whether dir/model.safetensors names `tensor` (in its header). */
static gboolean
saved_has (const gchar *dir, const gchar *tensor)
{
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree gchar *contents = NULL;
  g_autofree gchar *quoted = g_strdup_printf ("\"%s\"", tensor);
  gsize length;
  guint64 header;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (length, >=, 8);
  memcpy (&header, contents, 8);
  g_assert_cmpuint (header, <=, length - 8);
  return g_strstr_len (contents + 8, header, quoted) != NULL;
}

/* GEMMs of one clip of `path` at int8 with the temporal output's shape (one per layer folded,
 * two otherwise). */
static guint
temporal_output_gemms (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  TsfModel *model = open_at (path, TSF_PRECISION_INT8, &error);
  const TsfConfig *c;
  TsfClipShape shape;
  TsfGemmShape shapes[TSF_MAX_GEMM_SHAPES];
  guint n, count = 0, patches;

  g_assert_no_error (error);
  c = tsf_model_get_config (model);
  shape = (TsfClipShape) { c->num_frames, c->num_channels, c->image_size, c->image_size };
  patches = (c->image_size / c->patch_size) * (c->image_size / c->patch_size);
  n = tsf_model_linear_shapes (model, &shape, shapes);
  for (guint i = 0; i < n; i++)
    if (shapes[i].m == patches * c->num_frames && shapes[i].k == c->hidden_size
        && shapes[i].n == c->hidden_size)
      count += shapes[i].count;
  tsf_model_free (model);
  return count;
}

/* The tiny model written as float32, converted at int8. */
static gchar *
write_converted (Fixture *f, const gchar *name)
{
  g_autofree gchar *source = g_build_filename (f->dir, "f32", NULL);
  g_autofree gchar *config = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  g_autoptr (GArray) tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  gchar *out = g_build_filename (f->dir, name, NULL);
  g_autoptr (GError) error = NULL;
  TsfModelOptions options;

  g_mkdir (source, 0755);
  test_write_model_dir (source, config, tensors);
  tsf_model_options_init (&options);
  options.precision = TSF_PRECISION_INT8;
  g_assert_true (tsf_convert_to_hf (source, &options, out, &error));
  g_assert_no_error (error);
  return out;
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autofree gchar *source = NULL;
  g_autofree gchar *saved = write_converted (f, "int8");
  g_autofree gchar *again = g_build_filename (f->dir, "int8-again", NULL);
  g_autoptr (GError) error = NULL;
  gfloat at_load[3], from_file[3];
  TsfModelOptions options;
  TsfModel *model;

  source = g_build_filename (f->dir, "f32", NULL);
  logits_at_int8 (source, at_load);
  logits_at_int8 (saved, from_file);
  g_assert_cmpmem (at_load, sizeof at_load, from_file, sizeof from_file);
  /* the temporal output layers saved folded into one, as loading at int8 runs them */
  g_assert_true (saved_has (saved, TEMPORAL_OUTPUT ".weight"));
  g_assert_true (saved_has (saved, TEMPORAL_OUTPUT ".weight_scale"));
  g_assert_true (saved_has (saved, TEMPORAL_OUTPUT ".bias"));
  g_assert_false (saved_has (saved, TEMPORAL_PROJ ".weight"));
  g_assert_false (saved_has (saved, TEMPORAL_DENSE ".bias"));
  g_assert_cmpuint (temporal_output_gemms (source), ==, 1);
  g_assert_cmpuint (temporal_output_gemms (saved), ==, 1);

  /* auto runs it at int8; f32 and bf16 refuse it (its float weights are gone) */
  model = open_at (saved, TSF_PRECISION_AUTO, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tsf_model_get_precision (model), ==, TSF_PRECISION_INT8);
  tsf_model_free (model);
  g_assert_null (open_at (saved, TSF_PRECISION_F32, &error));
  assert_tsf_error (error, TSF_ERROR_UNSUPPORTED, "saved at int8");
  g_assert_null (open_at (saved, TSF_PRECISION_BF16, &error));
  assert_tsf_error (error, TSF_ERROR_UNSUPPORTED, "not bf16");

  /* converting it again at int8 keeps it; at f32 is refused */
  tsf_model_options_init (&options);
  options.precision = TSF_PRECISION_INT8;
  g_assert_true (tsf_convert_to_hf (saved, &options, again, &error));
  g_assert_no_error (error);
  logits_at_int8 (again, from_file);
  g_assert_cmpmem (at_load, sizeof at_load, from_file, sizeof from_file);
  options.precision = TSF_PRECISION_F32;
  g_assert_false (tsf_convert_to_hf (saved, &options, again, &error));
  assert_tsf_error (error, TSF_ERROR_UNSUPPORTED, "float weights are gone");
}

/* The tiny divided model with all the layers' linear weights in I8 (and their scales). */
static GArray *
tiny_int8_tensors (void)
{
  GArray *tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  guint n = tensors->len;

  for (guint i = 0; i < n; i++) {
    TestTensor *t = &g_array_index (tensors, TestTensor, i);
    if (g_str_has_prefix (t->name, "timesformer.encoder.layer.") && t->ndim == 2) {
      g_autofree gchar *scale = g_strconcat (t->name, "_scale", NULL);
      gint64 out = t->shape[0];
      t->dtype = "I8";
      test_add_tensor (tensors, scale, "F32", 1, &out);
    }
  }
  return tensors;
}

/* A model saved at int8 before the fold (temporal output.dense and temporal_dense apart) runs
 * them as two layers, as it did; converting it again keeps it so. */
static void
test_saved_before_fold (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  g_autoptr (GArray) tensors = tiny_int8_tensors ();
  g_autofree gchar *saved = g_build_filename (f->dir, "before-fold", NULL);
  g_autofree gchar *again = g_build_filename (f->dir, "again", NULL);
  g_autoptr (GError) error = NULL;
  gfloat before[3], converted[3];
  TsfModelOptions options;

  g_mkdir (saved, 0755);
  test_write_model_dir (saved, config, tensors);
  g_assert_cmpuint (temporal_output_gemms (saved), ==, 2);
  logits_at_int8 (saved, before);
  for (guint i = 0; i < G_N_ELEMENTS (before); i++)
    g_assert_true (isfinite (before[i]));

  tsf_model_options_init (&options);
  options.precision = TSF_PRECISION_INT8;
  g_assert_true (tsf_convert_to_hf (saved, &options, again, &error));
  g_assert_no_error (error);
  g_assert_false (saved_has (again, TEMPORAL_OUTPUT ".weight"));
  g_assert_cmpuint (temporal_output_gemms (again), ==, 2);
  logits_at_int8 (again, converted);
  g_assert_cmpmem (before, sizeof before, converted, sizeof converted);
}

/* temporal_output in float32 (the rest too): a fold exists only at int8. */
static void
test_folded_float_refused (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  g_autoptr (GArray) tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  g_autoptr (GError) error = NULL;
  const gchar *const removed[] = { TEMPORAL_PROJ ".weight", TEMPORAL_PROJ ".bias",
    TEMPORAL_DENSE ".weight", TEMPORAL_DENSE ".bias" };

  for (guint i = 0; i < G_N_ELEMENTS (removed); i++)
    test_remove_tensor (tensors, removed[i]);
  test_add_tensor (tensors, TEMPORAL_OUTPUT ".weight", "F32", 2, (gint64[]) { 4, 4 });
  test_add_tensor (tensors, TEMPORAL_OUTPUT ".bias", "F32", 1, (gint64[]) { 4 });
  test_write_model_dir (f->dir, config, tensors);
  g_assert_null (open_at (f->dir, TSF_PRECISION_F32, &error));
  assert_tsf_error (error, TSF_ERROR_TENSOR, "only in a model saved at int8");
}

/* The tiny model with its first MLP weight in I8, changed by `edit`; opening it fails with
 * `code` and an error mentioning `culprit`. */
static void
check_refused (Fixture *f, void (*edit) (GArray *tensors), const gchar *culprit)
{
  g_autofree gchar *config = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  g_autoptr (GArray) tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  g_autoptr (GError) error = NULL;

  test_find_tensor (tensors, FC1)->dtype = "I8";
  test_add_tensor (tensors, FC1_SCALE, "F32", 1, (gint64[]) { 8 });
  edit (tensors);
  test_write_model_dir (f->dir, config, tensors);
  g_assert_null (open_at (f->dir, TSF_PRECISION_INT8, &error));
  assert_tsf_error (error, TSF_ERROR_TENSOR, culprit);
}

static void
no_scale (GArray *tensors)
{
  test_remove_tensor (tensors, FC1_SCALE);
}

static void
scale_count (GArray *tensors)
{
  test_find_tensor (tensors, FC1_SCALE)->shape[0] = 7;
}

static void
scale_dtype (GArray *tensors)
{
  test_find_tensor (tensors, FC1_SCALE)->dtype = "BF16";
}

static void
int8_norm (GArray *tensors)
{
  test_find_tensor (tensors, "timesformer.layernorm.weight")->dtype = "I8";
}

static void
only_one (GArray *tensors)
{
}

static void
stray_scale (GArray *tensors)
{
  test_find_tensor (tensors, FC1)->dtype = "F32";
}

static void
test_inconsistent_files (Fixture *f, gconstpointer data)
{
  check_refused (f, no_scale, FC1_SCALE "', F32 of shape [8]");
  check_refused (f, scale_count, "found F32 of shape [7]");
  check_refused (f, scale_dtype, "found BF16");
  check_refused (f, int8_norm, "'timesformer.layernorm.weight' has dtype I8");
  /* all of the layers' linear weights are I8, or none */
  check_refused (f, only_one, "is int8 but");
  check_refused (f, stray_scale, "unexpected tensor '" FC1_SCALE "'");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/quantized-files/round-trip", Fixture, NULL, fixture_set_up, test_round_trip,
      fixture_tear_down);
  g_test_add ("/quantized-files/inconsistent", Fixture, NULL, fixture_set_up,
      test_inconsistent_files, fixture_tear_down);
  g_test_add ("/quantized-files/saved-before-fold", Fixture, NULL, fixture_set_up,
      test_saved_before_fold, fixture_tear_down);
  g_test_add ("/quantized-files/folded-float-refused", Fixture, NULL, fixture_set_up,
      test_folded_float_refused, fixture_tear_down);
  return g_test_run ();
}
