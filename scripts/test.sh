#!/usr/bin/env bash
# Installs the dependencies, builds from scratch and runs every test; then builds the engine
# again with ASan + UBSan and runs its suite there, and the plugin with TSan for the shared
# model's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
builddir=${BUILDDIR:-build-test}
rm -rf "$builddir"
meson setup "$builddir"
meson compile -C "$builddir"
# Every suite, 'install' (meson install into a temporary folder) and 'packaging' (as root: the
# Debian packages built, installed, run and removed; about a minute, alone) included.
meson test -C "$builddir" --print-errorlogs --num-processes 2

# The gst suite again under valgrind, as GStreamer's own CI does (GLib's suppressions and ours).
# CK_FORK=no: one process per test program, so the leak check covers every test.
# ORC_CODE=backup: ORC's C fallbacks instead of its JIT code, which it writes into a file
# mapping that valgrind does not re-translate when the code at an address changes.
# --undef-value-errors=no: on the inference path the main thread's stack pointer moves into the
# heap (valgrind: "client switching stacks?", in every run of test_timesformer); in some runs
# valgrind then loses track of what is defined and reports uninitialised values throughout
# oneDNN's unsymbolised JIT code, libdnnl and libgomp. Leaks and invalid reads and writes are
# still errors.
CK_FORK=no G_SLICE=always-malloc G_DEBUG=gc-friendly ORC_CODE=backup \
  meson test -C "$builddir" --suite gst --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
  --wrap "valgrind --error-exitcode=1 --leak-check=full --num-callers=30 --undef-value-errors=no \
    --suppressions=/usr/share/glib-2.0/valgrind/glib.supp \
    --suppressions=$PWD/tests/gst/valgrind.supp"

# The engine under AddressSanitizer and UndefinedBehaviorSanitizer (meson test makes both
# abort on the first error). Engine only: GStreamer's own leaks would drown ours.
sanitize_builddir=$builddir-sanitize
rm -rf "$sanitize_builddir"
meson setup "$sanitize_builddir" -Dengine_only=true -Db_sanitize=address,undefined \
  -Db_lundef=false
meson compile -C "$sanitize_builddir"
meson test -C "$sanitize_builddir" --suite engine --print-errorlogs --num-processes 2

# Two threads sharing one model, each with its own session, under valgrind's helgrind (any race
# on the model, or between sessions, is an error). 1 thread per session and per load, so
# libgomp starts no team: helgrind cannot follow libgomp's futex barriers. About 20 s.
meson test -C "$builddir" test-sessions --print-errorlogs --timeout-multiplier 10 \
  --test-args "-p /sessions/concurrent" \
  --wrap "valgrind --tool=helgrind --error-exitcode=1 \
    --suppressions=/usr/share/glib-2.0/valgrind/glib.supp"

# The shared model's tests under ThreadSanitizer (any race between the inference threads, the
# streaming threads, the application's and the registry's callers is an error): the plugin,
# the engine and the tests built with -fsanitize=thread, GLib's locks and the scheduler's
# containers made visible to TSan (tests/tsan/; TSAN_OPTIONS, the suppressions and
# GST_REGISTRY_FORK=no are in the tests' environment). About a minute, most of it the build.
tsan_builddir=$builddir-tsan
rm -rf "$tsan_builddir"
meson setup "$tsan_builddir" -Db_sanitize=thread -Db_lundef=false
meson test -C "$tsan_builddir" --suite tsan --print-errorlogs --num-processes 2
