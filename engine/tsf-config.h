/* tsf-config.h: config.json and preprocessor_config.json (internal). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* Parses config.json text; `filename` names it in errors. Validates values (patch divides the
 * image, heads divide the hidden size, nothing zero, known attention type and activation). */
gboolean tsf_config_parse (TsfConfig *config, const gchar *json, gsize length,
    const gchar *filename, GError **error);

/* Applies preprocessor_config.json text on top of the defaults. */
gboolean tsf_config_parse_preprocessor (TsfConfig *config, const gchar *json, gsize length,
    const gchar *filename, GError **error);

/* config.json (required) and preprocessor_config.json (optional) from a model directory. */
gboolean tsf_config_load_dir (TsfConfig *config, const gchar *dir, GError **error);

/* Checks the values of a config filled by hand (tsf_model_new_random). */
gboolean tsf_config_validate (const TsfConfig *config, const gchar *filename, GError **error);

void tsf_config_init_defaults (TsfConfig *config);
void tsf_config_copy (TsfConfig *dest, const TsfConfig *src);
void tsf_config_clear (TsfConfig *config);

G_END_DECLS
