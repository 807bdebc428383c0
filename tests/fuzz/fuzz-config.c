/* libFuzzer target: config.json, preprocessor_config.json and timesformer_pytorch.json parsers
 * on arbitrary bytes. */
#include "tsf-config.h"

#include <string.h>

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  TsfConfig config;
  GError *error = NULL;
  if (tsf_config_parse (&config, (const gchar *) data, size, "config.json", &error)) {
    g_assert (tsf_config_validate (&config, "config.json", NULL));
    for (guint i = 0; i < config.num_labels; i++)
      g_assert (config.labels[i] != NULL && strlen (config.labels[i]) < G_MAXINT);
    tsf_config_clear (&config);
  }
  g_clear_error (&error);

  tsf_config_init_defaults (&config);
  if (tsf_config_parse_timesformer_pytorch (&config, (const gchar *) data, size,
          "timesformer_pytorch.json", &error)) {
    g_assert (tsf_config_validate (&config, "timesformer_pytorch.json", NULL));
    for (guint i = 0; config.labels != NULL && i < config.num_labels; i++)
      g_assert (config.labels[i] != NULL);
    tsf_config_clear (&config);
  }
  g_clear_error (&error);

  const gchar *tiny = "{\"image_size\": 8, \"patch_size\": 4}";
  g_assert (tsf_config_parse (&config, tiny, strlen (tiny), "config.json", NULL));
  if (tsf_config_parse_preprocessor (&config, (const gchar *) data, size,
          "preprocessor_config.json", &error))
    g_assert (tsf_config_validate (&config, "preprocessor_config.json", NULL));
  g_clear_error (&error);
  tsf_config_clear (&config);
  return 0;
}
