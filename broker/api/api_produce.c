/* Produce (key 0): one record batch v2 per partition (v3+), or a legacy
 * message set of magic 0/1 (v0-2), validated and appended by the
 * partition's leader. A legacy set is converted to one v2 batch first, as
 * Kafka 2.8 converts it with message.format.version 2.8 (msgset.h): the
 * batch keeps the wrapper's codec, the messages' keys, values and
 * timestamps (none for magic 0), and then takes exactly the path a v2
 * producer's batch takes (validation, offsets, acks, replication).
 *
 * acks=0 gets no answer, and a failure then closes the connection so the
 * producer refreshes its metadata (Kafka's rule); acks=1 is answered once
 * written. acks=-1 (all) waits after the
 * append (Kafka's DelayedProduce, api_delayed.h) until each appended
 * partition's high watermark passed its last offset — every ISR member has
 * it — or timeout_ms runs out (REQUEST_TIMED_OUT for what still waits; the
 * data stays and may yet commit). While it waits the request is detached
 * from its connection (api_detach): the client's next request is appended
 * at once, and the answers still go out in request order. Kafka makes it
 * wait; librdkafka sends one partition per request, so a connection's
 * partitions would each wait for every other's replication round trip. */
#include "api/api.h"
#include "api/api_delayed.h"

#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"
#include "log/record_batch.h"
#include "proto/msgset.h"

#include <stdlib.h>
#include <string.h>

static bool api_produce_internal_topic(kp_str_t t) {
    return kp_str_eq(t, "__consumer_offsets") || kp_str_eq(t, "__transaction_state");
}

/* Converts a legacy message set (Produce v0-2) to one record batch v2 in
 * out (the caller's, freed by it). */
static kerr_t api_produce_convert_legacy(const uint8_t *data, size_t len, buf_t *out) {
    msgset_t set;
    msgset_init(&set);
    kerr_t e = msgset_parse(data, len, BATCH_DEFAULT_MAX_UNCOMPRESSED, &set);
    record_input_t *records = NULL;
    if (e == KERR_NONE) {
        records = mem_calloc(set.count, sizeof *records);
        for (size_t i = 0; i < set.count; i++) {
            const msgset_message_t *m = &set.messages[i];
            records[i] = (record_input_t){m->key, m->key_len, m->value, m->value_len, m->timestamp, 0, NULL};
        }
        batch_build_opts_t opts = {.compression = set.codec, .producer_id = -1, .producer_epoch = -1,
                                   .base_sequence = -1};
        e = set.count > INT32_MAX ? KERR_MESSAGE_TOO_LARGE
                                  : record_batch_build(out, &opts, records, (int)set.count);
    }
    free(records);
    msgset_free(&set);
    return e;
}

/* The error for one partition's data, or KERR_NONE after appending it
 * (then *appended_to is the partition and *last_offset the batch's last). */
static kerr_t api_produce_partition(api_request_t *req, kp_str_t topic, const kp_produce_req_partition_t *pd,
                                    int64_t now_ms, kp_produce_resp_partition_t *out, partition_t **appended_to,
                                    int64_t *last_offset) {
    broker_t *b = req->broker;
    if (api_produce_internal_topic(topic) && !kp_str_eq(req->hdr.client_id, "__admin_client"))
        return KERR_INVALID_TOPIC_EXCEPTION;
    partition_t *p = replica_manager_get(b->replicas, api_strdup(req, topic), pd->index);
    if (!p)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (pd->records.len <= 0)
        return KERR_CORRUPT_MESSAGE;
    const uint8_t *data = pd->records.data;
    size_t len = (size_t)pd->records.len;
    buf_t converted;
    buf_init(&converted);
    if (req->hdr.api_version < 3 && msgset_is_legacy(data, len)) {
        kerr_t e = api_produce_convert_legacy(data, len, &converted);
        if (e != KERR_NONE)
            return e;
        data = converted.data;
        len = converted.len;
    }
    /* zstd needs Produce v7 (KIP-110). */
    if (len > BATCH_OFF_ATTRIBUTES + 1 && req->hdr.api_version < 7 && data[BATCH_OFF_MAGIC] == 2 &&
        (data[BATCH_OFF_ATTRIBUTES + 1] & BATCH_ATTR_COMPRESSION_MASK) == COMPRESSION_ZSTD) {
        buf_free(&converted);
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    partition_append_result_t r;
    /* The frame is ours until we answer (net.h): offsets go in in place. */
    int32_t min_isr =
        ((const kp_produce_req_t *)req->body)->acks == -1 ? partition_min_isr(p, b->min_insync_replicas) : 0;
    kerr_t e = partition_append(p, (uint8_t *)data, len, min_isr, now_ms, &r);
    buf_free(&converted);
    if (e == KERR_NONE) {
        out->base_offset = r.base_offset;
        out->log_append_time_ms = r.log_append_time;
        out->log_start_offset = r.log_start_offset;
        *appended_to = p;
        *last_offset = r.last_offset;
    }
    return e;
}

/* --- acks=all ------------------------------------------------------------------- */

/* Settles each partition whose replicas have its data (or that cannot
 * wait any more); ready when none is left. */
static bool produce_acks_ready(api_delayed_t *d) {
    int32_t broker_min_isr = d->req->broker->min_insync_replicas;
    bool all = true;
    for (int32_t i = 0; i < d->nwatches; i++) {
        api_delayed_watch_t *w = &d->watches[i];
        kerr_t e;
        if (w->settled)
            continue;
        if (partition_check_acks(w->partition, w->offset, broker_min_isr, &e)) {
            w->settled = true;
            ((kp_produce_resp_partition_t *)w->item)->error_code = (int16_t)e;
        } else {
            all = false;
        }
    }
    return all;
}

/* The response's topic names point into the frame, which a detached
 * request gives up: copy them. */
static void produce_detach(api_request_t *req, kp_produce_resp_t *resp) {
    kp_produce_resp_topic_t *rts = resp->responses.items;
    for (int32_t t = 0; t < resp->responses.count; t++)
        rts[t].name = kp_str(api_strdup(req, rts[t].name));
    api_detach(req);
}

/* A timed-out acks=all produce says why (its client only sees
 * REQUEST_TIMED_OUT and retries). */
static void produce_acks_answer(api_delayed_t *d, bool timed_out) {
    for (int32_t i = 0; timed_out && i < d->nwatches; i++) {
        api_delayed_watch_t *w = &d->watches[i];
        if (w->settled)
            continue;
        ((kp_produce_resp_partition_t *)w->item)->error_code = KERR_REQUEST_TIMED_OUT;
        char why[1024];
        partition_describe_acks_wait(w->partition, w->offset, why, sizeof why);
        log_info("produce", "%s-%d from %s: acks=all timed out: %s", w->partition->topic, w->partition->index,
                 net_conn_peer(d->req->conn), why);
    }
    api_respond(d->req, d->ctx);
}

void api_handle_produce(api_request_t *req) {
    const kp_produce_req_t *rq = req->body;
    int64_t now_ms = clock_wall_ms();
    bool bad_acks = rq->acks != 0 && rq->acks != 1 && rq->acks != -1;
    bool any_error = false;

    /* In the arena: an acks=all answer is sent from the delayed produce. */
    kp_produce_resp_t *resp = kp_arena_alloc(&req->arena, sizeof *resp);
    memset(resp, 0, sizeof *resp);
    const kp_produce_req_topic_t *topics = rq->topic_data.items;
    int32_t nt = rq->topic_data.count > 0 ? rq->topic_data.count : 0;
    kp_produce_resp_topic_t *rts = api_alloc_array(req, &resp->responses, nt, sizeof *rts);
    int32_t nparts = 0;
    for (int32_t t = 0; t < nt; t++)
        nparts += topics[t].partition_data.count > 0 ? topics[t].partition_data.count : 0;
    api_delayed_t *acks = rq->acks == -1 && !bad_acks
                              ? api_delayed_new(req, nparts, produce_acks_ready, produce_acks_answer, resp)
                              : NULL;
    for (int32_t t = 0; t < nt; t++) {
        rts[t].name = topics[t].name;
        const kp_produce_req_partition_t *pds = topics[t].partition_data.items;
        int32_t np = topics[t].partition_data.count > 0 ? topics[t].partition_data.count : 0;
        kp_produce_resp_partition_t *rps = api_alloc_array(req, &rts[t].partition_responses, np, sizeof *rps);
        for (int32_t i = 0; i < np; i++) {
            kp_produce_resp_partition_t *o = &rps[i];
            o->index = pds[i].index;
            o->base_offset = -1;
            o->log_append_time_ms = -1;
            o->log_start_offset = -1;
            o->error_message = KP_STR_NULL;
            api_alloc_array(req, &o->record_errors, 0, sizeof(kp_produce_resp_record_error_t));
            partition_t *appended_to = NULL;
            int64_t last_offset = -1;
            kerr_t e = bad_acks ? KERR_INVALID_REQUIRED_ACKS
                                : api_produce_partition(req, topics[t].name, &pds[i], now_ms, o, &appended_to,
                                                        &last_offset);
            o->error_code = (int16_t)e;
            if (e == KERR_NONE && acks)
                api_delayed_watch(acks, appended_to, false, last_offset + 1, o);
            if (e != KERR_NONE) {
                any_error = true;
                log_debug("produce", "%.*s-%d from %s: %s", (int)topics[t].name.len, topics[t].name.ptr, pds[i].index,
                          net_conn_peer(req->conn), kerr_name(e));
            }
        }
    }
    if (rq->acks == 0) {
        if (any_error)
            api_close(req);
        else
            api_respond_none(req);
        return;
    }
    if (acks) {
        if (!api_delayed_start(acks, rq->timeout_ms > 0 ? rq->timeout_ms : 0))
            produce_detach(req, resp); /* not answered at once (RF 1 is): let the connection go on */
    } else
        api_respond(req, resp);
}
