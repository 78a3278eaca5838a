#include "replica/replica_manager.h"

#include "util/logger.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RM_TAG "replica-manager"

struct replica_manager {
    log_manager_t *logs;      /* immutable; the manager itself under: logs_lock */
    int32_t broker_id;        /* immutable */
    pthread_rwlock_t lock;
    int32_t controller_epoch; /* newest seen; under: lock (written with it held for writing) */
    /* Open addressing over (topic, partition); never shrinks. Under: lock
     * (read for lookups, write to add); the partitions in it are never
     * freed before replica_manager_free. */
    partition_t **slots;
    size_t cap;
    size_t count;
    /* LeaderAndIsr for different partitions may arrive at once; creating a
     * log is serialised through the log manager, which is not thread-safe.
     * Taken before lock and before any partition's lock. */
    pthread_mutex_t logs_lock;
    /* Shared by every partition. Immutable once the broker serves
     * (replica_manager_set_isr_sink runs at start-up). */
    partition_leader_config_t leader_cfg;
    /* the last ISR shrink scan (wall clock); owner: the thread that ticks
     * (main) */
    int64_t last_shrink_scan_ms;
    /* immutable once the broker serves (set at start-up) */
    replica_manager_role_fn role_hook;
    void *role_hook_ctx;
};

static uint64_t rm_hash(const char *topic, int32_t partition) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *c = topic; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    return (h ^ (uint32_t)partition) * 1099511628211ull;
}

replica_manager_t *replica_manager_new(log_manager_t *logs, int32_t broker_id, const config_t *cfg) {
    replica_manager_t *rm = mem_calloc(1, sizeof *rm);
    rm->logs = logs;
    rm->broker_id = broker_id;
    rm->leader_cfg.replica_lag_time_max_ms = config_get_long(cfg, "replica.lag.time.max.ms");
    rm->leader_cfg.isr_shrinks = metrics_counter(metrics_global(), "kafka_server_replicamanager_isrshrinks",
                                                 "ISR shrinks committed for partitions this broker leads");
    rm->leader_cfg.isr_expands = metrics_counter(metrics_global(), "kafka_server_replicamanager_isrexpands",
                                                 "ISR expansions committed for partitions this broker leads");
    rm->controller_epoch = -1;
    rm->cap = 256;
    rm->slots = mem_calloc(rm->cap, sizeof *rm->slots);
    pthread_rwlock_init(&rm->lock, NULL);
    pthread_mutex_init(&rm->logs_lock, NULL);
    return rm;
}

void replica_manager_free(replica_manager_t *rm) {
    if (!rm)
        return;
    for (size_t i = 0; i < rm->cap; i++)
        partition_free(rm->slots[i]);
    free(rm->slots);
    pthread_rwlock_destroy(&rm->lock);
    pthread_mutex_destroy(&rm->logs_lock);
    free(rm);
}

int32_t replica_manager_broker_id(const replica_manager_t *rm) { return rm->broker_id; }

/* Slot of (topic, partition): where it is, or the empty slot where it would go. */
static size_t rm_slot(const replica_manager_t *rm, const char *topic, int32_t partition) {
    size_t i = rm_hash(topic, partition) & (rm->cap - 1);
    while (rm->slots[i] && (rm->slots[i]->index != partition || strcmp(rm->slots[i]->topic, topic) != 0))
        i = (i + 1) & (rm->cap - 1);
    return i;
}

static void rm_grow(replica_manager_t *rm) {
    partition_t **old = rm->slots;
    size_t old_cap = rm->cap;
    rm->cap *= 2;
    rm->slots = mem_calloc(rm->cap, sizeof *rm->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            rm->slots[rm_slot(rm, old[i]->topic, old[i]->index)] = old[i];
    free(old);
}

partition_t *replica_manager_get(replica_manager_t *rm, const char *topic, int32_t partition) {
    pthread_rwlock_rdlock(&rm->lock);
    partition_t *p = rm->slots[rm_slot(rm, topic, partition)];
    pthread_rwlock_unlock(&rm->lock);
    return p;
}

kerr_t replica_manager_check_controller_epoch(replica_manager_t *rm, int32_t controller_epoch) {
    pthread_rwlock_wrlock(&rm->lock);
    kerr_t e = KERR_NONE;
    int32_t newest = rm->controller_epoch;
    if (controller_epoch < newest)
        e = KERR_STALE_CONTROLLER_EPOCH;
    else
        rm->controller_epoch = controller_epoch;
    pthread_rwlock_unlock(&rm->lock);
    if (e != KERR_NONE)
        log_warn(RM_TAG, "ignoring a request from a deposed controller (epoch %d < %d)", controller_epoch, newest);
    return e;
}

/* The partition object, created (without a log) if new. */
static partition_t *rm_get_or_add(replica_manager_t *rm, const char *topic, int32_t partition) {
    pthread_rwlock_wrlock(&rm->lock);
    size_t i = rm_slot(rm, topic, partition);
    if (!rm->slots[i]) {
        if ((rm->count + 1) * 2 > rm->cap) {
            rm_grow(rm);
            i = rm_slot(rm, topic, partition);
        }
        rm->slots[i] = partition_new(topic, partition, NULL, &rm->leader_cfg);
        rm->count++;
    }
    partition_t *p = rm->slots[i];
    pthread_rwlock_unlock(&rm->lock);
    return p;
}

static bool rm_has_log(partition_t *p) {
    pthread_mutex_lock(&p->lock);
    bool has_log = p->log != NULL;
    pthread_mutex_unlock(&p->lock);
    return has_log;
}

/* Gives a partition without a log its log (created or reopened). A
 * partition that has one needs nothing of the log manager, so it does not
 * wait for logs_lock, which the main thread's tick holds for its tasks
 * (the leader-epoch checkpoints' fsyncs it no longer holds it for:
 * replica_manager_tick_logs). */
static kerr_t rm_attach_log(replica_manager_t *rm, partition_t *p, const config_topic_t *topic_cfg,
                            int64_t now_ms) {
    if (rm_has_log(p))
        return KERR_NONE;
    pthread_mutex_lock(&rm->logs_lock);
    kerr_t e = KERR_NONE;
    if (!rm_has_log(p)) {
        log_t *log;
        char err[512];
        e = log_manager_get_or_create(rm->logs, p->topic, p->index, topic_cfg, now_ms, &log, err, sizeof err);
        if (e == KERR_NONE) {
            pthread_mutex_lock(&p->lock);
            p->log = log;
            p->leader_epoch = -1; /* a fresh start: the next state applies whatever its epoch */
            p->min_isr = topic_cfg && config_topic_is_set(topic_cfg, "min.insync.replicas")
                             ? config_topic_get_int(topic_cfg, "min.insync.replicas")
                             : 0;
            pthread_mutex_unlock(&p->lock);
        } else {
            log_error(RM_TAG, "%s-%d: cannot create its log: %s", p->topic, p->index, err);
        }
    }
    pthread_mutex_unlock(&rm->logs_lock);
    return e;
}

kerr_t replica_manager_apply(replica_manager_t *rm, const char *topic, int32_t partition,
                             const partition_state_t *st, const config_topic_t *topic_cfg, int64_t now_ms) {
    if (partition < 0)
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    partition_t *p = rm_get_or_add(rm, topic, partition);
    kerr_t e = rm_attach_log(rm, p, topic_cfg, now_ms);
    if (e != KERR_NONE)
        return e;
    e = partition_apply_state(p, st, rm->broker_id, now_ms);
    if (e == KERR_NONE && rm->role_hook)
        rm->role_hook(rm->role_hook_ctx, topic, partition, st->leader_id == rm->broker_id, st->leader_epoch);
    return e;
}

void replica_manager_set_role_hook(replica_manager_t *rm, replica_manager_role_fn fn, void *ctx) {
    rm->role_hook = fn;
    rm->role_hook_ctx = ctx;
}

typedef struct rm_reconf {
    const char *topic;
    const log_config_t *lc;
    int32_t min_isr;
    int n;
} rm_reconf_t;

static void rm_reconf_one(void *ctx, partition_t *p) {
    rm_reconf_t *r = ctx;
    if (strcmp(p->topic, r->topic) == 0) {
        partition_set_config(p, r->lc, r->min_isr);
        r->n++;
    }
}

int replica_manager_reconfigure_topic(replica_manager_t *rm, const config_t *broker, const char *topic,
                                      const config_topic_t *topic_cfg) {
    log_config_t lc;
    log_config_from_topic(broker, topic_cfg, &lc);
    rm_reconf_t r = {topic, &lc,
                     topic_cfg && config_topic_is_set(topic_cfg, "min.insync.replicas")
                         ? config_topic_get_int(topic_cfg, "min.insync.replicas")
                         : 0,
                     0};
    replica_manager_for_each(rm, rm_reconf_one, &r);
    return r.n;
}

kerr_t replica_manager_stop(replica_manager_t *rm, const char *topic, int32_t partition, bool delete_log) {
    partition_t *p = replica_manager_get(rm, topic, partition);
    log_t *log = p ? partition_detach_log(p) : NULL;
    if (p && rm->role_hook)
        rm->role_hook(rm->role_hook_ctx, topic, partition, false, -1);
    /* A log this broker holds without serving it (the topic was deleted
     * while the broker was down, so no LeaderAndIsr came for it) is deleted
     * too, as Kafka's stopReplicas does for HostedPartition.None. */
    if (!delete_log || (p && !log))
        return KERR_NONE;
    pthread_mutex_lock(&rm->logs_lock);
    char err[512];
    kerr_t e = KERR_NONE;
    if (p || log_manager_get(rm->logs, topic, partition))
        e = log_manager_delete(rm->logs, topic, partition, err, sizeof err);
    pthread_mutex_unlock(&rm->logs_lock);
    if (e != KERR_NONE)
        log_error(RM_TAG, "%s-%d: cannot delete its log: %s", topic, partition, err);
    return e;
}

static void rm_lock_logs(void *ctx, bool lock) {
    replica_manager_t *rm = ctx;
    if (lock)
        pthread_mutex_lock(&rm->logs_lock);
    else
        pthread_mutex_unlock(&rm->logs_lock);
}

/* Leader-epoch checkpoints a tick writes at most: 1,000 take the main
 * thread 1-3 s on a loaded 2-vCPU VM; more would delay the tick's other
 * work (and a shutdown) that much longer. */
#define RM_EPOCH_FILES_PER_TICK 1000

/* The dirty leader-epoch checkpoints first, their fsyncs without logs_lock
 * (log_manager_write_leader_epochs): after a restart or failover there are
 * thousands, and LeaderAndIsr needs logs_lock to attach logs. */
kerr_t replica_manager_tick_logs(replica_manager_t *rm, int64_t now_ms) {
    kerr_t epochs = log_manager_write_leader_epochs(rm->logs, RM_EPOCH_FILES_PER_TICK, rm_lock_logs, rm);
    pthread_mutex_lock(&rm->logs_lock);
    kerr_t e = log_manager_tick(rm->logs, now_ms);
    pthread_mutex_unlock(&rm->logs_lock);
    return e != KERR_NONE ? e : epochs;
}

void replica_manager_lock_log(void *ctx, const char *topic, int32_t partition, bool lock) {
    replica_manager_t *rm = *(replica_manager_t **)ctx;
    partition_t *p = rm ? replica_manager_get(rm, topic, partition) : NULL;
    if (!p)
        return;
    if (lock)
        pthread_mutex_lock(&p->lock);
    else
        pthread_mutex_unlock(&p->lock);
}

void replica_manager_set_isr_sink(replica_manager_t *rm, partition_isr_sink_fn fn, void *ctx) {
    rm->leader_cfg.isr_sink = fn;
    rm->leader_cfg.isr_sink_ctx = ctx;
}

typedef struct rm_shrink {
    int64_t now_ms;
    int n;
} rm_shrink_t;

static void rm_shrink_one(void *ctx, partition_t *p) {
    rm_shrink_t *s = ctx;
    if (partition_maybe_shrink_isr(p, s->now_ms))
        s->n++;
}

int replica_manager_maybe_shrink_isrs(replica_manager_t *rm, int64_t now_ms) {
    if (now_ms - rm->last_shrink_scan_ms < rm->leader_cfg.replica_lag_time_max_ms / 2)
        return 0;
    rm->last_shrink_scan_ms = now_ms;
    rm_shrink_t s = {now_ms, 0};
    replica_manager_for_each(rm, rm_shrink_one, &s);
    return s.n;
}

void replica_manager_isr_change_done(replica_manager_t *rm, const char *topic, int32_t partition,
                                     int32_t leader_epoch, kerr_t error, const int32_t *isr, int32_t nisr,
                                     int32_t new_zk_version) {
    partition_t *p = replica_manager_get(rm, topic, partition);
    if (!p)
        return;
    if (error == KERR_NONE)
        partition_isr_committed(p, leader_epoch, isr, nisr, new_zk_version);
    else
        partition_isr_rejected(p, leader_epoch, error);
}

static void rm_count_one(void *ctx, partition_t *p) {
    replica_manager_counts_t *c = ctx;
    pthread_mutex_lock(&p->lock);
    c->partitions++;
    if (p->is_leader) {
        c->leaders++;
        if (p->nisr < p->nreplicas)
            c->under_replicated++;
    }
    pthread_mutex_unlock(&p->lock);
}

void replica_manager_counts(replica_manager_t *rm, replica_manager_counts_t *out) {
    *out = (replica_manager_counts_t){0, 0, 0};
    replica_manager_for_each(rm, rm_count_one, out);
}

void replica_manager_for_each(replica_manager_t *rm, replica_manager_fn fn, void *ctx) {
    pthread_rwlock_rdlock(&rm->lock);
    for (size_t i = 0; i < rm->cap; i++)
        if (rm->slots[i] && rm->slots[i]->log)
            fn(ctx, rm->slots[i]);
    pthread_rwlock_unlock(&rm->lock);
}
