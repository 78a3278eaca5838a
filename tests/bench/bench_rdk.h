/*
 * bench_rdk — what the librdkafka benchmarks (produce-bench,
 * replication-bench) share: CPU time of the brokers and of the client from
 * /proc, client handles, one saturating producer run with per-record
 * latency, and the small statistics they print.
 *
 * A producer run sends `records` values of `size` bytes that do not
 * compress, as fast as librdkafka takes them (linger.ms=5, the default
 * batch size), to one topic, partitioner's choice, with the given acks; the
 * latency of a record is send call to delivery report (queueing in the
 * client included, as a saturating producer sees it). Broker CPU is the
 * sum over the processes (or threads) whose stat files are given, read
 * before and after.
 */
#ifndef SAMSA_BENCH_RDK_H
#define SAMSA_BENCH_RDK_H

#include <librdkafka/rdkafka.h>
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

typedef struct bench_result {
    bool ok;
    double rec_s, mb_s, p50_ms, p99_ms, cpu_s; /* cpu_s < 0: unknown */
    double client_cores; /* the client's CPU time over the run's wall time (in-process brokers excluded) */
    int64_t held;        /* consume runs: records the topic held */
} bench_result_t;

/* utime + stime of a process or thread, in seconds, or -1. */
double bench_cpu_seconds(const char *stat_path);
/* The sum over the set, or -1 when one is unreadable or the set is empty. */
double bench_cpu_set_seconds(const bench_cpu_set_t *s);
/* Adds /proc/PID/stat; exits with a message when it cannot be read. */
void bench_cpu_set_add_pid(bench_cpu_set_t *s, int pid, const char *prog);
/* This process's CPU seconds. */
double bench_self_cpu(void);
/* How many cores the client kept busy: (self1 - self0 - in-process broker
 * CPU) / secs. */
double bench_client_cores(const bench_cpu_set_t *s, double self0, double self1, double broker_cpu, double secs);

/* Exits (status 2) when librdkafka refuses the property. */
void bench_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);
/* bootstrap.servers and a quiet log level. */
rd_kafka_conf_t *bench_conf(const char *bootstrap);
/* Exits (status 1) when the client cannot be made. */
rd_kafka_t *bench_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* One producer run (see above); acks is "1", "all", ... A failed run (not
 * every record delivered) prints why on stderr, prefixed with name, and
 * returns ok = false. */
bench_result_t bench_produce_run(const char *name, const char *bootstrap, const char *topic, int64_t records,
                                 size_t size, const char *acks, const bench_cpu_set_t *cpu);

/* Sorts v; the middle value (mean of the two middle ones), 0 when n is 0. */
double bench_median(double *v, int n);
/* "1.23M" or "456k". */
void bench_fmt_rate(char *out, size_t cap, double rec_s);

#endif
