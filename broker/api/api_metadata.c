/* Metadata (key 3): brokers, controller, cluster id and, per topic, its
 * partitions with leader, epoch, replicas, ISR and offline replicas — from
 * the metadata cache. Unknown topics are created when auto-creation is on. */
#include "api/api.h"
#include "admin/topic_admin.h"
#include "proto/topic_name.h"

#include "util/clock.h"
#include "util/logger.h"

#include <string.h>

static void api_metadata_fill_ids(api_request_t *req, kp_array_t *arr, const int32_t *ids, int32_t n) {
    int32_t *out = api_alloc_array(req, arr, n, sizeof *out);
    if (n > 0)
        memcpy(out, ids, (size_t)n * sizeof *out);
}

static void api_metadata_fill_topic(api_request_t *req, const mc_snapshot_t *s, const mc_topic_t *t,
                                    kp_metadata_resp_topic_t *out) {
    out->error_code = KERR_NONE;
    out->name = kp_str(t->name);
    out->is_internal = t->internal;
    out->topic_authorized_operations = INT32_MIN;
    kp_metadata_resp_partition_t *ps = api_alloc_array(req, &out->partitions, t->npartitions, sizeof *ps);
    for (int32_t i = 0; i < t->npartitions; i++) {
        const mc_partition_t *p = &t->partitions[i];
        ps[i].partition_index = p->index;
        ps[i].leader_id = p->leader;
        ps[i].leader_epoch = p->leader_epoch;
        /* Kafka: LEADER_NOT_AVAILABLE when the leader is not a live broker. */
        ps[i].error_code = p->leader >= 0 && mc_snapshot_broker(s, p->leader) ? KERR_NONE : KERR_LEADER_NOT_AVAILABLE;
        api_metadata_fill_ids(req, &ps[i].replica_nodes, p->replicas, p->nreplicas);
        api_metadata_fill_ids(req, &ps[i].isr_nodes, p->isr, p->nisr);
        api_metadata_fill_ids(req, &ps[i].offline_replicas, p->offline, p->noffline);
    }
}

static void api_metadata_fill_brokers(api_request_t *req, const mc_snapshot_t *s, kp_metadata_resp_t *resp) {
    kp_metadata_resp_broker_t *bs = api_alloc_array(req, &resp->brokers, (int32_t)s->nbrokers, sizeof *bs);
    for (size_t i = 0; i < s->nbrokers; i++) {
        bs[i].node_id = s->brokers[i].id;
        bs[i].host = kp_str(s->brokers[i].host);
        bs[i].port = s->brokers[i].port;
        bs[i].rack = s->brokers[i].rack ? kp_str(s->brokers[i].rack) : KP_STR_NULL;
    }
    resp->controller_id = s->controller_id;
}

/* auto.create.topics.enable: an unknown topic is created in ZooKeeper with
 * num.partitions and default.replication.factor, and reported as
 * LEADER_NOT_AVAILABLE until the controller has elected its leaders (what
 * Kafka answers; clients retry). Returns the error for the topic's entry. */
static kerr_t api_metadata_auto_create(api_request_t *req, kp_str_t name, bool allow_auto) {
    broker_t *b = req->broker;
    bool valid = name.len > 0 && topic_name_valid(name.ptr, (size_t)name.len);
    if (!valid)
        return KERR_INVALID_TOPIC_EXCEPTION;
    if (!allow_auto || !b->auto_create_topics)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    char msg[512];
    tadmin_create_t cr = {
        .topic = api_strdup(req, name),
        .partitions = b->num_partitions,
        .replication_factor = b->default_replication_factor,
        .rack_mode = TADMIN_RACK_SAFE,
        .with_topic_id = true,
    };
    kerr_t e = tadmin_create_topic(b->zk, &cr, NULL, msg, sizeof msg);
    if (e == KERR_NONE)
        log_info("api", "auto-created topic %s (%d partitions, replication factor %d)", cr.topic, cr.partitions,
                 cr.replication_factor);
    else if (e != KERR_TOPIC_ALREADY_EXISTS)
        log_warn("api", "cannot auto-create topic %s: %s", cr.topic, msg);
    return e == KERR_NONE || e == KERR_TOPIC_ALREADY_EXISTS ? KERR_LEADER_NOT_AVAILABLE : e;
}

/* Whether a requested topic is unknown here (auto-creation would run). */
static bool api_metadata_missing(broker_t *b, const kp_metadata_req_topic_t *wanted, int32_t n) {
    const mc_snapshot_t *s = metadata_cache_acquire(b->metadata);
    bool missing = false;
    for (int32_t i = 0; i < n && !missing; i++)
        missing = wanted[i].name.len > 0 && !mc_snapshot_topic(s, wanted[i].name.ptr, (size_t)wanted[i].name.len);
    metadata_cache_release(b->metadata, s);
    return missing;
}

void api_handle_metadata(api_request_t *req) {
    const kp_metadata_req_t *rq = req->body;
    broker_t *b = req->broker;
    int16_t v = req->hdr.api_version;
    bool all = rq->topics.count < 0 || (v == 0 && rq->topics.count == 0);
    bool allow_auto = v >= 4 ? rq->allow_auto_topic_creation : true;
    const kp_metadata_req_topic_t *wanted = rq->topics.items;

    /* Creating topics waits for ZooKeeper: that happens on the admin worker. */
    if (!all && allow_auto && b->auto_create_topics && !api_on_admin_worker(req) &&
        api_metadata_missing(b, wanted, rq->topics.count)) {
        api_offload(req, api_handle_metadata);
        return;
    }
    const mc_snapshot_t *s = metadata_cache_acquire(b->metadata);
    kp_metadata_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.cluster_id = kp_str(b->cluster_id);
    resp.cluster_authorized_operations = INT32_MIN;
    api_metadata_fill_brokers(req, s, &resp);

    int32_t n = all ? (int32_t)s->ntopics : rq->topics.count;
    kp_metadata_resp_topic_t *ts = api_alloc_array(req, &resp.topics, n, sizeof *ts);
    for (int32_t i = 0; i < n; i++) {
        if (all) {
            api_metadata_fill_topic(req, s, &s->topics[i], &ts[i]);
            continue;
        }
        kp_str_t name = wanted[i].name;
        const mc_topic_t *t = name.len > 0 ? mc_snapshot_topic(s, name.ptr, (size_t)name.len) : NULL;
        /* v10-11 carry topic ids, but Kafka 2.8 answers a topic asked for by
         * id (or without a name) with INVALID_REQUEST. */
        static const kp_uuid_t no_id;
        bool by_id = v >= 10 && (name.len < 0 || memcmp(&wanted[i].topic_id, &no_id, sizeof no_id) != 0);
        if (t && !by_id) {
            api_metadata_fill_topic(req, s, t, &ts[i]);
        } else {
            ts[i].name = name.len >= 0 ? name : kp_str("");
            ts[i].error_code =
                by_id ? (int16_t)KERR_INVALID_REQUEST : (int16_t)api_metadata_auto_create(req, name, allow_auto);
            ts[i].topic_authorized_operations = INT32_MIN;
            api_alloc_array(req, &ts[i].partitions, 0, sizeof(kp_metadata_resp_partition_t));
        }
    }
    api_respond(req, &resp);
    metadata_cache_release(b->metadata, s);
}
