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

struct evloop {
    char name[16];
    struct event_base *base;
    struct event *ev_tasks;
    pthread_t thread;
    pthread_t self;            /* the loop thread's id, written by itself */
    _Atomic bool running;      /* self is valid and the loop runs */
    bool started;
    bool joined;

    pthread_mutex_t mu; /* guards the queue and stopping */
    evloop_task_t *head;
    evloop_task_t *tail;
    bool stopping;
};

struct evloop_timer {
    evloop_t *loop;
    struct event *ev;
    evloop_fn fn;
    void *arg;
};

/* Takes the whole queue under the lock and runs it outside, so a task may
 * queue further tasks (they run on the next activation). */
static void evloop_on_tasks(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    evloop_t *l = arg;
    pthread_mutex_lock(&l->mu);
    evloop_task_t *t = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (t) {
        evloop_task_t *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
}

evloop_t *evloop_new(const char *name, char *err, size_t errlen) {
    if (evthread_use_pthreads() != 0) {
        errmsg_set(err, errlen, "evloop: cannot enable libevent's pthreads support");
        return NULL;
    }
    evloop_t *l = mem_calloc(1, sizeof *l);
    atomic_init(&l->running, false);
    snprintf(l->name, sizeof l->name, "%s", name ? name : "evloop");
    pthread_mutex_init(&l->mu, NULL);
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

static void *evloop_main(void *arg) {
    evloop_t *l = arg;
    l->self = pthread_self();
    atomic_store(&l->running, true);
    pthread_setname_np(pthread_self(), l->name);
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY); /* idle until evloop_stop */
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

/* The last task of a stopping loop: everything queued before it has run. */
static void evloop_exit_task(void *arg) {
    evloop_t *l = arg;
    event_base_loopbreak(l->base);
}

void evloop_stop(evloop_t *l) {
    pthread_mutex_lock(&l->mu);
    bool already = l->stopping;
    l->stopping = true;
    pthread_mutex_unlock(&l->mu);
    if (!l->started || l->joined)
        return;
    if (!already) {
        evloop_task_t *t = mem_alloc(sizeof *t);
        *t = (evloop_task_t){evloop_exit_task, l, NULL};
        pthread_mutex_lock(&l->mu);
        if (l->tail)
            l->tail->next = t;
        else
            l->head = t;
        l->tail = t;
        event_active(l->ev_tasks, EV_READ, 0);
        pthread_mutex_unlock(&l->mu);
    }
    pthread_join(l->thread, NULL);
    l->joined = true;
    /* Tasks queued behind the exit task (none can be added now) are dropped
     * in evloop_free. */
}

void evloop_free(evloop_t *l) {
    if (!l)
        return;
    evloop_stop(l);
    evloop_task_t *t = l->head;
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

int evloop_run(evloop_t *l, evloop_fn fn, void *arg) {
    evloop_task_t *t = mem_alloc(sizeof *t);
    *t = (evloop_task_t){fn, arg, NULL};
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        free(t);
        return -1;
    }
    if (l->tail) {
        l->tail->next = t;
    } else {
        l->head = t;
        event_active(l->ev_tasks, EV_READ, 0); /* thread-safe with evthread */
    }
    l->tail = t;
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

/* The loop thread records its own id before it runs any task, so a task
 * queued before evloop_start returned still sees itself in the loop. */
bool evloop_in_loop(const evloop_t *l) {
    return atomic_load(&((evloop_t *)l)->running) && pthread_equal(pthread_self(), l->self);
}

struct event_base *evloop_base(evloop_t *l) {
    return l->base;
}

/* --- timers -------------------------------------------------------------------- */

static void evloop_on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    evloop_timer_t *t = arg;
    t->fn(t->arg);
}

evloop_timer_t *evloop_timer_new(evloop_t *l, evloop_fn fn, void *arg) {
    evloop_timer_t *t = mem_calloc(1, sizeof *t);
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->ev = evtimer_new(l->base, evloop_on_timer, t);
    if (!t->ev) {
        log_error(EVLOOP_TAG, "%s: out of memory creating a timer", l->name);
        abort();
    }
    return t;
}

void evloop_timer_arm(evloop_timer_t *t, int64_t delay_ms) {
    if (delay_ms < 0)
        delay_ms = 0;
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
    evtimer_add(t->ev, &tv);
}

void evloop_timer_cancel(evloop_timer_t *t) {
    evtimer_del(t->ev);
}

bool evloop_timer_armed(const evloop_timer_t *t) {
    return evtimer_pending(t->ev, NULL) != 0;
}

void evloop_timer_free(evloop_timer_t *t) {
    if (!t)
        return;
    event_free(t->ev);
    free(t);
}
