/*
 * samsa-consumer-groups — samsa's kafka-consumer-groups.sh (Kafka 2.8's
 * ConsumerGroupCommand), on librdkafka's admin API.
 *
 *   samsa-consumer-groups --bootstrap-server HOST:PORT ACTION [options]
 *
 * Actions, one per run: --list [--state [S,S]], --describe (--group G ... |
 * --all-groups) [--offsets | --members [--verbose] | --state],
 * --reset-offsets (--group G ... | --all-groups) SCENARIO (--topic
 * T[:P,P] ... | --all-topics) [--dry-run | --execute] [--export], --delete
 * (--group G ... | --all-groups), --delete-offsets --group G --topic T ....
 *
 * Where the numbers come from, as Kafka's tool takes them:
 *  - groups and their state, members and assignments: ListGroups and
 *    DescribeGroups (rd_kafka_ListConsumerGroups / _DescribeConsumerGroups);
 *  - committed offsets: OffsetFetch for every partition of a group
 *    (rd_kafka_ListConsumerGroupOffsets with no partition list);
 *  - log start and log end offsets: ListOffsets earliest / latest through
 *    rd_kafka_query_watermark_offsets (the high watermark, which is what a
 *    read_uncommitted ListOffsets latest answers, so LAG = LOG-END-OFFSET -
 *    CURRENT-OFFSET as Kafka prints it);
 *  - offsets by time (--to-datetime, --by-duration): ListOffsets by
 *    timestamp (rd_kafka_offsets_for_times), the log end where no record is
 *    that late;
 *  - changes: OffsetCommit (rd_kafka_AlterConsumerGroupOffsets),
 *    DeleteGroups, OffsetDelete.
 * Partition lists are librdkafka's rd_kafka_topic_partition_list_t
 * throughout: each function that returns one hands it to its caller.
 *
 * Output follows ConsumerGroupCommand 2.8 column for column ("-" where a
 * value is missing), with its messages on the same streams. Rows Kafka
 * prints in hash-map order (partitions without an active member, reset
 * plans) are sorted by topic and partition here.
 *
 * Exit status: 0 on success; 1 on a usage error (the message, then the
 * help, on stderr, as Kafka's printUsageAndDie) or when the command failed
 * ("Error: ..." on stdout, as Kafka prints it; Kafka itself exits 0 then).
 */
#include "rdkafka_tool.h"

#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CG_EXIT_FAILED 1
#define CG_DEFAULT_TIMEOUT_MS 5000
/* "-": Kafka's MISSING_COLUMN_VALUE. */
#define CG_MISSING "-"

#define CG_USAGE                                                                                                       \
    "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset "  \
    "consumer group offsets."

/* --- options ------------------------------------------------------------------------- */

/* In joptsimple's help order (alphabetical). */
typedef enum cg_opt {
    OPT_ALL_GROUPS,
    OPT_ALL_TOPICS,
    OPT_BOOTSTRAP,
    OPT_BY_DURATION,
    OPT_COMMAND_CONFIG,
    OPT_DELETE,
    OPT_DELETE_OFFSETS,
    OPT_DESCRIBE,
    OPT_DRY_RUN,
    OPT_EXECUTE,
    OPT_EXPORT,
    OPT_FROM_FILE,
    OPT_GROUP,
    OPT_HELP,
    OPT_LIST,
    OPT_MEMBERS,
    OPT_OFFSETS,
    OPT_RESET_OFFSETS,
    OPT_SHIFT_BY,
    OPT_STATE,
    OPT_TIMEOUT,
    OPT_TO_CURRENT,
    OPT_TO_DATETIME,
    OPT_TO_EARLIEST,
    OPT_TO_LATEST,
    OPT_TO_OFFSET,
    OPT_TOPIC,
    OPT_VERBOSE,
    OPT_VERSION,
    OPT__COUNT
} cg_opt_t;

static const rdtool_optdef_t cg_optdefs[OPT__COUNT] = {
    [OPT_ALL_GROUPS] = {"all-groups", RDTOOL_FLAG, NULL, "Apply to all consumer groups."},
    [OPT_ALL_TOPICS] = {"all-topics", RDTOOL_FLAG, NULL,
                        "Consider all topics assigned to a group in the `reset-offsets` process."},
    [OPT_BOOTSTRAP] = {"bootstrap-server", RDTOOL_ARG, "server to connect to",
                       "REQUIRED: The server(s) to connect to."},
    [OPT_BY_DURATION] = {"by-duration", RDTOOL_ARG, "duration",
                         "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'"},
    [OPT_COMMAND_CONFIG] = {"command-config", RDTOOL_ARG, "command config property file",
                            "Property file containing configs to be passed to Admin Client and Consumer."},
    [OPT_DELETE] = {"delete", RDTOOL_FLAG, NULL,
                    "Pass in groups to delete topic partition offsets and ownership information over the entire "
                    "consumer group. For instance --group g1 --group g2"},
    [OPT_DELETE_OFFSETS] = {"delete-offsets", RDTOOL_FLAG, NULL,
                            "Delete offsets of consumer group. Supports one consumer group at the time, and "
                            "multiple topics."},
    [OPT_DESCRIBE] = {"describe", RDTOOL_FLAG, NULL,
                      "Describe consumer group and list offset lag (number of messages not yet processed) related "
                      "to given group."},
    [OPT_DRY_RUN] = {"dry-run", RDTOOL_FLAG, NULL,
                     "Only show results without executing changes on Consumer Groups. Supported operations: "
                     "reset-offsets."},
    [OPT_EXECUTE] = {"execute", RDTOOL_FLAG, NULL, "Execute operation. Supported operations: reset-offsets."},
    [OPT_EXPORT] = {"export", RDTOOL_FLAG, NULL,
                    "Export operation execution to a CSV file. Supported operations: reset-offsets."},
    [OPT_FROM_FILE] = {"from-file", RDTOOL_ARG, "path to CSV file", "Reset offsets to values defined in CSV file."},
    [OPT_GROUP] = {"group", RDTOOL_ARG, "consumer group", "The consumer group we wish to act on."},
    [OPT_HELP] = {"help", RDTOOL_FLAG, NULL, "Print usage information."},
    [OPT_LIST] = {"list", RDTOOL_FLAG, NULL, "List all consumer groups."},
    [OPT_MEMBERS] = {"members", RDTOOL_FLAG, NULL,
                     "Describe members of the group. This option may be used with '--describe' and "
                     "'--bootstrap-server' options only. Example: --bootstrap-server localhost:9092 --describe "
                     "--group group1 --members"},
    [OPT_OFFSETS] = {"offsets", RDTOOL_FLAG, NULL,
                     "Describe the group and list all topic partitions in the group along with their offset lag. "
                     "This is the default sub-action of and may be used with '--describe' and '--bootstrap-server' "
                     "options only. Example: --bootstrap-server localhost:9092 --describe --group group1 --offsets"},
    [OPT_RESET_OFFSETS] = {"reset-offsets", RDTOOL_FLAG, NULL,
                           "Reset offsets of consumer group. Supports one consumer group at the time, and instances "
                           "should be inactive. Has 2 execution options: --dry-run (the default) to plan which "
                           "offsets to reset, and --execute to update the offsets. Additionally, the --export "
                           "option is used to export the results to a CSV format. You must choose one of the "
                           "following reset specifications: --to-datetime, --by-duration, --to-earliest, "
                           "--to-latest, --shift-by, --from-file, --to-current, --to-offset. To define the scope "
                           "use --all-topics or --topic. One scope must be specified unless you use "
                           "'--from-file'."},
    [OPT_SHIFT_BY] = {"shift-by", RDTOOL_ARG, "number-of-offsets",
                      "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative."},
    [OPT_STATE] = {"state", RDTOOL_OPTIONAL_ARG, "String",
                   "When specified with '--describe', includes the state of the group. Example: "
                   "--bootstrap-server localhost:9092 --describe --group group1 --state When specified with "
                   "'--list', it displays the state of all groups. It can also be used to list groups with "
                   "specific states. Example: --bootstrap-server localhost:9092 --list --state stable,empty This "
                   "option may be used with '--describe', '--list' and '--bootstrap-server' options only."},
    [OPT_TIMEOUT] = {"timeout", RDTOOL_ARG, "timeout (ms)",
                     "The timeout that can be set for some use cases. For example, it can be used when describing "
                     "the group to specify the maximum amount of time in milliseconds to wait before the group "
                     "stabilizes (when the group is just created, or is going through some changes). (default: "
                     "5000)"},
    [OPT_TO_CURRENT] = {"to-current", RDTOOL_FLAG, NULL, "Reset offsets to current offset."},
    [OPT_TO_DATETIME] = {"to-datetime", RDTOOL_ARG, "datetime",
                         "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'"},
    [OPT_TO_EARLIEST] = {"to-earliest", RDTOOL_FLAG, NULL, "Reset offsets to earliest offset."},
    [OPT_TO_LATEST] = {"to-latest", RDTOOL_FLAG, NULL, "Reset offsets to latest offset."},
    [OPT_TO_OFFSET] = {"to-offset", RDTOOL_ARG, "offset", "Reset offsets to a specific offset."},
    [OPT_TOPIC] = {"topic", RDTOOL_ARG, "topic",
                   "The topic whose consumer group information should be deleted or topic whose should be "
                   "included in the reset offset process. In `reset-offsets` case, partitions can be specified "
                   "using this format: `topic1:0,1,2`, where 0,1,2 are the partition to be included in the "
                   "process. Reset-offsets also supports multiple topic inputs."},
    [OPT_VERBOSE] = {"verbose", RDTOOL_FLAG, NULL,
                     "Provide additional information, if any, when describing the group. This option may be used "
                     "with '--offsets'/'--members'/'--state' and '--bootstrap-server' options only. Example: "
                     "--bootstrap-server localhost:9092 --describe --group group1 --members --verbose"},
    [OPT_VERSION] = {"version", RDTOOL_FLAG, NULL, "Display Kafka version."},
};

/* The reset scenarios, each exclusive of the others (Kafka checks them in
 * this order). */
static const cg_opt_t cg_scenarios[] = {OPT_TO_OFFSET, OPT_TO_DATETIME, OPT_BY_DURATION, OPT_TO_EARLIEST,
                                        OPT_TO_LATEST, OPT_TO_CURRENT,  OPT_SHIFT_BY,    OPT_FROM_FILE};
#define CG_N_SCENARIOS (sizeof cg_scenarios / sizeof cg_scenarios[0])

/* Kafka's printUsageAndDie: the message and the help on stderr, exit 1. */
static int cg_usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cg_usage_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    rdtool_print_help(stderr, CG_USAGE, cg_optdefs, OPT__COUNT);
    return RDTOOL_EXIT_USAGE;
}

/* Set once an "Error:" line was printed: Kafka's command goes on (other
 * groups, the table) but the exit status will be CG_EXIT_FAILED. */
static bool cg_error_printed;

/* Kafka's printError: "\nError: ..." on stdout. Returns CG_EXIT_FAILED. */
static int cg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cg_error(const char *fmt, ...) {
    cg_error_printed = true;
    va_list ap;
    va_start(ap, fmt);
    printf("\nError: ");
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return CG_EXIT_FAILED;
}

/* What run() catches: "Executing consumer group command failed due to ...". */
static int cg_failed(const char *reason) {
    return cg_error("Executing consumer group command failed due to %s", reason);
}

/* joptsimple's "[name]" for an option in messages. */
#define CG_NAME(id) cg_optdefs[id].name

static bool cg_has(const rdtool_opts_t *o, cg_opt_t id) {
    return rdtool_has(o, (int)id);
}

/* ConsumerGroupCommandOptions.checkArgs and main's action count, in
 * Kafka's order. Returns 0 or the usage exit status. */
static int cg_check_args(const rdtool_opts_t *o) {
    if (!cg_has(o, OPT_BOOTSTRAP))
        return cg_usage_die("Missing required argument \"[%s]\"", CG_NAME(OPT_BOOTSTRAP));
    bool group_scope = cg_has(o, OPT_GROUP) || cg_has(o, OPT_ALL_GROUPS);
    /* joptsimple's availableIf */
    static const struct {
        cg_opt_t opt;
        cg_opt_t if1, if2;
    } available_if[] = {
        {OPT_MEMBERS, OPT_DESCRIBE, OPT_DESCRIBE},
        {OPT_VERBOSE, OPT_DESCRIBE, OPT_DESCRIBE},
        {OPT_OFFSETS, OPT_DESCRIBE, OPT_DESCRIBE},
        {OPT_STATE, OPT_DESCRIBE, OPT_LIST},
    };
    for (size_t i = 0; i < sizeof available_if / sizeof available_if[0]; i++)
        if (cg_has(o, available_if[i].opt) && !cg_has(o, available_if[i].if1) && !cg_has(o, available_if[i].if2))
            return cg_usage_die("Option(s) [%s] are unavailable given other options on the command line",
                                CG_NAME(available_if[i].opt));
    if (cg_has(o, OPT_DESCRIBE)) {
        if (!group_scope)
            return cg_usage_die("Option [describe] takes one of these options: [group], [all-groups]");
        int sub = cg_has(o, OPT_MEMBERS) + cg_has(o, OPT_OFFSETS) + cg_has(o, OPT_STATE);
        if (sub > 1)
            return cg_usage_die("Option [describe] takes at most one of these options: [members], [offsets], [state]");
        if (cg_has(o, OPT_STATE) && rdtool_value(o, OPT_STATE))
            return cg_usage_die("Option [describe] does not take a value for [state]");
    }
    if (cg_has(o, OPT_DELETE)) {
        if (!group_scope)
            return cg_usage_die("Option [delete] takes one of these options: [group], [all-groups]");
        if (cg_has(o, OPT_TOPIC))
            return cg_usage_die("The consumer does not support topic-specific offset deletion from a consumer group.");
    }
    if (cg_has(o, OPT_DELETE_OFFSETS) && (!cg_has(o, OPT_GROUP) || !cg_has(o, OPT_TOPIC)))
        return cg_usage_die("Option [delete-offsets] takes the following options: [group], [topic]");
    if (cg_has(o, OPT_RESET_OFFSETS)) {
        if (cg_has(o, OPT_DRY_RUN) && cg_has(o, OPT_EXECUTE))
            return cg_usage_die("Option [reset-offsets] only accepts one of [execute] and [dry-run]");
        if (!cg_has(o, OPT_DRY_RUN) && !cg_has(o, OPT_EXECUTE))
            fprintf(stderr, "WARN: No action will be performed as the --execute option is missing.In a future major "
                            "release, the default behavior of this command will be to prompt the user before "
                            "executing the reset rather than doing a dry run. You should add the --dry-run option "
                            "explicitly if you are scripting this command and want to keep the current default "
                            "behavior without prompting.\n");
        if (!group_scope)
            return cg_usage_die("Option [reset-offsets] takes one of these options: [group], [all-groups]");
        for (size_t i = 0; i < CG_N_SCENARIOS; i++)
            for (size_t j = 0; j < CG_N_SCENARIOS; j++)
                if (i != j && cg_has(o, cg_scenarios[i]) && cg_has(o, cg_scenarios[j]))
                    return cg_usage_die("Option \"[%s]\" can't be used with option \"[%s]\"", CG_NAME(cg_scenarios[i]),
                                        CG_NAME(cg_scenarios[j]));
    }
    if (cg_has(o, OPT_GROUP) && cg_has(o, OPT_ALL_GROUPS))
        return cg_usage_die("Option \"[group]\" can't be used with option \"[all-groups]\"");
    if (cg_has(o, OPT_GROUP) && cg_has(o, OPT_LIST))
        return cg_usage_die("Option \"[group]\" can't be used with option \"[list]\"");
    if (cg_has(o, OPT_TOPIC) && (cg_has(o, OPT_LIST) || cg_has(o, OPT_DESCRIBE)))
        return cg_usage_die("Option \"[topic]\" can't be used with option \"[%s]\"",
                            cg_has(o, OPT_LIST) ? "list" : "describe");
    int actions = cg_has(o, OPT_LIST) + cg_has(o, OPT_DESCRIBE) + cg_has(o, OPT_DELETE) + cg_has(o, OPT_RESET_OFFSETS) +
                  cg_has(o, OPT_DELETE_OFFSETS);
    if (actions != 1)
        return cg_usage_die("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, "
                            "--delete-offsets");
    return 0;
}

/* --- Kafka's error wording ----------------------------------------------------------------- */

/* Kafka's exception and default message for the errors these requests
 * answer; librdkafka's text for the rest. */
static const struct cg_kafka_error {
    rd_kafka_resp_err_t err;
    const char *exception;
    const char *message;
} cg_kafka_errors[] = {
    {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "UnknownTopicOrPartitionException",
     "This server does not host this topic-partition."},
    {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, "CoordinatorLoadInProgressException",
     "The coordinator is loading and hence can't process requests."},
    {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, "CoordinatorNotAvailableException",
     "The coordinator is not available."},
    {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, "NotCoordinatorException", "This is not the correct coordinator."},
    {RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, "IllegalGenerationException",
     "Specified group generation id is not valid."},
    {RD_KAFKA_RESP_ERR_INVALID_GROUP_ID, "InvalidGroupIdException", "The configured groupId is invalid."},
    {RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, "UnknownMemberIdException", "The coordinator is not aware of this member."},
    {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, "RebalanceInProgressException",
     "The group is rebalancing, so a rejoin is needed."},
    {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, "GroupAuthorizationException", "Group authorization failed."},
    {RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP, "GroupNotEmptyException", "The group is not empty."},
    {RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "GroupIdNotFoundException", "The group id does not exist."},
    {RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC, "GroupSubscribedToTopicException",
     "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it."},
};

static const struct cg_kafka_error *cg_find_error(rd_kafka_resp_err_t err) {
    for (size_t i = 0; i < sizeof cg_kafka_errors / sizeof cg_kafka_errors[0]; i++)
        if (cg_kafka_errors[i].err == err)
            return &cg_kafka_errors[i];
    return NULL;
}

static const char *cg_err_message(rd_kafka_resp_err_t err) {
    const struct cg_kafka_error *e = cg_find_error(err);
    return e ? e->message : rd_kafka_err2str(err);
}

/* Java's Throwable.toString of the error's exception. */
static void cg_err_exception(rd_kafka_resp_err_t err, char *out, size_t outlen) {
    const struct cg_kafka_error *e = cg_find_error(err);
    if (e)
        snprintf(out, outlen, "org.apache.kafka.common.errors.%s: %s", e->exception, e->message);
    else
        snprintf(out, outlen, "org.apache.kafka.common.KafkaException: %s", rd_kafka_err2str(err));
}

/* Parses a decimal of [min, max] filling the whole text (Java's
 * Integer/Long.parseInt). */
static bool cg_parse_int(const char *text, int64_t min, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || isspace((unsigned char)*text) || *end || errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* --- the client ---------------------------------------------------------------------------- */

typedef struct cg_ctx {
    const rdtool_opts_t *o;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the admin results */
    int timeout_ms;
} cg_ctx_t;

static void cg_rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf; /* failures come back as results */
}

static int cg_open(cg_ctx_t *c, const rdtool_opts_t *o) {
    int64_t timeout = CG_DEFAULT_TIMEOUT_MS;
    if (cg_has(o, OPT_TIMEOUT) && !cg_parse_int(rdtool_value(o, OPT_TIMEOUT), 1, INT32_MAX, &timeout))
        return cg_usage_die("Cannot parse argument '%s' of option timeout", rdtool_value(o, OPT_TIMEOUT));
    int rc;
    *c = (cg_ctx_t){.o = o, .timeout_ms = (int)timeout};
    rdtool_props_t props = {0};
    /* Kafka's describeTopics never creates a topic; librdkafka's producer
     * would ask Metadata to */
    rdtool_props_set(&props, "allow.auto.create.topics", "false");
    rc = rdtool_props_load_opt(&props, o, OPT_COMMAND_CONFIG);
    rdtool_props_set(&props, "bootstrap.servers", rdtool_value(o, OPT_BOOTSTRAP));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, cg_rk_log);
    if (!rc)
        rc = rdtool_conf_set_all(conf, &props);
    rdtool_props_free(&props);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return CG_EXIT_FAILED;
    }
    c->rk = rdtool_new(RD_KAFKA_PRODUCER, conf);
    if (!c->rk)
        return CG_EXIT_FAILED;
    c->queue = rd_kafka_queue_new(c->rk);
    return 0;
}

static void cg_close(cg_ctx_t *c) {
    if (c->queue)
        rd_kafka_queue_destroy(c->queue);
    if (c->rk)
        rd_kafka_destroy(c->rk);
}

static rd_kafka_AdminOptions_t *cg_admin_options(const cg_ctx_t *c, rd_kafka_admin_op_t op) {
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(c->rk, op);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(opts, c->timeout_ms, err, sizeof err);
    return opts;
}

/* The result of the admin call just made (the caller destroys it), or
 * NULL after printing Kafka's failure line. A broker's error code for the
 * whole request comes back in the event when keep_broker_error (librdkafka
 * fails a per-group request on the group's top-level error). */
static rd_kafka_event_t *cg_admin_wait_for(cg_ctx_t *c, rd_kafka_AdminOptions_t *opts, bool keep_broker_error) {
    /* librdkafka answers with a timeout error itself; the extra second only
     * guards against a lost event. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(c->queue, c->timeout_ms + 1000);
    rd_kafka_AdminOptions_destroy(opts);
    if (!ev) {
        cg_failed("Timed out waiting for a node assignment.");
        return NULL;
    }
    if (rd_kafka_event_error(ev) > 0 && keep_broker_error)
        return ev;
    if (rd_kafka_event_error(ev)) {
        cg_failed(rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_event_t *cg_admin_wait(cg_ctx_t *c, rd_kafka_AdminOptions_t *opts) {
    return cg_admin_wait_for(c, opts, false);
}

/* ListGroups: the consumer groups (sorted by id) and their states. The
 * strings live as long as *ev. Returns 0 or CG_EXIT_FAILED. */
typedef struct cg_listing {
    const char *group;
    rd_kafka_consumer_group_state_t state;
} cg_listing_t;

static int cg_cmp_listing(const void *a, const void *b) {
    return strcmp(((const cg_listing_t *)a)->group, ((const cg_listing_t *)b)->group);
}

static int cg_list_groups(cg_ctx_t *c, rd_kafka_event_t **ev, cg_listing_t **out, size_t *n_out) {
    rd_kafka_AdminOptions_t *opts = cg_admin_options(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(c->rk, opts, c->queue);
    *ev = cg_admin_wait(c, opts);
    if (!*ev)
        return CG_EXIT_FAILED;
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(*ev);
    size_t n_errors;
    const rd_kafka_error_t **errors = rd_kafka_ListConsumerGroups_result_errors(res, &n_errors);
    if (n_errors > 0) { /* Kafka's listing fails when any broker fails */
        int rc = cg_failed(rd_kafka_error_string(errors[0]));
        rd_kafka_event_destroy(*ev);
        *ev = NULL;
        return rc;
    }
    size_t n;
    const rd_kafka_ConsumerGroupListing_t **listings = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    *out = mem_calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++)
        (*out)[i] = (cg_listing_t){rd_kafka_ConsumerGroupListing_group_id(listings[i]),
                                   rd_kafka_ConsumerGroupListing_state(listings[i])};
    qsort(*out, n, sizeof **out, cg_cmp_listing);
    *n_out = n;
    return 0;
}

/* The groups an action works on: every --group, or every group listed
 * (--all-groups). The strings live as long as the options and *ev. */
static int cg_target_groups(cg_ctx_t *c, rd_kafka_event_t **ev, const char ***groups, size_t *n) {
    *ev = NULL;
    if (!cg_has(c->o, OPT_ALL_GROUPS)) {
        *n = c->o->n_values[OPT_GROUP];
        *groups = mem_calloc(*n ? *n : 1, sizeof **groups);
        for (size_t i = 0; i < *n; i++)
            (*groups)[i] = c->o->values[OPT_GROUP][i];
        return 0;
    }
    cg_listing_t *listings;
    int rc = cg_list_groups(c, ev, &listings, n);
    if (rc)
        return rc;
    *groups = mem_calloc(*n ? *n : 1, sizeof **groups);
    for (size_t i = 0; i < *n; i++)
        (*groups)[i] = listings[i].group;
    free(listings);
    return 0;
}

/* DescribeGroups for groups: the event holding every description, or NULL
 * after printing the failure (a group whose description failed fails the
 * whole command, as the Java future's get does). */
static rd_kafka_event_t *cg_describe_groups(cg_ctx_t *c, const char **groups, size_t n,
                                            const rd_kafka_ConsumerGroupDescription_t ***descs, size_t *n_descs) {
    rd_kafka_AdminOptions_t *opts = cg_admin_options(c, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(c->rk, groups, n, opts, c->queue);
    rd_kafka_event_t *ev = cg_admin_wait(c, opts);
    if (!ev)
        return NULL;
    *descs = rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), n_descs);
    for (size_t i = 0; i < *n_descs; i++) {
        const rd_kafka_error_t *err = rd_kafka_ConsumerGroupDescription_error((*descs)[i]);
        if (err) {
            cg_failed(cg_err_message(rd_kafka_error_code(err)));
            rd_kafka_event_destroy(ev);
            return NULL;
        }
    }
    return ev;
}

/* The groups an action works on, described. */
typedef struct cg_described {
    rd_kafka_event_t *list_ev;     /* --all-groups: the listing the names live in */
    const char **groups;
    size_t n_groups;
    rd_kafka_event_t *describe_ev; /* the descriptions live here */
    const rd_kafka_ConsumerGroupDescription_t **descs;
    size_t n;
} cg_described_t;

static void cg_described_free(cg_described_t *t) {
    if (t->describe_ev)
        rd_kafka_event_destroy(t->describe_ev);
    if (t->list_ev)
        rd_kafka_event_destroy(t->list_ev);
    free(t->groups);
}

/* cg_target_groups, then DescribeGroups of them. Returns 0 or
 * CG_EXIT_FAILED after printing (t freed). */
static int cg_describe_targets(cg_ctx_t *c, cg_described_t *t) {
    *t = (cg_described_t){0};
    int rc = cg_target_groups(c, &t->list_ev, &t->groups, &t->n_groups);
    if (rc)
        return rc;
    if (t->n_groups == 0)
        return 0;
    t->describe_ev = cg_describe_groups(c, t->groups, t->n_groups, &t->descs, &t->n);
    if (!t->describe_ev) {
        cg_described_free(t);
        return CG_EXIT_FAILED;
    }
    return 0;
}

static int cg_cmp_partition(const void *a, const void *b) {
    const rd_kafka_topic_partition_t *x = a, *y = b;
    int by_topic = strcmp(x->topic, y->topic);
    return by_topic ? by_topic : (x->partition > y->partition) - (x->partition < y->partition);
}

static void cg_sort_partitions(rd_kafka_topic_partition_list_t *list) {
    if (list->cnt > 1) /* an empty list has no array at all */
        qsort(list->elems, (size_t)list->cnt, sizeof *list->elems, cg_cmp_partition);
}

/* The answer to the per-group offset call (list, alter, delete) just
 * made for one group: its group-level error (0: none) and partitions (NULL
 * when absent), which live in the returned event (the caller destroys
 * it); NULL after printing the failure. */
static const struct cg_group_offsets_result {
    rd_kafka_event_type_t type;
    const rd_kafka_group_result_t **(*groups)(const rd_kafka_event_t *ev, size_t *n);
} cg_group_offsets_results[] = {
    {RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, rd_kafka_ListConsumerGroupOffsets_result_groups},
    {RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT, rd_kafka_AlterConsumerGroupOffsets_result_groups},
    {RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT, rd_kafka_DeleteConsumerGroupOffsets_result_groups},
};

static rd_kafka_event_t *cg_group_offsets_wait(cg_ctx_t *c, rd_kafka_AdminOptions_t *opts, rd_kafka_resp_err_t *err,
                                               const rd_kafka_topic_partition_list_t **parts) {
    rd_kafka_event_t *ev = cg_admin_wait_for(c, opts, true);
    if (!ev)
        return NULL;
    if (rd_kafka_event_error(ev)) { /* the group's error, for the whole request */
        *err = rd_kafka_event_error(ev);
        *parts = NULL;
        return ev;
    }
    size_t n = 0;
    const rd_kafka_group_result_t **res = NULL;
    for (size_t i = 0; i < sizeof cg_group_offsets_results / sizeof cg_group_offsets_results[0]; i++)
        if (rd_kafka_event_type(ev) == cg_group_offsets_results[i].type)
            res = cg_group_offsets_results[i].groups(ev, &n);
    if (n != 1) { /* one group asked, one answered */
        cg_failed("no answer for the group");
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    const rd_kafka_error_t *group_err = rd_kafka_group_result_error(res[0]);
    *err = group_err ? rd_kafka_error_code(group_err) : RD_KAFKA_RESP_ERR_NO_ERROR;
    *parts = rd_kafka_group_result_partitions(res[0]);
    return ev;
}

/* OffsetFetch of every partition group has an offset for, sorted; the
 * caller destroys the list. NULL after printing the failure. */
static rd_kafka_topic_partition_list_t *cg_committed(cg_ctx_t *c, const char *group) {
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_AdminOptions_t *opts = cg_admin_options(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(c->rk, &req, 1, opts, c->queue);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_resp_err_t err;
    const rd_kafka_topic_partition_list_t *parts;
    rd_kafka_event_t *ev = cg_group_offsets_wait(c, opts, &err, &parts);
    if (!ev)
        return NULL;
    rd_kafka_topic_partition_list_t *out = NULL;
    if (err) {
        cg_failed(cg_err_message(err));
    } else {
        out = rd_kafka_topic_partition_list_new(parts ? parts->cnt : 0);
        for (int i = 0; parts && i < parts->cnt; i++)
            if (parts->elems[i].offset >= 0) /* -1: nothing committed */
                rd_kafka_topic_partition_list_add(out, parts->elems[i].topic, parts->elems[i].partition)->offset =
                    parts->elems[i].offset;
        cg_sort_partitions(out);
    }
    rd_kafka_event_destroy(ev);
    return out;
}

/* The committed offset of topic-partition in committed, or -1. */
static int64_t cg_committed_offset(const rd_kafka_topic_partition_list_t *committed, const char *topic,
                                   int32_t partition) {
    const rd_kafka_topic_partition_t *p =
        rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)committed, topic, partition);
    return p ? p->offset : -1;
}

typedef enum cg_watermark { CG_LOG_START, CG_LOG_END } cg_watermark_t;

/* ListOffsets earliest or latest of one partition, or -1 when its leader
 * does not answer (Kafka's LogOffsetResult.Unknown). */
static int64_t cg_watermark(cg_ctx_t *c, const char *topic, int32_t partition, cg_watermark_t which) {
    int64_t low, high;
    if (rd_kafka_query_watermark_offsets(c->rk, topic, partition, &low, &high, c->timeout_ms) != 0)
        return -1;
    return which == CG_LOG_START ? low : high;
}

/* "topic-partition", as Java's TopicPartition prints. */
static const char *cg_tp(const char *topic, int32_t partition) {
    static char text[512];
    snprintf(text, sizeof text, "%s-%" PRId32, topic, partition);
    return text;
}

/* --- --list ----------------------------------------------------------------------------- */

/* --state's value: the states asked for (Kafka's parse is case-blind; an
 * empty value means every state). Returns 0 or the usage exit status. */
static int cg_parse_states(const char *text, bool wanted[RD_KAFKA_CONSUMER_GROUP_STATE__CNT]) {
    bool any = false;
    memset(wanted, 0, RD_KAFKA_CONSUMER_GROUP_STATE__CNT * sizeof *wanted);
    if (text && *text) {
        char *copy = mem_strdup(text);
        char *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*item))
                item++;
            size_t len = strlen(item);
            while (len > 0 && isspace((unsigned char)item[len - 1]))
                item[--len] = '\0';
            rd_kafka_consumer_group_state_t s = rd_kafka_consumer_group_state_code(item);
            if (s == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN) {
                free(copy);
                return cg_usage_die("Invalid state list '%s'. Valid states are: PreparingRebalance, "
                                    "CompletingRebalance, Stable, Dead, Empty",
                                    text);
            }
            wanted[s] = any = true;
        }
        free(copy);
    }
    if (!any)
        for (int s = 0; s < RD_KAFKA_CONSUMER_GROUP_STATE__CNT; s++)
            wanted[s] = true;
    return 0;
}

static int cg_list(cg_ctx_t *c) {
    bool with_state = cg_has(c->o, OPT_STATE);
    bool wanted[RD_KAFKA_CONSUMER_GROUP_STATE__CNT];
    int rc = cg_parse_states(rdtool_value(c->o, OPT_STATE), wanted);
    if (rc)
        return rc;
    rd_kafka_event_t *ev;
    cg_listing_t *listings;
    size_t n;
    rc = cg_list_groups(c, &ev, &listings, &n);
    if (rc)
        return rc;
    if (!with_state) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", listings[i].group);
    } else {
        int width = 15;
        for (size_t i = 0; i < n; i++)
            if (wanted[listings[i].state] && (int)strlen(listings[i].group) > width)
                width = (int)strlen(listings[i].group);
        printf("%-*s %s\n", width, "GROUP", "STATE");
        for (size_t i = 0; i < n; i++)
            if (wanted[listings[i].state])
                printf("%-*s %s\n", width, listings[i].group, rd_kafka_consumer_group_state_name(listings[i].state));
    }
    free(listings);
    rd_kafka_event_destroy(ev);
    return 0;
}

/* --- --describe ----------------------------------------------------------------------------- */

/* shouldPrintMemberState: the state's message, and whether a table follows
 * (rows > 0 and the group exists). */
static bool cg_should_print(const char *group, rd_kafka_consumer_group_state_t state, size_t rows) {
    switch (state) {
    case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD:
        cg_error("Consumer group '%s' does not exist.", group);
        return false;
    case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY:
        fprintf(stderr, "\nConsumer group '%s' has no active members.\n", group);
        break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE:
    case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE:
        fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", group);
        break;
    default:
        break;
    }
    return rows > 0;
}

/* One row of the offsets view; strings borrowed. Offsets < 0 print "-". */
typedef struct cg_offset_row {
    const char *topic; /* NULL: "-" (a member without partitions) */
    int32_t partition;
    int64_t current, log_end;
    const char *consumer_id, *host, *client_id;
} cg_offset_row_t;

static void cg_fmt_offset(char *out, size_t outlen, int64_t v) {
    if (v < 0)
        snprintf(out, outlen, CG_MISSING);
    else
        snprintf(out, outlen, "%" PRId64, v);
}

static int cg_max_width(int width, const char *s) {
    int len = (int)strlen(s ? s : CG_MISSING);
    return len > width ? len : width;
}

static void cg_print_offset_rows(const char *group, const cg_offset_row_t *rows, size_t n) {
    int wg = cg_max_width(15, group), wt = 15, wc = 15, wh = 15;
    for (size_t i = 0; i < n; i++) {
        wt = cg_max_width(wt, rows[i].topic);
        wc = cg_max_width(wc, rows[i].consumer_id);
        wh = cg_max_width(wh, rows[i].host);
    }
    printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n", wg, "GROUP", wt, "TOPIC", "PARTITION",
           "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", wc, "CONSUMER-ID", wh, "HOST", "CLIENT-ID");
    for (size_t i = 0; i < n; i++) {
        const cg_offset_row_t *r = &rows[i];
        char partition[16] = CG_MISSING, current[24], log_end[24], lag[24];
        if (r->topic)
            snprintf(partition, sizeof partition, "%" PRId32, r->partition);
        cg_fmt_offset(current, sizeof current, r->current);
        cg_fmt_offset(log_end, sizeof log_end, r->log_end);
        /* getLag: only with both offsets known (it may be negative) */
        if (r->current >= 0 && r->log_end >= 0)
            snprintf(lag, sizeof lag, "%" PRId64, r->log_end - r->current);
        else
            snprintf(lag, sizeof lag, CG_MISSING);
        printf("%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s\n", wg, group, wt, r->topic ? r->topic : CG_MISSING,
               partition, current, log_end, lag, wc, r->consumer_id ? r->consumer_id : CG_MISSING, wh,
               r->host ? r->host : CG_MISSING, r->client_id ? r->client_id : CG_MISSING);
    }
}

static int cg_cmp_size_desc(const void *a, const void *b) {
    const rd_kafka_MemberDescription_t *x = *(const rd_kafka_MemberDescription_t *const *)a;
    const rd_kafka_MemberDescription_t *y = *(const rd_kafka_MemberDescription_t *const *)b;
    int nx = rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(x))->cnt;
    int ny = rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(y))->cnt;
    return (ny > nx) - (ny < nx);
}

static int cg_cmp_by_partition(const void *a, const void *b) {
    const rd_kafka_topic_partition_t *x = a, *y = b;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* collectGroupsOffsets for one group, then printOffsets. */
static int cg_describe_offsets(cg_ctx_t *c, const rd_kafka_ConsumerGroupDescription_t *d) {
    const char *group = rd_kafka_ConsumerGroupDescription_group_id(d);
    rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(d);
    rd_kafka_topic_partition_list_t *committed = cg_committed(c, group);
    if (!committed)
        return CG_EXIT_FAILED;
    size_t n_members = rd_kafka_ConsumerGroupDescription_member_count(d);
    const rd_kafka_MemberDescription_t **members = mem_calloc(n_members ? n_members : 1, sizeof *members);
    for (size_t i = 0; i < n_members; i++)
        members[i] = rd_kafka_ConsumerGroupDescription_member(d, i);
    /* members with the most partitions first, stable as Scala's sortWith */
    for (size_t i = 1; i < n_members; i++)
        for (size_t j = i; j > 0 && cg_cmp_size_desc(&members[j - 1], &members[j]) > 0; j--) {
            const rd_kafka_MemberDescription_t *t = members[j];
            members[j] = members[j - 1];
            members[j - 1] = t;
        }
    cg_offset_row_t *rows = NULL;
    size_t n_rows = 0;
    rd_kafka_topic_partition_list_t *assigned = rd_kafka_topic_partition_list_new(0);
    for (size_t m = 0; m < n_members; m++) {
        const rd_kafka_topic_partition_list_t *parts =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(members[m]));
        if (parts->cnt == 0)
            continue;
        rd_kafka_topic_partition_list_t *sorted = rd_kafka_topic_partition_list_copy(parts);
        /* by partition only, topics in assignment order (a stable sort, as Scala's sortBy) */
        for (int i = 1; i < sorted->cnt; i++)
            for (int j = i; j > 0 && cg_cmp_by_partition(&sorted->elems[j - 1], &sorted->elems[j]) > 0; j--) {
                rd_kafka_topic_partition_t t = sorted->elems[j];
                sorted->elems[j] = sorted->elems[j - 1];
                sorted->elems[j - 1] = t;
            }
        for (int i = 0; i < sorted->cnt; i++) {
            const rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(assigned, sorted->elems[i].topic,
                                                                                     sorted->elems[i].partition);
            rows = mem_realloc(rows, (n_rows + 1) * sizeof *rows);
            rows[n_rows++] = (cg_offset_row_t){
                .topic = p->topic,
                .partition = p->partition,
                .current = cg_committed_offset(committed, p->topic, p->partition),
                .log_end = cg_watermark(c, p->topic, p->partition, CG_LOG_END),
                .consumer_id = rd_kafka_MemberDescription_consumer_id(members[m]),
                .host = rd_kafka_MemberDescription_host(members[m]),
                .client_id = rd_kafka_MemberDescription_client_id(members[m]),
            };
        }
        rd_kafka_topic_partition_list_destroy(sorted);
    }
    /* committed offsets of partitions no member has: "-" for the member */
    for (int i = 0; i < committed->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &committed->elems[i];
        if (rd_kafka_topic_partition_list_find(assigned, p->topic, p->partition))
            continue;
        rows = mem_realloc(rows, (n_rows + 1) * sizeof *rows);
        rows[n_rows++] = (cg_offset_row_t){
            .topic = p->topic,
            .partition = p->partition,
            .current = p->offset,
            .log_end = cg_watermark(c, p->topic, p->partition, CG_LOG_END),
        };
    }
    if (cg_should_print(group, state, n_rows))
        cg_print_offset_rows(group, rows, n_rows);
    free(rows);
    free(members);
    rd_kafka_topic_partition_list_destroy(assigned);
    rd_kafka_topic_partition_list_destroy(committed);
    return 0;
}

/* --verbose's ASSIGNMENT: "topic(0,1,2), other(0)", topics sorted. */
static void cg_format_assignment(const rd_kafka_topic_partition_list_t *parts, char *out, size_t outlen) {
    if (parts->cnt == 0) {
        snprintf(out, outlen, CG_MISSING);
        return;
    }
    rd_kafka_topic_partition_list_t *sorted = rd_kafka_topic_partition_list_copy(parts);
    cg_sort_partitions(sorted);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < sorted->cnt && used < outlen; i++) {
        bool first_of_topic = i == 0 || strcmp(sorted->elems[i - 1].topic, sorted->elems[i].topic) != 0;
        bool last_of_topic = i + 1 == sorted->cnt || strcmp(sorted->elems[i + 1].topic, sorted->elems[i].topic) != 0;
        int len = snprintf(out + used, outlen - used, "%s%s%s%" PRId32 "%s", first_of_topic && i > 0 ? ", " : "",
                           first_of_topic ? sorted->elems[i].topic : "", first_of_topic ? "(" : ",",
                           sorted->elems[i].partition, last_of_topic ? ")" : "");
        used += len > 0 ? (size_t)len : 0;
    }
    rd_kafka_topic_partition_list_destroy(sorted);
}

/* printMembers for one group. */
static void cg_describe_members(const rd_kafka_ConsumerGroupDescription_t *d, bool verbose) {
    const char *group = rd_kafka_ConsumerGroupDescription_group_id(d);
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(d);
    if (!cg_should_print(group, rd_kafka_ConsumerGroupDescription_state(d), n))
        return;
    int wg = cg_max_width(15, group), wc = 15, wi = 17, wh = 15, wl = 15;
    bool with_instance_id = false;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const char *instance = rd_kafka_MemberDescription_group_instance_id(m);
        wc = cg_max_width(wc, rd_kafka_MemberDescription_consumer_id(m));
        wi = cg_max_width(wi, instance ? instance : "");
        wh = cg_max_width(wh, rd_kafka_MemberDescription_host(m));
        wl = cg_max_width(wl, rd_kafka_MemberDescription_client_id(m));
        with_instance_id |= instance && *instance;
    }
    printf("\n%-*s %-*s ", wg, "GROUP", wc, "CONSUMER-ID");
    if (with_instance_id)
        printf("%-*s ", wi, "GROUP-INSTANCE-ID");
    printf("%-*s %-*s %-15s %s\n", wh, "HOST", wl, "CLIENT-ID", "#PARTITIONS", verbose ? "ASSIGNMENT" : "");
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *parts =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        const char *instance = rd_kafka_MemberDescription_group_instance_id(m);
        printf("%-*s %-*s ", wg, group, wc, rd_kafka_MemberDescription_consumer_id(m));
        if (with_instance_id)
            printf("%-*s ", wi, instance ? instance : "");
        char assignment[4096] = "";
        if (verbose)
            cg_format_assignment(parts, assignment, sizeof assignment);
        printf("%-*s %-*s %-15d %s\n", wh, rd_kafka_MemberDescription_host(m), wl,
               rd_kafka_MemberDescription_client_id(m), parts->cnt, assignment);
    }
}

/* printStates for one group (Kafka sizes the GROUP column by the
 * coordinator's text; kept). */
static void cg_describe_state(const rd_kafka_ConsumerGroupDescription_t *d) {
    const char *group = rd_kafka_ConsumerGroupDescription_group_id(d);
    rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(d);
    if (!cg_should_print(group, state, 1))
        return;
    const rd_kafka_Node_t *node = rd_kafka_ConsumerGroupDescription_coordinator(d);
    char coordinator[300];
    if (node)
        snprintf(coordinator, sizeof coordinator, "%s:%u (%d)", rd_kafka_Node_host(node),
                 (unsigned)rd_kafka_Node_port(node), rd_kafka_Node_id(node));
    else
        snprintf(coordinator, sizeof coordinator, CG_MISSING);
    int wc = cg_max_width(25, coordinator);
    const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    printf("\n%-*s %-25s %-20s %-15s %s", wc, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS");
    printf("\n%-*s %-25s %-20s %-15s %zu\n", wc, group, coordinator, assignor ? assignor : "",
           rd_kafka_consumer_group_state_name(state), rd_kafka_ConsumerGroupDescription_member_count(d));
}

static int cg_cmp_desc(const void *a, const void *b) {
    return strcmp(rd_kafka_ConsumerGroupDescription_group_id(*(const rd_kafka_ConsumerGroupDescription_t *const *)a),
                  rd_kafka_ConsumerGroupDescription_group_id(*(const rd_kafka_ConsumerGroupDescription_t *const *)b));
}

static int cg_describe(cg_ctx_t *c) {
    cg_described_t t;
    int rc = cg_describe_targets(c, &t);
    if (rc)
        return rc;
    const rd_kafka_ConsumerGroupDescription_t **descs = t.descs;
    size_t n = t.n;
    /* Kafka prints groups in name order (a TreeMap) */
    const rd_kafka_ConsumerGroupDescription_t **sorted = mem_calloc(n ? n : 1, sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = descs[i];
    qsort(sorted, n, sizeof *sorted, cg_cmp_desc);
    for (size_t i = 0; i < n && !rc; i++) {
        if (cg_has(c->o, OPT_MEMBERS))
            cg_describe_members(sorted[i], cg_has(c->o, OPT_VERBOSE));
        else if (cg_has(c->o, OPT_STATE))
            cg_describe_state(sorted[i]);
        else
            rc = cg_describe_offsets(c, sorted[i]);
    }
    free(sorted);
    cg_described_free(&t);
    return rc;
}

/* --- --reset-offsets ------------------------------------------------------------------------ */

/* Utils.getDateTime: "YYYY-MM-DDTHH:mm:SS.sss" with an optional zone (Z,
 * +HH, +HHMM, +HH:MM); no zone means UTC. Milliseconds since the epoch, or
 * false. */
static bool cg_parse_datetime(const char *text, int64_t *ms) {
    int year, month, day, hour, minute, second, milli, used = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%n", &year, &month, &day, &hour, &minute, &second, &milli, &used) !=
            7 ||
        used != 23)
        return false;
    int64_t zone_minutes = 0;
    const char *z = text + used;
    if (*z == 'Z') {
        z++;
    } else if (*z == '+' || *z == '-') {
        int sign = *z == '-' ? -1 : 1;
        int zh, zm = 0, n = 0;
        if (sscanf(z + 1, "%2d%n", &zh, &n) != 1 || n != 2)
            return false;
        z += 3;
        if (*z == ':')
            z++;
        if (isdigit((unsigned char)*z)) {
            if (sscanf(z, "%2d%n", &zm, &n) != 1 || n != 2)
                return false;
            z += 2;
        }
        zone_minutes = sign * (zh * 60 + zm);
    }
    if (*z || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        return false;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                    .tm_hour = hour,        .tm_min = minute,    .tm_sec = second};
    time_t t = timegm(&tm);
    if (tm.tm_mday != day) /* 31 February and the like: the strict parser refuses */
        return false;
    *ms = (int64_t)t * 1000 + milli - zone_minutes * 60000;
    return true;
}

/* java.time.Duration.parse: [+-]P[nD][T[nH][nM][n[.f]S]], each number
 * signed, letters in any case. Milliseconds, or false. */
static bool cg_parse_duration(const char *text, int64_t *ms) {
    const char *p = text;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (toupper((unsigned char)*p++) != 'P')
        return false;
    static const struct {
        char unit;
        bool after_t;
        int64_t ms;
    } units[] = {{'D', false, 86400000}, {'H', true, 3600000}, {'M', true, 60000}, {'S', true, 1000}};
    size_t next_unit = 0;
    bool in_time = false, any = false;
    double total = 0;
    while (*p) {
        if (toupper((unsigned char)*p) == 'T' && !in_time) {
            in_time = true;
            p++;
            if (!*p)
                return false; /* "PT" alone */
            continue;
        }
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || isspace((unsigned char)*p))
            return false;
        char unit = (char)toupper((unsigned char)*end);
        size_t u = next_unit;
        while (u < sizeof units / sizeof units[0] && units[u].unit != unit)
            u++;
        if (u == sizeof units / sizeof units[0] || units[u].after_t != in_time)
            return false;
        if (units[u].unit != 'S' && memchr(p, '.', (size_t)(end - p)))
            return false; /* only seconds take a fraction */
        total += v * (double)units[u].ms;
        next_unit = u + 1;
        any = true;
        p = end + 1;
    }
    if (!any)
        return false;
    *ms = (int64_t)(sign * total);
    return true;
}

/* Adds the partitions one --topic value names to out: "T:0,2" those,
 * a bare "T" every partition Metadata knows. A topic Metadata refuses
 * sets *topic_err (nothing added); a partition that is not a number is
 * Kafka's NumberFormatException. Returns 0 or CG_EXIT_FAILED after
 * printing. */
static int cg_add_topic_arg(cg_ctx_t *c, const char *arg, rd_kafka_topic_partition_list_t *out,
                            rd_kafka_resp_err_t *topic_err) {
    *topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    const char *colon = strchr(arg, ':');
    if (colon) {
        int rc = 0;
        char *topic = mem_strndup(arg, (size_t)(colon - arg));
        char *list = mem_strdup(colon + 1), *save = NULL;
        for (char *item = strtok_r(list, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
            int64_t partition;
            if (cg_parse_int(item, INT32_MIN, INT32_MAX, &partition)) {
                rd_kafka_topic_partition_list_add(out, topic, (int32_t)partition);
                continue;
            }
            char reason[300];
            snprintf(reason, sizeof reason, "For input string: \"%s\"", item);
            rc = cg_failed(reason);
        }
        free(list);
        free(topic);
        return rc;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, arg, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 0, rkt, &md, c->timeout_ms);
    if (!err && md->topic_cnt == 1)
        err = md->topics[0].err;
    *topic_err = err;
    for (int p = 0; !err && p < md->topics[0].partition_cnt; p++)
        rd_kafka_topic_partition_list_add(out, arg, md->topics[0].partitions[p].id);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return 0;
}

/* The partitions --topic names (T: all of its partitions, from Metadata;
 * T:0,1: those), or every partition the group committed (--all-topics).
 * NULL after printing the failure, or *usage set for a usage error. */
static rd_kafka_topic_partition_list_t *cg_partitions_to_reset(cg_ctx_t *c, const char *group, int *rc) {
    *rc = 0;
    if (cg_has(c->o, OPT_ALL_TOPICS)) {
        rd_kafka_topic_partition_list_t *committed = cg_committed(c, group);
        if (!committed)
            *rc = CG_EXIT_FAILED;
        return committed;
    }
    if (!cg_has(c->o, OPT_TOPIC)) {
        if (cg_has(c->o, OPT_FROM_FILE)) /* the file names the partitions */
            return rd_kafka_topic_partition_list_new(0);
        *rc = cg_usage_die("One of the reset scopes should be defined: --all-topics, --topic.");
        return NULL;
    }
    rd_kafka_topic_partition_list_t *out = rd_kafka_topic_partition_list_new(0);
    for (size_t i = 0; i < c->o->n_values[OPT_TOPIC] && !*rc; i++) {
        rd_kafka_resp_err_t topic_err;
        *rc = cg_add_topic_arg(c, c->o->values[OPT_TOPIC][i], out, &topic_err);
        if (!*rc && topic_err)
            *rc = cg_failed(cg_err_message(topic_err));
    }
    if (*rc) {
        rd_kafka_topic_partition_list_destroy(out);
        return NULL;
    }
    return out;
}

/* checkOffsetsRange: a requested offset beyond the log end becomes the log
 * end, one before the log start the log start (with Kafka's warning). */
static void cg_clamp(cg_ctx_t *c, rd_kafka_topic_partition_t *p) {
    int64_t end = cg_watermark(c, p->topic, p->partition, CG_LOG_END);
    int64_t start = cg_watermark(c, p->topic, p->partition, CG_LOG_START);
    if (end >= 0 && p->offset > end) {
        fprintf(stderr,
                "WARN New offset (%" PRId64 ") is higher than latest offset for topic partition %s. Value will be set "
                "to %" PRId64 "\n",
                p->offset, cg_tp(p->topic, p->partition), end);
        p->offset = end;
    } else if (start >= 0 && p->offset < start) {
        fprintf(stderr,
                "WARN New offset (%" PRId64 ") is lower than earliest offset for topic partition %s. Value will be set "
                "to %" PRId64 "\n",
                p->offset, cg_tp(p->topic, p->partition), start);
        p->offset = start;
    }
}

/* ListOffsets by timestamp for every partition of parts (offset fields
 * in/out); the log end where no record is that late. Returns 0 or the
 * exit status after printing. */
static int cg_offsets_for_time(cg_ctx_t *c, rd_kafka_topic_partition_list_t *parts, int64_t timestamp) {
    if (parts->cnt == 0) /* librdkafka refuses an empty list */
        return 0;
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = timestamp;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(c->rk, parts, c->timeout_ms);
    if (err)
        return cg_failed(cg_err_message(err));
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->err == 0 && p->offset < 0)
            p->offset = cg_watermark(c, p->topic, p->partition, CG_LOG_END);
        if (p->err || p->offset < 0)
            return cg_usage_die("Error getting offset by timestamp of topic partition: %s",
                                cg_tp(p->topic, p->partition));
    }
    return 0;
}

/* --from-file: the plan for group out of the CSV Kafka's --export
 * writes, "topic,partition,offset" lines when one --group is given and
 * the first line has that form, else "group,topic,partition,offset".
 * parts is emptied and filled with the group's lines. Returns 0 or an
 * exit status after printing. */
static int cg_plan_from_file(cg_ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts) {
    const char *path = rdtool_value(c->o, OPT_FROM_FILE);
    while (parts->cnt > 0)
        rd_kafka_topic_partition_list_del_by_idx(parts, 0);
    FILE *f = fopen(path, "r");
    if (!f) {
        char reason[600];
        snprintf(reason, sizeof reason, "%s: %s", path, strerror(errno));
        return cg_failed(reason);
    }
    int rc = 0, line_no = 0;
    bool with_group = true;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        char *fields[5];
        int n = 0;
        char *save = NULL;
        for (char *field = strtok_r(line, ",", &save); field && n < 5; field = strtok_r(NULL, ",", &save))
            fields[n++] = field;
        int64_t partition, offset;
        if (line_no++ == 0) /* the first line decides the format */
            with_group = !(c->o->n_values[OPT_GROUP] == 1 && n == 3 && cg_parse_int(fields[1], 0, INT32_MAX, &partition) &&
                           cg_parse_int(fields[2], INT64_MIN, INT64_MAX, &offset));
        int first = with_group ? 1 : 0;
        if (n != first + 3 || !cg_parse_int(fields[first + 1], 0, INT32_MAX, &partition) ||
            !cg_parse_int(fields[first + 2], INT64_MIN, INT64_MAX, &offset)) {
            char reason[600];
            snprintf(reason, sizeof reason, "line %d of %s is not %stopic,partition,offset", line_no, path,
                     with_group ? "group," : "");
            rc = cg_failed(reason);
        } else if (!with_group || strcmp(fields[0], group) == 0) {
            rd_kafka_topic_partition_list_add(parts, fields[first], (int32_t)partition)->offset = offset;
        }
    }
    free(line);
    fclose(f);
    if (!rc && parts->cnt == 0)
        cg_error("No reset plan for group %s found", group);
    for (int i = 0; !rc && i < parts->cnt; i++)
        cg_clamp(c, &parts->elems[i]);
    return rc;
}

/* prepareOffsetsToReset: parts' offsets set to the scenario's. Returns 0
 * or an exit status after printing. */
static int cg_prepare(cg_ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts) {
    const rdtool_opts_t *o = c->o;
    int64_t value;
    if (cg_has(o, OPT_TO_OFFSET) || cg_has(o, OPT_SHIFT_BY)) {
        cg_opt_t id = cg_has(o, OPT_TO_OFFSET) ? OPT_TO_OFFSET : OPT_SHIFT_BY;
        if (!cg_parse_int(rdtool_value(o, id), INT64_MIN, INT64_MAX, &value))
            return cg_usage_die("Cannot parse argument '%s' of option %s", rdtool_value(o, id), CG_NAME(id));
        rd_kafka_topic_partition_list_t *committed = id == OPT_SHIFT_BY ? cg_committed(c, group) : NULL;
        if (id == OPT_SHIFT_BY && !committed)
            return CG_EXIT_FAILED;
        int rc = 0;
        for (int i = 0; i < parts->cnt && !rc; i++) {
            rd_kafka_topic_partition_t *p = &parts->elems[i];
            if (id == OPT_TO_OFFSET) {
                p->offset = value;
            } else {
                int64_t current = cg_committed_offset(committed, p->topic, p->partition);
                if (current < 0)
                    rc = cg_usage_die("Cannot shift offset for partition %s since there is no current committed "
                                      "offset",
                                      cg_tp(p->topic, p->partition));
                p->offset = current + value;
            }
            if (!rc)
                cg_clamp(c, p);
        }
        if (committed)
            rd_kafka_topic_partition_list_destroy(committed);
        return rc;
    }
    if (cg_has(o, OPT_TO_EARLIEST) || cg_has(o, OPT_TO_LATEST)) {
        cg_watermark_t which = cg_has(o, OPT_TO_EARLIEST) ? CG_LOG_START : CG_LOG_END;
        for (int i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *p = &parts->elems[i];
            p->offset = cg_watermark(c, p->topic, p->partition, which);
            if (p->offset < 0)
                return cg_usage_die("Error getting %s offset of topic partition: %s",
                                    which == CG_LOG_START ? "starting" : "ending", cg_tp(p->topic, p->partition));
        }
        return 0;
    }
    if (cg_has(o, OPT_TO_CURRENT)) {
        rd_kafka_topic_partition_list_t *committed = cg_committed(c, group);
        if (!committed)
            return CG_EXIT_FAILED;
        int rc = 0;
        for (int i = 0; i < parts->cnt && !rc; i++) {
            rd_kafka_topic_partition_t *p = &parts->elems[i];
            p->offset = cg_committed_offset(committed, p->topic, p->partition);
            if (p->offset < 0)
                p->offset = cg_watermark(c, p->topic, p->partition, CG_LOG_END);
            if (p->offset < 0)
                rc = cg_usage_die("Error getting ending offset of topic partition: %s", cg_tp(p->topic, p->partition));
        }
        rd_kafka_topic_partition_list_destroy(committed);
        return rc;
    }
    if (cg_has(o, OPT_TO_DATETIME)) {
        if (!cg_parse_datetime(rdtool_value(o, OPT_TO_DATETIME), &value)) {
            char reason[300];
            snprintf(reason, sizeof reason, "Unparseable date: \"%s\"", rdtool_value(o, OPT_TO_DATETIME));
            return cg_failed(reason);
        }
        return cg_offsets_for_time(c, parts, value);
    }
    if (cg_has(o, OPT_FROM_FILE))
        return cg_plan_from_file(c, group, parts);
    if (cg_has(o, OPT_BY_DURATION)) {
        if (!cg_parse_duration(rdtool_value(o, OPT_BY_DURATION), &value))
            return cg_failed("Text cannot be parsed to a Duration");
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        return cg_offsets_for_time(c, parts, now_ms - value);
    }
    return cg_usage_die("Option '[reset-offsets]' requires one of the following scenarios: [to-offset], "
                        "[to-datetime], [by-duration], [to-earliest], [to-latest], [to-current], [shift-by], [from-file]");
}

/* OffsetCommit of parts' offsets for group (AlterConsumerGroupOffsets).
 * Returns 0 or CG_EXIT_FAILED after printing. */
static int cg_alter_offsets(cg_ctx_t *c, const char *group, const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, parts);
    rd_kafka_AdminOptions_t *opts = cg_admin_options(c, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets(c->rk, &req, 1, opts, c->queue);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_resp_err_t err;
    const rd_kafka_topic_partition_list_t *results;
    rd_kafka_event_t *ev = cg_group_offsets_wait(c, opts, &err, &results);
    if (!ev)
        return CG_EXIT_FAILED;
    for (int i = 0; results && !err && i < results->cnt; i++)
        err = results->elems[i].err;
    rd_kafka_event_destroy(ev);
    return err ? cg_failed(cg_err_message(err)) : 0;
}

static int cg_reset(cg_ctx_t *c) {
    cg_described_t t;
    int rc = cg_describe_targets(c, &t);
    if (rc)
        return rc;
    const rd_kafka_ConsumerGroupDescription_t **descs = t.descs;
    size_t n = t.n;
    bool dry_run = !cg_has(c->o, OPT_EXECUTE);
    /* each group's plan; an empty one for a refused group (Kafka prints
     * the table's header all the same) */
    rd_kafka_topic_partition_list_t **plans = mem_calloc(n ? n : 1, sizeof *plans);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *group = rd_kafka_ConsumerGroupDescription_group_id(descs[i]);
        rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(descs[i]);
        if (state != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY && state != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) {
            cg_error("Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", group,
                     rd_kafka_consumer_group_state_name(state));
            plans[i] = rd_kafka_topic_partition_list_new(0);
            continue;
        }
        plans[i] = cg_partitions_to_reset(c, group, &rc);
        if (rc)
            break;
        rc = cg_prepare(c, group, plans[i]);
        cg_sort_partitions(plans[i]);
        if (!rc && !dry_run)
            rc = cg_alter_offsets(c, group, plans[i]);
    }
    if (!rc && cg_has(c->o, OPT_EXPORT)) {
        /* Kafka's CSV: "topic,partition,offset" for one --group, else with the group first */
        bool single = c->o->n_values[OPT_GROUP] == 1;
        for (size_t i = 0; i < n; i++)
            for (int j = 0; j < plans[i]->cnt; j++)
                printf("%s%s%s,%" PRId32 ",%" PRId64 "\n", single ? "" : rd_kafka_ConsumerGroupDescription_group_id(descs[i]),
                       single ? "" : ",", plans[i]->elems[j].topic, plans[i]->elems[j].partition,
                       plans[i]->elems[j].offset);
        putchar('\n');
    } else if (!rc && n > 0) {
        printf("\n%-30s %-30s %-10s %-15s\n", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
        for (size_t i = 0; i < n; i++)
            for (int j = 0; j < plans[i]->cnt; j++)
                printf("%-30s %-30s %-10" PRId32 " %-15" PRId64 "\n", rd_kafka_ConsumerGroupDescription_group_id(descs[i]),
                       plans[i]->elems[j].topic, plans[i]->elems[j].partition, plans[i]->elems[j].offset);
    }
    for (size_t i = 0; i < n; i++)
        if (plans[i])
            rd_kafka_topic_partition_list_destroy(plans[i]);
    free(plans);
    cg_described_free(&t);
    return rc;
}

/* --- --delete, --delete-offsets ------------------------------------------------------------- */

static int cg_delete(cg_ctx_t *c) {
    rd_kafka_event_t *list_ev;
    const char **groups;
    size_t n_groups;
    int rc = cg_target_groups(c, &list_ev, &groups, &n_groups);
    if (rc)
        return rc;
    rd_kafka_DeleteGroup_t **dels = mem_calloc(n_groups ? n_groups : 1, sizeof *dels);
    for (size_t i = 0; i < n_groups; i++)
        dels[i] = rd_kafka_DeleteGroup_new(groups[i]);
    rd_kafka_AdminOptions_t *opts = cg_admin_options(c, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(c->rk, dels, n_groups, opts, c->queue);
    rd_kafka_DeleteGroup_destroy_array(dels, n_groups);
    free(dels);
    rd_kafka_event_t *ev = cg_admin_wait(c, opts);
    if (!ev) {
        rc = CG_EXIT_FAILED;
    } else {
        size_t n;
        const rd_kafka_group_result_t **res =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
        size_t n_failed = 0;
        for (size_t i = 0; i < n; i++)
            n_failed += rd_kafka_group_result_error(res[i]) != NULL;
        /* "('a', 'b')": the groups that went, in the answer's order */
        char ok_list[4096] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used < sizeof ok_list; i++)
            if (!rd_kafka_group_result_error(res[i])) {
                int len = snprintf(ok_list + used, sizeof ok_list - used, "%s'%s'", used ? ", " : "",
                                   rd_kafka_group_result_name(res[i]));
                used += len > 0 ? (size_t)len : 0;
            }
        if (n_failed == 0) {
            printf("Deletion of requested consumer groups (%s) was successful.\n", ok_list);
        } else {
            rc = cg_error("Deletion of some consumer groups failed:");
            for (size_t i = 0; i < n; i++) {
                const rd_kafka_error_t *err = rd_kafka_group_result_error(res[i]);
                if (!err)
                    continue;
                char exception[512];
                cg_err_exception(rd_kafka_error_code(err), exception, sizeof exception);
                printf("* Group '%s' could not be deleted due to: %s\n", rd_kafka_group_result_name(res[i]), exception);
            }
            if (used > 0)
                printf("\nThese consumer groups were deleted successfully: %s\n", ok_list);
        }
        rd_kafka_event_destroy(ev);
    }
    if (list_ev)
        rd_kafka_event_destroy(list_ev);
    free(groups);
    return rc;
}

/* One row of --delete-offsets' table: a partition and its outcome. */
typedef struct cg_delete_row {
    char *topic;
    int32_t partition; /* -1: "Not Provided" (the topic is unknown) */
    rd_kafka_resp_err_t err;
} cg_delete_row_t;

static int cg_cmp_delete_row(const void *a, const void *b) {
    /* Kafka sorts by topic + partition as one string */
    const cg_delete_row_t *x = a, *y = b;
    char kx[600], ky[600];
    snprintf(kx, sizeof kx, "%s%" PRId32, x->topic, x->partition);
    snprintf(ky, sizeof ky, "%s%" PRId32, y->topic, y->partition);
    return strcmp(kx, ky);
}

/* Kafka's line for OffsetDelete's request-level error; "%s" is the group. */
static const struct cg_delete_offsets_error {
    rd_kafka_resp_err_t err;
    const char *format;
} cg_delete_offsets_errors[] = {
    {RD_KAFKA_RESP_ERR_INVALID_GROUP_ID, "'%s' is not valid."},
    {RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "'%s' does not exist."},
    {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, "Access to '%s' is not authorized."},
    {RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP, "Deleting offsets of a consumer group '%s' is forbidden if the group is not "
                                        "empty."},
    {RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC, "Encounter some partition level error, see the follow-up details:"},
    {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "Encounter some partition level error, see the follow-up details:"},
    {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "Encounter some partition level error, see the follow-up details:"},
};

static int cg_delete_offsets_error(rd_kafka_resp_err_t err, const char *group) {
    for (size_t i = 0; i < sizeof cg_delete_offsets_errors / sizeof cg_delete_offsets_errors[0]; i++)
        if (cg_delete_offsets_errors[i].err == err) {
            char line[1024];
            snprintf(line, sizeof line, cg_delete_offsets_errors[i].format, group);
            return cg_error("%s", line);
        }
    return cg_error("Encounter some unknown error: %s", rd_kafka_err2name(err));
}

static int cg_delete_offsets(cg_ctx_t *c) {
    const char *group = rdtool_value(c->o, OPT_GROUP);
    cg_delete_row_t *rows = NULL;
    size_t n_rows = 0;
    int rc = 0;
    /* T:0,1 names partitions; a bare T means all of them (Metadata) */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(0);
    for (size_t i = 0; i < c->o->n_values[OPT_TOPIC] && !rc; i++) {
        rd_kafka_resp_err_t topic_err;
        rc = cg_add_topic_arg(c, c->o->values[OPT_TOPIC][i], parts, &topic_err);
        if (!rc && topic_err) {
            rows = mem_realloc(rows, (n_rows + 1) * sizeof *rows);
            rows[n_rows++] = (cg_delete_row_t){mem_strdup(c->o->values[OPT_TOPIC][i]), -1, topic_err};
        }
    }
    rd_kafka_resp_err_t top = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!rc && parts->cnt > 0) {
        rd_kafka_DeleteConsumerGroupOffsets_t *req = rd_kafka_DeleteConsumerGroupOffsets_new(group, parts);
        rd_kafka_AdminOptions_t *opts = cg_admin_options(c, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS);
        rd_kafka_DeleteConsumerGroupOffsets(c->rk, &req, 1, opts, c->queue);
        rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
        const rd_kafka_topic_partition_list_t *results;
        rd_kafka_event_t *ev = cg_group_offsets_wait(c, opts, &top, &results);
        if (!ev) {
            rc = CG_EXIT_FAILED;
        } else {
            for (int i = 0; i < parts->cnt; i++) {
                const rd_kafka_topic_partition_t *r =
                    results ? rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)results,
                                                                 parts->elems[i].topic, parts->elems[i].partition)
                            : NULL;
                /* a failed request fails every partition with its error */
                rd_kafka_resp_err_t err = r ? r->err : top ? top : RD_KAFKA_RESP_ERR__FAIL;
                rows = mem_realloc(rows, (n_rows + 1) * sizeof *rows);
                rows[n_rows++] = (cg_delete_row_t){mem_strdup(parts->elems[i].topic), parts->elems[i].partition, err};
                if (err && !top) /* Kafka's all() fails with the first partition's error */
                    top = err;
            }
            rd_kafka_event_destroy(ev);
        }
    }
    if (!rc) {
        /* Kafka's summary line is the request's; a row may still fail (an
         * unknown topic), which makes the exit status 1 here */
        for (size_t i = 0; i < n_rows; i++)
            if (rows[i].err)
                rc = CG_EXIT_FAILED;
        if (top == RD_KAFKA_RESP_ERR_NO_ERROR) {
            printf("Request succeed for deleting offsets with topic ");
            for (size_t i = 0; i < c->o->n_values[OPT_TOPIC]; i++)
                printf("%s%s", i ? ", " : "", c->o->values[OPT_TOPIC][i]);
            printf(" group %s\n", group);
        } else {
            rc = cg_delete_offsets_error(top, group);
        }
        if (n_rows > 1)
            qsort(rows, n_rows, sizeof *rows, cg_cmp_delete_row);
        printf("\n%-30s %-15s %-15s\n", "TOPIC", "PARTITION", "STATUS");
        for (size_t i = 0; i < n_rows; i++) {
            char partition[16], status[512];
            if (rows[i].partition >= 0)
                snprintf(partition, sizeof partition, "%" PRId32, rows[i].partition);
            else
                snprintf(partition, sizeof partition, "Not Provided");
            if (rows[i].err)
                snprintf(status, sizeof status, "Error: %s", cg_err_message(rows[i].err));
            else
                snprintf(status, sizeof status, "Successful");
            printf("%-30s %-15s %-15s\n", rows[i].topic, partition, status);
        }
    }
    for (size_t i = 0; i < n_rows; i++)
        free(rows[i].topic);
    free(rows);
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

/* --- main ---------------------------------------------------------------------------------- */

static int cg_run(const rdtool_opts_t *o) {
    int rc = cg_check_args(o);
    if (rc)
        return rc;
    cg_ctx_t c;
    rc = cg_open(&c, o);
    if (rc)
        return rc;
    if (cg_has(o, OPT_LIST))
        rc = cg_list(&c);
    else if (cg_has(o, OPT_DESCRIBE))
        rc = cg_describe(&c);
    else if (cg_has(o, OPT_RESET_OFFSETS))
        rc = cg_reset(&c);
    else if (cg_has(o, OPT_DELETE))
        rc = cg_delete(&c);
    else
        rc = cg_delete_offsets(&c);
    cg_close(&c);
    return rc;
}

int main(int argc, char **argv) {
    rdtool_opts_t o = {0};
    int rc = rdtool_opts_parse(&o, cg_optdefs, OPT__COUNT, argc, argv);
    if (rc) /* rdtool printed joptsimple's message */
        rdtool_print_help(stderr, CG_USAGE, cg_optdefs, OPT__COUNT);
    else if (rdtool_has(&o, OPT_HELP))
        rdtool_print_help(stdout, CG_USAGE, cg_optdefs, OPT__COUNT);
    else if (rdtool_has(&o, OPT_VERSION))
        printf("%s\n", PACKAGE_VERSION);
    else
        rc = cg_run(&o);
    rdtool_opts_free(&o);
    /* every usage error exits 1, as Kafka's printUsageAndDie */
    return rc == RDTOOL_EXIT_USAGE || cg_error_printed ? CG_EXIT_FAILED : rc;
}
