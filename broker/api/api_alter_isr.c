/* AlterIsr (key 56, KIP-497): a partition leader asks the controller to
 * change its ISR (inter.broker.protocol.version >= 2.7-IV2; below that
 * leaders write ZooKeeper themselves, replica/isr_sync.h). Runs on the
 * network loop and posts to the controller, as ControlledShutdown does:
 * the controller answers on its own loop, and api_respond hands the answer
 * to the connection's loop. The request (its arena, its frame) lives until
 * then, so the items the controller reads point into it. */
#include "api/api.h"

#include <string.h>

/* The controller's verdict: per partition in the request's order, topics
 * as the request grouped them (Kafka answers in the same shape). */
static void api_alter_isr_done(void *ctx, kerr_t err, const controller_isr_result_t *results, size_t n) {
    api_request_t *req = ctx;
    const kp_alter_isr_req_t *rq = req->body;
    kp_alter_isr_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.error_code = (int16_t)err;
    int32_t ntopics = err == KERR_NONE && rq->topics.count > 0 ? rq->topics.count : 0;
    kp_alter_isr_resp_topic_t *topics = api_alloc_array(req, &resp.topics, ntopics, sizeof *topics);
    const kp_alter_isr_req_topic_t *rt = rq->topics.items;
    size_t i = 0;
    for (int32_t t = 0; t < ntopics; t++) {
        int32_t np = rt[t].partitions.count > 0 ? rt[t].partitions.count : 0;
        const kp_alter_isr_req_partition_t *rp = rt[t].partitions.items;
        topics[t].name = rt[t].name;
        kp_alter_isr_resp_partition_t *ps = api_alloc_array(req, &topics[t].partitions, np, sizeof *ps);
        for (int32_t k = 0; k < np && i < n; k++, i++) {
            const controller_isr_result_t *r = &results[i];
            ps[k] = (kp_alter_isr_resp_partition_t){.partition_index = rp[k].partition_index,
                                                    .error_code = (int16_t)r->err};
            if (r->err != KERR_NONE)
                continue;
            ps[k].leader_id = r->leader_id;
            ps[k].leader_epoch = r->leader_epoch;
            ps[k].current_isr_version = r->zk_version;
            /* The controller's ISR is valid only during this call: copied. */
            int32_t *isr = api_alloc_array(req, &ps[k].isr, r->nisr, sizeof *isr);
            if (r->nisr > 0)
                memcpy(isr, r->isr, (size_t)r->nisr * sizeof *isr);
        }
    }
    api_respond(req, &resp);
}

void api_handle_alter_isr(api_request_t *req) {
    const kp_alter_isr_req_t *rq = req->body;
    int32_t n = 0;
    const kp_alter_isr_req_topic_t *rt = rq->topics.items;
    for (int32_t t = 0; t < rq->topics.count; t++)
        n += rt[t].partitions.count > 0 ? rt[t].partitions.count : 0;
    controller_isr_item_t *items = kp_arena_alloc(&req->arena, ((size_t)n + 1) * sizeof *items);
    size_t k = 0;
    for (int32_t t = 0; t < rq->topics.count; t++) {
        const char *topic = api_strdup(req, rt[t].name);
        const kp_alter_isr_req_partition_t *rp = rt[t].partitions.items;
        for (int32_t i = 0; i < rt[t].partitions.count; i++)
            items[k++] = (controller_isr_item_t){topic,
                                                 rp[i].partition_index,
                                                 rp[i].leader_epoch,
                                                 rp[i].new_isr.items,
                                                 rp[i].new_isr.count > 0 ? rp[i].new_isr.count : 0,
                                                 rp[i].current_isr_version};
    }
    controller_t *c = atomic_load(&req->broker->controller);
    if (!c || controller_alter_isr(c, rq->broker_id, rq->broker_epoch, items, k, api_alter_isr_done, req) != 0)
        api_alter_isr_done(req, KERR_NOT_CONTROLLER, NULL, 0);
}
