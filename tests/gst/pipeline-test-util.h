/* pipeline-test-util.h: test models and pipelines for the tests of timesformer. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* A run of the bus fails after this long. */
#define TEST_BUS_TIMEOUT (240 * GST_SECOND)

/* TSF_TEST_MODELS/name (the models of tests/models). */
gchar *test_model_path (const gchar *name);

/* `description` with @MODELS@ replaced by the test models' folder, parsed; fails on an error. */
GstElement *test_parse_pipeline (const gchar *description);

/* The same as a bin whose unlinked pads are left unlinked (a branch to add to a pipeline). */
GstElement *test_parse_bin (const gchar *description);

/* Sets the state and waits for it (60 s at most); a live pipeline's NO_PREROLL counts. */
void test_set_state_and_wait (GstElement *pipeline, GstState state);

/* Called on every message of a run; TRUE ends the run. */
typedef gboolean (*TestBusFunc) (GstMessage *message, gpointer user_data);

typedef struct {
  guint result_messages;      /* element messages GstClipLabels */
  guint qos_messages;
  guint warning_messages;
} TestBusCounts;

/* Pops the bus of a playing pipeline until EOS or until `until` (may be NULL) returns TRUE;
 * after `eos_after` (GST_CLOCK_TIME_NONE: never) sends EOS to the pipeline. Fails on an error
 * message, on a warning unless `warnings_allowed`, and after TEST_BUS_TIMEOUT. */
TestBusCounts test_run_bus (GstElement *pipeline, GstClockTime eos_after,
    gboolean warnings_allowed, TestBusFunc until, gpointer user_data);

G_END_DECLS
