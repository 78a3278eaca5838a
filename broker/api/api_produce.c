/* Produce (key 0), v3+: one record batch v2 per partition, validated and
 * appended by the partition's leader. acks=0 gets no answer, and a failure
 * then closes the connection so the producer refreshes its metadata (Kafka's
 * rule); acks=1 and acks=-1 are answered once written (until replication
 * lands the ISR is the leader alone, so both mean the same). */
#include "api/api.h"

#include "util/clock.h"
#include "util/logger.h"
#include "log/record_batch.h"

#include <string.h>

static bool api_produce_internal_topic(kp_str_t t) {
    return kp_str_eq(t, "__consumer_offsets") || kp_str_eq(t, "__transaction_state");
}

/* The error for one partition's data, or KERR_NONE after appending it. */
static kerr_t api_produce_partition(api_request_t *req, kp_str_t topic, const kp_produce_req_partition_t *pd,
                                    int64_t now_ms, kp_produce_resp_partition_t *out) {
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
    /* zstd needs Produce v7 (KIP-110). */
    if (len > BATCH_OFF_ATTRIBUTES + 1 && req->hdr.api_version < 7 &&
        (data[BATCH_OFF_ATTRIBUTES + 1] & BATCH_ATTR_COMPRESSION_MASK) == COMPRESSION_ZSTD)
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    partition_append_result_t r;
    /* The frame is ours until we answer (net.h): offsets go in in place. */
    int32_t min_isr =
        ((const kp_produce_req_t *)req->body)->acks == -1 ? partition_min_isr(p, b->min_insync_replicas) : 0;
    kerr_t e = partition_append(p, (uint8_t *)data, len, min_isr, now_ms, &r);
    if (e == KERR_NONE) {
        out->base_offset = r.base_offset;
        out->log_append_time_ms = r.log_append_time;
        out->log_start_offset = r.log_start_offset;
    }
    return e;
}

void api_handle_produce(api_request_t *req) {
    const kp_produce_req_t *rq = req->body;
    int64_t now_ms = clock_wall_ms();
    bool bad_acks = rq->acks != 0 && rq->acks != 1 && rq->acks != -1;
    bool any_error = false;

    kp_produce_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_produce_req_topic_t *topics = rq->topic_data.items;
    int32_t nt = rq->topic_data.count > 0 ? rq->topic_data.count : 0;
    kp_produce_resp_topic_t *rts = api_alloc_array(req, &resp.responses, nt, sizeof *rts);
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
            kerr_t e = bad_acks ? KERR_INVALID_REQUIRED_ACKS : api_produce_partition(req, topics[t].name, &pds[i], now_ms, o);
            o->error_code = (int16_t)e;
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
    api_respond(req, &resp);
}
