/*
 * samsa-console-consumer — samsa's kafka-console-consumer.sh (Kafka 2.8's
 * ConsoleConsumer with its DefaultMessageFormatter), on librdkafka.
 *
 *   samsa-console-consumer --bootstrap-server HOST:PORT --topic T [options]
 *
 * Prints each record on standard output as DefaultMessageFormatter does:
 * the columns its print.* properties ask for (timestamp, partition, offset,
 * headers, key, value, in that order) separated by key.separator, ended by
 * line.separator; then "Processed a total of N messages" on stderr when it
 * stops (--max-messages reached, --timeout-ms without a record, SIGINT or
 * SIGTERM).
 *
 * With a group id (--group, or group.id in --consumer-property /
 * --consumer.config) the consumer subscribes, the group coordinator
 * assigns partitions, and librdkafka commits what was printed (every
 * auto.commit.interval.ms and when the tool stops), so the next run with
 * the same group resumes after it; --from-beginning only matters for a
 * group with no committed offset. Without one it assigns the topic's
 * partitions itself, or the --partition given, and starts at --offset, at
 * the beginning (--from-beginning) or at the end; Kafka's tool uses a
 * throw-away group for the same effect.
 *
 * Exit status: 0 when it stopped as asked; 1 on a failure at run time
 * (topic never appeared, client error); 2 on a usage error, worded as
 * ConsoleConsumer words it.
 */
#include "rdkafka_tool.h"

#include "util/clock.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONSUMER_USAGE                                                                                                 \
    "This tool helps to read data from Kafka topics and outputs it to standard output.\n"                             \
    "Usage: samsa-console-consumer --bootstrap-server HOST:PORT --topic TOPIC [options]\n"

#define CONSUMER_FORMATTER "kafka.tools.DefaultMessageFormatter"
/* How long one poll waits when no --timeout-ms bounds it: the delay before
 * a signal is noticed. */
#define CONSUMER_POLL_MS 200

typedef enum consumer_opt {
    OPT_BOOTSTRAP,
    OPT_TOPIC,
    OPT_GROUP,
    OPT_PARTITION,
    OPT_OFFSET,
    OPT_FROM_BEGINNING,
    OPT_MAX_MESSAGES,
    OPT_TIMEOUT_MS,
    OPT_SKIP_ON_ERROR,
    OPT_ISOLATION_LEVEL,
    OPT_FORMATTER,
    OPT_PROPERTY,
    OPT_CONSUMER_PROPERTY,
    OPT_CONSUMER_CONFIG,
    OPT_HELP,
    OPT_VERSION,
    OPT__COUNT
} consumer_opt_t;

static const rdtool_optdef_t consumer_optdefs[OPT__COUNT] = {
    [OPT_BOOTSTRAP] = {"bootstrap-server", RDTOOL_ARG, "server to connect to",
                       "REQUIRED: The server(s) to connect to."},
    [OPT_TOPIC] = {"topic", RDTOOL_ARG, "topic", "The topic id to consume on."},
    [OPT_GROUP] = {"group", RDTOOL_ARG, "consumer group id",
                   "The consumer group id of the consumer."},
    [OPT_PARTITION] = {"partition", RDTOOL_ARG, "partition",
                       "The partition to consume from. Consumption starts from the end of the partition unless "
                       "'--offset' is specified."},
    [OPT_OFFSET] = {"offset", RDTOOL_ARG, "consume offset",
                    "The offset id to consume from (a non-negative number), or 'earliest' which means from "
                    "beginning, or 'latest' which means from end (default: latest)"},
    [OPT_FROM_BEGINNING] = {"from-beginning", RDTOOL_FLAG, NULL,
                            "If the consumer does not already have an established offset to consume from, start "
                            "with the earliest message present in the log rather than the latest message."},
    [OPT_MAX_MESSAGES] = {"max-messages", RDTOOL_ARG, "num_messages",
                          "The maximum number of messages to consume before exiting. If not set, consumption is "
                          "continual."},
    [OPT_TIMEOUT_MS] = {"timeout-ms", RDTOOL_ARG, "timeout_ms",
                        "If specified, exit if no message is available for consumption for the specified "
                        "interval."},
    [OPT_SKIP_ON_ERROR] = {"skip-message-on-error", RDTOOL_FLAG, NULL,
                           "If there is an error when processing a message, skip it instead of halt."},
    [OPT_ISOLATION_LEVEL] = {"isolation-level", RDTOOL_ARG, "String",
                             "Set to read_committed in order to filter out transactional messages which are not "
                             "committed. Set to read_uncommitted to read all messages. (default: "
                             "read_uncommitted)"},
    [OPT_FORMATTER] = {"formatter", RDTOOL_ARG, "class",
                       "The name of a class to use for formatting kafka messages for display. Only "
                       "kafka.tools.DefaultMessageFormatter. (default: kafka.tools.DefaultMessageFormatter)"},
    [OPT_PROPERTY] = {"property", RDTOOL_ARG, "prop",
                      "The properties to initialize the message formatter. Default properties include: "
                      "print.timestamp=true|false print.key=true|false print.offset=true|false "
                      "print.partition=true|false print.headers=true|false print.value=true|false "
                      "key.separator=<key.separator> line.separator=<line.separator> "
                      "headers.separator=<line.separator> null.literal=<null.literal>"},
    [OPT_CONSUMER_PROPERTY] = {"consumer-property", RDTOOL_ARG, "consumer_prop",
                               "A mechanism to pass user-defined properties in the form key=value to the "
                               "consumer."},
    [OPT_CONSUMER_CONFIG] = {"consumer.config", RDTOOL_ARG, "config file",
                             "Consumer config properties file. Note that [consumer-property] takes precedence "
                             "over this config."},
    [OPT_HELP] = {"help", RDTOOL_FLAG, NULL, "Print usage information."},
    [OPT_VERSION] = {"version", RDTOOL_FLAG, NULL, "Display samsa version."},
};

/* DefaultMessageFormatter's settings (--property). Strings point into the
 * properties they came from. */
typedef struct consumer_format {
    bool timestamp, partition, offset, headers, key, value;
    const char *key_separator;
    const char *line_separator;
    const char *headers_separator;
    const char *null_literal;
} consumer_format_t;

static void consumer_format_init(consumer_format_t *f, const rdtool_props_t *props) {
    f->timestamp = rdtool_props_true(props, "print.timestamp");
    f->partition = rdtool_props_true(props, "print.partition");
    f->offset = rdtool_props_true(props, "print.offset");
    f->headers = rdtool_props_true(props, "print.headers");
    f->key = rdtool_props_true(props, "print.key");
    f->value = !rdtool_props_get(props, "print.value") || rdtool_props_true(props, "print.value");
    f->key_separator = rdtool_props_get_or(props, "key.separator", "\t");
    f->line_separator = rdtool_props_get_or(props, "line.separator", "\n");
    f->headers_separator = rdtool_props_get_or(props, "headers.separator", ",");
    f->null_literal = rdtool_props_get_or(props, "null.literal", "null");
}

/* After a column: the column separator when more columns follow, else the
 * line's end. */
static void consumer_end_column(FILE *out, const consumer_format_t *f, bool more) {
    fputs(more ? f->key_separator : f->line_separator, out);
}

static void consumer_write_bytes(FILE *out, const consumer_format_t *f, const void *data, size_t len) {
    if (data)
        fwrite(data, 1, len, out);
    else
        fputs(f->null_literal, out);
}

static void consumer_write_headers(FILE *out, const consumer_format_t *f, rd_kafka_message_t *m) {
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_header_cnt(hdrs) == 0) {
        fputs("NO_HEADERS", out);
        return;
    }
    const char *name;
    const void *value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        if (i > 0)
            fputs(f->headers_separator, out);
        fprintf(out, "%s:", name);
        consumer_write_bytes(out, f, value, size);
    }
}

/* One record, as DefaultMessageFormatter.writeTo lays it out. */
static void consumer_write(FILE *out, const consumer_format_t *f, rd_kafka_message_t *m) {
    if (f->timestamp) {
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(m, &type);
        if (type == RD_KAFKA_TIMESTAMP_CREATE_TIME)
            fprintf(out, "CreateTime:%" PRId64, ts);
        else if (type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
            fprintf(out, "LogAppendTime:%" PRId64, ts);
        else
            fputs("NO_TIMESTAMP", out);
        consumer_end_column(out, f, f->offset || f->partition || f->headers || f->key || f->value);
    }
    if (f->partition) {
        fprintf(out, "Partition:%" PRId32, m->partition);
        consumer_end_column(out, f, f->offset || f->headers || f->key || f->value);
    }
    if (f->offset) {
        fprintf(out, "Offset:%" PRId64, m->offset);
        consumer_end_column(out, f, f->headers || f->key || f->value);
    }
    if (f->headers) {
        consumer_write_headers(out, f, m);
        consumer_end_column(out, f, f->key || f->value);
    }
    if (f->key) {
        consumer_write_bytes(out, f, m->key, m->key_len);
        consumer_end_column(out, f, f->value);
    }
    if (f->value) {
        consumer_write_bytes(out, f, m->payload, m->len);
        fputs(f->line_separator, out);
    }
}

/* Where consumption starts: --offset, else --from-beginning or the end
 * (ConsoleConsumer's offsetArg); auto.offset.reset when it was set and
 * no partition was given. Returns 0 or an exit status. */
static int consumer_start_offset(const rdtool_opts_t *o, const char *reset, int64_t *out) {
    const char *text = rdtool_value(o, OPT_OFFSET);
    if (!text) {
        bool earliest = rdtool_has(o, OPT_FROM_BEGINNING) || (!rdtool_has(o, OPT_PARTITION) && reset &&
                                                              strcmp(reset, "earliest") == 0);
        *out = earliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
        return 0;
    }
    if (strcasecmp(text, "earliest") == 0) {
        *out = RD_KAFKA_OFFSET_BEGINNING;
        return 0;
    }
    if (strcasecmp(text, "latest") == 0) {
        *out = RD_KAFKA_OFFSET_END;
        return 0;
    }
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 0 || v == LLONG_MAX)
        return rdtool_usage_error("The provided offset value '%s' is incorrect. Valid values are 'earliest', "
                                  "'latest', or a non-negative long.",
                                  text);
    *out = v;
    return 0;
}

/* ConsoleConsumer's checks, in its order. Returns 0 or an exit status. */
static int consumer_check_args(const rdtool_opts_t *o) {
    int rc = rdtool_require(o, OPT_TOPIC);
    if (rc)
        return rc;
    if (rdtool_has(o, OPT_PARTITION)) {
        if (rdtool_has(o, OPT_FROM_BEGINNING) && rdtool_has(o, OPT_OFFSET))
            return rdtool_usage_error("Options from-beginning and offset cannot be specified together.");
    } else if (rdtool_has(o, OPT_OFFSET)) {
        return rdtool_usage_error("The partition is required when offset is specified.");
    }
    const char *formatter = rdtool_value(o, OPT_FORMATTER);
    if (formatter && strcmp(formatter, CONSUMER_FORMATTER) != 0)
        return rdtool_usage_error("Unsupported formatter %s: samsa-console-consumer has only " CONSUMER_FORMATTER,
                                  formatter);
    return 0;
}

/* The group id from --group, --consumer-property and --consumer.config,
 * which must agree (ConsoleConsumer's rule); NULL for none. */
static int consumer_group(const rdtool_opts_t *o, const rdtool_props_t *file_props,
                          const rdtool_props_t *arg_props, const char **group) {
    const char *given[3] = {rdtool_value(o, OPT_GROUP), rdtool_props_get(file_props, "group.id"),
                            rdtool_props_get(arg_props, "group.id")};
    *group = NULL;
    char detected[1024] = "";
    bool mismatch = false;
    for (size_t i = 0; i < 3; i++) {
        if (!given[i])
            continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= given[j] && strcmp(given[j], given[i]) == 0;
        if (seen)
            continue;
        mismatch |= *group != NULL;
        if (!*group)
            *group = given[i];
        size_t used = strlen(detected);
        snprintf(detected + used, sizeof detected - used, "%s'%s'", used ? ", " : "", given[i]);
    }
    if (mismatch)
        return rdtool_usage_error("The group ids provided in different places (directly using '--group', via "
                                  "'--consumer-property', or via '--consumer.config') do not match. Detected "
                                  "group ids: %s",
                                  detected);
    if (*group && rdtool_has(o, OPT_PARTITION))
        return rdtool_usage_error("Options group and partition cannot be specified together.");
    return 0;
}

/* The consumer's configuration (ConsoleConsumer.consumerProps); sets
 * *subscribe when a group id was given. Returns 0 or an exit status. */
static int consumer_conf(const rdtool_opts_t *o, rd_kafka_conf_t *conf, bool *subscribe, int64_t *start_offset) {
    rdtool_props_t file_props = {0}, arg_props = {0}, props = {0};
    /* Java's consumer default (librdkafka's is false): a consumer started
     * before the producer creates the topic, as with Kafka's tool. */
    rdtool_props_set(&props, "allow.auto.create.topics", "true");
    int rc = rdtool_props_load_opt(&file_props, o, OPT_CONSUMER_CONFIG);
    if (!rc)
        rc = rdtool_props_add_kv_opt(&arg_props, o, OPT_CONSUMER_PROPERTY);
    const char *group = NULL;
    if (!rc)
        rc = consumer_group(o, &file_props, &arg_props, &group);
    for (size_t i = 0; !rc && i < file_props.n; i++)
        rdtool_props_set(&props, file_props.names[i], file_props.values[i]);
    for (size_t i = 0; !rc && i < arg_props.n; i++)
        rdtool_props_set(&props, arg_props.names[i], arg_props.values[i]);
    const char *reset = rdtool_props_get(&props, "auto.offset.reset");
    if (!rc && reset && rdtool_has(o, OPT_FROM_BEGINNING) && strcmp(reset, "earliest") != 0) {
        fprintf(stderr, "Can't simultaneously specify --from-beginning and 'auto.offset.reset=%s', please remove "
                        "one option\n",
                reset);
        rc = RDTOOL_EXIT_USAGE;
    }
    if (!rc)
        rc = consumer_start_offset(o, reset, start_offset);
    if (!rc) {
        if (!reset)
            rdtool_props_set(&props, "auto.offset.reset", rdtool_has(o, OPT_FROM_BEGINNING) ? "earliest" : "latest");
        if (group)
            rdtool_props_set(&props, "group.id", group);
        rdtool_props_set(&props, "bootstrap.servers", rdtool_value(o, OPT_BOOTSTRAP));
        if (!rdtool_props_get(&props, "client.id"))
            rdtool_props_set(&props, "client.id", "console-consumer");
        if (rdtool_has(o, OPT_ISOLATION_LEVEL) || !rdtool_props_get(&props, "isolation.level"))
            rdtool_props_set(&props, "isolation.level",
                             rdtool_has(o, OPT_ISOLATION_LEVEL) ? rdtool_value(o, OPT_ISOLATION_LEVEL)
                                                                 : "read_uncommitted");
        rc = rdtool_conf_set_all(conf, &props);
    }
    *subscribe = group != NULL;
    rdtool_props_free(&file_props);
    rdtool_props_free(&arg_props);
    rdtool_props_free(&props);
    return rc;
}

/* Polls and prints until max_messages (< 0: no limit), timeout_ms without
 * a record (< 0: none), a stop signal or a failed write. Returns how many
 * records it printed. */
static int64_t consumer_loop(rdtool_consumer_t *c, const consumer_format_t *f, int64_t max_messages,
                             int64_t timeout_ms) {
    int64_t count = 0;
    int64_t last_record_ms = clock_mono_ms();
    while (!rdtool_stop && (max_messages < 0 || count < max_messages)) {
        int64_t wait_ms = CONSUMER_POLL_MS;
        if (timeout_ms >= 0) {
            int64_t left = last_record_ms + timeout_ms - clock_mono_ms();
            if (left <= 0)
                break;
            if (left < wait_ms)
                wait_ms = left;
        }
        rd_kafka_message_t *m = rdtool_consumer_poll(c, (int)wait_ms);
        if (!m) {
            fflush(stdout); /* idle: let a reader see what arrived */
            continue;
        }
        last_record_ms = clock_mono_ms();
        count++;
        consumer_write(stdout, f, m);
        rd_kafka_message_destroy(m);
        if (ferror(stdout)) {
            fprintf(stderr, "Unable to write to standard out, closing consumer.\n");
            break;
        }
    }
    fflush(stdout);
    return count;
}

static int consumer_run(const rdtool_opts_t *o) {
    int rc = consumer_check_args(o);
    int64_t partition, max_messages, timeout_ms;
    if (!rc)
        rc = rdtool_int_opt(o, OPT_PARTITION, 0, INT32_MAX, -1, &partition);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_MAX_MESSAGES, INT32_MIN, INT32_MAX, -1, &max_messages);
    if (!rc)
        rc = rdtool_int_opt(o, OPT_TIMEOUT_MS, INT32_MIN, INT32_MAX, -1, &timeout_ms);
    if (!rc)
        rc = rdtool_require(o, OPT_BOOTSTRAP);
    if (rc)
        return rc;

    rdtool_props_t format_props = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool subscribe = false;
    int64_t start_offset = RD_KAFKA_OFFSET_END;
    rc = consumer_conf(o, conf, &subscribe, &start_offset);
    if (!rc)
        rc = rdtool_props_add_kv_opt(&format_props, o, OPT_PROPERTY);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        rdtool_props_free(&format_props);
        return rc;
    }
    consumer_format_t format;
    consumer_format_init(&format, &format_props);

    rdtool_catch_stop_signals();
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is a write error, reported once */
    rdtool_consumer_t c;
    int64_t count = 0;
    rc = rdtool_consumer_open(&c, conf, rdtool_value(o, OPT_TOPIC), subscribe, (int32_t)partition, start_offset,
                              timeout_ms);
    if (!rc)
        count = consumer_loop(&c, &format, max_messages, timeout_ms);
    rdtool_consumer_close(&c);
    rdtool_props_free(&format_props);
    fprintf(stderr, "Processed a total of %" PRId64 " messages\n", count);
    return rc;
}

int main(int argc, char **argv) {
    /* Kafka prints its usage and fails */
    const rdtool_cli_t cli = {consumer_optdefs, OPT__COUNT, CONSUMER_USAGE, true, consumer_run};
    return rdtool_main(&cli, argc, argv);
}
