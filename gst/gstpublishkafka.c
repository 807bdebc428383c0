/* gstpublishkafka.c: labelpublish's Kafka producer on librdkafka. */
#include "gstpublishkafka.h"

#include <string.h>
#include <gst/gst.h>
#include <librdkafka/rdkafka.h>

GST_DEBUG_CATEGORY_STATIC (kafka_debug);
#define GST_CAT_DEFAULT kafka_debug

#define KAFKA_ERROR (g_quark_from_static_string ("labelpublish-kafka"))
#define ERROR_TEXT_SIZE 512

struct _KafkaProducer {
  rd_kafka_t *rk;
  KafkaDeliveredFunc delivered;
  KafkaReachableFunc reachable;
  gpointer user_data;
  gboolean down;             /* every broker is down (set and read on the polling thread) */
};

static void
on_delivery (rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque)
{
  KafkaProducer *producer = opaque;

  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR && producer->down) {
    producer->down = FALSE;
    producer->reachable (TRUE, NULL, producer->user_data);
  }
  producer->delivered (GPOINTER_TO_SIZE (message->_private),
      message->err ? rd_kafka_err2str (message->err) : NULL, producer->user_data);
}

static void
on_error (rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  KafkaProducer *producer = opaque;

  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !producer->down) {
    producer->down = TRUE;
    producer->reachable (FALSE, reason, producer->user_data);
  }
}

/* librdkafka's log lines go to the debug log (not stderr); they hold no credentials (it gets
 * none). syslog levels: 0..3 errors, 4 warnings, 5..7 notices to debug. */
static void
on_log (const rd_kafka_t *rk, int level, const char *facility, const char *line)
{
  if (level <= 4)
    GST_WARNING ("librdkafka %s: %s", facility, line);
  else
    GST_DEBUG ("librdkafka %s: %s", facility, line);
}

static gboolean
set_config (rd_kafka_conf_t *conf, const gchar *name, const gchar *value, GError **error)
{
  gchar text[ERROR_TEXT_SIZE];

  if (rd_kafka_conf_set (conf, name, value, text, sizeof text) == RD_KAFKA_CONF_OK)
    return TRUE;
  g_set_error (error, KAFKA_ERROR, 0, "%s=%s: %s", name, value, text);
  return FALSE;
}

KafkaProducer *
kafka_producer_new (const gchar *bootstrap, const gchar *client_id, KafkaDeliveredFunc delivered,
    KafkaReachableFunc reachable, gpointer user_data, GError **error)
{
  KafkaProducer *producer = g_new0 (KafkaProducer, 1);
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  gchar text[ERROR_TEXT_SIZE];

  GST_DEBUG_CATEGORY_INIT (kafka_debug, "labelpublish-kafka", 0, "labelpublish's Kafka producer");

  producer->delivered = delivered;
  producer->reachable = reachable;
  producer->user_data = user_data;
  /* Retries without end: a message leaves librdkafka delivered, or when the element stops. */
  if (!set_config (conf, "bootstrap.servers", bootstrap, error)
      || !set_config (conf, "client.id", client_id, error)
      || !set_config (conf, "message.timeout.ms", "0", error)
      || !set_config (conf, "enable.idempotence", "true", error)
      || !set_config (conf, "reconnect.backoff.ms", "500", error)
      || !set_config (conf, "reconnect.backoff.max.ms", "30000", error)) {
    rd_kafka_conf_destroy (conf);
    g_free (producer);
    return NULL;
  }
  rd_kafka_conf_set_dr_msg_cb (conf, on_delivery);
  rd_kafka_conf_set_error_cb (conf, on_error);
  rd_kafka_conf_set_log_cb (conf, on_log);
  rd_kafka_conf_set_opaque (conf, producer);
  producer->rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, text, sizeof text);
  if (producer->rk == NULL) {
    g_set_error (error, KAFKA_ERROR, 0, "rd_kafka_new: %s", text);
    rd_kafka_conf_destroy (conf);
    g_free (producer);
    return NULL;
  }
  return producer;
}

gboolean
kafka_producer_produce (KafkaProducer *producer, const gchar *topic, const gchar *key,
    const gchar *payload, guint64 id, GError **error)
{
  /* The macros do not bracket their arguments: lengths computed first. */
  size_t key_length = key != NULL ? strlen (key) : 0, payload_length = strlen (payload);
  rd_kafka_resp_err_t err = rd_kafka_producev (producer->rk,
      RD_KAFKA_V_TOPIC (topic),
      RD_KAFKA_V_KEY (key, key_length),
      RD_KAFKA_V_VALUE ((void *) payload, payload_length),
      RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE (GSIZE_TO_POINTER (id)),
      RD_KAFKA_V_END);

  if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
    return TRUE;
  g_set_error (error, KAFKA_ERROR, err, "%s", rd_kafka_err2str (err));
  return FALSE;
}

void
kafka_producer_poll (KafkaProducer *producer, gint timeout_ms)
{
  rd_kafka_poll (producer->rk, timeout_ms);
}

void
kafka_producer_free (KafkaProducer *producer)
{
  rd_kafka_purge (producer->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_destroy (producer->rk);
  g_free (producer);
}

gchar *
kafka_topic_name (const gchar *topic)
{
  gchar *name = g_strdup (topic);
  gchar *c;

  for (c = name; *c != '\0'; c++) {
    if (!g_ascii_isalnum (*c) && *c != '.' && *c != '_' && *c != '-')
      *c = '.';
  }
  return name;
}
