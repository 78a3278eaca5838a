/* kproto: the schema-driven Kafka protocol codec — exact bytes for the
 * messages clients really send, a table-driven round trip of every API and
 * version, and malformed input of every kind. */
#include "unit.h"

#include "util/buf.h"
#include "util/endian.h"
#include "proto/kproto.h"
#include "proto/kproto_apis.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERRLEN 256

/* The payload of the frame at the start of w (skipping the int32 Size). */
static const uint8_t *frame_payload(const kp_writer_t *w, size_t *len) {
    *len = w->buf.len - 4;
    return w->buf.data + 4;
}

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len) {
    CU_ASSERT_EQUAL_FATAL(got_len, want_len);
    for (size_t i = 0; i < want_len; i++) {
        if (got[i] != want[i]) {
            fprintf(stderr, "byte %zu: got %02x want %02x\n", i, got[i], want[i]);
            CU_FAIL("bytes differ");
            return;
        }
    }
}

/* Decodes a request from an exactly sized heap copy, so ASan sees any read
 * past the end. The copy is gone on return: callers look only at what is
 * not zero-copy (numbers, counts, lengths). */
static kp_status_t decode_copy(const uint8_t *p, size_t len, kp_arena_t *a, kp_req_header_t *h, void **body) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    char err[ERRLEN];
    kp_status_t st = kp_request_decode(copy, len, a, h, body, err, sizeof err);
    free(copy);
    return st;
}

/* ---- exact bytes -------------------------------------------------------- */

/* protocol.md §4: librdkafka's first request, header v2 + ApiVersions v3. */
static void test_apiversions_v3_request_librdkafka(void) {
    static const uint8_t req[] = {0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x07, 'r', 'd', 'k',
                                  'a',  'f',  'k',  'a',  0x00, 0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',
                                  'f',  'k',  'a',  0x06, '2',  '.',  '0',  '.',  '2',  0x00};
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    char err[ERRLEN];
    CU_ASSERT_EQUAL_FATAL(kp_request_decode(req, sizeof req, &a, &h, &body, err, sizeof err), KP_OK);
    CU_ASSERT_EQUAL(h.api_key, 18);
    CU_ASSERT_EQUAL(h.api_version, 3);
    CU_ASSERT_EQUAL(h.correlation_id, 42);
    CU_ASSERT_EQUAL(h.header_version, 2);
    CU_ASSERT(kp_str_eq(h.client_id, "rdkafka"));
    const kp_api_versions_req_t *r = body;
    CU_ASSERT(kp_str_eq(r->client_software_name, "librdkafka"));
    CU_ASSERT(kp_str_eq(r->client_software_version, "2.0.2"));
    /* zero-copy: the strings point into the request */
    CU_ASSERT_PTR_EQUAL(r->client_software_name.ptr, (const char *)req + 19);
    /* v0 of the same request: header v1, empty body */
    static const uint8_t v0[] = {0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff};
    CU_ASSERT_EQUAL_FATAL(kp_request_decode(v0, sizeof v0, &a, &h, &body, err, sizeof err), KP_OK);
    CU_ASSERT_EQUAL(h.header_version, 1);
    CU_ASSERT_EQUAL(h.client_id.len, -1);
    r = body;
    CU_ASSERT_EQUAL(r->client_software_name.len, 0); /* absent: default "" */
    kp_arena_free(&a);
}

static kp_api_versions_resp_key_t two_keys[] = {{0, 3, 8}, {18, 0, 3}};

static void test_apiversions_response_v0_bytes(void) {
    kp_api_versions_resp_t resp;
    kp_set_defaults(kp_api_find(18)->response, 0, &resp);
    resp.api_keys = (kp_array_t){2, two_keys};
    resp.throttle_time_ms = 99; /* not in v0: not written */
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_response_encode(18, 0, 7, &resp, &w, NULL, 0), KP_OK);
    static const uint8_t want[] = {0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03};
    assert_bytes(w.buf.data, w.buf.len, want, sizeof want);
    CU_ASSERT_EQUAL(w.nsplices, 0);
    kp_writer_free(&w);
}

/* v3 is flexible, but ApiVersions responses keep response header v0. */
static void test_apiversions_response_v3_bytes(void) {
    kp_api_versions_resp_t resp;
    kp_set_defaults(kp_api_find(18)->response, 3, &resp);
    resp.api_keys = (kp_array_t){2, two_keys};
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_response_encode(18, 3, 7, &resp, &w, NULL, 0), KP_OK);
    static const uint8_t want[] = {0x00, 0x00, 0x00, 0x1a,                               /* size */
                                   0x00, 0x00, 0x00, 0x07,                               /* correlation id */
                                   0x00, 0x00,                                           /* error */
                                   0x03,                                                 /* 2 keys */
                                   0x00, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00,             /* produce 3-8 */
                                   0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00,             /* apiversions 0-3 */
                                   0x00, 0x00, 0x00, 0x00,                               /* throttle */
                                   0x00};                                                /* no tags */
    assert_bytes(w.buf.data, w.buf.len, want, sizeof want);

    /* A non-default tagged field is written: tag 1 (finalized epoch), size 8. */
    kp_writer_reset(&w);
    resp.finalized_features_epoch = 5;
    CU_ASSERT_EQUAL_FATAL(kp_response_encode(18, 3, 7, &resp, &w, NULL, 0), KP_OK);
    static const uint8_t tail[] = {0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x05};
    CU_ASSERT_EQUAL_FATAL(w.buf.len, sizeof want - 1 + sizeof tail);
    CU_ASSERT_EQUAL(be32_load(w.buf.data), w.buf.len - 4);
    assert_bytes(w.buf.data + sizeof want - 1, sizeof tail, tail, sizeof tail);

    size_t len;
    const uint8_t *p = frame_payload(&w, &len);
    kp_arena_t a = KP_ARENA_INIT;
    int32_t corr;
    void *body;
    CU_ASSERT_EQUAL_FATAL(kp_response_decode(p, len, 18, 3, &a, &corr, &body, NULL, 0), KP_OK);
    const kp_api_versions_resp_t *back = body;
    CU_ASSERT_EQUAL(corr, 7);
    CU_ASSERT_EQUAL(back->finalized_features_epoch, 5);
    CU_ASSERT_EQUAL(back->supported_features.count, 0);
    CU_ASSERT_EQUAL_FATAL(back->api_keys.count, 2);
    CU_ASSERT_EQUAL(((kp_api_versions_resp_key_t *)back->api_keys.items)[1].max_version, 3);
    kp_arena_free(&a);
    kp_writer_free(&w);
}

/* protocol.md §4: a too-new ApiVersions gets a v0 body with error 35 and
 * only key 18. */
static void test_apiversions_fallback(void) {
    static const uint8_t req[] = {0x00, 0x12, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 'x', 0x00, 0x7f};
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    CU_ASSERT_EQUAL(decode_copy(req, sizeof req, &a, &h, &body), KP_ERR_UNSUPPORTED_VERSION);
    CU_ASSERT_EQUAL(h.api_key, 18);
    CU_ASSERT_EQUAL(h.api_version, 4);
    CU_ASSERT_EQUAL(h.correlation_id, 256);
    CU_ASSERT_PTR_NULL(body);
    kp_writer_t w;
    kp_writer_init(&w);
    kp_apiversions_fallback(h.correlation_id, &w);
    static const uint8_t want[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x23,
                                   0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03};
    assert_bytes(w.buf.data, w.buf.len, want, sizeof want);
    kp_writer_free(&w);
    kp_arena_free(&a);
}

/* Metadata v1+: null topics = all, empty = none; v0 has no null. */
static void test_metadata_null_vs_empty(void) {
    uint8_t req[] = {0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 'c', 0xff, 0xff, 0xff, 0xff};
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    CU_ASSERT_EQUAL_FATAL(decode_copy(req, sizeof req, &a, &h, &body), KP_OK);
    const kp_metadata_req_t *m = body;
    CU_ASSERT_EQUAL(m->topics.count, -1);
    CU_ASSERT_EQUAL(m->allow_auto_topic_creation, true); /* absent before v4: default true */
    memset(req + 11, 0, 4);
    CU_ASSERT_EQUAL_FATAL(decode_copy(req, sizeof req, &a, &h, &body), KP_OK);
    m = body;
    CU_ASSERT_EQUAL(m->topics.count, 0);
    memset(req + 11, 0xff, 4);
    req[3] = 0; /* v0: a null array is malformed */
    CU_ASSERT_EQUAL(decode_copy(req, sizeof req, &a, &h, &body), KP_ERR_MALFORMED);

    /* and the encoder writes the same bytes */
    kp_metadata_req_t mr;
    kp_set_defaults(kp_api_find(3)->request, 1, &mr);
    mr.topics.count = -1;
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_request_encode(3, 1, 5, kp_str("c"), &mr, &w, NULL, 0), KP_OK);
    req[3] = 1;
    CU_ASSERT_EQUAL(be32_load(w.buf.data), sizeof req);
    assert_bytes(w.buf.data + 4, w.buf.len - 4, req, sizeof req);
    kp_writer_reset(&w);
    CU_ASSERT_EQUAL(kp_request_encode(3, 0, 5, kp_str("c"), &mr, &w, NULL, 0), KP_ERR_INVALID);
    CU_ASSERT_EQUAL(w.buf.len, 0); /* nothing left behind */
    kp_writer_free(&w);
    kp_arena_free(&a);
}

/* protocol.md §10: one record, value "hi", 70 bytes. */
static const uint8_t test_batch[70] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x00, 0x00, 0x00, 0x00, 0x02, 0x4f,
    0x47, 0x4f, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x74, 0x87, 0x6e, 0x80, 0x00, 0x00,
    0x00, 0x01, 0x74, 0x87, 0x6e, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x69, 0x00};

static void test_produce_v3_request(void) {
    buf_t b = BUF_INIT;
    buf_put_i16(&b, 0);  /* Produce */
    buf_put_i16(&b, 3);  /* v3 */
    buf_put_i32(&b, 77); /* correlation id */
    buf_put_i16(&b, 3);
    buf_append(&b, "cli", 3);
    buf_put_i16(&b, -1);    /* transactional id: null */
    buf_put_i16(&b, -1);    /* acks */
    buf_put_i32(&b, 30000); /* timeout */
    buf_put_i32(&b, 1);
    buf_put_i16(&b, 5);
    buf_append(&b, "topic", 5);
    buf_put_i32(&b, 1);
    buf_put_i32(&b, 2); /* partition */
    buf_put_i32(&b, (int32_t)sizeof test_batch);
    size_t batch_at = b.len;
    buf_append(&b, test_batch, sizeof test_batch);

    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    char err[ERRLEN];
    CU_ASSERT_EQUAL_FATAL(kp_request_decode(b.data, b.len, &a, &h, &body, err, sizeof err), KP_OK);
    CU_ASSERT_EQUAL(h.correlation_id, 77);
    CU_ASSERT(kp_str_eq(h.client_id, "cli"));
    const kp_produce_req_t *r = body;
    CU_ASSERT_EQUAL(r->transactional_id.len, -1);
    CU_ASSERT_EQUAL(r->acks, -1);
    CU_ASSERT_EQUAL(r->timeout_ms, 30000);
    CU_ASSERT_EQUAL_FATAL(r->topic_data.count, 1);
    const kp_produce_req_topic_t *t = r->topic_data.items;
    CU_ASSERT(kp_str_eq(t->name, "topic"));
    CU_ASSERT_EQUAL_FATAL(t->partition_data.count, 1);
    const kp_produce_req_partition_t *p = t->partition_data.items;
    CU_ASSERT_EQUAL(p->index, 2);
    CU_ASSERT_EQUAL(p->records.len, 70);
    CU_ASSERT_EQUAL(p->records.fd, -1);
    CU_ASSERT_PTR_EQUAL(p->records.data, b.data + batch_at); /* zero copy */
    CU_ASSERT_EQUAL(memcmp(p->records.data, test_batch, 70), 0);

    /* Every proper prefix fails, and no read goes past it (ASan). */
    for (size_t n = 0; n < b.len; n++)
        CU_ASSERT_EQUAL(decode_copy(b.data, n, &a, &h, &body), KP_ERR_MALFORMED);
    /* Trailing bytes are ignored, as Kafka does. */
    buf_put_i8(&b, 0);
    CU_ASSERT_EQUAL(decode_copy(b.data, b.len, &a, &h, &body), KP_OK);
    kp_arena_free(&a);
    buf_free(&b);
}

/* A Fetch v4 response whose first partition's records are a file range:
 * the encoder writes the length and records a splice; the second partition's
 * in-memory records follow in buf. */
static void test_fetch_v4_spliced_records(void) {
    char *dir = unit_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/seg.log", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t junk[100];
    memset(junk, 0xee, sizeof junk);
    CU_ASSERT_EQUAL_FATAL(write(fd, junk, sizeof junk), 100);
    CU_ASSERT_EQUAL_FATAL(write(fd, test_batch, sizeof test_batch), 70);

    kp_fetch_resp_partition_t parts[2];
    kp_fetch_resp_topic_t topic = {kp_str("t"), {2, parts}};
    kp_fetch_resp_t resp = {.throttle_time_ms = 1, .responses = {1, &topic}};
    for (int i = 0; i < 2; i++) {
        parts[i] = (kp_fetch_resp_partition_t){.partition = i, .high_watermark = 10, .last_stable_offset = 10,
                                                .log_start_offset = 0, .aborted_transactions = {-1, NULL}};
    }
    parts[0].record_set = (kp_records_t){NULL, 70, fd, 100};
    parts[1].record_set = (kp_records_t){(const uint8_t *)"xyz", 3, -1, 0};

    kp_writer_t w;
    kp_writer_init(&w);
    buf_append(&w.buf, "PRE", 3); /* frames append after what is there */
    CU_ASSERT_EQUAL_FATAL(kp_response_encode(1, 4, 9, &resp, &w, NULL, 0), KP_OK);
    static const uint8_t want[] = {
        'P', 'R', 'E', 0x00, 0x00, 0x00, 0x00,                              /* size, checked below */
        0x00, 0x00, 0x00, 0x09,                                             /* correlation id */
        0x00, 0x00, 0x00, 0x01,                                             /* throttle */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x02,    /* 1 topic "t", 2 partitions */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                                 /* partition 0, error 0 */
        0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 10,                   /* hw, lso */
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x46,                     /* aborted null, 70 bytes */
        /* splice: 70 file bytes */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00,                                 /* partition 1 */
        0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 10,                   /* hw, lso */
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 'x', 'y', 'z'};
    CU_ASSERT_EQUAL_FATAL(w.nsplices, 1);
    CU_ASSERT_EQUAL(w.splices[0].fd, fd);
    CU_ASSERT_EQUAL(w.splices[0].file_pos, 100);
    CU_ASSERT_EQUAL(w.splices[0].len, 70);
    CU_ASSERT_EQUAL(w.splices[0].buf_off, 56);
    CU_ASSERT_EQUAL(be32_load(w.buf.data + 3), w.buf.len - 7 + 70);
    uint8_t fixed[sizeof want];
    memcpy(fixed, want, sizeof want);
    memcpy(fixed + 3, w.buf.data + 3, 4);
    assert_bytes(w.buf.data, w.buf.len, fixed, sizeof fixed);
    CU_ASSERT_EQUAL(kp_writer_total(&w), w.buf.len + 70);

    /* Flattened, it is an ordinary response the client side decodes. */
    buf_t flat = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(kp_writer_flatten(&w, &flat), 0);
    CU_ASSERT_EQUAL_FATAL(flat.len, w.buf.len + 70);
    kp_arena_t a = KP_ARENA_INIT;
    int32_t corr;
    void *body;
    CU_ASSERT_EQUAL_FATAL(kp_response_decode(flat.data + 7, flat.len - 7, 1, 4, &a, &corr, &body, NULL, 0), KP_OK);
    const kp_fetch_resp_t *back = body;
    CU_ASSERT_EQUAL(corr, 9);
    const kp_fetch_resp_topic_t *bt = back->responses.items;
    const kp_fetch_resp_partition_t *bp = bt->partition_responses.items;
    CU_ASSERT_EQUAL_FATAL(bp[0].record_set.len, 70);
    CU_ASSERT_EQUAL(memcmp(bp[0].record_set.data, test_batch, 70), 0);
    CU_ASSERT_EQUAL(bp[0].aborted_transactions.count, -1);
    CU_ASSERT_EQUAL(bp[1].record_set.len, 3);
    CU_ASSERT_EQUAL(bp[1].preferred_read_replica, -1); /* v11+ only */

    /* A short file is an error, not garbage. */
    CU_ASSERT_EQUAL(ftruncate(fd, 120), 0);
    buf_reset(&flat);
    CU_ASSERT_EQUAL(kp_writer_flatten(&w, &flat), -1);
    buf_free(&flat);
    kp_arena_free(&a);
    kp_writer_free(&w);
    close(fd);
    unit_rmtree(dir);
    free(dir);
}

/* ControlledShutdown v0 is the one request with header v0 (no client id). */
static void test_controlled_shutdown_v0_header(void) {
    kp_controlled_shutdown_req_t r = {.broker_id = 3, .broker_epoch = 44};
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_request_encode(7, 0, 1, kp_str("ignored"), &r, &w, NULL, 0), KP_OK);
    static const uint8_t want[] = {0, 0, 0, 12, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3};
    assert_bytes(w.buf.data, w.buf.len, want, sizeof want);
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    CU_ASSERT_EQUAL_FATAL(decode_copy(w.buf.data + 4, w.buf.len - 4, &a, &h, &body), KP_OK);
    CU_ASSERT_EQUAL(h.header_version, 0);
    CU_ASSERT_EQUAL(h.client_id.len, -1);
    CU_ASSERT_EQUAL(((kp_controlled_shutdown_req_t *)body)->broker_epoch, -1); /* v2+ */
    kp_writer_free(&w);
    kp_arena_free(&a);
}

/* AlterIsr v0, flexible from its first version: request header v2 (client
 * id still a plain string), compact strings and arrays, a tagged-field
 * section per struct; the response has header v1. */
static void test_alter_isr_v0_bytes(void) {
    int32_t isr[] = {1, 2};
    kp_alter_isr_req_partition_t part = {.partition_index = 0, .leader_epoch = 3, .new_isr = {2, isr},
                                         .current_isr_version = 7};
    kp_alter_isr_req_topic_t topic = {kp_str("t"), {1, &part}};
    kp_alter_isr_req_t r = {.broker_id = 1, .broker_epoch = 0x25, .topics = {1, &topic}};
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_request_encode(KP_API_ALTER_ISR, 0, 9, kp_str("b"), &r, &w, NULL, 0), KP_OK);
    static const uint8_t want[] = {
        0, 0, 0, 52,                         /* size */
        0, 56, 0, 0, 0, 0, 0, 9, 0, 1, 'b', 0, /* header v2: key, version, correlation, client id, tags */
        0, 0, 0, 1,                          /* broker_id */
        0, 0, 0, 0, 0, 0, 0, 0x25,           /* broker_epoch */
        2, 2, 't', 2,                        /* one topic "t", one partition */
        0, 0, 0, 0, 0, 0, 0, 3,              /* partition_index, leader_epoch */
        3, 0, 0, 0, 1, 0, 0, 0, 2,           /* new_isr [1, 2] */
        0, 0, 0, 7,                          /* current_isr_version */
        0, 0, 0,                             /* tags: partition, topic, request */
    };
    assert_bytes(w.buf.data, w.buf.len, want, sizeof want);
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    CU_ASSERT_EQUAL_FATAL(decode_copy(w.buf.data + 4, w.buf.len - 4, &a, &h, &body), KP_OK);
    CU_ASSERT_EQUAL(h.header_version, 2);
    const kp_alter_isr_req_t *got = body;
    CU_ASSERT_EQUAL(got->broker_epoch, 0x25);
    CU_ASSERT_EQUAL_FATAL(got->topics.count, 1);
    const kp_alter_isr_req_topic_t *gt = got->topics.items;
    CU_ASSERT_EQUAL_FATAL(gt->partitions.count, 1);
    const kp_alter_isr_req_partition_t *gp = gt->partitions.items;
    CU_ASSERT_EQUAL(gp->current_isr_version, 7);
    CU_ASSERT_EQUAL_FATAL(gp->new_isr.count, 2);
    CU_ASSERT_EQUAL(((const int32_t *)gp->new_isr.items)[1], 2);
    kp_arena_free(&a);
    kp_writer_free(&w);

    kp_alter_isr_resp_partition_t rp = {.partition_index = 0, .error_code = 0, .leader_id = 1, .leader_epoch = 3,
                                        .isr = {2, isr}, .current_isr_version = 8};
    kp_alter_isr_resp_topic_t rt = {kp_str("t"), {1, &rp}};
    kp_alter_isr_resp_t resp = {.throttle_time_ms = 0, .error_code = 0, .topics = {1, &rt}};
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_response_encode(KP_API_ALTER_ISR, 0, 9, &resp, &w, NULL, 0), KP_OK);
    static const uint8_t want_resp[] = {
        0, 0, 0, 45,             /* size */
        0, 0, 0, 9, 0,           /* header v1: correlation, tags */
        0, 0, 0, 0, 0, 0,        /* throttle_time_ms, error_code */
        2, 2, 't', 2,            /* one topic "t", one partition */
        0, 0, 0, 0, 0, 0,        /* partition_index, error_code */
        0, 0, 0, 1, 0, 0, 0, 3,  /* leader_id, leader_epoch */
        3, 0, 0, 0, 1, 0, 0, 0, 2, /* isr */
        0, 0, 0, 8,              /* current_isr_version */
        0, 0, 0,                 /* tags */
    };
    assert_bytes(w.buf.data, w.buf.len, want_resp, sizeof want_resp);
    size_t plen;
    const uint8_t *payload = frame_payload(&w, &plen);
    int32_t corr;
    CU_ASSERT_EQUAL_FATAL(kp_response_decode(payload, plen, KP_API_ALTER_ISR, 0, &a, &corr, &body, NULL, 0), KP_OK);
    CU_ASSERT_EQUAL(corr, 9);
    const kp_alter_isr_resp_t *gr = body;
    CU_ASSERT_EQUAL_FATAL(gr->topics.count, 1);
    const kp_alter_isr_resp_partition_t *grp = ((const kp_alter_isr_resp_topic_t *)gr->topics.items)->partitions.items;
    CU_ASSERT_EQUAL(grp->current_isr_version, 8);
    CU_ASSERT_EQUAL(grp->leader_id, 1);
    kp_arena_free(&a);
    kp_writer_free(&w);
}

/* DescribeReplicaState v0 (samsa's key 32000), flexible like AlterIsr: a
 * key far above Kafka's goes through the same header and compact forms,
 * and a null topic list (every led partition) stays distinct from an
 * empty one. */
static void test_describe_replica_state_v0_bytes(void) {
    int32_t parts[] = {0, 2};
    kp_describe_replica_state_req_topic_t topic = {kp_str("t"), {2, parts}};
    kp_describe_replica_state_req_t r = {.topics = {1, &topic}};
    kp_writer_t w;
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(
        kp_request_encode(KP_API_DESCRIBE_REPLICA_STATE, 0, 5, kp_str("c"), &r, &w, NULL, 0), KP_OK);
    static const uint8_t want[] = {
        0, 0, 0, 26,                             /* size */
        0x7d, 0x00, 0, 0, 0, 0, 0, 5, 0, 1, 'c', 0, /* header v2: key 32000, version, correlation, client id, tags */
        2, 2, 't',                               /* one topic "t" */
        3, 0, 0, 0, 0, 0, 0, 0, 2,               /* partition_indexes [0, 2] */
        0, 0,                                    /* tags: topic, request */
    };
    assert_bytes(w.buf.data, w.buf.len, want, sizeof want);
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    CU_ASSERT_EQUAL_FATAL(decode_copy(w.buf.data + 4, w.buf.len - 4, &a, &h, &body), KP_OK);
    CU_ASSERT_EQUAL(h.api_key, KP_API_DESCRIBE_REPLICA_STATE);
    CU_ASSERT_EQUAL(h.header_version, 2);
    const kp_describe_replica_state_req_t *got = body;
    CU_ASSERT_EQUAL_FATAL(got->topics.count, 1);
    const kp_describe_replica_state_req_topic_t *gt = got->topics.items;
    CU_ASSERT_EQUAL_FATAL(gt->partition_indexes.count, 2);
    CU_ASSERT_EQUAL(((const int32_t *)gt->partition_indexes.items)[1], 2);
    kp_arena_free(&a);
    kp_writer_free(&w);

    /* null: every partition the broker leads */
    kp_describe_replica_state_req_t all = {.topics = {-1, NULL}};
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(
        kp_request_encode(KP_API_DESCRIBE_REPLICA_STATE, 0, 6, kp_str("c"), &all, &w, NULL, 0), KP_OK);
    static const uint8_t want_all[] = {
        0, 0, 0, 14, 0x7d, 0x00, 0, 0, 0, 0, 0, 6, 0, 1, 'c', 0,
        0, 0, /* topics null, tags */
    };
    assert_bytes(w.buf.data, w.buf.len, want_all, sizeof want_all);
    CU_ASSERT_EQUAL_FATAL(decode_copy(w.buf.data + 4, w.buf.len - 4, &a, &h, &body), KP_OK);
    CU_ASSERT_EQUAL(((const kp_describe_replica_state_req_t *)body)->topics.count, -1);
    kp_arena_free(&a);
    kp_writer_free(&w);

    kp_describe_replica_state_resp_replica_t reps[] = {
        {.broker_id = 1, .in_isr = true, .log_end_offset = 120, .log_start_offset = 0, .last_caught_up_ms_ago = 0},
        {.broker_id = 2, .in_isr = false, .log_end_offset = -1, .log_start_offset = -1, .last_caught_up_ms_ago = -1},
    };
    kp_describe_replica_state_resp_partition_t rp = {.partition_index = 2, .error_code = 0, .leader_epoch = 4,
                                                     .high_watermark = 100, .log_end_offset = 120,
                                                     .log_start_offset = 0, .replicas = {2, reps}};
    kp_describe_replica_state_resp_topic_t rt = {kp_str("t"), {1, &rp}};
    kp_describe_replica_state_resp_t resp = {.throttle_time_ms = 0, .topics = {1, &rt}};
    kp_writer_init(&w);
    CU_ASSERT_EQUAL_FATAL(kp_response_encode(KP_API_DESCRIBE_REPLICA_STATE, 0, 5, &resp, &w, NULL, 0), KP_OK);
    static const uint8_t want_resp[] = {
        0, 0, 0, 111,                          /* size */
        0, 0, 0, 5, 0,                         /* header v1: correlation, tags */
        0, 0, 0, 0,                            /* throttle_time_ms */
        2, 2, 't', 2,                          /* one topic "t", one partition */
        0, 0, 0, 2, 0, 0,                      /* partition_index, error_code */
        0, 0, 0, 4,                            /* leader_epoch */
        0, 0, 0, 0, 0, 0, 0, 100,              /* high_watermark */
        0, 0, 0, 0, 0, 0, 0, 120,              /* log_end_offset */
        0, 0, 0, 0, 0, 0, 0, 0,                /* log_start_offset */
        3,                                     /* two replicas */
        0, 0, 0, 1, 1,                         /* broker 1, in the ISR */
        0, 0, 0, 0, 0, 0, 0, 120,              /* its log end */
        0, 0, 0, 0, 0, 0, 0, 0,                /* its log start */
        0, 0, 0, 0, 0, 0, 0, 0, 0,             /* caught up 0 ms ago, tags */
        0, 0, 0, 2, 0,                         /* broker 2, not in the ISR */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* log end unknown */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* log start unknown */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, /* never caught up, tags */
        0, 0, 0,                               /* tags: partition, topic, response */
    };
    assert_bytes(w.buf.data, w.buf.len, want_resp, sizeof want_resp);
    size_t plen;
    const uint8_t *payload = frame_payload(&w, &plen);
    int32_t corr;
    CU_ASSERT_EQUAL_FATAL(
        kp_response_decode(payload, plen, KP_API_DESCRIBE_REPLICA_STATE, 0, &a, &corr, &body, NULL, 0), KP_OK);
    CU_ASSERT_EQUAL(corr, 5);
    const kp_describe_replica_state_resp_t *gr = body;
    CU_ASSERT_EQUAL_FATAL(gr->topics.count, 1);
    const kp_describe_replica_state_resp_topic_t *grt = gr->topics.items;
    CU_ASSERT_EQUAL_FATAL(grt->partitions.count, 1);
    const kp_describe_replica_state_resp_partition_t *grp = grt->partitions.items;
    CU_ASSERT_EQUAL(grp->high_watermark, 100);
    CU_ASSERT_EQUAL_FATAL(grp->replicas.count, 2);
    const kp_describe_replica_state_resp_replica_t *grr = grp->replicas.items;
    CU_ASSERT_TRUE(grr[0].in_isr);
    CU_ASSERT_FALSE(grr[1].in_isr);
    CU_ASSERT_EQUAL(grr[1].log_end_offset, -1);
    CU_ASSERT_EQUAL(grr[1].last_caught_up_ms_ago, -1);
    kp_arena_free(&a);
    kp_writer_free(&w);
}

/* ---- table-driven round trip -------------------------------------------- */

/* Mirrors the codec's rule: tagged fields exist only in flexible versions. */
static bool present(const kp_field_t *f, int v, bool flex) {
    return v >= f->vmin && v <= f->vmax && (!(f->flags & KP_F_TAGGED) || flex);
}
static bool nullable(const kp_field_t *f, int v) { return (f->flags & KP_F_NULLABLE) && v >= f->null_min; }

typedef struct gen {
    kp_arena_t *arena;
    int v;
    bool flex;
    bool nulls; /* second pass: nullable values null, other arrays empty */
    uint32_t n; /* counter making every value distinct */
} gen_t;

static size_t elem_size(const kp_field_t *f) {
    switch (f->elem) {
    case KP_T_INT32: return 4;
    case KP_T_INT64: return 8;
    case KP_T_STRING: return sizeof(kp_str_t);
    case KP_T_STRUCT: return f->sub->size;
    }
    CU_FAIL("unexpected array element type");
    return 1;
}

static void gen_struct(gen_t *g, const kp_schema_t *s, uint8_t *out);

static kp_str_t gen_str(gen_t *g) {
    char *p = kp_arena_alloc(g->arena, 16);
    int n = snprintf(p, 16, "s%u", ++g->n);
    return (kp_str_t){p, n};
}

/* A value different from the field's default (first pass), so a field the
 * codec dropped or misplaced cannot go unnoticed. */
static void gen_value(gen_t *g, const kp_field_t *f, uint8_t type, void *p) {
    int64_t x = (int64_t)++g->n * 3 + 1;
    switch (type) {
    case KP_T_BOOL: *(bool *)p = f->def == 0; break;
    case KP_T_INT8: {
        int8_t y = (int8_t)x;
        *(int8_t *)p = y == (int8_t)f->def ? (int8_t)(y ^ 1) : y;
        break;
    }
    case KP_T_INT16: {
        int16_t y = (int16_t)-x;
        *(int16_t *)p = y == (int16_t)f->def ? (int16_t)(y ^ 1) : y;
        break;
    }
    case KP_T_INT32: {
        int32_t y = (int32_t)(x * 1000003);
        *(int32_t *)p = y == (int32_t)f->def ? y ^ 1 : y;
        break;
    }
    case KP_T_INT64: {
        int64_t y = x * 1000000007LL * 1000;
        *(int64_t *)p = y == f->def ? y ^ 1 : y;
        break;
    }
    case KP_T_STRING:
        *(kp_str_t *)p = g->nulls && type == f->type && nullable(f, g->v) ? KP_STR_NULL : gen_str(g);
        break;
    case KP_T_BYTES:
    case KP_T_RECORDS: {
        kp_str_t s = gen_str(g);
        bool null = g->nulls && nullable(f, g->v);
        if (type == KP_T_BYTES)
            *(kp_bytes_t *)p = (kp_bytes_t){null ? NULL : (const uint8_t *)s.ptr, null ? -1 : s.len};
        else
            *(kp_records_t *)p = (kp_records_t){null ? NULL : (const uint8_t *)s.ptr, null ? -1 : s.len, -1, 0};
        break;
    }
    case KP_T_ARRAY: {
        kp_array_t *a = p;
        if (g->nulls) {
            *a = (kp_array_t){nullable(f, g->v) ? -1 : 0, NULL};
            break;
        }
        size_t es = elem_size(f);
        a->count = 2;
        a->items = kp_arena_alloc(g->arena, 2 * es);
        for (int i = 0; i < 2; i++)
            gen_value(g, f, f->elem, (uint8_t *)a->items + (size_t)i * es);
        break;
    }
    case KP_T_UUID: {
        kp_uuid_t *u = p;
        for (size_t i = 0; i < sizeof u->b; i++)
            u->b[i] = (uint8_t)(x + (int64_t)i);
        break;
    }
    case KP_T_STRUCT: gen_struct(g, f->sub, p); break;
    default: CU_FAIL("unexpected type");
    }
}

/* Absent fields get garbage-free non-default values too: the encoder must
 * ignore them and the decoder must return defaults. */
static void gen_struct(gen_t *g, const kp_schema_t *s, uint8_t *out) {
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if (present(f, g->v, g->flex))
            gen_value(g, f, f->type, out + f->offset);
        else if (f->type != KP_T_ARRAY && f->type != KP_T_STRUCT)
            gen_value(g, f, f->type, out + f->offset);
    }
}

static bool same_value(const kp_field_t *f, uint8_t type, int v, bool flex, const void *a, const void *b);

static bool same_struct(const kp_schema_t *s, int v, bool flex, const uint8_t *a, const uint8_t *b) {
    uint8_t *def = calloc(1, s->size ? s->size : 1);
    kp_set_defaults(s, (int16_t)v, def);
    bool ok = true;
    for (uint32_t i = 0; i < s->nfields && ok; i++) {
        const kp_field_t *f = &s->fields[i];
        const uint8_t *want = present(f, v, flex) ? a : def;
        ok = same_value(f, f->type, v, flex, want + f->offset, b + f->offset);
        if (!ok)
            fprintf(stderr, "%s.%s differs at v%d\n", s->name, f->name, v);
    }
    free(def);
    return ok;
}

static bool same_value(const kp_field_t *f, uint8_t type, int v, bool flex, const void *a, const void *b) {
    switch (type) {
    case KP_T_BOOL: return *(const bool *)a == *(const bool *)b;
    case KP_T_INT8: return *(const int8_t *)a == *(const int8_t *)b;
    case KP_T_INT16: return *(const int16_t *)a == *(const int16_t *)b;
    case KP_T_INT32: return *(const int32_t *)a == *(const int32_t *)b;
    case KP_T_INT64: return *(const int64_t *)a == *(const int64_t *)b;
    case KP_T_UUID: return memcmp(a, b, sizeof(kp_uuid_t)) == 0;
    case KP_T_STRING: {
        const kp_str_t *x = a, *y = b;
        return x->len == y->len && (x->len <= 0 || memcmp(x->ptr, y->ptr, (size_t)x->len) == 0);
    }
    case KP_T_BYTES: {
        const kp_bytes_t *x = a, *y = b;
        return x->len == y->len && (x->len <= 0 || memcmp(x->ptr, y->ptr, (size_t)x->len) == 0);
    }
    case KP_T_RECORDS: {
        const kp_records_t *x = a, *y = b;
        return x->len == y->len && (x->len <= 0 || memcmp(x->data, y->data, (size_t)x->len) == 0);
    }
    case KP_T_ARRAY: {
        const kp_array_t *x = a, *y = b;
        if (x->count != y->count)
            return false;
        size_t es = elem_size(f);
        for (int32_t i = 0; i < x->count; i++)
            if (!same_value(f, f->elem, v, flex, (const uint8_t *)x->items + (size_t)i * es,
                            (const uint8_t *)y->items + (size_t)i * es))
                return false;
        return true;
    }
    case KP_T_STRUCT: return same_struct(f->sub, v, flex, a, b);
    }
    return false;
}

/* Every proper prefix of a valid payload must fail to decode, and reading
 * must stay inside it (ASan checks the exactly sized copy). */
static void check_truncations(const uint8_t *p, size_t len, bool request, int16_t key, int16_t v) {
    kp_arena_t a = KP_ARENA_INIT;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, p, n);
        kp_status_t st;
        void *body;
        if (request) {
            kp_req_header_t h;
            st = kp_request_decode(copy, n, &a, &h, &body, NULL, 0);
        } else {
            int32_t corr;
            st = kp_response_decode(copy, n, key, v, &a, &corr, &body, NULL, 0);
        }
        free(copy);
        if (st != KP_ERR_MALFORMED) {
            fprintf(stderr, "api %d v%d %s: prefix of %zu/%zu bytes gave %s\n", key, v,
                    request ? "request" : "response", n, len, kp_status_name(st));
            CU_FAIL("truncated message decoded");
            break;
        }
        kp_arena_reset(&a);
    }
    kp_arena_free(&a);
}

/* encode -> decode -> compare -> re-encode gives the same bytes. */
static void roundtrip_one(const kp_api_t *api, int16_t v, bool request, bool nulls, bool truncate) {
    kp_arena_t a = KP_ARENA_INIT, b = KP_ARENA_INIT;
    const kp_schema_t *s = request ? api->request : api->response;
    bool flex = kp_api_flexible(api, v);
    gen_t g = {&a, v, flex, nulls, 0};
    uint8_t *msg = kp_arena_alloc(&a, s->size);
    gen_struct(&g, s, msg);
    kp_writer_t w1, w2;
    kp_writer_init(&w1);
    kp_writer_init(&w2);
    char err[ERRLEN] = "";
    kp_status_t st = request ? kp_request_encode(api->key, v, 11, kp_str("client"), msg, &w1, err, sizeof err)
                             : kp_response_encode(api->key, v, 11, msg, &w1, err, sizeof err);
    if (st != KP_OK)
        fprintf(stderr, "encode %s v%d: %s\n", api->name, v, err);
    CU_ASSERT_EQUAL_FATAL(st, KP_OK);
    CU_ASSERT_EQUAL(be32_load(w1.buf.data), w1.buf.len - 4);
    size_t len;
    const uint8_t *p = frame_payload(&w1, &len);
    void *body = NULL;
    if (request) {
        kp_req_header_t h;
        st = kp_request_decode(p, len, &b, &h, &body, err, sizeof err);
        CU_ASSERT(h.api_key == api->key && h.api_version == v && h.correlation_id == 11);
        CU_ASSERT(kp_str_eq(h.client_id, api->key == 7 && v == 0 ? NULL : "client"));
        st = st == KP_OK ? kp_request_encode(api->key, v, 11, kp_str("client"), body, &w2, err, sizeof err) : st;
    } else {
        int32_t corr = 0;
        st = kp_response_decode(p, len, api->key, v, &b, &corr, &body, err, sizeof err);
        CU_ASSERT_EQUAL(corr, 11);
        st = st == KP_OK ? kp_response_encode(api->key, v, 11, body, &w2, err, sizeof err) : st;
    }
    if (st != KP_OK)
        fprintf(stderr, "%s v%d: %s\n", api->name, v, err);
    CU_ASSERT_EQUAL_FATAL(st, KP_OK);
    if (!same_struct(s, v, flex, msg, body))
        CU_FAIL("decoded values differ");
    CU_ASSERT_EQUAL(w1.buf.len, w2.buf.len);
    CU_ASSERT(w1.buf.len == w2.buf.len && memcmp(w1.buf.data, w2.buf.data, w1.buf.len) == 0);
    if (truncate)
        check_truncations(p, len, request, api->key, v);
    kp_writer_free(&w1);
    kp_writer_free(&w2);
    kp_arena_free(&a);
    kp_arena_free(&b);
}

static void test_roundtrip_all(void) {
    int messages = 0;
    for (size_t i = 0; i < kp_api_count(); i++) {
        const kp_api_t *api = kp_api_at(i);
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            for (int dir = 0; dir < 2; dir++) {
                roundtrip_one(api, v, dir == 0, false, true);
                roundtrip_one(api, v, dir == 0, true, false);
                messages += 2;
            }
        }
    }
    CU_ASSERT(messages > 300);
}

/* Table invariants the codec relies on. */
static void test_tables_consistent(void) {
    int16_t prev = -1;
    for (size_t i = 0; i < kp_api_count(); i++) {
        const kp_api_t *api = kp_api_at(i);
        CU_ASSERT(api->key > prev);
        prev = api->key;
        CU_ASSERT_PTR_EQUAL(kp_api_find(api->key), api);
        CU_ASSERT(api->min_version <= api->max_version);
        /* AlterIsr and samsa's DescribeReplicaState are the APIs born
         * flexible (their v0 is flexible). */
        bool born_flexible = api->key == KP_API_ALTER_ISR || api->key == KP_API_DESCRIBE_REPLICA_STATE;
        CU_ASSERT(api->flex_min == -1 || api->flex_min > api->min_version ||
                  (born_flexible && api->flex_min == api->min_version));
        const kp_schema_t *ss[2] = {api->request, api->response};
        for (int k = 0; k < 2; k++) {
            int last_tag = -1;
            for (uint32_t j = 0; j < ss[k]->nfields; j++) {
                const kp_field_t *f = &ss[k]->fields[j];
                CU_ASSERT(f->offset < ss[k]->size);
                CU_ASSERT(f->vmin <= f->vmax);
                if (f->flags & KP_F_TAGGED) {
                    CU_ASSERT(f->tag > last_tag);
                    last_tag = f->tag;
                }
            }
        }
    }
    CU_ASSERT_PTR_NULL(kp_api_find(17)); /* SaslHandshake: not described */
    CU_ASSERT_PTR_NULL(kp_api_find(-1));
    CU_ASSERT_PTR_NULL(kp_api_at(kp_api_count()));
}

/* What samsa advertises (protocol.md §5 and the "Produce from v3, Fetch from
 * v4" rule) and Kafka 2.8's first flexible version of each (§3), which picks
 * the compact forms and the header versions. */
static void test_advertised_and_flexible(void) {
    static const struct {
        int16_t key, min, max, flex;
    } want[] = {{0, 0, 9, 9},   {1, 0, 12, 12}, {2, 0, 6, 6},   {3, 0, 11, 9},  {4, 0, 5, 4},   {5, 0, 3, 2},
                {6, 0, 7, 6},   {7, 0, 3, 3},   {8, 0, 8, 8},   {9, 0, 7, 6},   {10, 0, 3, 3},  {11, 0, 7, 6},
                {12, 0, 4, 4},  {13, 0, 4, 4},  {14, 0, 5, 4},  {15, 0, 5, 5},  {16, 0, 4, 3},  {18, 0, 3, 3},
                {19, 0, 7, 5},  {20, 0, 6, 4},  {23, 0, 4, 4},  {32, 0, 4, 4},  {37, 0, 3, 2},  {42, 0, 2, 2},
                {47, 0, 0, -1}, {56, 0, 0, 0},  {32000, 0, 0, 0}};
    CU_ASSERT_EQUAL(kp_api_count(), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const kp_api_t *api = kp_api_find(want[i].key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(api);
        CU_ASSERT_EQUAL(api->min_version, want[i].min);
        CU_ASSERT_EQUAL(api->max_version, want[i].max);
        CU_ASSERT_EQUAL(api->flex_min, want[i].flex);
    }
    /* The header versions follow flex_min. */
    const kp_api_t *av = kp_api_find(18);
    CU_ASSERT_EQUAL(kp_request_header_version(av, 3), 2);
    CU_ASSERT_EQUAL(kp_response_header_version(av, 3), 0);
    CU_ASSERT_EQUAL(kp_request_header_version(av, 2), 1);
    CU_ASSERT_EQUAL(kp_request_header_version(kp_api_find(7), 0), 0);
    CU_ASSERT_EQUAL(kp_request_header_version(kp_api_find(7), 1), 1);
    CU_ASSERT_EQUAL(kp_response_header_version(kp_api_find(3), 8), 0);
}

/* Fields absent in a version decode to the schema's defaults (spot checks of
 * non-zero ones; tables vs. Kafka's JSON were compared field by field). */
static void test_absent_field_defaults(void) {
    kp_arena_t a = KP_ARENA_INIT;
    kp_produce_resp_partition_t pp;
    kp_set_defaults(kp_api_find(0)->response->fields[0].sub->fields[1].sub, 3, &pp);
    CU_ASSERT_EQUAL(pp.log_append_time_ms, -1);
    CU_ASSERT_EQUAL(pp.log_start_offset, -1);
    CU_ASSERT_EQUAL(pp.error_message.len, -1);
    kp_fetch_req_t fr;
    kp_set_defaults(kp_api_find(1)->request, 4, &fr);
    CU_ASSERT_EQUAL(fr.max_bytes, 0x7fffffff);
    CU_ASSERT_EQUAL(fr.session_id, 0);
    CU_ASSERT_EQUAL(fr.session_epoch, -1);
    CU_ASSERT(kp_str_eq(fr.rack_id, ""));
    kp_metadata_resp_t mr;
    kp_set_defaults(kp_api_find(3)->response, 0, &mr);
    CU_ASSERT_EQUAL(mr.controller_id, -1);
    CU_ASSERT_EQUAL(mr.cluster_id.len, -1);
    CU_ASSERT_EQUAL(mr.cluster_authorized_operations, INT32_MIN);
    kp_offset_for_leader_epoch_req_t oe;
    kp_set_defaults(kp_api_find(23)->request, 0, &oe);
    CU_ASSERT_EQUAL(oe.replica_id, -2);
    kp_create_topics_req_t ct;
    kp_set_defaults(kp_api_find(19)->request, 0, &ct);
    CU_ASSERT_EQUAL(ct.timeout_ms, 60000);
    kp_join_group_req_t jg;
    kp_set_defaults(kp_api_find(11)->request, 0, &jg);
    CU_ASSERT_EQUAL(jg.rebalance_timeout_ms, -1);
    CU_ASSERT_EQUAL(jg.group_instance_id.len, -1);

    /* and the decoder stores them: a Produce v3 response read back */
    static const uint8_t resp[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 4, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0};
    int32_t corr;
    void *body;
    CU_ASSERT_EQUAL_FATAL(kp_response_decode(resp, sizeof resp, 0, 3, &a, &corr, &body, NULL, 0), KP_OK);
    const kp_produce_resp_topic_t *t = ((kp_produce_resp_t *)body)->responses.items;
    const kp_produce_resp_partition_t *p = t->partition_responses.items;
    CU_ASSERT_EQUAL(p->index, 4);
    CU_ASSERT_EQUAL(p->base_offset, 7);
    CU_ASSERT_EQUAL(p->log_append_time_ms, 8);
    CU_ASSERT_EQUAL(p->log_start_offset, -1);
    CU_ASSERT_EQUAL(p->record_errors.count, 0);
    CU_ASSERT_EQUAL(p->error_message.len, -1);
    kp_arena_free(&a);
}

/* ---- malformed input ---------------------------------------------------- */

static kp_status_t decode_bytes(const uint8_t *p, size_t n) {
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    kp_status_t st = decode_copy(p, n, &a, &h, &body);
    kp_arena_free(&a);
    return st;
}

/* A Produce v3 request up to the topics count, then `tail`. */
static kp_status_t produce_with(const uint8_t *tail, size_t n) {
    static const uint8_t head[] = {0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 0};
    uint8_t msg[64];
    memcpy(msg, head, sizeof head);
    memcpy(msg + sizeof head, tail, n);
    return decode_bytes(msg, sizeof head + n);
}

static void test_bad_counts_and_lengths(void) {
    /* topics count 2^31-1 with 6 bytes behind it: fails without allocating */
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 'a', 0, 0, 0};
    CU_ASSERT_EQUAL(produce_with(huge, sizeof huge), KP_ERR_MALFORMED);
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    CU_ASSERT_EQUAL(produce_with(neg, sizeof neg), KP_ERR_MALFORMED);
    static const uint8_t null_topics[] = {0xff, 0xff, 0xff, 0xff}; /* not nullable */
    CU_ASSERT_EQUAL(produce_with(null_topics, sizeof null_topics), KP_ERR_MALFORMED);
    static const uint8_t min_count[] = {0x80, 0, 0, 0};
    CU_ASSERT_EQUAL(produce_with(min_count, sizeof min_count), KP_ERR_MALFORMED);
    /* a topic name of length -2, of length 0x7fff with 3 bytes, null */
    static const uint8_t neg_str[] = {0, 0, 0, 1, 0xff, 0xfe, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(produce_with(neg_str, sizeof neg_str), KP_ERR_MALFORMED);
    static const uint8_t long_str[] = {0, 0, 0, 1, 0x7f, 0xff, 'a', 'b', 'c'};
    CU_ASSERT_EQUAL(produce_with(long_str, sizeof long_str), KP_ERR_MALFORMED);
    static const uint8_t null_str[] = {0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(produce_with(null_str, sizeof null_str), KP_ERR_MALFORMED);
    /* records length INT32_MIN, and longer than what remains */
    static const uint8_t neg_rec[] = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0, 0, 0};
    CU_ASSERT_EQUAL(produce_with(neg_rec, sizeof neg_rec), KP_ERR_MALFORMED);
    static const uint8_t long_rec[] = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0, 0, 9, 1, 2};
    CU_ASSERT_EQUAL(produce_with(long_rec, sizeof long_rec), KP_ERR_MALFORMED);
    /* ...and the same with a fitting length is fine (null records too) */
    static const uint8_t ok_rec[] = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0, 0, 2, 1, 2};
    CU_ASSERT_EQUAL(produce_with(ok_rec, sizeof ok_rec), KP_OK);
    static const uint8_t null_rec[] = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    CU_ASSERT_EQUAL(produce_with(null_rec, sizeof null_rec), KP_OK);
    /* a client id of length -2 in the header */
    static const uint8_t bad_client[] = {0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe, 0, 0, 0, 0};
    CU_ASSERT_EQUAL(decode_bytes(bad_client, sizeof bad_client), KP_ERR_MALFORMED);
}

/* Flexible (compact) forms: ApiVersions v3 request and response. */
static void test_bad_compact(void) {
    /* header v2: key 18 v3 corr 1, client id "c", no tags */
    uint8_t m[40] = {0, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 'c', 0};
    size_t h = 12;
    /* compact string length 2^32-1 (5-byte varint) */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'a'};
    memcpy(m + h, huge, sizeof huge);
    CU_ASSERT_EQUAL(decode_bytes(m, h + sizeof huge), KP_ERR_MALFORMED);
    /* a 6-byte varint */
    static const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    memcpy(m + h, overlong, sizeof overlong);
    CU_ASSERT_EQUAL(decode_bytes(m, h + sizeof overlong), KP_ERR_MALFORMED);
    /* compact null (0) in a non-nullable string */
    static const uint8_t null_name[] = {0x00, 0x01, 0x00};
    memcpy(m + h, null_name, sizeof null_name);
    CU_ASSERT_EQUAL(decode_bytes(m, h + sizeof null_name), KP_ERR_MALFORMED);
    /* compact string of 0x8000 bytes: over Kafka's string limit */
    uint8_t *big = calloc(1, h + 3 + 0x8000 + 2);
    memcpy(big, m, h);
    big[h] = 0x81, big[h + 1] = 0x80, big[h + 2] = 0x02; /* 0x8001 */
    memset(big + h + 3, 'a', 0x8000);
    big[h + 3 + 0x8000] = 0x01; /* the rest is valid: version "", no tags */
    CU_ASSERT_EQUAL(decode_bytes(big, h + 3 + 0x8000 + 2), KP_ERR_MALFORMED);
    big[h] = 0x80, big[h + 1] = 0x80, big[h + 2] = 0x02; /* 0x7fff bytes is fine */
    big[h + 3 + 0x7fff] = 0x01, big[h + 3 + 0x8000] = 0x00;
    CU_ASSERT_EQUAL(decode_bytes(big, h + 3 + 0x7fff + 2), KP_OK);
    free(big);

    /* response: compact array count 2^32-2 */
    static const uint8_t resp[] = {0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0};
    kp_arena_t a = KP_ARENA_INIT;
    int32_t corr;
    void *body;
    CU_ASSERT_EQUAL(kp_response_decode(resp, sizeof resp, 18, 3, &a, &corr, &body, NULL, 0), KP_ERR_MALFORMED);
    /* the v0-format error body read as v3 (librdkafka's situation, §4) */
    static const uint8_t v0err[] = {0, 0, 0, 1, 0, 0x23, 0, 0, 0, 1, 0, 0x12, 0, 0, 0, 3};
    CU_ASSERT_EQUAL(kp_response_decode(v0err, sizeof v0err, 18, 3, &a, &corr, &body, NULL, 0), KP_ERR_MALFORMED);
    CU_ASSERT_EQUAL(kp_response_decode(v0err, sizeof v0err, 18, 0, &a, &corr, &body, NULL, 0), KP_OK);
    kp_arena_free(&a);
}

static void test_tagged_fields(void) {
    /* header tags: one unknown (tag 9, 2 bytes); body: name "ab", version "1",
     * tags: unknown 5 (3 bytes), unknown 7 (0 bytes) */
    static const uint8_t req[] = {0, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 'c', 0x01, 0x09, 0x02, 0xaa, 0xbb,
                                  0x03, 'a', 'b', 0x02, '1', 0x02, 0x05, 0x03, 1, 2, 3, 0x07, 0x00};
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    CU_ASSERT_EQUAL_FATAL(kp_request_decode(req, sizeof req, &a, &h, &body, NULL, 0), KP_OK);
    const kp_api_versions_req_t *r = body;
    CU_ASSERT(kp_str_eq(r->client_software_name, "ab"));
    CU_ASSERT(kp_str_eq(r->client_software_version, "1"));
    /* a tag whose size runs past the end */
    uint8_t bad[sizeof req];
    memcpy(bad, req, sizeof req);
    bad[23] = 0x09;
    CU_ASSERT_EQUAL(decode_copy(bad, sizeof bad, &a, &h, &body), KP_ERR_MALFORMED);
    /* more tags announced than present */
    memcpy(bad, req, sizeof req);
    bad[21] = 0x03;
    CU_ASSERT_EQUAL(decode_copy(bad, sizeof bad, &a, &h, &body), KP_ERR_MALFORMED);

    /* response: known tag 1 (int64 epoch) with a size of 4 is malformed; with
     * 8 it decodes; an unknown tag 6 next to it is skipped */
    uint8_t resp[] = {0, 0, 0, 1, 0, 0, 0x01, 0, 0, 0, 0, 0x02, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 9, 0x06, 0x01, 0xcc};
    int32_t corr;
    CU_ASSERT_EQUAL_FATAL(kp_response_decode(resp, sizeof resp, 18, 3, &a, &corr, &body, NULL, 0), KP_OK);
    CU_ASSERT_EQUAL(((kp_api_versions_resp_t *)body)->finalized_features_epoch, 9);
    CU_ASSERT_EQUAL(((kp_api_versions_resp_t *)body)->supported_features.count, 0);
    resp[13] = 0x04;
    CU_ASSERT_EQUAL(kp_response_decode(resp, sizeof resp, 18, 3, &a, &corr, &body, NULL, 0), KP_ERR_MALFORMED);
    /* a size larger than the value (9 for an int64) is malformed too */
    uint8_t resp9[sizeof resp + 1];
    memcpy(resp9, resp, 22);
    resp9[13] = 0x09;
    resp9[22] = 0x00;
    memcpy(resp9 + 23, resp + 22, 3);
    CU_ASSERT_EQUAL(kp_response_decode(resp9, sizeof resp9, 18, 3, &a, &corr, &body, NULL, 0), KP_ERR_MALFORMED);
    kp_arena_free(&a);
}

static void test_unknown_and_unsupported(void) {
    char err[ERRLEN];
    kp_arena_t a = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    static const uint8_t unknown[] = {0, 99, 0, 0, 0, 0, 0, 5, 0xff, 0xff};
    CU_ASSERT_EQUAL(kp_request_decode(unknown, sizeof unknown, &a, &h, &body, err, sizeof err), KP_ERR_UNKNOWN_API);
    CU_ASSERT_EQUAL(h.api_key, 99);
    CU_ASSERT_EQUAL(h.correlation_id, 5);
    static const uint8_t sasl[] = {0, 17, 0, 0, 0, 0, 0, 5, 0xff, 0xff};
    CU_ASSERT_EQUAL(decode_copy(sasl, sizeof sasl, &a, &h, &body), KP_ERR_UNKNOWN_API);
    static const uint8_t new_meta[] = {0, 3, 0, 12, 0, 0, 0, 5, 0xff, 0xff, 0, 0};
    CU_ASSERT_EQUAL(decode_copy(new_meta, sizeof new_meta, &a, &h, &body), KP_ERR_UNSUPPORTED_VERSION);
    static const uint8_t new_produce[] = {0, 0, 0, 10, 0, 0, 0, 5, 0xff, 0xff};
    CU_ASSERT_EQUAL(decode_copy(new_produce, sizeof new_produce, &a, &h, &body), KP_ERR_UNSUPPORTED_VERSION);
    static const uint8_t neg_version[] = {0, 3, 0xff, 0xff, 0, 0, 0, 5};
    CU_ASSERT_EQUAL(decode_copy(neg_version, sizeof neg_version, &a, &h, &body), KP_ERR_UNSUPPORTED_VERSION);
    CU_ASSERT_EQUAL(decode_copy(neg_version, 7, &a, &h, &body), KP_ERR_MALFORMED);
    kp_writer_t w;
    kp_writer_init(&w);
    kp_heartbeat_resp_t hb = {0, 0};
    CU_ASSERT_EQUAL(kp_response_encode(12, 5, 1, &hb, &w, NULL, 0), KP_ERR_UNSUPPORTED_VERSION);
    CU_ASSERT_EQUAL(kp_response_encode(99, 0, 1, &hb, &w, NULL, 0), KP_ERR_UNKNOWN_API);
    CU_ASSERT_EQUAL(w.buf.len, 0);
    kp_writer_free(&w);
    kp_arena_free(&a);
}

/* The encoder refuses what the version cannot carry and leaves the writer
 * as it was. */
static void test_encode_errors(void) {
    kp_produce_resp_partition_t part = {.index = 0};
    kp_set_defaults(kp_api_find(0)->response->fields[0].sub->fields[1].sub, 3, &part);
    kp_produce_resp_topic_t topic = {KP_STR_NULL, {1, &part}};
    kp_produce_resp_t resp = {{1, &topic}, 0};
    kp_writer_t w;
    kp_writer_init(&w);
    buf_append(&w.buf, "keep", 4);
    char err[ERRLEN] = "";
    CU_ASSERT_EQUAL(kp_response_encode(0, 3, 1, &resp, &w, err, sizeof err), KP_ERR_INVALID);
    CU_ASSERT(strstr(err, "name") != NULL);
    CU_ASSERT_EQUAL(w.buf.len, 4);
    char *long_name = calloc(1, 0x8000 + 1);
    memset(long_name, 'x', 0x8000);
    topic.name = kp_str(long_name);
    CU_ASSERT_EQUAL(kp_response_encode(0, 3, 1, &resp, &w, NULL, 0), KP_ERR_INVALID);
    topic.name.len = 0x7fff;
    CU_ASSERT_EQUAL(kp_response_encode(0, 3, 1, &resp, &w, NULL, 0), KP_OK);
    free(long_name);
    /* records claiming bytes they do not have */
    kp_produce_req_partition_t pd = {0, {NULL, 10, -1, 0}};
    kp_produce_req_topic_t pt = {kp_str("t"), {1, &pd}};
    kp_produce_req_t pr = {KP_STR_NULL, 1, 1000, {1, &pt}};
    CU_ASSERT_EQUAL(kp_request_encode(0, 3, 1, kp_str("c"), &pr, &w, NULL, 0), KP_ERR_INVALID);
    pd.records.data = (const uint8_t *)"0123456789";
    CU_ASSERT_EQUAL(kp_request_encode(0, 3, 1, kp_str("c"), &pr, &w, NULL, 0), KP_OK);
    /* an array claiming items it does not have */
    kp_writer_reset(&w);
    resp.responses.items = NULL;
    CU_ASSERT_EQUAL(kp_response_encode(0, 3, 1, &resp, &w, NULL, 0), KP_ERR_INVALID);
    CU_ASSERT_EQUAL(w.buf.len, 0);
    kp_writer_free(&w);
}

/* The generic codec on a schema of its own: the types and forms no Kafka
 * table in scope uses yet (uuid, float64, uint16, tagged struct, tagged
 * records spliced from a file). */
typedef struct custom_inner {
    int32_t x;
} custom_inner_t;
typedef struct custom {
    int8_t a;
    uint16_t b;
    double c;
    kp_uuid_t id;
    kp_str_t tagged_s;
    custom_inner_t inner;
    kp_records_t recs;
} custom_t;

static const kp_field_t custom_inner_f[] = {
    {.name = "x", .type = KP_T_INT32, .vmin = 0, .vmax = KP_VMAX, .offset = offsetof(custom_inner_t, x), .def = -1},
};
static const kp_schema_t custom_inner_s = {"Inner", custom_inner_f, 1, sizeof(custom_inner_t)};
static const kp_field_t custom_f[] = {
    {.name = "a", .type = KP_T_INT8, .vmin = 0, .vmax = KP_VMAX, .offset = offsetof(custom_t, a)},
    {.name = "b", .type = KP_T_UINT16, .vmin = 0, .vmax = KP_VMAX, .offset = offsetof(custom_t, b)},
    {.name = "c", .type = KP_T_FLOAT64, .vmin = 0, .vmax = KP_VMAX, .offset = offsetof(custom_t, c)},
    {.name = "id", .type = KP_T_UUID, .vmin = 0, .vmax = KP_VMAX, .offset = offsetof(custom_t, id)},
    {.name = "tagged_s", .type = KP_T_STRING, .flags = KP_F_TAGGED, .tag = 0, .vmin = 0, .vmax = KP_VMAX,
     .offset = offsetof(custom_t, tagged_s)},
    {.name = "inner", .type = KP_T_STRUCT, .flags = KP_F_TAGGED, .tag = 3, .vmin = 0, .vmax = KP_VMAX,
     .offset = offsetof(custom_t, inner), .sub = &custom_inner_s},
    {.name = "recs", .type = KP_T_RECORDS, .flags = KP_F_TAGGED, .tag = 200, .vmin = 0, .vmax = KP_VMAX,
     .offset = offsetof(custom_t, recs)},
};
static const kp_schema_t custom_s = {"Custom", custom_f, 7, sizeof(custom_t)};

static void test_custom_schema(void) {
    char *dir = unit_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL_FATAL(write(fd, "..hello", 7), 7);

    custom_t in;
    kp_set_defaults(&custom_s, 0, &in);
    CU_ASSERT_EQUAL(in.inner.x, -1);
    in.a = -5, in.b = 65000, in.c = 2.5;
    for (int i = 0; i < 16; i++)
        in.id.b[i] = (uint8_t)i;
    kp_writer_t w;
    kp_writer_init(&w);
    /* all tagged fields at their defaults: no tags written */
    CU_ASSERT_EQUAL_FATAL(kp_encode(&custom_s, 0, true, &in, &w, NULL, 0), KP_OK);
    CU_ASSERT_EQUAL(w.buf.len, 1 + 2 + 8 + 16 + 1);
    CU_ASSERT_EQUAL(w.buf.data[1], 0xfd);
    CU_ASSERT_EQUAL(w.buf.data[2], 0xe8);
    CU_ASSERT_EQUAL(w.buf.data[3], 0x40); /* 2.5 = 0x4004000000000000 */
    CU_ASSERT_EQUAL(w.buf.data[4], 0x04);

    kp_writer_reset(&w);
    in.tagged_s = kp_str("t");
    in.inner.x = 7;
    in.recs = (kp_records_t){NULL, 5, fd, 2};
    CU_ASSERT_EQUAL_FATAL(kp_encode(&custom_s, 0, true, &in, &w, NULL, 0), KP_OK);
    static const uint8_t tags[] = {0x03,                         /* three tags */
                                   0x00, 0x02, 0x02, 't',        /* tag 0: compact "t" */
                                   0x03, 0x05, 0, 0, 0, 7, 0x00, /* tag 3: struct + its empty tags */
                                   0xc8, 0x01, 0x06, 0x06};      /* tag 200, size 6, length 5+1 */
    CU_ASSERT_EQUAL_FATAL(w.buf.len, 27 + sizeof tags);
    assert_bytes(w.buf.data + 27, sizeof tags, tags, sizeof tags);
    CU_ASSERT_EQUAL_FATAL(w.nsplices, 1);
    CU_ASSERT_EQUAL(w.splices[0].buf_off, w.buf.len); /* after the size was inserted */

    buf_t flat = BUF_INIT;
    CU_ASSERT_EQUAL_FATAL(kp_writer_flatten(&w, &flat), 0);
    kp_arena_t a = KP_ARENA_INIT;
    custom_t out;
    size_t used = 0;
    CU_ASSERT_EQUAL_FATAL(kp_decode(&custom_s, 0, true, flat.data, flat.len, &a, &out, &used, NULL, 0), KP_OK);
    CU_ASSERT_EQUAL(used, flat.len);
    CU_ASSERT(out.a == -5 && out.b == 65000 && out.c == 2.5 && out.inner.x == 7);
    CU_ASSERT_EQUAL(memcmp(&out.id, &in.id, 16), 0);
    CU_ASSERT(kp_str_eq(out.tagged_s, "t"));
    CU_ASSERT(out.recs.len == 5 && memcmp(out.recs.data, "hello", 5) == 0);
    /* non-flexible: tagged fields do not exist */
    kp_writer_reset(&w);
    CU_ASSERT_EQUAL_FATAL(kp_encode(&custom_s, 0, false, &in, &w, NULL, 0), KP_OK);
    CU_ASSERT_EQUAL(w.buf.len, 27);
    CU_ASSERT_EQUAL(w.nsplices, 0);
    buf_free(&flat);
    kp_arena_free(&a);
    kp_writer_free(&w);
    close(fd);
    unit_rmtree(dir);
    free(dir);
}

static void test_arena(void) {
    kp_arena_t a = KP_ARENA_INIT;
    uint8_t *p = kp_arena_alloc(&a, 3);
    uint8_t *q = kp_arena_alloc(&a, 8);
    CU_ASSERT_EQUAL((uintptr_t)q % _Alignof(max_align_t), 0);
    CU_ASSERT(q >= p + 3);
    uint8_t *big = kp_arena_alloc(&a, 3u << 20);
    CU_ASSERT_EQUAL(big[(3u << 20) - 1], 0); /* zeroed */
    memset(big, 1, 3u << 20);
    for (int i = 0; i < 1000; i++)
        memset(kp_arena_alloc(&a, 100), 2, 100);
    kp_arena_reset(&a);
    uint8_t *r = kp_arena_alloc(&a, 16);
    CU_ASSERT_EQUAL(r[0], 0);
    kp_arena_free(&a);
    kp_arena_free(&a); /* twice is harmless */
}

/* kp_close_files closes exactly the file ranges kp_encode would splice:
 * records with fd >= 0 and len > 0, wherever they sit in the struct. */
static void test_close_files(void) {
    int keep = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int ranged = fcntl(keep, F_DUPFD_CLOEXEC, 0), empty = fcntl(keep, F_DUPFD_CLOEXEC, 0);
    CU_ASSERT_FATAL(keep >= 0 && ranged >= 0 && empty >= 0);
    kp_fetch_resp_partition_t parts[3];
    kp_fetch_resp_topic_t topic = {kp_str("t"), {3, parts}};
    kp_fetch_resp_t resp = {.responses = {1, &topic}};
    for (int i = 0; i < 3; i++)
        parts[i] = (kp_fetch_resp_partition_t){.partition = i, .aborted_transactions = {-1, NULL}};
    parts[0].record_set = (kp_records_t){NULL, 70, ranged, 100};
    parts[1].record_set = (kp_records_t){NULL, 0, empty, 0}; /* never spliced: not the codec's to close */
    parts[2].record_set = (kp_records_t){(const uint8_t *)"xyz", 3, -1, 0};
    kp_close_files(kp_api_find(1)->response, 4, &resp);
    errno = 0;
    CU_ASSERT(fcntl(ranged, F_GETFD) == -1 && errno == EBADF);
    CU_ASSERT(fcntl(empty, F_GETFD) >= 0);
    CU_ASSERT(fcntl(keep, F_GETFD) >= 0);
    close(empty);
    close(keep);
}

void unit_register(void) {
    static const unit_test_t bytes[] = {
        {"apiversions v3 request (librdkafka)", test_apiversions_v3_request_librdkafka},
        {"apiversions v0 response bytes", test_apiversions_response_v0_bytes},
        {"apiversions v3 response bytes", test_apiversions_response_v3_bytes},
        {"apiversions fallback for a too-new version", test_apiversions_fallback},
        {"metadata v1 null vs empty topics", test_metadata_null_vs_empty},
        {"produce v3 request with a batch", test_produce_v3_request},
        {"fetch v4 response with spliced records", test_fetch_v4_spliced_records},
        {"file ranges closed when not sent", test_close_files},
        {"controlled shutdown v0 uses header v0", test_controlled_shutdown_v0_header},
        {"alter isr v0: flexible bytes, both ways", test_alter_isr_v0_bytes},
        {"describe replica state v0 (key 32000): bytes, both ways", test_describe_replica_state_v0_bytes},
        {NULL, NULL},
    };
    static const unit_test_t tables[] = {
        {"tables are consistent", test_tables_consistent},
        {"advertised versions and flexible versions", test_advertised_and_flexible},
        {"absent fields get the schema defaults", test_absent_field_defaults},
        {"round trip of every api and version", test_roundtrip_all},
        {NULL, NULL},
    };
    static const unit_test_t bad[] = {
        {"bad counts and lengths", test_bad_counts_and_lengths},
        {"bad compact forms", test_bad_compact},
        {"tagged fields", test_tagged_fields},
        {"unknown api and unsupported versions", test_unknown_and_unsupported},
        {"encode errors", test_encode_errors},
        {"a custom schema: other types, tagged records", test_custom_schema},
        {"arena", test_arena},
        {NULL, NULL},
    };
    unit_add_suite("kproto exact bytes", bytes);
    unit_add_suite("kproto tables", tables);
    unit_add_suite("kproto malformed input", bad);
}
