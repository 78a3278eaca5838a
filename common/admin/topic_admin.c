#include "admin/topic_admin.h"

#include "util/buf.h"
#include "util/config.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"
#include "proto/topic_name.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Attempts of the creation multi-op when the config znode appears or
 * vanishes between our exists check and the write. */
#define TADMIN_CREATE_ATTEMPTS 3

/* --- helpers ------------------------------------------------------------------------ */

static kerr_t tadmin_zk_fail(zkc_err_t rc, const char *what, const char *path, char *msg, size_t msglen) {
    errmsg_set(msg, msglen, "ZooKeeper error %s %s: %s", what, path, zkc_strerror(rc));
    return KERR_UNKNOWN_SERVER_ERROR;
}

/* Reads a znode: *data (free it) and *len when *exists; a missing znode is
 * not an error here, each caller decides what it means. */
static kerr_t tadmin_get(zkc_t *zk, const char *path, char **data, size_t *len, zkc_stat_t *st, bool *exists,
                         char *msg, size_t msglen) {
    int n = 0;
    *data = NULL;
    *len = 0;
    zkc_err_t rc = zkc_get(zk, path, data, &n, st);
    *exists = rc == ZKC_OK;
    if (rc == ZKC_NONODE)
        return KERR_NONE;
    if (rc != ZKC_OK)
        return tadmin_zk_fail(rc, "reading", path, msg, msglen);
    *len = n < 0 ? 0 : (size_t)n;
    return KERR_NONE;
}

/* A znode whose JSON does not decode: its path and why. */
static kerr_t tadmin_undecodable(const char *path, const char *why, char *msg, size_t msglen) {
    errmsg_set(msg, msglen, "%s: %s", path, why);
    return KERR_UNKNOWN_SERVER_ERROR;
}

/* A topic whose name makes no ZooKeeper path (empty, a '/', too long)
 * cannot exist. */
static kerr_t tadmin_no_such_topic(const char *topic, char *msg, size_t msglen) {
    errmsg_set(msg, msglen, "Topic '%s' does not exist.", topic);
    return KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

static int tadmin_cmp_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static bool tadmin_contains(const int32_t *v, size_t n, int32_t x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* "1, 2, 3" (Scala's mkString(", ")). */
static void tadmin_join_ints(buf_t *b, const int32_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        buf_appendf(b, "%s%" PRId32, i ? ", " : "", v[i]);
}

/* Kafka writes configs with setData, and creates the node (with parents)
 * only when it is missing; a creation race ends in a second setData. */
static zkc_err_t tadmin_set_or_create(zkc_t *zk, const char *path, const buf_t *data) {
    zkc_err_t rc = zkc_set(zk, path, data->data, (int)data->len, ZKC_ANY_VERSION, NULL);
    if (rc != ZKC_NONODE)
        return rc;
    rc = zkc_create(zk, path, data->data, (int)data->len, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
    if (rc == ZKC_NODEEXISTS)
        rc = zkc_set(zk, path, data->data, (int)data->len, ZKC_ANY_VERSION, NULL);
    return rc;
}

/* Creates a persistent container (null data, parents too) if missing. */
static zkc_err_t tadmin_ensure_path(zkc_t *zk, const char *path) {
    zkc_err_t rc = zkc_create(zk, path, NULL, -1, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
    return rc == ZKC_NODEEXISTS ? ZKC_OK : rc;
}

/* Copies the partitions and replicas of src (not the deltas) into dst. */
static void tadmin_assignment_copy(zkdata_topic_assignment_t *dst, const zkdata_topic_assignment_t *src) {
    for (size_t i = 0; i < src->n_partitions; i++)
        zkdata_topic_assignment_add(dst, src->partitions[i].partition, src->partitions[i].replicas,
                                    src->partitions[i].n_replicas);
}

/* --- brokers ------------------------------------------------------------------------- */

void tadmin_brokers_free(tadmin_brokers_t *b) {
    for (size_t i = 0; i < b->n; i++)
        free(b->racks[i]);
    free(b->racks);
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* A child of /brokers/ids as a broker id; false for anything else. */
static bool tadmin_parse_broker_id(const char *s, int32_t *out) {
    if (*s == '\0' || strlen(s) > 10 || strspn(s, "0123456789") != strlen(s))
        return false;
    long long v = strtoll(s, NULL, 10);
    if (v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

typedef struct tadmin_broker_row {
    int32_t id;
    char *rack;
} tadmin_broker_row_t;

static int tadmin_cmp_row(const void *a, const void *b) {
    return tadmin_cmp_int32(&((const tadmin_broker_row_t *)a)->id, &((const tadmin_broker_row_t *)b)->id);
}

/* The registration reg (a child of /brokers/ids) into row. *usable is
 * false when it is to be skipped (not an id, gone since the listing,
 * undecodable); the result is a ZooKeeper failure other than a missing
 * node. */
static zkc_err_t tadmin_broker_row(const zkc_child_t *reg, tadmin_broker_row_t *row, bool *usable) {
    *usable = false;
    if (!tadmin_parse_broker_id(reg->name, &row->id)) {
        log_warn("topic_admin", "ignoring /brokers/ids/%s: not a broker id", reg->name);
        return ZKC_OK;
    }
    if (reg->err != ZKC_OK)
        return reg->err == ZKC_NONODE ? ZKC_OK : reg->err;
    zkdata_broker_t b;
    char err[256];
    if (zkdata_broker_decode(reg->data, reg->len < 0 ? 0 : (size_t)reg->len, &b, err, sizeof err) != 0) {
        log_warn("topic_admin", "ignoring broker %" PRId32 ": %s", row->id, err);
    } else {
        row->rack = b.rack ? mem_strdup(b.rack) : NULL;
        *usable = true;
    }
    zkdata_broker_free(&b);
    return ZKC_OK;
}

kerr_t tadmin_live_brokers(zkc_t *zk, tadmin_brokers_t *out, char *msg, size_t msglen) {
    memset(out, 0, sizeof *out);
    zkc_children_data_t regs;
    zkc_err_t rc = zkc_get_children_data(zk, ZKDATA_PATH_BROKER_IDS, &regs);
    if (rc == ZKC_NONODE)
        rc = ZKC_OK;
    if (rc != ZKC_OK)
        return tadmin_zk_fail(rc, "listing", ZKDATA_PATH_BROKER_IDS, msg, msglen);
    tadmin_broker_row_t *rows = mem_calloc(regs.n ? regs.n : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < regs.n && rc == ZKC_OK; i++) {
        bool usable;
        rc = tadmin_broker_row(&regs.v[i], &rows[n], &usable);
        n += usable;
    }
    zkc_children_data_free(&regs);
    kerr_t kerr = KERR_NONE;
    if (rc != ZKC_OK)
        kerr = tadmin_zk_fail(rc, "reading", ZKDATA_PATH_BROKER_IDS, msg, msglen);
    qsort(rows, n, sizeof *rows, tadmin_cmp_row);
    out->v = mem_calloc(n ? n : 1, sizeof *out->v);
    out->racks = mem_calloc(n ? n : 1, sizeof *out->racks);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        out->v[i].id = rows[i].id;
        out->v[i].rack = rows[i].rack;
        out->racks[i] = rows[i].rack;
    }
    free(rows);
    if (kerr != KERR_NONE)
        tadmin_brokers_free(out);
    return kerr;
}

/* AdminZkClient.getBrokerMetadatas: the brokers to place replicas on under
 * a rack mode, in id order; *out is mem_alloc'd, its racks borrowed. */
static kerr_t tadmin_placement_brokers(const tadmin_brokers_t *live, tadmin_rack_mode_t mode, rassign_broker_t **out,
                                       char *msg, size_t msglen) {
    size_t with_rack = 0;
    for (size_t i = 0; i < live->n; i++)
        with_rack += live->v[i].rack != NULL;
    if (mode == TADMIN_RACK_ENFORCED && with_rack > 0 && with_rack < live->n) {
        errmsg_set(msg, msglen,
                   "Not all brokers have rack information. Add --disable-rack-aware in command line to make "
                   "replica assignment without rack information.");
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    bool drop_racks = mode == TADMIN_RACK_DISABLED || (mode == TADMIN_RACK_SAFE && with_rack < live->n);
    *out = mem_calloc(live->n ? live->n : 1, sizeof **out);
    for (size_t i = 0; i < live->n; i++) {
        (*out)[i].id = live->v[i].id;
        (*out)[i].rack = drop_racks ? NULL : live->v[i].rack;
    }
    return KERR_NONE;
}

/* Kafka's assignReplicasToBrokers over the brokers a rack mode admits: p
 * holds the counts (its broker list is filled here). With a
 * partition0_first_replica (addPartitions) the start index is derived from
 * it; with NULL (createTopic) it is p's. */
static kerr_t tadmin_assign_replicas(const tadmin_brokers_t *live, tadmin_rack_mode_t mode, rassign_params_t *p,
                                     const int32_t *partition0_first_replica, zkdata_topic_assignment_t *out,
                                     char *msg, size_t msglen) {
    rassign_broker_t *brokers;
    kerr_t rc = tadmin_placement_brokers(live, mode, &brokers, msg, msglen);
    if (rc != KERR_NONE)
        return rc;
    p->brokers = brokers;
    p->n_brokers = live->n;
    if (partition0_first_replica)
        p->fixed_start_index = rassign_add_start_index(brokers, live->n, *partition0_first_replica);
    rc = rassign_assign(p, out, msg, msglen);
    free(brokers);
    p->brokers = NULL;
    return rc;
}

/* --- configs --------------------------------------------------------------------------- */

kerr_t tadmin_validate_configs(const zkdata_config_t *configs, char *msg, size_t msglen) {
    if (!configs || configs->n_entries == 0)
        return KERR_NONE;
    for (size_t i = 0; i < configs->n_entries; i++) {
        if (!config_topic_def_find(configs->entries[i].key)) {
            errmsg_set(msg, msglen, "Unknown topic config name: %s", configs->entries[i].key);
            return KERR_INVALID_CONFIG;
        }
    }
    config_t *broker = config_new();
    config_topic_t *topic = config_topic_new(broker);
    kerr_t rc = KERR_NONE;
    for (size_t i = 0; i < configs->n_entries && rc == KERR_NONE; i++)
        if (config_topic_set(topic, configs->entries[i].key, configs->entries[i].value, msg, msglen) != 0)
            rc = KERR_INVALID_CONFIG;
    if (rc == KERR_NONE) {
        /* LogConfig.validateValues, with unset keys at their defaults */
        int64_t min_lag = config_topic_get_long(topic, "min.compaction.lag.ms");
        int64_t max_lag = config_topic_get_long(topic, "max.compaction.lag.ms");
        if (min_lag > max_lag) {
            errmsg_set(msg, msglen,
                       "conflict topic config setting min.compaction.lag.ms (%" PRId64
                       ") > max.compaction.lag.ms (%" PRId64 ")",
                       min_lag, max_lag);
            rc = KERR_INVALID_CONFIG;
        }
    }
    config_topic_free(topic);
    config_free(broker);
    return rc;
}

kerr_t tadmin_topic_configs(zkc_t *zk, const char *topic, zkdata_config_t *out, char *msg, size_t msglen) {
    zkdata_config_init(out);
    char path[ZKDATA_PATH_MAX];
    if (zkdata_path_topic_config(path, sizeof path, topic) < 0)
        return tadmin_no_such_topic(topic, msg, msglen);
    char *data;
    size_t len;
    bool exists;
    kerr_t kerr = tadmin_get(zk, path, &data, &len, NULL, &exists, msg, msglen);
    if (kerr != KERR_NONE || !exists)
        return kerr;
    char err[256];
    if (zkdata_config_decode(data, len, out, err, sizeof err) != 0)
        kerr = tadmin_undecodable(path, err, msg, msglen);
    free(data);
    return kerr;
}

kerr_t tadmin_topic_config_load(zkc_t *zk, const config_t *broker, const char *topic, config_topic_t **out,
                                char *msg, size_t msglen) {
    *out = NULL;
    zkdata_config_t zc;
    kerr_t e = tadmin_topic_configs(zk, topic, &zc, msg, msglen);
    if (e == KERR_NONE && zc.n_entries > 0) {
        *out = config_topic_new(broker);
        for (size_t i = 0; i < zc.n_entries; i++) {
            char err[256];
            if (config_topic_set(*out, zc.entries[i].key, zc.entries[i].value, err, sizeof err) != 0)
                log_warn("topic-admin", "topic %s: ignoring config %s: %s", topic, zc.entries[i].key, err);
        }
    }
    zkdata_config_free(&zc);
    return e;
}

const config_topic_t *tadmin_config_cache_get(tadmin_config_cache_t *cache, zkc_t *zk, const config_t *broker,
                                              const char *topic) {
    if (cache->topic && strcmp(cache->topic, topic) == 0)
        return cache->cfg;
    tadmin_config_cache_free(cache);
    cache->topic = mem_strdup(topic);
    char msg[256];
    if (tadmin_topic_config_load(zk, broker, topic, &cache->cfg, msg, sizeof msg) != KERR_NONE)
        log_warn("topic-admin", "topic %s: cannot read its configs (%s); using the broker's defaults", topic, msg);
    return cache->cfg;
}

void tadmin_config_cache_free(tadmin_config_cache_t *cache) {
    free(cache->topic);
    config_topic_free(cache->cfg);
    cache->topic = NULL;
    cache->cfg = NULL;
}

/* setOrCreateEntityConfigs + createConfigChangeNotification. */
static kerr_t tadmin_write_configs_and_notify(zkc_t *zk, const char *topic, const zkdata_config_t *configs,
                                              char *msg, size_t msglen) {
    char path[ZKDATA_PATH_MAX];
    zkdata_path_topic_config(path, sizeof path, topic);
    buf_t data = BUF_INIT, note = BUF_INIT;
    char entity[ZKDATA_PATH_MAX], err[256];
    snprintf(entity, sizeof entity, "%s/%s", ZKDATA_CONFIG_TOPICS, topic);
    kerr_t kerr = KERR_NONE;
    if (zkdata_config_encode(&data, configs, err, sizeof err) != 0 ||
        zkdata_config_change_encode(&note, entity, err, sizeof err) != 0) {
        errmsg_set(msg, msglen, "cannot encode the config of topic %s: %s", topic, err);
        kerr = KERR_INVALID_CONFIG;
        goto out;
    }
    zkc_err_t rc = tadmin_set_or_create(zk, path, &data);
    if (rc != ZKC_OK) {
        kerr = tadmin_zk_fail(rc, "writing", path, msg, msglen);
        goto out;
    }
    rc = tadmin_ensure_path(zk, ZKDATA_PATH_CONFIG_CHANGES);
    if (rc == ZKC_OK)
        rc = zkc_create(zk, ZKDATA_PATH_CONFIG_CHANGE_PREFIX, note.data, (int)note.len,
                        ZKC_PERSISTENT | ZKC_SEQUENTIAL, NULL);
    if (rc != ZKC_OK)
        kerr = tadmin_zk_fail(rc, "creating", ZKDATA_PATH_CONFIG_CHANGE_PREFIX, msg, msglen);
out:
    buf_free(&data);
    buf_free(&note);
    return kerr;
}

kerr_t tadmin_change_topic_configs(zkc_t *zk, const char *topic, const zkdata_config_t *configs, char *msg,
                                   size_t msglen) {
    if (topic_name_validate(topic, msg, msglen) != 0)
        return KERR_INVALID_TOPIC_EXCEPTION;
    char path[ZKDATA_PATH_MAX];
    zkdata_path_topic(path, sizeof path, topic);
    zkc_err_t rc = zkc_exists(zk, path, NULL);
    if (rc == ZKC_NONODE)
        return tadmin_no_such_topic(topic, msg, msglen);
    if (rc != ZKC_OK)
        return tadmin_zk_fail(rc, "reading", path, msg, msglen);
    kerr_t kerr = tadmin_validate_configs(configs, msg, msglen);
    if (kerr != KERR_NONE)
        return kerr;
    zkdata_config_t none;
    zkdata_config_init(&none);
    return tadmin_write_configs_and_notify(zk, topic, configs ? configs : &none, msg, msglen);
}

/* --- create ------------------------------------------------------------------------------- */

const char *tadmin_collision_warning(const char *topic) {
    if (!topic_name_has_collision_chars(topic))
        return NULL;
    return "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could "
           "collide. To avoid issues it is best to use either, but not both.";
}

/* The topic must not exist, nor collide with an existing one. */
static kerr_t tadmin_check_absent(zkc_t *zk, const char *topic, char *msg, size_t msglen) {
    char path[ZKDATA_PATH_MAX];
    zkdata_path_topic(path, sizeof path, topic);
    zkc_err_t rc = zkc_exists(zk, path, NULL);
    if (rc == ZKC_OK) {
        errmsg_set(msg, msglen, "Topic '%s' already exists.", topic);
        return KERR_TOPIC_ALREADY_EXISTS;
    }
    if (rc != ZKC_NONODE)
        return tadmin_zk_fail(rc, "reading", path, msg, msglen);
    if (!topic_name_has_collision_chars(topic))
        return KERR_NONE;
    zkc_strings_t all;
    rc = zkc_children(zk, ZKDATA_PATH_BROKER_TOPICS, &all);
    if (rc != ZKC_OK && rc != ZKC_NONODE) {
        zkc_strings_free(&all);
        return tadmin_zk_fail(rc, "listing", ZKDATA_PATH_BROKER_TOPICS, msg, msglen);
    }
    kerr_t kerr = KERR_NONE;
    buf_t colliding = BUF_INIT;
    for (size_t i = 0; i < all.n && kerr == KERR_NONE; i++) {
        if (strcmp(all.items[i], topic) == 0) { /* created meanwhile */
            errmsg_set(msg, msglen, "Topic '%s' already exists.", topic);
            kerr = KERR_TOPIC_ALREADY_EXISTS;
        } else if (topic_name_collide(all.items[i], topic)) {
            buf_appendf(&colliding, "%s%s", colliding.len ? ", " : "", all.items[i]);
        }
    }
    if (kerr == KERR_NONE && colliding.len) {
        errmsg_set(msg, msglen, "Topic '%s' collides with existing topics: %.*s", topic, (int)colliding.len,
                   (const char *)colliding.data);
        kerr = KERR_INVALID_TOPIC_EXCEPTION;
    }
    buf_free(&colliding);
    zkc_strings_free(&all);
    return kerr;
}

static bool tadmin_has_duplicates(const int32_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tadmin_contains(v + i + 1, n - i - 1, v[i]))
            return true;
    return false;
}

static bool tadmin_is_live(const tadmin_brokers_t *live, int32_t id) {
    for (size_t k = 0; k < live->n; k++)
        if (live->v[k].id == id)
            return true;
    return false;
}

/* Brokers of a not in live, sorted and each once, into b; false if none. */
static bool tadmin_unknown_brokers(const zkdata_topic_assignment_t *a, const tadmin_brokers_t *live, buf_t *b) {
    size_t total = 0;
    for (size_t i = 0; i < a->n_partitions; i++)
        total += a->partitions[i].n_replicas;
    int32_t *unknown = mem_alloc((total ? total : 1) * sizeof *unknown);
    size_t n = 0;
    for (size_t i = 0; i < a->n_partitions; i++) {
        for (size_t j = 0; j < a->partitions[i].n_replicas; j++) {
            int32_t id = a->partitions[i].replicas[j];
            if (!tadmin_is_live(live, id) && !tadmin_contains(unknown, n, id))
                unknown[n++] = id;
        }
    }
    qsort(unknown, n, sizeof *unknown, tadmin_cmp_int32);
    tadmin_join_ints(b, unknown, n);
    free(unknown);
    return n > 0;
}

/* Partition ids must be exactly 0..n-1 (Kafka checks the sum only). */
static bool tadmin_ids_consecutive(const zkdata_topic_assignment_t *a, int32_t first) {
    int32_t *ids = mem_alloc((a->n_partitions ? a->n_partitions : 1) * sizeof *ids);
    for (size_t i = 0; i < a->n_partitions; i++)
        ids[i] = a->partitions[i].partition;
    qsort(ids, a->n_partitions, sizeof *ids, tadmin_cmp_int32);
    bool ok = true;
    for (size_t i = 0; i < a->n_partitions && ok; i++)
        ok = (int64_t)ids[i] == (int64_t)first + (int64_t)i;
    free(ids);
    return ok;
}

/* validateTopicCreate's checks of the assignment, plus no empty replica
 * lists and (when live is given) registered brokers only. */
static kerr_t tadmin_check_assignment(const zkdata_topic_assignment_t *a, const tadmin_brokers_t *live, char *msg,
                                      size_t msglen) {
    bool same = a->n_partitions > 0;
    for (size_t i = 1; i < a->n_partitions && same; i++)
        same = a->partitions[i].n_replicas == a->partitions[0].n_replicas;
    if (!same) {
        errmsg_set(msg, msglen, "All partitions should have the same number of replicas");
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (a->partitions[0].n_replicas == 0) {
        errmsg_set(msg, msglen, "Cannot have replication factor of 0 for partition id %" PRId32 ".",
                   a->partitions[0].partition);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zkdata_partition_assignment_t *p = &a->partitions[i];
        if (tadmin_has_duplicates(p->replicas, p->n_replicas)) {
            buf_t b = BUF_INIT;
            tadmin_join_ints(&b, p->replicas, p->n_replicas);
            errmsg_set(msg, msglen, "Duplicate replica assignment found: partition %" PRId32 " -> [%.*s]",
                       p->partition, (int)b.len, (const char *)b.data);
            buf_free(&b);
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    if (!tadmin_ids_consecutive(a, 0)) {
        errmsg_set(msg, msglen, "partitions should be a consecutive 0-based integer sequence");
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    buf_t b = BUF_INIT;
    kerr_t rc = KERR_NONE;
    if (live && tadmin_unknown_brokers(a, live, &b)) {
        errmsg_set(msg, msglen, "Unknown broker(s) in replica assignment: %.*s.", (int)b.len, (const char *)b.data);
        rc = KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    buf_free(&b);
    return rc;
}

/* Kafka's createTopic: the automatic assignment over the live brokers. */
static kerr_t tadmin_auto_assign(const tadmin_create_t *req, const tadmin_brokers_t *live,
                                 zkdata_topic_assignment_t *a, char *msg, size_t msglen) {
    rassign_params_t p;
    rassign_params_init(&p);
    p.n_partitions = req->partitions;
    p.replication_factor = req->replication_factor;
    p.rand = req->rand;
    p.rand_ctx = req->rand_ctx;
    return tadmin_assign_replicas(live, req->rack_mode, &p, NULL, a, msg, msglen);
}

/* Config and topic znode in one transaction (see the header comment). If
 * the config node appears or vanishes between the exists check and the
 * multi, the multi fails on it and is tried again with the other op. */
static kerr_t tadmin_write_new_topic(zkc_t *zk, const char *topic, const buf_t *config, const buf_t *assignment,
                                     char *msg, size_t msglen) {
    char config_path[ZKDATA_PATH_MAX], topic_path[ZKDATA_PATH_MAX];
    zkdata_path_topic_config(config_path, sizeof config_path, topic);
    zkdata_path_topic(topic_path, sizeof topic_path, topic);
    const char *parents[] = {ZKDATA_PATH_CONFIG "/" ZKDATA_CONFIG_TOPICS, ZKDATA_PATH_BROKER_TOPICS};
    for (size_t i = 0; i < 2; i++) {
        zkc_err_t rc = tadmin_ensure_path(zk, parents[i]);
        if (rc != ZKC_OK)
            return tadmin_zk_fail(rc, "creating", parents[i], msg, msglen);
    }
    for (int attempt = 0; attempt < TADMIN_CREATE_ATTEMPTS; attempt++) {
        zkc_err_t rc = zkc_exists(zk, config_path, NULL);
        if (rc != ZKC_OK && rc != ZKC_NONODE)
            return tadmin_zk_fail(rc, "reading", config_path, msg, msglen);
        zkc_op_t ops[2];
        if (rc == ZKC_OK)
            zkc_op_set(&ops[0], config_path, config->data, (int)config->len, ZKC_ANY_VERSION);
        else
            zkc_op_create(&ops[0], config_path, config->data, (int)config->len, ZKC_PERSISTENT);
        zkc_op_create(&ops[1], topic_path, assignment->data, (int)assignment->len, ZKC_PERSISTENT);
        rc = zkc_multi(zk, ops, 2);
        zkc_err_t config_err = ops[0].err, topic_err = ops[1].err;
        zkc_ops_release(ops, 2);
        if (rc == ZKC_OK)
            return KERR_NONE;
        if (topic_err == ZKC_NODEEXISTS) {
            errmsg_set(msg, msglen, "Topic '%s' already exists.", topic);
            return KERR_TOPIC_ALREADY_EXISTS;
        }
        if (config_err != ZKC_NODEEXISTS && config_err != ZKC_NONODE)
            return tadmin_zk_fail(rc, "creating", topic_path, msg, msglen);
    }
    errmsg_set(msg, msglen, "%s kept changing while topic %s was being created", config_path, topic);
    return KERR_UNKNOWN_SERVER_ERROR;
}

static kerr_t tadmin_encode_and_write(zkc_t *zk, const char *topic, const zkdata_topic_assignment_t *a,
                                      const zkdata_config_t *configs, char *msg, size_t msglen) {
    zkdata_config_t none;
    zkdata_config_init(&none);
    buf_t config = BUF_INIT, assignment = BUF_INIT;
    char err[256];
    kerr_t rc;
    if (zkdata_config_encode(&config, configs ? configs : &none, err, sizeof err) != 0 ||
        zkdata_topic_assignment_encode(&assignment, a, err, sizeof err) != 0) {
        errmsg_set(msg, msglen, "cannot encode topic %s: %s", topic, err);
        rc = KERR_INVALID_CONFIG;
    } else {
        rc = tadmin_write_new_topic(zk, topic, &config, &assignment, msg, msglen);
    }
    buf_free(&config);
    buf_free(&assignment);
    return rc;
}

/* Kafka's order: assignment first (broker and rf errors), then
 * validateTopicCreate (name, existence, assignment, configs). */
static kerr_t tadmin_prepare_create(zkc_t *zk, const tadmin_create_t *req, zkdata_topic_assignment_t *a, char *msg,
                                    size_t msglen) {
    tadmin_brokers_t live = {0};
    kerr_t rc = KERR_NONE;
    if (!req->assignment || req->check_brokers)
        rc = tadmin_live_brokers(zk, &live, msg, msglen);
    if (rc == KERR_NONE) {
        if (req->assignment)
            tadmin_assignment_copy(a, req->assignment);
        else
            rc = tadmin_auto_assign(req, &live, a, msg, msglen);
    }
    if (rc == KERR_NONE && topic_name_validate(req->topic, msg, msglen) != 0)
        rc = KERR_INVALID_TOPIC_EXCEPTION;
    if (rc == KERR_NONE)
        rc = tadmin_check_absent(zk, req->topic, msg, msglen);
    if (rc == KERR_NONE)
        rc = tadmin_check_assignment(a, req->assignment && req->check_brokers ? &live : NULL, msg, msglen);
    if (rc == KERR_NONE)
        rc = tadmin_validate_configs(req->configs, msg, msglen);
    tadmin_brokers_free(&live);
    return rc;
}

kerr_t tadmin_create_topic(zkc_t *zk, const tadmin_create_t *req, zkdata_topic_assignment_t *out, char *msg,
                           size_t msglen) {
    zkdata_topic_assignment_t a;
    zkdata_topic_assignment_init(&a);
    if (out)
        zkdata_topic_assignment_init(out);
    kerr_t rc = tadmin_prepare_create(zk, req, &a, msg, msglen);
    if (rc == KERR_NONE && req->with_topic_id)
        zkdata_uuid_generate(a.topic_id);
    if (rc == KERR_NONE && !req->validate_only)
        rc = tadmin_encode_and_write(zk, req->topic, &a, req->configs, msg, msglen);
    if (rc == KERR_NONE && out)
        *out = a;
    else
        zkdata_topic_assignment_free(&a);
    return rc;
}

/* --- delete --------------------------------------------------------------------------------- */

kerr_t tadmin_delete_topic(zkc_t *zk, const char *topic, bool *already_marked, char *msg, size_t msglen) {
    *already_marked = false;
    char path[ZKDATA_PATH_MAX], marker[ZKDATA_PATH_MAX];
    if (zkdata_path_topic(path, sizeof path, topic) < 0 || zkdata_path_delete_topic(marker, sizeof marker, topic) < 0)
        return tadmin_no_such_topic(topic, msg, msglen);
    zkc_err_t rc = zkc_exists(zk, path, NULL);
    if (rc == ZKC_NONODE) {
        errmsg_set(msg, msglen, "Topic `%s` to delete does not exist", topic);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (rc != ZKC_OK)
        return tadmin_zk_fail(rc, "reading", path, msg, msglen);
    rc = zkc_create(zk, marker, NULL, -1, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
    if (rc == ZKC_NODEEXISTS) {
        *already_marked = true;
        errmsg_set(msg, msglen, "topic %s is already marked for deletion", topic);
        return KERR_NONE;
    }
    if (rc != ZKC_OK)
        return tadmin_zk_fail(rc, "creating", marker, msg, msglen);
    return KERR_NONE;
}

/* --- add partitions -------------------------------------------------------------------------- */

/* AdminZkClient.validateReplicaAssignment for the new partitions. */
static kerr_t tadmin_check_new_partitions(const zkdata_topic_assignment_t *a, size_t rf, const tadmin_brokers_t *live,
                                          char *msg, size_t msglen) {
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zkdata_partition_assignment_t *p = &a->partitions[i];
        buf_t b = BUF_INIT;
        tadmin_join_ints(&b, p->replicas, p->n_replicas);
        kerr_t rc = KERR_NONE;
        bool all_live = true;
        for (size_t j = 0; j < p->n_replicas; j++)
            all_live = all_live && tadmin_is_live(live, p->replicas[j]);
        buf_t avail = BUF_INIT;
        if (p->n_replicas == 0) {
            errmsg_set(msg, msglen, "Cannot have replication factor of 0 for partition id %" PRId32 ".", p->partition);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        } else if (tadmin_has_duplicates(p->replicas, p->n_replicas)) {
            errmsg_set(msg, msglen,
                       "Duplicate brokers not allowed in replica assignment: %.*s for partition id %" PRId32 ".",
                       (int)b.len, (const char *)b.data, p->partition);
            rc = KERR_INVALID_REPLICA_ASSIGNMENT;
        } else if (!all_live) {
            for (size_t k = 0; k < live->n; k++)
                buf_appendf(&avail, "%s%" PRId32, k ? ", " : "", live->v[k].id);
            buf_append(&avail, "", 1); /* never NULL, even with no broker */
            errmsg_set(msg, msglen,
                       "Some brokers specified for partition id %" PRId32
                       " are not available. Specified brokers: %.*s, available brokers: %.*s.",
                       p->partition, (int)b.len, (const char *)b.data, (int)avail.len - 1, (const char *)avail.data);
            rc = KERR_BROKER_NOT_AVAILABLE;
        }
        buf_free(&avail);
        buf_free(&b);
        if (rc != KERR_NONE)
            return rc;
    }
    buf_t parts = BUF_INIT, rfs = BUF_INIT;
    for (size_t i = 0; i < a->n_partitions; i++) {
        if (a->partitions[i].n_replicas == rf)
            continue;
        buf_appendf(&parts, "%s%" PRId32, parts.len ? ", " : "", a->partitions[i].partition);
        buf_appendf(&rfs, "%s%zu", rfs.len ? ", " : "", a->partitions[i].n_replicas);
    }
    kerr_t rc = KERR_NONE;
    if (parts.len) {
        errmsg_set(msg, msglen,
                   "Inconsistent replication factor between partitions, partition 0 has %zu while partitions [%.*s] "
                   "have replication factors [%.*s], respectively.",
                   rf, (int)parts.len, (const char *)parts.data, (int)rfs.len, (const char *)rfs.data);
        rc = KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    buf_free(&parts);
    buf_free(&rfs);
    return rc;
}

/* The existing assignment must be sound enough to extend: partitions
 * 0..n-1, none being reassigned. */
static kerr_t tadmin_check_existing(const char *topic, const zkdata_topic_assignment_t *cur, char *msg,
                                    size_t msglen) {
    for (size_t i = 0; i < cur->n_partitions; i++) {
        if (cur->partitions[i].n_adding || cur->partitions[i].n_removing) {
            errmsg_set(msg, msglen, "A partition reassignment is in progress for the topic '%s'.", topic);
            return KERR_REASSIGNMENT_IN_PROGRESS;
        }
    }
    if (cur->n_partitions == 0 || cur->partitions[0].partition != 0 || cur->partitions[0].n_replicas == 0) {
        errmsg_set(msg, msglen, "Unexpected existing replica assignment for topic '%s', partition id 0 is missing.",
                   topic);
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    if (!tadmin_ids_consecutive(cur, 0)) {
        errmsg_set(msg, msglen, "Unexpected existing replica assignment for topic '%s': partitions are not 0..%zu.",
                   topic, cur->n_partitions - 1);
        return KERR_UNKNOWN_SERVER_ERROR;
    }
    return KERR_NONE;
}

/* ZkAdminManager.createPartitions' checks, made before AdminZkClient's. */
static kerr_t tadmin_api_partition_checks(const tadmin_add_partitions_t *req, size_t existing,
                                          const tadmin_brokers_t *live, char *msg, size_t msglen) {
    if (req->total < (int64_t)existing) {
        errmsg_set(msg, msglen, "Topic currently has %zu partitions, which is higher than the requested %" PRId32 ".",
                   existing, req->total);
        return KERR_INVALID_PARTITIONS;
    }
    if (req->total == (int64_t)existing) {
        errmsg_set(msg, msglen, "Topic already has %zu partitions.", existing);
        return KERR_INVALID_PARTITIONS;
    }
    buf_t unknown = BUF_INIT;
    kerr_t rc = KERR_NONE;
    if (req->assignment && tadmin_unknown_brokers(req->assignment, live, &unknown)) {
        errmsg_set(msg, msglen, "Unknown broker(s) in replica assignment: %.*s.", (int)unknown.len,
                   (const char *)unknown.data);
        rc = KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    buf_free(&unknown);
    return rc;
}

/* The request's assignments name no partition: ZkAdminManager numbers them
 * from the current count on, in the order given. */
static void tadmin_number_new_partitions(const zkdata_topic_assignment_t *in, size_t existing,
                                         zkdata_topic_assignment_t *out) {
    zkdata_topic_assignment_init(out);
    for (size_t i = 0; i < in->n_partitions; i++)
        zkdata_topic_assignment_add(out, (int32_t)(existing + i), in->partitions[i].replicas,
                                    in->partitions[i].n_replicas);
}

/* An explicit assignment of the new partitions, checked and appended to cur. */
static kerr_t tadmin_assigned_partitions(const zkdata_topic_assignment_t *assignment, size_t to_add,
                                         zkdata_topic_assignment_t *cur, const tadmin_brokers_t *live, char *msg,
                                         size_t msglen) {
    size_t existing = cur->n_partitions;
    if (assignment->n_partitions != to_add) {
        errmsg_set(msg, msglen, "Increasing the number of partitions by %zu but %zu assignments provided.", to_add,
                   assignment->n_partitions);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (!tadmin_ids_consecutive(assignment, (int32_t)existing)) {
        errmsg_set(msg, msglen, "The assignment of the new partitions must be for partition ids %zu to %zu.",
                   existing, existing + to_add - 1);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    kerr_t rc = tadmin_check_new_partitions(assignment, cur->partitions[0].n_replicas, live, msg, msglen);
    if (rc == KERR_NONE)
        tadmin_assignment_copy(cur, assignment);
    return rc;
}

/* createNewPartitionsAssignment: the new partitions' replicas, appended to cur. */
static kerr_t tadmin_new_partitions(const tadmin_add_partitions_t *req, zkdata_topic_assignment_t *cur,
                                    const tadmin_brokers_t *live, char *msg, size_t msglen) {
    size_t existing = cur->n_partitions;
    const zkdata_partition_assignment_t *p0 = &cur->partitions[0];
    if (req->api_checks) {
        kerr_t rc = tadmin_api_partition_checks(req, existing, live, msg, msglen);
        if (rc != KERR_NONE)
            return rc;
    }
    if (req->total <= (int64_t)existing) {
        errmsg_set(msg, msglen,
                   "The number of partitions for a topic can only be increased. Topic %s currently has %zu "
                   "partitions, %" PRId32 " would not be an increase.",
                   req->topic, existing, req->total);
        return KERR_INVALID_PARTITIONS;
    }
    size_t to_add = (size_t)req->total - existing;
    if (req->assignment && req->api_checks) {
        zkdata_topic_assignment_t numbered;
        tadmin_number_new_partitions(req->assignment, existing, &numbered);
        kerr_t rc = tadmin_assigned_partitions(&numbered, to_add, cur, live, msg, msglen);
        zkdata_topic_assignment_free(&numbered);
        return rc;
    }
    if (req->assignment)
        return tadmin_assigned_partitions(req->assignment, to_add, cur, live, msg, msglen);
    rassign_params_t p;
    rassign_params_init(&p);
    p.n_partitions = (int32_t)to_add;
    p.replication_factor = (int32_t)p0->n_replicas;
    p.start_partition_id = (int32_t)existing;
    return tadmin_assign_replicas(live, req->rack_mode, &p, &p0->replicas[0], cur, msg, msglen);
}

/* Writes cur over the topic znode, conditional on the version read. */
static kerr_t tadmin_write_assignment(zkc_t *zk, const char *path, const char *topic,
                                      const zkdata_topic_assignment_t *cur, int32_t version, char *msg, size_t msglen) {
    buf_t data = BUF_INIT;
    char err[256];
    kerr_t kerr = KERR_NONE;
    if (zkdata_topic_assignment_encode(&data, cur, err, sizeof err) != 0) {
        errmsg_set(msg, msglen, "cannot encode the assignment of topic %s: %s", topic, err);
        kerr = KERR_UNKNOWN_SERVER_ERROR;
    } else {
        zkc_err_t rc = zkc_set(zk, path, data.data, (int)data.len, version, NULL);
        if (rc == ZKC_BADVERSION) {
            errmsg_set(msg, msglen,
                       "The assignment of topic '%s' changed while partitions were being added; nothing was "
                       "written, try again.",
                       topic);
            kerr = KERR_INVALID_UPDATE_VERSION;
        } else if (rc == ZKC_NONODE) {
            errmsg_set(msg, msglen, "The topic '%s' does not exist.", topic);
            kerr = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else if (rc != ZKC_OK) {
            kerr = tadmin_zk_fail(rc, "writing", path, msg, msglen);
        }
    }
    buf_free(&data);
    return kerr;
}

/* Reads and decodes the topic znode with its version. */
static kerr_t tadmin_read_assignment(zkc_t *zk, const char *path, const char *topic, zkdata_topic_assignment_t *out,
                                     int32_t *version, char *msg, size_t msglen) {
    zkdata_topic_assignment_init(out);
    char *data;
    size_t len;
    bool exists;
    zkc_stat_t st;
    kerr_t kerr = tadmin_get(zk, path, &data, &len, &st, &exists, msg, msglen);
    if (kerr != KERR_NONE)
        return kerr;
    if (!exists) {
        errmsg_set(msg, msglen, "The topic '%s' does not exist.", topic);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    char err[256];
    if (zkdata_topic_assignment_decode(data, len, out, err, sizeof err) != 0)
        kerr = tadmin_undecodable(path, err, msg, msglen);
    if (version)
        *version = st.version;
    free(data);
    return kerr;
}

kerr_t tadmin_add_partitions(zkc_t *zk, const tadmin_add_partitions_t *req, zkdata_topic_assignment_t *out,
                             char *msg, size_t msglen) {
    if (out)
        zkdata_topic_assignment_init(out);
    char path[ZKDATA_PATH_MAX];
    if (zkdata_path_topic(path, sizeof path, req->topic) < 0) {
        errmsg_set(msg, msglen, "The topic '%s' does not exist.", req->topic);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    zkdata_topic_assignment_t cur;
    int32_t version = 0;
    tadmin_brokers_t live = {0};
    kerr_t rc = tadmin_read_assignment(zk, path, req->topic, &cur, &version, msg, msglen);
    if (rc == KERR_NONE)
        rc = tadmin_check_existing(req->topic, &cur, msg, msglen);
    if (rc == KERR_NONE)
        rc = tadmin_live_brokers(zk, &live, msg, msglen);
    if (rc == KERR_NONE)
        rc = tadmin_new_partitions(req, &cur, &live, msg, msglen);
    if (rc == KERR_NONE && !req->validate_only)
        rc = tadmin_write_assignment(zk, path, req->topic, &cur, version, msg, msglen);
    tadmin_brokers_free(&live);
    if (rc == KERR_NONE && out)
        *out = cur;
    else
        zkdata_topic_assignment_free(&cur);
    return rc;
}

/* --- list and describe ------------------------------------------------------------------------ */

void tadmin_topic_list_free(tadmin_topic_list_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->marked);
    memset(l, 0, sizeof *l);
}

static int tadmin_cmp_str(const void *a, const void *b) { return strcmp(a, *(char *const *)b); }

kerr_t tadmin_list_topics(zkc_t *zk, tadmin_topic_list_t *out, char *msg, size_t msglen) {
    memset(out, 0, sizeof *out);
    zkc_strings_t topics, deletions;
    zkc_err_t rc = zkc_children(zk, ZKDATA_PATH_BROKER_TOPICS, &topics);
    if (rc != ZKC_OK && rc != ZKC_NONODE) {
        zkc_strings_free(&topics);
        return tadmin_zk_fail(rc, "listing", ZKDATA_PATH_BROKER_TOPICS, msg, msglen);
    }
    rc = zkc_children(zk, ZKDATA_PATH_DELETE_TOPICS, &deletions);
    if (rc != ZKC_OK && rc != ZKC_NONODE) {
        zkc_strings_free(&topics);
        zkc_strings_free(&deletions);
        return tadmin_zk_fail(rc, "listing", ZKDATA_PATH_DELETE_TOPICS, msg, msglen);
    }
    /* zkc sorts children by bytes: Kafka's sorted order for legal names */
    out->n = topics.n;
    out->names = topics.items;
    out->marked = mem_calloc(topics.n ? topics.n : 1, sizeof *out->marked);
    for (size_t i = 0; i < topics.n && deletions.n > 0; i++)
        out->marked[i] = bsearch(topics.items[i], deletions.items, deletions.n, sizeof *deletions.items,
                                 tadmin_cmp_str) != NULL;
    topics.items = NULL;
    topics.n = 0;
    zkc_strings_free(&topics);
    zkc_strings_free(&deletions);
    return KERR_NONE;
}

void tadmin_topic_free(tadmin_topic_t *t) {
    for (size_t i = 0; i < t->assignment.n_partitions; i++)
        zkdata_partition_state_free(&t->states[i]);
    free(t->states);
    free(t->has_state);
    zkdata_topic_assignment_free(&t->assignment);
    zkdata_config_free(&t->configs);
    memset(t, 0, sizeof *t);
}

/* The state znode of one partition; a missing one leaves s as initialised
 * (leader -1, no ISR). */
static kerr_t tadmin_read_state(zkc_t *zk, const char *topic, int32_t partition, zkdata_partition_state_t *s,
                                bool *has, char *msg, size_t msglen) {
    zkdata_partition_state_init(s);
    *has = false;
    char path[ZKDATA_PATH_MAX];
    if (zkdata_path_partition_state(path, sizeof path, topic, partition) < 0)
        return KERR_NONE;
    char *data;
    size_t len;
    bool exists;
    kerr_t kerr = tadmin_get(zk, path, &data, &len, NULL, &exists, msg, msglen);
    if (kerr != KERR_NONE || !exists)
        return kerr;
    char err[256];
    if (zkdata_partition_state_decode(data, len, s, err, sizeof err) != 0) {
        zkdata_partition_state_free(s);
        kerr = tadmin_undecodable(path, err, msg, msglen);
    } else {
        *has = true;
    }
    free(data);
    return kerr;
}

kerr_t tadmin_describe_topic(zkc_t *zk, const char *topic, tadmin_topic_t *out, char *msg, size_t msglen) {
    memset(out, 0, sizeof *out);
    zkdata_topic_assignment_init(&out->assignment);
    zkdata_config_init(&out->configs);
    char path[ZKDATA_PATH_MAX], marker[ZKDATA_PATH_MAX];
    if (zkdata_path_topic(path, sizeof path, topic) < 0 || zkdata_path_delete_topic(marker, sizeof marker, topic) < 0)
        return tadmin_no_such_topic(topic, msg, msglen);
    kerr_t rc = tadmin_read_assignment(zk, path, topic, &out->assignment, NULL, msg, msglen);
    if (rc == KERR_UNKNOWN_TOPIC_OR_PARTITION)
        rc = tadmin_no_such_topic(topic, msg, msglen);
    size_t n = out->assignment.n_partitions;
    out->states = mem_calloc(n ? n : 1, sizeof *out->states);
    out->has_state = mem_calloc(n ? n : 1, sizeof *out->has_state);
    for (size_t i = 0; i < n; i++)
        zkdata_partition_state_init(&out->states[i]);
    for (size_t i = 0; i < n && rc == KERR_NONE; i++)
        rc = tadmin_read_state(zk, topic, out->assignment.partitions[i].partition, &out->states[i],
                               &out->has_state[i], msg, msglen);
    if (rc == KERR_NONE)
        rc = tadmin_topic_configs(zk, topic, &out->configs, msg, msglen);
    if (rc == KERR_NONE) {
        zkc_err_t zrc = zkc_exists(zk, marker, NULL);
        if (zrc != ZKC_OK && zrc != ZKC_NONODE)
            rc = tadmin_zk_fail(zrc, "reading", marker, msg, msglen);
        out->marked_for_deletion = zrc == ZKC_OK;
    }
    if (rc != KERR_NONE)
        tadmin_topic_free(out);
    return rc;
}
