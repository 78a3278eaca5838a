/* Partitions and the replica manager: roles from LeaderAndIsr with epoch
 * fencing, appends, the high watermark from followers' fetches, waiters,
 * StopReplica. */
#include "unit.h"

#include "log/record_batch.h"
#include "replica/replica_manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1600000000000LL

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

static kerr_t produce(partition_t *p, int n, int64_t *base) {
    record_input_t recs[8];
    for (int i = 0; i < n; i++)
        recs[i] = (record_input_t){.key_len = -1, .value = "x", .value_len = 1, .timestamp = T0};
    batch_build_opts_t bo = {.partition_leader_epoch = -1, .compression = COMPRESSION_NONE, .producer_id = -1,
                             .producer_epoch = -1, .base_sequence = -1};
    buf_t b = BUF_INIT;
    record_batch_build(&b, &bo, recs, n);
    partition_append_result_t r;
    kerr_t e = partition_append(p, b.data, b.len, 0, T0, &r);
    if (e == KERR_NONE && base)
        *base = r.base_offset;
    buf_free(&b);
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
    CU_ASSERT_EQUAL(partition_read(p, 0, 1 << 20, true, &(partition_reader_t){-1, -1, -1, T0}, &r), KERR_NONE);
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
    CU_ASSERT_EQUAL(partition_read(p, 0, 1 << 20, true, &(partition_reader_t){-1, -1, -1, T0}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 0);
    CU_ASSERT_EQUAL(r.data.length, 0); /* nothing committed yet */
    /* Follower 2 fetches at 0 (has nothing), then at 4 (has it all). */
    CU_ASSERT_EQUAL(partition_read(p, 0, 1 << 20, true, &(partition_reader_t){2, 5, -1, T0}, &r), KERR_NONE);
    CU_ASSERT(r.data.length > 0); /* followers read up to the LEO */
    CU_ASSERT_EQUAL(r.high_watermark, 0);
    CU_ASSERT_EQUAL(partition_read(p, 4, 1 << 20, true, &(partition_reader_t){2, 5, -1, T0}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 4);
    /* Replica 3 is not in the ISR: its lag does not hold the HW back. */
    CU_ASSERT_EQUAL(partition_read(p, 0, 1 << 20, true, &(partition_reader_t){-1, -1, -1, T0}, &r), KERR_NONE);
    CU_ASSERT_EQUAL(r.high_watermark, 4);
    /* Stale and future leader epochs are refused. */
    CU_ASSERT_EQUAL(partition_read(p, 0, 1 << 20, true, &(partition_reader_t){2, 4, -1, T0}, &r), KERR_FENCED_LEADER_EPOCH);
    CU_ASSERT_EQUAL(partition_read(p, 0, 1 << 20, true, &(partition_reader_t){2, 6, -1, T0}, &r), KERR_UNKNOWN_LEADER_EPOCH);
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
    CU_ASSERT_EQUAL(partition_read(p, 0, 100, true, &(partition_reader_t){-1, -1, -1, T0}, &r), KERR_NOT_LEADER_OR_FOLLOWER);
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

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"leader alone: HW follows the LEO", test_leader_alone_hw_follows_leo},
        {"HW from follower fetches", test_hw_from_follower_fetches},
        {"epoch fencing and roles", test_epoch_fencing_and_roles},
        {"waiters woken on append", test_waiters_woken_on_append},
        {"StopReplica deletes; re-create", test_stop_replica_deletes},
        {"StopReplica (delete) of a log no partition serves", test_stop_replica_deletes_unserved_log},
        {NULL, NULL},
    };
    unit_add_suite("replica-manager", tests);
}
