/* plugin.c: the timesformer plugin; registers its elements. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gsttimesformer.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (timesformer, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, timesformer,
    "Video clip classification with TimeSformer", plugin_init, PACKAGE_VERSION,
    "LGPL", PACKAGE_NAME, "https://github.com/gst-timesformer")
