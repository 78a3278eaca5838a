/*
 * data-bench — the data path as one librdkafka client sees it, against a
 * broker (samsa, or any Kafka) and against librdkafka's in-memory mock
 * cluster started in this process, in the same run with the same client
 * settings (issue 18).
 *
 *   data-bench [--bootstrap HOST:PORT --broker-pid PID] [--rounds R]
 *              [--scale F | --quick] [--rate REC_S] [--partitions P] [--only WORD]
 *
 * Jobs (record counts times --scale):
 *   produce 100B acks=1, produce 100B acks=all    1,000,000 records of 100 B
 *   produce 1000B acks=1, produce 1000B acks=all    200,000 records of 1,000 B
 *       one producer, linger.ms=5, to a new topic of --partitions partitions
 *       (default 3), replication factor 1; saturating, or with --rate at that
 *       offered rate (records/s) for both targets, latency then counted from
 *       when each record was due (bench_rdk.h);
 *   fill 64 partitions 100B    1,000,000 records of 100 B to a new 64-partition
 *       topic, sticky.partitioning.linger.ms=1, acks=1, saturating;
 *   consume 64 partitions assign()    one consumer reads that topic back from
 *       the beginning with assign() (librdkafka's defaults otherwise);
 *   consume 64 partitions subscribe()    one group member (a new group.id,
 *       auto.offset.reset=earliest) reads it again; its rate counts from the
 *       first record, the join before it is printed apart.
 * A round runs each job against both targets, samsa first in even rounds and
 * the mock first in odd ones (samsa, mock, mock, samsa, ...), so a slow spell
 * of the shared machine hits both; the mock is a new cluster for every run
 * (it holds its topics in memory). Per job and target it prints the median
 * over the rounds of records/s, MB/s (of values), produce latency p50/p99/max
 * (send, or due time, to delivery report), the client's CPU-s per million
 * records (this process, the mock's thread excluded) and the broker's (samsa:
 * /proc/PID/stat of --broker-pid; the mock: its "rdk:mock" thread), then the
 * samsa/mock ratio of the medians and, in brackets, the median of the rounds'
 * own ratios — the steadier figure on a busy machine. Without --bootstrap
 * only the mock runs.
 *
 * Every run is checked exactly: a producer's every record reported delivered
 * once (and the broker's topic holds exactly what was acked: the mock drops
 * old records past its per-partition limit, so only the fill is counted
 * there), a consumer reads every offset of every partition once, in order.
 * Exit status 0 when every run passed, 1 when one lost or duplicated
 * records or failed, 2 on usage. --quick is --scale 0.01 --rounds 1.
 * --only WORD runs the jobs whose name contains WORD (the fill runs with
 * either consume job).
 */
#include "bench_rdk.h"
#include "util/clock.h"
#include "util/mem.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB_MAX_ROUNDS 20
#define DB_FILL_PARTITIONS 64

typedef enum db_kind { DB_PRODUCE, DB_FILL, DB_CONSUME_ASSIGN, DB_CONSUME_GROUP } db_kind_t;

typedef struct db_job {
    const char *label;
    db_kind_t kind;
    int64_t records; /* at scale 1 */
    size_t size;
    const char *acks; /* produce and fill */
    int unit;         /* jobs of one unit share a topic and run together */
} db_job_t;

static const db_job_t db_jobs[] = {
    {"produce 100B acks=1", DB_PRODUCE, 1000000, 100, "1", 0},
    {"produce 100B acks=all", DB_PRODUCE, 1000000, 100, "all", 1},
    {"produce 1000B acks=1", DB_PRODUCE, 200000, 1000, "1", 2},
    {"produce 1000B acks=all", DB_PRODUCE, 200000, 1000, "all", 3},
    {"fill 64 partitions 100B", DB_FILL, 1000000, 100, "1", 4},
    {"consume 64 partitions assign()", DB_CONSUME_ASSIGN, 1000000, 100, NULL, 4},
    {"consume 64 partitions subscribe()", DB_CONSUME_GROUP, 1000000, 100, NULL, 4},
};
enum { DB_NJOBS = sizeof db_jobs / sizeof db_jobs[0] };

typedef struct db_opts {
    const char *bootstrap; /* NULL: the mock alone */
    int broker_pid;        /* 0: its CPU is not measured */
    int rounds;
    double scale;
    double rate;           /* produce jobs' offered rate; 0: saturating */
    int partitions;        /* produce jobs' topics */
    const char *only;      /* NULL: every job */
} db_opts_t;

/* What one run of a job measured; join_ms for the group consumer. */
typedef struct db_run {
    bench_result_t r;
    double join_ms;
} db_run_t;

/* --- consume ------------------------------------------------------------------ */

/* Reads every record the ranges hold, each partition's offsets once and in
 * order; stops at the first record out of place. Returns records read, or
 * -1 with a message. restart: when not NULL, its clocks start again at the
 * first record (a group member's join is not the data path). */
static int64_t db_read(const char *name, rd_kafka_t *rk, const bench_range_t *ranges, int partitions,
                       int64_t held, int64_t *bytes, bench_clock_t *restart, const bench_cpu_set_t *cpu) {
    int64_t *next = mem_alloc((size_t)partitions * sizeof *next);
    for (int p = 0; p < partitions; p++)
        next[p] = ranges[p].low;
    int64_t received = 0;
    int64_t deadline = clock_mono_ms() + BENCH_TIMEOUT_MS;
    while (received < held) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (clock_mono_ms() > deadline) {
                fprintf(stderr, "%s: timed out after %" PRId64 " of %" PRId64 " records\n", name, received, held);
                break;
            }
            continue;
        }
        if (m->err) {
            fprintf(stderr, "%s: consume: %s\n", name, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            received = -1;
            break;
        }
        if (received == 0 && restart)
            *restart = bench_clock_start(cpu);
        bool known = m->partition >= 0 && m->partition < partitions;
        if (!known || m->offset != next[m->partition]) {
            fprintf(stderr, "%s: partition %d offset %" PRId64 ": %s\n", name, (int)m->partition, m->offset,
                    !known                            ? "not a partition of the topic"
                    : m->offset < next[m->partition] ? "read twice"
                                                      : "records before it were skipped");
            rd_kafka_message_destroy(m);
            received = -1;
            break;
        }
        next[m->partition]++;
        received++;
        *bytes += (int64_t)m->len;
        rd_kafka_message_destroy(m);
    }
    free(next);
    return received;
}

/* One consumer reads topic back; with group, as a member of a new group
 * (subscribe), else with assign() from each partition's start. */
static db_run_t db_consume(const bench_target_t *t, const char *topic, int64_t acked, bool group, int round) {
    db_run_t run = {.r = {.cpu_s = -1}};
    char name[96];
    snprintf(name, sizeof name, "data-bench: %s: %s", t->name, group ? "subscribe()" : "assign()");
    bench_range_t *ranges;
    int partitions;
    int64_t held = bench_topic_ranges(name, t->bootstrap, topic, &ranges, &partitions);
    if (held != acked) {
        if (held >= 0)
            fprintf(stderr, "%s: %s holds %" PRId64 " records, %" PRId64 " were acked\n", name, topic, held, acked);
        free(ranges);
        return run;
    }
    rd_kafka_conf_t *conf = bench_conf(t->bootstrap);
    char group_id[200];
    /* assign() needs a group.id too (librdkafka's consumer API), though it never joins */
    snprintf(group_id, sizeof group_id, "%s-%s-r%d", topic, group ? "group" : "assign", round);
    bench_conf_set(conf, "group.id", group_id);
    if (group)
        bench_conf_set(conf, "auto.offset.reset", "earliest");
    rd_kafka_t *rk = bench_new(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(group ? 1 : partitions);
    if (group) {
        rd_kafka_topic_partition_list_add(tps, topic, RD_KAFKA_PARTITION_UA);
    } else {
        for (int p = 0; p < partitions; p++)
            rd_kafka_topic_partition_list_add(tps, topic, p)->offset = ranges[p].low;
    }
    int64_t bytes = 0;
    bench_clock_t clk = bench_clock_start(&t->cpu);
    int64_t t0_ns = clk.t0_ns;
    rd_kafka_resp_err_t e = group ? rd_kafka_subscribe(rk, tps) : rd_kafka_assign(rk, tps);
    int64_t received = -1;
    if (e)
        fprintf(stderr, "%s: %s\n", name, rd_kafka_err2str(e));
    else
        received = db_read(name, rk, ranges, partitions, held, &bytes, group ? &clk : NULL, &t->cpu);
    if (received == held) {
        run.join_ms = group ? (double)(clk.t0_ns - t0_ns) / 1e6 : 0;
        bench_clock_stop(&clk, &t->cpu, received, bytes, &run.r);
        run.r.ok = true;
    }
    rd_kafka_topic_partition_list_destroy(tps);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(ranges);
    return run;
}

/* --- runs ------------------------------------------------------------------------ */

static int64_t db_records(const db_job_t *j, const db_opts_t *o) {
    int64_t n = (int64_t)llround((double)j->records * o->scale);
    return n < 1 ? 1 : n;
}

static bool db_selected(const db_job_t *j, const db_opts_t *o) {
    return !o->only || strstr(j->label, o->only) != NULL;
}

static bool db_unit_selected(int unit, const db_opts_t *o) {
    for (int k = 0; k < DB_NJOBS; k++)
        if (db_jobs[k].unit == unit && db_selected(&db_jobs[k], o))
            return true;
    return false;
}

/* A producer run of job k; a broker's topic must then hold exactly what was
 * acked (the mock's only when nothing was past its per-partition limit: the
 * fill, which the consumers count anyway). */
static db_run_t db_produce(const bench_target_t *t, const db_job_t *j, const db_opts_t *o, const char *topic) {
    static const char *const sticky[] = {"sticky.partitioning.linger.ms", "1", NULL};
    char name[96];
    snprintf(name, sizeof name, "data-bench: %s: %s", t->name, j->label);
    bench_produce_opts_t po = {.records = db_records(j, o),
                               .size = j->size,
                               .acks = j->acks,
                               .rate = j->kind == DB_PRODUCE ? o->rate : 0,
                               .extra = j->kind == DB_FILL ? sticky : NULL};
    db_run_t run = {.r = bench_produce_run(name, t->bootstrap, topic, &po, &t->cpu)};
    if (run.r.ok && !t->is_mock) {
        bench_range_t *ranges;
        int partitions;
        int64_t held = bench_topic_ranges(name, t->bootstrap, topic, &ranges, &partitions);
        free(ranges);
        if (held != po.records) {
            fprintf(stderr, "%s: %s holds %" PRId64 " records, %" PRId64 " were acked\n", name, topic, held,
                    po.records);
            run.r.ok = false;
        }
    }
    return run;
}

/* One unit's jobs against one target: a new topic (and a new mock cluster),
 * then each selected job in order into runs[job]. */
static void db_run_unit(bench_target_t *t, int unit, const db_opts_t *o, const char *stamp, int round,
                        db_run_t runs[DB_NJOBS]) {
    bench_target_open(t, 1);
    char topic[160];
    snprintf(topic, sizeof topic, "data-bench-%s-u%d-r%d-%s", stamp, unit, round, t->name);
    int partitions = unit == db_jobs[DB_NJOBS - 1].unit ? DB_FILL_PARTITIONS : o->partitions;
    bool created = bench_create_topic("data-bench", t, topic, partitions, 1, NULL) == 0;
    int64_t acked = -1; /* what the unit's producer wrote, for its consumers */
    for (int k = 0; k < DB_NJOBS; k++) {
        const db_job_t *j = &db_jobs[k];
        if (j->unit != unit)
            continue;
        runs[k] = (db_run_t){.r = {.cpu_s = -1}};
        bool produces = j->kind == DB_PRODUCE || j->kind == DB_FILL;
        if (!created || (!produces && (acked < 0 || !db_selected(j, o))))
            continue;
        if (produces) {
            runs[k] = db_produce(t, j, o, topic);
            acked = runs[k].r.ok ? runs[k].r.records : -1;
        } else {
            runs[k] = db_consume(t, topic, acked, j->kind == DB_CONSUME_GROUP, round);
        }
    }
    bench_target_close(t);
}

/* --- report ---------------------------------------------------------------------- */

/* The medians over the rounds of one job's runs against one target. */
typedef struct db_summary {
    int runs;
    double rec_s, mb_s, p50_ms, p99_ms, max_ms, client_per_m, broker_per_m, join_ms;
    double requests, rtt_avg_ms, rtt_p99_ms; /* produce: the client's statistics */
} db_summary_t;

static db_summary_t db_summarize(const db_run_t *runs, int n) {
    double v[11][DB_MAX_ROUNDS];
    db_summary_t s = {0};
    int k = 0, kb = 0;
    for (int i = 0; i < n; i++) {
        const bench_result_t *r = &runs[i].r;
        if (!r->ok)
            continue;
        double per_m = 1e6 / (double)r->records;
        v[0][k] = r->rec_s, v[1][k] = r->mb_s, v[2][k] = r->p50_ms, v[3][k] = r->p99_ms, v[4][k] = r->max_ms;
        v[5][k] = r->client_cpu_s * per_m, v[7][k] = runs[i].join_ms;
        v[8][k] = (double)r->produce_requests, v[9][k] = r->rtt_avg_ms, v[10][k] = r->rtt_p99_ms;
        if (r->cpu_s >= 0)
            v[6][kb++] = r->cpu_s * per_m;
        k++;
    }
    s.runs = k;
    s.rec_s = bench_median(v[0], k), s.mb_s = bench_median(v[1], k);
    s.p50_ms = bench_median(v[2], k), s.p99_ms = bench_median(v[3], k), s.max_ms = bench_median(v[4], k);
    s.client_per_m = bench_median(v[5], k);
    s.broker_per_m = kb ? bench_median(v[6], kb) : -1;
    s.join_ms = bench_median(v[7], k);
    s.requests = bench_median(v[8], k), s.rtt_avg_ms = bench_median(v[9], k), s.rtt_p99_ms = bench_median(v[10], k);
    return s;
}

static void db_print(const db_job_t *j, const char *target, const db_summary_t *s, int rounds) {
    printf("%s %s: ", j->label, target);
    if (s->runs < rounds) {
        printf("FAILED (%d of %d runs complete)\n", s->runs, rounds);
        return;
    }
    char rate[32];
    bench_fmt_rate(rate, sizeof rate, s->rec_s);
    printf("%s rec/s %.1f MB/s", rate, s->mb_s);
    if (j->kind == DB_PRODUCE || j->kind == DB_FILL)
        printf(" p50 %.2f ms p99 %.2f ms max %.2f ms", s->p50_ms, s->p99_ms, s->max_ms);
    printf(" client %.2f cpu-s/M", s->client_per_m);
    if (s->broker_per_m >= 0)
        printf(" broker %.2f cpu-s/M", s->broker_per_m);
    else
        printf(" broker n/a");
    if (j->kind == DB_CONSUME_GROUP)
        printf(" (join %.0f ms)", s->join_ms);
    if ((j->kind == DB_PRODUCE || j->kind == DB_FILL) && s->requests > 0)
        printf(" requests %.0f rtt avg %.2f ms p99 %.2f ms", s->requests, s->rtt_avg_ms, s->rtt_p99_ms);
    printf("\n");
}

/* The ratio of the medians and the median of the rounds' own ratios of one
 * figure (field: offset of a double in bench_result_t). */
static void db_print_ratio(const char *what, const db_run_t *a, const db_run_t *b, int n, double med_a,
                           double med_b, size_t field) {
    double paired[DB_MAX_ROUNDS];
    int np = 0;
    for (int i = 0; i < n; i++) {
        double x = *(const double *)((const char *)&a[i].r + field);
        double y = *(const double *)((const char *)&b[i].r + field);
        if (a[i].r.ok && b[i].r.ok && y > 0)
            paired[np++] = x / y;
    }
    if (med_b > 0 && np)
        printf(" %s %.2f (rounds' median %.2f)", what, med_a / med_b, bench_median(paired, np));
    else
        printf(" %s n/a", what);
}

/* --- main --------------------------------------------------------------------------- */

static void db_usage(void) {
    fprintf(stderr, "usage: data-bench [--bootstrap HOST:PORT --broker-pid PID] [--rounds R] [--scale F | --quick] "
                    "[--rate REC_S] [--partitions P] [--only WORD]\n");
    exit(2);
}

static void db_parse(int argc, char **argv, db_opts_t *o) {
    *o = (db_opts_t){.rounds = 5, .scale = 1.0, .partitions = 3};
    bool rounds_given = false, quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v)
            db_usage();
        bool ok = true;
        if (strcmp(argv[i - 1], "--bootstrap") == 0)
            o->bootstrap = v;
        else if (strcmp(argv[i - 1], "--broker-pid") == 0)
            ok = bench_parse_int(v, 0x7fffffff, &o->broker_pid);
        else if (strcmp(argv[i - 1], "--rounds") == 0)
            ok = bench_parse_int(v, DB_MAX_ROUNDS, &o->rounds), rounds_given = true;
        else if (strcmp(argv[i - 1], "--scale") == 0)
            ok = bench_parse_double(v, 100, &o->scale);
        else if (strcmp(argv[i - 1], "--rate") == 0)
            ok = bench_parse_double(v, 1e8, &o->rate);
        else if (strcmp(argv[i - 1], "--partitions") == 0)
            ok = bench_parse_int(v, 1000, &o->partitions);
        else if (strcmp(argv[i - 1], "--only") == 0)
            o->only = v;
        else
            ok = false;
        if (!ok)
            db_usage();
    }
    if (quick) {
        o->scale = 0.01;
        if (!rounds_given)
            o->rounds = 1;
    }
    if (o->broker_pid && !o->bootstrap)
        db_usage();
}

int main(int argc, char **argv) {
    db_opts_t o;
    db_parse(argc, argv, &o);
    bench_target_t broker = {.name = "samsa"}, mock = {.name = "mock", .is_mock = true};
    if (o.bootstrap) {
        snprintf(broker.bootstrap, sizeof broker.bootstrap, "%s", o.bootstrap);
        if (o.broker_pid)
            bench_cpu_set_add_pid(&broker.cpu, o.broker_pid, "data-bench");
    }
    char stamp[64];
    snprintf(stamp, sizeof stamp, "%d-%ld", (int)getpid(), (long)(clock_wall_ms() / 1000));
    char rate[64] = "saturating";
    if (o.rate > 0)
        snprintf(rate, sizeof rate, "offered %.0f rec/s", o.rate);
    printf("data-bench: %s%s%s, mock cluster in this process, librdkafka %s, %d round(s) interleaved, medians; "
           "produce %s, %d partition(s), scale %g\n",
           o.bootstrap ? "samsa at " : "mock only", o.bootstrap ? o.bootstrap : "",
           o.bootstrap && !o.broker_pid ? " (broker CPU not measured: no --broker-pid)" : "", rd_kafka_version_str(),
           o.rounds, rate, o.partitions, o.scale);
    fflush(stdout);

    static db_run_t runs[DB_NJOBS][2][DB_MAX_ROUNDS]; /* [job][0 samsa, 1 mock][round] */
    bool all_ok = true;
    for (int unit = 0; unit <= db_jobs[DB_NJOBS - 1].unit; unit++) { /* the table lists units in order */
        if (!db_unit_selected(unit, &o))
            continue;
        for (int r = 0; r < o.rounds; r++) {
            db_run_t round_runs[2][DB_NJOBS];
            for (int i = 0; i < 2; i++) {
                int which = r % 2 ? 1 - i : i; /* samsa, mock, mock, samsa, ... */
                if (which == 0 && !o.bootstrap)
                    continue;
                db_run_unit(which == 0 ? &broker : &mock, unit, &o, stamp, r, round_runs[which]);
            }
            for (int k = 0; k < DB_NJOBS; k++)
                if (db_jobs[k].unit == unit)
                    for (int w = o.bootstrap ? 0 : 1; w < 2; w++)
                        runs[k][w][r] = round_runs[w][k];
        }
        for (int k = 0; k < DB_NJOBS; k++) {
            const db_job_t *j = &db_jobs[k];
            if (j->unit != unit || (!db_selected(j, &o) && j->kind != DB_FILL))
                continue;
            db_summary_t s[2] = {{0}, {0}};
            for (int w = o.bootstrap ? 0 : 1; w < 2; w++) {
                s[w] = db_summarize(runs[k][w], o.rounds);
                db_print(j, w == 0 ? "samsa" : "mock", &s[w], o.rounds);
                all_ok = all_ok && s[w].runs == o.rounds;
            }
            if (o.bootstrap) {
                printf("%s samsa/mock:", j->label);
                db_print_ratio("rec/s", runs[k][0], runs[k][1], o.rounds, s[0].rec_s, s[1].rec_s,
                               offsetof(bench_result_t, rec_s));
                if (j->kind == DB_PRODUCE || j->kind == DB_FILL)
                    db_print_ratio("p99", runs[k][0], runs[k][1], o.rounds, s[0].p99_ms, s[1].p99_ms,
                                   offsetof(bench_result_t, p99_ms));
                printf("\n");
            }
            fflush(stdout);
        }
    }
    printf("%s\n", all_ok ? "all runs complete" : "SOME RUNS FAILED");
    return all_ok ? 0 : 1;
}
