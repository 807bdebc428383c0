/* gstlabellog.h: writes every clip result that passes as one JSON line (JSON Lines). */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_LABEL_LOG (gst_label_log_get_type ())
G_DECLARE_FINAL_TYPE (GstLabelLog, gst_label_log, GST, LABEL_LOG, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (labellog);

G_END_DECLS
