/* Tensor sets: dtype conversion, strides, names. */
#include <string.h>

#include "timesformer.h"
#include "tsf-tensors.h"

static TsfTensor
make_tensor (const gchar *name, TsfDType dtype, const guint8 *data, guint ndim,
    const gint64 *shape, const gint64 *strides)
{
  TsfTensor t = { .name = (gchar *) name, .dtype = dtype, .ndim = ndim, .data = data };

  memcpy (t.shape, shape, ndim * sizeof (gint64));
  memcpy (t.strides, strides, ndim * sizeof (gint64));
  return t;
}

static void
test_f16_to_f32 (void)
{
  /* 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), 0.5 */
  const guint16 halves[] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x3800 };
  const gfloat want[] = { 1.0f, -2.0f, 65504.0f, 5.9604645e-8f, 0.5f };
  TsfTensor t = make_tensor ("h", TSF_DTYPE_F16, (const guint8 *) halves, 1,
      (gint64[]) { 5 }, (gint64[]) { 1 });
  gfloat out[5];

  tsf_tensor_to_f32 (&t, out);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpfloat (out[i], ==, want[i]);
}

static void
test_bf16_to_f32 (void)
{
  const guint16 bf[] = { 0x3f80, 0xc040, 0x3e80 };   /* 1.0, -3.0, 0.25 */
  TsfTensor t = make_tensor ("b", TSF_DTYPE_BF16, (const guint8 *) bf, 1,
      (gint64[]) { 3 }, (gint64[]) { 1 });
  gfloat out[3];

  tsf_tensor_to_f32 (&t, out);
  g_assert_cmpfloat (out[0], ==, 1.0f);
  g_assert_cmpfloat (out[1], ==, -3.0f);
  g_assert_cmpfloat (out[2], ==, 0.25f);
}

static void
test_strided_to_f32 (void)
{
  /* a 2x3 view, transposed, of a 3x2 storage starting at element 1 */
  const gfloat storage[] = { -1, 0, 1, 2, 3, 4, 5 };
  TsfTensor t = make_tensor ("s", TSF_DTYPE_F32, (const guint8 *) (storage + 1), 2,
      (gint64[]) { 2, 3 }, (gint64[]) { 1, 2 });
  const gfloat want[] = { 0, 2, 4, 1, 3, 5 };
  gfloat out[6];

  tsf_tensor_to_f32 (&t, out);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpfloat (out[i], ==, want[i]);
}

static void
test_set_names (void)
{
  static const gfloat x[2] = { 1, 2 };
  TsfTensorSet *set = tsf_tensor_set_new ("mem", NULL, NULL);
  TsfTensor a = make_tensor ("b.weight", TSF_DTYPE_F32, (const guint8 *) x, 1,
      (gint64[]) { 2 }, (gint64[]) { 1 });
  TsfTensor b = make_tensor ("a.bias", TSF_DTYPE_F32, (const guint8 *) x, 1,
      (gint64[]) { 2 }, (gint64[]) { 1 });
  GError *error = NULL;
  const gchar *const *names;

  g_assert_true (tsf_tensor_set_add (set, &a, &error));
  g_assert_true (tsf_tensor_set_add (set, &b, &error));
  g_assert_false (tsf_tensor_set_add (set, &a, &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "b.weight"));
  g_clear_error (&error);

  g_assert_true (tsf_tensor_set_rename (set, "b.weight", "c.weight", &error));
  g_assert_null (tsf_tensor_set_lookup (set, "b.weight"));
  g_assert_nonnull (tsf_tensor_set_lookup (set, "c.weight"));
  g_assert_false (tsf_tensor_set_rename (set, "missing", "d", &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_TENSOR);
  g_clear_error (&error);

  names = tsf_tensor_set_names (set);
  g_assert_cmpstr (names[0], ==, "a.bias");
  g_assert_cmpstr (names[1], ==, "c.weight");
  g_assert_null (names[2]);
  g_assert_cmpuint (tsf_tensor_set_size (set), ==, 2);
  tsf_tensor_set_free (set);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensors/f16", test_f16_to_f32);
  g_test_add_func ("/tensors/bf16", test_bf16_to_f32);
  g_test_add_func ("/tensors/strided", test_strided_to_f32);
  g_test_add_func ("/tensors/names", test_set_names);
  return g_test_run ();
}
