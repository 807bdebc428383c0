/* Tests of the element's sampler: which frames make a clip, and the preprocessing recipe
 * (shorter side scaled, centre crop, RGB, rescale, normalise) on frames of known colours. */
#include <math.h>

#include <gst/check/gstcheck.h>

#include "gsttsfsampler.h"

#define FRAME_DURATION (GST_SECOND / 30)

/* A 32x32 model input with the defaults of the recipe. */
static void
init_config (TsfConfig *config, guint num_frames)
{
  guint c;

  memset (config, 0, sizeof (*config));
  config->num_frames = num_frames;
  config->image_size = 32;
  config->resize_shortest_edge = 32;
  config->crop_width = 32;
  config->crop_height = 32;
  config->rescale_factor = 1.0 / 255.0;
  for (c = 0; c < 3; c++) {
    config->image_mean[c] = 0.45f;
    config->image_std[c] = 0.225f;
  }
}

/* A sampler of `frames` frames per clip (0: the config's); time: one slot per `stride` frames of
 * 30 fps. */
static GstTsfSampler *
new_sampler (const TsfConfig *config, GstTsfSamplingMode mode, guint stride, guint frames,
    guint hop)
{
  GstTsfSampling sampling = { mode, stride * FRAME_DURATION, stride,
    frames ? frames : config->num_frames, hop ? hop : (frames ? frames : config->num_frames) };

  return gst_tsf_sampler_new (config, &sampling, NULL);
}

/* The first clip of a push, the others freed; NULL if none. */
static GstTsfClip *
push_one (GstTsfSampler *sampler, GstBuffer *frame, GstClockTime running_time, GError **error)
{
  GList *clips = gst_tsf_sampler_push (sampler, frame, running_time, error);
  GstTsfClip *clip = clips ? clips->data : NULL;

  fail_unless (clips == NULL || clips->next == NULL, "more than one clip from one frame");
  g_list_free (clips);
  return clip;
}

static gfloat
normalised (guint8 value)
{
  return (value / 255.0f - 0.45f) / 0.225f;
}

/* An RGB frame whose columns [0, w/3), [w/3, 2w/3), [2w/3, w) are red, green and blue. */
static GstBuffer *
three_bands_frame (const GstVideoInfo *info, guint index)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstVideoFrame frame;
  gint x, y, width = GST_VIDEO_INFO_WIDTH (info);

  fail_unless (gst_video_frame_map (&frame, info, buffer, GST_MAP_WRITE));
  for (y = 0; y < GST_VIDEO_INFO_HEIGHT (info); y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    for (x = 0; x < width; x++) {
      guint band = 3 * x / width;

      row[3 * x + 0] = band == 0 ? 200 : 10;
      row[3 * x + 1] = band == 1 ? 200 : 10;
      row[3 * x + 2] = band == 2 ? 200 : 10;
    }
  }
  gst_video_frame_unmap (&frame);
  GST_BUFFER_PTS (buffer) = index * FRAME_DURATION;
  return buffer;
}

/* Every value of channel c in every frame of the clip, `margin` columns from its sides on, is
 * close to `expected[c]`. */
static void
assert_clip_colour_inside (const GstTsfClip *clip, const guint8 expected[3], guint margin)
{
  gsize plane = (gsize) clip->shape.height * clip->shape.width;
  guint t, c;
  gsize i;

  for (t = 0; t < clip->shape.frames; t++) {
    for (c = 0; c < 3; c++) {
      const gfloat *values = clip->data + (t * 3 + c) * plane;

      for (i = 0; i < plane; i++)
        if (i % clip->shape.width >= margin && i % clip->shape.width < clip->shape.width - margin)
          fail_unless (fabsf (values[i] - normalised (expected[c])) < 0.02f,
            "frame %u channel %u pixel %" G_GSIZE_FORMAT ": %f, expected %f", t, c, i,
            values[i], normalised (expected[c]));
    }
  }
}

/* Pushes frames until a clip completes; returns it. */
static GstTsfClip *
first_clip (GstTsfSampler *sampler, const GstVideoInfo *info)
{
  GstTsfClip *clip = NULL;
  guint i;

  for (i = 0; clip == NULL && i < 100; i++) {
    GstBuffer *frame = three_bands_frame (info, i);
    GError *error = NULL;

    clip = push_one (sampler, frame, GST_BUFFER_PTS (frame), &error);
    fail_unless (error == NULL);
    gst_buffer_unref (frame);
  }
  fail_unless (clip != NULL);
  return clip;
}

static GstTsfClip *
classify_bands (guint width, guint height, const GstVideoRectangle *roi_or_null)
{
  TsfConfig config;
  GstVideoInfo info;
  GstVideoRectangle whole = { 0, 0, width, height };
  GstTsfSampler *sampler;
  GstTsfClip *clip;

  init_config (&config, 2);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, width, height);
  GST_VIDEO_INFO_FPS_N (&info) = 30;   /* the recipe's output is RGB at the same rate */
  sampler = new_sampler (&config, GST_TSF_SAMPLING_TIME, 1, 0, 0);
  fail_unless (gst_tsf_sampler_set_info (sampler, &info, roi_or_null ? roi_or_null : &whole,
          NULL));
  clip = first_clip (sampler, &info);
  gst_tsf_sampler_free (sampler);
  return clip;
}

static void
assert_clip_colour (const GstTsfClip *clip, const guint8 expected[3])
{
  assert_clip_colour_inside (clip, expected, 0);
}

GST_START_TEST (test_centre_crop_of_a_wide_frame)
{
  const guint8 green[3] = { 10, 200, 10 };
  GstTsfClip *clip = classify_bands (96, 32, NULL);

  fail_unless_equals_int (clip->shape.frames, 2);
  fail_unless_equals_int (clip->shape.channels, 3);
  fail_unless_equals_int (clip->shape.height, 32);
  fail_unless_equals_int (clip->shape.width, 32);
  assert_clip_colour (clip, green);
  gst_tsf_clip_free (clip);

  /* Scaled down first: 192x64 -> 96x32, then the same crop; the antialiasing filter of the
   * halving reaches into the next band from the crop's first and last columns. */
  clip = classify_bands (192, 64, NULL);
  assert_clip_colour_inside (clip, green, 1);
  gst_tsf_clip_free (clip);
}
GST_END_TEST;

GST_START_TEST (test_roi_selects_a_band)
{
  const guint8 blue[3] = { 10, 10, 200 };
  const guint8 red[3] = { 200, 10, 10 };
  GstVideoRectangle right = { 66, 0, 30, 32 }, left = { 0, 4, 30, 20 };
  GstTsfClip *clip = classify_bands (96, 32, &right);

  assert_clip_colour (clip, blue);
  gst_tsf_clip_free (clip);
  clip = classify_bands (96, 32, &left);
  assert_clip_colour (clip, red);
  gst_tsf_clip_free (clip);
}
GST_END_TEST;

GST_START_TEST (test_grey_in_yuv)
{
  TsfConfig config;
  GstVideoInfo info;
  GstVideoRectangle whole = { 0, 0, 33, 17 };
  GstTsfSampler *sampler;
  GstTsfClip *clip = NULL;
  const guint8 grey[3] = { 128, 128, 128 };
  guint i;

  init_config (&config, 1);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 33, 17);
  info.colorimetry.range = GST_VIDEO_COLOR_RANGE_0_255;
  sampler = new_sampler (&config, GST_TSF_SAMPLING_TIME, 1, 0, 0);
  fail_unless (gst_tsf_sampler_set_info (sampler, &info, &whole, NULL));
  for (i = 0; clip == NULL; i++) {
    GstBuffer *frame = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);

    gst_buffer_memset (frame, 0, 128, GST_VIDEO_INFO_SIZE (&info));
    clip = push_one (sampler, frame, 0, NULL);
    gst_buffer_unref (frame);
  }
  assert_clip_colour (clip, grey);
  gst_tsf_clip_free (clip);
  gst_tsf_sampler_free (sampler);
}
GST_END_TEST;

/* Input frames that complete clips, and each clip's first frame, for (stride, frames, hop). */
static void
check_windows (GstTsfSamplingMode mode, guint stride, guint frames, guint hop, guint n,
    const guint *completing,
    const guint *starting, guint n_clips)
{
  TsfConfig config;
  GstVideoInfo info;
  GstVideoRectangle whole = { 0, 0, 32, 32 };
  GstTsfSampler *sampler;
  guint i, clip = 0;

  init_config (&config, 8);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 32, 32);
  sampler = new_sampler (&config, mode, stride, frames, hop);
  fail_unless (gst_tsf_sampler_set_info (sampler, &info, &whole, NULL));
  for (i = 0; i < n; i++) {
    GstBuffer *frame = three_bands_frame (&info, i);
    GstTsfClip *done = push_one (sampler, frame, 1000 + i, NULL);

    if (done != NULL) {
      fail_unless (clip < n_clips, "too many clips");
      fail_unless_equals_int (i, completing[clip]);
      fail_unless_equals_int (done->shape.frames, frames ? frames : 8);
      fail_unless_equals_uint64 (done->first_pts, starting[clip] * FRAME_DURATION);
      fail_unless_equals_uint64 (done->last_pts, i * FRAME_DURATION);
      fail_unless_equals_uint64 (done->first_running_time, 1000 + starting[clip]);
      fail_unless_equals_uint64 (done->last_running_time, 1000 + i);
      clip++;
    }
    gst_tsf_clip_free (done);
    gst_buffer_unref (frame);
  }
  fail_unless_equals_int (clip, n_clips);
  gst_tsf_sampler_free (sampler);
}

GST_START_TEST (test_windows)
{
  const guint model_default[] = { 7, 15 }, model_default_first[] = { 0, 8 };
  const guint strided[] = { 2, 8, 14 }, strided_first[] = { 0, 6, 12 };
  const guint sliding[] = { 2, 3, 4, 5 }, sliding_first[] = { 0, 1, 2, 3 };

  /* On a steady 30 fps stream, sampling by time and by counting choose the same frames. */
  for (GstTsfSamplingMode mode = GST_TSF_SAMPLING_TIME; mode <= GST_TSF_SAMPLING_FRAMES;
      mode++) {
    check_windows (mode, 1, 0, 0, 16, model_default, model_default_first, 2);
    check_windows (mode, 2, 2, 3, 16, strided, strided_first, 3);
    check_windows (mode, 1, 3, 1, 6, sliding, sliding_first, 4);
  }
}
GST_END_TEST;

GST_START_TEST (test_reset_forgets_frames)
{
  const guint8 green[3] = { 10, 200, 10 };
  TsfConfig config;
  GstVideoInfo info;
  GstVideoRectangle whole = { 0, 0, 96, 32 };
  GstTsfSampler *sampler;
  GstBuffer *frame;
  GstTsfClip *clip;

  init_config (&config, 2);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 96, 32);
  sampler = new_sampler (&config, GST_TSF_SAMPLING_TIME, 1, 0, 0);
  fail_unless (gst_tsf_sampler_set_info (sampler, &info, &whole, NULL));
  frame = three_bands_frame (&info, 0);
  fail_unless (push_one (sampler, frame, 0, NULL) == NULL);
  gst_buffer_unref (frame);
  gst_tsf_sampler_reset (sampler);
  clip = first_clip (sampler, &info);
  fail_unless_equals_uint64 (clip->first_pts, 0);
  fail_unless_equals_uint64 (clip->last_pts, FRAME_DURATION);
  assert_clip_colour (clip, green);
  gst_tsf_clip_free (clip);
  gst_tsf_sampler_free (sampler);
}
GST_END_TEST;

/* The clips of a 4-frame sampler by time, one slot per 100 ms (by counting: stride), on frames
 * at `times` (ns) of a stream of caps `fps`: an array of GstClockTime pairs (first_pts, last_pts). */
static GArray *
clips_at_times (GstTsfSamplingMode mode, guint stride, guint fps, const GArray *times)
{
  TsfConfig config;
  GstVideoInfo info;
  GstVideoRectangle whole = { 0, 0, 32, 32 };
  GstTsfSampling sampling = { mode, 100 * GST_MSECOND, stride, 4, 4 };
  GstTsfSampler *sampler;
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  guint i;

  init_config (&config, 4);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 32, 32);
  GST_VIDEO_INFO_FPS_N (&info) = fps;   /* 0: a variable rate */
  sampler = gst_tsf_sampler_new (&config, &sampling, NULL);
  fail_unless (gst_tsf_sampler_set_info (sampler, &info, &whole, NULL));
  for (i = 0; i < times->len; i++) {
    GstBuffer *frame = three_bands_frame (&info, 0);
    GList *clips, *l;

    GST_BUFFER_PTS (frame) = g_array_index (times, GstClockTime, i);
    clips = gst_tsf_sampler_push (sampler, frame, GST_BUFFER_PTS (frame), NULL);
    for (l = clips; l != NULL; l = l->next) {
      GstTsfClip *clip = l->data;

      g_array_append_val (spans, clip->first_pts);
      g_array_append_val (spans, clip->last_pts);
    }
    g_list_free_full (clips, (GDestroyNotify) gst_tsf_clip_free);
    gst_buffer_unref (frame);
  }
  gst_tsf_sampler_free (sampler);
  return spans;
}

/* Frames of a `fps` stream over `seconds`, without those for which `drop` says TRUE. */
static GArray *
stream_times (guint fps, gdouble seconds, gboolean (*drop) (guint index))
{
  GArray *times = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  guint i;

  for (i = 0; i < fps * seconds; i++) {
    GstClockTime t = gst_util_uint64_scale (i, GST_SECOND, fps);

    if (drop == NULL || !drop (i))
      g_array_append_val (times, t);
  }
  return times;
}

/* Every clip starts at 400 ms x k within `tolerance` and spans 300 ms (4 slots 100 ms apart)
 * within twice that; returns the count. */
static guint
assert_spans (const GArray *spans, GstClockTime tolerance, const gchar *what)
{
  guint i;

  for (i = 0; i < spans->len; i += 2) {
    GstClockTime first = g_array_index (spans, GstClockTime, i);
    GstClockTime last = g_array_index (spans, GstClockTime, i + 1);
    GstClockTimeDiff error = GST_CLOCK_DIFF (300 * GST_MSECOND, last - first);

    fail_unless (ABS (error) <= 2 * (GstClockTimeDiff) tolerance, "%s: clip %u spans %"
        GST_TIME_FORMAT " - %" GST_TIME_FORMAT, what, i / 2, GST_TIME_ARGS (first),
        GST_TIME_ARGS (last));
    /* clip k starts at 400 ms x k */
    fail_unless (ABS (GST_CLOCK_DIFF (i / 2 * 400 * GST_MSECOND, first))
        <= (GstClockTimeDiff) tolerance, "%s: clip %u starts at %" GST_TIME_FORMAT, what,
        i / 2, GST_TIME_ARGS (first));
  }
  return spans->len / 2;
}

/* By time, a clip covers the same 300 ms at 15, 24, 30 and 60 fps (to a frame); by
 * counting, three frames apart cover 600 ms at 15 fps and 150 ms at 60. */
GST_START_TEST (test_time_sampling_any_rate)
{
  const guint rates[] = { 15, 24, 30, 60 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (rates); i++) {
    GArray *times = stream_times (rates[i], 2.0, NULL);
    GArray *spans = clips_at_times (GST_TSF_SAMPLING_TIME, 3, rates[i], times);
    GArray *counted = clips_at_times (GST_TSF_SAMPLING_FRAMES, 3, rates[i], times);
    GstClockTime half_frame = GST_SECOND / rates[i] / 2 + 1;
    gchar *what = g_strdup_printf ("%u fps", rates[i]);

    fail_unless_equals_int (assert_spans (spans, half_frame, what), 5);
    fail_unless_equals_uint64 (g_array_index (counted, GstClockTime, 1),
        gst_util_uint64_scale (9, GST_SECOND, rates[i]));
    g_free (what);
    g_array_unref (counted);
    g_array_unref (spans);
    g_array_unref (times);
  }
}
GST_END_TEST;

static gboolean
drop_between_slots (guint index)
{
  return index % 3 == 1;       /* 30 fps: never the frame of a 100 ms slot */
}

static gboolean
drop_some (guint index)
{
  return index % 7 == 3 || (index >= 40 && index < 44);   /* and a 133 ms hole */
}

/* Frames dropped by the source do not stretch a clip: by time the clips stay 300 ms (exactly
 * when no sampled frame is lost, to the hole otherwise); counting stretches them. */
GST_START_TEST (test_dropped_frames_keep_duration)
{
  GArray *times = stream_times (30, 2.0, drop_between_slots);
  GArray *spans = clips_at_times (GST_TSF_SAMPLING_TIME, 3, 30, times);
  GArray *counted = clips_at_times (GST_TSF_SAMPLING_FRAMES, 3, 30, times);

  fail_unless_equals_int (assert_spans (spans, 1, "every 3rd frame dropped"), 5);
  fail_unless (g_array_index (counted, GstClockTime, 1) > 450 * GST_MSECOND);
  g_array_unref (times);
  g_array_unref (spans);
  g_array_unref (counted);

  times = stream_times (30, 2.0, drop_some);
  spans = clips_at_times (GST_TSF_SAMPLING_TIME, 3, 30, times);
  fail_unless_equals_int (assert_spans (spans, 34 * GST_MSECOND, "some dropped"), 5);
  g_array_unref (times);
  g_array_unref (spans);
}
GST_END_TEST;

/* A hole longer than a clip, or timestamps that go back, start the window at the next frame. */
GST_START_TEST (test_time_window_restarts)
{
  GstClockTime at[] = { 0, 100, 200, 1000, 1100, 1200, 1300, 500, 600, 700, 800 };
  GArray *times = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  GArray *spans;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (at); i++) {
    GstClockTime t = at[i] * GST_MSECOND;

    g_array_append_val (times, t);
  }
  spans = clips_at_times (GST_TSF_SAMPLING_TIME, 3, 0, times);
  fail_unless_equals_int (spans->len, 4);
  fail_unless_equals_uint64 (g_array_index (spans, GstClockTime, 0), 1000 * GST_MSECOND);
  fail_unless_equals_uint64 (g_array_index (spans, GstClockTime, 1), 1300 * GST_MSECOND);
  fail_unless_equals_uint64 (g_array_index (spans, GstClockTime, 2), 500 * GST_MSECOND);
  fail_unless_equals_uint64 (g_array_index (spans, GstClockTime, 3), 800 * GST_MSECOND);
  g_array_unref (times);
  g_array_unref (spans);
}
GST_END_TEST;

/* At the end of the stream, the clip cut short is completed with its last frame. */
GST_START_TEST (test_finish_pads_the_last_clip)
{
  TsfConfig config;
  GstVideoInfo info;
  GstVideoRectangle whole = { 0, 0, 96, 32 };
  GstTsfSampler *sampler;
  GstTsfClip *clip;
  gsize floats = 3 * 32 * 32;
  guint i;

  init_config (&config, 4);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 96, 32);
  GST_VIDEO_INFO_FPS_N (&info) = 30;
  sampler = new_sampler (&config, GST_TSF_SAMPLING_TIME, 1, 0, 0);
  fail_unless (gst_tsf_sampler_set_info (sampler, &info, &whole, NULL));
  for (i = 0; i < 6; i++) {
    GstBuffer *frame = three_bands_frame (&info, i);

    gst_buffer_memset (frame, 0, 20 * i, gst_buffer_get_size (frame));   /* grey, lighter */
    gst_tsf_clip_free (push_one (sampler, frame, 0, NULL));
    gst_buffer_unref (frame);
  }
  clip = gst_tsf_sampler_finish (sampler);
  fail_unless (clip != NULL);
  fail_unless_equals_int (clip->real_frames, 2);
  fail_unless_equals_int (clip->shape.frames, 4);
  fail_unless_equals_uint64 (clip->first_pts, 4 * FRAME_DURATION);
  fail_unless_equals_uint64 (clip->last_pts, 5 * FRAME_DURATION);
  fail_unless (fabsf (clip->data[0] - normalised (80)) < 1e-5f);
  for (i = 1; i < 4; i++)
    fail_unless (fabsf (clip->data[i * floats] - normalised (100)) < 1e-5f, "frame %u", i);
  gst_tsf_clip_free (clip);
  /* nothing waits after a finish, nor after a complete clip */
  fail_unless (gst_tsf_sampler_finish (sampler) == NULL);
  for (i = 0; i < 4; i++) {
    GstBuffer *frame = three_bands_frame (&info, i);

    gst_tsf_clip_free (push_one (sampler, frame, 0, NULL));
    gst_buffer_unref (frame);
  }
  fail_unless (gst_tsf_sampler_finish (sampler) == NULL);
  gst_tsf_sampler_free (sampler);
}
GST_END_TEST;

static gpointer
make_and_free_sampler (gpointer data)
{
  gst_tsf_sampler_free (new_sampler (data, GST_TSF_SAMPLING_FRAMES, 1, 0, 0));
  return NULL;
}

/* Samplers made from two threads at once, as the elements of one pipeline do in their
 * streaming threads (a race only ThreadSanitizer sees: scripts/test.sh runs this test there). */
GST_START_TEST (test_samplers_made_at_once)
{
  TsfConfig config;
  GThread *a, *b;

  init_config (&config, 4);
  a = g_thread_new ("sampler", make_and_free_sampler, &config);
  b = g_thread_new ("sampler", make_and_free_sampler, &config);
  g_thread_join (a);
  g_thread_join (b);
}
GST_END_TEST;

static Suite *
sampler_suite (void)
{
  Suite *suite = suite_create ("tsf-sampler");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (suite, tc);
  tcase_add_test (tc, test_centre_crop_of_a_wide_frame);
  tcase_add_test (tc, test_roi_selects_a_band);
  tcase_add_test (tc, test_grey_in_yuv);
  tcase_add_test (tc, test_windows);
  tcase_add_test (tc, test_reset_forgets_frames);
  tcase_add_test (tc, test_time_sampling_any_rate);
  tcase_add_test (tc, test_dropped_frames_keep_duration);
  tcase_add_test (tc, test_time_window_restarts);
  tcase_add_test (tc, test_finish_pads_the_last_clip);
  tcase_add_test (tc, test_samplers_made_at_once);
  return suite;
}

GST_CHECK_MAIN (sampler);
