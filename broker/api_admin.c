/* Topic administration over the wire: CreateTopics (19), DeleteTopics (20)
 * and CreatePartitions (37), done as Kafka 2.8's AdminManager does — by
 * writing ZooKeeper (topic_admin.h); the controller notices and makes the
 * partitions. Answers come once ZooKeeper has the change (Kafka's
 * timeout_ms wait for the controller's work is not implemented: clients
 * see LEADER_NOT_AVAILABLE until the leaders exist, and retry). */
#include "api.h"

#include "logger.h"
#include "topic_admin.h"

#include <stdio.h>
#include <string.h>

#define API_ADMIN_MSG 512

static kp_str_t api_admin_msg(api_request_t *req, kerr_t e, const char *msg) {
    if (e == KERR_NONE || !msg[0])
        return KP_STR_NULL;
    return kp_str(api_strdup(req, kp_str(msg)));
}

/* --- CreateTopics -------------------------------------------------------------------- */

static void api_create_configs(api_request_t *req, const kp_create_topics_req_topic_t *t, zkdata_config_t *out) {
    zkdata_config_init(out);
    const kp_create_topics_req_config_t *cs = t->configs.items;
    for (int32_t i = 0; i < t->configs.count; i++)
        if (cs[i].value.len >= 0)
            zkdata_config_set(out, api_strdup(req, cs[i].name), api_strdup(req, cs[i].value));
}

static kerr_t api_create_one(api_request_t *req, const kp_create_topics_req_topic_t *t, bool validate_only, char *msg) {
    broker_t *b = req->broker;
    zkdata_topic_assignment_t explicit_a;
    zkdata_topic_assignment_init(&explicit_a);
    bool has_assignment = t->assignments.count > 0;
    if (has_assignment && (t->num_partitions != -1 || t->replication_factor != -1)) {
        snprintf(msg, API_ADMIN_MSG, "Both numPartitions or replicationFactor and replicasAssignments were set. "
                                     "Both cannot be used at the same time.");
        return KERR_INVALID_REQUEST;
    }
    const kp_create_topics_req_assignment_t *as = t->assignments.items;
    for (int32_t i = 0; i < t->assignments.count; i++)
        zkdata_topic_assignment_add(&explicit_a, as[i].partition_index, as[i].broker_ids.items,
                                    as[i].broker_ids.count > 0 ? (size_t)as[i].broker_ids.count : 0);
    zkdata_config_t configs;
    api_create_configs(req, t, &configs);
    tadmin_create_t cr = {
        .topic = api_strdup(req, t->name),
        .partitions = t->num_partitions == -1 ? b->num_partitions : t->num_partitions,
        .replication_factor = t->replication_factor == -1 ? b->default_replication_factor : t->replication_factor,
        .assignment = has_assignment ? &explicit_a : NULL,
        .configs = &configs,
        .rack_mode = TADMIN_RACK_ENFORCED,
        .validate_only = validate_only,
        .with_topic_id = true,
    };
    kerr_t e = tadmin_create_topic(b->zk, &cr, NULL, msg, API_ADMIN_MSG);
    zkdata_config_free(&configs);
    zkdata_topic_assignment_free(&explicit_a);
    if (e == KERR_NONE && !validate_only)
        log_info("api", "topic %s created through CreateTopics (%d partitions)", cr.topic,
                 has_assignment ? t->assignments.count : cr.partitions);
    return e;
}

void api_handle_create_topics(api_request_t *req) {
    const kp_create_topics_req_t *rq = req->body;
    kp_create_topics_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_create_topics_req_topic_t *ts = rq->topics.items;
    int32_t n = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_create_topics_resp_topic_t *out = api_alloc_array(req, &resp.topics, n, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        bool dup = false;
        for (int32_t k = 0; k < n && !dup; k++)
            dup = k != i && ts[k].name.len == ts[i].name.len &&
                  memcmp(ts[k].name.ptr, ts[i].name.ptr, (size_t)ts[i].name.len) == 0;
        kerr_t e = KERR_INVALID_REQUEST;
        if (dup)
            snprintf(msg, sizeof msg, "Create topics request from client `%.*s` contains multiple entries for the "
                                      "following topics: %.*s",
                     req->hdr.client_id.len > 0 ? req->hdr.client_id.len : 0, req->hdr.client_id.ptr,
                     ts[i].name.len, ts[i].name.ptr);
        else
            e = api_create_one(req, &ts[i], rq->validate_only, msg);
        out[i] = (kp_create_topics_resp_topic_t){ts[i].name, (int16_t)e, api_admin_msg(req, e, msg)};
    }
    api_respond(req, &resp);
}

/* --- DeleteTopics -------------------------------------------------------------------- */

void api_handle_delete_topics(api_request_t *req) {
    const kp_delete_topics_req_t *rq = req->body;
    kp_delete_topics_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_str_t *names = rq->topic_names.items;
    int32_t n = rq->topic_names.count > 0 ? rq->topic_names.count : 0;
    kp_delete_topics_resp_topic_t *out = api_alloc_array(req, &resp.responses, n, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        bool marked = false;
        kerr_t e;
        if (!req->broker->delete_topic_enable)
            e = KERR_TOPIC_DELETION_DISABLED;
        else
            e = tadmin_delete_topic(req->broker->zk, api_strdup(req, names[i]), &marked, msg, sizeof msg);
        out[i] = (kp_delete_topics_resp_topic_t){names[i], (int16_t)e};
    }
    api_respond(req, &resp);
}

/* --- CreatePartitions ---------------------------------------------------------------- */

static kerr_t api_partitions_one(api_request_t *req, const kp_create_partitions_req_topic_t *t, bool validate_only,
                                 char *msg) {
    zkdata_topic_assignment_t a;
    zkdata_topic_assignment_init(&a);
    const kp_create_partitions_req_assignment_t *as = t->assignments.items;
    for (int32_t i = 0; i < t->assignments.count; i++)
        zkdata_topic_assignment_add(&a, i, as[i].broker_ids.items,
                                    as[i].broker_ids.count > 0 ? (size_t)as[i].broker_ids.count : 0);
    tadmin_add_partitions_t ap = {
        .topic = api_strdup(req, t->name),
        .total = t->count,
        .assignment = t->assignments.count >= 0 ? &a : NULL,
        .rack_mode = TADMIN_RACK_ENFORCED,
        .validate_only = validate_only,
    };
    kerr_t e = tadmin_add_partitions(req->broker->zk, &ap, NULL, msg, API_ADMIN_MSG);
    zkdata_topic_assignment_free(&a);
    return e;
}

void api_handle_create_partitions(api_request_t *req) {
    const kp_create_partitions_req_t *rq = req->body;
    kp_create_partitions_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_create_partitions_req_topic_t *ts = rq->topics.items;
    int32_t n = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_create_partitions_resp_result_t *out = api_alloc_array(req, &resp.results, n, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        kerr_t e = api_partitions_one(req, &ts[i], rq->validate_only, msg);
        out[i] = (kp_create_partitions_resp_result_t){ts[i].name, (int16_t)e, api_admin_msg(req, e, msg)};
    }
    api_respond(req, &resp);
}
