/*
 * rdkafka_tool — what samsa's librdkafka command-line tools share: the
 * console producer and consumer, the two perf tests and
 * samsa-consumer-groups (options, properties, the client).
 *
 * The tools take Kafka 2.8's flags and Kafka's property names, so this
 * module holds the pieces every one of them needs in the same form:
 *
 *  - a joptsimple-like option parser over a table (long options only,
 *    "--name value" or "--name=value", unique prefixes, optional values,
 *    argparse4j's "--name v1 v2 ..." lists), with Kafka's error wording;
 *  - .properties files and "k=v" arguments, and their translation from
 *    Java client property names to librdkafka's;
 *  - a consumer that either subscribes with a group (the coordinator
 *    assigns, librdkafka commits) or assigns a topic's partitions itself
 *    (no group: only Metadata, ListOffsets and Fetch);
 *  - --print-metrics from librdkafka's statistics.
 *
 * Exit statuses are the tools' common ones: RDTOOL_EXIT_RUNTIME (1) for a
 * failure at run time, RDTOOL_EXIT_USAGE (2) for a usage error or a
 * property librdkafka refuses. Every error is one line on stderr.
 */
#ifndef SAMSA_RDKAFKA_TOOL_H
#define SAMSA_RDKAFKA_TOOL_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define RDTOOL_EXIT_RUNTIME 1
#define RDTOOL_EXIT_USAGE 2

/* --- options ----------------------------------------------------------------------- */

typedef enum rdtool_arg_kind {
    RDTOOL_FLAG,         /* --name */
    RDTOOL_ARG,          /* --name VALUE */
    RDTOOL_OPTIONAL_ARG, /* --name [VALUE]: the next word is its value unless it starts with "--" */
    RDTOOL_ARG_LIST,     /* --name V1 V2 ...: every word up to the next "--..." (argparse4j nargs='+') */
} rdtool_arg_kind_t;

typedef struct rdtool_optdef {
    const char *name; /* without "--" */
    rdtool_arg_kind_t kind;
    const char *arg_name; /* for --help */
    const char *help;
} rdtool_optdef_t;

/* The parsed command line. Values point into argv. */
typedef struct rdtool_opts {
    const rdtool_optdef_t *defs;
    size_t n_defs;
    size_t *n_values;     /* per option: how many values (a flag or a value-less optional counts one NULL) */
    const char ***values; /* per option: every value given, in order */
} rdtool_opts_t;

/* Parses argv against defs. Returns 0, or prints Kafka's message for an
 * unknown option or a missing value and returns RDTOOL_EXIT_USAGE. Free
 * with rdtool_opts_free in both cases. */
int rdtool_opts_parse(rdtool_opts_t *o, const rdtool_optdef_t *defs, size_t n_defs, int argc, char **argv);
void rdtool_opts_free(rdtool_opts_t *o);

bool rdtool_has(const rdtool_opts_t *o, int id);
/* The last value of option id, or NULL when it was not given (or given
 * without its optional value). */
const char *rdtool_value(const rdtool_opts_t *o, int id);

/* --help in joptsimple's two-column layout, after the usage text. */
void rdtool_print_help(FILE *out, const char *usage, const rdtool_optdef_t *defs, size_t n_defs);

/* What a tool's main does with its command line. */
typedef struct rdtool_cli {
    const rdtool_optdef_t *defs; /* may hold "help" and "version" */
    size_t n_defs;
    const char *usage;      /* the text before the options in --help */
    bool no_args_is_usage;  /* no argument at all: the help on stderr, RDTOOL_EXIT_USAGE (Kafka's joptsimple tools) */
    int (*run)(const rdtool_opts_t *o); /* returns the exit status */
} rdtool_cli_t;

/* Parses argv; answers --help (the help on stdout, 0) and --version; else
 * returns cli->run's exit status. */
int rdtool_main(const rdtool_cli_t *cli, int argc, char **argv);

/* One line on stderr; returns RDTOOL_EXIT_USAGE. */
int rdtool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 'Missing required argument "[name]"' (joptsimple) when id is absent;
 * returns 0 or RDTOOL_EXIT_USAGE. */
int rdtool_require(const rdtool_opts_t *o, int id);

/* An integer option in [min, max] (Java's parse of the option's type).
 * Absent: *out = dflt. Returns 0 or RDTOOL_EXIT_USAGE ("Cannot parse
 * argument 'x' of option name"). */
int rdtool_int_opt(const rdtool_opts_t *o, int id, int64_t min, int64_t max, int64_t dflt, int64_t *out);

/* --- properties -------------------------------------------------------------------- */

/* An ordered name=value list; a later set of a name replaces its value.
 * Owns its strings. Zero-initialise. */
typedef struct rdtool_props {
    char **names;
    char **values;
    size_t n;
} rdtool_props_t;

void rdtool_props_set(rdtool_props_t *p, const char *name, const char *value);
const char *rdtool_props_get(const rdtool_props_t *p, const char *name);
const char *rdtool_props_get_or(const rdtool_props_t *p, const char *name, const char *dflt);
/* Java's Boolean of a property: "true" in any case, blanks around ignored. */
bool rdtool_props_true(const rdtool_props_t *p, const char *name);
void rdtool_props_free(rdtool_props_t *p);
/* A Java .properties file ("k=v", "k: v", "k v"; '#' and '!' comments;
 * trailing-backslash continuations). Returns 0, or prints one line and
 * returns RDTOOL_EXIT_USAGE. */
int rdtool_props_load(rdtool_props_t *p, const char *path);
/* rdtool_props_load of the file named by option id, when it was given. */
int rdtool_props_load_opt(rdtool_props_t *p, const rdtool_opts_t *o, int id);
/* "k=v" (CommandLineUtils.parseKeyValueArgs). Returns 0 or RDTOOL_EXIT_USAGE. */
int rdtool_props_add_kv(rdtool_props_t *p, const char *kv);
/* Every value of option id as "k=v". Returns 0 or RDTOOL_EXIT_USAGE. */
int rdtool_props_add_kv_opt(rdtool_props_t *p, const rdtool_opts_t *o, int id);

/* Sets one property on conf under its librdkafka name: Java client names
 * librdkafka lacks are translated (fetch.max.wait.ms, buffer.memory, ...),
 * Java (de)serializer classes are ignored (the tools handle bytes), every
 * other name goes through as it is. Returns 0, or prints
 * "Invalid property NAME=VALUE: <librdkafka's reason>" and returns
 * RDTOOL_EXIT_USAGE. */
int rdtool_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value);
int rdtool_conf_set_all(rd_kafka_conf_t *conf, const rdtool_props_t *props);

/* --- clients ----------------------------------------------------------------------- */

/* rd_kafka_new, taking conf; NULL after printing librdkafka's reason. */
rd_kafka_t *rdtool_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* Set by SIGINT / SIGTERM once rdtool_catch_stop_signals ran: the tools
 * finish what they are doing, print their totals and exit. */
extern volatile sig_atomic_t rdtool_stop;
void rdtool_catch_stop_signals(void);

/* Produces one message (copied), waiting while librdkafka's queue is full.
 * headers (may be NULL) are taken over on success. */
rd_kafka_resp_err_t rdtool_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                                   const void *value, size_t value_len, rd_kafka_headers_t *headers, void *opaque);
/* Waits until every produced message got its delivery report. */
void rdtool_flush(rd_kafka_t *rk);

/* A consumer of one topic: with a group it subscribes (the broker's group
 * coordinator assigns partitions); without, it assigns the topic's
 * partitions itself (one, or all of them) through librdkafka's simple
 * consumer API, so that only Metadata, ListOffsets and Fetch are sent. */
typedef struct rdtool_consumer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;    /* assigning only */
    rd_kafka_queue_t *queue;  /* assigning only: every partition's messages */
    int32_t n_partitions;     /* assigning only: partitions [0, n) are consumed, or just `only` */
    int32_t only;             /* the one partition, or -1 */
    bool subscribed;
} rdtool_consumer_t;

/* Opens the consumer, taking conf. With subscribe, conf must hold
 * group.id and the start is auto.offset.reset's; else consumption starts
 * at start_offset (RD_KAFKA_OFFSET_BEGINNING, _END or an offset) in
 * partition (or in every partition when partition < 0), after waiting up
 * to wait_ms (< 0: until rdtool_stop) for the topic's metadata. Returns 0
 * or an exit status after printing one line. */
int rdtool_consumer_open(rdtool_consumer_t *c, rd_kafka_conf_t *conf, const char *topic, bool subscribe,
                         int32_t partition, int64_t start_offset, int64_t wait_ms);
/* The next message (destroy it), or NULL after timeout_ms. Error events
 * (broker down and the like) are reported on stderr once each and skipped. */
rd_kafka_message_t *rdtool_consumer_poll(rdtool_consumer_t *c, int timeout_ms);
void rdtool_consumer_close(rdtool_consumer_t *c);

/* --- --print-metrics ------------------------------------------------------------------ */

/* Asks librdkafka for statistics (the tools' metrics) on conf. */
void rdtool_metrics_enable(rd_kafka_conf_t *conf);
/* Waits for fresh statistics and prints their numbers as Kafka's
 * ToolsUtils.printMetrics lays metrics out ("Metric Name  Value", then
 * "name : value" sorted by name). A subscribed consumer serves callbacks
 * from its consumer queue (consumer_queue): messages polled meanwhile are
 * dropped. */
void rdtool_metrics_print(rd_kafka_t *rk, bool consumer_queue, FILE *out);

/* One option of a --help listing as Kafka's tools print it: head in a
 * 41-column field, text wrapped at word boundaries in the next 39. */
void rdtool_print_wrapped(FILE *out, const char *head, const char *text);

#endif
