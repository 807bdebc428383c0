/* tsf-family.c: the table of model families. */
#include "tsf-family.h"

static const TsfModelFamily *const families[] = {
  &tsf_family_timesformer,
};

const TsfModelFamily *
tsf_model_family_default (void)
{
  return families[0];
}

const TsfModelFamily *
tsf_model_family_find (const TsfTensorSet *tensors)
{
  for (guint i = 0; i < G_N_ELEMENTS (families); i++)
    if (families[i]->recognises (tensors))
      return families[i];
  return tsf_model_family_default ();
}
