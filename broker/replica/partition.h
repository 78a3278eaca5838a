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
 * locked but a loop's task queue (a waiter's wake and the ISR sink post
 * there): see broker.h's lock order. Reads hand out file ranges of the
 * log that stay valid after the lock is released: the fd of a range is a
 * duplicate made under the lock, owned by the reader, so a StopReplica
 * deleting the log on another thread (which closes its files at once)
 * leaves it naming the segment file, never another one; and the bytes stay
 * in that file (segments are removed only after file.delete.delay.ms, and a
 * deleted file lives on while a duplicate is open).
 *
 * Leader side (Kafka 2.8's Partition, storage-and-replication.md §7): the
 * leader learns each follower's position from its fetches, moves the high
 * watermark to the smallest LEO among the ISR and the recently caught-up
 * followers, and decides ISR changes (expand on a caught-up fetch, shrink
 * on the replica manager's periodic scan). It never writes the ISR itself:
 * a change is proposed to the ISR sink (which posts it to ZooKeeper or the
 * controller) and counts once the outcome comes back
 * (partition_isr_committed / _rejected). One change at a time.
 *
 * Waiters come in two kinds: consumers and acks=all produces wait for the
 * high watermark, follower fetches for any append (else each replication
 * round would wait replica.fetch.wait.max.ms). Kept on separate lists so an
 * append that does not move the high watermark wakes no consumer.
 */
#ifndef SAMSA_PARTITION_H
#define SAMSA_PARTITION_H

#include "proto/kerr.h"
#include "log/leader_epoch.h"
#include "log/log.h"
#include "util/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Something waiting on a partition (a long-polling fetch, an acks=all
 * produce). wake is called with the partition's lock held, from the thread
 * that appended (or moved the high watermark): it must only hand the work
 * over to the waiter's own thread (and keep the waiter alive until that
 * work runs). Every waiter is also woken when the partition's role changes
 * or its log is detached. */
typedef struct partition_waiter {
    void (*wake)(struct partition_waiter *w);
    /* set before partition_watch: woken by every append (a follower's
     * fetch) instead of only when the high watermark moves */
    bool wants_appends;
    struct partition_waiter *next;
    struct partition_waiter *prev;
} partition_waiter_t;

/* The leader's view of one replica (Kafka's Replica): what its last fetch
 * reported and when it was last caught up. -1: unknown (no fetch yet in
 * this leadership). */
typedef struct partition_follower {
    int32_t broker_id;
    int64_t log_end_offset;
    int64_t log_start_offset;
    int64_t last_caught_up_ms;       /* its LEO last reached the leader's (§7.1) */
    int64_t last_fetch_ms;           /* the previous fetch: when ... */
    int64_t last_fetch_leader_leo;   /* ... and the leader's LEO then */
} partition_follower_t;

/* A proposed ISR change, as the ISR sink gets it. The pointers are the
 * partition's: valid only during the call. */
typedef struct partition_isr_change {
    const char *topic;
    int32_t partition;
    int32_t leader_id, leader_epoch, controller_epoch, zk_version;
    const int32_t *isr; /* the proposed ISR */
    int32_t nisr;
} partition_isr_change_t;

/* Where ISR changes go (the broker wires it to ZooKeeper or AlterIsr).
 * Called with the partition's lock held: it must only copy the change and
 * post it to another thread; the outcome comes back through
 * partition_isr_committed / partition_isr_rejected. */
typedef void (*partition_isr_sink_fn)(void *ctx, const partition_isr_change_t *change);

/* What the leader side of every partition shares; owned by the replica
 * manager, immutable once the broker serves. */
typedef struct partition_leader_config {
    int64_t replica_lag_time_max_ms;
    partition_isr_sink_fn isr_sink; /* NULL: no ISR change is proposed */
    void *isr_sink_ctx;
    /* ReplicaManager's IsrShrinksPerSec / IsrExpandsPerSec (metrics_global()),
     * counted when a change commits, as Kafka 2.8 does; NULL: not counted */
    metrics_counter_t *isr_shrinks, *isr_expands;
} partition_leader_config_t;

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
    int32_t *isr;    /* the committed ISR: the controller's, or our last change it accepted */
    int32_t nisr;
    /* The ISR change in flight (NULL: none): proposed, not yet committed.
     * While set no other change is proposed; the high watermark counts the
     * union of both ISRs (Kafka's maximal ISR: an expansion counts at once,
     * a shrink once committed). */
    int32_t *pending_isr;
    int32_t npending_isr;
    partition_follower_t *followers; /* one per replica */
    /* the leader's LEO when this epoch's leadership began: a follower
     * joins the ISR only once it has reached it (§7.4) */
    int64_t epoch_start_offset;
    int32_t min_isr; /* the topic's min.insync.replicas; 0: the broker's */

    /* circular list heads; under: lock (wake runs with it held) */
    partition_waiter_t hw_waiters;     /* woken when the high watermark moves */
    partition_waiter_t append_waiters; /* woken by every append */

    const partition_leader_config_t *leader_cfg; /* immutable: the replica manager's */
    /* immutable: this topic's BrokerTopicMetrics in metrics_global(), found
     * once here so that produce and fetch only add (relaxed atomics) */
    metrics_counter_t *messages_in, *bytes_in, *bytes_out;
} partition_t;

/* leader_cfg must outlive the partition. */
partition_t *partition_new(const char *topic, int32_t index, log_t *log, const partition_leader_config_t *leader_cfg);
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
 * in the leader-epoch cache, and resets its followers' state (§7.1) as of
 * now_ms (wall clock). Any ISR change in flight is forgotten. */
kerr_t partition_apply_state(partition_t *p, const partition_state_t *st, int32_t local_broker_id,
                             int64_t now_ms);

/* A topic's configuration changed (or was read when the log was created):
 * its log settings and min.insync.replicas (0: the broker's) apply from
 * the next append on. */
void partition_set_config(partition_t *p, const log_config_t *lc, int32_t min_isr);
/* min.insync.replicas for acks=all appends: the topic's, else broker_default. */
int32_t partition_min_isr(partition_t *p, int32_t broker_default);

/* Result of an append, as Produce reports it. */
typedef struct partition_append_result {
    int64_t base_offset;
    int64_t last_offset;
    int64_t log_append_time;
    int64_t log_start_offset;
} partition_append_result_t;

/* A leader's append of one producer batch (modified in place: offsets and
 * epoch). NOT_LEADER_OR_FOLLOWER if this broker does not lead;
 * NOT_ENOUGH_REPLICAS (nothing written) when min_isr > 0 — acks=all with
 * min.insync.replicas — and the ISR is smaller; the log's errors otherwise.
 * Wakes the follower fetches, and the high-watermark waiters when the high
 * watermark moved. */
kerr_t partition_append(partition_t *p, uint8_t *batch, size_t len, int32_t min_isr, int64_t now_ms,
                        partition_append_result_t *out);

/* What a fetch of one partition gets back. */
typedef struct partition_read_result {
    /* The batches read: a file range, data.fd a duplicate of the segment's
     * fd that the caller owns and closes (-1 when nothing was read), so
     * that the range stays the segment's even if the log is deleted once
     * the partition's lock is released; data.data is NULL. */
    log_read_info_t data;
    int64_t high_watermark;
    int64_t log_start_offset;
    int64_t log_end_offset;
    /* Fetch v12: the reader's log diverged from ours (nothing read): where
     * our log has its last fetched epoch end (Kafka's divergingEpoch). */
    bool diverged;
    leader_epoch_end_offset_t diverging_epoch;
} partition_read_result_t;

/* Who reads (one partition of a Fetch). */
typedef struct partition_reader {
    int32_t replica_id;           /* a follower's broker id; < 0: a consumer */
    int32_t current_leader_epoch; /* -1: not given */
    int64_t log_start_offset;     /* a follower's, as its fetch reports it; -1: not given */
    int64_t now_ms;               /* wall clock: when a follower fetched (catch-up times) */
    bool has_last_fetched_epoch;  /* Fetch v12 gave one (>= 0) */
    int32_t last_fetched_epoch;   /* the epoch of the reader's last batch */
} partition_reader_t;

/* Reads from offset: consumers up to the high watermark, followers up to
 * the LEO. current_leader_epoch is checked against ours
 * (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH). Only the leader serves reads
 * (NOT_LEADER_OR_FOLLOWER). A follower's fetch records its position
 * (§7.1), may move the high watermark and may propose adding it to the
 * ISR; a replica not assigned to the partition gets no data (Kafka).
 * With a last fetched epoch (Fetch v12, Kafka 2.7's truncation on fetch):
 * if our log ends that epoch before offset, or has only older epochs,
 * nothing is read or recorded and out->diverging_epoch says where the
 * reader truncates to (as OffsetsForLeaderEpoch would have). */
kerr_t partition_read(partition_t *p, int64_t offset, uint32_t max_bytes, bool min_one_message,
                      const partition_reader_t *reader, partition_read_result_t *out);

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

/* --- leader side: ISR and acks=all ---------------------------------------- */

/* Kafka's maybeShrinkIsr, for the replica manager's periodic scan: when
 * this broker leads and no change is in flight, proposes the ISR without
 * the followers that are out of sync — LEO below the leader's and not
 * caught up for longer than replica.lag.time.max.ms. The leader always
 * stays. Returns whether a change was proposed. */
bool partition_maybe_shrink_isr(partition_t *p, int64_t now_ms);

/* The proposed change was written with new_zk_version: isr becomes the
 * committed ISR and the high watermark is re-evaluated. Any thread. Ignored
 * when this broker no longer leads with leader_epoch, nothing is in
 * flight, or the version is older than ours (Kafka's
 * handleAlterIsrResponse). */
void partition_isr_committed(partition_t *p, int32_t leader_epoch, const int32_t *isr, int32_t nisr,
                             int32_t new_zk_version);

/* The proposed change failed for good (the sink retries what can be
 * retried). UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH and
 * INVALID_UPDATE_VERSION leave it in flight, so nothing more is proposed
 * until the next LeaderAndIsr brings the truth (Kafka 2.8 "gives up");
 * anything else drops it, and the next fetch or scan proposes again. Any
 * thread; ignored when the leader epoch moved on. */
void partition_isr_rejected(partition_t *p, int32_t leader_epoch, kerr_t error);

/* Kafka's checkEnoughReplicasReachOffset, for a waiting acks=all produce:
 * true once answerable, with *error NONE (the high watermark reached
 * required_offset — last offset + 1 — with min.insync.replicas in the
 * maximal ISR; the topic's, else broker_min_isr),
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND (reached, but the ISR is smaller) or
 * NOT_LEADER_OR_FOLLOWER (leadership moved); false while still waiting. */
bool partition_check_acks(partition_t *p, int64_t required_offset, int32_t broker_min_isr, kerr_t *error);
/* After a controlled shutdown the controller has moved every leadership
 * away from this broker, but a shutting-down broker gets no LeaderAndIsr
 * (Kafka sends it none): it stops leading here, so that the acks=all
 * produces waiting on it are answered NOT_LEADER_OR_FOLLOWER now (the
 * client retries on the new leader) instead of holding their connections
 * until the network's drain gives up. true if it was leading. */
bool partition_resign_leadership(partition_t *p);

/* Why an acks=all wait for required_offset has not ended, for the log:
 * "high watermark H, log end L, leader epoch E, ISR [..], follower log
 * ends [id@offset ..]" into buf. */
void partition_describe_acks_wait(partition_t *p, int64_t required_offset, char *buf, size_t size);

/* One replica's progress as the leader sees it. */
typedef struct partition_replica_progress {
    int32_t broker_id;
    bool in_isr;                   /* in the committed ISR */
    int64_t log_end_offset;        /* -1: unknown (no fetch since this broker took over) */
    int64_t log_start_offset;      /* -1: unknown */
    int64_t last_caught_up_ms_ago; /* -1: never since this broker took over; the leader: 0 */
} partition_replica_progress_t;

/* A leader's view of its partition (DescribeReplicaState). replicas is
 * owned by the struct: release with partition_replica_state_free. */
typedef struct partition_replica_state {
    int32_t leader_epoch;
    int64_t high_watermark;
    int64_t log_end_offset;
    int64_t log_start_offset;
    partition_replica_progress_t *replicas; /* in assignment order, the leader included */
    int32_t nreplicas;
} partition_replica_state_t;

/* Fills out under the lock, as of now_ms (wall clock): a consistent
 * snapshot, so lag = leader LEO - replica LEO is exact for that instant.
 * NOT_LEADER_OR_FOLLOWER (out zeroed, nothing to free) when this broker
 * does not lead. */
kerr_t partition_replica_state(partition_t *p, int64_t now_ms, partition_replica_state_t *out);
void partition_replica_state_free(partition_replica_state_t *st);

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
    /* the newest epoch of our leader-epoch cache (-1: none): what a
     * follower taking the partition over asks the leader about */
    int32_t latest_epoch;
} partition_follower_position_t;

kerr_t partition_follower_position(partition_t *p, partition_follower_position_t *out);

/* A fetcher takes the partition over after a LeaderAndIsr made this broker
 * its follower, and truncates the log to where its history and the
 * leader's part (KIP-101): leader_answer is the leader's OffsetsForLeaderEpoch
 * answer about position.latest_epoch, and leader_epoch_follower_truncation
 * decides. An undefined answer (no epoch information, on either side:
 * LEADER_EPOCH_UNDEFINED_EPOCH / _OFFSET) truncates to the high watermark,
 * as Kafka does. *complete false: truncated part of the way (the leader
 * lacks our latest epoch), ask again about the new latest epoch. Same
 * leader-epoch check as partition_follower_append (not the LEO). */
kerr_t partition_follower_truncate(partition_t *p, int32_t leader_epoch, leader_epoch_end_offset_t leader_answer,
                                   bool *complete);

/* The leader's half of that exchange (OffsetsForLeaderEpoch, Kafka's
 * Partition.lastOffsetForLeaderEpoch): where requested_epoch ends in our
 * log (leader_epoch_end_offset_for with our LEO). current_leader_epoch (-1:
 * not given) is fenced first (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH),
 * then NOT_LEADER_OR_FOLLOWER unless this broker leads. On error *out is
 * undefined (-1, -1). */
kerr_t partition_leader_epoch_end_offset(partition_t *p, int32_t current_leader_epoch, int32_t requested_epoch,
                                         leader_epoch_end_offset_t *out);

/* current_leader_epoch (-1: not given) against ours: NONE, or
 * FENCED_LEADER_EPOCH (older) / UNKNOWN_LEADER_EPOCH (newer), as Fetch,
 * ListOffsets and OffsetsForLeaderEpoch fence clients (KIP-320). Under
 * p->lock; defined in partition.c. */
kerr_t partition_check_epoch(const partition_t *p, int32_t current_leader_epoch);

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
