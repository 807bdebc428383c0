/* tsf-source.c: what a model path names. Today a Hugging Face directory: config.json,
 * model.safetensors and an optional preprocessor_config.json. */
#include "tsf-source.h"
#include "tsf-config.h"

/* Weights files a model directory may hold, in order of preference. */
typedef struct {
  const gchar *filename;
  TsfTensorSet *(*open) (const gchar *path, GError **error);
} WeightsFormat;

static const WeightsFormat weights_formats[] = {
  { "model.safetensors", tsf_safetensors_open },
};

static TsfTensorSet *
open_weights (const gchar *dir, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (weights_formats); i++) {
    g_autofree gchar *path = g_build_filename (dir, weights_formats[i].filename, NULL);
    if (g_file_test (path, G_FILE_TEST_EXISTS))
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

static gboolean
check_directory (const gchar *path, GError **error)
{
  const gchar *expected = "a Hugging Face TimesformerForVideoClassification directory with "
      "config.json and model.safetensors";
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "model %s does not exist; expected %s",
        path, expected);
    return FALSE;
  }
  if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "model %s is not a directory; expected %s",
        path, expected);
    return FALSE;
  }
  return TRUE;
}

TsfTensorSet *
tsf_source_open (const gchar *path, TsfConfig *config, gchar **name_out, GError **error)
{
  tsf_config_init_defaults (config);
  if (!check_directory (path, error) || !tsf_config_load_dir (config, path, error))
    return NULL;
  TsfTensorSet *tensors = open_weights (path, error);
  if (tensors == NULL) {
    tsf_config_clear (config);
    return NULL;
  }
  if (name_out)
    *name_out = g_path_get_basename (path);
  return tensors;
}
