/*
 * zkdata — what Kafka 2.8 (ZooKeeper mode) keeps in ZooKeeper: the paths of
 * its znodes and the exact data in them (kafka/zk/ZkData.scala).
 *
 * Paths: fixed ones are ZKDATA_PATH_* constants; the builders for per-broker,
 * per-topic and per-partition paths write into a caller's buffer
 * (ZKDATA_PATH_MAX is always enough for a legal topic name) and return the
 * length, or -1 when the name is empty, holds a '/', or does not fit.
 *
 * Data: each znode kind has an encoder that appends the bytes Kafka writes
 * to a buf_t, and a decoder that parses what any Kafka 2.x broker or tool
 * writes (by key name; unknown keys are ignored, fields missing in older
 * versions are optional exactly where Kafka treats them so). Decoders never
 * trust their input: malformed JSON, a missing required field or a field of
 * the wrong type is an error with one line in err; they never crash. A
 * decoded struct owns its strings and arrays and is released with its _free
 * function (also after a failed decode).
 *
 * Byte-exact output. Kafka serialises Scala maps through Jackson, so the key
 * order is the iteration order of the Scala collection it built: small
 * immutable maps (up to four keys) keep insertion order, larger immutable
 * maps and sets are hash tries (CHAMP), mutable maps and sets are hash tables
 * ordered by bucket, and topic configs are a java.util.Properties (a
 * ConcurrentHashMap). Samsa reproduces the order of Kafka 2.8 as distributed
 * for Scala 2.13 running on Java 11, e.g.
 *
 *   /brokers/ids/1  {"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
 *                    "endpoints":["PLAINTEXT://kafka1:9092"],"jmx_port":-1,"port":9092,
 *                    "host":"kafka1","version":5,"timestamp":"1600000000000"}
 *   /brokers/topics/t  {"partitions":{"0":[1,2,3]},"topic_id":"...","adding_replicas":{},
 *                       "removing_replicas":{},"version":3}
 *   .../partitions/0/state  {"controller_epoch":3,"leader":1,"version":1,"leader_epoch":5,"isr":[1,2]}
 *
 * Readers must not depend on it (Kafka does not), but byte-identical znodes
 * make samsa's ZooKeeper data indistinguishable from Kafka's.
 */
#ifndef SAMSA_ZKDATA_H
#define SAMSA_ZKDATA_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- paths ------------------------------------------------------------------ */

#define ZKDATA_PATH_MAX 512

#define ZKDATA_PATH_CONTROLLER "/controller"
#define ZKDATA_PATH_CONTROLLER_EPOCH "/controller_epoch"
#define ZKDATA_PATH_CLUSTER_ID "/cluster/id"
#define ZKDATA_PATH_BROKERS "/brokers"
#define ZKDATA_PATH_BROKER_IDS "/brokers/ids"
#define ZKDATA_PATH_BROKER_TOPICS "/brokers/topics"
#define ZKDATA_PATH_BROKER_SEQID "/brokers/seqid"
#define ZKDATA_PATH_CONFIG "/config"
#define ZKDATA_PATH_CONFIG_CHANGES "/config/changes"
/* Create path of a persistent-sequential change notification. */
#define ZKDATA_PATH_CONFIG_CHANGE_PREFIX "/config/changes/config_change_"
#define ZKDATA_CONFIG_CHANGE_SEQ_PREFIX "config_change_"
#define ZKDATA_PATH_ADMIN "/admin"
#define ZKDATA_PATH_DELETE_TOPICS "/admin/delete_topics"
#define ZKDATA_PATH_PREFERRED_REPLICA_ELECTION "/admin/preferred_replica_election"
#define ZKDATA_PATH_REASSIGN_PARTITIONS "/admin/reassign_partitions"
#define ZKDATA_PATH_ISR_CHANGE_NOTIFICATION "/isr_change_notification"
#define ZKDATA_PATH_ISR_CHANGE_PREFIX "/isr_change_notification/isr_change_"
#define ZKDATA_ISR_CHANGE_SEQ_PREFIX "isr_change_"
#define ZKDATA_PATH_LOG_DIR_EVENT_NOTIFICATION "/log_dir_event_notification"
#define ZKDATA_PATH_LOG_DIR_EVENT_PREFIX "/log_dir_event_notification/log_dir_event_"
#define ZKDATA_LOG_DIR_EVENT_SEQ_PREFIX "log_dir_event_"
#define ZKDATA_PATH_LATEST_PRODUCER_ID_BLOCK "/latest_producer_id_block"
#define ZKDATA_PATH_CONSUMERS "/consumers"
#define ZKDATA_PATH_FEATURE "/feature"

/* Config entity types of 2.8 (ConfigType.all), for zkdata_path_config. */
#define ZKDATA_CONFIG_TOPICS "topics"
#define ZKDATA_CONFIG_CLIENTS "clients"
#define ZKDATA_CONFIG_USERS "users"
#define ZKDATA_CONFIG_BROKERS "brokers"
#define ZKDATA_CONFIG_IPS "ips"

/* The persistent paths every broker creates at start-up when absent (null
 * data, parents created as needed), in Kafka's order
 * (ZkData.PersistentZkPaths: /consumers, /brokers/ids, /brokers/topics,
 * /config/changes, /admin/delete_topics, /brokers/seqid,
 * /isr_change_notification, /latest_producer_id_block,
 * /log_dir_event_notification, then /config/<type> for each type).
 * NULL-terminated; *n (may be NULL) receives the count. */
const char *const *zkdata_persistent_paths(size_t *n);

/* /brokers/ids/<id> */
int zkdata_path_broker(char *out, size_t outlen, int32_t broker_id);
/* /brokers/topics/<topic> */
int zkdata_path_topic(char *out, size_t outlen, const char *topic);
/* /brokers/topics/<topic>/partitions */
int zkdata_path_topic_partitions(char *out, size_t outlen, const char *topic);
/* /brokers/topics/<topic>/partitions/<p> */
int zkdata_path_topic_partition(char *out, size_t outlen, const char *topic, int32_t partition);
/* /brokers/topics/<topic>/partitions/<p>/state */
int zkdata_path_partition_state(char *out, size_t outlen, const char *topic, int32_t partition);
/* /config/<type>/<name>; name may hold '/' only for users/<u>/clients/<c>. */
int zkdata_path_config(char *out, size_t outlen, const char *entity_type, const char *entity_name);
/* /config/topics/<topic> */
int zkdata_path_topic_config(char *out, size_t outlen, const char *topic);
/* /admin/delete_topics/<topic> — the deletion marker; its data is null. */
int zkdata_path_delete_topic(char *out, size_t outlen, const char *topic);

/* The sequence number a sequential child name ends with, e.g.
 * "isr_change_0000000042" with prefix "isr_change_" -> 42. -1 when name does
 * not start with prefix followed by only digits. */
int64_t zkdata_sequence_number(const char *name, const char *prefix);

/* --- ids --------------------------------------------------------------------- */

/* Kafka's printed form of a UUID (cluster id, topic id): the 16 bytes in
 * URL-safe base64 without padding, 22 characters. */
#define ZKDATA_UUID_LEN 22

/* A random (version 4) UUID in that form, as java.util.UUID.randomUUID gives
 * for a new cluster id or topic id. Never the all-zero id. */
void zkdata_uuid_generate(char out[ZKDATA_UUID_LEN + 1]);
/* Whether s is 22 URL-safe base64 characters that decode to 16 bytes. */
bool zkdata_uuid_valid(const char *s);

/* --- /controller, /controller_epoch --------------------------------------------- */

/* {"version":1,"brokerid":<id>,"timestamp":"<ms>"} */
void zkdata_controller_encode(buf_t *out, int32_t broker_id, int64_t timestamp_ms);
/* The brokerid (the only field Kafka reads); accepts 2.x's version 1 and
 * later versions' extra keys. */
int zkdata_controller_decode(const void *data, size_t len, int32_t *broker_id, char *err, size_t errlen);

/* Plain decimal text, e.g. "7" (not JSON). */
void zkdata_controller_epoch_encode(buf_t *out, int32_t epoch);
/* Java's Integer.parseInt: optional sign, digits, int32 range, nothing else. */
int zkdata_controller_epoch_decode(const void *data, size_t len, int32_t *epoch, char *err, size_t errlen);

/* --- /cluster/id ------------------------------------------------------------------- */

/* {"version":"1","id":"<id>"} — version is a string here. -1 only if id is
 * not valid UTF-8. */
int zkdata_cluster_id_encode(buf_t *out, const char *id, char *err, size_t errlen);
/* *id: the "id" string (owned by the caller, free()). */
int zkdata_cluster_id_decode(const void *data, size_t len, char **id, char *err, size_t errlen);

/* --- /brokers/ids/<id> -------------------------------------------------------------- */

typedef struct zkdata_endpoint {
    char *listener;          /* listener name, e.g. "PLAINTEXT", "INTERNAL" */
    char *security_protocol; /* PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL */
    char *host;              /* NULL: none (written ":<port>") */
    int32_t port;
} zkdata_endpoint_t;

typedef struct zkdata_broker {
    int32_t version;     /* decoded; the encoder takes its own argument */
    zkdata_endpoint_t *endpoints; /* advertised listeners, in order */
    size_t n_endpoints;
    char *rack;          /* NULL: no broker.rack */
    int32_t jmx_port;    /* -1: JMX disabled */
    int64_t timestamp_ms;
    /* Legacy top-level fields. The decoder gives the JSON's "host" and
     * "port" (NULL / -1 when absent or null); the encoder ignores these and
     * writes the first endpoint whose security protocol is PLAINTEXT (null /
     * -1 without one), as Kafka. */
    char *host;
    int32_t port;
} zkdata_broker_t;

/* Broker registration version for an inter.broker.protocol.version: 5 from
 * 2.7-IV0 on (samsa's 2.8), 4 below. */
#define ZKDATA_BROKER_VERSION 5

void zkdata_broker_init(zkdata_broker_t *b);
void zkdata_broker_free(zkdata_broker_t *b);
/* Appends a copy of an endpoint (host may be NULL). */
void zkdata_broker_add_endpoint(zkdata_broker_t *b, const char *listener, const char *security_protocol,
                                const char *host, int32_t port);

/* Encodes registration version 4 (listener_security_protocol_map,
 * endpoints, jmx_port, host, timestamp, port, version, rack if set) or 5
 * (the same plus "features":{} — samsa supports no feature flags, as 2.8
 * defines none). Returns -1 for another version, an endpoint without
 * listener or security protocol, or a string that is not UTF-8. */
int zkdata_broker_encode(buf_t *out, const zkdata_broker_t *b, int version, char *err, size_t errlen);

/* Decodes any version >= 1, as Kafka's BrokerIdZNode.decode: version and
 * jmx_port are required; v1 takes host/port, v2+ takes "endpoints"
 * ("NAME://host:port", IPv6 hosts in brackets) with the security protocol
 * from listener_security_protocol_map, or, without a map, the listener name
 * must itself be a security protocol. rack is optional (null = none);
 * features are accepted and ignored. out is initialised here. */
int zkdata_broker_decode(const void *data, size_t len, zkdata_broker_t *out, char *err, size_t errlen);

/* --- /brokers/topics/<topic> --------------------------------------------------------- */

typedef struct zkdata_partition_assignment {
    int32_t partition;
    int32_t *replicas;   /* preferred leader first */
    size_t n_replicas;
    int32_t *adding;     /* reassignment deltas; usually empty */
    size_t n_adding;
    int32_t *removing;
    size_t n_removing;
} zkdata_partition_assignment_t;

typedef struct zkdata_topic_assignment {
    int32_t version;     /* decoded: 1 (<= 2.3), 2 (2.4-2.7), 3 (2.8) */
    char topic_id[ZKDATA_UUID_LEN + 1]; /* "": none */
    zkdata_partition_assignment_t *partitions; /* decoded: sorted by partition */
    size_t n_partitions;
} zkdata_topic_assignment_t;

/* Version written (Kafka 2.8; topic_id only when set, i.e. IBP >= 2.8-IV0). */
#define ZKDATA_TOPIC_VERSION 3

void zkdata_topic_assignment_init(zkdata_topic_assignment_t *a);
void zkdata_topic_assignment_free(zkdata_topic_assignment_t *a);
/* Appends partition `partition` with a copy of its replicas (no deltas) and
 * returns it, so a caller can fill adding/removing with zkdata_ints_copy. */
zkdata_partition_assignment_t *zkdata_topic_assignment_add(zkdata_topic_assignment_t *a, int32_t partition,
                                                           const int32_t *replicas, size_t n);
/* A mem_alloc'd copy of n ints (NULL when n is 0). */
int32_t *zkdata_ints_copy(const int32_t *v, size_t n);

/* {"partitions":{...},"topic_id":..,"adding_replicas":{...},"removing_replicas":{...},"version":3};
 * adding/removing hold only partitions with a non-empty list. -1 when
 * topic_id is set but not a valid id. */
int zkdata_topic_assignment_encode(buf_t *out, const zkdata_topic_assignment_t *a, char *err, size_t errlen);
/* Accepts versions 1-3; a missing "partitions" is an empty topic (as
 * Kafka), missing adding/removing are empty. Partition keys must be int32
 * decimal strings, replica lists int32 arrays; topic_id, if present, a
 * 22-character id. out is initialised here. */
int zkdata_topic_assignment_decode(const void *data, size_t len, zkdata_topic_assignment_t *out, char *err,
                                   size_t errlen);

/* --- /brokers/topics/<topic>/partitions/<p>/state ----------------------------------------- */

typedef struct zkdata_partition_state {
    int32_t leader;           /* -1: none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t *isr;
    size_t n_isr;
} zkdata_partition_state_t;

void zkdata_partition_state_init(zkdata_partition_state_t *s);
void zkdata_partition_state_free(zkdata_partition_state_t *s);
/* {"controller_epoch":..,"leader":..,"version":1,"leader_epoch":..,"isr":[..]} */
void zkdata_partition_state_encode(buf_t *out, const zkdata_partition_state_t *s);
/* leader, leader_epoch, isr and controller_epoch are required. */
int zkdata_partition_state_decode(const void *data, size_t len, zkdata_partition_state_t *out, char *err,
                                  size_t errlen);

/* --- /config/<type>/<name> ------------------------------------------------------------------ */

typedef struct zkdata_config_entry {
    char *key;
    char *value;
} zkdata_config_entry_t;

typedef struct zkdata_config {
    zkdata_config_entry_t *entries; /* encoder: in the order they were set */
    size_t n_entries;
} zkdata_config_t;

void zkdata_config_init(zkdata_config_t *c);
void zkdata_config_free(zkdata_config_t *c);
/* Properties.setProperty: replaces the value of an existing key in place,
 * else appends. */
void zkdata_config_set(zkdata_config_t *c, const char *key, const char *value);
/* The value of key, or NULL. */
const char *zkdata_config_get(const zkdata_config_t *c, const char *key);

/* {"version":1,"config":{...}}; keys in the order a Java 11 Properties
 * filled by setProperty in entry order iterates. -1 only for non-UTF-8. */
int zkdata_config_encode(buf_t *out, const zkdata_config_t *c, char *err, size_t errlen);
/* Entries in the JSON's order; all values must be strings. Empty data (a
 * null znode) and a missing "config" are an empty config, as in Kafka. */
int zkdata_config_decode(const void *data, size_t len, zkdata_config_t *out, char *err, size_t errlen);

/* --- /config/changes/config_change_<seq> ----------------------------------------------------- */

/* {"version":2,"entity_path":"<entity_path>"}, e.g. "topics/orders". */
int zkdata_config_change_encode(buf_t *out, const char *entity_path, char *err, size_t errlen);
/* *entity_path (caller frees): version 2's entity_path, or version 1's
 * entity_type and entity_name joined by '/' (v1 only for topics and
 * clients, as Kafka). */
int zkdata_config_change_decode(const void *data, size_t len, char **entity_path, char *err, size_t errlen);

/* --- partition lists: /isr_change_notification/isr_change_<seq>,
 *     /admin/preferred_replica_election --------------------------------------------------------- */

typedef struct zkdata_tp {
    char *topic;
    int32_t partition;
} zkdata_tp_t;

typedef struct zkdata_tp_list {
    zkdata_tp_t *tps;
    size_t n;
} zkdata_tp_list_t;

void zkdata_tp_list_init(zkdata_tp_list_t *l);
void zkdata_tp_list_free(zkdata_tp_list_t *l);
/* Appends a copy unless (topic, partition) is already there (a set). */
void zkdata_tp_list_add(zkdata_tp_list_t *l, const char *topic, int32_t partition);

/* {"version":1,"partitions":[{"topic":..,"partition":..},...]} in the order
 * of the leader's mutable set (IsrChangeNotificationSequenceZNode). */
int zkdata_isr_change_encode(buf_t *out, const zkdata_tp_list_t *l, char *err, size_t errlen);
/* The same JSON in the order of an immutable set (PreferredReplicaElectionZNode). */
int zkdata_preferred_election_encode(buf_t *out, const zkdata_tp_list_t *l, char *err, size_t errlen);
/* Decodes either; "partitions" is required, duplicates are dropped. */
int zkdata_tp_list_decode(const void *data, size_t len, zkdata_tp_list_t *out, char *err, size_t errlen);

/* --- /log_dir_event_notification/log_dir_event_<seq> ----------------------------------------- */

/* {"version":1,"broker":<id>,"event":1} (1 = log directory failure). */
void zkdata_log_dir_event_encode(buf_t *out, int32_t broker_id);
int zkdata_log_dir_event_decode(const void *data, size_t len, int32_t *broker_id, char *err, size_t errlen);

/* --- /latest_producer_id_block ---------------------------------------------------------------- */

typedef struct zkdata_producer_id_block {
    int32_t broker_id;
    int64_t block_start; /* inclusive */
    int64_t block_end;   /* inclusive */
} zkdata_producer_id_block_t;

/* {"version":1,"broker":<id>,"block_start":"<n>","block_end":"<n>"} */
void zkdata_producer_id_block_encode(buf_t *out, const zkdata_producer_id_block_t *b);
int zkdata_producer_id_block_decode(const void *data, size_t len, zkdata_producer_id_block_t *out, char *err,
                                    size_t errlen);

#endif
