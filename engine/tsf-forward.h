/* tsf-forward.h: the forward pass on oneDNN (internal). */
#pragma once

#include "timesformer.h"
#include "tsf-weights.h"

G_BEGIN_DECLS

typedef struct _TsfRunner TsfRunner;

/* `config` and `weights` must outlive the runner. The runner copies the layers' linear weights
 * into the layouts its matmuls prefer, releases the originals (tsf_weights_release_data) and
 * points the TsfLinear weights of `weights->layers` at its copies (valid while it lives); the
 * other parameters are read in place. Primitives are built per clip shape (on prepare or first
 * run) and reused. One caller at a time. */
TsfRunner *tsf_runner_new (const TsfConfig *config, TsfWeights *weights, gint threads,
    GError **error);
gboolean tsf_runner_set_threads (TsfRunner *runner, gint threads, GError **error);
gboolean tsf_runner_prepare (TsfRunner *runner, const TsfClipShape *shape, GError **error);
gboolean tsf_runner_run (TsfRunner *runner, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error);
/* Floating point operations of one clip (multiply-add = 2): the linear layers and the
 * attention products, as the official model computes them. */
gdouble tsf_runner_flops (const TsfConfig *config, const TsfClipShape *shape);

/* A GEMM of the model: [m, k] x [k, n], `count` times per clip. */
typedef struct {
  guint m, k, n, count;
} TsfGemmShape;
#define TSF_MAX_GEMM_SHAPES 8
/* The linear layers of one clip (patch embedding, qkv, projections, MLP, classifier); returns
 * how many shapes were written to `out` (at most TSF_MAX_GEMM_SHAPES). */
guint tsf_runner_linear_shapes (const TsfConfig *config, const TsfClipShape *shape,
    TsfGemmShape *out);
/* Bytes of the weights the runner reads (in place: it keeps no copy). */
guint64 tsf_runner_weight_bytes (const TsfRunner *runner);
/* Bytes of the activation buffers and scratchpads of the prepared shapes. */
guint64 tsf_runner_buffer_bytes (const TsfRunner *runner);
void tsf_runner_free (TsfRunner *runner);

G_END_DECLS
