#!/usr/bin/env bash
# Installs the dependencies, builds from scratch and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
builddir=${BUILDDIR:-build-test}
rm -rf "$builddir"
meson setup "$builddir"
meson compile -C "$builddir"
meson test -C "$builddir" --print-errorlogs --num-processes 2
