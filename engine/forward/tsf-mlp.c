/* tsf-mlp.c: the MLP stage of a block. */
#include "tsf-plan.h"

/* layernorm_after, intermediate.dense + GELU, output.dense + residual: `in` -> hidden[0]. */
gboolean
tsf_add_mlp (TsfPlan *plan, const TsfLayerOps *ops, const TsfLayerWeights *w, const gfloat *in,
    GError **error)
{
  return tsf_program_layernorm (plan->program, ops->norm, in, plan->normed,
      w->layernorm_after.weight, w->layernorm_after.bias, error)
      && tsf_program_matmul (plan->program, ops->fc1, plan->normed, w->intermediate.weight,
      w->intermediate.bias, plan->mlp, NULL, error)
      && tsf_program_matmul (plan->program, ops->fc2, plan->mlp, w->output.weight,
      w->output.bias, plan->hidden[0], in, error);
}
