/* gsttsfpreprocess.c: the model's resize and crop recipe applied to a region of a frame. */
#include "gsttsfpreprocess.h"

#include <math.h>

/* One axis of the plan: source interval in region pixels, dest interval in input pixels. */
typedef struct {
  gint source_offset;
  gint source_length;
  gint dest_offset;
  gint dest_length;
  guint input_length;
} AxisPlan;

/* Test configs may leave the patch size 0: no constraint then. */
static guint
patch_size (const TsfConfig *config)
{
  return MAX (config->patch_size, 1);
}

static gboolean
recipe_crops (const TsfConfig *config)
{
  return config->crop_width > 0 && config->crop_height > 0;
}

static gboolean
recipe_resizes_exactly (const TsfConfig *config)
{
  return config->resize_shortest_edge == 0 && config->resize_width > 0
      && config->resize_height > 0;
}

gchar *
gst_tsf_preprocess_describe (const TsfConfig *config)
{
  gchar *resize, *crop, *text;

  if (config->resize_shortest_edge > 0)
    resize = g_strdup_printf ("size.shortest_edge %u", config->resize_shortest_edge);
  else if (recipe_resizes_exactly (config))
    resize = g_strdup_printf ("size %ux%u (width x height)", config->resize_width,
        config->resize_height);
  else
    resize = g_strdup ("do_resize false");
  if (recipe_crops (config))
    crop = g_strdup_printf ("crop_size %ux%u (width x height)", config->crop_width,
        config->crop_height);
  else
    crop = g_strdup ("do_center_crop false");
  text = g_strdup_printf ("%s, %s", resize, crop);
  g_free (resize);
  g_free (crop);
  return text;
}

/* `size`: "8x8", or what else the recipe makes; `from`: "" or " from a 40x30 region". */
static gboolean
set_too_small_error (const TsfConfig *config, const gchar *size, const gchar *from,
    GError **error)
{
  gchar *recipe = gst_tsf_preprocess_describe (config);

  g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NOT_IMPLEMENTED,
      "the model's preprocessing (%s) makes frames of %s pixels%s, smaller than one %ux%u "
      "patch of the model", recipe, size, from, patch_size (config), patch_size (config));
  g_free (recipe);
  return FALSE;
}

static gboolean
set_size_too_small_error (const TsfConfig *config, guint width, guint height,
    const gchar *from, GError **error)
{
  gchar *size = g_strdup_printf ("%ux%u", width, height);
  gboolean ok = set_too_small_error (config, size, from, error);

  g_free (size);
  return ok;
}

gboolean
gst_tsf_preprocess_check (const TsfConfig *config, guint *width, guint *height,
    GError **error)
{
  guint patch = patch_size (config);

  *width = *height = 0;
  if (recipe_crops (config)) {
    *width = config->crop_width;
    *height = config->crop_height;
  } else if (recipe_resizes_exactly (config)) {
    *width = config->resize_width;
    *height = config->resize_height;
  } else if (config->resize_shortest_edge > 0 && config->resize_shortest_edge < patch) {
    gchar *size = g_strdup_printf ("%u (the shorter side)", config->resize_shortest_edge);
    gboolean ok = set_too_small_error (config, size, "", error);

    g_free (size);
    return ok;
  }
  if (*width > 0 && (*width < patch || *height < patch))
    return set_size_too_small_error (config, *width, *height, "", error);
  *width -= *width % patch;
  *height -= *height % patch;
  return TRUE;
}

/* The region's length on this axis once resized by the recipe. */
static gdouble
resized_length (const TsfConfig *config, const GstVideoRectangle *roi, gboolean horizontal)
{
  gint length = horizontal ? roi->w : roi->h, other = horizontal ? roi->h : roi->w;
  guint edge = config->resize_shortest_edge;

  if (edge > 0 && length <= other)
    return edge;
  if (edge > 0)   /* transformers truncates the longer side */
    return recipe_crops (config) ? (gdouble) length * edge / other
        : floor ((gdouble) length * edge / other);
  if (recipe_resizes_exactly (config))
    return horizontal ? config->resize_width : config->resize_height;
  return length;
}

/* Crops (or pads) the resized axis to `crop` input pixels, centred. */
static void
plan_crop (AxisPlan *axis, gint length, gdouble resized, guint crop)
{
  gdouble scale = resized / length;
  gint resized_pixels = (gint) lround (resized);

  axis->input_length = crop;
  if ((gint) crop <= resized_pixels) {
    axis->source_length = CLAMP ((gint) lround (crop / scale), 1, length);
    axis->source_offset = (length - axis->source_length) / 2;
    axis->dest_offset = 0;
    axis->dest_length = crop;
  } else {        /* transformers pads with black, the odd pixel before the region */
    axis->source_offset = 0;
    axis->source_length = length;
    axis->dest_offset = (crop - resized_pixels + 1) / 2;
    axis->dest_length = resized_pixels;
  }
}

/* Cuts the input to whole patches, and the source in proportion. */
static void
cut_to_patches (AxisPlan *axis, guint patch)
{
  guint kept = axis->input_length - axis->input_length % patch;
  gint dest_end = axis->dest_offset + axis->dest_length;

  axis->input_length = kept;
  if (dest_end <= (gint) kept)
    return;
  axis->source_length = MAX ((gint) lround ((gdouble) axis->source_length
          * (kept - axis->dest_offset) / axis->dest_length), 1);
  axis->dest_length = kept - axis->dest_offset;
}

static gboolean
plan_axis (const TsfConfig *config, const GstVideoRectangle *roi, gboolean horizontal,
    AxisPlan *axis)
{
  gint length = horizontal ? roi->w : roi->h;
  gdouble resized = resized_length (config, roi, horizontal);
  guint crop = horizontal ? config->crop_width : config->crop_height;

  if (recipe_crops (config)) {
    plan_crop (axis, length, resized, crop);
  } else {
    axis->source_offset = 0;
    axis->source_length = length;
    axis->dest_offset = 0;
    axis->dest_length = (gint) lround (resized);
    axis->input_length = axis->dest_length;
  }
  if (axis->input_length < patch_size (config) || axis->dest_length <= 0)
    return FALSE;
  cut_to_patches (axis, patch_size (config));
  return axis->dest_length > 0;
}

gboolean
gst_tsf_preprocess_plan (const TsfConfig *config, const GstVideoRectangle *roi,
    GstTsfPreprocessPlan *plan, GError **error)
{
  AxisPlan x, y;
  gboolean x_ok, y_ok;

  g_return_val_if_fail (roi->w > 0 && roi->h > 0, FALSE);

  x_ok = plan_axis (config, roi, TRUE, &x);
  y_ok = plan_axis (config, roi, FALSE, &y);
  if (!x_ok || !y_ok) {
    gchar *from = g_strdup_printf (" from the %dx%d region", roi->w, roi->h);
    gboolean ok = set_size_too_small_error (config, x.input_length, y.input_length, from,
        error);

    g_free (from);
    return ok;
  }
  plan->source = (GstVideoRectangle) { roi->x + x.source_offset, roi->y + y.source_offset,
    x.source_length, y.source_length };
  plan->dest = (GstVideoRectangle) { x.dest_offset, y.dest_offset, x.dest_length,
    y.dest_length };
  plan->width = x.input_length;
  plan->height = y.input_length;
  return TRUE;
}
