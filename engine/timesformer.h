/* timesformer.h: the public API of the TimeSformer inference engine.
 *
 * Plain C, GLib and oneDNN; no GStreamer. Two objects, as in whisper.cpp's model and state:
 *
 * - TsfModel: the config, the labels and the prepared weights (reordered once, at load, into
 *   the layouts oneDNN's matmuls prefer). Read-only once tsf_model_open() returns.
 * - TsfSession: one caller's run state on a model: per-shape plans (oneDNN primitives),
 *   activation buffers, a user-managed scratchpad, its own oneDNN stream and thread count.
 *
 * Threads:
 * - One TsfModel may be shared by any number of threads, each with its own TsfSession:
 *   tsf_session_new(), tsf_session_prepare(), tsf_session_run() and every const accessor of
 *   the model (tsf_model_get_*, tsf_model_top_k) may run concurrently on one model. The model
 *   must outlive its sessions; free it once no thread uses it.
 * - A TsfSession is used by one thread at a time (calls on one session must not overlap).
 * - A session's thread count (TsfSessionOptions.threads) is applied to the calling thread on
 *   every call (Debian's oneDNN runs on OpenMP: each calling thread has its own team), so two
 *   sessions of 1 thread each use 1 core each.
 * - Convenience: tsf_model_prepare(), tsf_model_run(), tsf_model_set_threads() and
 *   tsf_model_get_buffer_bytes() use a default session the model makes on first use. They
 *   write to the model: one thread at a time per model, and not while other threads use it
 *   (use explicit sessions to share a model).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSF_ERROR (tsf_error_quark ())
GQuark tsf_error_quark (void);

typedef enum {
  TSF_ERROR_IO,          /* a file is missing or cannot be read */
  TSF_ERROR_CONFIG,      /* config.json / preprocessor_config.json is invalid */
  TSF_ERROR_FORMAT,      /* a weights file is malformed (header, offsets, container) */
  TSF_ERROR_TENSOR,      /* a tensor is missing, extra, or of the wrong shape or dtype */
  TSF_ERROR_INPUT,       /* a clip passed to tsf_session_run() / tsf_model_run() is invalid */
  TSF_ERROR_BACKEND,     /* oneDNN failed */
  TSF_ERROR_UNSUPPORTED, /* valid, but not supported by this engine */
  TSF_ERROR_MEMORY,      /* a clip shape needs more memory than its bound (max_clip_bytes)
                          * allows, random weights more than half of the physical memory,
                          * or the memory cannot be allocated */
  TSF_ERROR_NON_FINITE,  /* a run gave logits that are NaN or infinite (non-finite weights,
                          * or values that overflow): this clip has no result */
} TsfError;

/* Most threads a session or a load may use (0 means all cores). */
#define TSF_MAX_THREADS 1024

/* Most clips one tsf_session_run_batch() runs at once. */
#define TSF_MAX_BATCH 64

/* The default bound on the memory of one clip shape (activations, attention scores and
 * scratchpad of a session's plan): half of the physical memory. */
guint64 tsf_default_max_clip_bytes (void);

typedef enum {
  TSF_ATTENTION_DIVIDED_SPACE_TIME,
  TSF_ATTENTION_JOINT_SPACE_TIME,
  TSF_ATTENTION_SPACE_ONLY,
  TSF_ATTENTION_SPARSE_LOCAL_GLOBAL,  /* the paper's L+G (docs/seed-models.md) */
  TSF_ATTENTION_AXIAL,                /* the paper's T+W+H (docs/seed-models.md) */
  TSF_ATTENTION_TIMESFORMER_PYTORCH,  /* lucidrains' TimeSformer-pytorch (its own folder) */
} TsfAttentionType;

/* Where a model's sampling comes from. */
typedef enum {
  TSF_SAMPLING_DEFAULT,      /* the model states none: the paper's 8x32 at 30 fps */
  TSF_SAMPLING_STATED,       /* config.json "sampling" */
} TsfSamplingOrigin;

/* How the model's clips were sampled in training: config.json
 *   "sampling": {"frame_stride": S, "fps": F}   one frame every S frames of an F fps video
 *                                               (fps optional, 30 by default), or
 *   "sampling": {"clip_duration": D}            the num_frames frames spread over D seconds.
 * See docs/model-format.md. The other fields are meaningful only when origin is STATED. */
typedef struct {
  TsfSamplingOrigin origin;
  guint frame_stride;        /* 0 when stated as a clip duration */
  gdouble fps;               /* the frame rate frame_stride refers to */
  gdouble clip_duration;     /* seconds; 0 when stated as a frame stride */
} TsfSampling;

/* The order of the colour channels the model takes. */
typedef enum {
  TSF_CHANNEL_ORDER_RGB,
  TSF_CHANNEL_ORDER_BGR,     /* trained on BGR frames (the official SSv2 configs) */
} TsfChannelOrder;

/* Hyper-parameters (config.json) and preprocessing (preprocessor_config.json). */
typedef struct {
  guint image_size;
  guint patch_size;
  guint num_channels;
  guint num_frames;
  guint hidden_size;
  guint num_hidden_layers;
  guint num_attention_heads;
  guint intermediate_size;
  gdouble layer_norm_eps;
  gboolean qkv_bias;
  TsfAttentionType attention_type;
  guint attention_size;      /* heads x head size; 0 = hidden_size (every Hugging Face model;
                              * lucidrains' heads x dim_head may differ) */
  gboolean rotary_emb;       /* lucidrains: rotary positions (else a learned pos_emb table) */
  gboolean shift_tokens;     /* lucidrains: token shift after each layer norm */
  guint num_labels;
  gchar **labels;            /* num_labels strings, from id2label; "LABEL_<i>" where absent */
  /* Preprocessing recipe; defaults when the model has no preprocessor_config.json:
   * ImageNet mean/std (0.45, 0.45, 0.45) / (0.225, 0.225, 0.225), shortest edge = image_size,
   * crop = image_size x image_size, rescale 1/255.
   * A step the preprocessor config turns off reads as identity: do_normalize false gives mean 0
   * and std 1, do_rescale false gives 1.0, do_resize false gives 0 for every resize field,
   * do_center_crop false gives crop 0 x 0. */
  gfloat image_mean[3];
  gfloat image_std[3];
  guint resize_shortest_edge; /* 0 when resizing to resize_width x resize_height or not at all */
  guint resize_width;         /* size {height, width}: exact resize; otherwise 0 */
  guint resize_height;
  guint crop_width;
  guint crop_height;
  gdouble rescale_factor;
  TsfChannelOrder channel_order; /* preprocessor_config.json "channel_order": "rgb" (default),
                              * "bgr"; image_mean and image_std are in this order */
  TsfSampling sampling;      /* training sampling; the default when config.json states none */
} TsfConfig;

const gchar *tsf_attention_type_to_string (TsfAttentionType type);

/* Seconds from one sampled frame to the next in the model's training sampling:
 * frame_stride / fps, or clip_duration / num_frames. */
gdouble tsf_config_get_frame_interval (const TsfConfig *config);
/* The frame rate the model's frame_stride refers to (30 unless stated). */
gdouble tsf_config_get_sampling_fps (const TsfConfig *config);
/* The sampling in words ("frame-stride 3 at 30 fps, stated by the model"); free it. */
gchar *tsf_sampling_describe (const TsfConfig *config);

/* Reads a config.json file (transformers' TimesformerConfig; absent fields take its defaults)
 * and validates it; `config` is initialised (its previous content ignored) and, on failure,
 * left cleared. Free with tsf_config_clear(). */
gboolean tsf_config_load_file (TsfConfig *config, const gchar *path, GError **error);
void tsf_config_clear (TsfConfig *config);

/* The arithmetic of the linear layers (97% of the work). Layer norms, softmax, GELU, residual
 * adds, the attention products, the patch embedding and the classifier stay float32 in every
 * precision. Accuracy bounds: docs/engine.md, "Precision". */
typedef enum {
  TSF_PRECISION_F32,   /* float32 throughout: exact to the reference (the default) */
  TSF_PRECISION_BF16,  /* bfloat16 weights and inputs, float32 accumulation and output */
  TSF_PRECISION_INT8,  /* int8 weights (symmetric per output channel, quantised at load), uint8
                        * inputs (one scale and zero point per tensor, per run), int32
                        * accumulation, float32 output */
  TSF_PRECISION_AUTO,  /* resolved at load: the fastest of the three on this CPU, by a short
                        * matmul measurement (never the default) */
} TsfPrecision;

const gchar *tsf_precision_to_string (TsfPrecision precision);
/* "f32", "bf16", "int8" or "auto"; TSF_ERROR_UNSUPPORTED naming the value otherwise. */
gboolean tsf_precision_from_string (const gchar *name, TsfPrecision *precision,
    GError **error);

/* Zero-initialised (or tsf_model_options_init) means defaults. */
typedef struct {
  gint threads;              /* oneDNN threads of the load (weight reorders) and of the default
                              * session of tsf_model_run(); 0 = all cores, at most
                              * TSF_MAX_THREADS */
  guint num_heads;           /* attention heads of a checkpoint without config.json (official
                              * .pyth); 0 = 12 for hidden size 768, else hidden size / 64.
                              * With a config.json it must match or be 0. */
  const gchar *labels_file;  /* one label per line, replacing the model's labels; NULL = keep */
  TsfPrecision precision;    /* of the linear layers; 0 = TSF_PRECISION_F32 */
  guint64 max_clip_bytes;    /* the default session's bound on one clip shape's memory (see
                              * TsfSessionOptions); 0 = default */
} TsfModelOptions;

void tsf_model_options_init (TsfModelOptions *options);

/* One clip: frames x channels x height x width float32, C-contiguous, already normalised
 * (the layout of transformers' pixel_values without the batch dimension). */
typedef struct {
  guint frames;
  guint channels;
  guint height;
  guint width;
} TsfClipShape;

/* Fills `shape` from the dimensions of an array holding one clip; TSF_ERROR_INPUT unless it
 * has 4 non-zero dimensions (frames, channels, height, width). The model checks the values
 * against its config when it runs the clip. */
gboolean tsf_clip_shape_from_dims (TsfClipShape *shape, guint ndim, const gsize *dims,
    GError **error);

typedef struct _TsfModel TsfModel;

/* Opens a model: a Hugging Face TimesformerForVideoClassification directory (config.json,
 * model.safetensors or pytorch_model.bin, optional preprocessor_config.json), a lucidrains
 * TimeSformer-pytorch directory (model.pt + timesformer_pytorch.json), or a PyTorch
 * checkpoint file: an official TimeSformer .pyth (config inferred from its tensors, see
 * docs/checkpoints.md) or a pytorch_model.bin with a config.json next to it. */
TsfModel *tsf_model_open (const gchar *path, const TsfModelOptions *options, GError **error);

/* A model with random weights for the given config (benchmarks); weights of more than
 * tsf_default_max_clip_bytes() are refused with TSF_ERROR_MEMORY before they are allocated. */
TsfModel *tsf_model_new_random (const TsfConfig *config, guint64 seed,
    const TsfModelOptions *options, GError **error);

void tsf_model_free (TsfModel *model);

const TsfConfig *tsf_model_get_config (const TsfModel *model);
/* A short name: the directory's basename, or "random" for tsf_model_new_random(). */
const gchar *tsf_model_get_name (const TsfModel *model);
guint64 tsf_model_get_parameter_count (const TsfModel *model);
/* Bytes held by the prepared weights (shared by every session of the model). */
guint64 tsf_model_get_weight_bytes (const TsfModel *model);
/* The precision the model runs in (TSF_PRECISION_AUTO resolved). */
TsfPrecision tsf_model_get_precision (const TsfModel *model);
/* NULL, or a sentence for the user when the precision asked for runs slower on this CPU than
 * float32 (bf16 without native bf16 matmuls), with the measured ratio. */
const gchar *tsf_model_get_precision_warning (const TsfModel *model);

/* --- sessions: one per calling thread --- */

typedef struct _TsfSession TsfSession;

/* Zero-initialised (or tsf_session_options_init) means defaults. */
typedef struct {
  gint threads;              /* OpenMP threads of this session's runs; 0 = all cores, at most
                              * TSF_MAX_THREADS */
  guint64 max_clip_bytes;    /* most bytes one clip shape's plan may take (activations,
                              * attention scores, scratchpad), computed before anything is
                              * allocated: past it prepare/run fail with TSF_ERROR_MEMORY
                              * naming the sizes; 0 = tsf_default_max_clip_bytes() */
} TsfSessionOptions;

void tsf_session_options_init (TsfSessionOptions *options);

/* A session on `model` (which must outlive it); options may be NULL. Allocates no activation
 * buffers until a shape is prepared. */
TsfSession *tsf_session_new (const TsfModel *model, const TsfSessionOptions *options,
    GError **error);
void tsf_session_free (TsfSession *session);
const TsfModel *tsf_session_get_model (const TsfSession *session);
/* The thread count in use (0 resolved to the number of cores). */
gint tsf_session_get_threads (const TsfSession *session);
/* Changes the thread count; the plans built so far are dropped (oneDNN partitions work for
 * the thread count a primitive was made with) and rebuilt on next use. */
gboolean tsf_session_set_threads (TsfSession *session, gint threads, GError **error);

/* Builds the oneDNN primitives and buffers for a clip shape ahead of the first run
 * (optional: run does it on first use of a shape). */
gboolean tsf_session_prepare (TsfSession *session, const TsfClipShape *shape, GError **error);

/* Runs one clip. logits receives config->num_labels floats. Allocates nothing once the shape
 * has been prepared. TSF_ERROR_INPUT when the clip's channels differ from the config's, it has
 * no frames, its height or width is not a non-zero multiple of the patch size, it holds a NaN
 * or an infinity, or the logits it gives are not finite (non-finite weights, or overflow). */
gboolean tsf_session_run (TsfSession *session, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error);

/* A clip with a frame mask: mask[t] 0 removes frame t as a key of the attention across frames
 * and of the cls token's attention (its own queries still run); NULL = every frame. Only
 * lucidrains' TimeSformer-pytorch models take a mask (TSF_ERROR_UNSUPPORTED otherwise); a
 * mask that removes every frame is TSF_ERROR_INPUT. */
gboolean tsf_session_run_masked (TsfSession *session, const gfloat *clip,
    const TsfClipShape *shape, const guint8 *mask, gfloat *logits, GError **error);

/* Runs `n_clips` clips of one shape in one pass (a batch, 1 to TSF_MAX_BATCH): the per-token
 * work (linear layers, norms) runs once over all of their tokens, which costs less per clip
 * than separate runs when a clip is small (docs/performance.md, "Batching"). clips[i] is clip
 * i; masks is NULL or n_clips masks as in tsf_session_run_masked() (each may be NULL); logits
 * receives n_clips x num_labels floats, clip i's at i x num_labels: the same, within float
 * rounding, as tsf_session_run_masked() on each clip (int8 quantises each clip's inputs on
 * their own). Each batch size is a plan of its own (built on first use, or by
 * tsf_session_prepare_batch()). Errors as tsf_session_run_masked(), naming the clip; a bad
 * clip fails the whole batch. */
gboolean tsf_session_run_batch (TsfSession *session, guint n_clips, const gfloat *const *clips,
    const TsfClipShape *shape, const guint8 *const *masks, gfloat *logits, GError **error);
/* tsf_session_prepare() for batches of `n_clips` clips. */
gboolean tsf_session_prepare_batch (TsfSession *session, const TsfClipShape *shape,
    guint n_clips, GError **error);

/* Bytes of this session's activation buffers and scratchpads (the shapes prepared so far). */
guint64 tsf_session_get_buffer_bytes (const TsfSession *session);

/* --- one-call convenience: the model's default session (see "Threads" above) --- */

/* Bytes of the default session's buffers (0 before its first prepare or run). */
guint64 tsf_model_get_buffer_bytes (const TsfModel *model);
/* The default session's thread count (applies to the next prepare or run). */
gboolean tsf_model_set_threads (TsfModel *model, gint threads, GError **error);
/* tsf_session_prepare() on the default session. */
gboolean tsf_model_prepare (TsfModel *model, const TsfClipShape *shape, GError **error);
/* tsf_session_run() on the default session. */
gboolean tsf_model_run (TsfModel *model, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error);

/* tsf_session_run_masked() on the default session. */
gboolean tsf_model_run_masked (TsfModel *model, const gfloat *clip, const TsfClipShape *shape,
    const guint8 *mask, gfloat *logits, GError **error);

/* Floating point operations of one clip of this shape (multiply-add = 2). */
gdouble tsf_model_get_flops (const TsfModel *model, const TsfClipShape *shape);

typedef struct {
  guint id;
  gfloat score;              /* softmax probability */
  const gchar *label;        /* owned by the model */
} TsfPrediction;

/* Softmax over logits, then the k best in descending score. Returns how many were written
 * (min (k, num_labels)). */
guint tsf_model_top_k (const TsfModel *model, const gfloat *logits, guint k, TsfPrediction *out);

G_END_DECLS
