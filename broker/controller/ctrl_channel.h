/*
 * ctrl_channel — the controller's requests to brokers (Kafka's
 * ControllerChannelManager and ControllerBrokerRequestBatch).
 *
 * A state change collects what each broker must hear into a batch —
 * LeaderAndIsr for the partitions it hosts, StopReplica (with or without
 * deleting the log), UpdateMetadata for everyone — and sends it in one go:
 * one request per broker and kind, built from the controller context at
 * send time. Each live broker has one connection (a kclient that keeps
 * re-sending until the broker answers or is declared dead).
 *
 * Versions: LeaderAndIsr v2, UpdateMetadata v5, StopReplica v1 (what
 * samsa's brokers serve).
 */
#ifndef SAMSA_CTRL_CHANNEL_H
#define SAMSA_CTRL_CHANNEL_H

#include "controller/ctrl_context.h"
#include "net/evloop.h"
#include "proto/kerr.h"

#include <stdbool.h>
#include <stdint.h>

/* What the responses report back to the controller (on its thread).
 * Owner: controller loop, like the batches and every call below. */
typedef struct ctrl_channel_env {
    int32_t controller_id;
    int32_t controller_epoch;
    ctrl_context_t *ctx;
    evloop_t *loop;
    const char *inter_broker_listener; /* the listener brokers talk on */
    int32_t request_timeout_ms;
    /* One LeaderAndIsr request answered (err: the request's outcome). */
    void (*on_lai_done)(void *arg, int32_t broker_id, kerr_t err);
    /* One partition of a StopReplica answered. */
    void (*on_stop_done)(void *arg, int32_t broker_id, const char *topic, int32_t partition, bool deleted, kerr_t err);
    void *arg;
} ctrl_channel_env_t;

/* Opens the connection to b (b->client), using the endpoint of the
 * inter-broker listener. */
void ctrl_channel_open(const ctrl_channel_env_t *env, ctrl_broker_t *b);
/* Closes it: pending requests are dropped (their callbacks see
 * BROKER_NOT_AVAILABLE). */
void ctrl_channel_close(ctrl_broker_t *b);

typedef struct ctrl_batch ctrl_batch_t;

ctrl_batch_t *ctrl_batch_new(void);
void ctrl_batch_free(ctrl_batch_t *b);
bool ctrl_batch_empty(const ctrl_batch_t *b);

/* LeaderAndIsr of p (its current state in the context) for broker_id. */
void ctrl_batch_lai(ctrl_batch_t *b, int32_t broker_id, ctrl_topic_t *t, ctrl_partition_t *p, bool is_new);
/* StopReplica of (t, partition) for broker_id. */
void ctrl_batch_stop(ctrl_batch_t *b, int32_t broker_id, const char *topic, int32_t partition, bool delete_log);
/* UpdateMetadata to broker_id (the partitions are those added with
 * ctrl_batch_um_partition, or all of them after ctrl_batch_um_all). */
void ctrl_batch_um_broker(ctrl_batch_t *b, int32_t broker_id);
void ctrl_batch_um_all_brokers(ctrl_batch_t *b, const ctrl_context_t *ctx);
void ctrl_batch_um_partition(ctrl_batch_t *b, ctrl_topic_t *t, ctrl_partition_t *p);
void ctrl_batch_um_all(ctrl_batch_t *b);

/* Sends everything and empties the batch. Returns the number of
 * LeaderAndIsr requests sent. Brokers not live are skipped. */
int ctrl_batch_send(ctrl_batch_t *b, const ctrl_channel_env_t *env);

#endif
