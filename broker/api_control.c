/* The controller's requests to brokers: LeaderAndIsr (key 4) makes this
 * broker leader or follower of partitions, UpdateMetadata (6) refreshes what
 * it tells clients, StopReplica (5) stops (and deletes) replicas. Each is
 * fenced by the controller epoch: a request from a deposed controller
 * changes nothing (STALE_CONTROLLER_EPOCH). */
#include "api.h"

#include "clock.h"
#include "logger.h"

#include <string.h>

#define LEADER_DURING_DELETE (-2)

/* --- LeaderAndIsr ------------------------------------------------------------- */

static kerr_t api_lai_apply(api_request_t *req, const char *topic, const kp_leader_and_isr_partition_state_t *s) {
    partition_state_t st = {
        .controller_epoch = s->controller_epoch,
        .leader_id = s->leader,
        .leader_epoch = s->leader_epoch,
        .zk_version = s->zk_version,
        .replicas = s->replicas.items,
        .nreplicas = s->replicas.count > 0 ? s->replicas.count : 0,
        .isr = s->isr.items,
        .nisr = s->isr.count > 0 ? s->isr.count : 0,
    };
    return replica_manager_apply(req->broker->replicas, topic, s->partition_index, &st, NULL, clock_wall_ms());
}

/* Flattens v0-1 (ungrouped) and v2+ (grouped by topic) partition states. */
typedef void (*api_lai_each_fn)(api_request_t *req, const char *topic, kp_str_t topic_str,
                                const kp_leader_and_isr_partition_state_t *s, void *ctx);

static int32_t api_lai_for_each(api_request_t *req, api_lai_each_fn fn, void *ctx) {
    const kp_leader_and_isr_req_t *rq = req->body;
    int32_t n = 0;
    const kp_leader_and_isr_partition_state_t *ug = rq->ungrouped_partition_states.items;
    for (int32_t i = 0; i < rq->ungrouped_partition_states.count; i++, n++)
        if (fn)
            fn(req, api_strdup(req, ug[i].topic_name), ug[i].topic_name, &ug[i], ctx);
    const kp_leader_and_isr_topic_state_t *ts = rq->topic_states.items;
    for (int32_t t = 0; t < rq->topic_states.count; t++) {
        const char *topic = fn ? api_strdup(req, ts[t].topic_name) : NULL;
        const kp_leader_and_isr_partition_state_t *ps = ts[t].partition_states.items;
        for (int32_t i = 0; i < ts[t].partition_states.count; i++, n++)
            if (fn)
                fn(req, topic, ts[t].topic_name, &ps[i], ctx);
    }
    return n;
}

typedef struct api_lai_ctx {
    kp_leader_and_isr_partition_error_t *errors;
    int32_t n;
    bool stale;
} api_lai_ctx_t;

static void api_lai_one(api_request_t *req, const char *topic, kp_str_t topic_str,
                        const kp_leader_and_isr_partition_state_t *s, void *arg) {
    api_lai_ctx_t *c = arg;
    kerr_t e = c->stale ? KERR_STALE_CONTROLLER_EPOCH : api_lai_apply(req, topic, s);
    c->errors[c->n++] = (kp_leader_and_isr_partition_error_t){topic_str, s->partition_index, (int16_t)e};
}

void api_handle_leader_and_isr(api_request_t *req) {
    const kp_leader_and_isr_req_t *rq = req->body;
    kp_leader_and_isr_resp_t resp;
    memset(&resp, 0, sizeof resp);
    kerr_t e = replica_manager_check_controller_epoch(req->broker->replicas, rq->controller_epoch);
    resp.error_code = (int16_t)e;
    int32_t n = e == KERR_NONE ? api_lai_for_each(req, NULL, NULL) : 0;
    api_lai_ctx_t c = {api_alloc_array(req, &resp.partition_errors, n, sizeof *c.errors), 0, false};
    if (e == KERR_NONE)
        api_lai_for_each(req, api_lai_one, &c);
    api_respond(req, &resp);
}

/* --- UpdateMetadata ------------------------------------------------------------ */

/* The endpoint clients of this listener should use: the same listener name
 * (v3+) or, before names existed, PLAINTEXT (security protocol 0). */
static bool api_um_endpoint(api_request_t *req, const kp_update_metadata_broker_t *br, kp_str_t *host,
                            int32_t *port) {
    if (req->hdr.api_version == 0) {
        *host = br->v0_host;
        *port = br->v0_port;
        return true;
    }
    const char *listener = net_conn_listener_name(req->conn);
    const kp_update_metadata_endpoint_t *eps = br->endpoints.items;
    for (int32_t i = 0; i < br->endpoints.count; i++) {
        bool match = req->hdr.api_version >= 3 ? kp_str_eq(eps[i].listener, listener && *listener ? listener : "PLAINTEXT")
                                               : eps[i].security_protocol == 0;
        if (match) {
            *host = eps[i].host;
            *port = eps[i].port;
            return true;
        }
    }
    return false;
}

static void api_um_brokers(api_request_t *req) {
    const kp_update_metadata_req_t *rq = req->body;
    const kp_update_metadata_broker_t *brs = rq->live_brokers.items;
    int32_t n = rq->live_brokers.count > 0 ? rq->live_brokers.count : 0;
    mc_broker_t *out = kp_arena_alloc(&req->arena, ((size_t)n + 1) * sizeof *out);
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        kp_str_t host;
        int32_t port;
        if (!api_um_endpoint(req, &brs[i], &host, &port))
            continue;
        out[k++] = (mc_broker_t){brs[i].id, api_strdup(req, host), port,
                                 brs[i].rack.len >= 0 ? api_strdup(req, brs[i].rack) : NULL};
    }
    metadata_cache_set_brokers(req->broker->metadata, out, (size_t)k, rq->controller_id);
}

static void api_um_partition(api_request_t *req, const char *topic, const kp_update_metadata_partition_state_t *s) {
    metadata_cache_t *mc = req->broker->metadata;
    if (s->leader == LEADER_DURING_DELETE) {
        metadata_cache_remove_topic(mc, topic);
        return;
    }
    mc_partition_t p = {
        .index = s->partition_index,
        .leader = s->leader,
        .leader_epoch = s->leader_epoch,
        .replicas = s->replicas.items,
        .nreplicas = s->replicas.count > 0 ? s->replicas.count : 0,
        .isr = s->isr.items,
        .nisr = s->isr.count > 0 ? s->isr.count : 0,
        .offline = s->offline_replicas.items,
        .noffline = s->offline_replicas.count > 0 ? s->offline_replicas.count : 0,
    };
    metadata_cache_set_partition(mc, topic, &p);
}

void api_handle_update_metadata(api_request_t *req) {
    const kp_update_metadata_req_t *rq = req->body;
    kp_update_metadata_resp_t resp = {0};
    kerr_t e = replica_manager_check_controller_epoch(req->broker->replicas, rq->controller_epoch);
    resp.error_code = (int16_t)e;
    if (e == KERR_NONE) {
        req->broker->standalone = false; /* a controller speaks for the cluster now */
        api_um_brokers(req);
        const kp_update_metadata_partition_state_t *ug = rq->ungrouped_partition_states.items;
        for (int32_t i = 0; i < rq->ungrouped_partition_states.count; i++)
            api_um_partition(req, api_strdup(req, ug[i].topic_name), &ug[i]);
        const kp_update_metadata_topic_state_t *ts = rq->topic_states.items;
        for (int32_t t = 0; t < rq->topic_states.count; t++) {
            const char *topic = api_strdup(req, ts[t].topic_name);
            const kp_update_metadata_partition_state_t *ps = ts[t].partition_states.items;
            for (int32_t i = 0; i < ts[t].partition_states.count; i++)
                api_um_partition(req, topic, &ps[i]);
        }
    }
    api_respond(req, &resp);
}

/* --- StopReplica ------------------------------------------------------------------ */

void api_handle_stop_replica(api_request_t *req) {
    const kp_stop_replica_req_t *rq = req->body;
    broker_t *b = req->broker;
    kp_stop_replica_resp_t resp;
    memset(&resp, 0, sizeof resp);
    kerr_t e = replica_manager_check_controller_epoch(b->replicas, rq->controller_epoch);
    resp.error_code = (int16_t)e;
    int32_t n = 0;
    if (e == KERR_NONE) {
        n = rq->ungrouped_partitions.count > 0 ? rq->ungrouped_partitions.count : 0;
        const kp_stop_replica_req_topic_v1_t *ts = rq->topics.items;
        for (int32_t t = 0; t < rq->topics.count; t++)
            n += ts[t].partition_indexes.count > 0 ? ts[t].partition_indexes.count : 0;
    }
    kp_stop_replica_partition_error_t *errs = api_alloc_array(req, &resp.partition_errors, n, sizeof *errs);
    int32_t k = 0;
    if (e == KERR_NONE) {
        const kp_stop_replica_req_partition_v0_t *ug = rq->ungrouped_partitions.items;
        for (int32_t i = 0; i < rq->ungrouped_partitions.count; i++) {
            kerr_t pe = replica_manager_stop(b->replicas, api_strdup(req, ug[i].topic_name), ug[i].partition_index,
                                             rq->delete_partitions);
            errs[k++] = (kp_stop_replica_partition_error_t){ug[i].topic_name, ug[i].partition_index, (int16_t)pe};
        }
        const kp_stop_replica_req_topic_v1_t *ts = rq->topics.items;
        for (int32_t t = 0; t < rq->topics.count; t++) {
            const char *topic = api_strdup(req, ts[t].name);
            const int32_t *ids = ts[t].partition_indexes.items;
            for (int32_t i = 0; i < ts[t].partition_indexes.count; i++) {
                kerr_t pe = replica_manager_stop(b->replicas, topic, ids[i], rq->delete_partitions);
                errs[k++] = (kp_stop_replica_partition_error_t){ts[t].name, ids[i], (int16_t)pe};
            }
        }
    }
    api_respond(req, &resp);
}
