/* zkdata: Kafka 2.8's ZooKeeper paths and znode data. Expected encodings
 * are byte-for-byte what Kafka writes; the ones marked "real" were read
 * from Kafka 2.8 / 3.x clusters (Scala 2.13) with zookeeper-shell, the topic
 * configs from java.util.Properties + Jackson 2.14 on Java 17 (the same
 * ConcurrentHashMap-backed Properties as Java 11). */
#include "unit.h"

#include "util/buf.h"
#include "zk/zkdata.h"

#include <stdlib.h>
#include <string.h>

/* The buffer's bytes as a string; the buffer is reset for the next use. */
static const char *text(buf_t *b) {
    static char s[8192];
    size_t n = b->len < sizeof s - 1 ? b->len : sizeof s - 1;
    memcpy(s, b->data, n);
    s[n] = '\0';
    buf_reset(b);
    return s;
}

/* --- paths ------------------------------------------------------------------------ */

static void test_paths(void) {
    char p[ZKDATA_PATH_MAX];
    CU_ASSERT_EQUAL(zkdata_path_broker(p, sizeof p, 1001), 17);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/ids/1001");
    CU_ASSERT(zkdata_path_topic(p, sizeof p, "orders") > 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders");
    CU_ASSERT(zkdata_path_topic_partitions(p, sizeof p, "orders") > 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders/partitions");
    CU_ASSERT(zkdata_path_topic_partition(p, sizeof p, "orders", 7) > 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders/partitions/7");
    CU_ASSERT(zkdata_path_partition_state(p, sizeof p, "__consumer_offsets", 49) > 0);
    CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/__consumer_offsets/partitions/49/state");
    CU_ASSERT(zkdata_path_topic_config(p, sizeof p, "orders") > 0);
    CU_ASSERT_STRING_EQUAL(p, "/config/topics/orders");
    CU_ASSERT(zkdata_path_config(p, sizeof p, ZKDATA_CONFIG_BROKERS, "<default>") > 0);
    CU_ASSERT_STRING_EQUAL(p, "/config/brokers/<default>");
    CU_ASSERT(zkdata_path_config(p, sizeof p, ZKDATA_CONFIG_USERS, "alice/clients/app") > 0);
    CU_ASSERT_STRING_EQUAL(p, "/config/users/alice/clients/app");
    CU_ASSERT(zkdata_path_delete_topic(p, sizeof p, "orders") > 0);
    CU_ASSERT_STRING_EQUAL(p, "/admin/delete_topics/orders");
    CU_ASSERT_STRING_EQUAL(ZKDATA_PATH_CONFIG_CHANGE_PREFIX, "/config/changes/config_change_");
    CU_ASSERT_STRING_EQUAL(ZKDATA_PATH_ISR_CHANGE_PREFIX, "/isr_change_notification/isr_change_");
    CU_ASSERT_STRING_EQUAL(ZKDATA_PATH_PREFERRED_REPLICA_ELECTION, "/admin/preferred_replica_election");
    CU_ASSERT_STRING_EQUAL(ZKDATA_PATH_LATEST_PRODUCER_ID_BLOCK, "/latest_producer_id_block");
    CU_ASSERT_STRING_EQUAL(ZKDATA_PATH_BROKER_SEQID, "/brokers/seqid");
}

static void test_paths_reject_bad_names(void) {
    char p[ZKDATA_PATH_MAX];
    char longname[600];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CU_ASSERT_EQUAL(zkdata_path_topic(p, sizeof p, ""), -1);
    CU_ASSERT_EQUAL(zkdata_path_topic(p, sizeof p, "a/b"), -1);
    CU_ASSERT_EQUAL(zkdata_path_topic(p, sizeof p, ".."), -1);
    CU_ASSERT_EQUAL(zkdata_path_topic(p, sizeof p, NULL), -1);
    CU_ASSERT_EQUAL(zkdata_path_topic(p, sizeof p, longname), -1);
    CU_ASSERT_EQUAL(zkdata_path_partition_state(p, sizeof p, "t", -1), -1);
    CU_ASSERT_EQUAL(zkdata_path_config(p, sizeof p, "users", "alice//x"), -1);
    CU_ASSERT_EQUAL(zkdata_path_config(p, sizeof p, "users", "alice/"), -1);
    CU_ASSERT_EQUAL(zkdata_path_config(p, sizeof p, "a/b", "x"), -1);
    /* too small a buffer: -1, never a cut path */
    char small[10];
    CU_ASSERT_EQUAL(zkdata_path_broker(small, sizeof small, 1), -1);
    CU_ASSERT_STRING_EQUAL(small, "");
}

static void test_persistent_paths(void) {
    static const char *const expected[] = {
        "/consumers",          "/brokers/ids",
        "/brokers/topics",     "/config/changes",
        "/admin/delete_topics", "/brokers/seqid",
        "/isr_change_notification", "/latest_producer_id_block",
        "/log_dir_event_notification", "/config/topics",
        "/config/clients",     "/config/users",
        "/config/brokers",     "/config/ips",
    };
    size_t n = 0;
    const char *const *paths = zkdata_persistent_paths(&n);
    CU_ASSERT_EQUAL(n, sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < n && i < sizeof expected / sizeof expected[0]; i++)
        CU_ASSERT_STRING_EQUAL(paths[i], expected[i]);
    CU_ASSERT_PTR_NULL(paths[n]);
}

static void test_sequence_number(void) {
    CU_ASSERT_EQUAL(zkdata_sequence_number("isr_change_0000000042", ZKDATA_ISR_CHANGE_SEQ_PREFIX), 42);
    CU_ASSERT_EQUAL(zkdata_sequence_number("config_change_0000000000", ZKDATA_CONFIG_CHANGE_SEQ_PREFIX), 0);
    CU_ASSERT_EQUAL(zkdata_sequence_number("config_change_", ZKDATA_CONFIG_CHANGE_SEQ_PREFIX), -1);
    CU_ASSERT_EQUAL(zkdata_sequence_number("config_change_12x", ZKDATA_CONFIG_CHANGE_SEQ_PREFIX), -1);
    CU_ASSERT_EQUAL(zkdata_sequence_number("config_change_-1", ZKDATA_CONFIG_CHANGE_SEQ_PREFIX), -1);
    CU_ASSERT_EQUAL(zkdata_sequence_number("isr_change_1", ZKDATA_CONFIG_CHANGE_SEQ_PREFIX), -1);
}

static void test_uuid(void) {
    char a[ZKDATA_UUID_LEN + 1], b[ZKDATA_UUID_LEN + 1];
    zkdata_uuid_generate(a);
    zkdata_uuid_generate(b);
    CU_ASSERT_EQUAL(strlen(a), 22);
    CU_ASSERT(zkdata_uuid_valid(a));
    CU_ASSERT(zkdata_uuid_valid(b));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    /* ids seen in real clusters */
    CU_ASSERT(zkdata_uuid_valid("IOejp_IKSbWbySJc0sRrKw"));
    CU_ASSERT(zkdata_uuid_valid("SbJQ_jVrRFOYqlkfIgLwNg"));
    CU_ASSERT(zkdata_uuid_valid("AAAAAAAAAAAAAAAAAAAAAA"));
    CU_ASSERT(!zkdata_uuid_valid("IOejp_IKSbWbySJc0sRrK"));   /* 21 */
    CU_ASSERT(!zkdata_uuid_valid("IOejp_IKSbWbySJc0sRrKw=")); /* 23 */
    CU_ASSERT(!zkdata_uuid_valid("IOejp+IKSbWbySJc0sRrKw"));  /* not URL-safe */
    CU_ASSERT(!zkdata_uuid_valid("IOejp_IKSbWbySJc0sRrKx"));  /* stray low bits */
}

/* --- controller, epoch, cluster id --------------------------------------------------- */

static void test_controller(void) {
    buf_t b = BUF_INIT;
    zkdata_controller_encode(&b, 0, 1535943857541LL);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"brokerid\":0,\"timestamp\":\"1535943857541\"}"); /* real */
    int32_t id = -1;
    const char *v1 = "{\"version\":1,\"brokerid\":1001,\"timestamp\":\"1571666282268\"}";
    CU_ASSERT_EQUAL(zkdata_controller_decode(v1, strlen(v1), &id, NULL, 0), 0);
    CU_ASSERT_EQUAL(id, 1001);
    /* Kafka 3.x in ZooKeeper mode writes version 2 with a KRaft epoch */
    const char *v2 = "{\"version\":2,\"brokerid\":1,\"timestamp\":\"1704032949256\",\"kraftControllerEpoch\":-1}";
    CU_ASSERT_EQUAL(zkdata_controller_decode(v2, strlen(v2), &id, NULL, 0), 0);
    CU_ASSERT_EQUAL(id, 1);
    char err[256] = "";
    const char *bad = "{\"version\":1,\"brokerid\":\"1\"}";
    CU_ASSERT_EQUAL(zkdata_controller_decode(bad, strlen(bad), &id, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "controller: field \"brokerid\" is not a 32-bit integer");
    buf_free(&b);
}

static void test_controller_epoch(void) {
    buf_t b = BUF_INIT;
    zkdata_controller_epoch_encode(&b, 7);
    CU_ASSERT_STRING_EQUAL(text(&b), "7");
    int32_t e = 0;
    CU_ASSERT_EQUAL(zkdata_controller_epoch_decode("0", 1, &e, NULL, 0), 0);
    CU_ASSERT_EQUAL(e, 0);
    CU_ASSERT_EQUAL(zkdata_controller_epoch_decode("2147483647", 10, &e, NULL, 0), 0);
    CU_ASSERT_EQUAL(e, 2147483647);
    char err[128];
    CU_ASSERT_EQUAL(zkdata_controller_epoch_decode("2147483648", 10, &e, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "controller_epoch: not a decimal 32-bit integer");
    CU_ASSERT_EQUAL(zkdata_controller_epoch_decode("7 ", 2, &e, NULL, 0), -1);
    CU_ASSERT_EQUAL(zkdata_controller_epoch_decode("", 0, &e, NULL, 0), -1);
    CU_ASSERT_EQUAL(zkdata_controller_epoch_decode(NULL, 0, &e, NULL, 0), -1);
    buf_free(&b);
}

static void test_cluster_id(void) {
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL(zkdata_cluster_id_encode(&b, "IOejp_IKSbWbySJc0sRrKw", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":\"1\",\"id\":\"IOejp_IKSbWbySJc0sRrKw\"}"); /* real */
    char *id = NULL;
    const char *real = "{\"version\":\"1\",\"id\":\"eQzK4lYlQ9y8P21IScOl_g\"}";
    CU_ASSERT_EQUAL(zkdata_cluster_id_decode(real, strlen(real), &id, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(id, "eQzK4lYlQ9y8P21IScOl_g");
    free(id);
    char err[128];
    CU_ASSERT_EQUAL(zkdata_cluster_id_decode("{\"version\":\"1\"}", 15, &id, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(id);
    CU_ASSERT_STRING_EQUAL(err, "cluster id: field \"id\" is missing");
    CU_ASSERT_EQUAL(zkdata_cluster_id_encode(&b, "\xff\xfe", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "cluster id: a string is not valid UTF-8");
    CU_ASSERT_EQUAL(b.len, 0);
    buf_free(&b);
}

/* --- broker registration ---------------------------------------------------------------- */

static void test_broker_encode_v5(void) {
    buf_t b = BUF_INIT;
    zkdata_broker_t br;
    zkdata_broker_init(&br);
    zkdata_broker_add_endpoint(&br, "PLAINTEXT", "PLAINTEXT", "192.168.1.14", 9092);
    br.timestamp_ms = 1724097127252LL;
    CU_ASSERT_EQUAL(zkdata_broker_encode(&b, &br, ZKDATA_BROKER_VERSION, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b),
                           "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
                           "\"endpoints\":[\"PLAINTEXT://192.168.1.14:9092\"],\"jmx_port\":-1,\"port\":9092,"
                           "\"host\":\"192.168.1.14\",\"version\":5,\"timestamp\":\"1724097127252\"}"); /* real */
    zkdata_broker_free(&br);

    zkdata_broker_init(&br);
    zkdata_broker_add_endpoint(&br, "PLAINTEXT", "PLAINTEXT", "kafka-1", 9092);
    zkdata_broker_add_endpoint(&br, "PLAINTEXT_HOST", "PLAINTEXT", "localhost", 29092);
    br.timestamp_ms = 1625336133848LL;
    CU_ASSERT_EQUAL(zkdata_broker_encode(&b, &br, 5, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\","
                                     "\"PLAINTEXT_HOST\":\"PLAINTEXT\"},\"endpoints\":[\"PLAINTEXT://kafka-1:9092\","
                                     "\"PLAINTEXT_HOST://localhost:29092\"],\"jmx_port\":-1,\"port\":9092,"
                                     "\"host\":\"kafka-1\",\"version\":5,\"timestamp\":\"1625336133848\"}"); /* real */
    zkdata_broker_free(&br);
    buf_free(&b);
}

/* rack, JMX, no PLAINTEXT listener (host null, port -1), an IPv6 host, an
 * empty host, version 4 (IBP < 2.7) without features; and five listeners,
 * where the protocol map becomes a hash trie (Scala 2.13 CHAMP order). */
static void test_broker_encode_variants(void) {
    buf_t b = BUF_INIT;
    zkdata_broker_t br;
    zkdata_broker_init(&br);
    zkdata_broker_add_endpoint(&br, "SSL", "SSL", "::1", 9093);
    zkdata_broker_add_endpoint(&br, "INTERNAL", "SASL_PLAINTEXT", NULL, 9094);
    br.rack = strdup("rack-a");
    br.jmx_port = 9999;
    br.timestamp_ms = 1600000000000LL;
    CU_ASSERT_EQUAL(zkdata_broker_encode(&b, &br, 5, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"features\":{},\"listener_security_protocol_map\":{\"SSL\":\"SSL\","
                                     "\"INTERNAL\":\"SASL_PLAINTEXT\"},\"endpoints\":[\"SSL://[::1]:9093\","
                                     "\"INTERNAL://:9094\"],\"rack\":\"rack-a\",\"jmx_port\":9999,\"port\":-1,"
                                     "\"host\":null,\"version\":5,\"timestamp\":\"1600000000000\"}");
    CU_ASSERT_EQUAL(zkdata_broker_encode(&b, &br, 4, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"listener_security_protocol_map\":{\"SSL\":\"SSL\","
                                     "\"INTERNAL\":\"SASL_PLAINTEXT\"},\"endpoints\":[\"SSL://[::1]:9093\","
                                     "\"INTERNAL://:9094\"],\"rack\":\"rack-a\",\"jmx_port\":9999,\"port\":-1,"
                                     "\"host\":null,\"version\":4,\"timestamp\":\"1600000000000\"}");
    char err[160];
    CU_ASSERT_EQUAL(zkdata_broker_encode(&b, &br, 3, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "broker registration: samsa writes versions 4 and 5, not 3");
    zkdata_broker_free(&br);

    zkdata_broker_init(&br);
    zkdata_broker_add_endpoint(&br, "PLAINTEXT", "PLAINTEXT", "h", 1);
    zkdata_broker_add_endpoint(&br, "SSL", "SSL", "h", 2);
    zkdata_broker_add_endpoint(&br, "INTERNAL", "PLAINTEXT", "h", 3);
    zkdata_broker_add_endpoint(&br, "EXTERNAL", "SSL", "h", 4);
    zkdata_broker_add_endpoint(&br, "REPLICATION", "PLAINTEXT", "h", 5);
    br.timestamp_ms = 1;
    CU_ASSERT_EQUAL(zkdata_broker_encode(&b, &br, 5, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b),
                           "{\"features\":{},\"listener_security_protocol_map\":{\"INTERNAL\":\"PLAINTEXT\","
                           "\"EXTERNAL\":\"SSL\",\"PLAINTEXT\":\"PLAINTEXT\",\"REPLICATION\":\"PLAINTEXT\","
                           "\"SSL\":\"SSL\"},"
                           "\"endpoints\":[\"PLAINTEXT://h:1\",\"SSL://h:2\",\"INTERNAL://h:3\",\"EXTERNAL://h:4\","
                           "\"REPLICATION://h:5\"],\"jmx_port\":-1,\"port\":1,\"host\":\"h\",\"version\":5,"
                           "\"timestamp\":\"1\"}");
    zkdata_broker_free(&br);
    buf_free(&b);
}

static void test_broker_decode_real(void) {
    zkdata_broker_t br;
    /* Kafka 2.4 (Scala 2.12, other key order), IBP 2.4: version 4 */
    const char *v4 = "{\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
                     "\"endpoints\":[\"PLAINTEXT://kafka1:9092\"],\"jmx_port\":-1,\"host\":\"kafka1\","
                     "\"timestamp\":\"1600000000000\",\"port\":9092,\"version\":4}";
    CU_ASSERT_EQUAL_FATAL(zkdata_broker_decode(v4, strlen(v4), &br, NULL, 0), 0);
    CU_ASSERT_EQUAL(br.version, 4);
    CU_ASSERT_EQUAL(br.n_endpoints, 1);
    CU_ASSERT_STRING_EQUAL(br.endpoints[0].listener, "PLAINTEXT");
    CU_ASSERT_STRING_EQUAL(br.endpoints[0].security_protocol, "PLAINTEXT");
    CU_ASSERT_STRING_EQUAL(br.endpoints[0].host, "kafka1");
    CU_ASSERT_EQUAL(br.endpoints[0].port, 9092);
    CU_ASSERT_STRING_EQUAL(br.host, "kafka1");
    CU_ASSERT_EQUAL(br.port, 9092);
    CU_ASSERT_EQUAL(br.jmx_port, -1);
    CU_ASSERT_EQUAL(br.timestamp_ms, 1600000000000LL);
    CU_ASSERT_PTR_NULL(br.rack);
    zkdata_broker_free(&br);

    /* HDP Kafka: version 3 with a rack and no protocol map (the listener
     * name is the protocol) */
    const char *v3 = "{\"jmx_port\":-1,\"timestamp\":\"1571666399659\",\"endpoints\":[\"PLAINTEXT://c1198-node4."
                     "squadron.support.hortonworks.com:6667\"],\"host\":\"c1198-node4.squadron.support.hortonworks."
                     "com\",\"version\":3,\"port\":6667,\"rack\":\"/default-rack\"}";
    CU_ASSERT_EQUAL_FATAL(zkdata_broker_decode(v3, strlen(v3), &br, NULL, 0), 0);
    CU_ASSERT_EQUAL(br.version, 3);
    CU_ASSERT_STRING_EQUAL(br.rack, "/default-rack");
    CU_ASSERT_STRING_EQUAL(br.endpoints[0].security_protocol, "PLAINTEXT");
    CU_ASSERT_EQUAL(br.endpoints[0].port, 6667);
    zkdata_broker_free(&br);

    /* Confluent Platform 7 adds "tags"; Strimzi uses listener names */
    const char *v5 = "{\"features\":{},\"listener_security_protocol_map\":{\"BROKER\":\"PLAINTEXT\",\"PLAINTEXT_HOST\":"
                     "\"PLAINTEXT\",\"TLS-9093\":\"SSL\"},\"endpoints\":[\"BROKER://broker1:9091\",\"PLAINTEXT_HOST://"
                     "localhost:29091\",\"TLS-9093://[fe80::1%eth0]:9093\"],\"jmx_port\":-1,\"port\":9091,\"host\":"
                     "\"broker1\",\"version\":5,\"tags\":{},\"timestamp\":\"1673382717473\"}";
    CU_ASSERT_EQUAL_FATAL(zkdata_broker_decode(v5, strlen(v5), &br, NULL, 0), 0);
    CU_ASSERT_EQUAL(br.n_endpoints, 3);
    CU_ASSERT_STRING_EQUAL(br.endpoints[0].listener, "BROKER");
    CU_ASSERT_STRING_EQUAL(br.endpoints[1].listener, "PLAINTEXT_HOST");
    CU_ASSERT_EQUAL(br.endpoints[1].port, 29091);
    CU_ASSERT_STRING_EQUAL(br.endpoints[2].listener, "TLS-9093");
    CU_ASSERT_STRING_EQUAL(br.endpoints[2].security_protocol, "SSL");
    CU_ASSERT_STRING_EQUAL(br.endpoints[2].host, "fe80::1%eth0");
    zkdata_broker_free(&br);

    /* version 1: host and port only */
    const char *v1 = "{\"version\":1,\"host\":\"192.168.1.148\",\"port\":9092,\"jmx_port\":9999}";
    CU_ASSERT_EQUAL_FATAL(zkdata_broker_decode(v1, strlen(v1), &br, NULL, 0), 0);
    CU_ASSERT_EQUAL(br.n_endpoints, 1);
    CU_ASSERT_STRING_EQUAL(br.endpoints[0].host, "192.168.1.148");
    CU_ASSERT_EQUAL(br.jmx_port, 9999);
    zkdata_broker_free(&br);
}

static void test_broker_roundtrip(void) {
    buf_t b = BUF_INIT;
    zkdata_broker_t br, back;
    zkdata_broker_init(&br);
    zkdata_broker_add_endpoint(&br, "PLAINTEXT", "PLAINTEXT", "127.0.0.1", 9092);
    zkdata_broker_add_endpoint(&br, "CONTROLLER", "SSL", NULL, 9093);
    br.rack = strdup("r1");
    br.timestamp_ms = 42;
    CU_ASSERT_EQUAL_FATAL(zkdata_broker_encode(&b, &br, 5, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(zkdata_broker_decode(b.data, b.len, &back, NULL, 0), 0);
    CU_ASSERT_EQUAL(back.version, 5);
    CU_ASSERT_EQUAL(back.n_endpoints, 2);
    CU_ASSERT_STRING_EQUAL(back.endpoints[1].listener, "CONTROLLER");
    CU_ASSERT_STRING_EQUAL(back.endpoints[1].security_protocol, "SSL");
    CU_ASSERT_PTR_NULL(back.endpoints[1].host);
    CU_ASSERT_EQUAL(back.endpoints[1].port, 9093);
    CU_ASSERT_STRING_EQUAL(back.rack, "r1");
    CU_ASSERT_EQUAL(back.timestamp_ms, 42);
    zkdata_broker_free(&back);
    zkdata_broker_free(&br);
    buf_free(&b);
}

/* Each malformed registration is an error naming the problem. */
static void test_broker_decode_errors(void) {
    static const struct {
        const char *json;
        const char *err;
    } cases[] = {
        {"", "broker registration: empty data"},
        {"{\"version\":5,", NULL},
        {"[1,2]", "broker registration: JSON is not an object"},
        {"{\"jmx_port\":-1,\"endpoints\":[]}", "broker registration: field \"version\" is missing"},
        {"{\"version\":5,\"endpoints\":[]}", "broker registration: field \"jmx_port\" is missing"},
        {"{\"version\":0,\"jmx_port\":-1}", "broker registration: unsupported version 0"},
        {"{\"version\":5.0,\"jmx_port\":-1}", "broker registration: field \"version\" is not a 32-bit integer"},
        {"{\"version\":5,\"jmx_port\":-1}", "broker registration: field \"endpoints\" is missing or not an array"},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[1]}", "broker registration: endpoint 0 is not a string"},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h\"]}",
         "broker registration: unable to parse endpoint \"PLAINTEXT://h\""},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:99999999999\"]}",
         "broker registration: unable to parse endpoint \"PLAINTEXT://h:99999999999\""},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h/x:1\"]}",
         "broker registration: unable to parse endpoint \"PLAINTEXT://h/x:1\""},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"INTERNAL://h:1\"]}",
         "broker registration: unknown security protocol INTERNAL"},
        {"{\"version\":5,\"jmx_port\":-1,\"listener_security_protocol_map\":{},\"endpoints\":[\"SSL://h:1\"]}",
         "broker registration: no security protocol defined for listener SSL"},
        {"{\"version\":5,\"jmx_port\":-1,\"listener_security_protocol_map\":[],\"endpoints\":[]}",
         "broker registration: listener_security_protocol_map is not an object"},
        {"{\"version\":1,\"jmx_port\":-1,\"port\":1}", "broker registration: field \"host\" is missing"},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[],\"rack\":7}",
         "broker registration: field \"rack\" is not a string"},
        {"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[],\"features\":3}",
         "broker registration: features is not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zkdata_broker_t br;
        char err[256] = "";
        int rc = zkdata_broker_decode(cases[i].json, strlen(cases[i].json), &br, err, sizeof err);
        CU_ASSERT_EQUAL(rc, -1);
        if (cases[i].err) {
            CU_ASSERT_STRING_EQUAL(err, cases[i].err);
        } else {
            CU_ASSERT(strncmp(err, "broker registration: invalid JSON at line 1 column", 50) == 0);
        }
        zkdata_broker_free(&br);
    }
}

/* --- topic assignment -------------------------------------------------------------------------- */

static void test_topic_encode_real(void) {
    buf_t b = BUF_INIT;
    zkdata_topic_assignment_t a;
    zkdata_topic_assignment_init(&a);
    zkdata_topic_assignment_add(&a, 0, (const int32_t[]){3, 2, 1}, 3);
    memcpy(a.topic_id, "SbJQ_jVrRFOYqlkfIgLwNg", 23);
    CU_ASSERT_EQUAL(zkdata_topic_assignment_encode(&b, &a, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"partitions\":{\"0\":[3,2,1]},\"topic_id\":\"SbJQ_jVrRFOYqlkfIgLwNg\","
                                     "\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}"); /* real */
    char err[120];
    memcpy(a.topic_id, "bad\xff", 5);
    CU_ASSERT_EQUAL(zkdata_topic_assignment_encode(&b, &a, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "topic assignment: topic_id \"bad\xff\" is not a base64 UUID");
    CU_ASSERT_EQUAL(b.len, 0);
    zkdata_topic_assignment_free(&a);

    /* twelve partitions: the partition map grows to 32 slots, "11" lands in
     * bucket 0 and "10" in the last one (real, without topic id) */
    static const int32_t reps[12][3] = {{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1}, {0, 2, 3},
                                        {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}, {1, 2, 3}, {1, 3, 4}};
    zkdata_topic_assignment_init(&a);
    for (int p = 0; p < 12; p++)
        zkdata_topic_assignment_add(&a, p, reps[p], 3);
    CU_ASSERT_EQUAL(zkdata_topic_assignment_encode(&b, &a, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"partitions\":{\"11\":[1,3,4],\"0\":[0,1,2],\"1\":[1,2,3],\"2\":[2,3,4],"
                                     "\"3\":[3,4,0],\"4\":[4,0,1],\"5\":[0,2,3],\"6\":[1,3,4],\"7\":[2,4,0],"
                                     "\"8\":[3,0,1],\"9\":[4,1,2],\"10\":[1,2,3]},\"adding_replicas\":{},"
                                     "\"removing_replicas\":{},\"version\":3}"); /* real */
    zkdata_topic_assignment_free(&a);
    buf_free(&b);
}

/* A reassignment {1,2,3} -> {4,5,6}: partitions hold target + original,
 * adding/removing only partitions with a non-empty delta. */
static void test_topic_reassignment_roundtrip(void) {
    buf_t b = BUF_INIT;
    zkdata_topic_assignment_t a, back;
    zkdata_topic_assignment_init(&a);
    zkdata_partition_assignment_t *p0 = zkdata_topic_assignment_add(&a, 0, (const int32_t[]){4, 5, 6, 1, 2, 3}, 6);
    p0->adding = zkdata_ints_copy((const int32_t[]){4, 5, 6}, 3);
    p0->n_adding = 3;
    p0->removing = zkdata_ints_copy((const int32_t[]){1, 2, 3}, 3);
    p0->n_removing = 3;
    zkdata_topic_assignment_add(&a, 1, (const int32_t[]){2, 3, 1}, 3);
    CU_ASSERT_EQUAL(zkdata_topic_assignment_encode(&b, &a, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"partitions\":{\"0\":[4,5,6,1,2,3],\"1\":[2,3,1]},\"adding_replicas\":"
                                     "{\"0\":[4,5,6]},\"removing_replicas\":{\"0\":[1,2,3]},\"version\":3}");
    CU_ASSERT_EQUAL(zkdata_topic_assignment_encode(&b, &a, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(zkdata_topic_assignment_decode(b.data, b.len, &back, NULL, 0), 0);
    CU_ASSERT_EQUAL(back.version, 3);
    CU_ASSERT_STRING_EQUAL(back.topic_id, "");
    CU_ASSERT_EQUAL_FATAL(back.n_partitions, 2);
    CU_ASSERT_EQUAL(back.partitions[0].partition, 0);
    CU_ASSERT_EQUAL(back.partitions[0].n_replicas, 6);
    CU_ASSERT_EQUAL(back.partitions[0].replicas[3], 1);
    CU_ASSERT_EQUAL(back.partitions[0].n_adding, 3);
    CU_ASSERT_EQUAL(back.partitions[0].adding[0], 4);
    CU_ASSERT_EQUAL(back.partitions[0].n_removing, 3);
    CU_ASSERT_EQUAL(back.partitions[0].removing[2], 3);
    CU_ASSERT_EQUAL(back.partitions[1].n_adding, 0);
    CU_ASSERT_PTR_NULL(back.partitions[1].adding);
    zkdata_topic_assignment_free(&back);
    zkdata_topic_assignment_free(&a);
    buf_free(&b);
}

static void test_topic_decode_versions(void) {
    zkdata_topic_assignment_t a;
    /* Kafka <= 2.3: version 1, no deltas; partitions come back sorted */
    const char *v1 = "{\"version\":1,\"partitions\":{\"1\":[101,103],\"0\":[103,102]}}";
    CU_ASSERT_EQUAL_FATAL(zkdata_topic_assignment_decode(v1, strlen(v1), &a, NULL, 0), 0);
    CU_ASSERT_EQUAL(a.version, 1);
    CU_ASSERT_EQUAL_FATAL(a.n_partitions, 2);
    CU_ASSERT_EQUAL(a.partitions[0].partition, 0);
    CU_ASSERT_EQUAL(a.partitions[0].replicas[0], 103);
    CU_ASSERT_EQUAL(a.partitions[1].partition, 1);
    CU_ASSERT_EQUAL(a.partitions[1].replicas[1], 103);
    zkdata_topic_assignment_free(&a);
    const char *v3 = "{\"partitions\":{\"0\":[1,0],\"1\":[0,1],\"2\":[1,0],\"3\":[0,1]},\"topic_id\":"
                     "\"zeTNbNaeRS-h5yGiMZBOyg\",\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}";
    CU_ASSERT_EQUAL_FATAL(zkdata_topic_assignment_decode(v3, strlen(v3), &a, NULL, 0), 0);
    CU_ASSERT_EQUAL(a.version, 3);
    CU_ASSERT_STRING_EQUAL(a.topic_id, "zeTNbNaeRS-h5yGiMZBOyg");
    CU_ASSERT_EQUAL(a.n_partitions, 4);
    zkdata_topic_assignment_free(&a);
    /* no partitions at all: an empty topic, as Kafka reads it */
    CU_ASSERT_EQUAL(zkdata_topic_assignment_decode("{\"version\":3}", 13, &a, NULL, 0), 0);
    CU_ASSERT_EQUAL(a.n_partitions, 0);
    zkdata_topic_assignment_free(&a);
}

static void test_topic_decode_errors(void) {
    static const struct {
        const char *json;
        const char *err;
    } cases[] = {
        {"{\"version\":3,\"partitions\":{\"x\":[1]}}", "topic assignment: partition \"x\" is not an integer"},
        {"{\"version\":3,\"partitions\":{\"0\":[1,\"2\"]}}",
         "topic assignment: a replica list holds a value that is not a 32-bit integer"},
        {"{\"version\":3,\"partitions\":{\"0\":7}}", "topic assignment: a replica list is not an array"},
        {"{\"version\":3,\"partitions\":[]}",
         "topic assignment: partitions, adding_replicas or removing_replicas is not an object"},
        {"{\"version\":3,\"partitions\":{\"0\":[1]},\"adding_replicas\":{\"0\":{}}}",
         "topic assignment: adding_replicas is not an array"},
        {"{\"version\":3,\"topic_id\":\"nope\",\"partitions\":{}}",
         "topic assignment: topic_id \"nope\" is not a base64 UUID"},
        {"{\"version\":\"3\"}", "topic assignment: field \"version\" is not a 32-bit integer"},
        {"{\"version\":3,\"partitions\":{\"0\":[4294967296]}}",
         "topic assignment: a replica list holds a value that is not a 32-bit integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zkdata_topic_assignment_t a;
        char err[256] = "";
        CU_ASSERT_EQUAL(zkdata_topic_assignment_decode(cases[i].json, strlen(cases[i].json), &a, err, sizeof err),
                        -1);
        CU_ASSERT_STRING_EQUAL(err, cases[i].err);
        zkdata_topic_assignment_free(&a);
    }
}

/* --- partition state ------------------------------------------------------------------------------- */

static void test_partition_state(void) {
    buf_t b = BUF_INIT;
    zkdata_partition_state_t s, back;
    zkdata_partition_state_init(&s);
    s.leader = 2;
    s.leader_epoch = 0;
    s.controller_epoch = 1;
    s.isr = zkdata_ints_copy((const int32_t[]){2, 3, 1}, 3);
    s.n_isr = 3;
    zkdata_partition_state_encode(&b, &s);
    CU_ASSERT_STRING_EQUAL(text(&b),
                           "{\"controller_epoch\":1,\"leader\":2,\"version\":1,\"leader_epoch\":0,\"isr\":[2,3,1]}");
    zkdata_partition_state_free(&s);
    /* an offline partition keeps its last ISR member */
    s.leader = -1;
    s.leader_epoch = 9;
    s.controller_epoch = 20;
    s.isr = zkdata_ints_copy((const int32_t[]){1}, 1);
    s.n_isr = 1;
    zkdata_partition_state_encode(&b, &s);
    CU_ASSERT_STRING_EQUAL(text(&b),
                           "{\"controller_epoch\":20,\"leader\":-1,\"version\":1,\"leader_epoch\":9,\"isr\":[1]}");
    zkdata_partition_state_free(&s);

    const char *real = "{\"controller_epoch\":33,\"leader\":102,\"version\":1,\"leader_epoch\":8,\"isr\":[102,103]}";
    CU_ASSERT_EQUAL_FATAL(zkdata_partition_state_decode(real, strlen(real), &back, NULL, 0), 0);
    CU_ASSERT_EQUAL(back.controller_epoch, 33);
    CU_ASSERT_EQUAL(back.leader, 102);
    CU_ASSERT_EQUAL(back.leader_epoch, 8);
    CU_ASSERT_EQUAL_FATAL(back.n_isr, 2);
    CU_ASSERT_EQUAL(back.isr[1], 103);
    zkdata_partition_state_free(&back);

    char err[200];
    const char *no_isr = "{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":0}";
    CU_ASSERT_EQUAL(zkdata_partition_state_decode(no_isr, strlen(no_isr), &back, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "partition state: field \"isr\" is missing");
    zkdata_partition_state_free(&back);
    const char *bad_isr = "{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":\"1\"}";
    CU_ASSERT_EQUAL(zkdata_partition_state_decode(bad_isr, strlen(bad_isr), &back, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "partition state: isr is not an array");
    zkdata_partition_state_free(&back);
    const char *trailing = "{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[]} x";
    CU_ASSERT_EQUAL(zkdata_partition_state_decode(trailing, strlen(trailing), &back, err, sizeof err), -1);
    zkdata_partition_state_free(&back);
    buf_free(&b);
}

/* --- configs ----------------------------------------------------------------------------------------- */

static void test_config_encode(void) {
    buf_t b = BUF_INIT;
    zkdata_config_t c;
    zkdata_config_init(&c);
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"config\":{}}"); /* real */
    zkdata_config_set(&c, "retention.ms", "604800000");
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"config\":{\"retention.ms\":\"604800000\"}}"); /* real */
    zkdata_config_set(&c, "cleanup.policy", "compact");
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b),
                           "{\"version\":1,\"config\":{\"cleanup.policy\":\"compact\","
                           "\"retention.ms\":\"604800000\"}}");
    zkdata_config_set(&c, "retention.ms", "1"); /* replaced in place */
    CU_ASSERT_EQUAL(c.n_entries, 2);
    CU_ASSERT_STRING_EQUAL(zkdata_config_get(&c, "retention.ms"), "1");
    CU_ASSERT_PTR_NULL(zkdata_config_get(&c, "segment.ms"));
    zkdata_config_free(&c);
    buf_free(&b);
}

/* Many keys: the Properties table resizes (twice for 26 keys) and splits
 * its bins; expected output from Java 17 + Jackson, keys set in the order
 * given, value i for the i-th key. */
static void test_config_encode_resized(void) {
    static const char *const keys[] = {
        "cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
        "flush.ms", "follower.replication.throttled.replicas", "index.interval.bytes",
        "leader.replication.throttled.replicas", "max.compaction.lag.ms", "max.message.bytes",
        "message.downconversion.enable", "message.format.version", "message.timestamp.difference.max.ms",
        "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
        "preallocate", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
        "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable"};
    buf_t b = BUF_INIT;
    zkdata_config_t c;
    zkdata_config_init(&c);
    for (size_t i = 0; i < 26; i++) {
        char v[8];
        snprintf(v, sizeof v, "v%zu", i);
        zkdata_config_set(&c, keys[i], v);
    }
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(
        text(&b),
        "{\"version\":1,\"config\":{\"compression.type\":\"v1\",\"leader.replication.throttled.replicas\":\"v8\","
        "\"message.downconversion.enable\":\"v11\",\"min.insync.replicas\":\"v17\",\"segment.jitter.ms\":\"v23\","
        "\"cleanup.policy\":\"v0\",\"flush.ms\":\"v5\",\"follower.replication.throttled.replicas\":\"v6\","
        "\"retention.ms\":\"v20\",\"segment.bytes\":\"v21\",\"flush.messages\":\"v4\",\"message.format.version\":"
        "\"v12\",\"file.delete.delay.ms\":\"v3\",\"max.compaction.lag.ms\":\"v9\",\"max.message.bytes\":\"v10\","
        "\"min.compaction.lag.ms\":\"v16\",\"message.timestamp.type\":\"v14\",\"preallocate\":\"v18\","
        "\"index.interval.bytes\":\"v7\",\"min.cleanable.dirty.ratio\":\"v15\",\"unclean.leader.election.enable\":"
        "\"v25\",\"delete.retention.ms\":\"v2\",\"retention.bytes\":\"v19\",\"segment.ms\":\"v24\","
        "\"message.timestamp.difference.max.ms\":\"v13\",\"segment.index.bytes\":\"v22\"}}");
    zkdata_config_free(&c);

    /* 14 keys in reverse order: one resize, where bins split into runs */
    zkdata_config_init(&c);
    for (size_t i = 0; i < 14; i++) {
        char v[8];
        snprintf(v, sizeof v, "v%zu", i);
        zkdata_config_set(&c, keys[25 - i], v);
    }
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(
        text(&b),
        "{\"version\":1,\"config\":{\"message.format.version\":\"v13\",\"min.compaction.lag.ms\":\"v9\","
        "\"message.timestamp.type\":\"v11\",\"min.insync.replicas\":\"v8\",\"segment.jitter.ms\":\"v2\","
        "\"preallocate\":\"v7\",\"min.cleanable.dirty.ratio\":\"v10\",\"unclean.leader.election.enable\":\"v0\","
        "\"retention.bytes\":\"v6\",\"retention.ms\":\"v5\",\"segment.bytes\":\"v4\",\"segment.ms\":\"v1\","
        "\"message.timestamp.difference.max.ms\":\"v12\",\"segment.index.bytes\":\"v3\"}}");
    zkdata_config_free(&c);
    buf_free(&b);
}

/* Jackson's escapes: \" \\ \b \t \n \f \r, other controls as \u00XX
 * (upper-case hex), '/' and non-ASCII as they are. */
static void test_config_escaping(void) {
    buf_t b = BUF_INIT;
    zkdata_config_t c;
    zkdata_config_init(&c);
    zkdata_config_set(&c, "s", "a/b\x01\x1f\"\\\x7f\xc3\xa9\t\n");
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b),
                           "{\"version\":1,\"config\":{\"s\":\"a/b\\u0001\\u001F\\\"\\\\\x7f\xc3\xa9\\t\\n\"}}");
    char err[100];
    zkdata_config_set(&c, "bad\xff", "x");
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config: a string is not valid UTF-8");
    zkdata_config_free(&c);
    buf_free(&b);
}

static void test_config_decode(void) {
    zkdata_config_t c;
    const char *real = "{\"version\":1,\"config\":{\"cleanup.policy\":\"compact\",\"max.message.bytes\":\"10000\"}}";
    CU_ASSERT_EQUAL_FATAL(zkdata_config_decode(real, strlen(real), &c, NULL, 0), 0);
    CU_ASSERT_EQUAL(c.n_entries, 2);
    CU_ASSERT_STRING_EQUAL(c.entries[0].key, "cleanup.policy");
    CU_ASSERT_STRING_EQUAL(zkdata_config_get(&c, "max.message.bytes"), "10000");
    /* round trip gives Kafka's bytes back */
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL(zkdata_config_encode(&b, &c, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), real);
    zkdata_config_free(&c);
    CU_ASSERT_EQUAL(zkdata_config_decode(NULL, 0, &c, NULL, 0), 0);
    CU_ASSERT_EQUAL(c.n_entries, 0);
    CU_ASSERT_EQUAL(zkdata_config_decode("{\"version\":1}", 13, &c, NULL, 0), 0);
    CU_ASSERT_EQUAL(c.n_entries, 0);
    char err[120];
    const char *num = "{\"version\":1,\"config\":{\"retention.ms\":1000}}";
    CU_ASSERT_EQUAL(zkdata_config_decode(num, strlen(num), &c, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config: the value of \"retention.ms\" is not a string");
    zkdata_config_free(&c);
    CU_ASSERT_EQUAL(zkdata_config_decode("{\"config\":[]}", 13, &c, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config: field \"config\" is not an object");
    zkdata_config_free(&c);
    buf_free(&b);
}

static void test_config_change(void) {
    buf_t b = BUF_INIT;
    CU_ASSERT_EQUAL(zkdata_config_change_encode(&b, "topics/orders", NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":2,\"entity_path\":\"topics/orders\"}");
    char *path = NULL;
    const char *v2 = "{\"version\":2,\"entity_path\":\"users/alice/clients/app\"}";
    CU_ASSERT_EQUAL(zkdata_config_change_decode(v2, strlen(v2), &path, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(path, "users/alice/clients/app");
    free(path);
    const char *v1 = "{\"version\":1,\"entity_type\":\"topics\",\"entity_name\":\"orders\"}";
    CU_ASSERT_EQUAL(zkdata_config_change_decode(v1, strlen(v1), &path, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(path, "topics/orders");
    free(path);
    char err[160];
    const char *v1_users = "{\"version\":1,\"entity_type\":\"users\",\"entity_name\":\"x\"}";
    CU_ASSERT_EQUAL(zkdata_config_change_decode(v1_users, strlen(v1_users), &path, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config change: version 1 needs entity_type \"topics\" or \"clients\"");
    const char *v3 = "{\"version\":3,\"entity_path\":\"topics/x\"}";
    CU_ASSERT_EQUAL(zkdata_config_change_decode(v3, strlen(v3), &path, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config change: unsupported version 3 (1 and 2 are)");
    const char *flat = "{\"version\":2,\"entity_path\":\"topics\"}";
    CU_ASSERT_EQUAL(zkdata_config_change_decode(flat, strlen(flat), &path, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "config change: entity_path \"topics\" is not <type>/<name>");
    CU_ASSERT_PTR_NULL(path);
    buf_free(&b);
}

/* --- partition lists, log dir events, producer ids ------------------------------------------------------------- */

static void test_isr_change(void) {
    buf_t b = BUF_INIT;
    zkdata_tp_list_t l, back;
    zkdata_tp_list_init(&l);
    zkdata_tp_list_add(&l, "t", 0);
    zkdata_tp_list_add(&l, "t", 0); /* a set */
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_EQUAL(zkdata_isr_change_encode(&b, &l, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}");
    zkdata_tp_list_free(&l);

    /* six partitions: hash order of the elements (java.util.Map hash codes
     * in a Scala mutable.HashSet) for the ISR notification, the hash trie
     * order of an immutable Set for the preferred replica election */
    zkdata_tp_list_init(&l);
    zkdata_tp_list_add(&l, "orders", 0);
    zkdata_tp_list_add(&l, "orders", 1);
    zkdata_tp_list_add(&l, "payments", 2);
    zkdata_tp_list_add(&l, "a", 7);
    zkdata_tp_list_add(&l, "orders", 2);
    zkdata_tp_list_add(&l, "b", 0);
    CU_ASSERT_EQUAL(zkdata_isr_change_encode(&b, &l, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":2},"
                                     "{\"topic\":\"a\",\"partition\":7},{\"topic\":\"orders\",\"partition\":0},"
                                     "{\"topic\":\"orders\",\"partition\":1},{\"topic\":\"b\",\"partition\":0},"
                                     "{\"topic\":\"payments\",\"partition\":2}]}");
    CU_ASSERT_EQUAL(zkdata_preferred_election_encode(&b, &l, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":2},"
                                     "{\"topic\":\"a\",\"partition\":7},{\"topic\":\"payments\",\"partition\":2},"
                                     "{\"topic\":\"orders\",\"partition\":0},{\"topic\":\"b\",\"partition\":0},"
                                     "{\"topic\":\"orders\",\"partition\":1}]}");
    zkdata_isr_change_encode(&b, &l, NULL, 0);
    CU_ASSERT_EQUAL_FATAL(zkdata_tp_list_decode(b.data, b.len, &back, NULL, 0), 0);
    CU_ASSERT_EQUAL(back.n, 6);
    CU_ASSERT_STRING_EQUAL(back.tps[0].topic, "orders");
    CU_ASSERT_EQUAL(back.tps[0].partition, 2);
    zkdata_tp_list_free(&back);
    zkdata_tp_list_free(&l);

    char err[160];
    const char *bad = "{\"version\":1,\"partitions\":[{\"topic\":\"t\"}]}";
    CU_ASSERT_EQUAL(zkdata_tp_list_decode(bad, strlen(bad), &back, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "partition list: field \"partition\" is missing");
    zkdata_tp_list_free(&back);
    CU_ASSERT_EQUAL(zkdata_tp_list_decode("{\"version\":1}", 13, &back, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "partition list: field \"partitions\" is missing or not an array");
    zkdata_tp_list_free(&back);
    buf_free(&b);
}

static void test_log_dir_event_and_producer_ids(void) {
    buf_t b = BUF_INIT;
    zkdata_log_dir_event_encode(&b, 3);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"broker\":3,\"event\":1}");
    int32_t id = -1;
    zkdata_log_dir_event_encode(&b, 3);
    CU_ASSERT_EQUAL(zkdata_log_dir_event_decode(b.data, b.len, &id, NULL, 0), 0);
    CU_ASSERT_EQUAL(id, 3);
    buf_reset(&b);

    zkdata_producer_id_block_t blk = {0, 0, 999}, back;
    zkdata_producer_id_block_encode(&b, &blk);
    CU_ASSERT_STRING_EQUAL(text(&b), "{\"version\":1,\"broker\":0,\"block_start\":\"0\",\"block_end\":\"999\"}");
    const char *next = "{\"version\":1,\"broker\":2,\"block_start\":\"1000\",\"block_end\":\"1999\"}";
    CU_ASSERT_EQUAL(zkdata_producer_id_block_decode(next, strlen(next), &back, NULL, 0), 0);
    CU_ASSERT_EQUAL(back.broker_id, 2);
    CU_ASSERT_EQUAL(back.block_start, 1000);
    CU_ASSERT_EQUAL(back.block_end, 1999);
    char err[160];
    const char *num = "{\"version\":1,\"broker\":2,\"block_start\":1000,\"block_end\":\"1999\"}";
    CU_ASSERT_EQUAL(zkdata_producer_id_block_decode(num, strlen(num), &back, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "producer id block: field \"block_start\" is not a string");
    buf_free(&b);
}

/* Bytes that are not JSON at all, cut-off documents, NUL bytes, deep
 * nesting: every decoder fails cleanly (ASan checks the "cleanly"). */
static void test_garbage(void) {
    static const char *const inputs[] = {"\x00\x01\x02", "{", "{\"a\":", "nul", "{\"version\":1,\"x\":\"\\ud800\"",
                                         "\xff\xff\xff\xff", "{\"version\":1}\x00 trailing", "[[[[[[[[[[[[[[[["};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t len = i == 0 ? 3 : i == 6 ? 24 : strlen(inputs[i]);
        zkdata_broker_t br;
        zkdata_topic_assignment_t ta;
        zkdata_partition_state_t ps;
        zkdata_config_t cf;
        zkdata_tp_list_t tl;
        zkdata_producer_id_block_t pb;
        char *s = NULL;
        int32_t v;
        char err[256] = "";
        CU_ASSERT_EQUAL(zkdata_broker_decode(inputs[i], len, &br, err, sizeof err), -1);
        CU_ASSERT(strlen(err) > 0);
        CU_ASSERT_EQUAL(zkdata_topic_assignment_decode(inputs[i], len, &ta, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_partition_state_decode(inputs[i], len, &ps, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_config_decode(inputs[i], len, &cf, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_tp_list_decode(inputs[i], len, &tl, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_producer_id_block_decode(inputs[i], len, &pb, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_controller_decode(inputs[i], len, &v, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_cluster_id_decode(inputs[i], len, &s, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_config_change_decode(inputs[i], len, &s, NULL, 0), -1);
        CU_ASSERT_EQUAL(zkdata_log_dir_event_decode(inputs[i], len, &v, NULL, 0), -1);
        zkdata_broker_free(&br);
        zkdata_topic_assignment_free(&ta);
        zkdata_partition_state_free(&ps);
        zkdata_config_free(&cf);
        zkdata_tp_list_free(&tl);
    }
}

void unit_register(void) {
    static const unit_test_t paths[] = {
        {"paths", test_paths},
        {"paths reject bad names", test_paths_reject_bad_names},
        {"persistent paths", test_persistent_paths},
        {"sequence number", test_sequence_number},
        {"uuid", test_uuid},
        {NULL, NULL},
    };
    static const unit_test_t data[] = {
        {"controller", test_controller},
        {"controller epoch", test_controller_epoch},
        {"cluster id", test_cluster_id},
        {"broker v5 (real)", test_broker_encode_v5},
        {"broker variants", test_broker_encode_variants},
        {"broker decode (real)", test_broker_decode_real},
        {"broker roundtrip", test_broker_roundtrip},
        {"broker decode errors", test_broker_decode_errors},
        {"topic encode (real)", test_topic_encode_real},
        {"topic reassignment", test_topic_reassignment_roundtrip},
        {"topic decode versions", test_topic_decode_versions},
        {"topic decode errors", test_topic_decode_errors},
        {"partition state", test_partition_state},
        {"config encode", test_config_encode},
        {"config encode resized", test_config_encode_resized},
        {"config escaping", test_config_escaping},
        {"config decode", test_config_decode},
        {"config change", test_config_change},
        {"isr change and preferred election", test_isr_change},
        {"log dir event, producer ids", test_log_dir_event_and_producer_ids},
        {"garbage", test_garbage},
        {NULL, NULL},
    };
    unit_add_suite("zkdata paths", paths);
    unit_add_suite("zkdata data", data);
}
