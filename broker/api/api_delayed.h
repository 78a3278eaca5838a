/*
 * api_delayed — a request that waits on partitions before it answers
 * (Kafka's DelayedOperation and its purgatory watch): a long-polling Fetch
 * waiting for data, an acks=all Produce waiting for its replicas.
 *
 * The handler makes one, watches the partitions it waits on and starts it
 * with a timeout. A partition wakes it from whichever thread appended or
 * moved the high watermark; the wake only posts a re-check to the
 * connection's loop, where the handler's ready() decides. The answer runs
 * there once: when ready() says so, or when the timeout fires. No polling.
 *
 * Threads: everything but the partitions' wake runs on the connection's
 * loop. The operation is freed when the last of its references goes: one
 * for being pending, one for the timer, one per queued re-check.
 */
#ifndef SAMSA_API_DELAYED_H
#define SAMSA_API_DELAYED_H

#include "api/api.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct api_delayed api_delayed_t;

/* One watched partition. */
typedef struct api_delayed_watch {
    partition_waiter_t waiter; /* first: the partition's waiter is the watch */
    api_delayed_t *op;
    partition_t *partition;
    int64_t offset;   /* the handler's: a fetch offset, a produce's required offset */
    void *item;       /* the handler's: e.g. the response entry this watch settles */
    bool settled;     /* the handler's: nothing more to wait for here */
} api_delayed_watch_t;

/* On the loop: whether the request can be answered now. */
typedef bool (*api_delayed_ready_fn)(api_delayed_t *d);
/* On the loop, exactly once: answers d->req (timed_out: the wait ran out
 * before ready() said so). */
typedef void (*api_delayed_answer_fn)(api_delayed_t *d, bool timed_out);

struct api_delayed {
    api_request_t *req;            /* owner: loop thread; NULL once answered */
    void *ctx;                     /* the handler's; owner: loop thread */
    api_delayed_watch_t *watches;  /* owner: loop thread (the partitions only call wake) */
    int32_t nwatches;
    /* the rest is api_delayed.c's */
    api_delayed_ready_fn ready;    /* immutable */
    api_delayed_answer_fn answer;  /* immutable */
    evloop_t *loop;                /* immutable: the connection's loop */
    evloop_timer_t *timer;         /* owner: loop thread; NULL once fired or cancelled */
    atomic_int refs;               /* any thread */
    bool done;                     /* owner: loop thread */
};

/* An operation for req (on its connection's loop) with room for
 * max_watches partitions. */
api_delayed_t *api_delayed_new(api_request_t *req, int32_t max_watches, api_delayed_ready_fn ready,
                               api_delayed_answer_fn answer, void *ctx);

/* Watches p: woken on every append (wants_appends, a follower's fetch) or
 * when its high watermark moves; either way on a role change. */
api_delayed_watch_t *api_delayed_watch(api_delayed_t *d, partition_t *p, bool wants_appends, int64_t offset,
                                       void *item);

/* Arms the timeout and answers at once when already ready (a wake may
 * have come between the handler's first look and the watch): true then,
 * and d and its request are gone. d belongs to the loop from here on; the
 * answer comes from a later callback on it, so until the handler returns it
 * may still use an unanswered request (e.g. api_detach it). */
bool api_delayed_start(api_delayed_t *d, int64_t timeout_ms);

#endif
