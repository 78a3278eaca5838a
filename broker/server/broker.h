/*
 * broker — one samsa broker process: the configuration, the log manager,
 * the replica manager, the metadata cache and the network, wired together
 * (Kafka's KafkaServer). main.c parses the command line; broker_run() does
 * the rest until SIGTERM or SIGINT.
 *
 * Start-up follows KafkaServer: ZooKeeper session (zookeeper.connect),
 * cluster id and broker id (registration.h), log dirs checked against
 * them, logs loaded, listeners bound, /brokers/ids/<id> registered, the
 * controller started (controller.h). Partitions are served only once the
 * controller's LeaderAndIsr says so. Shutdown: a controlled shutdown
 * (controlled.shutdown.enable) moves leaderships away first, then the
 * network stops, the ZooKeeper session closes and the logs are flushed
 * and checkpointed.
 */
#ifndef SAMSA_BROKER_H
#define SAMSA_BROKER_H

#include "util/config.h"
#include "server/config_watcher.h"
#include "controller/controller.h"
#include "net/evloop.h"
#include "proto/kerr.h"
#include "log/log_manager.h"
#include "replica/metadata_cache.h"
#include "net/net.h"
#include "replica/replica_manager.h"
#include "admin/topic_admin.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <pthread.h>
#include <stdatomic.h>
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

    evloop_t *zk_loop;      /* ZooKeeper callbacks and the controller */
    evloop_t *admin_loop;   /* request handlers that wait for ZooKeeper (api_offload) */
    zkc_t *zk;
    _Atomic(controller_t *) controller;
    config_watcher_t *config_watcher; /* dynamic topic configs */
    zkdata_broker_t registration;
    bool registered;
    int64_t broker_epoch;   /* czxid of our /brokers/ids node */
    tadmin_config_cache_t load_cfg; /* start-up only: topic overrides while logs load */

    bool auto_create_topics;
    bool delete_topic_enable;
    int32_t num_partitions;
    int32_t default_replication_factor;
    int32_t min_insync_replicas; /* broker default; topic overrides come with topic configs */
} broker_t;

/* Runs the broker until a signal asks it to stop; returns the process exit
 * status (0 after a clean shutdown). */
int broker_run(const config_t *cfg);

/* Kafka's controlled shutdown, broker side: asks the controller
 * (ControlledShutdown) to move this broker's leaderships away, retrying
 * controlled.shutdown.max.retries times controlled.shutdown.retry.backoff.ms
 * apart while partitions remain. Blocks; returns true when nothing
 * remained. */
bool broker_controlled_shutdown(broker_t *b);

#endif
