/* topic_name, replica_assign, and the parts of topic_admin that need no
 * ZooKeeper. Expected assignments come from Kafka 2.8's AdminUtilsTest and
 * AdminRackAwareTest where they have one (marked "Kafka"), the others were
 * worked out by hand from AdminUtils.assignReplicasToBrokers. */
#include "unit.h"

#include "admin/replica_assign.h"
#include "admin/topic_admin.h"
#include "proto/topic_name.h"
#include "zk/zkdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ----------------------------------------------------------------------- */

/* The assignment as "p:r,r,r p:r,r,r ..." for one-line comparisons. */
static const char *show(const zkdata_topic_assignment_t *a) {
    static char s[4096];
    size_t off = 0;
    s[0] = '\0';
    for (size_t i = 0; i < a->n_partitions && off < sizeof s - 64; i++) {
        const zkdata_partition_assignment_t *p = &a->partitions[i];
        off += (size_t)snprintf(s + off, sizeof s - off, "%s%d:", i ? " " : "", p->partition);
        for (size_t j = 0; j < p->n_replicas; j++)
            off += (size_t)snprintf(s + off, sizeof s - off, "%s%d", j ? "," : "", p->replicas[j]);
    }
    return s;
}

/* A generator that replays a script of draws and records the bounds. */
typedef struct script {
    uint32_t values[4];
    uint32_t bounds[4];
    int next;
} script_t;

static uint32_t script_rand(void *ctx, uint32_t bound) {
    script_t *s = ctx;
    s->bounds[s->next] = bound;
    return s->values[s->next++];
}

static rassign_broker_t *brokers_of(const int32_t *ids, const char *const *racks, size_t n) {
    static rassign_broker_t b[32];
    for (size_t i = 0; i < n; i++) {
        b[i].id = ids[i];
        b[i].rack = racks ? racks[i] : NULL;
    }
    return b;
}

/* Assigns with a fixed start index; returns the error and fills a. */
static kerr_t assign_fixed(const rassign_broker_t *b, size_t n, int32_t parts, int32_t rf, int32_t start,
                           int32_t first_id, zkdata_topic_assignment_t *a, char *err, size_t errlen) {
    rassign_params_t p;
    rassign_params_init(&p);
    p.brokers = b;
    p.n_brokers = n;
    p.n_partitions = parts;
    p.replication_factor = rf;
    p.fixed_start_index = start;
    p.start_partition_id = first_id;
    zkdata_topic_assignment_init(a);
    return rassign_assign(&p, a, err, errlen);
}

/* --- topic names -------------------------------------------------------------------- */

static void test_name_valid(void) {
    char err[512];
    const char *ok[] = {"orders", "a", "A-Z_0.9", "__consumer_offsets", "...", "-", "a..b"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CU_ASSERT_EQUAL(topic_name_validate(ok[i], err, sizeof err), 0);
    char name[251];
    memset(name, 'x', 249);
    name[249] = '\0';
    CU_ASSERT_EQUAL(topic_name_validate(name, err, sizeof err), 0);
}

static void test_name_invalid(void) {
    char err[512];
    CU_ASSERT_EQUAL(topic_name_validate("", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "Topic name is illegal, it can't be empty");
    CU_ASSERT_EQUAL(topic_name_validate(".", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "Topic name cannot be \".\" or \"..\"");
    CU_ASSERT_EQUAL(topic_name_validate("..", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "Topic name cannot be \".\" or \"..\"");
    char name[251];
    memset(name, 'x', 250);
    name[250] = '\0';
    CU_ASSERT_EQUAL(topic_name_validate(name, err, sizeof err), -1);
    const char *want = "Topic name is illegal, it can't be longer than 249 characters, topic name: xxx";
    CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
    CU_ASSERT_EQUAL(strlen(err), 75 + 250);
    CU_ASSERT_EQUAL(topic_name_validate("a b", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "Topic name \"a b\" is illegal, it contains a character other than ASCII "
                                "alphanumerics, '.', '_' and '-'");
    CU_ASSERT_EQUAL(topic_name_validate("a/b", err, sizeof err), -1);
    CU_ASSERT_EQUAL(topic_name_validate("caf\xc3\xa9", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "Topic name \"caf\xc3\xa9\" is illegal, it contains a character other than ASCII "
                                "alphanumerics, '.', '_' and '-'");
}

/* The yes/no form: the same rule on (pointer, length), as checkpoints,
 * partition directories and Metadata requests use it. */
static void test_name_valid_bool(void) {
    char long_name[251];
    memset(long_name, 'x', 250);
    long_name[250] = '\0';
    CU_ASSERT_FALSE(topic_name_valid(long_name, strlen(long_name)));
    long_name[249] = '\0';
    CU_ASSERT_TRUE(topic_name_valid(long_name, strlen(long_name)));
    CU_ASSERT_TRUE(topic_name_valid("__consumer_offsets", sizeof "__consumer_offsets" - 1));
    CU_ASSERT_TRUE(topic_name_valid("a.b-C_9", sizeof "a.b-C_9" - 1));
    CU_ASSERT_TRUE(topic_name_valid("...", sizeof "..." - 1));
    CU_ASSERT_FALSE(topic_name_valid("", sizeof "" - 1));
    CU_ASSERT_FALSE(topic_name_valid(".", sizeof "." - 1));
    CU_ASSERT_FALSE(topic_name_valid("..", sizeof ".." - 1));
    CU_ASSERT_FALSE(topic_name_valid("a b", sizeof "a b" - 1));
    CU_ASSERT_FALSE(topic_name_valid("a/b", sizeof "a/b" - 1));
    CU_ASSERT_FALSE(topic_name_valid("a\nb", sizeof "a\nb" - 1));
    /* bounded by len, not by a NUL; a NUL inside is an illegal character */
    CU_ASSERT_TRUE(topic_name_valid("orders-0", 6));
    CU_ASSERT_FALSE(topic_name_valid("..x", 2));
    CU_ASSERT_FALSE(topic_name_valid("a\0b", 3));
    /* agrees with topic_name_validate */
    const char *names[] = {"orders", ".", "..", "...", "", "a b", "caf\xc3\xa9", "__consumer_offsets"};
    char err[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CU_ASSERT_EQUAL(topic_name_valid(names[i], strlen(names[i])),
                        topic_name_validate(names[i], err, sizeof err) == 0);
}

/* Java counts UTF-16 units: 200 two-byte characters are 400 bytes but only
 * 200 characters, so Kafka reports the characters, not the length. */
static void test_name_length_in_characters(void) {
    char name[401], err[1024];
    for (int i = 0; i < 200; i++) {
        name[2 * i] = (char)0xc3;
        name[2 * i + 1] = (char)0xa9;
    }
    name[400] = '\0';
    CU_ASSERT_EQUAL(topic_name_validate(name, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "contains a character other than"));
    /* 125 characters outside the BMP are 250 UTF-16 units: too long */
    char four[501];
    for (int i = 0; i < 125; i++)
        memcpy(four + 4 * i, "\xf0\x9f\x98\x80", 4);
    four[500] = '\0';
    CU_ASSERT_EQUAL(topic_name_validate(four, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "can't be longer than 249 characters"));
}

static void test_name_collisions(void) {
    CU_ASSERT_TRUE(topic_name_has_collision_chars("a.b"));
    CU_ASSERT_TRUE(topic_name_has_collision_chars("a_b"));
    CU_ASSERT_FALSE(topic_name_has_collision_chars("a-b"));
    char s[] = "a.b_c.d";
    topic_name_unify_collision_chars(s);
    CU_ASSERT_STRING_EQUAL(s, "a_b_c_d");
    CU_ASSERT_TRUE(topic_name_collide("a.b", "a_b"));
    CU_ASSERT_TRUE(topic_name_collide("a_b", "a.b"));
    CU_ASSERT_TRUE(topic_name_collide("a.b", "a.b"));
    CU_ASSERT_TRUE(topic_name_collide("x._y", "x_.y"));
    CU_ASSERT_FALSE(topic_name_collide("a.b", "a-b"));
    CU_ASSERT_FALSE(topic_name_collide("a.b", "a.bc"));
    CU_ASSERT_FALSE(topic_name_collide("a", "a."));
    CU_ASSERT_TRUE(topic_name_is_internal("__consumer_offsets"));
    CU_ASSERT_TRUE(topic_name_is_internal("__transaction_state"));
    CU_ASSERT_FALSE(topic_name_is_internal("__consumer_offsets2"));
    CU_ASSERT_PTR_NULL(tadmin_collision_warning("orders"));
    CU_ASSERT_STRING_EQUAL(tadmin_collision_warning("my.topic"),
                           "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore "
                           "('_') could collide. To avoid issues it is best to use either, but not both.");
}

/* --- rack-unaware ----------------------------------------------------------------------- */

/* Kafka: AdminRackAwareTest.testReplicaAssignment (also the reference's table). */
static void test_unaware_kafka_table(void) {
    const int32_t ids[] = {0, 1, 2, 3, 4};
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, NULL, 5), 5, 10, 3, 0, -1, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:0,1,2 1:1,2,3 2:2,3,4 3:3,4,0 4:4,0,1 5:0,2,3 6:1,3,4 7:2,4,0 8:3,0,1 9:4,1,2");
    zkdata_topic_assignment_free(&a);
}

/* A fixed start index is used as both start and shift; ids are used in the
 * order given (not sorted here). */
static void test_unaware_fixed_start(void) {
    const int32_t ids[] = {10, 20, 30, 40};
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, NULL, 4), 4, 6, 2, 3, -1, &a, err, sizeof err), KERR_NONE);
    /* start 3, shift 3: p0 first = idx 3 (40), second = (3 + 1 + 3 % 3) % 4 = idx 0 (10) */
    CU_ASSERT_STRING_EQUAL(show(&a), "0:40,10 1:10,20 2:20,30 3:30,40 4:40,20 5:10,30");
    zkdata_topic_assignment_free(&a);
}

/* Kafka draws the start index first, then the initial shift, each with
 * bound = number of brokers. */
static void test_unaware_random_is_injected(void) {
    const int32_t ids[] = {10, 20, 30, 40};
    script_t s = {.values = {3, 2}};
    rassign_params_t p;
    rassign_params_init(&p);
    p.brokers = brokers_of(ids, NULL, 4);
    p.n_brokers = 4;
    p.n_partitions = 9;
    p.replication_factor = 3;
    p.rand = script_rand;
    p.rand_ctx = &s;
    zkdata_topic_assignment_t a;
    zkdata_topic_assignment_init(&a);
    char err[256];
    CU_ASSERT_EQUAL(rassign_assign(&p, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_EQUAL(s.next, 2);
    CU_ASSERT_EQUAL(s.bounds[0], 4);
    CU_ASSERT_EQUAL(s.bounds[1], 4);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:40,30,10 1:10,40,20 2:20,10,30 3:30,20,40 4:40,10,20 5:10,20,30 "
                                     "6:20,30,40 7:30,40,10 8:40,20,30");
    zkdata_topic_assignment_free(&a);

    script_t s2 = {.values = {2, 1}};
    const int32_t three[] = {1, 2, 3};
    p.brokers = brokers_of(three, NULL, 3);
    p.n_brokers = 3;
    p.n_partitions = 6;
    p.replication_factor = 2;
    p.rand_ctx = &s2;
    zkdata_topic_assignment_init(&a);
    CU_ASSERT_EQUAL(rassign_assign(&p, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:3,2 1:1,3 2:2,1 3:3,1 4:1,2 5:2,3");
    zkdata_topic_assignment_free(&a);
}

static void test_unaware_single_broker(void) {
    const int32_t ids[] = {7};
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, NULL, 1), 1, 3, 1, -1, -1, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:7 1:7 2:7");
    zkdata_topic_assignment_free(&a);
}

/* The system generator still gives a valid spread: every partition has rf
 * distinct replicas and the leaders rotate over all brokers. */
static void test_unaware_system_random(void) {
    const int32_t ids[] = {1, 2, 3, 4, 5};
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, NULL, 5), 5, 10, 3, -1, -1, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_EQUAL(a.n_partitions, 10);
    int leaders[6] = {0};
    for (size_t i = 0; i < a.n_partitions; i++) {
        const zkdata_partition_assignment_t *p = &a.partitions[i];
        CU_ASSERT_EQUAL(p->partition, (int32_t)i);
        CU_ASSERT_EQUAL(p->n_replicas, 3);
        CU_ASSERT(p->replicas[0] != p->replicas[1] && p->replicas[0] != p->replicas[2] &&
                  p->replicas[1] != p->replicas[2]);
        leaders[p->replicas[0]]++;
    }
    for (int b = 1; b <= 5; b++)
        CU_ASSERT_EQUAL(leaders[b], 2);
    zkdata_topic_assignment_free(&a);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT(rassign_rand_system(NULL, 3) < 3);
}

/* AdminZkClient.addPartitions: start index from partition 0's first
 * replica, partition ids from the current count. */
static void test_add_partitions_start(void) {
    const int32_t ids[] = {1, 2, 3};
    rassign_broker_t *b = brokers_of(ids, NULL, 3);
    CU_ASSERT_EQUAL(rassign_add_start_index(b, 3, 1), 0);
    CU_ASSERT_EQUAL(rassign_add_start_index(b, 3, 2), 1);
    CU_ASSERT_EQUAL(rassign_add_start_index(b, 3, 3), 2);
    CU_ASSERT_EQUAL(rassign_add_start_index(b, 3, 0), 0);
    CU_ASSERT_EQUAL(rassign_add_start_index(b, 3, 9), 0); /* no id >= 9 */
    const int32_t gaps[] = {1, 5, 9};
    CU_ASSERT_EQUAL(rassign_add_start_index(brokers_of(gaps, NULL, 3), 3, 4), 1);

    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, NULL, 3), 3, 2, 2, 1, 3, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "3:2,3 4:3,1");
    zkdata_topic_assignment_free(&a);
}

/* --- rack-aware ------------------------------------------------------------------------- */

static const int32_t rack_ids[] = {0, 1, 2, 3, 4, 5};
static const char *const rack_map[] = {"rack1", "rack3", "rack3", "rack2", "rack2", "rack1"};

/* Kafka: AdminRackAwareTest.testGetRackAlternatedBrokerListAndAssignReplicasToBrokers. */
static void test_rack_alternated(void) {
    int32_t out[6];
    rassign_rack_alternated(brokers_of(rack_ids, rack_map, 6), 6, out);
    const int32_t want[] = {0, 3, 1, 5, 4, 2};
    CU_ASSERT_EQUAL(memcmp(out, want, sizeof want), 0);
    rassign_rack_alternated(brokers_of(rack_ids, rack_map, 5), 5, out);
    const int32_t want5[] = {0, 3, 1, 4, 2};
    CU_ASSERT_EQUAL(memcmp(out, want5, sizeof want5), 0);
    /* input order does not matter */
    const int32_t shuffled[] = {5, 2, 0, 4, 1, 3};
    const char *const shuffled_racks[] = {"rack1", "rack3", "rack1", "rack2", "rack3", "rack2"};
    rassign_rack_alternated(brokers_of(shuffled, shuffled_racks, 6), 6, out);
    CU_ASSERT_EQUAL(memcmp(out, want, sizeof want), 0);
}

static void test_rack_aware_kafka_table(void) {
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(rack_ids, rack_map, 6), 6, 7, 3, 0, 0, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:0,3,1 1:3,1,5 2:1,5,4 3:5,4,2 4:4,2,0 5:2,0,3 6:0,4,2");
    zkdata_topic_assignment_free(&a);
}

/* Every partition spans all three racks (rf = racks), fixed start 2. */
static void test_rack_aware_spread(void) {
    const char *const racks[] = {"rack1", "rack2", "rack2", "rack3", "rack3", "rack1"};
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(rack_ids, racks, 6), 6, 6, 3, 2, 0, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:3,2,0 1:5,4,1 2:2,0,3 3:4,1,5 4:0,3,2 5:1,5,4");
    for (size_t i = 0; i < a.n_partitions; i++) {
        const zkdata_partition_assignment_t *p = &a.partitions[i];
        const char *r0 = racks[p->replicas[0]], *r1 = racks[p->replicas[1]], *r2 = racks[p->replicas[2]];
        CU_ASSERT(strcmp(r0, r1) && strcmp(r0, r2) && strcmp(r1, r2));
    }
    zkdata_topic_assignment_free(&a);
    /* expansion from partition 12 (AdminRackAwareTest.testRackAwareExpansion's shape) */
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(rack_ids, racks, 6), 6, 3, 2, 1, 12, &a, err, sizeof err), KERR_NONE);
    /* fixed start 1 -> shift 1, bumped to 2 at partition 12 */
    CU_ASSERT_STRING_EQUAL(show(&a), "12:1,5 13:3,2 14:5,4");
    zkdata_topic_assignment_free(&a);
}

/* More replicas than racks: once every rack has one, brokers already used
 * are skipped (AdminRackAwareTest.testSkipBrokerWithReplicaAlreadyAssigned). */
static void test_rack_aware_more_replicas_than_racks(void) {
    const int32_t ids[] = {0, 1, 2, 3, 4};
    const char *const racks[] = {"a", "b", "c", "a", "a"};
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, racks, 5), 5, 6, 4, 2, -1, &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:2,0,1,3 1:3,1,2,4 2:4,2,1,3 3:0,1,2,3 4:1,4,2,3 5:2,4,1,3");
    zkdata_topic_assignment_free(&a);
}

/* --- errors ------------------------------------------------------------------------------ */

static void test_errors(void) {
    const int32_t ids[] = {1, 2, 3};
    rassign_broker_t *b = brokers_of(ids, NULL, 3);
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(assign_fixed(b, 3, 0, 1, 0, -1, &a, err, sizeof err), KERR_INVALID_PARTITIONS);
    CU_ASSERT_STRING_EQUAL(err, "Number of partitions must be larger than 0.");
    CU_ASSERT_EQUAL(assign_fixed(b, 3, -4, 1, 0, -1, &a, err, sizeof err), KERR_INVALID_PARTITIONS);
    CU_ASSERT_EQUAL(assign_fixed(b, 3, 3, 0, 0, -1, &a, err, sizeof err), KERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_STRING_EQUAL(err, "Replication factor must be larger than 0.");
    CU_ASSERT_EQUAL(assign_fixed(b, 3, 3, -1, 0, -1, &a, err, sizeof err), KERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_EQUAL(assign_fixed(b, 3, 3, 4, 0, -1, &a, err, sizeof err), KERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_STRING_EQUAL(err, "Replication factor: 4 larger than available brokers: 3.");
    CU_ASSERT_EQUAL(assign_fixed(b, 0, 1, 1, 0, -1, &a, err, sizeof err), KERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_STRING_EQUAL(err, "Replication factor: 1 larger than available brokers: 0.");
    /* partitions are checked first, as in Kafka */
    CU_ASSERT_EQUAL(assign_fixed(b, 3, 0, 9, 0, -1, &a, err, sizeof err), KERR_INVALID_PARTITIONS);
    CU_ASSERT_EQUAL(assign_fixed(b, 3, 1000000, 2, 0, -1, &a, err, sizeof err), KERR_INVALID_PARTITIONS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1000000 replicas"));
    const char *const mixed[] = {"r1", NULL, "r2"};
    CU_ASSERT_EQUAL(assign_fixed(brokers_of(ids, mixed, 3), 3, 3, 2, 0, -1, &a, err, sizeof err),
                    KERR_UNKNOWN_SERVER_ERROR);
    CU_ASSERT_STRING_EQUAL(err, "Not all brokers have rack information for replica rack aware assignment.");
    CU_ASSERT_EQUAL(a.n_partitions, 0); /* nothing appended on error */
}

/* --- --replica-assignment ------------------------------------------------------------------ */

static kerr_t parse(const char *text, zkdata_topic_assignment_t *a, char *err, size_t errlen) {
    zkdata_topic_assignment_init(a);
    return rassign_parse(text, a, err, errlen);
}

static void test_parse(void) {
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(parse("1:2:3,2:3:1", &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:1,2,3 1:2,3,1");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse(" 1 : 2 , 3 :4", &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:1,2 1:3,4");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("5", &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:5");
    zkdata_topic_assignment_free(&a);
    /* Java's split drops trailing empty pieces */
    CU_ASSERT_EQUAL(parse("1:2,", &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:1,2");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1:2:", &a, err, sizeof err), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(show(&a), "0:1,2");
    zkdata_topic_assignment_free(&a);
}

static void test_parse_errors(void) {
    zkdata_topic_assignment_t a;
    char err[256];
    CU_ASSERT_EQUAL(parse("1:2:1,2:3:4", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_STRING_EQUAL(err, "Partition replica lists may not contain duplicate entries: 1");
    CU_ASSERT_EQUAL(a.n_partitions, 0);
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1:1:2:2", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_STRING_EQUAL(err, "Partition replica lists may not contain duplicate entries: 1,2");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1:2,3", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_STRING_EQUAL(err, "Partition 1 has different replication factor: 3");
    CU_ASSERT_EQUAL(a.n_partitions, 0);
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1:x", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_STRING_EQUAL(err, "Invalid replica assignment: \"x\" is not a broker id");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1:99999999999", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1,,2", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_STRING_EQUAL(err, "Invalid replica assignment: an empty broker list");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse(",,", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("::1", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    CU_ASSERT_STRING_EQUAL(err, "Invalid replica assignment: \"\" is not a broker id");
    zkdata_topic_assignment_free(&a);
    CU_ASSERT_EQUAL(parse("1:+", &a, err, sizeof err), KERR_INVALID_REPLICA_ASSIGNMENT);
    zkdata_topic_assignment_free(&a);
}

/* --- topic configs ------------------------------------------------------------------------- */

static void test_configs(void) {
    zkdata_config_t c;
    char msg[256];
    zkdata_config_init(&c);
    CU_ASSERT_EQUAL(tadmin_validate_configs(NULL, msg, sizeof msg), KERR_NONE);
    CU_ASSERT_EQUAL(tadmin_validate_configs(&c, msg, sizeof msg), KERR_NONE);
    zkdata_config_set(&c, "retention.ms", "1000");
    zkdata_config_set(&c, "cleanup.policy", "compact");
    CU_ASSERT_EQUAL(tadmin_validate_configs(&c, msg, sizeof msg), KERR_NONE);
    zkdata_config_set(&c, "retention.msx", "1");
    CU_ASSERT_EQUAL(tadmin_validate_configs(&c, msg, sizeof msg), KERR_INVALID_CONFIG);
    CU_ASSERT_STRING_EQUAL(msg, "Unknown topic config name: retention.msx");
    zkdata_config_free(&c);

    zkdata_config_init(&c);
    zkdata_config_set(&c, "retention.ms", "abc");
    CU_ASSERT_EQUAL(tadmin_validate_configs(&c, msg, sizeof msg), KERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "retention.ms"));
    zkdata_config_free(&c);

    zkdata_config_init(&c);
    zkdata_config_set(&c, "min.compaction.lag.ms", "100");
    zkdata_config_set(&c, "max.compaction.lag.ms", "50");
    CU_ASSERT_EQUAL(tadmin_validate_configs(&c, msg, sizeof msg), KERR_INVALID_CONFIG);
    CU_ASSERT_STRING_EQUAL(msg,
                           "conflict topic config setting min.compaction.lag.ms (100) > max.compaction.lag.ms (50)");
    zkdata_config_free(&c);
}

void unit_register(void) {
    static const unit_test_t names[] = {
        {"valid names", test_name_valid},
        {"invalid names", test_name_invalid},
        {"length in characters", test_name_length_in_characters},
        {"valid as yes/no", test_name_valid_bool},
        {"collisions", test_name_collisions},
        {NULL, NULL},
    };
    static const unit_test_t assign[] = {
        {"rack-unaware: Kafka's table", test_unaware_kafka_table},
        {"rack-unaware: fixed start", test_unaware_fixed_start},
        {"rack-unaware: injected random", test_unaware_random_is_injected},
        {"rack-unaware: single broker", test_unaware_single_broker},
        {"rack-unaware: system random", test_unaware_system_random},
        {"adding partitions", test_add_partitions_start},
        {"rack alternated list", test_rack_alternated},
        {"rack-aware: Kafka's table", test_rack_aware_kafka_table},
        {"rack-aware: spread and expansion", test_rack_aware_spread},
        {"rack-aware: more replicas than racks", test_rack_aware_more_replicas_than_racks},
        {"errors", test_errors},
        {"parse --replica-assignment", test_parse},
        {"parse errors", test_parse_errors},
        {"topic configs", test_configs},
        {NULL, NULL},
    };
    unit_add_suite("topic names", names);
    unit_add_suite("replica assignment", assign);
}
