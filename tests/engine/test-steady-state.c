/* A prepared clip shape runs without the engine allocating anything: the engine's calls to the
 * allocating functions of libc, GLib and oneDNN are wrapped at link time (-Wl,--wrap, see
 * meson.build) and counted while clips run. oneDNN's own bookkeeping inside
 * dnnl_primitive_execute() is not counted: it is not the engine's to avoid. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include <oneapi/dnnl/dnnl.h>

#include "timesformer.h"
#include "test-files.h"

static gint counting;
static gint allocations;

static void
count (void)
{
  if (g_atomic_int_get (&counting))
    g_atomic_int_inc (&allocations);
}

#define WRAP(ret, name, params, args) \
  ret __real_##name params; \
  ret __wrap_##name params; \
  ret __wrap_##name params { count (); return __real_##name args; }

WRAP (void *, malloc, (size_t n), (n))
WRAP (void *, calloc, (size_t n, size_t size), (n, size))
WRAP (void *, realloc, (void *p, size_t n), (p, n))
WRAP (int, posix_memalign, (void **p, size_t a, size_t n), (p, a, n))
WRAP (gpointer, g_malloc, (gsize n), (n))
WRAP (gpointer, g_malloc0, (gsize n), (n))
WRAP (gpointer, g_malloc_n, (gsize n, gsize size), (n, size))
WRAP (gpointer, g_malloc0_n, (gsize n, gsize size), (n, size))
WRAP (gpointer, g_realloc, (gpointer p, gsize n), (p, n))
WRAP (gpointer, g_aligned_alloc, (gsize n, gsize size, gsize a), (n, size, a))
WRAP (gpointer, g_aligned_alloc0, (gsize n, gsize size, gsize a), (n, size, a))
WRAP (gchar *, g_strdup, (const gchar *s), (s))
WRAP (GPtrArray *, g_ptr_array_new, (void), ())
WRAP (GPtrArray *, g_ptr_array_new_with_free_func, (GDestroyNotify f), (f))
WRAP (void, g_ptr_array_add, (GPtrArray *a, gpointer p), (a, p))
WRAP (GArray *, g_array_new, (gboolean z, gboolean c, guint size), (z, c, size))
WRAP (dnnl_status_t, dnnl_memory_create, (dnnl_memory_t *m, const dnnl_memory_desc_t *md,
        dnnl_engine_t e, void *h), (m, md, e, h))
WRAP (dnnl_status_t, dnnl_primitive_create, (dnnl_primitive_t *p,
        const_dnnl_primitive_desc_t pd), (p, pd))

gchar *__wrap_g_strdup_printf (const gchar *format, ...);
gchar *
__wrap_g_strdup_printf (const gchar *format, ...)
{
  va_list args;
  gchar *s;

  count ();
  va_start (args, format);
  s = g_strdup_vprintf (format, args);
  va_end (args);
  return s;
}

static gint
allocations_of_runs (TsfModel *model, const TsfClipShape *shape, const gfloat *clip, guint runs)
{
  g_autoptr (GError) error = NULL;
  gfloat logits[5];

  g_atomic_int_set (&allocations, 0);
  g_atomic_int_set (&counting, 1);
  for (guint i = 0; i < runs; i++)
    g_assert_true (tsf_model_run (model, clip, shape, logits, &error));
  g_atomic_int_set (&counting, 0);
  g_assert_no_error (error);
  return g_atomic_int_get (&allocations);
}

static void
test_no_allocation_per_clip (gconstpointer data)
{
  TsfAttentionType type = GPOINTER_TO_INT (data);
  TsfModel *model = type == TSF_ATTENTION_TIMESFORMER_PYTORCH
      ? test_small_lucidrains_model (FALSE, NULL) : test_small_random_model (type);
  TsfClipShape shape = { 4, 3, 32, 32 }, other = { 2, 3, 48, 40 };
  gsize n = MAX ((gsize) shape.frames * shape.channels * shape.height * shape.width,
      (gsize) other.frames * other.channels * other.height * other.width);
  gfloat *clip = g_new (gfloat, n);
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < n; i++)
    clip[i] = sinf (i * 0.11f);
  /* The counter sees the engine: a first run of a new shape builds its primitives. */
  g_assert_cmpint (allocations_of_runs (model, &shape, clip, 1), >, 0);
  g_assert_cmpint (allocations_of_runs (model, &shape, clip, 3), ==, 0);
  /* Switching between prepared shapes allocates nothing either. */
  g_assert_true (tsf_model_prepare (model, &other, &error));
  g_assert_no_error (error);
  g_assert_cmpint (allocations_of_runs (model, &other, clip, 2), ==, 0);
  g_assert_cmpint (allocations_of_runs (model, &shape, clip, 2), ==, 0);
  g_free (clip);
  tsf_model_free (model);
}

/* A prepared batch size runs without allocating either. */
static void
test_no_allocation_per_batch (void)
{
  TsfModel *model = test_small_random_model (TSF_ATTENTION_DIVIDED_SPACE_TIME);
  TsfClipShape shape = { 4, 3, 32, 32 };
  gfloat *clip = test_random_clip (&shape, 3), logits[3 * 5];
  const gfloat *clips[3] = { clip, clip, clip };
  g_autoptr (GError) error = NULL;
  TsfSession *session = tsf_session_new (model, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (tsf_session_prepare_batch (session, &shape, 3, &error));
  g_atomic_int_set (&allocations, 0);
  g_atomic_int_set (&counting, 1);
  for (guint i = 0; i < 3; i++)
    g_assert_true (tsf_session_run_batch (session, 3, clips, &shape, NULL, logits, &error));
  g_atomic_int_set (&counting, 0);
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&allocations), ==, 0);
  tsf_session_free (session);
  g_free (clip);
  tsf_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/steady-state/divided",
      GINT_TO_POINTER (TSF_ATTENTION_DIVIDED_SPACE_TIME), test_no_allocation_per_clip);
  g_test_add_data_func ("/steady-state/joint",
      GINT_TO_POINTER (TSF_ATTENTION_JOINT_SPACE_TIME), test_no_allocation_per_clip);
  g_test_add_data_func ("/steady-state/space-only",
      GINT_TO_POINTER (TSF_ATTENTION_SPACE_ONLY), test_no_allocation_per_clip);
  g_test_add_data_func ("/steady-state/sparse-local-global",
      GINT_TO_POINTER (TSF_ATTENTION_SPARSE_LOCAL_GLOBAL), test_no_allocation_per_clip);
  g_test_add_data_func ("/steady-state/axial",
      GINT_TO_POINTER (TSF_ATTENTION_AXIAL), test_no_allocation_per_clip);
  g_test_add_data_func ("/steady-state/timesformer-pytorch",
      GINT_TO_POINTER (TSF_ATTENTION_TIMESFORMER_PYTORCH), test_no_allocation_per_clip);
  g_test_add_func ("/steady-state/batch", test_no_allocation_per_batch);
  return g_test_run ();
}
