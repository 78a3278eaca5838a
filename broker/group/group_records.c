#include "group/group_records.h"

#include "util/cursor.h"

#include <string.h>

/* --- the coordinator's partition ------------------------------------------ */

/* One code point from UTF-8 at s[*i]; an invalid or truncated sequence
 * consumes one byte and yields U+FFFD. */
static uint32_t group_utf8_next(const unsigned char *s, size_t len, size_t *i) {
    unsigned char c = s[*i];
    size_t need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 4;
    static const uint32_t lead_mask[] = {0x7F, 0x1F, 0x0F, 0x07};
    static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (need == 0) {
        (*i)++;
        return c;
    }
    if (need == 4 || *i + need >= len) {
        (*i)++;
        return 0xFFFD;
    }
    uint32_t cp = c & lead_mask[need];
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min_cp[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += need + 1;
    return cp;
}

int32_t group_java_hash(const char *s, size_t len) {
    uint32_t h = 0; /* unsigned: Java's int arithmetic wraps */
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp = group_utf8_next(u, len, &i);
        if (cp >= 0x10000) { /* a surrogate pair: two UTF-16 code units */
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t group_partition_for(const char *group_id, size_t len, int32_t partitions) {
    int32_t h = group_java_hash(group_id, len);
    int32_t a = h == INT32_MIN ? 0 : h < 0 ? -h : h;
    return partitions > 0 ? a % partitions : 0;
}

/* --- classic encodings ------------------------------------------------------ */

static void group_put_str(buf_t *out, kp_str_t s) {
    if (s.len < 0) {
        buf_put_i16(out, -1);
        return;
    }
    buf_put_i16(out, (int16_t)s.len);
    buf_append(out, s.ptr, (size_t)s.len);
}

static void group_put_bytes(buf_t *out, kp_bytes_t b) {
    int32_t n = b.len < 0 ? 0 : b.len; /* Kafka's fields are non-nullable bytes */
    buf_put_i32(out, n);
    buf_append(out, b.ptr, (size_t)n);
}

/* A string; nullable decides whether -1 (null) is accepted. */
static kp_str_t group_get_str(cursor_t *c, bool nullable) {
    int16_t n = cursor_i16(c);
    if (n < 0) {
        if (!nullable || n != -1)
            c->err = true;
        return KP_STR_NULL;
    }
    const uint8_t *p = cursor_bytes(c, (size_t)n);
    return p ? (kp_str_t){(const char *)p, n} : KP_STR_NULL;
}

static kp_bytes_t group_get_bytes(cursor_t *c) {
    int32_t n = cursor_i32(c);
    if (n < 0) {
        c->err = true;
        return (kp_bytes_t){NULL, -1};
    }
    const uint8_t *p = cursor_bytes(c, (size_t)n);
    return (kp_bytes_t){p, p ? n : -1};
}

/* --- keys ----------------------------------------------------------------- */

void group_rec_offset_key(buf_t *out, kp_str_t group, kp_str_t topic, int32_t partition) {
    buf_put_i16(out, 1);
    group_put_str(out, group);
    group_put_str(out, topic);
    buf_put_i32(out, partition);
}

void group_rec_group_key(buf_t *out, kp_str_t group) {
    buf_put_i16(out, 2);
    group_put_str(out, group);
}

bool group_rec_key_decode(const uint8_t *key, size_t len, group_rec_key_t *out) {
    memset(out, 0, sizeof *out);
    cursor_t c;
    cursor_init(&c, key, len);
    int16_t version = cursor_i16(&c);
    if (!cursor_ok(&c))
        return false;
    if (version == 0 || version == 1) {
        out->kind = GROUP_REC_OFFSET;
        out->group = group_get_str(&c, false);
        out->topic = group_get_str(&c, false);
        out->partition = cursor_i32(&c);
    } else if (version == 2) {
        out->kind = GROUP_REC_GROUP;
        out->group = group_get_str(&c, false);
        out->topic = KP_STR_NULL;
    } else {
        return false;
    }
    return cursor_ok(&c);
}

/* --- offset values ---------------------------------------------------------- */

void group_rec_offset_value(buf_t *out, const group_rec_offset_t *v) {
    kp_str_t metadata = v->metadata.len < 0 ? kp_str("") : v->metadata;
    if (v->expire_timestamp >= 0) {
        buf_put_i16(out, 1);
        buf_put_i64(out, v->offset);
        group_put_str(out, metadata);
        buf_put_i64(out, v->commit_timestamp);
        buf_put_i64(out, v->expire_timestamp);
        return;
    }
    buf_put_i16(out, 3);
    buf_put_i64(out, v->offset);
    buf_put_i32(out, v->leader_epoch);
    group_put_str(out, metadata);
    buf_put_i64(out, v->commit_timestamp);
}

bool group_rec_offset_value_decode(const uint8_t *value, size_t len, group_rec_offset_t *out) {
    cursor_t c;
    cursor_init(&c, value, len);
    int16_t version = cursor_i16(&c);
    *out = (group_rec_offset_t){.leader_epoch = -1, .expire_timestamp = -1, .commit_timestamp = -1};
    if (!cursor_ok(&c) || version < 0 || version > 3)
        return false;
    out->offset = cursor_i64(&c);
    if (version == 3)
        out->leader_epoch = cursor_i32(&c);
    out->metadata = group_get_str(&c, false);
    out->commit_timestamp = cursor_i64(&c);
    if (version == 1)
        out->expire_timestamp = cursor_i64(&c);
    return cursor_ok(&c);
}

/* --- group values ----------------------------------------------------------- */

void group_rec_group_value(buf_t *out, const group_rec_group_t *v) {
    buf_put_i16(out, 3);
    group_put_str(out, v->protocol_type);
    buf_put_i32(out, v->generation);
    group_put_str(out, v->protocol);
    group_put_str(out, v->leader);
    buf_put_i64(out, v->current_state_timestamp);
    buf_put_i32(out, v->nmembers);
    for (int32_t i = 0; i < v->nmembers; i++) {
        const group_rec_member_t *m = &v->members[i];
        group_put_str(out, m->member_id);
        group_put_str(out, m->group_instance_id);
        group_put_str(out, m->client_id);
        group_put_str(out, m->client_host);
        buf_put_i32(out, m->rebalance_timeout_ms);
        buf_put_i32(out, m->session_timeout_ms);
        group_put_bytes(out, m->subscription);
        group_put_bytes(out, m->assignment);
    }
}

bool group_rec_group_value_decode(const uint8_t *value, size_t len, kp_arena_t *arena, group_rec_group_t *out) {
    cursor_t c;
    cursor_init(&c, value, len);
    memset(out, 0, sizeof *out);
    int16_t version = cursor_i16(&c);
    if (!cursor_ok(&c) || version < 0 || version > 3)
        return false;
    out->protocol_type = group_get_str(&c, false);
    out->generation = cursor_i32(&c);
    out->protocol = group_get_str(&c, true);
    out->leader = group_get_str(&c, true);
    out->current_state_timestamp = version >= 2 ? cursor_i64(&c) : -1;
    int32_t n = cursor_i32(&c);
    /* every member takes at least 20 bytes: no count the input cannot hold */
    if (!cursor_ok(&c) || n < 0 || (size_t)n > cursor_remaining(&c) / 20)
        return false;
    group_rec_member_t *members = kp_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *members);
    for (int32_t i = 0; i < n; i++) {
        group_rec_member_t *m = &members[i];
        m->member_id = group_get_str(&c, false);
        m->group_instance_id = version >= 3 ? group_get_str(&c, true) : KP_STR_NULL;
        m->client_id = group_get_str(&c, false);
        m->client_host = group_get_str(&c, false);
        m->rebalance_timeout_ms = version >= 1 ? cursor_i32(&c) : -1;
        m->session_timeout_ms = cursor_i32(&c);
        if (version == 0)
            m->rebalance_timeout_ms = m->session_timeout_ms;
        m->subscription = group_get_bytes(&c);
        m->assignment = group_get_bytes(&c);
    }
    out->members = members;
    out->nmembers = n;
    return cursor_ok(&c);
}
