/* monitor-config.c: the configuration file of timesformer-monitor.
 *
 *   [monitor]   status-interval, stop-timeout
 *   [outputs]   jsonl, mqtt-broker, mqtt-topic, mqtt-username, mqtt-password-file
 *   [defaults]  any camera key but uri
 *   [camera NAME] uri (required), credentials-file, roi, model, frame-stride, num-frames,
 *               clip-hop, timeout, retry-min-ms, retry-max-ms, latency
 *
 * GKeyFile reads it; the line of a bad key is found here (GKeyFile keeps none), and no message
 * quotes a value, which may hold a password. */
#include "monitor-config.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define CAMERA_PREFIX "camera "

G_DEFINE_QUARK (monitor-config-error-quark, monitor_config_error)

typedef enum {
  KEY_STRING,
  KEY_INT,
  KEY_READABLE_FILE,         /* a file that must be readable now */
  KEY_EXISTING_PATH,         /* a file or folder that must exist now */
  KEY_ROI,
  KEY_URI,
} KeyType;

typedef struct {
  const gchar *name;
  KeyType type;
  gint min, max;
  gsize offset;              /* in MonitorCamera or MonitorConfig */
} KeySpec;

#define CAM(field) G_STRUCT_OFFSET (MonitorCamera, field)
#define CONF(field) G_STRUCT_OFFSET (MonitorConfig, field)

static const KeySpec camera_keys[] = {
  { "uri", KEY_URI, 0, 0, CAM (uri) },
  { "credentials-file", KEY_READABLE_FILE, 0, 0, CAM (credentials_file) },
  { "roi", KEY_ROI, 0, 0, CAM (roi) },
  { "model", KEY_EXISTING_PATH, 0, 0, CAM (model) },
  { "frame-stride", KEY_INT, 1, 10000, CAM (frame_stride) },
  { "num-frames", KEY_INT, 0, 1024, CAM (num_frames) },
  { "clip-hop", KEY_INT, 0, G_MAXINT, CAM (clip_hop) },
  { "timeout", KEY_INT, 1, 3600, CAM (timeout_s) },
  { "retry-min-ms", KEY_INT, 1, G_MAXINT, CAM (retry_min_ms) },
  { "retry-max-ms", KEY_INT, 1, G_MAXINT, CAM (retry_max_ms) },
  { "latency", KEY_INT, 0, G_MAXINT, CAM (latency_ms) },
  { NULL }
};

static const KeySpec monitor_keys[] = {
  { "status-interval", KEY_INT, 0, 86400, CONF (status_interval_s) },
  { "stop-timeout", KEY_INT, 1, 3600, CONF (stop_timeout_s) },
  { NULL }
};

static const KeySpec output_keys[] = {
  { "jsonl", KEY_STRING, 0, 0, CONF (jsonl) },
  { "mqtt-broker", KEY_STRING, 0, 0, CONF (mqtt_broker) },
  { "mqtt-topic", KEY_STRING, 0, 0, CONF (mqtt_topic) },
  { "mqtt-username", KEY_STRING, 0, 0, CONF (mqtt_username) },
  { "mqtt-password-file", KEY_READABLE_FILE, 0, 0, CONF (mqtt_password_file) },
  { NULL }
};

/* What is being read: for the line numbers of errors. */
typedef struct {
  const gchar *path;
  gchar **lines;
  GKeyFile *file;
} Reader;

/* The 1-based line of `key` in [group] (key NULL: of the group), or 0. */
static guint
key_line (const Reader *reader, const gchar *group, const gchar *key)
{
  gboolean in_group = FALSE;
  guint i;

  for (i = 0; reader->lines[i] != NULL; i++) {
    const gchar *line = reader->lines[i] + strspn (reader->lines[i], " \t");

    if (line[0] == '[') {
      const gchar *end = strchr (line, ']');

      in_group = end != NULL && (gsize) (end - line - 1) == strlen (group)
          && strncmp (line + 1, group, end - line - 1) == 0;
      if (in_group && key == NULL)
        return i + 1;
    } else if (in_group && key != NULL && g_str_has_prefix (line, key)
        && line[strlen (key) + strspn (line + strlen (key), " \t")] == '=') {
      return i + 1;
    }
  }
  return 0;
}

static gboolean G_GNUC_PRINTF (5, 6)
fail (const Reader *reader, const gchar *group, const gchar *key, GError **error,
    const gchar *format, ...)
{
  va_list args;
  gchar *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MONITOR_CONFIG_ERROR, 0, "%s:%u: [%s]%s%s: %s", reader->path,
      key_line (reader, group, key), group, key != NULL ? " " : "", key != NULL ? key : "",
      message);
  g_free (message);
  return FALSE;
}

static gboolean
parse_roi (const gchar *text)
{
  gint x, y, w, h;
  gchar end;

  return text[0] == '\0'
      || (sscanf (text, "%d,%d,%d,%d%c", &x, &y, &w, &h, &end) == 4 && x >= 0 && y >= 0
          && w >= 0 && h >= 0);
}

/* Checks a string value of `type`; the message never quotes a URI. */
static gboolean
check_string (const Reader *reader, const gchar *group, const KeySpec *spec,
    const gchar *value, GError **error)
{
  switch (spec->type) {
    case KEY_URI:
      if (!g_uri_is_valid (value, G_URI_FLAGS_HAS_PASSWORD, NULL))
        return fail (reader, group, spec->name, error, "not a valid URI");
      return TRUE;
    case KEY_READABLE_FILE:
      if (g_access (value, R_OK) != 0)
        return fail (reader, group, spec->name, error, "cannot read %s", value);
      return TRUE;
    case KEY_EXISTING_PATH:
      if (!g_file_test (value, G_FILE_TEST_EXISTS))
        return fail (reader, group, spec->name, error, "%s does not exist", value);
      return TRUE;
    case KEY_ROI:
      if (!parse_roi (value))
        return fail (reader, group, spec->name, error,
            "expected x,y,width,height (non-negative integers) or nothing");
      return TRUE;
    default:
      return TRUE;
  }
}

/* Reads [group] key into `target` + spec->offset. */
static gboolean
read_key (const Reader *reader, const gchar *group, const KeySpec *spec, gpointer target,
    GError **error)
{
  GError *local = NULL;

  if (spec->type == KEY_INT) {
    gint value = g_key_file_get_integer (reader->file, group, spec->name, &local);

    if (local != NULL) {
      g_error_free (local);
      return fail (reader, group, spec->name, error, "not an integer");
    }
    if (value < spec->min || value > spec->max)
      return fail (reader, group, spec->name, error, "%d is not in %d..%d", value, spec->min,
          spec->max);
    G_STRUCT_MEMBER (gint, target, spec->offset) = value;
  } else {
    gchar *value = g_key_file_get_string (reader->file, group, spec->name, &local);
    gchar **field = &G_STRUCT_MEMBER (gchar *, target, spec->offset);

    if (local != NULL) {
      g_error_free (local);
      return fail (reader, group, spec->name, error, "not a valid string");
    }
    if (!check_string (reader, group, spec, value, error)) {
      g_free (value);
      return FALSE;
    }
    g_free (*field);
    *field = value;
  }
  return TRUE;
}

/* Every key of [group] is known; each is read into `target`. */
static gboolean
read_group (const Reader *reader, const gchar *group, const KeySpec *specs, gpointer target,
    const gchar *refused_key, GError **error)
{
  gchar **keys = g_key_file_get_keys (reader->file, group, NULL, NULL);
  gboolean ok = TRUE;
  guint i, k;

  for (i = 0; ok && keys[i] != NULL; i++) {
    for (k = 0; specs[k].name != NULL && strcmp (specs[k].name, keys[i]) != 0; k++);
    if (specs[k].name == NULL || g_strcmp0 (keys[i], refused_key) == 0)
      ok = fail (reader, group, keys[i], error, "unknown key");
    else
      ok = read_key (reader, group, &specs[k], target, error);
  }
  g_strfreev (keys);
  return ok;
}

static void
camera_clear (MonitorCamera *camera)
{
  g_free (camera->name);
  g_free (camera->uri);
  g_free (camera->credentials_file);
  g_free (camera->roi);
  g_free (camera->model);
}

void
monitor_camera_free (MonitorCamera *camera)
{
  camera_clear (camera);
  g_free (camera);
}

static void
camera_copy_settings (MonitorCamera *to, const MonitorCamera *from)
{
  *to = *from;
  to->name = NULL;
  to->uri = g_strdup (from->uri);
  to->credentials_file = g_strdup (from->credentials_file);
  to->roi = g_strdup (from->roi);
  to->model = g_strdup (from->model);
}

static gboolean
read_camera (const Reader *reader, const gchar *group, const MonitorCamera *defaults,
    MonitorConfig *config, GError **error)
{
  MonitorCamera *camera = g_new0 (MonitorCamera, 1);
  const gchar *name = group + strlen (CAMERA_PREFIX);

  camera_copy_settings (camera, defaults);
  camera->name = g_strdup (name);
  g_ptr_array_add (config->cameras, camera);
  if (name[0] == '\0' || strpbrk (name, "/ \t") != NULL)
    return fail (reader, group, NULL, error, "a camera name is one word without '/'");
  if (!read_group (reader, group, camera_keys, camera, NULL, error))
    return FALSE;
  if (camera->uri == NULL)
    return fail (reader, group, NULL, error, "uri is missing");
  return TRUE;
}

/* A line that is no group, key = value, comment or blank: GKeyFile's error would quote it. */
static gboolean
fail_on_bad_line (const Reader *reader, GError **error)
{
  guint i;

  for (i = 0; reader->lines[i] != NULL; i++) {
    const gchar *line = reader->lines[i] + strspn (reader->lines[i], " \t");

    gboolean group = line[0] == '[' && strchr (line, ']') != NULL;

    if (line[0] != '\0' && line[0] != '#' && !group && (line[0] == '[' || !strchr (line, '=')))
      break;
  }
  g_set_error (error, MONITOR_CONFIG_ERROR, 0, "%s:%u: not a [section], key = value or a "
      "# comment", reader->path, reader->lines[i] != NULL ? i + 1 : 0);
  return FALSE;
}

static gboolean
read_all (const Reader *reader, MonitorConfig *config, GError **error)
{
  MonitorCamera defaults = { .roi = NULL, .frame_stride = 1, .timeout_s = 10,
    .retry_min_ms = 1000, .retry_max_ms = 60000, .latency_ms = 200 };
  gchar **groups = g_key_file_get_groups (reader->file, NULL);
  gboolean ok = TRUE;
  guint i;

  defaults.roi = g_strdup ("");
  if (g_key_file_has_group (reader->file, "defaults"))
    ok = read_group (reader, "defaults", camera_keys, &defaults, "uri", error);
  for (i = 0; ok && groups[i] != NULL; i++) {
    if (strcmp (groups[i], "monitor") == 0)
      ok = read_group (reader, groups[i], monitor_keys, config, NULL, error);
    else if (strcmp (groups[i], "outputs") == 0)
      ok = read_group (reader, groups[i], output_keys, config, NULL, error);
    else if (g_str_has_prefix (groups[i], CAMERA_PREFIX))
      ok = monitor_config_find (config, groups[i] + strlen (CAMERA_PREFIX)) == NULL
          ? read_camera (reader, groups[i], &defaults, config, error)
          : fail (reader, groups[i], NULL, error, "a second camera of that name");
    else if (strcmp (groups[i], "defaults") != 0)
      ok = fail (reader, groups[i], NULL, error, "unknown section (expected [monitor], "
          "[outputs], [defaults] or [camera NAME])");
  }
  if (ok && config->cameras->len == 0)
    ok = fail (reader, "camera NAME", NULL, error, "no camera");
  camera_clear (&defaults);
  g_strfreev (groups);
  return ok;
}

MonitorConfig *
monitor_config_load (const gchar *path, GError **error)
{
  MonitorConfig *config = g_new0 (MonitorConfig, 1);
  Reader reader = { .path = path };
  gchar *text = NULL;
  gboolean ok;

  config->path = g_strdup (path);
  config->status_interval_s = 60;
  config->stop_timeout_s = 10;
  config->cameras = g_ptr_array_new_with_free_func ((GDestroyNotify) monitor_camera_free);
  if (!g_file_get_contents (path, &text, NULL, error)) {
    monitor_config_free (config);
    return NULL;
  }
  reader.lines = g_strsplit (text, "\n", -1);
  reader.file = g_key_file_new ();
  ok = g_key_file_load_from_data (reader.file, text, -1, G_KEY_FILE_NONE, NULL)
      ? read_all (&reader, config, error) : fail_on_bad_line (&reader, error);
  g_key_file_free (reader.file);
  g_strfreev (reader.lines);
  g_free (text);
  if (!ok) {
    monitor_config_free (config);
    return NULL;
  }
  return config;
}

void
monitor_config_free (MonitorConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->jsonl);
  g_free (config->mqtt_broker);
  g_free (config->mqtt_topic);
  g_free (config->mqtt_username);
  g_free (config->mqtt_password_file);
  g_ptr_array_unref (config->cameras);
  g_free (config);
}

const MonitorCamera *
monitor_config_find (const MonitorConfig *config, const gchar *name)
{
  guint i;

  for (i = 0; i < config->cameras->len; i++) {
    const MonitorCamera *camera = g_ptr_array_index (config->cameras, i);

    if (strcmp (camera->name, name) == 0)
      return camera;
  }
  return NULL;
}

MonitorCamera *
monitor_camera_copy (const MonitorCamera *camera)
{
  MonitorCamera *copy = g_new0 (MonitorCamera, 1);

  camera_copy_settings (copy, camera);
  copy->name = g_strdup (camera->name);
  return copy;
}

gboolean
monitor_camera_equal (const MonitorCamera *a, const MonitorCamera *b)
{
  return g_strcmp0 (a->name, b->name) == 0 && g_strcmp0 (a->uri, b->uri) == 0
      && g_strcmp0 (a->credentials_file, b->credentials_file) == 0
      && g_strcmp0 (a->roi, b->roi) == 0 && g_strcmp0 (a->model, b->model) == 0
      && a->frame_stride == b->frame_stride && a->num_frames == b->num_frames
      && a->clip_hop == b->clip_hop && a->timeout_s == b->timeout_s
      && a->retry_min_ms == b->retry_min_ms && a->retry_max_ms == b->retry_max_ms
      && a->latency_ms == b->latency_ms;
}
