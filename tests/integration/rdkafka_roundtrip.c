/*
 * rdkafka_roundtrip — proves, with librdkafka as the client, that a broker
 * gives back exactly what it acknowledged.
 *
 *   rdkafka_roundtrip BOOTSTRAP TOPIC N CODEC
 *       Produces N keyed messages (key "k<i>", value "v<i>-<filler>", header
 *       h1=<i>, CreateTime base+i) with acks=all and compression CODEC
 *       (none, gzip, snappy, lz4, zstd), waits for every delivery report, then
 *       reads the topic from the beginning with a plain consumer (no group) over
 *       all partitions until each partition's end. Checks that every message
 *       arrives exactly once, at the partition and offset its delivery report
 *       named, in production order within its partition, with key, value,
 *       header and timestamp intact. Prints
 *           roundtrip ok: N messages, P partitions
 *       or the first discrepancy.
 *
 *   rdkafka_roundtrip --latency BOOTSTRAP TOPIC TRIALS [WAIT_MS]
 *       Long-poll latency: a consumer (fetch.wait.max.ms=WAIT_MS, default 500) waits on
 *       partition 0; each trial produces one message (acks=all) after the
 *       consumer has been idle long enough for its Fetch to be parked at the
 *       broker, and measures delivery-report time -> receive time. Prints each
 *       trial and "latency median X.XX ms p90 X.XX ms max X.XX ms ..." .
 *
 * Exit status: 0 when everything checked out, 1 on a discrepancy, an error
 * or a timeout, 2 on usage. The topic should be new: messages already in it
 * count as unexpected.
 */
#include "rdkafka_util.h"
#include "util/clock.h"
#include "util/mem.h"

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RT_TIMEOUT_MS 60000     /* for each of produce and consume */
#define RT_FILLER_MAX 200       /* value = "v<i>-" + up to this much filler */
#define RT_LATENCY_WAIT_MS 500  /* default fetch.wait.max.ms of the latency consumer */

/* What the delivery report said about message i. */
typedef struct rt_sent {
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    bool reported;
} rt_sent_t;

typedef struct rt_run {
    const char *bootstrap;
    const char *topic;
    int n;
    int64_t ts_base;   /* message i carries CreateTime ts_base + i */
    rt_sent_t *sent;   /* n entries, owned */
    int reported;
    int64_t last_dr_us; /* clock_mono_us() of the latest delivery report */
} rt_run_t;

/* --- helpers ---------------------------------------------------------------- */

static void rt_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "rdkafka_roundtrip: %s=%s: %s\n", key, value, err);
        exit(2);
    }
}

static rd_kafka_conf_t *rt_base_conf(const char *bootstrap) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rt_conf_set(conf, "bootstrap.servers", bootstrap);
    rt_conf_set(conf, "log_level", "3");
    return conf;
}

static rd_kafka_t *rt_new(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rdkafka_roundtrip: cannot create a client: %s\n", err);
        exit(1);
    }
    return rk;
}

/* Deterministic, compressible filler of a length that varies with i, so the
 * batches mix short and long values. */
static size_t rt_value(char *out, size_t cap, int i) {
    int len = snprintf(out, cap, "v%d-", i);
    size_t fill = (size_t)((i * 7) % RT_FILLER_MAX);
    static const char words[] = "the quick brown fox jumps over the lazy dog ";
    for (size_t k = 0; k < fill && (size_t)len + k + 1 < cap; k++)
        out[len + (int)k] = words[(k + (size_t)i) % (sizeof words - 1)];
    size_t total = (size_t)len + fill;
    out[total] = '\0';
    return total;
}


/* --- produce ---------------------------------------------------------------- */

static void rt_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    rt_run_t *run = opaque;
    intptr_t i = (intptr_t)m->_private;
    if (i < 0 || i >= run->n)
        return;
    rt_sent_t *s = &run->sent[i];
    if (!s->reported)
        run->reported++;
    s->reported = true;
    s->err = m->err;
    s->partition = m->partition;
    s->offset = m->offset;
    run->last_dr_us = clock_mono_us();
}

static int rt_produce_one(rd_kafka_t *rk, rt_run_t *run, int i) {
    char key[32], value[64 + RT_FILLER_MAX], hdr[32];
    int klen = snprintf(key, sizeof key, "k%d", i);
    size_t vlen = rt_value(value, sizeof value, i);
    int hlen = snprintf(hdr, sizeof hdr, "%d", i);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(run->topic), RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(value, vlen),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("h1", hdr, hlen),
            RD_KAFKA_V_TIMESTAMP(run->ts_base + i), RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            printf("produce of message %d failed: %s\n", i, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 10); /* make room: serve delivery reports */
    }
}

/* The delivery reports must cover every message without error, and within
 * each partition the offsets must grow with i: the producer sends a
 * partition's messages in order, so the broker must append them in order. */
static int rt_check_reports(const rt_run_t *run, int partitions) {
    int64_t *last = mem_alloc((size_t)partitions * sizeof *last);
    int rc = 0;
    for (int p = 0; p < partitions; p++)
        last[p] = -1;
    for (int i = 0; i < run->n && rc == 0; i++) {
        const rt_sent_t *s = &run->sent[i];
        if (!s->reported) {
            printf("message %d: no delivery report within %d ms\n", i, RT_TIMEOUT_MS);
            rc = -1;
        } else if (s->err) {
            printf("message %d: delivery failed: %s\n", i, rd_kafka_err2str(s->err));
            rc = -1;
        } else if (s->partition < 0 || s->partition >= partitions) {
            printf("message %d: delivered to partition %" PRId32 " of a %d-partition topic\n", i, s->partition,
                   partitions);
            rc = -1;
        } else if (s->offset <= last[s->partition]) {
            printf("message %d: acked at offset %" PRId64 " of partition %" PRId32
                   ", not after the previous message's %" PRId64 "\n",
                   i, s->offset, s->partition, last[s->partition]);
            rc = -1;
        } else {
            last[s->partition] = s->offset;
        }
    }
    free(last);
    return rc;
}

static int rt_produce(rt_run_t *run, const char *codec, int *partitions) {
    rd_kafka_conf_t *conf = rt_base_conf(run->bootstrap);
    rt_conf_set(conf, "acks", "all");
    rt_conf_set(conf, "compression.codec", codec);
    rt_conf_set(conf, "message.timeout.ms", "30000");
    rd_kafka_conf_set_dr_msg_cb(conf, rt_on_delivery);
    rd_kafka_conf_set_opaque(conf, run);
    rd_kafka_t *rk = rt_new(RD_KAFKA_PRODUCER, conf);

    int rc = 0;
    *partitions = rdkafka_util_partition_count(rk, run->topic, 10000);
    if (*partitions < 1) {
        printf("topic %s: no metadata (not created, or no leader) within 10 s\n", run->topic);
        rc = -1;
    }
    for (int i = 0; i < run->n && rc == 0; i++) {
        rc = rt_produce_one(rk, run, i);
        if (i % 1000 == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, RT_TIMEOUT_MS);
    rd_kafka_destroy(rk);
    if (rc == 0)
        rc = rt_check_reports(run, *partitions);
    return rc;
}

/* --- consume ---------------------------------------------------------------- */

typedef struct rt_consume {
    const rt_run_t *run;
    int partitions;
    bool *seen;          /* n entries */
    int *last_i;         /* per partition: i of the last message received */
    int64_t *end;        /* per partition: offset after the last acked message */
    int64_t *eof_at;     /* per partition: offset of the latest end-of-partition */
    int received;
} rt_consume_t;

static bool rt_parse_index(const rd_kafka_message_t *m, int n, int *out) {
    const char *k = m->key;
    if (!k || m->key_len < 2 || m->key_len > 12 || k[0] != 'k')
        return false;
    int v = 0;
    for (size_t j = 1; j < m->key_len; j++) {
        if (k[j] < '0' || k[j] > '9')
            return false;
        v = v * 10 + (k[j] - '0');
    }
    if (v >= n)
        return false;
    *out = v;
    return true;
}

/* Prints what is wrong with message m and returns -1, or returns 0. */
static int rt_check_message(rt_consume_t *c, const rd_kafka_message_t *m) {
    const rt_run_t *run = c->run;
    int i;
    if (!rt_parse_index(m, run->n, &i)) {
        printf("partition %" PRId32 " offset %" PRId64 ": unexpected key %.*s\n", m->partition, m->offset,
               m->key ? (int)m->key_len : 6, m->key ? (const char *)m->key : "(null)");
        return -1;
    }
    if (c->seen[i]) {
        printf("message %d received twice (again at partition %" PRId32 " offset %" PRId64 ")\n", i, m->partition,
               m->offset);
        return -1;
    }
    const rt_sent_t *s = &run->sent[i];
    if (m->partition != s->partition || m->offset != s->offset) {
        printf("message %d: received at partition %" PRId32 " offset %" PRId64 ", acked at %" PRId32 "/%" PRId64 "\n",
               i, m->partition, m->offset, s->partition, s->offset);
        return -1;
    }
    if (i <= c->last_i[m->partition]) {
        printf("message %d: received after message %d in partition %" PRId32 "\n", i, c->last_i[m->partition],
               m->partition);
        return -1;
    }
    char value[64 + RT_FILLER_MAX];
    size_t vlen = rt_value(value, sizeof value, i);
    if (!m->payload || m->len != vlen || memcmp(m->payload, value, vlen) != 0) {
        printf("message %d: value differs (%zu bytes received, %zu expected)\n", i, m->len, vlen);
        return -1;
    }
    rd_kafka_headers_t *hdrs = NULL;
    const void *hv = NULL;
    size_t hlen = 0;
    char hexp[32];
    int hexp_len = snprintf(hexp, sizeof hexp, "%d", i);
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_header_cnt(hdrs) != 1 ||
        rd_kafka_header_get_last(hdrs, "h1", &hv, &hlen) != RD_KAFKA_RESP_ERR_NO_ERROR || !hv ||
        hlen != (size_t)hexp_len || memcmp(hv, hexp, hlen) != 0) {
        printf("message %d: headers differ (expected exactly h1=%s)\n", i, hexp);
        return -1;
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (tstype != RD_KAFKA_TIMESTAMP_CREATE_TIME || ts != run->ts_base + i) {
        printf("message %d: timestamp %" PRId64 " (%s), expected CreateTime %" PRId64 "\n", i, ts,
               tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME   ? "CreateTime"
               : tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "LogAppendTime"
                                                               : "none",
               run->ts_base + i);
        return -1;
    }
    c->seen[i] = true;
    c->last_i[m->partition] = i;
    c->received++;
    return 0;
}

/* Done when every message arrived and every partition has reported its end
 * at or past the last acked offset: anything extra would have shown up. */
static bool rt_consume_done(const rt_consume_t *c) {
    if (c->received < c->run->n)
        return false;
    for (int p = 0; p < c->partitions; p++)
        if (c->eof_at[p] < c->end[p])
            return false;
    return true;
}

/* A consumer without a group: the legacy per-partition API, so that no
 * FindCoordinator, JoinGroup or OffsetFetch is ever sent — the broker under
 * test only needs Metadata, ListOffsets and Fetch. */
typedef struct rt_consumer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *queue; /* all partitions' messages, in arrival order */
    int partitions;
} rt_consumer_t;

static void rt_consumer_open(rt_consumer_t *c, const char *bootstrap, const char *topic, int partitions,
                             int64_t offset, const char *wait_ms) {
    rd_kafka_conf_t *conf = rt_base_conf(bootstrap);
    rt_conf_set(conf, "enable.partition.eof", "true");
    if (wait_ms)
        rt_conf_set(conf, "fetch.wait.max.ms", wait_ms);
    c->rk = rt_new(RD_KAFKA_CONSUMER, conf);
    c->rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    c->queue = rd_kafka_queue_new(c->rk);
    c->partitions = partitions;
    for (int p = 0; p < partitions; p++) {
        if (rd_kafka_consume_start_queue(c->rkt, p, offset, c->queue) != 0) {
            fprintf(stderr, "rdkafka_roundtrip: cannot start consuming %s/%d: %s\n", topic, p,
                    rd_kafka_err2str(rd_kafka_last_error()));
            exit(1);
        }
    }
}

static rd_kafka_message_t *rt_consumer_poll(rt_consumer_t *c, int timeout_ms) {
    return rd_kafka_consume_queue(c->queue, timeout_ms);
}

static void rt_consumer_close(rt_consumer_t *c) {
    for (int p = 0; p < c->partitions; p++)
        rd_kafka_consume_stop(c->rkt, p);
    rd_kafka_queue_destroy(c->queue);
    rd_kafka_topic_destroy(c->rkt);
    rd_kafka_destroy(c->rk);
}

static int rt_consume(const rt_run_t *run, int partitions) {
    rt_consume_t c = {.run = run, .partitions = partitions};
    c.seen = mem_calloc((size_t)run->n, sizeof *c.seen);
    c.last_i = mem_alloc((size_t)partitions * sizeof *c.last_i);
    c.end = mem_alloc((size_t)partitions * sizeof *c.end);
    c.eof_at = mem_alloc((size_t)partitions * sizeof *c.eof_at);
    for (int p = 0; p < partitions; p++) {
        c.last_i[p] = -1;
        c.end[p] = 0;
        c.eof_at[p] = -1;
    }
    for (int i = 0; i < run->n; i++)
        if (run->sent[i].offset + 1 > c.end[run->sent[i].partition])
            c.end[run->sent[i].partition] = run->sent[i].offset + 1;

    rt_consumer_t consumer;
    rt_consumer_open(&consumer, run->bootstrap, run->topic, partitions, RD_KAFKA_OFFSET_BEGINNING, NULL);
    int64_t deadline = clock_mono_ms() + RT_TIMEOUT_MS;
    int rc = 0;
    while (rc == 0 && !rt_consume_done(&c)) {
        if (clock_mono_ms() > deadline) {
            printf("timeout: %d of %d messages received in %d ms\n", c.received, run->n, RT_TIMEOUT_MS);
            rc = -1;
            break;
        }
        rd_kafka_message_t *m = rt_consumer_poll(&consumer, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < partitions)
                c.eof_at[m->partition] = m->offset;
        } else if (m->err) {
            printf("consume error on partition %" PRId32 ": %s\n", m->partition, rd_kafka_message_errstr(m));
            rc = -1;
        } else if (m->partition < 0 || m->partition >= partitions) {
            printf("message from unassigned partition %" PRId32 "\n", m->partition);
            rc = -1;
        } else {
            rc = rt_check_message(&c, m);
        }
        rd_kafka_message_destroy(m);
    }
    rt_consumer_close(&consumer);
    free(c.seen);
    free(c.last_i);
    free(c.end);
    free(c.eof_at);
    return rc;
}

/* --- long-poll latency -------------------------------------------------------- */

static int rt_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void rt_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits for the message whose value is expect; returns clock_mono_us() of its
 * arrival, or -1 after timeout_ms. */
static int64_t rt_wait_for(rt_consumer_t *consumer, const char *expect, int timeout_ms) {
    int64_t deadline = clock_mono_ms() + timeout_ms;
    size_t elen = strlen(expect);
    while (clock_mono_ms() < deadline) {
        rd_kafka_message_t *m = rt_consumer_poll(consumer, 100);
        if (!m)
            continue;
        int64_t now = clock_mono_us();
        bool match = !m->err && m->len == elen && memcmp(m->payload, expect, elen) == 0;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fprintf(stderr, "rdkafka_roundtrip: consume: %s\n", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        if (match)
            return now;
    }
    return -1;
}

/* One trial: the consumer has been idle for a while (its Fetch is parked at
 * the broker); a message is produced and acked; how long after the ack does
 * the consumer hold it? Trial 0 warms up connections and is not counted. */
static int rt_latency(const char *bootstrap, const char *topic, int trials, int fetch_wait_ms) {
    rt_run_t run = {.bootstrap = bootstrap, .topic = topic, .n = 1};
    run.sent = mem_calloc(1, sizeof *run.sent);
    rd_kafka_conf_t *pconf = rt_base_conf(bootstrap);
    rt_conf_set(pconf, "acks", "all");
    rt_conf_set(pconf, "linger.ms", "0");
    rt_conf_set(pconf, "message.timeout.ms", "10000");
    rd_kafka_conf_set_dr_msg_cb(pconf, rt_on_delivery);
    rd_kafka_conf_set_opaque(pconf, &run);
    rd_kafka_t *producer = rt_new(RD_KAFKA_PRODUCER, pconf);
    if (rdkafka_util_partition_count(producer, topic, 10000) < 1) {
        printf("topic %s: no metadata within 10 s\n", topic);
        rd_kafka_destroy(producer);
        free(run.sent);
        return -1;
    }
    char wait_ms[16];
    snprintf(wait_ms, sizeof wait_ms, "%d", fetch_wait_ms);
    rt_consumer_t consumer;
    rt_consumer_open(&consumer, bootstrap, topic, 1, RD_KAFKA_OFFSET_END, wait_ms);
    rt_sleep_ms(1000); /* the consumer resolves the end offset and starts fetching */

    int64_t *lat_us = mem_alloc((size_t)trials * sizeof *lat_us);
    int rc = 0;
    unsigned seed = 12345;
    for (int t = 0; t <= trials && rc == 0; t++) {
        rt_sleep_ms(100 + (int)(rand_r(&seed) % 100)); /* longer than a round trip: the Fetch is waiting */
        char value[32];
        snprintf(value, sizeof value, "lat-%d", t);
        run.sent[0].reported = false;
        run.reported = 0;
        if (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE((void *)(intptr_t)0), RD_KAFKA_V_END) != 0) {
            printf("trial %d: produce failed\n", t);
            rc = -1;
            break;
        }
        rd_kafka_flush(producer, 10000);
        if (!run.sent[0].reported || run.sent[0].err) {
            printf("trial %d: no successful delivery report (%s)\n", t,
                   run.sent[0].reported ? rd_kafka_err2str(run.sent[0].err) : "none");
            rc = -1;
            break;
        }
        int64_t acked = run.last_dr_us;
        int64_t got = rt_wait_for(&consumer, value, 5000);
        if (got < 0) {
            printf("trial %d: message not received within 5 s of its ack\n", t);
            rc = -1;
            break;
        }
        int64_t us = got > acked ? got - acked : 0;
        if (t > 0) {
            lat_us[t - 1] = us;
            printf("trial %d: %.2f ms\n", t, us / 1000.0);
        }
    }
    if (rc == 0) {
        qsort(lat_us, (size_t)trials, sizeof *lat_us, rt_cmp_i64);
        printf("latency median %.2f ms p90 %.2f ms max %.2f ms over %d trials (fetch.wait.max.ms=%d)\n",
               lat_us[trials / 2] / 1000.0, lat_us[(trials * 9) / 10] / 1000.0,
               lat_us[trials - 1] / 1000.0, trials, fetch_wait_ms);
    }
    free(lat_us);
    rt_consumer_close(&consumer);
    rd_kafka_destroy(producer);
    free(run.sent);
    return rc;
}

/* --- main -------------------------------------------------------------------- */

static void rt_usage(void) {
    fprintf(stderr, "usage: rdkafka_roundtrip BOOTSTRAP TOPIC N none|gzip|snappy|lz4|zstd\n"
                    "       rdkafka_roundtrip --latency BOOTSTRAP TOPIC TRIALS [WAIT_MS]\n");
    exit(2);
}

static int rt_parse_positive(const char *s, int max) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max)
        rt_usage();
    return (int)v;
}

static bool rt_codec_known(const char *codec) {
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++)
        if (strcmp(codec, codecs[k]) == 0)
            return true;
    return false;
}

int main(int argc, char **argv) {
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "--latency") == 0) {
        int wait_ms = argc == 6 ? rt_parse_positive(argv[5], 60000) : RT_LATENCY_WAIT_MS;
        return rt_latency(argv[2], argv[3], rt_parse_positive(argv[4], 10000), wait_ms) == 0 ? 0 : 1;
    }
    if (argc != 5 || argv[1][0] == '-' || !rt_codec_known(argv[4]))
        rt_usage();

    rt_run_t run = {.bootstrap = argv[1], .topic = argv[2], .n = rt_parse_positive(argv[3], 10000000)};
    /* Recent CreateTimes, so that time-based retention never applies. */
    run.ts_base = clock_wall_ms() - run.n;
    run.sent = mem_calloc((size_t)run.n, sizeof *run.sent);
    int partitions = 0;
    int rc = rt_produce(&run, argv[4], &partitions);
    if (rc == 0)
        rc = rt_consume(&run, partitions);
    if (rc == 0)
        printf("roundtrip ok: %d messages, %d partitions\n", run.n, partitions);
    free(run.sent);
    return rc == 0 ? 0 : 1;
}
