/* The clip shapes of the paper's TimeSformer-HR (16 frames of 448x448: a 28x28 grid, 12545
 * tokens) and TimeSformer-L (96 frames of 224x224: 18817 tokens) run: random weights, one
 * layer and hidden size 192 (3 heads of 64, as the hub models' head size) so the test takes
 * seconds; the full-size figures are in docs/performance.md. Each gives finite logits, the same
 * ones twice, and buffers of at least the hidden states the shape needs. */
#include <math.h>

#include "timesformer.h"
#include "test-files.h"
#include "tsf-config.h"

typedef struct {
  const gchar *name;
  guint frames, image_size;
} HubShape;

static const HubShape hub_shapes[] = {
  { "hr", 16, 448 },
  { "large", 96, 224 },
};

static TsfModel *
reduced_model (const HubShape *hub)
{
  TsfConfig config;
  TsfModel *model;

  tsf_config_init_defaults (&config);
  config.num_frames = hub->frames;
  config.image_size = hub->image_size;
  config.hidden_size = 192;
  config.num_attention_heads = 3;
  config.intermediate_size = 768;
  config.num_hidden_layers = 1;
  config.num_labels = 400;
  model = test_random_model (&config, 3, NULL);
  tsf_config_clear (&config);
  return model;
}

static void
test_hub_shape_runs (gconstpointer data)
{
  const HubShape *hub = data;
  TsfModel *model = reduced_model (hub);
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { hub->frames, 3, hub->image_size, hub->image_size };
  gsize n = (gsize) shape.frames * shape.channels * shape.height * shape.width;
  g_autofree gfloat *clip = g_new (gfloat, n);
  g_autofree gfloat *first = g_new (gfloat, c->num_labels);
  g_autofree gfloat *second = g_new (gfloat, c->num_labels);
  g_autoptr (GError) error = NULL;
  guint64 tokens = 1 + (guint64) hub->frames * (hub->image_size / 16) * (hub->image_size / 16);

  for (gsize i = 0; i < n; i++)
    clip[i] = (gfloat) ((i * 7919) % 1000) / 500.0f - 1.0f;
  g_assert_true (tsf_model_run (model, clip, &shape, first, &error));
  g_assert_no_error (error);
  g_assert_true (tsf_model_run (model, clip, &shape, second, &error));
  for (guint i = 0; i < c->num_labels; i++) {
    g_assert_true (isfinite (first[i]));
    g_assert_cmpfloat (first[i], ==, second[i]);
  }
  /* three hidden states of [tokens, hidden] at least */
  g_assert_cmpuint (tsf_model_get_buffer_bytes (model), >=, 3 * tokens * c->hidden_size * 4);
  g_test_message ("%s: %" G_GUINT64_FORMAT " tokens, buffers %.1f MB", hub->name, tokens,
      tsf_model_get_buffer_bytes (model) / 1e6);
  tsf_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (hub_shapes); i++) {
    g_autofree gchar *path = g_strdup_printf ("/hub-shapes/%s", hub_shapes[i].name);
    g_test_add_data_func (path, &hub_shapes[i], test_hub_shape_runs);
  }
  return g_test_run ();
}
