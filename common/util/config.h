/*
 * config — the broker's configuration: Kafka 2.8's broker keys with their
 * types, defaults and limits, loaded from a Java .properties file and from
 * kafka-server-start.sh style `--override key=value` arguments.
 *
 * Every key samsa knows is one row of a static table (name, type, default,
 * limits, allowed values, one-line doc); a config_t holds, per row, the value
 * set explicitly or else the default. Keys missing from the table are kept
 * as plain strings and reported with a warning, as Kafka passes them through.
 * Values are checked when set, one key at a time; config_validate() then
 * checks the rules that involve several keys, as KafkaConfig does at start.
 *
 * Asking a getter for a key missing from the table, or with a type other than
 * the key's, is a programming error: it logs and aborts. A loaded config is
 * only read, so several threads may share it.
 *
 * Topic configs (/config/topics/<topic>) have their own, smaller table whose
 * rows name the broker key that gives the default (segment.bytes ->
 * log.segment.bytes); a config_topic_t holds one topic's overrides and falls
 * back to the broker config for the rest.
 */
#ifndef SAMSA_CONFIG_H
#define SAMSA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CONFIG_INT,  /* int32 */
    CONFIG_LONG, /* int64 */
    CONFIG_DOUBLE,
    CONFIG_BOOL, /* "true" / "false", any case */
    CONFIG_STRING,
    CONFIG_LIST /* comma-separated; read it with config_get_string */
} config_type_t;

/* Checks beyond type, limits and allowed values. */
typedef enum {
    CONFIG_CHECK_NONE = 0,
    CONFIG_CHECK_VERSION,     /* a Kafka version 2.8 knows: "2.8", "2.8-IV1", "0.10.2.1" */
    CONFIG_CHECK_LISTENERS,   /* NAME://host:port[,...] */
    CONFIG_CHECK_PROTOCOL_MAP /* NAME:PROTOCOL[,...] */
} config_check_t;

/* One key. Limits are written as values of the key's type, NULL = none. */
typedef struct config_def {
    const char *name;
    config_type_t type;
    const char *dflt; /* NULL: no default, the key is unset */
    const char *min;
    const char *max;
    const char *const *allowed; /* NULL-terminated; for a list, each item */
    config_check_t check;
    const char *doc;
} config_def_t;

/* A topic key and the broker key whose value is its default. */
typedef struct config_topic_def {
    config_def_t def; /* def.dflt is unused */
    const char *broker_key;
} config_topic_def_t;

typedef struct config config_t;
typedef struct config_topic config_topic_t;

/* --- the tables --------------------------------------------------------- */

/* Rows in table order; NULL past the end. */
const config_def_t *config_def_at(size_t i);
const config_topic_def_t *config_topic_def_at(size_t i);
/* NULL when the key is not in the table. */
const config_def_t *config_def_find(const char *key);
const config_topic_def_t *config_topic_def_find(const char *key);

/* --- loading ------------------------------------------------------------ */

config_t *config_new(void); /* every key at its default */
void config_free(config_t *cfg);

/* Errors below are one line written to err (may be NULL), e.g.
 *   server.properties:12: invalid value 'abc' for num.partitions: expected an integer
 * and the functions return -1; on success they return 0. */

/* Sets one key from its text (not NULL; surrounding whitespace ignored, as
 * Kafka does). A known key's value is checked and, if bad, cfg is left
 * unchanged; an unknown key is kept as a string and logged as a warning. */
int config_set(config_t *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Reads a .properties file and sets each key in file order (the last of a
 * repeated key wins). Messages name path as given and the line. On error the
 * keys before the bad line stay set: callers are expected to give up. */
int config_load_file(config_t *cfg, const char *path, char *err, size_t errlen);

/* Same as config_load_file for text already in memory; name stands for the
 * file in messages. */
int config_load_text(config_t *cfg, const char *name, const char *text, size_t len, char *err,
                     size_t errlen);

/* Applies kafka-server-start.sh's overrides: `--override key=value` (two
 * arguments) or `--override=key=value`, repeated, from argv[0] onwards, until
 * the first argument that is neither. The value is everything after the first
 * '='. Returns the index of that first other argument (argc when all were
 * overrides), or -1 on error. Call it after config_load_file so that the
 * overrides win:
 *     config_load_file(cfg, argv[1], ...);
 *     int used = config_apply_args(cfg, argc - 2, argv + 2, ...);
 * Unlike Kafka, a value may contain '='. */
int config_apply_args(config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* The checks KafkaConfig makes across keys at start-up (broker.id range,
 * zookeeper.connect present, retention and roll times, log dirs, replica
 * fetch wait vs socket and lag timeouts, listener names and the inter-broker
 * listener, offsets.commit.required.acks, queued.max.request.bytes). */
int config_validate(const config_t *cfg, char *err, size_t errlen);

/* --- reading ------------------------------------------------------------ */

/* The value in effect: set explicitly, else the default. Numbers and bools
 * abort when the key has no value (no default and not set); check
 * config_is_set first for such keys, or use the derived values below. */
int32_t config_get_int(const config_t *cfg, const char *key);
int64_t config_get_long(const config_t *cfg, const char *key);
double config_get_double(const config_t *cfg, const char *key);
bool config_get_bool(const config_t *cfg, const char *key);
/* For CONFIG_STRING and CONFIG_LIST keys; NULL when unset without default. */
const char *config_get_string(const config_t *cfg, const char *key);

/* True when the key was set explicitly, even to its default value. */
bool config_is_set(const config_t *cfg, const char *key);

/* The text of any key, known or not: for a known key its value in effect,
 * for an unknown one the text it was given. NULL when there is none. Never
 * aborts. */
const char *config_get_raw(const config_t *cfg, const char *key);

/* How many distinct unknown keys cfg holds. */
size_t config_unknown_count(const config_t *cfg);

/* --- values Kafka derives from several keys ------------------------------ */

/* log.retention.ms, else .minutes, else .hours; any negative value is -1,
 * "keep forever". */
int64_t config_log_retention_ms(const config_t *cfg);
/* log.roll.ms, else log.roll.hours. */
int64_t config_log_roll_ms(const config_t *cfg);
/* log.roll.jitter.ms, else log.roll.jitter.hours. */
int64_t config_log_roll_jitter_ms(const config_t *cfg);
/* log.flush.interval.ms, else log.flush.scheduler.interval.ms. */
int64_t config_log_flush_interval_ms(const config_t *cfg);
/* zookeeper.connection.timeout.ms, else zookeeper.session.timeout.ms. */
int32_t config_zk_connection_timeout_ms(const config_t *cfg);
/* log.dirs, else log.dir (a comma-separated list). */
const char *config_log_dirs(const config_t *cfg);
/* advertised.listeners, else listeners. */
const char *config_advertised_listeners(const config_t *cfg);
/* inter.broker.listener.name, else the name of security.inter.broker.protocol. */
const char *config_inter_broker_listener_name(const config_t *cfg);

/* Prints "KafkaConfig values:" and then "\tkey = value" for every known key,
 * sorted by key, with the value in effect ("null" when unset), as Kafka logs
 * it at start-up. */
void config_dump(const config_t *cfg, FILE *out);

/* --- helpers for list values ---------------------------------------------- */

/* Splits a comma-separated value into trimmed, non-empty items. Returns a
 * NULL-terminated array (never NULL) and its length in *count (may be NULL);
 * free it with config_list_free. */
char **config_list_split(const char *value, size_t *count);
void config_list_free(char **items);

/* One item of listeners / advertised.listeners, e.g. "PLAINTEXT://127.0.0.1:9092".
 * The name is upper-cased (Kafka normalises listener names); an empty host
 * means every interface; IPv6 hosts are written in brackets. Returns 0, or
 * -1 when text is not NAME://host:port with a port from 0 to 65535. */
typedef struct config_listener {
    char name[64];
    char host[256];
    int port;
} config_listener_t;
int config_listener_parse(const char *text, config_listener_t *out);

/* Kafka's ApiVersion order for inter.broker.protocol.version and
 * log.message.format.version: 0 for "0.8.0" up to the rank of "2.8-IV1".
 * A short form ("2.7", "2.7.1") ranks as the newest internal version of its
 * release, as in Kafka. -1 for a version Kafka 2.8 does not know. */
int config_api_version_rank(const char *version);

/* --- topic configs ------------------------------------------------------- */

/* broker must outlive the topic config. */
config_topic_t *config_topic_new(const config_t *broker);
void config_topic_free(config_topic_t *topic);

/* Sets an override (value NULL removes it). An unknown topic key is an
 * error, as Kafka rejects it. */
int config_topic_set(config_topic_t *topic, const char *key, const char *value, char *err,
                     size_t errlen);
bool config_topic_is_set(const config_topic_t *topic, const char *key);

/* The override, else the broker's value in effect for the matching key
 * (retention.ms follows config_log_retention_ms, segment.ms
 * config_log_roll_ms, and so on). Same abort rules as the broker getters. */
int32_t config_topic_get_int(const config_topic_t *topic, const char *key);
int64_t config_topic_get_long(const config_topic_t *topic, const char *key);
double config_topic_get_double(const config_topic_t *topic, const char *key);
bool config_topic_get_bool(const config_topic_t *topic, const char *key);
const char *config_topic_get_string(const config_topic_t *topic, const char *key);

/* --- the .properties reader ------------------------------------------------ */

/* Called for each key/value pair, in file order, with the line the pair
 * starts on. Returns 0, or -1 after writing a message (without file and
 * line; the reader adds them) to err. */
typedef int (*config_property_fn)(void *ctx, const char *key, const char *value, int line,
                                  char *err, size_t errlen);

/* Java's Properties.load syntax: '#' or '!' comment lines, blank lines,
 * key=value, key: value or key value, backslash line continuation, and the
 * escapes \t \n \r \f \uXXXX and \<char>. Unlike Java, trailing (unescaped)
 * whitespace is dropped and a line holding only a key is an error. name is
 * used in messages. Returns 0, or -1 with err set. */
int config_properties_parse(const char *text, size_t len, const char *name, config_property_fn fn,
                            void *ctx, char *err, size_t errlen);

#endif
