/*
 * samsa-failover-bench — how long the controller takes to move the
 * leadership of many partitions away from a broker: once when the broker
 * dies (SIGKILL; its ZooKeeper session expires) and once when it is stopped
 * (SIGTERM; a controlled shutdown).
 *
 *   samsa-failover-bench [--partitions N] [--brokers B] [--victim ID]
 *                        [--dir DIR] [--keep] [--base-port P] [--broker PATH]
 *                        [--cluster-script PATH] [--timeout S]
 *
 * The cluster is a private one run by tools/samsa-cluster (ZooKeeper and B
 * brokers in DIR). A topic whose N partitions all have the victim as
 * preferred leader is created; then:
 *
 *  - broker failure: an exists watch on /brokers/ids/<victim>, SIGKILL, and
 *    T0 = when the watch reports the znode deleted (ZooKeeper expired the
 *    session). The last new leader state written is the largest mtime of
 *    the partitions' state znodes (ZooKeeper's wall clock; same machine);
 *    the last LeaderAndIsr answered is the timestamp of the controller's
 *    "broker V failure: all LeaderAndIsr requests answered" log line.
 *  - controlled shutdown: the victim is started again, a second topic like
 *    the first is created (a new topic, so the victim is in every ISR), and
 *    T0 = when `samsa-cluster stop V` starts; the same two figures follow,
 *    from the controller's "controlled shutdown of broker V" line.
 *
 * Both are compared with the book's figure for ZooKeeper-mode Kafka, about
 * 5 ms a partition. The figures do not depend on how often the bench polls:
 * it reads ZooKeeper's and the controller's own timestamps afterwards, and
 * reads the state znodes only once the controller says it wrote them (then
 * every FB_POLL_MS), so as not to load ZooKeeper while the controller
 * writes. The brokers' own "[partition] ...: leader|follower" lines give
 * when the last broker applied its new states: shown too, and used when
 * the controller logged no "all LeaderAndIsr requests answered" line (a
 * round can be cut short by the stopped broker's departure).
 *
 * The cluster is always stopped at the end, also on failure and on SIGINT
 * or SIGTERM (the commands run in their own process group, so a ^C reaches
 * only the bench, which then stops the cluster itself).
 *
 * Exit status: 0 when every partition got a new leader in both runs, 1
 * otherwise (or when the cluster could not be set up), 2 on usage errors.
 */
#include "util/buf.h"
#include "util/clock.h"
#include "util/errmsg.h"
#include "net/evloop.h"
#include "proto/kerr.h"
#include "util/logger.h"
#include "util/mem.h"
#include "admin/topic_admin.h"
#include "scluster.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define FB_PROG "samsa-failover-bench"

#define FB_EXIT_OK 0
#define FB_EXIT_FAIL 1
#define FB_EXIT_USAGE 2

#define FB_DEFAULT_PARTITIONS 1000
#define FB_MAX_PARTITIONS 100000
#define FB_DEFAULT_BROKERS 3
#define FB_MAX_BROKERS 100
#define FB_DEFAULT_VICTIM 2
#define FB_DEFAULT_TIMEOUT_S 60
#define FB_REPLICATION 3

/* The brokers' zookeeper.session.timeout.ms: how long a killed broker
 * stays registered. ZooKeeper (tick 500 ms) grants 1-10 s. */
#define FB_BROKER_SESSION_MS 3000

/* Between reads of all state znodes while the controller moves leaders,
 * and while a topic is being created. */
#define FB_POLL_MS 200
#define FB_SETUP_POLL_MS 100
/* How long the controller's log line may follow the last state written. */
#define FB_LOG_WAIT_MS 10000
/* How long the controller's "all LeaderAndIsr requests answered" may
 * follow the brokers' applying the last state. */
#define FB_ANSWER_WAIT_MS 2000
/* How long the first read of the moved partitions waits for the
 * controller to say it has written them. */
#define FB_FIRST_READ_MS 5000

#define FB_BOOK_MS_PER_PARTITION 5.0

#define FB_TOPIC_FAILURE "failover-bench-a"
#define FB_TOPIC_SHUTDOWN "failover-bench-b"

#define FB_LAI_ANSWERED ": all LeaderAndIsr requests answered "

typedef struct fb_opts {
    const char *dir;            /* NULL: a fresh temporary folder */
    bool keep;                  /* keep a temporary folder */
    int32_t partitions;
    int32_t brokers;
    int32_t victim;
    int base_port;              /* 0: find free ports */
    const char *broker;         /* samsa-broker, or NULL */
    const char *cluster_script; /* samsa-cluster, or NULL */
    int timeout_s;
} fb_opts_t;

/* Everything one run holds; the cluster is released by scluster_cleanup. */
typedef struct fb_bench {
    fb_opts_t o;
    scluster_t c;    /* samsa-cluster, the folder, the ZooKeeper session */
    int base_port;
    int32_t controller;
} fb_bench_t;

/* What one run measured. Times are wall-clock milliseconds after T0. */
typedef struct fb_result {
    const char *label;
    bool ran;
    int32_t moved;           /* partitions with a new leader */
    int32_t *new_leaders;    /* per broker id (index), owned */
    bool have_deleted;       /* failure: the znode's deletion after the kill */
    int64_t deleted_ms;
    bool have_zk;
    int64_t zk_ms;           /* last new leader state written */
    bool have_lai;
    int64_t lai_ms;          /* last LeaderAndIsr answered */
    double ctrl_ms;          /* the controller's own figure */
    bool have_applied;
    int64_t applied_ms;      /* last partition state applied by a broker */
    bool ok;
    char why[256];           /* when !ok */
} fb_result_t;

/* ---- small helpers ------------------------------------------------------------ */

/* HH:MM:SS.mmm in local time, as the brokers' logs print it. */
static void fb_clock_text(int64_t wall_ms, char out[32]) {
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    snprintf(out, 32, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

static bool fb_parse_int(const char *s, long min, long max, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = (int32_t)v;
    return true;
}

/* ---- options ---------------------------------------------------------------------- */

static void fb_usage(FILE *f) {
    fprintf(f,
            "usage: " FB_PROG " [options]\n"
            "Measures how fast the controller moves the leadership of N partitions away\n"
            "from a killed broker and from one in a controlled shutdown.\n"
            "  --partitions N         partitions led by the victim (default %d)\n"
            "  --brokers B            brokers in the cluster, at least 2 (default %d)\n"
            "  --victim ID            the broker killed and stopped (default %d)\n"
            "  --dir DIR              the cluster's folder, new or empty (default: a\n"
            "                         temporary folder, removed at the end)\n"
            "  --keep                 keep the temporary folder (logs)\n"
            "  --base-port P          broker ID listens on P+ID-1 (default: free ports)\n"
            "  --broker PATH          the samsa-broker to run\n"
            "  --cluster-script PATH  tools/samsa-cluster\n"
            "  --timeout S            how long each step may take (default %d)\n"
            "  --help\n",
            FB_DEFAULT_PARTITIONS, FB_DEFAULT_BROKERS, FB_DEFAULT_VICTIM, FB_DEFAULT_TIMEOUT_S);
}

/* 0, 1 for --help, or FB_EXIT_USAGE after a message. */
static int fb_parse_args(int argc, char **argv, fb_opts_t *o) {
    enum { O_PARTS = 256, O_BROKERS, O_VICTIM, O_DIR, O_KEEP, O_PORT, O_BROKER, O_SCRIPT, O_TIMEOUT, O_HELP };
    static const struct option longopts[] = {
        {"partitions", required_argument, NULL, O_PARTS},
        {"brokers", required_argument, NULL, O_BROKERS},
        {"victim", required_argument, NULL, O_VICTIM},
        {"dir", required_argument, NULL, O_DIR},
        {"keep", no_argument, NULL, O_KEEP},
        {"base-port", required_argument, NULL, O_PORT},
        {"broker", required_argument, NULL, O_BROKER},
        {"cluster-script", required_argument, NULL, O_SCRIPT},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (fb_opts_t){.partitions = FB_DEFAULT_PARTITIONS,
                     .brokers = FB_DEFAULT_BROKERS,
                     .victim = FB_DEFAULT_VICTIM,
                     .timeout_s = FB_DEFAULT_TIMEOUT_S};
    int32_t v = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case O_PARTS:
            if (!fb_parse_int(optarg, 1, FB_MAX_PARTITIONS, &o->partitions))
                bad = "--partitions wants a number from 1 to 100000";
            break;
        case O_BROKERS:
            if (!fb_parse_int(optarg, 2, FB_MAX_BROKERS, &o->brokers))
                bad = "--brokers wants a number from 2 to 100";
            break;
        case O_VICTIM:
            if (!fb_parse_int(optarg, 1, FB_MAX_BROKERS, &o->victim))
                bad = "--victim wants a broker id";
            break;
        case O_DIR: o->dir = optarg; break;
        case O_KEEP: o->keep = true; break;
        case O_PORT:
            if (!fb_parse_int(optarg, 1, 65535, &v))
                bad = "--base-port wants a port number";
            o->base_port = (int)v;
            break;
        case O_BROKER: o->broker = optarg; break;
        case O_SCRIPT: o->cluster_script = optarg; break;
        case O_TIMEOUT:
            if (!fb_parse_int(optarg, 1, 3600, &v))
                bad = "--timeout wants seconds (1 to 3600)";
            o->timeout_s = (int)v;
            break;
        case 'h':
        case O_HELP: fb_usage(stdout); return 1;
        default:
            fprintf(stderr, FB_PROG ": unknown or incomplete option '%s'\n", argv[optind - 1]);
            fb_usage(stderr);
            return FB_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, FB_PROG ": %s, not '%s'\n", bad, optarg);
            return FB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, FB_PROG ": unexpected argument '%s'\n", argv[optind]);
        return FB_EXIT_USAGE;
    }
    if (o->victim > o->brokers) {
        fprintf(stderr, FB_PROG ": --victim %d is not one of the brokers 1..%d\n", o->victim, o->brokers);
        return FB_EXIT_USAGE;
    }
    if (o->base_port && o->base_port + o->brokers - 1 > 65535) {
        fprintf(stderr, FB_PROG ": --base-port %d leaves no room for %d brokers\n", o->base_port, o->brokers);
        return FB_EXIT_USAGE;
    }
    return 0;
}

/* One partition's state znode as last read. */
typedef struct fb_pstate {
    bool present;
    int32_t leader;
    int64_t mtime; /* ZooKeeper's wall clock, ms */
} fb_pstate_t;

/* Reads the state znodes of partitions 0..n-1 in one pipelined batch. A
 * missing or undecodable znode is not present. -1 (with a message in err)
 * when ZooKeeper failed; the caller polls again. */
static int fb_read_states(zkc_t *zk, const char *topic, int32_t n, fb_pstate_t *st, char *err, size_t errlen) {
    zkc_batch_item_t *items = mem_calloc((size_t)n, sizeof *items);
    char (*paths)[ZKDATA_PATH_MAX] = mem_calloc((size_t)n, sizeof *paths);
    for (int32_t i = 0; i < n; i++) {
        zkdata_path_partition_state(paths[i], sizeof paths[i], topic, i);
        items[i] = (zkc_batch_item_t){.kind = ZKC_BATCH_GET, .path = paths[i]};
    }
    zkc_batch(zk, items, (size_t)n);
    int rc = 0;
    for (int32_t i = 0; i < n; i++) {
        st[i] = (fb_pstate_t){.leader = -1};
        if (items[i].err != ZKC_OK) {
            if (items[i].err != ZKC_NONODE && rc == 0) {
                errmsg_set(err, errlen, "reading %s: %s", paths[i], zkc_strerror(items[i].err));
                rc = -1;
            }
            continue;
        }
        zkdata_partition_state_t s;
        char derr[256];
        if (zkdata_partition_state_decode(items[i].out_data, items[i].out_len < 0 ? 0 : (size_t)items[i].out_len, &s,
                                          derr, sizeof derr) == 0)
            st[i] = (fb_pstate_t){true, s.leader, items[i].stat.mtime};
        zkdata_partition_state_free(&s);
    }
    zkc_batch_release(items, (size_t)n);
    free(items);
    free(paths);
    return rc;
}

/* Whether a partition is where the bench waits for it: led by the victim
 * (want_victim), or by another broker. */
static bool fb_settled(const fb_pstate_t *s, int32_t victim, bool want_victim) {
    return s->present && (want_victim ? s->leader == victim : s->leader >= 0 && s->leader != victim);
}

/* Polls the topic's state znodes every poll_ms until every partition has
 * settled, or deadline (monotonic ms). st holds the last read; returns how
 * many partitions settled (n when done). */
static int32_t fb_await_leaders(const fb_bench_t *b, const char *topic, bool want_victim, int poll_ms, int64_t deadline,
                                fb_pstate_t *st) {
    int32_t n = b->o.partitions, done = 0;
    char err[512] = "";
    for (;;) {
        if (fb_read_states(b->c.zk, topic, n, st, err, sizeof err) == 0)
            err[0] = '\0';
        done = 0;
        for (int32_t i = 0; i < n; i++)
            done += fb_settled(&st[i], b->o.victim, want_victim);
        if (done == n || scluster_interrupted || clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(poll_ms);
    }
    if (err[0])
        fprintf(stderr, FB_PROG ": %s\n", err);
    return done;
}

/* Creates the topic with the victim first (preferred leader) in every
 * partition's replicas, followed by the other brokers in turn, so that the
 * new leaders spread over them. */
static int fb_create_topic(const fb_bench_t *b, const char *topic) {
    int32_t others[FB_MAX_BROKERS], nothers = 0;
    for (int32_t id = 1; id <= b->o.brokers; id++)
        if (id != b->o.victim)
            others[nothers++] = id;
    int32_t rf = b->o.brokers < FB_REPLICATION ? b->o.brokers : FB_REPLICATION;
    zkdata_topic_assignment_t a;
    zkdata_topic_assignment_init(&a);
    for (int32_t p = 0; p < b->o.partitions; p++) {
        int32_t r[FB_REPLICATION] = {b->o.victim};
        for (int32_t k = 1; k < rf; k++)
            r[k] = others[(p + k - 1) % nothers];
        zkdata_topic_assignment_add(&a, p, r, (size_t)rf);
    }
    tadmin_create_t req = {.topic = topic, .assignment = &a, .check_brokers = true, .with_topic_id = true};
    char msg[512];
    kerr_t rc = tadmin_create_topic(b->c.zk, &req, NULL, msg, sizeof msg);
    zkdata_topic_assignment_free(&a);
    if (rc != KERR_NONE)
        fprintf(stderr, FB_PROG ": creating topic %s: %s (%s)\n", topic, msg, kerr_name(rc));
    return rc == KERR_NONE ? 0 : -1;
}

/* ---- the brokers' logs --------------------------------------------------------------- */

static void fb_broker_log(const fb_bench_t *b, int32_t id, char *out, size_t outlen) {
    snprintf(out, outlen, "%s/broker-%d/broker.log", b->c.dir, id);
}

/* The size of broker id's log: where lines written from now on start. */
static off_t fb_log_mark(const fb_bench_t *b, int32_t id) {
    char path[PATH_MAX];
    fb_broker_log(b, id, path, sizeof path);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Appends to out what broker id's log holds from offset on. */
static void fb_log_read(const fb_bench_t *b, int32_t id, off_t from, buf_t *out) {
    char path[PATH_MAX];
    fb_broker_log(b, id, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    if (fseeko(f, from, SEEK_SET) == 0) {
        char chunk[65536];
        size_t r;
        while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_append(out, chunk, r);
    }
    fclose(f);
}

/* A log line's timestamp ("2026-11-25 15:29:53.741 ...", local time) in
 * wall-clock ms, or -1. */
static int64_t fb_line_time(const char *line) {
    struct tm tm = {0};
    int ms;
    if (sscanf(line, "%4d-%2d-%2d %2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    time_t s = mktime(&tm);
    return s == (time_t)-1 ? -1 : (int64_t)s * 1000 + ms;
}

/* Calls fn for each complete line of text holding needle (NUL-terminated
 * copies; a partial last line is left for the next read). Stops when fn
 * returns true; returns whether one did. */
typedef bool (*fb_line_fn)(void *ctx, const char *line);

static bool fb_each_line(const buf_t *text, const char *needle, fb_line_fn fn, void *ctx) {
    const char *p = text->data ? (const char *)text->data : "", *end = p + text->len;
    size_t nlen = strlen(needle);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (memmem(p, (size_t)(nl - p), needle, nlen)) {
            char *line = mem_strndup(p, (size_t)(nl - p));
            bool stop = fn(ctx, line);
            free(line);
            if (stop)
                return true;
        }
        p = nl + 1;
    }
    return false;
}

/* The first line found, with its timestamp. */
typedef struct fb_found {
    int64_t at; /* wall ms; -1 when not found */
    char line[512];
} fb_found_t;

static bool fb_take_line(void *ctx, const char *line) {
    fb_found_t *f = ctx;
    f->at = fb_line_time(line);
    snprintf(f->line, sizeof f->line, "%s", line);
    return f->at >= 0;
}

/* Waits (until deadline, monotonic ms) for a line holding needle in broker
 * id's log after offset from. */
static bool fb_await_line(const fb_bench_t *b, int32_t id, off_t from, const char *needle, int64_t deadline,
                          fb_found_t *f) {
    f->at = -1;
    f->line[0] = '\0';
    for (;;) {
        buf_t text = BUF_INIT;
        fb_log_read(b, id, from, &text);
        bool found = fb_each_line(&text, needle, fb_take_line, f);
        buf_free(&text);
        if (found || scluster_interrupted || clock_mono_ms() >= deadline)
            return found;
        scluster_sleep_ms(50);
    }
}

static bool fb_print_line(void *ctx, const char *line) {
    (void)ctx;
    const char *tag = strstr(line, "] ");
    int64_t at = fb_line_time(line);
    char clock[32] = "?";
    if (at >= 0)
        fb_clock_text(at, clock);
    printf("    %s %s\n", clock, tag ? tag + 2 : line);
    return false;
}

/* Every broker's log size now (marks[id], id 1..brokers; owned). */
static off_t *fb_log_marks(const fb_bench_t *b) {
    off_t *marks = mem_calloc((size_t)b->o.brokers + 1, sizeof *marks);
    for (int32_t id = 1; id <= b->o.brokers; id++)
        marks[id] = fb_log_mark(b, id);
    return marks;
}

typedef struct fb_applied {
    int64_t count;
    int64_t last; /* wall ms */
} fb_applied_t;

static bool fb_count_applied(void *ctx, const char *line) {
    fb_applied_t *a = ctx;
    if (!strstr(line, ": leader, leader ") && !strstr(line, ": follower, leader "))
        return false; /* another message about the partition */
    int64_t at = fb_line_time(line);
    a->count++;
    if (at > a->last)
        a->last = at;
    return false;
}

/* When the brokers other than the victim had applied the new states: each
 * logs "[partition] <topic>-<p>: leader|follower, ..." once per partition
 * it holds (partition_apply_state), just before answering the
 * LeaderAndIsr. Waits until all `expected` lines are there (or a few
 * seconds); the latest timestamp in wall ms, or -1. This is the
 * brokers' side of "all LeaderAndIsr requests answered", and the figure
 * the bench falls back on when the controller did not log that line. */
static int64_t fb_await_applied(const fb_bench_t *b, const off_t *marks, const char *topic, int64_t expected) {
    char needle[ZKDATA_PATH_MAX];
    snprintf(needle, sizeof needle, "[partition] %s-", topic);
    int64_t deadline = clock_mono_ms() + FB_LOG_WAIT_MS;
    fb_applied_t a;
    for (;;) {
        a = (fb_applied_t){0, -1};
        for (int32_t id = 1; id <= b->o.brokers; id++) {
            if (id == b->o.victim)
                continue;
            buf_t text = BUF_INIT;
            fb_log_read(b, id, marks[id], &text);
            fb_each_line(&text, needle, fb_count_applied, &a);
            buf_free(&text);
        }
        if (a.count >= expected || scluster_interrupted || clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(50);
    }
    return a.count >= expected ? a.last : -1;
}

/* Shows what the controller logged about the change `what` since from. */
static void fb_show_controller_lines(const fb_bench_t *b, off_t from, const char *what) {
    char needle[160];
    snprintf(needle, sizeof needle, "[controller] %s:", what);
    buf_t text = BUF_INIT;
    fb_log_read(b, b->controller, from, &text);
    printf("  controller log (broker %d):\n", b->controller);
    fb_each_line(&text, needle, fb_print_line, NULL);
    buf_free(&text);
}

/* The figure of an "...: all LeaderAndIsr requests answered X ms after the
 * change began" line, or -1. */
static double fb_lai_figure(const char *line) {
    const char *p = strstr(line, FB_LAI_ANSWERED);
    double v;
    return p && sscanf(p + strlen(FB_LAI_ANSWERED), "%lf", &v) == 1 ? v : -1;
}

/* ---- the runs -------------------------------------------------------------------------- */

/* Creates a topic led by the victim and waits until the brokers have taken
 * it on: every state znode names the victim, and the controller logged
 * that its LeaderAndIsr requests were answered (so that the brokers are
 * idle when the measurement begins). */
static int fb_prepare_topic(fb_bench_t *b, const char *topic, fb_pstate_t *st) {
    off_t mark = fb_log_mark(b, b->controller);
    int64_t t0 = clock_mono_ms(), deadline = t0 + (int64_t)b->o.timeout_s * 1000;
    if (fb_create_topic(b, topic) != 0)
        return -1;
    int32_t done = fb_await_leaders(b, topic, true, FB_SETUP_POLL_MS, deadline, st);
    if (done < b->o.partitions) {
        if (!scluster_interrupted)
            fprintf(stderr, FB_PROG ": topic %s: after %d s only %d of %d partitions are led by broker %d\n", topic,
                    b->o.timeout_s, done, b->o.partitions, b->o.victim);
        return -1;
    }
    fb_found_t f;
    if (!fb_await_line(b, b->controller, mark, FB_LAI_ANSWERED, deadline, &f)) {
        if (!scluster_interrupted)
            fprintf(stderr, FB_PROG ": topic %s: no \"all LeaderAndIsr requests answered\" logged in %d s\n", topic,
                    b->o.timeout_s);
        return -1;
    }
    printf("topic %s: %d partitions led by broker %d after %" PRId64 " ms\n", topic, b->o.partitions, b->o.victim,
           clock_mono_ms() - t0);
    return 0;
}

/* Waits for the partitions to move away from the victim. The first read
 * waits for the controller's line saying it has written ZooKeeper
 * ("<what>: ..."; at most FB_FIRST_READ_MS), so that the bench's reads of
 * N znodes do not compete with the controller's writes it measures. */
static void fb_await_moves(const fb_bench_t *b, const char *topic, const char *what, off_t mark, fb_pstate_t *st) {
    char needle[160];
    snprintf(needle, sizeof needle, "[controller] %s: ", what);
    fb_found_t f;
    fb_await_line(b, b->controller, mark, needle, clock_mono_ms() + FB_FIRST_READ_MS, &f);
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    fb_await_leaders(b, topic, false, FB_POLL_MS, deadline, st);
}

/* The lines each broker other than the victim logs for a change of all
 * partitions: one per replica it holds. */
static int64_t fb_expected_applied(const fb_bench_t *b) {
    int32_t rf = b->o.brokers < FB_REPLICATION ? b->o.brokers : FB_REPLICATION;
    return (int64_t)b->o.partitions * (rf - 1);
}

static void fb_find_applied(const fb_bench_t *b, const off_t *marks, const char *topic, int64_t t0_ms, fb_result_t *r) {
    int64_t at = fb_await_applied(b, marks, topic, fb_expected_applied(b));
    if (at < 0)
        return;
    r->have_applied = true;
    r->applied_ms = at - t0_ms;
    printf("  last new state applied by a broker (brokers' logs): +%" PRId64 " ms\n", r->applied_ms);
}

/* Fills r from the states read once every partition moved: the new
 * leaders and the last state written. */
static void fb_count_moves(const fb_bench_t *b, const fb_pstate_t *st, int64_t t0_ms, fb_result_t *r) {
    int64_t last = -1;
    r->moved = 0;
    for (int32_t i = 0; i < b->o.partitions; i++) {
        if (!fb_settled(&st[i], b->o.victim, false))
            continue;
        r->moved++;
        if (st[i].leader <= b->o.brokers)
            r->new_leaders[st[i].leader]++;
        if (st[i].mtime > last)
            last = st[i].mtime;
    }
    if (r->moved == b->o.partitions && last >= 0) {
        r->have_zk = true;
        r->zk_ms = last - t0_ms;
    }
}

static void fb_show_moves(const fb_bench_t *b, const fb_result_t *r) {
    printf("  %d of %d partitions have a new leader (", r->moved, b->o.partitions);
    const char *sep = "";
    for (int32_t id = 1; id <= b->o.brokers; id++)
        if (r->new_leaders[id]) {
            printf("%sbroker %d: %d", sep, id, r->new_leaders[id]);
            sep = ", ";
        }
    printf(")\n");
    if (r->have_zk)
        printf("  last new leader state written (largest mtime): +%" PRId64 " ms\n", r->zk_ms);
}

/* Finds the controller's "<what>: all LeaderAndIsr requests answered" line
 * logged since from. Once the brokers have applied everything (r->
 * have_applied) their answers are on the way, and the line is waited for
 * only briefly: the controller may not log it at all (a round that the
 * stopped broker's departure cut short). */
static void fb_find_lai(const fb_bench_t *b, off_t from, const char *what, int64_t t0_ms, fb_result_t *r) {
    char needle[160];
    snprintf(needle, sizeof needle, "[controller] %s" FB_LAI_ANSWERED, what);
    fb_found_t f;
    int wait_ms = r->have_applied ? FB_ANSWER_WAIT_MS : FB_LOG_WAIT_MS;
    if (fb_await_line(b, b->controller, from, needle, clock_mono_ms() + wait_ms, &f)) {
        r->have_lai = true;
        r->lai_ms = f.at - t0_ms;
        r->ctrl_ms = fb_lai_figure(f.line);
        printf("  last LeaderAndIsr answered (controller's log line): +%" PRId64 " ms\n", r->lai_ms);
    } else if (!scluster_interrupted) {
        printf("  the controller logged no \"%s" FB_LAI_ANSWERED "...\" line\n", what);
    }
}

/* The exists watch on the victim's registration: set by the bench, fired
 * on zkc's executor thread, waited for on the main thread. */
typedef struct fb_watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool answered;        /* the exists call's result came */
    zkc_err_t exists_err; /* ZKC_OK: the znode existed */
    bool fired;
    zkc_watch_type_t type;
    int64_t at_us;        /* wall clock when it fired */
} fb_watch_t;

static void fb_on_exists(void *ctx, const zkc_result_t *res) {
    fb_watch_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->answered = true;
    w->exists_err = res->err;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void fb_on_watch(void *ctx, zkc_watch_type_t type, const char *path) {
    fb_watch_t *w = ctx;
    int64_t now = clock_wall_us();
    (void)path;
    pthread_mutex_lock(&w->mu);
    w->fired = true;
    w->type = type;
    w->at_us = now;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until *flag (answered or fired) is set, deadline (monotonic ms) or
 * an interruption. */
static bool fb_watch_wait(fb_watch_t *w, const bool *flag, int64_t deadline) {
    pthread_mutex_lock(&w->mu);
    while (!*flag && !scluster_interrupted && clock_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    bool ok = *flag;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/* SIGKILL the victim and wait for its znode to go. Returns T0 (wall ms of
 * the deletion), or -1 after a message. w must stay alive until zkc_close
 * (zkc calls the watch exactly once, at the latest then). */
static int64_t fb_kill_victim(fb_bench_t *b, fb_watch_t *w, fb_result_t *r) {
    char path[ZKDATA_PATH_MAX], id[16];
    zkdata_path_broker(path, sizeof path, b->o.victim);
    snprintf(id, sizeof id, "%d", b->o.victim);
    zkc_err_t e = zkc_aexists(b->c.zk, path, fb_on_watch, w, fb_on_exists, w);
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    if (e != ZKC_OK || !fb_watch_wait(w, &w->answered, deadline) || w->exists_err != ZKC_OK) {
        errmsg_set(r->why, sizeof r->why, "cannot watch %s: %s", path,
                   zkc_strerror(e != ZKC_OK ? e : w->answered ? w->exists_err : ZKC_CONNECTIONLOSS));
        return -1;
    }
    scluster_cmd_t cmd;
    if (scluster_cmd_start(&b->c, &cmd, (const char *const[]){"kill", id, NULL}) != 0) {
        errmsg_set(r->why, sizeof r->why, "cannot run samsa-cluster kill");
        return -1;
    }
    int64_t killed_us = cmd.started_us;
    int rc = scluster_cmd_wait(&cmd);
    if (rc != 0)
        scluster_cmd_show(&cmd, stderr);
    buf_free(&cmd.out);
    if (rc != 0) {
        errmsg_set(r->why, sizeof r->why, "samsa-cluster kill %d failed (exit status %d)", b->o.victim, rc);
        return -1;
    }
    deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    if (!fb_watch_wait(w, &w->fired, deadline) || w->type != ZKC_WATCH_DELETED) {
        errmsg_set(r->why, sizeof r->why, "%s was not deleted within %d s of the kill (watch: %s)", path,
                   b->o.timeout_s, w->fired ? zkc_watch_type_name(w->type) : "did not fire");
        return -1;
    }
    char k[32], d[32];
    fb_clock_text(killed_us / 1000, k);
    fb_clock_text(w->at_us / 1000, d);
    r->have_deleted = true;
    r->deleted_ms = (w->at_us - killed_us) / 1000;
    printf("  killed at %s; %s deleted (watch fired) at %s, %" PRId64 " ms later\n", k, path, d, r->deleted_ms);
    return w->at_us / 1000;
}

/* Run 1: the victim dies. */
static void fb_run_failure(fb_bench_t *b, fb_watch_t *w, fb_result_t *r) {
    int32_t n = b->o.partitions;
    fb_pstate_t *st = mem_calloc((size_t)n, sizeof *st);
    r->ran = true;
    if (fb_prepare_topic(b, FB_TOPIC_FAILURE, st) != 0) {
        errmsg_set(r->why, sizeof r->why, "could not set up topic %s", FB_TOPIC_FAILURE);
        free(st);
        return;
    }
    printf("broker failure: SIGKILL to broker %d (zookeeper.session.timeout.ms=%d)\n", b->o.victim,
           FB_BROKER_SESSION_MS);
    off_t *marks = fb_log_marks(b), mark = marks[b->controller];
    char what[64];
    snprintf(what, sizeof what, "broker %d failure", b->o.victim);
    int64_t t0 = fb_kill_victim(b, w, r);
    if (t0 < 0) {
        free(marks);
        free(st);
        return;
    }
    fb_await_moves(b, FB_TOPIC_FAILURE, what, mark, st);
    fb_count_moves(b, st, t0, r);
    fb_show_moves(b, r);
    fb_find_applied(b, marks, FB_TOPIC_FAILURE, t0, r);
    fb_find_lai(b, mark, what, t0, r);
    fb_show_controller_lines(b, mark, what);
    free(marks);
    r->ok = r->moved == n;
    if (!r->ok)
        errmsg_set(r->why, sizeof r->why, "%d of %d partitions still without a new leader after %d s", n - r->moved, n,
                   b->o.timeout_s);
    free(st);
}

/* The controller's "controlled shutdown of broker V: M of L leadership(s)
 * moved" since from: whether all n leaderships moved that way (and not by
 * the failure that follows the broker's exit). */
static bool fb_shutdown_moved_all(const fb_bench_t *b, off_t from, int32_t n, char *why, size_t whylen) {
    char needle[96];
    snprintf(needle, sizeof needle, "[controller] controlled shutdown of broker %d: ", b->o.victim);
    fb_found_t f;
    if (!fb_await_line(b, b->controller, from, needle, clock_mono_ms(), &f)) {
        errmsg_set(why, whylen, "the controller logged no controlled shutdown of broker %d", b->o.victim);
        return false;
    }
    const char *p = strstr(f.line, needle) + strlen(needle);
    unsigned long moved, led;
    if (sscanf(p, "%lu of %lu", &moved, &led) != 2 || moved < (unsigned long)n) {
        errmsg_set(why, whylen, "the controlled shutdown did not move every leadership: %s", p);
        return false;
    }
    return true;
}

/* Run 2: the victim is started again, leads a new topic, and is stopped. */
static void fb_run_shutdown(fb_bench_t *b, fb_result_t *r) {
    int32_t n = b->o.partitions;
    char id[16];
    snprintf(id, sizeof id, "%d", b->o.victim);
    r->ran = true;
    printf("controlled shutdown: starting broker %d again\n", b->o.victim);
    if (scluster_run(&b->c, NULL, (const char *const[]){"start-broker", id, NULL}) != 0) {
        errmsg_set(r->why, sizeof r->why, "could not start broker %d again", b->o.victim);
        return;
    }
    fb_pstate_t *st = mem_calloc((size_t)n, sizeof *st);
    if (fb_prepare_topic(b, FB_TOPIC_SHUTDOWN, st) != 0) {
        errmsg_set(r->why, sizeof r->why, "could not set up topic %s", FB_TOPIC_SHUTDOWN);
        free(st);
        return;
    }
    off_t *marks = fb_log_marks(b), mark = marks[b->controller], vmark = marks[b->o.victim];
    char what[64];
    snprintf(what, sizeof what, "controlled shutdown of broker %d", b->o.victim);
    scluster_cmd_t cmd;
    if (scluster_cmd_start(&b->c, &cmd, (const char *const[]){"stop", id, NULL}) != 0) {
        errmsg_set(r->why, sizeof r->why, "cannot run samsa-cluster stop");
        free(marks);
        free(st);
        return;
    }
    int64_t t0 = cmd.started_us / 1000;
    char clock[32];
    fb_clock_text(t0, clock);
    printf("controlled shutdown: samsa-cluster stop %d (SIGTERM) at %s\n", b->o.victim, clock);
    fb_await_moves(b, FB_TOPIC_SHUTDOWN, what, mark, st);
    int rc = scluster_cmd_wait(&cmd);
    if (rc != 0)
        scluster_cmd_show(&cmd, stderr);
    buf_free(&cmd.out);
    fb_found_t sig;
    if (fb_await_line(b, b->o.victim, vmark, "received SIGTERM", clock_mono_ms(), &sig))
        printf("  broker %d logged SIGTERM +%" PRId64 " ms\n", b->o.victim, sig.at - t0);
    fb_count_moves(b, st, t0, r);
    fb_show_moves(b, r);
    fb_find_applied(b, marks, FB_TOPIC_SHUTDOWN, t0, r);
    fb_find_lai(b, mark, what, t0, r);
    fb_show_controller_lines(b, mark, what);
    r->ok = r->moved == n && fb_shutdown_moved_all(b, mark, n, r->why, sizeof r->why);
    if (r->moved < n)
        errmsg_set(r->why, sizeof r->why, "%d of %d partitions still without a new leader after %d s", n - r->moved, n,
                   b->o.timeout_s);
    if (rc != 0)
        printf("  samsa-cluster stop %d exited with status %d\n", b->o.victim, rc);
    free(marks);
    free(st);
}

/* ---- set-up and clean-up ----------------------------------------------------------- */

static int fb_start_cluster(fb_bench_t *b) {
    b->base_port = b->o.base_port ? b->o.base_port : scluster_free_base_port(b->o.brokers);
    if (!b->base_port) {
        fprintf(stderr, FB_PROG ": no %d consecutive free ports found\n", b->o.brokers);
        return -1;
    }
    char brokers[16], port[16], session[64];
    snprintf(brokers, sizeof brokers, "%d", b->o.brokers);
    snprintf(port, sizeof port, "%d", b->base_port);
    snprintf(session, sizeof session, "zookeeper.session.timeout.ms=%d", FB_BROKER_SESSION_MS);
    printf("starting ZooKeeper and %d brokers in %s (ports %d-%d)\n", b->o.brokers, b->c.dir, b->base_port,
           b->base_port + b->o.brokers - 1);
    b->c.up = true; /* a failed start may have left something running */
    return scluster_run(&b->c, NULL,
                      (const char *const[]){"start", "--brokers", brokers, "--base-port", port, "--override", session,
                                            NULL});
}

/* The victim must not be the controller: killing it would measure a
 * controller failover instead. If it is, it is restarted so that another
 * broker takes over. */
static int fb_pick_controller(fb_bench_t *b) {
    b->controller = scluster_await_controller(&b->c, -1, b->o.timeout_s);
    if (b->controller < 0)
        return -1;
    if (b->controller == b->o.victim) {
        char id[16];
        snprintf(id, sizeof id, "%d", b->o.victim);
        printf("broker %d is the controller; restarting it so that another broker takes over\n", b->o.victim);
        if (scluster_run(&b->c, NULL, (const char *const[]){"restart", id, NULL}) != 0)
            return -1;
        b->controller = scluster_await_controller(&b->c, b->o.victim, b->o.timeout_s);
    }
    return b->controller < 0 ? -1 : 0;
}

/* ---- the summary --------------------------------------------------------------------- */

static void fb_summary_line(const fb_bench_t *b, const fb_result_t *r) {
    printf("%s: ", r->label);
    if (!r->ran) {
        printf("not run\n");
        return;
    }
    if (r->have_deleted)
        printf("znode deleted %" PRId64 " ms after the kill; ", r->deleted_ms);
    if (r->have_zk)
        printf("last new leader state written +%" PRId64 " ms; ", r->zk_ms);
    else
        printf("last new leader state written: unknown; ");
    int64_t total;
    if (r->have_lai) {
        printf("last LeaderAndIsr answered +%" PRId64 " ms", r->lai_ms);
        total = r->lai_ms;
    } else if (r->have_applied) {
        printf("last LeaderAndIsr answered: not logged by the controller, last applied by a broker +%" PRId64 " ms",
               r->applied_ms);
        total = r->applied_ms;
    } else {
        printf("last LeaderAndIsr answered: unknown\n");
        total = -1;
    }
    if (total >= 0) {
        double per = (double)total / b->o.partitions;
        printf(" (%.3f ms/partition; book: %.0f ms/partition, ", per, FB_BOOK_MS_PER_PARTITION);
        if (per > 0)
            printf("%.0fx better)", FB_BOOK_MS_PER_PARTITION / per);
        else
            printf("too fast to compare)");
        if (r->have_lai)
            printf("; controller: %.1f ms after it began the change", r->ctrl_ms);
        printf("\n");
    }
    if (!r->ok)
        printf("%s: FAILED: %s\n", r->label, scluster_interrupted ? "interrupted" : r->why);
}

static void fb_summary(const fb_bench_t *b, const fb_result_t *failure, const fb_result_t *shutdown) {
    printf("\n" FB_PROG ": %d partitions, %d brokers, victim broker %d, controller broker %d\n", b->o.partitions,
           b->o.brokers, b->o.victim, b->controller);
    fb_summary_line(b, failure);
    fb_summary_line(b, shutdown);
}

/* ---- main ------------------------------------------------------------------------------ */

static fb_result_t fb_result_new(const fb_bench_t *b, const char *label) {
    return (fb_result_t){.label = label, .new_leaders = mem_calloc((size_t)b->o.brokers + 1, sizeof(int32_t))};
}

int main(int argc, char **argv) {
    fb_bench_t b = {0};
    int rc = fb_parse_args(argc, argv, &b.o);
    if (rc != 0)
        return rc == 1 ? FB_EXIT_OK : rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    logger_set_level(LOGGER_WARN);
    scluster_catch_signals();
    b.c = (scluster_t){.prog = FB_PROG, .keep = b.o.keep};
    if (scluster_find_script(&b.c, b.o.cluster_script) != 0 || scluster_choose_broker(&b.c, b.o.broker) != 0) {
        free(b.c.script);
        return FB_EXIT_USAGE;
    }
    fb_result_t failure = fb_result_new(&b, "broker failure (SIGKILL)");
    fb_result_t shutdown = fb_result_new(&b, "controlled shutdown");
    fb_watch_t watch = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    bool ready = scluster_setup_dir(&b.c, b.o.dir, FB_PROG) == 0 && fb_start_cluster(&b) == 0 &&
                 scluster_zk_open(&b.c) == 0 && fb_pick_controller(&b) == 0;
    if (ready) {
        printf("controller: broker %d\n", b.controller);
        fb_run_failure(&b, &watch, &failure);
        if (failure.ok && !scluster_interrupted)
            fb_run_shutdown(&b, &shutdown);
        fb_summary(&b, &failure, &shutdown);
    }
    if (scluster_interrupted)
        fprintf(stderr, FB_PROG ": interrupted\n");
    scluster_cleanup(&b.c); /* zkc_close calls the watch if it has not fired: watch lives until here */
    free(failure.new_leaders);
    free(shutdown.new_leaders);
    return ready && failure.ok && shutdown.ok && !scluster_interrupted ? FB_EXIT_OK : FB_EXIT_FAIL;
}
