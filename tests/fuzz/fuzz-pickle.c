/* libFuzzer target: the restricted unpickler on arbitrary bytes (a data.pkl). Every tensor it
 * accepts is read in full from a storage of exactly the size its persistent id declares, so
 * ASan sees any view that the bounds check let past the storage. */
#include <string.h>

#include "tsf-pickle.h"

#define MAX_STORAGE_BYTES (1 << 20)

static void
read_tensor (const TsfPickleValue *value)
{
  const TsfPickleTensor *t = &value->tensor;
  const TsfPickleStorage *storage = &t->storage->storage;
  TsfTensor tensor = { .name = (gchar *) "fuzz", .ndim = t->ndim };
  gsize bytes = storage->numel * storage->type->element_size;
  gint64 numel = 1;
  guint8 *data;
  gfloat *out;

  if (!storage->type->supported || bytes > MAX_STORAGE_BYTES)
    return;
  for (guint i = 0; i < t->ndim; i++)
    numel *= t->shape[i];
  if (numel > MAX_STORAGE_BYTES)
    return;
  tensor.dtype = storage->type->dtype;
  memcpy (tensor.shape, t->shape, sizeof tensor.shape);
  memcpy (tensor.strides, t->strides, sizeof tensor.strides);
  data = g_malloc0 (MAX (bytes, 1));
  tensor.data = data + t->offset * storage->type->element_size;
  out = g_new (gfloat, MAX (numel, 1));
  if (numel > 0)
    tsf_tensor_to_f32 (&tensor, out);
  g_free (out);
  g_free (data);
}

/* The values of the root dict and of dicts one level down (a model_state wrapper). */
static void
read_dict (const TsfPickleValue *dict, guint depth)
{
  if (dict->kind != TSF_PICKLE_DICT)
    return;
  for (guint i = 1; i < dict->items->len; i += 2) {
    const TsfPickleValue *value = g_ptr_array_index (dict->items, i);

    if (value->kind == TSF_PICKLE_TENSOR)
      read_tensor (value);
    else if (depth == 0)
      read_dict (value, 1);
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, gsize size)
{
  GError *error = NULL;
  TsfPickle *pickle = tsf_pickle_load (data, size, "fuzz.pkl", &error);

  if (pickle) {
    read_dict (tsf_pickle_get_root (pickle), 0);
    tsf_pickle_free (pickle);
  }
  g_clear_error (&error);
  return 0;
}
