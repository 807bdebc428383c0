/* tsf_session_run_batch: B clips in one pass give the logits of B separate runs (within float
 * rounding), for every attention scheme, lucidrains' models with frame masks, and every
 * precision the CPU runs; a bad clip or batch size is refused naming the culprit. */
#include <math.h>
#include <string.h>

#include "timesformer.h"
#include "test-files.h"

#define N_CLIPS 3
#define MAX_LABELS 16

typedef struct {
  const gchar *name;
  TsfAttentionType attention;
  gboolean lucidrains_shift;   /* lucidrains: token shift and pos_emb (else rotary) */
} Case;

static const Case cases[] = {
  { "divided", TSF_ATTENTION_DIVIDED_SPACE_TIME, FALSE },
  { "joint", TSF_ATTENTION_JOINT_SPACE_TIME, FALSE },
  { "space-only", TSF_ATTENTION_SPACE_ONLY, FALSE },
  { "sparse-local-global", TSF_ATTENTION_SPARSE_LOCAL_GLOBAL, FALSE },
  { "axial", TSF_ATTENTION_AXIAL, FALSE },
  { "lucidrains-rotary", TSF_ATTENTION_TIMESFORMER_PYTORCH, FALSE },
  { "lucidrains-shift", TSF_ATTENTION_TIMESFORMER_PYTORCH, TRUE },
};

static TsfModel *
case_model (const Case *c, TsfPrecision precision)
{
  TsfModelOptions options = { .threads = 1, .precision = precision };

  if (c->attention == TSF_ATTENTION_TIMESFORMER_PYTORCH)
    return test_small_lucidrains_model (c->lucidrains_shift, &options);
  return test_small_random_model_with_options (c->attention, &options);
}

/* |a - b| within float rounding of the larger logit. */
static void
assert_logits_close (const gfloat *a, const gfloat *b, guint n)
{
  gfloat largest = 0;

  for (guint i = 0; i < n; i++)
    largest = MAX (largest, MAX (fabsf (a[i]), fabsf (b[i])));
  for (guint i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (a[i], b[i], 1e-4f * MAX (largest, 1.0f));
}

static void
check_batch (const Case *c, TsfPrecision precision)
{
  TsfModel *model = case_model (c, precision);
  const TsfConfig *config = tsf_model_get_config (model);
  TsfClipShape shape = { config->num_frames, config->num_channels, 32, 32 };
  TsfSessionOptions options = { .threads = 1 };
  gboolean masked = c->attention == TSF_ATTENTION_TIMESFORMER_PYTORCH;
  guint8 mask_data[N_CLIPS][4] = { { 1, 1, 1, 1 }, { 1, 0, 1, 0 }, { 0, 0, 0, 1 } };
  const guint8 *masks[N_CLIPS] = { NULL, mask_data[1], mask_data[2] };
  gfloat *clips[N_CLIPS], separate[N_CLIPS][MAX_LABELS], batched[N_CLIPS * MAX_LABELS];
  guint labels = config->num_labels;
  g_autoptr (GError) error = NULL;
  TsfSession *session = tsf_session_new (model, &options, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (labels, <=, MAX_LABELS);
  for (guint i = 0; i < N_CLIPS; i++) {
    clips[i] = test_random_clip (&shape, 5 + i);
    g_assert_true (tsf_session_run_masked (session, clips[i], &shape, masked ? masks[i] : NULL,
            separate[i], &error));
    g_assert_no_error (error);
  }
  /* twice: a second run of the prepared batch plan gives the same */
  for (guint round = 0; round < 2; round++) {
    g_assert_true (tsf_session_run_batch (session, N_CLIPS, (const gfloat * const *) clips,
            &shape, masked ? masks : NULL, batched, &error));
    g_assert_no_error (error);
    for (guint i = 0; i < N_CLIPS; i++)
      assert_logits_close (batched + i * labels, separate[i], labels);
  }
  /* a batch of one is the single run */
  g_assert_true (tsf_session_run_batch (session, 1, (const gfloat * const *) clips + 2, &shape,
          masked ? masks + 2 : NULL, batched, &error));
  g_assert_no_error (error);
  assert_logits_close (batched, separate[2], labels);
  for (guint i = 0; i < N_CLIPS; i++)
    g_free (clips[i]);
  tsf_session_free (session);
  tsf_model_free (model);
}

static void
test_batch_f32 (gconstpointer data)
{
  check_batch (data, TSF_PRECISION_F32);
}

/* int8 quantises each clip of the batch on its own, as a separate run does. */
static void
test_batch_int8 (gconstpointer data)
{
  check_batch (data, TSF_PRECISION_INT8);
}

static void
test_batch_bf16 (gconstpointer data)
{
  TsfModelOptions options = { .threads = 1, .precision = TSF_PRECISION_BF16 };
  g_autoptr (GError) error = NULL;
  TsfModel *probe = test_small_random_model_with_options (TSF_ATTENTION_JOINT_SPACE_TIME,
      &options);
  TsfClipShape shape = { 4, 3, 32, 32 };

  /* oneDNN refuses bf16 on a CPU without AVX-512 (and under valgrind) */
  if (!tsf_model_prepare (probe, &shape, &error)) {
    tsf_model_free (probe);
    g_test_skip ("bf16 does not run on this CPU");
    return;
  }
  tsf_model_free (probe);
  check_batch (data, TSF_PRECISION_BF16);
}

/* A bad clip fails the batch naming it; batch sizes out of range are refused. */
static void
test_batch_errors (void)
{
  TsfModel *model = test_small_random_model (TSF_ATTENTION_DIVIDED_SPACE_TIME);
  TsfClipShape shape = { 4, 3, 32, 32 };
  gfloat *good = test_random_clip (&shape, 1), *bad = test_random_clip (&shape, 2);
  const gfloat *clips[2] = { good, bad };
  gfloat logits[2 * MAX_LABELS];
  GError *error = NULL;
  TsfSession *session = tsf_session_new (model, NULL, &error);

  g_assert_no_error (error);
  bad[100] = NAN;
  g_assert_false (tsf_session_run_batch (session, 2, clips, &shape, NULL, logits, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "Clip 1 of the batch of 2");
  g_assert_false (tsf_session_run_batch (session, 0, clips, &shape, NULL, logits, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "from 1 to 64 clips, found 0");
  g_assert_false (tsf_session_prepare_batch (session, &shape, TSF_MAX_BATCH + 1, &error));
  assert_tsf_error (error, TSF_ERROR_INPUT, "found 65");
  g_assert_true (tsf_session_prepare_batch (session, &shape, 2, &error));
  g_assert_no_error (error);
  g_free (good);
  g_free (bad);
  tsf_session_free (session);
  tsf_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *f32 = g_strdup_printf ("/batch/f32/%s", cases[i].name);
    g_autofree gchar *int8 = g_strdup_printf ("/batch/int8/%s", cases[i].name);
    g_autofree gchar *bf16 = g_strdup_printf ("/batch/bf16/%s", cases[i].name);
    g_test_add_data_func (f32, &cases[i], test_batch_f32);
    g_test_add_data_func (int8, &cases[i], test_batch_int8);
    g_test_add_data_func (bf16, &cases[i], test_batch_bf16);
  }
  g_test_add_func ("/batch/errors", test_batch_errors);
  return g_test_run ();
}
