/*
 * group-bench — the group coordinator's two figures (issue 15):
 *
 *   group-bench [--commits N] [--records N] [--bootstrap HOST:PORT [--connections C]]
 *
 *   1. OffsetCommit throughput of one coordinator: N commits (default
 *      200,000; one partition each, a standalone group, OffsetCommit v8)
 *      submitted to a coordinator in this process, 64 in flight, each
 *      appended to __consumer_offsets-0 (a real log in a temporary
 *      directory, replication factor 1: acks=all holds once appended) and
 *      answered: commits/s. With --bootstrap, the same over the wire against
 *      that broker's coordinator (C connections, default 4, 16 pipelined
 *      requests each): commits/s as a client sees them.
 *   2. Loading: a partition of __consumer_offsets holding N offset records
 *      (default 1,000,000: 1,000 groups x 10 partitions, rewritten 100
 *      times, in batches of 1,000 as commits write them) is replayed by a
 *      fresh coordinator that becomes its leader: the time until its groups
 *      are served (loading done), and records/s.
 *
 * Exit status 0 when every commit succeeded and the load found exactly the
 * groups and offsets written, 1 otherwise, 2 on usage.
 */
#include "group/group_coordinator.h"
#include "group/group_records.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "proto/kerr.h"
#include "proto/kproto_apis.h"
#include "replica/partition.h"
#include "replica/replica_manager.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/logger.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WINDOW 64

typedef struct bench_env {
    char dir[256];
    config_t *cfg;
    log_manager_t *logs;
    replica_manager_t *rm;
} bench_env_t;

static int env_open(bench_env_t *e) {
    snprintf(e->dir, sizeof e->dir, "/tmp/group-bench-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    char err[256];
    e->cfg = config_new();
    config_set(e->cfg, "log.dirs", e->dir, err, sizeof err);
    config_set(e->cfg, "offsets.topic.num.partitions", "1", err, sizeof err);
    config_set(e->cfg, "group.initial.rebalance.delay.ms", "0", err, sizeof err);
    log_manager_opts_t o = {.now_ms = clock_wall_ms(), .log_lock = replica_manager_lock_log, .log_lock_ctx = &e->rm};
    if (log_manager_open(e->cfg, 1, &o, &e->logs, err, sizeof err) != KERR_NONE) {
        fprintf(stderr, "group-bench: %s\n", err);
        return -1;
    }
    e->rm = replica_manager_new(e->logs, 1, e->cfg);
    int32_t replicas[] = {1};
    partition_state_t st = {1, 1, 1, 0, replicas, 1, replicas, 1};
    return replica_manager_apply(e->rm, GROUP_OFFSETS_TOPIC, 0, &st, NULL, clock_wall_ms()) == KERR_NONE ? 0 : -1;
}

static void env_close(bench_env_t *e) {
    log_manager_close(e->logs, false);
    replica_manager_free(e->rm);
    config_free(e->cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "group-bench: could not remove %s\n", e->dir);
}

/* --- 1. commits, in process ------------------------------------------------------ */

typedef struct commit_slot {
    kp_arena_t arena;
    kp_offset_commit_req_partition_t part;
    kp_offset_commit_req_topic_t topic;
    kp_offset_commit_req_t req;
} commit_slot_t;

typedef struct commit_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_flight;
    int64_t answered;
    int64_t failed;
} commit_run_t;

static commit_run_t run = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void on_commit(void *ctx, const void *resp) {
    commit_slot_t *slot = ctx;
    const kp_offset_commit_resp_t *r = resp;
    const kp_offset_commit_resp_topic_t *t = r->topics.items;
    bool ok = r->topics.count == 1 && ((const kp_offset_commit_resp_partition_t *)t[0].partitions.items)[0].error_code == 0;
    kp_arena_free(&slot->arena);
    free(slot);
    pthread_mutex_lock(&run.mu);
    run.in_flight--;
    run.answered++;
    run.failed += !ok;
    pthread_cond_signal(&run.cv);
    pthread_mutex_unlock(&run.mu);
}

typedef struct stats_req {
    gc_t *gc;
    gc_stats_t out;
} stats_req_t;

static void stats_on_loop(void *arg) {
    stats_req_t *s = arg;
    gc_stats(s->gc, &s->out);
}

static gc_stats_t stats_of(gc_t *gc) {
    stats_req_t s = {gc, {0}};
    gc_run_sync(gc, stats_on_loop, &s);
    return s.out;
}

static int bench_commits_in_process(int64_t n) {
    bench_env_t e;
    if (env_open(&e) != 0)
        return 1;
    char err[256];
    gc_deps_t deps = {e.cfg, 1, e.rm, NULL};
    gc_t *gc = gc_new(&deps, err, sizeof err);
    if (!gc || gc_start(gc, err, sizeof err) != 0)
        return 1;
    gc_partition_role(gc, 0, true, 1);
    while (stats_of(gc).owned != 1)
        usleep(1000);
    int64_t t0 = clock_mono_us();
    for (int64_t i = 0; i < n; i++) {
        pthread_mutex_lock(&run.mu);
        while (run.in_flight >= WINDOW)
            pthread_cond_wait(&run.cv, &run.mu);
        run.in_flight++;
        pthread_mutex_unlock(&run.mu);
        commit_slot_t *s = calloc(1, sizeof *s);
        kp_arena_init(&s->arena);
        s->part = (kp_offset_commit_req_partition_t){(int32_t)(i % 10), i, -1, -1, kp_str("")};
        s->topic = (kp_offset_commit_req_topic_t){kp_str("bench-topic"), {1, &s->part}};
        s->req = (kp_offset_commit_req_t){kp_str("bench-group"), -1, kp_str(""), KP_STR_NULL, -1, {1, &s->topic}};
        gc_call_t call = {KP_API_OFFSET_COMMIT, 8, &s->req, &s->arena, "bench", "/127.0.0.1", on_commit, s};
        if (gc_submit(gc, &call) != 0)
            return 1;
    }
    pthread_mutex_lock(&run.mu);
    while (run.in_flight > 0)
        pthread_cond_wait(&run.cv, &run.mu);
    pthread_mutex_unlock(&run.mu);
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    printf("offset commits, one coordinator in process (acks=all, RF 1, %d in flight): %" PRId64
           " commits in %.2f s = %.0f commits/s, %" PRId64 " failed\n",
           WINDOW, run.answered, secs, (double)run.answered / secs, run.failed);
    gc_free(gc);
    env_close(&e);
    return run.failed == 0 && run.answered == n ? 0 : 1;
}

/* --- 1b. commits over the wire ------------------------------------------------------- */

typedef struct wire_conn {
    const char *host;
    int port;
    int64_t commits;
    int64_t done;
    int64_t failed;
    int id;
} wire_conn_t;

static int read_full(int fd, uint8_t *p, size_t n) {
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Sends one request and returns the response payload (malloc'd; NULL on error). */
static uint8_t *roundtrip(int fd, int16_t key, int16_t version, const void *body, size_t *len) {
    kp_writer_t w;
    kp_writer_init(&w);
    char err[256];
    if (kp_request_encode(key, version, 1, kp_str("group-bench"), body, &w, err, sizeof err) != KP_OK ||
        write(fd, w.buf.data, w.buf.len) != (ssize_t)w.buf.len) {
        kp_writer_free(&w);
        return NULL;
    }
    kp_writer_free(&w);
    uint8_t hdr[4];
    if (read_full(fd, hdr, 4) != 0)
        return NULL;
    *len = ntohl(*(uint32_t *)hdr);
    uint8_t *p = malloc(*len ? *len : 1);
    if (read_full(fd, p, *len) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static int dial(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

#define PIPELINE 16

static void *wire_thread(void *arg) {
    wire_conn_t *c = arg;
    int fd = dial(c->host, c->port);
    if (fd < 0) {
        c->failed = c->commits;
        return NULL;
    }
    char group[64];
    snprintf(group, sizeof group, "bench-wire-%d", c->id);
    int64_t sent = 0;
    kp_writer_t w;
    kp_writer_init(&w);
    while (c->done < c->commits) {
        kp_writer_reset(&w);
        int batch = 0;
        for (; batch < PIPELINE && sent < c->commits; batch++, sent++) {
            kp_offset_commit_req_partition_t part = {(int32_t)(sent % 10), sent, -1, -1, kp_str("")};
            kp_offset_commit_req_topic_t topic = {kp_str("bench-topic"), {1, &part}};
            kp_offset_commit_req_t req = {kp_str(group), -1, kp_str(""), KP_STR_NULL, -1, {1, &topic}};
            char err[256];
            kp_request_encode(KP_API_OFFSET_COMMIT, 7, (int32_t)sent, kp_str("group-bench"), &req, &w, err, sizeof err);
        }
        if (write(fd, w.buf.data, w.buf.len) != (ssize_t)w.buf.len)
            break;
        for (int i = 0; i < batch; i++) {
            uint8_t hdr[4];
            if (read_full(fd, hdr, 4) != 0)
                goto out;
            uint32_t len = ntohl(*(uint32_t *)hdr);
            uint8_t *p = malloc(len ? len : 1);
            if (read_full(fd, p, len) != 0) {
                free(p);
                goto out;
            }
            kp_arena_t a = KP_ARENA_INIT;
            void *body;
            int32_t corr;
            bool ok = kp_response_decode(p, len, KP_API_OFFSET_COMMIT, 7, &a, &corr, &body, NULL, 0) == KP_OK;
            const kp_offset_commit_resp_t *r = body;
            ok = ok && r->topics.count == 1 &&
                 ((kp_offset_commit_resp_partition_t *)((kp_offset_commit_resp_topic_t *)r->topics.items)[0]
                      .partitions.items)[0].error_code == 0;
            c->failed += !ok;
            c->done++;
            kp_arena_free(&a);
            free(p);
        }
    }
out:
    kp_writer_free(&w);
    close(fd);
    c->failed += c->commits - c->done;
    return NULL;
}

/* FindCoordinator for the first group, from the bootstrap broker. */
static int find_coordinator(const char *host, int port, const char *group, char *out_host, size_t cap, int *out_port) {
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = dial(host, port);
        if (fd < 0)
            return -1;
        kp_find_coordinator_req_t rq = {kp_str(group), 0};
        size_t len;
        uint8_t *p = roundtrip(fd, KP_API_FIND_COORDINATOR, 2, &rq, &len);
        close(fd);
        if (!p)
            return -1;
        kp_arena_t a = KP_ARENA_INIT;
        void *body;
        int32_t corr;
        int rc = -1;
        if (kp_response_decode(p, len, KP_API_FIND_COORDINATOR, 2, &a, &corr, &body, NULL, 0) == KP_OK) {
            const kp_find_coordinator_resp_t *r = body;
            if (r->error_code == 0) {
                snprintf(out_host, cap, "%.*s", r->host.len, r->host.ptr);
                *out_port = r->port;
                rc = 0;
            }
        }
        kp_arena_free(&a);
        free(p);
        if (rc == 0)
            return 0;
        usleep(200000); /* __consumer_offsets being created */
    }
    return -1;
}

/* One standalone commit of bench-topic partition 9: its error code (-2:
 * no answer). */
static int probe_commit(const char *host, int port, const char *group) {
    int fd = dial(host, port);
    if (fd < 0)
        return -2;
    kp_offset_commit_req_partition_t part = {9, 0, -1, -1, kp_str("")};
    kp_offset_commit_req_topic_t topic = {kp_str("bench-topic"), {1, &part}};
    kp_offset_commit_req_t req = {kp_str(group), -1, kp_str(""), KP_STR_NULL, -1, {1, &topic}};
    size_t len;
    uint8_t *p = roundtrip(fd, KP_API_OFFSET_COMMIT, 7, &req, &len);
    close(fd);
    int rc = -2;
    kp_arena_t a = KP_ARENA_INIT;
    void *body;
    int32_t corr;
    if (p && kp_response_decode(p, len, KP_API_OFFSET_COMMIT, 7, &a, &corr, &body, NULL, 0) == KP_OK) {
        const kp_offset_commit_resp_t *r = body;
        if (r->topics.count == 1)
            rc = ((kp_offset_commit_resp_partition_t *)((kp_offset_commit_resp_topic_t *)r->topics.items)[0]
                      .partitions.items)[0].error_code;
    }
    kp_arena_free(&a);
    free(p);
    return rc;
}

/* The topic the commits name must exist (the coordinator checks): created
 * with CreateTopics, 10 partitions, replication factor 1 (already there is
 * fine), then waited for until the coordinator accepts a commit of it. */
static int create_bench_topic(const char *host, int port, const char *chost, int cport) {
    int fd = dial(host, port);
    if (fd < 0)
        return -1;
    kp_create_topics_req_topic_t t = {kp_str("bench-topic"), 10, 1, {0, NULL}, {0, NULL}};
    kp_create_topics_req_t rq = {{1, &t}, 30000, false};
    size_t len;
    uint8_t *p = roundtrip(fd, KP_API_CREATE_TOPICS, 1, &rq, &len);
    close(fd);
    free(p);
    for (int attempt = 0; attempt < 300; attempt++) {
        if (probe_commit(chost, cport, "bench-wire-0") == 0)
            return 0;
        usleep(100000);
    }
    return -1;
}

static int bench_commits_wire(const char *bootstrap, int conns, int64_t n) {
    char host[256];
    int port;
    if (sscanf(bootstrap, "%255[^:]:%d", host, &port) != 2)
        return 2;

    /* every connection's group must live on the same coordinator: groups
     * bench-wire-<i> spread over partitions, so ask for each */
    wire_conn_t *cs = calloc((size_t)conns, sizeof *cs);
    pthread_t *ts = calloc((size_t)conns, sizeof *ts);
    char chost[256];
    int cport = 0;
    for (int i = 0; i < conns; i++) {
        char group[64];
        snprintf(group, sizeof group, "bench-wire-%d", i);
        if (find_coordinator(host, port, group, chost, sizeof chost, &cport) != 0) {
            fprintf(stderr, "group-bench: no coordinator for %s\n", group);
            return 1;
        }
        cs[i] = (wire_conn_t){strdup(chost), cport, n / conns, 0, 0, i};
        if (i == 0 && create_bench_topic(host, port, chost, cport) != 0) {
            fprintf(stderr, "group-bench: cannot create bench-topic at %s\n", bootstrap);
            return 1;
        }
    }
    int64_t t0 = clock_mono_us();
    for (int i = 0; i < conns; i++)
        pthread_create(&ts[i], NULL, wire_thread, &cs[i]);
    int64_t done = 0, failed = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(ts[i], NULL);
        done += cs[i].done;
        failed += cs[i].failed;
        free((char *)cs[i].host);
    }
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    printf("offset commits over the wire (%s, %d connections x %d pipelined, OffsetCommit v7): %" PRId64
           " commits in %.2f s = %.0f commits/s, %" PRId64 " failed\n",
           bootstrap, conns, PIPELINE, done, secs, (double)done / secs, failed);
    free(cs);
    free(ts);
    return failed == 0 ? 0 : 1;
}

/* --- 2. loading ----------------------------------------------------------------------- */

static int bench_load(int64_t n) {
    bench_env_t e;
    if (env_open(&e) != 0)
        return 1;
    partition_t *p = replica_manager_get(e.rm, GROUP_OFFSETS_TOPIC, 0);
    enum { PER_BATCH = 1000, GROUPS = 1000, PARTS = 10 };
    record_input_t recs[PER_BATCH];
    buf_t keys[PER_BATCH], values[PER_BATCH];
    for (int i = 0; i < PER_BATCH; i++) {
        buf_init(&keys[i]);
        buf_init(&values[i]);
    }
    buf_t batch;
    buf_init(&batch);
    int64_t written = 0;
    int64_t t0 = clock_mono_us();
    while (written < n) {
        int k = 0;
        for (; k < PER_BATCH && written < n; k++, written++) {
            char group[32];
            snprintf(group, sizeof group, "load-%d", (int)((written / PARTS) % GROUPS));
            buf_reset(&keys[k]);
            buf_reset(&values[k]);
            group_rec_offset_key(&keys[k], kp_str(group), kp_str("orders"), (int32_t)(written % PARTS));
            group_rec_offset_t v = {written, -1, kp_str(""), clock_wall_ms(), -1};
            group_rec_offset_value(&values[k], &v);
            recs[k] = (record_input_t){keys[k].data, (int32_t)keys[k].len, values[k].data, (int32_t)values[k].len,
                                       clock_wall_ms(), 0, NULL};
        }
        buf_reset(&batch);
        batch_build_opts_t o = {.producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
        partition_append_result_t res;
        if (record_batch_build(&batch, &o, recs, k) != KERR_NONE ||
            partition_append(p, batch.data, batch.len, 0, clock_wall_ms(), &res) != KERR_NONE) {
            fprintf(stderr, "group-bench: cannot write the offsets partition\n");
            return 1;
        }
    }
    double write_secs = (double)(clock_mono_us() - t0) / 1e6;
    for (int i = 0; i < PER_BATCH; i++) {
        buf_free(&keys[i]);
        buf_free(&values[i]);
    }
    buf_free(&batch);

    char err[256];
    gc_deps_t deps = {e.cfg, 1, e.rm, NULL};
    gc_t *gc = gc_new(&deps, err, sizeof err);
    if (!gc || gc_start(gc, err, sizeof err) != 0)
        return 1;
    int64_t l0 = clock_mono_us();
    gc_partition_role(gc, 0, true, 1);
    gc_stats_t st;
    for (;;) {
        st = stats_of(gc);
        if (st.owned == 1 && st.loading == 0)
            break;
        usleep(500);
    }
    double secs = (double)(clock_mono_us() - l0) / 1e6;
    int64_t want_groups = n / PARTS < GROUPS ? (n + PARTS - 1) / PARTS : GROUPS;
    int64_t want_offsets = n < GROUPS * PARTS ? n : GROUPS * PARTS;
    printf("loading __consumer_offsets-0: %" PRId64 " offset records (written in %.2f s) loaded in %.3f s = %.0f "
           "records/s; %" PRId64 " groups, %" PRId64 " offsets in memory\n",
           n, write_secs, secs, (double)n / secs, st.groups, st.offsets);
    gc_free(gc);
    env_close(&e);
    return st.groups == want_groups && st.offsets == want_offsets ? 0 : 1;
}

int main(int argc, char **argv) {
    int64_t commits = 200000, records = 1000000;
    const char *bootstrap = NULL;
    int conns = 4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc)
            commits = atoll(argv[++i]);
        else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
            records = atoll(argv[++i]);
        else if (strcmp(argv[i], "--bootstrap") == 0 && i + 1 < argc)
            bootstrap = argv[++i];
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            conns = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: group-bench [--commits N] [--records N] [--bootstrap HOST:PORT [--connections C]]\n");
            return 2;
        }
    }
    if (commits <= 0 || records <= 0 || conns <= 0)
        return 2;
    logger_set_level(LOGGER_WARN);
    int rc = bench_commits_in_process(commits);
    if (bootstrap)
        rc |= bench_commits_wire(bootstrap, conns, commits);
    rc |= bench_load(records);
    return rc;
}
