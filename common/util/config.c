#include "util/config.h"

#include "util/buf.h"
#include "util/file.h"
#include "util/logger.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- the tables -----------------------------------------------------------
 * Defaults, limits and allowed values are Kafka 2.8's (KafkaConfig.scala,
 * LogConfig.scala). Where a Kafka limit is enforced only by validateValues
 * (log.roll.ms >= 1, log.roll.jitter.ms >= 0) it is written here as a limit,
 * so that the message can name the file and line. */

/* clang-format off */
static const char *const config_codecs[] = {"uncompressed", "zstd", "lz4", "snappy", "gzip",
                                            "producer", NULL};
static const char *const config_timestamp_types[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const config_cleanup_policies[] = {"delete", "compact", NULL};
static const char *const config_security_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT",
                                                        "SASL_SSL", NULL};

#define INT32_MAX_S "2147483647"
#define INT64_MAX_S "9223372036854775807"
#define INT16_MAX_S "32767"

#define C_INT(n, d, lo, doc) {n, CONFIG_INT, d, lo, NULL, NULL, CONFIG_CHECK_NONE, doc}
#define C_LONG(n, d, lo, doc) {n, CONFIG_LONG, d, lo, NULL, NULL, CONFIG_CHECK_NONE, doc}
#define C_DOUBLE(n, d, lo, hi, doc) {n, CONFIG_DOUBLE, d, lo, hi, NULL, CONFIG_CHECK_NONE, doc}
#define C_BOOL(n, d, doc) {n, CONFIG_BOOL, d, NULL, NULL, NULL, CONFIG_CHECK_NONE, doc}
#define C_STRING(n, d, doc) {n, CONFIG_STRING, d, NULL, NULL, NULL, CONFIG_CHECK_NONE, doc}
#define C_ENUM(n, d, allowed, doc) \
    {n, CONFIG_STRING, d, NULL, NULL, allowed, CONFIG_CHECK_NONE, doc}
#define C_CHECKED(n, d, check, doc) {n, CONFIG_STRING, d, NULL, NULL, NULL, check, doc}
/* Kafka's SHORT keys: an int limited to int16. */
#define C_SHORT(n, d, lo, doc) {n, CONFIG_INT, d, lo, INT16_MAX_S, NULL, CONFIG_CHECK_NONE, doc}

static const config_def_t config_defs[] = {
    /* ZooKeeper */
    C_STRING("zookeeper.connect", NULL,
             "ZooKeeper connection string host:port[,host:port...][/chroot]"),
    C_INT("zookeeper.session.timeout.ms", "18000", NULL, "ZooKeeper session timeout"),
    C_INT("zookeeper.connection.timeout.ms", NULL, NULL,
          "Max time to wait for a ZooKeeper connection; unset: zookeeper.session.timeout.ms"),
    C_INT("zookeeper.max.in.flight.requests", "10", "1",
          "Max unacknowledged requests the broker sends to ZooKeeper before blocking"),
    C_INT("zookeeper.sync.time.ms", "2000", NULL,
          "How far a ZooKeeper follower can be behind its leader"),
    C_BOOL("zookeeper.set.acl", "false", "Set secure ACLs on the znodes the broker creates"),

    /* General */
    C_INT("broker.id", "-1", NULL, "This broker's id; -1: generated from ZooKeeper"),
    C_BOOL("broker.id.generation.enable", "true", "Generate a broker id when broker.id is -1"),
    C_INT("reserved.broker.max.id", "1000", "0",
          "Highest configurable broker id; generated ids start above"),
    C_STRING("broker.rack", NULL, "Rack of this broker, for rack-aware replica assignment"),
    C_INT("message.max.bytes", "1048588", "0", "Largest record batch size the broker accepts"),
    C_INT("num.network.threads", "3", "1", "Threads receiving requests and sending responses"),
    C_INT("num.io.threads", "8", "1", "Threads processing requests, disk I/O included"),
    C_INT("background.threads", "10", "1", "Threads for background tasks"),
    C_INT("queued.max.requests", "500", "1",
          "Requests queued for the I/O threads before the network threads stop reading"),
    C_LONG("queued.max.request.bytes", "-1", NULL,
           "Bytes of queued requests before no more are read; -1: no limit"),
    C_INT("request.timeout.ms", "30000", NULL,
          "Max time the broker waits for a response to its own requests"),

    /* Socket server */
    C_CHECKED("listeners", "PLAINTEXT://:9092", CONFIG_CHECK_LISTENERS,
              "Listeners NAME://host:port,...; an empty host binds every interface"),
    C_CHECKED("advertised.listeners", NULL, CONFIG_CHECK_LISTENERS,
              "Listeners published in ZooKeeper for clients; unset: listeners"),
    C_CHECKED("listener.security.protocol.map",
              "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
              CONFIG_CHECK_PROTOCOL_MAP, "Security protocol of each listener name"),
    C_STRING("metrics.listener", NULL,
             "host:port of the Prometheus endpoint (GET /metrics, GET /health), e.g. 127.0.0.1:9404; unset: off"),
    C_INT("socket.send.buffer.bytes", "102400", NULL,
          "SO_SNDBUF of server sockets; -1: the OS default"),
    C_INT("socket.receive.buffer.bytes", "102400", NULL,
          "SO_RCVBUF of server sockets; -1: the OS default"),
    C_INT("socket.request.max.bytes", "104857600", "1", "Largest request the broker reads"),
    C_INT("max.connections.per.ip", INT32_MAX_S, "0", "Connections allowed from one IP address"),
    C_INT("max.connections", INT32_MAX_S, "0", "Connections the broker accepts in total"),
    C_LONG("connections.max.idle.ms", "600000", NULL,
           "Idle connections are closed after this time"),

    /* Log basics */
    C_INT("num.partitions", "1", "1", "Partitions of an automatically created topic"),
    C_STRING("log.dir", "/tmp/kafka-logs",
             "Directory of the log data, used when log.dirs is unset"),
    C_STRING("log.dirs", NULL, "Comma-separated directories of the log data; unset: log.dir"),
    C_INT("log.segment.bytes", "1073741824", "14", "Size of a log segment file"),
    C_LONG("log.roll.ms", NULL, "1", "Time before a new segment is rolled; unset: log.roll.hours"),
    C_INT("log.roll.hours", "168", "1", "Time before a new segment is rolled, in hours"),
    C_LONG("log.roll.jitter.ms", NULL, "0",
           "Max jitter subtracted from the roll time; unset: log.roll.jitter.hours"),
    C_INT("log.roll.jitter.hours", "0", "0", "Max jitter subtracted from the roll time, in hours"),
    C_INT("num.recovery.threads.per.data.dir", "1", "1",
          "Threads per data directory for log recovery and flush at shutdown"),
    C_BOOL("log.preallocate", "false", "Preallocate the file of a new segment"),
    C_INT("log.index.size.max.bytes", "10485760", "4", "Max size of an offset or time index file"),
    C_INT("log.index.interval.bytes", "4096", "0",
          "Bytes of records between two offset index entries"),
    C_LONG("log.segment.delete.delay.ms", "60000", "0",
           "Delay before a deleted segment's files are removed"),
    C_BOOL("auto.create.topics.enable", "true", "Create a topic when metadata for it is requested"),
    C_BOOL("delete.topic.enable", "true", "Allow topics to be deleted"),
    C_INT("min.insync.replicas", "1", "1", "Replicas that must acknowledge a write with acks=all"),
    C_ENUM("compression.type", "producer", config_codecs,
           "Compression of stored batches; producer: as the producer sent them"),
    C_CHECKED("log.message.format.version", "2.8-IV1", CONFIG_CHECK_VERSION,
              "Message format the broker appends with (a Kafka version)"),
    C_ENUM("log.message.timestamp.type", "CreateTime", config_timestamp_types,
           "Record timestamp: the producer's CreateTime or the broker's LogAppendTime"),
    C_LONG("log.message.timestamp.difference.max.ms", INT64_MAX_S, NULL,
           "Max difference between a CreateTime timestamp and the broker's clock"),
    C_BOOL("log.message.downconversion.enable", "true",
           "Down-convert records for old fetch versions"),

    /* Log flush */
    C_LONG("log.flush.interval.messages", INT64_MAX_S, "1",
           "Records appended to a partition before it is fsynced"),
    C_LONG("log.flush.interval.ms", NULL, NULL,
           "Max time a record stays unflushed; unset: log.flush.scheduler.interval.ms"),
    C_LONG("log.flush.scheduler.interval.ms", INT64_MAX_S, NULL,
           "How often the flusher checks whether a log needs a flush"),
    C_INT("log.flush.offset.checkpoint.interval.ms", "60000", "0",
          "How often recovery points are checkpointed"),
    C_INT("log.flush.start.offset.checkpoint.interval.ms", "60000", "0",
          "How often log start offsets are checkpointed"),

    /* Log retention and cleanup */
    C_LONG("log.retention.ms", NULL, NULL,
           "Time a segment is kept; -1: forever; unset: log.retention.minutes"),
    C_INT("log.retention.minutes", NULL, NULL,
          "Time a segment is kept, in minutes; unset: log.retention.hours"),
    C_INT("log.retention.hours", "168", NULL, "Time a segment is kept, in hours"),
    C_LONG("log.retention.bytes", "-1", NULL,
           "Max size of a partition before old segments are deleted; -1: no limit"),
    C_LONG("log.retention.check.interval.ms", "300000", "1",
           "How often segments are checked for deletion"),
    {"log.cleanup.policy", CONFIG_LIST, "delete", NULL, NULL, config_cleanup_policies,
     CONFIG_CHECK_NONE, "Cleanup of old segments: delete, compact or both"},
    C_BOOL("log.cleaner.enable", "true", "Run the log cleaner (needed by compacted topics)"),
    C_INT("log.cleaner.threads", "1", "0", "Threads of the log cleaner"),
    C_DOUBLE("log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308", NULL, NULL,
             "Max read plus write rate of the log cleaner"),
    C_LONG("log.cleaner.dedupe.buffer.size", "134217728", NULL,
           "Memory of the cleaner's dedupe buffer, all threads together"),
    C_INT("log.cleaner.io.buffer.size", "524288", "0",
          "I/O buffer memory of the cleaner, all threads together"),
    C_DOUBLE("log.cleaner.io.buffer.load.factor", "0.9", NULL, NULL,
             "Load factor of the cleaner's dedupe buffer"),
    C_LONG("log.cleaner.backoff.ms", "15000", "0",
           "Sleep of the cleaner when there is nothing to clean"),
    C_DOUBLE("log.cleaner.min.cleanable.ratio", "0.5", "0", "1",
             "Min dirty share of a log before it is cleaned"),
    C_LONG("log.cleaner.delete.retention.ms", "86400000", NULL,
           "Time delete tombstones are kept in compacted topics"),
    C_LONG("log.cleaner.min.compaction.lag.ms", "0", NULL,
           "Min age of a record before it can be compacted"),
    C_LONG("log.cleaner.max.compaction.lag.ms", INT64_MAX_S, NULL,
           "Max age of a record before it must be compacted"),

    /* Replication */
    C_INT("default.replication.factor", "1", NULL,
          "Replication factor of an automatically created topic"),
    C_LONG("replica.lag.time.max.ms", "30000", NULL,
           "A follower that has not caught up for this long leaves the ISR"),
    C_INT("num.replica.fetchers", "1", NULL, "Fetcher threads per source broker"),
    C_INT("replica.fetch.wait.max.ms", "500", NULL, "Max wait of a follower's fetch request"),
    C_INT("replica.fetch.min.bytes", "1", NULL, "Min bytes a follower's fetch waits for"),
    C_INT("replica.fetch.max.bytes", "1048576", "0",
          "Bytes a follower fetches per partition (a larger first batch still comes)"),
    C_INT("replica.fetch.response.max.bytes", "10485760", "0",
          "Max bytes of a whole follower fetch response"),
    C_INT("replica.fetch.backoff.ms", "1000", "0", "Sleep of a fetcher after a fetch error"),
    C_INT("replica.socket.timeout.ms", "30000", NULL, "Socket timeout of follower fetches"),
    C_INT("replica.socket.receive.buffer.bytes", "65536", NULL,
          "SO_RCVBUF of follower fetch connections"),
    C_LONG("replica.high.watermark.checkpoint.interval.ms", "5000", NULL,
           "How often high watermarks are checkpointed"),
    C_INT("fetch.purgatory.purge.interval.requests", "1000", NULL,
          "Purge interval of the fetch purgatory, in requests"),
    C_INT("producer.purgatory.purge.interval.requests", "1000", NULL,
          "Purge interval of the produce purgatory, in requests"),
    C_INT("delete.records.purgatory.purge.interval.requests", "1", NULL,
          "Purge interval of the delete-records purgatory, in requests"),
    C_BOOL("unclean.leader.election.enable", "false",
           "Elect an out-of-sync replica leader when no ISR member is alive"),
    C_BOOL("auto.leader.rebalance.enable", "true",
           "Move leadership back to preferred replicas periodically"),
    C_INT("leader.imbalance.per.broker.percentage", "10", NULL,
          "Leader imbalance per broker that triggers a rebalance"),
    C_LONG("leader.imbalance.check.interval.seconds", "300", NULL,
           "How often the controller checks leader imbalance"),
    C_ENUM("security.inter.broker.protocol", "PLAINTEXT", config_security_protocols,
           "Security protocol between brokers (or set inter.broker.listener.name)"),
    C_STRING("inter.broker.listener.name", NULL, "Listener used between brokers"),
    C_CHECKED("inter.broker.protocol.version", "2.8-IV1", CONFIG_CHECK_VERSION,
              "Protocol version used between brokers (a Kafka version)"),
    C_INT("controller.socket.timeout.ms", "30000", NULL,
          "Socket timeout of controller-to-broker channels"),

    /* Controlled shutdown */
    C_BOOL("controlled.shutdown.enable", "true", "Move leadership away before shutting down"),
    C_INT("controlled.shutdown.max.retries", "3", NULL, "Attempts of a controlled shutdown"),
    C_LONG("controlled.shutdown.retry.backoff.ms", "5000", NULL,
           "Wait between controlled shutdown attempts"),

    /* Group coordinator and offsets */
    C_INT("group.min.session.timeout.ms", "6000", NULL, "Min session timeout of a group member"),
    C_INT("group.max.session.timeout.ms", "1800000", NULL, "Max session timeout of a group member"),
    C_INT("group.initial.rebalance.delay.ms", "3000", NULL,
          "Wait for more members before the first rebalance of an empty group"),
    C_INT("group.max.size", INT32_MAX_S, "1", "Max members of a group"),
    C_INT("offset.metadata.max.bytes", "4096", NULL,
          "Max size of the metadata of a committed offset"),
    C_INT("offsets.load.buffer.size", "5242880", "1",
          "Read batch size when loading offsets into the cache"),
    C_SHORT("offsets.topic.replication.factor", "3", "1",
            "Replication factor of __consumer_offsets"),
    C_INT("offsets.topic.num.partitions", "50", "1", "Partitions of __consumer_offsets"),
    C_INT("offsets.topic.segment.bytes", "104857600", "1", "Segment size of __consumer_offsets"),
    {"offsets.topic.compression.codec", CONFIG_INT, "0", "0", "4", NULL, CONFIG_CHECK_NONE,
     "Compression codec id of offset commits written to __consumer_offsets"},
    C_INT("offsets.retention.minutes", "10080", "1",
          "Time committed offsets of an empty group are kept"),
    C_LONG("offsets.retention.check.interval.ms", "600000", "1",
           "How often stale offsets are looked for"),
    C_INT("offsets.commit.timeout.ms", "5000", "1",
          "Max wait for an offset commit to be replicated"),
    {"offsets.commit.required.acks", CONFIG_INT, "-1", "-32768", INT16_MAX_S, NULL,
     CONFIG_CHECK_NONE, "Acks an offset commit needs; -1: all in-sync replicas"},

    /* Transactions */
    C_SHORT("transaction.state.log.replication.factor", "3", "1",
            "Replication factor of __transaction_state"),
    C_INT("transaction.state.log.min.isr", "2", "1", "min.insync.replicas of __transaction_state"),
    C_INT("transaction.state.log.num.partitions", "50", "1", "Partitions of __transaction_state"),
    C_INT("transaction.state.log.segment.bytes", "104857600", "1",
          "Segment size of __transaction_state"),
    C_INT("transaction.state.log.load.buffer.size", "5242880", "1",
          "Read batch size when loading transaction state"),
    C_INT("transaction.max.timeout.ms", "900000", "1",
          "Max transaction timeout a producer may ask for"),
    C_INT("transactional.id.expiration.ms", "604800000", "1",
          "Idle time after which a transactional id expires"),

    /* Fetch sessions */
    C_INT("fetch.max.bytes", "57671680", "1024", "Max bytes of a fetch response to a consumer"),
    C_INT("max.incremental.fetch.session.cache.slots", "1000", "0",
          "Incremental fetch sessions kept"),
};

#define CONFIG_NDEFS (sizeof config_defs / sizeof config_defs[0])

#define T_INT(n, lo, bk) {{n, CONFIG_INT, NULL, lo, NULL, NULL, CONFIG_CHECK_NONE, NULL}, bk}
#define T_LONG(n, lo, bk) {{n, CONFIG_LONG, NULL, lo, NULL, NULL, CONFIG_CHECK_NONE, NULL}, bk}
#define T_BOOL(n, bk) {{n, CONFIG_BOOL, NULL, NULL, NULL, NULL, CONFIG_CHECK_NONE, NULL}, bk}

/* LogConfig's topic keys. Where the broker key's value is derived from
 * several keys (log.retention.ms from .minutes and .hours ...) the default is
 * the derived value; see config_broker_long. */
static const config_topic_def_t config_topic_defs[] = {
    {{"cleanup.policy", CONFIG_LIST, NULL, NULL, NULL, config_cleanup_policies,
      CONFIG_CHECK_NONE, NULL},
     "log.cleanup.policy"},
    {{"compression.type", CONFIG_STRING, NULL, NULL, NULL, config_codecs, CONFIG_CHECK_NONE, NULL},
     "compression.type"},
    T_LONG("delete.retention.ms", "0", "log.cleaner.delete.retention.ms"),
    T_LONG("file.delete.delay.ms", "0", "log.segment.delete.delay.ms"),
    T_LONG("flush.messages", "0", "log.flush.interval.messages"),
    T_LONG("flush.ms", "0", "log.flush.interval.ms"),
    T_INT("index.interval.bytes", "0", "log.index.interval.bytes"),
    T_LONG("max.compaction.lag.ms", "1", "log.cleaner.max.compaction.lag.ms"),
    T_INT("max.message.bytes", "0", "message.max.bytes"),
    T_BOOL("message.downconversion.enable", "log.message.downconversion.enable"),
    {{"message.format.version", CONFIG_STRING, NULL, NULL, NULL, NULL, CONFIG_CHECK_VERSION, NULL},
     "log.message.format.version"},
    T_LONG("message.timestamp.difference.max.ms", "0", "log.message.timestamp.difference.max.ms"),
    {{"message.timestamp.type", CONFIG_STRING, NULL, NULL, NULL, config_timestamp_types,
      CONFIG_CHECK_NONE, NULL},
     "log.message.timestamp.type"},
    {{"min.cleanable.dirty.ratio", CONFIG_DOUBLE, NULL, "0", "1", NULL, CONFIG_CHECK_NONE, NULL},
     "log.cleaner.min.cleanable.ratio"},
    T_LONG("min.compaction.lag.ms", "0", "log.cleaner.min.compaction.lag.ms"),
    T_INT("min.insync.replicas", "1", "min.insync.replicas"),
    T_BOOL("preallocate", "log.preallocate"),
    T_LONG("retention.bytes", NULL, "log.retention.bytes"),
    T_LONG("retention.ms", "-1", "log.retention.ms"),
    T_INT("segment.bytes", "14", "log.segment.bytes"),
    /* Kafka 2.8 accepts 0 here; an index needs room for one entry. */
    T_INT("segment.index.bytes", "4", "log.index.size.max.bytes"),
    T_LONG("segment.jitter.ms", "0", "log.roll.jitter.ms"),
    T_LONG("segment.ms", "1", "log.roll.ms"),
    T_BOOL("unclean.leader.election.enable", "unclean.leader.election.enable"),
};

#define CONFIG_NTOPIC (sizeof config_topic_defs / sizeof config_topic_defs[0])

/* ApiVersion.allVersions of Kafka 2.8, oldest first. */
static const char *const config_api_versions[] = {
    "0.8.0",      "0.8.1",      "0.8.2",      "0.9.0",      "0.10.0-IV0", "0.10.0-IV1",
    "0.10.1-IV0", "0.10.1-IV1", "0.10.1-IV2", "0.10.2-IV0", "0.11.0-IV0", "0.11.0-IV1",
    "0.11.0-IV2", "1.0-IV0",    "1.1-IV0",    "2.0-IV0",    "2.0-IV1",    "2.1-IV0",
    "2.1-IV1",    "2.1-IV2",    "2.2-IV0",    "2.2-IV1",    "2.3-IV0",    "2.3-IV1",
    "2.4-IV0",    "2.4-IV1",    "2.5-IV0",    "2.6-IV0",    "2.7-IV0",    "2.7-IV1",
    "2.7-IV2",    "2.8-IV0",    "2.8-IV1",
};

/* clang-format on */

#define CONFIG_NVERSIONS (sizeof config_api_versions / sizeof config_api_versions[0])

/* --- values ---------------------------------------------------------------- */

/* A key's value: the text set explicitly (owned; NULL: the default is in
 * effect) and the parsed value in effect. */
typedef struct config_value {
    char *text;
    bool has;  /* a value is in effect: set, or a default */
    int64_t i; /* CONFIG_INT, CONFIG_LONG; CONFIG_BOOL as 0/1 */
    double d;  /* CONFIG_DOUBLE */
} config_value_t;

typedef struct config_extra {
    char *key;
    char *value;
} config_extra_t;

struct config {
    config_value_t vals[CONFIG_NDEFS];
    unsigned short order[CONFIG_NDEFS]; /* indices of config_defs sorted by name */
    config_extra_t *extra;              /* unknown keys */
    size_t nextra;
    size_t capextra;
};

struct config_topic {
    const config_t *broker;
    config_value_t vals[CONFIG_NTOPIC];
};

static const char *const config_type_names[] = {"int", "long", "double", "bool", "string", "list"};

static int config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int config_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Puts prefix in front of the message already in err, cutting its end if the
 * buffer is too small: lets a caller add "file:line: " to a callee's message. */
static void config_prefix_err(char *err, size_t errlen, const char *prefix) {
    if (!err || !errlen)
        return;
    size_t p = strlen(prefix), m = strlen(err);
    if (p > errlen - 1)
        p = errlen - 1;
    if (m > errlen - 1 - p)
        m = errlen - 1 - p;
    memmove(err + p, err, m);
    memcpy(err, prefix, p);
    err[p + m] = '\0';
}

/* A getter used against the table: a bug in the caller, not in the input. */
static _Noreturn void config_misuse(const char *fn, const char *key, const char *what) {
    logger_log(LOGGER_ERROR, "config", "%s(\"%s\"): %s", fn, key, what);
    abort();
}

static bool config_is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Kafka trims every value before parsing it. */
static char *config_trim_dup(const char *s) {
    while (config_is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && config_is_space(s[n - 1]))
        n--;
    return mem_strndup(s, n);
}

/* Decimal, optional sign, nothing else (as Java's parseLong). */
static bool config_parse_i64(const char *s, int64_t *out) {
    if (!*s || config_is_space(*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s || errno)
        return false;
    *out = v;
    return true;
}

static bool config_parse_double(const char *s, double *out) {
    if (!*s || config_is_space(*s))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int config_bad(char *err, size_t errlen, const config_def_t *def, const char *text,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int config_bad(char *err, size_t errlen, const config_def_t *def, const char *text,
                      const char *fmt, ...) {
    if (err && errlen) {
        int n = snprintf(err, errlen, "invalid value '%s' for %s: ", text, def->name);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* [+-]?[0-9]+, which Java's parseLong accepts when it fits. */
static bool config_is_decimal(const char *s) {
    if (*s == '+' || *s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int config_parse_integer(const config_def_t *def, const char *text, config_value_t *v,
                                char *err, size_t errlen) {
    if (!config_is_decimal(text))
        return config_bad(err, errlen, def, text, "expected an integer");
    if (!config_parse_i64(text, &v->i))
        return config_bad(err, errlen, def, text, "expected a 64-bit integer");
    if (def->type == CONFIG_INT && (v->i < INT32_MIN || v->i > INT32_MAX))
        return config_bad(err, errlen, def, text, "expected a 32-bit integer");
    return 0;
}

static int config_parse_typed(const config_def_t *def, const char *text, config_value_t *v,
                              char *err, size_t errlen) {
    switch (def->type) {
    case CONFIG_INT:
    case CONFIG_LONG:
        return config_parse_integer(def, text, v, err, errlen);
    case CONFIG_DOUBLE:
        if (!config_parse_double(text, &v->d))
            return config_bad(err, errlen, def, text, "expected a number");
        return 0;
    case CONFIG_BOOL:
        if (strcasecmp(text, "true") == 0 || strcasecmp(text, "false") == 0) {
            v->i = strcasecmp(text, "true") == 0;
            return 0;
        }
        return config_bad(err, errlen, def, text, "expected true or false");
    case CONFIG_STRING:
    case CONFIG_LIST:
        return 0;
    }
    return -1;
}

/* <0, 0, >0 as the value compares with a limit written in the table. */
static int config_cmp_limit(const config_def_t *def, const config_value_t *v, const char *limit) {
    if (def->type == CONFIG_DOUBLE) {
        double d = 0;
        if (!config_parse_double(limit, &d))
            config_misuse("config_cmp_limit", def->name, "bad limit in the table");
        return (v->d > d) - (v->d < d);
    }
    int64_t i = 0;
    if (!config_parse_i64(limit, &i))
        config_misuse("config_cmp_limit", def->name, "bad limit in the table");
    return (v->i > i) - (v->i < i);
}

static int config_check_limits(const config_def_t *def, const char *text, const config_value_t *v,
                               char *err, size_t errlen) {
    if (def->min && config_cmp_limit(def, v, def->min) < 0)
        return config_bad(err, errlen, def, text, "must be at least %s", def->min);
    if (def->max && config_cmp_limit(def, v, def->max) > 0)
        return config_bad(err, errlen, def, text, "must be at most %s", def->max);
    return 0;
}

static bool config_in(const char *const *allowed, const char *s) {
    for (; *allowed; allowed++)
        if (strcmp(*allowed, s) == 0)
            return true;
    return false;
}

static void config_join(const char *const *items, buf_t *out) {
    for (size_t i = 0; items[i]; i++)
        buf_appendf(out, "%s%s", i ? ", " : "", items[i]);
    buf_append(out, "", 1);
}

/* A list is split as Kafka's LIST type does it: "" is no item, and "a,,b"
 * has an empty item, which no allowed set contains. */
static bool config_list_all_in(const char *const *allowed, const char *text) {
    if (!*text)
        return true;
    bool ok = true;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *item = mem_strndup(p, n);
        char *trimmed = config_trim_dup(item);
        ok = ok && config_in(allowed, trimmed);
        free(trimmed);
        free(item);
        if (!comma)
            return ok;
        p = comma + 1;
    }
}

static int config_check_allowed(const config_def_t *def, const char *text, char *err,
                                size_t errlen) {
    if (!def->allowed)
        return 0;
    bool ok = def->type == CONFIG_LIST ? config_list_all_in(def->allowed, text)
                                       : config_in(def->allowed, text);
    if (ok)
        return 0;
    buf_t names = BUF_INIT;
    config_join(def->allowed, &names);
    config_bad(err, errlen, def, text, "%s %s",
               def->type == CONFIG_LIST ? "each item must be one of" : "must be one of",
               (const char *)names.data);
    buf_free(&names);
    return -1;
}

static bool config_protocol_map_item_ok(const char *item) {
    const char *colon = strchr(item, ':');
    if (!colon || colon == item || strchr(colon + 1, ':'))
        return false;
    for (size_t i = 0; config_security_protocols[i]; i++)
        if (strcasecmp(colon + 1, config_security_protocols[i]) == 0)
            return true;
    return false;
}

static int config_check_special(const config_def_t *def, const char *text, char *err,
                                size_t errlen) {
    if (def->check == CONFIG_CHECK_VERSION && config_api_version_rank(text) < 0)
        return config_bad(err, errlen, def, text,
                          "expected a Kafka version such as 2.8-IV1 or 2.7");
    if (def->check != CONFIG_CHECK_LISTENERS && def->check != CONFIG_CHECK_PROTOCOL_MAP)
        return 0;
    char **items = config_list_split(text, NULL);
    int rc = 0;
    for (size_t i = 0; items[i] && rc == 0; i++) {
        config_listener_t l;
        if (def->check == CONFIG_CHECK_LISTENERS && config_listener_parse(items[i], &l) < 0)
            rc = config_bad(err, errlen, def, text, "'%s' is not of the form NAME://host:port",
                            items[i]);
        if (def->check == CONFIG_CHECK_PROTOCOL_MAP && !config_protocol_map_item_ok(items[i]))
            rc = config_bad(err, errlen, def, text,
                            "'%s' is not of the form NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, "
                            "SSL, SASL_PLAINTEXT, SASL_SSL",
                            items[i]);
    }
    config_list_free(items);
    return rc;
}

/* Parses and checks text (already trimmed) as a value of def; *out is
 * written only on success, without its text. */
static int config_value_parse(const config_def_t *def, const char *text, config_value_t *out,
                              char *err, size_t errlen) {
    config_value_t v = {.has = true};
    if (config_parse_typed(def, text, &v, err, errlen) < 0 ||
        config_check_limits(def, text, &v, err, errlen) < 0 ||
        config_check_allowed(def, text, err, errlen) < 0 ||
        config_check_special(def, text, err, errlen) < 0)
        return -1;
    *out = v;
    return 0;
}

/* --- lookup ------------------------------------------------------------------- */

const config_def_t *config_def_at(size_t i) { return i < CONFIG_NDEFS ? &config_defs[i] : NULL; }

const config_topic_def_t *config_topic_def_at(size_t i) {
    return i < CONFIG_NTOPIC ? &config_topic_defs[i] : NULL;
}

const config_def_t *config_def_find(const char *key) {
    for (size_t i = 0; i < CONFIG_NDEFS; i++)
        if (strcmp(config_defs[i].name, key) == 0)
            return &config_defs[i];
    return NULL;
}

const config_topic_def_t *config_topic_def_find(const char *key) {
    for (size_t i = 0; i < CONFIG_NTOPIC; i++)
        if (strcmp(config_topic_defs[i].def.name, key) == 0)
            return &config_topic_defs[i];
    return NULL;
}

static int config_order_cmp(const void *a, const void *b) {
    return strcmp(config_defs[*(const unsigned short *)a].name,
                  config_defs[*(const unsigned short *)b].name);
}

static int config_key_cmp(const void *key, const void *elem) {
    return strcmp((const char *)key, config_defs[*(const unsigned short *)elem].name);
}

/* Index of key in config_defs, or -1. */
static long config_index(const config_t *cfg, const char *key) {
    const unsigned short *hit =
        bsearch(key, cfg->order, CONFIG_NDEFS, sizeof cfg->order[0], config_key_cmp);
    return hit ? (long)*hit : -1;
}

/* The value of a known key of the given type; aborts on misuse. A list is
 * read as a string. */
static const config_value_t *config_typed(const config_t *cfg, const char *key, config_type_t type,
                                          const char *fn) {
    long i = config_index(cfg, key);
    if (i < 0)
        config_misuse(fn, key, "no such key");
    config_type_t have = config_defs[i].type;
    if (have != type && !(type == CONFIG_STRING && have == CONFIG_LIST)) {
        char what[64];
        snprintf(what, sizeof what, "the key is of type %s, not %s", config_type_names[have],
                 config_type_names[type]);
        config_misuse(fn, key, what);
    }
    if (!cfg->vals[i].has && type != CONFIG_STRING)
        config_misuse(fn, key, "the key has no value (check config_is_set first)");
    return &cfg->vals[i];
}

static const char *config_text(const config_t *cfg, long i) {
    return cfg->vals[i].text ? cfg->vals[i].text : config_defs[i].dflt;
}

/* --- config_t ------------------------------------------------------------------ */

config_t *config_new(void) {
    config_t *cfg = mem_calloc(1, sizeof *cfg);
    for (size_t i = 0; i < CONFIG_NDEFS; i++)
        cfg->order[i] = (unsigned short)i;
    qsort(cfg->order, CONFIG_NDEFS, sizeof cfg->order[0], config_order_cmp);
    for (size_t i = 0; i < CONFIG_NDEFS; i++) {
        char err[256];
        if (config_defs[i].dflt && config_value_parse(&config_defs[i], config_defs[i].dflt,
                                                      &cfg->vals[i], err, sizeof err) < 0)
            config_misuse("config_new", config_defs[i].name, err);
    }
    return cfg;
}

void config_free(config_t *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < CONFIG_NDEFS; i++)
        free(cfg->vals[i].text);
    for (size_t i = 0; i < cfg->nextra; i++) {
        free(cfg->extra[i].key);
        free(cfg->extra[i].value);
    }
    free(cfg->extra);
    free(cfg);
}

static config_extra_t *config_extra_find(const config_t *cfg, const char *key) {
    for (size_t i = 0; i < cfg->nextra; i++)
        if (strcmp(cfg->extra[i].key, key) == 0)
            return &cfg->extra[i];
    return NULL;
}

/* Keeps an unknown key; takes ownership of value. */
static void config_extra_put(config_t *cfg, const char *key, char *value) {
    config_extra_t *e = config_extra_find(cfg, key);
    if (e) {
        free(e->value);
        e->value = value;
        return;
    }
    if (cfg->nextra == cfg->capextra) {
        cfg->capextra = cfg->capextra ? 2 * cfg->capextra : 8;
        cfg->extra = mem_realloc(cfg->extra, cfg->capextra * sizeof *cfg->extra);
    }
    cfg->extra[cfg->nextra++] = (config_extra_t){mem_strdup(key), value};
}

/* Sets key; file and line (0: none) only locate the unknown-key warning,
 * errors are left for the caller to locate. */
static int config_set_at(config_t *cfg, const char *file, int line, const char *key,
                         const char *value, char *err, size_t errlen) {
    char *text = config_trim_dup(value);
    long i = config_index(cfg, key);
    if (i < 0) {
        if (file && line)
            log_warn("config", "%s:%d: unknown key '%s' (kept, not used by samsa)", file, line,
                     key);
        else
            log_warn("config", "%s%sunknown key '%s' (kept, not used by samsa)", file ? file : "",
                     file ? ": " : "", key);
        config_extra_put(cfg, key, text);
        return 0;
    }
    config_value_t v;
    if (config_value_parse(&config_defs[i], text, &v, err, errlen) < 0) {
        free(text);
        return -1;
    }
    free(cfg->vals[i].text);
    v.text = text;
    cfg->vals[i] = v;
    return 0;
}

int config_set(config_t *cfg, const char *key, const char *value, char *err, size_t errlen) {
    if (!key || !value)
        config_misuse("config_set", key ? key : "(null)", "key and value must not be NULL");
    return config_set_at(cfg, NULL, 0, key, value, err, errlen);
}

typedef struct config_load_ctx {
    config_t *cfg;
    const char *name;
} config_load_ctx_t;

static int config_load_entry(void *ctx, const char *key, const char *value, int line, char *err,
                             size_t errlen) {
    config_load_ctx_t *c = ctx;
    return config_set_at(c->cfg, c->name, line, key, value, err, errlen);
}

int config_load_text(config_t *cfg, const char *name, const char *text, size_t len, char *err,
                     size_t errlen) {
    config_load_ctx_t ctx = {cfg, name};
    return config_properties_parse(text, len, name, config_load_entry, &ctx, err, errlen);
}

/* Config files are small; a huge one is a mistake (a log file named by error). */
#define CONFIG_MAX_FILE (16u << 20)

int config_load_file(config_t *cfg, const char *path, char *err, size_t errlen) {
    buf_t text = BUF_INIT;
    int rc = file_read_all(path, CONFIG_MAX_FILE, "config file", &text, err, errlen);
    if (rc == 0) /* missing: for a config file an error like any other */
        rc = config_fail(err, errlen, "cannot open %s: %s", path, strerror(ENOENT));
    else if (rc == 1)
        rc = config_load_text(cfg, path, (const char *)text.data, text.len, err, errlen);
    buf_free(&text);
    return rc;
}

static int config_apply_override(config_t *cfg, const char *kv, char *err, size_t errlen) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return config_fail(err, errlen, "--override '%s': expected key=value", kv);
    char *key = mem_strndup(kv, (size_t)(eq - kv));
    int rc = config_set_at(cfg, "--override", 0, key, eq + 1, err, errlen);
    if (rc < 0)
        config_prefix_err(err, errlen, "--override: ");
    free(key);
    return rc;
}

int config_apply_args(config_t *cfg, int argc, char **argv, char *err, size_t errlen) {
    int i = 0;
    while (i < argc) {
        const char *kv;
        if (strcmp(argv[i], "--override") == 0) {
            if (i + 1 >= argc)
                return config_fail(err, errlen, "--override needs an argument key=value");
            kv = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--override=", 11) == 0) {
            kv = argv[i] + 11;
            i++;
        } else {
            break;
        }
        if (config_apply_override(cfg, kv, err, errlen) < 0)
            return -1;
    }
    return i;
}

/* --- getters ------------------------------------------------------------------ */

int32_t config_get_int(const config_t *cfg, const char *key) {
    return (int32_t)config_typed(cfg, key, CONFIG_INT, __func__)->i;
}

int64_t config_get_long(const config_t *cfg, const char *key) {
    return config_typed(cfg, key, CONFIG_LONG, __func__)->i;
}

double config_get_double(const config_t *cfg, const char *key) {
    return config_typed(cfg, key, CONFIG_DOUBLE, __func__)->d;
}

bool config_get_bool(const config_t *cfg, const char *key) {
    return config_typed(cfg, key, CONFIG_BOOL, __func__)->i != 0;
}

const char *config_get_string(const config_t *cfg, const char *key) {
    const config_value_t *v = config_typed(cfg, key, CONFIG_STRING, __func__);
    return config_text(cfg, (long)(v - cfg->vals));
}

bool config_is_set(const config_t *cfg, const char *key) {
    long i = config_index(cfg, key);
    if (i < 0)
        config_misuse(__func__, key, "no such key");
    return cfg->vals[i].text != NULL;
}

const char *config_get_raw(const config_t *cfg, const char *key) {
    long i = config_index(cfg, key);
    if (i >= 0)
        return config_text(cfg, i);
    const config_extra_t *e = config_extra_find(cfg, key);
    return e ? e->value : NULL;
}

size_t config_unknown_count(const config_t *cfg) { return cfg->nextra; }

/* --- derived values ------------------------------------------------------------- */

#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR INT64_C(3600000)

int64_t config_log_retention_ms(const config_t *cfg) {
    int64_t ms;
    if (config_is_set(cfg, "log.retention.ms"))
        ms = config_get_long(cfg, "log.retention.ms");
    else if (config_is_set(cfg, "log.retention.minutes"))
        ms = MS_PER_MINUTE * config_get_int(cfg, "log.retention.minutes");
    else
        ms = MS_PER_HOUR * config_get_int(cfg, "log.retention.hours");
    return ms < 0 ? -1 : ms;
}

int64_t config_log_roll_ms(const config_t *cfg) {
    if (config_is_set(cfg, "log.roll.ms"))
        return config_get_long(cfg, "log.roll.ms");
    return MS_PER_HOUR * config_get_int(cfg, "log.roll.hours");
}

int64_t config_log_roll_jitter_ms(const config_t *cfg) {
    if (config_is_set(cfg, "log.roll.jitter.ms"))
        return config_get_long(cfg, "log.roll.jitter.ms");
    return MS_PER_HOUR * config_get_int(cfg, "log.roll.jitter.hours");
}

int64_t config_log_flush_interval_ms(const config_t *cfg) {
    if (config_is_set(cfg, "log.flush.interval.ms"))
        return config_get_long(cfg, "log.flush.interval.ms");
    return config_get_long(cfg, "log.flush.scheduler.interval.ms");
}

int32_t config_zk_connection_timeout_ms(const config_t *cfg) {
    if (config_is_set(cfg, "zookeeper.connection.timeout.ms"))
        return config_get_int(cfg, "zookeeper.connection.timeout.ms");
    return config_get_int(cfg, "zookeeper.session.timeout.ms");
}

const char *config_log_dirs(const config_t *cfg) {
    const char *dirs = config_get_string(cfg, "log.dirs");
    return dirs ? dirs : config_get_string(cfg, "log.dir");
}

const char *config_advertised_listeners(const config_t *cfg) {
    const char *adv = config_get_string(cfg, "advertised.listeners");
    return adv ? adv : config_get_string(cfg, "listeners");
}

/* The listener for a security protocol has the protocol's name. */
const char *config_inter_broker_listener_name(const config_t *cfg) {
    const char *name = config_get_string(cfg, "inter.broker.listener.name");
    return name ? name : config_get_string(cfg, "security.inter.broker.protocol");
}

void config_dump(const config_t *cfg, FILE *out) {
    fputs("KafkaConfig values:\n", out);
    for (size_t k = 0; k < CONFIG_NDEFS; k++) {
        long i = cfg->order[k];
        const char *text = config_text(cfg, i);
        fprintf(out, "\t%s = %s\n", config_defs[i].name, text ? text : "null");
    }
}

/* --- validation across keys ----------------------------------------------------- */

static int config_check_broker_id(const config_t *cfg, char *err, size_t errlen) {
    int32_t id = config_get_int(cfg, "broker.id");
    int32_t max = config_get_int(cfg, "reserved.broker.max.id");
    if (config_get_bool(cfg, "broker.id.generation.enable") && (id < -1 || id > max))
        return config_fail(
            err, errlen, "broker.id %d must be at least -1 and at most reserved.broker.max.id (%d)",
            id, max);
    if (!config_get_bool(cfg, "broker.id.generation.enable") && id < 0)
        return config_fail(
            err, errlen,
            "broker.id %d must be at least 0 when broker.id.generation.enable is false", id);
    return 0;
}

static int config_check_zookeeper(const config_t *cfg, char *err, size_t errlen) {
    const char *zk = config_get_string(cfg, "zookeeper.connect");
    if (!zk || !*zk)
        return config_fail(err, errlen,
                           "zookeeper.connect is required (host:port[,host:port...][/chroot])");
    return 0;
}

static int config_check_log(const config_t *cfg, char *err, size_t errlen) {
    if (config_log_retention_ms(cfg) == 0)
        return config_fail(err, errlen, "log.retention.ms must be unlimited (-1) or at least 1");
    size_t ndirs;
    config_list_free(config_list_split(config_log_dirs(cfg), &ndirs));
    if (ndirs == 0)
        return config_fail(err, errlen, "log.dirs (or log.dir) must name at least one directory");
    int32_t threads = config_get_int(cfg, "log.cleaner.threads");
    if (threads > 0 &&
        config_get_long(cfg, "log.cleaner.dedupe.buffer.size") / threads <= 1024 * 1024)
        return config_fail(
            err, errlen, "log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread");
    return 0;
}

static int config_check_replica_fetch(const config_t *cfg, char *err, size_t errlen) {
    int32_t wait = config_get_int(cfg, "replica.fetch.wait.max.ms");
    if (wait > config_get_int(cfg, "replica.socket.timeout.ms"))
        return config_fail(
            err, errlen,
            "replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms "
            "to prevent unnecessary socket timeouts");
    if (wait > config_get_long(cfg, "replica.lag.time.max.ms"))
        return config_fail(err, errlen,
                           "replica.fetch.wait.max.ms should always be less than or equal to "
                           "replica.lag.time.max.ms to prevent frequent changes in ISR");
    return 0;
}

static bool config_map_has(const config_t *cfg, const char *listener) {
    char **items =
        config_list_split(config_get_string(cfg, "listener.security.protocol.map"), NULL);
    size_t n = strlen(listener);
    bool found = false;
    for (size_t i = 0; items[i] && !found; i++)
        found = strncasecmp(items[i], listener, n) == 0 && items[i][n] == ':';
    config_list_free(items);
    return found;
}

/* Parses a listener list into an array (free it); NULL with err set when an
 * item is malformed. */
static config_listener_t *config_listeners(const char *key, const char *text, size_t *n, char *err,
                                           size_t errlen) {
    char **items = config_list_split(text, n);
    config_listener_t *ls = mem_calloc(*n ? *n : 1, sizeof *ls);
    for (size_t i = 0; i < *n; i++) {
        if (config_listener_parse(items[i], &ls[i]) < 0) {
            config_fail(err, errlen, "%s: '%s' is not of the form NAME://host:port", key, items[i]);
            free(ls);
            ls = NULL;
            break;
        }
    }
    config_list_free(items);
    return ls;
}

/* Names known to the protocol map and unique; for the bind list ports
 * unique too (0, "any port", may repeat), for the advertised list no
 * 0.0.0.0, which clients cannot connect to. */
static int config_check_listener_list(const config_t *cfg, const char *key,
                                      const config_listener_t *ls, size_t n, bool advertised,
                                      char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        if (!config_map_has(cfg, ls[i].name))
            return config_fail(
                err, errlen,
                "%s: no security protocol for listener %s in listener.security.protocol.map", key,
                ls[i].name);
        if (advertised && strcmp(ls[i].host, "0.0.0.0") == 0)
            return config_fail(err, errlen, "%s cannot use the nonroutable meta-address 0.0.0.0",
                               key);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ls[j].name, ls[i].name) == 0)
                return config_fail(err, errlen,
                                   "%s: each listener must have a different name, %s is repeated",
                                   key, ls[i].name);
            if (!advertised && ls[i].port != 0 && ls[i].port == ls[j].port)
                return config_fail(err, errlen,
                                   "%s: each listener must have a different port, %d is repeated",
                                   key, ls[i].port);
        }
    }
    return 0;
}

static bool config_listener_named(const config_listener_t *ls, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(ls[i].name, name) == 0)
            return true;
    return false;
}

static int config_check_listeners(const config_t *cfg, char *err, size_t errlen) {
    if (config_is_set(cfg, "inter.broker.listener.name") &&
        config_is_set(cfg, "security.inter.broker.protocol"))
        return config_fail(
            err, errlen,
            "only one of inter.broker.listener.name and security.inter.broker.protocol may be set");
    size_t nbind = 0, nadv = 0;
    config_listener_t *bind =
        config_listeners("listeners", config_get_string(cfg, "listeners"), &nbind, err, errlen);
    config_listener_t *adv =
        bind ? config_listeners("advertised.listeners", config_advertised_listeners(cfg), &nadv,
                                err, errlen)
             : NULL;
    int rc = -1;
    if (adv && config_check_listener_list(cfg, "listeners", bind, nbind, false, err, errlen) == 0 &&
        config_check_listener_list(cfg, "advertised.listeners", adv, nadv, true, err, errlen) ==
            0) {
        const char *ib = config_inter_broker_listener_name(cfg);
        rc = config_listener_named(adv, nadv, ib)
                 ? 0
                 : config_fail(err, errlen,
                               "inter.broker.listener.name %s must be a listener name defined in "
                               "advertised.listeners",
                               ib);
    }
    free(bind);
    free(adv);
    return rc;
}

static int config_check_offsets(const config_t *cfg, char *err, size_t errlen) {
    int32_t acks = config_get_int(cfg, "offsets.commit.required.acks");
    int32_t rf = config_get_int(cfg, "offsets.topic.replication.factor");
    if (acks < -1 || acks > rf)
        return config_fail(err, errlen,
                           "offsets.commit.required.acks %d must be at least -1 and at most "
                           "offsets.topic.replication.factor (%d)",
                           acks, rf);
    return 0;
}

static int config_check_queued_bytes(const config_t *cfg, char *err, size_t errlen) {
    int64_t bytes = config_get_long(cfg, "queued.max.request.bytes");
    int32_t request = config_get_int(cfg, "socket.request.max.bytes");
    if (bytes > 0 && bytes < request)
        return config_fail(
            err, errlen,
            "queued.max.request.bytes must be -1 or at least socket.request.max.bytes (%d)",
            request);
    return 0;
}

typedef int (*config_check_fn)(const config_t *cfg, char *err, size_t errlen);

static const config_check_fn config_checks[] = {
    config_check_broker_id,     config_check_zookeeper, config_check_log,
    config_check_replica_fetch, config_check_listeners, config_check_offsets,
    config_check_queued_bytes,
};

int config_validate(const config_t *cfg, char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof config_checks / sizeof config_checks[0]; i++)
        if (config_checks[i](cfg, err, errlen) < 0)
            return -1;
    return 0;
}

/* --- lists, listeners, versions -------------------------------------------------- */

char **config_list_split(const char *value, size_t *count) {
    size_t n = 0, cap = 4;
    char **items = mem_alloc(cap * sizeof *items);
    const char *p = value ? value : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *raw = mem_strndup(p, len);
        char *item = config_trim_dup(raw);
        free(raw);
        if (*item) {
            if (n + 1 >= cap)
                items = mem_realloc(items, (cap *= 2) * sizeof *items);
            items[n++] = item;
        } else {
            free(item);
        }
        p += len + (comma != NULL);
    }
    items[n] = NULL;
    if (count)
        *count = n;
    return items;
}

void config_list_free(char **items) {
    if (!items)
        return;
    for (char **p = items; *p; p++)
        free(*p);
    free(items);
}

/* Kafka's EndPoint pattern: NAME://host:port, host [0-9a-zA-Z-%._:]* and
 * optionally bracketed. */
static bool config_host_ok(const char *host, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)host[i]) && !strchr("-%._:", host[i]))
            return false;
    return true;
}

static int config_listener_address(const char *addr, config_listener_t *out) {
    const char *host = addr, *colon;
    size_t hlen;
    if (*addr == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        host = addr + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - addr);
    }
    int64_t port;
    if (!config_host_ok(host, hlen) || hlen >= sizeof out->host ||
        !isdigit((unsigned char)colon[1]) || !config_parse_i64(colon + 1, &port) || port > 65535)
        return -1;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (int)port;
    return 0;
}

int config_listener_parse(const char *text, config_listener_t *out) {
    const char *sep = strstr(text, "://");
    if (!sep || sep == text || (size_t)(sep - text) >= sizeof out->name)
        return -1;
    for (size_t i = 0; i < (size_t)(sep - text); i++)
        out->name[i] = (char)toupper((unsigned char)text[i]);
    out->name[sep - text] = '\0';
    return config_listener_address(sep + 3, out);
}

/* As ApiVersion.apply: keep the first three dot-separated parts of a 0.x
 * version and the first two of any other, then match a full version
 * ("2.7-IV1") or a short one ("2.7", the newest of its release). */
int config_api_version_rank(const char *version) {
    size_t keep = strncmp(version, "0.", 2) == 0 ? 3 : 2, n = 0, dots = 0;
    while (version[n] && !(version[n] == '.' && ++dots == keep))
        n++;
    int rank = -1;
    for (size_t i = 0; i < CONFIG_NVERSIONS; i++) {
        const char *v = config_api_versions[i];
        const char *iv = strstr(v, "-IV");
        size_t short_len = iv ? (size_t)(iv - v) : strlen(v);
        if (strlen(v) == n && strncmp(v, version, n) == 0)
            return (int)i;
        if (short_len == n && strncmp(v, version, n) == 0)
            rank = (int)i;
    }
    return rank;
}

/* --- topic configs ----------------------------------------------------------------- */

config_topic_t *config_topic_new(const config_t *broker) {
    config_topic_t *t = mem_calloc(1, sizeof *t);
    t->broker = broker;
    return t;
}

void config_topic_free(config_topic_t *topic) {
    if (!topic)
        return;
    for (size_t i = 0; i < CONFIG_NTOPIC; i++)
        free(topic->vals[i].text);
    free(topic);
}

int config_topic_set(config_topic_t *topic, const char *key, const char *value, char *err,
                     size_t errlen) {
    const config_topic_def_t *def = config_topic_def_find(key);
    if (!def)
        return config_fail(err, errlen, "unknown topic config '%s'", key);
    config_value_t *slot = &topic->vals[def - config_topic_defs];
    if (!value) {
        free(slot->text);
        *slot = (config_value_t){0};
        return 0;
    }
    char *text = config_trim_dup(value);
    config_value_t v;
    if (config_value_parse(&def->def, text, &v, err, errlen) < 0) {
        free(text);
        return -1;
    }
    free(slot->text);
    v.text = text;
    *slot = v;
    return 0;
}

bool config_topic_is_set(const config_topic_t *topic, const char *key) {
    const config_topic_def_t *def = config_topic_def_find(key);
    if (!def)
        config_misuse(__func__, key, "no such topic key");
    return topic->vals[def - config_topic_defs].text != NULL;
}

/* The override of key (NULL when none) after checking the key and type. */
static const config_value_t *config_topic_typed(const config_topic_t *topic, const char *key,
                                                config_type_t type, const char *fn,
                                                const config_topic_def_t **def_out) {
    const config_topic_def_t *def = config_topic_def_find(key);
    if (!def)
        config_misuse(fn, key, "no such topic key");
    config_type_t have = def->def.type;
    if (have != type && !(type == CONFIG_STRING && have == CONFIG_LIST)) {
        char what[64];
        snprintf(what, sizeof what, "the key is of type %s, not %s", config_type_names[have],
                 config_type_names[type]);
        config_misuse(fn, key, what);
    }
    *def_out = def;
    const config_value_t *v = &topic->vals[def - config_topic_defs];
    return v->text ? v : NULL;
}

/* Broker keys whose value in effect comes from several keys. */
static const struct {
    const char *key;
    int64_t (*value)(const config_t *cfg);
} config_derived[] = {
    {"log.retention.ms", config_log_retention_ms},
    {"log.roll.ms", config_log_roll_ms},
    {"log.roll.jitter.ms", config_log_roll_jitter_ms},
    {"log.flush.interval.ms", config_log_flush_interval_ms},
};

static int64_t config_broker_long(const config_t *cfg, const char *key) {
    for (size_t i = 0; i < sizeof config_derived / sizeof config_derived[0]; i++)
        if (strcmp(config_derived[i].key, key) == 0)
            return config_derived[i].value(cfg);
    return config_get_long(cfg, key);
}

int32_t config_topic_get_int(const config_topic_t *topic, const char *key) {
    const config_topic_def_t *def;
    const config_value_t *v = config_topic_typed(topic, key, CONFIG_INT, __func__, &def);
    return v ? (int32_t)v->i : config_get_int(topic->broker, def->broker_key);
}

int64_t config_topic_get_long(const config_topic_t *topic, const char *key) {
    const config_topic_def_t *def;
    const config_value_t *v = config_topic_typed(topic, key, CONFIG_LONG, __func__, &def);
    return v ? v->i : config_broker_long(topic->broker, def->broker_key);
}

double config_topic_get_double(const config_topic_t *topic, const char *key) {
    const config_topic_def_t *def;
    const config_value_t *v = config_topic_typed(topic, key, CONFIG_DOUBLE, __func__, &def);
    return v ? v->d : config_get_double(topic->broker, def->broker_key);
}

bool config_topic_get_bool(const config_topic_t *topic, const char *key) {
    const config_topic_def_t *def;
    const config_value_t *v = config_topic_typed(topic, key, CONFIG_BOOL, __func__, &def);
    return v ? v->i != 0 : config_get_bool(topic->broker, def->broker_key);
}

const char *config_topic_get_string(const config_topic_t *topic, const char *key) {
    const config_topic_def_t *def;
    const config_value_t *v = config_topic_typed(topic, key, CONFIG_STRING, __func__, &def);
    return v ? v->text : config_get_string(topic->broker, def->broker_key);
}

/* --- the .properties reader --------------------------------------------------------
 * Follows java.util.Properties.load: a logical line is a natural line plus
 * the lines it continues into with an odd number of trailing backslashes
 * (leading whitespace of a continuation line is skipped); comment and blank
 * lines never continue. */

typedef struct props_reader {
    const char *p;
    const char *end;
    int line; /* number of the natural line p is on */
} props_reader_t;

static bool props_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }
static bool props_eol(char c) { return c == '\n' || c == '\r'; }

static void props_skip_blanks(props_reader_t *r) {
    while (r->p < r->end && props_blank(*r->p))
        r->p++;
}

static void props_skip_past_eol(props_reader_t *r) {
    while (r->p < r->end && !props_eol(*r->p))
        r->p++;
    if (r->p == r->end)
        return;
    if (*r->p++ == '\r' && r->p < r->end && *r->p == '\n')
        r->p++;
    r->line++;
}

/* Skips blank and comment lines; false at the end of the text. */
static bool props_skip_ignorable(props_reader_t *r) {
    for (;;) {
        props_skip_blanks(r);
        if (r->p == r->end)
            return false;
        if (!props_eol(*r->p) && *r->p != '#' && *r->p != '!')
            return true;
        props_skip_past_eol(r);
    }
}

/* Appends the rest of the natural line to out; true when it continues (its
 * continuation backslash is not appended). */
static bool props_take_natural(props_reader_t *r, buf_t *out) {
    const char *s = r->p;
    while (r->p < r->end && !props_eol(*r->p))
        r->p++;
    size_t n = (size_t)(r->p - s), backslashes = 0;
    while (backslashes < n && s[n - 1 - backslashes] == '\\')
        backslashes++;
    bool more = backslashes % 2 == 1;
    buf_append(out, s, more ? n - 1 : n);
    props_skip_past_eol(r);
    return more;
}

/* The next logical line, still escaped, NUL-terminated in out; *line is the
 * number of its first natural line. False at the end of the text. */
static bool props_next_line(props_reader_t *r, buf_t *out, int *line) {
    if (!props_skip_ignorable(r))
        return false;
    *line = r->line;
    buf_reset(out);
    while (props_take_natural(r, out) && r->p < r->end)
        props_skip_blanks(r);
    buf_append(out, "", 1);
    out->len--;
    return true;
}

typedef struct props_pair {
    size_t key_len;  /* the key is line[0 .. key_len) */
    size_t value_at; /* the value is line[value_at .. len) */
    bool has_sep;    /* '=' or ':' seen */
} props_pair_t;

/* The key ends at the first unescaped '=', ':' or blank; then blanks and at
 * most one '=' or ':' are skipped. */
static props_pair_t props_split(const char *line, size_t len) {
    props_pair_t pp = {0, 0, false};
    bool escaped = false;
    while (pp.key_len < len) {
        char c = line[pp.key_len];
        if (!escaped && (c == '=' || c == ':' || props_blank(c)))
            break;
        escaped = !escaped && c == '\\';
        pp.key_len++;
    }
    size_t v = pp.key_len;
    if (v < len) {
        pp.has_sep = line[v] == '=' || line[v] == ':';
        v++;
    }
    while (v < len &&
           (props_blank(line[v]) || (!pp.has_sep && (line[v] == '=' || line[v] == ':')))) {
        pp.has_sep = pp.has_sep || !props_blank(line[v]);
        v++;
    }
    pp.value_at = v;
    return pp;
}

static int props_hex4(const char *s, size_t n, unsigned *out) {
    if (n < 4)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        char c = s[i];
        if (!isxdigit((unsigned char)c))
            return -1;
        v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0'
                                                          : (tolower((unsigned char)c) - 'a' + 10));
    }
    *out = v;
    return 0;
}

static void props_put_utf8(buf_t *out, unsigned cp) {
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12), b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18), b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
        b[3] = (unsigned char)(0x80 | (cp & 0x3F)), n = 4;
    }
    buf_append(out, b, n);
}

/* Decodes \uXXXX at s (just after the 'u'), joining a UTF-16 surrogate pair;
 * returns the characters consumed after the 'u', or -1 if malformed. */
static int props_unicode(const char *s, size_t n, buf_t *out) {
    unsigned hi, lo;
    if (props_hex4(s, n, &hi) < 0)
        return -1;
    if (hi >= 0xD800 && hi < 0xDC00 && n >= 10 && s[4] == '\\' && s[5] == 'u' &&
        props_hex4(s + 6, n - 6, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
        props_put_utf8(out, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
        return 10;
    }
    props_put_utf8(out, hi >= 0xD800 && hi < 0xE000 ? 0xFFFD : hi);
    return 4;
}

static char props_escape(char c) {
    switch (c) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    default:
        return c;
    }
}

/* Decodes s[0..n) into out (NUL-terminated), dropping trailing blanks that
 * were not escaped. Returns -1 on a malformed \uXXXX. */
static int props_unescape(const char *s, size_t n, buf_t *out) {
    buf_reset(out);
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            buf_append(out, &s[i], 1);
            if (!props_blank(s[i]))
                keep = out->len;
            continue;
        }
        if (++i == n)
            break;
        if (s[i] == 'u') {
            int used = props_unicode(s + i + 1, n - i - 1, out);
            if (used < 0)
                return -1;
            i += (size_t)used;
        } else {
            char c = props_escape(s[i]);
            buf_append(out, &c, 1);
        }
        keep = out->len;
    }
    out->len = keep;
    buf_append(out, "", 1);
    return 0;
}

typedef struct props_parser {
    const char *name;
    config_property_fn fn;
    void *ctx;
    char *err;
    size_t errlen;
    buf_t key;
    buf_t value;
} props_parser_t;

static int props_located(props_parser_t *ps, int line) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, ":%d: ", line);
    config_prefix_err(ps->err, ps->errlen, prefix);
    config_prefix_err(ps->err, ps->errlen, ps->name);
    return -1;
}

static int props_handle(props_parser_t *ps, const char *line, size_t len, int ln) {
    props_pair_t pp = props_split(line, len);
    size_t shown = len;
    while (shown > 0 && props_blank(line[shown - 1]))
        shown--;
    if (pp.key_len == 0 || (!pp.has_sep && pp.value_at >= len)) {
        config_fail(ps->err, ps->errlen, "unparsable line '%.*s': expected key=value", (int)shown,
                    line);
        return props_located(ps, ln);
    }
    if (props_unescape(line, pp.key_len, &ps->key) < 0 ||
        props_unescape(line + pp.value_at, len - pp.value_at, &ps->value) < 0) {
        config_fail(ps->err, ps->errlen, "malformed \\uXXXX escape in line '%.*s'", (int)shown,
                    line);
        return props_located(ps, ln);
    }
    if (ps->fn(ps->ctx, (const char *)ps->key.data, (const char *)ps->value.data, ln, ps->err,
               ps->errlen) < 0)
        return props_located(ps, ln);
    return 0;
}

int config_properties_parse(const char *text, size_t len, const char *name, config_property_fn fn,
                            void *ctx, char *err, size_t errlen) {
    if (len && memchr(text, '\0', len))
        return config_fail(err, errlen, "%s: contains a NUL byte, not a properties file", name);
    props_parser_t ps = {name, fn, ctx, err, errlen, BUF_INIT, BUF_INIT};
    props_reader_t r = {text, text + len, 1};
    buf_t line = BUF_INIT;
    int ln = 0, rc = 0;
    while (rc == 0 && props_next_line(&r, &line, &ln))
        rc = props_handle(&ps, (const char *)line.data, line.len, ln);
    buf_free(&line);
    buf_free(&ps.key);
    buf_free(&ps.value);
    return rc;
}
