#include "group/group_coordinator.h"

#include "group/group_map.h"
#include "group/group_records.h"
#include "log/record_batch.h"
#include "net/evloop.h"
#include "proto/kerr.h"
#include "proto/kproto_apis.h"
#include "replica/partition.h"
#include "util/clock.h"
#include "util/cursor.h"
#include "util/logger.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define GC_TAG "group"
/* Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: a member that joined
 * has this long (not its session timeout) until its first join completes. */
#define GC_NEW_MEMBER_JOIN_TIMEOUT_MS 300000
/* Bytes read per step while loading a partition (the rest of the load
 * buffer is Kafka's offsets.load.buffer.size). */
#define GC_LOAD_MAX_BATCH_BYTES (64u << 20)

typedef enum gc_state {
    GC_EMPTY = 0,
    GC_PREPARING_REBALANCE,
    GC_COMPLETING_REBALANCE,
    GC_STABLE,
    GC_DEAD,
} gc_state_t;

/* DescribeGroups and ListGroups v4 print these. */
static const char *const gc_state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
                                             "Dead"};

typedef struct gc_protocol {
    char *name;
    uint8_t *metadata;
    int32_t metadata_len;
} gc_protocol_t;

typedef struct gc_group gc_group_t;

typedef struct gc_member {
    char *member_id;
    char *instance_id; /* NULL: dynamic */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    gc_protocol_t *protocols; /* in the member's preference order */
    int32_t nprotocols;
    uint8_t *assignment;
    int32_t assignment_len;
    gc_call_t *join_call; /* parked JoinGroup (owned copy), NULL: none */
    gc_call_t *sync_call; /* parked SyncGroup */
    bool is_new;          /* joined; its first join has not completed yet */
    evloop_timer_t *session_timer;
    gc_group_t *group;
} gc_member_t;

typedef struct gc_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp; /* -1: none */
} gc_offset_t;

typedef struct gc_pending_member {
    char *member_id;
    evloop_timer_t *timer;
    gc_group_t *group;
} gc_pending_member_t;

struct gc_group {
    char *id;
    int32_t partition; /* of __consumer_offsets */
    gc_state_t state;
    int64_t state_timestamp;
    int32_t generation;
    char *protocol_type; /* NULL: none yet (standalone committers) */
    char *protocol;      /* the selected protocol; NULL while none */
    char *leader_id;     /* NULL: no leader */
    gc_member_t **members;
    int32_t nmembers;
    gc_pending_member_t **pending; /* KIP-394: ids handed out, not yet joined with */
    /* loading: a group record was replayed and not deleted since */
    bool has_metadata;
    int32_t npending;
    group_map_t offsets; /* "topic\x1fpartition" -> gc_offset_t */
    evloop_timer_t *join_timer;
    /* CompletingRebalance: members that send no SyncGroup within the
     * rebalance timeout are removed (Kafka 2.8.1, KAFKA-12890) */
    evloop_timer_t *sync_timer;
    /* the initial rebalance delay is running (group.initial.rebalance.delay.ms) */
    bool initial_delay;
    int64_t initial_delay_remaining_ms;
    bool joined_during_delay;
    struct gc *gc;
};

typedef enum gc_part_state {
    GC_PART_NOT_OWNED = 0,
    GC_PART_LOADING,
    GC_PART_OWNED,
} gc_part_state_t;

typedef struct gc_part {
    gc_part_state_t state;
    int32_t leader_epoch;
    /* bumped on every role change: a load in flight for an older one stops */
    uint64_t role_seq;
} gc_part_t;

struct gc {
    gc_deps_t deps;       /* immutable */
    evloop_t *loop;       /* immutable after gc_new */
    bool started;         /* owner: the thread that starts and stops */
    _Atomic bool stopping; /* atomic: gc_submit refuses once set */
    /* owner: the loop, all below */
    group_map_t groups;
    gc_part_t *parts;
    int32_t nparts;
    int32_t offsets_partitions; /* N of abs(hash) % N; 0 until known */
    /* config, read once */
    int32_t min_session_ms, max_session_ms, initial_delay_ms, max_size, metadata_max;
    int32_t commit_timeout_ms, load_buffer;
    int64_t retention_ms;
    int32_t compression;
    int64_t retention_check_ms;
    struct gc_store *stores; /* appends waiting for their acks */
    /* group id -> its commits not yet acknowledged (int64_t): their
     * offsets are never expired meanwhile (the tombstone would land after
     * the commit in the log) */
    group_map_t commits_in_flight;
    evloop_timer_t *expiry_timer; /* KIP-211's periodic offset expiration */
};

/* --- small helpers ------------------------------------------------------------ */

static char *gc_strdup_str(kp_str_t s) { return s.len < 0 ? NULL : mem_strndup(s.ptr ? s.ptr : "", (size_t)s.len); }

static bool gc_str_eq(kp_str_t s, const char *t) {
    if (!t)
        return s.len < 0;
    return s.len >= 0 && (size_t)s.len == strlen(t) && memcmp(s.ptr, t, (size_t)s.len) == 0;
}

static char *gc_arena_str(kp_arena_t *a, kp_str_t s) {
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *out = kp_arena_alloc(a, n + 1);
    if (n)
        memcpy(out, s.ptr, n);
    return out;
}

static void *gc_arena_array(kp_arena_t *a, kp_array_t *arr, int32_t n, size_t size) {
    arr->count = n;
    arr->items = kp_arena_alloc(a, (size_t)(n > 0 ? n : 1) * size);
    return arr->items;
}

static void gc_offset_key(char *out, size_t len, const char *topic, int32_t partition) {
    snprintf(out, len, "%s\x1f%d", topic, partition);
}

static gc_call_t *gc_call_copy(const gc_call_t *call) {
    gc_call_t *c = mem_alloc(sizeof *c);
    *c = *call;
    return c;
}

/* Answers and frees a parked call. */
static void gc_answer(gc_call_t *call, const void *resp) {
    call->answer(call->ctx, resp);
    free(call);
}

/* A random UUID in Java's text form (Kafka's member ids end with one). */
static void gc_uuid(char out[37]) {
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t t = (uint64_t)clock_mono_ns();
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)(i * 37);
    }
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* --- partitions and validation ---------------------------------------------- */

static int32_t gc_offsets_partitions(gc_t *gc) {
    if (gc->offsets_partitions > 0)
        return gc->offsets_partitions;
    int32_t n = config_get_int(gc->deps.cfg, "offsets.topic.num.partitions");
    if (gc->deps.metadata) {
        const mc_snapshot_t *s = metadata_cache_acquire(gc->deps.metadata);
        const mc_topic_t *t = mc_snapshot_topic(s, GROUP_OFFSETS_TOPIC, strlen(GROUP_OFFSETS_TOPIC));
        if (t && t->npartitions > 0)
            gc->offsets_partitions = n = t->npartitions; /* never changes once the topic exists */
        metadata_cache_release(gc->deps.metadata, s);
    }
    return n;
}

static int32_t gc_partition_of(gc_t *gc, const char *group_id) {
    return group_partition_for(group_id, strlen(group_id), gc_offsets_partitions(gc));
}

static gc_part_t *gc_part(gc_t *gc, int32_t partition) {
    if (partition < 0)
        return NULL;
    if (partition >= gc->nparts) {
        int32_t n = partition + 1;
        gc->parts = mem_realloc(gc->parts, (size_t)n * sizeof *gc->parts);
        memset(gc->parts + gc->nparts, 0, (size_t)(n - gc->nparts) * sizeof *gc->parts);
        gc->nparts = n;
    }
    return &gc->parts[partition];
}

/* Kafka's validateGroupStatus. */
static kerr_t gc_validate(gc_t *gc, const char *group_id, bool empty_id_allowed) {
    if (!group_id || (!group_id[0] && !empty_id_allowed))
        return KERR_INVALID_GROUP_ID;
    if (atomic_load(&gc->stopping))
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (!gc->deps.replicas)
        return KERR_NONE;
    gc_part_t *p = gc_part(gc, gc_partition_of(gc, group_id));
    if (p->state == GC_PART_LOADING)
        return KERR_COORDINATOR_LOAD_IN_PROGRESS;
    return p->state == GC_PART_OWNED ? KERR_NONE : KERR_NOT_COORDINATOR;
}

static bool gc_topic_exists(gc_t *gc, kp_str_t topic, int32_t partition) {
    if (!gc->deps.metadata)
        return true;
    const mc_snapshot_t *s = metadata_cache_acquire(gc->deps.metadata);
    const mc_topic_t *t = topic.len > 0 ? mc_snapshot_topic(s, topic.ptr, (size_t)topic.len) : NULL;
    bool ok = t && partition >= 0 && partition < t->npartitions;
    metadata_cache_release(gc->deps.metadata, s);
    return ok;
}

/* --- groups and members ------------------------------------------------------ */

static void gc_set_state(gc_group_t *g, gc_state_t st) {
    g->state = st;
    g->state_timestamp = clock_wall_ms();
}

static gc_group_t *gc_group_get(gc_t *gc, const char *id) { return group_map_get(&gc->groups, id); }

static gc_group_t *gc_group_add(gc_t *gc, const char *id) {
    gc_group_t *g = mem_calloc(1, sizeof *g);
    g->id = mem_strdup(id);
    g->partition = gc_partition_of(gc, id);
    g->gc = gc;
    group_map_init(&g->offsets);
    gc_set_state(g, GC_EMPTY);
    group_map_put(&gc->groups, id, g);
    return g;
}

static void gc_protocols_free(gc_member_t *m) {
    for (int32_t i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = NULL;
    m->nprotocols = 0;
}

static void gc_member_free(gc_member_t *m) {
    if (m->session_timer)
        evloop_timer_free(m->session_timer);
    gc_protocols_free(m);
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

static void gc_offset_free(void *v) {
    gc_offset_t *o = v;
    free(o->topic);
    free(o->metadata);
    free(o);
}

static void gc_pending_free(gc_pending_member_t *pm) {
    evloop_timer_free(pm->timer);
    free(pm->member_id);
    free(pm);
}

/* Frees a group already out of the map; its parked calls must be answered. */
static void gc_group_free(gc_group_t *g) {
    for (int32_t i = 0; i < g->nmembers; i++)
        gc_member_free(g->members[i]);
    free(g->members);
    for (int32_t i = 0; i < g->npending; i++)
        gc_pending_free(g->pending[i]);
    free(g->pending);
    if (g->join_timer)
        evloop_timer_free(g->join_timer);
    if (g->sync_timer)
        evloop_timer_free(g->sync_timer);
    group_map_free(&g->offsets, gc_offset_free);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader_id);
    free(g);
}

static gc_member_t *gc_member_get(gc_group_t *g, const char *member_id) {
    for (int32_t i = 0; i < g->nmembers; i++)
        if (strcmp(g->members[i]->member_id, member_id) == 0)
            return g->members[i];
    return NULL;
}

static gc_member_t *gc_member_by_instance(gc_group_t *g, const char *instance_id) {
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->instance_id && strcmp(g->members[i]->instance_id, instance_id) == 0)
            return g->members[i];
    return NULL;
}

static int32_t gc_pending_index(gc_group_t *g, const char *member_id) {
    for (int32_t i = 0; i < g->npending; i++)
        if (strcmp(g->pending[i]->member_id, member_id) == 0)
            return i;
    return -1;
}

static void gc_pending_remove(gc_group_t *g, int32_t i) {
    gc_pending_free(g->pending[i]);
    g->pending[i] = g->pending[--g->npending];
}

static const gc_protocol_t *gc_member_protocol(const gc_member_t *m, const char *name) {
    for (int32_t i = 0; name && i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return &m->protocols[i];
    return NULL;
}

static void gc_member_set_protocols(gc_member_t *m, const kp_array_t *protocols) {
    gc_protocols_free(m);
    const kp_join_group_req_protocol_t *ps = protocols->items;
    int32_t n = protocols->count > 0 ? protocols->count : 0;
    m->protocols = mem_calloc((size_t)(n ? n : 1), sizeof *m->protocols);
    for (int32_t i = 0; i < n; i++) {
        m->protocols[i].name = gc_strdup_str(ps[i].name.len < 0 ? kp_str("") : ps[i].name);
        int32_t len = ps[i].metadata.len > 0 ? ps[i].metadata.len : 0;
        m->protocols[i].metadata = mem_alloc((size_t)(len ? len : 1));
        if (len)
            memcpy(m->protocols[i].metadata, ps[i].metadata.ptr, (size_t)len);
        m->protocols[i].metadata_len = len;
    }
    m->nprotocols = n;
}

static bool gc_member_same_protocols(const gc_member_t *m, const kp_array_t *protocols) {
    const kp_join_group_req_protocol_t *ps = protocols->items;
    if (protocols->count != m->nprotocols)
        return false;
    for (int32_t i = 0; i < m->nprotocols; i++) {
        int32_t len = ps[i].metadata.len > 0 ? ps[i].metadata.len : 0;
        if (!gc_str_eq(ps[i].name, m->protocols[i].name) || len != m->protocols[i].metadata_len ||
            (len && memcmp(ps[i].metadata.ptr, m->protocols[i].metadata, (size_t)len) != 0))
            return false;
    }
    return true;
}

/* Whether every current member supports one of protocols (Kafka's
 * supportsProtocols), or for an Empty group: any protocol at all. */
static bool gc_supports_protocols(const gc_group_t *g, kp_str_t protocol_type, const kp_array_t *protocols) {
    if (protocols->count <= 0 || protocol_type.len <= 0)
        return false;
    if (g->nmembers == 0)
        return g->state == GC_EMPTY || !g->protocol_type || gc_str_eq(protocol_type, g->protocol_type);
    if (!g->protocol_type || !gc_str_eq(protocol_type, g->protocol_type))
        return false;
    const kp_join_group_req_protocol_t *ps = protocols->items;
    for (int32_t i = 0; i < protocols->count; i++) {
        bool all = true;
        for (int32_t k = 0; k < g->nmembers && all; k++) {
            all = false;
            for (int32_t j = 0; j < g->members[k]->nprotocols; j++)
                if (gc_str_eq(ps[i].name, g->members[k]->protocols[j].name))
                    all = true;
        }
        if (all)
            return true;
    }
    return false;
}

/* The records of one append and the buffers their keys and values live
 * in (the caller's, freed with gc_batch_free once gc_store returned). */
typedef struct gc_batch {
    record_input_t *records;
    buf_t *bufs; /* two per record: key, value */
    int n;
} gc_batch_t;

static void gc_batch_init(gc_batch_t *b, int capacity) {
    b->records = mem_calloc((size_t)(capacity > 0 ? capacity : 1), sizeof *b->records);
    b->bufs = mem_calloc((size_t)(capacity > 0 ? capacity : 1) * 2, sizeof *b->bufs);
    b->n = 0;
}

static void gc_batch_free(gc_batch_t *b) {
    for (int i = 0; i < 2 * b->n; i++)
        buf_free(&b->bufs[i]);
    free(b->bufs);
    free(b->records);
}

/* An offset record for (group, topic, partition); v NULL: a tombstone. */
static void gc_batch_add_offset(gc_batch_t *b, kp_str_t group, kp_str_t topic, int32_t partition,
                                const group_rec_offset_t *v, int64_t now) {
    buf_t *key = &b->bufs[2 * b->n], *value = key + 1;
    record_input_t *rec = &b->records[b->n++];
    group_rec_offset_key(key, group, topic, partition);
    *rec = (record_input_t){.key = key->data, .key_len = (int32_t)key->len, .value_len = -1, .timestamp = now};
    if (v) {
        group_rec_offset_value(value, v);
        rec->value = value->data;
        rec->value_len = (int32_t)value->len;
    }
}

/* --- storing: appends to __consumer_offsets, answered once acks=all holds ---- */

typedef void (*gc_store_done_fn)(gc_t *gc, void *arg, kerr_t err);

/* One append waiting for the offsets partition's in-sync replicas. The
 * partition wakes it from whichever thread moved the high watermark (under
 * the partition's lock: the wake only posts a re-check here); freed when
 * the last reference goes (one while unfinished, one per queued re-check). */
typedef struct gc_store {
    partition_waiter_t waiter; /* first: the partition's waiter is the store */
    gc_t *gc;
    partition_t *partition;
    int64_t required_offset;
    int32_t broker_min_isr;
    gc_store_done_fn done;
    void *arg;
    evloop_timer_t *timer; /* owner: the loop */
    atomic_int refs;
    bool finished;         /* owner: the loop */
    struct gc_store *prev, *next; /* gc.stores; owner: the loop */
} gc_store_t;

static void gc_store_unref(gc_store_t *st) {
    if (atomic_fetch_sub(&st->refs, 1) == 1)
        free(st);
}

static void gc_store_finish(gc_store_t *st, kerr_t err) {
    if (st->finished)
        return;
    st->finished = true;
    if (st->prev)
        st->prev->next = st->next;
    else
        st->gc->stores = st->next;
    if (st->next)
        st->next->prev = st->prev;
    partition_unwatch(st->partition, &st->waiter);
    evloop_timer_free(st->timer);
    st->timer = NULL;
    st->done(st->gc, st->arg, err);
    gc_store_unref(st);
}

static void gc_store_recheck(void *arg) {
    gc_store_t *st = arg;
    kerr_t err = KERR_NONE;
    if (!st->finished && partition_check_acks(st->partition, st->required_offset, st->broker_min_isr, &err))
        gc_store_finish(st, err);
    gc_store_unref(st);
}

static void gc_store_wake(partition_waiter_t *w) {
    gc_store_t *st = (gc_store_t *)w;
    atomic_fetch_add(&st->refs, 1);
    if (evloop_run(st->gc->loop, gc_store_recheck, st) != 0)
        atomic_fetch_sub(&st->refs, 1); /* the loop is ending: the timer's end answers */
}

static void gc_store_timeout(void *arg) { gc_store_finish(arg, KERR_REQUEST_TIMED_OUT); }

/* Appends records (one batch) to partition `partition` of the offsets topic
 * as its leader, acks=all: done(err) runs on the loop once the in-sync
 * replicas have it, or with the append's error, or REQUEST_TIMED_OUT after
 * offsets.commit.timeout.ms. Without a replica manager (unit tests) done
 * runs at once with NONE. done may run before gc_store returns. */
static void gc_store(gc_t *gc, int32_t partition, const gc_batch_t *records, gc_store_done_fn done, void *arg) {
    if (!gc->deps.replicas) {
        done(gc, arg, KERR_NONE);
        return;
    }
    partition_t *p = replica_manager_get(gc->deps.replicas, GROUP_OFFSETS_TOPIC, partition);
    if (!p) {
        done(gc, arg, KERR_UNKNOWN_TOPIC_OR_PARTITION);
        return;
    }
    int64_t now = clock_wall_ms();
    buf_t batch;
    buf_init(&batch);
    batch_build_opts_t opts = {.compression = (compression_t)gc->compression, .producer_id = -1,
                               .producer_epoch = -1, .base_sequence = -1, .partition_leader_epoch = -1};
    kerr_t err = record_batch_build(&batch, &opts, records->records, records->n);
    int32_t broker_min_isr = config_get_int(gc->deps.cfg, "min.insync.replicas");
    int32_t min_isr = partition_min_isr(p, broker_min_isr);
    partition_append_result_t res;
    if (err == KERR_NONE)
        err = partition_append(p, batch.data, batch.len, min_isr, now, &res);
    buf_free(&batch);
    if (err != KERR_NONE) {
        done(gc, arg, err);
        return;
    }
    gc_store_t *st = mem_calloc(1, sizeof *st);
    st->waiter.wake = gc_store_wake;
    st->gc = gc;
    st->partition = p;
    st->required_offset = res.last_offset + 1;
    st->broker_min_isr = broker_min_isr;
    st->done = done;
    st->arg = arg;
    atomic_init(&st->refs, 1);
    st->next = gc->stores;
    if (st->next)
        st->next->prev = st;
    gc->stores = st;
    st->timer = evloop_timer_new(gc->loop, gc_store_timeout, st);
    partition_watch(p, &st->waiter);
    evloop_timer_arm(st->timer, gc->commit_timeout_ms);
    /* the high watermark may have moved before the watch (one replica) */
    atomic_fetch_add(&st->refs, 1);
    gc_store_recheck(st);
}

/* Kafka's error mapping for a failed offset commit (§7) ... */
static kerr_t gc_commit_error(kerr_t e) {
    switch (e) {
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case KERR_NOT_ENOUGH_REPLICAS:
    case KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return KERR_COORDINATOR_NOT_AVAILABLE;
    case KERR_NOT_LEADER_OR_FOLLOWER:
    case KERR_KAFKA_STORAGE_ERROR:
        return KERR_NOT_COORDINATOR;
    case KERR_MESSAGE_TOO_LARGE:
    case KERR_RECORD_LIST_TOO_LARGE:
    case KERR_INVALID_FETCH_SIZE:
        return KERR_INVALID_COMMIT_OFFSET_SIZE;
    default:
        return e;
    }
}

/* ... and for a group metadata record (§8). */
static kerr_t gc_group_store_error(kerr_t e) {
    switch (e) {
    case KERR_REQUEST_TIMED_OUT:
        return KERR_REBALANCE_IN_PROGRESS;
    case KERR_MESSAGE_TOO_LARGE:
    case KERR_RECORD_LIST_TOO_LARGE:
    case KERR_INVALID_FETCH_SIZE:
        return KERR_UNKNOWN_SERVER_ERROR;
    default:
        return e == KERR_INVALID_COMMIT_OFFSET_SIZE ? e : gc_commit_error(e);
    }
}

/* The group's metadata record, value v3 (§9.2); null_value: a tombstone.
 * key and value are the caller's buffers. */
static void gc_group_record(const gc_group_t *g, bool null_value, buf_t *key, buf_t *value, record_input_t *rec) {
    group_rec_group_key(key, kp_str(g->id));
    *rec = (record_input_t){.key = key->data, .key_len = (int32_t)key->len, .value_len = -1,
                            .timestamp = clock_wall_ms()};
    if (null_value)
        return;
    group_rec_member_t *ms = mem_calloc((size_t)(g->nmembers ? g->nmembers : 1), sizeof *ms);
    for (int32_t i = 0; i < g->nmembers; i++) {
        const gc_member_t *m = g->members[i];
        const gc_protocol_t *proto = gc_member_protocol(m, g->protocol);
        ms[i] = (group_rec_member_t){
            .member_id = kp_str(m->member_id),
            .group_instance_id = kp_str(m->instance_id),
            .client_id = kp_str(m->client_id),
            .client_host = kp_str(m->client_host),
            .rebalance_timeout_ms = m->rebalance_timeout_ms,
            .session_timeout_ms = m->session_timeout_ms,
            .subscription = {proto ? proto->metadata : NULL, proto ? proto->metadata_len : 0},
            .assignment = {m->assignment, m->assignment_len},
        };
    }
    group_rec_group_t v = {
        .protocol_type = kp_str(g->protocol_type ? g->protocol_type : ""),
        .generation = g->generation,
        .protocol = kp_str(g->protocol),
        .leader = kp_str(g->leader_id),
        .current_state_timestamp = g->state_timestamp,
        .members = ms,
        .nmembers = g->nmembers,
    };
    group_rec_group_value(value, &v);
    free(ms);
    rec->value = value->data;
    rec->value_len = (int32_t)value->len;
}

/* Writes the group's metadata record; done(err) as gc_store. */
static void gc_store_group(gc_group_t *g, bool tombstone, gc_store_done_fn done, void *arg) {
    gc_batch_t batch;
    gc_batch_init(&batch, 1);
    gc_group_record(g, tombstone, &batch.bufs[0], &batch.bufs[1], &batch.records[0]);
    batch.n = 1;
    gc_store(g->gc, g->partition, &batch, done, arg);
    gc_batch_free(&batch);
}

/* --- the join ------------------------------------------------------------------ */

static void gc_prepare_rebalance(gc_group_t *g);
static void gc_try_complete_join(gc_group_t *g);
static void gc_complete_join(gc_group_t *g);

static void gc_join_error(gc_call_t *call, kerr_t err, kp_str_t member_id) {
    kp_join_group_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.error_code = (int16_t)err;
    resp.generation_id = -1;
    resp.protocol_type = KP_STR_NULL;
    resp.protocol_name = call->version >= 7 ? KP_STR_NULL : kp_str("");
    resp.leader = kp_str("");
    resp.member_id = member_id.len < 0 ? kp_str("") : member_id;
    gc_answer(call, &resp);
}

/* Answers m's parked JoinGroup with the group's current generation; the
 * leader gets every member's metadata for the chosen protocol. */
static void gc_join_answer(gc_group_t *g, gc_member_t *m) {
    gc_call_t *call = m->join_call;
    m->join_call = NULL;
    kp_join_group_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.generation_id = g->generation;
    resp.protocol_type = kp_str(g->protocol_type);
    resp.protocol_name = kp_str(g->protocol ? g->protocol : (call->version >= 7 ? NULL : ""));
    resp.leader = kp_str(g->leader_id ? g->leader_id : "");
    resp.member_id = kp_str(m->member_id);
    if (g->leader_id && strcmp(g->leader_id, m->member_id) == 0) {
        kp_join_group_resp_member_t *ms = gc_arena_array(call->arena, &resp.members, g->nmembers, sizeof *ms);
        for (int32_t i = 0; i < g->nmembers; i++) {
            const gc_protocol_t *proto = gc_member_protocol(g->members[i], g->protocol);
            ms[i].member_id = kp_str(g->members[i]->member_id);
            ms[i].group_instance_id = kp_str(g->members[i]->instance_id);
            ms[i].metadata = (kp_bytes_t){proto ? proto->metadata : NULL, proto ? proto->metadata_len : 0};
        }
    }
    gc_answer(call, &resp);
}

static void gc_member_expired(void *arg);

/* A heartbeat, join, sync or commit from m: its session starts again (a
 * member whose first join is still running has the new-member deadline). */
static void gc_member_touch(gc_member_t *m) {
    if (!m->session_timer)
        m->session_timer = evloop_timer_new(m->group->gc->loop, gc_member_expired, m);
    evloop_timer_arm(m->session_timer, m->is_new ? GC_NEW_MEMBER_JOIN_TIMEOUT_MS : m->session_timeout_ms);
}

static int32_t gc_max_rebalance_timeout(const gc_group_t *g) {
    int32_t t = 0;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_timeout_ms > t)
            t = g->members[i]->rebalance_timeout_ms;
    return t;
}

/* Answers m's parked SyncGroup; assignment NULL: the error alone. */
static void gc_sync_answer(gc_group_t *g, gc_member_t *m, kerr_t err) {
    gc_call_t *call = m->sync_call;
    m->sync_call = NULL;
    kp_sync_group_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.error_code = (int16_t)err;
    resp.protocol_type = err == KERR_NONE ? kp_str(g->protocol_type) : KP_STR_NULL;
    resp.protocol_name = err == KERR_NONE ? kp_str(g->protocol) : KP_STR_NULL;
    resp.assignment = err == KERR_NONE ? (kp_bytes_t){m->assignment, m->assignment_len} : (kp_bytes_t){NULL, 0};
    gc_answer(call, &resp);
}

/* Removes m from g: its parked requests get UNKNOWN_MEMBER_ID; a departed
 * leader hands over to another member. Does not rebalance. */
static void gc_member_remove(gc_group_t *g, gc_member_t *m) {
    if (m->join_call)
        gc_join_error(m->join_call, KERR_UNKNOWN_MEMBER_ID, kp_str(m->member_id)), m->join_call = NULL;
    if (m->sync_call)
        gc_sync_answer(g, m, KERR_UNKNOWN_MEMBER_ID);
    for (int32_t i = 0; i < g->nmembers; i++)
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1], (size_t)(g->nmembers - i - 1) * sizeof *g->members);
            g->nmembers--;
            break;
        }
    if (g->leader_id && strcmp(g->leader_id, m->member_id) == 0) {
        free(g->leader_id);
        g->leader_id = g->nmembers ? mem_strdup(g->members[0]->member_id) : NULL;
    }
    gc_member_free(m);
}

/* A member left or failed: what it means for the group (Kafka's
 * removeMemberAndUpdateGroup). */
static void gc_member_gone(gc_group_t *g, gc_member_t *m) {
    gc_member_remove(g, m);
    if (g->state == GC_STABLE || g->state == GC_COMPLETING_REBALANCE)
        gc_prepare_rebalance(g);
    else if (g->state == GC_PREPARING_REBALANCE)
        gc_try_complete_join(g);
}

static void gc_member_expired(void *arg) {
    gc_member_t *m = arg;
    gc_group_t *g = m->group;
    /* Kafka's shouldKeepAlive: a member waiting in JoinGroup (past its
     * first join) or in SyncGroup is alive whatever its heartbeats */
    if ((m->join_call && !m->is_new) || m->sync_call) {
        gc_member_touch(m);
        return;
    }
    log_info(GC_TAG, "group %s: member %s's session expired", g->id, m->member_id);
    gc_member_gone(g, m);
}

static void gc_join_timer_fired(void *arg) {
    gc_group_t *g = arg;
    if (g->initial_delay) {
        int64_t delay = g->gc->initial_delay_ms;
        if (g->joined_during_delay && g->generation == 0 && g->initial_delay_remaining_ms > 0) {
            /* more arrived: wait once more, within the members' rebalance timeout */
            g->joined_during_delay = false;
            if (delay > g->initial_delay_remaining_ms)
                delay = g->initial_delay_remaining_ms;
            g->initial_delay_remaining_ms -= delay;
            evloop_timer_arm(g->join_timer, delay);
            return;
        }
        g->initial_delay = false;
    }
    gc_complete_join(g);
}

static void gc_prepare_rebalance(gc_group_t *g) {
    if (g->state == GC_COMPLETING_REBALANCE) {
        /* the assignment of this generation will never come: members rejoin */
        for (int32_t i = 0; i < g->nmembers; i++) {
            gc_member_t *m = g->members[i];
            free(m->assignment);
            m->assignment = NULL;
            m->assignment_len = 0;
            if (m->sync_call)
                gc_sync_answer(g, m, KERR_REBALANCE_IN_PROGRESS);
        }
    }
    if (g->sync_timer)
        evloop_timer_cancel(g->sync_timer);
    if (!g->join_timer)
        g->join_timer = evloop_timer_new(g->gc->loop, gc_join_timer_fired, g);
    int32_t rebalance_timeout = gc_max_rebalance_timeout(g);
    if (g->state == GC_EMPTY && g->gc->initial_delay_ms > 0) {
        int64_t delay = g->gc->initial_delay_ms < rebalance_timeout ? g->gc->initial_delay_ms : rebalance_timeout;
        g->initial_delay = true;
        g->joined_during_delay = false;
        g->initial_delay_remaining_ms = rebalance_timeout - delay > 0 ? rebalance_timeout - delay : 0;
        evloop_timer_arm(g->join_timer, delay);
    } else {
        g->initial_delay = false;
        evloop_timer_arm(g->join_timer, rebalance_timeout);
    }
    log_info(GC_TAG, "group %s: preparing to rebalance (generation %d, %d members)", g->id, g->generation,
             g->nmembers);
    gc_set_state(g, GC_PREPARING_REBALANCE);
    gc_try_complete_join(g);
}

static void gc_try_complete_join(gc_group_t *g) {
    if (g->state != GC_PREPARING_REBALANCE || g->initial_delay || g->npending > 0)
        return;
    for (int32_t i = 0; i < g->nmembers; i++)
        if (!g->members[i]->join_call)
            return;
    gc_complete_join(g);
}

/* Kafka's selectProtocol: of the protocols every member supports, the one
 * most members list first among those. */
static const char *gc_select_protocol(const gc_group_t *g) {
    const gc_member_t *first = g->members[0];
    const char *best = NULL;
    int32_t best_votes = -1;
    for (int32_t c = 0; c < first->nprotocols; c++) {
        const char *cand = first->protocols[c].name;
        bool all = true;
        for (int32_t i = 1; i < g->nmembers && all; i++)
            all = gc_member_protocol(g->members[i], cand) != NULL;
        if (!all)
            continue;
        int32_t votes = 0;
        for (int32_t i = 0; i < g->nmembers; i++) {
            const gc_member_t *m = g->members[i];
            for (int32_t k = 0; k < m->nprotocols; k++) {
                bool candidate = true;
                for (int32_t j = 0; j < g->nmembers && candidate; j++)
                    candidate = gc_member_protocol(g->members[j], m->protocols[k].name) != NULL;
                if (candidate) {
                    votes += strcmp(m->protocols[k].name, cand) == 0;
                    break;
                }
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

static void gc_store_logged(gc_t *gc, void *arg, kerr_t err) {
    (void)gc;
    char *group_id = arg;
    if (err != KERR_NONE)
        log_warn(GC_TAG, "group %s: cannot store its metadata: %s", group_id, kerr_name(err));
    free(group_id);
}

/* The rebalance timeout ran out while members still owed their SyncGroup:
 * those are removed and the group rebalances (KAFKA-12890). */
static void gc_sync_timer_fired(void *arg) {
    gc_group_t *g = arg;
    if (g->state != GC_COMPLETING_REBALANCE)
        return;
    bool removed = false;
    for (int32_t i = g->nmembers - 1; i >= 0; i--) {
        gc_member_t *m = g->members[i];
        if (!m->sync_call) {
            log_info(GC_TAG, "group %s: member %s sent no SyncGroup in time", g->id, m->member_id);
            gc_member_remove(g, m);
            removed = true;
        }
    }
    if (removed)
        gc_prepare_rebalance(g);
}

static void gc_complete_join(gc_group_t *g) {
    if (g->state != GC_PREPARING_REBALANCE)
        return;
    evloop_timer_cancel(g->join_timer);
    g->initial_delay = false;
    /* dynamic members that did not rejoin in time are out */
    for (int32_t i = g->nmembers - 1; i >= 0; i--) {
        gc_member_t *m = g->members[i];
        if (!m->join_call && !m->instance_id) {
            log_info(GC_TAG, "group %s: member %s did not rejoin", g->id, m->member_id);
            gc_member_remove(g, m);
        }
    }
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (g->nmembers == 0) {
        gc_set_state(g, GC_EMPTY);
        log_info(GC_TAG, "group %s: generation %d is empty", g->id, g->generation);
        gc_store_group(g, false, gc_store_logged, mem_strdup(g->id));
        return;
    }
    gc_member_t *leader = g->leader_id ? gc_member_get(g, g->leader_id) : NULL;
    if (!leader || !leader->join_call) {
        for (int32_t i = 0; i < g->nmembers; i++)
            if (g->members[i]->join_call) {
                free(g->leader_id);
                g->leader_id = mem_strdup(g->members[i]->member_id);
                break;
            }
    }
    const char *proto = gc_select_protocol(g);
    g->protocol = proto ? mem_strdup(proto) : NULL;
    gc_set_state(g, GC_COMPLETING_REBALANCE);
    if (!g->sync_timer)
        g->sync_timer = evloop_timer_new(g->gc->loop, gc_sync_timer_fired, g);
    evloop_timer_arm(g->sync_timer, gc_max_rebalance_timeout(g));
    log_info(GC_TAG, "group %s: generation %d, protocol %s, leader %s, %d members", g->id, g->generation,
             g->protocol ? g->protocol : "-", g->leader_id ? g->leader_id : "-", g->nmembers);
    for (int32_t i = 0; i < g->nmembers; i++) {
        gc_member_t *m = g->members[i];
        if (!m->join_call)
            continue;
        m->is_new = false;
        gc_join_answer(g, m);
        gc_member_touch(m);
    }
}

static gc_member_t *gc_member_add(gc_group_t *g, const char *member_id, gc_call_t *call) {
    const kp_join_group_req_t *rq = call->body;
    gc_member_t *m = mem_calloc(1, sizeof *m);
    m->member_id = mem_strdup(member_id);
    m->instance_id = gc_strdup_str(rq->group_instance_id);
    m->client_id = mem_strdup(call->client_id);
    m->client_host = mem_strdup(call->client_host);
    m->session_timeout_ms = rq->session_timeout_ms;
    m->rebalance_timeout_ms = call->version >= 1 ? rq->rebalance_timeout_ms : rq->session_timeout_ms;
    gc_member_set_protocols(m, &rq->protocols);
    m->is_new = true;
    m->group = g;
    if (g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = gc_strdup_str(rq->protocol_type);
    }
    g->members = mem_realloc(g->members, (size_t)(g->nmembers + 1) * sizeof *g->members);
    g->members[g->nmembers++] = m;
    if (!g->leader_id)
        g->leader_id = mem_strdup(member_id);
    m->join_call = call;
    gc_member_touch(m);
    if (g->initial_delay)
        g->joined_during_delay = true;
    return m;
}

/* A known member's JoinGroup (Kafka's updateMemberAndRebalance and the
 * per-state switch of doJoinGroup). */
static void gc_join_known(gc_group_t *g, gc_member_t *m, gc_call_t *call) {
    const kp_join_group_req_t *rq = call->body;
    bool same = gc_member_same_protocols(m, &rq->protocols);
    bool is_leader = g->leader_id && strcmp(g->leader_id, m->member_id) == 0;
    gc_member_touch(m);
    if ((g->state == GC_COMPLETING_REBALANCE && same) || (g->state == GC_STABLE && same && !is_leader)) {
        m->join_call = call;
        gc_join_answer(g, m);
        return;
    }
    if (g->state != GC_PREPARING_REBALANCE && g->state != GC_COMPLETING_REBALANCE && g->state != GC_STABLE) {
        gc_join_error(call, KERR_UNKNOWN_MEMBER_ID, kp_str(m->member_id));
        return;
    }
    gc_member_set_protocols(m, &rq->protocols);
    m->session_timeout_ms = rq->session_timeout_ms;
    m->rebalance_timeout_ms = call->version >= 1 ? rq->rebalance_timeout_ms : rq->session_timeout_ms;
    if (m->join_call) /* a second join while the first waits: the newer one counts */
        gc_join_error(m->join_call, KERR_REBALANCE_IN_PROGRESS, kp_str(m->member_id));
    m->join_call = call;
    if (g->state == GC_PREPARING_REBALANCE)
        gc_try_complete_join(g);
    else
        gc_prepare_rebalance(g);
}

static void gc_pending_expired(void *arg) {
    gc_pending_member_t *pm = arg;
    gc_group_t *g = pm->group;
    int32_t i = gc_pending_index(g, pm->member_id);
    if (i >= 0) {
        gc_pending_remove(g, i);
        gc_try_complete_join(g);
    }
}

static void gc_handle_join(gc_t *gc, gc_call_t *call) {
    const kp_join_group_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    char *member_id = gc_arena_str(call->arena, rq->member_id);
    kerr_t err = rq->group_id.len < 0 ? KERR_INVALID_GROUP_ID : gc_validate(gc, group_id, false);
    if (err == KERR_NONE &&
        (rq->session_timeout_ms < gc->min_session_ms || rq->session_timeout_ms > gc->max_session_ms))
        err = KERR_INVALID_SESSION_TIMEOUT;
    gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, group_id) : NULL;
    if (err == KERR_NONE && !g) {
        if (member_id[0])
            err = KERR_UNKNOWN_MEMBER_ID;
        else
            g = gc_group_add(gc, group_id);
    }
    if (err == KERR_NONE && !gc_supports_protocols(g, rq->protocol_type, &rq->protocols))
        err = KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err != KERR_NONE) {
        gc_join_error(call, err, rq->member_id);
        return;
    }
    bool is_static = rq->group_instance_id.len >= 0 && call->version >= 5;
    char *instance_id = is_static ? gc_arena_str(call->arena, rq->group_instance_id) : NULL;
    if (!member_id[0]) {
        gc_member_t *old = is_static ? gc_member_by_instance(g, instance_id) : NULL;
        char uuid[37], id[600];
        gc_uuid(uuid);
        snprintf(id, sizeof id, "%s-%s", is_static ? instance_id : call->client_id, uuid);
        if (old) {
            /* KIP-345: a static member back under a new id takes its old
             * place; the old id is fenced from now on */
            log_info(GC_TAG, "group %s: static member %s rejoins as %s", g->id, old->member_id, id);
            if (old->join_call)
                gc_join_error(old->join_call, KERR_FENCED_INSTANCE_ID, kp_str(old->member_id)), old->join_call = NULL;
            if (old->sync_call)
                gc_sync_answer(g, old, KERR_FENCED_INSTANCE_ID);
            if (g->leader_id && strcmp(g->leader_id, old->member_id) == 0) {
                free(g->leader_id);
                g->leader_id = mem_strdup(id);
            }
            free(old->member_id);
            old->member_id = mem_strdup(id);
            gc_join_known(g, old, call);
            return;
        }
        if (g->nmembers + g->npending >= gc->max_size) {
            gc_join_error(call, KERR_GROUP_MAX_SIZE_REACHED, rq->member_id);
            return;
        }
        if (call->version >= 4 && !is_static) {
            /* KIP-394: the client must come back with this id */
            gc_pending_member_t *pm = mem_calloc(1, sizeof *pm);
            pm->member_id = mem_strdup(id);
            pm->group = g;
            pm->timer = evloop_timer_new(gc->loop, gc_pending_expired, pm);
            evloop_timer_arm(pm->timer, rq->session_timeout_ms);
            g->pending = mem_realloc(g->pending, (size_t)(g->npending + 1) * sizeof *g->pending);
            g->pending[g->npending++] = pm;
            gc_join_error(call, KERR_MEMBER_ID_REQUIRED, kp_str(id));
            return;
        }
        gc_member_add(g, id, call);
        if (g->state == GC_PREPARING_REBALANCE)
            gc_try_complete_join(g);
        else
            gc_prepare_rebalance(g);
        return;
    }
    int32_t pi = gc_pending_index(g, member_id);
    if (pi >= 0) {
        gc_pending_remove(g, pi);
        gc_member_add(g, member_id, call);
        if (g->state == GC_PREPARING_REBALANCE)
            gc_try_complete_join(g);
        else
            gc_prepare_rebalance(g);
        return;
    }
    gc_member_t *m = gc_member_get(g, member_id);
    if (!m) {
        gc_join_error(call, KERR_UNKNOWN_MEMBER_ID, rq->member_id);
        return;
    }
    if (is_static && (!m->instance_id || strcmp(m->instance_id, instance_id) != 0)) {
        gc_join_error(call, KERR_FENCED_INSTANCE_ID, rq->member_id);
        return;
    }
    gc_join_known(g, m, call);
}

/* --- SyncGroup, Heartbeat, LeaveGroup ---------------------------------------------- */

static void gc_sync_error(gc_call_t *call, kerr_t err) {
    kp_sync_group_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.error_code = (int16_t)err;
    resp.protocol_type = KP_STR_NULL;
    resp.protocol_name = KP_STR_NULL;
    resp.assignment = (kp_bytes_t){NULL, 0};
    gc_answer(call, &resp);
}

typedef struct gc_sync_store {
    char *group_id;
    int32_t generation;
} gc_sync_store_t;

static void gc_sync_stored(gc_t *gc, void *arg, kerr_t err) {
    gc_sync_store_t *ss = arg;
    gc_group_t *g = gc_group_get(gc, ss->group_id);
    if (g && g->generation == ss->generation && g->state == GC_COMPLETING_REBALANCE) {
        if (err == KERR_NONE) {
            evloop_timer_cancel(g->sync_timer);
            gc_set_state(g, GC_STABLE);
            log_info(GC_TAG, "group %s: generation %d is stable", g->id, g->generation);
        }
        kerr_t mapped = err == KERR_NONE ? KERR_NONE : gc_group_store_error(err);
        for (int32_t i = 0; i < g->nmembers; i++)
            if (g->members[i]->sync_call)
                gc_sync_answer(g, g->members[i], mapped);
        if (err != KERR_NONE) {
            log_warn(GC_TAG, "group %s: cannot store generation %d: %s", g->id, g->generation, kerr_name(err));
            gc_prepare_rebalance(g);
        }
    }
    free(ss->group_id);
    free(ss);
}

/* The checks before the state switch of Sync, Heartbeat and Commit. */
static kerr_t gc_member_check(gc_group_t *g, gc_member_t **out, kp_str_t member_id, kp_str_t instance_id,
                              int32_t generation, kp_arena_t *arena) {
    gc_member_t *m = g ? gc_member_get(g, gc_arena_str(arena, member_id)) : NULL;
    *out = m;
    if (!m) {
        if (g && instance_id.len >= 0 && gc_member_by_instance(g, gc_arena_str(arena, instance_id)))
            return KERR_FENCED_INSTANCE_ID;
        return KERR_UNKNOWN_MEMBER_ID;
    }
    if (instance_id.len >= 0 && !gc_str_eq(instance_id, m->instance_id))
        return KERR_FENCED_INSTANCE_ID;
    return generation != g->generation ? KERR_ILLEGAL_GENERATION : KERR_NONE;
}

static void gc_handle_sync(gc_t *gc, gc_call_t *call) {
    const kp_sync_group_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    kerr_t err = gc_validate(gc, group_id, false);
    if (err == KERR_COORDINATOR_LOAD_IN_PROGRESS)
        err = KERR_REBALANCE_IN_PROGRESS; /* the client rejoins rather than rediscovers */
    gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, group_id) : NULL;
    gc_member_t *m = NULL;
    if (err == KERR_NONE)
        err = gc_member_check(g, &m, rq->member_id, rq->group_instance_id, rq->generation_id, call->arena);
    if (err == KERR_NONE && ((rq->protocol_type.len >= 0 && !gc_str_eq(rq->protocol_type, g->protocol_type)) ||
                             (rq->protocol_name.len >= 0 && !gc_str_eq(rq->protocol_name, g->protocol))))
        err = KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == KERR_NONE && g->state == GC_EMPTY)
        err = KERR_UNKNOWN_MEMBER_ID;
    if (err == KERR_NONE && g->state == GC_PREPARING_REBALANCE)
        err = KERR_REBALANCE_IN_PROGRESS;
    if (err != KERR_NONE) {
        gc_sync_error(call, err);
        return;
    }
    gc_member_touch(m);
    if (g->state == GC_STABLE) {
        m->sync_call = call;
        gc_sync_answer(g, m, KERR_NONE);
        return;
    }
    if (m->sync_call) /* a repeated SyncGroup: the newer one waits */
        gc_sync_answer(g, m, KERR_REBALANCE_IN_PROGRESS);
    m->sync_call = call;
    if (!g->leader_id || strcmp(g->leader_id, m->member_id) != 0)
        return;
    /* the leader's assignment: members it left out get an empty one */
    const kp_sync_group_req_assignment_t *as = rq->assignments.items;
    for (int32_t i = 0; i < g->nmembers; i++) {
        gc_member_t *mm = g->members[i];
        free(mm->assignment);
        mm->assignment = NULL;
        mm->assignment_len = 0;
        for (int32_t k = 0; k < rq->assignments.count; k++)
            if (gc_str_eq(as[k].member_id, mm->member_id) && as[k].assignment.len > 0) {
                mm->assignment = mem_alloc((size_t)as[k].assignment.len);
                memcpy(mm->assignment, as[k].assignment.ptr, (size_t)as[k].assignment.len);
                mm->assignment_len = as[k].assignment.len;
            }
    }
    gc_sync_store_t *ss = mem_alloc(sizeof *ss);
    ss->group_id = mem_strdup(g->id);
    ss->generation = g->generation;
    gc_store_group(g, false, gc_sync_stored, ss);
}

static void gc_handle_heartbeat(gc_t *gc, gc_call_t *call) {
    const kp_heartbeat_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    kerr_t err = gc_validate(gc, group_id, false);
    if (err == KERR_COORDINATOR_LOAD_IN_PROGRESS)
        err = KERR_NONE; /* answered blindly while loading, as Kafka does */
    else if (err == KERR_NONE) {
        gc_group_t *g = gc_group_get(gc, group_id);
        gc_member_t *m = NULL;
        err = !g || g->state == GC_EMPTY ? KERR_UNKNOWN_MEMBER_ID
                                          : gc_member_check(g, &m, rq->member_id, rq->group_instance_id,
                                                            rq->generation_id, call->arena);
        if (err == KERR_NONE) {
            gc_member_touch(m);
            if (g->state == GC_PREPARING_REBALANCE)
                err = KERR_REBALANCE_IN_PROGRESS;
        }
    }
    kp_heartbeat_resp_t resp = {.error_code = (int16_t)err};
    gc_answer(call, &resp);
}

static kerr_t gc_leave_one(gc_group_t *g, kp_str_t member_id, kp_str_t instance_id, kp_arena_t *arena) {
    char *id = gc_arena_str(arena, member_id);
    gc_member_t *m;
    if (instance_id.len >= 0) {
        m = gc_member_by_instance(g, gc_arena_str(arena, instance_id));
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
        if (id[0] && strcmp(id, m->member_id) != 0)
            return KERR_FENCED_INSTANCE_ID;
    } else {
        int32_t pi = gc_pending_index(g, id);
        if (pi >= 0) {
            gc_pending_remove(g, pi);
            gc_try_complete_join(g);
            return KERR_NONE;
        }
        m = gc_member_get(g, id);
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
    }
    log_info(GC_TAG, "group %s: member %s leaves", g->id, m->member_id);
    gc_member_gone(g, m);
    return KERR_NONE;
}

static void gc_handle_leave(gc_t *gc, gc_call_t *call) {
    const kp_leave_group_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    kp_leave_group_resp_t resp;
    memset(&resp, 0, sizeof resp);
    kerr_t err = gc_validate(gc, group_id, false);
    gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, group_id) : NULL;
    if (call->version < 3) {
        if (err == KERR_NONE)
            err = g ? gc_leave_one(g, rq->member_id, KP_STR_NULL, call->arena) : KERR_UNKNOWN_MEMBER_ID;
        resp.error_code = (int16_t)err;
        gc_answer(call, &resp);
        return;
    }
    resp.error_code = (int16_t)err;
    if (err == KERR_NONE) {
        const kp_leave_group_req_member_t *ms = rq->members.items;
        int32_t n = rq->members.count > 0 ? rq->members.count : 0;
        kp_leave_group_resp_member_t *out = gc_arena_array(call->arena, &resp.members, n, sizeof *out);
        for (int32_t i = 0; i < n; i++) {
            out[i].member_id = ms[i].member_id;
            out[i].group_instance_id = ms[i].group_instance_id;
            g = gc_group_get(gc, group_id); /* a leave may not empty the map, but stay safe */
            out[i].error_code =
                (int16_t)(g ? gc_leave_one(g, ms[i].member_id, ms[i].group_instance_id, call->arena)
                            : KERR_UNKNOWN_MEMBER_ID);
        }
    }
    gc_answer(call, &resp);
}

/* --- offsets --------------------------------------------------------------------- */

static gc_offset_t *gc_offset_get(gc_group_t *g, const char *topic, int32_t partition) {
    char key[512];
    gc_offset_key(key, sizeof key, topic, partition);
    return group_map_get(&g->offsets, key);
}

static void gc_offset_put(gc_group_t *g, const char *topic, int32_t partition, const group_rec_offset_t *v) {
    char key[512];
    gc_offset_key(key, sizeof key, topic, partition);
    gc_offset_t *o = group_map_get(&g->offsets, key);
    if (!o) {
        o = mem_calloc(1, sizeof *o);
        o->topic = mem_strdup(topic);
        o->partition = partition;
        group_map_put(&g->offsets, key, o);
    }
    free(o->metadata);
    o->metadata = gc_strdup_str(v->metadata.len < 0 ? kp_str("") : v->metadata);
    o->offset = v->offset;
    o->leader_epoch = v->leader_epoch;
    o->commit_timestamp = v->commit_timestamp;
    o->expire_timestamp = v->expire_timestamp;
}

static bool gc_offset_remove(gc_group_t *g, const char *topic, int32_t partition) {
    char key[512];
    gc_offset_key(key, sizeof key, topic, partition);
    gc_offset_t *o = group_map_remove(&g->offsets, key);
    if (o)
        gc_offset_free(o);
    return o != NULL;
}

static void gc_commits_in_flight_add(gc_t *gc, const char *group_id, int64_t delta) {
    int64_t *n = group_map_get(&gc->commits_in_flight, group_id);
    if (!n) {
        n = mem_calloc(1, sizeof *n);
        group_map_put(&gc->commits_in_flight, group_id, n);
    }
    *n += delta;
    if (*n <= 0)
        free(group_map_remove(&gc->commits_in_flight, group_id));
}

typedef struct gc_commit {
    gc_call_t *call;
    kp_offset_commit_resp_t resp;
    char *group_id;
    int64_t commit_timestamp;
    int64_t expire_timestamp;
    bool in_flight; /* counted in gc.commits_in_flight */
} gc_commit_t;

static void gc_commit_stored(gc_t *gc, void *arg, kerr_t err) {
    gc_commit_t *c = arg;
    const kp_offset_commit_req_t *rq = c->call->body;
    if (c->in_flight)
        gc_commits_in_flight_add(gc, c->group_id, -1);
    gc_group_t *g = gc_group_get(gc, c->group_id);
    kerr_t mapped = err == KERR_NONE ? KERR_NONE : gc_commit_error(err);
    const kp_offset_commit_req_topic_t *ts = rq->topics.items;
    kp_offset_commit_resp_topic_t *rts = c->resp.topics.items;
    for (int32_t i = 0; i < rq->topics.count; i++) {
        const kp_offset_commit_req_partition_t *ps = ts[i].partitions.items;
        kp_offset_commit_resp_partition_t *rps = rts[i].partitions.items;
        char *topic = gc_arena_str(c->call->arena, ts[i].name);
        for (int32_t k = 0; k < ts[i].partitions.count; k++) {
            if (rps[k].error_code != KERR_NONE)
                continue;
            rps[k].error_code = (int16_t)mapped;
            if (mapped != KERR_NONE || !g)
                continue;
            group_rec_offset_t v = {ps[k].committed_offset, ps[k].committed_leader_epoch, ps[k].committed_metadata,
                                    c->commit_timestamp, c->expire_timestamp};
            gc_offset_put(g, topic, ps[k].partition_index, &v);
        }
    }
    if (g && g->state == GC_EMPTY && !g->protocol_type && g->offsets.count == 0 && g->nmembers == 0) {
        group_map_remove(&gc->groups, g->id); /* a standalone group whose only commit failed */
        gc_group_free(g);
    }
    gc_answer(c->call, &c->resp);
    free(c->group_id);
    free(c);
}

static void gc_handle_offset_commit(gc_t *gc, gc_call_t *call) {
    const kp_offset_commit_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    gc_commit_t *c = mem_calloc(1, sizeof *c);
    c->call = call;
    c->group_id = mem_strdup(group_id);
    int64_t now = clock_wall_ms();
    c->commit_timestamp = now;
    c->expire_timestamp = call->version >= 2 && call->version <= 4 && rq->retention_time_ms != -1
                              ? now + rq->retention_time_ms
                              : -1;
    kerr_t err = gc_validate(gc, group_id, true);
    int32_t generation = call->version >= 1 ? rq->generation_id : -1;
    gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, group_id) : NULL;
    gc_member_t *m = NULL;
    if (err == KERR_NONE) {
        if (!g)
            err = generation < 0 ? KERR_NONE : KERR_ILLEGAL_GENERATION;
        else if (!(g->state == GC_EMPTY && generation < 0)) {
            err = gc_member_check(g, &m, rq->member_id, rq->group_instance_id, generation, call->arena);
            if (err == KERR_NONE && g->state == GC_COMPLETING_REBALANCE)
                err = KERR_REBALANCE_IN_PROGRESS;
        }
    }
    if (m && err == KERR_NONE)
        gc_member_touch(m);
    /* the answer mirrors the request; each partition's error decided now,
     * NONE ones wait for the store */
    const kp_offset_commit_req_topic_t *ts = rq->topics.items;
    int32_t nt = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_offset_commit_resp_topic_t *rts = gc_arena_array(call->arena, &c->resp.topics, nt, sizeof *rts);
    int nrec = 0;
    for (int32_t i = 0; i < nt; i++) {
        rts[i].name = ts[i].name;
        int32_t np = ts[i].partitions.count > 0 ? ts[i].partitions.count : 0;
        nrec += np;
        kp_offset_commit_resp_partition_t *rps = gc_arena_array(call->arena, &rts[i].partitions, np, sizeof *rps);
        const kp_offset_commit_req_partition_t *ps = ts[i].partitions.items;
        for (int32_t k = 0; k < np; k++) {
            rps[k].partition_index = ps[k].partition_index;
            kerr_t pe = err;
            if (pe == KERR_NONE && !gc_topic_exists(gc, ts[i].name, ps[k].partition_index))
                pe = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (pe == KERR_NONE && ps[k].committed_metadata.len > gc->metadata_max)
                pe = KERR_OFFSET_METADATA_TOO_LARGE;
            rps[k].error_code = (int16_t)pe;
        }
    }
    gc_batch_t batch;
    gc_batch_init(&batch, nrec);
    for (int32_t i = 0; i < nt; i++) {
        const kp_offset_commit_req_partition_t *ps = ts[i].partitions.items;
        const kp_offset_commit_resp_partition_t *rps = rts[i].partitions.items;
        for (int32_t k = 0; k < rts[i].partitions.count; k++) {
            if (rps[k].error_code != KERR_NONE)
                continue;
            group_rec_offset_t v = {ps[k].committed_offset, ps[k].committed_leader_epoch, ps[k].committed_metadata,
                                    c->commit_timestamp, c->expire_timestamp};
            gc_batch_add_offset(&batch, rq->group_id, ts[i].name, ps[k].partition_index, &v, now);
        }
    }
    if (batch.n == 0) {
        gc_batch_free(&batch);
        gc_commit_stored(gc, c, KERR_NONE);
        return;
    }
    if (!g)
        g = gc_group_add(gc, group_id); /* a standalone ("simple") consumer's group */
    int32_t partition = g->partition;
    c->in_flight = true;
    gc_commits_in_flight_add(gc, group_id, 1);
    gc_store(gc, partition, &batch, gc_commit_stored, c);
    gc_batch_free(&batch);
}

static int gc_offset_cmp(const void *a, const void *b) {
    const gc_offset_t *x = *(const gc_offset_t *const *)a, *y = *(const gc_offset_t *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void gc_fetch_fill(kp_offset_fetch_resp_partition_t *rp, const gc_offset_t *o, int32_t partition, kerr_t err) {
    rp->partition_index = partition;
    rp->committed_offset = o ? o->offset : -1;
    rp->committed_leader_epoch = o ? o->leader_epoch : -1;
    rp->metadata = kp_str(o ? o->metadata : "");
    rp->error_code = (int16_t)err;
}

static void gc_handle_offset_fetch(gc_t *gc, gc_call_t *call) {
    const kp_offset_fetch_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    kp_offset_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    kerr_t err = gc_validate(gc, group_id, true);
    gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, group_id) : NULL;
    kerr_t part_err = call->version < 2 ? err : KERR_NONE;
    resp.error_code = (int16_t)(call->version >= 2 ? err : KERR_NONE);
    if (rq->topics.count >= 0) {
        const kp_offset_fetch_req_topic_t *ts = rq->topics.items;
        kp_offset_fetch_resp_topic_t *rts =
            gc_arena_array(call->arena, &resp.topics, rq->topics.count, sizeof *rts);
        for (int32_t i = 0; i < rq->topics.count; i++) {
            rts[i].name = ts[i].name;
            const int32_t *ps = ts[i].partition_indexes.items;
            int32_t np = ts[i].partition_indexes.count > 0 ? ts[i].partition_indexes.count : 0;
            kp_offset_fetch_resp_partition_t *rps = gc_arena_array(call->arena, &rts[i].partitions, np, sizeof *rps);
            char *topic = gc_arena_str(call->arena, ts[i].name);
            for (int32_t k = 0; k < np; k++)
                gc_fetch_fill(&rps[k], g ? gc_offset_get(g, topic, ps[k]) : NULL, ps[k], part_err);
        }
    } else if (g && g->offsets.count) {
        /* every offset of the group, by topic */
        gc_offset_t **all = kp_arena_alloc(call->arena, g->offsets.count * sizeof *all);
        size_t n = 0, bucket;
        for (group_map_entry_t *e = group_map_first(&g->offsets, &bucket); e; e = group_map_next(&g->offsets, e, &bucket))
            all[n++] = e->value;
        qsort(all, n, sizeof *all, gc_offset_cmp);
        int32_t ntopics = 0;
        for (size_t i = 0; i < n; i++)
            ntopics += i == 0 || strcmp(all[i]->topic, all[i - 1]->topic) != 0;
        kp_offset_fetch_resp_topic_t *rts = gc_arena_array(call->arena, &resp.topics, ntopics, sizeof *rts);
        int32_t t = -1;
        for (size_t i = 0, start = 0; i < n; i++) {
            if (i == 0 || strcmp(all[i]->topic, all[i - 1]->topic) != 0) {
                start = i;
                size_t end = i;
                while (end < n && strcmp(all[end]->topic, all[i]->topic) == 0)
                    end++;
                t++;
                rts[t].name = kp_str(all[i]->topic);
                gc_arena_array(call->arena, &rts[t].partitions, (int32_t)(end - i), sizeof(kp_offset_fetch_resp_partition_t));
            }
            kp_offset_fetch_resp_partition_t *rps = rts[t].partitions.items;
            gc_fetch_fill(&rps[i - start], all[i], all[i]->partition, KERR_NONE);
        }
    } else {
        gc_arena_array(call->arena, &resp.topics, 0, sizeof(kp_offset_fetch_resp_topic_t));
    }
    gc_answer(call, &resp);
}

/* --- ListGroups, DescribeGroups -------------------------------------------------- */

static bool gc_group_listed(gc_t *gc, const gc_group_t *g) {
    if (!gc->deps.replicas)
        return true;
    return g->partition < gc->nparts && gc->parts[g->partition].state == GC_PART_OWNED;
}

static void gc_handle_list_groups(gc_t *gc, gc_call_t *call) {
    const kp_list_groups_req_t *rq = call->body;
    kp_list_groups_resp_t resp;
    memset(&resp, 0, sizeof resp);
    for (int32_t i = 0; i < gc->nparts; i++)
        if (gc->parts[i].state == GC_PART_LOADING)
            resp.error_code = KERR_COORDINATOR_LOAD_IN_PROGRESS;
    kp_list_groups_resp_group_t *out =
        gc_arena_array(call->arena, &resp.groups, (int32_t)gc->groups.count, sizeof *out);
    int32_t n = 0;
    size_t bucket;
    for (group_map_entry_t *e = group_map_first(&gc->groups, &bucket); e && !resp.error_code;
         e = group_map_next(&gc->groups, e, &bucket)) {
        const gc_group_t *g = e->value;
        if (!gc_group_listed(gc, g))
            continue;
        const char *state = gc_state_names[g->state];
        bool wanted = call->version < 4 || rq->states_filter.count <= 0;
        const kp_str_t *filter = rq->states_filter.items;
        for (int32_t k = 0; !wanted && k < rq->states_filter.count; k++)
            wanted = gc_str_eq(filter[k], state);
        if (!wanted)
            continue;
        out[n].group_id = kp_str(g->id);
        out[n].protocol_type = kp_str(g->protocol_type ? g->protocol_type : "");
        out[n].group_state = kp_str(state);
        n++;
    }
    resp.groups.count = n;
    gc_answer(call, &resp);
}

static void gc_handle_describe_groups(gc_t *gc, gc_call_t *call) {
    const kp_describe_groups_req_t *rq = call->body;
    kp_describe_groups_resp_t resp;
    memset(&resp, 0, sizeof resp);
    const kp_str_t *ids = rq->groups.items;
    int32_t n = rq->groups.count > 0 ? rq->groups.count : 0;
    kp_describe_groups_resp_group_t *out = gc_arena_array(call->arena, &resp.groups, n, sizeof *out);
    for (int32_t i = 0; i < n; i++) {
        char *id = gc_arena_str(call->arena, ids[i]);
        kp_describe_groups_resp_group_t *d = &out[i];
        d->group_id = ids[i];
        d->authorized_operations = INT32_MIN;
        d->protocol_type = kp_str("");
        d->protocol_data = kp_str("");
        kerr_t err = gc_validate(gc, id, true);
        gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, id) : NULL;
        d->error_code = (int16_t)err;
        d->group_state = kp_str(err == KERR_NONE && g ? gc_state_names[g->state] : (err ? "" : "Dead"));
        if (!g) {
            gc_arena_array(call->arena, &d->members, 0, sizeof(kp_describe_groups_resp_member_t));
            continue;
        }
        bool stable = g->state == GC_STABLE;
        d->protocol_type = kp_str(g->protocol_type ? g->protocol_type : "");
        d->protocol_data = kp_str(stable && g->protocol ? g->protocol : "");
        kp_describe_groups_resp_member_t *ms =
            gc_arena_array(call->arena, &d->members, g->nmembers, sizeof *ms);
        for (int32_t k = 0; k < g->nmembers; k++) {
            const gc_member_t *m = g->members[k];
            const gc_protocol_t *proto = stable ? gc_member_protocol(m, g->protocol) : NULL;
            ms[k].member_id = kp_str(m->member_id);
            ms[k].group_instance_id = kp_str(m->instance_id);
            ms[k].client_id = kp_str(m->client_id);
            ms[k].client_host = kp_str(m->client_host);
            ms[k].member_metadata = (kp_bytes_t){proto ? proto->metadata : NULL, proto ? proto->metadata_len : 0};
            ms[k].member_assignment =
                (kp_bytes_t){stable ? m->assignment : NULL, stable ? m->assignment_len : 0};
        }
    }
    gc_answer(call, &resp);
}

/* --- DeleteGroups, OffsetDelete -------------------------------------------------- */

/* Tombstones for every offset of g, and for g itself when with_group. */
static void gc_store_tombstones(gc_group_t *g, bool with_group, gc_store_done_fn done, void *arg) {
    gc_batch_t batch;
    gc_batch_init(&batch, (int)g->offsets.count + 1);
    int64_t now = clock_wall_ms();
    size_t bucket;
    for (group_map_entry_t *e = group_map_first(&g->offsets, &bucket); e; e = group_map_next(&g->offsets, e, &bucket)) {
        const gc_offset_t *o = e->value;
        gc_batch_add_offset(&batch, kp_str(g->id), kp_str(o->topic), o->partition, NULL, now);
    }
    if (with_group) {
        gc_group_record(g, true, &batch.bufs[2 * batch.n], &batch.bufs[2 * batch.n + 1], &batch.records[batch.n]);
        batch.n++;
    }
    if (batch.n > 0)
        gc_store(g->gc, g->partition, &batch, done, arg);
    else
        done(g->gc, arg, KERR_NONE);
    gc_batch_free(&batch);
}

typedef struct gc_delete {
    gc_call_t *call;
    kp_delete_groups_resp_t resp;
    int32_t waiting;
} gc_delete_t;

typedef struct gc_delete_one {
    gc_delete_t *d;
    int32_t index;
} gc_delete_one_t;

static void gc_delete_maybe_answer(gc_delete_t *d) {
    if (d->waiting > 0)
        return;
    gc_answer(d->call, &d->resp);
    free(d);
}

static void gc_delete_stored(gc_t *gc, void *arg, kerr_t err) {
    (void)gc;
    gc_delete_one_t *one = arg;
    kp_delete_groups_resp_result_t *rs = one->d->resp.results.items;
    rs[one->index].error_code = (int16_t)(err == KERR_NONE ? KERR_NONE : gc_commit_error(err));
    one->d->waiting--;
    gc_delete_maybe_answer(one->d);
    free(one);
}

static void gc_handle_delete_groups(gc_t *gc, gc_call_t *call) {
    const kp_delete_groups_req_t *rq = call->body;
    gc_delete_t *d = mem_calloc(1, sizeof *d);
    d->call = call;
    int32_t n = rq->groups_names.count > 0 ? rq->groups_names.count : 0;
    kp_delete_groups_resp_result_t *rs = gc_arena_array(call->arena, &d->resp.results, n, sizeof *rs);
    const kp_str_t *ids = rq->groups_names.items;
    d->waiting = 1; /* until every group is started */
    for (int32_t i = 0; i < n; i++) {
        char *id = gc_arena_str(call->arena, ids[i]);
        rs[i].group_id = ids[i];
        kerr_t err = gc_validate(gc, id, true);
        gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, id) : NULL;
        if (err == KERR_NONE && !g)
            err = KERR_GROUP_ID_NOT_FOUND;
        else if (err == KERR_NONE && g->state != GC_EMPTY)
            err = KERR_NON_EMPTY_GROUP;
        rs[i].error_code = (int16_t)err;
        if (err != KERR_NONE)
            continue;
        /* Dead from now on: out of the map before the tombstones go */
        group_map_remove(&gc->groups, g->id);
        log_info(GC_TAG, "group %s: deleted (%zu offsets)", g->id, g->offsets.count);
        gc_delete_one_t *one = mem_alloc(sizeof *one);
        *one = (gc_delete_one_t){d, i};
        d->waiting++;
        gc_store_tombstones(g, true, gc_delete_stored, one);
        gc_group_free(g);
    }
    d->waiting--;
    gc_delete_maybe_answer(d);
}

/* The topics a consumer-protocol subscription names (§9.3); false when it
 * does not parse (then nothing counts as subscribed, as Kafka tolerates). */
static bool gc_subscription_has(const uint8_t *data, int32_t len, kp_str_t topic) {
    cursor_t c;
    cursor_init(&c, data, len > 0 ? (size_t)len : 0);
    (void)cursor_i16(&c);
    int32_t n = cursor_i32(&c);
    for (int32_t i = 0; i < n && cursor_ok(&c); i++) {
        int16_t l = cursor_i16(&c);
        const uint8_t *p = l >= 0 ? cursor_bytes(&c, (size_t)l) : NULL;
        if (p && l == topic.len && memcmp(p, topic.ptr, (size_t)l) == 0)
            return true;
    }
    return false;
}

static bool gc_group_subscribed(const gc_group_t *g, kp_str_t topic) {
    for (int32_t i = 0; i < g->nmembers; i++) {
        const gc_protocol_t *proto = gc_member_protocol(g->members[i], g->protocol);
        if (proto && gc_subscription_has(proto->metadata, proto->metadata_len, topic))
            return true;
    }
    return false;
}

typedef struct gc_offset_delete {
    gc_call_t *call;
    kp_offset_delete_resp_t resp;
} gc_offset_delete_t;

static void gc_offset_delete_stored(gc_t *gc, void *arg, kerr_t err) {
    (void)gc;
    gc_offset_delete_t *od = arg;
    if (err != KERR_NONE) {
        kp_offset_delete_resp_topic_t *ts = od->resp.topics.items;
        for (int32_t i = 0; i < od->resp.topics.count; i++) {
            kp_offset_delete_resp_partition_t *ps = ts[i].partitions.items;
            for (int32_t k = 0; k < ts[i].partitions.count; k++)
                if (ps[k].error_code == KERR_NONE)
                    ps[k].error_code = (int16_t)gc_commit_error(err);
        }
    }
    gc_answer(od->call, &od->resp);
    free(od);
}

static void gc_handle_offset_delete(gc_t *gc, gc_call_t *call) {
    const kp_offset_delete_req_t *rq = call->body;
    char *group_id = gc_arena_str(call->arena, rq->group_id);
    gc_offset_delete_t *od = mem_calloc(1, sizeof *od);
    od->call = call;
    kerr_t err = gc_validate(gc, group_id, false);
    gc_group_t *g = err == KERR_NONE ? gc_group_get(gc, group_id) : NULL;
    if (err == KERR_NONE && !g)
        err = KERR_GROUP_ID_NOT_FOUND;
    bool consumer = g && g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
    if (err == KERR_NONE && g->state != GC_EMPTY && !consumer)
        err = KERR_NON_EMPTY_GROUP;
    od->resp.error_code = (int16_t)err;
    if (err != KERR_NONE) {
        gc_arena_array(call->arena, &od->resp.topics, 0, sizeof(kp_offset_delete_resp_topic_t));
        gc_offset_delete_stored(gc, od, KERR_NONE);
        return;
    }
    const kp_offset_delete_req_topic_t *ts = rq->topics.items;
    int32_t nt = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_offset_delete_resp_topic_t *rts = gc_arena_array(call->arena, &od->resp.topics, nt, sizeof *rts);
    int nrec = 0;
    for (int32_t i = 0; i < nt; i++)
        nrec += ts[i].partitions.count > 0 ? ts[i].partitions.count : 0;
    gc_batch_t batch;
    gc_batch_init(&batch, nrec);
    int64_t now = clock_wall_ms();
    for (int32_t i = 0; i < nt; i++) {
        rts[i].name = ts[i].name;
        int32_t np = ts[i].partitions.count > 0 ? ts[i].partitions.count : 0;
        const kp_offset_delete_req_partition_t *ps = ts[i].partitions.items;
        kp_offset_delete_resp_partition_t *rps = gc_arena_array(call->arena, &rts[i].partitions, np, sizeof *rps);
        bool subscribed = consumer && g->state != GC_EMPTY && gc_group_subscribed(g, ts[i].name);
        char *topic = gc_arena_str(call->arena, ts[i].name);
        for (int32_t k = 0; k < np; k++) {
            rps[k].partition_index = ps[k].partition_index;
            if (subscribed) {
                rps[k].error_code = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
                continue;
            }
            if (gc_offset_remove(g, topic, ps[k].partition_index)) {
                gc_batch_add_offset(&batch, rq->group_id, ts[i].name, ps[k].partition_index, NULL, now);
            }
        }
    }
    if (batch.n > 0)
        gc_store(gc, g->partition, &batch, gc_offset_delete_stored, od);
    else
        gc_offset_delete_stored(gc, od, KERR_NONE);
    gc_batch_free(&batch);
}

/* --- loading and unloading a partition ------------------------------------------- */

/* Drops every group of partition (or all with partition -1), answering
 * their parked requests NOT_COORDINATOR: the clients find the new one. */
static void gc_unload(gc_t *gc, int32_t partition) {
    size_t bucket;
    group_map_entry_t *e = group_map_first(&gc->groups, &bucket);
    int dropped = 0;
    while (e) {
        gc_group_t *g = e->value;
        e = group_map_next(&gc->groups, e, &bucket);
        if (partition >= 0 && g->partition != partition)
            continue;
        for (int32_t i = 0; i < g->nmembers; i++) {
            gc_member_t *m = g->members[i];
            if (m->join_call)
                gc_join_error(m->join_call, KERR_NOT_COORDINATOR, kp_str(m->member_id)), m->join_call = NULL;
            if (m->sync_call)
                gc_sync_answer(g, m, KERR_NOT_COORDINATOR);
        }
        group_map_remove(&gc->groups, g->id);
        gc_group_free(g);
        dropped++;
    }
    if (partition >= 0 && dropped)
        log_info(GC_TAG, "%s-%d: unloaded %d groups", GROUP_OFFSETS_TOPIC, partition, dropped);
}

/* One replayed record (§2): the latest in log order wins; a null value
 * deletes. Unknown keys are skipped with a warning (Kafka would abort). */
static void gc_load_record(gc_t *gc, int32_t partition, const record_t *r, kp_arena_t *arena) {
    group_rec_key_t key;
    if (!r->key || !group_rec_key_decode(r->key, (size_t)r->key_len, &key)) {
        log_warn(GC_TAG, "%s-%d: skipping a record with an unknown key", GROUP_OFFSETS_TOPIC, partition);
        return;
    }
    char *id = gc_arena_str(arena, key.group);
    gc_group_t *g = gc_group_get(gc, id);
    if (key.kind == GROUP_REC_OFFSET) {
        char *topic = gc_arena_str(arena, key.topic);
        group_rec_offset_t v;
        if (!r->value) {
            if (g)
                gc_offset_remove(g, topic, key.partition);
            return;
        }
        if (!group_rec_offset_value_decode(r->value, (size_t)r->value_len, &v))
            return;
        if (!g)
            g = gc_group_add(gc, id);
        gc_offset_put(g, topic, key.partition, &v);
        return;
    }
    if (!r->value) {
        if (g) { /* the group is gone; offsets after this point may bring it back */
            for (int32_t i = 0; i < g->nmembers; i++)
                gc_member_free(g->members[i]);
            g->nmembers = 0;
            g->has_metadata = false;
        }
        return;
    }
    group_rec_group_t v;
    if (!group_rec_group_value_decode(r->value, (size_t)r->value_len, arena, &v))
        return;
    if (!g)
        g = gc_group_add(gc, id);
    for (int32_t i = 0; i < g->nmembers; i++)
        gc_member_free(g->members[i]);
    g->nmembers = 0;
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader_id);
    g->protocol_type = gc_strdup_str(v.protocol_type);
    g->protocol = gc_strdup_str(v.protocol);
    g->leader_id = gc_strdup_str(v.leader);
    g->generation = v.generation;
    g->state_timestamp = v.current_state_timestamp;
    g->has_metadata = true;
    g->members = mem_realloc(g->members, (size_t)(v.nmembers ? v.nmembers : 1) * sizeof *g->members);
    for (int32_t i = 0; i < v.nmembers; i++) {
        const group_rec_member_t *rm = &v.members[i];
        gc_member_t *m = mem_calloc(1, sizeof *m);
        m->member_id = gc_strdup_str(rm->member_id);
        m->instance_id = gc_strdup_str(rm->group_instance_id);
        m->client_id = gc_strdup_str(rm->client_id);
        m->client_host = gc_strdup_str(rm->client_host);
        m->session_timeout_ms = rm->session_timeout_ms;
        m->rebalance_timeout_ms = rm->rebalance_timeout_ms;
        m->protocols = mem_calloc(1, sizeof *m->protocols);
        m->nprotocols = 1;
        m->protocols[0].name = mem_strdup(g->protocol ? g->protocol : "");
        m->protocols[0].metadata_len = rm->subscription.len > 0 ? rm->subscription.len : 0;
        m->protocols[0].metadata = mem_alloc((size_t)m->protocols[0].metadata_len + 1);
        if (m->protocols[0].metadata_len)
            memcpy(m->protocols[0].metadata, rm->subscription.ptr, (size_t)m->protocols[0].metadata_len);
        m->assignment_len = rm->assignment.len > 0 ? rm->assignment.len : 0;
        m->assignment = m->assignment_len ? mem_alloc((size_t)m->assignment_len) : NULL;
        if (m->assignment_len)
            memcpy(m->assignment, rm->assignment.ptr, (size_t)m->assignment_len);
        m->group = g;
        g->members[g->nmembers++] = m;
    }
}

typedef struct gc_load {
    gc_t *gc;
    int32_t partition;
    uint64_t role_seq;
    int64_t next_offset;
    int64_t start_ms;
    int64_t records;
} gc_load_t;

static void gc_load_finish(gc_t *gc, gc_load_t *ld) {
    size_t bucket;
    group_map_entry_t *e = group_map_first(&gc->groups, &bucket);
    int32_t ngroups = 0;
    while (e) {
        gc_group_t *g = e->value;
        e = group_map_next(&gc->groups, e, &bucket);
        if (g->partition != ld->partition)
            continue;
        if (!g->has_metadata && g->offsets.count == 0) {
            group_map_remove(&gc->groups, g->id);
            gc_group_free(g);
            continue;
        }
        ngroups++;
        g->state = g->nmembers ? GC_STABLE : GC_EMPTY;
        if (g->state_timestamp < 0)
            g->state_timestamp = clock_wall_ms();
        for (int32_t i = 0; i < g->nmembers; i++)
            gc_member_touch(g->members[i]); /* members that do not come back expire */
    }
    gc->parts[ld->partition].state = GC_PART_OWNED;
    log_info(GC_TAG, "%s-%d: loaded %d groups from %" PRId64 " records in %" PRId64 " ms", GROUP_OFFSETS_TOPIC,
             ld->partition, ngroups, ld->records, clock_mono_ms() - ld->start_ms);
}

/* One step of a load: reads up to offsets.load.buffer.size bytes from the
 * log (under the partition's lock, to its end: what the ISR may hold
 * beyond the high watermark counts too, as Kafka loads to the log end),
 * replays them, and posts the next step so other partitions' requests are
 * served in between. */
static void gc_load_step(void *arg) {
    gc_load_t *ld = arg;
    gc_t *gc = ld->gc;
    gc_part_t *part = gc_part(gc, ld->partition);
    if (part->role_seq != ld->role_seq || part->state != GC_PART_LOADING || atomic_load(&gc->stopping)) {
        free(ld);
        return;
    }
    partition_t *p = replica_manager_get(gc->deps.replicas, GROUP_OFFSETS_TOPIC, ld->partition);
    buf_t data;
    buf_init(&data);
    bool done = true;
    if (p) {
        pthread_mutex_lock(&p->lock);
        if (p->log && p->is_leader) {
            if (ld->next_offset < log_start_offset(p->log))
                ld->next_offset = log_start_offset(p->log);
            log_read_info_t info;
            uint32_t max = (uint32_t)(gc->load_buffer > 0 ? gc->load_buffer : 1);
            if (max > GC_LOAD_MAX_BATCH_BYTES)
                max = GC_LOAD_MAX_BATCH_BYTES;
            if (ld->next_offset < log_end_offset(p->log) &&
                log_read(p->log, ld->next_offset, max, -1, true, &info) == KERR_NONE && info.length > 0) {
                uint8_t *dst = buf_extend(&data, info.length);
                if (info.data)
                    memcpy(dst, info.data, info.length);
                else if (pread(info.fd, dst, info.length, info.position) != (ssize_t)info.length)
                    data.len = 0;
                done = false;
            }
        }
        pthread_mutex_unlock(&p->lock);
    }
    kp_arena_t arena;
    kp_arena_init(&arena);
    size_t pos = 0;
    int64_t before = ld->next_offset;
    while (pos + BATCH_LOG_OVERHEAD <= data.len) {
        batch_header_t h;
        if (batch_check(data.data + pos, data.len - pos, data.len - pos, &h) != BATCH_OK)
            break;
        size_t size = batch_size(&h);
        if (!batch_is_control(&h)) {
            record_iter_t it;
            if (record_iter_init(&it, data.data + pos, size, 0) == KERR_NONE) {
                record_t r;
                while (record_iter_next(&it, &r) > 0) {
                    gc_load_record(gc, ld->partition, &r, &arena);
                    ld->records++;
                }
            }
            record_iter_free(&it);
        }
        kp_arena_reset(&arena);
        ld->next_offset = batch_next_offset(&h);
        pos += size;
    }
    kp_arena_free(&arena);
    buf_free(&data);
    if (!done && ld->next_offset == before) {
        log_error(GC_TAG, "%s-%d: unreadable at offset %" PRId64 "; loading stops there", GROUP_OFFSETS_TOPIC,
                  ld->partition, before);
        done = true;
    }
    if (done) {
        gc_load_finish(gc, ld);
        free(ld);
        return;
    }
    if (evloop_run(gc->loop, gc_load_step, ld) != 0)
        free(ld);
}

typedef struct gc_role {
    gc_t *gc;
    int32_t partition;
    bool leader;
    int32_t leader_epoch;
} gc_role_t;

static void gc_role_on_loop(void *arg) {
    gc_role_t *r = arg;
    gc_t *gc = r->gc;
    gc_part_t *part = gc_part(gc, r->partition);
    if (r->leader && part->state != GC_PART_NOT_OWNED) {
        /* still the leader (a new epoch after an ISR change elsewhere): the
         * groups in memory stay, as Kafka keeps an owned partition */
        part->leader_epoch = r->leader_epoch;
        free(r);
        return;
    }
    part->role_seq++;
    if (part->state != GC_PART_NOT_OWNED)
        gc_unload(gc, r->partition);
    part->state = GC_PART_NOT_OWNED;
    if (r->leader) {
        part->state = GC_PART_LOADING;
        part->leader_epoch = r->leader_epoch;
        gc_load_t *ld = mem_calloc(1, sizeof *ld);
        *ld = (gc_load_t){gc, r->partition, part->role_seq, 0, clock_mono_ms(), 0};
        log_info(GC_TAG, "%s-%d: loading its groups (leader epoch %d)", GROUP_OFFSETS_TOPIC, r->partition,
                 r->leader_epoch);
        gc_load_step(ld);
    }
    free(r);
}

void gc_partition_role(gc_t *gc, int32_t partition, bool leader, int32_t leader_epoch) {
    gc_role_t *r = mem_alloc(sizeof *r);
    *r = (gc_role_t){gc, partition, leader, leader_epoch};
    if (evloop_run(gc->loop, gc_role_on_loop, r) != 0)
        free(r);
}

void gc_role_hook(void *ctx, const char *topic, int32_t partition, bool leader, int32_t leader_epoch) {
    if (ctx && strcmp(topic, GROUP_OFFSETS_TOPIC) == 0)
        gc_partition_role(ctx, partition, leader, leader_epoch);
}

/* --- KIP-211: offset retention and group expiry -------------------------------- */

/* Whether o has expired (consumer-groups.md §10). */
static bool gc_offset_expired(const gc_t *gc, const gc_group_t *g, const gc_offset_t *o, int64_t now) {
    if (o->expire_timestamp >= 0)
        return now >= o->expire_timestamp; /* an explicit retention (OffsetCommit v2-v4) */
    if (g->protocol_type && g->state == GC_EMPTY) {
        int64_t empty_since = g->state_timestamp >= 0 ? g->state_timestamp : o->commit_timestamp;
        return now - empty_since >= gc->retention_ms;
    }
    if (g->protocol_type && strcmp(g->protocol_type, "consumer") == 0 && g->state == GC_STABLE)
        return !gc_group_subscribed(g, kp_str(o->topic)) && now - o->commit_timestamp >= gc->retention_ms;
    if (!g->protocol_type)
        return now - o->commit_timestamp >= gc->retention_ms; /* standalone committers */
    return false; /* an active group's own offsets never expire */
}

/* Tombstones of expired offsets are written best effort, as Kafka's acks=0
 * (the next cycle expires again what was lost). */
static void gc_expired_stored(gc_t *gc, void *arg, kerr_t err) {
    gc_store_logged(gc, arg, err);
}

static void gc_expire(gc_t *gc, int64_t now) {
    size_t bucket;
    group_map_entry_t *e = group_map_first(&gc->groups, &bucket);
    while (e) {
        gc_group_t *g = e->value;
        e = group_map_next(&gc->groups, e, &bucket);
        if (!gc_group_listed(gc, g) || group_map_get(&gc->commits_in_flight, g->id))
            continue;
        gc_batch_t batch;
        gc_batch_init(&batch, (int)g->offsets.count + 1);
        size_t ob;
        group_map_entry_t *oe = group_map_first(&g->offsets, &ob);
        while (oe) {
            gc_offset_t *o = oe->value;
            oe = group_map_next(&g->offsets, oe, &ob);
            if (!gc_offset_expired(gc, g, o, now))
                continue;
            gc_batch_add_offset(&batch, kp_str(g->id), kp_str(o->topic), o->partition, NULL, now);
            gc_offset_remove(g, o->topic, o->partition);
        }
        int expired = batch.n;
        bool dead = g->state == GC_EMPTY && g->offsets.count == 0 && g->nmembers == 0 && g->npending == 0;
        if (dead && g->generation > 0) {
            gc_group_record(g, true, &batch.bufs[2 * batch.n], &batch.bufs[2 * batch.n + 1], &batch.records[batch.n]);
            batch.n++;
        }
        if (batch.n > 0)
            gc_store(gc, g->partition, &batch, gc_expired_stored, mem_strdup(g->id));
        gc_batch_free(&batch);
        if (expired || dead)
            log_info(GC_TAG, "group %s: %d offsets expired%s", g->id, expired, dead ? "; the group is removed" : "");
        if (dead) {
            group_map_remove(&gc->groups, g->id);
            gc_group_free(g);
        }
    }
}

static void gc_expiry_tick(void *arg) {
    gc_t *gc = arg;
    gc_expire(gc, clock_wall_ms());
    evloop_timer_arm(gc->expiry_timer, gc->retention_check_ms);
}

static void gc_expiry_start(void *arg) {
    gc_t *gc = arg;
    gc->expiry_timer = evloop_timer_new(gc->loop, gc_expiry_tick, gc);
    evloop_timer_arm(gc->expiry_timer, gc->retention_check_ms);
}

/* --- dispatch and lifecycle ---------------------------------------------------------- */

typedef void (*gc_handler_fn)(gc_t *gc, gc_call_t *call);

static const struct {
    int16_t api_key;
    gc_handler_fn handler;
} gc_handlers[] = {
    {KP_API_OFFSET_COMMIT, gc_handle_offset_commit},
    {KP_API_OFFSET_FETCH, gc_handle_offset_fetch},
    {KP_API_JOIN_GROUP, gc_handle_join},
    {KP_API_HEARTBEAT, gc_handle_heartbeat},
    {KP_API_LEAVE_GROUP, gc_handle_leave},
    {KP_API_SYNC_GROUP, gc_handle_sync},
    {KP_API_DESCRIBE_GROUPS, gc_handle_describe_groups},
    {KP_API_LIST_GROUPS, gc_handle_list_groups},
    {KP_API_DELETE_GROUPS, gc_handle_delete_groups},
    {KP_API_OFFSET_DELETE, gc_handle_offset_delete},
};

typedef struct gc_task {
    gc_t *gc;
    gc_call_t *call;
} gc_task_t;

static void gc_dispatch(void *arg) {
    gc_task_t *t = arg;
    for (size_t i = 0; i < sizeof gc_handlers / sizeof gc_handlers[0]; i++)
        if (gc_handlers[i].api_key == t->call->api_key) {
            gc_handlers[i].handler(t->gc, t->call);
            free(t);
            return;
        }
    log_error(GC_TAG, "api %d is not a group api", t->call->api_key); /* a routing bug */
    gc_answer(t->call, NULL);
    free(t);
}

int gc_submit(gc_t *gc, const gc_call_t *call) {
    if (atomic_load(&gc->stopping))
        return -1;
    gc_task_t *t = mem_alloc(sizeof *t);
    t->gc = gc;
    t->call = gc_call_copy(call);
    if (evloop_run(gc->loop, gc_dispatch, t) != 0) {
        free(t->call);
        free(t);
        return -1;
    }
    return 0;
}

gc_t *gc_new(const gc_deps_t *deps, char *err, size_t errlen) {
    gc_t *gc = mem_calloc(1, sizeof *gc);
    gc->deps = *deps;
    gc->loop = evloop_new("group", err, errlen);
    if (!gc->loop) {
        free(gc);
        return NULL;
    }
    const config_t *cfg = deps->cfg;
    gc->min_session_ms = config_get_int(cfg, "group.min.session.timeout.ms");
    gc->max_session_ms = config_get_int(cfg, "group.max.session.timeout.ms");
    gc->initial_delay_ms = config_get_int(cfg, "group.initial.rebalance.delay.ms");
    gc->max_size = config_get_int(cfg, "group.max.size");
    gc->metadata_max = config_get_int(cfg, "offset.metadata.max.bytes");
    gc->commit_timeout_ms = config_get_int(cfg, "offsets.commit.timeout.ms");
    gc->load_buffer = config_get_int(cfg, "offsets.load.buffer.size");
    gc->retention_ms = (int64_t)config_get_int(cfg, "offsets.retention.minutes") * 60000;
    gc->retention_check_ms = config_get_long(cfg, "offsets.retention.check.interval.ms");
    gc->compression = config_get_int(cfg, "offsets.topic.compression.codec");
    group_map_init(&gc->groups);
    group_map_init(&gc->commits_in_flight);
    atomic_init(&gc->stopping, false);
    return gc;
}

int gc_start(gc_t *gc, char *err, size_t errlen) {
    if (evloop_start(gc->loop, err, errlen) != 0)
        return -1;
    gc->started = true;
    evloop_run_sync(gc->loop, gc_expiry_start, gc);
    return 0;
}

static void gc_shutdown_on_loop(void *arg) {
    gc_t *gc = arg;
    while (gc->stores)
        gc_store_finish(gc->stores, KERR_NOT_LEADER_OR_FOLLOWER);
    gc_unload(gc, -1);
    evloop_timer_free(gc->expiry_timer);
    gc->expiry_timer = NULL;
}

void gc_stop(gc_t *gc) {
    if (!gc || !gc->started)
        return;
    atomic_store(&gc->stopping, true);
    evloop_run_sync(gc->loop, gc_shutdown_on_loop, gc);
    evloop_stop(gc->loop);
    gc->started = false;
}

void gc_free(gc_t *gc) {
    if (!gc)
        return;
    gc_stop(gc);
    gc_shutdown_on_loop(gc); /* nothing left after a stop; a loop never started may hold groups */
    group_map_free(&gc->groups, NULL);
    group_map_free(&gc->commits_in_flight, free);
    evloop_free(gc->loop);
    free(gc->parts);
    free(gc);
}

int gc_run_sync(gc_t *gc, void (*fn)(void *arg), void *arg) { return evloop_run_sync(gc->loop, fn, arg); }

void gc_stats(gc_t *gc, gc_stats_t *out) {
    memset(out, 0, sizeof *out);
    size_t bucket;
    for (group_map_entry_t *e = group_map_first(&gc->groups, &bucket); e; e = group_map_next(&gc->groups, e, &bucket)) {
        const gc_group_t *g = e->value;
        out->groups++;
        out->offsets += (int64_t)g->offsets.count;
    }
    for (int32_t i = 0; i < gc->nparts; i++) {
        out->loading += gc->parts[i].state == GC_PART_LOADING;
        out->owned += gc->parts[i].state == GC_PART_OWNED;
    }
}
