/* tsf-tensors.c: named tensor sets shared by the weight readers. */
#include "tsf-tensors.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "timesformer.h"

struct _TsfTensorSet {
  gchar *source;
  gpointer backing;
  GDestroyNotify backing_free;
  GHashTable *by_name;        /* name -> TsfTensor* (owned) */
  GPtrArray *names;           /* insertion order, NULL-terminated view of the tensors' names */
  gboolean names_dirty;
  gboolean mapped;            /* backing is a read-only file mapping */
};

const gchar *
tsf_dtype_to_string (TsfDType dtype)
{
  switch (dtype) {
    case TSF_DTYPE_F32:
      return "F32";
    case TSF_DTYPE_F16:
      return "F16";
    case TSF_DTYPE_BF16:
      return "BF16";
    case TSF_DTYPE_I8:
      return "I8";
  }
  return "unknown";
}

gsize
tsf_dtype_size (TsfDType dtype)
{
  return dtype == TSF_DTYPE_F32 ? 4 : dtype == TSF_DTYPE_I8 ? 1 : 2;
}

static void
tensor_free (gpointer data)
{
  TsfTensor *tensor = data;

  g_free (tensor->name);
  g_free (tensor);
}

TsfTensorSet *
tsf_tensor_set_new (const gchar *source, gpointer backing, GDestroyNotify backing_free)
{
  TsfTensorSet *set = g_new0 (TsfTensorSet, 1);

  set->source = g_strdup (source);
  set->backing = backing;
  set->backing_free = backing_free;
  set->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, tensor_free);
  set->names = g_ptr_array_new ();
  return set;
}

gboolean
tsf_tensor_set_add (TsfTensorSet *set, const TsfTensor *tensor, GError **error)
{
  TsfTensor *copy;

  if (g_hash_table_contains (set->by_name, tensor->name)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: tensor '%s' appears twice", set->source, tensor->name);
    return FALSE;
  }
  copy = g_memdup2 (tensor, sizeof *tensor);
  copy->name = g_strdup (tensor->name);
  g_hash_table_insert (set->by_name, copy->name, copy);
  set->names_dirty = TRUE;
  return TRUE;
}

const TsfTensor *
tsf_tensor_set_lookup (const TsfTensorSet *set, const gchar *name)
{
  return g_hash_table_lookup (set->by_name, name);
}

gboolean
tsf_tensor_set_rename (TsfTensorSet *set, const gchar *old_name, const gchar *new_name,
    GError **error)
{
  TsfTensor *tensor;

  if (g_hash_table_contains (set->by_name, new_name)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR,
        "%s: cannot rename '%s' to '%s': a tensor of that name exists already",
        set->source, old_name, new_name);
    return FALSE;
  }
  if (!g_hash_table_steal_extended (set->by_name, old_name, NULL, (gpointer *) &tensor)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR,
        "%s: no tensor named '%s'", set->source, old_name);
    return FALSE;
  }
  g_free (tensor->name);
  tensor->name = g_strdup (new_name);
  g_hash_table_insert (set->by_name, tensor->name, tensor);
  set->names_dirty = TRUE;
  return TRUE;
}

guint
tsf_tensor_set_size (const TsfTensorSet *set)
{
  return g_hash_table_size (set->by_name);
}

const gchar *
tsf_tensor_set_source (const TsfTensorSet *set)
{
  return set->source;
}

const gchar *const *
tsf_tensor_set_names (TsfTensorSet *set)
{
  if (set->names_dirty || set->names->len == 0) {
    GList *keys = g_hash_table_get_keys (set->by_name);

    keys = g_list_sort (keys, (GCompareFunc) g_strcmp0);
    g_ptr_array_set_size (set->names, 0);
    for (GList *l = keys; l; l = l->next)
      g_ptr_array_add (set->names, l->data);
    g_ptr_array_add (set->names, NULL);
    g_list_free (keys);
    set->names_dirty = FALSE;
  }
  return (const gchar *const *) set->names->pdata;
}

gint64
tsf_tensor_numel (const TsfTensor *tensor)
{
  gint64 numel = 1;

  for (guint i = 0; i < tensor->ndim; i++)
    numel *= tensor->shape[i];
  return numel;
}

static gfloat
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;
  guint32 bits;
  gfloat value;

  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    /* subnormal half: value = mantissa * 2^-24 */
    value = (gfloat) mantissa * (1.0f / 16777216.0f);
    return sign ? -value : value;
  }
  memcpy (&value, &bits, sizeof value);
  return value;
}

static gfloat
element_to_float (TsfDType dtype, const guint8 *p)
{
  guint32 bits;
  guint16 half;
  gfloat value;

  switch (dtype) {
    case TSF_DTYPE_F32:
      memcpy (&bits, p, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&value, &bits, 4);
      return value;
    case TSF_DTYPE_F16:
      memcpy (&half, p, 2);
      return half_to_float (GUINT16_FROM_LE (half));
    case TSF_DTYPE_BF16:
      memcpy (&half, p, 2);
      bits = (guint32) GUINT16_FROM_LE (half) << 16;
      memcpy (&value, &bits, 4);
      return value;
    case TSF_DTYPE_I8:
      return (gint8) *p;
  }
  return 0.0f;
}

void
tsf_tensor_to_f32 (const TsfTensor *tensor, gfloat *out)
{
  gsize elem = tsf_dtype_size (tensor->dtype);
  gint64 numel = tsf_tensor_numel (tensor);
  gint64 index[TSF_MAX_DIMS] = { 0 };
  gint64 offset = 0;

  for (gint64 n = 0; n < numel; n++) {
    out[n] = element_to_float (tensor->dtype, tensor->data + offset * elem);
    /* advance the multi-index, last dimension fastest */
    for (gint d = (gint) tensor->ndim - 1; d >= 0; d--) {
      index[d]++;
      offset += tensor->strides[d];
      if (index[d] < tensor->shape[d])
        break;
      offset -= tensor->strides[d] * index[d];
      index[d] = 0;
    }
  }
}

void
tsf_tensor_set_mark_mapped (TsfTensorSet *set)
{
  set->mapped = TRUE;
}

/* Drops the pages that lie wholly inside a contiguous tensor from a file mapping; they are
 * read again from the file if touched, so nothing is lost. */
void
tsf_tensor_set_release (TsfTensorSet *set, const TsfTensor *tensor)
{
  guintptr page = (guintptr) sysconf (_SC_PAGESIZE);
  guintptr begin, end;

  if (!set->mapped)
    return;
  begin = ((guintptr) tensor->data + page - 1) & ~(page - 1);
  end = ((guintptr) tensor->data + tsf_tensor_numel (tensor) * tsf_dtype_size (tensor->dtype))
      & ~(page - 1);
  if (end > begin)
    madvise ((void *) begin, end - begin, MADV_DONTNEED);
}

void
tsf_tensor_set_free (TsfTensorSet *set)
{
  if (!set)
    return;
  g_hash_table_destroy (set->by_name);
  g_ptr_array_free (set->names, TRUE);
  if (set->backing_free)
    set->backing_free (set->backing);
  g_free (set->source);
  g_free (set);
}
