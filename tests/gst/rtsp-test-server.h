/* rtsp-test-server.h: runs test-rtsp-server (a real gst-rtsp-server on 127.0.0.1) for the tests
 * of camsrc and timesformer-monitor. Every wait is bounded. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TEST_CAMERA_USER "viewer"
#define TEST_CAMERA_PASSWORD "cam-pw-7Hq2x-never-logged"

typedef struct {
  guint port;              /* chosen by the server at its first start, kept across restarts */
  gchar *credentials_file; /* "user:password" the server requires, or NULL: no authentication */
  GPid pid;                /* 0 when stopped */
  gint stdout_fd;
} TestRtspServer;

/* Starts a server on a free port (with_auth: basic authentication with TEST_CAMERA_USER and
 * TEST_CAMERA_PASSWORD) and waits (at most 10 s) until it listens. */
TestRtspServer *test_rtsp_server_new (gboolean with_auth);
/* Starts it again on the same port (after test_rtsp_server_kill). */
void test_rtsp_server_start (TestRtspServer *server);
/* SIGKILL, and waits for it to exit. */
void test_rtsp_server_kill (TestRtspServer *server);
/* Stops or resumes sending frames; the connections stay open. */
void test_rtsp_server_stall (TestRtspServer *server, gboolean stalled);
/* rtsp://127.0.0.1:PORT/cam, with "user:password@" when userinfo is not NULL. */
gchar *test_rtsp_server_uri (TestRtspServer *server, const gchar *userinfo);
void test_rtsp_server_free (TestRtspServer *server);

/* A file that holds `contents`, in a fresh temporary folder; free with test_remove_file. */
gchar *test_write_temp_file (const gchar *name, const gchar *contents);
void test_remove_file (gchar *path);

G_END_DECLS
