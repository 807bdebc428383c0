/* model-copy.c: test copies of a model folder. */
#include "model-copy.h"

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const gchar *const model_files[] = { "config.json", "model.safetensors",
  "preprocessor_config.json" };

static void
link_file (const gchar *source, const gchar *dir, const gchar *name)
{
  gchar *target = g_build_filename (source, name, NULL);
  gchar *link = g_build_filename (dir, name, NULL);

  if (g_file_test (target, G_FILE_TEST_EXISTS))
    fail_unless (symlink (target, link) == 0, "symlink %s", link);
  g_free (target);
  g_free (link);
}

static void
write_file (const gchar *dir, const gchar *name, const gchar *text)
{
  gchar *path = g_build_filename (dir, name, NULL);

  fail_unless (g_file_set_contents (path, text, -1, NULL), "cannot write %s", path);
  g_free (path);
}

static void
write_config (const gchar *source, const gchar *dir, const gchar *members)
{
  gchar *path = g_build_filename (source, "config.json", NULL), *text, *edited;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL), "cannot read %s", path);
  fail_unless (strchr (text, '{') != NULL);
  edited = g_strconcat ("{", members, ",", strchr (text, '{') + 1, NULL);
  write_file (dir, "config.json", edited);
  g_free (edited);
  g_free (text);
  g_free (path);
}

gchar *
test_model_copy (const gchar *source, const gchar *config_members,
    const gchar *preprocessor_json)
{
  gchar *dir = g_dir_make_tmp ("tsf-model-XXXXXX", NULL);

  fail_unless (dir != NULL);
  link_file (source, dir, "model.safetensors");
  if (config_members != NULL)
    write_config (source, dir, config_members);
  else
    link_file (source, dir, "config.json");
  if (preprocessor_json != NULL)
    write_file (dir, "preprocessor_config.json", preprocessor_json);
  else
    link_file (source, dir, "preprocessor_config.json");
  return dir;
}

void
test_model_copy_remove (gchar *dir)
{
  for (guint i = 0; i < G_N_ELEMENTS (model_files); i++) {
    gchar *path = g_build_filename (dir, model_files[i], NULL);

    g_unlink (path);
    g_free (path);
  }
  g_rmdir (dir);
  g_free (dir);
}
