#include "zk/zkdata.h"

#include "util/errmsg.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ============================================================================
 * Kafka's key order
 *
 * Jackson writes a map's entries in the order the map iterates, and Kafka's
 * maps are Scala 2.13 collections (or a java.util.Properties). The functions
 * below compute that order from the keys' Java hash codes, so that samsa's
 * znodes are byte-identical to Kafka's. Each fills perm[] with the indexes of
 * the n entries (given in insertion order) in iteration order.
 * ========================================================================== */

/* java.lang.String.hashCode over the UTF-16 code units of a UTF-8 string.
 * Bytes that are not UTF-8 count as U+FFFD (the encoders reject such
 * strings before their order matters). */
static uint32_t zk_java_hash(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    uint32_t h = 0;
    while (*p) {
        uint32_t cp;
        int extra;
        if (*p < 0x80) {
            cp = *p;
            extra = 0;
        } else if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f;
            extra = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f;
            extra = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07;
            extra = 3;
        } else {
            cp = 0xfffd;
            extra = 0;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80) {
                cp = 0xfffd;
                break;
            }
            cp = (cp << 6) | (*p & 0x3f);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return h;
}

/* Sorts perm[] by key[perm[i]] (signed), stable: equal keys keep insertion
 * order, as the collections below do for equal hashes. Insertion sort: the
 * maps Kafka writes into one znode are small. */
static void zk_sort_perm(size_t *perm, const int64_t *key, size_t n) {
    for (size_t i = 1; i < n; i++) {
        size_t v = perm[i];
        size_t j = i;
        while (j > 0 && key[perm[j - 1]] > key[v]) {
            perm[j] = perm[j - 1];
            j--;
        }
        perm[j] = v;
    }
}

/* scala.collection.mutable.HashMap / HashSet (2.13): a power-of-two table
 * indexed by h ^ (h >>> 16); a bucket keeps its nodes sorted by that hash
 * (signed) and growing splits buckets without reordering, so the final
 * order is (bucket, hash) for the table size the map ends with. The table
 * starts at `table` slots and doubles before an insert once size + 1 reaches
 * 3/4 of it. */
static void zk_order_scala_mutable(const uint32_t *hash, size_t n, size_t table, size_t *perm) {
    for (size_t i = 0; i < n; i++)
        if (i + 1 >= table * 3 / 4)
            table *= 2;
    int64_t *key = mem_alloc((n ? n : 1) * sizeof *key);
    for (size_t i = 0; i < n; i++) {
        uint32_t h = hash[i] ^ (hash[i] >> 16);
        /* bucket in the high part, the signed hash below it */
        key[i] = (int64_t)(h & (table - 1)) * ((int64_t)1 << 33) + (int64_t)(int32_t)h;
        perm[i] = i;
    }
    zk_sort_perm(perm, key, n);
    free(key);
}

/* scala.collection.Hashing.improve, the hash CHAMP tries index by. */
static uint32_t zk_scala_improve(uint32_t h) {
    h = h + ~(h << 9);
    h ^= h >> 14;
    h = h + (h << 4);
    return h ^ (h >> 10);
}

/* One trie level of the CHAMP order: entries alone in their 5-bit slot come
 * first (by slot), then each shared slot's sub-trie in slot order, depth
 * first. Full collisions (shift past 32 bits) keep insertion order. */
static void zk_champ_level(const uint32_t *improved, size_t *idx, size_t n, unsigned shift, size_t *out,
                           size_t *pos) {
    if (shift >= 32 || n <= 1) {
        for (size_t i = 0; i < n; i++)
            out[(*pos)++] = idx[i];
        return;
    }
    size_t count[32] = {0};
    for (size_t i = 0; i < n; i++)
        count[(improved[idx[i]] >> shift) & 31]++;
    for (unsigned slot = 0; slot < 32; slot++)
        if (count[slot] == 1)
            for (size_t i = 0; i < n; i++)
                if (((improved[idx[i]] >> shift) & 31) == slot)
                    out[(*pos)++] = idx[i];
    size_t *sub = mem_alloc(n * sizeof *sub);
    for (unsigned slot = 0; slot < 32; slot++) {
        if (count[slot] < 2)
            continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (((improved[idx[i]] >> shift) & 31) == slot)
                sub[m++] = idx[i];
        zk_champ_level(improved, sub, m, shift + 5, out, pos);
    }
    free(sub);
}

/* scala.collection.immutable.Map / Set (2.13): up to four entries are
 * Map1..Map4 / Set1..Set4 and keep insertion order; more are a CHAMP hash
 * trie. */
static void zk_order_scala_immutable(const uint32_t *hash, size_t n, size_t *perm) {
    if (n <= 4) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        return;
    }
    uint32_t *improved = mem_alloc(n * sizeof *improved);
    size_t *idx = mem_alloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++) {
        improved[i] = zk_scala_improve(hash[i]);
        idx[i] = i;
    }
    size_t pos = 0;
    zk_champ_level(improved, idx, n, 0, perm, &pos);
    free(improved);
    free(idx);
}

/* java.util.Properties in Java 9+ iterates its ConcurrentHashMap: a table
 * of 16 bins (new Properties() asks for 8) indexed by spread(h) =
 * (h ^ h >>> 16) & 0x7fffffff; a new key is appended to its bin; when the
 * count reaches 3/4 of the table it doubles, and each bin is split into a
 * low and a high list: the trailing run of nodes going to the same half
 * ("lastRun") keeps its order, the nodes before it are prepended one by one
 * (so reversed). Replaying that gives the order exactly. Keys are distinct. */
static void zk_order_java_properties(const uint32_t *hash, size_t n, size_t *perm) {
    size_t cap = 16, limit = 12;
    size_t *head = mem_alloc(cap * sizeof *head);
    size_t *next = mem_alloc((n ? n : 1) * sizeof *next);
    const size_t none = (size_t)-1;
    uint32_t *spread = mem_alloc((n ? n : 1) * sizeof *spread);
    for (size_t i = 0; i < cap; i++)
        head[i] = none;
    for (size_t k = 0; k < n; k++) {
        spread[k] = (hash[k] ^ (hash[k] >> 16)) & 0x7fffffffu;
        next[k] = none;
        size_t bin = spread[k] & (cap - 1);
        if (head[bin] == none) {
            head[bin] = k;
        } else {
            size_t p = head[bin];
            while (next[p] != none)
                p = next[p];
            next[p] = k;
        }
        if (k + 1 < limit)
            continue;
        /* transfer to a table twice as large */
        size_t *nhead = mem_alloc(2 * cap * sizeof *nhead);
        for (size_t b = 0; b < cap; b++) {
            size_t f = head[b];
            nhead[b] = nhead[b + cap] = none;
            if (f == none)
                continue;
            size_t run_bit = spread[f] & cap, last_run = f;
            for (size_t p = next[f]; p != none; p = next[p]) {
                if ((spread[p] & cap) != run_bit) {
                    run_bit = spread[p] & cap;
                    last_run = p;
                }
            }
            size_t ln = run_bit ? none : last_run, hn = run_bit ? last_run : none;
            for (size_t p = f; p != last_run;) {
                size_t after = next[p];
                if (spread[p] & cap) {
                    next[p] = hn;
                    hn = p;
                } else {
                    next[p] = ln;
                    ln = p;
                }
                p = after;
            }
            nhead[b] = ln;
            nhead[b + cap] = hn;
        }
        free(head);
        head = nhead;
        limit = 2 * cap - cap / 2;
        cap *= 2;
    }
    size_t pos = 0;
    for (size_t b = 0; b < cap; b++)
        for (size_t p = head[b]; p != none; p = next[p])
            perm[pos++] = p;
    free(head);
    free(next);
    free(spread);
}

/* ============================================================================
 * JSON helpers
 * ========================================================================== */

/* A key and its value, in the order Kafka put them into its map. */
typedef struct zk_kv {
    const char *key;
    json_t *value; /* reference stolen */
} zk_kv_t;

typedef enum { ZK_SCALA_IMMUTABLE, ZK_SCALA_MUTABLE, ZK_JAVA_PROPERTIES } zk_map_kind_t;

/* Builds an object with the entries in the order the collection of `kind`
 * iterates (for ZK_SCALA_MUTABLE starting with `table` slots). Returns NULL
 * if any value is NULL (a failed json_string*), dropping all values. */
static json_t *zk_object(zk_kv_t *kv, size_t n, zk_map_kind_t kind, size_t table) {
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok = ok && kv[i].value != NULL;
    json_t *obj = ok ? json_object() : NULL;
    if (!obj) {
        for (size_t i = 0; i < n; i++)
            json_decref(kv[i].value);
        return NULL;
    }
    uint32_t *hash = mem_alloc((n ? n : 1) * sizeof *hash);
    size_t *perm = mem_alloc((n ? n : 1) * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        hash[i] = zk_java_hash(kv[i].key);
    if (kind == ZK_SCALA_IMMUTABLE)
        zk_order_scala_immutable(hash, n, perm);
    else if (kind == ZK_SCALA_MUTABLE)
        zk_order_scala_mutable(hash, n, table, perm);
    else
        zk_order_java_properties(hash, n, perm);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(obj, kv[perm[i]].key, kv[perm[i]].value);
    free(hash);
    free(perm);
    return obj;
}

/* scala.collection.mutable.HashMap's table for Map(k1 -> v1, ...) with n
 * entries: capacity (n + 1) / 0.75, rounded to a power of two >= 8. */
static size_t zk_scala_table_for(size_t n) {
    size_t cap = (size_t)((double)(n + 1) / 0.75);
    size_t want = cap > 5 ? cap - 1 : 4;
    size_t t = 1;
    while (t <= want)
        t <<= 1;
    return t; /* highestOneBit(max(cap - 1, 4)) * 2 */
}

static json_t *zk_str(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *zk_int_array(const int32_t *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *zk_decimal_string(int64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    return json_string(s);
}

static int zk_dump_cb(const char *data, size_t size, void *arg) {
    buf_append((buf_t *)arg, data, size);
    return 0;
}

/* Appends obj compactly (Jackson's output: no spaces, '/' not escaped,
 * control characters as \u00XX) and releases it. obj NULL: -1 with the
 * reason that makes it NULL in the encoders (a string that is not UTF-8). */
static int zk_emit(buf_t *out, json_t *obj, const char *what, char *err, size_t errlen) {
    if (!obj) {
        errmsg_set(err, errlen, "%s: a string is not valid UTF-8", what);
        return -1;
    }
    json_dump_callback(obj, zk_dump_cb, out, JSON_COMPACT);
    json_decref(obj);
    return 0;
}

/* The encoders whose input cannot fail still go through zk_emit; a NULL
 * there would be a bug in this file, so it aborts loudly. */
static void zk_emit_fixed(buf_t *out, json_t *obj) {
    if (zk_emit(out, obj, "zkdata", NULL, 0) != 0)
        abort();
}

/* Parses data as a JSON object. Empty data is an error naming `what`. */
static json_t *zk_parse(const void *data, size_t len, const char *what, char *err, size_t errlen) {
    if (!data || len == 0) {
        errmsg_set(err, errlen, "%s: empty data", what);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root) {
        errmsg_set(err, errlen, "%s: invalid JSON at line %d column %d: %s", what, jerr.line, jerr.column,
                   jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        errmsg_set(err, errlen, "%s: JSON is not an object", what);
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Reads the fields of a parsed znode into out: 0, or -1 with a message in
 * err (what names the znode in it). The tree lives for the call only. */
typedef int (*zk_fields_fn)(const json_t *root, void *out, const char *what, char *err, size_t errlen);

/* Every decoder of a JSON znode: zk_parse, the decoder's fields, the tree
 * freed whatever the outcome. */
static int zk_decode(const void *data, size_t len, const char *what, zk_fields_fn fields, void *out, char *err,
                     size_t errlen) {
    json_t *root = zk_parse(data, len, what, err, errlen);
    if (!root)
        return -1;
    int rc = fields(root, out, what, err, errlen);
    json_decref(root);
    return rc;
}

/* obj[key] into *v: 1 when present, 0 when absent (or null) and not
 * required, -1 with a message when absent and required. */
static int zk_get_field(const json_t *obj, const char *key, bool required, const json_t **v, const char *what,
                        char *err, size_t errlen) {
    *v = json_object_get(obj, key);
    if (*v && !json_is_null(*v))
        return 1;
    if (!required)
        return 0;
    errmsg_set(err, errlen, "%s: field \"%s\" is missing", what, key);
    return -1;
}

/* Reads obj[key] as an int32 (a JSON integer in range, as Jackson's
 * isInt). Returns 1 when read, 0 when absent (or null) and not required,
 * -1 on an error (also when absent and required). */
static int zk_get_i32(const json_t *obj, const char *key, bool required, int32_t *out, const char *what,
                      char *err, size_t errlen) {
    const json_t *v;
    int present = zk_get_field(obj, key, required, &v, what, err, errlen);
    if (present <= 0)
        return present;
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX) {
        errmsg_set(err, errlen, "%s: field \"%s\" is not a 32-bit integer", what, key);
        return -1;
    }
    *out = (int32_t)json_integer_value(v);
    return 1;
}

/* Reads obj[key] as a string (borrowed). Same returns as zk_get_i32. */
static int zk_get_str(const json_t *obj, const char *key, bool required, const char **out, const char *what,
                      char *err, size_t errlen) {
    const json_t *v;
    int present = zk_get_field(obj, key, required, &v, what, err, errlen);
    if (present <= 0)
        return present;
    if (!json_is_string(v)) {
        errmsg_set(err, errlen, "%s: field \"%s\" is not a string", what, key);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

/* Java's Long.parseLong / Integer.parseInt: optional sign, at least one
 * ASCII digit, nothing else, within [min, max]. */
static bool zk_parse_long(const char *s, size_t len, int64_t min, int64_t max, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len)
        return false;
    uint64_t limit = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* A JSON array of int32s into a mem_alloc'd array (NULL when empty). */
static int zk_int_list(const json_t *arr, int32_t **out, size_t *n, const char *what, const char *field,
                       char *err, size_t errlen) {
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr)) {
        errmsg_set(err, errlen, "%s: %s is not an array", what, field);
        return -1;
    }
    size_t count = json_array_size(arr);
    int32_t *v = count ? mem_alloc(count * sizeof *v) : NULL;
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_integer(e) || json_integer_value(e) < INT32_MIN || json_integer_value(e) > INT32_MAX) {
            errmsg_set(err, errlen, "%s: %s holds a value that is not a 32-bit integer", what, field);
            free(v);
            return -1;
        }
        v[i] = (int32_t)json_integer_value(e);
    }
    *out = v;
    *n = count;
    return 0;
}

int32_t *zkdata_ints_copy(const int32_t *v, size_t n) {
    if (n == 0)
        return NULL;
    int32_t *c = mem_alloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    return c;
}

/* ============================================================================
 * Paths
 * ========================================================================== */

static const char *const zk_persistent[] = {
    ZKDATA_PATH_CONSUMERS,
    ZKDATA_PATH_BROKER_IDS,
    ZKDATA_PATH_BROKER_TOPICS,
    ZKDATA_PATH_CONFIG_CHANGES,
    ZKDATA_PATH_DELETE_TOPICS,
    ZKDATA_PATH_BROKER_SEQID,
    ZKDATA_PATH_ISR_CHANGE_NOTIFICATION,
    ZKDATA_PATH_LATEST_PRODUCER_ID_BLOCK,
    ZKDATA_PATH_LOG_DIR_EVENT_NOTIFICATION,
    ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_TOPICS,
    ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_CLIENTS,
    ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_USERS,
    ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_BROKERS,
    ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_IPS,
    NULL,
};

const char *const *zkdata_persistent_paths(size_t *n) {
    if (n)
        *n = sizeof zk_persistent / sizeof zk_persistent[0] - 1;
    return zk_persistent;
}

/* A name usable as one path component: not empty, no '/', not "." or "..",
 * no control characters (which ZooKeeper refuses). */
static bool zk_component_ok(const char *s) {
    if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int zk_fmt(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int zk_fmt(char *out, size_t outlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return -1;
    }
    return n;
}

int zkdata_path_broker(char *out, size_t outlen, int32_t broker_id) {
    return zk_fmt(out, outlen, ZKDATA_PATH_BROKER_IDS "/%" PRId32, broker_id);
}

int zkdata_path_topic(char *out, size_t outlen, const char *topic) {
    if (!zk_component_ok(topic))
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_BROKER_TOPICS "/%s", topic);
}

int zkdata_path_topic_partitions(char *out, size_t outlen, const char *topic) {
    if (!zk_component_ok(topic))
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_BROKER_TOPICS "/%s/partitions", topic);
}

int zkdata_path_topic_partition(char *out, size_t outlen, const char *topic, int32_t partition) {
    if (!zk_component_ok(topic) || partition < 0)
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_BROKER_TOPICS "/%s/partitions/%" PRId32, topic, partition);
}

int zkdata_path_partition_state(char *out, size_t outlen, const char *topic, int32_t partition) {
    if (!zk_component_ok(topic) || partition < 0)
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_BROKER_TOPICS "/%s/partitions/%" PRId32 "/state", topic, partition);
}

int zkdata_path_config(char *out, size_t outlen, const char *entity_type, const char *entity_name) {
    if (!zk_component_ok(entity_type) || !entity_name || !*entity_name)
        return -1;
    /* users/<u>/clients/<c>: every '/'-separated part must be a component */
    size_t len = strlen(entity_name);
    char *copy = mem_strdup(entity_name);
    bool ok = entity_name[len - 1] != '/';
    for (char *save = NULL, *part = strtok_r(copy, "/", &save); ok && part; part = strtok_r(NULL, "/", &save))
        ok = zk_component_ok(part);
    ok = ok && entity_name[0] != '/' && !strstr(entity_name, "//");
    free(copy);
    if (!ok)
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_CONFIG "/%s/%s", entity_type, entity_name);
}

int zkdata_path_topic_config(char *out, size_t outlen, const char *topic) {
    if (!zk_component_ok(topic))
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_TOPICS "/%s", topic);
}

int zkdata_path_delete_topic(char *out, size_t outlen, const char *topic) {
    if (!zk_component_ok(topic))
        return -1;
    return zk_fmt(out, outlen, ZKDATA_PATH_DELETE_TOPICS "/%s", topic);
}

int64_t zkdata_sequence_number(const char *name, const char *prefix) {
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0)
        return -1;
    const char *digits = name + plen;
    size_t n = strlen(digits);
    int64_t v;
    if (n == 0 || digits[0] == '-' || digits[0] == '+' || !zk_parse_long(digits, n, 0, INT64_MAX, &v))
        return -1;
    return v;
}

/* ============================================================================
 * UUIDs
 * ========================================================================== */

static const char zk_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int zk_b64_value(char c) {
    const char *p = c ? strchr(zk_b64url, c) : NULL;
    return p ? (int)(p - zk_b64url) : -1;
}

/* 16 bytes -> 22 characters (java.util.Base64 URL encoder without padding). */
static void zk_uuid_format(const uint8_t id[16], char out[ZKDATA_UUID_LEN + 1]) {
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)id[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)id[i + 1] << 8;
        if (i + 2 < 16)
            v |= id[i + 2];
        out[o++] = zk_b64url[(v >> 18) & 63];
        out[o++] = zk_b64url[(v >> 12) & 63];
        if (i + 1 < 16)
            out[o++] = zk_b64url[(v >> 6) & 63];
        if (i + 2 < 16)
            out[o++] = zk_b64url[v & 63];
    }
    out[o] = '\0';
}

/* getrandom(2), falling back to /dev/urandom; ids must not repeat, so a
 * machine that gives neither is not one samsa can run on. */
static void zk_random_bytes(uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == n)
        return;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(p, 1, n, f) != n) {
        fprintf(stderr, "zkdata: no source of random bytes\n");
        abort();
    }
    fclose(f);
}

void zkdata_uuid_generate(char out[ZKDATA_UUID_LEN + 1]) {
    uint8_t id[16];
    zk_random_bytes(id, sizeof id);
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* IETF variant */
    zk_uuid_format(id, out);
}

bool zkdata_uuid_valid(const char *s) {
    if (!s || strlen(s) != ZKDATA_UUID_LEN)
        return false;
    for (size_t i = 0; i < ZKDATA_UUID_LEN; i++)
        if (zk_b64_value(s[i]) < 0)
            return false;
    /* the last character carries 2 bits; the other 4 must be zero */
    return (zk_b64_value(s[ZKDATA_UUID_LEN - 1]) & 0x0f) == 0;
}

/* ============================================================================
 * /controller, /controller_epoch, /cluster/id
 * ========================================================================== */

void zkdata_controller_encode(buf_t *out, int32_t broker_id, int64_t timestamp_ms) {
    zk_kv_t kv[] = {
        {"version", json_integer(1)},
        {"brokerid", json_integer(broker_id)},
        {"timestamp", zk_decimal_string(timestamp_ms)},
    };
    zk_emit_fixed(out, zk_object(kv, 3, ZK_SCALA_IMMUTABLE, 0));
}

/* A znode whose one field read is a required int32 (the controller's and a
 * log dir event's broker id). */
static int zk_decode_i32(const void *data, size_t len, const char *what, const char *key, int32_t *out, char *err,
                         size_t errlen) {
    json_t *root = zk_parse(data, len, what, err, errlen);
    if (!root)
        return -1;
    int rc = zk_get_i32(root, key, true, out, what, err, errlen);
    json_decref(root);
    return rc < 0 ? -1 : 0;
}

int zkdata_controller_decode(const void *data, size_t len, int32_t *broker_id, char *err, size_t errlen) {
    return zk_decode_i32(data, len, "controller", "brokerid", broker_id, err, errlen);
}

void zkdata_controller_epoch_encode(buf_t *out, int32_t epoch) { buf_appendf(out, "%" PRId32, epoch); }

int zkdata_controller_epoch_decode(const void *data, size_t len, int32_t *epoch, char *err, size_t errlen) {
    int64_t v;
    if (!data || !zk_parse_long((const char *)data, len, INT32_MIN, INT32_MAX, &v)) {
        errmsg_set(err, errlen, "controller_epoch: not a decimal 32-bit integer");
        return -1;
    }
    *epoch = (int32_t)v;
    return 0;
}

int zkdata_cluster_id_encode(buf_t *out, const char *id, char *err, size_t errlen) {
    zk_kv_t kv[] = {
        {"version", json_string("1")},
        {"id", json_string(id)},
    };
    return zk_emit(out, zk_object(kv, 2, ZK_SCALA_IMMUTABLE, 0), "cluster id", err, errlen);
}

int zkdata_cluster_id_decode(const void *data, size_t len, char **id, char *err, size_t errlen) {
    *id = NULL;
    json_t *root = zk_parse(data, len, "cluster id", err, errlen);
    if (!root)
        return -1;
    const char *s = NULL;
    int rc = zk_get_str(root, "id", true, &s, "cluster id", err, errlen);
    if (rc > 0)
        *id = mem_strdup(s);
    json_decref(root);
    return rc < 0 ? -1 : 0;
}

/* ============================================================================
 * /brokers/ids/<id>
 * ========================================================================== */

void zkdata_broker_init(zkdata_broker_t *b) {
    memset(b, 0, sizeof *b);
    b->jmx_port = -1;
    b->port = -1;
    b->timestamp_ms = -1;
}

static void zk_endpoint_free(zkdata_endpoint_t *e) {
    free(e->listener);
    free(e->security_protocol);
    free(e->host);
}

void zkdata_broker_free(zkdata_broker_t *b) {
    for (size_t i = 0; i < b->n_endpoints; i++)
        zk_endpoint_free(&b->endpoints[i]);
    free(b->endpoints);
    free(b->rack);
    free(b->host);
    zkdata_broker_init(b);
}

void zkdata_broker_add_endpoint(zkdata_broker_t *b, const char *listener, const char *security_protocol,
                                const char *host, int32_t port) {
    b->endpoints = mem_realloc(b->endpoints, (b->n_endpoints + 1) * sizeof *b->endpoints);
    zkdata_endpoint_t *e = &b->endpoints[b->n_endpoints++];
    e->listener = listener ? mem_strdup(listener) : NULL;
    e->security_protocol = security_protocol ? mem_strdup(security_protocol) : NULL;
    e->host = host ? mem_strdup(host) : NULL;
    e->port = port;
}

/* EndPoint.connectionString: "NAME://host:port", "[v6]:port", ":port". */
static json_t *zk_endpoint_string(const zkdata_endpoint_t *e) {
    buf_t s = BUF_INIT;
    buf_append_str(&s, e->listener);
    buf_append_str(&s, "://");
    if (e->host && strchr(e->host, ':'))
        buf_appendf(&s, "[%s]:%" PRId32, e->host, e->port);
    else
        buf_appendf(&s, "%s:%" PRId32, e->host ? e->host : "", e->port);
    json_t *j = json_stringn((const char *)s.data, s.len);
    buf_free(&s);
    return j;
}

/* listener name -> security protocol, as advertisedEndpoints.map(...).toMap:
 * a repeated name keeps its first position and takes the last protocol. */
static json_t *zk_protocol_map(const zkdata_broker_t *b) {
    zk_kv_t *kv = mem_alloc((b->n_endpoints ? b->n_endpoints : 1) * sizeof *kv);
    size_t n = 0;
    for (size_t i = 0; i < b->n_endpoints; i++) {
        const zkdata_endpoint_t *e = &b->endpoints[i];
        size_t j = 0;
        while (j < n && strcmp(kv[j].key, e->listener) != 0)
            j++;
        if (j == n) {
            kv[n].key = e->listener;
            kv[n++].value = json_string(e->security_protocol);
        } else {
            json_decref(kv[j].value);
            kv[j].value = json_string(e->security_protocol);
        }
    }
    json_t *obj = zk_object(kv, n, ZK_SCALA_IMMUTABLE, 0);
    free(kv);
    return obj;
}

/* BrokerIdZNode.encode: a mutable.Map of six entries, then rack (v3+), the
 * protocol map (v4+) and features (v5) added to it. */
int zkdata_broker_encode(buf_t *out, const zkdata_broker_t *b, int version, char *err, size_t errlen) {
    if (version != 4 && version != 5) {
        errmsg_set(err, errlen, "broker registration: samsa writes versions 4 and 5, not %d", version);
        return -1;
    }
    const zkdata_endpoint_t *plain = NULL;
    for (size_t i = 0; i < b->n_endpoints; i++) {
        if (!b->endpoints[i].listener || !b->endpoints[i].security_protocol) {
            errmsg_set(err, errlen, "broker registration: endpoint %zu has no listener or security protocol", i);
            return -1;
        }
        if (!plain && strcmp(b->endpoints[i].security_protocol, "PLAINTEXT") == 0)
            plain = &b->endpoints[i];
    }
    json_t *endpoints = json_array();
    bool ok = true;
    for (size_t i = 0; i < b->n_endpoints; i++) {
        json_t *s = zk_endpoint_string(&b->endpoints[i]);
        ok = ok && s;
        json_array_append_new(endpoints, s);
    }
    if (!ok) {
        json_decref(endpoints);
        endpoints = NULL;
    }
    zk_kv_t kv[9] = {
        {"version", json_integer(version)},
        {"host", plain ? zk_str(plain->host) : json_null()},
        {"port", json_integer(plain ? plain->port : -1)},
        {"endpoints", endpoints},
        {"jmx_port", json_integer(b->jmx_port)},
        {"timestamp", zk_decimal_string(b->timestamp_ms)},
    };
    size_t n = 6;
    if (b->rack) {
        kv[n].key = "rack";
        kv[n++].value = json_string(b->rack);
    }
    kv[n].key = "listener_security_protocol_map";
    kv[n++].value = zk_protocol_map(b);
    if (version >= 5) {
        kv[n].key = "features";
        kv[n++].value = json_object();
    }
    return zk_emit(out, zk_object(kv, n, ZK_SCALA_MUTABLE, zk_scala_table_for(6)), "broker registration", err,
                   errlen);
}

static bool zk_is_security_protocol(const char *s) {
    return strcmp(s, "PLAINTEXT") == 0 || strcmp(s, "SSL") == 0 || strcmp(s, "SASL_PLAINTEXT") == 0 ||
           strcmp(s, "SASL_SSL") == 0;
}

/* A mem_alloc'd upper-case copy (Locale.ROOT: ASCII letters only). */
static char *zk_upper(const char *s, size_t n) {
    char *u = mem_strndup(s, n);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return u;
}

/* EndPoint.createEndPoint's pattern, ^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$,
 * matched by hand: the host characters exclude '/', so only the last "://"
 * can separate the listener; the port follows the last ':'; the host may
 * have a '[' before and a ']' after it; an empty host means none. */
static bool zk_split_endpoint(const char *s, zkdata_endpoint_t *e) {
    static const char host_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-%._:";
    const char *sep = NULL;
    for (const char *p = strstr(s, "://"); p; p = strstr(p + 1, "://"))
        sep = p;
    if (!sep)
        return false;
    const char *h = sep + 3;
    const char *port = strrchr(h, ':');
    if (!port || port[1] == '+')
        return false;
    int64_t pv;
    if (!zk_parse_long(port + 1, strlen(port + 1), INT32_MIN, INT32_MAX, &pv))
        return false;
    const char *hend = port;
    if (*h == '[')
        h++;
    if (hend > h && hend[-1] == ']')
        hend--;
    if (hend < h || strspn(h, host_chars) < (size_t)(hend - h))
        return false;
    e->listener = zk_upper(s, (size_t)(sep - s));
    e->host = hend > h ? mem_strndup(h, (size_t)(hend - h)) : NULL;
    e->port = (int32_t)pv;
    return true;
}

/* One "NAME://host:port" with its security protocol: from the protocol map
 * when the registration has one, else the listener name itself. */
static int zk_parse_endpoint(const char *s, const json_t *protocols, zkdata_endpoint_t *e, char *err,
                             size_t errlen) {
    memset(e, 0, sizeof *e);
    if (!zk_split_endpoint(s, e)) {
        errmsg_set(err, errlen, "broker registration: unable to parse endpoint \"%s\"", s);
        return -1;
    }
    const char *proto = e->listener;
    if (protocols) {
        json_t *v = json_object_get(protocols, e->listener);
        if (!v || !json_is_string(v)) {
            errmsg_set(err, errlen, "broker registration: no security protocol defined for listener %s",
                       e->listener);
            goto fail;
        }
        proto = json_string_value(v);
    }
    e->security_protocol = zk_upper(proto, strlen(proto));
    if (!zk_is_security_protocol(e->security_protocol)) {
        errmsg_set(err, errlen, "broker registration: unknown security protocol %s", proto);
        goto fail;
    }
    return 0;
fail:
    zk_endpoint_free(e);
    memset(e, 0, sizeof *e);
    return -1;
}

static int zk_broker_endpoints(const json_t *root, zkdata_broker_t *out, char *err, size_t errlen) {
    const json_t *protocols = json_object_get(root, "listener_security_protocol_map");
    if (protocols && json_is_null(protocols))
        protocols = NULL;
    if (protocols) {
        if (!json_is_object(protocols)) {
            errmsg_set(err, errlen, "broker registration: listener_security_protocol_map is not an object");
            return -1;
        }
    }
    const json_t *eps = json_object_get(root, "endpoints");
    if (!eps || !json_is_array(eps)) {
        errmsg_set(err, errlen, "broker registration: field \"endpoints\" is missing or not an array");
        return -1;
    }
    out->endpoints = mem_calloc(json_array_size(eps) ? json_array_size(eps) : 1, sizeof *out->endpoints);
    for (size_t i = 0; i < json_array_size(eps); i++) {
        const json_t *s = json_array_get(eps, i);
        if (!json_is_string(s)) {
            errmsg_set(err, errlen, "broker registration: endpoint %zu is not a string", i);
            return -1;
        }
        if (zk_parse_endpoint(json_string_value(s), protocols, &out->endpoints[i], err, errlen) != 0)
            return -1;
        out->n_endpoints++;
    }
    return 0;
}

static int zk_broker_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    zkdata_broker_t *out = arg;
    const char *s = NULL;
    if (zk_get_i32(root, "version", true, &out->version, what, err, errlen) < 0 ||
        zk_get_i32(root, "jmx_port", true, &out->jmx_port, what, err, errlen) < 0)
        return -1;
    if (out->version < 1) {
        errmsg_set(err, errlen, "%s: unsupported version %" PRId32, what, out->version);
        return -1;
    }
    int has_host = zk_get_str(root, "host", out->version == 1, &s, what, err, errlen);
    if (has_host < 0 || zk_get_i32(root, "port", out->version == 1, &out->port, what, err, errlen) < 0)
        return -1;
    if (has_host > 0)
        out->host = mem_strdup(s);
    if (out->version == 1)
        zkdata_broker_add_endpoint(out, "PLAINTEXT", "PLAINTEXT", out->host, out->port);
    else if (zk_broker_endpoints(root, out, err, errlen) != 0)
        return -1;
    int has_rack = zk_get_str(root, "rack", false, &s, what, err, errlen);
    if (has_rack < 0)
        return -1;
    if (has_rack > 0)
        out->rack = mem_strdup(s);
    const json_t *features = json_object_get(root, "features");
    if (features && !json_is_null(features) && !json_is_object(features)) {
        errmsg_set(err, errlen, "%s: features is not an object", what);
        return -1;
    }
    const json_t *ts = json_object_get(root, "timestamp");
    int64_t t;
    if (ts && json_is_string(ts) &&
        zk_parse_long(json_string_value(ts), json_string_length(ts), INT64_MIN, INT64_MAX, &t))
        out->timestamp_ms = t; /* informational: Kafka does not read it */

    return 0;
}

int zkdata_broker_decode(const void *data, size_t len, zkdata_broker_t *out, char *err, size_t errlen) {
    zkdata_broker_init(out);
    return zk_decode(data, len, "broker registration", zk_broker_fields, out, err, errlen);
}

/* ============================================================================
 * /brokers/topics/<topic>
 * ========================================================================== */

void zkdata_topic_assignment_init(zkdata_topic_assignment_t *a) {
    memset(a, 0, sizeof *a);
    a->version = ZKDATA_TOPIC_VERSION;
}

void zkdata_topic_assignment_free(zkdata_topic_assignment_t *a) {
    for (size_t i = 0; i < a->n_partitions; i++) {
        free(a->partitions[i].replicas);
        free(a->partitions[i].adding);
        free(a->partitions[i].removing);
    }
    free(a->partitions);
    zkdata_topic_assignment_init(a);
}

zkdata_partition_assignment_t *zkdata_topic_assignment_add(zkdata_topic_assignment_t *a, int32_t partition,
                                                           const int32_t *replicas, size_t n) {
    a->partitions = mem_realloc(a->partitions, (a->n_partitions + 1) * sizeof *a->partitions);
    zkdata_partition_assignment_t *p = &a->partitions[a->n_partitions++];
    memset(p, 0, sizeof *p);
    p->partition = partition;
    p->replicas = zkdata_ints_copy(replicas, n);
    p->n_replicas = n;
    return p;
}

/* One of the three partition -> replicas maps: a mutable.Map[String, _]()
 * (16 slots) filled in assignment order, holding only non-empty lists for
 * adding/removing (which = 1, 2) and every partition for which = 0. */
static json_t *zk_replica_map(const zkdata_topic_assignment_t *a, int which) {
    zk_kv_t *kv = mem_alloc((a->n_partitions ? a->n_partitions : 1) * sizeof *kv);
    char (*keys)[16] = mem_alloc((a->n_partitions ? a->n_partitions : 1) * sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zkdata_partition_assignment_t *p = &a->partitions[i];
        const int32_t *v = which == 0 ? p->replicas : which == 1 ? p->adding : p->removing;
        size_t count = which == 0 ? p->n_replicas : which == 1 ? p->n_adding : p->n_removing;
        if (which != 0 && count == 0)
            continue;
        snprintf(keys[n], sizeof keys[n], "%" PRId32, p->partition);
        kv[n].key = keys[n];
        kv[n++].value = zk_int_array(v, count);
    }
    json_t *obj = zk_object(kv, n, ZK_SCALA_MUTABLE, 16);
    free(kv);
    free(keys);
    return obj;
}

/* TopicZNode.encode (2.8): mutable.Map of version, partitions, adding and
 * removing, plus topic_id when the topic has one. */
int zkdata_topic_assignment_encode(buf_t *out, const zkdata_topic_assignment_t *a, char *err, size_t errlen) {
    if (a->topic_id[0] && !zkdata_uuid_valid(a->topic_id)) {
        errmsg_set(err, errlen, "topic assignment: topic_id \"%.*s\" is not a base64 UUID", ZKDATA_UUID_LEN,
                   a->topic_id);
        return -1;
    }
    zk_kv_t kv[5] = {
        {"version", json_integer(ZKDATA_TOPIC_VERSION)},
        {"partitions", zk_replica_map(a, 0)},
        {"adding_replicas", zk_replica_map(a, 1)},
        {"removing_replicas", zk_replica_map(a, 2)},
    };
    size_t n = 4;
    if (a->topic_id[0]) {
        kv[n].key = "topic_id";
        kv[n++].value = json_string(a->topic_id);
    }
    zk_emit_fixed(out, zk_object(kv, n, ZK_SCALA_MUTABLE, zk_scala_table_for(4)));
    return 0;
}

/* Replicas of `key` in the optional adding/removing object (absent: none). */
static int zk_delta(const json_t *map, const char *key, int32_t **out, size_t *n, const char *field, char *err,
                    size_t errlen) {
    *out = NULL;
    *n = 0;
    const json_t *v = map ? json_object_get(map, key) : NULL;
    if (!v)
        return 0;
    return zk_int_list(v, out, n, "topic assignment", field, err, errlen);
}

static int zk_cmp_partition(const void *a, const void *b) {
    int32_t x = ((const zkdata_partition_assignment_t *)a)->partition;
    int32_t y = ((const zkdata_partition_assignment_t *)b)->partition;
    return (x > y) - (x < y);
}

static const json_t *zk_opt_object(const json_t *root, const char *key, bool *bad) {
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v))
        *bad = true;
    return v;
}

static int zk_topic_assignment_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    zkdata_topic_assignment_t *out = arg;
    const char *id = NULL;
    bool bad = false;
    if (zk_get_i32(root, "version", false, &out->version, what, err, errlen) < 0)
        return -1;
    int has_id = zk_get_str(root, "topic_id", false, &id, what, err, errlen);
    if (has_id < 0)
        return -1;
    if (has_id > 0) {
        if (!zkdata_uuid_valid(id)) {
            errmsg_set(err, errlen, "%s: topic_id \"%s\" is not a base64 UUID", what, id);
            return -1;
        }
        memcpy(out->topic_id, id, ZKDATA_UUID_LEN + 1);
    }
    const json_t *parts = zk_opt_object(root, "partitions", &bad);
    const json_t *adding = zk_opt_object(root, "adding_replicas", &bad);
    const json_t *removing = zk_opt_object(root, "removing_replicas", &bad);
    if (bad) {
        errmsg_set(err, errlen, "%s: partitions, adding_replicas or removing_replicas is not an object", what);
        return -1;
    }
    size_t count = parts ? json_object_size(parts) : 0;
    out->partitions = mem_calloc(count ? count : 1, sizeof *out->partitions);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)parts, key, value) {
        zkdata_partition_assignment_t *p = &out->partitions[out->n_partitions];
        int64_t pid;
        if (!zk_parse_long(key, strlen(key), INT32_MIN, INT32_MAX, &pid)) {
            errmsg_set(err, errlen, "%s: partition \"%s\" is not an integer", what, key);
            return -1;
        }
        p->partition = (int32_t)pid;
        out->n_partitions++;
        if (zk_int_list(value, &p->replicas, &p->n_replicas, what, "a replica list", err, errlen) != 0 ||
            zk_delta(adding, key, &p->adding, &p->n_adding, "adding_replicas", err, errlen) != 0 ||
            zk_delta(removing, key, &p->removing, &p->n_removing, "removing_replicas", err, errlen) != 0)
            return -1;
    }
    qsort(out->partitions, out->n_partitions, sizeof *out->partitions, zk_cmp_partition);
    return 0;
}

int zkdata_topic_assignment_decode(const void *data, size_t len, zkdata_topic_assignment_t *out, char *err,
                                   size_t errlen) {
    zkdata_topic_assignment_init(out);
    out->version = 1;
    return zk_decode(data, len, "topic assignment", zk_topic_assignment_fields, out, err, errlen);
}

/* ============================================================================
 * Partition state
 * ========================================================================== */

void zkdata_partition_state_init(zkdata_partition_state_t *s) {
    memset(s, 0, sizeof *s);
    s->leader = -1;
}

void zkdata_partition_state_free(zkdata_partition_state_t *s) {
    free(s->isr);
    zkdata_partition_state_init(s);
}

/* TopicPartitionStateZNode.encode: an immutable Map of five entries, which
 * Scala 2.13 makes a hash trie. */
void zkdata_partition_state_encode(buf_t *out, const zkdata_partition_state_t *s) {
    zk_kv_t kv[] = {
        {"version", json_integer(1)},
        {"leader", json_integer(s->leader)},
        {"leader_epoch", json_integer(s->leader_epoch)},
        {"controller_epoch", json_integer(s->controller_epoch)},
        {"isr", zk_int_array(s->isr, s->n_isr)},
    };
    zk_emit_fixed(out, zk_object(kv, 5, ZK_SCALA_IMMUTABLE, 0));
}

static int zk_partition_state_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    zkdata_partition_state_t *out = arg;
    const json_t *isr = json_object_get(root, "isr");
    if (zk_get_i32(root, "leader", true, &out->leader, what, err, errlen) < 0 ||
        zk_get_i32(root, "leader_epoch", true, &out->leader_epoch, what, err, errlen) < 0 ||
        zk_get_i32(root, "controller_epoch", true, &out->controller_epoch, what, err, errlen) < 0)
        return -1;
    if (!isr) {
        errmsg_set(err, errlen, "%s: field \"isr\" is missing", what);
        return -1;
    }
    if (zk_int_list(isr, &out->isr, &out->n_isr, what, "isr", err, errlen) != 0)
        return -1;
    return 0;
}

int zkdata_partition_state_decode(const void *data, size_t len, zkdata_partition_state_t *out, char *err,
                                  size_t errlen) {
    zkdata_partition_state_init(out);
    return zk_decode(data, len, "partition state", zk_partition_state_fields, out, err, errlen);
}

/* ============================================================================
 * Configs and change notifications
 * ========================================================================== */

void zkdata_config_init(zkdata_config_t *c) { memset(c, 0, sizeof *c); }

void zkdata_config_free(zkdata_config_t *c) {
    for (size_t i = 0; i < c->n_entries; i++) {
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    zkdata_config_init(c);
}

void zkdata_config_set(zkdata_config_t *c, const char *key, const char *value) {
    for (size_t i = 0; i < c->n_entries; i++) {
        if (strcmp(c->entries[i].key, key) == 0) {
            free(c->entries[i].value);
            c->entries[i].value = mem_strdup(value);
            return;
        }
    }
    c->entries = mem_realloc(c->entries, (c->n_entries + 1) * sizeof *c->entries);
    c->entries[c->n_entries].key = mem_strdup(key);
    c->entries[c->n_entries++].value = mem_strdup(value);
}

const char *zkdata_config_get(const zkdata_config_t *c, const char *key) {
    for (size_t i = 0; i < c->n_entries; i++)
        if (strcmp(c->entries[i].key, key) == 0)
            return c->entries[i].value;
    return NULL;
}

/* ConfigEntityZNode.encode: Map("version" -> 1, "config" -> properties). */
int zkdata_config_encode(buf_t *out, const zkdata_config_t *c, char *err, size_t errlen) {
    /* json_object_set_new would silently drop a key that is not UTF-8 */
    for (size_t i = 0; i < c->n_entries; i++) {
        json_t *k = json_string(c->entries[i].key);
        if (!k)
            return zk_emit(out, NULL, "config", err, errlen);
        json_decref(k);
    }
    zk_kv_t *kv = mem_alloc((c->n_entries ? c->n_entries : 1) * sizeof *kv);
    for (size_t i = 0; i < c->n_entries; i++) {
        kv[i].key = c->entries[i].key;
        kv[i].value = json_string(c->entries[i].value);
    }
    json_t *config = zk_object(kv, c->n_entries, ZK_JAVA_PROPERTIES, 0);
    free(kv);
    zk_kv_t top[] = {{"version", json_integer(1)}, {"config", config}};
    return zk_emit(out, zk_object(top, 2, ZK_SCALA_IMMUTABLE, 0), "config", err, errlen);
}

static int zk_config_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    zkdata_config_t *out = arg;
    (void)what; /* the messages say "config" as the field does */
    const json_t *config = json_object_get(root, "config");
    if (config && !json_is_null(config) && !json_is_object(config)) {
        errmsg_set(err, errlen, "config: field \"config\" is not an object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)config, key, value) {
        if (!json_is_string(value)) {
            errmsg_set(err, errlen, "config: the value of \"%s\" is not a string", key);
            return -1;
        }
        zkdata_config_set(out, key, json_string_value(value));
    }

    return 0;
}

int zkdata_config_decode(const void *data, size_t len, zkdata_config_t *out, char *err, size_t errlen) {
    zkdata_config_init(out);
    if (!data || len == 0)
        return 0; /* a null znode: no overrides */
    return zk_decode(data, len, "config", zk_config_fields, out, err, errlen);
}

int zkdata_config_change_encode(buf_t *out, const char *entity_path, char *err, size_t errlen) {
    zk_kv_t kv[] = {{"version", json_integer(2)}, {"entity_path", json_string(entity_path)}};
    return zk_emit(out, zk_object(kv, 2, ZK_SCALA_IMMUTABLE, 0), "config change", err, errlen);
}

static int zk_config_change_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    char **entity_path = arg;
    int32_t version;
    const char *type = NULL, *name = NULL, *path = NULL;
    if (zk_get_i32(root, "version", true, &version, what, err, errlen) < 0)
        return -1;
    if (version == 1) {
        if (zk_get_str(root, "entity_type", false, &type, what, err, errlen) <= 0 ||
            (strcmp(type, ZKDATA_CONFIG_TOPICS) != 0 && strcmp(type, ZKDATA_CONFIG_CLIENTS) != 0)) {
            errmsg_set(err, errlen, "%s: version 1 needs entity_type \"topics\" or \"clients\"", what);
            return -1;
        }
        if (zk_get_str(root, "entity_name", false, &name, what, err, errlen) <= 0) {
            errmsg_set(err, errlen, "%s: version 1 needs entity_name", what);
            return -1;
        }
        size_t n = strlen(type) + 1 + strlen(name) + 1;
        *entity_path = mem_alloc(n);
        snprintf(*entity_path, n, "%s/%s", type, name);
    } else if (version == 2) {
        if (zk_get_str(root, "entity_path", true, &path, what, err, errlen) < 0)
            return -1;
        const char *slash = strchr(path, '/');
        if (!slash || slash == path || !slash[1]) {
            errmsg_set(err, errlen, "%s: entity_path \"%s\" is not <type>/<name>", what, path);
            return -1;
        }
        *entity_path = mem_strdup(path);
    } else {
        errmsg_set(err, errlen, "%s: unsupported version %" PRId32 " (1 and 2 are)", what, version);
        return -1;
    }

    return 0;
}

int zkdata_config_change_decode(const void *data, size_t len, char **entity_path, char *err, size_t errlen) {
    *entity_path = NULL;
    return zk_decode(data, len, "config change", zk_config_change_fields, entity_path, err, errlen);
}

/* ============================================================================
 * Partition lists (ISR change notifications, preferred replica election)
 * ========================================================================== */

void zkdata_tp_list_init(zkdata_tp_list_t *l) { memset(l, 0, sizeof *l); }

void zkdata_tp_list_free(zkdata_tp_list_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->tps[i].topic);
    free(l->tps);
    zkdata_tp_list_init(l);
}

void zkdata_tp_list_add(zkdata_tp_list_t *l, const char *topic, int32_t partition) {
    for (size_t i = 0; i < l->n; i++)
        if (l->tps[i].partition == partition && strcmp(l->tps[i].topic, topic) == 0)
            return;
    l->tps = mem_realloc(l->tps, (l->n + 1) * sizeof *l->tps);
    l->tps[l->n].topic = mem_strdup(topic);
    l->tps[l->n++].partition = partition;
}

/* Each element is Map("topic" -> t, "partition" -> p).asJava, whose
 * java.util.Map hashCode is the sum of key.hashCode ^ value.hashCode. The
 * set of them iterates by that hash. */
static int zk_tp_list_encode(buf_t *out, const zkdata_tp_list_t *l, bool mutable_set, const char *what, char *err,
                             size_t errlen) {
    size_t n = l->n;
    uint32_t *hash = mem_alloc((n ? n : 1) * sizeof *hash);
    size_t *perm = mem_alloc((n ? n : 1) * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        hash[i] = (zk_java_hash("topic") ^ zk_java_hash(l->tps[i].topic)) +
                  (zk_java_hash("partition") ^ (uint32_t)l->tps[i].partition);
    if (mutable_set)
        zk_order_scala_mutable(hash, n, 16, perm);
    else
        zk_order_scala_immutable(hash, n, perm);
    json_t *arr = json_array();
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const zkdata_tp_t *tp = &l->tps[perm[i]];
        zk_kv_t kv[] = {{"topic", json_string(tp->topic)}, {"partition", json_integer(tp->partition)}};
        json_t *e = zk_object(kv, 2, ZK_SCALA_IMMUTABLE, 0);
        ok = ok && e;
        json_array_append_new(arr, e);
    }
    free(hash);
    free(perm);
    if (!ok) {
        json_decref(arr);
        arr = NULL;
    }
    zk_kv_t top[] = {{"version", json_integer(1)}, {"partitions", arr}};
    return zk_emit(out, zk_object(top, 2, ZK_SCALA_IMMUTABLE, 0), what, err, errlen);
}

int zkdata_isr_change_encode(buf_t *out, const zkdata_tp_list_t *l, char *err, size_t errlen) {
    return zk_tp_list_encode(out, l, true, "isr change", err, errlen);
}

int zkdata_preferred_election_encode(buf_t *out, const zkdata_tp_list_t *l, char *err, size_t errlen) {
    return zk_tp_list_encode(out, l, false, "preferred replica election", err, errlen);
}

static int zk_tp_list_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    zkdata_tp_list_t *out = arg;
    const json_t *arr = json_object_get(root, "partitions");
    if (!arr || !json_is_array(arr)) {
        errmsg_set(err, errlen, "%s: field \"partitions\" is missing or not an array", what);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const char *topic = NULL;
        int32_t partition;
        if (!json_is_object(e)) {
            errmsg_set(err, errlen, "%s: entry %zu is not an object", what, i);
            return -1;
        }
        if (zk_get_str(e, "topic", true, &topic, what, err, errlen) < 0 ||
            zk_get_i32(e, "partition", true, &partition, what, err, errlen) < 0)
            return -1;
        zkdata_tp_list_add(out, topic, partition);
    }

    return 0;
}

int zkdata_tp_list_decode(const void *data, size_t len, zkdata_tp_list_t *out, char *err, size_t errlen) {
    zkdata_tp_list_init(out);
    return zk_decode(data, len, "partition list", zk_tp_list_fields, out, err, errlen);
}

/* ============================================================================
 * Log dir events, producer id blocks
 * ========================================================================== */

void zkdata_log_dir_event_encode(buf_t *out, int32_t broker_id) {
    zk_kv_t kv[] = {
        {"version", json_integer(1)},
        {"broker", json_integer(broker_id)},
        {"event", json_integer(1)},
    };
    zk_emit_fixed(out, zk_object(kv, 3, ZK_SCALA_IMMUTABLE, 0));
}

int zkdata_log_dir_event_decode(const void *data, size_t len, int32_t *broker_id, char *err, size_t errlen) {
    return zk_decode_i32(data, len, "log dir event", "broker", broker_id, err, errlen);
}

void zkdata_producer_id_block_encode(buf_t *out, const zkdata_producer_id_block_t *b) {
    zk_kv_t kv[] = {
        {"version", json_integer(1)},
        {"broker", json_integer(b->broker_id)},
        {"block_start", zk_decimal_string(b->block_start)},
        {"block_end", zk_decimal_string(b->block_end)},
    };
    zk_emit_fixed(out, zk_object(kv, 4, ZK_SCALA_IMMUTABLE, 0));
}

static int zk_get_long_string(const json_t *obj, const char *key, int64_t *out, const char *what, char *err,
                              size_t errlen) {
    const char *s = NULL;
    if (zk_get_str(obj, key, true, &s, what, err, errlen) < 0)
        return -1;
    if (!zk_parse_long(s, strlen(s), INT64_MIN, INT64_MAX, out)) {
        errmsg_set(err, errlen, "%s: field \"%s\" is not a decimal 64-bit integer", what, key);
        return -1;
    }
    return 0;
}

static int zk_producer_id_block_fields(const json_t *root, void *arg, const char *what, char *err, size_t errlen) {
    zkdata_producer_id_block_t *out = arg;
    int32_t version;
    if (zk_get_i32(root, "version", true, &version, what, err, errlen) < 0)
        return -1;
    if (version != 1) {
        errmsg_set(err, errlen, "%s: unknown version %" PRId32, what, version);
        return -1;
    }
    if (zk_get_i32(root, "broker", true, &out->broker_id, what, err, errlen) < 0 ||
        zk_get_long_string(root, "block_start", &out->block_start, what, err, errlen) != 0 ||
        zk_get_long_string(root, "block_end", &out->block_end, what, err, errlen) != 0)
        return -1;
    return 0;
}

int zkdata_producer_id_block_decode(const void *data, size_t len, zkdata_producer_id_block_t *out, char *err,
                                    size_t errlen) {

    return zk_decode(data, len, "producer id block", zk_producer_id_block_fields, out, err, errlen);
}
