/* The broker configuration: defaults, the .properties syntax, messages,
 * overrides, derived values, topic overrides and the shipped conf/ files. */
#include "unit.h"

/* By path: the build's autoconf header is also called config.h and comes
 * first on the include path. */
#include "util/config.h"
#include "util/logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A temp dir with one file in it; path receives the file's path. */
typedef struct scratch {
    char *dir;
    char path[4200];
} scratch_t;

static void scratch_write(scratch_t *s, const char *name, const char *text) {
    if (!s->dir)
        s->dir = unit_mkdtemp();
    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    FILE *f = fopen(s->path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void scratch_done(scratch_t *s) {
    unit_rmtree(s->dir);
    free(s->dir);
}

/* Loads text as <tmp>/name into a fresh config; returns the load's result. */
static int load(config_t **cfg, scratch_t *s, const char *name, const char *text, char *err,
                size_t errlen) {
    scratch_write(s, name, text);
    *cfg = config_new();
    err[0] = '\0';
    return config_load_file(*cfg, s->path, err, errlen);
}

/* Expects loading text to fail with "<path>:<line>: <msg>". */
static void expect_load_error(const char *text, int line, const char *msg) {
    scratch_t s = {0};
    config_t *cfg;
    char err[512], want[5000];
    CU_ASSERT_EQUAL(load(&cfg, &s, "server.properties", text, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:%d: %s", s.path, line, msg);
    CU_ASSERT_STRING_EQUAL(err, want);
    if (strcmp(err, want) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, want);
    config_free(cfg);
    scratch_done(&s);
}

static void test_defaults(void) {
    config_t *cfg = config_new();
    CU_ASSERT_EQUAL(config_get_int(cfg, "broker.id"), -1);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.partitions"), 1);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.network.threads"), 3);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.io.threads"), 8);
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.segment.bytes"), 1073741824);
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.roll.hours"), 168);
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.retention.hours"), 168);
    CU_ASSERT_EQUAL(config_get_long(cfg, "log.retention.bytes"), -1);
    CU_ASSERT_EQUAL(config_get_long(cfg, "log.retention.check.interval.ms"), 300000);
    CU_ASSERT_EQUAL(config_get_long(cfg, "log.segment.delete.delay.ms"), 60000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.index.size.max.bytes"), 10485760);
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.index.interval.bytes"), 4096);
    CU_ASSERT_EQUAL(config_get_long(cfg, "log.flush.interval.messages"), INT64_MAX);
    CU_ASSERT_FALSE(config_is_set(cfg, "log.flush.interval.ms"));
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.flush.offset.checkpoint.interval.ms"), 60000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "log.flush.start.offset.checkpoint.interval.ms"), 60000);
    CU_ASSERT_FALSE(config_get_bool(cfg, "log.preallocate"));
    CU_ASSERT_EQUAL(config_get_int(cfg, "message.max.bytes"), 1048588);
    CU_ASSERT_EQUAL(config_get_int(cfg, "zookeeper.session.timeout.ms"), 18000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "zookeeper.max.in.flight.requests"), 10);
    CU_ASSERT_EQUAL(config_get_long(cfg, "replica.lag.time.max.ms"), 30000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "replica.fetch.wait.max.ms"), 500);
    CU_ASSERT_EQUAL(config_get_int(cfg, "replica.fetch.min.bytes"), 1);
    CU_ASSERT_EQUAL(config_get_int(cfg, "replica.fetch.max.bytes"), 1048576);
    CU_ASSERT_EQUAL(config_get_int(cfg, "replica.fetch.response.max.bytes"), 10485760);
    CU_ASSERT_EQUAL(config_get_int(cfg, "replica.fetch.backoff.ms"), 1000);
    CU_ASSERT_EQUAL(config_get_long(cfg, "replica.high.watermark.checkpoint.interval.ms"), 5000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.replica.fetchers"), 1);
    CU_ASSERT_EQUAL(config_get_int(cfg, "socket.request.max.bytes"), 104857600);
    CU_ASSERT_EQUAL(config_get_int(cfg, "socket.send.buffer.bytes"), 102400);
    CU_ASSERT_EQUAL(config_get_long(cfg, "connections.max.idle.ms"), 600000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "queued.max.requests"), 500);
    CU_ASSERT_EQUAL(config_get_int(cfg, "offsets.topic.num.partitions"), 50);
    CU_ASSERT_EQUAL(config_get_int(cfg, "offsets.topic.replication.factor"), 3);
    CU_ASSERT_EQUAL(config_get_int(cfg, "offsets.topic.segment.bytes"), 104857600);
    CU_ASSERT_EQUAL(config_get_int(cfg, "offsets.retention.minutes"), 10080);
    CU_ASSERT_EQUAL(config_get_long(cfg, "offsets.retention.check.interval.ms"), 600000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "offsets.commit.timeout.ms"), 5000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "offset.metadata.max.bytes"), 4096);
    CU_ASSERT_EQUAL(config_get_int(cfg, "group.min.session.timeout.ms"), 6000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "group.max.session.timeout.ms"), 1800000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "group.initial.rebalance.delay.ms"), 3000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "group.max.size"), INT32_MAX);
    CU_ASSERT_EQUAL(config_get_int(cfg, "transaction.state.log.replication.factor"), 3);
    CU_ASSERT_EQUAL(config_get_int(cfg, "transaction.state.log.min.isr"), 2);
    CU_ASSERT_EQUAL(config_get_int(cfg, "min.insync.replicas"), 1);
    CU_ASSERT_EQUAL(config_get_int(cfg, "default.replication.factor"), 1);
    CU_ASSERT_FALSE(config_get_bool(cfg, "unclean.leader.election.enable"));
    CU_ASSERT_TRUE(config_get_bool(cfg, "auto.create.topics.enable"));
    CU_ASSERT_TRUE(config_get_bool(cfg, "delete.topic.enable"));
    CU_ASSERT_TRUE(config_get_bool(cfg, "controlled.shutdown.enable"));
    CU_ASSERT_EQUAL(config_get_int(cfg, "controlled.shutdown.max.retries"), 3);
    CU_ASSERT_EQUAL(config_get_long(cfg, "controlled.shutdown.retry.backoff.ms"), 5000);
    CU_ASSERT_TRUE(config_get_bool(cfg, "auto.leader.rebalance.enable"));
    CU_ASSERT_EQUAL(config_get_long(cfg, "leader.imbalance.check.interval.seconds"), 300);
    CU_ASSERT_EQUAL(config_get_int(cfg, "leader.imbalance.per.broker.percentage"), 10);
    CU_ASSERT_EQUAL(config_get_int(cfg, "reserved.broker.max.id"), 1000);
    CU_ASSERT_TRUE(config_get_bool(cfg, "broker.id.generation.enable"));
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.recovery.threads.per.data.dir"), 1);
    CU_ASSERT_EQUAL(config_get_int(cfg, "request.timeout.ms"), 30000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "controller.socket.timeout.ms"), 30000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "fetch.purgatory.purge.interval.requests"), 1000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "producer.purgatory.purge.interval.requests"), 1000);
    CU_ASSERT_EQUAL(config_get_int(cfg, "fetch.max.bytes"), 57671680);
    CU_ASSERT_EQUAL(config_get_long(cfg, "log.message.timestamp.difference.max.ms"), INT64_MAX);
    CU_ASSERT_DOUBLE_EQUAL(config_get_double(cfg, "log.cleaner.min.cleanable.ratio"), 0.5, 1e-12);
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "listeners"), "PLAINTEXT://:9092");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.dir"), "/tmp/kafka-logs");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "compression.type"), "producer");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.cleanup.policy"), "delete");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.message.timestamp.type"), "CreateTime");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "inter.broker.protocol.version"), "2.8-IV1");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.message.format.version"), "2.8-IV1");
    CU_ASSERT_STRING_EQUAL(
        config_get_string(cfg, "listener.security.protocol.map"),
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL");
    CU_ASSERT_PTR_NULL(config_get_string(cfg, "zookeeper.connect"));
    CU_ASSERT_PTR_NULL(config_get_string(cfg, "advertised.listeners"));
    CU_ASSERT_PTR_NULL(config_get_string(cfg, "broker.rack"));
    CU_ASSERT_FALSE(config_is_set(cfg, "broker.id"));
    CU_ASSERT_EQUAL(config_unknown_count(cfg), 0);
    config_free(cfg);
}

/* Every row's default parses (config_new aborts otherwise), and no key is
 * listed twice. */
static void test_table_is_consistent(void) {
    config_free(config_new());
    size_t n = 0;
    for (const config_def_t *d; (d = config_def_at(n)) != NULL; n++) {
        CU_ASSERT_PTR_NOT_NULL(d->doc);
        CU_ASSERT_PTR_EQUAL(config_def_find(d->name), d);
    }
    CU_ASSERT(n >= 100);
    for (size_t i = 0; config_topic_def_at(i); i++) {
        const config_topic_def_t *t = config_topic_def_at(i);
        const config_def_t *b = config_def_find(t->broker_key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_EQUAL(b->type, t->def.type);
        CU_ASSERT_PTR_EQUAL(config_topic_def_find(t->def.name), t);
    }
}

static void test_set_and_types(void) {
    config_t *cfg = config_new();
    char err[256];
    CU_ASSERT_EQUAL(config_set(cfg, "num.partitions", " 6 ", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.partitions"), 6);
    CU_ASSERT_TRUE(config_is_set(cfg, "num.partitions"));
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.bytes", "-1", err, sizeof err), 0);
    CU_ASSERT_TRUE(config_is_set(cfg, "log.retention.bytes"));
    CU_ASSERT_EQUAL(config_set(cfg, "log.preallocate", "TRUE", err, sizeof err), 0);
    CU_ASSERT_TRUE(config_get_bool(cfg, "log.preallocate"));
    CU_ASSERT_EQUAL(config_set(cfg, "log.cleanup.policy", "compact, delete", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.cleanup.policy"), "compact, delete");
    CU_ASSERT_EQUAL(config_set(cfg, "log.cleaner.min.cleanable.ratio", "0.25", err, sizeof err), 0);
    CU_ASSERT_DOUBLE_EQUAL(config_get_double(cfg, "log.cleaner.min.cleanable.ratio"), 0.25, 1e-12);
    CU_ASSERT_EQUAL(config_set(cfg, "inter.broker.protocol.version", "2.7", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "inter.broker.protocol.version"), "2.7");

    CU_ASSERT_EQUAL(config_set(cfg, "log.preallocate", "yes", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value 'yes' for log.preallocate: expected true or false");
    CU_ASSERT_EQUAL(config_set(cfg, "num.partitions", "3000000000", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(
        err, "invalid value '3000000000' for num.partitions: expected a 32-bit integer");
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.bytes", "99999999999999999999", err, sizeof err),
                    -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value '99999999999999999999' for log.retention.bytes: "
                                "expected a 64-bit integer");
    CU_ASSERT_EQUAL(config_set(cfg, "num.partitions", "", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value '' for num.partitions: expected an integer");
    CU_ASSERT_EQUAL(config_set(cfg, "log.cleaner.min.cleanable.ratio", "1.5", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(
        err, "invalid value '1.5' for log.cleaner.min.cleanable.ratio: must be at most 1");
    CU_ASSERT_EQUAL(config_set(cfg, "offsets.topic.replication.factor", "40000", err, sizeof err),
                    -1);
    CU_ASSERT_STRING_EQUAL(
        err, "invalid value '40000' for offsets.topic.replication.factor: must be at most 32767");
    CU_ASSERT_EQUAL(config_set(cfg, "inter.broker.protocol.version", "2.9", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value '2.9' for inter.broker.protocol.version: "
                                "expected a Kafka version such as 2.8-IV1 or 2.7");
    CU_ASSERT_EQUAL(config_set(cfg, "log.cleanup.policy", "delete,forever", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value 'delete,forever' for log.cleanup.policy: "
                                "each item must be one of delete, compact");
    CU_ASSERT_EQUAL(
        config_set(cfg, "listeners", "PLAINTEXT://:9092,127.0.0.1:9093", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value 'PLAINTEXT://:9092,127.0.0.1:9093' for listeners: "
                                "'127.0.0.1:9093' is not of the form NAME://host:port");
    /* A rejected value leaves the previous one. */
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.partitions"), 6);
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.cleanup.policy"), "compact, delete");
    config_free(cfg);
}

static void test_bad_integer_message(void) {
    expect_load_error("# comment\nbroker.id=0\nnum.partitions=abc\n", 3,
                      "invalid value 'abc' for num.partitions: expected an integer");
}

static void test_unparsable_line(void) {
    expect_load_error("broker.id=0\n\n# fine so far\n\n\n\ngarbage\nnum.partitions=2\n", 7,
                      "unparsable line 'garbage': expected key=value");
    expect_load_error("=value\n", 1, "unparsable line '=value': expected key=value");
    expect_load_error("broker.id=1\nb=\\u12G4\n", 2,
                      "malformed \\uXXXX escape in line 'b=\\u12G4'");
}

static void test_out_of_range_and_enum(void) {
    expect_load_error("num.partitions=0\n", 1,
                      "invalid value '0' for num.partitions: must be at least 1");
    expect_load_error("log.segment.bytes = 13\n", 1,
                      "invalid value '13' for log.segment.bytes: must be at least 14");
    expect_load_error("\n\ncompression.type=brotli\n", 3,
                      "invalid value 'brotli' for compression.type: "
                      "must be one of uncompressed, zstd, lz4, snappy, gzip, producer");
    expect_load_error("log.message.timestamp.type=createtime\n", 1,
                      "invalid value 'createtime' for log.message.timestamp.type: "
                      "must be one of CreateTime, LogAppendTime");
}

static void test_syntax(void) {
    scratch_t s = {0};
    config_t *cfg;
    char err[512];
    const char *text = "# a comment\n"
                       "! another comment \\\n"
                       "num.partitions=2\n"
                       "   \t\n"
                       "  broker.id : 7\n"
                       "num.io.threads 12\n"
                       "log.dirs = /data/a,\\\n"
                       "           /data/b   \n"
                       "broker.rack=rack\\u0031\\t\\\\x\n"
                       "zookeeper.connect\t=\tzk1:2181/samsa\r\n"
                       "num.partitions=4\n"
                       "log.dir\\=odd=1\n"
                       "advertised.listeners=PLAINTEXT://h\\:9092";
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_ERROR); /* log.dir=odd is unknown */
    int rc = load(&cfg, &s, "syntax.properties", text, err, sizeof err);
    logger_set_level(level);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.partitions"), 4); /* the last one wins */
    CU_ASSERT_EQUAL(config_get_int(cfg, "broker.id"), 7);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.io.threads"), 12);
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.dirs"), "/data/a,/data/b");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "broker.rack"), "rack1\t\\x");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "zookeeper.connect"), "zk1:2181/samsa");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "advertised.listeners"), "PLAINTEXT://h:9092");
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "log.dir=odd"), "1");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "log.dir"), "/tmp/kafka-logs");
    config_free(cfg);
    scratch_done(&s);
}

typedef struct pairs {
    char text[1024];
} pairs_t;

static int collect(void *ctx, const char *key, const char *value, int line, char *err,
                   size_t errlen) {
    (void)err, (void)errlen;
    pairs_t *p = ctx;
    size_t n = strlen(p->text);
    snprintf(p->text + n, sizeof p->text - n, "%d[%s]=[%s]\n", line, key, value);
    return 0;
}

/* The reader on its own: Java's separator rules, escaped trailing blanks,
 * UTF-8 from \u escapes, CR and CRLF line ends, a continued line that looks
 * like a comment. */
static void test_properties_reader(void) {
    const char *text = "a=b=c\n"
                       "k  =  = v\n"
                       "sp = x\\ \n"
                       "u=\\u00e9\\u20ac\\ud83d\\ude00\r"
                       "c=1,\\\r\n"
                       "  #2\n"
                       "key\\ with\\ blanks:v\n"
                       "e=\n";
    pairs_t p = {""};
    char err[256];
    CU_ASSERT_EQUAL(config_properties_parse(text, strlen(text), "t", collect, &p, err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(p.text, "1[a]=[b=c]\n"
                                   "2[k]=[= v]\n"
                                   "3[sp]=[x ]\n"
                                   "4[u]=[\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80]\n"
                                   "5[c]=[1,#2]\n"
                                   "7[key with blanks]=[v]\n"
                                   "8[e]=[]\n");
    CU_ASSERT_EQUAL(config_properties_parse("x\0y", 3, "bin", collect, &p, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "bin: contains a NUL byte, not a properties file");
}

static void test_missing_file(void) {
    config_t *cfg = config_new();
    char err[512];
    CU_ASSERT_EQUAL(config_load_file(cfg, "/nonexistent/samsa.properties", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err,
                           "cannot open /nonexistent/samsa.properties: No such file or directory");
    config_free(cfg);
}

static void test_overrides(void) {
    scratch_t s = {0};
    config_t *cfg;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(
        load(&cfg, &s, "server.properties", "broker.id=1\nnum.partitions=3\n", err, sizeof err), 0);
    char *argv[] = {"--override",
                    "num.partitions=8",
                    "--override=broker.rack=r 1",
                    "--override",
                    "zookeeper.connect=a:1,b:2/x=y",
                    "extra",
                    "--override",
                    "broker.id=9"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    CU_ASSERT_EQUAL(config_apply_args(cfg, argc, argv, err, sizeof err), 5);
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.partitions"), 8);
    CU_ASSERT_EQUAL(config_get_int(cfg, "broker.id"), 1); /* after "extra": not applied */
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "broker.rack"), "r 1");
    CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "zookeeper.connect"), "a:1,b:2/x=y");
    CU_ASSERT_EQUAL(config_apply_args(cfg, 0, argv, err, sizeof err), 0);

    char *bad[] = {"--override", "num.partitions=lots"};
    CU_ASSERT_EQUAL(config_apply_args(cfg, 2, bad, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(
        err, "--override: invalid value 'lots' for num.partitions: expected an integer");
    CU_ASSERT_EQUAL(config_get_int(cfg, "num.partitions"), 8);
    char *novalue[] = {"--override", "num.partitions"};
    CU_ASSERT_EQUAL(config_apply_args(cfg, 2, novalue, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--override 'num.partitions': expected key=value");
    char *noarg[] = {"--override"};
    CU_ASSERT_EQUAL(config_apply_args(cfg, 1, noarg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--override needs an argument key=value");
    config_free(cfg);
    scratch_done(&s);
}

static void test_retention_and_roll(void) {
    config_t *cfg = config_new();
    char err[256];
    CU_ASSERT_EQUAL(config_log_retention_ms(cfg), 168 * 3600000LL);
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.hours", "24", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_retention_ms(cfg), 24 * 3600000LL);
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.minutes", "90", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_retention_ms(cfg), 90 * 60000LL);
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.ms", "1234", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_retention_ms(cfg), 1234);
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.ms", "-5", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_retention_ms(cfg), -1);

    CU_ASSERT_EQUAL(config_log_roll_ms(cfg), 168 * 3600000LL);
    CU_ASSERT_EQUAL(config_set(cfg, "log.roll.hours", "2", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_roll_ms(cfg), 2 * 3600000LL);
    CU_ASSERT_EQUAL(config_set(cfg, "log.roll.ms", "5000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_roll_ms(cfg), 5000);
    CU_ASSERT_EQUAL(config_log_roll_jitter_ms(cfg), 0);
    CU_ASSERT_EQUAL(config_set(cfg, "log.roll.jitter.hours", "1", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_roll_jitter_ms(cfg), 3600000);
    CU_ASSERT_EQUAL(config_set(cfg, "log.roll.ms", "0", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value '0' for log.roll.ms: must be at least 1");

    CU_ASSERT_EQUAL(config_log_flush_interval_ms(cfg), INT64_MAX);
    CU_ASSERT_EQUAL(config_set(cfg, "log.flush.interval.ms", "1000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_log_flush_interval_ms(cfg), 1000);

    CU_ASSERT_EQUAL(config_zk_connection_timeout_ms(cfg), 18000);
    CU_ASSERT_EQUAL(config_set(cfg, "zookeeper.session.timeout.ms", "6000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_zk_connection_timeout_ms(cfg), 6000);
    CU_ASSERT_EQUAL(config_set(cfg, "zookeeper.connection.timeout.ms", "4000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_zk_connection_timeout_ms(cfg), 4000);
    config_free(cfg);
}

static void test_log_dirs_and_listeners(void) {
    config_t *cfg = config_new();
    char err[256];
    CU_ASSERT_STRING_EQUAL(config_log_dirs(cfg), "/tmp/kafka-logs");
    CU_ASSERT_EQUAL(config_set(cfg, "log.dir", "/var/samsa", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(config_log_dirs(cfg), "/var/samsa");
    CU_ASSERT_EQUAL(config_set(cfg, "log.dirs", " /d1 , ,/d2,", err, sizeof err), 0);
    size_t n;
    char **dirs = config_list_split(config_log_dirs(cfg), &n);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(dirs[0], "/d1");
    CU_ASSERT_STRING_EQUAL(dirs[1], "/d2");
    CU_ASSERT_PTR_NULL(dirs[2]);
    config_list_free(dirs);

    CU_ASSERT_STRING_EQUAL(config_advertised_listeners(cfg), "PLAINTEXT://:9092");
    CU_ASSERT_STRING_EQUAL(config_inter_broker_listener_name(cfg), "PLAINTEXT");
    config_listener_t l;
    CU_ASSERT_EQUAL(config_listener_parse("internal://[::1]:9093", &l), 0);
    CU_ASSERT_STRING_EQUAL(l.name, "INTERNAL");
    CU_ASSERT_STRING_EQUAL(l.host, "::1");
    CU_ASSERT_EQUAL(l.port, 9093);
    CU_ASSERT_EQUAL(config_listener_parse("PLAINTEXT://:9092", &l), 0);
    CU_ASSERT_STRING_EQUAL(l.host, "");
    CU_ASSERT_EQUAL(config_listener_parse("PLAINTEXT://host:99999", &l), -1);
    CU_ASSERT_EQUAL(config_listener_parse("PLAINTEXT://host", &l), -1);
    config_free(cfg);
}

static void test_api_versions(void) {
    CU_ASSERT_EQUAL(config_api_version_rank("0.8.0"), 0);
    CU_ASSERT_EQUAL(config_api_version_rank("0.8.2.1"), 2);
    CU_ASSERT_EQUAL(config_api_version_rank("0.10.0"), config_api_version_rank("0.10.0-IV1"));
    CU_ASSERT_EQUAL(config_api_version_rank("1.0.0-IV0"), config_api_version_rank("1.0-IV0"));
    CU_ASSERT_EQUAL(config_api_version_rank("2.7"), config_api_version_rank("2.7-IV2"));
    CU_ASSERT_EQUAL(config_api_version_rank("2.8"), 32);
    CU_ASSERT_EQUAL(config_api_version_rank("2.8-IV1"), 32);
    CU_ASSERT(config_api_version_rank("2.4-IV1") < config_api_version_rank("2.7-IV0"));
    CU_ASSERT_EQUAL(config_api_version_rank("2.8-IV2"), -1);
    CU_ASSERT_EQUAL(config_api_version_rank("3.0"), -1);
    CU_ASSERT_EQUAL(config_api_version_rank(""), -1);
}

static void test_validate(void) {
    config_t *cfg = config_new();
    char err[256];
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err,
                           "zookeeper.connect is required (host:port[,host:port...][/chroot])");
    CU_ASSERT_EQUAL(config_set(cfg, "zookeeper.connect", "127.0.0.1:2181", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), 0);

    CU_ASSERT_EQUAL(config_set(cfg, "broker.id", "1001", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(
        err, "broker.id 1001 must be at least -1 and at most reserved.broker.max.id (1000)");
    CU_ASSERT_EQUAL(config_set(cfg, "broker.id", "1", err, sizeof err), 0);

    CU_ASSERT_EQUAL(config_set(cfg, "replica.fetch.wait.max.ms", "40000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(
        err, "replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms "
             "to prevent unnecessary socket timeouts");
    CU_ASSERT_EQUAL(config_set(cfg, "replica.fetch.wait.max.ms", "500", err, sizeof err), 0);

    CU_ASSERT_EQUAL(config_set(cfg, "listeners", "PLAINTEXT://0.0.0.0:9092", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err,
                           "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0");
    CU_ASSERT_EQUAL(
        config_set(cfg, "advertised.listeners", "PLAINTEXT://10.0.0.1:9092", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), 0);

    CU_ASSERT_EQUAL(config_set(cfg, "inter.broker.listener.name", "INTERNAL", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err,
                           "inter.broker.listener.name INTERNAL must be a listener name defined in "
                           "advertised.listeners");
    CU_ASSERT_EQUAL(
        config_set(cfg, "listeners", "PLAINTEXT://:9092,INTERNAL://:9093", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(cfg, "advertised.listeners", "PLAINTEXT://h:9092,INTERNAL://h:9093",
                               err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "listeners: no security protocol for listener INTERNAL in "
                                "listener.security.protocol.map");
    CU_ASSERT_EQUAL(config_set(cfg, "listener.security.protocol.map",
                               "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT", err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(config_inter_broker_listener_name(cfg), "INTERNAL");
    config_free(cfg);
}

static void test_topic_overrides(void) {
    config_t *cfg = config_new();
    char err[256];
    CU_ASSERT_EQUAL(config_set(cfg, "log.retention.minutes", "60", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(cfg, "log.segment.bytes", "1048576", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(cfg, "compression.type", "lz4", err, sizeof err), 0);
    config_topic_t *t = config_topic_new(cfg);

    /* Every topic key falls back to a broker value of its type. */
    for (size_t i = 0; config_topic_def_at(i); i++) {
        const config_topic_def_t *d = config_topic_def_at(i);
        switch (d->def.type) {
        case CONFIG_INT:
            (void)config_topic_get_int(t, d->def.name);
            break;
        case CONFIG_LONG:
            (void)config_topic_get_long(t, d->def.name);
            break;
        case CONFIG_DOUBLE:
            (void)config_topic_get_double(t, d->def.name);
            break;
        case CONFIG_BOOL:
            (void)config_topic_get_bool(t, d->def.name);
            break;
        default:
            CU_ASSERT_PTR_NOT_NULL(config_topic_get_string(t, d->def.name));
            break;
        }
    }
    CU_ASSERT_EQUAL(config_topic_get_long(t, "retention.ms"), 3600000);
    CU_ASSERT_EQUAL(config_topic_get_int(t, "segment.bytes"), 1048576);
    CU_ASSERT_EQUAL(config_topic_get_long(t, "segment.ms"), 168 * 3600000LL);
    CU_ASSERT_EQUAL(config_topic_get_long(t, "flush.messages"), INT64_MAX);
    CU_ASSERT_EQUAL(config_topic_get_long(t, "flush.ms"), INT64_MAX);
    CU_ASSERT_EQUAL(config_topic_get_int(t, "max.message.bytes"), 1048588);
    CU_ASSERT_EQUAL(config_topic_get_long(t, "file.delete.delay.ms"), 60000);
    CU_ASSERT_STRING_EQUAL(config_topic_get_string(t, "compression.type"), "lz4");
    CU_ASSERT_STRING_EQUAL(config_topic_get_string(t, "cleanup.policy"), "delete");
    CU_ASSERT_FALSE(config_topic_is_set(t, "retention.ms"));

    CU_ASSERT_EQUAL(config_topic_set(t, "retention.ms", "1000", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_topic_set(t, "cleanup.policy", "compact", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_topic_set(t, "segment.bytes", "2048", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_topic_get_long(t, "retention.ms"), 1000);
    CU_ASSERT_STRING_EQUAL(config_topic_get_string(t, "cleanup.policy"), "compact");
    CU_ASSERT_EQUAL(config_topic_get_int(t, "segment.bytes"), 2048);
    CU_ASSERT_TRUE(config_topic_is_set(t, "retention.ms"));

    CU_ASSERT_EQUAL(config_topic_set(t, "retention.ms", "-2", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid value '-2' for retention.ms: must be at least -1");
    CU_ASSERT_EQUAL(config_topic_set(t, "log.retention.ms", "5", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "unknown topic config 'log.retention.ms'");
    CU_ASSERT_EQUAL(config_topic_get_long(t, "retention.ms"), 1000);

    CU_ASSERT_EQUAL(config_topic_set(t, "retention.ms", NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_topic_get_long(t, "retention.ms"), 3600000);
    config_topic_free(t);
    config_free(cfg);
}

static void test_unknown_keys(void) {
    scratch_t s = {0};
    config_t *cfg;
    char err[512];
    logger_level_t level = logger_get_level();
    logger_set_level(LOGGER_ERROR); /* the warnings are expected */
    CU_ASSERT_EQUAL_FATAL(load(&cfg, &s, "server.properties",
                               "broker.id=1\nssl.keystore.location=/k\nmy.plugin=a\nmy.plugin=b\n",
                               err, sizeof err),
                          0);
    char *argv[] = {"--override", "other.thing=x"};
    CU_ASSERT_EQUAL(config_apply_args(cfg, 2, argv, err, sizeof err), 2);
    logger_set_level(level);
    CU_ASSERT_EQUAL(config_unknown_count(cfg), 3);
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "ssl.keystore.location"), "/k");
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "my.plugin"), "b");
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "other.thing"), "x");
    CU_ASSERT_PTR_NULL(config_get_raw(cfg, "not.there"));
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "broker.id"), "1");
    CU_ASSERT_STRING_EQUAL(config_get_raw(cfg, "num.partitions"), "1");
    CU_ASSERT_PTR_NULL(config_get_raw(cfg, "broker.rack"));
    config_free(cfg);
    scratch_done(&s);
}

static void test_dump(void) {
    config_t *cfg = config_new();
    char err[256];
    CU_ASSERT_EQUAL(config_set(cfg, "num.partitions", "3", err, sizeof err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    config_dump(cfg, f);
    fclose(f);
    CU_ASSERT_EQUAL(strncmp(text, "KafkaConfig values:\n\tadvertised.listeners = null\n", 49), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n\tnum.partitions = 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n\tlog.dir = /tmp/kafka-logs\n"));
    /* Sorted: each key line is greater than the one before. */
    char *prev = NULL;
    size_t lines = 0;
    for (char *line = strtok(text + strlen("KafkaConfig values:\n"), "\n"); line;
         line = strtok(NULL, "\n")) {
        if (prev)
            CU_ASSERT(strcmp(prev, line) < 0);
        prev = line;
        lines++;
    }
    size_t n = 0;
    while (config_def_at(n))
        n++;
    CU_ASSERT_EQUAL(lines, n);
    free(text);
    config_free(cfg);
}

/* The shipped broker configs load without error or unknown key, and pass
 * the start-up checks. */
static void test_conf_files(void) {
    const char *src = getenv("SAMSA_SRCDIR");
    static const char *const files[] = {"server.properties", "broker-1.properties",
                                        "broker-2.properties", "broker-3.properties"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4200], err[512] = "";
        snprintf(path, sizeof path, "%s/conf/%s", src && *src ? src : ".", files[i]);
        config_t *cfg = config_new();
        int rc = config_load_file(cfg, path, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc != 0)
            fprintf(stderr, "\n  %s\n", err);
        CU_ASSERT_EQUAL(config_unknown_count(cfg), 0);
        CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof err), 0);
        if (i > 0) {
            char listener[64], dir[64];
            snprintf(listener, sizeof listener, "PLAINTEXT://127.0.0.1:%zu", 9091 + i);
            snprintf(dir, sizeof dir, "/tmp/samsa-logs-%zu", i);
            CU_ASSERT_EQUAL(config_get_int(cfg, "broker.id"), (int)i);
            CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "listeners"), listener);
            CU_ASSERT_STRING_EQUAL(config_log_dirs(cfg), dir);
            CU_ASSERT_EQUAL(config_get_int(cfg, "default.replication.factor"), 3);
            CU_ASSERT_EQUAL(config_get_int(cfg, "min.insync.replicas"), 2);
            CU_ASSERT_EQUAL(config_get_int(cfg, "offsets.topic.replication.factor"), 3);
        } else {
            CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "listeners"),
                                   "PLAINTEXT://127.0.0.1:9092");
            CU_ASSERT_STRING_EQUAL(config_log_dirs(cfg), "/tmp/samsa-logs");
        }
        CU_ASSERT_STRING_EQUAL(config_get_string(cfg, "zookeeper.connect"), "127.0.0.1:2181");
        config_free(cfg);
    }
}

/* conf/zookeeper.properties is ZooKeeper's, not the broker's: it only has to
 * be valid .properties text with the settings a local cluster needs. */
static void test_conf_zookeeper(void) {
    const char *src = getenv("SAMSA_SRCDIR");
    char path[4200], text[8192], err[512] = "";
    snprintf(path, sizeof path, "%s/conf/zookeeper.properties", src && *src ? src : ".");
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t len = fread(text, 1, sizeof text, f);
    fclose(f);
    pairs_t p = {""};
    CU_ASSERT_EQUAL(config_properties_parse(text, len, path, collect, &p, err, sizeof err), 0);
    static const char *const want[] = {
        "[tickTime]=[2000]",
        "[dataDir]=[/tmp/samsa-zookeeper]",
        "[clientPort]=[2181]",
        "[clientPortAddress]=[127.0.0.1]",
        "[maxClientCnxns]=[0]",
        "[admin.enableServer]=[false]",
        "[4lw.commands.whitelist]=[srvr,ruok]",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(p.text, want[i]));
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"defaults are Kafka 2.8's", test_defaults},
        {"the key tables are consistent", test_table_is_consistent},
        {"config_set parses and checks", test_set_and_types},
        {"a bad integer names file, line, key and value", test_bad_integer_message},
        {"an unparsable line names its line", test_unparsable_line},
        {"out of range and not allowed values", test_out_of_range_and_enum},
        {"separators, comments, continuation, escapes, last wins", test_syntax},
        {"the .properties reader follows Java", test_properties_reader},
        {"a missing file", test_missing_file},
        {"--override after the file", test_overrides},
        {"retention, roll, flush and zk timeout precedence", test_retention_and_roll},
        {"log.dirs fallback and listeners", test_log_dirs_and_listeners},
        {"Kafka api versions", test_api_versions},
        {"checks across keys", test_validate},
        {"topic overrides fall back to the broker", test_topic_overrides},
        {"unknown keys are kept and counted", test_unknown_keys},
        {"the KafkaConfig values dump", test_dump},
        {"the conf/ broker files load cleanly", test_conf_files},
        {"conf/zookeeper.properties", test_conf_zookeeper},
        {NULL, NULL},
    };
    unit_add_suite("config", tests);
}
