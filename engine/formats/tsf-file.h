/* tsf-file.h: opening the files a model is made of (internal). Only regular files are read
 * (a FIFO, a device or a socket is refused before it can block or stream for ever), and a file
 * read whole has a size cap. Errors are TSF_ERROR_IO and name the file, what it was expected
 * to be and why it cannot be read ("permission denied", "too many levels of symbolic
 * links", ...). The caps are listed in docs/model-format.md ("Limits"). */
#pragma once

#include "timesformer.h"

G_BEGIN_DECLS

/* Caps on the files read whole. */
#define TSF_MAX_CONFIG_BYTES        (16 << 20)  /* config.json */
#define TSF_MAX_PREPROCESSOR_BYTES  (1 << 20)   /* preprocessor_config.json */
#define TSF_MAX_LABELS_FILE_BYTES   (64 << 20)  /* a labels file */

/* How a path's stat() failed, in words ("does not exist", "permission denied", "too many
 * levels of symbolic links", or strerror's text). */
const gchar *tsf_file_errno_text (gint errsv);

/* What a stat() mode names: "a directory", "a FIFO", "a character device", ... */
const gchar *tsf_file_type_text (guint mode);

/* 0 if `path` exists (following symbolic links), else the errno of stat(). */
gint tsf_file_probe (const gchar *path);

/* Opens a regular file read-only without blocking (O_NONBLOCK; checked again with fstat after
 * the open); `what` describes it in errors ("config.json, the model's TimesformerConfig").
 * Returns the descriptor and its size, or -1. */
gint tsf_file_open_regular (const gchar *path, const gchar *what, guint64 *size,
    GError **error);

/* The whole of a regular file of at most `max_bytes`, NUL-terminated; past the cap an error
 * gives the file's size and the cap. */
gboolean tsf_file_read_capped (const gchar *path, const gchar *what, gsize max_bytes,
    gchar **contents, gsize *length, GError **error);

/* A regular file mapped read-only. */
GMappedFile *tsf_file_map (const gchar *path, const gchar *what, GError **error);

G_END_DECLS
