/* tsf-torchzip.c: PyTorch zip checkpoints (see tsf-torchzip.h). */
#include "tsf-torchzip.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "timesformer.h"
#include "tsf-file.h"
#include "tsf-pickle.h"

#define MAX_PICKLE_BYTES ((guint64) 256 << 20)

/* torch.save's legacy format begins with a pickled magic number (LONG1 0x1950a86a20f9469cfc6c). */
static const guint8 legacy_magic[] = {
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19
};

#define RESAVE_HINT "re-save it in the zip format with Python (the default since PyTorch 1.6): " \
  "torch.save(torch.load(\"OLD\", map_location=\"cpu\"), \"NEW\", " \
  "_use_new_zipfile_serialization=True), then load NEW or turn it into model.safetensors " \
  "with `timesformer-cli convert --model NEW --output DIR`"

typedef struct {
  const gchar *source;
  zip_t *zip;
  gchar *prefix;             /* "archive/" */
  GHashTable *storages;      /* key -> bytes (owned); becomes the tensor set's backing */
  GHashTable *storage_sizes; /* key -> byte size of what `storages` holds */
} Archive;

static gboolean
check_magic (const guint8 *data, gsize size, const gchar *source, GError **error)
{
  if (size >= sizeof legacy_magic && !memcmp (data, legacy_magic, sizeof legacy_magic)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED,
        "%s is in PyTorch's legacy (pre-1.6, non-zip) checkpoint format, which is not read "
        "here; " RESAVE_HINT, source);
    return FALSE;
  }
  if (size < 4 || memcmp (data, "PK\x03\x04", 4)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s is not a PyTorch zip checkpoint (it does not begin with a zip header) nor a "
        "model directory", source);
    return FALSE;
  }
  return TRUE;
}

/* Entry names stay inside the archive's folder: no absolute paths, '..', or backslashes. */
static gboolean
is_safe_entry_name (const gchar *name)
{
  g_auto (GStrv) parts = NULL;

  if (!name[0] || name[0] == '/' || strchr (name, '\\') || strchr (name, ':'))
    return FALSE;
  parts = g_strsplit (name, "/", -1);
  for (guint i = 0; parts[i]; i++)
    if (!strcmp (parts[i], ".."))
      return FALSE;
  return TRUE;
}

/* Checks every entry name and finds the one folder that holds data.pkl. */
static gboolean
find_prefix (Archive *archive, GError **error)
{
  zip_int64_t n = zip_get_num_entries (archive->zip, 0);

  for (zip_int64_t i = 0; i < n; i++) {
    const gchar *name = zip_get_name (archive->zip, i, ZIP_FL_ENC_RAW);
    const gchar *slash = name ? strchr (name, '/') : NULL;

    if (!name || !is_safe_entry_name (name)) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
          "%s: zip entry %" G_GINT64_FORMAT " has an unsafe name ('%s'): refused",
          archive->source, (gint64) i, name ? name : "?");
      return FALSE;
    }
    if (slash && !strcmp (slash, "/data.pkl")) {
      if (archive->prefix) {
        g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
            "%s: the archive holds more than one data.pkl", archive->source);
        return FALSE;
      }
      archive->prefix = g_strndup (name, slash - name + 1);
    }
  }
  if (!archive->prefix) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: the zip archive has no <folder>/data.pkl; it is not a PyTorch checkpoint",
        archive->source);
    return FALSE;
  }
  return TRUE;
}

/* Reads a whole entry into a new buffer of exactly `expected` bytes (any size if < 0). */
static guint8 *
read_entry (Archive *archive, const gchar *name, gint64 expected, gsize *size_out,
    GError **error)
{
  zip_stat_t st;
  zip_file_t *file;
  guint8 *buffer;
  zip_int64_t got;
  zip_int64_t index = zip_name_locate (archive->zip, name, ZIP_FL_ENC_RAW);

  if (index < 0) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: the archive has no entry '%s'", archive->source, name);
    return NULL;
  }
  zip_stat_init (&st);
  if (zip_stat_index (archive->zip, index, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: cannot read the size of entry '%s'", archive->source, name);
    return NULL;
  }
  if (expected >= 0 ? st.size != (zip_uint64_t) expected : st.size > MAX_PICKLE_BYTES) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: entry '%s' holds %" G_GUINT64_FORMAT " bytes, expected %" G_GINT64_FORMAT,
        archive->source, name, (guint64) st.size, expected >= 0 ? expected : (gint64) MAX_PICKLE_BYTES);
    return NULL;
  }
  buffer = g_try_malloc (MAX (st.size, 1));
  if (!buffer) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "%s: out of memory reading entry '%s' (%"
        G_GUINT64_FORMAT " bytes)", archive->source, name, (guint64) st.size);
    return NULL;
  }
  file = zip_fopen_index (archive->zip, index, 0);
  got = file ? zip_fread (file, buffer, st.size) : -1;
  if (got < 0 || (zip_uint64_t) got != st.size) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT, "%s: entry '%s' cannot be read (%s)",
        archive->source, name, zip_error_strerror (file ? zip_file_get_error (file)
            : zip_get_error (archive->zip)));
    g_clear_pointer (&buffer, g_free);
  }
  if (file)
    zip_fclose (file);
  *size_out = st.size;
  return buffer;
}

/* The bytes of a storage, read once and shared by the tensors that view it. */
static const guint8 *
get_storage (Archive *archive, const TsfPickleStorage *storage, const gchar *tensor_name,
    GError **error)
{
  g_autofree gchar *entry = NULL;
  guint8 *bytes = g_hash_table_lookup (archive->storages, storage->key);
  gint64 nbytes;
  gsize size;

  if (__builtin_mul_overflow (storage->numel, (gint64) storage->type->element_size, &nbytes)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT, "%s: storage '%s' of tensor '%s' is "
        "impossibly large", archive->source, storage->key, tensor_name);
    return NULL;
  }
  if (bytes) {
    /* another tensor read it already: the same bytes, but declared with the same size? */
    gint64 read = *(gint64 *) g_hash_table_lookup (archive->storage_sizes, storage->key);

    if (read == nbytes)
      return bytes;
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT, "%s: storage '%s' of tensor '%s' is "
        "declared with %" G_GINT64_FORMAT " bytes, but another tensor declared it with %"
        G_GINT64_FORMAT, archive->source, storage->key, tensor_name, nbytes, read);
    return NULL;
  }
  entry = g_strconcat (archive->prefix, "data/", storage->key, NULL);
  if (zip_name_locate (archive->zip, entry, ZIP_FL_ENC_RAW) < 0) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT, "%s: storage '%s' of tensor '%s' is "
        "missing from the archive (no entry '%s')", archive->source, storage->key,
        tensor_name, entry);
    return NULL;
  }
  bytes = read_entry (archive, entry, nbytes, &size, error);
  if (bytes) {
    g_hash_table_insert (archive->storages, g_strdup (storage->key), bytes);
    g_hash_table_insert (archive->storage_sizes, g_strdup (storage->key),
        g_memdup2 (&nbytes, sizeof nbytes));
  }
  return bytes;
}

/* A training checkpoint wraps the weights; a plain state dict is the top level. */
static const TsfPickleValue *
find_state_dict (const TsfPickleValue *root, const gchar *source, GError **error)
{
  static const gchar *const wrappers[] = { "model_state", "state_dict", "model" };

  if (root->kind != TSF_PICKLE_DICT) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s holds a %s, not a dict of tensors", source, tsf_pickle_kind_to_string (root->kind));
    return NULL;
  }
  for (guint i = 0; i < G_N_ELEMENTS (wrappers); i++) {
    const TsfPickleValue *inner = tsf_pickle_dict_lookup (root, wrappers[i]);

    if (inner && inner->kind == TSF_PICKLE_DICT)
      return inner;
  }
  return root;
}

static gboolean
add_tensor (Archive *archive, TsfTensorSet *set, const TsfPickleValue *key,
    const TsfPickleValue *value, GError **error)
{
  const TsfPickleTensor *t = &value->tensor;
  const TsfPickleStorage *storage;
  TsfTensor tensor = { 0 };
  const guint8 *bytes;

  if (key->kind != TSF_PICKLE_STRING) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: the state dict has a %s key; tensor names must be strings", archive->source,
        tsf_pickle_kind_to_string (key->kind));
    return FALSE;
  }
  if (value->kind != TSF_PICKLE_TENSOR) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT, "%s: state dict entry '%s' is a %s, "
        "not a tensor", archive->source, key->string, tsf_pickle_kind_to_string (value->kind));
    return FALSE;
  }
  storage = &t->storage->storage;
  if (!storage->type->supported) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_TENSOR, "%s: tensor '%s' is %s; weights must "
        "be float32, float16 or bfloat16", archive->source, key->string,
        storage->type->dtype_name);
    return FALSE;
  }
  bytes = get_storage (archive, storage, key->string, error);
  if (!bytes)
    return FALSE;
  tensor.name = key->string;
  tensor.dtype = storage->type->dtype;
  tensor.ndim = t->ndim;
  memcpy (tensor.shape, t->shape, sizeof tensor.shape);
  memcpy (tensor.strides, t->strides, sizeof tensor.strides);
  /* the unpickler checked that offset and strides stay inside numel elements */
  tensor.data = bytes + t->offset * storage->type->element_size;
  return tsf_tensor_set_add (set, &tensor, error);
}

/* PyTorch 2 records the byte order of the storages; older files are little-endian. */
static gboolean
check_byteorder (Archive *archive, GError **error)
{
  g_autofree gchar *name = g_strconcat (archive->prefix, "byteorder", NULL);
  g_autofree guint8 *text = NULL;
  gsize size;

  if (zip_name_locate (archive->zip, name, ZIP_FL_ENC_RAW) < 0)
    return TRUE;
  text = read_entry (archive, name, -1, &size, error);
  if (!text)
    return FALSE;
  if (size != strlen ("little") || memcmp (text, "little", size)) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "%s: the storages are not "
        "little-endian ('%s' says otherwise)", archive->source, name);
    return FALSE;
  }
  return TRUE;
}

static TsfTensorSet *
read_state_dict (Archive *archive, GError **error)
{
  g_autofree gchar *pickle_name = g_strconcat (archive->prefix, "data.pkl", NULL);
  g_autofree gchar *pickle_source = g_strdup_printf ("%s (%s)", archive->source, pickle_name);
  g_autofree guint8 *pickle_bytes = NULL;
  const TsfPickleValue *state;
  TsfTensorSet *set = NULL;
  TsfPickle *pickle;
  gsize size;

  pickle_bytes = read_entry (archive, pickle_name, -1, &size, error);
  pickle = pickle_bytes ? tsf_pickle_load (pickle_bytes, size, pickle_source, error) : NULL;
  if (!pickle)
    return NULL;
  state = find_state_dict (tsf_pickle_get_root (pickle), pickle_source, error);
  if (state) {
    set = tsf_tensor_set_new (archive->source, archive->storages,
        (GDestroyNotify) g_hash_table_unref);
    g_hash_table_ref (archive->storages);
    for (guint i = 0; i + 1 < state->items->len; i += 2) {
      if (!add_tensor (archive, set, g_ptr_array_index (state->items, i),
              g_ptr_array_index (state->items, i + 1), error)) {
        g_clear_pointer (&set, tsf_tensor_set_free);
        break;
      }
    }
  }
  tsf_pickle_free (pickle);
  return set;
}

/* Takes ownership of `zsource` (created by the caller from a file or from memory). */
static TsfTensorSet *
read_archive (zip_source_t *zsource, zip_error_t *zerror, const gchar *source, GError **error)
{
  Archive archive = { .source = source };
  TsfTensorSet *set = NULL;

  archive.zip = zsource ? zip_open_from_source (zsource, ZIP_RDONLY | ZIP_CHECKCONS, zerror)
      : NULL;
  if (!archive.zip) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_FORMAT,
        "%s: damaged or truncated zip archive (%s)", source, zip_error_strerror (zerror));
    if (zsource)
      zip_source_free (zsource);
    zip_error_fini (zerror);
    return NULL;
  }
  zip_error_fini (zerror);
  archive.storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  archive.storage_sizes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (find_prefix (&archive, error) && check_byteorder (&archive, error))
    set = read_state_dict (&archive, error);
  zip_discard (archive.zip);
  g_hash_table_unref (archive.storages);
  g_hash_table_unref (archive.storage_sizes);
  g_free (archive.prefix);
  return set;
}

TsfTensorSet *
tsf_torchzip_parse (const guint8 *data, gsize size, const gchar *source, GError **error)
{
  zip_error_t zerror;

  if (!check_magic (data, size, source, error))
    return NULL;
  zip_error_init (&zerror);
  return read_archive (zip_source_buffer_create (data, size, 0, &zerror), &zerror, source,
      error);
}

/* The file is read (not mapped): the storages are copied once, into the tensor set. */
TsfTensorSet *
tsf_torchzip_open (const gchar *path, GError **error)
{
  guint8 head[sizeof legacy_magic];
  zip_error_t zerror;
  zip_source_t *zsource;
  guint64 size;
  gssize got;
  FILE *file;
  gint fd = tsf_file_open_regular (path, "a PyTorch checkpoint", &size, error);

  if (fd < 0)
    return NULL;
  got = pread (fd, head, sizeof head, 0);
  if (!check_magic (head, MAX (got, 0), path, error)) {
    close (fd);
    return NULL;
  }
  if ((file = fdopen (fd, "rb")) == NULL) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot read %s: %s", path, g_strerror (errno));
    close (fd);
    return NULL;
  }
  zip_error_init (&zerror);
  zsource = zip_source_filep_create (file, 0, -1, &zerror);
  if (zsource == NULL)
    fclose (file);
  return read_archive (zsource, &zerror, path, error);
}
