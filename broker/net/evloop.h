/*
 * evloop — one libevent event_base on a thread of its own, for the parts of
 * the broker that are not connection handlers: the ZooKeeper callbacks, the
 * controller's event queue and its connections to other brokers (Kafka's
 * ControllerEventManager thread), replica fetchers.
 *
 * Work from other threads gets onto the loop with evloop_run (thread-safe,
 * FIFO). Everything else — timers, evloop_base() users — belongs to the
 * loop's thread.
 *
 * Stopping: evloop_stop runs the tasks already queued, then returns after
 * the thread has joined; later evloop_run calls fail (-1) and their task is
 * not run (the caller frees what arg holds). A loop that never started
 * runs nothing: evloop_free drops what was queued. Timers belong to their
 * creator, who frees them (uncalled if pending) before the loop.
 */
#ifndef SAMSA_EVLOOP_H
#define SAMSA_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct evloop evloop_t;
typedef struct evloop_timer evloop_timer_t;
typedef void (*evloop_fn)(void *arg);

/* A stopped loop named name (for logs and the thread name, ≤ 15 chars
 * used). NULL with a message in err if libevent fails. */
evloop_t *evloop_new(const char *name, char *err, size_t errlen);
/* Starts the thread. 0, or -1 with a message. */
int evloop_start(evloop_t *l, char *err, size_t errlen);
/* Runs the queued tasks, stops the thread and joins it. Idempotent; must
 * not be called from the loop's own thread. */
void evloop_stop(evloop_t *l);
/* Stops if needed and frees. NULL is a no-op. */
void evloop_free(evloop_t *l);

/* Queues fn(arg) to run on the loop's thread. 0, or -1 once the loop is
 * stopping. */
int evloop_run(evloop_t *l, evloop_fn fn, void *arg);
/* Runs fn(arg) on the loop and waits until it has run (on the loop's own
 * thread: runs it at once). 0, or -1 when the loop is stopping (fn not
 * run). */
int evloop_run_sync(evloop_t *l, evloop_fn fn, void *arg);
/* evloop_run with zkc_post_fn's signature (ctx is the evloop_t). */
int evloop_post(void *ctx, void (*fn)(void *arg), void *arg);

/* Whether the caller is the loop's thread. */
bool evloop_in_loop(const evloop_t *l);
/* The event_base, for events and bufferevents on this loop's thread. */
struct event_base *evloop_base(evloop_t *l);

/* One-shot timers, loop thread only. A timer fires at most once per arm;
 * re-arming an armed timer moves its deadline. */
evloop_timer_t *evloop_timer_new(evloop_t *l, evloop_fn fn, void *arg);
void evloop_timer_arm(evloop_timer_t *t, int64_t delay_ms);
void evloop_timer_cancel(evloop_timer_t *t);
bool evloop_timer_armed(const evloop_timer_t *t);
void evloop_timer_free(evloop_timer_t *t);

#endif
