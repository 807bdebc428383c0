/* gsttsfpreprocess.h: the one owner of timesformer's geometry: the model's preprocessing recipe
 * (TsfConfig, from preprocessor_config.json) applied to a region of a frame, as
 * transformers' VideoMAEImageProcessor applies it (internal to the element).
 *
 * The recipes it accepts, all of VideoMAEImageProcessor's:
 *   resize: size {"shortest_edge": S} (the shorter side to S, the longer in proportion, its
 *           length truncated), size {"height": H, "width": W} (exactly), or do_resize false;
 *   crop:   crop_size {"height": h, "width": w} centred in the resized region (padded with black,
 *           as transformers pads with zeros, where the region is smaller), or do_center_crop
 *           false (the resized region whole).
 * With fit letterbox or stretch the whole region is scaled into the recipe's input size (its crop,
 * else its exact size, else its shortest edge squared, else image_size squared), keeping its
 * aspect ratio with black bars around it, or not.
 * The model's input is then cut on the right and at the bottom to a multiple of the patch size,
 * which is what the model's patch convolution does with the rest in transformers (it reads
 * whole patches only). So "no resize, no crop" feeds the region at its own size, cut to whole
 * patches; its clips change size with the frames (the engine interpolates the position
 * embeddings, as transformers does). A recipe whose input would be smaller than one patch is
 * refused. */
#pragma once

#include <gst/video/video.h>

#include "timesformer.h"

G_BEGIN_DECLS

/* How the region is fitted to the model's input: the model's recipe (resize, centre crop), or the
 * whole region in the recipe's input size, scaled to fit with black bars or stretched. */
typedef enum {
  GST_TSF_FIT_CROP,
  GST_TSF_FIT_LETTERBOX,
  GST_TSF_FIT_STRETCH,
} GstTsfFit;

/* What to do with one region of a frame: resize `region` to resized_width x resized_height
 * (Pillow's bilinear, gsttsfresample.h), keep `window` of it, put that at (dest_x, dest_y) of a
 * black width x height input. */
typedef struct {
  GstVideoRectangle region;  /* the pixels read, in frame coordinates */
  guint resized_width;       /* the region once resized (its own size: not resized) */
  guint resized_height;
  GstVideoRectangle window;  /* the part of the resized region kept, in resized pixels */
  gint dest_x;               /* where the window lands in the model's input */
  gint dest_y;
  guint width;               /* the model's input: one frame of a clip */
  guint height;
} GstTsfPreprocessPlan;

/* Checks at start() that the recipe can be honoured for some frame; FALSE with an error that
 * names the recipe if not. *width and *height: the input size when it does not depend on the
 * frame (the recipe crops, or resizes exactly), else 0. */
gboolean gst_tsf_preprocess_check (const TsfConfig *config, GstTsfFit fit, guint *width,
    guint *height, GError **error);

/* The crop and resize of `roi` (frame pixels, inside the frame). FALSE with an error that names
 * the recipe if the input would be smaller than one patch. */
gboolean gst_tsf_preprocess_plan (const TsfConfig *config, GstTsfFit fit,
    const GstVideoRectangle *roi, GstTsfPreprocessPlan *plan, GError **error);

/* The recipe in words, as in preprocessor_config.json ("size.shortest_edge 224, crop_size
 * 224x224"); free it. */
gchar *gst_tsf_preprocess_describe (const TsfConfig *config);

G_END_DECLS
