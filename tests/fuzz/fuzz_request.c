/*
 * fuzz_request — libFuzzer target for the broker's request decoder: the
 * input is a request payload, the bytes after the int32 Size prefix, exactly
 * as api_on_request (broker/api/api.c) hands them to kp_request_decode.
 *
 * Besides "never crash, never read outside the input" (ASan/UBSan), every
 * outcome is checked against what kproto.h promises:
 *  - decoded: the body re-encodes as a request of the same api/version, the
 *    frame's Size is right, the frame decodes again to the same header and to
 *    a body equal field by field, and re-encoding that gives the same bytes
 *    (so the encoder and decoder agree on every field of every version);
 *  - ApiVersions of a version samsa does not support: the fallback answer
 *    decodes as ApiVersions v0 with error 35 and samsa's range;
 *  - any failure: no body, an error text, and the header's first three
 *    fields filled whenever 8 bytes exist.
 */
#include "fuzz.h"

#include "util/endian.h"
#include "proto/kerr.h"
#include "proto/kproto.h"
#include "proto/kproto_apis.h"

#include <stdbool.h>
#include <string.h>

#define ERRLEN 256

/* ---- comparing decoded structs ------------------------------------------ */

/* Size of one array element in memory, as the codec lays arrays out. */
static size_t elem_csize(const kp_field_t *f) {
    FUZZ_CHECK(f->elem != KP_T_ARRAY && f->elem != 0, "field %s: unexpected array element type %d", f->name, f->elem);
    return kp_type_csize(f->elem, f->sub);
}

static bool same_span(int32_t la, const void *pa, int32_t lb, const void *pb) {
    return la == lb && (la <= 0 || memcmp(pa, pb, (size_t)la) == 0);
}

static bool same_struct(const kp_schema_t *s, const uint8_t *a, const uint8_t *b);

/* Compares in-memory values, not their bytes: structs have padding, and
 * strings point into two different buffers. Floats compare as bit patterns
 * so a NaN equals itself. */
static bool same_value(const kp_field_t *f, uint8_t type, const void *a, const void *b) {
    switch (type) {
    case KP_T_BOOL: return *(const bool *)a == *(const bool *)b;
    case KP_T_INT8: return *(const int8_t *)a == *(const int8_t *)b;
    case KP_T_INT16: return *(const int16_t *)a == *(const int16_t *)b;
    case KP_T_UINT16: return *(const uint16_t *)a == *(const uint16_t *)b;
    case KP_T_INT32: return *(const int32_t *)a == *(const int32_t *)b;
    case KP_T_INT64:
    case KP_T_FLOAT64: return memcmp(a, b, 8) == 0;
    case KP_T_UUID: return memcmp(a, b, sizeof(kp_uuid_t)) == 0;
    case KP_T_STRING: {
        const kp_str_t *x = a, *y = b;
        return same_span(x->len, x->ptr, y->len, y->ptr);
    }
    case KP_T_BYTES: {
        const kp_bytes_t *x = a, *y = b;
        return same_span(x->len, x->ptr, y->len, y->ptr);
    }
    case KP_T_RECORDS: {
        const kp_records_t *x = a, *y = b;
        return x->fd == -1 && y->fd == -1 && same_span(x->len, x->data, y->len, y->data);
    }
    case KP_T_ARRAY: {
        const kp_array_t *x = a, *y = b;
        if (x->count != y->count)
            return false;
        size_t es = x->count > 0 ? elem_csize(f) : 0;
        for (int32_t i = 0; i < x->count; i++)
            if (!same_value(f, f->elem, (const uint8_t *)x->items + (size_t)i * es,
                            (const uint8_t *)y->items + (size_t)i * es))
                return false;
        return true;
    }
    case KP_T_STRUCT: return same_struct(f->sub, a, b);
    }
    FUZZ_CHECK(false, "field %s: unexpected type %d", f->name, type);
    return false;
}

/* Every field, present in the version or not: the decoder stores defaults
 * for absent ones, so both sides must hold the same defaults too. */
static bool same_struct(const kp_schema_t *s, const uint8_t *a, const uint8_t *b) {
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if (!same_value(f, f->type, a + f->offset, b + f->offset)) {
            fprintf(stderr, "fuzz_request: %s.%s differs after the round trip\n", s->name, f->name);
            return false;
        }
    }
    return true;
}

/* ---- the checks ---------------------------------------------------------- */

/* The Size prefix must count exactly the bytes after it, and a decoded
 * request never yields file splices. Returns the payload. */
static const uint8_t *frame_payload(const kp_writer_t *w, size_t *len) {
    FUZZ_CHECK(w->nsplices == 0, "%zu splices in an in-memory frame", w->nsplices);
    FUZZ_CHECK(w->buf.len >= 4, "frame of %zu bytes", w->buf.len);
    *len = w->buf.len - 4;
    FUZZ_CHECK(be32_load(w->buf.data) == *len, "Size %u for a payload of %zu bytes", be32_load(w->buf.data), *len);
    return w->buf.data + 4;
}

/* Exact-size heap copy, so ASan sees any read past the re-encoded frame. */
static uint8_t *dup_bytes(const uint8_t *p, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len)
        memcpy(copy, p, len);
    return copy;
}

static void check_roundtrip(const kp_req_header_t *hdr, const void *body) {
    const kp_api_t *api = kp_api_find(hdr->api_key);
    FUZZ_CHECK(api && kp_api_supports(api, hdr->api_version), "decoded api %d v%d", hdr->api_key, hdr->api_version);
    FUZZ_CHECK(hdr->header_version == kp_request_header_version(api, hdr->api_version), "header v%d for %s v%d",
               hdr->header_version, api->name, hdr->api_version);

    char err[ERRLEN] = "";
    kp_writer_t w1, w2;
    kp_writer_init(&w1);
    kp_writer_init(&w2);
    kp_status_t st = kp_request_encode(hdr->api_key, hdr->api_version, hdr->correlation_id, hdr->client_id, body,
                                       &w1, err, sizeof err);
    FUZZ_CHECK(st == KP_OK, "%s v%d: a decoded request does not encode: %s", api->name, hdr->api_version, err);
    size_t len;
    uint8_t *payload = dup_bytes(frame_payload(&w1, &len), len);

    kp_arena_t arena = KP_ARENA_INIT;
    kp_req_header_t hdr2;
    void *body2;
    st = kp_request_decode(payload, len, &arena, &hdr2, &body2, err, sizeof err);
    FUZZ_CHECK(st == KP_OK, "%s v%d: the re-encoded request does not decode: %s", api->name, hdr->api_version, err);
    FUZZ_CHECK(hdr2.api_key == hdr->api_key && hdr2.api_version == hdr->api_version &&
                   hdr2.correlation_id == hdr->correlation_id && hdr2.header_version == hdr->header_version,
               "%s v%d: header changed in the round trip", api->name, hdr->api_version);
    FUZZ_CHECK(same_span(hdr2.client_id.len, hdr2.client_id.ptr, hdr->client_id.len, hdr->client_id.ptr),
               "%s v%d: client_id changed in the round trip", api->name, hdr->api_version);
    FUZZ_CHECK(same_struct(api->request, body, body2), "%s v%d: body changed in the round trip", api->name,
               hdr->api_version);

    /* decode(encode(x)) must encode to the same bytes as x did. */
    st = kp_request_encode(hdr2.api_key, hdr2.api_version, hdr2.correlation_id, hdr2.client_id, body2, &w2, err,
                           sizeof err);
    FUZZ_CHECK(st == KP_OK, "%s v%d: second encode failed: %s", api->name, hdr->api_version, err);
    FUZZ_CHECK(w1.buf.len == w2.buf.len && memcmp(w1.buf.data, w2.buf.data, w1.buf.len) == 0,
               "%s v%d: re-encoding is not stable (%zu vs %zu bytes)", api->name, hdr->api_version, w1.buf.len,
               w2.buf.len);

    kp_arena_free(&arena);
    free(payload);
    kp_writer_free(&w1);
    kp_writer_free(&w2);
}

/* protocol.md §4: a too-new ApiVersions gets a v0 answer naming the
 * versions samsa does support, whatever else the request holds. */
static void check_apiversions_fallback(int32_t correlation_id) {
    kp_writer_t w;
    kp_writer_init(&w);
    kp_apiversions_fallback(correlation_id, &w);
    size_t len;
    uint8_t *payload = dup_bytes(frame_payload(&w, &len), len);

    kp_arena_t arena = KP_ARENA_INIT;
    int32_t corr = 0;
    void *body;
    char err[ERRLEN] = "";
    kp_status_t st = kp_response_decode(payload, len, KP_API_API_VERSIONS, 0, &arena, &corr, &body, err, sizeof err);
    FUZZ_CHECK(st == KP_OK, "the ApiVersions fallback does not decode as v0: %s", err);
    const kp_api_versions_resp_t *resp = body;
    const kp_api_t *api = kp_api_find(KP_API_API_VERSIONS);
    FUZZ_CHECK(corr == correlation_id, "fallback correlation id %d, request had %d", corr, correlation_id);
    FUZZ_CHECK(resp->error_code == KERR_UNSUPPORTED_VERSION, "fallback error %d", resp->error_code);
    FUZZ_CHECK(resp->api_keys.count == 1, "fallback lists %d apis", resp->api_keys.count);
    const kp_api_versions_resp_key_t *k = resp->api_keys.items;
    FUZZ_CHECK(k->api_key == KP_API_API_VERSIONS && k->min_version == api->min_version &&
                   k->max_version == api->max_version,
               "fallback entry %d %d-%d", k->api_key, k->min_version, k->max_version);

    kp_arena_free(&arena);
    free(payload);
    kp_writer_free(&w);
}

/* A failed decode leaves nothing half-done behind: no body, a reason, and
 * the fixed header fields (what api.c needs to answer or log). */
static void check_failure(const uint8_t *data, size_t size, kp_status_t st, const kp_req_header_t *hdr,
                          const void *body, const char *err) {
    FUZZ_CHECK(st == KP_ERR_UNKNOWN_API || st == KP_ERR_UNSUPPORTED_VERSION || st == KP_ERR_MALFORMED,
               "decode returned %d", (int)st);
    FUZZ_CHECK(body == NULL, "a failed decode returned a body");
    FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', ERRLEN) != NULL, "a failed decode gave no reason");
    if (size >= 8)
        FUZZ_CHECK(hdr->api_key == (int16_t)be16_load(data) && hdr->api_version == (int16_t)be16_load(data + 2) &&
                       hdr->correlation_id == (int32_t)be32_load(data + 4),
                   "header fields not filled on failure");
    else
        FUZZ_CHECK(st == KP_ERR_MALFORMED, "a %zu-byte payload gave %s", size, kp_status_name(st));
    const kp_api_t *api = size >= 8 ? kp_api_find(hdr->api_key) : NULL;
    if (st == KP_ERR_UNKNOWN_API)
        FUZZ_CHECK(api == NULL, "api %d is known but was reported unknown", hdr->api_key);
    if (st == KP_ERR_UNSUPPORTED_VERSION)
        FUZZ_CHECK(api && !kp_api_supports(api, hdr->api_version), "%d v%d reported unsupported", hdr->api_key,
                   hdr->api_version);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kp_arena_t arena = KP_ARENA_INIT;
    kp_req_header_t hdr;
    void *body = (void *)&arena; /* must be overwritten with NULL on failure */
    char err[ERRLEN] = "";
    kp_status_t st = kp_request_decode(data, size, &arena, &hdr, &body, err, sizeof err);
    if (st == KP_OK) {
        FUZZ_CHECK(body != NULL, "decode succeeded without a body");
        check_roundtrip(&hdr, body);
    } else {
        check_failure(data, size, st, &hdr, body, err);
        if (st == KP_ERR_UNSUPPORTED_VERSION && hdr.api_key == KP_API_API_VERSIONS)
            check_apiversions_fallback(hdr.correlation_id);
    }
    kp_arena_free(&arena);
    return 0;
}
