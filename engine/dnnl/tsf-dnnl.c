/* tsf-dnnl.c: oneDNN primitives and the step list that runs them. */
#include "tsf-dnnl.h"
#include "tsf-error.h"

#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <omp.h>

#define MAX_STEP_ARGS 10
#define MAX_HOST_ARGS 10

typedef struct {
  dnnl_primitive_t primitive;          /* NULL for a host step */
  gint threads;                        /* OpenMP threads it runs with */
  gint n_args;
  dnnl_exec_arg_t args[MAX_STEP_ARGS];
  TsfStepKind kind;
  TsfHostFunc host;
  gpointer host_args[MAX_HOST_ARGS];
  gsize host_sizes[MAX_HOST_ARGS];
} TsfStep;

struct _TsfProgram {
  dnnl_engine_t engine;                /* borrowed */
  TsfPrecision precision;              /* of the data its steps bind */
  gint threads;                        /* for the heavy primitives; the small ones run on 1 */
  GArray *steps;                       /* TsfStep */
  GPtrArray *ops;                      /* TsfOp, owned with their primitives */
  GPtrArray *memories;                 /* dnnl_memory_t bound by the steps */
  gsize scratchpad_size;
  gpointer scratchpad;
};

void
tsf_dnnl_set_error (GError **error, dnnl_status_t status, const gchar *call,
    const gchar *file, gint line)
{
  g_set_error (error, TSF_ERROR, TSF_ERROR_BACKEND, "oneDNN call %s failed: %s (%s:%d)",
      call, dnnl_status2str (status), file, line);
}

gboolean
tsf_dnnl_engine_new (dnnl_engine_t *engine, dnnl_stream_t *stream, GError **error)
{
  TSF_DNNL_CHECK (dnnl_engine_create (engine, dnnl_cpu, 0), error, FALSE);
  TSF_DNNL_CHECK (dnnl_stream_create (stream, *engine, dnnl_stream_default_flags), error, FALSE);
  return TRUE;
}

gboolean
tsf_dnnl_reorder_once (dnnl_engine_t engine, dnnl_stream_t stream,
    const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *dst_md,
    void *dst, GError **error)
{
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_memory_t from = NULL, to = NULL;
  dnnl_status_t status;

  status = dnnl_reorder_primitive_desc_create (&pd, src_md, engine, dst_md, engine, NULL);
  if (status == dnnl_success)
    status = dnnl_primitive_create (&reorder, pd);
  if (status == dnnl_success)
    status = dnnl_memory_create (&from, src_md, engine, (void *) src);
  if (status == dnnl_success)
    status = dnnl_memory_create (&to, dst_md, engine, dst);
  if (status == dnnl_success) {
    dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };
    status = dnnl_primitive_execute (reorder, stream, 2, args);
  }
  if (status == dnnl_success)
    status = dnnl_stream_wait (stream);
  dnnl_memory_destroy (from);
  dnnl_memory_destroy (to);
  dnnl_primitive_destroy (reorder);
  dnnl_primitive_desc_destroy (pd);
  TSF_DNNL_CHECK (status, error, FALSE);
  return TRUE;
}

/* c [m, n] = a [m, k] b [k, n], float32 row-major, by a one-off matmul (default
 * scratchpad, default attributes). */
static gboolean
matmul_once (dnnl_engine_t engine, dnnl_stream_t stream, guint m, guint k, guint n,
    const gfloat *a, const gfloat *b, gfloat *c, GError **error)
{
  dnnl_memory_desc_t a_md, b_md, c_md;
  dnnl_matmul_desc_t desc;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t matmul = NULL;
  dnnl_memory_t mem[3] = { NULL, NULL, NULL };
  dnnl_status_t status;

  if (!tsf_md_matrix (&a_md, TSF_PRECISION_F32, m, k, error)
      || !tsf_md_matrix (&b_md, TSF_PRECISION_F32, k, n, error)
      || !tsf_md_matrix (&c_md, TSF_PRECISION_F32, m, n, error))
    return FALSE;
  TSF_DNNL_CHECK (dnnl_matmul_desc_init (&desc, &a_md, &b_md, NULL, &c_md), error, FALSE);
  if (!tsf_dnnl_pd_create (&pd, &desc, NULL, engine, FALSE, error))
    return FALSE;
  status = dnnl_primitive_create (&matmul, pd);
  if (status == dnnl_success)
    status = dnnl_memory_create (&mem[0], &a_md, engine, (void *) a);
  if (status == dnnl_success)
    status = dnnl_memory_create (&mem[1], &b_md, engine, (void *) b);
  if (status == dnnl_success)
    status = dnnl_memory_create (&mem[2], &c_md, engine, c);
  if (status == dnnl_success) {
    dnnl_exec_arg_t args[3] = { { DNNL_ARG_SRC, mem[0] }, { DNNL_ARG_WEIGHTS, mem[1] },
      { DNNL_ARG_DST, mem[2] } };
    status = dnnl_primitive_execute (matmul, stream, 3, args);
  }
  if (status == dnnl_success)
    status = dnnl_stream_wait (stream);
  for (guint i = 0; i < 3; i++)
    dnnl_memory_destroy (mem[i]);
  dnnl_primitive_destroy (matmul);
  dnnl_primitive_desc_destroy (pd);
  TSF_DNNL_CHECK (status, error, FALSE);
  return TRUE;
}

gboolean
tsf_dnnl_fold_linears (dnnl_engine_t engine, dnnl_stream_t stream, guint in, guint mid,
    guint out, const gfloat *first_weight, const gfloat *first_bias,
    const gfloat *second_weight, const gfloat *second_bias, gfloat *weight, gfloat *bias,
    GError **error)
{
  if (!matmul_once (engine, stream, out, mid, in, second_weight, first_weight, weight, error))
    return FALSE;
  for (guint o = 0; o < out; o++) {
    gdouble sum = second_bias[o];
    for (guint k = 0; k < mid; k++)
      sum += (gdouble) second_weight[(gsize) o * mid + k] * first_bias[k];
    bias[o] = (gfloat) sum;
  }
  return TRUE;
}

dnnl_data_type_t
tsf_precision_data_type (TsfPrecision precision)
{
  static const dnnl_data_type_t types[] = { [TSF_PRECISION_F32] = dnnl_f32,
    [TSF_PRECISION_BF16] = dnnl_bf16, [TSF_PRECISION_INT8] = dnnl_s8 };

  g_return_val_if_fail ((guint) precision < G_N_ELEMENTS (types), dnnl_f32);
  return types[precision];
}

dnnl_data_type_t
tsf_precision_src_type (TsfPrecision precision)
{
  return precision == TSF_PRECISION_INT8 ? dnnl_u8 : tsf_precision_data_type (precision);
}

gsize
tsf_precision_size (TsfPrecision precision)
{
  static const gsize sizes[] = { [TSF_PRECISION_F32] = sizeof (gfloat),
    [TSF_PRECISION_BF16] = sizeof (guint16), [TSF_PRECISION_INT8] = sizeof (gint8) };

  g_return_val_if_fail ((guint) precision < G_N_ELEMENTS (sizes), sizeof (gfloat));
  return sizes[precision];
}

gboolean
tsf_md_strided (dnnl_memory_desc_t *md, TsfPrecision precision, gint ndims,
    const dnnl_dim_t *dims, const dnnl_dim_t *strides, GError **error)
{
  dnnl_dims_t d = { 0 }, s = { 0 };

  memcpy (d, dims, ndims * sizeof (dnnl_dim_t));
  memcpy (s, strides, ndims * sizeof (dnnl_dim_t));
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_strides (md, ndims, d,
          tsf_precision_data_type (precision), s), error, FALSE);
  return TRUE;
}

gboolean
tsf_md_matrix (dnnl_memory_desc_t *md, TsfPrecision precision, dnnl_dim_t rows,
    dnnl_dim_t cols, GError **error)
{
  return tsf_md_strided (md, precision, 2, (dnnl_dim_t[]) { rows, cols },
      (dnnl_dim_t[]) { cols, 1 }, error);
}

gboolean
tsf_md_linear_weight (dnnl_memory_desc_t *md, TsfPrecision precision, gint ndims,
    dnnl_dim_t in, dnnl_dim_t out, GError **error)
{
  dnnl_dim_t dims[3] = { 1, in, out }, strides[3] = { in * out, 1, in };

  g_return_val_if_fail (ndims == 2 || ndims == 3, FALSE);
  return tsf_md_strided (md, precision, ndims, dims + 3 - ndims, strides + 3 - ndims, error);
}

TsfPrecision
tsf_program_get_precision (const TsfProgram *program)
{
  return program->precision;
}

gint
tsf_program_get_threads (const TsfProgram *program)
{
  return program->threads;
}

TsfProgram *
tsf_program_new (dnnl_engine_t engine, TsfPrecision precision, gint threads)
{
  TsfProgram *program = g_new0 (TsfProgram, 1);

  program->precision = precision;
  program->engine = engine;
  program->threads = threads;
  program->steps = g_array_new (FALSE, TRUE, sizeof (TsfStep));
  program->ops = g_ptr_array_new ();
  program->memories = g_ptr_array_new ();
  return program;
}

void
tsf_program_free (TsfProgram *program)
{
  if (program == NULL)
    return;
  for (guint i = 0; i < program->memories->len; i++)
    dnnl_memory_destroy (g_ptr_array_index (program->memories, i));
  for (guint i = 0; i < program->ops->len; i++) {
    TsfOp *op = g_ptr_array_index (program->ops, i);
    dnnl_primitive_destroy (op->primitive);
    g_free (op);
  }
  g_ptr_array_free (program->memories, TRUE);
  g_ptr_array_free (program->ops, TRUE);
  g_array_free (program->steps, TRUE);
  free (program->scratchpad);
  g_free (program);
}

static gboolean
attr_new (dnnl_primitive_attr_t *attr, GError **error)
{
  TSF_DNNL_CHECK (dnnl_primitive_attr_create (attr), error, FALSE);
  TSF_DNNL_CHECK (dnnl_primitive_attr_set_scratchpad_mode (*attr, dnnl_scratchpad_mode_user),
      error, FALSE);
  return TRUE;
}

static gboolean
impl_is_gemm (const_dnnl_primitive_desc_t pd)
{
  const char *impl = NULL;

  return dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success
      && impl != NULL && g_str_has_prefix (impl, "gemm");
}

gboolean
tsf_dnnl_pd_create (dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t desc,
    const_dnnl_primitive_attr_t attr, dnnl_engine_t engine, gboolean prefer_gemm,
    GError **error)
{
  dnnl_primitive_desc_iterator_t it;
  dnnl_primitive_desc_t first = NULL;

  TSF_DNNL_CHECK (dnnl_primitive_desc_iterator_create (&it, desc, attr, engine, NULL), error,
      FALSE);
  *pd = NULL;
  do {
    dnnl_primitive_desc_t candidate = dnnl_primitive_desc_iterator_fetch (it);
    if (candidate == NULL)
      break;
    if (first == NULL) {
      first = candidate;
      if (!prefer_gemm || impl_is_gemm (candidate))
        break;
    } else if (impl_is_gemm (candidate)) {
      *pd = candidate;
      break;
    } else {
      dnnl_primitive_desc_destroy (candidate);
    }
  } while (prefer_gemm && dnnl_primitive_desc_iterator_next (it) == dnnl_success);
  dnnl_primitive_desc_iterator_destroy (it);

  if (*pd != NULL)
    dnnl_primitive_desc_destroy (first);
  else
    *pd = first;
  if (*pd == NULL) {
    tsf_dnnl_set_error (error, dnnl_unimplemented, "dnnl_primitive_desc_iterator_fetch",
        __FILE__, __LINE__);
    return FALSE;
  }
  return TRUE;
}

static TsfStepKind
step_kind (dnnl_primitive_kind_t kind)
{
  switch (kind) {
    case dnnl_matmul:
      return TSF_STEP_MATMUL;
    case dnnl_layer_normalization:
      return TSF_STEP_LAYER_NORM;
    case dnnl_softmax:
    case dnnl_softmax_v2:
      return TSF_STEP_SOFTMAX;
    default:
      return TSF_STEP_REORDER;
  }
}

/* Creates the primitive of `pd` (consumed) and registers it as an op. */
static TsfOp *
op_new (TsfProgram *program, dnnl_primitive_desc_t pd, gint threads, GError **error)
{
  const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md (pd,
      dnnl_query_scratchpad_md, 0);
  TsfOp *op = g_new0 (TsfOp, 1);
  dnnl_primitive_kind_t pd_kind = dnnl_undefined_primitive;
  dnnl_status_t status;

  dnnl_primitive_desc_query (pd, dnnl_query_primitive_kind, 0, &pd_kind);
  if (scratch != NULL)
    program->scratchpad_size = MAX (program->scratchpad_size,
        dnnl_memory_desc_get_size (scratch));
  status = dnnl_primitive_create (&op->primitive, pd);
  dnnl_primitive_desc_destroy (pd);
  if (status != dnnl_success) {
    tsf_dnnl_set_error (error, status, "dnnl_primitive_create", __FILE__, __LINE__);
    g_free (op);
    return NULL;
  }
  op->threads = threads;
  op->kind = step_kind (pd_kind);
  g_ptr_array_add (program->ops, op);
  return op;
}

/* Post-ops of a quantized matmul: x scales [1, out], + bias [1, out]. */
static dnnl_status_t
append_dequantize (dnnl_post_ops_t post_ops, const dnnl_memory_desc_t *dst, gboolean bias)
{
  dnnl_memory_desc_t row;
  dnnl_dims_t dims = { 1, dst->dims[dst->ndims - 1] };
  dnnl_status_t status = dnnl_memory_desc_init_by_tag (&row, 2, dims, dnnl_f32, dnnl_ab);

  if (status == dnnl_success)
    status = dnnl_post_ops_append_binary (post_ops, dnnl_binary_mul, &row);
  if (status == dnnl_success && bias)
    status = dnnl_post_ops_append_binary (post_ops, dnnl_binary_add, &row);
  return status;
}

static gboolean
matmul_attr (dnnl_primitive_attr_t attr, const dnnl_memory_desc_t *dst, gboolean bias,
    const TsfMatmulOptions *options, GError **error)
{
  dnnl_post_ops_t post_ops;
  dnnl_status_t status = dnnl_success;

  if (options->scale != 0)
    TSF_DNNL_CHECK (dnnl_primitive_attr_set_output_scales (attr, 1, 0, &options->scale), error,
        FALSE);
  if (options->quantized) {
    gint32 runtime = DNNL_RUNTIME_S32_VAL;
    TSF_DNNL_CHECK (dnnl_primitive_attr_set_zero_points (attr, DNNL_ARG_SRC, 1, 0, &runtime),
        error, FALSE);
  }
  if (!options->residual && !options->multiply && !options->gelu && !options->quantized)
    return TRUE;
  TSF_DNNL_CHECK (dnnl_post_ops_create (&post_ops), error, FALSE);
  if (options->quantized)
    status = append_dequantize (post_ops, dst, bias);
  if (status == dnnl_success && (options->residual || options->multiply))
    status = dnnl_post_ops_append_binary (post_ops,
        options->multiply ? dnnl_binary_mul : dnnl_binary_add, dst);
  if (status == dnnl_success && options->gelu)
    status = dnnl_post_ops_append_eltwise (post_ops, 1.0f, dnnl_eltwise_gelu_erf, 0, 0);
  if (status == dnnl_success)
    status = dnnl_primitive_attr_set_post_ops (attr, post_ops);
  dnnl_post_ops_destroy (post_ops);
  TSF_DNNL_CHECK (status, error, FALSE);
  return TRUE;
}

TsfOp *
tsf_program_matmul_op (TsfProgram *program, const dnnl_memory_desc_t *src,
    const dnnl_memory_desc_t *weights, const dnnl_memory_desc_t *bias,
    const dnnl_memory_desc_t *dst, const TsfMatmulOptions *options, GError **error)
{
  dnnl_matmul_desc_t desc;
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  gboolean ok;
  TsfOp *op;

  gint threads = options->single_thread ? 1 : program->threads;

  /* a quantized matmul adds its bias after the scales, as a post-op */
  TSF_DNNL_CHECK (dnnl_matmul_desc_init (&desc, src, weights, options->quantized ? NULL : bias,
          dst), error, NULL);
  if (!attr_new (&attr, error))
    return NULL;
  /* implementations size their work split for the thread count at creation */
  omp_set_num_threads (threads);
  ok = matmul_attr (attr, dst, bias != NULL, options, error)
      && tsf_dnnl_pd_create (&pd, &desc, attr, program->engine, options->prefer_gemm, error);
  dnnl_primitive_attr_destroy (attr);
  op = ok ? op_new (program, pd, threads, error) : NULL;
  omp_set_num_threads (program->threads);
  if (op == NULL)
    return NULL;
  op->src = *src;
  op->weights = *weights;
  if (weights->format_kind == dnnl_blocked && weights->format_desc.blocking.inner_nblks > 0)
    op->kind = TSF_STEP_LINEAR;    /* prepared (blocked) weights */
  op->has_bias = bias != NULL;
  if (bias != NULL)
    op->bias = *bias;
  op->dst = *dst;
  op->has_src1 = options->residual || options->multiply;
  op->src1 = *dst;
  op->quantized = options->quantized;
  op->residual_post_op = options->quantized ? (bias != NULL ? 2 : 1) : 0;
  return op;
}

/* Memory-bound ops on fewer elements than this run on the calling thread: on a busy machine
 * a parallel region of their own costs each of them a wait for a descheduled thread. */
#define PARALLEL_MIN_ELEMENTS (8 << 20)

/* A primitive for `desc` on `data`, with a user scratchpad and no other attributes. */
static TsfOp *
plain_op (TsfProgram *program, const_dnnl_op_desc_t desc, const dnnl_memory_desc_t *data,
    GError **error)
{
  gint threads = dnnl_memory_desc_get_size (data) / sizeof (gfloat) < PARALLEL_MIN_ELEMENTS
      ? 1 : program->threads;
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  TsfOp *op = NULL;

  if (!attr_new (&attr, error))
    return NULL;
  omp_set_num_threads (threads);
  if (tsf_dnnl_pd_create (&pd, desc, attr, program->engine, FALSE, error))
    op = op_new (program, pd, threads, error);
  dnnl_primitive_attr_destroy (attr);
  omp_set_num_threads (program->threads);
  return op;
}

TsfOp *
tsf_program_layernorm_op (TsfProgram *program, const dnnl_memory_desc_t *data,
    gfloat epsilon, GError **error)
{
  dnnl_layer_normalization_desc_t desc;
  TsfOp *op;

  TSF_DNNL_CHECK (dnnl_layer_normalization_forward_desc_init (&desc, dnnl_forward_inference,
          data, NULL, epsilon, dnnl_use_scale | dnnl_use_shift), error, NULL);
  if ((op = plain_op (program, &desc, data, error)) == NULL)
    return NULL;
  op->src = *data;
  op->dst = *data;
  /* oneDNN's layer norm takes float32 scale and shift whatever the data's type */
  return tsf_md_strided (&op->weights, TSF_PRECISION_F32, 1, &data->dims[data->ndims - 1],
      (dnnl_dim_t[]) { 1 }, error) ? op : NULL;
}

TsfOp *
tsf_program_softmax_op (TsfProgram *program, const dnnl_memory_desc_t *data, gint axis,
    GError **error)
{
  dnnl_softmax_desc_t desc;
  TsfOp *op;

  TSF_DNNL_CHECK (dnnl_softmax_forward_desc_init (&desc, dnnl_forward_inference, data, axis),
      error, NULL);
  if ((op = plain_op (program, &desc, data, error)) == NULL)
    return NULL;
  op->src = *data;
  op->dst = *data;
  return op;
}

TsfOp *
tsf_program_reorder_op (TsfProgram *program, const dnnl_memory_desc_t *src,
    const dnnl_memory_desc_t *dst, GError **error)
{
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd;
  dnnl_status_t status;
  TsfOp *op;

  if (!attr_new (&attr, error))
    return NULL;
  status = dnnl_reorder_primitive_desc_create (&pd, src, program->engine, dst,
      program->engine, attr);
  dnnl_primitive_attr_destroy (attr);
  TSF_DNNL_CHECK (status, error, NULL);
  if ((op = op_new (program, pd, program->threads, error)) == NULL)
    return NULL;
  op->src = *src;
  op->dst = *dst;
  return op;
}

static dnnl_memory_t
step_bind (TsfProgram *program, TsfStep *step, gint arg, const dnnl_memory_desc_t *md,
    const void *data, GError **error)
{
  dnnl_memory_t memory;

  g_assert (step->n_args < MAX_STEP_ARGS);
  /* oneDNN only reads inputs; the cast drops const for its generic handle. */
  TSF_DNNL_CHECK (dnnl_memory_create (&memory, md, program->engine, (void *) data), error,
      NULL);
  g_ptr_array_add (program->memories, memory);
  step->args[step->n_args].arg = arg;
  step->args[step->n_args].memory = memory;
  step->n_args++;
  return memory;
}

static void
step_add (TsfProgram *program, const TsfStep *step)
{
  g_array_append_vals (program->steps, step, 1);
}

/* The arguments every matmul step binds: src, weights, dst and the residual. */
static gboolean
bind_matmul (TsfProgram *program, TsfStep *step, const TsfOp *op, gconstpointer src,
    gconstpointer weights, gfloat *dst, const gfloat *residual, GError **error)
{
  g_return_val_if_fail ((residual != NULL) == op->has_src1, FALSE);
  if (!step_bind (program, step, DNNL_ARG_SRC, &op->src, src, error)
      || !step_bind (program, step, DNNL_ARG_WEIGHTS, &op->weights, weights, error)
      || !step_bind (program, step, DNNL_ARG_DST, &op->dst, dst, error))
    return FALSE;
  return residual == NULL || step_bind (program, step,
      DNNL_ARG_ATTR_MULTIPLE_POST_OP (op->residual_post_op) | DNNL_ARG_SRC_1, &op->src1,
      residual, error);
}

gboolean
tsf_program_matmul (TsfProgram *program, const TsfOp *op, gconstpointer src,
    gconstpointer weights, const gfloat *bias, gfloat *dst, const gfloat *residual,
    GError **error)
{
  TsfStep step = { .primitive = op->primitive, .threads = op->threads, .kind = op->kind };

  g_return_val_if_fail ((bias != NULL) == op->has_bias && !op->quantized, FALSE);
  if (!bind_matmul (program, &step, op, src, weights, dst, residual, error))
    return FALSE;
  if (bias != NULL && !step_bind (program, &step, DNNL_ARG_BIAS, &op->bias, bias, error))
    return FALSE;
  step_add (program, &step);
  return TRUE;
}

gboolean
tsf_program_matmul_quantized (TsfProgram *program, const TsfOp *op, const guint8 *src,
    const gint32 *zero_point, gconstpointer weights, const gfloat *scales, const gfloat *bias,
    gfloat *dst, const gfloat *residual, GError **error)
{
  TsfStep step = { .primitive = op->primitive, .threads = op->threads, .kind = op->kind };
  dnnl_memory_desc_t one, row;
  dnnl_dims_t one_dims = { 1 }, row_dims = { 1, op->dst.dims[op->dst.ndims - 1] };

  g_return_val_if_fail ((bias != NULL) == op->has_bias && op->quantized, FALSE);
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&one, 1, one_dims, dnnl_s32, dnnl_a), error,
      FALSE);
  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&row, 2, row_dims, dnnl_f32, dnnl_ab), error,
      FALSE);
  if (!bind_matmul (program, &step, op, src, weights, dst, residual, error)
      || !step_bind (program, &step, DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, &one,
          zero_point, error)
      || !step_bind (program, &step, DNNL_ARG_ATTR_MULTIPLE_POST_OP (0) | DNNL_ARG_SRC_1, &row,
          scales, error))
    return FALSE;
  if (bias != NULL && !step_bind (program, &step,
          DNNL_ARG_ATTR_MULTIPLE_POST_OP (1) | DNNL_ARG_SRC_1, &row, bias, error))
    return FALSE;
  step_add (program, &step);
  return TRUE;
}

gboolean
tsf_program_layernorm (TsfProgram *program, const TsfOp *op, const gfloat *src, gfloat *dst,
    const gfloat *scale, const gfloat *shift, GError **error)
{
  TsfStep step = { .primitive = op->primitive, .threads = op->threads, .kind = op->kind };

  if (!step_bind (program, &step, DNNL_ARG_SRC, &op->src, src, error)
      || !step_bind (program, &step, DNNL_ARG_DST, &op->dst, dst, error)
      || !step_bind (program, &step, DNNL_ARG_SCALE, &op->weights, scale, error)
      || !step_bind (program, &step, DNNL_ARG_SHIFT, &op->weights, shift, error))
    return FALSE;
  step_add (program, &step);
  return TRUE;
}

gboolean
tsf_program_softmax (TsfProgram *program, const TsfOp *op, gfloat *data, GError **error)
{
  TsfStep step = { .primitive = op->primitive, .threads = op->threads, .kind = op->kind };
  dnnl_memory_t memory = step_bind (program, &step, DNNL_ARG_SRC, &op->src, data, error);

  if (memory == NULL)
    return FALSE;
  step.args[step.n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_DST, memory };
  step_add (program, &step);
  return TRUE;
}

dnnl_memory_t
tsf_program_reorder (TsfProgram *program, const TsfOp *op, gconstpointer src, gpointer dst,
    GError **error)
{
  TsfStep step = { .primitive = op->primitive, .threads = op->threads, .kind = op->kind };
  dnnl_memory_t src_memory = step_bind (program, &step, DNNL_ARG_FROM, &op->src, src, error);

  if (src_memory == NULL || !step_bind (program, &step, DNNL_ARG_TO, &op->dst, dst, error))
    return NULL;
  step_add (program, &step);
  return src_memory;
}

void
tsf_program_host (TsfProgram *program, TsfHostFunc func, guint n_args, const gpointer *args,
    guint n_sizes, const gsize *sizes)
{
  TsfStep step = { .host = func, .kind = TSF_STEP_HOST };

  g_assert (n_args <= MAX_HOST_ARGS && n_sizes <= MAX_HOST_ARGS);
  memcpy (step.host_args, args, n_args * sizeof (gpointer));
  memcpy (step.host_sizes, sizes, n_sizes * sizeof (gsize));
  step_add (program, &step);
}

gpointer
tsf_try_alloc_zeroed (gsize bytes, gsize alignment, const gchar *what, GError **error)
{
  gpointer data = NULL;

  if (bytes > G_MAXSIZE - TSF_DNNL_TAIL_BYTES
      || posix_memalign (&data, alignment, bytes + TSF_DNNL_TAIL_BYTES) != 0) {
    g_autofree gchar *size = tsf_format_bytes (bytes);
    g_set_error (error, TSF_ERROR, TSF_ERROR_MEMORY, "cannot allocate %s for %s", size, what);
    return NULL;
  }
  memset (data, 0, bytes + TSF_DNNL_TAIL_BYTES);
  return data;
}

gboolean
tsf_program_finish (TsfProgram *program, GError **error)
{
  dnnl_memory_desc_t md;
  dnnl_memory_t memory;
  dnnl_dims_t dims = { (dnnl_dim_t) MAX (program->scratchpad_size, 64) };

  TSF_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&md, 1, dims, dnnl_u8, dnnl_a), error, FALSE);
  /* Zeroed, with a zeroed tail, so that whatever oneDNN's kernels read of it (vector loads
   * reach past its end) is defined bytes. */
  program->scratchpad = tsf_try_alloc_zeroed (dims[0], 64, "oneDNN's scratchpad", error);
  if (program->scratchpad == NULL)
    return FALSE;
  TSF_DNNL_CHECK (dnnl_memory_create (&memory, &md, program->engine, program->scratchpad),
      error, FALSE);
  g_ptr_array_add (program->memories, memory);
  for (guint i = 0; i < program->steps->len; i++) {
    TsfStep *step = &g_array_index (program->steps, TsfStep, i);
    if (step->primitive == NULL)
      continue;
    g_assert (step->n_args < MAX_STEP_ARGS);
    step->args[step->n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_SCRATCHPAD, memory };
  }
  return TRUE;
}

static const gchar *const step_kind_names[TSF_N_STEP_KINDS] = {
  [TSF_STEP_LINEAR] = "linear layers", [TSF_STEP_MATMUL] = "other matmuls",
  [TSF_STEP_LAYER_NORM] = "layer norms", [TSF_STEP_SOFTMAX] = "softmax",
  [TSF_STEP_REORDER] = "reorders", [TSF_STEP_HOST] = "host steps",
};

const gchar *
tsf_step_kind_to_string (TsfStepKind kind)
{
  g_return_val_if_fail ((guint) kind < TSF_N_STEP_KINDS, "unknown");
  return step_kind_names[kind];
}

static gboolean profiling;
static gdouble profile_seconds[TSF_N_STEP_KINDS];

void
tsf_profile_enable (gboolean enable)
{
  profiling = enable;
  memset (profile_seconds, 0, sizeof profile_seconds);
}

void
tsf_profile_read (gdouble seconds[TSF_N_STEP_KINDS])
{
  memcpy (seconds, profile_seconds, sizeof profile_seconds);
}

static gboolean
run_step (const TsfStep *step, dnnl_stream_t stream, gint *threads, GError **error)
{
  if (step->primitive == NULL) {
    TSF_DNNL_CHECK (dnnl_stream_wait (stream), error, FALSE);
    step->host (step->host_args, step->host_sizes);
    return TRUE;
  }
  if (step->threads != *threads)
    omp_set_num_threads (*threads = step->threads);
  TSF_DNNL_CHECK (dnnl_primitive_execute (step->primitive, stream, step->n_args, step->args),
      error, FALSE);
  return TRUE;
}

static gboolean
run_steps (TsfProgram *program, dnnl_stream_t stream, GError **error)
{
  gint threads = program->threads;

  for (guint i = 0; i < program->steps->len; i++) {
    const TsfStep *step = &g_array_index (program->steps, TsfStep, i);
    gint64 start = profiling ? g_get_monotonic_time () : 0;
    if (!run_step (step, stream, &threads, error))
      return FALSE;
    if (profiling)   /* CPU primitives run synchronously: the step is done */
      profile_seconds[step->kind] += (g_get_monotonic_time () - start) / 1e6;
  }
  TSF_DNNL_CHECK (dnnl_stream_wait (stream), error, FALSE);
  return TRUE;
}

gboolean
tsf_program_run (TsfProgram *program, dnnl_stream_t stream, GError **error)
{
  gboolean ok = run_steps (program, stream, error);

  omp_set_num_threads (program->threads);
  return ok;
}

gsize
tsf_program_scratchpad_size (const TsfProgram *program)
{
  return program->scratchpad_size;
}
