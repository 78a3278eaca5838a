/*
 * fetcher — the manager's table (which fetcher follows which partition,
 * under its mutex) and each fetcher's loop: one request at a time, an
 * OffsetsForLeaderEpoch for the partitions just taken over, else a
 * ListOffsets for those whose offset went out of the leader's range, else a
 * Fetch for every ready partition (fetcher.h has the rules).
 *
 * A fetcher's partitions list is its loop's. Entries are marked removed
 * rather than dropped while a request is in flight, so the indexes a request
 * remembers stay good until its answer; each (re)add bumps the entry's
 * generation, and an answer for an older generation changes nothing.
 */
#include "replica/fetcher.h"

#include "net/evloop.h"
#include "net/kclient.h"
#include "util/clock.h"
#include "util/logger.h"
#include "util/mem.h"
#include "util/endian.h"

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCHER_TAG "fetcher"

/* --- pure parts ------------------------------------------------------------- */

void fetcher_config_from(const config_t *cfg, int32_t broker_id, fetcher_config_t *out) {
    *out = (fetcher_config_t){
        .broker_id = broker_id,
        .num_fetchers = config_get_int(cfg, "num.replica.fetchers"),
        .max_wait_ms = config_get_int(cfg, "replica.fetch.wait.max.ms"),
        .min_bytes = config_get_int(cfg, "replica.fetch.min.bytes"),
        .max_bytes = config_get_int(cfg, "replica.fetch.response.max.bytes"),
        .partition_max_bytes = config_get_int(cfg, "replica.fetch.max.bytes"),
        .backoff_ms = config_get_int(cfg, "replica.fetch.backoff.ms"),
        .request_timeout_ms = config_get_int(cfg, "replica.socket.timeout.ms"),
        .truncate_on_fetch = config_api_version_rank(config_get_string(cfg, "inter.broker.protocol.version")) >=
                             config_api_version_rank("2.7-IV1"),
    };
}

int16_t fetcher_fetch_version(const fetcher_config_t *cfg) {
    return cfg->truncate_on_fetch ? FETCHER_FETCH_VERSION : FETCHER_FETCH_VERSION_BEFORE_2_7;
}

int32_t fetcher_retry_ms(kerr_t error, int32_t backoff_ms, int32_t attempts) {
    int32_t backoff = backoff_ms > 0 ? backoff_ms : 1;
    if (error != KERR_UNKNOWN_LEADER_EPOCH && error != KERR_NOT_LEADER_OR_FOLLOWER)
        return backoff;
    int64_t ms = FETCHER_LEADER_BEHIND_RETRY_MS;
    for (int32_t i = 1; i < attempts && ms < backoff; i++)
        ms *= 2;
    return ms < backoff ? (int32_t)ms : backoff;
}

int32_t fetcher_id_for(const char *topic, int32_t partition, int32_t num_fetchers) {
    if (num_fetchers <= 1)
        return 0;
    uint32_t h = 0; /* Java's String.hashCode (topic names are ASCII) */
    for (const unsigned char *c = (const unsigned char *)topic; *c; c++)
        h = 31 * h + *c;
    int32_t v = (int32_t)(31 * h + (uint32_t)partition);
    v = v == INT32_MIN ? 0 : (v < 0 ? -v : v); /* Kafka's Utils.abs */
    return v % num_fetchers;
}

/* Requests nest alike — topics of {name, partitions} — so one grouping
 * serves Fetch and OffsetsForLeaderEpoch (the asserts keep it honest). */
typedef struct fetcher_topic_group {
    kp_str_t topic;
    kp_array_t partitions;
} fetcher_topic_group_t;

_Static_assert(offsetof(kp_fetch_req_topic_t, topic) == offsetof(fetcher_topic_group_t, topic) &&
                   offsetof(kp_fetch_req_topic_t, partitions) == offsetof(fetcher_topic_group_t, partitions) &&
                   sizeof(kp_fetch_req_topic_t) == sizeof(fetcher_topic_group_t),
               "Fetch topics are not laid out as fetcher_topic_group_t");
_Static_assert(offsetof(kp_offset_for_leader_epoch_req_topic_t, topic) == offsetof(fetcher_topic_group_t, topic) &&
                   offsetof(kp_offset_for_leader_epoch_req_topic_t, partitions) ==
                       offsetof(fetcher_topic_group_t, partitions) &&
                   sizeof(kp_offset_for_leader_epoch_req_topic_t) == sizeof(fetcher_topic_group_t),
               "OffsetsForLeaderEpoch topics are not laid out as fetcher_topic_group_t");

/* Groups items by topic (topics in order of first appearance, partitions
 * in item order) into *topics, with partition entries of part_size bytes;
 * slot[i] is item i's entry, zeroed, for the caller to fill. Everything
 * comes from arena; the topics borrow the items' names. */
static void fetcher_group_by_topic(const fetcher_fetch_item_t *items, size_t n, size_t part_size, kp_arena_t *arena,
                                   kp_array_t *topics, void **slot) {
    fetcher_topic_group_t *groups = kp_arena_alloc(arena, (n + 1) * sizeof *groups);
    size_t *group_of = kp_arena_alloc(arena, (n + 1) * sizeof *group_of);
    int32_t ngroups = 0;
    for (size_t i = 0; i < n; i++) { /* counts first, then fill */
        int32_t g = 0;
        while (g < ngroups && strcmp(groups[g].topic.ptr, items[i].topic) != 0)
            g++;
        if (g == ngroups)
            groups[ngroups++] = (fetcher_topic_group_t){kp_str(items[i].topic), {0, NULL}};
        groups[g].partitions.count++;
        group_of[i] = (size_t)g;
    }
    for (int32_t g = 0; g < ngroups; g++) {
        groups[g].partitions.items = kp_arena_alloc(arena, (size_t)groups[g].partitions.count * part_size);
        groups[g].partitions.count = 0;
    }
    for (size_t i = 0; i < n; i++) {
        kp_array_t *ps = &groups[group_of[i]].partitions;
        slot[i] = (uint8_t *)ps->items + (size_t)ps->count++ * part_size;
    }
    *topics = (kp_array_t){ngroups, groups};
}

void fetcher_build_fetch(const fetcher_config_t *cfg, const fetcher_fetch_item_t *items, size_t n,
                         kp_arena_t *arena, kp_fetch_req_t *rq) {
    kp_set_defaults(kp_api_find(KP_API_FETCH)->request, FETCHER_FETCH_VERSION, rq);
    rq->replica_id = cfg->broker_id;
    rq->max_wait_ms = cfg->max_wait_ms;
    rq->min_bytes = cfg->min_bytes;
    rq->max_bytes = cfg->max_bytes;
    rq->isolation_level = 0;
    rq->session_id = 0;     /* no fetch session: every request is a full one */
    rq->session_epoch = -1;
    void **slot = kp_arena_alloc(arena, (n + 1) * sizeof *slot);
    fetcher_group_by_topic(items, n, sizeof(kp_fetch_req_partition_t), arena, &rq->topics, slot);
    for (size_t i = 0; i < n; i++)
        *(kp_fetch_req_partition_t *)slot[i] = (kp_fetch_req_partition_t){
            .partition = items[i].partition,
            .current_leader_epoch = items[i].pos.leader_epoch,
            .fetch_offset = items[i].pos.fetch_offset,
            .log_start_offset = items[i].pos.log_start_offset,
            .partition_max_bytes = cfg->partition_max_bytes,
            .last_fetched_epoch = cfg->truncate_on_fetch ? items[i].pos.latest_epoch : -1,
        };
    rq->forgotten_topics_data = (kp_array_t){0, NULL};
}

void fetcher_build_offsets_for_leader_epoch(const fetcher_config_t *cfg, const fetcher_fetch_item_t *items,
                                            size_t n, kp_arena_t *arena, kp_offset_for_leader_epoch_req_t *rq) {
    kp_set_defaults(kp_api_find(KP_API_OFFSET_FOR_LEADER_EPOCH)->request, FETCHER_OFFSETS_FOR_LEADER_EPOCH_VERSION,
                    rq);
    rq->replica_id = cfg->broker_id;
    void **slot = kp_arena_alloc(arena, (n + 1) * sizeof *slot);
    fetcher_group_by_topic(items, n, sizeof(kp_offset_for_leader_epoch_req_partition_t), arena, &rq->topics, slot);
    for (size_t i = 0; i < n; i++)
        *(kp_offset_for_leader_epoch_req_partition_t *)slot[i] = (kp_offset_for_leader_epoch_req_partition_t){
            .partition = items[i].partition,
            .current_leader_epoch = items[i].pos.leader_epoch,
            .leader_epoch = items[i].pos.latest_epoch,
        };
}

size_t fetcher_whole_batches(const uint8_t *data, size_t len) {
    size_t pos = 0;
    /* baseOffset (8) then batchLength (4): the bytes after the length field */
    while (len - pos >= 12) {
        int32_t batch_len = (int32_t)be32_load(data + pos + 8);
        if (batch_len < 0 || (size_t)batch_len > len - pos - 12)
            break;
        pos += 12 + (size_t)batch_len;
    }
    return pos;
}

/* --- a fetcher ---------------------------------------------------------------- */

typedef enum fetcher_reset {
    RESET_NONE = 0,
    RESET_LATEST,   /* OFFSET_OUT_OF_RANGE: ask the leader's log end */
    RESET_EARLIEST, /* the leader's end is not below ours: ask its log start */
} fetcher_reset_t;

typedef struct fetcher_part {
    partition_t *p;
    uint32_t generation;     /* bumped by every add */
    bool removed;            /* dropped when no request is in flight */
    bool truncating;         /* taken over, not yet truncated by leader epochs */
    bool fresh;              /* taken over, not yet looked at by a pump (truncation on fetch) */
    bool parked;             /* FENCED_LEADER_EPOCH: until the next add */
    int32_t leader_behind;   /* answers in a row that the leader lacks our LeaderAndIsr (fetcher_retry_ms) */
    fetcher_reset_t reset;
    int64_t delayed_until;   /* mono ms; 0 = ready */
} fetcher_part_t;

/* What an in-flight request asked, per partition. */
typedef struct fetcher_sent {
    size_t part;             /* index into parts */
    uint32_t generation;
    partition_follower_position_t pos;
    fetcher_reset_t reset;   /* ListOffsets: which offset was asked */
} fetcher_sent_t;

typedef struct fetcher {
    fetcher_manager_t *m;     /* immutable */
    int32_t leader_id;        /* immutable */
    int32_t fetcher_id;       /* immutable */
    evloop_t *loop;           /* immutable */
    size_t assigned;          /* under: m->lock — partitions the table gives it */

    /* owner: loop */
    char *host;
    int32_t port;
    kclient_t *client;
    evloop_timer_t *timer;
    fetcher_part_t *parts;
    size_t nparts, cap;
    bool in_flight;
    bool closing;
    int16_t in_flight_api;
    int64_t sent_ms; /* mono ms the request in flight went out */
    fetcher_sent_t *sent;
    size_t nsent, sent_cap;
    kp_arena_t arena;
} fetcher_t;

/* One row of the manager's table. */
typedef struct fetcher_assign {
    const partition_t *p;
    fetcher_t *f;
} fetcher_assign_t;

struct fetcher_manager {
    fetcher_config_t cfg; /* immutable */
    pthread_mutex_t lock;
    /* under: lock */
    fetcher_t **fetchers;
    size_t nfetchers, fetchers_cap;
    fetcher_assign_t *assign; /* a linear table: LeaderAndIsr is rare, fetch rounds never look here */
    size_t nassign, assign_cap;
    bool stopped;
};

static void fetcher_pump(void *arg);

static void fetcher_delay(fetcher_t *f, fetcher_part_t *fp, int64_t now) {
    fp->delayed_until = now + (f->m->cfg.backoff_ms > 0 ? f->m->cfg.backoff_ms : 1);
}

/* The wait after an error answer for the partition (fetcher_retry_ms). */
static void fetcher_delay_after(fetcher_t *f, fetcher_part_t *fp, kerr_t error, int64_t now) {
    bool behind = error == KERR_UNKNOWN_LEADER_EPOCH || error == KERR_NOT_LEADER_OR_FOLLOWER;
    fp->leader_behind = behind ? fp->leader_behind + 1 : 0;
    fp->delayed_until = now + fetcher_retry_ms(error, f->m->cfg.backoff_ms, fp->leader_behind);
}

static fetcher_part_t *fetcher_sent_part(fetcher_t *f, const fetcher_sent_t *s) {
    fetcher_part_t *fp = &f->parts[s->part];
    return fp->removed || fp->generation != s->generation ? NULL : fp;
}

/* Drops removed entries; only with no request in flight (indexes move). */
static void fetcher_compact(fetcher_t *f) {
    size_t k = 0;
    for (size_t i = 0; i < f->nparts; i++)
        if (!f->parts[i].removed)
            f->parts[k++] = f->parts[i];
    f->nparts = k;
}

static fetcher_sent_t *fetcher_sent_add(fetcher_t *f) {
    if (f->nsent == f->sent_cap) {
        f->sent_cap = f->sent_cap ? f->sent_cap * 2 : 16;
        f->sent = mem_realloc(f->sent, f->sent_cap * sizeof *f->sent);
    }
    return &f->sent[f->nsent++];
}

static void fetcher_finish_request(fetcher_t *f) {
    f->in_flight = false;
    f->nsent = 0;
    kp_arena_reset(&f->arena);
}

static kclient_t *fetcher_client(fetcher_t *f) {
    if (f->client)
        return f->client;
    char client_id[64], label[64];
    snprintf(client_id, sizeof client_id, "broker-%d-fetcher-%d", f->m->cfg.broker_id, f->fetcher_id);
    snprintf(label, sizeof label, "fetcher %d->broker %d", f->fetcher_id, f->leader_id);
    kclient_config_t kc;
    kclient_config_init(&kc);
    kc.host = f->host;
    kc.port = f->port;
    kc.client_id = client_id;
    kc.label = label;
    /* the leader holds a fetch up to max_wait_ms before answering */
    kc.request_timeout_ms = f->m->cfg.request_timeout_ms + (f->m->cfg.max_wait_ms > 0 ? f->m->cfg.max_wait_ms : 0);
    kc.resend_on_disconnect = false;
    f->client = kclient_new(f->loop, &kc);
    return f->client;
}

/* A whole request failed (connection, timeout, undecodable answer): every
 * partition in it waits the backoff, as Kafka's fetcher thread does. A
 * request cut off by our own kclient_free (a new endpoint, closing) is no
 * failure of the partitions. */
static void fetcher_fail_sent(fetcher_t *f, kerr_t err) {
    int64_t now = clock_mono_ms();
    if (err != KERR_BROKER_NOT_AVAILABLE) {
        for (size_t i = 0; i < f->nsent; i++) {
            fetcher_part_t *fp = fetcher_sent_part(f, &f->sent[i]);
            if (fp)
                fetcher_delay(f, fp, now);
        }
    }
    log_debug(FETCHER_TAG, "fetcher %d->broker %d: request failed: %s", f->fetcher_id, f->leader_id, kerr_name(err));
}

/* The sent entry answering (topic, partition): answers come in request
 * order, so the next one is almost always it. */
static fetcher_sent_t *fetcher_match(fetcher_t *f, size_t *cursor, kp_str_t topic, int32_t partition) {
    for (size_t k = 0; k < f->nsent; k++) {
        size_t i = (*cursor + k) % f->nsent;
        const partition_t *p = f->parts[f->sent[i].part].p;
        if (p->index == partition && kp_str_eq(topic, p->topic)) {
            *cursor = i + 1;
            return &f->sent[i];
        }
    }
    return NULL;
}

/* Fetch, ListOffsets and OffsetsForLeaderEpoch answers nest alike —
 * topics of {name, partitions}, each partition answer holding its index at
 * index_at — so one walk serves them all (the asserts keep it honest). */
_Static_assert(offsetof(kp_fetch_resp_topic_t, topic) == offsetof(kp_list_offsets_resp_topic_t, name) &&
                   offsetof(kp_fetch_resp_topic_t, partition_responses) ==
                       offsetof(kp_list_offsets_resp_topic_t, partitions) &&
                   sizeof(kp_fetch_resp_topic_t) == sizeof(kp_list_offsets_resp_topic_t),
               "Fetch and ListOffsets topic answers differ in layout");
_Static_assert(offsetof(kp_fetch_resp_topic_t, topic) == offsetof(kp_offset_for_leader_epoch_resp_topic_t, topic) &&
                   offsetof(kp_fetch_resp_topic_t, partition_responses) ==
                       offsetof(kp_offset_for_leader_epoch_resp_topic_t, partitions) &&
                   sizeof(kp_fetch_resp_topic_t) == sizeof(kp_offset_for_leader_epoch_resp_topic_t),
               "Fetch and OffsetsForLeaderEpoch topic answers differ in layout");

typedef void (*fetcher_answer_fn)(fetcher_t *f, fetcher_sent_t *s, const void *answer, int64_t now);

static void fetcher_each_answer(fetcher_t *f, kp_array_t topics, size_t answer_size, size_t index_at,
                                fetcher_answer_fn fn, int64_t now) {
    size_t cursor = 0;
    const kp_fetch_resp_topic_t *ts = topics.items;
    for (int32_t t = 0; t < topics.count; t++) {
        const uint8_t *answers = ts[t].partition_responses.items;
        for (int32_t i = 0; i < ts[t].partition_responses.count; i++) {
            const uint8_t *answer = answers + (size_t)i * answer_size;
            int32_t index;
            memcpy(&index, answer + index_at, sizeof index);
            fetcher_sent_t *s = fetcher_match(f, &cursor, ts[t].topic, index);
            if (s)
                fn(f, s, answer, now);
        }
    }
}

static bool fetcher_truncate(fetcher_t *f, fetcher_part_t *fp, int32_t leader_epoch, leader_epoch_end_offset_t answer);

/* One partition's part of a Fetch answer. */
static void fetcher_on_partition_data(fetcher_t *f, fetcher_sent_t *s, const void *answer, int64_t now) {
    const kp_fetch_resp_partition_t *r = answer;
    fetcher_part_t *fp = fetcher_sent_part(f, s);
    if (!fp)
        return;
    partition_t *p = fp->p;
    kerr_t e = (kerr_t)r->error_code;
    switch (e) {
    case KERR_NONE: {
        if (r->diverging_epoch.epoch >= 0 || r->diverging_epoch.end_offset >= 0) { /* no data: truncate first */
            fp->leader_behind = 0;
            leader_epoch_end_offset_t where = {r->diverging_epoch.epoch, r->diverging_epoch.end_offset};
            if (!fetcher_truncate(f, fp, s->pos.leader_epoch, where))
                fetcher_delay(f, fp, now);
            return;
        }
        size_t len = r->record_set.len > 0 ? fetcher_whole_batches(r->record_set.data, (size_t)r->record_set.len) : 0;
        fp->leader_behind = 0;
        kerr_t ae = partition_follower_append(p, s->pos.leader_epoch, s->pos.fetch_offset, r->record_set.data, len,
                                              r->high_watermark, r->log_start_offset, clock_wall_ms(), NULL);
        if (ae == KERR_NONE || ae == KERR_FENCED_LEADER_EPOCH || ae == KERR_NOT_LEADER_OR_FOLLOWER)
            return; /* done, or stale: the next round starts from the partition's state */
        log_warn(FETCHER_TAG, "%s-%d: appending %zu bytes fetched from broker %d at %" PRId64 " failed: %s", p->topic,
                 p->index, len, f->leader_id, s->pos.fetch_offset, kerr_name(ae));
        fetcher_delay(f, fp, now);
        return;
    }
    case KERR_OFFSET_OUT_OF_RANGE:
        log_info(FETCHER_TAG, "%s-%d: offset %" PRId64 " out of range on leader %d: asking its offsets", p->topic,
                 p->index, s->pos.fetch_offset, f->leader_id);
        fp->reset = RESET_LATEST;
        return;
    case KERR_FENCED_LEADER_EPOCH:
        log_info(FETCHER_TAG, "%s-%d: leader %d has a newer epoch than our %d: waiting for the LeaderAndIsr", p->topic,
                 p->index, f->leader_id, s->pos.leader_epoch);
        fp->parked = true;
        return;
    default:
        log_debug(FETCHER_TAG, "%s-%d: leader %d answered %s: retrying after the backoff", p->topic, p->index,
                  f->leader_id, kerr_name(e));
        fetcher_delay_after(f, fp, e, now);
        return;
    }
}

static void fetcher_on_fetch(fetcher_t *f, const kp_fetch_resp_t *r) {
    int64_t now = clock_mono_ms();
    if (r->error_code != KERR_NONE) {
        fetcher_fail_sent(f, (kerr_t)r->error_code);
        return;
    }
    fetcher_each_answer(f, r->responses, sizeof(kp_fetch_resp_partition_t), offsetof(kp_fetch_resp_partition_t, partition),
                        fetcher_on_partition_data, now);
}

/* The partition a ListOffsets or OffsetsForLeaderEpoch answer concerns, or
 * NULL when there is nothing more to do with it: stale (removed, re-added),
 * fenced by a newer epoch (parked until the next add, as Kafka's
 * onPartitionFenced), or any other error (retried after the backoff). */
static fetcher_part_t *fetcher_answered_part(fetcher_t *f, fetcher_sent_t *s, kerr_t e, int64_t now) {
    fetcher_part_t *fp = fetcher_sent_part(f, s);
    if (!fp || e == KERR_NONE)
        return fp;
    if (e == KERR_FENCED_LEADER_EPOCH) {
        fp->parked = true;
        return NULL;
    }
    log_debug(FETCHER_TAG, "%s-%d: leader %d answered %s: retrying after the backoff", fp->p->topic, fp->p->index,
              f->leader_id, kerr_name(e));
    fetcher_delay_after(f, fp, e, now);
    return NULL;
}

/* One partition's part of a ListOffsets answer (Kafka's
 * fetchOffsetAndTruncate, one step). */
static void fetcher_on_offset(fetcher_t *f, fetcher_sent_t *s, const void *answer, int64_t now) {
    const kp_list_offsets_resp_partition_t *r = answer;
    fetcher_part_t *fp = fetcher_answered_part(f, s, (kerr_t)r->error_code, now);
    if (!fp)
        return;
    if (r->offset < 0) {
        fetcher_delay(f, fp, now);
        return;
    }
    if (s->reset == RESET_LATEST && r->offset >= s->pos.fetch_offset) {
        fp->reset = RESET_EARLIEST; /* not an unclean election: is our end below its start? */
        return;
    }
    int64_t leo;
    kerr_t e = s->reset == RESET_LATEST ? partition_follower_reset(fp->p, s->pos.leader_epoch, r->offset, -1, clock_wall_ms(), &leo)
                                 : partition_follower_reset(fp->p, s->pos.leader_epoch, -1, r->offset, clock_wall_ms(), &leo);
    if (e != KERR_NONE && e != KERR_FENCED_LEADER_EPOCH && e != KERR_NOT_LEADER_OR_FOLLOWER) {
        log_warn(FETCHER_TAG, "%s-%d: truncating after an out-of-range fetch failed: %s", fp->p->topic, fp->p->index,
                 kerr_name(e));
        fetcher_delay(f, fp, now);
        return;
    }
    fp->reset = RESET_NONE;
}

static void fetcher_on_list_offsets(fetcher_t *f, const kp_list_offsets_resp_t *r) {
    fetcher_each_answer(f, r->topics, sizeof(kp_list_offsets_resp_partition_t),
                        offsetof(kp_list_offsets_resp_partition_t, partition_index), fetcher_on_offset, clock_mono_ms());
}

/* Truncates a partition taken over by the leader's word on its latest
 * epoch (or, with none, to its HW); false when that failed for good for now
 * (the partition then waits the backoff). */
static bool fetcher_truncate(fetcher_t *f, fetcher_part_t *fp, int32_t leader_epoch, leader_epoch_end_offset_t answer) {
    bool complete = false;
    kerr_t e = partition_follower_truncate(fp->p, leader_epoch, answer, &complete);
    if (e == KERR_FENCED_LEADER_EPOCH || e == KERR_NOT_LEADER_OR_FOLLOWER)
        return true; /* stale: a new add or the removal is on its way */
    if (e != KERR_NONE) {
        log_warn(FETCHER_TAG, "%s-%d: truncating as follower of broker %d failed: %s", fp->p->topic, fp->p->index,
                 f->leader_id, kerr_name(e));
        return false;
    }
    fp->truncating = !complete;
    return true;
}

/* One partition's part of an OffsetsForLeaderEpoch answer (Kafka's
 * maybeTruncateToEpochEndOffsets). */
static void fetcher_on_epoch_end(fetcher_t *f, fetcher_sent_t *s, const void *answer, int64_t now) {
    const kp_offset_for_leader_epoch_resp_partition_t *r = answer;
    fetcher_part_t *fp = fetcher_answered_part(f, s, (kerr_t)r->error_code, now);
    if (fp && !fetcher_truncate(f, fp, s->pos.leader_epoch, (leader_epoch_end_offset_t){r->leader_epoch, r->end_offset}))
        fetcher_delay(f, fp, now);
}

static void fetcher_on_epoch_ends(fetcher_t *f, const kp_offset_for_leader_epoch_resp_t *r) {
    fetcher_each_answer(f, r->topics, sizeof(kp_offset_for_leader_epoch_resp_partition_t),
                        offsetof(kp_offset_for_leader_epoch_resp_partition_t, partition), fetcher_on_epoch_end,
                        clock_mono_ms());
}

static void fetcher_on_response(void *ctx, kerr_t err, const uint8_t *payload, size_t len) {
    fetcher_t *f = ctx;
    log_debug(FETCHER_TAG, "fetcher %d->broker %d: api %d answered (%zu partitions, %zu bytes) after %" PRId64 " ms: %s",
              f->fetcher_id, f->leader_id, f->in_flight_api, f->nsent, len, clock_mono_ms() - f->sent_ms,
              kerr_name(err));
    if (err == KERR_NONE && !f->closing) {
        kp_arena_t arena;
        kp_arena_init(&arena);
        void *body = NULL;
        char msg[256] = "";
        err = kclient_decode(f->client, payload, len, &arena, &body, msg, sizeof msg);
        if (err == KERR_NONE && f->in_flight_api == KP_API_FETCH)
            fetcher_on_fetch(f, body);
        else if (err == KERR_NONE && f->in_flight_api == KP_API_LIST_OFFSETS)
            fetcher_on_list_offsets(f, body);
        else if (err == KERR_NONE)
            fetcher_on_epoch_ends(f, body);
        else
            log_warn(FETCHER_TAG, "fetcher %d->broker %d: bad answer: %s", f->fetcher_id, f->leader_id, msg);
        kp_arena_free(&arena);
    }
    if (err != KERR_NONE)
        fetcher_fail_sent(f, err);
    fetcher_finish_request(f);
    if (!f->closing)
        fetcher_pump(f);
}

static bool fetcher_send(fetcher_t *f, int16_t api, int16_t version, const void *body) {
    kclient_t *c = fetcher_client(f);
    f->in_flight = true;
    f->in_flight_api = api;
    f->sent_ms = clock_mono_ms();
    if (!c || kclient_send(c, api, version, body, fetcher_on_response, f) != 0) {
        fetcher_fail_sent(f, KERR_UNKNOWN_SERVER_ERROR);
        fetcher_finish_request(f);
        return false;
    }
    return true;
}

/* ListOffsets for the partitions resolving an OFFSET_OUT_OF_RANGE: the
 * leader's end (LATEST) or start (EARLIEST) per partition, one request. */
static void fetcher_send_list_offsets(fetcher_t *f) {
    kp_list_offsets_req_t rq;
    kp_set_defaults(kp_api_find(KP_API_LIST_OFFSETS)->request, FETCHER_LIST_OFFSETS_VERSION, &rq);
    rq.replica_id = f->m->cfg.broker_id; /* a replica: "latest" is the leader's LEO, not its HW */
    kp_list_offsets_req_topic_t *ts = kp_arena_alloc(&f->arena, (f->nsent + 1) * sizeof *ts);
    for (size_t i = 0; i < f->nsent; i++) {
        const partition_t *p = f->parts[f->sent[i].part].p;
        kp_list_offsets_req_partition_t *lp = kp_arena_alloc(&f->arena, sizeof *lp);
        *lp = (kp_list_offsets_req_partition_t){
            .partition_index = p->index,
            .current_leader_epoch = f->sent[i].pos.leader_epoch,
            .timestamp = f->sent[i].reset == RESET_LATEST ? LOG_TIMESTAMP_LATEST : LOG_TIMESTAMP_EARLIEST,
            .max_num_offsets = 1,
        };
        ts[i] = (kp_list_offsets_req_topic_t){kp_str(p->topic), {1, lp}};
    }
    rq.topics = (kp_array_t){(int32_t)f->nsent, ts};
    fetcher_send(f, KP_API_LIST_OFFSETS, FETCHER_LIST_OFFSETS_VERSION, &rq);
}

/* The items of the request being built: each sent partition's position. */
static fetcher_fetch_item_t *fetcher_sent_items(fetcher_t *f) {
    fetcher_fetch_item_t *items = kp_arena_alloc(&f->arena, (f->nsent + 1) * sizeof *items);
    for (size_t i = 0; i < f->nsent; i++) {
        const partition_t *p = f->parts[f->sent[i].part].p;
        items[i] = (fetcher_fetch_item_t){p->topic, p->index, f->sent[i].pos};
    }
    return items;
}

static void fetcher_send_fetch(fetcher_t *f) {
    kp_fetch_req_t rq;
    fetcher_build_fetch(&f->m->cfg, fetcher_sent_items(f), f->nsent, &f->arena, &rq);
    fetcher_send(f, KP_API_FETCH, fetcher_fetch_version(&f->m->cfg), &rq);
}

static void fetcher_send_offsets_for_leader_epoch(fetcher_t *f) {
    kp_offset_for_leader_epoch_req_t rq;
    fetcher_build_offsets_for_leader_epoch(&f->m->cfg, fetcher_sent_items(f), f->nsent, &f->arena, &rq);
    fetcher_send(f, KP_API_OFFSET_FOR_LEADER_EPOCH, FETCHER_OFFSETS_FOR_LEADER_EPOCH_VERSION, &rq);
}

/* What a partition needs next, in the order they are sent: a partition
 * taken over truncates before anything else (Kafka's maybeTruncate runs
 * before maybeFetch), an out-of-range one resolves before fetching again
 * (its fetches would only fail). */
typedef enum fetcher_need {
    NEED_EPOCH_END = 0, /* OffsetsForLeaderEpoch */
    NEED_OFFSET,        /* ListOffsets */
    NEED_DATA,          /* Fetch */
} fetcher_need_t;

static fetcher_need_t fetcher_part_need(const fetcher_part_t *fp) {
    return fp->truncating ? NEED_EPOCH_END : fp->reset != RESET_NONE ? NEED_OFFSET : NEED_DATA;
}

/* The next request: for every ready partition with the most urgent need
 * (above), one request; with nothing ready, a timer for the first
 * partition whose backoff ends. A partition taken over with no epoch of its
 * own has nothing to ask: it truncates to its HW here, as Kafka does. */
static void fetcher_pump(void *arg) {
    fetcher_t *f = arg;
    if (f->closing || f->in_flight)
        return;
    fetcher_compact(f);
    int64_t now = clock_mono_ms(), next = INT64_MAX;
    fetcher_need_t need = NEED_DATA;
    for (size_t i = 0; i < f->nparts; i++) {
        fetcher_part_t *fp = &f->parts[i];
        if (fp->parked)
            continue;
        if (fp->delayed_until > now) {
            next = fp->delayed_until < next ? fp->delayed_until : next;
            continue;
        }
        fp->delayed_until = 0;
        partition_follower_position_t pos;
        kerr_t e = partition_follower_position(fp->p, &pos);
        if (e == KERR_NONE && fp->fresh) {
            fp->fresh = false; /* with epochs, the first fetch tells whether we diverged */
            if (f->m->cfg.truncate_on_fetch && pos.latest_epoch != LEADER_EPOCH_UNDEFINED_EPOCH)
                fp->truncating = false;
        }
        if (e == KERR_NONE && fp->truncating && pos.latest_epoch == LEADER_EPOCH_UNDEFINED_EPOCH) {
            leader_epoch_end_offset_t unknown = {LEADER_EPOCH_UNDEFINED_EPOCH, LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET};
            if (!fetcher_truncate(f, fp, pos.leader_epoch, unknown) || fp->truncating)
                e = KERR_KAFKA_STORAGE_ERROR;
            else
                e = partition_follower_position(fp->p, &pos);
        }
        if (e != KERR_NONE) {
            fetcher_delay(f, fp, now); /* not following any more (its removal is on the way), or a failed truncation */
            next = fp->delayed_until < next ? fp->delayed_until : next;
            continue;
        }
        fetcher_need_t n = fetcher_part_need(fp);
        if (n < need) {
            need = n;
            f->nsent = 0; /* a more urgent need goes first, alone */
        }
        if (n == need)
            *fetcher_sent_add(f) = (fetcher_sent_t){i, fp->generation, pos, fp->reset};
    }
    if (f->nsent > 0) {
        evloop_timer_cancel(f->timer);
        if (need == NEED_EPOCH_END)
            fetcher_send_offsets_for_leader_epoch(f);
        else if (need == NEED_OFFSET)
            fetcher_send_list_offsets(f);
        else
            fetcher_send_fetch(f);
        return;
    }
    if (next != INT64_MAX)
        evloop_timer_arm(f->timer, next - now);
}

/* --- tasks posted to a fetcher's loop -------------------------------------------- */

typedef struct fetcher_task {
    fetcher_t *f;
    partition_t *p;
    char *host; /* add only */
    int32_t port;
} fetcher_task_t;

static void fetcher_task_free(fetcher_task_t *t) {
    free(t->host);
    free(t);
}

static fetcher_part_t *fetcher_find(fetcher_t *f, const partition_t *p) {
    for (size_t i = 0; i < f->nparts; i++)
        if (f->parts[i].p == p)
            return &f->parts[i];
    return NULL;
}

static void fetcher_task_add(void *arg) {
    fetcher_task_t *t = arg;
    fetcher_t *f = t->f;
    if (!f->closing) {
        if (!f->host || strcmp(f->host, t->host) != 0 || f->port != t->port) {
            if (f->host)
                log_info(FETCHER_TAG, "fetcher %d->broker %d: leader moved to %s:%d", f->fetcher_id, f->leader_id,
                         t->host, t->port);
            free(f->host);
            f->host = t->host;
            t->host = NULL;
            f->port = t->port;
            kclient_t *old = f->client;
            f->client = NULL;
            kclient_free(old); /* its request, if any, ends with BROKER_NOT_AVAILABLE */
        }
        fetcher_part_t *fp = fetcher_find(f, t->p);
        if (!fp) {
            if (f->nparts == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 8;
                f->parts = mem_realloc(f->parts, f->cap * sizeof *f->parts);
            }
            fp = &f->parts[f->nparts++];
            *fp = (fetcher_part_t){.p = t->p};
        }
        *fp = (fetcher_part_t){.p = t->p, .generation = fp->generation + 1, .truncating = true, .fresh = true};
        log_info(FETCHER_TAG, "%s-%d: fetching from broker %d (%s:%d) with fetcher %d", t->p->topic, t->p->index,
                 f->leader_id, f->host, f->port, f->fetcher_id);
        fetcher_pump(f);
    }
    fetcher_task_free(t);
}

static void fetcher_task_remove(void *arg) {
    fetcher_task_t *t = arg;
    fetcher_part_t *fp = fetcher_find(t->f, t->p);
    if (fp) {
        fp->removed = true;
        fp->generation++;
    }
    fetcher_task_free(t);
}

/* Last task on a fetcher's loop: what belongs to the loop goes. */
static void fetcher_task_close(void *arg) {
    fetcher_t *f = arg;
    f->closing = true;
    kclient_t *c = f->client;
    f->client = NULL;
    kclient_free(c);
    evloop_timer_free(f->timer);
    f->timer = NULL;
}

/* --- the manager -------------------------------------------------------------- */

fetcher_manager_t *fetcher_manager_new(const fetcher_config_t *cfg) {
    fetcher_manager_t *m = mem_calloc(1, sizeof *m);
    m->cfg = *cfg;
    if (m->cfg.num_fetchers < 1)
        m->cfg.num_fetchers = 1;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

/* Under m->lock. */
static fetcher_t *fetcher_get(fetcher_manager_t *m, int32_t leader_id, int32_t fetcher_id) {
    for (size_t i = 0; i < m->nfetchers; i++)
        if (m->fetchers[i]->leader_id == leader_id && m->fetchers[i]->fetcher_id == fetcher_id)
            return m->fetchers[i];
    return NULL;
}

static void fetcher_free(fetcher_t *f) {
    evloop_free(f->loop);
    free(f->host);
    free(f->parts);
    free(f->sent);
    kp_arena_free(&f->arena);
    free(f);
}

static void fetcher_timer_init(void *arg) {
    fetcher_t *f = arg;
    f->timer = evloop_timer_new(f->loop, fetcher_pump, f);
}

/* Under m->lock. */
static fetcher_t *fetcher_start(fetcher_manager_t *m, int32_t leader_id, int32_t fetcher_id) {
    fetcher_t *f = mem_calloc(1, sizeof *f);
    f->m = m;
    f->leader_id = leader_id;
    f->fetcher_id = fetcher_id;
    kp_arena_init(&f->arena);
    char name[32], err[256] = "";
    snprintf(name, sizeof name, "fetch-%d-%d", leader_id, fetcher_id);
    f->loop = evloop_new(name, err, sizeof err);
    if (!f->loop || evloop_start(f->loop, err, sizeof err) != 0 || evloop_run(f->loop, fetcher_timer_init, f) != 0) {
        log_error(FETCHER_TAG, "cannot start fetcher %d for broker %d: %s", fetcher_id, leader_id, err);
        fetcher_free(f);
        return NULL;
    }
    if (m->nfetchers == m->fetchers_cap) {
        m->fetchers_cap = m->fetchers_cap ? m->fetchers_cap * 2 : 4;
        m->fetchers = mem_realloc(m->fetchers, m->fetchers_cap * sizeof *m->fetchers);
    }
    m->fetchers[m->nfetchers++] = f;
    return f;
}

/* Under m->lock: the row of p, or NULL. */
static fetcher_assign_t *fetcher_assign_find(fetcher_manager_t *m, const partition_t *p) {
    for (size_t i = 0; i < m->nassign; i++)
        if (m->assign[i].p == p)
            return &m->assign[i];
    return NULL;
}

/* Under m->lock: takes p off its fetcher, if any. */
static void fetcher_unassign(fetcher_manager_t *m, partition_t *p) {
    fetcher_assign_t *a = fetcher_assign_find(m, p);
    if (!a)
        return;
    fetcher_task_t *t = mem_calloc(1, sizeof *t);
    *t = (fetcher_task_t){.f = a->f, .p = p};
    if (evloop_run(a->f->loop, fetcher_task_remove, t) != 0)
        fetcher_task_free(t);
    a->f->assigned--;
    *a = m->assign[--m->nassign];
}

int fetcher_manager_add(fetcher_manager_t *m, partition_t *p, const fetcher_leader_t *leader) {
    int32_t fid = fetcher_id_for(p->topic, p->index, m->cfg.num_fetchers);
    pthread_mutex_lock(&m->lock);
    int rc = -1;
    if (!m->stopped) {
        fetcher_unassign(m, p);
        fetcher_t *f = fetcher_get(m, leader->id, fid);
        if (!f)
            f = fetcher_start(m, leader->id, fid);
        if (f) {
            fetcher_task_t *t = mem_calloc(1, sizeof *t);
            *t = (fetcher_task_t){.f = f, .p = p, .host = mem_strdup(leader->host ? leader->host : ""),
                                  .port = leader->port};
            if (evloop_run(f->loop, fetcher_task_add, t) == 0) {
                if (m->nassign == m->assign_cap) {
                    m->assign_cap = m->assign_cap ? m->assign_cap * 2 : 16;
                    m->assign = mem_realloc(m->assign, m->assign_cap * sizeof *m->assign);
                }
                m->assign[m->nassign++] = (fetcher_assign_t){p, f};
                f->assigned++;
                rc = 0;
            } else {
                fetcher_task_free(t);
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void fetcher_manager_remove(fetcher_manager_t *m, partition_t *p) {
    pthread_mutex_lock(&m->lock);
    fetcher_unassign(m, p);
    pthread_mutex_unlock(&m->lock);
}

/* Stops fetchers taken out of the table: the close task is queued behind
 * whatever was posted to them before, then the loop ends and joins. */
static void fetcher_stop_all(fetcher_t **fs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        evloop_run(fs[i]->loop, fetcher_task_close, fs[i]);
        evloop_stop(fs[i]->loop);
        log_info(FETCHER_TAG, "fetcher %d for broker %d stopped", fs[i]->fetcher_id, fs[i]->leader_id);
        fetcher_free(fs[i]);
    }
}

void fetcher_manager_shutdown_idle(fetcher_manager_t *m) {
    pthread_mutex_lock(&m->lock);
    fetcher_t **idle = mem_alloc((m->nfetchers + 1) * sizeof *idle);
    size_t nidle = 0, k = 0;
    for (size_t i = 0; i < m->nfetchers; i++) {
        if (m->fetchers[i]->assigned == 0)
            idle[nidle++] = m->fetchers[i];
        else
            m->fetchers[k++] = m->fetchers[i];
    }
    m->nfetchers = k;
    pthread_mutex_unlock(&m->lock);
    fetcher_stop_all(idle, nidle);
    free(idle);
}

void fetcher_manager_stop(fetcher_manager_t *m) {
    pthread_mutex_lock(&m->lock);
    m->stopped = true;
    fetcher_t **all = m->fetchers;
    size_t n = m->nfetchers;
    m->fetchers = NULL;
    m->nfetchers = m->fetchers_cap = 0;
    m->nassign = 0;
    pthread_mutex_unlock(&m->lock);
    fetcher_stop_all(all, n);
    free(all);
}

void fetcher_manager_free(fetcher_manager_t *m) {
    if (!m)
        return;
    fetcher_manager_stop(m);
    pthread_mutex_destroy(&m->lock);
    free(m->assign);
    free(m);
}

size_t fetcher_manager_count(fetcher_manager_t *m) {
    pthread_mutex_lock(&m->lock);
    size_t n = m->nfetchers;
    pthread_mutex_unlock(&m->lock);
    return n;
}

bool fetcher_manager_assignment(fetcher_manager_t *m, const partition_t *p, int32_t *leader_id, int32_t *fetcher_id) {
    pthread_mutex_lock(&m->lock);
    fetcher_assign_t *a = fetcher_assign_find(m, p);
    if (a) {
        *leader_id = a->f->leader_id;
        *fetcher_id = a->f->fetcher_id;
    }
    pthread_mutex_unlock(&m->lock);
    return a != NULL;
}
