/* gstclipresults.h: what labelevents and labelpublish share to read results: each result once
 * (a result may come on copies of a buffer, or again in the event at EOS), with bounded state. */
#pragma once

#include <gst/gst.h>

#include "cliplabels/gstcliplabelsmeta.h"

G_BEGIN_DECLS

/* Remembers the next clip index per producer: one number per producer. */
typedef struct _ClipResultFilter ClipResultFilter;

ClipResultFilter *clip_result_filter_new (void);
/* TRUE the first time a result is seen; results of a producer come in clip-index order. */
gboolean clip_result_filter_is_new (ClipResultFilter *filter, const GstClipLabelsMeta *result);
void clip_result_filter_reset (ClipResultFilter *filter);
void clip_result_filter_free (ClipResultFilter *filter);

/* The result a clip-labels event carries, as a meta on *holder (unref it when done); NULL (and
 * *holder NULL) if the event carries none or an invalid one. */
const GstClipLabelsMeta *clip_result_from_event (GstEvent *event, GstBuffer **holder);

G_END_DECLS
