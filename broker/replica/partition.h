/*
 * partition — one topic-partition hosted by this broker: its log, its role
 * (leader or follower), leader epoch, replica set and ISR, and the delayed
 * operations waiting for data on it (Kafka's Partition.scala).
 *
 * Threads: requests for the same partition arrive on different network
 * loops (and LeaderAndIsr on the admin worker, config changes on the
 * ZooKeeper loop, the log manager's tasks on the main thread), so every
 * call takes the partition's mutex; the log manager takes it around its
 * work on the log (replica_manager_lock_log). Under it nothing else is
 * locked but a waiter's loop queue (wake posts there): see broker.h's lock
 * order. Reads hand out file ranges of the log that stay valid after the
 * lock is released (segments are removed only after file.delete.delay.ms)
 * — except that a StopReplica deleting the log closes its files at once,
 * on another thread, possibly before the range is sent (broker.h, known
 * departures).
 *
 * Until replication lands the ISR of a leader is the leader alone, so its
 * high watermark follows the log end offset; the fields for followers'
 * fetch state are where replication will slot in.
 */
#ifndef SAMSA_PARTITION_H
#define SAMSA_PARTITION_H

#include "proto/kerr.h"
#include "log/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Something waiting for data on a partition (a long-polling fetch). wake is
 * called with the partition's lock held, from the thread that appended: it
 * must only hand the work over to the waiter's own thread (and keep the
 * waiter alive until that work runs). */
typedef struct partition_waiter {
    void (*wake)(struct partition_waiter *w);
    struct partition_waiter *next;
    struct partition_waiter *prev;
} partition_waiter_t;

/* A replica's log end offset as its last fetch reported it (the leader's
 * view of follower progress, Kafka's Replica.logEndOffset). */
typedef struct partition_follower {
    int32_t broker_id;
    int64_t log_end_offset;
} partition_follower_t;

typedef struct partition {
    char *topic;    /* immutable: the replica manager's table hashes it */
    int32_t index;  /* immutable */
    pthread_mutex_t lock;
    /* under: lock — the pointer and everything in the log_t (log.h is not
     * thread-safe). Owned by the log manager; NULL until the first
     * LeaderAndIsr attaches it and after StopReplica detaches it. */
    log_t *log;

    /* under: lock */
    bool is_leader;
    int32_t leader_id;
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t zk_version;
    int32_t *replicas;
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
    partition_follower_t *followers; /* one per replica */
    int32_t min_isr; /* the topic's min.insync.replicas; 0: the broker's */

    partition_waiter_t waiters; /* circular list head; under: lock (wake runs with it held) */
} partition_t;

partition_t *partition_new(const char *topic, int32_t index, log_t *log);
void partition_free(partition_t *p);

/* The state a LeaderAndIsr request (or local creation) sets. */
typedef struct partition_state {
    int32_t controller_epoch;
    int32_t leader_id;
    int32_t leader_epoch;
    int32_t zk_version;
    const int32_t *replicas;
    int32_t nreplicas;
    const int32_t *isr;
    int32_t nisr;
} partition_state_t;

/* Kafka's makeLeader / makeFollower: applies st when its leader epoch is
 * newer than the current one (or the partition has none yet); otherwise
 * STALE_CONTROLLER_EPOCH, as Kafka answers a stale LeaderAndIsr.
 * local_broker_id decides the role. A new leader records its epoch and LEO
 * in the leader-epoch cache. */
kerr_t partition_apply_state(partition_t *p, const partition_state_t *st, int32_t local_broker_id);

/* A topic's configuration changed (or was read when the log was created):
 * its log settings and min.insync.replicas (0: the broker's) apply from
 * the next append on. */
void partition_set_config(partition_t *p, const log_config_t *lc, int32_t min_isr);
/* min.insync.replicas for acks=all appends: the topic's, else broker_default. */
int32_t partition_min_isr(partition_t *p, int32_t broker_default);

/* Result of an append, as Produce reports it. */
typedef struct partition_append_result {
    int64_t base_offset;
    int64_t log_append_time;
    int64_t log_start_offset;
} partition_append_result_t;

/* A leader's append of one producer batch (modified in place: offsets and
 * epoch). NOT_LEADER_OR_FOLLOWER if this broker does not lead;
 * NOT_ENOUGH_REPLICAS (nothing written) when min_isr > 0 — acks=all with
 * min.insync.replicas — and the ISR is smaller; the log's errors otherwise.
 * Wakes the waiters on success. */
kerr_t partition_append(partition_t *p, uint8_t *batch, size_t len, int32_t min_isr, int64_t now_ms,
                        partition_append_result_t *out);

/* What a fetch of one partition gets back. */
typedef struct partition_read_result {
    log_read_info_t data;
    int64_t high_watermark;
    int64_t log_start_offset;
    int64_t log_end_offset;
} partition_read_result_t;

/* Reads from offset: consumers (replica_id < 0) up to the high watermark,
 * followers up to the LEO. current_leader_epoch (-1: not given) is checked
 * against ours (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH). Only the leader
 * serves reads (NOT_LEADER_OR_FOLLOWER). */
kerr_t partition_read(partition_t *p, int64_t offset, uint32_t max_bytes, bool min_one_message,
                      int32_t replica_id, int32_t current_leader_epoch, partition_read_result_t *out);

/* Bytes available to a consumer from offset up to the high watermark (0 if
 * none, or the offset is out of range) — what a delayed fetch compares with
 * min_bytes. */
uint64_t partition_bytes_available(partition_t *p, int64_t offset, int32_t replica_id);

/* ListOffsets: LOG_TIMESTAMP_LATEST / _EARLIEST or a timestamp. Consumers
 * see the high watermark as "latest". */
kerr_t partition_offset_for_timestamp(partition_t *p, int64_t timestamp, int32_t replica_id,
                                      int32_t current_leader_epoch, int64_t *offset, int64_t *found_timestamp,
                                      int32_t *leader_epoch);

/* StopReplica: the partition stops serving (NOT_LEADER_OR_FOLLOWER from now
 * on, waiters woken) and hands its log back to the caller, which may close
 * or delete it. The partition object itself stays valid (requests in flight
 * may still hold it) until the replica manager is freed. */
log_t *partition_detach_log(partition_t *p);

void partition_watch(partition_t *p, partition_waiter_t *w);
void partition_unwatch(partition_t *p, partition_waiter_t *w);


/* --- follower side, partition_follower.c --------------------------------------
 *
 * What a replica fetcher (fetcher.h) does to a partition this broker follows
 * (Kafka's ReplicaFetcherThread acting on Partition / Log). Each call takes
 * the partition's lock and re-checks that the broker is still a follower:
 * a LeaderAndIsr or StopReplica on another thread may have changed that since
 * the fetcher last looked, and a stale fetcher must change nothing.
 * "Follower" here: not the leader, a leader known (leader_id >= 0), the log
 * attached; otherwise NOT_LEADER_OR_FOLLOWER. */

/* Where a follower's next fetch starts and whom it asks. */
typedef struct partition_follower_position {
    int64_t fetch_offset;     /* the log end offset */
    int64_t log_start_offset;
    int32_t leader_id;
    int32_t leader_epoch;     /* sent as current_leader_epoch */
} partition_follower_position_t;

kerr_t partition_follower_position(partition_t *p, partition_follower_position_t *out);

/* A fetcher takes the partition after a LeaderAndIsr made this broker its
 * follower: the log is truncated to its high watermark, since what lies
 * above it may not be on the new leader (Kafka 2.8 without leader-epoch
 * information; truncating by epochs is issue 13). */
kerr_t partition_follower_prepare(partition_t *p);

/* What an append of fetched data left behind. */
typedef struct partition_follower_append_result {
    int64_t log_end_offset;
    int64_t high_watermark;
    int64_t log_start_offset;
    uint32_t appended_bytes; /* 0 for an empty fetch */
} partition_follower_append_result_t;

/* Appends the leader's batches (len bytes, maybe 0) unchanged
 * (log_append_as_follower: CRCs checked, offsets must continue the log),
 * then sets the high watermark to min(leader_hw, own LEO) — clamped to the
 * log start — and moves the log start up to leader_log_start when that is
 * larger. Only if the partition still follows in leader_epoch and its LEO is
 * still fetch_offset (the state the fetch was built from): otherwise
 * FENCED_LEADER_EPOCH and nothing changes (a stale response; the next fetch
 * starts from the new state). The log's errors otherwise (CORRUPT_MESSAGE,
 * OFFSET_OUT_OF_RANGE, KAFKA_STORAGE_ERROR). batches is only read. */
kerr_t partition_follower_append(partition_t *p, int32_t leader_epoch, int64_t fetch_offset, const uint8_t *batches,
                                 size_t len, int64_t leader_hw, int64_t leader_log_start, int64_t now_ms,
                                 partition_follower_append_result_t *out);

/* The leader answered a fetch with OFFSET_OUT_OF_RANGE and, asked with
 * ListOffsets, gave its log end offset (and, when the fetcher asked for it,
 * its log start offset; -1 when not asked). Kafka's fetchOffsetAndTruncate:
 * a leader that ends below our LEO (an unclean election) makes us truncate
 * to its end; a leader whose log starts above our LEO (we were away while
 * it deleted old segments) makes us drop the log and start again at its log
 * start; anything else changes nothing (the next fetch retries). Same
 * leader-epoch check as partition_follower_append. *out_fetch_offset: the
 * LEO afterwards. */
kerr_t partition_follower_reset(partition_t *p, int32_t leader_epoch, int64_t leader_log_end,
                                int64_t leader_log_start, int64_t now_ms, int64_t *out_fetch_offset);

#endif
