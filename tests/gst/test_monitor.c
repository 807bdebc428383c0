/* test_monitor.c: timesformer-monitor with cameras served by the test RTSP server: three
 * cameras (one behind a password from a credentials file), one server restarted, SIGHUP adding
 * a fourth, SIGTERM delivering every pending result; a bad configuration refused before
 * anything starts. Every wait is bounded. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "rtsp-test-server.h"

#define WAIT_MS 20000
#define STEP_US (50 * G_TIME_SPAN_MILLISECOND)

static gchar *
monitor_program (void)
{
  return g_build_filename (g_getenv ("TSF_BUILD_ROOT"), "monitor", "timesformer-monitor", NULL);
}

/* The monitor as a child, its stdout and stderr gathered by a thread. */
typedef struct {
  GPid pid;
  gint fd;
  GThread *reader;
  GMutex lock;
  GString *output;
} Monitor;

static gpointer
read_output (gpointer data)
{
  Monitor *monitor = data;
  gchar buffer[4096];
  gssize n;

  while ((n = read (monitor->fd, buffer, sizeof buffer)) > 0) {
    g_mutex_lock (&monitor->lock);
    g_string_append_len (monitor->output, buffer, n);
    g_mutex_unlock (&monitor->lock);
  }
  return NULL;
}

static Monitor *
monitor_start (const gchar *config)
{
  Monitor *monitor = g_new0 (Monitor, 1);
  gchar *program = monitor_program ();
  gchar *command = g_strdup_printf ("exec '%s' '%s' 2>&1", program, config);
  gchar *argv[] = { (gchar *) "/bin/sh", (gchar *) "-c", command, NULL };
  GError *error = NULL;

  g_mutex_init (&monitor->lock);
  monitor->output = g_string_new (NULL);
  fail_unless (g_spawn_async_with_pipes (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
          NULL, &monitor->pid, NULL, &monitor->fd, NULL, &error), "%s",
      error != NULL ? error->message : "");
  monitor->reader = g_thread_new ("monitor-output", read_output, monitor);
  g_free (command);
  g_free (program);
  return monitor;
}

static guint
count_in (const gchar *text, const gchar *needle)
{
  guint n = 0;

  for (text = strstr (text, needle); text != NULL; text = strstr (text + 1, needle))
    n++;
  return n;
}

/* Waits (at most WAIT_MS) until `line` was printed `count` times in all. */
static void
monitor_wait (Monitor *monitor, const gchar *line, guint count)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;
  guint seen;

  for (;;) {
    g_mutex_lock (&monitor->lock);
    seen = count_in (monitor->output->str, line);
    g_mutex_unlock (&monitor->lock);
    if (seen >= count)
      return;
    fail_unless (g_get_monotonic_time () < deadline, "'%s' printed %u times, not %u:\n%s",
        line, seen, count, monitor->output->str);
    g_usleep (STEP_US);
  }
}

/* Waits (at most WAIT_MS) for the monitor to exit; its exit status. */
static gint
monitor_wait_exit (Monitor *monitor)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;
  gint status = 0;

  while (waitpid (monitor->pid, &status, WNOHANG) == 0) {
    if (g_get_monotonic_time () > deadline) {
      kill (monitor->pid, SIGKILL);
      waitpid (monitor->pid, &status, 0);
      fail ("the monitor did not stop:\n%s", monitor->output->str);
    }
    g_usleep (STEP_US);
  }
  g_thread_join (monitor->reader);
  close (monitor->fd);
  g_spawn_close_pid (monitor->pid);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
monitor_free (Monitor *monitor)
{
  g_string_free (monitor->output, TRUE);
  g_mutex_clear (&monitor->lock);
  g_free (monitor);
}

static guint
count_lines (const gchar *path)
{
  gchar *contents = NULL;
  guint n;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  n = count_in (contents, "\n");
  g_free (contents);
  return n;
}

/* Waits (at most WAIT_MS) until `path` has `count` lines. */
static void
wait_lines (const gchar *path, guint count)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (count_lines (path) < count) {
    fail_unless (g_get_monotonic_time () < deadline, "%s: %u lines, not %u", path,
        count_lines (path), count);
    g_usleep (STEP_US);
  }
}

static gchar *
camera_section (const gchar *name, TestRtspServer *server, const gchar *credentials_file)
{
  gchar *uri = test_rtsp_server_uri (server, NULL);
  gchar *section = g_strdup_printf ("[camera %s]\nuri = %s\n%s%s%s\n", name, uri,
      credentials_file != NULL ? "credentials-file = " : "",
      credentials_file != NULL ? credentials_file : "", credentials_file != NULL ? "\n" : "");

  g_free (uri);
  return section;
}

static void
write_config (const gchar *path, const gchar *dir, const gchar *cameras)
{
  gchar *models = g_build_filename (g_getenv ("TSF_TEST_MODELS"), "divided", NULL);
  gchar *text = g_strdup_printf ("# a test configuration\n[monitor]\nstatus-interval = 1\n"
      "stop-timeout = 10\n\n[outputs]\njsonl = %s/%%n.jsonl\n\n[defaults]\nmodel = %s\n"
      "frame-stride = 1\ntimeout = 2\nretry-min-ms = 100\nretry-max-ms = 1000\n\n%s", dir,
      models, cameras);

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  g_free (text);
  g_free (models);
}

/* "stopped NAME: N results written, M clips classified": N == M == the lines of its file. */
static void
assert_all_delivered (const gchar *output, const gchar *dir, const gchar *name)
{
  gchar *prefix = g_strdup_printf ("stopped %s: ", name);
  gchar *path = g_strdup_printf ("%s/%s.jsonl", dir, name);
  const gchar *line = strstr (output, prefix);
  guint written = 0, classified = 0;

  fail_unless (line != NULL, "no summary of %s:\n%s", name, output);
  fail_unless (sscanf (line + strlen (prefix), "%u results written, %u clips classified",
          &written, &classified) == 2, "%s", line);
  fail_unless (written > 0);
  fail_unless_equals_int (written, classified);
  fail_unless_equals_int (count_lines (path), written);
  g_free (path);
  g_free (prefix);
}

GST_START_TEST (test_three_cameras_restart_reload_stop)
{
  TestRtspServer *servers[4];
  gchar *dir = g_dir_make_tmp ("tsf-monitor-XXXXXX", NULL);
  gchar *config = g_build_filename (dir, "monitor.ini", NULL);
  gchar *b_file = g_build_filename (dir, "b.jsonl", NULL);
  gchar *d_file = g_build_filename (dir, "d.jsonl", NULL);
  gchar *credentials = test_write_temp_file ("a-credentials",
      TEST_CAMERA_USER ":" TEST_CAMERA_PASSWORD "\n");
  gchar *sections[4], *three, *four;
  const gchar *names[] = { "a", "b", "c", "d" };
  Monitor *monitor;
  guint i, b_lines;

  for (i = 0; i < 4; i++) {
    servers[i] = test_rtsp_server_new (i == 0);
    sections[i] = camera_section (names[i], servers[i], i == 0 ? credentials : NULL);
  }
  three = g_strconcat (sections[0], sections[1], sections[2], NULL);
  four = g_strconcat (three, sections[3], NULL);
  write_config (config, dir, three);
  monitor = monitor_start (config);
  monitor_wait (monitor, "a: running", 1);
  monitor_wait (monitor, "b: running", 1);
  monitor_wait (monitor, "c: running", 1);
  wait_lines (b_file, 2);

  /* camera b's server goes away and comes back on the same port */
  test_rtsp_server_kill (servers[1]);
  monitor_wait (monitor, "b: reconnecting", 1);
  test_rtsp_server_start (servers[1]);
  monitor_wait (monitor, "b: running", 2);
  b_lines = count_lines (b_file);
  wait_lines (b_file, b_lines + 2);

  /* a fourth camera, the others untouched */
  write_config (config, dir, four);
  kill (monitor->pid, SIGHUP);
  monitor_wait (monitor, "d: added", 1);
  monitor_wait (monitor, "d: running", 1);
  wait_lines (d_file, 1);
  monitor_wait (monitor, "] 4 camera(s)", 1);

  kill (monitor->pid, SIGTERM);
  fail_unless_equals_int (monitor_wait_exit (monitor), 0);
  fail_unless_equals_int (count_in (monitor->output->str, "a: running"), 1);
  fail_unless_equals_int (count_in (monitor->output->str, "c: running"), 1);
  fail_unless_equals_int (count_in (monitor->output->str, "removed"), 0);
  fail_unless_equals_int (count_in (monitor->output->str, "error"), 0);
  fail_if (strstr (monitor->output->str, TEST_CAMERA_PASSWORD) != NULL);
  for (i = 0; i < 4; i++)
    assert_all_delivered (monitor->output->str, dir, names[i]);

  monitor_free (monitor);
  for (i = 0; i < 4; i++) {
    gchar *path = g_strdup_printf ("%s/%s.jsonl", dir, names[i]);

    g_remove (path);
    g_free (path);
    g_free (sections[i]);
    test_rtsp_server_free (servers[i]);
  }
  g_remove (config);
  g_rmdir (dir);
  test_remove_file (credentials);
  g_free (three);
  g_free (four);
  g_free (b_file);
  g_free (d_file);
  g_free (config);
  g_free (dir);
}
GST_END_TEST;

/* Runs the monitor on a file holding `text`: it exits with 1 before anything starts, and its
 * error holds "FILE:`where`" and never the password. */
static void
assert_refused (const gchar *text, const gchar *where)
{
  gchar *config = test_write_temp_file ("bad.ini", text);
  gchar *program = monitor_program ();
  gchar *argv[] = { program, config, NULL };
  gchar *out = NULL, *err = NULL, *expected;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
          NULL));
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 1, "%s", err);
  expected = g_strdup_printf ("%s:%s", config, where);
  fail_unless (strstr (err, expected) != NULL, "%s", err);
  fail_unless_equals_string (out, "");
  fail_if (strstr (err, TEST_CAMERA_PASSWORD) != NULL);
  g_free (expected);
  g_free (out);
  g_free (err);
  g_free (program);
  test_remove_file (config);
}

/* A bad value or line: an error naming the file, the line and the key. */
GST_START_TEST (test_bad_config)
{
  assert_refused ("[defaults]\nframe-stride = 4\n\n[camera door]\nuri = rtsp://viewer:"
      TEST_CAMERA_PASSWORD "@127.0.0.1:9/cam\nroi = 10,20\n", "6: [camera door] roi: ");
  assert_refused ("[camera door]\nuri = rtsp://127.0.0.1:9/cam\n[camera yard\n",
      "3: not a [section]");
  assert_refused ("[camera door]\nuri rtsp://viewer:" TEST_CAMERA_PASSWORD "@127.0.0.1/cam\n",
      "2: not a [section]");
  assert_refused ("[camera door]\nuri = rtsp://127.0.0.1:9/cam\nframe-strid = 2\n",
      "3: [camera door] frame-strid: unknown key");
}
GST_END_TEST;

static Suite *
monitor_suite (void)
{
  Suite *s = suite_create ("timesformer-monitor");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_bad_config);
  tcase_add_test (tc, test_three_cameras_restart_reload_stop);
  return s;
}

GST_CHECK_MAIN (monitor);
