/* bf16 and int8 against f32 on the generated reference models (tests/models): over many random
 * clips, the relative logit error (|l - l_f32| / |l_f32|, L2) and the top-1 agreement, each
 * against its bound (docs/engine.md, "Precision"). Prints the figures. */
#include <math.h>
#include <string.h>

#include "timesformer.h"

#define CLIPS 48

typedef struct {
  TsfPrecision precision;
  gdouble max_mean_error;    /* mean relative logit error over the clips */
  gdouble max_error;         /* worst clip */
  gdouble min_agreement;     /* top-1 equal to f32's */
} Bound;

/* Measured (docs/engine.md): bf16 mean <= 0.006, max <= 0.009, agreement >= 46/48; int8 mean
 * <= 0.026, max <= 0.048, agreement >= 44/48. Random weights give near-tied logits, so the top-1
 * of a few clips flips on small errors. */
static const Bound bounds[] = {
  { TSF_PRECISION_BF16, 0.015, 0.03, 0.90 },
  { TSF_PRECISION_INT8, 0.05, 0.10, 0.85 },
};

static const gchar *const models[] = { "divided", "joint", "space_only", "divided_hd64" };

static TsfModel *
open_at (const gchar *path, TsfPrecision precision)
{
  TsfModelOptions options;
  GError *error = NULL;
  TsfModel *model;

  tsf_model_options_init (&options);
  options.precision = precision;
  model = tsf_model_open (path, &options, &error);
  if (model == NULL)
    g_error ("%s at %s: %s", path, tsf_precision_to_string (precision), error->message);
  g_assert_cmpint (tsf_model_get_precision (model), ==, precision);
  return model;
}

static guint
argmax (const gfloat *x, guint n)
{
  guint best = 0;

  for (guint i = 1; i < n; i++)
    best = x[i] > x[best] ? i : best;
  return best;
}

static void
run (TsfModel *model, const gfloat *clip, const TsfClipShape *shape, gfloat *logits)
{
  GError *error = NULL;

  if (!tsf_model_run (model, clip, shape, logits, &error))
    g_error ("%s", error->message);
}

/* Clip `seed`: values of a normalised image (roughly N(0, 1), as after mean/std). */
static void
random_clip (gfloat *clip, gsize n, guint seed)
{
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < n; i++)
    clip[i] = (gfloat) (g_rand_double_range (rand, -1, 1) + g_rand_double_range (rand, -1, 1)
        + g_rand_double_range (rand, -1, 1));
  g_rand_free (rand);
}

static void
check_model (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  TsfModel *reference = open_at (path, TSF_PRECISION_F32);
  const TsfConfig *c = tsf_model_get_config (reference);
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  gsize n = (gsize) shape.frames * shape.channels * shape.height * shape.width;
  g_autofree gfloat *clip = g_new (gfloat, n);
  g_autofree gfloat *expected = g_new (gfloat, c->num_labels);
  g_autofree gfloat *logits = g_new (gfloat, c->num_labels);

  for (guint b = 0; b < G_N_ELEMENTS (bounds); b++) {
    TsfModel *model = open_at (path, bounds[b].precision);
    gdouble sum = 0, worst = 0;
    guint agree = 0;
    for (guint k = 0; k < CLIPS; k++) {
      gdouble diff = 0, norm = 0, error;
      random_clip (clip, n, k + 1);
      run (reference, clip, &shape, expected);
      run (model, clip, &shape, logits);
      for (guint i = 0; i < c->num_labels; i++) {
        diff += (logits[i] - expected[i]) * (logits[i] - expected[i]);
        norm += expected[i] * expected[i];
      }
      error = sqrt (diff / MAX (norm, 1e-30));
      sum += error;
      worst = MAX (worst, error);
      agree += argmax (logits, c->num_labels) == argmax (expected, c->num_labels);
    }
    g_print ("%-12s %-4s relative logit error mean %.4f max %.4f, top-1 agreement %u/%u\n",
        name, tsf_precision_to_string (bounds[b].precision), sum / CLIPS, worst, agree, CLIPS);
    g_assert_cmpfloat (sum / CLIPS, <=, bounds[b].max_mean_error);
    g_assert_cmpfloat (worst, <=, bounds[b].max_error);
    g_assert_cmpfloat ((gdouble) agree / CLIPS, >=, bounds[b].min_agreement);
    tsf_model_free (model);
  }
  tsf_model_free (reference);
}

static void
test_precisions (void)
{
  const gchar *dir = g_getenv ("TSF_TEST_MODELS");

  g_assert_nonnull (dir);
  for (guint i = 0; i < G_N_ELEMENTS (models); i++)
    check_model (dir, models[i]);
}

/* f32 is the default, auto resolves to a real precision, a bad name is refused by name. */
static void
test_names (void)
{
  GError *error = NULL;
  TsfPrecision p;

  for (p = TSF_PRECISION_F32; p <= TSF_PRECISION_AUTO; p++) {
    TsfPrecision parsed;
    g_assert_true (tsf_precision_from_string (tsf_precision_to_string (p), &parsed, NULL));
    g_assert_cmpint (parsed, ==, p);
  }
  g_assert_false (tsf_precision_from_string ("fp64", &p, &error));
  g_assert_nonnull (strstr (error->message, "\"fp64\""));
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/precision/names", test_names);
  g_test_add_func ("/precision/against-f32", test_precisions);
  return g_test_run ();
}
