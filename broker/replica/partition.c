#include "replica/partition.h"

#include "log/leader_epoch.h"
#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTITION_TAG "partition"

/* Kafka's BrokerTopicMetrics (per topic, and all topics as the sum series)
 * in metrics_global(). */
static metrics_counter_t *partition_topic_counter(const char *name, const char *help, const char *topic) {
    metrics_family_t *f =
        metrics_family(metrics_global(), METRICS_COUNTER, name, help, "topic", NULL, 0, METRICS_SUM_SERIES);
    return metrics_family_counter(f, topic);
}

static void partition_count_isr_change(const partition_t *p, int32_t old_size, int32_t new_size) {
    const partition_leader_config_t *lc = p->leader_cfg;
    if (lc && lc->isr_expands && new_size > old_size)
        metrics_counter_inc(lc->isr_expands);
    else if (lc && lc->isr_shrinks && new_size < old_size)
        metrics_counter_inc(lc->isr_shrinks);
}

partition_t *partition_new(const char *topic, int32_t index, log_t *log, const partition_leader_config_t *leader_cfg) {
    partition_t *p = mem_calloc(1, sizeof *p);
    p->topic = mem_strdup(topic);
    p->index = index;
    p->log = log;
    p->leader_id = -1;
    p->leader_epoch = -1;
    p->controller_epoch = -1;
    p->zk_version = -1;
    p->leader_cfg = leader_cfg;
    p->messages_in = partition_topic_counter("kafka_server_brokertopicmetrics_messagesin",
                                             "Records appended by producers to partitions this broker leads", topic);
    p->bytes_in = partition_topic_counter("kafka_server_brokertopicmetrics_bytesin",
                                          "Record batch bytes appended by producers", topic);
    p->bytes_out = partition_topic_counter("kafka_server_brokertopicmetrics_bytesout",
                                           "Record batch bytes sent to consumers (not to followers)", topic);
    pthread_mutex_init(&p->lock, NULL);
    p->hw_waiters.next = p->hw_waiters.prev = &p->hw_waiters;
    p->append_waiters.next = p->append_waiters.prev = &p->append_waiters;
    return p;
}

void partition_free(partition_t *p) {
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p->followers);
    free(p->replicas);
    free(p->isr);
    free(p->pending_isr);
    free(p->topic);
    free(p);
}

/* --- followers and the high watermark --------------------------------------- */

static bool partition_ids_contain(const int32_t *ids, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Kafka's maximal ISR: the committed one plus a pending expansion (a
 * pending shrink is a subset of the committed ISR, so it changes nothing). */
static bool partition_in_maximal_isr(const partition_t *p, int32_t broker_id) {
    return partition_ids_contain(p->isr, p->nisr, broker_id) ||
           partition_ids_contain(p->pending_isr, p->npending_isr, broker_id);
}

static int32_t partition_maximal_isr_size(const partition_t *p) {
    int32_t n = p->nisr;
    for (int32_t i = 0; i < p->npending_isr; i++)
        if (!partition_ids_contain(p->isr, p->nisr, p->pending_isr[i]))
            n++;
    return n;
}

/* The entry of a replica other than the leader, or NULL. */
static partition_follower_t *partition_remote_replica(partition_t *p, int32_t broker_id) {
    if (broker_id == p->leader_id)
        return NULL;
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (p->followers[i].broker_id == broker_id)
            return &p->followers[i];
    return NULL;
}

/* Kafka's maybeIncrementLeaderHW: the smallest LEO among the leader and
 * the followers that are in the maximal ISR or were caught up within
 * replica.lag.time.max.ms — a caught-up follower not yet in the ISR holds
 * the HW back so that it can join. An unknown LEO (-1) holds it where it
 * is. Only forward. */
static bool partition_update_high_watermark(partition_t *p, int64_t now_ms) {
    int64_t hw = log_end_offset(p->log);
    for (int32_t i = 0; i < p->nreplicas; i++) {
        const partition_follower_t *f = &p->followers[i];
        if (f->broker_id == p->leader_id || f->log_end_offset >= hw)
            continue;
        if (partition_in_maximal_isr(p, f->broker_id) ||
            now_ms - f->last_caught_up_ms <= p->leader_cfg->replica_lag_time_max_ms)
            hw = f->log_end_offset;
    }
    if (hw > log_high_watermark(p->log)) {
        log_set_high_watermark(p->log, hw);
        return true;
    }
    return false;
}

static void partition_wake(partition_waiter_t *head) {
    for (partition_waiter_t *w = head->next; w != head;) {
        partition_waiter_t *next = w->next;
        w->wake(w);
        w = next;
    }
}

static void partition_wake_all(partition_t *p) {
    partition_wake(&p->hw_waiters);
    partition_wake(&p->append_waiters);
}

static void partition_update_high_watermark_and_wake(partition_t *p, int64_t now_ms) {
    if (partition_update_high_watermark(p, now_ms))
        partition_wake(&p->hw_waiters);
}

/* --- ISR changes ---------------------------------------------------------------- */

/* "1,2,3" into buf, for the log. */
static const char *partition_ids_str(const int32_t *ids, int32_t n, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%d", i ? "," : "", ids[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

static bool partition_can_propose_isr(const partition_t *p) {
    return p->is_leader && p->log && !p->pending_isr && p->leader_cfg->isr_sink;
}

/* Records isr (taken over) as the change in flight and hands it to the sink. */
static void partition_propose_isr(partition_t *p, int32_t *isr, int32_t nisr, const char *why) {
    p->pending_isr = isr;
    p->npending_isr = nisr;
    char from[256], to[256];
    log_info(PARTITION_TAG, "%s-%d: %s ISR from [%s] to [%s] (leader epoch %d, zk version %d)", p->topic, p->index,
             why, partition_ids_str(p->isr, p->nisr, from, sizeof from), partition_ids_str(isr, nisr, to, sizeof to),
             p->leader_epoch, p->zk_version);
    partition_isr_change_t change = {.topic = p->topic,
                                     .partition = p->index,
                                     .leader_id = p->leader_id,
                                     .leader_epoch = p->leader_epoch,
                                     .controller_epoch = p->controller_epoch,
                                     .zk_version = p->zk_version,
                                     .isr = isr,
                                     .nisr = nisr};
    p->leader_cfg->isr_sink(p->leader_cfg->isr_sink_ctx, &change);
}

/* Kafka's maybeExpandIsr: a follower outside the ISR joins once its LEO
 * reached both the high watermark and the start of this leader epoch. */
static void partition_maybe_expand_isr(partition_t *p, const partition_follower_t *f) {
    if (!partition_can_propose_isr(p) || partition_ids_contain(p->isr, p->nisr, f->broker_id))
        return;
    if (f->log_end_offset < log_high_watermark(p->log) || f->log_end_offset < p->epoch_start_offset)
        return;
    int32_t *isr = mem_alloc(((size_t)p->nisr + 1) * sizeof *isr);
    if (p->nisr)
        memcpy(isr, p->isr, (size_t)p->nisr * sizeof *isr);
    isr[p->nisr] = f->broker_id;
    partition_propose_isr(p, isr, p->nisr + 1, "expanding");
}

/* Replica.updateFetchState (§7.1): a follower fetching at offset has its
 * log end there; it was caught up now if that is the leader's LEO, or at
 * its previous fetch if it got at least as far as the leader's LEO was
 * then. */
static void partition_note_follower_fetch(partition_t *p, partition_follower_t *f, int64_t offset,
                                          int64_t log_start, int64_t now_ms) {
    int64_t leader_leo = log_end_offset(p->log);
    if (offset >= leader_leo) {
        if (now_ms > f->last_caught_up_ms)
            f->last_caught_up_ms = now_ms;
    } else if (offset >= f->last_fetch_leader_leo) {
        if (f->last_fetch_ms > f->last_caught_up_ms)
            f->last_caught_up_ms = f->last_fetch_ms;
    }
    bool moved = f->log_end_offset != offset;
    f->log_end_offset = offset;
    f->log_start_offset = log_start;
    f->last_fetch_ms = now_ms;
    f->last_fetch_leader_leo = leader_leo;
    partition_maybe_expand_isr(p, f);
    if (moved)
        partition_update_high_watermark_and_wake(p, now_ms);
}

bool partition_maybe_shrink_isr(partition_t *p, int64_t now_ms) {
    pthread_mutex_lock(&p->lock);
    if (!partition_can_propose_isr(p)) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    int64_t leader_leo = log_end_offset(p->log);
    int32_t *isr = mem_alloc(((size_t)p->nisr + 1) * sizeof *isr);
    int32_t n = 0;
    for (int32_t i = 0; i < p->nisr; i++) {
        const partition_follower_t *f = partition_remote_replica(p, p->isr[i]);
        bool out_of_sync = p->isr[i] != p->leader_id &&
                           (!f || (f->log_end_offset != leader_leo &&
                                   now_ms - f->last_caught_up_ms > p->leader_cfg->replica_lag_time_max_ms));
        if (!out_of_sync)
            isr[n++] = p->isr[i];
    }
    bool propose = n > 0 && n < p->nisr;
    if (propose) {
        partition_propose_isr(p, isr, n, "shrinking");
        partition_update_high_watermark_and_wake(p, now_ms);
    } else {
        free(isr);
    }
    pthread_mutex_unlock(&p->lock);
    return propose;
}

/* Whether an outcome for leader_epoch still concerns the change in flight. */
static bool partition_outcome_current(const partition_t *p, int32_t leader_epoch) {
    return p->is_leader && p->log && p->pending_isr && leader_epoch == p->leader_epoch;
}

void partition_isr_committed(partition_t *p, int32_t leader_epoch, const int32_t *isr, int32_t nisr,
                             int32_t new_zk_version) {
    pthread_mutex_lock(&p->lock);
    if (!partition_outcome_current(p, leader_epoch) || new_zk_version < p->zk_version) {
        log_debug(PARTITION_TAG, "%s-%d: ignoring ISR commit for leader epoch %d, version %d", p->topic, p->index,
                  leader_epoch, new_zk_version);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    partition_count_isr_change(p, p->nisr, nisr);
    free(p->isr);
    free(p->pending_isr);
    p->pending_isr = NULL;
    p->npending_isr = 0;
    p->isr = mem_alloc(((size_t)nisr + 1) * sizeof *p->isr);
    if (nisr)
        memcpy(p->isr, isr, (size_t)nisr * sizeof *p->isr);
    p->nisr = nisr;
    p->zk_version = new_zk_version;
    char buf[256];
    log_info(PARTITION_TAG, "%s-%d: ISR updated to [%s], zk version %d", p->topic, p->index,
             partition_ids_str(isr, nisr, buf, sizeof buf), new_zk_version);
    /* A committed shrink may let the high watermark move (Kafka 2.8 waits
     * for the next append or fetch; nothing is gained by waiting). */
    partition_update_high_watermark_and_wake(p, clock_wall_ms());
    pthread_mutex_unlock(&p->lock);
}

void partition_isr_rejected(partition_t *p, int32_t leader_epoch, kerr_t error) {
    pthread_mutex_lock(&p->lock);
    if (!partition_outcome_current(p, leader_epoch)) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    if (error == KERR_UNKNOWN_TOPIC_OR_PARTITION || error == KERR_FENCED_LEADER_EPOCH ||
        error == KERR_INVALID_UPDATE_VERSION) {
        log_info(PARTITION_TAG, "%s-%d: ISR change refused (%s): waiting for the controller's state", p->topic,
                 p->index, kerr_name(error));
    } else {
        log_warn(PARTITION_TAG, "%s-%d: ISR change failed (%s): will propose again", p->topic, p->index,
                 kerr_name(error));
        free(p->pending_isr);
        p->pending_isr = NULL;
        p->npending_isr = 0;
    }
    pthread_mutex_unlock(&p->lock);
}

bool partition_check_acks(partition_t *p, int64_t required_offset, int32_t broker_min_isr, kerr_t *error) {
    pthread_mutex_lock(&p->lock);
    bool done = true;
    if (!p->is_leader || !p->log) {
        *error = KERR_NOT_LEADER_OR_FOLLOWER;
    } else if (log_high_watermark(p->log) >= required_offset) {
        int32_t min_isr = p->min_isr > 0 ? p->min_isr : broker_min_isr;
        *error = partition_maximal_isr_size(p) >= min_isr ? KERR_NONE : KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    } else {
        done = false;
        *error = KERR_NONE;
    }
    pthread_mutex_unlock(&p->lock);
    return done;
}

bool partition_resign_leadership(partition_t *p) {
    pthread_mutex_lock(&p->lock);
    bool was = p->is_leader;
    if (was) {
        p->is_leader = false;
        p->leader_id = -1; /* the new one comes with the next LeaderAndIsr, if any */
        partition_wake_all(p);
    }
    pthread_mutex_unlock(&p->lock);
    return was;
}

void partition_describe_acks_wait(partition_t *p, int64_t required_offset, char *buf, size_t size) {
    pthread_mutex_lock(&p->lock);
    char isr[256], ends[512] = "";
    size_t used = 0;
    for (int32_t i = 0; i < p->nreplicas && used < sizeof ends; i++) {
        const partition_follower_t *f = &p->followers[i];
        if (f->broker_id == p->leader_id)
            continue;
        int w = snprintf(ends + used, sizeof ends - used, "%s%d@%" PRId64, used ? " " : "", f->broker_id,
                         f->log_end_offset);
        used += w > 0 ? (size_t)w : 0;
    }
    if (!p->is_leader || !p->log)
        snprintf(buf, size, "not the leader any more (leader %d, epoch %d)", p->leader_id, p->leader_epoch);
    else
        snprintf(buf, size,
                 "high watermark %" PRId64 " of %" PRId64 ", log end %" PRId64 ", leader epoch %d, ISR [%s]%s, "
                 "follower log ends [%s]",
                 log_high_watermark(p->log), required_offset, log_end_offset(p->log), p->leader_epoch,
                 partition_ids_str(p->isr, p->nisr, isr, sizeof isr), p->pending_isr ? " (a change pending)" : "",
                 ends);
    pthread_mutex_unlock(&p->lock);
}

/* --- state ------------------------------------------------------------------- */

static int32_t *partition_copy_ids(const int32_t *ids, int32_t n) {
    int32_t *out = mem_alloc(((size_t)n + 1) * sizeof *out);
    if (n)
        memcpy(out, ids, (size_t)n * sizeof *out);
    return out;
}

/* The new replica set's entries: a replica that stays keeps what the
 * leader knew of it (Kafka keeps its Replica object); a new one is unknown. */
static partition_follower_t *partition_new_followers(const partition_t *p, const int32_t *replicas, int32_t n) {
    partition_follower_t *fs = mem_calloc((size_t)n + 1, sizeof *fs);
    for (int32_t i = 0; i < n; i++) {
        fs[i] = (partition_follower_t){replicas[i], -1, -1, 0, 0, -1};
        for (int32_t j = 0; j < p->nreplicas; j++)
            if (p->followers[j].broker_id == replicas[i])
                fs[i] = p->followers[j];
    }
    return fs;
}

/* Kafka's makeLeader bookkeeping (§7.1): ISR members count as caught up
 * now, the others not at all; a broker that was not leading forgets the
 * followers' positions until they fetch again. */
static void partition_reset_followers(partition_t *p, bool was_leader, int64_t now_ms) {
    for (int32_t i = 0; i < p->nreplicas; i++) {
        partition_follower_t *f = &p->followers[i];
        if (f->broker_id == p->leader_id)
            continue;
        f->last_caught_up_ms = partition_ids_contain(p->isr, p->nisr, f->broker_id) ? now_ms : 0;
        f->last_fetch_ms = now_ms;
        f->last_fetch_leader_leo = p->epoch_start_offset;
        if (!was_leader) {
            f->log_end_offset = -1;
            f->log_start_offset = -1;
            f->last_fetch_ms = 0;
            f->last_fetch_leader_leo = -1;
        }
    }
}

kerr_t partition_apply_state(partition_t *p, const partition_state_t *st, int32_t local_broker_id,
                             int64_t now_ms) {
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
    partition_follower_t *followers = partition_new_followers(p, st->replicas, st->nreplicas);
    free(p->followers);
    free(p->replicas);
    free(p->isr);
    free(p->pending_isr); /* the controller's state supersedes any change in flight */
    p->pending_isr = NULL;
    p->npending_isr = 0;
    p->followers = followers;
    p->nreplicas = st->nreplicas;
    p->replicas = partition_copy_ids(st->replicas, st->nreplicas);
    p->nisr = st->nisr;
    p->isr = partition_copy_ids(st->isr, st->nisr);

    bool was_leader = p->is_leader;
    p->leader_id = st->leader_id;
    p->leader_epoch = st->leader_epoch;
    p->controller_epoch = st->controller_epoch;
    p->zk_version = st->zk_version;
    p->is_leader = st->leader_id == local_broker_id;
    if (p->is_leader) {
        /* A new leader starts its epoch at its log end offset (KIP-101); the
         * file follows within a tick (see leader_epoch_assign_deferred). */
        p->epoch_start_offset = log_end_offset(p->log);
        leader_epoch_assign_deferred(log_leader_epochs(p->log), st->leader_epoch, p->epoch_start_offset, NULL, 0);
        partition_reset_followers(p, was_leader, now_ms);
        partition_update_high_watermark(p, now_ms);
    }
    log_info(PARTITION_TAG, "%s-%d: %s, leader %d, epoch %d, isr size %d", p->topic, p->index,
             p->is_leader ? "leader" : "follower", st->leader_id, st->leader_epoch, st->nisr);
    partition_wake_all(p); /* waiting fetches and produces must notice the role change */
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
        out->last_offset = info.last_offset;
        out->log_append_time = info.log_append_time;
        out->log_start_offset = info.log_start_offset;
        metrics_counter_add(p->messages_in, (uint64_t)(info.last_offset - info.first_offset + 1));
        metrics_counter_add(p->bytes_in, len);
        partition_wake(&p->append_waiters);
        partition_update_high_watermark_and_wake(p, now_ms);
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

kerr_t partition_check_epoch(const partition_t *p, int32_t current_leader_epoch) {
    if (current_leader_epoch < 0 || current_leader_epoch == p->leader_epoch)
        return KERR_NONE;
    return current_leader_epoch < p->leader_epoch ? KERR_FENCED_LEADER_EPOCH : KERR_UNKNOWN_LEADER_EPOCH;
}

/* Replaces the segment's fd of a read by a duplicate the caller owns,
 * under p->lock: once the lock is released the log may be deleted and its
 * fd number reused by any open(), while the duplicate keeps naming the
 * segment file. The segment's mapping may go with the log too: no pointer
 * into it leaves the lock. Nothing read: no fd. */
static kerr_t partition_take_file(partition_t *p, log_read_info_t *data) {
    data->data = NULL;
    if (data->length == 0 || data->fd < 0) {
        data->fd = -1;
        return KERR_NONE;
    }
    data->fd = fcntl(data->fd, F_DUPFD_CLOEXEC, 0);
    if (data->fd >= 0)
        return KERR_NONE;
    log_warn(PARTITION_TAG, "%s-%d: cannot duplicate a segment's fd for a fetch: %s", p->topic, p->index,
             strerror(errno));
    data->length = 0;
    return KERR_UNKNOWN_SERVER_ERROR;
}

kerr_t partition_read(partition_t *p, int64_t offset, uint32_t max_bytes, bool min_one_message,
                      const partition_reader_t *reader, partition_read_result_t *out) {
    memset(out, 0, sizeof *out);
    out->data.fd = -1;
    pthread_mutex_lock(&p->lock);
    kerr_t e = KERR_NONE;
    if (!p->is_leader || !p->log) {
        pthread_mutex_unlock(&p->lock);
        out->high_watermark = out->log_start_offset = out->log_end_offset = -1;
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    e = partition_check_epoch(p, reader->current_leader_epoch);
    if (e == KERR_NONE && reader->has_last_fetched_epoch) {
        /* An epoch our cache cannot place (none above it, an empty cache)
         * is no evidence of divergence: the read goes on. */
        leader_epoch_end_offset_t end =
            leader_epoch_end_offset_for(log_leader_epochs(p->log), reader->last_fetched_epoch, log_end_offset(p->log));
        out->diverged = end.epoch != LEADER_EPOCH_UNDEFINED_EPOCH &&
                        (end.epoch < reader->last_fetched_epoch || end.end_offset < offset);
        if (out->diverged)
            out->diverging_epoch = end; /* nothing read, the offset not taken as the follower's end */
    }
    bool reads = e == KERR_NONE && !out->diverged;
    if (reads && reader->replica_id < 0) {
        e = log_read(p->log, offset, max_bytes, log_high_watermark(p->log), min_one_message, &out->data);
    } else if (reads) {
        /* The fetch offset is how the leader learns the follower's LEO.
         * An unassigned replica is answered with nothing (Kafka). */
        partition_follower_t *f = partition_remote_replica(p, reader->replica_id);
        if (f) {
            partition_note_follower_fetch(p, f, offset, reader->log_start_offset, reader->now_ms);
            e = log_read(p->log, offset, max_bytes, -1, min_one_message, &out->data);
        }
    }
    if (e == KERR_NONE)
        e = partition_take_file(p, &out->data);
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

/* --- the leader's view, for operators ----------------------------------------------- */

kerr_t partition_replica_state(partition_t *p, int64_t now_ms, partition_replica_state_t *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->lock);
    if (!p->is_leader || !p->log) {
        pthread_mutex_unlock(&p->lock);
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    out->leader_epoch = p->leader_epoch;
    out->high_watermark = log_high_watermark(p->log);
    out->log_end_offset = log_end_offset(p->log);
    out->log_start_offset = log_start_offset(p->log);
    out->nreplicas = p->nreplicas;
    out->replicas = mem_calloc((size_t)p->nreplicas + 1, sizeof *out->replicas);
    for (int32_t i = 0; i < p->nreplicas; i++) {
        const partition_follower_t *f = &p->followers[i];
        partition_replica_progress_t *r = &out->replicas[i];
        r->broker_id = f->broker_id;
        r->in_isr = partition_ids_contain(p->isr, p->nisr, f->broker_id);
        if (f->broker_id == p->leader_id) {
            r->log_end_offset = out->log_end_offset;
            r->log_start_offset = out->log_start_offset;
            r->last_caught_up_ms_ago = 0;
            continue;
        }
        r->log_end_offset = f->log_end_offset;
        r->log_start_offset = f->log_start_offset;
        /* 0 is partition_reset_followers' "not caught up at all"; a clock
         * that stepped back reads as just now */
        r->last_caught_up_ms_ago = f->last_caught_up_ms > 0
                                       ? (now_ms > f->last_caught_up_ms ? now_ms - f->last_caught_up_ms : 0)
                                       : -1;
    }
    pthread_mutex_unlock(&p->lock);
    return KERR_NONE;
}

void partition_replica_state_free(partition_replica_state_t *st) {
    free(st->replicas);
    st->replicas = NULL;
    st->nreplicas = 0;
}

/* --- waiters ------------------------------------------------------------------------- */

void partition_watch(partition_t *p, partition_waiter_t *w) {
    pthread_mutex_lock(&p->lock);
    partition_waiter_t *head = w->wants_appends ? &p->append_waiters : &p->hw_waiters;
    w->next = head;
    w->prev = head->prev;
    head->prev->next = w;
    head->prev = w;
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
