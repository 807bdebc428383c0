/* tsf-mlp.c: the MLP stage of a block. */
#include "tsf-plan.h"

/* layernorm_after, intermediate.dense + GELU, output.dense + residual: `in` -> hidden[0]. */
gboolean
tsf_add_mlp (TsfPlan *plan, const TsfLayerOps *ops, const TsfLayerWeights *w, const gfloat *in,
    GError **error)
{
  return tsf_program_layernorm (plan->program, ops->norm, in, plan->normed,
      w->layernorm_after.weight, w->layernorm_after.bias, error)
      && tsf_add_linear (plan, &ops->fc1, plan->normed, &w->intermediate, plan->mlp, NULL,
      error)
      && tsf_add_linear (plan, &ops->fc2, plan->mlp, &w->output, plan->hidden[0], in, error);
}
