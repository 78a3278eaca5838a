#include "log/meta_properties.h"

#include "util/errmsg.h"
#include "util/file.h"
#include "util/config.h" /* not autoconf's config.h, which -I. finds first */
#include "util/mem.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A meta.properties holds three short keys; anything big is not one. */
#define META_PROPERTIES_MAX_SIZE (64u * 1024)

void meta_properties_init(meta_properties_t *mp) {
    mp->version = 0;
    mp->has_broker_id = false;
    mp->broker_id = -1;
    mp->cluster_id = NULL;
}

void meta_properties_free(meta_properties_t *mp) {
    free(mp->cluster_id);
    meta_properties_init(mp);
}

void meta_properties_set_cluster_id(meta_properties_t *mp, const char *id) {
    free(mp->cluster_id);
    mp->cluster_id = id ? mem_strdup(id) : NULL;
}

static char *mp_path(const char *log_dir, const char *suffix) {
    size_t n = strlen(log_dir) + 1 + strlen(META_PROPERTIES_FILE) + strlen(suffix) + 1;
    char *path = mem_alloc(n);
    snprintf(path, n, "%s/%s%s", log_dir, META_PROPERTIES_FILE, suffix);
    return path;
}

/* --- writing ------------------------------------------------------------------ */

/* java.util.Date.toString(): "EEE MMM dd HH:mm:ss zzz yyyy", here in UTC.
 * Own name tables so the C locale cannot change the text. */
static void format_date(buf_t *out, int64_t now_ms) {
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t secs = (time_t)(now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        secs = 0;
        gmtime_r(&secs, &tm);
    }
    buf_appendf(out, "%s %s %02d %02d:%02d:%02d UTC %d", days[tm.tm_wday], months[tm.tm_mon],
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

/* Properties.store's escaping of a value (saveConvert): a leading space and
 * the characters that mean something to the reader get a backslash. */
static int append_value(buf_t *out, const char *value, char *err, size_t errlen) {
    for (const char *p = value; *p; p++) {
        char c = *p;
        if (c < 0x20 || c > 0x7e) {
            errmsg_set(err, errlen, "cluster.id holds a byte (0x%02x) outside printable ASCII",
                   (unsigned char)c);
            return -1;
        }
        if ((c == ' ' && p == value) || c == '\\' || c == '=' || c == ':' || c == '#' || c == '!')
            buf_append(out, "\\", 1);
        buf_append(out, &c, 1);
    }
    return 0;
}

/* Key order: Java 11's Properties keeps keys in a ConcurrentHashMap of 16
 * buckets, where broker.id, version and cluster.id fall in buckets 6, 13
 * and 14; store() walks the buckets in order. */
int meta_properties_format(const meta_properties_t *mp, int64_t now_ms, buf_t *out, char *err,
                           size_t errlen) {
    size_t start = out->len;
    buf_append_str(out, "#\n#");
    format_date(out, now_ms);
    buf_append_str(out, "\n");
    if (mp->has_broker_id)
        buf_appendf(out, "broker.id=%" PRId32 "\n", mp->broker_id);
    buf_appendf(out, "version=%" PRId32 "\n", mp->version);
    if (mp->cluster_id) {
        buf_append_str(out, "cluster.id=");
        if (append_value(out, mp->cluster_id, err, errlen) != 0) {
            out->len = start;
            return -1;
        }
        buf_append_str(out, "\n");
    }
    return 0;
}

int meta_properties_write(const char *log_dir, const meta_properties_t *mp, int64_t now_ms,
                          char *err, size_t errlen) {
    buf_t text = BUF_INIT;
    char *path = mp_path(log_dir, "");
    int rc = meta_properties_format(mp, now_ms, &text, err, errlen);
    if (rc != 0) {
        char reason[256];
        snprintf(reason, sizeof reason, "%s", err ? err : "");
        errmsg_set(err, errlen, "%s: %s", path, reason);
    } else {
        rc = file_write_atomic(path, text.data, text.len, err, errlen);
    }
    free(path);
    buf_free(&text);
    return rc;
}

/* --- reading --------------------------------------------------------------------- */

/* Integer.parseInt: an optional sign, then decimal digits, within int32.
 * The failure text is Java's NumberFormatException message. */
static int java_parse_int(const char *s, int32_t *out, char *err, size_t errlen) {
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    int64_t v = 0;
    bool ok = *p != '\0';
    for (; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9';
        v = v * 10 + (*p - '0');
        ok = ok && v <= (int64_t)INT32_MAX + (neg ? 1 : 0);
    }
    if (!ok) {
        errmsg_set(err, errlen, "For input string: \"%.64s\"", s);
        return -1;
    }
    *out = (int32_t)(neg ? -v : v);
    return 0;
}

static int parse_int_key(const char *key, const char *value, int32_t *out, char *err,
                         size_t errlen) {
    char reason[128];
    if (java_parse_int(value, out, reason, sizeof reason) == 0)
        return 0;
    errmsg_set(err, errlen, "Failed to parse %s property as an int: %s", key, reason);
    return -1;
}

/* Later keys win, as in a Properties table. */
static int parse_property(void *ctx, const char *key, const char *value, int line, char *err,
                          size_t errlen) {
    meta_properties_t *mp = ctx;
    (void)line;
    if (strcmp(key, "version") == 0)
        return parse_int_key(key, value, &mp->version, err, errlen);
    if (strcmp(key, "broker.id") == 0) {
        if (parse_int_key(key, value, &mp->broker_id, err, errlen) != 0)
            return -1;
        mp->has_broker_id = true;
        return 0;
    }
    if (strcmp(key, "cluster.id") == 0)
        meta_properties_set_cluster_id(mp, value);
    return 0;
}

int meta_properties_parse(const char *text, size_t len, const char *name, meta_properties_t *out,
                          char *err, size_t errlen) {
    meta_properties_init(out);
    return config_properties_parse(text, len, name, parse_property, out, err, errlen);
}

int meta_properties_read(const char *log_dir, meta_properties_t *out, char *err, size_t errlen) {
    meta_properties_init(out);
    char *tmp = mp_path(log_dir, ".tmp");
    char *path = mp_path(log_dir, "");
    unlink(tmp); /* a crash between write and rename left it; Kafka deletes it here too */
    buf_t text = BUF_INIT;
    int rc = file_read_all(path, META_PROPERTIES_MAX_SIZE, "meta.properties", &text, err, errlen);
    if (rc == 1 && meta_properties_parse((const char *)text.data, text.len, path, out, err,
                                         errlen) != 0)
        rc = -1;
    buf_free(&text);
    free(path);
    free(tmp);
    return rc;
}

/* --- the start-up check ----------------------------------------------------------- */

/* RawMetaProperties.toString: the keys present, sorted. */
static void describe(const meta_properties_t *mp, char *out, size_t outlen) {
    char id[32] = "";
    if (mp->has_broker_id)
        snprintf(id, sizeof id, "broker.id=%" PRId32 ", ", mp->broker_id);
    if (mp->cluster_id)
        snprintf(out, outlen, "{%scluster.id=%.64s, version=%" PRId32 "}", id, mp->cluster_id,
                 mp->version);
    else
        snprintf(out, outlen, "{%sversion=%" PRId32 "}", id, mp->version);
}

static meta_properties_check_t check_loaded(const meta_properties_t *mp, const char *path,
                                            int32_t broker_id, const char *cluster_id,
                                            char *err, size_t errlen) {
    if (mp->version != 0) {
        char desc[160];
        describe(mp, desc, sizeof desc);
        errmsg_set(err, errlen,
               "%s: Found unexpected version in loaded `meta.properties`: %s. Zk-based brokers "
               "only support version 0 (which is implicit when the `version` field is missing).",
               path, desc);
        return META_PROPERTIES_ERR_VERSION;
    }
    if (cluster_id && mp->cluster_id && strcmp(cluster_id, mp->cluster_id) != 0) {
        errmsg_set(err, errlen,
               "%s: The Cluster ID %s doesn't match stored clusterId Some(%s) in meta.properties. "
               "The broker is trying to join the wrong cluster. Configured zookeeper.connect may be "
               "wrong.",
               path, cluster_id, mp->cluster_id);
        return META_PROPERTIES_ERR_CLUSTER_ID;
    }
    if (broker_id >= 0 && mp->has_broker_id && mp->broker_id != broker_id) {
        errmsg_set(err, errlen,
               "%s: Configured broker.id %" PRId32 " doesn't match stored broker.id Some(%" PRId32
               ") in meta.properties. If you moved your data, make sure your configured broker.id "
               "matches. If you intend to create a new broker, you should remove all data in your "
               "data directories (log.dirs).",
               path, broker_id, mp->broker_id);
        return META_PROPERTIES_ERR_BROKER_ID;
    }
    return META_PROPERTIES_OK;
}

meta_properties_check_t meta_properties_check(const char *log_dir, int32_t broker_id,
                                              const char *cluster_id, char *err, size_t errlen) {
    meta_properties_t mp;
    int rc = meta_properties_read(log_dir, &mp, err, errlen);
    meta_properties_check_t res = META_PROPERTIES_OK;
    if (rc < 0) {
        res = META_PROPERTIES_ERR_READ;
    } else if (rc == 1) {
        char *path = mp_path(log_dir, "");
        res = check_loaded(&mp, path, broker_id, cluster_id, err, errlen);
        free(path);
    }
    meta_properties_free(&mp);
    return res;
}
