#include "server/broker.h"

#include "api/api.h"
#include "util/clock.h"
#include "log/leader_epoch.h"
#include "util/logger.h"
#include "util/mem.h"
#include "log/meta_properties.h"
#include "server/registration.h"
#include "admin/topic_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BROKER_TAG "broker"
#define BROKER_TICK_MS 500

/* --- start-up ---------------------------------------------------------------------- */

/* Each log dir's meta.properties must name this broker and the cluster
 * ZooKeeper holds (Kafka's InconsistentClusterIdException /
 * InconsistentBrokerIdException); then it is written where missing. */
static int broker_check_log_dirs(broker_t *b, char *err, size_t errlen) {
    size_t n;
    const char *const *dirs = log_manager_dirs(b->logs, &n);
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

/* broker.id -1: the id a log dir's meta.properties remembers, else none
 * (ZooKeeper generates one). */
static void broker_id_from_log_dirs(const config_t *cfg, int32_t *id) {
    size_t n;
    char **dirs = config_list_split(config_log_dirs(cfg), &n);
    for (size_t i = 0; i < n && *id < 0; i++) {
        meta_properties_t mp;
        if (meta_properties_read(dirs[i], &mp, NULL, 0) == 1 && mp.has_broker_id)
            *id = mp.broker_id;
        meta_properties_free(&mp);
    }
    config_list_free(dirs);
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

/* --- ZooKeeper ------------------------------------------------------------------- */

/* The port the listener named name was bound to (for advertised port 0). */
static int broker_bound_port(void *ctx, const char *name) {
    broker_t *b = ctx;
    size_t n;
    char **items = config_list_split(config_get_string(b->cfg, "listeners"), &n);
    int port = 0;
    for (size_t i = 0; i < n && i < net_listener_count(b->net); i++) {
        config_listener_t l;
        if (config_listener_parse(items[i], &l) == 0 && strcasecmp(l.name, name) == 0)
            port = net_listener_port(b->net, i);
    }
    config_list_free(items);
    return port;
}

/* On the ZooKeeper loop: after a session expired and a new one replaced it,
 * the broker registers again and the controller re-elects (Kafka's
 * RegisterBrokerAndReelect). */
static void broker_on_session(void *ctx, zkc_session_event_t ev) {
    broker_t *b = ctx;
    log_info(BROKER_TAG, "ZooKeeper session %s", zkc_session_event_name(ev));
    if (ev == ZKC_SESSION_NEW && b->registered) {
        char err[512];
        b->registration.timestamp_ms = clock_wall_ms();
        if (registration_register(b->zk, b->id, &b->registration, &b->broker_epoch, err, sizeof err) != 0)
            log_error(BROKER_TAG, "re-registration failed: %s", err);
    }
    controller_t *c = atomic_load(&b->controller);
    if (c)
        controller_on_session(c, (int)ev);
    if (ev == ZKC_SESSION_NEW && b->config_watcher)
        config_watcher_start(b->config_watcher);
}

/* On the ZooKeeper loop: a topic's overrides changed. The partitions hosted
 * here take them (Kafka's TopicConfigHandler), and the controller, if this
 * broker is it, sees whether unclean elections became allowed. */
static void broker_topic_config_changed(void *ctx, const char *topic) {
    broker_t *b = ctx;
    config_topic_t *tc = NULL;
    char msg[256];
    if (tadmin_topic_config_load(b->zk, b->cfg, topic, &tc, msg, sizeof msg) != KERR_NONE) {
        log_warn(BROKER_TAG, "topic %s: cannot read its new configs: %s", topic, msg);
        return;
    }
    int n = replica_manager_reconfigure_topic(b->replicas, b->cfg, topic, tc);
    if (n > 0)
        log_info(BROKER_TAG, "topic %s: new configs applied to %d partition(s)", topic, n);
    bool unclean = tc ? config_topic_get_bool(tc, "unclean.leader.election.enable")
                      : config_get_bool(b->cfg, "unclean.leader.election.enable");
    config_topic_free(tc);
    controller_t *c = atomic_load(&b->controller);
    if (c)
        controller_topic_config_changed(c, topic, unclean);
}

static int broker_connect_zk(broker_t *b, char *err, size_t errlen) {
    b->zk_loop = evloop_new("zk-events", err, errlen);
    if (!b->zk_loop || evloop_start(b->zk_loop, err, errlen) != 0)
        return -1;
    zkc_config_t zc = {
        .connect = config_get_string(b->cfg, "zookeeper.connect"),
        .session_timeout_ms = config_get_int(b->cfg, "zookeeper.session.timeout.ms"),
        .connection_timeout_ms = config_zk_connection_timeout_ms(b->cfg),
        .post = evloop_post,
        .post_ctx = b->zk_loop,
        .on_session = broker_on_session,
        .session_ctx = b,
    };
    b->zk = zkc_open(&zc, err, errlen);
    if (!b->zk)
        return -1;
    return registration_prepare(b->zk, b->cfg, b->cluster_id, sizeof b->cluster_id, &b->id, err, errlen);
}

static int broker_register(broker_t *b, char *err, size_t errlen) {
    if (registration_describe(b->cfg, b->advertised_host, broker_bound_port, b, clock_wall_ms(), &b->registration,
                              err, errlen) != 0)
        return -1;
    if (registration_register(b->zk, b->id, &b->registration, &b->broker_epoch, err, errlen) != 0)
        return -1;
    b->registered = true;
    return 0;
}

/* --- life cycle ---------------------------------------------------------------------- */

static void broker_free(broker_t *b) {
    broker_metrics_stop(b); /* its gauges read the components below */
    evloop_free(b->admin_loop); /* runs what is queued while the loops still exist */
    net_free(b->net);
    gc_free(b->groups); /* after the loops that could still post to it */
    fetcher_manager_free(b->fetchers); /* before the logs close */
    controller_t *c = atomic_load(&b->controller);
    if (c)
        controller_stop(c);
    if (b->config_watcher)
        config_watcher_stop(b->config_watcher);
    isr_sync_stop(b->isr_sync);
    zkc_close(b->zk);
    evloop_free(b->zk_loop); /* runs what zkc_close queued */
    controller_free(c);
    config_watcher_free(b->config_watcher);
    isr_sync_free(b->isr_sync);
    if (b->logs)
        log_manager_close(b->logs, true);
    replica_manager_free(b->replicas);
    metadata_cache_free(b->metadata);
    zkdata_broker_free(&b->registration);
    tadmin_config_cache_free(&b->load_cfg);
}

/* The overrides of a topic whose logs are being loaded, from ZooKeeper (as
 * Kafka's LogManager fetches them at start-up). */
static const config_topic_t *broker_topic_config_for_load(void *ctx, const char *topic) {
    broker_t *b = ctx;
    return tadmin_config_cache_get(&b->load_cfg, b->zk, b->cfg, topic);
}

/* --- ISR changes: partitions (any thread, under a partition's lock) -> isr_sync
 * (the ZooKeeper loop; it is the replica manager's ISR sink) -> back to the
 * partition ----------------------------------------------------------------------- */

static void broker_isr_change_done(void *ctx, const char *topic, int32_t partition, int32_t leader_epoch,
                                   kerr_t err, const int32_t *isr, int32_t nisr, int32_t new_zk_version) {
    broker_t *b = ctx;
    replica_manager_isr_change_done(b->replicas, topic, partition, leader_epoch, err, isr, nisr, new_zk_version);
}

/* On the ZooKeeper loop, which owns the epoch once registered. */
static int64_t broker_current_epoch(void *ctx) {
    return ((broker_t *)ctx)->broker_epoch;
}

static int broker_start(broker_t *b, char *err, size_t errlen) {
    if (broker_connect_zk(b, err, errlen) != 0)
        return -1;
    int64_t now = clock_wall_ms();
    log_manager_opts_t lo = {.now_ms = now,
                             .topic_config = broker_topic_config_for_load,
                             .topic_config_ctx = b,
                             .log_lock = replica_manager_lock_log,
                             .log_lock_ctx = &b->replicas};
    kerr_t le = log_manager_open(b->cfg, b->id, &lo, &b->logs, err, errlen);
    tadmin_config_cache_free(&b->load_cfg);
    if (le != KERR_NONE)
        return -1;
    if (broker_check_log_dirs(b, err, errlen) != 0 || broker_resolve_advertised(b, err, errlen) != 0)
        return -1;
    b->replicas = replica_manager_new(b->logs, b->id, b->cfg);
    isr_sync_config_t ic = {b->cfg, b->id, b->zk, b->zk_loop, broker_isr_change_done, broker_current_epoch, b};
    b->isr_sync = isr_sync_new(&ic);
    replica_manager_set_isr_sink(b->replicas, isr_sync_submit, b->isr_sync);
    b->metadata = metadata_cache_new();
    fetcher_config_t fc;
    fetcher_config_from(b->cfg, b->id, &fc);
    b->fetchers = fetcher_manager_new(&fc); /* before the network: LeaderAndIsr uses it */
    b->admin_loop = evloop_new("admin", err, errlen);
    if (!b->admin_loop || evloop_start(b->admin_loop, err, errlen) != 0)
        return -1;
    gc_deps_t gd = {b->cfg, b->id, b->replicas, b->metadata};
    b->groups = gc_new(&gd, err, errlen);
    if (!b->groups || gc_start(b->groups, err, errlen) != 0)
        return -1;
    replica_manager_set_role_hook(b->replicas, gc_role_hook, b->groups); /* before any LeaderAndIsr */
    b->net = broker_start_net(b, err, errlen);
    if (!b->net)
        return -1;
    /* before registering: a taken metrics.listener fails the start before
     * the broker is published; /health says 503 until it serves */
    if (broker_metrics_start(b, err, errlen) != 0)
        return -1;
    if (broker_register(b, err, errlen) != 0)
        return -1;
    controller_config_t cc = {b->cfg, b->id, b->zk, b->zk_loop};
    controller_t *c = controller_new(&cc);
    atomic_store(&b->controller, c);
    controller_start(c);
    b->config_watcher = config_watcher_new(b->zk, b->zk_loop, broker_topic_config_changed, b);
    config_watcher_start(b->config_watcher);
    return 0;
}

/* Type=notify (conf/systemd/samsa-broker.service): systemd's readiness
 * protocol without libsystemd, one datagram to $NOTIFY_SOCKET (a path, or
 * "@name" in the abstract namespace). Nothing when systemd did not ask. */
static void broker_notify_systemd(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = path ? strlen(path) : 0;
    if (n < 2 || n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
        return;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        log_warn(BROKER_TAG, "cannot tell systemd %s through %s: %s", state, path, strerror(errno));
    if (fd >= 0)
        close(fd);
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
        replica_manager_maybe_shrink_isrs(b->replicas, clock_wall_ms());
    }
}

int broker_run(const config_t *cfg) {
    broker_t b;
    memset(&b, 0, sizeof b);
    b.cfg = cfg;
    b.id = config_get_int(cfg, "broker.id");
    if (b.id < 0)
        broker_id_from_log_dirs(cfg, &b.id);
    b.auto_create_topics = config_get_bool(cfg, "auto.create.topics.enable");
    b.delete_topic_enable = config_get_bool(cfg, "delete.topic.enable");
    b.num_partitions = config_get_int(cfg, "num.partitions");
    b.default_replication_factor = config_get_int(cfg, "default.replication.factor");
    b.min_insync_replicas = config_get_int(cfg, "min.insync.replicas");
    atomic_init(&b.controller, NULL);
    atomic_init(&b.serving, false);
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
    atomic_store(&b.serving, true);
    broker_notify_systemd("READY=1");
    broker_wait_for_signal(&b, &stop);
    atomic_store(&b.serving, false);
    broker_notify_systemd("STOPPING=1");
    if (config_get_bool(cfg, "controlled.shutdown.enable") && broker_controlled_shutdown(&b))
        broker_resign_leaderships(&b);
    gc_stop(b.groups); /* its parked requests answered while the network still runs */
    broker_metrics_stop(&b);
    net_stop(b.net);
    evloop_stop(b.admin_loop); /* no handler may touch the logs while they close */
    fetcher_manager_stop(b.fetchers); /* nor a fetcher (no LeaderAndIsr can start one now) */
    if (b.config_watcher) /* nor a topic config change, applied on the ZooKeeper loop */
        config_watcher_stop(b.config_watcher);
    isr_sync_stop(b.isr_sync); /* nor an ISR change's outcome (it moves the high watermark) */
    kerr_t e = log_manager_close(b.logs, true);
    b.logs = NULL;
    broker_free(&b);
    log_info(BROKER_TAG, "shut down %s", e == KERR_NONE ? "cleanly" : "with errors (see above)");
    return e == KERR_NONE ? 0 : 1;
}
