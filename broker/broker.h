/*
 * broker — one samsa broker process: the configuration, the log manager,
 * the replica manager, the metadata cache and the network, wired together
 * (Kafka's KafkaServer). main.c parses the command line; broker_run() does
 * the rest until SIGTERM or SIGINT.
 *
 * Until the ZooKeeper controller lands, a broker runs "standalone": it is
 * the whole cluster, leads every partition it hosts (a new leader epoch at
 * each start), and auto-creates topics itself (auto.create.topics.enable,
 * num.partitions). LeaderAndIsr / UpdateMetadata / StopReplica from a
 * controller (or a test) still apply on top, with Kafka's fencing.
 */
#ifndef SAMSA_BROKER_H
#define SAMSA_BROKER_H

#include "config.h"
#include "kerr.h"
#include "log_manager.h"
#include "metadata_cache.h"
#include "net.h"
#include "replica_manager.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct broker {
    const config_t *cfg;
    int32_t id;
    char cluster_id[64];
    char advertised_host[256];
    int32_t advertised_port;

    log_manager_t *logs;
    replica_manager_t *replicas;
    metadata_cache_t *metadata;
    net_t *net;

    bool standalone;
    bool auto_create_topics;
    int32_t num_partitions;
    int32_t min_insync_replicas; /* broker default; topic overrides come with topic configs */
    pthread_mutex_t create_lock; /* serialises standalone topic creation */
} broker_t;

/* Runs the broker until a signal asks it to stop; returns the process exit
 * status (0 after a clean shutdown). */
int broker_run(const config_t *cfg);

/* Standalone creation of topic with n partitions led by this broker (no-op
 * for partitions that exist). Returns KERR_NONE or the first error. */
kerr_t broker_create_topic_locally(broker_t *b, const char *topic, int32_t n, int64_t now_ms);

/* Kafka's topic name rule: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". */
bool broker_topic_name_valid(const char *name, size_t len);

#endif
