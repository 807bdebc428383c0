/* tsf-family-timesformer.c: TimeSformer (Bertasius et al.) as Hugging Face ships it
 * (TimesformerForVideoClassification: config.json, Hugging Face names) and as the official
 * facebookresearch/TimeSformer code saves it (.pyth: its own names, no config). Official
 * names become Hugging Face names (tsf-official.c); the attention scheme is the config's
 * attention_type (tsf-attention.h). */
#include "tsf-family.h"
#include "tsf-config.h"
#include "tsf-official.h"

#define HF_CLS_TOKEN "timesformer.embeddings.cls_token"

static gboolean
timesformer_recognises (const TsfTensorSet *tensors)
{
  return tsf_official_detect (tensors) || tsf_tensor_set_lookup (tensors, HF_CLS_TOKEN) != NULL;
}

static gboolean
timesformer_normalise_names (TsfTensorSet *tensors, GError **error)
{
  return !tsf_official_detect (tensors) || tsf_official_rename (tensors, error);
}

const TsfModelFamily tsf_family_timesformer = {
  .name = "TimeSformer (Hugging Face, official)",
  .config_file = "config.json",
  .load_config = tsf_config_load_dir,
  .recognises = timesformer_recognises,
  .normalise_names = timesformer_normalise_names,
  .can_infer_config = tsf_official_detect,
  .infer_config = tsf_official_infer_config,
  .bind = tsf_weights_bind,
};
