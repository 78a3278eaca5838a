#include "net/net.h"

#include "net/evloop.h"
#include "util/clock.h"
#include "util/endian.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NET_COMPONENT "net"

/* Bytes read per read() when no larger frame is being completed. */
#define NET_READ_CHUNK (16 * 1024)
/* An emptied input buffer larger than this is freed, so that one large
 * produce does not pin its size for the life of the connection. */
#define NET_INPUT_KEEP (64 * 1024)
/* Response bytes up to this size are copied into the output buffer; larger
 * ones are referenced in place (zero copy). */
#define NET_COPY_MAX (8 * 1024)
/* Largest piece of a file range read at once in NET_SEND_PREAD mode: with
 * libevent's chain header it stays within a 64 KiB allocation, below
 * malloc's mmap threshold. */
#define NET_PREAD_PIECE (60 * 1024)
/* In NET_SEND_MMAP mode, smaller ranges are read instead: below this, a
 * mapping (mmap, page faults, munmap with its TLB shootdown) costs more
 * than a copy (tests/bench/net-bench). */
#define NET_MMAP_MIN (64 * 1024)
/* Most a large frame's remaining bytes the socket gathers before the loop
 * wakes for them (SO_RCVLOWAT): a 1 MB produce arrives as dozens of TCP
 * segments, and each wake-up costs an epoll_wait, a read and, on a busy
 * machine, a context switch. Waiting for a quarter megabyte at a time
 * reads it in a few large reads; the kernel still wakes the loop earlier
 * under memory pressure or at the peer's FIN. */
#define NET_RCVLOWAT_MAX (256 * 1024)
/* Socket writes per flush before yielding to the other connections. */
#define NET_WRITES_PER_FLUSH 16
/* How long net_close / a framing error waits for queued responses. */
#define NET_CLOSE_LINGER_MS 5000
/* Connections accepted per wake-up of the acceptor. */
#define NET_ACCEPTS_PER_WAKE 64
/* Pause of a listener after accept() ran out of descriptors or memory. */
#define NET_ACCEPT_BACKOFF_MS 100
#define NET_LISTEN_BACKLOG 1024

/* --- types ----------------------------------------------------------------- */

typedef enum conn_state {
    CONN_OPEN,    /* reading and delivering */
    CONN_CLOSING, /* writing what is queued, then closing */
    CONN_CLOSED,  /* socket closed; struct alive while referenced */
} conn_state_t;

/* owner: the loop thread, except the immutable fields, which any thread
 * holding a reference (a request in flight) may read: the admin worker
 * logs the peer and finds the loop through net_conn_evloop. */
struct net_conn {
    net_loop_t *loop;        /* immutable */
    net_conn_t *prev, *next; /* loop->conns, until freed */
    uint64_t id;             /* immutable */
    int fd;
    size_t listener;         /* immutable */
    char peer[64];           /* immutable */
    conn_state_t state;
    int refs;
    void *user;

    /* Input: unprocessed bytes are in[in_off, in_len). The request in flight
     * is the frame at in_off (frame_total bytes with its prefix), or in
     * `held` after read-ahead needed more room than in's tail (input_split). */
    uint8_t *in;
    size_t in_off, in_len, in_cap;
    uint8_t *held;
    size_t frame_total;
    bool in_flight;
    bool in_service; /* conn_service is on the stack: it picks up answers */
    int rcvlowat;    /* SO_RCVLOWAT now set on fd (1: the default; input_wake_bytes) */

    struct evbuffer *out;
    struct event *ev_read, *ev_write, *ev_service, *ev_idle;
    bool reading, writing;
    int64_t last_active_ms;

    /* Detached requests in request order (net_detach), answered or not;
     * the head's response is written first, and a later response waits
     * behind every unanswered one before it. */
    net_slot_t *slots_head, *slots_tail;
    size_t nslots;
    bool answers_cut; /* a detached request was answered with a close: later answers are dropped */
    bool slots_full;  /* at NET_MAX_SLOTS (logged once until it is not) */
    size_t deferred;  /* deferred requests holding later ones, not yet answered: no frame is delivered meanwhile */

    uint64_t requests, bytes_in, bytes_out, reads;
};

/* A detached request's place in its connection's response order. owner:
 * the loop thread. Holds the connection reference its request held. */
struct net_slot {
    net_conn_t *conn;
    net_slot_t *next;
    bool answered;
    bool close;       /* answered with net_slot_close */
    net_response_t r; /* the answer, once answered */
    net_turn_fn start; /* a deferred request (net_defer), started at the head */
    void *start_arg;
    bool started;
    bool holds_later;  /* a deferred request no later frame may overtake */
};

/* A network loop: an evloop (thread, event_base, task queue, timers) with
 * the connections it serves on top. */
struct net_loop {
    net_t *net;                 /* immutable after net_new */
    size_t index;               /* immutable after net_new */
    evloop_t *ev;               /* immutable after net_new; thread-safe calls only off the loop */
    bool started;               /* owner: the net_start / net_stop caller's thread */

    pthread_mutex_t stats_mu;
    net_loop_stats_t stats;     /* under: stats_mu (net_loop_stats reads it from any thread) */

    net_conn_t *conns;          /* owner: loop thread */
    uint64_t nopen;             /* owner: loop thread; OPEN and CLOSING connections */
    bool draining;              /* owner: loop thread; shutting down */
    evloop_timer_t *deadline;   /* owner: loop thread; the shutdown deadline, while draining */
};

typedef struct net_listener {
    net_t *net;
    size_t index;
    int fd;
    int port;
    char *name;
    struct event *ev;
} net_listener_t;

struct net {
    net_config_t cfg; /* listeners points at `listeners` below */
    net_listener_t *listeners;
    net_listen_t *listen_cfg;
    net_loop_t *loops;
    size_t nloops;

    /* acceptor: its own thread and base */
    struct event_base *acc_base;
    struct event *ev_stop, *ev_backoff;
    pthread_t acc_thread;
    size_t next_loop;
    uint64_t next_conn_id;
    int stop_pipe[2];

    bool started, acc_started, stopped; /* caller's thread (net_start / net_stop) */
};

/* A freshly accepted socket on its way to a loop. */
typedef struct net_accepted {
    net_loop_t *loop;
    int fd;
    size_t listener;
    uint64_t id;
    char peer[64];
} net_accepted_t;

static void conn_service(net_conn_t *c);
static void conn_schedule(net_conn_t *c);
static void conn_close_now(net_conn_t *c, const char *why);
static void conn_release_slots(net_conn_t *c);
static bool conn_start_turn(net_conn_t *c);
static void loop_check_drained(net_loop_t *loop);

/* --- small helpers ----------------------------------------------------------- */

static void loop_assert_thread(const net_loop_t *loop, const char *fn) {
    if (!evloop_in_loop(loop->ev)) {
        log_error(NET_COMPONENT, "%s called off loop %zu's thread", fn, loop->index);
        abort();
    }
}

static size_t out_len(const net_conn_t *c) { return c->out ? evbuffer_get_length(c->out) : 0; }

static struct timeval ms_to_tv(int64_t ms) {
    if (ms < 0)
        ms = 0;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t outlen) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, outlen, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, outlen, "[%s]:%d", host, port);
    } else {
        snprintf(out, outlen, "unknown");
    }
}

static void set_buffer_sizes(int fd, int sndbuf, int rcvbuf) {
    if (sndbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
}

/* --- responses --------------------------------------------------------------- */

void net_response_init(net_response_t *r) { memset(r, 0, sizeof *r); }

void net_response_free(net_response_t *r) {
    for (size_t i = 0; i < r->nsplices; i++)
        if (r->splices[i].fd >= 0)
            close(r->splices[i].fd);
    buf_free(&r->bytes);
    free(r->splices);
    net_response_init(r);
}

void net_response_add_owned_file(net_response_t *r, int fd, int64_t pos, size_t len) {
    if (r->nsplices == r->splices_cap) {
        r->splices_cap = r->splices_cap ? r->splices_cap * 2 : 4;
        r->splices = mem_realloc(r->splices, r->splices_cap * sizeof *r->splices);
    }
    r->splices[r->nsplices++] = (net_splice_t){.at = r->bytes.len, .fd = fd, .pos = pos, .len = len};
}

size_t net_response_size(const net_response_t *r) {
    size_t n = r->bytes.len;
    for (size_t i = 0; i < r->nsplices; i++)
        n += r->splices[i].len;
    return n;
}

static const char *const send_mode_names[] = {"sendfile", "mmap", "pread"};

int net_send_mode_parse(const char *name, net_send_mode_t *out) {
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(name, send_mode_names[i]) == 0) {
            *out = (net_send_mode_t)i;
            return 0;
        }
    }
    return -1;
}

const char *net_send_mode_name(net_send_mode_t mode) {
    return (unsigned)mode < 3 ? send_mode_names[mode] : "unknown";
}

/* The response bytes referenced (not copied) by several output chains: the
 * last chain written frees them. Loop thread only, so a plain counter. */
typedef struct shared_bytes {
    uint8_t *data;
    int refs;
} shared_bytes_t;

static void shared_bytes_unref(const void *data, size_t len, void *arg) {
    (void)data, (void)len;
    shared_bytes_t *sb = arg;
    if (--sb->refs == 0) {
        free(sb->data);
        free(sb);
    }
}

/* Copies into the output. Not evbuffer_add: after a file or reference chain
 * libevent 2.1's evbuffer_add allocates a new chain as large as that
 * chain's buffer_len — for a sendfile chain, the file offset plus length
 * (gigabytes for 4 bytes). reserve/commit sizes the new chain by len. */
static int out_copy(struct evbuffer *out, const void *data, size_t len) {
    if (len == 0)
        return 0;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)len, &v, 1) != 1 || v.iov_len < len)
        return -1;
    memcpy(v.iov_base, data, len);
    v.iov_len = len;
    return evbuffer_commit_space(out, &v, 1);
}

static int queue_bytes(net_conn_t *c, shared_bytes_t *sb, size_t from, size_t to) {
    if (from == to)
        return 0;
    sb->refs++;
    if (evbuffer_add_reference(c->out, sb->data + from, to - from, shared_bytes_unref, sb) != 0) {
        sb->refs--;
        return -1;
    }
    return 0;
}

/* Reads a file range into the output in pieces below malloc's mmap
 * threshold, so that their memory is recycled instead of being mapped (and
 * faulted in) afresh for every large range. */
static int queue_file_pread(net_conn_t *c, const net_splice_t *s) {
    size_t done = 0;
    while (done < s->len) {
        size_t want = s->len - done < NET_PREAD_PIECE ? s->len - done : NET_PREAD_PIECE;
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(c->out, (ev_ssize_t)want, &v, 1) != 1 || v.iov_len < want)
            return -1;
        size_t got = 0;
        while (got < want) {
            ssize_t n = pread(s->fd, (uint8_t *)v.iov_base + got, want - got, s->pos + (off_t)(done + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    errno = ENODATA; /* the range ends past the end of the file */
                return -1;
            }
            got += (size_t)n;
        }
        v.iov_len = want;
        if (evbuffer_commit_space(c->out, &v, 1) != 0)
            return -1;
        done += want;
    }
    return 0;
}

/* Queues one file range by the configured mode. SENDFILE queues the
 * range's own fd, which the output then owns (it closes it once the range
 * is written or the connection closes), so s->fd becomes -1; MMAP and PREAD
 * map or copy the range now and leave s->fd to net_response_free, which
 * closes it at the end of net_respond. On failure s->fd is still the
 * response's. */
static int queue_file(net_conn_t *c, net_splice_t *s) {
    if (s->len == 0)
        return 0;
    if (s->pos < 0) {
        errno = EINVAL;
        return -1;
    }
    net_send_mode_t mode = c->loop->net->cfg.send_mode;
    if (mode == NET_SEND_PREAD || (mode == NET_SEND_MMAP && s->len < NET_MMAP_MIN))
        return queue_file_pread(c, s);
    unsigned flags = EVBUF_FS_DISABLE_LOCKING;
    if (mode == NET_SEND_SENDFILE)
        flags |= EVBUF_FS_CLOSE_ON_FREE;
    else
        flags |= EVBUF_FS_DISABLE_SENDFILE; /* mapped now: the fd is not kept */
    struct evbuffer_file_segment *seg = evbuffer_file_segment_new(s->fd, s->pos, (ev_off_t)s->len, flags);
    if (!seg)
        return -1;
    if (mode == NET_SEND_SENDFILE)
        s->fd = -1; /* the segment closes it when freed */
    /* The output takes a reference of its own on success and none on
     * failure (libevent 2.1), so ours is dropped either way. */
    int rc = evbuffer_add_file_segment(c->out, seg, 0, (ev_off_t)s->len);
    evbuffer_file_segment_free(seg);
    return rc;
}

static bool response_valid(const net_response_t *r) {
    size_t at = 0, total = r->bytes.len;
    for (size_t i = 0; i < r->nsplices; i++) {
        if (r->splices[i].at < at || r->splices[i].at > r->bytes.len)
            return false;
        at = r->splices[i].at;
        if (r->splices[i].len > (size_t)INT32_MAX)
            return false;
        total += r->splices[i].len;
    }
    return total <= (size_t)INT32_MAX;
}

/* Appends the size prefix, the bytes and the ranges to the output. Small
 * responses are copied (cheaper than a reference); large ones are
 * referenced. -1 leaves a partial frame behind: the caller must close. */
static int queue_response(net_conn_t *c, net_response_t *r) {
    uint8_t prefix[4];
    be32_store(prefix, (uint32_t)net_response_size(r));
    if (out_copy(c->out, prefix, 4) != 0)
        return -1;
    if (r->bytes.len <= NET_COPY_MAX) {
        /* An empty response has no buffer: never form NULL + offset. */
        static const uint8_t none[1];
        const uint8_t *bytes = r->bytes.data ? r->bytes.data : none;
        size_t from = 0;
        for (size_t i = 0; i < r->nsplices; i++) {
            if (out_copy(c->out, bytes + from, r->splices[i].at - from) != 0 ||
                queue_file(c, &r->splices[i]) != 0)
                return -1;
            from = r->splices[i].at;
        }
        return out_copy(c->out, bytes + from, r->bytes.len - from);
    }
    size_t total = r->bytes.len;
    shared_bytes_t *sb = mem_alloc(sizeof *sb);
    sb->refs = 1; /* ours, dropped below */
    sb->data = buf_release(&r->bytes, NULL);
    int rc = 0;
    size_t from = 0;
    for (size_t i = 0; i < r->nsplices && rc == 0; i++) {
        rc = queue_bytes(c, sb, from, r->splices[i].at);
        if (rc == 0)
            rc = queue_file(c, &r->splices[i]);
        from = r->splices[i].at;
    }
    if (rc == 0)
        rc = queue_bytes(c, sb, from, total);
    shared_bytes_unref(NULL, 0, sb);
    return rc;
}

/* --- connection lifetime ------------------------------------------------------ */

static void conn_ref(net_conn_t *c) { c->refs++; }

/* Frees the struct; the socket and its events are gone already (or, from
 * net_free, are torn down here). */
static void conn_free(net_conn_t *c) {
    net_loop_t *loop = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        loop->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->out)
        evbuffer_free(c->out);
    free(c->in);
    free(c->held);
    free(c);
}

static void conn_unref(net_conn_t *c) {
    if (--c->refs == 0)
        conn_free(c);
}

static void event_free_clear(struct event **ev) {
    if (*ev) {
        event_free(*ev);
        *ev = NULL;
    }
}

/* Closes the socket now, dropping unwritten output and unread input (but not
 * the frame in flight, which its request still references). Tells the
 * handler, then drops the connection's own reference. */
static void conn_close_now(net_conn_t *c, const char *why) {
    if (c->state == CONN_CLOSED)
        return;
    net_loop_t *loop = c->loop;
    log_debug(NET_COMPONENT, "conn %" PRIu64 " %s: closing: %s", c->id, c->peer, why);
    conn_ref(c);
    c->state = CONN_CLOSED;
    event_free_clear(&c->ev_read);
    event_free_clear(&c->ev_write);
    event_free_clear(&c->ev_service);
    event_free_clear(&c->ev_idle);
    c->reading = c->writing = false;
    close(c->fd);
    c->fd = -1;
    evbuffer_free(c->out); /* releases file segments and referenced bytes */
    c->out = NULL;
    pthread_mutex_lock(&loop->stats_mu);
    loop->stats.closed++;
    loop->stats.open--;
    pthread_mutex_unlock(&loop->stats_mu);
    loop->nopen--;
    if (loop->net->cfg.on_close)
        loop->net->cfg.on_close(loop->net->cfg.ctx, c);
    conn_release_slots(c); /* a deferred request at the head is dropped */
    conn_unref(c); /* the open connection's reference */
    conn_unref(c);
    loop_check_drained(loop);
}

/* Stops reading and delivering; the socket closes when the queued output is
 * written, or after NET_CLOSE_LINGER_MS. Kafka would have written every
 * earlier response before reading the request that led here. */
static void conn_begin_close(net_conn_t *c) {
    if (c->state != CONN_OPEN)
        return;
    c->state = CONN_CLOSING;
    struct timeval tv = ms_to_tv(NET_CLOSE_LINGER_MS);
    event_add(c->ev_idle, &tv);
    conn_release_slots(c); /* a deferred request at the head is dropped; schedules */
}

/* --- input ------------------------------------------------------------------- */

/* The input left after the frame in flight when that frame is still in
 * `in`, else everything unprocessed. */
static size_t input_read_ahead(const net_conn_t *c) {
    size_t unprocessed = c->in_len - c->in_off;
    if (c->in_flight && !c->held)
        return unprocessed - c->frame_total;
    return unprocessed;
}

static bool conn_wants_read(const net_conn_t *c) {
    size_t bound = c->loop->net->cfg.buffer_bound;
    if (c->state != CONN_OPEN || c->loop->draining || out_len(c) > bound)
        return false;
    return !c->in_flight || input_read_ahead(c) < bound;
}

/* Moves the bytes read ahead of the frame in flight to a new buffer and
 * keeps the old one as `held`: the frame must not move while the handler
 * may hold it. Happens at most once per request. */
static void input_split(net_conn_t *c) {
    size_t start = c->in_off + c->frame_total, ahead = c->in_len - start;
    size_t cap = ahead + NET_READ_CHUNK;
    uint8_t *nb = mem_alloc(cap);
    memcpy(nb, c->in + start, ahead);
    c->held = c->in;
    c->in = nb;
    c->in_off = 0;
    c->in_len = ahead;
    c->in_cap = cap;
}

/* Makes room for the next read and returns how much fits. The head frame
 * gets room for all of it (its size was checked against
 * socket.request.max.bytes) so that a large request is read with large
 * reads into one contiguous block — but the room at most doubles per read,
 * so that a peer announcing 100 MB and sending nothing costs nothing. */
static size_t input_room(net_conn_t *c) {
    if (c->in_flight && !c->held) {
        if (c->in_cap > c->in_len)
            return c->in_cap - c->in_len;
        input_split(c);
    }
    size_t unprocessed = c->in_len - c->in_off;
    size_t want = unprocessed + NET_READ_CHUNK;
    if (!c->in_flight && unprocessed >= 4) {
        int32_t size = (int32_t)be32_load(c->in + c->in_off);
        size_t frame = 4 + (size_t)(size < 0 ? 0 : size);
        if (size <= c->loop->net->cfg.socket_request_max_bytes && frame > want) {
            size_t doubled = 2 * unprocessed > want ? 2 * unprocessed : want;
            /* Woken at SO_RCVLOWAT: that much is there already. */
            if (doubled < unprocessed + (size_t)c->rcvlowat)
                doubled = unprocessed + (size_t)c->rcvlowat;
            want = frame < doubled ? frame : doubled;
        }
    }
    if (c->in_cap - c->in_off < want && c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, unprocessed);
        c->in_off = 0;
        c->in_len = unprocessed;
    }
    if (c->in_cap < want) {
        c->in = mem_realloc(c->in, want);
        c->in_cap = want;
    }
    return c->in_cap - c->in_len;
}

/* What the socket should hold before the loop wakes to read (SO_RCVLOWAT):
 * the rest of a large head frame, up to NET_RCVLOWAT_MAX and to half a
 * configured receive buffer (a full buffer must still wake us); 1 while a
 * request is in flight (read-ahead takes what comes) or when the head frame
 * is small, unknown or about to be refused. */
static int input_wake_bytes(const net_conn_t *c) {
    const net_config_t *cfg = &c->loop->net->cfg;
    size_t unprocessed = c->in_len - c->in_off;
    if (c->in_flight || unprocessed < 4)
        return 1;
    int32_t size = (int32_t)be32_load(c->in + c->in_off);
    if (size < 0 || size > cfg->socket_request_max_bytes || 4 + (size_t)size <= unprocessed + NET_READ_CHUNK)
        return 1;
    size_t rest = 4 + (size_t)size - unprocessed, cap = NET_RCVLOWAT_MAX;
    if (cfg->socket_receive_buffer_bytes > 0 && (size_t)cfg->socket_receive_buffer_bytes / 2 < cap)
        cap = (size_t)cfg->socket_receive_buffer_bytes / 2;
    rest = rest < cap ? rest : cap;
    return rest > 1 ? (int)rest : 1;
}

static void conn_set_wake_bytes(net_conn_t *c) {
    int want = input_wake_bytes(c);
    if (want == c->rcvlowat)
        return;
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0)
        c->rcvlowat = want;
    else if (c->rcvlowat != 1 && setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &(int){1}, sizeof(int)) == 0)
        c->rcvlowat = 1;
}

/* Drops the answered frame from the input. */
static void input_consume_frame(net_conn_t *c) {
    if (c->held) {
        free(c->held);
        c->held = NULL;
    } else {
        c->in_off += c->frame_total;
    }
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        if (c->in_cap > NET_INPUT_KEEP) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    net_conn_t *c = arg;
    conn_ref(c);
    size_t room = conn_wants_read(c) ? input_room(c) : 0;
    if (room > 0) {
        ssize_t n = read(fd, c->in + c->in_len, room);
        c->reads++;
        if (n > 0) {
            c->in_len += (size_t)n;
            c->bytes_in += (uint64_t)n;
            c->last_active_ms = clock_mono_ms();
        } else if (n == 0) {
            conn_close_now(c, "peer closed the connection");
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close_now(c, strerror(errno));
        }
    }
    conn_service(c);
    conn_unref(c);
}

/* --- frames ------------------------------------------------------------------ */

/* Delivers the head frame if it is complete and the connection may take
 * it. false when nothing (more) can be delivered now. */
static bool conn_deliver_one(net_conn_t *c) {
    net_t *net = c->loop->net;
    if (c->nslots >= NET_MAX_SLOTS && !c->slots_full) {
        c->slots_full = true;
        log_warn(NET_COMPONENT, "conn %" PRIu64 " %s: %zu requests wait for their answers: taking no more until one "
                 "is answered", c->id, c->peer, c->nslots);
    } else if (c->nslots < NET_MAX_SLOTS && c->slots_full) {
        c->slots_full = false;
        log_info(NET_COMPONENT, "conn %" PRIu64 " %s: taking requests again", c->id, c->peer);
    }
    if (c->state != CONN_OPEN || c->in_flight || c->deferred > 0 || c->loop->draining ||
        out_len(c) > net->cfg.buffer_bound || c->nslots >= NET_MAX_SLOTS)
        return false;
    size_t avail = c->in_len - c->in_off;
    if (avail < 4)
        return false;
    int32_t size = (int32_t)be32_load(c->in + c->in_off);
    if (size < 0 || size > net->cfg.socket_request_max_bytes) {
        if (size < 0)
            log_warn(NET_COMPONENT, "conn %" PRIu64 " %s: closing: negative request size %" PRId32, c->id, c->peer,
                     size);
        else
            log_warn(NET_COMPONENT,
                     "conn %" PRIu64 " %s: closing: request size %" PRId32 " exceeds socket.request.max.bytes %" PRId32,
                     c->id, c->peer, size, net->cfg.socket_request_max_bytes);
        conn_begin_close(c);
        return false;
    }
    if (avail - 4 < (size_t)size)
        return false;
    c->in_flight = true;
    c->frame_total = 4 + (size_t)size;
    c->requests++;
    conn_ref(c); /* the request's, until answered */
    net->cfg.on_request(net->cfg.ctx, c, c->in + c->in_off + 4, (size_t)size);
    return true;
}

/* --- output ------------------------------------------------------------------ */

static void set_event(struct event *ev, bool *on, bool want) {
    if (want && !*on)
        event_add(ev, NULL);
    else if (!want && *on)
        event_del(ev);
    *on = want;
}

/* Writes what the socket takes now. A sendfile() that makes no progress on a
 * writable socket means the file range ended early (truncated segment): the
 * stream cannot continue, so the connection closes. */
static void conn_flush(net_conn_t *c) {
    for (int i = 0; i < NET_WRITES_PER_FLUSH && out_len(c) > 0; i++) {
        errno = 0;
        int n = evbuffer_write(c->out, c->fd);
        if (n > 0) {
            c->bytes_out += (uint64_t)n;
            c->last_active_ms = clock_mono_ms();
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            break;
        if (n == 0) {
            log_warn(NET_COMPONENT, "conn %" PRIu64 " %s: closing: a file range of a response ended early",
                     c->id, c->peer);
            conn_close_now(c, "file range ended early");
        } else {
            conn_close_now(c, strerror(errno));
        }
        return;
    }
    set_event(c->ev_write, &c->writing, out_len(c) > 0);
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    net_conn_t *c = arg;
    conn_ref(c);
    conn_service(c);
    conn_unref(c);
}

/* --- the connection's state machine ------------------------------------------ */

/* Everything a connection does after an event: deliver the frames it may,
 * write, finish a close, and read only when it may. Runs from events only
 * (never from inside the caller's net_respond), so the handler is never
 * re-entered from its own calls. */
static void conn_service(net_conn_t *c) {
    if (c->state == CONN_CLOSED)
        return;
    conn_ref(c);
    size_t bound = c->loop->net->cfg.buffer_bound;
    for (;;) {
        c->in_service = true;
        while (conn_start_turn(c) || conn_deliver_one(c))
            ;
        c->in_service = false;
        if (c->state == CONN_CLOSED)
            break;
        size_t before = out_len(c);
        conn_flush(c);
        /* Again if writing lifted the back-pressure that held frames back:
         * no other event may come for frames already read. */
        if (c->state == CONN_CLOSED || before <= bound || out_len(c) > bound)
            break;
    }
    if (c->state != CONN_CLOSED && !c->in_flight && !c->slots_head && out_len(c) == 0 &&
        (c->state == CONN_CLOSING || c->loop->draining))
        conn_close_now(c, c->state == CONN_CLOSING ? "closed by the broker" : "shutting down");
    if (c->state != CONN_CLOSED) {
        conn_set_wake_bytes(c);
        set_event(c->ev_read, &c->reading, conn_wants_read(c));
    }
    conn_unref(c);
}

static void conn_on_service(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    conn_service(arg);
}

/* Runs conn_service after the current callback, unless it is on the stack
 * already (its loop picks the change up). */
static void conn_schedule(net_conn_t *c) {
    if (!c->in_service && c->state != CONN_CLOSED)
        event_active(c->ev_service, EV_TIMEOUT, 0);
}

/* Kafka's connections.max.idle.ms, and the linger bound of a closing
 * connection. One timer per connection, re-armed lazily: activity only
 * stores a timestamp. */
static void conn_on_idle(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    net_conn_t *c = arg;
    if (c->state == CONN_CLOSING) {
        conn_close_now(c, "queued responses not written in time");
        return;
    }
    int64_t idle_ms = c->loop->net->cfg.connections_max_idle_ms;
    int64_t quiet = clock_mono_ms() - c->last_active_ms;
    if (quiet >= idle_ms) {
        log_debug(NET_COMPONENT, "conn %" PRIu64 " %s: idle for %" PRId64 " ms", c->id, c->peer, quiet);
        conn_close_now(c, "idle");
        return;
    }
    struct timeval tv = ms_to_tv(idle_ms - quiet);
    event_add(c->ev_idle, &tv);
}

/* --- answering --------------------------------------------------------------- */

/* Ends the request in flight; false (with a log line) if there is none,
 * which is a handler bug that must not corrupt the stream. */
static bool conn_end_request(net_conn_t *c, const char *fn) {
    loop_assert_thread(c->loop, fn);
    if (!c->in_flight) {
        log_error(NET_COMPONENT, "conn %" PRIu64 " %s: %s without a request in flight", c->id, c->peer, fn);
        return false;
    }
    c->in_flight = false;
    input_consume_frame(c);
    return true;
}

/* Queues r on the output (an open or closing connection; a closed one, or
 * one cut by a detached request's close, drops it) and frees what is left
 * of it. */
static void conn_queue_answer(net_conn_t *c, net_response_t *r) {
    if ((c->state == CONN_OPEN || c->state == CONN_CLOSING) && !c->answers_cut) {
        if (!response_valid(r)) {
            log_error(NET_COMPONENT, "conn %" PRIu64 " %s: malformed response (splices out of order or > 2 GiB)",
                      c->id, c->peer);
            conn_close_now(c, "malformed response");
        } else if (queue_response(c, r) != 0) {
            log_warn(NET_COMPONENT, "conn %" PRIu64 " %s: cannot queue a response: %s", c->id, c->peer,
                     strerror(errno));
            conn_close_now(c, "response not queued");
        } else {
            conn_schedule(c);
        }
    }
    net_response_free(r);
}

/* A new slot at the tail of the connection's order, taking over the
 * reference of the request just ended. */
static net_slot_t *conn_add_slot(net_conn_t *c) {
    net_slot_t *s = mem_calloc(1, sizeof *s);
    s->conn = c;
    net_response_init(&s->r);
    if (c->slots_tail)
        c->slots_tail->next = s;
    else
        c->slots_head = s;
    c->slots_tail = s;
    c->nslots++;
    return s;
}

static void slot_answer(net_slot_t *s, net_response_t *r, bool close, const char *fn);

/* Writes (or, on a closed connection, drops) the answered slots at the head
 * of the order, up to the first unanswered one. */
static void conn_release_slots(net_conn_t *c) {
    conn_ref(c);
    while (c->slots_head) {
        net_slot_t *s = c->slots_head;
        if (!s->answered && s->start && !s->started && c->state != CONN_OPEN) {
            /* A deferred request of a closing connection is dropped, as
             * Kafka drops what it read ahead: its owner frees it. */
            s->started = s->answered = true;
            c->deferred -= s->holds_later;
            s->start(s->start_arg, NULL);
        }
        if (!s->answered)
            break;
        c->slots_head = s->next;
        if (!c->slots_head)
            c->slots_tail = NULL;
        c->nslots--;
        if (s->close) {
            /* What was answered before goes out; nothing after. */
            c->answers_cut = true;
            conn_begin_close(c);
        } else {
            conn_queue_answer(c, &s->r);
        }
        net_response_free(&s->r);
        free(s);
        conn_unref(c); /* the slot's (its request's) reference */
    }
    conn_schedule(c); /* a slot freed may let a frame be delivered */
    conn_unref(c);
}

void net_respond(net_conn_t *c, net_response_t *r) {
    if (!conn_end_request(c, "net_respond")) {
        net_response_free(r);
        return;
    }
    if (c->slots_head) { /* earlier responses still wait: take a place behind them */
        slot_answer(conn_add_slot(c), r, false, "net_respond");
        return;
    }
    conn_queue_answer(c, r);
    conn_unref(c);
}

net_slot_t *net_detach(net_conn_t *c) {
    if (!conn_end_request(c, "net_detach"))
        return NULL;
    net_slot_t *s = conn_add_slot(c);
    conn_schedule(c); /* the next frame may be delivered now */
    return s;
}

bool net_defer(net_conn_t *c, net_turn_fn start, void *arg, bool holds_later) {
    if (!conn_end_request(c, "net_defer"))
        return false;
    net_slot_t *s = conn_add_slot(c);
    s->start = start;
    s->start_arg = arg;
    s->holds_later = holds_later;
    c->deferred += holds_later;
    conn_release_slots(c); /* at the head already (a closing connection: dropped), or later */
    return true;
}

bool net_conn_awaits_answers(const net_conn_t *c) { return c->slots_head != NULL; }

/* Starts the deferred request at the head of the order: every request
 * before it is answered. It may answer before this returns. */
static bool conn_start_turn(net_conn_t *c) {
    net_slot_t *s = c->slots_head;
    if (!s || !s->start || s->started || c->state != CONN_OPEN)
        return false;
    s->started = true;
    s->start(s->start_arg, s);
    return true;
}

/* Records a slot's answer and writes what can be written. The "answered
 * already" check catches a second answer only while the slot still waits
 * behind an earlier one: a released slot is freed. */
static void slot_answer(net_slot_t *s, net_response_t *r, bool close, const char *fn) {
    net_conn_t *c = s->conn;
    loop_assert_thread(c->loop, fn);
    if (s->answered) {
        log_error(NET_COMPONENT, "conn %" PRIu64 " %s: %s on a request answered already", c->id, c->peer, fn);
        if (r)
            net_response_free(r);
        return;
    }
    s->answered = true;
    s->close = close;
    c->deferred -= s->holds_later; /* frames may be delivered again */
    if (r) {
        s->r = *r;
        net_response_init(r);
    }
    conn_release_slots(c);
}

void net_slot_respond(net_slot_t *s, net_response_t *r) { slot_answer(s, r, false, "net_slot_respond"); }

void net_slot_close(net_slot_t *s) { slot_answer(s, NULL, true, "net_slot_close"); }


void net_respond_bytes(net_conn_t *c, const void *data, size_t len) {
    net_response_t r;
    net_response_init(&r);
    buf_append(&r.bytes, data, len);
    net_respond(c, &r);
}

void net_respond_none(net_conn_t *c) {
    if (!conn_end_request(c, "net_respond_none"))
        return;
    conn_schedule(c);
    conn_unref(c);
}

void net_close(net_conn_t *c) {
    loop_assert_thread(c->loop, "net_close");
    bool answered = c->in_flight && conn_end_request(c, "net_close");
    if (c->state == CONN_OPEN) {
        c->in_off = c->in_len = 0; /* requests read ahead are dropped */
        conn_begin_close(c);
    }
    if (answered)
        conn_unref(c);
}

/* --- connection accessors ---------------------------------------------------- */

evloop_t *net_conn_evloop(const net_conn_t *c) { return c->loop->ev; }
uint64_t net_conn_id(const net_conn_t *c) { return c->id; }
const char *net_conn_peer(const net_conn_t *c) { return c->peer; }
size_t net_conn_listener(const net_conn_t *c) { return c->listener; }
bool net_conn_is_open(const net_conn_t *c) { return c->state == CONN_OPEN; }
bool net_conn_in_flight(const net_conn_t *c) { return c->in_flight; }
void net_conn_set_user(net_conn_t *c, void *user) { c->user = user; }
void *net_conn_user(const net_conn_t *c) { return c->user; }

const char *net_conn_listener_name(const net_conn_t *c) {
    const char *name = c->loop->net->listeners[c->listener].name;
    return name ? name : "";
}

void net_conn_hold(net_conn_t *c) {
    loop_assert_thread(c->loop, "net_conn_hold");
    conn_ref(c);
}

void net_conn_release(net_conn_t *c) {
    loop_assert_thread(c->loop, "net_conn_release");
    conn_unref(c);
}

void net_conn_stats(const net_conn_t *c, net_conn_stats_t *out) {
    out->requests = c->requests;
    out->bytes_in = c->bytes_in;
    out->bytes_out = c->bytes_out;
    out->reads = c->reads;
    out->queued_out = out_len(c);
}

/* Creates the connection for an accepted socket, on its loop's thread. */
static void conn_open(net_loop_t *loop, net_accepted_t *a) {
    net_conn_t *c = mem_calloc(1, sizeof *c);
    c->loop = loop;
    c->id = a->id;
    c->fd = a->fd;
    c->listener = a->listener;
    memcpy(c->peer, a->peer, sizeof c->peer);
    c->state = CONN_OPEN;
    c->refs = 1;
    c->rcvlowat = 1;
    c->last_active_ms = clock_mono_ms();
    c->out = evbuffer_new();
    evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD); /* lets file segments use sendfile */
    struct event_base *base = evloop_base(loop->ev);
    c->ev_read = event_new(base, c->fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(base, c->fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    c->ev_service = event_new(base, -1, 0, conn_on_service, c);
    c->ev_idle = evtimer_new(base, conn_on_idle, c);
    if (!c->out || !c->ev_read || !c->ev_write || !c->ev_service || !c->ev_idle) {
        log_error(NET_COMPONENT, "out of memory creating a connection");
        abort();
    }
    c->next = loop->conns;
    if (loop->conns)
        loop->conns->prev = c;
    loop->conns = c;
    loop->nopen++;
    pthread_mutex_lock(&loop->stats_mu);
    loop->stats.accepted++;
    loop->stats.open++;
    pthread_mutex_unlock(&loop->stats_mu);
    int64_t idle_ms = loop->net->cfg.connections_max_idle_ms;
    if (idle_ms > 0) {
        struct timeval tv = ms_to_tv(idle_ms);
        event_add(c->ev_idle, &tv);
    }
    log_debug(NET_COMPONENT, "conn %" PRIu64 " %s: accepted on loop %zu", c->id, c->peer, loop->index);
    set_event(c->ev_read, &c->reading, true);
}

/* The acceptor's hand-over, run on the chosen loop. */
static void conn_open_task(void *arg) {
    net_accepted_t *a = arg;
    if (a->loop->draining)
        close(a->fd);
    else
        conn_open(a->loop, a);
    free(a);
}

/* --- loops: stats, draining ------------------------------------------------- */

size_t net_loop_count(const net_t *net) { return net->nloops; }
net_loop_t *net_loop(net_t *net, size_t i) { return i < net->nloops ? &net->loops[i] : NULL; }
size_t net_loop_index(const net_loop_t *loop) { return loop->index; }

void net_loop_stats(net_loop_t *loop, net_loop_stats_t *out) {
    pthread_mutex_lock(&loop->stats_mu);
    *out = loop->stats;
    pthread_mutex_unlock(&loop->stats_mu);
}

/* Calls fn for every open connection, each held so that closing one (or the
 * handler reacting to a close) cannot free what is still to be visited. */
static void loop_for_each_open(net_loop_t *loop, void (*fn)(net_conn_t *)) {
    size_t n = 0, i = 0;
    for (net_conn_t *c = loop->conns; c; c = c->next)
        n += c->state != CONN_CLOSED;
    net_conn_t **v = mem_alloc(n * sizeof *v);
    for (net_conn_t *c = loop->conns; c; c = c->next) {
        if (c->state != CONN_CLOSED) {
            conn_ref(c);
            v[i++] = c;
        }
    }
    for (i = 0; i < n; i++) {
        fn(v[i]);
        conn_unref(v[i]);
    }
    free(v);
}

static void conn_close_shutdown(net_conn_t *c) { conn_close_now(c, "shut down"); }

/* The loop ends with no connection open; evloop then fires the timers
 * still pending (a long-poll fetch whose client left answers now, into its
 * closed connection, instead of holding its request forever) and runs the
 * tasks queued (answers from the admin worker: dropped, their requests
 * freed; hand-overs from the acceptor: conn_open_task closes them). */
static void loop_check_drained(net_loop_t *loop) {
    if (loop->draining && loop->nopen == 0)
        evloop_break(loop->ev);
}

static void loop_on_deadline(void *arg) {
    net_loop_t *loop = arg;
    if (loop->nopen > 0)
        log_warn(NET_COMPONENT, "loop %zu: closing %" PRIu64 " connection(s) with requests unanswered after %" PRId64
                 " ms", loop->index, loop->nopen, loop->net->cfg.shutdown_timeout_ms);
    loop_for_each_open(loop, conn_close_shutdown);
    evloop_break(loop->ev);
}

/* Shutdown, on the loop's thread: connections stop reading; idle ones close
 * now, the others once their request is answered and written (conn_service
 * checks `draining`), or at the deadline. The loop ends when none is open. */
static void loop_drain_task(void *arg) {
    net_loop_t *loop = arg;
    if (loop->draining)
        return;
    loop->draining = true;
    loop->deadline = evloop_timer_new(loop->ev, loop_on_deadline, loop);
    evloop_timer_arm(loop->deadline, loop->net->cfg.shutdown_timeout_ms);
    loop_for_each_open(loop, conn_service);
    loop_check_drained(loop);
}

/* --- acceptor ---------------------------------------------------------------- */

static void acc_set_listening(net_t *net, bool on) {
    for (size_t i = 0; i < net->cfg.nlisteners; i++) {
        if (!net->listeners[i].ev)
            continue;
        if (on)
            event_add(net->listeners[i].ev, NULL);
        else
            event_del(net->listeners[i].ev);
    }
}

static void acc_on_backoff(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    acc_set_listening(arg, true);
}

static void acc_configure(const net_t *net, int fd) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    set_buffer_sizes(fd, net->cfg.socket_send_buffer_bytes, net->cfg.socket_receive_buffer_bytes);
}

/* Hands the socket to the next loop, round robin (Kafka's Acceptor). */
static void acc_hand_over(net_t *net, size_t listener, int fd, const struct sockaddr *peer) {
    net_accepted_t *a = mem_alloc(sizeof *a);
    a->loop = &net->loops[net->next_loop];
    net->next_loop = (net->next_loop + 1) % net->nloops;
    a->fd = fd;
    a->listener = listener;
    a->id = ++net->next_conn_id;
    format_addr(peer, a->peer, sizeof a->peer);
    if (evloop_run(a->loop->ev, conn_open_task, a) != 0) {
        close(fd);
        free(a);
    }
}

/* Accepts what is pending (up to a batch, to stay fair to the other
 * listeners). Out of descriptors or memory, the listeners pause briefly
 * instead of spinning on a socket that stays readable. */
static void acc_on_accept(evutil_socket_t lfd, short what, void *arg) {
    (void)what;
    net_listener_t *l = arg;
    net_t *net = l->net;
    for (int i = 0; i < NET_ACCEPTS_PER_WAKE; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            acc_configure(net, fd);
            acc_hand_over(net, l->index, fd, (struct sockaddr *)&ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        log_warn(NET_COMPONENT, "accept on port %d: %s; pausing accepts for %d ms", l->port, strerror(errno),
                 NET_ACCEPT_BACKOFF_MS);
        acc_set_listening(net, false);
        struct timeval tv = ms_to_tv(NET_ACCEPT_BACKOFF_MS);
        evtimer_add(net->ev_backoff, &tv);
        return;
    }
}

/* The self-pipe became readable: stop accepting (closing the listening
 * sockets, so connects are refused), tell every loop to drain, and end the
 * acceptor thread. */
static void acc_on_stop(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    net_t *net = arg;
    log_info(NET_COMPONENT, "shutting down: no longer accepting connections");
    for (size_t i = 0; i < net->cfg.nlisteners; i++) {
        net_listener_t *l = &net->listeners[i];
        event_free_clear(&l->ev);
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
    }
    evtimer_del(net->ev_backoff);
    for (size_t i = 0; i < net->nloops; i++)
        (void)evloop_run(net->loops[i].ev, loop_drain_task, &net->loops[i]);
    event_base_loopbreak(net->acc_base);
}

static void *acc_main(void *arg) {
    net_t *net = arg;
    event_base_loop(net->acc_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* --- listeners ---------------------------------------------------------------- */

/* One socket for one listener. An empty host binds every interface,
 * preferring a dual-stack IPv6 socket (as Java's wildcard address does). */
static int listener_bind(net_listener_t *l, const net_listen_t *lc, int rcvbuf, char *err, size_t errlen) {
    char host[256] = "", port[16];
    if (lc->host && *lc->host) {
        size_t n = strlen(lc->host);
        if (lc->host[0] == '[' && n >= 2 && lc->host[n - 1] == ']')
            snprintf(host, sizeof host, "%.*s", (int)(n - 2), lc->host + 1);
        else
            snprintf(host, sizeof host, "%s", lc->host);
    }
    if (lc->port < 0 || lc->port > 65535) {
        errmsg_set(err, errlen, "listener %s:%d: port out of range", host, lc->port);
        return -1;
    }
    snprintf(port, sizeof port, "%d", lc->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        errmsg_set(err, errlen, "listener %s:%d: %s", host, lc->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = EADDRNOTAVAIL;
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
            bool preferred = *host || ai->ai_family == AF_INET6;
            if ((pass == 0) != preferred)
                continue;
            fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                saved = errno;
                continue;
            }
            int one = 1, zero = 0;
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (ai->ai_family == AF_INET6)
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            set_buffer_sizes(fd, -1, rcvbuf);
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, NET_LISTEN_BACKLOG) != 0) {
                saved = errno;
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errmsg_set(err, errlen, "listener %s:%d: cannot listen: %s", host, lc->port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    l->fd = fd;
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* --- net ------------------------------------------------------------------------ */

void net_config_init(net_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->num_network_threads = 3;
    cfg->socket_request_max_bytes = 104857600;
    cfg->connections_max_idle_ms = 600000;
    cfg->socket_send_buffer_bytes = 102400;
    cfg->socket_receive_buffer_bytes = 102400;
    cfg->buffer_bound = 4 * 1024 * 1024;
    cfg->shutdown_timeout_ms = 5000;
    cfg->send_mode = NET_SEND_DEFAULT;
}

static int config_check(const net_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->on_request)
        errmsg_set(err, errlen, "net: no request handler");
    else if (cfg->nlisteners == 0 || !cfg->listeners)
        errmsg_set(err, errlen, "net: no listeners");
    else if (cfg->num_network_threads < 1)
        errmsg_set(err, errlen, "num.network.threads must be at least 1, not %d", cfg->num_network_threads);
    else if (cfg->socket_request_max_bytes < 1)
        errmsg_set(err, errlen, "socket.request.max.bytes must be at least 1, not %" PRId32,
                   cfg->socket_request_max_bytes);
    else if (cfg->buffer_bound < 1)
        errmsg_set(err, errlen, "net: the buffer bound must be at least 1 byte");
    else if ((unsigned)cfg->send_mode > NET_SEND_PREAD)
        errmsg_set(err, errlen, "net: unknown send mode %d", (int)cfg->send_mode);
    else
        return 0;
    return -1;
}

static int loop_init(net_t *net, net_loop_t *loop, size_t index, char *err, size_t errlen) {
    loop->net = net;
    loop->index = index;
    pthread_mutex_init(&loop->stats_mu, NULL);
    char name[32]; /* evloop keeps 15 characters */
    snprintf(name, sizeof name, "net-%zu", index);
    loop->ev = evloop_new(name, err, errlen);
    return loop->ev ? 0 : -1;
}

net_t *net_new(const net_config_t *cfg, char *err, size_t errlen) {
    if (config_check(cfg, err, errlen) != 0)
        return NULL;
    if (evthread_use_pthreads() != 0) {
        errmsg_set(err, errlen, "net: cannot enable libevent's pthreads support");
        return NULL;
    }
    net_t *net = mem_calloc(1, sizeof *net);
    net->cfg = *cfg;
    net->stop_pipe[0] = net->stop_pipe[1] = -1;
    net->listen_cfg = mem_calloc(cfg->nlisteners, sizeof *net->listen_cfg);
    net->listeners = mem_calloc(cfg->nlisteners, sizeof *net->listeners);
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        net->listen_cfg[i] = cfg->listeners[i];
        net->listen_cfg[i].host = NULL; /* used only while binding */
        net->listen_cfg[i].name = cfg->listeners[i].name ? mem_strdup(cfg->listeners[i].name) : NULL;
        net->listeners[i] = (net_listener_t){.net = net, .index = i, .fd = -1,
                                             .name = (char *)net->listen_cfg[i].name};
    }
    net->cfg.listeners = net->listen_cfg;
    net->nloops = (size_t)cfg->num_network_threads;
    net->loops = mem_calloc(net->nloops, sizeof *net->loops);
    for (size_t i = 0; i < net->nloops; i++) {
        if (loop_init(net, &net->loops[i], i, err, errlen) != 0)
            goto fail;
    }
    if (pipe2(net->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        errmsg_set(err, errlen, "net: pipe: %s", strerror(errno));
        goto fail;
    }
    net->acc_base = event_base_new();
    if (!net->acc_base) {
        errmsg_set(err, errlen, "net: cannot create the acceptor's event loop");
        goto fail;
    }
    net->ev_stop = event_new(net->acc_base, net->stop_pipe[0], EV_READ, acc_on_stop, net);
    net->ev_backoff = evtimer_new(net->acc_base, acc_on_backoff, net);
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        net_listener_t *l = &net->listeners[i];
        if (listener_bind(l, &cfg->listeners[i], cfg->socket_receive_buffer_bytes, err, errlen) != 0)
            goto fail;
        l->ev = event_new(net->acc_base, l->fd, EV_READ | EV_PERSIST, acc_on_accept, l);
    }
    return net;
fail:
    net_free(net);
    return NULL;
}

int net_start(net_t *net, char *err, size_t errlen) {
    if (net->started || net->stopped) {
        errmsg_set(err, errlen, "net: already started");
        return -1;
    }
    net->started = true;
    for (size_t i = 0; i < net->nloops; i++) {
        net_loop_t *loop = &net->loops[i];
        if (evloop_start(loop->ev, err, errlen) != 0)
            return -1; /* net_stop drains and joins the ones started */
        loop->started = true;
    }
    event_add(net->ev_stop, NULL);
    acc_set_listening(net, true);
    int rc = pthread_create(&net->acc_thread, NULL, acc_main, net);
    if (rc != 0) {
        errmsg_set(err, errlen, "net: cannot start the acceptor thread: %s", strerror(rc));
        return -1;
    }
    net->acc_started = true;
    for (size_t i = 0; i < net->cfg.nlisteners; i++)
        log_info(NET_COMPONENT, "listening on port %d%s%s (%zu network threads)", net->listeners[i].port,
                 net->listeners[i].name ? " for " : "", net->listeners[i].name ? net->listeners[i].name : "",
                 net->nloops);
    return 0;
}

size_t net_listener_count(const net_t *net) { return net->cfg.nlisteners; }

int net_listener_port(const net_t *net, size_t i) { return i < net->cfg.nlisteners ? net->listeners[i].port : -1; }

void net_shutdown(net_t *net) {
    int saved = errno; /* may run in a signal handler */
    if (net->stop_pipe[1] >= 0) {
        ssize_t n = write(net->stop_pipe[1], "x", 1);
        (void)n; /* a full pipe already holds a request */
    }
    errno = saved;
}

void net_stop(net_t *net) {
    if (!net || net->stopped)
        return;
    for (size_t i = 0; i < net->nloops; i++) {
        if (net->loops[i].started && evloop_in_loop(net->loops[i].ev)) {
            log_error(NET_COMPONENT, "net_stop called from network thread %zu: ignored", i);
            return;
        }
    }
    net->stopped = true;
    if (net->acc_started) {
        net_shutdown(net);
        pthread_join(net->acc_thread, NULL);
    } else {
        for (size_t i = 0; i < net->nloops; i++)
            if (net->loops[i].started)
                (void)evloop_run(net->loops[i].ev, loop_drain_task, &net->loops[i]);
    }
    for (size_t i = 0; i < net->nloops; i++)
        evloop_join(net->loops[i].ev); /* each ends itself once drained */
    if (net->started)
        log_info(NET_COMPONENT, "network stopped");
}

/* Frees a connection at net_free: after the loops ended, so nothing else
 * can hold it any more. */
static void conn_destroy(net_conn_t *c) {
    while (c->slots_head) { /* never answered: their owners are gone too */
        net_slot_t *s = c->slots_head;
        c->slots_head = s->next;
        if (s->start && !s->started)
            s->start(s->start_arg, NULL); /* never started: its owner's state is freed */
        net_response_free(&s->r);
        free(s);
    }
    event_free_clear(&c->ev_read);
    event_free_clear(&c->ev_write);
    event_free_clear(&c->ev_service);
    event_free_clear(&c->ev_idle);
    if (c->fd >= 0)
        close(c->fd);
    conn_free(c);
}

static void loop_destroy(net_loop_t *loop) {
    while (loop->conns)
        conn_destroy(loop->conns);
    evloop_timer_free(loop->deadline);
    /* A loop that ran has run every task queued; only the acceptor queues
     * hand-overs, and it starts after every loop did. */
    evloop_free(loop->ev);
    pthread_mutex_destroy(&loop->stats_mu);
}

void net_free(net_t *net) {
    if (!net)
        return;
    net_stop(net);
    for (size_t i = 0; i < net->nloops; i++)
        if (net->loops[i].net)
            loop_destroy(&net->loops[i]);
    for (size_t i = 0; i < net->cfg.nlisteners; i++) {
        event_free_clear(&net->listeners[i].ev);
        if (net->listeners[i].fd >= 0)
            close(net->listeners[i].fd);
        free(net->listeners[i].name);
    }
    event_free_clear(&net->ev_stop);
    event_free_clear(&net->ev_backoff);
    if (net->acc_base)
        event_base_free(net->acc_base);
    for (int i = 0; i < 2; i++)
        if (net->stop_pipe[i] >= 0)
            close(net->stop_pipe[i]);
    free(net->listeners);
    free(net->listen_cfg);
    free(net->loops);
    free(net);
}
