/*
 * api_metrics — Kafka's request-layer metrics, as jmx_exporter names them:
 *
 *   kafka_network_requestmetrics_totaltimems{request=...}  histogram (ms):
 *       from the frame's arrival to its answer handed to the connection
 *       (Fetch split as Kafka splits it: FetchConsumer, FetchFollower)
 *   kafka_network_requestchannel_requestqueuesize          gauge: requests
 *       waiting for the admin worker (the handlers that wait for ZooKeeper;
 *       samsa's network loops run the others at once)
 *   kafka_server_delayedoperationpurgatory_purgatorysize{delayedoperation=
 *       "Produce"|"Fetch"}                                 gauge: acks=all
 *       produces and long-polling fetches waiting (api_delayed.h)
 *   kafka_server_brokertopicmetrics_bytesout_total{topic}  consumer fetch
 *       bytes (the counter is the partition's: partition.h)
 *
 * Each metric is registered in metrics_global() on first use and kept in a
 * static, so the request path only adds to atomics. Any thread.
 */
#ifndef SAMSA_API_METRICS_H
#define SAMSA_API_METRICS_H

#include "api/api.h"

/* The request is answered now (or dropped: acks=0). */
void api_metrics_request_done(const api_request_t *req);
/* A request queued for (delta 1) or taken by (-1) the admin worker. */
void api_metrics_queued(int delta);
/* A delayed operation of req's API started waiting (1) or ended (-1). */
void api_metrics_delayed(const api_request_t *req, int delta);
/* A Fetch response about to be sent: its record bytes to their topics'
 * BytesOut — consumers only (Kafka counts followers apart). read_from:
 * the partition of each response entry, in response order (NULL: none),
 * as the fetch handler read them — no second lookup. */
void api_metrics_fetch_out(const api_request_t *req, const kp_fetch_resp_t *resp, partition_t *const *read_from);

#endif
