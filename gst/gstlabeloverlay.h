/* gstlabeloverlay.h: draws the latest clip result (labels, scores, score bars) on the video. */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

/* The corner of the frame where the labels are drawn. */
typedef enum {
  GST_LABEL_OVERLAY_POSITION_TOP_LEFT,
  GST_LABEL_OVERLAY_POSITION_TOP_RIGHT,
  GST_LABEL_OVERLAY_POSITION_BOTTOM_LEFT,
  GST_LABEL_OVERLAY_POSITION_BOTTOM_RIGHT,
} GstLabelOverlayPosition;

#define GST_TYPE_LABEL_OVERLAY_POSITION (gst_label_overlay_position_get_type ())
GType gst_label_overlay_position_get_type (void);

#define GST_TYPE_LABEL_OVERLAY (gst_label_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstLabelOverlay, gst_label_overlay, GST, LABEL_OVERLAY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (labeloverlay);

G_END_DECLS
