/* Tests of timesformer elements sharing one model (gst/gsttsfscheduler.c through the element):
 * who shares (model-users, model-info), results identical to a private copy, a stream leaving,
 * erroring or ending while others run, state cycling with several elements, a camera added to
 * and removed from a playing pipeline, a load error given to every element (also under
 * ThreadSanitizer, scripts/test.sh). No test waits for time to pass: a bus sync handler holds an
 * element's inference thread where a test needs "this stream is busy". */
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>

#include "bus-harness.h"
#include "frames-test-util.h"
#include "pipeline-test-util.h"

#define SMALL_CAPS "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"
#define TINY_CAPS "video/x-raw,format=RGB,width=4,height=4,framerate=30/1"
#define FRAMES_PER_CLIP 4    /* of the model "divided", frame-stride=1 */

/* "timesformer name=<name> model=<model> frame-stride=1 <properties>" in a harness whose
 * element has a bus. */
static GstHarness *
new_harness (const gchar *name, const gchar *model, const gchar *properties)
{
  gchar *launch = g_strdup_printf ("timesformer name=%s model=\"%s\" frame-stride=1 %s", name,
      model, properties);
  GstHarness *h = bus_harness_new_with_caps (launch, SMALL_CAPS);

  g_free (launch);
  return h;
}

static guint
model_users (GstHarness *h)
{
  guint users = G_MAXUINT;

  g_object_get (h->element, "model-users", &users, NULL);
  return users;
}

/* Appends copies of the results on `buffer` to `results`. */
static void
collect_buffer_results (GstBuffer *buffer, GPtrArray *results)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)) != NULL) {
    GstClipLabelsResult view;

    gst_clip_labels_meta_get_result ((GstClipLabelsMeta *) meta, &view);
    g_ptr_array_add (results, gst_clip_labels_result_copy (&view));
  }
}

/* Pushes frames first .. first + n - 1 of `caps` and pulls each; appends their results. */
static void
push_frames (GstHarness *h, guint first, guint n, GPtrArray *results)
{
  guint i;

  for (i = first; i < first + n; i++) {
    GstBuffer *out;

    fail_unless_equals_int (gst_harness_push (h, test_new_frame (SMALL_CAPS, i)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    collect_buffer_results (out, results);
    gst_buffer_unref (out);
  }
}

/* Pushes EOS; appends the results sent before it as events. */
static void
push_eos (GstHarness *h, GPtrArray *results)
{
  GstEvent *event;

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    GstClipLabelsResult *result = gst_clip_labels_event_parse_result (event);

    if (result != NULL)
      g_ptr_array_add (results, result);
    gst_event_unref (event);
  }
}

static GPtrArray *
new_results (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) gst_clip_labels_result_free);
}

static void
assert_same_labels (const GstClipLabelsResult *a, const GstClipLabelsResult *b)
{
  guint i;

  fail_unless_equals_uint64 (a->clip_index, b->clip_index);
  fail_unless_equals_int (a->n_labels, b->n_labels);
  for (i = 0; i < a->n_labels; i++) {
    fail_unless_equals_int (a->labels[i].class_id, b->labels[i].class_id);
    fail_unless (a->labels[i].score == b->labels[i].score, "clip %" G_GUINT64_FORMAT
        ", label %u: %.9g != %.9g", a->clip_index, i, a->labels[i].score, b->labels[i].score);
  }
}

static void
assert_same_results (GPtrArray *a, GPtrArray *b)
{
  guint i;

  fail_unless (a->len > 0);
  fail_unless_equals_int (a->len, b->len);
  for (i = 0; i < a->len; i++)
    assert_same_labels (g_ptr_array_index (a, i), g_ptr_array_index (b, i));
}

static void
assert_producer_and_order (GPtrArray *results, const gchar *producer, guint n)
{
  guint i;

  fail_unless_equals_int (results->len, n);
  for (i = 0; i < n; i++) {
    const GstClipLabelsResult *result = g_ptr_array_index (results, i);

    fail_unless_equals_string (g_quark_to_string (result->producer), producer);
    fail_unless_equals_uint64 (result->clip_index, i);
  }
}

/* A copy of the test model "divided" whose preprocessing neither resizes nor crops (the clip
 * has the frame's size, cut to whole patches: a 4x4 frame makes no patch). */
static gchar *
model_without_resize (void)
{
  gchar *dir = g_dir_make_tmp ("tsf-shared-XXXXXX", NULL);
  const gchar *files[] = { "config.json", "model.safetensors" };
  gchar *model = test_model_path ("divided");
  gchar *path = g_build_filename (dir, "preprocessor_config.json", NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (files); i++) {
    gchar *target = g_build_filename (model, files[i], NULL);
    gchar *link = g_build_filename (dir, files[i], NULL);

    fail_unless (symlink (target, link) == 0, "symlink %s", link);
    g_free (target);
    g_free (link);
  }
  fail_unless (g_file_set_contents (path, "{ \"do_resize\": false, \"do_center_crop\": false }",
          -1, NULL));
  g_free (path);
  g_free (model);
  return dir;
}

static void
remove_model (gchar *dir)
{
  const gchar *files[] = { "config.json", "model.safetensors", "preprocessor_config.json" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (files); i++) {
    gchar *path = g_build_filename (dir, files[i], NULL);

    g_unlink (path);
    g_free (path);
  }
  g_rmdir (dir);
  g_free (dir);
}

/* ---- harnesses ---- */

/* Shared elements give the results of a private copy, also while another element's clips
 * run; a stream that leaves with clips queued and in flight leaves the others running, and an
 * element that joins later shares the same model. */
GST_START_TEST (test_leaving_stream_leaves_others_running)
{
  gchar *model = test_model_path ("divided");
  GstHarness *a = new_harness ("a", model, "sync=true top-k=10");
  GstHarness *leaving = new_harness ("leaving", model, "max-pending=64");
  GstHarness *private = new_harness ("private", model, "sync=true top-k=10 shared-model=false");
  GstHarness *joining;
  GPtrArray *from_a = new_results (), *from_private = new_results ();
  GPtrArray *from_leaving = new_results (), *from_joining = new_results ();

  fail_unless_equals_int (model_users (a), 2);
  fail_unless_equals_int (model_users (private), 1);
  push_frames (leaving, 0, 3 * FRAMES_PER_CLIP, from_leaving);   /* 3 clips queued */
  push_frames (a, 0, FRAMES_PER_CLIP, from_a);
  bus_harness_teardown (leaving);
  fail_unless_equals_int (model_users (a), 1);
  push_frames (a, FRAMES_PER_CLIP, 2 * FRAMES_PER_CLIP, from_a);
  push_frames (private, 0, 3 * FRAMES_PER_CLIP, from_private);
  assert_producer_and_order (from_a, "a", 3);
  assert_same_results (from_a, from_private);

  joining = new_harness ("joining", model, "sync=true top-k=10");
  fail_unless_equals_int (model_users (a), 2);
  push_frames (joining, 0, FRAMES_PER_CLIP, from_joining);
  fail_unless_equals_int (from_joining->len, 1);
  assert_same_labels (g_ptr_array_index (from_joining, 0), g_ptr_array_index (from_private, 0));

  bus_harness_teardown (joining);
  bus_harness_teardown (a);
  bus_harness_teardown (private);
  g_ptr_array_unref (from_a);
  g_ptr_array_unref (from_private);
  g_ptr_array_unref (from_leaving);
  g_ptr_array_unref (from_joining);
  g_free (model);
}
GST_END_TEST;

/* An element that fails mid-stream (caps that make no patch) errors alone: the element that
 * shares its model goes on with the results of a private copy. */
GST_START_TEST (test_erroring_stream_leaves_others_running)
{
  gchar *model = model_without_resize ();
  GstHarness *a = new_harness ("a", model, "sync=true top-k=10");
  GstHarness *failing = new_harness ("failing", model, "sync=true");
  GstHarness *private = new_harness ("private", model, "sync=true top-k=10 shared-model=false");
  GPtrArray *from_a = new_results (), *from_private = new_results ();
  GPtrArray *from_failing = new_results ();
  GstCaps *tiny;
  GError *error = NULL;
  GstMessage *message;

  fail_unless_equals_int (model_users (a), 2);
  push_frames (failing, 0, FRAMES_PER_CLIP, from_failing);
  fail_unless_equals_int (from_failing->len, 1);
  /* Refused by the element; a sticky event: the harness's push returns TRUE all the same. */
  tiny = gst_caps_from_string (TINY_CAPS);
  gst_harness_push_event (failing, gst_event_new_caps (tiny));
  gst_caps_unref (tiny);
  fail_if (gst_harness_push (failing, test_new_frame (TINY_CAPS, 0)) == GST_FLOW_OK);
  message = bus_harness_pop (failing, GST_MESSAGE_ERROR, 0);
  fail_unless (message != NULL);
  gst_message_parse_error (message, &error, NULL);
  fail_unless (strstr (error->message, "patch") != NULL, "%s", error->message);
  g_clear_error (&error);
  gst_message_unref (message);

  push_frames (a, 0, 2 * FRAMES_PER_CLIP, from_a);
  bus_harness_teardown (failing);
  push_frames (a, 2 * FRAMES_PER_CLIP, FRAMES_PER_CLIP, from_a);
  push_frames (private, 0, 3 * FRAMES_PER_CLIP, from_private);
  assert_producer_and_order (from_a, "a", 3);
  assert_same_results (from_a, from_private);

  bus_harness_teardown (a);
  bus_harness_teardown (private);
  g_ptr_array_unref (from_a);
  g_ptr_array_unref (from_private);
  g_ptr_array_unref (from_failing);
  remove_model (model);
}
GST_END_TEST;

/* Holds the thread that posts an element's results on its bus. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean held;
  guint entered;
} Hold;

static GstBusSyncReply
hold_results (GstBus *bus, GstMessage *message, gpointer data)
{
  Hold *hold = data;

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ELEMENT
      || !gst_message_has_name (message, GST_CLIP_LABELS_STRUCTURE_NAME))
    return GST_BUS_PASS;
  g_mutex_lock (&hold->lock);
  hold->entered++;
  g_cond_broadcast (&hold->cond);
  while (hold->held)
    g_cond_wait (&hold->cond, &hold->lock);
  g_mutex_unlock (&hold->lock);
  return GST_BUS_PASS;
}

static void
hold_set (Hold *hold, gboolean held)
{
  g_mutex_lock (&hold->lock);
  hold->held = held;
  g_cond_broadcast (&hold->cond);
  g_mutex_unlock (&hold->lock);
}

static void
hold_wait_entered (Hold *hold, guint entered)
{
  g_mutex_lock (&hold->lock);
  while (hold->entered < entered)
    g_cond_wait (&hold->cond, &hold->lock);
  g_mutex_unlock (&hold->lock);
}

static void
set_bus_sync_handler (GstHarness *h, GstBusSyncHandler handler, gpointer data)
{
  GstBus *bus = gst_element_get_bus (h->element);

  gst_bus_set_sync_handler (bus, handler, data, NULL);
  gst_object_unref (bus);
}

/* Two sessions, one element's inference held while it posts a result: the other element's EOS
 * delivers its own pending results, without waiting for the held one. */
GST_START_TEST (test_eos_waits_only_for_own_clips)
{
  gchar *model = test_model_path ("divided");
  const gchar *properties = "sessions=2 threads=2 max-pending=64";
  GstHarness *held = new_harness ("held", model, properties);
  GstHarness *ending = new_harness ("ending", model, properties);
  GPtrArray *from_held = new_results (), *from_ending = new_results ();
  Hold hold = { .held = TRUE };

  g_mutex_init (&hold.lock);
  g_cond_init (&hold.cond);
  fail_unless_equals_int (model_users (held), 2);
  set_bus_sync_handler (held, hold_results, &hold);
  push_frames (held, 0, FRAMES_PER_CLIP, from_held);
  hold_wait_entered (&hold, 1);            /* one inference thread held, in held's clip 0 */

  push_frames (ending, 0, 2 * FRAMES_PER_CLIP, from_ending);
  push_eos (ending, from_ending);
  assert_producer_and_order (from_ending, "ending", 2);

  fail_unless_equals_int (hold.entered, 1);
  hold_set (&hold, FALSE);
  push_eos (held, from_held);
  assert_producer_and_order (from_held, "held", 1);

  set_bus_sync_handler (held, NULL, NULL);
  bus_harness_teardown (held);
  bus_harness_teardown (ending);
  g_ptr_array_unref (from_held);
  g_ptr_array_unref (from_ending);
  g_mutex_clear (&hold.lock);
  g_cond_clear (&hold.cond);
  g_free (model);
}
GST_END_TEST;

/* ---- pipelines ---- */

static guint
element_model_users (GstElement *pipeline, const gchar *name)
{
  GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), name);
  guint users = G_MAXUINT;

  g_object_get (element, "model-users", &users, NULL);
  gst_object_unref (element);
  return users;
}

static gchar *
element_model_info (GstElement *pipeline, const gchar *name)
{
  GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), name);
  gchar *info = NULL;

  g_object_get (element, "model-info", &info, NULL);
  gst_object_unref (element);
  return info;
}

typedef struct {
  const gchar *const *names;
  guint n_names;
  guint n_results;     /* the run ends when each name posted as many (0: at EOS) */
  guint *counts;       /* results per name */
  guint satisfied;     /* names that posted n_results */
} ResultsByName;

static gboolean
count_result_by_name (GstMessage *m, gpointer data)
{
  ResultsByName *by_name = data;
  guint i;

  for (i = 0; i < by_name->n_names && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (m, GST_CLIP_LABELS_STRUCTURE_NAME); i++) {
    if (g_strcmp0 (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), by_name->names[i]) == 0
        && ++by_name->counts[i] == by_name->n_results)
      by_name->satisfied++;
  }
  return by_name->n_results > 0 && by_name->satisfied == by_name->n_names;
}

/* Runs the bus until EOS (n_results 0) or until each of `names` posted `n_results` results;
 * fails on an error or a warning. Counts per name in `counts`. */
static void
run_bus (GstElement *pipeline, const gchar *const *names, guint n_names, guint n_results,
    guint *counts)
{
  ResultsByName by_name = { names, n_names, n_results, counts, 0 };

  memset (counts, 0, n_names * sizeof (guint));
  test_run_bus (pipeline, GST_CLOCK_TIME_NONE, FALSE, count_result_by_name, &by_name);
}

#define BRANCH(name, properties) \
  "videotestsrc num-buffers=8 ! " SMALL_CAPS " ! timesformer name=" name \
  " model=@MODELS@/divided frame-stride=1 " properties " ! fakesink "

/* Two elements naming the same model share it; a private one and one with other labels do
 * not. Each classifies its own clips. */
GST_START_TEST (test_who_shares)
{
  static const gchar *const names[] = { "a", "b", "private", "labelled" };
  gchar *labels = g_build_filename (g_get_tmp_dir (), "tsf-shared-labels.txt", NULL);
  gchar *description = g_strconcat (BRANCH ("a", ""), BRANCH ("b", ""),
      BRANCH ("private", "shared-model=false"), BRANCH ("labelled", ""), NULL);
  GstElement *pipeline, *element;
  guint counts[G_N_ELEMENTS (names)], i;
  gchar *info;

  fail_unless (g_file_set_contents (labels, "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n", -1,
          NULL));
  pipeline = test_parse_pipeline (description);
  element = gst_bin_get_by_name (GST_BIN (pipeline), "labelled");
  g_object_set (element, "labels", labels, NULL);
  gst_object_unref (element);
  fail_unless_equals_int (element_model_users (pipeline, "a"), 0);
  test_set_state_and_wait (pipeline, GST_STATE_PAUSED);
  fail_unless_equals_int (element_model_users (pipeline, "a"), 2);
  fail_unless_equals_int (element_model_users (pipeline, "b"), 2);
  fail_unless_equals_int (element_model_users (pipeline, "private"), 1);
  fail_unless_equals_int (element_model_users (pipeline, "labelled"), 1);
  info = element_model_info (pipeline, "a");
  fail_unless (strstr (info, "shared=(boolean)true") != NULL, "%s", info);
  fail_unless (strstr (info, "model-users=(uint)2") != NULL, "%s", info);
  g_free (info);
  info = element_model_info (pipeline, "private");
  fail_unless (strstr (info, "shared=(boolean)false") != NULL, "%s", info);
  g_free (info);

  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  run_bus (pipeline, names, G_N_ELEMENTS (names), 0, counts);
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    fail_unless_equals_int (counts[i], 2);    /* 8 frames, 4 per clip */
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (element_model_users (pipeline, "a"), 0);
  gst_object_unref (pipeline);
  g_unlink (labels);
  g_free (description);
  g_free (labels);
}
GST_END_TEST;

#define LIVE_BRANCH(name) \
  "videotestsrc is-live=true ! " SMALL_CAPS " ! timesformer name=" name \
  " model=@MODELS@/divided frame-stride=1 ! fakesink "

/* Three live elements on one model through PLAYING, PAUSED, READY and NULL, three times: each
 * gets results every time, the model is released in READY, nothing warns. */
GST_START_TEST (test_state_cycling_several_elements)
{
  static const gchar *const names[] = { "a", "b", "c" };
  GstElement *pipeline = test_parse_pipeline (LIVE_BRANCH ("a") LIVE_BRANCH ("b") LIVE_BRANCH ("c"));
  guint counts[G_N_ELEMENTS (names)], round;

  for (round = 0; round < 3; round++) {
    test_set_state_and_wait (pipeline, GST_STATE_PLAYING);
    fail_unless_equals_int (element_model_users (pipeline, "c"), 3);
    run_bus (pipeline, names, G_N_ELEMENTS (names), 1, counts);
    test_set_state_and_wait (pipeline, GST_STATE_PAUSED);
    test_set_state_and_wait (pipeline, GST_STATE_READY);
    fail_unless_equals_int (element_model_users (pipeline, "a"), 0);
    if (round == 1)
      continue;                /* READY -> PLAYING once, NULL -> PLAYING otherwise */
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
  }
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* An application's thread reading an element's statistics and model properties until told to
 * stop (TSan checks them against the streaming and inference threads). */
typedef struct {
  GstElement *element;
  gint stop;                 /* atomic */
} Poller;

static gpointer
poll_properties (gpointer data)
{
  Poller *poller = data;

  while (!g_atomic_int_get (&poller->stop)) {
    guint64 processed, dropped;
    gdouble inference_ms;
    guint users;
    gchar *info;

    g_object_get (poller->element, "clips-processed", &processed, "dropped-clips", &dropped,
        "inference-ms", &inference_ms, "model-users", &users, "model-info", &info, NULL);
    g_free (info);
    g_usleep (5 * G_TIME_SPAN_MILLISECOND);
  }
  return NULL;
}

/* The first source of `bin`, flushed back to its start (a seek on that stream only). */
static void
seek_source (GstElement *bin)
{
  GstIterator *sources = gst_bin_iterate_sources (GST_BIN (bin));
  GValue value = G_VALUE_INIT;

  fail_unless_equals_int (gst_iterator_next (sources, &value), GST_ITERATOR_OK);
  fail_unless (gst_element_seek_simple (g_value_get_object (&value), GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH, 0));
  g_value_unset (&value);
  gst_iterator_free (sources);
}

/* Removes a playing branch as an application must: once the pipeline has settled (the branch's
 * sink, prerolling after its start or its flush, makes the pipeline continue to PLAYING from
 * GStreamer's thread pool, which would start a stopped branch again), with its state locked. */
static void
remove_camera (GstElement *pipeline, GstElement *camera)
{
  GstState state;

  fail_if (gst_element_get_state (pipeline, &state, NULL, 120 * GST_SECOND)
      == GST_STATE_CHANGE_ASYNC, "the pipeline did not settle in 120 s");
  fail_unless_equals_int (state, GST_STATE_PLAYING);
  fail_unless (gst_element_set_locked_state (camera, TRUE));
  fail_unless_equals_int (gst_element_set_state (camera, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_bin_remove (GST_BIN (pipeline), camera));
}

/* A live element streams on the model while a second camera's branch is added to the playing
 * pipeline, runs, is flushed by a seek and is removed, twice (an application adding a
 * camera), with the application's thread reading the first element's properties meanwhile:
 * the first element gets results throughout; the branch's own flush and state changes end only
 * its own clips. */
GST_START_TEST (test_camera_added_while_others_run)
{
  static const gchar *const names[] = { "a", "added" };
  GstElement *pipeline = test_parse_pipeline (LIVE_BRANCH ("a"));
  guint counts[G_N_ELEMENTS (names)], round;
  Poller poller = { gst_bin_get_by_name (GST_BIN (pipeline), "a"), 0 };
  GThread *poll_thread;

  test_set_state_and_wait (pipeline, GST_STATE_PLAYING);
  poll_thread = g_thread_new ("poll", poll_properties, &poller);
  run_bus (pipeline, names, 1, 1, counts);
  for (round = 0; round < 2; round++) {
    GstElement *camera = test_parse_bin (LIVE_BRANCH ("added"));

    gst_bin_add (GST_BIN (pipeline), camera);
    fail_unless (gst_element_sync_state_with_parent (camera));
    run_bus (pipeline, names, 2, 1, counts);
    fail_unless_equals_int (element_model_users (pipeline, "a"), 2);
    seek_source (camera);
    run_bus (pipeline, names, 2, 1, counts);
    remove_camera (pipeline, camera);
    fail_unless_equals_int (element_model_users (pipeline, "a"), 1);
    run_bus (pipeline, names, 1, 2, counts);
  }
  g_atomic_int_set (&poller.stop, 1);
  g_thread_join (poll_thread);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (element_model_users (pipeline, "a"), 0);
  gst_object_unref (poller.element);
  gst_object_unref (pipeline);
}
GST_END_TEST;

typedef struct {
  const gchar *model;
  gchar *message;
} StartCall;

/* A pipeline on `model` started from this thread: it must fail; keeps the error's message. */
static gpointer
start_failing (gpointer data)
{
  StartCall *call = data;
  gchar *launch = g_strdup_printf ("videotestsrc ! timesformer model=%s ! fakesink",
      call->model);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  GError *error = NULL;
  GstMessage *m;

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL);
  gst_message_parse_error (m, &error, NULL);
  call->message = g_strdup (error->message);
  g_error_free (error);
  gst_message_unref (m);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (launch);
  return NULL;
}

/* Elements started at once on a model that cannot load all fail, with the same message. */
GST_START_TEST (test_load_error_for_every_element)
{
  gchar *dir = g_dir_make_tmp ("tsf-shared-bad-XXXXXX", NULL);
  gchar *config = g_build_filename (dir, "config.json", NULL);
  StartCall calls[3];
  GThread *threads[3];
  guint i;

  fail_unless (g_file_set_contents (config, "{ \"image_size\": ", -1, NULL));
  for (i = 0; i < G_N_ELEMENTS (calls); i++) {
    calls[i] = (StartCall) { dir, NULL };
    threads[i] = g_thread_new ("start", start_failing, &calls[i]);
  }
  for (i = 0; i < G_N_ELEMENTS (calls); i++)
    g_thread_join (threads[i]);
  for (i = 0; i < G_N_ELEMENTS (calls); i++) {
    fail_unless (strstr (calls[i].message, "config.json") != NULL, "%s", calls[i].message);
    fail_unless_equals_string (calls[i].message, calls[0].message);
  }
  for (i = 0; i < G_N_ELEMENTS (calls); i++)
    g_free (calls[i].message);
  g_unlink (config);
  g_rmdir (dir);
  g_free (config);
  g_free (dir);
}
GST_END_TEST;

static Suite *
shared_model_suite (void)
{
  Suite *suite = suite_create ("shared-model");
  TCase *harness = tcase_create ("harness");
  TCase *pipelines = tcase_create ("pipelines");

  tcase_set_timeout (harness, 120);
  tcase_set_timeout (pipelines, 300);
  suite_add_tcase (suite, harness);
  suite_add_tcase (suite, pipelines);
  tcase_add_test (harness, test_leaving_stream_leaves_others_running);
  tcase_add_test (harness, test_erroring_stream_leaves_others_running);
  tcase_add_test (harness, test_eos_waits_only_for_own_clips);
  tcase_add_test (pipelines, test_who_shares);
  tcase_add_test (pipelines, test_state_cycling_several_elements);
  tcase_add_test (pipelines, test_camera_added_while_others_run);
  tcase_add_test (pipelines, test_load_error_for_every_element);
  return suite;
}

GST_CHECK_MAIN (shared_model);
