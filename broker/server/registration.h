/*
 * registration — this broker's place in ZooKeeper, as KafkaServer.startup
 * and KafkaZkClient make it in Kafka 2.8:
 *
 *   1. the persistent paths every broker creates when absent (/brokers/ids,
 *      /brokers/topics, /config/..., /admin/delete_topics, ...);
 *   2. the cluster id: /cluster/id, created once by whichever broker comes
 *      first, then read by all (and compared with meta.properties by the
 *      caller, so a broker pointed at the wrong ZooKeeper refuses to start);
 *   3. a broker id when broker.id is -1 (broker.id.generation.enable): the
 *      version of /brokers/seqid after a write, plus reserved.broker.max.id;
 *   4. the ephemeral /brokers/ids/<id> with Kafka's JSON. An existing node
 *      owned by another session means another broker runs with this id: a
 *      clear error, the broker does not start. Its creation zxid is the
 *      broker epoch the controller fences requests with.
 *
 * All calls are synchronous ZooKeeper round trips (start-up on the main
 * thread, and once more after a session expiry, from broker_on_session on
 * the ZooKeeper loop). No state of its own: what registration_describe and
 * registration_register fill (the broker's registration and broker_epoch)
 * belongs to the main thread until the broker is registered, then to the
 * ZooKeeper loop (broker.h).
 */
#ifndef SAMSA_REGISTRATION_H
#define SAMSA_REGISTRATION_H

#include "util/config.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <stddef.h>
#include <stdint.h>

/* Steps 1-3. cluster_id receives /cluster/id's id (new or existing);
 * *broker_id is replaced by a generated one when it is -1. 0, or -1 with
 * a message. */
int registration_prepare(zkc_t *zk, const config_t *cfg, char *cluster_id, size_t cluster_id_len, int32_t *broker_id,
                         char *err, size_t errlen);

/* The registration JSON's content for this broker: every advertised
 * listener (advertised.listeners, else listeners) with its security
 * protocol from listener.security.protocol.map, a host "" replaced by
 * default_host, a port 0 by the port the listener of that name was bound
 * to (bound_port(ctx, name)); broker.rack. Fills out (initialised here). */
typedef int (*registration_port_fn)(void *ctx, const char *listener_name);
int registration_describe(const config_t *cfg, const char *default_host, registration_port_fn bound_port,
                          void *ctx, int64_t now_ms, zkdata_broker_t *out, char *err, size_t errlen);

/* Step 4: creates /brokers/ids/<id> (ephemeral, this session). Fine when
 * this very session already holds it (a retry after a lost connection).
 * *broker_epoch: the node's czxid. 0, or -1 with a message. */
int registration_register(zkc_t *zk, int32_t broker_id, const zkdata_broker_t *info, int64_t *broker_epoch,
                          char *err, size_t errlen);

#endif
