/*
 * kafka_conn — a blocking Kafka-protocol client for the command-line tools:
 * one TCP connection, one request at a time, encoded and decoded with
 * common/proto's codec (kp_request_encode / kp_response_decode).
 *
 * For requests librdkafka cannot send (samsa's own DescribeReplicaState).
 * The broker's kclient is the asynchronous counterpart on an event loop;
 * a tool that asks a few brokers one question each needs no loop, so this
 * one blocks, with a deadline on every call so that a stopped broker costs
 * a timeout and not a hang. PLAINTEXT only.
 *
 * Failures are told apart because the tools word them differently: a
 * broker that cannot be reached, one that closed the connection instead
 * of answering (Kafka does that to an API key it does not know), and
 * anything else.
 */
#ifndef SAMSA_KAFKA_CONN_H
#define SAMSA_KAFKA_CONN_H

#include "util/buf.h"
#include "proto/kproto.h"

#include <stdint.h>

typedef enum kafka_conn_status {
    KAFKA_CONN_OK = 0,
    KAFKA_CONN_UNREACHABLE, /* no connection: refused, no route, no answer in time */
    KAFKA_CONN_CLOSED,      /* the broker closed the connection without an answer */
    KAFKA_CONN_ERROR,       /* a timeout mid-request, a malformed answer, an encoding failure */
} kafka_conn_status_t;

typedef struct kafka_conn kafka_conn_t;

/* Connects to host:port within timeout_ms. Returns the connection, or NULL
 * with one line in err (the status is then KAFKA_CONN_UNREACHABLE). */
kafka_conn_t *kafka_conn_open(const char *host, int32_t port, int timeout_ms, char *err, size_t errlen);
void kafka_conn_close(kafka_conn_t *c);

/* Sends the request body (the struct kproto_apis.h names for api_key) at
 * version and waits up to timeout_ms for its answer, decoded into *resp.
 * The answer points into the connection's buffer and into arena: valid
 * until the next call or kafka_conn_close, and until arena is reset. After
 * anything but KAFKA_CONN_OK the connection is unusable (close it). */
kafka_conn_status_t kafka_conn_call(kafka_conn_t *c, int16_t api_key, int16_t version, const void *req,
                                    int timeout_ms, kp_arena_t *arena, void **resp, char *err, size_t errlen);

#endif
