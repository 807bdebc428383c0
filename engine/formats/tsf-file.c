/* tsf-file.c: regular files only, opened without blocking; caps on files read whole. */
#include "tsf-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK_BYTES (64 << 10)

const gchar *
tsf_file_errno_text (gint errsv)
{
  switch (errsv) {
    case ENOENT:
      return "does not exist";
    case EACCES:
      return "permission denied";
    case ELOOP:
      return "too many levels of symbolic links";
    case ENOTDIR:
      return "a part of the path is not a directory";
    default:
      return g_strerror (errsv);
  }
}

gint
tsf_file_probe (const gchar *path)
{
  struct stat st;

  return stat (path, &st) == 0 ? 0 : errno;
}

const gchar *
tsf_file_type_text (guint mode)
{
  if (S_ISDIR (mode))
    return "a directory";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a regular file";
}

static gboolean
check_regular (const gchar *path, const gchar *what, const struct stat *st, GError **error)
{
  if (S_ISREG (st->st_mode))
    return TRUE;
  g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "%s is %s, not a regular file; expected %s",
      path, tsf_file_type_text (st->st_mode), what);
  return FALSE;
}

static gboolean
errno_error (const gchar *path, const gchar *what, gint errsv, GError **error)
{
  g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot read %s (expected %s): %s", path, what,
      tsf_file_errno_text (errsv));
  return FALSE;
}

/* Sets the error from `errsv` and returns -1 (closing `fd` if it is open). */
static gint
open_failed (const gchar *path, const gchar *what, gint fd, gint errsv, GError **error)
{
  if (errsv != 0)
    errno_error (path, what, errsv, error);
  if (fd >= 0)
    close (fd);
  return -1;
}

gint
tsf_file_open_regular (const gchar *path, const gchar *what, guint64 *size, GError **error)
{
  struct stat st;
  gint fd;

  if (stat (path, &st) != 0)
    return open_failed (path, what, -1, errno, error);
  if (!check_regular (path, what, &st, error))
    return -1;
  /* a FIFO swapped in after the stat must not block the open */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return open_failed (path, what, -1, errno, error);
  if (fstat (fd, &st) != 0)
    return open_failed (path, what, fd, errno, error);
  if (!check_regular (path, what, &st, error))
    return open_failed (path, what, fd, 0, error);
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  *size = st.st_size;
  return fd;
}

static gboolean
too_large (const gchar *path, const gchar *what, guint64 size, gsize max_bytes, gboolean exact,
    GError **error)
{
  g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "%s is %s%" G_GUINT64_FORMAT " bytes; %s may "
      "be at most %" G_GSIZE_FORMAT " bytes", path, exact ? "" : "more than ", size, what,
      max_bytes);
  return FALSE;
}

/* Reads to the end, at most max_bytes + 1 (the size stat gives may be 0, as in /proc). */
static gboolean
read_all (gint fd, const gchar *path, const gchar *what, gsize max_bytes, GByteArray *bytes,
    GError **error)
{
  guint8 chunk[READ_CHUNK_BYTES];

  for (;;) {
    gssize got = read (fd, chunk, MIN (sizeof chunk, max_bytes + 1 - bytes->len));

    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return errno_error (path, what, errno, error);
    if (got == 0)
      return TRUE;
    g_byte_array_append (bytes, chunk, got);
    if (bytes->len > max_bytes)
      return too_large (path, what, max_bytes, max_bytes, FALSE, error);
  }
}

gboolean
tsf_file_read_capped (const gchar *path, const gchar *what, gsize max_bytes, gchar **contents,
    gsize *length, GError **error)
{
  guint64 size = 0;
  gint fd = tsf_file_open_regular (path, what, &size, error);
  GByteArray *bytes;
  gboolean ok;

  if (fd < 0)
    return FALSE;
  if (size > max_bytes) {
    close (fd);
    return too_large (path, what, size, max_bytes, TRUE, error);
  }
  bytes = g_byte_array_sized_new (size + 1);
  ok = read_all (fd, path, what, max_bytes, bytes, error);
  close (fd);
  if (!ok) {
    g_byte_array_unref (bytes);
    return FALSE;
  }
  *length = bytes->len;
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  *contents = (gchar *) g_byte_array_free (bytes, FALSE);
  return TRUE;
}

GMappedFile *
tsf_file_map (const gchar *path, const gchar *what, GError **error)
{
  GError *local = NULL;
  guint64 size;
  gint fd = tsf_file_open_regular (path, what, &size, error);
  GMappedFile *file;

  if (fd < 0)
    return NULL;
  file = g_mapped_file_new_from_fd (fd, FALSE, &local);
  close (fd);
  if (file == NULL) {
    g_set_error (error, TSF_ERROR, TSF_ERROR_IO, "cannot map %s (expected %s): %s", path,
        what, local->message);
    g_error_free (local);
  }
  return file;
}
