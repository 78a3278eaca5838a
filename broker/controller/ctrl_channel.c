#include "controller/ctrl_channel.h"

#include "net/kclient.h"
#include "proto/kproto.h"
#include "proto/kproto_apis.h"
#include "util/logger.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAN_TAG "controller"
#define CHAN_LAI_VERSION 2
#define CHAN_UM_VERSION 5
#define CHAN_STOP_VERSION 1
#define CHAN_LEADER_DURING_DELETE (-2)

/* --- connections --------------------------------------------------------------- */

/* The endpoint of the inter-broker listener, else the first one. */
static const zkdata_endpoint_t *chan_endpoint(const ctrl_channel_env_t *env, const ctrl_broker_t *b) {
    for (size_t i = 0; i < b->info.n_endpoints; i++)
        if (env->inter_broker_listener && strcasecmp(b->info.endpoints[i].listener, env->inter_broker_listener) == 0)
            return &b->info.endpoints[i];
    return b->info.n_endpoints ? &b->info.endpoints[0] : NULL;
}

void ctrl_channel_open(const ctrl_channel_env_t *env, ctrl_broker_t *b) {
    if (b->client)
        return;
    const zkdata_endpoint_t *ep = chan_endpoint(env, b);
    if (!ep) {
        log_warn(CHAN_TAG, "broker %d registered no endpoint; it cannot be reached", b->id);
        return;
    }
    char label[64], client_id[32];
    snprintf(label, sizeof label, "controller->broker %d", b->id);
    snprintf(client_id, sizeof client_id, "controller-%d", env->controller_id);
    kclient_config_t kc;
    kclient_config_init(&kc);
    kc.host = ep->host && ep->host[0] ? ep->host : "127.0.0.1";
    kc.port = ep->port;
    kc.client_id = client_id;
    kc.label = label;
    kc.request_timeout_ms = env->request_timeout_ms;
    kc.resend_on_disconnect = true;
    kc.max_in_flight = 1; /* Kafka's controller: one request at a time per broker, in order */
    b->client = kclient_new(env->loop, &kc);
}

void ctrl_channel_close(ctrl_broker_t *b) {
    kclient_t *c = b->client;
    b->client = NULL;
    kclient_free(c);
}

/* --- batches ---------------------------------------------------------------------- */

typedef struct chan_entry {
    int32_t broker_id;
    char *topic;
    int32_t partition;
    bool flag; /* LeaderAndIsr: is_new; StopReplica: delete */
} chan_entry_t;

typedef struct chan_list {
    chan_entry_t *v;
    size_t n, cap;
} chan_list_t;

struct ctrl_batch {
    chan_list_t lai;
    chan_list_t stop;
    chan_list_t um_parts;
    int32_t *um_brokers;
    size_t n_um_brokers;
    bool um_all;
};

static void chan_list_add(chan_list_t *l, int32_t broker, const char *topic, int32_t partition, bool flag) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = mem_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (chan_entry_t){broker, mem_strdup(topic), partition, flag};
}

static void chan_list_clear(chan_list_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].topic);
    l->n = 0;
}

static int chan_entry_cmp(const void *a, const void *b) {
    const chan_entry_t *x = a, *y = b;
    if (x->broker_id != y->broker_id)
        return x->broker_id < y->broker_id ? -1 : 1;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return (int)y->flag - (int)x->flag; /* a partition named twice keeps the first: is_new if either says so */
}

ctrl_batch_t *ctrl_batch_new(void) {
    return mem_calloc(1, sizeof(ctrl_batch_t));
}

static void ctrl_batch_clear(ctrl_batch_t *b) {
    chan_list_clear(&b->lai);
    chan_list_clear(&b->stop);
    chan_list_clear(&b->um_parts);
    b->n_um_brokers = 0;
    b->um_all = false;
}

void ctrl_batch_free(ctrl_batch_t *b) {
    if (!b)
        return;
    ctrl_batch_clear(b);
    free(b->lai.v);
    free(b->stop.v);
    free(b->um_parts.v);
    free(b->um_brokers);
    free(b);
}

bool ctrl_batch_empty(const ctrl_batch_t *b) {
    return b->lai.n == 0 && b->stop.n == 0 && b->n_um_brokers == 0;
}

void ctrl_batch_lai(ctrl_batch_t *b, int32_t broker_id, ctrl_topic_t *t, ctrl_partition_t *p, bool is_new) {
    chan_list_add(&b->lai, broker_id, t->name, p->index, is_new);
}

void ctrl_batch_stop(ctrl_batch_t *b, int32_t broker_id, const char *topic, int32_t partition, bool delete_log) {
    chan_list_add(&b->stop, broker_id, topic, partition, delete_log);
}

void ctrl_batch_um_broker(ctrl_batch_t *b, int32_t broker_id) {
    for (size_t i = 0; i < b->n_um_brokers; i++)
        if (b->um_brokers[i] == broker_id)
            return;
    b->um_brokers = mem_realloc(b->um_brokers, (b->n_um_brokers + 1) * sizeof *b->um_brokers);
    b->um_brokers[b->n_um_brokers++] = broker_id;
}

void ctrl_batch_um_all_brokers(ctrl_batch_t *b, const ctrl_context_t *ctx) {
    for (size_t i = 0; i < ctx->nbrokers; i++)
        ctrl_batch_um_broker(b, ctx->brokers[i]->id);
}

void ctrl_batch_um_partition(ctrl_batch_t *b, ctrl_topic_t *t, ctrl_partition_t *p) {
    chan_list_add(&b->um_parts, -1, t->name, p->index, false);
}

void ctrl_batch_um_all(ctrl_batch_t *b) {
    b->um_all = true;
}

/* --- responses --------------------------------------------------------------------- */

/* A request in flight: on_response gets its decoded body (NULL when err
 * says it failed: not sent, no answer, malformed) and may read it during
 * the call only. */
typedef struct chan_call chan_call_t;
typedef void (*chan_response_fn)(const chan_call_t *call, kerr_t err, const void *body);

struct chan_call {
    const ctrl_channel_env_t *env;
    int32_t broker_id;
    int16_t api_key;
    int16_t version;
    bool delete_log;
    chan_response_fn on_response;
};

static kerr_t chan_decode(const chan_call_t *call, const uint8_t *payload, size_t len, kp_arena_t *arena,
                          void **body) {
    int32_t corr;
    char err[256];
    if (kp_response_decode(payload, len, call->api_key, call->version, arena, &corr, body, err, sizeof err) !=
        KP_OK) {
        log_warn(CHAN_TAG, "broker %d sent a malformed response to api %d: %s", call->broker_id, call->api_key, err);
        return KERR_CORRUPT_MESSAGE;
    }
    return KERR_NONE;
}

/* kclient's callback for every request: decodes, then the call's own
 * handler; owns the call. */
static void chan_on_reply(void *arg, kerr_t err, const uint8_t *payload, size_t len) {
    chan_call_t *call = arg;
    kp_arena_t arena;
    kp_arena_init(&arena);
    void *body = NULL;
    if (err == KERR_NONE)
        err = chan_decode(call, payload, len, &arena, &body);
    call->on_response(call, err, err == KERR_NONE ? body : NULL);
    kp_arena_free(&arena);
    free(call);
}

static void chan_on_lai(const chan_call_t *call, kerr_t err, const void *body) {
    if (err == KERR_NONE)
        err = (kerr_t)((const kp_leader_and_isr_resp_t *)body)->error_code;
    if (err != KERR_NONE && err != KERR_BROKER_NOT_AVAILABLE)
        log_warn(CHAN_TAG, "LeaderAndIsr to broker %d failed: %s", call->broker_id, kerr_name(err));
    if (call->env->on_lai_done)
        call->env->on_lai_done(call->env->arg, call->broker_id, err);
}

static void chan_on_stop(const chan_call_t *call, kerr_t err, const void *body) {
    if (err != KERR_NONE) {
        if (err != KERR_BROKER_NOT_AVAILABLE)
            log_warn(CHAN_TAG, "StopReplica to broker %d failed: %s", call->broker_id, kerr_name(err));
        return;
    }
    const kp_stop_replica_resp_t *r = body;
    const kp_stop_replica_partition_error_t *pe = r->partition_errors.items;
    for (int32_t i = 0; i < r->partition_errors.count && call->env->on_stop_done; i++) {
        char topic[256];
        snprintf(topic, sizeof topic, "%.*s", pe[i].topic_name.len, pe[i].topic_name.ptr);
        kerr_t e = r->error_code ? (kerr_t)r->error_code : (kerr_t)pe[i].error_code;
        call->env->on_stop_done(call->env->arg, call->broker_id, topic, pe[i].partition_index, call->delete_log, e);
    }
}

static void chan_on_um(const chan_call_t *call, kerr_t err, const void *body) {
    if (err == KERR_NONE)
        err = (kerr_t)((const kp_update_metadata_resp_t *)body)->error_code;
    if (err != KERR_NONE && err != KERR_BROKER_NOT_AVAILABLE)
        log_warn(CHAN_TAG, "UpdateMetadata to broker %d failed: %s", call->broker_id, kerr_name(err));
}

static bool chan_send(const ctrl_channel_env_t *env, int32_t broker_id, int16_t key, int16_t version, const void *body,
                      chan_response_fn on_response, bool delete_log) {
    ctrl_broker_t *br = ctrl_broker_find(env->ctx, broker_id);
    if (!br || !br->client)
        return false;
    chan_call_t *call = mem_alloc(sizeof *call);
    *call = (chan_call_t){env, broker_id, key, version, delete_log, on_response};
    if (kclient_send(br->client, key, version, body, chan_on_reply, call) != 0) {
        log_error(CHAN_TAG, "cannot encode api %d v%d for broker %d", key, version, broker_id);
        free(call);
        return false;
    }
    return true;
}

/* The epoch the target broker registered with (-1 when it is not known):
 * a broker ignores control requests meant for an older registration. */
static int64_t chan_broker_epoch(const ctrl_channel_env_t *env, int32_t broker_id) {
    const ctrl_broker_t *target = ctrl_broker_find(env->ctx, broker_id);
    return target ? target->epoch : -1;
}

/* --- building requests --------------------------------------------------------------- */

static kp_array_t chan_ids(kp_arena_t *a, const ctrl_ids_t *ids) {
    int32_t *v = kp_arena_alloc(a, ((size_t)ids->n + 1) * sizeof *v);
    if (ids->n)
        memcpy(v, ids->v, (size_t)ids->n * sizeof *v);
    return (kp_array_t){ids->n, v};
}

static kp_str_t chan_str(kp_arena_t *a, const char *s) {
    size_t n = strlen(s);
    char *copy = kp_arena_alloc(a, n + 1);
    memcpy(copy, s, n);
    return (kp_str_t){copy, (int32_t)n};
}

/* Entries [from, to) of one broker, grouped by topic. */
static bool chan_send_lai(const ctrl_channel_env_t *env, chan_entry_t *e, size_t n) {
    kp_arena_t a;
    kp_arena_init(&a);
    kp_leader_and_isr_req_t rq;
    kp_set_defaults(kp_api_find(4)->request, CHAN_LAI_VERSION, &rq);
    rq.controller_id = env->controller_id;
    rq.controller_epoch = env->controller_epoch;
    rq.broker_epoch = chan_broker_epoch(env, e[0].broker_id);
    kp_leader_and_isr_topic_state_t *ts = kp_arena_alloc(&a, n * sizeof *ts);
    kp_leader_and_isr_live_leader_t *ll = kp_arena_alloc(&a, (env->ctx->nbrokers + 1) * sizeof *ll);
    bool *leader_seen = kp_arena_alloc(&a, (env->ctx->nbrokers + 1) * sizeof *leader_seen);
    int32_t nts = 0, nll = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(e[j].topic, e[i].topic) == 0)
            j++;
        ctrl_topic_t *t = ctrl_topic_find(env->ctx, e[i].topic);
        if (t) {
            kp_leader_and_isr_partition_state_t *ps = kp_arena_alloc(&a, (j - i) * sizeof *ps);
            int32_t nps = 0;
            for (size_t k = i; k < j; k++) {
                if (e[k].partition >= t->nparts || (k > i && e[k].partition == e[k - 1].partition))
                    continue;
                ctrl_partition_t *p = &t->parts[e[k].partition];
                ps[nps++] = (kp_leader_and_isr_partition_state_t){
                    .topic_name = KP_STR_NULL, .partition_index = p->index, .controller_epoch = p->controller_epoch,
                    .leader = p->leader, .leader_epoch = p->leader_epoch, .isr = chan_ids(&a, &p->isr),
                    .zk_version = p->zk_version, .replicas = chan_ids(&a, &p->replicas), .is_new = e[k].flag};
                for (size_t bi = 0; bi < env->ctx->nbrokers; bi++) {
                    ctrl_broker_t *br = env->ctx->brokers[bi];
                    if (br->id == p->leader && !leader_seen[bi]) {
                        leader_seen[bi] = true;
                        const zkdata_endpoint_t *ep = chan_endpoint(env, br);
                        ll[nll++] = (kp_leader_and_isr_live_leader_t){
                            br->id, chan_str(&a, ep && ep->host ? ep->host : ""), ep ? ep->port : -1};
                    }
                }
            }
            ts[nts++] =
                (kp_leader_and_isr_topic_state_t){.topic_name = chan_str(&a, t->name), .partition_states = {nps, ps}};
        }
        i = j;
    }
    rq.topic_states = (kp_array_t){nts, ts};
    rq.live_leaders = (kp_array_t){nll, ll};
    bool sent = chan_send(env, e[0].broker_id, 4, CHAN_LAI_VERSION, &rq, chan_on_lai, false);
    kp_arena_free(&a);
    return sent;
}

static bool chan_send_stop(const ctrl_channel_env_t *env, chan_entry_t *e, size_t n, bool delete_log) {
    kp_arena_t a;
    kp_arena_init(&a);
    kp_stop_replica_req_t rq;
    kp_set_defaults(kp_api_find(5)->request, CHAN_STOP_VERSION, &rq);
    rq.controller_id = env->controller_id;
    rq.controller_epoch = env->controller_epoch;
    rq.broker_epoch = chan_broker_epoch(env, e[0].broker_id);
    rq.delete_partitions = delete_log;
    kp_stop_replica_req_topic_v1_t *ts = kp_arena_alloc(&a, n * sizeof *ts);
    int32_t nts = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(e[j].topic, e[i].topic) == 0)
            j++;
        int32_t *ids = kp_arena_alloc(&a, (j - i) * sizeof *ids);
        for (size_t k = i; k < j; k++)
            ids[k - i] = e[k].partition;
        ts[nts++] = (kp_stop_replica_req_topic_v1_t){chan_str(&a, e[i].topic), {(int32_t)(j - i), ids}};
        i = j;
    }
    rq.topics = (kp_array_t){nts, ts};
    bool sent = chan_send(env, e[0].broker_id, 5, CHAN_STOP_VERSION, &rq, chan_on_stop, delete_log);
    kp_arena_free(&a);
    return sent;
}

static int16_t chan_protocol_id(const char *proto) {
    static const char *const names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    for (int16_t i = 0; i < 4; i++)
        if (proto && strcmp(proto, names[i]) == 0)
            return i;
    return 0;
}

static kp_array_t chan_live_brokers(const ctrl_channel_env_t *env, kp_arena_t *a) {
    const ctrl_context_t *ctx = env->ctx;
    kp_update_metadata_broker_t *bs = kp_arena_alloc(a, (ctx->nbrokers + 1) * sizeof *bs);
    for (size_t i = 0; i < ctx->nbrokers; i++) {
        const ctrl_broker_t *br = ctx->brokers[i];
        kp_update_metadata_endpoint_t *eps = kp_arena_alloc(a, (br->info.n_endpoints + 1) * sizeof *eps);
        for (size_t k = 0; k < br->info.n_endpoints; k++) {
            const zkdata_endpoint_t *ep = &br->info.endpoints[k];
            eps[k] = (kp_update_metadata_endpoint_t){ep->port, chan_str(a, ep->host ? ep->host : ""),
                                                     chan_str(a, ep->listener), chan_protocol_id(ep->security_protocol)};
        }
        bs[i] = (kp_update_metadata_broker_t){.id = br->id, .v0_host = KP_STR_NULL, .v0_port = -1,
                                              .endpoints = {(int32_t)br->info.n_endpoints, eps},
                                              .rack = br->info.rack ? chan_str(a, br->info.rack) : KP_STR_NULL};
    }
    return (kp_array_t){(int32_t)ctx->nbrokers, bs};
}

static void chan_um_state(const ctrl_channel_env_t *env, kp_arena_t *a, const ctrl_topic_t *t, const ctrl_partition_t *p,
                          kp_update_metadata_partition_state_t *out) {
    int32_t *offline = kp_arena_alloc(a, ((size_t)p->replicas.n + 1) * sizeof *offline);
    int32_t noff = 0;
    for (int32_t i = 0; i < p->replicas.n; i++)
        if (!ctrl_broker_live(env->ctx, p->replicas.v[i]))
            offline[noff++] = p->replicas.v[i];
    *out = (kp_update_metadata_partition_state_t){
        .topic_name = KP_STR_NULL, .partition_index = p->index, .controller_epoch = p->controller_epoch,
        .leader = t->deletion_started ? CHAN_LEADER_DURING_DELETE : p->leader, .leader_epoch = p->leader_epoch,
        .isr = chan_ids(a, &p->isr), .zk_version = p->zk_version, .replicas = chan_ids(a, &p->replicas),
        .offline_replicas = {noff, offline}};
}

/* The partition states of an UpdateMetadata: every partition with a state,
 * or the listed ones (sorted by topic so they group). */
static kp_array_t chan_um_topics(const ctrl_channel_env_t *env, ctrl_batch_t *b, kp_arena_t *a) {
    const ctrl_context_t *ctx = env->ctx;
    size_t cap = b->um_all ? ctx->ntopics : b->um_parts.n;
    kp_update_metadata_topic_state_t *ts = kp_arena_alloc(a, (cap + 1) * sizeof *ts);
    int32_t nts = 0;
    if (b->um_all) {
        for (size_t i = 0; i < ctx->ntopics; i++) {
            const ctrl_topic_t *t = ctx->topics[i];
            kp_update_metadata_partition_state_t *ps = kp_arena_alloc(a, ((size_t)t->nparts + 1) * sizeof *ps);
            int32_t nps = 0;
            for (int32_t k = 0; k < t->nparts; k++)
                if (t->parts[k].has_state)
                    chan_um_state(env, a, t, &t->parts[k], &ps[nps++]);
            if (nps)
                ts[nts++] = (kp_update_metadata_topic_state_t){.topic_name = chan_str(a, t->name),
                                                               .partition_states = {nps, ps}};
        }
        return (kp_array_t){nts, ts};
    }
    chan_entry_t *e = b->um_parts.v;
    size_t n = b->um_parts.n;
    if (n > 1)
        qsort(e, n, sizeof *e, chan_entry_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(e[j].topic, e[i].topic) == 0)
            j++;
        const ctrl_topic_t *t = ctrl_topic_find(ctx, e[i].topic);
        if (t) {
            kp_update_metadata_partition_state_t *ps = kp_arena_alloc(a, (j - i) * sizeof *ps);
            int32_t nps = 0;
            for (size_t k = i; k < j; k++)
                if (e[k].partition < t->nparts && t->parts[e[k].partition].has_state &&
                    (k == i || e[k].partition != e[k - 1].partition))
                    chan_um_state(env, a, t, &t->parts[e[k].partition], &ps[nps++]);
            if (nps)
                ts[nts++] = (kp_update_metadata_topic_state_t){.topic_name = chan_str(a, t->name),
                                                               .partition_states = {nps, ps}};
        }
        i = j;
    }
    return (kp_array_t){nts, ts};
}

static void chan_send_um(const ctrl_channel_env_t *env, ctrl_batch_t *b) {
    if (b->n_um_brokers == 0)
        return;
    kp_arena_t a;
    kp_arena_init(&a);
    kp_update_metadata_req_t rq;
    kp_set_defaults(kp_api_find(6)->request, CHAN_UM_VERSION, &rq);
    rq.controller_id = env->controller_id;
    rq.controller_epoch = env->controller_epoch;
    rq.topic_states = chan_um_topics(env, b, &a);
    rq.live_brokers = chan_live_brokers(env, &a);
    for (size_t i = 0; i < b->n_um_brokers; i++) {
        rq.broker_epoch = chan_broker_epoch(env, b->um_brokers[i]);
        chan_send(env, b->um_brokers[i], 6, CHAN_UM_VERSION, &rq, chan_on_um, false);
    }
    kp_arena_free(&a);
}

/* Runs fn over the runs of entries with the same broker (and flag). */
static int chan_per_broker(const ctrl_channel_env_t *env, chan_list_t *l, bool by_flag, int kind) {
    int sent = 0;
    if (l->n == 0)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, chan_entry_cmp);
    for (int pass = 0; pass < (by_flag ? 2 : 1); pass++) {
        /* collect this pass's entries (flag == pass when by_flag) per broker */
        for (size_t i = 0; i < l->n;) {
            size_t j = i;
            while (j < l->n && l->v[j].broker_id == l->v[i].broker_id)
                j++;
            chan_entry_t *tmp = mem_alloc((j - i) * sizeof *tmp);
            size_t m = 0;
            for (size_t k = i; k < j; k++)
                if (!by_flag || l->v[k].flag == (pass == 1))
                    tmp[m++] = l->v[k];
            if (m && ctrl_broker_live(env->ctx, tmp[0].broker_id))
                sent += kind == 4 ? chan_send_lai(env, tmp, m) : chan_send_stop(env, tmp, m, pass == 1);
            free(tmp);
            i = j;
        }
    }
    return sent;
}

int ctrl_batch_send(ctrl_batch_t *b, const ctrl_channel_env_t *env) {
    int lai = chan_per_broker(env, &b->lai, false, 4);
    chan_send_um(env, b);
    chan_per_broker(env, &b->stop, true, 5);
    ctrl_batch_clear(b);
    return lai;
}
