/*
 * rdkafka_util — what the librdkafka test and benchmark programs share.
 */
#ifndef SAMSA_RDKAFKA_UTIL_H
#define SAMSA_RDKAFKA_UTIL_H

#include "util/clock.h"

#include <librdkafka/rdkafka.h>
#include <time.h>

/* Partition count of topic from the broker's metadata (the request
 * auto-creates the topic), retried every 100 ms while the topic or any
 * partition leader is not known yet; -1 after timeout_ms. */
static inline int rdkafka_util_partition_count(rd_kafka_t *rk, const char *topic, int64_t timeout_ms) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int count = -1;
    while (count < 0 && clock_mono_ms() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
            md->topics[0].err == 0 && md->topics[0].partition_cnt > 0) {
            count = md->topics[0].partition_cnt;
            for (int p = 0; p < md->topics[0].partition_cnt; p++)
                if (md->topics[0].partitions[p].leader < 0)
                    count = -1;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (count < 0) {
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    rd_kafka_topic_destroy(rkt);
    return count;
}

#endif
