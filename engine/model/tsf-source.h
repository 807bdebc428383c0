/* tsf-source.h: resolves what a user passes as a model into a config and a tensor set
 * (internal): a Hugging Face directory (config.json with model.safetensors or
 * pytorch_model.bin) or a PyTorch checkpoint file (an official .pyth, whose config is inferred
 * from its tensors, or a pytorch_model.bin with a config.json next to it). */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"

G_BEGIN_DECLS

/* Fills `config` and returns the tensors with Hugging Face names; `name_out` (optional)
 * receives the model's short name (the directory's or file's name without extension).
 * `options` (NULL = defaults) gives num_heads for checkpoints without a config and a labels
 * file that replaces the model's labels. */
TsfTensorSet *tsf_source_open_with_options (const gchar *path, const TsfModelOptions *options,
    TsfConfig *config, gchar **name_out, GError **error);
/* The same with default options. */
TsfTensorSet *tsf_source_open (const gchar *path, TsfConfig *config, gchar **name_out,
    GError **error);

G_END_DECLS
