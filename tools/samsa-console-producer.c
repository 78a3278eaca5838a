/*
 * samsa-console-producer — samsa's kafka-console-producer.sh (Kafka 2.8's
 * ConsoleProducer with its LineMessageReader), on librdkafka.
 *
 *   samsa-console-producer --bootstrap-server HOST:PORT --topic T [options] < lines
 *
 * Every line of standard input becomes one record (the line without its
 * end); with parse.key the line is "key<key.separator>value", and with
 * parse.headers "h1:v1,h2:v2<headers.delimiter>" comes first (Kafka 3.2's
 * form, offered here because it is cheap). At end of input the tool waits
 * for every delivery report.
 *
 * Producer settings are merged as ConsoleProducer does: --producer.config,
 * then --producer-property, then the dedicated flags (--timeout is
 * linger.ms, --request-required-acks is acks, ...), each of which applies
 * when given or when no property set it. Unlike Kafka, records with no key
 * are spread by librdkafka's murmur2_random partitioner, so that keyed
 * records land where a Java producer would put them.
 *
 * Exit status: 0 when every record was delivered; 1 when one was not (one
 * line on stderr for each failure, as Kafka's ErrorLoggingCallback logs)
 * or a line cannot be parsed; 2 on a usage error.
 */
#include "rdkafka_tool.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRODUCER_USAGE                                                                                                 \
    "This tool helps to read data from standard input and publish it to Kafka.\n"                                      \
    "Usage: samsa-console-producer --bootstrap-server HOST:PORT --topic TOPIC [options] < lines\n"

/* Kafka's delivery.timeout.ms default; librdkafka's own is 300 s. */
#define PRODUCER_DELIVERY_TIMEOUT_MS "120000"

typedef enum producer_opt {
    OPT_BOOTSTRAP,
    OPT_BROKER_LIST,
    OPT_TOPIC,
    OPT_SYNC,
    OPT_COMPRESSION,
    OPT_BATCH_SIZE,
    OPT_TIMEOUT,
    OPT_ACKS,
    OPT_REQUEST_TIMEOUT,
    OPT_RETRIES,
    OPT_RETRY_BACKOFF,
    OPT_MAX_MEMORY,
    OPT_MAX_PARTITION_MEMORY,
    OPT_METADATA_EXPIRY,
    OPT_SOCKET_BUFFER,
    OPT_PROPERTY,
    OPT_PRODUCER_PROPERTY,
    OPT_PRODUCER_CONFIG,
    OPT_HELP,
    OPT_VERSION,
    OPT__COUNT
} producer_opt_t;

static const rdtool_optdef_t producer_optdefs[OPT__COUNT] = {
    [OPT_BOOTSTRAP] = {"bootstrap-server", RDTOOL_ARG, "server to connect to",
                       "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. The "
                       "broker list string in the form HOST1:PORT1,HOST2:PORT2."},
    [OPT_BROKER_LIST] = {"broker-list", RDTOOL_ARG, "broker-list",
                         "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified."},
    [OPT_TOPIC] = {"topic", RDTOOL_ARG, "topic", "REQUIRED: The topic id to produce messages to."},
    [OPT_SYNC] = {"sync", RDTOOL_FLAG, NULL, "If set message send requests to the brokers are synchronously, one "
                                             "at a time as they arrive."},
    [OPT_COMPRESSION] = {"compression-codec", RDTOOL_OPTIONAL_ARG, "compression-codec",
                         "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'. If specified "
                         "without value, then it defaults to 'gzip'"},
    [OPT_BATCH_SIZE] = {"batch-size", RDTOOL_ARG, "size",
                        "Number of messages to send in a single batch if they are not being sent synchronously "
                        "(librdkafka's batch.num.messages)."},
    [OPT_TIMEOUT] = {"timeout", RDTOOL_ARG, "timeout_ms",
                     "If set and the producer is running in asynchronous mode, this gives the maximum amount of "
                     "time a message will queue awaiting sufficient batch size. The value is given in ms. This is "
                     "the option to control `linger.ms` in producer configs. (default: 1000)"},
    [OPT_ACKS] = {"request-required-acks", RDTOOL_ARG, "request required acks",
                  "The required `acks` of the producer requests (default: 1)"},
    [OPT_REQUEST_TIMEOUT] = {"request-timeout-ms", RDTOOL_ARG, "request timeout ms",
                             "The ack timeout of the producer requests. Value must be non-negative and non-zero. "
                             "(default: 1500)"},
    [OPT_RETRIES] = {"message-send-max-retries", RDTOOL_ARG, "Integer",
                     "Brokers can fail receiving the message for multiple reasons, and being unavailable "
                     "transiently is just one of them. This property specifies the number of retries before the "
                     "producer give up and drop this message. This is the option to control `retries` in "
                     "producer configs. (default: 3)"},
    [OPT_RETRY_BACKOFF] = {"retry-backoff-ms", RDTOOL_ARG, "Long",
                           "Before each retry, the producer refreshes the metadata of relevant topics. Since "
                           "leader election takes a bit of time, this property specifies the amount of time that "
                           "the producer waits before refreshing the metadata. (default: 100)"},
    [OPT_MAX_MEMORY] = {"max-memory-bytes", RDTOOL_ARG, "total memory in bytes",
                        "The total memory used by the producer to buffer records waiting to be sent to the "
                        "server. This is the option to control `buffer.memory` in producer configs. (default: "
                        "33554432)"},
    [OPT_MAX_PARTITION_MEMORY] = {"max-partition-memory-bytes", RDTOOL_ARG, "memory in bytes per partition",
                                  "The buffer size allocated for a partition. This is the option to control "
                                  "`batch.size` in producer configs. (default: 16384)"},
    [OPT_METADATA_EXPIRY] = {"metadata-expiry-ms", RDTOOL_ARG, "metadata expiration interval",
                             "The period of time in milliseconds after which we force a refresh of metadata even "
                             "if we haven't seen any leadership changes. This is the option to control "
                             "`metadata.max.age.ms` in producer configs. (default: 300000)"},
    [OPT_SOCKET_BUFFER] = {"socket-buffer-size", RDTOOL_ARG, "size",
                           "The size of the tcp RECV size. This is the option to control `send.buffer.bytes` in "
                           "producer configs. (default: 102400)"},
    [OPT_PROPERTY] = {"property", RDTOOL_ARG, "prop",
                      "A mechanism to pass user-defined properties in the form key=value to the message reader: "
                      "parse.key, key.separator, ignore.error, parse.headers, headers.delimiter, "
                      "headers.separator, headers.key.separator, null.marker."},
    [OPT_PRODUCER_PROPERTY] = {"producer-property", RDTOOL_ARG, "producer_prop",
                               "A mechanism to pass user-defined properties in the form key=value to the "
                               "producer. "},
    [OPT_PRODUCER_CONFIG] = {"producer.config", RDTOOL_ARG, "config file",
                             "Producer config properties file. Note that [producer-property] takes precedence "
                             "over this config."},
    [OPT_HELP] = {"help", RDTOOL_FLAG, NULL, "Print usage information."},
    [OPT_VERSION] = {"version", RDTOOL_FLAG, NULL, "Display samsa version."},
};

/* The flags ConsoleProducer merges into producer properties, with the value
 * used when neither the flag nor a property set it (NULL: only when given). */
static const struct producer_merged {
    producer_opt_t opt;
    const char *property;
    const char *dflt;
} producer_merged[] = {
    {OPT_TIMEOUT, "linger.ms", "1000"},
    {OPT_ACKS, "acks", "1"},
    {OPT_REQUEST_TIMEOUT, "request.timeout.ms", "1500"},
    {OPT_RETRIES, "retries", "3"},
    {OPT_RETRY_BACKOFF, "retry.backoff.ms", "100"},
    {OPT_SOCKET_BUFFER, "send.buffer.bytes", "102400"},
    {OPT_MAX_MEMORY, "buffer.memory", "33554432"},
    {OPT_MAX_PARTITION_MEMORY, "batch.size", "16384"},
    {OPT_METADATA_EXPIRY, "metadata.max.age.ms", "300000"},
    {OPT_BATCH_SIZE, "batch.num.messages", NULL},
};

/* LineMessageReader's settings (--property). Strings point into the
 * properties they came from. */
typedef struct producer_reader {
    bool parse_key;
    const char *key_separator;
    bool ignore_error;
    bool parse_headers;
    const char *headers_delimiter;
    const char *headers_separator;
    const char *headers_key_separator;
    const char *null_marker; /* a key, value or header value equal to it is null */
} producer_reader_t;

/* What the delivery reports found. */
typedef struct producer_state {
    const char *topic;
    size_t failed;
} producer_state_t;

static void producer_reader_init(producer_reader_t *r, const rdtool_props_t *props) {
    r->parse_key = rdtool_props_true(props, "parse.key");
    r->key_separator = rdtool_props_get_or(props, "key.separator", "\t");
    r->ignore_error = rdtool_props_true(props, "ignore.error");
    r->parse_headers = rdtool_props_true(props, "parse.headers");
    r->headers_delimiter = rdtool_props_get_or(props, "headers.delimiter", "\t");
    r->headers_separator = rdtool_props_get_or(props, "headers.separator", ",");
    r->headers_key_separator = rdtool_props_get_or(props, "headers.key.separator", ":");
    r->null_marker = rdtool_props_get(props, "null.marker");
}

/* ErrorLoggingCallback's line for each record that was not delivered. */
static void producer_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    producer_state_t *st = opaque;
    if (!m->err)
        return;
    st->failed++;
    char key[32] = "null";
    if (m->key)
        snprintf(key, sizeof key, "%zu bytes", m->key_len);
    fprintf(stderr, "ERROR Error when sending message to topic %s with key: %s, value: %zu bytes with error: %s\n",
            st->topic, key, m->len, rd_kafka_err2str(m->err));
}

/* A field of a line: NULL when it equals null.marker. */
static const char *producer_field(const producer_reader_t *r, const char *text) {
    return r->null_marker && strcmp(text, r->null_marker) == 0 ? NULL : text;
}

/* "k1:v1,k2:v2" into headers; the text is cut up in place. */
static rd_kafka_headers_t *producer_parse_headers(const producer_reader_t *r, char *text) {
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
    size_t sep_len = strlen(r->headers_separator), key_sep_len = strlen(r->headers_key_separator);
    char *p = text;
    while (*p) {
        char *end = sep_len ? strstr(p, r->headers_separator) : NULL;
        if (end)
            *end = '\0';
        char *value = key_sep_len ? strstr(p, r->headers_key_separator) : NULL;
        if (value) {
            *value = '\0';
            value += key_sep_len;
        }
        const char *v = value ? producer_field(r, value) : NULL;
        rd_kafka_header_add(hdrs, p, -1, v, v ? (ssize_t)strlen(v) : 0);
        if (!end)
            break;
        p = end + sep_len;
    }
    return hdrs;
}

/* Cuts "<prefix><sep><rest>" at the first sep: returns rest, or NULL when
 * the line has no sep. */
static char *producer_cut(char *line, const char *sep) {
    char *at = *sep ? strstr(line, sep) : NULL;
    if (!at)
        return NULL;
    *at = '\0';
    return at + strlen(sep);
}

/* One line into one record. Returns 0, or RDTOOL_EXIT_RUNTIME after
 * LineMessageReader's error for a line it cannot split. */
static int producer_send_line(rd_kafka_t *rk, const char *topic, const producer_reader_t *r, char *line,
                              size_t line_no, bool sync) {
    rd_kafka_headers_t *hdrs = NULL;
    const char *key = NULL;
    char *rest = line;
    if (r->parse_headers) {
        char *after = producer_cut(rest, r->headers_delimiter);
        if (!after) {
            if (!r->ignore_error) {
                fprintf(stderr, "No headers delimiter found on line number %zu: '%s'\n", line_no, line);
                return RDTOOL_EXIT_RUNTIME;
            }
        } else {
            hdrs = producer_parse_headers(r, rest);
            rest = after;
        }
    }
    if (r->parse_key) {
        char *value = producer_cut(rest, r->key_separator);
        if (!value) {
            if (!r->ignore_error) {
                fprintf(stderr, "No key found on line %zu: %s\n", line_no, rest);
                if (hdrs)
                    rd_kafka_headers_destroy(hdrs);
                return RDTOOL_EXIT_RUNTIME;
            }
        } else {
            key = producer_field(r, rest);
            rest = value;
        }
    }
    const char *value = producer_field(r, rest);
    rd_kafka_resp_err_t err = rdtool_produce(rk, topic, key, key ? strlen(key) : 0, value, value ? strlen(value) : 0,
                                             hdrs, NULL);
    if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        fprintf(stderr, "ERROR Error when sending message to topic %s: %s\n", topic, rd_kafka_err2str(err));
        return RDTOOL_EXIT_RUNTIME;
    }
    if (sync)
        rdtool_flush(rk);
    else
        rd_kafka_poll(rk, 0);
    return 0;
}

/* Builds the producer's configuration as ConsoleProducer does. Returns 0 or
 * an exit status. */
static int producer_conf(const rdtool_opts_t *o, rd_kafka_conf_t *conf) {
    rdtool_props_t props = {0};
    int rc = rdtool_props_load_opt(&props, o, OPT_PRODUCER_CONFIG);
    if (!rc)
        rc = rdtool_props_add_kv_opt(&props, o, OPT_PRODUCER_PROPERTY);
    for (size_t i = 0; !rc && i < sizeof producer_merged / sizeof producer_merged[0]; i++) {
        const struct producer_merged *m = &producer_merged[i];
        if (rdtool_has(o, (int)m->opt))
            rdtool_props_set(&props, m->property, rdtool_value(o, (int)m->opt));
        else if (m->dflt && !rdtool_props_get(&props, m->property))
            rdtool_props_set(&props, m->property, m->dflt);
    }
    if (!rc) {
        const char *codec = "none";
        if (rdtool_has(o, OPT_COMPRESSION))
            codec = rdtool_value(o, OPT_COMPRESSION) && *rdtool_value(o, OPT_COMPRESSION)
                        ? rdtool_value(o, OPT_COMPRESSION)
                        : "gzip";
        const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
        bool known = false;
        for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
            known |= strcmp(codec, codecs[i]) == 0;
        if (!known)
            rc = rdtool_usage_error("Unknown compression codec '%s': use none, gzip, snappy, lz4 or zstd", codec);
        rdtool_props_set(&props, "compression.type", codec);
    }
    if (!rc) {
        const char *servers = rdtool_value(o, rdtool_has(o, OPT_BOOTSTRAP) ? OPT_BOOTSTRAP : OPT_BROKER_LIST);
        rdtool_props_set(&props, "bootstrap.servers", servers);
        rdtool_props_set(&props, "client.id", "console-producer");
        rc = rdtool_conf_set(conf, "delivery.timeout.ms", PRODUCER_DELIVERY_TIMEOUT_MS);
        if (!rc)
            rc = rdtool_conf_set(conf, "partitioner", "murmur2_random");
        if (!rc)
            rc = rdtool_conf_set_all(conf, &props);
    }
    rdtool_props_free(&props);
    return rc;
}

static int producer_run(const rdtool_opts_t *o) {
    int rc = rdtool_require(o, OPT_TOPIC);
    if (!rc && !rdtool_has(o, OPT_BOOTSTRAP) && !rdtool_has(o, OPT_BROKER_LIST))
        rc = rdtool_require(o, OPT_BOOTSTRAP);
    if (rc)
        return rc;

    rdtool_props_t reader_props = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rc = rdtool_props_add_kv_opt(&reader_props, o, OPT_PROPERTY);
    if (!rc)
        rc = producer_conf(o, conf);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        rdtool_props_free(&reader_props);
        return rc;
    }
    producer_state_t st = {.topic = rdtool_value(o, OPT_TOPIC)};
    producer_reader_t reader;
    producer_reader_init(&reader, &reader_props);
    rd_kafka_conf_set_dr_msg_cb(conf, producer_on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rdtool_new(RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        rdtool_props_free(&reader_props);
        return RDTOOL_EXIT_USAGE;
    }

    char *line = NULL;
    size_t cap = 0, line_no = 0;
    ssize_t n;
    while (!rc && (n = getline(&line, &cap, stdin)) >= 0) {
        /* BufferedReader.readLine: the line without "\n", "\r\n" or "\r". */
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        rc = producer_send_line(rk, st.topic, &reader, line, ++line_no, rdtool_has(o, OPT_SYNC));
    }
    free(line);
    rdtool_flush(rk);
    rd_kafka_destroy(rk);
    rdtool_props_free(&reader_props);
    if (!rc && st.failed)
        rc = RDTOOL_EXIT_RUNTIME;
    return rc;
}

int main(int argc, char **argv) {
    /* Kafka prints its usage and fails */
    const rdtool_cli_t cli = {producer_optdefs, OPT__COUNT, PRODUCER_USAGE, true, producer_run};
    return rdtool_main(&cli, argc, argv);
}
