/* gsttsfproperty.c: properties that can change only in NULL or READY. */
#include "gsttsfproperty.h"

gboolean
gst_tsf_property_can_change (GstElement *element, GParamSpec *pspec,
    GstDebugCategory *category)
{
  GstState state, pending;

  if (!(pspec->flags & GST_PARAM_MUTABLE_READY))
    return TRUE;
  GST_OBJECT_LOCK (element);
  state = GST_STATE (element);
  pending = GST_STATE_PENDING (element);
  GST_OBJECT_UNLOCK (element);
  if (state <= GST_STATE_READY && pending <= GST_STATE_READY)
    return TRUE;
  GST_CAT_WARNING_OBJECT (category, element, "property '%s' can only be changed in the NULL "
      "or READY state (the element is %s); keeping the old value", pspec->name,
      gst_element_state_get_name (state));
  return FALSE;
}
