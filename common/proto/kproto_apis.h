/*
 * kproto_apis — the C structs of every request and response samsa speaks,
 * and (in kproto_apis.c) the schema tables that map them to the wire, for
 * kproto's generic codec.
 *
 * Field names are Kafka 2.8's JSON field names in snake_case; comments give
 * the versions a field exists in when it is not "all supported versions".
 * A field absent in a version decodes to its default (noted "def"), and is
 * ignored when encoding that version. Strings, bytes and records point into
 * the decoded input; arrays (kp_array_t) hold `items` of the element type
 * named in the comment, allocated from the decode arena.
 *
 * Versions the codec supports (kp_apis[] in kproto_apis.c; any other
 * version fails to decode):
 *   Produce 0-9, Fetch 0-12, ListOffsets 0-6, Metadata 0-11, ApiVersions 0-3,
 *   CreateTopics 0-7, DeleteTopics 0-6, OffsetForLeaderEpoch 0-4,
 *   DescribeConfigs 0-4, CreatePartitions 0-3, LeaderAndIsr 0-5,
 *   StopReplica 0-3, UpdateMetadata 0-7, ControlledShutdown 0-3,
 *   OffsetCommit 0-8, OffsetFetch 0-7, FindCoordinator 0-3, JoinGroup 0-7,
 *   Heartbeat 0-4, LeaveGroup 0-4, SyncGroup 0-5, DescribeGroups 0-5,
 *   ListGroups 0-4, DeleteGroups 0-2, OffsetDelete 0 — Kafka 2.8's full
 *   ranges, flexible from the version 2.8's schema says (flex_min); samsa's
 *   own controller still sends LeaderAndIsr v2, StopReplica v1,
 *   UpdateMetadata v5 and ControlledShutdown v2 (IBP 2.7);
 *   AlterIsr 0 (flexible: every version of it is);
 *   and samsa's own DescribeReplicaState 0 (flexible).
 * Produce v0-2 and Fetch v0-3 carry legacy message sets (magic 0/1), which
 * the broker converts to and from record batches v2 (msgset.h): the codec
 * only sees them as records bytes.
 * The codec covers more than the broker serves. The broker advertises in
 * ApiVersions, with the ranges above, only the APIs it serves (the
 * routing table in broker/api/api.c: Produce, Fetch, ListOffsets, Metadata,
 * LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown,
 * ApiVersions, CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, OffsetForLeaderEpoch, AlterIsr, and the group
 * coordinator's APIs), as protocol.md §5 asks
 * — AlterIsr and OffsetForLeaderEpoch included, as Kafka 2.8 lists them:
 * inter-broker APIs, but advertised like the controller's own LeaderAndIsr.
 * DescribeReplicaState (32000) is served but not advertised: a samsa-only
 * admin request (samsa-topics --describe --replicas) that Kafka clients
 * never see.
 */
#ifndef SAMSA_KPROTO_APIS_H
#define SAMSA_KPROTO_APIS_H

#include "proto/kproto.h"

typedef enum kp_api_key {
    KP_API_PRODUCE = 0,
    KP_API_FETCH = 1,
    KP_API_LIST_OFFSETS = 2,
    KP_API_METADATA = 3,
    KP_API_LEADER_AND_ISR = 4,
    KP_API_STOP_REPLICA = 5,
    KP_API_UPDATE_METADATA = 6,
    KP_API_CONTROLLED_SHUTDOWN = 7,
    KP_API_OFFSET_COMMIT = 8,
    KP_API_OFFSET_FETCH = 9,
    KP_API_FIND_COORDINATOR = 10,
    KP_API_JOIN_GROUP = 11,
    KP_API_HEARTBEAT = 12,
    KP_API_LEAVE_GROUP = 13,
    KP_API_SYNC_GROUP = 14,
    KP_API_DESCRIBE_GROUPS = 15,
    KP_API_LIST_GROUPS = 16,
    KP_API_API_VERSIONS = 18,
    KP_API_CREATE_TOPICS = 19,
    KP_API_DELETE_TOPICS = 20,
    KP_API_OFFSET_FOR_LEADER_EPOCH = 23,
    KP_API_DESCRIBE_CONFIGS = 32,
    KP_API_CREATE_PARTITIONS = 37,
    KP_API_DELETE_GROUPS = 42,
    KP_API_OFFSET_DELETE = 47,
    KP_API_ALTER_ISR = 56,
    /* samsa's own (not Kafka's): far above Kafka's keys, never advertised */
    KP_API_DESCRIBE_REPLICA_STATE = 32000,
} kp_api_key_t;

/* protocol.md §4: the answer to an ApiVersions request of a version samsa
 * does not support — header v0, a v0-format body with error 35
 * (UNSUPPORTED_VERSION) and a single entry: key 18 with samsa's ApiVersions
 * range. Appends a whole frame. */
void kp_apiversions_fallback(int32_t correlation_id, kp_writer_t *w);

/* ---- Produce (0) ---------------------------------------------------------- */

typedef struct kp_produce_req_partition {
    int32_t index;
    kp_records_t records; /* nullable */
} kp_produce_req_partition_t;

typedef struct kp_produce_req_topic {
    kp_str_t name;
    kp_array_t partition_data; /* kp_produce_req_partition_t */
} kp_produce_req_topic_t;

typedef struct kp_produce_req {
    kp_str_t transactional_id; /* v3+, nullable, def null */
    int16_t acks;
    int32_t timeout_ms;
    kp_array_t topic_data; /* kp_produce_req_topic_t */
} kp_produce_req_t;

typedef struct kp_produce_resp_record_error {
    int32_t batch_index;
    kp_str_t batch_index_error_message; /* nullable, def null */
} kp_produce_resp_record_error_t;

typedef struct kp_produce_resp_partition {
    int32_t index;
    int16_t error_code;
    int64_t base_offset;
    int64_t log_append_time_ms; /* v2+, def -1 */
    int64_t log_start_offset;   /* v5+, def -1 */
    kp_array_t record_errors;   /* v8+, kp_produce_resp_record_error_t */
    kp_str_t error_message;     /* v8+, nullable, def null */
} kp_produce_resp_partition_t;

typedef struct kp_produce_resp_topic {
    kp_str_t name;
    kp_array_t partition_responses; /* kp_produce_resp_partition_t */
} kp_produce_resp_topic_t;

typedef struct kp_produce_resp {
    kp_array_t responses; /* kp_produce_resp_topic_t */
    int32_t throttle_time_ms; /* v1+ */
} kp_produce_resp_t;

/* ---- Fetch (1) ------------------------------------------------------------ */

typedef struct kp_fetch_req_partition {
    int32_t partition;
    int32_t current_leader_epoch; /* v9+, def -1 */
    int64_t fetch_offset;
    int32_t last_fetched_epoch; /* v12+, def -1 */
    int64_t log_start_offset;   /* v5+, def -1 */
    int32_t partition_max_bytes;
} kp_fetch_req_partition_t;

typedef struct kp_fetch_req_topic {
    kp_str_t topic;
    kp_array_t partitions; /* kp_fetch_req_partition_t */
} kp_fetch_req_topic_t;

typedef struct kp_fetch_req_forgotten {
    kp_str_t topic;
    kp_array_t partitions; /* int32_t */
} kp_fetch_req_forgotten_t;

typedef struct kp_fetch_req {
    kp_str_t cluster_id; /* v12+, tag 0, nullable, def null */
    int32_t replica_id;
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;      /* v3+, def 0x7fffffff */
    int8_t isolation_level; /* v4+ */
    int32_t session_id;     /* v7+, def 0 */
    int32_t session_epoch;  /* v7+, def -1 */
    kp_array_t topics;      /* kp_fetch_req_topic_t */
    kp_array_t forgotten_topics_data; /* v7+, kp_fetch_req_forgotten_t */
    kp_str_t rack_id;                 /* v11+, def "" */
} kp_fetch_req_t;

typedef struct kp_fetch_resp_aborted {
    int64_t producer_id;
    int64_t first_offset;
} kp_fetch_resp_aborted_t;

/* Fetch v12's tagged partition fields (KIP-595, Raft). Every member
 * defaults to -1; a field left at its defaults is not sent. */
typedef struct kp_fetch_resp_epoch_end_offset {
    int32_t epoch;
    int64_t end_offset;
} kp_fetch_resp_epoch_end_offset_t;

typedef struct kp_fetch_resp_leader_id_and_epoch {
    int32_t leader_id;
    int32_t leader_epoch;
} kp_fetch_resp_leader_id_and_epoch_t;

typedef struct kp_fetch_resp_snapshot_id {
    int64_t end_offset;
    int32_t epoch;
} kp_fetch_resp_snapshot_id_t;

typedef struct kp_fetch_resp_partition {
    int32_t partition;
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset;       /* v4+, def -1 */
    int64_t log_start_offset;         /* v5+, def -1 */
    kp_fetch_resp_epoch_end_offset_t diverging_epoch;  /* v12+, tag 0 */
    kp_fetch_resp_leader_id_and_epoch_t current_leader; /* v12+, tag 1 */
    kp_fetch_resp_snapshot_id_t snapshot_id;            /* v12+, tag 2 */
    kp_array_t aborted_transactions;  /* v4+, nullable, kp_fetch_resp_aborted_t */
    int32_t preferred_read_replica;   /* v11+, def -1 */
    kp_records_t record_set;          /* nullable */
} kp_fetch_resp_partition_t;

typedef struct kp_fetch_resp_topic {
    kp_str_t topic;
    kp_array_t partition_responses; /* kp_fetch_resp_partition_t */
} kp_fetch_resp_topic_t;

typedef struct kp_fetch_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;       /* v7+ */
    int32_t session_id;       /* v7+, def 0 */
    kp_array_t responses;     /* kp_fetch_resp_topic_t */
} kp_fetch_resp_t;

/* ---- ListOffsets (2) ------------------------------------------------------ */

typedef struct kp_list_offsets_req_partition {
    int32_t partition_index;
    int32_t current_leader_epoch; /* v4+, def -1 */
    int64_t timestamp;
    int32_t max_num_offsets; /* v0 only, def 1 */
} kp_list_offsets_req_partition_t;

typedef struct kp_list_offsets_req_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_list_offsets_req_partition_t */
} kp_list_offsets_req_topic_t;

typedef struct kp_list_offsets_req {
    int32_t replica_id;
    int8_t isolation_level; /* v2+ */
    kp_array_t topics;      /* kp_list_offsets_req_topic_t */
} kp_list_offsets_req_t;

typedef struct kp_list_offsets_resp_partition {
    int32_t partition_index;
    int16_t error_code;
    kp_array_t old_style_offsets; /* v0 only, int64_t */
    int64_t timestamp;            /* v1+, def -1 */
    int64_t offset;               /* v1+, def -1 */
    int32_t leader_epoch;         /* v4+, def -1 */
} kp_list_offsets_resp_partition_t;

typedef struct kp_list_offsets_resp_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_list_offsets_resp_partition_t */
} kp_list_offsets_resp_topic_t;

typedef struct kp_list_offsets_resp {
    int32_t throttle_time_ms; /* v2+ */
    kp_array_t topics;        /* kp_list_offsets_resp_topic_t */
} kp_list_offsets_resp_t;

/* ---- Metadata (3) --------------------------------------------------------- */

typedef struct kp_metadata_req_topic {
    kp_uuid_t topic_id; /* v10+ */
    kp_str_t name;      /* nullable v10+ (a topic named by id only) */
} kp_metadata_req_topic_t;

typedef struct kp_metadata_req {
    kp_array_t topics; /* kp_metadata_req_topic_t; nullable v1+ (null = all topics; v0: empty = all) */
    bool allow_auto_topic_creation;              /* v4+, def true */
    bool include_cluster_authorized_operations;  /* v8-10 */
    bool include_topic_authorized_operations;    /* v8+ */
} kp_metadata_req_t;

typedef struct kp_metadata_resp_broker {
    int32_t node_id;
    kp_str_t host;
    int32_t port;
    kp_str_t rack; /* v1+, nullable, def null */
} kp_metadata_resp_broker_t;

typedef struct kp_metadata_resp_partition {
    int16_t error_code;
    int32_t partition_index;
    int32_t leader_id;
    int32_t leader_epoch;        /* v7+, def -1 */
    kp_array_t replica_nodes;    /* int32_t */
    kp_array_t isr_nodes;        /* int32_t */
    kp_array_t offline_replicas; /* v5+, int32_t */
} kp_metadata_resp_partition_t;

typedef struct kp_metadata_resp_topic {
    int16_t error_code;
    kp_str_t name;
    kp_uuid_t topic_id;    /* v10+ (zero: samsa keeps no topic ids yet) */
    bool is_internal;      /* v1+ */
    kp_array_t partitions; /* kp_metadata_resp_partition_t */
    int32_t topic_authorized_operations; /* v8+, def INT32_MIN */
} kp_metadata_resp_topic_t;

typedef struct kp_metadata_resp {
    int32_t throttle_time_ms; /* v3+ */
    kp_array_t brokers;       /* kp_metadata_resp_broker_t */
    kp_str_t cluster_id;      /* v2+, nullable, def null */
    int32_t controller_id;    /* v1+, def -1 */
    kp_array_t topics;        /* kp_metadata_resp_topic_t */
    int32_t cluster_authorized_operations; /* v8-10, def INT32_MIN */
} kp_metadata_resp_t;

/* ---- LeaderAndIsr (4) ----------------------------------------------------- */

typedef struct kp_leader_and_isr_partition_state {
    kp_str_t topic_name; /* v0-1 (v2+: in the enclosing topic state) */
    int32_t partition_index;
    int32_t controller_epoch;
    int32_t leader;
    int32_t leader_epoch;
    kp_array_t isr; /* int32_t */
    int32_t zk_version;
    kp_array_t replicas;          /* int32_t */
    kp_array_t adding_replicas;   /* v3+, int32_t (reassignment; informational here) */
    kp_array_t removing_replicas; /* v3+, int32_t */
    bool is_new;                  /* v1+ */
} kp_leader_and_isr_partition_state_t;

typedef struct kp_leader_and_isr_topic_state {
    kp_str_t topic_name;
    kp_uuid_t topic_id; /* v5+ */
    kp_array_t partition_states; /* kp_leader_and_isr_partition_state_t */
} kp_leader_and_isr_topic_state_t;

typedef struct kp_leader_and_isr_live_leader {
    int32_t broker_id;
    kp_str_t host_name;
    int32_t port;
} kp_leader_and_isr_live_leader_t;

typedef struct kp_leader_and_isr_req {
    int32_t controller_id;
    int32_t controller_epoch;
    int64_t broker_epoch; /* v2+, def -1 */
    int8_t type;          /* v5+: 0 incremental, 1 full (KIP-516) */
    kp_array_t ungrouped_partition_states; /* v0-1, kp_leader_and_isr_partition_state_t */
    kp_array_t topic_states;               /* v2+, kp_leader_and_isr_topic_state_t */
    kp_array_t live_leaders;               /* kp_leader_and_isr_live_leader_t */
} kp_leader_and_isr_req_t;

typedef struct kp_leader_and_isr_partition_error {
    kp_str_t topic_name; /* v0-4 */
    int32_t partition_index;
    int16_t error_code;
} kp_leader_and_isr_partition_error_t;

typedef struct kp_leader_and_isr_topic_error {
    kp_uuid_t topic_id;
    kp_array_t partition_errors; /* kp_leader_and_isr_partition_error_t */
} kp_leader_and_isr_topic_error_t;

typedef struct kp_leader_and_isr_resp {
    int16_t error_code;
    kp_array_t partition_errors; /* v0-4, kp_leader_and_isr_partition_error_t */
    kp_array_t topics;           /* v5+, kp_leader_and_isr_topic_error_t */
} kp_leader_and_isr_resp_t;

/* ---- StopReplica (5) ------------------------------------------------------ */

typedef struct kp_stop_replica_req_partition_v0 {
    kp_str_t topic_name;
    int32_t partition_index;
} kp_stop_replica_req_partition_v0_t;

typedef struct kp_stop_replica_req_topic_v1 {
    kp_str_t name;
    kp_array_t partition_indexes; /* int32_t */
} kp_stop_replica_req_topic_v1_t;

typedef struct kp_stop_replica_partition_state {
    int32_t partition_index;
    int32_t leader_epoch; /* def -1 (no epoch); -2: the topic is being deleted */
    bool delete_partition;
} kp_stop_replica_partition_state_t;

typedef struct kp_stop_replica_topic_state {
    kp_str_t topic_name;
    kp_array_t partition_states; /* kp_stop_replica_partition_state_t */
} kp_stop_replica_topic_state_t;

typedef struct kp_stop_replica_req {
    int32_t controller_id;
    int32_t controller_epoch;
    int64_t broker_epoch; /* v1+, def -1 */
    bool delete_partitions;          /* v0-2 */
    kp_array_t ungrouped_partitions; /* v0 only, kp_stop_replica_req_partition_v0_t */
    kp_array_t topics;               /* v1-2, kp_stop_replica_req_topic_v1_t */
    kp_array_t topic_states;         /* v3+, kp_stop_replica_topic_state_t */
} kp_stop_replica_req_t;

typedef struct kp_stop_replica_partition_error {
    kp_str_t topic_name;
    int32_t partition_index;
    int16_t error_code;
} kp_stop_replica_partition_error_t;

typedef struct kp_stop_replica_resp {
    int16_t error_code;
    kp_array_t partition_errors; /* kp_stop_replica_partition_error_t */
} kp_stop_replica_resp_t;

/* ---- UpdateMetadata (6) --------------------------------------------------- */

typedef struct kp_update_metadata_partition_state {
    kp_str_t topic_name; /* v0-4 (v5+: in the enclosing topic state) */
    int32_t partition_index;
    int32_t controller_epoch;
    int32_t leader;
    int32_t leader_epoch;
    kp_array_t isr; /* int32_t */
    int32_t zk_version;
    kp_array_t replicas;         /* int32_t */
    kp_array_t offline_replicas; /* v4+, int32_t */
} kp_update_metadata_partition_state_t;

typedef struct kp_update_metadata_topic_state {
    kp_str_t topic_name;
    kp_uuid_t topic_id; /* v7+ */
    kp_array_t partition_states; /* kp_update_metadata_partition_state_t */
} kp_update_metadata_topic_state_t;

typedef struct kp_update_metadata_endpoint {
    int32_t port;
    kp_str_t host;
    kp_str_t listener; /* v3+ */
    int16_t security_protocol;
} kp_update_metadata_endpoint_t;

typedef struct kp_update_metadata_broker {
    int32_t id;
    kp_str_t v0_host;     /* v0 only */
    int32_t v0_port;      /* v0 only */
    kp_array_t endpoints; /* v1+, kp_update_metadata_endpoint_t */
    kp_str_t rack;        /* v2+, nullable */
} kp_update_metadata_broker_t;

typedef struct kp_update_metadata_req {
    int32_t controller_id;
    int32_t controller_epoch;
    int64_t broker_epoch; /* v5+, def -1 */
    kp_array_t ungrouped_partition_states; /* v0-4, kp_update_metadata_partition_state_t */
    kp_array_t topic_states;               /* v5+, kp_update_metadata_topic_state_t */
    kp_array_t live_brokers;               /* kp_update_metadata_broker_t */
} kp_update_metadata_req_t;

typedef struct kp_update_metadata_resp {
    int16_t error_code;
} kp_update_metadata_resp_t;

/* ---- ControlledShutdown (7) ----------------------------------------------- */

typedef struct kp_controlled_shutdown_req {
    int32_t broker_id;
    int64_t broker_epoch; /* v2+, def -1 */
} kp_controlled_shutdown_req_t;

typedef struct kp_controlled_shutdown_remaining {
    kp_str_t topic_name;
    int32_t partition_index;
} kp_controlled_shutdown_remaining_t;

typedef struct kp_controlled_shutdown_resp {
    int16_t error_code;
    kp_array_t remaining_partitions; /* kp_controlled_shutdown_remaining_t */
} kp_controlled_shutdown_resp_t;

/* ---- OffsetCommit (8) ----------------------------------------------------- */

typedef struct kp_offset_commit_req_partition {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v6+, def -1 */
    int64_t commit_timestamp;       /* v1 only, def -1 */
    kp_str_t committed_metadata;    /* nullable */
} kp_offset_commit_req_partition_t;

typedef struct kp_offset_commit_req_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_offset_commit_req_partition_t */
} kp_offset_commit_req_topic_t;

typedef struct kp_offset_commit_req {
    kp_str_t group_id;
    int32_t generation_id;       /* v1+, def -1 */
    kp_str_t member_id;          /* v1+ */
    kp_str_t group_instance_id;  /* v7+, nullable, def null */
    int64_t retention_time_ms;   /* v2-4, def -1 */
    kp_array_t topics;           /* kp_offset_commit_req_topic_t */
} kp_offset_commit_req_t;

typedef struct kp_offset_commit_resp_partition {
    int32_t partition_index;
    int16_t error_code;
} kp_offset_commit_resp_partition_t;

typedef struct kp_offset_commit_resp_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_offset_commit_resp_partition_t */
} kp_offset_commit_resp_topic_t;

typedef struct kp_offset_commit_resp {
    int32_t throttle_time_ms; /* v3+ */
    kp_array_t topics;        /* kp_offset_commit_resp_topic_t */
} kp_offset_commit_resp_t;

/* ---- OffsetFetch (9) ------------------------------------------------------ */

typedef struct kp_offset_fetch_req_topic {
    kp_str_t name;
    kp_array_t partition_indexes; /* int32_t */
} kp_offset_fetch_req_topic_t;

typedef struct kp_offset_fetch_req {
    kp_str_t group_id;
    kp_array_t topics; /* kp_offset_fetch_req_topic_t; nullable v2+ (null = all) */
    bool require_stable; /* v7+ */
} kp_offset_fetch_req_t;

typedef struct kp_offset_fetch_resp_partition {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v5+, def -1 */
    kp_str_t metadata;              /* nullable */
    int16_t error_code;
} kp_offset_fetch_resp_partition_t;

typedef struct kp_offset_fetch_resp_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_offset_fetch_resp_partition_t */
} kp_offset_fetch_resp_topic_t;

typedef struct kp_offset_fetch_resp {
    int32_t throttle_time_ms; /* v3+ */
    kp_array_t topics;        /* kp_offset_fetch_resp_topic_t */
    int16_t error_code;       /* v2+ */
} kp_offset_fetch_resp_t;

/* ---- FindCoordinator (10) ------------------------------------------------- */

typedef struct kp_find_coordinator_req {
    kp_str_t key;
    int8_t key_type; /* v1+ (0 group, 1 transaction) */
} kp_find_coordinator_req_t;

typedef struct kp_find_coordinator_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    kp_str_t error_message; /* v1+, nullable */
    int32_t node_id;
    kp_str_t host;
    int32_t port;
} kp_find_coordinator_resp_t;

/* ---- JoinGroup (11) ------------------------------------------------------- */

typedef struct kp_join_group_req_protocol {
    kp_str_t name;
    kp_bytes_t metadata;
} kp_join_group_req_protocol_t;

typedef struct kp_join_group_req {
    kp_str_t group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v1+, def -1 */
    kp_str_t member_id;
    kp_str_t group_instance_id; /* v5+, nullable, def null */
    kp_str_t protocol_type;
    kp_array_t protocols; /* kp_join_group_req_protocol_t */
} kp_join_group_req_t;

typedef struct kp_join_group_resp_member {
    kp_str_t member_id;
    kp_str_t group_instance_id; /* v5+, nullable, def null */
    kp_bytes_t metadata;
} kp_join_group_resp_member_t;

typedef struct kp_join_group_resp {
    int32_t throttle_time_ms; /* v2+ */
    int16_t error_code;
    int32_t generation_id; /* def -1 */
    kp_str_t protocol_type; /* v7+, nullable, def null */
    kp_str_t protocol_name; /* nullable v7+ */
    kp_str_t leader;
    kp_str_t member_id;
    kp_array_t members; /* kp_join_group_resp_member_t */
} kp_join_group_resp_t;

/* ---- Heartbeat (12) ------------------------------------------------------- */

typedef struct kp_heartbeat_req {
    kp_str_t group_id;
    int32_t generation_id;
    kp_str_t member_id;
    kp_str_t group_instance_id; /* v3+, nullable, def null */
} kp_heartbeat_req_t;

typedef struct kp_heartbeat_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
} kp_heartbeat_resp_t;

/* ---- LeaveGroup (13) ------------------------------------------------------ */

typedef struct kp_leave_group_req_member {
    kp_str_t member_id;
    kp_str_t group_instance_id; /* nullable, def null */
} kp_leave_group_req_member_t;

typedef struct kp_leave_group_req {
    kp_str_t group_id;
    kp_str_t member_id; /* v0-2 */
    kp_array_t members; /* v3+, kp_leave_group_req_member_t */
} kp_leave_group_req_t;

typedef struct kp_leave_group_resp_member {
    kp_str_t member_id;
    kp_str_t group_instance_id; /* nullable */
    int16_t error_code;
} kp_leave_group_resp_member_t;

typedef struct kp_leave_group_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    kp_array_t members; /* v3+, kp_leave_group_resp_member_t */
} kp_leave_group_resp_t;

/* ---- SyncGroup (14) ------------------------------------------------------- */

typedef struct kp_sync_group_req_assignment {
    kp_str_t member_id;
    kp_bytes_t assignment;
} kp_sync_group_req_assignment_t;

typedef struct kp_sync_group_req {
    kp_str_t group_id;
    int32_t generation_id;
    kp_str_t member_id;
    kp_str_t group_instance_id; /* v3+, nullable, def null */
    kp_str_t protocol_type;     /* v5+, nullable, def null */
    kp_str_t protocol_name;     /* v5+, nullable, def null */
    kp_array_t assignments;     /* kp_sync_group_req_assignment_t */
} kp_sync_group_req_t;

typedef struct kp_sync_group_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    kp_str_t protocol_type; /* v5+, nullable, def null */
    kp_str_t protocol_name; /* v5+, nullable, def null */
    kp_bytes_t assignment;
} kp_sync_group_resp_t;

/* ---- DescribeGroups (15) -------------------------------------------------- */

typedef struct kp_describe_groups_req {
    kp_array_t groups; /* kp_str_t */
    bool include_authorized_operations; /* v3+ */
} kp_describe_groups_req_t;

typedef struct kp_describe_groups_resp_member {
    kp_str_t member_id;
    kp_str_t group_instance_id; /* v4+, nullable, def null */
    kp_str_t client_id;
    kp_str_t client_host;
    kp_bytes_t member_metadata;
    kp_bytes_t member_assignment;
} kp_describe_groups_resp_member_t;

typedef struct kp_describe_groups_resp_group {
    int16_t error_code;
    kp_str_t group_id;
    kp_str_t group_state;
    kp_str_t protocol_type;
    kp_str_t protocol_data;
    kp_array_t members; /* kp_describe_groups_resp_member_t */
    int32_t authorized_operations; /* v3+, def INT32_MIN */
} kp_describe_groups_resp_group_t;

typedef struct kp_describe_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    kp_array_t groups;        /* kp_describe_groups_resp_group_t */
} kp_describe_groups_resp_t;

/* ---- ListGroups (16) ------------------------------------------------------ */

typedef struct kp_list_groups_req {
    kp_array_t states_filter; /* v4+, kp_str_t (empty: every state) */
} kp_list_groups_req_t;

typedef struct kp_list_groups_resp_group {
    kp_str_t group_id;
    kp_str_t protocol_type;
    kp_str_t group_state; /* v4+ */
} kp_list_groups_resp_group_t;

typedef struct kp_list_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    kp_array_t groups; /* kp_list_groups_resp_group_t */
} kp_list_groups_resp_t;

/* ---- ApiVersions (18) ----------------------------------------------------- */

typedef struct kp_api_versions_req {
    kp_str_t client_software_name;    /* v3+ */
    kp_str_t client_software_version; /* v3+ */
} kp_api_versions_req_t;

typedef struct kp_api_versions_resp_key {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
} kp_api_versions_resp_key_t;

typedef struct kp_api_versions_resp_feature {
    kp_str_t name;
    int16_t min_version;
    int16_t max_version;
} kp_api_versions_resp_feature_t;

typedef struct kp_api_versions_resp_finalized {
    kp_str_t name;
    int16_t max_version_level;
    int16_t min_version_level;
} kp_api_versions_resp_finalized_t;

typedef struct kp_api_versions_resp {
    int16_t error_code;
    kp_array_t api_keys;      /* kp_api_versions_resp_key_t */
    int32_t throttle_time_ms; /* v1+ */
    kp_array_t supported_features;    /* v3+, tag 0, kp_api_versions_resp_feature_t */
    int64_t finalized_features_epoch; /* v3+, tag 1, def -1 */
    kp_array_t finalized_features;    /* v3+, tag 2, kp_api_versions_resp_finalized_t */
} kp_api_versions_resp_t;

/* ---- CreateTopics (19) ---------------------------------------------------- */

typedef struct kp_create_topics_req_assignment {
    int32_t partition_index;
    kp_array_t broker_ids; /* int32_t */
} kp_create_topics_req_assignment_t;

typedef struct kp_create_topics_req_config {
    kp_str_t name;
    kp_str_t value; /* nullable */
} kp_create_topics_req_config_t;

typedef struct kp_create_topics_req_topic {
    kp_str_t name;
    int32_t num_partitions;      /* -1 = broker default (v4+) */
    int16_t replication_factor;  /* -1 = broker default (v4+) */
    kp_array_t assignments;      /* kp_create_topics_req_assignment_t */
    kp_array_t configs;          /* kp_create_topics_req_config_t */
} kp_create_topics_req_topic_t;

typedef struct kp_create_topics_req {
    kp_array_t topics; /* kp_create_topics_req_topic_t */
    int32_t timeout_ms; /* def 60000 */
    bool validate_only; /* v1+ */
} kp_create_topics_req_t;

typedef struct kp_create_topics_resp_config {
    kp_str_t name;
    kp_str_t value; /* nullable */
    bool read_only;
    int8_t config_source; /* def -1 */
    bool is_sensitive;
} kp_create_topics_resp_config_t;

typedef struct kp_create_topics_resp_topic {
    kp_str_t name;
    kp_uuid_t topic_id; /* v7+ (zero: samsa keeps no topic ids yet) */
    int16_t error_code;
    kp_str_t error_message;          /* v1+, nullable */
    int16_t topic_config_error_code; /* v5+, tag 0 */
    int32_t num_partitions;          /* v5+, def -1 */
    int16_t replication_factor;      /* v5+, def -1 */
    kp_array_t configs;              /* v5+, nullable, kp_create_topics_resp_config_t */
} kp_create_topics_resp_topic_t;

typedef struct kp_create_topics_resp {
    int32_t throttle_time_ms; /* v2+ */
    kp_array_t topics;        /* kp_create_topics_resp_topic_t */
} kp_create_topics_resp_t;

/* ---- DeleteTopics (20) ---------------------------------------------------- */

typedef struct kp_delete_topics_req_topic {
    kp_str_t name; /* nullable (a topic named by id only) */
    kp_uuid_t topic_id;
} kp_delete_topics_req_topic_t;

typedef struct kp_delete_topics_req {
    kp_array_t topics;      /* v6+, kp_delete_topics_req_topic_t */
    kp_array_t topic_names; /* v0-5, kp_str_t */
    int32_t timeout_ms;
} kp_delete_topics_req_t;

typedef struct kp_delete_topics_resp_topic {
    kp_str_t name;      /* nullable v6+ */
    kp_uuid_t topic_id; /* v6+ */
    int16_t error_code;
    kp_str_t error_message; /* v5+, nullable, def null */
} kp_delete_topics_resp_topic_t;

typedef struct kp_delete_topics_resp {
    int32_t throttle_time_ms; /* v1+ */
    kp_array_t responses;     /* kp_delete_topics_resp_topic_t */
} kp_delete_topics_resp_t;

/* ---- OffsetForLeaderEpoch (23) -------------------------------------------- */

typedef struct kp_offset_for_leader_epoch_req_partition {
    int32_t partition;
    int32_t current_leader_epoch; /* v2+, def -1 */
    int32_t leader_epoch;
} kp_offset_for_leader_epoch_req_partition_t;

typedef struct kp_offset_for_leader_epoch_req_topic {
    kp_str_t topic;
    kp_array_t partitions; /* kp_offset_for_leader_epoch_req_partition_t */
} kp_offset_for_leader_epoch_req_topic_t;

typedef struct kp_offset_for_leader_epoch_req {
    int32_t replica_id; /* v3+, def -2 */
    kp_array_t topics;  /* kp_offset_for_leader_epoch_req_topic_t */
} kp_offset_for_leader_epoch_req_t;

typedef struct kp_offset_for_leader_epoch_resp_partition {
    int16_t error_code;
    int32_t partition;
    int32_t leader_epoch; /* v1+, def -1 */
    int64_t end_offset;   /* def -1 */
} kp_offset_for_leader_epoch_resp_partition_t;

typedef struct kp_offset_for_leader_epoch_resp_topic {
    kp_str_t topic;
    kp_array_t partitions; /* kp_offset_for_leader_epoch_resp_partition_t */
} kp_offset_for_leader_epoch_resp_topic_t;

typedef struct kp_offset_for_leader_epoch_resp {
    int32_t throttle_time_ms; /* v2+ */
    kp_array_t topics;        /* kp_offset_for_leader_epoch_resp_topic_t */
} kp_offset_for_leader_epoch_resp_t;

/* ---- DescribeConfigs (32) ------------------------------------------------- */

typedef struct kp_describe_configs_req_resource {
    int8_t resource_type; /* 2 topic, 4 broker */
    kp_str_t resource_name;
    kp_array_t configuration_keys; /* kp_str_t; nullable (null = all) */
} kp_describe_configs_req_resource_t;

typedef struct kp_describe_configs_req {
    kp_array_t resources;  /* kp_describe_configs_req_resource_t */
    bool include_synonyms;      /* v1+ */
    bool include_documentation; /* v3+ */
} kp_describe_configs_req_t;

typedef struct kp_describe_configs_resp_synonym {
    kp_str_t name;
    kp_str_t value; /* nullable */
    int8_t source;
} kp_describe_configs_resp_synonym_t;

typedef struct kp_describe_configs_resp_config {
    kp_str_t name;
    kp_str_t value; /* nullable */
    bool read_only;
    bool is_default;       /* v0 only */
    int8_t config_source;  /* v1+, def -1 */
    bool is_sensitive;
    kp_array_t synonyms;    /* v1+, kp_describe_configs_resp_synonym_t */
    int8_t config_type;     /* v3+, def 0 (UNKNOWN) */
    kp_str_t documentation; /* v3+, nullable */
} kp_describe_configs_resp_config_t;

typedef struct kp_describe_configs_resp_result {
    int16_t error_code;
    kp_str_t error_message; /* nullable */
    int8_t resource_type;
    kp_str_t resource_name;
    kp_array_t configs; /* kp_describe_configs_resp_config_t */
} kp_describe_configs_resp_result_t;

typedef struct kp_describe_configs_resp {
    int32_t throttle_time_ms;
    kp_array_t results; /* kp_describe_configs_resp_result_t */
} kp_describe_configs_resp_t;

/* ---- CreatePartitions (37) ------------------------------------------------ */

typedef struct kp_create_partitions_req_assignment {
    kp_array_t broker_ids; /* int32_t */
} kp_create_partitions_req_assignment_t;

typedef struct kp_create_partitions_req_topic {
    kp_str_t name;
    int32_t count;
    kp_array_t assignments; /* nullable, kp_create_partitions_req_assignment_t */
} kp_create_partitions_req_topic_t;

typedef struct kp_create_partitions_req {
    kp_array_t topics; /* kp_create_partitions_req_topic_t */
    int32_t timeout_ms;
    bool validate_only;
} kp_create_partitions_req_t;

typedef struct kp_create_partitions_resp_result {
    kp_str_t name;
    int16_t error_code;
    kp_str_t error_message; /* nullable, def null */
} kp_create_partitions_resp_result_t;

typedef struct kp_create_partitions_resp {
    int32_t throttle_time_ms;
    kp_array_t results; /* kp_create_partitions_resp_result_t */
} kp_create_partitions_resp_t;

/* ---- DeleteGroups (42) ---------------------------------------------------- */

typedef struct kp_delete_groups_req {
    kp_array_t groups_names; /* kp_str_t */
} kp_delete_groups_req_t;

typedef struct kp_delete_groups_resp_result {
    kp_str_t group_id;
    int16_t error_code;
} kp_delete_groups_resp_result_t;

typedef struct kp_delete_groups_resp {
    int32_t throttle_time_ms;
    kp_array_t results; /* kp_delete_groups_resp_result_t */
} kp_delete_groups_resp_t;

/* ---- OffsetDelete (47) ---------------------------------------------------- */

typedef struct kp_offset_delete_req_partition {
    int32_t partition_index;
} kp_offset_delete_req_partition_t;

typedef struct kp_offset_delete_req_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_offset_delete_req_partition_t */
} kp_offset_delete_req_topic_t;

typedef struct kp_offset_delete_req {
    kp_str_t group_id;
    kp_array_t topics; /* kp_offset_delete_req_topic_t */
} kp_offset_delete_req_t;

typedef struct kp_offset_delete_resp_partition {
    int32_t partition_index;
    int16_t error_code;
} kp_offset_delete_resp_partition_t;

typedef struct kp_offset_delete_resp_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_offset_delete_resp_partition_t */
} kp_offset_delete_resp_topic_t;

typedef struct kp_offset_delete_resp {
    int16_t error_code;
    int32_t throttle_time_ms;
    kp_array_t topics; /* kp_offset_delete_resp_topic_t */
} kp_offset_delete_resp_t;

/* ---- AlterIsr (56) ---------------------------------------------------------
 * KIP-497: a partition leader asks the controller to write its new ISR
 * (inter.broker.protocol.version >= 2.7-IV2). */

typedef struct kp_alter_isr_req_partition {
    int32_t partition_index;
    int32_t leader_epoch;
    kp_array_t new_isr;          /* int32_t */
    int32_t current_isr_version; /* the state znode's version the leader knows */
} kp_alter_isr_req_partition_t;

typedef struct kp_alter_isr_req_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_alter_isr_req_partition_t */
} kp_alter_isr_req_topic_t;

typedef struct kp_alter_isr_req {
    int32_t broker_id;
    int64_t broker_epoch; /* def -1 */
    kp_array_t topics;    /* kp_alter_isr_req_topic_t */
} kp_alter_isr_req_t;

typedef struct kp_alter_isr_resp_partition {
    int32_t partition_index;
    int16_t error_code;
    int32_t leader_id;
    int32_t leader_epoch;
    kp_array_t isr;              /* int32_t */
    int32_t current_isr_version; /* the state znode's version after the write */
} kp_alter_isr_resp_partition_t;

typedef struct kp_alter_isr_resp_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_alter_isr_resp_partition_t */
} kp_alter_isr_resp_topic_t;

typedef struct kp_alter_isr_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    kp_array_t topics; /* kp_alter_isr_resp_topic_t */
} kp_alter_isr_resp_t;

/* ---- DescribeReplicaState (32000, samsa only) ------------------------------
 * A partition leader's view of its replicas' progress (samsa-topics
 * --describe --replicas): what Kafka shows only as metrics. Only the
 * leader knows its followers' positions, so the tool asks each leader;
 * any other broker answers NOT_LEADER_OR_FOLLOWER. v0, flexible. */

typedef struct kp_describe_replica_state_req_topic {
    kp_str_t name;
    kp_array_t partition_indexes; /* int32_t */
} kp_describe_replica_state_req_topic_t;

typedef struct kp_describe_replica_state_req {
    kp_array_t topics; /* nullable (null = every partition this broker leads), kp_describe_replica_state_req_topic_t */
} kp_describe_replica_state_req_t;

typedef struct kp_describe_replica_state_resp_replica {
    int32_t broker_id;
    bool in_isr;
    int64_t log_end_offset;        /* -1: unknown (no fetch since this leader took over) */
    int64_t log_start_offset;      /* -1: unknown */
    int64_t last_caught_up_ms_ago; /* -1: never (in this leadership) */
} kp_describe_replica_state_resp_replica_t;

typedef struct kp_describe_replica_state_resp_partition {
    int32_t partition_index;
    int16_t error_code; /* NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION */
    int32_t leader_epoch;
    int64_t high_watermark;
    int64_t log_end_offset;
    int64_t log_start_offset;
    kp_array_t replicas; /* kp_describe_replica_state_resp_replica_t, the leader included */
} kp_describe_replica_state_resp_partition_t;

typedef struct kp_describe_replica_state_resp_topic {
    kp_str_t name;
    kp_array_t partitions; /* kp_describe_replica_state_resp_partition_t */
} kp_describe_replica_state_resp_topic_t;

typedef struct kp_describe_replica_state_resp {
    int32_t throttle_time_ms;
    kp_array_t topics; /* kp_describe_replica_state_resp_topic_t */
} kp_describe_replica_state_resp_t;

#endif
