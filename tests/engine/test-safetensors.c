/* model.safetensors: good files load (F32, F16, BF16, mapped), bad ones give clear errors. */
#include <string.h>

#include "test-files.h"
#include "tsf-tensors.h"

static TsfTensorSet *
parse_header (const gchar *header, gsize data_size, GError **error)
{
  g_autoptr (GBytes) bytes = test_safetensors_bytes (header, data_size);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  /* a copy of exactly `size` bytes, so that ASan sees any read past the end */
  g_autofree guint8 *copy = g_memdup2 (data, size);
  TsfTensorSet *set = tsf_safetensors_parse (copy, size, "model.safetensors", error);
  if (set)
    tsf_tensor_set_free (set);  /* tests below only look at errors */
  return set;
}

static void
assert_header_fails (const gchar *header, gsize data_size, TsfError code, const gchar *culprit)
{
  GError *error = NULL;
  g_assert_null (parse_header (header, data_size, &error));
  assert_tsf_error (error, code, culprit);
}

static void
assert_tensor_values (const TsfTensor *tensor, const gchar *name)
{
  gint64 numel = tsf_tensor_numel (tensor);
  g_autofree gfloat *values = g_new (gfloat, numel);
  tsf_tensor_to_f32 (tensor, values);
  for (gint64 i = 0; i < numel; i++)
    g_assert_cmpfloat (values[i], ==, test_tensor_value (name, i));
}

static void
test_good_file (void)
{
  GArray *tensors = test_tensors_new ();
  test_add_tensor (tensors, "a", "F32", 2, (gint64[]) { 2, 3 });
  test_add_tensor (tensors, "b.half", "F16", 3, (gint64[]) { 1, 4, 5 });
  test_add_tensor (tensors, "c.brain", "BF16", 1, (gint64[]) { 7 });
  test_add_tensor (tensors, "scalar", "F32", 0, NULL);
  test_add_tensor (tensors, "empty", "F32", 2, (gint64[]) { 0, 5 });
  gchar *dir = test_dir_new ();
  g_autoptr (GBytes) bytes = test_checkpoint_bytes (tensors);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autofree gchar *path = test_write_file (dir, "model.safetensors", data, size);
  GError *error = NULL;

  TsfTensorSet *set = tsf_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tsf_tensor_set_size (set), ==, 5);
  g_assert_cmpstr (tsf_tensor_set_source (set), ==, path);
  const TsfTensor *a = tsf_tensor_set_lookup (set, "a");
  g_assert_cmpint (a->dtype, ==, TSF_DTYPE_F32);
  g_assert_cmpuint (a->ndim, ==, 2);
  g_assert_cmpint (a->shape[1], ==, 3);
  g_assert_cmpint (a->strides[0], ==, 3);
  g_assert_cmpint (a->strides[1], ==, 1);
  const TsfTensor *b = tsf_tensor_set_lookup (set, "b.half");
  g_assert_cmpint (b->dtype, ==, TSF_DTYPE_F16);
  g_assert_cmpint (b->strides[0], ==, 20);
  g_assert_cmpint (tsf_tensor_set_lookup (set, "c.brain")->dtype, ==, TSF_DTYPE_BF16);
  g_assert_cmpint (tsf_tensor_numel (tsf_tensor_set_lookup (set, "scalar")), ==, 1);
  g_assert_cmpint (tsf_tensor_numel (tsf_tensor_set_lookup (set, "empty")), ==, 0);
  for (guint i = 0; i < tensors->len; i++) {
    const gchar *name = g_array_index (tensors, TestTensor, i).name;
    assert_tensor_values (tsf_tensor_set_lookup (set, name), name);
  }
  /* the data is not copied: tensors point into the file's bytes at their offsets */
  g_assert_cmpint (b->data - a->data, ==, 2 * 3 * 4);
  tsf_tensor_set_release (set, a);
  assert_tensor_values (a, "a");
  tsf_tensor_set_free (set);

  /* the same bytes from memory */
  set = tsf_safetensors_parse (data, size, "memory", &error);
  g_assert_no_error (error);
  g_assert_true (tsf_tensor_set_lookup (set, "a")->data > data);
  g_assert_true (tsf_tensor_set_lookup (set, "a")->data < data + size);
  tsf_tensor_set_free (set);
  g_array_unref (tensors);
  test_dir_free (dir);
}

static void
test_metadata_and_holes_allowed (void)
{
  GError *error = NULL;
  g_autoptr (GBytes) bytes = test_safetensors_bytes ("{\"__metadata__\": {\"format\": "
      "\"pt\"}, \"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}, "
      "\"y\": {\"dtype\": \"F16\", \"shape\": [], \"data_offsets\": [16, 18]}}   ", 20);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  TsfTensorSet *set = tsf_safetensors_parse (data, size, "model.safetensors", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tsf_tensor_set_size (set), ==, 2);
  g_assert_null (tsf_tensor_set_lookup (set, "__metadata__"));
  tsf_tensor_set_free (set);
}

static void
test_missing_file (void)
{
  GError *error = NULL;
  g_assert_null (tsf_safetensors_open ("/nonexistent/model.safetensors", &error));
  assert_tsf_error (error, TSF_ERROR_IO, "/nonexistent/model.safetensors");
}

static void
test_truncated (void)
{
  GArray *tensors = test_tensors_new ();
  test_add_tensor (tensors, "weight", "F32", 2, (gint64[]) { 4, 4 });
  g_autoptr (GBytes) bytes = test_checkpoint_bytes (tensors);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GError *error = NULL;
  gchar *dir = test_dir_new ();

  /* cut inside the data: the tensor's offsets leave the data section */
  g_autofree gchar *path = test_write_file (dir, "model.safetensors", data, size - 1);
  g_assert_null (tsf_safetensors_open (path, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "tensor 'weight': data_offsets [0, 64] are not "
      "inside the data section of 63 bytes");
  /* cut inside the header */
  g_free (test_write_file (dir, "model.safetensors", data, 20));
  g_assert_null (tsf_safetensors_open (path, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "is larger than the 12 bytes that follow it");
  /* cut inside the header length; and an empty file */
  g_free (test_write_file (dir, "model.safetensors", data, 5));
  g_assert_null (tsf_safetensors_open (path, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "truncated: 5 bytes");
  g_free (test_write_file (dir, "model.safetensors", "", 0));
  g_assert_null (tsf_safetensors_open (path, &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "truncated: 0 bytes");
  g_array_unref (tensors);
  test_dir_free (dir);
}

static void
test_header_length_larger_than_file (void)
{
  guint8 bytes[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}' };
  GError *error = NULL;
  g_assert_null (tsf_safetensors_parse (bytes, sizeof bytes, "model.safetensors", &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "model.safetensors: header length "
      "18446744073709551615 is larger than the 8 bytes that follow it");
  bytes[0] = 9;
  memset (bytes + 1, 0, 7);
  g_assert_null (tsf_safetensors_parse (bytes, sizeof bytes, "model.safetensors", &error));
  assert_tsf_error (error, TSF_ERROR_FORMAT, "header length 9 is larger");
}

static void
test_invalid_header_json (void)
{
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\",", 0, TSF_ERROR_FORMAT,
      "model.safetensors: invalid JSON");
  assert_header_fails ("[]", 0, TSF_ERROR_FORMAT, "expected a JSON object");
  assert_header_fails ("{\"x\": 5}", 0, TSF_ERROR_FORMAT, "header entry 'x' is not an object");
  assert_header_fails ("{\"x\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
      TSF_ERROR_FORMAT, "tensor 'x' has no \"dtype\"");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": \"4\", \"data_offsets\": [0, 4]}}",
      4, TSF_ERROR_FORMAT, "tensor 'x': \"shape\" must be a list");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}",
      4, TSF_ERROR_FORMAT, "tensor 'x': \"shape\"");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], "
      "\"data_offsets\": [0, 4]}}", 4, TSF_ERROR_FORMAT, "at most 8");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}",
      4, TSF_ERROR_FORMAT, "tensor 'x': \"data_offsets\" must be a list of 2");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4.0]}}",
      4, TSF_ERROR_FORMAT, "\"data_offsets\"");
}

/* json-glib parses recursively: this used to overflow the stack */
static void
test_deeply_nested_header (void)
{
  const gsize depth = 200000;
  g_autofree gchar *header = g_malloc (2 * depth + 1);
  memset (header, '[', depth);
  memset (header + depth, ']', depth);
  header[2 * depth] = '\0';
  assert_header_fails (header, 0, TSF_ERROR_FORMAT, "invalid JSON: nested deeper than 32");
  /* brackets inside strings do not count */
  GError *error = NULL;
  g_autoptr (GBytes) bytes = test_safetensors_bytes ("{\"__metadata__\": {\"x\": "
      "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}}", 0);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  TsfTensorSet *set = tsf_safetensors_parse (data, size, "model.safetensors", &error);
  g_assert_no_error (error);
  tsf_tensor_set_free (set);
}

static void
test_out_of_range_offsets (void)
{
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
      8, TSF_ERROR_FORMAT, "tensor 'x': data_offsets [4, 12] are not inside the data section "
      "of 8 bytes");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [9, 9]}}",
      8, TSF_ERROR_FORMAT, "tensor 'x': data_offsets [9, 9]");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]}}",
      8, TSF_ERROR_FORMAT, "tensor 'x': data_offsets [8, 4]");
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": "
      "[18446744073709551612, 0]}}", 8, TSF_ERROR_FORMAT, "tensor 'x'");
}

static void
test_size_mismatch (void)
{
  assert_header_fails ("{\"x\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
      8, TSF_ERROR_FORMAT, "tensor 'x': data_offsets [0, 8] hold 8 bytes, but dtype F16 and "
      "its shape need 6");
  /* a shape whose byte size overflows 64 bits */
  assert_header_fails ("{\"x\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], "
      "\"data_offsets\": [0, 0]}}", 8, TSF_ERROR_FORMAT, "tensor 'x': shape too large");
}

static void
test_overlapping_offsets (void)
{
  assert_header_fails ("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
      "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
      TSF_ERROR_FORMAT, "tensors 'a' and 'b' overlap");
  assert_header_fails ("{\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}, "
      "\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 16,
      TSF_ERROR_FORMAT, "tensors 'a' and 'b' overlap");
}

static void
test_unknown_dtype (void)
{
  assert_header_fails ("{\"embeddings\": {\"dtype\": \"Q4_K\", \"shape\": [2], "
      "\"data_offsets\": [0, 8]}}", 8, TSF_ERROR_FORMAT,
      "tensor 'embeddings' has unknown dtype \"Q4_K\"");
  assert_header_fails ("{\"x\": {\"dtype\": 4, \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
      TSF_ERROR_FORMAT, "tensor 'x' has no \"dtype\" string");
}

static void
test_unsupported_dtype (void)
{
  assert_header_fails ("{\"position_ids\": {\"dtype\": \"I64\", \"shape\": [1], "
      "\"data_offsets\": [0, 8]}}", 8, TSF_ERROR_UNSUPPORTED,
      "tensor 'position_ids' has dtype I64; supported dtypes are F32, F16, BF16 and I8");
  assert_header_fails ("{\"w\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
      8, TSF_ERROR_UNSUPPORTED, "tensor 'w' has dtype F64");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/good-file", test_good_file);
  g_test_add_func ("/safetensors/metadata-and-holes-allowed", test_metadata_and_holes_allowed);
  g_test_add_func ("/safetensors/missing-file", test_missing_file);
  g_test_add_func ("/safetensors/truncated", test_truncated);
  g_test_add_func ("/safetensors/header-length-larger-than-file",
      test_header_length_larger_than_file);
  g_test_add_func ("/safetensors/invalid-header-json", test_invalid_header_json);
  g_test_add_func ("/safetensors/deeply-nested-header", test_deeply_nested_header);
  g_test_add_func ("/safetensors/out-of-range-offsets", test_out_of_range_offsets);
  g_test_add_func ("/safetensors/size-mismatch", test_size_mismatch);
  g_test_add_func ("/safetensors/overlapping-offsets", test_overlapping_offsets);
  g_test_add_func ("/safetensors/unknown-dtype", test_unknown_dtype);
  g_test_add_func ("/safetensors/unsupported-dtype", test_unsupported_dtype);
  return g_test_run ();
}
