/* bench-preprocess: the streaming thread's cost of timesformer's sampler per frame, through its
 * own API (gsttsfsampler.h), for 1080p frames in several formats and two recipes: the base
 * model's (shortest edge 224, centre crop 224) and the shipped model's (32, crop 32).
 *
 *   bench-preprocess [--rounds R] [--frames N] [--width W] [--height H]
 *
 * Per format and recipe: the median over R rounds of the ms per sampled frame (every frame
 * sampled, counting frames; clips of 8 frames, each clip assembled and freed as the element's
 * queue would take it) and of the µs per frame that is not sampled. Frames come from 4 buffers
 * in turn (more than the caches hold, as a decoder's output would be). Not a test: figures for
 * docs/performance.md (scripts/bench-preprocess.sh runs it before and after a change). */
#include <stdlib.h>
#include <string.h>

#include <gst/video/video.h>

#include "gsttsfsampler.h"

#define BUFFERS 4
#define CLIP_FRAMES 8

typedef struct {
  const gchar *name;
  guint edge, crop;
} Recipe;

static const Recipe recipes[] = { { "224", 224, 224 }, { "32", 32, 32 } };

static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGRx };

static void
init_config (TsfConfig *config, const Recipe *recipe)
{
  memset (config, 0, sizeof (*config));
  config->num_frames = CLIP_FRAMES;
  config->image_size = recipe->crop;
  config->patch_size = recipe->crop == 224 ? 16 : 8;
  config->resize_shortest_edge = recipe->edge;
  config->crop_width = config->crop_height = recipe->crop;
  config->rescale_factor = 1.0 / 255.0;
  for (guint c = 0; c < 3; c++) {
    config->image_mean[c] = 0.45f;
    config->image_std[c] = 0.225f;
  }
}

/* An RGB frame with gradients and texture, converted to the format. */
static GstBuffer *
make_frame (const GstVideoInfo *info, guint seed)
{
  GstVideoInfo rgb_info;
  GstBuffer *rgb, *out;
  GstVideoFrame in_frame, out_frame;
  GstVideoConverter *converter;
  gint width = GST_VIDEO_INFO_WIDTH (info), height = GST_VIDEO_INFO_HEIGHT (info);

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, width, height);
  rgb = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&rgb_info), NULL);
  gst_video_frame_map (&in_frame, &rgb_info, rgb, GST_MAP_WRITE);
  for (gint y = 0; y < height; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in_frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&in_frame, 0);

    for (gint x = 0; x < width; x++) {
      guint texture = ((x * 37 + y * 91 + seed) ^ (x * y)) % 61;

      row[3 * x + 0] = (255 * x / width + texture) % 256;
      row[3 * x + 1] = ((x + seed) / 5 + y / 7) % 2 ? 230 : 20;
      row[3 * x + 2] = (255 * y / height + 3 * texture) % 256;
    }
  }
  out = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  gst_video_frame_map (&out_frame, info, out, GST_MAP_WRITE);
  converter = gst_video_converter_new (&rgb_info, (GstVideoInfo *) info, NULL);
  gst_video_converter_frame (converter, &in_frame, &out_frame);
  gst_video_converter_free (converter);
  gst_video_frame_unmap (&out_frame);
  gst_video_frame_unmap (&in_frame);
  gst_buffer_unref (rgb);
  return out;
}

static GstTsfSampler *
new_sampler (const TsfConfig *config, guint stride, const GstVideoInfo *info)
{
  GstTsfSampling sampling = { GST_TSF_SAMPLING_FRAMES, GST_SECOND, stride, CLIP_FRAMES,
    CLIP_FRAMES };
  GstTsfSampler *sampler = gst_tsf_sampler_new (config, &sampling, NULL);
  GstVideoRectangle roi = { 0, 0, GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info) };
  GError *error = NULL;

  if (!gst_tsf_sampler_set_info (sampler, info, &roi, &error))
    g_error ("set_info: %s", error->message);
  return sampler;
}

/* Seconds per frame for `frames` pushes of the buffers in turn, from frame `first` on. */
static gdouble
time_pushes (GstTsfSampler *sampler, GstBuffer **buffers, guint first, guint frames)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = first; i < first + frames; i++) {
    GError *error = NULL;
    GList *clips = gst_tsf_sampler_push (sampler, buffers[i % BUFFERS], 0, &error);

    if (error != NULL)
      g_error ("push: %s", error->message);
    g_list_free_full (clips, (GDestroyNotify) gst_tsf_clip_free);
  }
  return (g_get_monotonic_time () - start) / 1e6 / frames;
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

static gdouble
median (gdouble *values, guint n)
{
  qsort (values, n, sizeof (gdouble), compare_doubles);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static void
bench_case (GstVideoFormat format, const Recipe *recipe, guint width, guint height,
    guint rounds, guint frames)
{
  GstVideoInfo info;
  GstBuffer *buffers[BUFFERS];
  TsfConfig config;
  GstTsfSampler *sampled, *unsampled;
  gdouble *sampled_s = g_new (gdouble, rounds), *unsampled_s = g_new (gdouble, rounds);

  gst_video_info_set_format (&info, format, width, height);
  init_config (&config, recipe);
  for (guint b = 0; b < BUFFERS; b++)
    buffers[b] = make_frame (&info, b);
  sampled = new_sampler (&config, 1, &info);
  unsampled = new_sampler (&config, G_MAXINT, &info);
  time_pushes (sampled, buffers, 0, CLIP_FRAMES);       /* warm-up */
  time_pushes (unsampled, buffers, 0, 1);               /* its one sampled frame */
  for (guint r = 0; r < rounds; r++) {
    sampled_s[r] = time_pushes (sampled, buffers, 0, frames);
    unsampled_s[r] = time_pushes (unsampled, buffers, 1, frames * 100);
  }
  g_print ("%-5s %ux%u recipe %-3s  sampled %7.3f ms/frame   not sampled %6.3f us/frame\n",
      gst_video_format_to_string (format), width, height, recipe->name,
      median (sampled_s, rounds) * 1e3, median (unsampled_s, rounds) * 1e6);
  gst_tsf_sampler_free (sampled);
  gst_tsf_sampler_free (unsampled);
  for (guint b = 0; b < BUFFERS; b++)
    gst_buffer_unref (buffers[b]);
  g_free (sampled_s);
  g_free (unsampled_s);
}

int
main (int argc, char **argv)
{
  gint rounds = 5, frames = 48, width = 1920, height = 1080;
  GOptionEntry entries[] = {
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "rounds per case (median)", "R" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "sampled frames per round", "N" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "frame width", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "frame height", "H" },
    { NULL }
  };
  GOptionContext *context = g_option_context_new ("- timesformer's preprocessing cost");
  GError *error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  gst_init (&argc, &argv);
  if (!g_option_context_parse (context, &argc, &argv, &error) || rounds < 1 || frames < 1
      || width < 32 || height < 32) {
    g_printerr ("bench-preprocess: %s\n", error ? error->message : "bad numbers");
    return 1;
  }
  g_option_context_free (context);
  for (guint r = 0; r < G_N_ELEMENTS (recipes); r++)
    for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
      bench_case (formats[f], &recipes[r], width, height, rounds, frames);
  return 0;
}
