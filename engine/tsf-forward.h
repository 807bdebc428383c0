/* tsf-forward.h: the forward pass on oneDNN (internal). */
#pragma once

#include "timesformer.h"
#include "tsf-weights.h"

G_BEGIN_DECLS

typedef struct _TsfRunner TsfRunner;

/* Prepares weights in the layouts the primitives prefer; `weights` must outlive the runner
 * only if the runner says so in its implementation notes. */
TsfRunner *tsf_runner_new (const TsfConfig *config, const TsfWeights *weights, gint threads,
    GError **error);
gboolean tsf_runner_set_threads (TsfRunner *runner, gint threads, GError **error);
gboolean tsf_runner_prepare (TsfRunner *runner, const TsfClipShape *shape, GError **error);
gboolean tsf_runner_run (TsfRunner *runner, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error);
gdouble tsf_runner_flops (const TsfConfig *config, const TsfClipShape *shape);
guint64 tsf_runner_weight_bytes (const TsfRunner *runner);
void tsf_runner_free (TsfRunner *runner);

G_END_DECLS
