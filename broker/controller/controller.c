#include "controller/controller.h"

#include "util/clock.h"
#include "controller/ctrl_channel.h"
#include "controller/ctrl_context.h"
#include "net/kclient.h"
#include "util/logger.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "zk/zkdata.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTRL_TAG "controller"
#define CTRL_STATE_RETRIES 3
#define CTRL_RETRY_MS 1000
#define CTRL_LOG_LIMIT 5 /* per-partition warnings of one change, before a summary line */

struct controller {
    /* immutable */
    const config_t *cfg;
    int32_t id;
    zkc_t *zk;
    evloop_t *loop;
    _Atomic int32_t active_id; /* atomic: written on the loop, read anywhere (controller_active_id) */
    metrics_histogram_t *election_ms; /* LeaderElectionRateAndTimeMs in metrics_global() */

    /* everything below: owner: controller loop (the broker's ZooKeeper loop) */
    bool active;
    uint64_t gen; /* bumped at every activation and resignation */
    int32_t epoch;
    int32_t epoch_zk_version;
    ctrl_context_t ctx;
    ctrl_channel_env_t env;
    ctrl_batch_t *batch;
    bool unclean_default;
    bool delete_enable;

    struct ctrl_retry *retries; /* watches to set again after a failure */
    evloop_timer_t *rebalance;  /* auto.leader.rebalance.enable */
    int64_t rebalance_interval_ms;
    int32_t imbalance_pct;

    /* timing of the last change that sent LeaderAndIsr (for benchmarks) */
    int64_t round_start_us;
    int32_t round_waiting;
    char round_what[96];
    /* the last failover's phases (clock_mono_us), for its one summary line
     * once every LeaderAndIsr is answered (pending until then) */
    struct {
        int64_t elected_us, read_us, written_us, sent_us;
        bool pending;
    } failover;
};

typedef enum ctrl_elect_kind { ELECT_OFFLINE, ELECT_PREFERRED, ELECT_SHUTDOWN } ctrl_elect_kind_t;

static void ctrl_elect_controller(controller_t *c);
static void ctrl_resign(controller_t *c);
static void ctrl_on_broker_change(controller_t *c);
static void ctrl_on_topic_change(controller_t *c);
static void ctrl_on_deletion_change(controller_t *c);
static void ctrl_on_isr_change(controller_t *c);
static void ctrl_on_preferred_election(controller_t *c);
static void ctrl_on_partition_change(controller_t *c, const char *topic);
static void ctrl_try_deletions(controller_t *c);

/* ============================================================================
 * Helpers
 * ========================================================================== */

/* A broker a leader may be chosen from: alive and not shutting down (Kafka's
 * liveBrokerIds excludes the brokers in a controlled shutdown). */
static bool ctrl_up(const controller_t *c, int32_t id) {
    const ctrl_broker_t *b = ctrl_broker_find(&c->ctx, id);
    return b && !b->shutting_down;
}

static void ctrl_send(controller_t *c) {
    c->round_waiting += ctrl_batch_send(c->batch, &c->env);
}

/* Marks the start of a measured change ("broker 2 failure"). */
static void ctrl_round_begin(controller_t *c, const char *what) {
    if (c->round_waiting > 0)
        return; /* a round in progress keeps its start */
    c->round_start_us = clock_mono_ns() / 1000;
    snprintf(c->round_what, sizeof c->round_what, "%s", what);
}

/* A round about brokers coming or going, named into what (for the
 * caller's own log lines): "broker 2 (and others) failure". */
static void ctrl_round_begin_brokers(controller_t *c, const int32_t *ids, size_t n, const char *event, char *what,
                                     size_t whatlen) {
    snprintf(what, whatlen, "broker %d%s %s", ids[0], n > 1 ? " (and others)" : "", event);
    ctrl_round_begin(c, what);
}

/* ms between two clock_mono_us readings */
static double ctrl_ms(int64_t from_us, int64_t to_us) {
    return (double)(to_us - from_us) / 1000.0;
}

/* The failover's one summary line: each phase's ms, then the total. */
static void ctrl_failover_report(controller_t *c) {
    int64_t now = clock_mono_us();
    c->failover.pending = false;
    log_info(CTRL_TAG,
             "controller failover phases: elected -> state read %.1f ms -> leaders and ISRs written %.1f ms -> "
             "requests built and queued %.1f ms -> all answered %.1f ms; %.1f ms from election to the last answer",
             ctrl_ms(c->failover.elected_us, c->failover.read_us), ctrl_ms(c->failover.read_us, c->failover.written_us),
             ctrl_ms(c->failover.written_us, c->failover.sent_us), ctrl_ms(c->failover.sent_us, now),
             ctrl_ms(c->failover.elected_us, now));
}

static void ctrl_on_lai_done(void *arg, int32_t broker_id, kerr_t err) {
    controller_t *c = arg;
    (void)broker_id, (void)err;
    if (c->round_waiting > 0 && --c->round_waiting == 0) {
        log_info(CTRL_TAG, "%s: all LeaderAndIsr requests answered %.1f ms after the change began", c->round_what,
                 (double)(clock_mono_ns() / 1000 - c->round_start_us) / 1000.0);
        if (c->failover.pending)
            ctrl_failover_report(c);
    }
}

/* A watch context: which activation set it, and for topic watches which
 * topic. A watch from an earlier activation is ignored. */
typedef struct ctrl_watch {
    controller_t *c;
    uint64_t gen;
    int kind;
    char *topic;
} ctrl_watch_t;

enum { W_CONTROLLER, W_BROKERS, W_TOPICS, W_TOPIC, W_DELETIONS, W_ISR, W_PREFERRED };

static void ctrl_register_watch(controller_t *c, int kind, const char *topic);

/* Dropped watches (a read failed, the session ended) are set again a little
 * later while this activation lasts; session ends are handled separately. */
typedef struct ctrl_retry {
    ctrl_watch_t w;
    evloop_timer_t *timer;
    struct ctrl_retry *next, *prev;
} ctrl_retry_t;

static void ctrl_retry_unlink(controller_t *c, ctrl_retry_t *r) {
    if (r->prev)
        r->prev->next = r->next;
    else
        c->retries = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void ctrl_retry_fire(void *arg) {
    ctrl_retry_t *r = arg;
    controller_t *c = r->w.c;
    if (r->w.gen == c->gen && (c->active || r->w.kind == W_CONTROLLER)) {
        if (r->w.kind != W_CONTROLLER) /* the election sets its own */
            ctrl_register_watch(c, r->w.kind, r->w.topic);
        switch (r->w.kind) {
        case W_CONTROLLER: ctrl_elect_controller(c); break;
        case W_BROKERS: ctrl_on_broker_change(c); break;
        case W_TOPICS: ctrl_on_topic_change(c); break;
        case W_TOPIC: ctrl_on_partition_change(c, r->w.topic); break;
        case W_DELETIONS: ctrl_on_deletion_change(c); break;
        case W_ISR: ctrl_on_isr_change(c); break;
        case W_PREFERRED: ctrl_on_preferred_election(c); break;
        }
    }
    ctrl_retry_unlink(c, r);
    evloop_timer_free(r->timer);
    free(r->w.topic);
    free(r);
}

static void ctrl_on_watch(void *arg, zkc_watch_type_t type, const char *path) {
    ctrl_watch_t *w = arg;
    controller_t *c = w->c;
    bool current = w->gen == c->gen;
    log_debug(CTRL_TAG, "watch %s on %s (%s)", zkc_watch_type_name(type), path, current ? "current" : "stale");
    if (type == ZKC_WATCH_DROPPED) {
        if (current && (c->active || w->kind == W_CONTROLLER)) {
            ctrl_retry_t *r = mem_calloc(1, sizeof *r);
            r->w = *w;
            r->w.topic = w->topic ? mem_strdup(w->topic) : NULL;
            r->timer = evloop_timer_new(c->loop, ctrl_retry_fire, r);
            r->next = c->retries;
            if (r->next)
                r->next->prev = r;
            c->retries = r;
            evloop_timer_arm(r->timer, CTRL_RETRY_MS);
        }
    } else if (current && (c->active || w->kind == W_CONTROLLER)) {
        if (w->kind != W_CONTROLLER && (w->kind != W_TOPIC || type != ZKC_WATCH_DELETED))
            ctrl_register_watch(c, w->kind, w->topic);
        switch (w->kind) {
        case W_CONTROLLER: ctrl_elect_controller(c); break;
        case W_BROKERS: ctrl_on_broker_change(c); break;
        case W_TOPICS: ctrl_on_topic_change(c); break;
        case W_TOPIC:
            if (type != ZKC_WATCH_DELETED)
                ctrl_on_partition_change(c, w->topic);
            break;
        case W_DELETIONS: ctrl_on_deletion_change(c); break;
        case W_ISR: ctrl_on_isr_change(c); break;
        case W_PREFERRED: ctrl_on_preferred_election(c); break;
        }
    }
    free(w->topic);
    free(w);
}

/* Sets a one-shot watch (the read's result is not used: handlers read
 * synchronously afterwards, and ZooKeeper orders the two). */
static void ctrl_register_watch(controller_t *c, int kind, const char *topic) {
    ctrl_watch_t *w = mem_calloc(1, sizeof *w);
    *w = (ctrl_watch_t){c, c->gen, kind, topic ? mem_strdup(topic) : NULL};
    char path[ZKDATA_PATH_MAX];
    zkc_err_t e;
    switch (kind) {
    case W_CONTROLLER: e = zkc_aexists(c->zk, ZKDATA_PATH_CONTROLLER, ctrl_on_watch, w, NULL, NULL); break;
    case W_BROKERS: e = zkc_achildren(c->zk, ZKDATA_PATH_BROKER_IDS, ctrl_on_watch, w, NULL, NULL); break;
    case W_TOPICS: e = zkc_achildren(c->zk, ZKDATA_PATH_BROKER_TOPICS, ctrl_on_watch, w, NULL, NULL); break;
    case W_TOPIC:
        zkdata_path_topic(path, sizeof path, topic);
        e = zkc_aget(c->zk, path, ctrl_on_watch, w, NULL, NULL);
        break;
    case W_DELETIONS: e = zkc_achildren(c->zk, ZKDATA_PATH_DELETE_TOPICS, ctrl_on_watch, w, NULL, NULL); break;
    case W_ISR: e = zkc_achildren(c->zk, ZKDATA_PATH_ISR_CHANGE_NOTIFICATION, ctrl_on_watch, w, NULL, NULL); break;
    default: e = zkc_aexists(c->zk, ZKDATA_PATH_PREFERRED_REPLICA_ELECTION, ctrl_on_watch, w, NULL, NULL); break;
    }
    if (e != ZKC_OK) {
        log_warn(CTRL_TAG, "cannot set a ZooKeeper watch (%s); retrying", zkc_strerror(e));
        ctrl_on_watch(w, ZKC_WATCH_DROPPED, "");
    }
}

/* ============================================================================
 * Reading state from ZooKeeper
 * ========================================================================== */

/* The live brokers registered now (ids, data, epochs), into a fresh list. */
static int ctrl_read_brokers(controller_t *c, ctrl_broker_t ***out, size_t *nout) {
    zkc_children_data_t regs;
    zkc_err_t e = zkc_get_children_data(c->zk, ZKDATA_PATH_BROKER_IDS, &regs);
    *out = NULL;
    *nout = 0;
    if (e != ZKC_OK) {
        log_warn(CTRL_TAG, "cannot list %s: %s", ZKDATA_PATH_BROKER_IDS, zkc_strerror(e));
        return -1;
    }
    ctrl_broker_t **list = mem_calloc(regs.n + 1, sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < regs.n; i++) {
        const zkc_child_t *reg = &regs.v[i];
        char *end;
        long id = strtol(reg->name, &end, 10);
        if (reg->err != ZKC_OK || *end || id < 0 || id > INT32_MAX)
            continue;
        ctrl_broker_t *b = mem_calloc(1, sizeof *b);
        char err[256];
        if (zkdata_broker_decode(reg->data, reg->len < 0 ? 0 : (size_t)reg->len, &b->info, err, sizeof err) != 0) {
            log_warn(CTRL_TAG, "ignoring broker %ld: %s", id, err);
            ctrl_broker_free(b);
            continue;
        }
        b->id = (int32_t)id;
        b->epoch = reg->stat.czxid;
        list[n++] = b;
    }
    zkc_children_data_free(&regs);
    *out = list;
    *nout = n;
    return 0;
}

/* Reads the assignments (and unclean override) of the named topics into
 * the context; sets a data watch on each. Topics whose znode vanished are
 * skipped. New partitions start NonExistent. */
static void ctrl_read_topics(controller_t *c, char **names, size_t n) {
    zkc_batch_item_t *items = mem_calloc(2 * n + 1, sizeof *items);
    char (*paths)[ZKDATA_PATH_MAX] = mem_calloc(2 * n + 1, sizeof *paths);
    for (size_t i = 0; i < n; i++) {
        ctrl_register_watch(c, W_TOPIC, names[i]);
        zkdata_path_topic(paths[2 * i], sizeof paths[0], names[i]);
        zkdata_path_topic_config(paths[2 * i + 1], sizeof paths[0], names[i]);
        items[2 * i] = (zkc_batch_item_t){.kind = ZKC_BATCH_GET, .path = paths[2 * i]};
        items[2 * i + 1] = (zkc_batch_item_t){.kind = ZKC_BATCH_GET, .path = paths[2 * i + 1]};
    }
    zkc_batch(c->zk, items, 2 * n);
    for (size_t i = 0; i < n; i++) {
        zkc_batch_item_t *it = &items[2 * i];
        if (it->err != ZKC_OK)
            continue;
        zkdata_topic_assignment_t a;
        char err[256];
        if (zkdata_topic_assignment_decode(it->out_data, it->out_len < 0 ? 0 : (size_t)it->out_len, &a, err,
                                           sizeof err) != 0) {
            log_warn(CTRL_TAG, "ignoring topic %s: %s", names[i], err);
            zkdata_topic_assignment_free(&a);
            continue;
        }
        ctrl_topic_t *t = ctrl_topic_add(&c->ctx, names[i]);
        snprintf(t->topic_id, sizeof t->topic_id, "%s", a.topic_id);
        for (size_t k = 0; k < a.n_partitions; k++) {
            const zkdata_partition_assignment_t *pa = &a.partitions[k];
            if (pa->partition < 0)
                continue;
            ctrl_topic_resize(t, pa->partition + 1);
            if (t->parts[pa->partition].replicas.n == 0)
                ctrl_partition_set_replicas(&t->parts[pa->partition], pa->replicas, (int32_t)pa->n_replicas,
                                            CTRL_R_NEW);
        }
        zkdata_topic_assignment_free(&a);
        t->unclean = c->unclean_default;
        zkc_batch_item_t *cfg = &items[2 * i + 1];
        zkdata_config_t tc;
        if (cfg->err == ZKC_OK && zkdata_config_decode(cfg->out_data, cfg->out_len < 0 ? 0 : (size_t)cfg->out_len,
                                                       &tc, err, sizeof err) == 0) {
            const char *v = zkdata_config_get(&tc, "unclean.leader.election.enable");
            if (v)
                t->unclean = strcasecmp(v, "true") == 0;
        }
        if (cfg->err == ZKC_OK)
            zkdata_config_free(&tc);
    }
    zkc_batch_release(items, 2 * n);
    free(items);
    free(paths);
}

/* Reads the state znodes of the given partitions into the context. */
static void ctrl_read_states(controller_t *c, ctrl_tps_t *tps) {
    zkc_batch_item_t *items = mem_calloc(tps->n + 1, sizeof *items);
    char (*paths)[ZKDATA_PATH_MAX] = mem_calloc(tps->n + 1, sizeof *paths);
    for (size_t i = 0; i < tps->n; i++) {
        zkdata_path_partition_state(paths[i], sizeof paths[i], tps->v[i].topic->name, tps->v[i].part->index);
        items[i] = (zkc_batch_item_t){.kind = ZKC_BATCH_GET, .path = paths[i]};
    }
    zkc_batch(c->zk, items, tps->n);
    for (size_t i = 0; i < tps->n; i++) {
        ctrl_partition_t *p = tps->v[i].part;
        if (items[i].err == ZKC_NONODE) {
            p->has_state = false;
            continue;
        }
        zkdata_partition_state_t s;
        char err[256];
        if (items[i].err == ZKC_OK &&
            zkdata_partition_state_decode(items[i].out_data, items[i].out_len < 0 ? 0 : (size_t)items[i].out_len, &s,
                                          err, sizeof err) == 0)
            ctrl_partition_set_state(p, &s, items[i].stat.version);
        else if (items[i].err == ZKC_OK)
            log_warn(CTRL_TAG, "unreadable %s: %s", paths[i], err);
        if (items[i].err == ZKC_OK)
            zkdata_partition_state_free(&s);
    }
    zkc_batch_release(items, tps->n);
    free(items);
    free(paths);
}

/* ============================================================================
 * Writing leader and ISR
 * ========================================================================== */

typedef struct ctrl_change {
    int32_t leader;
    ctrl_ids_t isr;
    bool ok;
} ctrl_change_t;

/* Partitions per multi-op: one check of /controller_epoch and this many
 * state writes. ZooKeeper's cost is per request much more than per op, so
 * grouping takes 1,000 state writes from ~100 ms to ~20 ms here. */
#define CTRL_WRITES_PER_MULTI 100

typedef struct ctrl_write {
    char path[ZKDATA_PATH_MAX];
    buf_t json;
    zkc_op_t op;  /* the set (or create) of this partition's state */
    bool ok;
    bool retry_alone;
} ctrl_write_t;

/* Runs multis of (check epoch, ops of w[idx[0..n)]) in groups of at most
 * per_multi; marks the writes of a group that applied ok, and those of a
 * failed group for a retry one by one. Returns true when an epoch check
 * failed (another controller). */
static bool ctrl_run_multis(controller_t *c, ctrl_write_t *w, const size_t *idx, size_t n, size_t per_multi) {
    size_t ngroups = (n + per_multi - 1) / per_multi;
    zkc_batch_item_t *items = mem_calloc(ngroups + 1, sizeof *items);
    zkc_op_t **ops = mem_calloc(ngroups + 1, sizeof *ops);
    for (size_t g = 0; g < ngroups; g++) {
        size_t first = g * per_multi, cnt = n - first < per_multi ? n - first : per_multi;
        ops[g] = mem_calloc(cnt + 1, sizeof **ops);
        zkc_op_check(&ops[g][0], ZKDATA_PATH_CONTROLLER_EPOCH, c->epoch_zk_version);
        for (size_t k = 0; k < cnt; k++)
            ops[g][1 + k] = w[idx[first + k]].op;
        items[g] = (zkc_batch_item_t){.kind = ZKC_BATCH_MULTI, .ops = ops[g], .n_ops = cnt + 1};
    }
    zkc_batch(c->zk, items, ngroups);
    bool moved = false;
    for (size_t g = 0; g < ngroups; g++) {
        size_t first = g * per_multi, cnt = items[g].n_ops - 1;
        moved |= ops[g][0].err == ZKC_BADVERSION || ops[g][0].err == ZKC_NONODE;
        for (size_t k = 0; k < cnt; k++) {
            ctrl_write_t *x = &w[idx[first + k]];
            x->ok = items[g].err == ZKC_OK;
            x->retry_alone = !x->ok && cnt > 1;
            x->op.err = ops[g][1 + k].err;
            x->op.stat = ops[g][1 + k].stat;
        }
        zkc_err_t e1 = cnt == 1 ? ops[g][1].err : ZKC_OK;
        if (cnt == 1 && items[g].err != ZKC_OK && e1 != ZKC_BADVERSION && e1 != ZKC_NODEEXISTS && e1 != ZKC_NONODE &&
            !moved)
            log_warn(CTRL_TAG, "cannot write %s: %s", w[idx[first]].path, zkc_strerror(items[g].err));
    }
    zkc_batch_release(items, ngroups);
    for (size_t g = 0; g < ngroups; g++)
        free(ops[g]);
    free(ops);
    free(items);
    return moved;
}

/* Prepares w to write state s of partition p of topic: a set conditional
 * on zk_version, or a create when the partition has no state znode yet. */
static void ctrl_write_prepare(ctrl_write_t *w, const char *topic, const ctrl_partition_t *p,
                               const zkdata_partition_state_t *s, int32_t zk_version) {
    buf_init(&w->json);
    zkdata_partition_state_encode(&w->json, s);
    zkdata_path_partition_state(w->path, sizeof w->path, topic, p->index);
    if (p->has_state)
        zkc_op_set(&w->op, w->path, w->json.data, (int)w->json.len, zk_version);
    else
        zkc_op_create(&w->op, w->path, w->json.data, (int)w->json.len, ZKC_PERSISTENT);
}

/* Runs the n prepared writes in multi-ops of CTRL_WRITES_PER_MULTI, then
 * the writes of failed groups one at a time to find the culprits; each
 * w[i].ok and w[i].op say how it went. Returns true when an epoch check
 * failed (another controller): then nothing counts. */
static bool ctrl_run_writes(controller_t *c, ctrl_write_t *w, size_t n) {
    size_t *idx = mem_calloc(n + 1, sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    bool moved = ctrl_run_multis(c, w, idx, n, CTRL_WRITES_PER_MULTI);
    size_t nretry = 0;
    for (size_t i = 0; i < n && !moved; i++)
        if (w[i].retry_alone)
            idx[nretry++] = i;
    if (nretry)
        moved |= ctrl_run_multis(c, w, idx, nretry, 1);
    free(idx);
    return moved;
}

/* This controller has been superseded: it steps down and competes again. */
static void ctrl_moved(controller_t *c) {
    log_warn(CTRL_TAG, "controller epoch %d is no longer current: another broker is controller", c->epoch);
    ctrl_resign(c);
    ctrl_elect_controller(c);
}

/* Writes each partition's new leader and ISR (leader epoch + 1, this
 * controller's epoch) conditionally on /controller_epoch's version and the
 * state znode's version — or creates the state znode for a new partition.
 * Grouped into multi-ops and pipelined (ctrl_run_writes). On success the
 * context is updated. A failed epoch check means another controller took
 * over: resign. A stale state version (the leader changed the ISR
 * meanwhile) re-reads that partition; the caller may retry. Returns -1
 * after resigning. */
static int ctrl_write_states(controller_t *c, ctrl_tps_t *tps, ctrl_change_t *ch) {
    size_t n = tps->n;
    ctrl_write_t *w = mem_calloc(n + 1, sizeof *w);
    for (size_t i = 0; i < n; i++) {
        ctrl_partition_t *p = tps->v[i].part;
        zkdata_partition_state_t s = {ch[i].leader, p->has_state ? p->leader_epoch + 1 : 0, c->epoch, ch[i].isr.v,
                                      (size_t)ch[i].isr.n};
        ctrl_write_prepare(&w[i], tps->v[i].topic->name, p, &s, p->zk_version);
    }
    bool moved = ctrl_run_writes(c, w, n);
    ctrl_tps_t stale = {0};
    for (size_t i = 0; i < n; i++) {
        ctrl_partition_t *p = tps->v[i].part;
        ch[i].ok = w[i].ok && !moved;
        if (ch[i].ok) {
            zkdata_partition_state_t s = {ch[i].leader, p->has_state ? p->leader_epoch + 1 : 0, c->epoch, ch[i].isr.v,
                                          (size_t)ch[i].isr.n};
            ctrl_partition_set_state(p, &s, p->has_state ? w[i].op.stat.version : 0);
        } else if (!moved && (w[i].op.err == ZKC_BADVERSION || w[i].op.err == ZKC_NODEEXISTS ||
                              w[i].op.err == ZKC_NONODE)) {
            ctrl_tps_add(&stale, tps->v[i].topic, p);
        }
        buf_free(&w[i].json);
    }
    free(w);
    if (stale.n)
        ctrl_read_states(c, &stale);
    ctrl_tps_free(&stale);
    if (moved) {
        ctrl_moved(c);
        return -1;
    }
    return 0;
}

/* The parents of new partitions' state znodes: /brokers/topics/<t>/partitions
 * and .../partitions/<p> (existing ones are fine). */
static void ctrl_create_partition_paths(controller_t *c, ctrl_tps_t *tps) {
    size_t n = tps->n;
    zkc_batch_item_t *items = mem_calloc(2 * n + 1, sizeof *items);
    char (*paths)[ZKDATA_PATH_MAX] = mem_calloc(2 * n + 1, sizeof *paths);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || tps->v[i].topic != tps->v[i - 1].topic) {
            zkdata_path_topic_partitions(paths[k], sizeof paths[k], tps->v[i].topic->name);
            items[k] = (zkc_batch_item_t){.kind = ZKC_BATCH_CREATE, .path = paths[k], .len = -1};
            k++;
        }
    }
    zkc_batch(c->zk, items, k);
    zkc_batch_release(items, k);
    for (size_t i = 0; i < n; i++) {
        zkdata_path_topic_partition(paths[i], sizeof paths[i], tps->v[i].topic->name, tps->v[i].part->index);
        items[i] = (zkc_batch_item_t){.kind = ZKC_BATCH_CREATE, .path = paths[i], .len = -1};
    }
    zkc_batch(c->zk, items, n);
    zkc_batch_release(items, n);
    free(items);
    free(paths);
}

/* ============================================================================
 * Partition state machine
 * ========================================================================== */

/* After a partition's state changed: its live replicas hear LeaderAndIsr,
 * every broker UpdateMetadata. */
static void ctrl_announce(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, bool is_new);

/* Writes the changes ch[i] of the partitions go (ctrl_write_states); a
 * written partition becomes Online (Offline without a leader) and is
 * announced, one whose write lost a race joins retry. Frees go and ch.
 * -1 when this broker stopped being controller. */
static int ctrl_apply_changes(controller_t *c, ctrl_tps_t *go, ctrl_change_t *ch, ctrl_tps_t *retry) {
    bool *was_new = mem_calloc(go->n + 1, sizeof *was_new);
    for (size_t i = 0; i < go->n; i++)
        was_new[i] = !go->v[i].part->has_state;
    int rc = go->n ? ctrl_write_states(c, go, ch) : 0;
    for (size_t i = 0; i < go->n && rc == 0; i++) {
        ctrl_partition_t *p = go->v[i].part;
        if (ch[i].ok) {
            p->state = p->leader >= 0 ? CTRL_P_ONLINE : CTRL_P_OFFLINE;
            ctrl_announce(c, go->v[i].topic, p, was_new[i]);
        } else {
            ctrl_tps_add(retry, go->v[i].topic, p);
        }
    }
    for (size_t i = 0; i < go->n; i++)
        ctrl_ids_free(&ch[i].isr);
    free(ch);
    free(was_new);
    ctrl_tps_free(go);
    return rc;
}

/* Kafka's leader election strategies. false: no eligible leader. */
static bool ctrl_choose_leader(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, ctrl_elect_kind_t kind,
                               ctrl_change_t *out) {
    out->leader = -1;
    out->isr = (ctrl_ids_t){0};
    const ctrl_ids_t *r = &p->replicas;
    if (!p->has_state) { /* a new partition: the live replicas, preferred first */
        int32_t *isr = mem_calloc((size_t)r->n + 1, sizeof *isr);
        int32_t n = 0;
        for (int32_t i = 0; i < r->n; i++)
            if (ctrl_up(c, r->v[i]))
                isr[n++] = r->v[i];
        if (n > 0) {
            out->leader = isr[0];
            out->isr.v = isr;
            out->isr.n = n;
            return true;
        }
        free(isr);
        return false;
    }
    if (kind == ELECT_PREFERRED) {
        if (r->n == 0 || !ctrl_up(c, r->v[0]) || !ctrl_ids_has(&p->isr, r->v[0]))
            return false;
        out->leader = r->v[0];
        ctrl_ids_set(&out->isr, p->isr.v, p->isr.n);
        return true;
    }
    for (int32_t i = 0; i < r->n && out->leader < 0; i++)
        if (ctrl_up(c, r->v[i]) && ctrl_ids_has(&p->isr, r->v[i]))
            out->leader = r->v[i];
    if (out->leader < 0 && kind == ELECT_OFFLINE && t->unclean) {
        for (int32_t i = 0; i < r->n && out->leader < 0; i++)
            if (ctrl_up(c, r->v[i]))
                out->leader = r->v[i];
        if (out->leader >= 0) {
            log_warn(CTRL_TAG, "%s-%d: unclean leader election: %d leads without being in the ISR (messages may be lost)",
                     t->name, p->index, out->leader);
            ctrl_ids_set(&out->isr, &out->leader, 1);
            return true;
        }
    }
    if (out->leader < 0)
        return false;
    /* the new ISR: the old one's members that are up */
    int32_t *isr = mem_calloc((size_t)p->isr.n + 1, sizeof *isr);
    int32_t n = 0;
    for (int32_t i = 0; i < p->isr.n; i++)
        if (ctrl_up(c, p->isr.v[i]))
            isr[n++] = p->isr.v[i];
    out->isr.v = isr;
    out->isr.n = n;
    return true;
}

static void ctrl_announce(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, bool is_new) {
    for (int32_t i = 0; i < p->replicas.n; i++)
        if (ctrl_broker_live(&c->ctx, p->replicas.v[i])) {
            ctrl_batch_lai(c->batch, p->replicas.v[i], t, p, is_new);
            if (p->rstates[i] == CTRL_R_NEW)
                p->rstates[i] = CTRL_R_ONLINE; /* NewReplica -> OnlineReplica */
        }
    ctrl_batch_um_partition(c->batch, t, p);
    ctrl_batch_um_all_brokers(c->batch, &c->ctx);
}

/* How one partition's state is to change, decided at each attempt from
 * what the context holds then (a write that lost a race re-read the
 * znode): fills out and returns true, or false when the partition stays as
 * it is. attempt counts from 0. */
typedef bool (*ctrl_decide_fn)(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, void *arg, int attempt,
                               ctrl_change_t *out);

/* Decides a change for each partition of in and writes them all in one
 * pass of conditional multis (ctrl_apply_changes: announced once written);
 * the partitions whose write lost a race are decided and written again, up
 * to CTRL_STATE_RETRIES passes. Returns -1 when this broker stopped being
 * controller. */
static int ctrl_change_states(controller_t *c, const ctrl_tps_t *in, ctrl_decide_fn decide, void *arg) {
    ctrl_tps_t todo = {0};
    for (size_t i = 0; i < in->n; i++)
        ctrl_tps_add(&todo, in->v[i].topic, in->v[i].part);
    for (int attempt = 0; attempt < CTRL_STATE_RETRIES && todo.n; attempt++) {
        ctrl_tps_t go = {0}, fresh = {0};
        ctrl_change_t *ch = mem_calloc(todo.n + 1, sizeof *ch);
        for (size_t i = 0; i < todo.n; i++) {
            ctrl_topic_t *t = todo.v[i].topic;
            ctrl_partition_t *p = todo.v[i].part;
            if (!decide(c, t, p, arg, attempt, &ch[go.n]))
                continue;
            if (!p->has_state)
                ctrl_tps_add(&fresh, t, p);
            ctrl_tps_add(&go, t, p);
        }
        ctrl_tps_free(&todo);
        if (fresh.n)
            ctrl_create_partition_paths(c, &fresh);
        ctrl_tps_free(&fresh);
        if (ctrl_apply_changes(c, &go, ch, &todo) != 0) {
            ctrl_tps_free(&todo);
            return -1;
        }
    }
    ctrl_tps_free(&todo);
    return 0;
}

/* An election's arguments: its kind, and how many partitions had no
 * eligible leader at the first attempt (warned about up to CTRL_LOG_LIMIT,
 * then summed up by ctrl_election_done). */
typedef struct ctrl_election {
    ctrl_elect_kind_t kind;
    size_t ineligible;
} ctrl_election_t;

/* ctrl_decide_fn of an election (arg: ctrl_election_t). */
static bool ctrl_decide_leader(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, void *arg, int attempt,
                               ctrl_change_t *out) {
    ctrl_election_t *e = arg;
    if (ctrl_choose_leader(c, t, p, e->kind, out))
        return true;
    if (attempt == 0 && e->ineligible++ < CTRL_LOG_LIMIT)
        log_warn(CTRL_TAG, "%s-%d: no eligible leader (%s); it stays %s", t->name, p->index,
                 p->has_state ? "no live replica in the ISR" : "no live replica", ctrl_pstate_name(p->state));
    return false;
}

static void ctrl_election_done(const ctrl_election_t *e) {
    if (e->ineligible > CTRL_LOG_LIMIT)
        log_warn(CTRL_TAG, "... and %zu more partition(s) without an eligible leader", e->ineligible - CTRL_LOG_LIMIT);
}

/* Kafka's handleStateChanges(partitions, OnlinePartition): elects leaders
 * (kind) for the partitions, writes them and queues the requests. A
 * partition without an eligible leader stays as it was (New or Offline),
 * as in Kafka. Returns -1 when this broker stopped being controller. */
static int ctrl_partitions_online(controller_t *c, ctrl_tps_t *in, ctrl_elect_kind_t kind) {
    ctrl_election_t e = {kind, 0};
    int rc = ctrl_change_states(c, in, ctrl_decide_leader, &e);
    ctrl_election_done(&e);
    return rc;
}

/* Whether replica r leaves ISRs in ctrl_remove_from_isr: broker id, or
 * with id -1 any broker that is not alive. */
static bool ctrl_leaving(const controller_t *c, int32_t id, int32_t r) {
    return id >= 0 ? r == id : !ctrl_broker_live(&c->ctx, r);
}

/* ctrl_decide_fn of Kafka's removeReplicasFromIsr (arg: the int32_t broker
 * id, -1 for every dead broker): the broker leaves the ISR, which keeps
 * its last member (the record of who was last in sync: the book's
 * question of who may lead when all brokers died); a leader that leaves
 * becomes -1. */
static bool ctrl_decide_isr_removal(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, void *arg, int attempt,
                                    ctrl_change_t *out) {
    int32_t id = *(const int32_t *)arg;
    (void)t, (void)attempt;
    if (!p->has_state)
        return false;
    out->leader = p->leader >= 0 && ctrl_leaving(c, id, p->leader) ? -1 : p->leader;
    out->isr.v = mem_calloc((size_t)p->isr.n + 1, sizeof *out->isr.v);
    out->isr.n = 0;
    for (int32_t k = 0; k < p->isr.n; k++)
        if (!ctrl_leaving(c, id, p->isr.v[k]))
            out->isr.v[out->isr.n++] = p->isr.v[k];
    if (out->isr.n == 0 && p->isr.n > 0) /* keep the last one standing: the leader if it was in it */
        out->isr.v[out->isr.n++] = ctrl_ids_has(&p->isr, p->leader) ? p->leader : p->isr.v[0];
    if (out->leader == p->leader && out->isr.n == p->isr.n) {
        ctrl_ids_free(&out->isr);
        return false; /* nothing to change */
    }
    return true;
}

/* Kafka's removeReplicasFromIsr (replica -> OfflineReplica): drops broker id
 * (-1: every dead broker) from the ISR of the given partitions. Returns -1
 * when this broker stopped being controller. */
static int ctrl_remove_from_isr(controller_t *c, int32_t id, ctrl_tps_t *in) {
    return ctrl_change_states(c, in, ctrl_decide_isr_removal, &id);
}

/* Whether a partition waits for a leader (Kafka's
 * triggerOnlinePartitionStateChange: New or Offline, not being deleted). */
static bool ctrl_wants_leader(const ctrl_topic_t *t, const ctrl_partition_t *p) {
    return !t->queued_for_deletion && (p->state == CTRL_P_NEW || p->state == CTRL_P_OFFLINE);
}

/* Kafka's triggerOnlinePartitionStateChange: every New or Offline partition
 * (not being deleted) tries to get a leader. */
static int ctrl_trigger_online(controller_t *c) {
    ctrl_tps_t tps = {0};
    for (size_t i = 0; i < c->ctx.ntopics; i++) {
        ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t k = 0; k < t->nparts; k++)
            if (ctrl_wants_leader(t, &t->parts[k]))
                ctrl_tps_add(&tps, t, &t->parts[k]);
    }
    int rc = tps.n ? ctrl_partitions_online(c, &tps, ELECT_OFFLINE) : 0;
    ctrl_tps_free(&tps);
    return rc;
}

/* The state machine's initial states from what ZooKeeper holds. */
static void ctrl_init_partition_states(controller_t *c) {
    for (size_t i = 0; i < c->ctx.ntopics; i++) {
        ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t k = 0; k < t->nparts; k++) {
            ctrl_partition_t *p = &t->parts[k];
            if (!p->has_state)
                p->state = p->replicas.n ? CTRL_P_NEW : CTRL_P_NONEXISTENT;
            else
                p->state = ctrl_broker_live(&c->ctx, p->leader) ? CTRL_P_ONLINE : CTRL_P_OFFLINE;
            for (int32_t r = 0; r < p->replicas.n && p->has_state; r++) /* ReplicaStateMachine.startup */
                p->rstates[r] = ctrl_broker_live(&c->ctx, p->replicas.v[r]) ? CTRL_R_ONLINE : CTRL_R_OFFLINE;
        }
    }
}

/* ============================================================================
 * Brokers coming and going
 * ========================================================================== */

static void ctrl_on_brokers_started(controller_t *c, const int32_t *ids, size_t n) {
    if (n == 0)
        return;
    char what[96];
    ctrl_round_begin_brokers(c, ids, n, "start-up", what, sizeof what);
    /* everyone learns of the new brokers; new brokers learn everything */
    for (size_t i = 0; i < c->ctx.nbrokers; i++) {
        bool is_new = false;
        for (size_t k = 0; k < n; k++)
            is_new |= c->ctx.brokers[i]->id == ids[k];
        if (!is_new)
            ctrl_batch_um_broker(c->batch, c->ctx.brokers[i]->id);
    }
    ctrl_send(c);
    for (size_t k = 0; k < n; k++)
        ctrl_batch_um_broker(c->batch, ids[k]);
    ctrl_batch_um_all(c->batch);
    /* their replicas go online: LeaderAndIsr with the current state */
    for (size_t i = 0; i < c->ctx.ntopics; i++) {
        ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t p = 0; p < t->nparts; p++)
            for (size_t k = 0; k < n; k++) {
                ctrl_partition_t *pp = &t->parts[p];
                if (!pp->has_state || !ctrl_ids_has(&pp->replicas, ids[k]) || t->queued_for_deletion)
                    continue;
                ctrl_batch_lai(c->batch, ids[k], t, pp, false);
                ctrl_replica_set_state(pp, ids[k], CTRL_R_ONLINE);
            }
    }
    ctrl_send(c);
    if (ctrl_trigger_online(c) == 0) {
        ctrl_send(c);
        ctrl_try_deletions(c);
    }
}

/* Whether p's leader or ISR names a broker that is not alive. */
static bool ctrl_names_dead_broker(const controller_t *c, const ctrl_partition_t *p) {
    if (!p->has_state)
        return false;
    if (p->leader >= 0 && !ctrl_broker_live(&c->ctx, p->leader))
        return true;
    for (int32_t k = 0; k < p->isr.n; k++)
        if (!ctrl_broker_live(&c->ctx, p->isr.v[k]))
            return true;
    return false;
}

/* ctrl_decide_fn of the dead brokers' pass: a partition that waits for a
 * leader gets one (its new ISR: the old one's live members), else the dead
 * brokers leave its leadership and ISR. */
static bool ctrl_decide_after_deaths(controller_t *c, ctrl_topic_t *t, ctrl_partition_t *p, void *arg, int attempt,
                                     ctrl_change_t *out) {
    int32_t every_dead_broker = -1;
    if (ctrl_wants_leader(t, p) && ctrl_decide_leader(c, t, p, arg, attempt, out))
        return true;
    return ctrl_decide_isr_removal(c, t, p, &every_dead_broker, attempt, out);
}

/* What Kafka's onBrokerFailure (and a new controller's start-up) does in
 * two rounds of ZooKeeper writes — triggerOnlinePartitionStateChange, then
 * the dead brokers' replicas going OfflineReplica — in one: every
 * partition changes at most once, so its write can go in the same
 * pipelined multis as the others'. The outcome per partition is Kafka's:
 * elected partitions get the live part of their ISR, those without an
 * eligible leader lose the dead leader (-1) and the dead ISR members
 * (keeping the last one). Returns -1 when this broker stopped being
 * controller. */
static int ctrl_dead_brokers_pass(controller_t *c) {
    ctrl_tps_t tps = {0};
    for (size_t i = 0; i < c->ctx.ntopics; i++) {
        ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t k = 0; k < t->nparts; k++)
            if (ctrl_wants_leader(t, &t->parts[k]) || ctrl_names_dead_broker(c, &t->parts[k]))
                ctrl_tps_add(&tps, t, &t->parts[k]);
    }
    ctrl_election_t e = {ELECT_OFFLINE, 0};
    int rc = tps.n ? ctrl_change_states(c, &tps, ctrl_decide_after_deaths, &e) : 0;
    ctrl_election_done(&e);
    ctrl_tps_free(&tps);
    return rc;
}

/* Kafka's onBrokerFailure: the dead brokers (already out of the context)
 * lose their leaderships (new leaders from the live ISR) and their place in
 * every ISR; their replicas go offline. */
static void ctrl_on_brokers_failed(controller_t *c, const int32_t *ids, size_t n) {
    if (n == 0)
        return;
    char what[96];
    ctrl_round_begin_brokers(c, ids, n, "failure", what, sizeof what);
    int64_t t0 = clock_mono_ns() / 1000;
    size_t leaderless = 0;
    for (size_t i = 0; i < c->ctx.ntopics; i++) {
        ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t p = 0; p < t->nparts; p++) {
            ctrl_partition_t *pp = &t->parts[p];
            for (size_t k = 0; k < n; k++) {
                if (pp->has_state && pp->leader == ids[k] && !t->queued_for_deletion) {
                    pp->state = CTRL_P_OFFLINE;
                    leaderless++;
                }
                ctrl_rstate_t was = ctrl_replica_state(pp, ids[k]);
                if (was != CTRL_R_NONEXISTENT && was != CTRL_R_DELETION_SUCCESSFUL)
                    ctrl_replica_set_state(pp, ids[k],
                                           t->queued_for_deletion ? CTRL_R_DELETION_INELIGIBLE : CTRL_R_OFFLINE);
            }
        }
    }
    if (ctrl_dead_brokers_pass(c) != 0)
        return;
    ctrl_batch_um_all_brokers(c->batch, &c->ctx); /* the broker list changed */
    int64_t t1 = clock_mono_ns() / 1000;
    ctrl_send(c);
    log_info(CTRL_TAG,
             "%s: %zu partition(s) lost their leader; new leaders and ISRs written to ZooKeeper in %.1f ms",
             what, leaderless, (double)(t1 - t0) / 1000.0);
    if (c->round_waiting == 0)
        log_info(CTRL_TAG, "%s: no LeaderAndIsr needed", what);
}

static void ctrl_on_broker_change(controller_t *c) {
    if (!c->active)
        return;
    int64_t started_us = clock_mono_us();
    ctrl_broker_t **now;
    size_t n;
    if (ctrl_read_brokers(c, &now, &n) != 0)
        return;
    int32_t *dead = mem_calloc(c->ctx.nbrokers + n + 1, sizeof *dead);
    int32_t *born = mem_calloc(n + 1, sizeof *born);
    size_t ndead = 0, nborn = 0;
    for (size_t i = 0; i < c->ctx.nbrokers; i++) {
        ctrl_broker_t *old = c->ctx.brokers[i];
        bool alive = false;
        for (size_t k = 0; k < n; k++)
            alive |= now[k]->id == old->id && now[k]->epoch == old->epoch;
        if (!alive)
            dead[ndead++] = old->id;
    }
    for (size_t i = 0; i < ndead; i++) {
        ctrl_broker_t *b = ctrl_broker_remove(&c->ctx, dead[i]);
        ctrl_channel_close(b);
        ctrl_broker_free(b);
        log_info(CTRL_TAG, "broker %d is gone", dead[i]);
    }
    for (size_t k = 0; k < n; k++) {
        if (ctrl_broker_find(&c->ctx, now[k]->id)) {
            ctrl_broker_free(now[k]);
            continue;
        }
        ctrl_broker_t *b = now[k];
        ctrl_broker_add(&c->ctx, b);
        ctrl_channel_open(&c->env, b);
        born[nborn++] = b->id;
        log_info(CTRL_TAG, "broker %d is up (epoch %" PRId64 ")", b->id, b->epoch);
    }
    free(now);
    ctrl_on_brokers_failed(c, dead, ndead);
    if (c->active)
        ctrl_on_brokers_started(c, born, nborn);
    free(dead);
    free(born);
    metrics_histogram_observe(c->election_ms, (double)(clock_mono_us() - started_us) / 1000.0);
}

/* ============================================================================
 * Topics and partitions
 * ========================================================================== */

static void ctrl_new_partitions_online(controller_t *c, ctrl_tps_t *tps) {
    for (size_t i = 0; i < tps->n; i++)
        tps->v[i].part->state = CTRL_P_NEW;
    if (ctrl_partitions_online(c, tps, ELECT_OFFLINE) == 0)
        ctrl_send(c);
}

static void ctrl_on_topic_change(controller_t *c) {
    if (!c->active)
        return;
    zkc_strings_t names;
    zkc_err_t e = zkc_children(c->zk, ZKDATA_PATH_BROKER_TOPICS, &names);
    if (e != ZKC_OK) {
        zkc_strings_free(&names);
        return;
    }
    char **fresh = mem_calloc(names.n + 1, sizeof *fresh);
    size_t nfresh = 0;
    for (size_t i = 0; i < names.n; i++)
        if (!ctrl_topic_find(&c->ctx, names.items[i]))
            fresh[nfresh++] = names.items[i];
    /* topics gone from ZooKeeper (deleted by another controller) */
    for (size_t i = 0; i < c->ctx.ntopics;) {
        bool present = false;
        for (size_t k = 0; k < names.n && !present; k++)
            present = strcmp(names.items[k], c->ctx.topics[i]->name) == 0;
        if (!present)
            ctrl_topic_remove(&c->ctx, c->ctx.topics[i]->name);
        else
            i++;
    }
    if (nfresh) {
        ctrl_round_begin(c, "topic creation");
        ctrl_read_topics(c, fresh, nfresh);
        ctrl_tps_t tps = {0};
        for (size_t i = 0; i < nfresh; i++) {
            ctrl_topic_t *t = ctrl_topic_find(&c->ctx, fresh[i]);
            if (!t)
                continue;
            log_info(CTRL_TAG, "new topic %s with %d partition(s)", t->name, t->nparts);
            for (int32_t p = 0; p < t->nparts; p++)
                if (!t->parts[p].has_state && t->parts[p].replicas.n)
                    ctrl_tps_add(&tps, t, &t->parts[p]);
        }
        ctrl_read_states(c, &tps); /* a half-created topic from a previous controller */
        ctrl_tps_t todo = {0};
        for (size_t i = 0; i < tps.n; i++)
            if (!tps.v[i].part->has_state)
                ctrl_tps_add(&todo, tps.v[i].topic, tps.v[i].part);
        ctrl_new_partitions_online(c, &todo);
        ctrl_tps_free(&todo);
        ctrl_tps_free(&tps);
    }
    free(fresh);
    zkc_strings_free(&names);
}

/* Partitions added to an existing topic (/brokers/topics/<t> changed). */
static void ctrl_on_partition_change(controller_t *c, const char *topic) {
    ctrl_topic_t *t = ctrl_topic_find(&c->ctx, topic);
    if (!c->active || !t || t->queued_for_deletion)
        return;
    char path[ZKDATA_PATH_MAX];
    zkdata_path_topic(path, sizeof path, topic);
    char *data;
    int len;
    if (zkc_get(c->zk, path, &data, &len, NULL) != ZKC_OK)
        return;
    zkdata_topic_assignment_t a;
    char err[256];
    int32_t before = t->nparts;
    if (zkdata_topic_assignment_decode(data, len < 0 ? 0 : (size_t)len, &a, err, sizeof err) == 0) {
        for (size_t k = 0; k < a.n_partitions; k++) {
            const zkdata_partition_assignment_t *pa = &a.partitions[k];
            if (pa->partition < before)
                continue; /* reassignment is not supported: existing replicas stay */
            ctrl_topic_resize(t, pa->partition + 1);
            ctrl_partition_set_replicas(&t->parts[pa->partition], pa->replicas, (int32_t)pa->n_replicas, CTRL_R_NEW);
        }
    }
    zkdata_topic_assignment_free(&a);
    free(data);
    if (t->nparts > before) {
        log_info(CTRL_TAG, "topic %s: partitions %d..%d added", topic, before, t->nparts - 1);
        ctrl_round_begin(c, "partition creation");
        ctrl_tps_t tps = {0};
        for (int32_t p = before; p < t->nparts; p++)
            if (t->parts[p].replicas.n)
                ctrl_tps_add(&tps, t, &t->parts[p]);
        ctrl_new_partitions_online(c, &tps);
        ctrl_tps_free(&tps);
    }
}

/* ============================================================================
 * Topic deletion (Kafka's TopicDeletionManager, simplified: a topic whose
 * replicas are all alive is stopped and deleted everywhere at once; one with
 * a dead replica waits for it)
 * ========================================================================== */

static void ctrl_delete_recursive(controller_t *c, const char *path) {
    zkc_strings_t kids;
    if (zkc_children(c->zk, path, &kids) == ZKC_OK) {
        for (size_t i = 0; i < kids.n; i++) {
            char child[ZKDATA_PATH_MAX];
            snprintf(child, sizeof child, "%s/%s", path, kids.items[i]);
            ctrl_delete_recursive(c, child);
        }
    }
    zkc_strings_free(&kids);
    zkc_delete(c->zk, path, ZKC_ANY_VERSION);
}

static void ctrl_finish_deletion(controller_t *c, ctrl_topic_t *t) {
    char path[ZKDATA_PATH_MAX];
    char *name = mem_strdup(t->name);
    zkdata_path_topic(path, sizeof path, name);
    ctrl_delete_recursive(c, path);
    zkdata_path_topic_config(path, sizeof path, name);
    zkc_delete(c->zk, path, ZKC_ANY_VERSION);
    zkdata_path_delete_topic(path, sizeof path, name);
    zkc_delete(c->zk, path, ZKC_ANY_VERSION);
    ctrl_topic_remove(&c->ctx, name);
    log_info(CTRL_TAG, "deletion of topic %s completed", name);
    free(name);
}

/* Every replica not yet deleted gets StopReplica(delete) and moves to
 * ReplicaDeletionStarted; clients stop seeing the topic (leader -2 in
 * UpdateMetadata). */
static void ctrl_start_deletion(controller_t *c, ctrl_topic_t *t) {
    t->deletion_started = true;
    int sent = 0;
    for (int32_t p = 0; p < t->nparts; p++) {
        ctrl_partition_t *pp = &t->parts[p];
        ctrl_batch_um_partition(c->batch, t, pp);
        for (int32_t r = 0; r < pp->replicas.n; r++) {
            if (pp->rstates[r] == CTRL_R_DELETION_SUCCESSFUL)
                continue;
            ctrl_batch_stop(c->batch, pp->replicas.v[r], t->name, p, true);
            pp->rstates[r] = CTRL_R_DELETION_STARTED;
            sent++;
        }
    }
    ctrl_batch_um_all_brokers(c->batch, &c->ctx);
    log_info(CTRL_TAG, "deleting topic %s: StopReplica to %d replica(s)", t->name, sent);
    if (ctrl_topic_all_replicas(t, CTRL_R_DELETION_SUCCESSFUL))
        ctrl_finish_deletion(c, t);
}

/* Kafka's TopicDeletionManager.resumeDeletions: a topic queued for deletion
 * starts (or restarts, for replicas that failed) once every broker holding
 * one of its replicas is alive. */
static bool ctrl_deletion_eligible(const controller_t *c, const ctrl_topic_t *t) {
    if (!t->queued_for_deletion)
        return false;
    bool retry = !t->deletion_started;
    for (int32_t p = 0; p < t->nparts; p++)
        for (int32_t r = 0; r < t->parts[p].replicas.n; r++) {
            if (t->parts[p].rstates[r] == CTRL_R_DELETION_SUCCESSFUL)
                continue;
            if (!ctrl_broker_live(&c->ctx, t->parts[p].replicas.v[r]))
                return false;
            retry |= t->parts[p].rstates[r] == CTRL_R_DELETION_INELIGIBLE;
        }
    return retry;
}

static void ctrl_try_deletions(controller_t *c) {
    if (!c->active)
        return;
    for (size_t i = 0; i < c->ctx.ntopics;) {
        ctrl_topic_t *t = c->ctx.topics[i];
        size_t before = c->ctx.ntopics;
        if (ctrl_deletion_eligible(c, t))
            ctrl_start_deletion(c, t);
        if (c->ctx.ntopics == before)
            i++;
    }
    ctrl_send(c);
}

/* A StopReplica(delete) answer: ReplicaDeletionSuccessful, or Ineligible
 * (retried when ctrl_try_deletions next runs); the topic's znodes go once
 * every replica is deleted. */
static void ctrl_on_stop_done(void *arg, int32_t broker_id, const char *topic, int32_t partition, bool deleted,
                              kerr_t err) {
    controller_t *c = arg;
    ctrl_topic_t *t = c->active ? ctrl_topic_find(&c->ctx, topic) : NULL;
    if (!deleted || !t || !t->deletion_started || partition < 0 || partition >= t->nparts)
        return;
    ctrl_partition_t *p = &t->parts[partition];
    if (ctrl_replica_state(p, broker_id) != CTRL_R_DELETION_STARTED)
        return;
    if (err != KERR_NONE)
        log_warn(CTRL_TAG, "broker %d could not delete %s-%d: %s; retried later", broker_id, topic, partition,
                 kerr_name(err));
    ctrl_replica_set_state(p, broker_id, err == KERR_NONE ? CTRL_R_DELETION_SUCCESSFUL : CTRL_R_DELETION_INELIGIBLE);
    if (ctrl_topic_all_replicas(t, CTRL_R_DELETION_SUCCESSFUL))
        ctrl_finish_deletion(c, t);
}

static void ctrl_on_deletion_change(controller_t *c) {
    if (!c->active)
        return;
    zkc_strings_t names;
    if (zkc_children(c->zk, ZKDATA_PATH_DELETE_TOPICS, &names) != ZKC_OK) {
        zkc_strings_free(&names);
        return;
    }
    for (size_t i = 0; i < names.n; i++) {
        char path[ZKDATA_PATH_MAX];
        zkdata_path_delete_topic(path, sizeof path, names.items[i]);
        ctrl_topic_t *t = ctrl_topic_find(&c->ctx, names.items[i]);
        if (!c->delete_enable) {
            log_info(CTRL_TAG, "removing deletion marker of %s: delete.topic.enable is false", names.items[i]);
            zkc_delete(c->zk, path, ZKC_ANY_VERSION);
        } else if (!t) {
            log_info(CTRL_TAG, "removing deletion marker of non-existent topic %s", names.items[i]);
            zkc_delete(c->zk, path, ZKC_ANY_VERSION);
        } else if (!t->queued_for_deletion) {
            t->queued_for_deletion = true;
            log_info(CTRL_TAG, "topic %s queued for deletion", t->name);
        }
    }
    zkc_strings_free(&names);
    ctrl_try_deletions(c);
}

/* ============================================================================
 * ISR change notifications and preferred leader elections
 * ========================================================================== */

/* Adds to out the partitions that a znode of Kafka's partition-list JSON
 * (/isr_change_notification/..., /admin/preferred_replica_election) names
 * and the context knows; an undecodable znode is logged and skipped. */
static void ctrl_add_tp_list(controller_t *c, const char *path, const char *data, int len, ctrl_tps_t *out) {
    zkdata_tp_list_t l;
    char err[256];
    if (zkdata_tp_list_decode(data, len < 0 ? 0 : (size_t)len, &l, err, sizeof err) == 0) {
        for (size_t k = 0; k < l.n; k++) {
            ctrl_topic_t *t = ctrl_topic_find(&c->ctx, l.tps[k].topic);
            if (t && l.tps[k].partition >= 0 && l.tps[k].partition < t->nparts)
                ctrl_tps_add(out, t, &t->parts[l.tps[k].partition]);
        }
    } else {
        log_warn(CTRL_TAG, "ignoring %s: %s", path, err);
    }
    zkdata_tp_list_free(&l);
}

/* ctrl_add_tp_list of the znode at path; false when it cannot be read. */
static bool ctrl_read_tp_list(controller_t *c, const char *path, ctrl_tps_t *out) {
    char *data;
    int len;
    if (zkc_get(c->zk, path, &data, &len, NULL) != ZKC_OK)
        return false;
    ctrl_add_tp_list(c, path, data, len, out);
    free(data);
    return true;
}

/* Every notification is read (in one batch) and deleted, also one that
 * could not be read. */
static void ctrl_on_isr_change(controller_t *c) {
    if (!c->active)
        return;
    zkc_children_data_t notes;
    if (zkc_get_children_data(c->zk, ZKDATA_PATH_ISR_CHANGE_NOTIFICATION, &notes) != ZKC_OK || notes.n == 0) {
        zkc_children_data_free(&notes);
        return;
    }
    ctrl_tps_t tps = {0};
    for (size_t i = 0; i < notes.n; i++) {
        if (notes.v[i].err == ZKC_OK)
            ctrl_add_tp_list(c, notes.v[i].path, notes.v[i].data, notes.v[i].len, &tps);
        zkc_delete(c->zk, notes.v[i].path, ZKC_ANY_VERSION);
    }
    ctrl_read_states(c, &tps);
    for (size_t i = 0; i < tps.n; i++)
        ctrl_batch_um_partition(c->batch, tps.v[i].topic, tps.v[i].part);
    if (tps.n)
        ctrl_batch_um_all_brokers(c->batch, &c->ctx);
    ctrl_send(c);
    ctrl_tps_free(&tps);
    zkc_children_data_free(&notes);
}

static void ctrl_elect_preferred(controller_t *c, ctrl_tps_t *tps) {
    ctrl_tps_t todo = {0};
    for (size_t i = 0; i < tps->n; i++) {
        ctrl_partition_t *p = tps->v[i].part;
        if (p->has_state && p->replicas.n && p->leader != p->replicas.v[0] && !tps->v[i].topic->queued_for_deletion)
            ctrl_tps_add(&todo, tps->v[i].topic, p);
    }
    if (todo.n) {
        ctrl_round_begin(c, "preferred leader election");
        if (ctrl_partitions_online(c, &todo, ELECT_PREFERRED) == 0)
            ctrl_send(c);
    }
    ctrl_tps_free(&todo);
}

static void ctrl_on_preferred_election(controller_t *c) {
    if (!c->active)
        return;
    ctrl_tps_t tps = {0};
    if (!ctrl_read_tp_list(c, ZKDATA_PATH_PREFERRED_REPLICA_ELECTION, &tps))
        return;
    ctrl_elect_preferred(c, &tps);
    ctrl_tps_free(&tps);
    zkc_delete(c->zk, ZKDATA_PATH_PREFERRED_REPLICA_ELECTION, ZKC_ANY_VERSION);
}

/* Kafka's checkAndTriggerAutoLeaderRebalance: per broker, the partitions it
 * is the preferred leader of but does not lead (and could: it is in the
 * ISR); when they exceed
 * leader.imbalance.per.broker.percentage of its preferred ones, a preferred
 * election moves them back (only where the preferred replica is alive and
 * in the ISR). Runs every leader.imbalance.check.interval.seconds. */
static void ctrl_check_imbalance(controller_t *c) {
    for (size_t b = 0; b < c->ctx.nbrokers; b++) {
        int32_t id = c->ctx.brokers[b]->id;
        if (c->ctx.brokers[b]->shutting_down)
            continue;
        size_t preferred = 0;
        ctrl_tps_t off = {0};
        for (size_t i = 0; i < c->ctx.ntopics; i++) {
            ctrl_topic_t *t = c->ctx.topics[i];
            for (int32_t p = 0; p < t->nparts && !t->queued_for_deletion; p++) {
                ctrl_partition_t *pp = &t->parts[p];
                if (!pp->has_state || pp->replicas.n == 0 || pp->replicas.v[0] != id)
                    continue;
                preferred++;
                if (pp->leader != id && ctrl_ids_has(&pp->isr, id)) /* only where it could lead */
                    ctrl_tps_add(&off, t, pp);
            }
        }
        if (preferred > 0 && off.n * 100 > preferred * (size_t)c->imbalance_pct) {
            log_info(CTRL_TAG, "broker %d leads %zu fewer of its %zu preferred partitions than it should: rebalancing",
                     id, off.n, preferred);
            ctrl_elect_preferred(c, &off);
        }
        ctrl_tps_free(&off);
        if (!c->active)
            return;
    }
}

static void ctrl_rebalance_fire(void *arg) {
    controller_t *c = arg;
    if (!c->active)
        return;
    ctrl_check_imbalance(c);
    if (c->active)
        evloop_timer_arm(c->rebalance, c->rebalance_interval_ms);
}

/* ============================================================================
 * Election, failover, resignation
 * ========================================================================== */

/* Kafka's onControllerFailover: watches, the whole state, then every broker
 * hears it (UpdateMetadata, LeaderAndIsr for its replicas), and whatever
 * was pending (leaderless partitions, deletions, notifications) resumes. */
static void ctrl_failover(controller_t *c) {
    int64_t t0 = c->failover.elected_us;
    ctrl_register_watch(c, W_BROKERS, NULL);
    ctrl_register_watch(c, W_TOPICS, NULL);
    ctrl_register_watch(c, W_DELETIONS, NULL);
    ctrl_register_watch(c, W_ISR, NULL);
    ctrl_register_watch(c, W_PREFERRED, NULL);
    ctrl_broker_t **brokers;
    size_t nb;
    if (ctrl_read_brokers(c, &brokers, &nb) == 0) {
        for (size_t i = 0; i < nb; i++) {
            ctrl_broker_add(&c->ctx, brokers[i]);
            ctrl_channel_open(&c->env, brokers[i]);
        }
        free(brokers);
    }
    zkc_strings_t names;
    if (zkc_children(c->zk, ZKDATA_PATH_BROKER_TOPICS, &names) == ZKC_OK)
        ctrl_read_topics(c, names.items, names.n);
    zkc_strings_free(&names);
    ctrl_tps_t all = {0};
    for (size_t i = 0; i < c->ctx.ntopics; i++)
        for (int32_t p = 0; p < c->ctx.topics[i]->nparts; p++)
            ctrl_tps_add(&all, c->ctx.topics[i], &c->ctx.topics[i]->parts[p]);
    ctrl_read_states(c, &all);
    ctrl_tps_free(&all);
    ctrl_init_partition_states(c);
    c->failover.read_us = clock_mono_us();
    log_info(CTRL_TAG, "controller %d (epoch %d) read %zu broker(s) and %zu topic(s) from ZooKeeper in %.1f ms", c->id,
             c->epoch, c->ctx.nbrokers, c->ctx.ntopics, (double)(c->failover.read_us - t0) / 1000.0);
    ctrl_round_begin(c, "controller failover");
    /* Every broker hears the whole state once, after the dead brokers'
     * leaderships and ISR places are written: one LeaderAndIsr wave (the
     * entries name partitions; ctrl_batch_send reads their state when it
     * builds the requests), not a wave of the old state then one of the
     * changes — at 10,000 partitions each wave costs the brokers seconds. */
    ctrl_batch_um_all_brokers(c->batch, &c->ctx);
    ctrl_batch_um_all(c->batch);
    for (size_t i = 0; i < c->ctx.ntopics; i++) {
        ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t p = 0; p < t->nparts; p++)
            for (int32_t r = 0; r < t->parts[p].replicas.n; r++)
                if (t->parts[p].has_state && ctrl_broker_live(&c->ctx, t->parts[p].replicas.v[r]))
                    ctrl_batch_lai(c->batch, t->parts[p].replicas.v[r], t, &t->parts[p], false);
    }
    if (ctrl_dead_brokers_pass(c) != 0) /* leaderless partitions elect, dead replicas go offline */
        return;
    c->failover.written_us = clock_mono_us();
    ctrl_send(c);
    c->failover.sent_us = clock_mono_us();
    c->failover.pending = true;
    if (c->round_waiting == 0) /* no replica to tell */
        ctrl_failover_report(c);
    ctrl_on_deletion_change(c);
    ctrl_on_isr_change(c);
    ctrl_on_preferred_election(c);
    if (c->active && c->rebalance_interval_ms > 0 && config_get_bool(c->cfg, "auto.leader.rebalance.enable")) {
        if (!c->rebalance)
            c->rebalance = evloop_timer_new(c->loop, ctrl_rebalance_fire, c);
        evloop_timer_arm(c->rebalance, c->rebalance_interval_ms);
    }
}

static int ctrl_read_epoch(controller_t *c, int32_t *epoch, int32_t *version) {
    for (int attempt = 0; attempt < 2; attempt++) {
        char *data;
        int len;
        zkc_stat_t st;
        zkc_err_t e = zkc_get(c->zk, ZKDATA_PATH_CONTROLLER_EPOCH, &data, &len, &st);
        if (e == ZKC_OK) {
            int rc = zkdata_controller_epoch_decode(data, len < 0 ? 0 : (size_t)len, epoch, NULL, 0);
            free(data);
            *version = st.version;
            return rc;
        }
        if (e != ZKC_NONODE)
            return -1;
        /* Kafka creates it with epoch 0 (ControllerEpochZNode.InitialEpoch) */
        e = zkc_create(c->zk, ZKDATA_PATH_CONTROLLER_EPOCH, "0", 1, ZKC_PERSISTENT, NULL);
        if (e != ZKC_OK && e != ZKC_NODEEXISTS)
            return -1;
    }
    return -1;
}

/* Reads /controller: the active controller's id, or -1. */
static int32_t ctrl_read_controller(controller_t *c, zkc_err_t *err) {
    char *data;
    int len;
    int32_t id = -1;
    *err = zkc_get(c->zk, ZKDATA_PATH_CONTROLLER, &data, &len, NULL);
    if (*err == ZKC_OK) {
        if (zkdata_controller_decode(data, len < 0 ? 0 : (size_t)len, &id, NULL, 0) != 0)
            id = -1;
        free(data);
    }
    return id;
}

/* Kafka's elect(): when /controller is absent, try to create it together
 * with the next controller epoch in one multi-op; the loser learns the
 * winner's id. The /controller watch is set first so no change is missed. */
static void ctrl_elect_controller(controller_t *c) {
    ctrl_register_watch(c, W_CONTROLLER, NULL);
    zkc_err_t e;
    int32_t id = ctrl_read_controller(c, &e);
    if (e == ZKC_OK) {
        atomic_store(&c->active_id, id);
        if (c->active && id != c->id)
            ctrl_resign(c);
        return;
    }
    if (e != ZKC_NONODE)
        return; /* the watch (or its retry) comes back */
    if (c->active)
        ctrl_resign(c); /* our /controller is gone */
    int32_t epoch, version;
    if (ctrl_read_epoch(c, &epoch, &version) != 0) {
        log_warn(CTRL_TAG, "cannot read %s; election retried", ZKDATA_PATH_CONTROLLER_EPOCH);
        return;
    }
    buf_t json, ep;
    buf_init(&json);
    buf_init(&ep);
    zkdata_controller_encode(&json, c->id, clock_wall_ms());
    zkdata_controller_epoch_encode(&ep, epoch + 1);
    zkc_op_t ops[2];
    zkc_op_create(&ops[0], ZKDATA_PATH_CONTROLLER, json.data, (int)json.len, ZKC_EPHEMERAL);
    zkc_op_set(&ops[1], ZKDATA_PATH_CONTROLLER_EPOCH, ep.data, (int)ep.len, version);
    e = zkc_multi(c->zk, ops, 2);
    int32_t new_version = ops[1].stat.version;
    zkc_ops_release(ops, 2);
    buf_free(&json);
    buf_free(&ep);
    if (e != ZKC_OK) {
        id = ctrl_read_controller(c, &e);
        atomic_store(&c->active_id, id);
        if (id == c->id) /* our create went through before a lost connection */
            log_warn(CTRL_TAG, "election outcome unclear after a lost connection; waiting for /controller to change");
        else
            log_info(CTRL_TAG, "broker %d won the controller election", id);
        return;
    }
    c->active = true;
    c->gen++;
    c->epoch = epoch + 1;
    c->epoch_zk_version = new_version;
    c->env.controller_epoch = c->epoch;
    atomic_store(&c->active_id, c->id);
    c->failover.elected_us = clock_mono_us();
    c->failover.pending = false;
    log_info(CTRL_TAG, "broker %d is the controller now, epoch %d", c->id, c->epoch);
    ctrl_register_watch(c, W_CONTROLLER, NULL); /* of this activation */
    ctrl_failover(c);
}

/* Kafka's onControllerResignation: forget everything, close the channels. */
static void ctrl_resign(controller_t *c) {
    if (!c->active)
        return;
    log_info(CTRL_TAG, "broker %d resigns as controller (epoch %d)", c->id, c->epoch);
    c->active = false;
    c->gen++;
    if (c->rebalance)
        evloop_timer_cancel(c->rebalance);
    for (size_t i = 0; i < c->ctx.nbrokers; i++)
        ctrl_channel_close(c->ctx.brokers[i]);
    ctrl_context_clear(&c->ctx);
    ctrl_batch_free(c->batch);
    c->batch = ctrl_batch_new();
    c->round_waiting = 0;
    c->failover.pending = false;
}

/* ============================================================================
 * Controlled shutdown
 * ========================================================================== */

typedef struct ctrl_shutdown_task {
    controller_t *c;
    int32_t broker_id;
    int64_t broker_epoch;
    controller_shutdown_fn cb;
    void *ctx;
} ctrl_shutdown_task_t;

static void ctrl_shutdown_reply(ctrl_shutdown_task_t *st, kerr_t err) {
    controller_t *c = st->c;
    controller_tp_t *rem = NULL;
    size_t n = 0;
    if (err == KERR_NONE) {
        for (size_t i = 0; i < c->ctx.ntopics; i++) {
            ctrl_topic_t *t = c->ctx.topics[i];
            for (int32_t p = 0; p < t->nparts; p++)
                if (t->parts[p].leader == st->broker_id && t->parts[p].replicas.n > 1) {
                    rem = mem_realloc(rem, (n + 1) * sizeof *rem);
                    rem[n++] = (controller_tp_t){t->name, p};
                }
        }
    }
    st->cb(st->ctx, err, rem, n);
    free(rem);
}

static void ctrl_do_controlled_shutdown(void *arg) {
    ctrl_shutdown_task_t *st = arg;
    controller_t *c = st->c;
    ctrl_broker_t *b = c->active ? ctrl_broker_find(&c->ctx, st->broker_id) : NULL;
    kerr_t err = !c->active ? KERR_NOT_CONTROLLER
                 : !b       ? KERR_BROKER_NOT_AVAILABLE
                 : (st->broker_epoch >= 0 && st->broker_epoch != b->epoch) ? KERR_STALE_BROKER_EPOCH
                                                                            : KERR_NONE;
    if (err == KERR_NONE) {
        char what[64];
        snprintf(what, sizeof what, "controlled shutdown of broker %d", st->broker_id);
        ctrl_round_begin(c, what);
        int64_t t0 = clock_mono_ns() / 1000;
        b->shutting_down = true;
        ctrl_tps_t led = {0}, followed = {0};
        for (size_t i = 0; i < c->ctx.ntopics; i++) {
            ctrl_topic_t *t = c->ctx.topics[i];
            for (int32_t p = 0; p < t->nparts; p++) {
                ctrl_partition_t *pp = &t->parts[p];
                if (!pp->has_state || pp->replicas.n <= 1 || !ctrl_ids_has(&pp->replicas, st->broker_id))
                    continue;
                if (pp->leader == st->broker_id)
                    ctrl_tps_add(&led, t, pp);
                else
                    ctrl_tps_add(&followed, t, pp);
            }
        }
        int rc = ctrl_partitions_online(c, &led, ELECT_SHUTDOWN);
        if (rc == 0) {
            for (size_t i = 0; i < followed.n; i++) {
                ctrl_batch_stop(c->batch, st->broker_id, followed.v[i].topic->name, followed.v[i].part->index, false);
                ctrl_replica_set_state(followed.v[i].part, st->broker_id, CTRL_R_OFFLINE);
            }
            rc = ctrl_remove_from_isr(c, st->broker_id, &followed);
        }
        int64_t t1 = clock_mono_ns() / 1000;
        if (rc == 0) {
            size_t moved = 0;
            for (size_t i = 0; i < led.n; i++)
                moved += led.v[i].part->leader != st->broker_id;
            ctrl_send(c);
            log_info(CTRL_TAG, "%s: %zu of %zu leadership(s) moved, %zu follower(s) stopped; ZooKeeper written in %.1f ms",
                     what, moved, led.n, followed.n, (double)(t1 - t0) / 1000.0);
        } else {
            err = KERR_NOT_CONTROLLER;
        }
        ctrl_tps_free(&led);
        ctrl_tps_free(&followed);
    }
    ctrl_shutdown_reply(st, err);
    free(st);
}

int controller_controlled_shutdown(controller_t *c, int32_t broker_id, int64_t broker_epoch, controller_shutdown_fn cb,
                                   void *ctx) {
    ctrl_shutdown_task_t *st = mem_alloc(sizeof *st);
    *st = (ctrl_shutdown_task_t){c, broker_id, broker_epoch, cb, ctx};
    if (evloop_run(c->loop, ctrl_do_controlled_shutdown, st) != 0) {
        free(st);
        return -1;
    }
    return 0;
}

/* ============================================================================
 * AlterIsr (KIP-497): a leader's ISR change, written by the controller
 * ========================================================================== */

typedef struct ctrl_alter_isr_task {
    controller_t *c;
    int32_t broker_id;
    int64_t broker_epoch;
    const controller_isr_item_t *items;
    size_t n;
    controller_alter_isr_fn cb;
    void *ctx;
} ctrl_alter_isr_task_t;

static bool ctrl_ids_equal(const ctrl_ids_t *ids, const int32_t *v, int32_t n) {
    return ids->n == n && (n == 0 || memcmp(ids->v, v, (size_t)n * sizeof *v) == 0);
}

static void ctrl_isr_result_of(controller_isr_result_t *r, const ctrl_partition_t *p) {
    *r = (controller_isr_result_t){KERR_NONE, p->leader, p->leader_epoch, p->isr.v, p->isr.n, p->zk_version};
}

/* The partition an item names, when the controller knows its state. */
static ctrl_partition_t *ctrl_isr_item_partition(controller_t *c, const controller_isr_item_t *it, ctrl_topic_t **t) {
    *t = ctrl_topic_find(&c->ctx, it->topic);
    if (!*t || it->partition < 0 || it->partition >= (*t)->nparts || !(*t)->parts[it->partition].has_state)
        return NULL;
    return &(*t)->parts[it->partition];
}

/* Writes the items marked in todo (results[i].err == KERR_NONE and
 * todo[i]); the others keep the result they have. false when this
 * controller was superseded. */
static bool ctrl_write_isrs(controller_t *c, const ctrl_alter_isr_task_t *task, const bool *todo,
                            controller_isr_result_t *results) {
    ctrl_write_t *w = mem_calloc(task->n + 1, sizeof *w);
    size_t *which = mem_calloc(task->n + 1, sizeof *which);
    size_t k = 0;
    for (size_t i = 0; i < task->n; i++) {
        if (!todo[i])
            continue;
        const controller_isr_item_t *it = &task->items[i];
        ctrl_topic_t *t;
        ctrl_partition_t *p = ctrl_isr_item_partition(c, it, &t);
        zkdata_partition_state_t s = {task->broker_id, it->leader_epoch, c->epoch, (int32_t *)it->isr,
                                      (size_t)it->nisr};
        ctrl_write_prepare(&w[k], t->name, p, &s, it->zk_version);
        which[k++] = i;
    }
    bool moved = ctrl_run_writes(c, w, k);
    bool announce = false;
    for (size_t j = 0; j < k && !moved; j++) {
        const controller_isr_item_t *it = &task->items[which[j]];
        ctrl_topic_t *t;
        ctrl_partition_t *p = ctrl_isr_item_partition(c, it, &t);
        if (w[j].ok) {
            zkdata_partition_state_t s = {task->broker_id, it->leader_epoch, c->epoch, (int32_t *)it->isr,
                                          (size_t)it->nisr};
            ctrl_partition_set_state(p, &s, w[j].op.stat.version);
            ctrl_isr_result_of(&results[which[j]], p);
            ctrl_batch_um_partition(c->batch, t, p);
            announce = true;
        } else {
            /* BADVERSION: another write came first (Kafka's badVersionUpdates);
             * NONODE: the topic is going away; anything else the leader retries. */
            zkc_err_t e = w[j].op.err;
            results[which[j]].err = e == ZKC_BADVERSION ? KERR_INVALID_UPDATE_VERSION
                                    : e == ZKC_NONODE   ? KERR_UNKNOWN_TOPIC_OR_PARTITION
                                                        : KERR_UNKNOWN_SERVER_ERROR;
        }
    }
    for (size_t j = 0; j < k; j++)
        buf_free(&w[j].json);
    free(w);
    free(which);
    if (announce)
        ctrl_batch_um_all_brokers(c->batch, &c->ctx);
    return !moved;
}

static void ctrl_do_alter_isr(void *arg) {
    ctrl_alter_isr_task_t *task = arg;
    controller_t *c = task->c;
    const ctrl_broker_t *b = c->active ? ctrl_broker_find(&c->ctx, task->broker_id) : NULL;
    kerr_t err = !c->active                                 ? KERR_NOT_CONTROLLER
                 : !b || b->epoch != task->broker_epoch ? KERR_STALE_BROKER_EPOCH
                                                            : KERR_NONE;
    controller_isr_result_t *results = NULL;
    bool moved = false;
    if (err == KERR_NONE) {
        results = mem_calloc(task->n + 1, sizeof *results);
        bool *todo = mem_calloc(task->n + 1, sizeof *todo);
        for (size_t i = 0; i < task->n; i++) {
            const controller_isr_item_t *it = &task->items[i];
            ctrl_topic_t *t;
            ctrl_partition_t *p = ctrl_isr_item_partition(c, it, &t);
            if (!p)
                results[i].err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (it->leader_epoch < p->leader_epoch)
                results[i].err = KERR_FENCED_LEADER_EPOCH;
            else if (p->leader == task->broker_id && p->leader_epoch == it->leader_epoch &&
                     ctrl_ids_equal(&p->isr, it->isr, it->nisr))
                ctrl_isr_result_of(&results[i], p); /* already so (a retry of a write that went through) */
            else
                todo[i] = true;
        }
        moved = !ctrl_write_isrs(c, task, todo, results);
        free(todo);
        if (moved)
            err = KERR_NOT_CONTROLLER;
    }
    task->cb(task->ctx, err, err == KERR_NONE ? results : NULL, err == KERR_NONE ? task->n : 0);
    free(results);
    if (moved)
        ctrl_moved(c);
    else if (err == KERR_NONE)
        ctrl_send(c);
    free(task);
}

int controller_alter_isr(controller_t *c, int32_t broker_id, int64_t broker_epoch, const controller_isr_item_t *items,
                         size_t n, controller_alter_isr_fn cb, void *ctx) {
    ctrl_alter_isr_task_t *task = mem_alloc(sizeof *task);
    *task = (ctrl_alter_isr_task_t){c, broker_id, broker_epoch, items, n, cb, ctx};
    if (evloop_run(c->loop, ctrl_do_alter_isr, task) != 0) {
        free(task);
        return -1;
    }
    return 0;
}

/* ============================================================================
 * Life cycle
 * ========================================================================== */

controller_t *controller_new(const controller_config_t *cc) {
    controller_t *c = mem_calloc(1, sizeof *c);
    c->cfg = cc->cfg;
    c->id = cc->broker_id;
    c->zk = cc->zk;
    c->loop = cc->loop;
    atomic_init(&c->active_id, -1);
    /* Kafka times the whole BrokerChange event as LeaderElectionRateAndTimeMs;
     * a histogram, not a summary: buckets add up across brokers and over
     * time, and the rate of its _count is the election rate. */
    c->election_ms = metrics_histogram(metrics_global(), "kafka_controller_controllerstats_leaderelectionrateandtimems",
                                       "Time the controller took to handle a broker change (elections, ISR updates), "
                                       "in milliseconds",
                                       metrics_ms_buckets, metrics_ms_nbuckets);
    ctrl_context_init(&c->ctx);
    c->batch = ctrl_batch_new();
    c->unclean_default = config_get_bool(cc->cfg, "unclean.leader.election.enable");
    c->delete_enable = config_get_bool(cc->cfg, "delete.topic.enable");
    c->rebalance_interval_ms = config_get_long(cc->cfg, "leader.imbalance.check.interval.seconds") * 1000;
    c->imbalance_pct = config_get_int(cc->cfg, "leader.imbalance.per.broker.percentage");
    c->env = (ctrl_channel_env_t){
        .controller_id = c->id,
        .controller_epoch = 0,
        .ctx = &c->ctx,
        .loop = c->loop,
        .inter_broker_listener = config_inter_broker_listener_name(cc->cfg),
        .request_timeout_ms = config_get_int(cc->cfg, "controller.socket.timeout.ms"),
        .on_lai_done = ctrl_on_lai_done,
        .on_stop_done = ctrl_on_stop_done,
        .arg = c,
    };
    return c;
}

static void ctrl_start_task(void *arg) {
    ctrl_elect_controller(arg);
}

void controller_start(controller_t *c) {
    evloop_run(c->loop, ctrl_start_task, c);
}

void controller_on_session(controller_t *c, int ev) {
    if (ev == ZKC_SESSION_EXPIRED) {
        ctrl_resign(c);
        c->gen++; /* the old session's watches are gone */
        atomic_store(&c->active_id, -1);
    } else if (ev == ZKC_SESSION_NEW) {
        ctrl_elect_controller(c);
    }
}

void controller_topic_config_changed(controller_t *c, const char *topic, bool unclean) {
    ctrl_topic_t *t = c->active ? ctrl_topic_find(&c->ctx, topic) : NULL;
    if (!t)
        return;
    bool was = t->unclean;
    t->unclean = unclean;
    if (was || !t->unclean)
        return;
    log_info(CTRL_TAG, "unclean leader election is now enabled for topic %s", topic);
    ctrl_tps_t offline = {0};
    for (int32_t p = 0; p < t->nparts; p++)
        if (t->parts[p].state == CTRL_P_OFFLINE)
            ctrl_tps_add(&offline, t, &t->parts[p]);
    if (offline.n) {
        ctrl_round_begin(c, "unclean leader election");
        if (ctrl_partitions_online(c, &offline, ELECT_OFFLINE) == 0)
            ctrl_send(c);
    }
    ctrl_tps_free(&offline);
}

int32_t controller_offline_partitions(const controller_t *c) {
    int32_t n = 0;
    for (size_t i = 0; c->active && i < c->ctx.ntopics; i++) {
        const ctrl_topic_t *t = c->ctx.topics[i];
        for (int32_t p = 0; !t->queued_for_deletion && p < t->nparts; p++)
            n += t->parts[p].state == CTRL_P_OFFLINE;
    }
    return n;
}

int32_t controller_active_id(const controller_t *c) {
    return atomic_load(&((controller_t *)c)->active_id);
}

static void ctrl_stop_task(void *arg) {
    controller_t *c = arg;
    ctrl_resign(c);
    c->gen++; /* pending watches become no-ops */
    evloop_timer_free(c->rebalance);
    c->rebalance = NULL;
    while (c->retries) {
        ctrl_retry_t *r = c->retries;
        ctrl_retry_unlink(c, r);
        evloop_timer_free(r->timer);
        free(r->w.topic);
        free(r);
    }
}

void controller_stop(controller_t *c) {
    evloop_run_sync(c->loop, ctrl_stop_task, c);
}

void controller_free(controller_t *c) {
    if (!c)
        return;
    ctrl_context_clear(&c->ctx);
    ctrl_batch_free(c->batch);
    free(c);
}
