#!/usr/bin/env bash
# Installs the Debian 12 packages that gst-timesformer needs to build, test and run its demo.
# Run as root (or it uses sudo). Safe to run again: apt-get skips what is installed.
set -euo pipefail

packages=(
  # build
  gcc meson ninja-build pkg-config cmake
  libglib2.0-dev libjson-glib-dev libdnnl-dev libzip-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libpango1.0-dev libcairo2-dev fonts-dejavu-core
  libmosquitto-dev librdkafka-dev gobject-introspection libgirepository1.0-dev
  libgstrtspserver-1.0-dev
  # run, demo and tests
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  # camsrc: rtspsrc (good), H.264/H.265/MJPEG decoders (libav); the test RTSP server's x264enc (ugly)
  gstreamer1.0-libav gstreamer1.0-plugins-ugly gstreamer1.0-rtsp
  python3-torch python3-numpy python3-pil libopenblas0-pthread
  valgrind clang libclang-rt-14-dev
  # the Debian packages (debian/, tests/packaging)
  build-essential debhelper dpkg-dev
  mosquitto mosquitto-clients openssl python3-gi gir1.2-gstreamer-1.0
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
