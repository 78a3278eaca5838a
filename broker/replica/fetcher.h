/*
 * fetcher — replica fetchers: how a follower gets the leader's data (Kafka
 * 2.8's ReplicaFetcherManager / ReplicaFetcherThread).
 *
 * A fetcher manager keeps, per leader broker, num.replica.fetchers fetchers;
 * a partition goes to fetcher hash(topic, partition) % num.replica.fetchers
 * of its leader (fetcher_id_for, Kafka's getFetcherId). Each fetcher is an
 * evloop of its own ("fetch-<leader>-<n>") with one kclient to the leader
 * (resend off: a lost request is rebuilt from the logs, not replayed), and
 * sends ONE Fetch (v12, replica_id = this broker, no fetch session) for all
 * the partitions it follows, from each partition's log end offset, then the
 * next as soon as the answer is appended. The leader's long poll
 * (replica.fetch.wait.max.ms, replica.fetch.min.bytes) paces the rounds.
 *
 * Why loops of their own: appending fetched data copies it, checks every
 * batch's CRC and writes it to the page cache — time the network loops owe
 * to clients, and a slow disk would stall them for everyone.
 *
 * What a fetcher does per partition, as ReplicaFetcherThread does:
 *   taken over, with inter.broker.protocol.version 2.7-IV1 or later and a
 *                    log with epochs (Kafka 2.7's truncation on fetch)
 *                    fetches at once, sending its latest epoch as
 *                    last_fetched_epoch; a leader whose log parts from ours
 *                    answers a diverging epoch instead of data, and
 *                    partition_follower_truncate takes it as it takes an
 *                    OffsetsForLeaderEpoch answer (an incomplete truncation
 *                    goes on below)
 *   taken over       (otherwise: once per fetcher_manager_add) OffsetsForLeaderEpoch
 *                    (v3) about our latest epoch, and partition_follower_
 *                    truncate to where our history and the leader's part;
 *                    again while the leader answers an epoch we lack (the
 *                    KIP-279 loop); a log without epochs truncates to its
 *                    HW without asking. Only then does it fetch. An error
 *                    answer waits the backoff and asks again
 *                    (FENCED_LEADER_EPOCH parks it, as below)
 *   NONE             partition_follower_append (data, the leader's HW and
 *                    log start)
 *   OFFSET_OUT_OF_RANGE
 *                    ListOffsets (replica_id = this broker) for the leader's
 *                    end, then if needed its start, and
 *                    partition_follower_reset (truncate below, or start over
 *                    at the leader's log start); then fetching again
 *   FENCED_LEADER_EPOCH
 *                    (our epoch is older than the leader's) the partition
 *                    waits until a LeaderAndIsr re-points it (the next
 *                    fetcher_manager_add), as Kafka's onPartitionFenced
 *   anything else    (NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH, a lost
 *                    connection, a bad batch...) the partition waits
 *                    replica.fetch.backoff.ms, then is fetched again
 * Every partition_follower_* call re-checks the leader epoch the fetch was
 * built with, so a fetcher that has not yet processed a removal changes
 * nothing (partition.h, follower side).
 *
 * Threads. fetcher_manager_add / _remove / _shutdown_idle / _stop are called
 * from any thread (LeaderAndIsr on the admin worker, StopReplica on a
 * network loop, shutdown on main); they update the manager's table under its
 * mutex and post the change to the fetcher's loop, which alone touches its
 * partitions list, its kclient and its timer. The manager's mutex is taken
 * with no other lock held, and a fetcher takes partition locks only (never
 * the manager's): manager.lock -> an evloop's mutex is the only nesting.
 * A partition_t handed in must outlive the manager's stop (the replica
 * manager never frees partitions while the broker runs).
 */
#ifndef SAMSA_FETCHER_H
#define SAMSA_FETCHER_H

#include "util/config.h"
#include "proto/kproto.h"
#include "proto/kproto_apis.h"
#include "replica/partition.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FETCHER_FETCH_VERSION 12          /* truncation on fetch (IBP 2.7-IV1+) */
#define FETCHER_FETCH_VERSION_BEFORE_2_7 11 /* no last_fetched_epoch */
#define FETCHER_LIST_OFFSETS_VERSION 5
#define FETCHER_OFFSETS_FOR_LEADER_EPOCH_VERSION 3

typedef struct fetcher_config {
    int32_t broker_id;           /* this broker: every request's replica_id */
    int32_t num_fetchers;        /* num.replica.fetchers: fetchers per leader */
    int32_t max_wait_ms;         /* replica.fetch.wait.max.ms */
    int32_t min_bytes;           /* replica.fetch.min.bytes */
    int32_t max_bytes;           /* replica.fetch.response.max.bytes */
    int32_t partition_max_bytes; /* replica.fetch.max.bytes */
    int32_t backoff_ms;          /* replica.fetch.backoff.ms */
    int32_t request_timeout_ms;  /* replica.socket.timeout.ms */
    bool truncate_on_fetch;      /* inter.broker.protocol.version >= 2.7-IV1 */
} fetcher_config_t;

/* The broker's settings for the fetchers of broker broker_id. */
void fetcher_config_from(const config_t *cfg, int32_t broker_id, fetcher_config_t *out);

/* Which of a leader's num_fetchers fetchers follows topic-partition:
 * abs(31 * topic.hashCode() + partition) % num_fetchers with Java's String
 * hashCode, so that a mixed cluster spreads partitions as Kafka does. */
int32_t fetcher_id_for(const char *topic, int32_t partition, int32_t num_fetchers);

/* One partition of a fetcher's request: where it stands
 * (partition_follower_position). */
typedef struct fetcher_fetch_item {
    const char *topic;
    int32_t partition;
    partition_follower_position_t pos;
} fetcher_fetch_item_t;

/* The Fetch version cfg's fetchers send. */
int16_t fetcher_fetch_version(const fetcher_config_t *cfg);

/* Fills rq with the Fetch a fetcher sends for items: cfg's limits, each
 * partition's fetch offset, log start, leader epoch and (truncation on
 * fetch) latest epoch as last_fetched_epoch, grouped by
 * topic (topics in order of first appearance, partitions in item order).
 * Arrays and strings come from arena; rq borrows the topic names. */
void fetcher_build_fetch(const fetcher_config_t *cfg, const fetcher_fetch_item_t *items, size_t n,
                         kp_arena_t *arena, kp_fetch_req_t *rq);

/* Fills rq with the OffsetsForLeaderEpoch (v3) a fetcher sends for the
 * partitions it took over: replica_id = this broker, each partition's
 * current leader epoch and its latest epoch (pos.latest_epoch) to look up,
 * grouped by topic as fetcher_build_fetch does. Arrays come from arena; rq
 * borrows the topic names. */
void fetcher_build_offsets_for_leader_epoch(const fetcher_config_t *cfg, const fetcher_fetch_item_t *items,
                                            size_t n, kp_arena_t *arena, kp_offset_for_leader_epoch_req_t *rq);

/* How long a partition waits before it is asked for again after error,
 * the attempts-th answer in a row saying that the broker we follow has not
 * caught up with our LeaderAndIsr: UNKNOWN_LEADER_EPOCH (it is at an older
 * epoch) or NOT_LEADER_OR_FOLLOWER (it does not lead yet). The controller
 * sent its LeaderAndIsr with ours, so it is milliseconds away:
 * FETCHER_LEADER_BEHIND_RETRY_MS, doubling per attempt (attempts from 1),
 * up to backoff_ms. Anything else waits backoff_ms
 * (replica.fetch.backoff.ms), as Kafka's fetcher does for every error —
 * which after a failover kept a partition's acks=all waiting up to a
 * second after its new state had reached both brokers. */
#define FETCHER_LEADER_BEHIND_RETRY_MS 50
int32_t fetcher_retry_ms(kerr_t error, int32_t backoff_ms, int32_t attempts);

/* The length of the longest prefix of data made of whole batches (by their
 * length fields): a leader may cut the last batch of a partition short at
 * its size limit, and a follower keeps what came whole (Kafka's
 * MemoryRecords iteration stops there too). */
size_t fetcher_whole_batches(const uint8_t *data, size_t len);

typedef struct fetcher_manager fetcher_manager_t;

/* A leader as LeaderAndIsr's live_leaders names it. host is copied. */
typedef struct fetcher_leader {
    int32_t id;
    const char *host;
    int32_t port;
} fetcher_leader_t;

/* A manager with no fetchers yet (they start with their first partition). */
fetcher_manager_t *fetcher_manager_new(const fetcher_config_t *cfg);

/* Kafka's addFetcherForPartitions: p (which this broker now follows, after
 * partition_apply_state) is fetched from leader by its fetcher, which is
 * started when needed; p leaves any fetcher it was on first. A fetcher whose
 * leader moved to another endpoint reconnects there. Always takes the
 * partition over anew (it truncates again before fetching). 0, or -1
 * after fetcher_manager_stop or when a fetcher's loop cannot start (logged). */
int fetcher_manager_add(fetcher_manager_t *m, partition_t *p, const fetcher_leader_t *leader);

/* p is fetched by nobody from now on (a no-op when no fetcher has it). The
 * fetcher drops it when it next runs; until then it may still act on p, but
 * only within the leader epoch it fetched in (see above). */
void fetcher_manager_remove(fetcher_manager_t *m, partition_t *p);

/* Stops the fetchers left without partitions (Kafka's
 * shutdownIdleFetcherThreads, after each LeaderAndIsr): their connections
 * close. Joins their threads: not from a fetcher's own loop. */
void fetcher_manager_shutdown_idle(fetcher_manager_t *m);

/* Stops every fetcher and joins its thread: afterwards none touches a
 * partition or its log (the broker stops the manager before the logs
 * close). Idempotent. */
void fetcher_manager_stop(fetcher_manager_t *m);

/* Stops if needed and frees. NULL is a no-op. */
void fetcher_manager_free(fetcher_manager_t *m);

/* For tests and logs: the fetchers running, and the fetcher p is assigned
 * to (false when none). */
size_t fetcher_manager_count(fetcher_manager_t *m);
bool fetcher_manager_assignment(fetcher_manager_t *m, const partition_t *p, int32_t *leader_id, int32_t *fetcher_id);

#endif
