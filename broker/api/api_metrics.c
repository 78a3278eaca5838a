/*
 * api_metrics — the request-layer metrics (design in api_metrics.h).
 *
 * The caches are statics holding pointers into metrics_global(): filled on
 * first use, racing threads register the same metric (registration is
 * get-or-create) and store the same pointer.
 */
#include "api/api_metrics.h"

#include "util/clock.h"
#include "util/metrics.h"

#include <stdatomic.h>

#define API_METRICS_KAFKA_KEYS 128 /* Kafka's API keys are below; samsa's own (32000+) are not cached */

enum { API_METRICS_FETCH_CONSUMER, API_METRICS_FETCH_FOLLOWER, API_METRICS_NSPECIAL };

static _Atomic(metrics_histogram_t *) api_metrics_time_by_key[API_METRICS_KAFKA_KEYS];
static _Atomic(metrics_histogram_t *) api_metrics_time_fetch[API_METRICS_NSPECIAL];
static _Atomic(metrics_gauge_t *) api_metrics_queue_size;
static _Atomic(metrics_gauge_t *) api_metrics_purgatory_size[2]; /* Produce, Fetch */

static metrics_histogram_t *api_metrics_time(const char *request) {
    metrics_family_t *f = metrics_family(metrics_global(), METRICS_HISTOGRAM, "kafka_network_requestmetrics_totaltimems",
                                         "Time from a request's arrival to its answer, in milliseconds", "request",
                                         metrics_ms_buckets, metrics_ms_nbuckets, 0);
    return metrics_family_histogram(f, request);
}

static metrics_histogram_t *api_metrics_cached_time(_Atomic(metrics_histogram_t *) *slot, const char *request) {
    metrics_histogram_t *h = atomic_load_explicit(slot, memory_order_acquire);
    if (!h) {
        h = api_metrics_time(request);
        atomic_store_explicit(slot, h, memory_order_release);
    }
    return h;
}

static metrics_gauge_t *api_metrics_cached_gauge(_Atomic(metrics_gauge_t *) *slot, const char *name,
                                                 const char *help, const char *label_name, const char *label_value) {
    metrics_gauge_t *g = atomic_load_explicit(slot, memory_order_acquire);
    if (!g) {
        g = metrics_family_gauge(metrics_family(metrics_global(), METRICS_GAUGE, name, help, label_name, NULL, 0, 0),
                                 label_value);
        atomic_store_explicit(slot, g, memory_order_release);
    }
    return g;
}

void api_metrics_request_done(const api_request_t *req) {
    int16_t key = req->hdr.api_key;
    metrics_histogram_t *h;
    if (key == KP_API_FETCH) {
        bool follower = ((const kp_fetch_req_t *)req->body)->replica_id >= 0;
        h = follower ? api_metrics_cached_time(&api_metrics_time_fetch[API_METRICS_FETCH_FOLLOWER], "FetchFollower")
                     : api_metrics_cached_time(&api_metrics_time_fetch[API_METRICS_FETCH_CONSUMER], "FetchConsumer");
    } else {
        const kp_api_t *api = kp_api_find(key);
        if (!api)
            return;
        h = key >= 0 && key < API_METRICS_KAFKA_KEYS ? api_metrics_cached_time(&api_metrics_time_by_key[key], api->name)
                                                     : api_metrics_time(api->name);
    }
    metrics_histogram_observe(h, (double)(clock_mono_us() - req->received_us) / 1000.0);
}

void api_metrics_queued(int delta) {
    metrics_gauge_add(api_metrics_cached_gauge(&api_metrics_queue_size, "kafka_network_requestchannel_requestqueuesize",
                                               "Requests waiting for the admin worker", NULL, NULL),
                      delta);
}

void api_metrics_delayed(const api_request_t *req, int delta) {
    bool fetch = req->hdr.api_key == KP_API_FETCH;
    metrics_gauge_add(api_metrics_cached_gauge(&api_metrics_purgatory_size[fetch],
                                               "kafka_server_delayedoperationpurgatory_purgatorysize",
                                               "Delayed operations waiting: acks=all produces, long-polling fetches",
                                               "delayedoperation", fetch ? "Fetch" : "Produce"),
                      delta);
}

void api_metrics_fetch_out(const api_request_t *req, const kp_fetch_resp_t *resp, partition_t *const *read_from) {
    if (((const kp_fetch_req_t *)req->body)->replica_id >= 0)
        return;
    const kp_fetch_resp_topic_t *topics = resp->responses.items;
    for (int32_t t = 0; t < resp->responses.count; t++) {
        const kp_fetch_resp_partition_t *ps = topics[t].partition_responses.items;
        for (int32_t i = 0; i < topics[t].partition_responses.count; i++, read_from++)
            if (ps[i].record_set.len > 0 && *read_from)
                metrics_counter_add((*read_from)->bytes_out, (uint64_t)ps[i].record_set.len);
    }
}
