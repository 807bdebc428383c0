/* gsttsfproperty.h: what the plugin's elements share in set_property (internal). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* GObject does not enforce GST_PARAM_MUTABLE_READY: FALSE (and a warning in `category`, the
 * old value kept) when `pspec` carries it and `element` is past READY. Call it first in
 * set_property. */
gboolean gst_tsf_property_can_change (GstElement *element, GParamSpec *pspec,
    GstDebugCategory *category);

G_END_DECLS
