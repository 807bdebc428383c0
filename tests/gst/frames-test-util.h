/* frames-test-util.h: video frames for the tests of timesformer. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define TEST_FRAME_DURATION (GST_SECOND / 30)

/* A frame of the given caps (raw video), filled with a pattern that depends on index; its PTS
 * is index frames of TEST_FRAME_DURATION. */
GstBuffer *test_new_frame (const gchar *caps_str, guint index);

G_END_DECLS
