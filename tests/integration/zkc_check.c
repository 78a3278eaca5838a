/*
 * zkc_check — runs one zkc scenario against a real ZooKeeper; driven by
 * tests/integration/test_zkc.py.
 *
 *   zkc_check SCENARIO CONNECT
 *
 * Scenarios: basic, multi, chroot, ephemeral, watches, expiry, stall.
 * Prints one line per step and "PASS" at the end; a failed check prints
 * "FAIL: <what>" and exits 1. The executor here is one thread with a FIFO
 * queue; every callback checks that it runs on that thread.
 *
 * "stall" talks to the test on stdin/stdout: it prints "ready", waits for
 * a line (the test has stopped ZooKeeper with SIGSTOP), sends a read and a
 * write on the stalled connection, prints "disconnected" once zkc reports
 * it (the test then resumes ZooKeeper), and checks that the read was
 * retried and succeeded while the write reported the lost connection.
 */
#include "util/clock.h"
#include "zk/zkc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

/* --- checks ------------------------------------------------------------------ */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    _exit(1);
}

#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        if (!(cond))                                                                                               \
            fail("%s:%d: %s", __FILE__, __LINE__, #cond);                                                          \
    } while (0)

#define CHECK_ERR(got, want)                                                                                       \
    do {                                                                                                           \
        zkc_err_t got_ = (got), want_ = (want);                                                                    \
        if (got_ != want_)                                                                                         \
            fail("%s:%d: %s gave %s, expected %s", __FILE__, __LINE__, #got, zkc_err_name(got_),                  \
                 zkc_err_name(want_));                                                                             \
    } while (0)

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

/* --- the executor: one thread, FIFO --------------------------------------------------- */

typedef struct task {
    void (*fn)(void *);
    void *arg;
    struct task *next;
} task_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    task_t *head, *tail;
    bool stop;
    pthread_t thread;
} ex = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false, 0};

static void *ex_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&ex.mu);
    for (;;) {
        while (!ex.head && !ex.stop)
            pthread_cond_wait(&ex.cond, &ex.mu);
        if (!ex.head)
            break;
        task_t *t = ex.head;
        ex.head = t->next;
        if (!ex.head)
            ex.tail = NULL;
        pthread_mutex_unlock(&ex.mu);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&ex.mu);
    }
    pthread_mutex_unlock(&ex.mu);
    return NULL;
}

static int ex_post(void *ctx, void (*fn)(void *), void *arg) {
    (void)ctx;
    task_t *t = malloc(sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&ex.mu);
    if (ex.stop) {
        pthread_mutex_unlock(&ex.mu);
        free(t);
        return -1;
    }
    if (ex.tail)
        ex.tail->next = t;
    else
        ex.head = t;
    ex.tail = t;
    pthread_cond_signal(&ex.cond);
    pthread_mutex_unlock(&ex.mu);
    return 0;
}

/* Runs what is queued, then stops the thread. */
static void ex_stop(void) {
    pthread_mutex_lock(&ex.mu);
    ex.stop = true;
    pthread_cond_signal(&ex.cond);
    pthread_mutex_unlock(&ex.mu);
    pthread_join(ex.thread, NULL);
}

/* --- what the callbacks saw ----------------------------------------------------------------- */

#define MAX_EVENTS 64

typedef struct event {
    char kind;      /* 'w' watch, 's' session, 'r' result */
    int type;       /* zkc_watch_type_t, zkc_session_event_t, or zkc_err_t */
    char path[256];
    char data[256]; /* results: the data of a get */
    int tag;        /* results: the caller's ctx */
} event_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    event_t ev[MAX_EVENTS];
    int n;
    int off_executor; /* callbacks that ran elsewhere: must stay 0 */
} seen = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0};

static void record(char kind, int type, const char *path, const char *data, int tag) {
    pthread_mutex_lock(&seen.mu);
    if (!pthread_equal(pthread_self(), ex.thread))
        seen.off_executor++;
    if (seen.n < MAX_EVENTS) {
        event_t *e = &seen.ev[seen.n++];
        e->kind = kind;
        e->type = type;
        snprintf(e->path, sizeof e->path, "%s", path ? path : "");
        snprintf(e->data, sizeof e->data, "%s", data ? data : "");
        e->tag = tag;
    }
    pthread_cond_broadcast(&seen.cond);
    pthread_mutex_unlock(&seen.mu);
}

static void on_watch(void *ctx, zkc_watch_type_t type, const char *path) {
    (void)ctx;
    record('w', type, path, NULL, 0);
}

static void on_session(void *ctx, zkc_session_event_t ev) {
    (void)ctx;
    record('s', ev, NULL, NULL, 0);
}

static void on_result(void *ctx, const zkc_result_t *res) {
    record('r', res->err, res->path, res->data, (int)(intptr_t)ctx);
}

/* Index of the first event from `from` on matching kind/type (type -1:
 * any) and, for results, tag; waits up to timeout_ms. -1 if none came. */
static int wait_event(int from, char kind, int type, int tag, int timeout_ms) {
    int64_t deadline = clock_mono_ms() + timeout_ms;
    pthread_mutex_lock(&seen.mu);
    for (;;) {
        for (int i = from; i < seen.n; i++) {
            event_t *e = &seen.ev[i];
            if (e->kind == kind && (type < 0 || e->type == type) && (kind != 'r' || e->tag == tag)) {
                pthread_mutex_unlock(&seen.mu);
                return i;
            }
        }
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&seen.cond, &seen.mu, &ts);
    }
    pthread_mutex_unlock(&seen.mu);
    return -1;
}

static int events_now(void) {
    pthread_mutex_lock(&seen.mu);
    int n = seen.n;
    pthread_mutex_unlock(&seen.mu);
    return n;
}

static event_t event_at(int i) {
    pthread_mutex_lock(&seen.mu);
    event_t e = seen.ev[i];
    pthread_mutex_unlock(&seen.mu);
    return e;
}

/* Waits until everything posted so far has run: a task posted now runs
 * after them (FIFO). */
static void barrier_fn(void *arg) { record('b', 0, NULL, NULL, (int)(intptr_t)arg); }
static void ex_barrier(void) {
    static int next_tag = 1000;
    int tag = next_tag++;
    int from = events_now();
    ex_post(NULL, barrier_fn, (void *)(intptr_t)tag);
    CHECK(wait_event(from, 'b', -1, 0, 5000) >= 0);
}

/* --- helpers ------------------------------------------------------------------------------------- */

static zkc_t *open_zkc(const char *connect, int session_ms) {
    zkc_config_t cfg = {
        .connect = connect,
        .session_timeout_ms = session_ms,
        .connection_timeout_ms = 15000,
        .post = ex_post,
        .on_session = on_session,
    };
    char err[512];
    zkc_t *zkc = zkc_open(&cfg, err, sizeof err);
    if (!zkc)
        fail("zkc_open(%s): %s", connect, err);
    return zkc;
}

static void expect_data(zkc_t *zkc, const char *path, const char *want, int want_version) {
    char *data = NULL;
    int len = 0;
    zkc_stat_t st;
    CHECK_ERR(zkc_get(zkc, path, &data, &len, &st), ZKC_OK);
    if (!want) {
        CHECK(data == NULL && len == -1);
    } else {
        CHECK(data && len == (int)strlen(want) && memcmp(data, want, (size_t)len) == 0);
    }
    CHECK(st.version == want_version);
    free(data);
}

/* A fresh top-level node per run, so scenarios can share a ZooKeeper. */
static const char *base(void) {
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/zkc-%d", (int)getpid());
    return path;
}

static char *join(const char *a, const char *b) {
    static char bufs[8][256];
    static int i;
    char *p = bufs[i++ % 8];
    snprintf(p, 256, "%s%s", a, b);
    return p;
}

/* --- scenarios ---------------------------------------------------------------------------------------- */

static void scenario_basic(const char *connect) {
    zkc_t *zkc = open_zkc(connect, 10000);
    const char *b = base();
    zkc_stat_t st;

    CHECK_ERR(zkc_create(zkc, b, NULL, -1, ZKC_PERSISTENT, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, b, NULL, -1, ZKC_PERSISTENT, NULL), ZKC_NODEEXISTS);
    expect_data(zkc, b, NULL, 0);
    step("null data reads back as NULL, -1");

    char *created = NULL;
    CHECK_ERR(zkc_create(zkc, join(b, "/v"), "one", 3, ZKC_PERSISTENT, &created), ZKC_OK);
    CHECK(created && strcmp(created, join(b, "/v")) == 0);
    free(created);
    expect_data(zkc, join(b, "/v"), "one", 0);
    CHECK_ERR(zkc_set(zkc, join(b, "/v"), "two", 3, 0, &st), ZKC_OK);
    CHECK(st.version == 1);
    CHECK_ERR(zkc_set(zkc, join(b, "/v"), "stale", 5, 0, NULL), ZKC_BADVERSION);
    expect_data(zkc, join(b, "/v"), "two", 1);
    CHECK_ERR(zkc_set(zkc, join(b, "/v"), "", 0, ZKC_ANY_VERSION, &st), ZKC_OK);
    CHECK(st.version == 2);
    expect_data(zkc, join(b, "/v"), "", 2);
    step("set with versions: BADVERSION on a stale version");

    CHECK_ERR(zkc_delete(zkc, join(b, "/v"), 1), ZKC_BADVERSION);
    CHECK_ERR(zkc_delete(zkc, join(b, "/v"), 2), ZKC_OK);
    CHECK_ERR(zkc_exists(zkc, join(b, "/v"), &st), ZKC_NONODE);
    CHECK_ERR(zkc_delete(zkc, join(b, "/v"), ZKC_ANY_VERSION), ZKC_NONODE);
    char *data = (char *)"x";
    int len = 0;
    CHECK_ERR(zkc_get(zkc, join(b, "/v"), &data, &len, NULL), ZKC_NONODE);
    CHECK(data == NULL);
    step("delete with versions; NONODE after");

    CHECK_ERR(zkc_create(zkc, join(b, "/p/q/r"), "deep", 4, ZKC_PERSISTENT, NULL), ZKC_NONODE);
    CHECK_ERR(zkc_create(zkc, join(b, "/p/q/r"), "deep", 4, ZKC_PERSISTENT | ZKC_PARENTS, NULL), ZKC_OK);
    expect_data(zkc, join(b, "/p/q"), NULL, 0);
    expect_data(zkc, join(b, "/p/q/r"), "deep", 0);
    CHECK_ERR(zkc_create(zkc, join(b, "/p/q/r"), NULL, -1, ZKC_PERSISTENT | ZKC_PARENTS, NULL), ZKC_NODEEXISTS);
    step("create with parents");

    char *s1 = NULL, *s2 = NULL;
    CHECK_ERR(zkc_create(zkc, join(b, "/seq/n_"), "a", 1, ZKC_SEQUENTIAL | ZKC_PARENTS, &s1), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, join(b, "/seq/n_"), "b", 1, ZKC_SEQUENTIAL, &s2), ZKC_OK);
    CHECK(strcmp(s1, join(b, "/seq/n_0000000000")) == 0);
    CHECK(strcmp(s2, join(b, "/seq/n_0000000001")) == 0);
    free(s1);
    free(s2);
    step("sequential nodes get 10-digit counters");

    zkc_strings_t kids;
    CHECK_ERR(zkc_create(zkc, join(b, "/seq/a"), NULL, -1, 0, NULL), ZKC_OK);
    CHECK_ERR(zkc_children(zkc, join(b, "/seq"), &kids), ZKC_OK);
    CHECK(kids.n == 3);
    CHECK(strcmp(kids.items[0], "a") == 0 && strcmp(kids.items[1], "n_0000000000") == 0 &&
          strcmp(kids.items[2], "n_0000000001") == 0);
    zkc_strings_free(&kids);
    CHECK_ERR(zkc_children(zkc, join(b, "/none"), &kids), ZKC_NONODE);
    CHECK(kids.n == 0);
    CHECK_ERR(zkc_delete(zkc, join(b, "/seq"), ZKC_ANY_VERSION), ZKC_NOTEMPTY);
    step("children sorted; NOTEMPTY");

    zkc_children_data_t kd;
    CHECK_ERR(zkc_get_children_data(zkc, join(b, "/seq"), &kd), ZKC_OK);
    CHECK(kd.n == 3);
    CHECK(strcmp(kd.v[0].name, "a") == 0 && strcmp(kd.v[0].path, join(b, "/seq/a")) == 0);
    CHECK_ERR(kd.v[0].err, ZKC_OK);
    CHECK(kd.v[0].data == NULL && kd.v[0].len == -1);
    CHECK(strcmp(kd.v[2].name, "n_0000000001") == 0 && strcmp(kd.v[2].path, join(b, "/seq/n_0000000001")) == 0);
    CHECK_ERR(kd.v[2].err, ZKC_OK);
    CHECK(kd.v[2].len == 1 && memcmp(kd.v[2].data, "b", 1) == 0 && kd.v[2].stat.version == 0);
    CHECK(kd.v[2].stat.ctime > 0 && kd.v[2].stat.czxid > kd.v[1].stat.czxid);
    zkc_children_data_free(&kd);
    CHECK(kd.v == NULL && kd.n == 0);
    CHECK_ERR(zkc_get_children_data(zkc, join(b, "/p/q/r"), &kd), ZKC_OK);
    CHECK(kd.n == 0);
    zkc_children_data_free(&kd);
    CHECK_ERR(zkc_get_children_data(zkc, join(b, "/none"), &kd), ZKC_NONODE);
    CHECK(kd.n == 0 && kd.v == NULL);
    CHECK_ERR(zkc_get_children_data(zkc, "/", &kd), ZKC_OK);
    bool found = false;
    for (size_t k = 0; k < kd.n; k++) {
        CHECK(kd.v[k].path[0] == '/' && kd.v[k].path[1] != '/');
        found |= strcmp(kd.v[k].path, b) == 0 && kd.v[k].err == ZKC_OK && kd.v[k].data == NULL;
    }
    CHECK(found);
    zkc_children_data_free(&kd);
    step("children with their data in one batch: names, paths, data, stats; NONODE for a missing parent");

    CHECK_ERR(zkc_create(zkc, join(b, "/eph"), NULL, -1, ZKC_EPHEMERAL, NULL), ZKC_OK);
    CHECK_ERR(zkc_exists(zkc, join(b, "/eph"), &st), ZKC_OK);
    CHECK(st.ephemeral_owner == zkc_session_id(zkc, NULL));
    CHECK_ERR(zkc_create(zkc, join(b, "/eph/child"), NULL, -1, 0, NULL), ZKC_NOCHILDRENFOREPHEMERALS);
    CHECK_ERR(zkc_create(zkc, "bad-path", NULL, -1, 0, NULL), ZKC_BADARGUMENTS);
    step("ephemeral owner; error mapping");

    zkc_close(zkc);
    ex_stop();
    CHECK(seen.off_executor == 0);
}

static void scenario_multi(const char *connect) {
    zkc_t *zkc = open_zkc(connect, 10000);
    const char *b = base();
    CHECK_ERR(zkc_create(zkc, join(b, "/x"), "x0", 2, ZKC_PERSISTENT | ZKC_PARENTS, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, join(b, "/y"), NULL, -1, 0, NULL), ZKC_OK);

    /* a failing check aborts the whole transaction */
    zkc_op_t ops[4];
    zkc_op_create(&ops[0], join(b, "/a"), "A", 1, 0);
    zkc_op_set(&ops[1], join(b, "/x"), "x1", 2, 0);
    zkc_op_check(&ops[2], join(b, "/x"), 5);
    zkc_op_delete(&ops[3], join(b, "/y"), 0);
    CHECK_ERR(zkc_multi(zkc, ops, 4), ZKC_BADVERSION);
    CHECK_ERR(ops[0].err, ZKC_ROLLEDBACK);
    CHECK_ERR(ops[1].err, ZKC_ROLLEDBACK);
    CHECK_ERR(ops[2].err, ZKC_BADVERSION);
    CHECK_ERR(ops[3].err, ZKC_ROLLEDBACK);
    CHECK(ops[0].created == NULL);
    CHECK_ERR(zkc_exists(zkc, join(b, "/a"), NULL), ZKC_NONODE);
    CHECK_ERR(zkc_exists(zkc, join(b, "/y"), NULL), ZKC_OK);
    expect_data(zkc, join(b, "/x"), "x0", 0);
    step("a failing check aborts the whole transaction");

    zkc_op_create(&ops[0], join(b, "/a"), "A", 1, ZKC_SEQUENTIAL);
    zkc_op_check(&ops[1], join(b, "/y"), 0);
    zkc_op_set(&ops[2], join(b, "/x"), "x1", 2, 0);
    zkc_op_delete(&ops[3], join(b, "/y"), 0);
    CHECK_ERR(zkc_multi(zkc, ops, 4), ZKC_OK);
    for (int i = 0; i < 4; i++)
        CHECK_ERR(ops[i].err, ZKC_OK);
    /* the sequence is the parent's child-change count: x and y came first */
    CHECK(ops[0].created && strcmp(ops[0].created, join(b, "/a0000000002")) == 0);
    CHECK(ops[2].stat.version == 1);
    zkc_ops_release(ops, 4);
    CHECK(ops[0].created == NULL);
    expect_data(zkc, join(b, "/x"), "x1", 1);
    CHECK_ERR(zkc_exists(zkc, join(b, "/y"), NULL), ZKC_NONODE);
    step("check + create + set + delete applied together");

    /* Kafka's controller election: create the ephemeral /controller and
     * bump /controller_epoch at the version just read, in one transaction */
    CHECK_ERR(zkc_create(zkc, join(b, "/controller_epoch"), "0", 1, 0, NULL), ZKC_OK);
    zkc_op_create(&ops[0], join(b, "/controller"), "{\"version\":1,\"brokerid\":1}", 27, ZKC_EPHEMERAL);
    zkc_op_set(&ops[1], join(b, "/controller_epoch"), "1", 1, 0);
    CHECK_ERR(zkc_multi(zkc, ops, 2), ZKC_OK);
    zkc_ops_release(ops, 2);
    zkc_op_create(&ops[0], join(b, "/controller"), "{\"version\":1,\"brokerid\":2}", 27, ZKC_EPHEMERAL);
    zkc_op_set(&ops[1], join(b, "/controller_epoch"), "1", 1, 0);
    CHECK_ERR(zkc_multi(zkc, ops, 2), ZKC_NODEEXISTS);
    CHECK_ERR(ops[0].err, ZKC_NODEEXISTS);
    CHECK_ERR(ops[1].err, ZKC_ROLLEDBACK);
    expect_data(zkc, join(b, "/controller_epoch"), "1", 1);
    step("controller election as a multi; the loser sees NODEEXISTS");

    /* asynchronous multi: results through the executor */
    int from = events_now();
    zkc_op_check(&ops[0], join(b, "/controller_epoch"), 0);
    CHECK_ERR(zkc_amulti(zkc, ops, 1, on_result, (void *)(intptr_t)7), ZKC_OK);
    int i = wait_event(from, 'r', -1, 7, 10000);
    CHECK(i >= 0);
    CHECK_ERR((zkc_err_t)event_at(i).type, ZKC_BADVERSION);
    CHECK_ERR(zkc_multi(zkc, ops, 0), ZKC_BADARGUMENTS);
    step("async multi");

    zkc_close(zkc);
    ex_stop();
    CHECK(seen.off_executor == 0);
}

/* A chroot that does not exist yet is created; paths, sequential names and
 * multi results are relative to it. */
static void scenario_chroot(const char *connect) {
    char rooted[512];
    snprintf(rooted, sizeof rooted, "%s%s/chroot/samsa", connect, base());
    zkc_t *plain = open_zkc(connect, 10000);
    CHECK_ERR(zkc_exists(plain, join(base(), "/chroot/samsa"), NULL), ZKC_NONODE);

    zkc_t *zkc = open_zkc(rooted, 10000);
    CHECK(strcmp(zkc_chroot(zkc), join(base(), "/chroot/samsa")) == 0);
    CHECK_ERR(zkc_exists(plain, join(base(), "/chroot/samsa"), NULL), ZKC_OK);
    step("the chroot was created");

    char *created = NULL;
    CHECK_ERR(zkc_create(zkc, "/brokers/ids", NULL, -1, ZKC_PARENTS, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, "/brokers/ids/1", "b1", 2, ZKC_EPHEMERAL, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, "/isr_change_", NULL, -1, ZKC_SEQUENTIAL, &created), ZKC_OK);
    /* the counter is the parent's child-change count: "brokers" was first */
    CHECK(created && strcmp(created, "/isr_change_0000000001") == 0);
    free(created);
    expect_data(plain, join(base(), "/chroot/samsa/brokers/ids/1"), "b1", 0);
    zkc_strings_t kids;
    CHECK_ERR(zkc_children(zkc, "/", &kids), ZKC_OK);
    CHECK(kids.n == 2 && strcmp(kids.items[0], "brokers") == 0);
    zkc_strings_free(&kids);
    zkc_op_t op;
    zkc_op_create(&op, "/seq_", NULL, -1, ZKC_SEQUENTIAL);
    CHECK_ERR(zkc_multi(zkc, &op, 1), ZKC_OK);
    CHECK(op.created && strcmp(op.created, "/seq_0000000002") == 0);
    zkc_ops_release(&op, 1);
    step("paths are relative to the chroot");

    /* a second open with the chroot already there */
    zkc_t *again = open_zkc(rooted, 10000);
    expect_data(again, "/brokers/ids/1", "b1", 0);
    zkc_close(again);
    zkc_close(zkc);
    CHECK_ERR(zkc_exists(plain, join(base(), "/chroot/samsa/brokers/ids/1"), NULL), ZKC_NONODE);
    zkc_close(plain);
    ex_stop();
    CHECK(seen.off_executor == 0);
    step("reopened; ephemeral gone with its session");
}

static void scenario_ephemeral(const char *connect) {
    zkc_t *a = open_zkc(connect, 10000);
    zkc_t *b = open_zkc(connect, 10000);
    CHECK(zkc_session_id(a, NULL) != zkc_session_id(b, NULL));
    CHECK_ERR(zkc_create(a, base(), NULL, -1, 0, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(a, join(base(), "/eph"), "A", 1, ZKC_EPHEMERAL, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(a, join(base(), "/eph-seq-"), "A", 1, ZKC_EPHEMERAL | ZKC_SEQUENTIAL, NULL), ZKC_OK);
    zkc_stat_t st;
    CHECK_ERR(zkc_exists(b, join(base(), "/eph"), &st), ZKC_OK);
    CHECK(st.ephemeral_owner == zkc_session_id(a, NULL));
    zkc_strings_t kids;
    CHECK_ERR(zkc_children(b, base(), &kids), ZKC_OK);
    CHECK(kids.n == 2);
    zkc_strings_free(&kids);
    step("b sees a's ephemerals");
    zkc_close(a);
    CHECK_ERR(zkc_exists(b, join(base(), "/eph"), NULL), ZKC_NONODE);
    CHECK_ERR(zkc_children(b, base(), &kids), ZKC_OK);
    CHECK(kids.n == 0);
    zkc_strings_free(&kids);
    step("closing a's session removed them at once");
    zkc_close(b);
    ex_stop();
    CHECK(seen.off_executor == 0);
}

/* Watches fire once, with the right event, on the executor thread. */
static void scenario_watches(const char *connect) {
    zkc_t *zkc = open_zkc(connect, 10000);
    zkc_t *other = open_zkc(connect, 10000);
    const char *b = base();
    CHECK_ERR(zkc_create(zkc, b, NULL, -1, 0, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, join(b, "/d"), "v0", 2, 0, NULL), ZKC_OK);

    /* data watch: CHANGED, once */
    int from = events_now();
    CHECK_ERR(zkc_aget(zkc, join(b, "/d"), on_watch, NULL, on_result, (void *)(intptr_t)1), ZKC_OK);
    int i = wait_event(from, 'r', -1, 1, 10000);
    CHECK(i >= 0);
    CHECK_ERR((zkc_err_t)event_at(i).type, ZKC_OK);
    CHECK(strcmp(event_at(i).data, "v0") == 0);
    CHECK_ERR(zkc_set(other, join(b, "/d"), "v1", 2, ZKC_ANY_VERSION, NULL), ZKC_OK);
    i = wait_event(from, 'w', -1, 0, 10000);
    CHECK(i >= 0);
    CHECK(event_at(i).type == ZKC_WATCH_CHANGED);
    CHECK(strcmp(event_at(i).path, join(b, "/d")) == 0);
    step("data watch fired: changed %s", event_at(i).path);
    /* one-shot: a second change brings no event. ZooKeeper delivers a
     * watch event before any later read result of the same session, so
     * once this read's result is in, a second event would have been too. */
    CHECK_ERR(zkc_set(other, join(b, "/d"), "v2", 2, ZKC_ANY_VERSION, NULL), ZKC_OK);
    int mark = events_now();
    CHECK_ERR(zkc_aget(zkc, join(b, "/d"), NULL, NULL, on_result, (void *)(intptr_t)2), ZKC_OK);
    i = wait_event(mark, 'r', -1, 2, 10000);
    CHECK(i >= 0 && strcmp(event_at(i).data, "v2") == 0);
    int watches = 0;
    for (int k = from; k < events_now(); k++)
        watches += event_at(k).kind == 'w';
    CHECK(watches == 1);
    step("it fired once");

    /* exists watch on a missing node: CREATED; then DELETED through a get watch */
    from = events_now();
    CHECK_ERR(zkc_aexists(zkc, join(b, "/new"), on_watch, NULL, on_result, (void *)(intptr_t)3), ZKC_OK);
    i = wait_event(from, 'r', -1, 3, 10000);
    CHECK(i >= 0);
    CHECK_ERR((zkc_err_t)event_at(i).type, ZKC_NONODE);
    CHECK_ERR(zkc_create(other, join(b, "/new"), NULL, -1, 0, NULL), ZKC_OK);
    i = wait_event(from, 'w', -1, 0, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_WATCH_CREATED);
    step("exists watch fired: created");

    from = events_now();
    CHECK_ERR(zkc_aget(zkc, join(b, "/new"), on_watch, NULL, on_result, (void *)(intptr_t)4), ZKC_OK);
    CHECK(wait_event(from, 'r', -1, 4, 10000) >= 0);
    CHECK_ERR(zkc_delete(other, join(b, "/new"), ZKC_ANY_VERSION), ZKC_OK);
    i = wait_event(from, 'w', -1, 0, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_WATCH_DELETED);
    step("data watch fired: deleted");

    /* children watch */
    from = events_now();
    CHECK_ERR(zkc_achildren(zkc, b, on_watch, NULL, on_result, (void *)(intptr_t)5), ZKC_OK);
    CHECK(wait_event(from, 'r', -1, 5, 10000) >= 0);
    CHECK_ERR(zkc_create(other, join(b, "/kid"), NULL, -1, ZKC_EPHEMERAL, NULL), ZKC_OK);
    i = wait_event(from, 'w', -1, 0, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_WATCH_CHILDREN && strcmp(event_at(i).path, b) == 0);
    step("children watch fired");

    /* a get on a missing node sets no watch: the watch is dropped, after
     * the result */
    from = events_now();
    CHECK_ERR(zkc_aget(zkc, join(b, "/missing"), on_watch, NULL, on_result, (void *)(intptr_t)6), ZKC_OK);
    int r = wait_event(from, 'r', -1, 6, 10000);
    i = wait_event(from, 'w', -1, 0, 10000);
    CHECK(r >= 0 && i > r);
    CHECK_ERR((zkc_err_t)event_at(r).type, ZKC_NONODE);
    CHECK(event_at(i).type == ZKC_WATCH_DROPPED);
    step("get on a missing node: NONODE, watch dropped");

    /* async writes */
    from = events_now();
    CHECK_ERR(zkc_aset(zkc, join(b, "/d"), "v3", 2, 0, on_result, (void *)(intptr_t)8), ZKC_OK);
    CHECK_ERR(zkc_acreate(zkc, join(b, "/e"), "e", 1, 0, on_result, (void *)(intptr_t)9), ZKC_OK);
    CHECK_ERR(zkc_adelete(zkc, join(b, "/e"), 0, on_result, (void *)(intptr_t)10), ZKC_OK);
    i = wait_event(from, 'r', -1, 8, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_BADVERSION);
    i = wait_event(from, 'r', -1, 9, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_OK);
    i = wait_event(from, 'r', -1, 10, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_OK);
    CHECK_ERR(zkc_acreate(zkc, join(b, "/f/g"), NULL, -1, ZKC_PARENTS, on_result, NULL), ZKC_BADARGUMENTS);
    step("async writes in order");

    /* a watch still set when the client closes is dropped */
    from = events_now();
    CHECK_ERR(zkc_aexists(zkc, join(b, "/later"), on_watch, NULL, NULL, NULL), ZKC_OK);
    ex_barrier();
    zkc_close(zkc);
    i = wait_event(from, 'w', -1, 0, 10000);
    CHECK(i >= 0 && event_at(i).type == ZKC_WATCH_DROPPED && strcmp(event_at(i).path, join(b, "/later")) == 0);
    step("close drops pending watches");
    zkc_close(other);
    ex_stop();
    if (seen.off_executor != 0)
        fail("%d callbacks ran outside the executor", seen.off_executor);
    step("all callbacks ran on the executor thread");
}

/* Forces expiry the deterministic way: a second client resumes the same
 * session (id + password) and closes it. zkc must report EXPIRED, drop the
 * watches, open a new session and report NEW. */
static void scenario_expiry(const char *connect) {
    zkc_t *zkc = open_zkc(connect, 6000);
    const char *b = base();
    CHECK_ERR(zkc_create(zkc, b, NULL, -1, 0, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, join(b, "/eph"), NULL, -1, ZKC_EPHEMERAL, NULL), ZKC_OK);
    int from = events_now();
    CHECK_ERR(zkc_aexists(zkc, join(b, "/never"), on_watch, NULL, on_result, (void *)(intptr_t)1), ZKC_OK);
    CHECK(wait_event(from, 'r', -1, 1, 10000) >= 0);

    clientid_t id;
    id.client_id = zkc_session_id(zkc, id.passwd);
    step("session 0x%llx", (unsigned long long)id.client_id);
    zhandle_t *thief = zookeeper_init(connect, NULL, 6000, &id, NULL, ZOO_NO_LOG_CLIENTENV);
    CHECK(thief != NULL);
    int64_t deadline = clock_mono_ms() + 10000;
    while (zoo_state(thief) != ZOO_CONNECTED_STATE && clock_mono_ms() < deadline)
        usleep(10000);
    CHECK(zoo_state(thief) == ZOO_CONNECTED_STATE);
    zookeeper_close(thief); /* closes the session on the server */
    step("closed the session from a second client");

    int exp = wait_event(from, 's', ZKC_SESSION_EXPIRED, 0, 20000);
    CHECK(exp >= 0);
    int dropped = wait_event(from, 'w', ZKC_WATCH_DROPPED, 0, 10000);
    CHECK(dropped > exp);
    int fresh = wait_event(exp, 's', ZKC_SESSION_NEW, 0, 20000);
    CHECK(fresh > exp);
    step("expired, watch dropped, new session");
    int64_t sid = zkc_session_id(zkc, NULL);
    CHECK(sid != 0 && sid != id.client_id);
    CHECK_ERR(zkc_exists(zkc, join(b, "/eph"), NULL), ZKC_NONODE);
    CHECK_ERR(zkc_create(zkc, join(b, "/eph"), NULL, -1, ZKC_EPHEMERAL, NULL), ZKC_OK);
    zkc_stat_t st;
    CHECK_ERR(zkc_exists(zkc, join(b, "/eph"), &st), ZKC_OK);
    CHECK(st.ephemeral_owner == sid);
    step("re-registered the ephemeral in session 0x%llx", (unsigned long long)sid);
    /* watches work in the new session */
    from = events_now();
    CHECK_ERR(zkc_aexists(zkc, join(b, "/never"), on_watch, NULL, NULL, NULL), ZKC_OK);
    ex_barrier();
    CHECK_ERR(zkc_create(zkc, join(b, "/never"), NULL, -1, 0, NULL), ZKC_OK);
    int w = wait_event(from, 'w', -1, 0, 10000);
    CHECK(w >= 0 && event_at(w).type == ZKC_WATCH_CREATED);
    zkc_close(zkc);
    ex_stop();
    CHECK(seen.off_executor == 0);
    step("watches work in the new session");
}

/* See the header comment. */
static void scenario_stall(const char *connect) {
    zkc_t *zkc = open_zkc(connect, 6000);
    const char *b = base();
    CHECK_ERR(zkc_create(zkc, b, "kept", 4, 0, NULL), ZKC_OK);
    CHECK_ERR(zkc_create(zkc, join(b, "/w"), NULL, -1, 0, NULL), ZKC_OK);
    int64_t sid = zkc_session_id(zkc, NULL);
    printf("ready\n");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        fail("no go-ahead on stdin");
    int from = events_now();
    CHECK_ERR(zkc_aget(zkc, b, NULL, NULL, on_result, (void *)(intptr_t)1), ZKC_OK);
    /* (ZooKeeper may still apply this write when it resumes and reads the
     * old connection's buffered requests: "maybe applied") */
    CHECK_ERR(zkc_aset(zkc, join(b, "/w"), "lost?", 5, ZKC_ANY_VERSION, on_result, (void *)(intptr_t)2), ZKC_OK);
    int d = wait_event(from, 's', ZKC_SESSION_DISCONNECTED, 0, 20000);
    CHECK(d >= 0);
    printf("disconnected\n");
    fflush(stdout);
    int w = wait_event(from, 'r', -1, 2, 20000);
    CHECK(w >= 0);
    CHECK_ERR((zkc_err_t)event_at(w).type, ZKC_CONNECTIONLOSS);
    step("the write reported the lost connection");
    int c = wait_event(d, 's', ZKC_SESSION_CONNECTED, 0, 20000);
    CHECK(c > d);
    int r = wait_event(from, 'r', -1, 1, 20000);
    CHECK(r >= 0);
    CHECK_ERR((zkc_err_t)event_at(r).type, ZKC_OK);
    CHECK(strcmp(event_at(r).data, "kept") == 0);
    CHECK(zkc_session_id(zkc, NULL) == sid);
    step("reconnected to the same session; the read was retried and succeeded");
    expect_data(zkc, b, "kept", 0);
    zkc_close(zkc);
    ex_stop();
    CHECK(seen.off_executor == 0);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: zkc_check basic|multi|chroot|ephemeral|watches|expiry|stall CONNECT\n");
        return 2;
    }
    pthread_create(&ex.thread, NULL, ex_main, NULL);
    const char *s = argv[1], *connect = argv[2];
    if (strcmp(s, "basic") == 0)
        scenario_basic(connect);
    else if (strcmp(s, "multi") == 0)
        scenario_multi(connect);
    else if (strcmp(s, "chroot") == 0)
        scenario_chroot(connect);
    else if (strcmp(s, "ephemeral") == 0)
        scenario_ephemeral(connect);
    else if (strcmp(s, "watches") == 0)
        scenario_watches(connect);
    else if (strcmp(s, "expiry") == 0)
        scenario_expiry(connect);
    else if (strcmp(s, "stall") == 0)
        scenario_stall(connect);
    else
        fail("unknown scenario %s", s);
    printf("PASS\n");
    return 0;
}
