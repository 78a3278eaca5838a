/* The controller's requests to brokers: LeaderAndIsr (key 4) makes this
 * broker leader or follower of partitions, UpdateMetadata (6) refreshes what
 * it tells clients, StopReplica (5) stops (and deletes) replicas. Each is
 * fenced by the controller epoch: a request from a deposed controller
 * changes nothing (STALE_CONTROLLER_EPOCH). */
#include "api/api.h"

#include "util/clock.h"
#include "util/logger.h"
#include "admin/topic_admin.h"

#include <string.h>

#define LEADER_DURING_DELETE (-2)
/* StopReplica v3's epoch sentinels (Kafka's LeaderAndIsr.NoEpoch, EpochDuringDelete). */
#define STOP_NO_EPOCH (-1)
#define STOP_EPOCH_DURING_DELETE (-2)

/* --- LeaderAndIsr ------------------------------------------------------------- */

/* A partition this broker does not host yet gets its log with the topic's
 * overrides from /config/topics/<topic>, as Kafka's LogManager creates it. */
static kerr_t api_lai_apply(api_request_t *req, const char *topic, const kp_leader_and_isr_partition_state_t *s,
                            tadmin_config_cache_t *cache) {
    const config_topic_t *tc = NULL;
    if (!replica_manager_get(req->broker->replicas, topic, s->partition_index))
        tc = tadmin_config_cache_get(cache, req->broker->zk, req->broker->cfg, topic);
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
    return replica_manager_apply(req->broker->replicas, topic, s->partition_index, &st, tc, clock_wall_ms());
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
    tadmin_config_cache_t cfg_cache;
} api_lai_ctx_t;

/* Kafka's makeFollowers / makeLeaders, fetcher side: a partition this
 * broker now follows is fetched from its leader (the endpoint from the
 * request's live_leaders), taken from any fetcher it was on; a led one, or
 * one whose leader is not live, is fetched by nobody. */
static void api_lai_fetchers(api_request_t *req, const char *topic, const kp_leader_and_isr_partition_state_t *s) {
    broker_t *b = req->broker;
    partition_t *p = replica_manager_get(b->replicas, topic, s->partition_index);
    if (!p)
        return;
    const kp_leader_and_isr_req_t *rq = req->body;
    const kp_leader_and_isr_live_leader_t *ll = rq->live_leaders.items;
    for (int32_t i = 0; s->leader != b->id && i < rq->live_leaders.count; i++) {
        if (ll[i].broker_id == s->leader) {
            fetcher_leader_t leader = {ll[i].broker_id, api_strdup(req, ll[i].host_name), ll[i].port};
            fetcher_manager_add(b->fetchers, p, &leader);
            return;
        }
    }
    if (s->leader != b->id)
        log_warn("api", "%s-%d: leader %d is not among the live leaders: not fetching", topic, s->partition_index,
                 s->leader);
    fetcher_manager_remove(b->fetchers, p);
}

static void api_lai_one(api_request_t *req, const char *topic, kp_str_t topic_str,
                        const kp_leader_and_isr_partition_state_t *s, void *arg) {
    api_lai_ctx_t *c = arg;
    kerr_t e = c->stale ? KERR_STALE_CONTROLLER_EPOCH : api_lai_apply(req, topic, s, &c->cfg_cache);
    if (e == KERR_NONE)
        api_lai_fetchers(req, topic, s);
    c->errors[c->n++] = (kp_leader_and_isr_partition_error_t){topic_str, s->partition_index, (int16_t)e};
}

/* v5 answers per topic (by topic id) instead of one flat list. v5 has no
 * ungrouped states, so the flat errors come in topic_states order: each
 * topic's entry points at its run of them. samsa keeps no topic ids: the
 * request's are echoed, and not checked against the log. */
static void api_lai_group_errors(api_request_t *req, kp_leader_and_isr_resp_t *resp) {
    const kp_leader_and_isr_req_t *rq = req->body;
    const kp_leader_and_isr_topic_state_t *ts = rq->topic_states.items;
    int32_t nt = resp->partition_errors.count > 0 && rq->topic_states.count > 0 ? rq->topic_states.count : 0;
    kp_leader_and_isr_topic_error_t *out = api_alloc_array(req, &resp->topics, nt, sizeof *out);
    kp_leader_and_isr_partition_error_t *errors = resp->partition_errors.items;
    int32_t at = 0;
    for (int32_t t = 0; t < nt; t++) {
        int32_t np = ts[t].partition_states.count > 0 ? ts[t].partition_states.count : 0;
        out[t] = (kp_leader_and_isr_topic_error_t){ts[t].topic_id, {np, errors + at}};
        at += np;
    }
}

/* A partition state as the metadata cache holds it (no offline replicas);
 * the arrays are borrowed. */
static mc_partition_t api_mc_partition(int32_t index, int32_t leader, int32_t leader_epoch, kp_array_t replicas,
                                       kp_array_t isr) {
    return (mc_partition_t){
        .index = index,
        .leader = leader,
        .leader_epoch = leader_epoch,
        .replicas = replicas.items,
        .nreplicas = replicas.count > 0 ? replicas.count : 0,
        .isr = isr.items,
        .nisr = isr.count > 0 ? isr.count : 0,
    };
}

/* The request's states for metadata_cache_advance_partitions. */
typedef struct api_lai_states {
    const char **topics;
    mc_partition_t *parts;
    size_t n;
} api_lai_states_t;

static void api_lai_state(api_request_t *req, const char *topic, kp_str_t topic_str,
                          const kp_leader_and_isr_partition_state_t *s, void *arg) {
    (void)req, (void)topic_str;
    api_lai_states_t *b = arg;
    b->topics[b->n] = topic;
    b->parts[b->n++] = api_mc_partition(s->partition_index, s->leader, s->leader_epoch, s->replicas, s->isr);
}

void api_handle_leader_and_isr(api_request_t *req) {
    const kp_leader_and_isr_req_t *rq = req->body;
    kp_leader_and_isr_resp_t resp;
    memset(&resp, 0, sizeof resp);
    kerr_t e = replica_manager_check_controller_epoch(req->broker->replicas, rq->controller_epoch);
    resp.error_code = (int16_t)e;
    int32_t n = e == KERR_NONE ? api_lai_for_each(req, NULL, NULL) : 0;
    api_lai_ctx_t c = {api_alloc_array(req, &resp.partition_errors, n, sizeof *c.errors), 0, false, {NULL, NULL}};
    if (e == KERR_NONE) {
        /* What clients are told first: the produces these states answer
         * release Metadata requests queued behind them (metadata_cache.h). */
        api_lai_states_t states = {kp_arena_alloc(&req->arena, ((size_t)n + 1) * sizeof *states.topics),
                                   kp_arena_alloc(&req->arena, ((size_t)n + 1) * sizeof *states.parts), 0};
        api_lai_for_each(req, api_lai_state, &states);
        metadata_cache_advance_partitions(req->broker->metadata, states.topics, states.parts, states.n);
        api_lai_for_each(req, api_lai_one, &c);
        fetcher_manager_shutdown_idle(req->broker->fetchers);
    }
    tadmin_config_cache_free(&c.cfg_cache);
    if (req->hdr.api_version >= 5)
        api_lai_group_errors(req, &resp);
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

/* The partition states of one UpdateMetadata, applied as one new snapshot:
 * a copy-on-write cache rebuilt per partition would cost O(partitions^2)
 * for a controller's full update. A leader of -2 (LeaderDuringDelete) means
 * the topic is being deleted: clients no longer see it. */
typedef struct api_um_batch {
    const char **topics;
    mc_partition_t *parts;
    int32_t n;
    const char **deleted;
    int32_t ndeleted;
} api_um_batch_t;

static void api_um_partition(api_um_batch_t *b, const char *topic, const kp_update_metadata_partition_state_t *s) {
    if (s->leader == LEADER_DURING_DELETE) {
        b->deleted[b->ndeleted++] = topic;
        return;
    }
    mc_partition_t p = api_mc_partition(s->partition_index, s->leader, s->leader_epoch, s->replicas, s->isr);
    p.offline = s->offline_replicas.items;
    p.noffline = s->offline_replicas.count > 0 ? s->offline_replicas.count : 0;
    b->topics[b->n] = topic;
    b->parts[b->n++] = p;
}

static void api_um_partitions(api_request_t *req) {
    const kp_update_metadata_req_t *rq = req->body;
    int32_t total = rq->ungrouped_partition_states.count > 0 ? rq->ungrouped_partition_states.count : 0;
    const kp_update_metadata_topic_state_t *ts = rq->topic_states.items;
    for (int32_t t = 0; t < rq->topic_states.count; t++)
        total += ts[t].partition_states.count > 0 ? ts[t].partition_states.count : 0;
    api_um_batch_t b = {
        .topics = kp_arena_alloc(&req->arena, ((size_t)total + 1) * sizeof *b.topics),
        .parts = kp_arena_alloc(&req->arena, ((size_t)total + 1) * sizeof *b.parts),
        .deleted = kp_arena_alloc(&req->arena, ((size_t)total + 1) * sizeof *b.deleted),
    };
    const kp_update_metadata_partition_state_t *ug = rq->ungrouped_partition_states.items;
    for (int32_t i = 0; i < rq->ungrouped_partition_states.count; i++)
        api_um_partition(&b, api_strdup(req, ug[i].topic_name), &ug[i]);
    for (int32_t t = 0; t < rq->topic_states.count; t++) {
        const char *topic = api_strdup(req, ts[t].topic_name);
        const kp_update_metadata_partition_state_t *ps = ts[t].partition_states.items;
        for (int32_t i = 0; i < ts[t].partition_states.count; i++)
            api_um_partition(&b, topic, &ps[i]);
    }
    if (b.n > 0)
        metadata_cache_set_partitions(req->broker->metadata, b.topics, b.parts, (size_t)b.n);
    for (int32_t i = 0; i < b.ndeleted; i++)
        if (i == 0 || strcmp(b.deleted[i], b.deleted[i - 1]) != 0)
            metadata_cache_remove_topic(req->broker->metadata, b.deleted[i]);
}

void api_handle_update_metadata(api_request_t *req) {
    const kp_update_metadata_req_t *rq = req->body;
    kp_update_metadata_resp_t resp = {0};
    kerr_t e = replica_manager_check_controller_epoch(req->broker->replicas, rq->controller_epoch);
    resp.error_code = (int16_t)e;
    if (e == KERR_NONE) {
        api_um_brokers(req);
        api_um_partitions(req);
    }
    api_respond(req, &resp);
}

/* --- StopReplica ------------------------------------------------------------------ */

/* The fetcher lets go first, as Kafka's stopReplicas removes fetchers
 * before it touches the log. */
static kerr_t api_stop_one(broker_t *b, const char *topic, int32_t partition, bool delete_log) {
    partition_t *p = replica_manager_get(b->replicas, topic, partition);
    if (p)
        fetcher_manager_remove(b->fetchers, p);
    return replica_manager_stop(b->replicas, topic, partition, delete_log);
}

/* StopReplica v3 carries the leader epoch each partition is stopped at:
 * Kafka 2.8 (ReplicaManager.stopReplicas) stops a replica only for an epoch
 * newer than its own, or for the sentinels -1 (no epoch: older
 * controllers) and -2 (the topic is being deleted); otherwise the
 * partition answers FENCED_LEADER_EPOCH and stays. */
static kerr_t api_stop_at_epoch(broker_t *b, const char *topic, const kp_stop_replica_partition_state_t *s) {
    partition_t *p = replica_manager_get(b->replicas, topic, s->partition_index);
    if (p && s->leader_epoch != STOP_NO_EPOCH && s->leader_epoch != STOP_EPOCH_DURING_DELETE) {
        pthread_mutex_lock(&p->lock);
        int32_t current = p->leader_epoch;
        pthread_mutex_unlock(&p->lock);
        if (s->leader_epoch <= current)
            return KERR_FENCED_LEADER_EPOCH;
    }
    return api_stop_one(b, topic, s->partition_index, s->delete_partition);
}

void api_handle_stop_replica(api_request_t *req) {
    const kp_stop_replica_req_t *rq = req->body;
    broker_t *b = req->broker;
    kp_stop_replica_resp_t resp;
    memset(&resp, 0, sizeof resp);
    kerr_t e = replica_manager_check_controller_epoch(b->replicas, rq->controller_epoch);
    resp.error_code = (int16_t)e;
    int32_t n = 0;
    const kp_stop_replica_topic_state_t *states = rq->topic_states.items;
    if (e == KERR_NONE) {
        n = rq->ungrouped_partitions.count > 0 ? rq->ungrouped_partitions.count : 0;
        const kp_stop_replica_req_topic_v1_t *ts = rq->topics.items;
        for (int32_t t = 0; t < rq->topics.count; t++)
            n += ts[t].partition_indexes.count > 0 ? ts[t].partition_indexes.count : 0;
        for (int32_t t = 0; t < rq->topic_states.count; t++)
            n += states[t].partition_states.count > 0 ? states[t].partition_states.count : 0;
    }
    kp_stop_replica_partition_error_t *errs = api_alloc_array(req, &resp.partition_errors, n, sizeof *errs);
    int32_t k = 0;
    if (e == KERR_NONE) {
        const kp_stop_replica_req_partition_v0_t *ug = rq->ungrouped_partitions.items;
        for (int32_t i = 0; i < rq->ungrouped_partitions.count; i++) {
            kerr_t pe = api_stop_one(b, api_strdup(req, ug[i].topic_name), ug[i].partition_index, rq->delete_partitions);
            errs[k++] = (kp_stop_replica_partition_error_t){ug[i].topic_name, ug[i].partition_index, (int16_t)pe};
        }
        const kp_stop_replica_req_topic_v1_t *ts = rq->topics.items;
        for (int32_t t = 0; t < rq->topics.count; t++) {
            const char *topic = api_strdup(req, ts[t].name);
            const int32_t *ids = ts[t].partition_indexes.items;
            for (int32_t i = 0; i < ts[t].partition_indexes.count; i++) {
                kerr_t pe = api_stop_one(b, topic, ids[i], rq->delete_partitions);
                errs[k++] = (kp_stop_replica_partition_error_t){ts[t].name, ids[i], (int16_t)pe};
            }
        }
        for (int32_t t = 0; t < rq->topic_states.count; t++) {
            const char *topic = api_strdup(req, states[t].topic_name);
            const kp_stop_replica_partition_state_t *ps = states[t].partition_states.items;
            for (int32_t i = 0; i < states[t].partition_states.count; i++) {
                kerr_t pe = api_stop_at_epoch(b, topic, &ps[i]);
                errs[k++] = (kp_stop_replica_partition_error_t){states[t].topic_name, ps[i].partition_index,
                                                                 (int16_t)pe};
            }
        }
    }
    api_respond(req, &resp);
}

/* --- ControlledShutdown ------------------------------------------------------------- */

/* The controller's verdict, on its own thread: api_respond hands the
 * answer to the connection's loop. */
static void api_cs_done(void *ctx, kerr_t err, const controller_tp_t *remaining, size_t n) {
    api_request_t *req = ctx;
    kp_controlled_shutdown_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.error_code = (int16_t)err;
    kp_controlled_shutdown_remaining_t *rem = api_alloc_array(req, &resp.remaining_partitions, (int32_t)n, sizeof *rem);
    for (size_t i = 0; i < n; i++)
        rem[i] = (kp_controlled_shutdown_remaining_t){kp_str(api_strdup(req, kp_str(remaining[i].topic))),
                                                       remaining[i].partition};
    api_respond(req, &resp);
}

void api_handle_controlled_shutdown(api_request_t *req) {
    const kp_controlled_shutdown_req_t *rq = req->body;
    controller_t *c = atomic_load(&req->broker->controller);
    if (!c || controller_controlled_shutdown(c, rq->broker_id, rq->broker_epoch, api_cs_done, req) != 0) {
        kp_controlled_shutdown_resp_t resp;
        memset(&resp, 0, sizeof resp);
        resp.error_code = KERR_NOT_CONTROLLER;
        api_alloc_array(req, &resp.remaining_partitions, 0, sizeof(kp_controlled_shutdown_remaining_t));
        api_respond(req, &resp);
    }
}
