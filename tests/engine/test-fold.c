/* The divided scheme's temporal output layers (output.dense then temporal_dense) folded into
 * one at bf16 and int8 (docs/engine.md, "Precision"): the folded layer computes the two layers'
 * composition, and the bf16 and int8 plans run one linear layer fewer per block (f32 and the
 * other schemes as many as before). */
#include <math.h>

#include "test-files.h"
#include "timesformer-bench.h"
#include "tsf-dnnl.h"

#define IN 24
#define MID 40
#define OUT 16

static void
fill_random (GRand *rand, gfloat *x, gsize n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = (gfloat) g_rand_double_range (rand, -1, 1);
}

/* y [out] = w [out, in] x + b, in double. */
static void
linear (const gfloat *w, const gfloat *b, const gdouble *x, guint in, guint out, gdouble *y)
{
  for (guint o = 0; o < out; o++) {
    y[o] = b[o];
    for (guint i = 0; i < in; i++)
      y[o] += (gdouble) w[(gsize) o * in + i] * x[i];
  }
}

static void
test_product (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (15);
  gfloat w1[MID * IN], b1[MID], w2[OUT * MID], b2[OUT], w[OUT * IN], b[OUT], x[IN];
  gdouble xd[IN], hidden[MID], composed[OUT], folded[OUT];
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  g_autoptr (GError) error = NULL;

  fill_random (rand, w1, G_N_ELEMENTS (w1));
  fill_random (rand, b1, G_N_ELEMENTS (b1));
  fill_random (rand, w2, G_N_ELEMENTS (w2));
  fill_random (rand, b2, G_N_ELEMENTS (b2));
  g_assert_true (tsf_dnnl_engine_new (&engine, &stream, &error));
  g_assert_true (tsf_dnnl_fold_linears (engine, stream, IN, MID, OUT, w1, b1, w2, b2, w, b,
          &error));
  g_assert_no_error (error);
  dnnl_stream_destroy (stream);
  dnnl_engine_destroy (engine);

  for (guint k = 0; k < 8; k++) {
    fill_random (rand, x, IN);
    for (guint i = 0; i < IN; i++)
      xd[i] = x[i];
    linear (w1, b1, xd, IN, MID, hidden);
    linear (w2, b2, hidden, MID, OUT, composed);
    linear (w, b, xd, IN, OUT, folded);
    /* float32 products of MID terms of magnitude <= 1 (the sums reach ~MID) */
    for (guint o = 0; o < OUT; o++)
      g_assert_cmpfloat (fabs (folded[o] - composed[o]), <=, 1e-5 * MID);
  }
}

/* The GEMMs one clip of `model` runs, summed over the shapes (with their counts). */
static guint
linear_layers (const TsfModel *model)
{
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  TsfGemmShape shapes[TSF_MAX_GEMM_SHAPES];
  guint n = tsf_model_linear_shapes (model, &shape, shapes), layers = 0;

  for (guint i = 0; i < n; i++)
    layers += shapes[i].count;
  return layers;
}

static void
test_plans (void)
{
  static const TsfAttentionType schemes[] = { TSF_ATTENTION_DIVIDED_SPACE_TIME,
    TSF_ATTENTION_JOINT_SPACE_TIME, TSF_ATTENTION_SPACE_ONLY, TSF_ATTENTION_AXIAL,
    TSF_ATTENTION_SPARSE_LOCAL_GLOBAL };
  static const TsfPrecision reduced[] = { TSF_PRECISION_BF16, TSF_PRECISION_INT8 };

  for (guint s = 0; s < G_N_ELEMENTS (schemes); s++) {
    TsfModelOptions options;
    TsfModel *model;
    guint f32_layers, layers = 2;   /* test_small_config */
    gboolean divided = schemes[s] == TSF_ATTENTION_DIVIDED_SPACE_TIME;
    gdouble f32_flops, folded;
    const TsfConfig *c;
    TsfClipShape shape;

    tsf_model_options_init (&options);
    model = test_small_random_model_with_options (schemes[s], &options);
    c = tsf_model_get_config (model);
    shape = (TsfClipShape) { c->num_frames, c->num_channels, c->image_size, c->image_size };
    /* one [frames x patches, hidden] x [hidden, hidden] GEMM per layer */
    folded = 2.0 * c->num_frames * (c->image_size / c->patch_size)
        * (c->image_size / c->patch_size) * c->hidden_size * c->hidden_size * layers;
    f32_layers = linear_layers (model);
    f32_flops = tsf_model_get_flops (model, &shape);
    tsf_model_free (model);
    for (guint p = 0; p < G_N_ELEMENTS (reduced); p++) {
      options.precision = reduced[p];
      model = test_small_random_model_with_options (schemes[s], &options);
      g_assert_cmpuint (linear_layers (model), ==, f32_layers - (divided ? layers : 0));
      g_assert_cmpfloat (tsf_model_get_flops (model, &shape), ==,
          f32_flops - (divided ? folded : 0));
      tsf_model_free (model);
    }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fold/product", test_product);
  g_test_add_func ("/fold/plans", test_plans);
  return g_test_run ();
}
