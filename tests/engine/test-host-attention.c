/* The host attention kernels: of short sequences (engine/forward/tsf-short-attention.c:
 * divided space-time's temporal attention, up to 16 frames), for 1 to 16 tokens (the
 * two-queries-at-a-time kernel up to 8, the other past it), and of longer ones
 * (tsf-long-attention.c: spatial attention), for lengths around its blocks of 6 queries and
 * 64 keys and divided's 197: against attention computed in double on peaked scores, and in
 * a model against oneDNN's products and softmax (TSF_ATTENTION_KERNELS=onednn), the same
 * logits within float rounding for a batch of two clips. Skipped on a CPU without AVX-512
 * (both runs would take oneDNN). */
#include <math.h>

#include "timesformer.h"
#include "test-files.h"
#include "tsf-config.h"
#include "tsf-plan.h"

static const guint frame_counts[] = { 1, 2, 5, 8, 9, 16 };
static const guint long_lengths[] = { 17, 18, 23, 48, 63, 64, 65, 100, 197 };

#define GROUPS 3
#define HEADS 2
#define CLIPS 2

/* Sequence g of clip b, token i: row b * clip_rows + g + i * (1 + GROUPS), as divided's
 * temporal view (one row before the first group, as the cls row). */
static gsize
row_of (gsize b, gsize g, gsize i, gsize n)
{
  return 1 + b * (1 + n * (1 + GROUPS)) + g + i * (1 + GROUPS);
}

/* out row `row`, head h, against softmax (q k^T / sqrt (head size)) v in double. */
static gdouble
worst_error (const gfloat *qkv, const gfloat *out, gsize b, gsize g, gsize h, gsize n,
    gsize head_size)
{
  gsize a = HEADS * head_size;
  gdouble worst = 0;

  for (gsize i = 0; i < n; i++) {
    const gfloat *q = qkv + row_of (b, g, i, n) * 3 * a + h * head_size;
    g_autofree gdouble *scores = g_new (gdouble, n);
    gdouble largest = -INFINITY, sum = 0;
    for (gsize j = 0; j < n; j++) {
      const gfloat *k = qkv + row_of (b, g, j, n) * 3 * a + a + h * head_size;
      gdouble dot = 0;
      for (gsize c = 0; c < head_size; c++)
        dot += (gdouble) q[c] * k[c];
      scores[j] = dot / sqrt ((gdouble) head_size);
      largest = MAX (largest, scores[j]);
    }
    for (gsize j = 0; j < n; j++)
      sum += scores[j] = exp (scores[j] - largest);
    for (gsize c = 0; c < head_size; c++) {
      gdouble value = 0;
      for (gsize j = 0; j < n; j++)
        value += scores[j] / sum * qkv[row_of (b, g, j, n) * 3 * a + 2 * a + h * head_size + c];
      worst = MAX (worst, fabs (value - out[row_of (b, g, i, n) * a + h * head_size + c]));
    }
  }
  return worst;
}

/* The kernel tsf-attention.c chooses for a plan at `linear` (the short one, the long one, or
 * at bf16 and int8 the long one with bf16 products), on two threads. */
static void
attend (TsfHostFunc kernel, gfloat *qkv, gfloat *out, gsize n, gsize head_size,
    gsize clip_rows)
{
  gsize a = HEADS * head_size, scratch = tsf_long_attention_scratch (n, head_size);
  gfloat *scratch_rows = g_aligned_alloc (2 * scratch, sizeof (gfloat), 64);

  kernel ((gpointer[]) { qkv + 3 * a, out + a, scratch_rows }, (gsize[]) { GROUPS, n, 1,
        1 + GROUPS, a, HEADS, CLIPS, clip_rows, scratch, 2 });
  g_aligned_free (scratch_rows);
}

/* The largest error over every sequence and head of one run of `kernel`. */
static gdouble
kernel_error (TsfHostFunc kernel, gsize n, gsize head_size)
{
  gsize a = HEADS * head_size, clip_rows = 1 + n * (1 + GROUPS), rows = CLIPS * clip_rows;
  g_autofree gfloat *qkv = g_new (gfloat, rows * 3 * a);
  g_autofree gfloat *out = g_new0 (gfloat, rows * a);
  gdouble worst = 0;

  for (gsize i = 0; i < rows * 3 * a; i++)   /* scores up to ~50: peaked probabilities */
    qkv[i] = (gfloat) ((i * 2654435761u) % 1000) / 1000.0f * 6.0f - 3.0f;
  attend (kernel, qkv, out, n, head_size, clip_rows);
  for (gsize b = 0; b < CLIPS; b++)
    for (gsize g = 0; g < GROUPS; g++)
      for (gsize h = 0; h < HEADS; h++)
        worst = MAX (worst, worst_error (qkv, out, b, g, h, n, head_size));
  return worst;
}

static void
test_kernel (gconstpointer data)
{
  gsize n = GPOINTER_TO_UINT (data);

  if (!tsf_host_attention_fits (16)) {
    g_test_skip ("no AVX-512: attention runs on oneDNN");
    return;
  }
  for (gsize head_size = 16; head_size <= 64; head_size *= 4) {
    gdouble worst = kernel_error (n <= TSF_MAX_SHORT_LENGTH ? tsf_host_short_attention
        : tsf_long_attention_kernel (TSF_PRECISION_F32, head_size), n, head_size);

    g_test_message ("%zu tokens, head size %zu: largest error %g", n, head_size, worst);
    /* of values in [-3, 3]; the scores' rounding grows with the dot products' length */
    g_assert_cmpfloat (worst, <, 5e-7 * head_size);
  }
}

/* The long kernel with bf16 products (plans at bf16 and int8): q, k, v and the probabilities
 * rounded to 8 significant bits (relative error 2^-9), float sums: measured 0.015-0.031 of
 * values in [-3, 3] (a key left out or a wrong pair: > 1). */
static void
test_bf16_kernel (gconstpointer data)
{
  gsize n = GPOINTER_TO_UINT (data);

  for (gsize head_size = 32; head_size <= 64; head_size *= 2) {
    TsfHostFunc kernel = tsf_long_attention_kernel (TSF_PRECISION_INT8, head_size);
    gdouble worst;

    if (!tsf_host_attention_fits (head_size) || kernel == tsf_host_long_attention) {
      g_test_skip ("no AVX512_BF16: the long kernel runs in float");
      return;
    }
    g_assert_true (tsf_long_attention_kernel (TSF_PRECISION_BF16, head_size) == kernel);
    g_assert_true (tsf_long_attention_kernel (TSF_PRECISION_F32, head_size)
        == tsf_host_long_attention);
    g_setenv ("TSF_ATTENTION_KERNELS", "f32", TRUE);   /* keeps the products float */
    g_assert_true (tsf_long_attention_kernel (TSF_PRECISION_INT8, head_size)
        == tsf_host_long_attention);
    g_unsetenv ("TSF_ATTENTION_KERNELS");
    worst = kernel_error (kernel, n, head_size);
    g_test_message ("%zu tokens, head size %zu: largest error %g", n, head_size, worst);
    g_assert_cmpfloat (worst, <, 0.1);
  }
}

/* Two clips in one run of a new session: its plan is built then, with the kernels the
 * environment allows. */
static void
run_batch (TsfModel *model, const gchar *kernels, const TsfClipShape *shape,
    gfloat *const *clips, gfloat *logits)
{
  g_autoptr (GError) error = NULL;
  TsfSession *session = tsf_session_new (model, NULL, &error);

  g_assert_no_error (error);
  if (kernels != NULL)
    g_setenv ("TSF_ATTENTION_KERNELS", kernels, TRUE);
  g_assert_true (tsf_session_run_batch (session, 2, (const gfloat * const *) clips, shape, NULL,
          logits, &error));
  g_unsetenv ("TSF_ATTENTION_KERNELS");
  g_assert_no_error (error);
  tsf_session_free (session);
}

static TsfModel *
model_of (guint frames)
{
  TsfConfig config;
  TsfModel *model;

  test_small_config (&config, TSF_ATTENTION_DIVIDED_SPACE_TIME);
  config.num_frames = frames;
  model = test_random_model (&config, 11, NULL);
  tsf_config_clear (&config);
  return model;
}

static void
test_same_logits (gconstpointer data)
{
  guint frames = GPOINTER_TO_UINT (data);
  TsfModel *model = model_of (frames);
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { frames, c->num_channels, c->image_size, c->image_size };
  g_autofree gfloat *first = test_random_clip (&shape, 1);
  g_autofree gfloat *second = test_random_clip (&shape, 2);
  gfloat *clips[2] = { first, second };
  g_autofree gfloat *a = g_new (gfloat, 2 * c->num_labels);
  g_autofree gfloat *b = g_new (gfloat, 2 * c->num_labels);
  gfloat largest = 0, worst = 0;

  run_batch (model, "onednn", &shape, clips, b);
  run_batch (model, NULL, &shape, clips, a);
  for (guint i = 0; i < 2 * c->num_labels; i++) {
    largest = MAX (largest, fabsf (b[i]));
    worst = MAX (worst, fabsf (a[i] - b[i]));
  }
  g_test_message ("%u frames: largest logit %g, largest difference %g", frames, largest, worst);
  g_assert_cmpfloat (largest, >, 0);
  g_assert_cmpfloat (worst, <=, 1e-4f * largest + 1e-6f);
  tsf_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint n = 1; n <= 16; n++) {
    g_autofree gchar *path = g_strdup_printf ("/host-attention/short/%u-tokens", n);
    g_test_add_data_func (path, GUINT_TO_POINTER (n), test_kernel);
  }
  for (guint i = 0; i < G_N_ELEMENTS (long_lengths); i++) {
    g_autofree gchar *path = g_strdup_printf ("/host-attention/long/%u-tokens", long_lengths[i]);
    g_test_add_data_func (path, GUINT_TO_POINTER (long_lengths[i]), test_kernel);
  }
  for (guint i = 0; i < G_N_ELEMENTS (long_lengths); i++) {
    g_autofree gchar *path = g_strdup_printf ("/host-attention/long-bf16/%u-tokens",
        long_lengths[i]);
    g_test_add_data_func (path, GUINT_TO_POINTER (long_lengths[i]), test_bf16_kernel);
  }
  for (guint i = 0; i < G_N_ELEMENTS (frame_counts); i++) {
    g_autofree gchar *path = g_strdup_printf ("/host-attention/model/%u-frames", frame_counts[i]);
    g_test_add_data_func (path, GUINT_TO_POINTER (frame_counts[i]), test_same_logits);
  }
  return g_test_run ();
}
