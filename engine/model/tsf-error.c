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
