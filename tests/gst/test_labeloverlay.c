/* Tests of labeloverlay: what it draws, where, in which formats, for how long, and how it
 * negotiates the overlay composition meta. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "labels-test-util.h"

#define WIDTH 320
#define HEIGHT 240
#define OVERLAY_FEATURES "memory:SystemMemory, " GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION

typedef struct {
  gint x, y, w, h;
} Region;

static GstCaps *
video_caps (const gchar *format, gint width, gint height, gboolean with_overlay_feature)
{
  gchar *text = g_strdup_printf ("video/x-raw%s, format=%s, width=%d, height=%d, "
      "framerate=30/1", with_overlay_feature ? "(" OVERLAY_FEATURES ")" : "", format, width,
      height);
  GstCaps *caps = gst_caps_from_string (text);

  g_free (text);
  return caps;
}

/* A harness around labeloverlay; downstream takes the composition meta or only plain caps. */
static GstHarness *
overlay_harness (const gchar *format, gint width, gint height, gboolean downstream_takes_meta)
{
  GstHarness *h = gst_harness_new ("labeloverlay");

  gst_harness_set_sink_caps (h, video_caps (format, width, height, downstream_takes_meta));
  if (downstream_takes_meta)
    gst_harness_add_propose_allocation_meta (h, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE,
        NULL);
  gst_harness_set_src_caps (h, video_caps (format, width, height, FALSE));
  return h;
}

static GstVideoInfo
harness_video_info (GstHarness *h)
{
  GstCaps *caps = gst_pad_get_current_caps (h->srcpad);
  GstVideoInfo info;

  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  return info;
}

/* A mid-grey frame at pts, with a result of n_labels labels when clip_index >= 0. */
static GstBuffer *
grey_frame (GstHarness *h, GstClockTime pts, gint64 clip_index, guint n_labels)
{
  GstVideoInfo info = harness_video_info (h);
  GstBuffer *buffer = gst_harness_create_buffer (h, GST_VIDEO_INFO_SIZE (&info));

  gst_buffer_memset (buffer, 0, 0x80, GST_VIDEO_INFO_SIZE (&info));
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = GST_SECOND / 30;
  if (clip_index >= 0)
    test_add_result (buffer, "timesformer0", clip_index, n_labels);
  return buffer;
}

static Region
overlay_region (GstHarness *h)
{
  GValue value = G_VALUE_INIT;
  Region region;

  g_object_get_property (G_OBJECT (h->element), "region", &value);
  fail_unless_equals_int (gst_value_array_get_size (&value), 4);
  region.x = g_value_get_int (gst_value_array_get_value (&value, 0));
  region.y = g_value_get_int (gst_value_array_get_value (&value, 1));
  region.w = g_value_get_int (gst_value_array_get_value (&value, 2));
  region.h = g_value_get_int (gst_value_array_get_value (&value, 3));
  g_value_unset (&value);
  return region;
}

typedef struct {
  guint inside;      /* first-component samples changed inside the region */
  guint outside;     /* samples of any component changed outside the region */
} Changes;

/* Compares two frames sample by sample, every component of every plane. */
static Changes
count_changes (const GstVideoInfo *info, GstBuffer *before, GstBuffer *after,
    const Region *region)
{
  GstVideoFrame a, b;
  Changes changes = { 0, 0 };
  guint c;

  fail_unless (gst_video_frame_map (&a, info, before, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&b, info, after, GST_MAP_READ));
  for (c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&a); c++) {
    guint w_sub = GST_VIDEO_FORMAT_INFO_W_SUB (info->finfo, c);
    guint h_sub = GST_VIDEO_FORMAT_INFO_H_SUB (info->finfo, c);
    gint x, y;

    for (y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&a, c); y++) {
      for (x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&a, c); x++) {
        gsize at = y * GST_VIDEO_FRAME_COMP_STRIDE (&a, c) + x * GST_VIDEO_FRAME_COMP_PSTRIDE (&a,
            c);
        gint lx = x << w_sub, ly = y << h_sub;
        gboolean inside = lx >= region->x && lx < region->x + region->w && ly >= region->y
            && ly < region->y + region->h;
        gboolean changed = ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (&a, c))[at]
            != ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (&b, c))[at];

        if (changed && !inside)
          changes.outside++;
        else if (changed && c == 0)
          changes.inside++;
      }
    }
  }
  gst_video_frame_unmap (&b);
  gst_video_frame_unmap (&a);
  return changes;
}

static void
assert_region_in_frame (const Region *region, gint width, gint height)
{
  fail_unless (region->w > 0 && region->h > 0, "nothing drawn");
  fail_unless (region->x >= 0 && region->y >= 0);
  fail_unless (region->x + region->w <= width && region->y + region->h <= height,
      "region %d,%d %dx%d outside the frame", region->x, region->y, region->w, region->h);
}

/* Nothing outside the region changed, (nearly) every pixel inside did. */
static void
assert_drawn_only_in_region (const GstVideoInfo *info, GstBuffer *before, GstBuffer *after,
    const Region *region)
{
  Changes changes = count_changes (info, before, after, region);

  fail_unless_equals_int (changes.outside, 0);
  fail_unless (changes.inside >= 0.95 * region->w * region->h,
      "only %u of %d pixels changed in the region", changes.inside, region->w * region->h);
}

static gboolean
caps_have_overlay_feature (GstPad *pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean has = gst_caps_features_contains (gst_caps_get_features (caps, 0),
      GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);

  gst_caps_unref (caps);
  return has;
}

/* A grey frame with a result of three labels, before and after labeloverlay. */
typedef struct {
  GstBuffer *before;
  GstBuffer *output;
  GstVideoInfo info;
  Region region;      /* where labeloverlay says it draws */
} DrawnFrame;

static DrawnFrame
draw_result (GstHarness *h)
{
  GstBuffer *input = grey_frame (h, 0, 0, 3);
  DrawnFrame drawn;

  drawn.before = gst_buffer_copy_deep (input);
  drawn.output = gst_harness_push_and_pull (h, input);
  drawn.info = harness_video_info (h);
  drawn.region = overlay_region (h);
  assert_region_in_frame (&drawn.region, GST_VIDEO_INFO_WIDTH (&drawn.info),
      GST_VIDEO_INFO_HEIGHT (&drawn.info));
  return drawn;
}

static void
drawn_frame_clear (DrawnFrame *drawn)
{
  gst_buffer_unref (drawn->before);
  gst_buffer_unref (drawn->output);
}

static void
check_blends_when_downstream_refuses_meta (const gchar *format)
{
  GstHarness *h = overlay_harness (format, WIDTH, HEIGHT, FALSE);
  DrawnFrame drawn = draw_result (h);

  assert_drawn_only_in_region (&drawn.info, drawn.before, drawn.output, &drawn.region);
  fail_if (caps_have_overlay_feature (h->sinkpad));
  fail_if (gst_buffer_get_video_overlay_composition_meta (drawn.output) != NULL);
  drawn_frame_clear (&drawn);
  gst_harness_teardown (h);
}

GST_START_TEST (test_blend_rgb)
{
  check_blends_when_downstream_refuses_meta ("RGB");
}
GST_END_TEST;

GST_START_TEST (test_blend_i420)
{
  check_blends_when_downstream_refuses_meta ("I420");
}
GST_END_TEST;

GST_START_TEST (test_blend_nv12)
{
  check_blends_when_downstream_refuses_meta ("NV12");
}
GST_END_TEST;

/* The frame stays untouched; the attached composition draws exactly the region. */
static void
check_attaches_when_downstream_takes_meta (const gchar *format)
{
  GstHarness *h = overlay_harness (format, WIDTH, HEIGHT, TRUE);
  DrawnFrame drawn = draw_result (h);
  GstVideoOverlayCompositionMeta *meta =
      gst_buffer_get_video_overlay_composition_meta (drawn.output);
  GstVideoOverlayRectangle *rectangle;
  GstVideoFrame frame;
  GstBuffer *blended;
  Region rendered;
  Changes untouched;

  fail_unless (caps_have_overlay_feature (h->sinkpad));
  untouched = count_changes (&drawn.info, drawn.before, drawn.output, &drawn.region);
  fail_unless_equals_int (untouched.inside + untouched.outside, 0);

  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_video_overlay_composition_n_rectangles (meta->overlay), 1);
  rectangle = gst_video_overlay_composition_get_rectangle (meta->overlay, 0);
  gst_video_overlay_rectangle_get_render_rectangle (rectangle, &rendered.x, &rendered.y,
      (guint *) &rendered.w, (guint *) &rendered.h);
  fail_unless (memcmp (&rendered, &drawn.region, sizeof (Region)) == 0);

  blended = gst_buffer_copy_deep (drawn.output);
  fail_unless (gst_video_frame_map (&frame, &drawn.info, blended, GST_MAP_READWRITE));
  fail_unless (gst_video_overlay_composition_blend (meta->overlay, &frame));
  gst_video_frame_unmap (&frame);
  assert_drawn_only_in_region (&drawn.info, drawn.before, blended, &drawn.region);

  gst_buffer_unref (blended);
  drawn_frame_clear (&drawn);
  gst_harness_teardown (h);
}

GST_START_TEST (test_attach_rgb)
{
  check_attaches_when_downstream_takes_meta ("RGB");
}
GST_END_TEST;

GST_START_TEST (test_attach_i420)
{
  check_attaches_when_downstream_takes_meta ("I420");
}
GST_END_TEST;

GST_START_TEST (test_attach_nv12)
{
  check_attaches_when_downstream_takes_meta ("NV12");
}
GST_END_TEST;

/* Downstream that takes any caps but does not propose the meta gets plain caps and drawn
 * pixels, as from textoverlay. */
GST_START_TEST (test_any_caps_downstream_without_meta_gets_plain_caps)
{
  GstHarness *h = gst_harness_new ("labeloverlay");
  DrawnFrame drawn;

  gst_harness_set_src_caps (h, video_caps ("I420", WIDTH, HEIGHT, FALSE));
  drawn = draw_result (h);
  fail_if (caps_have_overlay_feature (h->sinkpad));
  assert_drawn_only_in_region (&drawn.info, drawn.before, drawn.output, &drawn.region);
  drawn_frame_clear (&drawn);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Number of samples a frame at pts (with a result when clip_index >= 0) gets changed. */
static guint
changes_at (GstHarness *h, GstClockTime pts, gint64 clip_index)
{
  GstBuffer *input = grey_frame (h, pts, clip_index, 3);
  GstBuffer *before = gst_buffer_copy_deep (input);
  GstBuffer *output = gst_harness_push_and_pull (h, input);
  GstVideoInfo info = harness_video_info (h);
  Region nowhere = { 0, 0, 0, 0 };
  Changes changes = count_changes (&info, before, output, &nowhere);

  gst_buffer_unref (before);
  gst_buffer_unref (output);
  return changes.outside;
}

GST_START_TEST (test_hold)
{
  GstHarness *h = overlay_harness ("RGB", WIDTH, HEIGHT, FALSE);
  Region region;

  g_object_set (h->element, "hold", (guint64) GST_SECOND, NULL);
  fail_unless (changes_at (h, 0, -1) == 0);
  fail_unless (changes_at (h, GST_SECOND / 10, 0) > 0);
  fail_unless (changes_at (h, GST_SECOND / 2, -1) > 0);
  fail_unless (changes_at (h, GST_SECOND, -1) > 0);
  /* one second after the result arrived it is gone */
  fail_unless (changes_at (h, GST_SECOND + GST_SECOND / 10, -1) == 0);
  region = overlay_region (h);
  fail_unless_equals_int (region.w * region.h, 0);

  /* the same result again (another copy of its meta) is not new */
  fail_unless (changes_at (h, 2 * GST_SECOND, 0) == 0);
  fail_unless (changes_at (h, 3 * GST_SECOND, 1) > 0);
  g_object_set (h->element, "hold", GST_CLOCK_TIME_NONE, NULL);
  fail_unless (changes_at (h, 100 * GST_SECOND, -1) > 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_result_from_event)
{
  GstHarness *h = overlay_harness ("RGB", WIDTH, HEIGHT, FALSE);

  fail_unless (changes_at (h, 0, -1) == 0);
  fail_unless (gst_harness_push_event (h, test_result_event ("timesformer0", 0, 2)));
  fail_unless (changes_at (h, GST_SECOND / 30, -1) > 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_flush_clears_result)
{
  GstHarness *h = overlay_harness ("RGB", WIDTH, HEIGHT, FALSE);
  GstSegment segment;

  fail_unless (changes_at (h, 0, 0) > 0);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless (changes_at (h, GST_SECOND / 30, -1) == 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Region
region_after_frame (GstHarness *h, GstClockTime pts, gint64 clip_index)
{
  gst_buffer_unref (gst_harness_push_and_pull (h, grey_frame (h, pts, clip_index, 3)));
  return overlay_region (h);
}

GST_START_TEST (test_top_k_and_min_score)
{
  GstHarness *h = overlay_harness ("I420", WIDTH, HEIGHT, FALSE);
  Region three, one, none;

  three = region_after_frame (h, 0, 0);
  g_object_set (h->element, "top-k", 1, NULL);
  one = region_after_frame (h, GST_SECOND / 30, -1);
  fail_unless (one.h > 0 && one.h < three.h * 0.6, "1 label %d px high, 3 labels %d", one.h,
      three.h);
  g_object_set (h->element, "top-k", 3, "min-score", 0.7, NULL);
  none = region_after_frame (h, 2 * GST_SECOND / 30, -1);
  fail_unless_equals_int (none.w * none.h, 0);
  fail_unless (changes_at (h, 3 * GST_SECOND / 30, -1) == 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_scales_with_frame_and_follows_position)
{
  GstHarness *small = overlay_harness ("RGB", WIDTH, HEIGHT, FALSE);
  GstHarness *large = overlay_harness ("RGB", 2 * WIDTH, 2 * HEIGHT, FALSE);
  Region s, l;

  g_object_set (large->element, "position", 3 /* bottom-right */, NULL);
  s = region_after_frame (small, 0, 0);
  l = region_after_frame (large, 0, 0);
  fail_unless (l.h > 1.8 * s.h && l.h < 2.2 * s.h, "%d px high at 480 lines, %d at 240", l.h,
      s.h);
  fail_unless (s.x < WIDTH / 4 && s.y < HEIGHT / 4);
  fail_unless (l.x + l.w > 2 * WIDTH * 0.9 && l.y + l.h > 2 * HEIGHT * 0.9);
  gst_harness_teardown (small);
  gst_harness_teardown (large);
}
GST_END_TEST;

static GstVideoOverlayComposition *
attached_composition (GstHarness *h, GstClockTime pts, gint64 clip_index)
{
  GstBuffer *output = gst_harness_push_and_pull (h, grey_frame (h, pts, clip_index, 3));
  GstVideoOverlayCompositionMeta *meta = gst_buffer_get_video_overlay_composition_meta (output);
  GstVideoOverlayComposition *composition;

  fail_unless (meta != NULL);
  composition = gst_video_overlay_composition_ref (meta->overlay);
  gst_buffer_unref (output);
  return composition;
}

/* The composition is rendered again only when the result or a property changes. */
GST_START_TEST (test_renders_only_on_change)
{
  GstHarness *h = overlay_harness ("NV12", WIDTH, HEIGHT, TRUE);
  GstVideoOverlayComposition *first = attached_composition (h, 0, 0);
  GstVideoOverlayComposition *same = attached_composition (h, GST_SECOND / 30, -1);
  GstVideoOverlayComposition *next = attached_composition (h, 2 * GST_SECOND / 30, 1);
  GstVideoOverlayComposition *restyled;

  g_object_set (h->element, "position", 1 /* top-right */, NULL);
  restyled = attached_composition (h, 3 * GST_SECOND / 30, -1);
  fail_unless (first == same);
  fail_unless (next != first);
  fail_unless (restyled != next);
  gst_video_overlay_composition_unref (first);
  gst_video_overlay_composition_unref (same);
  gst_video_overlay_composition_unref (next);
  gst_video_overlay_composition_unref (restyled);
  gst_harness_teardown (h);
}
GST_END_TEST;

static void
count_renderings (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message,
    gpointer renderings)
{
  if (g_strcmp0 (gst_debug_category_get_name (category), "labeloverlay") == 0
      && g_str_has_prefix (gst_debug_message_get (message), "rendered "))
    g_atomic_int_inc ((gint *) renderings);
}

/* A result with no label to show is not rendered again for every frame. */
GST_START_TEST (test_no_rendering_per_frame_when_nothing_shown)
{
  GstHarness *h = overlay_harness ("RGB", WIDTH, HEIGHT, FALSE);
  gint renderings = 0;
  guint frame;

  gst_debug_set_threshold_for_name ("labeloverlay", GST_LEVEL_DEBUG);
  gst_debug_add_log_function (count_renderings, &renderings, NULL);
  g_object_set (h->element, "min-score", 0.7, NULL);
  for (frame = 0; frame < 5; frame++)
    fail_unless (changes_at (h, frame * GST_SECOND / 30, frame == 0 ? 0 : -1) == 0);
  gst_debug_remove_log_function (count_renderings);
  fail_unless_equals_int (renderings, 1);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A grey frame with one result of one label, drawn. */
static GstBuffer *
draw_one_label (GstHarness *h, guint64 clip_index, const gchar *label, gfloat score,
    GstBuffer **before)
{
  GstVideoInfo info = harness_video_info (h);
  GstBuffer *input = gst_harness_create_buffer (h, GST_VIDEO_INFO_SIZE (&info));

  gst_buffer_memset (input, 0, 0x80, GST_VIDEO_INFO_SIZE (&info));
  GST_BUFFER_PTS (input) = clip_index * GST_SECOND / 30;
  GST_BUFFER_DURATION (input) = GST_SECOND / 30;
  test_add_one_label_result (input, "timesformer0", clip_index, label, score);
  *before = gst_buffer_copy_deep (input);
  return gst_harness_push_and_pull (h, input);
}

/* A label too long for the frame: the label is shortened, the score stays. Two results that
 * differ only in the score differ in the text rows, right of the shortened label; two that
 * differ only past the shortened label's end are drawn alike. */
GST_START_TEST (test_long_label_keeps_score)
{
  GstHarness *h = overlay_harness ("RGB", WIDTH, HEIGHT, FALSE);
  GString *long_label = g_string_new ("person ");
  GstBuffer *before, *low, *high, *other_end;
  GstVideoInfo info;
  Region region, second, text_rows, right_of_rows;
  Changes score_changes, end_changes;
  guint i;

  for (i = 0; i < 40; i++)
    g_string_append (long_label, "juggling ");
  g_object_set (h->element, "top-k", 1, NULL);
  low = draw_one_label (h, 0, long_label->str, 0.125f, &before);
  region = overlay_region (h);
  gst_buffer_unref (before);
  high = draw_one_label (h, 1, long_label->str, 0.875f, &before);
  gst_buffer_unref (before);
  second = overlay_region (h);
  fail_unless (memcmp (&region, &second, sizeof (Region)) == 0);
  g_string_append (long_label, "slowly");
  other_end = draw_one_label (h, 2, long_label->str, 0.125f, &before);
  gst_buffer_unref (before);
  info = harness_video_info (h);
  assert_region_in_frame (&region, WIDTH, HEIGHT);
  fail_unless (region.w > WIDTH * 0.8, "a panel %d px wide for a long label", region.w);

  /* the text row: the top 60% of the panel (the score bar is below it) */
  text_rows = (Region) { region.x, region.y, region.w, region.h * 6 / 10 };
  right_of_rows = (Region) { region.x + region.w * 7 / 10, region.y, region.w * 3 / 10,
    region.h * 6 / 10 };
  score_changes = count_changes (&info, low, high, &right_of_rows);
  fail_unless (score_changes.inside > 0, "the score is not drawn at the end of the row");
  end_changes = count_changes (&info, low, other_end, &text_rows);
  fail_unless_equals_int (end_changes.inside + end_changes.outside, 0);

  gst_buffer_unref (low);
  gst_buffer_unref (high);
  gst_buffer_unref (other_end);
  g_string_free (long_label, TRUE);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
labeloverlay_suite (void)
{
  Suite *s = suite_create ("labeloverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_blend_rgb);
  tcase_add_test (tc, test_blend_i420);
  tcase_add_test (tc, test_blend_nv12);
  tcase_add_test (tc, test_attach_rgb);
  tcase_add_test (tc, test_attach_i420);
  tcase_add_test (tc, test_attach_nv12);
  tcase_add_test (tc, test_any_caps_downstream_without_meta_gets_plain_caps);
  tcase_add_test (tc, test_hold);
  tcase_add_test (tc, test_result_from_event);
  tcase_add_test (tc, test_flush_clears_result);
  tcase_add_test (tc, test_top_k_and_min_score);
  tcase_add_test (tc, test_scales_with_frame_and_follows_position);
  tcase_add_test (tc, test_renders_only_on_change);
  tcase_add_test (tc, test_no_rendering_per_frame_when_nothing_shown);
  tcase_add_test (tc, test_long_label_keeps_score);
  return s;
}

GST_CHECK_MAIN (labeloverlay);
