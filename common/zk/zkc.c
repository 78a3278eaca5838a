#include "zk/zkc.h"

#include "util/clock.h"
#include "util/errmsg.h"
#include "util/logger.h"
#include "util/mem.h"
#include "util/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

/*
 * Locks. zh_lock guards the handle while a call is handed to it (the C
 * client's calls only queue, so it is held briefly) and while the
 * supervisor replaces or closes it. mu guards the session state, the
 * watch list and the retry queue, and is the only lock ZooKeeper's
 * threads take: the supervisor holds zh_lock (never mu) while
 * zookeeper_close joins those threads, so they can always finish.
 */
struct zkc {
    char *hosts;
    char *chroot;  /* "" without one */
    char *connect; /* hosts + chroot, as the C client takes it */
    int session_timeout_ms;
    int connection_timeout_ms;
    zkc_post_fn post;
    void *post_ctx;
    zkc_session_fn on_session;
    void *session_ctx;

    pthread_mutex_t zh_lock;
    zhandle_t *zh;
    bool closed; /* zkc_close took the handle */

    pthread_mutex_t mu;
    pthread_cond_t cond;     /* state changes, work for the supervisor */
    zhandle_t *cur;          /* the handle whose events count (== zh) */
    int state;               /* its last ZooKeeper state */
    bool announce;           /* report connection changes (after open) */
    bool expired;            /* cur's session expired: replace it */
    bool renewing;           /* a new session is coming: report NEW */
    bool closing;
    struct zkc_watch *watches; /* set or being set, not yet fired */
    struct zkc_req *retry_head, *retry_tail;
    pthread_t supervisor;
    bool has_supervisor;

    /* SessionExpireListener's metrics in metrics_global(); immutable after open */
    metrics_family_t *state_gauges; /* SessionState: one series per state */
    metrics_counter_t *expires, *disconnects;
};

/* A watch, from the call that sets it until it fires or is dropped. */
typedef struct zkc_watch {
    zkc_t *zkc;
    zkc_watch_fn fn;
    void *ctx;
    char *path;
    bool registered; /* ZooKeeper holds it (the read succeeded) */
    struct zkc_watch *prev, *next;
} zkc_watch_t;

typedef enum { REQ_GET, REQ_EXISTS, REQ_CHILDREN, REQ_CREATE, REQ_SET, REQ_DELETE, REQ_MULTI } zkc_req_kind_t;

/* One call: its inputs (copied), results, and how to deliver them. */
typedef struct zkc_req {
    zkc_t *zkc;           /* for retries; never used once delivered */
    zkc_req_kind_t kind;
    char *path;
    char *data;           /* create, set: NULL = null data */
    int len;
    int flags;
    int version;
    zkc_watch_t *watch;
    int64_t deadline_ms;  /* reads: stop retrying after this */
    /* multi */
    zkc_op_t *ops;
    size_t n_ops;
    zoo_op_t *zops;
    zoo_op_result_t *zres;
    struct Stat *zstats;
    char **path_bufs;
    /* results */
    zkc_err_t err;
    char *rdata;
    int rlen;
    zkc_stat_t stat;
    bool has_stat;
    zkc_strings_t children;
    char *created;
    /* delivery: async (cb through post) or sync (signal the caller) */
    zkc_result_fn cb;
    void *ctx;
    bool sync;
    bool done;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cond;
    struct zkc_req *next; /* retry queue */
} zkc_req_t;

/* ============================================================================
 * Errors and names
 * ========================================================================== */

const char *zkc_strerror(zkc_err_t err) {
    switch (err) {
    case ZKC_OK: return "ok";
    case ZKC_NONODE: return "node does not exist";
    case ZKC_NODEEXISTS: return "node already exists";
    case ZKC_BADVERSION: return "version conflict";
    case ZKC_NOTEMPTY: return "node has children";
    case ZKC_NOCHILDRENFOREPHEMERALS: return "ephemeral nodes may not have children";
    case ZKC_CONNECTIONLOSS: return "connection to ZooKeeper lost";
    case ZKC_SESSIONEXPIRED: return "ZooKeeper session expired";
    case ZKC_CLOSING: return "ZooKeeper client is closing";
    case ZKC_NOAUTH: return "not authorised";
    case ZKC_BADARGUMENTS: return "invalid arguments";
    case ZKC_ROLLEDBACK: return "not applied: another operation of the transaction failed";
    case ZKC_ERROR: return "ZooKeeper error";
    }
    return "unknown ZooKeeper error";
}

const char *zkc_err_name(zkc_err_t err) {
    static const char *const names[] = {"OK",         "NONODE",     "NODEEXISTS",     "BADVERSION",
                                        "NOTEMPTY",   "NOCHILDRENFOREPHEMERALS",    "CONNECTIONLOSS",
                                        "SESSIONEXPIRED", "CLOSING", "NOAUTH",       "BADARGUMENTS",
                                        "ROLLEDBACK", "ERROR"};
    return (unsigned)err < sizeof names / sizeof names[0] ? names[err] : "UNKNOWN";
}

zkc_err_t zkc_err_from_zoo(int rc) {
    switch (rc) {
    case ZOK: return ZKC_OK;
    case ZNONODE: return ZKC_NONODE;
    case ZNODEEXISTS: return ZKC_NODEEXISTS;
    case ZBADVERSION: return ZKC_BADVERSION;
    case ZNOTEMPTY: return ZKC_NOTEMPTY;
    case ZNOCHILDRENFOREPHEMERALS: return ZKC_NOCHILDRENFOREPHEMERALS;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT: /* the C client's word for a silent server */
    case ZSESSIONMOVED:     /* the request was ignored; safe to retry */
        return ZKC_CONNECTIONLOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE: /* the handle's session expired */
        return ZKC_SESSIONEXPIRED;
    case ZCLOSING: return ZKC_CLOSING;
    case ZNOAUTH:
    case ZAUTHFAILED:
    case ZINVALIDACL:
        return ZKC_NOAUTH;
    case ZBADARGUMENTS: return ZKC_BADARGUMENTS;
    case ZRUNTIMEINCONSISTENCY: return ZKC_ROLLEDBACK;
    default: return ZKC_ERROR;
    }
}

const char *zkc_session_event_name(zkc_session_event_t ev) {
    switch (ev) {
    case ZKC_SESSION_DISCONNECTED: return "disconnected";
    case ZKC_SESSION_CONNECTED: return "connected";
    case ZKC_SESSION_EXPIRED: return "expired";
    case ZKC_SESSION_NEW: return "new session";
    }
    return "unknown";
}

const char *zkc_watch_type_name(zkc_watch_type_t t) {
    switch (t) {
    case ZKC_WATCH_CREATED: return "created";
    case ZKC_WATCH_DELETED: return "deleted";
    case ZKC_WATCH_CHANGED: return "changed";
    case ZKC_WATCH_CHILDREN: return "children";
    case ZKC_WATCH_DROPPED: return "dropped";
    }
    return "unknown";
}

static const char *zkc_state_name(int state) {
    if (state == ZOO_CONNECTED_STATE)
        return "CONNECTED";
    if (state == ZOO_CONNECTING_STATE)
        return "CONNECTING";
    if (state == ZOO_ASSOCIATING_STATE)
        return "ASSOCIATING";
    if (state == ZOO_EXPIRED_SESSION_STATE)
        return "EXPIRED";
    if (state == ZOO_AUTH_FAILED_STATE)
        return "AUTH_FAILED";
    if (state == ZOO_READONLY_STATE)
        return "READONLY";
    return "NOT_CONNECTED";
}

/* The session as Kafka's SessionExpireListener shows it: SessionState (one
 * series per state, 1 for the current one: a session event is rare, the
 * series are looked up each time), ZooKeeperExpiresPerSec and
 * ZooKeeperDisconnectsPerSec as counters. */
static void zkc_count_session(zkc_t *zkc, int state, bool reported, zkc_session_event_t ev) {
    const int states[] = {ZOO_CONNECTED_STATE, ZOO_CONNECTING_STATE, ZOO_ASSOCIATING_STATE,
                          ZOO_EXPIRED_SESSION_STATE, ZOO_AUTH_FAILED_STATE, ZOO_READONLY_STATE, 0};
    const char *now = zkc_state_name(state);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        const char *name = zkc_state_name(states[i]);
        metrics_gauge_set(metrics_family_gauge(zkc->state_gauges, name), strcmp(name, now) == 0);
    }
    if (reported && ev == ZKC_SESSION_EXPIRED)
        metrics_counter_inc(zkc->expires);
    if (reported && ev == ZKC_SESSION_DISCONNECTED)
        metrics_counter_inc(zkc->disconnects);
}

/* ============================================================================
 * Connect strings
 * ========================================================================== */

/* ZooKeeper's PathUtils.validatePath, for the chroot. */
static bool zkc_path_valid(const char *p) {
    if (p[0] != '/')
        return false;
    if (p[1] == '\0')
        return true;
    size_t n = strlen(p);
    if (p[n - 1] == '/')
        return false;
    for (const char *c = p + 1; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u == 0x7f)
            return false;
        if (*c == '/' && c[-1] == '/')
            return false;
        if (c[-1] == '/' && *c == '.') {
            size_t dots = c[1] == '.' ? 2 : 1;
            if (c[dots] == '/' || c[dots] == '\0')
                return false;
        }
    }
    return true;
}

int zkc_parse_connect(const char *connect, char **hosts, char **chroot, char *err, size_t errlen) {
    *hosts = NULL;
    *chroot = NULL;
    if (!connect || !*connect) {
        errmsg_set(err, errlen, "zookeeper.connect is empty");
        return -1;
    }
    const char *slash = strchr(connect, '/');
    size_t hlen = slash ? (size_t)(slash - connect) : strlen(connect);
    if (hlen == 0) {
        errmsg_set(err, errlen, "zookeeper.connect \"%s\" names no host", connect);
        return -1;
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)connect[i];
        if (c <= ' ' || c == 0x7f) {
            errmsg_set(err, errlen, "zookeeper.connect \"%s\" has a space or control character in its hosts",
                       connect);
            return -1;
        }
    }
    if (slash && !zkc_path_valid(slash)) {
        errmsg_set(err, errlen, "zookeeper.connect has an invalid chroot path \"%s\"", slash);
        return -1;
    }
    *hosts = mem_strndup(connect, hlen);
    if (slash && strcmp(slash, "/") != 0)
        *chroot = mem_strdup(slash);
    return 0;
}

/* ============================================================================
 * The C client's log
 * ========================================================================== */

/* The C client formats "<date>:<pid>(<tid>):ZOO_ERROR@<function>@<line>:
 * <message>"; samsa's log line has its own time, so keep the message. Its
 * log callback takes no context, hence the one static: the time of the
 * last line, so that a ZooKeeper that is down does not fill the log (one
 * line a second at most). */
static _Atomic int64_t zkc_log_last_ms;

static void zkc_log_bridge(const char *message) {
    int64_t now = clock_mono_ms();
    int64_t last = atomic_load(&zkc_log_last_ms);
    if (last && now - last < 1000)
        return;
    atomic_store(&zkc_log_last_ms, now);
    const char *m = strstr(message, "ZOO_");
    m = m ? strstr(m, ": ") : NULL;
    m = m ? m + 2 : message;
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r'))
        n--;
    log_warn("zookeeper", "%.*s", (int)n, m);
}

/* ============================================================================
 * Delivery through the executor
 * ========================================================================== */

typedef struct zkc_watch_task {
    zkc_watch_fn fn;
    void *ctx;
    zkc_watch_type_t type;
    char *path;
} zkc_watch_task_t;

static void zkc_run_watch(void *arg) {
    zkc_watch_task_t *t = arg;
    t->fn(t->ctx, t->type, t->path);
    free(t->path);
    free(t);
}

/* Hands a watch's one call to the executor and frees the watch. */
static void zkc_watch_deliver(zkc_t *zkc, zkc_watch_t *w, zkc_watch_type_t type) {
    zkc_watch_task_t *t = mem_alloc(sizeof *t);
    t->fn = w->fn;
    t->ctx = w->ctx;
    t->type = type;
    t->path = w->path;
    free(w);
    if (!zkc->post || zkc->post(zkc->post_ctx, zkc_run_watch, t) != 0) {
        free(t->path);
        free(t);
    }
}

static void zkc_watch_unlink(zkc_t *zkc, zkc_watch_t *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        zkc->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

typedef struct zkc_session_task {
    zkc_session_fn fn;
    void *ctx;
    zkc_session_event_t ev;
} zkc_session_task_t;

static void zkc_run_session(void *arg) {
    zkc_session_task_t *t = arg;
    t->fn(t->ctx, t->ev);
    free(t);
}

static void zkc_session_deliver(zkc_t *zkc, zkc_session_event_t ev) {
    log_info("zkc", "ZooKeeper session event: %s", zkc_session_event_name(ev));
    if (!zkc->on_session || !zkc->post)
        return;
    zkc_session_task_t *t = mem_alloc(sizeof *t);
    t->fn = zkc->on_session;
    t->ctx = zkc->session_ctx;
    t->ev = ev;
    if (zkc->post(zkc->post_ctx, zkc_run_session, t) != 0)
        free(t);
}

/* ============================================================================
 * Requests
 * ========================================================================== */

static zkc_req_t *zkc_req_new(zkc_t *zkc, zkc_req_kind_t kind, const char *path) {
    zkc_req_t *r = mem_calloc(1, sizeof *r);
    r->zkc = zkc;
    r->kind = kind;
    r->path = mem_strdup(path);
    r->rlen = -1;
    r->err = ZKC_ERROR;
    return r;
}

static void zkc_req_set_data(zkc_req_t *r, const void *data, int len) {
    if (!data || len < 0) {
        r->data = NULL;
        r->len = -1;
        return;
    }
    r->data = mem_alloc((size_t)len + 1);
    memcpy(r->data, data, (size_t)len);
    r->len = len;
}

static void zkc_req_free(zkc_req_t *r) {
    free(r->path);
    free(r->data);
    free(r->rdata);
    free(r->created);
    zkc_strings_free(&r->children);
    if (r->ops) {
        zkc_ops_release(r->ops, r->n_ops);
        for (size_t i = 0; i < r->n_ops; i++) {
            free((char *)r->ops[i].path);
            free((void *)r->ops[i].data);
            free(r->path_bufs[i]);
        }
        free(r->ops);
        free(r->zops);
        free(r->zres);
        free(r->zstats);
        free(r->path_bufs);
    }
    if (r->sync) {
        pthread_mutex_destroy(&r->sync_mu);
        pthread_cond_destroy(&r->sync_cond);
    }
    free(r);
}

static void zkc_stat_from(zkc_stat_t *out, const struct Stat *s) {
    out->czxid = s->czxid;
    out->mzxid = s->mzxid;
    out->ctime = s->ctime;
    out->mtime = s->mtime;
    out->version = s->version;
    out->cversion = s->cversion;
    out->aversion = s->aversion;
    out->ephemeral_owner = s->ephemeralOwner;
    out->data_length = s->dataLength;
    out->num_children = s->numChildren;
    out->pzxid = s->pzxid;
}

static void zkc_run_result(void *arg) {
    zkc_req_t *r = arg;
    zkc_result_t res = {
        .err = r->err,
        .path = r->path,
        .data = r->rdata,
        .len = r->rlen,
        .stat = r->has_stat ? &r->stat : NULL,
        .children = r->kind == REQ_CHILDREN ? &r->children : NULL,
        .created = r->created,
        .ops = r->ops,
        .n_ops = r->n_ops,
    };
    r->cb(r->ctx, &res);
    zkc_req_free(r);
}

/* The end of a call: the watch it carried is either held by ZooKeeper now
 * or dropped; the result goes to the executor (async) or to the waiting
 * caller (sync). */
static void zkc_req_finish(zkc_req_t *r, bool watch_registered) {
    zkc_t *zkc = r->zkc;
    zkc_watch_t *dropped = NULL;
    if (r->watch) {
        pthread_mutex_lock(&zkc->mu);
        if (watch_registered) {
            r->watch->registered = true;
        } else {
            zkc_watch_unlink(zkc, r->watch);
            dropped = r->watch;
        }
        pthread_mutex_unlock(&zkc->mu);
        r->watch = NULL;
    }
    if (r->sync) {
        pthread_mutex_lock(&r->sync_mu);
        r->done = true;
        pthread_cond_signal(&r->sync_cond);
        pthread_mutex_unlock(&r->sync_mu);
    } else if (!r->cb || !zkc->post || zkc->post(zkc->post_ctx, zkc_run_result, r) != 0) {
        zkc_req_free(r);
    }
    if (dropped)
        zkc_watch_deliver(zkc, dropped, ZKC_WATCH_DROPPED);
}

/* A read that lost its connection waits in the retry queue for the
 * supervisor to send it again; true when queued. */
static bool zkc_req_retry(zkc_req_t *r, int rc) {
    if (rc != ZCONNECTIONLOSS && rc != ZSESSIONMOVED && rc != ZOPERATIONTIMEOUT)
        return false;
    if (r->kind != REQ_GET && r->kind != REQ_EXISTS && r->kind != REQ_CHILDREN)
        return false;
    if (clock_mono_ms() >= r->deadline_ms)
        return false;
    zkc_t *zkc = r->zkc;
    pthread_mutex_lock(&zkc->mu);
    bool queued = !zkc->closing;
    if (queued) {
        r->next = NULL;
        if (zkc->retry_tail)
            zkc->retry_tail->next = r;
        else
            zkc->retry_head = r;
        zkc->retry_tail = r;
        pthread_cond_broadcast(&zkc->cond);
    }
    pthread_mutex_unlock(&zkc->mu);
    if (queued)
        log_debug("zkc", "%s lost its connection; re-sending it once reconnected", r->path);
    return queued;
}

/* --- completions (on ZooKeeper's completion thread, or in zookeeper_close) --- */

static void zkc_on_data(int rc, const char *value, int value_len, const struct Stat *stat, const void *data) {
    zkc_req_t *r = (zkc_req_t *)data;
    if (zkc_req_retry(r, rc))
        return;
    r->err = zkc_err_from_zoo(rc);
    if (rc == ZOK) {
        if (value && value_len >= 0) {
            r->rdata = mem_alloc((size_t)value_len + 1);
            memcpy(r->rdata, value, (size_t)value_len);
            r->rdata[value_len] = '\0';
            r->rlen = value_len;
        }
        if (stat) {
            zkc_stat_from(&r->stat, stat);
            r->has_stat = true;
        }
    }
    zkc_req_finish(r, rc == ZOK);
}

static void zkc_on_stat(int rc, const struct Stat *stat, const void *data) {
    zkc_req_t *r = (zkc_req_t *)data;
    if (zkc_req_retry(r, rc))
        return;
    r->err = zkc_err_from_zoo(rc);
    if (rc == ZOK && stat) {
        zkc_stat_from(&r->stat, stat);
        r->has_stat = true;
    }
    /* exists watches a missing node too (for its creation) */
    zkc_req_finish(r, rc == ZOK || (r->kind == REQ_EXISTS && rc == ZNONODE));
}

static int zkc_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void zkc_on_children(int rc, const struct String_vector *strings, const struct Stat *stat, const void *data) {
    zkc_req_t *r = (zkc_req_t *)data;
    if (zkc_req_retry(r, rc))
        return;
    r->err = zkc_err_from_zoo(rc);
    if (rc == ZOK) {
        size_t n = strings && strings->count > 0 ? (size_t)strings->count : 0;
        r->children.items = mem_calloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            r->children.items[i] = mem_strdup(strings->data[i]);
        r->children.n = n;
        qsort(r->children.items, n, sizeof(char *), zkc_cmp_str);
        if (stat) {
            zkc_stat_from(&r->stat, stat);
            r->has_stat = true;
        }
    }
    zkc_req_finish(r, rc == ZOK);
}

static void zkc_on_string(int rc, const char *value, const void *data) {
    zkc_req_t *r = (zkc_req_t *)data;
    r->err = zkc_err_from_zoo(rc);
    if (rc == ZOK && value)
        r->created = mem_strdup(value);
    zkc_req_finish(r, false);
}

static void zkc_on_void(int rc, const void *data) {
    zkc_req_t *r = (zkc_req_t *)data;
    r->err = zkc_err_from_zoo(rc);
    zkc_req_finish(r, false);
}

/* Per-op results of a multi: on failure, the op that failed keeps its
 * error and all others report ZKC_ROLLEDBACK; a failure of the whole call
 * (connection lost, session expired) goes to every op. */
static void zkc_on_multi(int rc, const void *data) {
    zkc_req_t *r = (zkc_req_t *)data;
    r->err = zkc_err_from_zoo(rc);
    size_t failed = r->n_ops;
    if (rc != ZOK)
        for (size_t i = 0; i < r->n_ops && failed == r->n_ops; i++)
            if (r->zres[i].err != ZOK && r->zres[i].err != ZRUNTIMEINCONSISTENCY)
                failed = i;
    for (size_t i = 0; i < r->n_ops; i++) {
        zkc_op_t *op = &r->ops[i];
        if (rc == ZOK) {
            op->err = ZKC_OK;
            if (op->type == ZKC_OP_CREATE)
                op->created = mem_strdup(r->path_bufs[i]);
            if (op->type == ZKC_OP_SET)
                zkc_stat_from(&op->stat, &r->zstats[i]);
        } else if (failed < r->n_ops) {
            op->err = i == failed ? zkc_err_from_zoo(r->zres[i].err) : ZKC_ROLLEDBACK;
        } else {
            op->err = r->err;
        }
    }
    zkc_req_finish(r, false);
}

/* --- watches (on ZooKeeper's completion thread) --- */

static void zkc_on_watch(zhandle_t *zh, int type, int state, const char *path, void *watcher_ctx) {
    (void)zh, (void)state, (void)path;
    zkc_watch_t *w = watcher_ctx;
    if (type == ZOO_SESSION_EVENT)
        return; /* connection changes go to the session watcher */
    zkc_watch_type_t t = type == ZOO_CREATED_EVENT   ? ZKC_WATCH_CREATED
                         : type == ZOO_DELETED_EVENT ? ZKC_WATCH_DELETED
                         : type == ZOO_CHANGED_EVENT ? ZKC_WATCH_CHANGED
                         : type == ZOO_CHILD_EVENT   ? ZKC_WATCH_CHILDREN
                                                     : ZKC_WATCH_DROPPED;
    zkc_t *zkc = w->zkc;
    pthread_mutex_lock(&zkc->mu);
    zkc_watch_unlink(zkc, w);
    pthread_mutex_unlock(&zkc->mu);
    zkc_watch_deliver(zkc, w, t);
}

/* --- sending --- */

static int zkc_mode(int flags) {
    bool eph = flags & ZKC_EPHEMERAL, seq = flags & ZKC_SEQUENTIAL;
    if (eph)
        return seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL;
    return seq ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT;
}

/* Hands r to the current handle. The return is the C client's: anything
 * but ZOK means no completion will come. Never called on ZooKeeper's
 * threads (see the lock comment at the top). */
static int zkc_req_send(zkc_t *zkc, zkc_req_t *r) {
    pthread_mutex_lock(&zkc->zh_lock);
    zhandle_t *zh = zkc->zh;
    int rc = zkc->closed ? ZCLOSING : ZINVALIDSTATE; /* no handle: closed or being replaced */
    watcher_fn wfn = r->watch ? zkc_on_watch : NULL;
    void *wctx = r->watch;
    if (zh) {
        switch (r->kind) {
        case REQ_GET: rc = zoo_awget(zh, r->path, wfn, wctx, zkc_on_data, r); break;
        case REQ_EXISTS: rc = zoo_awexists(zh, r->path, wfn, wctx, zkc_on_stat, r); break;
        case REQ_CHILDREN: rc = zoo_awget_children2(zh, r->path, wfn, wctx, zkc_on_children, r); break;
        case REQ_CREATE:
            rc = zoo_acreate(zh, r->path, r->data, r->len, &ZOO_OPEN_ACL_UNSAFE, zkc_mode(r->flags), zkc_on_string,
                             r);
            break;
        case REQ_SET: rc = zoo_aset(zh, r->path, r->data, r->len, r->version, zkc_on_stat, r); break;
        case REQ_DELETE: rc = zoo_adelete(zh, r->path, r->version, zkc_on_void, r); break;
        case REQ_MULTI: rc = zoo_amulti(zh, (int)r->n_ops, r->zops, r->zres, zkc_on_multi, r); break;
        }
    }
    pthread_mutex_unlock(&zkc->zh_lock);
    return rc;
}

/* A new call with a watch: the watch joins the list before the call is
 * sent, so that a session ending meanwhile cannot miss it. */
static void zkc_req_attach_watch(zkc_t *zkc, zkc_req_t *r, zkc_watch_fn fn, void *ctx) {
    if (!fn)
        return;
    zkc_watch_t *w = mem_calloc(1, sizeof *w);
    w->zkc = zkc;
    w->fn = fn;
    w->ctx = ctx;
    w->path = mem_strdup(r->path);
    pthread_mutex_lock(&zkc->mu);
    w->next = zkc->watches;
    if (w->next)
        w->next->prev = w;
    zkc->watches = w;
    pthread_mutex_unlock(&zkc->mu);
    r->watch = w;
}

/* Reads lost with their connection are re-sent for this long: enough for
 * the C client to reconnect within the session (which ZooKeeper keeps for
 * the session timeout) after waiting up to a connection timeout. */
static int64_t zkc_retry_deadline(const zkc_t *zkc) {
    return clock_mono_ms() + zkc->session_timeout_ms + zkc->connection_timeout_ms;
}

/* Sends a new call; on failure nothing was sent, the call (and its watch)
 * is freed silently and the error returned. */
static zkc_err_t zkc_req_start(zkc_t *zkc, zkc_req_t *r) {
    r->deadline_ms = zkc_retry_deadline(zkc);
    int rc = zkc->post ? zkc_req_send(zkc, r) : ZBADARGUMENTS; /* nowhere to deliver */
    if (rc == ZOK)
        return ZKC_OK;
    if (r->watch) {
        pthread_mutex_lock(&zkc->mu);
        zkc_watch_unlink(zkc, r->watch);
        pthread_mutex_unlock(&zkc->mu);
        free(r->watch->path);
        free(r->watch);
        r->watch = NULL;
    }
    zkc_req_free(r);
    return zkc_err_from_zoo(rc);
}

/* Sends r and waits for its result (sync calls); r stays the caller's. */
/* Sends a synchronous request; false when it was not sent (r->err says
 * why and nothing will complete it). Split from the wait so that a batch
 * sends all its requests before waiting for the first. */
static bool zkc_req_send_sync(zkc_t *zkc, zkc_req_t *r) {
    r->sync = true;
    pthread_mutex_init(&r->sync_mu, NULL);
    pthread_cond_init(&r->sync_cond, NULL);
    r->deadline_ms = zkc_retry_deadline(zkc);
    int rc = zkc_req_send(zkc, r);
    if (rc != ZOK)
        r->err = zkc_err_from_zoo(rc);
    return rc == ZOK;
}

static void zkc_req_await(zkc_req_t *r) {
    pthread_mutex_lock(&r->sync_mu);
    while (!r->done)
        pthread_cond_wait(&r->sync_cond, &r->sync_mu);
    pthread_mutex_unlock(&r->sync_mu);
}

static zkc_err_t zkc_req_wait(zkc_t *zkc, zkc_req_t *r) {
    if (zkc_req_send_sync(zkc, r))
        zkc_req_await(r);
    return r->err;
}

/* ============================================================================
 * Sessions
 * ========================================================================== */

static void zkc_time_after(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The handle's watcher: only session events reach it (every other watch is
 * a zkc_on_watch). It records the state for zkc_open and the supervisor and
 * tells the owner what changed. */
static void zkc_on_session(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)path;
    zkc_t *zkc = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    bool report = false;
    zkc_session_event_t ev = ZKC_SESSION_CONNECTED;
    pthread_mutex_lock(&zkc->mu);
    if (zh != zkc->cur) {
        pthread_mutex_unlock(&zkc->mu);
        return;
    }
    int prev = zkc->state;
    zkc->state = state;
    if (state == ZOO_CONNECTED_STATE) {
        if (zkc->renewing) {
            zkc->renewing = false;
            report = true;
            ev = ZKC_SESSION_NEW;
        } else if (prev != ZOO_CONNECTED_STATE && zkc->announce) {
            report = true;
            ev = ZKC_SESSION_CONNECTED;
        }
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
        if (!zkc->expired && zkc->announce) {
            zkc->expired = true;
            report = true;
            ev = ZKC_SESSION_EXPIRED;
        }
    } else if (prev == ZOO_CONNECTED_STATE && zkc->announce) {
        report = true;
        ev = ZKC_SESSION_DISCONNECTED;
    }
    pthread_cond_broadcast(&zkc->cond);
    pthread_mutex_unlock(&zkc->mu);
    zkc_count_session(zkc, state, report, ev);
    if (state == ZOO_AUTH_FAILED_STATE)
        log_error("zkc", "ZooKeeper authentication failed; starting a new session");
    if (report)
        zkc_session_deliver(zkc, ev);
}

/* A new handle for zkc->connect; NULL (errno set) when the C client cannot
 * even start (e.g. no host resolves). Called with zh_lock held. mu is held
 * across zookeeper_init2 so that its first session event, which may come
 * before init returns, finds cur already set. */
static zhandle_t *zkc_handle_new(zkc_t *zkc) {
    pthread_mutex_lock(&zkc->mu);
    zhandle_t *zh = zookeeper_init2(zkc->connect, zkc_on_session, zkc->session_timeout_ms, NULL, zkc,
                                    ZOO_NO_LOG_CLIENTENV, zkc_log_bridge);
    int saved = errno;
    zkc->cur = zh;
    zkc->state = ZOO_CONNECTING_STATE;
    zkc->expired = false;
    pthread_mutex_unlock(&zkc->mu);
    errno = saved;
    return zh;
}

/* After zookeeper_close: the watches ZooKeeper held for the closed
 * session are gone; each gets its one call. Watches not registered belong
 * to calls still queued for a retry, which keep them, unless `all` (the
 * client is closing and nothing will be retried). */
static void zkc_drop_watches(zkc_t *zkc, bool all) {
    for (;;) {
        pthread_mutex_lock(&zkc->mu);
        zkc_watch_t *w = zkc->watches;
        while (w && !w->registered && !all)
            w = w->next;
        if (w)
            zkc_watch_unlink(zkc, w);
        pthread_mutex_unlock(&zkc->mu);
        if (!w)
            return;
        zkc_watch_deliver(zkc, w, ZKC_WATCH_DROPPED);
    }
}

/* Finishes a list of queued calls with err. */
static void zkc_fail_all(zkc_req_t *list, zkc_err_t err) {
    while (list) {
        zkc_req_t *r = list;
        list = r->next;
        r->next = NULL;
        r->err = err;
        zkc_req_finish(r, false);
    }
}

/* The session expired: close its handle and open a new one, retrying once
 * a second while the C client cannot start. ZKC_SESSION_NEW is reported by
 * zkc_on_session when the new session is established. */
static void zkc_renew(zkc_t *zkc) {
    log_warn("zkc", "ZooKeeper session 0x%llx expired; opening a new session",
             (unsigned long long)zkc_session_id(zkc, NULL));
    pthread_mutex_lock(&zkc->zh_lock);
    zhandle_t *old = zkc->zh;
    zkc->zh = NULL;
    pthread_mutex_lock(&zkc->mu);
    zkc->cur = NULL;
    zkc->renewing = true;
    zkc_req_t *queued = zkc->retry_head;
    zkc->retry_head = zkc->retry_tail = NULL;
    pthread_mutex_unlock(&zkc->mu);
    zkc_fail_all(queued, ZKC_SESSIONEXPIRED);
    if (old)
        zookeeper_close(old);
    zkc->zh = zkc_handle_new(zkc);
    bool ok = zkc->zh != NULL;
    pthread_mutex_unlock(&zkc->zh_lock);
    zkc_drop_watches(zkc, false);

    while (!ok) {
        log_error("zkc", "cannot start a ZooKeeper client for %s: %s", zkc->connect, strerror(errno));
        pthread_mutex_lock(&zkc->mu);
        struct timespec ts;
        zkc_time_after(&ts, 1000);
        if (!zkc->closing)
            pthread_cond_timedwait(&zkc->cond, &zkc->mu, &ts);
        bool closing = zkc->closing;
        pthread_mutex_unlock(&zkc->mu);
        if (closing)
            return;
        pthread_mutex_lock(&zkc->zh_lock);
        zkc->zh = zkc_handle_new(zkc);
        ok = zkc->zh != NULL;
        pthread_mutex_unlock(&zkc->zh_lock);
    }
}

/* Sends queued reads again (connection back) or fails those past their
 * deadline. Called without mu. */
static void zkc_resend(zkc_t *zkc, zkc_req_t *list, bool connected) {
    while (list) {
        zkc_req_t *r = list;
        list = r->next;
        r->next = NULL;
        if (!connected || clock_mono_ms() >= r->deadline_ms) {
            r->err = ZKC_CONNECTIONLOSS;
            zkc_req_finish(r, false);
            continue;
        }
        int rc = zkc_req_send(zkc, r);
        if (rc != ZOK) {
            r->err = zkc_err_from_zoo(rc);
            zkc_req_finish(r, false);
        }
    }
}

/* Takes the queued reads that should be sent now (connected) or that
 * expired; sets *wait_ms to when to look again (-1: when woken). Under mu. */
static zkc_req_t *zkc_take_retries(zkc_t *zkc, bool *connected, int64_t *wait_ms) {
    *connected = zkc->state == ZOO_CONNECTED_STATE && !zkc->expired;
    *wait_ms = -1;
    if (*connected) {
        zkc_req_t *all = zkc->retry_head;
        zkc->retry_head = zkc->retry_tail = NULL;
        return all;
    }
    int64_t now = clock_mono_ms();
    zkc_req_t *due = NULL, **dtail = &due;
    zkc_req_t *r = zkc->retry_head;
    zkc->retry_head = zkc->retry_tail = NULL;
    while (r) {
        zkc_req_t *next = r->next;
        r->next = NULL;
        if (r->deadline_ms <= now) {
            *dtail = r;
            dtail = &r->next;
        } else {
            if (zkc->retry_tail)
                zkc->retry_tail->next = r;
            else
                zkc->retry_head = r;
            zkc->retry_tail = r;
            if (*wait_ms < 0 || r->deadline_ms - now < *wait_ms)
                *wait_ms = r->deadline_ms - now;
        }
        r = next;
    }
    return due;
}

/* The supervisor thread: replaces expired sessions and re-sends reads that
 * lost their connection. It exists so that neither happens on ZooKeeper's
 * threads (which zookeeper_close must be able to join). */
static void *zkc_supervise(void *arg) {
    zkc_t *zkc = arg;
    pthread_mutex_lock(&zkc->mu);
    while (!zkc->closing) {
        if (zkc->expired) {
            pthread_mutex_unlock(&zkc->mu);
            zkc_renew(zkc);
            pthread_mutex_lock(&zkc->mu);
            continue;
        }
        bool connected;
        int64_t wait_ms;
        zkc_req_t *list = zkc_take_retries(zkc, &connected, &wait_ms);
        if (list) {
            pthread_mutex_unlock(&zkc->mu);
            zkc_resend(zkc, list, connected);
            pthread_mutex_lock(&zkc->mu);
            continue;
        }
        if (wait_ms < 0) {
            pthread_cond_wait(&zkc->cond, &zkc->mu);
        } else {
            struct timespec ts;
            zkc_time_after(&ts, wait_ms + 1);
            pthread_cond_timedwait(&zkc->cond, &zkc->mu, &ts);
        }
    }
    pthread_mutex_unlock(&zkc->mu);
    return NULL;
}

/* ============================================================================
 * Opening and closing
 * ========================================================================== */

static void zkc_free(zkc_t *zkc) {
    pthread_mutex_destroy(&zkc->zh_lock);
    pthread_mutex_destroy(&zkc->mu);
    pthread_cond_destroy(&zkc->cond);
    free(zkc->hosts);
    free(zkc->chroot);
    free(zkc->connect);
    free(zkc);
}

/* Waits for the first session of zkc->zh, up to the connection timeout. */
static int zkc_wait_connected(zkc_t *zkc, char *err, size_t errlen) {
    struct timespec ts;
    zkc_time_after(&ts, zkc->connection_timeout_ms);
    pthread_mutex_lock(&zkc->mu);
    int rc = 0;
    while (zkc->state != ZOO_CONNECTED_STATE && rc != ETIMEDOUT && zkc->state != ZOO_EXPIRED_SESSION_STATE &&
           zkc->state != ZOO_AUTH_FAILED_STATE)
        rc = pthread_cond_timedwait(&zkc->cond, &zkc->mu, &ts);
    int state = zkc->state;
    if (state == ZOO_CONNECTED_STATE)
        zkc->announce = true;
    pthread_mutex_unlock(&zkc->mu);
    if (state == ZOO_CONNECTED_STATE)
        return 0;
    if (rc == ETIMEDOUT)
        errmsg_set(err, errlen,
                   "timed out after %d ms waiting for a ZooKeeper session with %s "
                   "(zookeeper.connection.timeout.ms), still in state %s",
                   zkc->connection_timeout_ms, zkc->hosts, zkc_state_name(state));
    else
        errmsg_set(err, errlen, "ZooKeeper at %s refused the session (state %s)", zkc->hosts,
                   zkc_state_name(state));
    return -1;
}

/* One session to connect (hosts + chroot), no chroot creation. */
static zkc_t *zkc_open_session(const zkc_config_t *cfg, const char *hosts, const char *chroot, char *err,
                               size_t errlen) {
    zkc_t *zkc = mem_calloc(1, sizeof *zkc);
    metrics_registry_t *r = metrics_global();
    zkc->state_gauges = metrics_family(r, METRICS_GAUGE, "kafka_server_sessionexpirelistener_sessionstate",
                                       "The ZooKeeper session's state: 1 for the current one", "state", NULL, 0, 0);
    zkc->expires = metrics_counter(r, "kafka_server_sessionexpirelistener_zookeeperexpires",
                                   "ZooKeeper session expirations");
    zkc->disconnects = metrics_counter(r, "kafka_server_sessionexpirelistener_zookeeperdisconnects",
                                       "ZooKeeper disconnections (the session may survive them)");
    zkc->hosts = mem_strdup(hosts);
    zkc->chroot = mem_strdup(chroot ? chroot : "");
    size_t n = strlen(hosts) + strlen(zkc->chroot) + 1;
    zkc->connect = mem_alloc(n);
    snprintf(zkc->connect, n, "%s%s", hosts, zkc->chroot);
    zkc->session_timeout_ms = cfg->session_timeout_ms > 0 ? cfg->session_timeout_ms : 18000;
    zkc->connection_timeout_ms =
        cfg->connection_timeout_ms > 0 ? cfg->connection_timeout_ms : zkc->session_timeout_ms;
    zkc->post = cfg->post;
    zkc->post_ctx = cfg->post_ctx;
    zkc->on_session = cfg->on_session;
    zkc->session_ctx = cfg->session_ctx;
    pthread_mutex_init(&zkc->zh_lock, NULL);
    pthread_mutex_init(&zkc->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&zkc->cond, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&zkc->zh_lock);
    zkc->zh = zkc_handle_new(zkc);
    pthread_mutex_unlock(&zkc->zh_lock);
    if (!zkc->zh) {
        errmsg_set(err, errlen, "cannot start a ZooKeeper client for %s: %s", zkc->connect, strerror(errno));
        zkc_free(zkc);
        return NULL;
    }
    if (zkc_wait_connected(zkc, err, errlen) != 0) {
        zookeeper_close(zkc->zh);
        zkc_free(zkc);
        return NULL;
    }
    if (pthread_create(&zkc->supervisor, NULL, zkc_supervise, zkc) != 0) {
        errmsg_set(err, errlen, "cannot start the ZooKeeper supervisor thread: %s", strerror(errno));
        zookeeper_close(zkc->zh);
        zkc_free(zkc);
        return NULL;
    }
    zkc->has_supervisor = true;
    return zkc;
}

zkc_t *zkc_open(const zkc_config_t *cfg, char *err, size_t errlen) {
    char *hosts = NULL, *chroot = NULL;
    if (zkc_parse_connect(cfg->connect, &hosts, &chroot, err, errlen) != 0)
        return NULL;
    /* The C client logs its errors through zkc_log_bridge; DEBUG/INFO
     * chatter (every connect attempt) is not wanted at all. */
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zkc_t *zkc = NULL;
    if (chroot) {
        /* Kafka creates a missing chroot through a session without it. */
        zkc_config_t plain = *cfg;
        plain.post = NULL;
        plain.on_session = NULL;
        zkc_t *root = zkc_open_session(&plain, hosts, NULL, err, errlen);
        if (!root)
            goto out;
        zkc_err_t rc = zkc_create(root, chroot, NULL, -1, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
        zkc_close(root);
        if (rc != ZKC_OK && rc != ZKC_NODEEXISTS) {
            errmsg_set(err, errlen, "cannot create the ZooKeeper chroot %s: %s", chroot, zkc_strerror(rc));
            goto out;
        }
    }
    zkc = zkc_open_session(cfg, hosts, chroot, err, errlen);
    if (zkc)
        log_info("zkc", "ZooKeeper session 0x%llx with %s%s (timeout %d ms)",
                 (unsigned long long)zkc_session_id(zkc, NULL), hosts, chroot ? chroot : "",
                 zoo_recv_timeout(zkc->zh));
out:
    free(hosts);
    free(chroot);
    return zkc;
}

void zkc_close(zkc_t *zkc) {
    if (!zkc)
        return;
    pthread_mutex_lock(&zkc->mu);
    zkc->closing = true;
    pthread_cond_broadcast(&zkc->cond);
    pthread_mutex_unlock(&zkc->mu);
    if (zkc->has_supervisor)
        pthread_join(zkc->supervisor, NULL);

    pthread_mutex_lock(&zkc->zh_lock);
    zhandle_t *zh = zkc->zh;
    zkc->zh = NULL;
    zkc->closed = true;
    pthread_mutex_lock(&zkc->mu);
    zkc->cur = NULL;
    pthread_mutex_unlock(&zkc->mu);
    if (zh)
        zookeeper_close(zh); /* completes what is in flight with ZCLOSING */
    pthread_mutex_unlock(&zkc->zh_lock);

    pthread_mutex_lock(&zkc->mu);
    zkc_req_t *queued = zkc->retry_head;
    zkc->retry_head = zkc->retry_tail = NULL;
    pthread_mutex_unlock(&zkc->mu);
    zkc_fail_all(queued, ZKC_CLOSING);
    zkc_drop_watches(zkc, true);
    zkc_free(zkc);
}

bool zkc_connected(zkc_t *zkc) {
    pthread_mutex_lock(&zkc->mu);
    bool connected = zkc->state == ZOO_CONNECTED_STATE && !zkc->expired;
    pthread_mutex_unlock(&zkc->mu);
    return connected;
}

int64_t zkc_session_id(zkc_t *zkc, char passwd[16]) {
    pthread_mutex_lock(&zkc->zh_lock);
    const clientid_t *id = zkc->zh ? zoo_client_id(zkc->zh) : NULL;
    int64_t sid = id ? id->client_id : 0;
    if (passwd) {
        if (id)
            memcpy(passwd, id->passwd, 16);
        else
            memset(passwd, 0, 16);
    }
    pthread_mutex_unlock(&zkc->zh_lock);
    return sid;
}

const char *zkc_chroot(const zkc_t *zkc) { return zkc->chroot; }

const char *zkc_hosts(const zkc_t *zkc) { return zkc->hosts; }

/* ============================================================================
 * Synchronous calls
 * ========================================================================== */

void zkc_strings_free(zkc_strings_t *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

zkc_err_t zkc_get(zkc_t *zkc, const char *path, char **data, int *len, zkc_stat_t *stat) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_GET, path);
    zkc_err_t err = zkc_req_wait(zkc, r);
    *data = NULL;
    *len = -1;
    if (err == ZKC_OK) {
        *data = r->rdata;
        *len = r->rlen;
        r->rdata = NULL;
        if (stat)
            *stat = r->stat;
    }
    zkc_req_free(r);
    return err;
}

zkc_err_t zkc_exists(zkc_t *zkc, const char *path, zkc_stat_t *stat) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_EXISTS, path);
    zkc_err_t err = zkc_req_wait(zkc, r);
    if (err == ZKC_OK && stat)
        *stat = r->stat;
    zkc_req_free(r);
    return err;
}

zkc_err_t zkc_children(zkc_t *zkc, const char *path, zkc_strings_t *out) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_CHILDREN, path);
    zkc_err_t err = zkc_req_wait(zkc, r);
    *out = r->children;
    r->children.items = NULL;
    r->children.n = 0;
    zkc_req_free(r);
    return err;
}

static zkc_err_t zkc_create_once(zkc_t *zkc, const char *path, const void *data, int len, int flags,
                                 char **created) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_CREATE, path);
    zkc_req_set_data(r, data, len);
    r->flags = flags;
    zkc_err_t err = zkc_req_wait(zkc, r);
    if (created) {
        *created = r->created;
        r->created = NULL;
    }
    zkc_req_free(r);
    return err;
}

/* Kafka's createRecursive: try; on NONODE create the parent (itself
 * recursively, an existing one is fine) and try again. */
zkc_err_t zkc_create(zkc_t *zkc, const char *path, const void *data, int len, int flags, char **created) {
    if (created)
        *created = NULL;
    zkc_err_t err = zkc_create_once(zkc, path, data, len, flags & ~ZKC_PARENTS, created);
    if (err != ZKC_NONODE || !(flags & ZKC_PARENTS))
        return err;
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return err;
    char *parent = mem_strndup(path, (size_t)(slash - path));
    zkc_err_t perr = zkc_create(zkc, parent, NULL, -1, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
    free(parent);
    if (perr != ZKC_OK && perr != ZKC_NODEEXISTS)
        return perr;
    return zkc_create_once(zkc, path, data, len, flags & ~ZKC_PARENTS, created);
}

zkc_err_t zkc_set(zkc_t *zkc, const char *path, const void *data, int len, int version, zkc_stat_t *stat) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_SET, path);
    zkc_req_set_data(r, data, len);
    r->version = version;
    zkc_err_t err = zkc_req_wait(zkc, r);
    if (err == ZKC_OK && stat)
        *stat = r->stat;
    zkc_req_free(r);
    return err;
}

zkc_err_t zkc_delete(zkc_t *zkc, const char *path, int version) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_DELETE, path);
    r->version = version;
    zkc_err_t err = zkc_req_wait(zkc, r);
    zkc_req_free(r);
    return err;
}

/* ============================================================================
 * Transactions
 * ========================================================================== */

static void zkc_op_init(zkc_op_t *op, zkc_op_type_t type, const char *path) {
    memset(op, 0, sizeof *op);
    op->type = type;
    op->path = path;
    op->len = -1;
    op->version = ZKC_ANY_VERSION;
    op->err = ZKC_OK;
}

void zkc_op_create(zkc_op_t *op, const char *path, const void *data, int len, int flags) {
    zkc_op_init(op, ZKC_OP_CREATE, path);
    op->data = data;
    op->len = data ? len : -1;
    op->flags = flags;
}

void zkc_op_set(zkc_op_t *op, const char *path, const void *data, int len, int version) {
    zkc_op_init(op, ZKC_OP_SET, path);
    op->data = data;
    op->len = data ? len : -1;
    op->version = version;
}

void zkc_op_delete(zkc_op_t *op, const char *path, int version) {
    zkc_op_init(op, ZKC_OP_DELETE, path);
    op->version = version;
}

void zkc_op_check(zkc_op_t *op, const char *path, int version) {
    zkc_op_init(op, ZKC_OP_CHECK, path);
    op->version = version;
}

void zkc_ops_release(zkc_op_t *ops, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(ops[i].created);
        ops[i].created = NULL;
    }
}

/* A multi request owning copies of the ops and the C client's arrays. */
static zkc_req_t *zkc_multi_req(zkc_t *zkc, const zkc_op_t *ops, size_t n) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_MULTI, n ? ops[0].path : "/");
    size_t extra = strlen(zkc->chroot) + 16; /* sequence suffix */
    r->n_ops = n;
    r->ops = mem_calloc(n ? n : 1, sizeof *r->ops);
    r->zops = mem_calloc(n ? n : 1, sizeof *r->zops);
    r->zres = mem_calloc(n ? n : 1, sizeof *r->zres);
    r->zstats = mem_calloc(n ? n : 1, sizeof *r->zstats);
    r->path_bufs = mem_calloc(n ? n : 1, sizeof *r->path_bufs);
    for (size_t i = 0; i < n; i++) {
        zkc_op_t *op = &r->ops[i];
        *op = ops[i];
        op->err = ZKC_OK;
        op->created = NULL;
        op->path = mem_strdup(ops[i].path);
        if (ops[i].data && ops[i].len >= 0) {
            char *copy = mem_alloc((size_t)ops[i].len + 1);
            memcpy(copy, ops[i].data, (size_t)ops[i].len);
            op->data = copy;
        } else {
            op->data = NULL;
            op->len = -1;
        }
        switch (op->type) {
        case ZKC_OP_CREATE: {
            int buflen = (int)(strlen(op->path) + extra);
            r->path_bufs[i] = mem_calloc(1, (size_t)buflen);
            zoo_create_op_init(&r->zops[i], op->path, op->data, op->len, &ZOO_OPEN_ACL_UNSAFE,
                               zkc_mode(op->flags), r->path_bufs[i], buflen);
            break;
        }
        case ZKC_OP_SET:
            zoo_set_op_init(&r->zops[i], op->path, op->data, op->len, op->version, &r->zstats[i]);
            break;
        case ZKC_OP_DELETE: zoo_delete_op_init(&r->zops[i], op->path, op->version); break;
        case ZKC_OP_CHECK: zoo_check_op_init(&r->zops[i], op->path, op->version); break;
        }
    }
    return r;
}

/* Moves a finished multi's per-op results into the caller's ops; a multi
 * that never completed (not sent) gives every op its error. */
static void zkc_multi_collect(zkc_op_t *ops, size_t n, zkc_req_t *r) {
    for (size_t i = 0; i < n; i++) {
        ops[i].err = r->done ? r->ops[i].err : r->err;
        ops[i].created = r->ops[i].created;
        r->ops[i].created = NULL;
        ops[i].stat = r->ops[i].stat;
    }
}

zkc_err_t zkc_multi(zkc_t *zkc, zkc_op_t *ops, size_t n) {
    if (n == 0 || n > ZKC_MULTI_MAX)
        return ZKC_BADARGUMENTS;
    zkc_req_t *r = zkc_multi_req(zkc, ops, n);
    zkc_err_t err = zkc_req_wait(zkc, r);
    zkc_multi_collect(ops, n, r);
    zkc_req_free(r);
    return err;
}

/* ============================================================================
 * Pipelined batches
 * ========================================================================== */

static zkc_req_t *zkc_batch_req(zkc_t *zkc, const zkc_batch_item_t *it) {
    static const zkc_req_kind_t kinds[] = {
        [ZKC_BATCH_GET] = REQ_GET,       [ZKC_BATCH_EXISTS] = REQ_EXISTS, [ZKC_BATCH_CHILDREN] = REQ_CHILDREN,
        [ZKC_BATCH_CREATE] = REQ_CREATE, [ZKC_BATCH_SET] = REQ_SET,       [ZKC_BATCH_DELETE] = REQ_DELETE,
    };
    if (it->kind == ZKC_BATCH_MULTI)
        return zkc_multi_req(zkc, it->ops, it->n_ops);
    zkc_req_t *r = zkc_req_new(zkc, kinds[it->kind], it->path);
    if (it->kind == ZKC_BATCH_CREATE || it->kind == ZKC_BATCH_SET)
        zkc_req_set_data(r, it->data, it->len);
    r->flags = it->flags;
    r->version = it->version;
    return r;
}

/* Moves r's results into the item. */
static void zkc_batch_collect(zkc_batch_item_t *it, zkc_req_t *r) {
    it->err = r->err;
    it->out_data = r->rdata;
    it->out_len = r->rlen;
    r->rdata = NULL;
    if (r->has_stat)
        it->stat = r->stat;
    it->children = r->children;
    r->children.items = NULL;
    r->children.n = 0;
    if (it->kind == ZKC_BATCH_MULTI)
        zkc_multi_collect(it->ops, it->n_ops, r);
}

void zkc_batch(zkc_t *zkc, zkc_batch_item_t *items, size_t n) {
    zkc_req_t **reqs = mem_calloc(n ? n : 1, sizeof *reqs);
    bool *sent = mem_calloc(n ? n : 1, sizeof *sent);
    for (size_t i = 0; i < n; i++) {
        zkc_batch_item_t *it = &items[i];
        it->out_data = NULL;
        it->out_len = -1;
        it->children = (zkc_strings_t){NULL, 0};
        memset(&it->stat, 0, sizeof it->stat);
        if (it->kind == ZKC_BATCH_MULTI && (it->n_ops == 0 || it->n_ops > ZKC_MULTI_MAX)) {
            it->err = ZKC_BADARGUMENTS;
            continue;
        }
        reqs[i] = zkc_batch_req(zkc, it);
        sent[i] = zkc_req_send_sync(zkc, reqs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        zkc_req_t *r = reqs[i];
        if (!r)
            continue;
        if (sent[i])
            zkc_req_await(r);
        zkc_batch_collect(&items[i], r);
        zkc_req_free(r);
    }
    free(sent);
    free(reqs);
}

void zkc_batch_release(zkc_batch_item_t *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(items[i].out_data);
        items[i].out_data = NULL;
        zkc_strings_free(&items[i].children);
        if (items[i].kind == ZKC_BATCH_MULTI && items[i].ops)
            zkc_ops_release(items[i].ops, items[i].n_ops);
    }
}

/* ============================================================================
 * A znode's children with their data
 * ========================================================================== */

zkc_err_t zkc_get_children_data(zkc_t *zkc, const char *path, zkc_children_data_t *out) {
    *out = (zkc_children_data_t){NULL, 0};
    zkc_strings_t names;
    zkc_err_t err = zkc_children(zkc, path, &names);
    if (err != ZKC_OK) {
        zkc_strings_free(&names);
        return err;
    }
    /* The root's children are "/name", not "//name". */
    const char *parent = strcmp(path, "/") == 0 ? "" : path;
    zkc_child_t *children = mem_calloc(names.n ? names.n : 1, sizeof *children);
    zkc_batch_item_t *items = mem_calloc(names.n ? names.n : 1, sizeof *items);
    for (size_t i = 0; i < names.n; i++) {
        size_t size = strlen(parent) + 1 + strlen(names.items[i]) + 1;
        children[i].name = names.items[i]; /* taken from names */
        children[i].path = mem_alloc(size);
        snprintf(children[i].path, size, "%s/%s", parent, names.items[i]);
        items[i] = (zkc_batch_item_t){.kind = ZKC_BATCH_GET, .path = children[i].path};
    }
    zkc_batch(zkc, items, names.n);
    for (size_t i = 0; i < names.n; i++) {
        children[i].err = items[i].err;
        children[i].data = items[i].out_data; /* taken from the item */
        children[i].len = items[i].out_len;
        children[i].stat = items[i].stat;
    }
    free(items);
    free(names.items);
    *out = (zkc_children_data_t){children, names.n};
    return ZKC_OK;
}

void zkc_children_data_free(zkc_children_data_t *children) {
    for (size_t i = 0; i < children->n; i++) {
        free(children->v[i].name);
        free(children->v[i].path);
        free(children->v[i].data);
    }
    free(children->v);
    *children = (zkc_children_data_t){NULL, 0};
}

/* ============================================================================
 * Asynchronous calls
 * ========================================================================== */

static zkc_err_t zkc_async_read(zkc_t *zkc, zkc_req_kind_t kind, const char *path, zkc_watch_fn watch_fn,
                                void *watch_ctx, zkc_result_fn cb, void *ctx) {
    zkc_req_t *r = zkc_req_new(zkc, kind, path);
    r->cb = cb;
    r->ctx = ctx;
    zkc_req_attach_watch(zkc, r, watch_fn, watch_ctx);
    return zkc_req_start(zkc, r);
}

zkc_err_t zkc_aget(zkc_t *zkc, const char *path, zkc_watch_fn watch_fn, void *watch_ctx, zkc_result_fn cb,
                   void *ctx) {
    return zkc_async_read(zkc, REQ_GET, path, watch_fn, watch_ctx, cb, ctx);
}

zkc_err_t zkc_aexists(zkc_t *zkc, const char *path, zkc_watch_fn watch_fn, void *watch_ctx, zkc_result_fn cb,
                      void *ctx) {
    return zkc_async_read(zkc, REQ_EXISTS, path, watch_fn, watch_ctx, cb, ctx);
}

zkc_err_t zkc_achildren(zkc_t *zkc, const char *path, zkc_watch_fn watch_fn, void *watch_ctx, zkc_result_fn cb,
                        void *ctx) {
    return zkc_async_read(zkc, REQ_CHILDREN, path, watch_fn, watch_ctx, cb, ctx);
}

zkc_err_t zkc_acreate(zkc_t *zkc, const char *path, const void *data, int len, int flags, zkc_result_fn cb,
                      void *ctx) {
    if (flags & ZKC_PARENTS)
        return ZKC_BADARGUMENTS;
    zkc_req_t *r = zkc_req_new(zkc, REQ_CREATE, path);
    zkc_req_set_data(r, data, len);
    r->flags = flags;
    r->cb = cb;
    r->ctx = ctx;
    return zkc_req_start(zkc, r);
}

zkc_err_t zkc_aset(zkc_t *zkc, const char *path, const void *data, int len, int version, zkc_result_fn cb,
                   void *ctx) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_SET, path);
    zkc_req_set_data(r, data, len);
    r->version = version;
    r->cb = cb;
    r->ctx = ctx;
    return zkc_req_start(zkc, r);
}

zkc_err_t zkc_adelete(zkc_t *zkc, const char *path, int version, zkc_result_fn cb, void *ctx) {
    zkc_req_t *r = zkc_req_new(zkc, REQ_DELETE, path);
    r->version = version;
    r->cb = cb;
    r->ctx = ctx;
    return zkc_req_start(zkc, r);
}

zkc_err_t zkc_amulti(zkc_t *zkc, const zkc_op_t *ops, size_t n, zkc_result_fn cb, void *ctx) {
    if (n == 0 || n > ZKC_MULTI_MAX)
        return ZKC_BADARGUMENTS;
    zkc_req_t *r = zkc_multi_req(zkc, ops, n);
    r->cb = cb;
    r->ctx = ctx;
    return zkc_req_start(zkc, r);
}
