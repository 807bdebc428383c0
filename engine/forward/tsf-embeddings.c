/* tsf-embeddings.c: the embeddings stage: the clip cut into patches, the patch projection, the
 * position and time embeddings (resized by nearest neighbour to the clip's grid and frames), the
 * cls rows. */
#include "tsf-plan.h"

#include <math.h>
#include <string.h>

static gsize
patch_row (const TsfLayout *layout, guint frame, guint patch)
{
  return 1 + frame * layout->frame_stride + patch;
}

/* The source index torch's interpolate(mode='nearest') reads for output index `dst`. */
static guint
nearest_source (guint dst, guint out_size, guint in_size)
{
  gfloat scale = (gfloat) in_size / (gfloat) out_size;

  return MIN ((guint) floorf ((gfloat) dst * scale), in_size - 1);
}

/* lucidrains: pos_emb row r on token r (cls 0, then frame-major patches), or none. */
static void
fill_flat_positions (const TsfConfig *config, const TsfWeights *weights, TsfPlan *plan)
{
  guint d = config->hidden_size;

  for (gsize r = 0; r < plan->layout.rows; r++)
    for (guint i = 0; i < d; i++)
      plan->embeddings[r * d + i] = (r == 0 ? weights->cls_token[i] : 0.0f)
          + (weights->position_embeddings != NULL ? weights->position_embeddings[r * d + i] : 0);
  if (config->rotary_emb)
    tsf_fill_rotary (config, weights, plan);
}

/* cls + pos[0] on the cls rows, pos + time (resized) on the patch rows of one clip. */
static void
fill_clip_embeddings (const TsfConfig *config, const TsfWeights *weights, TsfPlan *plan)
{
  const TsfLayout *l = &plan->layout;
  guint d = config->hidden_size, side = config->image_size / config->patch_size;
  gboolean resize = l->patches != side * side;

  for (gsize r = 0; r < (l->cls_per_frame ? l->frames : 1); r++) {
    gfloat *row = plan->embeddings + r * (1 + l->patches) * d;
    for (guint i = 0; i < d; i++)
      row[i] = weights->cls_token[i] + weights->position_embeddings[i];
  }
  for (guint t = 0; t < l->frames; t++) {
    const gfloat *time = weights->time_embeddings == NULL ? NULL
        : weights->time_embeddings + (gsize) nearest_source (t, l->frames,
        config->num_frames) * d;
    for (guint y = 0; y < l->grid_h; y++) {
      for (guint x = 0; x < l->grid_w; x++) {
        guint source = resize ? nearest_source (y, l->grid_h, side) * side
            + nearest_source (x, l->grid_w, side) : y * l->grid_w + x;
        const gfloat *pos = weights->position_embeddings + (gsize) (1 + source) * d;
        gfloat *row = plan->embeddings + patch_row (l, t, y * l->grid_w + x) * d;
        for (guint i = 0; i < d; i++)
          row[i] = pos[i] + (time != NULL ? time[i] : 0.0f);
      }
    }
  }
}

void
tsf_fill_embeddings (const TsfConfig *config, const TsfWeights *weights, TsfPlan *plan)
{
  const TsfLayout *l = &plan->layout;
  guint d = config->hidden_size;

  if (l->scheme->flat_positions)
    fill_flat_positions (config, weights, plan);
  else
    fill_clip_embeddings (config, weights, plan);
  for (guint b = 1; b < plan->clips; b++)   /* every clip of a batch: the same */
    memcpy (plan->embeddings + b * l->rows * d, plan->embeddings,
        l->rows * d * sizeof (gfloat));
}

/* Per clip: the clip cut into patches (a reorder), the patch projection with the position and
 * time embeddings added as a fused residual; the cls rows. */
gboolean
tsf_add_patch_embedding (TsfRunner *runner, TsfPlan *plan, GError **error)
{
  const TsfConfig *c = runner->config;
  const TsfLayout *l = &plan->layout;
  gsize p = c->patch_size, ch = c->num_channels, d = c->hidden_size, k = ch * p * p;
  gsize H = plan->shape.height, W = plan->shape.width, T = l->frames;
  dnnl_dim_t clip_dims[6] = { T, l->grid_h, l->grid_w, ch, p, p };
  dnnl_dim_t clip_strides[6] = { ch * H * W, p * W, p, H * W, W, 1 };
  /* a patch vector: (channel, row, column), or (row, column, channel) (lucidrains) */
  dnnl_dim_t patch_strides[6] = { l->patches * k, l->grid_w * k, k, p * p, p, 1 };
  dnnl_dim_t channels_last[6] = { l->patches * k, l->grid_w * k, k, 1, p * ch, ch };
  dnnl_dim_t src_dims[3] = { T, l->patches, k }, src_strides[3] = { l->patches * k, k, 1 };
  dnnl_dim_t dst_dims[3] = { T, l->patches, d }, dst_strides[3] = { l->frame_stride * d, d, 1 };
  dnnl_memory_desc_t clip, patches, src, weights, bias, dst;
  TsfMatmulOptions options = { .residual = TRUE, .prefer_gemm = TRUE };
  TsfOp *reorder, *project;

  if (!tsf_md_strided (&clip, plan->precision, 6, clip_dims, clip_strides, error)
      || !tsf_md_strided (&patches, plan->precision, 6, clip_dims,
          l->scheme->patch_channels_last ? channels_last : patch_strides, error)
      || !tsf_md_strided (&src, plan->precision, 3, src_dims, src_strides, error)
      || !tsf_md_strided (&dst, plan->precision, 3, dst_dims, dst_strides, error)
      || !tsf_md_linear_weight (&weights, plan->precision, 3, k, d, error)
      || !tsf_md_strided (&bias, plan->precision, 3, (dnnl_dim_t[]) { 1, 1, d },
          (dnnl_dim_t[]) { d, d, 1 }, error)
      || !(reorder = tsf_program_reorder_op (plan->program, &clip, &patches, error))
      || !(project = tsf_program_matmul_op (plan->program, &src, &weights, &bias, &dst,
              &options, error)))
    return FALSE;
  for (gsize b = 0; b < plan->clips; b++) {
    gsize clip = b * l->rows * d;
    plan->clip[b] = tsf_program_reorder (plan->program, reorder, NULL, plan->patches, error);
    if (plan->clip[b] == NULL
        || !tsf_program_matmul (plan->program, project, plan->patches,
            runner->weights->patch_weight, runner->weights->patch_bias,
            plan->hidden[0] + clip + d, plan->embeddings + clip + d, error))
      return FALSE;
  }
  tsf_add_cls_rows_step (plan, tsf_host_copy_rows, plan->hidden[0], plan->embeddings, d);
  return TRUE;
}
