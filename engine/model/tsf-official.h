/* tsf-official.h: checkpoints of the official facebookresearch/TimeSformer code (internal).
 *
 * Their state dicts use the names of timesformer/models/vit.py (cls_token, pos_embed,
 * blocks.N.attn.qkv...), usually under a "model." prefix, and carry no config: it is inferred
 * from the tensor shapes. */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"

G_BEGIN_DECLS

/* TRUE if the set uses the official names (with or without the "model." prefix). */
gboolean tsf_official_detect (const TsfTensorSet *set);

/* Renames every tensor to its Hugging Face name (one table maps them); a name the table does
 * not know is an error that names it. */
gboolean tsf_official_rename (TsfTensorSet *set, GError **error);

/* Fills `config` (initialised with defaults by the caller) from the shapes of a set with
 * Hugging Face names: hidden size, depth, patch and image size, channels, frames, classes,
 * intermediate size, qkv bias and attention type (temporal blocks: divided; time embeddings
 * only: joint; neither: space-only). `num_heads` 0 picks the default: 12 for hidden size 768,
 * else hidden size / 64. Labels are LABEL_<i>. The caller validates the result
 * (tsf_config_validate). */
gboolean tsf_official_infer_config (const TsfTensorSet *set, guint num_heads, TsfConfig *config,
    GError **error);

G_END_DECLS
