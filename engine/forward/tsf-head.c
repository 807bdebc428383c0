/* tsf-head.c: the head: the final LayerNorm on the cls token and the classifier. */
#include "tsf-plan.h"

/* The scheme may average the frames' cls rows first; timesformer.layernorm on the cls token;
 * classifier; per clip. */
gboolean
tsf_add_head (TsfRunner *runner, TsfPlan *plan, GError **error)
{
  const TsfConfig *c = runner->config;
  const TsfWeights *w = runner->weights;
  dnnl_memory_desc_t cls;
  TsfOp *norm, *classifier;

  if (tsf_attention_scheme (c->attention_type)->average_frames_before_head)
    tsf_add_cls_rows_step (plan, tsf_host_average_rows, plan->hidden[0], NULL, c->hidden_size);
  if (!tsf_md_matrix (&cls, plan->precision, 1, c->hidden_size, error)
      || !(norm = tsf_program_layernorm_op (plan->program, &cls, c->layer_norm_eps, error))
      || !(classifier = tsf_linear_op (plan->program, 1, c->hidden_size, c->num_labels, TRUE,
              FALSE, FALSE, NULL, error)))
    return FALSE;
  for (gsize b = 0, clip = plan->layout.rows * c->hidden_size; b < plan->clips; b++)
    if (!tsf_program_layernorm (plan->program, norm, plan->hidden[0] + b * clip,
            plan->normed + b * clip, w->layernorm.weight, w->layernorm.bias, error)
        || !tsf_program_matmul (plan->program, classifier, plan->normed + b * clip,
            w->classifier.weight, w->classifier.bias, plan->logits + b * c->num_labels, NULL,
            error))
      return FALSE;
  return TRUE;
}
