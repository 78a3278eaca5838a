#include "broker.h"

#include "api.h"
#include "clock.h"
#include "leader_epoch.h"
#include "logger.h"
#include "mem.h"
#include "meta_properties.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#define BROKER_TAG "broker"
#define BROKER_TICK_MS 500

bool broker_topic_name_valid(const char *name, size_t len) {
    if (!name || len == 0 || len > 249)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

/* --- standalone leadership ---------------------------------------------------- */

/* This broker leads partition p of topic alone, at leader epoch epoch. */
static kerr_t broker_lead_alone(broker_t *b, const char *topic, int32_t index, int32_t epoch, int64_t now_ms) {
    partition_state_t st = {.controller_epoch = 0, .leader_id = b->id, .leader_epoch = epoch, .zk_version = 0,
                            .replicas = &b->id, .nreplicas = 1, .isr = &b->id, .nisr = 1};
    kerr_t e = replica_manager_apply(b->replicas, topic, index, &st, NULL, now_ms);
    if (e != KERR_NONE)
        return e;
    mc_partition_t mp = {.index = index, .leader = b->id, .leader_epoch = epoch, .replicas = &b->id,
                         .nreplicas = 1, .isr = &b->id, .nisr = 1, .offline = NULL, .noffline = 0};
    metadata_cache_set_partition(b->metadata, topic, &mp);
    return KERR_NONE;
}

kerr_t broker_create_topic_locally(broker_t *b, const char *topic, int32_t n, int64_t now_ms) {
    kerr_t first = KERR_NONE;
    pthread_mutex_lock(&b->create_lock);
    for (int32_t i = 0; i < n; i++) {
        if (replica_manager_get(b->replicas, topic, i))
            continue;
        kerr_t e = broker_lead_alone(b, topic, i, 0, now_ms);
        if (e != KERR_NONE && first == KERR_NONE)
            first = e;
    }
    pthread_mutex_unlock(&b->create_lock);
    if (first == KERR_NONE)
        log_info(BROKER_TAG, "created topic %s with %d partition(s)", topic, n);
    return first;
}

/* After a start, a standalone broker leads every log it found, with a new
 * leader epoch (one above the last one its epoch cache remembers). */
static kerr_t broker_lead_existing_logs(broker_t *b, int64_t now_ms) {
    size_t n = log_manager_count(b->logs);
    for (size_t i = 0; i < n; i++) {
        log_manager_entry_t e;
        if (!log_manager_at(b->logs, i, &e))
            continue;
        int32_t last = leader_epoch_latest_epoch(log_leader_epochs(e.log));
        kerr_t err = broker_lead_alone(b, e.topic, e.partition, last < 0 ? 0 : last + 1, now_ms);
        if (err != KERR_NONE)
            return err;
    }
    return KERR_NONE;
}

/* --- start-up ---------------------------------------------------------------------- */

/* A 22-character URL-safe base64 id, as Kafka's cluster ids look. */
static void broker_new_cluster_id(char out[23]) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[22];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (uint8_t)(clock_mono_ns() >> (i % 8));
    for (size_t i = 0; i < 22; i++)
        out[i] = alphabet[raw[i] & 63];
    out[22] = '\0';
}

/* Each log dir's meta.properties must name this broker; the cluster id is
 * taken from the first dir that has one (a new one otherwise) and written
 * where it is missing. */
static int broker_check_log_dirs(broker_t *b, char *err, size_t errlen) {
    size_t n;
    const char *const *dirs = log_manager_dirs(b->logs, &n);
    b->cluster_id[0] = '\0';
    for (size_t i = 0; i < n && !b->cluster_id[0]; i++) {
        meta_properties_t mp;
        meta_properties_init(&mp);
        if (meta_properties_read(dirs[i], &mp, err, errlen) < 0)
            return -1;
        if (mp.cluster_id)
            snprintf(b->cluster_id, sizeof b->cluster_id, "%s", mp.cluster_id);
        meta_properties_free(&mp);
    }
    if (!b->cluster_id[0])
        broker_new_cluster_id(b->cluster_id);
    for (size_t i = 0; i < n; i++) {
        if (meta_properties_check(dirs[i], b->id, b->cluster_id, err, errlen) != META_PROPERTIES_OK)
            return -1;
        meta_properties_t mp;
        meta_properties_init(&mp);
        mp.has_broker_id = true;
        mp.broker_id = b->id;
        meta_properties_set_cluster_id(&mp, b->cluster_id);
        int rc = meta_properties_write(dirs[i], &mp, clock_wall_ms(), err, errlen);
        meta_properties_free(&mp);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The address clients are told: advertised.listeners (else listeners); an
 * empty host means this machine's name, port 0 the port actually bound. */
static int broker_resolve_advertised(broker_t *b, char *err, size_t errlen) {
    size_t n;
    char **items = config_list_split(config_advertised_listeners(b->cfg), &n);
    int rc = -1;
    config_listener_t l;
    if (n == 0 || config_listener_parse(items[0], &l) != 0) {
        snprintf(err, errlen, "no usable listener in advertised.listeners / listeners");
    } else {
        if (l.host[0])
            snprintf(b->advertised_host, sizeof b->advertised_host, "%s", l.host);
        else if (gethostname(b->advertised_host, sizeof b->advertised_host) != 0)
            snprintf(b->advertised_host, sizeof b->advertised_host, "localhost");
        b->advertised_port = l.port;
        rc = 0;
    }
    config_list_free(items);
    return rc;
}

static net_t *broker_start_net(broker_t *b, char *err, size_t errlen) {
    size_t n;
    char **items = config_list_split(config_get_string(b->cfg, "listeners"), &n);
    config_listener_t *ls = mem_calloc(n + 1, sizeof *ls);
    net_listen_t *listens = mem_calloc(n + 1, sizeof *listens);
    for (size_t i = 0; i < n; i++) {
        config_listener_parse(items[i], &ls[i]);
        listens[i] = (net_listen_t){ls[i].name, ls[i].host, ls[i].port};
    }
    net_config_t nc;
    net_config_init(&nc);
    nc.listeners = listens;
    nc.nlisteners = n;
    nc.num_network_threads = config_get_int(b->cfg, "num.network.threads");
    nc.socket_request_max_bytes = config_get_int(b->cfg, "socket.request.max.bytes");
    nc.connections_max_idle_ms = config_get_long(b->cfg, "connections.max.idle.ms");
    nc.socket_send_buffer_bytes = config_get_int(b->cfg, "socket.send.buffer.bytes");
    nc.socket_receive_buffer_bytes = config_get_int(b->cfg, "socket.receive.buffer.bytes");
    const char *mode = getenv("SAMSA_NET_SEND_MODE");
    if (mode && net_send_mode_parse(mode, &nc.send_mode) != 0)
        log_warn(BROKER_TAG, "unknown SAMSA_NET_SEND_MODE '%s'; using %s", mode, net_send_mode_name(nc.send_mode));
    nc.on_request = api_on_request;
    nc.ctx = b;
    net_t *net = net_new(&nc, err, errlen);
    if (net && net_start(net, err, errlen) != 0) {
        net_free(net);
        net = NULL;
    }
    if (net && b->advertised_port == 0 && net_listener_count(net) > 0)
        b->advertised_port = net_listener_port(net, 0);
    free(listens);
    free(ls);
    config_list_free(items);
    return net;
}

/* Many partitions cost file handles (the book's point): take what the hard
 * limit allows. */
static void broker_raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void broker_free(broker_t *b) {
    net_free(b->net);
    if (b->logs)
        log_manager_close(b->logs, true);
    replica_manager_free(b->replicas);
    metadata_cache_free(b->metadata);
    pthread_mutex_destroy(&b->create_lock);
}

static int broker_start(broker_t *b, char *err, size_t errlen) {
    int64_t now = clock_wall_ms();
    log_manager_opts_t lo = {.now_ms = now, .log_lock = replica_manager_lock_log, .log_lock_ctx = &b->replicas};
    if (log_manager_open(b->cfg, b->id, &lo, &b->logs, err, errlen) != KERR_NONE)
        return -1;
    if (broker_check_log_dirs(b, err, errlen) != 0 || broker_resolve_advertised(b, err, errlen) != 0)
        return -1;
    b->replicas = replica_manager_new(b->logs, b->id);
    b->metadata = metadata_cache_new();
    b->net = broker_start_net(b, err, errlen);
    if (!b->net)
        return -1;
    mc_broker_t self = {b->id, b->advertised_host, b->advertised_port, (char *)config_get_string(b->cfg, "broker.rack")};
    metadata_cache_set_brokers(b->metadata, &self, 1, b->id);
    if (broker_lead_existing_logs(b, now) != KERR_NONE) {
        snprintf(err, errlen, "cannot take leadership of the existing logs");
        return -1;
    }
    return 0;
}

/* The main thread keeps the background tasks going and waits for a signal. */
static void broker_wait_for_signal(broker_t *b, const sigset_t *stop) {
    struct timespec tick = {BROKER_TICK_MS / 1000, (BROKER_TICK_MS % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(stop, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info(BROKER_TAG, "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return;
        replica_manager_tick_logs(b->replicas, clock_wall_ms());
    }
}

int broker_run(const config_t *cfg) {
    broker_t b;
    memset(&b, 0, sizeof b);
    b.cfg = cfg;
    b.id = config_get_int(cfg, "broker.id");
    if (b.id < 0)
        b.id = 0; /* no ZooKeeper to hand out ids yet */
    b.standalone = true;
    b.auto_create_topics = config_get_bool(cfg, "auto.create.topics.enable");
    b.num_partitions = config_get_int(cfg, "num.partitions");
    b.min_insync_replicas = config_get_int(cfg, "min.insync.replicas");
    pthread_mutex_init(&b.create_lock, NULL);
    broker_raise_fd_limit();

    /* Signals go to the main thread only: block them before any thread starts. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[1024] = "";
    if (broker_start(&b, err, sizeof err) != 0) {
        log_error(BROKER_TAG, "start-up failed: %s", err);
        broker_free(&b);
        return 1;
    }
    log_info(BROKER_TAG, "broker %d started (cluster %s), serving %s:%d", b.id, b.cluster_id, b.advertised_host,
             b.advertised_port);
    broker_wait_for_signal(&b, &stop);
    net_stop(b.net);
    kerr_t e = log_manager_close(b.logs, true);
    b.logs = NULL;
    broker_free(&b);
    log_info(BROKER_TAG, "shut down %s", e == KERR_NONE ? "cleanly" : "with errors (see above)");
    return e == KERR_NONE ? 0 : 1;
}
