/* mqtt-test-broker.h: a real mosquitto broker on a free loopback port, and a subscriber, for the
 * tests of labelpublish. Every wait is bounded. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TEST_BROKER_USER "camera"
#define TEST_BROKER_PASSWORD "pw-9f3kQ-never-logged"

typedef enum {
  TEST_BROKER_ANONYMOUS = 0,
  TEST_BROKER_PASSWORD_FILE = 1 << 0,  /* secure_port takes only TEST_BROKER_USER's password */
  TEST_BROKER_TLS = 1 << 1,            /* secure_port speaks TLS, certificate signed by ca_file */
  TEST_BROKER_CLIENT_CERT = 1 << 2,    /* with TLS: a client certificate signed by ca_file needed */
} TestBrokerFlags;

typedef struct {
  gchar *dir;            /* temporary folder: config, persistence, log, certificates */
  guint port;            /* plain listener, 127.0.0.1 (anonymous subscribers always allowed) */
  guint secure_port;     /* a listener with the flags' requirements (password, TLS), or 0 */
  gchar *ca_file;        /* the CA that signed the server's certificate */
  gchar *other_ca_file;  /* a CA that did not */
  gchar *client_cert_file; /* a client certificate signed by ca_file, and its key */
  gchar *client_key_file;
  gchar *password_file;  /* a file with TEST_BROKER_PASSWORD for labelpublish */
  GPid pid;              /* 0 when stopped */
} TestBroker;

/* Writes the configuration (and certificates) on free ports; does not start the broker. */
TestBroker *test_broker_new (TestBrokerFlags flags);
/* Starts mosquitto and waits (at most 5 s) until it accepts connections. */
void test_broker_start (TestBroker *broker);
/* Stops it (SIGTERM: it saves its sessions) and waits for it to exit. */
void test_broker_stop (TestBroker *broker);
/* Saves its sessions now (SIGUSR1), for a restart after test_broker_kill. */
void test_broker_save (TestBroker *broker);
/* Sends it a signal (SIGSTOP, SIGCONT); SIGKILL also waits for it to exit. */
void test_broker_signal (TestBroker *broker, gint signal_number);
void test_broker_free (TestBroker *broker);

/* A free TCP port on 127.0.0.1 (nothing listens there when this returns). */
guint test_free_port (void);

typedef struct {
  gchar *topic;
  gchar *payload;
  gboolean retain;
} TestMessage;

typedef struct _TestSubscriber TestSubscriber;

/* Connects with a persistent session (so messages queued while the broker restarts still come),
 * subscribes to `filter` at QoS 2 and waits (at most 5 s) for the broker's acknowledgement. */
TestSubscriber *test_subscriber_new (guint port, const gchar *filter);
/* Waits until at least `count` messages on `topic` (NULL: any) arrived, at most timeout_ms;
 * returns how many did. */
guint test_subscriber_wait (TestSubscriber *subscriber, const gchar *topic, guint count,
    guint timeout_ms);
/* Waits until a message on `topic` with exactly `payload` arrived, at most timeout_ms. */
gboolean test_subscriber_wait_payload (TestSubscriber *subscriber, const gchar *topic,
    const gchar *payload, guint timeout_ms);
/* A copy of the messages on `topic` (NULL: all) so far, in arrival order; free with
 * g_ptr_array_unref. */
GPtrArray *test_subscriber_messages (TestSubscriber *subscriber, const gchar *topic);
void test_subscriber_free (TestSubscriber *subscriber);

G_END_DECLS
