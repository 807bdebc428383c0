/* test-rtsp-server.c: an RTSP server on 127.0.0.1 for the tests of camsrc (gst-rtsp-server).
 *
 * Serves H.264 of a live test pattern at rtsp://127.0.0.1:PORT/PATH; prints "port=PORT" on
 * stdout once it listens. SIGUSR1 stalls every stream (no more frames, connections stay open),
 * SIGUSR2 resumes them; SIGTERM and SIGINT stop it.
 *
 *   test-rtsp-server [--port N] [--path /cam] [--credentials-file FILE]
 *
 * --port 0 (the default) lets the system choose a free port. The credentials file holds
 * "user:password" on its first line; with it the server requires that basic authentication. */
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

/* Frames are dropped before the encoder while set (from the main loop, read by streaming threads). */
static gint stalled;

static GstPadProbeReturn
drop_when_stalled (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  return g_atomic_int_get (&stalled) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void
on_media_configure (GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer user_data)
{
  GstElement *bin = gst_rtsp_media_get_element (media);
  GstElement *source = gst_bin_get_by_name (GST_BIN (bin), "pattern");
  GstPad *pad = gst_element_get_static_pad (source, "src");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, drop_when_stalled, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (source);
  gst_object_unref (bin);
}

static gboolean
set_stalled (gpointer value)
{
  g_atomic_int_set (&stalled, GPOINTER_TO_INT (value));
  g_print ("stalled=%d\n", GPOINTER_TO_INT (value));
  return G_SOURCE_CONTINUE;
}

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* The encoder Debian offers: x264enc (plugins-ugly), else openh264enc (plugins-bad). */
static const gchar *
h264_encoder (void)
{
  GstElementFactory *x264 = gst_element_factory_find ("x264enc");

  if (x264 != NULL) {
    gst_object_unref (x264);
    return "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=5";
  }
  return "openh264enc gop-size=5";
}

static gboolean
require_basic_auth (GstRTSPServer *server, GstRTSPMediaFactory *factory, const gchar *file,
    GError **error)
{
  gchar *contents = NULL, **fields;
  GstRTSPAuth *auth;
  GstRTSPToken *token;
  gchar *basic;

  if (!g_file_get_contents (file, &contents, NULL, error))
    return FALSE;
  g_strchomp (contents);
  fields = g_strsplit (contents, ":", 2);
  g_free (contents);
  if (g_strv_length (fields) != 2) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: expected user:password", file);
    g_strfreev (fields);
    return FALSE;
  }
  auth = gst_rtsp_auth_new ();
  token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "camera", NULL);
  basic = gst_rtsp_auth_make_basic (fields[0], fields[1]);
  gst_rtsp_auth_add_basic (auth, basic, token);
  gst_rtsp_media_factory_add_role (factory, "camera", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
      G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
  gst_rtsp_server_set_auth (server, auth);
  g_free (basic);
  gst_rtsp_token_unref (token);
  g_object_unref (auth);
  g_strfreev (fields);
  return TRUE;
}

int
main (int argc, char **argv)
{
  gint port = 0;
  gchar *path = g_strdup ("/cam"), *credentials_file = NULL, *launch, *service;
  GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port on 127.0.0.1 (0: a free one)", "N" },
    { "path", 0, 0, G_OPTION_ARG_STRING, &path, "mount point (default /cam)", "PATH" },
    { "credentials-file", 0, 0, G_OPTION_ARG_FILENAME, &credentials_file,
      "require basic authentication with the user:password of this file", "FILE" },
    { NULL }
  };
  GOptionContext *options = g_option_context_new ("- an RTSP server for the camsrc tests");
  GError *error = NULL;
  GstRTSPServer *server;
  GstRTSPMountPoints *mounts;
  GstRTSPMediaFactory *factory;
  GMainLoop *loop;

  setvbuf (stdout, NULL, _IOLBF, 0);    /* the test reads the port line at once */
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_add_group (options, gst_init_get_option_group ());
  if (!g_option_context_parse (options, &argc, &argv, &error) || port < 0 || port > 65535) {
    g_printerr ("test-rtsp-server: %s\n", error != NULL ? error->message : "bad --port");
    return 2;
  }
  g_option_context_free (options);

  loop = g_main_loop_new (NULL, FALSE);
  server = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (server, "127.0.0.1");
  service = g_strdup_printf ("%d", port);
  gst_rtsp_server_set_service (server, service);
  factory = gst_rtsp_media_factory_new ();
  launch = g_strdup_printf ("( videotestsrc name=pattern is-live=true pattern=ball "
      "! video/x-raw,width=64,height=48,framerate=10/1 ! videoconvert ! %s "
      "! rtph264pay name=pay0 pt=96 config-interval=1 )", h264_encoder ());
  gst_rtsp_media_factory_set_launch (factory, launch);
  g_signal_connect (factory, "media-configure", G_CALLBACK (on_media_configure), NULL);
  if (credentials_file != NULL
      && !require_basic_auth (server, factory, credentials_file, &error)) {
    g_printerr ("test-rtsp-server: %s\n", error->message);
    return 2;
  }
  mounts = gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, path, factory);
  g_object_unref (mounts);
  if (gst_rtsp_server_attach (server, NULL) == 0) {
    g_printerr ("test-rtsp-server: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  g_unix_signal_add (SIGUSR1, set_stalled, GINT_TO_POINTER (TRUE));
  g_unix_signal_add (SIGUSR2, set_stalled, GINT_TO_POINTER (FALSE));
  g_unix_signal_add (SIGTERM, quit, loop);
  g_unix_signal_add (SIGINT, quit, loop);
  g_print ("port=%d\n", gst_rtsp_server_get_bound_port (server));
  g_main_loop_run (loop);

  g_object_unref (server);
  g_main_loop_unref (loop);
  g_free (launch);
  g_free (service);
  g_free (path);
  g_free (credentials_file);
  return 0;
}
