/*
 * meta_properties — <log.dir>/meta.properties, the broker identity Kafka 2.8
 * keeps in every log directory (BrokerMetadataCheckpoint, ZooKeeper mode).
 *
 * Written as java.util.Properties.store(out, "") writes it: an empty comment
 * line, a comment with the date (Date.toString), then key=value lines.
 * Samsa writes the keys in the order Java 11's Properties (a hash map)
 * produces for these three keys and the date in UTC:
 *
 *   #
 *   #Tue Sep 15 12:26:40 UTC 2020
 *   broker.id=1
 *   version=0
 *   cluster.id=X3E3uS1tS0CJxkm6hvFc8g
 *
 * Readers accept any key order and the full .properties syntax (through
 * config_properties_parse); unknown keys are ignored. ZooKeeper-mode brokers
 * only accept version 0 (also what a file without "version" means).
 *
 * The broker writes the file, through <file>.tmp + fsync + rename, to every
 * online log dir after registering in ZooKeeper, and checks it at start-up:
 * a stored broker.id or cluster.id that differs from the broker's refuses
 * the start (InconsistentBrokerIdException / InconsistentClusterIdException).
 * Comparing the files of several log dirs with each other is the caller's
 * job.
 *
 * Errors: one line in err (may be NULL).
 */
#ifndef SAMSA_META_PROPERTIES_H
#define SAMSA_META_PROPERTIES_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_PROPERTIES_FILE "meta.properties"

typedef struct meta_properties {
    int32_t version;    /* 0 when the file has no version key */
    bool has_broker_id;
    int32_t broker_id;  /* meaningful when has_broker_id */
    char *cluster_id;   /* NULL when absent; owned, freed by meta_properties_free */
} meta_properties_t;

/* version 0, no broker id, no cluster id. */
void meta_properties_init(meta_properties_t *mp);
/* Frees cluster_id and re-initialises mp. */
void meta_properties_free(meta_properties_t *mp);
/* Replaces cluster_id with a copy of id (NULL: absent). */
void meta_properties_set_cluster_id(meta_properties_t *mp, const char *id);

/* Appends the exact file contents to out; now_ms (wall clock) is the time
 * in the date comment. Returns 0, or -1 when the cluster id holds bytes
 * outside printable ASCII (Kafka's ids are base64; others could not be
 * written without \u escapes samsa does not produce). */
int meta_properties_format(const meta_properties_t *mp, int64_t now_ms, buf_t *out, char *err,
                           size_t errlen);

/* Parses file contents into out (initialised here; the caller frees it,
 * also after an error). name stands for the file in messages. version and
 * broker.id must be Java ints ("Failed to parse broker.id property as an
 * int: ..."). Returns 0 or -1. */
int meta_properties_parse(const char *text, size_t len, const char *name, meta_properties_t *out,
                          char *err, size_t errlen);

/* Reads <log_dir>/meta.properties into out (initialised here; the caller
 * frees it). Like Kafka, first deletes a leftover meta.properties.tmp.
 * Returns 1 when read, 0 when the file does not exist (out stays empty),
 * -1 on an error. */
int meta_properties_read(const char *log_dir, meta_properties_t *out, char *err, size_t errlen);

/* Writes <log_dir>/meta.properties atomically (file_write_atomic). */
int meta_properties_write(const char *log_dir, const meta_properties_t *mp, int64_t now_ms,
                          char *err, size_t errlen);

typedef enum meta_properties_check {
    META_PROPERTIES_OK = 0,            /* matches, or no file */
    META_PROPERTIES_ERR_READ = -1,     /* unreadable or malformed file */
    META_PROPERTIES_ERR_VERSION = -2,  /* version other than 0 */
    META_PROPERTIES_ERR_CLUSTER_ID = -3,
    META_PROPERTIES_ERR_BROKER_ID = -4
} meta_properties_check_t;

/* Whether log_dir may be used by broker broker_id of cluster cluster_id, in
 * Kafka's order: version, then cluster id, then broker id. A stored value
 * that is absent matches anything; broker_id < 0 (not configured) and
 * cluster_id NULL skip their checks. The messages are Kafka 2.8's, with the
 * file's path in front, e.g.
 *   /data/kafka/meta.properties: The Cluster ID abc doesn't match stored
 *   clusterId Some(xyz) in meta.properties. The broker is trying to join the
 *   wrong cluster. Configured zookeeper.connect may be wrong. */
meta_properties_check_t meta_properties_check(const char *log_dir, int32_t broker_id,
                                              const char *cluster_id, char *err, size_t errlen);

#endif
