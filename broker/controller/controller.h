/*
 * controller — the cluster controller of ZooKeeper-mode Kafka (2.8's
 * KafkaController), run by every broker and active in the one that wins
 * the ephemeral /controller znode.
 *
 * Election: /controller_epoch is incremented in the same multi-op that
 * creates /controller, and every later write of the active controller
 * carries a check of /controller_epoch's version, so a deposed controller
 * (one whose session expired, or that lost the znode) changes nothing.
 *
 * The active controller reads the whole state from ZooKeeper (brokers,
 * topic assignments, partition states), watches /brokers/ids,
 * /brokers/topics, each /brokers/topics/<t>, /admin/delete_topics,
 * /admin/preferred_replica_election and /isr_change_notification, and
 * runs Kafka's two state machines — partitions (New, Online, Offline,
 * NonExistent) and replicas (New, Online, Offline, ReplicaDeletionStarted,
 * ReplicaDeletionSuccessful, ReplicaDeletionIneligible, NonExistent) — and
 * reacts: a dead broker's partitions get new leaders from their live ISR
 * (or from any live replica when unclean.leader.election.enable allows),
 * new topics and partitions get their first leader and ISR, deleted topics
 * are stopped and removed everywhere, a controlled shutdown moves
 * leaderships away first. Leader and ISR changes are written to the state
 * znodes with zkVersion checks, pipelined (1,000 partitions cost about one
 * ZooKeeper round trip, not 1,000), then LeaderAndIsr goes to the replicas
 * and UpdateMetadata to every broker.
 *
 * Threads: everything runs on one event loop (the broker's ZooKeeper loop,
 * which is also zkc's executor), like Kafka's single controller event
 * thread; its state (the context, the channel's kclients, the batch, the
 * timers) has owner: controller loop and no lock. The public calls below
 * except controller_new/free post to it, or say they must run on it;
 * controller_active_id is the one read from elsewhere (atomic). It takes
 * no broker lock: it reaches this broker, like the others, by request
 * (LeaderAndIsr, UpdateMetadata, StopReplica over a kclient).
 */
#ifndef SAMSA_CONTROLLER_H
#define SAMSA_CONTROLLER_H

#include "util/config.h"
#include "net/evloop.h"
#include "proto/kerr.h"
#include "zk/zkc.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct controller controller_t;

typedef struct controller_config {
    const config_t *cfg; /* must outlive the controller */
    int32_t broker_id;
    zkc_t *zk;
    evloop_t *loop;      /* the controller loop: zkc's executor */
} controller_config_t;

controller_t *controller_new(const controller_config_t *cc);
/* Stops being controller, on the loop (which must still run), and waits
 * for it. Watches still pending become no-ops. */
void controller_stop(controller_t *c);
/* Frees, after controller_stop, zkc_close and evloop_stop (the dropped
 * watches zkc_close delivers still use the controller). */
void controller_free(controller_t *c);

/* Starts: the first election (posted to the loop). */
void controller_start(controller_t *c);
/* ZooKeeper session changes (on the loop, after the broker re-registered
 * for ZKC_SESSION_NEW). */
void controller_on_session(controller_t *c, int ev);

/* A topic's overrides changed (on the loop; from the config watcher, which
 * read them): unclean is its unclean.leader.election.enable now. When it
 * became allowed, the active controller elects leaders for the topic's
 * offline partitions (Kafka's TopicUncleanLeaderElectionEnable). */
void controller_topic_config_changed(controller_t *c, const char *topic, bool unclean);

/* The broker id of the active controller as this broker last saw it, -1
 * when none. Thread-safe. */
int32_t controller_active_id(const controller_t *c);
/* Kafka's OfflinePartitionsCount: partitions in the Offline state (topics
 * being deleted left out); 0 when this broker is not the controller. On
 * the controller loop only. */
int32_t controller_offline_partitions(const controller_t *c);

/* A partition a controlled shutdown could not move. */
typedef struct controller_tp {
    char *topic;
    int32_t partition;
} controller_tp_t;

/* The ControlledShutdown API's outcome, on the controller's loop: err
 * (NOT_CONTROLLER, STALE_BROKER_EPOCH, ...) and the partitions the broker
 * still leads (valid during the call). */
typedef void (*controller_shutdown_fn)(void *ctx, kerr_t err, const controller_tp_t *remaining, size_t n);

/* Kafka's doControlledShutdown for broker_id (broker_epoch -1: unchecked).
 * Returns 0 when posted (cb then runs exactly once), -1 when the loop has
 * stopped. */
int controller_controlled_shutdown(controller_t *c, int32_t broker_id, int64_t broker_epoch, controller_shutdown_fn cb,
                                   void *ctx);

/* One partition of an AlterIsr request (KIP-497): the ISR its leader
 * proposes for leader_epoch, against the state znode version (zk_version)
 * the leader knows. */
typedef struct controller_isr_item {
    const char *topic;
    int32_t partition;
    int32_t leader_epoch;
    const int32_t *isr;
    int32_t nisr;
    int32_t zk_version;
} controller_isr_item_t;

/* What became of one item: err, and with KERR_NONE the partition's state
 * now (leader, leader epoch, ISR and the state znode's version). */
typedef struct controller_isr_result {
    kerr_t err;
    int32_t leader_id;
    int32_t leader_epoch;
    const int32_t *isr;
    int32_t nisr;
    int32_t zk_version;
} controller_isr_result_t;

/* The AlterIsr API's outcome, on the controller's loop: a request-level err
 * (NOT_CONTROLLER, STALE_BROKER_EPOCH; results NULL) or KERR_NONE with
 * results[i] for items[i]. Valid during the call. */
typedef void (*controller_alter_isr_fn)(void *ctx, kerr_t err, const controller_isr_result_t *results, size_t n);

/* Kafka 2.8's KafkaController.processAlterIsr for leader broker_id: per
 * partition, unknown (no state) -> UNKNOWN_TOPIC_OR_PARTITION, an older
 * leader epoch -> FENCED_LEADER_EPOCH, the state it already has -> that
 * state, else the state znode is written (leader broker_id, the item's
 * leader epoch and ISR, this controller's epoch) conditionally on
 * zk_version -> INVALID_UPDATE_VERSION when another write came first.
 * The written partitions then go to every live broker in UpdateMetadata.
 * items (and what they point at) must stay valid until cb has run.
 * Returns 0 when posted (cb then runs exactly once), -1 when the loop has
 * stopped. */
int controller_alter_isr(controller_t *c, int32_t broker_id, int64_t broker_epoch, const controller_isr_item_t *items,
                         size_t n, controller_alter_isr_fn cb, void *ctx);

#endif
