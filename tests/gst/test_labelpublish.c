/* test_labelpublish.c: labelpublish against a real mosquitto broker on loopback. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/cliplabels/gstclipevent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bus-harness.h"
#include "labels-test-util.h"
#include "mqtt-test-broker.h"

#define STREAM "cam"
#define EVENTS_TOPIC "timesformer/v1/" STREAM "/events"
#define AVAILABILITY_TOPIC "timesformer/v1/" STREAM "/availability"
#define ALL_TOPICS "timesformer/v1/" STREAM "/#"
#define CLIPS_TOPIC "timesformer/v1/" STREAM "/clips"
#define LAST_TOPIC "timesformer/v1/" STREAM "/last"
/* labels50 makes a clip of 4 frames; frame-stride=1: 40 frames make 10 clips. */
#define PIPELINE_FRAMES 40
#define PIPELINE_CLIPS 10
#define ARRIVAL_TIMEOUT_MS 8000

/* The event of index i: a made-up "falling" event whose figures follow i. */
static GstClipEvent
test_event (guint i)
{
  GstClipEvent event = {
    .kind = i % 3 == 0 ? GST_CLIP_EVENT_START : i % 3 == 1 ? GST_CLIP_EVENT_UPDATE
        : GST_CLIP_EVENT_END,
    .event_id = i, .model = g_quark_from_static_string ("tiny"),
    .producer = g_quark_from_static_string ("timesformer0"), .class_id = 3,
    .label = g_quark_from_static_string ("falling"), .start_running_time = i * GST_SECOND,
    .end_running_time = (i + 1) * GST_SECOND, .start_pts = i * GST_SECOND,
    .end_pts = (i + 1) * GST_SECOND, .start_wallclock_unix_us = 1700000000000000 + i,
    .end_wallclock_unix_us = 1700000001000000 + i, .peak_score = 0.875f, .mean_score = 0.75f,
    .n_clips = 2, .first_clip_index = 2 * i, .last_clip_index = 2 * i + 1,
    .reason = i % 3 == 2 ? "below-threshold" : NULL,
  };

  return event;
}

static gchar *
test_event_json (guint i)
{
  GstClipEvent event = test_event (i);

  return gst_clip_event_to_json (&event, STREAM);
}

/* The bus is there before the element starts, to catch what start() posts. */
static GstHarness *
publisher_new (guint port, const gchar *scheme, const gchar *extra)
{
  gchar *launch = g_strdup_printf ("labelpublish broker=%s://127.0.0.1:%u stream-name=" STREAM
      " %s", scheme, port, extra);
  GstHarness *h = bus_harness_new (launch);

  g_free (launch);
  return h;
}

static void
push_events (GstHarness *h, guint from, guint n)
{
  guint i;

  for (i = from; i < from + n; i++) {
    GstClipEvent event = test_event (i);

    fail_unless (gst_harness_push_event (h, gst_clip_event_new_gst_event (&event)));
  }
}

static GstElement *
publisher (GstHarness *h)
{
  return h->element;
}

static guint64
dropped (GstHarness *h)
{
  guint64 count = 0;

  g_object_get (publisher (h), "dropped", &count, NULL);
  return count;
}

/* Events from..from+n-1 arrived, each `copies` times exactly (0: at least once), and with
 * `in_order` first arrived in order. (Across a reconnection order is not kept: libmosquitto sends
 * the messages that were in flight again after CONNACK, possibly after newer ones.) */
static void
assert_events_arrived (TestSubscriber *subscriber, guint from, guint n, guint copies,
    gboolean in_order)
{
  GPtrArray *messages;
  guint i, j, next = from;

  /* Duplicates count in the number of messages: wait for each event itself. */
  for (i = from; i < from + n; i++) {
    gchar *expected = test_event_json (i);

    test_subscriber_wait_payload (subscriber, EVENTS_TOPIC, expected, ARRIVAL_TIMEOUT_MS);
    g_free (expected);
  }
  messages = test_subscriber_messages (subscriber, EVENTS_TOPIC);
  for (i = from; i < from + n; i++) {
    gchar *expected = test_event_json (i);
    guint seen = 0;

    for (j = 0; j < messages->len; j++)
      seen += strcmp (((TestMessage *) g_ptr_array_index (messages, j))->payload, expected) == 0;
    fail_unless (seen > 0, "event %u missing (%u messages)", i, messages->len);
    fail_unless (copies == 0 || seen == copies, "event %u arrived %u times", i, seen);
    g_free (expected);
  }
  /* first arrivals in order */
  for (j = 0; in_order && j < messages->len && next < from + n; j++) {
    gchar *expected = test_event_json (next);

    if (strcmp (((TestMessage *) g_ptr_array_index (messages, j))->payload, expected) == 0)
      next++;
    g_free (expected);
  }
  fail_unless (!in_order || next == from + n, "event %u out of order", next);
  g_ptr_array_unref (messages);
}

/* Three events pushed before EOS arrive. */
static void
assert_three_delivered (GstHarness *h, TestSubscriber *subscriber)
{
  push_events (h, 0, 3);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, 3,
          ARRIVAL_TIMEOUT_MS), 3);
  assert_events_arrived (subscriber, 0, 3, 0, TRUE);
}

/* QoS 2: every event exactly once; QoS 1: at least once; QoS 0 at most once (on a healthy
 * loopback connection: once). */
GST_START_TEST (test_events_delivered)
{
  gint qos = 2 - __i__;
  TestBroker *broker = test_broker_new (TEST_BROKER_ANONYMOUS);
  TestSubscriber *subscriber;
  gchar *extra = g_strdup_printf ("qos=%d", qos);
  GstHarness *h;
  GPtrArray *availability;

  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  h = publisher_new (broker->port, "mqtt", extra);
  push_events (h, 0, 30);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, 30,
          ARRIVAL_TIMEOUT_MS), 30);
  if (qos != 1)
    g_usleep (300 * G_TIME_SPAN_MILLISECOND);     /* room for a duplicate to show */
  assert_events_arrived (subscriber, 0, 30, qos != 1 ? 1 : 0, TRUE);
  availability = test_subscriber_messages (subscriber, AVAILABILITY_TOPIC);
  fail_unless (availability->len >= 1);
  fail_unless_equals_string (((TestMessage *) g_ptr_array_index (availability, 0))->payload,
      "online");
  fail_unless (bus_harness_pop (h, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR, 0) == NULL);
  fail_unless_equals_uint64 (dropped (h), 0);
  bus_harness_teardown (h);
  /* A graceful stop says "offline". */
  fail_unless (test_subscriber_wait (subscriber, AVAILABILITY_TOPIC, 2, ARRIVAL_TIMEOUT_MS) >= 2);
  g_ptr_array_unref (availability);
  availability = test_subscriber_messages (subscriber, AVAILABILITY_TOPIC);
  fail_unless_equals_string (((TestMessage *) g_ptr_array_index (availability,
              availability->len - 1))->payload, "offline");
  g_ptr_array_unref (availability);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
  g_free (extra);
}
GST_END_TEST;

/* Starts the broker, a subscriber and a QoS 1 publisher that has delivered events 0..n-1. */
static GstHarness *
delivering_publisher (TestBroker *broker, TestSubscriber **subscriber, guint n)
{
  GstHarness *h;

  test_broker_start (broker);
  *subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  h = publisher_new (broker->port, "mqtt", "qos=1");
  push_events (h, 0, n);
  fail_unless_equals_int (test_subscriber_wait (*subscriber, EVENTS_TOPIC, n,
          ARRIVAL_TIMEOUT_MS), n);
  return h;
}

/* The broker stops mid-stream and comes back on the same port: nothing is lost. */
GST_START_TEST (test_broker_restart)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_ANONYMOUS);
  TestSubscriber *subscriber;
  GstHarness *h;

  h = delivering_publisher (broker, &subscriber, 10);
  test_broker_stop (broker);
  push_events (h, 10, 10);
  g_usleep (2 * G_USEC_PER_SEC);
  test_broker_start (broker);
  push_events (h, 20, 10);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  test_subscriber_wait (subscriber, EVENTS_TOPIC, 30, ARRIVAL_TIMEOUT_MS);
  assert_events_arrived (subscriber, 0, 30, 0, FALSE);
  fail_unless_equals_uint64 (dropped (h), 0);
  bus_harness_teardown (h);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
}
GST_END_TEST;

/* Messages sent and not acknowledged when the broker dies are sent again after the reconnection:
 * the broker is frozen (SIGSTOP) while events go out, then killed and started again. */
GST_START_TEST (test_in_flight_resent)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_ANONYMOUS);
  TestSubscriber *subscriber;
  GstHarness *h;
  gboolean connected = FALSE;

  h = delivering_publisher (broker, &subscriber, 2);
  /* The subscriber's session is saved, so the restarted broker keeps its subscription. */
  test_broker_save (broker);
  test_broker_signal (broker, SIGSTOP);
  push_events (h, 2, 5);
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  g_object_get (publisher (h), "connected", &connected, NULL);
  fail_unless (connected, "the frozen broker's connection should look alive");
  test_broker_signal (broker, SIGKILL);
  test_broker_start (broker);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  test_subscriber_wait (subscriber, EVENTS_TOPIC, 7, ARRIVAL_TIMEOUT_MS);
  assert_events_arrived (subscriber, 0, 7, 0, FALSE);
  bus_harness_teardown (h);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
}
GST_END_TEST;

/* While the broker is down the queue holds max-queued messages: the oldest are dropped and
 * counted, the newest delivered once it is back. */
GST_START_TEST (test_queue_bound)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_ANONYMOUS);
  TestSubscriber *subscriber;
  GstMessage *warning;
  GstHarness *h;

  /* The subscriber's session is made first, so it gets what arrives after the restart. */
  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  test_broker_stop (broker);
  h = publisher_new (broker->port, "mqtt", "qos=1 max-queued=5");
  push_events (h, 0, 12);
  fail_unless_equals_uint64 (dropped (h), 7);
  warning = bus_harness_pop (h, GST_MESSAGE_WARNING, 1000);
  fail_unless (warning != NULL);
  gst_message_unref (warning);
  test_broker_start (broker);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, 5,
          ARRIVAL_TIMEOUT_MS), 5);
  assert_events_arrived (subscriber, 7, 5, 0, FALSE);
  fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, 6, 300), 5);
  bus_harness_teardown (h);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
}
GST_END_TEST;

typedef struct {
  GstHarness *h;
  GMutex lock;
  GCond changed;
  guint done;          /* threads done: the EOS pushed, the state changed to READY */
} EosWait;

static void
eos_wait_one_done (EosWait *wait)
{
  g_mutex_lock (&wait->lock);
  wait->done++;
  g_cond_signal (&wait->changed);
  g_mutex_unlock (&wait->lock);
}

static gpointer
push_eos_thread (gpointer data)
{
  EosWait *wait = data;

  gst_harness_push_event (wait->h, gst_event_new_eos ());
  eos_wait_one_done (wait);
  return NULL;
}

static gpointer
set_ready_thread (gpointer data)
{
  EosWait *wait = data;

  fail_unless (gst_element_set_state (wait->h->element, GST_STATE_READY)
      != GST_STATE_CHANGE_FAILURE);
  eos_wait_one_done (wait);
  return NULL;
}

/* At EOS with a broker that cannot be reached the streaming thread waits for eos-timeout-ms
 * (an hour here); a change to READY ends that wait at once (a monitor stopping a camera, an
 * application shutting down), not an hour later. */
GST_START_TEST (test_ready_ends_eos_wait)
{
  EosWait wait = { .h = publisher_new (test_free_port (), "mqtt", "eos-timeout-ms=3600000") };
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  GstPad *sinkpad = gst_element_get_static_pad (wait.h->element, "sink");
  GThread *pusher, *stopper;

  g_mutex_init (&wait.lock);
  g_cond_init (&wait.changed);
  push_events (wait.h, 0, 1);              /* queued: nothing acknowledges it */
  pusher = g_thread_new ("push-eos", push_eos_thread, &wait);
  /* the EOS holds the pad's stream lock while it is handled (and waits) */
  while (GST_PAD_STREAM_TRYLOCK (sinkpad)) {
    GST_PAD_STREAM_UNLOCK (sinkpad);
    fail_unless (g_get_monotonic_time () < deadline, "the EOS never reached the element");
    g_usleep (10 * G_TIME_SPAN_MILLISECOND);
  }
  stopper = g_thread_new ("set-ready", set_ready_thread, &wait);
  g_mutex_lock (&wait.lock);
  while (wait.done < 2 && g_cond_wait_until (&wait.changed, &wait.lock, deadline));
  g_mutex_unlock (&wait.lock);
  fail_unless (wait.done == 2, "the EOS wait did not end when the element went to READY");
  g_thread_join (pusher);
  g_thread_join (stopper);
  gst_object_unref (sinkpad);
  bus_harness_teardown (wait.h);
  g_cond_clear (&wait.changed);
  g_mutex_clear (&wait.lock);
}
GST_END_TEST;

GST_START_TEST (test_password)
{
  gboolean right = __i__ == 0;
  TestBroker *broker = test_broker_new (TEST_BROKER_PASSWORD_FILE);
  gchar *wrong_file = g_build_filename (broker->dir, "wrong-password", NULL);
  gchar *extra = g_strdup_printf ("username=" TEST_BROKER_USER " password-file=%s",
      right ? broker->password_file : wrong_file);
  TestSubscriber *subscriber;
  GstHarness *h;

  fail_unless (g_file_set_contents (wrong_file, "not-the-password\n", -1, NULL));
  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  h = publisher_new (broker->secure_port, "mqtt", extra);
  if (right) {
    assert_three_delivered (h, subscriber);
  } else {
    GstMessage *error = bus_harness_pop (h, GST_MESSAGE_ERROR, 5000);
    GError *gerror = NULL;
    gint64 start;

    fail_unless (error != NULL, "no error for a wrong password");
    gst_message_parse_error (error, &gerror, NULL);
    fail_unless (g_error_matches (gerror, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED),
        "%s", gerror->message);
    fail_unless (strstr (gerror->message, "not authorised") != NULL
        || strstr (gerror->message, "password") != NULL, "%s", gerror->message);
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_new ()), GST_FLOW_ERROR);
    start = g_get_monotonic_time ();
    gst_harness_push_event (h, gst_event_new_eos ());
    fail_unless (g_get_monotonic_time () - start < G_USEC_PER_SEC, "EOS waited after refusal");
    g_error_free (gerror);
    gst_message_unref (error);
    fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, 1, 200), 0);
  }
  bus_harness_teardown (h);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
  g_free (extra);
  g_free (wrong_file);
}
GST_END_TEST;

/* The TLS handshake fails: a warning, never connected, and EOS waits only eos-timeout-ms (500)
 * with a warning for what was not delivered. */
static void
assert_tls_refused (GstHarness *h, TestSubscriber *subscriber)
{
  GstMessage *warning = bus_harness_pop (h, GST_MESSAGE_WARNING, 5000);
  gboolean connected = TRUE;
  gint64 start;

  fail_unless (warning != NULL, "no warning for a failed TLS handshake");
  gst_message_unref (warning);
  g_object_get (publisher (h), "connected", &connected, NULL);
  fail_if (connected);
  push_events (h, 0, 1);
  start = g_get_monotonic_time ();
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless (g_get_monotonic_time () - start < 2 * G_USEC_PER_SEC);
  warning = bus_harness_pop (h, GST_MESSAGE_WARNING, 0);
  fail_unless (warning != NULL, "no warning for what was not delivered");
  gst_message_unref (warning);
  fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, 1, 200), 0);
}

/* Publishes to the broker's TLS listener with `extra` properties: three events arrive, or
 * (`works` FALSE) the handshake fails. */
static void
run_tls_case (TestBroker *broker, const gchar *extra, gboolean works)
{
  TestSubscriber *subscriber;
  GstHarness *h;

  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  h = publisher_new (broker->secure_port, "mqtts", extra);
  if (works)
    assert_three_delivered (h, subscriber);
  else
    assert_tls_refused (h, subscriber);
  bus_harness_teardown (h);
  test_subscriber_free (subscriber);
}

/* TLS with the test's CA works; with a CA that did not sign the broker's certificate it warns,
 * retries and never hangs. */
GST_START_TEST (test_tls)
{
  gboolean right = __i__ == 0;
  TestBroker *broker = test_broker_new (TEST_BROKER_TLS);
  gchar *extra = g_strdup_printf ("ca-file=%s eos-timeout-ms=%d",
      right ? broker->ca_file : broker->other_ca_file, right ? 5000 : 500);

  run_tls_case (broker, extra, right);
  test_broker_free (broker);
  g_free (extra);
}
GST_END_TEST;

/* A broker that requires a client certificate: with cert-file and key-file the events arrive;
 * without, the handshake fails. */
GST_START_TEST (test_tls_client_certificate)
{
  gboolean with_certificate = __i__ == 0;
  TestBroker *broker = test_broker_new (TEST_BROKER_TLS | TEST_BROKER_CLIENT_CERT);
  gchar *extra = with_certificate ? g_strdup_printf ("ca-file=%s cert-file=%s key-file=%s",
      broker->ca_file, broker->client_cert_file, broker->client_key_file)
      : g_strdup_printf ("ca-file=%s eos-timeout-ms=500", broker->ca_file);

  run_tls_case (broker, extra, with_certificate);
  test_broker_free (broker);
  g_free (extra);
}
GST_END_TEST;

static JsonObject *
parse_object (const gchar *text)
{
  JsonParser *parser = json_parser_new ();
  JsonObject *object;

  fail_unless (json_parser_load_from_data (parser, text, -1, NULL), "not JSON: %s", text);
  fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  object = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  g_object_unref (parser);
  return object;
}

/* The object as text without its wall clock (labellog and labelpublish each read the clock). */
static gchar *
without_wallclock (JsonObject *object)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  gchar *text;

  json_object_remove_member (object, "wallclock");
  json_object_remove_member (object, "wallclock_unix_ns");
  json_node_set_object (node, object);
  text = json_to_string (node, FALSE);
  json_node_unref (node);
  return text;
}

/* The lines of a log that are (`events` TRUE) or are not action events. */
static GPtrArray *
lines_of_type (GPtrArray *lines, gboolean events)
{
  GPtrArray *chosen = g_ptr_array_new ();
  guint i;

  for (i = 0; i < lines->len; i++) {
    JsonObject *line = g_ptr_array_index (lines, i);

    if (json_object_has_member (line, "type") == events)
      g_ptr_array_add (chosen, line);
  }
  return chosen;
}

/* Each of `lines` is the payload of exactly one of `messages` (JSON compared without the wall
 * clock when `ignore_wallclock`). */
static void
assert_each_published_once (GPtrArray *lines, GPtrArray *messages, gboolean ignore_wallclock)
{
  guint i, j;

  fail_unless_equals_int (messages->len, lines->len);
  for (i = 0; i < lines->len; i++) {
    JsonObject *line = json_object_ref (g_ptr_array_index (lines, i));
    gchar *expected = ignore_wallclock ? without_wallclock (line) : NULL;
    guint seen = 0;

    if (expected == NULL) {
      JsonNode *node = json_node_init_object (json_node_alloc (), line);

      expected = json_to_string (node, FALSE);
      json_node_unref (node);
    }
    for (j = 0; j < messages->len; j++) {
      JsonObject *published = parse_object (((TestMessage *) g_ptr_array_index (messages,
                  j))->payload);
      JsonNode *node = json_node_init_object (json_node_alloc (), published);
      gchar *text = ignore_wallclock ? without_wallclock (published) : json_to_string (node, FALSE);

      seen += strcmp (text, expected) == 0;
      g_free (text);
      json_node_unref (node);
      json_object_unref (published);
    }
    fail_unless_equals_int (seen, 1);
    g_free (expected);
    json_object_unref (line);
  }
}

/* A file pipeline with timesformer and labelevents: every clip and every event labellog writes
 * arrives once at QoS 2, the same JSON (clips: but for the wall clock each element reads); the
 * retained last-result topic holds the last clip. */
GST_START_TEST (test_pipeline_results)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_ANONYMOUS);
  gchar *log = g_build_filename (broker->dir, "labels.jsonl", NULL);
  gchar *model = g_build_filename (g_getenv ("TSF_TEST_MODELS"), "labels50", NULL);
  gchar *launch;
  GstElement *pipeline;
  GstMessage *message;
  TestSubscriber *subscriber;
  GPtrArray *lines, *clip_lines, *event_lines, *messages, *events, *last;

  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  launch = g_strdup_printf ("videotestsrc num-buffers=%d ! video/x-raw,width=64,height=48 "
      "! timesformer model=\"%s\" frame-stride=1 ! labelevents on-threshold=0.12 "
      "off-threshold=0.1 min-clips=1 ! labellog location=\"%s\" stream-name=" STREAM
      " ! labelpublish broker=mqtt://127.0.0.1:%u stream-name=" STREAM " qos=2 ! fakesink",
      PIPELINE_FRAMES, model, log, broker->port);
  pipeline = gst_parse_launch (launch, NULL);
  fail_unless (pipeline != NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  message = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline), 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (message != NULL && GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS);
  gst_message_unref (message);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  lines = test_read_json_lines (log);
  clip_lines = lines_of_type (lines, FALSE);
  event_lines = lines_of_type (lines, TRUE);
  fail_unless_equals_int (clip_lines->len, PIPELINE_CLIPS);
  fail_unless (event_lines->len >= 2, "no start and end events in the log");
  fail_unless_equals_int (test_subscriber_wait (subscriber, CLIPS_TOPIC, PIPELINE_CLIPS,
          ARRIVAL_TIMEOUT_MS), PIPELINE_CLIPS);
  fail_unless_equals_int (test_subscriber_wait (subscriber, EVENTS_TOPIC, event_lines->len,
          ARRIVAL_TIMEOUT_MS), event_lines->len);
  g_usleep (300 * G_TIME_SPAN_MILLISECOND);
  messages = test_subscriber_messages (subscriber, CLIPS_TOPIC);
  assert_each_published_once (clip_lines, messages, TRUE);
  events = test_subscriber_messages (subscriber, EVENTS_TOPIC);
  assert_each_published_once (event_lines, events, FALSE);
  last = test_subscriber_messages (subscriber, LAST_TOPIC);
  fail_unless (last->len >= 1);
  fail_unless_equals_string (((TestMessage *) g_ptr_array_index (last, last->len - 1))->payload,
      ((TestMessage *) g_ptr_array_index (messages, messages->len - 1))->payload);
  g_ptr_array_unref (last);
  g_ptr_array_unref (events);
  g_ptr_array_unref (messages);
  g_ptr_array_unref (event_lines);
  g_ptr_array_unref (clip_lines);
  g_ptr_array_unref (lines);
  gst_object_unref (pipeline);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
  g_free (launch);
  g_free (model);
  g_free (log);
}
GST_END_TEST;

static GPid
spawn_gst_launch (const gchar *pipeline, gchar **envp)
{
  gchar **argv = NULL;
  gchar *command = g_strdup_printf ("gst-launch-1.0 -q %s", pipeline);
  GPid pid = 0;

  fail_unless (g_shell_parse_argv (command, NULL, &argv, NULL));
  fail_unless (g_spawn_async (NULL, argv, envp, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
          | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, NULL));
  g_strfreev (argv);
  g_free (command);
  return pid;
}

static gint
wait_child (GPid pid, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  gint status = 0;

  while (waitpid (pid, &status, WNOHANG) == 0) {
    if (g_get_monotonic_time () > deadline) {
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      fail ("gst-launch-1.0 did not end in %u ms", timeout_ms);
    }
    g_usleep (20 * G_TIME_SPAN_MILLISECOND);
  }
  g_spawn_close_pid (pid);
  return status;
}

/* The last will: a pipeline process that is killed leaves "offline" (retained). */
GST_START_TEST (test_last_will)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_ANONYMOUS);
  gchar *pipeline = g_strdup_printf ("videotestsrc is-live=true ! labelpublish "
      "broker=mqtt://127.0.0.1:%u stream-name=" STREAM " ! fakesink", broker->port);
  TestSubscriber *subscriber;
  GPtrArray *availability;
  GPid pid;

  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, AVAILABILITY_TOPIC);
  pid = spawn_gst_launch (pipeline, NULL);
  fail_unless_equals_int (test_subscriber_wait (subscriber, AVAILABILITY_TOPIC, 1,
          ARRIVAL_TIMEOUT_MS), 1);
  kill (pid, SIGKILL);
  wait_child (pid, 5000);
  fail_unless_equals_int (test_subscriber_wait (subscriber, AVAILABILITY_TOPIC, 2,
          ARRIVAL_TIMEOUT_MS), 2);
  availability = test_subscriber_messages (subscriber, AVAILABILITY_TOPIC);
  fail_unless_equals_string (((TestMessage *) g_ptr_array_index (availability, 0))->payload,
      "online");
  fail_unless_equals_string (((TestMessage *) g_ptr_array_index (availability, 1))->payload,
      "offline");
  g_ptr_array_unref (availability);
  test_subscriber_free (subscriber);
  /* Retained: a subscriber that comes later reads "offline" too. */
  subscriber = test_subscriber_new (broker->port, AVAILABILITY_TOPIC);
  fail_unless_equals_int (test_subscriber_wait (subscriber, AVAILABILITY_TOPIC, 1,
          ARRIVAL_TIMEOUT_MS), 1);
  availability = test_subscriber_messages (subscriber, AVAILABILITY_TOPIC);
  fail_unless (((TestMessage *) g_ptr_array_index (availability, 0))->retain);
  fail_unless_equals_string (((TestMessage *) g_ptr_array_index (availability, 0))->payload,
      "offline");
  g_ptr_array_unref (availability);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
  g_free (pipeline);
}
GST_END_TEST;

/* A whole debug log at level 6 of a pipeline that logs in with a password holds no password. */
GST_START_TEST (test_no_password_in_log)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_PASSWORD_FILE);
  gchar *log = g_build_filename (broker->dir, "gst-debug.log", NULL);
  gchar *pipeline = g_strdup_printf ("videotestsrc num-buffers=30 ! labelpublish "
      "broker=mqtt://127.0.0.1:%u stream-name=" STREAM " username=" TEST_BROKER_USER
      " password-file=%s ! fakesink", broker->secure_port, broker->password_file);
  gchar **envp = g_get_environ ();
  TestSubscriber *subscriber;
  gchar *text = NULL;
  gsize length = 0;
  gint status;

  envp = g_environ_setenv (envp, "GST_DEBUG", "*:6", TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_FILE", log, TRUE);
  envp = g_environ_setenv (envp, "GST_DEBUG_NO_COLOR", "1", TRUE);
  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, AVAILABILITY_TOPIC);
  status = wait_child (spawn_gst_launch (pipeline, envp), 30000);
  fail_unless (g_spawn_check_wait_status (status, NULL));
  /* It logged in: "online", then "offline" when it stopped. */
  fail_unless_equals_int (test_subscriber_wait (subscriber, AVAILABILITY_TOPIC, 2,
          ARRIVAL_TIMEOUT_MS), 2);
  fail_unless (g_file_get_contents (log, &text, &length, NULL));
  fail_unless (length > 100000 && strstr (text, "labelpublish") != NULL, "log too short");
  fail_unless (memmem (text, length, TEST_BROKER_PASSWORD, strlen (TEST_BROKER_PASSWORD)) == NULL,
      "the password is in the debug log");
  g_free (text);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
  g_strfreev (envp);
  g_free (pipeline);
  g_free (log);
}
GST_END_TEST;

static GMutex log_lock;
static GString *log_text;

static void
collect_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message, gpointer data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s %s:%d %s\n", gst_debug_category_get_name (category),
      function, line, gst_debug_message_get (message));
  g_mutex_unlock (&log_lock);
}

/* The password given as a property (not through gst-launch) is in no line of a full LOG-level
 * debug log of this process, while the element logs in with it. */
GST_START_TEST (test_password_property_not_logged)
{
  TestBroker *broker = test_broker_new (TEST_BROKER_PASSWORD_FILE);
  GstElement *element = gst_element_factory_make ("labelpublish", NULL);
  gchar *uri = g_strdup_printf ("mqtt://127.0.0.1:%u", broker->secure_port);
  TestSubscriber *subscriber;
  GstHarness *h;

  test_broker_start (broker);
  subscriber = test_subscriber_new (broker->port, ALL_TOPICS);
  log_text = g_string_new (NULL);
  gst_debug_set_active (TRUE);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (collect_log, NULL, NULL);
  gst_debug_set_default_threshold (GST_LEVEL_LOG);
  g_object_set (element, "broker", uri, "stream-name", STREAM, "username", TEST_BROKER_USER,
      "password", TEST_BROKER_PASSWORD, NULL);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_harness_set_src_caps_str (h, "application/x-test");
  assert_three_delivered (h, subscriber);
  gst_harness_teardown (h);
  gst_debug_set_default_threshold (GST_LEVEL_NONE);
  gst_debug_remove_log_function (collect_log);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);

  fail_unless (strstr (log_text->str, "labelpublish") != NULL && log_text->len > 10000,
      "the log is too short to tell (%" G_GSIZE_FORMAT " bytes)", log_text->len);
  fail_unless (strstr (log_text->str, TEST_BROKER_PASSWORD) == NULL,
      "the password is in the debug log");
  g_string_free (log_text, TRUE);
  gst_object_unref (element);
  test_subscriber_free (subscriber);
  test_broker_free (broker);
  g_free (uri);
}
GST_END_TEST;

/* Bad values are refused with a warning and the old value stays. */
GST_START_TEST (test_bad_properties_refused)
{
  GstElement *element = gst_element_factory_make ("labelpublish", NULL);
  gchar *value = NULL;

  g_object_set (element, "broker", "http://example.org", NULL);
  g_object_set (element, "broker", "mqtt://user:secret@127.0.0.1:1883", NULL);
  g_object_set (element, "topic", "a/+/b", NULL);
  g_object_set (element, "topic", "", NULL);
  g_object_get (element, "broker", &value, NULL);
  fail_unless_equals_string (value, "mqtt://127.0.0.1:1883");
  g_free (value);
  g_object_get (element, "topic", &value, NULL);
  fail_unless_equals_string (value, "timesformer/v1/{stream}/clips");
  g_free (value);
  g_object_set (element, "broker", "mqtts://broker.local", "last-result-topic", "", NULL);
  g_object_get (element, "broker", &value, NULL);
  fail_unless_equals_string (value, "mqtts://broker.local");
  g_free (value);
  gst_object_unref (element);
}
GST_END_TEST;

/* What the connection is made from cannot change while running: refused, the old value stays. */
GST_START_TEST (test_settings_fixed_while_running)
{
  guint port = test_free_port ();
  GstHarness *h = publisher_new (port, "mqtt", "eos-timeout-ms=0");
  gchar *broker = NULL, *expected = g_strdup_printf ("mqtt://127.0.0.1:%u", port);
  guint eos_timeout_ms = 1;

  g_object_set (h->element, "broker", "mqtt://127.0.0.1:1", "eos-timeout-ms", 250, NULL);
  g_object_get (h->element, "broker", &broker, "eos-timeout-ms", &eos_timeout_ms, NULL);
  fail_unless_equals_string (broker, expected);
  fail_unless_equals_int (eos_timeout_ms, 250);     /* mutable while playing */
  bus_harness_teardown (h);
  g_free (expected);
  g_free (broker);
}
GST_END_TEST;

/* ---- Kafka: librdkafka's mock cluster (real TCP on loopback, in this process) ---- */

#define KAFKA_EVENTS_TOPIC "timesformer.v1." STREAM ".events"

typedef struct {
  rd_kafka_t *owner;                 /* the handle the mock cluster lives in */
  rd_kafka_mock_cluster_t *cluster;  /* one broker, id 1 */
} KafkaMock;

static KafkaMock
kafka_mock_new (void)
{
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  KafkaMock mock;
  gchar text[256];

  /* It has no bootstrap.servers of its own: no notice about that on stderr. */
  rd_kafka_conf_set (conf, "log_level", "4", text, sizeof text);
  mock.owner = rd_kafka_new (RD_KAFKA_PRODUCER, conf, text, sizeof text);
  fail_unless (mock.owner != NULL, "%s", text);
  mock.cluster = rd_kafka_mock_cluster_new (mock.owner, 1);
  fail_unless (mock.cluster != NULL);
  fail_unless_equals_int (rd_kafka_mock_topic_create (mock.cluster, KAFKA_EVENTS_TOPIC, 1, 1),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  return mock;
}

static void
kafka_mock_free (KafkaMock *mock)
{
  rd_kafka_mock_cluster_destroy (mock->cluster);
  rd_kafka_destroy (mock->owner);
}

/* The payloads on the events topic, read from the start until `count` came or 10 s passed. */
static GPtrArray *
kafka_read_events (KafkaMock *mock, guint count)
{
  GPtrArray *payloads = g_ptr_array_new_with_free_func (g_free);
  rd_kafka_conf_t *conf = rd_kafka_conf_new ();
  rd_kafka_topic_partition_list_t *partitions = rd_kafka_topic_partition_list_new (1);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  rd_kafka_t *consumer;
  gchar text[256];

  rd_kafka_conf_set (conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps (mock->cluster),
      text, sizeof text);
  rd_kafka_conf_set (conf, "group.id", "test", text, sizeof text);
  consumer = rd_kafka_new (RD_KAFKA_CONSUMER, conf, text, sizeof text);
  fail_unless (consumer != NULL, "%s", text);
  rd_kafka_topic_partition_list_add (partitions, KAFKA_EVENTS_TOPIC, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  fail_unless_equals_int (rd_kafka_assign (consumer, partitions), RD_KAFKA_RESP_ERR_NO_ERROR);
  while (payloads->len < count && g_get_monotonic_time () < deadline) {
    rd_kafka_message_t *message = rd_kafka_consumer_poll (consumer, 100);

    if (message != NULL && message->err == RD_KAFKA_RESP_ERR_NO_ERROR)
      g_ptr_array_add (payloads, g_strndup (message->payload, message->len));
    if (message != NULL)
      rd_kafka_message_destroy (message);
  }
  rd_kafka_topic_partition_list_destroy (partitions);
  rd_kafka_consumer_close (consumer);
  rd_kafka_destroy (consumer);
  return payloads;
}

/* broker=kafka://: every event arrives once, in order; with the broker down for a second
 * mid-stream (`__i__` 1) too. */
GST_START_TEST (test_kafka_events)
{
  gboolean broker_down = __i__ == 1;
  KafkaMock mock = kafka_mock_new ();
  gchar *launch = g_strdup_printf ("labelpublish broker=kafka://%s stream-name=" STREAM,
      rd_kafka_mock_cluster_bootstraps (mock.cluster));
  GstHarness *h = bus_harness_new (launch);
  GPtrArray *payloads;
  guint i;

  push_events (h, 0, 10);
  if (broker_down) {
    rd_kafka_mock_broker_set_down (mock.cluster, 1);
    push_events (h, 10, 10);
    g_usleep (G_USEC_PER_SEC);
    rd_kafka_mock_broker_set_up (mock.cluster, 1);
  }
  push_events (h, 20, 10);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (bus_harness_pop (h, GST_MESSAGE_ERROR, 0) == NULL);
  payloads = kafka_read_events (&mock, broker_down ? 30 : 20);
  fail_unless_equals_int (payloads->len, broker_down ? 30 : 20);
  for (i = 0; i < payloads->len; i++) {
    guint index = i < 10 || broker_down ? i : i + 10;
    gchar *expected = test_event_json (index);

    fail_unless_equals_string (g_ptr_array_index (payloads, i), expected);
    g_free (expected);
  }
  fail_unless_equals_uint64 (dropped (h), 0);
  g_ptr_array_unref (payloads);
  bus_harness_teardown (h);
  kafka_mock_free (&mock);
  g_free (launch);
}
GST_END_TEST;

/* Files that cannot be used, and credentials for Kafka (which takes none), are an element error
 * at start: the state change fails. */
GST_START_TEST (test_bad_files_refused_at_start)
{
  const gchar *settings[] = { "username=camera password-file=/nonexistent/password",
    "broker=mqtts://127.0.0.1:1 ca-file=/nonexistent/ca.crt",
    "broker=kafka://127.0.0.1:1 username=camera" };
  gchar *launch = g_strdup_printf ("labelpublish %s", settings[__i__]);
  GstElement *element = gst_parse_launch (launch, NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *error;

  gst_element_set_bus (element, bus);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  error = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (error != NULL);
  gst_message_unref (error);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (element);
  g_free (launch);
}
GST_END_TEST;

static Suite *
labelpublish_suite (void)
{
  Suite *s = suite_create ("labelpublish");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_bad_properties_refused);
  tcase_add_loop_test (tc, test_bad_files_refused_at_start, 0, 3);
  tcase_add_loop_test (tc, test_events_delivered, 0, 3);
  tcase_add_test (tc, test_settings_fixed_while_running);
  tcase_add_test (tc, test_broker_restart);
  tcase_add_test (tc, test_in_flight_resent);
  tcase_add_test (tc, test_queue_bound);
  tcase_add_test (tc, test_ready_ends_eos_wait);
  tcase_add_loop_test (tc, test_password, 0, 2);
  tcase_add_loop_test (tc, test_tls, 0, 2);
  tcase_add_loop_test (tc, test_tls_client_certificate, 0, 2);
  tcase_add_test (tc, test_pipeline_results);
  tcase_add_loop_test (tc, test_kafka_events, 0, 2);
  tcase_add_test (tc, test_last_will);
  tcase_add_test (tc, test_no_password_in_log);
  tcase_add_test (tc, test_password_property_not_logged);
  return s;
}

GST_CHECK_MAIN (labelpublish);
