/* timesformer.h: the public API of the TimeSformer inference engine.
 *
 * Plain C, GLib and oneDNN; no GStreamer. A TsfModel holds the config, the weights and the
 * oneDNN run state of one model.
 *
 * Threads: a TsfModel may be used by one thread at a time (calls on one instance must not
 * overlap); different instances are independent and may run concurrently. oneDNN work inside
 * tsf_model_run() uses the model's own thread count (see TsfModelOptions.threads).
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
  TSF_ERROR_INPUT,       /* a clip passed to tsf_model_run() is invalid */
  TSF_ERROR_BACKEND,     /* oneDNN failed */
  TSF_ERROR_UNSUPPORTED, /* valid, but not supported by this engine */
} TsfError;

typedef enum {
  TSF_ATTENTION_DIVIDED_SPACE_TIME,
  TSF_ATTENTION_JOINT_SPACE_TIME,
  TSF_ATTENTION_SPACE_ONLY,
} TsfAttentionType;

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
} TsfConfig;

const gchar *tsf_attention_type_to_string (TsfAttentionType type);

/* Zero-initialised (or tsf_model_options_init) means defaults. */
typedef struct {
  gint threads;              /* oneDNN threads for this model; 0 = all cores */
  guint num_heads;           /* attention heads of a checkpoint without config.json (official
                              * .pyth); 0 = 12 for hidden size 768, else hidden size / 64.
                              * With a config.json it must match or be 0. */
  const gchar *labels_file;  /* one label per line, replacing the model's labels; NULL = keep */
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
 * model.safetensors or pytorch_model.bin, optional preprocessor_config.json), or a PyTorch
 * checkpoint file: an official TimeSformer .pyth (config inferred from its tensors, see
 * docs/checkpoints.md) or a pytorch_model.bin with a config.json next to it. */
TsfModel *tsf_model_open (const gchar *path, const TsfModelOptions *options, GError **error);

/* A model with random weights for the given config (benchmarks). */
TsfModel *tsf_model_new_random (const TsfConfig *config, guint64 seed,
    const TsfModelOptions *options, GError **error);

void tsf_model_free (TsfModel *model);

const TsfConfig *tsf_model_get_config (const TsfModel *model);
/* A short name: the directory's basename, or "random" for tsf_model_new_random(). */
const gchar *tsf_model_get_name (const TsfModel *model);
guint64 tsf_model_get_parameter_count (const TsfModel *model);
/* Bytes held by the prepared weights. */
guint64 tsf_model_get_weight_bytes (const TsfModel *model);
/* Bytes of the activation buffers and scratchpads of the clip shapes prepared so far. */
guint64 tsf_model_get_buffer_bytes (const TsfModel *model);

gboolean tsf_model_set_threads (TsfModel *model, gint threads, GError **error);

/* Builds the oneDNN primitives for a clip shape ahead of the first run (optional: run does
 * it on first use of a shape). */
gboolean tsf_model_prepare (TsfModel *model, const TsfClipShape *shape, GError **error);

/* Runs one clip. logits receives config->num_labels floats. Allocates nothing once the shape
 * has been prepared. TSF_ERROR_INPUT when the clip's channels differ from the config's, it has
 * no frames, or its height or width is not a non-zero multiple of the patch size. */
gboolean tsf_model_run (TsfModel *model, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error);

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
