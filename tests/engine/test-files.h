/* test-files.h: small model files written by the engine tests themselves. */
#pragma once

#include <glib.h>

#include "timesformer.h"

G_BEGIN_DECLS

/* Asserts the TSF_ERROR code and that the message mentions `culprit`; clears the error. */
#define assert_tsf_error(error, code, culprit) \
  test_assert_tsf_error (&(error), (code), (culprit), G_STRLOC)
void test_assert_tsf_error (GError **error, TsfError code, const gchar *culprit,
    const gchar *where);

/* The config of test_small_random_model() (clear with tsf_config_clear()). */
void test_small_config (TsfConfig *config, TsfAttentionType attention);
/* A model with random weights for `config`; an error fails the test. */
TsfModel *test_random_model (const TsfConfig *config, guint64 seed,
    const TsfModelOptions *options);

/* A small model with random weights (image 32, patch 8, 4 frames, hidden 32, 2 heads,
 * 2 layers, intermediate 48, 5 labels). */
TsfModel *test_small_random_model (TsfAttentionType attention);
TsfModel *test_small_random_model_with_options (TsfAttentionType attention,
    const TsfModelOptions *options);
/* lucidrains' TimeSformer-pytorch, as small (attention size 48 != hidden, intermediate 128,
 * no qkv bias): rotary positions, or with `shift_tokens` the token shift and pos_emb. */
TsfModel *test_small_lucidrains_model (gboolean shift_tokens, const TsfModelOptions *options);
/* A clip of uniform values in [-2, 2) from `seed` (g_free). */
gfloat *test_random_clip (const TsfClipShape *shape, guint seed);

/* A fresh temporary directory, removed with everything in it by test_dir_free(). */
gchar *test_dir_new (void);
void test_dir_free (gchar *dir);
/* Writes `length` bytes (-1: a string) to dir/name; returns the path. */
gchar *test_write_file (const gchar *dir, const gchar *name, const void *data, gssize length);

/* A safetensors file: the 8-byte header length, `header` and `data_size` bytes of data
 * (0, 1, 2, ...). */
GBytes *test_safetensors_bytes (const gchar *header, gsize data_size);

/* One tensor of a generated checkpoint (values: test_tensor_value()). */
typedef struct {
  gchar *name;
  const gchar *dtype;  /* "F32", "F16", "BF16" or "I8" (value x 8); a "*_scale" F32 tensor
                        * holds |value| + 0.125 */
  guint ndim;
  gint64 shape[4];
} TestTensor;

/* An empty list of TestTensor (freed with g_array_unref). */
GArray *test_tensors_new (void);
/* The tensors of the tiny TimeSformer of test_tiny_config_json() (hidden 4, 2 heads, 1 layer,
 * intermediate 8, image 4, patch 2, 2 frames, 3 channels, 3 labels). */
GArray *test_tiny_tensors (TsfAttentionType attention, gboolean qkv_bias);
TestTensor *test_find_tensor (GArray *tensors, const gchar *name);
void test_remove_tensor (GArray *tensors, const gchar *name);
void test_add_tensor (GArray *tensors, const gchar *name, const gchar *dtype, guint ndim,
    const gint64 *shape);
/* The value that element `index` of tensor `name` holds in a generated file. */
gfloat test_tensor_value (const gchar *name, gint64 index);
GBytes *test_checkpoint_bytes (GArray *tensors);
/* config.json of the tiny model; `extra` (may be NULL) is spliced into the object, e.g.
 * "\"num_frames\": 0" (a later member overrides an earlier one). */
gchar *test_tiny_config_json (TsfAttentionType attention, const gchar *extra);
/* A model directory with config.json and model.safetensors. */
void test_write_model_dir (const gchar *dir, const gchar *config_json, GArray *tensors);

G_END_DECLS
