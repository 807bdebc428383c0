/* tsan-glib-locks.c: GLib's GMutex and GCond made visible to ThreadSanitizer (the TSan build
 * only; see docs/architecture.md, "Race detection").
 *
 * On Linux GLib implements GMutex and GCond on futexes, which TSan does not see as locks: every
 * access guarded by one would be reported as a race. The programs of the TSan build are linked
 * with -Wl,--wrap for the functions below, so that every call from our own code (the plugin,
 * the engine, the tests) goes through these wrappers, which run GLib's function and tell TSan
 * what it did (the mutex annotations of <sanitizer/tsan_interface.h>). GLib's calls to itself
 * are not wrapped; its memory accesses are not instrumented either. */
#include <glib.h>
#include <sanitizer/tsan_interface.h>

/* GLib's functions, under the names --wrap gives them. */
void __real_g_mutex_init (GMutex *mutex);
void __real_g_mutex_clear (GMutex *mutex);
void __real_g_mutex_lock (GMutex *mutex);
gboolean __real_g_mutex_trylock (GMutex *mutex);
void __real_g_mutex_unlock (GMutex *mutex);
void __real_g_cond_wait (GCond *cond, GMutex *mutex);
gboolean __real_g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time);

void
__wrap_g_mutex_init (GMutex *mutex)
{
  __real_g_mutex_init (mutex);
  __tsan_mutex_create (mutex, __tsan_mutex_not_static);
}

void
__wrap_g_mutex_clear (GMutex *mutex)
{
  __tsan_mutex_destroy (mutex, __tsan_mutex_not_static);
  __real_g_mutex_clear (mutex);
}

void
__wrap_g_mutex_lock (GMutex *mutex)
{
  __tsan_mutex_pre_lock (mutex, 0);
  __real_g_mutex_lock (mutex);
  __tsan_mutex_post_lock (mutex, 0, 0);
}

gboolean
__wrap_g_mutex_trylock (GMutex *mutex)
{
  gboolean locked;

  __tsan_mutex_pre_lock (mutex, __tsan_mutex_try_lock);
  locked = __real_g_mutex_trylock (mutex);
  __tsan_mutex_post_lock (mutex, __tsan_mutex_try_lock
      | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void
__wrap_g_mutex_unlock (GMutex *mutex)
{
  __tsan_mutex_pre_unlock (mutex, 0);
  __real_g_mutex_unlock (mutex);
  __tsan_mutex_post_unlock (mutex, 0);
}

/* A wait releases the mutex and takes it again before it returns. */
void
__wrap_g_cond_wait (GCond *cond, GMutex *mutex)
{
  __tsan_mutex_pre_unlock (mutex, 0);
  __tsan_mutex_post_unlock (mutex, 0);
  __real_g_cond_wait (cond, mutex);
  __tsan_mutex_pre_lock (mutex, 0);
  __tsan_mutex_post_lock (mutex, 0, 0);
}

gboolean
__wrap_g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean signalled;

  __tsan_mutex_pre_unlock (mutex, 0);
  __tsan_mutex_post_unlock (mutex, 0);
  signalled = __real_g_cond_wait_until (cond, mutex, end_time);
  __tsan_mutex_pre_lock (mutex, 0);
  __tsan_mutex_post_lock (mutex, 0, 0);
  return signalled;
}
