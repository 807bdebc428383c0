/* test_rtsp_server.c: the test RTSP server itself, played by rtspsrc: it serves frames, stalls
 * and resumes on request, and refuses a wrong password. */
#include <gst/check/gstcheck.h>

#include "rtsp-test-server.h"

#define WAIT_MS 10000

typedef struct {
  GstElement *pipeline;
  gint frames;
} Player;

static GstPadProbeReturn
count_frame (GstPad *pad, GstPadProbeInfo *info, gpointer frames)
{
  g_atomic_int_inc ((gint *) frames);
  return GST_PAD_PROBE_OK;
}

/* rtspsrc ! decodebin ! fakesink, playing; user_pw NULL: no credentials. */
static Player *
player_new (TestRtspServer *server, const gchar *user_pw)
{
  Player *player = g_new0 (Player, 1);
  gchar *uri = test_rtsp_server_uri (server, NULL);
  gchar *launch = g_strdup_printf ("rtspsrc name=src location=%s protocols=tcp latency=100 "
      "! decodebin ! fakesink name=sink sync=false", uri);
  GstElement *sink, *src;
  GstPad *pad;

  player->pipeline = gst_parse_launch (launch, NULL);
  fail_unless (player->pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (player->pipeline), "src");
  if (user_pw != NULL)
    g_object_set (src, "user-id", TEST_CAMERA_USER, "user-pw", user_pw, NULL);
  sink = gst_bin_get_by_name (GST_BIN (player->pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, &player->frames, NULL);
  gst_element_set_state (player->pipeline, GST_STATE_PLAYING);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (src);
  g_free (launch);
  g_free (uri);
  return player;
}

/* Waits (at most WAIT_MS) until `more` frames beyond the count now arrived. */
static gboolean
player_wait_frames (Player *player, gint more)
{
  gint target = g_atomic_int_get (&player->frames) + more;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (g_atomic_int_get (&player->frames) < target && g_get_monotonic_time () < deadline)
    g_usleep (20 * G_TIME_SPAN_MILLISECOND);
  return g_atomic_int_get (&player->frames) >= target;
}

static void
player_free (Player *player)
{
  gst_element_set_state (player->pipeline, GST_STATE_NULL);
  gst_object_unref (player->pipeline);
  g_free (player);
}

GST_START_TEST (test_serves_and_stalls)
{
  TestRtspServer *server = test_rtsp_server_new (FALSE);
  Player *player = player_new (server, NULL);
  gint before;

  fail_unless (player_wait_frames (player, 5), "no frames from the server");
  test_rtsp_server_stall (server, TRUE);
  g_usleep (500 * G_TIME_SPAN_MILLISECOND);   /* frames already on their way */
  before = g_atomic_int_get (&player->frames);
  g_usleep (700 * G_TIME_SPAN_MILLISECOND);
  fail_unless_equals_int (g_atomic_int_get (&player->frames), before);
  test_rtsp_server_stall (server, FALSE);
  fail_unless (player_wait_frames (player, 5), "no frames after the stall");
  player_free (player);
  test_rtsp_server_free (server);
}
GST_END_TEST;

/* The first ERROR on the bus within WAIT_MS, or NULL. */
static GstMessage *
wait_error (Player *player)
{
  GstBus *bus = gst_element_get_bus (player->pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered (bus, WAIT_MS * GST_MSECOND,
      GST_MESSAGE_ERROR);

  gst_object_unref (bus);
  return message;
}

GST_START_TEST (test_basic_auth)
{
  TestRtspServer *server = test_rtsp_server_new (TRUE);
  Player *player = player_new (server, "wrong");
  GstMessage *message = wait_error (player);
  GError *error = NULL;

  fail_unless (message != NULL, "a wrong password was not refused");
  gst_message_parse_error (message, &error, NULL);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED),
      "%s", error->message);
  g_error_free (error);
  gst_message_unref (message);
  player_free (player);

  player = player_new (server, TEST_CAMERA_PASSWORD);
  fail_unless (player_wait_frames (player, 5), "no frames with the right password");
  player_free (player);
  test_rtsp_server_free (server);
}
GST_END_TEST;

static Suite *
rtsp_server_suite (void)
{
  Suite *s = suite_create ("rtsp-server");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_serves_and_stalls);
  tcase_add_test (tc, test_basic_auth);
  return s;
}

GST_CHECK_MAIN (rtsp_server);
