/*
 * samsa-producer-perf-test — samsa's kafka-producer-perf-test.sh (Kafka
 * 2.8's ProducerPerformance), on librdkafka.
 *
 *   samsa-producer-perf-test --topic T --num-records N (--record-size B | --payload-file F)
 *       --throughput R (--producer-props k=v... | --producer.config FILE) [--print-metrics]
 *
 * Sends N records as fast as librdkafka takes them, or at R records a
 * second (throttled as Kafka's ThroughputThrottler does: when the rate so
 * far is above R, sleep the per-record time, in sleeps of 2 ms or more).
 * Latency is send to delivery report, in milliseconds, as Kafka measures
 * send to callback. Every 5 s, when a delivery report arrives, it prints
 * the last window's figures; at the end the totals with the 50th, 95th,
 * 99th and 99.9th percentile of up to 500,000 sampled latencies, in
 * Kafka's exact format.
 *
 * Exit status: 0 when every record was delivered; 1 when one was not (each
 * failure is one line on stderr; the totals count delivered records only,
 * as Kafka's); 2 on a usage error, worded as argparse4j words it.
 */
#include "rdkafka_tool.h"

#include "util/clock.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PERF_PROG "samsa-producer-perf-test"
#define PERF_USAGE                                                                                                     \
    "This tool is used to verify the producer performance.\n"                                                          \
    "Usage: " PERF_PROG " --topic TOPIC --num-records NUM-RECORDS (--record-size RECORD-SIZE | --payload-file "     \
    "PAYLOAD-FILE)\n"                                                                                                  \
    "       --throughput THROUGHPUT (--producer-props PROP-NAME=PROP-VALUE ... | --producer.config CONFIG-FILE)\n"    \
    "       [--payload-delimiter PAYLOAD-DELIMITER] [--print-metrics]\n"

/* Kafka's reporting window and latency sample budget. */
#define PERF_REPORT_INTERVAL_MS 5000
#define PERF_MAX_SAMPLES 500000
/* ThroughputThrottler never sleeps less than this. */
#define PERF_MIN_SLEEP_NS (2 * 1000000LL)

typedef enum perf_opt {
    OPT_TOPIC,
    OPT_NUM_RECORDS,
    OPT_RECORD_SIZE,
    OPT_PAYLOAD_FILE,
    OPT_PAYLOAD_DELIMITER,
    OPT_THROUGHPUT,
    OPT_PRODUCER_PROPS,
    OPT_PRODUCER_CONFIG,
    OPT_PRINT_METRICS,
    OPT_TRANSACTIONAL_ID,
    OPT_TRANSACTION_DURATION,
    OPT_HELP,
    OPT_VERSION,
    OPT__COUNT
} perf_opt_t;

static const rdtool_optdef_t perf_optdefs[OPT__COUNT] = {
    [OPT_TOPIC] = {"topic", RDTOOL_ARG, "TOPIC", "produce messages to this topic"},
    [OPT_NUM_RECORDS] = {"num-records", RDTOOL_ARG, "NUM-RECORDS", "number of messages to produce"},
    [OPT_RECORD_SIZE] = {"record-size", RDTOOL_ARG, "RECORD-SIZE",
                         "message size in bytes. Note that you must provide exactly one of --record-size or "
                         "--payload-file."},
    [OPT_PAYLOAD_FILE] = {"payload-file", RDTOOL_ARG, "PAYLOAD-FILE",
                          "file to read the message payloads from. This works only for UTF-8 encoded text files. "
                          "Payloads will be read from this file and a payload will be randomly selected when "
                          "sending messages. Note that you must provide exactly one of --record-size or "
                          "--payload-file."},
    [OPT_PAYLOAD_DELIMITER] = {"payload-delimiter", RDTOOL_ARG, "PAYLOAD-DELIMITER",
                               "provides delimiter to be used when --payload-file is provided. Defaults to new "
                               "line. Note that this parameter will be ignored if --payload-file is not "
                               "provided. (default: \\n)"},
    [OPT_THROUGHPUT] = {"throughput", RDTOOL_ARG, "THROUGHPUT",
                        "throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this "
                        "to -1 to disable throttling."},
    [OPT_PRODUCER_PROPS] = {"producer-props", RDTOOL_ARG_LIST, "PROP-NAME=PROP-VALUE",
                            "kafka producer related configuration properties like bootstrap.servers,client.id "
                            "etc. These configs take precedence over those passed via --producer.config."},
    [OPT_PRODUCER_CONFIG] = {"producer.config", RDTOOL_ARG, "CONFIG-FILE", "producer config properties file."},
    [OPT_PRINT_METRICS] = {"print-metrics", RDTOOL_FLAG, NULL, "print out metrics at the end of the test."},
    [OPT_TRANSACTIONAL_ID] = {"transactional-id", RDTOOL_ARG, "TRANSACTIONAL-ID",
                              "Not supported: samsa has no transaction coordinator."},
    [OPT_TRANSACTION_DURATION] = {"transaction-duration-ms", RDTOOL_ARG, "TRANSACTION-DURATION",
                                  "Not supported: samsa has no transaction coordinator."},
    [OPT_HELP] = {"help", RDTOOL_FLAG, NULL, "show this help message and exit"},
    [OPT_VERSION] = {"version", RDTOOL_FLAG, NULL, "Display samsa version."},
};

/* argparse4j's error line. */
static int perf_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int perf_usage_error(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rdtool_usage_error(PERF_PROG ": error: %s", msg);
}

/* --- statistics (Kafka's ProducerPerformance.Stats) ---------------------------------- */

typedef struct perf_stats {
    int64_t start_ms;
    int64_t count, bytes, total_latency, max_latency;
    int64_t window_start_ms, window_count, window_bytes, window_total_latency, window_max_latency;
    int64_t sampling; /* every sampling-th delivery's latency is kept */
    int *latencies;   /* the kept latencies, at most PERF_MAX_SAMPLES + 1 */
    size_t n_latencies, cap_latencies;
    int64_t failed;
} perf_stats_t;

static void perf_stats_init(perf_stats_t *s, int64_t num_records) {
    *s = (perf_stats_t){0};
    s->start_ms = s->window_start_ms = clock_wall_ms();
    s->sampling = num_records / (num_records < PERF_MAX_SAMPLES ? (num_records > 0 ? num_records : 1)
                                                                : PERF_MAX_SAMPLES);
    if (s->sampling < 1)
        s->sampling = 1;
    s->cap_latencies = (size_t)(num_records / s->sampling) + 1;
    s->latencies = mem_alloc(s->cap_latencies * sizeof *s->latencies);
}

static double perf_per_sec(int64_t amount, int64_t elapsed_ms) {
    return elapsed_ms > 0 ? 1000.0 * (double)amount / (double)elapsed_ms : 0.0;
}

static double perf_mb(double bytes) {
    return bytes / (1024.0 * 1024.0);
}

static void perf_print_window(const perf_stats_t *s, int64_t now_ms) {
    int64_t elapsed = now_ms - s->window_start_ms;
    printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
           s->window_count, perf_per_sec(s->window_count, elapsed),
           perf_mb(perf_per_sec(s->window_bytes, elapsed)),
           s->window_count ? (double)s->window_total_latency / (double)s->window_count : 0.0,
           (double)s->window_max_latency);
    fflush(stdout);
}

static void perf_stats_record(perf_stats_t *s, int latency_ms, size_t bytes, int64_t now_ms) {
    s->count++;
    s->bytes += (int64_t)bytes;
    s->total_latency += latency_ms;
    if (latency_ms > s->max_latency)
        s->max_latency = latency_ms;
    s->window_count++;
    s->window_bytes += (int64_t)bytes;
    s->window_total_latency += latency_ms;
    if (latency_ms > s->window_max_latency)
        s->window_max_latency = latency_ms;
    if ((s->count - 1) % s->sampling == 0 && s->n_latencies < s->cap_latencies)
        s->latencies[s->n_latencies++] = latency_ms;
    if (now_ms - s->window_start_ms >= PERF_REPORT_INTERVAL_MS) {
        perf_print_window(s, now_ms);
        s->window_start_ms = now_ms;
        s->window_count = s->window_bytes = s->window_total_latency = s->window_max_latency = 0;
    }
}

static int perf_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The sample at p of the sorted samples (index p * size, Kafka's rule). */
static int perf_percentile(const perf_stats_t *s, double p) {
    if (s->n_latencies == 0)
        return 0;
    size_t i = (size_t)(p * (double)s->n_latencies);
    return s->latencies[i < s->n_latencies ? i : s->n_latencies - 1];
}

static void perf_print_total(perf_stats_t *s) {
    int64_t elapsed = clock_wall_ms() - s->start_ms;
    qsort(s->latencies, s->n_latencies, sizeof *s->latencies, perf_cmp_int);
    printf("%" PRId64 " records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, "
           "%d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
           s->count, perf_per_sec(s->count, elapsed), perf_mb(perf_per_sec(s->bytes, elapsed)),
           s->count ? (double)s->total_latency / (double)s->count : 0.0, (double)s->max_latency,
           perf_percentile(s, 0.5), perf_percentile(s, 0.95), perf_percentile(s, 0.99), perf_percentile(s, 0.999));
}

/* Each record's opaque is its send time, in ms after the run started. */
static void perf_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    perf_stats_t *s = opaque;
    int64_t now = clock_wall_ms();
    if (m->err) {
        if (s->failed++ == 0)
            fprintf(stderr, "ERROR Error when sending message to topic %s: %s\n", rd_kafka_topic_name(m->rkt),
                    rd_kafka_err2str(m->err));
        return;
    }
    int64_t sent_ms = s->start_ms + (int64_t)(intptr_t)m->_private;
    int64_t latency = now - sent_ms;
    perf_stats_record(s, latency > INT_MAX ? INT_MAX : (int)latency, m->len, now);
}

/* --- throttling (Kafka's ThroughputThrottler) --------------------------------------- */

/* Kafka's throttler reads the clock in milliseconds; librdkafka's send
 * does not block on the first metadata as Java's does, so a whole run can
 * fit in the first millisecond: this one reads nanoseconds. */
typedef struct perf_throttler {
    double target; /* records a second; < 0: unthrottled */
    int64_t start_ns;
    int64_t sleep_time_ns;
    int64_t sleep_deficit_ns;
} perf_throttler_t;

static void perf_throttler_init(perf_throttler_t *t, double target) {
    *t = (perf_throttler_t){.target = target, .start_ns = clock_mono_ns()};
    if (target > 0)
        t->sleep_time_ns = (int64_t)(1e9 / target);
}

static bool perf_should_throttle(const perf_throttler_t *t, int64_t sent_so_far) {
    if (t->target < 0)
        return false;
    double elapsed_sec = (double)(clock_mono_ns() - t->start_ns) / 1e9;
    return elapsed_sec > 0 && (double)sent_so_far / elapsed_sec > t->target;
}

/* Sleeps the time one record should take, gathered until it is worth a
 * sleep; serves delivery reports meanwhile. Throughput 0 waits for a stop
 * signal, as Kafka's throttler waits to be woken. */
static void perf_throttle(perf_throttler_t *t, rd_kafka_t *rk) {
    if (t->target == 0) {
        while (!rdtool_stop)
            rd_kafka_poll(rk, 100);
        return;
    }
    t->sleep_deficit_ns += t->sleep_time_ns;
    if (t->sleep_deficit_ns < PERF_MIN_SLEEP_NS)
        return;
    int64_t until = clock_mono_ns() + t->sleep_deficit_ns;
    for (int64_t left; !rdtool_stop && (left = until - clock_mono_ns()) > 0;)
        nanosleep(&(struct timespec){left / 1000000000LL, left % 1000000000LL}, NULL);
    t->sleep_deficit_ns = 0;
}

/* --- payloads ------------------------------------------------------------------------- */

typedef struct perf_payloads {
    char *data;     /* the file, or one record of random capital letters */
    char **records; /* into data */
    size_t *lens;
    size_t n;
} perf_payloads_t;

static void perf_payloads_free(perf_payloads_t *p) {
    free(p->data);
    free(p->records);
    free(p->lens);
}

/* "\n", "\t", "\r" and "\\" escapes, as a shell hands Kafka's default "\\n". */
static char *perf_unescape(const char *text) {
    char *out = mem_alloc(strlen(text) + 1), *w = out;
    for (const char *r = text; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r == 'r' ? '\r' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return out;
}

/* The payload file split at the delimiter, trailing empty pieces dropped
 * (Java's String.split). Returns 0 or an exit status. */
static int perf_payloads_load(perf_payloads_t *p, const char *path, const char *delimiter_text) {
    char resolved[PATH_MAX];
    printf("Reading payloads from: %s\n", realpath(path, resolved) ? resolved : path);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || st.st_size == 0) {
        if (f)
            fclose(f);
        fprintf(stderr, "File does not exist or empty file provided.\n");
        return RDTOOL_EXIT_RUNTIME;
    }
    p->data = mem_alloc((size_t)st.st_size + 1);
    size_t len = fread(p->data, 1, (size_t)st.st_size, f);
    fclose(f);
    p->data[len] = '\0';
    char *delimiter = perf_unescape(delimiter_text);
    size_t dlen = strlen(delimiter);
    char *at = p->data, *end = p->data + len;
    while (at <= end && dlen > 0) {
        char *next = strstr(at, delimiter);
        if (!next)
            next = end;
        p->records = mem_realloc(p->records, (p->n + 1) * sizeof *p->records);
        p->lens = mem_realloc(p->lens, (p->n + 1) * sizeof *p->lens);
        p->records[p->n] = at;
        p->lens[p->n++] = (size_t)(next - at);
        at = next + dlen;
    }
    while (p->n > 0 && p->lens[p->n - 1] == 0)
        p->n--;
    free(delimiter);
    printf("Number of messages read: %zu\n", p->n);
    if (p->n == 0) {
        fprintf(stderr, "No payloads found in %s.\n", path);
        return RDTOOL_EXIT_RUNTIME;
    }
    return 0;
}

static void perf_payloads_random(perf_payloads_t *p, size_t size) {
    p->data = mem_alloc(size + 1);
    for (size_t i = 0; i < size; i++)
        p->data[i] = (char)('A' + rand() % 26);
    p->records = mem_alloc(sizeof *p->records);
    p->lens = mem_alloc(sizeof *p->lens);
    p->records[0] = p->data;
    p->lens[0] = size;
    p->n = 1;
}

/* --- the run ---------------------------------------------------------------------------- */

typedef struct perf_args {
    const char *topic;
    int64_t num_records;
    int64_t record_size;
    double throughput;
} perf_args_t;

/* ProducerPerformance's argument checks. Returns 0 or an exit status. */
static int perf_check_args(const rdtool_opts_t *o, perf_args_t *a) {
    const int required[] = {OPT_TOPIC, OPT_NUM_RECORDS, OPT_THROUGHPUT};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!rdtool_has(o, required[i]))
            return perf_usage_error("argument --%s is required", perf_optdefs[required[i]].name);
    if (rdtool_has(o, OPT_RECORD_SIZE) && rdtool_has(o, OPT_PAYLOAD_FILE))
        return perf_usage_error("argument --payload-file: not allowed with argument --record-size");
    if (!rdtool_has(o, OPT_RECORD_SIZE) && !rdtool_has(o, OPT_PAYLOAD_FILE))
        return perf_usage_error("one of the arguments --record-size --payload-file is required");
    if (rdtool_has(o, OPT_TRANSACTIONAL_ID) || rdtool_has(o, OPT_TRANSACTION_DURATION))
        return perf_usage_error("transactions are not supported: samsa has no transaction coordinator");
    a->topic = rdtool_value(o, OPT_TOPIC);
    char *end;
    errno = 0;
    long long n = strtoll(rdtool_value(o, OPT_NUM_RECORDS), &end, 10);
    if (errno || *end || end == rdtool_value(o, OPT_NUM_RECORDS) || n < 0)
        return perf_usage_error("argument --num-records: could not convert '%s' to Long",
                                rdtool_value(o, OPT_NUM_RECORDS));
    a->num_records = n;
    if (rdtool_has(o, OPT_RECORD_SIZE)) {
        const char *text = rdtool_value(o, OPT_RECORD_SIZE);
        errno = 0;
        long long size = strtoll(text, &end, 10);
        if (errno || *end || end == text || size < 0 || size > INT32_MAX)
            return perf_usage_error("argument --record-size: could not convert '%s' to Integer", text);
        a->record_size = size;
    }
    const char *text = rdtool_value(o, OPT_THROUGHPUT);
    errno = 0;
    a->throughput = strtod(text, &end);
    if (errno || *end || end == text || isnan(a->throughput))
        return perf_usage_error("argument --throughput: could not convert '%s' to Double", text);
    if (!rdtool_has(o, OPT_PRODUCER_PROPS) && !rdtool_has(o, OPT_PRODUCER_CONFIG))
        return perf_usage_error("Either --producer-props or --producer.config must be specified.");
    return 0;
}

static int perf_conf(const rdtool_opts_t *o, rd_kafka_conf_t *conf) {
    rdtool_props_t props = {0};
    int rc = rdtool_props_load_opt(&props, o, OPT_PRODUCER_CONFIG);
    for (size_t i = 0; !rc && i < o->n_values[OPT_PRODUCER_PROPS]; i++) {
        const char *kv = o->values[OPT_PRODUCER_PROPS][i];
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv || strchr(eq + 1, '='))
            rc = rdtool_usage_error("Invalid property: %s", kv);
        else
            rc = rdtool_props_add_kv(&props, kv);
    }
    if (!rc && !rdtool_props_get(&props, "client.id"))
        rdtool_props_set(&props, "client.id", "perf-producer-client");
    if (!rc)
        rc = rdtool_conf_set_all(conf, &props);
    rdtool_props_free(&props);
    return rc;
}

static int perf_run(const rdtool_opts_t *o) {
    perf_args_t a = {0};
    int rc = perf_check_args(o, &a);
    if (rc)
        return rc;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rc = perf_conf(o, conf);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    perf_payloads_t payloads = {0};
    if (rdtool_has(o, OPT_PAYLOAD_FILE)) {
        const char *delimiter = rdtool_value(o, OPT_PAYLOAD_DELIMITER);
        rc = perf_payloads_load(&payloads, rdtool_value(o, OPT_PAYLOAD_FILE), delimiter ? delimiter : "\\n");
    } else {
        perf_payloads_random(&payloads, (size_t)a.record_size);
    }
    if (rc) {
        rd_kafka_conf_destroy(conf);
        perf_payloads_free(&payloads);
        return rc;
    }

    perf_stats_t stats;
    rd_kafka_conf_set_dr_msg_cb(conf, perf_on_delivery);
    rd_kafka_conf_set_opaque(conf, &stats);
    if (rdtool_has(o, OPT_PRINT_METRICS))
        rdtool_metrics_enable(conf);
    rd_kafka_t *rk = rdtool_new(RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        perf_payloads_free(&payloads);
        return RDTOOL_EXIT_USAGE;
    }
    rdtool_catch_stop_signals();

    perf_stats_init(&stats, a.num_records);
    perf_throttler_t throttler;
    perf_throttler_init(&throttler, a.throughput);
    for (int64_t i = 0; i < a.num_records && !rdtool_stop; i++) {
        size_t pick = payloads.n > 1 ? (size_t)rand() % payloads.n : 0;
        int64_t send_ms = clock_wall_ms();
        rd_kafka_resp_err_t err = rdtool_produce(rk, a.topic, NULL, 0, payloads.records[pick], payloads.lens[pick],
                                                 NULL, (void *)(intptr_t)(send_ms - stats.start_ms));
        if (err) {
            fprintf(stderr, "ERROR Error when sending message to topic %s: %s\n", a.topic, rd_kafka_err2str(err));
            stats.failed++;
        }
        rd_kafka_poll(rk, 0);
        if (perf_should_throttle(&throttler, i))
            perf_throttle(&throttler, rk);
    }
    rdtool_flush(rk);
    perf_print_total(&stats);
    if (rdtool_has(o, OPT_PRINT_METRICS))
        rdtool_metrics_print(rk, false, stdout);
    rd_kafka_destroy(rk);
    if (stats.failed)
        fprintf(stderr, "%" PRId64 " records were not delivered.\n", stats.failed);
    rc = stats.failed ? RDTOOL_EXIT_RUNTIME : 0;
    free(stats.latencies);
    perf_payloads_free(&payloads);
    return rc;
}

int main(int argc, char **argv) {
    /* argparse4j names the missing arguments */
    const rdtool_cli_t cli = {perf_optdefs, OPT__COUNT, PERF_USAGE, false, perf_run};
    return rdtool_main(&cli, argc, argv);
}
