/*
 * ctrl_context — what the active controller knows of the cluster (Kafka's
 * ControllerContext): the live brokers with their epochs, every topic's
 * replica assignment, and each partition's leader, leader epoch, ISR and
 * the zkVersion of its state znode, plus the partition state machine's
 * state (New, Online, Offline, NonExistent).
 *
 * Plain data, touched only on the controller's thread (owner: controller
 * loop, every struct below; no lock, no atomics); rebuilt from ZooKeeper
 * whenever a broker becomes controller.
 */
#ifndef SAMSA_CTRL_CONTEXT_H
#define SAMSA_CTRL_CONTEXT_H

#include "zk/zkdata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A list of broker ids (replicas, ISR). */
typedef struct ctrl_ids {
    int32_t *v;
    int32_t n;
} ctrl_ids_t;

void ctrl_ids_set(ctrl_ids_t *ids, const int32_t *v, int32_t n);
void ctrl_ids_free(ctrl_ids_t *ids);
bool ctrl_ids_has(const ctrl_ids_t *ids, int32_t id);
/* "1,2,3" into out. */
const char *ctrl_ids_str(const ctrl_ids_t *ids, char *out, size_t outlen);

typedef enum ctrl_pstate {
    CTRL_P_NONEXISTENT = 0,
    CTRL_P_NEW,
    CTRL_P_ONLINE,
    CTRL_P_OFFLINE
} ctrl_pstate_t;

const char *ctrl_pstate_name(ctrl_pstate_t s);

/* Kafka's replica states (ReplicaStateMachine), one per replica of a
 * partition. */
typedef enum ctrl_rstate {
    CTRL_R_NONEXISTENT = 0,
    CTRL_R_NEW,                /* assigned, leader and ISR not sent yet */
    CTRL_R_ONLINE,             /* its broker is alive and has heard LeaderAndIsr */
    CTRL_R_OFFLINE,            /* its broker died or is shutting down */
    CTRL_R_DELETION_STARTED,   /* StopReplica(delete) sent */
    CTRL_R_DELETION_SUCCESSFUL,
    CTRL_R_DELETION_INELIGIBLE /* deletion failed or its broker is down: retried later */
} ctrl_rstate_t;

const char *ctrl_rstate_name(ctrl_rstate_t s);

typedef struct ctrl_partition {
    int32_t index;
    ctrl_ids_t replicas; /* the assignment, preferred leader first */
    uint8_t *rstates;    /* ctrl_rstate_t of each replica, in the same order */
    ctrl_pstate_t state;
    /* from /brokers/topics/<t>/partitions/<p>/state (has_state) */
    bool has_state;
    int32_t leader;
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t zk_version;
    ctrl_ids_t isr;
} ctrl_partition_t;

typedef struct ctrl_topic {
    char *name;
    char topic_id[ZKDATA_UUID_LEN + 1];
    ctrl_partition_t *parts;
    int32_t nparts;
    bool unclean;             /* unclean.leader.election.enable for this topic */
    bool queued_for_deletion; /* /admin/delete_topics/<t> seen */
    bool deletion_started;    /* StopReplica(delete) sent (clients no longer see it) */
} ctrl_topic_t;

struct kclient;

typedef struct ctrl_broker {
    int32_t id;
    int64_t epoch;        /* czxid of /brokers/ids/<id> */
    zkdata_broker_t info;
    const char *host;     /* the inter-broker endpoint, in info */
    int32_t port;
    bool shutting_down;   /* controlled shutdown in progress */
    struct kclient *client; /* lives on the controller loop (kclient's thread rule) */
} ctrl_broker_t;

typedef struct ctrl_context {
    ctrl_broker_t **brokers; /* live, sorted by id */
    size_t nbrokers;
    ctrl_topic_t **topics;   /* sorted by name */
    size_t ntopics;
} ctrl_context_t;

void ctrl_context_init(ctrl_context_t *c);
/* Frees everything except broker clients (the caller closes them first). */
void ctrl_context_clear(ctrl_context_t *c);

ctrl_broker_t *ctrl_broker_find(const ctrl_context_t *c, int32_t id);
bool ctrl_broker_live(const ctrl_context_t *c, int32_t id);
/* Takes ownership of b (inserted in id order; replaces nothing: the caller
 * removes an old entry first). */
void ctrl_broker_add(ctrl_context_t *c, ctrl_broker_t *b);
/* Unlinks and returns the broker (the caller frees it), or NULL. */
ctrl_broker_t *ctrl_broker_remove(ctrl_context_t *c, int32_t id);
void ctrl_broker_free(ctrl_broker_t *b);

ctrl_topic_t *ctrl_topic_find(const ctrl_context_t *c, const char *name);
/* A new topic named name with no partitions (the caller fills them), or the
 * existing one. */
ctrl_topic_t *ctrl_topic_add(ctrl_context_t *c, const char *name);
void ctrl_topic_remove(ctrl_context_t *c, const char *name);
/* Grows t to n partitions (new ones NonExistent with no replicas). */
void ctrl_topic_resize(ctrl_topic_t *t, int32_t n);

/* Sets a partition's assignment; every replica starts as state. */
void ctrl_partition_set_replicas(ctrl_partition_t *p, const int32_t *v, int32_t n, ctrl_rstate_t state);
/* The state of replica broker id of p (NonExistent when not a replica). */
ctrl_rstate_t ctrl_replica_state(const ctrl_partition_t *p, int32_t id);
/* Moves replica broker id of p to state; false when id is not a replica. */
bool ctrl_replica_set_state(ctrl_partition_t *p, int32_t id, ctrl_rstate_t state);
/* Whether every replica of every partition of t is in state. */
bool ctrl_topic_all_replicas(const ctrl_topic_t *t, ctrl_rstate_t state);

/* The partition's state znode content as ctrl_partition_t fields. */
void ctrl_partition_set_state(ctrl_partition_t *p, const zkdata_partition_state_t *s, int32_t zk_version);

/* (topic, partition) references, for the sets state changes work on. */
typedef struct ctrl_tp {
    ctrl_topic_t *topic;
    ctrl_partition_t *part;
} ctrl_tp_t;

typedef struct ctrl_tps {
    ctrl_tp_t *v;
    size_t n, cap;
} ctrl_tps_t;

void ctrl_tps_add(ctrl_tps_t *s, ctrl_topic_t *t, ctrl_partition_t *p);
void ctrl_tps_free(ctrl_tps_t *s);

#endif
