/*
 * ledger — the record of every write a fault-injection tool made, and the
 * producer that makes them. Shared by samsa-kill-rounds (which checks the
 * topic against it) and samsa-failover-bench (which also measures from it
 * what the clients saw during each failure).
 *
 * The producer is a user's librdkafka producer: acks=all, retries on,
 * idempotence off, a bounded delivery timeout. It sends "seq:<n>" (key
 * "p<partition>") to partition n % partitions at a fixed total rate, seq n
 * due at start + n / rate, from a thread of its own that also serves the
 * delivery reports. Every send is a ledger entry (seq -> partition), and
 * every delivery report fills it in: acknowledged at an offset, or failed
 * with an error code.
 *
 * Besides the entries the ledger keeps what the tools measure while it
 * fills (all on the monotonic clock, ms):
 *  - the longest stretch without any acknowledgement since the last
 *    ledger_round_reset (samsa-kill-rounds' round line);
 *  - per partition, the last acknowledgement, and after ledger_mark(T) the
 *    last one before T and the first one after T: a partition's
 *    unavailability window around a failure at T; and the interval between
 *    its last two acknowledgements before T: the window it would have had
 *    without the failure (acks=all's steady pace, the floor of the window);
 *  - acknowledgements per second since the producer started;
 *  - failed deliveries by error code.
 *
 * Threads: the producer thread writes, the tool's main thread reads; every
 * field of ledger_t is guarded by its mu (a delivery report holds it for a
 * few stores). ledger_t owns its arrays (ledger_free).
 */
#ifndef SAMSA_TOOLS_LEDGER_H
#define SAMSA_TOOLS_LEDGER_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ledger_fate {
    LEDGER_UNREPORTED = 0, /* sent, no delivery report (yet) */
    LEDGER_ACKED,
    LEDGER_FAILED,
} ledger_fate_t;

typedef struct ledger_entry {
    uint8_t fate; /* ledger_fate_t */
    /* acknowledged at an offset that a replica elected uncleanly did not
     * have (samsa-kill-rounds' kill-isr): a loss the topic's setting allows */
    bool lacked_by_elected;
    int32_t partition;
    int64_t offset; /* when acked */
} ledger_entry_t;

/* The distinct error codes counted (more are folded into the last row). */
#define LEDGER_MAX_ERROR_CODES 16

typedef struct ledger_error_count {
    rd_kafka_resp_err_t err;
    int64_t count;
} ledger_error_count_t;

/* All guarded by mu. */
typedef struct ledger {
    pthread_mutex_t mu;
    ledger_entry_t *e; /* indexed by seq (owned) */
    int64_t n, cap;
    int64_t acked, failed;
    int64_t last_ack_ms;    /* the start of the current stretch without an ack */
    int64_t longest_gap_ms; /* since ledger_round_reset */
    int64_t round_failed;
    rd_kafka_resp_err_t first_error; /* of the round */
    /* per partition (ledger_init) */
    int32_t partitions;
    int64_t *part_last_ack_ms;  /* -1: none yet (owned) */
    int64_t *part_before_ms;    /* the last ack before the mark, -1: none (owned) */
    int64_t *part_after_ms;     /* the first ack after the mark, -1: none yet (owned) */
    int64_t *part_prev_gap_ms;  /* between its last two acks, -1: fewer than two (owned) */
    int64_t *part_calm_gap_ms;  /* part_prev_gap_ms when marked (owned) */
    int64_t mark_ms;            /* -1: no mark */
    /* acknowledgements per second since start_ms */
    int64_t start_ms;
    int64_t *acks_per_s; /* owned */
    int64_t n_secs, cap_secs;
    ledger_error_count_t errors[LEDGER_MAX_ERROR_CODES];
    int n_errors;
    FILE *ack_trace; /* ledger_producer_opts_t.ack_trace_path's file, or NULL (owned: ledger_free closes) */
} ledger_t;

/* An empty ledger for a topic of `partitions` partitions. */
void ledger_init(ledger_t *l, int32_t partitions);
void ledger_free(ledger_t *l);

/* Starts a round: the longest gap and the failed count start again. */
void ledger_round_reset(ledger_t *l);
/* The round's figures: the longest stretch without an acknowledgement (the
 * current one included), the failed deliveries, the acknowledgements so
 * far, the round's first error. */
void ledger_round_figures(ledger_t *l, int64_t *gap_ms, int64_t *failed, int64_t *acked,
                          rd_kafka_resp_err_t *first_error);

/* A failure happens at mark_ms (monotonic): every partition's last
 * acknowledgement so far becomes its "before", and its "after" waits for
 * the next acknowledgement. */
void ledger_mark(ledger_t *l, int64_t mark_ms);
/* Copies the per-partition before/after times (arrays of l->partitions). */
void ledger_window(ledger_t *l, int64_t *before_ms, int64_t *after_ms);
/* Copies per partition the interval between its last two acknowledgements
 * before the mark (-1: fewer than two). */
void ledger_calm_gaps(ledger_t *l, int64_t *gap_ms);

/* The failed deliveries by code, "CODE=N CODE=N" (librdkafka's names) into
 * out; "" when none. */
void ledger_errors_text(ledger_t *l, char *out, size_t outlen);

/* What the producer needs. */
typedef struct ledger_producer_opts {
    const char *prog; /* for messages */
    const char *bootstrap;
    const char *topic;
    int32_t partitions;
    int32_t rate; /* records a second, all partitions together */
    int32_t delivery_timeout_ms;
    /* librdkafka's topic.metadata.refresh.interval.ms; 0: 1000 */
    int32_t metadata_refresh_ms;
    /* max.in.flight.requests.per.connection; 0: 5, Java's limit */
    int32_t max_in_flight;
    /* librdkafka's reconnect.backoff.max.ms; 0: its default (10000) */
    int32_t reconnect_backoff_max_ms;
    /* For finding where a failover's seconds go (NULL: off): librdkafka's
     * `debug` contexts (its log then goes to stderr at level 7), and a file
     * that gets one line per acknowledgement, "ack_ms,partition,broker,
     * latency_us" (ack_ms on the monotonic clock less start_ms; broker: the
     * one that answered; latency: from produce() to the delivery report). */
    const char *rdkafka_debug;
    const char *ack_trace_path;
} ledger_producer_opts_t;

typedef struct ledger_producer {
    rd_kafka_t *rk; /* owned; ledger_producer_destroy */
    ledger_producer_opts_t o;
    ledger_t *ledger;
    pthread_t thread;
    bool running;
    volatile sig_atomic_t stop; /* set by the main thread */
} ledger_producer_t;

/* Creates the producer and starts sending. 0, or -1 after a message. */
int ledger_producer_start(ledger_producer_t *p, const ledger_producer_opts_t *o, ledger_t *ledger);
/* Stops sending and waits for every outstanding delivery report (at most
 * the delivery timeout and 5 s more; 0: no wait). */
void ledger_producer_stop(ledger_producer_t *p, int wait_ms);
/* Stops (without waiting) and releases the producer. */
void ledger_producer_destroy(ledger_producer_t *p);

/* ---- reading the topic back and checking it against the ledger ---- */

/* How many lost records a check lists. */
#define LEDGER_LIST_LOST 10
/* The read-back gives up when no record came for this long. */
#define LEDGER_CONSUME_IDLE_MS 15000

/* One record read back. */
typedef struct ledger_rec {
    int64_t offset;
    int64_t seq; /* -1: not a "seq:<n>" value */
} ledger_rec_t;

/* Per partition, every record read back, in offset order. */
typedef struct ledger_read {
    ledger_rec_t *recs; /* owned */
    int64_t n, cap;
    int64_t hw;
} ledger_read_t;

typedef struct ledger_lost {
    int64_t seq;
    int32_t partition;
    int64_t offset;
} ledger_lost_t;

typedef struct ledger_check {
    int64_t sent, acknowledged, failed, unreported;
    int64_t consumed;
    int64_t lost;
    ledger_lost_t first_lost[LEDGER_LIST_LOST];
    int64_t lost_lacked;     /* of lost: at offsets an uncleanly elected replica never had */
    int64_t lacked;          /* marked lacked by an elected replica, lost or not */
    ledger_lost_t first_unexplained[LEDGER_LIST_LOST]; /* lost, and not lacked */
    int64_t duplicated;    /* extra copies */
    int64_t out_of_order;
    int64_t unacked_present;
    int64_t misplaced;     /* acknowledged offset holds another record */
    int64_t foreign;       /* values that are not a seq of this run */
} ledger_check_t;


/* Reads every partition from the beginning up to its high watermark (asked
 * of the leaders through any, a client of the cluster) into pr (partitions
 * entries, zeroed by the caller; their recs owned by the caller after).
 * Stops early when *interrupted. 0, or -1 after a message (prog: ...) when
 * some partition could not be read to its end. */
int ledger_consume(const char *prog, const char *bootstrap, const char *topic, int32_t partitions, rd_kafka_t *any,
                   ledger_read_t *pr, volatile sig_atomic_t *interrupted);

/* Called for each acknowledged record the read-back lacks. */
typedef void (*ledger_lost_fn)(void *ctx, int64_t seq, const ledger_entry_t *e);

/* Compares the ledger with what was read back: lost (acknowledged, and
 * nowhere in the topic), duplicated, out of order, unacknowledged but
 * present, misplaced, foreign. on_lost may be NULL. */
void ledger_check(ledger_t *l, const ledger_read_t *pr, int32_t partitions, ledger_check_t *ck, ledger_lost_fn on_lost,
                  void *ctx);

#endif
