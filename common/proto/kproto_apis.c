/*
 * kproto_apis — schema tables for kproto's generic codec, written from
 * Kafka 2.8's clients/src/main/resources/common/message/<Api>{Request,Response}.json.
 *
 * Each table lists a struct's fields in wire order with the versions they
 * exist in ("versions"), the version they become nullable from
 * ("nullableVersions"), their default and, for flexible-only fields, their
 * tag. Version ranges are Kafka's own even where they reach past what samsa
 * supports, so raising a max_version in kp_apis[] below is all it takes once
 * the fields of the new versions are added.
 */
#include "proto/kproto_apis.h"

#include "proto/kerr.h"

#include <stddef.h>

#define P KP_VMAX
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Field initialisers; S is #defined to the C struct around each table. */
#define F_(m, t, lo, hi) .name = #m, .type = t, .vmin = lo, .vmax = hi, .offset = offsetof(S, m)
#define F_BOOL(m, lo, hi) F_(m, KP_T_BOOL, lo, hi)
#define F_I8(m, lo, hi) F_(m, KP_T_INT8, lo, hi)
#define F_I16(m, lo, hi) F_(m, KP_T_INT16, lo, hi)
#define F_I32(m, lo, hi) F_(m, KP_T_INT32, lo, hi)
#define F_I64(m, lo, hi) F_(m, KP_T_INT64, lo, hi)
#define F_STR(m, lo, hi) F_(m, KP_T_STRING, lo, hi)
#define F_BYTES(m, lo, hi) F_(m, KP_T_BYTES, lo, hi)
#define F_RECORDS(m, lo, hi) F_(m, KP_T_RECORDS, lo, hi)
#define F_ARR(m, lo, hi, schema) F_(m, KP_T_ARRAY, lo, hi), .elem = KP_T_STRUCT, .sub = &schema
#define F_ARR_I32(m, lo, hi) F_(m, KP_T_ARRAY, lo, hi), .elem = KP_T_INT32
#define F_ARR_I64(m, lo, hi) F_(m, KP_T_ARRAY, lo, hi), .elem = KP_T_INT64
#define F_ARR_STR(m, lo, hi) F_(m, KP_T_ARRAY, lo, hi), .elem = KP_T_STRING
#define F_UUID(m, lo, hi) F_(m, KP_T_UUID, lo, hi)
#define F_STRUCT(m, lo, hi, schema) F_(m, KP_T_STRUCT, lo, hi), .sub = &schema
/* Modifiers (at most one flags-setting modifier per field). */
#define NULLABLE(n) .flags = KP_F_NULLABLE, .null_min = n
#define NULLABLE_DEFNULL(n) .flags = KP_F_NULLABLE | KP_F_DEFNULL, .null_min = n
#define TAG(t) .flags = KP_F_TAGGED, .tag = t
#define TAG_NULLABLE_DEFNULL(t, n) .flags = KP_F_TAGGED | KP_F_NULLABLE | KP_F_DEFNULL, .tag = t, .null_min = n
#define DEF(x) .def = x

#define SCHEMA(var, kname, fields) static const kp_schema_t var = {kname, fields, NELEM(fields), sizeof(S)};

/* ---- Produce -------------------------------------------------------------- */

#define S kp_produce_req_partition_t
static const kp_field_t produce_req_partition_f[] = {
    {F_I32(index, 0, P)},
    {F_RECORDS(records, 0, P), NULLABLE(0)},
};
SCHEMA(produce_req_partition_s, "PartitionProduceData", produce_req_partition_f)
#undef S

#define S kp_produce_req_topic_t
static const kp_field_t produce_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partition_data, 0, P, produce_req_partition_s)},
};
SCHEMA(produce_req_topic_s, "TopicProduceData", produce_req_topic_f)
#undef S

#define S kp_produce_req_t
static const kp_field_t produce_req_f[] = {
    {F_STR(transactional_id, 3, P), NULLABLE_DEFNULL(3)},
    {F_I16(acks, 0, P)},
    {F_I32(timeout_ms, 0, P)},
    {F_ARR(topic_data, 0, P, produce_req_topic_s)},
};
SCHEMA(produce_req_s, "ProduceRequest", produce_req_f)
#undef S

#define S kp_produce_resp_record_error_t
static const kp_field_t produce_resp_record_error_f[] = {
    {F_I32(batch_index, 8, P)},
    {F_STR(batch_index_error_message, 8, P), NULLABLE_DEFNULL(8)},
};
SCHEMA(produce_resp_record_error_s, "BatchIndexAndErrorMessage", produce_resp_record_error_f)
#undef S

#define S kp_produce_resp_partition_t
static const kp_field_t produce_resp_partition_f[] = {
    {F_I32(index, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_I64(base_offset, 0, P)},
    {F_I64(log_append_time_ms, 2, P), DEF(-1)},
    {F_I64(log_start_offset, 5, P), DEF(-1)},
    {F_ARR(record_errors, 8, P, produce_resp_record_error_s)},
    {F_STR(error_message, 8, P), NULLABLE_DEFNULL(8)},
};
SCHEMA(produce_resp_partition_s, "PartitionProduceResponse", produce_resp_partition_f)
#undef S

#define S kp_produce_resp_topic_t
static const kp_field_t produce_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partition_responses, 0, P, produce_resp_partition_s)},
};
SCHEMA(produce_resp_topic_s, "TopicProduceResponse", produce_resp_topic_f)
#undef S

#define S kp_produce_resp_t
static const kp_field_t produce_resp_f[] = {
    {F_ARR(responses, 0, P, produce_resp_topic_s)},
    {F_I32(throttle_time_ms, 1, P)},
};
SCHEMA(produce_resp_s, "ProduceResponse", produce_resp_f)
#undef S

/* ---- Fetch ---------------------------------------------------------------- */

#define S kp_fetch_req_partition_t
static const kp_field_t fetch_req_partition_f[] = {
    {F_I32(partition, 0, P)},
    {F_I32(current_leader_epoch, 9, P), DEF(-1)},
    {F_I64(fetch_offset, 0, P)},
    {F_I32(last_fetched_epoch, 12, P), DEF(-1)},
    {F_I64(log_start_offset, 5, P), DEF(-1)},
    {F_I32(partition_max_bytes, 0, P)},
};
SCHEMA(fetch_req_partition_s, "FetchPartition", fetch_req_partition_f)
#undef S

#define S kp_fetch_req_topic_t
static const kp_field_t fetch_req_topic_f[] = {
    {F_STR(topic, 0, P)},
    {F_ARR(partitions, 0, P, fetch_req_partition_s)},
};
SCHEMA(fetch_req_topic_s, "FetchTopic", fetch_req_topic_f)
#undef S

#define S kp_fetch_req_forgotten_t
static const kp_field_t fetch_req_forgotten_f[] = {
    {F_STR(topic, 7, P)},
    {F_ARR_I32(partitions, 7, P)},
};
SCHEMA(fetch_req_forgotten_s, "ForgottenTopic", fetch_req_forgotten_f)
#undef S

#define S kp_fetch_req_t
static const kp_field_t fetch_req_f[] = {
    {F_STR(cluster_id, 12, P), TAG_NULLABLE_DEFNULL(0, 12)},
    {F_I32(replica_id, 0, P)},
    {F_I32(max_wait_ms, 0, P)},
    {F_I32(min_bytes, 0, P)},
    {F_I32(max_bytes, 3, P), DEF(0x7fffffff)},
    {F_I8(isolation_level, 4, P)},
    {F_I32(session_id, 7, P)},
    {F_I32(session_epoch, 7, P), DEF(-1)},
    {F_ARR(topics, 0, P, fetch_req_topic_s)},
    {F_ARR(forgotten_topics_data, 7, P, fetch_req_forgotten_s)},
    {F_STR(rack_id, 11, P)},
};
SCHEMA(fetch_req_s, "FetchRequest", fetch_req_f)
#undef S

#define S kp_fetch_resp_aborted_t
static const kp_field_t fetch_resp_aborted_f[] = {
    {F_I64(producer_id, 4, P)},
    {F_I64(first_offset, 4, P)},
};
SCHEMA(fetch_resp_aborted_s, "AbortedTransaction", fetch_resp_aborted_f)
#undef S

#define S kp_fetch_resp_epoch_end_offset_t
static const kp_field_t fetch_resp_epoch_end_offset_f[] = {
    {F_I32(epoch, 12, P), DEF(-1)},
    {F_I64(end_offset, 12, P), DEF(-1)},
};
SCHEMA(fetch_resp_epoch_end_offset_s, "EpochEndOffset", fetch_resp_epoch_end_offset_f)
#undef S

#define S kp_fetch_resp_leader_id_and_epoch_t
static const kp_field_t fetch_resp_leader_id_and_epoch_f[] = {
    {F_I32(leader_id, 12, P), DEF(-1)},
    {F_I32(leader_epoch, 12, P), DEF(-1)},
};
SCHEMA(fetch_resp_leader_id_and_epoch_s, "LeaderIdAndEpoch", fetch_resp_leader_id_and_epoch_f)
#undef S

#define S kp_fetch_resp_snapshot_id_t
static const kp_field_t fetch_resp_snapshot_id_f[] = {
    {F_I64(end_offset, 0, P), DEF(-1)},
    {F_I32(epoch, 0, P), DEF(-1)},
};
SCHEMA(fetch_resp_snapshot_id_s, "SnapshotId", fetch_resp_snapshot_id_f)
#undef S

#define S kp_fetch_resp_partition_t
static const kp_field_t fetch_resp_partition_f[] = {
    {F_I32(partition, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_I64(high_watermark, 0, P)},
    {F_I64(last_stable_offset, 4, P), DEF(-1)},
    {F_I64(log_start_offset, 5, P), DEF(-1)},
    {F_STRUCT(diverging_epoch, 12, P, fetch_resp_epoch_end_offset_s), TAG(0)},
    {F_STRUCT(current_leader, 12, P, fetch_resp_leader_id_and_epoch_s), TAG(1)},
    {F_STRUCT(snapshot_id, 12, P, fetch_resp_snapshot_id_s), TAG(2)},
    {F_ARR(aborted_transactions, 4, P, fetch_resp_aborted_s), NULLABLE(4)},
    {F_I32(preferred_read_replica, 11, P), DEF(-1)},
    {F_RECORDS(record_set, 0, P), NULLABLE(0)},
};
SCHEMA(fetch_resp_partition_s, "FetchablePartitionResponse", fetch_resp_partition_f)
#undef S

#define S kp_fetch_resp_topic_t
static const kp_field_t fetch_resp_topic_f[] = {
    {F_STR(topic, 0, P)},
    {F_ARR(partition_responses, 0, P, fetch_resp_partition_s)},
};
SCHEMA(fetch_resp_topic_s, "FetchableTopicResponse", fetch_resp_topic_f)
#undef S

#define S kp_fetch_resp_t
static const kp_field_t fetch_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_I16(error_code, 7, P)},
    {F_I32(session_id, 7, P)},
    {F_ARR(responses, 0, P, fetch_resp_topic_s)},
};
SCHEMA(fetch_resp_s, "FetchResponse", fetch_resp_f)
#undef S

/* ---- ListOffsets ---------------------------------------------------------- */

#define S kp_list_offsets_req_partition_t
static const kp_field_t list_offsets_req_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I32(current_leader_epoch, 4, P), DEF(-1)},
    {F_I64(timestamp, 0, P)},
    {F_I32(max_num_offsets, 0, 0), DEF(1)},
};
SCHEMA(list_offsets_req_partition_s, "ListOffsetsPartition", list_offsets_req_partition_f)
#undef S

#define S kp_list_offsets_req_topic_t
static const kp_field_t list_offsets_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, list_offsets_req_partition_s)},
};
SCHEMA(list_offsets_req_topic_s, "ListOffsetsTopic", list_offsets_req_topic_f)
#undef S

#define S kp_list_offsets_req_t
static const kp_field_t list_offsets_req_f[] = {
    {F_I32(replica_id, 0, P)},
    {F_I8(isolation_level, 2, P)},
    {F_ARR(topics, 0, P, list_offsets_req_topic_s)},
};
SCHEMA(list_offsets_req_s, "ListOffsetsRequest", list_offsets_req_f)
#undef S

#define S kp_list_offsets_resp_partition_t
static const kp_field_t list_offsets_resp_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_ARR_I64(old_style_offsets, 0, 0)},
    {F_I64(timestamp, 1, P), DEF(-1)},
    {F_I64(offset, 1, P), DEF(-1)},
    {F_I32(leader_epoch, 4, P), DEF(-1)},
};
SCHEMA(list_offsets_resp_partition_s, "ListOffsetsPartitionResponse", list_offsets_resp_partition_f)
#undef S

#define S kp_list_offsets_resp_topic_t
static const kp_field_t list_offsets_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, list_offsets_resp_partition_s)},
};
SCHEMA(list_offsets_resp_topic_s, "ListOffsetsTopicResponse", list_offsets_resp_topic_f)
#undef S

#define S kp_list_offsets_resp_t
static const kp_field_t list_offsets_resp_f[] = {
    {F_I32(throttle_time_ms, 2, P)},
    {F_ARR(topics, 0, P, list_offsets_resp_topic_s)},
};
SCHEMA(list_offsets_resp_s, "ListOffsetsResponse", list_offsets_resp_f)
#undef S

/* ---- Metadata ------------------------------------------------------------- */

#define S kp_metadata_req_topic_t
static const kp_field_t metadata_req_topic_f[] = {
    {F_UUID(topic_id, 10, P)},
    {F_STR(name, 0, P), NULLABLE(10)},
};
SCHEMA(metadata_req_topic_s, "MetadataRequestTopic", metadata_req_topic_f)
#undef S

#define S kp_metadata_req_t
static const kp_field_t metadata_req_f[] = {
    {F_ARR(topics, 0, P, metadata_req_topic_s), NULLABLE(1)},
    {F_BOOL(allow_auto_topic_creation, 4, P), DEF(1)},
    {F_BOOL(include_cluster_authorized_operations, 8, 10)},
    {F_BOOL(include_topic_authorized_operations, 8, P)},
};
SCHEMA(metadata_req_s, "MetadataRequest", metadata_req_f)
#undef S

#define S kp_metadata_resp_broker_t
static const kp_field_t metadata_resp_broker_f[] = {
    {F_I32(node_id, 0, P)},
    {F_STR(host, 0, P)},
    {F_I32(port, 0, P)},
    {F_STR(rack, 1, P), NULLABLE_DEFNULL(1)},
};
SCHEMA(metadata_resp_broker_s, "MetadataResponseBroker", metadata_resp_broker_f)
#undef S

#define S kp_metadata_resp_partition_t
static const kp_field_t metadata_resp_partition_f[] = {
    {F_I16(error_code, 0, P)},
    {F_I32(partition_index, 0, P)},
    {F_I32(leader_id, 0, P)},
    {F_I32(leader_epoch, 7, P), DEF(-1)},
    {F_ARR_I32(replica_nodes, 0, P)},
    {F_ARR_I32(isr_nodes, 0, P)},
    {F_ARR_I32(offline_replicas, 5, P)},
};
SCHEMA(metadata_resp_partition_s, "MetadataResponsePartition", metadata_resp_partition_f)
#undef S

#define S kp_metadata_resp_topic_t
static const kp_field_t metadata_resp_topic_f[] = {
    {F_I16(error_code, 0, P)},
    {F_STR(name, 0, P)},
    {F_UUID(topic_id, 10, P)},
    {F_BOOL(is_internal, 1, P)},
    {F_ARR(partitions, 0, P, metadata_resp_partition_s)},
    {F_I32(topic_authorized_operations, 8, P), DEF(INT32_MIN)},
};
SCHEMA(metadata_resp_topic_s, "MetadataResponseTopic", metadata_resp_topic_f)
#undef S

#define S kp_metadata_resp_t
static const kp_field_t metadata_resp_f[] = {
    {F_I32(throttle_time_ms, 3, P)},
    {F_ARR(brokers, 0, P, metadata_resp_broker_s)},
    {F_STR(cluster_id, 2, P), NULLABLE_DEFNULL(2)},
    {F_I32(controller_id, 1, P), DEF(-1)},
    {F_ARR(topics, 0, P, metadata_resp_topic_s)},
    {F_I32(cluster_authorized_operations, 8, 10), DEF(INT32_MIN)},
};
SCHEMA(metadata_resp_s, "MetadataResponse", metadata_resp_f)
#undef S

/* ---- LeaderAndIsr --------------------------------------------------------- */

#define S kp_leader_and_isr_partition_state_t
static const kp_field_t leader_and_isr_partition_state_f[] = {
    {F_STR(topic_name, 0, 1)},
    {F_I32(partition_index, 0, P)},
    {F_I32(controller_epoch, 0, P)},
    {F_I32(leader, 0, P)},
    {F_I32(leader_epoch, 0, P)},
    {F_ARR_I32(isr, 0, P)},
    {F_I32(zk_version, 0, P)},
    {F_ARR_I32(replicas, 0, P)},
    {F_ARR_I32(adding_replicas, 3, P)},
    {F_ARR_I32(removing_replicas, 3, P)},
    {F_BOOL(is_new, 1, P)},
};
SCHEMA(leader_and_isr_partition_state_s, "LeaderAndIsrPartitionState", leader_and_isr_partition_state_f)
#undef S

#define S kp_leader_and_isr_topic_state_t
static const kp_field_t leader_and_isr_topic_state_f[] = {
    {F_STR(topic_name, 2, P)},
    {F_UUID(topic_id, 5, P)},
    {F_ARR(partition_states, 2, P, leader_and_isr_partition_state_s)},
};
SCHEMA(leader_and_isr_topic_state_s, "LeaderAndIsrTopicState", leader_and_isr_topic_state_f)
#undef S

#define S kp_leader_and_isr_live_leader_t
static const kp_field_t leader_and_isr_live_leader_f[] = {
    {F_I32(broker_id, 0, P)},
    {F_STR(host_name, 0, P)},
    {F_I32(port, 0, P)},
};
SCHEMA(leader_and_isr_live_leader_s, "LeaderAndIsrLiveLeader", leader_and_isr_live_leader_f)
#undef S

#define S kp_leader_and_isr_req_t
static const kp_field_t leader_and_isr_req_f[] = {
    {F_I32(controller_id, 0, P)},
    {F_I32(controller_epoch, 0, P)},
    {F_I64(broker_epoch, 2, P), DEF(-1)},
    {F_I8(type, 5, P)},
    {F_ARR(ungrouped_partition_states, 0, 1, leader_and_isr_partition_state_s)},
    {F_ARR(topic_states, 2, P, leader_and_isr_topic_state_s)},
    {F_ARR(live_leaders, 0, P, leader_and_isr_live_leader_s)},
};
SCHEMA(leader_and_isr_req_s, "LeaderAndIsrRequest", leader_and_isr_req_f)
#undef S

#define S kp_leader_and_isr_partition_error_t
static const kp_field_t leader_and_isr_partition_error_f[] = {
    {F_STR(topic_name, 0, 4)},
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(leader_and_isr_partition_error_s, "LeaderAndIsrPartitionError", leader_and_isr_partition_error_f)
#undef S

#define S kp_leader_and_isr_topic_error_t
static const kp_field_t leader_and_isr_topic_error_f[] = {
    {F_UUID(topic_id, 5, P)},
    {F_ARR(partition_errors, 5, P, leader_and_isr_partition_error_s)},
};
SCHEMA(leader_and_isr_topic_error_s, "LeaderAndIsrTopicError", leader_and_isr_topic_error_f)
#undef S

#define S kp_leader_and_isr_resp_t
static const kp_field_t leader_and_isr_resp_f[] = {
    {F_I16(error_code, 0, P)},
    {F_ARR(partition_errors, 0, 4, leader_and_isr_partition_error_s)},
    {F_ARR(topics, 5, P, leader_and_isr_topic_error_s)},
};
SCHEMA(leader_and_isr_resp_s, "LeaderAndIsrResponse", leader_and_isr_resp_f)
#undef S

/* ---- StopReplica ---------------------------------------------------------- */

#define S kp_stop_replica_req_partition_v0_t
static const kp_field_t stop_replica_req_partition_v0_f[] = {
    {F_STR(topic_name, 0, 0)},
    {F_I32(partition_index, 0, 0)},
};
SCHEMA(stop_replica_req_partition_v0_s, "StopReplicaPartitionV0", stop_replica_req_partition_v0_f)
#undef S

#define S kp_stop_replica_req_topic_v1_t
static const kp_field_t stop_replica_req_topic_v1_f[] = {
    {F_STR(name, 1, 2)},
    {F_ARR_I32(partition_indexes, 1, 2)},
};
SCHEMA(stop_replica_req_topic_v1_s, "StopReplicaTopicV1", stop_replica_req_topic_v1_f)
#undef S

#define S kp_stop_replica_partition_state_t
static const kp_field_t stop_replica_partition_state_f[] = {
    {F_I32(partition_index, 3, P)},
    {F_I32(leader_epoch, 3, P), DEF(-1)},
    {F_BOOL(delete_partition, 3, P)},
};
SCHEMA(stop_replica_partition_state_s, "StopReplicaPartitionState", stop_replica_partition_state_f)
#undef S

#define S kp_stop_replica_topic_state_t
static const kp_field_t stop_replica_topic_state_f[] = {
    {F_STR(topic_name, 3, P)},
    {F_ARR(partition_states, 3, P, stop_replica_partition_state_s)},
};
SCHEMA(stop_replica_topic_state_s, "StopReplicaTopicState", stop_replica_topic_state_f)
#undef S

#define S kp_stop_replica_req_t
static const kp_field_t stop_replica_req_f[] = {
    {F_I32(controller_id, 0, P)},
    {F_I32(controller_epoch, 0, P)},
    {F_I64(broker_epoch, 1, P), DEF(-1)},
    {F_BOOL(delete_partitions, 0, 2)},
    {F_ARR(ungrouped_partitions, 0, 0, stop_replica_req_partition_v0_s)},
    {F_ARR(topics, 1, 2, stop_replica_req_topic_v1_s)},
    {F_ARR(topic_states, 3, P, stop_replica_topic_state_s)},
};
SCHEMA(stop_replica_req_s, "StopReplicaRequest", stop_replica_req_f)
#undef S

#define S kp_stop_replica_partition_error_t
static const kp_field_t stop_replica_partition_error_f[] = {
    {F_STR(topic_name, 0, P)},
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(stop_replica_partition_error_s, "StopReplicaPartitionError", stop_replica_partition_error_f)
#undef S

#define S kp_stop_replica_resp_t
static const kp_field_t stop_replica_resp_f[] = {
    {F_I16(error_code, 0, P)},
    {F_ARR(partition_errors, 0, P, stop_replica_partition_error_s)},
};
SCHEMA(stop_replica_resp_s, "StopReplicaResponse", stop_replica_resp_f)
#undef S

/* ---- UpdateMetadata ------------------------------------------------------- */

#define S kp_update_metadata_partition_state_t
static const kp_field_t update_metadata_partition_state_f[] = {
    {F_STR(topic_name, 0, 4)},
    {F_I32(partition_index, 0, P)},
    {F_I32(controller_epoch, 0, P)},
    {F_I32(leader, 0, P)},
    {F_I32(leader_epoch, 0, P)},
    {F_ARR_I32(isr, 0, P)},
    {F_I32(zk_version, 0, P)},
    {F_ARR_I32(replicas, 0, P)},
    {F_ARR_I32(offline_replicas, 4, P)},
};
SCHEMA(update_metadata_partition_state_s, "UpdateMetadataPartitionState", update_metadata_partition_state_f)
#undef S

#define S kp_update_metadata_topic_state_t
static const kp_field_t update_metadata_topic_state_f[] = {
    {F_STR(topic_name, 5, P)},
    {F_UUID(topic_id, 7, P)},
    {F_ARR(partition_states, 5, P, update_metadata_partition_state_s)},
};
SCHEMA(update_metadata_topic_state_s, "UpdateMetadataTopicState", update_metadata_topic_state_f)
#undef S

#define S kp_update_metadata_endpoint_t
static const kp_field_t update_metadata_endpoint_f[] = {
    {F_I32(port, 1, P)},
    {F_STR(host, 1, P)},
    {F_STR(listener, 3, P)},
    {F_I16(security_protocol, 1, P)},
};
SCHEMA(update_metadata_endpoint_s, "UpdateMetadataEndpoint", update_metadata_endpoint_f)
#undef S

#define S kp_update_metadata_broker_t
static const kp_field_t update_metadata_broker_f[] = {
    {F_I32(id, 0, P)},
    {F_STR(v0_host, 0, 0)},
    {F_I32(v0_port, 0, 0)},
    {F_ARR(endpoints, 1, P, update_metadata_endpoint_s)},
    {F_STR(rack, 2, P), NULLABLE(0)},
};
SCHEMA(update_metadata_broker_s, "UpdateMetadataBroker", update_metadata_broker_f)
#undef S

#define S kp_update_metadata_req_t
static const kp_field_t update_metadata_req_f[] = {
    {F_I32(controller_id, 0, P)},
    {F_I32(controller_epoch, 0, P)},
    {F_I64(broker_epoch, 5, P), DEF(-1)},
    {F_ARR(ungrouped_partition_states, 0, 4, update_metadata_partition_state_s)},
    {F_ARR(topic_states, 5, P, update_metadata_topic_state_s)},
    {F_ARR(live_brokers, 0, P, update_metadata_broker_s)},
};
SCHEMA(update_metadata_req_s, "UpdateMetadataRequest", update_metadata_req_f)
#undef S

#define S kp_update_metadata_resp_t
static const kp_field_t update_metadata_resp_f[] = {
    {F_I16(error_code, 0, P)},
};
SCHEMA(update_metadata_resp_s, "UpdateMetadataResponse", update_metadata_resp_f)
#undef S

/* ---- ControlledShutdown --------------------------------------------------- */

#define S kp_controlled_shutdown_req_t
static const kp_field_t controlled_shutdown_req_f[] = {
    {F_I32(broker_id, 0, P)},
    {F_I64(broker_epoch, 2, P), DEF(-1)},
};
SCHEMA(controlled_shutdown_req_s, "ControlledShutdownRequest", controlled_shutdown_req_f)
#undef S

#define S kp_controlled_shutdown_remaining_t
static const kp_field_t controlled_shutdown_remaining_f[] = {
    {F_STR(topic_name, 0, P)},
    {F_I32(partition_index, 0, P)},
};
SCHEMA(controlled_shutdown_remaining_s, "RemainingPartition", controlled_shutdown_remaining_f)
#undef S

#define S kp_controlled_shutdown_resp_t
static const kp_field_t controlled_shutdown_resp_f[] = {
    {F_I16(error_code, 0, P)},
    {F_ARR(remaining_partitions, 0, P, controlled_shutdown_remaining_s)},
};
SCHEMA(controlled_shutdown_resp_s, "ControlledShutdownResponse", controlled_shutdown_resp_f)
#undef S

/* ---- OffsetCommit --------------------------------------------------------- */

#define S kp_offset_commit_req_partition_t
static const kp_field_t offset_commit_req_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I64(committed_offset, 0, P)},
    {F_I32(committed_leader_epoch, 6, P), DEF(-1)},
    {F_I64(commit_timestamp, 1, 1), DEF(-1)},
    {F_STR(committed_metadata, 0, P), NULLABLE(0)},
};
SCHEMA(offset_commit_req_partition_s, "OffsetCommitRequestPartition", offset_commit_req_partition_f)
#undef S

#define S kp_offset_commit_req_topic_t
static const kp_field_t offset_commit_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, offset_commit_req_partition_s)},
};
SCHEMA(offset_commit_req_topic_s, "OffsetCommitRequestTopic", offset_commit_req_topic_f)
#undef S

#define S kp_offset_commit_req_t
static const kp_field_t offset_commit_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_I32(generation_id, 1, P), DEF(-1)},
    {F_STR(member_id, 1, P)},
    {F_STR(group_instance_id, 7, P), NULLABLE_DEFNULL(7)},
    {F_I64(retention_time_ms, 2, 4), DEF(-1)},
    {F_ARR(topics, 0, P, offset_commit_req_topic_s)},
};
SCHEMA(offset_commit_req_s, "OffsetCommitRequest", offset_commit_req_f)
#undef S

#define S kp_offset_commit_resp_partition_t
static const kp_field_t offset_commit_resp_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(offset_commit_resp_partition_s, "OffsetCommitResponsePartition", offset_commit_resp_partition_f)
#undef S

#define S kp_offset_commit_resp_topic_t
static const kp_field_t offset_commit_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, offset_commit_resp_partition_s)},
};
SCHEMA(offset_commit_resp_topic_s, "OffsetCommitResponseTopic", offset_commit_resp_topic_f)
#undef S

#define S kp_offset_commit_resp_t
static const kp_field_t offset_commit_resp_f[] = {
    {F_I32(throttle_time_ms, 3, P)},
    {F_ARR(topics, 0, P, offset_commit_resp_topic_s)},
};
SCHEMA(offset_commit_resp_s, "OffsetCommitResponse", offset_commit_resp_f)
#undef S

/* ---- OffsetFetch ---------------------------------------------------------- */

#define S kp_offset_fetch_req_topic_t
static const kp_field_t offset_fetch_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR_I32(partition_indexes, 0, P)},
};
SCHEMA(offset_fetch_req_topic_s, "OffsetFetchRequestTopic", offset_fetch_req_topic_f)
#undef S

#define S kp_offset_fetch_req_t
static const kp_field_t offset_fetch_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_ARR(topics, 0, P, offset_fetch_req_topic_s), NULLABLE(2)},
    {F_BOOL(require_stable, 7, P)},
};
SCHEMA(offset_fetch_req_s, "OffsetFetchRequest", offset_fetch_req_f)
#undef S

#define S kp_offset_fetch_resp_partition_t
static const kp_field_t offset_fetch_resp_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I64(committed_offset, 0, P)},
    {F_I32(committed_leader_epoch, 5, P), DEF(-1)},
    {F_STR(metadata, 0, P), NULLABLE(0)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(offset_fetch_resp_partition_s, "OffsetFetchResponsePartition", offset_fetch_resp_partition_f)
#undef S

#define S kp_offset_fetch_resp_topic_t
static const kp_field_t offset_fetch_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, offset_fetch_resp_partition_s)},
};
SCHEMA(offset_fetch_resp_topic_s, "OffsetFetchResponseTopic", offset_fetch_resp_topic_f)
#undef S

#define S kp_offset_fetch_resp_t
static const kp_field_t offset_fetch_resp_f[] = {
    {F_I32(throttle_time_ms, 3, P)},
    {F_ARR(topics, 0, P, offset_fetch_resp_topic_s)},
    {F_I16(error_code, 2, P)},
};
SCHEMA(offset_fetch_resp_s, "OffsetFetchResponse", offset_fetch_resp_f)
#undef S

/* ---- FindCoordinator ------------------------------------------------------ */

#define S kp_find_coordinator_req_t
static const kp_field_t find_coordinator_req_f[] = {
    {F_STR(key, 0, P)},
    {F_I8(key_type, 1, P)},
};
SCHEMA(find_coordinator_req_s, "FindCoordinatorRequest", find_coordinator_req_f)
#undef S

#define S kp_find_coordinator_resp_t
static const kp_field_t find_coordinator_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_I16(error_code, 0, P)},
    {F_STR(error_message, 1, P), NULLABLE(1)},
    {F_I32(node_id, 0, P)},
    {F_STR(host, 0, P)},
    {F_I32(port, 0, P)},
};
SCHEMA(find_coordinator_resp_s, "FindCoordinatorResponse", find_coordinator_resp_f)
#undef S

/* ---- JoinGroup ------------------------------------------------------------ */

#define S kp_join_group_req_protocol_t
static const kp_field_t join_group_req_protocol_f[] = {
    {F_STR(name, 0, P)},
    {F_BYTES(metadata, 0, P)},
};
SCHEMA(join_group_req_protocol_s, "JoinGroupRequestProtocol", join_group_req_protocol_f)
#undef S

#define S kp_join_group_req_t
static const kp_field_t join_group_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_I32(session_timeout_ms, 0, P)},
    {F_I32(rebalance_timeout_ms, 1, P), DEF(-1)},
    {F_STR(member_id, 0, P)},
    {F_STR(group_instance_id, 5, P), NULLABLE_DEFNULL(5)},
    {F_STR(protocol_type, 0, P)},
    {F_ARR(protocols, 0, P, join_group_req_protocol_s)},
};
SCHEMA(join_group_req_s, "JoinGroupRequest", join_group_req_f)
#undef S

#define S kp_join_group_resp_member_t
static const kp_field_t join_group_resp_member_f[] = {
    {F_STR(member_id, 0, P)},
    {F_STR(group_instance_id, 5, P), NULLABLE_DEFNULL(5)},
    {F_BYTES(metadata, 0, P)},
};
SCHEMA(join_group_resp_member_s, "JoinGroupResponseMember", join_group_resp_member_f)
#undef S

#define S kp_join_group_resp_t
static const kp_field_t join_group_resp_f[] = {
    {F_I32(throttle_time_ms, 2, P)},
    {F_I16(error_code, 0, P)},
    {F_I32(generation_id, 0, P), DEF(-1)},
    {F_STR(protocol_type, 7, P), NULLABLE_DEFNULL(7)},
    {F_STR(protocol_name, 0, P), NULLABLE(7)},
    {F_STR(leader, 0, P)},
    {F_STR(member_id, 0, P)},
    {F_ARR(members, 0, P, join_group_resp_member_s)},
};
SCHEMA(join_group_resp_s, "JoinGroupResponse", join_group_resp_f)
#undef S

/* ---- Heartbeat ------------------------------------------------------------ */

#define S kp_heartbeat_req_t
static const kp_field_t heartbeat_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_I32(generation_id, 0, P)},
    {F_STR(member_id, 0, P)},
    {F_STR(group_instance_id, 3, P), NULLABLE_DEFNULL(3)},
};
SCHEMA(heartbeat_req_s, "HeartbeatRequest", heartbeat_req_f)
#undef S

#define S kp_heartbeat_resp_t
static const kp_field_t heartbeat_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(heartbeat_resp_s, "HeartbeatResponse", heartbeat_resp_f)
#undef S

/* ---- LeaveGroup ----------------------------------------------------------- */

#define S kp_leave_group_req_member_t
static const kp_field_t leave_group_req_member_f[] = {
    {F_STR(member_id, 3, P)},
    {F_STR(group_instance_id, 3, P), NULLABLE_DEFNULL(3)},
};
SCHEMA(leave_group_req_member_s, "MemberIdentity", leave_group_req_member_f)
#undef S

#define S kp_leave_group_req_t
static const kp_field_t leave_group_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_STR(member_id, 0, 2)},
    {F_ARR(members, 3, P, leave_group_req_member_s)},
};
SCHEMA(leave_group_req_s, "LeaveGroupRequest", leave_group_req_f)
#undef S

#define S kp_leave_group_resp_member_t
static const kp_field_t leave_group_resp_member_f[] = {
    {F_STR(member_id, 3, P)},
    {F_STR(group_instance_id, 3, P), NULLABLE(3)},
    {F_I16(error_code, 3, P)},
};
SCHEMA(leave_group_resp_member_s, "MemberResponse", leave_group_resp_member_f)
#undef S

#define S kp_leave_group_resp_t
static const kp_field_t leave_group_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_I16(error_code, 0, P)},
    {F_ARR(members, 3, P, leave_group_resp_member_s)},
};
SCHEMA(leave_group_resp_s, "LeaveGroupResponse", leave_group_resp_f)
#undef S

/* ---- SyncGroup ------------------------------------------------------------ */

#define S kp_sync_group_req_assignment_t
static const kp_field_t sync_group_req_assignment_f[] = {
    {F_STR(member_id, 0, P)},
    {F_BYTES(assignment, 0, P)},
};
SCHEMA(sync_group_req_assignment_s, "SyncGroupRequestAssignment", sync_group_req_assignment_f)
#undef S

#define S kp_sync_group_req_t
static const kp_field_t sync_group_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_I32(generation_id, 0, P)},
    {F_STR(member_id, 0, P)},
    {F_STR(group_instance_id, 3, P), NULLABLE_DEFNULL(3)},
    {F_STR(protocol_type, 5, P), NULLABLE_DEFNULL(5)},
    {F_STR(protocol_name, 5, P), NULLABLE_DEFNULL(5)},
    {F_ARR(assignments, 0, P, sync_group_req_assignment_s)},
};
SCHEMA(sync_group_req_s, "SyncGroupRequest", sync_group_req_f)
#undef S

#define S kp_sync_group_resp_t
static const kp_field_t sync_group_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_I16(error_code, 0, P)},
    {F_STR(protocol_type, 5, P), NULLABLE_DEFNULL(5)},
    {F_STR(protocol_name, 5, P), NULLABLE_DEFNULL(5)},
    {F_BYTES(assignment, 0, P)},
};
SCHEMA(sync_group_resp_s, "SyncGroupResponse", sync_group_resp_f)
#undef S

/* ---- DescribeGroups ------------------------------------------------------- */

#define S kp_describe_groups_req_t
static const kp_field_t describe_groups_req_f[] = {
    {F_ARR_STR(groups, 0, P)},
    {F_BOOL(include_authorized_operations, 3, P)},
};
SCHEMA(describe_groups_req_s, "DescribeGroupsRequest", describe_groups_req_f)
#undef S

#define S kp_describe_groups_resp_member_t
static const kp_field_t describe_groups_resp_member_f[] = {
    {F_STR(member_id, 0, P)},
    {F_STR(group_instance_id, 4, P), NULLABLE_DEFNULL(4)},
    {F_STR(client_id, 0, P)},
    {F_STR(client_host, 0, P)},
    {F_BYTES(member_metadata, 0, P)},
    {F_BYTES(member_assignment, 0, P)},
};
SCHEMA(describe_groups_resp_member_s, "DescribedGroupMember", describe_groups_resp_member_f)
#undef S

#define S kp_describe_groups_resp_group_t
static const kp_field_t describe_groups_resp_group_f[] = {
    {F_I16(error_code, 0, P)},
    {F_STR(group_id, 0, P)},
    {F_STR(group_state, 0, P)},
    {F_STR(protocol_type, 0, P)},
    {F_STR(protocol_data, 0, P)},
    {F_ARR(members, 0, P, describe_groups_resp_member_s)},
    {F_I32(authorized_operations, 3, P), DEF(INT32_MIN)},
};
SCHEMA(describe_groups_resp_group_s, "DescribedGroup", describe_groups_resp_group_f)
#undef S

#define S kp_describe_groups_resp_t
static const kp_field_t describe_groups_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_ARR(groups, 0, P, describe_groups_resp_group_s)},
};
SCHEMA(describe_groups_resp_s, "DescribeGroupsResponse", describe_groups_resp_f)
#undef S

/* ---- ListGroups ----------------------------------------------------------- */

#define S kp_list_groups_req_t
static const kp_field_t list_groups_req_f[] = {
    {F_ARR_STR(states_filter, 4, P)},
};
SCHEMA(list_groups_req_s, "ListGroupsRequest", list_groups_req_f)
#undef S

#define S kp_list_groups_resp_group_t
static const kp_field_t list_groups_resp_group_f[] = {
    {F_STR(group_id, 0, P)},
    {F_STR(protocol_type, 0, P)},
    {F_STR(group_state, 4, P)},
};
SCHEMA(list_groups_resp_group_s, "ListedGroup", list_groups_resp_group_f)
#undef S

#define S kp_list_groups_resp_t
static const kp_field_t list_groups_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_I16(error_code, 0, P)},
    {F_ARR(groups, 0, P, list_groups_resp_group_s)},
};
SCHEMA(list_groups_resp_s, "ListGroupsResponse", list_groups_resp_f)
#undef S

/* ---- ApiVersions ---------------------------------------------------------- */

#define S kp_api_versions_req_t
static const kp_field_t api_versions_req_f[] = {
    {F_STR(client_software_name, 3, P)},
    {F_STR(client_software_version, 3, P)},
};
SCHEMA(api_versions_req_s, "ApiVersionsRequest", api_versions_req_f)
#undef S

#define S kp_api_versions_resp_key_t
static const kp_field_t api_versions_resp_key_f[] = {
    {F_I16(api_key, 0, P)},
    {F_I16(min_version, 0, P)},
    {F_I16(max_version, 0, P)},
};
SCHEMA(api_versions_resp_key_s, "ApiVersion", api_versions_resp_key_f)
#undef S

#define S kp_api_versions_resp_feature_t
static const kp_field_t api_versions_resp_feature_f[] = {
    {F_STR(name, 3, P)},
    {F_I16(min_version, 3, P)},
    {F_I16(max_version, 3, P)},
};
SCHEMA(api_versions_resp_feature_s, "SupportedFeatureKey", api_versions_resp_feature_f)
#undef S

#define S kp_api_versions_resp_finalized_t
static const kp_field_t api_versions_resp_finalized_f[] = {
    {F_STR(name, 3, P)},
    {F_I16(max_version_level, 3, P)},
    {F_I16(min_version_level, 3, P)},
};
SCHEMA(api_versions_resp_finalized_s, "FinalizedFeatureKey", api_versions_resp_finalized_f)
#undef S

#define S kp_api_versions_resp_t
static const kp_field_t api_versions_resp_f[] = {
    {F_I16(error_code, 0, P)},
    {F_ARR(api_keys, 0, P, api_versions_resp_key_s)},
    {F_I32(throttle_time_ms, 1, P)},
    {F_ARR(supported_features, 3, P, api_versions_resp_feature_s), TAG(0)},
    {F_I64(finalized_features_epoch, 3, P), TAG(1), DEF(-1)},
    {F_ARR(finalized_features, 3, P, api_versions_resp_finalized_s), TAG(2)},
};
SCHEMA(api_versions_resp_s, "ApiVersionsResponse", api_versions_resp_f)
#undef S

/* ---- CreateTopics --------------------------------------------------------- */

#define S kp_create_topics_req_assignment_t
static const kp_field_t create_topics_req_assignment_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_ARR_I32(broker_ids, 0, P)},
};
SCHEMA(create_topics_req_assignment_s, "CreatableReplicaAssignment", create_topics_req_assignment_f)
#undef S

#define S kp_create_topics_req_config_t
static const kp_field_t create_topics_req_config_f[] = {
    {F_STR(name, 0, P)},
    {F_STR(value, 0, P), NULLABLE(0)},
};
SCHEMA(create_topics_req_config_s, "CreateableTopicConfig", create_topics_req_config_f)
#undef S

#define S kp_create_topics_req_topic_t
static const kp_field_t create_topics_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_I32(num_partitions, 0, P)},
    {F_I16(replication_factor, 0, P)},
    {F_ARR(assignments, 0, P, create_topics_req_assignment_s)},
    {F_ARR(configs, 0, P, create_topics_req_config_s)},
};
SCHEMA(create_topics_req_topic_s, "CreatableTopic", create_topics_req_topic_f)
#undef S

#define S kp_create_topics_req_t
static const kp_field_t create_topics_req_f[] = {
    {F_ARR(topics, 0, P, create_topics_req_topic_s)},
    {F_I32(timeout_ms, 0, P), DEF(60000)},
    {F_BOOL(validate_only, 1, P)},
};
SCHEMA(create_topics_req_s, "CreateTopicsRequest", create_topics_req_f)
#undef S

#define S kp_create_topics_resp_config_t
static const kp_field_t create_topics_resp_config_f[] = {
    {F_STR(name, 5, P)},
    {F_STR(value, 5, P), NULLABLE(5)},
    {F_BOOL(read_only, 5, P)},
    {F_I8(config_source, 5, P), DEF(-1)},
    {F_BOOL(is_sensitive, 5, P)},
};
SCHEMA(create_topics_resp_config_s, "CreatableTopicConfigs", create_topics_resp_config_f)
#undef S

#define S kp_create_topics_resp_topic_t
static const kp_field_t create_topics_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_UUID(topic_id, 7, P)},
    {F_I16(error_code, 0, P)},
    {F_STR(error_message, 1, P), NULLABLE(0)},
    {F_I32(num_partitions, 5, P), DEF(-1)},
    {F_I16(replication_factor, 5, P), DEF(-1)},
    {F_ARR(configs, 5, P, create_topics_resp_config_s), NULLABLE(5)},
    {F_I16(topic_config_error_code, 5, P), TAG(0)},
};
SCHEMA(create_topics_resp_topic_s, "CreatableTopicResult", create_topics_resp_topic_f)
#undef S

#define S kp_create_topics_resp_t
static const kp_field_t create_topics_resp_f[] = {
    {F_I32(throttle_time_ms, 2, P)},
    {F_ARR(topics, 0, P, create_topics_resp_topic_s)},
};
SCHEMA(create_topics_resp_s, "CreateTopicsResponse", create_topics_resp_f)
#undef S

/* ---- DeleteTopics --------------------------------------------------------- */

#define S kp_delete_topics_req_topic_t
static const kp_field_t delete_topics_req_topic_f[] = {
    {F_STR(name, 6, P), NULLABLE(6)},
    {F_UUID(topic_id, 6, P)},
};
SCHEMA(delete_topics_req_topic_s, "DeleteTopicState", delete_topics_req_topic_f)
#undef S

#define S kp_delete_topics_req_t
static const kp_field_t delete_topics_req_f[] = {
    {F_ARR(topics, 6, P, delete_topics_req_topic_s)},
    {F_ARR_STR(topic_names, 0, 5)},
    {F_I32(timeout_ms, 0, P)},
};
SCHEMA(delete_topics_req_s, "DeleteTopicsRequest", delete_topics_req_f)
#undef S

#define S kp_delete_topics_resp_topic_t
static const kp_field_t delete_topics_resp_topic_f[] = {
    {F_STR(name, 0, P), NULLABLE(6)},
    {F_UUID(topic_id, 6, P)},
    {F_I16(error_code, 0, P)},
    {F_STR(error_message, 5, P), NULLABLE_DEFNULL(5)},
};
SCHEMA(delete_topics_resp_topic_s, "DeletableTopicResult", delete_topics_resp_topic_f)
#undef S

#define S kp_delete_topics_resp_t
static const kp_field_t delete_topics_resp_f[] = {
    {F_I32(throttle_time_ms, 1, P)},
    {F_ARR(responses, 0, P, delete_topics_resp_topic_s)},
};
SCHEMA(delete_topics_resp_s, "DeleteTopicsResponse", delete_topics_resp_f)
#undef S

/* ---- OffsetForLeaderEpoch ------------------------------------------------- */

#define S kp_offset_for_leader_epoch_req_partition_t
static const kp_field_t ofle_req_partition_f[] = {
    {F_I32(partition, 0, P)},
    {F_I32(current_leader_epoch, 2, P), DEF(-1)},
    {F_I32(leader_epoch, 0, P)},
};
SCHEMA(ofle_req_partition_s, "OffsetForLeaderPartition", ofle_req_partition_f)
#undef S

#define S kp_offset_for_leader_epoch_req_topic_t
static const kp_field_t ofle_req_topic_f[] = {
    {F_STR(topic, 0, P)},
    {F_ARR(partitions, 0, P, ofle_req_partition_s)},
};
SCHEMA(ofle_req_topic_s, "OffsetForLeaderTopic", ofle_req_topic_f)
#undef S

#define S kp_offset_for_leader_epoch_req_t
static const kp_field_t ofle_req_f[] = {
    {F_I32(replica_id, 3, P), DEF(-2)},
    {F_ARR(topics, 0, P, ofle_req_topic_s)},
};
SCHEMA(ofle_req_s, "OffsetForLeaderEpochRequest", ofle_req_f)
#undef S

#define S kp_offset_for_leader_epoch_resp_partition_t
static const kp_field_t ofle_resp_partition_f[] = {
    {F_I16(error_code, 0, P)},
    {F_I32(partition, 0, P)},
    {F_I32(leader_epoch, 1, P), DEF(-1)},
    {F_I64(end_offset, 0, P), DEF(-1)},
};
SCHEMA(ofle_resp_partition_s, "EpochEndOffset", ofle_resp_partition_f)
#undef S

#define S kp_offset_for_leader_epoch_resp_topic_t
static const kp_field_t ofle_resp_topic_f[] = {
    {F_STR(topic, 0, P)},
    {F_ARR(partitions, 0, P, ofle_resp_partition_s)},
};
SCHEMA(ofle_resp_topic_s, "OffsetForLeaderTopicResult", ofle_resp_topic_f)
#undef S

#define S kp_offset_for_leader_epoch_resp_t
static const kp_field_t ofle_resp_f[] = {
    {F_I32(throttle_time_ms, 2, P)},
    {F_ARR(topics, 0, P, ofle_resp_topic_s)},
};
SCHEMA(ofle_resp_s, "OffsetForLeaderEpochResponse", ofle_resp_f)
#undef S

/* ---- DescribeConfigs ------------------------------------------------------ */

#define S kp_describe_configs_req_resource_t
static const kp_field_t describe_configs_req_resource_f[] = {
    {F_I8(resource_type, 0, P)},
    {F_STR(resource_name, 0, P)},
    {F_ARR_STR(configuration_keys, 0, P), NULLABLE(0)},
};
SCHEMA(describe_configs_req_resource_s, "DescribeConfigsResource", describe_configs_req_resource_f)
#undef S

#define S kp_describe_configs_req_t
static const kp_field_t describe_configs_req_f[] = {
    {F_ARR(resources, 0, P, describe_configs_req_resource_s)},
    {F_BOOL(include_synonyms, 1, P)},
    {F_BOOL(include_documentation, 3, P)},
};
SCHEMA(describe_configs_req_s, "DescribeConfigsRequest", describe_configs_req_f)
#undef S

#define S kp_describe_configs_resp_synonym_t
static const kp_field_t describe_configs_resp_synonym_f[] = {
    {F_STR(name, 1, P)},
    {F_STR(value, 1, P), NULLABLE(0)},
    {F_I8(source, 1, P)},
};
SCHEMA(describe_configs_resp_synonym_s, "DescribeConfigsSynonym", describe_configs_resp_synonym_f)
#undef S

#define S kp_describe_configs_resp_config_t
static const kp_field_t describe_configs_resp_config_f[] = {
    {F_STR(name, 0, P)},
    {F_STR(value, 0, P), NULLABLE(0)},
    {F_BOOL(read_only, 0, P)},
    {F_BOOL(is_default, 0, 0)},
    {F_I8(config_source, 1, P), DEF(-1)},
    {F_BOOL(is_sensitive, 0, P)},
    {F_ARR(synonyms, 1, P, describe_configs_resp_synonym_s)},
    {F_I8(config_type, 3, P)},
    {F_STR(documentation, 3, P), NULLABLE(0)},
};
SCHEMA(describe_configs_resp_config_s, "DescribeConfigsResourceResult", describe_configs_resp_config_f)
#undef S

#define S kp_describe_configs_resp_result_t
static const kp_field_t describe_configs_resp_result_f[] = {
    {F_I16(error_code, 0, P)},
    {F_STR(error_message, 0, P), NULLABLE(0)},
    {F_I8(resource_type, 0, P)},
    {F_STR(resource_name, 0, P)},
    {F_ARR(configs, 0, P, describe_configs_resp_config_s)},
};
SCHEMA(describe_configs_resp_result_s, "DescribeConfigsResult", describe_configs_resp_result_f)
#undef S

#define S kp_describe_configs_resp_t
static const kp_field_t describe_configs_resp_f[] = {
    {F_I32(throttle_time_ms, 0, P)},
    {F_ARR(results, 0, P, describe_configs_resp_result_s)},
};
SCHEMA(describe_configs_resp_s, "DescribeConfigsResponse", describe_configs_resp_f)
#undef S

/* ---- CreatePartitions ----------------------------------------------------- */

#define S kp_create_partitions_req_assignment_t
static const kp_field_t create_partitions_req_assignment_f[] = {
    {F_ARR_I32(broker_ids, 0, P)},
};
SCHEMA(create_partitions_req_assignment_s, "CreatePartitionsAssignment", create_partitions_req_assignment_f)
#undef S

#define S kp_create_partitions_req_topic_t
static const kp_field_t create_partitions_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_I32(count, 0, P)},
    {F_ARR(assignments, 0, P, create_partitions_req_assignment_s), NULLABLE(0)},
};
SCHEMA(create_partitions_req_topic_s, "CreatePartitionsTopic", create_partitions_req_topic_f)
#undef S

#define S kp_create_partitions_req_t
static const kp_field_t create_partitions_req_f[] = {
    {F_ARR(topics, 0, P, create_partitions_req_topic_s)},
    {F_I32(timeout_ms, 0, P)},
    {F_BOOL(validate_only, 0, P)},
};
SCHEMA(create_partitions_req_s, "CreatePartitionsRequest", create_partitions_req_f)
#undef S

#define S kp_create_partitions_resp_result_t
static const kp_field_t create_partitions_resp_result_f[] = {
    {F_STR(name, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_STR(error_message, 0, P), NULLABLE_DEFNULL(0)},
};
SCHEMA(create_partitions_resp_result_s, "CreatePartitionsTopicResult", create_partitions_resp_result_f)
#undef S

#define S kp_create_partitions_resp_t
static const kp_field_t create_partitions_resp_f[] = {
    {F_I32(throttle_time_ms, 0, P)},
    {F_ARR(results, 0, P, create_partitions_resp_result_s)},
};
SCHEMA(create_partitions_resp_s, "CreatePartitionsResponse", create_partitions_resp_f)
#undef S

/* ---- DeleteGroups --------------------------------------------------------- */

#define S kp_delete_groups_req_t
static const kp_field_t delete_groups_req_f[] = {
    {F_ARR_STR(groups_names, 0, P)},
};
SCHEMA(delete_groups_req_s, "DeleteGroupsRequest", delete_groups_req_f)
#undef S

#define S kp_delete_groups_resp_result_t
static const kp_field_t delete_groups_resp_result_f[] = {
    {F_STR(group_id, 0, P)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(delete_groups_resp_result_s, "DeletableGroupResult", delete_groups_resp_result_f)
#undef S

#define S kp_delete_groups_resp_t
static const kp_field_t delete_groups_resp_f[] = {
    {F_I32(throttle_time_ms, 0, P)},
    {F_ARR(results, 0, P, delete_groups_resp_result_s)},
};
SCHEMA(delete_groups_resp_s, "DeleteGroupsResponse", delete_groups_resp_f)
#undef S

/* ---- OffsetDelete --------------------------------------------------------- */

#define S kp_offset_delete_req_partition_t
static const kp_field_t offset_delete_req_partition_f[] = {
    {F_I32(partition_index, 0, P)},
};
SCHEMA(offset_delete_req_partition_s, "OffsetDeleteRequestPartition", offset_delete_req_partition_f)
#undef S

#define S kp_offset_delete_req_topic_t
static const kp_field_t offset_delete_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, offset_delete_req_partition_s)},
};
SCHEMA(offset_delete_req_topic_s, "OffsetDeleteRequestTopic", offset_delete_req_topic_f)
#undef S

#define S kp_offset_delete_req_t
static const kp_field_t offset_delete_req_f[] = {
    {F_STR(group_id, 0, P)},
    {F_ARR(topics, 0, P, offset_delete_req_topic_s)},
};
SCHEMA(offset_delete_req_s, "OffsetDeleteRequest", offset_delete_req_f)
#undef S

#define S kp_offset_delete_resp_partition_t
static const kp_field_t offset_delete_resp_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
};
SCHEMA(offset_delete_resp_partition_s, "OffsetDeleteResponsePartition", offset_delete_resp_partition_f)
#undef S

#define S kp_offset_delete_resp_topic_t
static const kp_field_t offset_delete_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, offset_delete_resp_partition_s)},
};
SCHEMA(offset_delete_resp_topic_s, "OffsetDeleteResponseTopic", offset_delete_resp_topic_f)
#undef S

#define S kp_offset_delete_resp_t
static const kp_field_t offset_delete_resp_f[] = {
    {F_I16(error_code, 0, P)},
    {F_I32(throttle_time_ms, 0, P)},
    {F_ARR(topics, 0, P, offset_delete_resp_topic_s)},
};
SCHEMA(offset_delete_resp_s, "OffsetDeleteResponse", offset_delete_resp_f)
#undef S

/* ---- AlterIsr ------------------------------------------------------------- */

#define S kp_alter_isr_req_partition_t
static const kp_field_t alter_isr_req_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I32(leader_epoch, 0, P)},
    {F_ARR_I32(new_isr, 0, P)},
    {F_I32(current_isr_version, 0, P)},
};
SCHEMA(alter_isr_req_partition_s, "PartitionData", alter_isr_req_partition_f)
#undef S

#define S kp_alter_isr_req_topic_t
static const kp_field_t alter_isr_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, alter_isr_req_partition_s)},
};
SCHEMA(alter_isr_req_topic_s, "TopicData", alter_isr_req_topic_f)
#undef S

#define S kp_alter_isr_req_t
static const kp_field_t alter_isr_req_f[] = {
    {F_I32(broker_id, 0, P)},
    {F_I64(broker_epoch, 0, P), DEF(-1)},
    {F_ARR(topics, 0, P, alter_isr_req_topic_s)},
};
SCHEMA(alter_isr_req_s, "AlterIsrRequest", alter_isr_req_f)
#undef S

#define S kp_alter_isr_resp_partition_t
static const kp_field_t alter_isr_resp_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_I32(leader_id, 0, P)},
    {F_I32(leader_epoch, 0, P)},
    {F_ARR_I32(isr, 0, P)},
    {F_I32(current_isr_version, 0, P)},
};
SCHEMA(alter_isr_resp_partition_s, "PartitionData", alter_isr_resp_partition_f)
#undef S

#define S kp_alter_isr_resp_topic_t
static const kp_field_t alter_isr_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, alter_isr_resp_partition_s)},
};
SCHEMA(alter_isr_resp_topic_s, "TopicData", alter_isr_resp_topic_f)
#undef S

#define S kp_alter_isr_resp_t
static const kp_field_t alter_isr_resp_f[] = {
    {F_I32(throttle_time_ms, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_ARR(topics, 0, P, alter_isr_resp_topic_s)},
};
SCHEMA(alter_isr_resp_s, "AlterIsrResponse", alter_isr_resp_f)
#undef S

/* ---- DescribeReplicaState (samsa only) ----------------------------------------
 * No Kafka JSON to follow: samsa's own schema, flexible from v0 like every
 * API Kafka added after KIP-482. */

#define S kp_describe_replica_state_req_topic_t
static const kp_field_t drs_req_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR_I32(partition_indexes, 0, P)},
};
SCHEMA(drs_req_topic_s, "DescribeReplicaStateTopic", drs_req_topic_f)
#undef S

#define S kp_describe_replica_state_req_t
static const kp_field_t drs_req_f[] = {
    {F_ARR(topics, 0, P, drs_req_topic_s), NULLABLE(0)},
};
SCHEMA(drs_req_s, "DescribeReplicaStateRequest", drs_req_f)
#undef S

#define S kp_describe_replica_state_resp_replica_t
static const kp_field_t drs_resp_replica_f[] = {
    {F_I32(broker_id, 0, P)},
    {F_BOOL(in_isr, 0, P)},
    {F_I64(log_end_offset, 0, P), DEF(-1)},
    {F_I64(log_start_offset, 0, P), DEF(-1)},
    {F_I64(last_caught_up_ms_ago, 0, P), DEF(-1)},
};
SCHEMA(drs_resp_replica_s, "ReplicaState", drs_resp_replica_f)
#undef S

#define S kp_describe_replica_state_resp_partition_t
static const kp_field_t drs_resp_partition_f[] = {
    {F_I32(partition_index, 0, P)},
    {F_I16(error_code, 0, P)},
    {F_I32(leader_epoch, 0, P), DEF(-1)},
    {F_I64(high_watermark, 0, P), DEF(-1)},
    {F_I64(log_end_offset, 0, P), DEF(-1)},
    {F_I64(log_start_offset, 0, P), DEF(-1)},
    {F_ARR(replicas, 0, P, drs_resp_replica_s)},
};
SCHEMA(drs_resp_partition_s, "DescribeReplicaStatePartition", drs_resp_partition_f)
#undef S

#define S kp_describe_replica_state_resp_topic_t
static const kp_field_t drs_resp_topic_f[] = {
    {F_STR(name, 0, P)},
    {F_ARR(partitions, 0, P, drs_resp_partition_s)},
};
SCHEMA(drs_resp_topic_s, "DescribeReplicaStateTopic", drs_resp_topic_f)
#undef S

#define S kp_describe_replica_state_resp_t
static const kp_field_t drs_resp_f[] = {
    {F_I32(throttle_time_ms, 0, P)},
    {F_ARR(topics, 0, P, drs_resp_topic_s)},
};
SCHEMA(drs_resp_s, "DescribeReplicaStateResponse", drs_resp_f)
#undef S

/* ---- the registry --------------------------------------------------------- */

/* Sorted by key. min/max = what samsa supports and advertises: Kafka
 * 2.8's ranges (Produce v0-2 and Fetch v0-3 convert legacy message sets,
 * msgset.h);
 * flex_min = the first flexible version in Kafka 2.8 (header choice). */
static const kp_api_t kp_apis[] = {
    {KP_API_PRODUCE, "Produce", 0, 9, 9, &produce_req_s, &produce_resp_s},
    {KP_API_FETCH, "Fetch", 0, 12, 12, &fetch_req_s, &fetch_resp_s},
    {KP_API_LIST_OFFSETS, "ListOffsets", 0, 6, 6, &list_offsets_req_s, &list_offsets_resp_s},
    {KP_API_METADATA, "Metadata", 0, 11, 9, &metadata_req_s, &metadata_resp_s},
    {KP_API_LEADER_AND_ISR, "LeaderAndIsr", 0, 5, 4, &leader_and_isr_req_s, &leader_and_isr_resp_s},
    {KP_API_STOP_REPLICA, "StopReplica", 0, 3, 2, &stop_replica_req_s, &stop_replica_resp_s},
    {KP_API_UPDATE_METADATA, "UpdateMetadata", 0, 7, 6, &update_metadata_req_s, &update_metadata_resp_s},
    {KP_API_CONTROLLED_SHUTDOWN, "ControlledShutdown", 0, 3, 3, &controlled_shutdown_req_s,
     &controlled_shutdown_resp_s},
    {KP_API_OFFSET_COMMIT, "OffsetCommit", 0, 8, 8, &offset_commit_req_s, &offset_commit_resp_s},
    {KP_API_OFFSET_FETCH, "OffsetFetch", 0, 7, 6, &offset_fetch_req_s, &offset_fetch_resp_s},
    {KP_API_FIND_COORDINATOR, "FindCoordinator", 0, 3, 3, &find_coordinator_req_s, &find_coordinator_resp_s},
    {KP_API_JOIN_GROUP, "JoinGroup", 0, 7, 6, &join_group_req_s, &join_group_resp_s},
    {KP_API_HEARTBEAT, "Heartbeat", 0, 4, 4, &heartbeat_req_s, &heartbeat_resp_s},
    {KP_API_LEAVE_GROUP, "LeaveGroup", 0, 4, 4, &leave_group_req_s, &leave_group_resp_s},
    {KP_API_SYNC_GROUP, "SyncGroup", 0, 5, 4, &sync_group_req_s, &sync_group_resp_s},
    {KP_API_DESCRIBE_GROUPS, "DescribeGroups", 0, 5, 5, &describe_groups_req_s, &describe_groups_resp_s},
    {KP_API_LIST_GROUPS, "ListGroups", 0, 4, 3, &list_groups_req_s, &list_groups_resp_s},
    {KP_API_API_VERSIONS, "ApiVersions", 0, 3, 3, &api_versions_req_s, &api_versions_resp_s},
    {KP_API_CREATE_TOPICS, "CreateTopics", 0, 7, 5, &create_topics_req_s, &create_topics_resp_s},
    {KP_API_DELETE_TOPICS, "DeleteTopics", 0, 6, 4, &delete_topics_req_s, &delete_topics_resp_s},
    {KP_API_OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch", 0, 4, 4, &ofle_req_s, &ofle_resp_s},
    {KP_API_DESCRIBE_CONFIGS, "DescribeConfigs", 0, 4, 4, &describe_configs_req_s, &describe_configs_resp_s},
    {KP_API_CREATE_PARTITIONS, "CreatePartitions", 0, 3, 2, &create_partitions_req_s, &create_partitions_resp_s},
    {KP_API_DELETE_GROUPS, "DeleteGroups", 0, 2, 2, &delete_groups_req_s, &delete_groups_resp_s},
    {KP_API_OFFSET_DELETE, "OffsetDelete", 0, 0, -1, &offset_delete_req_s, &offset_delete_resp_s},
    {KP_API_ALTER_ISR, "AlterIsr", 0, 0, 0, &alter_isr_req_s, &alter_isr_resp_s},
    /* Looked up by binary search, so a key this far out costs nothing. */
    {KP_API_DESCRIBE_REPLICA_STATE, "DescribeReplicaState", 0, 0, 0, &drs_req_s, &drs_resp_s},
};

const kp_api_t *kp_api_find(int16_t api_key) {
    size_t lo = 0, hi = NELEM(kp_apis);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kp_apis[mid].key == api_key)
            return &kp_apis[mid];
        if (kp_apis[mid].key < api_key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t kp_api_count(void) { return NELEM(kp_apis); }

const kp_api_t *kp_api_at(size_t i) { return i < NELEM(kp_apis) ? &kp_apis[i] : NULL; }

void kp_apiversions_fallback(int32_t correlation_id, kp_writer_t *w) {
    const kp_api_t *api = kp_api_find(KP_API_API_VERSIONS);
    kp_api_versions_resp_key_t key = {KP_API_API_VERSIONS, api->min_version, api->max_version};
    kp_api_versions_resp_t resp;
    kp_set_defaults(&api_versions_resp_s, 0, &resp);
    resp.error_code = KERR_UNSUPPORTED_VERSION;
    resp.api_keys = (kp_array_t){1, &key};
    /* Cannot fail: every value is valid for v0. */
    (void)kp_response_encode(KP_API_API_VERSIONS, 0, correlation_id, &resp, w, NULL, 0);
}
