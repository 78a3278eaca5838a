/* Topic administration over the wire: CreateTopics (19), DeleteTopics (20)
 * and CreatePartitions (37), done as Kafka 2.8's AdminManager does — by
 * writing ZooKeeper (topic_admin.h); the controller notices and makes the
 * partitions. With a timeout each answers once the controller's work shows
 * in this broker's metadata — leaders for every partition, or the topic
 * gone — and without one at once, with REQUEST_TIMED_OUT for what succeeded
 * (api_admin_answer).
 * DescribeConfigs (32) shows a topic's overrides from ZooKeeper over the
 * broker's defaults, or this broker's own configuration. */
#include "api/api.h"

#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"
#include "admin/topic_admin.h"

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

/* --- answering after the controller's work ---------------------------------------------- */

/* What one topic of an admin request waits for in this broker's metadata. */
typedef enum api_wait_kind {
    API_WAIT_NOTHING, /* failed, or validate_only */
    API_WAIT_LEADERS, /* partitions 0..partitions-1 all have a leader */
    API_WAIT_GONE,    /* the topic is no longer there */
} api_wait_kind_t;

typedef struct api_wait_topic {
    kp_str_t name;
    api_wait_kind_t kind;
    int32_t partitions;
    int16_t *error_code;      /* in the response */
    kp_str_t *error_message;  /* in the response, or NULL when it has none */
} api_wait_topic_t;

typedef struct api_admin_wait {
    api_request_t *req;
    void *resp; /* in the request's arena */
    api_wait_topic_t *topics;
    int32_t n;
    int64_t deadline_ms;
} api_admin_wait_t;

/* Re-checked every few ms on the connection's loop: admin changes are rare
 * and quick. */
#define API_ADMIN_RECHECK_MS 10

static bool api_wait_done(const mc_snapshot_t *s, const api_wait_topic_t *w) {
    if (w->kind == API_WAIT_NOTHING)
        return true;
    const mc_topic_t *t = mc_snapshot_topic(s, w->name.ptr, (size_t)w->name.len);
    if (w->kind == API_WAIT_GONE)
        return t == NULL;
    if (!t || t->npartitions < w->partitions)
        return false;
    for (int32_t p = 0; p < w->partitions; p++)
        if (t->partitions[p].leader < 0)
            return false;
    return true;
}

/* Every topic still waiting (all that wait, without s) answers
 * REQUEST_TIMED_OUT, without a message, as Kafka's delayed operations do. */
static void api_wait_time_out(api_admin_wait_t *w, const mc_snapshot_t *s) {
    for (int32_t i = 0; i < w->n; i++) {
        api_wait_topic_t *t = &w->topics[i];
        if (t->kind == API_WAIT_NOTHING || (s && api_wait_done(s, t)))
            continue;
        *t->error_code = KERR_REQUEST_TIMED_OUT;
        if (t->error_message)
            *t->error_message = KP_STR_NULL;
    }
}

static void api_admin_wait_free_and_answer(api_admin_wait_t *w) {
    api_request_t *req = w->req;
    void *resp = w->resp;
    free(w->topics);
    free(w);
    api_respond(req, resp);
}

static void api_admin_wait_check(void *arg) {
    api_admin_wait_t *w = arg;
    metadata_cache_t *mc = w->req->broker->metadata;
    const mc_snapshot_t *s = metadata_cache_acquire(mc);
    bool pending = false;
    for (int32_t i = 0; i < w->n && !pending; i++)
        pending = !api_wait_done(s, &w->topics[i]);
    /* a closed connection (the client left, or shutdown) is answered now:
     * the answer is dropped, the request freed */
    bool expired = clock_mono_ms() >= w->deadline_ms || !net_conn_is_open(w->req->conn);
    if (pending && !expired) {
        metadata_cache_release(mc, s);
        evloop_after(net_conn_evloop(w->req->conn), API_ADMIN_RECHECK_MS, api_admin_wait_check, w);
        return;
    }
    if (pending)
        api_wait_time_out(w, s);
    metadata_cache_release(mc, s);
    api_admin_wait_free_and_answer(w);
}

/* Kafka 2.8's ZkAdminManager, after writing ZooKeeper: with timeout_ms <= 0
 * (and not validate_only) every topic that succeeded is answered
 * REQUEST_TIMED_OUT at once — the change is made, but nobody waited for it;
 * otherwise the answer waits (DelayedCreatePartitions, DelayedDeleteTopics)
 * until the controller's work shows in this broker's metadata — leaders for
 * every partition, or the topic gone — or the timeout passes. Takes topics
 * (malloc'd; kinds already NOTHING for failures and validate_only). */
static void api_admin_answer(api_request_t *req, void *resp, api_wait_topic_t *topics, int32_t n, int32_t timeout_ms) {
    api_admin_wait_t *w = mem_alloc(sizeof *w);
    *w = (api_admin_wait_t){req, resp, topics, n, clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0)};
    bool waits = false;
    for (int32_t i = 0; i < n; i++)
        waits = waits || topics[i].kind != API_WAIT_NOTHING;
    if (!waits) {
        api_admin_wait_free_and_answer(w);
        return;
    }
    if (timeout_ms <= 0) {
        api_wait_time_out(w, NULL);
        api_admin_wait_free_and_answer(w);
        return;
    }
    /* the wait's timers live on the connection's loop (this handler runs on
     * the admin worker) */
    if (evloop_run(net_conn_evloop(req->conn), api_admin_wait_check, w) != 0)
        api_admin_wait_free_and_answer(w);
}

/* Kafka answers CreateTopics, DeleteTopics and CreatePartitions only on the
 * active controller, NOT_CONTROLLER (41) elsewhere: clients send them to
 * the controller Metadata names and retry there. */
static bool api_admin_on_controller(const api_request_t *req) {
    controller_t *c = atomic_load(&req->broker->controller);
    return c && controller_active_id(c) == req->broker->id;
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
    kp_create_topics_resp_t *resp = kp_arena_alloc(&req->arena, sizeof *resp);
    const kp_create_topics_req_topic_t *ts = rq->topics.items;
    int32_t n = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_create_topics_resp_topic_t *out = api_alloc_array(req, &resp->topics, n, sizeof *out);
    api_wait_topic_t *waits = mem_calloc((size_t)n + 1, sizeof *waits);
    bool on_controller = api_admin_on_controller(req);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        bool dup = false;
        for (int32_t k = 0; k < n && !dup; k++)
            dup = k != i && ts[k].name.len == ts[i].name.len &&
                  memcmp(ts[k].name.ptr, ts[i].name.ptr, (size_t)ts[i].name.len) == 0;
        kerr_t e = KERR_INVALID_REQUEST;
        if (!on_controller)
            e = KERR_NOT_CONTROLLER;
        else if (dup)
            snprintf(msg, sizeof msg, "Create topics request from client `%.*s` contains multiple entries for the "
                                      "following topics: %.*s",
                     req->hdr.client_id.len > 0 ? req->hdr.client_id.len : 0, req->hdr.client_id.ptr,
                     ts[i].name.len, ts[i].name.ptr);
        else
            e = api_create_one(req, &ts[i], rq->validate_only, msg);
        int32_t partitions = ts[i].assignments.count > 0 ? ts[i].assignments.count
                             : ts[i].num_partitions == -1 ? req->broker->num_partitions
                                                          : ts[i].num_partitions;
        const kp_create_topics_req_assignment_t *as = ts[i].assignments.items;
        int16_t replication = ts[i].assignments.count > 0 ? (int16_t)as[0].broker_ids.count
                              : ts[i].replication_factor == -1 ? (int16_t)req->broker->default_replication_factor
                                                               : ts[i].replication_factor;
        /* v5+ (KIP-525) also reports the topic's shape; its configs are not
         * listed (null), which the schema allows. */
        out[i] = (kp_create_topics_resp_topic_t){
            .name = ts[i].name,
            .error_code = (int16_t)e,
            .error_message = api_admin_msg(req, e, msg),
            .num_partitions = e == KERR_NONE ? partitions : -1,
            .replication_factor = e == KERR_NONE ? replication : -1,
            .configs = {-1, NULL},
        };
        bool made = e == KERR_NONE && !rq->validate_only;
        waits[i] = (api_wait_topic_t){out[i].name, made ? API_WAIT_LEADERS : API_WAIT_NOTHING, partitions,
                                      &out[i].error_code, &out[i].error_message};
    }
    api_admin_answer(req, resp, waits, n, rq->timeout_ms);
}

/* --- DeleteTopics -------------------------------------------------------------------- */

void api_handle_delete_topics(api_request_t *req) {
    const kp_delete_topics_req_t *rq = req->body;
    kp_delete_topics_resp_t *resp = kp_arena_alloc(&req->arena, sizeof *resp);
    bool v6 = req->hdr.api_version >= 6; /* topics by name or id instead of topic_names */
    const kp_array_t *wanted = v6 ? &rq->topics : &rq->topic_names;
    int32_t n = wanted->count > 0 ? wanted->count : 0;
    kp_delete_topics_resp_topic_t *out = api_alloc_array(req, &resp->responses, n, sizeof *out);
    api_wait_topic_t *waits = mem_calloc((size_t)n + 1, sizeof *waits);
    bool on_controller = api_admin_on_controller(req);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        bool marked = false;
        kerr_t e;
        static const kp_uuid_t no_id;
        const kp_delete_topics_req_topic_t *t = v6 ? &((const kp_delete_topics_req_topic_t *)wanted->items)[i] : NULL;
        kp_str_t name = t ? t->name : ((const kp_str_t *)wanted->items)[i];
        bool by_id = t && memcmp(&t->topic_id, &no_id, sizeof no_id) != 0;
        out[i] = (kp_delete_topics_resp_topic_t){.name = name, .error_message = KP_STR_NULL};
        if (by_id) {
            out[i].topic_id = t->topic_id;
            /* Kafka: a name and an id together are an invalid request; samsa
             * keeps no id -> name map, so any id is unknown here. */
            e = name.len >= 0 ? KERR_INVALID_REQUEST : KERR_UNKNOWN_TOPIC_ID;
        } else if (name.len < 0)
            e = KERR_INVALID_REQUEST;
        else if (!on_controller)
            e = KERR_NOT_CONTROLLER;
        else if (!req->broker->delete_topic_enable) /* Kafka: INVALID_REQUEST to clients older than v3 */
            e = req->hdr.api_version < 3 ? KERR_INVALID_REQUEST : KERR_TOPIC_DELETION_DISABLED;
        else
            e = tadmin_delete_topic(req->broker->zk, api_strdup(req, name), &marked, msg, sizeof msg);
        out[i].error_code = (int16_t)e;
        waits[i] = (api_wait_topic_t){name, e == KERR_NONE ? API_WAIT_GONE : API_WAIT_NOTHING, 0,
                                      &out[i].error_code, NULL};
    }
    api_admin_answer(req, resp, waits, n, rq->timeout_ms);
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
    kp_create_partitions_resp_t *resp = kp_arena_alloc(&req->arena, sizeof *resp);
    const kp_create_partitions_req_topic_t *ts = rq->topics.items;
    int32_t n = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_create_partitions_resp_result_t *out = api_alloc_array(req, &resp->results, n, sizeof *out);
    api_wait_topic_t *waits = mem_calloc((size_t)n + 1, sizeof *waits);
    bool on_controller = api_admin_on_controller(req);
    for (int32_t i = 0; i < n; i++) {
        char msg[API_ADMIN_MSG] = "";
        kerr_t e = on_controller ? api_partitions_one(req, &ts[i], rq->validate_only, msg) : KERR_NOT_CONTROLLER;
        out[i] = (kp_create_partitions_resp_result_t){ts[i].name, (int16_t)e, api_admin_msg(req, e, msg)};
        bool made = e == KERR_NONE && !rq->validate_only;
        waits[i] = (api_wait_topic_t){ts[i].name, made ? API_WAIT_LEADERS : API_WAIT_NOTHING, ts[i].count,
                                      &out[i].error_code, &out[i].error_message};
    }
    api_admin_answer(req, resp, waits, n, rq->timeout_ms);
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
        .documentation = KP_STR_NULL, /* v3+: samsa keeps no documentation strings */
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
