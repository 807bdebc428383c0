/* tsf-layout.c: where the tokens of a clip live in the hidden state, the clip shapes a model
 * accepts, and the host steps on the cls rows. */
#include "tsf-plan.h"
#include "tsf-config.h"

#include <math.h>
#include <string.h>
#include <omp.h>

gint
tsf_resolve_threads (gint threads)
{
  return threads > 0 ? threads : omp_get_num_procs ();
}

gboolean
tsf_check_threads (gint threads, GError **error)
{
  if (threads >= 0 && threads <= TSF_MAX_THREADS)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "threads must be from 0 (all cores) to %d, "
      "found %d", TSF_MAX_THREADS, threads);
  return FALSE;
}

gboolean
tsf_check_clip_finite (const gfloat *clip, const TsfClipShape *shape, GError **error)
{
  gsize plane = (gsize) shape->height * shape->width;
  gsize n = (gsize) shape->frames * shape->channels * plane;

  for (gsize i = 0; i < n; i++) {
    if (G_LIKELY (isfinite (clip[i])))
      continue;
    gsize frame = i / (shape->channels * plane), channel = i / plane % shape->channels;
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The clip holds %s at frame %"
        G_GSIZE_FORMAT ", channel %" G_GSIZE_FORMAT ", row %" G_GSIZE_FORMAT ", column %"
        G_GSIZE_FORMAT "; every value must be finite", isnan (clip[i]) ? "NaN" : "an infinity",
        frame, channel, i % plane / shape->width, i % shape->width);
    return FALSE;
  }
  return TRUE;
}

gboolean
tsf_check_logits_finite (const gfloat *logits, guint n, GError **error)
{
  guint bad = 0;

  for (guint i = 0; i < n; i++)
    bad += !isfinite (logits[i]);
  if (bad == 0)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_NON_FINITE, "%u of the %u logits are NaN or infinite: "
      "the model's weights hold non-finite values, or the clip's values overflow", bad, n);
  return FALSE;
}

void
tsf_layout_init (TsfLayout *layout, const TsfConfig *config, const TsfClipShape *shape)
{
  layout->scheme = tsf_attention_scheme (config->attention_type);
  layout->frames = shape->frames;
  layout->grid_h = shape->height / config->patch_size;
  layout->grid_w = shape->width / config->patch_size;
  layout->patches = layout->grid_h * layout->grid_w;
  layout->cls_per_frame = layout->scheme->cls_per_frame;
  layout->frame_stride = layout->patches + (layout->cls_per_frame ? 1 : 0);
  layout->rows = layout->cls_per_frame ? (gsize) layout->frames * (1 + layout->patches)
      : 1 + (gsize) layout->frames * layout->patches;
}

/* lucidrains: the token shift groups frames by num_frames; pos_emb has a row per token of the
 * config's clip. */
static gboolean
check_lucidrains_shape (const TsfConfig *config, const TsfClipShape *shape, GError **error)
{
  guint64 side = config->image_size / config->patch_size;
  guint64 tokens = 1 + (guint64) shape->frames * (shape->height / config->patch_size)
      * (shape->width / config->patch_size);

  if (config->shift_tokens && shape->frames != config->num_frames) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The clip has %u frames; this model "
        "(shift_tokens) takes clips of exactly num_frames = %u", shape->frames,
        config->num_frames);
    return FALSE;
  }
  if (tsf_attention_scheme (config->attention_type)->flat_positions && !config->rotary_emb
      && tokens > 1 + config->num_frames * side * side) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "%u frames of %ux%u make %" G_GUINT64_FORMAT
        " tokens; this model's pos_emb has %" G_GUINT64_FORMAT " rows (num_frames %u of "
        "%ux%u)", shape->frames, shape->width, shape->height, tokens,
        1 + config->num_frames * side * side, config->num_frames, config->image_size,
        config->image_size);
    return FALSE;
  }
  return TRUE;
}

gboolean
tsf_check_shape (const TsfConfig *config, const TsfClipShape *shape, GError **error)
{
  guint p = config->patch_size;

  if (shape->channels != config->num_channels) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
        "The clip has %u channels; the model expects %u (clip shape is frames x channels x "
        "height x width)", shape->channels, config->num_channels);
    return FALSE;
  }
  if (shape->frames < 1) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The clip has no frames");
    return FALSE;
  }
  if (shape->height < p || shape->width < p || shape->height % p || shape->width % p) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
        "The clip's frames are %ux%u (width x height); both sides must be non-zero multiples "
        "of the patch size %u", shape->width, shape->height, p);
    return FALSE;
  }
  /* each factor is below 2^32: the product fits in 64 bits after one check */
  guint64 grid = (guint64) (shape->height / p) * (shape->width / p);
  if (grid > TSF_MAX_TOKENS || grid * shape->frames + 1 > TSF_MAX_TOKENS) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT, "The clip of %u frames of %ux%u gives "
        "more than %d tokens (frames x (height / patch) x (width / patch) + 1)", shape->frames,
        shape->width, shape->height, TSF_MAX_TOKENS);
    return FALSE;
  }
  return check_lucidrains_shape (config, shape, error);
}

/* args: dst, src; sizes: rows, row stride, width. Copies rows of src into dst. */
void
tsf_host_copy_rows (const gpointer *args, const gsize *sizes)
{
  gfloat *dst = args[0];
  const gfloat *src = args[1];

  for (gsize r = 0; r < sizes[0]; r++)
    memcpy (dst + r * sizes[1], src + r * sizes[1], sizes[2] * sizeof (gfloat));
}

/* args: data; sizes: rows, row stride, width. Every row becomes the mean of the rows. */
void
tsf_host_average_rows (const gpointer *args, const gsize *sizes)
{
  gfloat *data = args[0];
  gsize rows = sizes[0], stride = sizes[1], width = sizes[2];

  for (gsize i = 0; i < width; i++) {
    gfloat sum = 0;
    for (gsize r = 0; r < rows; r++)
      sum += data[r * stride + i];
    for (gsize r = 0; r < rows; r++)
      data[r * stride + i] = sum / rows;
  }
}

void
tsf_add_cls_rows_step (TsfPlan *plan, TsfHostFunc func, gfloat *dst, const gfloat *src, gsize d)
{
  const TsfLayout *l = &plan->layout;
  gsize sizes[3] = { l->cls_per_frame ? l->frames : 1, (1 + l->patches) * d, d };

  for (gsize b = 0, clip = l->rows * d; b < plan->clips; b++) {
    gpointer args[2] = { dst + b * clip, src != NULL ? (gpointer) (src + b * clip) : NULL };
    tsf_program_host (plan->program, func, 2, args, 3, sizes);
  }
}
