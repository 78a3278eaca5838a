/* ListOffsets (key 2): the earliest (-2), latest (-1) or first offset at a
 * timestamp, per partition, from its leader. v0 answers an array of offsets
 * (at most max_num_offsets; samsa gives the one offset asked for). */
#include "api/api.h"

#include <string.h>

void api_handle_list_offsets(api_request_t *req) {
    const kp_list_offsets_req_t *rq = req->body;
    broker_t *b = req->broker;
    kp_list_offsets_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_list_offsets_req_topic_t *topics = rq->topics.items;
    int32_t nt = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_list_offsets_resp_topic_t *rts = api_alloc_array(req, &resp.topics, nt, sizeof *rts);
    for (int32_t t = 0; t < nt; t++) {
        rts[t].name = topics[t].name;
        const char *topic = api_strdup(req, topics[t].name);
        const kp_list_offsets_req_partition_t *ps = topics[t].partitions.items;
        int32_t np = topics[t].partitions.count > 0 ? topics[t].partitions.count : 0;
        kp_list_offsets_resp_partition_t *rps = api_alloc_array(req, &rts[t].partitions, np, sizeof *rps);
        for (int32_t i = 0; i < np; i++) {
            kp_list_offsets_resp_partition_t *o = &rps[i];
            o->partition_index = ps[i].partition_index;
            o->timestamp = o->offset = -1;
            o->leader_epoch = -1;
            partition_t *p = replica_manager_get(b->replicas, topic, ps[i].partition_index);
            kerr_t e = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            int64_t offset = -1, ts = -1;
            int32_t epoch = -1;
            if (p)
                e = partition_offset_for_timestamp(p, ps[i].timestamp, rq->replica_id, ps[i].current_leader_epoch,
                                                   &offset, &ts, &epoch);
            o->error_code = (int16_t)e;
            int64_t *old = api_alloc_array(req, &o->old_style_offsets, e == KERR_NONE && offset >= 0 ? 1 : 0,
                                           sizeof *old);
            if (e == KERR_NONE) {
                o->offset = offset;
                o->timestamp = ts;
                o->leader_epoch = epoch;
                if (offset >= 0)
                    old[0] = offset;
            }
        }
    }
    api_respond(req, &resp);
}
