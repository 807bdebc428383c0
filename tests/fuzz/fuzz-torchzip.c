/* libFuzzer target: PyTorch zip checkpoints from memory (libzip, entry names, data.pkl, storage
 * entries and their sizes). Every tensor of an accepted file is read in full. */
#include "tsf-torchzip.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  GError *error = NULL;
  TsfTensorSet *set = tsf_torchzip_parse (data, size, "fuzz.pyth", &error);

  if (set) {
    for (const gchar *const *name = tsf_tensor_set_names (set); *name; name++) {
      const TsfTensor *tensor = tsf_tensor_set_lookup (set, *name);
      gfloat *values = g_new (gfloat, MAX (tsf_tensor_numel (tensor), 1));

      tsf_tensor_to_f32 (tensor, values);
      g_free (values);
    }
    tsf_tensor_set_free (set);
  }
  g_clear_error (&error);
  return 0;
}
