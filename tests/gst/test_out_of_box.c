/* The shipped model right out of the box: `appsrc ! timesformer ! fakesink` with no property
 * set on timesformer, on 2.4-second videos of one continuous motion per class
 * (tools/render_motion_test_clips.py videos, TSF_OUT_OF_BOX_VIDEOS):
 *   - at 30 fps every video gets its motion as the majority label;
 *   - at 15 and at 60 fps the same label, and clips of the same duration;
 *   - a half-second file gets one result, marked padded (real-frames < num-frames);
 *   - frames dropped on the way keep the clips' duration.
 * Results are read from the bus (every result is posted there, also those sent at EOS). */
#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>
#include <json-glib/json-glib.h>

/* The model's clip: 8 frames 1/8 s apart, first to last 7/8 s. */
#define CLIP_SPAN (7 * GST_SECOND / 8)

typedef struct {
  gchar *path;
  gchar *label;
  guint fps;
  guint frames;
  guint width;
  guint height;
} Video;

static GPtrArray *videos;

static void
video_free (Video *video)
{
  g_free (video->path);
  g_free (video->label);
  g_free (video);
}

static void
load_videos (void)
{
  const gchar *dir = g_getenv ("TSF_OUT_OF_BOX_VIDEOS");
  gchar *path;
  JsonParser *parser = json_parser_new ();
  JsonArray *entries;
  GError *error = NULL;

  fail_unless (dir != NULL, "TSF_OUT_OF_BOX_VIDEOS is not set");
  path = g_build_filename (dir, "manifest.json", NULL);
  fail_unless (json_parser_load_from_file (parser, path, &error), "%s: %s", path,
      error ? error->message : "");
  entries = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
      "videos");
  videos = g_ptr_array_new_with_free_func ((GDestroyNotify) video_free);
  for (guint i = 0; i < json_array_get_length (entries); i++) {
    JsonObject *entry = json_array_get_object_element (entries, i);
    Video *video = g_new0 (Video, 1);

    video->path = g_build_filename (dir, json_object_get_string_member (entry, "file"), NULL);
    video->label = g_strdup (json_object_get_string_member (entry, "label"));
    video->fps = json_object_get_int_member (entry, "fps");
    video->frames = json_object_get_int_member (entry, "frames");
    video->width = json_object_get_int_member (entry, "width");
    video->height = json_object_get_int_member (entry, "height");
    g_ptr_array_add (videos, video);
  }
  g_object_unref (parser);
  g_free (path);
}

static void
free_videos (void)
{
  g_clear_pointer (&videos, g_ptr_array_unref);
}

static const Video *
find_video (const gchar *label, guint fps)
{
  for (guint i = 0; i < videos->len; i++) {
    const Video *video = g_ptr_array_index (videos, i);

    if (video->fps == fps && g_str_equal (video->label, label))
      return video;
  }
  fail ("no video of '%s' at %u fps", label, fps);
  return NULL;
}

/* Frames the source loses: none, or TRUE for the frame indices it drops. */
typedef gboolean (*DropFunc) (guint index);

static void
push_video (GstAppSrc *src, const Video *video, guint max_frames, DropFunc drop)
{
  gsize frame_size = (gsize) video->width * video->height * 3, length;
  gchar *data;
  GError *error = NULL;

  fail_unless (g_file_get_contents (video->path, &data, &length, &error), "%s",
      error ? error->message : "");
  fail_unless_equals_uint64 (length, frame_size * video->frames);
  for (guint i = 0; i < MIN (video->frames, max_frames); i++) {
    GstBuffer *buffer;

    if (drop != NULL && drop (i))
      continue;
    buffer = gst_buffer_new_memdup (data + i * frame_size, frame_size);
    GST_BUFFER_PTS (buffer) = gst_util_uint64_scale (i, GST_SECOND, video->fps);
    GST_BUFFER_DURATION (buffer) = gst_util_uint64_scale (1, GST_SECOND, video->fps);
    fail_unless_equals_int (gst_app_src_push_buffer (src, buffer), GST_FLOW_OK);
  }
  g_free (data);
  gst_app_src_end_of_stream (src);
}

/* The results of `appsrc ! timesformer ! fakesink` on the video, in clip order. */
static GPtrArray *
classify (const Video *video, guint max_frames, DropFunc drop)
{
  gchar *launch = g_strdup_printf ("appsrc name=src format=time caps=video/x-raw,format=RGB,"
      "width=%u,height=%u,framerate=%u/1 ! timesformer ! fakesink", video->width,
      video->height, video->fps);
  GstElement *pipeline = gst_parse_launch (launch, NULL), *src;
  GstBus *bus = gst_element_get_bus (pipeline);
  GPtrArray *results = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_clip_labels_result_free);
  GstMessage *message;
  gboolean done = FALSE;

  fail_unless (pipeline != NULL, "%s", launch);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  push_video (GST_APP_SRC (src), video, max_frames, drop);
  while (!done && (message = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
              GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR)) != NULL) {
    const GstStructure *s = gst_message_get_structure (message);

    fail_if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR, "%s: an error", launch);
    done = GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS;
    if (!done && gst_structure_has_name (s, GST_CLIP_LABELS_STRUCTURE_NAME))
      g_ptr_array_add (results, gst_clip_labels_result_new_from_structure (s));
    gst_message_unref (message);
  }
  fail_unless (done, "%s: no EOS within 60 s", launch);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (launch);
  return results;
}

static const gchar *
top_label (const GstClipLabelsResult *result)
{
  fail_unless (result->n_labels > 0);
  return g_quark_to_string (result->labels[0].label);
}

/* TRUE if more than half of the results have `label` on top. */
static gboolean
is_majority (const GPtrArray *results, const gchar *label)
{
  guint votes = 0;

  for (guint i = 0; i < results->len; i++)
    votes += g_str_equal (top_label (g_ptr_array_index (results, i)), label);
  return 2 * votes > results->len;
}

static void
print_results (const Video *video, const gchar *what, const GPtrArray *results)
{
  g_print ("%s at %u fps%s:", video->label, video->fps, what);
  for (guint i = 0; i < results->len; i++) {
    const GstClipLabelsResult *r = g_ptr_array_index (results, i);

    g_print (" [%s %.2f, %u/%u frames, %.3f s]", top_label (r), r->labels[0].score,
        gst_clip_labels_result_get_real_frames (r), r->num_frames,
        (gdouble) (r->last_pts - r->first_pts) / GST_SECOND);
  }
  g_print ("\n");
}

/* Every complete clip spans the model's 7/8 s within `tolerance`; returns how many. */
static guint
assert_complete_clips_span (const GPtrArray *results, GstClockTime tolerance,
    const gchar *what)
{
  guint complete = 0;

  for (guint i = 0; i < results->len; i++) {
    const GstClipLabelsResult *r = g_ptr_array_index (results, i);
    GstClockTimeDiff error = GST_CLOCK_DIFF (CLIP_SPAN, r->last_pts - r->first_pts);

    if (gst_clip_labels_result_get_real_frames (r) < r->num_frames)
      continue;
    complete++;
    fail_unless (ABS (error) <= (GstClockTimeDiff) tolerance, "%s: clip %u spans %"
        GST_TIME_FORMAT, what, i, GST_TIME_ARGS (r->last_pts - r->first_pts));
  }
  return complete;
}

GST_START_TEST (test_each_motion_at_30_fps)
{
  guint right = 0, n = 0;

  for (guint i = 0; i < videos->len; i++) {
    const Video *video = g_ptr_array_index (videos, i);
    GPtrArray *results;

    if (video->fps != 30)
      continue;
    results = classify (video, G_MAXUINT, NULL);
    print_results (video, "", results);
    /* 2.4 s: two clips of 8 frames and the last 0.4 s padded */
    fail_unless_equals_int (results->len, 3);
    fail_unless_equals_int (assert_complete_clips_span (results, GST_SECOND / 60,
            video->label), 2);
    right += is_majority (results, video->label);
    n++;
    g_ptr_array_unref (results);
  }
  fail_unless_equals_int (n, 9);
  fail_unless_equals_int (right, n);
}
GST_END_TEST;

/* The same motion at 15 and 60 fps: the same majority label, clips of the same duration (to
 * one frame of the slower stream). */
GST_START_TEST (test_15_and_60_fps_agree)
{
  for (guint i = 0; i < videos->len; i++) {
    const Video *slow = g_ptr_array_index (videos, i), *fast;
    GPtrArray *slow_results, *fast_results;

    if (slow->fps != 15)
      continue;
    fast = find_video (slow->label, 60);
    slow_results = classify (slow, G_MAXUINT, NULL);
    fast_results = classify (fast, G_MAXUINT, NULL);
    print_results (slow, "", slow_results);
    print_results (fast, "", fast_results);
    fail_unless (is_majority (slow_results, slow->label), "%s at 15 fps", slow->label);
    fail_unless (is_majority (fast_results, slow->label), "%s at 60 fps", slow->label);
    fail_unless_equals_int (slow_results->len, fast_results->len);
    fail_unless_equals_int (assert_complete_clips_span (slow_results, GST_SECOND / 30,
            "15 fps"), 2);
    fail_unless_equals_int (assert_complete_clips_span (fast_results, GST_SECOND / 120,
            "60 fps"), 2);
    g_ptr_array_unref (slow_results);
    g_ptr_array_unref (fast_results);
  }
}
GST_END_TEST;

/* Half a second (15 frames at 30 fps), shorter than one clip: one result, 4 real frames of 8. */
GST_START_TEST (test_half_second_file)
{
  const Video *video = find_video ("moving right", 30);
  GPtrArray *results = classify (video, 15, NULL);
  const GstClipLabelsResult *r;

  print_results (video, ", the first 0.5 s", results);
  fail_unless_equals_int (results->len, 1);
  r = g_ptr_array_index (results, 0);
  fail_unless_equals_int (r->num_frames, 8);
  fail_unless_equals_int (gst_clip_labels_result_get_real_frames (r), 4);
  fail_unless_equals_uint64 (r->first_pts, 0);
  /* slot 3 is due at 0.375 s: frame 11 (0.367 s) is the nearest */
  fail_unless_equals_uint64 (r->last_pts, gst_util_uint64_scale (11, GST_SECOND, 30));
  g_ptr_array_unref (results);
}
GST_END_TEST;

static gboolean
drop_frames (guint index)
{
  return index % 5 == 2 || (index >= 20 && index < 24);   /* and a 133 ms hole */
}

/* A source that drops frames: the clips keep their duration (to the hole) and their label. */
GST_START_TEST (test_dropped_frames_keep_duration)
{
  const gchar *labels[] = { "moving left", "rotating clockwise", "growing" };

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++) {
    const Video *video = find_video (labels[i], 30);
    GPtrArray *results = classify (video, G_MAXUINT, drop_frames);

    print_results (video, " with frames dropped", results);
    fail_unless_equals_int (results->len, 3);
    fail_unless_equals_int (assert_complete_clips_span (results, 70 * GST_MSECOND,
            video->label), 2);
    fail_unless (is_majority (results, video->label), "%s with frames dropped", labels[i]);
    g_ptr_array_unref (results);
  }
}
GST_END_TEST;

static Suite *
out_of_box_suite (void)
{
  Suite *s = suite_create ("out-of-box");
  TCase *tc = tcase_create ("shipped-model-defaults");

  tcase_set_timeout (tc, 300);
  tcase_add_unchecked_fixture (tc, load_videos, free_videos);
  tcase_add_test (tc, test_each_motion_at_30_fps);
  tcase_add_test (tc, test_15_and_60_fps_agree);
  tcase_add_test (tc, test_half_second_file);
  tcase_add_test (tc, test_dropped_frames_keep_duration);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (out_of_box);
