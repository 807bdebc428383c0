/* tsf-family.h: a model family, the seam where a new checkpoint lineage goes (internal).
 *
 * A family is a small table of functions: how its config is read, how its tensors are named
 * and checked, and which attention scheme builds its blocks. Every family binds its tensors to
 * the same TsfWeights (the parameters the forward pass reads), so the forward pass does not
 * know families. Today: TimeSformer as Hugging Face and the official code ship it
 * (tsf-family-timesformer.c); next: lucidrains' TimeSformer-pytorch (a new file and a line
 * in the table of tsf-family.c).
 */
#pragma once

#include "timesformer.h"
#include "tsf-tensors.h"
#include "tsf-weights.h"

G_BEGIN_DECLS

typedef struct {
  const gchar *name;
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

/* The family of a model directory's config.json (today: the only one). */
const TsfModelFamily *tsf_model_family_default (void);
/* The first family that recognises `tensors`; the default family when none does (its
 * binding then names what is wrong). */
const TsfModelFamily *tsf_model_family_find (const TsfTensorSet *tensors);

G_END_DECLS
