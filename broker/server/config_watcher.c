#include "server/config_watcher.h"

#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"
#include "zk/zkdata.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CFGW_TAG "config"
#define CFGW_EXPIRATION_MS (15 * 60 * 1000)

struct config_watcher {
    /* immutable */
    zkc_t *zk;
    evloop_t *loop;
    config_watcher_topic_fn fn;
    void *ctx;
    bool running;          /* owner: the loop */
    uint64_t gen;          /* watches of an older generation are ignored; owner: the loop */
    _Atomic int64_t last_seq; /* atomic: written on the loop, read anywhere */
};

typedef struct cfgw_watch {
    config_watcher_t *w;
    uint64_t gen;
} cfgw_watch_t;

static void cfgw_process(config_watcher_t *w);

static void cfgw_on_watch(void *arg, zkc_watch_type_t type, const char *path) {
    (void)path;
    cfgw_watch_t *cw = arg;
    config_watcher_t *w = cw->w;
    bool current = w->running && cw->gen == w->gen;
    free(cw);
    /* A dropped watch (session ended) comes back with config_watcher_start
     * after the new session; a real event means: look again. */
    if (current && type != ZKC_WATCH_DROPPED)
        cfgw_process(w);
}

/* Applies one notification: the entity path it names. */
static void cfgw_apply(config_watcher_t *w, const char *name, const char *data, int len) {
    char *entity = NULL;
    char err[256];
    if (zkdata_config_change_decode(data, len < 0 ? 0 : (size_t)len, &entity, err, sizeof err) != 0) {
        log_warn(CFGW_TAG, "ignoring config change %s: %s", name, err);
        return;
    }
    if (strncmp(entity, "topics/", 7) == 0 && entity[7]) {
        log_info(CFGW_TAG, "config change %s: topic %s", name, entity + 7);
        w->fn(w->ctx, entity + 7);
    } else {
        log_info(CFGW_TAG, "config change %s for %s: not applied (samsa applies topic configs only)", name, entity);
    }
    free(entity);
}

/* Kafka's processNotifications: set the watch, list the notifications,
 * handle those after the last one handled in sequence order, and purge
 * the expired ones. */
static void cfgw_process(config_watcher_t *w) {
    cfgw_watch_t *cw = mem_alloc(sizeof *cw);
    *cw = (cfgw_watch_t){w, w->gen};
    if (zkc_achildren(w->zk, ZKDATA_PATH_CONFIG_CHANGES, cfgw_on_watch, cw, NULL, NULL) != ZKC_OK)
        free(cw);
    /* One pipelined read of every notification (ZooKeeper sorts nothing,
     * zkc does: the 10-digit sequence sorts as text). */
    zkc_children_data_t changes;
    if (zkc_get_children_data(w->zk, ZKDATA_PATH_CONFIG_CHANGES, &changes) != ZKC_OK)
        return;
    int64_t now = clock_wall_ms();
    for (size_t i = 0; i < changes.n; i++) {
        const zkc_child_t *change = &changes.v[i];
        int64_t seq = zkdata_sequence_number(change->name, ZKDATA_CONFIG_CHANGE_SEQ_PREFIX);
        if (seq < 0 || change->err != ZKC_OK)
            continue;
        if (seq > atomic_load(&w->last_seq)) {
            cfgw_apply(w, change->name, change->data, change->len);
            atomic_store(&w->last_seq, seq);
        }
        if (change->stat.ctime < now - CFGW_EXPIRATION_MS)
            zkc_delete(w->zk, change->path, ZKC_ANY_VERSION);
    }
    zkc_children_data_free(&changes);
}

config_watcher_t *config_watcher_new(zkc_t *zk, evloop_t *loop, config_watcher_topic_fn fn, void *ctx) {
    config_watcher_t *w = mem_calloc(1, sizeof *w);
    w->zk = zk;
    w->loop = loop;
    w->fn = fn;
    w->ctx = ctx;
    atomic_init(&w->last_seq, -1);
    return w;
}

static void cfgw_start_task(void *arg) {
    config_watcher_t *w = arg;
    w->running = true;
    w->gen++;
    cfgw_process(w);
}

void config_watcher_start(config_watcher_t *w) {
    evloop_run(w->loop, cfgw_start_task, w);
}

static void cfgw_stop_task(void *arg) {
    config_watcher_t *w = arg;
    w->running = false;
    w->gen++;
}

void config_watcher_stop(config_watcher_t *w) {
    evloop_run_sync(w->loop, cfgw_stop_task, w);
}

void config_watcher_free(config_watcher_t *w) {
    free(w);
}

int64_t config_watcher_last_seq(const config_watcher_t *w) {
    return atomic_load(&((config_watcher_t *)w)->last_seq);
}
