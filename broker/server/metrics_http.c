/*
 * metrics_http — evhttp on the "metrics" evloop (design in metrics_http.h).
 *
 * The evhttp is made and bound before the loop's thread starts and freed
 * after it has joined, so only the loop's thread ever touches it while it
 * serves; every buffer of a reply is the handler's, freed before it
 * returns (evhttp copies what it sends).
 */
#include "server/metrics_http.h"

#include "net/evloop.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define METRICS_HTTP_TAG "metrics"

struct metrics_http {
    /* immutable after start */
    metrics_http_config_t cfg;
    evloop_t *loop;
    struct evhttp *http; /* owner: the metrics loop while it runs */
    int port;
};

/* "host:port" -> host (a copy the caller frees) and port. */
static int metrics_http_parse(const char *listener, char **host, int *port, char *err, size_t errlen) {
    const char *colon = listener ? strrchr(listener, ':') : NULL;
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == listener || !end || end == colon + 1 || *end || p < 0 || p > 65535) {
        errmsg_set(err, errlen, "metrics.listener '%s': expected host:port, e.g. 127.0.0.1:9404",
                   listener ? listener : "");
        return -1;
    }
    *host = mem_strndup(listener, (size_t)(colon - listener));
    *port = (int)p;
    return 0;
}

static void metrics_http_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                               const void *body, size_t len) {
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
        evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void metrics_http_serve_metrics(metrics_http_t *m, struct evhttp_request *req) {
    buf_t text;
    buf_init(&text);
    metrics_render(m->cfg.registry, &text);
    metrics_http_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text.data, text.len);
    buf_free(&text);
}

static void metrics_http_serve_health(metrics_http_t *m, struct evhttp_request *req) {
    static const char ok[] = "ok\n", unavailable[] = "unavailable\n";
    if (m->cfg.health && m->cfg.health(m->cfg.health_ctx))
        metrics_http_reply(req, 200, "OK", "text/plain; charset=utf-8", ok, sizeof ok - 1);
    else
        metrics_http_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", unavailable,
                           sizeof unavailable - 1);
}

typedef struct metrics_http_route {
    const char *path;
    void (*serve)(metrics_http_t *m, struct evhttp_request *req);
} metrics_http_route_t;

static const metrics_http_route_t metrics_http_routes[] = {
    {"/metrics", metrics_http_serve_metrics},
    {"/health", metrics_http_serve_health},
};

static void metrics_http_handle(struct evhttp_request *req, void *arg) {
    metrics_http_t *m = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    for (size_t i = 0; path && i < sizeof metrics_http_routes / sizeof metrics_http_routes[0]; i++) {
        if (strcmp(path, metrics_http_routes[i].path) != 0)
            continue;
        enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
        if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
            evhttp_send_error(req, 405, "Method Not Allowed");
        else
            metrics_http_routes[i].serve(m, req);
        return;
    }
    evhttp_send_error(req, HTTP_NOTFOUND, NULL);
}

static void metrics_http_free(metrics_http_t *m) {
    if (m->loop)
        evloop_stop(m->loop);
    if (m->http)
        evhttp_free(m->http); /* the loop's thread has joined: ours now */
    evloop_free(m->loop);
    free(m);
}

metrics_http_t *metrics_http_start(const metrics_http_config_t *cfg, char *err, size_t errlen) {
    char *host;
    int port;
    if (metrics_http_parse(cfg->listener, &host, &port, err, errlen) != 0)
        return NULL;
    metrics_http_t *m = mem_calloc(1, sizeof *m);
    m->cfg = *cfg;
    m->loop = evloop_new("metrics", err, errlen);
    m->http = m->loop ? evhttp_new(evloop_base(m->loop)) : NULL;
    struct evhttp_bound_socket *sock = m->http ? evhttp_bind_socket_with_handle(m->http, host, (ev_uint16_t)port) : NULL;
    if (!sock) {
        if (m->loop)
            errmsg_set(err, errlen, "metrics.listener %s: cannot listen (%s)", cfg->listener,
                       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        free(host);
        metrics_http_free(m);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0)
        m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    evhttp_set_gencb(m->http, metrics_http_handle, m);
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE);
    evhttp_set_timeout(m->http, 10);
    if (evloop_start(m->loop, err, errlen) != 0) {
        free(host);
        metrics_http_free(m);
        return NULL;
    }
    log_info(METRICS_HTTP_TAG, "serving /metrics and /health on %s:%d", host, m->port);
    free(host);
    return m;
}

int metrics_http_port(const metrics_http_t *m) {
    return m->port;
}

void metrics_http_stop(metrics_http_t *m) {
    if (m)
        metrics_http_free(m);
}
