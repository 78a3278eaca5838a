/* Partitions and the replica manager: roles from LeaderAndIsr with epoch
 * fencing, appends, the high watermark from followers' fetches, waiters,
 * StopReplica; the leader side of replication (storage-and-replication.md
 * §7): follower catch-up times, the HW rule, ISR shrink and expand through
 * a fake ISR sink, their outcomes, and the acks=all check. */
#include "unit.h"

#include "log/record_batch.h"
#include "replica/replica_manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1600000000000LL
#define LAG 10000 /* replica.lag.time.max.ms in these tests */

typedef struct rm_fixture {
    char *root;
    config_t *cfg;
    log_manager_t *lm;
    replica_manager_t *rm;
} rm_fixture_t;

static void fx_init(rm_fixture_t *fx) {
    memset(fx, 0, sizeof *fx);
    fx->root = unit_mkdtemp();
    fx->cfg = config_new();
    char err[512];
    CU_ASSERT_EQUAL_FATAL(config_set(fx->cfg, "log.dirs", fx->root, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(config_set(fx->cfg, "replica.lag.time.max.ms", "10000", err, sizeof err), 0);
    log_manager_opts_t o = {.now_ms = T0, .log_lock = replica_manager_lock_log, .log_lock_ctx = &fx->rm};
    CU_ASSERT_EQUAL_FATAL(log_manager_open(fx->cfg, 1, &o, &fx->lm, err, sizeof err), KERR_NONE);
    fx->rm = replica_manager_new(fx->lm, 1, fx->cfg);
}

static void fx_done(rm_fixture_t *fx) {
    log_manager_close(fx->lm, true);
    replica_manager_free(fx->rm);
    config_free(fx->cfg);
    unit_rmtree(fx->root);
    free(fx->root);
}

static kerr_t lead(rm_fixture_t *fx, const char *topic, int32_t part, int32_t epoch, const int32_t *isr,
                   int32_t nisr) {
    static const int32_t replicas[] = {1, 2, 3};
    partition_state_t st = {.controller_epoch = 1, .leader_id = 1, .leader_epoch = epoch, .zk_version = 0,
                            .replicas = replicas, .nreplicas = 3, .isr = isr, .nisr = nisr};
    return replica_manager_apply(fx->rm, topic, part, &st, NULL, T0);
}

/* At now_ms. */
static kerr_t produce_at(partition_t *p, int n, int64_t now_ms, int64_t *base) {
    record_input_t recs[8];
    for (int i = 0; i < n; i++)
        recs[i] = (record_input_t){.key_len = -1, .value = "x", .value_len = 1, .timestamp = T0};
    batch_build_opts_t bo = {.partition_leader_epoch = -1, .compression = COMPRESSION_NONE, .producer_id = -1,
                             .producer_epoch = -1, .base_sequence = -1};
    buf_t b = BUF_INIT;
    record_batch_build(&b, &bo, recs, n);
    partition_append_result_t r;
    kerr_t e = partition_append(p, b.data, b.len, 0, now_ms, &r);
    if (e == KERR_NONE && base)
        *base = r.base_offset;
    buf_free(&b);
    return e;
}

static kerr_t produce(partition_t *p, int n, int64_t *base) { return produce_at(p, n, T0, base); }

/* partition_read, closing the range's fd it hands over (owned by the caller). */
static kerr_t read_closing(partition_t *p, int64_t offset, uint32_t max_bytes, const partition_reader_t *who,
                           partition_read_result_t *r) {
    kerr_t e = partition_read(p, offset, max_bytes, true, who, r);
    if (r->data.fd >= 0) {
        close(r->data.fd);
        r->data.fd = -1;
    }
    return e;
}

static void test_leader_alone_hw_follows_leo(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1};
    CU_ASSERT_EQUAL(lead(&fx, "orders", 0, 0, isr, 1), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "orders", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->is_leader);
    int64_t base = -1;
    CU_ASSERT_EQUAL(produce(p, 3, &base), KERR_NONE);
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_EQUAL(produce(p, 2, &base), KERR_NONE);
    CU_ASSERT_EQUAL(base, 3);
    partition_read_result_t r;
    CU_ASSERT_EQUAL(read_closing(p, 0, 1 << 20, &(partition_reader_t){-1, -1, -1, T0, false, -1}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 5);
    CU_ASSERT_EQUAL(r.log_end_offset, 5);
    CU_ASSERT(r.data.length > 0);
    /* The epoch cache starts epoch 0 at offset 0. */
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(log_leader_epochs(p->log)), 0);
    fx_done(&fx);
}

/* With followers in the ISR the high watermark waits for their fetches. */
static void test_hw_from_follower_fetches(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1, 2};
    CU_ASSERT_EQUAL(lead(&fx, "orders", 1, 5, isr, 2), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "orders", 1);
    CU_ASSERT_EQUAL(produce(p, 4, NULL), KERR_NONE);
    /* acks=all with min.insync.replicas=3 and an ISR of 2: refused, nothing written. */
    record_input_t one = {.key_len = -1, .value = "y", .value_len = 1, .timestamp = T0};
    batch_build_opts_t bo = {.partition_leader_epoch = -1, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    buf_t nb = BUF_INIT;
    record_batch_build(&nb, &bo, &one, 1);
    partition_append_result_t ar;
    CU_ASSERT_EQUAL(partition_append(p, nb.data, nb.len, 3, T0, &ar), KERR_NOT_ENOUGH_REPLICAS);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 4);
    buf_free(&nb);
    partition_read_result_t r;
    CU_ASSERT_EQUAL(read_closing(p, 0, 1 << 20, &(partition_reader_t){-1, -1, -1, T0, false, -1}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 0);
    CU_ASSERT_EQUAL(r.data.length, 0); /* nothing committed yet */
    /* Follower 2 fetches at 0 (has nothing), then at 4 (has it all). */
    CU_ASSERT_EQUAL(read_closing(p, 0, 1 << 20, &(partition_reader_t){2, 5, -1, T0, false, -1}, &r), KERR_NONE);
    CU_ASSERT(r.data.length > 0); /* followers read up to the LEO */
    CU_ASSERT_EQUAL(r.high_watermark, 0);
    CU_ASSERT_EQUAL(read_closing(p, 4, 1 << 20, &(partition_reader_t){2, 5, -1, T0, false, -1}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 4);
    /* Replica 3 is not in the ISR: its lag does not hold the HW back. */
    CU_ASSERT_EQUAL(read_closing(p, 0, 1 << 20, &(partition_reader_t){-1, -1, -1, T0, false, -1}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 4);
    /* Stale and future leader epochs are refused. */
    CU_ASSERT_EQUAL(read_closing(p, 0, 1 << 20, &(partition_reader_t){2, 4, -1, T0, false, -1}, &r), KERR_FENCED_LEADER_EPOCH);
    CU_ASSERT_EQUAL(read_closing(p, 0, 1 << 20, &(partition_reader_t){2, 6, -1, T0, false, -1}, &r), KERR_UNKNOWN_LEADER_EPOCH);
    fx_done(&fx);
}

static void test_epoch_fencing_and_roles(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1, 2, 3};
    CU_ASSERT_EQUAL(replica_manager_check_controller_epoch(fx.rm, 3), KERR_NONE);
    CU_ASSERT_EQUAL(replica_manager_check_controller_epoch(fx.rm, 2), KERR_STALE_CONTROLLER_EPOCH);
    CU_ASSERT_EQUAL(replica_manager_check_controller_epoch(fx.rm, 3), KERR_NONE);
    CU_ASSERT_EQUAL(lead(&fx, "t", 0, 7, isr, 3), KERR_NONE);
    CU_ASSERT_EQUAL(lead(&fx, "t", 0, 7, isr, 3), KERR_STALE_CONTROLLER_EPOCH); /* same epoch */
    CU_ASSERT_EQUAL(lead(&fx, "t", 0, 6, isr, 3), KERR_STALE_CONTROLLER_EPOCH);
    /* Epoch 8 makes broker 2 the leader: this broker follows and refuses produce. */
    static const int32_t replicas[] = {1, 2, 3};
    partition_state_t st = {.controller_epoch = 3, .leader_id = 2, .leader_epoch = 8, .replicas = replicas,
                            .nreplicas = 3, .isr = isr, .nisr = 3};
    CU_ASSERT_EQUAL(replica_manager_apply(fx.rm, "t", 0, &st, NULL, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "t", 0);
    CU_ASSERT(!p->is_leader);
    CU_ASSERT_EQUAL(produce(p, 1, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
    partition_read_result_t r;
    CU_ASSERT_EQUAL(read_closing(p, 0, 100, &(partition_reader_t){-1, -1, -1, T0, false, -1}, &r), KERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_PTR_NULL(replica_manager_get(fx.rm, "t", 1));
    fx_done(&fx);
}

typedef struct counting_waiter {
    partition_waiter_t w;
    int woken;
} counting_waiter_t;

static void count_wake(partition_waiter_t *w) { ((counting_waiter_t *)w)->woken++; }

static void test_waiters_woken_on_append(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1};
    lead(&fx, "w", 0, 0, isr, 1);
    partition_t *p = replica_manager_get(fx.rm, "w", 0);
    counting_waiter_t cw = {.w = {.wake = count_wake}};
    partition_watch(p, &cw.w);
    CU_ASSERT_EQUAL(partition_bytes_available(p, 0, -1), 0);
    produce(p, 1, NULL);
    CU_ASSERT_EQUAL(cw.woken, 1);
    CU_ASSERT(partition_bytes_available(p, 0, -1) > 0);
    partition_unwatch(p, &cw.w);
    produce(p, 1, NULL);
    CU_ASSERT_EQUAL(cw.woken, 1);
    fx_done(&fx);
}

/* After a controlled shutdown: a resigned leader wakes its waiters, and an
 * acks=all wait ends NOT_LEADER_OR_FOLLOWER; a follower has nothing to
 * resign. */
static void test_resign_leadership(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1, 2};
    lead(&fx, "r", 0, 3, isr, 2);
    partition_t *p = replica_manager_get(fx.rm, "r", 0);
    CU_ASSERT_EQUAL(produce(p, 2, NULL), KERR_NONE);
    kerr_t e = KERR_UNKNOWN_SERVER_ERROR;
    CU_ASSERT(!partition_check_acks(p, 2, 1, &e)); /* follower 2 has not fetched */
    counting_waiter_t cw = {.w = {.wake = count_wake}};
    partition_watch(p, &cw.w);
    CU_ASSERT(partition_resign_leadership(p));
    CU_ASSERT_EQUAL(cw.woken, 1);
    CU_ASSERT(partition_check_acks(p, 2, 1, &e));
    CU_ASSERT_EQUAL(e, KERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_EQUAL(produce(p, 1, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT(!partition_resign_leadership(p)); /* nothing left to resign */
    CU_ASSERT_EQUAL(cw.woken, 1);
    partition_unwatch(p, &cw.w);
    fx_done(&fx);
}

static void test_stop_replica_deletes(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1};
    lead(&fx, "gone", 0, 0, isr, 1);
    partition_t *p = replica_manager_get(fx.rm, "gone", 0);
    produce(p, 2, NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/gone-0", fx.root);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL(replica_manager_stop(fx.rm, "gone", 0, true), KERR_NONE);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL(produce(p, 1, NULL), KERR_NOT_LEADER_OR_FOLLOWER); /* the object stays valid */
    CU_ASSERT_EQUAL(replica_manager_stop(fx.rm, "never", 0, true), KERR_NONE);
    /* Re-created afterwards, it starts empty. */
    CU_ASSERT_EQUAL(lead(&fx, "gone", 0, 1, isr, 1), KERR_NONE);
    int64_t base = -1;
    CU_ASSERT_EQUAL(produce(p, 1, &base), KERR_NONE);
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_EQUAL(replica_manager_tick_logs(fx.rm, T0 + 3600 * 1000), KERR_NONE);
    fx_done(&fx);
}

/* A log on disk that no LeaderAndIsr made a partition of (its topic was
 * deleted while the broker was down): StopReplica(delete) removes it;
 * without delete it stays. */
static void test_stop_replica_deletes_unserved_log(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    log_t *log;
    char err[512], path[4200];
    CU_ASSERT_EQUAL_FATAL(log_manager_get_or_create(fx.lm, "orphan", 3, NULL, T0, &log, err, sizeof err), KERR_NONE);
    snprintf(path, sizeof path, "%s/orphan-3", fx.root);
    CU_ASSERT_PTR_NULL(replica_manager_get(fx.rm, "orphan", 3));
    CU_ASSERT_EQUAL(replica_manager_stop(fx.rm, "orphan", 3, false), KERR_NONE);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL(replica_manager_stop(fx.rm, "orphan", 3, true), KERR_NONE);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_PTR_NULL(log_manager_get(fx.lm, "orphan", 3));
    fx_done(&fx);
}


/* --- leader side: HW, ISR, acks=all ------------------------------------------ */

/* The fake ISR sink: keeps a copy of every proposal. */
typedef struct fake_sink {
    int calls;
    partition_isr_change_t last;
    int32_t isr[8];
    char topic[64];
} fake_sink_t;

static void fake_sink_fn(void *ctx, const partition_isr_change_t *c) {
    fake_sink_t *s = ctx;
    s->calls++;
    s->last = *c;
    memcpy(s->isr, c->isr, (size_t)c->nisr * sizeof *c->isr);
    s->last.isr = s->isr;
    snprintf(s->topic, sizeof s->topic, "%s", c->topic);
    s->last.topic = s->topic;
}

/* This broker (1) leads topic-part of replicas 1, 2, 3 at now_ms. */
static kerr_t lead_at(rm_fixture_t *fx, const char *topic, int32_t part, int32_t epoch, const int32_t *isr,
                      int32_t nisr, int64_t now_ms) {
    static const int32_t replicas[] = {1, 2, 3};
    partition_state_t st = {.controller_epoch = 4, .leader_id = 1, .leader_epoch = epoch, .zk_version = 10,
                            .replicas = replicas, .nreplicas = 3, .isr = isr, .nisr = nisr};
    return replica_manager_apply(fx->rm, topic, part, &st, NULL, now_ms);
}

/* Follower id fetches at offset at now_ms. */
static kerr_t follower_fetch(partition_t *p, int32_t id, int64_t offset, int64_t now_ms,
                             partition_read_result_t *r) {
    partition_reader_t who = {.replica_id = id, .current_leader_epoch = -1, .log_start_offset = 0, .now_ms = now_ms};
    return read_closing(p, offset, 1 << 20, &who, r);
}

static int64_t hw(partition_t *p) {
    pthread_mutex_lock(&p->lock);
    int64_t v = log_high_watermark(p->log);
    pthread_mutex_unlock(&p->lock);
    return v;
}

/* A follower outside the ISR that caught up within the lag holds the HW
 * back (so it can join); one that did not, does not. */
static void test_hw_counts_caught_up_followers_outside_isr(void) {
    rm_fixture_t fx;
    fx_init(&fx); /* no sink: nothing is proposed */
    static const int32_t isr[] = {1, 2};
    CU_ASSERT_EQUAL(lead_at(&fx, "hw", 0, 1, isr, 2, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "hw", 0);
    partition_read_result_t r;
    CU_ASSERT_EQUAL(produce_at(p, 4, T0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 4, T0 + 1, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 4); /* 3 never fetched: not counted */
    CU_ASSERT_EQUAL(follower_fetch(p, 3, 4, T0 + 2, &r), KERR_NONE); /* 3 caught up */
    CU_ASSERT_EQUAL(produce_at(p, 2, T0 + 3, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 6, T0 + 4, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 4); /* held at 3's LEO */
    CU_ASSERT_EQUAL(p->nisr, 2);          /* and no ISR change without a sink */
    /* Past the lag 3 no longer counts: the next append moves the HW to 2's LEO. */
    CU_ASSERT_EQUAL(produce_at(p, 1, T0 + 2 + LAG + 1, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(hw(p), 6);
    /* An unassigned replica's fetch gets nothing and changes nothing. */
    CU_ASSERT_EQUAL(follower_fetch(p, 9, 0, T0 + LAG + 4, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.data.length, 0);
    CU_ASSERT_EQUAL(r.high_watermark, 6);
    fx_done(&fx);
}

/* Fetch v12's truncation on fetch: a follower whose last fetched epoch ends
 * earlier in the leader's log than its fetch offset, or that the leader
 * never had, gets the diverging epoch, no data, and its position is not
 * taken as its log end; one in step reads; an epoch the leader cannot
 * place is no divergence. */
static kerr_t fetch_with_epoch(partition_t *p, int32_t id, int64_t offset, int32_t last_fetched_epoch,
                               partition_read_result_t *r) {
    partition_reader_t who = {.replica_id = id, .current_leader_epoch = 3, .log_start_offset = 0, .now_ms = T0,
                              .has_last_fetched_epoch = true, .last_fetched_epoch = last_fetched_epoch};
    return read_closing(p, offset, 1 << 20, &who, r);
}

static void test_diverging_epoch_on_fetch(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1, 2};
    CU_ASSERT_EQUAL(lead_at(&fx, "div", 0, 1, isr, 2, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "div", 0);
    CU_ASSERT_EQUAL(produce_at(p, 4, T0, NULL), KERR_NONE); /* epoch 1: 0-3 */
    CU_ASSERT_EQUAL(lead_at(&fx, "div", 0, 3, isr, 2, T0), KERR_NONE);
    CU_ASSERT_EQUAL(produce_at(p, 2, T0, NULL), KERR_NONE); /* epoch 3: 4-5 */
    partition_read_result_t r;
    CU_ASSERT_EQUAL(fetch_with_epoch(p, 2, 6, 2, &r), KERR_NONE); /* an epoch 2 we never had */
    CU_ASSERT(r.diverged);
    CU_ASSERT(r.diverging_epoch.epoch == 1 && r.diverging_epoch.end_offset == 4);
    CU_ASSERT_EQUAL(r.data.length, 0);
    CU_ASSERT_EQUAL(hw(p), 0); /* 6 was not taken as 2's log end */
    CU_ASSERT_EQUAL(fetch_with_epoch(p, 2, 5, 1, &r), KERR_NONE); /* epoch 1 ends at 4, not 5 */
    CU_ASSERT(r.diverged);
    CU_ASSERT(r.diverging_epoch.epoch == 1 && r.diverging_epoch.end_offset == 4);
    CU_ASSERT_EQUAL(hw(p), 0);
    CU_ASSERT_EQUAL(fetch_with_epoch(p, 2, 4, 1, &r), KERR_NONE); /* in step: reads */
    CU_ASSERT(!r.diverged);
    CU_ASSERT(r.data.length > 0);
    CU_ASSERT_EQUAL(hw(p), 4);
    CU_ASSERT_EQUAL(fetch_with_epoch(p, 2, 6, 3, &r), KERR_NONE);
    CU_ASSERT(!r.diverged);
    CU_ASSERT_EQUAL(hw(p), 6);
    CU_ASSERT_EQUAL(fetch_with_epoch(p, 2, 6, 7, &r), KERR_NONE); /* newer than ours: not placed */
    CU_ASSERT(!r.diverged);
    fx_done(&fx);
}

/* A stuck follower (no fetch) and a slow one (fetching, never reaching the
 * leader's LEO) are dropped after the lag; the leader stays; a shrink
 * counts for the HW only once committed. */
static void test_isr_shrink_after_lag(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    fake_sink_t sink = {0};
    replica_manager_set_isr_sink(fx.rm, fake_sink_fn, &sink);
    static const int32_t isr[] = {1, 2, 3};
    CU_ASSERT_EQUAL(lead_at(&fx, "shrink", 0, 3, isr, 3, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "shrink", 0);
    partition_read_result_t r;
    /* Every round the leader gets 2 records and 2 fetches one more. */
    int64_t t = T0;
    for (int k = 1; k <= 8; k++) {
        t = T0 + k * (LAG / 4);
        CU_ASSERT_EQUAL(produce_at(p, 2, t, NULL), KERR_NONE);
        CU_ASSERT_EQUAL(follower_fetch(p, 2, k, t, &r), KERR_NONE);
    }
    CU_ASSERT_EQUAL(r.high_watermark, 0); /* 3 never fetched */
    CU_ASSERT_FALSE(partition_maybe_shrink_isr(p, T0 + LAG)); /* not yet past the lag */
    CU_ASSERT_EQUAL(sink.calls, 0);
    CU_ASSERT_TRUE(partition_maybe_shrink_isr(p, t));
    CU_ASSERT_EQUAL_FATAL(sink.calls, 1);
    CU_ASSERT_STRING_EQUAL(sink.last.topic, "shrink");
    CU_ASSERT_EQUAL(sink.last.partition, 0);
    CU_ASSERT_EQUAL(sink.last.leader_id, 1);
    CU_ASSERT_EQUAL(sink.last.leader_epoch, 3);
    CU_ASSERT_EQUAL(sink.last.controller_epoch, 4);
    CU_ASSERT_EQUAL(sink.last.zk_version, 10);
    CU_ASSERT_EQUAL_FATAL(sink.last.nisr, 1); /* 2 too: it fetches but never catches up */
    CU_ASSERT_EQUAL(sink.isr[0], 1);
    /* Pending: no second proposal; the ISR and HW are unchanged. */
    CU_ASSERT_FALSE(partition_maybe_shrink_isr(p, t + LAG));
    CU_ASSERT_EQUAL(sink.calls, 1);
    CU_ASSERT_EQUAL(p->nisr, 3);
    CU_ASSERT_EQUAL(hw(p), 0);
    /* Committed: the HW follows the leader alone. */
    partition_isr_committed(p, 3, sink.isr, 1, 11);
    CU_ASSERT_EQUAL(p->nisr, 1);
    CU_ASSERT_EQUAL(p->zk_version, 11);
    CU_ASSERT_EQUAL(hw(p), 16);
    /* The ISR is never empty: with the leader alone nothing is proposed. */
    CU_ASSERT_FALSE(partition_maybe_shrink_isr(p, t + 10 * LAG));
    CU_ASSERT_EQUAL(sink.calls, 1);
    fx_done(&fx);
}

/* A follower joins once its LEO reached the HW and this epoch's start
 * offset; the pending expansion counts for the HW at once. */
static void test_isr_expand_at_epoch_start(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    fake_sink_t sink = {0};
    replica_manager_set_isr_sink(fx.rm, fake_sink_fn, &sink);
    static const int32_t isr13[] = {1, 3}, isr1[] = {1};
    CU_ASSERT_EQUAL(lead_at(&fx, "grow", 0, 5, isr13, 2, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "grow", 0);
    CU_ASSERT_EQUAL(produce_at(p, 3, T0, NULL), KERR_NONE);
    /* A new epoch at LEO 3; 3 has not fetched, so the HW is still 0. */
    CU_ASSERT_EQUAL(lead_at(&fx, "grow", 0, 6, isr13, 2, T0 + 1), KERR_NONE);
    CU_ASSERT_EQUAL(p->epoch_start_offset, 3);
    partition_read_result_t r;
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 1, T0 + 2, &r), KERR_NONE); /* >= HW, < epoch start */
    CU_ASSERT_EQUAL(sink.calls, 0);
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 3, T0 + 3, &r), KERR_NONE);
    CU_ASSERT_EQUAL_FATAL(sink.calls, 1);
    CU_ASSERT_EQUAL_FATAL(sink.last.nisr, 3);
    CU_ASSERT_EQUAL(sink.isr[0], 1);
    CU_ASSERT_EQUAL(sink.isr[1], 3);
    CU_ASSERT_EQUAL(sink.isr[2], 2);
    CU_ASSERT_EQUAL(sink.last.leader_epoch, 6);
    CU_ASSERT_EQUAL(p->nisr, 2); /* not committed yet */
    /* While it is pending nothing else is proposed: 3 would be dropped. */
    CU_ASSERT_FALSE(partition_maybe_shrink_isr(p, T0 + 10 * LAG));
    /* 3 catches up; the HW waits for 2 too (in the maximal ISR)... */
    CU_ASSERT_EQUAL(follower_fetch(p, 3, 3, T0 + 10 * LAG, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 3);
    CU_ASSERT_EQUAL(produce_at(p, 1, T0 + 10 * LAG, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(follower_fetch(p, 3, 4, T0 + 10 * LAG, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 3); /* ...which is at 3 */
    /* An outcome for another epoch or an older version is ignored. */
    partition_isr_committed(p, 5, sink.isr, 3, 11);
    partition_isr_committed(p, 6, sink.isr, 3, 9);
    CU_ASSERT_EQUAL(p->nisr, 2);
    partition_isr_committed(p, 6, sink.isr, 3, 11);
    CU_ASSERT_EQUAL(p->nisr, 3);
    CU_ASSERT_EQUAL(p->zk_version, 11);
    CU_ASSERT_PTR_NULL(p->pending_isr);
    /* A LeaderAndIsr drops a change in flight. */
    CU_ASSERT_EQUAL(lead_at(&fx, "grow", 0, 7, isr1, 1, T0 + 10 * LAG), KERR_NONE);
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 4, T0 + 10 * LAG + 1, &r), KERR_NONE);
    CU_ASSERT_EQUAL(sink.calls, 2);
    CU_ASSERT_EQUAL(lead_at(&fx, "grow", 0, 8, isr1, 1, T0 + 10 * LAG + 2), KERR_NONE);
    CU_ASSERT_PTR_NULL(p->pending_isr);
    CU_ASSERT_EQUAL(p->nisr, 1);
    fx_done(&fx);
}

/* Refusals Kafka gives up on keep the change in flight until the next
 * LeaderAndIsr; other failures let the next scan propose again. */
static void test_isr_change_rejected(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    fake_sink_t sink = {0};
    replica_manager_set_isr_sink(fx.rm, fake_sink_fn, &sink);
    static const int32_t isr[] = {1, 2};
    CU_ASSERT_EQUAL(lead_at(&fx, "rej", 0, 2, isr, 2, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "rej", 0);
    CU_ASSERT_EQUAL(produce_at(p, 1, T0, NULL), KERR_NONE);
    /* The scan runs at most every lag / 2. */
    CU_ASSERT_EQUAL(replica_manager_maybe_shrink_isrs(fx.rm, T0 + LAG + 1), 1);
    CU_ASSERT_EQUAL(replica_manager_maybe_shrink_isrs(fx.rm, T0 + LAG + 2), 0);
    CU_ASSERT_EQUAL(sink.calls, 1);
    replica_manager_isr_change_done(fx.rm, "rej", 0, 1, KERR_NOT_CONTROLLER, NULL, 0, -1); /* old epoch */
    CU_ASSERT_FALSE(partition_maybe_shrink_isr(p, T0 + 2 * LAG));
    replica_manager_isr_change_done(fx.rm, "rej", 0, 2, KERR_NOT_CONTROLLER, NULL, 0, -1);
    CU_ASSERT_PTR_NULL(p->pending_isr);
    CU_ASSERT_EQUAL(replica_manager_maybe_shrink_isrs(fx.rm, T0 + 2 * LAG), 1);
    CU_ASSERT_EQUAL(sink.calls, 2);
    replica_manager_isr_change_done(fx.rm, "rej", 0, 2, KERR_INVALID_UPDATE_VERSION, NULL, 0, -1);
    CU_ASSERT_PTR_NOT_NULL(p->pending_isr);
    CU_ASSERT_EQUAL(replica_manager_maybe_shrink_isrs(fx.rm, T0 + 3 * LAG), 0);
    CU_ASSERT_EQUAL(sink.calls, 2);
    CU_ASSERT_EQUAL(p->nisr, 2);
    replica_manager_isr_change_done(fx.rm, "nope", 0, 2, KERR_NONE, isr, 1, 11); /* not hosted: ignored */
    fx_done(&fx);
}

/* acks=all: answerable once the HW passed the offset; the ISR's size
 * decides between NONE and NOT_ENOUGH_REPLICAS_AFTER_APPEND. */
static void test_acks_all_check(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1, 2};
    CU_ASSERT_EQUAL(lead_at(&fx, "acks", 0, 1, isr, 2, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "acks", 0);
    CU_ASSERT_EQUAL(produce_at(p, 2, T0, NULL), KERR_NONE);
    kerr_t e;
    CU_ASSERT_FALSE(partition_check_acks(p, 2, 2, &e));
    partition_read_result_t r;
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 2, T0 + 1, &r), KERR_NONE);
    CU_ASSERT_TRUE(partition_check_acks(p, 2, 2, &e));
    CU_ASSERT_EQUAL(e, KERR_NONE);
    CU_ASSERT_TRUE(partition_check_acks(p, 2, 3, &e));
    CU_ASSERT_EQUAL(e, KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    static const int32_t replicas[] = {1, 2, 3};
    partition_state_t st = {.controller_epoch = 4, .leader_id = 2, .leader_epoch = 2, .replicas = replicas,
                            .nreplicas = 3, .isr = isr, .nisr = 2};
    CU_ASSERT_EQUAL(replica_manager_apply(fx.rm, "acks", 0, &st, NULL, T0 + 2), KERR_NONE);
    CU_ASSERT_TRUE(partition_check_acks(p, 2, 2, &e));
    CU_ASSERT_EQUAL(e, KERR_NOT_LEADER_OR_FOLLOWER);
    fx_done(&fx);
}

/* High-watermark waiters (consumers, acks=all) wake only when it moves;
 * append waiters (followers' fetches) on every append. */
static void test_two_kinds_of_waiters(void) {
    rm_fixture_t fx;
    fx_init(&fx);
    static const int32_t isr[] = {1, 2};
    CU_ASSERT_EQUAL(lead_at(&fx, "kinds", 0, 1, isr, 2, T0), KERR_NONE);
    partition_t *p = replica_manager_get(fx.rm, "kinds", 0);
    counting_waiter_t consumer = {.w = {.wake = count_wake}};
    counting_waiter_t follower = {.w = {.wake = count_wake, .wants_appends = true}};
    partition_watch(p, &consumer.w);
    partition_watch(p, &follower.w);
    CU_ASSERT_EQUAL(produce_at(p, 1, T0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(consumer.woken, 0); /* the HW waits for 2 */
    CU_ASSERT_EQUAL(follower.woken, 1);
    partition_read_result_t r;
    CU_ASSERT_EQUAL(follower_fetch(p, 2, 1, T0 + 1, &r), KERR_NONE);
    CU_ASSERT_EQUAL(consumer.woken, 1);
    CU_ASSERT_EQUAL(follower.woken, 1);
    partition_unwatch(p, &consumer.w);
    partition_unwatch(p, &follower.w);
    fx_done(&fx);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"leader alone: HW follows the LEO", test_leader_alone_hw_follows_leo},
        {"HW from follower fetches", test_hw_from_follower_fetches},
        {"epoch fencing and roles", test_epoch_fencing_and_roles},
        {"waiters woken on append", test_waiters_woken_on_append},
        {"StopReplica deletes; re-create", test_stop_replica_deletes},
        {"StopReplica (delete) of a log no partition serves", test_stop_replica_deletes_unserved_log},
        {"HW counts caught-up followers outside the ISR", test_hw_counts_caught_up_followers_outside_isr},
        {"ISR shrink after the lag; commit", test_isr_shrink_after_lag},
        {"ISR expand at the epoch start offset", test_isr_expand_at_epoch_start},
        {"ISR change rejected", test_isr_change_rejected},
        {"diverging epoch on fetch (truncation on fetch)", test_diverging_epoch_on_fetch},
        {"leadership resigned after a controlled shutdown", test_resign_leadership},
        {"acks=all check", test_acks_all_check},
        {"two kinds of waiters", test_two_kinds_of_waiters},
        {NULL, NULL},
    };
    unit_add_suite("replica-manager", tests);
}
