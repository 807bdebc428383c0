/* gstpublishkafka.h: labelpublish's Kafka producer (librdkafka), for broker=kafka://host:port.
 *
 * Thread rules: produce() from any thread; poll() from one thread (labelpublish's network thread),
 * which is where the delivery callback runs. librdkafka connects, reconnects and retries itself;
 * a message waits there until delivered (no time-out). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KafkaProducer KafkaProducer;

/* Called once per produced message: delivered (error NULL) or failed for good. */
typedef void (*KafkaDeliveredFunc) (guint64 id, const gchar *error, gpointer user_data);

/* Called when the connection state changes: `reachable` FALSE when every broker is down (with
 * librdkafka's reason), TRUE again at the next delivery. */
typedef void (*KafkaReachableFunc) (gboolean reachable, const gchar *reason, gpointer user_data);

/* `bootstrap` host:port; NULL and `error` set if librdkafka refuses the settings. */
KafkaProducer *kafka_producer_new (const gchar *bootstrap, const gchar *client_id,
    KafkaDeliveredFunc delivered, KafkaReachableFunc reachable, gpointer user_data,
    GError **error);
/* Hands a message to librdkafka (copied); FALSE and `error` set if it refused it now. */
gboolean kafka_producer_produce (KafkaProducer *producer, const gchar *topic, const gchar *key,
    const gchar *payload, guint64 id, GError **error);
/* Serves delivery callbacks, waiting at most timeout_ms for one. */
void kafka_producer_poll (KafkaProducer *producer, gint timeout_ms);
/* Destroys the producer; messages not delivered are dropped without a callback. */
void kafka_producer_free (KafkaProducer *producer);

/* A topic name Kafka accepts: characters other than [A-Za-z0-9._-] become '.' ('/' too). */
gchar *kafka_topic_name (const gchar *topic);

G_END_DECLS
