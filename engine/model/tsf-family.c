/* tsf-family.c: the table of model families. */
#include "tsf-family.h"

static const TsfModelFamily *const families[] = {
  &tsf_family_timesformer,
  &tsf_family_lucidrains,
};

const TsfModelFamily *
tsf_model_family_default (void)
{
  return families[0];
}

const TsfModelFamily *
tsf_model_family_for_dir (const gchar *dir)
{
  for (guint i = 1; i < G_N_ELEMENTS (families); i++) {
    g_autofree gchar *path = g_build_filename (dir, families[i]->config_file, NULL);
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return families[i];
  }
  return tsf_model_family_default ();
}

const TsfModelFamily *
tsf_model_family_find (const TsfTensorSet *tensors)
{
  /* the others first: the official names share cls_token with lucidrains' */
  for (guint i = 1; i < G_N_ELEMENTS (families); i++)
    if (families[i]->recognises (tensors))
      return families[i];
  return tsf_model_family_default ();
}
