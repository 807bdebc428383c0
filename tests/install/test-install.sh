#!/usr/bin/env bash
# `meson install` of this build into a temporary DESTDIR: every file lands under the prefix, the
# plugin in <libdir>/gstreamer-1.0 (with --prefix=/usr: the folder GStreamer scans, from
# gstreamer-1.0.pc's pluginsdir) or -Dplugindir, and GStreamer loads it from there with no
# GST_PLUGIN_PATH. Environment: TSF_BUILD_ROOT.
set -euo pipefail
build=${TSF_BUILD_ROOT:?}
destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT

option() {
  meson introspect "$build" --buildoptions | /usr/bin/python3 -c \
    "import json, sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == '$1'))"
}
prefix=$(option prefix)
libdir=$(option libdir)
plugindir=$(option plugindir)
datadir=$(option datadir)
case "$libdir" in /*) ;; *) libdir=$prefix/$libdir ;; esac
case "$datadir" in /*) ;; *) datadir=$prefix/$datadir ;; esac
if [ -n "$plugindir" ]; then
  case "$plugindir" in /*) expected=$plugindir ;; *) expected=$prefix/$plugindir ;; esac
elif [ "$prefix" = "$(pkg-config --variable=prefix gstreamer-1.0)" ]; then
  expected=$(pkg-config --variable=pluginsdir gstreamer-1.0)
else
  expected=$libdir/gstreamer-1.0
fi

timeout 120 meson install -C "$build" --no-rebuild --quiet --destdir "$destdir" >/dev/null
fail() { echo "test-install: $*" >&2; (cd "$destdir" && find . -type f | sort) >&2; exit 1; }
[ -f "$destdir$expected/libgsttimesformer.so" ] || fail "no plugin in $expected"
[ "$(find "$destdir" -name 'libgsttimesformer.so' | wc -l)" -eq 1 ] || fail "plugin installed twice"
for file in "$datadir/gst-timesformer/models/motion-shapes/model.safetensors" \
    "$prefix/bin/timesformer-cli" "$prefix/bin/timesformer-monitor" \
    "$libdir/pkgconfig/gstcliplabels-1.0.pc" \
    "$prefix/include/gstreamer-1.0/gst/cliplabels/gstcliplabelsmeta.h"; do
  [ -e "$destdir$file" ] || fail "$file not installed"
done
outside=$(cd "$destdir" && find . -type f ! -path "./${prefix#/}/*" ! -path "./${expected#/}/*")
[ -z "$outside" ] || fail "installed outside the prefix: $outside"

# GStreamer finds the elements in that folder as its system plugin folder, with no
# GST_PLUGIN_PATH, in a fresh registry.
unset GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0
export GST_PLUGIN_SYSTEM_PATH_1_0=$destdir$expected:$(pkg-config --variable=pluginsdir gstreamer-1.0)
export GST_REGISTRY=$destdir/registry.bin
export LD_LIBRARY_PATH=$destdir$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for element in timesformer labellog labeloverlay; do
  timeout 60 gst-inspect-1.0 "$element" >/dev/null || fail "gst-inspect-1.0 $element failed"
done
if [ "$expected" = "$(pkg-config --variable=pluginsdir gstreamer-1.0)" ]; then
  echo "test-install: the plugin installs to $expected, where GStreamer looks"
else
  echo "test-install: the plugin installs to $expected (prefix $prefix; GStreamer scans" \
    "$(pkg-config --variable=pluginsdir gstreamer-1.0), so users set GST_PLUGIN_PATH)"
fi
