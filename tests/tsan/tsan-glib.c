/* tsan-glib.c: GLib's locks and containers made visible to ThreadSanitizer (the TSan build
 * only; see docs/architecture.md, "Race detection").
 *
 * The programs of the TSan build are linked with -Wl,--wrap for the functions below, so that
 * every call from our own code (the plugin, the engine, the tests) goes through these
 * wrappers, which run GLib's function and tell TSan what it did. GLib's calls to itself are not
 * wrapped.
 * - Locks: on Linux GLib implements GMutex and GCond on futexes, which TSan does not see as
 *   locks: every access guarded by one would be reported as a race. The wrappers add TSan's
 *   mutex annotations (<sanitizer/tsan_interface.h>).
 * - Containers: GLib is not instrumented, so TSan does not see what g_queue_push_tail() or
 *   g_hash_table_insert() write. The wrappers report each call as a read or a write of the
 *   container, so that a queue changed by two threads without a lock is a race. */
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
void __real_g_queue_init (GQueue *queue);
void __real_g_queue_clear_full (GQueue *queue, GDestroyNotify free_func);
gpointer __real_g_queue_pop_head (GQueue *queue);
void __real_g_queue_push_tail (GQueue *queue, gpointer data);
void __real_g_queue_push_tail_link (GQueue *queue, GList *link);
void __real_g_queue_unlink (GQueue *queue, GList *link);
gboolean __real_g_queue_remove (GQueue *queue, gconstpointer data);
void __real_g_queue_insert_sorted (GQueue *queue, gpointer data, GCompareDataFunc func,
    gpointer user_data);
gpointer __real_g_hash_table_lookup (GHashTable *table, gconstpointer key);
guint __real_g_hash_table_size (GHashTable *table);
gboolean __real_g_hash_table_insert (GHashTable *table, gpointer key, gpointer value);
gboolean __real_g_hash_table_remove (GHashTable *table, gconstpointer key);

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

/* ---- containers: each call is an access to the whole container (__tsan_*_range: gcc's
 * built-ins under -fsanitize=thread) ---- */

#define READS(container) __tsan_read_range ((void *) (container), sizeof (*(container)))
#define WRITES(container) __tsan_write_range ((void *) (container), sizeof (*(container)))
/* A GHashTable is opaque: its first byte stands for it. */
#define READS_TABLE(table) __tsan_read_range ((void *) (table), 1)
#define WRITES_TABLE(table) __tsan_write_range ((void *) (table), 1)

/* A function of the queue alone that reads it. */
#define WRAP_QUEUE_READ(type, name) \
  type __real_##name (GQueue *queue); \
  type __wrap_##name (GQueue *queue) \
  { \
    READS (queue); \
    return __real_##name (queue); \
  }

WRAP_QUEUE_READ (gboolean, g_queue_is_empty)
WRAP_QUEUE_READ (guint, g_queue_get_length)
WRAP_QUEUE_READ (gpointer, g_queue_peek_head)

void
__wrap_g_queue_init (GQueue *queue)
{
  WRITES (queue);
  __real_g_queue_init (queue);
}

void
__wrap_g_queue_clear_full (GQueue *queue, GDestroyNotify free_func)
{
  WRITES (queue);
  __real_g_queue_clear_full (queue, free_func);
}

gpointer
__wrap_g_queue_pop_head (GQueue *queue)
{
  WRITES (queue);
  return __real_g_queue_pop_head (queue);
}

void
__wrap_g_queue_push_tail (GQueue *queue, gpointer data)
{
  WRITES (queue);
  __real_g_queue_push_tail (queue, data);
}

void
__wrap_g_queue_push_tail_link (GQueue *queue, GList *link)
{
  WRITES (queue);
  WRITES (link);
  __real_g_queue_push_tail_link (queue, link);
}

void
__wrap_g_queue_unlink (GQueue *queue, GList *link)
{
  WRITES (queue);
  WRITES (link);
  __real_g_queue_unlink (queue, link);
}

gboolean
__wrap_g_queue_remove (GQueue *queue, gconstpointer data)
{
  WRITES (queue);
  return __real_g_queue_remove (queue, data);
}

void
__wrap_g_queue_insert_sorted (GQueue *queue, gpointer data, GCompareDataFunc func,
    gpointer user_data)
{
  WRITES (queue);
  __real_g_queue_insert_sorted (queue, data, func, user_data);
}

gpointer
__wrap_g_hash_table_lookup (GHashTable *table, gconstpointer key)
{
  READS_TABLE (table);
  return __real_g_hash_table_lookup (table, key);
}

guint
__wrap_g_hash_table_size (GHashTable *table)
{
  READS_TABLE (table);
  return __real_g_hash_table_size (table);
}

gboolean
__wrap_g_hash_table_insert (GHashTable *table, gpointer key, gpointer value)
{
  WRITES_TABLE (table);
  return __real_g_hash_table_insert (table, key, value);
}

gboolean
__wrap_g_hash_table_remove (GHashTable *table, gconstpointer key)
{
  WRITES_TABLE (table);
  return __real_g_hash_table_remove (table, key);
}
