#include "controller/ctrl_context.h"

#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctrl_ids_set(ctrl_ids_t *ids, const int32_t *v, int32_t n) {
    int32_t *copy = n > 0 ? mem_alloc((size_t)n * sizeof *copy) : NULL;
    if (n > 0)
        memcpy(copy, v, (size_t)n * sizeof *copy);
    free(ids->v);
    ids->v = copy;
    ids->n = n > 0 ? n : 0;
}

void ctrl_ids_free(ctrl_ids_t *ids) {
    free(ids->v);
    ids->v = NULL;
    ids->n = 0;
}

bool ctrl_ids_has(const ctrl_ids_t *ids, int32_t id) {
    for (int32_t i = 0; i < ids->n; i++)
        if (ids->v[i] == id)
            return true;
    return false;
}

const char *ctrl_ids_str(const ctrl_ids_t *ids, char *out, size_t outlen) {
    size_t used = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < ids->n && used < outlen; i++) {
        int w = snprintf(out + used, outlen - used, "%s%d", i ? "," : "", ids->v[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return out;
}

const char *ctrl_pstate_name(ctrl_pstate_t s) {
    switch (s) {
    case CTRL_P_NONEXISTENT: return "NonExistentPartition";
    case CTRL_P_NEW: return "NewPartition";
    case CTRL_P_ONLINE: return "OnlinePartition";
    case CTRL_P_OFFLINE: return "OfflinePartition";
    }
    return "?";
}

const char *ctrl_rstate_name(ctrl_rstate_t s) {
    switch (s) {
    case CTRL_R_NONEXISTENT: return "NonExistentReplica";
    case CTRL_R_NEW: return "NewReplica";
    case CTRL_R_ONLINE: return "OnlineReplica";
    case CTRL_R_OFFLINE: return "OfflineReplica";
    case CTRL_R_DELETION_STARTED: return "ReplicaDeletionStarted";
    case CTRL_R_DELETION_SUCCESSFUL: return "ReplicaDeletionSuccessful";
    case CTRL_R_DELETION_INELIGIBLE: return "ReplicaDeletionIneligible";
    }
    return "?";
}

void ctrl_partition_set_replicas(ctrl_partition_t *p, const int32_t *v, int32_t n, ctrl_rstate_t state) {
    ctrl_ids_set(&p->replicas, v, n);
    free(p->rstates);
    p->rstates = mem_calloc((size_t)p->replicas.n + 1, 1);
    for (int32_t i = 0; i < p->replicas.n; i++)
        p->rstates[i] = (uint8_t)state;
}

ctrl_rstate_t ctrl_replica_state(const ctrl_partition_t *p, int32_t id) {
    for (int32_t i = 0; i < p->replicas.n; i++)
        if (p->replicas.v[i] == id)
            return (ctrl_rstate_t)p->rstates[i];
    return CTRL_R_NONEXISTENT;
}

bool ctrl_replica_set_state(ctrl_partition_t *p, int32_t id, ctrl_rstate_t state) {
    for (int32_t i = 0; i < p->replicas.n; i++)
        if (p->replicas.v[i] == id) {
            p->rstates[i] = (uint8_t)state;
            return true;
        }
    return false;
}

bool ctrl_topic_all_replicas(const ctrl_topic_t *t, ctrl_rstate_t state) {
    for (int32_t p = 0; p < t->nparts; p++)
        for (int32_t i = 0; i < t->parts[p].replicas.n; i++)
            if (t->parts[p].rstates[i] != (uint8_t)state)
                return false;
    return true;
}

void ctrl_context_init(ctrl_context_t *c) {
    memset(c, 0, sizeof *c);
}

void ctrl_broker_free(ctrl_broker_t *b) {
    if (!b)
        return;
    zkdata_broker_free(&b->info);
    free(b);
}

static void ctrl_topic_free(ctrl_topic_t *t) {
    for (int32_t i = 0; i < t->nparts; i++) {
        ctrl_ids_free(&t->parts[i].replicas);
        ctrl_ids_free(&t->parts[i].isr);
        free(t->parts[i].rstates);
    }
    free(t->parts);
    free(t->name);
    free(t);
}

void ctrl_context_clear(ctrl_context_t *c) {
    for (size_t i = 0; i < c->nbrokers; i++)
        ctrl_broker_free(c->brokers[i]);
    for (size_t i = 0; i < c->ntopics; i++)
        ctrl_topic_free(c->topics[i]);
    free(c->brokers);
    free(c->topics);
    ctrl_context_init(c);
}

/* --- brokers ------------------------------------------------------------------- */

static size_t ctrl_broker_pos(const ctrl_context_t *c, int32_t id) {
    size_t lo = 0, hi = c->nbrokers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->brokers[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ctrl_broker_t *ctrl_broker_find(const ctrl_context_t *c, int32_t id) {
    size_t i = ctrl_broker_pos(c, id);
    return i < c->nbrokers && c->brokers[i]->id == id ? c->brokers[i] : NULL;
}

bool ctrl_broker_live(const ctrl_context_t *c, int32_t id) {
    return ctrl_broker_find(c, id) != NULL;
}

void ctrl_broker_add(ctrl_context_t *c, ctrl_broker_t *b) {
    size_t i = ctrl_broker_pos(c, b->id);
    c->brokers = mem_realloc(c->brokers, (c->nbrokers + 1) * sizeof *c->brokers);
    memmove(&c->brokers[i + 1], &c->brokers[i], (c->nbrokers - i) * sizeof *c->brokers);
    c->brokers[i] = b;
    c->nbrokers++;
}

ctrl_broker_t *ctrl_broker_remove(ctrl_context_t *c, int32_t id) {
    size_t i = ctrl_broker_pos(c, id);
    if (i >= c->nbrokers || c->brokers[i]->id != id)
        return NULL;
    ctrl_broker_t *b = c->brokers[i];
    memmove(&c->brokers[i], &c->brokers[i + 1], (c->nbrokers - i - 1) * sizeof *c->brokers);
    c->nbrokers--;
    return b;
}

/* --- topics -------------------------------------------------------------------- */

static size_t ctrl_topic_pos(const ctrl_context_t *c, const char *name) {
    size_t lo = 0, hi = c->ntopics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(c->topics[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ctrl_topic_t *ctrl_topic_find(const ctrl_context_t *c, const char *name) {
    size_t i = ctrl_topic_pos(c, name);
    return i < c->ntopics && strcmp(c->topics[i]->name, name) == 0 ? c->topics[i] : NULL;
}

ctrl_topic_t *ctrl_topic_add(ctrl_context_t *c, const char *name) {
    size_t i = ctrl_topic_pos(c, name);
    if (i < c->ntopics && strcmp(c->topics[i]->name, name) == 0)
        return c->topics[i];
    ctrl_topic_t *t = mem_calloc(1, sizeof *t);
    t->name = mem_strdup(name);
    c->topics = mem_realloc(c->topics, (c->ntopics + 1) * sizeof *c->topics);
    memmove(&c->topics[i + 1], &c->topics[i], (c->ntopics - i) * sizeof *c->topics);
    c->topics[i] = t;
    c->ntopics++;
    return t;
}

void ctrl_topic_remove(ctrl_context_t *c, const char *name) {
    size_t i = ctrl_topic_pos(c, name);
    if (i >= c->ntopics || strcmp(c->topics[i]->name, name) != 0)
        return;
    ctrl_topic_free(c->topics[i]);
    memmove(&c->topics[i], &c->topics[i + 1], (c->ntopics - i - 1) * sizeof *c->topics);
    c->ntopics--;
}

void ctrl_topic_resize(ctrl_topic_t *t, int32_t n) {
    if (n <= t->nparts)
        return;
    t->parts = mem_realloc(t->parts, (size_t)n * sizeof *t->parts);
    for (int32_t i = t->nparts; i < n; i++) {
        memset(&t->parts[i], 0, sizeof t->parts[i]);
        t->parts[i].index = i;
        t->parts[i].leader = -1;
    }
    t->nparts = n;
}

void ctrl_partition_set_state(ctrl_partition_t *p, const zkdata_partition_state_t *s, int32_t zk_version) {
    p->has_state = true;
    p->leader = s->leader;
    p->leader_epoch = s->leader_epoch;
    p->controller_epoch = s->controller_epoch;
    p->zk_version = zk_version;
    ctrl_ids_set(&p->isr, s->isr, (int32_t)s->n_isr);
}

void ctrl_tps_add(ctrl_tps_t *s, ctrl_topic_t *t, ctrl_partition_t *p) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = mem_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (ctrl_tp_t){t, p};
}

void ctrl_tps_free(ctrl_tps_t *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}
