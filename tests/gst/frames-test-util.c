/* frames-test-util.c: video frames for the tests of timesformer. */
#include "frames-test-util.h"

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

GstBuffer *
test_new_frame (const gchar *caps_str, guint index)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstVideoInfo info;
  GstBuffer *buffer;
  GstMapInfo map;
  gsize i;

  fail_unless (gst_video_info_from_caps (&info, caps));
  buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_map (buffer, &map, GST_MAP_WRITE);
  for (i = 0; i < map.size; i++)
    map.data[i] = (guint8) (i * 7 + index * 13);
  gst_buffer_unmap (buffer, &map);
  GST_BUFFER_PTS (buffer) = index * TEST_FRAME_DURATION;
  GST_BUFFER_DURATION (buffer) = TEST_FRAME_DURATION;
  gst_caps_unref (caps);
  return buffer;
}
