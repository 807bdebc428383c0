/* libFuzzer target: the safetensors parser on arbitrary bytes. */
#include "tsf-tensors.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  GError *error = NULL;
  TsfTensorSet *set = tsf_safetensors_parse (data, size, "fuzz.safetensors", &error);
  if (set) {
    /* touch every byte a tensor claims, so that ASan sees any bad pointer */
    for (const gchar *const *name = tsf_tensor_set_names (set); *name; name++) {
      const TsfTensor *tensor = tsf_tensor_set_lookup (set, *name);
      gint64 numel = tsf_tensor_numel (tensor);
      gfloat *values = g_new (gfloat, MAX (numel, 1));
      tsf_tensor_to_f32 (tensor, values);
      g_free (values);
    }
    tsf_tensor_set_free (set);
  }
  g_clear_error (&error);
  return 0;
}
