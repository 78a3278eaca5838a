#include "api/api.h"

#include "api/api_metrics.h"
#include "util/clock.h"
#include "util/endian.h"
#include "util/logger.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define API_TAG "api"

/* --- routing ------------------------------------------------------------------ */

typedef void (*api_handler_fn)(api_request_t *req);

/* Where a handler runs. */
typedef enum api_runs_on {
    /* On the connection's network loop, inline: produce, fetch and the
     * other requests that only touch memory and the page cache. */
    API_ON_NETWORK_LOOP = 0,
    /* On the admin worker: handlers that wait for ZooKeeper (writes, config
     * reads), so a slow or unreachable ZooKeeper never stalls the network
     * loop that serves produce and fetch (Kafka's request handler pool
     * plays that part). */
    API_ON_ADMIN_WORKER = 1,
} api_runs_on_t;

typedef struct api_route {
    int16_t key;
    api_handler_fn handler;
    api_runs_on_t runs_on;
    /* Listed by ApiVersions. Clients use whatever is advertised, and
     * kafka-python infers the broker version from the list (protocol.md
     * §5, §7), so samsa's own admin requests are served but not listed. */
    bool advertised;
} api_route_t;

/* One row per API samsa serves, in key order (for the reader: the lookup
 * does not rely on it); any other key closes the connection. A list rather
 * than an array indexed by key: samsa's own keys sit far above Kafka's
 * (32000). */
static const api_route_t api_routes[] = {
    {KP_API_PRODUCE, api_handle_produce, API_ON_NETWORK_LOOP, true},
    {KP_API_FETCH, api_handle_fetch, API_ON_NETWORK_LOOP, true},
    {KP_API_LIST_OFFSETS, api_handle_list_offsets, API_ON_NETWORK_LOOP, true},
    {KP_API_METADATA, api_handle_metadata, API_ON_NETWORK_LOOP, true},
    {KP_API_LEADER_AND_ISR, api_handle_leader_and_isr, API_ON_ADMIN_WORKER, true},
    {KP_API_STOP_REPLICA, api_handle_stop_replica, API_ON_NETWORK_LOOP, true},
    {KP_API_UPDATE_METADATA, api_handle_update_metadata, API_ON_NETWORK_LOOP, true},
    {KP_API_CONTROLLED_SHUTDOWN, api_handle_controlled_shutdown, API_ON_NETWORK_LOOP, true},
    /* The group APIs: handed to the group coordinator's loop (api_group.c);
     * FindCoordinator may create __consumer_offsets in ZooKeeper. */
    {KP_API_OFFSET_COMMIT, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_OFFSET_FETCH, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_FIND_COORDINATOR, api_handle_find_coordinator, API_ON_ADMIN_WORKER, true},
    {KP_API_JOIN_GROUP, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_HEARTBEAT, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_LEAVE_GROUP, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_SYNC_GROUP, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_DESCRIBE_GROUPS, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_LIST_GROUPS, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_API_VERSIONS, api_handle_api_versions, API_ON_NETWORK_LOOP, true},
    {KP_API_CREATE_TOPICS, api_handle_create_topics, API_ON_ADMIN_WORKER, true},
    {KP_API_DELETE_TOPICS, api_handle_delete_topics, API_ON_ADMIN_WORKER, true},
    {KP_API_OFFSET_FOR_LEADER_EPOCH, api_handle_offsets_for_leader_epoch, API_ON_NETWORK_LOOP, true},
    {KP_API_DESCRIBE_CONFIGS, api_handle_describe_configs, API_ON_ADMIN_WORKER, true},
    {KP_API_CREATE_PARTITIONS, api_handle_create_partitions, API_ON_ADMIN_WORKER, true},
    {KP_API_DELETE_GROUPS, api_handle_group, API_ON_NETWORK_LOOP, true},
    {KP_API_OFFSET_DELETE, api_handle_group, API_ON_NETWORK_LOOP, true},
    /* Posts to the controller, as ControlledShutdown does. */
    {KP_API_ALTER_ISR, api_handle_alter_isr, API_ON_NETWORK_LOOP, true},
    /* samsa-topics --describe --replicas; partition locks only */
    {KP_API_DESCRIBE_REPLICA_STATE, api_handle_describe_replica_state, API_ON_NETWORK_LOOP, false},
};

/* A scan: Produce and Fetch, the data path, are the first two rows, found
 * at the first or second comparison. */
static const api_route_t *api_route(int16_t key) {
    for (size_t i = 0; i < sizeof api_routes / sizeof api_routes[0]; i++)
        if (api_routes[i].key == key)
            return &api_routes[i];
    return NULL;
}

bool api_advertised(int16_t key) {
    const api_route_t *route = api_route(key);
    return route && route->advertised;
}

char *api_strdup(api_request_t *req, kp_str_t s) {
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *out = kp_arena_alloc(&req->arena, n + 1);
    if (n)
        memcpy(out, s.ptr, n);
    out[n] = '\0';
    return out;
}

void *api_alloc_array(api_request_t *req, kp_array_t *arr, int32_t n, size_t size) {
    arr->count = n;
    arr->items = kp_arena_alloc(&req->arena, (n > 0 ? (size_t)n : 1) * size);
    return arr->items;
}

static void api_request_free(api_request_t *req) {
    kp_arena_free(&req->arena);
    free(req->frame_copy);
    free(req);
}

/* The codec writes a whole frame (size first); net adds the size itself, so
 * the first four bytes go and the splice offsets shift with them. The
 * splices' fds pass to the response with them (net closes each once). */
static void api_writer_to_response(kp_writer_t *w, net_response_t *r) {
    net_response_init(r);
    size_t len = w->buf.len - 4;
    memmove(w->buf.data, w->buf.data + 4, len);
    w->buf.len = len;
    r->bytes = w->buf;
    buf_init(&w->buf);
    for (size_t i = 0; i < w->nsplices; i++) {
        const kp_splice_t *s = &w->splices[i];
        if (r->nsplices == r->splices_cap) {
            r->splices_cap = r->splices_cap ? r->splices_cap * 2 : 8;
            r->splices = mem_realloc(r->splices, r->splices_cap * sizeof *r->splices);
        }
        r->splices[r->nsplices++] = (net_splice_t){s->buf_off - 4, s->fd, s->file_pos, (size_t)s->len};
    }
}

/* A response encoded off the connection's loop (a handler that ran on the
 * admin worker) is handed to the loop to be sent; the request goes with it. */
typedef struct api_deferred {
    api_request_t *req;
    net_response_t r;
    bool close;
} api_deferred_t;

/* On the connection's loop: answers req through its slot if it was
 * detached, else as the request in flight; frees req. */
static void api_send_on_loop(api_request_t *req, net_response_t *r, bool close) {
    if (req->slot && close)
        net_slot_close(req->slot);
    else if (req->slot)
        net_slot_respond(req->slot, r);
    else if (close)
        net_close(req->conn);
    else
        net_respond(req->conn, r);
    api_request_free(req);
}

static void api_deferred_send(void *arg) {
    api_deferred_t *d = arg;
    api_send_on_loop(d->req, &d->r, d->close);
    free(d);
}

/* Sends r (or closes) on the connection's loop thread, from whichever
 * thread the handler runs on: inline on the loop itself (the produce and
 * fetch path: no hop, no allocation), else through its task queue. If the
 * loop has ended the answer is dropped and the request freed. */
static void api_send(api_request_t *req, net_response_t *r, bool close) {
    evloop_t *loop = net_conn_evloop(req->conn);
    if (evloop_in_loop(loop)) {
        api_send_on_loop(req, r, close);
        return;
    }
    api_deferred_t *d = mem_calloc(1, sizeof *d);
    d->req = req;
    d->close = close;
    if (r)
        d->r = *r;
    else
        net_response_init(&d->r);
    if (evloop_run(loop, api_deferred_send, d) != 0) {
        net_response_free(&d->r);
        api_request_free(req);
        free(d);
    }
}

void api_respond(api_request_t *req, const void *resp) {
    kp_writer_t w;
    kp_writer_init(&w);
    char err[256];
    kp_status_t st = kp_response_encode(req->hdr.api_key, req->hdr.api_version, req->hdr.correlation_id, resp, &w,
                                        err, sizeof err);
    if (st != KP_OK) {
        log_error(API_TAG, "cannot encode the response to api %d v%d: %s; closing %s", req->hdr.api_key,
                  req->hdr.api_version, err, net_conn_peer(req->conn));
        kp_writer_free(&w);
        const kp_api_t *api = kp_api_find(req->hdr.api_key);
        if (api) /* nothing was spliced: every file range is still resp's */
            kp_close_files(api->response, req->hdr.api_version, resp);
        api_close(req);
        return;
    }
    net_response_t r;
    api_writer_to_response(&w, &r);
    kp_writer_free(&w);
    api_metrics_request_done(req);
    api_send(req, &r, false);
}

void api_respond_none(api_request_t *req) {
    api_metrics_request_done(req);
    if (req->slot) { /* a handler bug (api.h): a detached request's place must be answered */
        log_error(API_TAG, "api %d: no response to a detached request; closing %s", req->hdr.api_key,
                  net_conn_peer(req->conn));
        net_slot_close(req->slot);
    } else {
        net_respond_none(req->conn);
    }
    api_request_free(req);
}

void api_detach(api_request_t *req) {
    if (req->hdr.client_id.ptr)
        req->hdr.client_id = kp_str(api_strdup(req, req->hdr.client_id));
    req->body = NULL;
    req->slot = net_detach(req->conn);
}

void api_close(api_request_t *req) {
    api_send(req, NULL, true);
}

/* --- the admin worker ------------------------------------------------------ */

typedef struct api_offload_task {
    api_request_t *req;
    void (*handler)(api_request_t *req);
} api_offload_task_t;

static void api_offload_run(void *arg) {
    api_offload_task_t *t = arg;
    api_metrics_queued(-1);
    t->handler(t->req);
    free(t);
}

void api_offload(api_request_t *req, void (*handler)(api_request_t *req)) {
    evloop_t *admin = req->broker->admin_loop;
    if (!admin || evloop_in_loop(admin)) {
        handler(req);
        return;
    }
    api_offload_task_t *t = mem_alloc(sizeof *t);
    *t = (api_offload_task_t){req, handler};
    api_metrics_queued(1);
    if (evloop_run(admin, api_offload_run, t) != 0) { /* shutting down */
        api_metrics_queued(-1);
        free(t);
        api_close(req);
    }
}

bool api_on_admin_worker(const api_request_t *req) {
    return req->broker->admin_loop && evloop_in_loop(req->broker->admin_loop);
}

/* --- ApiVersions --------------------------------------------------------- */

/* KIP-511: software names and versions must look like names. */
static bool api_software_field_valid(kp_str_t s) {
    if (s.len <= 0)
        return s.len == 0;
    for (int32_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        bool inner = c == '-' || c == '.';
        if (!alnum && !(inner && i > 0 && i < s.len - 1))
            return false;
    }
    return true;
}

void api_handle_api_versions(api_request_t *req) {
    const kp_api_versions_req_t *rq = req->body;
    kp_api_versions_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.finalized_features_epoch = -1;
    if (req->hdr.api_version >= 3 &&
        (!api_software_field_valid(rq->client_software_name) || !api_software_field_valid(rq->client_software_version))) {
        resp.error_code = KERR_INVALID_REQUEST;
        api_respond(req, &resp);
        return;
    }
    kp_api_versions_resp_key_t *keys = api_alloc_array(req, &resp.api_keys, (int32_t)kp_api_count(), sizeof *keys);
    int32_t k = 0;
    for (size_t i = 0; i < kp_api_count(); i++) {
        const kp_api_t *api = kp_api_at(i);
        if (!api_advertised(api->key))
            continue;
        keys[k++] = (kp_api_versions_resp_key_t){api->key, api->min_version, api->max_version};
    }
    resp.api_keys.count = k;
    api_respond(req, &resp);
}

/* --- dispatch -------------------------------------------------------------- */

/* Decodes and routes req's frame; a deferred request (api_turn_start)
 * owns a copy of it and answers through its slot. */
static void api_dispatch(api_request_t *req, uint8_t *frame, size_t len) {
    net_conn_t *conn = req->conn;
    char err[256];
    kp_status_t st = kp_request_decode(frame, len, &req->arena, &req->hdr, &req->body, err, sizeof err);
    const api_route_t *route = api_route(req->hdr.api_key);

    if (st == KP_ERR_UNSUPPORTED_VERSION && req->hdr.api_key == KP_API_API_VERSIONS && len >= 8) {
        kp_writer_t w;
        kp_writer_init(&w);
        kp_apiversions_fallback(req->hdr.correlation_id, &w);
        net_response_t r;
        api_writer_to_response(&w, &r);
        kp_writer_free(&w);
        api_send(req, &r, false);
        return;
    }
    if (st != KP_OK || !route) {
        log_warn(API_TAG, "closing %s: api %d v%d: %s", net_conn_peer(conn), req->hdr.api_key,
                 req->hdr.api_version, st != KP_OK ? err : "not served by samsa");
        api_close(req);
        return;
    }
    if (route->runs_on == API_ON_ADMIN_WORKER)
        api_offload(req, route->handler);
    else
        route->handler(req);
}

/* A small request decodes into a small arena: a one-record produce that
 * waits for its replicas (net.h, NET_MAX_SLOTS) then holds ~1 KB, not 4. */
#define API_SMALL_FRAME 512
#define API_SMALL_ARENA 1024

static api_request_t *api_request_new(broker_t *broker, net_conn_t *conn, size_t frame_len) {
    api_request_t *req = mem_calloc(1, sizeof *req);
    req->broker = broker;
    req->conn = conn;
    req->received_ms = clock_wall_ms();
    req->received_us = clock_mono_us();
    kp_arena_init_sized(&req->arena, frame_len < API_SMALL_FRAME ? API_SMALL_ARENA : 0);
    return req;
}

/* A deferred request's turn (net_turn_fn): req holds its frame's copy. */
static void api_turn_start(void *arg, net_slot_t *slot) {
    api_request_t *req = arg;
    if (!slot) { /* dropped with its connection */
        api_request_free(req);
        return;
    }
    req->slot = slot;
    api_dispatch(req, req->frame_copy, req->frame_len);
}

/* Produce appends at once whatever waits before it: appends keep arrival
 * order, only answers wait (net.h, "Detaching"). Anything else behind a
 * waiting answer waits its turn (net.h, "Deferring"), so that it sees what
 * the requests before it did, and holds the requests after it — except
 * Metadata, which changes nothing: a producer's Metadata requests, every
 * 250 ms while a leader is down, must not stop its produces from being
 * appended until the failover is over. */
void api_on_request(void *ctx, net_conn_t *conn, uint8_t *frame, size_t len) {
    api_request_t *req = api_request_new(ctx, conn, len);
    int16_t api_key = len >= 2 ? (int16_t)be16_load(frame) : -1; /* -1: undecodable, closed in api_dispatch */
    if (api_key >= 0 && net_conn_awaits_answers(conn) && api_key != KP_API_PRODUCE) {
        req->frame_copy = mem_alloc(len);
        memcpy(req->frame_copy, frame, len);
        req->frame_len = len;
        if (!net_defer(conn, api_turn_start, req, api_key != KP_API_METADATA))
            api_request_free(req);
        return;
    }
    api_dispatch(req, frame, len);
}
