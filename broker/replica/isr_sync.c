#include "replica/isr_sync.h"

#include "net/kclient.h"
#include "proto/kproto_apis.h"
#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"
#include "zk/zkdata.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISR_SYNC_TAG "isr-sync"
/* Kafka's AlterIsrManager retries 50 ms after an error. */
#define ISR_SYNC_RETRY_MS 50
/* Without a controller to ask (none elected, or its registration not
 * readable) the next look-up waits longer: an election takes ZooKeeper
 * round trips, and polling /controller every 50 ms would only load it. */
#define ISR_SYNC_LOOKUP_RETRY_MS 500

/* A submitted change, owned by whichever list holds it. */
typedef struct isr_sync_item {
    char *topic;
    int32_t partition;
    int32_t leader_id, leader_epoch, controller_epoch, zk_version;
    int32_t *isr;
    int32_t nisr;
} isr_sync_item_t;

typedef struct isr_sync_items {
    isr_sync_item_t **v;
    size_t n, cap;
} isr_sync_items_t;

struct isr_sync {
    /* immutable after isr_sync_new */
    int32_t broker_id;
    zkc_t *zk;
    evloop_t *loop;
    isr_sync_done_fn done;
    isr_sync_broker_epoch_fn broker_epoch;
    void *ctx;
    bool alter_isr;     /* AlterIsr to the controller, else ZooKeeper writes */
    char *listener;     /* the inter-broker listener's name */
    int32_t request_timeout_ms;

    pthread_mutex_t lock;
    isr_sync_items_t submitted; /* under: lock — newest last */
    bool drain_posted;          /* under: lock — a drain task is queued on the loop */
    bool closed;                /* under: lock — isr_sync_stop ran: submits are dropped */

    /* owner: ZooKeeper loop */
    isr_sync_items_t waiting;   /* to send or write (again) */
    isr_sync_items_t in_flight; /* in the AlterIsr request on the wire */
    bool stopped;
    evloop_timer_t *retry;
    evloop_timer_t *notify_tick;     /* ZooKeeper mode: the notification rule */
    zkdata_tp_list_t changed;        /* ZooKeeper mode: written since the last notification */
    int64_t last_change_ms;
    int64_t last_notification_ms;
    kclient_t *controller;           /* AlterIsr mode: NULL until looked up */
    int32_t controller_id;
};

/* --- the rules ------------------------------------------------------------------- */

bool isr_sync_uses_alter_isr(const char *ibp) {
    return config_api_version_rank(ibp) >= config_api_version_rank("2.7-IV2");
}

bool isr_sync_notification_due(bool pending, int64_t now_ms, int64_t last_change_ms, int64_t last_notification_ms) {
    return pending && (last_change_ms + ISR_SYNC_NOTIFY_LINGER_MS < now_ms ||
                       last_notification_ms + ISR_SYNC_NOTIFY_MAX_DELAY_MS < now_ms);
}

/* --- items ------------------------------------------------------------------------- */

static isr_sync_item_t *isr_sync_item_new(const partition_isr_change_t *c) {
    isr_sync_item_t *it = mem_calloc(1, sizeof *it);
    it->topic = mem_strdup(c->topic);
    it->partition = c->partition;
    it->leader_id = c->leader_id;
    it->leader_epoch = c->leader_epoch;
    it->controller_epoch = c->controller_epoch;
    it->zk_version = c->zk_version;
    it->nisr = c->nisr > 0 ? c->nisr : 0;
    it->isr = mem_calloc((size_t)it->nisr + 1, sizeof *it->isr);
    if (it->nisr)
        memcpy(it->isr, c->isr, (size_t)it->nisr * sizeof *it->isr);
    return it;
}

static void isr_sync_item_free(isr_sync_item_t *it) {
    if (!it)
        return;
    free(it->topic);
    free(it->isr);
    free(it);
}

static bool isr_sync_item_same_partition(const isr_sync_item_t *a, const isr_sync_item_t *b) {
    return a->partition == b->partition && strcmp(a->topic, b->topic) == 0;
}

static void isr_sync_items_push(isr_sync_items_t *l, isr_sync_item_t *it) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = mem_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = it;
}

static isr_sync_item_t **isr_sync_items_find(isr_sync_items_t *l, const isr_sync_item_t *it) {
    for (size_t i = 0; i < l->n; i++)
        if (isr_sync_item_same_partition(l->v[i], it))
            return &l->v[i];
    return NULL;
}

/* A newer proposal for the same partition supersedes one not sent yet. */
static void isr_sync_items_add_newer(isr_sync_items_t *l, isr_sync_item_t *it) {
    isr_sync_item_t **old = isr_sync_items_find(l, it);
    if (old) {
        isr_sync_item_free(*old);
        *old = it;
    } else {
        isr_sync_items_push(l, it);
    }
}

/* An item coming back for another try is older than anything submitted
 * for its partition since. */
static void isr_sync_items_add_older(isr_sync_items_t *l, isr_sync_item_t *it) {
    if (isr_sync_items_find(l, it))
        isr_sync_item_free(it);
    else
        isr_sync_items_push(l, it);
}

/* Moves the items out of l: the caller owns the returned list. */
static isr_sync_items_t isr_sync_items_take(isr_sync_items_t *l) {
    isr_sync_items_t out = *l;
    *l = (isr_sync_items_t){0};
    return out;
}

static void isr_sync_items_clear(isr_sync_items_t *l) {
    for (size_t i = 0; i < l->n; i++)
        isr_sync_item_free(l->v[i]);
    free(l->v);
    *l = (isr_sync_items_t){0};
}

/* Reports the outcome of it and frees it. */
static void isr_sync_finish(isr_sync_t *s, isr_sync_item_t *it, kerr_t err, int32_t leader_epoch, const int32_t *isr,
                            int32_t nisr, int32_t zk_version) {
    if (err == KERR_NONE)
        log_info(ISR_SYNC_TAG, "%s-%d: ISR now has %d replica(s) at leader epoch %d, state version %d", it->topic,
                 it->partition, nisr, leader_epoch, zk_version);
    else
        log_info(ISR_SYNC_TAG, "%s-%d: ISR change at leader epoch %d failed (%s): the leader keeps its ISR until its "
                 "next LeaderAndIsr", it->topic, it->partition, it->leader_epoch, kerr_name(err));
    s->done(s->ctx, it->topic, it->partition, leader_epoch, err, err == KERR_NONE ? isr : NULL,
            err == KERR_NONE ? nisr : 0, err == KERR_NONE ? zk_version : -1);
    isr_sync_item_free(it);
}

static void isr_sync_fail(isr_sync_t *s, isr_sync_item_t *it, kerr_t err) {
    isr_sync_finish(s, it, err, it->leader_epoch, NULL, 0, -1);
}

/* --- ZooKeeper mode: the leader writes the state znode ------------------------------- */

static bool isr_sync_connection_error(zkc_err_t e) {
    return e == ZKC_CONNECTIONLOSS || e == ZKC_SESSIONEXPIRED;
}

/* Whether the state znode data holds exactly what it was to be written
 * (ReplicationUtils.checkLeaderAndIsrZkData: leader, leader epoch, ISR and
 * controller epoch). */
static bool isr_sync_state_matches(const isr_sync_item_t *it, const char *data, int len) {
    zkdata_partition_state_t st;
    char err[256];
    bool same = zkdata_partition_state_decode(data, len < 0 ? 0 : (size_t)len, &st, err, sizeof err) == 0 &&
                st.leader == it->leader_id && st.leader_epoch == it->leader_epoch &&
                st.controller_epoch == it->controller_epoch && st.n_isr == (size_t)it->nisr &&
                (it->nisr == 0 || memcmp(st.isr, it->isr, (size_t)it->nisr * sizeof *it->isr) == 0);
    zkdata_partition_state_free(&st);
    return same;
}

static void isr_sync_zk_written(isr_sync_t *s, isr_sync_item_t *it, int32_t version) {
    zkdata_tp_list_add(&s->changed, it->topic, it->partition);
    s->last_change_ms = clock_mono_ms();
    isr_sync_finish(s, it, KERR_NONE, it->leader_epoch, it->isr, it->nisr, version);
}

/* Re-reads the state znodes of the items whose write failed with
 * BADVERSION or an unknown fate (written[i] is that error): a write that
 * went through counts, one that surely did not is tried again after a lost
 * connection, anything else is INVALID_UPDATE_VERSION. */
static bool isr_sync_zk_verify(isr_sync_t *s, isr_sync_item_t **items, const zkc_err_t *written, size_t n,
                               char (*paths)[ZKDATA_PATH_MAX]) {
    zkc_batch_item_t *gets = mem_calloc(n + 1, sizeof *gets);
    for (size_t i = 0; i < n; i++)
        gets[i] = (zkc_batch_item_t){.kind = ZKC_BATCH_GET, .path = paths[i]};
    zkc_batch(s->zk, gets, n);
    bool again = false;
    for (size_t i = 0; i < n; i++) {
        isr_sync_item_t *it = items[i];
        if (gets[i].err == ZKC_OK && isr_sync_state_matches(it, gets[i].out_data, gets[i].out_len)) {
            isr_sync_zk_written(s, it, gets[i].stat.version);
        } else if (isr_sync_connection_error(gets[i].err) ||
                   (gets[i].err == ZKC_OK && isr_sync_connection_error(written[i]) &&
                    gets[i].stat.version == it->zk_version)) {
            isr_sync_items_add_older(&s->waiting, it);
            again = true;
        } else {
            isr_sync_fail(s, it, KERR_INVALID_UPDATE_VERSION);
        }
    }
    zkc_batch_release(gets, n);
    free(gets);
    return again;
}

/* Writes every waiting change, pipelined (one round trip for many); true
 * when some must be tried again. */
static bool isr_sync_zk_write(isr_sync_t *s) {
    isr_sync_items_t todo = isr_sync_items_take(&s->waiting);
    size_t n = todo.n;
    zkc_batch_item_t *sets = mem_calloc(n + 1, sizeof *sets);
    char (*paths)[ZKDATA_PATH_MAX] = mem_calloc(n + 1, sizeof *paths);
    buf_t *json = mem_calloc(n + 1, sizeof *json);
    for (size_t i = 0; i < n; i++) {
        isr_sync_item_t *it = todo.v[i];
        zkdata_partition_state_t st = {it->leader_id, it->leader_epoch, it->controller_epoch, it->isr,
                                       (size_t)it->nisr};
        buf_init(&json[i]);
        zkdata_partition_state_encode(&json[i], &st);
        zkdata_path_partition_state(paths[i], sizeof paths[i], it->topic, it->partition);
        sets[i] = (zkc_batch_item_t){.kind = ZKC_BATCH_SET, .path = paths[i], .data = json[i].data,
                                     .len = (int)json[i].len, .version = it->zk_version};
    }
    zkc_batch(s->zk, sets, n);
    /* The failures to check are compacted to the front of todo.v and paths. */
    zkc_err_t *written = mem_calloc(n + 1, sizeof *written);
    size_t nverify = 0;
    for (size_t i = 0; i < n; i++) {
        isr_sync_item_t *it = todo.v[i];
        zkc_err_t e = sets[i].err;
        if (e == ZKC_OK) {
            isr_sync_zk_written(s, it, sets[i].stat.version);
        } else if (e == ZKC_BADVERSION || isr_sync_connection_error(e)) {
            written[nverify] = e;
            memmove(paths[nverify], paths[i], sizeof paths[i]);
            todo.v[nverify++] = it;
        } else {
            log_warn(ISR_SYNC_TAG, "cannot write %s: %s", paths[i], zkc_strerror(e));
            isr_sync_fail(s, it, KERR_INVALID_UPDATE_VERSION);
        }
    }
    zkc_batch_release(sets, n);
    for (size_t i = 0; i < n; i++)
        buf_free(&json[i]);
    bool again = nverify && isr_sync_zk_verify(s, todo.v, written, nverify, paths);
    free(written);
    free(json);
    free(paths);
    free(sets);
    free(todo.v);
    return again;
}

static void isr_sync_notify_tick(void *arg) {
    isr_sync_t *s = arg;
    int64_t now = clock_mono_ms();
    if (isr_sync_notification_due(s->changed.n > 0, now, s->last_change_ms, s->last_notification_ms)) {
        buf_t json;
        buf_init(&json);
        char err[256];
        zkc_err_t e = ZKC_ERROR;
        if (zkdata_isr_change_encode(&json, &s->changed, err, sizeof err) == 0)
            e = zkc_create(s->zk, ZKDATA_PATH_ISR_CHANGE_PREFIX, json.data, (int)json.len,
                           ZKC_PERSISTENT | ZKC_SEQUENTIAL, NULL);
        else
            log_error(ISR_SYNC_TAG, "cannot encode the ISR change notification: %s", err);
        if (e == ZKC_OK) {
            log_debug(ISR_SYNC_TAG, "ISR change notification for %zu partition(s) written", s->changed.n);
            zkdata_tp_list_free(&s->changed);
            zkdata_tp_list_init(&s->changed);
            s->last_notification_ms = now;
        } else {
            /* Kept: the next tick tries again. */
            log_warn(ISR_SYNC_TAG, "cannot write the ISR change notification: %s", zkc_strerror(e));
        }
        buf_free(&json);
    }
    evloop_timer_arm(s->notify_tick, ISR_SYNC_NOTIFY_CHECK_MS);
}

/* --- AlterIsr mode: the controller writes ---------------------------------------- */

static void isr_sync_forget_controller(isr_sync_t *s) {
    kclient_free(s->controller);
    s->controller = NULL;
    s->controller_id = -1;
}

/* The active controller's inter-broker endpoint, from /controller and its
 * registration; false when there is none to ask now. */
static bool isr_sync_find_controller(isr_sync_t *s) {
    char *data = NULL, err[256];
    int len;
    int32_t id = -1;
    zkc_err_t e = zkc_get(s->zk, ZKDATA_PATH_CONTROLLER, &data, &len, NULL);
    if (e == ZKC_OK && zkdata_controller_decode(data, len < 0 ? 0 : (size_t)len, &id, err, sizeof err) != 0)
        log_warn(ISR_SYNC_TAG, "unreadable %s: %s", ZKDATA_PATH_CONTROLLER, err);
    free(data);
    if (id < 0)
        return false;
    char path[ZKDATA_PATH_MAX];
    zkdata_path_broker(path, sizeof path, id);
    data = NULL;
    zkdata_broker_t reg;
    zkdata_broker_init(&reg);
    if (zkc_get(s->zk, path, &data, &len, NULL) == ZKC_OK &&
        zkdata_broker_decode(data, len < 0 ? 0 : (size_t)len, &reg, err, sizeof err) == 0) {
        for (size_t i = 0; i < reg.n_endpoints && !s->controller; i++) {
            const zkdata_endpoint_t *ep = &reg.endpoints[i];
            if (strcmp(ep->listener, s->listener) != 0)
                continue;
            char label[64], client_id[64];
            snprintf(label, sizeof label, "alter-isr->controller %d", id);
            snprintf(client_id, sizeof client_id, "broker-%d-alter-isr", s->broker_id);
            kclient_config_t kc;
            kclient_config_init(&kc);
            kc.host = ep->host ? ep->host : "127.0.0.1";
            kc.port = ep->port;
            kc.client_id = client_id;
            kc.label = label;
            kc.request_timeout_ms = s->request_timeout_ms;
            kc.max_in_flight = 1;
            kc.resend_on_disconnect = false;
            s->controller = kclient_new(s->loop, &kc);
            s->controller_id = id;
        }
    }
    zkdata_broker_free(&reg);
    free(data);
    return s->controller != NULL;
}

static void isr_sync_flush(isr_sync_t *s);

static void isr_sync_retry_later(isr_sync_t *s, int64_t delay_ms) {
    if (!evloop_timer_armed(s->retry))
        evloop_timer_arm(s->retry, delay_ms);
}

/* The result for it in resp, or NULL when the controller left it out. */
static const kp_alter_isr_resp_partition_t *isr_sync_result_of(const kp_alter_isr_resp_t *resp,
                                                               const isr_sync_item_t *it) {
    const kp_alter_isr_resp_topic_t *t = resp->topics.items;
    for (int32_t i = 0; i < resp->topics.count; i++) {
        if (!kp_str_eq(t[i].name, it->topic))
            continue;
        const kp_alter_isr_resp_partition_t *p = t[i].partitions.items;
        for (int32_t k = 0; k < t[i].partitions.count; k++)
            if (p[k].partition_index == it->partition)
                return &p[k];
    }
    return NULL;
}

static bool isr_sync_final_error(kerr_t e) {
    return e == KERR_UNKNOWN_TOPIC_OR_PARTITION || e == KERR_FENCED_LEADER_EPOCH || e == KERR_INVALID_UPDATE_VERSION;
}

static void isr_sync_on_response(void *ctx, kerr_t err, const uint8_t *payload, size_t len) {
    isr_sync_t *s = ctx;
    if (s->stopped)
        return; /* isr_sync_stop frees what was in flight */
    isr_sync_items_t sent = isr_sync_items_take(&s->in_flight);
    kp_arena_t arena = KP_ARENA_INIT;
    void *body = NULL;
    char why[256] = "";
    if (err == KERR_NONE)
        err = kclient_decode(s->controller, payload, len, &arena, &body, why, sizeof why);
    const kp_alter_isr_resp_t *resp = body;
    if (err == KERR_NONE && resp->error_code != KERR_NONE)
        err = (kerr_t)resp->error_code;
    bool again = false;
    if (err != KERR_NONE) {
        log_warn(ISR_SYNC_TAG, "AlterIsr for %zu partition(s) to controller %d failed: %s%s%s; retrying", sent.n,
                 s->controller_id, kerr_name(err), *why ? ": " : "", why);
        if (err != KERR_STALE_BROKER_EPOCH)
            isr_sync_forget_controller(s); /* a lost connection, or the controller moved */
        for (size_t i = 0; i < sent.n; i++)
            isr_sync_items_add_older(&s->waiting, sent.v[i]);
        again = true;
    } else {
        for (size_t i = 0; i < sent.n; i++) {
            isr_sync_item_t *it = sent.v[i];
            const kp_alter_isr_resp_partition_t *r = isr_sync_result_of(resp, it);
            kerr_t pe = r ? (kerr_t)r->error_code : KERR_UNKNOWN_SERVER_ERROR;
            if (r && pe == KERR_NONE) {
                isr_sync_finish(s, it, KERR_NONE, r->leader_epoch, r->isr.items, r->isr.count > 0 ? r->isr.count : 0,
                                r->current_isr_version);
            } else if (r && isr_sync_final_error(pe)) {
                isr_sync_fail(s, it, pe);
            } else {
                log_warn(ISR_SYNC_TAG, "%s-%d: %s; retrying", it->topic, it->partition,
                         r ? kerr_name(pe) : "left out of the controller's answer");
                isr_sync_items_add_older(&s->waiting, it);
                again = true;
            }
        }
    }
    free(sent.v);
    kp_arena_free(&arena);
    if (again)
        isr_sync_retry_later(s, ISR_SYNC_RETRY_MS);
    else if (s->waiting.n)
        isr_sync_flush(s); /* what was submitted while this was in flight */
}

/* Sends every waiting change in one AlterIsr request, grouped by topic. */
static void isr_sync_send_alter_isr(isr_sync_t *s) {
    if (s->in_flight.n || !s->waiting.n)
        return;
    if (!s->controller && !isr_sync_find_controller(s)) {
        isr_sync_retry_later(s, ISR_SYNC_LOOKUP_RETRY_MS);
        return;
    }
    isr_sync_items_t todo = isr_sync_items_take(&s->waiting);
    kp_arena_t arena = KP_ARENA_INIT;
    kp_alter_isr_req_t req = {.broker_id = s->broker_id, .broker_epoch = s->broker_epoch ? s->broker_epoch(s->ctx) : -1};
    kp_alter_isr_req_topic_t *topics = kp_arena_alloc(&arena, (todo.n + 1) * sizeof *topics);
    kp_alter_isr_req_partition_t *parts = kp_arena_alloc(&arena, (todo.n + 1) * sizeof *parts);
    /* Each topic's partitions are contiguous in parts: topic by topic,
     * picking its items in submission order. */
    bool *placed = kp_arena_alloc(&arena, todo.n + 1);
    size_t np = 0;
    int32_t nt = 0;
    for (size_t i = 0; i < todo.n; i++) {
        if (placed[i])
            continue;
        kp_alter_isr_req_topic_t *t = &topics[nt++];
        t->name = kp_str(todo.v[i]->topic);
        t->partitions.items = &parts[np];
        for (size_t k = i; k < todo.n; k++) {
            const isr_sync_item_t *it = todo.v[k];
            if (placed[k] || strcmp(it->topic, todo.v[i]->topic) != 0)
                continue;
            placed[k] = true;
            parts[np++] = (kp_alter_isr_req_partition_t){it->partition, it->leader_epoch, {it->nisr, it->isr},
                                                         it->zk_version};
            t->partitions.count++;
        }
    }
    req.topics = (kp_array_t){nt, topics};
    if (kclient_send(s->controller, KP_API_ALTER_ISR, 0, &req, isr_sync_on_response, s) == 0) {
        s->in_flight = todo;
    } else {
        /* The codec refused it (logged): nothing better to do than again. */
        s->waiting = todo;
        isr_sync_retry_later(s, ISR_SYNC_RETRY_MS);
    }
    kp_arena_free(&arena);
}

/* --- the loop ---------------------------------------------------------------------- */

static void isr_sync_flush(isr_sync_t *s) {
    if (s->stopped)
        return;
    if (s->alter_isr)
        isr_sync_send_alter_isr(s);
    else if (s->waiting.n && isr_sync_zk_write(s))
        isr_sync_retry_later(s, ISR_SYNC_RETRY_MS);
}

static void isr_sync_retry_fire(void *arg) {
    isr_sync_flush(arg);
}

/* Takes what was submitted since the last drain. */
static void isr_sync_drain(void *arg) {
    isr_sync_t *s = arg;
    pthread_mutex_lock(&s->lock);
    isr_sync_items_t fresh = isr_sync_items_take(&s->submitted);
    s->drain_posted = false;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < fresh.n; i++)
        isr_sync_items_add_newer(&s->waiting, fresh.v[i]);
    free(fresh.v);
    /* A retry already scheduled (a backoff) keeps its time; else now. */
    if (!evloop_timer_armed(s->retry))
        isr_sync_flush(s);
}

void isr_sync_submit(void *ctx, const partition_isr_change_t *c) {
    isr_sync_t *s = ctx;
    isr_sync_item_t *it = isr_sync_item_new(c);
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        isr_sync_item_free(it);
        return;
    }
    isr_sync_items_add_newer(&s->submitted, it);
    bool post = !s->drain_posted;
    s->drain_posted = true;
    /* Posting under the lock keeps drain_posted true only while a task is
     * really queued (lock order: isr_sync.lock -> the evloop's mutex). */
    if (post && evloop_run(s->loop, isr_sync_drain, s) != 0)
        s->drain_posted = false; /* the loop has ended: freed by isr_sync_free */
    pthread_mutex_unlock(&s->lock);
}

static void isr_sync_start_task(void *arg) {
    isr_sync_t *s = arg;
    s->retry = evloop_timer_new(s->loop, isr_sync_retry_fire, s);
    if (!s->alter_isr) {
        s->notify_tick = evloop_timer_new(s->loop, isr_sync_notify_tick, s);
        evloop_timer_arm(s->notify_tick, ISR_SYNC_NOTIFY_CHECK_MS);
    }
}

isr_sync_t *isr_sync_new(const isr_sync_config_t *cfg) {
    isr_sync_t *s = mem_calloc(1, sizeof *s);
    s->broker_id = cfg->broker_id;
    s->zk = cfg->zk;
    s->loop = cfg->loop;
    s->done = cfg->done;
    s->broker_epoch = cfg->broker_epoch;
    s->ctx = cfg->ctx;
    s->alter_isr = isr_sync_uses_alter_isr(config_get_string(cfg->cfg, "inter.broker.protocol.version"));
    s->listener = mem_strdup(config_inter_broker_listener_name(cfg->cfg));
    s->request_timeout_ms = config_get_int(cfg->cfg, "controller.socket.timeout.ms");
    s->controller_id = -1;
    pthread_mutex_init(&s->lock, NULL);
    zkdata_tp_list_init(&s->changed);
    s->last_change_ms = s->last_notification_ms = clock_mono_ms();
    evloop_run_sync(s->loop, isr_sync_start_task, s);
    log_info(ISR_SYNC_TAG, "ISR changes go %s",
             s->alter_isr ? "to the controller (AlterIsr)" : "to ZooKeeper, written by the leader");
    return s;
}

static void isr_sync_stop_task(void *arg) {
    isr_sync_t *s = arg;
    s->stopped = true;
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    pthread_mutex_unlock(&s->lock);
    isr_sync_forget_controller(s); /* the request in flight ends here, ignored */
    evloop_timer_free(s->retry);
    evloop_timer_free(s->notify_tick);
    s->retry = s->notify_tick = NULL;
    isr_sync_items_clear(&s->waiting);
    isr_sync_items_clear(&s->in_flight);
}

void isr_sync_stop(isr_sync_t *s) {
    if (s)
        evloop_run_sync(s->loop, isr_sync_stop_task, s);
}

void isr_sync_free(isr_sync_t *s) {
    if (!s)
        return;
    isr_sync_items_clear(&s->submitted);
    isr_sync_items_clear(&s->waiting);
    isr_sync_items_clear(&s->in_flight);
    zkdata_tp_list_free(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s->listener);
    free(s);
}
