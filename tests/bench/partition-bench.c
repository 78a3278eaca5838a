/*
 * partition-bench — one broker holding many partitions (issue 18, "Scale"):
 * how long it takes to start after a clean and after an unclean shutdown,
 * what an idle partition costs in memory and file handles, and how long a
 * Metadata request for all of them takes.
 *
 *   partition-bench [--partitions N] [--rounds R] [--quick] [--metadata-requests M]
 *                   [--broker PATH] [--compare PATH] [--dir DIR] [--keep]
 *
 * It starts a private ZooKeeper and one broker (tools/samsa-cluster, free
 * ports on 127.0.0.1, a temporary folder unless --dir) with the metrics
 * endpoint on, and creates one topic of N partitions (default 10,000),
 * replication factor 1, through ZooKeeper (AdminZkClient, as samsa-topics
 * does). Then:
 *   - memory and handles: the broker's RSS (/proc/PID/status) and open fds
 *     (/proc/PID/fd) idle before the topic and idle after every partition is
 *     led; the difference over N is the cost of one idle partition;
 *   - Metadata: M (default 25) requests for the topic from librdkafka
 *     (rd_kafka_metadata), after one to warm up; each answer must list N
 *     partitions, every one led by the broker; median and p99;
 *   - R rounds (default 3) of: a clean restart (`samsa-cluster stop`: SIGTERM,
 *     wait for the exit; then start) and an unclean one (`kill`: SIGKILL,
 *     wait until ZooKeeper dropped the old registration; then start, which
 *     recovers every log). Each start is timed from just before
 *     `samsa-cluster start-broker` (its own ~50 ms included) to "started",
 *     the broker's log line "broker 1 started", and to "all led", when the
 *     metrics endpoint's kafka_server_replicamanager_leadercount first says N
 *     (the replica manager's own count of partitions it leads, which a
 *     partition joins once LeaderAndIsr made it leader on its attached log).
 *     Medians over the rounds.
 * --compare PATH runs a second broker binary on the same data in the same
 * rounds, interleaved (A, B, then B, A, ...), for a before/after figure on a
 * busy machine; --broker (else SAMSA_BROKER, else the build's broker) is A.
 * The broker's ZooKeeper session timeout is 6 s so that an unclean round
 * does not wait Kafka's 18 s for ZooKeeper to drop the killed broker; after
 * all are led the bench waits 3 s (the ticks' checkpoint writes) before it
 * measures or stops anything. --quick is --partitions 200 --rounds 1
 * --metadata-requests 20 with a 3 s session and 0.5 s waits. Exit status 0 when every step passed, 1 when one failed, 2 on
 * usage.
 */
#include "bench_rdk.h"
#include "scluster.h"

#include "admin/topic_admin.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/mem.h"

#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define PB_PROG "partition-bench"
#define PB_TOPIC "pb"
#define PB_BROKER_ID 1
#define PB_MAX_ROUNDS 20
#define PB_MAX_REQUESTS 1000
#define PB_POLL_MS 20
#define PB_START_TIMEOUT_MS 300000 /* a start slower than this failed */
#define PB_STARTED_MARK "] broker 1 started"

typedef struct pb_opts {
    int partitions;
    int rounds;
    int requests;
    const char *broker;  /* A; NULL: SAMSA_BROKER, else the build's */
    const char *compare; /* B, or NULL */
    const char *dir;
    bool keep;
    int settle_ms;  /* after all led: the ticks' checkpoint writes done */
    int session_ms; /* zookeeper.session.timeout.ms */
} pb_opts_t;

/* One broker binary's figures, a slot per round. */
typedef struct pb_binary {
    char label[8];
    char *path; /* absolute (owned) */
    double clean_started[PB_MAX_ROUNDS], clean_led[PB_MAX_ROUNDS];
    double unclean_started[PB_MAX_ROUNDS], unclean_led[PB_MAX_ROUNDS];
} pb_binary_t;

typedef struct pb_bench {
    pb_opts_t o;
    scluster_t c;
    int metrics_port;
    char *bootstrap;
    pb_binary_t bins[2];
    int nbins;
} pb_bench_t;

/* ---- the broker seen from outside ---------------------------------------------------- */

/* kafka_server_replicamanager_leadercount from the metrics endpoint, or -1
 * while it does not answer. */
static int pb_leader_count(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    buf_t resp = BUF_INIT;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        char chunk[8192];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) > 0)
            buf_append(&resp, chunk, (size_t)n);
    }
    close(fd);
    buf_append(&resp, "", 1);
    static const char name[] = "\nkafka_server_replicamanager_leadercount ";
    const char *at = strstr((const char *)resp.data, name);
    int count = at ? atoi(at + sizeof name - 1) : -1;
    buf_free(&resp);
    return count;
}

/* VmRSS in KiB, or -1. */
static long pb_rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static long pb_open_fds(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The broker's log file and how far it was read. */
typedef struct pb_log_watch {
    char path[4096];
    off_t offset;
    buf_t tail; /* what was read since the start (a mark may span two reads) */
} pb_log_watch_t;

static void pb_log_watch_start(const pb_bench_t *b, pb_log_watch_t *w) {
    snprintf(w->path, sizeof w->path, "%s/broker-%d/broker.log", b->c.dir, PB_BROKER_ID);
    struct stat st;
    w->offset = stat(w->path, &st) == 0 ? st.st_size : 0;
    buf_init(&w->tail);
}

static bool pb_log_watch_seen(pb_log_watch_t *w, const char *mark) {
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char chunk[65536];
    ssize_t n;
    while ((n = pread(fd, chunk, sizeof chunk, w->offset)) > 0) {
        buf_append(&w->tail, chunk, (size_t)n);
        w->offset += n;
    }
    close(fd);
    return w->tail.len > 0 && memmem(w->tail.data, w->tail.len, mark, strlen(mark)) != NULL;
}

/* ---- starting and stopping --------------------------------------------------------------- */

/* Starts the broker with binary bin and times it (see the top); false after
 * a message. */
static bool pb_start_timed(pb_bench_t *b, const pb_binary_t *bin, double *started_s, double *led_s) {
    pb_log_watch_t w;
    pb_log_watch_start(b, &w);
    setenv("SAMSA_BROKER", bin->path, 1);
    scluster_cmd_t cmd;
    int64_t t0 = clock_mono_ns();
    if (scluster_cmd_start(&b->c, &cmd, (const char *const[]){"start-broker", "1", "--wait", "300", NULL}) != 0) {
        buf_free(&w.tail);
        return false;
    }
    *started_s = *led_s = -1;
    while (!scluster_interrupted && clock_mono_ns() - t0 < (int64_t)PB_START_TIMEOUT_MS * 1000000) {
        double now_s = (double)(clock_mono_ns() - t0) / 1e9;
        if (*started_s < 0 && pb_log_watch_seen(&w, PB_STARTED_MARK))
            *started_s = now_s;
        if (*started_s >= 0 && pb_leader_count(b->metrics_port) == b->o.partitions) {
            *led_s = now_s;
            break;
        }
        scluster_sleep_ms(PB_POLL_MS);
    }
    buf_free(&w.tail);
    int rc = scluster_cmd_wait(&cmd);
    if (rc != 0 || *led_s < 0) {
        scluster_cmd_show(&cmd, stderr);
        fprintf(stderr, PB_PROG ": %s: %s\n", bin->label,
                rc != 0 ? "samsa-cluster start-broker failed"
                : *started_s < 0 ? "the broker did not log that it started"
                                 : "not every partition was led in time");
    }
    buf_free(&cmd.out);
    return rc == 0 && *led_s >= 0;
}

static bool pb_stop_clean(pb_bench_t *b) {
    return scluster_run(&b->c, NULL, (const char *const[]){"stop", "1", "--wait", "300", NULL}) == 0;
}

/* SIGKILL, then wait for ZooKeeper to drop the registration (a new broker
 * with the same id cannot register before). */
static bool pb_kill(pb_bench_t *b) {
    if (scluster_run(&b->c, NULL, (const char *const[]){"kill", "1", NULL}) != 0)
        return false;
    int64_t deadline = clock_mono_ms() + 6 * b->o.session_ms;
    while (!scluster_interrupted && clock_mono_ms() < deadline) {
        if (!(scluster_registered(b->c.zk) & (1ull << PB_BROKER_ID)))
            return true;
        scluster_sleep_ms(100);
    }
    fprintf(stderr, PB_PROG ": ZooKeeper kept the killed broker registered\n");
    return false;
}

/* ---- the figures ------------------------------------------------------------------------ */

typedef struct pb_footprint {
    long rss_kb, fds;
} pb_footprint_t;

static pb_footprint_t pb_footprint(const pb_bench_t *b) {
    pid_t pid = scluster_broker_pid(&b->c, PB_BROKER_ID);
    return (pb_footprint_t){pid > 0 ? pb_rss_kb(pid) : -1, pid > 0 ? pb_open_fds(pid) : -1};
}

static bool pb_create_topic(pb_bench_t *b) {
    tadmin_create_t req = {.topic = PB_TOPIC, .partitions = b->o.partitions, .replication_factor = 1};
    char msg[512];
    kerr_t e = tadmin_create_topic(b->c.zk, &req, NULL, msg, sizeof msg);
    if (e != KERR_NONE) {
        fprintf(stderr, PB_PROG ": cannot create %s: %s\n", PB_TOPIC, msg);
        return false;
    }
    return true;
}

static bool pb_await_all_led(const pb_bench_t *b, double *led_s) {
    int64_t t0 = clock_mono_ns();
    while (!scluster_interrupted && clock_mono_ns() - t0 < (int64_t)PB_START_TIMEOUT_MS * 1000000) {
        if (pb_leader_count(b->metrics_port) == b->o.partitions) {
            *led_s = (double)(clock_mono_ns() - t0) / 1e9;
            return true;
        }
        scluster_sleep_ms(PB_POLL_MS);
    }
    fprintf(stderr, PB_PROG ": not every partition of %s was led in time\n", PB_TOPIC);
    return false;
}

/* Times o.requests Metadata requests for the topic; false when an answer
 * is wrong (fewer partitions, one without the broker as its leader). */
static bool pb_metadata(const pb_bench_t *b, double *p50_ms, double *p99_ms) {
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, bench_conf(b->bootstrap));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, PB_TOPIC, NULL);
    int64_t *ns = mem_alloc((size_t)(b->o.requests + 1) * sizeof *ns);
    bool ok = true;
    for (int i = 0; ok && i <= b->o.requests; i++) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t t0 = clock_mono_ns();
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 30000);
        ns[i] = clock_mono_ns() - t0;
        ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
             md->topics[0].partition_cnt == b->o.partitions;
        for (int p = 0; ok && p < md->topics[0].partition_cnt; p++)
            ok = md->topics[0].partitions[p].leader == PB_BROKER_ID && md->topics[0].partitions[p].err == 0;
        if (!ok)
            fprintf(stderr, PB_PROG ": Metadata for %s: %s\n", PB_TOPIC,
                    e ? rd_kafka_err2str(e) : "not every partition listed with the broker as its leader");
        if (md)
            rd_kafka_metadata_destroy(md);
    }
    if (ok) {
        bench_sort_ns(ns + 1, b->o.requests); /* ns[0] warmed the connection up */
        *p50_ms = bench_quantile_ms(ns + 1, b->o.requests, 0.5);
        *p99_ms = bench_quantile_ms(ns + 1, b->o.requests, 0.99);
    }
    free(ns);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return ok;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static bool pb_start_cluster(pb_bench_t *b) {
    int base = scluster_free_base_port(2);
    if (!base) {
        fprintf(stderr, PB_PROG ": no 2 consecutive free ports found\n");
        return false;
    }
    b->metrics_port = base + 1;
    char port[16], session[64], metrics[64];
    snprintf(port, sizeof port, "%d", base);
    snprintf(session, sizeof session, "zookeeper.session.timeout.ms=%d", b->o.session_ms);
    snprintf(metrics, sizeof metrics, "metrics.listener=127.0.0.1:%d", b->metrics_port);
    setenv("SAMSA_BROKER", b->bins[0].path, 1);
    b->c.up = true; /* a failed start may have left something running */
    if (scluster_run(&b->c, NULL,
                     (const char *const[]){"start", "--brokers", "1", "--base-port", port, "--override", session,
                                           "--override", metrics, NULL}) != 0 ||
        scluster_zk_open(&b->c) != 0)
        return false;
    b->bootstrap = scluster_line(&b->c, "bootstrap");
    return b->bootstrap != NULL;
}

static void pb_usage(void) {
    fprintf(stderr, "usage: " PB_PROG " [--partitions N] [--rounds R] [--quick] [--metadata-requests M]\n"
                    "                       [--broker PATH] [--compare PATH] [--dir DIR] [--keep]\n");
}

static int pb_parse(int argc, char **argv, pb_opts_t *o) {
    *o = (pb_opts_t){.partitions = 10000, .rounds = 3, .requests = 25, .settle_ms = 3000, .session_ms = 6000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--quick") == 0) {
            o->partitions = 200, o->rounds = 1, o->requests = 20, o->settle_ms = 500, o->session_ms = 3000;
            continue;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        } else if (!v) {
            ok = false;
        } else if (strcmp(a, "--partitions") == 0) {
            ok = bench_parse_int(v, 100000, &o->partitions);
        } else if (strcmp(a, "--rounds") == 0) {
            ok = bench_parse_int(v, PB_MAX_ROUNDS, &o->rounds);
        } else if (strcmp(a, "--metadata-requests") == 0) {
            ok = bench_parse_int(v, PB_MAX_REQUESTS, &o->requests);
        } else if (strcmp(a, "--broker") == 0) {
            o->broker = v;
        } else if (strcmp(a, "--compare") == 0) {
            o->compare = v;
        } else if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else {
            ok = false;
        }
        if (!ok) {
            pb_usage();
            return -1;
        }
        i++;
    }
    return 0;
}

/* The binaries: A is --broker, else SAMSA_BROKER, else this build's; B is
 * --compare. */
static bool pb_binaries(pb_bench_t *b) {
    const char *a = b->o.broker ? b->o.broker : getenv("SAMSA_BROKER");
    const char *paths[2] = {a ? a : PB_BUILD_DIR "/broker/samsa-broker", b->o.compare};
    b->nbins = b->o.compare ? 2 : 1;
    for (int i = 0; i < b->nbins; i++) {
        char *real = realpath(paths[i], NULL);
        if (!real || access(real, X_OK) != 0) {
            fprintf(stderr, PB_PROG ": %s is not an executable\n", paths[i]);
            free(real);
            return false;
        }
        b->bins[i].path = mem_strdup(real);
        free(real);
        snprintf(b->bins[i].label, sizeof b->bins[i].label, "%c", 'A' + i);
    }
    return true;
}

/* ---- the run ------------------------------------------------------------------------------ */

static double pb_kib_per_partition(const pb_bench_t *b, pb_footprint_t idle, pb_footprint_t full) {
    return (double)(full.rss_kb - idle.rss_kb) * 1024.0 / b->o.partitions;
}

static bool pb_rounds(pb_bench_t *b) {
    for (int r = 0; r < b->o.rounds; r++) {
        for (int k = 0; k < b->nbins; k++) {
            pb_binary_t *bin = &b->bins[r % 2 == 0 ? k : b->nbins - 1 - k];
            if (!pb_stop_clean(b) || !pb_start_timed(b, bin, &bin->clean_started[r], &bin->clean_led[r]))
                return false;
            printf("round %d %s clean restart: started %.2f s, all led %.2f s\n", r + 1, bin->label,
                   bin->clean_started[r], bin->clean_led[r]);
            scluster_sleep_ms(b->o.settle_ms);
            if (!pb_kill(b) || !pb_start_timed(b, bin, &bin->unclean_started[r], &bin->unclean_led[r]))
                return false;
            printf("round %d %s unclean restart (SIGKILL): started %.2f s, all led %.2f s\n", r + 1, bin->label,
                   bin->unclean_started[r], bin->unclean_led[r]);
            fflush(stdout);
            scluster_sleep_ms(b->o.settle_ms);
        }
    }
    return true;
}

static void pb_summary(pb_bench_t *b) {
    for (int k = 0; k < b->nbins; k++) {
        pb_binary_t *bin = &b->bins[k];
        int n = b->o.rounds;
        printf("%s clean restart: started %.2f s, all led %.2f s (median of %d)\n", bin->label,
               bench_median(bin->clean_started, n), bench_median(bin->clean_led, n), n);
        printf("%s unclean restart: started %.2f s, all led %.2f s (median of %d)\n", bin->label,
               bench_median(bin->unclean_started, n), bench_median(bin->unclean_led, n), n);
    }
}

static bool pb_run(pb_bench_t *b) {
    if (!pb_start_cluster(b))
        return false;
    scluster_sleep_ms(b->o.settle_ms);
    pb_footprint_t idle = pb_footprint(b);
    double created_s = 0;
    if (!pb_create_topic(b) || !pb_await_all_led(b, &created_s))
        return false;
    printf("created %d partitions: all led %.2f s after the topic was written\n", b->o.partitions, created_s);
    scluster_sleep_ms(b->o.settle_ms);
    pb_footprint_t full = pb_footprint(b);
    if (idle.rss_kb < 0 || full.rss_kb < 0 || idle.fds < 0 || full.fds < 0) {
        fprintf(stderr, PB_PROG ": cannot read the broker's /proc files\n");
        return false;
    }
    printf("idle broker (A): no partitions rss %.1f MiB, %ld fds; %d partitions rss %.1f MiB, %ld fds: "
           "%.0f B and %.2f fds per partition\n",
           idle.rss_kb / 1024.0, idle.fds, b->o.partitions, full.rss_kb / 1024.0, full.fds,
           pb_kib_per_partition(b, idle, full), (double)(full.fds - idle.fds) / b->o.partitions);
    double p50, p99;
    if (!pb_metadata(b, &p50, &p99))
        return false;
    printf("Metadata for all %d partitions (A): p50 %.1f ms p99 %.1f ms (%d requests)\n", b->o.partitions, p50, p99,
           b->o.requests);
    fflush(stdout);
    if (!pb_rounds(b))
        return false;
    pb_summary(b);
    return true;
}

int main(int argc, char **argv) {
    pb_bench_t b = {.c = {.prog = PB_PROG}};
    if (pb_parse(argc, argv, &b.o) != 0)
        return 2;
    scluster_catch_signals();
    b.c.keep = b.o.keep;
    if (scluster_find_script(&b.c, PB_SOURCE_DIR "/tools/samsa-cluster") != 0 || !pb_binaries(&b))
        return 1;
    char load[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && !fgets(load, sizeof load, f))
        load[0] = '\0';
    if (f)
        fclose(f);
    load[strcspn(load, " ")] = '\0';
    printf(PB_PROG ": %d partitions, RF 1, one broker, %d round(s), medians; load %s\n", b.o.partitions,
           b.o.rounds, load);
    for (int k = 0; k < b.nbins; k++)
        printf("%s: %s\n", b.bins[k].label, b.bins[k].path);
    fflush(stdout);
    bool ok = scluster_setup_dir(&b.c, b.o.dir, PB_PROG) == 0 && pb_run(&b);
    scluster_cleanup(&b.c);
    free(b.bootstrap);
    for (int k = 0; k < b.nbins; k++)
        free(b.bins[k].path);
    printf("%s\n", ok ? "all steps passed" : "FAILED");
    return ok ? 0 : 1;
}
