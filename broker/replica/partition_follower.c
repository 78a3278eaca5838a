/*
 * partition_follower — the follower side of a partition: what a replica
 * fetcher reads from it (where to fetch from) and does to it (truncate,
 * append the leader's batches, take the leader's high watermark and log
 * start offset). Kafka 2.8's Partition / Log calls from ReplicaFetcherThread.
 *
 * The fetcher runs on its own loop; LeaderAndIsr (admin worker) and
 * StopReplica (a network loop) change the partition meanwhile. So every call
 * re-checks, under the partition's lock, that this broker still follows in
 * the leader epoch the fetcher acted on, and does nothing otherwise: the
 * leader epoch is the fence, as currentLeaderEpoch is in Kafka's
 * PartitionFetchState.
 *
 * Taking a partition over truncates by leader epochs (KIP-101, KIP-279),
 * not to the high watermark: a follower's HW trails the leader's by a fetch,
 * so the records between them may be acknowledged ones the next leader
 * needs, and a log that kept a tail the new leader never had diverges from
 * it. The leader's half of that exchange, OffsetsForLeaderEpoch's answer,
 * lives here too: both ends read the same cache the same way.
 */
#include "replica/partition.h"

#include "util/logger.h"

#define FOLLOWER_TAG "partition"

/* Under p->lock. */
static bool partition_is_follower(const partition_t *p) { return p->log && !p->is_leader && p->leader_id >= 0; }

kerr_t partition_follower_position(partition_t *p, partition_follower_position_t *out) {
    pthread_mutex_lock(&p->lock);
    kerr_t e = KERR_NOT_LEADER_OR_FOLLOWER;
    if (partition_is_follower(p)) {
        *out = (partition_follower_position_t){
            .fetch_offset = log_end_offset(p->log),
            .log_start_offset = log_start_offset(p->log),
            .leader_id = p->leader_id,
            .leader_epoch = p->leader_epoch,
            .latest_epoch = leader_epoch_latest_epoch(log_leader_epochs(p->log)),
        };
        e = KERR_NONE;
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

/* Under p->lock: whether a fetcher's view (epoch, and the LEO it fetched
 * from when given) still holds. */
static kerr_t partition_follower_check(const partition_t *p, int32_t leader_epoch, int64_t fetch_offset) {
    if (!partition_is_follower(p))
        return KERR_NOT_LEADER_OR_FOLLOWER;
    if (p->leader_epoch != leader_epoch || (fetch_offset >= 0 && log_end_offset(p->log) != fetch_offset))
        return KERR_FENCED_LEADER_EPOCH;
    return KERR_NONE;
}

kerr_t partition_follower_truncate(partition_t *p, int32_t leader_epoch, leader_epoch_end_offset_t leader_answer,
                                   bool *complete) {
    pthread_mutex_lock(&p->lock);
    kerr_t e = partition_follower_check(p, leader_epoch, -1);
    *complete = false;
    if (e == KERR_NONE) {
        int64_t leo = log_end_offset(p->log), hw = log_high_watermark(p->log);
        leader_epoch_truncation_t t =
            leader_epoch_follower_truncation(log_leader_epochs(p->log), leo, hw, leader_answer);
        if (t.offset < leo)
            e = log_truncate_to(p->log, t.offset);
        if (e == KERR_NONE) {
            *complete = t.complete;
            if (t.offset < leo || !t.complete)
                log_info(FOLLOWER_TAG,
                         "%s-%d: follower of %d (epoch %d): leader has epoch %d up to %lld: truncated from %lld to "
                         "%lld (high watermark %lld)%s",
                         p->topic, p->index, p->leader_id, p->leader_epoch, leader_answer.epoch,
                         (long long)leader_answer.end_offset, (long long)leo, (long long)log_end_offset(p->log),
                         (long long)hw, t.complete ? "" : "; asking again about our previous epoch");
        }
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

kerr_t partition_leader_epoch_end_offset(partition_t *p, int32_t current_leader_epoch, int32_t requested_epoch,
                                         leader_epoch_end_offset_t *out) {
    *out = (leader_epoch_end_offset_t){LEADER_EPOCH_UNDEFINED_EPOCH, LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET};
    pthread_mutex_lock(&p->lock);
    kerr_t e = partition_check_epoch(p, current_leader_epoch);
    if (e == KERR_NONE && (!p->is_leader || !p->log))
        e = KERR_NOT_LEADER_OR_FOLLOWER;
    if (e == KERR_NONE)
        *out = leader_epoch_end_offset_for(log_leader_epochs(p->log), requested_epoch, log_end_offset(p->log));
    pthread_mutex_unlock(&p->lock);
    return e;
}

kerr_t partition_follower_append(partition_t *p, int32_t leader_epoch, int64_t fetch_offset, const uint8_t *batches,
                                 size_t len, int64_t leader_hw, int64_t leader_log_start, int64_t now_ms,
                                 partition_follower_append_result_t *out) {
    pthread_mutex_lock(&p->lock);
    kerr_t e = partition_follower_check(p, leader_epoch, fetch_offset);
    if (e == KERR_NONE && len > 0)
        e = log_append_as_follower(p->log, batches, len, now_ms, NULL);
    if (e == KERR_NONE) {
        int64_t leo = log_end_offset(p->log);
        /* The follower's HW trails the leader's by one fetch: it is the
         * leader's as of this response, bounded by what we hold. */
        if (leader_hw >= 0)
            log_set_high_watermark(p->log, leader_hw < leo ? leader_hw : leo);
        /* DeleteRecords or retention on the leader moves our start too; a
         * start beyond our HW cannot come from a consistent response. */
        if (leader_log_start > log_start_offset(p->log) &&
            log_advance_start_offset(p->log, leader_log_start) != KERR_NONE)
            log_debug(FOLLOWER_TAG, "%s-%d: leader log start %lld is beyond our high watermark %lld", p->topic,
                      p->index, (long long)leader_log_start, (long long)log_high_watermark(p->log));
        if (out)
            *out = (partition_follower_append_result_t){
                .log_end_offset = leo,
                .high_watermark = log_high_watermark(p->log),
                .log_start_offset = log_start_offset(p->log),
                .appended_bytes = (uint32_t)len,
            };
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

kerr_t partition_follower_reset(partition_t *p, int32_t leader_epoch, int64_t leader_log_end,
                                int64_t leader_log_start, int64_t now_ms, int64_t *out_fetch_offset) {
    pthread_mutex_lock(&p->lock);
    kerr_t e = partition_follower_check(p, leader_epoch, -1);
    if (e == KERR_NONE) {
        int64_t leo = log_end_offset(p->log);
        if (leader_log_end >= 0 && leader_log_end < leo) {
            /* Only after an unclean election: the records above the
             * leader's end are ours alone (Kafka does not repair the
             * mismatch below it either). */
            log_warn(FOLLOWER_TAG, "%s-%d: leader %d ends at %lld, below our end %lld: truncating", p->topic, p->index,
                     p->leader_id, (long long)leader_log_end, (long long)leo);
            e = log_truncate_to(p->log, leader_log_end);
        } else if (leader_log_start > leo) {
            log_warn(FOLLOWER_TAG, "%s-%d: leader %d starts at %lld, beyond our end %lld: starting over there",
                     p->topic, p->index, p->leader_id, (long long)leader_log_start, (long long)leo);
            e = log_truncate_fully_and_start_at(p->log, leader_log_start, now_ms);
        }
        if (out_fetch_offset)
            *out_fetch_offset = log_end_offset(p->log);
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}
