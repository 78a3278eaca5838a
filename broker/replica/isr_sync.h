/*
 * isr_sync — how a partition leader's ISR changes reach ZooKeeper and the
 * controller (Kafka 2.8's AlterIsrManager: ZkIsrManager and
 * DefaultAlterIsrManager; zookeeper-layout.md §7.9).
 *
 * A leader decides to shrink or expand an ISR (replica/partition.h) and
 * submits the proposal here; the outcome comes back through the done
 * callback. Which way it goes depends on inter.broker.protocol.version:
 *
 *   below 2.7-IV2  the leader writes the state znode itself: same leader
 *                  and leader epoch, the new ISR, the controller epoch of
 *                  the LeaderAndIsr it got, conditional on the zkVersion it
 *                  knows. BADVERSION (or a lost connection) re-reads the
 *                  znode: if it holds exactly what was written (a retried
 *                  write that went through) that is success with the
 *                  node's version, else INVALID_UPDATE_VERSION (Kafka's
 *                  ReplicationUtils.updateLeaderAndIsr). A write whose
 *                  fate stays unknown (no connection) is tried again.
 *                  Written partitions are announced to the controller by
 *                  one /isr_change_notification/isr_change_<seq> for all of
 *                  them, checked every 2.5 s and written once no change
 *                  came for 5 s or the last one is 60 s old.
 *   2.7-IV2 on     AlterIsr (KIP-497) to the active controller (found
 *                  through /controller and its /brokers/ids registration,
 *                  the inter-broker listener's endpoint): one request in
 *                  flight, everything submitted meanwhile batched into the
 *                  next. A partition-level UNKNOWN_TOPIC_OR_PARTITION,
 *                  FENCED_LEADER_EPOCH or INVALID_UPDATE_VERSION is final
 *                  (the leader gives up until its next LeaderAndIsr); other
 *                  partition errors, a partition missing from the answer,
 *                  request-level errors and lost connections are retried
 *                  50 ms later (a request-level NOT_CONTROLLER or a lost
 *                  connection also looks the controller up again).
 *
 * A partition has at most one change here at a time: a submit for a
 * partition whose earlier change has not been sent yet replaces it (that
 * one gets no outcome); one submitted while its earlier change is in
 * flight waits for the next request.
 *
 * Threads: everything runs on the ZooKeeper loop ("zk-events", zkc's
 * executor), where its synchronous ZooKeeper calls and its kclient live
 * (owner: that loop). isr_sync_submit is the exception: any thread, also
 * under partition.lock (it copies the change under isr_sync.lock, a leaf
 * lock, and posts to the loop).
 */
#ifndef SAMSA_ISR_SYNC_H
#define SAMSA_ISR_SYNC_H

#include "util/config.h"
#include "net/evloop.h"
#include "proto/kerr.h"
#include "replica/partition.h"
#include "zk/zkc.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct isr_sync isr_sync_t;


/* A change's outcome, on the loop. KERR_NONE: the ISR is now isr (for
 * leader_epoch) at new_zk_version. Otherwise err (UNKNOWN_TOPIC_OR_PARTITION,
 * FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION), isr NULL, nisr 0,
 * new_zk_version -1, and leader_epoch the submitted one. The arrays are
 * valid during the call. */
typedef void (*isr_sync_done_fn)(void *ctx, const char *topic, int32_t partition, int32_t leader_epoch, kerr_t err,
                                 const int32_t *isr, int32_t nisr, int32_t new_zk_version);

/* This broker's epoch (the czxid of its /brokers/ids node, which changes
 * when a new session re-registers it), asked on the loop for each AlterIsr
 * request. */
typedef int64_t (*isr_sync_broker_epoch_fn)(void *ctx);

typedef struct isr_sync_config {
    const config_t *cfg;  /* inter.broker.protocol.version, the inter-broker listener,
                           * controller.socket.timeout.ms; must outlive the sync */
    int32_t broker_id;
    zkc_t *zk;
    evloop_t *loop;       /* the ZooKeeper loop */
    isr_sync_done_fn done;
    isr_sync_broker_epoch_fn broker_epoch; /* NULL sends -1, which a controller refuses */
    void *ctx;            /* for done and broker_epoch */
} isr_sync_config_t;

/* A running sync (its timers are set up on the loop, which must run; not
 * from the loop's own thread). */
isr_sync_t *isr_sync_new(const isr_sync_config_t *cfg);
/* Stops on the loop and waits for it: the connection to the controller
 * closes, changes not done yet are dropped without an outcome, and a
 * pending ISR-change notification is not written. Before zkc_close. Not
 * from the loop's own thread. */
void isr_sync_stop(isr_sync_t *s);
/* Frees after isr_sync_stop and the loop's end. NULL is a no-op. */
void isr_sync_free(isr_sync_t *s);

/* Queues a copy of c (a partition's proposal, replica/partition.h) and
 * wakes the loop; any thread, also under the partition's lock. With
 * partition_isr_sink_fn's signature (ctx is the isr_sync_t), so the replica
 * manager's ISR sink can be this function. */
void isr_sync_submit(void *ctx, const partition_isr_change_t *c);

/* --- the rules, pure (exposed for tests) --------------------------------------- */

/* Whether inter.broker.protocol.version ibp sends AlterIsr (>= 2.7-IV2)
 * rather than writing ZooKeeper. */
bool isr_sync_uses_alter_isr(const char *ibp);

#define ISR_SYNC_NOTIFY_CHECK_MS 2500 /* how often the notification rule is checked */
#define ISR_SYNC_NOTIFY_LINGER_MS 5000 /* quiet time before a notification */
#define ISR_SYNC_NOTIFY_MAX_DELAY_MS 60000 /* a notification at least this often while changes come */

/* Kafka's ZkIsrManager.maybePropagateIsrChanges: whether a notification is
 * due at now_ms given pending changes, the last change and the last
 * notification (both at the sync's creation before any). */
bool isr_sync_notification_due(bool pending, int64_t now_ms, int64_t last_change_ms, int64_t last_notification_ms);

#endif
