/* gsttimesformer.c: classifies clips of a video stream with a TimeSformer model and attaches
 * the results to the buffers as GstClipLabelsMeta (see docs/element.md).
 *
 * The streaming thread samples and preprocesses frames (GstTsfSampler) and queues each complete
 * clip in the element's stream of the model's scheduler (GstTsfScheduler, shared by the
 * elements that name the same model); an inference thread runs the model and queues the result,
 * which is attached to the next buffer that leaves the element (sync=true: to the buffer that
 * completed the clip). */
#include "gsttimesformer.h"

#include <stdio.h>

#include "gstcamsrc.h"
#include "gstcliplabelsmeta.h"
#include "gsttsfproperty.h"
#include "gsttsfpreprocess.h"

GST_DEBUG_CATEGORY_STATIC (gst_timesformer_debug);
#define GST_CAT_DEFAULT gst_timesformer_debug

enum {
  PROP_0,
  PROP_MODEL,
  PROP_SAMPLING,
  PROP_FRAME_STRIDE,
  PROP_NUM_FRAMES,
  PROP_CLIP_HOP,
  PROP_PAD_AT_EOS,
  PROP_MAX_PENDING,
  PROP_SYNC,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_THREADS,
  PROP_SESSIONS,
  PROP_MAX_BATCH,
  PROP_SHARED_MODEL,
  PROP_MODEL_USERS,
  PROP_NUM_HEADS,
  PROP_PRECISION,
  PROP_LABELS,
  PROP_ROI,
  PROP_FIT,
  PROP_CHANNEL_ORDER,
  PROP_MAX_CLIP_MB,
  PROP_MODEL_INFO,
  PROP_CLIPS_PROCESSED,
  PROP_INFERENCE_MS,
  PROP_DROPPED_CLIPS,
  PROP_SKIPPED_CLIPS,
  PROP_BATCHED_CLIPS,
};

#define DEFAULT_MODEL (default_model ())
#define DEFAULT_SAMPLING GST_TSF_SAMPLING_TIME
#define DEFAULT_FRAME_STRIDE 0
#define DEFAULT_NUM_FRAMES 0
#define DEFAULT_CLIP_HOP 0
#define DEFAULT_PAD_AT_EOS TRUE
#define DEFAULT_MAX_PENDING 1
#define DEFAULT_SYNC FALSE
#define DEFAULT_TOP_K 5
#define DEFAULT_THRESHOLD 0.0f
#define DEFAULT_THREADS 0
#define DEFAULT_SESSIONS 0
#define DEFAULT_MAX_BATCH 0
#define DEFAULT_SHARED_MODEL TRUE
#define DEFAULT_NUM_HEADS 0
#define DEFAULT_PRECISION TSF_PRECISION_F32
#define DEFAULT_LABELS NULL
#define DEFAULT_ROI ""
#define DEFAULT_MAX_CLIP_MB 0
#define DEFAULT_FIT GST_TSF_FIT_CROP
#define DEFAULT_CHANNEL_ORDER CHANNEL_ORDER_MODEL

/* channel-order: the model's (preprocessor_config.json), or forced. */
typedef enum {
  CHANNEL_ORDER_MODEL,
  CHANNEL_ORDER_RGB,
  CHANNEL_ORDER_BGR,
} ChannelOrder;

#define MAX_FRAME_STRIDE 10000
#define MAX_NUM_FRAMES 1024
#define MAX_PENDING 64
#define MAX_TOP_K 1000
#define MAX_THREADS 1024
#define MAX_SESSIONS 64
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

#define GST_TYPE_TSF_SAMPLING_MODE (gst_tsf_sampling_mode_get_type ())
static GType
gst_tsf_sampling_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_TSF_SAMPLING_TIME, "By the buffers' timestamps, at the model's rate", "time" },
    { GST_TSF_SAMPLING_FRAMES, "By counting frames (every frame-stride-th)", "frames" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstTimesformerSampling", values));
  return type;
}

#define GST_TYPE_TSF_FIT (gst_tsf_fit_get_type ())
static GType
gst_tsf_fit_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_TSF_FIT_CROP, "The model's recipe: resize, then its centre crop", "crop" },
    { GST_TSF_FIT_LETTERBOX, "The whole region scaled to fit the model's input, black bars "
          "around it", "letterbox" },
    { GST_TSF_FIT_STRETCH, "The whole region stretched to the model's input", "stretch" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstTimesformerFit", values));
  return type;
}

#define GST_TYPE_TSF_CHANNEL_ORDER (gst_tsf_channel_order_get_type ())
static GType
gst_tsf_channel_order_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { CHANNEL_ORDER_MODEL, "The model's (preprocessor_config.json channel_order, else RGB)",
        "model" },
    { CHANNEL_ORDER_RGB, "Red, green, blue", "rgb" },
    { CHANNEL_ORDER_BGR, "Blue, green, red (models trained on BGR frames)", "bgr" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstTimesformerChannelOrder", values));
  return type;
}

#define gst_timesformer_parent_class parent_class
G_DEFINE_TYPE (GstTimesformer, gst_timesformer, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (timesformer, "timesformer", GST_RANK_NONE, GST_TYPE_TIMESFORMER);

#define GST_TYPE_TSF_PRECISION (gst_tsf_precision_get_type ())
static GType
gst_tsf_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {TSF_PRECISION_F32, "float32 throughout: exact to the reference", "f32"},
    {TSF_PRECISION_BF16, "bfloat16 linear layers (float32 accumulation)", "bf16"},
    {TSF_PRECISION_INT8, "int8 linear layers (weights per channel, inputs per tensor)",
        "int8"},
    {TSF_PRECISION_AUTO, "the fastest of f32, bf16 and int8 on this CPU, measured at start",
        "auto"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType registered = g_enum_register_static ("GstTsfPrecision", values);
    g_once_init_leave (&type, registered);
  }
  return type;
}

/* ---- The stream in the scheduler ---- */

/* An inference thread: every result goes to the bus as it is made. */
static void
post_result (const GstClipLabelsResult *result, gpointer user_data)
{
  GstTimesformer *self = user_data;

  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_clip_labels_result_to_structure (result)));
}

static void
get_stats (GstTimesformer *self, GstTsfStreamStats *stats)
{
  GST_OBJECT_LOCK (self);
  if (self->stream != NULL)
    gst_tsf_stream_get_stats (self->stream, stats);
  else
    *stats = self->last_stats;
  GST_OBJECT_UNLOCK (self);
}

static void
post_drop_qos (GstTimesformer *self, const GstTsfClip *dropped_clip)
{
  GstTsfStreamStats stats;
  GstMessage *message;

  get_stats (self, &stats);
  message = gst_message_new_qos (GST_OBJECT (self), TRUE, dropped_clip->first_running_time,
      GST_CLOCK_TIME_NONE, dropped_clip->first_pts, GST_CLOCK_DIFF (dropped_clip->first_pts,
          dropped_clip->last_pts));
  gst_message_set_qos_stats (message, GST_FORMAT_BUFFERS, stats.clips_processed,
      stats.dropped_clips);
  gst_element_post_message (GST_ELEMENT (self), message);
}

/* Hands a clip to the scheduler. Live: drops the oldest waiting clips beyond max-pending;
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

  ret = gst_tsf_stream_queue_clip (self->stream, clip, &request, &n_dropped, &dropped_clip);
  if (n_dropped > 0) {
    GST_INFO_OBJECT (self, "model busy: dropped %u clips", n_dropped);
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
  GList *results = gst_tsf_stream_take_results (self->stream), *l;

  for (l = results; l != NULL; l = l->next) {
    GST_DEBUG_OBJECT (self, "attaching a result to buffer %" GST_TIME_FORMAT,
        GST_TIME_ARGS (GST_BUFFER_PTS (buffer)));
    gst_buffer_add_clip_labels_meta_from_result (buffer, l->data);
  }
  g_list_free_full (results, (GDestroyNotify) gst_clip_labels_result_free);
}

/* ---- GstBaseTransform ---- */

static GstStructure *
describe_model (GstTsfScheduler *scheduler)
{
  const TsfModel *model = gst_tsf_scheduler_get_model (scheduler);
  const TsfConfig *config = tsf_model_get_config (model);
  const gchar *precision_warning = tsf_model_get_precision_warning (model);
  guint sessions, threads_per_session;
  GstStructure *info;

  gst_tsf_scheduler_get_budget (scheduler, &sessions, &threads_per_session);
  info = gst_structure_new ("model-info",
      "name", G_TYPE_STRING, tsf_model_get_name (model),
      "classes", G_TYPE_UINT, config->num_labels,
      "frames", G_TYPE_UINT, config->num_frames,
      "image-size", G_TYPE_UINT, config->image_size,
      "attention", G_TYPE_STRING, tsf_attention_type_to_string (config->attention_type),
      "parameters", G_TYPE_UINT64, tsf_model_get_parameter_count (model),
      "precision", G_TYPE_STRING, tsf_precision_to_string (tsf_model_get_precision (model)),
      "shared", G_TYPE_BOOLEAN, gst_tsf_scheduler_is_shared (scheduler),
      "sessions", G_TYPE_UINT, sessions,
      "threads-per-session", G_TYPE_UINT, threads_per_session,
      "max-batch", G_TYPE_UINT, gst_tsf_scheduler_get_max_batch (scheduler), NULL);
  if (precision_warning != NULL)
    gst_structure_set (info, "precision-warning", G_TYPE_STRING, precision_warning, NULL);
  return info;
}

/* Elements using this element's model now (0 when stopped). Called with the object lock. */
static guint
model_users (GstTimesformer *self)
{
  return self->scheduler != NULL ? gst_tsf_scheduler_get_users (self->scheduler) : 0;
}

/* The model-info property: the model, its scheduler and its users now. Called with the object
 * lock held. */
static gchar *
model_info_to_string (GstTimesformer *self)
{
  GstStructure *info;
  gchar *text;

  if (self->model_info == NULL)
    return NULL;
  info = gst_structure_copy (self->model_info);
  gst_structure_set (info, "model-users", G_TYPE_UINT, model_users (self), NULL);
  text = gst_structure_to_string (info);
  gst_structure_free (info);
  return text;
}

/* Builds the sessions' primitives for the clip shape when the recipe fixes it (0x0: it depends
 * on the frames, and the first clip builds them); with sync=true, also times one inference
 * (of an image_size square when the shape is not known yet) to report as latency. */
static gboolean
prepare_model (GstTimesformer *self, guint num_frames, guint width, guint height,
    gboolean sync, GError **error)
{
  const TsfConfig *config = tsf_model_get_config (self->model);
  TsfClipShape shape = { num_frames > 0 ? num_frames : config->num_frames, 3, height, width };
  gboolean known = width > 0 && height > 0;

  if (!known)
    shape.height = shape.width = config->image_size;
  if (!known && !sync)
    return TRUE;
  return gst_tsf_scheduler_prepare (self->scheduler, &shape, known,
      sync ? &self->sync_latency : NULL, error);
}

/* Acquires the model's scheduler (loading the model unless an element shares it already) and
 * checks that its preprocessing recipe can be honoured. On failure, self->scheduler may be set
 * (release it). */
static gboolean
open_model (GstTimesformer *self, const GstTsfSchedulerOptions *options, guint num_frames,
    gboolean sync)
{
  GstTsfScheduler *scheduler;
  GError *error = NULL;
  guint width, height;
  GstTsfFit fit;

  GST_OBJECT_LOCK (self);
  fit = self->fit;
  GST_OBJECT_UNLOCK (self);
  scheduler = gst_tsf_scheduler_acquire (options, &error);
  if (scheduler == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load the model '%s': %s",
            options->model_path, error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->scheduler = scheduler;
  self->model = gst_tsf_scheduler_get_model (scheduler);
  GST_OBJECT_UNLOCK (self);
  if (tsf_model_get_precision_warning (self->model) != NULL)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s",
            tsf_model_get_precision_warning (self->model)), (NULL));
  if (!gst_tsf_preprocess_check (tsf_model_get_config (self->model), fit, &width, &height,
          &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("The model '%s' cannot be used: %s",
            options->model_path, error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (!prepare_model (self, num_frames, width, height, sync, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load the model '%s': %s",
            options->model_path, error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}

static void
release_scheduler (GstTimesformer *self)
{
  GstTsfScheduler *scheduler;

  GST_OBJECT_LOCK (self);
  scheduler = g_steal_pointer (&self->scheduler);
  self->model = NULL;
  GST_OBJECT_UNLOCK (self);
  gst_tsf_scheduler_release (scheduler);
}

/* The scheduler's options from the properties; the strings are copies (free them). */
static void
get_scheduler_options (GstTimesformer *self, GstTsfSchedulerOptions *options)
{
  GST_OBJECT_LOCK (self);
  options->model_path = g_strdup (self->model_path);
  options->labels_file = g_strdup (self->labels_file);
  options->num_heads = self->num_heads;
  options->precision = self->precision;
  options->threads = self->threads;
  options->sessions = self->sessions;
  options->max_batch = self->max_batch;
  options->shared = self->shared_model;
  options->max_clip_bytes = (guint64) self->max_clip_mb << 20;
  GST_OBJECT_UNLOCK (self);
}

static void
start_stream (GstTimesformer *self)
{
  gchar *producer = gst_object_get_name (GST_OBJECT (self));
  GstTsfStream *stream;

  stream = gst_tsf_scheduler_add_stream (self->scheduler, producer, post_result, self);
  g_free (producer);
  GST_OBJECT_LOCK (self);
  self->stream = stream;
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_timesformer_start (GstBaseTransform *trans)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);
  GstTsfSchedulerOptions options;
  guint num_frames;
  gboolean sync, opened;
  gchar *info;

  get_scheduler_options (self, &options);
  GST_OBJECT_LOCK (self);
  num_frames = self->num_frames;
  sync = self->sync;
  GST_OBJECT_UNLOCK (self);

  if (options.model_path == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model given."),
        ("Set the 'model' property to a TimeSformer model directory."));
    g_free ((gchar *) options.labels_file);
    return FALSE;
  }
  opened = open_model (self, &options, num_frames, sync);
  g_free ((gchar *) options.model_path);
  g_free ((gchar *) options.labels_file);
  if (!opened) {
    release_scheduler (self);
    return FALSE;
  }

  GST_OBJECT_LOCK (self);
  if (self->model_info != NULL)
    gst_structure_free (self->model_info);
  self->model_info = describe_model (self->scheduler);
  info = model_info_to_string (self);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "loaded %s", info);
  g_free (info);

  self->next_clip_index = 0;
  self->live_known = FALSE;
  self->live = FALSE;
  self->sync_latency = sync ? self->sync_latency : GST_CLOCK_TIME_NONE;
  start_stream (self);
  return TRUE;
}

/* Removes the stream (its clips end) and keeps its final statistics. */
static void
stop_stream (GstTimesformer *self)
{
  GstTsfStream *stream;

  if (self->stream == NULL)
    return;
  gst_tsf_stream_remove (self->stream);
  GST_OBJECT_LOCK (self);
  stream = g_steal_pointer (&self->stream);
  gst_tsf_stream_get_stats (stream, &self->last_stats);
  GST_OBJECT_UNLOCK (self);
  gst_tsf_stream_free (stream);
}

static gboolean
gst_timesformer_stop (GstBaseTransform *trans)
{
  GstTimesformer *self = GST_TIMESFORMER (trans);

  stop_stream (self);
  g_clear_pointer (&self->sampler, gst_tsf_sampler_free);
  release_scheduler (self);
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

/* The sampling of the model under the properties; logged. */
static GstTsfSampler *
new_sampler (GstTimesformer *self)
{
  const TsfConfig *config = tsf_model_get_config (self->model);
  GstTsfSamplingMode mode;
  GstTsfSampling sampling;
  GstTsfFrameOptions options;
  ChannelOrder order;
  guint stride, num_frames, hop;
  guint64 max_clip_bytes;
  GstTsfSampler *sampler;
  gchar *text;

  GST_OBJECT_LOCK (self);
  options.fit = self->fit;
  order = self->channel_order;
  mode = self->sampling;
  stride = self->frame_stride;
  num_frames = self->num_frames;
  hop = self->clip_hop;
  max_clip_bytes = (guint64) self->max_clip_mb << 20;
  GST_OBJECT_UNLOCK (self);
  gst_tsf_sampling_resolve (config, mode, stride, num_frames, hop, &sampling);
  text = gst_tsf_sampling_describe (&sampling, config, stride);
  GST_INFO_OBJECT (self, "sampling %s", text);
  g_free (text);
  options.bgr = order == CHANNEL_ORDER_BGR || (order == CHANNEL_ORDER_MODEL
      && config->channel_order == TSF_CHANNEL_ORDER_BGR);
  GST_INFO_OBJECT (self, "frames fitted by %s, channels %s", options.fit == GST_TSF_FIT_CROP
      ? "the model's crop" : options.fit == GST_TSF_FIT_LETTERBOX ? "letterbox" : "stretch",
      options.bgr ? "BGR" : "RGB");
  sampler = gst_tsf_sampler_new (config, &sampling, &options);
  gst_tsf_sampler_set_max_window_bytes (sampler, max_clip_bytes ? max_clip_bytes
      : tsf_default_max_clip_bytes ());
  return sampler;
}

static gboolean
gst_timesformer_set_info (GstVideoFilter *filter, GstCaps *incaps, GstVideoInfo *in_info,
    GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstTimesformer *self = GST_TIMESFORMER (filter);
  GstVideoRectangle roi = roi_in_frame (self, in_info);
  GError *error = NULL;

  if (self->sampler == NULL)
    self->sampler = new_sampler (self);
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

/* A warning for the clips skipped since the last one (their logits were not finite); the
 * stream goes on. */
static void
report_skipped_clips (GstTimesformer *self)
{
  guint n_skipped;
  gchar *reason = gst_tsf_stream_take_skipped (self->stream, &n_skipped);
  GstTsfStreamStats stats;

  if (reason == NULL)
    return;
  get_stats (self, &stats);
  GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Skipped %u clip%s without a result: %s", n_skipped,
          n_skipped == 1 ? "" : "s", reason), ("%" G_GUINT64_FORMAT " clips skipped since the "
          "start (skipped-clips)", stats.skipped_clips));
  g_free (reason);
}

static GstFlowReturn
report_inference_error (GstTimesformer *self)
{
  gchar *message;

  report_skipped_clips (self);
  message = gst_tsf_stream_dup_error (self->stream);
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
  GList *clips = gst_tsf_sampler_push (self->sampler, buffer, running_time, &error);
  GstFlowReturn ret = GST_FLOW_OK;

  *completed = clips != NULL;
  if (error != NULL) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  while (clips != NULL) {
    GstTsfClip *clip = clips->data;

    clips = g_list_delete_link (clips, clips);
    if (ret == GST_FLOW_OK)
      ret = queue_clip (self, clip);
    else
      gst_tsf_clip_free (clip);
  }
  return ret;
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
  ret = report_inference_error (self);
  if (ret != GST_FLOW_OK)
    return ret;

  ret = sample_frame (self, buffer, &completed);
  if (ret != GST_FLOW_OK)
    return ret;

  GST_OBJECT_LOCK (self);
  sync = self->sync;
  GST_OBJECT_UNLOCK (self);
  if (sync && completed && !gst_tsf_stream_drain (self->stream))
    return GST_FLOW_FLUSHING;

  attach_ready_results (self, buffer);
  return report_inference_error (self);
}

/* The clip cut short by EOS, its last frame repeated, if pad-at-eos. */
static void
queue_last_clip (GstTimesformer *self)
{
  GstTsfClip *clip;
  gboolean pad;

  GST_OBJECT_LOCK (self);
  pad = self->pad_at_eos;
  GST_OBJECT_UNLOCK (self);
  clip = pad && self->sampler != NULL ? gst_tsf_sampler_finish (self->sampler) : NULL;
  if (clip == NULL)
    return;
  GST_DEBUG_OBJECT (self, "EOS: classifying the last clip, %u of its %u frames sampled, the "
      "rest repeat its last", clip->real_frames, clip->shape.frames);
  queue_clip (self, clip);
}

/* Delivers the results still pending at EOS as custom downstream events. */
static void
drain_at_eos (GstTimesformer *self)
{
  GList *results, *l;

  if (!gst_tsf_stream_drain (self->stream))
    return;
  report_skipped_clips (self);
  results = gst_tsf_stream_take_results (self->stream);
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
  if (self->stream != NULL)
    gst_tsf_stream_set_flushing (self->stream, flushing);
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
      if (self->stream != NULL) {
        queue_last_clip (self);
        drain_at_eos (self);
      }
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      /* camsrc reconnected: no clip across the gap */
      if (gst_event_has_name (event, GST_CAM_SRC_RECONNECTED_EVENT) && self->sampler != NULL)
        gst_tsf_sampler_reset (self->sampler);
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

  /* Wake a streaming thread waiting for the model before the pads deactivate. */
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
    case PROP_SAMPLING:
      self->sampling = g_value_get_enum (value);
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
    case PROP_PAD_AT_EOS:
      self->pad_at_eos = g_value_get_boolean (value);
      break;
    case PROP_FIT:
      self->fit = g_value_get_enum (value);
      break;
    case PROP_CHANNEL_ORDER:
      self->channel_order = g_value_get_enum (value);
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
    case PROP_SESSIONS:
      self->sessions = g_value_get_uint (value);
      break;
    case PROP_MAX_BATCH:
      self->max_batch = g_value_get_uint (value);
      break;
    case PROP_SHARED_MODEL:
      self->shared_model = g_value_get_boolean (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
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
  GstTsfStreamStats stats;

  get_stats (self, &stats);
  if (prop_id == PROP_CLIPS_PROCESSED)
    g_value_set_uint64 (value, stats.clips_processed);
  else if (prop_id == PROP_DROPPED_CLIPS)
    g_value_set_uint64 (value, stats.dropped_clips);
  else if (prop_id == PROP_SKIPPED_CLIPS)
    g_value_set_uint64 (value, stats.skipped_clips);
  else if (prop_id == PROP_BATCHED_CLIPS)
    g_value_set_uint64 (value, stats.clips_batched);
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
    case PROP_SKIPPED_CLIPS:
    case PROP_BATCHED_CLIPS:
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
    case PROP_SAMPLING:
      g_value_set_enum (value, self->sampling);
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
    case PROP_PAD_AT_EOS:
      g_value_set_boolean (value, self->pad_at_eos);
      break;
    case PROP_FIT:
      g_value_set_enum (value, self->fit);
      break;
    case PROP_CHANNEL_ORDER:
      g_value_set_enum (value, self->channel_order);
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
    case PROP_SESSIONS:
      g_value_set_uint (value, self->sessions);
      break;
    case PROP_MAX_BATCH:
      g_value_set_uint (value, self->max_batch);
      break;
    case PROP_SHARED_MODEL:
      g_value_set_boolean (value, self->shared_model);
      break;
    case PROP_MODEL_USERS:
      g_value_set_uint (value, model_users (self));
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
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
      g_value_take_string (value, model_info_to_string (self));
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
  if (self->model_info != NULL)
    gst_structure_free (self->model_info);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define READY_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define PLAYING_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)
#define STATISTIC_FLAGS (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

static void
install_sampling_properties (GObjectClass *gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_SAMPLING,
      g_param_spec_enum ("sampling", "Sampling", "How frames are chosen: time = by their "
          "timestamps, one every frame interval of the model's training sampling (a clip "
          "spans the same time at any frame rate); frames = every frame-stride-th frame",
          GST_TYPE_TSF_SAMPLING_MODE, DEFAULT_SAMPLING, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_FRAME_STRIDE,
      g_param_spec_uint ("frame-stride", "Frame stride",
          "Frames from one sampled frame to the next (the paper's sampling rate: 8x32 is "
          "num-frames=8, frame-stride=32); with sampling=time, frames of the model's training "
          "frame rate (30 fps unless the model states one). 0 = the model's own sampling "
          "(config.json \"sampling\", else 8x32 at 30 fps)", 0, MAX_FRAME_STRIDE,
          DEFAULT_FRAME_STRIDE, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_NUM_FRAMES,
      g_param_spec_uint ("num-frames", "Frames per clip",
          "Sampled frames per clip (0 = the model's num_frames)", 0, MAX_NUM_FRAMES,
          DEFAULT_NUM_FRAMES, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_CLIP_HOP, g_param_spec_uint ("clip-hop",
          "Clip hop", "A new clip starts every N sampled frames (0 = num-frames: clips do not "
          "overlap; smaller values give a sliding window)", 0, G_MAXINT, DEFAULT_CLIP_HOP,
          READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_PAD_AT_EOS,
      g_param_spec_boolean ("pad-at-eos", "Pad the last clip at EOS", "At the end of the "
          "stream, classify a clip that has at least one sampled frame but is not complete, "
          "its last frame repeated (the result's real-frames says how many were sampled)",
          DEFAULT_PAD_AT_EOS, PLAYING_FLAGS));
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
  g_object_class_install_property (gobject_class, PROP_FIT, g_param_spec_enum ("fit",
          "Fit", "How the region of interest becomes the model's input: crop = the model's "
          "recipe (resize, centre crop: the sides of a wide frame are not seen); letterbox = "
          "all of it, scaled to fit the recipe's input size with black bars; stretch = all of "
          "it, stretched to that size", GST_TYPE_TSF_FIT, DEFAULT_FIT, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_CHANNEL_ORDER,
      g_param_spec_enum ("channel-order", "Channel order", "The colour order the model "
          "takes: model = its preprocessor_config.json \"channel_order\" (else rgb), or rgb "
          "or bgr", GST_TYPE_TSF_CHANNEL_ORDER, DEFAULT_CHANNEL_ORDER, READY_FLAGS));
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
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision", "Arithmetic of the model's linear layers: "
          "f32 is exact; bf16 and int8 are faster on CPUs with native support, within the "
          "accuracy bounds of docs/engine.md; auto picks the fastest here (a warning when bf16 "
          "is slower than f32 on this CPU)", GST_TYPE_TSF_PRECISION, DEFAULT_PRECISION,
          READY_FLAGS));
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
  g_object_class_install_property (gobject_class, PROP_MODEL_INFO,
      g_param_spec_string ("model-info", "Model information", "The loaded model: name, "
          "classes, frames, image size, attention, parameters, whether it is shared, its "
          "sessions and threads per session, and model-users (a GstStructure string)", NULL,
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
  g_object_class_install_property (gobject_class, PROP_SKIPPED_CLIPS,
      g_param_spec_uint64 ("skipped-clips", "Skipped clips", "Clips without a result because "
          "the model gave logits that are NaN or infinite (a warning each time)", 0,
          G_MAXUINT64, 0, STATISTIC_FLAGS));
  g_object_class_install_property (gobject_class, PROP_BATCHED_CLIPS,
      g_param_spec_uint64 ("batched-clips", "Batched clips", "Of the clips classified, those "
          "run in one engine run with clips of other streams (max-batch)", 0, G_MAXUINT64, 0,
          STATISTIC_FLAGS));
}

/* The model's scheduler: who shares it, and its CPU budget. */
static void
install_scheduler_properties (GObjectClass *gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_SHARED_MODEL,
      g_param_spec_boolean ("shared-model", "Shared model", "Share the loaded model and its "
          "inference threads with the other timesformer elements of the process that name the "
          "same model with the same labels, num-heads, threads, sessions, max-batch and "
          "max-clip-mb (false: a private copy)", DEFAULT_SHARED_MODEL, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_THREADS, g_param_spec_int ("threads",
          "Threads", "CPU threads for inference in all, split between the sessions; one "
          "budget for every element sharing the model (0 = all cores)", 0, MAX_THREADS,
          DEFAULT_THREADS, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_SESSIONS,
      g_param_spec_uint ("sessions", "Sessions", "Clips the model classifies at once, each "
          "with threads / sessions CPU threads; at most threads (0 = "
          G_STRINGIFY (GST_TSF_SCHEDULER_DEFAULT_SESSIONS) ")", 0, MAX_SESSIONS,
          DEFAULT_SESSIONS, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_MAX_BATCH,
      g_param_spec_uint ("max-batch", "Most clips per run", "Clips of several streams one "
          "session classifies in one engine run when they are ready at once; only for models "
          "whose clip is small (under " G_STRINGIFY (GST_TSF_SCHEDULER_BATCH_MAX_GFLOP)
          " GFLOP, where a batch costs less per clip), else 1 (0 = "
          G_STRINGIFY (GST_TSF_SCHEDULER_DEFAULT_MAX_BATCH) ", no batches; see docs/element.md)", 0,
          TSF_MAX_BATCH,
          DEFAULT_MAX_BATCH, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_MAX_CLIP_MB,
      g_param_spec_uint ("max-clip-mb", "Most memory per clip", "Most memory in MiB one clip "
          "shape may take (the window of frames; the engine's activations, attention scores "
          "and scratchpad); past it the state change or the first clip fails with an error "
          "naming the sizes. 0 = half of the physical memory", 0, G_MAXUINT,
          DEFAULT_MAX_CLIP_MB, READY_FLAGS));
  g_object_class_install_property (gobject_class, PROP_MODEL_USERS,
      g_param_spec_uint ("model-users", "Model users", "Elements using this element's "
          "loaded model now, this one included (0 when stopped)", 0, G_MAXUINT, 0,
          STATISTIC_FLAGS));
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
  install_scheduler_properties (gobject_class);

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
  self->sampling = DEFAULT_SAMPLING;
  self->frame_stride = DEFAULT_FRAME_STRIDE;
  self->num_frames = DEFAULT_NUM_FRAMES;
  self->clip_hop = DEFAULT_CLIP_HOP;
  self->pad_at_eos = DEFAULT_PAD_AT_EOS;
  self->fit = DEFAULT_FIT;
  self->channel_order = DEFAULT_CHANNEL_ORDER;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->sync = DEFAULT_SYNC;
  self->top_k = DEFAULT_TOP_K;
  self->threshold = DEFAULT_THRESHOLD;
  self->threads = DEFAULT_THREADS;
  self->sessions = DEFAULT_SESSIONS;
  self->max_batch = DEFAULT_MAX_BATCH;
  self->shared_model = DEFAULT_SHARED_MODEL;
  self->num_heads = DEFAULT_NUM_HEADS;
  self->precision = DEFAULT_PRECISION;
  self->labels_file = g_strdup (DEFAULT_LABELS);
  self->max_clip_mb = DEFAULT_MAX_CLIP_MB;
  self->sync_latency = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
  /* A classifier must see every frame and pass it on: late frames are not dropped here. */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
