/* mqtt-test-broker.c: mosquitto on loopback and a libmosquitto subscriber for tests. */
#include "mqtt-test-broker.h"
#include "temp-dir-util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <mosquitto.h>

#define WAIT_STEP_US (20 * G_TIME_SPAN_MILLISECOND)
#define START_TIMEOUT_US (5 * G_USEC_PER_SEC)

static gint
loopback_socket (guint port, struct sockaddr_in *address)
{
  memset (address, 0, sizeof *address);
  address->sin_family = AF_INET;
  address->sin_port = htons (port);
  address->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return socket (AF_INET, SOCK_STREAM, 0);
}

guint
test_free_port (void)
{
  struct sockaddr_in address;
  socklen_t length = sizeof address;
  gint fd = loopback_socket (0, &address);

  fail_unless (fd >= 0);
  fail_unless (bind (fd, (struct sockaddr *) &address, sizeof address) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *) &address, &length) == 0);
  close (fd);
  return ntohs (address.sin_port);
}

static gboolean
port_accepts (guint port)
{
  struct sockaddr_in address;
  gint fd = loopback_socket (port, &address);
  gboolean accepted = connect (fd, (struct sockaddr *) &address, sizeof address) == 0;

  close (fd);
  return accepted;
}

static void
run (const gchar *command)
{
  gint status = -1;
  gchar *err = NULL;

  fail_unless (g_spawn_command_line_sync (command, NULL, &err, &status, NULL), "%s", command);
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s failed: %s", command, err);
  g_free (err);
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate signed by it; a second CA
 * that signed nothing. */
static void
make_certificates (TestBroker *broker)
{
  const gchar *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  gchar *ext = g_build_filename (broker->dir, "san.cnf", NULL);
  gchar *command;

  fail_unless (g_file_set_contents (ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n", -1,
          NULL));
  command = g_strdup_printf ("sh -c 'cd %s && timeout 30 openssl req -x509 %s -keyout ca.key "
      "-out ca.crt -days 2 -subj /CN=test-ca && timeout 30 openssl req -x509 %s "
      "-keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca && timeout 30 openssl "
      "req %s -keyout server.key -out server.csr -subj /CN=127.0.0.1 && timeout 30 openssl x509 "
      "-req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
      "-extfile san.cnf && timeout 30 openssl req %s -keyout client.key -out client.csr "
      "-subj /CN=camera && timeout 30 openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key "
      "-CAcreateserial -out client.crt -days 2' 2>/dev/null", broker->dir, ec, ec, ec, ec);
  run (command);
  g_free (command);
  g_free (ext);
  broker->ca_file = g_build_filename (broker->dir, "ca.crt", NULL);
  broker->other_ca_file = g_build_filename (broker->dir, "other-ca.crt", NULL);
  broker->client_cert_file = g_build_filename (broker->dir, "client.crt", NULL);
  broker->client_key_file = g_build_filename (broker->dir, "client.key", NULL);
}

static void
make_password_files (TestBroker *broker, GString *config)
{
  gchar *broker_file = g_build_filename (broker->dir, "broker.passwd", NULL);
  gchar *command = g_strdup_printf ("timeout 30 mosquitto_passwd -c -b %s %s %s", broker_file,
      TEST_BROKER_USER, TEST_BROKER_PASSWORD);

  run (command);
  g_string_append_printf (config, "password_file %s\n", broker_file);
  broker->password_file = g_build_filename (broker->dir, "client-password", NULL);
  fail_unless (g_file_set_contents (broker->password_file, TEST_BROKER_PASSWORD "\n", -1, NULL));
  g_free (command);
  g_free (broker_file);
}

TestBroker *
test_broker_new (TestBrokerFlags flags)
{
  TestBroker *broker = g_new0 (TestBroker, 1);
  GString *config = g_string_new (NULL);
  gchar *path;

  broker->dir = g_dir_make_tmp ("tsf-mqtt-XXXXXX", NULL);
  fail_unless (broker->dir != NULL);
  broker->port = test_free_port ();
  g_string_append_printf (config, "per_listener_settings true\nuser %s\n"
      "persistence true\npersistence_location %s/\nautosave_interval 0\n"
      "log_dest file %s/mosquitto.log\nlog_type all\n", g_get_user_name (), broker->dir,
      broker->dir);
  /* The plain listener: anonymous (subscribers, and publishers of the simple cases). */
  g_string_append_printf (config, "listener %u 127.0.0.1\nallow_anonymous true\n", broker->port);
  /* The listener with the flags' requirements. */
  if (flags != TEST_BROKER_ANONYMOUS) {
    broker->secure_port = test_free_port ();
    g_string_append_printf (config, "listener %u 127.0.0.1\nallow_anonymous %s\n",
        broker->secure_port, (flags & TEST_BROKER_PASSWORD_FILE) ? "false" : "true");
  }
  if (flags & TEST_BROKER_PASSWORD_FILE)
    make_password_files (broker, config);
  if (flags & TEST_BROKER_TLS) {
    make_certificates (broker);
    g_string_append_printf (config, "cafile %s\ncertfile %s/server.crt\nkeyfile %s/server.key\n",
        broker->ca_file, broker->dir, broker->dir);
    if (flags & TEST_BROKER_CLIENT_CERT)
      g_string_append (config, "require_certificate true\n");
  }
  path = g_build_filename (broker->dir, "mosquitto.conf", NULL);
  fail_unless (g_file_set_contents (path, config->str, -1, NULL));
  g_free (path);
  g_string_free (config, TRUE);
  return broker;
}

void
test_broker_start (TestBroker *broker)
{
  gchar *config = g_build_filename (broker->dir, "mosquitto.conf", NULL);
  gchar *argv[] = { (gchar *) "mosquitto", (gchar *) "-c", config, NULL };
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;
  GError *error = NULL;

  fail_unless (broker->pid == 0);
  fail_unless (g_spawn_async (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
          | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &broker->pid,
          &error), "mosquitto: %s", error != NULL ? error->message : "");
  while (!port_accepts (broker->port) || (broker->secure_port != 0
          && !port_accepts (broker->secure_port))) {
    fail_unless (g_get_monotonic_time () < deadline, "mosquitto did not start; see %s",
        broker->dir);
    g_usleep (WAIT_STEP_US);
  }
  g_free (config);
}

void
test_broker_stop (TestBroker *broker)
{
  gint status;

  if (broker->pid == 0)
    return;
  kill (broker->pid, SIGTERM);
  fail_unless (waitpid (broker->pid, &status, 0) == broker->pid);
  g_spawn_close_pid (broker->pid);
  broker->pid = 0;
}

void
test_broker_save (TestBroker *broker)
{
  gchar *db = g_build_filename (broker->dir, "mosquitto.db", NULL);
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;

  g_remove (db);
  kill (broker->pid, SIGUSR1);
  while (!g_file_test (db, G_FILE_TEST_EXISTS)) {
    fail_unless (g_get_monotonic_time () < deadline, "mosquitto did not save %s", db);
    g_usleep (WAIT_STEP_US);
  }
  g_usleep (WAIT_STEP_US);    /* the file is written whole, then renamed; let it finish */
  g_free (db);
}

void
test_broker_signal (TestBroker *broker, gint signal_number)
{
  gint status;

  fail_unless (broker->pid != 0);
  kill (broker->pid, signal_number);
  if (signal_number != SIGKILL)
    return;
  fail_unless (waitpid (broker->pid, &status, 0) == broker->pid);
  g_spawn_close_pid (broker->pid);
  broker->pid = 0;
}

void
test_broker_free (TestBroker *broker)
{
  test_broker_stop (broker);
  if (g_getenv ("TSF_KEEP_BROKER_DIR") == NULL)
    test_remove_dir (broker->dir);
  g_free (broker->dir);
  g_free (broker->ca_file);
  g_free (broker->other_ca_file);
  g_free (broker->client_cert_file);
  g_free (broker->client_key_file);
  g_free (broker->password_file);
  g_free (broker);
}

/* ---- subscriber ---- */

struct _TestSubscriber {
  struct mosquitto *mosq;
  gchar *filter;
  GMutex lock;
  GCond changed;
  GPtrArray *messages;    /* TestMessage */
  gboolean subscribed;
};

static void
test_message_free (TestMessage *message)
{
  g_free (message->topic);
  g_free (message->payload);
  g_free (message);
}

static TestMessage *
test_message_copy (const TestMessage *message)
{
  TestMessage *copy = g_new (TestMessage, 1);

  copy->topic = g_strdup (message->topic);
  copy->payload = g_strdup (message->payload);
  copy->retain = message->retain;
  return copy;
}

static void
subscriber_on_connect (struct mosquitto *mosq, void *data, int rc)
{
  TestSubscriber *subscriber = data;

  if (rc == 0)
    mosquitto_subscribe (mosq, NULL, subscriber->filter, 2);
}

static void
subscriber_on_subscribe (struct mosquitto *mosq, void *data, int mid, int n, const int *qos)
{
  TestSubscriber *subscriber = data;

  g_mutex_lock (&subscriber->lock);
  subscriber->subscribed = TRUE;
  g_cond_broadcast (&subscriber->changed);
  g_mutex_unlock (&subscriber->lock);
}

static void
subscriber_on_message (struct mosquitto *mosq, void *data, const struct mosquitto_message *msg)
{
  TestSubscriber *subscriber = data;
  TestMessage *message = g_new (TestMessage, 1);

  message->topic = g_strdup (msg->topic);
  message->payload = g_strndup (msg->payload, msg->payloadlen);
  message->retain = msg->retain;
  g_mutex_lock (&subscriber->lock);
  g_ptr_array_add (subscriber->messages, message);
  g_cond_broadcast (&subscriber->changed);
  g_mutex_unlock (&subscriber->lock);
}

TestSubscriber *
test_subscriber_new (guint port, const gchar *filter)
{
  TestSubscriber *subscriber = g_new0 (TestSubscriber, 1);
  gchar *id = g_strdup_printf ("test-subscriber-%d-%p", (int) getpid (), subscriber);
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;

  mosquitto_lib_init ();
  g_mutex_init (&subscriber->lock);
  g_cond_init (&subscriber->changed);
  subscriber->filter = g_strdup (filter);
  subscriber->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) test_message_free);
  subscriber->mosq = mosquitto_new (id, FALSE, subscriber);
  fail_unless (subscriber->mosq != NULL);
  mosquitto_connect_callback_set (subscriber->mosq, subscriber_on_connect);
  mosquitto_subscribe_callback_set (subscriber->mosq, subscriber_on_subscribe);
  mosquitto_message_callback_set (subscriber->mosq, subscriber_on_message);
  mosquitto_reconnect_delay_set (subscriber->mosq, 1, 1, FALSE);
  fail_unless (mosquitto_connect (subscriber->mosq, "127.0.0.1", port, 30) == MOSQ_ERR_SUCCESS);
  fail_unless (mosquitto_loop_start (subscriber->mosq) == MOSQ_ERR_SUCCESS);
  g_mutex_lock (&subscriber->lock);
  while (!subscriber->subscribed
      && g_cond_wait_until (&subscriber->changed, &subscriber->lock, deadline));
  fail_unless (subscriber->subscribed, "no SUBACK in 5 s");
  g_mutex_unlock (&subscriber->lock);
  g_free (id);
  return subscriber;
}

static guint
count_on_topic (TestSubscriber *subscriber, const gchar *topic)
{
  guint i, count = 0;

  for (i = 0; i < subscriber->messages->len; i++) {
    TestMessage *message = g_ptr_array_index (subscriber->messages, i);

    count += topic == NULL || strcmp (message->topic, topic) == 0;
  }
  return count;
}

guint
test_subscriber_wait (TestSubscriber *subscriber, const gchar *topic, guint count,
    guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  guint arrived;

  g_mutex_lock (&subscriber->lock);
  while ((arrived = count_on_topic (subscriber, topic)) < count
      && g_cond_wait_until (&subscriber->changed, &subscriber->lock, deadline));
  g_mutex_unlock (&subscriber->lock);
  return arrived;
}

static gboolean
has_payload (TestSubscriber *subscriber, const gchar *topic, const gchar *payload)
{
  guint i;

  for (i = 0; i < subscriber->messages->len; i++) {
    TestMessage *message = g_ptr_array_index (subscriber->messages, i);

    if (strcmp (message->topic, topic) == 0 && strcmp (message->payload, payload) == 0)
      return TRUE;
  }
  return FALSE;
}

gboolean
test_subscriber_wait_payload (TestSubscriber *subscriber, const gchar *topic,
    const gchar *payload, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean arrived;

  g_mutex_lock (&subscriber->lock);
  while (!(arrived = has_payload (subscriber, topic, payload))
      && g_cond_wait_until (&subscriber->changed, &subscriber->lock, deadline));
  g_mutex_unlock (&subscriber->lock);
  return arrived;
}

GPtrArray *
test_subscriber_messages (TestSubscriber *subscriber, const gchar *topic)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) test_message_free);
  guint i;

  g_mutex_lock (&subscriber->lock);
  for (i = 0; i < subscriber->messages->len; i++) {
    TestMessage *message = g_ptr_array_index (subscriber->messages, i);

    if (topic == NULL || strcmp (message->topic, topic) == 0)
      g_ptr_array_add (copy, test_message_copy (message));
  }
  g_mutex_unlock (&subscriber->lock);
  return copy;
}

void
test_subscriber_free (TestSubscriber *subscriber)
{
  mosquitto_disconnect (subscriber->mosq);
  mosquitto_loop_stop (subscriber->mosq, FALSE);
  mosquitto_destroy (subscriber->mosq);
  g_ptr_array_unref (subscriber->messages);
  g_free (subscriber->filter);
  g_mutex_clear (&subscriber->lock);
  g_cond_clear (&subscriber->changed);
  g_free (subscriber);
  mosquitto_lib_cleanup ();
}
