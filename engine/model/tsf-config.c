/* tsf-config.c: config.json (TimesformerConfig) and preprocessor_config.json
 * (VideoMAEImageProcessor), parsed with json-glib and validated before anyone uses them. */
#include "tsf-config.h"
#include "tsf-file.h"
#include "tsf-json.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define MAX_CROP_OR_RESIZE 65536
#define CONFIG_WHAT "the model's TimesformerConfig (Hugging Face config.json)"

/* The training sampling: bounds of config.json "sampling" and the paper's default. */
#define MAX_SAMPLING_STRIDE 10000
#define MAX_SAMPLING_FPS 1000.0
#define MAX_CLIP_DURATION 3600.0
#define DEFAULT_SAMPLING_STRIDE 32
#define DEFAULT_SAMPLING_FPS 30.0

/* The unsigned fields of TsfConfig, their JSON names and ranges. */
typedef struct {
  const gchar *name;
  gsize offset;
  guint min;
  guint max;
} UintField;

static const UintField uint_fields[] = {
  { "image_size", G_STRUCT_OFFSET (TsfConfig, image_size), 1, TSF_MAX_IMAGE_SIZE },
  { "patch_size", G_STRUCT_OFFSET (TsfConfig, patch_size), 1, TSF_MAX_IMAGE_SIZE },
  { "num_channels", G_STRUCT_OFFSET (TsfConfig, num_channels), 1, TSF_MAX_CHANNELS },
  { "num_frames", G_STRUCT_OFFSET (TsfConfig, num_frames), 1, TSF_MAX_FRAMES },
  { "hidden_size", G_STRUCT_OFFSET (TsfConfig, hidden_size), 1, TSF_MAX_HIDDEN_SIZE },
  { "num_hidden_layers", G_STRUCT_OFFSET (TsfConfig, num_hidden_layers), 1, TSF_MAX_LAYERS },
  { "num_attention_heads", G_STRUCT_OFFSET (TsfConfig, num_attention_heads), 1, TSF_MAX_HEADS },
  { "intermediate_size", G_STRUCT_OFFSET (TsfConfig, intermediate_size), 1,
    TSF_MAX_INTERMEDIATE },
  { "num_labels", G_STRUCT_OFFSET (TsfConfig, num_labels), 1, TSF_MAX_LABELS },
};

static const gchar *const attention_names[] = {
  [TSF_ATTENTION_DIVIDED_SPACE_TIME] = "divided_space_time",
  [TSF_ATTENTION_JOINT_SPACE_TIME] = "joint_space_time",
  [TSF_ATTENTION_SPACE_ONLY] = "space_only",
  [TSF_ATTENTION_SPARSE_LOCAL_GLOBAL] = "sparse_local_global",
  [TSF_ATTENTION_AXIAL] = "axial",
  [TSF_ATTENTION_TIMESFORMER_PYTORCH] = "timesformer_pytorch",
};
/* config.json names the Hugging Face layouts' types only (those before this one) */
#define N_CONFIG_JSON_TYPES TSF_ATTENTION_TIMESFORMER_PYTORCH

const gchar *
tsf_attention_type_to_string (TsfAttentionType type)
{
  if ((guint) type >= G_N_ELEMENTS (attention_names))
    return "invalid";
  return attention_names[type];
}

static guint *
uint_field (TsfConfig *config, const UintField *field)
{
  return G_STRUCT_MEMBER_P (config, field->offset);
}

static void
init_preprocessing (TsfConfig *config)
{
  for (guint c = 0; c < 3; c++) {
    config->image_mean[c] = 0.45f;
    config->image_std[c] = 0.225f;
  }
  config->resize_shortest_edge = config->image_size;
  config->resize_width = 0;
  config->resize_height = 0;
  config->crop_width = config->image_size;
  config->crop_height = config->image_size;
  config->rescale_factor = 1.0 / 255.0;
}

static void
init_sampling (TsfSampling *sampling)
{
  sampling->origin = TSF_SAMPLING_DEFAULT;
  sampling->frame_stride = DEFAULT_SAMPLING_STRIDE;
  sampling->fps = DEFAULT_SAMPLING_FPS;
  sampling->clip_duration = 0;
}

gdouble
tsf_config_get_frame_interval (const TsfConfig *config)
{
  const TsfSampling *sampling = &config->sampling;

  if (sampling->origin != TSF_SAMPLING_STATED)
    return DEFAULT_SAMPLING_STRIDE / DEFAULT_SAMPLING_FPS;
  if (sampling->frame_stride > 0)
    return sampling->frame_stride / sampling->fps;
  return sampling->clip_duration / MAX (config->num_frames, 1);
}

gdouble
tsf_config_get_sampling_fps (const TsfConfig *config)
{
  if (config->sampling.origin != TSF_SAMPLING_STATED)
    return DEFAULT_SAMPLING_FPS;
  return config->sampling.fps;
}

gchar *
tsf_sampling_describe (const TsfConfig *config)
{
  const TsfSampling *sampling = &config->sampling;

  if (sampling->origin != TSF_SAMPLING_STATED)
    return g_strdup_printf ("%ux%u at %g fps (the default: the model states none)",
        config->num_frames, DEFAULT_SAMPLING_STRIDE, DEFAULT_SAMPLING_FPS);
  if (sampling->frame_stride > 0)
    return g_strdup_printf ("%ux%u at %g fps (%s)", config->num_frames,
        sampling->frame_stride, sampling->fps, "stated by the model");
  return g_strdup_printf ("%u frames over %g s (stated by the model)", config->num_frames,
      sampling->clip_duration);
}

void
tsf_config_init_defaults (TsfConfig *config)
{
  memset (config, 0, sizeof *config);
  config->image_size = 224;
  config->patch_size = 16;
  config->num_channels = 3;
  config->num_frames = 8;
  config->hidden_size = 768;
  config->num_hidden_layers = 12;
  config->num_attention_heads = 12;
  config->intermediate_size = 3072;
  config->layer_norm_eps = 1e-6;
  config->qkv_bias = TRUE;
  config->attention_type = TSF_ATTENTION_DIVIDED_SPACE_TIME;
  config->num_labels = 2;
  config->labels = NULL;
  init_preprocessing (config);
  init_sampling (&config->sampling);
}

guint
tsf_config_attention_size (const TsfConfig *config)
{
  return config->attention_size != 0 ? config->attention_size : config->hidden_size;
}

void
tsf_config_copy (TsfConfig *dest, const TsfConfig *src)
{
  *dest = *src;
  dest->labels = src->labels ? g_strdupv (src->labels) : NULL;
}

void
tsf_config_clear (TsfConfig *config)
{
  g_clear_pointer (&config->labels, g_strfreev);
}

static gboolean
check_range (const gchar *filename, const gchar *field, gint64 value, gint64 min, gint64 max,
    GError **error)
{
  if (value >= min && value <= max)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
      "%s: '%s' must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
      ", found %" G_GINT64_FORMAT, filename, field, min, max, value);
  return FALSE;
}

static gboolean
check_positive_finite (const gchar *filename, const gchar *field, gdouble value,
    GError **error)
{
  if (isfinite (value) && value > 0)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
      "%s: '%s' must be a positive number, found %g", filename, field, value);
  return FALSE;
}

static gboolean
validate_model (const TsfConfig *config, const gchar *filename, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (uint_fields); i++) {
    const UintField *field = &uint_fields[i];
    guint value = *uint_field ((TsfConfig *) config, field);
    if (!check_range (filename, field->name, value, field->min, field->max, error))
      return FALSE;
  }
  if (config->image_size % config->patch_size != 0) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: patch_size %u does not divide image_size %u; image_size must be a multiple "
        "of patch_size", filename, config->patch_size, config->image_size);
    return FALSE;
  }
  if (config->attention_size == 0 && config->hidden_size % config->num_attention_heads != 0) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: hidden_size %u is not divisible by num_attention_heads %u",
        filename, config->hidden_size, config->num_attention_heads);
    return FALSE;
  }
  if (config->attention_type == TSF_ATTENTION_TIMESFORMER_PYTORCH && config->qkv_bias) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: a timesformer_pytorch model has no qkv bias; qkv_bias must be false", filename);
    return FALSE;
  }
  if (config->attention_size % config->num_attention_heads != 0
      || config->attention_size > TSF_MAX_HIDDEN_SIZE) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: an attention size of %u (heads x head size) must be a multiple of the %u heads "
        "and at most %d", filename, config->attention_size, config->num_attention_heads,
        TSF_MAX_HIDDEN_SIZE);
    return FALSE;
  }
  guint64 side = config->image_size / config->patch_size;
  guint64 tokens = (guint64) config->num_frames * side * side + 1;
  if (tokens > TSF_MAX_TOKENS) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: num_frames %u x (image_size %u / patch_size %u)^2 gives %" G_GUINT64_FORMAT
        " tokens; at most %d are supported", filename, config->num_frames,
        config->image_size, config->patch_size, tokens, TSF_MAX_TOKENS);
    return FALSE;
  }
  if ((guint) config->attention_type >= G_N_ELEMENTS (attention_names)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: attention_type %d is not one of divided_space_time, joint_space_time, space_only, "
        "sparse_local_global, axial",
        filename, (gint) config->attention_type);
    return FALSE;
  }
  return check_positive_finite (filename, "layer_norm_eps", config->layer_norm_eps, error);
}

/* image_mean and image_std, checked as the file's doubles (a gfloat would turn 1e-300 into 0):
 * a std near 0 or a huge mean turns every pixel into Inf. */
static gboolean
check_channel_value (const gchar *filename, const gchar *field, gdouble value, GError **error)
{
  gboolean is_std = g_str_equal (field, "image_std");
  gdouble min = is_std ? TSF_MIN_IMAGE_STD : -TSF_MAX_IMAGE_MEAN_STD;

  /* as a gfloat, 1e-6 is slightly below 1e-6 */
  if (isfinite (value) && value >= (gfloat) min && value <= TSF_MAX_IMAGE_MEAN_STD)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
      "%s: '%s' must hold numbers from %g to %g, found %g", filename, field, min,
      TSF_MAX_IMAGE_MEAN_STD, value);
  return FALSE;
}

static gboolean
validate_preprocessing (const TsfConfig *config, const gchar *filename, GError **error)
{
  for (guint c = 0; c < 3; c++) {
    if (!check_channel_value (filename, "image_mean", config->image_mean[c], error)
        || !check_channel_value (filename, "image_std", config->image_std[c], error))
      return FALSE;
  }
  return check_range (filename, "size.shortest_edge", config->resize_shortest_edge, 0,
          MAX_CROP_OR_RESIZE, error)
      && check_range (filename, "size.width", config->resize_width, 0, MAX_CROP_OR_RESIZE,
          error)
      && check_range (filename, "size.height", config->resize_height, 0, MAX_CROP_OR_RESIZE,
          error)
      && check_range (filename, "crop_size.width", config->crop_width, 0, MAX_CROP_OR_RESIZE,
          error)
      && check_range (filename, "crop_size.height", config->crop_height, 0,
          MAX_CROP_OR_RESIZE, error)
      && check_positive_finite (filename, "rescale_factor", config->rescale_factor, error);
}

static gboolean
check_number_range (const gchar *filename, const gchar *field, gdouble value, gdouble max,
    GError **error)
{
  if (isfinite (value) && value > 0 && value <= max)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
      "%s: '%s' must be a number above 0 and at most %g, found %g", filename, field, max,
      value);
  return FALSE;
}

static gboolean
validate_sampling (const TsfSampling *sampling, const gchar *filename, GError **error)
{
  if (sampling->origin != TSF_SAMPLING_STATED)
    return TRUE;
  if (!check_number_range (filename, "sampling.fps", sampling->fps, MAX_SAMPLING_FPS, error))
    return FALSE;
  if (sampling->frame_stride > 0)
    return check_range (filename, "sampling.frame_stride", sampling->frame_stride, 1,
        MAX_SAMPLING_STRIDE, error);
  return check_number_range (filename, "sampling.clip_duration", sampling->clip_duration,
      MAX_CLIP_DURATION, error);
}

gboolean
tsf_config_validate (const TsfConfig *config, const gchar *filename, GError **error)
{
  return validate_model (config, filename, error)
      && validate_preprocessing (config, filename, error)
      && validate_sampling (&config->sampling, filename, error);
}

/* ---- config.json ---- */

static gboolean
parse_attention_type (const gchar *filename, const gchar *value, TsfAttentionType *type,
    GError **error)
{
  for (guint i = 0; i < N_CONFIG_JSON_TYPES; i++) {
    if (g_strcmp0 (value, attention_names[i]) == 0) {
      *type = i;
      return TRUE;
    }
  }
  g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED,
      "%s: attention_type '%s' is not supported; expected divided_space_time, "
      "joint_space_time, space_only, sparse_local_global or axial", filename, value);
  return FALSE;
}

static gboolean
parse_hidden_act (const gchar *filename, JsonObject *root, GError **error)
{
  const gchar *act = "gelu";
  if (!tsf_json_get_string (root, filename, "hidden_act", &act, error))
    return FALSE;
  if (g_strcmp0 (act, "gelu") == 0)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED,
      "%s: hidden_act '%s' is not supported; only \"gelu\" (exact erf GELU) is", filename, act);
  return FALSE;
}

/* model_type is optional; when present it must say timesformer. */
static gboolean
check_model_type (const gchar *filename, JsonObject *root, GError **error)
{
  const gchar *type = "timesformer";
  if (!tsf_json_get_string (root, filename, "model_type", &type, error))
    return FALSE;
  if (g_strcmp0 (type, "timesformer") == 0)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
      "%s: model_type '%s' is not a TimeSformer; expected \"timesformer\"", filename, type);
  return FALSE;
}

static gboolean
parse_id2label_key (const gchar *filename, const gchar *key, guint num_labels, guint *id,
    GError **error)
{
  guint64 value;
  if (!g_ascii_string_to_unsigned (key, 10, 0, G_MAXUINT64, &value, NULL)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: id2label key '%s' is not a class id (a non-negative integer)", filename, key);
    return FALSE;
  }
  if (value >= num_labels) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: id2label key '%s' is out of range; class ids go from 0 to %u", filename, key,
        num_labels - 1);
    return FALSE;
  }
  *id = value;
  return TRUE;
}

/* num_labels: the "num_labels" field if present, else one past the largest id2label key, else
 * 2 (transformers' default). */
static gboolean
count_labels (const gchar *filename, JsonObject *root, JsonObject *id2label,
    guint *num_labels, GError **error)
{
  if (json_object_has_member (root, "num_labels") || id2label == NULL)
    return TRUE;
  guint max_id = 0;
  GList *keys = json_object_get_members (id2label);
  gboolean ok = TRUE;
  for (GList *k = keys; k && ok; k = k->next) {
    guint id;
    ok = parse_id2label_key (filename, k->data, TSF_MAX_LABELS, &id, error);
    max_id = ok ? MAX (max_id, id) : max_id;
  }
  g_list_free (keys);
  if (ok && keys == NULL) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
        "%s: 'id2label' is empty; expected one label per class", filename);
    return FALSE;
  }
  *num_labels = max_id + 1;
  return ok;
}

static gboolean
parse_labels (TsfConfig *config, const gchar *filename, JsonObject *id2label, GError **error)
{
  config->labels = g_new0 (gchar *, config->num_labels + 1);
  GList *keys = id2label ? json_object_get_members (id2label) : NULL;
  gboolean ok = TRUE;
  for (GList *k = keys; k && ok; k = k->next) {
    const gchar *key = k->data;
    guint id = 0;
    const gchar *label = NULL;
    ok = parse_id2label_key (filename, key, config->num_labels, &id, error)
        && tsf_json_get_string (id2label, filename, key, &label, error);
    if (ok && config->labels[id] != NULL) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
          "%s: id2label names class %u twice (key '%s')", filename, id, key);
      ok = FALSE;
    }
    if (ok)
      config->labels[id] = g_strdup (label);
  }
  g_list_free (keys);
  for (guint i = 0; i < config->num_labels; i++) {
    if (!ok)
      g_free (config->labels[i]);  /* the array may have holes: g_strfreev would stop early */
    else if (config->labels[i] == NULL)
      config->labels[i] = g_strdup_printf ("LABEL_%u", i);
  }
  if (!ok)
    g_clear_pointer (&config->labels, g_free);
  return ok;
}

/* A number member of "sampling", absent: untouched. */
static gboolean
get_sampling_number (JsonObject *object, const gchar *filename, const gchar *member,
    gdouble max, gdouble *value, GError **error)
{
  g_autofree gchar *name = g_strconcat ("sampling.", member, NULL);
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    return TRUE;
  if (!tsf_json_node_get_number (node, value))
    return tsf_json_type_error (filename, name, "a number", node, error);
  return check_number_range (filename, name, *value, max, error);
}

static gboolean
check_sampling_members (JsonObject *object, const gchar *filename, GError **error)
{
  static const gchar *const known[] = { "frame_stride", "fps", "clip_duration", NULL };
  GList *members = json_object_get_members (object);
  gboolean ok = TRUE;

  for (GList *m = members; m != NULL && ok; m = m->next) {
    if (g_strv_contains (known, m->data))
      continue;
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: 'sampling' has an unknown member "
        "'%s'; expected frame_stride (with fps) or clip_duration", filename,
        (const gchar *) m->data);
    ok = FALSE;
  }
  g_list_free (members);
  if (ok && json_object_has_member (object, "frame_stride")
      == json_object_has_member (object, "clip_duration")) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: 'sampling' must state either "
        "frame_stride (frames from one sampled frame to the next, at fps) or clip_duration "
        "(seconds one clip covers), not %s", filename,
        json_object_has_member (object, "frame_stride") ? "both" : "neither");
    ok = FALSE;
  }
  return ok;
}

/* "sampling": {"frame_stride": S, "fps": F} or {"clip_duration": D, "fps": F}. */
static gboolean
parse_sampling (TsfConfig *config, const gchar *filename, JsonObject *root, GError **error)
{
  TsfSampling *sampling = &config->sampling;
  JsonObject *object = NULL;
  JsonNode *stride;

  if (!tsf_json_get_object (root, filename, "sampling", &object, error))
    return FALSE;
  if (object == NULL)
    return TRUE;
  if (!check_sampling_members (object, filename, error))
    return FALSE;
  sampling->origin = TSF_SAMPLING_STATED;
  stride = json_object_get_member (object, "frame_stride");
  sampling->frame_stride = 0;
  return (stride == NULL || tsf_json_node_get_uint (stride, filename, "sampling.frame_stride",
          1, MAX_SAMPLING_STRIDE, &sampling->frame_stride, error))
      && get_sampling_number (object, filename, "fps", MAX_SAMPLING_FPS, &sampling->fps,
          error)
      && get_sampling_number (object, filename, "clip_duration", MAX_CLIP_DURATION,
          &sampling->clip_duration, error);
}

static gboolean
parse_model (TsfConfig *config, const gchar *filename, JsonObject *root, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (uint_fields); i++) {
    const UintField *field = &uint_fields[i];
    if (!tsf_json_get_uint (root, filename, field->name, field->min, field->max,
            uint_field (config, field), error))
      return FALSE;
  }
  const gchar *attention = attention_names[config->attention_type];
  JsonObject *id2label = NULL;
  return check_model_type (filename, root, error)
      && parse_hidden_act (filename, root, error)
      && tsf_json_get_double (root, filename, "layer_norm_eps", &config->layer_norm_eps, error)
      && tsf_json_get_bool (root, filename, "qkv_bias", &config->qkv_bias, error)
      && tsf_json_get_string (root, filename, "attention_type", &attention, error)
      && parse_attention_type (filename, attention, &config->attention_type, error)
      && tsf_json_get_object (root, filename, "id2label", &id2label, error)
      && count_labels (filename, root, id2label, &config->num_labels, error)
      && parse_sampling (config, filename, root, error)
      && validate_model (config, filename, error)
      && parse_labels (config, filename, id2label, error);
}

gboolean
tsf_config_parse (TsfConfig *config, const gchar *json, gsize length, const gchar *filename,
    GError **error)
{
  tsf_config_init_defaults (config);
  JsonParser *parser = json_parser_new_immutable ();
  JsonObject *root = tsf_json_parse_object (parser, json, length, filename, TSF_ERROR_CONFIG,
      error);
  gboolean ok = root != NULL && parse_model (config, filename, root, error);
  g_object_unref (parser);
  if (ok)
    init_preprocessing (config);
  else
    tsf_config_clear (config);
  return ok;
}

/* ---- preprocessor_config.json ---- */

/* image_mean / image_std: one number for every channel, or a list of 3. */
static gboolean
parse_channel_values (JsonObject *root, const gchar *filename, const gchar *field,
    gfloat values[3], GError **error)
{
  JsonNode *node = json_object_get_member (root, field);
  if (node == NULL)
    return TRUE;
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  gdouble items[3];
  gboolean ok = tsf_json_node_get_number (node, &items[0]);
  if (ok)
    items[1] = items[2] = items[0];
  else
    ok = array != NULL && json_array_get_length (array) == 3;
  for (guint c = 0; ok && array != NULL && c < 3; c++)
    ok = tsf_json_node_get_number (json_array_get_element (array, c), &items[c]);
  if (!ok)
    return tsf_json_type_error (filename, field, "a number or a list of 3 numbers", node,
        error);
  for (guint c = 0; c < 3; c++) {
    if (!check_channel_value (filename, field, items[c], error))
      return FALSE;
    values[c] = items[c];
  }
  return TRUE;
}

/* A member of the size or crop_size object, named "size.height" etc. in errors. */
static gboolean
get_size_member (JsonObject *object, const gchar *filename, const gchar *field,
    const gchar *member, guint *value, GError **error)
{
  g_autofree gchar *name = g_strconcat (field, ".", member, NULL);
  return tsf_json_node_get_uint (json_object_get_member (object, member), filename, name, 1,
      MAX_CROP_OR_RESIZE, value, error);
}

/* size / crop_size: an integer (square, or shortest edge for size), or an object. */
static gboolean
parse_size (JsonObject *root, const gchar *filename, const gchar *field, gboolean is_resize,
    TsfConfig *config, GError **error)
{
  JsonNode *node = json_object_get_member (root, field);
  if (node == NULL)
    return TRUE;
  guint *width = is_resize ? &config->resize_width : &config->crop_width;
  guint *height = is_resize ? &config->resize_height : &config->crop_height;
  guint edge = 0;
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    if (!tsf_json_node_get_uint (node, filename, field, 1, MAX_CROP_OR_RESIZE, &edge, error))
      return FALSE;
    if (is_resize) {
      config->resize_shortest_edge = edge;
      *width = *height = 0;
    } else {
      *width = *height = edge;
    }
    return TRUE;
  }
  JsonObject *object = json_node_get_object (node);
  if (is_resize && json_object_has_member (object, "shortest_edge")) {
    *width = *height = 0;
    return get_size_member (object, filename, field, "shortest_edge",
        &config->resize_shortest_edge, error);
  }
  if (!json_object_has_member (object, "height") || !json_object_has_member (object, "width"))
    return tsf_json_type_error (filename, field, is_resize
        ? "{\"shortest_edge\": N} or {\"height\": H, \"width\": W}"
        : "{\"height\": H, \"width\": W}", node, error);
  if (is_resize)
    config->resize_shortest_edge = 0;
  return get_size_member (object, filename, field, "height", height, error)
      && get_size_member (object, filename, field, "width", width, error);
}

/* do_* flags that are false turn their step into identity (see TsfConfig). */
static gboolean
apply_step_flags (JsonObject *root, const gchar *filename, TsfConfig *config, GError **error)
{
  gboolean normalize = TRUE, rescale = TRUE, resize = TRUE, crop = TRUE;
  if (!tsf_json_get_bool (root, filename, "do_normalize", &normalize, error)
      || !tsf_json_get_bool (root, filename, "do_rescale", &rescale, error)
      || !tsf_json_get_bool (root, filename, "do_resize", &resize, error)
      || !tsf_json_get_bool (root, filename, "do_center_crop", &crop, error))
    return FALSE;
  for (guint c = 0; !normalize && c < 3; c++) {
    config->image_mean[c] = 0.0f;
    config->image_std[c] = 1.0f;
  }
  if (!rescale)
    config->rescale_factor = 1.0;
  if (!resize)
    config->resize_shortest_edge = config->resize_width = config->resize_height = 0;
  if (!crop)
    config->crop_width = config->crop_height = 0;
  return TRUE;
}

static gboolean
parse_channel_order (JsonObject *root, const gchar *filename, TsfChannelOrder *order,
    GError **error)
{
  const gchar *name = NULL;

  if (!tsf_json_get_string (root, filename, "channel_order", &name, error))
    return FALSE;
  if (name == NULL || g_strcmp0 (name, "rgb") == 0 || g_strcmp0 (name, "bgr") == 0) {
    if (name != NULL)
      *order = g_str_equal (name, "bgr") ? TSF_CHANNEL_ORDER_BGR : TSF_CHANNEL_ORDER_RGB;
    return TRUE;
  }
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG,
      "%s: 'channel_order' must be \"rgb\" or \"bgr\", found \"%s\"", filename, name);
  return FALSE;
}

static gboolean
parse_preprocessing (TsfConfig *config, const gchar *filename, JsonObject *root,
    GError **error)
{
  return parse_channel_order (root, filename, &config->channel_order, error)
      && parse_channel_values (root, filename, "image_mean", config->image_mean, error)
      && parse_channel_values (root, filename, "image_std", config->image_std, error)
      && parse_size (root, filename, "size", TRUE, config, error)
      && parse_size (root, filename, "crop_size", FALSE, config, error)
      && tsf_json_get_double (root, filename, "rescale_factor", &config->rescale_factor, error)
      && apply_step_flags (root, filename, config, error)
      && validate_preprocessing (config, filename, error);
}

gboolean
tsf_config_parse_preprocessor (TsfConfig *config, const gchar *json, gsize length,
    const gchar *filename, GError **error)
{
  TsfConfig updated = *config;  /* shallow: only preprocessing fields change */
  JsonParser *parser = json_parser_new_immutable ();
  JsonObject *root = tsf_json_parse_object (parser, json, length, filename, TSF_ERROR_CONFIG,
      error);
  gboolean ok = root != NULL && parse_preprocessing (&updated, filename, root, error);
  g_object_unref (parser);
  if (ok)
    *config = updated;
  return ok;
}

/* ---- a model directory ---- */

static gboolean
read_file (const gchar *path, const gchar *what, gsize max_bytes, gchar **contents,
    gsize *length, GError **error)
{
  if (tsf_file_probe (path) == ENOENT) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "%s is missing; expected %s", path, what);
    return FALSE;
  }
  return tsf_file_read_capped (path, what, max_bytes, contents, length, error);
}

/* ---- timesformer_pytorch.json (lucidrains' TimeSformer keyword arguments) ---- */

#define LUCIDRAINS_LAYER_NORM_EPS 1e-5   /* nn.LayerNorm's default, which the library keeps */
#define LUCIDRAINS_FF_MULT 4             /* GEGLU: dim -> 2 x 4 dim, 4 dim -> dim */

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

gboolean
tsf_config_parse_timesformer_pytorch (TsfConfig *config, const gchar *text, gsize length,
    const gchar *file, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *root = tsf_json_parse_object (parser, text, length, file, TSF_ERROR_CONFIG,
      error);

  gboolean ok = root != NULL && check_arguments (root, file, error)
      && read_uint_arguments (root, file, config, error)
      && read_attention_arguments (root, file, config, error)
      && read_labels (root, file, config, error);

  if (ok) {
    config->intermediate_size = LUCIDRAINS_FF_MULT * config->hidden_size;
    config->layer_norm_eps = LUCIDRAINS_LAYER_NORM_EPS;
    config->qkv_bias = FALSE;
    config->attention_type = TSF_ATTENTION_TIMESFORMER_PYTORCH;
    /* the default recipe for the model's own size (preprocessor_config.json may change it) */
    config->resize_shortest_edge = config->crop_width = config->crop_height = config->image_size;
    ok = tsf_config_validate (config, file, error);
  }
  if (!ok)
    tsf_config_clear (config);
  return ok;
}

gboolean
tsf_config_load_dir (TsfConfig *config, const gchar *dir, GError **error)
{
  g_autofree gchar *config_path = g_build_filename (dir, "config.json", NULL);
  g_autofree gchar *preprocessor_path = g_build_filename (dir, "preprocessor_config.json",
      NULL);
  g_autofree gchar *text = NULL;
  gsize length = 0;
  if (!read_file (config_path, CONFIG_WHAT, TSF_MAX_CONFIG_BYTES, &text, &length, error)
      || !tsf_config_parse (config, text, length, config_path, error))
    return FALSE;
  if (tsf_file_probe (preprocessor_path) == ENOENT)
    return TRUE;
  g_clear_pointer (&text, g_free);
  if (read_file (preprocessor_path, "a VideoMAEImageProcessor preprocessor_config.json",
          TSF_MAX_PREPROCESSOR_BYTES, &text, &length, error)
      && tsf_config_parse_preprocessor (config, text, length, preprocessor_path, error))
    return TRUE;
  tsf_config_clear (config);
  return FALSE;
}

gboolean
tsf_config_load_file (TsfConfig *config, const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  gsize length = 0;

  memset (config, 0, sizeof (*config));
  return read_file (path, CONFIG_WHAT, TSF_MAX_CONFIG_BYTES, &text, &length, error)
      && tsf_config_parse (config, text, length, path, error);
}
