/*
 * api — the Kafka request layer: decodes each frame with the protocol codec,
 * hands it to the handler of its API, and encodes and sends the answer.
 *
 * A request lives in an api_request_t from the frame's arrival to its
 * answer; a handler that answers later (a long-poll fetch) keeps it. The
 * decoded body points into the frame, which net keeps valid until the
 * answer (see net.h) or until the handler detaches the request (api_detach),
 * and into the request's arena.
 *
 * Malformed frames, unknown APIs and unsupported versions close the
 * connection, as Kafka does — except ApiVersions, which answers a too-new
 * version with error 35 and its own range (protocol.md §4).
 */
#ifndef SAMSA_API_H
#define SAMSA_API_H

#include "server/broker.h"
#include "proto/kproto.h"
#include "proto/kproto_apis.h"
#include "net/net.h"

typedef struct api_request {
    broker_t *broker;
    net_conn_t *conn;
    kp_req_header_t hdr;
    void *body;
    kp_arena_t arena;
    int64_t received_ms;
    int64_t received_us; /* monotonic, for the request metrics (api_metrics.h) */
    net_slot_t *slot;    /* set by api_detach or for a deferred request: the answer goes through it */
    uint8_t *frame_copy; /* a deferred request's frame (net_defer), owned */
    size_t frame_len;
} api_request_t;

/* net's request callback (ctx is the broker). */
void api_on_request(void *ctx, net_conn_t *conn, uint8_t *frame, size_t len);

/* Encodes resp for the request's API and version, sends it, frees req.
 * Any thread that owns req (the connection's loop, the admin worker, the
 * group coordinator's loop): off the connection's loop the encoded answer
 * is posted to it. An
 * encoding failure (a handler bug) is logged and closes the connection.
 * resp's file ranges (records with fd >= 0) are taken: their fds are
 * closed exactly once, whatever happens to the response. */
void api_respond(api_request_t *req, const void *resp);
/* No response (Produce acks=0); frees req. */
void api_respond_none(api_request_t *req);
/* Closes the connection instead of answering; frees req. */
void api_close(api_request_t *req);

/* Detaches req from its frame (net_detach): the connection's next request
 * may start while req waits, and req's answer still goes out in request
 * order. On the connection's loop, from a handler done with the frame: the
 * body is cleared (it pointed into the frame) and the header's client_id
 * copied into the arena; whatever else of the frame the answer needs, the
 * handler copies first. Then answered with api_respond or api_close, not
 * api_respond_none. */
void api_detach(api_request_t *req);

/* Runs handler(req) on the broker's admin worker thread (inline when there
 * is none, or when already on it). api_respond and api_close work from
 * there: the answer is handed back to the connection's loop. */
void api_offload(api_request_t *req, void (*handler)(api_request_t *req));
bool api_on_admin_worker(const api_request_t *req);

/* Handlers, one per API (api_*.c). Each answers exactly once. */
void api_handle_api_versions(api_request_t *req);
void api_handle_metadata(api_request_t *req);
void api_handle_produce(api_request_t *req);
void api_handle_fetch(api_request_t *req);
void api_handle_list_offsets(api_request_t *req);
void api_handle_offsets_for_leader_epoch(api_request_t *req);
void api_handle_leader_and_isr(api_request_t *req);
void api_handle_update_metadata(api_request_t *req);
void api_handle_stop_replica(api_request_t *req);
void api_handle_controlled_shutdown(api_request_t *req);
void api_handle_alter_isr(api_request_t *req);
void api_handle_create_topics(api_request_t *req);
void api_handle_delete_topics(api_request_t *req);
void api_handle_create_partitions(api_request_t *req);
void api_handle_describe_configs(api_request_t *req);
void api_handle_describe_replica_state(api_request_t *req);
/* api_group.c: FindCoordinator (admin worker), and every other group API,
 * handed to the group coordinator's loop, which answers from there */
void api_handle_find_coordinator(api_request_t *req);
void api_handle_group(api_request_t *req);

/* Whether ApiVersions lists key: every API samsa serves but its own
 * (DescribeReplicaState), which Kafka clients must never see. */
bool api_advertised(int16_t key);

/* A NUL-terminated copy of s in req's arena. */
char *api_strdup(api_request_t *req, kp_str_t s);
/* An array of n zeroed elements of size each, in req's arena. */
void *api_alloc_array(api_request_t *req, kp_array_t *arr, int32_t n, size_t size);

#endif
