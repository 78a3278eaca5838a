/*
 * fuzz_msgset — libFuzzer target for legacy message sets: the input is the
 * records of one Produce v0-2 partition, as api_produce hands it to
 * msgset_parse (common/proto/msgset.c).
 *
 * Each input is parsed twice — as given, and with the CRC-32 of every
 * top-level message whose framing fits recomputed, because random bytes
 * almost never carry a right CRC and the parser behind the check is what
 * most needs fuzzing. A set that parses must then hold up where the broker
 * takes it next:
 *  - every message's key and value are null (length -1, NULL) or lie whole
 *    in the input or in one of the set's decompressed wrapper buffers;
 *  - written back with msgset_write (uncompressed, same magic) and parsed
 *    again, it gives the same messages: offsets, timestamps (magic 1), keys
 *    and values;
 *  - written with each codec it parses to the same messages too.
 */
#include "fuzz.h"

#include "proto/msgset.h"
#include "util/buf.h"
#include "util/endian.h"

#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#define MAX_UNCOMPRESSED (64u << 10) /* keeps decompression bombs cheap */

static bool inside(const uint8_t *p, int32_t len, const uint8_t *base, size_t base_len) {
    return p >= base && (size_t)(p - base) <= base_len && (size_t)len <= base_len - (size_t)(p - base);
}

static bool bytes_ok(const msgset_t *s, const uint8_t *in, size_t in_len, const uint8_t *p, int32_t len) {
    if (len < 0)
        return len == -1 && p == NULL;
    if (inside(p, len, in, in_len))
        return true;
    for (size_t i = 0; i < s->ninner; i++)
        if (inside(p, len, s->inner[i].data, s->inner[i].len))
            return true;
    return false;
}

static bool same_bytes(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen) {
    return alen == blen && (alen <= 0 || memcmp(a, b, (size_t)alen) == 0);
}

/* a's messages written with codec and parsed again are a's messages. */
static void check_rewrite(const msgset_t *a, compression_t codec) {
    buf_t out;
    buf_init(&out);
    kerr_t e = msgset_write(&out, a->magic, codec, false, 0, a->messages, a->count);
    FUZZ_CHECK(e == KERR_NONE, "msgset_write: %d", e);
    msgset_t b;
    msgset_init(&b);
    e = msgset_parse(out.data, out.len, SIZE_MAX, &b);
    FUZZ_CHECK(e == KERR_NONE, "rewritten set (codec %d) does not parse: %d", codec, e);
    FUZZ_CHECK(b.count == a->count && b.magic == a->magic, "count %zu vs %zu", b.count, a->count);
    for (size_t i = 0; i < a->count; i++) {
        const msgset_message_t *x = &a->messages[i], *y = &b.messages[i];
        int64_t want_offset = codec != COMPRESSION_NONE && a->magic == 1
                                  ? (int64_t)((uint64_t)x->offset - (uint64_t)a->messages[0].offset)
                                  : x->offset;
        FUZZ_CHECK(y->offset == want_offset, "message %zu offset", i);
        FUZZ_CHECK(a->magic == 0 || y->timestamp == x->timestamp, "message %zu timestamp", i);
        FUZZ_CHECK(same_bytes(x->key, x->key_len, y->key, y->key_len), "message %zu key", i);
        FUZZ_CHECK(same_bytes(x->value, x->value_len, y->value, y->value_len), "message %zu value", i);
    }
    msgset_free(&b);
    buf_free(&out);
}

static void check(const uint8_t *in, size_t len) {
    msgset_t s;
    msgset_init(&s);
    if (msgset_parse(in, len, MAX_UNCOMPRESSED, &s) == KERR_NONE) {
        FUZZ_CHECK(s.count > 0 && (s.magic == 0 || s.magic == 1), "count %zu magic %d", s.count, s.magic);
        for (size_t i = 0; i < s.count; i++) {
            const msgset_message_t *m = &s.messages[i];
            FUZZ_CHECK(bytes_ok(&s, in, len, m->key, m->key_len), "message %zu key outside", i);
            FUZZ_CHECK(bytes_ok(&s, in, len, m->value, m->value_len), "message %zu value outside", i);
            FUZZ_CHECK(s.magic == 1 || m->timestamp == -1, "magic 0 message %zu has a timestamp", i);
        }
        static const compression_t codecs[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_SNAPPY,
                                               COMPRESSION_LZ4};
        for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++)
            check_rewrite(&s, codecs[c]);
    }
    msgset_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size);
    uint8_t *fixed = malloc(size ? size : 1);
    memcpy(fixed, data, size);
    size_t pos = 0;
    while (size - pos >= MSGSET_LOG_OVERHEAD + 4) {
        uint32_t msg = be32_load(fixed + pos + 8);
        if (msg < 4 || msg > size - pos - MSGSET_LOG_OVERHEAD)
            break;
        uint8_t *m = fixed + pos + MSGSET_LOG_OVERHEAD;
        be32_store(m, (uint32_t)crc32(0, m + 4, msg - 4));
        pos += MSGSET_LOG_OVERHEAD + msg;
    }
    check(fixed, size);
    free(fixed);
    return 0;
}
