/* tsf-tensors.h: named tensors read from a weights file, before they are bound to the model
 * (internal). Every reader (safetensors, PyTorch zip) produces a TsfTensorSet whose tensors
 * have been checked against the bytes that back them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSF_MAX_DIMS 8

typedef enum {
  TSF_DTYPE_F32,
  TSF_DTYPE_F16,
  TSF_DTYPE_BF16,
  TSF_DTYPE_I8,     /* int8: only the quantised linear weights of a model saved at int8 */
} TsfDType;

const gchar *tsf_dtype_to_string (TsfDType dtype);
gsize tsf_dtype_size (TsfDType dtype);

typedef struct {
  gchar *name;
  TsfDType dtype;
  guint ndim;
  gint64 shape[TSF_MAX_DIMS];
  gint64 strides[TSF_MAX_DIMS];   /* in elements; C-contiguous for safetensors */
  const guint8 *data;             /* the first element (storage + offset), little-endian */
} TsfTensor;

typedef struct _TsfTensorSet TsfTensorSet;

/* `source` names the file in errors. `backing` (freed with `backing_free`) keeps `data`
 * pointers alive: a mapped file, zip entries... */
TsfTensorSet *tsf_tensor_set_new (const gchar *source, gpointer backing,
    GDestroyNotify backing_free);
/* Adds a tensor (copied; its data must lie inside the backing). FALSE and an error if the
 * name is already present. */
gboolean tsf_tensor_set_add (TsfTensorSet *set, const TsfTensor *tensor, GError **error);
const TsfTensor *tsf_tensor_set_lookup (const TsfTensorSet *set, const gchar *name);
/* Renames a tensor (used to map other naming schemes onto the Hugging Face names). */
gboolean tsf_tensor_set_rename (TsfTensorSet *set, const gchar *old_name,
    const gchar *new_name, GError **error);
guint tsf_tensor_set_size (const TsfTensorSet *set);
/* Names in insertion order; NULL-terminated, owned by the set. */
const gchar *const *tsf_tensor_set_names (TsfTensorSet *set);
const gchar *tsf_tensor_set_source (const TsfTensorSet *set);
gint64 tsf_tensor_numel (const TsfTensor *tensor);
/* Copies a tensor of any dtype and strides into a contiguous float32 array of numel floats. */
void tsf_tensor_to_f32 (const TsfTensor *tensor, gfloat *out);
/* Says that the backing is a read-only file mapping (set by the reader that mapped it). */
void tsf_tensor_set_mark_mapped (TsfTensorSet *set);
/* Tells the set that a tensor's bytes will not be read again: a mapped file drops its pages
 * from memory (they are read again from the file if touched). */
void tsf_tensor_set_release (TsfTensorSet *set, const TsfTensor *tensor);
void tsf_tensor_set_free (TsfTensorSet *set);

/* model.safetensors: mapped, header parsed and every tensor checked (dtype, shape, offsets
 * inside the data section, no overlaps). */
TsfTensorSet *tsf_safetensors_open (const gchar *path, GError **error);
/* The same on bytes in memory that stay alive while the set is used (fuzzing, tests). */
TsfTensorSet *tsf_safetensors_parse (const guint8 *data, gsize size, const gchar *source,
    GError **error);

G_END_DECLS
