/*
 * metrics_http — the broker's Prometheus endpoint (metrics.listener, e.g.
 * 127.0.0.1:9404; off when unset): libevent's evhttp on an evloop of its
 * own, "metrics", so that a scrape — rendering the registry, the callback
 * gauges that walk the partitions or ask the ZooKeeper loop — never takes
 * a network loop's time from clients.
 *
 *   GET /metrics   the registry in text format 0.0.4
 *   GET /health    200 "ok" while health(ctx) says so, else 503
 *   anything else  404 (405 for another method on those two paths)
 *
 * The listening socket is bound in metrics_http_start, on the caller's
 * thread, so a bad or taken address fails the broker's start-up with a
 * message; every request is served on the metrics loop, one at a time.
 */
#ifndef SAMSA_METRICS_HTTP_H
#define SAMSA_METRICS_HTTP_H

#include "util/metrics.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct metrics_http metrics_http_t;

/* Called on the metrics loop for every GET /health. */
typedef bool (*metrics_http_health_fn)(void *ctx);

typedef struct metrics_http_config {
    const char *listener;          /* host:port (port 0: any free port) */
    metrics_registry_t *registry;  /* must outlive the endpoint */
    metrics_http_health_fn health;
    void *health_ctx;
} metrics_http_config_t;

/* Binds and starts serving; NULL with a message in err. */
metrics_http_t *metrics_http_start(const metrics_http_config_t *cfg, char *err, size_t errlen);
/* The port bound. */
int metrics_http_port(const metrics_http_t *m);
/* Stops the loop (a scrape in progress finishes first) and frees. NULL is
 * a no-op. Not from the metrics loop. */
void metrics_http_stop(metrics_http_t *m);

#endif
