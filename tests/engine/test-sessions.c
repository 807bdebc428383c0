/* One loaded model, many sessions: clips run by two threads at once, each with its own
 * session, give logits identical (bitwise) to those of one thread alone. scripts/test.sh runs
 * /sessions/concurrent again under valgrind's helgrind: every thread count is 1 there, so
 * libgomp (whose futex-based barriers helgrind cannot follow) starts no team of its own. */
#include <string.h>
#include <omp.h>

#include "timesformer.h"
#include "test-files.h"

#define N_CLIPS 3
#define ROUNDS 4
#define MAX_LABELS 16

typedef struct {
  const TsfModel *model;
  const TsfClipShape *shape;
  gfloat *const *clips;
  gfloat expected[N_CLIPS][MAX_LABELS];
  gboolean identical;
  gint threads_after_run;       /* the calling thread's OpenMP thread count after a run */
} Worker;

/* Threads of this process (Linux: /proc/self/task). */
static guint
count_process_threads (void)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

/* The threads of this process once joined threads have left /proc (a joined thread may stay
 * listed for a moment after pthread_join returns); waits at most 2 s. */
static guint
settled_process_threads (guint expected)
{
  guint n = count_process_threads ();

  for (guint i = 0; i < 200 && n != expected; i++) {
    g_usleep (10000);
    n = count_process_threads ();
  }
  return n;
}

static void
run_clips (TsfSession *session, const TsfClipShape *shape, gfloat *const *clips,
    gfloat logits[N_CLIPS][MAX_LABELS])
{
  GError *error = NULL;

  for (guint i = 0; i < N_CLIPS; i++) {
    gboolean ok = tsf_session_run (session, clips[i], shape, logits[i], &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
}

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;
  TsfSessionOptions options = { .threads = 1 };
  GError *error = NULL;
  TsfSession *session = tsf_session_new (worker->model, &options, &error);
  gfloat logits[N_CLIPS][MAX_LABELS] = { { 0 } };

  g_assert_no_error (error);
  worker->identical = TRUE;
  for (guint round = 0; round < ROUNDS; round++) {
    run_clips (session, worker->shape, worker->clips, logits);
    worker->identical = worker->identical
        && memcmp (logits, worker->expected, sizeof (logits)) == 0;
  }
  worker->threads_after_run = omp_get_max_threads ();
  tsf_session_free (session);
  return NULL;
}

/* test_small_random_model's model, loaded on 1 thread (no OpenMP team at all). */
static TsfModel *
one_thread_model (TsfAttentionType attention)
{
  TsfModelOptions options = { .threads = 1 };

  return test_small_random_model_with_options (attention, &options);
}

static void
check_concurrent_sessions (TsfAttentionType attention)
{
  TsfModel *model = one_thread_model (attention);
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  TsfSessionOptions options = { .threads = 1 };
  GError *error = NULL;
  gfloat *clips[N_CLIPS];
  Worker workers[2];
  GThread *threads[2];
  TsfSession *single;

  g_assert_cmpuint (c->num_labels, <=, MAX_LABELS);
  for (guint i = 0; i < N_CLIPS; i++)
    clips[i] = test_random_clip (&shape, 7 + i);
  memset (workers, 0, sizeof (workers));
  single = tsf_session_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tsf_session_get_threads (single), ==, 1);
  run_clips (single, &shape, clips, workers[0].expected);
  g_assert_cmpuint (tsf_session_get_buffer_bytes (single), >, 0);
  tsf_session_free (single);

  for (guint w = 0; w < 2; w++) {
    workers[w].model = model;
    workers[w].shape = &shape;
    workers[w].clips = clips;
    memcpy (workers[w].expected, workers[0].expected, sizeof (workers[0].expected));
  }
  for (guint w = 0; w < 2; w++)
    threads[w] = g_thread_new ("session", worker_main, &workers[w]);
  for (guint w = 0; w < 2; w++) {
    g_thread_join (threads[w]);
    g_assert_true (workers[w].identical);
    g_assert_cmpint (workers[w].threads_after_run, ==, 1);
  }
  /* 1 thread per session and per load: OpenMP never started a team (its idle workers would
   * still be here), so only the main thread is left */
  g_assert_cmpuint (settled_process_threads (1), ==, 1);
  for (guint i = 0; i < N_CLIPS; i++)
    g_free (clips[i]);
  tsf_model_free (model);
}

static void
test_concurrent_divided (void)
{
  check_concurrent_sessions (TSF_ATTENTION_DIVIDED_SPACE_TIME);
}

static void
test_concurrent_joint (void)
{
  check_concurrent_sessions (TSF_ATTENTION_JOINT_SPACE_TIME);
}

/* The one-call API and an explicit session on the same model agree; the model's weight bytes
 * do not depend on sessions, a session's buffers are its own. */
static void
test_default_session_matches (void)
{
  TsfModel *model = one_thread_model (TSF_ATTENTION_SPACE_ONLY);
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  gfloat *clip = test_random_clip (&shape, 3);
  gfloat a[MAX_LABELS] = { 0 }, b[MAX_LABELS] = { 0 };
  guint64 weight_bytes = tsf_model_get_weight_bytes (model);
  TsfSessionOptions options;
  GError *error = NULL;
  TsfSession *session;

  tsf_session_options_init (&options);
  options.threads = 1;
  g_assert_true (tsf_model_set_threads (model, 1, &error));
  g_assert_cmpuint (tsf_model_get_buffer_bytes (model), ==, 0);
  g_assert_true (tsf_model_run (model, clip, &shape, a, &error));
  g_assert_no_error (error);
  session = tsf_session_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_true (tsf_session_get_model (session) == model);
  g_assert_cmpuint (tsf_session_get_buffer_bytes (session), ==, 0);
  g_assert_true (tsf_session_prepare (session, &shape, &error));
  g_assert_cmpuint (tsf_session_get_buffer_bytes (session), ==,
      tsf_model_get_buffer_bytes (model));
  g_assert_true (tsf_session_run (session, clip, &shape, b, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (a, sizeof (a), b, sizeof (b));
  g_assert_cmpuint (tsf_model_get_weight_bytes (model), ==, weight_bytes);
  tsf_session_free (session);
  g_free (clip);
  tsf_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sessions/concurrent/divided", test_concurrent_divided);
  g_test_add_func ("/sessions/concurrent/joint", test_concurrent_joint);
  g_test_add_func ("/sessions/default-session", test_default_session_matches);
  return g_test_run ();
}
