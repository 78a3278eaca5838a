#include "server/registration.h"

#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REG_TAG "registration"

static int registration_persistent_paths(zkc_t *zk, char *err, size_t errlen) {
    size_t n;
    const char *const *paths = zkdata_persistent_paths(&n);
    for (size_t i = 0; i < n; i++) {
        zkc_err_t e = zkc_create(zk, paths[i], NULL, -1, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
        if (e != ZKC_OK && e != ZKC_NODEEXISTS) {
            errmsg_set(err, errlen, "cannot create %s in ZooKeeper: %s", paths[i], zkc_strerror(e));
            return -1;
        }
    }
    return 0;
}

static int registration_read_cluster_id(zkc_t *zk, char *out, size_t outlen, zkc_err_t *zerr, char *err,
                                        size_t errlen) {
    char *data;
    int len;
    *zerr = zkc_get(zk, ZKDATA_PATH_CLUSTER_ID, &data, &len, NULL);
    if (*zerr != ZKC_OK)
        return -1;
    char *id = NULL;
    int rc = zkdata_cluster_id_decode(data, len < 0 ? 0 : (size_t)len, &id, err, errlen);
    if (rc == 0)
        snprintf(out, outlen, "%s", id);
    free(id);
    free(data);
    return rc;
}

/* Kafka's getOrGenerateClusterId: read; when absent create with a new id;
 * losing the creation race means reading the winner's. */
static int registration_cluster_id(zkc_t *zk, char *out, size_t outlen, char *err, size_t errlen) {
    zkc_err_t e;
    if (registration_read_cluster_id(zk, out, outlen, &e, err, errlen) == 0)
        return 0;
    if (e != ZKC_NONODE) {
        if (e != ZKC_OK)
            errmsg_set(err, errlen, "cannot read %s: %s", ZKDATA_PATH_CLUSTER_ID, zkc_strerror(e));
        return -1;
    }
    char id[ZKDATA_UUID_LEN + 1];
    zkdata_uuid_generate(id);
    buf_t json;
    buf_init(&json);
    zkdata_cluster_id_encode(&json, id, NULL, 0);
    e = zkc_create(zk, ZKDATA_PATH_CLUSTER_ID, json.data, (int)json.len, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
    buf_free(&json);
    if (e == ZKC_OK) {
        snprintf(out, outlen, "%s", id);
        log_info(REG_TAG, "created cluster id %s", id);
        return 0;
    }
    if (e == ZKC_NODEEXISTS && registration_read_cluster_id(zk, out, outlen, &e, err, errlen) == 0)
        return 0;
    if (e != ZKC_OK)
        errmsg_set(err, errlen, "cannot create %s: %s", ZKDATA_PATH_CLUSTER_ID, zkc_strerror(e));
    return -1;
}

/* KafkaZkClient.generateBrokerSequenceId: every write to /brokers/seqid
 * bumps its version, which no two brokers get the same of. */
static int registration_generate_id(zkc_t *zk, const config_t *cfg, int32_t *id, char *err, size_t errlen) {
    zkc_stat_t st;
    zkc_err_t e = zkc_set(zk, ZKDATA_PATH_BROKER_SEQID, "", 0, ZKC_ANY_VERSION, &st);
    if (e != ZKC_OK) {
        errmsg_set(err, errlen, "cannot generate a broker id from %s: %s", ZKDATA_PATH_BROKER_SEQID,
                   zkc_strerror(e));
        return -1;
    }
    *id = st.version + config_get_int(cfg, "reserved.broker.max.id");
    log_info(REG_TAG, "generated broker id %d", *id);
    return 0;
}

int registration_prepare(zkc_t *zk, const config_t *cfg, char *cluster_id, size_t cluster_id_len, int32_t *broker_id,
                         char *err, size_t errlen) {
    if (registration_persistent_paths(zk, err, errlen) != 0 ||
        registration_cluster_id(zk, cluster_id, cluster_id_len, err, errlen) != 0)
        return -1;
    if (*broker_id < 0 && registration_generate_id(zk, cfg, broker_id, err, errlen) != 0)
        return -1;
    return 0;
}

/* The security protocol listener.security.protocol.map gives name (the
 * name itself when unmapped, as for PLAINTEXT://). */
static void registration_protocol(const config_t *cfg, const char *name, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", name);
    size_t n;
    char **items = config_list_split(config_get_string(cfg, "listener.security.protocol.map"), &n);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncasecmp(items[i], name, nl) == 0 && items[i][nl] == ':')
            snprintf(out, outlen, "%s", items[i] + nl + 1);
    config_list_free(items);
}

int registration_describe(const config_t *cfg, const char *default_host, registration_port_fn bound_port,
                          void *ctx, int64_t now_ms, zkdata_broker_t *out, char *err, size_t errlen) {
    zkdata_broker_init(out);
    size_t n;
    char **items = config_list_split(config_advertised_listeners(cfg), &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        config_listener_t l;
        if (config_listener_parse(items[i], &l) != 0) {
            errmsg_set(err, errlen, "cannot parse listener '%s'", items[i]);
            rc = -1;
            break;
        }
        char proto[64];
        registration_protocol(cfg, l.name, proto, sizeof proto);
        int port = l.port ? l.port : bound_port(ctx, l.name);
        zkdata_broker_add_endpoint(out, l.name, proto, l.host[0] ? l.host : default_host, port);
    }
    config_list_free(items);
    if (rc == 0 && n == 0) {
        errmsg_set(err, errlen, "no listener to register (set listeners or advertised.listeners)");
        rc = -1;
    }
    const char *rack = config_get_string(cfg, "broker.rack");
    out->rack = rack ? mem_strdup(rack) : NULL;
    out->jmx_port = -1;
    out->timestamp_ms = now_ms;
    return rc;
}

/* Kafka's checkedEphemeralCreate: a NODEEXISTS is ours when the node's
 * owner is this session (a create that was applied before its connection
 * was lost); anyone else's is a second broker with our id. */
int registration_register(zkc_t *zk, int32_t broker_id, const zkdata_broker_t *info, int64_t *broker_epoch,
                          char *err, size_t errlen) {
    char path[ZKDATA_PATH_MAX];
    zkdata_path_broker(path, sizeof path, broker_id);
    buf_t json;
    buf_init(&json);
    if (zkdata_broker_encode(&json, info, ZKDATA_BROKER_VERSION, err, errlen) != 0) {
        buf_free(&json);
        return -1;
    }
    zkc_err_t e = zkc_create(zk, path, json.data, (int)json.len, ZKC_EPHEMERAL, NULL);
    buf_free(&json);
    if (e != ZKC_OK && e != ZKC_NODEEXISTS && e != ZKC_CONNECTIONLOSS) {
        errmsg_set(err, errlen, "cannot register %s: %s", path, zkc_strerror(e));
        return -1;
    }
    zkc_stat_t st;
    zkc_err_t ge = zkc_exists(zk, path, &st);
    if (ge != ZKC_OK) {
        errmsg_set(err, errlen, "cannot register %s: %s", path, zkc_strerror(e != ZKC_OK ? e : ge));
        return -1;
    }
    int64_t session = zkc_session_id(zk, NULL);
    if (st.ephemeral_owner != session) {
        errmsg_set(err, errlen,
                   "Error while creating ephemeral at %s, node already exists and owner '0x%" PRIx64
                   "' does not match current session '0x%" PRIx64 "': broker id %d is registered by another "
                   "broker (stop it, or give this one another broker.id)",
                   path, (uint64_t)st.ephemeral_owner, (uint64_t)session, broker_id);
        return -1;
    }
    *broker_epoch = st.czxid;
    log_info(REG_TAG, "registered broker %d at path %s with addresses: %s:%d, czxid (broker epoch): %" PRId64,
             broker_id, path, info->n_endpoints ? info->endpoints[0].host : "", info->n_endpoints ? info->endpoints[0].port : 0,
             st.czxid);
    return 0;
}
