/*
 * evloop — one libevent event_base on a thread of its own. The broker's
 * threads that run callbacks are all evloops: the network loops (net.c puts
 * its connections on top of one each), the ZooKeeper callbacks, the
 * controller's event queue and its connections to other brokers (Kafka's
 * ControllerEventManager thread), replica fetchers, the admin worker.
 *
 * Work from other threads gets onto the loop with evloop_run (thread-safe,
 * FIFO). Everything else — timers, evloop_base() users — belongs to the
 * loop's thread.
 *
 * Timers come in two kinds, one implementation:
 *   owned   evloop_timer_new: the creator's, re-armable, freed by the
 *           creator (uncalled if pending) before the loop is freed;
 *   after   evloop_after: fire and forget, fn(arg) once after a delay.
 *           evloop frees it just before calling fn, or in
 *           evloop_after_cancel (fn not called); the handle is invalid
 *           after either.
 *
 * Ending: the loop ends when evloop_stop asks it to, or when its own thread
 * calls evloop_break (net ends a network loop once its connections have
 * drained). Then, still on the loop's thread:
 *   1. the `after` timers still pending fire, early, oldest first (a long
 *      poll whose client left answers into its closed connection and frees
 *      its request); `after` timers added by those callbacks, or by the
 *      tasks of step 2, are freed uncalled;
 *   2. the queue closes — evloop_run fails (-1) from now on and its task is
 *      not run (the caller frees what arg holds) — and the tasks queued
 *      before that run, so that their arguments are not lost.
 * Until step 2 tasks are accepted, also while the loop drains. evloop_stop
 * returns once the thread has joined; evloop_join waits for a loop that
 * ends itself. A loop that never started runs nothing: evloop_free drops
 * what was queued.
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
 * used). Calls evthread_use_pthreads() first. NULL with a message in err if
 * libevent fails. */
evloop_t *evloop_new(const char *name, char *err, size_t errlen);
/* Starts the thread. 0, or -1 with a message. */
int evloop_start(evloop_t *l, char *err, size_t errlen);
/* Ends the loop as described above and joins its thread. Idempotent; must
 * not be called from the loop's own thread. */
void evloop_stop(evloop_t *l);
/* Loop thread: ends the loop once the current callback returns (the ending
 * steps above follow). */
void evloop_break(evloop_t *l);
/* Waits until a started loop has ended (by evloop_break or evloop_stop)
 * and joins its thread; returns at once for a loop never started or
 * already joined. Not from the loop's own thread. */
void evloop_join(evloop_t *l);
/* Stops if needed and frees. NULL is a no-op. */
void evloop_free(evloop_t *l);

/* Queues fn(arg) to run on the loop's thread. 0, or -1 once the queue has
 * closed (step 2 above). */
int evloop_run(evloop_t *l, evloop_fn fn, void *arg);
/* Runs fn(arg) on the loop and waits until it has run (on the loop's own
 * thread: runs it at once). 0, or -1 when the queue has closed (fn not
 * run). */
int evloop_run_sync(evloop_t *l, evloop_fn fn, void *arg);
/* evloop_run with zkc_post_fn's signature (ctx is the evloop_t). */
int evloop_post(void *ctx, void (*fn)(void *arg), void *arg);

/* Whether the caller is the loop's thread (also during the ending steps). */
bool evloop_in_loop(const evloop_t *l);
/* The event_base, for events and bufferevents on this loop's thread. */
struct event_base *evloop_base(evloop_t *l);

/* Owned timers, loop thread only. A timer fires at most once per arm;
 * re-arming an armed timer moves its deadline; cancel disarms. */
evloop_timer_t *evloop_timer_new(evloop_t *l, evloop_fn fn, void *arg);
void evloop_timer_arm(evloop_timer_t *t, int64_t delay_ms);
void evloop_timer_cancel(evloop_timer_t *t);
bool evloop_timer_armed(const evloop_timer_t *t);
void evloop_timer_free(evloop_timer_t *t);

/* Fire-and-forget timers, loop thread only: fn(arg) once, after delay_ms
 * or when the loop ends, whichever comes first. The handle is evloop's and
 * only good for evloop_after_cancel, which frees a timer that has not fired
 * (fn is not called); once fn starts the handle is gone. */
evloop_timer_t *evloop_after(evloop_t *l, int64_t delay_ms, evloop_fn fn, void *arg);
void evloop_after_cancel(evloop_timer_t *t);

#endif
