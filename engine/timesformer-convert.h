/* timesformer-convert.h: writes any model the engine reads as a Hugging Face directory (public:
 * `timesformer-cli convert`). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* Reads `source` (any path tsf_model_open accepts, with `options`), checks its tensors against
 * its config, and writes out_dir/config.json (with id2label and label2id),
 * out_dir/preprocessor_config.json and out_dir/model.safetensors (float32, contiguous, Hugging
 * Face names; with options->precision TSF_PRECISION_INT8 the layers' linear weights as I8
 * with per-channel F32 scales, docs/model-format.md; other precisions are refused). out_dir is created if needed; files are written under temporary names and
 * renamed, so a failure leaves no half-written file. */
gboolean tsf_convert_to_hf (const gchar *source, const TsfModelOptions *options,
    const gchar *out_dir, GError **error);

G_END_DECLS
