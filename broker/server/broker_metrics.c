/*
 * broker_metrics — the broker's part of /metrics: the gauges read at scrape
 * time from the components broker_t wires together, the /health answer,
 * and the endpoint's start and stop (metrics_http.h).
 *
 * Every callback runs on the metrics loop while a scrape renders the
 * registry (no registry lock held): the replica manager's counts take each
 * partition's lock in turn (the lock order's replica_manager.lock ->
 * partition.lock, via replica_manager_for_each); the controller's offline
 * count is asked of the ZooKeeper loop, which owns the controller's
 * context, and waited for at most a second — the metrics loop holds no
 * lock meanwhile and the ZooKeeper loop never waits for it. The counters
 * the data path updates live with their modules (partition.c, api_metrics.c,
 * zkc.c, controller.c, log.c); all go to metrics_global().
 */
#include "server/broker.h"

#include "util/logger.h"
#include "util/mem.h"
#include "util/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

typedef struct broker_gauge_def broker_gauge_def_t;

/* What a callback gauge gets: the broker and its own row of the table. */
typedef struct broker_gauge_binding {
    broker_t *broker;
    const broker_gauge_def_t *def;
} broker_gauge_binding_t;

struct broker_gauge_def {
    const char *name;
    const char *help;
    double (*fn)(const broker_gauge_binding_t *g);
    size_t count_field; /* replica manager counts: offsetof in replica_manager_counts_t */
};

static double broker_metrics_replica_count(const broker_gauge_binding_t *g) {
    replica_manager_counts_t c;
    replica_manager_counts(g->broker->replicas, &c);
    int32_t v;
    memcpy(&v, (const char *)&c + g->def->count_field, sizeof v);
    return v;
}

static double broker_metrics_active_controller(const broker_gauge_binding_t *g) {
    broker_t *b = g->broker;
    controller_t *c = atomic_load(&b->controller);
    return c && controller_active_id(c) == b->id;
}

/* The controller's offline count, asked of the ZooKeeper loop. A scrape
 * waits for the answer at most BROKER_OFFLINE_WAIT_MS: that loop may be
 * stuck in a ZooKeeper call while ZooKeeper is unreachable, and a scrape
 * that hangs would mark the whole target down just when it matters. Then
 * it reports the last count the loop gave, and the loop's late answer
 * refreshes it for the next scrape. */
#define BROKER_OFFLINE_WAIT_MS 1000

typedef struct broker_offline_ask {
    atomic_int refs; /* the scrape's and the task's; the last one frees */
    pthread_mutex_t mu;
    pthread_cond_t answered_cond;
    bool answered;   /* under: mu */
    controller_t *controller;
} broker_offline_ask_t;

static _Atomic int32_t broker_offline_last; /* the last count the loop gave */

static void broker_offline_ask_unref(broker_offline_ask_t *ask) {
    if (atomic_fetch_sub(&ask->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&ask->mu);
    pthread_cond_destroy(&ask->answered_cond);
    free(ask);
}

static void broker_metrics_offline_on_loop(void *arg) {
    broker_offline_ask_t *ask = arg;
    atomic_store(&broker_offline_last, controller_offline_partitions(ask->controller));
    pthread_mutex_lock(&ask->mu);
    ask->answered = true;
    pthread_cond_signal(&ask->answered_cond);
    pthread_mutex_unlock(&ask->mu);
    broker_offline_ask_unref(ask);
}

static double broker_metrics_offline_partitions(const broker_gauge_binding_t *g) {
    broker_t *b = g->broker;
    controller_t *c = atomic_load(&b->controller);
    if (!c)
        return 0;
    broker_offline_ask_t *ask = mem_calloc(1, sizeof *ask);
    atomic_init(&ask->refs, 2);
    pthread_mutex_init(&ask->mu, NULL);
    pthread_cond_init(&ask->answered_cond, NULL);
    ask->controller = c;
    if (evloop_run(b->zk_loop, broker_metrics_offline_on_loop, ask) != 0)
        broker_offline_ask_unref(ask); /* the loop has closed: shutting down */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += BROKER_OFFLINE_WAIT_MS / 1000;
    pthread_mutex_lock(&ask->mu);
    while (!ask->answered && atomic_load(&ask->refs) == 2 &&
           pthread_cond_timedwait(&ask->answered_cond, &ask->mu, &deadline) == 0)
        ;
    pthread_mutex_unlock(&ask->mu);
    broker_offline_ask_unref(ask);
    return atomic_load(&broker_offline_last);
}

/* The file handles the process holds (what LimitNOFILE bounds). */
static double broker_metrics_open_fds(const broker_gauge_binding_t *g) {
    (void)g;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return NAN;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own handle */
}

static double broker_metrics_max_fds(const broker_gauge_binding_t *g) {
    (void)g;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return NAN;
    return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

static const broker_gauge_def_t broker_gauges[] = {
    {"kafka_server_replicamanager_underreplicatedpartitions",
     "Partitions this broker leads whose ISR is smaller than their replica set", broker_metrics_replica_count,
     offsetof(replica_manager_counts_t, under_replicated)},
    {"kafka_server_replicamanager_leadercount", "Partitions this broker leads", broker_metrics_replica_count,
     offsetof(replica_manager_counts_t, leaders)},
    {"kafka_server_replicamanager_partitioncount", "Partitions this broker hosts", broker_metrics_replica_count,
     offsetof(replica_manager_counts_t, partitions)},
    {"kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller, else 0",
     broker_metrics_active_controller, 0},
    {"kafka_controller_kafkacontroller_offlinepartitionscount",
     "Partitions without a live leader (on the active controller; 0 elsewhere)", broker_metrics_offline_partitions, 0},
    {"process_open_fds", "Open file descriptors", broker_metrics_open_fds, 0},
    {"process_max_fds", "The soft limit of open file descriptors (RLIMIT_NOFILE)", broker_metrics_max_fds, 0},
};
#define BROKER_NGAUGES (sizeof broker_gauges / sizeof broker_gauges[0])

/* The gauges are metrics_global()'s, one set per process like the broker
 * they read: main fills the bindings before the endpoint starts and clears
 * the hooks after it stopped. */
static broker_gauge_binding_t broker_gauge_bindings[BROKER_NGAUGES];

static double broker_metrics_read(void *ctx) {
    const broker_gauge_binding_t *g = ctx;
    return g->def->fn(g);
}

/* Serving clients and registered in ZooKeeper with a live session. */
static bool broker_metrics_healthy(void *ctx) {
    broker_t *b = ctx;
    return atomic_load(&b->serving) && zkc_connected(b->zk);
}

static void broker_metrics_hook(broker_t *b, bool on) {
    metrics_registry_t *r = metrics_global();
    for (size_t i = 0; i < BROKER_NGAUGES; i++) {
        broker_gauge_bindings[i] = (broker_gauge_binding_t){b, &broker_gauges[i]};
        metrics_gauge_fn(r, metrics_gauge(r, broker_gauges[i].name, broker_gauges[i].help),
                         on ? broker_metrics_read : NULL, on ? &broker_gauge_bindings[i] : NULL);
    }
}

int broker_metrics_start(broker_t *b, char *err, size_t errlen) {
    const char *listener = config_get_string(b->cfg, "metrics.listener");
    if (!listener || !*listener)
        return 0;
    broker_metrics_hook(b, true);
    metrics_http_config_t mc = {listener, metrics_global(), broker_metrics_healthy, b};
    b->metrics_http = metrics_http_start(&mc, err, errlen);
    if (b->metrics_http)
        return 0;
    broker_metrics_hook(b, false);
    return -1;
}

void broker_metrics_stop(broker_t *b) {
    if (!b->metrics_http)
        return;
    metrics_http_stop(b->metrics_http); /* no scrape runs after this */
    b->metrics_http = NULL;
    broker_metrics_hook(b, false);
}
