/*
 * samsa-kill-rounds — proof that no acknowledged record is lost: a producer
 * with acks=all writes sequence-numbered records while, round after round,
 * brokers are killed, stopped and restarted and ZooKeeper is restarted;
 * afterwards every partition is read back and compared with the ledger of
 * acknowledgements, and every replica's log with the others'.
 *
 *   samsa-kill-rounds [--dir DIR [--attach]] [--rounds N] [--seed S] ...
 *
 * The cluster is a samsa-cluster in DIR (started here unless --attach). A
 * new topic gets --partitions partitions, --replication-factor replicas,
 * min.insync.replicas and unclean.leader.election.enable as asked. One
 * librdkafka producer, idempotence off, acks=all, retries on (as a user
 * runs one: a retried batch may land twice, and that is reported, not
 * hidden), sends "seq:<n>" to partition n % partitions (key "p<partition>")
 * at --rate records a second, and its delivery reports fill the ledger:
 * seq -> (partition, offset), or the error. The ledger, the producer and
 * the read-back are tools/ledger.{c,h}, shared with samsa-failover-bench.
 *
 * Each round picks, from --seed alone (splitmix64, the same on every
 * machine), one of the --actions:
 *   kill-leader        SIGKILL the leader of a random partition, restart it
 *                      after --down-ms;
 *   kill-controller    the same for the controller;
 *   stop-follower      SIGSTOP a follower of a random partition for
 *                      --stop-ms, then SIGCONT;
 *   restart-zookeeper  stop the private ZooKeeper, wait (at most a third of
 *                      the brokers' session, so that they reconnect within
 *                      it), start it again on the same port and data.
 *   kill-isr           (named only) a follower out of the ISR, then every
 *                      ISR member dead and the follower back first: the
 *                      state unclean.leader.election.enable decides. The
 *                      round measures the offline window, and marks in the
 *                      ledger the records an uncleanly elected replica
 *                      lacked (past its log end, read from its files while
 *                      it was down): the only losses that exit 0.
 * and then waits until the cluster has settled (every broker registered,
 * every partition led by a registered broker). One line per round tells
 * what was done, the longest time without an acknowledgement during the
 * round, the deliveries that failed, and the acknowledgements so far.
 *
 * After the rounds the producer is flushed, every replica is waited for in
 * every ISR, a separate consumer (no group: the partitions are assigned,
 * fetched from their leaders) reads every partition from the beginning to
 * its high watermark, and the report counts: acknowledged, consumed, lost
 * (acknowledged, and nowhere in the topic), duplicated (extra copies of a
 * seq), out of order (a seq below one at a lower offset of its partition),
 * unacknowledged but present (failed or unreported deliveries that did land:
 * allowed), and whether every replica's log is identical up to the high
 * watermark: the segment files of each replica are read from the brokers'
 * folders and compared batch by batch, byte for byte (a follower stores
 * the leader's batches unchanged).
 *
 * --wipe-killed is fault injection for testing the check itself: a killed
 * broker's partition folders of the topic are deleted before it restarts,
 * which loses acknowledged records whenever it held the only copy.
 *
 * Exit status: 0 when nothing acknowledged was lost and the replicas are
 * identical, 1 otherwise (or when the run could not be done), 2 on usage.
 */
#include "ledger.h"
#include "scluster.h"
#include "rdkafka_tool.h"

#include "admin/topic_admin.h"
#include "log/log_segment.h"
#include "log/record_batch.h"
#include "proto/kerr.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KR_PROG "samsa-kill-rounds"

#define KR_EXIT_OK 0
#define KR_EXIT_FAIL 1
#define KR_EXIT_USAGE 2

#define KR_DEFAULT_TOPIC "kill-rounds"
#define KR_DEFAULT_BROKERS 3
#define KR_MAX_BROKERS 32
#define KR_DEFAULT_PARTITIONS 3
#define KR_MAX_PARTITIONS 1000
#define KR_DEFAULT_RF 3
#define KR_DEFAULT_MIN_ISR 2
#define KR_DEFAULT_ROUNDS 10
#define KR_DEFAULT_RATE 200
#define KR_DEFAULT_DOWN_MS 3000
#define KR_DEFAULT_STOP_MS 3000
#define KR_DEFAULT_SESSION_MS 6000
#define KR_DEFAULT_TIMEOUT_S 60
#define KR_DEFAULT_DELIVERY_TIMEOUT_MS 30000
#define KR_MAX_OVERRIDES 16

/* How long a round waits between reads of the cluster's state. */
#define KR_POLL_MS 100
/* The largest batch the replica comparison accepts (Kafka's default
 * message.max.bytes is 1 MiB; room to spare). */
#define KR_MAX_BATCH ((size_t)16 << 20)

typedef enum kr_action {
    KR_KILL_LEADER,
    KR_KILL_CONTROLLER,
    KR_STOP_FOLLOWER,
    KR_RESTART_ZOOKEEPER,
    KR_KILL_ISR,
    KR_N_ACTIONS
} kr_action_t;

static const char *const kr_action_names[KR_N_ACTIONS] = {"kill-leader", "kill-controller", "stop-follower",
                                                          "restart-zookeeper", "kill-isr"};

/* kill-isr is asked for by name only: the seeds' rounds of the default
 * set (and the figures measured with them) stay what they were. */
#define KR_DEFAULT_ACTIONS ((1u << KR_KILL_ISR) - 1)

typedef struct kr_opts {
    const char *dir; /* NULL: a temporary folder */
    bool attach;     /* the cluster in dir runs already */
    bool keep;
    int32_t brokers;
    int base_port; /* 0: free ports */
    const char *overrides[KR_MAX_OVERRIDES];
    int n_overrides;
    int32_t session_ms;
    const char *topic;
    int32_t partitions;
    int32_t rf;
    int32_t min_isr;
    bool unclean;
    int32_t rounds;
    uint64_t seed;
    unsigned actions; /* bit per kr_action_t */
    int32_t rate;     /* records a second */
    int32_t down_ms;
    int32_t stop_ms;
    int32_t delivery_timeout_ms;
    int timeout_s;
    bool wipe_killed;
    const char *json;
    const char *broker;
    const char *cluster_script;
} kr_opts_t;

/* ---- options --------------------------------------------------------------------------- */

static void kr_usage(FILE *f) {
    fprintf(f,
            "usage: " KR_PROG " [options]\n"
            "Produces sequence-numbered records with acks=all through rounds of broker\n"
            "kills, follower stops and ZooKeeper restarts, then checks that every\n"
            "acknowledged record is in the topic and that the replicas are identical.\n"
            "  --dir DIR              the cluster's folder (default: a temporary one)\n"
            "  --attach               use the samsa-cluster running in --dir\n"
            "  --keep                 keep the temporary folder (logs)\n"
            "  --brokers B            brokers to start (default %d)\n"
            "  --base-port P          broker ID listens on P+ID-1 (default: free ports)\n"
            "  --session-ms MS        the brokers' zookeeper.session.timeout.ms (default %d)\n"
            "  --override KEY=VALUE   another broker setting (repeatable)\n"
            "  --topic NAME           the topic to create (default %s)\n"
            "  --partitions N         (default %d)\n"
            "  --replication-factor R (default %d)\n"
            "  --min-insync-replicas M  the topic's min.insync.replicas (default %d)\n"
            "  --unclean true|false   the topic's unclean.leader.election.enable (default false)\n"
            "  --rounds N             (default %d)\n"
            "  --seed S               chooses every round's action and target (default 1)\n"
            "  --actions A,B,...      among kill-leader, kill-controller, stop-follower,\n"
            "                         restart-zookeeper (default: these four), kill-isr\n"
            "  --rate R               records a second (default %d)\n"
            "  --down-ms MS           how long a killed broker stays down (default %d)\n"
            "  --stop-ms MS           how long a follower stays stopped (default %d)\n"
            "  --delivery-timeout-ms MS  the producer's message.timeout.ms (default %d)\n"
            "  --timeout S            how long the cluster may take to settle (default %d)\n"
            "  --wipe-killed          delete a killed broker's partitions of the topic before\n"
            "                         it restarts (loses data on purpose: tests the check)\n"
            "  --json FILE            the report's figures as JSON\n"
            "  --broker PATH          the samsa-broker to run\n"
            "  --cluster-script PATH  tools/samsa-cluster\n"
            "  --help\n",
            KR_DEFAULT_BROKERS, KR_DEFAULT_SESSION_MS, KR_DEFAULT_TOPIC, KR_DEFAULT_PARTITIONS, KR_DEFAULT_RF,
            KR_DEFAULT_MIN_ISR, KR_DEFAULT_ROUNDS, KR_DEFAULT_RATE, KR_DEFAULT_DOWN_MS, KR_DEFAULT_STOP_MS,
            KR_DEFAULT_DELIVERY_TIMEOUT_MS, KR_DEFAULT_TIMEOUT_S);
}

static bool kr_parse_int(const char *s, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* A comma-separated list of action names as a bit set; 0 when a name is
 * unknown. */
static unsigned kr_parse_actions(const char *s) {
    unsigned set = 0;
    char *copy = mem_strdup(s), *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int a = 0;
        while (a < KR_N_ACTIONS && strcmp(w, kr_action_names[a]) != 0)
            a++;
        if (a == KR_N_ACTIONS) {
            set = 0;
            break;
        }
        set |= 1u << a;
    }
    free(copy);
    return set;
}

/* 0, 1 for --help, or KR_EXIT_USAGE after a message. */
static int kr_parse_args(int argc, char **argv, kr_opts_t *o) {
    enum {
        O_DIR = 256, O_ATTACH, O_KEEP, O_BROKERS, O_PORT, O_SESSION, O_OVERRIDE, O_TOPIC, O_PARTS, O_RF, O_MIN_ISR,
        O_UNCLEAN, O_ROUNDS, O_SEED, O_ACTIONS, O_RATE, O_DOWN, O_STOP, O_DELIVERY, O_TIMEOUT, O_WIPE, O_JSON,
        O_BROKER, O_SCRIPT, O_HELP
    };
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, O_DIR},
        {"attach", no_argument, NULL, O_ATTACH},
        {"keep", no_argument, NULL, O_KEEP},
        {"brokers", required_argument, NULL, O_BROKERS},
        {"base-port", required_argument, NULL, O_PORT},
        {"session-ms", required_argument, NULL, O_SESSION},
        {"override", required_argument, NULL, O_OVERRIDE},
        {"topic", required_argument, NULL, O_TOPIC},
        {"partitions", required_argument, NULL, O_PARTS},
        {"replication-factor", required_argument, NULL, O_RF},
        {"min-insync-replicas", required_argument, NULL, O_MIN_ISR},
        {"unclean", required_argument, NULL, O_UNCLEAN},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"seed", required_argument, NULL, O_SEED},
        {"actions", required_argument, NULL, O_ACTIONS},
        {"rate", required_argument, NULL, O_RATE},
        {"down-ms", required_argument, NULL, O_DOWN},
        {"stop-ms", required_argument, NULL, O_STOP},
        {"delivery-timeout-ms", required_argument, NULL, O_DELIVERY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"wipe-killed", no_argument, NULL, O_WIPE},
        {"json", required_argument, NULL, O_JSON},
        {"broker", required_argument, NULL, O_BROKER},
        {"cluster-script", required_argument, NULL, O_SCRIPT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (kr_opts_t){.brokers = KR_DEFAULT_BROKERS,
                     .session_ms = KR_DEFAULT_SESSION_MS,
                     .topic = KR_DEFAULT_TOPIC,
                     .partitions = KR_DEFAULT_PARTITIONS,
                     .rf = KR_DEFAULT_RF,
                     .min_isr = KR_DEFAULT_MIN_ISR,
                     .rounds = KR_DEFAULT_ROUNDS,
                     .seed = 1,
                     .actions = KR_DEFAULT_ACTIONS,
                     .rate = KR_DEFAULT_RATE,
                     .down_ms = KR_DEFAULT_DOWN_MS,
                     .stop_ms = KR_DEFAULT_STOP_MS,
                     .delivery_timeout_ms = KR_DEFAULT_DELIVERY_TIMEOUT_MS,
                     .timeout_s = KR_DEFAULT_TIMEOUT_S};
    long long v = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case O_DIR: o->dir = optarg; break;
        case O_ATTACH: o->attach = true; break;
        case O_KEEP: o->keep = true; break;
        case O_BROKERS:
            if (kr_parse_int(optarg, 1, KR_MAX_BROKERS, &v))
                o->brokers = (int32_t)v;
            else
                bad = "--brokers wants a number from 1 to 32";
            break;
        case O_PORT:
            if (kr_parse_int(optarg, 1, 65535, &v))
                o->base_port = (int)v;
            else
                bad = "--base-port wants a port number";
            break;
        case O_SESSION:
            if (kr_parse_int(optarg, 1000, 60000, &v))
                o->session_ms = (int32_t)v;
            else
                bad = "--session-ms wants milliseconds from 1000 to 60000";
            break;
        case O_OVERRIDE:
            if (o->n_overrides == KR_MAX_OVERRIDES || !strchr(optarg, '='))
                bad = "--override wants KEY=VALUE (at most 16 of them)";
            else
                o->overrides[o->n_overrides++] = optarg;
            break;
        case O_TOPIC: o->topic = optarg; break;
        case O_PARTS:
            if (kr_parse_int(optarg, 1, KR_MAX_PARTITIONS, &v))
                o->partitions = (int32_t)v;
            else
                bad = "--partitions wants a number from 1 to 1000";
            break;
        case O_RF:
            if (kr_parse_int(optarg, 1, KR_MAX_BROKERS, &v))
                o->rf = (int32_t)v;
            else
                bad = "--replication-factor wants a number from 1 to 32";
            break;
        case O_MIN_ISR:
            if (kr_parse_int(optarg, 1, KR_MAX_BROKERS, &v))
                o->min_isr = (int32_t)v;
            else
                bad = "--min-insync-replicas wants a number from 1 to 32";
            break;
        case O_UNCLEAN:
            if (strcmp(optarg, "true") == 0 || strcmp(optarg, "false") == 0)
                o->unclean = optarg[0] == 't';
            else
                bad = "--unclean wants true or false";
            break;
        case O_ROUNDS:
            if (kr_parse_int(optarg, 0, 100000, &v))
                o->rounds = (int32_t)v;
            else
                bad = "--rounds wants a number from 0 to 100000";
            break;
        case O_SEED:
            if (kr_parse_int(optarg, 0, INT64_MAX, &v))
                o->seed = (uint64_t)v;
            else
                bad = "--seed wants a non-negative number";
            break;
        case O_ACTIONS:
            if (!(o->actions = kr_parse_actions(optarg)))
                bad = "--actions wants names among kill-leader, kill-controller, stop-follower, restart-zookeeper, "
                      "kill-isr";
            break;
        case O_RATE:
            if (kr_parse_int(optarg, 1, 100000, &v))
                o->rate = (int32_t)v;
            else
                bad = "--rate wants records a second, from 1 to 100000";
            break;
        case O_DOWN:
        case O_STOP:
            if (!kr_parse_int(optarg, 0, 600000, &v))
                bad = c == O_DOWN ? "--down-ms wants milliseconds up to 600000"
                                  : "--stop-ms wants milliseconds up to 600000";
            else if (c == O_DOWN)
                o->down_ms = (int32_t)v;
            else
                o->stop_ms = (int32_t)v;
            break;
        case O_DELIVERY:
            if (kr_parse_int(optarg, 1000, 3600000, &v))
                o->delivery_timeout_ms = (int32_t)v;
            else
                bad = "--delivery-timeout-ms wants milliseconds from 1000 to 3600000";
            break;
        case O_TIMEOUT:
            if (kr_parse_int(optarg, 1, 3600, &v))
                o->timeout_s = (int)v;
            else
                bad = "--timeout wants seconds (1 to 3600)";
            break;
        case O_WIPE: o->wipe_killed = true; break;
        case O_JSON: o->json = optarg; break;
        case O_BROKER: o->broker = optarg; break;
        case O_SCRIPT: o->cluster_script = optarg; break;
        case 'h':
        case O_HELP: kr_usage(stdout); return 1;
        default:
            fprintf(stderr, KR_PROG ": unknown or incomplete option '%s'\n", argv[optind - 1]);
            kr_usage(stderr);
            return KR_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, KR_PROG ": %s, not '%s'\n", bad, optarg);
            return KR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, KR_PROG ": unexpected argument '%s'\n", argv[optind]);
        return KR_EXIT_USAGE;
    }
    if (o->attach && !o->dir) {
        fprintf(stderr, KR_PROG ": --attach needs --dir, the folder of a running samsa-cluster\n");
        return KR_EXIT_USAGE;
    }
    if (!o->attach && o->rf > o->brokers) {
        fprintf(stderr, KR_PROG ": --replication-factor %d needs as many brokers (--brokers %d)\n", o->rf, o->brokers);
        return KR_EXIT_USAGE;
    }
    if (o->base_port && o->base_port + o->brokers - 1 > 65535) {
        fprintf(stderr, KR_PROG ": --base-port %d leaves no room for %d brokers\n", o->base_port, o->brokers);
        return KR_EXIT_USAGE;
    }
    return 0;
}

/* ---- the cluster ------------------------------------------------------------------------- */

/* What the run holds; released by kr_cleanup. */
typedef struct kr_run {
    kr_opts_t o;
    scluster_t c;
    char *zk_script;  /* samsa-zookeeper (owned) */
    char zk_port[16]; /* the private ZooKeeper's port */
    char *bootstrap;  /* owned */
    int32_t **replicas; /* per partition, the assignment (owned) */
    int32_t *n_replicas;
    uint64_t rng;
} kr_run_t;

/* splitmix64: the rounds follow from the seed alone, on any machine. */
static uint64_t kr_next(kr_run_t *r) {
    uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int32_t kr_pick(kr_run_t *r, int32_t n) { return (int32_t)(kr_next(r) % (uint64_t)n); }

/* brokers=N of an existing cluster.conf. */
static int32_t kr_cluster_brokers(const kr_run_t *r) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cluster.conf", r->c.dir);
    FILE *f = fopen(path, "r");
    int32_t n = -1;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "brokers=%d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static int kr_start_cluster(kr_run_t *r) {
    int base = r->o.base_port ? r->o.base_port : scluster_free_base_port(r->o.brokers);
    if (!base) {
        fprintf(stderr, KR_PROG ": no %d consecutive free ports found\n", r->o.brokers);
        return -1;
    }
    char brokers[16], port[16], session[64];
    snprintf(brokers, sizeof brokers, "%d", r->o.brokers);
    snprintf(port, sizeof port, "%d", base);
    snprintf(session, sizeof session, "zookeeper.session.timeout.ms=%d", r->o.session_ms);
    const char *args[8 + 2 * KR_MAX_OVERRIDES] = {"start", "--brokers", brokers, "--base-port", port,
                                                  "--override", session};
    size_t n = 7;
    for (int i = 0; i < r->o.n_overrides; i++) {
        args[n++] = "--override";
        args[n++] = r->o.overrides[i];
    }
    args[n] = NULL;
    printf("starting ZooKeeper and %d brokers in %s (ports %d-%d)\n", r->o.brokers, r->c.dir, base,
           base + r->o.brokers - 1);
    r->c.up = true; /* a failed start may have left something running */
    return scluster_run(&r->c, NULL, args);
}

/* samsa-zookeeper: SAMSA_ZOOKEEPER as samsa-cluster reads it, else next to
 * samsa-cluster. */
static int kr_find_zk_script(kr_run_t *r) {
    const char *env = getenv("SAMSA_ZOOKEEPER");
    char path[PATH_MAX];
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        snprintf(path, sizeof path, "%s", r->c.script);
        char *slash = strrchr(path, '/');
        snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "samsa-zookeeper");
    }
    if (access(path, X_OK) != 0) {
        fprintf(stderr, KR_PROG ": samsa-zookeeper not found at %s (set SAMSA_ZOOKEEPER)\n", path);
        return -1;
    }
    r->zk_script = mem_strdup(path);
    return 0;
}

/* The state znode of a partition; -1 when it cannot be read. */
static int kr_read_state(const kr_run_t *r, int32_t partition, zkdata_partition_state_t *s) {
    char path[ZKDATA_PATH_MAX], *data = NULL, err[256];
    int len = 0;
    zkdata_partition_state_init(s);
    zkdata_path_partition_state(path, sizeof path, r->o.topic, partition);
    int rc = -1;
    if (zkc_get(r->c.zk, path, &data, &len, NULL) == ZKC_OK) {
        zkdata_partition_state_free(s);
        rc = zkdata_partition_state_decode(data, len < 0 ? 0 : (size_t)len, s, err, sizeof err);
    }
    free(data);
    return rc;
}

static bool kr_is_isr(const zkdata_partition_state_t *s, int32_t id) {
    for (size_t i = 0; i < s->n_isr; i++)
        if (s->isr[i] == id)
            return true;
    return false;
}

/* Settled: every broker registered, every partition led by a registered
 * broker; with full_isr, every replica in every ISR too. Waits up to
 * timeout_s; the time it took in ms, or -1. */
static int64_t kr_await_settled(const kr_run_t *r, bool full_isr, int timeout_s) {
    int64_t t0 = clock_mono_ms(), deadline = t0 + (int64_t)timeout_s * 1000;
    int32_t brokers = kr_cluster_brokers(r);
    while (!scluster_interrupted) {
        uint64_t reg = scluster_registered(r->c.zk);
        bool ok = true;
        for (int32_t id = 1; id <= brokers && ok; id++)
            ok = (reg >> id) & 1;
        for (int32_t p = 0; p < r->o.partitions && ok; p++) {
            zkdata_partition_state_t s;
            ok = kr_read_state(r, p, &s) == 0 && s.leader > 0 && s.leader < 64 && ((reg >> s.leader) & 1);
            for (int32_t i = 0; ok && full_isr && i < r->n_replicas[p]; i++)
                ok = kr_is_isr(&s, r->replicas[p][i]);
            zkdata_partition_state_free(&s);
        }
        if (ok)
            return clock_mono_ms() - t0;
        if (clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(KR_POLL_MS);
    }
    return -1;
}

static int kr_create_topic(kr_run_t *r) {
    zkdata_config_t configs;
    zkdata_config_init(&configs);
    char min_isr[16];
    snprintf(min_isr, sizeof min_isr, "%d", r->o.min_isr);
    zkdata_config_set(&configs, "min.insync.replicas", min_isr);
    zkdata_config_set(&configs, "unclean.leader.election.enable", r->o.unclean ? "true" : "false");
    tadmin_create_t req = {.topic = r->o.topic,
                           .partitions = r->o.partitions,
                           .replication_factor = r->o.rf,
                           .configs = &configs,
                           .with_topic_id = true};
    char msg[512];
    kerr_t rc = tadmin_create_topic(r->c.zk, &req, NULL, msg, sizeof msg);
    zkdata_config_free(&configs);
    if (rc != KERR_NONE) {
        fprintf(stderr, KR_PROG ": creating topic %s: %s (%s)\n", r->o.topic, msg, kerr_name(rc));
        return -1;
    }
    return 0;
}

/* Reads the topic's assignment into r->replicas. */
static int kr_read_assignment(kr_run_t *r) {
    char path[ZKDATA_PATH_MAX], *data = NULL, err[256];
    int len = 0;
    zkdata_path_topic(path, sizeof path, r->o.topic);
    zkdata_topic_assignment_t a;
    zkdata_topic_assignment_init(&a);
    int rc = -1;
    if (zkc_get(r->c.zk, path, &data, &len, NULL) == ZKC_OK) {
        zkdata_topic_assignment_free(&a);
        rc = zkdata_topic_assignment_decode(data, len < 0 ? 0 : (size_t)len, &a, err, sizeof err);
    }
    free(data);
    if (rc == 0 && (int32_t)a.n_partitions != r->o.partitions)
        rc = -1;
    if (rc == 0) {
        r->replicas = mem_calloc((size_t)r->o.partitions, sizeof *r->replicas);
        r->n_replicas = mem_calloc((size_t)r->o.partitions, sizeof *r->n_replicas);
        for (size_t i = 0; i < a.n_partitions; i++) {
            int32_t p = a.partitions[i].partition;
            r->replicas[p] = zkdata_ints_copy(a.partitions[i].replicas, a.partitions[i].n_replicas);
            r->n_replicas[p] = (int32_t)a.partitions[i].n_replicas;
        }
    } else {
        fprintf(stderr, KR_PROG ": cannot read the assignment of %s\n", r->o.topic);
    }
    zkdata_topic_assignment_free(&a);
    return rc;
}

/* ---- the rounds -------------------------------------------------------------------------- */

static int kr_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, KR_PROG ": cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* --wipe-killed: deletes broker id's folders of the topic's partitions. */
static void kr_wipe(const kr_run_t *r, int32_t id) {
    for (int32_t p = 0; p < r->o.partitions; p++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/broker-%d/logs/%s-%d", r->c.dir, id, r->o.topic, p);
        struct stat st;
        if (stat(path, &st) == 0)
            nftw(path, kr_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* SIGKILL, --down-ms, start again. 0 or -1. */
static int kr_kill_and_restart(kr_run_t *r, int32_t id) {
    char sid[16];
    snprintf(sid, sizeof sid, "%d", id);
    if (scluster_run(&r->c, NULL, (const char *const[]){"kill", sid, NULL}) != 0)
        return -1;
    if (r->o.wipe_killed)
        kr_wipe(r, id);
    scluster_sleep_ms(r->o.down_ms);
    char wait[16];
    snprintf(wait, sizeof wait, "%d", r->o.timeout_s);
    return scluster_run(&r->c, NULL, (const char *const[]){"start-broker", sid, "--wait", wait, NULL});
}

/* SIGSTOP for --stop-ms, then SIGCONT (sent also when interrupted). */
static int kr_stop_and_continue(kr_run_t *r, int32_t id) {
    pid_t pid = scluster_broker_pid(&r->c, id);
    if (pid < 0 || kill(pid, SIGSTOP) != 0) {
        fprintf(stderr, KR_PROG ": cannot stop broker %d (pid %ld): %s\n", id, (long)pid,
                pid < 0 ? "no pid recorded" : strerror(errno));
        return -1;
    }
    scluster_sleep_ms(r->o.stop_ms);
    kill(pid, SIGCONT);
    return 0;
}

/* Stops ZooKeeper, waits at most a third of the brokers' session (so that
 * they reconnect within it), starts it again on the same port and data. */
static int kr_restart_zookeeper(kr_run_t *r, int32_t *down_ms) {
    char zdir[PATH_MAX];
    snprintf(zdir, sizeof zdir, "%s/zookeeper", r->c.dir);
    if (scluster_exec(&r->c, NULL, r->zk_script, (const char *const[]){"stop", "--dir", zdir, NULL}) != 0)
        return -1;
    *down_ms = r->o.down_ms < r->o.session_ms / 3 ? r->o.down_ms : r->o.session_ms / 3;
    scluster_sleep_ms(*down_ms);
    /* the settings samsa-cluster starts it with */
    return scluster_exec(&r->c, NULL, r->zk_script,
                         (const char *const[]){"start", "--dir", zdir, "--port", r->zk_port, "--tick-ms", "500",
                                               "--4lw", "srvr,ruok,dump", NULL});
}

/* One round's line, kept for the JSON report. */
typedef struct kr_round {
    kr_action_t action;
    char target[96];
    bool done;
    int64_t gap_ms;
    int64_t failed;
    int64_t acks;
    int64_t settle_ms; /* -1: did not settle */
    /* kill-isr only */
    int64_t offline_ms;   /* from the ISR's kill to a live leader; -1: not measured */
    bool stayed_offline;  /* unclean false: no leader while the out-of-sync replica was up */
    int32_t elected;      /* the partition's leader afterwards */
    bool unclean;         /* elected without being in the ISR */
    int64_t lacked;       /* acknowledged records the unclean leaders did not have */
} kr_round_t;

static int kr_kill_isr(kr_run_t *r, ledger_t *l, int32_t p, int32_t pick, kr_round_t *rd);

static void kr_pick_action(kr_run_t *r, kr_round_t *rd) {
    int32_t enabled[KR_N_ACTIONS], n = 0;
    for (int a = 0; a < KR_N_ACTIONS; a++)
        if (r->o.actions & (1u << a))
            enabled[n++] = a;
    rd->action = (kr_action_t)enabled[kr_pick(r, n)];
}

/* Does one round's action; the target is described in rd->target. */
static int kr_do_round(kr_run_t *r, ledger_t *l, kr_round_t *rd) {
    int32_t p = kr_pick(r, r->o.partitions), pick = kr_pick(r, INT32_MAX);
    zkdata_partition_state_t s;
    switch (rd->action) {
    case KR_KILL_LEADER: {
        if (kr_read_state(r, p, &s) != 0 || s.leader < 0) {
            zkdata_partition_state_free(&s);
            errmsg_set(rd->target, sizeof rd->target, "%s-%d has no leader", r->o.topic, p);
            return -1;
        }
        int32_t leader = s.leader;
        zkdata_partition_state_free(&s);
        errmsg_set(rd->target, sizeof rd->target, "broker %d (leader of %s-%d), down %d ms", leader, r->o.topic, p,
                 r->o.down_ms);
        return kr_kill_and_restart(r, leader);
    }
    case KR_KILL_CONTROLLER: {
        int32_t ctrl = scluster_read_controller(r->c.zk);
        if (ctrl < 0) {
            errmsg_set(rd->target, sizeof rd->target, "no controller");
            return -1;
        }
        errmsg_set(rd->target, sizeof rd->target, "broker %d (controller), down %d ms", ctrl, r->o.down_ms);
        return kr_kill_and_restart(r, ctrl);
    }
    case KR_STOP_FOLLOWER: {
        int32_t leader = kr_read_state(r, p, &s) == 0 ? s.leader : -1, followers[KR_MAX_BROKERS], n = 0;
        zkdata_partition_state_free(&s);
        for (int32_t i = 0; i < r->n_replicas[p]; i++)
            if (r->replicas[p][i] != leader)
                followers[n++] = r->replicas[p][i];
        if (n == 0) {
            errmsg_set(rd->target, sizeof rd->target, "%s-%d has no follower", r->o.topic, p);
            return -1;
        }
        int32_t f = followers[pick % n];
        errmsg_set(rd->target, sizeof rd->target, "broker %d (follower of %s-%d), stopped %d ms", f, r->o.topic, p,
                 r->o.stop_ms);
        return kr_stop_and_continue(r, f);
    }
    case KR_RESTART_ZOOKEEPER: {
        int32_t down = 0;
        int rc = kr_restart_zookeeper(r, &down);
        errmsg_set(rd->target, sizeof rd->target, "zookeeper 127.0.0.1:%s, down %d ms", r->zk_port, down);
        return rc;
    }
    case KR_KILL_ISR: return kr_kill_isr(r, l, p, pick, rd);
    case KR_N_ACTIONS: break;
    }
    return -1;
}

static void kr_run_rounds(kr_run_t *r, ledger_t *l, kr_round_t *rounds) {
    for (int32_t i = 0; i < r->o.rounds && !scluster_interrupted; i++) {
        kr_round_t *rd = &rounds[i];
        *rd = (kr_round_t){.offline_ms = -1, .elected = -1};
        kr_pick_action(r, rd);
        ledger_round_reset(l);
        rd->done = kr_do_round(r, l, rd) == 0;
        rd->settle_ms = kr_await_settled(r, false, r->o.timeout_s);
        rd_kafka_resp_err_t first_error;
        ledger_round_figures(l, &rd->gap_ms, &rd->failed, &rd->acks, &first_error);
        printf("round %d/%d: %s %s%s: longest without an ack %" PRId64 " ms, %" PRId64 " failed%s%s; ", i + 1,
               r->o.rounds, kr_action_names[rd->action], rd->target, rd->done ? "" : " (FAILED)", rd->gap_ms,
               rd->failed, first_error ? " first: " : "", first_error ? rd_kafka_err2name(first_error) : "");
        if (rd->settle_ms >= 0)
            printf("settled in %" PRId64 " ms; ", rd->settle_ms);
        else
            printf("NOT settled after %d s; ", r->o.timeout_s);
        printf("acks %" PRId64 "\n", rd->acks);
        if (rd->action == KR_KILL_ISR && rd->done)
            printf("  offline %" PRId64 " ms%s; then led by broker %d%s, %" PRId64
                   " acknowledged records lost with what it lacked\n",
                   rd->offline_ms, r->o.unclean ? "" : (rd->stayed_offline ? " (no leader while the out-of-sync replica was up)"
                                                                           : " (LED while only the out-of-sync replica was up)"),
                   rd->elected, rd->unclean ? " (unclean election)" : "", rd->lacked);
    }
}

/* ---- the replica check -------------------------------------------------------------------- */

/* One replica's log up to the high watermark: its batches, in order. */
typedef struct kr_replica_log {
    buf_t bytes;   /* the batches below the high watermark, back to back */
    int64_t batches;
    int64_t next_offset; /* after the last batch read */
    char problem[160];   /* a file that could not be read or a damaged batch */
} kr_replica_log_t;

static int kr_cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Reads the .log segments of a replica's partition folder, batch by batch,
 * keeping the batches that start below hw. */
static void kr_read_replica(const char *folder, int64_t hw, kr_replica_log_t *out) {
    *out = (kr_replica_log_t){.bytes = BUF_INIT};
    DIR *d = opendir(folder);
    if (!d) {
        errmsg_set(out->problem, sizeof out->problem, "cannot open %s: %s", folder, strerror(errno));
        return;
    }
    int64_t *bases = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        int64_t base;
        const char *rest;
        if (!log_segment_parse_filename(de->d_name, &base, &rest) || strcmp(rest, ".log") != 0)
            continue;
        if (n == cap)
            bases = mem_realloc(bases, (cap = cap ? 2 * cap : 8) * sizeof *bases);
        bases[n++] = base;
    }
    closedir(d);
    qsort(bases, n, sizeof *bases, kr_cmp_int64);
    for (size_t i = 0; i < n && !out->problem[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%020" PRId64 ".log", folder, bases[i]);
        buf_t seg = BUF_INIT;
        FILE *f = fopen(path, "rb");
        char chunk[65536];
        size_t got;
        while (f && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_append(&seg, chunk, got);
        if (f)
            fclose(f);
        size_t pos = 0;
        while (pos < seg.len) {
            batch_header_t h;
            batch_check_t bc = batch_check(seg.data + pos, seg.len - pos, KR_MAX_BATCH, &h);
            if (bc == BATCH_INCOMPLETE && h.base_offset >= hw)
                break; /* a batch being written above the watermark */
            if (bc != BATCH_OK) {
                errmsg_set(out->problem, sizeof out->problem, "%s: damaged batch at byte %zu", path, pos);
                break;
            }
            if (h.base_offset >= hw)
                break;
            buf_append(&out->bytes, seg.data + pos, batch_size(&h));
            out->batches++;
            out->next_offset = batch_next_offset(&h);
            pos += batch_size(&h);
        }
        buf_free(&seg);
    }
    free(bases);
}

typedef struct kr_replica_check {
    bool identical;
    int64_t batches;
    char why[320]; /* when not identical */
} kr_replica_check_t;

/* Compares every replica of partition p up to hw with its first replica's
 * log, batch by batch. */
static void kr_check_partition_replicas(const kr_run_t *r, int32_t p, int64_t hw, kr_replica_check_t *rc) {
    int32_t n = r->n_replicas[p];
    kr_replica_log_t *logs = mem_calloc((size_t)n, sizeof *logs);
    *rc = (kr_replica_check_t){.identical = true};
    for (int32_t i = 0; i < n; i++) {
        char folder[PATH_MAX];
        snprintf(folder, sizeof folder, "%s/broker-%d/logs/%s-%d", r->c.dir, r->replicas[p][i], r->o.topic, p);
        kr_read_replica(folder, hw, &logs[i]);
    }
    rc->batches = logs[0].batches;
    for (int32_t i = 0; i < n && rc->identical; i++) {
        const kr_replica_log_t *a = &logs[0], *b = &logs[i];
        int32_t id = r->replicas[p][i];
        if (b->problem[0]) {
            errmsg_set(rc->why, sizeof rc->why, "broker %d: %s", id, b->problem);
            rc->identical = false;
        } else if (hw > 0 && b->next_offset < hw) {
            errmsg_set(rc->why, sizeof rc->why, "broker %d holds offsets only up to %" PRId64 " (high watermark %" PRId64 ")",
                     id, b->next_offset, hw);
            rc->identical = false;
        } else if (i > 0 && (a->bytes.len != b->bytes.len || memcmp(a->bytes.data, b->bytes.data, a->bytes.len) != 0)) {
            /* find the first batch that differs, to name it */
            size_t pos = 0;
            int64_t batch = 0;
            batch_header_t ha = {0}, hb = {0};
            while (pos + BATCH_HEADER_SIZE <= a->bytes.len && pos + BATCH_HEADER_SIZE <= b->bytes.len) {
                batch_header_read(a->bytes.data + pos, &ha);
                batch_header_read(b->bytes.data + pos, &hb);
                if (batch_size(&ha) != batch_size(&hb) || memcmp(a->bytes.data + pos, b->bytes.data + pos,
                                                                 batch_size(&ha)) != 0)
                    break;
                pos += batch_size(&ha);
                batch++;
            }
            errmsg_set(rc->why, sizeof rc->why,
                     "broker %d differs from broker %d at batch %" PRId64 ": offsets %" PRId64 "-%" PRId64
                     " (epoch %d) there, %" PRId64 "-%" PRId64 " (epoch %d) on broker %d",
                     id, r->replicas[p][0], batch, hb.base_offset, batch_last_offset(&hb), hb.partition_leader_epoch,
                     ha.base_offset, batch_last_offset(&ha), ha.partition_leader_epoch, r->replicas[p][0]);
            rc->identical = false;
        }
    }
    for (int32_t i = 0; i < n; i++)
        buf_free(&logs[i].bytes);
    free(logs);
}

/* ---- kill-isr: the state unclean.leader.election.enable decides ---------------------------- */

/* Partition p's leader when it is a registered broker, else -1: a state
 * znode may still name a dead leader when no controller was alive to
 * write leader -1 (every broker killed at once). */
static int32_t kr_live_leader(const kr_run_t *r, int32_t p) {
    zkdata_partition_state_t s;
    uint64_t reg = scluster_registered(r->c.zk);
    int32_t leader = kr_read_state(r, p, &s) == 0 && s.leader > 0 && s.leader < 64 && ((reg >> s.leader) & 1)
                         ? s.leader
                         : -1;
    zkdata_partition_state_free(&s);
    return leader;
}

/* Waits until partition p has a live leader; the time it took in ms, or
 * -1 after timeout_s. */
static int64_t kr_await_led(const kr_run_t *r, int32_t p, int timeout_s) {
    int64_t t0 = clock_mono_ms(), deadline = t0 + (int64_t)timeout_s * 1000;
    while (!scluster_interrupted) {
        if (kr_live_leader(r, p) > 0)
            return clock_mono_ms() - t0;
        if (clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(KR_POLL_MS);
    }
    return -1;
}

/* Waits until broker id is out of partition p's ISR (the controller takes
 * a dead broker out once its session expired). 0 or -1. */
static int kr_await_out_of_isr(const kr_run_t *r, int32_t p, int32_t id, int timeout_s) {
    int64_t deadline = clock_mono_ms() + (int64_t)timeout_s * 1000;
    while (!scluster_interrupted) {
        zkdata_partition_state_t s;
        bool out = kr_read_state(r, p, &s) == 0 && !kr_is_isr(&s, id);
        zkdata_partition_state_free(&s);
        if (out)
            return 0;
        if (clock_mono_ms() >= deadline)
            break;
        scluster_sleep_ms(KR_POLL_MS);
    }
    return -1;
}

/* The log end offset of broker id's replica of partition p, read from its
 * segment files (the broker must be down: nothing may append meanwhile). */
static int64_t kr_replica_log_end(const kr_run_t *r, int32_t id, int32_t p) {
    char folder[PATH_MAX];
    snprintf(folder, sizeof folder, "%s/broker-%d/logs/%s-%d", r->c.dir, id, r->o.topic, p);
    kr_replica_log_t log;
    kr_read_replica(folder, INT64_MAX, &log);
    buf_free(&log.bytes);
    return log.next_offset;
}

static int kr_start_broker(const kr_run_t *r, int32_t id) {
    char sid[16], wait[16];
    snprintf(sid, sizeof sid, "%d", id);
    snprintf(wait, sizeof wait, "%d", r->o.timeout_s);
    return scluster_run(&r->c, NULL, (const char *const[]){"start-broker", sid, "--wait", wait, NULL});
}

/* Every ISR member of partition p dead while an out-of-sync replica f is
 * alive, step by step:
 *   1. f (a follower of p) is killed and waited out of p's ISR;
 *   2. --down-ms of acknowledgements that f will not have;
 *   3. f's log end on every partition is read from its files;
 *   4. every ISR member of p is killed (and waited out of ZooKeeper): p
 *      has no leader from here on;
 *   5. f starts again. With --unclean false p stays offline (checked after
 *      --down-ms) until the ISR members start again and one leads; with
 *      true f leads at once, and only then do the others start (as
 *      followers, truncating to f's history).
 * The offline window runs from 4 to a live leader of p. Every partition
 * that f then leads without having been in its ISR at 5 was elected
 * uncleanly: its records acknowledged before 5 at offsets from f's log end
 * on are marked in the ledger as lacked by the elected replica, the only
 * records the election may lose. */
static int kr_kill_isr(kr_run_t *r, ledger_t *l, int32_t p, int32_t pick, kr_round_t *rd) {
    zkdata_partition_state_t s;
    int32_t leader = kr_read_state(r, p, &s) == 0 ? s.leader : -1, followers[KR_MAX_BROKERS], n = 0;
    zkdata_partition_state_free(&s);
    for (int32_t i = 0; leader >= 0 && i < r->n_replicas[p]; i++)
        if (r->replicas[p][i] != leader)
            followers[n++] = r->replicas[p][i];
    if (n == 0) {
        errmsg_set(rd->target, sizeof rd->target, "%s-%d has no leader or no follower", r->o.topic, p);
        return -1;
    }
    int32_t f = followers[pick % n];
    char sid[16];
    snprintf(sid, sizeof sid, "%d", f);
    if (scluster_run(&r->c, NULL, (const char *const[]){"kill", sid, NULL}) != 0)
        return -1;
    if (kr_await_out_of_isr(r, p, f, r->o.timeout_s) != 0) {
        errmsg_set(rd->target, sizeof rd->target, "broker %d (follower of %s-%d) never left the ISR", f, r->o.topic, p);
        kr_start_broker(r, f);
        return -1;
    }
    scluster_sleep_ms(r->o.down_ms);

    int32_t np = r->o.partitions;
    int64_t *f_end = mem_calloc((size_t)np, sizeof *f_end);
    for (int32_t q = 0; q < np; q++)
        f_end[q] = kr_replica_log_end(r, f, q);
    int32_t isr[KR_MAX_BROKERS], n_isr = 0;
    if (kr_read_state(r, p, &s) == 0)
        for (size_t i = 0; i < s.n_isr && n_isr < KR_MAX_BROKERS; i++)
            isr[n_isr++] = s.isr[i];
    zkdata_partition_state_free(&s);
    int rc = 0;
    for (int32_t i = 0; i < n_isr && rc == 0; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", isr[i]);
        rc = scluster_run(&r->c, NULL, (const char *const[]){"kill", id, NULL});
    }
    int64_t offline_since = clock_mono_ms();
    /* dead for ZooKeeper too (their sessions expired), or a registration
     * left by a killed broker would pass for a live leader */
    for (int64_t deadline = offline_since + (int64_t)r->o.timeout_s * 1000; rc == 0;) {
        uint64_t reg = scluster_registered(r->c.zk);
        bool any = false;
        for (int32_t i = 0; i < n_isr; i++)
            any = any || (isr[i] > 0 && isr[i] < 64 && ((reg >> isr[i]) & 1));
        if (!any)
            break;
        if (clock_mono_ms() >= deadline || scluster_interrupted)
            rc = -1;
        scluster_sleep_ms(KR_POLL_MS);
    }
    char members[64] = "";
    for (int32_t i = 0, at = 0; i < n_isr && at < (int)sizeof members; i++)
        at += snprintf(members + at, sizeof members - (size_t)at, "%s%d", i ? "," : "", isr[i]);
    errmsg_set(rd->target, sizeof rd->target, "broker %d (follower of %s-%d) out of sync, then its ISR %s", f,
               r->o.topic, p, members);

    /* Before f starts: the partitions it is out of sync on, and what was
     * acknowledged on them beyond its log (by leaders that are gone, or
     * alive elsewhere and staying). */
    bool *out_of_sync = mem_calloc((size_t)np, sizeof *out_of_sync);
    for (int32_t q = 0; q < np; q++) {
        out_of_sync[q] = kr_read_state(r, q, &s) == 0 && !kr_is_isr(&s, f);
        zkdata_partition_state_free(&s);
    }
    int64_t *beyond = NULL, n_beyond = 0;
    pthread_mutex_lock(&l->mu);
    for (int64_t seq = 0; seq < l->n; seq++) {
        const ledger_entry_t *e = &l->e[seq];
        if (e->fate == LEDGER_ACKED && e->partition >= 0 && e->partition < np && out_of_sync[e->partition] &&
            e->offset >= f_end[e->partition]) {
            beyond = mem_realloc(beyond, (size_t)(n_beyond + 1) * sizeof *beyond);
            beyond[n_beyond++] = seq;
        }
    }
    pthread_mutex_unlock(&l->mu);

    if (rc == 0)
        rc = kr_start_broker(r, f);
    if (rc == 0 && !r->o.unclean) {
        scluster_sleep_ms(r->o.down_ms);
        rd->stayed_offline = kr_live_leader(r, p) < 0;
    } else if (rc == 0 && kr_await_led(r, p, r->o.timeout_s) >= 0) {
        rd->offline_ms = clock_mono_ms() - offline_since;
    }
    for (int32_t i = 0; i < n_isr; i++)
        if (kr_start_broker(r, isr[i]) != 0)
            rc = -1;
    if (rc == 0 && rd->offline_ms < 0 && kr_await_led(r, p, r->o.timeout_s) >= 0)
        rd->offline_ms = clock_mono_ms() - offline_since;

    bool *elected_there = mem_calloc((size_t)np, sizeof *elected_there);
    for (int32_t q = 0; q < np; q++) {
        int32_t leader_now = kr_await_led(r, q, r->o.timeout_s) >= 0 ? kr_live_leader(r, q) : -1;
        elected_there[q] = out_of_sync[q] && leader_now == f;
        if (q == p)
            rd->elected = leader_now;
    }
    rd->unclean = elected_there[p];
    pthread_mutex_lock(&l->mu);
    for (int64_t i = 0; i < n_beyond; i++) {
        ledger_entry_t *e = &l->e[beyond[i]];
        if (elected_there[e->partition] && !e->lacked_by_elected) {
            e->lacked_by_elected = true;
            rd->lacked++;
        }
    }
    pthread_mutex_unlock(&l->mu);
    free(elected_there);
    free(beyond);
    free(out_of_sync);
    free(f_end);
    if (rc == 0 && rd->offline_ms < 0)
        rc = -1;
    return rc;
}

/* ---- the report ---------------------------------------------------------------------------- */

/* The longest kill-isr offline window, and its round (1-based) in *round;
 * -1 and round 0 when no round measured one. */
static int64_t kr_longest_offline(const kr_round_t *rounds, int32_t n_rounds, int32_t *round) {
    int64_t longest = -1;
    *round = 0;
    for (int32_t i = 0; i < n_rounds; i++)
        if (rounds[i].offline_ms > longest) {
            longest = rounds[i].offline_ms;
            *round = i + 1;
        }
    return longest;
}

static void kr_print_report(const kr_run_t *r, const kr_round_t *rounds, const ledger_check_t *ck,
                            const ledger_read_t *pr, const kr_replica_check_t *rep, bool identical) {
    printf("\n" KR_PROG ": %d rounds, seed %" PRIu64 ", topic %s (%d partitions, RF %d, min.insync.replicas %d, "
           "unclean.leader.election.enable %s)\n",
           r->o.rounds, r->o.seed, r->o.topic, r->o.partitions, r->o.rf, r->o.min_isr, r->o.unclean ? "true" : "false");
    printf("sent: %" PRId64 "\n", ck->sent);
    printf("acknowledged: %" PRId64 "\n", ck->acknowledged);
    printf("failed: %" PRId64 " (delivery errors)\n", ck->failed);
    printf("unreported: %" PRId64 "\n", ck->unreported);
    printf("consumed: %" PRId64 "\n", ck->consumed);
    printf("lost: %" PRId64 "\n", ck->lost);
    for (int64_t i = 0; i < ck->lost && i < LEDGER_LIST_LOST; i++)
        printf("  lost seq %" PRId64 " (acknowledged at %s-%d offset %" PRId64 ")\n", ck->first_lost[i].seq,
               r->o.topic, ck->first_lost[i].partition, ck->first_lost[i].offset);
    if (ck->lost > LEDGER_LIST_LOST)
        printf("  ... and %" PRId64 " more\n", ck->lost - LEDGER_LIST_LOST);
    if (ck->lacked > 0 || ck->lost_lacked > 0) {
        int64_t unexplained = ck->lost - ck->lost_lacked;
        printf("lost with what an uncleanly elected replica lacked: %" PRId64 " (of %" PRId64
               " acknowledged at offsets it never had)\n", ck->lost_lacked, ck->lacked);
        printf("lost otherwise: %" PRId64 "\n", unexplained);
        for (int64_t i = 0; i < unexplained && i < LEDGER_LIST_LOST; i++)
            printf("  lost seq %" PRId64 " (acknowledged at %s-%d offset %" PRId64 ", which the elected replica had)\n",
                   ck->first_unexplained[i].seq, r->o.topic, ck->first_unexplained[i].partition,
                   ck->first_unexplained[i].offset);
    }
    printf("duplicated: %" PRId64 "\n", ck->duplicated);
    printf("out of order: %" PRId64 "\n", ck->out_of_order);
    printf("unacknowledged but present: %" PRId64 "\n", ck->unacked_present);
    printf("acknowledged offset holds another record: %" PRId64 "\n", ck->misplaced);
    if (ck->foreign)
        printf("records that are not this run's: %" PRId64 "\n", ck->foreign);
    for (int32_t p = 0; p < r->o.partitions; p++) {
        if (rep[p].identical)
            printf("partition %d: high watermark %" PRId64 ", %d replicas identical (%" PRId64 " batches)\n", p,
                   pr[p].hw, r->n_replicas[p], rep[p].batches);
        else
            printf("partition %d: high watermark %" PRId64 ", replicas DIFFER: %s\n", p, pr[p].hw, rep[p].why);
    }
    printf("replicas identical: %s\n", identical ? "yes" : "no");
    int32_t worst;
    int64_t offline = kr_longest_offline(rounds, r->o.rounds, &worst);
    if (worst > 0)
        printf("longest offline window: %" PRId64 " ms (round %d: every ISR member dead, no leader)\n", offline, worst);
}

static int kr_write_json(const kr_run_t *r, const kr_round_t *rounds, int32_t n_rounds, const ledger_check_t *ck,
                         const ledger_read_t *pr, const kr_replica_check_t *rep, bool identical, bool ok) {
    json_t *root = json_object(), *jr = json_array(), *jl = json_array(), *jp = json_array();
    for (int32_t i = 0; i < n_rounds; i++)
        json_array_append_new(
            jr, json_pack("{s:i, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:b, s:i, s:b, s:I}", "round", i + 1, "action",
                          kr_action_names[rounds[i].action], "target", rounds[i].target, "done", rounds[i].done,
                          "longest_without_ack_ms", (json_int_t)rounds[i].gap_ms, "failed",
                          (json_int_t)rounds[i].failed, "acks", (json_int_t)rounds[i].acks, "settle_ms",
                          (json_int_t)rounds[i].settle_ms, "offline_ms", (json_int_t)rounds[i].offline_ms,
                          "stayed_offline", rounds[i].stayed_offline, "elected", rounds[i].elected,
                          "unclean_election", rounds[i].unclean, "lacked", (json_int_t)rounds[i].lacked));
    for (int64_t i = 0; i < ck->lost && i < LEDGER_LIST_LOST; i++)
        json_array_append_new(jl, json_pack("{s:I, s:i, s:I}", "seq", (json_int_t)ck->first_lost[i].seq, "partition",
                                            ck->first_lost[i].partition, "offset", (json_int_t)ck->first_lost[i].offset));
    for (int32_t p = 0; p < r->o.partitions; p++)
        json_array_append_new(jp, json_pack("{s:i, s:I, s:I, s:b, s:s}", "partition", p, "high_watermark",
                                            (json_int_t)pr[p].hw, "batches", (json_int_t)rep[p].batches, "identical",
                                            rep[p].identical, "why", rep[p].why));
    json_object_set_new(root, "topic", json_string(r->o.topic));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->o.seed));
    json_object_set_new(root, "partitions", json_integer(r->o.partitions));
    json_object_set_new(root, "replication_factor", json_integer(r->o.rf));
    json_object_set_new(root, "min_insync_replicas", json_integer(r->o.min_isr));
    json_object_set_new(root, "unclean_leader_election", json_boolean(r->o.unclean));
    json_object_set_new(root, "rounds", jr);
    json_object_set_new(root, "sent", json_integer(ck->sent));
    json_object_set_new(root, "acknowledged", json_integer(ck->acknowledged));
    json_object_set_new(root, "failed", json_integer(ck->failed));
    json_object_set_new(root, "unreported", json_integer(ck->unreported));
    json_object_set_new(root, "consumed", json_integer(ck->consumed));
    json_object_set_new(root, "lost", json_integer(ck->lost));
    json_object_set_new(root, "lost_first", jl);
    json_object_set_new(root, "lost_lacked_by_elected", json_integer(ck->lost_lacked));
    json_object_set_new(root, "lacked_by_elected", json_integer(ck->lacked));
    json_object_set_new(root, "lost_unexplained", json_integer(ck->lost - ck->lost_lacked));
    int32_t worst;
    json_object_set_new(root, "offline_longest_ms", json_integer(kr_longest_offline(rounds, n_rounds, &worst)));
    json_object_set_new(root, "duplicated", json_integer(ck->duplicated));
    json_object_set_new(root, "out_of_order", json_integer(ck->out_of_order));
    json_object_set_new(root, "unacknowledged_present", json_integer(ck->unacked_present));
    json_object_set_new(root, "misplaced", json_integer(ck->misplaced));
    json_object_set_new(root, "replicas_identical", json_boolean(identical));
    json_object_set_new(root, "replicas", jp);
    json_object_set_new(root, "ok", json_boolean(ok));
    int rc = json_dump_file(root, r->o.json, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (rc != 0)
        fprintf(stderr, KR_PROG ": cannot write %s\n", r->o.json);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

/* Everything up to the producer's start: the cluster, the session, the
 * topic and its assignment. 0 or -1. */
static int kr_setup(kr_run_t *r) {
    char conf[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/cluster.conf", r->o.dir ? r->o.dir : ".");
    if (r->o.attach && access(conf, R_OK) != 0) {
        fprintf(stderr, KR_PROG ": %s is not a samsa cluster (no cluster.conf)\n", r->o.dir);
        return -1;
    }
    if (scluster_setup_dir(&r->c, r->o.dir, KR_PROG) != 0 || (!r->o.attach && kr_start_cluster(r) != 0))
        return -1;
    if (kr_find_zk_script(r) != 0 || scluster_zk_open(&r->c) != 0)
        return -1;
    char *zk = scluster_line(&r->c, "zookeeper");
    r->bootstrap = scluster_line(&r->c, "bootstrap");
    if (!zk || !r->bootstrap || !strrchr(zk, ':')) {
        free(zk);
        return -1;
    }
    snprintf(r->zk_port, sizeof r->zk_port, "%s", strrchr(zk, ':') + 1);
    free(zk);
    if (scluster_await_controller(&r->c, -1, r->o.timeout_s) < 0 || kr_create_topic(r) != 0 ||
        kr_read_assignment(r) != 0)
        return -1;
    if (kr_await_settled(r, true, r->o.timeout_s) < 0) {
        fprintf(stderr, KR_PROG ": topic %s not led with full ISRs after %d s\n", r->o.topic, r->o.timeout_s);
        return -1;
    }
    printf("topic %s: %d partitions, RF %d, min.insync.replicas %d, unclean.leader.election.enable %s; "
           "bootstrap %s\n",
           r->o.topic, r->o.partitions, r->o.rf, r->o.min_isr, r->o.unclean ? "true" : "false", r->bootstrap);
    return 0;
}

static void kr_cleanup(kr_run_t *r) {
    scluster_cleanup(&r->c);
    for (int32_t p = 0; r->replicas && p < r->o.partitions; p++)
        free(r->replicas[p]);
    free(r->replicas);
    free(r->n_replicas);
    free(r->zk_script);
    free(r->bootstrap);
}

int main(int argc, char **argv) {
    kr_run_t r = {0};
    int rc = kr_parse_args(argc, argv, &r.o);
    if (rc != 0)
        return rc == 1 ? KR_EXIT_OK : rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    logger_set_level(LOGGER_ERROR); /* not the session's warnings while ZooKeeper restarts */
    scluster_catch_signals();
    r.rng = r.o.seed;
    r.c = (scluster_t){.prog = KR_PROG, .keep = r.o.keep};
    if (scluster_find_script(&r.c, r.o.cluster_script) != 0 || scluster_choose_broker(&r.c, r.o.broker) != 0) {
        free(r.c.script);
        return KR_EXIT_USAGE;
    }
    ledger_t ledger;
    ledger_init(&ledger, r.o.partitions);
    ledger_producer_t producer = {0};
    ledger_producer_opts_t popts = {.prog = KR_PROG,
                                    .topic = r.o.topic,
                                    .partitions = r.o.partitions,
                                    .rate = r.o.rate,
                                    .delivery_timeout_ms = r.o.delivery_timeout_ms};
    kr_round_t *rounds = mem_calloc((size_t)r.o.rounds + 1, sizeof *rounds);
    ledger_read_t *pr = NULL;
    kr_replica_check_t *rep = NULL;
    bool ok = false;
    bool set_up = kr_setup(&r) == 0;
    popts.bootstrap = r.bootstrap;
    if (set_up && ledger_producer_start(&producer, &popts, &ledger) == 0) {
        printf("producing %d records a second; %d rounds with seed %" PRIu64 "\n", r.o.rate, r.o.rounds, r.o.seed);
        scluster_sleep_ms(1000); /* a few acknowledgements before the first failure */
        kr_run_rounds(&r, &ledger, rounds);
        ledger_producer_stop(&producer, r.o.delivery_timeout_ms);
        int64_t isr_ms = kr_await_settled(&r, true, r.o.timeout_s);
        if (isr_ms >= 0)
            printf("every replica back in every ISR after %" PRId64 " ms\n", isr_ms);
        else
            printf("NOT every replica back in every ISR after %d s\n", r.o.timeout_s);
        pr = mem_calloc((size_t)r.o.partitions, sizeof *pr);
        rep = mem_calloc((size_t)r.o.partitions, sizeof *rep);
        bool read_all = !scluster_interrupted && ledger_consume(KR_PROG, r.bootstrap, r.o.topic, r.o.partitions, producer.rk, pr, &scluster_interrupted) == 0;
        ledger_check_t ck;
        ledger_check(&ledger, pr, r.o.partitions, &ck, NULL, NULL);
        bool identical = true;
        for (int32_t p = 0; p < r.o.partitions; p++) {
            kr_check_partition_replicas(&r, p, pr[p].hw, &rep[p]);
            identical = identical && rep[p].identical;
        }
        kr_print_report(&r, rounds, &ck, pr, rep, identical);
        /* an unclean election may lose what the elected replica lacked: only that */
        ok = read_all && ck.lost == ck.lost_lacked && identical && !scluster_interrupted;
        if (r.o.json && kr_write_json(&r, rounds, r.o.rounds, &ck, pr, rep, identical, ok) != 0)
            ok = false;
        printf("result: %s\n", ok ? "OK" : "FAILED");
    }
    ledger_producer_destroy(&producer);
    if (scluster_interrupted)
        fprintf(stderr, KR_PROG ": interrupted\n");
    kr_cleanup(&r);
    for (int32_t p = 0; pr && p < r.o.partitions; p++)
        free(pr[p].recs);
    free(pr);
    free(rep);
    free(rounds);
    ledger_free(&ledger);
    return ok ? KR_EXIT_OK : KR_EXIT_FAIL;
}
