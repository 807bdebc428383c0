/* rtsp-test-server.c: the test RTSP server as a child process. */
#include "rtsp-test-server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#define START_TIMEOUT_MS 10000

/* Reads the server's "port=N" line within START_TIMEOUT_MS. */
static guint
read_port_line (gint fd)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  GString *line = g_string_new (NULL);
  guint port = 0;

  while (strchr (line->str, '\n') == NULL) {
    struct pollfd poll_fd = { .fd = fd, .events = POLLIN };
    gint64 left_ms = (deadline - g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;
    gchar c;

    fail_unless (left_ms > 0, "test-rtsp-server did not start within %d ms", START_TIMEOUT_MS);
    if (poll (&poll_fd, 1, (gint) left_ms) <= 0)
      continue;
    fail_unless (read (fd, &c, 1) == 1, "test-rtsp-server exited before listening");
    g_string_append_c (line, c);
  }
  fail_unless (sscanf (line->str, "port=%u", &port) == 1 && port > 0, "%s", line->str);
  g_string_free (line, TRUE);
  return port;
}

void
test_rtsp_server_start (TestRtspServer *server)
{
  const gchar *build_root = g_getenv ("TSF_BUILD_ROOT");
  gchar *program, *port = g_strdup_printf ("%u", server->port);
  gchar *argv[] = { NULL, (gchar *) "--port", port, NULL, NULL, NULL };
  GError *error = NULL;
  guint bound;

  fail_unless (build_root != NULL, "TSF_BUILD_ROOT is not set");
  fail_unless (server->pid == 0);
  program = g_build_filename (build_root, "tests", "gst", "test-rtsp-server", NULL);
  argv[0] = program;
  if (server->credentials_file != NULL) {
    argv[3] = (gchar *) "--credentials-file";
    argv[4] = server->credentials_file;
  }
  fail_unless (g_spawn_async_with_pipes (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
          NULL, &server->pid, NULL, &server->stdout_fd, NULL, &error), "%s: %s", program,
      error != NULL ? error->message : "");
  bound = read_port_line (server->stdout_fd);
  fail_unless (server->port == 0 || bound == server->port, "restarted on %u, not %u", bound,
      server->port);
  server->port = bound;
  g_free (program);
  g_free (port);
}

TestRtspServer *
test_rtsp_server_new (gboolean with_auth)
{
  TestRtspServer *server = g_new0 (TestRtspServer, 1);

  server->stdout_fd = -1;
  if (with_auth)
    server->credentials_file = test_write_temp_file ("server-credentials",
        TEST_CAMERA_USER ":" TEST_CAMERA_PASSWORD "\n");
  test_rtsp_server_start (server);
  return server;
}

void
test_rtsp_server_kill (TestRtspServer *server)
{
  gint status;

  if (server->pid == 0)
    return;
  kill (server->pid, SIGKILL);
  fail_unless (waitpid (server->pid, &status, 0) == server->pid);
  g_spawn_close_pid (server->pid);
  close (server->stdout_fd);
  server->stdout_fd = -1;
  server->pid = 0;
}

void
test_rtsp_server_stall (TestRtspServer *server, gboolean stalled)
{
  fail_unless (server->pid != 0);
  kill (server->pid, stalled ? SIGUSR1 : SIGUSR2);
}

gchar *
test_rtsp_server_uri (TestRtspServer *server, const gchar *userinfo)
{
  return g_strdup_printf ("rtsp://%s%s127.0.0.1:%u/cam", userinfo != NULL ? userinfo : "",
      userinfo != NULL ? "@" : "", server->port);
}

void
test_rtsp_server_free (TestRtspServer *server)
{
  test_rtsp_server_kill (server);
  if (server->credentials_file != NULL)
    test_remove_file (server->credentials_file);
  g_free (server);
}

gchar *
test_write_temp_file (const gchar *name, const gchar *contents)
{
  gchar *dir = g_dir_make_tmp ("tsf-camsrc-XXXXXX", NULL);
  gchar *path;

  fail_unless (dir != NULL);
  path = g_build_filename (dir, name, NULL);
  fail_unless (g_file_set_contents (path, contents, -1, NULL));
  g_free (dir);
  return path;
}

void
test_remove_file (gchar *path)
{
  gchar *dir = g_path_get_dirname (path);

  g_remove (path);
  g_rmdir (dir);
  g_free (dir);
  g_free (path);
}
