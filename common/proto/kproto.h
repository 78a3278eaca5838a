/*
 * kproto — the Kafka wire protocol codec: one generic encoder/decoder driven
 * by declarative schema tables (kproto_apis.c holds the tables and the C
 * structs they describe; this module never knows a particular API).
 *
 * A schema (kp_schema_t) lists the fields of one struct in wire order. Each
 * field (kp_field_t) says its type, the versions it exists in, from which
 * version it is nullable, whether it is a tagged field (flexible versions
 * only), its default, and where it lives in the C struct (offsetof). The
 * layouts come from Kafka 2.8's JSON message schemas; the rules that the
 * schemas leave implicit (compact forms, tagged-field sections, header
 * versions) are in ../shared/reference/protocol.md §1–§4 and are applied here,
 * once, for every API.
 *
 * Decoded values are zero-copy: strings, bytes and records point into the
 * caller's input buffer, which must outlive the decoded struct. Arrays and the
 * top-level struct are allocated from a kp_arena_t that the caller frees in
 * one go (typically once per request). No count or length from the wire is
 * trusted: every one is checked against the bytes that remain before anything
 * is allocated.
 *
 * Encoding appends to a kp_writer_t: a buf_t plus a list of splices, so a
 * records value can stand for a range of a file (a log segment) that the
 * network layer sends with sendfile() between the buffered bytes.
 */
#ifndef SAMSA_KPROTO_H
#define SAMSA_KPROTO_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- values ------------------------------------------------------------- */

/* A string (UTF-8, not NUL-terminated); len -1 = null. */
typedef struct kp_str {
    const char *ptr;
    int32_t len;
} kp_str_t;

/* Bytes; len -1 = null. */
typedef struct kp_bytes {
    const uint8_t *ptr;
    int32_t len;
} kp_bytes_t;

/* A records field (record batches or legacy message sets). len -1 = null.
 * In memory: data/len (fd -1). From a file: fd >= 0, the len bytes at
 * file_pos of fd; the encoder then records a splice instead of copying.
 * Decoding always yields the in-memory form (fd -1). */
typedef struct kp_records {
    const uint8_t *data;
    int32_t len;
    int fd;
    int64_t file_pos;
} kp_records_t;

/* An array; count -1 = null. items points to count elements of the type the
 * schema says (a struct type, int32_t, int64_t or kp_str_t). */
typedef struct kp_array {
    int32_t count;
    void *items;
} kp_array_t;

typedef struct kp_uuid {
    uint8_t b[16];
} kp_uuid_t;

/* A kp_str_t for a NUL-terminated string (NULL = null). */
static inline kp_str_t kp_str(const char *s) { return (kp_str_t){s, s ? (int32_t)strlen(s) : -1}; }
#define KP_STR_NULL ((kp_str_t){NULL, -1})
/* Whether s holds exactly the NUL-terminated text t. */
bool kp_str_eq(kp_str_t s, const char *t);

/* ---- schema tables ------------------------------------------------------ */

typedef enum kp_type {
    KP_T_BOOL = 1, /* C: bool */
    KP_T_INT8,     /* int8_t */
    KP_T_INT16,    /* int16_t */
    KP_T_UINT16,   /* uint16_t */
    KP_T_INT32,    /* int32_t */
    KP_T_INT64,    /* int64_t */
    KP_T_FLOAT64,  /* double */
    KP_T_UUID,     /* kp_uuid_t */
    KP_T_STRING,   /* kp_str_t */
    KP_T_BYTES,    /* kp_bytes_t */
    KP_T_RECORDS,  /* kp_records_t */
    KP_T_ARRAY,    /* kp_array_t of elem */
    KP_T_STRUCT,   /* an embedded struct described by sub */
} kp_type_t;

#define KP_VMAX 127 /* "N+" in a version range */

/* kp_field_t.flags */
#define KP_F_NULLABLE 0x01 /* nullable from version null_min on */
#define KP_F_TAGGED 0x02   /* a tagged field (tag) in the versions it exists in */
#define KP_F_DEFNULL 0x04  /* default is null (strings, bytes, arrays) */
#define KP_F_NOFLEX 0x08   /* never uses the compact form ("flexibleVersions": "none") */

typedef struct kp_schema kp_schema_t;

typedef struct kp_field {
    const char *name;        /* the C member name */
    uint8_t type;            /* kp_type_t */
    uint8_t elem;            /* arrays: the element type (KP_T_STRUCT: sub) */
    uint8_t flags;           /* KP_F_* */
    int8_t vmin, vmax;       /* present in versions vmin..vmax */
    int8_t null_min;         /* KP_F_NULLABLE: nullable in versions >= null_min */
    int16_t tag;             /* KP_F_TAGGED: the tag */
    uint32_t offset;         /* offsetof the member */
    const kp_schema_t *sub;  /* KP_T_STRUCT, or arrays of structs */
    int64_t def;             /* default of integers and bools */
} kp_field_t;

struct kp_schema {
    const char *name;
    const kp_field_t *fields; /* wire order; tagged fields by increasing tag */
    uint32_t nfields;
    uint32_t size; /* sizeof the C struct */
};

/* One API: what samsa supports (and advertises), and its schemas. */
typedef struct kp_api {
    int16_t key;
    const char *name;
    int16_t min_version, max_version;
    int16_t flex_min; /* first flexible version in Kafka 2.8's schema, -1 none */
    const kp_schema_t *request;
    const kp_schema_t *response;
} kp_api_t;

/* The registry (kproto_apis.c). kp_api_find returns NULL for a key samsa
 * has no schema for; kp_api_at(i) for i < kp_api_count() iterates by key. */
const kp_api_t *kp_api_find(int16_t api_key);
size_t kp_api_count(void);
const kp_api_t *kp_api_at(size_t i);

static inline bool kp_api_supports(const kp_api_t *api, int16_t version) {
    return version >= api->min_version && version <= api->max_version;
}
static inline bool kp_api_flexible(const kp_api_t *api, int16_t version) {
    return api->flex_min >= 0 && version >= api->flex_min;
}

/* ---- arena -------------------------------------------------------------- */

/* A chunked bump allocator: everything decoded for one message lives here
 * and goes away with one kp_arena_reset/kp_arena_free. Reset keeps one chunk
 * so a connection that decodes request after request stops calling malloc. */
typedef struct kp_arena_chunk kp_arena_chunk_t;
typedef struct kp_arena {
    kp_arena_chunk_t *head;
    size_t first_chunk; /* bytes of the first chunk; 0: 4 KiB */
} kp_arena_t;

#define KP_ARENA_INIT {NULL, 0}

void kp_arena_init(kp_arena_t *a);
/* An arena whose first chunk is first_chunk bytes: small messages that may
 * be kept long (a request waiting for its replicas) hold less. */
void kp_arena_init_sized(kp_arena_t *a, size_t first_chunk);
void kp_arena_reset(kp_arena_t *a);
void kp_arena_free(kp_arena_t *a);
/* n bytes, zeroed, aligned for any type; never NULL (mem.h). */
void *kp_arena_alloc(kp_arena_t *a, size_t n);

/* ---- writer ------------------------------------------------------------- */

/* A file range to send at buf offset buf_off (after buf[0..buf_off), before
 * buf[buf_off..]). Splices are in increasing buf_off order. */
typedef struct kp_splice {
    size_t buf_off;
    int fd;
    int64_t file_pos;
    int32_t len;
} kp_splice_t;

/* The writer owns buf and the splice list, never the fds: a splice refers
 * to the fd of the records value it was encoded from, and whoever owned
 * that fd owns it still — the broker hands the fds of a fetch response on
 * with its splices (to net, which closes them), and kp_close_files closes
 * them when the message is not sent after all. To send: for each splice,
 * the buf bytes up to its buf_off, then its file range; then the rest of
 * buf. Several frames may be appended to one writer. */
typedef struct kp_writer {
    buf_t buf;
    kp_splice_t *splices;
    size_t nsplices;
    size_t splices_cap;
} kp_writer_t;

void kp_writer_init(kp_writer_t *w);
void kp_writer_reset(kp_writer_t *w);
void kp_writer_free(kp_writer_t *w);
/* Buffered plus spliced bytes. */
size_t kp_writer_total(const kp_writer_t *w);
/* Appends everything, file ranges read with pread(), to out (for tests, TLS
 * and other paths without sendfile). Returns 0, or -1 (errno set; EIO for a
 * short file). */
int kp_writer_flatten(const kp_writer_t *w, buf_t *out);

/* ---- generic codec ------------------------------------------------------ */

typedef enum kp_status {
    KP_OK = 0,
    KP_ERR_UNKNOWN_API,         /* no schema for this api key */
    KP_ERR_UNSUPPORTED_VERSION, /* a version outside what samsa supports */
    KP_ERR_MALFORMED,           /* input that does not parse */
    KP_ERR_INVALID,             /* encode: a value the version cannot carry */
} kp_status_t;

const char *kp_status_name(kp_status_t st);

/* Decodes one struct of schema s at version from in[0..len) into out (a
 * struct of s->size bytes). Trailing bytes are left alone; *consumed (may be
 * NULL) says how many were read. On failure err (may be NULL) gets a line
 * naming the field and the byte offset. */
kp_status_t kp_decode(const kp_schema_t *s, int16_t version, bool flexible, const uint8_t *in, size_t len,
                      kp_arena_t *arena, void *out, size_t *consumed, char *err, size_t errlen);

/* Appends the encoding of the struct `in` of schema s. On failure (a null in
 * a non-nullable field, an over-long string, a bad count) nothing is left
 * appended. */
kp_status_t kp_encode(const kp_schema_t *s, int16_t version, bool flexible, const void *in, kp_writer_t *w,
                      char *err, size_t errlen);

/* Closes the fd of every file range in the struct `in` of schema s — each
 * records value present at version with fd >= 0 and len > 0, exactly what
 * kp_encode splices (records are never tagged) — for a message whose fds
 * the caller owns and will not hand on: an encode failure, a response
 * dropped unsent. The struct is left as it is; it must not be sent after. */
void kp_close_files(const kp_schema_t *s, int16_t version, const void *in);

/* Size in memory of one element of type (sub: the struct schema for
 * KP_T_STRUCT): what an array's items hold. */
size_t kp_type_csize(uint8_t type, const kp_schema_t *sub);

/* Sets every field of out to its default for this version (what a decoder
 * stores for absent fields). A convenient start for building a message. */
void kp_set_defaults(const kp_schema_t *s, int16_t version, void *out);

/* ---- headers and whole frames ------------------------------------------- */

typedef struct kp_req_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    kp_str_t client_id;     /* v1+; null in v0 */
    int16_t header_version; /* 0, 1 or 2 */
} kp_req_header_t;

/* protocol.md §2: v2 for flexible versions, v0 for ControlledShutdown v0,
 * else v1 / response v1 for flexible versions except ApiVersions, else v0. */
int kp_request_header_version(const kp_api_t *api, int16_t version);
int kp_response_header_version(const kp_api_t *api, int16_t version);

/* Decodes a request payload (the bytes after the int32 Size). The first
 * three header fields are filled whenever 8 bytes exist, even on failure —
 * enough to answer a too-new ApiVersions (kp_apiversions_fallback) and to log.
 * *body points to the API's request struct (kproto_apis.h) in the arena.
 * KP_ERR_UNKNOWN_API / KP_ERR_UNSUPPORTED_VERSION / KP_ERR_MALFORMED. */
kp_status_t kp_request_decode(const uint8_t *payload, size_t len, kp_arena_t *arena, kp_req_header_t *hdr,
                              void **body, char *err, size_t errlen);

/* Appends a whole response frame: int32 Size (counting spliced bytes too),
 * response header, body. */
kp_status_t kp_response_encode(int16_t api_key, int16_t version, int32_t correlation_id, const void *body,
                               kp_writer_t *w, char *err, size_t errlen);

/* The client side (controller, replica fetchers, tests): a whole request
 * frame, and a response payload for a request the caller made (the caller
 * knows api_key and version from its request). */
kp_status_t kp_request_encode(int16_t api_key, int16_t version, int32_t correlation_id, kp_str_t client_id,
                              const void *body, kp_writer_t *w, char *err, size_t errlen);
kp_status_t kp_response_decode(const uint8_t *payload, size_t len, int16_t api_key, int16_t version,
                               kp_arena_t *arena, int32_t *correlation_id, void **body, char *err, size_t errlen);

#endif
