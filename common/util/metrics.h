/*
 * metrics — a registry of counters, gauges and histograms, rendered in the
 * Prometheus text exposition format 0.0.4 (what /metrics serves).
 *
 * A metric family has a name, a help line, a type and at most one label
 * (topic, request, ...); each label value is a child with its own value.
 * Registration (metrics_counter, metrics_family_gauge, ...) is get-or-create
 * under the registry's mutex and returns a pointer that stays valid until
 * the registry is freed — the global registry (metrics_global) never is.
 * Hot paths register once and keep the pointer (a partition caches its
 * topic's counters, a module a static), then update it lock-free: one
 * relaxed atomic per counter or gauge update, two for a histogram
 * observation (its bucket and its sum). Rare events (a session expiry, an
 * ISR change, an election) may simply call the registration each time.
 *
 * Names: counters are registered without the _total suffix, which the
 * exposition adds (name_total, as the Go client writes format 0.0.4);
 * histograms expose name_bucket{le=...} (cumulative, le = "less than or
 * equal", +Inf last), name_sum and name_count. A counter family may ask for
 * a sum series (METRICS_SUM_SERIES): a series without the label, the sum of
 * every child at scrape time — Kafka's all-topics BrokerTopicMetrics at no
 * extra cost on the data path (children are never removed, so the sum
 * never goes back). Registering a name again with another type or label is
 * a bug: logged, and the caller gets a metric that is never exposed.
 *
 * Callback gauges (metrics_gauge_fn) are read at scrape time, on the
 * scraping thread, with no registry lock held: the callback may take other
 * locks or wait for another thread, but must stay valid as long as anyone
 * may render the registry.
 *
 * Threads: everything here is thread-safe. The registry mutex is a leaf
 * lock: nothing is called out while it is held.
 */
#ifndef SAMSA_METRICS_H
#define SAMSA_METRICS_H

#include "util/buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_family metrics_family_t;

/* The values: atomics, updated only through the functions below. */
typedef struct metrics_counter {
    _Atomic uint64_t value;
} metrics_counter_t;

typedef double (*metrics_gauge_fn_t)(void *ctx);

typedef struct metrics_gauge {
    _Atomic int64_t value;
    /* a callback gauge: read at scrape time instead of value; under the
     * registry's mutex (metrics_gauge_fn) */
    metrics_gauge_fn_t fn;
    void *fn_ctx;
} metrics_gauge_t;

typedef struct metrics_histogram {
    const double *bounds;       /* the family's upper bounds, ascending; immutable */
    size_t nbounds;
    _Atomic uint64_t *buckets;  /* nbounds + 1 non-cumulative counts; the last: above every bound */
    _Atomic double sum;
} metrics_histogram_t;

typedef enum metrics_type {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_type_t;

#define METRICS_SUM_SERIES 1u /* counters: also a series without the label, the children's sum */

metrics_registry_t *metrics_registry_new(void);
void metrics_registry_free(metrics_registry_t *r);
/* The process's registry (what the broker serves); created on first use. */
metrics_registry_t *metrics_global(void);

/* A family, found or created. label_name NULL: no label (then every child
 * is the one unlabelled series). bounds/nbounds: histograms only (copied;
 * ascending, finite). */
metrics_family_t *metrics_family(metrics_registry_t *r, metrics_type_t type, const char *name, const char *help,
                                 const char *label_name, const double *bounds, size_t nbounds, unsigned flags);
/* A family's child for label_value (ignored, may be NULL, for a family
 * without a label), found or created. Never NULL. */
metrics_counter_t *metrics_family_counter(metrics_family_t *f, const char *label_value);
metrics_gauge_t *metrics_family_gauge(metrics_family_t *f, const char *label_value);
metrics_histogram_t *metrics_family_histogram(metrics_family_t *f, const char *label_value);

/* Shorthands for an unlabelled metric. */
metrics_counter_t *metrics_counter(metrics_registry_t *r, const char *name, const char *help);
metrics_gauge_t *metrics_gauge(metrics_registry_t *r, const char *name, const char *help);
metrics_histogram_t *metrics_histogram(metrics_registry_t *r, const char *name, const char *help,
                                       const double *bounds, size_t nbounds);
/* Makes g (a child of r) a callback gauge: fn(ctx) at every scrape; fn NULL
 * turns it back into a plain gauge. */
void metrics_gauge_fn(metrics_registry_t *r, metrics_gauge_t *g, metrics_gauge_fn_t fn, void *ctx);

static inline void metrics_counter_add(metrics_counter_t *c, uint64_t n) {
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}
static inline void metrics_counter_inc(metrics_counter_t *c) {
    metrics_counter_add(c, 1);
}
static inline uint64_t metrics_counter_value(const metrics_counter_t *c) {
    return atomic_load_explicit(&c->value, memory_order_relaxed);
}
static inline void metrics_gauge_set(metrics_gauge_t *g, int64_t v) {
    atomic_store_explicit(&g->value, v, memory_order_relaxed);
}
static inline void metrics_gauge_add(metrics_gauge_t *g, int64_t d) {
    atomic_fetch_add_explicit(&g->value, d, memory_order_relaxed);
}
void metrics_histogram_observe(metrics_histogram_t *h, double v);

/* Appends the registry in the text format 0.0.4: families in registration
 * order, each with its HELP and TYPE lines, then its series (the sum series
 * first, then children in creation order). */
void metrics_render(metrics_registry_t *r, buf_t *out);

/* Bucket bounds the broker's timers share: milliseconds, 0.1 ms to 30 s. */
extern const double metrics_ms_buckets[];
extern const size_t metrics_ms_nbuckets;

#endif
