/* gstlabelpublish.c: publishes every clip result and action event that passes to an MQTT broker.
 *
 * Pass-through. The streaming thread only formats a message and puts it on a queue; a network
 * thread of the element runs libmosquitto's loop (mosquitto_loop), connects, and reconnects with
 * exponential backoff. (Not mosquitto_loop_start: libmosquitto 2.0's mosquitto_loop_forever stops
 * for good after a TLS error or a refused first connection.) At
 * most MAX_IN_FLIGHT messages are handed to libmosquitto at a time, and only while connected;
 * libmosquitto sends those again after a reconnection until the broker acknowledges them. The rest
 * wait in the queue, bounded by max-queued: beyond it the oldest is dropped and counted. At EOS the
 * streaming thread waits (at most eos-timeout-ms) until every message has been acknowledged; a
 * flush or a change to READY ends the wait at once.
 *
 * Faults: a broker that refuses the credentials (CONNACK "bad user name or password" / "not
 * authorised") is an element error and no retry. A broker that cannot be reached and a TLS
 * handshake that fails are retried with backoff; the first failure of each kind posts a warning.
 * The password (password-file or the write-only password property) is never logged. */
#include "gstlabelpublish.h"

#include <string.h>
#include <unistd.h>
#include <mosquitto.h>

#include "cliplabels/gstclipevent.h"
#include "cliplabels/gstcliplabelsmeta.h"
#include "gstclipresults.h"
#include "gstpublishkafka.h"

GST_DEBUG_CATEGORY_STATIC (gst_label_publish_debug);
#define GST_CAT_DEFAULT gst_label_publish_debug

enum {
  PROP_0,
  PROP_BROKER,
  PROP_TOPIC,
  PROP_EVENT_TOPIC,
  PROP_LAST_RESULT_TOPIC,
  PROP_AVAILABILITY_TOPIC,
  PROP_STREAM_NAME,
  PROP_QOS,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD_FILE,
  PROP_PASSWORD,
  PROP_CA_FILE,
  PROP_CERT_FILE,
  PROP_KEY_FILE,
  PROP_KEEPALIVE,
  PROP_RECONNECT_MAX_DELAY,
  PROP_MAX_QUEUED,
  PROP_EOS_TIMEOUT_MS,
  PROP_DROPPED,
  PROP_CONNECTED,
};

#define DEFAULT_BROKER "mqtt://127.0.0.1:1883"
#define DEFAULT_TOPIC "timesformer/v1/{stream}/clips"
#define DEFAULT_EVENT_TOPIC "timesformer/v1/{stream}/events"
#define DEFAULT_LAST_RESULT_TOPIC "timesformer/v1/{stream}/last"
#define DEFAULT_AVAILABILITY_TOPIC "timesformer/v1/{stream}/availability"
#define DEFAULT_QOS 1
#define DEFAULT_KEEPALIVE 30
#define DEFAULT_RECONNECT_MAX_DELAY 30
#define DEFAULT_MAX_QUEUED 1000
#define DEFAULT_EOS_TIMEOUT_MS 10000

#define MQTT_PORT 1883
#define MQTTS_PORT 8883
#define KAFKA_PORT 9092
/* Messages handed to libmosquitto and not yet acknowledged, at most. */
#define MAX_IN_FLIGHT 20
/* First reconnection delay; it doubles up to reconnect-max-delay. */
#define RECONNECT_MIN_DELAY_MS 500
/* Longest time the network thread stays in one mosquitto_loop() call. */
#define LOOP_TIMEOUT_MS 100
/* How long stop() lets the network thread send the DISCONNECT. */
#define DISCONNECT_TIMEOUT_US (1 * G_USEC_PER_SEC)
/* A password file longer than this is refused. */
#define MAX_PASSWORD_FILE_SIZE 4096
/* How long stop() waits for the broker to take the "offline" availability message. */
#define OFFLINE_TIMEOUT_US (1 * G_USEC_PER_SEC)
#define ONLINE "online"
#define OFFLINE "offline"

typedef struct {
  gchar *topic;
  gchar *payload;
  gint qos;
  gboolean retain;
} PublishMessage;

struct _GstLabelPublish {
  GstBaseTransform parent;

  /* properties, guarded by the object lock */
  gchar *broker;
  gchar *topic;
  gchar *event_topic;
  gchar *last_result_topic;
  gchar *availability_topic;
  gchar *stream_name;
  gint qos;
  gchar *client_id;
  gchar *username;
  gchar *password_file;
  gchar *password;            /* never logged, never readable */
  gchar *ca_file;
  gchar *cert_file;
  gchar *key_file;
  guint keepalive;
  guint reconnect_max_delay;
  guint max_queued;
  guint eos_timeout_ms;

  /* the connection, from start() to stop() */
  struct mosquitto *mosq;     /* mqtt:// and mqtts:// */
  KafkaProducer *kafka;       /* kafka:// */
  GThread *network_thread;
  gchar *host;
  gint port;
  gchar *stream;              /* the stream's name used in topics and messages */
  gchar *availability;        /* the availability topic expanded, or NULL */

  /* shared with libmosquitto's thread, guarded by `lock`; `changed` is signalled on every ack,
   * connection change and fault */
  GMutex lock;
  GCond changed;
  GQueue queue;               /* PublishMessage not yet handed to libmosquitto, oldest first */
  GHashTable *in_flight;      /* mid -> PublishMessage handed and not yet acknowledged */
  gboolean connected;
  gboolean refused;           /* the broker refused the credentials: no more tries */
  gboolean warned_unreachable;
  gboolean warned_tls;
  gboolean warned_dropping;   /* a drop was warned about since the last connection */
  guint64 dropped;
  gint offline_mid;           /* mid of the "offline" message sent by stop(), or 0 */
  guint64 next_kafka_id;      /* id of the last message given to Kafka */
  gboolean stopping;          /* stop() asks the network thread to end */
  gboolean unblocked;         /* a flush or PAUSED to READY: the EOS wait returns at once */
  gint64 backoff_ms;          /* the next wait before reconnecting */

  /* streaming state */
  ClipResultFilter *seen;     /* results published already */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

G_DEFINE_TYPE (GstLabelPublish, gst_label_publish, GST_TYPE_BASE_TRANSFORM);

static gboolean
labelpublish_element_init (GstPlugin *plugin)
{
  mosquitto_lib_init ();
  return gst_element_register (plugin, "labelpublish", GST_RANK_NONE, GST_TYPE_LABEL_PUBLISH);
}

GST_ELEMENT_REGISTER_DEFINE_CUSTOM (labelpublish, labelpublish_element_init);

/* ---- messages and topics ---- */

static PublishMessage *
publish_message_new (gchar *topic, gchar *payload, gint qos, gboolean retain)
{
  PublishMessage *message = g_new (PublishMessage, 1);

  message->topic = topic;
  message->payload = payload;
  message->qos = qos;
  message->retain = retain;
  return message;
}

static void
publish_message_free (PublishMessage *message)
{
  g_free (message->topic);
  g_free (message->payload);
  g_free (message);
}

/* A name made fit for one topic level: '/', '+', '#' and control characters become '_'. */
static gchar *
topic_level (const gchar *name)
{
  gchar *level = g_strdup (name != NULL && name[0] != '\0' ? name : "_");
  gchar *c;

  for (c = level; *c != '\0'; c++) {
    if (*c == '/' || *c == '+' || *c == '#' || g_ascii_iscntrl (*c))
      *c = '_';
  }
  return level;
}

/* The template with {stream}, {producer} and {model} replaced by topic levels. */
static gchar *
expand_topic (const gchar *template, const gchar *stream, const gchar *producer,
    const gchar *model)
{
  const gchar *names[] = { "{stream}", "{producer}", "{model}" };
  const gchar *values[] = { stream, producer, model };
  GString *topic = g_string_new (template);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    gchar *level = topic_level (values[i]);

    g_string_replace (topic, names[i], level, 0);
    g_free (level);
  }
  return g_string_free (topic, FALSE);
}

/* ---- the queue (called with `lock` held) ---- */

static void
drop_message (GstLabelPublish *self, PublishMessage *message, const gchar *reason)
{
  GST_WARNING_OBJECT (self, "could not publish to %s: %s; dropped", message->topic, reason);
  self->dropped++;
  publish_message_free (message);
}

/* Kafka takes messages whether a broker is up or not; they wait in librdkafka until delivered. */
static void
send_to_kafka (GstLabelPublish *self, PublishMessage *message)
{
  guint64 id = ++self->next_kafka_id;
  gchar *topic = kafka_topic_name (message->topic);
  GError *error = NULL;

  if (kafka_producer_produce (self->kafka, topic, self->stream, message->payload, id, &error)) {
    GST_LOG_OBJECT (self, "message %" G_GUINT64_FORMAT " to %s handed over", id, topic);
    g_hash_table_insert (self->in_flight, GSIZE_TO_POINTER (id), message);
  } else {
    drop_message (self, message, error->message);
    g_error_free (error);
  }
  g_free (topic);
}

/* Hands queued messages over while connected (Kafka: always) and fewer than MAX_IN_FLIGHT are
 * out. */
static void
send_queued (GstLabelPublish *self)
{
  while ((self->connected || self->kafka != NULL)
      && g_hash_table_size (self->in_flight) < MAX_IN_FLIGHT
      && !g_queue_is_empty (&self->queue)) {
    PublishMessage *message = g_queue_pop_head (&self->queue);
    int mid = 0;
    int rc;

    if (self->kafka != NULL) {
      send_to_kafka (self, message);
      continue;
    }
    rc = mosquitto_publish (self->mosq, &mid, message->topic, (int) strlen (message->payload),
        message->payload, message->qos, message->retain);

    /* A QoS 1 or 2 message is libmosquitto's once it has a mid, even if the connection just
     * dropped: it sends it again after reconnecting. */
    if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && message->qos > 0 && mid != 0)) {
      GST_LOG_OBJECT (self, "message %d to %s handed over", mid, message->topic);
      g_hash_table_insert (self->in_flight, GINT_TO_POINTER (mid), message);
    } else if (rc == MOSQ_ERR_NO_CONN) {
      g_queue_push_head (&self->queue, message);
      self->connected = FALSE;
    } else {
      drop_message (self, message, mosquitto_strerror (rc));
    }
  }
}

/* A retained message still queued for the topic, or NULL. */
static GList *
find_queued_retained (GstLabelPublish *self, const gchar *topic)
{
  GList *link;

  for (link = self->queue.head; link != NULL; link = link->next) {
    PublishMessage *queued = link->data;

    if (queued->retain && strcmp (queued->topic, topic) == 0)
      return link;
  }
  return NULL;
}

/* Queues a message; beyond max_queued the oldest queued is dropped and counted. A retained
 * message replaces the one still queued for its topic (only the last one counts). */
static void
enqueue (GstLabelPublish *self, PublishMessage *message, guint max_queued)
{
  guint64 dropped_now = 0;
  gboolean warn;
  GList *replaced;

  g_mutex_lock (&self->lock);
  if (message->retain && (replaced = find_queued_retained (self, message->topic)) != NULL) {
    publish_message_free (replaced->data);
    g_queue_delete_link (&self->queue, replaced);
  }
  g_queue_push_tail (&self->queue, message);
  while (g_queue_get_length (&self->queue) > max_queued) {
    publish_message_free (g_queue_pop_head (&self->queue));
    dropped_now++;
  }
  self->dropped += dropped_now;
  warn = dropped_now > 0 && !self->warned_dropping;
  self->warned_dropping |= warn;
  send_queued (self);
  g_mutex_unlock (&self->lock);

  /* One warning per outage; the count goes on in "dropped". */
  if (warn)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("The broker cannot take the results: the queue is full, the oldest are dropped."),
        ("max-queued=%u reached; see the property \"dropped\"", max_queued));
  if (dropped_now > 0) {
    GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " dropped", dropped_now);
    g_object_notify (G_OBJECT (self), "dropped");
  }
}

/* ---- libmosquitto's callbacks (on the network thread) ---- */

static gboolean
connack_is_refusal (int rc)
{
  /* MQTT 3.1.1 CONNACK: 2 identifier rejected, 4 bad user name or password, 5 not authorised. */
  return rc == 2 || rc == 4 || rc == 5;
}

static void
on_connect (struct mosquitto *mosq, void *user_data, int rc)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (user_data);

  if (rc != 0) {
    GST_INFO_OBJECT (self, "broker refused the connection: %s", mosquitto_connack_string (rc));
    if (connack_is_refusal (rc)) {
      g_mutex_lock (&self->lock);
      self->refused = TRUE;
      g_cond_broadcast (&self->changed);
      g_mutex_unlock (&self->lock);
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
          ("The MQTT broker refused the connection: %s", mosquitto_connack_string (rc)),
          ("check username, password-file and client-id"));
      mosquitto_disconnect (mosq);
    }
    return;
  }
  GST_INFO_OBJECT (self, "connected to the broker");
  if (self->availability != NULL)
    mosquitto_publish (mosq, NULL, self->availability, strlen (ONLINE), ONLINE, 1, TRUE);
  g_mutex_lock (&self->lock);
  self->connected = TRUE;
  self->backoff_ms = RECONNECT_MIN_DELAY_MS;
  self->warned_dropping = FALSE;
  self->warned_unreachable = FALSE;
  self->warned_tls = FALSE;
  send_queued (self);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
  g_object_notify (G_OBJECT (self), "connected");
}

/* Posts a warning at the first failure of each kind (TLS, unreachable) since the last success. */
static void
warn_connection_failure (GstLabelPublish *self, gboolean tls, const gchar *detail)
{
  gboolean warn;

  g_mutex_lock (&self->lock);
  warn = !self->refused && !(tls ? self->warned_tls : self->warned_unreachable);
  if (tls)
    self->warned_tls = TRUE;
  else
    self->warned_unreachable = TRUE;
  g_mutex_unlock (&self->lock);

  if (warn && tls)
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ_WRITE,
        ("The TLS connection to the MQTT broker failed; results are queued, retrying."),
        ("check ca-file, cert-file and key-file: %s", detail));
  else if (warn)
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not reach the broker; results are queued, retrying."), ("%s", detail));
}

static void
on_disconnect (struct mosquitto *mosq, void *user_data, int rc)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (user_data);
  gboolean was_connected;

  g_mutex_lock (&self->lock);
  was_connected = self->connected;
  self->connected = FALSE;
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);

  GST_INFO_OBJECT (self, "disconnected: %s", mosquitto_strerror (rc));
  if (rc != MOSQ_ERR_SUCCESS)
    warn_connection_failure (self, rc == MOSQ_ERR_TLS, mosquitto_strerror (rc));
  if (was_connected)
    g_object_notify (G_OBJECT (self), "connected");
}

static void
on_publish (struct mosquitto *mosq, void *user_data, int mid)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (user_data);

  g_mutex_lock (&self->lock);
  if (g_hash_table_remove (self->in_flight, GINT_TO_POINTER (mid)))
    GST_LOG_OBJECT (self, "message %d acknowledged", mid);
  if (mid == self->offline_mid)
    self->offline_mid = 0;
  send_queued (self);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
}

/* libmosquitto's log lines hold no credentials. A failed TLS handshake while reconnecting is
 * reported only here. */
static void
on_log (struct mosquitto *mosq, void *user_data, int level, const char *line)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (user_data);

  if ((level & MOSQ_LOG_ERR) && g_str_has_prefix (line, "OpenSSL Error"))
    warn_connection_failure (self, TRUE, line);
  if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
    GST_WARNING_OBJECT (self, "libmosquitto: %s", line);
  else
    GST_LOG_OBJECT (self, "libmosquitto: %s", line);
}

/* ---- the network thread ---- */

/* Waits the backoff delay and doubles it; FALSE if the element stops or was refused meanwhile. */
static gboolean
wait_backoff (GstLabelPublish *self, gint64 max_ms)
{
  gint64 deadline;
  gboolean go_on;

  g_mutex_lock (&self->lock);
  deadline = g_get_monotonic_time () + self->backoff_ms * G_TIME_SPAN_MILLISECOND;
  GST_DEBUG_OBJECT (self, "reconnecting in %" G_GINT64_FORMAT " ms", self->backoff_ms);
  self->backoff_ms = MIN (self->backoff_ms * 2, max_ms);
  while (!self->stopping && !self->refused
      && g_cond_wait_until (&self->changed, &self->lock, deadline));
  go_on = !self->stopping && !self->refused;
  g_mutex_unlock (&self->lock);
  return go_on;
}

static gboolean
network_should_run (GstLabelPublish *self, gint64 *stop_deadline)
{
  gboolean stopping;

  g_mutex_lock (&self->lock);
  stopping = self->stopping;
  g_mutex_unlock (&self->lock);
  if (stopping && *stop_deadline == 0)
    *stop_deadline = g_get_monotonic_time () + DISCONNECT_TIMEOUT_US;
  return !stopping || g_get_monotonic_time () < *stop_deadline;
}

/* Runs libmosquitto's loop; after a failure waits and reconnects, until stop() (which lets it send
 * the DISCONNECT first). */
static gpointer
network_loop (gpointer data)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (data);
  gint64 max_ms, stop_deadline = 0;
  int keepalive, rc;

  GST_OBJECT_LOCK (self);
  max_ms = (gint64) self->reconnect_max_delay * 1000;
  keepalive = (int) self->keepalive;
  GST_OBJECT_UNLOCK (self);

  rc = mosquitto_connect_async (self->mosq, self->host, self->port, keepalive);
  while (network_should_run (self, &stop_deadline)) {
    if (rc == MOSQ_ERR_SUCCESS)
      rc = mosquitto_loop (self->mosq, LOOP_TIMEOUT_MS, 1);
    if (rc == MOSQ_ERR_SUCCESS)
      continue;
    if (stop_deadline != 0)
      break;
    if (rc != MOSQ_ERR_NO_CONN)
      warn_connection_failure (self, rc == MOSQ_ERR_TLS, mosquitto_strerror (rc));
    if (!wait_backoff (self, max_ms))
      break;
    rc = mosquitto_reconnect_async (self->mosq);
  }
  GST_DEBUG_OBJECT (self, "network thread ends");
  return NULL;
}

/* ---- Kafka's callbacks and loop (on the network thread) ---- */

static void
set_connected (GstLabelPublish *self, gboolean connected)
{
  gboolean changed;

  g_mutex_lock (&self->lock);
  changed = self->connected != connected;
  self->connected = connected;
  g_mutex_unlock (&self->lock);
  if (changed)
    g_object_notify (G_OBJECT (self), "connected");
}

static void
on_kafka_delivered (guint64 id, const gchar *error, gpointer user_data)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (user_data);
  PublishMessage *message;

  if (error == NULL)
    set_connected (self, TRUE);
  g_mutex_lock (&self->lock);
  message = g_hash_table_lookup (self->in_flight, GSIZE_TO_POINTER (id));
  if (message != NULL && error != NULL) {
    g_hash_table_steal (self->in_flight, GSIZE_TO_POINTER (id));
    drop_message (self, message, error);
  } else if (message != NULL) {
    GST_LOG_OBJECT (self, "message %" G_GUINT64_FORMAT " delivered", id);
    g_hash_table_remove (self->in_flight, GSIZE_TO_POINTER (id));
  }
  send_queued (self);
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
}

static void
on_kafka_reachable (gboolean reachable, const gchar *reason, gpointer user_data)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (user_data);

  set_connected (self, reachable);
  if (!reachable)
    warn_connection_failure (self, FALSE, reason);
}

/* Serves librdkafka's callbacks until stop(). */
static gpointer
kafka_loop (gpointer data)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (data);
  gint64 stop_deadline = 0;

  while (network_should_run (self, &stop_deadline) && stop_deadline == 0)
    kafka_producer_poll (self->kafka, LOOP_TIMEOUT_MS);
  return NULL;
}

/* ---- start and stop ---- */

typedef struct {
  gboolean tls;
  gboolean kafka;
  gchar *host;
  gint port;
} BrokerAddress;

/* mqtt://host[:port], mqtts://host[:port] or kafka://host[:port]; no user information, path or
 * query. */
static gboolean
parse_broker (const gchar *uri, BrokerAddress *address)
{
  GUri *parsed = uri != NULL ? g_uri_parse (uri, G_URI_FLAGS_NONE, NULL) : NULL;
  gboolean valid = parsed != NULL
      && (g_strcmp0 (g_uri_get_scheme (parsed), "mqtt") == 0
          || g_strcmp0 (g_uri_get_scheme (parsed), "mqtts") == 0
          || g_strcmp0 (g_uri_get_scheme (parsed), "kafka") == 0)
      && g_uri_get_host (parsed) != NULL && g_uri_get_host (parsed)[0] != '\0'
      && g_uri_get_userinfo (parsed) == NULL && g_uri_get_query (parsed) == NULL
      && (g_uri_get_path (parsed)[0] == '\0' || strcmp (g_uri_get_path (parsed), "/") == 0);

  if (valid && address != NULL) {
    address->tls = strcmp (g_uri_get_scheme (parsed), "mqtts") == 0;
    address->kafka = strcmp (g_uri_get_scheme (parsed), "kafka") == 0;
    address->host = g_strdup (g_uri_get_host (parsed));
    address->port = g_uri_get_port (parsed) > 0 ? g_uri_get_port (parsed)
        : address->kafka ? KAFKA_PORT : address->tls ? MQTTS_PORT : MQTT_PORT;
  }
  if (parsed != NULL)
    g_uri_unref (parsed);
  return valid;
}

/* The password: the file's first line if password-file is set, else the property. */
static gboolean
read_password (GstLabelPublish *self, const gchar *path, gchar **password)
{
  gchar *contents = NULL;
  gsize length = 0;
  GError *error = NULL;

  if (!g_file_get_contents (path, &contents, &length, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not read the password file \"%s\".", path), ("%s", error->message));
    g_error_free (error);
    return FALSE;
  }
  if (length > MAX_PASSWORD_FILE_SIZE || strlen (contents) != length) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The password file \"%s\" is not one line of text.", path),
        ("%" G_GSIZE_FORMAT " bytes, at most %d without NUL", length, MAX_PASSWORD_FILE_SIZE));
    memset (contents, 0, length);
    g_free (contents);
    return FALSE;
  }
  contents[strcspn (contents, "\r\n")] = '\0';
  *password = contents;
  return TRUE;
}

typedef struct {
  BrokerAddress address;
  gchar *client_id;
  gchar *username;
  gchar *password_file;
  gchar *password;
  gchar *ca_file;
  gchar *cert_file;
  gchar *key_file;
  gchar *availability_topic;
} ConnectionSettings;

static void
connection_settings_clear (ConnectionSettings *settings)
{
  g_free (settings->address.host);
  g_free (settings->client_id);
  g_free (settings->username);
  g_free (settings->password_file);
  if (settings->password != NULL)
    memset (settings->password, 0, strlen (settings->password));
  g_free (settings->password);
  g_free (settings->ca_file);
  g_free (settings->cert_file);
  g_free (settings->key_file);
  g_free (settings->availability_topic);
}

static void
take_settings (GstLabelPublish *self, ConnectionSettings *settings)
{
  GST_OBJECT_LOCK (self);
  parse_broker (self->broker, &settings->address);
  settings->client_id = self->client_id != NULL ? g_strdup (self->client_id)
      : g_strdup_printf ("gst-timesformer-%s-%d-%s", g_get_host_name (), (int) getpid (),
          GST_OBJECT_NAME (self));
  settings->username = g_strdup (self->username);
  settings->password_file = g_strdup (self->password_file);
  settings->password = g_strdup (self->password);
  settings->ca_file = g_strdup (self->ca_file);
  settings->cert_file = g_strdup (self->cert_file);
  settings->key_file = g_strdup (self->key_file);
  settings->availability_topic = g_strdup (self->availability_topic);
  g_free (self->stream);
  self->stream = g_strdup (self->stream_name != NULL ? self->stream_name
      : GST_OBJECT_NAME (self));
  GST_OBJECT_UNLOCK (self);
}

/* Credentials, TLS and the last will on a new client; FALSE (error posted) on a bad setting. */
static gboolean
configure_client (GstLabelPublish *self, ConnectionSettings *settings)
{
  int rc = MOSQ_ERR_SUCCESS;

  if (settings->password_file != NULL) {
    g_free (settings->password);
    settings->password = NULL;
    if (!read_password (self, settings->password_file, &settings->password))
      return FALSE;
  }
  if (settings->username != NULL)
    rc = mosquitto_username_pw_set (self->mosq, settings->username, settings->password);
  if (rc == MOSQ_ERR_SUCCESS && settings->address.tls && settings->ca_file == NULL)
    rc = mosquitto_int_option (self->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
  else if (rc == MOSQ_ERR_SUCCESS && settings->address.tls)
    rc = mosquitto_tls_set (self->mosq, settings->ca_file, NULL, settings->cert_file,
        settings->key_file, NULL);
  if (rc != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not use the MQTT credentials or TLS files."),
        ("username, ca-file, cert-file, key-file: %s", mosquitto_strerror (rc)));
    return FALSE;
  }
  if (settings->availability_topic != NULL && settings->availability_topic[0] != '\0') {
    self->availability = expand_topic (settings->availability_topic, self->stream, NULL, NULL);
    mosquitto_will_set (self->mosq, self->availability, strlen (OFFLINE), OFFLINE, 1, TRUE);
  }
  mosquitto_int_option (self->mosq, MOSQ_OPT_SEND_MAXIMUM, MAX_IN_FLIGHT);
  return TRUE;
}

/* An MQTT client on its network thread; FALSE (error posted) on a bad setting. */
static gboolean
start_mqtt (GstLabelPublish *self, ConnectionSettings *settings)
{
  self->mosq = mosquitto_new (settings->client_id, TRUE, self);
  if (self->mosq == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("Could not create an MQTT client."),
        ("mosquitto_new failed for client id \"%s\"", settings->client_id));
    return FALSE;
  }
  mosquitto_connect_callback_set (self->mosq, on_connect);
  mosquitto_disconnect_callback_set (self->mosq, on_disconnect);
  mosquitto_publish_callback_set (self->mosq, on_publish);
  mosquitto_log_callback_set (self->mosq, on_log);
  if (!configure_client (self, settings)) {
    mosquitto_destroy (self->mosq);
    self->mosq = NULL;
    return FALSE;
  }
  GST_INFO_OBJECT (self, "connecting to %s://%s:%d as \"%s\"", settings->address.tls ? "mqtts" :
      "mqtt", settings->address.host, settings->address.port, settings->client_id);
  mosquitto_threaded_set (self->mosq, TRUE);
  self->host = g_strdup (settings->address.host);
  self->port = settings->address.port;
  self->network_thread = g_thread_new ("labelpublish-net", network_loop, self);
  return TRUE;
}

/* A Kafka producer on its network thread (plaintext: credentials and TLS are MQTT's only). */
static gboolean
start_kafka (GstLabelPublish *self, ConnectionSettings *settings)
{
  gchar *bootstrap;
  GError *error = NULL;

  if (settings->username != NULL || settings->password_file != NULL
      || settings->password != NULL || settings->ca_file != NULL
      || settings->cert_file != NULL || settings->key_file != NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("kafka:// takes no credentials or TLS files (only mqtt:// and mqtts:// do)."),
        ("unset username, password, password-file, ca-file, cert-file and key-file"));
    return FALSE;
  }
  bootstrap = g_strdup_printf ("%s:%d", settings->address.host, settings->address.port);
  GST_INFO_OBJECT (self, "producing to kafka://%s as \"%s\"", bootstrap, settings->client_id);
  self->kafka = kafka_producer_new (bootstrap, settings->client_id, on_kafka_delivered,
      on_kafka_reachable, self, &error);
  g_free (bootstrap);
  if (self->kafka == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("Could not create a Kafka producer."),
        ("%s", error->message));
    g_error_free (error);
    return FALSE;
  }
  self->next_kafka_id = 0;
  self->network_thread = g_thread_new ("labelpublish-net", kafka_loop, self);
  return TRUE;
}

static gboolean
gst_label_publish_start (GstBaseTransform *trans)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (trans);
  ConnectionSettings settings = { 0 };
  gboolean started;

  take_settings (self, &settings);
  self->refused = FALSE;
  self->connected = FALSE;
  self->warned_unreachable = FALSE;
  self->warned_tls = FALSE;
  self->warned_dropping = FALSE;
  self->dropped = 0;
  self->offline_mid = 0;
  self->stopping = FALSE;
  self->backoff_ms = RECONNECT_MIN_DELAY_MS;
  started = settings.address.kafka ? start_kafka (self, &settings)
      : start_mqtt (self, &settings);
  connection_settings_clear (&settings);
  return started;
}

/* Tells the broker we leave ("offline", retained) and waits a little for it to take it. */
static void
publish_offline (GstLabelPublish *self)
{
  gint64 deadline = g_get_monotonic_time () + OFFLINE_TIMEOUT_US;
  int mid = 0;

  g_mutex_lock (&self->lock);
  if (self->connected && self->availability != NULL
      && mosquitto_publish (self->mosq, &mid, self->availability, strlen (OFFLINE), OFFLINE, 1,
          TRUE) == MOSQ_ERR_SUCCESS) {
    self->offline_mid = mid;
    while (self->offline_mid != 0 && self->connected
        && g_cond_wait_until (&self->changed, &self->lock, deadline));
  }
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_label_publish_stop (GstBaseTransform *trans)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (trans);
  guint left;

  if (self->network_thread != NULL) {
    if (self->mosq != NULL)
      publish_offline (self);
    g_mutex_lock (&self->lock);
    self->stopping = TRUE;
    g_cond_broadcast (&self->changed);
    g_mutex_unlock (&self->lock);
    if (self->mosq != NULL)
      mosquitto_disconnect (self->mosq);
    g_thread_join (self->network_thread);
    self->network_thread = NULL;
  }
  if (self->mosq != NULL) {
    mosquitto_destroy (self->mosq);
    self->mosq = NULL;
  }
  g_clear_pointer (&self->kafka, kafka_producer_free);
  g_clear_pointer (&self->host, g_free);
  g_mutex_lock (&self->lock);
  left = g_queue_get_length (&self->queue) + g_hash_table_size (self->in_flight);
  g_queue_clear_full (&self->queue, (GDestroyNotify) publish_message_free);
  g_hash_table_remove_all (self->in_flight);
  self->connected = FALSE;
  g_mutex_unlock (&self->lock);
  if (left > 0)
    GST_WARNING_OBJECT (self, "stopped with %u message(s) not acknowledged", left);
  g_clear_pointer (&self->availability, g_free);
  g_clear_pointer (&self->stream, g_free);
  clip_result_filter_reset (self->seen);
  return TRUE;
}

/* ---- streaming ---- */

/* Waits until every message is acknowledged, the broker refused us or the timeout passed. */
static void
wait_until_delivered (GstLabelPublish *self)
{
  guint timeout_ms, left;
  gint64 deadline;

  GST_OBJECT_LOCK (self);
  timeout_ms = self->eos_timeout_ms;
  GST_OBJECT_UNLOCK (self);
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&self->lock);
  while (!self->refused && !self->unblocked && (!g_queue_is_empty (&self->queue)
          || g_hash_table_size (self->in_flight) > 0)
      && g_cond_wait_until (&self->changed, &self->lock, deadline));
  left = g_queue_get_length (&self->queue) + g_hash_table_size (self->in_flight);
  g_mutex_unlock (&self->lock);

  if (left > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("%u message(s) were not delivered to the broker before the end of the stream.",
            left), ("eos-timeout-ms=%u passed", timeout_ms));
  else
    GST_DEBUG_OBJECT (self, "every message delivered at EOS");
}

/* From any thread: a flush or a stop must not wait for the EOS wait's time-out. */
static void
set_unblocked (GstLabelPublish *self, gboolean unblocked)
{
  g_mutex_lock (&self->lock);
  self->unblocked = unblocked;
  g_cond_broadcast (&self->changed);
  g_mutex_unlock (&self->lock);
}

static GstStateChangeReturn
gst_label_publish_change_state (GstElement *element, GstStateChange transition)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (element);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    set_unblocked (self, TRUE);
  else if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    set_unblocked (self, FALSE);
  return GST_ELEMENT_CLASS (gst_label_publish_parent_class)->change_state (element,
      transition);
}

static gboolean
gst_label_publish_refused (GstLabelPublish *self)
{
  gboolean refused;

  g_mutex_lock (&self->lock);
  refused = self->refused;
  g_mutex_unlock (&self->lock);
  return refused;
}

static void
publish_clip_event (GstLabelPublish *self, const GstClipEvent *event)
{
  gchar *template, *topic;
  gint qos;
  guint max_queued;

  GST_OBJECT_LOCK (self);
  template = g_strdup (self->event_topic);
  qos = self->qos;
  max_queued = self->max_queued;
  GST_OBJECT_UNLOCK (self);

  topic = expand_topic (template, self->stream, g_quark_to_string (event->producer),
      g_quark_to_string (event->model));
  GST_DEBUG_OBJECT (self, "event %" G_GUINT64_FORMAT " %s (%s) to %s", event->event_id,
      gst_clip_event_kind_to_string (event->kind), g_quark_to_string (event->label), topic);
  enqueue (self, publish_message_new (topic, gst_clip_event_to_json (event, self->stream), qos,
          FALSE), max_queued);
  g_free (template);
}

static const gchar *
quark_or_null (GQuark quark)
{
  return quark != 0 ? g_quark_to_string (quark) : NULL;
}

/* The result (the JSON line labellog writes) to `topic`, and retained to last-result-topic. */
static void
publish_result (GstLabelPublish *self, const GstClipLabelsMeta *result)
{
  const gchar *producer = quark_or_null (result->producer), *model = quark_or_null (result->model);
  gchar *topic_template, *last_template, *json;
  gint qos;
  guint max_queued;

  if (!clip_result_filter_is_new (self->seen, result)) {
    GST_LOG_OBJECT (self, "clip %" G_GUINT64_FORMAT " published already", result->clip_index);
    return;
  }
  GST_OBJECT_LOCK (self);
  topic_template = g_strdup (self->topic);
  last_template = g_strdup (self->last_result_topic);
  qos = self->qos;
  max_queued = self->max_queued;
  GST_OBJECT_UNLOCK (self);

  json = gst_clip_labels_meta_to_json (result, self->stream, g_get_real_time ());
  GST_DEBUG_OBJECT (self, "clip %" G_GUINT64_FORMAT " of %s", result->clip_index,
      GST_STR_NULL (producer));
  if (last_template != NULL && last_template[0] != '\0' && self->kafka == NULL)
    enqueue (self, publish_message_new (expand_topic (last_template, self->stream, producer,
                model), g_strdup (json), qos, TRUE), max_queued);
  enqueue (self, publish_message_new (expand_topic (topic_template, self->stream, producer,
              model), json, qos, FALSE), max_queued);
  g_free (last_template);
  g_free (topic_template);
}

static gboolean
gst_label_publish_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (trans);
  GstClipEvent clip_event;
  GstBuffer *holder = NULL;
  const GstClipLabelsMeta *result = clip_result_from_event (event, &holder);

  if (result != NULL) {
    publish_result (self, result);
    gst_buffer_unref (holder);
  } else if (gst_clip_event_parse_gst_event (event, &clip_event)) {
    publish_clip_event (self, &clip_event);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    wait_until_delivered (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START) {
    set_unblocked (self, TRUE);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    set_unblocked (self, FALSE);
    clip_result_filter_reset (self->seen);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_label_publish_parent_class)->sink_event (trans, event);
}

static GstFlowReturn
gst_label_publish_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (trans);
  gpointer state = NULL;
  GstMeta *meta;

  if (gst_label_publish_refused (self))
    return GST_FLOW_ERROR;
  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)) != NULL)
    publish_result (self, (const GstClipLabelsMeta *) meta);
  return GST_FLOW_OK;
}

/* ---- properties ---- */

/* Properties the connection is made from: refused (with a warning) once started. */
static gboolean
settable_now (GstLabelPublish *self, GParamSpec *pspec)
{
  if (self->network_thread == NULL)
    return TRUE;
  GST_WARNING_OBJECT (self, "property %s cannot change while running; ignored", pspec->name);
  return FALSE;
}

static void
replace_string (gchar **field, const GValue *value)
{
  g_free (*field);
  *field = g_value_dup_string (value);
}

static void
set_topic (GstLabelPublish *self, gchar **field, const GValue *value, gboolean may_be_empty,
    GParamSpec *pspec)
{
  const gchar *topic = g_value_get_string (value);

  if ((topic == NULL || topic[0] == '\0') ? !may_be_empty
      : (strchr (topic, '+') != NULL || strchr (topic, '#') != NULL)) {
    GST_WARNING_OBJECT (self, "%s \"%s\" refused: empty or with a wildcard (+, #)", pspec->name,
        GST_STR_NULL (topic));
    return;
  }
  replace_string (field, value);
}

static void
gst_label_publish_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (object);

  GST_OBJECT_LOCK (self);
  if ((pspec->flags & GST_PARAM_MUTABLE_PLAYING) == 0 && !settable_now (self, pspec)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_BROKER:
      if (parse_broker (g_value_get_string (value), NULL))
        replace_string (&self->broker, value);
      else
        GST_WARNING_OBJECT (self, "broker refused: not mqtt://host[:port], mqtts://host[:port] "
            "or kafka://host[:port] (give credentials with username and password-file)");
      break;
    case PROP_TOPIC:
      set_topic (self, &self->topic, value, FALSE, pspec);
      break;
    case PROP_EVENT_TOPIC:
      set_topic (self, &self->event_topic, value, FALSE, pspec);
      break;
    case PROP_LAST_RESULT_TOPIC:
      set_topic (self, &self->last_result_topic, value, TRUE, pspec);
      break;
    case PROP_AVAILABILITY_TOPIC:
      set_topic (self, &self->availability_topic, value, TRUE, pspec);
      break;
    case PROP_STREAM_NAME:
      replace_string (&self->stream_name, value);
      break;
    case PROP_QOS:
      self->qos = g_value_get_int (value);
      break;
    case PROP_CLIENT_ID:
      replace_string (&self->client_id, value);
      break;
    case PROP_USERNAME:
      replace_string (&self->username, value);
      break;
    case PROP_PASSWORD_FILE:
      replace_string (&self->password_file, value);
      break;
    case PROP_PASSWORD:
      if (self->password != NULL)
        memset (self->password, 0, strlen (self->password));
      replace_string (&self->password, value);
      break;
    case PROP_CA_FILE:
      replace_string (&self->ca_file, value);
      break;
    case PROP_CERT_FILE:
      replace_string (&self->cert_file, value);
      break;
    case PROP_KEY_FILE:
      replace_string (&self->key_file, value);
      break;
    case PROP_KEEPALIVE:
      self->keepalive = g_value_get_uint (value);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      self->reconnect_max_delay = g_value_get_uint (value);
      break;
    case PROP_MAX_QUEUED:
      self->max_queued = g_value_get_uint (value);
      break;
    case PROP_EOS_TIMEOUT_MS:
      self->eos_timeout_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_publish_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (object);

  if (prop_id == PROP_DROPPED || prop_id == PROP_CONNECTED) {
    g_mutex_lock (&self->lock);
    if (prop_id == PROP_DROPPED)
      g_value_set_uint64 (value, self->dropped);
    else
      g_value_set_boolean (value, self->connected);
    g_mutex_unlock (&self->lock);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BROKER:
      g_value_set_string (value, self->broker);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_EVENT_TOPIC:
      g_value_set_string (value, self->event_topic);
      break;
    case PROP_LAST_RESULT_TOPIC:
      g_value_set_string (value, self->last_result_topic);
      break;
    case PROP_AVAILABILITY_TOPIC:
      g_value_set_string (value, self->availability_topic);
      break;
    case PROP_STREAM_NAME:
      g_value_set_string (value, self->stream_name);
      break;
    case PROP_QOS:
      g_value_set_int (value, self->qos);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_PASSWORD_FILE:
      g_value_set_string (value, self->password_file);
      break;
    case PROP_CA_FILE:
      g_value_set_string (value, self->ca_file);
      break;
    case PROP_CERT_FILE:
      g_value_set_string (value, self->cert_file);
      break;
    case PROP_KEY_FILE:
      g_value_set_string (value, self->key_file);
      break;
    case PROP_KEEPALIVE:
      g_value_set_uint (value, self->keepalive);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint (value, self->reconnect_max_delay);
      break;
    case PROP_MAX_QUEUED:
      g_value_set_uint (value, self->max_queued);
      break;
    case PROP_EOS_TIMEOUT_MS:
      g_value_set_uint (value, self->eos_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_publish_finalize (GObject *object)
{
  GstLabelPublish *self = GST_LABEL_PUBLISH (object);

  g_free (self->broker);
  g_free (self->topic);
  g_free (self->event_topic);
  g_free (self->last_result_topic);
  g_free (self->availability_topic);
  g_free (self->stream_name);
  g_free (self->client_id);
  g_free (self->username);
  g_free (self->password_file);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  g_free (self->ca_file);
  g_free (self->cert_file);
  g_free (self->key_file);
  g_free (self->stream);
  g_free (self->availability);
  g_queue_clear_full (&self->queue, (GDestroyNotify) publish_message_free);
  g_hash_table_unref (self->in_flight);
  clip_result_filter_free (self->seen);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->changed);
  G_OBJECT_CLASS (gst_label_publish_parent_class)->finalize (object);
}

#define READY_ONLY (G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)

static void
install_string (GObjectClass *klass, guint id, const gchar *name, const gchar *nick,
    const gchar *blurb, const gchar *default_value)
{
  g_object_class_install_property (klass, id,
      g_param_spec_string (name, nick, blurb, default_value, READY_ONLY));
}

static void
install_properties (GObjectClass *klass)
{
  install_string (klass, PROP_BROKER, "broker", "Broker",
      "Broker: mqtt://host[:port] (port 1883), mqtts://host[:port] for MQTT over TLS (8883) or "
      "kafka://host[:port] (9092)",
      DEFAULT_BROKER);
  install_string (klass, PROP_TOPIC, "topic", "Topic",
      "Topic of the clip results; {stream}, {producer} and {model} are replaced", DEFAULT_TOPIC);
  install_string (klass, PROP_EVENT_TOPIC, "event-topic", "Event topic",
      "Topic of the action events of labelevents; {stream}, {producer}, {model} replaced",
      DEFAULT_EVENT_TOPIC);
  install_string (klass, PROP_LAST_RESULT_TOPIC, "last-result-topic", "Last result topic",
      "Retained topic that holds the latest clip result ({stream}, {producer}, {model}); "
      "empty: none", DEFAULT_LAST_RESULT_TOPIC);
  install_string (klass, PROP_AVAILABILITY_TOPIC, "availability-topic", "Availability topic",
      "Retained topic set to \"online\" when connected and \"offline\" when stopped or lost "
      "(the last will); {stream} replaced; empty: none", DEFAULT_AVAILABILITY_TOPIC);
  install_string (klass, PROP_STREAM_NAME, "stream-name", "Stream name",
      "Name of the stream in topics and messages (unset: the element's name)", NULL);
  g_object_class_install_property (klass, PROP_QOS,
      g_param_spec_int ("qos", "QoS", "MQTT quality of service of results and events: "
          "0 at most once, 1 at least once, 2 exactly once", 0, 2, DEFAULT_QOS, READY_ONLY));
  install_string (klass, PROP_CLIENT_ID, "client-id", "Client id",
      "MQTT client identifier (unset: gst-timesformer-<host>-<pid>-<element>)", NULL);
  install_string (klass, PROP_USERNAME, "username", "User name",
      "User name given to the broker (unset: anonymous)", NULL);
  install_string (klass, PROP_PASSWORD_FILE, "password-file", "Password file",
      "File whose first line is the password (preferred over password)", NULL);
  g_object_class_install_property (klass, PROP_PASSWORD,
      g_param_spec_string ("password", "Password",
          "Password given to the broker with username (write-only, never logged; "
          "password-file wins when both are set)", NULL,
          G_PARAM_WRITABLE | GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS));
  install_string (klass, PROP_CA_FILE, "ca-file", "CA file",
      "PEM file of the CA certificates that verify the broker (mqtts; unset: the system's)",
      NULL);
  install_string (klass, PROP_CERT_FILE, "cert-file", "Certificate file",
      "PEM client certificate for mqtts (with key-file)", NULL);
  install_string (klass, PROP_KEY_FILE, "key-file", "Key file",
      "PEM private key of cert-file (unencrypted)", NULL);
  g_object_class_install_property (klass, PROP_KEEPALIVE,
      g_param_spec_uint ("keepalive", "Keepalive", "MQTT keepalive, seconds", 5, 65535,
          DEFAULT_KEEPALIVE, READY_ONLY));
  g_object_class_install_property (klass, PROP_RECONNECT_MAX_DELAY,
      g_param_spec_uint ("reconnect-max-delay", "Reconnect max delay",
          "Longest wait between reconnection attempts, seconds (the wait starts at 0.5 s and "
          "doubles)", 1, 3600, DEFAULT_RECONNECT_MAX_DELAY, READY_ONLY));
  g_object_class_install_property (klass, PROP_MAX_QUEUED,
      g_param_spec_uint ("max-queued", "Max queued",
          "Messages kept while the broker cannot take them; beyond, the oldest is dropped", 1,
          1000000, DEFAULT_MAX_QUEUED,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (klass, PROP_EOS_TIMEOUT_MS,
      g_param_spec_uint ("eos-timeout-ms", "EOS timeout",
          "At EOS, wait at most this long (milliseconds) for the broker to acknowledge every "
          "message", 0, 3600000, DEFAULT_EOS_TIMEOUT_MS,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (klass, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped", "Messages dropped because the queue was full",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (klass, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected", "Whether the broker is connected now",
          FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_label_publish_class_init (GstLabelPublishClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_label_publish_debug, "labelpublish", 0,
      "Publishes clip results and action events to an MQTT broker");

  gobject_class->set_property = gst_label_publish_set_property;
  gobject_class->get_property = gst_label_publish_get_property;
  gobject_class->finalize = gst_label_publish_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_label_publish_change_state);
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Clip label publisher", "Filter/Network",
      "Publishes each clip classification result and action event to an MQTT broker",
      "gst-timesformer");

  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_label_publish_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_label_publish_sink_event);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_label_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_label_publish_stop);
}

static void
gst_label_publish_init (GstLabelPublish *self)
{
  self->broker = g_strdup (DEFAULT_BROKER);
  self->topic = g_strdup (DEFAULT_TOPIC);
  self->event_topic = g_strdup (DEFAULT_EVENT_TOPIC);
  self->last_result_topic = g_strdup (DEFAULT_LAST_RESULT_TOPIC);
  self->availability_topic = g_strdup (DEFAULT_AVAILABILITY_TOPIC);
  self->qos = DEFAULT_QOS;
  self->keepalive = DEFAULT_KEEPALIVE;
  self->reconnect_max_delay = DEFAULT_RECONNECT_MAX_DELAY;
  self->max_queued = DEFAULT_MAX_QUEUED;
  self->eos_timeout_ms = DEFAULT_EOS_TIMEOUT_MS;
  g_mutex_init (&self->lock);
  g_cond_init (&self->changed);
  g_queue_init (&self->queue);
  self->in_flight = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) publish_message_free);
  self->seen = clip_result_filter_new ();
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
