/*
 * config_watcher — dynamic topic configuration, as Kafka 2.8's
 * ZkConfigManager and its change-notification listener: whoever changes
 * /config/topics/<t> (samsa-topics --alter --config, kafka-configs.sh)
 * also creates a sequential /config/changes/config_change_<n> naming
 * "topics/<t>". Every broker watches /config/changes, processes each new
 * notification once (in sequence order, from the last one it handled) and
 * hands the topic to its callback, which applies the new overrides to the
 * partitions it hosts. Notifications older than 15 minutes are deleted
 * (Kafka's changeExpirationMs), by whichever broker sees them first.
 *
 * Everything runs on the ZooKeeper event loop (zkc's executor): its state
 * has owner: that loop and no lock; the calls below post to it (start) or
 * wait for it (stop), and config_watcher_last_seq reads an atomic. The
 * callback runs there too (the broker's takes the replica manager's
 * table and partition locks to apply the new settings).
 *
 * Other entity types (clients, users, brokers, ips) are not applied: samsa
 * has no quotas or dynamic broker configs yet, and says so once per
 * notification.
 */
#ifndef SAMSA_CONFIG_WATCHER_H
#define SAMSA_CONFIG_WATCHER_H

#include "net/evloop.h"
#include "zk/zkc.h"

#include <stdint.h>

typedef struct config_watcher config_watcher_t;

/* Called on the loop for a topic whose overrides may have changed. */
typedef void (*config_watcher_topic_fn)(void *ctx, const char *topic);

config_watcher_t *config_watcher_new(zkc_t *zk, evloop_t *loop, config_watcher_topic_fn fn, void *ctx);
/* (Re)starts watching: now, and after a new ZooKeeper session (watches of
 * the old one are gone). Posts to the loop. */
void config_watcher_start(config_watcher_t *w);
/* Stops, on the loop, and waits; pending watches become no-ops. */
void config_watcher_stop(config_watcher_t *w);
/* After config_watcher_stop, zkc_close and the loop's end (dropped watches
 * still reach it until then). NULL is a no-op. */
void config_watcher_free(config_watcher_t *w);

/* The sequence number of the last notification handled (-1: none). */
int64_t config_watcher_last_seq(const config_watcher_t *w);

#endif
