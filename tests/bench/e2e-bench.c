/*
 * e2e-bench — end-to-end latency, producer -> broker -> consumer, as one
 * librdkafka application sees it (issue 18, deliverable 2).
 *
 *   e2e-bench [--bootstrap HOST:PORT] [--rate REC_S] [--seconds S] [--rounds R]
 *             [--size B] [--partitions P] [--only WORD] [--quick]
 *
 * A producer and a consumer in this process (the consumer in a thread of its
 * own) share the monotonic clock: each record carries its sequence number
 * and the time it was due (record i at start + i / rate, so a client or
 * broker that falls behind shows it as latency rather than slowing the
 * schedule); the consumer takes now minus that time when it gets the
 * record. Runs last --seconds (default 5) at a fixed offered rate: --rate,
 * or by default half the maximum this run first measures for the mode and
 * the settings — a saturating producer of the mode's acks and the settings'
 * linger.ms (100,000 records) against each target, half of the lower of the
 * two, so that both targets get the same rate. Per settings, because
 * linger.ms=0 sends far smaller batches: half of the linger.ms=5 maximum
 * overloads it, and its p99 then measures a queue that only grows.
 *
 * Modes: RF 1 acks=1, and RF 3 acks=all with min.insync.replicas=2 (when the
 * cluster at --bootstrap has at least 3 brokers; said so otherwise), each on
 * a new topic of --partitions partitions (default 12: the mock keeps only
 * about 5 MiB a partition, and at half load on a busy machine a consumer
 * that lags a second behind 3 partitions has lost records there). Client settings: the
 * defaults (producer linger.ms=5; consumer fetch.wait.max.ms=500,
 * fetch.min.bytes=1) and low-latency ones a user would pick (linger.ms=0,
 * fetch.wait.max.ms=10, fetch.min.bytes=1). The consumer uses assign() from
 * offset 0 and is known to be fetching (a warm-up record came through)
 * before the clock starts. The baseline is librdkafka's mock cluster with 3
 * brokers, new for every run; rounds (default 3) alternate which target goes
 * first. Per mode, settings and target it prints the medians over the rounds
 * of p50, p99, p99.9 and max, and of the produce half alone — p50 and p99
 * of due time to delivery report ("acked"): what the consumer's side adds
 * is the difference — then the samsa/mock ratio of the p99 medians.
 * Without --bootstrap only the mock runs. --only WORD runs the mode and
 * settings pairs whose "mode settings" label contains WORD (e.g. "RF 1",
 * "low-latency"). --quick: --seconds 1 --rounds 1 --rate 2000.
 *
 * Every record must arrive exactly once: exit status 1 when one is lost or
 * duplicated (or a run fails), 0 otherwise, 2 on usage.
 */
#include "bench_rdk.h"
#include "util/clock.h"
#include "util/mem.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define E2E_MAX_ROUNDS 20
#define E2E_WARMUP_SEQ UINT64_MAX /* a record that only says the consumer is fetching */
#define E2E_HEADER 16             /* sequence number and due time, 8 bytes each */

typedef struct e2e_opts {
    const char *bootstrap; /* NULL: the mock alone */
    double rate;           /* 0: half the measured maximum */
    double seconds;
    int rounds;
    int size;
    int partitions;
    const char *only;      /* NULL: every mode and settings */
} e2e_opts_t;

typedef struct e2e_mode {
    const char *label;
    int replication_factor;
    const char *acks;
    const char *min_isr;
} e2e_mode_t;

static const e2e_mode_t e2e_modes[] = {
    {"RF 1 acks=1", 1, "1", NULL},
    {"RF 3 acks=all", 3, "all", "2"},
};

typedef struct e2e_settings {
    const char *label;
    const char *linger_ms, *fetch_wait_max_ms, *fetch_min_bytes;
} e2e_settings_t;

static const e2e_settings_t e2e_settings[] = {
    {"defaults", "5", "500", "1"},
    {"low-latency", "0", "10", "1"},
};

enum { E2E_NMODES = 2, E2E_NSETTINGS = 2 };

/* --- the consumer thread ----------------------------------------------------- */

/* Shared by the main thread and the consumer thread: the atomics are the
 * hand-over; latency_ns and seen are the consumer's until it is joined. */
typedef struct e2e_consumer {
    rd_kafka_t *rk;          /* made and destroyed by the main thread, polled by the consumer */
    int64_t expected;        /* records of the timed run */
    int64_t *latency_ns;     /* per record, indexed by sequence number */
    uint8_t *seen;           /* per record */
    atomic_bool fetching;    /* a warm-up record came through */
    atomic_bool stop;        /* the main thread gives up waiting */
    atomic_bool failed;      /* error holds why: stop waiting */
    atomic_int_fast64_t received;
    int64_t duplicates, foreign; /* records seen twice; sequence numbers out of range */
    char error[256];         /* the first consume error; "" if none */
} e2e_consumer_t;

static uint64_t e2e_get64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void *e2e_consume(void *arg) {
    e2e_consumer_t *c = arg;
    while (!atomic_load(&c->stop) && atomic_load(&c->received) < c->expected) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (!m)
            continue;
        int64_t now = clock_mono_ns();
        if (m->err) {
            if (!c->error[0] && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(c->error, sizeof c->error, "%s", rd_kafka_message_errstr(m));
                atomic_store(&c->failed, true);
            }
        } else if (m->len >= E2E_HEADER) {
            uint64_t seq = e2e_get64(m->payload);
            int64_t due = (int64_t)e2e_get64((const uint8_t *)m->payload + 8);
            if (seq == E2E_WARMUP_SEQ) {
                atomic_store(&c->fetching, true);
            } else if (seq >= (uint64_t)c->expected) {
                c->foreign++;
            } else if (c->seen[seq]++) {
                c->duplicates++;
            } else {
                c->latency_ns[seq] = now - due;
                atomic_fetch_add(&c->received, 1);
            }
        } else {
            c->foreign++;
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* --- one run ---------------------------------------------------------------- */

typedef struct e2e_result {
    bool ok;
    double p50_ms, p99_ms, p999_ms, max_ms;
    double acked_p50_ms, acked_p99_ms; /* due -> delivery report */
    int64_t records;
} e2e_result_t;

/* The producer's delivery reports (served by the main thread's polls): a
 * timed record carries its due time as its opaque, a warm-up record 0. */
typedef struct e2e_acks {
    int64_t *latency_ns; /* per acknowledged timed record, in report order */
    int64_t n, cap;
} e2e_acks_t;

static void e2e_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    e2e_acks_t *a = opaque;
    int64_t due = (int64_t)(intptr_t)m->_private;
    if (!m->err && due && a->n < a->cap)
        a->latency_ns[a->n++] = clock_mono_ns() - due;
}

static void e2e_put64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, sizeof v);
}

/* Makes the run's topic; the mock (a new 3-broker cluster) first. */
static int e2e_setup(bench_target_t *t, const char *topic, const e2e_mode_t *m, int partitions) {
    bench_target_open(t, 3);
    return bench_create_topic("e2e-bench", t, topic, partitions, m->replication_factor, m->min_isr);
}

/* Records of a run at rate for seconds. */
static int64_t e2e_records(double rate, double seconds) {
    int64_t n = (int64_t)(rate * seconds);
    return n < 1 ? 1 : n;
}

/* Sends one record at due_ns (0: now); false when librdkafka refuses it. */
static bool e2e_send(rd_kafka_t *rk, rd_kafka_topic_t *rkt, uint8_t *value, size_t size, uint64_t seq,
                     int64_t due_ns) {
    e2e_put64(value, seq);
    e2e_put64(value + 8, (uint64_t)due_ns);
    void *due_opaque = seq == E2E_WARMUP_SEQ ? NULL : (void *)(intptr_t)due_ns;
    for (;;) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value, size, NULL, 0, due_opaque) == 0)
            return true;
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return false;
        rd_kafka_poll(rk, 1);
    }
}

static e2e_result_t e2e_run(bench_target_t *t, const e2e_mode_t *m, const e2e_settings_t *s, const e2e_opts_t *o,
                            double rate, const char *topic) {
    e2e_result_t res = {0};
    if (e2e_setup(t, topic, m, o->partitions) != 0) {
        bench_target_close(t);
        return res;
    }
    int64_t records = e2e_records(rate, o->seconds);
    e2e_consumer_t c = {.expected = records};
    c.latency_ns = mem_alloc((size_t)records * sizeof *c.latency_ns);
    c.seen = mem_calloc((size_t)records, 1);

    rd_kafka_conf_t *cc = bench_conf(t->bootstrap);
    char group_id[200];
    snprintf(group_id, sizeof group_id, "%s-e2e", topic); /* assign() needs one, never joins */
    bench_conf_set(cc, "group.id", group_id);
    bench_conf_set(cc, "fetch.wait.max.ms", s->fetch_wait_max_ms);
    bench_conf_set(cc, "fetch.min.bytes", s->fetch_min_bytes);
    /* a consumer that falls behind what the log keeps says so instead of skipping ahead */
    bench_conf_set(cc, "auto.offset.reset", "error");
    c.rk = bench_new(RD_KAFKA_CONSUMER, cc);
    rd_kafka_poll_set_consumer(c.rk);
    rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(o->partitions);
    for (int p = 0; p < o->partitions; p++)
        rd_kafka_topic_partition_list_add(tps, topic, p)->offset = 0;
    rd_kafka_assign(c.rk, tps);
    rd_kafka_topic_partition_list_destroy(tps);

    rd_kafka_conf_t *pc = bench_conf(t->bootstrap);
    bench_conf_set(pc, "acks", m->acks);
    bench_conf_set(pc, "linger.ms", s->linger_ms);
    e2e_acks_t acks = {.latency_ns = mem_alloc((size_t)records * sizeof *acks.latency_ns), .cap = records};
    rd_kafka_conf_set_dr_msg_cb(pc, e2e_on_delivery);
    rd_kafka_conf_set_opaque(pc, &acks);
    rd_kafka_t *prod = bench_new(RD_KAFKA_PRODUCER, pc);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, topic, NULL);
    uint8_t *value = bench_value((size_t)o->size);

    pthread_t thread;
    pthread_create(&thread, NULL, e2e_consume, &c);
    const char *failure = NULL;
    /* warm-up: until the consumer is fetching and has seen one come through */
    int64_t warm_deadline = clock_mono_ms() + 60000;
    while (!atomic_load(&c.fetching) && !failure) {
        if (!e2e_send(prod, rkt, value, (size_t)o->size, E2E_WARMUP_SEQ, clock_mono_ns()))
            failure = "produce refused a warm-up record";
        rd_kafka_poll(prod, 20);
        if (clock_mono_ms() > warm_deadline)
            failure = "the consumer saw no warm-up record in 60 s";
    }
    /* the timed run: record i due at t0 + i / rate */
    double ns_per_record = 1e9 / rate;
    int64_t t0 = clock_mono_ns();
    for (int64_t i = 0; i < records && !failure; i++) {
        int64_t due = t0 + (int64_t)((double)i * ns_per_record);
        bench_wait_until(prod, due);
        if (!e2e_send(prod, rkt, value, (size_t)o->size, (uint64_t)i, due))
            failure = "produce refused a record";
        if ((i & 255) == 0)
            rd_kafka_poll(prod, 0);
    }
    if (rd_kafka_flush(prod, BENCH_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR && !failure)
        failure = "not every record was delivered";
    int64_t deadline = clock_mono_ms() + 60000;
    while (!failure && !atomic_load(&c.failed) && atomic_load(&c.received) < records && clock_mono_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&c.stop, true);
    pthread_join(thread, NULL);

    int64_t received = atomic_load(&c.received);
    if (!failure && !c.error[0] && received < records)
        failure = "the consumer still lacked records 60 s after the last was delivered";
    if (failure || c.error[0] || received != records || c.duplicates || c.foreign) {
        fprintf(stderr, "e2e-bench: %s: %s %s: %s%s%s; %" PRId64 " of %" PRId64 " records arrived, %" PRId64
                        " twice, %" PRId64 " unknown%s\n",
                t->name, m->label, s->label, failure ? failure : "", c.error[0] ? "consume: " : "", c.error,
                received, records, c.duplicates, c.foreign,
                t->is_mock && c.error[0] ? " (the mock keeps about 5 MiB a partition: the consumer fell further "
                                           "behind; try a lower --rate or more --partitions)"
                                         : "");
    } else {
        bench_sort_ns(c.latency_ns, records);
        res = (e2e_result_t){.ok = true,
                             .records = records,
                             .p50_ms = bench_quantile_ms(c.latency_ns, records, 0.5),
                             .p99_ms = bench_quantile_ms(c.latency_ns, records, 0.99),
                             .p999_ms = bench_quantile_ms(c.latency_ns, records, 0.999),
                             .max_ms = bench_quantile_ms(c.latency_ns, records, 1.0)};
        bench_sort_ns(acks.latency_ns, acks.n);
        res.acked_p50_ms = bench_quantile_ms(acks.latency_ns, acks.n, 0.5);
        res.acked_p99_ms = bench_quantile_ms(acks.latency_ns, acks.n, 0.99);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(prod);
    rd_kafka_consumer_close(c.rk);
    rd_kafka_destroy(c.rk);
    free(value);
    free(c.latency_ns);
    free(c.seen);
    free(acks.latency_ns);
    bench_target_close(t);
    return res;
}

/* The saturating producer's rate for the mode against the target: what
 * "half the maximum" halves. 0 when the run failed. */
static double e2e_max_rate(bench_target_t *t, const e2e_mode_t *m, const e2e_settings_t *s, const e2e_opts_t *o,
                           const char *topic) {
    if (e2e_setup(t, topic, m, o->partitions) != 0) {
        bench_target_close(t);
        return 0;
    }
    char name[128];
    snprintf(name, sizeof name, "e2e-bench: %s: %s %s: maximum", t->name, m->label, s->label);
    const char *const linger[] = {"linger.ms", s->linger_ms, NULL};
    bench_produce_opts_t po = {.records = 100000, .size = (size_t)o->size, .acks = m->acks, .extra = linger};
    bench_result_t r = bench_produce_run(name, t->bootstrap, topic, &po, NULL);
    bench_target_close(t);
    return r.ok ? r.rec_s : 0;
}

/* How many brokers the cluster at bootstrap has; -1 when it does not answer. */
static int e2e_broker_count(const char *bootstrap) {
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, bench_conf(bootstrap));
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->broker_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return n;
}

/* --- report ------------------------------------------------------------------- */

/* The medians over the rounds; runs: how many were complete. */
typedef struct e2e_summary {
    int runs;
    double p50_ms, p99_ms, p999_ms, max_ms, acked_p50_ms, acked_p99_ms;
} e2e_summary_t;

static e2e_summary_t e2e_summarize(const e2e_result_t *r, int n) {
    double v[6][E2E_MAX_ROUNDS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (r[i].ok)
            v[0][k] = r[i].p50_ms, v[1][k] = r[i].p99_ms, v[2][k] = r[i].p999_ms, v[3][k] = r[i].max_ms,
            v[4][k] = r[i].acked_p50_ms, v[5][k] = r[i].acked_p99_ms, k++;
    return (e2e_summary_t){.runs = k,
                           .p50_ms = bench_median(v[0], k),
                           .p99_ms = bench_median(v[1], k),
                           .p999_ms = bench_median(v[2], k),
                           .max_ms = bench_median(v[3], k),
                           .acked_p50_ms = bench_median(v[4], k),
                           .acked_p99_ms = bench_median(v[5], k)};
}

static void e2e_print(const e2e_mode_t *m, const e2e_settings_t *s, const char *target, const e2e_summary_t *sum,
                      int rounds, int64_t records) {
    printf("%s %s %s: ", m->label, s->label, target);
    if (sum->runs < rounds)
        printf("FAILED (%d of %d runs complete)\n", sum->runs, rounds);
    else
        printf("p50 %.2f ms p99 %.2f ms p99.9 %.2f ms max %.2f ms, acked p50 %.2f ms p99 %.2f ms (%" PRId64
               " records a run)\n",
               sum->p50_ms, sum->p99_ms, sum->p999_ms, sum->max_ms, sum->acked_p50_ms, sum->acked_p99_ms, records);
}

/* --rate, or half the lower of the targets' maximum rates for the mode and
 * the settings (printed); 0 when no maximum could be measured. */
static double e2e_offered_rate(bench_target_t *targets, int first, const e2e_mode_t *m, const e2e_settings_t *s,
                               const e2e_opts_t *o, const char *stamp) {
    if (o->rate > 0) {
        printf("%s %s: offered %.0f rec/s (--rate)\n", m->label, s->label, o->rate);
        return o->rate;
    }
    double max[2] = {0, 0}, lower = 0;
    for (int w = first; w < 2; w++) {
        char topic[160];
        snprintf(topic, sizeof topic, "e2e-bench-%s-rf%d-%s-max-%s", stamp, m->replication_factor, s->label,
                 targets[w].name);
        max[w] = e2e_max_rate(&targets[w], m, s, o, topic);
        lower = w == first || max[w] < lower ? max[w] : lower;
    }
    if (lower <= 0) {
        printf("%s %s: FAILED (no maximum rate measured)\n", m->label, s->label);
        return 0;
    }
    char a[32], b[32], h[32];
    bench_fmt_rate(a, sizeof a, max[0]), bench_fmt_rate(b, sizeof b, max[1]), bench_fmt_rate(h, sizeof h, lower / 2);
    printf("%s %s: maximum (saturating producer, linger.ms=%s, 100000 records) %s%s%smock %s rec/s; offered %s "
           "rec/s, half the lower\n",
           m->label, s->label, s->linger_ms, first == 0 ? "samsa " : "", first == 0 ? a : "",
           first == 0 ? " rec/s, " : "", b, h);
    fflush(stdout);
    return lower / 2;
}

/* --- main --------------------------------------------------------------------- */

static void e2e_usage(void) {
    fprintf(stderr, "usage: e2e-bench [--bootstrap HOST:PORT] [--rate REC_S] [--seconds S] [--rounds R] [--size B] "
                    "[--partitions P] [--only WORD] [--quick]\n");
    exit(2);
}

static void e2e_parse(int argc, char **argv, e2e_opts_t *o) {
    *o = (e2e_opts_t){.seconds = 5, .rounds = 3, .size = 100, .partitions = 12};
    bool quick = false, rate_given = false, seconds_given = false, rounds_given = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
            continue;
        }
        const char *opt = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
        bool ok = v != NULL;
        if (!ok)
            ;
        else if (strcmp(opt, "--bootstrap") == 0)
            o->bootstrap = v;
        else if (strcmp(opt, "--rate") == 0)
            ok = bench_parse_double(v, 1e7, &o->rate), rate_given = true;
        else if (strcmp(opt, "--seconds") == 0)
            ok = bench_parse_double(v, 3600, &o->seconds), seconds_given = true;
        else if (strcmp(opt, "--rounds") == 0)
            ok = bench_parse_int(v, E2E_MAX_ROUNDS, &o->rounds), rounds_given = true;
        else if (strcmp(opt, "--size") == 0)
            ok = bench_parse_int(v, 1000000, &o->size) && o->size >= E2E_HEADER;
        else if (strcmp(opt, "--partitions") == 0)
            ok = bench_parse_int(v, 1000, &o->partitions);
        else if (strcmp(opt, "--only") == 0)
            o->only = v;
        else
            ok = false;
        if (!ok)
            e2e_usage();
    }
    if (quick) {
        o->seconds = seconds_given ? o->seconds : 1;
        o->rounds = rounds_given ? o->rounds : 1;
        o->rate = rate_given ? o->rate : 2000;
    }
    if (o->rate * o->seconds > 1e8)
        e2e_usage();
}

int main(int argc, char **argv) {
    e2e_opts_t o;
    e2e_parse(argc, argv, &o);
    bench_target_t targets[2] = {{.name = "samsa"}, {.name = "mock", .is_mock = true}};
    int brokers = 0;
    if (o.bootstrap) {
        snprintf(targets[0].bootstrap, sizeof targets[0].bootstrap, "%s", o.bootstrap);
        brokers = e2e_broker_count(o.bootstrap);
        if (brokers < 1) {
            fprintf(stderr, "e2e-bench: no answer from %s\n", o.bootstrap);
            return 1;
        }
    }
    printf("e2e-bench: %s%s%s%s, mock cluster (3 brokers) in this process, librdkafka %s, %d B records, "
           "%d partition(s), %g s a run, %d round(s) interleaved, medians\n",
           o.bootstrap ? "samsa at " : "mock only", o.bootstrap ? o.bootstrap : "", o.bootstrap ? " " : "",
           o.bootstrap ? (brokers >= 3 ? "(3+ brokers)" : "(fewer than 3 brokers: no RF 3 for samsa)") : "",
           rd_kafka_version_str(), o.size, o.partitions, o.seconds, o.rounds);
    for (int k = 0; k < E2E_NSETTINGS; k++)
        printf("settings %s: producer linger.ms=%s, consumer fetch.wait.max.ms=%s fetch.min.bytes=%s\n",
               e2e_settings[k].label, e2e_settings[k].linger_ms, e2e_settings[k].fetch_wait_max_ms,
               e2e_settings[k].fetch_min_bytes);
    fflush(stdout);

    char stamp[64];
    snprintf(stamp, sizeof stamp, "%d-%ld", (int)getpid(), (long)(clock_wall_ms() / 1000));
    bool all_ok = true;
    for (int mi = 0; mi < E2E_NMODES; mi++) {
        const e2e_mode_t *m = &e2e_modes[mi];
        bool with_samsa = o.bootstrap && brokers >= m->replication_factor;
        int first = with_samsa ? 0 : 1;
        for (int si = 0; si < E2E_NSETTINGS; si++) {
            const e2e_settings_t *s = &e2e_settings[si];
            char label[96];
            snprintf(label, sizeof label, "%s %s", m->label, s->label);
            if (o.only && !strstr(label, o.only))
                continue;
            double rate = e2e_offered_rate(targets, first, m, s, &o, stamp);
            if (rate <= 0) {
                all_ok = false;
                continue;
            }
            int64_t records = e2e_records(rate, o.seconds);
            e2e_result_t res[2][E2E_MAX_ROUNDS];
            memset(res, 0, sizeof res);
            for (int r = 0; r < o.rounds; r++)
                for (int i = 0; i < 2; i++) {
                    int w = r % 2 ? 1 - i : i; /* samsa, mock, mock, samsa, ... */
                    if (w < first)
                        continue;
                    char topic[160];
                    snprintf(topic, sizeof topic, "e2e-bench-%s-rf%d-%s-r%d-%s", stamp, m->replication_factor,
                             s->label, r, targets[w].name);
                    res[w][r] = e2e_run(&targets[w], m, s, &o, rate, topic);
                }
            e2e_summary_t sum[2] = {{0}, {0}};
            for (int w = first; w < 2; w++) {
                sum[w] = e2e_summarize(res[w], o.rounds);
                e2e_print(m, s, targets[w].name, &sum[w], o.rounds, records);
                all_ok = all_ok && sum[w].runs == o.rounds;
            }
            if (with_samsa && sum[0].runs && sum[1].runs && sum[1].p99_ms > 0)
                printf("%s %s samsa/mock: p99 %.2f\n", m->label, s->label, sum[0].p99_ms / sum[1].p99_ms);
            fflush(stdout);
        }
    }
    printf("%s\n", all_ok ? "all runs complete" : "SOME RUNS FAILED");
    return all_ok ? 0 : 1;
}
