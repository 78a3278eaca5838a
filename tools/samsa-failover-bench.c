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
 * Client rounds (--scenarios LIST, --rounds N each, --seed S): what the
 * clients see. The cluster runs a three-server ZooKeeper ensemble; a topic
 * of N partitions (RF 3, min.insync.replicas 2) is written by an acks=all
 * producer at --rate records a second, every delivery report going into
 * the ledger shared with samsa-kill-rounds (tools/ledger.h), and read by a
 * consumer assigned every partition. Each round, its target drawn from the
 * seed: kill-leader (SIGKILL of a leader that is not the controller),
 * kill-controller, pause (SIGSTOP past the session, SIGCONT once the
 * broker's partitions have new leaders: it must find itself fenced and
 * rejoin), controlled-shutdown (SIGTERM), zk-leader (SIGKILL of the
 * ensemble's leader: nothing may move) and zk-quorum (two of three servers
 * stopped for longer than the session, then started). Per round, in ms
 * after T0 (the signal or command): detection (the registration gone:
 * the session timeout's, bounded by tickTime), election (the last new
 * leader state written, from the znodes' mtimes), propagation (the
 * controller's next "all LeaderAndIsr requests answered" line), client
 * recovery (the 99th percentile of the partitions' first acknowledgement
 * after T0); per partition the unavailability window (last ack before T0
 * to first after) and the consumer's longest gap, as p50/p99/max; the
 * producer's errors by code. Killed or stopped brokers start again and
 * every ISR is full again before the next round. At the end the topic is
 * read back and compared with the ledger: a lost record is charged to the
 * round it was sent in (a paused leader acknowledging after its
 * replacement shows up there). --report DIR writes report.md, rounds.csv,
 * partitions.csv, acks.csv and runs tools/failover-report.py for the plots.
 *
 * Exit status: 0 when every partition got a new leader in both runs (with
 * --scenarios: every round completed and nothing acknowledged was lost), 1
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
#include "ledger.h"
#include "rdkafka_tool.h"
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

/* The brokers' zookeeper.session.timeout.ms unless --session-timeout:
 * how long a killed broker stays registered, the cost of detection.
 * Kafka's default is 18000, slow for many rounds; samsa-cluster's
 * ZooKeeper (tickTime 500 ms) grants 1-10 s (2 to 20 ticks). */
#define FB_DEFAULT_SESSION_MS 6000

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
/* Before each failure the producer must have caught up: at most this many
 * milliseconds' worth of records unacknowledged, for FB_CAUGHT_UP_HOLD_MS
 * in a row. Otherwise the backlog of start-up or of the round before
 * counts as this round's unavailability. */
#define FB_CAUGHT_UP_MS 250
#define FB_CAUGHT_UP_HOLD_MS 1000

#define FB_DEFAULT_ROUNDS 3
#define FB_DEFAULT_RATE 2000
#define FB_DEFAULT_DOWN_MS 2000
/* The producer's librdkafka settings beyond ledger.c's. In flight:
 * librdkafka's default. librdkafka puts one partition in a ProduceRequest;
 * a broker that served a connection's acks=all requests one at a time
 * (Kafka does) would answer each of the 333 partitions it leads once every
 * 333 replication round trips, whatever the limit. samsa starts the next
 * request while one waits for its replicas (net.h, "Detaching"), so the
 * requests of all partitions wait together and a limit of 5 would be the
 * bottleneck. The reconnect backoff is capped at 1 s rather than 10, so
 * that a broker the client saw die is tried again soon after it is back
 * (a user who cares about failover sets both). */
#define FB_DEFAULT_MAX_IN_FLIGHT 1000000
#define FB_RECONNECT_BACKOFF_MAX_MS 1000
#define FB_TOPIC_ROUNDS "failover-rounds"
#define FB_ROUNDS_MIN_ISR "2"

typedef enum fb_scenario {
    FB_KILL_LEADER,
    FB_KILL_CONTROLLER,
    FB_PAUSE,
    FB_CONTROLLED_SHUTDOWN,
    FB_ZK_LEADER,
    FB_ZK_QUORUM,
    FB_N_SCENARIOS
} fb_scenario_t;

static const char *const fb_scenario_names[FB_N_SCENARIOS] = {
    "kill-leader", "kill-controller", "pause", "controlled-shutdown", "zk-leader", "zk-quorum"};

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
    int32_t session_ms;         /* the brokers' zookeeper.session.timeout.ms */
    /* client rounds (--scenarios): 0 runs the controller-side bench */
    unsigned scenarios;         /* bit per fb_scenario_t */
    int32_t rounds;             /* per scenario */
    uint64_t seed;
    int32_t rate;               /* records a second, all partitions */
    int32_t down_ms;            /* how long a killed broker stays down */
    const char *report;         /* folder for the Markdown, CSV and plots, or NULL */
    bool no_plots;
    int32_t max_in_flight;      /* the producer's max.in.flight.requests.per.connection */
    const char *rdkafka_debug;  /* the producer's librdkafka debug contexts, or NULL */
    const char *ack_trace;      /* a file for one line per acknowledgement, or NULL */
} fb_opts_t;

/* Everything one run holds; the cluster is released by scluster_cleanup. */
typedef struct fb_bench {
    fb_opts_t o;
    scluster_t c;    /* samsa-cluster, the folder, the ZooKeeper session */
    int base_port;
    int32_t controller;
    struct fb_round *rounds; /* the client rounds' (owned; freed after zkc_close: they hold watches) */
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
            "  --session-timeout MS   the brokers' zookeeper.session.timeout.ms (default %d;\n"
            "                         Kafka's is 18000): what detecting a dead broker costs\n"
            "Client rounds (a three-server ZooKeeper ensemble, acks=all producers, a consumer):\n"
            "  --scenarios LIST       among kill-leader, kill-controller, pause,\n"
            "                         controlled-shutdown, zk-leader, zk-quorum, or all\n"
            "  --rounds N             rounds of each scenario (default %d)\n"
            "  --seed S               chooses every round's target (default 1)\n"
            "  --rate R               records a second over all partitions (default %d)\n"
            "  --down-ms MS           how long a killed broker stays down (default %d)\n"
            "  --report DIR           write report.md, rounds.csv, partitions.csv, acks.csv\n"
            "                         and the plots (tools/failover-report.py) into DIR\n"
            "  --no-plots             write the report without running failover-report.py\n"
            "  --max-in-flight N      the producer's max.in.flight.requests.per.connection\n"
            "                         (default %d)\n"
            "  --ack-trace FILE       one line per acknowledgement: ms since the producer\n"
            "                         started, partition, answering broker, latency (us)\n"
            "  --rdkafka-debug CTX    the producer's librdkafka debug contexts (e.g.\n"
            "                         broker,topic,msg,metadata), logged to stderr\n"
            "  --help\n",
            FB_DEFAULT_PARTITIONS, FB_DEFAULT_BROKERS, FB_DEFAULT_VICTIM, FB_DEFAULT_TIMEOUT_S, FB_DEFAULT_SESSION_MS,
            FB_DEFAULT_ROUNDS, FB_DEFAULT_RATE, FB_DEFAULT_DOWN_MS, FB_DEFAULT_MAX_IN_FLIGHT);
}

/* A comma-separated list of scenario names ("all": every one) as a bit
 * set; 0 when a name is unknown. */
static unsigned fb_parse_scenarios(const char *s) {
    if (strcmp(s, "all") == 0)
        return (1u << FB_N_SCENARIOS) - 1;
    unsigned set = 0;
    char *copy = mem_strdup(s), *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < FB_N_SCENARIOS && strcmp(w, fb_scenario_names[k]) != 0)
            k++;
        if (k == FB_N_SCENARIOS) {
            set = 0;
            break;
        }
        set |= 1u << k;
    }
    free(copy);
    return set;
}

/* 0, 1 for --help, or FB_EXIT_USAGE after a message. */
static int fb_parse_args(int argc, char **argv, fb_opts_t *o) {
    enum {
        O_PARTS = 256, O_BROKERS, O_VICTIM, O_DIR, O_KEEP, O_PORT, O_BROKER, O_SCRIPT, O_TIMEOUT, O_SESSION,
        O_SCENARIOS, O_ROUNDS, O_SEED, O_RATE, O_DOWN, O_REPORT, O_NO_PLOTS, O_MAX_IN_FLIGHT, O_ACK_TRACE, O_RDKAFKA_DEBUG, O_HELP
    };
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
        {"session-timeout", required_argument, NULL, O_SESSION},
        {"scenarios", required_argument, NULL, O_SCENARIOS},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"seed", required_argument, NULL, O_SEED},
        {"rate", required_argument, NULL, O_RATE},
        {"down-ms", required_argument, NULL, O_DOWN},
        {"report", required_argument, NULL, O_REPORT},
        {"no-plots", no_argument, NULL, O_NO_PLOTS},
        {"max-in-flight", required_argument, NULL, O_MAX_IN_FLIGHT},
        {"ack-trace", required_argument, NULL, O_ACK_TRACE},
        {"rdkafka-debug", required_argument, NULL, O_RDKAFKA_DEBUG},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (fb_opts_t){.partitions = FB_DEFAULT_PARTITIONS,
                     .brokers = FB_DEFAULT_BROKERS,
                     .victim = FB_DEFAULT_VICTIM,
                     .timeout_s = FB_DEFAULT_TIMEOUT_S,
                     .session_ms = FB_DEFAULT_SESSION_MS,
                     .rounds = FB_DEFAULT_ROUNDS,
                     .seed = 1,
                     .rate = FB_DEFAULT_RATE,
                     .down_ms = FB_DEFAULT_DOWN_MS,
                     .max_in_flight = FB_DEFAULT_MAX_IN_FLIGHT};
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
        case O_SESSION:
            if (!fb_parse_int(optarg, 1000, 60000, &o->session_ms))
                bad = "--session-timeout wants milliseconds from 1000 to 60000";
            break;
        case O_SCENARIOS:
            if (!(o->scenarios = fb_parse_scenarios(optarg)))
                bad = "--scenarios wants names among kill-leader, kill-controller, pause, controlled-shutdown, "
                      "zk-leader, zk-quorum, or all";
            break;
        case O_ROUNDS:
            if (!fb_parse_int(optarg, 1, 10000, &o->rounds))
                bad = "--rounds wants a number from 1 to 10000";
            break;
        case O_SEED:
            if (!fb_parse_int(optarg, 0, INT32_MAX, &v))
                bad = "--seed wants a number from 0 to 2147483647";
            o->seed = (uint64_t)v;
            break;
        case O_RATE:
            if (!fb_parse_int(optarg, 1, 1000000, &o->rate))
                bad = "--rate wants records a second, from 1 to 1000000";
            break;
        case O_DOWN:
            if (!fb_parse_int(optarg, 0, 600000, &o->down_ms))
                bad = "--down-ms wants milliseconds up to 600000";
            break;
        case O_REPORT: o->report = optarg; break;
        case O_NO_PLOTS: o->no_plots = true; break;
        case O_MAX_IN_FLIGHT:
            if (!fb_parse_int(optarg, 1, 1000000, &o->max_in_flight))
                bad = "--max-in-flight wants a number from 1 to 1000000";
            break;
        case O_ACK_TRACE: o->ack_trace = optarg; break;
        case O_RDKAFKA_DEBUG: o->rdkafka_debug = optarg; break;
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
    if (o->scenarios && o->brokers < FB_REPLICATION) {
        fprintf(stderr, FB_PROG ": --scenarios needs at least %d brokers (replication factor %d)\n", FB_REPLICATION,
                FB_REPLICATION);
        return FB_EXIT_USAGE;
    }
    if (o->report && !o->scenarios) {
        fprintf(stderr, FB_PROG ": --report is for the client rounds (--scenarios)\n");
        return FB_EXIT_USAGE;
    }
    return 0;
}

/* One partition's state znode as last read. */
typedef struct fb_pstate {
    bool present;
    int32_t leader;
    int64_t mtime; /* ZooKeeper's wall clock, ms */
    int32_t n_isr;
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
            st[i] = (fb_pstate_t){true, s.leader, items[i].stat.mtime, (int32_t)s.n_isr};
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
           b->o.session_ms);
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

/* zookeepers: 1, or 3 for an ensemble. */
static int fb_start_cluster(fb_bench_t *b, int zookeepers) {
    b->base_port = b->o.base_port ? b->o.base_port : scluster_free_base_port(b->o.brokers);
    if (!b->base_port) {
        fprintf(stderr, FB_PROG ": no %d consecutive free ports found\n", b->o.brokers);
        return -1;
    }
    char brokers[16], port[16], session[64], zks[16];
    snprintf(brokers, sizeof brokers, "%d", b->o.brokers);
    snprintf(port, sizeof port, "%d", b->base_port);
    snprintf(zks, sizeof zks, "%d", zookeepers);
    snprintf(session, sizeof session, "zookeeper.session.timeout.ms=%d", b->o.session_ms);
    printf("starting %d ZooKeeper server(s) and %d brokers in %s (ports %d-%d, zookeeper.session.timeout.ms=%d)\n",
           zookeepers, b->o.brokers, b->c.dir, b->base_port, b->base_port + b->o.brokers - 1, b->o.session_ms);
    b->c.up = true; /* a failed start may have left something running */
    return scluster_run(&b->c, NULL,
                        (const char *const[]){"start", "--brokers", brokers, "--base-port", port, "--zookeepers", zks,
                                              "--override", session, NULL});
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

/* ---- client rounds (--scenarios) --------------------------------------------------- */

/* Between reads of the cluster's state during a round. */
#define FB_ROUND_POLL_MS 100
/* How long zk-leader waits, after the kill, for something to move. */
#define FB_ZK_LEADER_WATCH_MS 3000
/* zk-quorum keeps the quorum away this much longer than the session. */
#define FB_QUORUM_EXTRA_MS 2000
/* The tail consumer's polls. */
#define FB_TAIL_POLL_MS 50

/* The consumer side: a consumer assigned every partition (no group),
 * reading from the end, whose thread records per partition when a record
 * was last delivered and the longest gap since fb_tail_mark. All fields
 * below the consumer are guarded by mu. */
typedef struct fb_tail {
    rdtool_consumer_t c; /* used by the tail thread only */
    pthread_t thread;
    bool running;
    volatile sig_atomic_t stop; /* set by the main thread */
    pthread_mutex_t mu;
    int32_t partitions;
    int64_t *last_ms;    /* monotonic; -1: nothing yet (owned) */
    int64_t *longest_ms; /* since the mark (owned) */
} fb_tail_t;

static void *fb_tail_loop(void *arg) {
    fb_tail_t *t = arg;
    while (!t->stop) {
        rd_kafka_message_t *m = rdtool_consumer_poll(&t->c, FB_TAIL_POLL_MS);
        if (!m)
            continue;
        int64_t now = clock_mono_ms();
        pthread_mutex_lock(&t->mu);
        if (m->partition >= 0 && m->partition < t->partitions) {
            int64_t *last = &t->last_ms[m->partition];
            if (*last >= 0 && now - *last > t->longest_ms[m->partition])
                t->longest_ms[m->partition] = now - *last;
            *last = now;
        }
        pthread_mutex_unlock(&t->mu);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int fb_tail_start(fb_tail_t *t, const char *bootstrap, const char *topic, int32_t partitions) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rdtool_conf_set(conf, "bootstrap.servers", bootstrap) != 0 ||
        rdtool_conf_set(conf, "topic.metadata.refresh.interval.ms", "1000") != 0 ||
        rdtool_conf_set(conf, "log_level", "2") != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    t->partitions = partitions;
    t->last_ms = mem_calloc((size_t)partitions, sizeof *t->last_ms);
    t->longest_ms = mem_calloc((size_t)partitions, sizeof *t->longest_ms);
    for (int32_t p = 0; p < partitions; p++)
        t->last_ms[p] = -1;
    pthread_mutex_init(&t->mu, NULL);
    if (rdtool_consumer_open(&t->c, conf, topic, false, -1, RD_KAFKA_OFFSET_END, 30000) != 0)
        return -1;
    if (pthread_create(&t->thread, NULL, fb_tail_loop, t) != 0) {
        fprintf(stderr, FB_PROG ": cannot start the consumer thread\n");
        return -1;
    }
    t->running = true;
    return 0;
}

/* A failure begins: the longest gaps start again (the gap open now counts
 * in full once it closes). */
static void fb_tail_mark(fb_tail_t *t) {
    if (!t->last_ms)
        return;
    pthread_mutex_lock(&t->mu);
    memset(t->longest_ms, 0, (size_t)t->partitions * sizeof *t->longest_ms);
    pthread_mutex_unlock(&t->mu);
}

/* Per partition the longest gap since the mark, the open one included. */
static void fb_tail_gaps(fb_tail_t *t, int64_t *gaps) {
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&t->mu);
    for (int32_t p = 0; p < t->partitions; p++) {
        int64_t open = t->last_ms[p] >= 0 ? now - t->last_ms[p] : 0;
        gaps[p] = open > t->longest_ms[p] ? open : t->longest_ms[p];
    }
    pthread_mutex_unlock(&t->mu);
}

static void fb_tail_stop(fb_tail_t *t) {
    if (t->running) {
        t->stop = 1;
        pthread_join(t->thread, NULL);
        t->running = false;
    }
    rdtool_consumer_close(&t->c);
    if (t->last_ms)
        pthread_mutex_destroy(&t->mu);
    free(t->last_ms);
    free(t->longest_ms);
    t->last_ms = t->longest_ms = NULL;
}

/* One round: what was done and what was measured. Phase times are ms
 * after T0 (the signal or the command), -1 when they do not apply or were
 * not seen. */
typedef struct fb_round {
    fb_scenario_t scenario;
    int32_t number; /* 1-based within its scenario */
    int32_t victim; /* broker scenarios, else -1 */
    char target[128];
    bool done;
    char why[256]; /* when !done */
    int64_t t0_ms; /* monotonic ms after the ledger's start */
    int64_t detection_ms;   /* the victim's znode gone (its session expired) */
    int64_t election_ms;    /* the last new leader state written */
    int64_t propagation_ms; /* the last LeaderAndIsr / UpdateMetadata answered */
    int64_t recovery_ms;    /* p99 of the partitions acknowledged again */
    int64_t unavail_p50, unavail_p99, unavail_max;
    int64_t calm_p99; /* the windows' floor: p99 of the partitions' last interval between acks before T0 */
    int64_t gap_p99, gap_max; /* the consumer's longest gaps */
    int32_t leaders_moved;
    int32_t deregistered; /* zk scenarios: brokers whose registration went */
    int64_t failed;
    char errors[256];
    int64_t seq_from, seq_to; /* records sent during the round */
    int64_t lost;             /* filled by the final check */
    int64_t *unavail;         /* per partition (owned) */
    int64_t *gaps;            /* per partition (owned) */
    fb_watch_t watch;         /* zkc calls it until zkc_close: lives as long */
} fb_round_t;

/* Everything the client rounds hold; released by fb_rounds_free. */
typedef struct fb_rounds {
    fb_bench_t *b;
    char *bootstrap; /* owned */
    ledger_t ledger;
    ledger_producer_t producer;
    fb_tail_t tail;
    uint64_t rng;
    fb_round_t *rounds; /* owned */
    int32_t n_rounds;
    int64_t wall_minus_mono_ms; /* converts the brokers' and ZooKeeper's clock */
    ledger_check_t check;
    bool read_all;
} fb_rounds_t;

/* splitmix64: the rounds follow from the seed alone, on any machine. */
static int32_t fb_pick(fb_rounds_t *R, int32_t n) {
    uint64_t z = (R->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (int32_t)((z ^ (z >> 31)) % (uint64_t)n);
}

static int fb_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile q (0-100) of n values (sorted here, in a
 * copy); -1 when n is 0 or every value is -1 (not measured). */
static int64_t fb_percentile(const int64_t *v, int32_t n, int q) {
    int64_t *s = mem_calloc((size_t)n + 1, sizeof *s);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (v[i] >= 0)
            s[m++] = v[i];
    int64_t r = -1;
    if (m > 0) {
        qsort(s, (size_t)m, sizeof *s, fb_cmp_i64);
        int32_t rank = (int32_t)((q * (int64_t)m + 99) / 100);
        r = s[rank < 1 ? 0 : rank - 1];
    }
    free(s);
    return r;
}

static bool fb_led_by_registered(const fb_pstate_t *s, uint64_t reg) {
    return s->present && s->leader > 0 && s->leader < 64 && ((reg >> s->leader) & 1);
}

/* Waits until every broker is registered and every partition is led by a
 * registered broker (with full_isr, with all its replicas in the ISR).
 * st holds the last read. 0, or -1 after timeout_s. */
static int fb_await_settled(const fb_bench_t *b, bool full_isr, fb_pstate_t *st) {
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    char err[512];
    while (!scluster_interrupted) {
        uint64_t reg = scluster_registered(b->c.zk);
        bool ok = true;
        for (int32_t id = 1; id <= b->o.brokers && ok; id++)
            ok = (reg >> id) & 1;
        if (ok && fb_read_states(b->c.zk, FB_TOPIC_ROUNDS, b->o.partitions, st, err, sizeof err) == 0)
            for (int32_t p = 0; p < b->o.partitions && ok; p++)
                ok = fb_led_by_registered(&st[p], reg) && (!full_isr || st[p].n_isr >= FB_REPLICATION);
        else
            ok = false;
        if (ok)
            return 0;
        if (clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(FB_ROUND_POLL_MS);
    }
    return -1;
}

/* Waits until no partition that `victim` led before (before[]) is led by
 * it or by nobody. The largest mtime of their state znodes (wall ms), 0
 * when it led none, or -1 after timeout_s. st holds the last read. */
static int64_t fb_await_reled(const fb_bench_t *b, const fb_pstate_t *before, int32_t victim, fb_pstate_t *st) {
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    char err[512];
    while (!scluster_interrupted) {
        if (fb_read_states(b->c.zk, FB_TOPIC_ROUNDS, b->o.partitions, st, err, sizeof err) == 0) {
            bool ok = true;
            int64_t last = 0; /* it led nothing: nothing to wait for */
            for (int32_t p = 0; p < b->o.partitions && ok; p++) {
                if (before[p].leader != victim)
                    continue;
                ok = st[p].present && st[p].leader >= 0 && st[p].leader != victim;
                if (st[p].mtime > last)
                    last = st[p].mtime;
            }
            if (ok)
                return last;
        }
        if (clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(FB_ROUND_POLL_MS);
    }
    return -1;
}

/* The first "...: all LeaderAndIsr requests answered" line the controller
 * logged since byte `from` of its log, at or after not_before (wall ms):
 * the round that carried the new leaders (they are written before it is
 * answered). Its time, or -1. */
typedef struct fb_first_line {
    int64_t not_before, at;
} fb_first_line_t;

static bool fb_take_first(void *ctx, const char *line) {
    fb_first_line_t *l = ctx;
    int64_t at = fb_line_time(line);
    if (at < l->not_before)
        return false;
    l->at = at;
    return true;
}

static int64_t fb_first_answered(const fb_bench_t *b, int32_t controller, off_t from, int64_t not_before) {
    fb_first_line_t l = {not_before, -1};
    int64_t deadline = clock_mono_ms() + FB_ANSWER_WAIT_MS;
    for (;;) {
        buf_t text = BUF_INIT;
        fb_log_read(b, controller, from, &text);
        bool found = fb_each_line(&text, FB_LAI_ANSWERED, fb_take_first, &l);
        buf_free(&text);
        if (found || clock_mono_ms() >= deadline || scluster_interrupted)
            return l.at;
        scluster_sleep_ms(FB_ROUND_POLL_MS);
    }
}

/* Sets the exists watch on broker id's registration. 0, or -1 (why set). */
static int fb_watch_broker(fb_bench_t *b, fb_round_t *rd, int32_t id) {
    char path[ZKDATA_PATH_MAX];
    zkdata_path_broker(path, sizeof path, id);
    fb_watch_t *w = &rd->watch;
    zkc_err_t e = zkc_aexists(b->c.zk, path, fb_on_watch, w, fb_on_exists, w);
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    if (e != ZKC_OK || !fb_watch_wait(w, &w->answered, deadline) || w->exists_err != ZKC_OK) {
        errmsg_set(rd->why, sizeof rd->why, "cannot watch %s: %s", path,
                   zkc_strerror(e != ZKC_OK ? e : w->answered ? w->exists_err : ZKC_CONNECTIONLOSS));
        return -1;
    }
    return 0;
}

/* Waits for the watch to report the registration deleted: its time in ms
 * after t0_wall_ms, or -1. */
static int64_t fb_await_deregistered(fb_bench_t *b, fb_round_t *rd, int64_t t0_wall_ms) {
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    fb_watch_t *w = &rd->watch;
    if (!fb_watch_wait(w, &w->fired, deadline) || w->type != ZKC_WATCH_DELETED) {
        errmsg_set(rd->why, sizeof rd->why, "the registration was not deleted within %d s (watch: %s)",
                   b->o.timeout_s, w->fired ? zkc_watch_type_name(w->type) : "did not fire");
        return -1;
    }
    return w->at_us / 1000 - t0_wall_ms;
}

/* Runs `samsa-cluster args...`; T0 (wall ms) is when it started. */
static int fb_cluster_cmd(const fb_bench_t *b, const char *const *args, int64_t *t0_wall_ms) {
    scluster_cmd_t cmd;
    if (scluster_cmd_start(&b->c, &cmd, args) != 0)
        return -1;
    if (t0_wall_ms)
        *t0_wall_ms = cmd.started_us / 1000;
    int rc = scluster_cmd_wait(&cmd);
    if (rc != 0)
        scluster_cmd_show(&cmd, stderr);
    buf_free(&cmd.out);
    return rc == 0 ? 0 : -1;
}

/* The ensemble's leader (`samsa-cluster zookeeper-leader`), or -1. */
static int32_t fb_zk_leader(const fb_bench_t *b) {
    char *line = scluster_line(&b->c, "zookeeper-leader");
    int32_t id = line ? (int32_t)strtol(line, NULL, 10) : -1;
    free(line);
    return id > 0 ? id : -1;
}

static int fb_zk_cmd(const fb_bench_t *b, const char *cmd, int32_t zkid) {
    char id[16];
    snprintf(id, sizeof id, "%d", zkid);
    return fb_cluster_cmd(b, (const char *const[]){cmd, id, NULL}, NULL);
}

static int fb_start_broker(const fb_bench_t *b, int32_t id) {
    char sid[16], wait[16];
    snprintf(sid, sizeof sid, "%d", id);
    snprintf(wait, sizeof wait, "%d", b->o.timeout_s);
    return fb_cluster_cmd(b, (const char *const[]){"start-broker", sid, "--wait", wait, NULL}, NULL);
}

/* The victim of a broker scenario: a leader that is not the controller
 * (kill-leader), the controller, or any broker leading partitions (pause,
 * shutdown): a round must take leaderships away. */
static int32_t fb_choose_victim(fb_rounds_t *R, fb_scenario_t sc, const fb_pstate_t *before, int32_t controller) {
    const fb_bench_t *b = R->b;
    if (sc == FB_KILL_CONTROLLER)
        return controller;
    int32_t start = fb_pick(R, b->o.partitions);
    bool any_broker = sc != FB_KILL_LEADER;
    for (int32_t i = 0; i < b->o.partitions; i++) {
        const fb_pstate_t *s = &before[(start + i) % b->o.partitions];
        if (s->present && s->leader > 0 && (any_broker || s->leader != controller))
            return s->leader;
    }
    return before[start].leader; /* the controller leads everything */
}

/* Asks the controller for a preferred leader election of every partition
 * (/admin/preferred_replica_election) and waits until it has done it (the
 * znode gone), so that each round starts from the same spread of leaders.
 * 0, or -1 after timeout_s. */
static int fb_rebalance(const fb_bench_t *b) {
    zkdata_tp_list_t l;
    zkdata_tp_list_init(&l);
    for (int32_t p = 0; p < b->o.partitions; p++)
        zkdata_tp_list_add(&l, FB_TOPIC_ROUNDS, p);
    buf_t json = BUF_INIT;
    char err[256];
    int rc = zkdata_preferred_election_encode(&json, &l, err, sizeof err);
    zkdata_tp_list_free(&l);
    zkc_err_t e = rc == 0 ? zkc_create(b->c.zk, ZKDATA_PATH_PREFERRED_REPLICA_ELECTION, json.data, (int)json.len, 0,
                                       NULL)
                          : ZKC_BADARGUMENTS;
    buf_free(&json);
    if (e != ZKC_OK && e != ZKC_NODEEXISTS)
        return -1;
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    while (!scluster_interrupted && clock_mono_ms() < deadline) {
        if (zkc_exists(b->c.zk, ZKDATA_PATH_PREFERRED_REPLICA_ELECTION, NULL) == ZKC_NONODE)
            return 0;
        scluster_sleep_ms(FB_ROUND_POLL_MS);
    }
    return -1;
}

/* A broker scenario: the signal, detection, election; the broker is back
 * (restarted, or resumed and registered again) when this returns 0. */
static int fb_round_broker(fb_rounds_t *R, fb_round_t *rd, const fb_pstate_t *before, fb_pstate_t *st,
                           int32_t controller, int64_t *t0_wall_ms) {
    fb_bench_t *b = R->b;
    int32_t v = rd->victim = fb_choose_victim(R, rd->scenario, before, controller);
    int32_t led = 0;
    for (int32_t p = 0; p < b->o.partitions; p++)
        led += before[p].leader == v;
    errmsg_set(rd->target, sizeof rd->target, "broker %d (%sleader of %d partitions)", v,
               v == controller ? "controller, " : "", led);
    if (v <= 0 || fb_watch_broker(b, rd, v) != 0)
        return -1;
    char id[16];
    snprintf(id, sizeof id, "%d", v);
    pid_t pid = -1;
    int rc;
    ledger_mark(&R->ledger, clock_mono_ms());
    fb_tail_mark(&R->tail);
    switch (rd->scenario) {
    case FB_PAUSE:
        pid = scluster_broker_pid(&b->c, v);
        *t0_wall_ms = clock_wall_ms();
        rc = pid > 0 && kill(pid, SIGSTOP) == 0 ? 0 : -1;
        if (rc != 0)
            errmsg_set(rd->why, sizeof rd->why, "cannot stop broker %d (pid %ld)", v, (long)pid);
        break;
    case FB_CONTROLLED_SHUTDOWN: rc = fb_cluster_cmd(b, (const char *const[]){"stop", id, NULL}, t0_wall_ms); break;
    default:
        /* The signal from here, T0 just before it: samsa-cluster (a shell
         * script) takes tens of ms to start, during which the victim still
         * answers, and those acknowledgements would close windows that the
         * failure has not opened yet. The script then does its bookkeeping
         * (waits for the exit, forgets the pid). */
        pid = scluster_broker_pid(&b->c, v);
        *t0_wall_ms = clock_wall_ms();
        rc = pid > 0 && kill(pid, SIGKILL) == 0 ? 0 : -1;
        if (rc != 0)
            errmsg_set(rd->why, sizeof rd->why, "cannot kill broker %d (pid %ld)", v, (long)pid);
        else
            rc = fb_cluster_cmd(b, (const char *const[]){"kill", id, NULL}, NULL);
        break;
    }
    if (rc != 0) {
        if (!rd->why[0])
            errmsg_set(rd->why, sizeof rd->why, "samsa-cluster could not signal broker %d", v);
        return -1;
    }
    rd->detection_ms = fb_await_deregistered(b, rd, *t0_wall_ms);
    int64_t written = fb_await_reled(b, before, v, st);
    if (written > 0)
        rd->election_ms = written - *t0_wall_ms;
    if (rd->scenario == FB_PAUSE) {
        /* replaced: now it may run again, and must find itself fenced */
        kill(pid, SIGCONT);
        int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
        while (!((scluster_registered(b->c.zk) >> v) & 1) && clock_mono_ms() < deadline && !scluster_interrupted)
            scluster_sleep_ms(FB_ROUND_POLL_MS);
        if (!((scluster_registered(b->c.zk) >> v) & 1)) {
            errmsg_set(rd->why, sizeof rd->why, "broker %d did not register again within %d s of SIGCONT", v,
                       b->o.timeout_s);
            return -1;
        }
    }
    if (rd->detection_ms < 0 || written < 0) {
        if (!rd->why[0])
            errmsg_set(rd->why, sizeof rd->why, "the partitions broker %d led got no new leader within %d s", v,
                       b->o.timeout_s);
        return -1;
    }
    return 0;
}

/* Broker scenarios after the measurement: the victim starts again. */
static int fb_round_restore(fb_rounds_t *R, const fb_round_t *rd, int32_t victim) {
    if (rd->scenario == FB_PAUSE || victim <= 0)
        return 0;
    scluster_sleep_ms(R->b->o.down_ms);
    return fb_start_broker(R->b, victim);
}

/* zk-leader: SIGKILL of the ensemble's leader; the quorum stays, the
 * brokers reconnect within their session, nothing should move. zk-quorum:
 * two of the three servers stopped for longer than the brokers' session,
 * then started again. */
static int fb_round_zookeeper(fb_rounds_t *R, fb_round_t *rd, int64_t *t0_wall_ms) {
    fb_bench_t *b = R->b;
    int32_t leader = fb_zk_leader(b);
    if (leader < 0) {
        errmsg_set(rd->why, sizeof rd->why, "no ZooKeeper server leads");
        return -1;
    }
    uint64_t reg_before = scluster_registered(b->c.zk);
    ledger_mark(&R->ledger, clock_mono_ms());
    fb_tail_mark(&R->tail);
    int rc = 0;
    int64_t seen_reg = (int64_t)reg_before;
    if (rd->scenario == FB_ZK_LEADER) {
        errmsg_set(rd->target, sizeof rd->target, "zookeeper-%d (the ensemble's leader)", leader);
        char id[16];
        snprintf(id, sizeof id, "%d", leader);
        rc = fb_cluster_cmd(b, (const char *const[]){"kill-zookeeper", id, NULL}, t0_wall_ms);
        /* registrations must stay: watch them for a while */
        int64_t until = clock_mono_ms() + FB_ZK_LEADER_WATCH_MS + b->o.session_ms;
        while (rc == 0 && clock_mono_ms() < until && !scluster_interrupted) {
            uint64_t reg = scluster_registered(b->c.zk);
            if (reg)
                seen_reg &= (int64_t)reg;
            scluster_sleep_ms(FB_ROUND_POLL_MS * 5);
        }
        if (fb_zk_cmd(b, "start-zookeeper", leader) != 0)
            rc = -1;
    } else {
        int32_t other = 1 + (leader - 1 + 1 + fb_pick(R, 2)) % 3;
        int32_t hold = b->o.session_ms + FB_QUORUM_EXTRA_MS;
        errmsg_set(rd->target, sizeof rd->target, "zookeeper-%d (leader) and zookeeper-%d stopped %d ms", leader,
                   other, hold);
        *t0_wall_ms = clock_wall_ms();
        rc = fb_zk_cmd(b, "stop-zookeeper", leader) == 0 && fb_zk_cmd(b, "stop-zookeeper", other) == 0 ? 0 : -1;
        scluster_sleep_ms(hold);
        if (fb_zk_cmd(b, "start-zookeeper", leader) != 0 || fb_zk_cmd(b, "start-zookeeper", other) != 0)
            rc = -1;
    }
    for (int32_t id = 1; id <= b->o.brokers; id++)
        rd->deregistered += ((reg_before >> id) & 1) && !(((uint64_t)seen_reg >> id) & 1);
    if (rc != 0)
        errmsg_set(rd->why, sizeof rd->why, "samsa-cluster could not kill, stop or start ZooKeeper");
    return rc;
}

/* Per partition how long it took no write: from its last acknowledgement
 * before T0 (T0 itself when it had none) to its first after. Waits until
 * every partition was acknowledged again, or timeout_s. */
static void fb_round_unavailability(fb_rounds_t *R, fb_round_t *rd, int64_t t0_mono) {
    int32_t n = R->b->o.partitions;
    int64_t *before = mem_calloc((size_t)n, sizeof *before), *after = mem_calloc((size_t)n, sizeof *after);
    int64_t deadline = clock_mono_ms() + (int64_t)R->b->o.timeout_s * 1000;
    for (;;) {
        ledger_window(&R->ledger, before, after);
        int32_t back = 0;
        for (int32_t p = 0; p < n; p++)
            back += after[p] >= 0;
        if (back == n || clock_mono_ms() >= deadline || scluster_interrupted)
            break;
        scluster_sleep_ms(FB_ROUND_POLL_MS);
    }
    int64_t *calm = mem_calloc((size_t)n, sizeof *calm);
    ledger_calm_gaps(&R->ledger, calm);
    rd->calm_p99 = fb_percentile(calm, n, 99);
    free(calm);
    int64_t *since_t0 = mem_calloc((size_t)n, sizeof *since_t0);
    for (int32_t p = 0; p < n; p++) {
        int64_t from = before[p] >= 0 ? before[p] : t0_mono;
        rd->unavail[p] = after[p] >= 0 ? after[p] - from : -1;
        since_t0[p] = after[p] >= 0 ? after[p] - t0_mono : -1;
    }
    rd->unavail_p50 = fb_percentile(rd->unavail, n, 50);
    rd->unavail_p99 = fb_percentile(rd->unavail, n, 99);
    rd->unavail_max = fb_percentile(rd->unavail, n, 100);
    rd->recovery_ms = fb_percentile(since_t0, n, 99);
    fb_tail_gaps(&R->tail, rd->gaps);
    rd->gap_p99 = fb_percentile(rd->gaps, n, 99);
    rd->gap_max = fb_percentile(rd->gaps, n, 100);
    free(since_t0);
    free(before);
    free(after);
}

static void fb_print_phase(const char *name, int64_t ms) {
    if (ms >= 0)
        printf(", %s +%" PRId64 " ms", name, ms);
    else
        printf(", %s -", name);
}

static void fb_round_print(const fb_rounds_t *R, const fb_round_t *rd) {
    printf("round %s %d/%d: %s", fb_scenario_names[rd->scenario], rd->number, R->b->o.rounds, rd->target);
    fb_print_phase("detection", rd->detection_ms);
    fb_print_phase("election", rd->election_ms);
    fb_print_phase("propagation", rd->propagation_ms);
    fb_print_phase("client recovery", rd->recovery_ms);
    printf("; unavailable p50/p99/max %" PRId64 "/%" PRId64 "/%" PRId64 " ms (calm p99 %" PRId64
           " ms); consumer gap p99/max %" PRId64 "/%" PRId64 " ms; %d leaders moved",
           rd->unavail_p50, rd->unavail_p99, rd->unavail_max, rd->calm_p99, rd->gap_p99, rd->gap_max,
           rd->leaders_moved);
    if (rd->scenario == FB_ZK_LEADER || rd->scenario == FB_ZK_QUORUM)
        printf(", %d brokers lost their registration", rd->deregistered);
    printf("; errors: %s%s\n", rd->errors[0] ? rd->errors : "none", rd->done ? "" : " (FAILED)");
    if (!rd->done)
        printf("  round failed: %s\n", rd->why);
}

/* The errors counted so far, as a copy, to diff per round. */
static void fb_errors_snapshot(ledger_t *l, ledger_error_count_t *out, int *n) {
    pthread_mutex_lock(&l->mu);
    memcpy(out, l->errors, sizeof l->errors);
    *n = l->n_errors;
    pthread_mutex_unlock(&l->mu);
}

/* The round's errors by code: the counts now minus those at its start. */
static void fb_round_errors(fb_rounds_t *R, fb_round_t *rd, const ledger_error_count_t *start, int n_start) {
    ledger_error_count_t now[LEDGER_MAX_ERROR_CODES];
    int n_now;
    fb_errors_snapshot(&R->ledger, now, &n_now);
    size_t at = 0;
    for (int i = 0; i < n_now; i++) {
        int64_t before = i < n_start ? start[i].count : 0;
        if (now[i].count > before && at < sizeof rd->errors) {
            at += (size_t)snprintf(rd->errors + at, sizeof rd->errors - at, "%s%s=%" PRId64, at ? " " : "",
                                   rd_kafka_err2name(now[i].err), now[i].count - before);
            rd->failed += now[i].count - before;
        }
    }
}

/* Waits (at most --timeout) until the producer is caught up (above); says
 * so when it never was. */
static void fb_await_caught_up(fb_rounds_t *R) {
    const fb_bench_t *b = R->b;
    int64_t bound = (int64_t)b->o.rate * FB_CAUGHT_UP_MS / 1000, since = -1, pending = 0;
    bound = bound > 0 ? bound : 1;
    int64_t deadline = clock_mono_ms() + (int64_t)b->o.timeout_s * 1000;
    while (!scluster_interrupted) {
        pthread_mutex_lock(&R->ledger.mu);
        pending = R->ledger.n - R->ledger.acked - R->ledger.failed;
        pthread_mutex_unlock(&R->ledger.mu);
        int64_t now = clock_mono_ms();
        since = pending > bound ? -1 : since >= 0 ? since : now;
        if (since >= 0 && now - since >= FB_CAUGHT_UP_HOLD_MS)
            return;
        if (now >= deadline)
            break;
        scluster_sleep_ms(FB_ROUND_POLL_MS < 50 ? FB_ROUND_POLL_MS : 50);
    }
    printf("  (the producer had %" PRId64 " records unacknowledged, more than %d ms' worth, when the round began)\n",
           pending, FB_CAUGHT_UP_MS);
}

static void fb_round_run(fb_rounds_t *R, fb_round_t *rd) {
    fb_bench_t *b = R->b;
    int32_t n = b->o.partitions;
    fb_await_caught_up(R);
    fb_pstate_t *before = mem_calloc((size_t)n, sizeof *before), *st = mem_calloc((size_t)n, sizeof *st);
    char err[512];
    ledger_error_count_t errors_at_start[LEDGER_MAX_ERROR_CODES];
    int n_errors_at_start;
    fb_errors_snapshot(&R->ledger, errors_at_start, &n_errors_at_start);
    pthread_mutex_lock(&R->ledger.mu);
    rd->seq_from = R->ledger.n;
    pthread_mutex_unlock(&R->ledger.mu);
    int32_t controller = scluster_read_controller(b->c.zk);
    off_t *marks = fb_log_marks(b);
    int64_t t0_wall = -1, t0_mono;
    int rc = fb_read_states(b->c.zk, FB_TOPIC_ROUNDS, n, before, err, sizeof err);
    if (rc != 0)
        errmsg_set(rd->why, sizeof rd->why, "%s", err);
    else if (rd->scenario == FB_ZK_LEADER || rd->scenario == FB_ZK_QUORUM)
        rc = fb_round_zookeeper(R, rd, &t0_wall);
    else
        rc = fb_round_broker(R, rd, before, st, controller, &t0_wall);
    t0_mono = t0_wall >= 0 ? t0_wall - R->wall_minus_mono_ms : clock_mono_ms();
    rd->t0_ms = t0_mono - R->ledger.start_ms;
    if (t0_wall >= 0) {
        fb_round_unavailability(R, rd, t0_mono);
        /* the controller now (a new one after kill-controller) */
        int32_t now_ctrl = scluster_read_controller(b->c.zk);
        if (now_ctrl > 0 && now_ctrl <= b->o.brokers) {
            int64_t answered = fb_first_answered(b, now_ctrl, now_ctrl == controller ? marks[now_ctrl] : 0,
                                                 t0_wall + (rd->election_ms > 0 ? rd->election_ms : 0));
            if (answered >= 0)
                rd->propagation_ms = answered - t0_wall;
        }
        if (fb_read_states(b->c.zk, FB_TOPIC_ROUNDS, n, st, err, sizeof err) == 0)
            for (int32_t p = 0; p < n; p++)
                rd->leaders_moved += before[p].present && st[p].present && before[p].leader != st[p].leader;
    }
    if (rc == 0 && fb_round_restore(R, rd, rd->victim) != 0) {
        errmsg_set(rd->why, sizeof rd->why, "broker %d did not start again", rd->victim);
        rc = -1;
    }
    if (fb_await_settled(b, true, st) != 0 && rc == 0) {
        errmsg_set(rd->why, sizeof rd->why, "not settled (every broker back, every ISR full) within %d s",
                   b->o.timeout_s);
        rc = -1;
    }
    if (rc == 0 && (fb_rebalance(b) != 0 || fb_await_settled(b, true, st) != 0)) {
        errmsg_set(rd->why, sizeof rd->why, "the preferred leader election did not finish within %d s",
                   b->o.timeout_s);
        rc = -1;
    }
    fb_round_errors(R, rd, errors_at_start, n_errors_at_start);
    pthread_mutex_lock(&R->ledger.mu);
    rd->seq_to = R->ledger.n;
    pthread_mutex_unlock(&R->ledger.mu);
    rd->done = rc == 0;
    free(marks);
    free(before);
    free(st);
}

static int fb_rounds_setup(fb_rounds_t *R) {
    fb_bench_t *b = R->b;
    zkdata_config_t configs;
    zkdata_config_init(&configs);
    zkdata_config_set(&configs, "min.insync.replicas", FB_ROUNDS_MIN_ISR);
    tadmin_create_t req = {.topic = FB_TOPIC_ROUNDS,
                           .partitions = b->o.partitions,
                           .replication_factor = FB_REPLICATION,
                           .configs = &configs,
                           .with_topic_id = true};
    char msg[512];
    kerr_t kr = tadmin_create_topic(b->c.zk, &req, NULL, msg, sizeof msg);
    zkdata_config_free(&configs);
    if (kr != KERR_NONE) {
        fprintf(stderr, FB_PROG ": creating topic %s: %s (%s)\n", FB_TOPIC_ROUNDS, msg, kerr_name(kr));
        return -1;
    }
    fb_pstate_t *st = mem_calloc((size_t)b->o.partitions, sizeof *st);
    int rc = fb_await_settled(b, true, st);
    free(st);
    if (rc != 0) {
        fprintf(stderr, FB_PROG ": topic %s not led with full ISRs after %d s\n", FB_TOPIC_ROUNDS, b->o.timeout_s);
        return -1;
    }
    R->bootstrap = scluster_line(&b->c, "bootstrap");
    if (!R->bootstrap)
        return -1;
    ledger_init(&R->ledger, b->o.partitions);
    R->wall_minus_mono_ms = clock_wall_ms() - clock_mono_ms();
    ledger_producer_opts_t po = {.prog = FB_PROG,
                                 .bootstrap = R->bootstrap,
                                 .topic = FB_TOPIC_ROUNDS,
                                 .partitions = b->o.partitions,
                                 .rate = b->o.rate,
                                 .delivery_timeout_ms = 2 * b->o.timeout_s * 1000,
                                 .max_in_flight = b->o.max_in_flight,
                                 .reconnect_backoff_max_ms = FB_RECONNECT_BACKOFF_MAX_MS,
                                 .rdkafka_debug = b->o.rdkafka_debug,
                                 .ack_trace_path = b->o.ack_trace};
    if (ledger_producer_start(&R->producer, &po, &R->ledger) != 0 ||
        fb_tail_start(&R->tail, R->bootstrap, FB_TOPIC_ROUNDS, b->o.partitions) != 0)
        return -1;
    printf("topic %s: %d partitions, RF %d, min.insync.replicas %s; producing %d records a second (acks=all), "
           "%.0f ms between two records of a partition\n",
           FB_TOPIC_ROUNDS, b->o.partitions, FB_REPLICATION, FB_ROUNDS_MIN_ISR, b->o.rate,
           1000.0 * b->o.partitions / b->o.rate);
    scluster_sleep_ms(2000); /* every partition acknowledged a few times before the first failure */
    return 0;
}

/* Attributes each lost record to the round it was sent in (or before the
 * first: to none). */
static void fb_on_lost(void *ctx, int64_t seq, const ledger_entry_t *e) {
    fb_rounds_t *R = ctx;
    (void)e;
    for (int32_t i = 0; i < R->n_rounds; i++)
        if (seq >= R->rounds[i].seq_from && seq < R->rounds[i].seq_to)
            R->rounds[i].lost++;
}

/* After the rounds: the producer flushed, every ISR full, the topic read
 * back and checked against the ledger. */
static void fb_rounds_check(fb_rounds_t *R) {
    fb_bench_t *b = R->b;
    fb_tail_stop(&R->tail);
    ledger_producer_stop(&R->producer, 2 * b->o.timeout_s * 1000);
    fb_pstate_t *st = mem_calloc((size_t)b->o.partitions, sizeof *st);
    if (fb_await_settled(b, true, st) != 0)
        printf("NOT every replica back in every ISR after %d s\n", b->o.timeout_s);
    free(st);
    ledger_read_t *pr = mem_calloc((size_t)b->o.partitions, sizeof *pr);
    R->read_all = !scluster_interrupted && ledger_consume(FB_PROG, R->bootstrap, FB_TOPIC_ROUNDS, b->o.partitions,
                                                          R->producer.rk, pr, &scluster_interrupted) == 0;
    ledger_check(&R->ledger, pr, b->o.partitions, &R->check, fb_on_lost, R);
    for (int32_t p = 0; p < b->o.partitions; p++)
        free(pr[p].recs);
    free(pr);
}

/* ---- the report ---------------------------------------------------------------------- */

/* A figure over a scenario's rounds: p50/p99/max of one field. */
typedef int64_t (*fb_field_fn)(const fb_round_t *rd);

static int64_t fb_f_detection(const fb_round_t *rd) { return rd->detection_ms; }
static int64_t fb_f_election(const fb_round_t *rd) { return rd->election_ms; }
static int64_t fb_f_propagation(const fb_round_t *rd) { return rd->propagation_ms; }
static int64_t fb_f_recovery(const fb_round_t *rd) { return rd->recovery_ms; }
/* ours: what follows detection (election, propagation, the clients'
 * metadata refresh), the part the session timeout does not decide */
static int64_t fb_f_ours(const fb_round_t *rd) {
    if (rd->recovery_ms < 0)
        return -1;
    int64_t from = rd->detection_ms >= 0 ? rd->detection_ms : 0;
    return rd->recovery_ms > from ? rd->recovery_ms - from : 0;
}
static int64_t fb_f_unavail_p50(const fb_round_t *rd) { return rd->unavail_p50; }
static int64_t fb_f_unavail_p99(const fb_round_t *rd) { return rd->unavail_p99; }
static int64_t fb_f_unavail_max(const fb_round_t *rd) { return rd->unavail_max; }
static int64_t fb_f_calm_p99(const fb_round_t *rd) { return rd->calm_p99; }
static int64_t fb_f_gap_max(const fb_round_t *rd) { return rd->gap_max; }

static const struct {
    const char *name;
    fb_field_fn fn;
} fb_report_rows[] = {
    {"detection (kill → registration gone; session timeout)", fb_f_detection},
    {"election (→ last new leader state written)", fb_f_election},
    {"propagation (→ last LeaderAndIsr answered)", fb_f_propagation},
    {"client recovery (→ p99 partition acknowledged again)", fb_f_recovery},
    {"ours: client recovery − detection", fb_f_ours},
    {"unavailability per partition, p50", fb_f_unavail_p50},
    {"unavailability per partition, p99", fb_f_unavail_p99},
    {"unavailability per partition, max", fb_f_unavail_max},
    {"calm: a partition's last interval between acks before T0, p99", fb_f_calm_p99},
    {"consumer: longest gap per partition, max", fb_f_gap_max},
};

static void fb_md_cell(FILE *f, int64_t v) {
    if (v >= 0)
        fprintf(f, " %" PRId64 " |", v);
    else
        fprintf(f, " – |");
}

static int fb_write_markdown(const fb_rounds_t *R, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const fb_bench_t *b = R->b;
    fprintf(f, "# samsa-failover-bench: client rounds\n\n");
    fprintf(f, "%d partitions (RF %d, min.insync.replicas %s), %d brokers, a three-server ZooKeeper ensemble "
               "(tickTime 500 ms); zookeeper.session.timeout.ms=%d; %d records a second with acks=all "
               "(%.0f ms between two records of a partition: the resolution of the unavailability windows); "
               "seed %" PRIu64 ".\n\n",
            b->o.partitions, FB_REPLICATION, FB_ROUNDS_MIN_ISR, b->o.brokers, b->o.session_ms, b->o.rate,
            1000.0 * b->o.partitions / b->o.rate, b->o.seed);
    fprintf(f, "Acknowledged %" PRId64 ", lost %" PRId64 " (every partition read back and compared with the ledger), "
               "duplicated %" PRId64 ", failed deliveries %" PRId64 ".\n\n",
            R->check.acknowledged, R->check.lost, R->check.duplicated, R->check.failed);
    fprintf(f, "Times in ms after the failure (T0: the signal or command). Detection is the session timeout's "
               "(bounded by ZooKeeper's tickTime); the rest is ours. The book's ZooKeeper-mode Kafka moves "
               "leaders at about %.0f ms a partition: %.0f ms for %d partitions led by one broker of %d.\n",
            FB_BOOK_MS_PER_PARTITION, FB_BOOK_MS_PER_PARTITION * b->o.partitions / b->o.brokers, b->o.partitions,
            b->o.brokers);
    for (int sc = 0; sc < FB_N_SCENARIOS; sc++) {
        if (!(b->o.scenarios & (1u << sc)))
            continue;
        int64_t *v = mem_calloc((size_t)R->n_rounds + 1, sizeof *v);
        int32_t m = 0, done = 0;
        int64_t lost = 0, failed = 0;
        for (int32_t i = 0; i < R->n_rounds; i++)
            if (R->rounds[i].scenario == (fb_scenario_t)sc) {
                m++;
                done += R->rounds[i].done;
                lost += R->rounds[i].lost;
                failed += R->rounds[i].failed;
            }
        fprintf(f, "\n## %s\n\n%d round%s (%d completed); lost %" PRId64 "; failed deliveries %" PRId64 "\n\n",
                fb_scenario_names[sc], m, m == 1 ? "" : "s", done, lost, failed);
        fprintf(f, "| | p50 | p99 | max |\n|---|---:|---:|---:|\n");
        for (size_t row = 0; row < sizeof fb_report_rows / sizeof fb_report_rows[0]; row++) {
            int32_t k = 0;
            for (int32_t i = 0; i < R->n_rounds; i++)
                if (R->rounds[i].scenario == (fb_scenario_t)sc)
                    v[k++] = fb_report_rows[row].fn(&R->rounds[i]);
            fprintf(f, "| %s |", fb_report_rows[row].name);
            fb_md_cell(f, fb_percentile(v, k, 50));
            fb_md_cell(f, fb_percentile(v, k, 99));
            fb_md_cell(f, fb_percentile(v, k, 100));
            fprintf(f, "\n");
        }
        free(v);
    }
    fprintf(f, "\nPlots: acks.png (acknowledgements a second, failures marked), unavailability-cdf.png, "
               "phases.png (tools/failover-report.py).\n");
    return fclose(f) == 0 ? 0 : -1;
}

static int fb_write_csvs(const fb_rounds_t *R, const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rounds.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "scenario,round,target,t0_ms,detection_ms,election_ms,propagation_ms,recovery_ms,ours_ms,"
               "unavail_p50_ms,unavail_p99_ms,unavail_max_ms,calm_gap_p99_ms,consumer_gap_p99_ms,consumer_gap_max_ms,"
               "leaders_moved,deregistered,failed,errors,lost,done\n");
    for (int32_t i = 0; i < R->n_rounds; i++) {
        const fb_round_t *rd = &R->rounds[i];
        fprintf(f, "%s,%d,\"%s\",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                   ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%d,%d,%" PRId64 ",\"%s\",%" PRId64
                   ",%d\n",
                fb_scenario_names[rd->scenario], rd->number, rd->target, rd->t0_ms, rd->detection_ms, rd->election_ms,
                rd->propagation_ms, rd->recovery_ms, fb_f_ours(rd), rd->unavail_p50, rd->unavail_p99, rd->unavail_max,
                rd->calm_p99, rd->gap_p99, rd->gap_max, rd->leaders_moved, rd->deregistered, rd->failed, rd->errors, rd->lost,
                rd->done ? 1 : 0);
    }
    int rc = fclose(f);
    snprintf(path, sizeof path, "%s/partitions.csv", dir);
    if (rc != 0 || !(f = fopen(path, "w")))
        return -1;
    fprintf(f, "scenario,round,partition,unavailable_ms,consumer_gap_ms\n");
    for (int32_t i = 0; i < R->n_rounds; i++)
        for (int32_t p = 0; p < R->b->o.partitions; p++)
            fprintf(f, "%s,%d,%d,%" PRId64 ",%" PRId64 "\n", fb_scenario_names[R->rounds[i].scenario],
                    R->rounds[i].number, p, R->rounds[i].unavail[p], R->rounds[i].gaps[p]);
    rc = fclose(f);
    snprintf(path, sizeof path, "%s/acks.csv", dir);
    if (rc != 0 || !(f = fopen(path, "w")))
        return -1;
    fprintf(f, "second,acks\n");
    ledger_t *l = (ledger_t *)&R->ledger;
    pthread_mutex_lock(&l->mu);
    for (int64_t s = 0; s < l->n_secs; s++)
        fprintf(f, "%" PRId64 ",%" PRId64 "\n", s, l->acks_per_s[s]);
    pthread_mutex_unlock(&l->mu);
    return fclose(f) == 0 ? 0 : -1;
}

/* tools/failover-report.py next to samsa-cluster (the source tree), run
 * on the report folder. */
static int fb_run_plots(const fb_rounds_t *R, const char *dir) {
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s", R->b->c.script);
    char *slash = strrchr(script, '/');
    snprintf(slash ? slash + 1 : script, sizeof script - (size_t)(slash ? slash + 1 - script : 0),
             "failover-report.py");
    if (access(script, R_OK) != 0) {
        fprintf(stderr, FB_PROG ": %s not found: no plots\n", script);
        return -1;
    }
    return scluster_exec(&R->b->c, NULL, "/usr/bin/python3", (const char *const[]){script, dir, NULL});
}

static int fb_write_report(const fb_rounds_t *R) {
    const char *dir = R->b->o.report;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, FB_PROG ": cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char md[PATH_MAX];
    snprintf(md, sizeof md, "%s/report.md", dir);
    if (fb_write_csvs(R, dir) != 0 || fb_write_markdown(R, md) != 0) {
        fprintf(stderr, FB_PROG ": cannot write the report in %s\n", dir);
        return -1;
    }
    printf("report: %s (CSV: rounds.csv, partitions.csv, acks.csv)\n", md);
    if (!R->b->o.no_plots && fb_run_plots(R, dir) != 0)
        return -1;
    return 0;
}

static void fb_rounds_summary(const fb_rounds_t *R) {
    const ledger_check_t *ck = &R->check;
    printf("\n" FB_PROG ": %d rounds over %d partitions, seed %" PRIu64 ", zookeeper.session.timeout.ms=%d\n",
           R->n_rounds, R->b->o.partitions, R->b->o.seed, R->b->o.session_ms);
    printf("sent: %" PRId64 "\nacknowledged: %" PRId64 "\nfailed: %" PRId64 "\nconsumed: %" PRId64 "\nlost: %" PRId64
           "\nduplicated: %" PRId64 "\n",
           ck->sent, ck->acknowledged, ck->failed, ck->consumed, ck->lost, ck->duplicated);
    for (int64_t i = 0; i < ck->lost && i < LEDGER_LIST_LOST; i++)
        printf("  lost seq %" PRId64 " (acknowledged at %s-%d offset %" PRId64 ")\n", ck->first_lost[i].seq,
               FB_TOPIC_ROUNDS, ck->first_lost[i].partition, ck->first_lost[i].offset);
    char errors[512];
    ledger_errors_text((ledger_t *)&R->ledger, errors, sizeof errors);
    printf("producer errors: %s\n", errors[0] ? errors : "none");
    if (R->b->o.scenarios & (1u << FB_PAUSE)) {
        int64_t lost = 0;
        int32_t m = 0;
        for (int32_t i = 0; i < R->n_rounds; i++)
            if (R->rounds[i].scenario == FB_PAUSE) {
                lost += R->rounds[i].lost;
                m++;
            }
        /* a paused leader that acknowledged after its replacement would
         * have acknowledged records its successor never had: lost */
        printf("pause: %s (%d round%s, %" PRId64 " acknowledged records lost)\n",
               lost == 0 && R->read_all ? "no acknowledgement after replacement" : "ACKNOWLEDGED AFTER REPLACEMENT",
               m, m == 1 ? "" : "s", lost);
    }
}

/* The client rounds: every scenario asked, --rounds times each, in the
 * order of fb_scenario_t. true when every round completed, the topic was
 * read back and nothing acknowledged was lost. */
static bool fb_run_rounds(fb_bench_t *b) {
    fb_rounds_t R = {.b = b, .rng = b->o.seed};
    int32_t per = b->o.rounds, kinds = 0;
    for (int sc = 0; sc < FB_N_SCENARIOS; sc++)
        kinds += (b->o.scenarios >> sc) & 1;
    R.rounds = mem_calloc((size_t)(per * kinds), sizeof *R.rounds);
    bool ok = fb_rounds_setup(&R) == 0;
    for (int sc = 0; ok && sc < FB_N_SCENARIOS; sc++) {
        if (!(b->o.scenarios & (1u << sc)))
            continue;
        for (int32_t i = 0; i < per && !scluster_interrupted; i++) {
            fb_round_t *rd = &R.rounds[R.n_rounds++];
            *rd = (fb_round_t){.scenario = (fb_scenario_t)sc,
                               .number = i + 1,
                               .victim = -1,
                               .detection_ms = -1,
                               .election_ms = -1,
                               .propagation_ms = -1,
                               .recovery_ms = -1,
                               .unavail = mem_calloc((size_t)b->o.partitions, sizeof(int64_t)),
                               .gaps = mem_calloc((size_t)b->o.partitions, sizeof(int64_t)),
                               .watch = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER}};
            fb_round_run(&R, rd);
            fb_round_print(&R, rd);
            ok = ok && rd->done;
        }
    }
    if (R.producer.rk && !scluster_interrupted) {
        fb_rounds_check(&R);
        for (int32_t i = 0; i < R.n_rounds; i++)
            if (R.rounds[i].lost)
                printf("round %s %d lost %" PRId64 " acknowledged records\n",
                       fb_scenario_names[R.rounds[i].scenario], R.rounds[i].number, R.rounds[i].lost);
        fb_rounds_summary(&R);
        if (b->o.report && fb_write_report(&R) != 0)
            ok = false;
        ok = ok && R.read_all && R.check.lost == 0;
    } else {
        ok = false;
    }
    printf("result: %s\n", ok ? "OK" : "FAILED");
    fb_tail_stop(&R.tail);
    ledger_producer_destroy(&R.producer);
    if (R.ledger.part_last_ack_ms)
        ledger_free(&R.ledger);
    free(R.bootstrap);
    for (int32_t i = 0; i < R.n_rounds; i++) {
        free(R.rounds[i].unavail);
        free(R.rounds[i].gaps);
    }
    /* the watches: zkc may call them until zkc_close (scluster_cleanup) */
    b->rounds = R.rounds;
    return ok;
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
    if (b.o.scenarios) {
        logger_set_level(LOGGER_ERROR); /* not the session's warnings while ZooKeeper servers go away */
        bool ok = scluster_setup_dir(&b.c, b.o.dir, FB_PROG) == 0 && fb_start_cluster(&b, 3) == 0 &&
                  scluster_zk_open(&b.c) == 0 && scluster_await_controller(&b.c, -1, b.o.timeout_s) > 0 &&
                  fb_run_rounds(&b);
        if (scluster_interrupted)
            fprintf(stderr, FB_PROG ": interrupted\n");
        scluster_cleanup(&b.c);
        free(b.rounds);
        free(failure.new_leaders);
        free(shutdown.new_leaders);
        return ok && !scluster_interrupted ? FB_EXIT_OK : FB_EXIT_FAIL;
    }
    bool ready = scluster_setup_dir(&b.c, b.o.dir, FB_PROG) == 0 && fb_start_cluster(&b, 1) == 0 &&
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
