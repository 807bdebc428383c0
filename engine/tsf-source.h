/* tsf-source.h: resolves what a user passes as a model into a config and a tensor set
 * (internal). Today: a Hugging Face directory with config.json and model.safetensors. */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"

G_BEGIN_DECLS

/* Fills `config` and returns the tensors with Hugging Face names; `name_out` (optional)
 * receives the model's short name. */
TsfTensorSet *tsf_source_open (const gchar *path, TsfConfig *config, gchar **name_out,
    GError **error);

G_END_DECLS
