#include "replica/partition.h"

#include "log/leader_epoch.h"
#include "util/logger.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define PARTITION_TAG "partition"

partition_t *partition_new(const char *topic, int32_t index, log_t *log) {
    partition_t *p = mem_calloc(1, sizeof *p);
    p->topic = mem_strdup(topic);
    p->index = index;
    p->log = log;
    p->leader_id = -1;
    p->leader_epoch = -1;
    p->controller_epoch = -1;
    p->zk_version = -1;
    pthread_mutex_init(&p->lock, NULL);
    p->waiters.next = p->waiters.prev = &p->waiters;
    return p;
}

void partition_free(partition_t *p) {
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p->followers);
    free(p->replicas);
    free(p->isr);
    free(p->topic);
    free(p);
}

/* --- followers ------------------------------------------------------------- */

static bool partition_in_isr(const partition_t *p, int32_t broker_id) {
    for (int32_t i = 0; i < p->nisr; i++)
        if (p->isr[i] == broker_id)
            return true;
    return false;
}

/* Kafka's maybeIncrementLeaderHW: the high watermark is the smallest log
 * end offset among the in-sync replicas (the leader's own included). */
static bool partition_update_high_watermark(partition_t *p, int32_t local_id) {
    int64_t hw = log_end_offset(p->log);
    partition_follower_t *f = p->followers;
    for (int32_t i = 0; i < p->nreplicas; i++) {
        if (f[i].broker_id == local_id || !partition_in_isr(p, f[i].broker_id))
            continue;
        if (f[i].log_end_offset < hw)
            hw = f[i].log_end_offset;
    }
    int64_t old = log_high_watermark(p->log);
    if (hw > old) {
        log_set_high_watermark(p->log, hw);
        return true;
    }
    return false;
}

static void partition_wake_all(partition_t *p) {
    for (partition_waiter_t *w = p->waiters.next; w != &p->waiters;) {
        partition_waiter_t *next = w->next;
        w->wake(w);
        w = next;
    }
}

/* --- state ------------------------------------------------------------------- */

static int32_t *partition_copy_ids(const int32_t *ids, int32_t n) {
    int32_t *out = mem_alloc(((size_t)n + 1) * sizeof *out);
    if (n)
        memcpy(out, ids, (size_t)n * sizeof *out);
    return out;
}

kerr_t partition_apply_state(partition_t *p, const partition_state_t *st, int32_t local_broker_id) {
    pthread_mutex_lock(&p->lock);
    if (!p->log) {
        pthread_mutex_unlock(&p->lock);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    if (p->leader_epoch >= 0 && st->leader_epoch <= p->leader_epoch) {
        /* The same epoch again is routine (a new controller re-sends every
         * state); an older one is worth a warning. */
        if (st->leader_epoch == p->leader_epoch)
            log_debug(PARTITION_TAG, "%s-%d: ignoring state with leader epoch %d: it is the current one", p->topic,
                      p->index, st->leader_epoch);
        else
            log_warn(PARTITION_TAG, "%s-%d: ignoring state with leader epoch %d (current %d)", p->topic, p->index,
                     st->leader_epoch, p->leader_epoch);
        pthread_mutex_unlock(&p->lock);
        return KERR_STALE_CONTROLLER_EPOCH;
    }
    free(p->followers);
    free(p->replicas);
    free(p->isr);
    p->nreplicas = st->nreplicas;
    p->replicas = partition_copy_ids(st->replicas, st->nreplicas);
    p->nisr = st->nisr;
    p->isr = partition_copy_ids(st->isr, st->nisr);
    p->followers = mem_calloc((size_t)st->nreplicas + 1, sizeof *p->followers);
    for (int32_t i = 0; i < st->nreplicas; i++)
        p->followers[i] = (partition_follower_t){st->replicas[i], 0};

    p->leader_id = st->leader_id;
    p->leader_epoch = st->leader_epoch;
    p->controller_epoch = st->controller_epoch;
    p->zk_version = st->zk_version;
    p->is_leader = st->leader_id == local_broker_id;
    if (p->is_leader) {
        /* A new leader starts its epoch at its log end offset (KIP-101); the
         * file follows within a tick (see leader_epoch_assign_deferred). */
        leader_epoch_assign_deferred(log_leader_epochs(p->log), st->leader_epoch, log_end_offset(p->log), NULL, 0);
        partition_update_high_watermark(p, local_broker_id);
    }
    log_info(PARTITION_TAG, "%s-%d: %s, leader %d, epoch %d, isr size %d", p->topic, p->index,
             p->is_leader ? "leader" : "follower", st->leader_id, st->leader_epoch, st->nisr);
    partition_wake_all(p); /* waiting fetches must notice the role change */
    pthread_mutex_unlock(&p->lock);
    return KERR_NONE;
}

/* --- appends and reads ------------------------------------------------------------ */

void partition_set_config(partition_t *p, const log_config_t *lc, int32_t min_isr) {
    pthread_mutex_lock(&p->lock);
    if (p->log && lc)
        log_set_config(p->log, lc);
    p->min_isr = min_isr;
    pthread_mutex_unlock(&p->lock);
}

int32_t partition_min_isr(partition_t *p, int32_t broker_default) {
    pthread_mutex_lock(&p->lock);
    int32_t v = p->min_isr > 0 ? p->min_isr : broker_default;
    pthread_mutex_unlock(&p->lock);
    return v;
}

kerr_t partition_append(partition_t *p, uint8_t *batch, size_t len, int32_t min_isr, int64_t now_ms,
                        partition_append_result_t *out) {
    pthread_mutex_lock(&p->lock);
    if (!p->is_leader || !p->log) {
        pthread_mutex_unlock(&p->lock);
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    if (p->nisr < min_isr) {
        pthread_mutex_unlock(&p->lock);
        return KERR_NOT_ENOUGH_REPLICAS;
    }
    log_append_info_t info;
    kerr_t e = log_append_as_leader(p->log, batch, len, p->leader_epoch, now_ms, &info);
    if (e == KERR_NONE) {
        out->base_offset = info.first_offset;
        out->log_append_time = info.log_append_time;
        out->log_start_offset = info.log_start_offset;
        if (partition_update_high_watermark(p, p->leader_id))
            partition_wake_all(p);
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

static kerr_t partition_check_epoch(const partition_t *p, int32_t current_leader_epoch) {
    if (current_leader_epoch < 0 || current_leader_epoch == p->leader_epoch)
        return KERR_NONE;
    return current_leader_epoch < p->leader_epoch ? KERR_FENCED_LEADER_EPOCH : KERR_UNKNOWN_LEADER_EPOCH;
}

/* A follower's fetch at offset says its log ends there: that is how the
 * leader learns follower progress (Replica.updateFetchState). */
static void partition_note_follower(partition_t *p, int32_t replica_id, int64_t fetch_offset) {
    partition_follower_t *f = p->followers;
    for (int32_t i = 0; i < p->nreplicas; i++) {
        if (f[i].broker_id == replica_id) {
            f[i].log_end_offset = fetch_offset;
            if (partition_update_high_watermark(p, p->leader_id))
                partition_wake_all(p);
            return;
        }
    }
}

kerr_t partition_read(partition_t *p, int64_t offset, uint32_t max_bytes, bool min_one_message,
                      int32_t replica_id, int32_t current_leader_epoch, partition_read_result_t *out) {
    memset(out, 0, sizeof *out);
    out->data.fd = -1;
    pthread_mutex_lock(&p->lock);
    kerr_t e = KERR_NONE;
    if (!p->is_leader || !p->log) {
        pthread_mutex_unlock(&p->lock);
        out->high_watermark = out->log_start_offset = out->log_end_offset = -1;
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    e = partition_check_epoch(p, current_leader_epoch);
    if (e == KERR_NONE) {
        if (replica_id >= 0)
            partition_note_follower(p, replica_id, offset);
        int64_t bound = replica_id >= 0 ? -1 : log_high_watermark(p->log);
        e = log_read(p->log, offset, max_bytes, bound, min_one_message, &out->data);
    }
    out->high_watermark = log_high_watermark(p->log);
    out->log_start_offset = log_start_offset(p->log);
    out->log_end_offset = log_end_offset(p->log);
    pthread_mutex_unlock(&p->lock);
    return e;
}

uint64_t partition_bytes_available(partition_t *p, int64_t offset, int32_t replica_id) {
    pthread_mutex_lock(&p->lock);
    uint64_t n = 0;
    if (p->is_leader && p->log) {
        log_read_info_t r;
        int64_t bound = replica_id >= 0 ? -1 : log_high_watermark(p->log);
        if (log_read(p->log, offset, 1u << 20, bound, true, &r) == KERR_NONE)
            n = r.length;
        if (n == 0 && (offset > log_end_offset(p->log) || offset < log_start_offset(p->log)))
            n = 1; /* out of range: answer now, with the error */
    } else {
        n = 1; /* not the leader any more: answer now, with the error */
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

kerr_t partition_offset_for_timestamp(partition_t *p, int64_t timestamp, int32_t replica_id,
                                      int32_t current_leader_epoch, int64_t *offset, int64_t *found_timestamp,
                                      int32_t *leader_epoch) {
    pthread_mutex_lock(&p->lock);
    kerr_t e = p->is_leader && p->log ? partition_check_epoch(p, current_leader_epoch) : KERR_NOT_LEADER_OR_FOLLOWER;
    *offset = -1;
    *found_timestamp = -1;
    *leader_epoch = p->leader_epoch;
    if (e == KERR_NONE) {
        int64_t last_visible = replica_id >= 0 ? log_end_offset(p->log) : log_high_watermark(p->log);
        if (timestamp == LOG_TIMESTAMP_LATEST) {
            *offset = last_visible;
        } else {
            bool found;
            e = log_offset_for_timestamp(p->log, timestamp, &found, offset, found_timestamp);
            if (e == KERR_NONE && (!found || *offset >= last_visible) && timestamp != LOG_TIMESTAMP_EARLIEST) {
                *offset = -1;
                *found_timestamp = -1;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

log_t *partition_detach_log(partition_t *p) {
    pthread_mutex_lock(&p->lock);
    log_t *log = p->log;
    p->log = NULL;
    p->is_leader = false;
    partition_wake_all(p);
    pthread_mutex_unlock(&p->lock);
    return log;
}

/* --- waiters ------------------------------------------------------------------------- */

void partition_watch(partition_t *p, partition_waiter_t *w) {
    pthread_mutex_lock(&p->lock);
    w->next = &p->waiters;
    w->prev = p->waiters.prev;
    p->waiters.prev->next = w;
    p->waiters.prev = w;
    pthread_mutex_unlock(&p->lock);
}

void partition_unwatch(partition_t *p, partition_waiter_t *w) {
    pthread_mutex_lock(&p->lock);
    if (w->next) {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        w->next = w->prev = NULL;
    }
    pthread_mutex_unlock(&p->lock);
}
