/* gstlabellog.c: writes every clip result that passes as one JSON object per line.
 *
 * Passthrough: buffers and events go on untouched. A result (a GstClipLabelsMeta on a buffer, or
 * the clip-labels event sent at EOS) is written once, however many buffers carry it: a producer
 * (a timesformer element) makes its results in clip order, so a result whose clip index is not
 * above the last one written for its producer is a copy (a duplicated buffer, the other branch
 * of a tee). The state is the last clip index of at most MAX_PRODUCERS producers, until a flush
 * or stop. An action event of labelevents is written as a line of its own type
 * ("type": "clip-event"). Each line is flushed when written. */
#include "gstlabellog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "cliplabels/gstclipevent.h"
#include "cliplabels/gstcliplabelsmeta.h"
#include "gstcamsrc.h"
#include "gsttsfproperty.h"

GST_DEBUG_CATEGORY_STATIC (gst_label_log_debug);
#define GST_CAT_DEFAULT gst_label_log_debug

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_APPEND,
  PROP_STREAM_NAME,
  PROP_TRACKED_PRODUCERS,
};

#define DEFAULT_LOCATION NULL
#define DEFAULT_APPEND FALSE
#define DEFAULT_STREAM_NAME NULL

/* Producers whose last clip index is kept; beyond, the one written to longest ago is forgotten. */
#define MAX_PRODUCERS 64

/* Elements walked upstream at most when looking for the source's URI. */
#define MAX_UPSTREAM_HOPS 64

struct _GstLabelLog {
  GstBaseTransform parent;

  /* properties, guarded by the object lock */
  gchar *location;          /* file written, NULL or "-" for stdout */
  gboolean append;          /* append to the file instead of truncating it */
  gchar *stream_name;       /* name written with each result, NULL: the source's URI */

  /* streaming state */
  FILE *file;               /* open from start() to stop() */
  GArray *producers;        /* ProducerState, at most MAX_PRODUCERS (length read under the lock) */
  guint64 lines_written;    /* since start(), orders the producers by their last write */
  gchar *tag_location;      /* GST_TAG_LOCATION seen in a tag event, or NULL */
  gchar *source_uri;        /* URI of the upstream source, looked up at the first result */
  gboolean source_looked_up;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* The last result written for one producer. */
typedef struct {
  GQuark producer;
  guint64 last_clip_index;
  guint64 last_line;        /* lines_written when it was written */
} ProducerState;

G_DEFINE_TYPE (GstLabelLog, gst_label_log, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (labellog, "labellog", GST_RANK_NONE, GST_TYPE_LABEL_LOG);

/* ---- the stream's name ---- */

/* The URI or location of a source element (no sink pads), or NULL. */
static gchar *
source_element_uri (GstElement *element)
{
  gchar *uri = NULL;

  if (GST_IS_URI_HANDLER (element)
      && gst_uri_handler_get_uri_type (GST_URI_HANDLER (element)) == GST_URI_SRC)
    uri = gst_uri_handler_get_uri (GST_URI_HANDLER (element));
  if (uri == NULL && element->numsinkpads == 0) {
    const gchar *names[] = { "uri", "location" };
    guint i;

    for (i = 0; i < G_N_ELEMENTS (names) && uri == NULL; i++) {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), names[i]);

      if (pspec != NULL && pspec->value_type == G_TYPE_STRING
          && (pspec->flags & G_PARAM_READABLE))
        g_object_get (element, names[i], &uri, NULL);
    }
  }
  return uri;
}

static GstPad *
first_sink_pad (GstElement *element)
{
  GstPad *pad = NULL;

  GST_OBJECT_LOCK (element);
  if (element->sinkpads != NULL)
    pad = gst_object_ref (element->sinkpads->data);
  GST_OBJECT_UNLOCK (element);
  return pad;
}

/* The pad whose parent is the element upstream of `pad`, through bins: a bin's ghost src pad
 * leads to its target inside, the inside of a bin's ghost sink pad to the ghost pad outside.
 * A bin that is itself a source with a URI (camsrc, rtspsrc, uridecodebin) ends the walk: its
 * URI goes to `uri`, and the pad inside is not looked at. */
static GstPad *
upstream_element_pad (GstPad *pad, gchar **uri)
{
  GstPad *peer = gst_pad_get_peer (pad);

  while (peer != NULL && GST_IS_GHOST_PAD (peer)) {
    GstElement *bin = gst_pad_get_parent_element (peer);
    GstPad *target = NULL;

    if (bin != NULL) {
      *uri = source_element_uri (bin);
      gst_object_unref (bin);
    }
    if (*uri == NULL)
      target = gst_ghost_pad_get_target (GST_GHOST_PAD (peer));
    gst_object_unref (peer);
    peer = target;
  }
  return peer;
}

/* Walks upstream through the first sink pad of each element to the first source with a URI. */
static gchar *
find_upstream_uri (GstPad *sinkpad)
{
  GstPad *pad = gst_object_ref (sinkpad);
  gchar *uri = NULL;
  guint hop;

  for (hop = 0; hop < MAX_UPSTREAM_HOPS && pad != NULL && uri == NULL; hop++) {
    GstPad *peer = upstream_element_pad (pad, &uri);
    GstObject *parent = peer != NULL ? gst_object_get_parent (GST_OBJECT (peer)) : NULL;

    gst_object_unref (pad);
    pad = NULL;
    if (parent != NULL && GST_IS_GHOST_PAD (parent)) {
      pad = GST_PAD (gst_object_ref (parent));
    } else if (parent != NULL && GST_IS_ELEMENT (parent)) {
      uri = source_element_uri (GST_ELEMENT (parent));
      if (uri == NULL)
        pad = first_sink_pad (GST_ELEMENT (parent));
    }
    if (parent != NULL)
      gst_object_unref (parent);
    if (peer != NULL)
      gst_object_unref (peer);
  }
  if (pad != NULL)
    gst_object_unref (pad);
  return uri;
}

/* The stream-name property, else the source's URI, else the location tag, else NULL. */
static gchar *
gst_label_log_stream_name (GstLabelLog *self)
{
  gchar *name;

  GST_OBJECT_LOCK (self);
  name = g_strdup (self->stream_name);
  GST_OBJECT_UNLOCK (self);
  if (name != NULL)
    return name;
  if (!self->source_looked_up) {
    gchar *uri = find_upstream_uri (GST_BASE_TRANSFORM_SINK_PAD (self));

    /* never a password (rtspsrc's location may hold one) */
    self->source_uri = gst_cam_src_uri_without_password (uri);
    if (self->source_uri == NULL)
      self->source_uri = g_strdup (uri);
    g_free (uri);
    self->source_looked_up = TRUE;
    GST_DEBUG_OBJECT (self, "upstream source: %s", GST_STR_NULL (self->source_uri));
  }
  return g_strdup (self->source_uri != NULL ? self->source_uri : self->tag_location);
}

/* ---- logging ---- */

static ProducerState *
find_producer (GstLabelLog *self, GQuark producer)
{
  guint i;

  for (i = 0; i < self->producers->len; i++) {
    ProducerState *state = &g_array_index (self->producers, ProducerState, i);

    if (state->producer == producer)
      return state;
  }
  return NULL;
}

/* FALSE for a copy of a result written already: not above its producer's last clip index. */
static gboolean
result_is_new (GstLabelLog *self, const GstClipLabelsResult *result)
{
  ProducerState *state = find_producer (self, result->producer);

  return state == NULL || result->clip_index > state->last_clip_index;
}

/* The state of a producer not seen yet: a new entry, or the least recently written one. */
static ProducerState *
add_producer (GstLabelLog *self)
{
  ProducerState *oldest;
  guint i;

  if (self->producers->len < MAX_PRODUCERS) {
    GST_OBJECT_LOCK (self);
    g_array_set_size (self->producers, self->producers->len + 1);
    GST_OBJECT_UNLOCK (self);
    return &g_array_index (self->producers, ProducerState, self->producers->len - 1);
  }
  oldest = &g_array_index (self->producers, ProducerState, 0);
  for (i = 1; i < self->producers->len; i++) {
    ProducerState *state = &g_array_index (self->producers, ProducerState, i);

    if (state->last_line < oldest->last_line)
      oldest = state;
  }
  GST_DEBUG_OBJECT (self, "forgetting producer %s", g_quark_to_string (oldest->producer));
  return oldest;
}

static void
remember_result (GstLabelLog *self, const GstClipLabelsResult *result)
{
  ProducerState *state = find_producer (self, result->producer);

  if (state == NULL)
    state = add_producer (self);
  state->producer = result->producer;
  state->last_clip_index = result->clip_index;
  state->last_line = ++self->lines_written;
}

static void
forget_results (GstLabelLog *self)
{
  GST_OBJECT_LOCK (self);
  g_array_set_size (self->producers, 0);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
write_line (GstLabelLog *self, const gchar *line)
{
  return fputs (line, self->file) >= 0 && fputc ('\n', self->file) != EOF
      && fflush (self->file) == 0;
}

/* Writes the result unless it was written already; FALSE (error posted) if writing failed. */
static gboolean
gst_label_log_write (GstLabelLog *self, const GstClipLabelsResult *result)
{
  const gchar *producer = result->producer != 0 ? g_quark_to_string (result->producer) : "";
  gchar *stream, *line;
  gboolean written;

  if (!result_is_new (self, result)) {
    GST_LOG_OBJECT (self, "result %s/%" G_GUINT64_FORMAT " was logged already", producer,
        result->clip_index);
    return TRUE;
  }
  stream = gst_label_log_stream_name (self);
  line = gst_clip_labels_result_to_json (result, stream, g_get_real_time ());
  written = write_line (self, line);
  if (written) {
    GST_DEBUG_OBJECT (self, "logged result %s/%" G_GUINT64_FORMAT, producer,
        result->clip_index);
    remember_result (self, result);
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Could not write a result to the log."),
        ("writing result %s/%" G_GUINT64_FORMAT ": %s", producer, result->clip_index,
            g_strerror (errno)));
  }
  g_free (line);
  g_free (stream);
  return written;
}

/* An action event of labelevents: a line of its own type ("type": "clip-event"). */
static gboolean
gst_label_log_write_event (GstLabelLog *self, const GstClipEvent *event)
{
  gchar *stream = gst_label_log_stream_name (self);
  gchar *line = gst_clip_event_to_json (event, stream);
  gboolean written = write_line (self, line);

  if (!written)
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("Could not write an event to the log."),
        ("writing event %" G_GUINT64_FORMAT ": %s", event->event_id, g_strerror (errno)));
  g_free (line);
  g_free (stream);
  return written;
}

static GstFlowReturn
gst_label_log_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  GstLabelLog *self = GST_LABEL_LOG (trans);
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_CLIP_LABELS_META_API_TYPE)) != NULL) {
    GstClipLabelsResult result;

    gst_clip_labels_meta_get_result ((GstClipLabelsMeta *) meta, &result);
    if (!gst_label_log_write (self, &result))
      return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static void
gst_label_log_take_tags (GstLabelLog *self, GstEvent *event)
{
  GstTagList *tags = NULL;
  gchar *location = NULL;

  gst_event_parse_tag (event, &tags);
  if (gst_tag_list_get_string (tags, GST_TAG_LOCATION, &location)) {
    g_free (self->tag_location);
    self->tag_location = location;
  }
}

static gboolean
gst_label_log_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLabelLog *self = GST_LABEL_LOG (trans);
  g_autoptr (GstClipLabelsResult) result = gst_clip_labels_event_parse_result (event);
  GstClipEvent clip_event;

  if (result != NULL)
    GST_DEBUG_OBJECT (self, "result in a %s event", GST_EVENT_TYPE_NAME (event));
  if ((result != NULL && !gst_label_log_write (self, result))
      || (gst_clip_event_parse_gst_event (event, &clip_event)
          && !gst_label_log_write_event (self, &clip_event))) {
    gst_event_unref (event);
    return FALSE;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP)
    forget_results (self);
  else if (GST_EVENT_TYPE (event) == GST_EVENT_TAG)
    gst_label_log_take_tags (self, event);

  return GST_BASE_TRANSFORM_CLASS (gst_label_log_parent_class)->sink_event (trans, event);
}

/* Appending onto a last line that lacks its newline would glue the first record to it. */
static void
end_last_line (FILE *file)
{
  gint last;

  if (fseek (file, -1, SEEK_END) != 0)
    return;   /* empty, or not seekable */
  last = fgetc (file);
  fseek (file, 0, SEEK_END);   /* a read and a write on one stream need a seek between */
  if (last != EOF && last != '\n')
    fputc ('\n', file);
}

static gboolean
gst_label_log_start (GstBaseTransform *trans)
{
  GstLabelLog *self = GST_LABEL_LOG (trans);
  gchar *location;
  gboolean append;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  append = self->append;
  GST_OBJECT_UNLOCK (self);

  if (location == NULL || strcmp (location, "-") == 0) {
    self->file = stdout;
  } else {
    self->file = g_fopen (location, append ? "a+" : "w");
    if (self->file != NULL && append)
      end_last_line (self->file);
    if (self->file == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Could not open the log file \"%s\" for writing.", location),
          ("fopen: %s", g_strerror (errno)));
      g_free (location);
      return FALSE;
    }
  }
  GST_DEBUG_OBJECT (self, "logging to %s", location != NULL ? location : "stdout");
  g_free (location);
  return TRUE;
}

static gboolean
gst_label_log_stop (GstBaseTransform *trans)
{
  GstLabelLog *self = GST_LABEL_LOG (trans);

  if (self->file != NULL && self->file != stdout)
    fclose (self->file);
  self->file = NULL;
  forget_results (self);
  self->lines_written = 0;
  g_clear_pointer (&self->tag_location, g_free);
  g_clear_pointer (&self->source_uri, g_free);
  self->source_looked_up = FALSE;
  return TRUE;
}

/* ---- properties ---- */

static void
gst_label_log_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstLabelLog *self = GST_LABEL_LOG (object);

  if (!gst_tsf_property_can_change (GST_ELEMENT (self), pspec, GST_CAT_DEFAULT))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_APPEND:
      self->append = g_value_get_boolean (value);
      break;
    case PROP_STREAM_NAME:
      g_free (self->stream_name);
      self->stream_name = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_log_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstLabelLog *self = GST_LABEL_LOG (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_APPEND:
      g_value_set_boolean (value, self->append);
      break;
    case PROP_STREAM_NAME:
      g_value_set_string (value, self->stream_name);
      break;
    case PROP_TRACKED_PRODUCERS:
      g_value_set_uint (value, self->producers->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_label_log_finalize (GObject *object)
{
  GstLabelLog *self = GST_LABEL_LOG (object);

  g_free (self->location);
  g_free (self->stream_name);
  g_free (self->tag_location);
  g_free (self->source_uri);
  g_array_unref (self->producers);
  G_OBJECT_CLASS (gst_label_log_parent_class)->finalize (object);
}

static void
gst_label_log_class_init (GstLabelLogClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_label_log_debug, "labellog", 0,
      "Writes clip classification results as JSON Lines");

  gobject_class->set_property = gst_label_log_set_property;
  gobject_class->get_property = gst_label_log_get_property;
  gobject_class->finalize = gst_label_log_finalize;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "File the results are written to, one JSON object per line (unset or \"-\": stdout)",
          DEFAULT_LOCATION,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_APPEND,
      g_param_spec_boolean ("append", "Append",
          "Append to the file instead of replacing it", DEFAULT_APPEND,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STREAM_NAME,
      g_param_spec_string ("stream-name", "Stream name",
          "Name written with each result (unset: the URI of the upstream source when known)",
          DEFAULT_STREAM_NAME,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_TRACKED_PRODUCERS,
      g_param_spec_uint ("tracked-producers", "Tracked producers",
          "Producers whose last logged clip index is kept to write each result once (all the "
          "state labellog keeps, at most " G_STRINGIFY (MAX_PRODUCERS) ")", 0, MAX_PRODUCERS, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Clip label log", "Filter/Analyzer",
      "Writes each clip classification result once, as a line of JSON (JSON Lines)",
      "gst-timesformer");

  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_label_log_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_label_log_sink_event);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_label_log_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_label_log_stop);
}

static void
gst_label_log_init (GstLabelLog *self)
{
  self->append = DEFAULT_APPEND;
  self->producers = g_array_sized_new (FALSE, TRUE, sizeof (ProducerState), MAX_PRODUCERS);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
