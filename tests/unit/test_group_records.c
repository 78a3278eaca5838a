/* group_records: the coordinator's partition (Java's String.hashCode) and
 * the __consumer_offsets key/value formats, against the bytes Kafka writes
 * (consumer-groups.md §1, §9). */
#include "unit.h"

#include "group/group_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ' || *p == '\n') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

static void expect_bytes(const buf_t *b, const char *hex) {
    uint8_t want[512];
    size_t n = unhex(hex, want);
    CU_ASSERT_EQUAL(b->len, n);
    CU_ASSERT(b->len == n && memcmp(b->data, want, n) == 0);
}

static void test_hash_and_partition(void) {
    CU_ASSERT_EQUAL(group_java_hash("test", 4), 3556498);
    CU_ASSERT_EQUAL(group_java_hash("my-group", 8), -1906497762);
    CU_ASSERT_EQUAL(group_java_hash("g1", 2), 3242);
    CU_ASSERT_EQUAL(group_java_hash("", 0), 0);
    CU_ASSERT_EQUAL(group_partition_for("test", 4, 50), 48);
    CU_ASSERT_EQUAL(group_partition_for("my-group", 8, 50), 12);
    CU_ASSERT_EQUAL(group_partition_for("g1", 2, 50), 42);
    /* Java's famous Integer.MIN_VALUE hash: Utils.abs maps it to 0 */
    CU_ASSERT_EQUAL(group_java_hash("polygenelubricants", 18), INT32_MIN);
    CU_ASSERT_EQUAL(group_partition_for("polygenelubricants", 18, 50), 0);
    /* UTF-16 code units, not UTF-8 bytes: U+00E9 is one unit (233), U+1F600
     * a surrogate pair D83D DE00 */
    CU_ASSERT_EQUAL(group_java_hash("\xc3\xa9", 2), 233);
    CU_ASSERT_EQUAL(group_java_hash("\xf0\x9f\x98\x80", 4), 31 * 0xD83D + 0xDE00);
    /* an invalid byte is U+FFFD, as Java's decoder replaces it */
    CU_ASSERT_EQUAL(group_java_hash("\xff", 1), 0xFFFD);
    CU_ASSERT_EQUAL(group_java_hash("a\xc3", 2), 31 * 'a' + 0xFFFD);
}

static void test_offset_records_exact_bytes(void) {
    buf_t k, v;
    buf_init(&k);
    buf_init(&v);
    group_rec_offset_key(&k, kp_str("g1"), kp_str("t"), 0);
    expect_bytes(&k, "0001 0002 6731 0001 74 00000000");
    group_rec_offset_t o = {42, -1, kp_str(""), 1600000000000LL, -1};
    group_rec_offset_value(&v, &o);
    expect_bytes(&v, "0003 000000000000002a ffffffff 0000 00000174876e8000");

    group_rec_key_t key;
    CU_ASSERT_TRUE(group_rec_key_decode(k.data, k.len, &key));
    CU_ASSERT_EQUAL(key.kind, GROUP_REC_OFFSET);
    CU_ASSERT_TRUE(kp_str_eq(key.group, "g1") && kp_str_eq(key.topic, "t"));
    CU_ASSERT_EQUAL(key.partition, 0);
    group_rec_offset_t back;
    CU_ASSERT_TRUE(group_rec_offset_value_decode(v.data, v.len, &back));
    CU_ASSERT_EQUAL(back.offset, 42);
    CU_ASSERT_EQUAL(back.leader_epoch, -1);
    CU_ASSERT_EQUAL(back.commit_timestamp, 1600000000000LL);
    CU_ASSERT_EQUAL(back.expire_timestamp, -1);
    CU_ASSERT_TRUE(kp_str_eq(back.metadata, ""));

    /* an explicit retention is written as value v1 */
    buf_reset(&v);
    group_rec_offset_t r = {7, 3, kp_str("m"), 1000, 2000};
    group_rec_offset_value(&v, &r);
    expect_bytes(&v, "0001 0000000000000007 0001 6d 00000000000003e8 00000000000007d0");
    CU_ASSERT_TRUE(group_rec_offset_value_decode(v.data, v.len, &back));
    CU_ASSERT_EQUAL(back.expire_timestamp, 2000);
    CU_ASSERT_EQUAL(back.leader_epoch, -1); /* v1 carries none */

    /* values v0 and v2 (older Kafkas) read too */
    uint8_t raw[64];
    size_t n = unhex("0000 0000000000000005 0000 0000000000000009", raw);
    CU_ASSERT_TRUE(group_rec_offset_value_decode(raw, n, &back));
    CU_ASSERT_EQUAL(back.offset, 5);
    CU_ASSERT_EQUAL(back.commit_timestamp, 9);
    n = unhex("0002 0000000000000006 0000 000000000000000a", raw);
    CU_ASSERT_TRUE(group_rec_offset_value_decode(raw, n, &back));
    CU_ASSERT_EQUAL(back.offset, 6);
    /* key v0 has v1's layout */
    n = unhex("0000 0002 6731 0001 74 00000003", raw);
    CU_ASSERT_TRUE(group_rec_key_decode(raw, n, &key));
    CU_ASSERT_EQUAL(key.partition, 3);
    buf_free(&k);
    buf_free(&v);
}

static const char GROUP_VALUE_V3[] =
    "0003 0008 636f6e73756d6572 00000001 0005 72616e6765 0007 63312d31323334 00000174876e8000"
    "00000001 0007 63312d31323334 ffff 0002 6331 000a 2f3132372e302e302e31 000493e0 00002710"
    "0000000d 0000 00000001 0001 74 ffffffff"
    "00000015 0000 00000001 0001 74 00000001 00000000 ffffffff";

static void test_group_records_exact_bytes(void) {
    buf_t k, v;
    buf_init(&k);
    buf_init(&v);
    group_rec_group_key(&k, kp_str("g1"));
    expect_bytes(&k, "0002 0002 6731");
    uint8_t sub[32], asg[32];
    size_t nsub = unhex("0000 00000001 0001 74 ffffffff", sub);
    size_t nasg = unhex("0000 00000001 0001 74 00000001 00000000 ffffffff", asg);
    group_rec_member_t m = {kp_str("c1-1234"), KP_STR_NULL, kp_str("c1"), kp_str("/127.0.0.1"), 300000, 10000,
                            {sub, (int32_t)nsub}, {asg, (int32_t)nasg}};
    group_rec_group_t g = {kp_str("consumer"), 1, kp_str("range"), kp_str("c1-1234"), 1600000000000LL, &m, 1};
    group_rec_group_value(&v, &g);
    expect_bytes(&v, GROUP_VALUE_V3);

    group_rec_key_t key;
    CU_ASSERT_TRUE(group_rec_key_decode(k.data, k.len, &key));
    CU_ASSERT_EQUAL(key.kind, GROUP_REC_GROUP);
    CU_ASSERT_TRUE(kp_str_eq(key.group, "g1"));
    kp_arena_t a = KP_ARENA_INIT;
    group_rec_group_t back;
    CU_ASSERT_TRUE_FATAL(group_rec_group_value_decode(v.data, v.len, &a, &back));
    CU_ASSERT_TRUE(kp_str_eq(back.protocol_type, "consumer") && kp_str_eq(back.protocol, "range"));
    CU_ASSERT_EQUAL(back.generation, 1);
    CU_ASSERT_EQUAL(back.current_state_timestamp, 1600000000000LL);
    CU_ASSERT_EQUAL_FATAL(back.nmembers, 1);
    CU_ASSERT_TRUE(kp_str_eq(back.members[0].client_host, "/127.0.0.1"));
    CU_ASSERT_EQUAL(back.members[0].group_instance_id.len, -1);
    CU_ASSERT_EQUAL(back.members[0].rebalance_timeout_ms, 300000);
    CU_ASSERT_EQUAL(back.members[0].assignment.len, (int32_t)nasg);

    /* an Empty group: null protocol and leader, no members */
    buf_reset(&v);
    group_rec_group_t empty = {kp_str("consumer"), 2, KP_STR_NULL, KP_STR_NULL, 5, NULL, 0};
    group_rec_group_value(&v, &empty);
    expect_bytes(&v, "0003 0008 636f6e73756d6572 00000002 ffff ffff 0000000000000005 00000000");
    CU_ASSERT_TRUE(group_rec_group_value_decode(v.data, v.len, &a, &back));
    CU_ASSERT_EQUAL(back.protocol.len, -1);
    CU_ASSERT_EQUAL(back.nmembers, 0);

    /* v0: no state timestamp, no rebalance timeout (it is the session's) */
    uint8_t raw[128];
    size_t n = unhex("0000 0001 63 00000003 0001 72 0001 6d 00000001 0001 6d 0001 63 0001 68 00002710"
                     "00000000 00000000", raw);
    CU_ASSERT_TRUE_FATAL(group_rec_group_value_decode(raw, n, &a, &back));
    CU_ASSERT_EQUAL(back.current_state_timestamp, -1);
    CU_ASSERT_EQUAL_FATAL(back.nmembers, 1);
    CU_ASSERT_EQUAL(back.members[0].rebalance_timeout_ms, 10000);
    kp_arena_free(&a);
    buf_free(&k);
    buf_free(&v);
}

static void test_malformed_refused(void) {
    uint8_t raw[128];
    group_rec_key_t key;
    size_t n = unhex("0003 0002 6731", raw); /* unknown key version */
    CU_ASSERT_FALSE(group_rec_key_decode(raw, n, &key));
    n = unhex("0001 0002 6731 0001", raw); /* truncated */
    CU_ASSERT_FALSE(group_rec_key_decode(raw, n, &key));
    CU_ASSERT_FALSE(group_rec_key_decode(raw, 1, &key));
    group_rec_offset_t o;
    n = unhex("0004 0000000000000005 0000 0000000000000009", raw);
    CU_ASSERT_FALSE(group_rec_offset_value_decode(raw, n, &o));
    CU_ASSERT_FALSE(group_rec_offset_value_decode(raw + 2, n - 4, &o));
    kp_arena_t a = KP_ARENA_INIT;
    group_rec_group_t g;
    uint8_t v3[512];
    size_t nv = unhex(GROUP_VALUE_V3, v3);
    for (size_t cut = 0; cut < nv; cut++)
        CU_ASSERT_FALSE(group_rec_group_value_decode(v3, cut, &a, &g));
    /* a member count the input cannot hold is refused before allocating */
    n = unhex("0003 0001 63 00000001 ffff ffff 0000000000000000 7fffffff", raw);
    CU_ASSERT_FALSE(group_rec_group_value_decode(raw, n, &a, &g));
    kp_arena_free(&a);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"String.hashCode and the coordinator's partition", test_hash_and_partition},
        {"offset commit key and values: Kafka's bytes", test_offset_records_exact_bytes},
        {"group metadata key and values: Kafka's bytes", test_group_records_exact_bytes},
        {"malformed keys and values refused", test_malformed_refused},
        {NULL, NULL},
    };
    unit_add_suite("group_records", tests);
}
