/*
 * metadata_cache — what this broker tells clients about the cluster: the
 * live brokers, the controller, and each topic's partitions with leader,
 * leader epoch, replicas, ISR and offline replicas (Kafka's MetadataCache,
 * fed by UpdateMetadata from the controller).
 *
 * Readers on every network loop take an immutable snapshot (reference
 * counted) and answer from it without holding any lock; an update builds the
 * next snapshot (copy on write). Updates are rare (controller decisions),
 * reads are every Metadata request.
 *
 * Threads: readers on the network loops (Metadata) and the admin worker
 * (Metadata that auto-creates, the admin APIs' waits); updates from the
 * UpdateMetadata handler on a network loop. Two locks, never held with any
 * other broker lock: write_lock (one update at a time) -> lock (the
 * current pointer and every snapshot's reference count).
 */
#ifndef SAMSA_METADATA_CACHE_H
#define SAMSA_METADATA_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mc_broker {
    int32_t id;
    char *host;
    int32_t port;
    char *rack; /* NULL: none */
} mc_broker_t;

typedef struct mc_partition {
    int32_t index;
    int32_t leader;       /* -1: none */
    int32_t leader_epoch;
    int32_t *replicas;
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
    int32_t *offline;
    int32_t noffline;
} mc_partition_t;

typedef struct mc_topic {
    char *name;
    bool internal;
    mc_partition_t *partitions; /* by index, 0..npartitions-1 */
    int32_t npartitions;
} mc_topic_t;

/* Immutable once published: readers share it without a lock. */
typedef struct mc_snapshot {
    mc_broker_t *brokers;
    size_t nbrokers;
    int32_t controller_id;
    mc_topic_t *topics; /* sorted by name */
    size_t ntopics;
    int refs; /* owned by the cache; under: the cache's lock */
} mc_snapshot_t;

typedef struct metadata_cache metadata_cache_t;

metadata_cache_t *metadata_cache_new(void);
void metadata_cache_free(metadata_cache_t *mc);

/* The current snapshot; release it with metadata_cache_release. Never NULL. */
const mc_snapshot_t *metadata_cache_acquire(metadata_cache_t *mc);
void metadata_cache_release(metadata_cache_t *mc, const mc_snapshot_t *s);

/* The topic in s, or NULL. */
const mc_topic_t *mc_snapshot_topic(const mc_snapshot_t *s, const char *name, size_t name_len);
const mc_broker_t *mc_snapshot_broker(const mc_snapshot_t *s, int32_t id);

/* --- updates: each publishes a new snapshot ----------------------------------- */

/* Replaces the broker list and the controller (copies everything). */
void metadata_cache_set_brokers(metadata_cache_t *mc, const mc_broker_t *brokers, size_t n,
                                int32_t controller_id);

/* Sets one partition's state, creating the topic (and growing its partition
 * list) as needed. Partitions below index that were never set stay
 * leaderless (-1). */
void metadata_cache_set_partition(metadata_cache_t *mc, const char *topic, const mc_partition_t *p);

/* Applies many partition states at once (one new snapshot). */
void metadata_cache_set_partitions(metadata_cache_t *mc, const char *const *topics, const mc_partition_t *ps,
                                   size_t n);

/* A LeaderAndIsr's leader, epoch, replicas and ISR, for the partitions the
 * cache knows at an older leader epoch (the offline replicas stay): the
 * controller sends UpdateMetadata after it, and a client asking meanwhile
 * — librdkafka asks every 250 ms while a leader is down, and its Metadata
 * waits here behind produces that the same LeaderAndIsr answers (net.h,
 * "Deferring") — would otherwise be told of the dead leader again and stop
 * asking. Topics and partitions the cache does not know are left to
 * UpdateMetadata. */
void metadata_cache_advance_partitions(metadata_cache_t *mc, const char *const *topics, const mc_partition_t *ps,
                                       size_t n);

void metadata_cache_remove_topic(metadata_cache_t *mc, const char *topic);

#endif
