/* .npy clips: versions 1-3, C and Fortran order, float64, round trip, and bad files. */
#include <string.h>

#include "test-files.h"
#include "timesformer-npy.h"

/* A .npy file: magic, version, header length (2 or 4 bytes), `dict` padded to 64 bytes with a
 * newline, then `data_size` bytes of float32 values 0, 1, 2, ... (truncated to data_size). */
static GBytes *
npy_bytes (guint major, const gchar *dict, gsize data_size)
{
  gsize prefix = major == 1 ? 10 : 12;
  GString *header = g_string_new (dict);
  while ((prefix + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  GByteArray *bytes = g_byte_array_new ();
  guint8 preamble[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', major, 0 };
  for (gsize i = 0; i < prefix - 8; i++)
    preamble[8 + i] = header->len >> (8 * i);
  g_byte_array_append (bytes, preamble, prefix);
  g_byte_array_append (bytes, (const guint8 *) header->str, header->len);
  for (gsize i = 0; i < data_size; i += 4) {
    gfloat value = i / 4;
    g_byte_array_append (bytes, (const guint8 *) &value, MIN (4, data_size - i));
  }
  g_string_free (header, TRUE);
  return g_byte_array_free_to_bytes (bytes);
}

static gboolean
parse (GBytes *bytes, TsfNpyArray *array, GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autofree guint8 *copy = g_memdup2 (data, size);  /* exact size, for ASan */
  return tsf_npy_parse (copy, size, "clip.npy", array, error);
}

static void
assert_npy_fails (guint major, const gchar *dict, gsize data_size, TsfError code,
    const gchar *culprit)
{
  g_autoptr (GBytes) bytes = npy_bytes (major, dict, data_size);
  TsfNpyArray array;
  GError *error = NULL;
  g_assert_false (parse (bytes, &array, &error));
  assert_tsf_error (error, code, culprit);
  g_assert_null (array.data);
}

static void
test_versions (void)
{
  for (guint major = 1; major <= 3; major++) {
    g_autoptr (GBytes) bytes = npy_bytes (major, "{'descr': '<f4', 'fortran_order': False, "
        "'shape': (2, 3, 1, 2), }", 48);
    TsfNpyArray array;
    GError *error = NULL;
    g_assert_true (parse (bytes, &array, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (array.ndim, ==, 4);
    g_assert_cmpuint (array.shape[0], ==, 2);
    g_assert_cmpuint (array.shape[1], ==, 3);
    g_assert_cmpuint (array.shape[3], ==, 2);
    for (guint i = 0; i < 12; i++)
      g_assert_cmpfloat (array.data[i], ==, i);
    tsf_npy_clear (&array);
    g_assert_null (array.data);
  }
}

static void
test_header_variants (void)
{
  const gchar *dicts[] = {
    "{\"shape\": (5,), \"descr\": \"<f4\", \"fortran_order\": False}",
    "{'descr':'<f4','fortran_order':False,'shape':(5,)}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (dicts); i++) {
    g_autoptr (GBytes) bytes = npy_bytes (1, dicts[i], 20);
    TsfNpyArray array;
    g_assert_true (parse (bytes, &array, NULL));
    g_assert_cmpuint (array.ndim, ==, 1);
    g_assert_cmpuint (array.shape[0], ==, 5);
    g_assert_cmpfloat (array.data[4], ==, 4);
    tsf_npy_clear (&array);
  }
  g_autoptr (GBytes) scalar = npy_bytes (1, "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (), }", 4);
  TsfNpyArray array;
  g_assert_true (parse (scalar, &array, NULL));
  g_assert_cmpuint (array.ndim, ==, 0);
  tsf_npy_clear (&array);
}

static void
test_fortran_order (void)
{
  /* stored column-major: element (i, j, k) at i + 2 * j + 6 * k */
  g_autoptr (GBytes) bytes = npy_bytes (1, "{'descr': '<f4', 'fortran_order': True, "
      "'shape': (2, 3, 4), }", 96);
  TsfNpyArray array;
  g_assert_true (parse (bytes, &array, NULL));
  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 3; j++)
      for (guint k = 0; k < 4; k++)
        g_assert_cmpfloat (array.data[(i * 3 + j) * 4 + k], ==, i + 2 * j + 6 * k);
  tsf_npy_clear (&array);
}

static void
test_round_trip (void)
{
  gchar *dir = test_dir_new ();
  g_autofree gchar *path = g_build_filename (dir, "clip.npy", NULL);
  gfloat values[2 * 3 * 4 * 4];
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    values[i] = i * 0.5f - 7.25f;
  TsfNpyArray array = { 4, { 2, 3, 4, 4 }, values }, back;
  GError *error = NULL;
  g_assert_true (tsf_npy_write (path, &array, &error));
  g_assert_no_error (error);
  g_assert_true (tsf_npy_read (path, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (back.ndim, ==, 4);
  g_assert_cmpmem (back.shape, sizeof back.shape[0] * 4, array.shape, sizeof array.shape[0] * 4);
  g_assert_cmpmem (back.data, sizeof values, values, sizeof values);
  tsf_npy_clear (&back);

  TsfNpyArray vector = { 1, { 3 }, values };
  g_assert_true (tsf_npy_write (path, &vector, &error));
  g_assert_true (tsf_npy_read (path, &back, &error));
  g_assert_cmpuint (back.ndim, ==, 1);
  g_assert_cmpuint (back.shape[0], ==, 3);
  tsf_npy_clear (&back);
  test_dir_free (dir);
}

static void
test_missing_file (void)
{
  TsfNpyArray array;
  GError *error = NULL;
  g_assert_false (tsf_npy_read ("/nonexistent/clip.npy", &array, &error));
  assert_tsf_error (error, TSF_ERROR_IO, "/nonexistent/clip.npy");
}

static void
test_not_npy (void)
{
  TsfNpyArray array;
  GError *error = NULL;
  const guint8 text[] = "hello, this is not numpy";
  g_assert_false (tsf_npy_parse (text, sizeof text, "clip.npy", &array, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "clip.npy: not a NumPy .npy file");
  g_assert_false (tsf_npy_parse (text, 0, "clip.npy", &array, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "not a NumPy .npy file");
  const guint8 v1_cut[] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x40 };
  g_assert_false (tsf_npy_parse (v1_cut, sizeof v1_cut, "clip.npy", &array, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "truncated .npy header");
  const guint8 v1_long[] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x40, 0, '{', '}' };
  g_assert_false (tsf_npy_parse (v1_long, sizeof v1_long, "clip.npy", &array, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "header length 64 does not fit");
  assert_npy_fails (4, "{}", 0, TSF_ERROR_UNSUPPORTED, "version 4");
}

/* A .npy file of float64 values (numpy's default dtype) 0.5, 1.5, ... after `dict`. */
static GBytes *
npy_f64_bytes (const gchar *dict, guint count)
{
  g_autoptr (GBytes) header = npy_bytes (1, dict, 0);
  GByteArray *bytes = g_bytes_unref_to_array (g_bytes_ref (header));
  for (guint i = 0; i < count; i++) {
    gdouble value = i + 0.5;
    g_byte_array_append (bytes, (const guint8 *) &value, sizeof value);
  }
  return g_byte_array_free_to_bytes (bytes);
}

static void
test_float64 (void)
{
  g_autoptr (GBytes) c_order = npy_f64_bytes ("{'descr': '<f8', 'fortran_order': False, "
      "'shape': (2, 3), }", 6);
  g_autoptr (GBytes) fortran = npy_f64_bytes ("{'descr': '<f8', 'fortran_order': True, "
      "'shape': (2, 3), }", 6);
  g_autoptr (GBytes) short_data = npy_f64_bytes ("{'descr': '<f8', 'fortran_order': False, "
      "'shape': (2, 3), }", 5);
  TsfNpyArray array;
  GError *error = NULL;

  g_assert_true (parse (c_order, &array, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpfloat (array.data[i], ==, i + 0.5);
  tsf_npy_clear (&array);
  /* stored column-major: element (i, j) at i + 2 * j */
  g_assert_true (parse (fortran, &array, &error));
  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 3; j++)
      g_assert_cmpfloat (array.data[i * 3 + j], ==, i + 2 * j + 0.5);
  tsf_npy_clear (&array);
  g_assert_false (parse (short_data, &array, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "the shape needs 48 bytes of data, found 40");
}

/* A .npy file of one-byte values `bytes` after `dict` (bool or uint8 masks). */
static gchar *
write_mask_file (const gchar *dir, const gchar *name, const gchar *dict, const guint8 *bytes,
    gsize n)
{
  g_autoptr (GBytes) header = npy_bytes (1, dict, 0);
  GByteArray *file = g_bytes_unref_to_array (g_bytes_ref (header));
  g_autoptr (GBytes) data = NULL;

  g_byte_array_append (file, bytes, n);
  data = g_byte_array_free_to_bytes (file);
  return test_write_file (dir, name, g_bytes_get_data (data, NULL), g_bytes_get_size (data));
}

static void
test_frame_masks (void)
{
  gchar *dir = test_dir_new ();
  const guint8 values[4] = { 1, 0, 7, 0 };
  g_autofree gchar *bools = write_mask_file (dir, "b.npy", "{'descr': '|b1', "
      "'fortran_order': False, 'shape': (4,), }", values, 4);
  g_autofree gchar *bytes = write_mask_file (dir, "u.npy", "{'descr': '|u1', "
      "'fortran_order': False, 'shape': (4,), }", values, 4);
  g_autofree gchar *square = write_mask_file (dir, "s.npy", "{'descr': '|u1', "
      "'fortran_order': False, 'shape': (2, 2), }", values, 4);
  g_autofree gchar *floats = write_mask_file (dir, "f.npy", "{'descr': '<f4', "
      "'fortran_order': False, 'shape': (1,), }", values, 4);
  g_autofree guint8 *mask = NULL;
  GError *error = NULL;
  gsize frames = 0;

  for (guint i = 0; i < 2; i++) {
    g_assert_true (tsf_npy_read_mask (i ? bytes : bools, &mask, &frames, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (frames, ==, 4);
    g_assert_cmpmem (mask, 4, ((guint8[]) { 1, 0, 1, 0 }), 4);
    g_clear_pointer (&mask, g_free);
  }
  g_assert_false (tsf_npy_read_mask (square, &mask, &frames, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "one dimension (frames); this array has 2");
  g_assert_false (tsf_npy_read_mask (floats, &mask, &frames, &error));
  assert_tsf_error (error, TSF_ERROR_UNSUPPORTED, "dtype '<f4' is not supported for a frame mask");
  g_assert_null (mask);
  /* a clip is not read as a mask's dtype */
  TsfNpyArray array;
  g_assert_false (tsf_npy_read (bools, &array, &error));
  assert_tsf_error (error, TSF_ERROR_UNSUPPORTED, "dtype '|b1' is not supported");
  test_dir_free (dir);
}

static void
test_wrong_dtype (void)
{
  assert_npy_fails (1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8,
      TSF_ERROR_UNSUPPORTED, "dtype '<i4' is not supported");
  assert_npy_fails (1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8,
      TSF_ERROR_UNSUPPORTED, "dtype '>f4'");
}

static void
test_truncated_data (void)
{
  assert_npy_fails (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 3, 4, 4), }",
      1535, TSF_ERROR_FORMAT, "clip.npy: truncated: the shape needs 1536 bytes of data, found "
      "1535");
  assert_npy_fails (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12,
      TSF_ERROR_FORMAT, "trailing bytes: the shape needs 8 bytes of data, found 12");
}

static void
test_malformed_header (void)
{
  const gchar *dicts[] = {
    "{'descr': '<f4', 'fortran_order': False}",
    "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
    "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
    "{'descr': '<f4\\', 'fortran_order': False, 'shape': (2,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
  };
  for (guint i = 0; i < G_N_ELEMENTS (dicts); i++)
    assert_npy_fails (1, dicts[i], 8, TSF_ERROR_FORMAT, "clip.npy: malformed .npy header");
  assert_npy_fails (1, "{'descr': '<f4', 'fortran_order': False, 'shape': "
      "(4294967296, 4294967296, 4294967296)}", 8, TSF_ERROR_FORMAT, "shape too large");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/npy/versions", test_versions);
  g_test_add_func ("/npy/header-variants", test_header_variants);
  g_test_add_func ("/npy/fortran-order", test_fortran_order);
  g_test_add_func ("/npy/round-trip", test_round_trip);
  g_test_add_func ("/npy/missing-file", test_missing_file);
  g_test_add_func ("/npy/not-npy", test_not_npy);
  g_test_add_func ("/npy/float64", test_float64);
  g_test_add_func ("/npy/frame-masks", test_frame_masks);
  g_test_add_func ("/npy/wrong-dtype", test_wrong_dtype);
  g_test_add_func ("/npy/truncated-data", test_truncated_data);
  g_test_add_func ("/npy/malformed-header", test_malformed_header);
  return g_test_run ();
}
