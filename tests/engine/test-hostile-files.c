/* Hostile model files: FIFOs and devices where files are expected, symbolic links to /dev/zero
 * and in loops, files past their size caps, permissions, non-finite or tiny preprocessing
 * numbers. Each is refused with an error naming the file and the reason, quickly: every test
 * runs under an alarm, so a read that blocks or streams for ever fails the test. */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-files.h"
#include "timesformer-npy.h"
#include "tsf-config.h"
#include "tsf-file.h"
#include "tsf-json.h"

#include <json-glib/json-glib.h>
#include "tsf-source.h"

#define CASE_SECONDS 20
#define NOBODY_UID 65534

typedef struct {
  gchar *dir;          /* a good tiny model directory */
  gchar *config_json;
  GArray *tensors;
} Fixture;

/* Puts back the good config.json and model.safetensors (after a test replaced one). */
static void
restore_model (Fixture *f)
{
  g_autofree gchar *config = g_build_filename (f->dir, "config.json", NULL);
  g_autofree gchar *weights = g_build_filename (f->dir, "model.safetensors", NULL);

  g_unlink (config);
  g_unlink (weights);
  test_write_model_dir (f->dir, f->config_json, f->tensors);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  alarm (CASE_SECONDS);   /* SIGALRM ends a test that hangs */
  f->dir = test_dir_new ();
  f->config_json = test_tiny_config_json (TSF_ATTENTION_DIVIDED_SPACE_TIME, NULL);
  f->tensors = test_tiny_tensors (TSF_ATTENTION_DIVIDED_SPACE_TIME, TRUE);
  test_write_model_dir (f->dir, f->config_json, f->tensors);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_chmod (f->dir, 0700);
  test_dir_free (f->dir);
  g_free (f->config_json);
  g_array_unref (f->tensors);
  alarm (0);
}

static gchar *
path_in (Fixture *f, const gchar *name)
{
  return g_build_filename (f->dir, name, NULL);
}

/* Replaces dir/name with a FIFO. */
static gchar *
make_fifo (Fixture *f, const gchar *name)
{
  gchar *path = path_in (f, name);

  g_unlink (path);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  return path;
}

/* Replaces dir/name with a symbolic link to `target`. */
static gchar *
make_link (Fixture *f, const gchar *name, const gchar *target)
{
  gchar *path = path_in (f, name);

  g_unlink (path);
  g_assert_cmpint (symlink (target, path), ==, 0);
  return path;
}

static void
assert_open_fails (const gchar *model, const TsfModelOptions *options, TsfError code,
    const gchar *culprit, const gchar *reason)
{
  TsfConfig config;
  GError *error = NULL;

  g_assert_null (tsf_source_open_with_options (model, options, &config, NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, culprit));
  assert_tsf_error (error, code, reason);
}

static void
assert_opens (const gchar *model, const TsfModelOptions *options)
{
  TsfConfig config;
  GError *error = NULL;
  TsfTensorSet *tensors = tsf_source_open_with_options (model, options, &config, NULL, &error);

  g_assert_no_error (error);
  tsf_tensor_set_free (tensors);
  tsf_config_clear (&config);
}

static void
test_fifos (Fixture *f, gconstpointer data)
{
  const gchar *names[] = { "config.json", "preprocessor_config.json", "model.safetensors" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *fifo = make_fifo (f, names[i]);
    assert_open_fails (f->dir, NULL, TSF_ERROR_IO, fifo, "is a FIFO, not a regular file");
    g_unlink (fifo);
    restore_model (f);
  }
  g_autofree gchar *model = make_fifo (f, "model.pyth");
  assert_open_fails (model, NULL, TSF_ERROR_IO, model, "is a FIFO, neither a directory nor");
  g_autofree gchar *bin = make_fifo (f, "pytorch_model.bin");
  g_autofree gchar *safetensors = path_in (f, "model.safetensors");
  g_unlink (safetensors);
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, bin, "is a FIFO");
}

static void
test_fifo_labels_and_clip (Fixture *f, gconstpointer data)
{
  g_autofree gchar *labels = make_fifo (f, "labels.txt");
  TsfModelOptions options = { .labels_file = labels };
  TsfNpyArray array;
  GError *error = NULL;

  assert_open_fails (f->dir, &options, TSF_ERROR_IO, labels, "is a FIFO");
  g_autofree gchar *clip = make_fifo (f, "clip.npy");
  g_assert_false (tsf_npy_read (clip, &array, &error));
  assert_tsf_error (error, TSF_ERROR_IO, "is a FIFO");
}

static void
test_links_to_devices (Fixture *f, gconstpointer data)
{
  const gchar *names[] = { "config.json", "model.safetensors" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *link = make_link (f, names[i], "/dev/zero");
    assert_open_fails (f->dir, NULL, TSF_ERROR_IO, link, "is a character device");
    restore_model (f);
  }
  TsfModelOptions options = { .labels_file = "/dev/zero" };
  assert_open_fails (f->dir, &options, TSF_ERROR_IO, "/dev/zero", "is a character device");
  assert_open_fails ("/dev/zero", NULL, TSF_ERROR_IO, "/dev/zero",
      "is a character device, neither a directory nor");
}

static void
test_symlink_loops (Fixture *f, gconstpointer data)
{
  g_autofree gchar *a = path_in (f, "loop-a");
  g_autofree gchar *b = make_link (f, "loop-b", a);
  g_autofree gchar *a_link = make_link (f, "loop-a", b);

  assert_open_fails (a, NULL, TSF_ERROR_IO, a, "too many levels of symbolic links");
  g_autofree gchar *config = make_link (f, "config.json", "config.json");
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, config, "too many levels of symbolic links");
}

/* config.json with an ignored string member that makes the file exactly `bytes` long. */
static void
write_sized_config (Fixture *f, gsize bytes)
{
  g_autofree gchar *good = g_strdup (f->config_json);
  gchar *brace = strrchr (good, '}');
  GString *text;

  *brace = '\0';
  text = g_string_new (good);
  g_string_append (text, ", \"padding\": \"");
  g_assert_cmpuint (text->len + 2, <=, bytes);
  while (text->len + 2 < bytes)
    g_string_append_c (text, 'x');
  g_string_append (text, "\"}");
  g_assert_cmpuint (text->len, ==, bytes);
  g_free (test_write_file (f->dir, "config.json", text->str, text->len));
  g_string_free (text, TRUE);
}

static void
test_config_size_cap (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = path_in (f, "config.json");
  g_autofree gchar *cap = g_strdup_printf ("%d bytes", TSF_MAX_CONFIG_BYTES);

  write_sized_config (f, TSF_MAX_CONFIG_BYTES);
  assert_opens (f->dir, NULL);
  write_sized_config (f, TSF_MAX_CONFIG_BYTES + 1);
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, config, cap);
}

static void
test_labels_and_preprocessor_caps (Fixture *f, gconstpointer data)
{
  g_autofree gchar *big = g_malloc (TSF_MAX_LABELS_FILE_BYTES + 1);
  g_autofree gchar *cap = g_strdup_printf ("%d bytes", TSF_MAX_LABELS_FILE_BYTES);

  memset (big, 'a', TSF_MAX_LABELS_FILE_BYTES + 1);
  g_autofree gchar *labels = test_write_file (f->dir, "labels.txt", big,
      TSF_MAX_LABELS_FILE_BYTES + 1);
  TsfModelOptions options = { .labels_file = labels };
  assert_open_fails (f->dir, &options, TSF_ERROR_IO, labels, cap);

  g_autofree gchar *preprocessor = test_write_file (f->dir, "preprocessor_config.json", big,
      TSF_MAX_PREPROCESSOR_BYTES + 1);
  g_autofree gchar *preprocessor_cap = g_strdup_printf ("%d bytes", TSF_MAX_PREPROCESSOR_BYTES);
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, preprocessor, preprocessor_cap);
}

/* Values in a JSON node: itself and everything in it. */
static guint64
count_nodes (JsonNode *node)
{
  guint64 n = 1;

  if (JSON_NODE_HOLDS_OBJECT (node)) {
    g_autoptr (GList) members = json_object_get_values (json_node_get_object (node));
    for (GList *m = members; m; m = m->next)
      n += count_nodes (m->data);
  } else if (JSON_NODE_HOLDS_ARRAY (node)) {
    g_autoptr (GList) elements = json_array_get_elements (json_node_get_array (node));
    for (GList *e = elements; e; e = e->next)
      n += count_nodes (e->data);
  }
  return n;
}

/* config.json with an ignored list member "many" that brings it to `values` JSON values. */
static void
write_config_with_values (Fixture *f, guint64 values)
{
  g_autofree gchar *good = g_strdup (f->config_json);
  g_autoptr (JsonParser) parser = json_parser_new ();
  guint64 own;
  GString *text;

  g_assert_true (json_parser_load_from_data (parser, good, -1, NULL));
  own = count_nodes (json_parser_get_root (parser));
  *strrchr (good, '}') = '\0';
  text = g_string_new (good);
  g_string_append (text, ", \"many\": [0");
  for (guint64 i = own + 2; i < values; i++)   /* the list and its first element: + 2 */
    g_string_append (text, ",0");
  g_string_append (text, "]}");
  g_free (test_write_file (f->dir, "config.json", text->str, text->len));
  g_string_free (text, TRUE);
}

static void
test_json_value_cap (Fixture *f, gconstpointer data)
{
  g_autofree gchar *config = path_in (f, "config.json");
  g_autofree gchar *count = g_strdup_printf ("%d JSON values", TSF_JSON_MAX_VALUES + 1);

  write_config_with_values (f, TSF_JSON_MAX_VALUES);
  assert_opens (f->dir, NULL);
  write_config_with_values (f, TSF_JSON_MAX_VALUES + 1);
  assert_open_fails (f->dir, NULL, TSF_ERROR_CONFIG, config, count);
}

/* Gives the model directory and its files to nobody, then becomes nobody. */
static gboolean
become_nobody (Fixture *f)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *path = path_in (f, name);
    if (lchown (path, NOBODY_UID, NOBODY_UID) != 0)
      return FALSE;
  }
  return chown (f->dir, NOBODY_UID, NOBODY_UID) == 0 && setgid (NOBODY_UID) == 0
      && setuid (NOBODY_UID) == 0;
}

/* Whether a child can switch to nobody (not in every container). */
static gboolean
can_become_nobody (void)
{
  gint status = 0;
  pid_t child = fork ();

  if (child == 0)
    _exit (setgid (NOBODY_UID) == 0 && setuid (NOBODY_UID) == 0 ? 0 : 1);
  return child > 0 && waitpid (child, &status, 0) == child && WIFEXITED (status)
      && WEXITSTATUS (status) == 0;
}

/* Runs `check` as an unprivileged user: root reads every file whatever its mode, so as root
 * (CI) the check runs in a child that becomes nobody; skipped (with the reason) only if that
 * is not possible. */
static void
run_unprivileged (Fixture *f, void (*check) (Fixture *f))
{
  if (geteuid () != 0) {
    check (f);
    return;
  }
  if (g_test_subprocess ()) {
    if (!become_nobody (f))
      g_error ("cannot become uid %d: %s", NOBODY_UID, g_strerror (errno));
    check (f);
    return;
  }
  if (!can_become_nobody ()) {
    g_test_skip ("running as root and cannot become nobody: file modes do not apply to root");
    return;
  }
  g_test_trap_subprocess (NULL, CASE_SECONDS * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
check_permissions (Fixture *f)
{
  g_autofree gchar *config = path_in (f, "config.json");
  g_autofree gchar *weights = path_in (f, "model.safetensors");

  g_assert_cmpint (g_chmod (config, 0), ==, 0);
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, config, "permission denied");
  g_assert_cmpint (g_chmod (config, 0644), ==, 0);
  g_assert_cmpint (g_chmod (weights, 0), ==, 0);
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, weights, "permission denied");
  g_assert_cmpint (g_chmod (weights, 0644), ==, 0);
  g_assert_cmpint (g_chmod (f->dir, 0600), ==, 0);   /* no search permission */
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, config, "permission denied");
  g_assert_cmpint (g_chmod (f->dir, 0), ==, 0);
  assert_open_fails (f->dir, NULL, TSF_ERROR_IO, config, "permission denied");
}

static void
test_permissions (Fixture *f, gconstpointer data)
{
  run_unprivileged (f, check_permissions);
}

static void
assert_preprocessor_fails (Fixture *f, const gchar *json, const gchar *reason)
{
  g_autofree gchar *path = test_write_file (f->dir, "preprocessor_config.json", json, -1);

  assert_open_fails (f->dir, NULL, TSF_ERROR_CONFIG, path, reason);
}

static void
test_preprocessing_numbers (Fixture *f, gconstpointer data)
{
  assert_preprocessor_fails (f, "{\"image_std\": 1e-300}", "found 1e-300");
  assert_preprocessor_fails (f, "{\"image_std\": [0.2, 1e-45, 0.2]}", "found 1e-45");
  assert_preprocessor_fails (f, "{\"image_std\": 0}", "found 0");
  assert_preprocessor_fails (f, "{\"image_std\": -0.5}", "found -0.5");
  assert_preprocessor_fails (f, "{\"image_std\": 1e300}", "found 1e+300");
  assert_preprocessor_fails (f, "{\"image_mean\": [0, 1e300, 0]}", "found 1e+300");
  assert_preprocessor_fails (f, "{\"image_mean\": -2e6}", "'image_mean' must hold numbers "
      "from -1e+06 to 1e+06, found -2e+06");
  g_free (test_write_file (f->dir, "preprocessor_config.json",
      "{\"image_std\": 1e-6, \"image_mean\": [-1e6, 0, 1e6]}", -1));
  assert_opens (f->dir, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, test) \
  g_test_add (path, Fixture, NULL, fixture_set_up, test, fixture_tear_down)
  ADD ("/hostile-files/fifos", test_fifos);
  ADD ("/hostile-files/fifo-labels-and-clip", test_fifo_labels_and_clip);
  ADD ("/hostile-files/links-to-devices", test_links_to_devices);
  ADD ("/hostile-files/symlink-loops", test_symlink_loops);
  ADD ("/hostile-files/config-size-cap", test_config_size_cap);
  ADD ("/hostile-files/labels-and-preprocessor-caps", test_labels_and_preprocessor_caps);
  ADD ("/hostile-files/json-value-cap", test_json_value_cap);
  ADD ("/hostile-files/permissions", test_permissions);
  ADD ("/hostile-files/preprocessing-numbers", test_preprocessing_numbers);
  return g_test_run ();
}
