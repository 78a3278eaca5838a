/* The broker's side of a controlled shutdown (Kafka's
 * KafkaServer.controlledShutdown): before it stops serving, the broker asks
 * the controller to move its leaderships to other ISR members, so that
 * producers with retries see a leader change instead of failed sends. */
#include "server/broker.h"

#include "util/clock.h"
#include "net/kclient.h"
#include "proto/kproto_apis.h"
#include "util/logger.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CS_TAG "broker"
#define CS_VERSION 2

typedef struct cs_call {
    broker_t *b;
    char host[256];
    int port;
    kclient_t *client;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    kerr_t err;
    int32_t remaining;
} cs_call_t;

static void cs_finish(cs_call_t *call, kerr_t err, int32_t remaining) {
    pthread_mutex_lock(&call->mu);
    call->err = err;
    call->remaining = remaining;
    call->done = true;
    pthread_cond_signal(&call->cond);
    pthread_mutex_unlock(&call->mu);
}

static void cs_on_response(void *ctx, kerr_t err, const uint8_t *payload, size_t len) {
    cs_call_t *call = ctx;
    int32_t remaining = -1;
    if (err == KERR_NONE) {
        kp_arena_t arena;
        kp_arena_init(&arena);
        void *body;
        err = kclient_decode(call->client, payload, len, &arena, &body, NULL, 0);
        if (err == KERR_NONE) {
            const kp_controlled_shutdown_resp_t *r = body;
            err = (kerr_t)r->error_code;
            remaining = r->remaining_partitions.count;
        }
        kp_arena_free(&arena);
    }
    kclient_t *c = call->client;
    call->client = NULL;
    cs_finish(call, err, remaining);
    kclient_free(c); /* allowed from its own callback */
}

/* On the ZooKeeper loop (kclient's thread rule). */
static void cs_send_task(void *arg) {
    cs_call_t *call = arg;
    broker_t *b = call->b;
    char client_id[32];
    snprintf(client_id, sizeof client_id, "broker-%d-shutdown", b->id);
    kclient_config_t kc;
    kclient_config_init(&kc);
    kc.host = call->host;
    kc.port = call->port;
    kc.client_id = client_id;
    kc.label = "controlled shutdown";
    kc.request_timeout_ms = config_get_int(b->cfg, "controller.socket.timeout.ms");
    call->client = kclient_new(b->zk_loop, &kc);
    kp_controlled_shutdown_req_t rq = {b->id, b->broker_epoch};
    if (!call->client || kclient_send(call->client, KP_API_CONTROLLED_SHUTDOWN, CS_VERSION, &rq, cs_on_response, call) != 0) {
        kclient_free(call->client);
        call->client = NULL;
        cs_finish(call, KERR_UNKNOWN_SERVER_ERROR, -1);
    }
}

/* The controller's inter-broker endpoint, from its registration. */
static bool cs_controller_endpoint(broker_t *b, int32_t id, char *host, size_t hostlen, int *port) {
    char path[ZKDATA_PATH_MAX];
    zkdata_path_broker(path, sizeof path, id);
    char *data;
    int len;
    if (zkc_get(b->zk, path, &data, &len, NULL) != ZKC_OK)
        return false;
    zkdata_broker_t info;
    bool ok = zkdata_broker_decode(data, len < 0 ? 0 : (size_t)len, &info, NULL, 0) == 0 && info.n_endpoints > 0;
    if (ok) {
        const char *want = config_inter_broker_listener_name(b->cfg);
        const zkdata_endpoint_t *ep = &info.endpoints[0];
        for (size_t i = 0; i < info.n_endpoints; i++)
            if (want && strcasecmp(info.endpoints[i].listener, want) == 0)
                ep = &info.endpoints[i];
        snprintf(host, hostlen, "%s", ep->host && ep->host[0] ? ep->host : "127.0.0.1");
        *port = ep->port;
    }
    zkdata_broker_free(&info);
    free(data);
    return ok;
}

static void cs_sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One attempt; true when the controller moved everything. */
static bool cs_attempt(broker_t *b, int attempt) {
    controller_t *ctrl = atomic_load(&b->controller);
    int32_t cid = ctrl ? controller_active_id(ctrl) : -1;
    cs_call_t call;
    memset(&call, 0, sizeof call);
    call.b = b;
    if (cid < 0 || !cs_controller_endpoint(b, cid, call.host, sizeof call.host, &call.port)) {
        log_warn(CS_TAG, "controlled shutdown attempt %d: no controller known", attempt);
        return false;
    }
    pthread_mutex_init(&call.mu, NULL);
    pthread_cond_init(&call.cond, NULL);
    if (evloop_run(b->zk_loop, cs_send_task, &call) != 0)
        return false;
    pthread_mutex_lock(&call.mu);
    while (!call.done)
        pthread_cond_wait(&call.cond, &call.mu);
    pthread_mutex_unlock(&call.mu);
    pthread_mutex_destroy(&call.mu);
    pthread_cond_destroy(&call.cond);
    if (call.err == KERR_NONE && call.remaining == 0) {
        log_info(CS_TAG, "controlled shutdown succeeded (controller %d)", cid);
        return true;
    }
    log_warn(CS_TAG, "controlled shutdown attempt %d via controller %d: %s, %d partition(s) still led here", attempt,
             cid, kerr_name(call.err), call.remaining);
    return false;
}

bool broker_controlled_shutdown(broker_t *b) {
    int retries = config_get_int(b->cfg, "controlled.shutdown.max.retries");
    int64_t backoff = config_get_long(b->cfg, "controlled.shutdown.retry.backoff.ms");
    log_info(CS_TAG, "starting controlled shutdown");
    for (int attempt = 1; attempt <= (retries > 0 ? retries : 1); attempt++) {
        if (cs_attempt(b, attempt))
            return true;
        if (attempt < retries)
            cs_sleep_ms(backoff);
    }
    log_warn(CS_TAG, "proceeding with an uncontrolled shutdown after %d attempt(s)", retries);
    return false;
}

static void cs_resign(void *ctx, partition_t *p) {
    if (partition_resign_leadership(p))
        (*(int *)ctx)++;
}

void broker_resign_leaderships(broker_t *b) {
    int n = 0;
    replica_manager_for_each(b->replicas, cs_resign, &n);
    if (n > 0)
        log_info(CS_TAG, "stopped leading %d partition(s) the controller moved away", n);
}
