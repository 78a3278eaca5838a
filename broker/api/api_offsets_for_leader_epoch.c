/* OffsetsForLeaderEpoch (key 23), v0-3: where a leader epoch ends on this
 * partition's leader (storage-and-replication.md §8.1, Kafka's
 * endOffsetFor) — what a follower taking a partition over truncates by
 * (KIP-101; v1+ names the epoch found, KIP-279). current_leader_epoch (v2+)
 * fences stale and too-new askers (KIP-320). replica_id (v3+) changes
 * nothing in Kafka 2.8 — a consumer and a follower get the same answer, the
 * latest epoch ending at the log end offset — so it is only logged. Runs on
 * the network loop: one lock and a walk of a handful of cache entries per
 * partition. */
#include "api/api.h"

#include "util/logger.h"

#define OFLE_TAG "api"

/* One topic's answers, partition by partition in request order. */
static void ofle_answer_topic(api_request_t *req, const kp_offset_for_leader_epoch_req_topic_t *asked,
                              kp_offset_for_leader_epoch_resp_topic_t *answer) {
    answer->topic = asked->topic;
    const char *topic = api_strdup(req, asked->topic);
    const kp_offset_for_leader_epoch_req_partition_t *ps = asked->partitions.items;
    int32_t n = asked->partitions.count > 0 ? asked->partitions.count : 0;
    kp_offset_for_leader_epoch_resp_partition_t *out = api_alloc_array(req, &answer->partitions, n, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        leader_epoch_end_offset_t end = {LEADER_EPOCH_UNDEFINED_EPOCH, LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET};
        partition_t *p = replica_manager_get(req->broker->replicas, topic, ps[i].partition);
        kerr_t e = p ? partition_leader_epoch_end_offset(p, ps[i].current_leader_epoch, ps[i].leader_epoch, &end)
                     : KERR_UNKNOWN_TOPIC_OR_PARTITION;
        out[i] = (kp_offset_for_leader_epoch_resp_partition_t){
            .error_code = (int16_t)e,
            .partition = ps[i].partition,
            .leader_epoch = end.epoch,
            .end_offset = end.end_offset,
        };
    }
}

void api_handle_offsets_for_leader_epoch(api_request_t *req) {
    const kp_offset_for_leader_epoch_req_t *rq = req->body;
    kp_offset_for_leader_epoch_resp_t resp = {0};
    int32_t n = rq->topics.count > 0 ? rq->topics.count : 0;
    const kp_offset_for_leader_epoch_req_topic_t *asked = rq->topics.items;
    kp_offset_for_leader_epoch_resp_topic_t *answers = api_alloc_array(req, &resp.topics, n, sizeof *answers);
    for (int32_t t = 0; t < n; t++)
        ofle_answer_topic(req, &asked[t], &answers[t]);
    log_debug(OFLE_TAG, "OffsetsForLeaderEpoch v%d from %s (replica %d): %d topics", req->hdr.api_version,
              net_conn_peer(req->conn), rq->replica_id, n);
    api_respond(req, &resp);
}
