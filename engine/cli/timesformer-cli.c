/* timesformer-cli: classify a clip, benchmark the engine, describe a model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "timesformer.h"
#include "timesformer-convert.h"
#include "timesformer-npy.h"
#include "timesformer-bench.h"

typedef gboolean (*CommandFunc) (gint argc, gchar **argv, GError **error);

/* --- shared --- */

static gboolean
parse_options (const gchar *command, const gchar *summary, GOptionEntry *entries, gint *argc,
    gchar ***argv, GError **error)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autofree gchar *name = g_strdup_printf ("timesformer-cli %s", command);

  g_set_prgname (name);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "Unexpected argument '%s'",
        (*argv)[1]);
    return FALSE;
  }
  return TRUE;
}

static gboolean
require (const gchar *value, const gchar *option, GError **error)
{
  if (value == NULL)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s is required", option);
  return value != NULL;
}

/* JSON has no NaN or infinity: a non-finite number is written as null. */
static void
add_number (JsonBuilder *builder, gdouble value)
{
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
print_json (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autofree gchar *text = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

/* --model and how to read it (classify, info, convert). */
typedef struct {
  gchar *path;
  gint num_heads;
  gchar *labels;
  gchar *precision;
} ModelArgs;

#define MODEL_ENTRIES(args) \
  { "model", 'm', 0, G_OPTION_ARG_FILENAME, &(args).path, "Model: a Hugging Face directory " \
    "(config.json with model.safetensors or pytorch_model.bin) or a PyTorch checkpoint " \
    "(official .pyth)", "PATH" }, \
  { "num-heads", 0, 0, G_OPTION_ARG_INT, &(args).num_heads, "Attention heads of a checkpoint " \
    "without config.json (default: 12 for hidden size 768, else hidden size / 64)", "N" }, \
  { "labels", 0, 0, G_OPTION_ARG_FILENAME, &(args).labels, "Labels file, one per line, " \
    "replacing the model's", "FILE" }

#define PRECISION_ENTRY(args) \
  { "precision", 'p', 0, G_OPTION_ARG_STRING, &(args).precision, "Arithmetic of the linear " \
    "layers: f32 (default, exact), bf16, int8, or auto (the fastest on this CPU)", "P" }

/* --threads and --max-clip-mb: how a model runs (classify, bench, info). */
typedef struct {
  gint threads;
  gint64 max_clip_mb;
} RunArgs;

#define RUN_ENTRIES(args) \
  { "threads", 't', 0, G_OPTION_ARG_INT, &(args).threads, "Threads, 1 to 1024 (default 0: " \
    "all cores)", "N" }, \
  { "max-clip-mb", 0, 0, G_OPTION_ARG_INT64, &(args).max_clip_mb, "Most memory one clip " \
    "shape may take (activations, attention scores, scratchpad), in MiB (default 0: half of " \
    "the physical memory)", "MB" }

#define MAX_CLIP_MB (G_MAXUINT64 >> 20)

static gboolean
check_run_args (const RunArgs *args, GError **error)
{
  if (args->threads < 0 || args->threads > TSF_MAX_THREADS) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--threads must be from 0 "
        "(all cores) to %d, found %d", TSF_MAX_THREADS, args->threads);
    return FALSE;
  }
  if (args->max_clip_mb < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--max-clip-mb must be 0 "
        "(half of the physical memory) or a number of MiB, found %" G_GINT64_FORMAT,
        args->max_clip_mb);
    return FALSE;
  }
  return TRUE;
}

static void
run_options (const RunArgs *args, TsfModelOptions *options)
{
  options->threads = args->threads;
  options->max_clip_bytes = MIN ((guint64) args->max_clip_mb, MAX_CLIP_MB) << 20;
}

static void
model_args_clear (ModelArgs *args)
{
  g_clear_pointer (&args->path, g_free);
  g_clear_pointer (&args->labels, g_free);
  g_clear_pointer (&args->precision, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ModelArgs, model_args_clear)

/* `run` may be NULL (defaults). */
static gboolean
model_options (const ModelArgs *args, const RunArgs *run, TsfModelOptions *options,
    GError **error)
{
  if (!require (args->path, "--model", error))
    return FALSE;
  if (args->num_heads < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--num-heads must be positive");
    return FALSE;
  }
  if (run != NULL && !check_run_args (run, error))
    return FALSE;
  tsf_model_options_init (options);
  if (run != NULL)
    run_options (run, options);
  options->num_heads = args->num_heads;
  options->labels_file = args->labels;
  return args->precision == NULL
      || tsf_precision_from_string (args->precision, &options->precision, error);
}

/* The precision's warning, if any, on stderr. */
static TsfModel *
warn_precision (TsfModel *model)
{
  if (model != NULL && tsf_model_get_precision_warning (model) != NULL)
    g_printerr ("warning: %s\n", tsf_model_get_precision_warning (model));
  return model;
}

static TsfModel *
open_model (const ModelArgs *args, const RunArgs *run, GError **error)
{
  TsfModelOptions options;

  if (!model_options (args, run, &options, error))
    return NULL;
  return warn_precision (tsf_model_open (args->path, &options, error));
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

static gdouble
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, gdouble, values->len / 2);
}

/* Peak resident memory (VmHWM) in MiB, or -1. */
static gdouble
peak_rss_mb (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL)
      || (line = strstr (status, "VmHWM:")) == NULL)
    return -1;
  return g_ascii_strtod (line + strlen ("VmHWM:"), NULL) / 1024.0;
}

/* --- classify --- */

static gboolean
classify (gint argc, gchar **argv, GError **error)
{
  g_auto (ModelArgs) model_args = { 0 };
  g_autofree gchar *input = NULL, *mask_path = NULL;
  g_autofree guint8 *mask = NULL;
  gsize mask_frames = 0;
  RunArgs run = { 0 };
  gint top_k = 5;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    MODEL_ENTRIES (model_args),
    PRECISION_ENTRY (model_args),
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input,
      "Clip: float32 .npy of shape (frames, channels, height, width), normalised", "CLIP.npy" },
    { "mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path, "Frame mask (lucidrains models): bool "
      "or uint8 .npy of shape (frames,), 0 removes the frame", "MASK.npy" },
    { "top-k", 'k', 0, G_OPTION_ARG_INT, &top_k, "Classes to print (default 5)", "K" },
    RUN_ENTRIES (run),
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  TsfNpyArray clip = { 0 };
  TsfClipShape shape;
  TsfModel *model = NULL;
  gboolean ok = FALSE;

  if (!parse_options ("classify", "Classifies one clip.", entries, &argc, &argv, error)
      || !require (model_args.path, "--model", error) || !require (input, "--input", error)
      || !check_run_args (&run, error))
    return FALSE;
  if (top_k < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--top-k must be at least 1");
    return FALSE;
  }
  if (mask_path != NULL && !tsf_npy_read_mask (mask_path, &mask, &mask_frames, error))
    return FALSE;
  if (!tsf_npy_read (input, &clip, error))
    return FALSE;
  if (mask != NULL && clip.ndim > 0 && mask_frames != clip.shape[0]) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s has %" G_GSIZE_FORMAT
        " values; the clip %s has %" G_GSIZE_FORMAT " frames", mask_path, mask_frames, input,
        clip.shape[0]);
    tsf_npy_clear (&clip);
    return FALSE;
  }
  if (tsf_clip_shape_from_dims (&shape, clip.ndim, clip.shape, error)
      && (model = open_model (&model_args, &run, error)) != NULL) {
    const TsfConfig *config = tsf_model_get_config (model);
    g_autofree gfloat *logits = g_new (gfloat, config->num_labels);
    g_autofree TsfPrediction *top = g_new (TsfPrediction, MIN ((guint) top_k,
            config->num_labels));
    gint64 start;
    gdouble ms;
    guint n;

    /* the first run also builds the primitives: prepare first so the time is the clip's */
    ok = tsf_model_prepare (model, &shape, error);
    start = g_get_monotonic_time ();
    ok = ok && tsf_model_run_masked (model, clip.data, &shape, mask, logits, error);
    ms = (g_get_monotonic_time () - start) / 1000.0;
    if (ok) {
      n = tsf_model_top_k (model, logits, top_k, top);
      if (json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "logits");
        json_builder_begin_array (b);
        for (guint i = 0; i < config->num_labels; i++)
          add_number (b, logits[i]);
        json_builder_end_array (b);
        json_builder_set_member_name (b, "top");
        json_builder_begin_array (b);
        for (guint i = 0; i < n; i++) {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, top[i].id);
          json_builder_set_member_name (b, "label");
          json_builder_add_string_value (b, top[i].label);
          json_builder_set_member_name (b, "score");
          add_number (b, top[i].score);
          json_builder_end_object (b);
        }
        json_builder_end_array (b);
        json_builder_set_member_name (b, "inference_ms");
        add_number (b, ms);
        json_builder_end_object (b);
        print_json (b);
      } else {
        for (guint i = 0; i < n; i++)
          g_print ("%6.2f%%  %4u  %s\n", 100.0 * top[i].score, top[i].id, top[i].label);
        g_print ("inference: %.1f ms\n", ms);
      }
    }
  }
  tsf_model_free (model);
  tsf_npy_clear (&clip);
  return ok;
}

/* --- bench --- */

static TsfModel *
bench_model (const ModelArgs *model_args, const gchar *config_path, const RunArgs *run,
    GError **error)
{
  TsfModelOptions options;
  TsfConfig config;
  TsfModel *model;

  if (model_args->path != NULL)
    return open_model (model_args, run, error);
  if (!tsf_config_load_file (&config, config_path, error))
    return NULL;
  tsf_model_options_init (&options);
  run_options (run, &options);
  model = NULL;
  if (model_args->precision == NULL
      || tsf_precision_from_string (model_args->precision, &options.precision, error))
    model = warn_precision (tsf_model_new_random (&config, 1, &options, error));
  tsf_config_clear (&config);
  return model;
}

typedef struct {
  guint batch;           /* clips per run */
  gdouble median_ms, gflop, gflops, peak_gflops, efficiency, rss_mb;  /* per clip */
  gdouble profile_ms[TSF_N_STEP_KINDS];   /* --profile: per clip, over every timed clip */
} BenchResult;

/* One batch size's runs: a session's batch of clips and oneDNN's matmul peak on the same
 * shapes with B times the rows. */
typedef struct {
  guint batch;
  TsfMatmulPeak *peak;
  GArray *model_s, *peak_s;
} BenchBatch;

static void
bench_batch_clear (BenchBatch *b)
{
  tsf_matmul_peak_free (b->peak);
  if (b->model_s != NULL)
    g_array_unref (b->model_s);
  if (b->peak_s != NULL)
    g_array_unref (b->peak_s);
}

static gboolean
bench_batch_init (BenchBatch *b, guint batch, TsfSession *session, const TsfClipShape *shape,
    gint threads, GError **error)
{
  const TsfModel *model = tsf_session_get_model (session);
  TsfGemmShape shapes[TSF_MAX_GEMM_SHAPES];
  guint n_shapes = tsf_model_linear_shapes (model, shape, shapes);

  for (guint i = 0; i < n_shapes; i++)
    shapes[i].m *= batch;
  b->batch = batch;
  b->model_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b->peak_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b->peak = tsf_matmul_peak_new (shapes, n_shapes, tsf_model_get_precision (model), threads,
      error);
  return b->peak != NULL && tsf_session_prepare_batch (session, shape, batch, error);
}

/* One batch run and one pass of its peak GEMMs, timed. */
static gboolean
bench_batch_round (BenchBatch *b, TsfSession *session, const gfloat *const *clips,
    const TsfClipShape *shape, gfloat *logits, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gdouble seconds;

  if (!tsf_session_run_batch (session, b->batch, clips, shape, NULL, logits, error))
    return FALSE;
  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_array_append_val (b->model_s, seconds);
  if (!tsf_matmul_peak_run (b->peak, &seconds, error))
    return FALSE;
  g_array_append_val (b->peak_s, seconds);
  return TRUE;
}

/* Alternates, round after round, one run of each batch size and one pass of its peak GEMMs,
 * so that every figure sees the same machine load. */
static gboolean
bench_measure (TsfModel *model, const RunArgs *run, gint iterations, const guint *batches,
    guint n_batches, gboolean profile, BenchResult *results, GError **error)
{
  const TsfConfig *c = tsf_model_get_config (model);
  TsfClipShape shape = { c->num_frames, c->num_channels, c->image_size, c->image_size };
  gsize clip_floats = (gsize) shape.frames * shape.channels * shape.height * shape.width;
  g_autofree gfloat *clip = g_new0 (gfloat, clip_floats);
  g_autofree gfloat *logits = g_new (gfloat, (gsize) TSF_MAX_BATCH * c->num_labels);
  const gfloat *clips[TSF_MAX_BATCH];
  TsfSessionOptions options = { .threads = run->threads,
    .max_clip_bytes = MIN ((guint64) run->max_clip_mb, MAX_CLIP_MB) << 20 };
  BenchBatch runs[TSF_MAX_BATCH] = { { 0 } };
  TsfSession *session = tsf_session_new (model, &options, error);
  gboolean ok = session != NULL;

  for (gsize i = 0; i < clip_floats; i++)
    clip[i] = (gfloat) ((i * 7919) % 1000) / 500.0f - 1.0f;
  for (guint i = 0; i < TSF_MAX_BATCH; i++)
    clips[i] = clip;
  for (guint i = 0; ok && i < n_batches; i++)   /* with a warm-up run each */
    ok = bench_batch_init (&runs[i], batches[i], session, &shape, run->threads, error)
        && tsf_session_run_batch (session, batches[i], clips, &shape, NULL, logits, error);
  guint timed_clips = 0;
  tsf_profile_enable (profile);
  for (gint r = 0; ok && r < iterations; r++)
    for (guint i = 0; ok && i < n_batches; i++) {
      ok = bench_batch_round (&runs[i], session, clips, &shape, logits, error);
      timed_clips += batches[i];
    }
  tsf_profile_read (results[0].profile_ms);
  tsf_profile_enable (FALSE);
  for (guint k = 0; k < TSF_N_STEP_KINDS; k++)
    results[0].profile_ms[k] *= 1e3 / MAX (timed_clips, 1);
  for (guint i = 0; ok && i < n_batches; i++) {
    BenchResult *result = &results[i];
    gdouble model_seconds = median (runs[i].model_s) / runs[i].batch;
    result->batch = runs[i].batch;
    result->median_ms = model_seconds * 1e3;
    result->gflop = tsf_model_get_flops (model, &shape) / 1e9;
    result->gflops = result->gflop / model_seconds;
    result->peak_gflops = tsf_matmul_peak_flops (runs[i].peak) / 1e9 / median (runs[i].peak_s);
    result->efficiency = result->gflops / result->peak_gflops;
    result->rss_mb = peak_rss_mb ();
  }
  for (guint i = 0; i < n_batches; i++)
    bench_batch_clear (&runs[i]);
  tsf_session_free (session);
  return ok;
}

/* --batch: a comma-separated list of batch sizes, each 1 to TSF_MAX_BATCH. */
static gboolean
parse_batches (const gchar *text, guint *batches, guint *n, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text != NULL ? text : "1", ",", -1);

  *n = 0;
  for (guint i = 0; parts[i] != NULL; i++) {
    guint64 value;
    if (*n == TSF_MAX_BATCH || !g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1,
            TSF_MAX_BATCH, &value, NULL)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--batch takes at most "
          "%d sizes from 1 to %d, separated by commas; found '%s'", TSF_MAX_BATCH,
          TSF_MAX_BATCH, parts[i]);
      return FALSE;
    }
    batches[(*n)++] = value;
  }
  return TRUE;
}

static void
add_result_members (JsonBuilder *b, const BenchResult *r)
{
  const gchar *names[] = { "median_ms", "gflop", "gflops", "matmul_peak_gflops",
    "efficiency", "peak_rss_mb" };
  gdouble values[] = { r->median_ms, r->gflop, r->gflops, r->peak_gflops, r->efficiency,
    r->rss_mb };

  json_builder_set_member_name (b, "batch");
  json_builder_add_int_value (b, r->batch);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    json_builder_set_member_name (b, names[i]);
    add_number (b, values[i]);
  }
}

/* One object (the first batch size's figures), with "batches" when several were timed. */
static void
print_bench_json (TsfPrecision precision, const BenchResult *results, guint n,
    gboolean profile)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "precision");
  json_builder_add_string_value (b, tsf_precision_to_string (precision));
  add_result_members (b, &results[0]);
  if (n > 1) {
    json_builder_set_member_name (b, "batches");
    json_builder_begin_array (b);
    for (guint i = 0; i < n; i++) {
      json_builder_begin_object (b);
      add_result_members (b, &results[i]);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
  }
  if (profile) {
    json_builder_set_member_name (b, "profile_ms");
    json_builder_begin_object (b);
    for (guint k = 0; k < TSF_N_STEP_KINDS; k++) {
      json_builder_set_member_name (b, tsf_step_kind_to_string (k));
      add_number (b, results[0].profile_ms[k]);
    }
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  print_json (b);
}

static void
print_bench_table (TsfPrecision precision, const BenchResult *results, guint n,
    gint iterations)
{
  const BenchResult *r = &results[0];

  g_print ("precision:          %s\n", tsf_precision_to_string (precision));
  if (n == 1 && r->batch == 1) {
    g_print ("median per clip:    %.1f ms (%d clips)\n", r->median_ms, iterations);
    g_print ("work per clip:      %.1f GFLOP (GOP in int8)\n", r->gflop);
    g_print ("achieved:           %.1f GFLOP/s\n", r->gflops);
    g_print ("oneDNN matmul peak: %.1f GFLOP/s (the model's linear-layer shapes, %s)\n",
        r->peak_gflops, tsf_precision_to_string (precision));
    g_print ("efficiency:         %.1f%%\n", 100 * r->efficiency);
    g_print ("peak RSS:           %.0f MB\n", r->rss_mb);
    return;
  }
  g_print ("work per clip:      %.3f GFLOP; %d runs of each batch size, alternated\n",
      r->gflop, iterations);
  g_print ("%6s %13s %13s %10s %17s %11s\n", "batch", "ms per clip", "vs batch 1", "GFLOP/s",
      "matmul peak GF/s", "efficiency");
  for (guint i = 0; i < n; i++)
    g_print ("%6u %13.3f %13.2f %10.1f %17.1f %10.1f%%\n", results[i].batch,
        results[i].median_ms, results[i].median_ms / r->median_ms, results[i].gflops,
        results[i].peak_gflops, 100 * results[i].efficiency);
  g_print ("peak RSS:           %.0f MB\n", results[n - 1].rss_mb);
}

static void
print_bench_text (TsfPrecision precision, const BenchResult *results, guint n,
    gint iterations, gboolean profile)
{
  const BenchResult *r = &results[0];

  print_bench_table (precision, results, n, iterations);
  for (guint k = 0; profile && k < TSF_N_STEP_KINDS; k++)
    g_print ("  %-17s %.1f ms per clip\n", tsf_step_kind_to_string (k), r->profile_ms[k]);
}

static gboolean
bench (gint argc, gchar **argv, GError **error)
{
  g_auto (ModelArgs) model_args = { 0 };
  g_autofree gchar *config_path = NULL;
  RunArgs run = { 0 };
  g_autofree gchar *batch_text = NULL;
  gint iterations = 10;
  gboolean json = FALSE, profile = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_args.path, "Model directory", "DIR" },
    PRECISION_ENTRY (model_args),
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "config.json of a model to run with random weights", "CONFIG.json" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "Clips to time (default 10)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_STRING, &batch_text, "Clips per run, or several batch "
      "sizes separated by commas (timed in alternation; default 1)", "B[,B...]" },
    RUN_ENTRIES (run),
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &profile, "Also time each kind of step (linear "
      "layers, other matmuls, layer norms, softmax, reorders, host steps): ms per clip", NULL },
    { NULL }
  };
  BenchResult results[TSF_MAX_BATCH];
  guint batches[TSF_MAX_BATCH], n_batches;
  TsfModel *model;
  TsfPrecision precision;
  gboolean ok;

  if (!parse_options ("bench", "Times clips of the model's own size and compares the speed "
          "with oneDNN's matmul peak on the model's GEMM shapes, measured in the same run.",
          entries, &argc, &argv, error))
    return FALSE;
  if ((model_args.path == NULL) == (config_path == NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "Give exactly one of --model and --config");
    return FALSE;
  }
  if (iterations < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--iterations must be at least 1");
    return FALSE;
  }
  if (!check_run_args (&run, error) || !parse_batches (batch_text, batches, &n_batches, error)
      || (model = bench_model (&model_args, config_path, &run, error)) == NULL)
    return FALSE;
  precision = tsf_model_get_precision (model);
  ok = bench_measure (model, &run, iterations, batches, n_batches, profile, results, error);
  tsf_model_free (model);
  if (!ok)
    return FALSE;
  if (json)
    print_bench_json (precision, results, n_batches, profile);
  else
    print_bench_text (precision, results, n_batches, iterations, profile);
  return TRUE;
}

/* --- info --- */

/* A label or name for the terminal: control characters (C0, DEL, C1; an escape sequence
 * could rewrite the screen) as \u00XX, the rest as it is (UTF-8 is checked at load). */
static gchar *
escape_controls (const gchar *text)
{
  g_autofree gchar *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_new (NULL);

  for (const gchar *p = valid; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (g_unichar_iscntrl (c))
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_unichar (out, c);
  }
  return g_string_free (out, FALSE);
}

static gboolean
info (gint argc, gchar **argv, GError **error)
{
  g_auto (ModelArgs) model_args = { 0 };
  RunArgs run = { 0 };
  GOptionEntry entries[] = {
    MODEL_ENTRIES (model_args),
    PRECISION_ENTRY (model_args),
    RUN_ENTRIES (run),
    { NULL }
  };
  g_autofree gchar *name = NULL;
  const TsfConfig *c;
  TsfClipShape shape;
  TsfModel *model;

  if (!parse_options ("info", "Describes a model: config, parameters, memory, labels.",
          entries, &argc, &argv, error)
      || (model = open_model (&model_args, &run, error)) == NULL)
    return FALSE;
  c = tsf_model_get_config (model);
  name = escape_controls (tsf_model_get_name (model));
  shape = (TsfClipShape) { c->num_frames, c->num_channels, c->image_size, c->image_size };
  g_print ("model:              %s\n", name);
  g_print ("attention:          %s\n", tsf_attention_type_to_string (c->attention_type));
  g_print ("clip:               %u frames x %u channels x %ux%u, patch %u\n", c->num_frames,
      c->num_channels, c->image_size, c->image_size, c->patch_size);
  g_print ("layers:             %u, hidden %u, heads %u, intermediate %u, qkv bias %s, "
      "eps %g\n", c->num_hidden_layers, c->hidden_size, c->num_attention_heads,
      c->intermediate_size, c->qkv_bias ? "yes" : "no", c->layer_norm_eps);
  g_print ("preprocessing:      mean %.3f %.3f %.3f, std %.3f %.3f %.3f, rescale %g\n",
      c->image_mean[0], c->image_mean[1], c->image_mean[2], c->image_std[0], c->image_std[1],
      c->image_std[2], c->rescale_factor);
  g_print ("parameters:         %" G_GUINT64_FORMAT "\n", tsf_model_get_parameter_count (model));
  g_print ("precision:          %s%s%s\n", tsf_precision_to_string (
          tsf_model_get_precision (model)), tsf_model_get_precision_warning (model) ? ": " : "",
      tsf_model_get_precision_warning (model) ? tsf_model_get_precision_warning (model) : "");
  g_print ("weights:            %.1f MB\n", tsf_model_get_weight_bytes (model) / 1e6);
  if (tsf_model_prepare (model, &shape, error))
    g_print ("buffers per clip:   %.1f MB\n", tsf_model_get_buffer_bytes (model) / 1e6);
  g_print ("work per clip:      %.1f GFLOP\n", tsf_model_get_flops (model, &shape) / 1e9);
  g_print ("labels:             %u\n", c->num_labels);
  for (guint i = 0; i < c->num_labels; i++) {
    g_autofree gchar *label = escape_controls (c->labels[i]);
    g_print ("  %4u  %s\n", i, label);
  }
  tsf_model_free (model);
  return error == NULL || *error == NULL;
}

/* --- convert --- */

static gboolean
convert (gint argc, gchar **argv, GError **error)
{
  g_auto (ModelArgs) model_args = { 0 };
  g_autofree gchar *output = NULL;
  GOptionEntry entries[] = {
    MODEL_ENTRIES (model_args),
    { "precision", 'p', 0, G_OPTION_ARG_STRING, &model_args.precision, "Weights to write: f32 "
      "(default) or int8 (the layers' linear weights quantised per output channel, as "
      "precision int8 runs them; loads without a float copy)", "P" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Directory to write (created if needed)", "DIR" },
    { NULL }
  };
  TsfModelOptions options;

  if (!parse_options ("convert", "Writes a model (for example an official .pyth or a "
          "pytorch_model.bin) as a Hugging Face directory: config.json with labels, "
          "preprocessor_config.json and model.safetensors (float32, or int8 with --precision "
          "int8).", entries, &argc, &argv, error)
      || !model_options (&model_args, NULL, &options, error) || !require (output, "--output", error)
      || !tsf_convert_to_hf (model_args.path, &options, output, error))
    return FALSE;
  g_print ("wrote %s (config.json, preprocessor_config.json, model.safetensors)\n", output);
  return TRUE;
}

static const struct {
  const gchar *name;
  CommandFunc func;
  const gchar *summary;
} commands[] = {
  { "classify", classify, "classify one clip (.npy)" },
  { "bench", bench, "time the engine against oneDNN's matmul peak" },
  { "info", info, "describe a model" },
  { "convert", convert, "write a model as a Hugging Face directory (safetensors)" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: timesformer-cli COMMAND [OPTION...]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'timesformer-cli COMMAND --help' lists a command's options.\n");
}

gint
main (gint argc, gchar **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc < 2) {
    usage (stderr);
    return 1;
  }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")) {
    usage (stdout);
    return 0;
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (!g_str_equal (argv[1], commands[i].name))
      continue;
    if (!commands[i].func (argc - 1, argv + 1, &error)) {
      g_printerr ("timesformer-cli %s: %s\n", commands[i].name,
          error != NULL ? error->message : "failed");
      return 1;
    }
    return 0;
  }
  g_printerr ("timesformer-cli: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return 1;
}
