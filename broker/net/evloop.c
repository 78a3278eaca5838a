#include "net/evloop.h"

#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define EVLOOP_TAG "evloop"

typedef struct evloop_task {
    evloop_fn fn;
    void *arg;
    struct evloop_task *next;
} evloop_task_t;

/* A circular list link: an `after` timer unlinks itself from whichever list
 * holds it (the loop's, or the ending loop's batch being fired) without
 * knowing which. */
typedef struct evloop_link {
    struct evloop_link *prev, *next;
} evloop_link_t;

struct evloop {
    char name[16];             /* owner: immutable after evloop_new */
    struct event_base *base;   /* owner: loop thread (created before it starts) */
    struct event *ev_tasks;    /* activated from any thread (evthread locks it) */
    pthread_t thread;          /* owner: the thread calling start/stop/join */
    pthread_t self;            /* written by the loop thread before `running` */
    _Atomic bool running;      /* self is valid and the loop (or its ending) runs */
    bool started;              /* owner: the thread calling start/stop/join */
    bool joined;               /* owner: the thread calling start/stop/join */

    pthread_mutex_t mu;
    evloop_task_t *head;       /* under: mu */
    evloop_task_t *tail;       /* under: mu */
    bool exit_queued;          /* under: mu; evloop_stop queued its exit task */
    bool closed;               /* under: mu; the queue refuses tasks */

    evloop_link_t afters;      /* owner: loop thread; pending `after` timers, oldest first */
};

struct evloop_timer {
    evloop_link_t link;        /* first: the list holds links. `after` timers only */
    evloop_t *loop;
    struct event *ev;
    evloop_fn fn;
    void *arg;
    bool after;                /* evloop's (evloop_after), not the creator's */
};

/* --- tasks ----------------------------------------------------------------- */

/* Takes the whole queue under the lock (closing it if asked) and runs it
 * outside, so a task may queue further tasks: they run on the next
 * activation, or are refused once closed. */
static void evloop_run_queue(evloop_t *l, bool close) {
    pthread_mutex_lock(&l->mu);
    evloop_task_t *t = l->head;
    l->head = l->tail = NULL;
    l->closed = l->closed || close;
    pthread_mutex_unlock(&l->mu);
    while (t) {
        evloop_task_t *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
}

static void evloop_on_tasks(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    evloop_run_queue(arg, false);
}

/* Caller holds mu. The first task of an empty queue wakes the loop. */
static void evloop_enqueue_locked(evloop_t *l, evloop_task_t *t) {
    if (l->tail) {
        l->tail->next = t;
    } else {
        l->head = t;
        event_active(l->ev_tasks, EV_READ, 0); /* thread-safe with evthread */
    }
    l->tail = t;
}

int evloop_run(evloop_t *l, evloop_fn fn, void *arg) {
    evloop_task_t *t = mem_alloc(sizeof *t);
    *t = (evloop_task_t){fn, arg, NULL};
    pthread_mutex_lock(&l->mu);
    if (l->closed) {
        pthread_mutex_unlock(&l->mu);
        free(t);
        return -1;
    }
    evloop_enqueue_locked(l, t);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

typedef struct evloop_sync {
    evloop_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
} evloop_sync_t;

static void evloop_sync_task(void *arg) {
    evloop_sync_t *s = arg;
    s->fn(s->arg);
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

int evloop_run_sync(evloop_t *l, evloop_fn fn, void *arg) {
    if (evloop_in_loop(l)) {
        fn(arg);
        return 0;
    }
    evloop_sync_t s = {fn, arg, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    if (evloop_run(l, evloop_sync_task, &s) != 0)
        return -1;
    pthread_mutex_lock(&s.mu);
    while (!s.done)
        pthread_cond_wait(&s.cond, &s.mu);
    pthread_mutex_unlock(&s.mu);
    return 0;
}

int evloop_post(void *ctx, void (*fn)(void *arg), void *arg) {
    return evloop_run(ctx, fn, arg);
}

/* --- timers ---------------------------------------------------------------- */

static void evloop_link_init(evloop_link_t *head) { head->prev = head->next = head; }
static bool evloop_link_empty(const evloop_link_t *head) { return head->next == head; }

static void evloop_link_append(evloop_link_t *head, evloop_link_t *n) {
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static void evloop_link_remove(evloop_link_t *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* A misused handle would free a timer twice or leak it: stop at once. */
static void evloop_timer_check(const evloop_timer_t *t, bool after, const char *fn) {
    if (t->after != after) {
        log_error(EVLOOP_TAG, "%s: %s on %s timer", t->loop->name, fn, t->after ? "a fire-and-forget" : "an owned");
        abort();
    }
}

/* Fire-and-forget timers live on the loop's list: another thread touching
 * it would corrupt it silently. */
static void evloop_assert_in_loop(const evloop_t *l, const char *fn) {
    if (!evloop_in_loop(l)) {
        log_error(EVLOOP_TAG, "%s: %s called off the loop's thread", l->name, fn);
        abort();
    }
}

static void evloop_on_timer(evutil_socket_t fd, short what, void *arg);

static evloop_timer_t *evloop_timer_create(evloop_t *l, evloop_fn fn, void *arg, bool after) {
    evloop_timer_t *t = mem_calloc(1, sizeof *t);
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->after = after;
    evloop_link_init(&t->link);
    t->ev = evtimer_new(l->base, evloop_on_timer, t);
    if (!t->ev) {
        log_error(EVLOOP_TAG, "%s: out of memory creating a timer", l->name);
        abort();
    }
    return t;
}

static void evloop_timer_destroy(evloop_timer_t *t) {
    evloop_link_remove(&t->link);
    event_free(t->ev);
    free(t);
}

static void evloop_timer_schedule(evloop_timer_t *t, int64_t delay_ms) {
    if (delay_ms < 0)
        delay_ms = 0;
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
    evtimer_add(t->ev, &tv);
}

/* An `after` timer is freed before its callback, which may then add
 * timers, cancel others or end the loop freely. */
static void evloop_fire_after(evloop_timer_t *t) {
    evloop_fn fn = t->fn;
    void *arg = t->arg;
    evloop_timer_destroy(t);
    fn(arg);
}

static void evloop_on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    evloop_timer_t *t = arg;
    if (t->after)
        evloop_fire_after(t);
    else
        t->fn(t->arg);
}

evloop_timer_t *evloop_timer_new(evloop_t *l, evloop_fn fn, void *arg) {
    return evloop_timer_create(l, fn, arg, false);
}

void evloop_timer_arm(evloop_timer_t *t, int64_t delay_ms) {
    evloop_timer_check(t, false, "evloop_timer_arm");
    evloop_timer_schedule(t, delay_ms);
}

void evloop_timer_cancel(evloop_timer_t *t) {
    evloop_timer_check(t, false, "evloop_timer_cancel");
    evtimer_del(t->ev);
}

bool evloop_timer_armed(const evloop_timer_t *t) {
    return evtimer_pending(t->ev, NULL) != 0;
}

void evloop_timer_free(evloop_timer_t *t) {
    if (!t)
        return;
    evloop_timer_check(t, false, "evloop_timer_free");
    evloop_timer_destroy(t);
}

evloop_timer_t *evloop_after(evloop_t *l, int64_t delay_ms, evloop_fn fn, void *arg) {
    evloop_assert_in_loop(l, "evloop_after");
    evloop_timer_t *t = evloop_timer_create(l, fn, arg, true);
    evloop_link_append(&l->afters, &t->link);
    evloop_timer_schedule(t, delay_ms);
    return t;
}

void evloop_after_cancel(evloop_timer_t *t) {
    if (!t)
        return;
    evloop_timer_check(t, true, "evloop_after_cancel");
    evloop_assert_in_loop(t->loop, "evloop_after_cancel");
    evloop_timer_destroy(t);
}

/* --- lifecycle ------------------------------------------------------------- */

evloop_t *evloop_new(const char *name, char *err, size_t errlen) {
    if (evthread_use_pthreads() != 0) {
        errmsg_set(err, errlen, "evloop: cannot enable libevent's pthreads support");
        return NULL;
    }
    evloop_t *l = mem_calloc(1, sizeof *l);
    atomic_init(&l->running, false);
    snprintf(l->name, sizeof l->name, "%s", name ? name : "evloop");
    pthread_mutex_init(&l->mu, NULL);
    evloop_link_init(&l->afters);
    l->base = event_base_new();
    if (l->base)
        l->ev_tasks = event_new(l->base, -1, 0, evloop_on_tasks, l);
    if (!l->base || !l->ev_tasks) {
        errmsg_set(err, errlen, "evloop %s: libevent could not create an event base", l->name);
        evloop_free(l);
        return NULL;
    }
    return l;
}

/* The ending steps of evloop.h, on the loop's thread. The pending `after`
 * timers move to a batch of their own first, so that the ones their
 * callbacks add (on l->afters) are not fired, while a callback cancelling
 * one of the batch still unlinks it from there. */
static void evloop_finish(evloop_t *l) {
    evloop_link_t due;
    evloop_link_init(&due);
    if (!evloop_link_empty(&l->afters)) {
        due.next = l->afters.next;
        due.prev = l->afters.prev;
        due.next->prev = due.prev->next = &due;
        evloop_link_init(&l->afters);
    }
    while (!evloop_link_empty(&due))
        evloop_fire_after((evloop_timer_t *)due.next);
    evloop_run_queue(l, true);
    while (!evloop_link_empty(&l->afters))
        evloop_timer_destroy((evloop_timer_t *)l->afters.next);
}

static void *evloop_main(void *arg) {
    evloop_t *l = arg;
    l->self = pthread_self();
    atomic_store(&l->running, true);
    pthread_setname_np(pthread_self(), l->name);
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY); /* until evloop_break */
    evloop_finish(l);
    atomic_store(&l->running, false);
    return NULL;
}

int evloop_start(evloop_t *l, char *err, size_t errlen) {
    if (l->started) {
        errmsg_set(err, errlen, "evloop %s: already started", l->name);
        return -1;
    }
    if (pthread_create(&l->thread, NULL, evloop_main, l) != 0) {
        errmsg_set(err, errlen, "evloop %s: cannot start a thread", l->name);
        return -1;
    }
    l->started = true;
    return 0;
}

void evloop_break(evloop_t *l) {
    event_base_loopbreak(l->base);
}

/* Queued behind every task before it: those run first. */
static void evloop_exit_task(void *arg) {
    evloop_break(arg);
}

void evloop_join(evloop_t *l) {
    if (!l->started || l->joined)
        return;
    pthread_join(l->thread, NULL);
    l->joined = true;
}

void evloop_stop(evloop_t *l) {
    pthread_mutex_lock(&l->mu);
    if (!l->started) {
        l->closed = true; /* nothing will run what is queued */
    } else if (!l->closed && !l->exit_queued) {
        evloop_task_t *t = mem_alloc(sizeof *t);
        *t = (evloop_task_t){evloop_exit_task, l, NULL};
        evloop_enqueue_locked(l, t);
        l->exit_queued = true;
    }
    pthread_mutex_unlock(&l->mu);
    evloop_join(l);
}

void evloop_free(evloop_t *l) {
    if (!l)
        return;
    evloop_stop(l);
    evloop_task_t *t = l->head; /* only a loop never started has any */
    while (t) {
        evloop_task_t *next = t->next;
        free(t);
        t = next;
    }
    if (l->ev_tasks)
        event_free(l->ev_tasks);
    if (l->base)
        event_base_free(l->base);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The loop thread records its own id before it runs any task, so a task
 * queued before evloop_start returned still sees itself in the loop. */
bool evloop_in_loop(const evloop_t *l) {
    return atomic_load(&((evloop_t *)l)->running) && pthread_equal(pthread_self(), l->self);
}

struct event_base *evloop_base(evloop_t *l) {
    return l->base;
}
