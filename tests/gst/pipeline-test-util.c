/* pipeline-test-util.c: test models and pipelines for the tests of timesformer. */
#include "pipeline-test-util.h"

#include <gst/check/gstcheck.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>

gchar *
test_model_path (const gchar *name)
{
  return g_build_filename (g_getenv ("TSF_TEST_MODELS"), name, NULL);
}

static GstElement *
parse_description (const gchar *description, gboolean bin)
{
  gchar **parts = g_strsplit (description, "@MODELS@", -1);
  gchar *launch = g_strjoinv (g_getenv ("TSF_TEST_MODELS"), parts);
  GError *error = NULL;
  GstElement *element = bin ? gst_parse_bin_from_description (launch, FALSE, &error)
      : gst_parse_launch (launch, &error);

  fail_unless (element != NULL, "%s: %s", launch, error != NULL ? error->message : "");
  g_clear_error (&error);
  g_strfreev (parts);
  g_free (launch);
  return element;
}

GstElement *
test_parse_pipeline (const gchar *description)
{
  return parse_description (description, FALSE);
}

GstElement *
test_parse_bin (const gchar *description)
{
  return parse_description (description, TRUE);
}

void
test_set_state_and_wait (GstElement *pipeline, GstState state)
{
  GstStateChangeReturn ret;

  fail_if (gst_element_set_state (pipeline, state) == GST_STATE_CHANGE_FAILURE);
  ret = gst_element_get_state (pipeline, NULL, NULL, 60 * GST_SECOND);
  fail_unless (ret == GST_STATE_CHANGE_SUCCESS || ret == GST_STATE_CHANGE_NO_PREROLL,
      "state change: %s", gst_element_state_change_return_get_name (ret));
}

static void
count_message (TestBusCounts *counts, GstMessage *m, gboolean warnings_allowed)
{
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *error = NULL;

    gst_message_parse_error (m, &error, NULL);
    fail ("error from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), error->message);
  }
  fail_if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING && !warnings_allowed,
      "%" GST_PTR_FORMAT, m);
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING)
    counts->warning_messages++;
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (m, GST_CLIP_LABELS_STRUCTURE_NAME))
    counts->result_messages++;
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_QOS)
    counts->qos_messages++;
}

TestBusCounts
test_run_bus (GstElement *pipeline, GstClockTime eos_after, gboolean warnings_allowed,
    TestBusFunc until, gpointer user_data)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstClockTime start = g_get_monotonic_time () * GST_USECOND;
  TestBusCounts counts = { 0, 0, 0 };
  gboolean done = FALSE;

  while (!done) {
    GstMessage *m = gst_bus_timed_pop (bus, 50 * GST_MSECOND);
    GstClockTime elapsed = g_get_monotonic_time () * GST_USECOND - start;

    fail_unless (elapsed < TEST_BUS_TIMEOUT, "no end after %" GST_TIME_FORMAT,
        GST_TIME_ARGS (TEST_BUS_TIMEOUT));
    if (GST_CLOCK_TIME_IS_VALID (eos_after) && elapsed > eos_after) {
      gst_element_send_event (pipeline, gst_event_new_eos ());
      eos_after = GST_CLOCK_TIME_NONE;
    }
    if (m == NULL)
      continue;
    count_message (&counts, m, warnings_allowed);
    done = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS || (until != NULL && until (m, user_data));
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  return counts;
}
