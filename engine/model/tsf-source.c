/* tsf-source.c: what a model path names.
 * - A Hugging Face directory: config.json, optional preprocessor_config.json, and weights in
 *   model.safetensors (preferred) or pytorch_model.bin (a PyTorch zip checkpoint, Hugging
 *   Face or official names).
 * - A lucidrains TimeSformer-pytorch directory: timesformer_pytorch.json and model.pt.
 * - A PyTorch checkpoint file (official .pyth, pytorch_model.bin...): with a config.json next
 *   to it that config is used; else the checkpoint must use the official names and its config
 *   is inferred from the tensor shapes. */
#include "tsf-source.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "tsf-config.h"
#include "tsf-file.h"
#include "tsf-family.h"
#include "tsf-torchzip.h"

/* Weights files a model directory may hold, in order of preference. */
typedef struct {
  const gchar *filename;
  TsfTensorSet *(*open) (const gchar *path, GError **error);
} WeightsFormat;

static const WeightsFormat weights_formats[] = {
  { "model.safetensors", tsf_safetensors_open },
  { "pytorch_model.bin", tsf_torchzip_open },
};

static TsfTensorSet *
open_weights (const gchar *dir, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (weights_formats); i++) {
    g_autofree gchar *path = g_build_filename (dir, weights_formats[i].filename, NULL);
    if (tsf_file_probe (path) != ENOENT)   /* there, or there but unreadable: say why */
      return weights_formats[i].open (path, error);
  }
  GString *expected = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (weights_formats); i++)
    g_string_append_printf (expected, "%s%s", i ? " or " : "", weights_formats[i].filename);
  g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "%s holds no weights; expected %s",
      dir, expected->str);
  g_string_free (expected, TRUE);
  return NULL;
}

/* The model path: a directory, or a regular file (a checkpoint); anything else is refused
 * with the reason. */
static gboolean
check_model_path (const gchar *path, gboolean *is_dir, GError **error)
{
  struct stat st;
  gint errsv = stat (path, &st) == 0 ? 0 : errno;

  if (errsv == 0 && (S_ISDIR (st.st_mode) || S_ISREG (st.st_mode))) {
    *is_dir = S_ISDIR (st.st_mode);
    return TRUE;
  }
  if (errsv == ENOENT)
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "model %s does not exist; expected a Hugging "
        "Face TimesformerForVideoClassification directory (config.json with model.safetensors "
        "or pytorch_model.bin) or a PyTorch checkpoint file (.pyth, pytorch_model.bin)", path);
  else if (errsv != 0)
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "model %s cannot be read: %s", path,
        tsf_file_errno_text (errsv));
  else
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "model %s is %s, neither a directory nor a "
        "regular file (a checkpoint)", path, tsf_file_type_text (st.st_mode));
  return FALSE;
}

/* A directory: its family's config (config.json, timesformer_pytorch.json), then its
 * weights. */
static TsfTensorSet *
open_directory (const gchar *dir, TsfConfig *config, GError **error)
{
  const TsfModelFamily *family = tsf_model_family_for_dir (dir);
  g_autofree gchar *weights = family->weights_file == NULL ? NULL
      : g_build_filename (dir, family->weights_file, NULL);
  TsfTensorSet *tensors;

  if (!family->load_config (config, dir, error))
    return NULL;
  tensors = weights != NULL ? tsf_torchzip_open (weights, error) : open_weights (dir, error);
  if (tensors && !tsf_model_family_find (tensors)->normalise_names (tensors, error))
    g_clear_pointer (&tensors, tsf_tensor_set_free);
  return tensors;
}

/* A checkpoint file: the config next to it, or inferred from official names. */
static TsfTensorSet *
open_checkpoint (const gchar *path, const TsfModelOptions *options, TsfConfig *config,
    GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *sibling_config = g_build_filename (dir, "config.json", NULL);
  const TsfModelFamily *family;
  TsfTensorSet *tensors;
  gboolean ok;

  if (g_str_has_suffix (path, ".safetensors")) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "%s: give the directory that holds this "
        "safetensors file and its config.json, not the file", path);
    return NULL;
  }
  tensors = tsf_torchzip_open (path, error);
  if (!tensors)
    return NULL;
  family = tsf_model_family_find (tensors);
  if (tsf_file_probe (sibling_config) != ENOENT)
    ok = family->load_config (config, dir, error) && family->normalise_names (tensors, error);
  else if (family->can_infer_config (tensors))
    ok = family->normalise_names (tensors, error)
        && family->infer_config (tensors, options->num_heads, config, error);
  else {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s uses Hugging Face names but has no "
        "config.json next to it; put it in a directory with its config.json", path);
    ok = FALSE;
  }
  if (!ok)
    g_clear_pointer (&tensors, tsf_tensor_set_free);
  return tensors;
}

/* --labels: one label per line, as many as the model has classes. */
static gboolean
load_labels_file (const gchar *path, TsfConfig *config, GError **error)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  gsize length;
  guint n;

  if (!tsf_file_read_capped (path, "a labels file (one label per line)",
          TSF_MAX_LABELS_FILE_BYTES, &text, &length, error))
    return FALSE;
  if (!g_utf8_validate (text, length, NULL)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "labels file %s is not UTF-8 text", path);
    return FALSE;
  }
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  if (n > 0 && lines[n - 1][0] == '\0')
    g_clear_pointer (&lines[--n], g_free);          /* the last line's newline */
  for (guint i = 0; i < n; i++) {
    g_strchomp (lines[i]);
    if (lines[i][0] == '\0') {
      g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "labels file %s: line %u is empty; "
          "expected one label per line", path, i + 1);
      return FALSE;
    }
  }
  if (n != config->num_labels) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "labels file %s has %u labels; the model "
        "has %u classes", path, n, config->num_labels);
    return FALSE;
  }
  g_strfreev (config->labels);
  config->labels = g_steal_pointer (&lines);
  return TRUE;
}

static gboolean
apply_options (const gchar *path, const TsfModelOptions *options, TsfConfig *config,
    GError **error)
{
  if (options->num_heads && options->num_heads != config->num_attention_heads) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: the model's config says %u attention "
        "heads but %u were asked for", path, config->num_attention_heads, options->num_heads);
    return FALSE;
  }
  return (!options->labels_file || load_labels_file (options->labels_file, config, error))
      && tsf_config_validate (config, path, error);
}

TsfTensorSet *
tsf_source_open_with_options (const gchar *path, const TsfModelOptions *options,
    TsfConfig *config, gchar **name_out, GError **error)
{
  static const TsfModelOptions defaults = { 0 };
  TsfTensorSet *tensors = NULL;
  gboolean is_dir = FALSE;

  if (!options)
    options = &defaults;
  tsf_config_init_defaults (config);
  if (check_model_path (path, &is_dir, error))
    tensors = is_dir ? open_directory (path, config, error)
        : open_checkpoint (path, options, config, error);
  if (tensors && !apply_options (path, options, config, error))
    g_clear_pointer (&tensors, tsf_tensor_set_free);
  if (!tensors) {
    tsf_config_clear (config);
    return NULL;
  }
  if (name_out) {
    gchar *base = g_path_get_basename (path);
    gchar *dot = is_dir ? NULL : strrchr (base, '.');

    if (dot && dot != base)
      *dot = '\0';
    *name_out = base;
  }
  return tensors;
}

TsfTensorSet *
tsf_source_open (const gchar *path, TsfConfig *config, gchar **name_out, GError **error)
{
  return tsf_source_open_with_options (path, NULL, config, name_out, error);
}
