/* tsf-torchzip.h: PyTorch zip checkpoints, as torch.save writes them since PyTorch 1.6
 * (pytorch_model.bin, official .pyth files) (internal).
 *
 * The archive is read with libzip, its data.pkl with the restricted unpickler (tsf-pickle.h),
 * and the storages of the state dict's tensors from the entries <archive>/data/<key>. The
 * tensors keep the names, dtypes, offsets and strides they were saved with. */
#pragma once

#include "tsf-tensors.h"

G_BEGIN_DECLS

/* The state dict of a checkpoint: the top-level dict, or its "model_state", "state_dict" or
 * "model" dict when the file is a training checkpoint. The old (pre-1.6, non-zip) format is
 * refused with an error that says how to re-save it. */
TsfTensorSet *tsf_torchzip_open (const gchar *path, GError **error);
/* The same on bytes in memory (copied where needed; `data` may be freed afterwards). */
TsfTensorSet *tsf_torchzip_parse (const guint8 *data, gsize size, const gchar *source,
    GError **error);

G_END_DECLS
