/*
 * group_records — what the group coordinator keeps in __consumer_offsets,
 * byte for byte as Kafka 2.8 writes it (consumer-groups.md §9), so Kafka's
 * own tools can read a samsa offsets topic and the other way round; and
 * which partition of that topic a group lives in (§1).
 *
 * Two kinds of record, told apart by the key's leading int16 version:
 *   0 / 1  an offset commit: key (group, topic, partition), value the
 *          offset (value versions 0-3; samsa writes 3, or 1 when the commit
 *          carried an expire timestamp, as IBP >= 2.1 Kafka does);
 *   2      a group's metadata: key (group), value its generation, protocol,
 *          leader and members (value versions 0-3; samsa writes 3).
 * A null value is a tombstone: the offset, or the group, was deleted. Any
 * other key version is an error (Kafka aborts loading the partition).
 *
 * The encodings are the classic ones: string = int16 length + bytes,
 * nullable string = int16 -1 for null, bytes = int32 length + data,
 * arrays = int32 count. Encoders append to a buf_t the caller owns.
 * Decoders are zero-copy: strings and bytes point into the input, which
 * must outlive the result; a group value's member array comes from the
 * caller's arena.
 */
#ifndef SAMSA_GROUP_RECORDS_H
#define SAMSA_GROUP_RECORDS_H

#include "proto/kproto.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GROUP_OFFSETS_TOPIC "__consumer_offsets"

/* Java's String.hashCode of the UTF-16 code units the UTF-8 text decodes
 * to (an invalid byte counts as U+FFFD, as Java's decoder replaces it). */
int32_t group_java_hash(const char *s, size_t len);
/* Kafka's Utils.abs(hash) % partitions: INT32_MIN maps to 0. */
int32_t group_partition_for(const char *group_id, size_t len, int32_t partitions);

typedef enum group_rec_kind {
    GROUP_REC_OFFSET = 1, /* key versions 0 and 1 */
    GROUP_REC_GROUP = 2,  /* key version 2 */
} group_rec_kind_t;

typedef struct group_rec_key {
    group_rec_kind_t kind;
    kp_str_t group;
    kp_str_t topic;     /* GROUP_REC_OFFSET only */
    int32_t partition;  /* GROUP_REC_OFFSET only */
} group_rec_key_t;

typedef struct group_rec_offset {
    int64_t offset;
    int32_t leader_epoch;      /* -1: none */
    kp_str_t metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp;  /* -1: none (value v1 only carries one) */
} group_rec_offset_t;

typedef struct group_rec_member {
    kp_str_t member_id;
    kp_str_t group_instance_id; /* null: a dynamic member */
    kp_str_t client_id;
    kp_str_t client_host;
    int32_t rebalance_timeout_ms;
    int32_t session_timeout_ms;
    kp_bytes_t subscription;   /* the member's metadata for the chosen protocol */
    kp_bytes_t assignment;
} group_rec_member_t;

typedef struct group_rec_group {
    kp_str_t protocol_type;
    int32_t generation;
    kp_str_t protocol;              /* null for an Empty group */
    kp_str_t leader;                /* null for an Empty group */
    int64_t current_state_timestamp; /* -1: unknown */
    const group_rec_member_t *members;
    int32_t nmembers;
} group_rec_group_t;

/* Keys. */
void group_rec_offset_key(buf_t *out, kp_str_t group, kp_str_t topic, int32_t partition);
void group_rec_group_key(buf_t *out, kp_str_t group);
/* false: not a key of this topic (short, or an unknown version). */
bool group_rec_key_decode(const uint8_t *key, size_t len, group_rec_key_t *out);

/* An offset value: version 1 when expire_timestamp >= 0, else version 3. */
void group_rec_offset_value(buf_t *out, const group_rec_offset_t *v);
bool group_rec_offset_value_decode(const uint8_t *value, size_t len, group_rec_offset_t *out);

/* A group value, version 3. */
void group_rec_group_value(buf_t *out, const group_rec_group_t *v);
bool group_rec_group_value_decode(const uint8_t *value, size_t len, kp_arena_t *arena, group_rec_group_t *out);

#endif
