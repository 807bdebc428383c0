/* tsf-safetensors.c: model.safetensors. Layout: an 8-byte little-endian header length N, N
 * bytes of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
 * {...}}), then the data section that the offsets index. The file is mapped read-only; every
 * entry is checked before a pointer into the data section is made. */
#include "tsf-tensors.h"
#include "tsf-error.h"
#include "tsf-file.h"
#include "tsf-json.h"

#include <string.h>

#define HEADER_LENGTH_BYTES 8
#define MAX_HEADER_LENGTH (100 * 1000 * 1000)  /* the safetensors library's own limit */

/* One parsed header entry. */
typedef struct {
  const gchar *name;
  TsfTensor tensor;
  guint64 begin;   /* data_offsets, relative to the data section */
  guint64 end;
} Entry;

static const struct {
  const gchar *name;
  TsfDType dtype;
} supported_dtypes[] = {
  { "F32", TSF_DTYPE_F32 },
  { "F16", TSF_DTYPE_F16 },
  { "BF16", TSF_DTYPE_BF16 },
  { "I8", TSF_DTYPE_I8 },
};

/* Valid safetensors dtypes that the engine does not take. */
static const gchar *const other_dtypes[] = {
  "F64", "F8_E5M2", "F8_E4M3", "BOOL", "U8", "I16", "U16", "I32", "U32", "I64", "U64",
};

static gboolean
parse_dtype (const gchar *source, const gchar *name, JsonObject *entry, TsfDType *dtype,
    GError **error)
{
  JsonNode *node = json_object_get_member (entry, "dtype");
  const gchar *value = node && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
  if (value == NULL)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s' has no \"dtype\" string", name);
  for (guint i = 0; i < G_N_ELEMENTS (supported_dtypes); i++) {
    if (strcmp (value, supported_dtypes[i].name) == 0) {
      *dtype = supported_dtypes[i].dtype;
      return TRUE;
    }
  }
  g_autofree gchar *shown = tsf_json_describe (node);
  for (guint i = 0; i < G_N_ELEMENTS (other_dtypes); i++) {
    if (strcmp (value, other_dtypes[i]) == 0) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED,
          "%s: tensor '%s' has dtype %s; supported dtypes are F32, F16, BF16 and I8", source,
          name, value);
      return FALSE;
    }
  }
  return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s' has unknown dtype %s; expected F32, F16, "
      "BF16 or I8", name, shown);
}

/* A list of `count` (or any number up to `max_count` when count is 0) non-negative integers. */
static gboolean
parse_int_list (const gchar *source, const gchar *name, JsonObject *entry, const gchar *field,
    guint count, guint max_count, guint64 *values, guint *n_values, GError **error)
{
  JsonNode *node = json_object_get_member (entry, field);
  JsonArray *array = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  guint length = array ? json_array_get_length (array) : 0;
  gboolean ok = array != NULL && (count ? length == count : length <= max_count);
  for (guint i = 0; ok && i < length; i++) {
    gint64 value;
    ok = tsf_json_node_get_int64 (json_array_get_element (array, i), &value) && value >= 0;
    values[i] = value;
  }
  if (ok) {
    *n_values = length;
    return TRUE;
  }
  if (count)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s': \"%s\" must be a list of %u "
        "non-negative integers", name, field, count);
  return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s': \"%s\" must be a list of at most %u "
      "non-negative integers", name, field, max_count);
}

/* Element count and byte size, or an error if they overflow. */
static gboolean
tensor_bytes (const gchar *source, const gchar *name, const TsfTensor *tensor, guint64 *bytes,
    GError **error)
{
  guint64 total = tsf_dtype_size (tensor->dtype);
  for (guint d = 0; d < tensor->ndim; d++) {
    if (tensor->shape[d] != 0 && total > G_MAXINT64 / (guint64) tensor->shape[d])
      return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s': shape too large", name);
    total *= tensor->shape[d];
  }
  *bytes = total;
  return TRUE;
}

static gboolean
parse_entry (const gchar *source, const gchar *name, JsonNode *node, guint64 data_size,
    Entry *entry, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "header entry '%s' is not an object", name);
  JsonObject *object = json_node_get_object (node);
  guint64 shape[TSF_MAX_DIMS], offsets[2], bytes = 0;
  guint ndim, n_offsets;
  TsfTensor *tensor = &entry->tensor;
  if (!parse_dtype (source, name, object, &tensor->dtype, error)
      || !parse_int_list (source, name, object, "shape", 0, TSF_MAX_DIMS, shape, &ndim, error)
      || !parse_int_list (source, name, object, "data_offsets", 2, 2, offsets, &n_offsets,
          error))
    return FALSE;
  entry->name = name;
  tensor->ndim = ndim;
  for (guint d = 0; d < ndim; d++)
    tensor->shape[d] = shape[d];
  entry->begin = offsets[0];
  entry->end = offsets[1];
  if (!tensor_bytes (source, name, tensor, &bytes, error))
    return FALSE;
  if (entry->end < entry->begin || entry->end > data_size)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT "] are not inside the data section of %" G_GUINT64_FORMAT " bytes%s",
        name, entry->begin, entry->end, data_size,
        entry->end > data_size ? " (is the file truncated?)" : "");
  if (entry->end - entry->begin != bytes)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT "] hold %" G_GUINT64_FORMAT " bytes, but dtype %s and its shape need %"
        G_GUINT64_FORMAT, name, entry->begin, entry->end, entry->end - entry->begin,
        tsf_dtype_to_string (tensor->dtype), bytes);
  return TRUE;
}

static gint
compare_begin (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static gboolean
check_no_overlap (const gchar *source, GArray *entries, GError **error)
{
  g_array_sort (entries, compare_begin);
  const Entry *previous = NULL;
  for (guint i = 0; i < entries->len; i++) {
    const Entry *entry = &g_array_index (entries, Entry, i);
    if (entry->begin == entry->end)
      continue;  /* empty tensors occupy no bytes */
    if (previous && entry->begin < previous->end)
      return tsf_file_error (error, TSF_ERROR_FORMAT, source, "tensors '%s' and '%s' overlap (data_offsets "
          "[%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] and [%" G_GUINT64_FORMAT ", %"
          G_GUINT64_FORMAT "])", previous->name, entry->name, previous->begin, previous->end,
          entry->begin, entry->end);
    previous = entry;
  }
  return TRUE;
}

static void
set_contiguous_strides (TsfTensor *tensor)
{
  gint64 stride = 1;
  for (guint d = tensor->ndim; d-- > 0;) {
    tensor->strides[d] = stride;
    stride *= tensor->shape[d];
  }
}

static gboolean
parse_entries (const gchar *source, JsonObject *header, guint64 data_size, GArray *entries,
    GError **error)
{
  JsonObjectIter iter;
  const gchar *name;
  JsonNode *node;
  json_object_iter_init (&iter, header);
  while (json_object_iter_next (&iter, &name, &node)) {
    if (strcmp (name, "__metadata__") == 0)
      continue;
    Entry entry = { 0 };
    if (!parse_entry (source, name, node, data_size, &entry, error))
      return FALSE;
    g_array_append_val (entries, entry);
  }
  return check_no_overlap (source, entries, error);
}

static gboolean
add_tensors (TsfTensorSet *set, GArray *entries, const guint8 *data_section, GError **error)
{
  for (guint i = 0; i < entries->len; i++) {
    Entry *entry = &g_array_index (entries, Entry, i);
    entry->tensor.name = (gchar *) entry->name;
    entry->tensor.data = data_section + entry->begin;
    set_contiguous_strides (&entry->tensor);
    if (!tsf_tensor_set_add (set, &entry->tensor, error))
      return FALSE;
  }
  return TRUE;
}

/* Returns the header length after checking that it fits the file. */
static gboolean
read_header_length (const guint8 *data, gsize size, const gchar *source, guint64 *length,
    GError **error)
{
  if (size < HEADER_LENGTH_BYTES)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "truncated: %" G_GSIZE_FORMAT " bytes, shorter than "
        "the 8-byte header length of a safetensors file", size);
  guint64 value = 0;
  for (guint i = 0; i < HEADER_LENGTH_BYTES; i++)
    value |= (guint64) data[i] << (8 * i);
  if (value > size - HEADER_LENGTH_BYTES)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "header length %" G_GUINT64_FORMAT " is larger than "
        "the %" G_GSIZE_FORMAT " bytes that follow it (truncated or not a safetensors file)",
        value, size - HEADER_LENGTH_BYTES);
  if (value > MAX_HEADER_LENGTH)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "header length %" G_GUINT64_FORMAT " is larger than "
        "the limit of %d bytes", value, MAX_HEADER_LENGTH);
  *length = value;
  return TRUE;
}

static TsfTensorSet *
parse_with_backing (const guint8 *data, gsize size, const gchar *source, gpointer backing,
    GDestroyNotify backing_free, GError **error)
{
  guint64 header_length = 0;
  if (!read_header_length (data, size, source, &header_length, error)) {
    if (backing_free)
      backing_free (backing);
    return NULL;
  }
  const guint8 *data_section = data + HEADER_LENGTH_BYTES + header_length;
  guint64 data_size = size - HEADER_LENGTH_BYTES - header_length;
  JsonParser *parser = json_parser_new_immutable ();
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  TsfTensorSet *set = tsf_tensor_set_new (source, backing, backing_free);
  JsonObject *header = tsf_json_parse_object (parser, (const gchar *) data
      + HEADER_LENGTH_BYTES, header_length, source, TSF_ERROR_FORMAT, error);
  gboolean ok = header != NULL && parse_entries (source, header, data_size, entries, error)
      && add_tensors (set, entries, data_section, error);
  g_array_unref (entries);
  g_object_unref (parser);  /* names were copied by tsf_tensor_set_add */
  if (!ok)
    g_clear_pointer (&set, tsf_tensor_set_free);
  return set;
}

TsfTensorSet *
tsf_safetensors_parse (const guint8 *data, gsize size, const gchar *source, GError **error)
{
  return parse_with_backing (data, size, source, NULL, NULL, error);
}

TsfTensorSet *
tsf_safetensors_open (const gchar *path, GError **error)
{
  GMappedFile *file = tsf_file_map (path, "the model's weights (safetensors)", error);
  if (file == NULL)
    return NULL;
  TsfTensorSet *set = parse_with_backing ((const guint8 *) g_mapped_file_get_contents (file),
      g_mapped_file_get_length (file), path, file, (GDestroyNotify) g_mapped_file_unref,
      error);
  if (set)
    tsf_tensor_set_mark_mapped (set);
  return set;
}
