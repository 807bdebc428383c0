/* libFuzzer target: the .npy parser on arbitrary bytes. */
#include "timesformer-npy.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  TsfNpyArray array;
  GError *error = NULL;
  if (tsf_npy_parse (data, size, "fuzz.npy", &array, &error)) {
    gsize numel = 1;
    for (guint d = 0; d < array.ndim; d++)
      numel *= array.shape[d];
    g_assert (numel * sizeof (gfloat) <= size);
    volatile gfloat sum = 0;
    for (gsize i = 0; i < numel; i++)
      sum += array.data[i];
    tsf_npy_clear (&array);
  }
  g_clear_error (&error);
  return 0;
}
