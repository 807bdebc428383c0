/* tsf-family.h: a model family, the seam where a new checkpoint lineage goes (internal).
 *
 * A family is a small table of functions: how its config is read, how its tensors are named
 * and checked, and which attention scheme builds its blocks. Every family binds its tensors to
 * the same TsfWeights (the parameters the forward pass reads), so the forward pass does not
 * know families. TimeSformer as Hugging Face and the official code ship it
 * (tsf-family-timesformer.c) and lucidrains' TimeSformer-pytorch (tsf-family-lucidrains.c,
 * built by the scheme timesformer_pytorch, tsf-attention-lucidrains.c).
 */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"
#include "tsf-weights.h"

G_BEGIN_DECLS

typedef struct {
  const gchar *name;
  /* the file that makes a directory this family's (the default family: config.json) */
  const gchar *config_file;
  /* the weights file of its directories; NULL: model.safetensors or pytorch_model.bin */
  const gchar *weights_file;
  /* config.json (and preprocessor_config.json) of a model directory; `config` holds the
   * defaults (tsf_config_init_defaults) */
  gboolean (*load_config) (TsfConfig *config, const gchar *dir, GError **error);
  /* TRUE if the tensors are this family's (under any of its naming conventions) */
  gboolean (*recognises) (const TsfTensorSet *tensors);
  /* renames the tensors to the family's canonical names (what bind() expects) */
  gboolean (*normalise_names) (TsfTensorSet *tensors, GError **error);
  /* TRUE if the config can be inferred from the tensors alone (no config.json) */
  gboolean (*can_infer_config) (const TsfTensorSet *tensors);
  /* the config from the canonical tensors' shapes; num_heads 0 = the family's default */
  gboolean (*infer_config) (const TsfTensorSet *tensors, guint num_heads, TsfConfig *config,
      GError **error);
  /* names and checks every tensor against the config and fills the weights; takes
   * ownership of `tensors` (also on failure) */
  TsfWeights *(*bind) (const TsfConfig *config, TsfTensorSet *tensors, GError **error);
} TsfModelFamily;

extern const TsfModelFamily tsf_family_timesformer;
extern const TsfModelFamily tsf_family_lucidrains;

/* The family of config.json and of checkpoints no family recognises. */
const TsfModelFamily *tsf_model_family_default (void);
/* The first family whose config_file `dir` holds; else the default. */
const TsfModelFamily *tsf_model_family_for_dir (const gchar *dir);
/* The first family other than the default that recognises `tensors`; else the default
 * family (which recognises its own, and whose binding names what is wrong otherwise). */
const TsfModelFamily *tsf_model_family_find (const TsfTensorSet *tensors);

G_END_DECLS
