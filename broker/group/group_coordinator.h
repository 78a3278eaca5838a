/*
 * group_coordinator — Kafka's GroupCoordinator and GroupMetadataManager
 * (consumer-groups.md): the consumer groups of the __consumer_offsets
 * partitions this broker leads, their state machine (Empty,
 * PreparingRebalance, CompletingRebalance, Stable, Dead), their members
 * and their committed offsets.
 *
 * One thread: the coordinator runs on an evloop of its own ("group") that
 * owns every group, member, offset and timer — no locks on group state.
 * The request handlers (broker/api/api_group.c) hand it a decoded request
 * as a gc_call_t (gc_submit) and the loop answers it, now or later, by
 * calling the call's answer function with the response struct; a request
 * that waits (a JoinGroup until the rebalance completes, a SyncGroup until
 * the leader's assignment is stored, an OffsetCommit until the offsets
 * partition's in-sync replicas have it) stays parked in the member or in
 * the pending store. Delayed joins, session deadlines and the initial
 * rebalance delay are evloop timers on that loop.
 *
 * Ownership: a call's body and arena are the caller's request; from
 * gc_submit until the answer the coordinator's loop alone touches them, and
 * builds the response in that arena. answer() runs on the coordinator's
 * loop, exactly once per call, and must encode (or copy) the response
 * before it returns: the strings in it may point into group state.
 *
 * Where groups live: partition abs(hash(group)) % N of __consumer_offsets
 * (group_records.h). gc_partition_role says when this broker becomes or
 * stops being that partition's leader (the replica manager's role hook,
 * on the thread that applied the LeaderAndIsr: it only posts); groups of a
 * partition not led here answer NOT_COORDINATOR.
 *
 * Persistence: group metadata (after the leader's SyncGroup, and when a
 * rebalance ends empty) and offset commits are appended to the group's
 * partition as its leader and answered once the partition's in-sync
 * replicas have them (partition_check_acks, offsets.commit.timeout.ms);
 * the in-memory offsets change only then. Loading replays the partition
 * from its log start to its log end in steps of offsets.load.buffer.size,
 * each step a task of its own so other partitions' groups are served in
 * between.
 *
 * Departures from Kafka 2.8: OffsetCommit/OffsetFetch v0 use
 * __consumer_offsets like v1+ (Kafka keeps v0 commits in ZooKeeper); a
 * record with an unknown key version is skipped with a warning while
 * loading (Kafka aborts that partition's load); KIP-211 tombstones are
 * appended like commits (Kafka sends them acks=0), nobody waits for them.
 */
#ifndef SAMSA_GROUP_COORDINATOR_H
#define SAMSA_GROUP_COORDINATOR_H

#include "proto/kproto.h"
#include "replica/metadata_cache.h"
#include "replica/replica_manager.h"
#include "util/config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gc gc_t;

typedef struct gc_deps {
    const config_t *cfg;            /* the group.* and offsets.* keys */
    int32_t broker_id;
    /* NULL (unit tests): groups are not written anywhere and every
     * partition counts as led here */
    replica_manager_t *replicas;
    /* NULL: every topic counts as existing (commits are not checked) */
    metadata_cache_t *metadata;
} gc_deps_t;

typedef void (*gc_answer_fn)(void *ctx, const void *resp);

/* One group request. */
typedef struct gc_call {
    int16_t api_key;        /* KP_API_JOIN_GROUP ... KP_API_OFFSET_DELETE */
    int16_t version;
    const void *body;       /* the decoded request (kproto_apis.h) */
    kp_arena_t *arena;      /* where the response is built */
    const char *client_id;  /* NUL-terminated; "" when none */
    const char *client_host; /* "/127.0.0.1", as Kafka prints it */
    gc_answer_fn answer;
    void *ctx;
} gc_call_t;

gc_t *gc_new(const gc_deps_t *deps, char *err, size_t errlen);
/* Starts the loop. */
int gc_start(gc_t *gc, char *err, size_t errlen);
/* Answers every parked call (NOT_COORDINATOR), drops every group, stops
 * the loop. Before the network stops, so the answers can still go out. */
void gc_stop(gc_t *gc);
void gc_free(gc_t *gc);

/* Any thread. Copies *call and posts it to the loop; -1 once stopped (the
 * caller answers or closes). */
int gc_submit(gc_t *gc, const gc_call_t *call);

/* Any thread (the replica manager's role hook): this broker now leads
 * partition `partition` of __consumer_offsets (its groups are loaded from
 * the log; COORDINATOR_LOAD_IN_PROGRESS meanwhile), or no longer does (its
 * groups are unloaded). */
void gc_partition_role(gc_t *gc, int32_t partition, bool leader, int32_t leader_epoch);

/* The replica manager's role-hook signature, for wiring: ctx is the gc_t;
 * topics other than __consumer_offsets are ignored. */
void gc_role_hook(void *ctx, const char *topic, int32_t partition, bool leader, int32_t leader_epoch);

/* Runs fn(arg) on the coordinator's loop and waits (tests, benchmarks). */
int gc_run_sync(gc_t *gc, void (*fn)(void *arg), void *arg);

/* Counts, for tests and the benchmark: groups in memory, offsets in
 * memory, partitions still loading. On the loop (gc_run_sync) only. */
typedef struct gc_stats {
    int64_t groups;
    int64_t offsets;
    int32_t loading;
    int32_t owned;
} gc_stats_t;
void gc_stats(gc_t *gc, gc_stats_t *out);

#endif
