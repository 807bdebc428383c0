/* tsf-family-lucidrains.c: lucidrains' TimeSformer-pytorch 0.4.1 (docs/seed-models.md): a
 * folder with model.pt (torch.save of the model's state_dict(), read by the restricted
 * unpickler) and timesformer_pytorch.json (the constructor's keyword arguments, optionally
 * "labels"); an optional preprocessor_config.json as for Hugging Face folders. Its blocks are
 * the scheme timesformer_pytorch's (forward/tsf-attention-lucidrains.c). */
#include "tsf-family.h"
#include "tsf-config.h"
#include "tsf-json.h"

#include <string.h>

#define CONFIG_FILE "timesformer_pytorch.json"
#define LAYER_NORM_EPS 1e-5   /* nn.LayerNorm's default, which the library keeps */
#define FF_MULT 4             /* GEGLU: dim -> 2 x 4 dim, 4 dim -> dim */
#define SHIFT_WRAPPER ".fn.fn."

typedef struct {
  const gchar *name;
  gsize offset;            /* a guint of TsfConfig */
  guint fallback;          /* the library's default; 0 = required */
} UintArgument;

static const UintArgument uint_arguments[] = {
  { "dim", G_STRUCT_OFFSET (TsfConfig, hidden_size), 0 },
  { "num_frames", G_STRUCT_OFFSET (TsfConfig, num_frames), 0 },
  { "num_classes", G_STRUCT_OFFSET (TsfConfig, num_labels), 0 },
  { "image_size", G_STRUCT_OFFSET (TsfConfig, image_size), 224 },
  { "patch_size", G_STRUCT_OFFSET (TsfConfig, patch_size), 16 },
  { "channels", G_STRUCT_OFFSET (TsfConfig, num_channels), 3 },
  { "depth", G_STRUCT_OFFSET (TsfConfig, num_hidden_layers), 12 },
  { "heads", G_STRUCT_OFFSET (TsfConfig, num_attention_heads), 8 },
};

static const gchar *const other_arguments[] = {
  "dim_head", "rotary_emb", "shift_tokens", "labels", "attn_dropout", "ff_dropout", NULL
};

static gboolean
known_argument (const gchar *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (uint_arguments); i++)
    if (strcmp (name, uint_arguments[i].name) == 0)
      return TRUE;
  return g_strv_contains (other_arguments, name);
}

static gboolean
check_arguments (JsonObject *root, const gchar *file, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (root);

  for (GList *m = members; m != NULL; m = m->next)
    if (!known_argument (m->data)) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: unknown argument '%s'; expected "
          "TimeSformer's keyword arguments (dim, num_frames, num_classes, image_size, "
          "patch_size, channels, depth, heads, dim_head, rotary_emb, shift_tokens) and "
          "labels", file, (const gchar *) m->data);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_uint_arguments (JsonObject *root, const gchar *file, TsfConfig *config, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (uint_arguments); i++) {
    const UintArgument *a = &uint_arguments[i];
    guint *value = G_STRUCT_MEMBER_P (config, a->offset);

    if (a->fallback == 0 && !json_object_has_member (root, a->name)) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: '%s' is missing; the library "
          "requires it", file, a->name);
      return FALSE;
    }
    *value = a->fallback;
    if (!tsf_json_get_uint (root, file, a->name, 1, G_MAXINT, value, error))
      return FALSE;
  }
  return TRUE;
}

/* "labels": a list of num_classes strings. */
static gboolean
read_labels (JsonObject *root, const gchar *file, TsfConfig *config, GError **error)
{
  JsonNode *node = json_object_get_member (root, "labels");
  JsonArray *labels;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return tsf_json_type_error (file, "labels", "a list of class names", node, error);
  labels = json_node_get_array (node);
  if (json_array_get_length (labels) != config->num_labels) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: 'labels' has %u names; num_classes "
        "is %u", file, json_array_get_length (labels), config->num_labels);
    return FALSE;
  }
  config->labels = g_new0 (gchar *, config->num_labels + 1);
  for (guint i = 0; i < config->num_labels; i++) {
    JsonNode *label = json_array_get_element (labels, i);
    if (!JSON_NODE_HOLDS_VALUE (label) || json_node_get_value_type (label) != G_TYPE_STRING)
      return tsf_json_type_error (file, "labels", "a list of strings", label, error);
    config->labels[i] = g_strdup (json_node_get_string (label));
  }
  return TRUE;
}

/* The library's other arguments: dim_head (64), rotary_emb (true), shift_tokens (false). */
static gboolean
read_attention_arguments (JsonObject *root, const gchar *file, TsfConfig *config,
    GError **error)
{
  guint dim_head = 64;

  config->rotary_emb = TRUE;
  config->shift_tokens = FALSE;
  if (!tsf_json_get_uint (root, file, "dim_head", 1, G_MAXINT, &dim_head, error)
      || !tsf_json_get_bool (root, file, "rotary_emb", &config->rotary_emb, error)
      || !tsf_json_get_bool (root, file, "shift_tokens", &config->shift_tokens, error))
    return FALSE;
  if ((guint64) dim_head * config->num_attention_heads > G_MAXINT) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: heads %u x dim_head %u is too "
        "large", file, config->num_attention_heads, dim_head);
    return FALSE;
  }
  config->attention_size = dim_head * config->num_attention_heads;
  if (config->rotary_emb && dim_head % 2 != 0) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: rotary_emb needs an even dim_head, "
        "found %u (the library fails on an odd one)", file, dim_head);
    return FALSE;
  }
  if (config->shift_tokens && config->hidden_size < 3) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: shift_tokens needs dim >= 3", file);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_arguments (TsfConfig *config, const gchar *text, gsize length, const gchar *file,
    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *root = tsf_json_parse_object (parser, text, length, file, TSF_ERROR_CONFIG,
      error);

  if (root == NULL || !check_arguments (root, file, error)
      || !read_uint_arguments (root, file, config, error)
      || !read_attention_arguments (root, file, config, error)
      || !read_labels (root, file, config, error))
    return FALSE;
  config->intermediate_size = FF_MULT * config->hidden_size;
  config->layer_norm_eps = LAYER_NORM_EPS;
  config->qkv_bias = FALSE;
  config->attention_type = TSF_ATTENTION_TIMESFORMER_PYTORCH;
  /* the default recipe for the model's own size (preprocessor_config.json may change it) */
  config->resize_shortest_edge = config->crop_width = config->crop_height = config->image_size;
  return tsf_config_validate (config, file, error);
}

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
      && parse_arguments (config, text, length, path, error)
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
