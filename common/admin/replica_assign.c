#include "admin/replica_assign.h"

#include "util/buf.h"
#include "util/errmsg.h"
#include "util/mem.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* --- randomness ------------------------------------------------------------------ */

/* Rejection sampling: drop draws from the incomplete top range of 2^32 so
 * every value below bound is equally likely (Java's nextInt does the same). */
uint32_t rassign_rand_system(void *ctx, uint32_t bound) {
    (void)ctx;
    uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
    for (;;) {
        uint32_t r;
        ssize_t got = getrandom(&r, sizeof r, 0);
        if (got != (ssize_t)sizeof r) {
            if (got < 0 && errno == EINTR)
                continue;
            /* getrandom cannot fail for 4 bytes on Linux >= 3.17; if it
             * somehow does, placement only needs to be spread, not secret. */
            r = (uint32_t)rand();
        }
        if (r < limit)
            return r % bound;
    }
}

void rassign_params_init(rassign_params_t *p) {
    memset(p, 0, sizeof *p);
    p->fixed_start_index = -1;
    p->start_partition_id = -1;
}

static int32_t rassign_draw(const rassign_params_t *p, size_t n) {
    rassign_rand_fn fn = p->rand ? p->rand : rassign_rand_system;
    return (int32_t)(fn(p->rand_ctx, (uint32_t)n) % (uint32_t)n);
}

/* --- the placement ----------------------------------------------------------------- */

/* The broker index of replica j+1 (j >= 0) of a partition whose first
 * replica is at index first: one past first plus the shift, wrapping
 * within the N-1 other brokers so it never lands on first itself.
 * Needs n >= 2, which rf > 1 and rf <= n guarantee. */
static size_t rassign_replica_index(size_t first, int64_t shift, int64_t j, size_t n) {
    int64_t step = 1 + (shift + j) % (int64_t)(n - 1);
    return (size_t)(((int64_t)first + step) % (int64_t)n);
}

static void rassign_unaware(const rassign_params_t *p, int32_t start, int32_t shift0, zkdata_topic_assignment_t *out) {
    size_t n = p->n_brokers;
    int64_t shift = shift0;
    int32_t *replicas = mem_alloc((size_t)p->replication_factor * sizeof *replicas);
    int64_t pid = p->start_partition_id < 0 ? 0 : p->start_partition_id;
    for (int32_t i = 0; i < p->n_partitions; i++, pid++) {
        if (pid > 0 && pid % (int64_t)n == 0)
            shift++;
        size_t first = (size_t)((pid + start) % (int64_t)n);
        replicas[0] = p->brokers[first].id;
        for (int32_t j = 0; j < p->replication_factor - 1; j++)
            replicas[j + 1] = p->brokers[rassign_replica_index(first, shift, j, n)].id;
        zkdata_topic_assignment_add(out, (int32_t)pid, replicas, (size_t)p->replication_factor);
    }
    free(replicas);
}

static int rassign_cmp_broker_rack(const void *a, const void *b) {
    const rassign_broker_t *x = a, *y = b;
    int c = strcmp(x->rack, y->rack);
    if (c)
        return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorting by (rack, id) puts each rack's brokers together in id order with
 * the racks sorted; taking one broker from each rack in turn then gives
 * Kafka's getRackAlternatedBrokerList. */
void rassign_rack_alternated(const rassign_broker_t *brokers, size_t n_brokers, int32_t *out) {
    if (n_brokers == 0)
        return;
    rassign_broker_t *sorted = mem_alloc(n_brokers * sizeof *sorted);
    memcpy(sorted, brokers, n_brokers * sizeof *sorted);
    qsort(sorted, n_brokers, sizeof *sorted, rassign_cmp_broker_rack);
    /* rack_start[r]: where rack r begins in sorted; next[r]: its next broker. */
    size_t *rack_start = mem_alloc((n_brokers + 1) * sizeof *rack_start);
    size_t n_racks = 0;
    for (size_t i = 0; i < n_brokers; i++)
        if (i == 0 || strcmp(sorted[i].rack, sorted[i - 1].rack) != 0)
            rack_start[n_racks++] = i;
    rack_start[n_racks] = n_brokers;
    size_t *next = mem_alloc(n_racks * sizeof *next);
    for (size_t r = 0; r < n_racks; r++)
        next[r] = rack_start[r];
    size_t got = 0;
    for (size_t r = 0; got < n_brokers; r = (r + 1) % n_racks)
        if (next[r] < rack_start[r + 1])
            out[got++] = sorted[next[r]++].id;
    free(next);
    free(rack_start);
    free(sorted);
}

/* The rack of broker id in brokers (all have one). */
static const char *rassign_rack_of(const rassign_params_t *p, int32_t id) {
    for (size_t i = 0; i < p->n_brokers; i++)
        if (p->brokers[i].id == id)
            return p->brokers[i].rack;
    return "";
}

static size_t rassign_count_racks(const rassign_params_t *p) {
    size_t n = 0;
    for (size_t i = 0; i < p->n_brokers; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(p->brokers[k].rack, p->brokers[i].rack) == 0;
        n += !seen;
    }
    return n;
}

static bool rassign_has_rack(const char **racks, size_t n, const char *rack) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(racks[i], rack) == 0)
            return true;
    return false;
}

static bool rassign_has_id(const int32_t *ids, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* One partition of the rack-aware walk: candidates come from the
 * alternated list at a growing offset k; a broker is taken when its rack
 * has no replica yet (or all racks have one) and it has none itself (or
 * all brokers have one). Terminates: rf <= n, so an unused broker always
 * exists and the walk visits every index. racks is scratch space. */
static void rassign_aware_partition(const rassign_params_t *p, const int32_t *arranged, size_t first, int64_t shift,
                                    size_t n_racks, int32_t *replicas, const char **racks) {
    size_t n = p->n_brokers;
    size_t n_rep = 1, n_used_racks = 1;
    replicas[0] = arranged[first];
    racks[0] = rassign_rack_of(p, replicas[0]);
    int64_t k = 0;
    while (n_rep < (size_t)p->replication_factor) {
        int32_t broker = arranged[rassign_replica_index(first, shift * (int64_t)n_racks, k, n)];
        const char *rack = rassign_rack_of(p, broker);
        k++;
        bool rack_ok = !rassign_has_rack(racks, n_used_racks, rack) || n_used_racks == n_racks;
        bool broker_ok = !rassign_has_id(replicas, n_rep, broker) || n_rep == n;
        if (!rack_ok || !broker_ok)
            continue;
        if (!rassign_has_rack(racks, n_used_racks, rack))
            racks[n_used_racks++] = rack;
        replicas[n_rep++] = broker;
    }
}

static void rassign_aware(const rassign_params_t *p, int32_t start, int32_t shift0, zkdata_topic_assignment_t *out) {
    size_t n = p->n_brokers;
    size_t n_racks = rassign_count_racks(p);
    int32_t *arranged = mem_alloc(n * sizeof *arranged);
    rassign_rack_alternated(p->brokers, n, arranged);
    int32_t *replicas = mem_alloc((size_t)p->replication_factor * sizeof *replicas);
    const char **racks = mem_alloc((size_t)p->replication_factor * sizeof *racks);
    int64_t shift = shift0;
    int64_t pid = p->start_partition_id < 0 ? 0 : p->start_partition_id;
    for (int32_t i = 0; i < p->n_partitions; i++, pid++) {
        if (pid > 0 && pid % (int64_t)n == 0)
            shift++;
        size_t first = (size_t)((pid + start) % (int64_t)n);
        rassign_aware_partition(p, arranged, first, shift, n_racks, replicas, racks);
        zkdata_topic_assignment_add(out, (int32_t)pid, replicas, (size_t)p->replication_factor);
    }
    free(racks);
    free(replicas);
    free(arranged);
}

kerr_t rassign_assign(const rassign_params_t *p, zkdata_topic_assignment_t *out, char *err, size_t errlen) {
    if (p->n_partitions <= 0) {
        errmsg_set(err, errlen, "Number of partitions must be larger than 0.");
        return KERR_INVALID_PARTITIONS;
    }
    if (p->replication_factor <= 0) {
        errmsg_set(err, errlen, "Replication factor must be larger than 0.");
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    if ((size_t)p->replication_factor > p->n_brokers) {
        errmsg_set(err, errlen, "Replication factor: %d larger than available brokers: %zu.", p->replication_factor,
                   p->n_brokers);
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    if ((int64_t)p->n_partitions * p->replication_factor > RASSIGN_MAX_REPLICAS) {
        errmsg_set(err, errlen,
                   "%d partitions with replication factor %d are more than the %d replicas a topic znode can hold.",
                   p->n_partitions, p->replication_factor, RASSIGN_MAX_REPLICAS);
        return KERR_INVALID_PARTITIONS;
    }
    size_t with_rack = 0;
    for (size_t i = 0; i < p->n_brokers; i++)
        with_rack += p->brokers[i].rack != NULL;
    if (with_rack != 0 && with_rack != p->n_brokers) {
        errmsg_set(err, errlen, "Not all brokers have rack information for replica rack aware assignment.");
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    /* Kafka draws the start index first, then the shift. */
    int32_t start = p->fixed_start_index >= 0 ? p->fixed_start_index : rassign_draw(p, p->n_brokers);
    int32_t shift = p->fixed_start_index >= 0 ? p->fixed_start_index : rassign_draw(p, p->n_brokers);
    if (with_rack == 0)
        rassign_unaware(p, start, shift, out);
    else
        rassign_aware(p, start, shift, out);
    return KERR_NONE;
}

int32_t rassign_add_start_index(const rassign_broker_t *sorted_brokers, size_t n_brokers,
                                int32_t partition0_first_replica) {
    for (size_t i = 0; i < n_brokers; i++)
        if (sorted_brokers[i].id >= partition0_first_replica)
            return (int32_t)i;
    return 0;
}

/* --- --replica-assignment ------------------------------------------------------------ */

/* Java's String.trim() then Integer.parseInt on [s, e). */
static bool rassign_parse_int(const char *s, const char *e, int32_t *out) {
    while (s < e && (unsigned char)*s <= ' ')
        s++;
    while (e > s && (unsigned char)e[-1] <= ' ')
        e--;
    if (s == e || (size_t)(e - s) > 12)
        return false;
    char buf[16];
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    const char *digits = buf[0] == '+' || buf[0] == '-' ? buf + 1 : buf;
    if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits))
        return false;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

/* Splits [s, e) at sep like Java's String.split: trailing empty pieces are
 * dropped. Returns the number of pieces kept; starts/ends (n_max each)
 * receive them. */
static size_t rassign_split(const char *s, const char *e, char sep, const char **starts, const char **ends,
                            size_t n_max) {
    size_t n = 0, kept = 0;
    const char *p = s;
    for (;;) {
        const char *q = memchr(p, sep, (size_t)(e - p));
        const char *end = q ? q : e;
        if (n < n_max) {
            starts[n] = p;
            ends[n] = end;
        }
        n++;
        if (end > p)
            kept = n;
        if (!q)
            break;
        p = q + 1;
    }
    return kept < n_max ? kept : n_max;
}

static size_t rassign_count(const char *s, const char *e, char c) {
    size_t n = 0;
    for (; s < e; s++)
        n += *s == c;
    return n;
}

/* One partition's "b1:b2:..." into replicas (room for the piece count). */
static kerr_t rassign_parse_list(const char *s, const char *e, int32_t *replicas, size_t *n_out, char *err,
                                 size_t errlen) {
    size_t cap = rassign_count(s, e, ':') + 1;
    const char **starts = mem_alloc(cap * sizeof *starts);
    const char **ends = mem_alloc(cap * sizeof *ends);
    size_t n = rassign_split(s, e, ':', starts, ends, cap);
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; i < n && rc == KERR_NONE; i++) {
        if (!rassign_parse_int(starts[i], ends[i], &replicas[i])) {
            errmsg_set(err, errlen, "Invalid replica assignment: \"%.*s\" is not a broker id",
                       (int)(ends[i] - starts[i]), starts[i]);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    if (rc == KERR_NONE && n == 0) {
        errmsg_set(err, errlen, "Invalid replica assignment: an empty broker list");
        rc = KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    free(starts);
    free(ends);
    *n_out = n;
    return rc;
}

/* TopicCommand's message lists each duplicated broker once, comma separated. */
static bool rassign_duplicates(const int32_t *v, size_t n, char *err, size_t errlen) {
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (!rassign_has_id(v + i + 1, n - i - 1, v[i]) || rassign_has_id(v, i, v[i]))
            continue;
        buf_appendf(&b, "%s%d", b.len ? "," : "", v[i]);
    }
    bool dup = b.len > 0;
    if (dup)
        errmsg_set(err, errlen, "Partition replica lists may not contain duplicate entries: %.*s", (int)b.len,
                   (const char *)b.data);
    buf_free(&b);
    return dup;
}

kerr_t rassign_parse(const char *text, zkdata_topic_assignment_t *out, char *err, size_t errlen) {
    const char *end = text + strlen(text);
    size_t cap = rassign_count(text, end, ',') + 1;
    const char **starts = mem_alloc(cap * sizeof *starts);
    const char **ends = mem_alloc(cap * sizeof *ends);
    size_t n = rassign_split(text, end, ',', starts, ends, cap);
    zkdata_topic_assignment_t parsed;
    zkdata_topic_assignment_init(&parsed);
    int32_t *replicas = mem_alloc((rassign_count(text, end, ':') + 1) * sizeof *replicas);
    kerr_t rc = KERR_NONE;
    if (n == 0) {
        errmsg_set(err, errlen, "Invalid replica assignment: no partitions in \"%s\"", text);
        rc = KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (size_t i = 0; i < n && rc == KERR_NONE; i++) {
        size_t nr;
        rc = rassign_parse_list(starts[i], ends[i], replicas, &nr, err, errlen);
        if (rc != KERR_NONE)
            break;
        if (rassign_duplicates(replicas, nr, err, errlen)) {
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        } else if (i > 0 && nr != parsed.partitions[0].n_replicas) {
            errmsg_set(err, errlen, "Partition %zu has different replication factor: %.*s", i,
                       (int)(ends[i] - starts[i]), starts[i]);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        } else {
            zkdata_topic_assignment_add(&parsed, (int32_t)i, replicas, nr);
        }
    }
    if (rc == KERR_NONE)
        for (size_t i = 0; i < parsed.n_partitions; i++)
            zkdata_topic_assignment_add(out, parsed.partitions[i].partition, parsed.partitions[i].replicas,
                                        parsed.partitions[i].n_replicas);
    zkdata_topic_assignment_free(&parsed);
    free(replicas);
    free(starts);
    free(ends);
    return rc;
}
