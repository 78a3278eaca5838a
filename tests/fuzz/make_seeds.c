/*
 * make_seeds — writes the seed corpora of the fuzz targets: valid inputs the
 * fuzzer starts mutating from, so it begins deep inside the parsers instead
 * of spending its time discovering the framing.
 *
 *   make_seeds REQUEST_DIR RECORD_BATCH_DIR
 *
 * REQUEST_DIR gets request payloads (what follows the Size prefix) built with
 * kp_request_encode: for every API, its lowest supported version (nullable
 * fields null) and its highest (every field set), every ApiVersions version,
 * plus an ApiVersions samsa does not support and a flexible one carrying
 * unknown tagged fields. RECORD_BATCH_DIR gets producer batches built with
 * record_batch_build: three shapes for every codec, a batch that decompresses
 * to more than the fuzz target allows for each codec that can, and two edge
 * cases.
 *
 * The output is deterministic (same names, same bytes on every run), and
 * every seed is checked to be accepted before it is written.
 */
#include "util/buf.h"
#include "proto/compress.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "proto/kproto.h"
#include "proto/kproto_apis.h"
#include "log/record_batch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TS0 1600000000000LL /* fuzz_record_batch.c validates against this "now" */

static void die(const char *what, const char *detail) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die(path, strerror(errno));
}

static void make_dir(const char *dir) {
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        die(dir, strerror(errno));
}

/* ---- record batches ------------------------------------------------------- */

static batch_build_opts_t producer_opts(compression_t codec) {
    batch_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.compression = codec;
    o.producer_id = -1;
    o.producer_epoch = -1;
    o.base_sequence = -1;
    return o;
}

/* Three records: keys, a header, timestamps whose maximum is not the last. */
static void build_three(buf_t *out, compression_t codec) {
    static const record_header_t hdrs[] = {{(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3},
                                           {(const uint8_t *)"empty", 5, NULL, -1}};
    record_input_t r[3] = {
        {"k0", 2, "value-0", 7, TS0, 0, NULL},
        {"k1", 2, "value-1", 7, TS0 + 5, 2, hdrs},
        {"", 0, "", 0, TS0 + 2, 0, NULL},
    };
    batch_build_opts_t o = producer_opts(codec);
    if (record_batch_build(out, &o, r, 3) != KERR_NONE)
        die("record_batch_build", compression_name(codec));
}

/* One record with null key and value from an idempotent, transactional
 * producer. */
static void build_one_null(buf_t *out, compression_t codec) {
    record_input_t r = {NULL, -1, NULL, -1, TS0 - 1000, 0, NULL};
    batch_build_opts_t o = producer_opts(codec);
    o.producer_id = 4711;
    o.producer_epoch = 3;
    o.base_sequence = 17;
    o.transactional = true;
    if (record_batch_build(out, &o, &r, 1) != KERR_NONE)
        die("record_batch_build", compression_name(codec));
}

/* Twenty records with repetitive values, so the codecs really compress
 * (and, for lz4/zstd/gzip, emit back-references). */
static void build_many(buf_t *out, compression_t codec) {
    enum { N = 20, VLEN = 96 };
    char keys[N][8], values[N][VLEN];
    record_input_t r[N];
    for (int i = 0; i < N; i++) {
        int kl = snprintf(keys[i], sizeof keys[i], "key%d", i);
        for (int j = 0; j < VLEN; j++)
            values[i][j] = (char)('a' + (i + j / 8) % 26);
        r[i] = (record_input_t){keys[i], kl, values[i], VLEN, TS0 + i * 10, 0, NULL};
    }
    batch_build_opts_t o = producer_opts(codec);
    if (record_batch_build(out, &o, r, N) != KERR_NONE)
        die("record_batch_build", compression_name(codec));
}

/* One record of 96 KiB of zeros: small compressed, but over the 64 KiB
 * decompression limit fuzz_record_batch uses, so the decompressors' "output
 * too large" paths start out covered. */
static void build_over_limit(buf_t *out, compression_t codec) {
    enum { VLEN = 96 << 10 };
    char *value = calloc(1, VLEN);
    if (!value)
        die("calloc", strerror(errno));
    record_input_t r = {"bomb", 4, value, VLEN, TS0, 0, NULL};
    batch_build_opts_t o = producer_opts(codec);
    if (record_batch_build(out, &o, &r, 1) != KERR_NONE)
        die("record_batch_build", compression_name(codec));
    free(value);
}

static void check_batch(const buf_t *b, const char *name) {
    batch_validate_opts_t o;
    memset(&o, 0, sizeof o);
    o.max_message_bytes = 1048588;
    o.topic_compression = COMPRESSION_PRODUCER;
    o.max_timestamp_diff_ms = INT64_MAX;
    o.now_ms = TS0;
    batch_validation_t v;
    kerr_t err = record_batch_validate(b->data, b->len, &o, &v);
    if (err != KERR_NONE)
        die(name, "seed batch does not validate");
}

static void write_batch(const char *dir, const char *name, buf_t *b) {
    check_batch(b, name);
    write_file(dir, name, b->data, b->len);
    buf_reset(b);
}

static void record_batch_seeds(const char *dir) {
    static const compression_t codecs[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4,
                                           COMPRESSION_ZSTD};
    buf_t b = BUF_INIT;
    char name[64];
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        const char *c = compression_name(codecs[i]);
        build_three(&b, codecs[i]);
        snprintf(name, sizeof name, "seed-%s-three", c);
        write_batch(dir, name, &b);
        build_one_null(&b, codecs[i]);
        snprintf(name, sizeof name, "seed-%s-one-null", c);
        write_batch(dir, name, &b);
        build_many(&b, codecs[i]);
        snprintf(name, sizeof name, "seed-%s-many", c);
        write_batch(dir, name, &b);
    }

    for (size_t i = 1; i < sizeof codecs / sizeof codecs[0]; i++) { /* codecs[0] is none */
        build_over_limit(&b, codecs[i]);
        snprintf(name, sizeof name, "seed-%s-over-limit", compression_name(codecs[i]));
        write_batch(dir, name, &b);
    }

    /* Records without timestamps (-1): the validator skips their range check. */
    record_input_t r[2] = {{"a", 1, "x", 1, -1, 0, NULL}, {"b", 1, "y", 1, -1, 0, NULL}};
    batch_build_opts_t o = producer_opts(COMPRESSION_NONE);
    if (record_batch_build(&b, &o, r, 2) != KERR_NONE)
        die("record_batch_build", "no timestamps");
    write_batch(dir, "seed-none-no-timestamps", &b);

    /* A maxTimestamp that disagrees with the records (Kafka rewrites it). */
    build_three(&b, COMPRESSION_NONE);
    be64_store(b.data + BATCH_OFF_MAX_TIMESTAMP, (uint64_t)(TS0 + 99999));
    be32_store(b.data + BATCH_OFF_CRC, crc32c(0, b.data + BATCH_OFF_ATTRIBUTES, b.len - BATCH_OFF_ATTRIBUTES));
    write_batch(dir, "seed-none-wrong-max-timestamp", &b);
    buf_free(&b);
}

/* ---- requests --------------------------------------------------------------- */

/* Fills request structs from the schema tables, so every API and version is
 * covered without a hand-written builder per API. */
typedef struct gen {
    kp_arena_t *arena;
    int16_t version;
    bool flex;
    bool nulls;              /* nullable strings and bytes become null */
    const buf_t *records;    /* a valid record batch for records fields */
    uint32_t n;              /* makes values distinct */
} gen_t;

static void gen_struct(gen_t *g, const kp_schema_t *s, uint8_t *out);

static size_t elem_csize(const kp_field_t *f) {
    switch (f->elem) {
    case KP_T_INT32: return 4;
    case KP_T_INT64: return 8;
    case KP_T_STRING: return sizeof(kp_str_t);
    case KP_T_STRUCT: return f->sub->size;
    }
    die(f->name, "unexpected array element type");
    return 0;
}

static bool present(const gen_t *g, const kp_field_t *f) {
    return g->version >= f->vmin && g->version <= f->vmax && (!(f->flags & KP_F_TAGGED) || g->flex);
}

static bool nullable(const gen_t *g, const kp_field_t *f) {
    return (f->flags & KP_F_NULLABLE) && g->version >= f->null_min;
}

static kp_str_t gen_str(gen_t *g, const char *prefix) {
    char *p = kp_arena_alloc(g->arena, 32);
    int n = snprintf(p, 32, "%s-%u", prefix, ++g->n);
    return (kp_str_t){p, n};
}

/* Small values unlike the defaults; arrays of one element keep nested
 * requests small. `elem` is set for array elements, which are never null. */
static void gen_value(gen_t *g, const kp_field_t *f, uint8_t type, bool elem, void *p) {
    int64_t x = (int64_t)(++g->n) + 1;
    bool null = g->nulls && !elem && nullable(g, f);
    switch (type) {
    case KP_T_BOOL: *(bool *)p = f->def == 0; break;
    case KP_T_INT8: *(int8_t *)p = (int8_t)(f->def == x ? x + 1 : x); break;
    case KP_T_INT16: *(int16_t *)p = (int16_t)(f->def == x ? x + 1 : x); break;
    case KP_T_UINT16: *(uint16_t *)p = (uint16_t)(f->def == x ? x + 1 : x); break;
    case KP_T_INT32: *(int32_t *)p = (int32_t)(f->def == x * 1000 ? x * 1001 : x * 1000); break;
    case KP_T_INT64: *(int64_t *)p = f->def == x * 100000 ? x * 100001 : x * 100000; break;
    case KP_T_FLOAT64: *(double *)p = (double)x + 0.5; break;
    case KP_T_UUID: memset(p, (int)(x & 0xff), sizeof(kp_uuid_t)); break;
    case KP_T_STRING: *(kp_str_t *)p = null ? KP_STR_NULL : gen_str(g, f->name); break;
    case KP_T_BYTES: {
        kp_str_t s = gen_str(g, "bytes");
        *(kp_bytes_t *)p = null ? (kp_bytes_t){NULL, -1} : (kp_bytes_t){(const uint8_t *)s.ptr, s.len};
        break;
    }
    case KP_T_RECORDS:
        *(kp_records_t *)p = null ? (kp_records_t){NULL, -1, -1, 0}
                                  : (kp_records_t){g->records->data, (int32_t)g->records->len, -1, 0};
        break;
    case KP_T_ARRAY: {
        kp_array_t *a = p;
        a->count = 1;
        a->items = kp_arena_alloc(g->arena, elem_csize(f));
        gen_value(g, f, f->elem, true, a->items);
        break;
    }
    case KP_T_STRUCT: gen_struct(g, f->sub, p); break;
    }
}

static void gen_struct(gen_t *g, const kp_schema_t *s, uint8_t *out) {
    kp_set_defaults(s, g->version, out);
    for (uint32_t i = 0; i < s->nfields; i++)
        if (present(g, &s->fields[i]))
            gen_value(g, &s->fields[i], s->fields[i].type, false, out + s->fields[i].offset);
}

/* Encodes a request for api/version and returns its payload in *out (the
 * frame without the Size prefix). */
static void encode_request(const kp_api_t *api, int16_t v, bool nulls, const buf_t *records, buf_t *out) {
    kp_arena_t arena = KP_ARENA_INIT;
    gen_t g = {&arena, v, kp_api_flexible(api, v), nulls, records, 0};
    void *body = kp_arena_alloc(&arena, api->request->size);
    gen_struct(&g, api->request, body);
    kp_writer_t w;
    kp_writer_init(&w);
    char err[256];
    if (kp_request_encode(api->key, v, 1000 + api->key, kp_str("seed-client"), body, &w, err, sizeof err) != KP_OK)
        die(api->name, err);
    buf_reset(out);
    buf_append(out, w.buf.data + 4, w.buf.len - 4);
    kp_writer_free(&w);
    kp_arena_free(&arena);
}

static void write_request(const char *dir, const char *name, const buf_t *payload, kp_status_t want) {
    kp_arena_t arena = KP_ARENA_INIT;
    kp_req_header_t h;
    void *body;
    char err[256] = "";
    kp_status_t st = kp_request_decode(payload->data, payload->len, &arena, &h, &body, err, sizeof err);
    kp_arena_free(&arena);
    if (st != want)
        die(name, st == KP_OK ? "decoded, but should not have" : err);
    write_file(dir, name, payload->data, payload->len);
}

/* ApiVersions v3 (flexible: header v2) with an unknown tagged field in the
 * header and one in the body, which a decoder must skip. */
static void flexible_with_unknown_tags(const buf_t *records, buf_t *out) {
    const kp_api_t *api = kp_api_find(KP_API_API_VERSIONS);
    buf_t plain = BUF_INIT;
    encode_request(api, 3, false, records, &plain);
    /* header: key, version, correlation id, int16-length client id, tags */
    size_t tags_at = 8 + 2 + be16_load(plain.data + 8);
    if (plain.data[tags_at] != 0 || plain.data[plain.len - 1] != 0)
        die(api->name, "expected empty tagged-field sections");
    buf_reset(out);
    buf_append(out, plain.data, tags_at);
    buf_append(out, "\x01\x63\x02zz", 5); /* 1 field: tag 99, 2 bytes */
    buf_append(out, plain.data + tags_at + 1, plain.len - tags_at - 2);
    buf_append(out, "\x02\x07\x01q\x2a\x00", 6); /* 2 fields: tag 7 "q", tag 42 empty */
    buf_free(&plain);
}

static void request_seeds(const char *dir) {
    buf_t records = BUF_INIT, payload = BUF_INIT;
    build_three(&records, COMPRESSION_LZ4);
    char name[96];
    for (size_t i = 0; i < kp_api_count(); i++) {
        const kp_api_t *api = kp_api_at(i);
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            bool lowest = v == api->min_version;
            if (!lowest && v != api->max_version && api->key != KP_API_API_VERSIONS)
                continue;
            encode_request(api, v, lowest, &records, &payload);
            snprintf(name, sizeof name, "seed-%02d-%s-v%d", api->key, api->name, v);
            write_request(dir, name, &payload, KP_OK);
        }
    }

    const kp_api_t *av = kp_api_find(KP_API_API_VERSIONS);
    encode_request(av, av->max_version, false, &records, &payload);
    be16_store(payload.data + 2, (uint16_t)(av->max_version + 1));
    snprintf(name, sizeof name, "seed-18-ApiVersions-v%d-unsupported", av->max_version + 1);
    write_request(dir, name, &payload, KP_ERR_UNSUPPORTED_VERSION);

    flexible_with_unknown_tags(&records, &payload);
    write_request(dir, "seed-18-ApiVersions-v3-unknown-tags", &payload, KP_OK);
    buf_free(&payload);
    buf_free(&records);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s REQUEST_DIR RECORD_BATCH_DIR\n", argv[0]);
        return 2;
    }
    make_dir(argv[1]);
    make_dir(argv[2]);
    request_seeds(argv[1]);
    record_batch_seeds(argv[2]);
    return 0;
}
