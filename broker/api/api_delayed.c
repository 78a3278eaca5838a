#include "api/api_delayed.h"

#include "api/api_metrics.h"
#include "util/mem.h"

#include <stdlib.h>

api_delayed_t *api_delayed_new(api_request_t *req, int32_t max_watches, api_delayed_ready_fn ready,
                               api_delayed_answer_fn answer, void *ctx) {
    api_delayed_t *d = mem_calloc(1, sizeof *d);
    d->req = req;
    d->ctx = ctx;
    d->ready = ready;
    d->answer = answer;
    d->loop = net_conn_evloop(req->conn);
    atomic_init(&d->refs, 2); /* pending + timer */
    d->watches = mem_calloc((size_t)(max_watches > 0 ? max_watches : 0) + 1, sizeof *d->watches);
    api_metrics_delayed(req, 1);
    return d;
}

static void api_delayed_unref(api_delayed_t *d) {
    if (atomic_fetch_sub(&d->refs, 1) == 1) {
        free(d->watches);
        free(d);
    }
}

static void api_delayed_complete(api_delayed_t *d, bool timed_out) {
    d->done = true;
    for (int32_t i = 0; i < d->nwatches; i++)
        partition_unwatch(d->watches[i].partition, &d->watches[i].waiter);
    if (d->timer) {
        evloop_after_cancel(d->timer);
        d->timer = NULL;
        api_delayed_unref(d); /* the timer's reference */
    }
    api_metrics_delayed(d->req, -1); /* before the answer frees the request */
    d->answer(d, timed_out);
    d->req = NULL;
    api_delayed_unref(d); /* the pending reference */
}

static void api_delayed_recheck(void *arg) {
    api_delayed_t *d = arg;
    if (!d->done && d->ready(d))
        api_delayed_complete(d, false);
    api_delayed_unref(d);
}

static void api_delayed_timeout(void *arg) {
    api_delayed_t *d = arg;
    d->timer = NULL; /* fired: evloop frees it */
    if (!d->done)
        api_delayed_complete(d, true);
    api_delayed_unref(d);
}

/* Called by another thread with the partition locked: only queue the
 * re-check on the request's own loop. */
static void api_delayed_wake(partition_waiter_t *w) {
    api_delayed_t *d = ((api_delayed_watch_t *)w)->op;
    atomic_fetch_add(&d->refs, 1);
    if (evloop_run(d->loop, api_delayed_recheck, d) != 0)
        atomic_fetch_sub(&d->refs, 1); /* the loop is gone: shutting down */
}

api_delayed_watch_t *api_delayed_watch(api_delayed_t *d, partition_t *p, bool wants_appends, int64_t offset,
                                       void *item) {
    api_delayed_watch_t *w = &d->watches[d->nwatches++];
    w->waiter.wake = api_delayed_wake;
    w->waiter.wants_appends = wants_appends;
    w->op = d;
    w->partition = p;
    w->offset = offset;
    w->item = item;
    partition_watch(p, &w->waiter);
    return w;
}

bool api_delayed_start(api_delayed_t *d, int64_t timeout_ms) {
    d->timer = evloop_after(d->loop, timeout_ms, api_delayed_timeout, d);
    bool ready = d->ready(d);
    if (ready)
        api_delayed_complete(d, false); /* may free d */
    return ready;
}
