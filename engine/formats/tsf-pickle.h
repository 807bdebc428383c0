/* tsf-pickle.h: a restricted unpickler for the data.pkl of PyTorch checkpoints (internal).
 *
 * It reads only what torch.save writes for state dicts and training checkpoints: dicts and
 * OrderedDicts, lists, tuples, strings, ints, floats, booleans, None, persistent-id storages
 * and tensors rebuilt by torch._utils._rebuild_tensor_v2 / _rebuild_parameter. Any other
 * opcode or global is refused with its byte offset. Nothing is imported or executed: the
 * allowed globals are recognised by name and interpreted here. */
#pragma once

#include <glib.h>

#include "tsf-tensors.h"

G_BEGIN_DECLS

typedef enum {
  TSF_PICKLE_NONE,
  TSF_PICKLE_BOOL,
  TSF_PICKLE_INT,
  TSF_PICKLE_FLOAT,
  TSF_PICKLE_STRING,
  TSF_PICKLE_TUPLE,
  TSF_PICKLE_LIST,
  TSF_PICKLE_DICT,          /* items: key, value, key, value... in insertion order */
  TSF_PICKLE_GLOBAL,        /* one of the allowed names (a callable or a storage type) */
  TSF_PICKLE_STORAGE,       /* a persistent id ('storage', type, key, location, numel) */
  TSF_PICKLE_TENSOR,
} TsfPickleKind;

/* The storage types of torch.save; only the float ones can back model weights. */
typedef struct {
  const gchar *name;        /* "FloatStorage" */
  const gchar *dtype_name;  /* "float32" */
  gsize element_size;
  gboolean supported;       /* TRUE: `dtype` is valid */
  TsfDType dtype;
} TsfPickleStorageType;

typedef struct _TsfPickleValue TsfPickleValue;

typedef struct {
  const TsfPickleStorageType *type;
  gchar *key;               /* archive entry data/<key> */
  gint64 numel;
} TsfPickleStorage;

typedef struct {
  const TsfPickleValue *storage;  /* kind TSF_PICKLE_STORAGE */
  gint64 offset;            /* in elements */
  guint ndim;
  gint64 shape[TSF_MAX_DIMS];
  gint64 strides[TSF_MAX_DIMS];
} TsfPickleTensor;

struct _TsfPickleValue {
  TsfPickleKind kind;
  union {
    gboolean boolean;
    gint64 integer;
    gdouble real;
    gchar *string;          /* NUL-terminated, valid UTF-8 */
    GPtrArray *items;       /* tuple, list, dict (TsfPickleValue*, not owned) */
    gint global;            /* private index into the allowed globals */
    TsfPickleStorage storage;
    TsfPickleTensor tensor;
  };
};

typedef struct _TsfPickle TsfPickle;

/* Parses a pickle; `source` names it in errors. The values live as long as the TsfPickle. */
TsfPickle *tsf_pickle_load (const guint8 *data, gsize size, const gchar *source,
    GError **error);
const TsfPickleValue *tsf_pickle_get_root (const TsfPickle *pickle);
void tsf_pickle_free (TsfPickle *pickle);

/* The value of a string key in a dict, or NULL. */
const TsfPickleValue *tsf_pickle_dict_lookup (const TsfPickleValue *dict, const gchar *key);
/* "dict", "tensor"... for error messages. */
const gchar *tsf_pickle_kind_to_string (TsfPickleKind kind);

G_END_DECLS
