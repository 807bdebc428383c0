/* tsf-config.h: config.json and preprocessor_config.json (internal). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* Upper bounds checked by tsf_config_validate(). They keep every size the engine derives
 * (tokens x tokens x heads, hidden x intermediate x layers, ... in bytes) inside 64 bits. */
#define TSF_MAX_IMAGE_SIZE    8192
#define TSF_MAX_CHANNELS      64
#define TSF_MAX_FRAMES        4096
#define TSF_MAX_TOKENS        (1 << 24)  /* frames x (image_size / patch_size)^2 + 1 */
#define TSF_MAX_HIDDEN_SIZE   65536
#define TSF_MAX_LAYERS        1024
#define TSF_MAX_HEADS         1024
#define TSF_MAX_INTERMEDIATE  (1 << 18)
#define TSF_MAX_LABELS        (1 << 20)
/* preprocessor_config.json: image_std from TSF_MIN_IMAGE_STD, both at most this in size. */
#define TSF_MIN_IMAGE_STD       1e-6
#define TSF_MAX_IMAGE_MEAN_STD  1e6

/* Parses config.json text; `filename` names it in errors. Validates values (patch divides the
 * image, heads divide the hidden size, nothing zero, known attention type and activation).
 * Fields absent from the file take transformers' TimesformerConfig defaults. Initialises
 * `config` (any previous content is ignored); on failure it is left cleared. `labels` always
 * holds num_labels strings afterwards. */
gboolean tsf_config_parse (TsfConfig *config, const gchar *json, gsize length,
    const gchar *filename, GError **error);

/* Applies preprocessor_config.json (VideoMAEImageProcessor) text on top of `config`, whose
 * preprocessing fields hold the defaults set by tsf_config_parse(). */
gboolean tsf_config_parse_preprocessor (TsfConfig *config, const gchar *json, gsize length,
    const gchar *filename, GError **error);

/* timesformer_pytorch.json text: lucidrains' TimeSformer keyword arguments (dim, num_frames,
 * num_classes required; image_size, patch_size, channels, depth, heads, dim_head, rotary_emb,
 * shift_tokens with the library's defaults; optional labels; unknown keys refused) as a
 * timesformer_pytorch config (GEGLU 4 x dim, eps 1e-5, no qkv bias), validated. `config`
 * holds the defaults (tsf_config_init_defaults); labels may be left NULL; on failure it is
 * cleared. */
gboolean tsf_config_parse_timesformer_pytorch (TsfConfig *config, const gchar *text,
    gsize length, const gchar *filename, GError **error);

/* config.json (required) and preprocessor_config.json (optional) from a model directory. */
gboolean tsf_config_load_dir (TsfConfig *config, const gchar *dir, GError **error);

/* Checks the values of a config filled by hand (tsf_model_new_random): ranges, the bounds
 * above, patch divides image, heads divide hidden; labels may be NULL. */
gboolean tsf_config_validate (const TsfConfig *config, const gchar *filename, GError **error);

/* TimesformerConfig defaults (num_labels 2) and the documented preprocessing; labels NULL
 * (read as "LABEL_<i>"). */
void tsf_config_init_defaults (TsfConfig *config);
/* Heads x head size: attention_size, or hidden_size when it is 0. */
guint tsf_config_attention_size (const TsfConfig *config);
/* `dest` is overwritten (not cleared first). */
void tsf_config_copy (TsfConfig *dest, const TsfConfig *src);

G_END_DECLS
