/* gstlabelpublish.h: publishes every clip result and action event that passes to an MQTT
 * broker (pass-through). */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_LABEL_PUBLISH (gst_label_publish_get_type ())
G_DECLARE_FINAL_TYPE (GstLabelPublish, gst_label_publish, GST, LABEL_PUBLISH, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (labelpublish);

G_END_DECLS
