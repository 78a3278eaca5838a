/*
 * topic_name — the rules Kafka 2.8 applies to topic names
 * (org.apache.kafka.common.internals.Topic).
 *
 * A legal name is 1 to 249 characters of ASCII letters, digits, '.', '_'
 * and '-', and neither "." nor "..". Because '.' and '_' become the same
 * character in metric names, two topics whose names differ only there
 * "collide": Kafka refuses to create the second one.
 */
#ifndef SAMSA_TOPIC_NAME_H
#define SAMSA_TOPIC_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_NAME_MAX_LEN 249

#define TOPIC_NAME_GROUP_METADATA "__consumer_offsets"
#define TOPIC_NAME_TRANSACTION_STATE "__transaction_state"

/* Topic.validate: 0, or -1 with Kafka's InvalidTopicException message in
 * err (the checks in Kafka's order: empty, "." or "..", longer than 249
 * characters, a character outside [a-zA-Z0-9._-]). name is a
 * NUL-terminated byte string; lengths are counted as Java counts them
 * (UTF-16 units of the UTF-8 text). */
int topic_name_validate(const char *name, char *err, size_t errlen);

/* The same rule as a yes/no, for names met outside an admin request (a
 * Metadata request, a checkpoint line, a partition directory): len bytes at
 * name, which need not be NUL-terminated; a NUL byte is an illegal
 * character. Bytes and Java's length agree on every name it accepts, which
 * is ASCII only. */
bool topic_name_valid(const char *name, size_t len);

/* Whether name holds a '.' or a '_' (Topic.hasCollisionChars). */
bool topic_name_has_collision_chars(const char *name);

/* Replaces every '.' by '_', in place: the form two colliding names share. */
void topic_name_unify_collision_chars(char *name);

/* Whether a and b are equal once '.' and '_' are unified
 * (Topic.hasCollision); true also when a and b are equal. */
bool topic_name_collide(const char *a, const char *b);

/* Whether name is one of Kafka's internal topics (__consumer_offsets,
 * __transaction_state). */
bool topic_name_is_internal(const char *name);

#endif
