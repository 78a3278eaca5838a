/* Fetch (key 1), v4+: batches from each partition's leader, straight from
 * the segment files (file ranges spliced into the response, never copied
 * into it). Consumers read below the high watermark, followers below the
 * log end offset. A fetch that finds fewer than min_bytes waits (Kafka's
 * DelayedFetch) until an append brings enough or max_wait_ms passes — no
 * polling: the partitions wake the waiting fetches (api_delayed.h) — a
 * consumer's when the high watermark moves, a follower's on every append
 * (else each replication round would wait max_wait_ms). A follower's fetch
 * is how the leader learns its position (partition_read).
 *
 * File ranges: partition_read returns a duplicate of the segment's fd, made
 * under the partition's lock, so a log deleted before the response is sent
 * (a StopReplica on another loop) cannot make the fd name another file. The
 * response owns those duplicates: api_respond hands them to net, which
 * closes them; a response dropped unsent (the fetch waits) closes them. */
#include "api/api.h"
#include "api/api_delayed.h"
#include "api/api_metrics.h"

#include "util/clock.h"

#include <string.h>

/* --- reading ------------------------------------------------------------------ */

/* Reads every requested partition into resp (which then owns a duplicate
 * fd per partition with data). Kafka's rules: the request's
 * max_bytes bounds the total and partition_max_bytes each partition, except
 * that the first partition with data returns at least one whole batch
 * (KIP-74). Returns the bytes found; *any_error tells whether a partition
 * failed (then the fetch is answered at once). */
static uint64_t fetch_read_all(api_request_t *req, kp_fetch_resp_t *resp, bool *any_error) {
    const kp_fetch_req_t *rq = req->body;
    broker_t *b = req->broker;
    int64_t remaining = rq->max_bytes > 0 ? rq->max_bytes : 0;
    int64_t now_ms = rq->replica_id >= 0 ? clock_wall_ms() : 0; /* only followers' fetches are timed */
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
            partition_reader_t reader = {rq->replica_id, ps[i].current_leader_epoch, ps[i].log_start_offset, now_ms};
            kerr_t e = partition_read(p, ps[i].fetch_offset, limit > 0 ? (uint32_t)limit : 0, min_one, &reader, &r);
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

/* --- waiting -------------------------------------------------------------------- */

/* Enough bytes across the watched partitions, or one of them cannot be
 * read any more (an error to report): answer now. */
static bool fetch_ready(api_delayed_t *d) {
    const kp_fetch_req_t *rq = d->req->body;
    uint64_t bytes = 0;
    for (int32_t i = 0; i < d->nwatches; i++) {
        bytes += partition_bytes_available(d->watches[i].partition, d->watches[i].offset, rq->replica_id);
        if (bytes >= (uint64_t)rq->min_bytes)
            return true;
    }
    return false;
}

/* Timed out or not, a fetch answers with whatever there is now. */
static void fetch_answer(api_delayed_t *d, bool timed_out) {
    (void)timed_out;
    kp_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    bool any_error;
    fetch_read_all(d->req, &resp, &any_error);
    api_metrics_fetch_out(d->req, &resp);
    api_respond(d->req, &resp);
}

static void fetch_wait(api_request_t *req) {
    const kp_fetch_req_t *rq = req->body;
    int32_t n = 0;
    const kp_fetch_req_topic_t *topics = rq->topics.items;
    for (int32_t t = 0; t < rq->topics.count; t++)
        n += topics[t].partitions.count > 0 ? topics[t].partitions.count : 0;
    api_delayed_t *d = api_delayed_new(req, n, fetch_ready, fetch_answer, NULL);
    for (int32_t t = 0; t < rq->topics.count; t++) {
        const char *topic = api_strdup(req, topics[t].topic);
        const kp_fetch_req_partition_t *ps = topics[t].partitions.items;
        for (int32_t i = 0; i < topics[t].partitions.count; i++) {
            partition_t *p = replica_manager_get(req->broker->replicas, topic, ps[i].partition);
            if (p)
                api_delayed_watch(d, p, rq->replica_id >= 0, ps[i].fetch_offset, NULL);
        }
    }
    api_delayed_start(d, rq->max_wait_ms);
}

void api_handle_fetch(api_request_t *req) {
    const kp_fetch_req_t *rq = req->body;
    kp_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    bool any_error;
    uint64_t bytes = fetch_read_all(req, &resp, &any_error);
    if (rq->max_wait_ms <= 0 || bytes >= (uint64_t)(rq->min_bytes > 0 ? rq->min_bytes : 0) || any_error ||
        rq->topics.count <= 0) {
        api_metrics_fetch_out(req, &resp);
        api_respond(req, &resp);
        return;
    }
    /* Nothing worth sending yet: the response built so far is dropped (its
     * arrays stay in the arena, its fds are closed) and rebuilt when the
     * fetch completes. */
    kp_close_files(kp_api_find(KP_API_FETCH)->response, req->hdr.api_version, &resp);
    fetch_wait(req);
}
