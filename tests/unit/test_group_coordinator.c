/* group_coordinator's state machine, driven without sockets or logs: the
 * coordinator runs on its loop with no replica manager (every partition
 * counts as led here, every store succeeds at once), requests are
 * submitted as the API layer does, and each answer is encoded as it would
 * go on the wire and decoded back. A barrier on the loop (gc_run_sync)
 * tells a parked request from an answered one without any timing. */
#include "unit.h"

#include "group/group_coordinator.h"
#include "proto/kerr.h"
#include "proto/kproto_apis.h"
#include "util/config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct reply {
    int16_t key, version;
    kp_arena_t arena; /* the request's: the response is built there */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    kp_writer_t w;
    void *resp;       /* decoded, in decoded_arena */
    kp_arena_t decoded_arena;
    void *owned_body; /* a request body the test allocated, freed with the reply */
} reply_t;

static void on_answer(void *ctx, const void *resp) {
    reply_t *r = ctx;
    char err[256];
    CU_ASSERT_EQUAL(kp_response_encode(r->key, r->version, 1, resp, &r->w, err, sizeof err), KP_OK);
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void noop(void *arg) { (void)arg; }

static gc_t *gc;
static config_t *cfg;

static reply_t *submit(int16_t key, int16_t version, const void *body, const char *client_id) {
    reply_t *r = calloc(1, sizeof *r);
    r->key = key;
    r->version = version;
    kp_arena_init(&r->arena);
    kp_arena_init(&r->decoded_arena);
    kp_writer_init(&r->w);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    gc_call_t call = {key, version, body, &r->arena, client_id, "/127.0.0.1", on_answer, r};
    CU_ASSERT_EQUAL(gc_submit(gc, &call), 0);
    gc_run_sync(gc, noop, NULL); /* whatever could be answered now, is */
    return r;
}

static bool answered(reply_t *r) {
    gc_run_sync(gc, noop, NULL);
    pthread_mutex_lock(&r->mu);
    bool done = r->done;
    pthread_mutex_unlock(&r->mu);
    return done;
}

/* The decoded response (NULL if not answered). */
static void *resp(reply_t *r) {
    if (!answered(r))
        return NULL;
    if (!r->resp) {
        int32_t corr;
        char err[256];
        CU_ASSERT_EQUAL(kp_response_decode(r->w.buf.data + 4, r->w.buf.len - 4, r->key, r->version,
                                           &r->decoded_arena, &corr, &r->resp, err, sizeof err),
                        KP_OK);
    }
    return r->resp;
}

static void reply_free(reply_t *r) {
    free(r->owned_body);
    kp_arena_free(&r->arena);
    kp_arena_free(&r->decoded_arena);
    kp_writer_free(&r->w);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

static const uint8_t SUB_T[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff};

static kp_join_group_req_protocol_t range_proto = {{"range", 5}, {SUB_T, sizeof SUB_T}};

static reply_t *join(const char *group, const char *member, int16_t version, const char *client) {
    kp_join_group_req_t *rq = calloc(1, sizeof *rq);
    rq->group_id = kp_str(group);
    rq->session_timeout_ms = 10000;
    rq->rebalance_timeout_ms = 60000;
    rq->member_id = kp_str(member);
    rq->group_instance_id = KP_STR_NULL;
    rq->protocol_type = kp_str("consumer");
    rq->protocols = (kp_array_t){1, &range_proto};
    reply_t *r = submit(KP_API_JOIN_GROUP, version, rq, client);
    r->owned_body = rq; /* the coordinator reads it until it answers */
    return r;
}

static char *dup_str(kp_str_t s) { return strndup(s.ptr, (size_t)s.len); }

static int16_t simple(int16_t key, int16_t version, const void *body) {
    reply_t *r = submit(key, version, body, "c");
    CU_ASSERT_TRUE_FATAL(answered(r));
    int16_t e;
    switch (key) {
    case KP_API_HEARTBEAT:
        e = ((kp_heartbeat_resp_t *)resp(r))->error_code;
        break;
    case KP_API_SYNC_GROUP:
        e = ((kp_sync_group_resp_t *)resp(r))->error_code;
        break;
    case KP_API_LEAVE_GROUP:
        e = ((kp_leave_group_resp_t *)resp(r))->error_code;
        break;
    default:
        e = -2;
    }
    reply_free(r);
    return e;
}

static int16_t heartbeat(const char *group, int32_t gen, const char *member) {
    kp_heartbeat_req_t rq = {kp_str(group), gen, kp_str(member), KP_STR_NULL};
    return simple(KP_API_HEARTBEAT, 4, &rq);
}

static int16_t commit_one(const char *group, int32_t gen, const char *member, int64_t offset) {
    kp_offset_commit_req_partition_t p = {0, offset, -1, -1, kp_str("meta")};
    kp_offset_commit_req_topic_t t = {kp_str("t"), {1, &p}};
    kp_offset_commit_req_t rq = {kp_str(group), gen, kp_str(member), KP_STR_NULL, -1, {1, &t}};
    reply_t *r = submit(KP_API_OFFSET_COMMIT, 8, &rq, "c");
    kp_offset_commit_resp_t *o = resp(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL_FATAL(o->topics.count, 1);
    int16_t e = ((kp_offset_commit_resp_partition_t *)((kp_offset_commit_resp_topic_t *)o->topics.items)[0].partitions.items)[0].error_code;
    reply_free(r);
    return e;
}

static int64_t fetch_one(const char *group) {
    int32_t part = 0;
    kp_offset_fetch_req_topic_t t = {kp_str("t"), {1, &part}};
    kp_offset_fetch_req_t rq = {kp_str(group), {1, &t}, false};
    reply_t *r = submit(KP_API_OFFSET_FETCH, 7, &rq, "c");
    kp_offset_fetch_resp_t *o = resp(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    int64_t off = ((kp_offset_fetch_resp_partition_t *)((kp_offset_fetch_resp_topic_t *)o->topics.items)[0].partitions.items)[0].committed_offset;
    reply_free(r);
    return off;
}

static const char *describe_state(const char *group, int32_t *nmembers) {
    static char state[64];
    kp_str_t id = kp_str(group);
    kp_describe_groups_req_t rq = {{1, &id}, false};
    reply_t *r = submit(KP_API_DESCRIBE_GROUPS, 5, &rq, "c");
    kp_describe_groups_resp_t *o = resp(r);
    kp_describe_groups_resp_group_t *g = o->groups.items;
    snprintf(state, sizeof state, "%.*s", g->group_state.len, g->group_state.ptr);
    *nmembers = g->members.count;
    reply_free(r);
    return state;
}

static int setup(void) {
    cfg = config_new();
    char err[256];
    config_set(cfg, "group.initial.rebalance.delay.ms", "0", err, sizeof err);
    config_set(cfg, "group.min.session.timeout.ms", "1000", err, sizeof err);
    gc_deps_t deps = {cfg, 1, NULL, NULL};
    gc = gc_new(&deps, err, sizeof err);
    return gc && gc_start(gc, err, sizeof err) == 0 ? 0 : -1;
}

static int teardown(void) {
    gc_free(gc);
    config_free(cfg);
    return 0;
}

/* KIP-394, a rebalance with two members, Sync, Heartbeat, commits by
 * generation, Leave. */
static void test_rebalance_flow(void) {
    const char *G = "flow";
    /* a new member (v5, no instance id) must come back with the id it is given */
    reply_t *r = join(G, "", 5, "ca");
    kp_join_group_resp_t *j = resp(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(j->error_code, KERR_MEMBER_ID_REQUIRED);
    CU_ASSERT_TRUE(j->member_id.len > 3 && strncmp(j->member_id.ptr, "ca-", 3) == 0);
    char *a = dup_str(j->member_id);
    reply_free(r);

    r = join(G, a, 5, "ca"); /* alone: the join completes at once (no initial delay) */
    j = resp(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(j->error_code, KERR_NONE);
    CU_ASSERT_EQUAL(j->generation_id, 1);
    CU_ASSERT_TRUE(kp_str_eq(j->leader, a) && kp_str_eq(j->protocol_name, "range"));
    CU_ASSERT_EQUAL(j->members.count, 1);
    reply_free(r);

    CU_ASSERT_EQUAL(commit_one(G, 1, a, 5), KERR_REBALANCE_IN_PROGRESS); /* CompletingRebalance */
    static const uint8_t asg[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    kp_sync_group_req_assignment_t as = {kp_str(a), {asg, sizeof asg}};
    kp_sync_group_req_t sync = {kp_str(G), 1, kp_str(a), KP_STR_NULL, KP_STR_NULL, KP_STR_NULL, {1, &as}};
    r = submit(KP_API_SYNC_GROUP, 5, &sync, "ca");
    kp_sync_group_resp_t *s = resp(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->error_code, KERR_NONE);
    CU_ASSERT_EQUAL(s->assignment.len, (int32_t)sizeof asg);
    CU_ASSERT_TRUE(kp_str_eq(s->protocol_name, "range") && kp_str_eq(s->protocol_type, "consumer"));
    reply_free(r);
    int32_t n;
    CU_ASSERT_STRING_EQUAL(describe_state(G, &n), "Stable");
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(heartbeat(G, 1, a), KERR_NONE);
    CU_ASSERT_EQUAL(heartbeat(G, 2, a), KERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(heartbeat(G, 1, "nobody"), KERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(commit_one(G, 1, a, 42), KERR_NONE);
    CU_ASSERT_EQUAL(fetch_one(G), 42);
    CU_ASSERT_EQUAL(fetch_one("no-such-group"), -1);

    /* a second member (v3: added at once) parks until the first rejoins */
    reply_t *rb = join(G, "", 3, "cb");
    CU_ASSERT_FALSE(answered(rb));
    CU_ASSERT_STRING_EQUAL(describe_state(G, &n), "PreparingRebalance");
    CU_ASSERT_EQUAL(heartbeat(G, 1, a), KERR_REBALANCE_IN_PROGRESS);
    CU_ASSERT_EQUAL(commit_one(G, 1, a, 43), KERR_NONE); /* still the member's generation */
    reply_t *ra = join(G, a, 5, "ca");
    kp_join_group_resp_t *ja = resp(ra), *jb = resp(rb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ja);
    CU_ASSERT_PTR_NOT_NULL_FATAL(jb);
    CU_ASSERT_EQUAL(ja->generation_id, 2);
    CU_ASSERT_EQUAL(jb->generation_id, 2);
    CU_ASSERT_EQUAL(ja->members.count, 2); /* the leader sees everyone */
    CU_ASSERT_EQUAL(jb->members.count, 0);
    char *b = dup_str(jb->member_id);
    reply_free(ra);
    reply_free(rb);

    /* the follower's SyncGroup waits for the leader's */
    kp_sync_group_req_t sync_b = {kp_str(G), 2, kp_str(b), KP_STR_NULL, KP_STR_NULL, KP_STR_NULL, {0, NULL}};
    reply_t *sb = submit(KP_API_SYNC_GROUP, 3, &sync_b, "cb");
    CU_ASSERT_FALSE(answered(sb));
    kp_sync_group_req_assignment_t as2[2] = {{kp_str(a), {asg, sizeof asg}}, {kp_str(b), {asg, 4}}};
    kp_sync_group_req_t sync_a = {kp_str(G), 2, kp_str(a), KP_STR_NULL, KP_STR_NULL, KP_STR_NULL, {2, as2}};
    reply_t *sa = submit(KP_API_SYNC_GROUP, 3, &sync_a, "ca");
    CU_ASSERT_TRUE(answered(sb));
    CU_ASSERT_EQUAL(((kp_sync_group_resp_t *)resp(sb))->assignment.len, 4);
    CU_ASSERT_EQUAL(((kp_sync_group_resp_t *)resp(sa))->assignment.len, (int32_t)sizeof asg);
    reply_free(sa);
    reply_free(sb);
    CU_ASSERT_STRING_EQUAL(describe_state(G, &n), "Stable");
    CU_ASSERT_EQUAL(n, 2);

    /* b leaves (v0-2 form): a rebalance; a alone rejoins into generation 3 */
    kp_leave_group_req_t leave = {kp_str(G), kp_str(b), {0, NULL}};
    CU_ASSERT_EQUAL(simple(KP_API_LEAVE_GROUP, 1, &leave), KERR_NONE);
    CU_ASSERT_EQUAL(simple(KP_API_LEAVE_GROUP, 1, &leave), KERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_STRING_EQUAL(describe_state(G, &n), "PreparingRebalance");
    ra = join(G, a, 5, "ca");
    CU_ASSERT_EQUAL(((kp_join_group_resp_t *)resp(ra))->generation_id, 3);
    reply_free(ra);
    /* a leaves too: the group is Empty, its offsets stay */
    kp_leave_group_req_member_t lm = {kp_str(a), KP_STR_NULL};
    kp_leave_group_req_t leave_a = {kp_str(G), KP_STR_NULL, {1, &lm}};
    CU_ASSERT_EQUAL(simple(KP_API_LEAVE_GROUP, 4, &leave_a), KERR_NONE);
    CU_ASSERT_STRING_EQUAL(describe_state(G, &n), "Empty");
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(fetch_one(G), 43);
    CU_ASSERT_EQUAL(heartbeat(G, 3, a), KERR_UNKNOWN_MEMBER_ID);
    free(a);
    free(b);
}

/* Standalone commits, DeleteGroups (Empty only), OffsetDelete, ListGroups. */
static void test_standalone_delete_and_list(void) {
    CU_ASSERT_EQUAL(commit_one("simple", -1, "", 7), KERR_NONE);
    CU_ASSERT_EQUAL(fetch_one("simple"), 7);
    CU_ASSERT_EQUAL(commit_one("absent", 3, "m", 7), KERR_ILLEGAL_GENERATION);

    kp_list_groups_req_t lr = {{0, NULL}};
    reply_t *r = submit(KP_API_LIST_GROUPS, 4, &lr, "c");
    kp_list_groups_resp_t *l = resp(r);
    bool found = false;
    for (int32_t i = 0; i < l->groups.count; i++) {
        kp_list_groups_resp_group_t *g = &((kp_list_groups_resp_group_t *)l->groups.items)[i];
        if (kp_str_eq(g->group_id, "simple"))
            found = kp_str_eq(g->group_state, "Empty") && kp_str_eq(g->protocol_type, "");
    }
    CU_ASSERT_TRUE(found);
    reply_free(r);

    /* OffsetDelete of an Empty group's offset */
    kp_offset_delete_req_partition_t dp = {0};
    kp_offset_delete_req_topic_t dt = {kp_str("t"), {1, &dp}};
    kp_offset_delete_req_t od = {kp_str("simple"), {1, &dt}};
    r = submit(KP_API_OFFSET_DELETE, 0, &od, "c");
    kp_offset_delete_resp_t *o = resp(r);
    CU_ASSERT_EQUAL(o->error_code, KERR_NONE);
    CU_ASSERT_EQUAL(((kp_offset_delete_resp_partition_t *)((kp_offset_delete_resp_topic_t *)o->topics.items)[0]
                         .partitions.items)[0].error_code,
                    KERR_NONE);
    reply_free(r);
    CU_ASSERT_EQUAL(fetch_one("simple"), -1);

    /* DeleteGroups: unknown, non-empty, empty */
    CU_ASSERT_EQUAL(commit_one("simple", -1, "", 8), KERR_NONE);
    reply_t *rj = join("busy", "", 3, "cx");
    CU_ASSERT_EQUAL(((kp_join_group_resp_t *)resp(rj))->error_code, KERR_NONE);
    reply_free(rj);
    kp_str_t names[3] = {kp_str("simple"), kp_str("busy"), kp_str("never")};
    kp_delete_groups_req_t dg = {{3, names}};
    r = submit(KP_API_DELETE_GROUPS, 2, &dg, "c");
    kp_delete_groups_resp_t *d = resp(r);
    kp_delete_groups_resp_result_t *rs = d->results.items;
    CU_ASSERT_EQUAL(rs[0].error_code, KERR_NONE);
    CU_ASSERT_EQUAL(rs[1].error_code, KERR_NON_EMPTY_GROUP);
    CU_ASSERT_EQUAL(rs[2].error_code, KERR_GROUP_ID_NOT_FOUND);
    reply_free(r);
    CU_ASSERT_EQUAL(fetch_one("simple"), -1);
    int32_t n;
    CU_ASSERT_STRING_EQUAL(describe_state("simple", &n), "Dead");
}

/* Invalid requests: bad session timeout, empty group id, mismatched protocol. */
static void test_invalid_joins(void) {
    kp_join_group_req_t rq = {kp_str("inv"), 10, 60000, kp_str(""), KP_STR_NULL, kp_str("consumer"),
                              {1, &range_proto}};
    reply_t *r = submit(KP_API_JOIN_GROUP, 5, &rq, "c");
    CU_ASSERT_EQUAL(((kp_join_group_resp_t *)resp(r))->error_code, KERR_INVALID_SESSION_TIMEOUT);
    reply_free(r);
    kp_join_group_req_t rq2 = {kp_str(""), 10000, 60000, kp_str(""), KP_STR_NULL, kp_str("consumer"),
                               {1, &range_proto}};
    r = submit(KP_API_JOIN_GROUP, 5, &rq2, "c");
    CU_ASSERT_EQUAL(((kp_join_group_resp_t *)resp(r))->error_code, KERR_INVALID_GROUP_ID);
    reply_free(r);
    kp_join_group_req_t rq3 = {kp_str("inv"), 10000, 60000, kp_str(""), KP_STR_NULL, kp_str("consumer"),
                               {0, NULL}};
    r = submit(KP_API_JOIN_GROUP, 3, &rq3, "c");
    CU_ASSERT_EQUAL(((kp_join_group_resp_t *)resp(r))->error_code, KERR_INCONSISTENT_GROUP_PROTOCOL);
    reply_free(r);
    r = join("inv2", "stranger", 5, "c");
    CU_ASSERT_EQUAL(((kp_join_group_resp_t *)resp(r))->error_code, KERR_UNKNOWN_MEMBER_ID);
    reply_free(r);
}

/* KIP-345: a static member rejoining with an empty member id takes its old
 * place without a rebalance; the old id is fenced. */
static void test_static_member_replaced(void) {
    kp_join_group_req_t rq = {kp_str("static"), 10000, 60000, kp_str(""), kp_str("inst-1"), kp_str("consumer"),
                              {1, &range_proto}};
    reply_t *r = submit(KP_API_JOIN_GROUP, 5, &rq, "c");
    kp_join_group_resp_t *j = resp(r);
    CU_ASSERT_EQUAL_FATAL(j->error_code, KERR_NONE); /* static: no MEMBER_ID_REQUIRED */
    CU_ASSERT_TRUE(strncmp(j->member_id.ptr, "inst-1-", 7) == 0);
    char *old = dup_str(j->member_id);
    reply_free(r);
    static const uint8_t asg[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    kp_sync_group_req_assignment_t as = {kp_str(old), {asg, sizeof asg}};
    kp_sync_group_req_t sync = {kp_str("static"), 1, kp_str(old), kp_str("inst-1"), KP_STR_NULL, KP_STR_NULL,
                                {1, &as}};
    CU_ASSERT_EQUAL(simple(KP_API_SYNC_GROUP, 3, &sync), KERR_NONE);
    /* the leader itself comes back: it rejoins (a rebalance of one) under a new id */
    r = submit(KP_API_JOIN_GROUP, 5, &rq, "c");
    j = resp(r);
    CU_ASSERT_EQUAL(j->error_code, KERR_NONE);
    CU_ASSERT_FALSE(kp_str_eq(j->member_id, old));
    reply_free(r);
    kp_heartbeat_req_t hb = {kp_str("static"), 2, kp_str(old), kp_str("inst-1")};
    CU_ASSERT_EQUAL(simple(KP_API_HEARTBEAT, 4, &hb), KERR_FENCED_INSTANCE_ID);
    free(old);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"join, MEMBER_ID_REQUIRED, sync, heartbeat, commit, leave", test_rebalance_flow},
        {"standalone commits, OffsetDelete, DeleteGroups, ListGroups", test_standalone_delete_and_list},
        {"invalid joins", test_invalid_joins},
        {"static member replaced", test_static_member_replaced},
        {NULL, NULL},
    };
    CU_pSuite s = CU_add_suite("group_coordinator", setup, teardown);
    for (const unit_test_t *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
