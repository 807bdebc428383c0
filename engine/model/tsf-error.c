/* tsf-error.c: the engine's error domain and its helpers. */
#include "tsf-error.h"

G_DEFINE_QUARK (tsf-error-quark, tsf_error)

gboolean
tsf_file_error (GError **error, TsfError code, const gchar *source, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, TSF_ERROR, code, "%s: %s", source, message);
  return FALSE;
}

gchar *
tsf_format_bytes (guint64 bytes)
{
  static const gchar *const units[] = { "kB", "MB", "GB", "TB", "PB", "EB" };
  gdouble value = bytes;
  guint unit = 0;

  if (bytes < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
  for (value /= 1000; value >= 1000 && unit + 1 < G_N_ELEMENTS (units); value /= 1000)
    unit++;
  return g_strdup_printf ("%.1f %s (%" G_GUINT64_FORMAT " bytes)", value, units[unit], bytes);
}
