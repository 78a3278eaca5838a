/*
 * api_group — the group coordinator's APIs (consumer-groups.md):
 * FindCoordinator here, on the admin worker (it may create
 * __consumer_offsets in ZooKeeper); JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups,
 * DeleteGroups and OffsetDelete handed to the coordinator's loop
 * (group/group_coordinator.h), which answers through api_respond from
 * there. The request is the coordinator's from the hand-over to the
 * answer.
 */
#include "api/api.h"

#include "group/group_coordinator.h"
#include "group/group_records.h"
#include "proto/topic_name.h"
#include "util/logger.h"

#include <stdio.h>
#include <string.h>

/* --- FindCoordinator ---------------------------------------------------------- */

/* Kafka's createInternalTopic for __consumer_offsets: only when enough
 * brokers are alive for offsets.topic.replication.factor; either way the
 * caller answers COORDINATOR_NOT_AVAILABLE until its leaders exist. */
static void api_group_create_offsets_topic(broker_t *b) {
    char msg[512];
    tadmin_brokers_t live;
    int32_t rf = config_get_int(b->cfg, "offsets.topic.replication.factor");
    if (tadmin_live_brokers(b->zk, &live, msg, sizeof msg) != KERR_NONE) {
        log_warn("api", "cannot list the live brokers: %s", msg);
        return;
    }
    size_t alive = live.n;
    tadmin_brokers_free(&live);
    if ((int64_t)alive < rf) {
        log_info("api", "not creating %s: %zu live brokers, offsets.topic.replication.factor is %d",
                 GROUP_OFFSETS_TOPIC, alive, rf);
        return;
    }
    char segment_bytes[32], codec[32];
    snprintf(segment_bytes, sizeof segment_bytes, "%d", config_get_int(b->cfg, "offsets.topic.segment.bytes"));
    snprintf(codec, sizeof codec, "producer");
    zkdata_config_t configs;
    zkdata_config_init(&configs);
    zkdata_config_set(&configs, "cleanup.policy", "compact");
    zkdata_config_set(&configs, "segment.bytes", segment_bytes);
    zkdata_config_set(&configs, "compression.type", codec);
    tadmin_create_t cr = {
        .topic = GROUP_OFFSETS_TOPIC,
        .partitions = config_get_int(b->cfg, "offsets.topic.num.partitions"),
        .replication_factor = rf,
        .configs = &configs,
        .rack_mode = TADMIN_RACK_SAFE,
        .with_topic_id = true,
    };
    kerr_t e = tadmin_create_topic(b->zk, &cr, NULL, msg, sizeof msg);
    zkdata_config_free(&configs);
    if (e == KERR_NONE)
        log_info("api", "created %s (%d partitions, replication factor %d)", GROUP_OFFSETS_TOPIC, cr.partitions, rf);
    else if (e != KERR_TOPIC_ALREADY_EXISTS)
        log_warn("api", "cannot create %s: %s", GROUP_OFFSETS_TOPIC, msg);
}

void api_handle_find_coordinator(api_request_t *req) {
    const kp_find_coordinator_req_t *rq = req->body;
    broker_t *b = req->broker;
    kp_find_coordinator_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.node_id = -1;
    resp.host = kp_str("");
    resp.port = -1;
    resp.error_message = KP_STR_NULL;
    if (rq->key_type != 0) { /* transactions: no transaction coordinator here */
        resp.error_code = rq->key_type == 1 ? KERR_COORDINATOR_NOT_AVAILABLE : KERR_INVALID_REQUEST;
        api_respond(req, &resp);
        return;
    }
    if (rq->key.len < 0) {
        resp.error_code = KERR_INVALID_GROUP_ID;
        api_respond(req, &resp);
        return;
    }
    const mc_snapshot_t *s = metadata_cache_acquire(b->metadata);
    const mc_topic_t *t = mc_snapshot_topic(s, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC));
    resp.error_code = KERR_COORDINATOR_NOT_AVAILABLE;
    if (t && t->npartitions > 0) {
        int32_t p = group_partition_for(rq->key.ptr ? rq->key.ptr : "", (size_t)rq->key.len, t->npartitions);
        const mc_broker_t *leader = mc_snapshot_broker(s, t->partitions[p].leader);
        if (leader) {
            resp.error_code = KERR_NONE;
            resp.node_id = leader->id;
            resp.host = kp_str(api_strdup(req, kp_str(leader->host)));
            resp.port = leader->port;
        }
    }
    metadata_cache_release(b->metadata, s);
    if (!t)
        api_group_create_offsets_topic(b);
    if (resp.error_code != KERR_NONE && req->hdr.api_version >= 1)
        resp.error_message = kp_str(kerr_name(resp.error_code));
    api_respond(req, &resp);
}

/* --- the coordinator's APIs ----------------------------------------------------- */

static void api_group_answer(void *ctx, const void *resp) {
    api_request_t *req = ctx;
    if (resp)
        api_respond(req, resp);
    else
        api_close(req);
}

/* "/127.0.0.1" from "127.0.0.1:50412", "/::1" from "[::1]:50412": the
 * client address as Java prints it, which DescribeGroups reports. */
static char *api_group_client_host(api_request_t *req) {
    const char *peer = net_conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    char *out = kp_arena_alloc(&req->arena, n + 2);
    out[0] = '/';
    memcpy(out + 1, peer, n);
    return out;
}

void api_handle_group(api_request_t *req) {
    gc_call_t call = {
        .api_key = req->hdr.api_key,
        .version = req->hdr.api_version,
        .body = req->body,
        .arena = &req->arena,
        .client_id = api_strdup(req, req->hdr.client_id),
        .client_host = api_group_client_host(req),
        .answer = api_group_answer,
        .ctx = req,
    };
    if (!req->broker->groups || gc_submit(req->broker->groups, &call) != 0)
        api_close(req); /* shutting down: the client finds another coordinator */
}
