/* gsttimesformer.c: classifies clips of a video stream with a TimeSformer model and attaches
 * the results to the buffers as GstClipLabelsMeta (see docs/element.md).
 *
 * The streaming thread samples and preprocesses frames (GstTsfSampler) and queues each complete
 * clip; a worker thread runs the model and queues the result, which is attached to the next
 * buffer that leaves the element (sync=true: to the buffer that completed the clip). */
#include "gsttimesformer.h"

#include <stdio.h>

#include "gstcliplabelsmeta.h"
#include "gsttsfproperty.h"
#include "gsttsfpreprocess.h"

GST_DEBUG_CATEGORY_STATIC (gst_timesformer_debug);
#define GST_CAT_DEFAULT gst_timesformer_debug

enum {
  PROP_0,
  PROP_MODEL,
  PROP_FRAME_STRIDE,
  PROP_NUM_FRAMES,
  PROP_CLIP_HOP,
  PROP_MAX_PENDING,
  PROP_SYNC,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_THREADS,
  PROP_NUM_HEADS,
  PROP_LABELS,
  PROP_ROI,
  PROP_MAX_CLIP_MB,
  PROP_MODEL_INFO,
  PROP_CLIPS_PROCESSED,
  PROP_INFERENCE_MS,
  PROP_DROPPED_CLIPS,
};

#define DEFAULT_MODEL (default_model ())
#define DEFAULT_FRAME_STRIDE 32
#define DEFAULT_NUM_FRAMES 0
#define DEFAULT_CLIP_HOP 0
#define DEFAULT_MAX_PENDING 1
#define DEFAULT_SYNC FALSE
#define DEFAULT_TOP_K 5
#define DEFAULT_THRESHOLD 0.0f
#define DEFAULT_THREADS 0
#define DEFAULT_NUM_HEADS 0
#define DEFAULT_LABELS NULL
#define DEFAULT_ROI ""
#define DEFAULT_MAX_CLIP_MB 0

#define MAX_FRAME_STRIDE 10000
#define MAX_NUM_FRAMES 1024
#define MAX_PENDING 64
#define MAX_TOP_K 1000
#define MAX_THREADS 1024
#define MAX_NUM_HEADS 1024

#define VIDEO_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, " \
  "I420, YV12, NV12, NV21, YUY2, UYVY, Y42B, Y444, GRAY8 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

/* The model that ships with the plugin (models/motion-shapes): the installed copy, or the
 * source tree's when the plugin runs uninstalled from its build folder. */
static const gchar *
default_model (void)
{
  if (g_file_test (TSF_SHIPPED_MODEL_DIR, G_FILE_TEST_IS_DIR))
    return TSF_SHIPPED_MODEL_DIR;
  return TSF_SHIPPED_MODEL_SOURCE_DIR;
}

#define gst_timesformer_parent_class parent_class
G_DEFINE_TYPE (GstTimesformer, gst_timesformer, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (timesformer, "timesformer", GST_RANK_NONE, GST_TYPE_TIMESFORMER);

/* ---- The worker ---- */

/* The worker's thread: every result goes to the bus as it is made. */
static void
post_result (const GstClipLabelsResult *result, gpointer user_data)
{
  GstTimesformer *self = user_data;

  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_clip_labels_result_to_structure (result)));
}

static void
get_stats (GstTimesformer *self, GstTsfWorkerStats *stats)
{
  GST_OBJECT_LOCK (self);
  if (self->worker != NULL)
    gst_tsf_worker_get_stats (self->worker, stats);
  else
    *stats = self->last_stats;
  GST_OBJECT_UNLOCK (self);
}

static void
post_drop_qos (GstTimesformer *self, const GstTsfClip *dropped_clip)
{
  GstTsfWorkerStats stats;
  GstMessage *message;

  get_stats (self, &stats);
  message = gst_message_new_qos (GST_OBJECT (self), TRUE, dropped_clip->first_running_time,
      GST_CLOCK_TIME_NONE, dropped_clip->first_pts, GST_CLOCK_DIFF (dropped_clip->first_pts,
          dropped_clip->last_pts));
  gst_message_set_qos_stats (message, GST_FORMAT_BUFFERS, stats.clips_processed,
      stats.dropped_clips);
  gst_element_post_message (GST_ELEMENT (self), message);
}

/* Hands a clip to the worker. Live: drops the oldest waiting clips beyond max-pending;
 * not live: waits for a free slot. */
static GstFlowReturn
queue_clip (GstTimesformer *self, GstTsfClip *clip)
{
  GstTsfClipRequest request = { self->next_clip_index++, 0 };
  GstClockTime first_pts = clip->first_pts, last_pts = clip->last_pts;
  GstTsfClip dropped_clip;
  GstFlowReturn ret;
  guint n_dropped;

  GST_OBJECT_LOCK (self);
  request.max_pending = self->max_pending;
  request.top_k = self->top_k;
  request.threshold = self->threshold;
  GST_OBJECT_UNLOCK (self);
  request.drop = self->live;

  ret = gst_tsf_worker_queue_clip (self->worker, clip, &request, &n_dropped, &dropped_clip);
  if (n_dropped > 0) {
    GST_INFO_OBJECT (self, "worker busy: dropped %u clips", n_dropped);
    post_drop_qos (self, &dropped_clip);
  }
  if (ret == GST_FLOW_OK)
    GST_LOG_OBJECT (self, "queued clip %" G_GUINT64_FORMAT " (%" GST_TIME_FORMAT " - %"
        GST_TIME_FORMAT ")", request.clip_index, GST_TIME_ARGS (first_pts),
        GST_TIME_ARGS (last_pts));
  return ret;
}

static void
attach_ready_results (GstTimesformer *self, GstBuffer *buffer)
{
  GList *results = gst_tsf_worker_take_results (self->worker), *l;

  for (l = results; l != NULL; l = l->next) {
    GST_DEBUG_OBJECT (self, "attaching a result to buffer %" GST_TIME_FORMAT,
        GST_TIME_ARGS (GST_BUFFER_PTS (buffer)));
    gst_buffer_add_clip_labels_meta_from_result (buffer, l->data);
  }
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
}

/* ---- GstBaseTransform ---- */

static gchar *
describe_model (const TsfModel *model)
{
  const TsfConfig *config = tsf_model_get_config (model);
  GstStructure *info = gst_structure_new ("model-info",
      "name", G_TYPE_STRING, tsf_model_get_name (model),
      "classes", G_TYPE_UINT, config->num_labels,
      "frames", G_TYPE_UINT, config->num_frames,
      "image-size", G_TYPE_UINT, config->image_size,
      "attention", G_TYPE_STRING, tsf_attention_type_to_string (config->attention_type),
      "parameters", G_TYPE_UINT64, tsf_model_get_parameter_count (model), NULL);
  gchar *text = gst_structure_to_string (info);

  gst_structure_free (info);
  return text;
}

/* Builds the model's primitives for the clip shape when the recipe fixes it (0x0: it depends
 * on the frames, and the first clip builds them); with sync=true, also times one inference
 * (of an image_size square when the shape is not known yet) to report as latency. */
static gboolean
prepare_model (GstTimesformer *self, guint num_frames, guint width, guint height,
    gboolean sync, GError **error)
{
  const TsfConfig *config = tsf_model_get_config (self->model);
  TsfClipShape shape = { num_frames > 0 ? num_frames : config->num_frames, 3, height, width };

  if (width == 0 || height == 0) {
    if (!sync)
      return TRUE;
    shape.height = shape.width = config->image_size;
  }
  /* the engine checks the shape's memory against max-clip-mb before it allocates; the clip
   * is smaller than the plan's buffers */
  if (!tsf_model_prepare (self->model, &shape, error))
    return FALSE;
  if (sync) {
    gfloat *clip = g_new0 (gfloat, (gsize) shape.frames * 3 * shape.height * shape.width);
    gfloat *logits = g_new (gfloat, config->num_labels);
    gint64 start_us = g_get_monotonic_time ();
    gboolean ok = tsf_model_run (self->model, clip, &shape, logits, error);

    self->sync_latency = (g_get_monotonic_time () - start_us) * GST_USECOND;
    g_free (clip);
    g_free (logits);
    return ok;
  }
  return TRUE;
}

/* Opens the model and checks that its preprocessing recipe can be honoured. */
static gboolean
open_model (GstTimesformer *self, const gchar *path, const TsfModelOptions *options,
    guint num_frames, gboolean sync)
{
  GError *error = NULL;
  guint width, height;

  self->model = tsf_model_open (path, options, &error);
  if (self->model != NULL && !gst_tsf_preprocess_check (tsf_model_get_config (self->model),
          &width, &height, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("The model '%s' cannot be used: %s", path,
            error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (self->model == NULL || !prepare_model (self, num_frames, width, height, sync, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load the model '%s': %s", path,
            error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_timesformer_start (GstBaseTransform *trans)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);
  TsfModelOptions options;
  gchar *path, *labels, *producer;
  GstTsfWorker *worker;
  guint num_frames;
  gboolean sync;

  tsf_model_options_init (&options);
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  labels = g_strdup (self->labels_file);
  options.threads = self->threads;
  options.num_heads = self->num_heads;
  options.max_clip_bytes = (guint64) self->max_clip_mb << 20;
  num_frames = self->num_frames;
  sync = self->sync;
  GST_OBJECT_UNLOCK (self);
  options.labels_file = labels;

  if (path == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model given."),
        ("Set the 'model' property to a TimeSformer model directory."));
    return FALSE;
  }
  if (!open_model (self, path, &options, num_frames, sync)) {
    g_clear_pointer (&self->model, tsf_model_free);
    g_free (path);
    g_free (labels);
    return FALSE;
  }
  g_free (path);
  g_free (labels);

  GST_OBJECT_LOCK (self);
  g_free (self->model_info);
  self->model_info = describe_model (self->model);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "loaded %s", self->model_info);

  self->next_clip_index = 0;
  self->live_known = FALSE;
  self->live = FALSE;
  self->sync_latency = sync ? self->sync_latency : GST_CLOCK_TIME_NONE;
  producer = gst_object_get_name (GST_OBJECT (self));
  worker = gst_tsf_worker_new (self->model, producer, post_result, self);
  g_free (producer);
  GST_OBJECT_LOCK (self);
  self->worker = worker;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_timesformer_stop (GstBaseTransform *trans)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);

  GstTsfWorker *worker;

  GST_OBJECT_LOCK (self);
  worker = g_steal_pointer (&self->worker);
  if (worker != NULL)
    gst_tsf_worker_get_stats (worker, &self->last_stats);
  GST_OBJECT_UNLOCK (self);
  gst_tsf_worker_free (worker);
  g_clear_pointer (&self->sampler, gst_tsf_sampler_free);
  g_clear_pointer (&self->model, tsf_model_free);
  return TRUE;
}

/* The ROI inside a frame of this size; an empty or outside ROI means the whole frame. */
static GstVideoRectangle
roi_in_frame (GstTimesformer *self, const GstVideoInfo *info)
{
  GstVideoRectangle roi, frame = { 0, 0, GST_VIDEO_INFO_WIDTH (info),
    GST_VIDEO_INFO_HEIGHT (info) };

  GST_OBJECT_LOCK (self);
  roi = self->roi;
  GST_OBJECT_UNLOCK (self);

  if (roi.x >= frame.w || roi.y >= frame.h) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("The region of interest is outside the "
            "%dx%d frame; classifying the whole frame.", frame.w, frame.h), (NULL));
    return frame;
  }
  /* compared as differences: x + w may pass G_MAXINT */
  if (roi.w == 0 || roi.w > frame.w - roi.x)
    roi.w = frame.w - roi.x;
  if (roi.h == 0 || roi.h > frame.h - roi.y)
    roi.h = frame.h - roi.y;
  return roi;
}

static gboolean
gst_timesformer_set_info (GstVideoFilter *filter, GstCaps *incaps, GstVideoInfo *in_info,
    GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstTimesformer *self = GST_TIMESFORMER (filter);
  GstVideoRectangle roi = roi_in_frame (self, in_info);
  GError *error = NULL;

  if (self->sampler == NULL) {
    guint stride, num_frames, hop;
    guint64 max_clip_bytes;

    GST_OBJECT_LOCK (self);
    stride = self->frame_stride;
    num_frames = self->num_frames;
    hop = self->clip_hop;
    max_clip_bytes = (guint64) self->max_clip_mb << 20;
    GST_OBJECT_UNLOCK (self);
    self->sampler = gst_tsf_sampler_new (tsf_model_get_config (self->model), stride,
        num_frames, hop);
    gst_tsf_sampler_set_max_window_bytes (self->sampler, max_clip_bytes ? max_clip_bytes
        : tsf_default_max_clip_bytes ());
  }
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT ", classifying %dx%d at %d,%d", incaps,
      roi.w, roi.h, roi.x, roi.y);
  if (!gst_tsf_sampler_set_info (self->sampler, in_info, &roi, &error)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s", error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  self->live_known = FALSE;
  return TRUE;
}

/* Drops are allowed only when upstream is live; asked once per caps. */
static void
query_liveness (GstTimesformer *self)
{
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  gst_query_unref (query);
  GST_DEBUG_OBJECT (self, "upstream is %s", live ? "live" : "not live");

  self->live = live;
  self->live_known = TRUE;
}

static GstFlowReturn
report_worker_error (GstTimesformer *self)
{
  gchar *message;

  message = gst_tsf_worker_dup_error (self->worker);
  if (message == NULL)
    return GST_FLOW_OK;
  GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Inference failed: %s", message), (NULL));
  g_free (message);
  return GST_FLOW_ERROR;
}

/* Samples the frame; queues the clip it completes, if any. */
static GstFlowReturn
sample_frame (GstTimesformer *self, GstBuffer *buffer, gboolean *completed)
{
  GstSegment *segment = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buffer));
  GError *error = NULL;
  GstTsfClip *clip = gst_tsf_sampler_push (self->sampler, buffer, running_time, &error);

  *completed = clip != NULL;
  if (error != NULL) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  return clip != NULL ? queue_clip (self, clip) : GST_FLOW_OK;
}

static GstFlowReturn
gst_timesformer_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);
  gboolean completed, sync;
  GstFlowReturn ret;

  if (self->sampler == NULL)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!self->live_known)
    query_liveness (self);
  ret = report_worker_error (self);
  if (ret != GST_FLOW_OK)
    return ret;

  ret = sample_frame (self, buffer, &completed);
  if (ret != GST_FLOW_OK)
    return ret;

  GST_OBJECT_LOCK (self);
  sync = self->sync;
  GST_OBJECT_UNLOCK (self);
  if (sync && completed && !gst_tsf_worker_drain (self->worker))
    return GST_FLOW_FLUSHING;

  attach_ready_results (self, buffer);
  return report_worker_error (self);
}

/* Delivers the results still pending at EOS as custom downstream events. */
static void
drain_at_eos (GstTimesformer *self)
{
  GList *results, *l;

  if (!gst_tsf_worker_drain (self->worker))
    return;
  results = gst_tsf_worker_take_results (self->worker);
  for (l = results; l != NULL; l = l->next) {
    GST_DEBUG_OBJECT (self, "sending a pending result downstream at EOS");
    gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self),
        gst_clip_labels_event_new (gst_clip_labels_result_to_structure (l->data)));
  }
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
}

/* From the streaming thread (flush events) or the application's (PAUSED to READY). */
static void
set_flushing (GstTimesformer *self, gboolean flushing)
{
  GST_OBJECT_LOCK (self);
  if (self->worker != NULL)
    gst_tsf_worker_set_flushing (self->worker, flushing);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_timesformer_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      set_flushing (self, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
      set_flushing (self, FALSE);
      if (self->sampler != NULL)
        gst_tsf_sampler_reset (self->sampler);
      break;
    case GST_EVENT_EOS:
      if (self->worker != NULL)
        drain_at_eos (self);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_timesformer_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);
  GstClockTime min, max;
  gboolean live, sync;

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query))
    return FALSE;
  if (direction != GST_PAD_SRC || GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return TRUE;

  GST_OBJECT_LOCK (self);
  sync = self->sync;
  GST_OBJECT_UNLOCK (self);
  if (sync && GST_CLOCK_TIME_IS_VALID (self->sync_latency)) {
    gst_query_parse_latency (query, &live, &min, &max);
    GST_DEBUG_OBJECT (self, "adding %" GST_TIME_FORMAT " of inference latency",
        GST_TIME_ARGS (self->sync_latency));
    min += self->sync_latency;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += self->sync_latency;
    gst_query_set_latency (query, live, min, max);
  }
  return TRUE;
}

static GstStateChangeReturn
gst_timesformer_change_state (GstElement *element, GstStateChange transition)
{
  GstTimesformer *self = GST_TIMESFORMER (element);

  /* Wake a streaming thread waiting for the worker before the pads deactivate. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    set_flushing (self, TRUE);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

/* ---- Properties ---- */

/* "x,y,width,height", each an integer from 0 to G_MAXINT (no sign, no overflow, nothing
 * after); "" is the whole frame. */
static gboolean
parse_roi (const gchar *text, GstVideoRectangle *roi)
{
  g_auto (GStrv) parts = NULL;
  guint64 values[4];

  if (text == NULL || *text == '\0') {
    *roi = (GstVideoRectangle) { 0, 0, 0, 0 };
    return TRUE;
  }
  parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != 4)
    return FALSE;
  for (guint i = 0; i < 4; i++) {
    if (!g_ascii_isdigit (parts[i][0])
        || !g_ascii_string_to_unsigned (parts[i], 10, 0, G_MAXINT, &values[i], NULL))
      return FALSE;
  }
  *roi = (GstVideoRectangle) { values[0], values[1], values[2], values[3] };
  return TRUE;
}

static void
set_roi (GstTimesformer *self, const gchar *text)
{
  GstVideoRectangle roi;

  if (!parse_roi (text, &roi)) {
    g_warning ("timesformer: invalid roi '%s': expected \"x,y,width,height\" with "
        "integers from 0 to %d (width or height 0: to the frame's edge); keeping the old value",
        text, G_MAXINT);
    return;
  }
  GST_OBJECT_LOCK (self);
  self->roi = roi;
  GST_OBJECT_UNLOCK (self);
}

static gchar *
roi_to_string (GstTimesformer *self)
{
  GstVideoRectangle roi;

  GST_OBJECT_LOCK (self);
  roi = self->roi;
  GST_OBJECT_UNLOCK (self);
  if (roi.x == 0 && roi.y == 0 && roi.w == 0 && roi.h == 0)
    return g_strdup ("");
  return g_strdup_printf ("%d,%d,%d,%d", roi.x, roi.y, roi.w, roi.h);
}

static void
gst_timesformer_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstTimesformer *self = GST_TIMESFORMER (object);

  if (!gst_tsf_property_can_change (GST_ELEMENT (self), pspec, GST_CAT_DEFAULT))
    return;
  if (prop_id == PROP_ROI) {
    set_roi (self, g_value_get_string (value));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_FRAME_STRIDE:
      self->frame_stride = g_value_get_uint (value);
      break;
    case PROP_NUM_FRAMES:
      self->num_frames = g_value_get_uint (value);
      break;
    case PROP_CLIP_HOP:
      self->clip_hop = g_value_get_uint (value);
      break;
    case PROP_MAX_PENDING:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_SYNC:
      self->sync = g_value_get_boolean (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_float (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_NUM_HEADS:
      self->num_heads = g_value_get_uint (value);
      break;
    case PROP_LABELS:
      g_free (self->labels_file);
      self->labels_file = g_value_dup_string (value);
      break;
    case PROP_MAX_CLIP_MB:
      self->max_clip_mb = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
get_statistic (GstTimesformer *self, guint prop_id, GValue *value)
{
  GstTsfWorkerStats stats;

  get_stats (self, &stats);
  if (prop_id == PROP_CLIPS_PROCESSED)
    g_value_set_uint64 (value, stats.clips_processed);
  else if (prop_id == PROP_DROPPED_CLIPS)
    g_value_set_uint64 (value, stats.dropped_clips);
  else
    g_value_set_double (value, stats.clips_processed > 0
        ? stats.inference_ms_total / stats.clips_processed : 0.0);
}

static void
gst_timesformer_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstTimesformer *self = GST_TIMESFORMER (object);

  switch (prop_id) {
    case PROP_ROI:
      g_value_take_string (value, roi_to_string (self));
      return;
    case PROP_CLIPS_PROCESSED:
    case PROP_DROPPED_CLIPS:
    case PROP_INFERENCE_MS:
      get_statistic (self, prop_id, value);
      return;
    default:
      break;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_FRAME_STRIDE:
      g_value_set_uint (value, self->frame_stride);
      break;
    case PROP_NUM_FRAMES:
      g_value_set_uint (value, self->num_frames);
      break;
    case PROP_CLIP_HOP:
      g_value_set_uint (value, self->clip_hop);
      break;
    case PROP_MAX_PENDING:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_SYNC:
      g_value_set_boolean (value, self->sync);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_float (value, self->threshold);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_NUM_HEADS:
      g_value_set_uint (value, self->num_heads);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels_file);
      break;
    case PROP_MAX_CLIP_MB:
      g_value_set_uint (value, self->max_clip_mb);
      break;
    case PROP_MODEL_INFO:
      g_value_set_string (value, self->model_info);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_timesformer_finalize (GObject *object)
{
  GstTimesformer *self = GST_TIMESFORMER (object);

  g_free (self->model_path);
  g_free (self->labels_file);
  g_free (self->model_info);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define READY_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define PLAYING_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)
#define STATISTIC_FLAGS (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

static void
install_sampling_properties (GObjectClass *gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_FRAME_STRIDE,
      g_param_spec_uint ("frame-stride", "Frame stride",
          "Sample every N-th input frame (the paper's sampling rate: 8x32 is num-frames=8, "
          "frame-stride=32)", 1, MAX_FRAME_STRIDE, DEFAULT_FRAME_STRIDE, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_NUM_FRAMES,
      g_param_spec_uint ("num-frames", "Frames per clip",
          "Sampled frames per clip (0 = the model's num_frames)", 0, MAX_NUM_FRAMES,
          DEFAULT_NUM_FRAMES, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_CLIP_HOP, g_param_spec_uint ("clip-hop",
          "Clip hop", "A new clip starts every N sampled frames (0 = num-frames: clips do not "
          "overlap; smaller values give a sliding window)", 0, G_MAXINT, DEFAULT_CLIP_HOP,
          READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_MAX_PENDING,
      g_param_spec_uint ("max-pending", "Maximum pending clips",
          "Clips that may wait while the model is busy; in a live pipeline the oldest waiting "
          "clip is dropped beyond this, otherwise the stream waits", 1, MAX_PENDING,
          DEFAULT_MAX_PENDING, PLAYING_FLAGS));
  g_object_class_install_property (gobject_class, PROP_SYNC, g_param_spec_boolean ("sync",
          "Synchronous", "Wait for each result and attach it to the buffer that completed "
          "the clip (deterministic; adds the inference time to the latency)", DEFAULT_SYNC,
          READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_ROI, g_param_spec_string ("roi",
          "Region of interest", "Part of the frame to classify, \"x,y,width,height\" in "
          "pixels (width or height 0: to the frame's edge; \"\": the whole frame)",
          DEFAULT_ROI, READY_FLAGS));
}

static void
install_model_properties (GObjectClass *gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_MODEL, g_param_spec_string ("model",
          "Model", "A TimeSformer model: a Hugging Face directory (config.json with "
          "model.safetensors or pytorch_model.bin, optional preprocessor_config.json) or an "
          "official .pyth checkpoint; default: the motion-shapes model shipped with the plugin",
          DEFAULT_MODEL, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_NUM_HEADS,
      g_param_spec_uint ("num-heads", "Attention heads", "Attention heads of a checkpoint "
          "without config.json (official .pyth); 0 = 12 for hidden size 768, else hidden "
          "size / 64. Must agree with config.json where there is one", 0, MAX_NUM_HEADS,
          DEFAULT_NUM_HEADS, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_LABELS, g_param_spec_string ("labels",
          "Labels file", "A text file with one class label per line, replacing the model's "
          "labels (for .pyth checkpoints, which carry none); unset = the model's labels",
          DEFAULT_LABELS, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_TOP_K, g_param_spec_uint ("top-k",
          "Top k", "Labels reported per clip, best first", 1, MAX_TOP_K, DEFAULT_TOP_K,
          PLAYING_FLAGS));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_float ("threshold", "Threshold",
          "Labels with a softmax score below this are not reported", 0.0f, 1.0f,
          DEFAULT_THRESHOLD, PLAYING_FLAGS));
  g_object_class_install_property (gobject_class, PROP_THREADS, g_param_spec_int ("threads",
          "Threads", "CPU threads for inference (0 = all cores)", 0, MAX_THREADS,
          DEFAULT_THREADS, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_MAX_CLIP_MB,
      g_param_spec_uint ("max-clip-mb", "Most memory per clip", "Most memory in MiB one clip "
          "shape may take (the window of frames; the engine's activations, attention scores "
          "and scratchpad); past it the state change or the first clip fails with an error "
          "naming the sizes. 0 = half of the physical memory", 0, G_MAXUINT,
          DEFAULT_MAX_CLIP_MB, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_MODEL_INFO,
      g_param_spec_string ("model-info", "Model information", "The loaded model: name, "
          "classes, frames, image size, attention, parameters (a GstStructure string)", NULL,
          STATISTIC_FLAGS));
  g_object_class_install_property (gobject_class, PROP_CLIPS_PROCESSED,
      g_param_spec_uint64 ("clips-processed", "Clips processed",
          "Clips classified since the element started", 0, G_MAXUINT64, 0, STATISTIC_FLAGS));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_MS,
      g_param_spec_double ("inference-ms", "Inference time", "Average time to classify a "
          "clip, in milliseconds", 0, G_MAXDOUBLE, 0, STATISTIC_FLAGS));
  g_object_class_install_property (gobject_class, PROP_DROPPED_CLIPS,
      g_param_spec_uint64 ("dropped-clips", "Dropped clips", "Clips dropped because the model "
          "could not keep up with a live source", 0, G_MAXUINT64, 0, STATISTIC_FLAGS));
}

static void
gst_timesformer_class_init (GstTimesformerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->set_property = gst_timesformer_set_property;
  gobject_class->get_property = gst_timesformer_get_property;
  gobject_class->finalize = gst_timesformer_finalize;
  install_sampling_properties (gobject_class);
  install_model_properties (gobject_class);

  gst_element_class_set_static_metadata (element_class, "TimeSformer video classifier",
      "Filter/Analyzer/Video", "Classifies clips of the video with a TimeSformer model and "
      "attaches the top labels to the buffers (GstClipLabelsMeta) and the bus",
      "gst-timesformer authors");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_timesformer_change_state);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_timesformer_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_timesformer_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_timesformer_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_timesformer_query);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_timesformer_transform_ip);
  trans_class->transform_ip_on_passthrough = FALSE;
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_timesformer_set_info);

  GST_DEBUG_CATEGORY_INIT (gst_timesformer_debug, "timesformer", 0,
      "TimeSformer video classifier");
}

static void
gst_timesformer_init (GstTimesformer *self)
{
  self->model_path = g_strdup (DEFAULT_MODEL);
  self->frame_stride = DEFAULT_FRAME_STRIDE;
  self->num_frames = DEFAULT_NUM_FRAMES;
  self->clip_hop = DEFAULT_CLIP_HOP;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->sync = DEFAULT_SYNC;
  self->top_k = DEFAULT_TOP_K;
  self->threshold = DEFAULT_THRESHOLD;
  self->threads = DEFAULT_THREADS;
  self->num_heads = DEFAULT_NUM_HEADS;
  self->labels_file = g_strdup (DEFAULT_LABELS);
  self->max_clip_mb = DEFAULT_MAX_CLIP_MB;
  self->sync_latency = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
  /* A classifier must see every frame and pass it on: late frames are not dropped here. */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
