/* gstcliplabelsbuffer.h: the clip-labels meta of a buffer as a function (the
 * gst_buffer_get_clip_labels_meta() macro cannot be called from Python or other bindings). */
#pragma once

#include "gstcliplabelsmeta.h"

G_BEGIN_DECLS

/* The index-th clip-labels meta of the buffer (a buffer may carry several), or NULL. */
GstClipLabelsMeta *gst_clip_labels_meta_from_buffer (GstBuffer *buffer, guint index);

G_END_DECLS
