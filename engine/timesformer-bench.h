/* timesformer-bench.h: a model's GEMM inventory and what oneDNN's matmul reaches on those
 * shapes (public: `timesformer-cli bench`). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* A GEMM of the model: [m, k] x [k, n], `count` times per clip. */
typedef struct {
  guint m, k, n, count;
} TsfGemmShape;
#define TSF_MAX_GEMM_SHAPES 8
/* The linear layers of one clip as `model` runs them (patch embedding, qkv, projections, MLP,
 * classifier; at bf16 and int8 the divided scheme's two temporal output layers as one); returns
 * how many shapes were written to `out` (at most TSF_MAX_GEMM_SHAPES). */
guint tsf_model_linear_shapes (const TsfModel *model, const TsfClipShape *shape,
    TsfGemmShape *out);

typedef struct _TsfMatmulPeak TsfMatmulPeak;

/* Prepares one plain matmul per shape in `precision` (the engine's types: f32; bf16 x bf16;
 * u8 x s8 for int8; float32 output; weights in the layout oneDNN prefers, the faster of its
 * default and GEMM-based implementations); buffers are shared by the shapes. */
TsfMatmulPeak *tsf_matmul_peak_new (const TsfGemmShape *shapes, guint n_shapes,
    TsfPrecision precision, gint threads, GError **error);
/* Runs every shape once; `seconds` receives the time of one clip's linear layers at this
 * speed (each shape's time x its count). */
gboolean tsf_matmul_peak_run (TsfMatmulPeak *peak, gdouble *seconds, GError **error);
/* Operations of one clip's linear layers (multiply-add = 2). */
gdouble tsf_matmul_peak_flops (const TsfMatmulPeak *peak);
void tsf_matmul_peak_free (TsfMatmulPeak *peak);

/* Where a clip's time goes, by kind of step (`timesformer-cli bench --profile`). */
typedef enum {
  TSF_STEP_LINEAR,      /* matmuls on prepared weights: the layers' linear layers */
  TSF_STEP_MATMUL,      /* other matmuls: attention products, patch embedding, classifier */
  TSF_STEP_LAYER_NORM,
  TSF_STEP_SOFTMAX,
  TSF_STEP_REORDER,     /* the clip into patches; bf16: the linear layers' inputs converted */
  TSF_STEP_HOST,        /* host steps: int8's input quantisation, cls-row copies, masks */
  TSF_N_STEP_KINDS
} TsfStepKind;

const gchar *tsf_step_kind_to_string (TsfStepKind kind);
/* Times every step of every run in the process from now on (enable) or no more, and clears the
 * totals. For a benchmark: the totals are shared by all sessions, not locked. */
void tsf_profile_enable (gboolean enable);
/* Seconds spent in each kind of step since tsf_profile_enable (TRUE). */
void tsf_profile_read (gdouble seconds[TSF_N_STEP_KINDS]);

G_END_DECLS
