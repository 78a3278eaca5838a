/*
 * produce-bench — what a broker sustains for one librdkafka producer and one
 * consumer, next to librdkafka's in-memory mock cluster on the same machine.
 *
 *   produce-bench [--bootstrap HOST:PORT] [--broker-pid PID] [--partitions P]
 *                 [--scale F] [--rounds R] [--size 100|1000]
 *
 * Runs, against the broker at --bootstrap (samsa, or any Kafka) and then, as
 * the baseline, against a one-broker mock cluster started in this process:
 *   1. produce 1,000,000 records of 100 bytes, acks=1, linger.ms=5, default
 *      batch size, one producer;
 *   2. produce 200,000 records of 1,000 bytes, same settings;
 *   3. a consumer (no group, fetch settings at their defaults) reads each of
 *      the two topics back from the beginning.
 * For each run it prints records/s and MB/s (of values); for produce runs the
 * median and p99 of the per-message latency, send call to delivery report
 * (queueing in the client included, as a saturating producer sees it); and
 * the broker's CPU seconds during the run: from /proc/PID/stat with
 * --broker-pid, and for the mock from its thread ("rdk:mock") in this
 * process; and how many cores the client itself kept busy (its CPU time,
 * the mock thread's excluded, over the run's wall time: near the machine's
 * core count, the client sets the pace). A run line ends with the
 * samsa/mock records/s ratio of the two best rounds and, in brackets, the
 * median of the rounds' own ratios (each round runs both targets back to
 * back, so a slow spell of the machine hits both: the steadier figure when
 * single runs swing); the last line sums up the best-round ratios. Without
 * --bootstrap only the mock runs. --size runs only the two cases of that
 * record size (for profiling one of them).
 *
 * Topics are new (produce-bench-<size>-<pid>-<time>); samsa auto-creates
 * them with its num.partitions and the mock's are created with the same
 * count (--partitions, default 1, when the mock runs alone). --scale
 * multiplies the record counts (for a quick check). Each case runs --rounds
 * times (default 3) against both targets, alternating which goes first, and
 * the best round of each is reported: on a 2-vCPU VM single runs of the same
 * target vary by up to 40%, best-of-3 by a few percent. A produce round
 * writes a topic of its own; consume rounds all read round 1's. Exit status 0 when every
 * run delivered and read back exactly its records, 1 otherwise, 2 on usage.
 */
#include "bench_rdk.h"
#include "../integration/rdkafka_util.h"
#include "util/clock.h"
#include "util/mem.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_opts {
    const char *bootstrap; /* NULL: the mock alone */
    int broker_pid;        /* 0: unknown */
    int partitions;        /* for the mock when it runs alone */
    double scale;
    int rounds;            /* each case, best of */
    size_t only_size;      /* 0: every case; else only the cases of this record size */
} bench_opts_t;

/* A broker to measure and where to read its CPU time. */
typedef struct bench_target {
    const char *name;
    char bootstrap[1024];
    bench_cpu_set_t cpu;            /* empty when its CPU time is unknown */
    rd_kafka_t *mock_host;          /* mock only: the handle that owns the cluster */
    rd_kafka_mock_cluster_t *mock;  /* mock only */
} bench_target_t;

typedef struct bench_case {
    const char *label;
    bool produce;
    int64_t records;
    size_t size;
    char base[96];   /* the case's topic name without the round */
    char topic[128]; /* the topic of the round running */
} bench_case_t;

/* --- the mock's CPU time ----------------------------------------------------- */

/* The mock cluster runs in one thread of this process, named "rdk:mock". */
static void bench_find_mock_thread(char *stat_path, size_t cap) {
    stat_path[0] = '\0';
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "rdk:mock", 8) == 0)
            snprintf(stat_path, cap, "/proc/self/task/%s/stat", e->d_name);
        fclose(f);
    }
    closedir(d);
}

/* --- consume ------------------------------------------------------------------ */

/* What a partition holds, [low, high), when the consume run starts. */
typedef struct bench_range {
    int64_t low, high;
} bench_range_t;

/* Reads each partition's range from low to high, and again from low while
 * fewer than target records have been read (the mock keeps only the last
 * 5 MiB of each partition, so its runs re-read what it holds to move as many
 * records as the broker's run). Returns records read, or -1 on an error. */
static int64_t bench_read(rd_kafka_topic_t *rkt, rd_kafka_queue_t *queue, const bench_range_t *ranges,
                          int partitions, int64_t target, int64_t *bytes) {
    int64_t received = 0, errors = 0;
    for (int p = 0; p < partitions; p++)
        if (ranges[p].high > ranges[p].low)
            rd_kafka_consume_start_queue(rkt, p, ranges[p].low, queue);
    int64_t deadline = clock_mono_ms() + BENCH_TIMEOUT_MS;
    while (received < target && errors == 0) {
        /* One at a time: the batch call would wait out its timeout at the end. */
        rd_kafka_message_t *m = rd_kafka_consume_queue(queue, 100);
        if (!m) {
            if (clock_mono_ms() > deadline)
                break;
            continue;
        }
        if (m->err) {
            if (errors++ == 0)
                fprintf(stderr, "produce-bench: consume: %s\n", rd_kafka_message_errstr(m));
        } else {
            received++;
            *bytes += (int64_t)m->len;
            const bench_range_t *r = &ranges[m->partition];
            if (m->offset == r->high - 1 && received < target)
                rd_kafka_seek(rkt, m->partition, r->low, 0); /* asynchronous: the next pass */
        }
        rd_kafka_message_destroy(m);
    }
    for (int p = 0; p < partitions; p++)
        if (ranges[p].high > ranges[p].low)
            rd_kafka_consume_stop(rkt, p);
    return errors ? -1 : received;
}

/* What each partition of the topic holds; the total, or -1 on an error. */
static int64_t bench_ranges(const bench_target_t *t, const char *topic, bench_range_t **out, int *partitions) {
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, bench_conf(t->bootstrap));
    int64_t held = -1;
    *out = NULL;
    *partitions = rdkafka_util_partition_count(rk, topic, 10000);
    if (*partitions < 1) {
        fprintf(stderr, "produce-bench: %s: no metadata for %s\n", t->name, topic);
        goto out;
    }
    *out = mem_alloc((size_t)*partitions * sizeof **out);
    held = 0;
    for (int p = 0; p < *partitions && held >= 0; p++) {
        bench_range_t *r = &(*out)[p];
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &r->low, &r->high, 10000);
        if (e) {
            fprintf(stderr, "produce-bench: %s: watermarks of %s/%d: %s\n", t->name, topic, p, rd_kafka_err2str(e));
            held = -1;
        } else {
            held += r->high - r->low;
        }
    }
out:
    rd_kafka_destroy(rk);
    return held;
}

/* No group: the per-partition API reads from the beginning with nothing but
 * Metadata, ListOffsets and Fetch, fetch settings at their defaults. A broker
 * must hold every record it acked; the mock holds the last 5 MiB of each
 * partition and re-reads them, with fetch.wait.max.ms=1 so that the Fetch
 * parked at the end of each pass does not idle for the default 500 ms. */
static bench_result_t bench_consume(const bench_target_t *t, const bench_case_t *c) {
    bench_result_t r = {.cpu_s = -1};
    bench_range_t *ranges;
    int partitions;
    int64_t held = bench_ranges(t, c->topic, &ranges, &partitions);
    if (held < 0) {
        free(ranges);
        return r;
    }
    if (held == 0 || (!t->mock && held != c->records)) {
        fprintf(stderr, "produce-bench: %s: %s holds %" PRId64 " records, %" PRId64 " were acked\n", t->name,
                c->topic, held, c->records);
        free(ranges);
        return r;
    }
    r.held = held;

    rd_kafka_conf_t *conf = bench_conf(t->bootstrap);
    if (held < c->records)
        bench_conf_set(conf, "fetch.wait.max.ms", "1");
    rd_kafka_t *rk = bench_new(RD_KAFKA_CONSUMER, conf);
    rdkafka_util_partition_count(rk, c->topic, 10000); /* connected before the clock starts */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, c->topic, NULL);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    int64_t bytes = 0;
    double cpu0 = bench_cpu_set_seconds(&t->cpu);
    double self0 = bench_self_cpu();
    int64_t t0 = clock_mono_ns();
    int64_t received = bench_read(rkt, queue, ranges, partitions, c->records, &bytes);
    int64_t t1 = clock_mono_ns();
    double cpu1 = bench_cpu_set_seconds(&t->cpu);
    double self1 = bench_self_cpu();
    rd_kafka_queue_destroy(queue);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(ranges);
    if (received < c->records) {
        fprintf(stderr, "produce-bench: %s: read %" PRId64 " of %" PRId64 " records\n", t->name,
                received < 0 ? 0 : received, c->records);
        return r;
    }
    double secs = (double)(t1 - t0) / 1e9;
    r.ok = true;
    r.rec_s = (double)received / secs;
    r.mb_s = (double)bytes / 1e6 / secs;
    r.cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    r.client_cores = bench_client_cores(&t->cpu, self0, self1, r.cpu_s, secs);
    return r;
}

/* --- targets ------------------------------------------------------------------ */

static void bench_mock_start(bench_target_t *t) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bench_conf_set(conf, "log_level", "3");
    t->name = "mock";
    t->mock_host = bench_new(RD_KAFKA_PRODUCER, conf);
    t->mock = rd_kafka_mock_cluster_new(t->mock_host, 1);
    if (!t->mock) {
        fprintf(stderr, "produce-bench: cannot start the mock cluster\n");
        exit(1);
    }
    snprintf(t->bootstrap, sizeof t->bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(t->mock));
    /* The thread names itself once it runs: give it a moment. */
    t->cpu.in_process = true;
    for (int tries = 0; tries < 100 && !t->cpu.n; tries++) {
        bench_find_mock_thread(t->cpu.stat_path[0], sizeof t->cpu.stat_path[0]);
        if (t->cpu.stat_path[0][0]) {
            t->cpu.n = 1;
        } else {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static void bench_mock_stop(bench_target_t *t) {
    rd_kafka_mock_cluster_destroy(t->mock);
    rd_kafka_destroy(t->mock_host);
}

/* Creates the case's topic on the mock with as many partitions as the broker
 * under test gave it (or --partitions when the mock runs alone). */
static void bench_mock_topic(bench_target_t *mock, const char *topic, int partitions) {
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock->mock, topic, partitions, 1);
    if (e) {
        fprintf(stderr, "produce-bench: mock: cannot create %s: %s\n", topic, rd_kafka_err2str(e));
        exit(1);
    }
}

static int bench_broker_partitions(const bench_target_t *t, const char *topic) {
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, bench_conf(t->bootstrap));
    int n = rdkafka_util_partition_count(rk, topic, 10000);
    rd_kafka_destroy(rk);
    if (n < 1) {
        fprintf(stderr, "produce-bench: %s: topic %s was not created (is auto.create.topics.enable on?)\n", t->name,
                topic);
        exit(1);
    }
    return n;
}

/* --- report ------------------------------------------------------------------- */

static void bench_print_result(const char *name, const bench_case_t *c, const bench_result_t *r) {
    if (!r->ok) {
        printf("%s FAILED", name);
        return;
    }
    char rate[32];
    bench_fmt_rate(rate, sizeof rate, r->rec_s);
    printf("%s %s rec/s %.0f MB/s", name, rate, r->mb_s);
    if (c->produce)
        printf(" p50 %.1f ms p99 %.1f ms", r->p50_ms, r->p99_ms);
    if (r->cpu_s >= 0)
        printf(" cpu %.2f s", r->cpu_s);
    else
        printf(" cpu n/a");
    printf(" client %.1f cores", r->client_cores);
    if (!c->produce && r->held < c->records)
        printf(" (re-reading the %" PRId64 " records it holds)", r->held);
}

static bench_result_t bench_run(const bench_target_t *t, const bench_case_t *c) {
    if (c->produce) {
        char name[64];
        snprintf(name, sizeof name, "produce-bench: %s", t->name);
        return bench_produce_run(name, t->bootstrap, c->topic, c->records, c->size, "1", &t->cpu);
    }
    return bench_consume(t, c);
}

/* --- main --------------------------------------------------------------------- */

static void bench_usage(void) {
    fprintf(stderr, "usage: produce-bench [--bootstrap HOST:PORT] [--broker-pid PID] [--partitions P] [--scale F] "
                    "[--rounds R] [--size 100|1000]\n");
    exit(2);
}

static void bench_parse(int argc, char **argv, bench_opts_t *o) {
    *o = (bench_opts_t){.partitions = 1, .scale = 1.0, .rounds = 3};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            bench_usage();
        char *end;
        if (strcmp(argv[i], "--bootstrap") == 0) {
            o->bootstrap = v;
        } else if (strcmp(argv[i], "--broker-pid") == 0) {
            o->broker_pid = (int)strtol(v, &end, 10);
            if (*end || o->broker_pid < 1)
                bench_usage();
        } else if (strcmp(argv[i], "--partitions") == 0) {
            o->partitions = (int)strtol(v, &end, 10);
            if (*end || o->partitions < 1 || o->partitions > 1000)
                bench_usage();
        } else if (strcmp(argv[i], "--rounds") == 0) {
            o->rounds = (int)strtol(v, &end, 10);
            if (*end || o->rounds < 1 || o->rounds > 20)
                bench_usage();
        } else if (strcmp(argv[i], "--size") == 0) {
            if (strcmp(v, "100") != 0 && strcmp(v, "1000") != 0)
                bench_usage();
            o->only_size = (size_t)atoi(v);
        } else if (strcmp(argv[i], "--scale") == 0) {
            o->scale = strtod(v, &end);
            if (*end || !(o->scale > 0) || o->scale > 100)
                bench_usage();
        } else {
            bench_usage();
        }
    }
}

int main(int argc, char **argv) {
    bench_opts_t o;
    bench_parse(argc, argv, &o);

    bench_case_t cases[] = {
        {.label = "produce 100B acks=1", .produce = true, .records = 1000000, .size = 100},
        {.label = "produce 1000B acks=1", .produce = true, .records = 200000, .size = 1000},
        {.label = "consume 100B", .produce = false, .records = 1000000, .size = 100},
        {.label = "consume 1000B", .produce = false, .records = 200000, .size = 1000},
    };
    enum { NCASES = sizeof cases / sizeof cases[0] };
    long stamp = (long)(clock_wall_ms() / 1000);
    for (int k = 0; k < NCASES; k++) {
        cases[k].records = (int64_t)llround((double)cases[k].records * o.scale);
        if (cases[k].records < 1)
            cases[k].records = 1;
        snprintf(cases[k].base, sizeof cases[k].base, "produce-bench-%zu-%d-%ld", cases[k].size, (int)getpid(),
                 stamp);
    }

    bench_target_t broker = {.name = "samsa"}, mock = {0};
    if (o.bootstrap) {
        snprintf(broker.bootstrap, sizeof broker.bootstrap, "%s", o.bootstrap);
        if (o.broker_pid)
            bench_cpu_set_add_pid(&broker.cpu, o.broker_pid, "produce-bench");
    }
    bench_mock_start(&mock);
    printf("produce-bench: %s%s, one producer (acks=1, linger.ms=5) and one consumer, librdkafka %s, best of %d "
           "round(s)\n",
           o.bootstrap ? "samsa at " : "mock cluster only", o.bootstrap ? o.bootstrap : "", rd_kafka_version_str(),
           o.rounds);

    double ratio[NCASES], log_sum = 0;
    bench_result_t mres[NCASES];
    bool all_ok = true;
    int measured = 0;
    for (int k = 0; k < NCASES; k++) {
        bench_case_t *c = &cases[k];
        ratio[k] = -1; /* not run */
        if (o.only_size && c->size != o.only_size)
            continue;
        measured++;
        bench_result_t b = {0};
        double paired[20];
        int npaired = 0;
        mres[k] = (bench_result_t){0};
        for (int r = 0; r < o.rounds; r++) {
            snprintf(c->topic, sizeof c->topic, "%s-r%d", c->base, c->produce ? r : 0);
            if (c->produce) {
                int partitions = o.bootstrap ? bench_broker_partitions(&broker, c->topic) : o.partitions;
                bench_mock_topic(&mock, c->topic, partitions);
            }
            bench_result_t br = {0}, mr;
            if (o.bootstrap && r % 2 == 0)
                br = bench_run(&broker, c);
            mr = bench_run(&mock, c);
            if (o.bootstrap && r % 2 == 1)
                br = bench_run(&broker, c);
            if (o.bootstrap && (r == 0 || (br.ok && br.rec_s > b.rec_s)))
                b = br;
            if (r == 0 || (mr.ok && mr.rec_s > mres[k].rec_s))
                mres[k] = mr;
            if (br.ok && mr.ok && npaired < (int)(sizeof paired / sizeof paired[0]))
                paired[npaired++] = br.rec_s / mr.rec_s;
            all_ok = all_ok && mr.ok && (!o.bootstrap || br.ok);
        }

        printf("%s: ", c->label);
        if (o.bootstrap) {
            bench_print_result("samsa", c, &b);
            printf(" | ");
        }
        bench_print_result("mock", c, &mres[k]);
        ratio[k] = b.ok && mres[k].ok ? b.rec_s / mres[k].rec_s : 0;
        if (o.bootstrap) {
            if (ratio[k] > 0)
                printf(" | ratio %.2f (rounds' median %.2f)", ratio[k], bench_median(paired, npaired));
            else
                printf(" | ratio n/a");
        }
        printf("\n");
        fflush(stdout);
        log_sum += ratio[k] > 0 ? log(ratio[k]) : 0;
    }

    printf("summary:");
    const char *sep = "";
    for (int k = 0; k < NCASES; k++) {
        char val[32];
        if (ratio[k] < 0)
            continue;
        if (o.bootstrap && ratio[k] > 0)
            snprintf(val, sizeof val, "%.2f", ratio[k]);
        else if (!o.bootstrap && mres[k].ok)
            bench_fmt_rate(val, sizeof val, mres[k].rec_s);
        else
            snprintf(val, sizeof val, "n/a");
        printf("%s %s %s%s", sep, cases[k].label, val, o.bootstrap ? "" : " rec/s");
        sep = ",";
    }
    if (o.bootstrap && all_ok)
        printf("; samsa/mock geometric mean %.2f", exp(log_sum / measured));
    else if (!o.bootstrap)
        printf(" (mock only)");
    printf("; %s\n", all_ok ? "all runs complete" : "SOME RUNS FAILED");

    bench_mock_stop(&mock);
    return all_ok ? 0 : 1;
}
