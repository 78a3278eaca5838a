/*
 * topic_admin — creating, deleting, growing and describing topics directly
 * in ZooKeeper, as Kafka 2.8's AdminZkClient does (kafka-topics.sh
 * --zookeeper, and the broker's CreateTopics/DeleteTopics/CreatePartitions
 * handlers).
 *
 * Every call is synchronous over a zkc_t the caller opened, and returns a
 * kerr_t with one line in msg (Kafka's message where Kafka has one). ZooKeeper
 * failures (lost connection, ...) are KERR_UNKNOWN_SERVER_ERROR with the
 * path and the ZooKeeper error in msg. Nothing here keeps state between
 * calls; results are owned by the caller and released with their _free.
 *
 * Live brokers are the children of /brokers/ids (their racks from the
 * registration JSON), sorted by id. Children that are not broker ids, that
 * vanish while being read or that do not decode are skipped with a warning
 * (a broker going away mid-read is normal).
 *
 * Writes follow Kafka's znode formats byte for byte (zkdata). Differences
 * from AdminZkClient, all on the safe side:
 *  - creation writes /config/topics/<t> and /brokers/topics/<t> in ONE
 *    multi-op (config first): a controller that sees the topic finds its
 *    config, as with Kafka's two writes, and a topic created concurrently
 *    never has its config overwritten;
 *  - adding partitions writes the topic znode conditionally on the version
 *    that was read, so a concurrent change fails (KERR_INVALID_UPDATE_VERSION)
 *    instead of being overwritten; a topic being reassigned is refused
 *    (KERR_REASSIGNMENT_IN_PROGRESS, as the CreatePartitions API does);
 *  - optionally (tadmin_create_t.check_brokers) the brokers of an explicit
 *    assignment must be registered.
 */
#ifndef SAMSA_TOPIC_ADMIN_H
#define SAMSA_TOPIC_ADMIN_H

#include "util/config.h"
#include "proto/kerr.h"
#include "admin/replica_assign.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How racks are used for an automatic assignment (Kafka's RackAwareMode). */
typedef enum tadmin_rack_mode {
    TADMIN_RACK_ENFORCED, /* racks used; some brokers without rack is an error */
    TADMIN_RACK_SAFE,     /* racks used only if every broker has one */
    TADMIN_RACK_DISABLED  /* racks ignored (--disable-rack-aware) */
} tadmin_rack_mode_t;

/* --- brokers ---------------------------------------------------------------------- */

typedef struct tadmin_brokers {
    rassign_broker_t *v; /* sorted by id; v[i].rack points into racks */
    char **racks;        /* owned; racks[i] is v[i].rack (NULL: none) */
    size_t n;
} tadmin_brokers_t;

void tadmin_brokers_free(tadmin_brokers_t *b);
/* The live brokers (see the header comment); out is initialised here. */
kerr_t tadmin_live_brokers(zkc_t *zk, tadmin_brokers_t *out, char *msg, size_t msglen);

/* --- configs -------------------------------------------------------------------------- */

/* LogConfig.validate: every key must be a topic config ("Unknown topic
 * config name: k"), every value valid for it, and min.compaction.lag.ms
 * not above max.compaction.lag.ms. KERR_INVALID_CONFIG otherwise. */
kerr_t tadmin_validate_configs(const zkdata_config_t *configs, char *msg, size_t msglen);

/* The overrides in /config/topics/<topic> (none when the node is missing);
 * out is initialised here. */
kerr_t tadmin_topic_configs(zkc_t *zk, const char *topic, zkdata_config_t *out, char *msg, size_t msglen);

/* What a broker creating or loading a log of topic uses (Kafka's
 * LogManager reading the topic's overrides): *out is a config_topic_t over
 * the broker's config holding the overrides, or NULL when there are none.
 * An override that does not validate is skipped with a warning. KERR_NONE,
 * or the read's error (then *out is NULL). */
kerr_t tadmin_topic_config_load(zkc_t *zk, const config_t *broker, const char *topic, config_topic_t **out,
                                char *msg, size_t msglen);

/* The last topic's loaded config, for callers that go through a topic's
 * partitions one after the other (log loading, a LeaderAndIsr request):
 * one ZooKeeper read per topic instead of one per partition. A failed read
 * is logged and gives NULL (broker defaults). Zero-initialise; free with
 * tadmin_config_cache_free. */
typedef struct tadmin_config_cache {
    char *topic;
    config_topic_t *cfg;
} tadmin_config_cache_t;

const config_topic_t *tadmin_config_cache_get(tadmin_config_cache_t *cache, zkc_t *zk, const config_t *broker,
                                              const char *topic);
void tadmin_config_cache_free(tadmin_config_cache_t *cache);

/* AdminZkClient.changeTopicConfig: replaces the topic's overrides with
 * configs (validated; the topic must exist: KERR_UNKNOWN_TOPIC_OR_PARTITION
 * "Topic 't' does not exist.") and writes a /config/changes notification
 * so brokers apply them. */
kerr_t tadmin_change_topic_configs(zkc_t *zk, const char *topic, const zkdata_config_t *configs, char *msg,
                                   size_t msglen);

/* --- create ----------------------------------------------------------------------------- */

/* kafka-topics.sh's warning for a name holding '.' or '_' (without a
 * newline), or NULL for other names. */
const char *tadmin_collision_warning(const char *topic);

typedef struct tadmin_create {
    const char *topic;
    int32_t partitions;         /* for an automatic assignment */
    int32_t replication_factor; /* for an automatic assignment */
    const zkdata_topic_assignment_t *assignment; /* explicit (partitions 0..n-1), or NULL */
    const zkdata_config_t *configs;              /* overrides, or NULL */
    tadmin_rack_mode_t rack_mode;
    bool validate_only;  /* check everything, write nothing */
    bool check_brokers;  /* explicit assignment: brokers must be live (Kafka does not check) */
    bool with_topic_id;  /* write a new topic_id (Kafka's IBP >= 2.8 broker path) */
    rassign_rand_fn rand; /* NULL: rassign_rand_system */
    void *rand_ctx;
} tadmin_create_t;

/* Kafka's createTopic / createTopicWithAssignment: computes the assignment
 * (live brokers and their racks, rack_mode), validates, then writes the
 * config and the topic. Errors in Kafka's order:
 *   KERR_UNKNOWN_SERVER_ERROR          racks on some brokers only (enforced)
 *   KERR_INVALID_PARTITIONS            partitions <= 0
 *   KERR_INVALID_REPLICATION_FACTOR    rf <= 0, rf > live brokers
 *   KERR_INVALID_TOPIC_EXCEPTION       illegal name; collision over '.'/'_'
 *                                      ("Topic 'a.b' collides with existing topics: a_b")
 *   KERR_TOPIC_ALREADY_EXISTS          "Topic 't' already exists." (also while
 *                                      it is marked for deletion)
 *   KERR_INVALID_REPLICA_ASSIGNMENT    explicit assignment: unequal replica
 *                                      counts, duplicate replicas, partitions
 *                                      not 0..n-1, no replicas, unknown brokers
 *   KERR_INVALID_CONFIG                see tadmin_validate_configs
 * out (may be NULL; initialised here) receives the assignment written, or
 * that would be written with validate_only, including the new topic id. */
kerr_t tadmin_create_topic(zkc_t *zk, const tadmin_create_t *req, zkdata_topic_assignment_t *out, char *msg,
                           size_t msglen);

/* --- delete ------------------------------------------------------------------------------- */

/* AdminZkClient.deleteTopic: creates /admin/delete_topics/<topic>; the
 * controller does the rest. KERR_UNKNOWN_TOPIC_OR_PARTITION ("Topic `t` to
 * delete does not exist") when the topic does not exist. When the marker
 * is already there (Kafka's TopicAlreadyMarkedForDeletionException, which
 * the DeleteTopics API answers with NONE) the result is KERR_NONE with
 * *already_marked set and "topic t is already marked for deletion" in msg. */
kerr_t tadmin_delete_topic(zkc_t *zk, const char *topic, bool *already_marked, char *msg, size_t msglen);

/* --- add partitions ------------------------------------------------------------------------ */

typedef struct tadmin_add_partitions {
    const char *topic;
    int32_t total; /* the partition count wanted */
    /* Replicas of the new partitions (ids current count .. total-1, in
     * order), or NULL for AdminUtils' placement continuing the topic's. */
    const zkdata_topic_assignment_t *assignment;
    tadmin_rack_mode_t rack_mode;
    bool validate_only;
    /* The CreatePartitions API's own checks first (Kafka's ZkAdminManager,
     * ahead of AdminZkClient): its wording for a count that is no increase,
     * and brokers not registered are INVALID_REPLICA_ASSIGNMENT "Unknown
     * broker(s) in replica assignment: 7, 9." rather than
     * BROKER_NOT_AVAILABLE. The assignment's partitions are then the new
     * ones in order, whatever ids they carry, as in the request. */
    bool api_checks;
} tadmin_add_partitions_t;

/* AdminZkClient.addPartitions. Errors:
 *   KERR_UNKNOWN_TOPIC_OR_PARTITION   "The topic 't' does not exist."
 *   KERR_REASSIGNMENT_IN_PROGRESS     a partition is being reassigned
 *   KERR_INVALID_PARTITIONS           "The number of partitions for a topic can
 *                                     only be increased. Topic t currently has
 *                                     3 partitions, 2 would not be an increase."
 *   KERR_INVALID_REPLICA_ASSIGNMENT   explicit: wrong count or ids, no
 *                                     replicas, duplicates, replication
 *                                     factor other than partition 0's
 *   KERR_BROKER_NOT_AVAILABLE         explicit: a broker is not live
 *                                     (api_checks: INVALID_REPLICA_ASSIGNMENT)
 *   KERR_INVALID_REPLICATION_FACTOR   automatic: fewer live brokers than
 *                                     partition 0's replicas
 *   KERR_INVALID_UPDATE_VERSION       the topic znode changed meanwhile
 * out (may be NULL; initialised here) receives the whole new assignment. */
kerr_t tadmin_add_partitions(zkc_t *zk, const tadmin_add_partitions_t *req, zkdata_topic_assignment_t *out,
                             char *msg, size_t msglen);

/* --- list and describe --------------------------------------------------------------------- */

typedef struct tadmin_topic_list {
    char **names; /* sorted */
    bool *marked; /* marked for deletion */
    size_t n;
} tadmin_topic_list_t;

void tadmin_topic_list_free(tadmin_topic_list_t *l);
/* Every topic (children of /brokers/topics); out is initialised here. */
kerr_t tadmin_list_topics(zkc_t *zk, tadmin_topic_list_t *out, char *msg, size_t msglen);

typedef struct tadmin_topic {
    zkdata_topic_assignment_t assignment; /* sorted by partition; topic_id "" when none */
    /* One per partition, in the same order: the state znode, or leader -1
     * and an empty ISR when the controller has not created it yet. */
    zkdata_partition_state_t *states;
    bool *has_state;
    zkdata_config_t configs; /* the overrides */
    bool marked_for_deletion;
} tadmin_topic_t;

void tadmin_topic_free(tadmin_topic_t *t);
/* KERR_UNKNOWN_TOPIC_OR_PARTITION ("Topic 't' does not exist.") when there
 * is no topic znode. out is initialised here. */
kerr_t tadmin_describe_topic(zkc_t *zk, const char *topic, tadmin_topic_t *out, char *msg, size_t msglen);

#endif
