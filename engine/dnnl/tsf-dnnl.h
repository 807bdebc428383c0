/* tsf-dnnl.h: a list of oneDNN primitive executions built once and run many times (internal).
 *
 * A TsfProgram owns primitives ("ops", created once per shape and shared by every step that
 * has the same shape), the memory objects each step binds (views into buffers the caller owns)
 * and one user-managed scratchpad shared by all its primitives. Running it allocates nothing.
 */
#pragma once

#include <oneapi/dnnl/dnnl.h>
#include "timesformer.h"
#include "timesformer-bench.h"

G_BEGIN_DECLS

/* Zeroed bytes after the engine's buffers that oneDNN's kernels read: their JIT code loads whole
 * vectors, past the last element, and masks the extra lanes off afterwards. */
#define TSF_DNNL_TAIL_BYTES 64

/* `bytes` zeroed bytes and a zeroed tail of TSF_DNNL_TAIL_BYTES, aligned to `alignment` (a
 * power of two, at least sizeof (void *)); NULL and TSF_ERROR_MEMORY naming `what` when they
 * cannot be had. Never aborts: for sizes that come from data. Free with free(). */
gpointer tsf_try_alloc_zeroed (gsize bytes, gsize alignment, const gchar *what, GError **error);

/* Every dnnl_* call goes through TSF_DNNL_CHECK: a failure becomes a TSF_ERROR_BACKEND GError
 * naming the call, and the enclosing function returns `fail_value`. */
#define TSF_DNNL_CHECK(call, error, fail_value) G_STMT_START { \
    dnnl_status_t tsf_status_ = (call); \
    if (tsf_status_ != dnnl_success) { \
      tsf_dnnl_set_error ((error), tsf_status_, #call, __FILE__, __LINE__); \
      return (fail_value); \
    } \
  } G_STMT_END

void tsf_dnnl_set_error (GError **error, dnnl_status_t status, const gchar *call,
    const gchar *file, gint line);

/* The CPU engine and an in-order stream on it. */
gboolean tsf_dnnl_engine_new (dnnl_engine_t *engine, dnnl_stream_t *stream, GError **error);

/* The first implementation oneDNN offers for `desc`, or its first GEMM-based one when
 * `prefer_gemm` (falling back to the first). */
gboolean tsf_dnnl_pd_create (dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t desc,
    const_dnnl_primitive_attr_t attr, dnnl_engine_t engine, gboolean prefer_gemm,
    GError **error);

/* Two PyTorch linear layers back to back (first [mid, in] + [mid], then second [out, mid]
 * + [out], float32) as one: weight [out, in] = second x first (a one-off oneDNN matmul), bias
 * [out] = second x first_bias + second_bias (in double). */
gboolean tsf_dnnl_fold_linears (dnnl_engine_t engine, dnnl_stream_t stream, guint in, guint mid,
    guint out, const gfloat *first_weight, const gfloat *first_bias,
    const gfloat *second_weight, const gfloat *second_bias, gfloat *weight, gfloat *bias,
    GError **error);

/* Copies `src` (layout `src_md`) into `dst` (layout `dst_md`) with a one-off reorder. */
gboolean tsf_dnnl_reorder_once (dnnl_engine_t engine, dnnl_stream_t stream,
    const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *dst_md,
    void *dst, GError **error);

/* TsfPrecision (timesformer.h) is a parameter of the prepared weights and of every plan. Its
 * oneDNN type of weights (s8 for int8) and of a matmul's input (u8 for int8); AUTO has none. */
dnnl_data_type_t tsf_precision_data_type (TsfPrecision precision);
dnnl_data_type_t tsf_precision_src_type (TsfPrecision precision);
/* Bytes of one element (of either type). */
gsize tsf_precision_size (TsfPrecision precision);

/* A memory descriptor of `precision` with explicit strides (in elements). */
gboolean tsf_md_strided (dnnl_memory_desc_t *md, TsfPrecision precision, gint ndims,
    const dnnl_dim_t *dims, const dnnl_dim_t *strides, GError **error);
/* A dense row-major [rows, cols] matrix. */
gboolean tsf_md_matrix (dnnl_memory_desc_t *md, TsfPrecision precision, dnnl_dim_t rows,
    dnnl_dim_t cols, GError **error);
/* torch.nn.Linear weight [out, in] seen as the matmul's [in, out] (a transposed view, no copy). */
gboolean tsf_md_linear_weight (dnnl_memory_desc_t *md, TsfPrecision precision, gint ndims,
    dnnl_dim_t in, dnnl_dim_t out, GError **error);

typedef struct {
  dnnl_primitive_t primitive;
  dnnl_memory_desc_t src, weights, bias, dst, src1;   /* what its steps bind */
  gboolean has_bias;
  gboolean has_src1;     /* a residual added as a binary post-op */
  gboolean quantized;    /* u8 input with a zero point; scales and bias are binary post-ops */
  gint residual_post_op; /* index of the residual's post-op */
  gint threads;          /* OpenMP threads it was built for and runs with */
  TsfStepKind kind;      /* for bench --profile */
} TsfOp;

typedef struct {
  gfloat scale;          /* output scale; 0 = none */
  gboolean gelu;         /* exact erf GELU post-op */
  gboolean residual;     /* dst += src1 (same shape and strides as dst) */
  gboolean multiply;     /* dst *= src1 (likewise; not with residual) */
  gboolean prefer_gemm;  /* oneDNN's GEMM-based implementation when it has one */
  gboolean single_thread; /* a small product: run it on the calling thread */
  gboolean quantized;    /* u8 src with a run-time zero point and s8 weights; dst = the int32
                          * product x scales [1, out] (post-op 0) + bias (post-op 1) */
} TsfMatmulOptions;

typedef void (*TsfHostFunc) (const gpointer *args, const gsize *sizes);

typedef struct _TsfProgram TsfProgram;

/* `threads`: OpenMP threads of the heavy primitives (matmuls, reorders, large softmaxes);
 * layer norms and softmaxes under 8M elements run on the calling thread. */
TsfProgram *tsf_program_new (dnnl_engine_t engine, TsfPrecision precision, gint threads);
/* The data type of the buffers its steps bind (activations and weights). */
TsfPrecision tsf_program_get_precision (const TsfProgram *program);
gint tsf_program_get_threads (const TsfProgram *program);
void tsf_program_free (TsfProgram *program);

/* bias_md may be NULL. With options->prefer_gemm, oneDNN's GEMM-based implementation when it
 * offers one: it reads strided and transposed operands (attention heads, PyTorch weights read
 * in place) without a copy. */
TsfOp *tsf_program_matmul_op (TsfProgram *program, const dnnl_memory_desc_t *src,
    const dnnl_memory_desc_t *weights, const dnnl_memory_desc_t *bias,
    const dnnl_memory_desc_t *dst, const TsfMatmulOptions *options, GError **error);
/* Layer normalisation over the last dimension of `data` (scale and shift, no statistics). */
TsfOp *tsf_program_layernorm_op (TsfProgram *program, const dnnl_memory_desc_t *data,
    gfloat epsilon, GError **error);
TsfOp *tsf_program_softmax_op (TsfProgram *program, const dnnl_memory_desc_t *data, gint axis,
    GError **error);
TsfOp *tsf_program_reorder_op (TsfProgram *program, const dnnl_memory_desc_t *src,
    const dnnl_memory_desc_t *dst, GError **error);

/* Steps; pointers are views into memory that outlives the program. */
gboolean tsf_program_matmul (TsfProgram *program, const TsfOp *op, gconstpointer src,
    gconstpointer weights, const gfloat *bias, gfloat *dst, const gfloat *residual,
    GError **error);
/* A quantized op's step: `zero_point` (one int32) and `scales` ([out] floats) are read when
 * it runs (a host step before it writes them). */
gboolean tsf_program_matmul_quantized (TsfProgram *program, const TsfOp *op,
    const guint8 *src, const gint32 *zero_point, gconstpointer weights, const gfloat *scales,
    const gfloat *bias, gfloat *dst, const gfloat *residual, GError **error);
gboolean tsf_program_layernorm (TsfProgram *program, const TsfOp *op, const gfloat *src,
    gfloat *dst, const gfloat *scale, const gfloat *shift, GError **error);
gboolean tsf_program_softmax (TsfProgram *program, const TsfOp *op, gfloat *data,
    GError **error);
/* Returns the src memory (owned by the program) so the caller can point it at new input. */
dnnl_memory_t tsf_program_reorder (TsfProgram *program, const TsfOp *op, gconstpointer src,
    gpointer dst, GError **error);
/* A small piece of work done on the host between primitives; args and sizes are copied. */
void tsf_program_host (TsfProgram *program, TsfHostFunc func, guint n_args,
    const gpointer *args, guint n_sizes, const gsize *sizes);

/* Allocates the shared scratchpad; call once after the last step. */
gboolean tsf_program_finish (TsfProgram *program, GError **error);
gboolean tsf_program_run (TsfProgram *program, dnnl_stream_t stream, GError **error);
/* Bytes of the scratchpad (for memory reports). */
gsize tsf_program_scratchpad_size (const TsfProgram *program);

G_END_DECLS
