/*
 * replica_assign — where a new topic's (or new partitions') replicas go:
 * Kafka 2.8's AdminUtils.assignReplicasToBrokers, and the manual
 * assignments of kafka-topics.sh --replica-assignment.
 *
 * Rack-unaware (no broker has a rack): the first replica of partition p is
 * brokers[(p + start) % N]; the others follow it at an offset that grows by
 * one every N partitions (the "replica shift"), so that the followers of
 * one broker's partitions spread over all the others.
 *
 * Rack-aware (every broker has a rack): the same walk over a broker list
 * that alternates racks (racks sorted, each rack's brokers sorted by id,
 * one per rack in turn), skipping a broker whose rack already holds a
 * replica until every rack has one, and a broker already used until every
 * broker has one.
 *
 * Randomness. Without a fixed start index Kafka draws the start index and
 * then the initial shift, each uniform in [0, N). The caller may inject the
 * generator (tests get exact assignments); by default it is getrandom(2).
 *
 * The broker list is used in the order given, as Kafka's function does;
 * AdminZkClient sorts it by id first (tadmin does too).
 */
#ifndef SAMSA_REPLICA_ASSIGN_H
#define SAMSA_REPLICA_ASSIGN_H

#include "proto/kerr.h"
#include "zk/zkdata.h"

#include <stddef.h>
#include <stdint.h>

/* Largest number of replicas (partitions x replication factor) assigned in
 * one call. A topic znode must fit in ZooKeeper's 1 MB jute.maxbuffer and
 * every replica takes at least two bytes of JSON, so anything larger could
 * never be written; refusing it early keeps a bad request from allocating
 * gigabytes. */
#define RASSIGN_MAX_REPLICAS 1000000

typedef struct rassign_broker {
    int32_t id;
    const char *rack; /* NULL: no broker.rack (borrowed) */
} rassign_broker_t;

/* A uniform random integer in [0, bound), bound > 0. */
typedef uint32_t (*rassign_rand_fn)(void *ctx, uint32_t bound);

/* The default generator: getrandom(2), without modulo bias. ctx unused. */
uint32_t rassign_rand_system(void *ctx, uint32_t bound);

typedef struct rassign_params {
    const rassign_broker_t *brokers; /* in the order to use */
    size_t n_brokers;
    int32_t n_partitions;
    int32_t replication_factor;
    int32_t fixed_start_index;  /* < 0: random start index and shift */
    int32_t start_partition_id; /* < 0: 0 */
    rassign_rand_fn rand;       /* NULL: rassign_rand_system */
    void *rand_ctx;
} rassign_params_t;

/* Default parameters: no brokers, fixed_start_index and start_partition_id
 * -1, the system generator. */
void rassign_params_init(rassign_params_t *p);

/* Appends partitions start_partition_id .. + n_partitions - 1 with their
 * replicas to out (nothing is appended on error). Errors, with Kafka's
 * messages in err:
 *   KERR_INVALID_PARTITIONS          n_partitions <= 0 (or more than
 *                                    RASSIGN_MAX_REPLICAS replicas)
 *   KERR_INVALID_REPLICATION_FACTOR  replication factor <= 0, or larger
 *                                    than the number of brokers
 *   KERR_UNKNOWN_SERVER_ERROR        some brokers have a rack and some not
 *                                    (Kafka's AdminOperationException) */
kerr_t rassign_assign(const rassign_params_t *p, zkdata_topic_assignment_t *out, char *err, size_t errlen);

/* The rack-alternated broker list (ids) for brokers that all have racks,
 * written to out (n_brokers entries). */
void rassign_rack_alternated(const rassign_broker_t *brokers, size_t n_brokers, int32_t *out);

/* The fixed start index AdminZkClient uses when partitions are added: the
 * index in brokers (sorted by id) of the first broker whose id is >= the
 * first replica of partition 0, or 0 when there is none. The new partitions
 * then start at partition id = the current partition count. */
int32_t rassign_add_start_index(const rassign_broker_t *sorted_brokers, size_t n_brokers,
                                int32_t partition0_first_replica);

/* Parses kafka-topics.sh's --replica-assignment "1:2:3,2:3:1,..." (one
 * ':'-separated broker list per partition, partitions numbered from 0;
 * spaces around ids are allowed, an empty trailing list is dropped as Java's
 * split does). Appends the partitions to out. Errors are
 * KERR_INVALID_REPLICA_ASSIGNMENT with TopicCommand's messages for
 * duplicate brokers and unequal replica counts, and a clear one for text
 * that is not a list of integers. Nothing is appended on error. */
kerr_t rassign_parse(const char *text, zkdata_topic_assignment_t *out, char *err, size_t errlen);

#endif
