/*
 * net — the broker's network layer: listeners, connections and Kafka framing
 * on libevent, modelled on Kafka 2.8's SocketServer (reference:
 * ../shared/reference/protocol.md §1, §2). It knows frames and connections,
 * not the Kafka APIs: the caller's handler gets whole request frames and
 * answers each with a response (or none, or a close).
 *
 *   acceptor thread ──accept()──> round robin ──> loop 0 .. loop N-1
 *                                                  (num.network.threads: one
 *                                                   evloop each — thread,
 *                                                   event_base, task queue)
 *
 * Framing: int32 size (big-endian, excluding itself) + payload, both ways. A
 * request whose size is negative or above socket.request.max.bytes is logged
 * (peer, size) and its connection closed (after the responses already queued
 * are written, as Kafka's would have been).
 *
 * Threads. Every network loop is an evloop (evloop.h) and everything about a
 * connection happens on its loop's thread: the handler runs there, and
 * net_respond / net_respond_none / net_close / net_conn_* must be called
 * there (the answering and hold calls abort otherwise: a race here would
 * corrupt streams silently). Work finished on another thread gets back with
 * evloop_run(net_conn_evloop(conn), fn, arg); a handler that waits uses
 * evloop_after on that loop. net_conn_evloop, net_shutdown and
 * net_loop_stats are the thread-safe calls. The handler context is shared
 * by all loops: the caller protects its own state.
 *
 * Ordering (Kafka's guarantee, which clients rely on): requests are handled
 * in the order they arrive, and responses are written in request order.
 * A connection has at most one request in flight: after a frame is
 * delivered, no further frame of that connection is delivered until the
 * handler answers it, exactly once, with net_respond, net_respond_none
 * (acks=0) or net_close — inline in the handler or later (a long-poll
 * fetch) — or detaches it (below). Meanwhile the socket is still read ahead
 * (up to net_config_t.buffer_bound bytes) so pipelined requests are ready at
 * once.
 *
 * Detaching (net_detach): a handler whose request has done all its work on
 * the frame and only waits — an acks=all produce, appended, waiting for its
 * replicas — detaches it: the frame is released, the next frame is
 * delivered, and the request is answered later through its slot
 * (net_slot_respond / net_slot_close), exactly once. Its response keeps its
 * place: a response to a later request waits until every detached one
 * before it is answered. Kafka mutes a connection until the response is
 * sent, so a client's requests there wait for each other's replication; a
 * broker leading N partitions for a client that sends one partition per
 * request (librdkafka) then acknowledges each partition once every N
 * replication round trips. At most NET_MAX_SLOTS (below) detached requests
 * wait per connection; beyond that delivery pauses. A slot answered with a
 * close closes the connection after the responses before it; later answers
 * are dropped.
 * Deferring (net_defer): a request that arrives while detached ones wait
 * and that should see what they did (a Metadata request behind waiting
 * produces) is handled when its turn comes, as Kafka's muted connection
 * would: its handler copies the frame and defers it; net starts it once
 * every request before it is answered, and it answers through its slot.
 * Until then no later frame is delivered (a produce behind a CreateTopics
 * must not overtake it) — unless the request changes nothing and only
 * reads (Metadata): then the produces after it go on being appended while
 * it waits, as they would with no Metadata between them.
 * Handled at once instead, it would describe the cluster as it was when it
 * arrived and reach the client seconds later — a client that believes such
 * an answer moves partitions back to a dead leader.
 * A large frame still arriving is waited for with SO_RCVLOWAT (up to a
 * quarter megabyte at a time), so it takes a few large reads and wake-ups
 * instead of one per TCP segment.
 *
 * Frame lifetime (zero copy): the frame points into the connection's input
 * buffer and stays valid and unchanged until the request is answered — even
 * if the connection closes meanwhile. The handler may rewrite it in place
 * (e.g. assign offsets in a produce batch) and must not touch it after
 * answering.
 *
 * Connection lifetime: a net_conn_t is reference counted. The connection
 * holds one reference while open, and every delivered request holds one
 * until it is answered (a detached one: until its response is written or
 * dropped), so a handler may answer a request whose connection
 * died (the response is dropped) without any check. A handler that wants
 * to keep a conn pointer beyond its request takes net_conn_hold/release.
 * The optional close callback tells the handler when a connection closes
 * (peer gone, error, idle, framing, shutdown), so it can give up waiting
 * work early — but it must still answer the request it holds.
 *
 * Back-pressure: when a connection's queued output exceeds buffer_bound
 * bytes, it is neither read nor given further frames until the output has
 * drained below the bound (a client that never reads cannot make the broker
 * buffer without limit).
 *
 * Responses (net_response_t): payload bytes with file ranges spliced in
 * between, e.g. a fetch response with record batches straight from segment
 * files. net adds the int32 size prefix. File ranges go out with sendfile()
 * or from a copy (net_send_mode_t). The response owns the fd of each range
 * (net_response_add_owned_file): the caller duplicates the fd while the file
 * is known to be the right one (the fetch path: under the partition's lock,
 * so a log deleted meanwhile cannot hand the fd number to another file), and
 * net closes it exactly once — when the range was sent or the connection
 * closed (SENDFILE: the fd itself stays queued, no second dup), right after
 * net_respond mapped or read the range (MMAP, PREAD), or when the response
 * is dropped (a dead connection, a malformed response, net_response_free).
 * The bytes of a range must stay in the file until sent (the log deletes
 * segment files only file.delete.delay.ms after retention, and truncation is
 * rare): a range that became shorter before it was sent closes the
 * connection (SENDFILE, MMAP; PREAD read it at net_respond) — never wrong
 * bytes in mid-stream.
 *
 * Idle: a connection without a byte read or written for
 * connections.max.idle.ms is closed (as in Kafka, a request in flight does
 * not count as activity).
 *
 * Shutdown: net_stop() (or net_shutdown(), async-signal-safe, then
 * net_stop()) stops accepting, gives requests in flight (detached ones too) up to
 * shutdown_timeout_ms to be answered and their responses written, closes
 * every connection and joins the threads. Queued but undelivered pipelined
 * requests are dropped. After net_stop() no net_* or evloop_* call may be
 * made for its connections or loops. A loop ends as every evloop does
 * (evloop.h): the evloop_after timers still pending fire then, early, on
 * the loop's thread (a long poll whose client left answers into its closed
 * connection and frees its request; timers added by those callbacks are
 * freed uncalled), and the tasks queued until then run (an admin-worker
 * answer to a closed connection is dropped and its request freed); later
 * evloop_run calls fail.
 */
#ifndef SAMSA_NET_H
#define SAMSA_NET_H

#include "net/evloop.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct net net_t;
typedef struct net_loop net_loop_t;
typedef struct net_conn net_conn_t;
typedef struct net_slot net_slot_t;

/* --- responses ----------------------------------------------------------- */

/* File bytes [pos, pos + len) of fd, inserted before bytes[at]. The fd is
 * the response's (-1 once net has taken it over). */
typedef struct net_splice {
    size_t at;
    int fd;
    int64_t pos;
    size_t len;
} net_splice_t;

/* A response payload (the size prefix is net's): bytes with splices in
 * nondecreasing `at` order. The codec builds it and net_respond takes all of
 * it (bytes.data and the splices array, both malloc'd, and every splice's
 * fd) without copying and leaves the response empty. */
typedef struct net_response {
    buf_t bytes;
    net_splice_t *splices;
    size_t nsplices;
    size_t splices_cap;
} net_response_t;

void net_response_init(net_response_t *r);
/* For a response never sent: frees its memory and closes its fds. */
void net_response_free(net_response_t *r);
/* Appends a file range at the current end of bytes; the response takes fd
 * (a duplicate the caller made for it) and closes it exactly once. */
void net_response_add_owned_file(net_response_t *r, int fd, int64_t pos, size_t len);
/* bytes plus every range: the size the frame will announce. */
size_t net_response_size(const net_response_t *r);

/* How file ranges are written (all three send the same bytes):
 *   SENDFILE  sendfile(2) from the range's own fd when the socket is
 *             writable: no copy in the broker, no syscall at net_respond.
 *   MMAP      the range is mmap()ed at net_respond and writev()ed from the
 *             mapping (one kernel copy); ranges under 64 KiB are pread
 *             instead, a mapping costing more than the copy there.
 *   PREAD     the range is pread() into the output buffer at net_respond
 *             (two copies, no file held).
 * Over loopback (tests/bench/net-bench on this 2-vCPU VM, 1 connection, GB/s
 * for 64 KiB / 1 MiB / 16 MiB ranges) on a quiet machine SENDFILE was the
 * fastest: 3.2-4.1 / 6.0-8.7 / 4.1-4.7, MMAP 2.0 / 4.0-4.3 / 3.8, PREAD
 * 2.8 / 3.6-3.9 / 2.6-2.8; librdkafka consuming 1,000-byte records from the
 * broker: 2.20 M rec/s with SENDFILE, 1.84 M with MMAP. MMAP won only in runs
 * where other processes took the CPUs (then client and broker share one,
 * and sendfile's in-kernel copy competes with the client). */
typedef enum net_send_mode {
    NET_SEND_SENDFILE = 0,
    NET_SEND_MMAP = 1,
    NET_SEND_PREAD = 2,
} net_send_mode_t;

#define NET_SEND_DEFAULT NET_SEND_SENDFILE

/* "sendfile", "mmap", "pread"; 0, or -1 for another name. */
int net_send_mode_parse(const char *name, net_send_mode_t *out);
const char *net_send_mode_name(net_send_mode_t mode);

/* --- configuration ------------------------------------------------------- */

/* Runs on the connection's loop thread; frame/len as described above. */
typedef void (*net_request_fn)(void *ctx, net_conn_t *conn, uint8_t *frame, size_t len);
/* Runs once per connection as it closes, on its loop thread (possibly
 * inside net_close); conn is valid during the call. */
typedef void (*net_close_fn)(void *ctx, net_conn_t *conn);

typedef struct net_listen {
    const char *name; /* listener name for the handler ("PLAINTEXT"); may be NULL */
    const char *host; /* NULL or "" = every interface */
    int port;         /* 0 = any free port: read it back with net_listener_port */
} net_listen_t;

typedef struct net_config {
    const net_listen_t *listeners; /* copied by net_new */
    size_t nlisteners;
    int num_network_threads;          /* num.network.threads, >= 1 */
    int32_t socket_request_max_bytes; /* socket.request.max.bytes, >= 1 */
    int64_t connections_max_idle_ms;  /* connections.max.idle.ms, <= 0: never */
    int socket_send_buffer_bytes;     /* socket.send.buffer.bytes, -1: OS default */
    int socket_receive_buffer_bytes;  /* socket.receive.buffer.bytes, -1: OS default */
    size_t buffer_bound;              /* back-pressure and read-ahead bound, bytes */
    int64_t shutdown_timeout_ms;      /* how long net_stop waits for requests in flight */
    net_send_mode_t send_mode;
    net_request_fn on_request;        /* required */
    net_close_fn on_close;            /* may be NULL */
    void *ctx;                        /* passed to both */
} net_config_t;

/* Kafka 2.8's defaults (3 threads, 100 MiB requests, 10 min idle, 100 KiB
 * socket buffers), a 4 MiB buffer bound, 5 s shutdown wait, the default send
 * mode, no listeners and no handler. */
void net_config_init(net_config_t *cfg);

/* --- lifecycle ----------------------------------------------------------- */

/* Checks cfg and binds every listener (so that a port in use fails here and
 * bound ports can be read at once); no thread runs yet. Calls
 * evthread_use_pthreads() (as evloop_new does), which must precede any
 * other event_base of the process. NULL with a message on error. */
net_t *net_new(const net_config_t *cfg, char *err, size_t errlen);

/* Starts the loop threads and the acceptor. 0, or -1 with a message. */
int net_start(net_t *net, char *err, size_t errlen);

size_t net_listener_count(const net_t *net);
int net_listener_port(const net_t *net, size_t i); /* the bound port */

/* Asks for the shutdown described above and returns at once. Safe from a
 * signal handler and any thread (it only write()s to a self-pipe). */
void net_shutdown(net_t *net);

/* net_shutdown, then waits for it to finish and joins every thread.
 * Idempotent; not from a loop thread (it would wait for itself). */
void net_stop(net_t *net);

/* net_stop if needed, then frees everything, including connections whose
 * requests were never answered. NULL is a no-op. */
void net_free(net_t *net);

/* --- loops ------------------------------------------------------------- */

size_t net_loop_count(const net_t *net);
net_loop_t *net_loop(net_t *net, size_t i);
size_t net_loop_index(const net_loop_t *loop);

typedef struct net_loop_stats {
    uint64_t accepted; /* connections handed to this loop */
    uint64_t closed;
    uint64_t open;
} net_loop_stats_t;
/* Thread-safe snapshot. */
void net_loop_stats(net_loop_t *loop, net_loop_stats_t *out);

/* --- connections (loop thread only, except net_conn_evloop) --------------- */

/* Answers the request in flight with r (its memory and fds are taken, r
 * left empty; r is freed, its fds closed, if the connection has died). */
void net_respond(net_conn_t *conn, net_response_t *r);
/* Convenience: a response of len bytes copied from data. */
void net_respond_bytes(net_conn_t *conn, const void *data, size_t len);
/* Answers the request in flight with nothing (Produce acks=0). */
void net_respond_none(net_conn_t *conn);
/* Closes the connection once the responses already queued are written
 * (bounded by a linger time); answers the request in flight, if any, and
 * drops the requests read ahead. A dead connection: no-op. */
void net_close(net_conn_t *conn);

/* Detaches the request in flight from its frame (see "Detaching" above):
 * its frame must not be touched any more, and the connection may deliver
 * its next frame at once. Returns the slot to answer it with later; NULL
 * (logged) when no request is in flight, a handler bug. */
net_slot_t *net_detach(net_conn_t *conn);

/* Most requests of one connection detached or deferred and not yet
 * written: their responses wait in order, so this bounds what one client
 * can make the broker hold (a waiting produce keeps its decoded request,
 * response and watch, never the frame: by the structures' sizes about
 * 2 KB for a one-record frame's 1 KB arena, 5 KB for a larger one's 4 KB,
 * an estimate, not a measurement), as Kafka's queued.max.requests (500)
 * bounds its request queue. librdkafka sends one partition per acks=all ProduceRequest and,
 * by default, never stops sending: while a dead follower is still in the
 * ISR (until the controller notices, zookeeper.session.timeout.ms) a client
 * at R requests a second keeps R x that time waiting on each connection.
 * Reading them all — appended, only their answers wait — lets the backlog
 * clear in one step when the ISR shrinks; at the bound the connection stops
 * taking requests and the backlog is worked through one request at a time
 * after it. 10,000 covers 2,000 one-partition requests a second per
 * connection through a 5 s detection, at most 20-50 MB per connection. */
#define NET_MAX_SLOTS 10000

/* Answers a detached request with r (taken, as net_respond takes it) /
 * closes its connection once the responses before it are written. Exactly
 * once per slot, on the connection's loop thread; the slot is gone after
 * its response is written or dropped. */
void net_slot_respond(net_slot_t *slot, net_response_t *r);
void net_slot_close(net_slot_t *slot);

/* Starts a deferred request (net_defer) on the connection's loop once every
 * request before it is answered; it is answered through slot. slot NULL:
 * it never starts (the connection closed or is being freed): free arg. */
typedef void (*net_turn_fn)(void *arg, net_slot_t *slot);
/* Defers the request in flight (see "Deferring" above): its frame must not
 * be touched any more (copy it first); with holds_later the next frame is
 * delivered once it is answered, without it at once. start(arg, ...) is
 * called exactly once. false (logged) when no request is in flight, a
 * handler bug; start is not called then. */
bool net_defer(net_conn_t *conn, net_turn_fn start, void *arg, bool holds_later);
/* Whether a request answered now would wait behind detached ones. */
bool net_conn_awaits_answers(const net_conn_t *conn);

/* Any thread: the connection's loop, for evloop_run / evloop_in_loop (and,
 * on it, evloop_after). Valid while the connection is referenced. */
evloop_t *net_conn_evloop(const net_conn_t *conn);
uint64_t net_conn_id(const net_conn_t *conn);     /* unique per net_t */
const char *net_conn_peer(const net_conn_t *conn); /* "127.0.0.1:50412", "[::1]:50412" */
size_t net_conn_listener(const net_conn_t *conn);  /* index into cfg.listeners */
const char *net_conn_listener_name(const net_conn_t *conn); /* "" if unnamed */
bool net_conn_is_open(const net_conn_t *conn);
bool net_conn_in_flight(const net_conn_t *conn);

void net_conn_hold(net_conn_t *conn);
void net_conn_release(net_conn_t *conn);

/* One pointer of the handler's per-connection state (free it in on_close). */
void net_conn_set_user(net_conn_t *conn, void *user);
void *net_conn_user(const net_conn_t *conn);

typedef struct net_conn_stats {
    uint64_t requests;  /* frames delivered */
    uint64_t bytes_in;  /* read from the socket */
    uint64_t bytes_out; /* written to the socket */
    uint64_t reads;     /* read() calls */
    size_t queued_out;  /* response bytes not yet written */
} net_conn_stats_t;
void net_conn_stats(const net_conn_t *conn, net_conn_stats_t *out);

#endif
