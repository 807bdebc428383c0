#!/usr/bin/env bash
# Builds the Debian packages from a clean copy of the source tree (no build folders, no .git),
# installs them, finds the elements with no GStreamer environment variables set, runs the
# shipped model in a pipeline, builds an application against the -dev package, and removes the
# packages again. Needs root (dpkg -i); exits 77 (skipped) otherwise.
#   tests/packaging/test-deb.sh [SOURCE_ROOT]
set -euo pipefail
source_root=$(cd "${1:-${TSF_SOURCE_ROOT:-$(dirname "$0")/../..}}" && pwd)
packages=(gstreamer1.0-timesformer libgstcliplabels-1.0-0 libgstcliplabels-1.0-dev timesformer-tools)

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deb: needs root for dpkg -i; skipped"
  exit 77
fi
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    echo "test-deb: $p is installed already; remove it first (this test removes what it installs)" >&2
    exit 1
  fi
done

work=$(mktemp -d)
installed=0
cleanup() {
  if [ "$installed" -eq 1 ]; then
    timeout 300 dpkg --purge "${packages[@]}" >/dev/null || echo "test-deb: dpkg --purge failed" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)

mkdir "$work/gst-timesformer"
tar -C "$source_root" --exclude='./build*' --exclude=./.git --exclude='./obj-*' -c . \
  | tar -C "$work/gst-timesformer" -x
(cd "$work/gst-timesformer" &&
  DEB_BUILD_OPTIONS="nocheck parallel=${TSF_DEB_JOBS:-2}" DEB_BUILD_PROFILES=nocheck \
    timeout 1200 nice dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
  tail -40 "$work/build.log" >&2
  echo "test-deb: dpkg-buildpackage failed" >&2
  exit 1
}
echo "test-deb: built $(cd "$work" && ls ./*.deb | tr '\n' ' ')in $(($(date +%s) - start)) s"
debs=()
for p in "${packages[@]}"; do
  debs+=("$(ls "$work/${p}_"*.deb)") || { echo "test-deb: no package $p" >&2; exit 1; }
done

# ${shlibs:Depends} found the meta library and oneDNN.
depends=$(dpkg-deb -f "${debs[0]}" Depends)
for library in libgstcliplabels-1.0-0 libdnnl libgstreamer1.0-0; do
  [[ $depends == *$library* ]] || { echo "test-deb: Depends lacks $library: $depends" >&2; exit 1; }
done

installed=1
if ! timeout 300 dpkg -i "${debs[@]}" >"$work/install.log" 2>&1; then
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -f install -y -o DPkg::Lock::Timeout=900 \
    >>"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; exit 1; }
fi

# No GST_PLUGIN_PATH, GStreamer's default system folders, a fresh registry.
unset GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0 GST_PLUGIN_SYSTEM_PATH GST_PLUGIN_SYSTEM_PATH_1_0
export GST_REGISTRY=$work/registry.bin
for element in timesformer labellog labeloverlay; do
  timeout 60 gst-inspect-1.0 "$element" >"$work/$element.txt" \
    || { echo "test-deb: gst-inspect-1.0 $element: not found" >&2; exit 1; }
done
model=/usr/share/gst-timesformer/models/motion-shapes
grep -q "Default: \"$model\"" "$work/timesformer.txt" \
  || { echo "test-deb: the default model is not $model:" >&2; grep -A2 ' model ' "$work/timesformer.txt" >&2; exit 1; }

# The shipped model in a pipeline: 24 frames of a moving ball give 3 clips of 8 frames.
timeout 120 gst-launch-1.0 -q videotestsrc pattern=ball num-buffers=24 \
  ! video/x-raw,width=96,height=72,framerate=30/1 ! videoconvert ! timesformer frame-stride=1 \
  ! labellog location="$work/labels.jsonl" ! fakesink
results=$(grep -c '"labels"' "$work/labels.jsonl" || true)
grep -q '"label":"\(moving\|rotating\|growing\|shrinking\|standing\)' "$work/labels.jsonl" \
  || { echo "test-deb: no label of the shipped model:" >&2; cat "$work/labels.jsonl" >&2; exit 1; }
[ "$results" -ge 1 ] || { echo "test-deb: no result" >&2; exit 1; }

timeout 60 timesformer-cli info --model "$model" >"$work/info.txt" \
  || { echo "test-deb: timesformer-cli info --model $model failed" >&2; exit 1; }
grep -q "rotating counterclockwise" "$work/info.txt" \
  || { echo "test-deb: timesformer-cli info shows no labels:" >&2; cat "$work/info.txt" >&2; exit 1; }

printf '[camera door]\nuri = rtsp://127.0.0.1:9/cam\n' >"$work/monitor.ini"
timeout 60 timesformer-monitor --check "$work/monitor.ini" >"$work/monitor.txt" \
  || { echo "test-deb: timesformer-monitor --check failed" >&2; cat "$work/monitor.txt" >&2; exit 1; }

# The -dev package depends on the package of every module its .pc file requires.
dev_depends=$(dpkg-deb -f "${debs[2]}" Depends)
for module in $(pkg-config --print-requires --print-requires-private gstcliplabels-1.0 | cut -d' ' -f1); do
  owner=$(dpkg -S "*/pkgconfig/$module.pc" 2>/dev/null | sed -n "1s/:.*//p" || true)
  [[ -n $owner && $dev_depends == *$owner* ]] \
    || { echo "test-deb: $module.pc (package ${owner:-none}) not in Depends: $dev_depends" >&2; exit 1; }
done

# An application built against libgstcliplabels-1.0-dev alone.
cc -o "$work/print-labels" "$source_root/pipelines/print-labels.c" \
  $(pkg-config --cflags --libs gstcliplabels-1.0)
timeout 120 "$work/print-labels" 'videotestsrc num-buffers=16 ! video/x-raw,width=64,height=48
  ! timesformer frame-stride=1 ! fakesink name=sink' >"$work/print-labels.txt"
grep -q '^clip 0 ' "$work/print-labels.txt" \
  || { echo "test-deb: print-labels saw no clip" >&2; cat "$work/print-labels.txt" >&2; exit 1; }

timeout 300 dpkg --purge "${packages[@]}" >/dev/null
installed=0
plugindir=$(pkg-config --variable=pluginsdir gstreamer-1.0)
for left in "$plugindir/libgsttimesformer.so" /usr/share/gst-timesformer /usr/bin/timesformer-cli \
    /usr/bin/timesformer-monitor; do
  [ ! -e "$left" ] || { echo "test-deb: $left is still there after dpkg --purge" >&2; exit 1; }
done
echo "test-deb: installed, $results results in a pipeline, removed; $(($(date +%s) - start)) s in all"
