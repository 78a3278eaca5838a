/* The network layer over real sockets on 127.0.0.1 (port 0): framing,
 * ordering of pipelined requests, frame limits, zero-copy file ranges in
 * every send mode (and that net closes each range's fd exactly once: sent,
 * dropped, or its connection gone), the fetch race (a log deleted between
 * the read and the send), back-pressure, idle timeouts, many connections,
 * late answers for dead connections and shutdown.
 *
 * The server's handler is driven by the request payload:
 *   [cmd u8][seq u32][arg u32][padding...]
 *   'E' echo the payload          'D' echo it after arg ms (timer)
 *   'N' no response (acks=0)      'C' net_close
 *   'F' a file range response (arg: 0 small bytes, 1 large bytes + 2 ranges)
 *   'B' respond with arg bytes    'H' hold: never answered by the handler
 *   'T' a cancelled timer must not fire; answers "T" + fired count
 *   'S' answers the connection's read() count so far (u64)
 *   'G' the whole test file as one range
 *   'X' a file range response dropped (net_response_free), then "dropped"
 *   'R' the fetch race: read a range from a partition, delete its log, let
 *       other files take the freed fd numbers, then send the range
 *   'P' detach (net_detach) and keep the slot with a copy of the frame;
 *       the test answers it later (slot_answer_from_test)
 *   'W' wait for its turn (net_defer, holding later frames) while detached
 *       requests wait, then echo; at once otherwise. Logs 100 + seq when
 *       its turn starts. 'M' the same without holding later frames
 * An empty payload is echoed. The client side is plain blocking sockets
 * with poll() timeouts as failure guards only. */
#include "unit.h"

#include "util/buf.h"
#include "util/endian.h"
#include "util/logger.h"
#include "util/mem.h"
#include "log/record_batch.h"
#include "net/net.h"
#include "replica/replica_manager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 5000 /* failure guard of every wait */
#define FILE_BYTES 200000
#define BIG_FILE_BYTES (4 << 20)
#define NET_TEST_SLOTS (NET_MAX_SLOTS + 24)

/* --- the test handler ---------------------------------------------------------- */

typedef struct th {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int closes;
    int log[64]; /* +seq delivered, -seq answered */
    int nlog;
    net_conn_t *held;
    bool held_closed;
    char file[256];
    int late_done;
    int timer_fired;
    int errors; /* checks made on loop threads (CUnit asserts only on the main one) */
    net_slot_t *slots[NET_TEST_SLOTS]; /* 'P' requests in delivery order */
    buf_t slot_frames[NET_TEST_SLOTS];
    int nslots;
    net_conn_t *slot_conn;
    int slots_answered;
    int turns_dropped; /* 'W' requests never started (net_turn_fn with no slot) */
} th_t;

static th_t T = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void th_reset(void) {
    pthread_mutex_lock(&T.mu);
    T.calls = T.closes = T.nlog = T.late_done = T.timer_fired = T.errors = 0;
    T.held = NULL;
    T.held_closed = false;
    for (int i = 0; i < T.nslots; i++)
        buf_free(&T.slot_frames[i]);
    T.nslots = T.slots_answered = T.turns_dropped = 0;
    T.slot_conn = NULL;
    pthread_mutex_unlock(&T.mu);
}

static void th_error(void) {
    pthread_mutex_lock(&T.mu);
    T.errors++;
    pthread_mutex_unlock(&T.mu);
}

static void th_log(int v) {
    pthread_mutex_lock(&T.mu);
    if (T.nlog < 64)
        T.log[T.nlog++] = v;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static int th_get(const int *field) {
    pthread_mutex_lock(&T.mu);
    int v = *field;
    pthread_mutex_unlock(&T.mu);
    return v;
}

/* Waits until *field >= want; false after the guard. */
static bool th_wait(const int *field, int want) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GUARD_MS / 1000;
    pthread_mutex_lock(&T.mu);
    int rc = 0;
    while (*field < want && rc == 0)
        rc = pthread_cond_timedwait(&T.cv, &T.mu, &until);
    bool ok = *field >= want;
    pthread_mutex_unlock(&T.mu);
    return ok;
}

static int frame_seq(const uint8_t *f, size_t len) { return len >= 5 ? (int)be32_load(f + 1) : 0; }
static uint32_t frame_arg(const uint8_t *f, size_t len) { return len >= 9 ? be32_load(f + 5) : 0; }

typedef struct delayed {
    net_conn_t *conn;
    uint8_t *frame; /* net's memory: valid until answered */
    size_t len;
} delayed_t;

static void answer_delayed(void *arg) {
    delayed_t *d = arg;
    th_log(-frame_seq(d->frame, d->len));
    net_respond_bytes(d->conn, d->frame, d->len);
    free(d);
}

static void timer_must_not_fire(void *arg) {
    (void)arg;
    pthread_mutex_lock(&T.mu);
    T.timer_fired++;
    pthread_mutex_unlock(&T.mu);
}

static void answer_timer_test(void *arg) {
    net_conn_t *conn = arg;
    char out[2] = {'T', (char)th_get(&T.timer_fired)};
    net_respond_bytes(conn, out, 2);
}

/* A duplicate for net to own, as partition_read makes one per range. */
static int dup_for_net(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

/* A response with the test file spliced in, each range a duplicate that
 * net owns; the handler's own fd is closed right after net_respond. */
static void answer_file(net_conn_t *conn, uint32_t variant) {
    int fd = open(T.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        th_error();
        net_close(conn);
        return;
    }
    net_response_t r;
    net_response_init(&r);
    if (variant == 0) {
        buf_append_str(&r.bytes, "<<");
        net_response_add_owned_file(&r, dup_for_net(fd), 1000, 50000);
        buf_append_str(&r.bytes, ">>");
    } else {
        memset(buf_extend(&r.bytes, 10000), 'x', 10000);
        net_response_add_owned_file(&r, dup_for_net(fd), 0, FILE_BYTES);
        memset(buf_extend(&r.bytes, 10000), 'y', 10000);
        net_response_add_owned_file(&r, dup_for_net(fd), 7, 3);
        net_response_add_owned_file(&r, dup_for_net(fd), 0, 0);
        buf_append_str(&r.bytes, "z");
    }
    net_respond(conn, &r);
    if (r.bytes.data || r.splices) /* taken */
        th_error();
    close(fd);
}

/* A response with two owned ranges, freed instead of sent: its fds close
 * there. The request is then answered with "dropped". */
static void answer_dropped(net_conn_t *conn) {
    int fd = open(T.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        th_error();
        net_close(conn);
        return;
    }
    net_response_t r;
    net_response_init(&r);
    net_response_add_owned_file(&r, dup_for_net(fd), 0, 100);
    buf_append_str(&r.bytes, "-");
    net_response_add_owned_file(&r, dup_for_net(fd), 100, 100);
    net_response_free(&r);
    if (r.bytes.data || r.splices || r.nsplices)
        th_error();
    close(fd);
    net_respond_bytes(conn, "dropped", 7);
}

/* The fetch race, replayed on the loop thread: a partition with data, read
 * as a fetch reads it; then the log is deleted (StopReplica on another
 * loop, in the broker) and other files are opened until one took the
 * segment's old fd number. The range sent afterwards must still be the
 * segment's bytes. */
typedef struct race {
    replica_manager_t *rm;
    uint8_t expected[4096]; /* the segment's bytes, read before the delete */
    size_t expected_len;
    bool fd_reused;         /* an impostor file got the segment's fd number */
} race_t;

static race_t R;

#define RACE_IMPOSTORS 256

static void answer_race(net_conn_t *conn) {
    partition_t *p = replica_manager_get(R.rm, "race", 0);
    if (!p) {
        th_error();
        net_close(conn);
        return;
    }
    log_read_info_t seg; /* the segment's own fd number (this test is alone with the log) */
    partition_read_result_t r;
    if (log_read(p->log, 0, 1 << 20, -1, true, &seg) != KERR_NONE ||
        partition_read(p, 0, 1 << 20, true, &(partition_reader_t){-1, -1, -1, 0, false, -1}, &r) != KERR_NONE ||
        r.data.length == 0 || r.data.length > sizeof R.expected || r.data.fd == seg.fd ||
        pread(r.data.fd, R.expected, r.data.length, r.data.position) != (ssize_t)r.data.length) {
        th_error();
        net_close(conn);
        return;
    }
    R.expected_len = r.data.length;
    if (replica_manager_stop(R.rm, "race", 0, true) != KERR_NONE)
        th_error();
    int impostors[RACE_IMPOSTORS], n = 0;
    char path[300];
    snprintf(path, sizeof path, "%s.impostor", T.file);
    int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    uint8_t junk[4096];
    memset(junk, 'Z', sizeof junk);
    if (wfd < 0 || write(wfd, junk, sizeof junk) != (ssize_t)sizeof junk)
        th_error();
    close(wfd);
    while (n < RACE_IMPOSTORS && !R.fd_reused) {
        impostors[n] = open(path, O_RDONLY | O_CLOEXEC);
        if (impostors[n] < 0)
            break;
        R.fd_reused = impostors[n++] == seg.fd;
    }
    net_response_t resp;
    net_response_init(&resp);
    net_response_add_owned_file(&resp, r.data.fd, r.data.position, r.data.length);
    net_respond(conn, &resp);
    for (int i = 0; i < n; i++)
        close(impostors[i]);
}

static uint8_t pattern_byte(size_t i) { return (uint8_t)(i * 7 + 3); }

/* 'P': the frame is copied first, as a detached request's handler must. */
static void detach_and_keep(net_conn_t *conn, const uint8_t *frame, size_t len) {
    pthread_mutex_lock(&T.mu);
    int i = T.nslots;
    if (i < NET_TEST_SLOTS) {
        buf_init(&T.slot_frames[i]);
        buf_append(&T.slot_frames[i], frame, len);
        T.slot_conn = conn;
    }
    pthread_mutex_unlock(&T.mu);
    if (i >= NET_TEST_SLOTS) {
        th_error();
        net_close(conn);
        return;
    }
    net_slot_t *slot = net_detach(conn);
    if (!slot)
        th_error();
    pthread_mutex_lock(&T.mu);
    T.slots[i] = slot;
    T.nslots++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* Answers held slot i on its loop: an echo of its frame, or a close. */
typedef struct slot_answer {
    int index;
    bool close;
} slot_answer_t;

static void slot_answer_on_loop(void *arg) {
    slot_answer_t *a = arg;
    pthread_mutex_lock(&T.mu);
    net_slot_t *slot = T.slots[a->index];
    buf_t frame = T.slot_frames[a->index];
    pthread_mutex_unlock(&T.mu);
    th_log(-frame_seq(frame.data, frame.len));
    if (a->close) {
        net_slot_close(slot);
    } else {
        net_response_t r;
        net_response_init(&r);
        buf_append(&r.bytes, frame.data, frame.len);
        net_slot_respond(slot, &r);
        if (r.bytes.data) /* taken */
            th_error();
    }
    pthread_mutex_lock(&T.mu);
    T.slots_answered++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
    free(a);
}

static bool slot_answer_from_test(int index, bool close) {
    slot_answer_t *a = mem_alloc(sizeof *a);
    *a = (slot_answer_t){index, close};
    pthread_mutex_lock(&T.mu);
    net_conn_t *conn = T.slot_conn;
    pthread_mutex_unlock(&T.mu);
    if (!conn || evloop_run(net_conn_evloop(conn), slot_answer_on_loop, a) != 0) {
        free(a);
        return false;
    }
    return true;
}

/* 'W': its turn came (slot) or never will (NULL). */
static void turn_start(void *arg, net_slot_t *slot) {
    buf_t *frame = arg;
    if (!slot) {
        pthread_mutex_lock(&T.mu);
        T.turns_dropped++;
        pthread_cond_broadcast(&T.cv);
        pthread_mutex_unlock(&T.mu);
    } else {
        int seq = frame_seq(frame->data, frame->len);
        th_log(100 + seq);
        th_log(-seq);
        net_response_t r;
        net_response_init(&r);
        buf_append(&r.bytes, frame->data, frame->len);
        net_slot_respond(slot, &r);
    }
    buf_free(frame);
    free(frame);
}

static void defer_or_echo(net_conn_t *conn, const uint8_t *frame, size_t len, bool holds_later) {
    if (!net_conn_awaits_answers(conn)) {
        th_log(-frame_seq(frame, len));
        net_respond_bytes(conn, frame, len);
        return;
    }
    buf_t *copy = mem_alloc(sizeof *copy);
    buf_init(copy);
    buf_append(copy, frame, len);
    if (!net_defer(conn, turn_start, copy, holds_later)) {
        th_error();
        buf_free(copy);
        free(copy);
    }
}

static void on_request(void *ctx, net_conn_t *conn, uint8_t *frame, size_t len) {
    (void)ctx;
    int seq = frame_seq(frame, len);
    uint32_t arg = frame_arg(frame, len);
    pthread_mutex_lock(&T.mu);
    T.calls++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
    th_log(seq);
    switch (len ? frame[0] : 'E') {
    case 'E':
        th_log(-seq);
        net_respond_bytes(conn, frame, len);
        break;
    case 'D': {
        delayed_t *d = mem_alloc(sizeof *d);
        *d = (delayed_t){conn, frame, len};
        evloop_after(net_conn_evloop(conn), arg, answer_delayed, d);
        break;
    }
    case 'N':
        th_log(-seq);
        net_respond_none(conn);
        break;
    case 'C':
        th_log(-seq);
        net_close(conn);
        break;
    case 'F':
        answer_file(conn, arg);
        break;
    case 'G': {
        int fd = open(T.file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            th_error();
            net_close(conn);
            break;
        }
        net_response_t r;
        net_response_init(&r);
        net_response_add_owned_file(&r, dup_for_net(fd), 0, BIG_FILE_BYTES);
        net_respond(conn, &r);
        close(fd);
        break;
    }
    case 'X':
        answer_dropped(conn);
        break;
    case 'R':
        answer_race(conn);
        break;
    case 'P':
        detach_and_keep(conn, frame, len);
        break;
    case 'W':
    case 'M':
        defer_or_echo(conn, frame, len, frame[0] == 'W');
        break;
    case 'S': { /* the connection's read() calls so far, a u64 */
        net_conn_stats_t st;
        net_conn_stats(conn, &st);
        uint8_t out[8];
        be64_store(out, st.reads);
        net_respond_bytes(conn, out, sizeof out);
        break;
    }
    case 'B': {
        net_response_t r;
        net_response_init(&r);
        uint8_t *p = buf_extend(&r.bytes, arg);
        for (size_t i = 0; i < arg; i++)
            p[i] = pattern_byte(i);
        net_respond(conn, &r);
        break;
    }
    case 'H':
        pthread_mutex_lock(&T.mu);
        T.held = conn;
        pthread_cond_broadcast(&T.cv);
        pthread_mutex_unlock(&T.mu);
        break;
    case 'T': {
        evloop_timer_t *bad = evloop_after(net_conn_evloop(conn), 20, timer_must_not_fire, NULL);
        evloop_after(net_conn_evloop(conn), 60, answer_timer_test, conn);
        evloop_after_cancel(bad);
        break;
    }
    default:
        net_close(conn);
    }
}

static void on_close(void *ctx, net_conn_t *conn) {
    (void)ctx;
    pthread_mutex_lock(&T.mu);
    T.closes++;
    if (conn == T.held)
        T.held_closed = true;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* --- server ---------------------------------------------------------------------- */

static net_t *g_net; /* for the signal handler test */

static void server_config(net_config_t *cfg) {
    static const net_listen_t listener = {.name = "PLAINTEXT", .host = "127.0.0.1", .port = 0};
    net_config_init(cfg);
    cfg->listeners = &listener;
    cfg->nlisteners = 1;
    cfg->num_network_threads = 2;
    cfg->socket_request_max_bytes = 1 << 20;
    cfg->shutdown_timeout_ms = 2000;
    cfg->on_request = on_request;
    cfg->on_close = on_close;
}

static net_t *server_start(const net_config_t *cfg) {
    char err[256] = "";
    th_reset();
    net_t *net = net_new(cfg, err, sizeof err);
    if (!net)
        fprintf(stderr, "net_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_FATAL(net_start(net, err, sizeof err) == 0);
    CU_ASSERT_FATAL(net_listener_port(net, 0) > 0);
    return net;
}

static net_t *server_default(void) {
    net_config_t cfg;
    server_config(&cfg);
    return server_start(&cfg);
}

/* --- client ---------------------------------------------------------------------- */

static int cl_connect_opts(int port, int rcvbuf, int sndbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (sndbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    return fd;
}

static int cl_connect(net_t *net) { return cl_connect_opts(net_listener_port(net, 0), -1, -1); }

static bool cl_write_all(int fd, const void *p, size_t n) {
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

/* A request frame: [cmd][seq][arg] + pad bytes of pattern. */
static void frame_build(buf_t *b, char cmd, int seq, uint32_t arg, size_t pad) {
    size_t start = b->len;
    buf_put_i32(b, 0);
    buf_put_i8(b, (int8_t)cmd);
    buf_put_i32(b, seq);
    buf_put_u32(b, arg);
    uint8_t *p = buf_extend(b, pad);
    for (size_t i = 0; i < pad; i++)
        p[i] = pattern_byte(i + (size_t)seq);
    buf_patch_i32(b, start, (int32_t)(b->len - start - 4));
}

static bool cl_send(int fd, char cmd, int seq, uint32_t arg, size_t pad) {
    buf_t b = BUF_INIT;
    frame_build(&b, cmd, seq, arg, pad);
    bool ok = cl_write_all(fd, b.data, b.len);
    buf_free(&b);
    return ok;
}

/* Reads exactly n bytes; false on EOF, error or the guard. */
static bool cl_read_exact(int fd, void *p, size_t n) {
    uint8_t *b = p;
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, GUARD_MS) != 1)
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

/* One response frame into out (reset first). */
static bool cl_read_frame(int fd, buf_t *out) {
    uint8_t hdr[4];
    buf_reset(out);
    if (!cl_read_exact(fd, hdr, 4))
        return false;
    uint32_t size = be32_load(hdr);
    if (size > (1u << 30))
        return false;
    return cl_read_exact(fd, buf_extend(out, size), size);
}

/* True when the server closed the connection (EOF or reset) within the
 * guard; bytes still arriving are discarded. */
static bool cl_wait_closed(int fd) {
    uint8_t junk[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, GUARD_MS) != 1)
            return false;
        ssize_t r = read(fd, junk, sizeof junk);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

/* Sends an echo request and checks the answer. */
static bool cl_echo(int fd, int seq, size_t pad) {
    buf_t want = BUF_INIT, got = BUF_INIT;
    frame_build(&want, 'E', seq, 0, pad);
    bool ok = cl_write_all(fd, want.data, want.len) && cl_read_frame(fd, &got) && got.len == want.len - 4 &&
              memcmp(got.data, want.data + 4, got.len) == 0;
    buf_free(&want);
    buf_free(&got);
    return ok;
}

/* --- tests ------------------------------------------------------------------------- */

static void test_roundtrip(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    static const size_t pads[] = {0, 1, 100, 70000, 300000};
    for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++)
        CU_ASSERT(cl_echo(fd, (int)i + 1, pads[i]));
    /* An empty frame is delivered as such. */
    uint8_t zero[4] = {0, 0, 0, 0};
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_write_all(fd, zero, 4));
    CU_ASSERT(cl_read_frame(fd, &got));
    CU_ASSERT_EQUAL(got.len, 0);
    CU_ASSERT_EQUAL(th_get(&T.calls), 6);
    buf_free(&got);
    close(fd);
    net_free(net);
}

/* The first answer is delayed, the later ones immediate: responses still
 * come back in request order, and each request is delivered only after the
 * previous one was answered. The delayed frame is echoed from net's buffer
 * after read-ahead moved the requests behind it (the big one forces it). */
static void test_pipelined_order(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    frame_build(&b, 'D', 1, 150, 1000);
    frame_build(&b, 'E', 2, 0, 10);
    frame_build(&b, 'N', 3, 0, 0);
    frame_build(&b, 'E', 4, 0, 100000);
    frame_build(&b, 'D', 5, 10, 0);
    frame_build(&b, 'E', 6, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    buf_t got = BUF_INIT, first = BUF_INIT;
    frame_build(&first, 'D', 1, 150, 1000);
    static const int want_seq[] = {1, 2, 4, 5, 6}; /* 3 had no response */
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(cl_read_frame(fd, &got));
        CU_ASSERT_EQUAL(frame_seq(got.data, got.len), want_seq[i]);
        if (i == 0) /* the delayed frame, echoed from net's buffer, intact */
            CU_ASSERT(got.len == first.len - 4 && memcmp(got.data, first.data + 4, got.len) == 0);
    }
    CU_ASSERT(th_wait(&T.nlog, 12));
    pthread_mutex_lock(&T.mu);
    static const int want_log[] = {1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6};
    CU_ASSERT_EQUAL(T.nlog, 12);
    for (int i = 0; i < 12 && i < T.nlog; i++)
        CU_ASSERT_EQUAL(T.log[i], want_log[i]);
    pthread_mutex_unlock(&T.mu);
    /* A close request: the responses before it arrive, nothing after it is
     * delivered. */
    buf_reset(&b);
    frame_build(&b, 'E', 7, 0, 0);
    frame_build(&b, 'C', 8, 0, 0);
    frame_build(&b, 'E', 9, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 7);
    CU_ASSERT(cl_wait_closed(fd));
    CU_ASSERT_EQUAL(th_get(&T.calls), 8);
    buf_free(&first);
    buf_free(&got);
    buf_free(&b);
    close(fd);
    net_free(net);
}

/* Detached requests: the frames behind one are delivered while it waits,
 * and the responses still come back in request order, whichever is
 * answered first. */
static void test_detached_order(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    frame_build(&b, 'P', 1, 0, 1000);
    frame_build(&b, 'E', 2, 0, 10);
    frame_build(&b, 'P', 3, 0, 100000);
    frame_build(&b, 'E', 4, 0, 0);
    frame_build(&b, 'N', 5, 0, 0);
    frame_build(&b, 'E', 6, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    /* All six delivered while 1 and 3 wait: the connection went on. */
    CU_ASSERT_FATAL(th_wait(&T.calls, 6));
    CU_ASSERT_EQUAL(th_get(&T.nslots), 2);
    CU_ASSERT(slot_answer_from_test(1, false)); /* 3 first */
    CU_ASSERT(th_wait(&T.slots_answered, 1));
    CU_ASSERT(slot_answer_from_test(0, false));
    buf_t got = BUF_INIT, want = BUF_INIT;
    static const int want_seq[] = {1, 2, 3, 4, 6}; /* 5 had no response */
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(cl_read_frame(fd, &got));
        CU_ASSERT_EQUAL(frame_seq(got.data, got.len), want_seq[i]);
    }
    frame_build(&want, 'P', 3, 0, 100000); /* the copy made before detaching, intact */
    pthread_mutex_lock(&T.mu);
    CU_ASSERT(T.slot_frames[1].len == want.len - 4 && memcmp(T.slot_frames[1].data, want.data + 4, want.len - 4) == 0);
    static const int want_log[] = {1, 2, -2, 3, 4, -4, 5, -5, 6, -6, -3, -1};
    CU_ASSERT_EQUAL(T.nlog, 12);
    for (int i = 0; i < 12 && i < T.nlog; i++)
        CU_ASSERT_EQUAL(T.log[i], want_log[i]);
    pthread_mutex_unlock(&T.mu);
    /* The connection serves on as before. */
    CU_ASSERT(cl_echo(fd, 7, 0));
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    buf_free(&want);
    buf_free(&got);
    buf_free(&b);
    close(fd);
    net_free(net);
}

/* A detached request answered with a close: the responses before it are
 * written, the ones after it dropped, and the connection closes. */
static void test_detached_close(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    frame_build(&b, 'P', 1, 0, 0);
    frame_build(&b, 'E', 2, 0, 0);
    frame_build(&b, 'P', 3, 0, 0);
    frame_build(&b, 'E', 4, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.calls, 4));
    CU_ASSERT(slot_answer_from_test(1, true));
    CU_ASSERT(th_wait(&T.slots_answered, 1));
    CU_ASSERT(slot_answer_from_test(0, false));
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 1);
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 2);
    CU_ASSERT(cl_wait_closed(fd)); /* 4's response never comes */
    CU_ASSERT(th_wait(&T.closes, 1));
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    buf_free(&got);
    buf_free(&b);
    close(fd);
    net_free(net);
}

/* At most NET_MAX_SLOTS detached requests wait per connection: the one
 * after them is delivered only once one of them is answered. A peer that
 * then leaves does not stop the rest from being answered (into the closed
 * connection, dropped). */
static void test_detached_bound_and_peer_close(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    for (int i = 1; i <= NET_MAX_SLOTS + 1; i++)
        frame_build(&b, 'P', i, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.nslots, NET_MAX_SLOTS));
    CU_ASSERT_EQUAL(th_get(&T.nslots), NET_MAX_SLOTS);
    CU_ASSERT(slot_answer_from_test(0, false));
    CU_ASSERT_FATAL(th_wait(&T.nslots, NET_MAX_SLOTS + 1));
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 1);
    close(fd);
    CU_ASSERT_FATAL(th_wait(&T.closes, 1));
    for (int i = 1; i <= NET_MAX_SLOTS; i++)
        CU_ASSERT(slot_answer_from_test(i, i % 2 == 0));
    CU_ASSERT(th_wait(&T.slots_answered, NET_MAX_SLOTS + 1));
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    int other = cl_connect(net);
    CU_ASSERT(cl_echo(other, 1, 0));
    close(other);
    buf_free(&got);
    buf_free(&b);
    net_free(net);
}

static void loop_noop(void *arg) { (void)arg; }

/* Returns once the loop of the 'P' requests' connection has finished what
 * it was doing (a task queued behind it has run). */
static void loop_barrier(void) {
    pthread_mutex_lock(&T.mu);
    net_conn_t *conn = T.slot_conn;
    pthread_mutex_unlock(&T.mu);
    CU_ASSERT_FATAL(conn != NULL);
    CU_ASSERT_EQUAL(evloop_run_sync(net_conn_evloop(conn), loop_noop, NULL), 0);
}

/* A request deferred behind a waiting one (net_defer) starts only when
 * every request before it is answered, and no frame after it is delivered
 * before it is answered (a produce must not overtake a CreateTopics); the
 * answers keep request order. */
static void test_deferred_turn(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    frame_build(&b, 'P', 1, 0, 0);
    frame_build(&b, 'W', 2, 0, 0);
    frame_build(&b, 'E', 3, 0, 0);
    frame_build(&b, 'P', 4, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.calls, 2));
    loop_barrier(); /* the loop is done with the read that brought all four */
    pthread_mutex_lock(&T.mu);
    CU_ASSERT_EQUAL(T.calls, 2); /* 3 waits for 2's answer */
    CU_ASSERT(T.nlog == 2 && T.log[0] == 1 && T.log[1] == 2); /* 2 not started */
    pthread_mutex_unlock(&T.mu);
    CU_ASSERT(slot_answer_from_test(0, false));
    buf_t got = BUF_INIT;
    for (int seq = 1; seq <= 3; seq++) {
        CU_ASSERT_FATAL(cl_read_frame(fd, &got));
        CU_ASSERT_EQUAL(frame_seq(got.data, got.len), seq);
    }
    CU_ASSERT_FATAL(th_wait(&T.nslots, 2)); /* 4 delivered, waiting */
    pthread_mutex_lock(&T.mu);
    static const int want[] = {1, 2, -1, 102, -2, 3, -3, 4};
    CU_ASSERT_EQUAL(T.nlog, 8);
    for (int i = 0; i < 8 && i < T.nlog; i++)
        CU_ASSERT_EQUAL(T.log[i], want[i]);
    pthread_mutex_unlock(&T.mu);
    /* 4 answered; a request with nothing before it waiting runs at once. */
    CU_ASSERT(slot_answer_from_test(1, false));
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 4);
    b.len = 0;
    frame_build(&b, 'W', 5, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 5);
    CU_ASSERT_EQUAL(th_get(&T.turns_dropped), 0);
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    buf_free(&got);
    buf_free(&b);
    close(fd);
    net_free(net);
}

/* A deferred request that holds nothing (Metadata): the frames after it
 * are delivered while it waits its turn, and it still starts only when
 * everything before it is answered. */
static void test_deferred_holding_nothing(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    frame_build(&b, 'P', 1, 0, 0);
    frame_build(&b, 'M', 2, 0, 0);
    frame_build(&b, 'P', 3, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.nslots, 2)); /* 3 delivered while 2 waits */
    pthread_mutex_lock(&T.mu);
    CU_ASSERT(T.nlog == 3 && T.log[0] == 1 && T.log[1] == 2 && T.log[2] == 3);
    pthread_mutex_unlock(&T.mu);
    CU_ASSERT(slot_answer_from_test(1, false)); /* 3 first: nothing goes out yet */
    CU_ASSERT(slot_answer_from_test(0, false));
    buf_t got = BUF_INIT;
    for (int seq = 1; seq <= 3; seq++) {
        CU_ASSERT_FATAL(cl_read_frame(fd, &got));
        CU_ASSERT_EQUAL(frame_seq(got.data, got.len), seq);
    }
    pthread_mutex_lock(&T.mu);
    static const int want[] = {1, 2, 3, -3, -1, 102, -2};
    CU_ASSERT_EQUAL(T.nlog, 7);
    for (int i = 0; i < 7 && i < T.nlog; i++)
        CU_ASSERT_EQUAL(T.log[i], want[i]);
    pthread_mutex_unlock(&T.mu);
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    buf_free(&got);
    buf_free(&b);
    close(fd);
    net_free(net);
}

/* A deferred request never starts on a connection that closed before its
 * turn (the peer left; the broker closed it), nor on one freed while the
 * request before it still waits: its owner is told, exactly once. */
static void test_deferred_dropped(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT;
    frame_build(&b, 'P', 1, 0, 0);
    frame_build(&b, 'W', 2, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.calls, 2));
    close(fd);
    CU_ASSERT_FATAL(th_wait(&T.closes, 1));
    CU_ASSERT_EQUAL(th_get(&T.turns_dropped), 0); /* 1 still waits */
    CU_ASSERT(slot_answer_from_test(0, false));
    CU_ASSERT(th_wait(&T.turns_dropped, 1));

    fd = cl_connect(net); /* the broker closes it (a 'C' answered with net_close) */
    b.len = 0;
    frame_build(&b, 'P', 3, 0, 0);
    frame_build(&b, 'C', 4, 0, 0);
    frame_build(&b, 'W', 5, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.calls, 4));
    CU_ASSERT(slot_answer_from_test(1, false));
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_read_frame(fd, &got) && frame_seq(got.data, got.len) == 3);
    CU_ASSERT(cl_wait_closed(fd));
    CU_ASSERT_EQUAL(th_get(&T.calls), 4); /* 5 read ahead, dropped with the connection */
    close(fd);

    fd = cl_connect(net);
    b.len = 0;
    frame_build(&b, 'P', 6, 0, 0);
    frame_build(&b, 'W', 7, 0, 0);
    CU_ASSERT(cl_write_all(fd, b.data, b.len));
    CU_ASSERT_FATAL(th_wait(&T.calls, 6));
    net_free(net); /* 6 never answered */
    CU_ASSERT_EQUAL(th_get(&T.turns_dropped), 2);
    pthread_mutex_lock(&T.mu);
    for (int i = 0; i < T.nlog; i++)
        CU_ASSERT(T.log[i] < 100); /* no turn ever started */
    pthread_mutex_unlock(&T.mu);
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    buf_free(&got);
    buf_free(&b);
    close(fd);
}

static void test_oversized_and_negative(void) {
    net_config_t cfg;
    server_config(&cfg);
    cfg.socket_request_max_bytes = 1024;
    net_t *net = server_start(&cfg);
    int good = cl_connect(net), big = cl_connect(net), neg = cl_connect(net);
    CU_ASSERT(cl_echo(good, 1, 1000)); /* 1009 bytes: within the limit */
    CU_ASSERT(cl_echo(big, 2, 0));
    uint8_t hdr[4];
    be32_store(hdr, 1025);
    CU_ASSERT(cl_write_all(big, hdr, 4));
    CU_ASSERT(cl_wait_closed(big));
    be32_store(hdr, (uint32_t)-5);
    CU_ASSERT(cl_write_all(neg, hdr, 4));
    CU_ASSERT(cl_wait_closed(neg));
    CU_ASSERT(cl_echo(good, 3, 1000)); /* unaffected */
    CU_ASSERT(th_wait(&T.closes, 2));
    CU_ASSERT_EQUAL(th_get(&T.calls), 3);
    close(good);
    close(big);
    close(neg);
    net_free(net);
}

/* Two frames sent one byte per write (with a short pause, so that the
 * server really sees partial frames). */
static void test_byte_by_byte(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t b = BUF_INIT, got = BUF_INIT;
    frame_build(&b, 'E', 1, 0, 7);
    frame_build(&b, 'E', 2, 0, 3);
    for (size_t i = 0; i < b.len; i++) {
        CU_ASSERT_FATAL(cl_write_all(fd, b.data + i, 1));
        usleep(500);
    }
    CU_ASSERT(cl_read_frame(fd, &got));
    CU_ASSERT(got.len == 16 && memcmp(got.data, b.data + 4, 16) == 0);
    CU_ASSERT(cl_read_frame(fd, &got));
    CU_ASSERT(got.len == 12 && memcmp(got.data, b.data + 24, 12) == 0);
    CU_ASSERT_EQUAL(th_get(&T.calls), 2);
    buf_free(&b);
    buf_free(&got);
    close(fd);
    net_free(net);
}

/* A 1 MiB frame sent in 32 KiB pieces with pauses between them: the
 * connection's read() calls. With the OS's receive buffer the loop sleeps
 * (SO_RCVLOWAT) until a quarter megabyte or the rest is there: a few large
 * reads, not one a piece; a configured 100 KB buffer caps the wait at half
 * of it, and the frame must still arrive. */
static uint64_t large_frame_reads(int socket_receive_buffer_bytes) {
    net_config_t cfg;
    server_config(&cfg);
    cfg.socket_receive_buffer_bytes = socket_receive_buffer_bytes;
    net_t *net = server_start(&cfg);
    int fd = cl_connect(net);
    buf_t b = BUF_INIT, got = BUF_INIT;
    frame_build(&b, 'S', 1, 0, (1u << 20) - 9);
    const size_t piece = 32 * 1024;
    for (size_t off = 0; off < b.len; off += piece) {
        CU_ASSERT_FATAL(cl_write_all(fd, b.data + off, b.len - off < piece ? b.len - off : piece));
        usleep(2000);
    }
    CU_ASSERT_FATAL(cl_read_frame(fd, &got));
    CU_ASSERT_EQUAL_FATAL(got.len, 8);
    uint64_t reads = be64_load(got.data);
    CU_ASSERT(cl_echo(fd, 2, 100)); /* small frames are answered at once again */
    buf_free(&b);
    buf_free(&got);
    close(fd);
    net_free(net);
    return reads;
}

static void test_large_frame_few_reads(void) {
    uint64_t reads = large_frame_reads(-1);
    CU_ASSERT(reads >= 4 && reads <= 8); /* the first 16 KiB, then ~256 KiB a read */
    reads = large_frame_reads(100 * 1024);
    CU_ASSERT(reads >= 4 && reads < 32);
}

/* Open descriptors of this process: what every check of "net closed the
 * fds it owned" compares, at moments when the same sockets are open. */
static int fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void file_check_mode(net_send_mode_t mode) {
    char *dir = unit_mkdtemp();
    snprintf(T.file, sizeof T.file, "%s/segment.log", dir);
    uint8_t *content = mem_alloc(FILE_BYTES);
    for (size_t i = 0; i < FILE_BYTES; i++)
        content[i] = (uint8_t)(i * 31 + i / 251);
    int wfd = open(T.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CU_ASSERT_FATAL(wfd >= 0);
    CU_ASSERT_FATAL(cl_write_all(wfd, content, FILE_BYTES));
    close(wfd);

    net_config_t cfg;
    server_config(&cfg);
    cfg.send_mode = mode;
    net_t *net = server_start(&cfg);
    int fd = cl_connect(net);
    buf_t got = BUF_INIT, want = BUF_INIT;
    CU_ASSERT(cl_echo(fd, 100, 0)); /* accepted: its socket counts */
    int fds_before = fd_count();

    CU_ASSERT(cl_send(fd, 'F', 1, 0, 0));
    CU_ASSERT_FATAL(cl_read_frame(fd, &got));
    buf_append_str(&want, "<<");
    buf_append(&want, content + 1000, 50000);
    buf_append_str(&want, ">>");
    CU_ASSERT(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);

    CU_ASSERT(cl_send(fd, 'F', 2, 1, 0));
    CU_ASSERT_FATAL(cl_read_frame(fd, &got));
    buf_reset(&want);
    memset(buf_extend(&want, 10000), 'x', 10000);
    buf_append(&want, content, FILE_BYTES);
    memset(buf_extend(&want, 10000), 'y', 10000);
    buf_append(&want, content + 7, 3);
    buf_append_str(&want, "z");
    CU_ASSERT(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    CU_ASSERT(cl_echo(fd, 3, 10)); /* the stream goes on framed */
    /* Written before the echo was: every range's fd is closed, the empty
     * range's included. */
    CU_ASSERT_EQUAL(fd_count(), fds_before);
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);

    buf_free(&got);
    buf_free(&want);
    free(content);
    close(fd);
    net_free(net);
    unit_rmtree(dir);
    free(dir);
}

static void test_file_sendfile(void) { file_check_mode(NET_SEND_SENDFILE); }
static void test_file_mmap(void) { file_check_mode(NET_SEND_MMAP); }
static void test_file_pread(void) { file_check_mode(NET_SEND_PREAD); }

/* Writes BIG_FILE_BYTES of the test pattern to dir/name (T.file names it)
 * and returns the same bytes (the caller frees them). */
static uint8_t *big_file_write(const char *dir, const char *name) {
    snprintf(T.file, sizeof T.file, "%s/%s", dir, name);
    uint8_t *content = mem_alloc(BIG_FILE_BYTES);
    for (size_t i = 0; i < BIG_FILE_BYTES; i++)
        content[i] = pattern_byte(i);
    int wfd = open(T.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CU_ASSERT_FATAL(wfd >= 0);
    CU_ASSERT_FATAL(cl_write_all(wfd, content, BIG_FILE_BYTES));
    close(wfd);
    return content;
}

/* The file is truncated while a 4 MiB range of it waits in the output (the
 * client reads slowly): sendfile and mmap must close the connection (not
 * send other bytes, not crash on the vanished pages); pread copied the
 * range at net_respond, so the response arrives whole. */
static void truncate_check_mode(net_send_mode_t mode) {
    char *dir = unit_mkdtemp();
    uint8_t *content = big_file_write(dir, "truncated.log");
    net_config_t cfg;
    server_config(&cfg);
    cfg.send_mode = mode;
    cfg.socket_send_buffer_bytes = 32 * 1024;
    net_t *net = server_start(&cfg);
    int fd = cl_connect_opts(net_listener_port(net, 0), 32 * 1024, -1);
    CU_ASSERT(cl_send(fd, 'G', 1, 0, 0));
    uint8_t head[4 + 1000];
    CU_ASSERT_FATAL(cl_read_exact(fd, head, sizeof head)); /* the response is queued */
    CU_ASSERT_EQUAL(be32_load(head), BIG_FILE_BYTES);
    CU_ASSERT(memcmp(head + 4, content, 1000) == 0);
    CU_ASSERT_FATAL(truncate(T.file, 0) == 0);
    size_t got = 1000;
    bool same = true;
    uint8_t chunk[65536];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, GUARD_MS) != 1)
            break;
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r <= 0)
            break;
        if (got + (size_t)r > BIG_FILE_BYTES || memcmp(chunk, content + got, (size_t)r) != 0)
            same = false;
        got += (size_t)r;
        if (got == BIG_FILE_BYTES && mode == NET_SEND_PREAD)
            break;
    }
    CU_ASSERT(same); /* never other bytes */
    if (mode == NET_SEND_PREAD) {
        CU_ASSERT_EQUAL(got, BIG_FILE_BYTES);
        CU_ASSERT(cl_echo(fd, 2, 0));
    } else {
        CU_ASSERT(got < BIG_FILE_BYTES);
        CU_ASSERT(th_wait(&T.closes, 1));
    }
    free(content);
    close(fd);
    net_free(net);
    unit_rmtree(dir);
    free(dir);
}

static void respond_late_file(void *arg) {
    net_conn_t *conn = arg;
    if (net_conn_is_open(conn) || !net_conn_in_flight(conn))
        th_error();
    answer_file(conn, 1);
    pthread_mutex_lock(&T.mu);
    T.late_done = 1;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static net_conn_t *th_wait_held(void) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GUARD_MS / 1000;
    pthread_mutex_lock(&T.mu);
    while (!T.held && pthread_cond_timedwait(&T.cv, &T.mu, &until) == 0)
        ;
    net_conn_t *held = T.held;
    pthread_mutex_unlock(&T.mu);
    return held;
}

/* The fds of owned ranges that are never sent are closed too: a response
 * dropped with net_response_free, one answered after its peer left, and
 * one queued (4 MiB behind a 32 KiB window) when the peer leaves. */
static void owned_lifetimes_mode(net_send_mode_t mode) {
    char *dir = unit_mkdtemp();
    uint8_t *content = big_file_write(dir, "segment.log");
    net_config_t cfg;
    server_config(&cfg);
    cfg.send_mode = mode;
    cfg.socket_send_buffer_bytes = 32 * 1024;
    net_t *net = server_start(&cfg);
    int fds_before = fd_count();
    buf_t got = BUF_INIT;

    int c = cl_connect(net);
    CU_ASSERT(cl_send(c, 'X', 1, 0, 0));
    CU_ASSERT(cl_read_frame(c, &got) && got.len == 7 && memcmp(got.data, "dropped", 7) == 0);
    close(c);
    CU_ASSERT_FATAL(th_wait(&T.closes, 1));
    CU_ASSERT_EQUAL(fd_count(), fds_before);

    c = cl_connect(net);
    CU_ASSERT(cl_send(c, 'H', 2, 0, 0));
    net_conn_t *held = th_wait_held();
    CU_ASSERT_PTR_NOT_NULL_FATAL(held);
    close(c);
    CU_ASSERT_FATAL(th_wait(&T.closes, 2));
    CU_ASSERT_EQUAL_FATAL(evloop_run(net_conn_evloop(held), respond_late_file, held), 0);
    CU_ASSERT(th_wait(&T.late_done, 1));
    CU_ASSERT_EQUAL(fd_count(), fds_before);

    c = cl_connect_opts(net_listener_port(net, 0), 32 * 1024, -1);
    CU_ASSERT(cl_send(c, 'G', 3, 0, 0));
    uint8_t head[4 + 1000];
    CU_ASSERT(cl_read_exact(c, head, sizeof head));
    CU_ASSERT(memcmp(head + 4, content, 1000) == 0);
    close(c); /* unread bytes: a reset, the server's next write fails */
    CU_ASSERT_FATAL(th_wait(&T.closes, 3));
    CU_ASSERT_EQUAL(fd_count(), fds_before);
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);

    buf_free(&got);
    free(content);
    net_free(net);
    unit_rmtree(dir);
    free(dir);
}

static void test_owned_sendfile(void) { owned_lifetimes_mode(NET_SEND_SENDFILE); }
static void test_owned_mmap(void) { owned_lifetimes_mode(NET_SEND_MMAP); }
static void test_owned_pread(void) { owned_lifetimes_mode(NET_SEND_PREAD); }

#define RACE_T0 1600000000000LL

/* The race the owned fds close: see answer_race. Without partition_read's
 * duplicate, the response would carry the segment's fd number, by then an
 * impostor file's, and the client would get 'Z's. */
static void race_check_mode(net_send_mode_t mode) {
    char *dir = unit_mkdtemp();
    char logs[300], err[512];
    snprintf(T.file, sizeof T.file, "%s/other", dir);
    snprintf(logs, sizeof logs, "%s/logs", dir);
    memset(&R, 0, sizeof R);
    config_t *lcfg = config_new();
    CU_ASSERT_EQUAL_FATAL(config_set(lcfg, "log.dirs", logs, err, sizeof err), 0);
    log_manager_opts_t o = {.now_ms = RACE_T0, .log_lock = replica_manager_lock_log, .log_lock_ctx = &R.rm};
    log_manager_t *lm = NULL;
    CU_ASSERT_EQUAL_FATAL(log_manager_open(lcfg, 1, &o, &lm, err, sizeof err), KERR_NONE);
    R.rm = replica_manager_new(lm, 1, lcfg);
    static const int32_t only_me[] = {1};
    partition_state_t st = {.controller_epoch = 1, .leader_id = 1, .leader_epoch = 0, .zk_version = 0,
                            .replicas = only_me, .nreplicas = 1, .isr = only_me, .nisr = 1};
    CU_ASSERT_EQUAL_FATAL(replica_manager_apply(R.rm, "race", 0, &st, NULL, RACE_T0), KERR_NONE);
    record_input_t recs[3];
    for (int i = 0; i < 3; i++)
        recs[i] = (record_input_t){.key_len = -1, .value = "original", .value_len = 8, .timestamp = RACE_T0};
    batch_build_opts_t bo = {.partition_leader_epoch = -1, .compression = COMPRESSION_NONE, .producer_id = -1,
                             .producer_epoch = -1, .base_sequence = -1};
    buf_t batch = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(record_batch_build(&batch, &bo, recs, 3), KERR_NONE);
    partition_append_result_t ar;
    CU_ASSERT_EQUAL_FATAL(partition_append(replica_manager_get(R.rm, "race", 0), batch.data, batch.len, 0, RACE_T0,
                                           &ar), KERR_NONE);

    net_config_t cfg;
    server_config(&cfg);
    cfg.send_mode = mode;
    net_t *net = server_start(&cfg);
    int fd = cl_connect(net);
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_send(fd, 'R', 1, 0, 0));
    CU_ASSERT_FATAL(cl_read_frame(fd, &got));
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    CU_ASSERT(R.fd_reused); /* else the race was not replayed */
    CU_ASSERT_EQUAL(R.expected_len, batch.len);
    CU_ASSERT(R.expected_len > 16 && R.expected[16] == 2); /* a v2 batch, not 'Z's */
    CU_ASSERT(got.len == R.expected_len && memcmp(got.data, R.expected, got.len) == 0);
    CU_ASSERT(cl_echo(fd, 2, 0));

    buf_free(&got);
    buf_free(&batch);
    close(fd);
    net_free(net);
    log_manager_close(lm, true);
    replica_manager_free(R.rm);
    R.rm = NULL;
    config_free(lcfg);
    unit_rmtree(dir);
    free(dir);
}

static void test_race_sendfile(void) { race_check_mode(NET_SEND_SENDFILE); }
static void test_race_mmap(void) { race_check_mode(NET_SEND_MMAP); }
static void test_race_pread(void) { race_check_mode(NET_SEND_PREAD); }

static void test_truncated_sendfile(void) { truncate_check_mode(NET_SEND_SENDFILE); }
static void test_truncated_mmap(void) { truncate_check_mode(NET_SEND_MMAP); }
static void test_truncated_pread(void) { truncate_check_mode(NET_SEND_PREAD); }

/* A client sends requests for 512 KiB responses and reads nothing: the
 * server must stop reading (so the client's writes block) after a few
 * requests, and serve everything once the client drains. */
static void test_back_pressure(void) {
    net_config_t cfg;
    server_config(&cfg);
    cfg.num_network_threads = 1;
    cfg.buffer_bound = 64 * 1024;
    cfg.socket_send_buffer_bytes = 32 * 1024;
    cfg.socket_receive_buffer_bytes = 32 * 1024;
    net_t *net = server_start(&cfg);
    int fd = cl_connect_opts(net_listener_port(net, 0), 32 * 1024, 32 * 1024);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    const uint32_t resp = 512 * 1024;
    buf_t req = BUF_INIT;
    int sent = 0;
    size_t off = 0;
    bool blocked = false;
    /* Send whole frames until the socket stays unwritable (the guard) —
     * which can only happen once the server stopped reading. */
    while (sent < 400 && !blocked) {
        if (off == req.len) {
            buf_reset(&req);
            frame_build(&req, 'B', ++sent, resp, 16 * 1024);
            off = 0;
        }
        ssize_t w = write(fd, req.data + off, req.len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        CU_ASSERT_FATAL(errno == EAGAIN || errno == EWOULDBLOCK);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        blocked = poll(&pfd, 1, 300) == 0;
    }
    CU_ASSERT_FATAL(blocked);
    int calls = th_get(&T.calls);
    CU_ASSERT(calls >= 1 && calls <= 3);
    CU_ASSERT(sent > calls + 2); /* many requests wait unread */
    /* Drain (and finish the last request): every response arrives,
     * complete, in order. */
    buf_t in = BUF_INIT;
    size_t parsed = 0;
    int received = 0;
    while (received < sent) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (off < req.len ? POLLOUT : 0)};
        if (poll(&pfd, 1, GUARD_MS) != 1)
            break;
        if ((pfd.revents & POLLOUT) && off < req.len) {
            ssize_t w = write(fd, req.data + off, req.len - off);
            if (w > 0)
                off += (size_t)w;
        }
        if (pfd.revents & POLLIN) {
            buf_reserve(&in, 256 * 1024);
            ssize_t r = read(fd, in.data + in.len, in.cap - in.len);
            if (r <= 0)
                break;
            in.len += (size_t)r;
        }
        while (in.len - parsed >= 4 && in.len - parsed - 4 >= be32_load(in.data + parsed)) {
            uint32_t size = be32_load(in.data + parsed);
            const uint8_t *p = in.data + parsed + 4;
            CU_ASSERT_EQUAL_FATAL(size, resp);
            CU_ASSERT(p[0] == pattern_byte(0) && p[resp - 1] == pattern_byte(resp - 1));
            parsed += 4 + size;
            received++;
        }
        if (parsed == in.len) {
            in.len = parsed = 0;
        }
    }
    CU_ASSERT_EQUAL(received, sent);
    CU_ASSERT_EQUAL(th_get(&T.calls), sent);
    buf_free(&in);
    buf_free(&req);
    close(fd);
    net_free(net);
}

static void test_idle_timeout(void) {
    net_config_t cfg;
    server_config(&cfg);
    cfg.connections_max_idle_ms = 300;
    net_t *net = server_start(&cfg);
    int busy = cl_connect(net), idle = cl_connect(net);
    CU_ASSERT(cl_echo(idle, 1, 0));
    /* Traffic every 50 ms keeps a connection open past the idle time. */
    for (int i = 0; i < 12; i++) {
        CU_ASSERT_FATAL(cl_echo(busy, 10 + i, 0));
        usleep(50 * 1000);
    }
    CU_ASSERT(cl_wait_closed(idle));
    CU_ASSERT(cl_echo(busy, 99, 0));
    close(busy);
    close(idle);
    net_free(net);
}

static void test_many_connections(void) {
    enum { N = 200 };
    net_t *net = server_default();
    int *fds = mem_alloc(N * sizeof *fds);
    for (int i = 0; i < N; i++) {
        fds[i] = cl_connect(net);
        CU_ASSERT(cl_send(fds[i], 'E', i, 0, 10));
    }
    buf_t got = BUF_INIT;
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += cl_read_frame(fds[i], &got) && frame_seq(got.data, got.len) == i;
    CU_ASSERT_EQUAL(ok, N);
    for (size_t l = 0; l < 2; l++) {
        net_loop_stats_t st;
        net_loop_stats(net_loop(net, l), &st);
        CU_ASSERT_EQUAL(st.accepted, N / 2); /* round robin */
        CU_ASSERT_EQUAL(st.open, N / 2);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    CU_ASSERT(th_wait(&T.closes, N));
    buf_free(&got);
    free(fds);
    net_free(net);
}

static void respond_late(void *arg) {
    net_conn_t *conn = arg;
    if (net_conn_is_open(conn) || !net_conn_in_flight(conn))
        th_error();
    net_respond_bytes(conn, "late", 4);
    pthread_mutex_lock(&T.mu);
    T.late_done = 1;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

/* The peer closes while its request is held; the answer comes afterwards,
 * from another thread through evloop_run. */
static void test_respond_after_peer_close(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    CU_ASSERT(cl_send(fd, 'H', 1, 0, 50000));
    net_conn_t *held = th_wait_held();
    CU_ASSERT_PTR_NOT_NULL_FATAL(held);
    close(fd);
    CU_ASSERT_FATAL(th_wait(&T.closes, 1));
    pthread_mutex_lock(&T.mu);
    CU_ASSERT(T.held_closed);
    pthread_mutex_unlock(&T.mu);
    CU_ASSERT_EQUAL_FATAL(evloop_run(net_conn_evloop(held), respond_late, held), 0);
    CU_ASSERT(th_wait(&T.late_done, 1));
    CU_ASSERT_EQUAL(th_get(&T.errors), 0);
    int other = cl_connect(net);
    CU_ASSERT(cl_echo(other, 2, 0));
    close(other);
    net_free(net);
}

static void test_timer_cancel(void) {
    net_t *net = server_default();
    int fd = cl_connect(net);
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_send(fd, 'T', 1, 0, 0));
    CU_ASSERT(cl_read_frame(fd, &got));
    CU_ASSERT(got.len == 2 && got.data[0] == 'T' && got.data[1] == 0);
    buf_free(&got);
    close(fd);
    net_free(net);
}

/* net_stop with connections open: an idle one is closed, a request in
 * flight is answered and written before its connection closes, and one
 * never answered is cut off at the shutdown deadline (and freed by
 * net_free). */
static void test_stop_with_connections(void) {
    net_config_t cfg;
    server_config(&cfg);
    cfg.shutdown_timeout_ms = 400;
    net_t *net = server_start(&cfg);
    int idle = cl_connect(net), slow = cl_connect(net), never = cl_connect(net);
    CU_ASSERT(cl_echo(idle, 1, 0));
    CU_ASSERT(cl_send(slow, 'D', 2, 200, 10));
    CU_ASSERT(cl_send(never, 'H', 3, 0, 0));
    CU_ASSERT(th_wait(&T.calls, 3));
    net_stop(net);
    buf_t got = BUF_INIT;
    CU_ASSERT(cl_read_frame(slow, &got) && frame_seq(got.data, got.len) == 2);
    CU_ASSERT(cl_wait_closed(slow));
    CU_ASSERT(cl_wait_closed(idle));
    CU_ASSERT(cl_wait_closed(never));
    CU_ASSERT_EQUAL(th_get(&T.closes), 3);
    /* No longer accepting. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)net_listener_port(net, 0)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT(connect(s, (struct sockaddr *)&sa, sizeof sa) != 0);
    close(s);
    net_stop(net); /* idempotent */
    buf_free(&got);
    close(idle);
    close(slow);
    close(never);
    net_free(net);
}

static void on_sigusr1(int sig) {
    (void)sig;
    net_shutdown(g_net);
}

/* SIGTERM-style: the signal handler only asks; net_stop then finishes. */
static void test_stop_from_signal(void) {
    g_net = server_default();
    int fd = cl_connect(g_net);
    CU_ASSERT(cl_echo(fd, 1, 0));
    struct sigaction sa = {.sa_handler = on_sigusr1}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    raise(SIGUSR1);
    CU_ASSERT(cl_wait_closed(fd));
    sigaction(SIGUSR1, &old, NULL);
    net_stop(g_net);
    net_free(g_net);
    g_net = NULL;
    close(fd);
}

static void test_config_errors(void) {
    char err[256] = "";
    net_config_t cfg;
    server_config(&cfg);
    cfg.on_request = NULL;
    CU_ASSERT_PTR_NULL(net_new(&cfg, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "handler"));
    server_config(&cfg);
    cfg.num_network_threads = 0;
    CU_ASSERT_PTR_NULL(net_new(&cfg, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "num.network.threads"));
    /* A port in use fails at net_new. */
    server_config(&cfg);
    net_t *a = net_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    net_listen_t taken = {.host = "127.0.0.1", .port = net_listener_port(a, 0)};
    cfg.listeners = &taken;
    CU_ASSERT_PTR_NULL(net_new(&cfg, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot listen"));
    net_free(a); /* never started */
    net_send_mode_t m;
    CU_ASSERT(net_send_mode_parse("MMAP", &m) == 0 && m == NET_SEND_MMAP);
    CU_ASSERT(net_send_mode_parse("splice", &m) == -1);
}

void unit_register(void) {
    /* Before any thread: the expected warnings (bad frames, the shutdown
     * deadline) would only be noise. */
    logger_set_level(LOGGER_ERROR);
    signal(SIGPIPE, SIG_IGN); /* a write to a peer that left fails with EPIPE instead */
    static const unit_test_t tests[] = {
        {"round trip", test_roundtrip},
        {"pipelined requests answered in order", test_pipelined_order},
        {"detached requests: the next ones go on, answers in order", test_detached_order},
        {"a detached request answered with a close", test_detached_close},
        {"NET_MAX_SLOTS + 1 detached requests, then the peer leaves", test_detached_bound_and_peer_close},
        {"a deferred request starts at its turn", test_deferred_turn},
        {"a deferred request holding nothing", test_deferred_holding_nothing},
        {"a deferred request dropped with its connection", test_deferred_dropped},
        {"oversized and negative frames close", test_oversized_and_negative},
        {"partial frames byte by byte", test_byte_by_byte},
        {"a large frame in few reads", test_large_frame_few_reads},
        {"file range: sendfile", test_file_sendfile},
        {"file range: mmap", test_file_mmap},
        {"file range: pread", test_file_pread},
        {"owned ranges closed unsent: sendfile", test_owned_sendfile},
        {"owned ranges closed unsent: mmap", test_owned_mmap},
        {"owned ranges closed unsent: pread", test_owned_pread},
        {"log deleted before its range is sent: sendfile", test_race_sendfile},
        {"log deleted before its range is sent: mmap", test_race_mmap},
        {"log deleted before its range is sent: pread", test_race_pread},
        {"truncated file range: sendfile", test_truncated_sendfile},
        {"truncated file range: mmap", test_truncated_mmap},
        {"truncated file range: pread", test_truncated_pread},
        {"back-pressure", test_back_pressure},
        {"idle timeout", test_idle_timeout},
        {"200 connections over 2 loops", test_many_connections},
        {"respond after the peer closed", test_respond_after_peer_close},
        {"timer cancel", test_timer_cancel},
        {"stop with connections open", test_stop_with_connections},
        {"stop from a signal handler", test_stop_from_signal},
        {"config errors", test_config_errors},
        {NULL, NULL},
    };
    unit_add_suite("net", tests);
}
