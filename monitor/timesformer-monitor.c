/* timesformer-monitor: many cameras from one configuration file, in one process.
 *
 * Per camera one pipeline, camsrc ! videoconvert ! timesformer [! labelpublish] ! fakesink,
 * its results (bus messages) written as JSON Lines by this program. A status table is printed
 * at start, on every change of a camera's status and every status-interval seconds. SIGINT and
 * SIGTERM stop cleanly: EOS into every camera, the results still pending written, the files
 * flushed, exit 0. SIGHUP reads the configuration again: cameras added or changed start,
 * cameras removed stop, the others go on untouched. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>
#include <gst/gst.h>

#include "gstcliplabelsmeta.h"
#include "monitor-config.h"

/* A JSON Lines file, shared by the cameras whose jsonl path is the same. */
typedef struct {
  gchar *path;
  FILE *file;
  guint users;
} Output;

typedef struct _Monitor Monitor;

typedef struct {
  Monitor *monitor;
  MonitorCamera *settings;
  GstElement *pipeline, *camsrc, *convert, *classifier;
  guint bus_watch;
  gchar *status;             /* camsrc's status nick, or "error" */
  guint64 results;
  gboolean ended;            /* EOS (or an error) reached the end */
  Output *output;            /* NULL: no file */
  GThread *eos_thread;       /* sends the EOS at a stop: camsrc pushes it downstream in the
                              * caller's thread, where timesformer and labelpublish wait */
} Camera;

struct _Monitor {
  MonitorConfig *config;
  GPtrArray *cameras;        /* Camera, in start order */
  GHashTable *outputs;       /* path -> Output */
  GMainLoop *loop;
  gboolean stopping;
  guint status_timer;
  guint stop_timer;
};

/* ---- outputs ---- */

static gchar *
output_path (const gchar *pattern, const gchar *camera)
{
  gchar **parts = g_strsplit (pattern, "%n", -1);
  gchar *path = g_strjoinv (camera, parts);

  g_strfreev (parts);
  return path;
}

static Output *
output_open (Monitor *monitor, const gchar *path, GError **error)
{
  Output *output = g_hash_table_lookup (monitor->outputs, path);

  if (output == NULL) {
    FILE *file = fopen (path, "a");

    if (file == NULL) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot write %s: %s",
          path, g_strerror (errno));
      return NULL;
    }
    output = g_new0 (Output, 1);
    output->path = g_strdup (path);
    output->file = file;
    g_hash_table_insert (monitor->outputs, output->path, output);
  }
  output->users++;
  return output;
}

static void
output_release (Monitor *monitor, Output *output)
{
  if (output == NULL || --output->users > 0)
    return;
  fclose (output->file);
  g_hash_table_remove (monitor->outputs, output->path);
  g_free (output->path);
  g_free (output);
}

static void
write_result (Camera *camera, const GstStructure *structure)
{
  GstClipLabelsResult *result = gst_clip_labels_result_new_from_structure (structure);
  gchar *line;

  if (result == NULL)
    return;
  camera->results++;
  if (camera->output != NULL) {
    line = gst_clip_labels_result_to_json (result, camera->settings->name, g_get_real_time ());
    fprintf (camera->output->file, "%s\n", line);
    fflush (camera->output->file);
    g_free (line);
  }
  gst_clip_labels_result_free (result);
}

/* ---- the status table ---- */

static void
print_status_table (Monitor *monitor)
{
  GDateTime *now = g_date_time_new_now_local ();
  gchar *time = g_date_time_format (now, "%H:%M:%S");
  guint i;

  g_print ("[%s] %u camera(s)\n  %-16s %-13s %8s %10s %8s  %s\n", time, monitor->cameras->len,
      "CAMERA", "STATUS", "FRAMES", "RECONNECTS", "RESULTS", "URI");
  for (i = 0; i < monitor->cameras->len; i++) {
    Camera *camera = g_ptr_array_index (monitor->cameras, i);
    GstStructure *stats = NULL;
    guint64 frames = 0;
    guint reconnects = 0;
    gchar *uri = NULL;

    g_object_get (camera->camsrc, "statistics", &stats, "uri", &uri, NULL);
    gst_structure_get_uint64 (stats, "frames", &frames);
    gst_structure_get_uint (stats, "reconnects", &reconnects);
    g_print ("  %-16s %-13s %8" G_GUINT64_FORMAT " %10u %8" G_GUINT64_FORMAT "  %s\n",
        camera->settings->name, camera->status, frames, reconnects, camera->results,
        GST_STR_NULL (uri));
    gst_structure_free (stats);
    g_free (uri);
  }
  g_free (time);
  g_date_time_unref (now);
}

static gboolean
on_status_timer (gpointer data)
{
  print_status_table (data);
  return G_SOURCE_CONTINUE;
}

/* ---- cameras ---- */

static void finish_stop (Monitor *monitor);

static void
check_all_ended (Monitor *monitor)
{
  guint i;

  for (i = 0; i < monitor->cameras->len; i++)
    if (!((Camera *) g_ptr_array_index (monitor->cameras, i))->ended)
      return;
  finish_stop (monitor);
}

static void
set_camera_status (Camera *camera, const gchar *status, const gchar *reason)
{
  if (g_strcmp0 (camera->status, status) == 0)
    return;
  g_free (camera->status);
  camera->status = g_strdup (status);
  g_print ("%s: %s%s%s%s\n", camera->settings->name, status, reason != NULL && *reason ? " ("
      : "", reason != NULL ? reason : "", reason != NULL && *reason ? ")" : "");
  print_status_table (camera->monitor);
}

static void
on_element_message (Camera *camera, const GstStructure *s)
{
  if (gst_structure_has_name (s, GST_CLIP_LABELS_STRUCTURE_NAME)) {
    write_result (camera, s);
  } else if (gst_structure_has_name (s, "camsrc-status")) {
    const GValue *value = gst_structure_get_value (s, "status");
    GEnumValue *status = value != NULL && G_VALUE_HOLDS_ENUM (value)
        ? g_enum_get_value (g_type_class_peek (G_VALUE_TYPE (value)), g_value_get_enum (value))
        : NULL;

    set_camera_status (camera, status != NULL ? status->value_nick : "unknown",
        gst_structure_get_string (s, "reason"));
  }
}

static gboolean
on_bus (GstBus *bus, GstMessage *message, gpointer data)
{
  Camera *camera = data;
  GError *error = NULL;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ELEMENT:
      on_element_message (camera, gst_message_get_structure (message));
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (message, &error, NULL);
      g_printerr ("%s: error: %s\n", camera->settings->name, error->message);
      g_error_free (error);
      set_camera_status (camera, "error", NULL);
      camera->ended = TRUE;
      if (camera->monitor->stopping)
        check_all_ended (camera->monitor);
      break;
    case GST_MESSAGE_EOS:
      camera->ended = TRUE;
      if (camera->monitor->stopping)
        check_all_ended (camera->monitor);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static GstElement *
add_element (GstElement *pipeline, const gchar *factory, GError **error)
{
  GstElement *element = gst_element_factory_make (factory, NULL);

  if (element == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "the GStreamer element %s is missing", factory);
    return NULL;
  }
  gst_bin_add (GST_BIN (pipeline), element);
  return element;
}

/* Properties are set here, never through a launch line (it would be logged). */
static void
configure_elements (Camera *camera, GstElement *publisher, GstElement *sink)
{
  const MonitorCamera *s = camera->settings;
  const MonitorConfig *config = camera->monitor->config;

  g_object_set (camera->camsrc, "uri", s->uri, "timeout", (guint) s->timeout_s,
      "retry-min-ms", (guint) s->retry_min_ms, "retry-max-ms", (guint) s->retry_max_ms,
      "latency", (guint) s->latency_ms, NULL);
  if (s->credentials_file != NULL)
    g_object_set (camera->camsrc, "credentials-file", s->credentials_file, NULL);
  g_object_set (camera->classifier, "frame-stride", (guint) s->frame_stride, "num-frames",
      (guint) s->num_frames, "clip-hop", (guint) s->clip_hop, "roi", s->roi, NULL);
  if (s->model != NULL)
    g_object_set (camera->classifier, "model", s->model, NULL);
  if (publisher != NULL) {
    g_object_set (publisher, "broker", config->mqtt_broker, "stream-name", s->name, NULL);
    if (config->mqtt_topic != NULL)
      g_object_set (publisher, "topic", config->mqtt_topic, NULL);
    if (config->mqtt_username != NULL)
      g_object_set (publisher, "username", config->mqtt_username, NULL);
    if (config->mqtt_password_file != NULL)
      g_object_set (publisher, "password-file", config->mqtt_password_file, NULL);
  }
  g_object_set (sink, "sync", FALSE, NULL);
}

static gboolean
build_pipeline (Camera *camera, GError **error)
{
  GstElement *p = gst_pipeline_new (camera->settings->name);
  GstElement *publisher = NULL, *sink;
  GstBus *bus;

  camera->pipeline = p;
  if ((camera->camsrc = add_element (p, "camsrc", error)) == NULL
      || (camera->convert = add_element (p, "videoconvert", error)) == NULL
      || (camera->classifier = add_element (p, "timesformer", error)) == NULL
      || (camera->monitor->config->mqtt_broker != NULL
          && (publisher = add_element (p, "labelpublish", error)) == NULL)
      || (sink = add_element (p, "fakesink", error)) == NULL)
    return FALSE;
  configure_elements (camera, publisher, sink);
  if (!gst_element_link_many (camera->camsrc, camera->convert, camera->classifier, NULL)
      || !gst_element_link_many (camera->classifier, publisher != NULL ? publisher : sink,
          publisher != NULL ? sink : NULL, NULL)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "cannot link the pipeline");
    return FALSE;
  }
  bus = gst_pipeline_get_bus (GST_PIPELINE (p));
  camera->bus_watch = gst_bus_add_watch (bus, on_bus, camera);
  gst_object_unref (bus);
  return TRUE;
}

/* A camera whose EOS is still on its way (stop-timeout): a flush from camsrc's peer on ends
 * the waits it is in (timesformer's drain, labelpublish's broker, the sink's preroll), so that
 * the EOS thread returns before the pipeline stops (camsrc's state change would wait for it). */
static void
camera_end_eos (Camera *camera)
{
  GstPad *pad;

  if (camera->eos_thread == NULL)
    return;
  pad = gst_element_get_static_pad (camera->convert, "sink");
  gst_pad_send_event (pad, gst_event_new_flush_start ());
  gst_object_unref (pad);
  g_thread_join (camera->eos_thread);
  camera->eos_thread = NULL;
}

static void
camera_free (Camera *camera)
{
  if (camera->pipeline != NULL) {
    camera_end_eos (camera);
    gst_element_set_state (camera->pipeline, GST_STATE_NULL);
    if (camera->bus_watch != 0)
      g_source_remove (camera->bus_watch);
    gst_object_unref (camera->pipeline);
  }
  output_release (camera->monitor, camera->output);
  monitor_camera_free (camera->settings);
  g_free (camera->status);
  g_free (camera);
}

/* The error of a state change that failed, from the bus (the model did not load...). */
static void
take_start_error (Camera *camera, GError **error)
{
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (camera->pipeline));
  GstMessage *message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  GError *failure = NULL;

  if (message != NULL) {
    gst_message_parse_error (message, &failure, NULL);
    g_set_error (error, failure->domain, failure->code, "%s", failure->message);
    g_error_free (failure);
    gst_message_unref (message);
  } else {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE, "the pipeline did not start");
  }
  gst_object_unref (bus);
}

static Camera *
camera_start (Monitor *monitor, const MonitorCamera *settings, GError **error)
{
  Camera *camera = g_new0 (Camera, 1);

  camera->monitor = monitor;
  camera->settings = monitor_camera_copy (settings);
  camera->status = g_strdup ("connecting");
  if (monitor->config->jsonl != NULL) {
    gchar *path = output_path (monitor->config->jsonl, settings->name);

    camera->output = output_open (monitor, path, error);
    g_free (path);
    if (camera->output == NULL) {
      camera_free (camera);
      return NULL;
    }
  }
  if (!build_pipeline (camera, error)) {
    camera_free (camera);
    return NULL;
  }
  if (gst_element_set_state (camera->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    take_start_error (camera, error);
    camera_free (camera);
    return NULL;
  }
  return camera;
}

/* ---- start, reload, stop ---- */

static gboolean
start_camera_or_report (Monitor *monitor, const MonitorCamera *settings)
{
  GError *error = NULL;
  Camera *camera = camera_start (monitor, settings, &error);

  if (camera == NULL) {
    g_printerr ("%s: cannot start: %s\n", settings->name, error->message);
    g_error_free (error);
    return FALSE;
  }
  g_ptr_array_add (monitor->cameras, camera);
  return TRUE;
}

static gboolean
on_reload (gpointer data)
{
  Monitor *monitor = data;
  GError *error = NULL;
  MonitorConfig *config = monitor_config_load (monitor->config->path, &error);
  guint i;

  if (config == NULL) {
    g_printerr ("timesformer-monitor: not reloaded: %s\n", error->message);
    g_error_free (error);
    return G_SOURCE_CONTINUE;
  }
  for (i = monitor->cameras->len; i-- > 0;) {
    Camera *camera = g_ptr_array_index (monitor->cameras, i);
    const MonitorCamera *wanted = monitor_config_find (config, camera->settings->name);

    if (wanted == NULL || !monitor_camera_equal (wanted, camera->settings)) {
      g_print ("%s: removed\n", camera->settings->name);
      g_ptr_array_remove_index (monitor->cameras, i);
    }
  }
  monitor_config_free (monitor->config);
  monitor->config = config;
  for (i = 0; i < config->cameras->len; i++) {
    const MonitorCamera *settings = g_ptr_array_index (config->cameras, i);
    guint k;

    for (k = 0; k < monitor->cameras->len; k++)
      if (strcmp (((Camera *) g_ptr_array_index (monitor->cameras, k))->settings->name,
              settings->name) == 0)
        break;
    if (k == monitor->cameras->len && start_camera_or_report (monitor, settings))
      g_print ("%s: added\n", settings->name);
  }
  g_print ("timesformer-monitor: reloaded %s\n", config->path);
  print_status_table (monitor);
  return G_SOURCE_CONTINUE;
}

static void
finish_stop (Monitor *monitor)
{
  guint i;

  if (monitor->stop_timer != 0)
    g_source_remove (monitor->stop_timer);
  monitor->stop_timer = 0;
  for (i = 0; i < monitor->cameras->len; i++) {
    Camera *camera = g_ptr_array_index (monitor->cameras, i);
    guint64 processed = 0;      /* the property is a guint64 */

    g_object_get (camera->classifier, "clips-processed", &processed, NULL);
    g_print ("stopped %s: %" G_GUINT64_FORMAT " results written, %" G_GUINT64_FORMAT
        " clips classified\n",
        camera->settings->name, camera->results, processed);
  }
  g_main_loop_quit (monitor->loop);
}

static gboolean
on_stop_timeout (gpointer data)
{
  Monitor *monitor = data;

  g_printerr ("timesformer-monitor: stop-timeout: not every camera ended\n");
  monitor->stop_timer = 0;
  finish_stop (monitor);
  return G_SOURCE_REMOVE;
}

static gpointer
send_eos (gpointer data)
{
  Camera *camera = data;

  gst_element_send_event (camera->camsrc, gst_event_new_eos ());
  return NULL;
}

static gboolean
on_stop_signal (gpointer data)
{
  Monitor *monitor = data;
  guint i;

  if (monitor->stopping)
    return G_SOURCE_CONTINUE;
  monitor->stopping = TRUE;
  g_print ("timesformer-monitor: stopping\n");
  monitor->stop_timer = g_timeout_add_seconds (monitor->config->stop_timeout_s,
      on_stop_timeout, monitor);
  for (i = 0; i < monitor->cameras->len; i++) {
    Camera *camera = g_ptr_array_index (monitor->cameras, i);

    /* not from this thread: the main loop goes on (bus messages, stop-timeout) while the
     * cameras drain, all at once */
    if (!camera->ended)
      camera->eos_thread = g_thread_new ("camera-eos", send_eos, camera);
  }
  check_all_ended (monitor);
  return G_SOURCE_CONTINUE;
}

static gboolean
start_all (Monitor *monitor)
{
  guint i;

  for (i = 0; i < monitor->config->cameras->len; i++)
    if (!start_camera_or_report (monitor, g_ptr_array_index (monitor->config->cameras, i)))
      return FALSE;
  return TRUE;
}

int
main (int argc, char **argv)
{
  gboolean check_only = FALSE;
  GOptionEntry entries[] = {
    { "check", 0, 0, G_OPTION_ARG_NONE, &check_only, "Check the configuration and exit", NULL },
    { NULL }
  };
  GOptionContext *options = g_option_context_new ("CONFIG - classify many cameras");
  Monitor monitor = { NULL };
  GError *error = NULL;
  gboolean started;

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_add_group (options, gst_init_get_option_group ());
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2) {
    g_printerr ("timesformer-monitor: %s\nUsage: timesformer-monitor [--check] CONFIG\n",
        error != NULL ? error->message : "one configuration file expected");
    return 2;
  }
  g_option_context_free (options);
  monitor.config = monitor_config_load (argv[1], &error);
  if (monitor.config == NULL) {
    g_printerr ("timesformer-monitor: %s\n", error->message);
    return 1;
  }
  if (check_only) {
    g_print ("%s: %u camera(s), configuration valid\n", argv[1], monitor.config->cameras->len);
    monitor_config_free (monitor.config);
    return 0;
  }
  setvbuf (stdout, NULL, _IOLBF, 0);
  monitor.cameras = g_ptr_array_new_with_free_func ((GDestroyNotify) camera_free);
  monitor.outputs = g_hash_table_new (g_str_hash, g_str_equal);
  monitor.loop = g_main_loop_new (NULL, FALSE);
  started = start_all (&monitor);
  if (started) {
    print_status_table (&monitor);
    if (monitor.config->status_interval_s > 0)
      monitor.status_timer = g_timeout_add_seconds (monitor.config->status_interval_s,
          on_status_timer, &monitor);
    g_unix_signal_add (SIGINT, on_stop_signal, &monitor);
    g_unix_signal_add (SIGTERM, on_stop_signal, &monitor);
    g_unix_signal_add (SIGHUP, on_reload, &monitor);
    g_main_loop_run (monitor.loop);
  }
  g_ptr_array_unref (monitor.cameras);
  g_hash_table_unref (monitor.outputs);
  g_main_loop_unref (monitor.loop);
  monitor_config_free (monitor.config);
  return started ? 0 : 1;
}
