/* timesformer-npy.h: NumPy .npy files of float32 or float64 (public: the CLI reads clips with it). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TSF_NPY_MAX_DIMS 8

typedef struct {
  guint ndim;
  gsize shape[TSF_NPY_MAX_DIMS];
  gfloat *data;              /* C-order, native float32 */
} TsfNpyArray;

/* Reads a little-endian float32 ('<f4') or float64 ('<f8', rounded to float32) array, C or
 * Fortran order (converted to C order). */
gboolean tsf_npy_read (const gchar *path, TsfNpyArray *array, GError **error);
gboolean tsf_npy_parse (const guint8 *data, gsize size, const gchar *source,
    TsfNpyArray *array, GError **error);
/* A frame mask: a one-dimensional bool ('|b1') or uint8 ('|u1') array; `mask` receives
 * `frames` bytes, 1 where the value is non-zero (free with g_free). */
gboolean tsf_npy_read_mask (const gchar *path, guint8 **mask, gsize *frames, GError **error);
gboolean tsf_npy_write (const gchar *path, const TsfNpyArray *array, GError **error);
void tsf_npy_clear (TsfNpyArray *array);

G_END_DECLS
