/* monitor-config.h: timesformer-monitor's configuration (a GKeyFile), read and checked whole
 * before anything starts; every error names the file, the line and the key. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MONITOR_CONFIG_ERROR (monitor_config_error_quark ())
GQuark monitor_config_error_quark (void);

/* One camera: its section's keys over those of [defaults]. */
typedef struct {
  gchar *name;               /* the section [camera NAME] */
  gchar *uri;                /* may hold user:password (discouraged: credentials-file) */
  gchar *credentials_file;
  gchar *roi;                /* "x,y,width,height" or "" */
  gchar *model;              /* NULL: timesformer's default model */
  gint frame_stride, num_frames, clip_hop;
  gint timeout_s, retry_min_ms, retry_max_ms, latency_ms;
} MonitorCamera;

typedef struct {
  gchar *path;               /* the file read */
  gint status_interval_s;    /* [monitor] status-interval: a status table every N s, 0: none */
  gint stop_timeout_s;       /* [monitor] stop-timeout: wait for pending results at most */
  gchar *jsonl;              /* [outputs] jsonl: path, "%n" the camera's name; NULL: none */
  gchar *mqtt_broker;        /* [outputs] mqtt-broker (labelpublish); NULL: none */
  gchar *mqtt_topic, *mqtt_username, *mqtt_password_file;
  GPtrArray *cameras;        /* MonitorCamera, in file order */
} MonitorConfig;

MonitorConfig *monitor_config_load (const gchar *path, GError **error);
void monitor_config_free (MonitorConfig *config);
/* The camera named `name`, or NULL. */
const MonitorCamera *monitor_config_find (const MonitorConfig *config, const gchar *name);
MonitorCamera *monitor_camera_copy (const MonitorCamera *camera);
void monitor_camera_free (MonitorCamera *camera);
/* TRUE if both describe the same pipeline (a reload keeps such a camera running). */
gboolean monitor_camera_equal (const MonitorCamera *a, const MonitorCamera *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorConfig, monitor_config_free)

G_END_DECLS
