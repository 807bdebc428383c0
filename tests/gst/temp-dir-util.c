/* temp-dir-util.c: temporary folders of the tests. */
#include "temp-dir-util.h"

#include <glib/gstdio.h>

void
test_remove_dir (const gchar *dir)
{
  GDir *listing = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL) {
    gchar *path = g_build_filename (dir, name, NULL);

    g_remove (path);
    g_free (path);
  }
  if (listing != NULL)
    g_dir_close (listing);
  g_rmdir (dir);
}
