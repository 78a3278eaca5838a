/*
 * replication-bench — what replication costs a producer: one librdkafka
 * producer against the same cluster, to a topic with replication factor 3
 * produced with acks=all (min.insync.replicas=2), and to one with
 * replication factor 1 produced with acks=1 (the book's comparison; Kafka's
 * 2014 figure for the ratio is 0.51).
 *
 *   replication-bench --bootstrap HOST:PORT --broker-pids P1,P2,P3
 *                     [--rounds R] [--size 100|1000] [--scale F] [--partitions P]
 *
 * Each round creates two new topics (--partitions each, default 3) through
 * the admin API and produces 1,000,000 records of 100 bytes (200,000 of
 * 1,000 bytes) to each, in alternating order from round to round (see
 * bench_rdk.h for what a producer run is). Per record size it prints, for
 * both, the median over the rounds of records/s and MB/s, p50 and p99
 * latency, the brokers' CPU seconds per million records (the sum over
 * --broker-pids) and the client's cores; then the ratio of the medians
 * (RF 3 acks=all over RF 1 acks=1) and the median of the rounds' own
 * ratios (both runs of a round are back to back: the steadier figure on a
 * busy machine). Exit status 0 when every run delivered all its records,
 * 1 otherwise, 2 on usage.
 */
#include "bench_rdk.h"
#include "util/clock.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RB_MAX_ROUNDS 20

typedef struct rb_opts {
    const char *bootstrap;
    bench_target_t target; /* the cluster and its brokers' CPU */
    int rounds;
    size_t only_size;
    double scale;
    int partitions;
} rb_opts_t;

/* One of the two ways of producing compared. */
typedef struct rb_mode {
    const char *label;
    int replication_factor;
    const char *acks;
    const char *min_isr; /* NULL: the broker's */
} rb_mode_t;

static const rb_mode_t rb_modes[2] = {
    {"RF 1 acks=1", 1, "1", NULL},
    {"RF 3 acks=all", 3, "all", "2"},
};

static void rb_usage(void) {
    fprintf(stderr, "usage: replication-bench --bootstrap HOST:PORT --broker-pids P1,P2,... [--rounds R] "
                    "[--size 100|1000] [--scale F] [--partitions P]\n");
    exit(2);
}

static void rb_parse(int argc, char **argv, rb_opts_t *o) {
    *o = (rb_opts_t){.rounds = 5, .scale = 1.0, .partitions = 3};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            rb_usage();
        char *end;
        if (strcmp(argv[i], "--bootstrap") == 0) {
            o->bootstrap = v;
            snprintf(o->target.bootstrap, sizeof o->target.bootstrap, "%s", v);
        } else if (strcmp(argv[i], "--broker-pids") == 0) {
            if (!bench_cpu_set_parse_pids(&o->target.cpu, v, "replication-bench"))
                rb_usage();
        } else if (strcmp(argv[i], "--rounds") == 0) {
            o->rounds = (int)strtol(v, &end, 10);
            if (*end || o->rounds < 1 || o->rounds > RB_MAX_ROUNDS)
                rb_usage();
        } else if (strcmp(argv[i], "--size") == 0) {
            if (strcmp(v, "100") != 0 && strcmp(v, "1000") != 0)
                rb_usage();
            o->only_size = (size_t)atoi(v);
        } else if (strcmp(argv[i], "--scale") == 0) {
            o->scale = strtod(v, &end);
            if (*end || !(o->scale > 0) || o->scale > 100)
                rb_usage();
        } else if (strcmp(argv[i], "--partitions") == 0) {
            o->partitions = (int)strtol(v, &end, 10);
            if (*end || o->partitions < 1 || o->partitions > 1000)
                rb_usage();
        } else {
            rb_usage();
        }
    }
    if (!o->bootstrap || o->target.cpu.n == 0)
        rb_usage();
}

/* The medians over the rounds of one mode's runs. */
typedef struct rb_summary {
    double rec_s, mb_s, p50_ms, p99_ms, cpu_per_m, client_cores;
    int runs;
} rb_summary_t;

static rb_summary_t rb_summarize(const bench_result_t *r, int n, int64_t records) {
    double v[6][RB_MAX_ROUNDS];
    rb_summary_t s = {0};
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!r[i].ok)
            continue;
        v[0][k] = r[i].rec_s, v[1][k] = r[i].mb_s, v[2][k] = r[i].p50_ms, v[3][k] = r[i].p99_ms;
        v[4][k] = r[i].cpu_s >= 0 ? r[i].cpu_s * 1e6 / (double)records : -1;
        v[5][k] = r[i].client_cores;
        k++;
    }
    s.runs = k;
    s.rec_s = bench_median(v[0], k), s.mb_s = bench_median(v[1], k);
    s.p50_ms = bench_median(v[2], k), s.p99_ms = bench_median(v[3], k);
    s.cpu_per_m = bench_median(v[4], k), s.client_cores = bench_median(v[5], k);
    return s;
}

static void rb_print(const rb_mode_t *m, const rb_summary_t *s) {
    char rate[32];
    bench_fmt_rate(rate, sizeof rate, s->rec_s);
    printf("%s %s rec/s %.0f MB/s p50 %.1f ms p99 %.1f ms brokers %.2f cpu-s/M rec client %.1f cores", m->label,
           rate, s->mb_s, s->p50_ms, s->p99_ms, s->cpu_per_m, s->client_cores);
}

int main(int argc, char **argv) {
    rb_opts_t o;
    rb_parse(argc, argv, &o);
    struct {
        size_t size;
        int64_t records;
    } sizes[] = {{100, 1000000}, {1000, 200000}};
    printf("replication-bench: %s, %d broker(s) measured, one producer (linger.ms=5), librdkafka %s, %d round(s), "
           "%d partitions a topic, medians\n",
           o.bootstrap, o.target.cpu.n, rd_kafka_version_str(), o.rounds, o.partitions);
    long stamp = (long)(clock_wall_ms() / 1000);
    bool all_ok = true;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        if (o.only_size && sizes[z].size != o.only_size)
            continue;
        int64_t records = (int64_t)llround((double)sizes[z].records * o.scale);
        if (records < 1)
            records = 1;
        bench_result_t res[2][RB_MAX_ROUNDS];
        double paired[RB_MAX_ROUNDS];
        int npaired = 0;
        for (int r = 0; r < o.rounds; r++) {
            for (int i = 0; i < 2; i++) {
                int m = r % 2 ? 1 - i : i; /* alternate which mode goes first */
                char topic[160], name[96];
                snprintf(topic, sizeof topic, "replication-bench-%zu-rf%d-%d-%ld-r%d", sizes[z].size,
                         rb_modes[m].replication_factor, (int)getpid(), stamp, r);
                snprintf(name, sizeof name, "replication-bench: %s", rb_modes[m].label);
                res[m][r] = (bench_result_t){0};
                bench_produce_opts_t po = {.records = records, .size = sizes[z].size, .acks = rb_modes[m].acks};
                if (bench_create_topic("replication-bench", &o.target, topic, o.partitions,
                                       rb_modes[m].replication_factor, rb_modes[m].min_isr) == 0)
                    res[m][r] = bench_produce_run(name, o.bootstrap, topic, &po, &o.target.cpu);
                all_ok = all_ok && res[m][r].ok;
            }
            if (res[0][r].ok && res[1][r].ok)
                paired[npaired++] = res[1][r].rec_s / res[0][r].rec_s;
        }
        rb_summary_t s1 = rb_summarize(res[0], o.rounds, records);
        rb_summary_t s3 = rb_summarize(res[1], o.rounds, records);
        printf("%zuB: ", sizes[z].size);
        rb_print(&rb_modes[0], &s1);
        printf(" | ");
        rb_print(&rb_modes[1], &s3);
        if (s1.runs && s3.runs)
            printf(" | ratio %.2f (rounds' median %.2f)\n", s3.rec_s / s1.rec_s, bench_median(paired, npaired));
        else
            printf(" | ratio n/a\n");
        fflush(stdout);
    }
    printf("%s\n", all_ok ? "all runs complete" : "SOME RUNS FAILED");
    return all_ok ? 0 : 1;
}
