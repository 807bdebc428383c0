/* gsttsfpreprocess.c: the model's resize and crop recipe applied to a region of a frame. */
#include "gsttsfpreprocess.h"

#include <math.h>

/* One axis of the plan: the region's length, resized; the window kept; where it lands. */
typedef struct {
  guint resized;
  gint window_offset;
  gint window_length;
  gint dest_offset;
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

/* The input size letterbox and stretch fill. */
static void
fit_size (const TsfConfig *config, guint *width, guint *height)
{
  if (recipe_crops (config)) {
    *width = config->crop_width;
    *height = config->crop_height;
  } else if (recipe_resizes_exactly (config)) {
    *width = config->resize_width;
    *height = config->resize_height;
  } else if (config->resize_shortest_edge > 0) {
    *width = *height = config->resize_shortest_edge;
  } else {
    *width = *height = config->image_size;
  }
}

gboolean
gst_tsf_preprocess_check (const TsfConfig *config, GstTsfFit fit, guint *width, guint *height,
    GError **error)
{
  guint patch = patch_size (config);

  *width = *height = 0;
  if (fit != GST_TSF_FIT_CROP) {
    fit_size (config, width, height);
  } else if (recipe_crops (config)) {
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
static guint
resized_length (const TsfConfig *config, const GstVideoRectangle *roi, gboolean horizontal)
{
  gint length = horizontal ? roi->w : roi->h, other = horizontal ? roi->h : roi->w;
  guint edge = config->resize_shortest_edge;

  if (edge > 0 && length <= other)
    return edge;
  if (edge > 0)   /* transformers truncates the longer side: int (edge * long / short) */
    return (guint) floor ((gdouble) length * edge / other);
  if (recipe_resizes_exactly (config))
    return horizontal ? config->resize_width : config->resize_height;
  return length;
}

/* Letterbox: the region's length scaled by the factor that fits both sides in the target. */
static guint
letterboxed_length (const GstVideoRectangle *roi, guint target_width, guint target_height,
    gboolean horizontal)
{
  gdouble scale = MIN ((gdouble) target_width / roi->w, (gdouble) target_height / roi->h);
  gdouble length = (horizontal ? roi->w : roi->h) * scale;

  return MAX ((guint) lround (length), 1);
}

/* Keeps `input` pixels of the resized axis: its centre, or all of it centred in black (the
 * odd pixel before it), as transformers' center_crop does. */
static void
plan_window (AxisPlan *axis, guint input)
{
  axis->input_length = input;
  if (input <= axis->resized) {
    axis->window_offset = (axis->resized - input) / 2;
    axis->window_length = input;
    axis->dest_offset = 0;
  } else {
    axis->window_offset = 0;
    axis->window_length = axis->resized;
    axis->dest_offset = (input - axis->resized + 1) / 2;
  }
}

/* Cuts the input to whole patches: the window loses what falls beyond. */
static gboolean
cut_to_patches (AxisPlan *axis, guint patch)
{
  guint kept = axis->input_length - axis->input_length % patch;

  axis->input_length = kept;
  if (axis->dest_offset + axis->window_length > (gint) kept)
    axis->window_length = (gint) kept - axis->dest_offset;
  return kept >= patch && axis->window_length > 0;
}

static gboolean
plan_axis (const TsfConfig *config, GstTsfFit fit, const GstVideoRectangle *roi,
    gboolean horizontal, AxisPlan *axis)
{
  guint target_width, target_height, target;

  fit_size (config, &target_width, &target_height);
  target = horizontal ? target_width : target_height;
  if (fit == GST_TSF_FIT_STRETCH)
    axis->resized = target;
  else if (fit == GST_TSF_FIT_LETTERBOX)
    axis->resized = letterboxed_length (roi, target_width, target_height, horizontal);
  else
    axis->resized = resized_length (config, roi, horizontal);
  if (fit != GST_TSF_FIT_CROP)
    plan_window (axis, target);
  else if (recipe_crops (config))
    plan_window (axis, horizontal ? config->crop_width : config->crop_height);
  else
    plan_window (axis, axis->resized);
  return axis->resized > 0 && cut_to_patches (axis, patch_size (config));
}

gboolean
gst_tsf_preprocess_plan (const TsfConfig *config, GstTsfFit fit, const GstVideoRectangle *roi,
    GstTsfPreprocessPlan *plan, GError **error)
{
  AxisPlan x, y;
  gboolean x_ok, y_ok;

  g_return_val_if_fail (roi->w > 0 && roi->h > 0, FALSE);

  x_ok = plan_axis (config, fit, roi, TRUE, &x);
  y_ok = plan_axis (config, fit, roi, FALSE, &y);
  if (!x_ok || !y_ok) {
    gchar *from = g_strdup_printf (" from the %dx%d region", roi->w, roi->h);
    gboolean ok = set_size_too_small_error (config, x.input_length, y.input_length, from,
        error);

    g_free (from);
    return ok;
  }
  plan->region = *roi;
  plan->resized_width = x.resized;
  plan->resized_height = y.resized;
  plan->window = (GstVideoRectangle) { x.window_offset, y.window_offset, x.window_length,
    y.window_length };
  plan->dest_x = x.dest_offset;
  plan->dest_y = y.dest_offset;
  plan->width = x.input_length;
  plan->height = y.input_length;
  return TRUE;
}
