/* Replica fetchers, the parts without a leader: which fetcher follows a
 * partition (Kafka's getFetcherId), the Fetch and OffsetsForLeaderEpoch a
 * fetcher builds, whole-batch trimming, the truncation decision (leader's
 * answer x local epoch cache), the manager's assignment table, and the
 * follower side of a partition (position, truncation by leader epochs or to
 * the HW, appends of the leader's batches, resets after
 * OFFSET_OUT_OF_RANGE) and the leader's OffsetsForLeaderEpoch answer
 * against a real log. */
#include "unit.h"

#include "log/record_batch.h"
#include "replica/fetcher.h"
#include "replica/replica_manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1600000000000LL
#define LOCAL_ID 1
#define LEADER_ID 2

/* --- pure parts ------------------------------------------------------------- */

/* Expected values from Java: abs(31 * topic.hashCode() + partition) % n.
 * "orders" hashes negative, so Utils.abs is exercised. */
static void test_fetcher_id_matches_kafka(void) {
    static const int32_t orders3[] = {2, 1, 0, 2, 1, 0};
    static const int32_t replicated3[] = {1, 0, 2, 1, 0, 2};
    static const int32_t a7[] = {4, 5, 6, 0};
    for (int32_t p = 0; p < 6; p++) {
        CU_ASSERT_EQUAL(fetcher_id_for("orders", p, 3), orders3[p]);
        CU_ASSERT_EQUAL(fetcher_id_for("replicated", p, 3), replicated3[p]);
        CU_ASSERT_EQUAL(fetcher_id_for("orders", p, 1), 0);
    }
    for (int32_t p = 0; p < 4; p++)
        CU_ASSERT_EQUAL(fetcher_id_for("a", p, 7), a7[p]);
}

/* A leader that lacks our LeaderAndIsr is asked again soon, the wait
 * doubling up to the backoff; any other error waits the backoff. */
static void test_retry_after_errors(void) {
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_LEADER_EPOCH, 1000, 1), 50);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_NOT_LEADER_OR_FOLLOWER, 1000, 1), 50);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_LEADER_EPOCH, 1000, 2), 100);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_LEADER_EPOCH, 1000, 5), 800);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_LEADER_EPOCH, 1000, 6), 1000);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_NOT_LEADER_OR_FOLLOWER, 1000, 40), 1000); /* no overflow */
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_LEADER_EPOCH, 30, 1), 30);     /* never above the backoff */
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_SERVER_ERROR, 1000, 1), 1000);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_NOT_ENOUGH_REPLICAS, 1000, 3), 1000);
    CU_ASSERT_EQUAL(fetcher_retry_ms(KERR_UNKNOWN_SERVER_ERROR, 0, 1), 1);
}

static void test_build_fetch_groups_by_topic(void) {
    fetcher_config_t cfg = {.broker_id = 3, .num_fetchers = 1, .max_wait_ms = 500, .min_bytes = 1,
                            .max_bytes = 10485760, .partition_max_bytes = 1048576, .backoff_ms = 1000,
                            .request_timeout_ms = 30000, .truncate_on_fetch = true};
    fetcher_fetch_item_t items[] = {
        {"orders", 0, {.fetch_offset = 10, .log_start_offset = 0, .leader_id = 2, .leader_epoch = 4, .latest_epoch = 3}},
        {"clicks", 2, {.fetch_offset = 7, .log_start_offset = 5, .leader_id = 2, .leader_epoch = 1, .latest_epoch = 1}},
        {"orders", 3, {.fetch_offset = 0, .log_start_offset = 0, .leader_id = 2, .leader_epoch = 4, .latest_epoch = -1}},
    };
    kp_arena_t arena;
    kp_arena_init(&arena);
    kp_fetch_req_t rq;
    fetcher_build_fetch(&cfg, items, 3, &arena, &rq);
    CU_ASSERT_EQUAL(rq.replica_id, 3);
    CU_ASSERT_EQUAL(rq.max_wait_ms, 500);
    CU_ASSERT_EQUAL(rq.min_bytes, 1);
    CU_ASSERT_EQUAL(rq.max_bytes, 10485760);
    CU_ASSERT_EQUAL(rq.isolation_level, 0);
    CU_ASSERT_EQUAL(rq.session_id, 0);
    CU_ASSERT_EQUAL(rq.session_epoch, -1);
    CU_ASSERT_EQUAL_FATAL(rq.topics.count, 2);
    const kp_fetch_req_topic_t *ts = rq.topics.items;
    CU_ASSERT(kp_str_eq(ts[0].topic, "orders"));
    CU_ASSERT(kp_str_eq(ts[1].topic, "clicks"));
    CU_ASSERT_EQUAL_FATAL(ts[0].partitions.count, 2);
    CU_ASSERT_EQUAL_FATAL(ts[1].partitions.count, 1);
    const kp_fetch_req_partition_t *o = ts[0].partitions.items, *c = ts[1].partitions.items;
    CU_ASSERT_EQUAL(o[0].partition, 0);
    CU_ASSERT_EQUAL(o[0].fetch_offset, 10);
    CU_ASSERT_EQUAL(o[0].current_leader_epoch, 4);
    CU_ASSERT_EQUAL(o[0].partition_max_bytes, 1048576);
    CU_ASSERT_EQUAL(o[1].partition, 3);
    CU_ASSERT_EQUAL(o[1].fetch_offset, 0);
    CU_ASSERT_EQUAL(c[0].partition, 2);
    CU_ASSERT_EQUAL(c[0].fetch_offset, 7);
    CU_ASSERT_EQUAL(c[0].log_start_offset, 5);
    CU_ASSERT_EQUAL(c[0].current_leader_epoch, 1);
    CU_ASSERT_EQUAL(o[0].last_fetched_epoch, 3); /* truncation on fetch: the latest epoch */
    CU_ASSERT_EQUAL(o[1].last_fetched_epoch, -1);
    CU_ASSERT_EQUAL(c[0].last_fetched_epoch, 1);
    CU_ASSERT_EQUAL(fetcher_fetch_version(&cfg), 12);
    /* and it encodes as Fetch v12 */
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL(kp_request_encode(KP_API_FETCH, fetcher_fetch_version(&cfg), 1, kp_str("t"), &rq, &w, NULL, 0),
                    KP_OK);
    /* Before IBP 2.7-IV1: Fetch v11, no last fetched epoch. */
    cfg.truncate_on_fetch = false;
    fetcher_build_fetch(&cfg, items, 3, &arena, &rq);
    CU_ASSERT_EQUAL(((const kp_fetch_req_partition_t *)((const kp_fetch_req_topic_t *)rq.topics.items)[0]
                         .partitions.items)[0].last_fetched_epoch, -1);
    CU_ASSERT_EQUAL(fetcher_fetch_version(&cfg), 11);
    kp_writer_free(&w);
    kp_arena_free(&arena);
}

static void test_build_offsets_for_leader_epoch(void) {
    fetcher_config_t cfg = {.broker_id = 3};
    fetcher_fetch_item_t items[] = {
        {"orders", 0, {.leader_epoch = 4, .latest_epoch = 2}},
        {"clicks", 2, {.leader_epoch = 1, .latest_epoch = 0}},
        {"orders", 3, {.leader_epoch = 4, .latest_epoch = 4}},
    };
    kp_arena_t arena;
    kp_arena_init(&arena);
    kp_offset_for_leader_epoch_req_t rq;
    fetcher_build_offsets_for_leader_epoch(&cfg, items, 3, &arena, &rq);
    CU_ASSERT_EQUAL(rq.replica_id, 3);
    CU_ASSERT_EQUAL_FATAL(rq.topics.count, 2);
    const kp_offset_for_leader_epoch_req_topic_t *ts = rq.topics.items;
    CU_ASSERT(kp_str_eq(ts[0].topic, "orders"));
    CU_ASSERT(kp_str_eq(ts[1].topic, "clicks"));
    CU_ASSERT_EQUAL_FATAL(ts[0].partitions.count, 2);
    CU_ASSERT_EQUAL_FATAL(ts[1].partitions.count, 1);
    const kp_offset_for_leader_epoch_req_partition_t *o = ts[0].partitions.items, *c = ts[1].partitions.items;
    CU_ASSERT_EQUAL(o[0].partition, 0);
    CU_ASSERT_EQUAL(o[0].current_leader_epoch, 4);
    CU_ASSERT_EQUAL(o[0].leader_epoch, 2);
    CU_ASSERT_EQUAL(o[1].partition, 3);
    CU_ASSERT_EQUAL(o[1].leader_epoch, 4);
    CU_ASSERT_EQUAL(c[0].partition, 2);
    CU_ASSERT_EQUAL(c[0].current_leader_epoch, 1);
    CU_ASSERT_EQUAL(c[0].leader_epoch, 0);
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL(kp_request_encode(KP_API_OFFSET_FOR_LEADER_EPOCH, FETCHER_OFFSETS_FOR_LEADER_EPOCH_VERSION, 1,
                                      kp_str("t"), &rq, &w, NULL, 0),
                    KP_OK);
    kp_writer_free(&w);
    kp_arena_free(&arena);
}

/* --- the truncation decision (leader's answer x local cache) ------------------ */

static void assert_truncation(const leader_epoch_cache_t *local, int64_t leo, int64_t hw, int32_t leader_epoch,
                              int64_t leader_end, int64_t offset, bool complete) {
    leader_epoch_truncation_t t =
        leader_epoch_follower_truncation(local, leo, hw, (leader_epoch_end_offset_t){leader_epoch, leader_end});
    CU_ASSERT_EQUAL(t.offset, offset);
    CU_ASSERT_EQUAL(t.complete, complete);
}

/* The follower holds epochs 0@0, 2@10, 4@20 up to LEO 30, HW 12. */
static void test_truncation_decision(void) {
    leader_epoch_cache_t *c = leader_epoch_new(NULL);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 0, 0, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 2, 10, NULL, 0), 1);
    CU_ASSERT_EQUAL(leader_epoch_assign(c, 4, 20, NULL, 0), 1);
    /* No epoch information from the leader: the HW, as before KIP-101. */
    assert_truncation(c, 30, 12, -1, -1, 12, true);
    /* The leader knows our latest epoch: the smaller of both ends. */
    assert_truncation(c, 30, 12, 4, 25, 25, true);     /* it ends earlier there: our tail goes */
    assert_truncation(c, 30, 12, 4, 40, 30, true);     /* it has more: nothing goes (KIP-101 scenario 1) */
    /* It answers an older epoch we have: where that epoch ends for both. */
    assert_truncation(c, 30, 12, 2, 15, 15, true);     /* it ended epoch 2 at 15, we at 20 */
    assert_truncation(c, 30, 12, 2, 22, 20, true);     /* we ended it first */
    /* It answers an epoch we never had (3): go back to the end of our
     * largest epoch below (2 ends at 20) and ask again (KIP-279). */
    assert_truncation(c, 30, 12, 3, 18, 20, false);
    assert_truncation(c, 30, 12, 1, 5, 10, false);     /* epoch 0 ends at 10 */
    /* A v0 answer (no epoch): its end offset, bounded by our LEO. */
    assert_truncation(c, 30, 12, -1, 17, 17, true);
    assert_truncation(c, 30, 12, -1, 70, 30, true);
    leader_epoch_free(c);

    /* Our epochs start above the leader's answer: nothing of ours to
     * compare with below it, its end offset it is (Kafka: "no epoch <=
     * requested" answers the requested epoch). */
    leader_epoch_cache_t *late = leader_epoch_new(NULL);
    CU_ASSERT_EQUAL(leader_epoch_assign(late, 5, 40, NULL, 0), 1);
    assert_truncation(late, 50, 45, 3, 42, 40, true);
    leader_epoch_free(late);

    /* An empty cache (never asked about, but a leader may answer anyway). */
    leader_epoch_cache_t *empty = leader_epoch_new(NULL);
    assert_truncation(empty, 8, 3, 2, 6, 6, true);
    assert_truncation(empty, 8, 3, -1, -1, 3, true);
    leader_epoch_free(empty);
}

/* count records at base_offset, stamped with leader_epoch, as a leader's
 * log holds them. */
static void leader_batch(buf_t *out, int64_t base_offset, int32_t leader_epoch, int count) {
    record_input_t recs[8];
    for (int i = 0; i < count; i++)
        recs[i] = (record_input_t){.key_len = -1, .value = "v", .value_len = 1, .timestamp = T0 + i};
    batch_build_opts_t bo = {.base_offset = base_offset, .partition_leader_epoch = leader_epoch,
                             .compression = COMPRESSION_NONE, .producer_id = -1, .producer_epoch = -1,
                             .base_sequence = -1};
    CU_ASSERT_EQUAL_FATAL(record_batch_build(out, &bo, recs, count), KERR_NONE);
}

static void test_whole_batches(void) {
    buf_t b = BUF_INIT;
    leader_batch(&b, 0, 0, 2);
    size_t one = b.len;
    leader_batch(&b, 2, 0, 3);
    size_t two = b.len;
    leader_batch(&b, 5, 0, 1);
    CU_ASSERT_EQUAL(fetcher_whole_batches(b.data, b.len), b.len);
    CU_ASSERT_EQUAL(fetcher_whole_batches(b.data, b.len - 1), two); /* the third cut short */
    CU_ASSERT_EQUAL(fetcher_whole_batches(b.data, two + 11), two);  /* not even its length field */
    CU_ASSERT_EQUAL(fetcher_whole_batches(b.data, one), one);
    CU_ASSERT_EQUAL(fetcher_whole_batches(b.data, 5), 0);
    CU_ASSERT_EQUAL(fetcher_whole_batches(NULL, 0), 0);
    buf_free(&b);
}

/* --- follower partitions against a real log ------------------------------------ */

typedef struct fx {
    char *root;
    config_t *cfg;
    log_manager_t *lm;
    replica_manager_t *rm;
} fx_t;

static void fx_init(fx_t *fx) {
    memset(fx, 0, sizeof *fx);
    fx->root = unit_mkdtemp();
    fx->cfg = config_new();
    char err[512];
    CU_ASSERT_EQUAL_FATAL(config_set(fx->cfg, "log.dirs", fx->root, err, sizeof err), 0);
    log_manager_opts_t o = {.now_ms = T0, .log_lock = replica_manager_lock_log, .log_lock_ctx = &fx->rm};
    CU_ASSERT_EQUAL_FATAL(log_manager_open(fx->cfg, LOCAL_ID, &o, &fx->lm, err, sizeof err), KERR_NONE);
    fx->rm = replica_manager_new(fx->lm, LOCAL_ID, fx->cfg);
}

static void fx_done(fx_t *fx) {
    log_manager_close(fx->lm, true);
    replica_manager_free(fx->rm);
    config_free(fx->cfg);
    unit_rmtree(fx->root);
    free(fx->root);
}

static partition_t *fx_state(fx_t *fx, const char *topic, int32_t part, int32_t leader, int32_t epoch) {
    static const int32_t replicas[] = {2, 1, 3};
    partition_state_t st = {.controller_epoch = 1, .leader_id = leader, .leader_epoch = epoch, .zk_version = 0,
                            .replicas = replicas, .nreplicas = 3, .isr = replicas, .nisr = 3};
    CU_ASSERT_EQUAL(replica_manager_apply(fx->rm, topic, part, &st, NULL, T0), KERR_NONE);
    return replica_manager_get(fx->rm, topic, part);
}

/* Appends [base, base + count), stamped with batch_epoch, as the leader of
 * fetch_epoch sends it; returns the error. */
static kerr_t follow_stamped(partition_t *p, int32_t fetch_epoch, int32_t batch_epoch, int64_t base, int count,
                             int64_t leader_hw) {
    buf_t b = BUF_INIT;
    leader_batch(&b, base, batch_epoch, count);
    kerr_t e = partition_follower_append(p, fetch_epoch, base, b.data, b.len, leader_hw, 0, T0, NULL);
    buf_free(&b);
    return e;
}

/* Appends [base, base + count) as the leader sends it; returns the error. */
static kerr_t follow(partition_t *p, int32_t epoch, int64_t base, int count, int64_t leader_hw, int64_t leader_start,
                     partition_follower_append_result_t *out) {
    buf_t b = BUF_INIT;
    leader_batch(&b, base, epoch, count);
    kerr_t e = partition_follower_append(p, epoch, base, b.data, b.len, leader_hw, leader_start, T0, out);
    buf_free(&b);
    return e;
}

static const leader_epoch_end_offset_t NO_EPOCH_INFO = {LEADER_EPOCH_UNDEFINED_EPOCH,
                                                        LEADER_EPOCH_UNDEFINED_EPOCH_OFFSET};

static void test_follower_position_and_append(void) {
    fx_t fx;
    fx_init(&fx);
    partition_t *p = fx_state(&fx, "orders", 0, LEADER_ID, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    partition_follower_position_t pos;
    CU_ASSERT_EQUAL_FATAL(partition_follower_position(p, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.fetch_offset, 0);
    CU_ASSERT_EQUAL(pos.log_start_offset, 0);
    CU_ASSERT_EQUAL(pos.leader_id, LEADER_ID);
    CU_ASSERT_EQUAL(pos.leader_epoch, 5);
    CU_ASSERT_EQUAL(pos.latest_epoch, -1);
    bool complete = false;
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 5, NO_EPOCH_INFO, &complete), KERR_NONE); /* an empty log stays empty */
    CU_ASSERT(complete);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 0);

    /* The leader's HW bounds ours, and so does our own LEO. */
    partition_follower_append_result_t r;
    CU_ASSERT_EQUAL(follow(p, 5, 0, 3, 100, 0, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.log_end_offset, 3);
    CU_ASSERT_EQUAL(r.high_watermark, 3);
    CU_ASSERT(r.appended_bytes > 0);
    CU_ASSERT_EQUAL(follow(p, 5, 3, 4, 2, 0, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.log_end_offset, 7);
    CU_ASSERT_EQUAL(r.high_watermark, 2); /* a follower's HW is the leader's as of the response */
    /* An empty answer still carries the HW and the log start. */
    CU_ASSERT_EQUAL(partition_follower_append(p, 5, 7, NULL, 0, 6, 1, T0, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.log_end_offset, 7);
    CU_ASSERT_EQUAL(r.high_watermark, 6);
    CU_ASSERT_EQUAL(r.log_start_offset, 1);
    CU_ASSERT_EQUAL(r.appended_bytes, 0);
    /* A log start beyond our HW is not taken. */
    CU_ASSERT_EQUAL(partition_follower_append(p, 5, 7, NULL, 0, 6, 7, T0, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.log_start_offset, 1);
    /* The batches are stored as the leader stamped them. */
    CU_ASSERT_EQUAL(leader_epoch_latest_epoch(log_leader_epochs(p->log)), 5);
    CU_ASSERT_EQUAL_FATAL(partition_follower_position(p, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.fetch_offset, 7);
    CU_ASSERT_EQUAL(pos.log_start_offset, 1);
    CU_ASSERT_EQUAL(pos.latest_epoch, 5);

    /* Stale answers change nothing: another epoch, or another LEO. */
    CU_ASSERT_EQUAL(follow(p, 4, 7, 1, 100, 0, NULL), KERR_FENCED_LEADER_EPOCH);
    buf_t b = BUF_INIT;
    leader_batch(&b, 5, 5, 1);
    CU_ASSERT_EQUAL(partition_follower_append(p, 5, 5, b.data, b.len, 100, 0, T0, NULL), KERR_FENCED_LEADER_EPOCH);
    buf_free(&b);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 7);
    CU_ASSERT_EQUAL(log_high_watermark(p->log), 6);
    /* A corrupted batch is refused by the log (CRC). */
    buf_t bad = BUF_INIT;
    leader_batch(&bad, 7, 5, 1);
    bad.data[bad.len - 1] ^= 0xff;
    CU_ASSERT_EQUAL(partition_follower_append(p, 5, 7, bad.data, bad.len, 100, 0, T0, NULL), KERR_CORRUPT_MESSAGE);
    buf_free(&bad);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 7);
    fx_done(&fx);
}

static void test_follower_without_epochs_truncates_to_hw(void) {
    fx_t fx;
    fx_init(&fx);
    partition_t *p = fx_state(&fx, "orders", 1, LEADER_ID, 0);
    CU_ASSERT_EQUAL(follow(p, 0, 0, 3, 3, 0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(follow(p, 0, 3, 2, 3, 0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 5);
    CU_ASSERT_EQUAL(log_high_watermark(p->log), 3);
    /* A new leader that gives no epoch information: what lies above our HW
     * may not be on it (Kafka's fallback). */
    p = fx_state(&fx, "orders", 1, 3, 1);
    bool complete = false;
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 1, NO_EPOCH_INFO, &complete), KERR_NONE);
    CU_ASSERT(complete);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 3);
    partition_follower_position_t pos;
    CU_ASSERT_EQUAL_FATAL(partition_follower_position(p, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.fetch_offset, 3);
    CU_ASSERT_EQUAL(pos.leader_id, 3);
    CU_ASSERT_EQUAL(pos.leader_epoch, 1);
    /* An answer for an older epoch of the leader's is stale. */
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 0, NO_EPOCH_INFO, &complete), KERR_FENCED_LEADER_EPOCH);
    fx_done(&fx);
}

/* KIP-101 scenario 1: a follower whose HW trails its log keeps what the
 * new leader has too. */
static void test_follower_keeps_what_the_leader_has(void) {
    fx_t fx;
    fx_init(&fx);
    partition_t *p = fx_state(&fx, "orders", 6, LEADER_ID, 0);
    CU_ASSERT_EQUAL(follow(p, 0, 0, 2, 1, 0, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_high_watermark(p->log), 1);
    p = fx_state(&fx, "orders", 6, 3, 1);
    partition_follower_position_t pos;
    CU_ASSERT_EQUAL_FATAL(partition_follower_position(p, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.latest_epoch, 0);
    bool complete = false;
    /* The new leader: epoch 0 ends at 2 there (it started epoch 1 at 2). */
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 1, (leader_epoch_end_offset_t){0, 2}, &complete), KERR_NONE);
    CU_ASSERT(complete);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 2);
    fx_done(&fx);
}

/* KIP-279: the follower led epochs the new leader never saw; each answer
 * takes it back one epoch, until both agree. */
static void test_follower_truncation_loop(void) {
    fx_t fx;
    fx_init(&fx);
    partition_t *p = fx_state(&fx, "orders", 7, LEADER_ID, 6);
    /* Our log: epoch 0 at 0-3, epoch 2 at 4-5, epoch 3 at 6-7 (a batch
     * ends at 2: truncation keeps whole batches). */
    CU_ASSERT_EQUAL(follow_stamped(p, 6, 0, 0, 3, 2), KERR_NONE);
    CU_ASSERT_EQUAL(follow_stamped(p, 6, 0, 3, 1, 2), KERR_NONE);
    CU_ASSERT_EQUAL(follow_stamped(p, 6, 2, 4, 2, 2), KERR_NONE);
    CU_ASSERT_EQUAL(follow_stamped(p, 6, 3, 6, 2, 2), KERR_NONE);
    leader_epoch_cache_t *cache = log_leader_epochs(p->log);
    CU_ASSERT_EQUAL_FATAL(leader_epoch_count(cache), 3);
    p = fx_state(&fx, "orders", 7, 3, 7);
    partition_follower_position_t pos;
    CU_ASSERT_EQUAL_FATAL(partition_follower_position(p, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.latest_epoch, 3);
    /* Asked about 3, the leader has at most epoch 1 (ending at 5): we go
     * back to the end of our epoch 0 (4) and ask again. */
    bool complete = true;
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 7, (leader_epoch_end_offset_t){1, 5}, &complete), KERR_NONE);
    CU_ASSERT(!complete);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 4);
    CU_ASSERT_EQUAL_FATAL(partition_follower_position(p, &pos), KERR_NONE);
    CU_ASSERT_EQUAL(pos.latest_epoch, 0);
    /* Asked about 0, it ended epoch 0 at 3: the divergence point. */
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 7, (leader_epoch_end_offset_t){0, 3}, &complete), KERR_NONE);
    CU_ASSERT(complete);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 3);
    CU_ASSERT_EQUAL(log_high_watermark(p->log), 2);
    CU_ASSERT_EQUAL(leader_epoch_count(cache), 1);
    fx_done(&fx);
}

/* --- the leader's answer to OffsetsForLeaderEpoch ------------------------------- */

static void assert_epoch_end(partition_t *p, int32_t current, int32_t requested, kerr_t error, int32_t epoch,
                             int64_t end) {
    leader_epoch_end_offset_t r;
    CU_ASSERT_EQUAL(partition_leader_epoch_end_offset(p, current, requested, &r), error);
    CU_ASSERT_EQUAL(r.epoch, epoch);
    CU_ASSERT_EQUAL(r.end_offset, end);
}

static void test_leader_epoch_end_offset(void) {
    fx_t fx;
    fx_init(&fx);
    /* Followed in epochs 0 (0-3) and 2 (4-5), then leader in epoch 5 at 6. */
    partition_t *p = fx_state(&fx, "orders", 8, LEADER_ID, 2);
    CU_ASSERT_EQUAL(follow_stamped(p, 2, 0, 0, 4, 6), KERR_NONE);
    CU_ASSERT_EQUAL(follow_stamped(p, 2, 2, 4, 2, 6), KERR_NONE);
    /* As a follower it does not answer. */
    assert_epoch_end(p, -1, 2, KERR_NOT_LEADER_OR_FOLLOWER, -1, -1);
    p = fx_state(&fx, "orders", 8, LOCAL_ID, 5);
    /* Kafka's endOffsetFor on the leader's cache (0@0, 2@4, 5@6), LEO 6. */
    assert_epoch_end(p, 5, 5, KERR_NONE, 5, 6);      /* the latest: the LEO */
    assert_epoch_end(p, 5, 2, KERR_NONE, 2, 6);      /* ends where 5 starts */
    assert_epoch_end(p, 5, 3, KERR_NONE, 2, 6);      /* unknown: the largest below, to where 5 starts */
    assert_epoch_end(p, 5, 1, KERR_NONE, 0, 4);
    assert_epoch_end(p, 5, 0, KERR_NONE, 0, 4);
    assert_epoch_end(p, 5, 9, KERR_NONE, -1, -1);    /* newer than any */
    assert_epoch_end(p, 5, -1, KERR_NONE, -1, -1);
    /* current_leader_epoch fences first (KIP-320); -1 is not checked. */
    assert_epoch_end(p, -1, 5, KERR_NONE, 5, 6);
    assert_epoch_end(p, 4, 5, KERR_FENCED_LEADER_EPOCH, -1, -1);
    assert_epoch_end(p, 6, 5, KERR_UNKNOWN_LEADER_EPOCH, -1, -1);
    fx_done(&fx);
}

static void test_follower_reset_after_out_of_range(void) {
    fx_t fx;
    fx_init(&fx);
    partition_t *p = fx_state(&fx, "orders", 2, LEADER_ID, 2);
    /* (truncation keeps whole batches: one per two offsets here) */
    for (int64_t o = 0; o < 6; o += 2)
        CU_ASSERT_EQUAL(follow(p, 2, o, 2, 6, 0, NULL), KERR_NONE);
    int64_t leo = -1;
    /* The leader's end and start around ours: nothing to do. */
    CU_ASSERT_EQUAL(partition_follower_reset(p, 2, 9, 0, T0, &leo), KERR_NONE);
    CU_ASSERT_EQUAL(leo, 6);
    /* An older epoch is stale. */
    CU_ASSERT_EQUAL(partition_follower_reset(p, 1, 2, -1, T0, &leo), KERR_FENCED_LEADER_EPOCH);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 6);
    /* The leader ends below us (an unclean election): truncate to its end. */
    CU_ASSERT_EQUAL(partition_follower_reset(p, 2, 4, -1, T0, &leo), KERR_NONE);
    CU_ASSERT_EQUAL(leo, 4);
    CU_ASSERT_EQUAL(log_high_watermark(p->log), 4);
    /* The leader starts beyond our end: start over at its start. */
    CU_ASSERT_EQUAL(partition_follower_reset(p, 2, -1, 50, T0, &leo), KERR_NONE);
    CU_ASSERT_EQUAL(leo, 50);
    CU_ASSERT_EQUAL(log_start_offset(p->log), 50);
    CU_ASSERT_EQUAL(follow(p, 2, 50, 2, 52, 50, NULL), KERR_NONE);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 52);
    fx_done(&fx);
}

static void test_follower_calls_refused_off_follower(void) {
    fx_t fx;
    fx_init(&fx);
    partition_t *p = fx_state(&fx, "orders", 3, LOCAL_ID, 0);
    partition_follower_position_t pos;
    CU_ASSERT_EQUAL(partition_follower_position(p, &pos), KERR_NOT_LEADER_OR_FOLLOWER);
    bool complete;
    CU_ASSERT_EQUAL(partition_follower_truncate(p, 0, NO_EPOCH_INFO, &complete), KERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_EQUAL(follow(p, 0, 0, 1, 1, 0, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_EQUAL(log_end_offset(p->log), 0);
    /* No leader at all (-1): nobody to follow. */
    partition_t *q = fx_state(&fx, "orders", 4, -1, 1);
    CU_ASSERT_EQUAL(partition_follower_position(q, &pos), KERR_NOT_LEADER_OR_FOLLOWER);
    /* StopReplica detached the log. */
    partition_t *r = fx_state(&fx, "orders", 5, LEADER_ID, 0);
    CU_ASSERT_EQUAL(replica_manager_stop(fx.rm, "orders", 5, true), KERR_NONE);
    CU_ASSERT_EQUAL(partition_follower_position(r, &pos), KERR_NOT_LEADER_OR_FOLLOWER);
    int64_t leo;
    CU_ASSERT_EQUAL(partition_follower_reset(r, 0, 0, -1, T0, &leo), KERR_NOT_LEADER_OR_FOLLOWER);
    fx_done(&fx);
}

/* --- the manager's table ---------------------------------------------------------- */

/* Leaders on a port nothing listens on: the fetchers only fail to connect
 * and back off, which the table does not care about. */
static void test_manager_assignment(void) {
    fx_t fx;
    fx_init(&fx);
    fetcher_config_t cfg;
    fetcher_config_from(fx.cfg, LOCAL_ID, &cfg);
    CU_ASSERT_EQUAL(cfg.num_fetchers, 1);
    CU_ASSERT_EQUAL(cfg.max_wait_ms, 500);
    CU_ASSERT_EQUAL(cfg.partition_max_bytes, 1048576);
    CU_ASSERT_EQUAL(cfg.max_bytes, 10485760);
    cfg.num_fetchers = 3;
    fetcher_manager_t *m = fetcher_manager_new(&cfg);
    partition_t *ps[4];
    for (int32_t i = 0; i < 4; i++)
        ps[i] = fx_state(&fx, "orders", i, LEADER_ID, 0);
    fetcher_leader_t two = {LEADER_ID, "127.0.0.1", 1}, three = {3, "127.0.0.1", 1};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(fetcher_manager_add(m, ps[i], &two), 0);
    /* orders-0..3 go to fetchers 2, 1, 0, 2 of broker 2 */
    CU_ASSERT_EQUAL(fetcher_manager_count(m), 3);
    int32_t leader, fid;
    CU_ASSERT(fetcher_manager_assignment(m, ps[3], &leader, &fid));
    CU_ASSERT_EQUAL(leader, LEADER_ID);
    CU_ASSERT_EQUAL(fid, 2);
    /* Re-pointed to broker 3: off broker 2's fetcher, onto a new one. */
    CU_ASSERT_EQUAL(fetcher_manager_add(m, ps[2], &three), 0);
    CU_ASSERT(fetcher_manager_assignment(m, ps[2], &leader, &fid));
    CU_ASSERT_EQUAL(leader, 3);
    CU_ASSERT_EQUAL(fid, 0);
    CU_ASSERT_EQUAL(fetcher_manager_count(m), 4);
    /* Broker 2's fetcher 0 is idle now and goes; the others stay. */
    fetcher_manager_shutdown_idle(m);
    CU_ASSERT_EQUAL(fetcher_manager_count(m), 3);
    fetcher_manager_remove(m, ps[1]);
    fetcher_manager_remove(m, ps[1]); /* twice is fine */
    CU_ASSERT(!fetcher_manager_assignment(m, ps[1], &leader, &fid));
    fetcher_manager_shutdown_idle(m);
    CU_ASSERT_EQUAL(fetcher_manager_count(m), 2);
    fetcher_manager_stop(m);
    CU_ASSERT_EQUAL(fetcher_manager_count(m), 0);
    CU_ASSERT(!fetcher_manager_assignment(m, ps[0], &leader, &fid));
    CU_ASSERT_EQUAL(fetcher_manager_add(m, ps[0], &two), -1); /* stopped */
    fetcher_manager_free(m);
    fx_done(&fx);
}

void unit_register(void) {
    static const unit_test_t pure[] = {
        {"fetcher id matches Kafka's getFetcherId", test_fetcher_id_matches_kafka},
        {"a leader behind our LeaderAndIsr is asked again soon", test_retry_after_errors},
        {"one Fetch v11, grouped by topic", test_build_fetch_groups_by_topic},
        {"only whole batches are kept", test_whole_batches},
        {"one OffsetsForLeaderEpoch v3, grouped by topic", test_build_offsets_for_leader_epoch},
        {"truncation: leader's answer x local epochs", test_truncation_decision},
        {NULL, NULL},
    };
    static const unit_test_t follower[] = {
        {"position, appends, HW and log start from the leader", test_follower_position_and_append},
        {"without epoch information, truncates to the HW", test_follower_without_epochs_truncates_to_hw},
        {"keeps above its HW what the leader has", test_follower_keeps_what_the_leader_has},
        {"the KIP-279 loop, one epoch at a time", test_follower_truncation_loop},
        {"the leader's OffsetsForLeaderEpoch answer, fenced", test_leader_epoch_end_offset},
        {"resets after OFFSET_OUT_OF_RANGE", test_follower_reset_after_out_of_range},
        {"refused when not a follower", test_follower_calls_refused_off_follower},
        {NULL, NULL},
    };
    static const unit_test_t manager[] = {
        {"assignment table, idle shutdown, stop", test_manager_assignment},
        {NULL, NULL},
    };
    unit_add_suite("fetcher", pure);
    unit_add_suite("partition follower", follower);
    unit_add_suite("fetcher manager", manager);
}
