/* tsf-family-lucidrains.c: lucidrains' TimeSformer-pytorch 0.4.1 (docs/seed-models.md): a
 * folder with model.pt (torch.save of the model's state_dict(), read by the restricted
 * unpickler) and timesformer_pytorch.json (the constructor's keyword arguments, optionally
 * "labels"); an optional preprocessor_config.json as for Hugging Face folders. Its blocks are
 * the scheme timesformer_pytorch's (forward/tsf-attention-lucidrains.c). */
#include "tsf-family.h"
#include "tsf-config.h"

#include <string.h>

#define CONFIG_FILE "timesformer_pytorch.json"
#define SHIFT_WRAPPER ".fn.fn."

static gboolean
read_text (const gchar *path, gchar **text, gsize *length, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (g_file_get_contents (path, text, length, &local))
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot read %s: %s", path, local->message);
  return FALSE;
}

static gboolean
lucidrains_load_config (TsfConfig *config, const gchar *dir, GError **error)
{
  g_autofree gchar *path = g_build_filename (dir, CONFIG_FILE, NULL);
  g_autofree gchar *preprocessor = g_build_filename (dir, "preprocessor_config.json", NULL);
  g_autofree gchar *text = NULL, *preprocessor_text = NULL;
  gsize length = 0, preprocessor_length = 0;
  gboolean ok = read_text (path, &text, &length, error)
      && tsf_config_parse_timesformer_pytorch (config, text, length, path, error)
      && (!g_file_test (preprocessor, G_FILE_TEST_EXISTS)
      || (read_text (preprocessor, &preprocessor_text, &preprocessor_length, error)
          && tsf_config_parse_preprocessor (config, preprocessor_text, preprocessor_length,
              preprocessor, error)));

  if (!ok)
    tsf_config_clear (config);
  return ok;
}

static gboolean
lucidrains_recognises (const TsfTensorSet *tensors)
{
  return tsf_tensor_set_lookup (tensors, "to_patch_embedding.weight") != NULL;
}

/* With shift_tokens the library wraps each branch's function once more
 * (layers.L.B.fn.fn.*): the names become those without the wrapper (layers.L.B.fn.*). */
static gboolean
lucidrains_normalise_names (TsfTensorSet *tensors, GError **error)
{
  g_auto (GStrv) names = g_strdupv ((gchar **) tsf_tensor_set_names (tensors));

  for (gchar **name = names; *name != NULL; name++) {
    const gchar *wrapper = strstr (*name, SHIFT_WRAPPER);
    g_autofree gchar *renamed = NULL;

    if (wrapper == NULL || !g_str_has_prefix (*name, "layers."))
      continue;
    renamed = g_strdup_printf ("%.*s.fn.%s", (gint) (wrapper - *name), *name,
        wrapper + strlen (SHIFT_WRAPPER));
    if (!tsf_tensor_set_rename (tensors, *name, renamed, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
lucidrains_can_infer_config (const TsfTensorSet *tensors)
{
  return FALSE;   /* the keyword arguments are in timesformer_pytorch.json */
}

static void
expect_attention (GArray *table, const TsfConfig *c, TsfLayerWeights *layer, guint step,
    guint index, guint branch)
{
  gint64 d = c->hidden_size, a = tsf_config_attention_size (c);
  g_autofree gchar *norm = g_strdup_printf ("layers.%u.%u.norm", index, branch);
  g_autofree gchar *qkv = g_strdup_printf ("layers.%u.%u.fn.to_qkv", index, branch);
  g_autofree gchar *out = g_strdup_printf ("layers.%u.%u.fn.to_out.0", index, branch);

  tsf_weights_expect_norm (table, &layer->step_layernorm[step], d, norm);
  tsf_weights_expect_linear (table, &layer->step_qkv[step], 3 * a, d, FALSE, qkv);
  tsf_weights_expect_linear (table, &layer->step_proj[step], d, a, TRUE, out);
}

static void
expect_layer (GArray *table, const TsfConfig *c, TsfLayerWeights *layer, guint index)
{
  gint64 d = c->hidden_size, inter = c->intermediate_size;
  g_autofree gchar *norm = g_strdup_printf ("layers.%u.2.norm", index);
  g_autofree gchar *in = g_strdup_printf ("layers.%u.2.fn.net.0", index);
  g_autofree gchar *out = g_strdup_printf ("layers.%u.2.fn.net.3", index);

  expect_attention (table, c, layer, 0, index, 0);     /* time */
  expect_attention (table, c, layer, 1, index, 1);     /* space */
  tsf_weights_expect_norm (table, &layer->layernorm_after, d, norm);
  /* GEGLU: [intermediate | gate] in one tensor (split by the forward pass) */
  tsf_weights_expect_linear (table, &layer->intermediate, 2 * inter, d, TRUE, in);
  tsf_weights_expect_linear (table, &layer->output, d, inter, TRUE, out);
}

void
tsf_lucidrains_expect_tensors (GArray *table, const TsfConfig *c, TsfWeights *w)
{
  gint64 d = c->hidden_size, p = c->patch_size, grid = c->image_size / c->patch_size;
  gint64 head_size = tsf_config_attention_size (c) / c->num_attention_heads;

  tsf_weights_expect (table, &w->cls_token, TSF_INIT_LINEAR, 2, (gint64[]) { 1, d },
      "cls_token");
  /* a patch vector (row, column, channel): the forward pass cuts patches that way */
  tsf_weights_expect (table, &w->patch_weight, TSF_INIT_LINEAR, 2,
      (gint64[]) { d, c->num_channels * p * p }, "to_patch_embedding.weight");
  tsf_weights_expect (table, &w->patch_bias, TSF_INIT_BIAS, 1, (gint64[]) { d },
      "to_patch_embedding.bias");
  if (c->rotary_emb) {
    tsf_weights_expect (table, &w->time_frequencies, TSF_INIT_BIAS, 1,
        (gint64[]) { (head_size + 1) / 2 }, "frame_rot_emb.inv_freqs");
    tsf_weights_expect (table, &w->space_scales, TSF_INIT_BIAS, 1,
        (gint64[]) { head_size / 4 }, "image_rot_emb.scales");
  } else
    tsf_weights_expect (table, &w->position_embeddings, TSF_INIT_LINEAR, 2,
        (gint64[]) { c->num_frames * grid * grid + 1, d }, "pos_emb.weight");
  for (guint i = 0; i < c->num_hidden_layers; i++)
    expect_layer (table, c, &w->layers[i], i);
  tsf_weights_expect_norm (table, &w->layernorm, d, "to_out.0");
  tsf_weights_expect_linear (table, &w->classifier, c->num_labels, d, TRUE, "to_out.1");
}

const TsfModelFamily tsf_family_lucidrains = {
  .name = "lucidrains TimeSformer-pytorch",
  .config_file = CONFIG_FILE,
  .weights_file = "model.pt",
  .load_config = lucidrains_load_config,
  .recognises = lucidrains_recognises,
  .normalise_names = lucidrains_normalise_names,
  .can_infer_config = lucidrains_can_infer_config,
  .infer_config = NULL,
  .bind = tsf_weights_bind,
};
