/*
 * samsa-topics — samsa's kafka-topics.sh (Kafka 2.8's TopicCommand):
 * create, list, describe, alter (add partitions) and delete topics.
 *
 *   samsa-topics --zookeeper HOST:PORT[/chroot] ACTION [options]
 *   samsa-topics --bootstrap-server HOST:PORT ACTION [options]
 *
 * With --zookeeper the tool works on ZooKeeper directly, as Kafka's
 * ZookeeperTopicService does (common/admin/topic_admin: AdminZkClient); with
 * --bootstrap-server it asks a broker through librdkafka's admin API
 * (CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs) and
 * Metadata, as AdminClientTopicService does. Flags, checks and output text
 * follow TopicCommand 2.8; see samsa-topics(1) for the differences.
 *
 * --topic is a regular expression for everything but --create, matched
 * against whole topic names after Kafka's TopicFilter clean-up (trim, ','
 * means '|', spaces and surrounding quotes dropped). samsa uses POSIX
 * extended regular expressions where Kafka uses java.util.regex; the
 * common forms (names, '.', '*', '|', classes, "\." escapes) agree.
 *
 * Exit status: 0 on success, 1 on a usage error (one line naming the flag)
 * or a failed command ("Error while executing topic command : ..." on
 * standard error).
 */
#include "util/buf.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/errmsg.h"
#include "proto/kerr.h"
#include "util/logger.h"
#include "util/mem.h"
#include "admin/replica_assign.h"
#include "admin/topic_admin.h"
#include "proto/topic_name.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"
#include "proto/kproto_apis.h"
#include "kafka_conn.h"
#include "rdkafka_tool.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPICS_PROG "samsa-topics"
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ZooKeeper: how long to wait for a session (--zk-timeout-ms); Kafka's
 * tool waits 30 s, which looks like a hang when ZooKeeper is down. The
 * session timeout is Kafka's. */
#define TOPICS_DEFAULT_ZK_TIMEOUT_MS 5000
#define TOPICS_ZK_SESSION_TIMEOUT_MS 30000
/* librdkafka: timeout of one admin or metadata request (Kafka's
 * request.timeout.ms default). */
#define TOPICS_ADMIN_TIMEOUT_MS 30000
/* Metadata is asked in rounds this long (see topics_rk_metadata). */
#define TOPICS_METADATA_ROUND_MS 500

#define TOPICS_MSG_MAX 2048

/* --replicas: how long a leader has to accept the connection, and then to
 * answer each question (a stopped broker costs this once, not a hang). */
#define TOPICS_REPLICA_STATE_TIMEOUT_MS 5000

/* --- options ------------------------------------------------------------------------- */

typedef enum topics_opt {
    OPT_BOOTSTRAP,
    OPT_COMMAND_CONFIG,
    OPT_ZOOKEEPER,
    OPT_LIST,
    OPT_CREATE,
    OPT_DELETE,
    OPT_ALTER,
    OPT_DESCRIBE,
    OPT_TOPIC,
    OPT_CONFIG,
    OPT_DELETE_CONFIG,
    OPT_PARTITIONS,
    OPT_REPLICATION_FACTOR,
    OPT_REPLICA_ASSIGNMENT,
    OPT_UNDER_REPLICATED,
    OPT_UNAVAILABLE,
    OPT_UNDER_MIN_ISR,
    OPT_AT_MIN_ISR,
    OPT_TOPICS_WITH_OVERRIDES,
    OPT_IF_EXISTS,
    OPT_IF_NOT_EXISTS,
    OPT_DISABLE_RACK_AWARE,
    OPT_FORCE,
    OPT_EXCLUDE_INTERNAL,
    OPT_REPLICAS,
    OPT_HELP,
    OPT_VERSION,
    OPT_ZK_TIMEOUT,
    OPT__COUNT
} topics_opt_t;

typedef struct topics_optdef {
    const char *name;
    bool arg;
    const char *arg_name; /* for the help */
    const char *help;
} topics_optdef_t;

static const topics_optdef_t topics_optdefs[OPT__COUNT] = {
    [OPT_BOOTSTRAP] = {"bootstrap-server", true, "server to connect to",
                       "REQUIRED: The Kafka server to connect to. In case of providing this, a direct Zookeeper "
                       "connection won't be required."},
    [OPT_COMMAND_CONFIG] = {"command-config", true, "command config property file",
                            "Property file containing configs to be passed to Admin Client (librdkafka "
                            "properties). This is used only with --bootstrap-server option."},
    [OPT_ZOOKEEPER] = {"zookeeper", true, "hosts",
                       "DEPRECATED, The connection string for the zookeeper connection in the form host:port. "
                       "Multiple hosts can be given to allow fail-over."},
    [OPT_LIST] = {"list", false, NULL, "List all available topics."},
    [OPT_CREATE] = {"create", false, NULL, "Create a new topic."},
    [OPT_DELETE] = {"delete", false, NULL, "Delete a topic"},
    [OPT_ALTER] = {"alter", false, NULL,
                   "Alter the number of partitions, replica assignment, and/or configuration for the topic."},
    [OPT_DESCRIBE] = {"describe", false, NULL, "List details for the given topics."},
    [OPT_TOPIC] = {"topic", true, "topic",
                   "The topic to create, alter, describe or delete. It also accepts a regular expression, except "
                   "for --create option. Put topic name in double quotes and use the '\\' prefix to escape regular "
                   "expression symbols; e.g. \"test\\.topic\"."},
    [OPT_CONFIG] = {"config", true, "name=value",
                    "A topic configuration override for the topic being created or altered. See samsa-topics(1) "
                    "for the valid configurations. It is supported only in combination with --create if "
                    "--bootstrap-server option is used."},
    [OPT_DELETE_CONFIG] = {"delete-config", true, "name",
                           "A topic configuration override to be removed for an existing topic (see the list of "
                           "configurations under the --config option). Not supported with the --bootstrap-server "
                           "option."},
    [OPT_PARTITIONS] = {"partitions", true, "# of partitions",
                        "The number of partitions for the topic being created or altered (WARNING: If partitions "
                        "are increased for a topic that has a key, the partition logic or ordering of the "
                        "messages will be affected). If not supplied for create, defaults to the cluster default."},
    [OPT_REPLICATION_FACTOR] = {"replication-factor", true, "replication factor",
                                "The replication factor for each partition in the topic being created. If not "
                                "supplied, defaults to the cluster default."},
    [OPT_REPLICA_ASSIGNMENT] = {"replica-assignment", true,
                                "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , "
                                "broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...",
                                "A list of manual partition-to-broker assignments for the topic being created or "
                                "altered."},
    [OPT_UNDER_REPLICATED] = {"under-replicated-partitions", false, NULL,
                              "if set when describing topics, only show under replicated partitions"},
    [OPT_UNAVAILABLE] = {"unavailable-partitions", false, NULL,
                         "if set when describing topics, only show partitions whose leader is not available"},
    [OPT_UNDER_MIN_ISR] = {"under-min-isr-partitions", false, NULL,
                           "if set when describing topics, only show partitions whose isr count is less than the "
                           "configured minimum. Not supported with the --zookeeper option."},
    [OPT_AT_MIN_ISR] = {"at-min-isr-partitions", false, NULL,
                        "if set when describing topics, only show partitions whose isr count is equal to the "
                        "configured minimum. Not supported with the --zookeeper option."},
    [OPT_TOPICS_WITH_OVERRIDES] = {"topics-with-overrides", false, NULL,
                                   "if set when describing topics, only show topics that have overridden configs"},
    [OPT_IF_EXISTS] = {"if-exists", false, NULL,
                       "if set when altering or deleting or describing topics, the action will only execute if "
                       "the topic exists."},
    [OPT_IF_NOT_EXISTS] = {"if-not-exists", false, NULL,
                           "if set when creating topics, the action will only execute if the topic does not "
                           "already exist."},
    [OPT_DISABLE_RACK_AWARE] = {"disable-rack-aware", false, NULL, "Disable rack aware replica assignment"},
    [OPT_FORCE] = {"force", false, NULL, "Suppress console prompts"},
    [OPT_EXCLUDE_INTERNAL] = {"exclude-internal", false, NULL,
                              "exclude internal topics when running list or describe command. The internal topics "
                              "will be listed by default"},
    [OPT_REPLICAS] = {"replicas", false, NULL,
                      "samsa: if set when describing topics, also show each replica's progress as its "
                      "partition's leader sees it: in the ISR or not, log end offset, lag in records behind the "
                      "leader and when it was last caught up."},
    [OPT_HELP] = {"help", false, NULL, "Print usage information."},
    [OPT_VERSION] = {"version", false, NULL, "Display samsa version."},
    [OPT_ZK_TIMEOUT] = {"zk-timeout-ms", true, "ms",
                        "samsa: how long to wait for a ZooKeeper session before giving up (default 5000)."},
};

typedef struct topics_opts {
    bool has[OPT__COUNT];
    const char *value[OPT__COUNT]; /* the last value given */
    const char **configs;          /* every --config, in order */
    size_t n_configs;
    const char **delete_configs; /* every --delete-config */
    size_t n_delete_configs;
    int32_t partitions;
    int32_t replication_factor;
    int zk_timeout_ms;
} topics_opts_t;

/* A usage error: one line on stderr, exit status 1. */
static int topics_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int topics_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static void topics_print_help(FILE *out) {
    fprintf(out, "Usage: " TOPICS_PROG " (--zookeeper HOST:PORT[/chroot] | --bootstrap-server HOST:PORT)\n"
                 "         (--create | --list | --describe | --alter | --delete) [options]\n\n"
                 "Option                                   Description\n"
                 "------                                   -----------\n");
    for (int i = 0; i < OPT__COUNT; i++) {
        const topics_optdef_t *d = &topics_optdefs[i];
        char head[160];
        if (d->arg)
            snprintf(head, sizeof head, "--%s <%s>", d->name, i == OPT_REPLICA_ASSIGNMENT ? "assignment" : d->arg_name);
        else
            snprintf(head, sizeof head, "--%s", d->name);
        if (strlen(head) > 40)
            fprintf(out, "%s\n", head);
        rdtool_print_wrapped(out, strlen(head) > 40 ? "" : head, d->help);
    }
}

/* Java's Integer parsing for an option's value. */
static int topics_parse_int(topics_opt_t opt, const char *text, int32_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno || v < INT32_MIN || v > INT32_MAX || text[0] == ' ')
        return topics_usage_error("Cannot parse argument '%s' of option %s", text, topics_optdefs[opt].name);
    *out = (int32_t)v;
    return 0;
}

static void topics_opts_free(topics_opts_t *o) {
    free(o->configs);
    free(o->delete_configs);
}

static void topics_opts_record(topics_opts_t *o, int id, const char *arg) {
    o->has[id] = true;
    o->value[id] = arg;
    if (id == OPT_CONFIG) {
        o->configs = mem_realloc(o->configs, (o->n_configs + 1) * sizeof *o->configs);
        o->configs[o->n_configs++] = arg;
    } else if (id == OPT_DELETE_CONFIG) {
        o->delete_configs = mem_realloc(o->delete_configs, (o->n_delete_configs + 1) * sizeof *o->delete_configs);
        o->delete_configs[o->n_delete_configs++] = arg;
    }
}

/* getopt_long over the table (long options only; unique prefixes are
 * accepted, as joptsimple does). Returns 0, or an exit status. */
static int topics_getopt(int argc, char **argv, topics_opts_t *o) {
    struct option longopts[OPT__COUNT + 1];
    for (int i = 0; i < OPT__COUNT; i++)
        longopts[i] = (struct option){topics_optdefs[i].name, topics_optdefs[i].arg ? required_argument : no_argument,
                                      NULL, i};
    longopts[OPT__COUNT] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":", longopts, NULL);
        if (c == -1)
            break;
        if (c == ':')
            return topics_usage_error("Option %s requires an argument", argv[optind - 1]);
        if (c == '?' || c < 0 || c >= OPT__COUNT)
            return topics_usage_error("%s is not a recognized option", argv[optind - 1]);
        topics_opts_record(o, c, optarg);
    }
    if (optind < argc)
        return topics_usage_error("%s is not a recognized option (options start with --)", argv[optind]);
    return 0;
}

/* "[name]", as joptsimple prints an option in messages. */
#define OPTNAME(id) topics_optdefs[id].name

static int topics_require(const topics_opts_t *o, topics_opt_t opt) {
    if (!o->has[opt])
        return topics_usage_error("Missing required argument \"[%s]\"", OPTNAME(opt));
    return 0;
}

/* CommandLineUtils.checkInvalidArgs: used may not come with any of bad. */
static int topics_invalid(const topics_opts_t *o, topics_opt_t used, const topics_opt_t *bad, size_t n) {
    if (!o->has[used])
        return 0;
    for (size_t i = 0; i < n; i++)
        if (o->has[bad[i]])
            return topics_usage_error("Option \"[%s]\" can't be used with option \"[%s]\"", OPTNAME(used),
                                      OPTNAME(bad[i]));
    return 0;
}

#define INVALID(used, ...)                                                                                             \
    do {                                                                                                               \
        const topics_opt_t bad_[] = {__VA_ARGS__};                                                                     \
        if (topics_invalid(o, used, bad_, sizeof bad_ / sizeof bad_[0]))                                               \
            return 1;                                                                                                  \
    } while (0)

/* TopicCommandOptions.checkArgs, in its order. Returns 0 or an exit status. */
static int topics_check_args(const topics_opts_t *o) {
    const topics_opt_t actions[] = {OPT_CREATE, OPT_LIST, OPT_ALTER, OPT_DESCRIBE, OPT_DELETE};
    int n_actions = 0;
    for (size_t i = 0; i < 5; i++)
        n_actions += o->has[actions[i]];
    if (n_actions != 1)
        return topics_usage_error(
            "Command must include exactly one action: --list, --describe, --create, --alter or --delete");
    if (o->has[OPT_BOOTSTRAP] == o->has[OPT_ZOOKEEPER])
        return topics_usage_error("Only one of --bootstrap-server or --zookeeper must be specified");
    if (o->has[OPT_DESCRIBE] && o->has[OPT_IF_EXISTS] && topics_require(o, OPT_TOPIC))
        return 1;
    if (!o->has[OPT_LIST] && !o->has[OPT_DESCRIBE] && topics_require(o, OPT_TOPIC))
        return 1;
    if (o->has[OPT_CREATE] && !o->has[OPT_REPLICA_ASSIGNMENT] && o->has[OPT_ZOOKEEPER] &&
        (topics_require(o, OPT_PARTITIONS) || topics_require(o, OPT_REPLICATION_FACTOR)))
        return 1;
    if (o->has[OPT_BOOTSTRAP] && o->has[OPT_ALTER]) {
        if (o->has[OPT_CONFIG])
            return topics_usage_error("Option combination \"[bootstrap-server],[config]\" can't be used with option "
                                      "\"[alter]\" (the kafka-configs CLI supports altering topic configs with a "
                                      "--bootstrap-server option)");
        if (topics_require(o, OPT_PARTITIONS))
            return 1;
    }
    INVALID(OPT_CONFIG, OPT_DESCRIBE, OPT_LIST, OPT_DELETE);
    INVALID(OPT_DELETE_CONFIG, OPT_CREATE, OPT_DESCRIBE, OPT_LIST, OPT_DELETE, OPT_BOOTSTRAP);
    INVALID(OPT_PARTITIONS, OPT_DESCRIBE, OPT_LIST, OPT_DELETE);
    INVALID(OPT_REPLICATION_FACTOR, OPT_ALTER, OPT_DESCRIBE, OPT_LIST, OPT_DELETE);
    INVALID(OPT_REPLICA_ASSIGNMENT, OPT_DESCRIBE, OPT_LIST, OPT_DELETE);
    if (o->has[OPT_CREATE])
        INVALID(OPT_REPLICA_ASSIGNMENT, OPT_PARTITIONS, OPT_REPLICATION_FACTOR);
    INVALID(OPT_UNDER_REPLICATED, OPT_ALTER, OPT_CREATE, OPT_LIST, OPT_DELETE, OPT_UNDER_MIN_ISR, OPT_AT_MIN_ISR,
            OPT_UNAVAILABLE, OPT_TOPICS_WITH_OVERRIDES);
    INVALID(OPT_UNDER_MIN_ISR, OPT_ALTER, OPT_CREATE, OPT_LIST, OPT_DELETE, OPT_UNDER_REPLICATED, OPT_AT_MIN_ISR,
            OPT_UNAVAILABLE, OPT_TOPICS_WITH_OVERRIDES, OPT_ZOOKEEPER);
    INVALID(OPT_AT_MIN_ISR, OPT_ALTER, OPT_CREATE, OPT_LIST, OPT_DELETE, OPT_UNDER_REPLICATED, OPT_UNDER_MIN_ISR,
            OPT_UNAVAILABLE, OPT_TOPICS_WITH_OVERRIDES, OPT_ZOOKEEPER);
    INVALID(OPT_UNAVAILABLE, OPT_ALTER, OPT_CREATE, OPT_LIST, OPT_DELETE, OPT_UNDER_REPLICATED, OPT_UNDER_MIN_ISR,
            OPT_AT_MIN_ISR, OPT_TOPICS_WITH_OVERRIDES);
    INVALID(OPT_TOPICS_WITH_OVERRIDES, OPT_ALTER, OPT_CREATE, OPT_LIST, OPT_DELETE, OPT_UNDER_REPLICATED,
            OPT_UNDER_MIN_ISR, OPT_AT_MIN_ISR, OPT_UNAVAILABLE);
    INVALID(OPT_IF_EXISTS, OPT_CREATE, OPT_LIST);
    INVALID(OPT_IF_NOT_EXISTS, OPT_ALTER, OPT_DESCRIBE, OPT_LIST, OPT_DELETE);
    INVALID(OPT_EXCLUDE_INTERNAL, OPT_ALTER, OPT_CREATE, OPT_DELETE);
    INVALID(OPT_ZK_TIMEOUT, OPT_BOOTSTRAP);
    if (o->has[OPT_REPLICAS] && !o->has[OPT_DESCRIBE])
        return topics_usage_error("Option \"[%s]\" can only be used with option \"[%s]\"", OPTNAME(OPT_REPLICAS),
                                  OPTNAME(OPT_DESCRIBE));
    return 0;
}

/* Parses argv into o. Returns -1 to go on, or the exit status. */
static int topics_parse_args(int argc, char **argv, topics_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->zk_timeout_ms = TOPICS_DEFAULT_ZK_TIMEOUT_MS;
    if (argc <= 1) {
        fprintf(stderr, "Create, delete, describe, or change a topic.\n");
        topics_print_help(stderr);
        return 1;
    }
    int rc = topics_getopt(argc, argv, o);
    if (rc != 0)
        return rc;
    if (o->has[OPT_HELP]) {
        printf("This tool helps to create, delete, describe, or change a topic.\n");
        topics_print_help(stdout);
        return 0;
    }
    if (o->has[OPT_VERSION]) {
        printf(TOPICS_PROG " (samsa) " PACKAGE_VERSION "\n");
        return 0;
    }
    if ((o->has[OPT_PARTITIONS] && topics_parse_int(OPT_PARTITIONS, o->value[OPT_PARTITIONS], &o->partitions)) ||
        (o->has[OPT_REPLICATION_FACTOR] &&
         topics_parse_int(OPT_REPLICATION_FACTOR, o->value[OPT_REPLICATION_FACTOR], &o->replication_factor)))
        return 1;
    if (o->has[OPT_ZK_TIMEOUT]) {
        int32_t ms;
        if (topics_parse_int(OPT_ZK_TIMEOUT, o->value[OPT_ZK_TIMEOUT], &ms))
            return 1;
        if (ms <= 0)
            return topics_usage_error("Option zk-timeout-ms must be a positive number of milliseconds, not %d", ms);
        o->zk_timeout_ms = ms;
    }
    rc = topics_check_args(o);
    return rc != 0 ? rc : -1;
}

/* --- the command's topic: --partitions, --replica-assignment, --config ----------------------- */

typedef struct topics_command {
    const char *name;
    bool has_assignment;
    zkdata_topic_assignment_t assignment; /* --replica-assignment, partitions from 0 */
    zkdata_config_t configs;              /* --config */
} topics_command_t;

static void topics_command_free(topics_command_t *c) {
    zkdata_topic_assignment_free(&c->assignment);
    zkdata_config_free(&c->configs);
}

/* Java's String.trim() of [s, e) as a new string. */
static char *topics_trim_dup(const char *s, const char *e) {
    while (s < e && (unsigned char)*s <= ' ')
        s++;
    while (e > s && (unsigned char)e[-1] <= ' ')
        e--;
    return mem_strndup(s, (size_t)(e - s));
}

/* One --config as TopicCommand splits it: on "\s*=\s*", Java's split
 * dropping trailing empty pieces, and exactly two pieces are required. */
static bool topics_split_config(const char *text, char **key, char **value) {
    const char *eq = strchr(text, '=');
    if (!eq || strchr(eq + 1, '='))
        return false;
    *key = topics_trim_dup(text, eq);
    *value = topics_trim_dup(eq + 1, eq + strlen(eq));
    if (**value == '\0') { /* "k=" splits into one piece */
        free(*key);
        free(*value);
        return false;
    }
    return true;
}

/* CommandTopicPartition: parses the replica assignment, then the configs
 * (validated as LogConfig.validate), then the configs to delete. */
static int topics_command_init(topics_command_t *c, const topics_opts_t *o, char *msg, size_t msglen) {
    memset(c, 0, sizeof *c);
    c->name = o->value[OPT_TOPIC];
    zkdata_topic_assignment_init(&c->assignment);
    zkdata_config_init(&c->configs);
    if (o->has[OPT_REPLICA_ASSIGNMENT]) {
        c->has_assignment = true;
        if (rassign_parse(o->value[OPT_REPLICA_ASSIGNMENT], &c->assignment, msg, msglen) != KERR_NONE)
            return -1;
    }
    for (size_t i = 0; i < o->n_configs; i++) {
        char *key, *value;
        if (!topics_split_config(o->configs[i], &key, &value)) {
            errmsg_set(msg, msglen, "requirement failed: Invalid topic config: all configs to be added must be in "
                                    "the format \"key=val\".");
            return -1;
        }
        zkdata_config_set(&c->configs, key, value);
        free(key);
        free(value);
    }
    if (tadmin_validate_configs(&c->configs, msg, msglen) != KERR_NONE)
        return -1;
    const char *mfv = zkdata_config_get(&c->configs, "message.format.version");
    if (mfv)
        printf("WARNING: The configuration message.format.version=%s is specified. This configuration will be "
               "ignored if the version is newer than the inter.broker.protocol.version specified in the broker.\n",
               mfv);
    for (size_t i = 0; i < o->n_delete_configs; i++) {
        char *key = topics_trim_dup(o->delete_configs[i], o->delete_configs[i] + strlen(o->delete_configs[i]));
        bool known = config_topic_def_find(key) != NULL;
        if (!known)
            errmsg_set(msg, msglen, "Unknown topic config name: %s", key);
        free(key);
        if (!known)
            return -1;
    }
    return 0;
}

/* --- topic filter (kafka.utils.IncludeList) ------------------------------------------------------ */

typedef struct topics_filter {
    bool active;
    regex_t re;
} topics_filter_t;

/* TopicFilter's clean-up, then a whole-name POSIX extended expression. */
static int topics_filter_init(topics_filter_t *f, const char *raw, char *msg, size_t msglen) {
    f->active = false;
    if (!raw)
        return 0;
    char *t = topics_trim_dup(raw, raw + strlen(raw));
    buf_t b = BUF_INIT;
    for (const char *p = t; *p; p++)
        if (*p != ' ')
            buf_append(&b, *p == ',' ? "|" : p, 1);
    size_t start = 0, end = b.len;
    while (start < end && (b.data[start] == '"' || b.data[start] == '\''))
        start++;
    while (end > start && (b.data[end - 1] == '"' || b.data[end - 1] == '\''))
        end--;
    char *regex = mem_strndup((const char *)b.data + start, end - start);
    char *anchored = mem_alloc(strlen(regex) + 5);
    sprintf(anchored, "^(%s)$", regex);
    int rc = regcomp(&f->re, anchored, REG_EXTENDED | REG_NOSUB);
    if (rc != 0)
        errmsg_set(msg, msglen, "%s is an invalid regex.", regex);
    else
        f->active = true;
    free(anchored);
    free(regex);
    free(t);
    buf_free(&b);
    return rc == 0 ? 0 : -1;
}

static void topics_filter_free(topics_filter_t *f) {
    if (f->active)
        regfree(&f->re);
    f->active = false;
}

static bool topics_filter_allows(const topics_filter_t *f, const char *topic, bool exclude_internal) {
    if (exclude_internal && topic_name_is_internal(topic))
        return false;
    return !f->active || regexec(&f->re, topic, 0, NULL, 0) == 0;
}

/* A list of topic names (owned). */
typedef struct topics_names {
    char **v;
    size_t n;
} topics_names_t;

static void topics_names_add(topics_names_t *l, const char *name) {
    l->v = mem_realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = mem_strdup(name);
}

static void topics_names_free(topics_names_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int topics_cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* TopicCommand.ensureTopicExists. */
static int topics_ensure_exists(const topics_opts_t *o, const topics_names_t *found, char *msg, size_t msglen) {
    if (o->has[OPT_TOPIC] && !o->has[OPT_IF_EXISTS] && found->n == 0) {
        errmsg_set(msg, msglen, "Topic '%s' does not exist as expected", o->value[OPT_TOPIC]);
        return -1;
    }
    return 0;
}

static void topics_print_ints(const int32_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        printf("%s%" PRId32, i ? "," : "", v[i]);
}

/* --- describe: which partitions to print (TopicCommand.DescribeOptions) -------------------------- */

typedef struct topics_partition_view {
    const char *topic;
    int32_t partition;
    int32_t leader; /* -1: none */
    const int32_t *replicas;
    size_t n_replicas;
    const int32_t *isr;
    size_t n_isr;
    int32_t min_isr; /* -1: unknown (ZooKeeper mode) */
    bool marked_for_deletion;
} topics_partition_view_t;

static bool topics_describe_configs(const topics_opts_t *o) {
    return !o->has[OPT_UNAVAILABLE] && !o->has[OPT_UNDER_REPLICATED] && !o->has[OPT_UNDER_MIN_ISR] &&
           !o->has[OPT_AT_MIN_ISR];
}

static bool topics_id_in(const int32_t *ids, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool topics_should_print(const topics_opts_t *o, const topics_partition_view_t *p, const int32_t *live,
                                size_t n_live) {
    bool has_leader = p->leader >= 0;
    if (topics_describe_configs(o))
        return true;
    if (o->has[OPT_UNDER_REPLICATED] && p->n_replicas > p->n_isr)
        return true;
    if (o->has[OPT_UNAVAILABLE] && (!has_leader || !topics_id_in(live, n_live, p->leader)))
        return true;
    if (o->has[OPT_UNDER_MIN_ISR] && (!has_leader || (p->min_isr >= 0 && (int64_t)p->n_isr < p->min_isr)))
        return true;
    return o->has[OPT_AT_MIN_ISR] && p->min_isr >= 0 && (int64_t)p->n_isr == p->min_isr;
}

static void topics_print_partition(const topics_partition_view_t *p) {
    printf("\tTopic: %s\tPartition: %" PRId32 "\tLeader: ", p->topic, p->partition);
    if (p->leader >= 0)
        printf("%" PRId32, p->leader);
    else
        printf("none");
    printf("\tReplicas: ");
    topics_print_ints(p->replicas, p->n_replicas);
    printf("\tIsr: ");
    topics_print_ints(p->isr, p->n_isr);
    printf("%s\n", p->marked_for_deletion ? "\tMarkedForDeletion: true" : "");
}

/* TopicDescription.printDescription; configs is "k=v,k=v". */
static void topics_print_summary(const char *topic, const char *topic_id, size_t n_partitions, size_t rf,
                                 const char *configs, bool marked) {
    printf("Topic: %s", topic);
    if (topic_id && *topic_id)
        printf("\tTopicId: %s", topic_id);
    printf("\tPartitionCount: %zu\tReplicationFactor: %zu\tConfigs: %s%s\n", n_partitions, rf, configs,
           marked ? "\tMarkedForDeletion: true" : "");
}

/* --- --replicas: each replica's progress from its leader (DescribeReplicaState) ---------------- */

/* Only a partition's leader knows how far its followers got, so each
 * partition's question goes to its leader, over one blocking connection
 * per leader kept for the whole run (kafka_conn.h). */

typedef struct topics_leader {
    int32_t id;
    char *host;         /* NULL: no endpoint known */
    int32_t port;
    bool resolved;      /* the endpoint was looked for (ZooKeeper mode: the registration read) */
    kafka_conn_t *conn; /* opened at the first question */
    char *failure;      /* set: not asked again; the replica lines say why */
} topics_leader_t;

typedef struct topics_leaders {
    topics_leader_t *v;
    size_t n;
    zkc_t *zk; /* ZooKeeper mode: endpoints from /brokers/ids/<id>; NULL: from Metadata */
    /* a leader closed the connection on DescribeReplicaState: the command
     * fails with this once everything printable is printed */
    char not_samsa[512];
} topics_leaders_t;

static void topics_leaders_free(topics_leaders_t *l) {
    for (size_t i = 0; i < l->n; i++) {
        kafka_conn_close(l->v[i].conn);
        free(l->v[i].host);
        free(l->v[i].failure);
    }
    free(l->v);
}

static topics_leader_t *topics_leaders_get(topics_leaders_t *l, int32_t id) {
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].id == id)
            return &l->v[i];
    l->v = mem_realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n] = (topics_leader_t){.id = id};
    return &l->v[l->n++];
}

/* Metadata mode: a broker's advertised endpoint. */
static void topics_leaders_set_endpoint(topics_leaders_t *l, int32_t id, const char *host, int32_t port) {
    topics_leader_t *ld = topics_leaders_get(l, id);
    free(ld->host);
    ld->host = mem_strdup(host);
    ld->port = port;
    ld->resolved = true;
}

static void topics_leader_fail(topics_leader_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void topics_leader_fail(topics_leader_t *ld, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    free(ld->failure);
    ld->failure = mem_strdup(text);
    kafka_conn_close(ld->conn);
    ld->conn = NULL;
}

/* ZooKeeper mode: the leader's registration, its first PLAINTEXT listener
 * (the only kind kafka_conn speaks), else the legacy host and port. */
static void topics_leader_resolve_zk(zkc_t *zk, topics_leader_t *ld) {
    ld->resolved = true;
    char path[64];
    snprintf(path, sizeof path, "/brokers/ids/%" PRId32, ld->id);
    char *data = NULL;
    int len = 0;
    zkc_err_t zerr = zkc_get(zk, path, &data, &len, NULL);
    if (zerr != ZKC_OK) {
        topics_leader_fail(ld, "leader %" PRId32 " unreachable: %s: %s", ld->id, path, zkc_strerror(zerr));
        return;
    }
    zkdata_broker_t b;
    char err[256];
    if (zkdata_broker_decode(data, len < 0 ? 0 : (size_t)len, &b, err, sizeof err) != 0) {
        free(data);
        topics_leader_fail(ld, "leader %" PRId32 ": %s: %s", ld->id, path, err);
        return;
    }
    free(data);
    const char *host = b.host;
    int32_t port = b.port;
    for (size_t i = 0; i < b.n_endpoints; i++) {
        if (strcmp(b.endpoints[i].security_protocol, "PLAINTEXT") == 0) {
            host = b.endpoints[i].host;
            port = b.endpoints[i].port;
            break;
        }
    }
    if (port > 0) {
        /* no host: the broker listens on every interface */
        ld->host = mem_strdup(host && *host ? host : "localhost");
        ld->port = port;
    } else {
        topics_leader_fail(ld, "leader %" PRId32 " has no PLAINTEXT listener", ld->id);
    }
    zkdata_broker_free(&b);
}

/* The leader's answer for one partition, or NULL when the leader could not
 * be asked (ld->failure says why). The answer lives in arena and until the
 * next question to this leader. */
static const kp_describe_replica_state_resp_partition_t *
topics_leader_ask(topics_leaders_t *l, topics_leader_t *ld, const char *topic, int32_t partition, kp_arena_t *arena) {
    if (!ld->resolved && l->zk)
        topics_leader_resolve_zk(l->zk, ld);
    if (ld->failure)
        return NULL;
    if (!ld->host) {
        topics_leader_fail(ld, "leader %" PRId32 " unreachable: not among the live brokers", ld->id);
        return NULL;
    }
    char err[512];
    if (!ld->conn) {
        ld->conn = kafka_conn_open(ld->host, ld->port, TOPICS_REPLICA_STATE_TIMEOUT_MS, err, sizeof err);
        if (!ld->conn) {
            topics_leader_fail(ld, "leader %" PRId32 " unreachable", ld->id);
            return NULL;
        }
    }
    int32_t index = partition;
    kp_describe_replica_state_req_topic_t t = {kp_str(topic), {1, &index}};
    kp_describe_replica_state_req_t req = {.topics = {1, &t}};
    void *body = NULL;
    kafka_conn_status_t st = kafka_conn_call(ld->conn, KP_API_DESCRIBE_REPLICA_STATE, 0, &req,
                                             TOPICS_REPLICA_STATE_TIMEOUT_MS, arena, &body, err, sizeof err);
    if (st == KAFKA_CONN_CLOSED) {
        errmsg_set(l->not_samsa, sizeof l->not_samsa,
                   "broker %" PRId32 " (%s:%" PRId32 "): the broker does not serve DescribeReplicaState (not samsa?)",
                   ld->id, ld->host, ld->port);
        topics_leader_fail(ld, "leader %" PRId32 " does not serve DescribeReplicaState", ld->id);
        return NULL;
    }
    if (st != KAFKA_CONN_OK) {
        topics_leader_fail(ld, "leader %" PRId32 " unreachable: %s", ld->id, err);
        return NULL;
    }
    const kp_describe_replica_state_resp_t *resp = body;
    const kp_describe_replica_state_resp_topic_t *rt = resp->topics.items;
    for (int32_t i = 0; i < resp->topics.count; i++) {
        const kp_describe_replica_state_resp_partition_t *ps = rt[i].partitions.items;
        for (int32_t k = 0; k < rt[i].partitions.count; k++)
            if (kp_str_eq(rt[i].name, topic) && ps[k].partition_index == partition)
                return &ps[k];
    }
    topics_leader_fail(ld, "leader %" PRId32 " left partition %s-%" PRId32 " out of its answer", ld->id, topic,
                       partition);
    return NULL;
}

/* One line per replica under the partition line: the leader's view, or
 * why there is none ("unknown (...)", for each replica the metadata
 * lists). */
static void topics_print_replicas(topics_leaders_t *l, const topics_partition_view_t *p) {
    char why[600] = "";
    kp_arena_t arena = KP_ARENA_INIT;
    const kp_describe_replica_state_resp_partition_t *st = NULL;
    if (p->leader < 0) {
        snprintf(why, sizeof why, "no leader");
    } else {
        topics_leader_t *ld = topics_leaders_get(l, p->leader);
        st = topics_leader_ask(l, ld, p->topic, p->partition, &arena);
        if (!st)
            snprintf(why, sizeof why, "%s", ld->failure);
        else if (st->error_code != KERR_NONE)
            snprintf(why, sizeof why, "leader %" PRId32 ": %s", p->leader, kerr_name((kerr_t)st->error_code));
    }
    if (why[0]) {
        for (size_t i = 0; i < p->n_replicas; i++)
            printf("\t\tReplica: %" PRId32 "\tunknown (%s)\n", p->replicas[i], why);
        kp_arena_free(&arena);
        return;
    }
    const kp_describe_replica_state_resp_replica_t *rs = st->replicas.items;
    for (int32_t i = 0; i < st->replicas.count; i++) {
        const kp_describe_replica_state_resp_replica_t *r = &rs[i];
        if (r->broker_id == p->leader) {
            printf("\t\tReplica: %" PRId32 "\tLeader\tLogEndOffset: %" PRId64 "\tHighWatermark: %" PRId64 "\n",
                   r->broker_id, st->log_end_offset, st->high_watermark);
            continue;
        }
        printf("\t\tReplica: %" PRId32 "\tInIsr: %s\tLogEndOffset: ", r->broker_id, r->in_isr ? "true" : "false");
        if (r->log_end_offset >= 0)
            printf("%" PRId64 "\tLag: %" PRId64, r->log_end_offset, st->log_end_offset - r->log_end_offset);
        else
            printf("unknown\tLag: unknown");
        if (r->last_caught_up_ms_ago >= 0)
            printf("\tLastCaughtUp: %" PRId64 " ms ago\n", r->last_caught_up_ms_ago);
        else
            printf("\tLastCaughtUp: never\n");
    }
    kp_arena_free(&arena);
}

/* ===== ZooKeeper (ZookeeperTopicService) ======================================================== */

/* getTopics: every topic, sorted, through the filter. marked (may be NULL)
 * receives the marked-for-deletion flags in the same order. */
static int topics_zk_get(zkc_t *zk, const topics_opts_t *o, topics_names_t *out, bool **marked, char *msg,
                         size_t msglen) {
    memset(out, 0, sizeof *out);
    topics_filter_t f;
    if (topics_filter_init(&f, o->value[OPT_TOPIC], msg, msglen) != 0)
        return -1;
    tadmin_topic_list_t all;
    if (tadmin_list_topics(zk, &all, msg, msglen) != KERR_NONE) {
        topics_filter_free(&f);
        return -1;
    }
    if (marked)
        *marked = mem_calloc(all.n ? all.n : 1, sizeof **marked);
    for (size_t i = 0; i < all.n; i++) {
        if (!topics_filter_allows(&f, all.names[i], o->has[OPT_EXCLUDE_INTERNAL]))
            continue;
        if (marked)
            (*marked)[out->n] = all.marked[i];
        topics_names_add(out, all.names[i]);
    }
    tadmin_topic_list_free(&all);
    topics_filter_free(&f);
    return 0;
}

static int topics_zk_create(zkc_t *zk, const topics_opts_t *o, char *msg, size_t msglen) {
    topics_command_t c;
    int rc = topics_command_init(&c, o, msg, msglen);
    if (rc == 0) {
        const char *warning = tadmin_collision_warning(c.name);
        if (warning)
            printf("%s\n", warning);
        tadmin_create_t req = {
            .topic = c.name,
            .partitions = o->partitions,
            .replication_factor = o->replication_factor,
            .assignment = c.has_assignment ? &c.assignment : NULL,
            .configs = &c.configs,
            .rack_mode = o->has[OPT_DISABLE_RACK_AWARE] ? TADMIN_RACK_DISABLED : TADMIN_RACK_ENFORCED,
            .check_brokers = true,
            .with_topic_id = true,
        };
        kerr_t err = tadmin_create_topic(zk, &req, NULL, msg, msglen);
        if (err == KERR_NONE)
            printf("Created topic %s.\n", c.name);
        else if (!(err == KERR_TOPIC_ALREADY_EXISTS && o->has[OPT_IF_NOT_EXISTS]))
            rc = -1;
    }
    topics_command_free(&c);
    return rc;
}

static int topics_zk_list(zkc_t *zk, const topics_opts_t *o, char *msg, size_t msglen) {
    topics_names_t names;
    bool *marked = NULL;
    if (topics_zk_get(zk, o, &names, &marked, msg, msglen) != 0)
        return -1;
    for (size_t i = 0; i < names.n; i++)
        printf("%s%s\n", names.v[i], marked[i] ? " - marked for deletion" : "");
    free(marked);
    topics_names_free(&names);
    return 0;
}

/* "k=v,k=v" of a topic's overrides (all of them: none is a default). */
static void topics_join_configs(buf_t *b, const zkdata_config_t *c) {
    for (size_t i = 0; i < c->n_entries; i++)
        buf_appendf(b, "%s%s=%s", i ? "," : "", c->entries[i].key, c->entries[i].value);
    buf_append(b, "", 1);
}

static void topics_zk_describe_one(const topics_opts_t *o, const char *name, const tadmin_topic_t *t,
                                   const tadmin_brokers_t *live, topics_leaders_t *leaders) {
    const zkdata_topic_assignment_t *a = &t->assignment;
    if (topics_describe_configs(o) && (!o->has[OPT_TOPICS_WITH_OVERRIDES] || t->configs.n_entries > 0)) {
        buf_t configs = BUF_INIT;
        topics_join_configs(&configs, &t->configs);
        topics_print_summary(name, a->topic_id, a->n_partitions, a->n_partitions ? a->partitions[0].n_replicas : 0,
                             (const char *)configs.data, t->marked_for_deletion);
        buf_free(&configs);
    }
    if (o->has[OPT_TOPICS_WITH_OVERRIDES])
        return;
    int32_t *live_ids = mem_alloc((live->n ? live->n : 1) * sizeof *live_ids);
    for (size_t i = 0; i < live->n; i++)
        live_ids[i] = live->v[i].id;
    for (size_t i = 0; i < a->n_partitions; i++) {
        topics_partition_view_t p = {
            .topic = name,
            .partition = a->partitions[i].partition,
            .leader = t->has_state[i] ? t->states[i].leader : -1,
            .replicas = a->partitions[i].replicas,
            .n_replicas = a->partitions[i].n_replicas,
            .isr = t->states[i].isr,
            .n_isr = t->states[i].n_isr,
            .min_isr = -1,
            .marked_for_deletion = t->marked_for_deletion,
        };
        if (topics_should_print(o, &p, live_ids, live->n)) {
            topics_print_partition(&p);
            if (leaders)
                topics_print_replicas(leaders, &p);
        }
    }
    free(live_ids);
}

static int topics_zk_describe(zkc_t *zk, const topics_opts_t *o, char *msg, size_t msglen) {
    topics_names_t names;
    if (topics_zk_get(zk, o, &names, NULL, msg, msglen) != 0)
        return -1;
    tadmin_brokers_t live = {0};
    topics_leaders_t leaders = {.zk = zk};
    int rc = topics_ensure_exists(o, &names, msg, msglen);
    if (rc == 0 && tadmin_live_brokers(zk, &live, msg, msglen) != KERR_NONE)
        rc = -1;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        tadmin_topic_t t;
        kerr_t err = tadmin_describe_topic(zk, names.v[i], &t, msg, msglen);
        if (err == KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            printf("Topic %s doesn't exist!\n", names.v[i]);
            continue;
        }
        if (err != KERR_NONE) {
            rc = -1;
            break;
        }
        topics_zk_describe_one(o, names.v[i], &t, &live, o->has[OPT_REPLICAS] ? &leaders : NULL);
        tadmin_topic_free(&t);
    }
    if (rc == 0 && leaders.not_samsa[0]) {
        errmsg_set(msg, msglen, "%s", leaders.not_samsa);
        rc = -1;
    }
    topics_leaders_free(&leaders);
    tadmin_brokers_free(&live);
    topics_names_free(&names);
    return rc;
}

static int topics_zk_delete(zkc_t *zk, const topics_opts_t *o, char *msg, size_t msglen) {
    topics_names_t names;
    if (topics_zk_get(zk, o, &names, NULL, msg, msglen) != 0)
        return -1;
    int rc = topics_ensure_exists(o, &names, msg, msglen);
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        if (topic_name_is_internal(names.v[i])) {
            errmsg_set(msg, msglen,
                       "Topic %s is a kafka internal topic and is not allowed to be marked for deletion.",
                       names.v[i]);
            rc = -1;
            break;
        }
        bool already;
        if (tadmin_delete_topic(zk, names.v[i], &already, msg, msglen) != KERR_NONE) {
            rc = -1;
        } else if (already) {
            printf("Topic %s is already marked for deletion.\n", names.v[i]);
        } else {
            printf("Topic %s is marked for deletion.\n", names.v[i]);
            printf("Note: This will have no impact if delete.topic.enable is not set to true.\n");
        }
    }
    topics_names_free(&names);
    return rc;
}

/* --config / --delete-config on --alter: the topic's overrides updated. */
static int topics_zk_alter_configs(zkc_t *zk, const topics_command_t *c, const topics_opts_t *o, const char *topic,
                                   char *msg, size_t msglen) {
    printf("WARNING: Altering topic configuration from this script has been deprecated and may be removed in future "
           "releases.\n");
    printf("         Going forward, please use kafka-configs.sh for this functionality\n");
    zkdata_config_t cur, next;
    if (tadmin_topic_configs(zk, topic, &cur, msg, msglen) != KERR_NONE)
        return -1;
    zkdata_config_init(&next);
    for (size_t i = 0; i < cur.n_entries; i++)
        zkdata_config_set(&next, cur.entries[i].key, cur.entries[i].value);
    for (size_t i = 0; i < c->configs.n_entries; i++)
        zkdata_config_set(&next, c->configs.entries[i].key, c->configs.entries[i].value);
    zkdata_config_t kept;
    zkdata_config_init(&kept);
    for (size_t i = 0; i < next.n_entries; i++) {
        bool removed = false;
        for (size_t k = 0; k < o->n_delete_configs && !removed; k++) {
            char *key = topics_trim_dup(o->delete_configs[k], o->delete_configs[k] + strlen(o->delete_configs[k]));
            removed = strcmp(key, next.entries[i].key) == 0;
            free(key);
        }
        if (!removed)
            zkdata_config_set(&kept, next.entries[i].key, next.entries[i].value);
    }
    int rc = tadmin_change_topic_configs(zk, topic, &kept, msg, msglen) == KERR_NONE ? 0 : -1;
    if (rc == 0)
        printf("Updated config for topic %s.\n", topic);
    zkdata_config_free(&kept);
    zkdata_config_free(&next);
    zkdata_config_free(&cur);
    return rc;
}

/* --partitions on --alter for one topic; --replica-assignment lists every
 * partition, the ones beyond the current count are the new ones. */
static int topics_zk_alter_partitions(zkc_t *zk, const topics_command_t *c, const topics_opts_t *o,
                                      const char *topic, char *msg, size_t msglen) {
    if (topic_name_is_internal(topic)) {
        errmsg_set(msg, msglen, "The number of partitions for the internal topic %s cannot be changed.", topic);
        return -1;
    }
    printf("WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the "
           "messages will be affected\n");
    tadmin_topic_t t;
    kerr_t err = tadmin_describe_topic(zk, topic, &t, msg, msglen);
    if (err == KERR_UNKNOWN_TOPIC_OR_PARTITION || (err == KERR_NONE && t.assignment.n_partitions == 0)) {
        if (err == KERR_NONE)
            tadmin_topic_free(&t);
        errmsg_set(msg, msglen, "The topic %s does not exist", topic);
        return -1;
    }
    if (err != KERR_NONE)
        return -1;
    size_t existing = t.assignment.n_partitions;
    tadmin_topic_free(&t);
    zkdata_topic_assignment_t added;
    zkdata_topic_assignment_init(&added);
    for (size_t i = existing; c->has_assignment && i < c->assignment.n_partitions; i++)
        zkdata_topic_assignment_add(&added, c->assignment.partitions[i].partition, c->assignment.partitions[i].replicas,
                                    c->assignment.partitions[i].n_replicas);
    tadmin_add_partitions_t req = {
        .topic = topic,
        .total = o->partitions,
        .assignment = added.n_partitions ? &added : NULL,
        .rack_mode = o->has[OPT_DISABLE_RACK_AWARE] ? TADMIN_RACK_DISABLED : TADMIN_RACK_ENFORCED,
    };
    int rc = tadmin_add_partitions(zk, &req, NULL, msg, msglen) == KERR_NONE ? 0 : -1;
    if (rc == 0)
        printf("Adding partitions succeeded!\n");
    zkdata_topic_assignment_free(&added);
    return rc;
}

static int topics_zk_alter(zkc_t *zk, const topics_opts_t *o, char *msg, size_t msglen) {
    topics_names_t names;
    if (topics_zk_get(zk, o, &names, NULL, msg, msglen) != 0)
        return -1;
    topics_command_t c;
    int rc = topics_command_init(&c, o, msg, msglen);
    if (rc == 0)
        rc = topics_ensure_exists(o, &names, msg, msglen);
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        if (o->has[OPT_CONFIG] || o->has[OPT_DELETE_CONFIG])
            rc = topics_zk_alter_configs(zk, &c, o, names.v[i], msg, msglen);
        if (rc == 0 && o->has[OPT_PARTITIONS])
            rc = topics_zk_alter_partitions(zk, &c, o, names.v[i], msg, msglen);
    }
    topics_command_free(&c);
    topics_names_free(&names);
    return rc;
}

static int topics_zk_run(const topics_opts_t *o, char *msg, size_t msglen) {
    zkc_config_t cfg = {
        .connect = o->value[OPT_ZOOKEEPER],
        .session_timeout_ms = TOPICS_ZK_SESSION_TIMEOUT_MS,
        .connection_timeout_ms = o->zk_timeout_ms,
    };
    char err[512];
    zkc_t *zk = zkc_open(&cfg, err, sizeof err);
    if (!zk) {
        errmsg_set(msg, msglen, "cannot connect to ZooKeeper: %s", err);
        return -1;
    }
    int rc;
    if (o->has[OPT_CREATE])
        rc = topics_zk_create(zk, o, msg, msglen);
    else if (o->has[OPT_ALTER])
        rc = topics_zk_alter(zk, o, msg, msglen);
    else if (o->has[OPT_LIST])
        rc = topics_zk_list(zk, o, msg, msglen);
    else if (o->has[OPT_DESCRIBE])
        rc = topics_zk_describe(zk, o, msg, msglen);
    else
        rc = topics_zk_delete(zk, o, msg, msglen);
    zkc_close(zk);
    return rc;
}

/* ===== broker (AdminClientTopicService, through librdkafka) ========================================= */

static void topics_rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf; /* failures come back as results */
}

/* What librdkafka's error callback saw (the client's opaque). */
typedef struct topics_rk_state {
    bool all_brokers_down;
    char last_error[256];
} topics_rk_state_t;

static void topics_rk_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    topics_rk_state_t *st = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        st->all_brokers_down = true;
    else
        snprintf(st->last_error, sizeof st->last_error, "%s", reason);
}

typedef struct topics_conf_ctx {
    rd_kafka_conf_t *conf;
} topics_conf_ctx_t;

static int topics_conf_property(void *ctx, const char *key, const char *value, int line, char *err, size_t errlen) {
    topics_conf_ctx_t *c = ctx;
    char rkerr[256];
    (void)line;
    rd_kafka_conf_res_t res = rd_kafka_conf_set(c->conf, key, value, rkerr, sizeof rkerr);
    if (res == RD_KAFKA_CONF_UNKNOWN) {
        fprintf(stderr, "WARNING: ignoring %s: not a librdkafka property\n", key);
        return 0;
    }
    if (res != RD_KAFKA_CONF_OK) {
        errmsg_set(err, errlen, "%s", rkerr);
        return -1;
    }
    return 0;
}

static int topics_load_command_config(rd_kafka_conf_t *conf, const char *path, char *msg, size_t msglen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        errmsg_set(msg, msglen, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf_t text = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&text, chunk, n);
    fclose(f);
    topics_conf_ctx_t ctx = {conf};
    int rc = config_properties_parse((const char *)text.data, text.len, path, topics_conf_property, &ctx, msg, msglen);
    buf_free(&text);
    return rc;
}

static rd_kafka_t *topics_rk_open(const topics_opts_t *o, topics_rk_state_t *st, char *msg, size_t msglen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_error_cb(conf, topics_rk_error);
    char err[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->value[OPT_BOOTSTRAP], err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", TOPICS_PROG, err, sizeof err) != RD_KAFKA_CONF_OK) {
        errmsg_set(msg, msglen, "%s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, topics_rk_log);
    if (o->has[OPT_COMMAND_CONFIG] && topics_load_command_config(conf, o->value[OPT_COMMAND_CONFIG], msg, msglen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        errmsg_set(msg, msglen, "%s", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Metadata for every topic. Asked in short rounds so that a cluster none
 * of whose brokers accepts a connection ("all brokers are down", seen by
 * the error callback between rounds) fails at once instead of after the
 * whole request timeout, which would look like a hang. */
static int topics_rk_metadata(rd_kafka_t *rk, const topics_opts_t *o, const struct rd_kafka_metadata **md,
                              char *msg, size_t msglen) {
    const topics_rk_state_t *st = rd_kafka_opaque(rk);
    int64_t deadline = clock_mono_ms() + TOPICS_ADMIN_TIMEOUT_MS;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, md, TOPICS_METADATA_ROUND_MS);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        rd_kafka_poll(rk, 0); /* runs the error callback */
        if (st->all_brokers_down) {
            errmsg_set(msg, msglen, "cannot get metadata from %s: no broker can be reached%s%s",
                       o->value[OPT_BOOTSTRAP], st->last_error[0] ? ": " : "", st->last_error);
            return -1;
        }
        bool retry = err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT;
        if (!retry || clock_mono_ms() >= deadline) {
            errmsg_set(msg, msglen, "cannot get metadata from %s: %s", o->value[OPT_BOOTSTRAP],
                       rd_kafka_err2str(err));
            return -1;
        }
    }
}

/* getTopics over Metadata (internal topics listed unless excluded). */
static int topics_rk_get(const struct rd_kafka_metadata *md, const topics_opts_t *o, topics_names_t *out, char *msg,
                         size_t msglen) {
    memset(out, 0, sizeof *out);
    topics_filter_t f;
    if (topics_filter_init(&f, o->value[OPT_TOPIC], msg, msglen) != 0)
        return -1;
    for (int i = 0; i < md->topic_cnt; i++) {
        const char *name = md->topics[i].topic;
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        if (topics_filter_allows(&f, name, o->has[OPT_EXCLUDE_INTERNAL]))
            topics_names_add(out, name);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, topics_cmp_names);
    topics_filter_free(&f);
    return 0;
}

static const struct rd_kafka_metadata_topic *topics_rk_find(const struct rd_kafka_metadata *md, const char *name) {
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    return NULL;
}

/* Runs one admin call: waits for its result event on a private queue.
 * Returns the event (caller destroys), or NULL with msg set. */
static rd_kafka_event_t *topics_rk_wait(rd_kafka_queue_t *q, char *msg, size_t msglen) {
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TOPICS_ADMIN_TIMEOUT_MS + 5000);
    if (!ev) {
        errmsg_set(msg, msglen, "timed out waiting for the broker's answer");
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        errmsg_set(msg, msglen, "%s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *topics_rk_options(rd_kafka_t *rk, rd_kafka_admin_op_t op) {
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(opts, TOPICS_ADMIN_TIMEOUT_MS, err, sizeof err);
    if (op != RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS)
        rd_kafka_AdminOptions_set_operation_timeout(opts, TOPICS_ADMIN_TIMEOUT_MS, err, sizeof err);
    return opts;
}

/* The first failed topic result among n, or 0. ignore: an error to pass over. */
static int topics_rk_topic_results(const rd_kafka_topic_result_t **res, size_t n, rd_kafka_resp_err_t ignore,
                                   char *msg, size_t msglen) {
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == ignore)
            continue;
        const char *text = rd_kafka_topic_result_error_string(res[i]);
        errmsg_set(msg, msglen, "%s", text && *text ? text : rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int topics_rk_create(rd_kafka_t *rk, const topics_opts_t *o, char *msg, size_t msglen) {
    if (o->has[OPT_REPLICATION_FACTOR] && (o->replication_factor > 32767 || o->replication_factor < 1)) {
        errmsg_set(msg, msglen, "The replication factor must be between 1 and 32767 inclusive");
        return -1;
    }
    if (o->has[OPT_PARTITIONS] && o->partitions < 1) {
        errmsg_set(msg, msglen, "The partitions must be greater than 0");
        return -1;
    }
    topics_command_t c;
    if (topics_command_init(&c, o, msg, msglen) != 0) {
        topics_command_free(&c);
        return -1;
    }
    const char *warning = tadmin_collision_warning(c.name);
    if (warning)
        printf("%s\n", warning);
    char err[512];
    int parts = c.has_assignment ? -1 : o->has[OPT_PARTITIONS] ? o->partitions : -1;
    int rf = c.has_assignment ? -1 : o->has[OPT_REPLICATION_FACTOR] ? o->replication_factor : -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(c.name, parts, rf, err, sizeof err);
    int rc = nt ? 0 : -1;
    if (!nt)
        errmsg_set(msg, msglen, "%s", err);
    for (size_t i = 0; rc == 0 && c.has_assignment && i < c.assignment.n_partitions; i++) {
        zkdata_partition_assignment_t *p = &c.assignment.partitions[i];
        if (rd_kafka_NewTopic_set_replica_assignment(nt, p->partition, p->replicas, p->n_replicas, err, sizeof err)) {
            errmsg_set(msg, msglen, "%s", err);
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < c.configs.n_entries; i++)
        rd_kafka_NewTopic_set_config(nt, c.configs.entries[i].key, c.configs.entries[i].value);
    if (rc == 0) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opts = topics_rk_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
        rd_kafka_event_t *ev = topics_rk_wait(q, msg, msglen);
        rc = ev ? 0 : -1;
        if (ev) {
            size_t n;
            const rd_kafka_topic_result_t **res =
                rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
            rd_kafka_resp_err_t ignore =
                o->has[OPT_IF_NOT_EXISTS] ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS : RD_KAFKA_RESP_ERR_NO_ERROR;
            rc = topics_rk_topic_results(res, n, ignore, msg, msglen);
            if (rc == 0 && (n == 0 || rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR))
                printf("Created topic %s.\n", c.name);
            rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
    }
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    topics_command_free(&c);
    return rc;
}

static int topics_rk_list(rd_kafka_t *rk, const topics_opts_t *o, char *msg, size_t msglen) {
    const struct rd_kafka_metadata *md;
    if (topics_rk_metadata(rk, o, &md, msg, msglen) != 0)
        return -1;
    topics_names_t names;
    int rc = topics_rk_get(md, o, &names, msg, msglen);
    if (rc == 0) {
        /* println(topics.mkString("\n")): one line even when empty */
        for (size_t i = 0; i < names.n; i++)
            printf("%s%s", i ? "\n" : "", names.v[i]);
        printf("\n");
    }
    topics_names_free(&names);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* A topic's configs from DescribeConfigs. */
typedef struct topics_rk_config {
    buf_t overrides; /* "k=v,k=v" of the non-default entries, NUL-terminated */
    bool has_overrides;
    int32_t min_isr; /* -1: unknown */
} topics_rk_config_t;

static void topics_rk_config_entries(const rd_kafka_ConfigResource_t *res, topics_rk_config_t *out) {
    size_t n;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        const char *name = rd_kafka_ConfigEntry_name(entries[i]);
        const char *value = rd_kafka_ConfigEntry_value(entries[i]);
        if (strcmp(name, "min.insync.replicas") == 0 && value)
            out->min_isr = (int32_t)strtol(value, NULL, 10);
        if (rd_kafka_ConfigEntry_is_default(entries[i]))
            continue;
        buf_appendf(&out->overrides, "%s%s=%s", out->has_overrides ? "," : "", name, value ? value : "null");
        out->has_overrides = true;
    }
}

/* DescribeConfigs for one topic, asked of broker_id (the broker that just
 * answered Metadata; -1: librdkafka's choice). Kafka's AdminClient sends a
 * topic's DescribeConfigs to any broker; librdkafka would wait for the
 * controller, and after a controller dies the brokers name the dead one
 * until the new controller's UpdateMetadata, so it would wait out the whole
 * request timeout. A broker that cannot answer leaves the configs empty
 * (with a warning) so the partitions are still shown. */
static void topics_rk_describe_configs(rd_kafka_t *rk, int32_t broker_id, const char *topic,
                                       topics_rk_config_t *out) {
    memset(out, 0, sizeof *out);
    out->min_isr = -1;
    char msg[512];
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = topics_rk_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    if (broker_id >= 0 && rd_kafka_AdminOptions_set_broker(opts, broker_id, msg, sizeof msg) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "WARNING: %s\n", msg);
    rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
    rd_kafka_event_t *ev = topics_rk_wait(q, msg, sizeof msg);
    if (ev) {
        size_t n;
        const rd_kafka_ConfigResource_t **rs =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (n > 0 && rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
            topics_rk_config_entries(rs[0], out);
        else if (n > 0)
            fprintf(stderr, "WARNING: cannot describe the configs of %s: %s\n", topic,
                    rd_kafka_ConfigResource_error_string(rs[0]));
        rd_kafka_event_destroy(ev);
    } else {
        fprintf(stderr, "WARNING: cannot describe the configs of %s: %s\n", topic, msg);
    }
    buf_append(&out->overrides, "", 1);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
}

static int topics_cmp_md_partition(const void *a, const void *b) {
    const rd_kafka_metadata_partition_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void topics_rk_describe_one(const topics_opts_t *o, const struct rd_kafka_metadata *md,
                                   const struct rd_kafka_metadata_topic *t, const topics_rk_config_t *cfg,
                                   const int32_t *live, size_t n_live, topics_leaders_t *leaders) {
    rd_kafka_metadata_partition_t *parts = mem_alloc((t->partition_cnt ? (size_t)t->partition_cnt : 1) * sizeof *parts);
    if (t->partition_cnt > 0) {
        memcpy(parts, t->partitions, (size_t)t->partition_cnt * sizeof *parts);
        qsort(parts, (size_t)t->partition_cnt, sizeof *parts, topics_cmp_md_partition);
    }
    if (topics_describe_configs(o) && (!o->has[OPT_TOPICS_WITH_OVERRIDES] || cfg->has_overrides) &&
        t->partition_cnt > 0)
        topics_print_summary(t->topic, NULL, (size_t)t->partition_cnt, (size_t)t->partitions[0].replica_cnt,
                             (const char *)cfg->overrides.data, false);
    for (int i = 0; i < t->partition_cnt && !o->has[OPT_TOPICS_WITH_OVERRIDES]; i++) {
        /* a leader that is not among the brokers is Kafka's null leader */
        int32_t leader = parts[i].leader;
        bool known = false;
        for (int b = 0; b < md->broker_cnt && !known; b++)
            known = md->brokers[b].id == leader;
        topics_partition_view_t p = {
            .topic = t->topic,
            .partition = parts[i].id,
            .leader = known ? leader : -1,
            .replicas = parts[i].replicas,
            .n_replicas = (size_t)parts[i].replica_cnt,
            .isr = parts[i].isrs,
            .n_isr = (size_t)parts[i].isr_cnt,
            .min_isr = cfg->min_isr,
        };
        if (topics_should_print(o, &p, live, n_live)) {
            topics_print_partition(&p);
            if (leaders)
                topics_print_replicas(leaders, &p);
        }
    }
    free(parts);
}

static int topics_rk_describe(rd_kafka_t *rk, const topics_opts_t *o, char *msg, size_t msglen) {
    const struct rd_kafka_metadata *md;
    if (topics_rk_metadata(rk, o, &md, msg, msglen) != 0)
        return -1;
    topics_names_t names;
    int rc = topics_rk_get(md, o, &names, msg, msglen);
    if (rc == 0)
        rc = topics_ensure_exists(o, &names, msg, msglen);
    int32_t *live = mem_alloc((md->broker_cnt ? (size_t)md->broker_cnt : 1) * sizeof *live);
    topics_leaders_t leaders = {0};
    for (int i = 0; i < md->broker_cnt; i++) {
        live[i] = md->brokers[i].id;
        topics_leaders_set_endpoint(&leaders, md->brokers[i].id, md->brokers[i].host, md->brokers[i].port);
    }
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        const struct rd_kafka_metadata_topic *t = topics_rk_find(md, names.v[i]);
        if (!t)
            continue;
        if (t->err && t->partition_cnt == 0) {
            errmsg_set(msg, msglen, "%s: %s", t->topic, rd_kafka_err2str(t->err));
            rc = -1;
            break;
        }
        topics_rk_config_t cfg;
        topics_rk_describe_configs(rk, md->orig_broker_id, t->topic, &cfg);
        topics_rk_describe_one(o, md, t, &cfg, live, (size_t)md->broker_cnt, o->has[OPT_REPLICAS] ? &leaders : NULL);
        buf_free(&cfg.overrides);
    }
    if (rc == 0 && leaders.not_samsa[0]) {
        errmsg_set(msg, msglen, "%s", leaders.not_samsa);
        rc = -1;
    }
    topics_leaders_free(&leaders);
    free(live);
    topics_names_free(&names);
    rd_kafka_metadata_destroy(md);
    return rc;
}

static int topics_rk_delete(rd_kafka_t *rk, const topics_opts_t *o, char *msg, size_t msglen) {
    const struct rd_kafka_metadata *md;
    if (topics_rk_metadata(rk, o, &md, msg, msglen) != 0)
        return -1;
    topics_names_t names;
    int rc = topics_rk_get(md, o, &names, msg, msglen);
    rd_kafka_metadata_destroy(md);
    if (rc == 0)
        rc = topics_ensure_exists(o, &names, msg, msglen);
    if (rc == 0 && names.n > 0) {
        rd_kafka_DeleteTopic_t **dt = mem_alloc(names.n * sizeof *dt);
        for (size_t i = 0; i < names.n; i++)
            dt[i] = rd_kafka_DeleteTopic_new(names.v[i]);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opts = topics_rk_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
        rd_kafka_DeleteTopics(rk, dt, names.n, opts, q);
        rd_kafka_event_t *ev = topics_rk_wait(q, msg, msglen);
        rc = ev ? 0 : -1;
        if (ev) {
            size_t n;
            const rd_kafka_topic_result_t **res =
                rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
            rc = topics_rk_topic_results(res, n, RD_KAFKA_RESP_ERR_NO_ERROR, msg, msglen);
            rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
        rd_kafka_DeleteTopic_destroy_array(dt, names.n);
        free(dt);
    }
    topics_names_free(&names);
    return rc;
}

/* One NewPartitions: total count, and the assignment entries beyond the
 * topic's current partitions (TopicCommand drops the existing ones). */
static rd_kafka_NewPartitions_t *topics_rk_new_partitions(const topics_opts_t *o, const topics_command_t *c,
                                                          const struct rd_kafka_metadata_topic *t, char *msg,
                                                          size_t msglen) {
    char err[512];
    if (o->partitions < 0) {
        errmsg_set(msg, msglen, "The partitions must be greater than 0");
        return NULL;
    }
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(t->topic, (size_t)o->partitions, err, sizeof err);
    if (!np) {
        errmsg_set(msg, msglen, "%s", err);
        return NULL;
    }
    size_t start = (size_t)t->partition_cnt;
    for (size_t i = start; c->has_assignment && i < c->assignment.n_partitions; i++) {
        const zkdata_partition_assignment_t *p = &c->assignment.partitions[i];
        if (rd_kafka_NewPartitions_set_replica_assignment(np, (int32_t)(i - start), p->replicas, p->n_replicas, err,
                                                          sizeof err)) {
            errmsg_set(msg, msglen, "%s", err);
            rd_kafka_NewPartitions_destroy(np);
            return NULL;
        }
    }
    return np;
}

static int topics_rk_alter(rd_kafka_t *rk, const topics_opts_t *o, char *msg, size_t msglen) {
    const struct rd_kafka_metadata *md;
    if (topics_rk_metadata(rk, o, &md, msg, msglen) != 0)
        return -1;
    topics_names_t names;
    topics_command_t c;
    int rc = topics_rk_get(md, o, &names, msg, msglen);
    memset(&c, 0, sizeof c);
    zkdata_topic_assignment_init(&c.assignment);
    zkdata_config_init(&c.configs);
    if (rc == 0)
        rc = topics_command_init(&c, o, msg, msglen);
    if (rc == 0)
        rc = topics_ensure_exists(o, &names, msg, msglen);
    rd_kafka_NewPartitions_t **nps = mem_calloc(names.n ? names.n : 1, sizeof *nps);
    size_t n = 0;
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        const struct rd_kafka_metadata_topic *t = topics_rk_find(md, names.v[i]);
        if (t && !(nps[n++] = topics_rk_new_partitions(o, &c, t, msg, msglen)))
            rc = -1;
    }
    if (rc == 0 && n > 0) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opts = topics_rk_options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
        rd_kafka_CreatePartitions(rk, nps, n, opts, q);
        rd_kafka_event_t *ev = topics_rk_wait(q, msg, msglen);
        rc = ev ? 0 : -1;
        if (ev) {
            size_t nr;
            const rd_kafka_topic_result_t **res =
                rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &nr);
            rc = topics_rk_topic_results(res, nr, RD_KAFKA_RESP_ERR_NO_ERROR, msg, msglen);
            rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
    }
    for (size_t i = 0; i < n; i++)
        if (nps[i])
            rd_kafka_NewPartitions_destroy(nps[i]);
    free(nps);
    topics_command_free(&c);
    topics_names_free(&names);
    rd_kafka_metadata_destroy(md);
    return rc;
}

static int topics_rk_run(const topics_opts_t *o, char *msg, size_t msglen) {
    topics_rk_state_t st = {0};
    rd_kafka_t *rk = topics_rk_open(o, &st, msg, msglen);
    if (!rk)
        return -1;
    int rc;
    if (o->has[OPT_CREATE]) {
        /* the other actions start with Metadata; creating asks for it too,
         * so that an unreachable cluster fails fast there as well */
        const struct rd_kafka_metadata *md;
        rc = topics_rk_metadata(rk, o, &md, msg, msglen);
        if (rc == 0) {
            rd_kafka_metadata_destroy(md);
            rc = topics_rk_create(rk, o, msg, msglen);
        }
    } else if (o->has[OPT_ALTER])
        rc = topics_rk_alter(rk, o, msg, msglen);
    else if (o->has[OPT_LIST])
        rc = topics_rk_list(rk, o, msg, msglen);
    else if (o->has[OPT_DESCRIBE])
        rc = topics_rk_describe(rk, o, msg, msglen);
    else
        rc = topics_rk_delete(rk, o, msg, msglen);
    rd_kafka_destroy(rk);
    return rc;
}

/* ===== main ============================================================================================ */

int main(int argc, char **argv) {
    /* zkc logs each session at INFO and ZooKeeper's own complaints at WARN;
     * the tool's output is its answer and one error line. */
    logger_set_level(LOGGER_ERROR);
    topics_opts_t o;
    int status = topics_parse_args(argc, argv, &o);
    if (status >= 0) {
        topics_opts_free(&o);
        return status;
    }
    char msg[TOPICS_MSG_MAX] = "";
    int rc = o.has[OPT_ZOOKEEPER] ? topics_zk_run(&o, msg, sizeof msg) : topics_rk_run(&o, msg, sizeof msg);
    topics_opts_free(&o);
    fflush(stdout);
    if (rc != 0) {
        fprintf(stderr, "Error while executing topic command : %s\n", msg);
        return 1;
    }
    if (ferror(stdout)) {
        fprintf(stderr, TOPICS_PROG ": error writing output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
