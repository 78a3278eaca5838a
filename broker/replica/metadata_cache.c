#include "replica/metadata_cache.h"

#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct metadata_cache {
    pthread_mutex_t lock;       /* guards current and every snapshot's refs */
    pthread_mutex_t write_lock; /* one update at a time: clone, edit, publish; taken before lock */
    mc_snapshot_t *current;     /* under: lock; replaced under both, so write_lock alone may read it */
};

static int32_t *mc_copy_ids(const int32_t *ids, int32_t n) {
    int32_t *out = mem_alloc(((size_t)n + 1) * sizeof *out);
    if (n > 0)
        memcpy(out, ids, (size_t)n * sizeof *out);
    return out;
}

static void mc_partition_copy(mc_partition_t *dst, const mc_partition_t *src) {
    *dst = *src;
    dst->replicas = mc_copy_ids(src->replicas, src->nreplicas);
    dst->isr = mc_copy_ids(src->isr, src->nisr);
    dst->offline = mc_copy_ids(src->offline, src->noffline);
}

static void mc_partition_free(mc_partition_t *p) {
    free(p->replicas);
    free(p->isr);
    free(p->offline);
}

static void mc_topic_copy(mc_topic_t *dst, const mc_topic_t *src) {
    dst->name = mem_strdup(src->name);
    dst->internal = src->internal;
    dst->npartitions = src->npartitions;
    dst->partitions = mem_calloc((size_t)src->npartitions + 1, sizeof *dst->partitions);
    for (int32_t i = 0; i < src->npartitions; i++)
        mc_partition_copy(&dst->partitions[i], &src->partitions[i]);
}

static void mc_topic_free(mc_topic_t *t) {
    for (int32_t i = 0; i < t->npartitions; i++)
        mc_partition_free(&t->partitions[i]);
    free(t->partitions);
    free(t->name);
}

static void mc_snapshot_free(mc_snapshot_t *s) {
    for (size_t i = 0; i < s->nbrokers; i++) {
        free(s->brokers[i].host);
        free(s->brokers[i].rack);
    }
    free(s->brokers);
    for (size_t i = 0; i < s->ntopics; i++)
        mc_topic_free(&s->topics[i]);
    free(s->topics);
    free(s);
}

/* A deep copy of s, with room for one more topic, to be modified and then
 * published. */
static mc_snapshot_t *mc_snapshot_clone(const mc_snapshot_t *s) {
    mc_snapshot_t *n = mem_calloc(1, sizeof *n);
    n->controller_id = s->controller_id;
    n->nbrokers = s->nbrokers;
    n->brokers = mem_calloc(s->nbrokers + 1, sizeof *n->brokers);
    for (size_t i = 0; i < s->nbrokers; i++) {
        n->brokers[i] = s->brokers[i];
        n->brokers[i].host = mem_strdup(s->brokers[i].host);
        n->brokers[i].rack = s->brokers[i].rack ? mem_strdup(s->brokers[i].rack) : NULL;
    }
    n->ntopics = s->ntopics;
    n->topics = mem_calloc(s->ntopics + 1, sizeof *n->topics);
    for (size_t i = 0; i < s->ntopics; i++)
        mc_topic_copy(&n->topics[i], &s->topics[i]);
    return n;
}

metadata_cache_t *metadata_cache_new(void) {
    metadata_cache_t *mc = mem_calloc(1, sizeof *mc);
    pthread_mutex_init(&mc->lock, NULL);
    pthread_mutex_init(&mc->write_lock, NULL);
    mc->current = mem_calloc(1, sizeof *mc->current);
    mc->current->controller_id = -1;
    mc->current->refs = 1;
    return mc;
}

void metadata_cache_free(metadata_cache_t *mc) {
    if (!mc)
        return;
    mc_snapshot_free(mc->current);
    pthread_mutex_destroy(&mc->lock);
    pthread_mutex_destroy(&mc->write_lock);
    free(mc);
}

const mc_snapshot_t *metadata_cache_acquire(metadata_cache_t *mc) {
    pthread_mutex_lock(&mc->lock);
    mc_snapshot_t *s = mc->current;
    s->refs++;
    pthread_mutex_unlock(&mc->lock);
    return s;
}

void metadata_cache_release(metadata_cache_t *mc, const mc_snapshot_t *cs) {
    mc_snapshot_t *s = (mc_snapshot_t *)cs;
    pthread_mutex_lock(&mc->lock);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&mc->lock);
    if (last)
        mc_snapshot_free(s);
}

/* Makes next the current snapshot; the old one goes when its last reader
 * releases it. */
static void mc_publish(metadata_cache_t *mc, mc_snapshot_t *next) {
    next->refs = 1;
    pthread_mutex_lock(&mc->lock);
    mc_snapshot_t *old = mc->current;
    mc->current = next;
    bool last = --old->refs == 0;
    pthread_mutex_unlock(&mc->lock);
    pthread_mutex_unlock(&mc->write_lock);
    if (last)
        mc_snapshot_free(old);
}

static int mc_topic_cmp(const void *a, const void *b) {
    return strcmp(((const mc_topic_t *)a)->name, ((const mc_topic_t *)b)->name);
}

const mc_topic_t *mc_snapshot_topic(const mc_snapshot_t *s, const char *name, size_t name_len) {
    size_t lo = 0, hi = s->ntopics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *t = s->topics[mid].name;
        int c = strncmp(t, name, name_len);
        if (c == 0 && t[name_len] != '\0')
            c = 1;
        if (c == 0)
            return &s->topics[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const mc_broker_t *mc_snapshot_broker(const mc_snapshot_t *s, int32_t id) {
    for (size_t i = 0; i < s->nbrokers; i++)
        if (s->brokers[i].id == id)
            return &s->brokers[i];
    return NULL;
}

/* Starts an update: takes the writers' lock (released by mc_publish) and
 * clones the current snapshot, which no one else can replace meanwhile. */
static mc_snapshot_t *mc_begin(metadata_cache_t *mc) {
    pthread_mutex_lock(&mc->write_lock);
    return mc_snapshot_clone(mc->current);
}

void metadata_cache_set_brokers(metadata_cache_t *mc, const mc_broker_t *brokers, size_t n,
                                int32_t controller_id) {
    mc_snapshot_t *next = mc_begin(mc);
    for (size_t i = 0; i < next->nbrokers; i++) {
        free(next->brokers[i].host);
        free(next->brokers[i].rack);
    }
    free(next->brokers);
    next->brokers = mem_calloc(n + 1, sizeof *next->brokers);
    for (size_t i = 0; i < n; i++) {
        next->brokers[i] = brokers[i];
        next->brokers[i].host = mem_strdup(brokers[i].host);
        next->brokers[i].rack = brokers[i].rack ? mem_strdup(brokers[i].rack) : NULL;
    }
    next->nbrokers = n;
    next->controller_id = controller_id;
    mc_publish(mc, next);
}

/* The topic in a snapshot being built, added (keeping the order) if new. */
static mc_topic_t *mc_edit_topic(mc_snapshot_t *s, const char *name) {
    mc_topic_t *t = (mc_topic_t *)mc_snapshot_topic(s, name, strlen(name));
    if (t)
        return t;
    s->topics = mem_realloc(s->topics, (s->ntopics + 1) * sizeof *s->topics);
    t = &s->topics[s->ntopics++];
    memset(t, 0, sizeof *t);
    t->name = mem_strdup(name);
    t->internal = name[0] == '_' && (strcmp(name, "__consumer_offsets") == 0 || strcmp(name, "__transaction_state") == 0);
    qsort(s->topics, s->ntopics, sizeof *s->topics, mc_topic_cmp);
    return (mc_topic_t *)mc_snapshot_topic(s, name, strlen(name));
}

static void mc_apply_partition(mc_snapshot_t *s, const char *topic, const mc_partition_t *p) {
    mc_topic_t *t = mc_edit_topic(s, topic);
    if (p->index >= t->npartitions) {
        t->partitions = mem_realloc(t->partitions, ((size_t)p->index + 1) * sizeof *t->partitions);
        for (int32_t i = t->npartitions; i <= p->index; i++)
            t->partitions[i] = (mc_partition_t){.index = i, .leader = -1, .leader_epoch = -1,
                                                .replicas = mem_calloc(1, sizeof(int32_t)),
                                                .isr = mem_calloc(1, sizeof(int32_t)),
                                                .offline = mem_calloc(1, sizeof(int32_t))};
        t->npartitions = p->index + 1;
    }
    mc_partition_free(&t->partitions[p->index]);
    mc_partition_copy(&t->partitions[p->index], p);
}

void metadata_cache_set_partition(metadata_cache_t *mc, const char *topic, const mc_partition_t *p) {
    metadata_cache_set_partitions(mc, &topic, p, 1);
}

void metadata_cache_set_partitions(metadata_cache_t *mc, const char *const *topics, const mc_partition_t *ps,
                                   size_t n) {
    mc_snapshot_t *next = mc_begin(mc);
    for (size_t i = 0; i < n; i++)
        if (ps[i].index >= 0)
            mc_apply_partition(next, topics[i], &ps[i]);
    mc_publish(mc, next);
}

void metadata_cache_advance_partitions(metadata_cache_t *mc, const char *const *topics, const mc_partition_t *ps,
                                       size_t n) {
    mc_snapshot_t *next = mc_begin(mc);
    for (size_t i = 0; i < n; i++) {
        mc_topic_t *t = (mc_topic_t *)mc_snapshot_topic(next, topics[i], strlen(topics[i]));
        if (!t || ps[i].index < 0 || ps[i].index >= t->npartitions)
            continue;
        mc_partition_t *cur = &t->partitions[ps[i].index];
        if (ps[i].leader_epoch <= cur->leader_epoch)
            continue;
        mc_partition_t with_offline = ps[i], advanced;
        with_offline.offline = cur->offline;
        with_offline.noffline = cur->noffline;
        mc_partition_copy(&advanced, &with_offline);
        mc_partition_free(cur);
        *cur = advanced;
    }
    mc_publish(mc, next);
}

void metadata_cache_remove_topic(metadata_cache_t *mc, const char *topic) {
    mc_snapshot_t *next = mc_begin(mc);
    mc_topic_t *t = (mc_topic_t *)mc_snapshot_topic(next, topic, strlen(topic));
    if (t) {
        size_t i = (size_t)(t - next->topics);
        mc_topic_free(t);
        memmove(next->topics + i, next->topics + i + 1, (next->ntopics - i - 1) * sizeof *next->topics);
        next->ntopics--;
    }
    mc_publish(mc, next);
}
