/* tsf-model.c: the public API: a model (config, weights, the forward pass's prepared weights;
 * read-only once loaded) and its sessions (a runner each). */
#include "timesformer.h"
#include "tsf-config.h"
#include "tsf-family.h"
#include "tsf-forward.h"
#include "tsf-precision.h"
#include "tsf-source.h"
#include "tsf-weights.h"

#include <math.h>
#include <string.h>

struct _TsfModel {
  TsfConfig config;
  TsfWeights *weights;
  TsfForward *forward;   /* reads config and weights in place */
  gchar *name;
  TsfPrecision precision;  /* as it runs (auto resolved) */
  gchar *precision_warning;  /* NULL, or why the precision is slow here */
  /* the one-call convenience API (not shared) */
  gint default_threads;
  guint64 default_max_clip_bytes;
  TsfSession *default_session;   /* made on first tsf_model_prepare/run */
};

struct _TsfSession {
  const TsfModel *model;
  TsfRunner *runner;
};

void
tsf_model_options_init (TsfModelOptions *options)
{
  memset (options, 0, sizeof (*options));
}

/* Takes ownership of `weights` and `name`; `config` is moved into the model. */
/* The precision asked for, given the weights: a model saved at int8 runs at int8 (auto picks
 * it), never at f32 or bf16 (its float weights are gone). */
static gboolean
requested_precision (const TsfWeights *weights, const gchar *name,
    const TsfModelOptions *options, TsfPrecision *precision, GError **error)
{
  *precision = options != NULL ? options->precision : TSF_PRECISION_F32;
  if (!weights->quantized)
    return TRUE;
  if (*precision == TSF_PRECISION_AUTO)
    *precision = TSF_PRECISION_INT8;
  if (*precision == TSF_PRECISION_INT8)
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_UNSUPPORTED, "%s was saved at int8 (convert "
      "--precision int8): it runs only at precision int8 or auto, not %s", name,
      tsf_precision_to_string (*precision));
  return FALSE;
}

static TsfModel *
model_new (TsfConfig *config, TsfWeights *weights, gchar *name,
    const TsfModelOptions *options, GError **error)
{
  TsfPrecision requested;
  TsfModel *model;

  if (weights == NULL || !tsf_check_threads (options != NULL ? options->threads : 0, error)) {
    tsf_weights_free (weights);
    tsf_config_clear (config);
    g_free (name);
    return NULL;
  }
  model = g_new0 (TsfModel, 1);
  model->config = *config;
  memset (config, 0, sizeof (*config));
  if (model->config.labels == NULL) {
    model->config.labels = g_new0 (gchar *, model->config.num_labels + 1);
    for (guint i = 0; i < model->config.num_labels; i++)
      model->config.labels[i] = g_strdup_printf ("LABEL_%u", i);
  }
  model->weights = weights;
  model->name = name;
  model->default_threads = options != NULL ? options->threads : 0;
  model->default_max_clip_bytes = options != NULL ? options->max_clip_bytes : 0;
  if (!requested_precision (weights, name, options, &requested, error)
      || !tsf_precision_choose (requested, model->default_threads, &model->precision,
          &model->precision_warning, error)) {
    tsf_model_free (model);
    return NULL;
  }
  model->forward = tsf_forward_new (&model->config, model->weights, model->precision,
      model->default_threads, error);
  if (model->forward == NULL) {
    tsf_model_free (model);
    return NULL;
  }
  return model;
}

TsfModel *
tsf_model_open (const gchar *path, const TsfModelOptions *options, GError **error)
{
  TsfConfig config;
  TsfTensorSet *tensors;
  TsfWeights *weights;
  gchar *name = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  tsf_config_init_defaults (&config);
  tensors = tsf_source_open_with_options (path, options, &config, &name, error);
  if (tensors == NULL) {
    tsf_config_clear (&config);
    return NULL;
  }
  weights = tsf_model_family_find (tensors)->bind (&config, tensors, error);
  return model_new (&config, weights, name, options, error);
}

TsfModel *
tsf_model_new_random (const TsfConfig *config, guint64 seed, const TsfModelOptions *options,
    GError **error)
{
  TsfConfig copy;

  g_return_val_if_fail (config != NULL, NULL);
  if (!tsf_config_validate (config, "the given config", error))
    return NULL;
  tsf_config_copy (&copy, config);
  return model_new (&copy, tsf_weights_new_random (config, seed,
          tsf_default_max_clip_bytes (), error),
      g_strdup ("random"), options, error);
}

void
tsf_model_free (TsfModel *model)
{
  if (model == NULL)
    return;
  tsf_session_free (model->default_session);
  tsf_forward_free (model->forward);
  tsf_weights_free (model->weights);
  tsf_config_clear (&model->config);
  g_free (model->name);
  g_free (model->precision_warning);
  g_free (model);
}

const TsfConfig *
tsf_model_get_config (const TsfModel *model)
{
  return &model->config;
}

const gchar *
tsf_model_get_name (const TsfModel *model)
{
  return model->name;
}

guint64
tsf_model_get_parameter_count (const TsfModel *model)
{
  return tsf_weights_parameter_count (&model->config);
}

guint64
tsf_model_get_weight_bytes (const TsfModel *model)
{
  return tsf_forward_weight_bytes (model->forward);
}

TsfPrecision
tsf_model_get_precision (const TsfModel *model)
{
  return model->precision;
}

const gchar *
tsf_model_get_precision_warning (const TsfModel *model)
{
  return model->precision_warning;
}

/* --- sessions --- */

void
tsf_session_options_init (TsfSessionOptions *options)
{
  memset (options, 0, sizeof (*options));
}

TsfSession *
tsf_session_new (const TsfModel *model, const TsfSessionOptions *options, GError **error)
{
  TsfRunner *runner;
  TsfSession *session;

  g_return_val_if_fail (model != NULL, NULL);
  runner = tsf_runner_new (model->forward, options != NULL ? options->threads : 0,
      options != NULL ? options->max_clip_bytes : 0, error);
  if (runner == NULL)
    return NULL;
  session = g_new0 (TsfSession, 1);
  session->model = model;
  session->runner = runner;
  return session;
}

void
tsf_session_free (TsfSession *session)
{
  if (session == NULL)
    return;
  tsf_runner_free (session->runner);
  g_free (session);
}

const TsfModel *
tsf_session_get_model (const TsfSession *session)
{
  return session->model;
}

gint
tsf_session_get_threads (const TsfSession *session)
{
  return tsf_runner_get_threads (session->runner);
}

gboolean
tsf_session_set_threads (TsfSession *session, gint threads, GError **error)
{
  return tsf_runner_set_threads (session->runner, threads, error);
}

gboolean
tsf_session_prepare (TsfSession *session, const TsfClipShape *shape, GError **error)
{
  g_return_val_if_fail (session != NULL && shape != NULL, FALSE);
  return tsf_runner_prepare (session->runner, shape, 1, error);
}

gboolean
tsf_session_prepare_batch (TsfSession *session, const TsfClipShape *shape, guint n_clips,
    GError **error)
{
  g_return_val_if_fail (session != NULL && shape != NULL, FALSE);
  return tsf_runner_prepare (session->runner, shape, n_clips, error);
}

gboolean
tsf_session_run_masked (TsfSession *session, const gfloat *clip, const TsfClipShape *shape,
    const guint8 *mask, gfloat *logits, GError **error)
{
  g_return_val_if_fail (session != NULL && clip != NULL && shape != NULL && logits != NULL,
      FALSE);
  return tsf_runner_run (session->runner, 1, &clip, shape, &mask, logits, error);
}

gboolean
tsf_session_run_batch (TsfSession *session, guint n_clips, const gfloat *const *clips,
    const TsfClipShape *shape, const guint8 *const *masks, gfloat *logits, GError **error)
{
  g_return_val_if_fail (session != NULL && clips != NULL && shape != NULL && logits != NULL,
      FALSE);
  return tsf_runner_run (session->runner, n_clips, clips, shape, masks, logits, error);
}

gboolean
tsf_session_run (TsfSession *session, const gfloat *clip, const TsfClipShape *shape,
    gfloat *logits, GError **error)
{
  return tsf_session_run_masked (session, clip, shape, NULL, logits, error);
}

guint64
tsf_session_get_buffer_bytes (const TsfSession *session)
{
  return tsf_runner_buffer_bytes (session->runner);
}

/* --- the default session --- */

static TsfSession *
default_session (TsfModel *model, GError **error)
{
  TsfSessionOptions options = { .threads = model->default_threads,
    .max_clip_bytes = model->default_max_clip_bytes };

  if (model->default_session == NULL)
    model->default_session = tsf_session_new (model, &options, error);
  return model->default_session;
}

guint64
tsf_model_get_buffer_bytes (const TsfModel *model)
{
  return model->default_session != NULL
      ? tsf_session_get_buffer_bytes (model->default_session) : 0;
}

gboolean
tsf_model_set_threads (TsfModel *model, gint threads, GError **error)
{
  if (!tsf_check_threads (threads, error))
    return FALSE;
  model->default_threads = threads;
  return model->default_session == NULL
      || tsf_session_set_threads (model->default_session, threads, error);
}

gboolean
tsf_model_prepare (TsfModel *model, const TsfClipShape *shape, GError **error)
{
  TsfSession *session = default_session (model, error);

  return session != NULL && tsf_session_prepare (session, shape, error);
}

gboolean
tsf_model_run_masked (TsfModel *model, const gfloat *clip, const TsfClipShape *shape,
    const guint8 *mask, gfloat *logits, GError **error)
{
  TsfSession *session;

  g_return_val_if_fail (clip != NULL && shape != NULL && logits != NULL, FALSE);
  session = default_session (model, error);
  return session != NULL && tsf_session_run_masked (session, clip, shape, mask, logits, error);
}

gboolean
tsf_model_run (TsfModel *model, const gfloat *clip, const TsfClipShape *shape, gfloat *logits,
    GError **error)
{
  return tsf_model_run_masked (model, clip, shape, NULL, logits, error);
}

gboolean
tsf_clip_shape_from_dims (TsfClipShape *shape, guint ndim, const gsize *dims, GError **error)
{
  if (ndim != 4) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
        "A clip has 4 dimensions (frames, channels, height, width); this one has %u", ndim);
    return FALSE;
  }
  for (guint i = 0; i < 4; i++) {
    if (dims[i] == 0 || dims[i] > G_MAXUINT / 4) {
      g_set_error (error, TSF_ERROR, TSF_ERROR_INPUT,
          "Clip dimension %u (of frames, channels, height, width) is %" G_GSIZE_FORMAT
          "; it must be between 1 and %u", i, dims[i], G_MAXUINT / 4);
      return FALSE;
    }
  }
  *shape = (TsfClipShape) { dims[0], dims[1], dims[2], dims[3] };
  return TRUE;
}

gdouble
tsf_model_get_flops (const TsfModel *model, const TsfClipShape *shape)
{
  return tsf_forward_flops (model->forward, shape);
}

guint
tsf_model_linear_shapes (const TsfModel *model, const TsfClipShape *shape, TsfGemmShape *out)
{
  return tsf_forward_linear_shapes (model->forward, shape, out);
}

guint
tsf_model_top_k (const TsfModel *model, const gfloat *logits, guint k, TsfPrediction *out)
{
  guint n = model->config.num_labels, count = MIN (k, n);
  gdouble max = -INFINITY, sum = 0;

  for (guint i = 0; i < n; i++)
    max = MAX (max, logits[i]);
  for (guint i = 0; i < n; i++)
    sum += exp (logits[i] - max);
  /* selection: k is small next to the number of labels */
  for (guint j = 0; j < count; j++) {
    guint best = G_MAXUINT;
    for (guint i = 0; i < n; i++) {
      gboolean taken = FALSE;
      for (guint m = 0; m < j && !taken; m++)
        taken = out[m].id == i;
      if (!taken && (best == G_MAXUINT || logits[i] > logits[best]))
        best = i;
    }
    out[j].id = best;
    out[j].score = (gfloat) (exp (logits[best] - max) / sum);
    out[j].label = model->config.labels[best];
  }
  return count;
}
