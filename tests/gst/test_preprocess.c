/* Tests of the preprocessing recipes (gsttsfpreprocess): the crop and resize planned for each
 * recipe VideoMAEImageProcessor accepts, the recipes refused, and the exact-size and no-resize
 * recipes through a real pipeline on copies of the shipped model whose preprocessor_config.json
 * the test rewrites. */
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>

#include "gstcliplabelsmeta.h"
#include "gsttsfpreprocess.h"
#include "model-copy.h"

/* ---- the plans ---- */

static void
init_recipe (TsfConfig *config, guint shortest_edge, guint resize_width, guint resize_height,
    guint crop_width, guint crop_height, guint patch)
{
  memset (config, 0, sizeof (*config));
  config->image_size = 32;
  config->patch_size = patch;
  config->resize_shortest_edge = shortest_edge;
  config->resize_width = resize_width;
  config->resize_height = resize_height;
  config->crop_width = crop_width;
  config->crop_height = crop_height;
}

/* One recipe on one region, and the plan expected. */
typedef struct {
  const gchar *what;
  guint shortest_edge, resize_width, resize_height, crop_width, crop_height, patch;
  GstTsfFit fit;
  GstVideoRectangle roi;
  guint width, height;       /* the model's input */
  guint resized_width, resized_height;
  GstVideoRectangle window;
  gint dest_x, dest_y;
} PlanCase;

#define CROP GST_TSF_FIT_CROP
static const PlanCase plan_cases[] = {
  {"shortest edge, crop: 160x120 to 42x32 (transformers truncates 42.67), its centre 32x32",
    32, 0, 0, 32, 32, 8, CROP, {0, 0, 160, 120}, 32, 32, 42, 32, {5, 0, 32, 32}, 0, 0},
  {"shortest edge, crop, inside a region of interest",
    32, 0, 0, 32, 32, 8, CROP, {10, 20, 40, 80}, 32, 32, 32, 64, {0, 16, 32, 32}, 0, 0},
  {"shortest edge, no crop: 160x120 to 42x32",
    32, 0, 0, 0, 0, 2, CROP, {0, 0, 160, 120}, 42, 32, 42, 32, {0, 0, 42, 32}, 0, 0},
  {"shortest edge, no crop, patches of 16: the right 10 of 42 columns not used",
    32, 0, 0, 0, 0, 16, CROP, {0, 0, 160, 120}, 32, 32, 42, 32, {0, 0, 32, 32}, 0, 0},
  {"exact size, no crop",
    0, 32, 32, 0, 0, 8, CROP, {0, 0, 160, 120}, 32, 32, 32, 32, {0, 0, 32, 32}, 0, 0},
  {"exact size 48x40 then the centre 32x32",
    0, 48, 40, 32, 32, 8, CROP, {0, 0, 160, 120}, 32, 32, 48, 40, {8, 4, 32, 32}, 0, 0},
  {"no resize, crop: the centre 32x32 pixels",
    0, 0, 0, 32, 32, 8, CROP, {0, 0, 160, 120}, 32, 32, 160, 120, {64, 44, 32, 32}, 0, 0},
  {"no resize, no crop: the region at its size, cut to whole patches",
    0, 0, 0, 0, 0, 16, CROP, {5, 6, 50, 40}, 48, 32, 50, 40, {0, 0, 48, 32}, 0, 0},
  {"crop larger than the resized region: padded with black around it, as transformers does",
    19, 0, 0, 32, 32, 16, CROP, {0, 0, 38, 38}, 32, 32, 19, 19, {0, 0, 19, 19}, 7, 7},
  {"letterbox: all of 160x120 in 32x24, black bars of 4 and 4 rows",
    32, 0, 0, 32, 32, 8, GST_TSF_FIT_LETTERBOX, {0, 0, 160, 120}, 32, 32, 32, 24,
    {0, 0, 32, 24}, 0, 4},
  {"letterbox of a tall region: 60x100 in 19x32, the odd column before",
    32, 0, 0, 32, 32, 8, GST_TSF_FIT_LETTERBOX, {0, 0, 60, 100}, 32, 32, 19, 32,
    {0, 0, 19, 32}, 7, 0},
  {"stretch: all of 160x120 in 32x32",
    32, 0, 0, 32, 32, 8, GST_TSF_FIT_STRETCH, {0, 0, 160, 120}, 32, 32, 32, 32,
    {0, 0, 32, 32}, 0, 0},
  {"stretch without a crop: to the shortest edge squared",
    32, 0, 0, 0, 0, 8, GST_TSF_FIT_STRETCH, {0, 0, 160, 120}, 32, 32, 32, 32,
    {0, 0, 32, 32}, 0, 0},
};
#undef CROP

static gboolean
rect_equal (const GstVideoRectangle *a, const GstVideoRectangle *b)
{
  return a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h;
}

GST_START_TEST (test_plans)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (plan_cases); i++) {
    const PlanCase *c = &plan_cases[i];
    GstTsfPreprocessPlan plan;
    GError *error = NULL;
    TsfConfig config;

    init_recipe (&config, c->shortest_edge, c->resize_width, c->resize_height, c->crop_width,
        c->crop_height, c->patch);
    fail_unless (gst_tsf_preprocess_plan (&config, c->fit, &c->roi, &plan, &error),
        "%s: %s", c->what, error != NULL ? error->message : "");
    fail_unless (plan.width == c->width && plan.height == c->height
        && rect_equal (&plan.region, &c->roi) && plan.resized_width == c->resized_width
        && plan.resized_height == c->resized_height && rect_equal (&plan.window, &c->window)
        && plan.dest_x == c->dest_x && plan.dest_y == c->dest_y,
        "%s: %ux%u, resized %ux%u, window %d,%d %dx%d at %d,%d", c->what, plan.width,
        plan.height, plan.resized_width, plan.resized_height, plan.window.x, plan.window.y,
        plan.window.w, plan.window.h, plan.dest_x, plan.dest_y);
  }
}
GST_END_TEST;

static void
assert_refused_at_start (const TsfConfig *config, const gchar *named)
{
  GError *error = NULL;
  guint width = 1, height = 1;

  fail_if (gst_tsf_preprocess_check (config, GST_TSF_FIT_CROP, &width, &height, &error));
  fail_unless (error != NULL && strstr (error->message, named) != NULL, "%s",
      error != NULL ? error->message : "no error");
  GST_INFO ("refused: %s", error->message);
  g_error_free (error);
}

static void
assert_accepted_at_start (const TsfConfig *config, guint width, guint height)
{
  guint w = 1, h = 1;

  fail_unless (gst_tsf_preprocess_check (config, GST_TSF_FIT_CROP, &w, &h, NULL));
  fail_unless_equals_int (w, width);
  fail_unless_equals_int (h, height);
}

GST_START_TEST (test_check_at_start)
{
  TsfConfig config;

  init_recipe (&config, 32, 0, 0, 32, 32, 8);
  assert_accepted_at_start (&config, 32, 32);
  init_recipe (&config, 0, 48, 40, 0, 0, 16);       /* cut to whole patches */
  assert_accepted_at_start (&config, 48, 32);
  init_recipe (&config, 32, 0, 0, 0, 0, 8);         /* depends on the frames */
  assert_accepted_at_start (&config, 0, 0);
  init_recipe (&config, 0, 0, 0, 0, 0, 8);
  assert_accepted_at_start (&config, 0, 0);

  init_recipe (&config, 32, 0, 0, 4, 4, 8);
  assert_refused_at_start (&config, "size.shortest_edge 32, crop_size 4x4");
  init_recipe (&config, 0, 4, 32, 0, 0, 8);
  assert_refused_at_start (&config, "size 4x32 (width x height), do_center_crop false");
  init_recipe (&config, 4, 0, 0, 0, 0, 8);
  assert_refused_at_start (&config, "smaller than one 8x8 patch");
}
GST_END_TEST;

GST_START_TEST (test_region_smaller_than_a_patch)
{
  GstVideoRectangle roi = { 0, 0, 10, 40 };
  GstTsfPreprocessPlan plan;
  GError *error = NULL;
  TsfConfig config;

  init_recipe (&config, 0, 0, 0, 0, 0, 16);
  fail_if (gst_tsf_preprocess_plan (&config, GST_TSF_FIT_CROP, &roi, &plan, &error));
  fail_unless (strstr (error->message, "do_resize false, do_center_crop false") != NULL
      && strstr (error->message, "10x40 region") != NULL, "%s", error->message);
  g_error_free (error);
}
GST_END_TEST;

/* ---- through a pipeline, on the shipped model with another recipe ---- */

static gchar *shipped_dir;

/* A copy of the shipped model whose preprocessor_config.json has `recipe` (JSON members) for
 * size, crop_size, do_resize and do_center_crop; freed by test_model_copy_remove. */
static gchar *
model_with_recipe (const gchar *recipe)
{
  gchar *json = g_strdup_printf ("{ \"image_processor_type\": \"VideoMAEImageProcessor\", "
      "\"image_mean\": [0.45, 0.45, 0.45], \"image_std\": [0.225, 0.225, 0.225], "
      "\"rescale_factor\": 0.00392156862745098, %s }", recipe);
  gchar *dir = test_model_copy (shipped_dir, NULL, json);

  g_free (json);
  return dir;
}

/* The scores of every class of every clip, in clip order (top-k = all classes, by id). One
 * inference thread: no OpenMP team to start for each pipeline's worker thread (valgrind loses
 * track of their stacks in some runs). */
static GArray *
run_pipeline (const gchar *frames, const gchar *model)
{
  gchar *launch = g_strdup_printf ("videotestsrc num-buffers=16 pattern=ball ! %s ! "
      "timesformer model=%s sampling=frames frame-stride=1 sync=true top-k=1000 threads=1 ! "
      "appsink name=sink sync=false", frames, model);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GArray *scores = g_array_new (FALSE, TRUE, sizeof (gfloat));
  GstSample *sample;

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstClipLabelsMeta *meta = gst_buffer_get_clip_labels_meta (gst_sample_get_buffer (sample));
    guint i, base = scores->len;

    for (i = 0; meta != NULL && i < meta->n_labels; i++) {
      g_array_set_size (scores, MAX (scores->len, base + meta->labels[i].class_id + 1));
      g_array_index (scores, gfloat, base + meta->labels[i].class_id) = meta->labels[i].score;
    }
    gst_sample_unref (sample);
  }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (launch);
  return scores;
}

static void
assert_same_scores (GArray *a, GArray *b)
{
  guint i;

  fail_unless (a->len > 0);
  fail_unless_equals_int (a->len, b->len);
  for (i = 0; i < a->len; i++)
    fail_unless (g_array_index (a, gfloat, i) == g_array_index (b, gfloat, i),
        "score %u: %g and %g", i, g_array_index (a, gfloat, i), g_array_index (b, gfloat, i));
}

#define FRAMES_64x48 "video/x-raw,format=RGB,width=64,height=48"
/* The centre 32x32 of those frames. */
#define CENTRE_32x32 FRAMES_64x48 " ! videocrop left=16 right=16 top=8 bottom=8"

/* size {height, width} without a crop: the bug made start() fail ("frames are 0x0"). Frames
 * already 32x32 are used as the shipped recipe uses them; 64x48 frames are resized. */
GST_START_TEST (test_exact_size_pipeline)
{
  gchar *model = model_with_recipe ("\"size\": {\"height\": 32, \"width\": 32}, "
      "\"do_center_crop\": false, \"crop_size\": {\"height\": 32, \"width\": 32}");
  GArray *shipped = run_pipeline (CENTRE_32x32, shipped_dir);
  GArray *exact = run_pipeline (CENTRE_32x32, model);
  GArray *resized = run_pipeline (FRAMES_64x48, model);

  assert_same_scores (shipped, exact);
  fail_unless_equals_int (resized->len, shipped->len);
  g_array_unref (shipped);
  g_array_unref (exact);
  g_array_unref (resized);
  test_model_copy_remove (model);
}
GST_END_TEST;

/* do_resize false with a crop: the centre 32x32 pixels, as if cropped before the element (the
 * bug divided by zero and cropped 1x1). Without a crop: the frame at its size. */
GST_START_TEST (test_no_resize_pipeline)
{
  gchar *crop = model_with_recipe ("\"do_resize\": false, \"size\": {\"shortest_edge\": 32}, "
      "\"crop_size\": {\"height\": 32, \"width\": 32}");
  gchar *whole = model_with_recipe ("\"do_resize\": false, \"do_center_crop\": false");
  GArray *shipped = run_pipeline (CENTRE_32x32, shipped_dir);
  GArray *cropped = run_pipeline (FRAMES_64x48, crop);
  GArray *unscaled = run_pipeline (CENTRE_32x32, whole);
  GArray *larger = run_pipeline (FRAMES_64x48, whole);

  assert_same_scores (shipped, cropped);
  assert_same_scores (shipped, unscaled);
  fail_unless_equals_int (larger->len, shipped->len);
  g_array_unref (shipped);
  g_array_unref (cropped);
  g_array_unref (unscaled);
  g_array_unref (larger);
  test_model_copy_remove (crop);
  test_model_copy_remove (whole);
}
GST_END_TEST;

/* A crop smaller than one 8x8 patch: start() fails with an error that names the recipe. */
GST_START_TEST (test_impossible_recipe_refused_at_start)
{
  gchar *model = model_with_recipe ("\"size\": {\"shortest_edge\": 32}, "
      "\"crop_size\": {\"height\": 4, \"width\": 4}");
  gchar *launch = g_strdup_printf ("videotestsrc num-buffers=4 ! timesformer model=%s ! "
      "fakesink", model);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *message;
  GError *error = NULL;

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (message != NULL);
  gst_message_parse_error (message, &error, NULL);
  fail_unless (strstr (error->message, "crop_size 4x4") != NULL
      && strstr (error->message, "smaller than one 8x8 patch") != NULL, "%s", error->message);
  GST_INFO ("refused: %s", error->message);

  g_error_free (error);
  gst_message_unref (message);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (launch);
  test_model_copy_remove (model);
}
GST_END_TEST;

static void
find_shipped_model (void)
{
  shipped_dir = g_build_filename (g_getenv ("TSF_SOURCE_ROOT"), "models", "motion-shapes", NULL);
}

static void
forget_shipped_model (void)
{
  g_clear_pointer (&shipped_dir, g_free);
}

static Suite *
preprocess_suite (void)
{
  Suite *suite = suite_create ("tsf-preprocess");
  TCase *plans = tcase_create ("plans");
  TCase *pipelines = tcase_create ("pipelines");

  suite_add_tcase (suite, plans);
  tcase_add_test (plans, test_plans);
  tcase_add_test (plans, test_check_at_start);
  tcase_add_test (plans, test_region_smaller_than_a_patch);

  suite_add_tcase (suite, pipelines);
  tcase_set_timeout (pipelines, 120);
  tcase_add_checked_fixture (pipelines, find_shipped_model, forget_shipped_model);
  tcase_add_test (pipelines, test_exact_size_pipeline);
  tcase_add_test (pipelines, test_no_resize_pipeline);
  tcase_add_test (pipelines, test_impossible_recipe_refused_at_start);
  return suite;
}

GST_CHECK_MAIN (preprocess);
