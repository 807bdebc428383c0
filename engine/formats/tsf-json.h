/* tsf-json.h: small json-glib helpers for the file parsers (internal). Getters leave the
 * output untouched when the member is absent; a member of the wrong type or range gives a
 * TSF_ERROR_CONFIG error naming the file, the field, what was expected and what was found. */
#pragma once

#include "timesformer.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deepest nesting of arrays and objects accepted (our files need 3). */
#define TSF_JSON_MAX_DEPTH 32
/* Most values (numbers, strings, lists, objects; a key is not one) in one JSON text: json-glib
 * takes a few hundred bytes per value, so this bounds a parse to a few hundred MB. */
#define TSF_JSON_MAX_VALUES (1 << 20)

/* Parses `text` with `parser` (which owns the result); the top level must be an object.
 * Errors carry `code`. */
JsonObject *tsf_json_parse_object (JsonParser *parser, const gchar *text, gsize length,
    const gchar *filename, TsfError code, GError **error);

/* A short description of a node for error messages ("\"abc\"", "3.5", "a list", ...). */
gchar *tsf_json_describe (JsonNode *node);
/* Sets "FILENAME: 'FIELD' must be EXPECTED, found ..." (TSF_ERROR_CONFIG); returns FALSE. */
gboolean tsf_json_type_error (const gchar *filename, const gchar *field,
    const gchar *expected, JsonNode *node, GError **error);

/* An integer (not a float) node. */
gboolean tsf_json_node_get_int64 (JsonNode *node, gint64 *value);
/* An integer or float node. */
gboolean tsf_json_node_get_number (JsonNode *node, gdouble *value);

/* An integer node within [min, max]; `field` names it in the error. */
gboolean tsf_json_node_get_uint (JsonNode *node, const gchar *filename, const gchar *field,
    guint min, guint max, guint *value, GError **error);

gboolean tsf_json_get_uint (JsonObject *object, const gchar *filename, const gchar *field,
    guint min, guint max, guint *value, GError **error);
gboolean tsf_json_get_double (JsonObject *object, const gchar *filename, const gchar *field,
    gdouble *value, GError **error);
gboolean tsf_json_get_bool (JsonObject *object, const gchar *filename, const gchar *field,
    gboolean *value, GError **error);
/* The string stays owned by the parser. */
gboolean tsf_json_get_string (JsonObject *object, const gchar *filename, const gchar *field,
    const gchar **value, GError **error);
gboolean tsf_json_get_object (JsonObject *object, const gchar *filename, const gchar *field,
    JsonObject **value, GError **error);

G_END_DECLS
