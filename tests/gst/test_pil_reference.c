/* The element's preprocessing against transformers' VideoMAEImageProcessor: frames of several
 * sizes, aspect ratios and formats go through the sampler (gsttsfsampler.c, as the element
 * runs it) and, decoded to RGB as GStreamer decodes them, through tools/videomae_reference.py
 * (Pillow's bilinear resize, centre crop, rescale, normalise, with Debian's python3-pil); every
 * value of every model input must agree within TOLERANCE (normalised units; one step of a
 * byte is 1 / (255 x 0.225) = 0.0174). Every recipe: shortest edge or exact size or none, crop
 * or none, a crop larger than the frame, letterbox, stretch, BGR, a region of interest.
 *
 * Environment: TSF_SOURCE_ROOT (for the tool), TSF_PYTHON (/usr/bin/python3). */
#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>

#include "gsttsfsampler.h"
#include "temp-dir-util.h"
#include "timesformer-npy.h"

#define TOLERANCE 1e-5
/* I420 and NV12 are resized plane by plane before their conversion to RGB (gsttsfsampler.c),
 * not after it: bounds measured on this test's frames (whose texture changes colour every
 * pixel, which 4:2:0 chroma cannot carry, and clamps), in normalised units (x 57 = bytes). */
#define YUV_MAX_TOLERANCE 1.5
#define YUV_MEAN_TOLERANCE 0.3
#define PATCH 8

typedef struct {
  const gchar *name;
  guint shortest_edge, resize_width, resize_height, crop_width, crop_height;
  GstTsfFit fit;
  gboolean bgr;
} Recipe;

static const Recipe recipes[] = {
  { "edge32-crop32", 32, 0, 0, 32, 32, GST_TSF_FIT_CROP, FALSE },
  { "exact40x30-crop24", 0, 40, 30, 24, 24, GST_TSF_FIT_CROP, FALSE },
  { "noresize-crop32", 0, 0, 0, 32, 32, GST_TSF_FIT_CROP, FALSE },
  { "edge20-crop32", 20, 0, 0, 32, 32, GST_TSF_FIT_CROP, FALSE },
  { "edge24-nocrop", 24, 0, 0, 0, 0, GST_TSF_FIT_CROP, FALSE },
  { "exact48x36-nocrop", 0, 48, 36, 0, 0, GST_TSF_FIT_CROP, FALSE },
  { "noresize-nocrop", 0, 0, 0, 0, 0, GST_TSF_FIT_CROP, FALSE },
  { "edge32-crop32-letterbox", 32, 0, 0, 32, 32, GST_TSF_FIT_LETTERBOX, FALSE },
  { "edge32-crop32-stretch", 32, 0, 0, 32, 32, GST_TSF_FIT_STRETCH, FALSE },
  { "edge32-crop32-bgr", 32, 0, 0, 32, 32, GST_TSF_FIT_CROP, TRUE },
};

/* 4:3, 16:9, portrait, odd sides, the model's own size, 3:1 and far larger. */
static const guint sizes[][2] = { {160, 120}, {128, 72}, {72, 128}, {97, 61}, {32, 32},
  {300, 100}, {640, 360} };

static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_I420,
  GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_GRAY8 };

typedef struct {
  gchar *name;
  gfloat *data;              /* the sampler's model input, 3 x height x width */
  guint width, height;
  gchar *group;              /* "<format>" for the per-format figure */
} Result;

static void
result_free (Result *r)
{
  g_free (r->name);
  g_free (r->data);
  g_free (r->group);
  g_free (r);
}

static void
init_config (TsfConfig *config, const Recipe *recipe)
{
  memset (config, 0, sizeof (*config));
  config->num_frames = 1;
  config->image_size = 32;
  config->patch_size = PATCH;
  config->resize_shortest_edge = recipe->shortest_edge;
  config->resize_width = recipe->resize_width;
  config->resize_height = recipe->resize_height;
  config->crop_width = recipe->crop_width;
  config->crop_height = recipe->crop_height;
  config->rescale_factor = 1.0 / 255.0;
  for (guint c = 0; c < 3; c++) {
    config->image_mean[c] = 0.40f + 0.05f * c;   /* channels told apart */
    config->image_std[c] = 0.20f + 0.02f * c;
  }
}

/* The recipe as preprocessor_config.json members. */
static gchar *
recipe_json (const TsfConfig *config)
{
  GString *json = g_string_new ("{");

  if (config->resize_shortest_edge > 0)
    g_string_append_printf (json, "\"size\": {\"shortest_edge\": %u}, ",
        config->resize_shortest_edge);
  else if (config->resize_width > 0)
    g_string_append_printf (json, "\"size\": {\"height\": %u, \"width\": %u}, ",
        config->resize_height, config->resize_width);
  else
    g_string_append (json, "\"do_resize\": false, ");
  if (config->crop_width > 0)
    g_string_append_printf (json, "\"crop_size\": {\"height\": %u, \"width\": %u}, ",
        config->crop_height, config->crop_width);
  else
    g_string_append (json, "\"do_center_crop\": false, ");
  g_string_append_printf (json, "\"rescale_factor\": %.17g, \"image_mean\": [%.9g, %.9g, %.9g], "
      "\"image_std\": [%.9g, %.9g, %.9g]}", config->rescale_factor, config->image_mean[0],
      config->image_mean[1], config->image_mean[2], config->image_std[0], config->image_std[1],
      config->image_std[2]);
  return g_string_free (json, FALSE);
}

/* An RGB frame with smooth gradients, fine texture and hard edges. */
static GstBuffer *
pattern_frame (const GstVideoInfo *info)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstVideoFrame frame;
  gint x, y, width = GST_VIDEO_INFO_WIDTH (info), height = GST_VIDEO_INFO_HEIGHT (info);

  fail_unless (gst_video_frame_map (&frame, info, buffer, GST_MAP_WRITE));
  for (y = 0; y < height; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    for (x = 0; x < width; x++) {
      guint texture = ((x * 37 + y * 91) ^ (x * y)) % 61;

      row[3 * x + 0] = (255 * x / width + texture) % 256;
      row[3 * x + 1] = (x / 5 + y / 7) % 2 ? 230 : 20;
      row[3 * x + 2] = (255 * y / height + 3 * texture) % 256;
    }
  }
  gst_video_frame_unmap (&frame);
  return buffer;
}

static GstBuffer *
convert (GstBuffer *in, const GstVideoInfo *in_info, const GstVideoInfo *out_info)
{
  GstVideoConverter *converter = gst_video_converter_new ((GstVideoInfo *) in_info,
      (GstVideoInfo *) out_info, gst_structure_new ("GstVideoConverter",
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
          GST_VIDEO_DITHER_NONE, NULL));
  GstBuffer *out = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (out_info), NULL);
  GstVideoFrame a, b;

  fail_unless (converter != NULL);
  fail_unless (gst_video_frame_map (&a, in_info, in, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&b, out_info, out, GST_MAP_WRITE));
  gst_video_converter_frame (converter, &a, &b);
  gst_video_frame_unmap (&a);
  gst_video_frame_unmap (&b);
  gst_video_converter_free (converter);
  return out;
}

/* Writes the RGB frame's pixels without row padding. */
static void
write_rgb (const gchar *path, GstBuffer *buffer, const GstVideoInfo *info)
{
  GstVideoFrame frame;
  gsize row = (gsize) GST_VIDEO_INFO_WIDTH (info) * 3;
  GByteArray *bytes = g_byte_array_new ();

  fail_unless (gst_video_frame_map (&frame, info, buffer, GST_MAP_READ));
  for (gint y = 0; y < GST_VIDEO_INFO_HEIGHT (info); y++)
    g_byte_array_append (bytes, (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), row);
  gst_video_frame_unmap (&frame);
  fail_unless (g_file_set_contents (path, (const gchar *) bytes->data, bytes->len, NULL));
  g_byte_array_unref (bytes);
}

/* The sampler's model input for the frame. */
static gfloat *
sample (const TsfConfig *config, const Recipe *recipe, const GstVideoInfo *info,
    GstBuffer *frame, const GstVideoRectangle *roi, guint *width, guint *height)
{
  GstTsfSampling sampling = { GST_TSF_SAMPLING_FRAMES, GST_SECOND, 1, 1, 1 };
  GstTsfFrameOptions options = { recipe->fit, recipe->bgr };
  GstTsfSampler *sampler = gst_tsf_sampler_new (config, &sampling, &options);
  GError *error = NULL;
  GList *clips;
  GstTsfClip *clip;
  gfloat *data;

  fail_unless (gst_tsf_sampler_set_info (sampler, info, roi, &error), "%s",
      error ? error->message : "");
  clips = gst_tsf_sampler_push (sampler, frame, 0, &error);
  fail_unless (clips != NULL && error == NULL);
  clip = clips->data;
  *width = clip->shape.width;
  *height = clip->shape.height;
  data = g_steal_pointer (&clip->data);
  g_list_free_full (clips, (GDestroyNotify) gst_tsf_clip_free);
  gst_tsf_sampler_free (sampler);
  return data;
}

typedef struct {
  gchar *dir;
  GString *cases;            /* cases.json */
  GPtrArray *results;
} Run;

static void
add_case (Run *run, const Recipe *recipe, const guint size[2], GstVideoFormat format,
    const GstVideoRectangle *roi_or_null)
{
  GstVideoInfo rgb_info, info;
  GstVideoRectangle roi = roi_or_null ? *roi_or_null
      : (GstVideoRectangle) { 0, 0, size[0], size[1] };
  GstBuffer *rgb, *frame, *decoded;
  TsfConfig config;
  Result *result = g_new0 (Result, 1);
  gchar *rgb_path, *json;

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, size[0], size[1]);
  gst_video_info_set_format (&info, format, size[0], size[1]);
  rgb = pattern_frame (&rgb_info);
  frame = format == GST_VIDEO_FORMAT_RGB ? gst_buffer_ref (rgb) : convert (rgb, &rgb_info, &info);
  decoded = format == GST_VIDEO_FORMAT_RGB ? gst_buffer_ref (rgb)
      : convert (frame, &info, &rgb_info);
  result->name = g_strdup_printf ("%s-%ux%u-%s%s", recipe->name, size[0], size[1],
      gst_video_format_to_string (format), roi_or_null ? "-roi" : "");
  result->group = g_strdup (gst_video_format_to_string (format));
  rgb_path = g_strdup_printf ("%s/%s.rgb", run->dir, result->name);
  write_rgb (rgb_path, decoded, &rgb_info);
  init_config (&config, recipe);
  result->data = sample (&config, recipe, &info, frame, &roi, &result->width, &result->height);
  json = recipe_json (&config);
  g_string_append_printf (run->cases, "%s{\"name\": \"%s\", \"rgb\": \"%s\", \"width\": %u, "
      "\"height\": %u, \"roi\": [%d, %d, %d, %d], \"recipe\": %s, \"fit\": \"%s\", "
      "\"channel_order\": \"%s\", \"patch_size\": %d}", run->results->len ? ",\n" : "[",
      result->name, rgb_path, size[0], size[1], roi.x, roi.y, roi.w, roi.h, json,
      recipe->fit == GST_TSF_FIT_CROP ? "crop" : recipe->fit == GST_TSF_FIT_LETTERBOX
      ? "letterbox" : "stretch", recipe->bgr ? "bgr" : "rgb", PATCH);
  g_ptr_array_add (run->results, result);
  g_free (json);
  g_free (rgb_path);
  gst_buffer_unref (rgb);
  gst_buffer_unref (frame);
  gst_buffer_unref (decoded);
}

static void
run_reference (Run *run)
{
  gchar *cases_path = g_build_filename (run->dir, "cases.json", NULL);
  gchar *tool = g_build_filename (g_getenv ("TSF_SOURCE_ROOT"), "tools", "videomae_reference.py",
      NULL);
  const gchar *argv[] = { g_getenv ("TSF_PYTHON"), tool, cases_path, run->dir, NULL };
  gchar *err = NULL;
  gint status = 0;
  GError *error = NULL;

  g_string_append (run->cases, "]\n");
  fail_unless (g_file_set_contents (cases_path, run->cases->str, -1, NULL));
  fail_unless (argv[0] != NULL, "TSF_PYTHON is not set");
  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
          NULL, NULL, &err, &status, &error), "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "videomae_reference.py: %s", err);
  g_free (err);
  g_free (tool);
  g_free (cases_path);
}

/* The largest difference of one case (and its mean in *mean); fails on another shape. */
static gdouble
compare (const Run *run, const Result *r, gdouble *mean)
{
  gchar *path = g_strdup_printf ("%s/%s.npy", run->dir, r->name);
  TsfNpyArray expected;
  GError *error = NULL;
  gdouble worst = 0;
  gsize n = (gsize) 3 * r->width * r->height;

  fail_unless (tsf_npy_read (path, &expected, &error), "%s", error ? error->message : "");
  fail_unless (expected.ndim == 3 && expected.shape[0] == 3 && expected.shape[1] == r->height
      && expected.shape[2] == r->width, "%s: the reference is %" G_GSIZE_FORMAT "x%"
      G_GSIZE_FORMAT ", the element's %ux%u", r->name, expected.shape[2], expected.shape[1],
      r->width, r->height);
  *mean = 0;
  for (gsize i = 0; i < n; i++) {
    gdouble diff = fabs ((gdouble) r->data[i] - expected.data[i]);

    worst = MAX (worst, diff);
    *mean += diff / n;
  }
  tsf_npy_clear (&expected);
  g_free (path);
  return worst;
}

GST_START_TEST (test_matches_videomae_image_processor)
{
  Run run = { g_dir_make_tmp ("tsf-pil-XXXXXX", NULL), g_string_new (NULL),
    g_ptr_array_new_with_free_func ((GDestroyNotify) result_free) };
  GstVideoRectangle roi = { 21, 7, 90, 50 };
  GHashTable *per_group = g_hash_table_new (g_str_hash, g_str_equal);
  gdouble worst = 0;
  guint r, s, f;

  for (r = 0; r < G_N_ELEMENTS (recipes); r++)
    for (s = 0; s < G_N_ELEMENTS (sizes); s++)
      add_case (&run, &recipes[r], sizes[s], GST_VIDEO_FORMAT_RGB, NULL);
  for (f = 1; f < G_N_ELEMENTS (formats); f++)
    for (s = 0; s < G_N_ELEMENTS (sizes); s++) {
      add_case (&run, &recipes[0], sizes[s], formats[f], NULL);
      add_case (&run, &recipes[4], sizes[s], formats[f], NULL);
    }
  add_case (&run, &recipes[0], sizes[0], GST_VIDEO_FORMAT_RGB, &roi);
  add_case (&run, &recipes[0], sizes[0], GST_VIDEO_FORMAT_I420, &roi);
  run_reference (&run);

  for (guint i = 0; i < run.results->len; i++) {
    const Result *result = g_ptr_array_index (run.results, i);
    gdouble mean, diff = compare (&run, result, &mean);
    gdouble *group = g_hash_table_lookup (per_group, result->group);
    gboolean yuv = g_str_equal (result->group, "I420") || g_str_equal (result->group, "NV12");

    if (group == NULL) {
      group = g_new0 (gdouble, 2);
      g_hash_table_insert (per_group, result->group, group);
    }
    group[0] = MAX (group[0], diff);
    group[1] = MAX (group[1], mean);
    if (!yuv)
      worst = MAX (worst, diff);
    fail_unless (diff <= (yuv ? YUV_MAX_TOLERANCE : TOLERANCE), "%s: differs from "
        "VideoMAEImageProcessor by %g", result->name, diff);
    fail_unless (!yuv || mean <= YUV_MEAN_TOLERANCE, "%s: differs from VideoMAEImageProcessor "
        "by %g on average", result->name, mean);
  }
  for (f = 0; f < G_N_ELEMENTS (formats); f++) {
    gdouble *group = g_hash_table_lookup (per_group, gst_video_format_to_string (formats[f]));

    g_print ("%s: largest difference %.3g, largest mean difference of a frame %.3g\n",
        gst_video_format_to_string (formats[f]), group ? group[0] : -1, group ? group[1] : -1);
    g_free (group);
  }
  g_print ("%u model inputs, largest difference from VideoMAEImageProcessor %.3g (tolerance "
      "%g; I420 and NV12 above: tolerance %g, mean %g)\n", run.results->len, worst, TOLERANCE,
      YUV_MAX_TOLERANCE, YUV_MEAN_TOLERANCE);
  g_hash_table_unref (per_group);
  test_remove_dir (run.dir);
  g_free (run.dir);
  g_string_free (run.cases, TRUE);
  g_ptr_array_unref (run.results);
}
GST_END_TEST;

static Suite *
pil_reference_suite (void)
{
  Suite *s = suite_create ("pil-reference");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_matches_videomae_image_processor);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (pil_reference);
