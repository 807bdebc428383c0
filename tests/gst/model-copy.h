/* model-copy.h: test copies of a model folder with config.json or preprocessor_config.json
 * rewritten (the weights are symbolic links to the original's). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A new temporary folder holding `source`'s model: config.json with `config_members` (JSON
 * members, NULL: none) added at its start (a member given twice: the later one wins, so the
 * original's own win; add only members it lacks), and preprocessor_config.json replaced by
 * `preprocessor_json` (NULL: the original's, if any). Free with test_model_copy_remove(). */
gchar *test_model_copy (const gchar *source, const gchar *config_members,
    const gchar *preprocessor_json);

/* Removes the folder and frees `dir`. */
void test_model_copy_remove (gchar *dir);

G_END_DECLS
