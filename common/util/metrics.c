/*
 * metrics — the registry and the text exposition (design in metrics.h).
 *
 * Families and children are allocated one by one and never move or go
 * away before the registry does, so the pointers handed out stay valid
 * and a scrape can render from a snapshot of pointers taken under the
 * mutex, then read the atomics (and call the callback gauges) without it.
 */
#include "util/metrics.h"

#include "util/logger.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct metrics_child {
    char *label_value; /* NULL: the family has no label */
    metrics_counter_t counter;
    metrics_gauge_t gauge;
    metrics_histogram_t histogram;
} metrics_child_t;

/* Immutable after creation, except the children list (under the registry's mutex). */
struct metrics_family {
    metrics_registry_t *registry;
    metrics_type_t type;
    char *name; /* as exposed: counters with _total */
    char *help;
    char *label_name; /* NULL: none */
    unsigned flags;
    double *bounds;
    size_t nbounds;
    metrics_child_t **children;
    size_t nchildren, cap;
};

struct metrics_registry {
    pthread_mutex_t mu;
    /* under: mu */
    metrics_family_t **families; /* exposed, in registration order */
    size_t nfamilies, cap;
    metrics_family_t **orphans;  /* from conflicting registrations: never exposed */
    size_t norphans, orphans_cap;
};

const double metrics_ms_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
const size_t metrics_ms_nbuckets = sizeof metrics_ms_buckets / sizeof metrics_ms_buckets[0];

static const char *const metrics_type_names[] = {
    [METRICS_COUNTER] = "counter",
    [METRICS_GAUGE] = "gauge",
    [METRICS_HISTOGRAM] = "histogram",
};

metrics_registry_t *metrics_registry_new(void) {
    metrics_registry_t *r = mem_calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void metrics_child_free(metrics_child_t *c) {
    free(c->label_value);
    free(c->histogram.buckets);
    free(c);
}

static void metrics_family_free(metrics_family_t *f) {
    for (size_t i = 0; i < f->nchildren; i++)
        metrics_child_free(f->children[i]);
    free(f->children);
    free(f->name);
    free(f->help);
    free(f->label_name);
    free(f->bounds);
    free(f);
}

void metrics_registry_free(metrics_registry_t *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->nfamilies; i++)
        metrics_family_free(r->families[i]);
    for (size_t i = 0; i < r->norphans; i++)
        metrics_family_free(r->orphans[i]);
    free(r->families);
    free(r->orphans);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static metrics_registry_t *metrics_global_registry;
static pthread_once_t metrics_global_once = PTHREAD_ONCE_INIT;

static void metrics_global_init(void) {
    metrics_global_registry = metrics_registry_new();
}

metrics_registry_t *metrics_global(void) {
    pthread_once(&metrics_global_once, metrics_global_init);
    return metrics_global_registry;
}

/* --- registration ------------------------------------------------------------ */

static bool metrics_str_eq(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void metrics_push(metrics_family_t ***arr, size_t *n, size_t *cap, metrics_family_t *f) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = mem_realloc(*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = f;
}

static metrics_family_t *metrics_family_make(metrics_registry_t *r, metrics_type_t type, const char *name,
                                             const char *help, const char *label_name, const double *bounds,
                                             size_t nbounds, unsigned flags) {
    metrics_family_t *f = mem_calloc(1, sizeof *f);
    f->registry = r;
    f->type = type;
    size_t n = strlen(name);
    f->name = mem_alloc(n + sizeof "_total");
    snprintf(f->name, n + sizeof "_total", "%s%s", name, type == METRICS_COUNTER ? "_total" : "");
    f->help = mem_strdup(help ? help : "");
    f->label_name = label_name ? mem_strdup(label_name) : NULL;
    f->flags = type == METRICS_COUNTER && label_name ? flags : 0;
    if (type == METRICS_HISTOGRAM && nbounds > 0) {
        f->bounds = mem_alloc(nbounds * sizeof *f->bounds);
        memcpy(f->bounds, bounds, nbounds * sizeof *f->bounds);
        f->nbounds = nbounds;
    }
    return f;
}

metrics_family_t *metrics_family(metrics_registry_t *r, metrics_type_t type, const char *name, const char *help,
                                 const char *label_name, const double *bounds, size_t nbounds, unsigned flags) {
    size_t n = strlen(name);
    pthread_mutex_lock(&r->mu);
    metrics_family_t *found = NULL;
    for (size_t i = 0; i < r->nfamilies && !found; i++) {
        const char *fn = r->families[i]->name;
        if (strncmp(fn, name, n) == 0 && (fn[n] == '\0' || strcmp(fn + n, "_total") == 0))
            found = r->families[i];
    }
    metrics_family_t *f = found;
    if (found && (found->type != type || !metrics_str_eq(found->label_name, label_name))) {
        log_error("metrics", "%s registered again with another type or label; this one is not exposed", name);
        f = metrics_family_make(r, type, name, help, label_name, bounds, nbounds, flags);
        metrics_push(&r->orphans, &r->norphans, &r->orphans_cap, f);
    } else if (!found) {
        f = metrics_family_make(r, type, name, help, label_name, bounds, nbounds, flags);
        metrics_push(&r->families, &r->nfamilies, &r->cap, f);
    }
    pthread_mutex_unlock(&r->mu);
    return f;
}

static metrics_child_t *metrics_child(metrics_family_t *f, const char *label_value) {
    if (!f->label_name)
        label_value = NULL;
    else if (!label_value)
        label_value = "";
    metrics_registry_t *r = f->registry;
    pthread_mutex_lock(&r->mu);
    metrics_child_t *c = NULL;
    for (size_t i = 0; i < f->nchildren && !c; i++)
        if (metrics_str_eq(f->children[i]->label_value, label_value))
            c = f->children[i];
    if (!c) {
        c = mem_calloc(1, sizeof *c);
        c->label_value = label_value ? mem_strdup(label_value) : NULL;
        c->histogram.bounds = f->bounds;
        c->histogram.nbounds = f->nbounds;
        c->histogram.buckets = mem_calloc(f->nbounds + 1, sizeof *c->histogram.buckets);
        if (f->nchildren == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 4;
            f->children = mem_realloc(f->children, f->cap * sizeof *f->children);
        }
        f->children[f->nchildren++] = c;
    }
    pthread_mutex_unlock(&r->mu);
    return c;
}

metrics_counter_t *metrics_family_counter(metrics_family_t *f, const char *label_value) {
    return &metrics_child(f, label_value)->counter;
}

metrics_gauge_t *metrics_family_gauge(metrics_family_t *f, const char *label_value) {
    return &metrics_child(f, label_value)->gauge;
}

metrics_histogram_t *metrics_family_histogram(metrics_family_t *f, const char *label_value) {
    return &metrics_child(f, label_value)->histogram;
}

metrics_counter_t *metrics_counter(metrics_registry_t *r, const char *name, const char *help) {
    return metrics_family_counter(metrics_family(r, METRICS_COUNTER, name, help, NULL, NULL, 0, 0), NULL);
}

metrics_gauge_t *metrics_gauge(metrics_registry_t *r, const char *name, const char *help) {
    return metrics_family_gauge(metrics_family(r, METRICS_GAUGE, name, help, NULL, NULL, 0, 0), NULL);
}

metrics_histogram_t *metrics_histogram(metrics_registry_t *r, const char *name, const char *help,
                                       const double *bounds, size_t nbounds) {
    return metrics_family_histogram(metrics_family(r, METRICS_HISTOGRAM, name, help, NULL, bounds, nbounds, 0),
                                    NULL);
}

void metrics_gauge_fn(metrics_registry_t *r, metrics_gauge_t *g, metrics_gauge_fn_t fn, void *ctx) {
    pthread_mutex_lock(&r->mu);
    g->fn = fn;
    g->fn_ctx = ctx;
    pthread_mutex_unlock(&r->mu);
}

void metrics_histogram_observe(metrics_histogram_t *h, double v) {
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    double old = atomic_load_explicit(&h->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum, &old, old + v, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* --- exposition -------------------------------------------------------------- */

/* One series to render: taken under the mutex, rendered without it. */
typedef struct metrics_item {
    const metrics_family_t *family;
    metrics_child_t *child; /* NULL: the family's header (and its sum series) */
    metrics_gauge_fn_t fn;
    void *fn_ctx;
} metrics_item_t;

/* As Prometheus' Go client prints floats (strconv 'g', shortest): the
 * fewest digits that read back the same, in e-notation when the exponent
 * is below -4 or 6 and more; NaN and infinities as the format spells them. */
static void metrics_put_double(buf_t *out, double v) {
    if (isnan(v)) {
        buf_append_str(out, "NaN");
        return;
    }
    if (isinf(v)) {
        buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char s[40];
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(s, sizeof s, "%.*e", digits - 1, v);
        if (strtod(s, NULL) == v)
            break;
    }
    snprintf(s, sizeof s, "%.*e", digits - 1, v);
    int exp = atoi(strchr(s, 'e') + 1);
    if (exp >= -4 && exp < 6)
        snprintf(s, sizeof s, "%.*f", digits - 1 - exp > 0 ? digits - 1 - exp : 0, v);
    buf_append_str(out, s);
}

/* Label values escape backslash, double quote and newline; help text
 * backslash and newline. */
static void metrics_put_escaped(buf_t *out, const char *s, bool quotes) {
    for (; *s; s++) {
        if (*s == '\\')
            buf_append_str(out, "\\\\");
        else if (*s == '\n')
            buf_append_str(out, "\\n");
        else if (*s == '"' && quotes)
            buf_append_str(out, "\\\"");
        else
            buf_append(out, s, 1);
    }
}

/* name{label="value",le="bound"} — suffix after the name, extra_le for a
 * histogram bucket (NULL: none). */
static void metrics_put_series(buf_t *out, const metrics_family_t *f, const char *suffix, const char *label_value,
                               const double *le) {
    buf_append_str(out, f->name);
    buf_append_str(out, suffix);
    bool labelled = f->label_name && label_value;
    if (!labelled && !le) {
        buf_append_str(out, " ");
        return;
    }
    buf_append_str(out, "{");
    if (labelled) {
        buf_appendf(out, "%s=\"", f->label_name);
        metrics_put_escaped(out, label_value, true);
        buf_append_str(out, le ? "\"," : "\"");
    }
    if (le) {
        buf_append_str(out, "le=\"");
        metrics_put_double(out, *le);
        buf_append_str(out, "\"");
    }
    buf_append_str(out, "} ");
}

static void metrics_put_u64(buf_t *out, uint64_t v) {
    buf_appendf(out, "%llu\n", (unsigned long long)v);
}

static void metrics_render_histogram(buf_t *out, const metrics_family_t *f, metrics_child_t *c) {
    const metrics_histogram_t *h = &c->histogram;
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        double le = i < h->nbounds ? h->bounds[i] : INFINITY;
        metrics_put_series(out, f, "_bucket", c->label_value, &le);
        metrics_put_u64(out, cumulative);
    }
    metrics_put_series(out, f, "_sum", c->label_value, NULL);
    metrics_put_double(out, atomic_load_explicit(&h->sum, memory_order_relaxed));
    buf_append_str(out, "\n");
    /* the +Inf bucket's count: _count must equal it even while observations race */
    metrics_put_series(out, f, "_count", c->label_value, NULL);
    metrics_put_u64(out, cumulative);
}

static void metrics_render_header(buf_t *out, const metrics_family_t *f) {
    buf_appendf(out, "# HELP %s ", f->name);
    metrics_put_escaped(out, f->help, false);
    buf_appendf(out, "\n# TYPE %s %s\n", f->name, metrics_type_names[f->type]);
    if (!(f->flags & METRICS_SUM_SERIES))
        return;
    uint64_t sum = 0;
    pthread_mutex_lock(&f->registry->mu);
    for (size_t i = 0; i < f->nchildren; i++)
        sum += metrics_counter_value(&f->children[i]->counter);
    pthread_mutex_unlock(&f->registry->mu);
    metrics_put_series(out, f, "", NULL, NULL);
    metrics_put_u64(out, sum);
}

static void metrics_render_item(buf_t *out, const metrics_item_t *it) {
    const metrics_family_t *f = it->family;
    metrics_child_t *c = it->child;
    if (!c) {
        metrics_render_header(out, f);
        return;
    }
    switch (f->type) {
    case METRICS_COUNTER:
        metrics_put_series(out, f, "", c->label_value, NULL);
        metrics_put_u64(out, metrics_counter_value(&c->counter));
        break;
    case METRICS_GAUGE:
        metrics_put_series(out, f, "", c->label_value, NULL);
        metrics_put_double(out, it->fn ? it->fn(it->fn_ctx)
                                       : (double)atomic_load_explicit(&c->gauge.value, memory_order_relaxed));
        buf_append_str(out, "\n");
        break;
    case METRICS_HISTOGRAM:
        metrics_render_histogram(out, f, c);
        break;
    }
}

void metrics_render(metrics_registry_t *r, buf_t *out) {
    pthread_mutex_lock(&r->mu);
    size_t n = r->nfamilies;
    for (size_t i = 0; i < r->nfamilies; i++)
        n += r->families[i]->nchildren;
    metrics_item_t *items = mem_calloc(n + 1, sizeof *items);
    size_t k = 0;
    for (size_t i = 0; i < r->nfamilies; i++) {
        const metrics_family_t *f = r->families[i];
        items[k++] = (metrics_item_t){f, NULL, NULL, NULL};
        for (size_t j = 0; j < f->nchildren; j++) {
            metrics_child_t *c = f->children[j];
            items[k++] = (metrics_item_t){f, c, c->gauge.fn, c->gauge.fn_ctx};
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < k; i++)
        metrics_render_item(out, &items[i]);
    free(items);
}
