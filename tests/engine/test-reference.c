/* The engine against the PyTorch reference: every case of $TSF_TEST_MODELS/cases.json and the
 * Hugging Face cases of seed-cases.json (sparse_local_global, axial) (models, clips and float64
 * logits written by tools/make_test_models.py) must give logits within
 * 1e-4 * max (1, max |expected|), top-k in the order of the expected softmax, and the labels of
 * the model's config.json. Each model is opened once and runs all its clip shapes, then all
 * cases run again in reverse order (prepared shapes reused after others). */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "timesformer.h"
#include "timesformer-npy.h"

#define RELATIVE_TOLERANCE 1e-4

typedef struct {
  gchar *name;
  gchar *model_dir;
  gchar *input_path;
  gchar *expected_path;
  gchar *mask_path;       /* a frame mask (lucidrains cases), or NULL */
  guint frames, height, width;
} ReferenceCase;

static const gchar *models_dir;
static GHashTable *open_models;   /* model dir -> TsfModel */
static gdouble worst_ratio = -1;  /* max |diff| / tolerance over all runs */
static gchar *worst_case;

static void
reference_case_free (ReferenceCase *c)
{
  g_free (c->name);
  g_free (c->model_dir);
  g_free (c->input_path);
  g_free (c->expected_path);
  g_free (c->mask_path);
  g_free (c);
}

static gchar *
member_path (JsonObject *object, const gchar *member)
{
  return g_build_filename (models_dir, json_object_get_string_member (object, member), NULL);
}

/* Adds the cases of `manifest` (in models_dir) to `cases` (seed-cases.json: sparse_local_global
 * and axial Hugging Face folders, lucidrains folders with and without masks). */
static void
read_cases (const gchar *manifest_name, GPtrArray *cases)
{
  g_autofree gchar *manifest = g_build_filename (models_dir, manifest_name, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_file (parser, manifest, &error))
    g_error ("cannot read %s (built by tests/models): %s", manifest, error->message);
  JsonArray *array = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonObject *o = json_array_get_object_element (array, i);
    ReferenceCase *c = g_new0 (ReferenceCase, 1);

    c->name = g_strdup (json_object_get_string_member (o, "name"));
    c->model_dir = member_path (o, "model");
    c->input_path = member_path (o, "input");
    c->expected_path = member_path (o, "expected");
    if (json_object_has_member (o, "mask") && !json_object_get_null_member (o, "mask"))
      c->mask_path = member_path (o, "mask");
    c->frames = json_object_get_int_member (o, "frames");
    c->height = json_object_get_int_member (o, "height");
    c->width = json_object_get_int_member (o, "width");
    g_ptr_array_add (cases, c);
  }
}

static TsfModel *
get_model (const gchar *dir)
{
  TsfModel *model = g_hash_table_lookup (open_models, dir);
  g_autoptr (GError) error = NULL;

  if (model)
    return model;
  model = tsf_model_open (dir, NULL, &error);
  g_assert_no_error (error);
  if (model)
    g_hash_table_insert (open_models, g_strdup (dir), model);
  return model;
}

static gboolean
read_npy (const gchar *path, TsfNpyArray *array)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = tsf_npy_read (path, array, &error);

  g_assert_no_error (error);
  return ok;
}

/* lucidrains: timesformer_pytorch.json's "labels", or LABEL_<i> without them. */
static void
check_lucidrains_labels (const TsfConfig *config, const gchar *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *root;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < config->num_labels; i++) {
    g_autofree gchar *generic = g_strdup_printf ("LABEL_%u", i);
    g_assert_cmpstr (config->labels[i], ==, json_object_has_member (root, "labels")
        ? json_array_get_string_element (json_object_get_array_member (root, "labels"), i)
        : generic);
  }
}

/* The labels of config.json's id2label, which the engine must have read verbatim. */
static void
check_labels (const TsfConfig *config, const gchar *model_dir)
{
  g_autofree gchar *path = g_build_filename (model_dir, "config.json", NULL);
  g_autofree gchar *lucidrains = g_build_filename (model_dir, "timesformer_pytorch.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (g_file_test (lucidrains, G_FILE_TEST_EXISTS)) {
    check_lucidrains_labels (config, lucidrains);
    return;
  }
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  JsonObject *id2label = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (parser)), "id2label");
  g_assert_cmpuint (config->num_labels, ==, json_object_get_size (id2label));
  for (guint i = 0; i < config->num_labels; i++) {
    g_autofree gchar *key = g_strdup_printf ("%u", i);
    g_assert_cmpstr (config->labels[i], ==, json_object_get_string_member (id2label, key));
  }
}

/* Max |logits - expected| must stay within the tolerance; remembers the worst case. */
static void
check_logits (const gchar *name, const gfloat *logits, const gfloat *expected, guint n,
    gdouble tolerance)
{
  gdouble max_diff = 0;
  guint at = 0;

  for (guint i = 0; i < n; i++) {
    gdouble diff = fabs ((gdouble) logits[i] - expected[i]);
    if (!(diff <= max_diff)) {   /* also catches NaN */
      max_diff = diff;
      at = i;
    }
  }
  g_test_message ("%s: max |diff| %.3g at logit %u (tolerance %.3g)", name, max_diff, at,
      tolerance);
  if (max_diff / tolerance > worst_ratio || isnan (max_diff)) {
    worst_ratio = isnan (max_diff) ? INFINITY : max_diff / tolerance;
    g_free (worst_case);
    worst_case = g_strdup_printf ("%s: max |diff| %.3g at logit %u (engine %.7g, expected %.7g),"
        " tolerance %.3g", name, max_diff, at, logits[at], expected[at], tolerance);
  }
  if (!(max_diff <= tolerance))
    g_test_fail_printf ("%s: logit %u is %.7g, expected %.7g (|diff| %.3g > %.3g)", name, at,
        logits[at], expected[at], max_diff, tolerance);
}

/* Top-k of the engine must follow the softmax of the expected logits: same order (up to
 * logits closer than the tolerance), matching probabilities, the model's labels. */
static void
check_top_k (TsfModel *model, const gfloat *logits, const gfloat *expected, gdouble tolerance)
{
  const TsfConfig *config = tsf_model_get_config (model);
  guint n = config->num_labels;
  g_autofree TsfPrediction *top = g_new0 (TsfPrediction, n);
  g_autofree gdouble *probability = g_new (gdouble, n);
  gdouble max = expected[0], sum = 0, total = 0;

  for (guint i = 1; i < n; i++)
    max = MAX (max, expected[i]);
  for (guint i = 0; i < n; i++)
    sum += probability[i] = exp (expected[i] - max);
  for (guint i = 0; i < n; i++)
    probability[i] /= sum;

  g_assert_cmpuint (tsf_model_top_k (model, logits, n, top), ==, n);
  g_assert_cmpuint (tsf_model_top_k (model, logits, 3, top), ==, MIN (3, n));
  g_assert_cmpuint (tsf_model_top_k (model, logits, n + 5, top), ==, n);
  for (guint r = 0; r < n; r++) {
    g_assert_cmpuint (top[r].id, <, n);
    g_assert_cmpfloat_with_epsilon (top[r].score, probability[top[r].id], 2 * tolerance);
    g_assert_cmpstr (top[r].label, ==, config->labels[top[r].id]);
    total += top[r].score;
    if (r > 0) {
      g_assert_cmpfloat (top[r].score, <=, top[r - 1].score);
      /* Expected order, unless the two logits are within the tolerance of each other. */
      g_assert_cmpfloat (expected[top[r].id], <=, expected[top[r - 1].id] + 2 * tolerance);
    }
  }
  g_assert_cmpfloat_with_epsilon (total, 1.0, 1e-4);
}

/* Runs one clip; FALSE (and a test failure) if the files or the engine let it down. */
static gboolean
run_clip (const ReferenceCase *c, TsfModel *model, const TsfNpyArray *input,
    const TsfNpyArray *expected, gfloat *logits)
{
  const TsfConfig *config = tsf_model_get_config (model);
  g_autoptr (GError) error = NULL;

  if (input->ndim != 4 || input->shape[0] != c->frames || input->shape[2] != c->height
      || input->shape[3] != c->width || expected->ndim != 1
      || expected->shape[0] != config->num_labels) {
    g_test_fail_printf ("%s: %s or %s does not match cases.json and the model", c->name,
        c->input_path, c->expected_path);
    return FALSE;
  }
  TsfClipShape shape = { input->shape[0], input->shape[1], input->shape[2], input->shape[3] };
  g_autofree guint8 *mask = NULL;
  gsize mask_frames = 0;

  if (c->mask_path != NULL) {
    g_assert_true (tsf_npy_read_mask (c->mask_path, &mask, &mask_frames, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (mask_frames, ==, c->frames);
  }
  gboolean ran = tsf_model_run_masked (model, input->data, &shape, mask, logits, &error);
  g_assert_no_error (error);
  return ran;
}

static void
run_case (gconstpointer data)
{
  const ReferenceCase *c = data;
  TsfModel *model = get_model (c->model_dir);
  TsfNpyArray input = { 0 }, expected = { 0 };

  if (model && read_npy (c->input_path, &input) && read_npy (c->expected_path, &expected)) {
    const TsfConfig *config = tsf_model_get_config (model);
    g_autofree gfloat *logits = g_new0 (gfloat, config->num_labels);
    gdouble scale = 1;

    check_labels (config, c->model_dir);
    if (run_clip (c, model, &input, &expected, logits)) {
      for (guint i = 0; i < config->num_labels; i++)
        scale = MAX (scale, fabs (expected.data[i]));
      check_logits (c->name, logits, expected.data, config->num_labels,
          RELATIVE_TOLERANCE * scale);
      check_top_k (model, logits, expected.data, RELATIVE_TOLERANCE * scale);
    }
  }
  tsf_npy_clear (&input);
  tsf_npy_clear (&expected);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();   /* report every mismatching case, not only the first */

  models_dir = g_getenv ("TSF_TEST_MODELS");
  if (!models_dir) {
    g_printerr ("TSF_TEST_MODELS is not set: run through meson test (tests/models builds it)\n");
    return 1;
  }
  g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (
      (GDestroyNotify) reference_case_free);
  read_cases ("cases.json", cases);
  read_cases ("seed-cases.json", cases);
  g_assert_cmpuint (cases->len, >, 0);
  open_models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) tsf_model_free);

  for (guint i = 0; i < cases->len; i++) {
    const ReferenceCase *c = g_ptr_array_index (cases, i);
    g_autofree gchar *path = g_strdup_printf ("/reference/%s", c->name);
    g_test_add_data_func (path, c, run_case);
  }
  for (guint i = cases->len; i-- > 0;) {
    const ReferenceCase *c = g_ptr_array_index (cases, i);
    g_autofree gchar *path = g_strdup_printf ("/reference/again/%s", c->name);
    g_test_add_data_func (path, c, run_case);
  }

  int status = g_test_run ();
  if (worst_case)
    g_print ("worst case: %s (%.3g of the tolerance)\n", worst_case, worst_ratio);
  g_hash_table_unref (open_models);
  g_free (worst_case);
  return status;
}
