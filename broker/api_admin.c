/* Topic administration over the wire: CreateTopics (19), DeleteTopics (20)
 * and CreatePartitions (37), done as Kafka 2.8's AdminManager does — by
 * writing ZooKeeper (topic_admin.h); the controller notices and makes the
 * partitions. CreateTopics with a timeout answers once the new partitions
 * have leaders (below); DeleteTopics and CreatePartitions answer once
 * ZooKeeper has the change.
 * DescribeConfigs (32) shows a topic's overrides from ZooKeeper over the
 * broker's defaults, or this broker's own configuration. */
#include "api.h"

#include "clock.h"
#include "logger.h"
#include "mem.h"
#include "topic_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Kafka's DelayedCreatePartitions: with timeout_ms > 0 the answer waits
 * until every partition of the topics just created has a leader in this
 * broker's metadata (the controller's work is done), or the timeout passes
 * (REQUEST_TIMED_OUT for those still pending). Re-checked every few ms on
 * the connection's loop: creations are rare and short. */
#define API_CREATE_RECHECK_MS 10

typedef struct api_create_wait {
    api_request_t *req;
    kp_create_topics_resp_t *resp; /* in the request's arena */
    int32_t *expected;             /* partitions per topic; 0: not waited for */
    int64_t deadline_ms;
} api_create_wait_t;

static bool api_create_ready(const mc_snapshot_t *s, kp_str_t name, int32_t expected) {
    const mc_topic_t *t = mc_snapshot_topic(s, name.ptr, (size_t)name.len);
    if (!t || t->npartitions < expected)
        return false;
    for (int32_t p = 0; p < expected; p++)
        if (t->partitions[p].leader < 0)
            return false;
    return true;
}

static void api_create_check(void *arg) {
    api_create_wait_t *w = arg;
    metadata_cache_t *mc = w->req->broker->metadata;
    const mc_snapshot_t *s = metadata_cache_acquire(mc);
    kp_create_topics_resp_topic_t *out = w->resp->topics.items;
    bool pending = false;
    for (int32_t i = 0; i < w->resp->topics.count; i++)
        if (w->expected[i] > 0 && !api_create_ready(s, out[i].name, w->expected[i]))
            pending = true;
    metadata_cache_release(mc, s);
    /* a closed connection (the client left, or shutdown) is answered now:
     * the answer is dropped, the request freed */
    bool expired = clock_wall_ms() >= w->deadline_ms || !net_conn_is_open(w->req->conn);
    if (pending && !expired) {
        net_timer_add(net_conn_loop(w->req->conn), API_CREATE_RECHECK_MS, api_create_check, w);
        return;
    }
    if (pending) {
        s = metadata_cache_acquire(mc);
        for (int32_t i = 0; i < w->resp->topics.count; i++)
            if (w->expected[i] > 0 && !api_create_ready(s, out[i].name, w->expected[i])) {
                out[i].error_code = KERR_REQUEST_TIMED_OUT;
                out[i].error_message = kp_str("Topic creation is still pending in the controller");
            }
        metadata_cache_release(mc, s);
    }
    api_request_t *req = w->req;
    kp_create_topics_resp_t *resp = w->resp;
    free(w->expected);
    free(w);
    api_respond(req, resp);
}

void api_handle_create_topics(api_request_t *req) {
    const kp_create_topics_req_t *rq = req->body;
    kp_create_topics_resp_t *resp = kp_arena_alloc(&req->arena, sizeof *resp);
    const kp_create_topics_req_topic_t *ts = rq->topics.items;
    int32_t n = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_create_topics_resp_topic_t *out = api_alloc_array(req, &resp->topics, n, sizeof *out);
    int32_t *expected = mem_calloc((size_t)n + 1, sizeof *expected);
    bool wait = false;
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
        if (e == KERR_NONE && !rq->validate_only && rq->timeout_ms > 0) {
            expected[i] = ts[i].assignments.count > 0 ? ts[i].assignments.count
                          : ts[i].num_partitions == -1 ? req->broker->num_partitions
                                                       : ts[i].num_partitions;
            wait = true;
        }
    }
    if (!wait) {
        free(expected);
        api_respond(req, resp);
        return;
    }
    api_create_wait_t *w = mem_alloc(sizeof *w);
    *w = (api_create_wait_t){req, resp, expected, clock_wall_ms() + rq->timeout_ms};
    /* the wait's timers live on the connection's loop (this handler runs on
     * the admin worker) */
    if (net_loop_run(net_conn_loop(req->conn), api_create_check, w) != 0) {
        free(expected);
        free(w);
        api_respond(req, resp);
    }
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
        .api_checks = true,
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

/* --- DescribeConfigs ------------------------------------------------------------------ */

/* Kafka's ConfigSource values (DescribeConfigs v1+). */
#define API_DC_DYNAMIC_TOPIC 1
#define API_DC_STATIC_BROKER 4
#define API_DC_DEFAULT 5
#define API_DC_TOPIC 2
#define API_DC_BROKER 4

static bool api_dc_wanted(const kp_describe_configs_req_resource_t *r, const char *key) {
    if (r->configuration_keys.count < 0)
        return true;
    const kp_str_t *keys = r->configuration_keys.items;
    for (int32_t i = 0; i < r->configuration_keys.count; i++)
        if (kp_str_eq(keys[i], key))
            return true;
    return false;
}

/* A topic key's value when the topic does not override it: the broker's,
 * including what Kafka derives from several keys (log.retention.hours ->
 * retention.ms, ...). */
static const char *api_dc_broker_default(api_request_t *req, const config_topic_def_t *d) {
    const config_t *cfg = req->broker->cfg;
    int64_t derived;
    if (strcmp(d->def.name, "retention.ms") == 0)
        derived = config_log_retention_ms(cfg);
    else if (strcmp(d->def.name, "segment.ms") == 0)
        derived = config_log_roll_ms(cfg);
    else if (strcmp(d->def.name, "segment.jitter.ms") == 0)
        derived = config_log_roll_jitter_ms(cfg);
    else if (strcmp(d->def.name, "flush.ms") == 0)
        derived = config_log_flush_interval_ms(cfg);
    else
        return config_get_raw(cfg, d->broker_key);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, derived);
    return api_strdup(req, kp_str(buf));
}

static void api_dc_entry(api_request_t *req, kp_describe_configs_resp_config_t *c, const char *name, const char *value,
                         int8_t source, bool read_only) {
    bool sensitive = strstr(name, "password") != NULL;
    *c = (kp_describe_configs_resp_config_t){
        .name = kp_str(name),
        .value = sensitive || !value ? KP_STR_NULL : kp_str(api_strdup(req, kp_str(value))),
        .read_only = read_only,
        .is_default = source == API_DC_DEFAULT,
        .config_source = source,
        .is_sensitive = sensitive,
    };
    api_alloc_array(req, &c->synonyms, 0, sizeof(kp_describe_configs_resp_synonym_t));
}

static kerr_t api_dc_topic(api_request_t *req, const kp_describe_configs_req_resource_t *r,
                           kp_describe_configs_resp_result_t *out, char *msg) {
    const char *topic = api_strdup(req, r->resource_name);
    char path[ZKDATA_PATH_MAX];
    if (zkdata_path_topic(path, sizeof path, topic) < 0 || zkc_exists(req->broker->zk, path, NULL) != ZKC_OK) {
        snprintf(msg, API_ADMIN_MSG, "Topic %s does not exist.", topic);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    zkdata_config_t over;
    kerr_t e = tadmin_topic_configs(req->broker->zk, topic, &over, msg, API_ADMIN_MSG);
    if (e != KERR_NONE) {
        zkdata_config_free(&over);
        return e;
    }
    size_t n = 0;
    while (config_topic_def_at(n))
        n++;
    kp_describe_configs_resp_config_t *cs = api_alloc_array(req, &out->configs, (int32_t)n, sizeof *cs);
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const config_topic_def_t *d = config_topic_def_at(i);
        if (!api_dc_wanted(r, d->def.name))
            continue;
        const char *v = zkdata_config_get(&over, d->def.name);
        int8_t src = v ? API_DC_DYNAMIC_TOPIC
                       : config_is_set(req->broker->cfg, d->broker_key) ? API_DC_STATIC_BROKER : API_DC_DEFAULT;
        api_dc_entry(req, &cs[k++], d->def.name, v ? v : api_dc_broker_default(req, d), src, false);
    }
    out->configs.count = k;
    zkdata_config_free(&over);
    return KERR_NONE;
}

/* This broker's own configuration (Kafka answers a broker resource only on
 * that broker). */
static kerr_t api_dc_broker(api_request_t *req, const kp_describe_configs_req_resource_t *r,
                            kp_describe_configs_resp_result_t *out, char *msg) {
    char self[16];
    snprintf(self, sizeof self, "%d", req->broker->id);
    if (!kp_str_eq(r->resource_name, self) && r->resource_name.len > 0) {
        snprintf(msg, API_ADMIN_MSG, "Unexpected broker id, expected %s, but received %.*s", self,
                 r->resource_name.len, r->resource_name.ptr);
        return KERR_INVALID_REQUEST;
    }
    size_t n = 0;
    while (config_def_at(n))
        n++;
    kp_describe_configs_resp_config_t *cs = api_alloc_array(req, &out->configs, (int32_t)n, sizeof *cs);
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const config_def_t *d = config_def_at(i);
        if (!api_dc_wanted(r, d->name))
            continue;
        bool set = config_is_set(req->broker->cfg, d->name);
        api_dc_entry(req, &cs[k++], d->name, config_get_raw(req->broker->cfg, d->name),
                     set ? API_DC_STATIC_BROKER : API_DC_DEFAULT, true);
    }
    out->configs.count = k;
    return KERR_NONE;
}

void api_handle_describe_configs(api_request_t *req) {
    const kp_describe_configs_req_t *rq = req->body;
    kp_describe_configs_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_describe_configs_req_resource_t *rs = rq->resources.items;
    int32_t n = rq->resources.count > 0 ? rq->resources.count : 0;
    kp_describe_configs_resp_result_t *out = api_alloc_array(req, &resp.results, n, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        out[i].resource_type = rs[i].resource_type;
        out[i].resource_name = rs[i].resource_name;
        kerr_t e;
        if (rs[i].resource_type == API_DC_TOPIC) {
            e = api_dc_topic(req, &rs[i], &out[i], msg);
        } else if (rs[i].resource_type == API_DC_BROKER) {
            e = api_dc_broker(req, &rs[i], &out[i], msg);
        } else {
            snprintf(msg, sizeof msg, "Unsupported resource type %d", rs[i].resource_type);
            e = KERR_INVALID_REQUEST;
        }
        if (e != KERR_NONE)
            api_alloc_array(req, &out[i].configs, 0, sizeof(kp_describe_configs_resp_config_t));
        out[i].error_code = (int16_t)e;
        out[i].error_message = api_admin_msg(req, e, msg);
    }
    api_respond(req, &resp);
}
