/*
 * broker — one samsa broker process: the configuration, the log manager,
 * the replica manager, the metadata cache and the network, wired together
 * (Kafka's KafkaServer). main.c parses the command line; broker_run() does
 * the rest until SIGTERM or SIGINT.
 *
 * Start-up follows KafkaServer: ZooKeeper session (zookeeper.connect),
 * cluster id and broker id (registration.h), log dirs checked against
 * them, logs loaded, listeners bound, /brokers/ids/<id> registered, the
 * controller started (controller.h). Partitions are served only once the
 * controller's LeaderAndIsr says so. Shutdown: a controlled shutdown
 * (controlled.shutdown.enable) moves leaderships away first, then the
 * network stops, the replica fetchers stop, the ZooKeeper session closes
 * and the logs are flushed and checkpointed.
 *
 * Threads and locks
 * -----------------
 *
 *   thread / loop            started by                   what runs there
 *   main                     main() -> broker_run         start-up; then every 500 ms
 *                                                         replica_manager_tick_logs (the log
 *                                                         manager's retention, flushes,
 *                                                         checkpoints, and the cleaner's
 *                                                         choice of a log and its swaps) and
 *                                                         replica_manager_maybe_shrink_isrs (the
 *                                                         ISR shrink scan, every
 *                                                         replica.lag.time.max.ms / 2);
 *                                                         sigtimedwait for SIGTERM /
 *                                                         SIGINT (blocked in every other thread);
 *                                                         controlled shutdown (a ZooKeeper read,
 *                                                         then waits for the ZooKeeper loop's
 *                                                         answer); the shutdown sequence
 *   acceptor                 net_start                    accept(), each socket to the next
 *                                                         network loop (round robin)
 *   N network loops          net_start                    each an evloop with its connections
 *                            (num.network.threads)        (framing, idle timers, delayed fetches
 *                                                         and acks=all produces: api_delayed.h)
 *                                                         and the handlers not offloaded:
 *                                                         Produce, Fetch, ListOffsets, Metadata,
 *                                                         OffsetsForLeaderEpoch,
 *                                                         ApiVersions, UpdateMetadata, StopReplica
 *                                                         (log deletion included),
 *                                                         ControlledShutdown and AlterIsr
 *                                                         (post to the controller)
 *   admin worker "admin"     broker_start (evloop)        api_offload: the handlers that wait for
 *                                                         ZooKeeper (CreateTopics, DeleteTopics,
 *                                                         CreatePartitions, DescribeConfigs,
 *                                                         LeaderAndIsr, a Metadata that
 *                                                         auto-creates topics, FindCoordinator:
 *                                                         __consumer_offsets' creation)
 *   ZooKeeper loop           broker_connect_zk (evloop)   zkc's executor: every ZooKeeper result,
 *     "zk-events"                                         watch and session callback;
 *                                                         broker_on_session (re-registration); the
 *                                                         whole controller (its kclients to every
 *                                                         broker, its timers); the config watcher
 *                                                         and broker_topic_config_changed; the
 *                                                         controlled-shutdown kclient; isr_sync
 *                                                         (a leader's ISR writes to ZooKeeper
 *                                                         and their notifications, or its
 *                                                         AlterIsr kclient to the controller)
 *   replica fetchers         fetcher_manager_add, on      each an evloop with one kclient to a
 *     "fetch-<leader>-<n>"   the admin worker (Leader-    leader: Fetch / ListOffsets round trips,
 *                            AndIsr); num.replica.        the appends of fetched data
 *                            fetchers per leader          (partition_follower_*); stopped when
 *                                                         idle after a LeaderAndIsr, and at
 *                                                         shutdown before the logs close
 *   log cleaner              log_manager_open (unless     compaction (log/cleaner.h): builds the
 *     "log-cleaner"          log.cleaner.enable=false;    key map and writes .cleaned segments
 *                            one thread whatever          from dup'd fds; touches no log_t and
 *                            log.cleaner.threads says)    takes no broker lock (its own mutex
 *                                                         only); the main thread's tick hands
 *                                                         it a job and swaps the result in
 *                                                         under the partition's lock; stopped
 *                                                         first thing in log_manager_close
 *   group coordinator        broker_start (evloop)        every consumer group: the group APIs
 *     "group"                                             handed over by api_group.c (JoinGroup ...
 *                                                         OffsetDelete, answered from here), their
 *                                                         timers (delayed joins, sessions), appends to
 *                                                         __consumer_offsets and their acks=all waits,
 *                                                         loading / unloading an offsets partition
 *                                                         (posted by the replica manager's role hook)
 *   metrics "metrics"        broker_metrics_start, when   evhttp: GET /metrics renders
 *                            metrics.listener is set      metrics_global() and runs its callback
 *                            (metrics_http.h)             gauges (replica_manager_counts under
 *                                                         each partition's lock; the controller's
 *                                                         offline count posted to the ZooKeeper
 *                                                         loop, awaited at most 1 s); GET /health
 *   zkc supervisor           zkc_open                     replaces an expired session, re-sends
 *                                                         reads a disconnect lost; no callbacks
 *   ZooKeeper I/O and        zookeeper_init (zkc_open,    libzookeeper_mt's own pair, one per
 *     completion threads     zkc_renew)                   session handle; zkc posts what they
 *                                                         deliver to the ZooKeeper loop
 *
 * There are no others: the log manager's only thread is the cleaner (the
 * main thread ticks the rest), and a kclient runs on the loop that made it
 * (the ZooKeeper loop, or a replica fetcher's).
 *
 *   lock                           protects                          taken by
 *   replica_manager.logs_lock      the log manager: every call       admin worker (LeaderAndIsr
 *     (mutex)                      after open (log creation,         creates a log), network loops
 *                                  deletion, background tasks)       (StopReplica deletes), main
 *                                                                    (tick)
 *   replica_manager.lock           the partition table and the       read: every lookup, any
 *     (rwlock)                     newest controller epoch           thread; write: a new
 *                                                                    partition (admin), an epoch
 *                                                                    check (admin, network loops)
 *   partition.lock (mutex)         every mutable field of the        every partition_* call; the
 *                                  partition and all of its log_t    log manager's tasks, per log,
 *                                  (log.h is not thread-safe), the   via replica_manager_lock_log
 *                                  leader's follower state and the
 *                                  ISR change in flight
 *   fetcher_manager.lock (mutex)   which fetcher follows which       admin worker (LeaderAndIsr),
 *                                  partition; the fetcher list       network loops (StopReplica),
 *                                                                    main (stop); posts to a
 *                                                                    fetcher's loop under it
 *   metadata_cache.write_lock      one update at a time              network loops (UpdateMetadata)
 *   metadata_cache.lock            the current snapshot and every    acquire / release, any thread
 *                                  snapshot's reference count
 *   isr_sync.lock (mutex)          the ISR changes submitted and     isr_sync_submit, any thread
 *                                  not yet taken by the ZooKeeper    (also under partition.lock);
 *                                  loop                              the ZooKeeper loop
 *   cleaner.mu (mutex)             the job handed to the cleaner     the log manager's tick (main,
 *                                  thread and the one it finished    under logs_lock, no partition
 *                                                                    lock); the cleaner thread
 *   metrics registry mutex         families, children, callback      registration (any thread);
 *     (util/metrics.h)             gauges' fn (values: atomics)      a scrape's snapshot
 *   an evloop's mutex              its task queue                    evloop_run, any thread
 *   zkc's zh_lock -> mu            zkc's handle, session state,      zkc only
 *                                  retry queue
 *   atomics                        broker.controller, controller.active_id,
 *                                  config_watcher.last_seq, a delayed operation's refs
 *                                  (api_delayed.h)
 *
 * The lock order, the only one: replica_manager.logs_lock ->
 * replica_manager.lock -> partition.lock -> isr_sync.lock -> an evloop's
 * mutex (a partition wakes its waiting fetches and produces under its lock,
 * and hands ISR changes to the ISR sink under it, which submits them to
 * isr_sync: both post to a loop). The metrics registry's mutex is a leaf:
 * taken under any of these (a partition registers its counters, an ISR
 * commit counts itself), nothing is taken or called under it.
 * replica_manager_lock_log drops the table lock before it takes the
 * partition's; only replica_manager_for_each holds both.
 * cleaner.mu is a leaf: taken inside logs_lock (and never with another
 * lock inside it); the cleaner thread holds nothing else.
 * fetcher_manager.lock -> an evloop's mutex, with no other lock held (a
 * fetcher's own loop takes partition locks, never the manager's). The metadata
 * cache's write_lock -> lock nests with nothing else. No broker lock is
 * held across a ZooKeeper call, an evloop_run_sync or any wait for another
 * thread.
 *
 * Hand-off: state that belongs to a loop — a connection, a delayed fetch
 * or produce, an admin request's wait for metadata, the controller and its
 * context, the config watcher, a kclient, any evloop timer — is touched
 * only on that loop. Other threads post to it with evloop_run: a handler on the admin
 * worker answers through its connection's loop, an append (or a high
 * watermark that moved) wakes a delayed fetch or produce by posting its
 * re-check, the main thread reaches the controller and the config watcher
 * through the ZooKeeper loop, a partition's ISR change goes through the ISR
 * sink (replica_manager_set_isr_sink) to wherever it is written, and its
 * outcome comes back from any thread (replica_manager_isr_change_done).
 *
 * Field notes (here and in each module's structs): "owner: <loop>" — only
 * that thread touches it; "under: <lock>"; "immutable after start-up" —
 * written before the threads that read it exist (or before the broker
 * serves), never again; "atomic".
 *
 * Known departures from this map (not yet fixed):
 *   - registered and config_watcher are written by the main thread during
 *     start-up while the ZooKeeper loop may read them (broker_on_session).
 *   - replica_manager_for_each tests each partition's log without its lock
 *     (only the count it returns can be off: the callback re-checks under
 *     the lock).
 */
#ifndef SAMSA_BROKER_H
#define SAMSA_BROKER_H

#include "util/config.h"
#include "server/config_watcher.h"
#include "controller/controller.h"
#include "net/evloop.h"
#include "proto/kerr.h"
#include "log/log_manager.h"
#include "replica/fetcher.h"
#include "replica/metadata_cache.h"
#include "net/net.h"
#include "replica/replica_manager.h"
#include "replica/isr_sync.h"
#include "group/group_coordinator.h"
#include "admin/topic_admin.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"
#include "server/metrics_http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct broker {
    /* immutable after start-up; read by every thread */
    const config_t *cfg;
    int32_t id;
    char cluster_id[64];
    char advertised_host[256];
    int32_t advertised_port;

    /* The pointers are immutable after start-up (logs: main thread sets it
     * NULL once the network and the admin worker stopped); what they point
     * at is thread-safe (replicas, metadata) or under its lock (logs: under
     * replica_manager.logs_lock). */
    log_manager_t *logs;
    replica_manager_t *replicas;
    metadata_cache_t *metadata;
    /* The pointer: immutable after start-up (created before the network
     * starts, so before any LeaderAndIsr; stopped by main after the network
     * and the admin worker, before the logs close). The manager is
     * thread-safe (fetcher.h). */
    fetcher_manager_t *fetchers;
    net_t *net;             /* owner: main thread (start, stop) */

    evloop_t *zk_loop;      /* ZooKeeper callbacks and the controller; immutable after start-up */
    evloop_t *admin_loop;   /* request handlers that wait for ZooKeeper (api_offload); immutable after start-up */
    zkc_t *zk;              /* immutable after start-up; zkc is thread-safe */
    _Atomic(controller_t *) controller; /* atomic: set once at start-up, read by network loops and admin */
    config_watcher_t *config_watcher; /* dynamic topic configs; set by main at start-up, read on the ZooKeeper loop */
    /* The group coordinator (its own loop owns every group); the pointer is
     * immutable after start-up (set before the network starts), gc_submit
     * and gc_partition_role are thread-safe. */
    gc_t *groups;
    isr_sync_t *isr_sync;   /* ISR changes to ZooKeeper / the controller; immutable after start-up
                             * (set before the network starts), runs on the ZooKeeper loop */
    /* main thread until registered, then owner: ZooKeeper loop (re-registration
     * after a session expiry; the controlled-shutdown request reads the epoch) */
    zkdata_broker_t registration;
    bool registered;
    int64_t broker_epoch;   /* czxid of our /brokers/ids node */
    tadmin_config_cache_t load_cfg; /* owner: main thread, start-up only: topic overrides while logs load */
    metrics_http_t *metrics_http; /* owner: main thread (start, stop); NULL: metrics.listener unset */
    /* atomic: set by main once started, cleared when shutdown begins; /health reads it */
    atomic_bool serving;

    /* immutable after start-up */
    bool auto_create_topics;
    bool delete_topic_enable;
    int32_t num_partitions;
    int32_t default_replication_factor;
    int32_t min_insync_replicas; /* broker default; topic overrides come with topic configs */
} broker_t;

/* Runs the broker until a signal asks it to stop; returns the process exit
 * status (0 after a clean shutdown). */
int broker_run(const config_t *cfg);

/* Kafka's controlled shutdown, broker side: asks the controller
 * (ControlledShutdown) to move this broker's leaderships away, retrying
 * controlled.shutdown.max.retries times controlled.shutdown.retry.backoff.ms
 * apart while partitions remain. Blocks; returns true when nothing
 * remained. */
bool broker_controlled_shutdown(broker_t *b);
/* After a controlled shutdown that moved everything: stops leading the
 * partitions still marked led here (partition_resign_leadership), which
 * answers the acks=all produces waiting on them. */
void broker_resign_leaderships(broker_t *b);

/* broker_metrics.c, main thread: hooks the broker's scrape-time gauges into
 * metrics_global() and serves them on metrics.listener (nothing when
 * unset); 0, or -1 with a message. Stop unhooks them once no scrape runs. */
int broker_metrics_start(broker_t *b, char *err, size_t errlen);
void broker_metrics_stop(broker_t *b);

#endif
