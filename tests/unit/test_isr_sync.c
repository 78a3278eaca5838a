/* isr_sync: which way ISR changes go for an inter.broker.protocol.version,
 * and when the leader announces its ZooKeeper writes to the controller
 * (an injected clock; the writes themselves need a ZooKeeper and are in
 * tests/integration/test_isr_sync.py). */
#include "unit.h"

#include "replica/isr_sync.h"

static void test_alter_isr_from_2_7_iv2(void) {
    CU_ASSERT_TRUE(isr_sync_uses_alter_isr("2.8-IV1"));
    CU_ASSERT_TRUE(isr_sync_uses_alter_isr("2.8"));
    CU_ASSERT_TRUE(isr_sync_uses_alter_isr("2.7-IV2"));
    CU_ASSERT_TRUE(isr_sync_uses_alter_isr("2.7")); /* a release means its newest internal version */
    CU_ASSERT_FALSE(isr_sync_uses_alter_isr("2.7-IV1"));
    CU_ASSERT_FALSE(isr_sync_uses_alter_isr("2.6"));
    CU_ASSERT_FALSE(isr_sync_uses_alter_isr("2.3-IV1"));
    CU_ASSERT_FALSE(isr_sync_uses_alter_isr("0.10.2"));
}

static void test_notification_rule(void) {
    const int64_t t0 = 1000000;
    /* Nothing written: never, however old the last notification. */
    CU_ASSERT_FALSE(isr_sync_notification_due(false, t0 + 10 * ISR_SYNC_NOTIFY_MAX_DELAY_MS, t0, t0));
    /* A change 2.5 s ago: wait for quiet. */
    CU_ASSERT_FALSE(isr_sync_notification_due(true, t0 + 2500, t0, t0));
    /* Quiet for exactly 5 s is not yet more than 5 s. */
    CU_ASSERT_FALSE(isr_sync_notification_due(true, t0 + ISR_SYNC_NOTIFY_LINGER_MS, t0, t0));
    CU_ASSERT_TRUE(isr_sync_notification_due(true, t0 + ISR_SYNC_NOTIFY_LINGER_MS + 1, t0, t0));
    /* Changes keep coming (the last 1 s ago): only once the last
     * notification is more than 60 s old. */
    int64_t now = t0 + ISR_SYNC_NOTIFY_MAX_DELAY_MS;
    CU_ASSERT_FALSE(isr_sync_notification_due(true, now, now - 1000, t0));
    CU_ASSERT_TRUE(isr_sync_notification_due(true, now + 1, now - 1000, t0));
    /* The check runs twice within the linger time. */
    CU_ASSERT_TRUE(ISR_SYNC_NOTIFY_CHECK_MS * 2 <= ISR_SYNC_NOTIFY_LINGER_MS);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"AlterIsr from inter.broker.protocol.version 2.7-IV2", test_alter_isr_from_2_7_iv2},
        {"ISR change notification: 5 s quiet or 60 s old", test_notification_rule},
        {NULL, NULL},
    };
    unit_add_suite("isr_sync", tests);
}
