/* Fetch (key 1), v4+: batches from each partition's leader, straight from
 * the segment files (file ranges spliced into the response, never copied
 * into it). Consumers read below the high watermark, followers below the
 * log end offset. A fetch that finds fewer than min_bytes waits (Kafka's
 * DelayedFetch) until an append brings enough or max_wait_ms passes — no
 * polling: appends wake the waiting fetches of their partition. */
#include "api/api.h"

#include "util/logger.h"
#include "util/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct fetch_op fetch_op_t;

/* One watched partition of a waiting fetch. */
typedef struct fetch_watch {
    partition_waiter_t waiter; /* first: the waiter is the watch */
    fetch_op_t *op;
    partition_t *partition;
    int64_t offset;
} fetch_watch_t;

/* A waiting fetch. Lives on its connection's loop; other threads only wake
 * it (taking a reference for the task they queue). References: one for
 * being pending, one for the timer, one per queued wake-up. */
struct fetch_op {
    api_request_t *req;       /* owner: loop thread; NULL once answered */
    evloop_t *loop;           /* immutable: the connection's loop */
    evloop_timer_t *timer;    /* owner: loop thread; evloop_after's, NULL once fired or cancelled */
    atomic_int refs;          /* any thread */
    bool done;                /* owner: loop thread */
    fetch_watch_t *watches;   /* owner: loop thread (the partitions call wake) */
    int32_t nwatches;
};

/* --- reading ------------------------------------------------------------------ */

/* Reads every requested partition into resp. Kafka's rules: the request's
 * max_bytes bounds the total and partition_max_bytes each partition, except
 * that the first partition with data returns at least one whole batch
 * (KIP-74). Returns the bytes found; *any_error tells whether a partition
 * failed (then the fetch is answered at once). */
static uint64_t fetch_read_all(api_request_t *req, kp_fetch_resp_t *resp, bool *any_error) {
    const kp_fetch_req_t *rq = req->body;
    broker_t *b = req->broker;
    int64_t remaining = rq->max_bytes > 0 ? rq->max_bytes : 0;
    bool min_one = true;
    uint64_t total = 0;
    *any_error = false;
    const kp_fetch_req_topic_t *topics = rq->topics.items;
    int32_t nt = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_fetch_resp_topic_t *rts = api_alloc_array(req, &resp->responses, nt, sizeof *rts);
    for (int32_t t = 0; t < nt; t++) {
        rts[t].topic = topics[t].topic;
        const char *topic = api_strdup(req, topics[t].topic);
        const kp_fetch_req_partition_t *ps = topics[t].partitions.items;
        int32_t np = topics[t].partitions.count > 0 ? topics[t].partitions.count : 0;
        kp_fetch_resp_partition_t *rps = api_alloc_array(req, &rts[t].partition_responses, np, sizeof *rps);
        for (int32_t i = 0; i < np; i++) {
            kp_fetch_resp_partition_t *o = &rps[i];
            o->partition = ps[i].partition;
            o->high_watermark = o->last_stable_offset = o->log_start_offset = -1;
            o->preferred_read_replica = -1;
            api_alloc_array(req, &o->aborted_transactions, 0, sizeof(kp_fetch_resp_aborted_t));
            o->record_set = (kp_records_t){NULL, 0, -1, 0};
            partition_t *p = replica_manager_get(b->replicas, topic, ps[i].partition);
            if (!p) {
                o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                *any_error = true;
                continue;
            }
            int64_t limit = ps[i].partition_max_bytes < remaining ? ps[i].partition_max_bytes : remaining;
            partition_read_result_t r;
            kerr_t e = partition_read(p, ps[i].fetch_offset, limit > 0 ? (uint32_t)limit : 0, min_one, rq->replica_id,
                                      ps[i].current_leader_epoch, &r);
            o->error_code = (int16_t)e;
            o->high_watermark = r.high_watermark;
            o->last_stable_offset = r.high_watermark;
            o->log_start_offset = r.log_start_offset;
            if (e != KERR_NONE) {
                *any_error = true;
                continue;
            }
            if (r.data.length > 0) {
                o->record_set = (kp_records_t){NULL, (int32_t)r.data.length, r.data.fd, r.data.position};
                min_one = false;
                total += r.data.length;
                remaining -= r.data.length;
                if (remaining < 0)
                    remaining = 0;
            }
        }
    }
    return total;
}

static void fetch_answer(api_request_t *req) {
    kp_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    bool any_error;
    fetch_read_all(req, &resp, &any_error);
    api_respond(req, &resp);
}

/* --- waiting -------------------------------------------------------------------- */

static void fetch_op_unref(fetch_op_t *op) {
    if (atomic_fetch_sub(&op->refs, 1) == 1) {
        free(op->watches);
        free(op);
    }
}

/* Enough bytes across the watched partitions, or one of them cannot be
 * read any more (an error to report): answer now. */
static bool fetch_op_ready(fetch_op_t *op) {
    const kp_fetch_req_t *rq = op->req->body;
    uint64_t bytes = 0;
    for (int32_t i = 0; i < op->nwatches; i++) {
        bytes += partition_bytes_available(op->watches[i].partition, op->watches[i].offset, rq->replica_id);
        if (bytes >= (uint64_t)rq->min_bytes)
            return true;
    }
    return false;
}

static void fetch_op_complete(fetch_op_t *op) {
    op->done = true;
    for (int32_t i = 0; i < op->nwatches; i++)
        partition_unwatch(op->watches[i].partition, &op->watches[i].waiter);
    if (op->timer) {
        evloop_after_cancel(op->timer);
        op->timer = NULL;
        fetch_op_unref(op); /* the timer's reference */
    }
    fetch_answer(op->req);
    op->req = NULL;
    fetch_op_unref(op); /* the pending reference */
}

static void fetch_op_recheck(void *arg) {
    fetch_op_t *op = arg;
    if (!op->done && fetch_op_ready(op))
        fetch_op_complete(op);
    fetch_op_unref(op);
}

static void fetch_op_timeout(void *arg) {
    fetch_op_t *op = arg;
    op->timer = NULL; /* fired: evloop frees it */
    if (!op->done)
        fetch_op_complete(op);
    fetch_op_unref(op);
}

/* Called by an appending thread with the partition locked: only queue the
 * re-check on the fetch's own loop. */
static void fetch_op_wake(partition_waiter_t *w) {
    fetch_op_t *op = ((fetch_watch_t *)w)->op;
    atomic_fetch_add(&op->refs, 1);
    if (evloop_run(op->loop, fetch_op_recheck, op) != 0)
        atomic_fetch_sub(&op->refs, 1); /* the loop is gone: shutting down */
}

static void fetch_wait(api_request_t *req) {
    const kp_fetch_req_t *rq = req->body;
    fetch_op_t *op = mem_calloc(1, sizeof *op);
    op->req = req;
    op->loop = net_conn_evloop(req->conn);
    atomic_init(&op->refs, 2); /* pending + timer */
    int32_t n = 0;
    const kp_fetch_req_topic_t *topics = rq->topics.items;
    for (int32_t t = 0; t < rq->topics.count; t++)
        n += topics[t].partitions.count > 0 ? topics[t].partitions.count : 0;
    op->watches = mem_calloc((size_t)n + 1, sizeof *op->watches);
    for (int32_t t = 0; t < rq->topics.count; t++) {
        const char *topic = api_strdup(req, topics[t].topic);
        const kp_fetch_req_partition_t *ps = topics[t].partitions.items;
        for (int32_t i = 0; i < topics[t].partitions.count; i++) {
            partition_t *p = replica_manager_get(req->broker->replicas, topic, ps[i].partition);
            if (!p)
                continue;
            fetch_watch_t *w = &op->watches[op->nwatches++];
            w->waiter.wake = fetch_op_wake;
            w->op = op;
            w->partition = p;
            w->offset = ps[i].fetch_offset;
            partition_watch(p, &w->waiter);
        }
    }
    op->timer = evloop_after(op->loop, rq->max_wait_ms, fetch_op_timeout, op);
    /* Data may have arrived between the first read and the watch. */
    if (fetch_op_ready(op))
        fetch_op_complete(op);
}

void api_handle_fetch(api_request_t *req) {
    const kp_fetch_req_t *rq = req->body;
    kp_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    bool any_error;
    uint64_t bytes = fetch_read_all(req, &resp, &any_error);
    if (rq->max_wait_ms <= 0 || bytes >= (uint64_t)(rq->min_bytes > 0 ? rq->min_bytes : 0) || any_error ||
        rq->topics.count <= 0) {
        api_respond(req, &resp);
        return;
    }
    /* Nothing worth sending yet: the response built so far is dropped (its
     * arrays stay in the arena) and rebuilt when the fetch completes. */
    fetch_wait(req);
}
