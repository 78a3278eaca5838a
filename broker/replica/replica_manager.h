/*
 * replica_manager — the partitions this broker hosts (Kafka's
 * ReplicaManager): finding them for requests, and changing their role when
 * the controller says so (LeaderAndIsr, StopReplica) with Kafka's fencing of
 * deposed controllers.
 *
 * Lookups run on every network loop at once: the table is guarded by a
 * read-write lock and partitions are never freed while the broker runs
 * (a stopped partition keeps its object; only its log goes), so a pointer a
 * request holds stays valid.
 *
 * Locks (broker.h has the whole map): logs_lock serialises every use of
 * the log manager — creating a log (LeaderAndIsr, admin worker), deleting
 * one (StopReplica, a network loop) and the background tasks (main
 * thread); the table's rwlock guards the slots and the controller epoch;
 * each partition's own mutex its state and log. Order: logs_lock ->
 * table lock -> partition lock. The log manager's tasks, run under
 * logs_lock, lock each partition through replica_manager_lock_log, which
 * releases the table lock before taking the partition's.
 *
 * Leader side: the replica manager holds what every led partition shares
 * (replica.lag.time.max.ms, the ISR sink) and runs the periodic ISR
 * shrink scan over them; the decisions themselves are the partition's.
 */
#ifndef SAMSA_REPLICA_MANAGER_H
#define SAMSA_REPLICA_MANAGER_H

#include "util/config.h"
#include "proto/kerr.h"
#include "log/log_manager.h"
#include "replica/partition.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct replica_manager replica_manager_t;

/* The log manager must outlive the replica manager. cfg gives the leader
 * side's settings (replica.lag.time.max.ms); it is not kept. */
replica_manager_t *replica_manager_new(log_manager_t *logs, int32_t broker_id, const config_t *cfg);
void replica_manager_free(replica_manager_t *rm);

int32_t replica_manager_broker_id(const replica_manager_t *rm);

/* The partition, or NULL when this broker does not host it. */
partition_t *replica_manager_get(replica_manager_t *rm, const char *topic, int32_t partition);

/* A controller request carries the controller's epoch: one older than the
 * newest seen is from a deposed controller and is refused
 * (STALE_CONTROLLER_EPOCH); a newer one is remembered. */
kerr_t replica_manager_check_controller_epoch(replica_manager_t *rm, int32_t controller_epoch);

/* LeaderAndIsr for one partition: creates the partition and its log when
 * needed (with the topic's settings, NULL = broker defaults), then applies
 * the state (partition_apply_state). */
kerr_t replica_manager_apply(replica_manager_t *rm, const char *topic, int32_t partition,
                             const partition_state_t *st, const config_topic_t *topic_cfg, int64_t now_ms);

/* The topic's overrides changed (a /config/changes notification): every
 * hosted partition of it takes the new log settings and min.insync.replicas
 * (topic_cfg NULL: back to the broker's). Returns how many partitions. */
int replica_manager_reconfigure_topic(replica_manager_t *rm, const config_t *broker, const char *topic,
                                      const config_topic_t *topic_cfg);

/* StopReplica for one partition: stops serving it and, with delete, removes
 * its log. A partition not hosted here is not an error (Kafka answers NONE). */
kerr_t replica_manager_stop(replica_manager_t *rm, const char *topic, int32_t partition, bool delete_log);

/* The log manager's background tasks (retention, flushes, checkpoints),
 * serialised with log creation and deletion. */
kerr_t replica_manager_tick_logs(replica_manager_t *rm, int64_t now_ms);

/* A log_manager_lock_fn: ctx points at a replica_manager_t * (which may
 * still be NULL while the log manager opens, before the replica manager
 * exists). Locks the partition owning the log. */
void replica_manager_lock_log(void *ctx, const char *topic, int32_t partition, bool lock);

/* --- leader side: ISR changes ------------------------------------------------ */

/* Where the led partitions propose ISR changes (partition_isr_sink_fn: it
 * runs under the partition's lock and must only copy and post). Set at
 * start-up, before the first LeaderAndIsr; until then, and without one,
 * no change is proposed. */
void replica_manager_set_isr_sink(replica_manager_t *rm, partition_isr_sink_fn fn, void *ctx);

/* Kafka's isr-expiration task: every replica.lag.time.max.ms / 2 (calls
 * in between return 0 at once), each led partition drops its out-of-sync
 * followers (partition_maybe_shrink_isr). Meant for a periodic tick (the
 * main thread's); now_ms is wall clock. Returns how many partitions
 * proposed a shrink. */
int replica_manager_maybe_shrink_isrs(replica_manager_t *rm, int64_t now_ms);

/* The outcome of a proposed change, as the sink's far side reports it
 * (any thread): error NONE commits isr / new_zk_version
 * (partition_isr_committed), anything else rejects it
 * (partition_isr_rejected). A partition not hosted is ignored. */
void replica_manager_isr_change_done(replica_manager_t *rm, const char *topic, int32_t partition,
                                     int32_t leader_epoch, kerr_t error, const int32_t *isr, int32_t nisr,
                                     int32_t new_zk_version);

/* Iteration over hosted partitions (those with a log), e.g. for metadata. */
/* Told when this broker becomes a partition's leader (leader true, with
 * its leader epoch) or stops hosting it / becomes a follower (false), after
 * a LeaderAndIsr or StopReplica took effect; on the thread that applied it,
 * with no lock held: it must only post. The group coordinator loads and
 * unloads its groups this way. Set at start-up, before the first
 * LeaderAndIsr. */
typedef void (*replica_manager_role_fn)(void *ctx, const char *topic, int32_t partition, bool leader,
                                        int32_t leader_epoch);
void replica_manager_set_role_hook(replica_manager_t *rm, replica_manager_role_fn fn, void *ctx);

typedef void (*replica_manager_fn)(void *ctx, partition_t *p);
void replica_manager_for_each(replica_manager_t *rm, replica_manager_fn fn, void *ctx);

/* Kafka's ReplicaManager gauges, counted over the hosted partitions, each
 * under its lock (for a scrape: never on the data path). */
typedef struct replica_manager_counts {
    int32_t partitions;       /* PartitionCount */
    int32_t leaders;          /* LeaderCount */
    int32_t under_replicated; /* led here, committed ISR smaller than the replica set */
} replica_manager_counts_t;
void replica_manager_counts(replica_manager_t *rm, replica_manager_counts_t *out);

#endif
