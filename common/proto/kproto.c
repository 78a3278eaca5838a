#include "proto/kproto.h"

#include "util/cursor.h"
#include "util/endian.h"
#include "util/errmsg.h"
#include "util/mem.h"
#include "util/varint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KP_STRING_MAX 0x7fff /* Kafka refuses longer strings, compact or not */

bool kp_str_eq(kp_str_t s, const char *t) {
    if (s.len < 0 || !t)
        return s.len < 0 && !t;
    return strlen(t) == (size_t)s.len && memcmp(s.ptr, t, (size_t)s.len) == 0;
}

const char *kp_status_name(kp_status_t st) {
    switch (st) {
    case KP_OK: return "ok";
    case KP_ERR_UNKNOWN_API: return "unknown api";
    case KP_ERR_UNSUPPORTED_VERSION: return "unsupported version";
    case KP_ERR_MALFORMED: return "malformed";
    case KP_ERR_INVALID: return "invalid value";
    }
    return "?";
}

/* ---- arena -------------------------------------------------------------- */

#define ARENA_FIRST_CHUNK 4096
#define ARENA_MAX_CHUNK (1u << 20)
#define ARENA_KEEP_MAX (256u << 10) /* reset keeps one chunk up to this size */
#define ARENA_ALIGN (_Alignof(max_align_t))

struct kp_arena_chunk {
    kp_arena_chunk_t *next;
    size_t size; /* usable bytes in data */
    size_t used;
    max_align_t data[];
};

void kp_arena_init(kp_arena_t *a) { kp_arena_init_sized(a, 0); }

void kp_arena_init_sized(kp_arena_t *a, size_t first_chunk) {
    a->head = NULL;
    a->first_chunk = first_chunk;
}

static void arena_free_list(kp_arena_chunk_t *c) {
    while (c) {
        kp_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

void kp_arena_free(kp_arena_t *a) {
    arena_free_list(a->head);
    a->head = NULL;
}

/* Keeping the largest modest chunk means a connection that decodes one
 * request after another allocates nothing in the steady state, while a
 * single huge request does not pin its memory forever. */
void kp_arena_reset(kp_arena_t *a) {
    kp_arena_chunk_t *keep = NULL, **pp = &a->head;
    for (kp_arena_chunk_t *c = a->head; c; c = c->next)
        if (c->size <= ARENA_KEEP_MAX && (!keep || c->size > keep->size))
            keep = c;
    while (*pp) {
        kp_arena_chunk_t *c = *pp;
        if (c == keep) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        free(c);
    }
    if (keep)
        keep->used = 0;
}

void *kp_arena_alloc(kp_arena_t *a, size_t n) {
    n = n ? (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1) : ARENA_ALIGN;
    kp_arena_chunk_t *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : a->first_chunk ? a->first_chunk : ARENA_FIRST_CHUNK;
        if (size > ARENA_MAX_CHUNK)
            size = ARENA_MAX_CHUNK;
        if (size < n)
            size = n;
        c = mem_alloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (unsigned char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

/* ---- writer ------------------------------------------------------------- */

void kp_writer_init(kp_writer_t *w) {
    buf_init(&w->buf);
    w->splices = NULL;
    w->nsplices = w->splices_cap = 0;
}

void kp_writer_reset(kp_writer_t *w) {
    buf_reset(&w->buf);
    w->nsplices = 0;
}

void kp_writer_free(kp_writer_t *w) {
    buf_free(&w->buf);
    free(w->splices);
    kp_writer_init(w);
}

size_t kp_writer_total(const kp_writer_t *w) {
    size_t n = w->buf.len;
    for (size_t i = 0; i < w->nsplices; i++)
        n += (size_t)w->splices[i].len;
    return n;
}

static void writer_add_splice(kp_writer_t *w, int fd, int64_t pos, int32_t len) {
    if (w->nsplices == w->splices_cap) {
        w->splices_cap = w->splices_cap ? w->splices_cap * 2 : 8;
        w->splices = mem_realloc(w->splices, w->splices_cap * sizeof *w->splices);
    }
    w->splices[w->nsplices++] = (kp_splice_t){w->buf.len, fd, pos, len};
}

static int pread_all(int fd, uint8_t *dst, size_t n, int64_t pos) {
    while (n > 0) {
        ssize_t r = pread(fd, dst, n, (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = EIO;
            return -1;
        }
        dst += r, n -= (size_t)r, pos += r;
    }
    return 0;
}

int kp_writer_flatten(const kp_writer_t *w, buf_t *out) {
    size_t from = 0;
    for (size_t i = 0; i < w->nsplices; i++) {
        const kp_splice_t *s = &w->splices[i];
        buf_append(out, w->buf.data + from, s->buf_off - from);
        from = s->buf_off;
        if (pread_all(s->fd, buf_extend(out, (size_t)s->len), (size_t)s->len, s->file_pos) < 0)
            return -1;
    }
    buf_append(out, w->buf.data + from, w->buf.len - from);
    return 0;
}

/* ---- type facts ----------------------------------------------------------- */

static inline bool f_present(const kp_field_t *f, int v) { return v >= f->vmin && v <= f->vmax; }
static inline bool f_nullable(const kp_field_t *f, int v) { return (f->flags & KP_F_NULLABLE) && v >= f->null_min; }
static inline bool f_compact(const kp_field_t *f, bool flex) { return flex && !(f->flags & KP_F_NOFLEX); }

size_t kp_type_csize(uint8_t type, const kp_schema_t *sub) {
    switch (type) {
    case KP_T_BOOL: return sizeof(bool);
    case KP_T_INT8: return 1;
    case KP_T_INT16:
    case KP_T_UINT16: return 2;
    case KP_T_INT32: return 4;
    case KP_T_INT64:
    case KP_T_FLOAT64: return 8;
    case KP_T_UUID: return sizeof(kp_uuid_t);
    case KP_T_STRING: return sizeof(kp_str_t);
    case KP_T_BYTES: return sizeof(kp_bytes_t);
    case KP_T_RECORDS: return sizeof(kp_records_t);
    case KP_T_ARRAY: return sizeof(kp_array_t);
    case KP_T_STRUCT: return sub->size;
    }
    return 1;
}

static size_t struct_min_wire(const kp_schema_t *s, int v, bool flex);

/* The fewest bytes a value of this type can take on the wire; array counts
 * are bounded by remaining / this, so a forged count cannot make us
 * allocate more than a small multiple of the input size. */
static size_t type_min_wire(uint8_t type, const kp_schema_t *sub, int v, bool compact, bool flex) {
    switch (type) {
    case KP_T_BOOL:
    case KP_T_INT8: return 1;
    case KP_T_INT16:
    case KP_T_UINT16: return 2;
    case KP_T_INT32: return 4;
    case KP_T_INT64:
    case KP_T_FLOAT64: return 8;
    case KP_T_UUID: return 16;
    case KP_T_STRING: return compact ? 1 : 2;
    case KP_T_BYTES:
    case KP_T_RECORDS:
    case KP_T_ARRAY: return compact ? 1 : 4;
    case KP_T_STRUCT: return struct_min_wire(sub, v, flex);
    }
    return 1;
}

static size_t struct_min_wire(const kp_schema_t *s, int v, bool flex) {
    size_t n = flex ? 1 : 0;
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if (f_present(f, v) && !(f->flags & KP_F_TAGGED))
            n += type_min_wire(f->type, f->sub, v, f_compact(f, flex), flex);
    }
    return n;
}

/* ---- defaults ------------------------------------------------------------- */

static void set_default(const kp_field_t *f, int v, void *p) {
    bool null = (f->flags & KP_F_DEFNULL) != 0;
    switch (f->type) {
    case KP_T_BOOL: *(bool *)p = f->def != 0; break;
    case KP_T_INT8: *(int8_t *)p = (int8_t)f->def; break;
    case KP_T_INT16: *(int16_t *)p = (int16_t)f->def; break;
    case KP_T_UINT16: *(uint16_t *)p = (uint16_t)f->def; break;
    case KP_T_INT32: *(int32_t *)p = (int32_t)f->def; break;
    case KP_T_INT64: *(int64_t *)p = f->def; break;
    case KP_T_FLOAT64: *(double *)p = (double)f->def; break;
    case KP_T_UUID: memset(p, 0, sizeof(kp_uuid_t)); break;
    case KP_T_STRING: *(kp_str_t *)p = null ? KP_STR_NULL : (kp_str_t){"", 0}; break;
    case KP_T_BYTES: *(kp_bytes_t *)p = (kp_bytes_t){NULL, null ? -1 : 0}; break;
    case KP_T_RECORDS: *(kp_records_t *)p = (kp_records_t){NULL, null ? -1 : 0, -1, 0}; break;
    case KP_T_ARRAY: *(kp_array_t *)p = (kp_array_t){null ? -1 : 0, NULL}; break;
    case KP_T_STRUCT: kp_set_defaults(f->sub, (int16_t)v, p); break;
    }
}

void kp_set_defaults(const kp_schema_t *s, int16_t version, void *out) {
    for (uint32_t i = 0; i < s->nfields; i++)
        set_default(&s->fields[i], version, (uint8_t *)out + s->fields[i].offset);
}

/* Whether a tagged field holds its default, in which case Kafka leaves it
 * out of the tagged-field section. */
static bool is_default(const kp_field_t *f, int v, const void *p) {
    bool null = (f->flags & KP_F_DEFNULL) != 0;
    switch (f->type) {
    case KP_T_BOOL: return *(const bool *)p == (f->def != 0);
    case KP_T_INT8: return *(const int8_t *)p == (int8_t)f->def;
    case KP_T_INT16: return *(const int16_t *)p == (int16_t)f->def;
    case KP_T_UINT16: return *(const uint16_t *)p == (uint16_t)f->def;
    case KP_T_INT32: return *(const int32_t *)p == (int32_t)f->def;
    case KP_T_INT64: return *(const int64_t *)p == f->def;
    case KP_T_FLOAT64: return *(const double *)p == (double)f->def;
    case KP_T_UUID: {
        static const kp_uuid_t zero;
        return memcmp(p, &zero, sizeof zero) == 0;
    }
    case KP_T_STRING: return ((const kp_str_t *)p)->len == (null ? -1 : 0);
    case KP_T_BYTES: return ((const kp_bytes_t *)p)->len == (null ? -1 : 0);
    case KP_T_RECORDS: return ((const kp_records_t *)p)->len == (null ? -1 : 0);
    case KP_T_ARRAY: return ((const kp_array_t *)p)->count == (null ? -1 : 0);
    case KP_T_STRUCT:
        for (uint32_t i = 0; i < f->sub->nfields; i++) {
            const kp_field_t *g = &f->sub->fields[i];
            if (f_present(g, v) && !is_default(g, v, (const uint8_t *)p + g->offset))
                return false;
        }
        return true;
    }
    return true;
}

/* ---- decoder -------------------------------------------------------------- */

typedef struct kp_dec {
    cursor_t c;
    kp_arena_t *arena;
    int16_t version;
    bool flex;
    size_t base;       /* offset of c.data in the caller's input, for messages */
    const char *field; /* where the first failure happened */
    const char *why;
    size_t at;
} kp_dec_t;

static bool dec_fail(kp_dec_t *d, const kp_field_t *f, const char *why) {
    if (!d->why) {
        d->field = f ? f->name : "tagged fields";
        d->why = why;
        d->at = d->base + d->c.pos;
    }
    d->c.err = true;
    return false;
}

static bool dec_struct(kp_dec_t *d, const kp_schema_t *s, uint8_t *out);

/* Reads a length or count prefix (int16/int32, or an unsigned varint N+1 in
 * compact form) and checks null against the field's nullable versions.
 * Yields -1 for null. */
static bool dec_len(kp_dec_t *d, const kp_field_t *f, bool elem, bool wide, int64_t *len) {
    if (f_compact(f, d->flex))
        *len = (int64_t)cursor_uvarint32(&d->c) - 1;
    else
        *len = wide ? cursor_i32(&d->c) : cursor_i16(&d->c);
    if (!cursor_ok(&d->c))
        return dec_fail(d, f, "truncated length");
    if (*len > INT32_MAX || *len < -1)
        return dec_fail(d, f, "invalid length");
    if (*len == -1 && (elem || !f_nullable(f, d->version)))
        return dec_fail(d, f, "null in a non-nullable field");
    return true;
}

static bool dec_value(kp_dec_t *d, const kp_field_t *f, uint8_t type, bool elem, void *p);

static bool dec_array(kp_dec_t *d, const kp_field_t *f, kp_array_t *a) {
    int64_t n;
    if (!dec_len(d, f, false, true, &n))
        return false;
    a->count = (int32_t)n;
    a->items = NULL;
    if (n <= 0)
        return true;
    size_t min = type_min_wire(f->elem, f->sub, d->version, f_compact(f, d->flex), d->flex);
    if (min == 0)
        min = 1;
    if ((uint64_t)n > cursor_remaining(&d->c) / min)
        return dec_fail(d, f, "array count exceeds the remaining bytes");
    size_t csize = kp_type_csize(f->elem, f->sub);
    uint8_t *items = kp_arena_alloc(d->arena, (size_t)n * csize);
    a->items = items;
    for (int64_t i = 0; i < n; i++)
        if (!dec_value(d, f, f->elem, true, items + (size_t)i * csize))
            return false;
    return true;
}

/* Decodes one value of `type` (the field's type, or its element type when
 * elem) into p. */
static bool dec_value(kp_dec_t *d, const kp_field_t *f, uint8_t type, bool elem, void *p) {
    cursor_t *c = &d->c;
    int64_t n;
    switch (type) {
    case KP_T_BOOL: *(bool *)p = cursor_i8(c) != 0; break;
    case KP_T_INT8: *(int8_t *)p = cursor_i8(c); break;
    case KP_T_INT16: *(int16_t *)p = cursor_i16(c); break;
    case KP_T_UINT16: *(uint16_t *)p = (uint16_t)cursor_i16(c); break;
    case KP_T_INT32: *(int32_t *)p = cursor_i32(c); break;
    case KP_T_INT64: *(int64_t *)p = cursor_i64(c); break;
    case KP_T_FLOAT64: {
        uint64_t bits = (uint64_t)cursor_i64(c);
        memcpy(p, &bits, sizeof bits);
        break;
    }
    case KP_T_UUID: {
        const uint8_t *b = cursor_bytes(c, 16);
        if (b)
            memcpy(p, b, 16);
        break;
    }
    case KP_T_STRING: {
        if (!dec_len(d, f, elem, false, &n))
            return false;
        if (n > KP_STRING_MAX)
            return dec_fail(d, f, "string longer than 32767 bytes");
        const uint8_t *b = n > 0 ? cursor_bytes(c, (size_t)n) : NULL;
        if (n > 0 && !b)
            return dec_fail(d, f, "string longer than the remaining bytes");
        *(kp_str_t *)p = (kp_str_t){n < 0 ? NULL : b ? (const char *)b : "", (int32_t)n};
        return true;
    }
    case KP_T_BYTES:
    case KP_T_RECORDS: {
        if (!dec_len(d, f, elem, true, &n))
            return false;
        const uint8_t *b = n > 0 ? cursor_bytes(c, (size_t)n) : NULL;
        if (n > 0 && !b)
            return dec_fail(d, f, "bytes longer than the remaining bytes");
        if (type == KP_T_BYTES)
            *(kp_bytes_t *)p = (kp_bytes_t){b, (int32_t)n};
        else
            *(kp_records_t *)p = (kp_records_t){b, (int32_t)n, -1, 0};
        return true;
    }
    case KP_T_ARRAY: return dec_array(d, f, p);
    case KP_T_STRUCT: return dec_struct(d, f->sub, p);
    }
    if (!cursor_ok(c))
        return dec_fail(d, f, "truncated");
    return true;
}

static const kp_field_t *find_tag(const kp_schema_t *s, int v, uint32_t tag) {
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if ((f->flags & KP_F_TAGGED) && (uint32_t)f->tag == tag && f_present(f, v))
            return f;
    }
    return NULL;
}

/* The tagged-field section that ends every struct in flexible versions.
 * Known tags are decoded from exactly their announced size; unknown ones are
 * skipped (a newer client may send fields we do not know). */
static bool dec_tags(kp_dec_t *d, const kp_schema_t *s, uint8_t *out) {
    uint32_t n = cursor_uvarint32(&d->c);
    for (uint32_t i = 0; i < n && cursor_ok(&d->c); i++) {
        uint32_t tag = cursor_uvarint32(&d->c);
        uint32_t size = cursor_uvarint32(&d->c);
        size_t at = d->c.pos;
        const uint8_t *data = cursor_bytes(&d->c, size);
        if (!data)
            return dec_fail(d, NULL, "truncated tagged field");
        const kp_field_t *f = find_tag(s, d->version, tag);
        if (!f)
            continue;
        kp_dec_t sub = *d;
        cursor_init(&sub.c, data, size);
        sub.base = d->base + at;
        bool ok = dec_value(&sub, f, f->type, false, out + f->offset) && cursor_remaining(&sub.c) == 0;
        if (!ok) {
            if (!sub.why)
                dec_fail(&sub, f, "tagged field size does not match its value");
            d->field = sub.field, d->why = sub.why, d->at = sub.at;
            d->c.err = true;
            return false;
        }
    }
    if (!cursor_ok(&d->c))
        return dec_fail(d, NULL, "truncated tagged fields");
    return true;
}

static bool dec_struct(kp_dec_t *d, const kp_schema_t *s, uint8_t *out) {
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        void *p = out + f->offset;
        if (!f_present(f, d->version) || (f->flags & KP_F_TAGGED)) {
            set_default(f, d->version, p);
            continue;
        }
        if (!dec_value(d, f, f->type, false, p))
            return false;
    }
    return d->flex ? dec_tags(d, s, out) : true;
}

kp_status_t kp_decode(const kp_schema_t *s, int16_t version, bool flexible, const uint8_t *in, size_t len,
                      kp_arena_t *arena, void *out, size_t *consumed, char *err, size_t errlen) {
    kp_dec_t d = {.arena = arena, .version = version, .flex = flexible};
    cursor_init(&d.c, in, len);
    if (!dec_struct(&d, s, out)) {
        errmsg_set(err, errlen, "%s v%d: field '%s' at byte %zu: %s", s->name, version, d.field, d.at, d.why);
        return KP_ERR_MALFORMED;
    }
    if (consumed)
        *consumed = d.c.pos;
    return KP_OK;
}

/* ---- encoder -------------------------------------------------------------- */

typedef struct kp_enc {
    kp_writer_t *w;
    int16_t version;
    bool flex;
    const char *field;
    const char *why;
} kp_enc_t;

static bool enc_fail(kp_enc_t *e, const kp_field_t *f, const char *why) {
    if (!e->why) {
        e->field = f->name;
        e->why = why;
    }
    return false;
}

static bool enc_len(kp_enc_t *e, const kp_field_t *f, bool elem, bool wide, int64_t len) {
    if (len < -1)
        return enc_fail(e, f, "negative length");
    if (len == -1 && (elem || !f_nullable(f, e->version)))
        return enc_fail(e, f, "null in a non-nullable field");
    buf_t *b = &e->w->buf;
    if (f_compact(f, e->flex))
        buf_put_uvarint(b, (uint64_t)(len + 1));
    else if (wide)
        buf_put_i32(b, (int32_t)len);
    else
        buf_put_i16(b, (int16_t)len);
    return true;
}

static bool enc_struct(kp_enc_t *e, const kp_schema_t *s, const uint8_t *in);
static bool enc_value(kp_enc_t *e, const kp_field_t *f, uint8_t type, bool elem, const void *p);

static bool enc_array(kp_enc_t *e, const kp_field_t *f, const kp_array_t *a) {
    if (a->count > 0 && !a->items)
        return enc_fail(e, f, "array items missing");
    if (!enc_len(e, f, false, true, a->count))
        return false;
    size_t csize = kp_type_csize(f->elem, f->sub);
    for (int32_t i = 0; i < a->count; i++)
        if (!enc_value(e, f, f->elem, true, (const uint8_t *)a->items + (size_t)i * csize))
            return false;
    return true;
}

static bool enc_records(kp_enc_t *e, const kp_field_t *f, const kp_records_t *r) {
    if (r->len > 0 && r->fd < 0 && !r->data)
        return enc_fail(e, f, "records data missing");
    if (!enc_len(e, f, false, true, r->len))
        return false;
    if (r->len <= 0)
        return true;
    if (r->fd >= 0)
        writer_add_splice(e->w, r->fd, r->file_pos, r->len);
    else
        buf_append(&e->w->buf, r->data, (size_t)r->len);
    return true;
}

/* A string's (wide false) or bytes' length prefix, then its data; len -1
 * is null where the field allows it. */
static bool enc_length_and_data(kp_enc_t *e, const kp_field_t *f, bool elem, bool wide, const void *data,
                                int32_t len) {
    if (len > 0 && !data)
        return enc_fail(e, f, wide ? "bytes data missing" : "string data missing");
    if (!enc_len(e, f, elem, wide, len))
        return false;
    if (len > 0)
        buf_append(&e->w->buf, data, (size_t)len);
    return true;
}

static bool enc_value(kp_enc_t *e, const kp_field_t *f, uint8_t type, bool elem, const void *p) {
    buf_t *b = &e->w->buf;
    switch (type) {
    case KP_T_BOOL: buf_put_i8(b, *(const bool *)p ? 1 : 0); return true;
    case KP_T_INT8: buf_put_i8(b, *(const int8_t *)p); return true;
    case KP_T_INT16: buf_put_i16(b, *(const int16_t *)p); return true;
    case KP_T_UINT16: buf_put_i16(b, (int16_t) * (const uint16_t *)p); return true;
    case KP_T_INT32: buf_put_i32(b, *(const int32_t *)p); return true;
    case KP_T_INT64: buf_put_i64(b, *(const int64_t *)p); return true;
    case KP_T_FLOAT64: {
        uint64_t bits;
        memcpy(&bits, p, sizeof bits);
        buf_put_i64(b, (int64_t)bits);
        return true;
    }
    case KP_T_UUID: buf_append(b, p, 16); return true;
    case KP_T_STRING: {
        const kp_str_t *s = p;
        if (s->len > KP_STRING_MAX)
            return enc_fail(e, f, "string longer than 32767 bytes");
        return enc_length_and_data(e, f, elem, false, s->ptr, s->len);
    }
    case KP_T_BYTES: {
        const kp_bytes_t *s = p;
        return enc_length_and_data(e, f, elem, true, s->ptr, s->len);
    }
    case KP_T_RECORDS: return enc_records(e, f, p);
    case KP_T_ARRAY: return enc_array(e, f, p);
    case KP_T_STRUCT: return enc_struct(e, f->sub, p);
    }
    return enc_fail(e, f, "unknown type");
}

/* Writes one tagged field: tag, size, value. The size is known only after
 * the value is written, so the value is written first and moved up by the
 * size's varint length (tagged values are small; records never are tagged,
 * but splices are shifted anyway to stay correct). */
static bool enc_tagged(kp_enc_t *e, const kp_field_t *f, const void *p) {
    buf_t *b = &e->w->buf;
    buf_put_uvarint(b, (uint64_t)f->tag);
    size_t mark = b->len, mark_spl = e->w->nsplices;
    if (!enc_value(e, f, f->type, false, p))
        return false;
    size_t size = b->len - mark;
    for (size_t i = mark_spl; i < e->w->nsplices; i++)
        size += (size_t)e->w->splices[i].len;
    size_t k = varint_size_u64(size);
    size_t moved = b->len - mark;
    buf_extend(b, k);
    memmove(b->data + mark + k, b->data + mark, moved);
    varint_encode_u64(b->data + mark, size);
    for (size_t i = mark_spl; i < e->w->nsplices; i++)
        e->w->splices[i].buf_off += k;
    return true;
}

static bool enc_tags(kp_enc_t *e, const kp_schema_t *s, const uint8_t *in) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if ((f->flags & KP_F_TAGGED) && f_present(f, e->version) && !is_default(f, e->version, in + f->offset))
            n++;
    }
    buf_put_uvarint(&e->w->buf, n);
    for (uint32_t i = 0; i < s->nfields && n; i++) {
        const kp_field_t *f = &s->fields[i];
        if ((f->flags & KP_F_TAGGED) && f_present(f, e->version) && !is_default(f, e->version, in + f->offset))
            if (!enc_tagged(e, f, in + f->offset))
                return false;
    }
    return true;
}

/* Fields absent in this version are skipped whatever they hold: handlers
 * fill one struct for every version and the version picks what is sent. */
static bool enc_struct(kp_enc_t *e, const kp_schema_t *s, const uint8_t *in) {
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if (!f_present(f, e->version) || (f->flags & KP_F_TAGGED))
            continue;
        if (!enc_value(e, f, f->type, false, in + f->offset))
            return false;
    }
    return e->flex ? enc_tags(e, s, in) : true;
}

static void writer_rollback(kp_writer_t *w, size_t len, size_t nsplices) {
    w->buf.len = len;
    w->nsplices = nsplices;
}

kp_status_t kp_encode(const kp_schema_t *s, int16_t version, bool flexible, const void *in, kp_writer_t *w,
                      char *err, size_t errlen) {
    kp_enc_t e = {.w = w, .version = version, .flex = flexible};
    size_t len = w->buf.len, nspl = w->nsplices;
    if (!enc_struct(&e, s, in)) {
        writer_rollback(w, len, nspl);
        errmsg_set(err, errlen, "%s v%d: field '%s': %s", s->name, version, e.field, e.why);
        return KP_ERR_INVALID;
    }
    return KP_OK;
}

/* ---- file ranges ------------------------------------------------------------ */

static void close_struct_files(const kp_schema_t *s, int16_t version, const uint8_t *in);

/* The same walk as enc_value's, down to the records values. */
static void close_value_files(const kp_field_t *f, uint8_t type, int16_t version, const void *p) {
    if (type == KP_T_RECORDS) {
        const kp_records_t *r = p;
        if (r->fd >= 0 && r->len > 0)
            close(r->fd);
    } else if (type == KP_T_STRUCT) {
        close_struct_files(f->sub, version, p);
    } else if (type == KP_T_ARRAY && f->elem == KP_T_STRUCT) {
        const kp_array_t *a = p;
        size_t csize = kp_type_csize(f->elem, f->sub);
        for (int32_t i = 0; i < a->count && a->items; i++)
            close_value_files(f, f->elem, version, (const uint8_t *)a->items + (size_t)i * csize);
    }
}

static void close_struct_files(const kp_schema_t *s, int16_t version, const uint8_t *in) {
    for (uint32_t i = 0; i < s->nfields; i++) {
        const kp_field_t *f = &s->fields[i];
        if (f_present(f, version))
            close_value_files(f, f->type, version, in + f->offset);
    }
}

void kp_close_files(const kp_schema_t *s, int16_t version, const void *in) {
    close_struct_files(s, version, in);
}

/* ---- headers and frames --------------------------------------------------- */

/* RequestHeader.json: ClientId keeps its int16 length even in v2. */
static const kp_field_t req_header_fields[] = {
    {.name = "api_key", .type = KP_T_INT16, .vmin = 0, .vmax = KP_VMAX, .offset = offsetof(kp_req_header_t, api_key)},
    {.name = "api_version", .type = KP_T_INT16, .vmin = 0, .vmax = KP_VMAX,
     .offset = offsetof(kp_req_header_t, api_version)},
    {.name = "correlation_id", .type = KP_T_INT32, .vmin = 0, .vmax = KP_VMAX,
     .offset = offsetof(kp_req_header_t, correlation_id)},
    {.name = "client_id", .type = KP_T_STRING, .flags = KP_F_NULLABLE | KP_F_NOFLEX | KP_F_DEFNULL, .vmin = 1,
     .vmax = KP_VMAX, .null_min = 1, .offset = offsetof(kp_req_header_t, client_id)},
};
static const kp_schema_t req_header_schema = {"RequestHeader", req_header_fields, 4, sizeof(kp_req_header_t)};

typedef struct resp_header {
    int32_t correlation_id;
} resp_header_t;
static const kp_field_t resp_header_fields[] = {
    {.name = "correlation_id", .type = KP_T_INT32, .vmin = 0, .vmax = KP_VMAX,
     .offset = offsetof(resp_header_t, correlation_id)},
};
static const kp_schema_t resp_header_schema = {"ResponseHeader", resp_header_fields, 1, sizeof(resp_header_t)};

#define API_KEY_APIVERSIONS 18
#define API_KEY_CONTROLLED_SHUTDOWN 7

int kp_request_header_version(const kp_api_t *api, int16_t version) {
    if (api->key == API_KEY_CONTROLLED_SHUTDOWN && version == 0)
        return 0;
    return kp_api_flexible(api, version) ? 2 : 1;
}

int kp_response_header_version(const kp_api_t *api, int16_t version) {
    if (api->key == API_KEY_APIVERSIONS)
        return 0;
    return kp_api_flexible(api, version) ? 1 : 0;
}

static kp_status_t lookup(int16_t key, int16_t version, const kp_api_t **api, char *err, size_t errlen) {
    *api = kp_api_find(key);
    if (!*api) {
        errmsg_set(err, errlen, "unknown api key %d", key);
        return KP_ERR_UNKNOWN_API;
    }
    if (!kp_api_supports(*api, version)) {
        errmsg_set(err, errlen, "%s v%d is not supported (%d-%d)", (*api)->name, version, (*api)->min_version,
                   (*api)->max_version);
        return KP_ERR_UNSUPPORTED_VERSION;
    }
    return KP_OK;
}

kp_status_t kp_request_decode(const uint8_t *payload, size_t len, kp_arena_t *arena, kp_req_header_t *hdr,
                              void **body, char *err, size_t errlen) {
    memset(hdr, 0, sizeof *hdr);
    hdr->client_id = KP_STR_NULL;
    *body = NULL;
    if (len < 8) {
        errmsg_set(err, errlen, "request of %zu bytes is shorter than a header", len);
        return KP_ERR_MALFORMED;
    }
    hdr->api_key = (int16_t)be16_load(payload);
    hdr->api_version = (int16_t)be16_load(payload + 2);
    hdr->correlation_id = (int32_t)be32_load(payload + 4);
    const kp_api_t *api;
    kp_status_t st = lookup(hdr->api_key, hdr->api_version, &api, err, errlen);
    if (st != KP_OK)
        return st;
    int hv = kp_request_header_version(api, hdr->api_version);
    size_t used = 0;
    if (kp_decode(&req_header_schema, (int16_t)hv, hv >= 2, payload, len, arena, hdr, &used, err, errlen) != KP_OK)
        return KP_ERR_MALFORMED;
    hdr->header_version = (int16_t)hv;
    void *out = kp_arena_alloc(arena, api->request->size);
    char why[256];
    st = kp_decode(api->request, hdr->api_version, kp_api_flexible(api, hdr->api_version), payload + used,
                   len - used, arena, out, NULL, why, sizeof why);
    if (st != KP_OK) {
        errmsg_set(err, errlen, "%s request: %s", api->name, why);
        return st;
    }
    *body = out;
    return KP_OK;
}

kp_status_t kp_response_decode(const uint8_t *payload, size_t len, int16_t api_key, int16_t version,
                               kp_arena_t *arena, int32_t *correlation_id, void **body, char *err, size_t errlen) {
    *body = NULL;
    const kp_api_t *api;
    kp_status_t st = lookup(api_key, version, &api, err, errlen);
    if (st != KP_OK)
        return st;
    int hv = kp_response_header_version(api, version);
    resp_header_t h;
    size_t used = 0;
    if (kp_decode(&resp_header_schema, (int16_t)hv, hv >= 1, payload, len, arena, &h, &used, err, errlen) != KP_OK)
        return KP_ERR_MALFORMED;
    *correlation_id = h.correlation_id;
    void *out = kp_arena_alloc(arena, api->response->size);
    char why[256];
    st = kp_decode(api->response, version, kp_api_flexible(api, version), payload + used, len - used, arena, out,
                   NULL, why, sizeof why);
    if (st != KP_OK) {
        errmsg_set(err, errlen, "%s response: %s", api->name, why);
        return st;
    }
    *body = out;
    return KP_OK;
}

/* Writes Size + header + body, then patches Size with everything after it,
 * spliced file bytes included. */
static kp_status_t encode_frame(const kp_schema_t *hs, int hv, bool hflex, const void *hdr, const kp_api_t *api,
                                const kp_schema_t *bs, int16_t version, const void *body, kp_writer_t *w, char *err,
                                size_t errlen) {
    size_t start = w->buf.len, nspl = w->nsplices;
    buf_put_i32(&w->buf, 0);
    char why[256];
    kp_status_t st = kp_encode(hs, (int16_t)hv, hflex, hdr, w, why, sizeof why);
    if (st == KP_OK)
        st = kp_encode(bs, version, kp_api_flexible(api, version), body, w, why, sizeof why);
    if (st == KP_OK) {
        size_t total = w->buf.len - start - 4;
        for (size_t i = nspl; i < w->nsplices; i++)
            total += (size_t)w->splices[i].len;
        if (total > INT32_MAX) {
            errmsg_set(why, sizeof why, "frame of %zu bytes is too large", total);
            st = KP_ERR_INVALID;
        } else {
            buf_patch_i32(&w->buf, start, (int32_t)total);
            return KP_OK;
        }
    }
    writer_rollback(w, start, nspl);
    errmsg_set(err, errlen, "%s: %s", api->name, why);
    return st;
}

kp_status_t kp_response_encode(int16_t api_key, int16_t version, int32_t correlation_id, const void *body,
                               kp_writer_t *w, char *err, size_t errlen) {
    const kp_api_t *api;
    kp_status_t st = lookup(api_key, version, &api, err, errlen);
    if (st != KP_OK)
        return st;
    int hv = kp_response_header_version(api, version);
    resp_header_t h = {correlation_id};
    return encode_frame(&resp_header_schema, hv, hv >= 1, &h, api, api->response, version, body, w, err, errlen);
}

kp_status_t kp_request_encode(int16_t api_key, int16_t version, int32_t correlation_id, kp_str_t client_id,
                              const void *body, kp_writer_t *w, char *err, size_t errlen) {
    const kp_api_t *api;
    kp_status_t st = lookup(api_key, version, &api, err, errlen);
    if (st != KP_OK)
        return st;
    int hv = kp_request_header_version(api, version);
    kp_req_header_t h = {api_key, version, correlation_id, client_id, (int16_t)hv};
    return encode_frame(&req_header_schema, hv, hv >= 2, &h, api, api->request, version, body, w, err, errlen);
}
