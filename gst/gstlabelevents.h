/* gstlabelevents.h: turns the per-clip results of a stream into action events (start, update,
 * end) with hysteresis; they go downstream and on the bus. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_LABEL_EVENTS (gst_label_events_get_type ())
G_DECLARE_FINAL_TYPE (GstLabelEvents, gst_label_events, GST, LABEL_EVENTS, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (labelevents);

G_END_DECLS
