/* tsf-precision.h: choosing the precision a model runs in (internal). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* `requested` as it will run: TSF_PRECISION_AUTO becomes the fastest of f32, bf16 and int8
 * that this CPU runs, by a short matmul measurement; bf16 or int8 asked for but without a
 * oneDNN matmul here is TSF_ERROR_UNSUPPORTED. For bf16 (asked for or chosen), `warning`
 * receives a sentence when bf16 measured slower than f32 (else NULL; free it). */
gboolean tsf_precision_choose (TsfPrecision requested, gint threads, TsfPrecision *chosen,
    gchar **warning, GError **error);

G_END_DECLS
