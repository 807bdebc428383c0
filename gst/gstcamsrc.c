/* gstcamsrc.c: a source bin that keeps a camera connected.
 *
 * Inside: one uridecodebin per connection (a "session"), its rtspsrc given the credentials
 * through user-id/user-pw (never in its location), its first video pad the target of the bin's
 * ghost src pad. A session ends on an error from inside the bin, on EOS from the camera, or when
 * no frame came for `timeout` seconds; the bin then removes it and makes a new one after a delay
 * that doubles per failed retry (with jitter) between retry-min-ms and retry-max-ms.
 *
 * Downstream sees one stream: the errors and the camera's EOS stay inside, later stream-start
 * and segment events are dropped, buffer times are running times that never go back (a gap
 * over the reconnection), and a GST_CAM_SRC_RECONNECTED_EVENT precedes the first frame of each
 * new session.
 *
 * Threads: a control thread of the element (its own GMainContext) makes and removes sessions,
 * runs the retry timers and the stall watchdog, and posts the status messages; streaming
 * threads (the ghost pad's probe) and handle_message only queue calls to it. */
#include "gstcamsrc.h"

#include <string.h>
#include <gst/rtsp/gstrtsp-enumtypes.h>
#include <gst/rtsp/gstrtsptransport.h>

GST_DEBUG_CATEGORY_STATIC (gst_cam_src_debug);
#define GST_CAT_DEFAULT gst_cam_src_debug

enum {
  PROP_0,
  PROP_URI,
  PROP_PROTOCOLS,
  PROP_LATENCY,
  PROP_USER_ID,
  PROP_USER_PW,
  PROP_CREDENTIALS_FILE,
  PROP_TIMEOUT,
  PROP_RETRY_MIN_MS,
  PROP_RETRY_MAX_MS,
  PROP_ATTEMPTS,
  PROP_STATUS,
  PROP_STATISTICS,
};

#define DEFAULT_PROTOCOLS GST_RTSP_LOWER_TRANS_TCP
#define DEFAULT_LATENCY 200
#define DEFAULT_TIMEOUT 10
#define DEFAULT_RETRY_MIN_MS 1000
#define DEFAULT_RETRY_MAX_MS 60000
#define DEFAULT_ATTEMPTS 0
#define WATCHDOG_PERIOD_MS 100
#define JITTER_FRACTION 0.2    /* a delay is shortened by up to this fraction, at random */

typedef enum {
  LOSS_ERROR,
  LOSS_EOS,
  LOSS_STALL,
  LOSS_UNAUTHORIZED,
} LossKind;

struct _GstCamSrc {
  GstBin parent;

  GstPad *srcpad;             /* ghost pad; its target is the session's video pad */

  /* properties, guarded by the object lock */
  gchar *location;            /* the URI without user information: what uridecodebin gets */
  gchar *display_uri;         /* the URI without password: what logs and messages show */
  gchar *uri_user, *uri_password;  /* from the URI's user information */
  gchar *user_id, *user_pw, *credentials_file;
  GstRTSPLowerTrans protocols;
  guint latency_ms;
  guint timeout_s;
  guint retry_min_ms, retry_max_ms;
  guint attempts;

  /* the control thread */
  GThread *control_thread;
  GMainContext *context;
  GMainLoop *loop;
  GSource *retry_source;      /* the pending reconnection, control thread only */

  /* session and status, guarded by the object lock */
  gchar *session_user, *session_password;  /* resolved at start */
  GstElement *source;         /* the session's uridecodebin, NULL between sessions */
  guint session;              /* number of the current (or last) session, from 1 */
  gboolean session_running;   /* a frame came in this session */
  gint64 last_activity_us;    /* monotonic time of the session's start or last frame */
  gint64 running_since_us;    /* when the session's first frame came, 0: not running */
  GstCamSrcStatus status;
  guint retries;              /* reconnections since the last running session */
  gboolean eos_requested;     /* the application sent EOS: let it through */
  /* statistics */
  guint reconnects, stalls;
  guint64 frames;
  gchar *last_reason;
  GstClockTime connected_time;  /* running time of the sessions that ended */

  /* output timing, streaming thread only */
  GstSegment in_segment;      /* the session's own segment */
  gboolean segment_sent;      /* our segment went downstream */
  gboolean stream_started;    /* a stream-start went downstream */
  guint timed_session;        /* the session whose first buffer set `offset` */
  GstClockTimeDiff offset;    /* added to the session's running times */
  GstClockTime last_end;      /* end of the last buffer out (running time), or NONE */
  gint64 last_end_us;         /* monotonic time of it */
};

#define gst_cam_src_parent_class parent_class
G_DEFINE_TYPE (GstCamSrc, gst_cam_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (camsrc, "camsrc", GST_RANK_NONE, GST_TYPE_CAM_SRC);

G_DEFINE_ENUM_TYPE (GstCamSrcStatus, gst_cam_src_status,
    G_DEFINE_ENUM_VALUE (GST_CAM_SRC_STATUS_CONNECTING, "connecting"),
    G_DEFINE_ENUM_VALUE (GST_CAM_SRC_STATUS_RUNNING, "running"),
    G_DEFINE_ENUM_VALUE (GST_CAM_SRC_STATUS_RECONNECTING, "reconnecting"),
    G_DEFINE_ENUM_VALUE (GST_CAM_SRC_STATUS_UNAUTHORIZED, "unauthorized"),
    G_DEFINE_ENUM_VALUE (GST_CAM_SRC_STATUS_FAILED, "failed"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));

/* ---- URIs and credentials ---- */

#define URI_FLAGS (G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_PATH \
    | G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_ENCODED_FRAGMENT)

/* Splits `uri` into what uridecodebin gets (no user information), what is shown (no password)
 * and the credentials. FALSE when it is not a URI (no GLib message: it would quote it). */
static gboolean
split_camera_uri (const gchar *uri, gchar **location, gchar **display, gchar **user,
    gchar **password)
{
  gchar *scheme, *host, *path, *query, *fragment;
  gint port;

  if (!g_uri_split_with_user (uri, URI_FLAGS, &scheme, user, password, NULL, &host, &port,
          &path, &query, &fragment, NULL))
    return FALSE;
  *location = g_uri_join (URI_FLAGS & ~G_URI_FLAGS_HAS_PASSWORD, scheme, NULL, host, port, path,
      query, fragment);
  if (display != NULL)
    *display = g_uri_join_with_user (URI_FLAGS & ~G_URI_FLAGS_HAS_PASSWORD, scheme, *user, NULL,
        NULL, host, port, path, query, fragment);
  g_free (scheme);
  g_free (host);
  g_free (path);
  g_free (query);
  g_free (fragment);
  return TRUE;
}

gchar *
gst_cam_src_uri_without_password (const gchar *uri)
{
  gchar *location = NULL, *display = NULL, *user = NULL, *password = NULL;

  if (uri == NULL || !split_camera_uri (uri, &location, &display, &user, &password))
    return NULL;
  g_free (location);
  g_free (user);
  g_free (password);
  return display;
}

static void
set_uri (GstCamSrc *self, const gchar *uri)
{
  gchar *location = NULL, *display = NULL, *user = NULL, *password = NULL;

  if (uri != NULL && !split_camera_uri (uri, &location, &display, &user, &password))
    GST_WARNING_OBJECT (self, "uri is not a URI (not shown: it may hold a password)");
  GST_OBJECT_LOCK (self);
  g_free (self->location);
  g_free (self->display_uri);
  g_free (self->uri_user);
  g_free (self->uri_password);
  self->location = location;
  self->display_uri = display;
  self->uri_user = user;
  self->uri_password = password;
  GST_OBJECT_UNLOCK (self);
}

/* "user:password" on the first line of `path`. */
static gboolean
read_credentials_file (const gchar *path, gchar **user, gchar **password, GError **error)
{
  gchar *contents = NULL, *colon;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  contents[strcspn (contents, "\r\n")] = '\0';
  colon = strchr (contents, ':');
  if (colon == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "%s: the first line is not user:password", path);
    g_free (contents);
    return FALSE;
  }
  *colon = '\0';
  *user = g_strdup (contents);
  *password = g_strdup (colon + 1);
  memset (contents, 0, strlen (colon + 1) + (colon - contents));
  g_free (contents);
  return TRUE;
}

/* user-id/user-pw, else the credentials file, else the URI's. Object lock not held. */
static gboolean
resolve_credentials (GstCamSrc *self)
{
  gchar *file_user = NULL, *file_password = NULL, *file;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  file = g_strdup (self->credentials_file);
  GST_OBJECT_UNLOCK (self);
  if (file != NULL && !read_credentials_file (file, &file_user, &file_password, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Cannot read the credentials file %s: %s", file, error->message), (NULL));
    g_error_free (error);
    g_free (file);
    return FALSE;
  }
  g_free (file);
  GST_OBJECT_LOCK (self);
  g_free (self->session_user);
  g_free (self->session_password);
  self->session_user = g_strdup (self->user_id != NULL ? self->user_id
      : file_user != NULL ? file_user : self->uri_user);
  self->session_password = g_strdup (self->user_pw != NULL ? self->user_pw
      : file_password != NULL ? file_password : self->uri_password);
  GST_OBJECT_UNLOCK (self);
  g_free (file_user);
  g_free (file_password);
  return TRUE;
}

/* ---- the control thread ---- */

typedef struct {
  GstCamSrc *self;
  guint session;
  LossKind kind;
  gchar *reason;
} ControlCall;

static void
control_call_free (ControlCall *call)
{
  gst_object_unref (call->self);
  g_free (call->reason);
  g_free (call);
}

/* Queues `func` on the control thread (never runs it at once, even from that thread). */
static void
control_queue (GstCamSrc *self, GSourceFunc func, guint session, LossKind kind,
    const gchar *reason)
{
  ControlCall *call = g_new0 (ControlCall, 1);
  GSource *source = g_idle_source_new ();

  call->self = gst_object_ref (self);
  call->session = session;
  call->kind = kind;
  call->reason = g_strdup (reason);
  g_source_set_callback (source, func, call, (GDestroyNotify) control_call_free);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

static const gchar *
status_name (GstCamSrcStatus status)
{
  GEnumValue *value = g_enum_get_value (g_type_class_peek (GST_TYPE_CAM_SRC_STATUS), status);

  return value != NULL ? value->value_nick : "unknown";
}

/* Sets the status and posts its message (no lock held). */
static void
set_status (GstCamSrc *self, GstCamSrcStatus status, const gchar *reason, guint64 retry_delay)
{
  GstStructure *s;
  gchar *uri;

  GST_OBJECT_LOCK (self);
  self->status = status;
  uri = g_strdup (self->display_uri);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "%s: %s (%s)", uri, status_name (status), GST_STR_NULL (reason));
  s = gst_structure_new (GST_CAM_SRC_STATUS_MESSAGE, "status", GST_TYPE_CAM_SRC_STATUS, status,
      "uri", G_TYPE_STRING, uri, "reason", G_TYPE_STRING, reason != NULL ? reason : "",
      "retry-delay", G_TYPE_UINT64, retry_delay, NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  g_free (uri);
}

static void on_pad_added (GstElement *decodebin, GstPad *pad, GstCamSrc *self);
static void on_source_setup (GstElement *decodebin, GstElement *source, GstCamSrc *self);
static void lose_session (GstCamSrc *self, LossKind kind, const gchar *reason);

/* Makes a session: a uridecodebin on the location, brought to the bin's state. */
static void
start_session (GstCamSrc *self)
{
  GstElement *decodebin = gst_element_factory_make ("uridecodebin", NULL);
  gchar *location;

  if (decodebin == NULL) {
    lose_session (self, LOSS_ERROR, "uridecodebin is missing (gstreamer1.0-plugins-base)");
    return;
  }
  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  self->session++;
  self->session_running = FALSE;
  self->last_activity_us = g_get_monotonic_time ();
  self->source = gst_object_ref (decodebin);
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "session %u", self->session);
  g_object_set (decodebin, "uri", location, NULL);
  g_signal_connect (decodebin, "source-setup", G_CALLBACK (on_source_setup), self);
  g_signal_connect (decodebin, "pad-added", G_CALLBACK (on_pad_added), self);
  gst_bin_add (GST_BIN (self), decodebin);
  if (!gst_element_sync_state_with_parent (decodebin))
    lose_session (self, LOSS_ERROR, "the connection could not start");
  g_free (location);
}

/* Removes the session's elements. Control thread. */
static void
end_session (GstCamSrc *self)
{
  GstElement *source;

  GST_OBJECT_LOCK (self);
  source = self->source;
  self->source = NULL;
  if (self->running_since_us != 0)
    self->connected_time += (g_get_monotonic_time () - self->running_since_us) * GST_USECOND;
  self->running_since_us = 0;
  GST_OBJECT_UNLOCK (self);
  if (source == NULL)
    return;
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->srcpad), NULL);
  GST_DEBUG_OBJECT (self, "ending session %u", self->session);
  /* The bin's own state changes (async-handling commits them from another thread) must not
   * take the session back up while it goes down; set NULL again once it is out of the bin. */
  gst_element_set_locked_state (source, TRUE);
  gst_element_set_state (source, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (self), source);
  gst_element_set_state (source, GST_STATE_NULL);
  gst_object_unref (source);
  /* A bin without a source child loses the flag; camsrc stays the pipeline's source. */
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

static gboolean
retry_now (gpointer data)
{
  GstCamSrc *self = data;
  gboolean stopping;

  self->retry_source = NULL;
  GST_OBJECT_LOCK (self);
  stopping = self->eos_requested;
  GST_OBJECT_UNLOCK (self);
  if (!stopping)
    start_session (self);
  return G_SOURCE_REMOVE;
}

/* The delay before retry number `retries` (from 1): retry-min-ms doubled per retry, at most
 * retry-max-ms, shortened by up to JITTER_FRACTION (never below retry-min-ms). */
static guint
retry_delay_ms (guint min_ms, guint max_ms, guint retries)
{
  guint64 delay = min_ms;
  guint i;

  for (i = 1; i < retries && delay < max_ms; i++)
    delay *= 2;
  delay = MIN (delay, max_ms);
  delay -= (guint64) (delay * JITTER_FRACTION * g_random_double ());
  return (guint) MAX (delay, min_ms);
}

/* Ends the session and schedules the next, or gives up. Control thread. */
static void
lose_session (GstCamSrc *self, LossKind kind, const gchar *reason)
{
  guint delay_ms, retries, attempts, min_ms, max_ms;
  gchar *uri;

  end_session (self);
  GST_OBJECT_LOCK (self);
  g_free (self->last_reason);
  self->last_reason = g_strdup (reason);
  if (kind == LOSS_STALL)
    self->stalls++;
  retries = ++self->retries;
  attempts = self->attempts;
  min_ms = self->retry_min_ms;
  max_ms = MAX (self->retry_max_ms, min_ms);
  uri = g_strdup (self->display_uri);
  GST_OBJECT_UNLOCK (self);

  if (attempts != 0 && retries > attempts) {
    set_status (self, GST_CAM_SRC_STATUS_FAILED, reason, 0);
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Camera %s: gave up after %u attempts to reconnect (%s)", uri, attempts, reason),
        (NULL));
    g_free (uri);
    return;
  }
  /* Wrong credentials will not become right soon: the longest delay, no tight loop. */
  delay_ms = kind == LOSS_UNAUTHORIZED ? max_ms : retry_delay_ms (min_ms, max_ms, retries);
  GST_OBJECT_LOCK (self);
  self->reconnects++;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "retry %u in %u ms", retries, delay_ms);
  set_status (self, kind == LOSS_UNAUTHORIZED ? GST_CAM_SRC_STATUS_UNAUTHORIZED
      : GST_CAM_SRC_STATUS_RECONNECTING, reason, delay_ms * GST_MSECOND);
  self->retry_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->retry_source, retry_now, self, NULL);
  g_source_attach (self->retry_source, self->context);
  g_source_unref (self->retry_source);
  g_free (uri);
}

/* The call is about the session that runs now (not one that ended). Object lock held. */
#define CALL_IS_CURRENT(self, call) ((self)->source != NULL && (self)->session == (call)->session)

/* A loss reported by a streaming thread or the bus, for the session it saw. */
static gboolean
on_loss (gpointer data)
{
  ControlCall *call = data;
  gboolean current;

  GST_OBJECT_LOCK (call->self);
  current = CALL_IS_CURRENT (call->self, call) && !call->self->eos_requested;
  GST_OBJECT_UNLOCK (call->self);
  if (current)
    lose_session (call->self, call->kind, call->reason);
  return G_SOURCE_REMOVE;
}

/* The session's first frame. */
static gboolean
on_running (gpointer data)
{
  ControlCall *call = data;
  GstCamSrc *self = call->self;
  gboolean current;

  GST_OBJECT_LOCK (self);
  current = CALL_IS_CURRENT (self, call);
  if (current) {
    self->retries = 0;
    self->running_since_us = g_get_monotonic_time ();
  }
  GST_OBJECT_UNLOCK (self);
  if (current)
    set_status (self, GST_CAM_SRC_STATUS_RUNNING, NULL, 0);
  return G_SOURCE_REMOVE;
}

/* No frame for timeout seconds while PLAYING: a stall. */
static gboolean
watchdog (gpointer data)
{
  GstCamSrc *self = data;
  gint64 now = g_get_monotonic_time ();
  gboolean stalled = FALSE;
  guint timeout_s;

  GST_OBJECT_LOCK (self);
  timeout_s = self->timeout_s;
  if (GST_STATE_TARGET (self) != GST_STATE_PLAYING || self->source == NULL
      || self->eos_requested)
    self->last_activity_us = now;
  else
    stalled = now - self->last_activity_us > (gint64) timeout_s * G_USEC_PER_SEC;
  GST_OBJECT_UNLOCK (self);
  if (stalled) {
    gchar *reason = g_strdup_printf ("no frame for %u s", timeout_s);

    lose_session (self, LOSS_STALL, reason);
    g_free (reason);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
first_session (gpointer data)
{
  GstCamSrc *self = data;

  set_status (self, GST_CAM_SRC_STATUS_CONNECTING, NULL, 0);
  start_session (self);
  return G_SOURCE_REMOVE;
}

static gpointer
control_thread_main (gpointer data)
{
  GstCamSrc *self = data;
  GSource *timer = g_timeout_source_new (WATCHDOG_PERIOD_MS);

  g_main_context_push_thread_default (self->context);
  g_source_set_callback (timer, watchdog, self, NULL);
  g_source_attach (timer, self->context);
  g_main_loop_run (self->loop);
  g_source_destroy (timer);
  g_source_unref (timer);
  if (self->retry_source != NULL)
    g_source_destroy (self->retry_source);
  self->retry_source = NULL;
  end_session (self);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static void
start_control (GstCamSrc *self)
{
  GST_OBJECT_LOCK (self);
  self->session = 0;
  self->retries = 0;
  self->reconnects = 0;
  self->stalls = 0;
  self->frames = 0;
  self->connected_time = 0;
  self->eos_requested = FALSE;
  g_clear_pointer (&self->last_reason, g_free);
  GST_OBJECT_UNLOCK (self);
  gst_segment_init (&self->in_segment, GST_FORMAT_TIME);
  self->segment_sent = FALSE;
  self->stream_started = FALSE;
  self->timed_session = 0;
  self->offset = 0;
  self->last_end = GST_CLOCK_TIME_NONE;
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  g_main_context_invoke (self->context, first_session, self);
  self->control_thread = g_thread_new ("camsrc-control", control_thread_main, self);
}

/* Stops the control thread, which removes the session. */
static void
stop_control (GstCamSrc *self)
{
  if (self->control_thread == NULL)
    return;
  g_main_loop_quit (self->loop);
  g_thread_join (self->control_thread);
  self->control_thread = NULL;
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  self->loop = NULL;
  self->context = NULL;
}

/* ---- inside the session ---- */

static void
set_if_present (GstElement *element, const gchar *name, const GValue *value)
{
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (element), name) != NULL)
    g_object_set_property (G_OBJECT (element), name, value);
}

/* The credentials, transport and latency, on rtspsrc (or whatever source has them). */
static void
on_source_setup (GstElement *decodebin, GstElement *source, GstCamSrc *self)
{
  GValue value = G_VALUE_INIT;

  GST_OBJECT_LOCK (self);
  g_value_init (&value, G_TYPE_STRING);
  if (self->session_user != NULL) {
    g_value_set_string (&value, self->session_user);
    set_if_present (source, "user-id", &value);
  }
  if (self->session_password != NULL) {
    g_value_set_string (&value, self->session_password);
    set_if_present (source, "user-pw", &value);
  }
  g_value_unset (&value);
  g_value_init (&value, G_TYPE_UINT);
  g_value_set_uint (&value, self->latency_ms);
  set_if_present (source, "latency", &value);
  g_value_unset (&value);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (source), "protocols") != NULL)
    g_object_set (source, "protocols", self->protocols, NULL);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
is_video_pad (GstPad *pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean video;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  video = caps != NULL && gst_caps_get_size (caps) > 0
      && g_str_has_prefix (gst_structure_get_name (gst_caps_get_structure (caps, 0)), "video/");
  if (caps != NULL)
    gst_caps_unref (caps);
  return video;
}

/* The session's first video pad feeds the ghost pad; other pads stay unlinked. */
static void
on_pad_added (GstElement *decodebin, GstPad *pad, GstCamSrc *self)
{
  gboolean current;
  GstPad *target;

  GST_OBJECT_LOCK (self);
  current = self->source == decodebin;
  GST_OBJECT_UNLOCK (self);
  target = gst_ghost_pad_get_target (GST_GHOST_PAD (self->srcpad));
  if (current && target == NULL && is_video_pad (pad)) {
    GST_DEBUG_OBJECT (self, "output from %" GST_PTR_FORMAT, pad);
    gst_ghost_pad_set_target (GST_GHOST_PAD (self->srcpad), pad);
  }
  if (target != NULL)
    gst_object_unref (target);
}

/* Errors inside the bin end the session instead of the pipeline. */
static void
gst_cam_src_handle_message (GstBin *bin, GstMessage *message)
{
  GstCamSrc *self = GST_CAM_SRC (bin);
  GstElement *source;
  GError *error = NULL;
  gchar *debug = NULL;
  guint session;
  LossKind kind;

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ERROR
      || GST_MESSAGE_SRC (message) == GST_OBJECT (self)) {
    GST_BIN_CLASS (parent_class)->handle_message (bin, message);
    return;
  }
  GST_OBJECT_LOCK (self);
  source = self->source != NULL ? gst_object_ref (self->source) : NULL;
  session = self->session;
  GST_OBJECT_UNLOCK (self);
  gst_message_parse_error (message, &error, &debug);
  GST_DEBUG_OBJECT (self, "error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (message),
      error->message, GST_STR_NULL (debug));
  if (source != NULL && self->context != NULL
      && gst_object_has_as_ancestor (GST_MESSAGE_SRC (message), GST_OBJECT (source))) {
    kind = g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED)
        ? LOSS_UNAUTHORIZED : LOSS_ERROR;
    control_queue (self, on_loss, session, kind, error->message);
  }
  if (source != NULL)
    gst_object_unref (source);
  g_error_free (error);
  g_free (debug);
  gst_message_unref (message);
}

/* ---- the output: one stream whatever the sessions ---- */

static void
retime (GstCamSrc *self, GstClockTime *time)
{
  gint64 running;

  if (!GST_CLOCK_TIME_IS_VALID (*time) || self->in_segment.format != GST_FORMAT_TIME)
    return;
  running = gst_segment_to_running_time (&self->in_segment, GST_FORMAT_TIME, *time);
  if (GST_CLOCK_TIME_IS_VALID (running))
    *time = (GstClockTime) MAX ((GstClockTimeDiff) running + self->offset, 0);
}

/* At the first buffer of a session after the first: running times that would go back behind
 * the last output get an offset that puts them after it, by the wall-clock time between. */
static void
continue_times (GstCamSrc *self, GstBuffer *buffer)
{
  GstClockTime start = GST_BUFFER_PTS (buffer);
  gint64 gap_us = g_get_monotonic_time () - self->last_end_us;

  retime (self, &start);
  if (!GST_CLOCK_TIME_IS_VALID (start) || !GST_CLOCK_TIME_IS_VALID (self->last_end)
      || start > self->last_end)
    return;
  self->offset += (GstClockTimeDiff) (self->last_end - start) + MAX (gap_us, 0) * GST_USECOND;
  GST_DEBUG_OBJECT (self, "running times of this session offset by %" GST_STIME_FORMAT,
      GST_STIME_ARGS (self->offset));
}

static GstPadProbeReturn
on_output_buffer (GstCamSrc *self, GstPadProbeInfo *info)
{
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  gboolean first;
  guint session;

  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  GST_OBJECT_LOCK (self);
  session = self->session;
  first = !self->session_running;
  self->session_running = TRUE;
  self->last_activity_us = g_get_monotonic_time ();
  self->frames++;
  GST_OBJECT_UNLOCK (self);
  if (first && self->timed_session != 0 && self->timed_session != session) {
    continue_times (self, buffer);
    gst_pad_push_event (self->srcpad, gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
            gst_structure_new (GST_CAM_SRC_RECONNECTED_EVENT, "session", G_TYPE_UINT,
                session, NULL)));
  }
  self->timed_session = session;
  if (first)
    control_queue (self, on_running, session, LOSS_ERROR, NULL);
  retime (self, &GST_BUFFER_PTS (buffer));
  retime (self, &GST_BUFFER_DTS (buffer));
  if (GST_BUFFER_PTS_IS_VALID (buffer)) {
    self->last_end = GST_BUFFER_PTS (buffer)
        + (GST_BUFFER_DURATION_IS_VALID (buffer) ? GST_BUFFER_DURATION (buffer) : 0);
    self->last_end_us = g_get_monotonic_time ();
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_output_event (GstCamSrc *self, GstPadProbeInfo *info)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  gboolean eos_requested;
  guint session;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      if (self->stream_started)
        return GST_PAD_PROBE_DROP;
      self->stream_started = TRUE;
      return GST_PAD_PROBE_OK;
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->in_segment);
      if (self->segment_sent || self->in_segment.format != GST_FORMAT_TIME)
        return self->segment_sent ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
      {
        GstSegment out;

        gst_segment_init (&out, GST_FORMAT_TIME);
        gst_event_unref (event);
        GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_segment (&out);
        self->segment_sent = TRUE;
      }
      return GST_PAD_PROBE_OK;
    case GST_EVENT_FLUSH_STOP:
      self->segment_sent = FALSE;
      return GST_PAD_PROBE_OK;
    case GST_EVENT_EOS:
      GST_OBJECT_LOCK (self);
      eos_requested = self->eos_requested;
      session = self->session;
      GST_OBJECT_UNLOCK (self);
      if (eos_requested)
        return GST_PAD_PROBE_OK;
      GST_DEBUG_OBJECT (self, "EOS from the camera");
      control_queue (self, on_loss, session, LOSS_EOS, "end of stream from the camera");
      return GST_PAD_PROBE_DROP;
    default:
      return GST_PAD_PROBE_OK;
  }
}

static GstPadProbeReturn
on_output (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstCamSrc *self = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    return on_output_buffer (self, info);
  return on_output_event (self, info);
}

/* A latency query between sessions: live, the configured latency. */
static gboolean
gst_cam_src_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstCamSrc *self = GST_CAM_SRC (parent);
  GstPad *target;

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY
      && (target = gst_ghost_pad_get_target (GST_GHOST_PAD (pad))) == NULL) {
    GST_OBJECT_LOCK (self);
    gst_query_set_latency (query, TRUE, self->latency_ms * GST_MSECOND, GST_CLOCK_TIME_NONE);
    GST_OBJECT_UNLOCK (self);
    return TRUE;
  } else if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gst_object_unref (target);
  }
  return gst_pad_query_default (pad, parent, query);
}

/* EOS from the application goes out at once, and no session follows. */
static gboolean
gst_cam_src_send_event (GstElement *element, GstEvent *event)
{
  GstCamSrc *self = GST_CAM_SRC (element);

  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  GST_OBJECT_LOCK (self);
  self->eos_requested = TRUE;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "EOS from the application");
  return gst_pad_push_event (self->srcpad, event);
}

static GstStateChangeReturn
gst_cam_src_change_state (GstElement *element, GstStateChange transition)
{
  GstCamSrc *self = GST_CAM_SRC (element);
  GstStateChangeReturn ret;
  gboolean has_uri;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK (self);
      has_uri = self->location != NULL;
      GST_OBJECT_UNLOCK (self);
      if (!has_uri) {
        GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No valid camera uri set"), (NULL));
        return GST_STATE_CHANGE_FAILURE;
      }
      if (!resolve_credentials (self))
        return GST_STATE_CHANGE_FAILURE;
      start_control (self);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      stop_control (self);
      break;
    default:
      break;
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      return GST_STATE_CHANGE_NO_PREROLL;    /* a live source */
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      GST_OBJECT_LOCK (self);
      g_clear_pointer (&self->session_password, g_free);
      g_clear_pointer (&self->session_user, g_free);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      break;
  }
  return ret;
}

/* ---- properties ---- */

static GstStructure *
make_statistics (GstCamSrc *self)
{
  GstClockTime connected;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  connected = self->connected_time + (self->running_since_us != 0
      ? (g_get_monotonic_time () - self->running_since_us) * GST_USECOND : 0);
  s = gst_structure_new ("camsrc-statistics",
      "status", GST_TYPE_CAM_SRC_STATUS, self->status,
      "reconnects", G_TYPE_UINT, self->reconnects,
      "retries", G_TYPE_UINT, self->retries,
      "stalls", G_TYPE_UINT, self->stalls,
      "frames", G_TYPE_UINT64, self->frames,
      "connected-time", G_TYPE_UINT64, connected,
      "last-reason", G_TYPE_STRING, self->last_reason != NULL ? self->last_reason : "", NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static gboolean
settable (GstCamSrc *self, GParamSpec *pspec)
{
  gboolean stopped;

  GST_OBJECT_LOCK (self);
  stopped = GST_STATE (self) <= GST_STATE_READY;
  GST_OBJECT_UNLOCK (self);
  if (!stopped)
    GST_WARNING_OBJECT (self, "%s can only change in the NULL or READY state", pspec->name);
  return stopped;
}

static void
replace_string (GstCamSrc *self, gchar **field, const GValue *value)
{
  GST_OBJECT_LOCK (self);
  g_free (*field);
  *field = g_value_dup_string (value);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cam_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstCamSrc *self = GST_CAM_SRC (object);

  if (prop_id != PROP_TIMEOUT && prop_id != PROP_RETRY_MIN_MS && prop_id != PROP_RETRY_MAX_MS
      && prop_id != PROP_ATTEMPTS && !settable (self, pspec))
    return;
  switch (prop_id) {
    case PROP_URI:
      set_uri (self, g_value_get_string (value));
      break;
    case PROP_USER_ID:
      replace_string (self, &self->user_id, value);
      break;
    case PROP_USER_PW:
      replace_string (self, &self->user_pw, value);
      break;
    case PROP_CREDENTIALS_FILE:
      replace_string (self, &self->credentials_file, value);
      break;
    default:
      GST_OBJECT_LOCK (self);
      switch (prop_id) {
        case PROP_PROTOCOLS:
          self->protocols = g_value_get_flags (value);
          break;
        case PROP_LATENCY:
          self->latency_ms = g_value_get_uint (value);
          break;
        case PROP_TIMEOUT:
          self->timeout_s = g_value_get_uint (value);
          break;
        case PROP_RETRY_MIN_MS:
          self->retry_min_ms = g_value_get_uint (value);
          break;
        case PROP_RETRY_MAX_MS:
          self->retry_max_ms = g_value_get_uint (value);
          break;
        case PROP_ATTEMPTS:
          self->attempts = g_value_get_uint (value);
          break;
        default:
          G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
          break;
      }
      GST_OBJECT_UNLOCK (self);
      break;
  }
}

static void
gst_cam_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstCamSrc *self = GST_CAM_SRC (object);

  if (prop_id == PROP_STATISTICS) {
    g_value_take_boxed (value, make_statistics (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URI:
      g_value_set_string (value, self->display_uri);
      break;
    case PROP_PROTOCOLS:
      g_value_set_flags (value, self->protocols);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_CREDENTIALS_FILE:
      g_value_set_string (value, self->credentials_file);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_s);
      break;
    case PROP_RETRY_MIN_MS:
      g_value_set_uint (value, self->retry_min_ms);
      break;
    case PROP_RETRY_MAX_MS:
      g_value_set_uint (value, self->retry_max_ms);
      break;
    case PROP_ATTEMPTS:
      g_value_set_uint (value, self->attempts);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_cam_src_finalize (GObject *object)
{
  GstCamSrc *self = GST_CAM_SRC (object);

  g_free (self->location);
  g_free (self->display_uri);
  g_free (self->uri_user);
  g_free (self->uri_password);
  g_free (self->user_id);
  g_free (self->user_pw);
  g_free (self->credentials_file);
  g_free (self->session_user);
  g_free (self->session_password);
  g_free (self->last_reason);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_cam_src_init (GstCamSrc *self)
{
  GstPadTemplate *templ = gst_static_pad_template_get (&src_template);

  self->srcpad = gst_ghost_pad_new_no_target_from_template ("src", templ);
  gst_object_unref (templ);
  gst_pad_set_query_function (self->srcpad, gst_cam_src_src_query);
  gst_pad_add_probe (self->srcpad, GST_PAD_PROBE_TYPE_BUFFER
      | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH, on_output, self,
      NULL);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
  self->protocols = DEFAULT_PROTOCOLS;
  self->latency_ms = DEFAULT_LATENCY;
  self->timeout_s = DEFAULT_TIMEOUT;
  self->retry_min_ms = DEFAULT_RETRY_MIN_MS;
  self->retry_max_ms = DEFAULT_RETRY_MAX_MS;
  self->attempts = DEFAULT_ATTEMPTS;
  self->status = GST_CAM_SRC_STATUS_CONNECTING;
  self->last_end = GST_CLOCK_TIME_NONE;
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
  /* A session's uridecodebin changes state asynchronously: the pipeline must not lose its
   * state (and pause) for it. */
  g_object_set (self, "async-handling", TRUE, NULL);
}

static void
gst_cam_src_class_init (GstCamSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBinClass *bin_class = GST_BIN_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_cam_src_set_property;
  gobject_class->get_property = gst_cam_src_get_property;
  gobject_class->finalize = gst_cam_src_finalize;

  g_object_class_install_property (gobject_class, PROP_URI,
      g_param_spec_string ("uri", "URI",
          "Camera URI, rtsp://[user:password@]host[:port]/path (other URIs that uridecodebin "
          "plays may work); read back without its password", NULL,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PROTOCOLS,
      g_param_spec_flags ("protocols", "Protocols",
          "RTSP lower transport protocols allowed", GST_TYPE_RTSP_LOWER_TRANS,
          DEFAULT_PROTOCOLS, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency (ms)",
          "Jitter buffer of the RTSP source, in milliseconds", 0, G_MAXUINT, DEFAULT_LATENCY,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_USER_ID,
      g_param_spec_string ("user-id", "User ID",
          "User name for the camera (overrides the credentials file and the URI's)", NULL,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_USER_PW,
      g_param_spec_string ("user-pw", "User password",
          "Password for the camera (write-only; overrides the credentials file and the URI's)",
          NULL, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CREDENTIALS_FILE,
      g_param_spec_string ("credentials-file", "Credentials file",
          "File whose first line is user:password for the camera (keeps the password off the "
          "command line); read at start", NULL, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout (s)",
          "Seconds without a frame after which the camera counts as lost and is reconnected",
          1, 3600, DEFAULT_TIMEOUT, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_RETRY_MIN_MS,
      g_param_spec_uint ("retry-min-ms", "Minimum retry delay (ms)",
          "Delay before the first reconnection, in milliseconds; doubled per failed retry",
          1, G_MAXINT, DEFAULT_RETRY_MIN_MS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_RETRY_MAX_MS,
      g_param_spec_uint ("retry-max-ms", "Maximum retry delay (ms)",
          "Longest delay between reconnections, in milliseconds (also the delay after the "
          "camera refused the credentials)", 1, G_MAXINT, DEFAULT_RETRY_MAX_MS,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ATTEMPTS,
      g_param_spec_uint ("attempts", "Attempts",
          "Reconnections in a row without a frame before giving up with an error (0: for ever)",
          0, G_MAXUINT, DEFAULT_ATTEMPTS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATUS,
      g_param_spec_enum ("status", "Status", "What the source is doing",
          GST_TYPE_CAM_SRC_STATUS, GST_CAM_SRC_STATUS_CONNECTING,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STATISTICS,
      g_param_spec_boxed ("statistics", "Statistics",
          "status, reconnects, retries (since the last frame), stalls, frames, connected-time "
          "(ns), last-reason", GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_cam_src_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_cam_src_send_event);
  bin_class->handle_message = GST_DEBUG_FUNCPTR (gst_cam_src_handle_message);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Camera source", "Source/Video/Network",
      "Decoded video from a camera (RTSP), reconnected with backoff when it is lost",
      "gst-timesformer");
  gst_type_mark_as_plugin_api (GST_TYPE_CAM_SRC_STATUS, 0);
  GST_DEBUG_CATEGORY_INIT (gst_cam_src_debug, "camsrc", 0, "camera source");
}
