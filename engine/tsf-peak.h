/* tsf-peak.h: what oneDNN's matmul reaches on a model's own GEMM shapes (internal; the bench). */
#pragma once

#include "tsf-forward.h"

G_BEGIN_DECLS

typedef struct _TsfMatmulPeak TsfMatmulPeak;

/* Prepares one plain float32 matmul per shape (weights in the layout oneDNN prefers, the
 * faster of its default and GEMM-based implementations); buffers are shared by the shapes. */
TsfMatmulPeak *tsf_matmul_peak_new (const TsfGemmShape *shapes, guint n_shapes, gint threads,
    GError **error);
/* Runs every shape once; `seconds` receives the time of one clip's linear layers at this
 * speed (each shape's time x its count). */
gboolean tsf_matmul_peak_run (TsfMatmulPeak *peak, gdouble *seconds, GError **error);
/* Floating point operations of one clip's linear layers (multiply-add = 2). */
gdouble tsf_matmul_peak_flops (const TsfMatmulPeak *peak);
void tsf_matmul_peak_free (TsfMatmulPeak *peak);

G_END_DECLS
