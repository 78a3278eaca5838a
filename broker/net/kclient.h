/*
 * kclient — one asynchronous client connection from this broker to another
 * broker, for the controller's LeaderAndIsr / UpdateMetadata / StopReplica
 * requests (Kafka's ControllerChannelManager keeps one per broker) and for
 * replica fetchers' Fetch requests.
 *
 * Threads. A kclient lives on one evloop (evloop.h) and every kclient_* call
 * but kclient_config_init must be made on that loop's thread (they abort
 * otherwise, like net's thread-bound calls: a race here would corrupt the
 * request queue silently). Callbacks run there too.
 *
 * Requests. kclient_send encodes the request at once (kproto.h: size prefix,
 * header with a correlation id of this client, body), queues it and returns;
 * the body is only borrowed for the call. At most max_in_flight requests are
 * on the wire at a time; responses come back in order and are matched to the
 * oldest request in flight by correlation id (a mismatch is a protocol
 * error). Every request must have a response (no Produce with acks=0).
 *
 * Callbacks. Each accepted request gets exactly one callback, always on the
 * loop thread and never from inside kclient_send or kclient_connect:
 *   KERR_NONE                  payload = the response after its size prefix
 *                              (correlation id, header, body), len bytes,
 *                              kclient's memory, valid during the call only
 *                              (decode it there with kclient_decode, or copy)
 *   KERR_REQUEST_TIMED_OUT     no response within request_timeout_ms of the
 *                              request being written; the connection is then
 *                              reset (later responses would be out of order)
 *   KERR_NETWORK_EXCEPTION     the connection (or the attempt to make one)
 *                              failed before the response and resending is
 *                              off; also, whatever resend says, the request
 *                              whose response broke the protocol (larger than
 *                              max_response_bytes, wrong correlation id),
 *                              which would only break it again
 *   KERR_BROKER_NOT_AVAILABLE  kclient_free ran first
 * payload is NULL and len 0 for every error. A callback may call kclient_send
 * and kclient_free on its own client (and anything else).
 *
 * Connections. The client connects lazily, when a request is queued (or on
 * kclient_connect). A new attempt comes no sooner than reconnect_backoff_ms
 * after the last failure or disconnect, doubled per consecutive failure up
 * to reconnect_backoff_max_ms, ±20% jitter (as Kafka's reconnect.backoff.*).
 * A failure is a connect attempt that fails or times out
 * (connect_timeout_ms), or a connection that ends while requests are in
 * flight before it delivered any response; a response resets the count.
 * Once connected the connection stays open until it fails or the client is
 * freed; a connection that ends idle is re-made only when needed.
 * With resend_on_disconnect, requests in flight or queued when a connection
 * ends stay queued and go out again, in their order, on the next connection
 * (the controller's "until delivered"); without it they fail with
 * KERR_NETWORK_EXCEPTION (a fetcher re-decides what to fetch). A queued
 * request that was never written has no deadline: with resend on it waits
 * for a connection as long as the client lives.
 *
 * The host is resolved with a blocking getaddrinfo on the loop thread at
 * every connect attempt (IPv4 and IPv6; each address is tried in turn).
 * That is instant for an IP literal or a name in /etc/hosts; a slow DNS
 * server would stall the loop for the length of the lookup.
 *
 * Logs ("kclient" component, prefixed with the label): problems (failed
 * attempts, connections lost with requests in flight, timeouts, protocol
 * errors) at WARN for the first since the last response, then at most one
 * WARN every 10 s (saying how many were not logged), the rest at DEBUG.
 * Connections made at INFO (once per failure streak: not at every flap of
 * a broker that accepts and drops), idle connections closed by the peer at
 * INFO.
 *
 * TCP_NODELAY is set on every connection. libevent writes with writev(), so
 * the process must ignore SIGPIPE (broker.c does) or a write to a connection
 * the peer just closed kills it.
 */
#ifndef SAMSA_KCLIENT_H
#define SAMSA_KCLIENT_H

#include "net/evloop.h"
#include "proto/kerr.h"
#include "proto/kproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kclient kclient_t;

typedef struct kclient_config {
    const char *host;                 /* required: name or IP literal */
    int port;                         /* required: 1..65535 */
    const char *client_id;            /* request header client id; NULL = null */
    const char *label;                /* for logs ("controller->broker 2"); NULL = "host:port" */
    int32_t request_timeout_ms;       /* per request, from its write */
    int32_t connect_timeout_ms;       /* per connect attempt and address */
    int32_t reconnect_backoff_ms;     /* first wait after a failure */
    int32_t reconnect_backoff_max_ms; /* cap of the doubling */
    int max_in_flight;                /* requests on the wire at once, >= 1 */
    bool resend_on_disconnect;        /* see above */
    int32_t max_response_bytes;       /* larger response size prefix = protocol error */
} kclient_config_t;

/* No host, client id "samsa", no label, request timeout 30 s, connect timeout
 * 10 s, backoff 50 ms up to 1 s, 1 request in flight, no resend, responses up
 * to 100 MiB. kclient_new takes these defaults for any numeric field <= 0. */
void kclient_config_init(kclient_config_t *cfg);

/* Response (or failure) of one request; see "Callbacks" above. */
typedef void (*kclient_response_fn)(void *ctx, kerr_t err, const uint8_t *payload, size_t len);

/* A client of cfg->host:port on loop (cfg and its strings are copied). Does
 * not connect yet. NULL (logged) without a host or with a bad port. Loop
 * thread only. */
kclient_t *kclient_new(evloop_t *loop, const kclient_config_t *cfg);

/* Fails every outstanding request with KERR_BROKER_NOT_AVAILABLE (in
 * request order), closes the connection and frees the client. NULL is a
 * no-op; so is a second call from a callback of the first. */
void kclient_free(kclient_t *c);

/* Queues request body of api_key at version (a request struct of
 * kproto_apis.h) and sends it when possible; cb(ctx, ...) is called once
 * (cb may be NULL: the outcome is then dropped).
 * Returns 0, or -1 with nothing queued and no callback when the codec
 * refuses the body (logged at ERROR with the reason) or the client is being
 * freed. Body records from a file (fd >= 0) are read into the frame now. */
int kclient_send(kclient_t *c, int16_t api_key, int16_t version, const void *body, kclient_response_fn cb,
                 void *ctx);

/* Connects even with nothing to send (after any backoff still running),
 * retrying with the backoff until a connection is made: the controller
 * opens its connections when a broker appears. */
void kclient_connect(kclient_t *c);

/* Requests accepted whose callback has not been called yet. */
size_t kclient_pending(const kclient_t *c);
/* Whether a connection is established (requests may be on the wire). */
bool kclient_connected(const kclient_t *c);

/* Decodes the response a KERR_NONE callback was given (payload, len) as the
 * response of the api key and version of that callback's request, into
 * arena (kp_response_decode: strings point into payload). Only during that
 * callback. KERR_NONE and *body; KERR_CORRUPT_MESSAGE for a response that
 * does not parse, KERR_INVALID_REQUEST when called outside the callback or
 * with another payload, both with a message in err. */
kerr_t kclient_decode(const kclient_t *c, const uint8_t *payload, size_t len, kp_arena_t *arena, void **body,
                      char *err, size_t errlen);

typedef struct kclient_stats {
    uint64_t connect_attempts; /* attempts started (one per resolve) */
    uint64_t connect_failures; /* attempts that reached no address */
    uint64_t connects;         /* connections established */
    uint64_t disconnects;      /* established connections that ended */
    uint64_t requests_written; /* writes to a connection, resends included */
    uint64_t responses;        /* responses delivered */
    uint64_t timeouts;         /* requests failed with REQUEST_TIMED_OUT */
} kclient_stats_t;
void kclient_stats(const kclient_t *c, kclient_stats_t *out);

#endif
