/* libFuzzer target: the whole model-opening path on arbitrary bytes. The input is up to three
 * parts separated by "\n--8<--\n": config.json, preprocessor_config.json, model.safetensors
 * (an absent part is an absent file). They are written into a model directory, which is opened
 * (tsf_source_open: the config, the preprocessor, the weights, the family's names) and bound
 * to the model's parameters, as tsf_model_open does before the forward pass. */
#include "tsf-config.h"
#include "tsf-family.h"
#include "tsf-source.h"
#include "tsf-weights.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#define SEPARATOR "\n--8<--\n"

static const gchar *const file_names[] = {
  "config.json", "preprocessor_config.json", "model.safetensors"
};

static gchar *model_dir;

/* Writes part `i` (or removes the file when the input has no such part). */
static void
write_part (guint i, const guint8 *data, gsize size)
{
  g_autofree gchar *path = g_build_filename (model_dir, file_names[i], NULL);

  if (data == NULL)
    g_unlink (path);
  else
    g_assert (g_file_set_contents (path, (const gchar *) data, size, NULL));
}

static void
write_model (const guint8 *data, gsize size)
{
  const guint8 *part = data;
  gsize left = size;

  for (guint i = 0; i < G_N_ELEMENTS (file_names); i++) {
    const guint8 *end = part ? memmem (part, left, SEPARATOR, strlen (SEPARATOR)) : NULL;
    gsize length = end ? (gsize) (end - part) : left;

    if (i + 1 == G_N_ELEMENTS (file_names))
      length = left;   /* the weights take the rest, separators included */
    write_part (i, part, length);
    if (part != NULL && end != NULL && i + 1 < G_N_ELEMENTS (file_names)) {
      left -= length + strlen (SEPARATOR);
      part = end + strlen (SEPARATOR);
    } else {
      part = NULL;
    }
  }
}

static void
remove_model_dir (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (file_names); i++)
    write_part (i, NULL, 0);
  g_rmdir (model_dir);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  TsfConfig config;
  GError *error = NULL;
  TsfTensorSet *tensors;

  if (model_dir == NULL) {
    model_dir = g_dir_make_tmp ("fuzz-model-XXXXXX", NULL);
    g_assert (model_dir != NULL);
    atexit (remove_model_dir);
  }
  write_model (data, size);
  tensors = tsf_source_open (model_dir, &config, NULL, &error);
  if (tensors != NULL) {
    TsfWeights *weights;

    g_assert (tsf_config_validate (&config, "config.json", NULL));
    weights = tsf_model_family_find (tensors)->bind (&config, tensors, &error);
    tsf_weights_free (weights);
    tsf_config_clear (&config);
  }
  g_clear_error (&error);
  return 0;
}
