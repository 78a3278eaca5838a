/*
 * zkc — samsa's ZooKeeper client: one session over the multi-threaded C
 * client (libzookeeper_mt), with Kafka's ZooKeeperClient behaviour.
 *
 * Threads. The C client runs its own I/O and completion threads. No zkc
 * callback ever runs on them: every result, watch event and session event
 * is handed to the owner's executor (zkc_config_t.post), which runs it
 * where the owner's state lives (the broker passes evloop_post with its
 * "zk-events" evloop: each callback is an evloop_run task on that loop's
 * thread). Synchronous calls block the calling thread and never go through
 * the executor, so tools can use them without one, and callbacks may make
 * them (they then block that executor thread for one round trip).
 *
 * Connecting. zookeeper.connect is "host:port[,host:port...][/chroot]".
 * zkc_open waits up to the connection timeout for the session, and fails
 * with a clear message when ZooKeeper cannot be reached (Kafka's
 * "Timed out waiting for connection"). A chroot that does not exist is
 * created first (persistent, recursively), as KafkaServer does, through a
 * short session without the chroot.
 *
 * Sessions. A lost connection is retried by the C client; zkc reports
 * ZKC_SESSION_DISCONNECTED and ZKC_SESSION_CONNECTED. When ZooKeeper says
 * the session expired, zkc reports ZKC_SESSION_EXPIRED, opens a new session
 * by itself (retrying until it gets one or zkc_close), and reports
 * ZKC_SESSION_NEW: the owner then re-creates its ephemeral nodes and
 * re-registers its watches (Kafka's RegisterBrokerAndReelect). Ephemerals
 * and watches of the old session are gone.
 *
 * Retries. Reads (get, exists, children) that fail with a lost connection
 * are re-sent once the connection is back, for up to the session timeout
 * plus the connection timeout after the call (then ZKC_CONNECTIONLOSS);
 * reads still waiting when the session expires fail with
 * ZKC_SESSIONEXPIRED. Writes are not retried: ZKC_CONNECTIONLOSS on a
 * write means "maybe applied" and the caller must re-read (as Kafka does
 * for registration and elections).
 *
 * Watches are one-shot. A watch function is called exactly once: with the
 * event, or with ZKC_WATCH_DROPPED when it was never set (the read failed)
 * or the session ended first (expiry, zkc_close). So a watch context can
 * always be freed in its callback.
 *
 * Data. NULL data with any length means a znode holding null (Kafka's
 * containers); a get of such a node gives data NULL, len -1. Paths are
 * relative to the chroot.
 *
 * Logging. The C client's own log goes to samsa's logger ("zookeeper"
 * component) at WARN, only its errors and at most one line a second: it
 * repeats itself at every connection attempt while ZooKeeper is down.
 *
 * Every function may be called from any thread, except that no call may
 * start during or after zkc_close.
 */
#ifndef SAMSA_ZKC_H
#define SAMSA_ZKC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zkc zkc_t;

/* --- errors ------------------------------------------------------------------- */

typedef enum zkc_err {
    ZKC_OK = 0,
    ZKC_NONODE,                  /* node does not exist */
    ZKC_NODEEXISTS,              /* node already exists */
    ZKC_BADVERSION,              /* expected version does not match */
    ZKC_NOTEMPTY,                /* node has children */
    ZKC_NOCHILDRENFOREPHEMERALS, /* ephemerals cannot have children */
    ZKC_CONNECTIONLOSS,          /* connection lost or timed out: outcome unknown */
    ZKC_SESSIONEXPIRED,          /* the session the call was made in is gone */
    ZKC_CLOSING,                 /* the client is closing */
    ZKC_NOAUTH,                  /* not authorised (ACL or authentication) */
    ZKC_BADARGUMENTS,            /* invalid path or arguments */
    ZKC_ROLLEDBACK,              /* multi: not applied, another op failed */
    ZKC_ERROR                    /* any other failure */
} zkc_err_t;

/* One line of text for an error ("node does not exist"); never NULL. */
const char *zkc_strerror(zkc_err_t err);
/* The constant's name without prefix ("NONODE"), for logs. */
const char *zkc_err_name(zkc_err_t err);
/* Maps a ZooKeeper C client return code (ZOK, ZNONODE, ...) to zkc_err_t. */
zkc_err_t zkc_err_from_zoo(int rc);

/* --- connect strings -------------------------------------------------------------- */

/* Splits "h1:p1,h2:p2/chroot" into hosts and chroot (both mem_alloc'd,
 * caller frees; *chroot is NULL without a chroot or for "/"). The chroot
 * must be a valid ZooKeeper path: "/"-separated non-empty names, no "."
 * or "..", no trailing "/", no control characters. Returns 0, or -1 with
 * a message in err. */
int zkc_parse_connect(const char *connect, char **hosts, char **chroot, char *err, size_t errlen);

/* --- opening and closing ----------------------------------------------------------- */

/* Runs fn(arg) on the owner's executor, later and on another thread than
 * the caller's. Returns 0, or -1 when the executor no longer runs tasks
 * (zkc then frees what arg holds and fn is not called). Must be
 * thread-safe: zkc calls it from ZooKeeper's and its own threads. */
typedef int (*zkc_post_fn)(void *post_ctx, void (*fn)(void *arg), void *arg);

typedef enum zkc_session_event {
    ZKC_SESSION_DISCONNECTED, /* connection lost; the C client reconnects */
    ZKC_SESSION_CONNECTED,    /* reconnected, same session */
    ZKC_SESSION_EXPIRED,      /* the session is gone (ephemerals, watches) */
    ZKC_SESSION_NEW           /* a new session replaced the expired one */
} zkc_session_event_t;

const char *zkc_session_event_name(zkc_session_event_t ev);

typedef void (*zkc_session_fn)(void *ctx, zkc_session_event_t ev);

typedef struct zkc_config {
    const char *connect;         /* zookeeper.connect */
    int session_timeout_ms;      /* zookeeper.session.timeout.ms */
    int connection_timeout_ms;   /* zookeeper.connection.timeout.ms */
    zkc_post_fn post;            /* required for async calls and events */
    void *post_ctx;
    zkc_session_fn on_session;   /* optional; runs on the executor */
    void *session_ctx;
} zkc_config_t;

/* Connects (see the header comment). Returns the client, or NULL with a
 * message in err: a malformed connect string, or no session within the
 * connection timeout. */
zkc_t *zkc_open(const zkc_config_t *cfg, char *err, size_t errlen);

/* Closes the session (ZooKeeper deletes its ephemerals at once) and frees
 * the client. Calls still in flight complete with ZKC_CLOSING and pending
 * watches get ZKC_WATCH_DROPPED, all through post during this call, so the
 * executor must accept tasks until zkc_close returns; those callbacks may
 * run after it returned and must not use the client. NULL is a no-op. */
void zkc_close(zkc_t *zkc);

/* The current session's id and password (the C client's clientid_t), e.g.
 * for logs. passwd may be NULL. */
int64_t zkc_session_id(zkc_t *zkc, char passwd[16]);
/* The chroot in effect ("" without one). */
const char *zkc_chroot(const zkc_t *zkc);
/* Whether the session is connected now (not expired, not between servers). */
bool zkc_connected(zkc_t *zkc);
/* The host list without chroot. */
const char *zkc_hosts(const zkc_t *zkc);

/* --- synchronous calls ------------------------------------------------------------- */

/* ZooKeeper's Stat. */
typedef struct zkc_stat {
    int64_t czxid;          /* creation zxid (Kafka's broker epoch) */
    int64_t mzxid;
    int64_t ctime;          /* ms */
    int64_t mtime;
    int32_t version;        /* data version (Kafka's "zkVersion") */
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeral_owner; /* session id, 0 for persistent nodes */
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
} zkc_stat_t;

/* Creation flags. */
#define ZKC_PERSISTENT 0
#define ZKC_EPHEMERAL 1
#define ZKC_SEQUENTIAL 2 /* ZooKeeper appends a 10-digit counter */
#define ZKC_PARENTS 4    /* create missing parents (persistent, null data) */

/* Any version, for set/delete. */
#define ZKC_ANY_VERSION (-1)

typedef struct zkc_strings {
    char **items; /* sorted (byte order), each mem_alloc'd */
    size_t n;
} zkc_strings_t;

void zkc_strings_free(zkc_strings_t *s);

/* *data: a mem_alloc'd copy (caller frees; NUL-terminated for convenience,
 * the terminator not counted), or NULL with *len -1 for a null node. stat
 * may be NULL. */
zkc_err_t zkc_get(zkc_t *zkc, const char *path, char **data, int *len, zkc_stat_t *stat);
/* ZKC_OK (stat filled if not NULL) or ZKC_NONODE. */
zkc_err_t zkc_exists(zkc_t *zkc, const char *path, zkc_stat_t *stat);
/* Children names (not paths), sorted. out is set also on errors (empty). */
zkc_err_t zkc_children(zkc_t *zkc, const char *path, zkc_strings_t *out);
/* created (may be NULL): the path ZooKeeper created, mem_alloc'd (differs
 * from path for ZKC_SEQUENTIAL). With ZKC_PARENTS an existing parent is
 * fine; the node itself existing is ZKC_NODEEXISTS. */
zkc_err_t zkc_create(zkc_t *zkc, const char *path, const void *data, int len, int flags, char **created);
/* stat (may be NULL): the node's stat after the write. */
zkc_err_t zkc_set(zkc_t *zkc, const char *path, const void *data, int len, int version, zkc_stat_t *stat);
zkc_err_t zkc_delete(zkc_t *zkc, const char *path, int version);

/* --- transactions -------------------------------------------------------------------- */

typedef enum zkc_op_type { ZKC_OP_CREATE, ZKC_OP_SET, ZKC_OP_DELETE, ZKC_OP_CHECK } zkc_op_type_t;

/* One operation of a multi. Inputs are borrowed for the call. Results:
 * err per op — on failure the op that failed has its error and every
 * other op ZKC_ROLLEDBACK (nothing of the transaction was applied);
 * created (create, mem_alloc'd, freed by zkc_ops_release); stat (set). */
typedef struct zkc_op {
    zkc_op_type_t type;
    const char *path;
    const void *data; /* create, set; NULL: null data */
    int len;
    int flags;        /* create: ZKC_EPHEMERAL, ZKC_SEQUENTIAL (not ZKC_PARENTS) */
    int version;      /* set, delete, check */
    zkc_err_t err;
    char *created;
    zkc_stat_t stat;
} zkc_op_t;

void zkc_op_create(zkc_op_t *op, const char *path, const void *data, int len, int flags);
void zkc_op_set(zkc_op_t *op, const char *path, const void *data, int len, int version);
void zkc_op_delete(zkc_op_t *op, const char *path, int version);
void zkc_op_check(zkc_op_t *op, const char *path, int version);
/* Frees the results (created paths) of n ops. */
void zkc_ops_release(zkc_op_t *ops, size_t n);

/* Applies all n ops atomically or none; returns the first failing op's
 * error. Per-op results in ops[]. At most ZKC_MULTI_MAX ops. */
#define ZKC_MULTI_MAX 1000
zkc_err_t zkc_multi(zkc_t *zkc, zkc_op_t *ops, size_t n);

/* --- pipelined batches ------------------------------------------------------------ */

/* Many synchronous calls at once: all are sent before the first result is
 * awaited, so n reads or writes cost about one round trip instead of n
 * (Kafka's retryRequestsUntilConnected over its pipelined async requests —
 * how a controller reads or writes the state of 1,000 partitions fast).
 * No watches and no executor: it may be called on the executor's thread.
 * Reads lost with a connection are re-sent as with zkc_get. */
typedef enum zkc_batch_kind {
    ZKC_BATCH_GET,
    ZKC_BATCH_EXISTS,
    ZKC_BATCH_CHILDREN,
    ZKC_BATCH_CREATE,
    ZKC_BATCH_SET,
    ZKC_BATCH_DELETE,
    ZKC_BATCH_MULTI
} zkc_batch_kind_t;

typedef struct zkc_batch_item {
    /* inputs (borrowed for the call) */
    zkc_batch_kind_t kind;
    const char *path;
    const void *data;   /* create, set; NULL: null data */
    int len;
    int flags;          /* create: ZKC_EPHEMERAL, ZKC_SEQUENTIAL */
    int version;        /* set, delete */
    zkc_op_t *ops;      /* multi: results in place as zkc_multi */
    size_t n_ops;
    /* results (release with zkc_batch_release) */
    zkc_err_t err;
    char *out_data;     /* get: as zkc_get (NULL, -1 for a null node) */
    int out_len;
    zkc_stat_t stat;    /* get, exists, children, set */
    zkc_strings_t children;
} zkc_batch_item_t;

/* Runs the n items; each gets its own err. */
void zkc_batch(zkc_t *zkc, zkc_batch_item_t *items, size_t n);
/* Frees the results of n items (out_data, children, multi results). */
void zkc_batch_release(zkc_batch_item_t *items, size_t n);

/* --- a znode's children with their data -------------------------------------------------- */

/* One child as zkc_get_children_data read it; the strings and data are
 * owned by the list (zkc_children_data_free). */
typedef struct zkc_child {
    char *name;      /* the child's name */
    char *path;      /* the parent's path + "/" + name, e.g. to delete it */
    zkc_err_t err;   /* its get; ZKC_NONODE when it went away after the listing */
    char *data;      /* as zkc_get: NULL with len -1 for a null node */
    int len;
    zkc_stat_t stat;
} zkc_child_t;

typedef struct zkc_children_data {
    zkc_child_t *v; /* sorted by name, as zkc_children */
    size_t n;
} zkc_children_data_t;

/* Lists path's children, then reads them all in one zkc_batch: two round
 * trips however many there are (what the controller does with the broker
 * registrations, the config watcher with change notifications). Returns
 * the listing's error, and then out is empty; each child has its own err.
 * Synchronous like zkc_batch, no watches. */
zkc_err_t zkc_get_children_data(zkc_t *zkc, const char *path, zkc_children_data_t *out);
/* Frees what the list owns and empties it. */
void zkc_children_data_free(zkc_children_data_t *children);

/* --- asynchronous calls and watches ---------------------------------------------------- */

typedef enum zkc_watch_type {
    ZKC_WATCH_CREATED,
    ZKC_WATCH_DELETED,
    ZKC_WATCH_CHANGED,  /* data changed */
    ZKC_WATCH_CHILDREN, /* children changed */
    ZKC_WATCH_DROPPED   /* never set, or the session ended first */
} zkc_watch_type_t;

const char *zkc_watch_type_name(zkc_watch_type_t t);

/* path: the watched path (valid during the call). */
typedef void (*zkc_watch_fn)(void *ctx, zkc_watch_type_t type, const char *path);

/* A call's outcome, valid during the callback only. */
typedef struct zkc_result {
    zkc_err_t err;
    const char *path;        /* the path of the call */
    const char *data;        /* get: NULL for a null node (then len -1) */
    int len;
    const zkc_stat_t *stat;  /* get, exists, children, set (NULL if not ok) */
    const zkc_strings_t *children; /* children */
    const char *created;     /* create */
    zkc_op_t *ops;           /* multi: per-op results (as zkc_multi) */
    size_t n_ops;
} zkc_result_t;

typedef void (*zkc_result_fn)(void *ctx, const zkc_result_t *res);

/* Each returns ZKC_OK when the call was sent: then cb (may be NULL) runs
 * exactly once through post, and the watch (watch_fn NULL: none) exactly
 * once too. Any other return: nothing was sent and nothing will be called.
 * exists sets a watch also when the node does not exist (to see it
 * created); get and children set one only when it exists. */
zkc_err_t zkc_aget(zkc_t *zkc, const char *path, zkc_watch_fn watch_fn, void *watch_ctx, zkc_result_fn cb,
                   void *ctx);
zkc_err_t zkc_aexists(zkc_t *zkc, const char *path, zkc_watch_fn watch_fn, void *watch_ctx, zkc_result_fn cb,
                      void *ctx);
zkc_err_t zkc_achildren(zkc_t *zkc, const char *path, zkc_watch_fn watch_fn, void *watch_ctx, zkc_result_fn cb,
                        void *ctx);
/* Writes (copied at the call; ZKC_PARENTS is not supported here). */
zkc_err_t zkc_acreate(zkc_t *zkc, const char *path, const void *data, int len, int flags, zkc_result_fn cb,
                      void *ctx);
zkc_err_t zkc_aset(zkc_t *zkc, const char *path, const void *data, int len, int version, zkc_result_fn cb,
                   void *ctx);
zkc_err_t zkc_adelete(zkc_t *zkc, const char *path, int version, zkc_result_fn cb, void *ctx);
/* ops are copied; the results come in res->ops. */
zkc_err_t zkc_amulti(zkc_t *zkc, const zkc_op_t *ops, size_t n, zkc_result_fn cb, void *ctx);

#endif
