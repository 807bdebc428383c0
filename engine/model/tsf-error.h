/* tsf-error.h: error helpers shared by the file readers (internal). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* Sets "SOURCE: message" in the TSF_ERROR domain; returns FALSE. */
gboolean tsf_file_error (GError **error, TsfError code, const gchar *source,
    const gchar *format, ...) G_GNUC_PRINTF (4, 5);

/* "4.4 TB (4398474331244 bytes)": a size for a message, in plain ASCII (g_format_size puts a
 * no-break space that a C locale prints as '?'). */
gchar *tsf_format_bytes (guint64 bytes);

G_END_DECLS
