/* PyTorch zip checkpoints: the fixtures of tools/make_checkpoint_fixtures.py (valid files read
 * exactly, hostile files refused without side effects), the unpickler on hand-made bytes, and
 * the official-name table. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "timesformer.h"
#include "tsf-official.h"
#include "tsf-pickle.h"
#include "tsf-torchzip.h"

static gchar *fixtures_dir;
static JsonObject *manifest;

static TsfDType
dtype_from_string (const gchar *name)
{
  if (!strcmp (name, "float16"))
    return TSF_DTYPE_F16;
  if (!strcmp (name, "bfloat16"))
    return TSF_DTYPE_BF16;
  g_assert_cmpstr (name, ==, "float32");
  return TSF_DTYPE_F32;
}

static void
check_tensor (TsfTensorSet *set, JsonObject *expected)
{
  const gchar *name = json_object_get_string_member (expected, "name");
  JsonArray *shape = json_object_get_array_member (expected, "shape");
  JsonArray *values = json_object_get_array_member (expected, "values");
  const TsfTensor *tensor = tsf_tensor_set_lookup (set, name);
  g_autofree gfloat *out = NULL;

  g_assert_nonnull (tensor);
  g_assert_cmpint (tensor->dtype, ==,
      dtype_from_string (json_object_get_string_member (expected, "dtype")));
  g_assert_cmpuint (tensor->ndim, ==, json_array_get_length (shape));
  for (guint d = 0; d < tensor->ndim; d++)
    g_assert_cmpint (tensor->shape[d], ==, json_array_get_int_element (shape, d));
  g_assert_cmpint (tsf_tensor_numel (tensor), ==, json_array_get_length (values));
  out = g_new0 (gfloat, MAX (tsf_tensor_numel (tensor), 1));
  tsf_tensor_to_f32 (tensor, out);
  for (guint i = 0; i < json_array_get_length (values); i++)
    g_assert_cmpfloat (out[i], ==, (gfloat) json_array_get_double_element (values, i));
}

static void
test_valid (gconstpointer data)
{
  JsonObject *entry = (JsonObject *) data;
  g_autofree gchar *path = g_build_filename (fixtures_dir,
      json_object_get_string_member (entry, "file"), NULL);
  JsonArray *tensors = json_object_get_array_member (entry, "tensors");
  g_autoptr (GError) error = NULL;
  g_autofree gchar *bytes = NULL;
  gsize size;

  /* from the file, and from the same bytes in memory */
  g_assert_true (g_file_get_contents (path, &bytes, &size, NULL));
  for (guint from_memory = 0; from_memory < 2; from_memory++) {
    TsfTensorSet *set = from_memory
        ? tsf_torchzip_parse ((const guint8 *) bytes, size, path, &error)
        : tsf_torchzip_open (path, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (tsf_tensor_set_size (set), ==, json_array_get_length (tensors));
    for (guint i = 0; i < json_array_get_length (tensors); i++)
      check_tensor (set, json_array_get_object_element (tensors, i));
    tsf_tensor_set_free (set);
  }
}

static void
test_hostile (gconstpointer data)
{
  JsonObject *entry = (JsonObject *) data;
  g_autofree gchar *path = g_build_filename (fixtures_dir,
      json_object_get_string_member (entry, "file"), NULL);
  const gchar *marker = json_object_get_null_member (entry, "marker") ? NULL
      : json_object_get_string_member (entry, "marker");
  g_autoptr (GError) error = NULL;
  TsfTensorSet *set;

  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  set = tsf_torchzip_open (path, &error);
  g_assert_null (set);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  if (!strstr (error->message, json_object_get_string_member (entry, "error")))
    g_error ("expected '%s' in '%s'", json_object_get_string_member (entry, "error"),
        error->message);
  if (marker)
    g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
}

/* ---- the unpickler on bytes ---- */

static void
expect_pickle_error (const gchar *bytes, gsize size, const gchar *message)
{
  g_autoptr (GError) error = NULL;
  TsfPickle *pickle = tsf_pickle_load ((const guint8 *) bytes, size, "test", &error);

  if (pickle)
    g_error ("a pickle expected to fail with '%s' was accepted", message);
  if (!strstr (error->message, message))
    g_error ("expected '%s' in '%s'", message, error->message);
}

#define EXPECT_PICKLE_ERROR(literal, message) \
  expect_pickle_error (literal, sizeof (literal) - 1, message)

static void
test_pickle_malformed (void)
{
  EXPECT_PICKLE_ERROR ("", "without STOP");
  EXPECT_PICKLE_ERROR ("\x80\x02.", "stack is empty");
  EXPECT_PICKLE_ERROR ("\x80\x09}.", "protocol 9");
  EXPECT_PICKLE_ERROR ("\x80\x02h\x05.", "memo entry 5 was never stored");
  EXPECT_PICKLE_ERROR ("\x80\x02(t(.", "stack is empty");
  EXPECT_PICKLE_ERROR ("\x80\x02K\x01K\x02s.", "stack is empty");
  EXPECT_PICKLE_ERROR ("\x80\x02]K\x01K\x02s.", "not a dict");
  EXPECT_PICKLE_ERROR ("\x80\x02}K\x01" "a.", "not a list");
  EXPECT_PICKLE_ERROR ("\x80\x02t.", "no MARK");
  EXPECT_PICKLE_ERROR ("\x80\x02X\x10\x00\x00\x00" "ab.", "truncated");
  EXPECT_PICKLE_ERROR ("\x80\x02X\x02\x00\x00\x00\xff\xfe.", "not valid UTF-8");
  EXPECT_PICKLE_ERROR ("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.", "too large");
  EXPECT_PICKLE_ERROR ("\x80\x02" "cos\nsystem", "end of line");
  EXPECT_PICKLE_ERROR ("\x80\x02" "ctorch\nTensor\n.", "'torch.Tensor' is not allowed");
  EXPECT_PICKLE_ERROR ("\x80\x02K\x01)R.", "REDUCE of a int");
  EXPECT_PICKLE_ERROR ("\x80\x02K\x01Q.", "persistent id");
  EXPECT_PICKLE_ERROR ("\x80\x02S'a'\n.", "opcode 0x53 is not allowed");
  EXPECT_PICKLE_ERROR ("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", "without arguments");
}

static void
test_pickle_values (void)
{
  /* {"a": [1, -2, 2**40, 0.5, True, None], "b": ("x",)} with memo round trips */
  static const gchar bytes[] =
      "\x80\x02}q\x00(X\x01\x00\x00\x00" "a]q\x01(K\x01J\xfe\xff\xff\xff"
      "\x8a\x06\x00\x00\x00\x00\x00\x01G?\xe0\x00\x00\x00\x00\x00\x00\x88Ne"
      "\x8c\x01" "bh\x01\x8c\x01x\x86u.";
  g_autoptr (GError) error = NULL;
  TsfPickle *pickle = tsf_pickle_load ((const guint8 *) bytes, sizeof bytes - 1, "t", &error);
  const TsfPickleValue *root, *a, *b;

  g_assert_no_error (error);
  root = tsf_pickle_get_root (pickle);
  a = tsf_pickle_dict_lookup (root, "a");
  b = tsf_pickle_dict_lookup (root, "b");
  g_assert_cmpint (a->kind, ==, TSF_PICKLE_LIST);
  g_assert_cmpuint (a->items->len, ==, 6);
  g_assert_cmpint (((TsfPickleValue *) a->items->pdata[0])->integer, ==, 1);
  g_assert_cmpint (((TsfPickleValue *) a->items->pdata[1])->integer, ==, -2);
  g_assert_cmpint (((TsfPickleValue *) a->items->pdata[2])->integer, ==, G_GINT64_CONSTANT (1) << 40);
  g_assert_cmpfloat (((TsfPickleValue *) a->items->pdata[3])->real, ==, 0.5);
  g_assert_true (((TsfPickleValue *) a->items->pdata[4])->boolean);
  g_assert_cmpint (((TsfPickleValue *) a->items->pdata[5])->kind, ==, TSF_PICKLE_NONE);
  /* "b" is the tuple ([...], "x") whose first item is the memoised list itself */
  g_assert_cmpint (b->kind, ==, TSF_PICKLE_TUPLE);
  g_assert_true (b->items->pdata[0] == a);
  g_assert_cmpstr (((TsfPickleValue *) b->items->pdata[1])->string, ==, "x");
  tsf_pickle_free (pickle);
}

/* ---- official names ---- */

static void
add_dummy (TsfTensorSet *set, const gchar *name, guint ndim, const gint64 *shape)
{
  static const gfloat zeros[4096];
  TsfTensor t = { .name = (gchar *) name, .dtype = TSF_DTYPE_F32, .ndim = ndim, .data = (const guint8 *) zeros };
  gint64 stride = 1;

  for (gint d = ndim - 1; d >= 0; d--) {
    t.shape[d] = shape[d];
    t.strides[d] = stride;
    stride *= shape[d];
  }
  g_assert_true (tsf_tensor_set_add (set, &t, NULL));
}

static void
test_official_names (void)
{
  TsfTensorSet *set = tsf_tensor_set_new ("official", NULL, NULL);
  g_autoptr (GError) error = NULL;
  static const struct { const gchar *official, *hf; } cases[] = {
    { "model.cls_token", "timesformer.embeddings.cls_token" },
    { "model.pos_embed", "timesformer.embeddings.position_embeddings" },
    { "model.time_embed", "timesformer.embeddings.time_embeddings" },
    { "model.patch_embed.proj.weight", "timesformer.embeddings.patch_embeddings.projection.weight" },
    { "model.blocks.0.norm1.bias", "timesformer.encoder.layer.0.layernorm_before.bias" },
    { "model.blocks.11.attn.qkv.weight", "timesformer.encoder.layer.11.attention.attention.qkv.weight" },
    { "model.blocks.3.attn.proj.bias", "timesformer.encoder.layer.3.attention.output.dense.bias" },
    { "model.blocks.2.temporal_norm1.weight", "timesformer.encoder.layer.2.temporal_layernorm.weight" },
    { "model.blocks.2.temporal_attn.qkv.bias", "timesformer.encoder.layer.2.temporal_attention.attention.qkv.bias" },
    { "model.blocks.2.temporal_attn.proj.weight", "timesformer.encoder.layer.2.temporal_attention.output.dense.weight" },
    { "model.blocks.2.temporal_fc.weight", "timesformer.encoder.layer.2.temporal_dense.weight" },
    { "model.blocks.1.norm2.weight", "timesformer.encoder.layer.1.layernorm_after.weight" },
    { "model.blocks.1.mlp.fc1.bias", "timesformer.encoder.layer.1.intermediate.dense.bias" },
    { "model.blocks.1.mlp.fc2.weight", "timesformer.encoder.layer.1.output.dense.weight" },
    { "model.norm.weight", "timesformer.layernorm.weight" },
    { "model.head.bias", "classifier.bias" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    add_dummy (set, cases[i].official, 1, (gint64[]) { 1 });
  g_assert_true (tsf_official_detect (set));
  g_assert_true (tsf_official_rename (set, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_nonnull (tsf_tensor_set_lookup (set, cases[i].hf));
  g_assert_false (tsf_official_detect (set));
  tsf_tensor_set_free (set);

  set = tsf_tensor_set_new ("official", NULL, NULL);
  add_dummy (set, "cls_token", 1, (gint64[]) { 1 });
  add_dummy (set, "blocks.0.attn.bogus.weight", 1, (gint64[]) { 1 });
  g_assert_false (tsf_official_rename (set, &error));
  g_assert_nonnull (strstr (error->message, "'blocks.0.attn.bogus.weight'"));
  tsf_tensor_set_free (set);
}

static void
add_fixture_tests (void)
{
  const gchar *build_root = g_getenv ("TSF_BUILD_ROOT");
  g_autofree gchar *path = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonArray *valid, *hostile;

  g_assert_nonnull (build_root);
  fixtures_dir = g_build_filename (build_root, "tests", "checkpoints", NULL);
  path = g_build_filename (fixtures_dir, "manifest.json", NULL);
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  manifest = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  valid = json_object_get_array_member (manifest, "valid");
  hostile = json_object_get_array_member (manifest, "hostile");
  g_assert_cmpuint (json_array_get_length (valid), >, 0);
  g_assert_cmpuint (json_array_get_length (hostile), >, 0);
  for (guint i = 0; i < json_array_get_length (valid); i++) {
    JsonObject *entry = json_array_get_object_element (valid, i);
    g_autofree gchar *name = g_strdup_printf ("/torchzip/valid/%s",
        json_object_get_string_member (entry, "file"));
    g_test_add_data_func (name, entry, test_valid);
  }
  for (guint i = 0; i < json_array_get_length (hostile); i++) {
    JsonObject *entry = json_array_get_object_element (hostile, i);
    g_autofree gchar *name = g_strdup_printf ("/torchzip/hostile/%s",
        json_object_get_string_member (entry, "file"));
    g_test_add_data_func (name, entry, test_hostile);
  }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  add_fixture_tests ();
  g_test_add_func ("/pickle/malformed", test_pickle_malformed);
  g_test_add_func ("/pickle/values", test_pickle_values);
  g_test_add_func ("/official/names", test_official_names);
  status = g_test_run ();
  json_object_unref (manifest);
  g_free (fixtures_dir);
  return status;
}
