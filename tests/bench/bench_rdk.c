#include "bench_rdk.h"

#include "../integration/rdkafka_util.h"
#include "util/clock.h"
#include "util/mem.h"

#include <dirent.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
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

bool bench_cpu_set_parse_pids(bench_cpu_set_t *s, const char *list, const char *prog) {
    for (const char *p = list; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p || pid < 1 || pid > 0x7fffffff || (*end && *end != ','))
            return false;
        bench_cpu_set_add_pid(s, (int)pid, prog);
        p = *end ? end + 1 : end;
    }
    return s->n > 0;
}

double bench_self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

bench_clock_t bench_clock_start(const bench_cpu_set_t *cpu) {
    return (bench_clock_t){.cpu0 = bench_cpu_set_seconds(cpu), .self0 = bench_self_cpu(), .t0_ns = clock_mono_ns()};
}

void bench_clock_stop(const bench_clock_t *c, const bench_cpu_set_t *cpu, int64_t records, int64_t bytes,
                      bench_result_t *r) {
    int64_t t1 = clock_mono_ns();
    double cpu1 = bench_cpu_set_seconds(cpu);
    double self1 = bench_self_cpu();
    double secs = (double)(t1 - c->t0_ns) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    r->records = records;
    r->rec_s = (double)records / secs;
    r->mb_s = (double)bytes / 1e6 / secs;
    r->cpu_s = c->cpu0 >= 0 && cpu1 >= 0 ? cpu1 - c->cpu0 : -1;
    /* the mock's thread is part of this process: its time is not the client's */
    r->client_cpu_s = self1 - c->self0 - (cpu && cpu->in_process && r->cpu_s > 0 ? r->cpu_s : 0);
    r->client_cores = r->client_cpu_s / secs;
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

/* --- the mock cluster ----------------------------------------------------------- */

/* The mock cluster runs in one thread of this process, named "rdk:mock";
 * an earlier cluster's thread may linger a moment, so take the newest. */
static void bench_find_mock_thread(char *stat_path, size_t cap) {
    stat_path[0] = '\0';
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    long newest = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long tid = strtol(e->d_name, NULL, 10);
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "rdk:mock", 8) == 0 && tid > newest) {
            newest = tid;
            snprintf(stat_path, cap, "/proc/self/task/%s/stat", e->d_name);
        }
        fclose(f);
    }
    closedir(d);
}

void bench_target_open(bench_target_t *t, int mock_brokers) {
    if (!t->is_mock)
        return;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bench_conf_set(conf, "log_level", "3");
    t->cpu = (bench_cpu_set_t){.in_process = true};
    t->mock_host = bench_new(RD_KAFKA_PRODUCER, conf);
    t->mock = rd_kafka_mock_cluster_new(t->mock_host, mock_brokers);
    if (!t->mock) {
        fprintf(stderr, "bench: cannot start the mock cluster\n");
        exit(1);
    }
    snprintf(t->bootstrap, sizeof t->bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(t->mock));
    /* The thread names itself once it runs: give it a moment. */
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

void bench_target_close(bench_target_t *t) {
    if (!t->is_mock || !t->mock)
        return;
    rd_kafka_mock_cluster_destroy(t->mock);
    rd_kafka_destroy(t->mock_host);
    t->mock = NULL;
    t->mock_host = NULL;
}

/* --- topics --------------------------------------------------------------------- */

int bench_create_topic(const char *prog, const bench_target_t *t, const char *topic, int partitions,
                       int replication_factor, const char *min_isr) {
    if (t->is_mock) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(t->mock, topic, partitions, replication_factor);
        if (e)
            fprintf(stderr, "%s: mock: cannot create %s: %s\n", prog, topic, rd_kafka_err2str(e));
        return e ? -1 : 0;
    }
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, bench_conf(t->bootstrap));
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication_factor, err, sizeof err);
    if (!nt) {
        fprintf(stderr, "%s: %s: %s\n", prog, topic, err);
        rd_kafka_destroy(rk);
        return -1;
    }
    if (min_isr)
        rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", min_isr);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    int rc = -1;
    if (!ev) {
        fprintf(stderr, "%s: %s: no answer to CreateTopics\n", prog, topic);
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "%s: %s: %s\n", prog, topic, rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        if (n == 1 && rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = 0;
        else
            fprintf(stderr, "%s: %s: %s\n", prog, topic, n == 1 ? rd_kafka_topic_result_error_string(res[0]) : "no result");
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    /* every partition led before the run's clock starts */
    if (rc == 0 && rdkafka_util_partition_count(rk, topic, 30000) != partitions) {
        fprintf(stderr, "%s: %s: not every partition has a leader\n", prog, topic);
        rc = -1;
    }
    rd_kafka_destroy(rk);
    return rc;
}

int64_t bench_topic_ranges(const char *prog, const char *bootstrap, const char *topic, bench_range_t **ranges,
                           int *partitions) {
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, bench_conf(bootstrap));
    int64_t held = -1;
    *ranges = NULL;
    *partitions = rdkafka_util_partition_count(rk, topic, 10000);
    if (*partitions < 1) {
        fprintf(stderr, "%s: no metadata for %s\n", prog, topic);
        goto out;
    }
    *ranges = mem_calloc((size_t)*partitions, sizeof **ranges);
    held = 0;
    for (int p = 0; p < *partitions && held >= 0; p++) {
        bench_range_t *r = &(*ranges)[p];
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &r->low, &r->high, 10000);
        if (e) {
            fprintf(stderr, "%s: watermarks of %s/%d: %s\n", prog, topic, p, rd_kafka_err2str(e));
            held = -1;
        } else {
            held += r->high - r->low;
        }
    }
out:
    rd_kafka_destroy(rk);
    return held;
}

/* --- produce ------------------------------------------------------------------ */

uint8_t *bench_value(size_t size) {
    uint8_t *value = mem_alloc(size ? size : 1);
    uint64_t x = 88172645463325252ull;
    for (size_t k = 0; k < size; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        value[k] = (uint8_t)x;
    }
    return value;
}

typedef struct bench_producer {
    int64_t *sent_ns;    /* per record: when it was sent (saturating) or due (fixed rate) */
    int64_t *latency_ns; /* per delivered record, in delivery order */
    uint8_t *reported;   /* per record: its delivery report arrived */
    int64_t delivered;
    int64_t failed;
    int64_t twice;       /* delivery reports for a record already reported */
    rd_kafka_resp_err_t first_err;
    /* from the statistics callback (the polling thread, as the reports) */
    int64_t stats_seen;       /* statistics emissions so far */
    int64_t produce_requests; /* the latest cumulative count, summed over brokers */
    double rtt_sum_us;        /* over every window: avg x count */
    int64_t rtt_count;
    double rtt_p99_max_us;
} bench_producer_t;

static int64_t bench_json_int(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* librdkafka's statistics: "req" counts are cumulative per broker; "rtt"
 * is a window since the previous emission (microseconds). Only brokers
 * that took ProduceRequests count, so the bootstrap connection's metadata
 * round trips stay out. */
static int bench_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    bench_producer_t *bp = opaque;
    bp->stats_seen++;
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *brokers = root ? json_object_get(root, "brokers") : NULL;
    const char *name;
    json_t *b;
    int64_t requests = 0;
    json_object_foreach(brokers, name, b) {
        int64_t produced = bench_json_int(json_object_get(b, "req"), "Produce");
        json_t *rtt = json_object_get(b, "rtt");
        int64_t cnt = bench_json_int(rtt, "cnt");
        if (produced <= 0 || cnt <= 0)
            continue;
        requests += produced;
        bp->rtt_sum_us += (double)bench_json_int(rtt, "avg") * (double)cnt;
        bp->rtt_count += cnt;
        double p99 = (double)bench_json_int(rtt, "p99");
        if (p99 > bp->rtt_p99_max_us)
            bp->rtt_p99_max_us = p99;
    }
    if (requests > bp->produce_requests)
        bp->produce_requests = requests;
    json_decref(root);
    return 0; /* librdkafka frees json */
}

static void bench_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    bench_producer_t *bp = opaque;
    int64_t now = clock_mono_ns();
    intptr_t i = (intptr_t)m->_private;
    if (bp->reported[i]++) {
        bp->twice++;
        return;
    }
    if (m->err) {
        if (bp->failed++ == 0)
            bp->first_err = m->err;
        return;
    }
    bp->latency_ns[bp->delivered++] = now - bp->sent_ns[i];
}

/* Fixed rate: waits until due, serving delivery reports meanwhile. It
 * sleeps rather than spins, however short the wait: at 100,000 records a
 * second the gaps are 10 us, and spinning made the client's CPU figure the
 * pacer's (10 CPU-s per million records). The sleep overshoots by the
 * timer's slack (tens of us); the records then due go out together, and
 * their latency, counted from when they were due, includes the overshoot. */
void bench_wait_until(rd_kafka_t *rk, int64_t due_ns) {
    for (int64_t left = due_ns - clock_mono_ns(); left > 0; left = due_ns - clock_mono_ns()) {
        rd_kafka_poll(rk, 0);
        left = due_ns - clock_mono_ns();
        if (left > 0) {
            struct timespec ts = {left / 1000000000, left % 1000000000};
            nanosleep(&ts, NULL); /* EINTR: the loop sleeps the rest */
        }
    }
}

bench_result_t bench_produce_run(const char *name, const char *bootstrap, const char *topic,
                                 const bench_produce_opts_t *o, const bench_cpu_set_t *cpu) {
    bench_result_t r = {.cpu_s = -1};
    int64_t records = o->records;
    bench_producer_t bp = {0};
    bp.sent_ns = mem_alloc((size_t)records * sizeof *bp.sent_ns);
    bp.latency_ns = mem_alloc((size_t)records * sizeof *bp.latency_ns);
    bp.reported = mem_calloc((size_t)records, 1);
    uint8_t *value = bench_value(o->size); /* librdkafka does not copy it */

    rd_kafka_conf_t *conf = bench_conf(bootstrap);
    bench_conf_set(conf, "acks", o->acks);
    bench_conf_set(conf, "linger.ms", "5");
    for (const char *const *kv = o->extra; kv && kv[0]; kv += 2)
        bench_conf_set(conf, kv[0], kv[1]);
    bench_conf_set(conf, "statistics.interval.ms", "100");
    rd_kafka_conf_set_dr_msg_cb(conf, bench_on_delivery);
    rd_kafka_conf_set_stats_cb(conf, bench_on_stats);
    rd_kafka_conf_set_opaque(conf, &bp);
    rd_kafka_t *rk = bench_new(RD_KAFKA_PRODUCER, conf);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rdkafka_util_partition_count(rk, topic, 10000) < 1) {
        fprintf(stderr, "%s: no metadata for %s\n", name, topic);
        goto out;
    }

    double ns_per_record = o->rate > 0 ? 1e9 / o->rate : 0;
    bench_clock_t clk = bench_clock_start(cpu);
    for (int64_t i = 0; i < records; i++) {
        if (ns_per_record > 0) {
            bp.sent_ns[i] = clk.t0_ns + (int64_t)((double)i * ns_per_record);
            bench_wait_until(rk, bp.sent_ns[i]);
        }
        for (;;) {
            if (ns_per_record == 0)
                bp.sent_ns[i] = clock_mono_ns();
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, value, o->size, NULL, 0, (void *)(intptr_t)i) == 0)
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
    bench_clock_stop(&clk, cpu, records, records * (int64_t)o->size, &r);

    if (bp.failed || bp.twice || bp.delivered != records) {
        fprintf(stderr, "%s: %" PRId64 " of %" PRId64 " delivered, %" PRId64 " failed (%s), %" PRId64
                        " reported twice\n",
                name, bp.delivered, records, bp.failed, bp.failed ? rd_kafka_err2str(bp.first_err) : "timeout",
                bp.twice);
        goto out;
    }
    /* one more statistics window, for the requests of the run's end */
    int64_t seen = bp.stats_seen;
    for (int64_t until = clock_mono_ms() + 5000; bp.stats_seen == seen && clock_mono_ms() < until;)
        rd_kafka_poll(rk, 10);
    r.produce_requests = bp.produce_requests;
    r.rtt_avg_ms = bp.rtt_count ? bp.rtt_sum_us / (double)bp.rtt_count / 1000.0 : 0;
    r.rtt_p99_ms = bp.rtt_p99_max_us / 1000.0;
    bench_sort_ns(bp.latency_ns, bp.delivered);
    r.ok = true;
    r.p50_ms = bench_quantile_ms(bp.latency_ns, bp.delivered, 0.5);
    r.p99_ms = bench_quantile_ms(bp.latency_ns, bp.delivered, 0.99);
    r.max_ms = bench_quantile_ms(bp.latency_ns, bp.delivered, 1.0);
out:
    rd_kafka_topic_destroy(rkt);
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    free(value);
    free(bp.sent_ns);
    free(bp.latency_ns);
    free(bp.reported);
    return r;
}

/* --- statistics and options ------------------------------------------------------ */

static int bench_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void bench_sort_ns(int64_t *ns, int64_t n) {
    qsort(ns, (size_t)n, sizeof *ns, bench_cmp_i64);
}

double bench_quantile_ms(const int64_t *sorted_ns, int64_t n, double q) {
    if (n <= 0)
        return 0;
    int64_t i = (int64_t)((double)n * q);
    return (double)sorted_ns[i < n ? i : n - 1] / 1e6;
}

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

bool bench_parse_double(const char *s, double max, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > max)
        return false;
    *out = v;
    return true;
}

bool bench_parse_int(const char *s, int max, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > max)
        return false;
    *out = (int)v;
    return true;
}
