/* tsf-error.c: the engine's error domain. */
#include "timesformer.h"

G_DEFINE_QUARK (tsf-error-quark, tsf_error)
