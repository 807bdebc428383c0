/* bus-harness.h: a GstHarness around one element that has a bus of its own from the start, so a
 * test reads what the element posts (also in start()). */
#pragma once

#include <gst/check/gstharness.h>

G_BEGIN_DECLS

/* The element of `launch` (one element with properties) in a harness, caps "application/x-test". */
GstHarness *bus_harness_new (const gchar *launch);
/* The same with other source caps. */
GstHarness *bus_harness_new_with_caps (const gchar *launch, const gchar *caps);
/* The first message of `type` on the element's bus within timeout_ms, or NULL. */
GstMessage *bus_harness_pop (GstHarness *h, GstMessageType type, guint timeout_ms);
/* Drops what is left on the bus (messages hold a reference to the element), then tears down. */
void bus_harness_teardown (GstHarness *h);

G_END_DECLS
