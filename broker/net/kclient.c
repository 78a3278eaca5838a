#include "net/kclient.h"

#include "util/clock.h"
#include "util/endian.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KC_TAG "kclient"

/* Problems (connect failures, lost connections, timeouts) are logged at WARN
 * at most this often once the first of a streak was. */
#define KC_WARN_INTERVAL_MS 10000
/* Bytes libevent reads per read callback: large enough that a fetch response
 * of tens of MiB does not take thousands of loop iterations. */
#define KC_MAX_SINGLE_READ (256 * 1024)
/* Backoff doublings beyond this cannot matter (2^20 * 1 ms > any cap). */
#define KC_MAX_DOUBLINGS 20

/* --- types ----------------------------------------------------------------- */

/* One accepted request: its whole frame (kept for resending) until its
 * callback has run. */
typedef struct kc_req {
    struct kc_req *next;
    int16_t api_key;
    int16_t version;
    int32_t corr;
    uint8_t *frame; /* size prefix + header + body, malloc'd */
    size_t frame_len;
    int64_t deadline_ms; /* monotonic; set when written */
    kclient_response_fn cb;
    void *ctx;
} kc_req_t;

typedef struct kc_queue {
    kc_req_t *head;
    kc_req_t *tail;
    size_t n;
} kc_queue_t;

typedef enum kc_state {
    KC_IDLE,       /* no connection, no attempt scheduled */
    KC_WAITING,    /* conn_timer will start an attempt (backoff) */
    KC_CONNECTING, /* bev is connecting to the address in addr_text */
    KC_CONNECTED,  /* bev is established */
} kc_state_t;

struct kclient {
    evloop_t *loop;
    char *host;
    int port;
    char port_str[8];
    char *client_id; /* NULL = null client id */
    char *label;

    int32_t request_timeout_ms;
    int32_t connect_timeout_ms;
    int32_t backoff_ms;
    int32_t backoff_max_ms;
    int max_in_flight;
    bool resend;
    int32_t max_response_bytes;

    kc_state_t state;
    struct bufferevent *bev;
    struct addrinfo *addrs;     /* this attempt's resolution */
    struct addrinfo *addr_next; /* the next one to try */
    char addr_text[64];         /* the address being tried or connected to */
    evloop_timer_t *conn_timer; /* KC_WAITING: backoff; KC_CONNECTING: connect timeout */
    evloop_timer_t *req_timer;  /* deadline of the oldest request in flight */

    kc_queue_t queued;    /* accepted, not written (resends go back here) */
    kc_queue_t in_flight; /* written on the current connection, oldest first */
    size_t outstanding;   /* accepted, callback not yet called */
    int32_t next_corr;
    bool want_connect; /* kclient_connect: connect even with nothing queued */

    int failures;           /* consecutive failures, reset by a response */
    int64_t next_attempt_ms; /* no connect attempt before this (monotonic) */
    bool got_response;      /* on the current connection */
    bool streak_connected;  /* a connect was logged during this failure streak */
    bool warned;            /* a problem was logged since the last response */
    int64_t last_warn_ms;
    uint64_t unlogged; /* problems logged at DEBUG only since last_warn_ms */
    uint64_t rng;      /* backoff jitter */

    /* Re-entrancy: user callbacks run with depth > 0; kclient_free inside
     * one only marks freeing, and the outermost frame destroys. */
    int depth;
    bool freeing;
    const kc_req_t *delivering; /* the request of a running KERR_NONE callback */
    const uint8_t *delivering_payload;

    kclient_stats_t stats;
};

/* --- small helpers ----------------------------------------------------------- */

static void kc_assert_loop(const evloop_t *loop, const char *fn) {
    if (!evloop_in_loop(loop)) {
        log_error(KC_TAG, "%s called off its loop's thread", fn);
        abort();
    }
}

static void kc_push(kc_queue_t *q, kc_req_t *r) {
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

static kc_req_t *kc_pop(kc_queue_t *q) {
    kc_req_t *r = q->head;
    if (r) {
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        r->next = NULL;
    }
    return r;
}

/* Moves all of src to the end of dst (src left empty). */
static void kc_append(kc_queue_t *dst, kc_queue_t *src) {
    if (!src->head)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->n += src->n;
    *src = (kc_queue_t){NULL, NULL, 0};
}

static void kc_req_free(kc_req_t *r) {
    free(r->frame);
    free(r);
}

static uint64_t kc_rand(kclient_t *c) {
    c->rng ^= c->rng << 13; /* xorshift64 */
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

/* Kafka's reconnect backoff: base * 2^(failures-1) capped at max, times a
 * random factor in [0.8, 1.2] so that brokers that lost the same peer do not
 * retry in lockstep. After a failure-free disconnect, the base. */
static int64_t kc_backoff(kclient_t *c) {
    int doublings = c->failures > 1 ? c->failures - 1 : 0;
    if (doublings > KC_MAX_DOUBLINGS)
        doublings = KC_MAX_DOUBLINGS;
    int64_t ms = (int64_t)c->backoff_ms << doublings;
    if (ms > c->backoff_max_ms)
        ms = c->backoff_max_ms;
    int64_t permille = 800 + (int64_t)(kc_rand(c) % 401);
    return ms * permille / 1000;
}

/* Logs a problem at WARN if it is the first since the last response or the
 * last WARN is KC_WARN_INTERVAL_MS old, else at DEBUG: a broker that stays
 * down must not fill the log with one line per attempt. */
__attribute__((format(printf, 2, 3))) static void kc_problem(kclient_t *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int64_t now = clock_mono_ms();
    if (c->warned && now - c->last_warn_ms < KC_WARN_INTERVAL_MS) {
        c->unlogged++;
        log_debug(KC_TAG, "%s: %s", c->label, msg);
        return;
    }
    if (c->unlogged)
        log_warn(KC_TAG, "%s: %s (%" PRIu64 " similar problems not logged)", c->label, msg, c->unlogged);
    else
        log_warn(KC_TAG, "%s: %s", c->label, msg);
    c->warned = true;
    c->last_warn_ms = now;
    c->unlogged = 0;
}

static void kc_close_bev(kclient_t *c) {
    if (c->bev) {
        bufferevent_free(c->bev); /* safe inside its own callbacks: libevent defers */
        c->bev = NULL;
    }
    if (c->addrs) {
        freeaddrinfo(c->addrs);
        c->addrs = c->addr_next = NULL;
    }
}

/* The one place user callbacks run. c stays allocated during the call (the
 * callers hold depth), whatever the callback does. */
static void kc_complete(kclient_t *c, kc_req_t *r, kerr_t err, const uint8_t *payload, size_t len) {
    c->outstanding--;
    if (r->cb) {
        if (err == KERR_NONE) {
            c->delivering = r;
            c->delivering_payload = payload;
        }
        r->cb(r->ctx, err, payload, len);
        if (err == KERR_NONE) {
            c->delivering = NULL;
            c->delivering_payload = NULL;
        }
    }
    kc_req_free(r);
}

/* Fails a detached list. Callbacks that send add to c's queues, never to
 * q, so this ends. */
static void kc_fail_list(kclient_t *c, kc_queue_t *q, kerr_t err) {
    kc_req_t *r;
    while ((r = kc_pop(q)))
        kc_complete(c, r, err, NULL, 0);
}

static void kc_destroy(kclient_t *c) {
    kc_close_bev(c);
    evloop_timer_free(c->conn_timer);
    evloop_timer_free(c->req_timer);
    free(c->host);
    free(c->client_id);
    free(c->label);
    free(c);
}

/* Every entry from libevent and kclient_free brackets its work with these:
 * the client is destroyed only when the outermost frame leaves, so no frame
 * ever touches freed memory, whichever callback called kclient_free. */
static void kc_enter(kclient_t *c) { c->depth++; }

static void kc_leave(kclient_t *c) {
    if (--c->depth == 0 && c->freeing)
        kc_destroy(c);
}

/* --- connecting ---------------------------------------------------------------- */

static void kc_on_read(struct bufferevent *bev, void *arg);
static void kc_on_event(struct bufferevent *bev, short what, void *arg);

/* Starts the next connect attempt when it is due, if there is a reason to
 * connect. Never connects synchronously: kclient_send must not run
 * callbacks (an attempt can fail at once and fail the queue). */
static void kc_schedule(kclient_t *c) {
    if (c->freeing || c->state != KC_IDLE || (!c->queued.head && !c->want_connect))
        return;
    int64_t delay = c->next_attempt_ms - clock_mono_ms();
    c->state = KC_WAITING;
    evloop_timer_arm(c->conn_timer, delay > 0 ? delay : 0);
}

/* No address of this attempt took the connection. Unsent requests fail
 * unless they are to be resent; then the next attempt is scheduled. */
static void kc_attempt_failed(kclient_t *c, const char *why) {
    kc_close_bev(c);
    evloop_timer_cancel(c->conn_timer);
    c->state = KC_IDLE;
    c->failures++;
    c->stats.connect_failures++;
    c->next_attempt_ms = clock_mono_ms() + kc_backoff(c);
    char target[300];
    snprintf(target, sizeof target, "%s:%d", c->host, c->port);
    if (strncmp(why, target, strlen(target)) == 0) /* an IP literal: why names it already */
        kc_problem(c, "cannot connect to %s", why);
    else
        kc_problem(c, "cannot connect to %s: %s", target, why);
    if (!c->resend) {
        kc_queue_t failed = c->queued;
        c->queued = (kc_queue_t){NULL, NULL, 0};
        kc_fail_list(c, &failed, KERR_NETWORK_EXCEPTION);
    }
    kc_schedule(c);
}

static void kc_addr_format(const struct addrinfo *ai, char *out, size_t outlen) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)ai->ai_addr;
        inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%d", ip, ntohs(sa->sin_port));
    } else if (ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)ai->ai_addr;
        inet_ntop(AF_INET6, &sa->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%d", ip, ntohs(sa->sin6_port));
    } else {
        snprintf(out, outlen, "address family %d", ai->ai_family);
    }
}

/* Starts a non-blocking connect to ai. 0, or -1 with the reason in why. */
static int kc_connect_addr(kclient_t *c, const struct addrinfo *ai, char *why, size_t whylen) {
    kc_addr_format(ai, c->addr_text, sizeof c->addr_text);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "%s: socket: %s", c->addr_text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->bev = bufferevent_socket_new(evloop_base(c->loop), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        close(fd);
        snprintf(why, whylen, "%s: libevent could not create a bufferevent", c->addr_text);
        return -1;
    }
    if (bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
        snprintf(why, whylen, "%s: connect: %s", c->addr_text, strerror(errno));
        bufferevent_free(c->bev);
        c->bev = NULL;
        return -1;
    }
    /* Only now: libevent 2.0 called the event callback from inside a failing
     * bufferevent_socket_connect. Outcomes known at once (a refusal, an
     * immediate connect) come as deferred events, which read the callbacks
     * when they run. */
    bufferevent_setcb(c->bev, kc_on_read, NULL, kc_on_event, c);
    return 0;
}

/* Tries the remaining addresses of this attempt in resolver order; why
 * describes the last failure (for the log when none is left). */
static void kc_try_next(kclient_t *c, const char *last_why) {
    char why[300];
    snprintf(why, sizeof why, "%s", last_why);
    while (c->addr_next) {
        const struct addrinfo *ai = c->addr_next;
        c->addr_next = ai->ai_next;
        if (kc_connect_addr(c, ai, why, sizeof why) == 0) {
            c->state = KC_CONNECTING;
            evloop_timer_arm(c->conn_timer, c->connect_timeout_ms);
            return;
        }
        log_debug(KC_TAG, "%s: %s", c->label, why);
    }
    kc_attempt_failed(c, why);
}

/* One attempt: resolve now (blocking; see kclient.h) and try each address. */
static void kc_attempt(kclient_t *c) {
    c->stats.connect_attempts++;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(c->host, c->port_str, &hints, &c->addrs);
    if (rc != 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", c->host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        c->addrs = NULL;
        kc_attempt_failed(c, why);
        return;
    }
    c->addr_next = c->addrs;
    kc_try_next(c, "the host resolved to no address");
}

/* --- requests on the wire -------------------------------------------------------- */

/* Keeps req_timer on the deadline of the oldest request in flight (the
 * earliest: all share one timeout and were written in order). */
static void kc_arm_deadline(kclient_t *c) {
    if (!c->in_flight.head) {
        evloop_timer_cancel(c->req_timer);
        return;
    }
    int64_t delay = c->in_flight.head->deadline_ms - clock_mono_ms();
    evloop_timer_arm(c->req_timer, delay > 0 ? delay : 0);
}

/* Writes queued requests while the connection has room in flight. The
 * frame is copied into the bufferevent; the request keeps its own for a
 * resend. */
static void kc_pump(kclient_t *c) {
    if (c->state != KC_CONNECTED)
        return;
    bool wrote = false;
    int64_t now = clock_mono_ms();
    while (c->queued.head && c->in_flight.n < (size_t)c->max_in_flight) {
        kc_req_t *r = kc_pop(&c->queued);
        if (bufferevent_write(c->bev, r->frame, r->frame_len) != 0) {
            log_error(KC_TAG, "%s: out of memory queueing a request", c->label);
            abort(); /* as mem.h does */
        }
        r->deadline_ms = now + c->request_timeout_ms;
        kc_push(&c->in_flight, r);
        c->stats.requests_written++;
        wrote = true;
    }
    if (wrote && !evloop_timer_armed(c->req_timer))
        kc_arm_deadline(c);
}

/* Ends the connection. head (already taken from in_flight, may be NULL)
 * gets head_err; the rest of in_flight and the queue are kept for the next
 * connection (resend) or fail with NETWORK_EXCEPTION, in request order. A
 * connection that ends with requests in flight and no response delivered is
 * a failure for the backoff (a broker that accepts and drops every
 * connection gets the growing backoff, not a reconnect every 50 ms). */
static void kc_drop(kclient_t *c, const char *why, kc_req_t *head, kerr_t head_err) {
    size_t lost = c->in_flight.n + (head ? 1 : 0);
    bool stalled = lost > 0 && !c->got_response;
    kc_close_bev(c);
    evloop_timer_cancel(c->req_timer);
    c->state = KC_IDLE;
    c->stats.disconnects++;
    if (stalled)
        c->failures++;
    c->next_attempt_ms = clock_mono_ms() + kc_backoff(c);
    if (lost == 0) /* e.g. the broker's connections.max.idle.ms: routine */
        log_info(KC_TAG, "%s: idle connection to %s ended: %s", c->label, c->addr_text, why);
    else
        kc_problem(c, "connection to %s ended: %s (%zu request%s in flight%s)", c->addr_text, why, lost,
                   lost == 1 ? "" : "s", c->resend && c->in_flight.n ? ", to be resent" : "");
    kc_queue_t failed = {NULL, NULL, 0};
    if (c->resend) {
        kc_append(&c->in_flight, &c->queued); /* in-flight ones are older */
        c->queued = c->in_flight;
    } else {
        failed = c->in_flight;
        kc_append(&failed, &c->queued);
    }
    c->in_flight = (kc_queue_t){NULL, NULL, 0};
    if (head)
        kc_complete(c, head, head_err, NULL, 0);
    kc_fail_list(c, &failed, KERR_NETWORK_EXCEPTION);
    kc_schedule(c);
}

static void kc_on_connected(kclient_t *c) {
    evloop_timer_cancel(c->conn_timer);
    freeaddrinfo(c->addrs);
    c->addrs = c->addr_next = NULL;
    c->state = KC_CONNECTED;
    c->want_connect = false;
    c->got_response = false;
    c->stats.connects++;
    /* One INFO line per recovery, not one per flap of a broker that
     * accepts and drops. */
    if (c->failures == 0 || !c->streak_connected) {
        if (c->failures)
            log_info(KC_TAG, "%s: connected to %s after %d failure%s", c->label, c->addr_text, c->failures,
                     c->failures == 1 ? "" : "s");
        else
            log_info(KC_TAG, "%s: connected to %s", c->label, c->addr_text);
    } else {
        log_debug(KC_TAG, "%s: connected to %s", c->label, c->addr_text);
    }
    c->streak_connected = c->failures > 0;
    bufferevent_setwatermark(c->bev, EV_READ, 4, 0);
    bufferevent_set_max_single_read(c->bev, KC_MAX_SINGLE_READ);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    kc_pump(c);
}

/* A response broke the protocol: the oldest request in flight (whose
 * response it was) fails for good, the connection ends. */
static void kc_protocol_error(kclient_t *c, const char *why) {
    kc_req_t *head = kc_pop(&c->in_flight);
    kc_drop(c, why, head, KERR_NETWORK_EXCEPTION);
}

/* Takes one whole response frame off the input if there is one. Returns
 * the payload (malloc'd, *len bytes) or NULL: then either more bytes are
 * needed (the read watermark now says how many) or the connection was
 * dropped (c->state changed). The frame is copied out once, so a callback
 * that frees the client (and the input buffer) cannot pull it away. */
static uint8_t *kc_take_frame(kclient_t *c, size_t *len) {
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t avail = evbuffer_get_length(in);
    if (avail < 4) {
        bufferevent_setwatermark(c->bev, EV_READ, 4, 0);
        return NULL;
    }
    uint8_t hdr[8];
    evbuffer_copyout(in, hdr, 4);
    int32_t size = (int32_t)be32_load(hdr);
    char why[200];
    if (size < 4 || size > c->max_response_bytes) {
        snprintf(why, sizeof why, "response size %" PRId32 " outside 4..%" PRId32, size, c->max_response_bytes);
        kc_protocol_error(c, why);
        return NULL;
    }
    if (avail - 4 < (size_t)size) {
        bufferevent_setwatermark(c->bev, EV_READ, 4 + (size_t)size, 0);
        return NULL;
    }
    evbuffer_copyout(in, hdr, 8);
    int32_t corr = (int32_t)be32_load(hdr + 4);
    const kc_req_t *want = c->in_flight.head;
    if (!want || corr != want->corr) {
        if (want)
            snprintf(why, sizeof why, "response correlation id %" PRId32 ", expected %" PRId32, corr, want->corr);
        else
            snprintf(why, sizeof why, "response (correlation id %" PRId32 ") with no request in flight", corr);
        kc_protocol_error(c, why);
        return NULL;
    }
    uint8_t *payload = mem_alloc((size_t)size);
    evbuffer_drain(in, 4);
    evbuffer_remove(in, payload, (size_t)size);
    *len = (size_t)size;
    return payload;
}

static void kc_on_read(struct bufferevent *bev, void *arg) {
    (void)bev;
    kclient_t *c = arg;
    kc_enter(c);
    while (c->state == KC_CONNECTED && !c->freeing) {
        size_t len = 0;
        uint8_t *payload = kc_take_frame(c, &len);
        if (!payload)
            break;
        kc_req_t *r = kc_pop(&c->in_flight);
        c->got_response = true;
        c->failures = 0;
        c->streak_connected = false;
        c->warned = false;
        c->stats.responses++;
        kc_arm_deadline(c);
        kc_pump(c); /* keep the pipeline full before the callback runs */
        kc_complete(c, r, KERR_NONE, payload, len);
        free(payload);
    }
    kc_leave(c);
}

static void kc_on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    kclient_t *c = arg;
    int err = EVUTIL_SOCKET_ERROR();
    char why[300];
    kc_enter(c);
    if (c->state == KC_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            kc_on_connected(c);
        } else {
            snprintf(why, sizeof why, "%s: %s", c->addr_text, err ? strerror(err) : "connection failed");
            bufferevent_free(c->bev);
            c->bev = NULL;
            kc_try_next(c, why);
        }
    } else if (c->state == KC_CONNECTED && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
        if (what & BEV_EVENT_EOF)
            snprintf(why, sizeof why, "closed by the broker");
        else
            snprintf(why, sizeof why, "%s", err ? strerror(err) : "socket error");
        kc_drop(c, why, NULL, KERR_NONE);
    }
    kc_leave(c);
}

/* KC_WAITING: the backoff is over, attempt. KC_CONNECTING: this address
 * took too long, try the next. */
static void kc_on_conn_timer(void *arg) {
    kclient_t *c = arg;
    kc_enter(c);
    if (c->state == KC_WAITING) {
        c->state = KC_IDLE;
        if (c->queued.head || c->want_connect)
            kc_attempt(c);
    } else if (c->state == KC_CONNECTING) {
        char why[300];
        snprintf(why, sizeof why, "%s: connect timed out after %" PRId32 " ms", c->addr_text,
                 c->connect_timeout_ms);
        bufferevent_free(c->bev);
        c->bev = NULL;
        kc_try_next(c, why);
    }
    kc_leave(c);
}

/* The oldest request in flight is past its deadline: it fails and the
 * connection is reset, since its response may still come and every later
 * one would then be mismatched. */
static void kc_on_req_timer(void *arg) {
    kclient_t *c = arg;
    kc_enter(c);
    const kc_req_t *head = c->in_flight.head;
    if (c->state == KC_CONNECTED && head) {
        if (head->deadline_ms > clock_mono_ms()) {
            kc_arm_deadline(c); /* the timer fired a little early */
        } else {
            kc_req_t *r = kc_pop(&c->in_flight);
            const kp_api_t *api = kp_api_find(r->api_key);
            char why[200];
            snprintf(why, sizeof why, "%s v%d request (correlation id %" PRId32 ") timed out after %" PRId32 " ms",
                     api ? api->name : "?", r->version, r->corr, c->request_timeout_ms);
            c->stats.timeouts++;
            kc_drop(c, why, r, KERR_REQUEST_TIMED_OUT);
        }
    }
    kc_leave(c);
}

/* --- public ------------------------------------------------------------------------ */

void kclient_config_init(kclient_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->client_id = "samsa";
    cfg->request_timeout_ms = 30000;
    cfg->connect_timeout_ms = 10000;
    cfg->reconnect_backoff_ms = 50;
    cfg->reconnect_backoff_max_ms = 1000;
    cfg->max_in_flight = 1;
    cfg->resend_on_disconnect = false;
    cfg->max_response_bytes = 100 * 1024 * 1024;
}

kclient_t *kclient_new(evloop_t *loop, const kclient_config_t *cfg) {
    kc_assert_loop(loop, "kclient_new");
    if (!cfg->host || !*cfg->host || cfg->port < 1 || cfg->port > 65535) {
        log_error(KC_TAG, "kclient_new: invalid address %s:%d", cfg->host ? cfg->host : "(none)", cfg->port);
        return NULL;
    }
    kclient_config_t def;
    kclient_config_init(&def);
    kclient_t *c = mem_calloc(1, sizeof *c);
    c->loop = loop;
    c->host = mem_strdup(cfg->host);
    c->port = cfg->port;
    snprintf(c->port_str, sizeof c->port_str, "%d", cfg->port);
    c->client_id = cfg->client_id ? mem_strdup(cfg->client_id) : NULL;
    if (cfg->label) {
        c->label = mem_strdup(cfg->label);
    } else {
        size_t n = strlen(cfg->host) + 16;
        c->label = mem_alloc(n);
        snprintf(c->label, n, "%s:%d", cfg->host, cfg->port);
    }
    c->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : def.request_timeout_ms;
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : def.connect_timeout_ms;
    c->backoff_ms = cfg->reconnect_backoff_ms > 0 ? cfg->reconnect_backoff_ms : def.reconnect_backoff_ms;
    c->backoff_max_ms =
        cfg->reconnect_backoff_max_ms > 0 ? cfg->reconnect_backoff_max_ms : def.reconnect_backoff_max_ms;
    if (c->backoff_max_ms < c->backoff_ms)
        c->backoff_max_ms = c->backoff_ms;
    c->max_in_flight = cfg->max_in_flight > 0 ? cfg->max_in_flight : def.max_in_flight;
    c->resend = cfg->resend_on_disconnect;
    c->max_response_bytes = cfg->max_response_bytes > 0 ? cfg->max_response_bytes : def.max_response_bytes;
    c->state = KC_IDLE;
    c->conn_timer = evloop_timer_new(loop, kc_on_conn_timer, c);
    c->req_timer = evloop_timer_new(loop, kc_on_req_timer, c);
    c->rng = ((uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)c) | 1;
    return c;
}

void kclient_free(kclient_t *c) {
    if (!c)
        return;
    kc_assert_loop(c->loop, "kclient_free");
    if (c->freeing)
        return;
    c->freeing = true;
    kc_enter(c);
    kc_close_bev(c);
    evloop_timer_cancel(c->conn_timer);
    evloop_timer_cancel(c->req_timer);
    c->state = KC_IDLE;
    kc_queue_t all = c->in_flight;
    kc_append(&all, &c->queued);
    c->in_flight = (kc_queue_t){NULL, NULL, 0};
    if (all.n)
        log_debug(KC_TAG, "%s: closing with %zu request%s outstanding", c->label, all.n, all.n == 1 ? "" : "s");
    kc_fail_list(c, &all, KERR_BROKER_NOT_AVAILABLE);
    kc_leave(c);
}

int kclient_send(kclient_t *c, int16_t api_key, int16_t version, const void *body, kclient_response_fn cb,
                 void *ctx) {
    kc_assert_loop(c->loop, "kclient_send");
    if (c->freeing)
        return -1;
    kp_writer_t w;
    kp_writer_init(&w);
    char err[300];
    kp_str_t client_id = c->client_id ? kp_str(c->client_id) : KP_STR_NULL;
    kp_status_t st = kp_request_encode(api_key, version, c->next_corr, client_id, body, &w, err, sizeof err);
    buf_t flat = BUF_INIT;
    if (st == KP_OK && w.nsplices > 0 && kp_writer_flatten(&w, &flat) != 0) {
        snprintf(err, sizeof err, "cannot read the records of the request: %s", strerror(errno));
        st = KP_ERR_INVALID;
    }
    if (st != KP_OK) {
        log_error(KC_TAG, "%s: request not sent (%s): %s", c->label, kp_status_name(st), err);
        buf_free(&flat);
        kp_writer_free(&w);
        return -1;
    }
    kc_req_t *r = mem_calloc(1, sizeof *r);
    r->frame = w.nsplices > 0 ? buf_release(&flat, &r->frame_len) : buf_release(&w.buf, &r->frame_len);
    kp_writer_free(&w);
    r->api_key = api_key;
    r->version = version;
    r->corr = c->next_corr;
    r->cb = cb;
    r->ctx = ctx;
    c->next_corr = c->next_corr == INT32_MAX ? 0 : c->next_corr + 1;
    kc_push(&c->queued, r);
    c->outstanding++;
    if (c->state == KC_CONNECTED)
        kc_pump(c);
    else
        kc_schedule(c);
    return 0;
}

void kclient_connect(kclient_t *c) {
    kc_assert_loop(c->loop, "kclient_connect");
    if (c->freeing || c->state == KC_CONNECTED)
        return;
    c->want_connect = true;
    kc_schedule(c);
}

size_t kclient_pending(const kclient_t *c) {
    kc_assert_loop(c->loop, "kclient_pending");
    return c->outstanding;
}

bool kclient_connected(const kclient_t *c) {
    kc_assert_loop(c->loop, "kclient_connected");
    return c->state == KC_CONNECTED;
}

kerr_t kclient_decode(const kclient_t *c, const uint8_t *payload, size_t len, kp_arena_t *arena, void **body,
                      char *err, size_t errlen) {
    kc_assert_loop(c->loop, "kclient_decode");
    *body = NULL;
    const kc_req_t *r = c->delivering;
    if (!r || !payload || payload != c->delivering_payload) {
        errmsg_set(err, errlen, "%s: kclient_decode outside the callback of its response", c->label);
        return KERR_INVALID_REQUEST;
    }
    int32_t corr = 0;
    char why[300];
    kp_status_t st = kp_response_decode(payload, len, r->api_key, r->version, arena, &corr, body, why, sizeof why);
    if (st != KP_OK) {
        errmsg_set(err, errlen, "%s: %s", c->label, why);
        *body = NULL;
        return KERR_CORRUPT_MESSAGE;
    }
    return KERR_NONE;
}

void kclient_stats(const kclient_t *c, kclient_stats_t *out) {
    kc_assert_loop(c->loop, "kclient_stats");
    *out = c->stats;
}
