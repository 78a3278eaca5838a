/*
 * samsa-consumer-perf-test — samsa's kafka-consumer-perf-test.sh (Kafka
 * 2.8's ConsumerPerformance), on librdkafka.
 *
 *   samsa-consumer-perf-test --bootstrap-server HOST:PORT --topic T --messages N [options]
 *
 * Reads N records of topic T, from the beginning (or the end with
 * --from-latest), and prints Kafka's CSV line: start and end time, MB and
 * records read and their rates, the time spent joining the group and the
 * rates over the rest ("fetch" time). With --show-detailed-stats it prints
 * a line every --reporting-interval ms instead. It stops after --timeout ms
 * without a record, with Kafka's warning.
 *
 * With --group (or group.id in --consumer.config) it subscribes and the
 * group coordinator assigns the partitions; rebalance.time.ms is the time
 * from the subscribe (or a revocation) to the assignment that follows.
 * Without, it assigns all the topic's partitions itself and
 * rebalance.time.ms is 0. Kafka always uses a group ("perf-consumer-N").
 * Records are read one by one, so exactly --messages are counted.
 *
 * Exit status: 0 (also after the timeout warning, as Kafka); 1 when the
 * topic never appeared or the client failed; 2 on a usage error.
 */
#include "rdkafka_tool.h"

#include "util/clock.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CPERF_USAGE                                                                                                    \
    "This tool helps in performance test for the full zookeeper consumer\n"                                            \
    "Usage: samsa-consumer-perf-test --bootstrap-server HOST:PORT --topic TOPIC --messages N [options]\n"

#define CPERF_DEFAULT_DATE_FORMAT "yyyy-MM-dd HH:mm:ss:SSS"
/* One poll's wait, as ConsumerPerformance polls (100 ms). */
#define CPERF_POLL_MS 100

typedef enum cperf_opt {
    OPT_BOOTSTRAP,
    OPT_BROKER_LIST,
    OPT_TOPIC,
    OPT_GROUP,
    OPT_MESSAGES,
    OPT_FETCH_SIZE,
    OPT_FROM_LATEST,
    OPT_SOCKET_BUFFER,
    OPT_THREADS,
    OPT_FETCH_THREADS,
    OPT_TIMEOUT,
    OPT_DETAILED,
    OPT_REPORTING_INTERVAL,
    OPT_HIDE_HEADER,
    OPT_DATE_FORMAT,
    OPT_PRINT_METRICS,
    OPT_CONSUMER_CONFIG,
    OPT_HELP,
    OPT_VERSION,
    OPT__COUNT
} cperf_opt_t;

static const rdtool_optdef_t cperf_optdefs[OPT__COUNT] = {
    [OPT_BOOTSTRAP] = {"bootstrap-server", RDTOOL_ARG, "server to connect to",
                       "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to."},
    [OPT_BROKER_LIST] = {"broker-list", RDTOOL_ARG, "broker-list",
                         "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified."},
    [OPT_TOPIC] = {"topic", RDTOOL_ARG, "topic", "REQUIRED: The topic to consume from."},
    [OPT_GROUP] = {"group", RDTOOL_ARG, "gid",
                   "The group id to consume on. Without it the topic's partitions are assigned directly."},
    [OPT_MESSAGES] = {"messages", RDTOOL_ARG, "Long", "REQUIRED: The number of messages to send or consume"},
    [OPT_FETCH_SIZE] = {"fetch-size", RDTOOL_ARG, "Integer",
                        "The amount of data to fetch in a single request. (default: 1048576)"},
    [OPT_FROM_LATEST] = {"from-latest", RDTOOL_FLAG, NULL,
                         "If the consumer does not already have an established offset to consume from, start with "
                         "the latest message present in the log rather than the earliest message."},
    [OPT_SOCKET_BUFFER] = {"socket-buffer-size", RDTOOL_ARG, "Integer",
                           "The size of the tcp RECV size. (default: 2097152)"},
    [OPT_THREADS] = {"threads", RDTOOL_ARG, "Integer", "Number of processing threads. Only 1. (default: 1)"},
    [OPT_FETCH_THREADS] = {"num-fetch-threads", RDTOOL_ARG, "Integer", "Number of fetcher threads. Only 1. "
                                                                       "(default: 1)"},
    [OPT_TIMEOUT] = {"timeout", RDTOOL_ARG, "milliseconds",
                     "The maximum allowed time in milliseconds between returned records. (default: 10000)"},
    [OPT_DETAILED] = {"show-detailed-stats", RDTOOL_FLAG, NULL,
                      "If set, stats are reported for each reporting interval as configured by "
                      "reporting-interval"},
    [OPT_REPORTING_INTERVAL] = {"reporting-interval", RDTOOL_ARG, "Integer",
                                "Interval in milliseconds at which to print progress info. (default: 5000)"},
    [OPT_HIDE_HEADER] = {"hide-header", RDTOOL_FLAG, NULL, "If set, skips printing the header for the stats "},
    [OPT_DATE_FORMAT] = {"date-format", RDTOOL_ARG, "date format",
                         "The date format to use for formatting the time field. See java.text.SimpleDateFormat "
                         "for options. (default: yyyy-MM-dd HH:mm:ss:SSS)"},
    [OPT_PRINT_METRICS] = {"print-metrics", RDTOOL_FLAG, NULL, "Print out the metrics."},
    [OPT_CONSUMER_CONFIG] = {"consumer.config", RDTOOL_ARG, "config file", "Consumer config properties file."},
    [OPT_HELP] = {"help", RDTOOL_FLAG, NULL, "Print usage information."},
    [OPT_VERSION] = {"version", RDTOOL_FLAG, NULL, "Display samsa version."},
};

/* --- java.text.SimpleDateFormat, the common letters ------------------------------------- */

static bool cperf_date_letter_known(char c) {
    return strchr("yMdHhmsSaZE", c) != NULL;
}

/* Checks a pattern: letters other than y M d H h m s S a Z E are refused
 * (text in single quotes is literal). */
static int cperf_check_date_format(const char *pattern) {
    bool quoted = false;
    for (const char *p = pattern; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (!quoted && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) && !cperf_date_letter_known(*p))
            return rdtool_usage_error("Unsupported letter '%c' in --date-format %s (samsa knows y M d H h m s S a "
                                      "Z E)",
                                      *p, pattern);
    }
    return 0;
}

/* Formats wall time ms (local time zone) into out. */
static void cperf_format_date(char *out, size_t cap, const char *pattern, int64_t ms) {
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    size_t used = 0;
    out[0] = '\0';
#define CPERF_PUT(...)                                                                                                 \
    do {                                                                                                               \
        int n_ = snprintf(out + used, cap - used, __VA_ARGS__);                                                        \
        if (n_ > 0)                                                                                                    \
            used = used + (size_t)n_ < cap ? used + (size_t)n_ : cap - 1;                                              \
    } while (0)
    for (const char *p = pattern; *p;) {
        if (*p == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (end == p + 1) /* '' is a quote */
                CPERF_PUT("'");
            else
                CPERF_PUT("%.*s", (int)(end ? end - p - 1 : (long)strlen(p + 1)), p + 1);
            p = end ? end + 1 : p + strlen(p);
            continue;
        }
        if (!cperf_date_letter_known(*p)) {
            CPERF_PUT("%c", *p++);
            continue;
        }
        char letter = *p;
        int width = 0;
        while (*p == letter) {
            width++;
            p++;
        }
        switch (letter) {
        case 'y':
            if (width == 2)
                CPERF_PUT("%02d", (tm.tm_year + 1900) % 100);
            else
                CPERF_PUT("%0*d", width, tm.tm_year + 1900);
            break;
        case 'M':
            if (width >= 3)
                CPERF_PUT("%s", months[tm.tm_mon]);
            else
                CPERF_PUT("%0*d", width, tm.tm_mon + 1);
            break;
        case 'd': CPERF_PUT("%0*d", width, tm.tm_mday); break;
        case 'H': CPERF_PUT("%0*d", width, tm.tm_hour); break;
        case 'h': CPERF_PUT("%0*d", width, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12); break;
        case 'm': CPERF_PUT("%0*d", width, tm.tm_min); break;
        case 's': CPERF_PUT("%0*d", width, tm.tm_sec); break;
        case 'S': CPERF_PUT("%0*d", width, (int)(ms % 1000)); break;
        case 'a': CPERF_PUT("%s", tm.tm_hour < 12 ? "AM" : "PM"); break;
        case 'E': CPERF_PUT("%s", days[tm.tm_wday]); break;
        case 'Z': {
            long off = tm.tm_gmtoff / 60;
            CPERF_PUT("%c%02ld%02ld", off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
            break;
        }
        }
    }
#undef CPERF_PUT
}

/* --- the run ---------------------------------------------------------------------------- */

typedef struct cperf_args {
    const char *topic;
    int64_t messages;
    int64_t timeout_ms;
    int64_t reporting_interval_ms;
    const char *date_format;
    bool detailed;
} cperf_args_t;

/* Time spent in group rebalances, measured from the subscribe (or the last
 * revocation) to the assignment that follows. */
typedef struct cperf_rebalance {
    int64_t since_ms; /* when the consumer started waiting for partitions; 0: not waiting */
    int64_t total_ms;
    int64_t window_ms; /* since the last detailed line */
} cperf_rebalance_t;

/* Takes (or gives back) parts as the group's protocol wants: the whole
 * assignment at once (eager assignors), or only what changed
 * (cooperative-sticky, where assign() would be refused). */
static void cperf_apply_assignment(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, bool assign) {
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") != 0) {
        rd_kafka_assign(rk, assign ? parts : NULL);
        return;
    }
    rd_kafka_error_t *error = assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
    if (error) {
        fprintf(stderr, "WARN consumer: %s\n", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

static void cperf_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                               void *opaque) {
    cperf_rebalance_t *r = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (r->since_ms) {
            int64_t spent = clock_wall_ms() - r->since_ms;
            r->total_ms += spent;
            r->window_ms += spent;
            r->since_ms = 0;
        }
        cperf_apply_assignment(rk, parts, true);
    } else {
        r->since_ms = clock_wall_ms();
        cperf_apply_assignment(rk, parts, false);
    }
}

static void cperf_print_header(bool detailed) {
    const char *fetch_fields = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
    if (detailed)
        printf("time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec%s\n", fetch_fields);
    else
        printf("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec%s\n", fetch_fields);
}

static double cperf_mb(int64_t bytes) {
    return (double)bytes / (1024.0 * 1024.0);
}

/* One --show-detailed-stats line: the interval [start_ms, end_ms). */
static void cperf_print_progress(const cperf_args_t *a, int64_t bytes, int64_t last_bytes, int64_t messages,
                                 int64_t last_messages, int64_t start_ms, int64_t end_ms, int64_t rebalance_ms) {
    char date[128];
    cperf_format_date(date, sizeof date, a->date_format, end_ms);
    double elapsed_ms = (double)(end_ms - start_ms);
    double interval_mb = cperf_mb(bytes - last_bytes);
    int64_t interval_messages = messages - last_messages;
    int64_t fetch_ms = end_ms - start_ms - rebalance_ms;
    printf("%s, %d, %.4f, %.4f, %" PRId64 ", %.4f, %" PRId64 ", %" PRId64 ", %.4f, %.4f\n", date, 0, cperf_mb(bytes),
           elapsed_ms > 0 ? 1000.0 * interval_mb / elapsed_ms : 0.0, messages,
           elapsed_ms > 0 ? 1000.0 * (double)interval_messages / elapsed_ms : 0.0, rebalance_ms, fetch_ms,
           fetch_ms > 0 ? 1000.0 * interval_mb / (double)fetch_ms : 0.0,
           fetch_ms > 0 ? 1000.0 * (double)interval_messages / (double)fetch_ms : 0.0);
    fflush(stdout);
}

/* ConsumerPerformance.consume: until a->messages records, or a->timeout_ms
 * without one. Sets the totals. */
static void cperf_consume(rdtool_consumer_t *c, const cperf_args_t *a, cperf_rebalance_t *rebalance,
                          int64_t *messages, int64_t *bytes) {
    int64_t now = clock_wall_ms();
    int64_t last_report = now, last_consumed = now;
    int64_t last_messages = 0, last_bytes = 0;
    while (*messages < a->messages && now - last_consumed <= a->timeout_ms && !rdtool_stop) {
        rd_kafka_message_t *m = rdtool_consumer_poll(c, CPERF_POLL_MS);
        now = clock_wall_ms();
        if (!m)
            continue;
        last_consumed = now;
        (*messages)++;
        *bytes += (int64_t)(m->key_len + m->len);
        rd_kafka_message_destroy(m);
        if (now - last_report >= a->reporting_interval_ms) {
            if (a->detailed)
                cperf_print_progress(a, *bytes, last_bytes, *messages, last_messages, last_report, now,
                                     rebalance->window_ms);
            rebalance->window_ms = 0;
            last_report = now;
            last_messages = *messages;
            last_bytes = *bytes;
        }
    }
    if (*messages < a->messages)
        printf("WARNING: Exiting before consuming the expected number of messages: timeout (%" PRId64
               " ms) exceeded. You can use the --timeout option to increase the timeout.\n",
               a->timeout_ms);
}

/* ConsumerPerfConfig's checks and the consumer's properties. Returns 0 or
 * an exit status; *group is the group id when there is one (owned by props). */
static int cperf_setup(const rdtool_opts_t *o, cperf_args_t *a, rdtool_props_t *props, const char **group) {
    int rc = 0;
    const int required[] = {OPT_TOPIC, OPT_MESSAGES};
    for (size_t i = 0; !rc && i < sizeof required / sizeof required[0]; i++)
        rc = rdtool_require(o, required[i]);
    if (!rc && !rdtool_has(o, OPT_BROKER_LIST))
        rc = rdtool_require(o, OPT_BOOTSTRAP);
    int64_t fetch_size, socket_buffer, threads, fetch_threads;
    if (!rc)
        rc = rdtool_int_opt(o, OPT_MESSAGES, 0, INT64_MAX, 0, &a->messages);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_FETCH_SIZE, 0, INT32_MAX, 1024 * 1024, &fetch_size);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_SOCKET_BUFFER, 0, INT32_MAX, 2 * 1024 * 1024, &socket_buffer);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_THREADS, INT32_MIN, INT32_MAX, 1, &threads);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_FETCH_THREADS, INT32_MIN, INT32_MAX, 1, &fetch_threads);
    if (!rc && (threads != 1 || fetch_threads != 1))
        rc = rdtool_usage_error("--threads and --num-fetch-threads: samsa-consumer-perf-test reads with one "
                                "thread; only 1 is accepted");
    if (!rc)
        rc = rdtool_int_opt(o, OPT_TIMEOUT, 0, INT64_MAX, 10000, &a->timeout_ms);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_REPORTING_INTERVAL, 1, INT32_MAX, 5000, &a->reporting_interval_ms);
    a->topic = rdtool_value(o, OPT_TOPIC);
    a->detailed = rdtool_has(o, OPT_DETAILED);
    a->date_format = rdtool_has(o, OPT_DATE_FORMAT) ? rdtool_value(o, OPT_DATE_FORMAT) : CPERF_DEFAULT_DATE_FORMAT;
    if (!rc)
        rc = cperf_check_date_format(a->date_format);
    rdtool_props_set(props, "allow.auto.create.topics", "true"); /* Java's consumer default */
    if (!rc)
        rc = rdtool_props_load_opt(props, o, OPT_CONSUMER_CONFIG);
    if (rc)
        return rc;
    char number[32];
    rdtool_props_set(props, "bootstrap.servers",
                     rdtool_value(o, rdtool_has(o, OPT_BOOTSTRAP) ? OPT_BOOTSTRAP : OPT_BROKER_LIST));
    if (rdtool_has(o, OPT_GROUP))
        rdtool_props_set(props, "group.id", rdtool_value(o, OPT_GROUP));
    *group = rdtool_props_get(props, "group.id");
    snprintf(number, sizeof number, "%" PRId64, socket_buffer);
    rdtool_props_set(props, "receive.buffer.bytes", number);
    snprintf(number, sizeof number, "%" PRId64, fetch_size);
    rdtool_props_set(props, "max.partition.fetch.bytes", number);
    rdtool_props_set(props, "auto.offset.reset", rdtool_has(o, OPT_FROM_LATEST) ? "latest" : "earliest");
    rdtool_props_set(props, "check.crcs", "false");
    if (!rdtool_props_get(props, "client.id"))
        rdtool_props_set(props, "client.id", "perf-consumer-client");
    return 0;
}

static int cperf_run(const rdtool_opts_t *o) {
    cperf_args_t a = {0};
    rdtool_props_t props = {0};
    const char *group = NULL;
    int rc = cperf_setup(o, &a, &props, &group);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!rc)
        rc = rdtool_conf_set_all(conf, &props);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        rdtool_props_free(&props);
        return rc;
    }
    bool subscribe = group != NULL;
    cperf_rebalance_t rebalance = {0};
    if (subscribe) {
        rd_kafka_conf_set_rebalance_cb(conf, cperf_on_rebalance);
        rd_kafka_conf_set_opaque(conf, &rebalance);
    }
    if (rdtool_has(o, OPT_PRINT_METRICS))
        rdtool_metrics_enable(conf);
    rdtool_catch_stop_signals();

    if (!rdtool_has(o, OPT_HIDE_HEADER))
        cperf_print_header(a.detailed);
    int64_t messages = 0, bytes = 0;
    int64_t start_ms = clock_wall_ms();
    rebalance.since_ms = subscribe ? start_ms : 0;
    rdtool_consumer_t c;
    rc = rdtool_consumer_open(&c, conf, a.topic, subscribe, -1,
                              rdtool_has(o, OPT_FROM_LATEST) ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING,
                              a.timeout_ms);
    if (!rc)
        cperf_consume(&c, &a, &rebalance, &messages, &bytes);
    int64_t end_ms = clock_wall_ms();
    if (!rc && !a.detailed) {
        char start[128], end[128];
        cperf_format_date(start, sizeof start, a.date_format, start_ms);
        cperf_format_date(end, sizeof end, a.date_format, end_ms);
        double elapsed_sec = (double)(end_ms - start_ms) / 1000.0;
        int64_t fetch_ms = end_ms - start_ms - rebalance.total_ms;
        double mb = cperf_mb(bytes);
        printf("%s, %s, %.4f, %.4f, %" PRId64 ", %.4f, %" PRId64 ", %" PRId64 ", %.4f, %.4f\n", start, end, mb,
               elapsed_sec > 0 ? mb / elapsed_sec : 0.0, messages,
               elapsed_sec > 0 ? (double)messages / elapsed_sec : 0.0, rebalance.total_ms, fetch_ms,
               fetch_ms > 0 ? mb / ((double)fetch_ms / 1000.0) : 0.0,
               fetch_ms > 0 ? (double)messages / ((double)fetch_ms / 1000.0) : 0.0);
    }
    if (!rc && rdtool_has(o, OPT_PRINT_METRICS))
        rdtool_metrics_print(c.rk, subscribe, stdout);
    rdtool_consumer_close(&c);
    rdtool_props_free(&props);
    return rc;
}

int main(int argc, char **argv) {
    /* Kafka prints its usage and fails */
    const rdtool_cli_t cli = {cperf_optdefs, OPT__COUNT, CPERF_USAGE, true, cperf_run};
    return rdtool_main(&cli, argc, argv);
}
