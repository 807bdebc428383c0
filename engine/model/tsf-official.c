/* tsf-official.c: official TimeSformer checkpoints (see tsf-official.h). */
#include "tsf-official.h"
#include "tsf-attention.h"

#include <math.h>
#include <string.h>


/* timesformer/models/vit.py builds its LayerNorms with eps 1e-6. */
#define OFFICIAL_LAYER_NORM_EPS 1e-6
/* A space-only checkpoint has no time embeddings to count frames from. */
#define SPACE_ONLY_FRAMES 8

/* The one table from official names to Hugging Face names. Entries ending in '.' are module
 * prefixes (".weight", ".bias" follow); "blocks.*." entries apply to every block N and map to
 * "timesformer.encoder.layer.N.". */
static const struct {
  const gchar *official;
  const gchar *hf;
} name_table[] = {
  { "cls_token", "timesformer.embeddings.cls_token" },
  { "pos_embed", "timesformer.embeddings.position_embeddings" },
  { "time_embed", "timesformer.embeddings.time_embeddings" },
  { "patch_embed.proj.", "timesformer.embeddings.patch_embeddings.projection." },
  { "blocks.*.temporal_norm1.", "temporal_layernorm." },
  { "blocks.*.temporal_attn.qkv.", "temporal_attention.attention.qkv." },
  { "blocks.*.temporal_attn.proj.", "temporal_attention.output.dense." },
  { "blocks.*.temporal_fc.", "temporal_dense." },
  { "blocks.*.norm1.", "layernorm_before." },
  { "blocks.*.attn.qkv.", "attention.attention.qkv." },
  { "blocks.*.attn.proj.", "attention.output.dense." },
  { "blocks.*.norm2.", "layernorm_after." },
  { "blocks.*.mlp.fc1.", "intermediate.dense." },
  { "blocks.*.mlp.fc2.", "output.dense." },
  { "norm.", "timesformer.layernorm." },
  { "head.", "classifier." },
};

#define BLOCK_PATTERN "blocks.*."
#define HF_LAYER "timesformer.encoder.layer."

/* Drops the wrappers' prefixes: "module." (DistributedDataParallel) and "model." (the
 * official TimeSformer module around its VisionTransformer). */
static const gchar *
strip_prefixes (const gchar *name)
{
  if (g_str_has_prefix (name, "module."))
    name += strlen ("module.");
  if (g_str_has_prefix (name, "model."))
    name += strlen ("model.");
  return name;
}

/* The rest of `name` after `pattern` ("" for an exact match), or NULL. */
static const gchar *
match (const gchar *name, const gchar *pattern)
{
  gsize n = strlen (pattern);

  if (pattern[n - 1] == '.')
    return g_str_has_prefix (name, pattern) ? name + n : NULL;
  return strcmp (name, pattern) ? NULL : name + n;
}

static gchar *
hf_name (const gchar *official)
{
  const gchar *name = strip_prefixes (official);
  const gchar *rest;
  guint64 block = 0;
  gchar *end = NULL;

  if (g_str_has_prefix (name, "blocks.")) {
    block = g_ascii_strtoull (name + strlen ("blocks."), &end, 10);
    if (end == name + strlen ("blocks.") || *end != '.' || block > 9999)
      return NULL;
    for (guint i = 0; i < G_N_ELEMENTS (name_table); i++)
      if (g_str_has_prefix (name_table[i].official, BLOCK_PATTERN)
          && (rest = match (end + 1, name_table[i].official + strlen (BLOCK_PATTERN))))
        return g_strdup_printf (HF_LAYER "%" G_GUINT64_FORMAT ".%s%s", block,
            name_table[i].hf, rest);
    return NULL;
  }
  for (guint i = 0; i < G_N_ELEMENTS (name_table); i++)
    if (!g_str_has_prefix (name_table[i].official, BLOCK_PATTERN)
        && (rest = match (name, name_table[i].official)))
      return g_strconcat (name_table[i].hf, rest, NULL);
  return NULL;
}

gboolean
tsf_official_detect (const TsfTensorSet *set)
{
  return tsf_tensor_set_lookup (set, "cls_token") || tsf_tensor_set_lookup (set, "model.cls_token")
      || tsf_tensor_set_lookup (set, "module.model.cls_token");
}

gboolean
tsf_official_rename (TsfTensorSet *set, GError **error)
{
  g_auto (GStrv) names = g_strdupv ((gchar **) tsf_tensor_set_names (set));

  for (guint i = 0; names[i]; i++) {
    g_autofree gchar *target = hf_name (names[i]);

    if (!target) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR,
          "%s: tensor '%s' is not a parameter of the official TimeSformer (expected "
          "cls_token, pos_embed, time_embed, patch_embed.proj.*, blocks.N.*, norm.*, head.*)",
          tsf_tensor_set_source (set), names[i]);
      return FALSE;
    }
    if (!tsf_tensor_set_rename (set, names[i], target, error))
      return FALSE;
  }
  return TRUE;
}

/* A tensor's shape must have `ndim` dimensions; dimension `dim` is returned in `out`. */
static gboolean
get_dim (const TsfTensorSet *set, const gchar *name, guint ndim, guint dim, guint *out,
    GError **error)
{
  const TsfTensor *t = tsf_tensor_set_lookup (set, name);

  if (!t || t->ndim != ndim || t->shape[dim] <= 0 || t->shape[dim] > G_MAXINT32) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: cannot infer the config: tensor "
        "'%s' is %s (expected %u dimensions)", tsf_tensor_set_source (set), name,
        t ? "of another shape" : "missing", ndim);
    return FALSE;
  }
  *out = (guint) t->shape[dim];
  return TRUE;
}

static gboolean
infer_image_size (const TsfTensorSet *set, TsfConfig *config, GError **error)
{
  guint tokens, grid;

  if (!get_dim (set, "timesformer.embeddings.position_embeddings", 3, 1, &tokens, error))
    return FALSE;
  grid = (guint) (sqrt ((gdouble) (tokens - 1)) + 0.5);
  if (tokens < 2 || grid * grid != tokens - 1) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: pos_embed holds %u tokens; expected "
        "1 + a square number of patches", tsf_tensor_set_source (set), tokens);
    return FALSE;
  }
  config->image_size = grid * config->patch_size;
  return TRUE;
}

static guint
count_layers (const TsfTensorSet *set)
{
  guint n = 0;

  for (;; n++) {
    g_autofree gchar *name = g_strdup_printf (HF_LAYER "%u.layernorm_before.weight", n);

    if (!tsf_tensor_set_lookup (set, name))
      return n;
  }
}

static gboolean
infer_heads (const TsfTensorSet *set, guint num_heads, TsfConfig *config, GError **error)
{
  guint hidden = config->hidden_size;

  if (num_heads == 0)
    num_heads = hidden == 768 ? 12 : hidden / 64;
  if (num_heads == 0 || hidden % num_heads) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: cannot use %u attention heads with "
        "hidden size %u; give the head count (--num-heads N, or the num-heads option)",
        tsf_tensor_set_source (set), num_heads, hidden);
    return FALSE;
  }
  config->num_attention_heads = num_heads;
  return TRUE;
}

static void
default_labels (TsfConfig *config)
{
  g_strfreev (config->labels);
  config->labels = g_new0 (gchar *, config->num_labels + 1);
  for (guint i = 0; i < config->num_labels; i++)
    config->labels[i] = g_strdup_printf ("LABEL_%u", i);
}

gboolean
tsf_official_infer_config (const TsfTensorSet *set, guint num_heads, TsfConfig *config,
    GError **error)
{
  const gchar *patch = "timesformer.embeddings.patch_embeddings.projection.weight";
  gboolean has_time = tsf_tensor_set_lookup (set, "timesformer.embeddings.time_embeddings") != NULL;
  guint patch_height;

  if (!get_dim (set, "timesformer.embeddings.cls_token", 3, 2, &config->hidden_size, error)
      || !get_dim (set, patch, 4, 1, &config->num_channels, error)
      || !get_dim (set, patch, 4, 2, &patch_height, error)
      || !get_dim (set, patch, 4, 3, &config->patch_size, error)
      || !infer_image_size (set, config, error)
      || !get_dim (set, HF_LAYER "0.intermediate.dense.weight", 2, 0,
          &config->intermediate_size, error)
      || !get_dim (set, "classifier.weight", 2, 0, &config->num_labels, error)
      || (has_time && !get_dim (set, "timesformer.embeddings.time_embeddings", 3, 1,
          &config->num_frames, error))
      || !infer_heads (set, num_heads, config, error))
    return FALSE;
  if (patch_height != config->patch_size) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: the patch embedding is %ux%u; only "
        "square patches are supported", tsf_tensor_set_source (set), patch_height,
        config->patch_size);
    return FALSE;
  }
  config->num_hidden_layers = count_layers (set);
  config->qkv_bias = tsf_tensor_set_lookup (set, HF_LAYER "0.attention.attention.qkv.bias") != NULL;
  config->layer_norm_eps = OFFICIAL_LAYER_NORM_EPS;
  config->attention_type = tsf_attention_scheme_for_tensors (tsf_tensor_set_lookup (set,
          HF_LAYER "0.temporal_attention.attention.qkv.weight") != NULL, has_time)->type;
  if (!has_time)
    config->num_frames = SPACE_ONLY_FRAMES;
  config->resize_shortest_edge = config->image_size;
  config->crop_width = config->crop_height = config->image_size;
  default_labels (config);
  return TRUE;
}
