/* plugin.c: the plugin `timesformer`; it only registers the elements. */
#include <gst/gst.h>

#include "gstcamsrc.h"
#include "gstlabelevents.h"
#include "gstlabellog.h"
#include "gstlabeloverlay.h"
#include "gstlabelpublish.h"
#include "gsttimesformer.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean registered = FALSE;

  registered |= GST_ELEMENT_REGISTER (timesformer, plugin);
  registered |= GST_ELEMENT_REGISTER (labeloverlay, plugin);
  registered |= GST_ELEMENT_REGISTER (labellog, plugin);
  registered |= GST_ELEMENT_REGISTER (labelpublish, plugin);
  registered |= GST_ELEMENT_REGISTER (labelevents, plugin);
  registered |= GST_ELEMENT_REGISTER (camsrc, plugin);
  return registered;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, timesformer,
    "Video clip classification with TimeSformer, elements that show and log the results, and a camera source",
    plugin_init, PLUGIN_VERSION, "LGPL", "gst-timesformer", "https://github.com/gst-timesformer")
