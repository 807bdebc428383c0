/* tsf-npy.c: NumPy .npy files of float32 (float64 read and rounded to float32; bool and uint8
 * frame masks). Layout: "\x93NUMPY", a major and minor version byte,
 * the header length (2 bytes little-endian in version 1, 4 bytes in versions 2 and 3), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (T, C, H, W), }
 * padded with spaces and a newline, then the data. */
#include "timesformer-npy.h"
#include "tsf-error.h"
#include "tsf-file.h"

#include <gio/gio.h>
#include <string.h>

#define MAGIC "\x93NUMPY"
#define MAGIC_LENGTH 6
#define MAX_HEADER_LENGTH (1 << 20)

/* ---- the header dict: a cursor over a bounded string ---- */

typedef struct {
  const gchar *pos;
  const gchar *end;
} Cursor;

static void
skip_spaces (Cursor *c)
{
  while (c->pos < c->end && g_ascii_isspace (*c->pos))
    c->pos++;
}

/* Consumes `ch` (after spaces) if it is next. */
static gboolean
accept (Cursor *c, gchar ch)
{
  skip_spaces (c);
  if (c->pos < c->end && *c->pos == ch) {
    c->pos++;
    return TRUE;
  }
  return FALSE;
}

/* A quoted string without escapes; returns a copy. */
static gchar *
read_string (Cursor *c)
{
  skip_spaces (c);
  if (c->pos >= c->end || (*c->pos != '\'' && *c->pos != '"'))
    return NULL;
  gchar quote = *c->pos++;
  const gchar *start = c->pos;
  while (c->pos < c->end && *c->pos != quote && *c->pos != '\\')
    c->pos++;
  if (c->pos >= c->end || *c->pos != quote)
    return NULL;
  return g_strndup (start, c->pos++ - start);
}

static gboolean
read_word (Cursor *c, const gchar *word)
{
  gsize length = strlen (word);
  skip_spaces (c);
  if ((gsize) (c->end - c->pos) < length || memcmp (c->pos, word, length) != 0)
    return FALSE;
  c->pos += length;
  return TRUE;
}

static gboolean
read_size (Cursor *c, gsize *value)
{
  skip_spaces (c);
  guint64 number = 0;
  const gchar *start = c->pos;
  while (c->pos < c->end && g_ascii_isdigit (*c->pos)) {
    if (number > (G_MAXSIZE - 9) / 10)
      return FALSE;
    number = number * 10 + (*c->pos++ - '0');
  }
  *value = number;
  return c->pos > start;
}

/* (), (N,), (N, M), (N, M,) ... */
static gboolean
read_shape (Cursor *c, TsfNpyArray *array)
{
  if (!accept (c, '('))
    return FALSE;
  array->ndim = 0;
  while (!accept (c, ')')) {
    if (array->ndim == TSF_NPY_MAX_DIMS || !read_size (c, &array->shape[array->ndim++]))
      return FALSE;
    if (!accept (c, ',')) {
      skip_spaces (c);
      if (c->pos >= c->end || *c->pos != ')')
        return FALSE;
    }
  }
  return TRUE;
}

typedef struct {
  gchar *descr;
  gboolean fortran_order;
  gboolean has_fortran_order;
  gboolean has_shape;
} Header;

static gboolean
read_entry (Cursor *c, Header *header, TsfNpyArray *array)
{
  g_autofree gchar *key = read_string (c);
  if (key == NULL || !accept (c, ':'))
    return FALSE;
  if (strcmp (key, "descr") == 0 && header->descr == NULL)
    return (header->descr = read_string (c)) != NULL;
  if (strcmp (key, "fortran_order") == 0 && !header->has_fortran_order) {
    header->has_fortran_order = TRUE;
    header->fortran_order = read_word (c, "True");
    return header->fortran_order || read_word (c, "False");
  }
  if (strcmp (key, "shape") == 0 && !header->has_shape) {
    header->has_shape = TRUE;
    return read_shape (c, array);
  }
  return FALSE;
}

static gboolean
parse_header (const gchar *text, gsize length, Header *header, TsfNpyArray *array)
{
  Cursor c = { text, text + length };
  if (!accept (&c, '{'))
    return FALSE;
  while (!accept (&c, '}')) {
    if (!read_entry (&c, header, array))
      return FALSE;
    if (!accept (&c, ',')) {
      skip_spaces (&c);
      if (c.pos >= c.end || *c.pos != '}')
        return FALSE;
    }
  }
  skip_spaces (&c);
  return c.pos == c.end && header->descr && header->has_fortran_order && header->has_shape;
}

/* ---- the file ---- */

static gboolean
read_preamble (const guint8 *data, gsize size, const gchar *source, gsize *header_start,
    gsize *header_length, GError **error)
{
  if (size < MAGIC_LENGTH + 2 || memcmp (data, MAGIC, MAGIC_LENGTH) != 0)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "not a NumPy .npy file (no \\x93NUMPY "
        "magic)");
  guint major = data[MAGIC_LENGTH];
  if (major < 1 || major > 3)
    return tsf_file_error (error, TSF_ERROR_UNSUPPORTED, source, ".npy format version %u is not "
        "supported; expected 1, 2 or 3", major);
  gsize width = major == 1 ? 2 : 4;
  *header_start = MAGIC_LENGTH + 2 + width;
  if (size < *header_start)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "truncated .npy header");
  *header_length = 0;
  for (gsize i = 0; i < width; i++)
    *header_length |= (gsize) data[MAGIC_LENGTH + 2 + i] << (8 * i);
  if (*header_length > size - *header_start || *header_length > MAX_HEADER_LENGTH)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "header length %" G_GSIZE_FORMAT
        " does not fit the file of %" G_GSIZE_FORMAT " bytes", *header_length, size);
  return TRUE;
}

/* Element `i` of little-endian float32 or float64 data (x86-64 is little-endian). */
static gfloat
read_element (const guint8 *src, gsize i, gsize element_size)
{
  if (element_size == 1)        /* bool or uint8 (frame masks) */
    return src[i];
  if (element_size == sizeof (gdouble)) {
    gdouble value;
    memcpy (&value, src + i * sizeof value, sizeof value);
    return (gfloat) value;
  }
  gfloat value;
  memcpy (&value, src + i * sizeof value, sizeof value);
  return value;
}

static gboolean
count_elements (const TsfNpyArray *array, gsize *numel)
{
  gsize total = 1;
  for (guint d = 0; d < array->ndim; d++) {
    if (array->shape[d] != 0 && total > G_MAXSIZE / sizeof (gdouble) / array->shape[d])
      return FALSE;
    total *= array->shape[d];
  }
  *numel = total;
  return TRUE;
}

/* Fortran order (first index fastest) to C order (last index fastest). */
static void
copy_fortran_to_c (const guint8 *src, gsize element_size, TsfNpyArray *array, gsize numel)
{
  gsize index[TSF_NPY_MAX_DIMS] = { 0 };
  gsize fortran_stride[TSF_NPY_MAX_DIMS];
  gsize stride = 1;
  for (guint d = 0; d < array->ndim; d++) {
    fortran_stride[d] = stride;
    stride *= array->shape[d];
  }
  for (gsize i = 0; i < numel; i++) {
    gsize offset = 0;
    for (guint d = 0; d < array->ndim; d++)
      offset += index[d] * fortran_stride[d];
    array->data[i] = read_element (src, offset, element_size);
    for (guint d = array->ndim; d-- > 0;) {   /* next C-order index */
      if (++index[d] < array->shape[d])
        break;
      index[d] = 0;
    }
  }
}

/* The element size of `descr`: float32 or float64 for clips, bool or uint8 for `masks`; 0 if
 * it is not one of those. */
static gsize
element_size_of (const gchar *descr, gboolean masks)
{
  if (masks)
    return strcmp (descr, "|b1") == 0 || strcmp (descr, "|u1") == 0 ? 1 : 0;
  return strcmp (descr, "<f4") == 0 ? sizeof (gfloat)
      : strcmp (descr, "<f8") == 0 ? sizeof (gdouble) : 0;
}

static gboolean
parse_body (const guint8 *data, gsize size, const gchar *source, gboolean masks,
    TsfNpyArray *array, GError **error)
{
  gsize start = 0, length = 0, numel = 0;
  if (!read_preamble (data, size, source, &start, &length, error))
    return FALSE;
  Header header = { 0 };
  gboolean ok = parse_header ((const gchar *) data + start, length, &header, array);
  g_autofree gchar *descr = header.descr;
  if (!ok)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "malformed .npy header; expected "
        "{'descr': ..., 'fortran_order': ..., 'shape': (...)} with at most %d dimensions",
        TSF_NPY_MAX_DIMS);
  gsize element_size = element_size_of (descr, masks);
  if (element_size == 0 && masks)
    return tsf_file_error (error, TSF_ERROR_UNSUPPORTED, source, "dtype '%s' is not supported "
        "for a frame mask; expected bool ('|b1') or uint8 ('|u1')", descr);
  if (element_size == 0)
    return tsf_file_error (error, TSF_ERROR_UNSUPPORTED, source, "dtype '%s' is not supported; "
        "expected little-endian float32 ('<f4') or float64 ('<f8'), e.g. "
        "array.astype(numpy.float32)", descr);
  if (!count_elements (array, &numel))
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "shape too large");
  gsize data_size = size - start - length;
  if (data_size != numel * element_size)
    return tsf_file_error (error, TSF_ERROR_FORMAT, source, "%s: the shape needs %" G_GSIZE_FORMAT
        " bytes of data, found %" G_GSIZE_FORMAT, data_size < numel * element_size
        ? "truncated" : "trailing bytes", numel * element_size, data_size);
  array->data = g_new (gfloat, MAX (numel, 1));
  if (header.fortran_order)
    copy_fortran_to_c (data + start + length, element_size, array, numel);
  else if (element_size == sizeof (gfloat))
    memcpy (array->data, data + start + length, numel * sizeof (gfloat));
  else
    for (gsize i = 0; i < numel; i++)
      array->data[i] = read_element (data + start + length, i, element_size);
  return TRUE;
}

gboolean
tsf_npy_parse (const guint8 *data, gsize size, const gchar *source, TsfNpyArray *array,
    GError **error)
{
  memset (array, 0, sizeof *array);
  if (parse_body (data, size, source, FALSE, array, error))
    return TRUE;
  tsf_npy_clear (array);
  return FALSE;
}

static gboolean
io_error (GError **error, const gchar *path, const gchar *action, GError *cause)
{
  tsf_file_error (error, TSF_ERROR_IO, path, "cannot %s: %s", action, cause->message);
  g_error_free (cause);
  return FALSE;
}

static gboolean
read_file (const gchar *path, gboolean masks, TsfNpyArray *array, GError **error)
{
  GMappedFile *file = tsf_file_map (path,
      masks ? "a frame mask .npy array" : "a float32 .npy array", error);
  memset (array, 0, sizeof *array);
  if (file == NULL)
    return FALSE;
  gboolean ok = parse_body ((const guint8 *) g_mapped_file_get_contents (file),
      g_mapped_file_get_length (file), path, masks, array, error);
  g_mapped_file_unref (file);
  if (!ok)
    tsf_npy_clear (array);
  return ok;
}

gboolean
tsf_npy_read (const gchar *path, TsfNpyArray *array, GError **error)
{
  return read_file (path, FALSE, array, error);
}

gboolean
tsf_npy_read_mask (const gchar *path, guint8 **mask, gsize *frames, GError **error)
{
  TsfNpyArray array;

  *mask = NULL;
  if (!read_file (path, TRUE, &array, error))
    return FALSE;
  if (array.ndim != 1) {
    guint ndim = array.ndim;
    tsf_npy_clear (&array);
    return tsf_file_error (error, TSF_ERROR_INPUT, path, "a frame mask has one dimension "
        "(frames); this array has %u", ndim);
  }
  *frames = array.shape[0];
  *mask = g_new (guint8, MAX (*frames, 1));
  for (gsize t = 0; t < *frames; t++)
    (*mask)[t] = array.data[t] != 0;
  tsf_npy_clear (&array);
  return TRUE;
}

/* Version 1 header: the dict padded with spaces so that the data starts on a 64-byte
 * boundary. */
static GString *
format_header (const TsfNpyArray *array)
{
  GString *header = g_string_new_len (MAGIC "\x01\x00__", MAGIC_LENGTH + 4);
  g_string_append (header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  for (guint d = 0; d < array->ndim; d++)
    g_string_append_printf (header, "%" G_GSIZE_FORMAT "%s", array->shape[d],
        array->ndim == 1 || d + 1 < array->ndim ? ", " : "");
  g_string_append (header, "), }");
  while ((header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  gsize dict_length = header->len - (MAGIC_LENGTH + 4);
  header->str[MAGIC_LENGTH + 2] = dict_length & 0xff;
  header->str[MAGIC_LENGTH + 3] = dict_length >> 8;
  return header;
}

gboolean
tsf_npy_write (const gchar *path, const TsfNpyArray *array, GError **error)
{
  gsize numel;
  if (array->ndim > TSF_NPY_MAX_DIMS || !count_elements (array, &numel))
    return tsf_file_error (error, TSF_ERROR_INPUT, path, "cannot write an array of this shape");
  GString *header = format_header (array);
  GError *local = NULL;
  GFile *file = g_file_new_for_path (path);
  GFileOutputStream *stream = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL,
      &local);
  gboolean ok = stream != NULL
      && g_output_stream_write_all (G_OUTPUT_STREAM (stream), header->str, header->len, NULL,
          NULL, &local)
      && g_output_stream_write_all (G_OUTPUT_STREAM (stream), array->data,
          numel * sizeof (gfloat), NULL, NULL, &local)
      && g_output_stream_close (G_OUTPUT_STREAM (stream), NULL, &local);
  g_clear_object (&stream);
  g_object_unref (file);
  g_string_free (header, TRUE);
  return ok || io_error (error, path, "write", local);
}

void
tsf_npy_clear (TsfNpyArray *array)
{
  g_clear_pointer (&array->data, g_free);
  array->ndim = 0;
}
