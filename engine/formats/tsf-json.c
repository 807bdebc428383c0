/* tsf-json.c: json-glib helpers shared by the config and safetensors parsers. */
#include "tsf-json.h"

#define DESCRIBE_MAX_CHARS 40

/* Depth and number of values, checked before json-glib builds them: it parses recursively
 * (deep nesting exhausts the stack) and takes a few hundred bytes per value (millions of
 * small values exhaust the memory). Values: every element of a list or object, plus the top level;
 * elements = commas + non-empty containers. */
static gboolean
count_values (const gchar *text, gsize length, guint max_depth, guint64 *values)
{
  guint depth = 0;
  gboolean in_string = FALSE, container_opened = FALSE;

  *values = 1;
  for (gsize i = 0; i < length; i++) {
    gchar c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
      continue;
    }
    if (container_opened && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      container_opened = FALSE;
      *values += c != ']' && c != '}';
    }
    if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      container_opened = TRUE;
      if (++depth > max_depth)
        return FALSE;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    } else if (c == ',') {
      (*values)++;
    }
  }
  return TRUE;
}

JsonObject *
tsf_json_parse_object (JsonParser *parser, const gchar *text, gsize length,
    const gchar *filename, TsfError code, GError **error)
{
  GError *local = NULL;
  guint64 values;
  if (!count_values (text, length, TSF_JSON_MAX_DEPTH, &values)) {
    g_set_error (error, TSF_ERROR, code, "%s: invalid JSON: nested deeper than %d levels",
        filename, TSF_JSON_MAX_DEPTH);
    return NULL;
  }
  if (values > TSF_JSON_MAX_VALUES) {
    g_set_error (error, TSF_ERROR, code, "%s: %" G_GUINT64_FORMAT " JSON values (numbers, "
        "strings, lists, objects); at most %d are read", filename, values,
        TSF_JSON_MAX_VALUES);
    return NULL;
  }
  if (length > G_MAXSSIZE || !json_parser_load_from_data (parser, text, length, &local)) {
    g_set_error (error, TSF_ERROR, code, "%s: invalid JSON: %s", filename,
        local ? local->message : "too large");
    g_clear_error (&local);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_autofree gchar *found = root ? tsf_json_describe (root) : g_strdup ("nothing");
    g_set_error (error, TSF_ERROR, code, "%s: expected a JSON object at the top level, "
        "found %s", filename, found);
    return NULL;
  }
  return json_node_get_object (root);
}

static gchar *
describe_string (const gchar *value)
{
  g_autofree gchar *valid = g_utf8_make_valid (value, -1);
  if (g_utf8_strlen (valid, -1) <= DESCRIBE_MAX_CHARS)
    return g_strdup_printf ("\"%s\"", valid);
  g_autofree gchar *start = g_utf8_substring (valid, 0, DESCRIBE_MAX_CHARS);
  return g_strdup_printf ("\"%s...\"", start);
}

gchar *
tsf_json_describe (JsonNode *node)
{
  switch (json_node_get_node_type (node)) {
    case JSON_NODE_OBJECT:
      return g_strdup ("an object");
    case JSON_NODE_ARRAY:
      return g_strdup ("a list");
    case JSON_NODE_NULL:
      return g_strdup ("null");
    case JSON_NODE_VALUE:
      break;
  }
  GType type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (type == G_TYPE_DOUBLE)
    return g_strdup_printf ("%g", json_node_get_double (node));
  if (type == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (node) ? "true" : "false");
  return describe_string (json_node_get_string (node));
}

gboolean
tsf_json_type_error (const gchar *filename, const gchar *field, const gchar *expected,
    JsonNode *node, GError **error)
{
  g_autofree gchar *found = tsf_json_describe (node);
  g_set_error (error, TSF_ERROR, TSF_ERROR_CONFIG, "%s: '%s' must be %s, found %s",
      filename, field, expected, found);
  return FALSE;
}

static gboolean
holds_value_of_type (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

gboolean
tsf_json_node_get_int64 (JsonNode *node, gint64 *value)
{
  if (!holds_value_of_type (node, G_TYPE_INT64))
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

gboolean
tsf_json_node_get_number (JsonNode *node, gdouble *value)
{
  if (!holds_value_of_type (node, G_TYPE_INT64) && !holds_value_of_type (node, G_TYPE_DOUBLE))
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

gboolean
tsf_json_get_uint (JsonObject *object, const gchar *filename, const gchar *field, guint min,
    guint max, guint *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, field);
  return node == NULL || tsf_json_node_get_uint (node, filename, field, min, max, value, error);
}

gboolean
tsf_json_node_get_uint (JsonNode *node, const gchar *filename, const gchar *field, guint min,
    guint max, guint *value, GError **error)
{
  gint64 number;
  if (tsf_json_node_get_int64 (node, &number) && number >= min && number <= max) {
    *value = number;
    return TRUE;
  }
  g_autofree gchar *expected = g_strdup_printf ("an integer from %u to %u", min, max);
  return tsf_json_type_error (filename, field, expected, node, error);
}

gboolean
tsf_json_get_double (JsonObject *object, const gchar *filename, const gchar *field,
    gdouble *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, field);
  if (node == NULL || tsf_json_node_get_number (node, value))
    return TRUE;
  return tsf_json_type_error (filename, field, "a number", node, error);
}

gboolean
tsf_json_get_bool (JsonObject *object, const gchar *filename, const gchar *field,
    gboolean *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, field);
  if (node == NULL)
    return TRUE;
  if (!holds_value_of_type (node, G_TYPE_BOOLEAN))
    return tsf_json_type_error (filename, field, "true or false", node, error);
  *value = json_node_get_boolean (node);
  return TRUE;
}

gboolean
tsf_json_get_string (JsonObject *object, const gchar *filename, const gchar *field,
    const gchar **value, GError **error)
{
  JsonNode *node = json_object_get_member (object, field);
  if (node == NULL)
    return TRUE;
  if (!holds_value_of_type (node, G_TYPE_STRING))
    return tsf_json_type_error (filename, field, "a string", node, error);
  *value = json_node_get_string (node);
  return TRUE;
}

gboolean
tsf_json_get_object (JsonObject *object, const gchar *filename, const gchar *field,
    JsonObject **value, GError **error)
{
  JsonNode *node = json_object_get_member (object, field);
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return tsf_json_type_error (filename, field, "an object", node, error);
  *value = json_node_get_object (node);
  return TRUE;
}
