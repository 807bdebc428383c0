/* tsf-pickle.c: the restricted unpickler for PyTorch checkpoints (see tsf-pickle.h).
 *
 * A plain loop over opcodes with a value stack, a mark stack and a memo, like Python's own
 * _Unpickler, minus everything that could import or call code. Values are owned by an arena
 * freed at once, so shared and even cyclic values (via the memo) need no reference counts. */
#include "tsf-pickle.h"

#include <string.h>

#include "timesformer.h"

#define MAX_PROTOCOL 5
#define MAX_GLOBAL_LINE 256
#define MAX_STORAGE_KEY 64

/* The callables torch.save writes for state dicts; interpreted here, never imported. */
enum {
  CALL_ORDERED_DICT,
  CALL_REBUILD_TENSOR_V2,
  CALL_REBUILD_PARAMETER,
  CALL_REBUILD_PARAMETER_WITH_STATE,
  N_CALLABLES
};

static const struct {
  const gchar *module;
  const gchar *name;
} allowed_callables[N_CALLABLES] = {
  [CALL_ORDERED_DICT] = { "collections", "OrderedDict" },
  [CALL_REBUILD_TENSOR_V2] = { "torch._utils", "_rebuild_tensor_v2" },
  [CALL_REBUILD_PARAMETER] = { "torch._utils", "_rebuild_parameter" },
  [CALL_REBUILD_PARAMETER_WITH_STATE] = { "torch._utils", "_rebuild_parameter_with_state" },
};

/* Storage types (module "torch"); tensors of the others may appear in optimizer states. */
static const TsfPickleStorageType storage_types[] = {
  { "FloatStorage", "float32", 4, TRUE, TSF_DTYPE_F32 },
  { "HalfStorage", "float16", 2, TRUE, TSF_DTYPE_F16 },
  { "BFloat16Storage", "bfloat16", 2, TRUE, TSF_DTYPE_BF16 },
  { "DoubleStorage", "float64", 8, FALSE, 0 },
  { "LongStorage", "int64", 8, FALSE, 0 },
  { "IntStorage", "int32", 4, FALSE, 0 },
  { "ShortStorage", "int16", 2, FALSE, 0 },
  { "CharStorage", "int8", 1, FALSE, 0 },
  { "ByteStorage", "uint8", 1, FALSE, 0 },
  { "BoolStorage", "bool", 1, FALSE, 0 },
};

struct _TsfPickle {
  GPtrArray *arena;         /* every value, owned */
  const TsfPickleValue *root;
};

typedef struct {
  const gchar *source;
  const guint8 *data;
  gsize size;
  gsize pos;
  gsize op_pos;             /* offset of the opcode being run, for errors */
  GPtrArray *arena;
  GPtrArray *stack;
  GArray *marks;            /* stack lengths at each MARK */
  GHashTable *memo;         /* index -> value */
  GError **error;
} Unpickler;

static const gchar *
opcode_name (guint8 op)
{
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
  }
  return "unknown";
}

const gchar *
tsf_pickle_kind_to_string (TsfPickleKind kind)
{
  switch (kind) {
    case TSF_PICKLE_NONE: return "None";
    case TSF_PICKLE_BOOL: return "bool";
    case TSF_PICKLE_INT: return "int";
    case TSF_PICKLE_FLOAT: return "float";
    case TSF_PICKLE_STRING: return "str";
    case TSF_PICKLE_TUPLE: return "tuple";
    case TSF_PICKLE_LIST: return "list";
    case TSF_PICKLE_DICT: return "dict";
    case TSF_PICKLE_GLOBAL: return "global";
    case TSF_PICKLE_STORAGE: return "storage";
    case TSF_PICKLE_TENSOR: return "tensor";
  }
  return "unknown";
}

static gboolean G_GNUC_PRINTF (2, 3)
fail (Unpickler *u, const gchar *format, ...)
{
  va_list args;
  gchar *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (u->error, TSF_ERROR, TSF_ERROR_FORMAT, "%s: pickle byte %" G_GSIZE_FORMAT
      " (%s): %s", u->source, u->op_pos, opcode_name (u->data[u->op_pos]), message);
  g_free (message);
  return FALSE;
}

static void
value_free (gpointer data)
{
  TsfPickleValue *value = data;

  switch (value->kind) {
    case TSF_PICKLE_STRING:
      g_free (value->string);
      break;
    case TSF_PICKLE_TUPLE:
    case TSF_PICKLE_LIST:
    case TSF_PICKLE_DICT:
      g_ptr_array_free (value->items, TRUE);
      break;
    case TSF_PICKLE_STORAGE:
      g_free (value->storage.key);
      break;
    default:
      break;
  }
  g_free (value);
}

static TsfPickleValue *
new_value (Unpickler *u, TsfPickleKind kind)
{
  TsfPickleValue *value = g_new0 (TsfPickleValue, 1);

  value->kind = kind;
  if (kind == TSF_PICKLE_TUPLE || kind == TSF_PICKLE_LIST || kind == TSF_PICKLE_DICT)
    value->items = g_ptr_array_new ();
  g_ptr_array_add (u->arena, value);
  return value;
}

/* ---- the input ---- */

static gboolean
take (Unpickler *u, gsize n, const guint8 **out)
{
  if (n > u->size - u->pos)
    return fail (u, "the pickle ends inside this opcode's argument (truncated file?)");
  *out = u->data + u->pos;
  u->pos += n;
  return TRUE;
}

static gboolean
read_uint (Unpickler *u, gsize n, guint64 *out)
{
  const guint8 *p = NULL;

  if (!take (u, n, &p))
    return FALSE;
  *out = 0;
  for (gsize i = 0; i < n; i++)
    *out |= (guint64) p[i] << (8 * i);
  return TRUE;
}

/* ---- the stack ---- */

static guint
current_mark (Unpickler *u)
{
  return u->marks->len ? g_array_index (u->marks, guint, u->marks->len - 1) : 0;
}

static void
push (Unpickler *u, TsfPickleValue *value)
{
  g_ptr_array_add (u->stack, value);
}

static TsfPickleValue *
pop (Unpickler *u)
{
  if (u->stack->len <= current_mark (u)) {
    fail (u, "the stack is empty");
    return NULL;
  }
  return g_ptr_array_steal_index (u->stack, u->stack->len - 1);
}

static TsfPickleValue *
top (Unpickler *u)
{
  if (u->stack->len <= current_mark (u)) {
    fail (u, "the stack is empty");
    return NULL;
  }
  return g_ptr_array_index (u->stack, u->stack->len - 1);
}

/* Moves the values above the last MARK into `items` and drops the mark. */
static gboolean
pop_to_mark (Unpickler *u, GPtrArray *items)
{
  guint mark;

  if (!u->marks->len)
    return fail (u, "no MARK before this opcode");
  mark = current_mark (u);
  g_array_set_size (u->marks, u->marks->len - 1);
  for (guint i = mark; i < u->stack->len; i++)
    g_ptr_array_add (items, g_ptr_array_index (u->stack, i));
  g_ptr_array_set_size (u->stack, mark);
  return TRUE;
}

static gboolean
push_sequence (Unpickler *u, TsfPickleKind kind, guint count)
{
  TsfPickleValue *seq = new_value (u, kind);

  if (u->stack->len < current_mark (u) + count)
    return fail (u, "the stack holds fewer than %u values", count);
  for (guint i = u->stack->len - count; i < u->stack->len; i++)
    g_ptr_array_add (seq->items, g_ptr_array_index (u->stack, i));
  g_ptr_array_set_size (u->stack, u->stack->len - count);
  push (u, seq);
  return TRUE;
}

static gboolean
push_marked (Unpickler *u, TsfPickleKind kind)
{
  TsfPickleValue *seq = new_value (u, kind);

  if (!pop_to_mark (u, seq->items))
    return FALSE;
  if (kind == TSF_PICKLE_DICT && seq->items->len % 2)
    return fail (u, "a dict needs key/value pairs, got %u values", seq->items->len);
  push (u, seq);
  return TRUE;
}

/* ---- values ---- */

static gboolean
push_int (Unpickler *u, gint64 integer)
{
  TsfPickleValue *value = new_value (u, TSF_PICKLE_INT);

  value->integer = integer;
  push (u, value);
  return TRUE;
}

static gboolean
push_bool_or_none (Unpickler *u, TsfPickleKind kind, gboolean boolean)
{
  TsfPickleValue *value = new_value (u, kind);

  value->boolean = boolean;
  push (u, value);
  return TRUE;
}

static gboolean
op_long (Unpickler *u, gsize length_bytes)
{
  guint64 n, bits = 0;
  const guint8 *p = NULL;

  if (!read_uint (u, length_bytes, &n))
    return FALSE;
  if (n > 8)
    return fail (u, "an integer of %" G_GUINT64_FORMAT " bytes is too large", n);
  if (!take (u, n, &p))
    return FALSE;
  for (guint64 i = 0; i < n; i++)
    bits |= (guint64) p[i] << (8 * i);
  if (n > 0 && n < 8 && (p[n - 1] & 0x80))
    bits |= ~G_GUINT64_CONSTANT (0) << (8 * n);   /* sign-extend */
  return push_int (u, (gint64) bits);
}

static gboolean
op_binfloat (Unpickler *u)
{
  TsfPickleValue *value;
  const guint8 *p = NULL;
  guint64 bits = 0;

  if (!take (u, 8, &p))
    return FALSE;
  for (guint i = 0; i < 8; i++)
    bits = (bits << 8) | p[i];              /* big-endian */
  value = new_value (u, TSF_PICKLE_FLOAT);
  memcpy (&value->real, &bits, sizeof value->real);
  push (u, value);
  return TRUE;
}

static gboolean
op_unicode (Unpickler *u, gsize length_bytes)
{
  TsfPickleValue *value;
  const guint8 *p = NULL;
  guint64 n;

  if (!read_uint (u, length_bytes, &n) || !take (u, n, &p))
    return FALSE;
  if (!g_utf8_validate_len ((const gchar *) p, n, NULL) || memchr (p, 0, n))
    return fail (u, "the string is not valid UTF-8 or holds a NUL");
  value = new_value (u, TSF_PICKLE_STRING);
  value->string = g_strndup ((const gchar *) p, n);
  push (u, value);
  return TRUE;
}

/* ---- globals: recognised by name, never imported ---- */

static gboolean
push_global (Unpickler *u, const gchar *module, const gchar *name)
{
  TsfPickleValue *value;
  gint index = -1;

  for (gint i = 0; i < N_CALLABLES; i++)
    if (!strcmp (module, allowed_callables[i].module) && !strcmp (name, allowed_callables[i].name))
      index = i;
  for (gint i = 0; i < (gint) G_N_ELEMENTS (storage_types); i++)
    if (!strcmp (module, "torch") && !strcmp (name, storage_types[i].name))
      index = N_CALLABLES + i;
  if (index < 0)
    return fail (u, "global '%s.%s' is not allowed: a PyTorch state dict only names "
        "collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and "
        "torch.*Storage (refused, nothing was imported or run). If the file pickles a whole "
        "Python object, save its state_dict() instead", module, name);
  value = new_value (u, TSF_PICKLE_GLOBAL);
  value->global = index;
  push (u, value);
  return TRUE;
}

static gboolean
read_line (Unpickler *u, gchar *out)
{
  const guint8 *end;
  gsize available = MIN (u->size - u->pos, MAX_GLOBAL_LINE);
  gsize n;

  end = memchr (u->data + u->pos, '\n', available);
  if (!end)
    return fail (u, "a global name without its end of line (truncated or too long)");
  n = end - (u->data + u->pos);
  memcpy (out, u->data + u->pos, n);
  out[n] = '\0';
  u->pos += n + 1;
  if (strlen (out) != n || !g_utf8_validate (out, n, NULL))
    return fail (u, "a global name that is not text");
  return TRUE;
}

static gboolean
op_global (Unpickler *u)
{
  gchar module[MAX_GLOBAL_LINE + 1], name[MAX_GLOBAL_LINE + 1];

  return read_line (u, module) && read_line (u, name) && push_global (u, module, name);
}

static gboolean
op_stack_global (Unpickler *u)
{
  TsfPickleValue *name = pop (u), *module = name ? pop (u) : NULL;

  if (!module)
    return FALSE;
  if (module->kind != TSF_PICKLE_STRING || name->kind != TSF_PICKLE_STRING)
    return fail (u, "STACK_GLOBAL needs two strings");
  return push_global (u, module->string, name->string);
}

static const TsfPickleStorageType *
as_storage_type (const TsfPickleValue *value)
{
  if (value->kind != TSF_PICKLE_GLOBAL || value->global < N_CALLABLES)
    return NULL;
  return &storage_types[value->global - N_CALLABLES];
}

static gboolean
is_storage_key (const gchar *key)
{
  gsize n = strlen (key);

  if (n == 0 || n > MAX_STORAGE_KEY)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (key[i]) && key[i] != '_')
      return FALSE;
  return TRUE;
}

/* BINPERSID: ('storage', torch.XStorage, key, location, numel) */
static gboolean
op_binpersid (Unpickler *u)
{
  TsfPickleValue *pid = pop (u), *storage;
  TsfPickleValue **items;
  const TsfPickleStorageType *type;

  if (!pid)
    return FALSE;
  items = pid->kind == TSF_PICKLE_TUPLE ? (TsfPickleValue **) pid->items->pdata : NULL;
  if (!items || pid->items->len != 5 || items[0]->kind != TSF_PICKLE_STRING
      || strcmp (items[0]->string, "storage"))
    return fail (u, "a persistent id must be ('storage', type, key, location, numel)");
  type = as_storage_type (items[1]);
  if (!type)
    return fail (u, "the storage type is not a torch.*Storage");
  if (items[2]->kind != TSF_PICKLE_STRING || !is_storage_key (items[2]->string))
    return fail (u, "the storage key must be a short name of letters, digits and '_'");
  if (items[3]->kind != TSF_PICKLE_STRING)
    return fail (u, "the storage location must be a string");
  if (items[4]->kind != TSF_PICKLE_INT || items[4]->integer < 0)
    return fail (u, "the storage size must be a non-negative integer");
  storage = new_value (u, TSF_PICKLE_STORAGE);
  storage->storage.type = type;
  storage->storage.key = g_strdup (items[2]->string);
  storage->storage.numel = items[4]->integer;
  push (u, storage);
  return TRUE;
}

/* ---- REDUCE of the allowed callables ---- */

static gboolean
read_dims (Unpickler *u, const TsfPickleValue *tuple, const gchar *what, guint *ndim,
    gint64 *dims)
{
  if (tuple->kind != TSF_PICKLE_TUPLE)
    return fail (u, "the tensor %s must be a tuple", what);
  if (tuple->items->len > TSF_MAX_DIMS)
    return fail (u, "the tensor has %u dimensions, at most %d are supported",
        tuple->items->len, TSF_MAX_DIMS);
  *ndim = tuple->items->len;
  for (guint i = 0; i < *ndim; i++) {
    const TsfPickleValue *item = g_ptr_array_index (tuple->items, i);

    if (item->kind != TSF_PICKLE_INT || item->integer < 0 || item->integer > G_MAXINT32)
      return fail (u, "the tensor %s must hold integers in [0, 2^31)", what);
    dims[i] = item->integer;
  }
  return TRUE;
}

/* Checks that every element of the view lies inside its storage. */
static gboolean
check_view (Unpickler *u, const TsfPickleTensor *t)
{
  gint64 numel = t->storage->storage.numel;
  gint64 last = t->offset;
  gboolean empty = FALSE;

  for (guint i = 0; i < t->ndim; i++) {
    gint64 reach;

    if (t->shape[i] == 0)
      empty = TRUE;
    else if (__builtin_mul_overflow (t->shape[i] - 1, t->strides[i], &reach)
        || __builtin_add_overflow (last, reach, &last))
      return fail (u, "the tensor's strides overflow");
  }
  if (empty ? t->offset > numel : last >= numel)
    return fail (u, "the tensor (offset %" G_GINT64_FORMAT ", last element %" G_GINT64_FORMAT
        ") reaches past its storage '%s' of %" G_GINT64_FORMAT " elements",
        t->offset, last, t->storage->storage.key, numel);
  return TRUE;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static gboolean
rebuild_tensor (Unpickler *u, GPtrArray *args)
{
  TsfPickleValue **a = (TsfPickleValue **) args->pdata;
  TsfPickleValue *tensor;
  TsfPickleTensor t = { 0 };
  guint stride_ndim;

  if (args->len != 6 && args->len != 7)
    return fail (u, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %u", args->len);
  if (a[0]->kind != TSF_PICKLE_STORAGE)
    return fail (u, "_rebuild_tensor_v2 needs a storage first");
  if (a[1]->kind != TSF_PICKLE_INT || a[1]->integer < 0)
    return fail (u, "the tensor's storage offset must be a non-negative integer");
  t.storage = a[0];
  t.offset = a[1]->integer;
  if (!read_dims (u, a[2], "size", &t.ndim, t.shape)
      || !read_dims (u, a[3], "stride", &stride_ndim, t.strides))
    return FALSE;
  if (stride_ndim != t.ndim)
    return fail (u, "the tensor has %u sizes but %u strides", t.ndim, stride_ndim);
  if (a[4]->kind != TSF_PICKLE_BOOL)
    return fail (u, "requires_grad must be a bool");
  if (a[5]->kind != TSF_PICKLE_DICT || a[5]->items->len)
    return fail (u, "tensors with backward hooks are not supported");
  if (args->len == 7 && a[6]->kind != TSF_PICKLE_NONE && a[6]->kind != TSF_PICKLE_DICT)
    return fail (u, "the tensor metadata must be None or a dict");
  if (!check_view (u, &t))
    return FALSE;
  tensor = new_value (u, TSF_PICKLE_TENSOR);
  tensor->tensor = t;
  push (u, tensor);
  return TRUE;
}

/* _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the tensor itself. */
static gboolean
rebuild_parameter (Unpickler *u, GPtrArray *args, guint expected)
{
  TsfPickleValue **a = (TsfPickleValue **) args->pdata;

  if (args->len != expected || a[0]->kind != TSF_PICKLE_TENSOR || a[1]->kind != TSF_PICKLE_BOOL
      || a[2]->kind != TSF_PICKLE_DICT || a[2]->items->len)
    return fail (u, "_rebuild_parameter needs (tensor, bool, {}%s)", expected == 4 ? ", state" : "");
  push (u, a[0]);
  return TRUE;
}

static gboolean
op_reduce (Unpickler *u)
{
  TsfPickleValue *args = pop (u), *callable = args ? pop (u) : NULL;

  if (!callable)
    return FALSE;
  if (callable->kind != TSF_PICKLE_GLOBAL || callable->global >= N_CALLABLES)
    return fail (u, "REDUCE of a %s is not allowed (only OrderedDict and the tensor "
        "rebuilders may be called)", callable->kind == TSF_PICKLE_GLOBAL
        ? "storage type" : tsf_pickle_kind_to_string (callable->kind));
  if (args->kind != TSF_PICKLE_TUPLE)
    return fail (u, "REDUCE arguments must be a tuple");
  switch (callable->global) {
    case CALL_ORDERED_DICT:
      if (args->items->len)
        return fail (u, "OrderedDict() is only supported without arguments");
      push (u, new_value (u, TSF_PICKLE_DICT));
      return TRUE;
    case CALL_REBUILD_TENSOR_V2:
      return rebuild_tensor (u, args->items);
    case CALL_REBUILD_PARAMETER:
      return rebuild_parameter (u, args->items, 3);
    default:
      return rebuild_parameter (u, args->items, 4);
  }
}

/* ---- containers ---- */

static gboolean
op_setitems (Unpickler *u, gboolean one)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new ();
  TsfPickleValue *dict;

  if (one) {
    TsfPickleValue *value = pop (u), *key = value ? pop (u) : NULL;

    if (!key)
      return FALSE;
    g_ptr_array_add (pairs, key);
    g_ptr_array_add (pairs, value);
  } else if (!pop_to_mark (u, pairs)) {
    return FALSE;
  }
  if (pairs->len % 2)
    return fail (u, "SETITEMS needs key/value pairs, got %u values", pairs->len);
  dict = top (u);
  if (!dict)
    return FALSE;
  if (dict->kind != TSF_PICKLE_DICT)
    return fail (u, "items set on a %s, not a dict", tsf_pickle_kind_to_string (dict->kind));
  g_ptr_array_extend (dict->items, pairs, NULL, NULL);
  return TRUE;
}

static gboolean
op_appends (Unpickler *u, gboolean one)
{
  g_autoptr (GPtrArray) values = g_ptr_array_new ();
  TsfPickleValue *list;

  if (one) {
    TsfPickleValue *value = pop (u);

    if (!value)
      return FALSE;
    g_ptr_array_add (values, value);
  } else if (!pop_to_mark (u, values)) {
    return FALSE;
  }
  list = top (u);
  if (!list)
    return FALSE;
  if (list->kind != TSF_PICKLE_LIST)
    return fail (u, "items appended to a %s, not a list", tsf_pickle_kind_to_string (list->kind));
  g_ptr_array_extend (list->items, values, NULL, NULL);
  return TRUE;
}

/* BUILD: only the `_metadata` that state dicts carry (dropped). */
static gboolean
op_build (Unpickler *u)
{
  TsfPickleValue *state = pop (u), *object = state ? top (u) : NULL;

  if (!object)
    return FALSE;
  if (object->kind != TSF_PICKLE_DICT
      || (state->kind != TSF_PICKLE_DICT && state->kind != TSF_PICKLE_NONE))
    return fail (u, "BUILD is only supported for a dict's metadata, not on a %s",
        tsf_pickle_kind_to_string (object->kind));
  return TRUE;
}

/* ---- the memo ---- */

static gboolean
op_get (Unpickler *u, gsize index_bytes)
{
  TsfPickleValue *value;
  guint64 index;

  if (!read_uint (u, index_bytes, &index))
    return FALSE;
  value = g_hash_table_lookup (u->memo, GSIZE_TO_POINTER (index));
  if (!value)
    return fail (u, "memo entry %" G_GUINT64_FORMAT " was never stored", index);
  push (u, value);
  return TRUE;
}

static gboolean
memo_put (Unpickler *u, guint64 index)
{
  TsfPickleValue *value = top (u);

  if (!value)
    return FALSE;
  g_hash_table_insert (u->memo, GSIZE_TO_POINTER (index), value);
  return TRUE;
}

static gboolean
op_put (Unpickler *u, gsize index_bytes)
{
  guint64 index;

  return read_uint (u, index_bytes, &index) && memo_put (u, index);
}

/* ---- the loop ---- */

static gboolean
run_opcode (Unpickler *u, guint8 op)
{
  guint64 n;

  switch (op) {
    case 0x80:                                  /* PROTO */
      if (!read_uint (u, 1, &n))
        return FALSE;
      if (n > MAX_PROTOCOL)
        return fail (u, "pickle protocol %" G_GUINT64_FORMAT " is newer than %d", n, MAX_PROTOCOL);
      return TRUE;
    case 0x95:                                  /* FRAME: a length hint only */
      return read_uint (u, 8, &n);
    case '(':
      g_array_append_val (u->marks, u->stack->len);
      return TRUE;
    case 'N':
      return push_bool_or_none (u, TSF_PICKLE_NONE, FALSE);
    case 0x88:
      return push_bool_or_none (u, TSF_PICKLE_BOOL, TRUE);
    case 0x89:
      return push_bool_or_none (u, TSF_PICKLE_BOOL, FALSE);
    case 'K':
      return read_uint (u, 1, &n) && push_int (u, (gint64) n);
    case 'M':
      return read_uint (u, 2, &n) && push_int (u, (gint64) n);
    case 'J':
      return read_uint (u, 4, &n) && push_int (u, (gint32) (guint32) n);
    case 0x8a:
      return op_long (u, 1);
    case 0x8b:
      return op_long (u, 4);
    case 'G':
      return op_binfloat (u);
    case 'X':
      return op_unicode (u, 4);
    case 0x8c:
      return op_unicode (u, 1);
    case 0x8d:
      return op_unicode (u, 8);
    case ')':
      return push_sequence (u, TSF_PICKLE_TUPLE, 0);
    case 0x85:
      return push_sequence (u, TSF_PICKLE_TUPLE, 1);
    case 0x86:
      return push_sequence (u, TSF_PICKLE_TUPLE, 2);
    case 0x87:
      return push_sequence (u, TSF_PICKLE_TUPLE, 3);
    case 't':
      return push_marked (u, TSF_PICKLE_TUPLE);
    case ']':
      return push_sequence (u, TSF_PICKLE_LIST, 0);
    case 'l':
      return push_marked (u, TSF_PICKLE_LIST);
    case '}':
      return push_sequence (u, TSF_PICKLE_DICT, 0);
    case 'd':
      return push_marked (u, TSF_PICKLE_DICT);
    case 'a':
      return op_appends (u, TRUE);
    case 'e':
      return op_appends (u, FALSE);
    case 's':
      return op_setitems (u, TRUE);
    case 'u':
      return op_setitems (u, FALSE);
    case 'c':
      return op_global (u);
    case 0x93:
      return op_stack_global (u);
    case 'Q':
      return op_binpersid (u);
    case 'R':
      return op_reduce (u);
    case 'b':
      return op_build (u);
    case 'h':
      return op_get (u, 1);
    case 'j':
      return op_get (u, 4);
    case 'q':
      return op_put (u, 1);
    case 'r':
      return op_put (u, 4);
    case 0x94:
      return memo_put (u, g_hash_table_size (u->memo));
  }
  return fail (u, "opcode 0x%02x is not allowed in a PyTorch state dict (refused, nothing "
      "was run)", op);
}

static const TsfPickleValue *
run (Unpickler *u)
{
  while (u->pos < u->size) {
    guint8 op = u->data[u->pos];

    u->op_pos = u->pos++;
    if (op == '.')
      return pop (u);
    if (!run_opcode (u, op))
      return NULL;
  }
  u->op_pos = u->size ? u->size - 1 : 0;
  g_set_error (u->error, TSF_ERROR, TSF_ERROR_FORMAT,
      "%s: the pickle ends after %" G_GSIZE_FORMAT " bytes without STOP (truncated file?)",
      u->source, u->size);
  return NULL;
}

TsfPickle *
tsf_pickle_load (const guint8 *data, gsize size, const gchar *source, GError **error)
{
  Unpickler u = {
    .source = source, .data = data, .size = size, .error = error,
    .arena = g_ptr_array_new_with_free_func (value_free),
    .stack = g_ptr_array_new (),
    .marks = g_array_new (FALSE, FALSE, sizeof (guint)),
    .memo = g_hash_table_new (NULL, NULL),
  };
  const TsfPickleValue *root = run (&u);
  TsfPickle *pickle = NULL;

  if (root) {
    pickle = g_new0 (TsfPickle, 1);
    pickle->arena = g_steal_pointer (&u.arena);
    pickle->root = root;
  } else if (u.arena) {
    g_ptr_array_free (u.arena, TRUE);
  }
  g_ptr_array_free (u.stack, TRUE);
  g_array_free (u.marks, TRUE);
  g_hash_table_destroy (u.memo);
  return pickle;
}

const TsfPickleValue *
tsf_pickle_get_root (const TsfPickle *pickle)
{
  return pickle->root;
}

void
tsf_pickle_free (TsfPickle *pickle)
{
  if (!pickle)
    return;
  g_ptr_array_free (pickle->arena, TRUE);
  g_free (pickle);
}

const TsfPickleValue *
tsf_pickle_dict_lookup (const TsfPickleValue *dict, const gchar *key)
{
  const TsfPickleValue *found = NULL;

  if (dict->kind != TSF_PICKLE_DICT)
    return NULL;
  /* the last assignment wins, as in Python */
  for (guint i = 0; i + 1 < dict->items->len; i += 2) {
    const TsfPickleValue *k = g_ptr_array_index (dict->items, i);

    if (k->kind == TSF_PICKLE_STRING && !strcmp (k->string, key))
      found = g_ptr_array_index (dict->items, i + 1);
  }
  return found;
}
