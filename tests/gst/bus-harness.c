/* bus-harness.c: a harness whose element has its own bus. */
#include "bus-harness.h"

#include <gst/check/gstcheck.h>

GstHarness *
bus_harness_new (const gchar *launch)
{
  return bus_harness_new_with_caps (launch, "application/x-test");
}

GstHarness *
bus_harness_new_with_caps (const gchar *launch, const gchar *caps)
{
  GstElement *element = gst_parse_launch (launch, NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;

  fail_unless (element != NULL, "could not make %s", launch);
  gst_element_set_bus (element, bus);
  gst_object_unref (bus);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, caps);
  return h;
}

GstMessage *
bus_harness_pop (GstHarness *h, GstMessageType type, guint timeout_ms)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *message = gst_bus_timed_pop_filtered (bus, timeout_ms * GST_MSECOND, type);

  gst_object_unref (bus);
  return message;
}

void
bus_harness_teardown (GstHarness *h)
{
  GstBus *bus = gst_element_get_bus (h->element);

  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
