#include "bench_rdk.h"

#include "../integration/rdkafka_util.h"
#include "util/clock.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* --- CPU time from /proc ------------------------------------------------------ */

/* Fields 14 and 15 of stat; the command name (field 2) may hold spaces, so
 * count from the last ')'. */
double bench_cpu_seconds(const char *stat_path) {
    if (!stat_path[0])
        return -1;
    FILE *f = fopen(stat_path, "r");
    if (!f)
        return -1;
    char line[2048];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_cpu_set_seconds(const bench_cpu_set_t *s) {
    if (!s || s->n == 0)
        return -1;
    double sum = 0;
    for (int i = 0; i < s->n; i++) {
        double v = bench_cpu_seconds(s->stat_path[i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return sum;
}

void bench_cpu_set_add_pid(bench_cpu_set_t *s, int pid, const char *prog) {
    if (s->n == BENCH_MAX_BROKERS) {
        fprintf(stderr, "%s: at most %d broker pids\n", prog, BENCH_MAX_BROKERS);
        exit(2);
    }
    snprintf(s->stat_path[s->n], sizeof s->stat_path[s->n], "/proc/%d/stat", pid);
    if (bench_cpu_seconds(s->stat_path[s->n]) < 0) {
        fprintf(stderr, "%s: cannot read %s\n", prog, s->stat_path[s->n]);
        exit(1);
    }
    s->n++;
}

double bench_self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

double bench_client_cores(const bench_cpu_set_t *s, double self0, double self1, double broker_cpu, double secs) {
    double client = self1 - self0 - (s && s->in_process && broker_cpu > 0 ? broker_cpu : 0);
    return secs > 0 ? client / secs : 0;
}

/* --- clients ---------------------------------------------------------------- */

void bench_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: %s=%s: %s\n", key, value, err);
        exit(2);
    }
}

rd_kafka_t *bench_new(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench: cannot create a client: %s\n", err);
        exit(1);
    }
    return rk;
}

rd_kafka_conf_t *bench_conf(const char *bootstrap) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bench_conf_set(conf, "bootstrap.servers", bootstrap);
    bench_conf_set(conf, "log_level", "3");
    return conf;
}

/* --- produce ------------------------------------------------------------------ */

typedef struct bench_producer {
    int64_t *sent_ns;    /* per record: when produce() accepted it */
    int64_t *latency_ns; /* per delivered record, in delivery order */
    int64_t delivered;
    int64_t failed;
    rd_kafka_resp_err_t first_err;
} bench_producer_t;

static void bench_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    bench_producer_t *bp = opaque;
    int64_t now = clock_mono_ns();
    intptr_t i = (intptr_t)m->_private;
    if (m->err) {
        if (bp->failed++ == 0)
            bp->first_err = m->err;
        return;
    }
    bp->latency_ns[bp->delivered++] = now - bp->sent_ns[i];
}

static int bench_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

bench_result_t bench_produce_run(const char *name, const char *bootstrap, const char *topic, int64_t records,
                                 size_t size, const char *acks, const bench_cpu_set_t *cpu) {
    bench_result_t r = {.cpu_s = -1};
    bench_producer_t bp = {0};
    bp.sent_ns = mem_alloc((size_t)records * sizeof *bp.sent_ns);
    bp.latency_ns = mem_alloc((size_t)records * sizeof *bp.latency_ns);
    /* Values that do not compress, made once; librdkafka does not copy them. */
    uint8_t *value = mem_alloc(size);
    uint64_t x = 88172645463325252ull;
    for (size_t k = 0; k < size; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        value[k] = (uint8_t)x;
    }

    rd_kafka_conf_t *conf = bench_conf(bootstrap);
    bench_conf_set(conf, "acks", acks);
    bench_conf_set(conf, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(conf, bench_on_delivery);
    rd_kafka_conf_set_opaque(conf, &bp);
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, conf);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rdkafka_util_partition_count(rk, topic, 10000) < 1) {
        fprintf(stderr, "%s: no metadata for %s\n", name, topic);
        goto out;
    }

    double cpu0 = bench_cpu_set_seconds(cpu);
    double self0 = bench_self_cpu();
    int64_t t0 = clock_mono_ns();
    for (int64_t i = 0; i < records; i++) {
        for (;;) {
            bp.sent_ns[i] = clock_mono_ns();
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, value, size, NULL, 0, (void *)(intptr_t)i) == 0)
                break;
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "%s: produce: %s\n", name, rd_kafka_err2str(rd_kafka_last_error()));
                goto out;
            }
            rd_kafka_poll(rk, 1); /* the queue is full: serve delivery reports */
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, BENCH_TIMEOUT_MS);
    int64_t t1 = clock_mono_ns();
    double cpu1 = bench_cpu_set_seconds(cpu);
    double self1 = bench_self_cpu();

    if (bp.failed || bp.delivered != records) {
        fprintf(stderr, "%s: %" PRId64 " of %" PRId64 " delivered, %" PRId64 " failed (%s)\n", name, bp.delivered,
                records, bp.failed, bp.failed ? rd_kafka_err2str(bp.first_err) : "timeout");
        goto out;
    }
    double secs = (double)(t1 - t0) / 1e9;
    qsort(bp.latency_ns, (size_t)bp.delivered, sizeof *bp.latency_ns, bench_cmp_i64);
    r.ok = true;
    r.rec_s = (double)records / secs;
    r.mb_s = (double)records * (double)size / 1e6 / secs;
    r.p50_ms = (double)bp.latency_ns[bp.delivered / 2] / 1e6;
    r.p99_ms = (double)bp.latency_ns[(bp.delivered * 99) / 100] / 1e6;
    r.cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    r.client_cores = bench_client_cores(cpu, self0, self1, r.cpu_s, secs);
out:
    rd_kafka_topic_destroy(rkt);
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    free(value);
    free(bp.sent_ns);
    free(bp.latency_ns);
    return r;
}

/* --- statistics --------------------------------------------------------------- */

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_fmt_rate(char *out, size_t cap, double rec_s) {
    if (rec_s >= 1e6)
        snprintf(out, cap, "%.2fM", rec_s / 1e6);
    else
        snprintf(out, cap, "%.0fk", rec_s / 1e3);
}
