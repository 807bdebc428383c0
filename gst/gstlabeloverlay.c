/* gstlabeloverlay.c: draws the latest clip result on the video.
 *
 * The result (a GstClipLabelsMeta on a buffer, or the clip-labels event sent at EOS) is rendered
 * with Pango/Cairo into a GstVideoOverlayComposition: a panel in one corner with, per label, the
 * label and its score on a backing box with outlined text, and a bar as long as the score. The
 * composition is attached as GstVideoOverlayCompositionMeta when downstream accepts both the caps
 * feature and the meta in the allocation query (as textoverlay does), otherwise it is blended into
 * the frame. It is rendered again only when the result, the frame size or a property changes. */
#include "gstlabeloverlay.h"

#include <math.h>
#include <pango/pangocairo.h>

#include "cliplabels/gstcliplabelsmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_label_overlay_debug);
#define GST_CAT_DEFAULT gst_label_overlay_debug

enum {
  PROP_0,
  PROP_HOLD,
  PROP_POSITION,
  PROP_FONT_DESC,
  PROP_TOP_K,
  PROP_MIN_SCORE,
  PROP_REGION,
};

#define DEFAULT_HOLD (2 * GST_SECOND)
#define DEFAULT_POSITION GST_LABEL_OVERLAY_POSITION_TOP_LEFT
#define DEFAULT_FONT_DESC "Sans Bold 18"
#define DEFAULT_TOP_K 3
#define DEFAULT_MIN_SCORE 0.0

/* Font sizes of font-desc are for a frame 480 lines high and scale with the frame height. */
#define REFERENCE_FRAME_HEIGHT 480.0
#define MIN_FONT_PIXELS 6.0

struct _GstLabelOverlay {
  GstVideoFilter parent;

  /* properties, guarded by the object lock */
  GstClockTime hold;                 /* how long a result stays on screen */
  GstLabelOverlayPosition position;  /* corner of the panel */
  gchar *font_desc;                  /* Pango font description */
  guint top_k;                       /* labels shown at most */
  gdouble min_score;                 /* labels scoring less are not shown */
  gboolean settings_changed;         /* a property changed since the last rendering */
  GstVideoRectangle region;          /* where the composition draws, in frame pixels */

  /* streaming state */
  GstClipLabelsResult *result;       /* the latest result, or NULL */
  gboolean result_expired;           /* it was held long enough and is no longer shown */
  GstClockTime result_time;          /* running time at which it arrived */
  GstClockTime last_running_time;    /* of the last buffer */
  gboolean downstream_queried;       /* the allocation query was made for these caps */
  gboolean attach;                   /* downstream takes the composition as meta */
  gboolean meta_refused;             /* downstream took the caps feature, not the meta */
  guint window_width;                /* render size asked for by downstream, 0: frame size */
  guint window_height;
  GstVideoOverlayComposition *composition; /* the rendered result, or NULL */
  gboolean composition_stale;        /* the result or the frame size changed */
  PangoFontMap *font_map;            /* created in start() */
};

#define SINK_CAPS GST_VIDEO_CAPS_MAKE (GST_VIDEO_OVERLAY_COMPOSITION_BLEND_FORMATS)
#define SRC_CAPS SINK_CAPS ";" GST_VIDEO_CAPS_MAKE_WITH_FEATURES ( \
    GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY "," \
    GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION, \
    GST_VIDEO_OVERLAY_COMPOSITION_BLEND_FORMATS)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (SINK_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (SRC_CAPS));

G_DEFINE_TYPE (GstLabelOverlay, gst_label_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (labeloverlay, "labeloverlay", GST_RANK_NONE, GST_TYPE_LABEL_OVERLAY);

GType
gst_label_overlay_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LABEL_OVERLAY_POSITION_TOP_LEFT, "Top left corner", "top-left"},
    {GST_LABEL_OVERLAY_POSITION_TOP_RIGHT, "Top right corner", "top-right"},
    {GST_LABEL_OVERLAY_POSITION_BOTTOM_LEFT, "Bottom left corner", "bottom-left"},
    {GST_LABEL_OVERLAY_POSITION_BOTTOM_RIGHT, "Bottom right corner", "bottom-right"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType registered = g_enum_register_static ("GstLabelOverlayPosition", values);
    g_once_init_leave (&type, registered);
  }
  return type;
}

/* ---- caps negotiation: the composition meta when downstream takes it, else blending ---- */

static gboolean
caps_have_overlay_feature (const GstCaps *caps)
{
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);

  return features != NULL && gst_caps_features_contains (features,
      GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
}

/* A copy of caps in system memory, with or without the overlay composition feature. */
static GstCaps *
caps_with_overlay_feature (GstCaps *caps, gboolean with_feature)
{
  GstCaps *copy = gst_caps_copy (caps);
  guint i;

  for (i = 0; i < gst_caps_get_size (copy); i++) {
    gst_caps_set_features (copy, i, with_feature ? gst_caps_features_new (
            GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY,
            GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION, NULL) : NULL);
  }
  return copy;
}

/* Downstream is offered the caps with the feature first, unless it took the feature but not the
 * meta before: then plain caps come first (downstream that only takes the feature still can). */
static GstCaps *
gst_label_overlay_transform_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps, GstCaps *filter)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (trans);
  GstCaps *result;

  if (direction == GST_PAD_SRC) {
    result = caps_with_overlay_feature (caps, FALSE);
  } else {
    GstCaps *plain = caps_with_overlay_feature (caps, FALSE);
    GstCaps *featured = caps_with_overlay_feature (caps, TRUE);
    gboolean plain_first;

    GST_OBJECT_LOCK (self);
    plain_first = self->meta_refused;
    GST_OBJECT_UNLOCK (self);
    result = plain_first ? gst_caps_merge (plain, featured) : gst_caps_merge (featured, plain);
  }

  if (filter != NULL) {
    GstCaps *filtered = gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (result);
    result = filtered;
  }
  GST_LOG_OBJECT (self, "%s caps %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, result);
  return result;
}

/* Reads whether downstream takes the composition meta, and the window size it renders at. */
static void
gst_label_overlay_take_allocation (GstLabelOverlay *self, GstCaps *caps, GstQuery *query)
{
  gboolean caps_have_feature = caps_have_overlay_feature (caps);
  gboolean query_has_meta;
  guint meta_index, window_width = 0, window_height = 0;

  query_has_meta = gst_query_find_allocation_meta (query,
      GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE, &meta_index);
  if (query_has_meta) {
    const GstStructure *params = NULL;

    gst_query_parse_nth_allocation_meta (query, meta_index, &params);
    if (params == NULL || !gst_structure_get (params, "width", G_TYPE_UINT, &window_width,
            "height", G_TYPE_UINT, &window_height, NULL) || window_width == 0
        || window_height == 0)
      window_width = window_height = 0;
  }

  GST_OBJECT_LOCK (self);
  self->attach = caps_have_feature && query_has_meta;
  if (caps_have_feature && !query_has_meta && !self->meta_refused) {
    /* As textoverlay: blend, and offer downstream the plain caps instead. */
    self->meta_refused = TRUE;
    gst_pad_mark_reconfigure (GST_BASE_TRANSFORM_SRC_PAD (self));
  }
  if (window_width != self->window_width || window_height != self->window_height)
    self->composition_stale = TRUE;
  self->window_width = window_width;
  self->window_height = window_height;
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "caps feature %d, allocation meta %d (window %ux%u): %s",
      caps_have_feature, query_has_meta, window_width, window_height,
      self->attach ? "attaching the composition" : "blending");
}

/* In place, GstBaseTransform asks downstream nothing: send the allocation query once per caps
 * (after the caps went downstream, so that a transform there can answer), as textoverlay does. */
static void
gst_label_overlay_query_downstream (GstLabelOverlay *self)
{
  GstPad *srcpad = GST_BASE_TRANSFORM_SRC_PAD (self);
  GstCaps *caps = gst_pad_get_current_caps (srcpad);
  GstQuery *query;

  self->downstream_queried = TRUE;
  if (caps == NULL)
    return;
  query = gst_query_new_allocation (caps, FALSE);
  if (!gst_pad_peer_query (srcpad, query))
    GST_DEBUG_OBJECT (self, "allocation query failed, using its defaults");
  gst_label_overlay_take_allocation (self, caps, query);
  gst_query_unref (query);
  gst_caps_unref (caps);
}

static gboolean
gst_label_overlay_set_info (GstVideoFilter *filter, GstCaps *incaps, GstVideoInfo *in_info,
    GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (filter);

  GST_OBJECT_LOCK (self);
  self->composition_stale = TRUE;
  GST_OBJECT_UNLOCK (self);
  self->downstream_queried = FALSE;
  return TRUE;
}

/* ---- the result shown ---- */

/* Keeps a copy of result unless it is the one shown already. */
static void
gst_label_overlay_take_result (GstLabelOverlay *self, const GstClipLabelsResult *result,
    GstClockTime running_time)
{
  if (self->result != NULL && gst_clip_labels_result_is_same_clip (self->result, result))
    return;
  GST_DEBUG_OBJECT (self, "new result at %" GST_TIME_FORMAT ": clip %" G_GUINT64_FORMAT
      " of %s", GST_TIME_ARGS (running_time), result->clip_index,
      GST_STR_NULL (g_quark_to_string (result->producer)));
  gst_clip_labels_result_free (self->result);
  self->result = gst_clip_labels_result_copy (result);
  self->result_expired = FALSE;
  self->result_time = running_time;
  self->composition_stale = TRUE;
}

/* Nothing is drawn until the next result. */
static void
gst_label_overlay_hide (GstLabelOverlay *self)
{
  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
  GST_OBJECT_LOCK (self);
  self->region = (GstVideoRectangle) {0, 0, 0, 0};
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_overlay_clear_result (GstLabelOverlay *self)
{
  gst_label_overlay_hide (self);
  g_clear_pointer (&self->result, gst_clip_labels_result_free);
  self->result_time = GST_CLOCK_TIME_NONE;
}

static gboolean
result_is_old (GstClockTime result_time, GstClockTime now, GstClockTime hold)
{
  if (!GST_CLOCK_TIME_IS_VALID (hold) || !GST_CLOCK_TIME_IS_VALID (result_time)
      || !GST_CLOCK_TIME_IS_VALID (now) || now <= result_time)
    return FALSE;
  return now - result_time >= hold;
}

/* ---- rendering ---- */

typedef struct {
  GPtrArray *texts;       /* the label of each shown label (drawn with its score) */
  GArray *scores;         /* gdouble per shown label */
} ShownLabels;

static void
shown_labels_collect (ShownLabels *shown, const GstClipLabelsResult *result, guint top_k,
    gdouble min_score)
{
  guint i;

  shown->texts = g_ptr_array_new_with_free_func (g_free);
  shown->scores = g_array_new (FALSE, FALSE, sizeof (gdouble));
  for (i = 0; i < result->n_labels && shown->texts->len < top_k; i++) {
    const GstClipLabel *label = &result->labels[i];
    gdouble shown_score;

    if (!(label->score >= min_score))
      continue;
    shown_score = CLAMP (label->score, 0.0f, 1.0f);
    g_ptr_array_add (shown->texts, g_strdup (label->label != 0
            ? g_quark_to_string (label->label) : ""));
    g_array_append_val (shown->scores, shown_score);
  }
}

static void
shown_labels_clear (ShownLabels *shown)
{
  g_ptr_array_unref (shown->texts);
  g_array_unref (shown->scores);
}

/* The first `chars` characters of `label` (with an ellipsis when shortened), then the score. */
static void
layout_set_label_prefix (PangoLayout *layout, const gchar *label, glong chars,
    gboolean shortened, gdouble score)
{
  g_autofree gchar *prefix = g_utf8_substring (label, 0, chars);
  g_autofree gchar *text = g_strdup_printf ("%s%s  %.0f%%", prefix, shortened ? "\u2026" : "",
      100.0 * score);

  pango_layout_set_text (layout, text, -1);
}

/* "label  NN%" in the layout's width: a label too long is shortened, never the score. */
static void
layout_set_label (PangoLayout *layout, const gchar *label, gdouble score)
{
  glong fits = 0, too_long = g_utf8_strlen (label, -1);

  layout_set_label_prefix (layout, label, too_long, FALSE, score);
  if (!pango_layout_is_ellipsized (layout))
    return;
  while (fits + 1 < too_long) {   /* the longest prefix that fits */
    glong mid = fits + (too_long - fits) / 2;
    layout_set_label_prefix (layout, label, mid, TRUE, score);
    if (pango_layout_is_ellipsized (layout))
      too_long = mid;
    else
      fits = mid;
  }
  layout_set_label_prefix (layout, label, fits, TRUE, score);
}

/* The panel's geometry in frame pixels. */
typedef struct {
  gdouble font_pixels;
  gint pad, line_height, text_bar_gap, bar_height, row_gap;
  GstVideoRectangle rect;
} PanelLayout;

static PangoLayout *
text_layout_new (PangoContext *context, const gchar *font_desc, gdouble font_pixels,
    gint max_width)
{
  PangoLayout *layout = pango_layout_new (context);
  PangoFontDescription *desc = pango_font_description_from_string (font_desc);

  pango_font_description_set_absolute_size (desc, font_pixels * PANGO_SCALE);
  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  pango_layout_set_width (layout, MAX (max_width, 1) * PANGO_SCALE);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  pango_layout_set_single_paragraph_mode (layout, TRUE);
  return layout;
}

static gdouble
font_pixels_for_frame (const gchar *font_desc, gint frame_height)
{
  PangoFontDescription *desc = pango_font_description_from_string (font_desc);
  gint size = pango_font_description_get_size (desc);
  gdouble points = size > 0 ? (gdouble) size / PANGO_SCALE : 18.0;

  pango_font_description_free (desc);
  return MAX (MIN_FONT_PIXELS, points * frame_height / REFERENCE_FRAME_HEIGHT);
}

static gint
round_up_even (gint v)
{
  return (v + 1) & ~1;
}

/* Measures the texts and places the panel; FALSE when the frame is too small for it. Sizes and
 * the position are even so that no chroma sample outside the panel changes in 4:2:0 formats. */
static gboolean
panel_layout_compute (PanelLayout *panel, PangoContext *context, const gchar *font_desc,
    const ShownLabels *shown, GstLabelOverlayPosition position, gint frame_width,
    gint frame_height)
{
  gint margin, text_width = 0, width, height, n = shown->texts->len, i;

  panel->font_pixels = font_pixels_for_frame (font_desc, frame_height);
  margin = round_up_even (lround (panel->font_pixels * 0.5));
  panel->pad = lround (panel->font_pixels * 0.4);
  panel->text_bar_gap = lround (panel->font_pixels * 0.1);
  panel->bar_height = MAX (2, lround (panel->font_pixels * 0.3));
  panel->row_gap = lround (panel->font_pixels * 0.3);
  panel->line_height = 0;
  if (frame_width < 2 * margin + 4 || frame_height < 2 * margin + 4)
    return FALSE;

  for (i = 0; i < n; i++) {
    PangoLayout *layout = text_layout_new (context, font_desc, panel->font_pixels,
        frame_width - 2 * margin - 2 * panel->pad);
    PangoRectangle logical;

    layout_set_label (layout, g_ptr_array_index (shown->texts, i),
        g_array_index (shown->scores, gdouble, i));
    pango_layout_get_pixel_extents (layout, NULL, &logical);
    text_width = MAX (text_width, logical.width);
    panel->line_height = MAX (panel->line_height, logical.height);
    g_object_unref (layout);
  }

  width = MAX (text_width, lround (panel->font_pixels * 6)) + 2 * panel->pad;
  height = 2 * panel->pad + n * (panel->line_height + panel->text_bar_gap + panel->bar_height)
      + (n - 1) * panel->row_gap;
  width = MIN (round_up_even (width), (frame_width - 2 * margin) & ~1);
  height = MIN (round_up_even (height), (frame_height - 2 * margin) & ~1);

  panel->rect.w = width;
  panel->rect.h = height;
  panel->rect.x = position == GST_LABEL_OVERLAY_POSITION_TOP_LEFT
      || position == GST_LABEL_OVERLAY_POSITION_BOTTOM_LEFT ?
      margin : (frame_width - margin - width) & ~1;
  panel->rect.y = position == GST_LABEL_OVERLAY_POSITION_TOP_LEFT
      || position == GST_LABEL_OVERLAY_POSITION_TOP_RIGHT ?
      margin : (frame_height - margin - height) & ~1;
  return TRUE;
}

/* Backing box, then per label: outlined white text and a bar as long as the score. */
static void
panel_draw (cairo_t *cr, PangoContext *context, const gchar *font_desc,
    const PanelLayout *panel, const ShownLabels *shown)
{
  gdouble bar_width = panel->rect.w - 2 * panel->pad;
  guint i;

  cairo_set_source_rgba (cr, 0.0, 0.0, 0.0, 0.6);
  cairo_rectangle (cr, 0, 0, panel->rect.w, panel->rect.h);
  cairo_fill (cr);

  for (i = 0; i < shown->texts->len; i++) {
    gdouble score = g_array_index (shown->scores, gdouble, i);
    gdouble text_y = panel->pad + i * (panel->line_height + panel->text_bar_gap
        + panel->bar_height + panel->row_gap);
    gdouble bar_y = text_y + panel->line_height + panel->text_bar_gap;
    PangoLayout *layout = text_layout_new (context, font_desc, panel->font_pixels,
        (gint) bar_width);

    layout_set_label (layout, g_ptr_array_index (shown->texts, i), score);
    pango_cairo_update_layout (cr, layout);
    cairo_move_to (cr, panel->pad, text_y);
    pango_cairo_layout_path (cr, layout);
    g_object_unref (layout);
    cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width (cr, MAX (1.0, panel->font_pixels / 8.0));
    cairo_set_source_rgba (cr, 0.0, 0.0, 0.0, 1.0);
    cairo_stroke_preserve (cr);
    cairo_set_source_rgba (cr, 1.0, 1.0, 1.0, 1.0);
    cairo_fill (cr);

    cairo_set_source_rgba (cr, 1.0, 1.0, 1.0, 0.3);
    cairo_rectangle (cr, panel->pad, bar_y, bar_width, panel->bar_height);
    cairo_fill (cr);
    cairo_set_source_rgba (cr, 0.2, 0.85, 0.35, 1.0);
    cairo_rectangle (cr, panel->pad, bar_y, bar_width * score, panel->bar_height);
    cairo_fill (cr);
  }
}

/* The panel drawn into an ARGB rectangle of render_width x render_height pixels placed over
 * panel->rect of the frame. */
static GstVideoOverlayRectangle *
panel_render (PangoContext *context, const gchar *font_desc, const PanelLayout *panel,
    const ShownLabels *shown, gint render_width, gint render_height)
{
  gint stride = cairo_format_stride_for_width (CAIRO_FORMAT_ARGB32, render_width);
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride };
  GstBuffer *pixels = gst_buffer_new_allocate (NULL, (gsize) stride * render_height, NULL);
  GstVideoOverlayRectangle *rectangle;
  cairo_surface_t *surface;
  GstMapInfo map;
  cairo_t *cr;

  gst_buffer_add_video_meta_full (pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, render_width, render_height, 1, offset, strides);
  gst_buffer_map (pixels, &map, GST_MAP_WRITE);
  memset (map.data, 0, map.size);
  surface = cairo_image_surface_create_for_data (map.data, CAIRO_FORMAT_ARGB32, render_width,
      render_height, stride);
  cr = cairo_create (surface);
  cairo_scale (cr, (gdouble) render_width / panel->rect.w,
      (gdouble) render_height / panel->rect.h);
  panel_draw (cr, context, font_desc, panel, shown);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  gst_buffer_unmap (pixels, &map);

  rectangle = gst_video_overlay_rectangle_new_raw (pixels, panel->rect.x, panel->rect.y,
      panel->rect.w, panel->rect.h, GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  gst_buffer_unref (pixels);
  return rectangle;
}

/* Renders self->result for the current frame size; no composition when no label is shown. */
static void
gst_label_overlay_render (GstLabelOverlay *self)
{
  GstVideoInfo *info = &GST_VIDEO_FILTER (self)->in_info;
  gint frame_width = GST_VIDEO_INFO_WIDTH (info), frame_height = GST_VIDEO_INFO_HEIGHT (info);
  GstLabelOverlayPosition position;
  GstVideoRectangle region = { 0, 0, 0, 0 };
  guint top_k, window_width, window_height;
  PangoContext *context;
  ShownLabels shown;
  PanelLayout panel;
  gdouble min_score;
  gchar *font_desc;

  GST_OBJECT_LOCK (self);
  position = self->position;
  font_desc = g_strdup (self->font_desc);
  top_k = self->top_k;
  min_score = self->min_score;
  window_width = self->window_width ? self->window_width : (guint) frame_width;
  window_height = self->window_height ? self->window_height : (guint) frame_height;
  self->settings_changed = FALSE;
  self->composition_stale = FALSE;
  GST_OBJECT_UNLOCK (self);

  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
  shown_labels_collect (&shown, self->result, top_k, min_score);
  context = pango_font_map_create_context (self->font_map);
  if (shown.texts->len > 0 && panel_layout_compute (&panel, context, font_desc, &shown,
          position, frame_width, frame_height)) {
    GstVideoOverlayRectangle *rectangle = panel_render (context, font_desc, &panel, &shown,
        MAX (1, lround ((gdouble) panel.rect.w * window_width / frame_width)),
        MAX (1, lround ((gdouble) panel.rect.h * window_height / frame_height)));

    self->composition = gst_video_overlay_composition_new (rectangle);
    gst_video_overlay_rectangle_unref (rectangle);
    region = panel.rect;
  }
  GST_DEBUG_OBJECT (self, "rendered %u labels at %d,%d %dx%d", shown.texts->len, region.x,
      region.y, region.w, region.h);
  g_object_unref (context);
  shown_labels_clear (&shown);
  g_free (font_desc);

  GST_OBJECT_LOCK (self);
  self->region = region;
  GST_OBJECT_UNLOCK (self);
}

/* ---- streaming ---- */

static void
gst_label_overlay_take_meta (GstLabelOverlay *self, GstBuffer *buffer, GstClockTime now)
{
  GstClipLabelsMeta *meta = gst_buffer_get_clip_labels_meta (buffer);
  GstClipLabelsResult result;

  if (meta == NULL)
    return;
  gst_clip_labels_meta_get_result (meta, &result);
  gst_label_overlay_take_result (self, &result, now);
}

static GstFlowReturn
gst_label_overlay_draw (GstLabelOverlay *self, GstBuffer *buffer)
{
  GstVideoFrame frame;

  if (self->attach) {
    gst_buffer_add_video_overlay_composition_meta (buffer, self->composition);
    return GST_FLOW_OK;
  }
  if (!gst_video_frame_map (&frame, &GST_VIDEO_FILTER (self)->in_info, buffer,
          GST_MAP_READWRITE)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a video frame to draw labels on."),
        ("gst_video_frame_map failed on %" GST_PTR_FORMAT, buffer));
    return GST_FLOW_ERROR;
  }
  gst_video_overlay_composition_blend (self->composition, &frame);
  gst_video_frame_unmap (&frame);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_label_overlay_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (trans);
  GstClockTime now = gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buffer));
  GstClockTime hold;
  gboolean stale;

  if (GST_CLOCK_TIME_IS_VALID (now))
    self->last_running_time = now;
  if (!self->downstream_queried)
    gst_label_overlay_query_downstream (self);
  gst_label_overlay_take_meta (self, buffer, now);

  GST_OBJECT_LOCK (self);
  hold = self->hold;
  stale = self->composition_stale || self->settings_changed;
  GST_OBJECT_UNLOCK (self);

  if (self->result != NULL && !self->result_expired
      && result_is_old (self->result_time, now, hold)) {
    GST_DEBUG_OBJECT (self, "result of %" GST_TIME_FORMAT " expired at %" GST_TIME_FORMAT,
        GST_TIME_ARGS (self->result_time), GST_TIME_ARGS (now));
    gst_label_overlay_hide (self);
    self->result_expired = TRUE;
  }
  if (self->result == NULL || self->result_expired)
    return GST_FLOW_OK;
  if (stale)
    gst_label_overlay_render (self);
  if (self->composition == NULL)
    return GST_FLOW_OK;
  return gst_label_overlay_draw (self, buffer);
}

static gboolean
gst_label_overlay_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (trans);
  g_autoptr (GstClipLabelsResult) result = gst_clip_labels_event_parse_result (event);
  gboolean is_caps = GST_EVENT_TYPE (event) == GST_EVENT_CAPS;
  gboolean handled;

  if (result != NULL)
    gst_label_overlay_take_result (self, result, self->last_running_time);
  else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP)
    gst_label_overlay_clear_result (self);

  handled = GST_BASE_TRANSFORM_CLASS (gst_label_overlay_parent_class)->sink_event (trans, event);
  /* the caps are downstream now: if it refuses the meta, plain caps go before the first frame */
  if (handled && is_caps)
    gst_label_overlay_query_downstream (self);
  return handled;
}

static gboolean
gst_label_overlay_start (GstBaseTransform *trans)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (trans);

  self->font_map = pango_cairo_font_map_new ();
  self->last_running_time = GST_CLOCK_TIME_NONE;
  self->result_time = GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (self);
  self->attach = FALSE;
  self->meta_refused = FALSE;
  self->window_width = self->window_height = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_label_overlay_stop (GstBaseTransform *trans)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (trans);

  gst_label_overlay_clear_result (self);
  g_clear_object (&self->font_map);
  return TRUE;
}

/* ---- properties ---- */

static void
region_to_value (const GstVideoRectangle *region, GValue *value)
{
  gint fields[4] = { region->x, region->y, region->w, region->h };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fields); i++) {
    GValue field = G_VALUE_INIT;

    g_value_init (&field, G_TYPE_INT);
    g_value_set_int (&field, fields[i]);
    gst_value_array_append_and_take_value (value, &field);
  }
}

static void
gst_label_overlay_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HOLD:
      self->hold = g_value_get_uint64 (value);
      break;
    case PROP_POSITION:
      self->position = g_value_get_enum (value);
      break;
    case PROP_FONT_DESC:
      g_free (self->font_desc);
      self->font_desc = g_value_dup_string (value);
      if (self->font_desc == NULL)
        self->font_desc = g_strdup (DEFAULT_FONT_DESC);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_MIN_SCORE:
      self->min_score = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  self->settings_changed = TRUE;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_overlay_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HOLD:
      g_value_set_uint64 (value, self->hold);
      break;
    case PROP_POSITION:
      g_value_set_enum (value, self->position);
      break;
    case PROP_FONT_DESC:
      g_value_set_string (value, self->font_desc);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_MIN_SCORE:
      g_value_set_double (value, self->min_score);
      break;
    case PROP_REGION:
      region_to_value (&self->region, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_overlay_finalize (GObject *object)
{
  GstLabelOverlay *self = GST_LABEL_OVERLAY (object);

  g_free (self->font_desc);
  G_OBJECT_CLASS (gst_label_overlay_parent_class)->finalize (object);
}

static void
gst_label_overlay_install_properties (GObjectClass *gobject_class)
{
  const GParamFlags flags = G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING
      | G_PARAM_STATIC_STRINGS;

  g_object_class_install_property (gobject_class, PROP_HOLD,
      g_param_spec_uint64 ("hold", "Hold",
          "How long the last result stays on screen, in nanoseconds of running time "
          "(18446744073709551615 = until the next result)",
          0, G_MAXUINT64, DEFAULT_HOLD, flags));
  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position", "Corner of the frame where the labels are drawn",
          GST_TYPE_LABEL_OVERLAY_POSITION, DEFAULT_POSITION, flags));
  g_object_class_install_property (gobject_class, PROP_FONT_DESC,
      g_param_spec_string ("font-desc", "Font description",
          "Pango font description of the labels, e.g. \"Sans Bold 18\"; the size is for a frame "
          "480 lines high and scales with the frame height", DEFAULT_FONT_DESC, flags));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k", "Number of labels shown at most (best first)",
          1, 100, DEFAULT_TOP_K, flags));
  g_object_class_install_property (gobject_class, PROP_MIN_SCORE,
      g_param_spec_double ("min-score", "Minimum score",
          "Labels with a lower score are not shown", 0.0, 1.0, DEFAULT_MIN_SCORE, flags));
  g_object_class_install_property (gobject_class, PROP_REGION,
      gst_param_spec_array ("region", "Region",
          "Rectangle the labels are drawn in, in frame pixels: <x, y, width, height> "
          "(all 0 when nothing is drawn)",
          g_param_spec_int ("coordinate", "Coordinate", "x, y, width or height", 0, G_MAXINT,
              0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS),
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_label_overlay_class_init (GstLabelOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_label_overlay_debug, "labeloverlay", 0,
      "Draws clip classification results on video");

  gobject_class->set_property = gst_label_overlay_set_property;
  gobject_class->get_property = gst_label_overlay_get_property;
  gobject_class->finalize = gst_label_overlay_finalize;
  gst_label_overlay_install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Clip label overlay",
      "Filter/Editor/Video",
      "Draws the labels, scores and score bars of the latest clip classification result",
      "gst-timesformer");

  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_caps = GST_DEBUG_FUNCPTR (gst_label_overlay_transform_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_label_overlay_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_label_overlay_sink_event);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_label_overlay_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_label_overlay_stop);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_label_overlay_set_info);

  gst_type_mark_as_plugin_api (GST_TYPE_LABEL_OVERLAY_POSITION, 0);
}

static void
gst_label_overlay_init (GstLabelOverlay *self)
{
  self->hold = DEFAULT_HOLD;
  self->position = DEFAULT_POSITION;
  self->font_desc = g_strdup (DEFAULT_FONT_DESC);
  self->top_k = DEFAULT_TOP_K;
  self->min_score = DEFAULT_MIN_SCORE;
  self->result_time = GST_CLOCK_TIME_NONE;
  self->last_running_time = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
