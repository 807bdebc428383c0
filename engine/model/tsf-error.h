/* tsf-error.h: error helpers shared by the file readers (internal). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* Sets "SOURCE: message" in the TSF_ERROR domain; returns FALSE. */
gboolean tsf_file_error (GError **error, TsfError code, const gchar *source,
    const gchar *format, ...) G_GNUC_PRINTF (4, 5);

G_END_DECLS
