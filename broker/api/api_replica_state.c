/* DescribeReplicaState (key 32000, samsa only, not advertised): a
 * partition leader's view of its replicas — the high watermark, and per
 * replica its ISR membership, log end and start offsets and how long ago it
 * was last caught up — for samsa-topics --describe --replicas. Only the
 * leader knows its followers' progress (Metadata, which any broker answers
 * from its cache, cannot carry it), so the tool asks each leader; a
 * partition this broker hosts but does not lead answers
 * NOT_LEADER_OR_FOLLOWER, one it does not host UNKNOWN_TOPIC_OR_PARTITION.
 * A null topic list asks for every partition this broker leads.
 *
 * Runs on the network loop: it takes each partition's lock for a copy and
 * nothing else. */
#include "api/api.h"

#include "util/clock.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* One partition's answer; replica rows in the request's arena. */
static void api_replica_state_fill(api_request_t *req, partition_t *p, int64_t now_ms,
                                   kp_describe_replica_state_resp_partition_t *o) {
    o->leader_epoch = -1;
    o->high_watermark = o->log_end_offset = o->log_start_offset = -1;
    partition_replica_state_t st;
    kerr_t e = p ? partition_replica_state(p, now_ms, &st) : KERR_UNKNOWN_TOPIC_OR_PARTITION;
    o->error_code = (int16_t)e;
    if (e != KERR_NONE) {
        api_alloc_array(req, &o->replicas, 0, sizeof(kp_describe_replica_state_resp_replica_t));
        return;
    }
    o->leader_epoch = st.leader_epoch;
    o->high_watermark = st.high_watermark;
    o->log_end_offset = st.log_end_offset;
    o->log_start_offset = st.log_start_offset;
    kp_describe_replica_state_resp_replica_t *rs = api_alloc_array(req, &o->replicas, st.nreplicas, sizeof *rs);
    for (int32_t i = 0; i < st.nreplicas; i++) {
        const partition_replica_progress_t *r = &st.replicas[i];
        rs[i] = (kp_describe_replica_state_resp_replica_t){r->broker_id, r->in_isr, r->log_end_offset,
                                                           r->log_start_offset, r->last_caught_up_ms_ago};
    }
    partition_replica_state_free(&st);
}

/* The partitions named in the request, in its order. */
static void api_replica_state_named(api_request_t *req, const kp_describe_replica_state_req_t *rq, int64_t now_ms,
                                    kp_describe_replica_state_resp_t *resp) {
    const kp_describe_replica_state_req_topic_t *topics = rq->topics.items;
    kp_describe_replica_state_resp_topic_t *rts = api_alloc_array(req, &resp->topics, rq->topics.count, sizeof *rts);
    for (int32_t t = 0; t < rq->topics.count; t++) {
        rts[t].name = topics[t].name;
        const char *topic = api_strdup(req, topics[t].name);
        const int32_t *indexes = topics[t].partition_indexes.items;
        int32_t np = topics[t].partition_indexes.count > 0 ? topics[t].partition_indexes.count : 0;
        kp_describe_replica_state_resp_partition_t *rps = api_alloc_array(req, &rts[t].partitions, np, sizeof *rps);
        for (int32_t i = 0; i < np; i++) {
            rps[i].partition_index = indexes[i];
            api_replica_state_fill(req, replica_manager_get(req->broker->replicas, topic, indexes[i]), now_ms,
                                   &rps[i]);
        }
    }
}

/* Every hosted partition (replica_manager_for_each), to be sorted and
 * filtered down to the led ones. The array is the caller's to free. */
typedef struct api_hosted {
    partition_t **v;
    size_t n, cap;
} api_hosted_t;

static void api_hosted_add(void *ctx, partition_t *p) {
    api_hosted_t *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = mem_realloc(h->v, h->cap * sizeof *h->v);
    }
    h->v[h->n++] = p;
}

/* topic and index are immutable: read without the partition's lock */
static int api_hosted_cmp(const void *a, const void *b) {
    const partition_t *x = *(partition_t *const *)a, *y = *(partition_t *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* A null topic list: every partition this broker leads, grouped by topic
 * in name order. A partition that stops being led between the scan and
 * its snapshot is left out, as if the scan had come a moment later. */
static void api_replica_state_all_led(api_request_t *req, int64_t now_ms, kp_describe_replica_state_resp_t *resp) {
    api_hosted_t hosted = {0};
    replica_manager_for_each(req->broker->replicas, api_hosted_add, &hosted);
    if (hosted.n > 1)
        qsort(hosted.v, hosted.n, sizeof *hosted.v, api_hosted_cmp);
    size_t ntopics = 0;
    for (size_t i = 0; i < hosted.n; i++)
        ntopics += i == 0 || strcmp(hosted.v[i]->topic, hosted.v[i - 1]->topic) != 0;
    kp_describe_replica_state_resp_topic_t *rts = api_alloc_array(req, &resp->topics, (int32_t)ntopics, sizeof *rts);
    int32_t t = -1;
    for (size_t i = 0; i < hosted.n; i++) {
        partition_t *p = hosted.v[i];
        if (i == 0 || strcmp(p->topic, hosted.v[i - 1]->topic) != 0) {
            t++;
            rts[t].name = kp_str(api_strdup(req, kp_str(p->topic)));
            size_t same = 1;
            while (i + same < hosted.n && strcmp(hosted.v[i + same]->topic, p->topic) == 0)
                same++;
            api_alloc_array(req, &rts[t].partitions, (int32_t)same, sizeof(kp_describe_replica_state_resp_partition_t));
            rts[t].partitions.count = 0;
        }
        kp_describe_replica_state_resp_partition_t *o =
            &((kp_describe_replica_state_resp_partition_t *)rts[t].partitions.items)[rts[t].partitions.count];
        o->partition_index = p->index;
        api_replica_state_fill(req, p, now_ms, o);
        if (o->error_code == KERR_NONE)
            rts[t].partitions.count++;
    }
    /* topics none of whose partitions is led go */
    int32_t kept = 0;
    for (int32_t k = 0; k <= t; k++)
        if (rts[k].partitions.count > 0)
            rts[kept++] = rts[k];
    resp->topics.count = kept;
    free(hosted.v);
}

void api_handle_describe_replica_state(api_request_t *req) {
    const kp_describe_replica_state_req_t *rq = req->body;
    kp_describe_replica_state_resp_t resp;
    memset(&resp, 0, sizeof resp);
    /* wall clock, as the followers' catch-up times are recorded */
    int64_t now_ms = clock_wall_ms();
    if (rq->topics.count < 0)
        api_replica_state_all_led(req, now_ms, &resp);
    else
        api_replica_state_named(req, rq, now_ms, &resp);
    api_respond(req, &resp);
}
