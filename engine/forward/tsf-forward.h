/* tsf-forward.h: the forward pass on oneDNN (internal). */
#pragma once

#include "timesformer.h"
#include "timesformer-bench.h"
#include "tsf-weights.h"

G_BEGIN_DECLS

/* The model's side of the forward pass: the layers' linear weights reordered once into the
 * layouts its matmuls prefer (chosen for the config's own clip shape, used for every shape).
 * Read-only once made: any number of runners may use it from any threads. */
typedef struct _TsfForward TsfForward;
/* One caller's side: per-shape plans, activation buffers, scratchpads, a oneDNN engine and
 * stream. One thread at a time per runner; runners of one forward run concurrently. */
typedef struct _TsfRunner TsfRunner;

/* `config` and `weights` must outlive the forward. It copies the layers' linear weights into
 * its prepared layouts, releases the originals (tsf_weights_release_data) and points the
 * TsfLinear weights of `weights->layers` at its copies, all before it returns; the other
 * parameters are read in place. `threads`: OpenMP threads of the reorders (0 = all cores). */
TsfForward *tsf_forward_new (const TsfConfig *config, TsfWeights *weights,
    TsfPrecision precision, gint threads, GError **error);
void tsf_forward_free (TsfForward *forward);
/* Bytes of the weights the forward pass reads (the prepared copies and those read in place). */
guint64 tsf_forward_weight_bytes (const TsfForward *forward);

/* 0 to TSF_MAX_THREADS, or TSF_ERROR_INPUT. */
gboolean tsf_check_threads (gint threads, GError **error);

/* `forward` must outlive the runner. Primitives are built per clip shape (on prepare or first
 * run) and reused; `threads` (0 = all cores) is applied to the calling thread on every call.
 * A plan whose buffers and scratchpad would pass `max_clip_bytes` (0 = the default) is
 * refused before it is allocated. */
TsfRunner *tsf_runner_new (const TsfForward *forward, gint threads, guint64 max_clip_bytes,
    GError **error);
gint tsf_runner_get_threads (const TsfRunner *runner);
gboolean tsf_runner_set_threads (TsfRunner *runner, gint threads, GError **error);
gboolean tsf_runner_prepare (TsfRunner *runner, const TsfClipShape *shape, guint n_clips,
    GError **error);
/* `n_clips` clips (1 to TSF_MAX_BATCH) in one pass; `masks` (or NULL, or a NULL mask): frames
 * x 0/1, 0 removes the frame as a key (schemes with frame_mask); logits [n_clips, labels]. */
gboolean tsf_runner_run (TsfRunner *runner, guint n_clips, const gfloat *const *clips,
    const TsfClipShape *shape, const guint8 *const *masks, gfloat *logits, GError **error);
/* The linear layers of one clip as the forward runs them (tsf_model_linear_shapes). */
guint tsf_forward_linear_shapes (const TsfForward *forward, const TsfClipShape *shape,
    TsfGemmShape *out);
/* Floating point operations of one clip (multiply-add = 2): the linear layers and the
 * attention products, as the forward computes them (the official model's, but for the
 * temporal output layers it folds into one at bf16 and int8). */
gdouble tsf_forward_flops (const TsfForward *forward, const TsfClipShape *shape);

/* Bytes of the activation buffers and scratchpads of the prepared shapes. */
guint64 tsf_runner_buffer_bytes (const TsfRunner *runner);
void tsf_runner_free (TsfRunner *runner);

G_END_DECLS
