/* gstcamsrc.h: a source that keeps a camera connected (RTSP first; any URI uridecodebin plays):
 * decoded raw video out, reconnection with exponential backoff, a status and statistics, and
 * credentials kept out of every log and message. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum {
  GST_CAM_SRC_STATUS_CONNECTING,    /* the first connection, no frame yet */
  GST_CAM_SRC_STATUS_RUNNING,       /* frames arrive */
  GST_CAM_SRC_STATUS_RECONNECTING,  /* lost: waiting to retry, or retrying */
  GST_CAM_SRC_STATUS_UNAUTHORIZED,  /* the camera refused the credentials; retried slowly */
  GST_CAM_SRC_STATUS_FAILED,        /* gave up after `attempts` retries (an error was posted) */
} GstCamSrcStatus;

#define GST_TYPE_CAM_SRC_STATUS (gst_cam_src_status_get_type ())
GType gst_cam_src_status_get_type (void);

/* Name of the element message posted on every change of status: fields status
 * (GstCamSrcStatus), uri (without password), reason (string), retry-delay (guint64 ns, 0 when
 * no retry is scheduled). */
#define GST_CAM_SRC_STATUS_MESSAGE "camsrc-status"

/* Name of the custom downstream (serialized) event sent before the first frame after a
 * reconnection: whatever spans frames (a clip window) must start afresh. Field reason (string). */
#define GST_CAM_SRC_RECONNECTED_EVENT "camsrc-reconnected"

#define GST_TYPE_CAM_SRC (gst_cam_src_get_type ())
G_DECLARE_FINAL_TYPE (GstCamSrc, gst_cam_src, GST, CAM_SRC, GstBin)

GST_ELEMENT_REGISTER_DECLARE (camsrc);

/* `uri` with its password removed (rtsp://user@host/...); NULL when it is not a URI. */
gchar *gst_cam_src_uri_without_password (const gchar *uri);

G_END_DECLS
