/* Clips the engine must refuse with TSF_ERROR_INPUT (wrong rank, channels, sizes, no frames),
 * and the model staying usable afterwards; thread changes and shape switches keep results. */
#include <math.h>
#include <string.h>

#include "timesformer.h"
#include "test-files.h"

static gfloat *
clip_new (const TsfClipShape *shape)
{
  gsize n = (gsize) shape->frames * shape->channels * shape->height * shape->width;
  gfloat *clip = g_new (gfloat, n);

  for (gsize i = 0; i < n; i++)
    clip[i] = sinf (i * 0.37f);
  return clip;
}

static void
run_ok (TsfModel *model, const TsfClipShape *shape, gfloat *logits)
{
  g_autoptr (GError) error = NULL;
  g_autofree gfloat *clip = clip_new (shape);

  g_assert_true (tsf_model_run (model, clip, shape, logits, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < tsf_model_get_config (model)->num_labels; i++)
    g_assert_true (isfinite (logits[i]));
}

static void
run_fails (TsfModel *model, const TsfClipShape *shape, const gchar *message_part)
{
  g_autoptr (GError) error = NULL;
  gfloat clip[16] = { 0 }, logits[5];
  TsfClipShape shape_copy = *shape;

  /* the model must refuse before reading the clip, so a tiny buffer is safe */
  g_assert_false (tsf_model_run (model, clip, &shape_copy, logits, &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, message_part));
  g_clear_error (&error);
  g_assert_false (tsf_model_prepare (model, &shape_copy, &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_INPUT);
}

static void
test_rank (void)
{
  g_autoptr (GError) error = NULL;
  gsize three[3] = { 4, 3, 32 }, five[5] = { 1, 4, 3, 32, 32 }, zero[4] = { 4, 0, 32, 32 };
  gsize good[4] = { 4, 3, 32, 24 };
  TsfClipShape shape;

  g_assert_false (tsf_clip_shape_from_dims (&shape, 3, three, &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "4 dimensions"));
  g_clear_error (&error);
  g_assert_false (tsf_clip_shape_from_dims (&shape, 5, five, &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (tsf_clip_shape_from_dims (&shape, 4, zero, &error));
  g_assert_error (error, TSF_ERROR, TSF_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_true (tsf_clip_shape_from_dims (&shape, 4, good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (shape.frames, ==, 4);
  g_assert_cmpuint (shape.channels, ==, 3);
  g_assert_cmpuint (shape.height, ==, 32);
  g_assert_cmpuint (shape.width, ==, 24);
}

static void
test_bad_shapes (void)
{
  TsfModel *model = test_small_random_model (TSF_ATTENTION_DIVIDED_SPACE_TIME);
  TsfClipShape good = { 4, 3, 32, 32 };
  gfloat before[5], after[5];

  run_ok (model, &good, before);
  run_fails (model, &(TsfClipShape) { 4, 1, 32, 32 }, "channels");
  run_fails (model, &(TsfClipShape) { 4, 4, 32, 32 }, "channels");
  run_fails (model, &(TsfClipShape) { 0, 3, 32, 32 }, "no frames");
  run_fails (model, &(TsfClipShape) { 4, 3, 30, 32 }, "multiples of the patch size");
  run_fails (model, &(TsfClipShape) { 4, 3, 32, 33 }, "multiples of the patch size");
  run_fails (model, &(TsfClipShape) { 4, 3, 4, 32 }, "multiples of the patch size");
  run_fails (model, &(TsfClipShape) { 4, 3, 32, 0 }, "multiples of the patch size");
  /* still usable, same answer */
  run_ok (model, &good, after);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpfloat (before[i], ==, after[i]);
  tsf_model_free (model);
}

/* Other shapes in between and a thread change (primitives rebuilt) keep the logits. */
static void
test_shapes_and_threads (gconstpointer data)
{
  TsfModel *model = test_small_random_model (GPOINTER_TO_INT (data));
  g_autoptr (GError) error = NULL;
  TsfClipShape a = { 4, 3, 32, 32 }, b = { 2, 3, 16, 40 };
  gfloat first[5], other[5], again[5], one_thread[5];

  run_ok (model, &a, first);
  run_ok (model, &b, other);
  run_ok (model, &a, again);
  g_assert_true (tsf_model_set_threads (model, 1, &error));
  g_assert_no_error (error);
  run_ok (model, &a, one_thread);
  for (guint i = 0; i < 5; i++) {
    g_assert_cmpfloat (first[i], ==, again[i]);
    g_assert_cmpfloat_with_epsilon (first[i], one_thread[i], 1e-5 * (1 + fabsf (first[i])));
  }
  tsf_model_free (model);
}

typedef struct {
  TsfModel *model;
  TsfClipShape shape;
  gfloat logits[5];
} ThreadRun;

static gpointer
run_in_thread (gpointer data)
{
  ThreadRun *run = data;

  for (guint i = 0; i < 3; i++)
    run_ok (run->model, &run->shape, run->logits);
  return NULL;
}

/* Two instances run at the same time in two threads (each its own stream and scratchpad),
 * and a model created in one thread runs in another: same logits as alone. */
static void
test_concurrent_instances (void)
{
  ThreadRun runs[2] = {
    { test_small_random_model (TSF_ATTENTION_DIVIDED_SPACE_TIME), { 4, 3, 32, 32 }, { 0 } },
    { test_small_random_model (TSF_ATTENTION_JOINT_SPACE_TIME), { 3, 3, 24, 32 }, { 0 } },
  };
  gfloat alone[2][5];
  GThread *threads[2];

  for (guint i = 0; i < 2; i++)
    run_ok (runs[i].model, &runs[i].shape, alone[i]);
  for (guint i = 0; i < 2; i++)
    threads[i] = g_thread_new ("run", run_in_thread, &runs[i]);
  for (guint i = 0; i < 2; i++) {
    g_thread_join (threads[i]);
    for (guint j = 0; j < 5; j++)
      g_assert_cmpfloat (runs[i].logits[j], ==, alone[i][j]);
    tsf_model_free (runs[i].model);
  }
}

gint
main (gint argc, gchar **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clip-input/rank", test_rank);
  g_test_add_func ("/clip-input/bad-shapes", test_bad_shapes);
  g_test_add_data_func ("/clip-input/divided/shapes-and-threads",
      GINT_TO_POINTER (TSF_ATTENTION_DIVIDED_SPACE_TIME), test_shapes_and_threads);
  g_test_add_data_func ("/clip-input/joint/shapes-and-threads",
      GINT_TO_POINTER (TSF_ATTENTION_JOINT_SPACE_TIME), test_shapes_and_threads);
  g_test_add_data_func ("/clip-input/space-only/shapes-and-threads",
      GINT_TO_POINTER (TSF_ATTENTION_SPACE_ONLY), test_shapes_and_threads);
  g_test_add_func ("/clip-input/concurrent-instances", test_concurrent_instances);
  return g_test_run ();
}
