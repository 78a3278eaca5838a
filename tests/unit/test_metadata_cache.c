/* The metadata cache's updates as clients see them through snapshots: a
 * LeaderAndIsr's states advance only partitions the cache knows, only to a
 * newer leader epoch, and keep the offline replicas UpdateMetadata set; a
 * reader's snapshot never changes under it. */
#include "unit.h"

#include "replica/metadata_cache.h"

#include <string.h>

static const mc_partition_t *part_of(const mc_snapshot_t *s, const char *topic, int32_t index) {
    const mc_topic_t *t = mc_snapshot_topic(s, topic, strlen(topic));
    return t && index < t->npartitions ? &t->partitions[index] : NULL;
}

static void test_advance_from_leader_and_isr(void) {
    metadata_cache_t *mc = metadata_cache_new();
    int32_t replicas[] = {1, 2, 3}, isr3[] = {1, 2, 3}, offline[] = {3};
    const char *topics[] = {"a", "a"};
    mc_partition_t known[] = {
        {.index = 0, .leader = 3, .leader_epoch = 5, .replicas = replicas, .nreplicas = 3, .isr = isr3, .nisr = 3,
         .offline = offline, .noffline = 1},
        {.index = 1, .leader = 1, .leader_epoch = 7, .replicas = replicas, .nreplicas = 3, .isr = isr3, .nisr = 3},
    };
    metadata_cache_set_partitions(mc, topics, known, 2);
    const mc_snapshot_t *before = metadata_cache_acquire(mc);

    int32_t isr2[] = {1, 2};
    const char *lai_topics[] = {"a", "a", "a", "b"};
    mc_partition_t lai[] = {
        {.index = 0, .leader = 1, .leader_epoch = 6, .replicas = replicas, .nreplicas = 3, .isr = isr2, .nisr = 2},
        {.index = 1, .leader = 2, .leader_epoch = 7, .replicas = replicas, .nreplicas = 3, .isr = isr2, .nisr = 2},
        {.index = 2, .leader = 2, .leader_epoch = 1, .replicas = replicas, .nreplicas = 3, .isr = isr2, .nisr = 2},
        {.index = 0, .leader = 2, .leader_epoch = 1, .replicas = replicas, .nreplicas = 3, .isr = isr2, .nisr = 2},
    };
    metadata_cache_advance_partitions(mc, lai_topics, lai, 4);
    const mc_snapshot_t *after = metadata_cache_acquire(mc);

    const mc_partition_t *p0 = part_of(after, "a", 0);
    CU_ASSERT_FATAL(p0 != NULL);
    CU_ASSERT_EQUAL(p0->leader, 1); /* a newer epoch: taken */
    CU_ASSERT_EQUAL(p0->leader_epoch, 6);
    CU_ASSERT_EQUAL(p0->nisr, 2);
    CU_ASSERT(p0->nisr == 2 && p0->isr[0] == 1 && p0->isr[1] == 2);
    CU_ASSERT(p0->noffline == 1 && p0->offline[0] == 3); /* kept */
    const mc_partition_t *p1 = part_of(after, "a", 1);
    CU_ASSERT_FATAL(p1 != NULL);
    CU_ASSERT_EQUAL(p1->leader, 1); /* the same epoch: left */
    CU_ASSERT_EQUAL(p1->nisr, 3);
    CU_ASSERT_PTR_NULL(part_of(after, "a", 2)); /* unknown partition: UpdateMetadata's */
    CU_ASSERT_PTR_NULL(mc_snapshot_topic(after, "b", 1)); /* unknown topic: likewise */

    const mc_partition_t *old0 = part_of(before, "a", 0); /* the reader's snapshot is unchanged */
    CU_ASSERT(old0 && old0->leader == 3 && old0->leader_epoch == 5 && old0->nisr == 3);
    metadata_cache_release(mc, before);
    metadata_cache_release(mc, after);
    metadata_cache_free(mc);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"LeaderAndIsr states advance known partitions", test_advance_from_leader_and_isr},
        {NULL, NULL},
    };
    unit_add_suite("metadata_cache", tests);
}
