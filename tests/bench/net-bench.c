/*
 * net-bench — how fast the network layer sends file ranges (fetch responses)
 * in each send mode, over loopback.
 *
 *   net-bench [--dir DIR] [--mib N] [--sizes K1,K2,...] [--depth D] [--rounds R]
 *             [--conns C]
 *
 * A file of N MiB (default 256) is written to DIR (default $TMPDIR or /tmp)
 * and read once so it is in the page cache. One server loop answers every
 * request with a 64-byte header plus a file range of K KiB (default sizes
 * 64, 1024, 16384), walking the file round robin; each of C client
 * connections (default 1; C threads, C server loops) keeps D requests in
 * flight (default 4) and reads the responses into a buffer. Each (mode,
 * size) case moves 4 GiB (at least 2 x the file) in all, R times (default
 * 3), and the best GB/s is printed. It ends with
 * "fastest: MODE" (over the 1 MiB case, or the middle size), which is what
 * NET_SEND_DEFAULT should be on the machine that matters.
 */
#include "util/clock.h"
#include "util/endian.h"
#include "util/logger.h"
#include "util/mem.h"
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_MAX_SIZES 8
#define BENCH_HEADER 64
#define BENCH_GIB (1024.0 * 1024 * 1024)

typedef struct bench {
    int file_fd;
    size_t file_bytes;
} bench_t;

/* Request: u64 position, u32 length. Answer: header + that file range. */
static void bench_on_request(void *ctx, net_conn_t *conn, uint8_t *frame, size_t len) {
    bench_t *b = ctx;
    if (len != 12) {
        net_close(conn);
        return;
    }
    int64_t pos = (int64_t)be64_load(frame);
    uint32_t n = be32_load(frame + 8);
    net_response_t r;
    net_response_init(&r);
    memset(buf_extend(&r.bytes, BENCH_HEADER), 0, BENCH_HEADER);
    net_response_add_owned_file(&r, fcntl(b->file_fd, F_DUPFD_CLOEXEC, 0), pos, n); /* as partition_read dups */
    net_respond(conn, &r);
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n) {
    uint8_t *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int bench_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static void send_request(int fd, const bench_t *b, uint64_t *next_pos, uint32_t size) {
    uint8_t req[16];
    be32_store(req, 12);
    if (*next_pos + size > b->file_bytes)
        *next_pos = 0;
    be64_store(req + 4, *next_pos);
    be32_store(req + 12, size);
    *next_pos += size;
    if (write_all(fd, req, sizeof req) != 0) {
        perror("write");
        exit(1);
    }
}

typedef struct client {
    const bench_t *b;
    int port;
    uint32_t size;
    int depth;
    uint64_t count;
    uint64_t start_pos;
} client_t;

/* One connection: count requests, depth of them in flight. */
static void *client_main(void *arg) {
    const client_t *cl = arg;
    const bench_t *b = cl->b;
    uint32_t size = cl->size;
    int depth = cl->depth;
    uint64_t count = cl->count, sent = 0, done = 0, next_pos = cl->start_pos;
    int fd = bench_connect(cl->port);
    uint8_t *rbuf = mem_alloc(size + BENCH_HEADER);
    while (sent < count && sent < (uint64_t)depth) {
        send_request(fd, b, &next_pos, size);
        sent++;
    }
    while (done < count) {
        uint8_t hdr[4];
        if (read_all(fd, hdr, 4) != 0 || be32_load(hdr) != size + BENCH_HEADER ||
            read_all(fd, rbuf, size + BENCH_HEADER) != 0) {
            fprintf(stderr, "bad response\n");
            exit(1);
        }
        done++;
        if (sent < count) {
            send_request(fd, b, &next_pos, size);
            sent++;
        }
    }
    close(fd);
    free(rbuf);
    return NULL;
}

/* GB/s of one run: total bytes of responses over the wall time. */
static double bench_run(const bench_t *b, int port, uint32_t size, int depth, int conns) {
    uint64_t total = 4ull << 30;
    if (total < 2 * b->file_bytes)
        total = 2 * b->file_bytes;
    uint64_t per_conn = total / size / (uint64_t)conns;
    client_t *cl = mem_calloc((size_t)conns, sizeof *cl);
    pthread_t *th = mem_calloc((size_t)conns, sizeof *th);
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < conns; i++) {
        cl[i] = (client_t){b, port, size, depth, per_conn, (b->file_bytes / (uint64_t)conns) * (uint64_t)i};
        if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    int64_t ns = clock_mono_ns() - t0;
    free(cl);
    free(th);
    return (double)per_conn * (uint64_t)conns * (size + BENCH_HEADER) / (double)ns;
}

static net_t *bench_server(bench_t *b, net_send_mode_t mode, int loops) {
    static const net_listen_t listener = {.host = "127.0.0.1", .port = 0};
    net_config_t cfg;
    net_config_init(&cfg);
    cfg.listeners = &listener;
    cfg.nlisteners = 1;
    cfg.num_network_threads = loops;
    cfg.socket_send_buffer_bytes = -1;
    cfg.socket_receive_buffer_bytes = -1;
    cfg.send_mode = mode;
    cfg.on_request = bench_on_request;
    cfg.ctx = b;
    char err[256];
    net_t *net = net_new(&cfg, err, sizeof err);
    if (!net || net_start(net, err, sizeof err) != 0) {
        fprintf(stderr, "net: %s\n", err);
        exit(1);
    }
    return net;
}

static int make_file(const char *dir, size_t mib, bench_t *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/net-bench-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    unlink(path);
    uint8_t *chunk = mem_alloc(1 << 20);
    for (size_t i = 0; i < (1u << 20); i++)
        chunk[i] = (uint8_t)(i * 131);
    for (size_t i = 0; i < mib; i++) {
        if (write_all(fd, chunk, 1 << 20) != 0) {
            perror("write");
            return -1;
        }
    }
    /* Read it back once: the page cache is what a fetch of recent data
     * hits. */
    for (size_t i = 0; i < mib; i++)
        if (pread(fd, chunk, 1 << 20, (off_t)(i << 20)) != 1 << 20)
            return -1;
    free(chunk);
    b->file_fd = fd;
    b->file_bytes = mib << 20;
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    size_t mib = 256;
    uint32_t sizes[BENCH_MAX_SIZES] = {64 * 1024, 1024 * 1024, 16 * 1024 * 1024};
    size_t nsizes = 3;
    int depth = 4, rounds = 3, conns = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--dir") == 0 && v) {
            dir = v;
        } else if (strcmp(argv[i], "--mib") == 0 && v) {
            mib = strtoul(v, NULL, 10);
        } else if (strcmp(argv[i], "--depth") == 0 && v) {
            depth = atoi(v);
        } else if (strcmp(argv[i], "--conns") == 0 && v) {
            conns = atoi(v);
        } else if (strcmp(argv[i], "--rounds") == 0 && v) {
            rounds = atoi(v);
        } else if (strcmp(argv[i], "--sizes") == 0 && v) {
            nsizes = 0;
            for (char *s = (char *)v; *s && nsizes < BENCH_MAX_SIZES;) {
                sizes[nsizes++] = (uint32_t)strtoul(s, &s, 10) * 1024;
                if (*s == ',')
                    s++;
            }
        } else {
            fprintf(stderr, "usage: net-bench [--dir DIR] [--mib N] [--sizes K1,K2,...] [--depth D] [--rounds R] "
                            "[--conns C]\n");
            return 2;
        }
        i++;
    }
    if (mib < 16 || depth < 1 || rounds < 1 || conns < 1 || conns > 64 || nsizes == 0) {
        fprintf(stderr, "net-bench: --mib must be >= 16, --depth and --rounds >= 1, --conns 1 to 64\n");
        return 2;
    }
    for (size_t i = 0; i < nsizes; i++) {
        if (sizes[i] == 0 || sizes[i] > (mib << 20)) {
            fprintf(stderr, "net-bench: sizes must be between 1 KiB and the file size\n");
            return 2;
        }
    }
    logger_set_level(LOGGER_WARN);
    bench_t b;
    if (make_file(dir, mib, &b) != 0)
        return 1;
    printf("file %zu MiB in %s, %d connection(s) over as many loops, pipelining depth %d, best of %d\n", mib, dir,
           conns, depth, rounds);
    printf("%-10s", "mode");
    for (size_t s = 0; s < nsizes; s++)
        printf(" %9u KiB", sizes[s] / 1024);
    printf("   (GB/s)\n");
    size_t ref = nsizes > 1 ? 1 : 0;
    for (size_t i = 0; i < nsizes; i++)
        if (sizes[i] == 1024 * 1024)
            ref = i;
    double best_ref = 0;
    net_send_mode_t fastest = NET_SEND_DEFAULT;
    for (int m = NET_SEND_SENDFILE; m <= NET_SEND_PREAD; m++) {
        net_t *net = bench_server(&b, (net_send_mode_t)m, conns);
        printf("%-10s", net_send_mode_name((net_send_mode_t)m));
        for (size_t s = 0; s < nsizes; s++) {
            double best = 0;
            for (int r = 0; r < rounds; r++) {
                double g = bench_run(&b, net_listener_port(net, 0), sizes[s], depth, conns);
                if (g > best)
                    best = g;
            }
            printf(" %13.2f", best);
            fflush(stdout);
            if (s == ref && best > best_ref) {
                best_ref = best;
                fastest = (net_send_mode_t)m;
            }
        }
        printf("\n");
        net_free(net);
    }
    printf("fastest: %s\n", net_send_mode_name(fastest));
    close(b.file_fd);
    return 0;
}
