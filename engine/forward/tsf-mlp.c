/* tsf-mlp.c: the MLP stage of a block, and the token shift of lucidrains' models. */
#include "tsf-plan.h"

#include <string.h>

/* args: normed; sizes: frames, patches, hidden. Channels [0, c) of every patch token take the
 * next frame's values (zeros for the last), [2c, 3c) the previous frame's (zeros for the
 * first), c = hidden / 3. Rows 1 + t * patches + n. */
static void
host_shift_tokens (const gpointer *args, const gsize *sizes)
{
  gfloat *x = args[0];
  gsize frames = sizes[0], patches = sizes[1], d = sizes[2], c = d / 3;
  gsize frame = patches * d;
  gfloat *video = x + d;

  for (gsize t = 0; t < frames; t++)        /* ascending: frame t + 1 is not yet shifted */
    for (gsize n = 0; n < patches; n++) {
      gfloat *row = video + t * frame + n * d;
      if (t + 1 < frames)
        memcpy (row, row + frame, c * sizeof (gfloat));
      else
        memset (row, 0, c * sizeof (gfloat));
    }
  for (gsize t = frames; t-- > 0;)          /* descending: frame t - 1 is not yet shifted */
    for (gsize n = 0; n < patches; n++) {
      gfloat *row = video + t * frame + n * d + 2 * c;
      if (t > 0)
        memcpy (row, row - frame, c * sizeof (gfloat));
      else
        memset (row, 0, c * sizeof (gfloat));
    }
}

void
tsf_add_token_shift (TsfPlan *plan, const TsfConfig *c)
{
  for (gsize b = 0; c->shift_tokens && b < plan->clips; b++) {
    gpointer args[1] = { plan->normed + b * plan->layout.rows * c->hidden_size };
    tsf_program_host (plan->program, host_shift_tokens, 1, args, 3,
        (gsize[]) { plan->layout.frames, plan->layout.patches, c->hidden_size });
  }
}

/* layernorm_after (and the token shift), intermediate.dense + GELU (GEGLU: the intermediate
 * half times GELU of the gate half), output.dense + residual: `in` -> hidden[0]. */
gboolean
tsf_add_mlp (TsfPlan *plan, const TsfConfig *c, const TsfLayerOps *ops,
    const TsfLayerWeights *w, const gfloat *in, GError **error)
{
  if (ops->fc1_gated.matmul == NULL) {
    if (!tsf_add_normed_linear (plan, c, ops->norm, &w->layernorm_after, TRUE, in, &ops->fc1,
            &w->intermediate, plan->mlp, error))
      return FALSE;
  } else {
    if (!tsf_add_normed_input (plan, c, ops->norm, &w->layernorm_after, TRUE, in, error)
        || !tsf_add_linear (plan, &ops->fc1, plan->normed, &w->gate, plan->mlp_gate, NULL, error)
        || !tsf_add_linear (plan, &ops->fc1_gated, plan->normed, &w->intermediate, plan->mlp,
            plan->mlp_gate, error))
      return FALSE;
  }
  return tsf_add_linear (plan, &ops->fc2, plan->mlp, &w->output, plan->hidden[0], in, error);
}
