/* temp-dir-util.h: temporary folders of the tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes the files in `dir`, then `dir` (a folder of files only). */
void test_remove_dir (const gchar *dir);

G_END_DECLS
