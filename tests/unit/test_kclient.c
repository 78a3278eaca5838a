/* kclient against a scripted broker on 127.0.0.1: a plain blocking-socket
 * server thread per test that follows a script (accept, read request
 * frames and decode them with kp_request_decode, answer with
 * kp_response_encode, close, stay silent, answer wrongly), so each test
 * states exactly what the peer does and when.
 *
 * The client lives on an evloop thread; the test thread runs every kclient
 * call there (on_loop) and waits for callbacks on a condition variable.
 * Waits are event driven; GUARD_MS only bounds them when something is
 * wrong. The one timeout test uses a 300 ms request timeout because
 * timing out is what it tests; nothing asserts on durations. */
#include "unit.h"

#include "util/buf.h"
#include "util/endian.h"
#include "net/evloop.h"
#include "net/kclient.h"
#include "proto/kproto_apis.h"
#include "util/logger.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 10000
#define MAX_CALLS 16
#define CLIENT_ID "kclient-test"
#define BIG_RESPONSE (16 * 1024 * 1024) /* payload bytes of the large response */

/* --- shared state: callbacks (loop thread) and the test thread ------------- */

enum action {
    ACT_NONE,
    ACT_FREE,       /* kclient_free(own client) */
    ACT_FREE_AGAIN, /* kclient_free again, from a callback of kclient_free */
    ACT_SEND,       /* send call->next from the callback */
    ACT_TRY_SEND,   /* try to send T.stray: must be refused */
};

typedef struct call {
    int16_t api, ver;
    bool raw;                 /* the response is not a Kafka body: check the pattern */
    enum action action;
    struct call *next;        /* ACT_SEND */
    kclient_t *client;        /* set when sent */
    int send_rc;              /* kclient_send's result */
    int try_rc;               /* ACT_TRY_SEND's result */
    /* filled by the callback */
    int n;
    int order;                /* 1-based among this test's callbacks */
    kerr_t err;
    size_t len;
    size_t pending_in_cb;     /* kclient_pending during the callback */
    kerr_t decode_err;
    kerr_t decode_other_err;  /* kclient_decode with another payload */
    int keys;                 /* ApiVersions: api_keys count */
    int32_t node;             /* Metadata: first broker's node id */
    bool pattern_ok;
} call_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    evloop_t *loop;
    kclient_t *client;
    call_t calls[MAX_CALLS];
    call_t stray; /* must never be called */
    int order;
    int ncb;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static bool until_passed(const struct timespec *until) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > until->tv_sec || (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

static struct timespec guard_deadline(void) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GUARD_MS / 1000;
    return until;
}

/* --- running things on the loop -------------------------------------------- */

typedef struct loop_call {
    void (*fn)(void *);
    void *arg;
    bool done;
} loop_call_t;

static void loop_trampoline(void *arg) {
    loop_call_t *lc = arg;
    lc->fn(lc->arg);
    pthread_mutex_lock(&T.mu);
    lc->done = true;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* Runs fn(arg) on the loop thread and waits for it. A loop that does not
 * run it within the guard is stuck for good: abort rather than leave a
 * task pointing into this stack frame. */
static void on_loop(void (*fn)(void *), void *arg) {
    loop_call_t lc = {fn, arg, false};
    if (evloop_run(T.loop, loop_trampoline, &lc) != 0) {
        fprintf(stderr, "on_loop: the loop is stopped\n");
        abort();
    }
    struct timespec until = guard_deadline();
    pthread_mutex_lock(&T.mu);
    while (!lc.done && pthread_cond_timedwait(&T.cv, &T.mu, &until) != ETIMEDOUT)
        ;
    bool done = lc.done;
    pthread_mutex_unlock(&T.mu);
    if (!done) {
        fprintf(stderr, "on_loop: the loop did not run a task within %d ms\n", GUARD_MS);
        abort();
    }
}

/* Waits until `want` callbacks ran in this test; false after the guard. */
static bool wait_callbacks(int want) {
    struct timespec until = guard_deadline();
    pthread_mutex_lock(&T.mu);
    while (T.ncb < want && pthread_cond_timedwait(&T.cv, &T.mu, &until) != ETIMEDOUT)
        ;
    bool ok = T.ncb >= want;
    pthread_mutex_unlock(&T.mu);
    return ok;
}

static uint8_t pattern_byte(size_t i) { return (uint8_t)(i * 31 + 7); }

static void decode_response(call_t *cl, kclient_t *c, const uint8_t *p, size_t len) {
    kp_arena_t a = KP_ARENA_INIT;
    void *body = NULL;
    char msg[256] = "";
    cl->decode_other_err = kclient_decode(c, p + 1, len - 1, &a, &body, msg, sizeof msg);
    cl->decode_err = kclient_decode(c, p, len, &a, &body, msg, sizeof msg);
    if (cl->decode_err == KERR_NONE && cl->api == KP_API_API_VERSIONS) {
        const kp_api_versions_resp_t *r = body;
        cl->keys = r->api_keys.count;
    } else if (cl->decode_err == KERR_NONE && cl->api == KP_API_METADATA) {
        const kp_metadata_resp_t *r = body;
        cl->node = r->brokers.count > 0 ? ((kp_metadata_resp_broker_t *)r->brokers.items)[0].node_id : -1;
    }
    kp_arena_free(&a);
}

static bool raw_pattern_ok(const uint8_t *p, size_t len) {
    if (len != BIG_RESPONSE)
        return false;
    for (size_t i = 4; i < len; i++)
        if (p[i] != pattern_byte(i))
            return false;
    return true;
}

static void send_call(call_t *cl, kclient_t *c);

static void on_response(void *ctx, kerr_t err, const uint8_t *payload, size_t len) {
    call_t *cl = ctx;
    kclient_t *c = cl->client;
    pthread_mutex_lock(&T.mu);
    cl->order = ++T.order;
    pthread_mutex_unlock(&T.mu);
    cl->pending_in_cb = kclient_pending(c);
    if (err == KERR_NONE && payload && len >= 4) {
        if (cl->raw)
            cl->pattern_ok = raw_pattern_ok(payload, len);
        else
            decode_response(cl, c, payload, len);
    }
    switch (cl->action) {
    case ACT_FREE:
        kclient_free(c);
        T.client = NULL; /* loop thread only, like every use of it */
        break;
    case ACT_FREE_AGAIN:
        kclient_free(c);
        break;
    case ACT_SEND:
        send_call(cl->next, c);
        break;
    case ACT_TRY_SEND:
        T.stray.client = c;
        T.stray.api = KP_API_API_VERSIONS;
        cl->try_rc = kclient_send(c, KP_API_API_VERSIONS, 0, &(kp_api_versions_req_t){KP_STR_NULL, KP_STR_NULL},
                                  on_response, &T.stray);
        break;
    case ACT_NONE:
        break;
    }
    pthread_mutex_lock(&T.mu);
    cl->n++;
    cl->err = err;
    cl->len = len;
    T.ncb++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* Loop thread: sends cl's request (ApiVersions or Metadata at cl->ver, or
 * an unknown api) on c. */
static void send_call(call_t *cl, kclient_t *c) {
    cl->client = c;
    if (cl->api == KP_API_API_VERSIONS) {
        kp_api_versions_req_t req;
        kp_set_defaults(kp_api_find(KP_API_API_VERSIONS)->request, cl->ver, &req);
        req.client_software_name = kp_str("samsa-kclient-test");
        req.client_software_version = kp_str("1.0");
        cl->send_rc = kclient_send(c, cl->api, cl->ver, &req, on_response, cl);
    } else if (cl->api == KP_API_METADATA) {
        kp_metadata_req_t req;
        kp_set_defaults(kp_api_find(KP_API_METADATA)->request, cl->ver, &req);
        req.topics = (kp_array_t){-1, NULL}; /* all topics (null: v1+ only) */
        cl->send_rc = kclient_send(c, cl->api, cl->ver, &req, on_response, cl);
    } else {
        cl->send_rc = kclient_send(c, cl->api, cl->ver, NULL, on_response, cl);
    }
}

static void lf_send(void *arg) { send_call(arg, T.client); }

static void lf_new(void *arg) { T.client = kclient_new(T.loop, arg); }

static void lf_free(void *arg) {
    (void)arg;
    kclient_free(T.client);
    T.client = NULL;
}

static void lf_connect(void *arg) {
    (void)arg;
    kclient_connect(T.client);
}

static void lf_nothing(void *arg) { (void)arg; }

typedef struct snap {
    kclient_stats_t st;
    size_t pending;
    bool connected;
} snap_t;

static void lf_snap(void *arg) {
    snap_t *s = arg;
    kclient_stats(T.client, &s->st);
    s->pending = kclient_pending(T.client);
    s->connected = kclient_connected(T.client);
}

static snap_t snap(void) {
    snap_t s;
    on_loop(lf_snap, &s);
    return s;
}

/* Polls the client's state until pred holds (for states no callback
 * reports: connect failures, a connection made without requests). */
static bool wait_snap(bool (*pred)(const snap_t *)) {
    struct timespec until = guard_deadline();
    while (!until_passed(&until)) {
        snap_t s = snap();
        if (pred(&s))
            return true;
        usleep(2000);
    }
    return false;
}

static call_t *call_at(int i, int16_t api, int16_t ver) {
    call_t *cl = &T.calls[i];
    cl->api = api;
    cl->ver = ver;
    return cl;
}

static void send_from_test(call_t *cl) { on_loop(lf_send, cl); }

typedef struct range {
    int from, n;
} range_t;

static void lf_send_range(void *arg) {
    const range_t *r = arg;
    for (int i = r->from; i < r->from + r->n; i++)
        send_call(&T.calls[i], T.client);
}

/* Sends T.calls[from..from+n) in one loop task, so no response or failure
 * can come between them. */
static void send_calls(int from, int n) {
    range_t r = {from, n};
    on_loop(lf_send_range, &r);
}

/* --- the scripted broker ------------------------------------------------------ */

static struct {
    int lfd;
    int port;
    pthread_t thread;
    bool running;
    void (*script)(void);
    pthread_mutex_t mu;
    int errors;   /* failed checks on the server thread */
    int progress; /* srv_mark() count, for the test thread to wait on */
    int32_t corr[32];
    int ncorr;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void srv_check(bool ok, const char *what) {
    if (ok)
        return;
    fprintf(stderr, "server script: %s\n", what);
    pthread_mutex_lock(&S.mu);
    S.errors++;
    pthread_mutex_unlock(&S.mu);
}

static void srv_mark(void) {
    pthread_mutex_lock(&T.mu);
    S.progress++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static bool wait_progress(int want) {
    struct timespec until = guard_deadline();
    pthread_mutex_lock(&T.mu);
    while (S.progress < want && pthread_cond_timedwait(&T.cv, &T.mu, &until) != ETIMEDOUT)
        ;
    bool ok = S.progress >= want;
    pthread_mutex_unlock(&T.mu);
    return ok;
}

/* A socket bound to a free port of 127.0.0.1, listening or not (a bound
 * socket that does not listen refuses connections). */
static void srv_open(bool listening) {
    S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(S.lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT_FATAL(bind(S.lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
    socklen_t sl = sizeof sa;
    CU_ASSERT_FATAL(getsockname(S.lfd, (struct sockaddr *)&sa, &sl) == 0);
    S.port = ntohs(sa.sin_port);
    if (listening)
        CU_ASSERT_FATAL(listen(S.lfd, 16) == 0);
    S.errors = S.ncorr = 0;
    S.progress = 0;
    S.running = false;
}

static void *srv_main(void *arg) {
    (void)arg;
    S.script();
    return NULL;
}

static void srv_run(void (*script)(void)) {
    S.script = script;
    CU_ASSERT_FATAL(pthread_create(&S.thread, NULL, srv_main, NULL) == 0);
    S.running = true;
}

static void srv_close(void) {
    if (S.running)
        pthread_join(S.thread, NULL);
    S.running = false;
    close(S.lfd);
    CU_ASSERT_EQUAL(S.errors, 0);
}

static bool srv_poll(int fd, short events, int ms) {
    struct pollfd pfd = {.fd = fd, .events = events};
    int rc;
    while ((rc = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
        ;
    return rc == 1;
}

static int srv_accept(void) {
    if (!srv_poll(S.lfd, POLLIN, GUARD_MS)) {
        srv_check(false, "no connection came");
        return -1;
    }
    int fd = accept4(S.lfd, NULL, NULL, SOCK_CLOEXEC);
    srv_check(fd >= 0, "accept failed");
    return fd;
}

static bool srv_read_exact(int fd, void *p, size_t n) {
    uint8_t *b = p;
    while (n > 0) {
        if (!srv_poll(fd, POLLIN, GUARD_MS))
            return false;
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        b += r;
        n -= (size_t)r;
    }
    return true;
}

static bool srv_write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* One request frame: its payload into frame, decoded into h (checking the
 * client id); its correlation id is appended to S.corr. */
static bool srv_request(int fd, buf_t *frame, kp_req_header_t *h) {
    uint8_t size[4];
    buf_reset(frame);
    if (fd < 0 || !srv_read_exact(fd, size, 4)) {
        srv_check(false, "no request came");
        return false;
    }
    uint32_t n = be32_load(size);
    if (n > (1u << 20) || !srv_read_exact(fd, buf_extend(frame, n), n)) {
        srv_check(false, "bad request frame");
        return false;
    }
    kp_arena_t a = KP_ARENA_INIT;
    void *body;
    char err[256] = "";
    kp_status_t st = kp_request_decode(frame->data, frame->len, &a, h, &body, err, sizeof err);
    kp_arena_free(&a);
    if (st != KP_OK)
        fprintf(stderr, "server script: %s\n", err);
    srv_check(st == KP_OK, "request does not decode");
    srv_check(kp_str_eq(h->client_id, CLIENT_ID), "wrong client id");
    if (S.ncorr < 32)
        S.corr[S.ncorr++] = h->correlation_id;
    return st == KP_OK;
}

/* Appends the response frame to h's request (as corr) to w. */
static void srv_encode_answer(kp_writer_t *w, const kp_req_header_t *h, int32_t corr) {
    static kp_api_versions_resp_key_t keys[] = {{0, 3, 8}, {18, 0, 3}};
    static kp_metadata_resp_broker_t brokers[] = {{7, {"broker7", 7}, 9092, {NULL, -1}}};
    kp_status_t st = KP_ERR_UNKNOWN_API;
    if (h->api_key == KP_API_API_VERSIONS) {
        kp_api_versions_resp_t r;
        kp_set_defaults(kp_api_find(h->api_key)->response, h->api_version, &r);
        r.api_keys = (kp_array_t){2, keys};
        st = kp_response_encode(h->api_key, h->api_version, corr, &r, w, NULL, 0);
    } else if (h->api_key == KP_API_METADATA) {
        kp_metadata_resp_t r;
        kp_set_defaults(kp_api_find(h->api_key)->response, h->api_version, &r);
        r.brokers = (kp_array_t){1, brokers};
        r.topics = (kp_array_t){0, NULL};
        r.controller_id = 7;
        st = kp_response_encode(h->api_key, h->api_version, corr, &r, w, NULL, 0);
    }
    srv_check(st == KP_OK, "cannot encode the answer");
}

static void srv_answer(int fd, const kp_req_header_t *h) {
    kp_writer_t w;
    kp_writer_init(&w);
    srv_encode_answer(&w, h, h->correlation_id);
    srv_check(srv_write_all(fd, w.buf.data, w.buf.len), "cannot write the answer");
    kp_writer_free(&w);
}

/* Reads one request and answers it. */
static void srv_serve_one(int fd) {
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    if (srv_request(fd, &f, &h))
        srv_answer(fd, &h);
    buf_free(&f);
}

/* Waits for the client to close (EOF or reset), discarding what it sends. */
static void srv_expect_close(int fd) {
    uint8_t junk[4096];
    for (;;) {
        if (fd < 0 || !srv_poll(fd, POLLIN, GUARD_MS)) {
            srv_check(false, "the client did not close");
            break;
        }
        ssize_t r = read(fd, junk, sizeof junk);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            break;
        if (r < 0 && errno != EINTR) {
            srv_check(false, "read error");
            break;
        }
    }
    if (fd >= 0)
        close(fd);
}

/* Whether nothing more arrives on fd for a short while: a check that can
 * only miss a defect, never report a false one. */
static bool srv_quiet(int fd) { return !srv_poll(fd, POLLIN, 30); }

/* --- per-test setup ----------------------------------------------------------------- */

static void base_config(kclient_config_t *cfg, int port) {
    kclient_config_init(cfg);
    cfg->host = "127.0.0.1";
    cfg->port = port;
    cfg->client_id = CLIENT_ID;
    cfg->label = "test->broker";
    cfg->request_timeout_ms = GUARD_MS;
    cfg->connect_timeout_ms = GUARD_MS;
    cfg->reconnect_backoff_ms = 5;
    cfg->reconnect_backoff_max_ms = 40;
}

static void loop_begin(void) {
    char err[256] = "";
    T.loop = evloop_new("kclient-test", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(T.loop);
    CU_ASSERT_FATAL(evloop_start(T.loop, err, sizeof err) == 0);
    memset(T.calls, 0, sizeof T.calls);
    memset(&T.stray, 0, sizeof T.stray);
    T.order = T.ncb = 0;
    T.client = NULL;
}

static void client_begin(const kclient_config_t *cfg) {
    on_loop(lf_new, (void *)cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(T.client);
}

/* Frees the client if a test left it, stops the loop. */
static void loop_end(void) {
    on_loop(lf_free, NULL);
    evloop_free(T.loop);
    T.loop = NULL;
    CU_ASSERT_EQUAL(T.stray.n, 0);
}

/* --- tests --------------------------------------------------------------------------- */

static void script_roundtrip(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    static const int16_t want[][2] = {{18, 3}, {18, 0}, {3, 1}};
    for (int i = 0; i < 3; i++) {
        if (!srv_request(fd, &f, &h))
            break;
        srv_check(h.api_key == want[i][0] && h.api_version == want[i][1], "unexpected api or version");
        srv_check(h.header_version == (i == 0 ? 2 : 1), "unexpected header version");
        srv_answer(fd, &h);
    }
    buf_free(&f);
    srv_expect_close(fd);
}

/* ApiVersions v3 (flexible request header), v0 and Metadata v1, decoded
 * in the callbacks with kclient_decode. */
static void test_roundtrip(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_roundtrip);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    client_begin(&cfg);
    snap_t s = snap();
    CU_ASSERT(!s.connected); /* lazy */
    CU_ASSERT_EQUAL(s.st.connect_attempts, 0);
    send_from_test(call_at(0, KP_API_API_VERSIONS, 3));
    CU_ASSERT(wait_callbacks(1));
    call_at(1, KP_API_API_VERSIONS, 0);
    call_at(2, KP_API_METADATA, 1);
    send_calls(1, 2);
    CU_ASSERT(wait_callbacks(3));
    for (int i = 0; i < 3; i++) {
        const call_t *cl = &T.calls[i];
        CU_ASSERT_EQUAL(cl->send_rc, 0);
        CU_ASSERT_EQUAL(cl->n, 1);
        CU_ASSERT_EQUAL(cl->order, i + 1);
        CU_ASSERT_EQUAL(cl->err, KERR_NONE);
        CU_ASSERT_EQUAL(cl->decode_err, KERR_NONE);
        CU_ASSERT_EQUAL(cl->decode_other_err, KERR_INVALID_REQUEST);
        CU_ASSERT_EQUAL(cl->pending_in_cb, i == 1 ? 1 : 0);
    }
    CU_ASSERT_EQUAL(T.calls[0].keys, 2);
    CU_ASSERT_EQUAL(T.calls[1].keys, 2);
    CU_ASSERT_EQUAL(T.calls[2].node, 7);
    s = snap();
    CU_ASSERT(s.connected);
    CU_ASSERT_EQUAL(s.pending, 0);
    CU_ASSERT_EQUAL(s.st.connects, 1);
    CU_ASSERT_EQUAL(s.st.responses, 3);
    CU_ASSERT_EQUAL(s.st.requests_written, 3);
    loop_end();
    srv_close();
    CU_ASSERT_EQUAL(S.ncorr, 3);
    CU_ASSERT(S.corr[0] < S.corr[1] && S.corr[1] < S.corr[2]);
}

/* Reads batches of 3, 3 and 1 requests; only then answers each batch, in
 * one write. */
static void script_pipeline(void) {
    int fd = srv_accept();
    static const int batches[] = {3, 3, 1};
    buf_t f = BUF_INIT;
    for (int b = 0; b < 3; b++) {
        kp_req_header_t hs[3];
        int got = 0;
        while (got < batches[b] && srv_request(fd, &f, &hs[got]))
            got++;
        srv_check(got == batches[b], "a batch is incomplete");
        srv_check(srv_quiet(fd), "more than max_in_flight requests on the wire");
        kp_writer_t w;
        kp_writer_init(&w);
        for (int i = 0; i < got; i++)
            srv_encode_answer(&w, &hs[i], hs[i].correlation_id);
        srv_check(srv_write_all(fd, w.buf.data, w.buf.len), "cannot write the answers");
        kp_writer_free(&w);
    }
    buf_free(&f);
    srv_expect_close(fd);
}

static void test_pipelining(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_pipeline);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_in_flight = 3;
    client_begin(&cfg);
    for (int i = 0; i < 7; i++)
        call_at(i, KP_API_API_VERSIONS, (int16_t)(i % 4));
    send_calls(0, 7);
    CU_ASSERT(wait_callbacks(7));
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(T.calls[i].n, 1);
        CU_ASSERT_EQUAL(T.calls[i].err, KERR_NONE);
        CU_ASSERT_EQUAL(T.calls[i].order, i + 1);
        CU_ASSERT_EQUAL(T.calls[i].keys, 2);
    }
    loop_end();
    srv_close();
    CU_ASSERT_EQUAL_FATAL(S.ncorr, 7);
    for (int i = 1; i < 7; i++)
        CU_ASSERT(S.corr[i] > S.corr[i - 1]);
}

/* Answers the second of two pipelined requests first: a mismatch. */
static void script_mismatch(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t a, b;
    if (srv_request(fd, &f, &a) && srv_request(fd, &f, &b))
        srv_answer(fd, &b);
    srv_expect_close(fd); /* the client closes on the mismatch */
    fd = srv_accept();
    kp_req_header_t again;
    if (srv_request(fd, &f, &again)) { /* b again; a failed for good */
        srv_check(again.correlation_id == b.correlation_id, "not the second request");
        srv_answer(fd, &again);
    }
    buf_free(&f);
    srv_expect_close(fd);
}

static void test_correlation_mismatch(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_mismatch);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_in_flight = 2;
    cfg.resend_on_disconnect = true;
    client_begin(&cfg);
    call_at(0, KP_API_API_VERSIONS, 1);
    call_at(1, KP_API_API_VERSIONS, 2);
    send_calls(0, 2);
    CU_ASSERT(wait_callbacks(2));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NETWORK_EXCEPTION);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_NONE && T.calls[1].keys == 2);
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.st.disconnects, 1);
    CU_ASSERT_EQUAL(s.st.connects, 2);
    loop_end();
    srv_close();
}

static void script_serve_one(void) {
    int fd = srv_accept();
    srv_serve_one(fd);
    srv_expect_close(fd);
}

static bool failed_once(const snap_t *s) { return s->st.connect_failures >= 1; }
static bool failed_twice(const snap_t *s) { return s->st.connect_failures >= 2; }

/* Nothing listens at first: the request waits through failed attempts
 * (resend on) and is delivered once the broker listens. */
static void test_refused_then_up(void) {
    loop_begin();
    srv_open(false);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.resend_on_disconnect = true;
    client_begin(&cfg);
    send_from_test(call_at(0, KP_API_METADATA, 1));
    CU_ASSERT(wait_snap(failed_twice));
    snap_t s = snap();
    CU_ASSERT_EQUAL(T.calls[0].n, 0);
    CU_ASSERT_EQUAL(s.pending, 1);
    CU_ASSERT(!s.connected);
    CU_ASSERT_FATAL(listen(S.lfd, 16) == 0);
    srv_run(script_serve_one);
    CU_ASSERT(wait_callbacks(1));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NONE && T.calls[0].node == 7);
    s = snap();
    CU_ASSERT_EQUAL(s.st.connects, 1);
    CU_ASSERT(s.st.connect_attempts >= 3);
    CU_ASSERT_EQUAL(s.st.connect_failures, s.st.connect_attempts - 1);
    loop_end();
    srv_close();
}

/* Without resend, a request whose connection cannot be made fails. The
 * host is a name ("localhost": every address it resolves to is tried). */
static void test_refused_no_resend(void) {
    loop_begin();
    srv_open(false);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.host = "localhost";
    client_begin(&cfg);
    send_from_test(call_at(0, KP_API_METADATA, 1));
    CU_ASSERT(wait_callbacks(1));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NETWORK_EXCEPTION);
    CU_ASSERT_EQUAL(T.calls[0].pending_in_cb, 0);
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.pending, 0);
    CU_ASSERT_EQUAL(s.st.connect_failures, 1);
    loop_end();
    srv_close();
}

/* Closes with two requests in flight; both must come again, byte for byte. */
static void script_close_resend(void) {
    int fd = srv_accept();
    buf_t f1 = BUF_INIT, f2 = BUF_INIT, g = BUF_INIT;
    kp_req_header_t a, b, h;
    bool ok = srv_request(fd, &f1, &a) && srv_request(fd, &f2, &b);
    close(fd);
    fd = srv_accept();
    if (ok && srv_request(fd, &g, &h)) {
        srv_check(g.len == f1.len && memcmp(g.data, f1.data, g.len) == 0, "first request not resent as it was");
        srv_answer(fd, &h);
    }
    if (ok && srv_request(fd, &g, &h)) {
        srv_check(g.len == f2.len && memcmp(g.data, f2.data, g.len) == 0, "second request not resent as it was");
        srv_answer(fd, &h);
    }
    buf_free(&f1);
    buf_free(&f2);
    buf_free(&g);
    srv_expect_close(fd);
}

static void test_close_resend(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_close_resend);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_in_flight = 2;
    cfg.resend_on_disconnect = true;
    client_begin(&cfg);
    call_at(0, KP_API_API_VERSIONS, 3);
    call_at(1, KP_API_METADATA, 1);
    send_calls(0, 2);
    CU_ASSERT(wait_callbacks(2));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NONE && T.calls[0].order == 1);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_NONE && T.calls[1].order == 2);
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.st.disconnects, 1);
    CU_ASSERT_EQUAL(s.st.requests_written, 4);
    loop_end();
    srv_close();
}

/* Closes with one request read; then serves one on a new connection. */
static void script_close_then_serve(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    srv_request(fd, &f, &h);
    buf_free(&f);
    close(fd);
    fd = srv_accept();
    srv_serve_one(fd);
    srv_expect_close(fd);
}

/* Without resend the request in flight and the one queued behind it fail;
 * the first one's callback sends a new request, which goes out on the
 * next connection. */
static void test_close_no_resend(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_close_then_serve);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    client_begin(&cfg);
    call_t *a = call_at(0, KP_API_API_VERSIONS, 2);
    a->action = ACT_SEND;
    a->next = call_at(2, KP_API_API_VERSIONS, 1);
    call_at(1, KP_API_API_VERSIONS, 2);
    send_calls(0, 2);
    CU_ASSERT(wait_callbacks(3));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NETWORK_EXCEPTION && T.calls[0].order == 1);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_NETWORK_EXCEPTION && T.calls[1].order == 2);
    CU_ASSERT_EQUAL(T.calls[2].send_rc, 0);
    CU_ASSERT(T.calls[2].n == 1 && T.calls[2].err == KERR_NONE && T.calls[2].keys == 2);
    loop_end();
    srv_close();
    CU_ASSERT_EQUAL(S.ncorr, 2); /* the queued one was never written */
}

/* Reads two pipelined requests and never answers; expects the client to
 * reset; then serves two on the next connection. */
static void script_silent(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t a, b;
    srv_request(fd, &f, &a);
    srv_request(fd, &f, &b);
    buf_free(&f);
    srv_expect_close(fd);
    fd = srv_accept();
    srv_serve_one(fd); /* b, resent */
    srv_serve_one(fd); /* c */
    srv_expect_close(fd);
}

/* The oldest request times out; the connection is reset, the other one is
 * resent (resend on) and a new request works. */
static void test_request_timeout(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_silent);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.request_timeout_ms = 300;
    cfg.max_in_flight = 2;
    cfg.resend_on_disconnect = true;
    client_begin(&cfg);
    call_at(0, KP_API_API_VERSIONS, 1);
    call_at(1, KP_API_API_VERSIONS, 1);
    send_calls(0, 2);
    CU_ASSERT(wait_callbacks(2));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_REQUEST_TIMED_OUT && T.calls[0].order == 1);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_NONE);
    send_from_test(call_at(2, KP_API_METADATA, 1));
    CU_ASSERT(wait_callbacks(3));
    CU_ASSERT(T.calls[2].n == 1 && T.calls[2].err == KERR_NONE && T.calls[2].node == 7);
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.st.timeouts, 1);
    CU_ASSERT_EQUAL(s.st.disconnects, 1);
    CU_ASSERT_EQUAL(s.st.connects, 2);
    loop_end();
    srv_close();
    CU_ASSERT_EQUAL(S.ncorr, 4);
}

static void script_hold_one(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    srv_request(fd, &f, &h);
    buf_free(&f);
    srv_mark();
    srv_expect_close(fd);
}

/* One request in flight, two queued: kclient_free calls each back once
 * with BROKER_NOT_AVAILABLE, in order, and refuses sends from those
 * callbacks. */
static void test_free_pending(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_hold_one);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    client_begin(&cfg);
    for (int i = 0; i < 3; i++)
        call_at(i, KP_API_API_VERSIONS, 2)->action = ACT_TRY_SEND;
    send_calls(0, 3);
    CU_ASSERT(wait_progress(1)); /* the first is on the wire */
    on_loop(lf_free, NULL);
    on_loop(lf_nothing, NULL); /* anything late would have run by now */
    for (int i = 0; i < 3; i++) {
        const call_t *cl = &T.calls[i];
        CU_ASSERT_EQUAL(cl->n, 1);
        CU_ASSERT_EQUAL(cl->err, KERR_BROKER_NOT_AVAILABLE);
        CU_ASSERT_EQUAL(cl->order, i + 1);
        CU_ASSERT_EQUAL(cl->pending_in_cb, (size_t)(2 - i));
        CU_ASSERT_EQUAL(cl->try_rc, -1);
        CU_ASSERT_EQUAL(cl->len, 0);
    }
    loop_end();
    srv_close();
}

/* A client that never connected (refusals, in backoff) is freed with a
 * request queued. */
static void test_free_while_reconnecting(void) {
    loop_begin();
    srv_open(false);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.resend_on_disconnect = true;
    cfg.reconnect_backoff_ms = 1000;
    client_begin(&cfg);
    send_from_test(call_at(0, KP_API_API_VERSIONS, 2));
    CU_ASSERT(wait_snap(failed_once)); /* now in a 1 s backoff */
    on_loop(lf_free, NULL);
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_BROKER_NOT_AVAILABLE);
    loop_end();
    srv_close();
}

static void script_answer_three_at_once(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t hs[3];
    int got = 0;
    while (got < 3 && srv_request(fd, &f, &hs[got]))
        got++;
    kp_writer_t w;
    kp_writer_init(&w);
    for (int i = 0; i < got; i++)
        srv_encode_answer(&w, &hs[i], hs[i].correlation_id);
    srv_write_all(fd, w.buf.data, w.buf.len); /* may fail: the client is gone */
    kp_writer_free(&w);
    buf_free(&f);
    srv_expect_close(fd);
}

/* Three responses arrive in one read; the first callback frees the
 * client: the other two get BROKER_NOT_AVAILABLE (and a second
 * kclient_free from one of those callbacks is a no-op). */
static void test_callback_frees(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_answer_three_at_once);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_in_flight = 3;
    client_begin(&cfg);
    call_at(0, KP_API_API_VERSIONS, 3)->action = ACT_FREE;
    call_at(1, KP_API_API_VERSIONS, 3)->action = ACT_FREE_AGAIN;
    call_at(2, KP_API_API_VERSIONS, 3)->action = ACT_TRY_SEND;
    send_calls(0, 3);
    CU_ASSERT(wait_callbacks(3));
    on_loop(lf_nothing, NULL);
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NONE && T.calls[0].keys == 2);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_BROKER_NOT_AVAILABLE);
    CU_ASSERT(T.calls[2].n == 1 && T.calls[2].err == KERR_BROKER_NOT_AVAILABLE);
    CU_ASSERT_EQUAL(T.calls[2].try_rc, -1);
    CU_ASSERT_PTR_NULL(T.client);
    CU_ASSERT_EQUAL(T.ncb, 3);
    loop_end();
    srv_close();
}

static void script_read_two_close(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    srv_request(fd, &f, &h);
    srv_request(fd, &f, &h);
    buf_free(&f);
    close(fd);
}

/* The connection dies with two requests in flight and one queued (no
 * resend); the first failure's callback frees the client. The others
 * still get exactly one callback each. */
static void test_callback_frees_on_failure(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_read_two_close);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_in_flight = 2;
    client_begin(&cfg);
    call_at(0, KP_API_API_VERSIONS, 1)->action = ACT_FREE;
    call_at(1, KP_API_API_VERSIONS, 1)->action = ACT_TRY_SEND;
    call_at(2, KP_API_API_VERSIONS, 1);
    send_calls(0, 3);
    CU_ASSERT(wait_callbacks(3));
    on_loop(lf_nothing, NULL);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(T.calls[i].n, 1);
        CU_ASSERT_EQUAL(T.calls[i].err, KERR_NETWORK_EXCEPTION);
        CU_ASSERT_EQUAL(T.calls[i].order, i + 1);
    }
    CU_ASSERT_EQUAL(T.calls[1].try_rc, -1);
    CU_ASSERT_PTR_NULL(T.client);
    loop_end();
    srv_close();
}

/* The callback of a timed-out request frees the client (from inside the
 * deadline timer's callback); the request queued behind it (resend on)
 * gets BROKER_NOT_AVAILABLE. */
static void test_callback_frees_on_timeout(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_hold_one);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.request_timeout_ms = 200;
    cfg.resend_on_disconnect = true;
    client_begin(&cfg);
    call_at(0, KP_API_METADATA, 1)->action = ACT_FREE;
    call_at(1, KP_API_METADATA, 1)->action = ACT_TRY_SEND;
    send_calls(0, 2);
    CU_ASSERT(wait_callbacks(2));
    on_loop(lf_nothing, NULL);
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_REQUEST_TIMED_OUT && T.calls[0].order == 1);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_BROKER_NOT_AVAILABLE && T.calls[1].order == 2);
    CU_ASSERT_EQUAL(T.calls[1].try_rc, -1);
    CU_ASSERT_PTR_NULL(T.client);
    loop_end();
    srv_close();
}

static void script_serve_five(void) {
    int fd = srv_accept();
    for (int i = 0; i < 5; i++)
        srv_serve_one(fd);
    srv_expect_close(fd);
}

/* Each callback sends the next request: five in a chain. */
static void test_callback_sends(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_serve_five);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    client_begin(&cfg);
    for (int i = 0; i < 5; i++) {
        call_t *cl = call_at(i, KP_API_API_VERSIONS, (int16_t)(3 - i % 4));
        if (i < 4) {
            cl->action = ACT_SEND;
            cl->next = &T.calls[i + 1];
        }
    }
    send_from_test(&T.calls[0]);
    CU_ASSERT(wait_callbacks(5));
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(T.calls[i].send_rc, 0);
        CU_ASSERT(T.calls[i].n == 1 && T.calls[i].err == KERR_NONE && T.calls[i].keys == 2);
        CU_ASSERT_EQUAL(T.calls[i].order, i + 1);
    }
    loop_end();
    srv_close();
}

/* A response announcing 2,000 bytes to a client that takes 1,024: the
 * client closes; the request fails (not resent, though resend is on) and
 * the next one is served on a new connection. */
static void script_oversized(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    if (srv_request(fd, &f, &h)) {
        uint8_t *resp = mem_calloc(1, 4 + 2000);
        be32_store(resp, 2000);
        be32_store(resp + 4, (uint32_t)h.correlation_id);
        srv_write_all(fd, resp, 4 + 2000);
        free(resp);
    }
    srv_expect_close(fd);
    fd = srv_accept();
    kp_req_header_t next;
    if (srv_request(fd, &f, &next)) {
        srv_check(next.correlation_id != h.correlation_id, "the oversized one was resent");
        srv_answer(fd, &next);
    }
    buf_free(&f);
    srv_expect_close(fd);
}

static void test_oversized_response(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_oversized);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_response_bytes = 1024;
    cfg.resend_on_disconnect = true;
    client_begin(&cfg);
    call_at(0, KP_API_API_VERSIONS, 2);
    call_at(1, KP_API_API_VERSIONS, 2);
    send_calls(0, 2);
    CU_ASSERT(wait_callbacks(2));
    CU_ASSERT(T.calls[0].n == 1 && T.calls[0].err == KERR_NETWORK_EXCEPTION);
    CU_ASSERT(T.calls[1].n == 1 && T.calls[1].err == KERR_NONE && T.calls[1].keys == 2);
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.st.disconnects, 1);
    loop_end();
    srv_close();
}

/* A 16 MiB response, exactly max_response_bytes, written in one go. */
static void script_big(void) {
    int fd = srv_accept();
    buf_t f = BUF_INIT;
    kp_req_header_t h;
    if (srv_request(fd, &f, &h)) {
        uint8_t *resp = mem_alloc(4 + BIG_RESPONSE);
        be32_store(resp, BIG_RESPONSE);
        be32_store(resp + 4, (uint32_t)h.correlation_id);
        for (size_t i = 4; i < BIG_RESPONSE; i++)
            resp[4 + i] = pattern_byte(i);
        srv_check(srv_write_all(fd, resp, 4 + BIG_RESPONSE), "cannot write the big response");
        free(resp);
    }
    buf_free(&f);
    srv_expect_close(fd);
}

static void test_big_response(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_big);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    cfg.max_response_bytes = BIG_RESPONSE;
    client_begin(&cfg);
    call_t *cl = call_at(0, KP_API_API_VERSIONS, 2);
    cl->raw = true;
    send_from_test(cl);
    CU_ASSERT(wait_callbacks(1));
    CU_ASSERT(cl->n == 1 && cl->err == KERR_NONE);
    CU_ASSERT_EQUAL(cl->len, BIG_RESPONSE);
    CU_ASSERT(cl->pattern_ok);
    loop_end();
    srv_close();
}

/* Bodies the codec refuses are not queued and never called back; nothing
 * connects. */
static void test_codec_refuses(void) {
    loop_begin();
    kclient_config_t cfg;
    base_config(&cfg, 9); /* never contacted */
    client_begin(&cfg);
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_OFF); /* the expected refusals */
    call_at(0, KP_API_METADATA, 0);     /* null topics: not in v0 */
    call_at(1, 99, 0);                  /* no such api */
    call_at(2, KP_API_API_VERSIONS, 4); /* unsupported version */
    send_calls(0, 3);
    logger_set_level(level);
    on_loop(lf_nothing, NULL);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(T.calls[i].send_rc, -1);
        CU_ASSERT_EQUAL(T.calls[i].n, 0);
    }
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.pending, 0);
    CU_ASSERT_EQUAL(s.st.connect_attempts, 0);
    loop_end();
}

static bool is_connected(const snap_t *s) { return s->connected; }

static void script_accept_only(void) {
    int fd = srv_accept();
    srv_expect_close(fd);
}

/* kclient_connect connects with nothing to send. */
static void test_connect_ahead(void) {
    loop_begin();
    srv_open(true);
    srv_run(script_accept_only);
    kclient_config_t cfg;
    base_config(&cfg, S.port);
    client_begin(&cfg);
    on_loop(lf_connect, NULL);
    CU_ASSERT(wait_snap(is_connected));
    snap_t s = snap();
    CU_ASSERT_EQUAL(s.st.connects, 1);
    CU_ASSERT_EQUAL(s.pending, 0);
    loop_end();
    srv_close();
}

static void lf_new_bad(void *arg) {
    kclient_config_t *cfg = arg;
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_OFF);
    T.client = kclient_new(T.loop, cfg);
    logger_set_level(level);
}

static void test_config_errors(void) {
    loop_begin();
    kclient_config_t cfg;
    base_config(&cfg, 0);
    on_loop(lf_new_bad, &cfg);
    CU_ASSERT_PTR_NULL(T.client);
    base_config(&cfg, 9092);
    cfg.host = NULL;
    on_loop(lf_new_bad, &cfg);
    CU_ASSERT_PTR_NULL(T.client);
    loop_end();
}

void unit_register(void) {
    /* Connection failures and timeouts are what these tests cause. */
    logger_set_level(LOGGER_ERROR);
    /* As the broker does: a write to a connection the peer closed must
     * fail with EPIPE, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    static const unit_test_t tests[] = {
        {"round trip: ApiVersions v3, v0, Metadata v1", test_roundtrip},
        {"pipelining: max_in_flight 3, answers in order", test_pipelining},
        {"correlation id mismatch closes", test_correlation_mismatch},
        {"refused, then the broker listens (resend)", test_refused_then_up},
        {"refused without resend: NETWORK_EXCEPTION", test_refused_no_resend},
        {"broker closes mid-request: resent", test_close_resend},
        {"broker closes mid-request: no resend", test_close_no_resend},
        {"request timeout resets the connection", test_request_timeout},
        {"free with requests pending", test_free_pending},
        {"free while reconnecting", test_free_while_reconnecting},
        {"callback frees the client", test_callback_frees},
        {"callback frees the client while requests fail", test_callback_frees_on_failure},
        {"callback frees the client on a timeout", test_callback_frees_on_timeout},
        {"callbacks send the next request", test_callback_sends},
        {"oversized response closes", test_oversized_response},
        {"16 MiB response", test_big_response},
        {"codec refuses a body", test_codec_refuses},
        {"kclient_connect without requests", test_connect_ahead},
        {"config errors", test_config_errors},
        {NULL, NULL},
    };
    unit_add_suite("kclient", tests);
}
