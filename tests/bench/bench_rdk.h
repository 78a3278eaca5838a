/*
 * bench_rdk — what the librdkafka benchmarks (data-bench, e2e-bench,
 * replication-bench) share: the targets they measure (a broker given by
 * address, or librdkafka's mock cluster started in this process), CPU time
 * of the brokers and of the client from /proc, topics made through the
 * admin API, one producer run with per-record latency, and the small
 * statistics they print.
 *
 * A producer run sends `records` values of `size` bytes that do not
 * compress to one topic, partitioner's choice, with the given acks and
 * linger.ms=5, the default batch size. Saturating (rate 0), it sends as fast
 * as librdkafka takes them and the latency of a record is send call to
 * delivery report (queueing in the client included, as a saturating
 * producer sees it). At a fixed rate, record i is due at start + i / rate
 * and its latency counts from when it was due, so a client or broker that
 * falls behind the schedule shows it in the latency instead of hiding it
 * (no coordinated omission). A run fails when a record is not delivered or
 * reported twice. Broker CPU is the sum over the processes (or threads)
 * whose stat files are given, read before and after. The client's own
 * statistics (statistics.interval.ms=100) say how many ProduceRequests the
 * run took and their round trip: whether the client or the broker sets the
 * pace.
 */
#ifndef SAMSA_BENCH_RDK_H
#define SAMSA_BENCH_RDK_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_TIMEOUT_MS 300000 /* a run that takes longer has failed */
#define BENCH_MAX_BROKERS 8

/* What the benchmark measures the CPU of: up to BENCH_MAX_BROKERS stat
 * files (/proc/PID/stat, or a thread's); in_process when they are threads
 * of this process (the mock), whose time is then not the client's. */
typedef struct bench_cpu_set {
    char stat_path[BENCH_MAX_BROKERS][320];
    int n;
    bool in_process;
} bench_cpu_set_t;

/* A broker to measure: one given by address (its CPU from --broker-pid),
 * or librdkafka's mock cluster, which bench_target_open starts anew in this
 * process for every run (it holds its topics in memory until closed). */
typedef struct bench_target {
    const char *name;               /* "samsa" or "mock"; static */
    bool is_mock;
    char bootstrap[1024];           /* the mock's: set by bench_target_open */
    bench_cpu_set_t cpu;            /* empty when its CPU time is unknown */
    rd_kafka_t *mock_host;          /* mock only, while open: the handle that owns the cluster */
    rd_kafka_mock_cluster_t *mock;  /* mock only, while open */
} bench_target_t;

typedef struct bench_result {
    bool ok;
    double rec_s, mb_s;
    double p50_ms, p99_ms, max_ms;    /* produce: send (or due) -> delivery report */
    double cpu_s;                     /* brokers' CPU seconds; < 0: unknown */
    double client_cpu_s;              /* this process's, in-process brokers excluded */
    double client_cores;              /* client_cpu_s over the run's wall time */
    int64_t records;                  /* what the run moved */
    /* produce, from librdkafka's statistics: ProduceRequests sent, and the
     * round trip (request written -> response read, as the client sees
     * it: the broker's time and the network's) over the run; 0 unknown */
    int64_t produce_requests;
    double rtt_avg_ms, rtt_p99_ms;    /* p99: the highest of the statistics windows' p99s */
} bench_result_t;

/* utime + stime of a process or thread, in seconds, or -1. */
double bench_cpu_seconds(const char *stat_path);
/* The sum over the set, or -1 when one is unreadable or the set is empty. */
double bench_cpu_set_seconds(const bench_cpu_set_t *s);
/* Adds /proc/PID/stat; exits with a message when it cannot be read. */
void bench_cpu_set_add_pid(bench_cpu_set_t *s, int pid, const char *prog);
/* Parses "P1,P2,..." into the set; false when it is not such a list. */
bool bench_cpu_set_parse_pids(bench_cpu_set_t *s, const char *list, const char *prog);
/* This process's CPU seconds. */
double bench_self_cpu(void);

/* The CPU clocks of a run: read by bench_clock_start before it and
 * bench_clock_stop after it, which fills rate, cpu and client figures of r
 * for `records` records of `bytes` value bytes in all. */
typedef struct bench_clock {
    double cpu0, self0;
    int64_t t0_ns;
} bench_clock_t;
bench_clock_t bench_clock_start(const bench_cpu_set_t *cpu);
void bench_clock_stop(const bench_clock_t *c, const bench_cpu_set_t *cpu, int64_t records, int64_t bytes,
                      bench_result_t *r);

/* Fixed-rate pacing: returns at due_ns (monotonic clock), serving rk's
 * delivery reports meanwhile; sleeps, never spins (see bench_rdk.c). */
void bench_wait_until(rd_kafka_t *rk, int64_t due_ns);
/* Exits (status 2) when librdkafka refuses the property. */
void bench_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);
/* bootstrap.servers and a quiet log level. */
rd_kafka_conf_t *bench_conf(const char *bootstrap);
/* Exits (status 1) when the client cannot be made. */
rd_kafka_t *bench_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* Before a run: a mock target gets a new cluster of mock_brokers brokers
 * (its thread, "rdk:mock", found for the CPU figures; exits when it cannot);
 * a broker target nothing. */
void bench_target_open(bench_target_t *t, int mock_brokers);
/* After the run: the mock's cluster and everything its topics held freed. */
void bench_target_close(bench_target_t *t);

/* Creates topic, on a broker through the admin API (answered once every
 * partition has a leader), on the mock directly (it has no controller to
 * answer CreateTopics); min_isr NULL: the broker's. 0, or -1 with a message
 * prefixed with prog. */
int bench_create_topic(const char *prog, const bench_target_t *t, const char *topic, int partitions,
                       int replication_factor, const char *min_isr);

/* What a partition holds, [low, high). */
typedef struct bench_range {
    int64_t low, high;
} bench_range_t;
/* The watermarks of every partition of topic (*ranges: the caller frees
 * it); the records held in all, or -1 with a message. */
int64_t bench_topic_ranges(const char *prog, const char *bootstrap, const char *topic, bench_range_t **ranges,
                           int *partitions);

/* A value of size bytes that does not compress; the caller frees it. */
uint8_t *bench_value(size_t size);

typedef struct bench_produce_opts {
    int64_t records;
    size_t size;
    const char *acks;          /* "1", "all", ... */
    double rate;               /* records/s; 0: saturating */
    const char *const *extra;  /* more producer properties: key, value, ..., NULL; may be NULL */
} bench_produce_opts_t;

/* One producer run (see above). A failed run prints why on stderr,
 * prefixed with name, and returns ok = false. */
bench_result_t bench_produce_run(const char *name, const char *bootstrap, const char *topic,
                                 const bench_produce_opts_t *o, const bench_cpu_set_t *cpu);

/* Sorts n nanosecond figures in place. */
void bench_sort_ns(int64_t *ns, int64_t n);
/* The value at quantile q (0..1) of sorted figures, in milliseconds; 0 when
 * n is 0. */
double bench_quantile_ms(const int64_t *sorted_ns, int64_t n, double q);
/* Sorts v; the middle value (mean of the two middle ones), 0 when n is 0. */
double bench_median(double *v, int n);
/* "1.23M" or "456k". */
void bench_fmt_rate(char *out, size_t cap, double rec_s);
/* Parses a positive number no larger than max; false otherwise. */
bool bench_parse_double(const char *s, double max, double *out);
bool bench_parse_int(const char *s, int max, int *out);

#endif
