#include "kafka_conn.h"

#include "util/clock.h"
#include "util/endian.h"
#include "util/errmsg.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Larger answers are taken for garbage (a non-Kafka peer): the tools ask
 * small questions. */
#define KAFKA_CONN_MAX_FRAME (64 * 1024 * 1024)

struct kafka_conn {
    int fd; /* non-blocking; every wait is a poll with a deadline */
    char peer[300];
    int32_t next_correlation_id;
    buf_t response; /* the last answer's payload: what it decoded to points here */
};

/* Waits for events on fd until deadline (clock_mono_ms). 0, or -1 with
 * errno ETIMEDOUT. */
static int kafka_conn_wait(int fd, short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = {fd, events, 0};
        int n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* One address of getaddrinfo's list, connected before deadline: 0 or -1
 * (errno set). */
static int kafka_conn_try(const struct addrinfo *ai, int64_t deadline) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int soerr = errno;
        socklen_t len = sizeof soerr;
        if (soerr != EINPROGRESS || kafka_conn_wait(fd, POLLOUT, deadline) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            int saved = soerr == EINPROGRESS ? errno : soerr;
            close(fd);
            errno = saved;
            return -1;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

kafka_conn_t *kafka_conn_open(const char *host, int32_t port, int timeout_ms, char *err, size_t errlen) {
    char service[16];
    snprintf(service, sizeof service, "%d", (int)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        errmsg_set(err, errlen, "%s:%d: %s", host, (int)port, gai_strerror(rc));
        return NULL;
    }
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int fd = -1, last_errno = 0;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = kafka_conn_try(ai, deadline);
        last_errno = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errmsg_set(err, errlen, "%s:%d: %s", host, (int)port, strerror(last_errno));
        return NULL;
    }
    kafka_conn_t *c = mem_calloc(1, sizeof *c);
    c->fd = fd;
    c->next_correlation_id = 1;
    snprintf(c->peer, sizeof c->peer, "%s:%d", host, (int)port);
    buf_init(&c->response);
    return c;
}

void kafka_conn_close(kafka_conn_t *c) {
    if (!c)
        return;
    close(c->fd);
    buf_free(&c->response);
    free(c);
}

/* Writes all of data[0..len) before deadline. */
static kafka_conn_status_t kafka_conn_send_all(kafka_conn_t *c, const uint8_t *data, size_t len, int64_t deadline,
                                               char *err, size_t errlen) {
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && kafka_conn_wait(c->fd, POLLOUT, deadline) == 0)
            continue;
        int e = errno;
        errmsg_set(err, errlen, "%s: sending: %s", c->peer, strerror(e));
        return e == EPIPE || e == ECONNRESET ? KAFKA_CONN_CLOSED : KAFKA_CONN_ERROR;
    }
    return KAFKA_CONN_OK;
}

/* Reads exactly len bytes into out before deadline. A connection closed
 * before the first byte of an answer is KAFKA_CONN_CLOSED. */
static kafka_conn_status_t kafka_conn_recv_all(kafka_conn_t *c, uint8_t *out, size_t len, int64_t deadline,
                                               bool answer_started, char *err, size_t errlen) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(c->fd, out + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            errmsg_set(err, errlen, "%s closed the connection%s", c->peer,
                       answer_started || got ? " in the middle of an answer" : " without answering");
            return answer_started || got ? KAFKA_CONN_ERROR : KAFKA_CONN_CLOSED;
        }
        if (errno == EINTR)
            continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && kafka_conn_wait(c->fd, POLLIN, deadline) == 0)
            continue;
        errmsg_set(err, errlen, "%s: %s", c->peer, errno == ETIMEDOUT ? "no answer in time" : strerror(errno));
        return KAFKA_CONN_ERROR;
    }
    return KAFKA_CONN_OK;
}

kafka_conn_status_t kafka_conn_call(kafka_conn_t *c, int16_t api_key, int16_t version, const void *req,
                                    int timeout_ms, kp_arena_t *arena, void **resp, char *err, size_t errlen) {
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int32_t correlation_id = c->next_correlation_id++;
    kp_writer_t w;
    kp_writer_init(&w);
    char cerr[256];
    kp_status_t st = kp_request_encode(api_key, version, correlation_id, kp_str("samsa-tools"), req, &w, cerr,
                                       sizeof cerr);
    if (st != KP_OK) {
        errmsg_set(err, errlen, "cannot encode api %d v%d: %s", api_key, version, cerr);
        kp_writer_free(&w);
        return KAFKA_CONN_ERROR;
    }
    /* requests from the tools hold no file ranges: the buffer is the frame */
    kafka_conn_status_t cs = kafka_conn_send_all(c, w.buf.data, w.buf.len, deadline, err, errlen);
    kp_writer_free(&w);
    if (cs != KAFKA_CONN_OK)
        return cs;

    uint8_t size_be[4];
    cs = kafka_conn_recv_all(c, size_be, sizeof size_be, deadline, false, err, errlen);
    if (cs != KAFKA_CONN_OK)
        return cs;
    uint32_t size = be32_load(size_be);
    if (size < 4 || size > KAFKA_CONN_MAX_FRAME) {
        errmsg_set(err, errlen, "%s: an answer of %u bytes is not a Kafka response", c->peer, size);
        return KAFKA_CONN_ERROR;
    }
    buf_reset(&c->response);
    buf_reserve(&c->response, size);
    cs = kafka_conn_recv_all(c, c->response.data, size, deadline, true, err, errlen);
    if (cs != KAFKA_CONN_OK)
        return cs;
    c->response.len = size;

    int32_t got_id = 0;
    st = kp_response_decode(c->response.data, size, api_key, version, arena, &got_id, resp, cerr, sizeof cerr);
    if (st != KP_OK) {
        errmsg_set(err, errlen, "%s: cannot decode the answer to api %d v%d: %s", c->peer, api_key, version, cerr);
        return KAFKA_CONN_ERROR;
    }
    if (got_id != correlation_id) {
        errmsg_set(err, errlen, "%s: answer to request %d, expected %d", c->peer, got_id, correlation_id);
        return KAFKA_CONN_ERROR;
    }
    return KAFKA_CONN_OK;
}
