/*
 * ledger — see ledger.h. The producer thread is the only writer of the
 * entries; the per-second counts grow with the run (one slot a second).
 */
#include "ledger.h"
#include "rdkafka_tool.h"

#include "util/clock.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ledger_init(ledger_t *l, int32_t partitions) {
    *l = (ledger_t){.partitions = partitions, .mark_ms = -1, .start_ms = clock_mono_ms()};
    pthread_mutex_init(&l->mu, NULL);
    l->last_ack_ms = l->start_ms;
    l->part_last_ack_ms = mem_calloc((size_t)partitions, sizeof *l->part_last_ack_ms);
    l->part_before_ms = mem_calloc((size_t)partitions, sizeof *l->part_before_ms);
    l->part_after_ms = mem_calloc((size_t)partitions, sizeof *l->part_after_ms);
    l->part_prev_gap_ms = mem_calloc((size_t)partitions, sizeof *l->part_prev_gap_ms);
    l->part_calm_gap_ms = mem_calloc((size_t)partitions, sizeof *l->part_calm_gap_ms);
    for (int32_t p = 0; p < partitions; p++)
        l->part_last_ack_ms[p] = l->part_before_ms[p] = l->part_after_ms[p] = l->part_prev_gap_ms[p] =
            l->part_calm_gap_ms[p] = -1;
}

void ledger_free(ledger_t *l) {
    free(l->e);
    free(l->part_last_ack_ms);
    free(l->part_before_ms);
    free(l->part_after_ms);
    free(l->part_prev_gap_ms);
    free(l->part_calm_gap_ms);
    free(l->acks_per_s);
    if (l->ack_trace)
        fclose(l->ack_trace);
    pthread_mutex_destroy(&l->mu);
}

void ledger_round_reset(ledger_t *l) {
    pthread_mutex_lock(&l->mu);
    l->longest_gap_ms = 0;
    l->round_failed = 0;
    l->first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    pthread_mutex_unlock(&l->mu);
}

void ledger_round_figures(ledger_t *l, int64_t *gap_ms, int64_t *failed, int64_t *acked,
                          rd_kafka_resp_err_t *first_error) {
    pthread_mutex_lock(&l->mu);
    int64_t current = clock_mono_ms() - l->last_ack_ms;
    *gap_ms = current > l->longest_gap_ms ? current : l->longest_gap_ms;
    *failed = l->round_failed;
    *acked = l->acked;
    *first_error = l->first_error;
    pthread_mutex_unlock(&l->mu);
}

void ledger_mark(ledger_t *l, int64_t mark_ms) {
    pthread_mutex_lock(&l->mu);
    l->mark_ms = mark_ms;
    for (int32_t p = 0; p < l->partitions; p++) {
        l->part_before_ms[p] = l->part_last_ack_ms[p];
        l->part_after_ms[p] = -1;
        l->part_calm_gap_ms[p] = l->part_prev_gap_ms[p];
    }
    pthread_mutex_unlock(&l->mu);
}

void ledger_window(ledger_t *l, int64_t *before_ms, int64_t *after_ms) {
    pthread_mutex_lock(&l->mu);
    memcpy(before_ms, l->part_before_ms, (size_t)l->partitions * sizeof *before_ms);
    memcpy(after_ms, l->part_after_ms, (size_t)l->partitions * sizeof *after_ms);
    pthread_mutex_unlock(&l->mu);
}

void ledger_calm_gaps(ledger_t *l, int64_t *gap_ms) {
    pthread_mutex_lock(&l->mu);
    memcpy(gap_ms, l->part_calm_gap_ms, (size_t)l->partitions * sizeof *gap_ms);
    pthread_mutex_unlock(&l->mu);
}

/* Under mu. */
static void ledger_count_error(ledger_t *l, rd_kafka_resp_err_t err) {
    l->failed++;
    l->round_failed++;
    if (!l->first_error)
        l->first_error = err;
    int i = 0;
    while (i < l->n_errors && l->errors[i].err != err)
        i++;
    if (i == l->n_errors) {
        if (l->n_errors == LEDGER_MAX_ERROR_CODES)
            i = LEDGER_MAX_ERROR_CODES - 1; /* folded into the last code seen */
        else
            l->errors[l->n_errors++] = (ledger_error_count_t){.err = err};
    }
    l->errors[i].count++;
}

/* Under mu. */
static void ledger_count_ack(ledger_t *l, int32_t partition, int64_t now) {
    l->acked++;
    if (now - l->last_ack_ms > l->longest_gap_ms)
        l->longest_gap_ms = now - l->last_ack_ms;
    l->last_ack_ms = now;
    if (partition >= 0 && partition < l->partitions) {
        /* a batch's records are reported together: the same ms is one answer */
        if (l->part_last_ack_ms[partition] >= 0 && now > l->part_last_ack_ms[partition])
            l->part_prev_gap_ms[partition] = now - l->part_last_ack_ms[partition];
        l->part_last_ack_ms[partition] = now;
        if (l->mark_ms >= 0 && now >= l->mark_ms && l->part_after_ms[partition] < 0)
            l->part_after_ms[partition] = now;
    }
    int64_t sec = (now - l->start_ms) / 1000;
    if (sec >= l->cap_secs) {
        int64_t cap = l->cap_secs ? l->cap_secs : 256;
        while (cap <= sec)
            cap *= 2;
        l->acks_per_s = mem_realloc(l->acks_per_s, (size_t)cap * sizeof *l->acks_per_s);
        memset(l->acks_per_s + l->cap_secs, 0, (size_t)(cap - l->cap_secs) * sizeof *l->acks_per_s);
        l->cap_secs = cap;
    }
    l->acks_per_s[sec]++;
    if (sec + 1 > l->n_secs)
        l->n_secs = sec + 1;
}

void ledger_errors_text(ledger_t *l, char *out, size_t outlen) {
    pthread_mutex_lock(&l->mu);
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < l->n_errors && at < outlen; i++)
        at += (size_t)snprintf(out + at, outlen - at, "%s%s=%" PRId64, i ? " " : "",
                               rd_kafka_err2name(l->errors[i].err), l->errors[i].count);
    pthread_mutex_unlock(&l->mu);
}

/* librdkafka's delivery report, on the producer thread. */
static void ledger_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    ledger_t *l = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private, now = clock_mono_ms();
    pthread_mutex_lock(&l->mu);
    if (seq >= 0 && seq < l->n) {
        ledger_entry_t *e = &l->e[seq];
        if (m->err) {
            e->fate = LEDGER_FAILED;
            ledger_count_error(l, m->err);
        } else {
            *e = (ledger_entry_t){.fate = LEDGER_ACKED, .partition = m->partition, .offset = m->offset};
            ledger_count_ack(l, m->partition, now);
            if (l->ack_trace)
                fprintf(l->ack_trace, "%" PRId64 ",%d,%d,%" PRId64 "\n", now - l->start_ms, m->partition,
                        (int)rd_kafka_message_broker_id(m), rd_kafka_message_latency(m));
        }
    }
    pthread_mutex_unlock(&l->mu);
}

/* Sends seq; false when librdkafka refused it for good (not a full queue). */
static bool ledger_send(ledger_producer_t *p, int64_t seq) {
    char value[32], key[16];
    int32_t partition = (int32_t)(seq % p->o.partitions);
    int vlen = snprintf(value, sizeof value, "seq:%" PRId64, seq);
    int klen = snprintf(key, sizeof key, "p%d", partition);
    ledger_t *l = p->ledger;
    pthread_mutex_lock(&l->mu);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->e = mem_realloc(l->e, (size_t)l->cap * sizeof *l->e);
    }
    l->e[l->n++] = (ledger_entry_t){.fate = LEDGER_UNREPORTED, .partition = partition, .offset = -1};
    pthread_mutex_unlock(&l->mu);
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(p->o.topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(value, (size_t)vlen),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq),
                              RD_KAFKA_V_END);
        if (!err)
            return true;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || p->stop) {
            pthread_mutex_lock(&l->mu);
            l->e[seq].fate = LEDGER_FAILED;
            ledger_count_error(l, err);
            pthread_mutex_unlock(&l->mu);
            return false;
        }
        rd_kafka_poll(p->rk, 10);
    }
}

/* Sends at the rate asked and serves the delivery reports in between. */
static void *ledger_produce_loop(void *arg) {
    ledger_producer_t *p = arg;
    int64_t start = clock_mono_ms();
    for (int64_t seq = 0; !p->stop;) {
        int64_t due = start + seq * 1000 / p->o.rate, now = clock_mono_ms();
        if (now >= due) {
            ledger_send(p, seq++);
            rd_kafka_poll(p->rk, 0);
            continue;
        }
        rd_kafka_poll(p->rk, (int)(due - now < 100 ? due - now : 100));
    }
    return NULL;
}

int ledger_producer_start(ledger_producer_t *p, const ledger_producer_opts_t *o, ledger_t *ledger) {
    char timeout[32], refresh[32], in_flight[32], reconnect_max[32];
    snprintf(timeout, sizeof timeout, "%d", o->delivery_timeout_ms);
    snprintf(refresh, sizeof refresh, "%d", o->metadata_refresh_ms > 0 ? o->metadata_refresh_ms : 1000);
    snprintf(in_flight, sizeof in_flight, "%d", o->max_in_flight > 0 ? o->max_in_flight : 5);
    snprintf(reconnect_max, sizeof reconnect_max, "%d",
             o->reconnect_backoff_max_ms > 0 ? o->reconnect_backoff_max_ms : 10000);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* A user's producer: acks=all, retries on (librdkafka's default), no
     * idempotence, the in-flight limit asked (Java's by default); a bounded
     * delivery timeout so that a record that cannot be written is reported
     * as failed. */
    const char *props[][2] = {{"bootstrap.servers", o->bootstrap},
                              {"acks", "all"},
                              {"enable.idempotence", "false"},
                              {"max.in.flight.requests.per.connection", in_flight},
                              {"reconnect.backoff.max.ms", reconnect_max},
                              {"linger.ms", "5"},
                              {"message.timeout.ms", timeout},
                              {"retry.backoff.ms", "100"},
                              {"topic.metadata.refresh.interval.ms", refresh},
                              /* brokers go away on purpose: their disconnections are not news */
                              {"log_level", "2"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rdtool_conf_set(conf, props[i][0], props[i][1]) != 0) {
            rd_kafka_conf_destroy(conf);
            return -1;
        }
    if (o->rdkafka_debug &&
        (rdtool_conf_set(conf, "debug", o->rdkafka_debug) != 0 || rdtool_conf_set(conf, "log_level", "7") != 0)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    if (o->ack_trace_path) {
        FILE *f = fopen(o->ack_trace_path, "w");
        if (!f) {
            fprintf(stderr, "%s: cannot write %s: %s\n", o->prog, o->ack_trace_path, strerror(errno));
            rd_kafka_conf_destroy(conf);
            return -1;
        }
        pthread_mutex_lock(&ledger->mu);
        ledger->ack_trace = f;
        pthread_mutex_unlock(&ledger->mu);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, ledger_on_delivery);
    rd_kafka_conf_set_opaque(conf, ledger);
    *p = (ledger_producer_t){.o = *o, .ledger = ledger};
    p->rk = rdtool_new(RD_KAFKA_PRODUCER, conf);
    if (!p->rk)
        return -1;
    pthread_mutex_lock(&ledger->mu);
    ledger->last_ack_ms = clock_mono_ms();
    pthread_mutex_unlock(&ledger->mu);
    if (pthread_create(&p->thread, NULL, ledger_produce_loop, p) != 0) {
        fprintf(stderr, "%s: cannot start the producer thread\n", o->prog);
        return -1;
    }
    p->running = true;
    return 0;
}

void ledger_producer_stop(ledger_producer_t *p, int wait_ms) {
    if (!p->running)
        return;
    p->stop = 1;
    pthread_join(p->thread, NULL);
    p->running = false;
    rd_kafka_flush(p->rk, wait_ms > 0 ? wait_ms + 5000 : 0);
}

void ledger_producer_destroy(ledger_producer_t *p) {
    if (!p->rk)
        return;
    ledger_producer_stop(p, 0);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
}

/* ---- reading back and checking -------------------------------------------------------- */

static void ledger_read_add(ledger_read_t *pr, int64_t offset, int64_t seq) {
    if (pr->n == pr->cap) {
        pr->cap = pr->cap ? 2 * pr->cap : 1024;
        pr->recs = mem_realloc(pr->recs, (size_t)pr->cap * sizeof *pr->recs);
    }
    pr->recs[pr->n++] = (ledger_rec_t){offset, seq};
}

/* A record's value "seq:<n>": n, else -1. */
static bool ledger_parse_seq(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static int64_t ledger_value_seq(const rd_kafka_message_t *m) {
    char text[32];
    if (!m->payload || m->len < 5 || m->len >= sizeof text)
        return -1;
    memcpy(text, m->payload, m->len);
    text[m->len] = '\0';
    long long v;
    return strncmp(text, "seq:", 4) == 0 && ledger_parse_seq(text + 4, &v) ? (int64_t)v : -1;
}

/* Reads every partition from the beginning up to its high watermark (asked
 * of the leaders first). 0, or -1 when some partition could not be read to
 * its end. */
int ledger_consume(const char *prog, const char *bootstrap, const char *topic, int32_t partitions, rd_kafka_t *any,
                   ledger_read_t *pr, volatile sig_atomic_t *interrupted) {
    for (int32_t p = 0; p < partitions; p++) {
        int64_t low = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(any, topic, p, &low, &pr[p].hw, 10000);
        if (err) {
            fprintf(stderr, "%s: the high watermark of %s-%d: %s\n", prog, topic, p, rd_kafka_err2str(err));
            return -1;
        }
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rdtool_conf_set(conf, "bootstrap.servers", bootstrap) != 0 ||
        rdtool_conf_set(conf, "check.crcs", "true") != 0 || rdtool_conf_set(conf, "log_level", "2") != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rdtool_consumer_t c;
    if (rdtool_consumer_open(&c, conf, topic, false, -1, RD_KAFKA_OFFSET_BEGINNING, 30000) != 0) {
        rdtool_consumer_close(&c);
        return -1;
    }
    int64_t idle_since = clock_mono_ms();
    for (;;) {
        bool done = true;
        for (int32_t p = 0; p < partitions && done; p++)
            done = pr[p].hw == 0 || (pr[p].n > 0 && pr[p].recs[pr[p].n - 1].offset >= pr[p].hw - 1);
        if (done || *interrupted || clock_mono_ms() - idle_since > LEDGER_CONSUME_IDLE_MS)
            break;
        rd_kafka_message_t *m = rdtool_consumer_poll(&c, 200);
        if (!m)
            continue;
        idle_since = clock_mono_ms();
        /* a fetch repeated after a leader change must not count a record twice */
        ledger_read_t *into = m->partition >= 0 && m->partition < partitions ? &pr[m->partition] : NULL;
        if (into && m->offset < into->hw && (into->n == 0 || m->offset > into->recs[into->n - 1].offset))
            ledger_read_add(into, m->offset, ledger_value_seq(m));
        rd_kafka_message_destroy(m);
    }
    rdtool_consumer_close(&c);
    int rc = 0;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t last = pr[p].n ? pr[p].recs[pr[p].n - 1].offset : -1;
        if (pr[p].hw > 0 && last < pr[p].hw - 1) {
            fprintf(stderr, "%s: %s-%d read only up to offset %" PRId64 " of high watermark %" PRId64 "\n",
                    prog, topic, p, last, pr[p].hw);
            rc = -1;
        }
    }
    return rc;
}

static int ledger_cmp_rec_offset(const void *key, const void *elem) {
    int64_t a = *(const int64_t *)key, b = ((const ledger_rec_t *)elem)->offset;
    return (a > b) - (a < b);
}

/* The seq at offset in a partition's read-back (sorted by offset), or -2
 * when absent. */
static int64_t ledger_seq_at(const ledger_read_t *pr, int64_t offset) {
    const ledger_rec_t *found = pr->n ? bsearch(&offset, pr->recs, (size_t)pr->n, sizeof *pr->recs, ledger_cmp_rec_offset)
                                   : NULL;
    return found ? found->seq : -2;
}

void ledger_check(ledger_t *l, const ledger_read_t *pr, int32_t partitions, ledger_check_t *ck, ledger_lost_fn on_lost,
                  void *ctx) {
    pthread_mutex_lock(&l->mu);
    *ck = (ledger_check_t){.sent = l->n};
    int32_t *copies = mem_calloc((size_t)l->n + 1, sizeof *copies);
    for (int32_t p = 0; p < partitions; p++) {
        int64_t highest = -1;
        for (int64_t i = 0; i < pr[p].n; i++) {
            int64_t seq = pr[p].recs[i].seq;
            ck->consumed++;
            if (seq < 0 || seq >= l->n) {
                ck->foreign++;
                continue;
            }
            if (copies[seq]++ > 0) {
                ck->duplicated++;
                continue;
            }
            if (seq < highest)
                ck->out_of_order++;
            else
                highest = seq;
        }
    }
    for (int64_t seq = 0; seq < l->n; seq++) {
        const ledger_entry_t *e = &l->e[seq];
        if (e->fate != LEDGER_ACKED) {
            ck->failed += e->fate == LEDGER_FAILED;
            ck->unreported += e->fate == LEDGER_UNREPORTED;
            ck->unacked_present += copies[seq] > 0;
            continue;
        }
        ck->acknowledged++;
        ck->lacked += e->lacked_by_elected;
        if (copies[seq] == 0) {
            if (ck->lost < LEDGER_LIST_LOST)
                ck->first_lost[ck->lost] = (ledger_lost_t){seq, e->partition, e->offset};
            int64_t unexplained = ck->lost - ck->lost_lacked;
            if (!e->lacked_by_elected && unexplained < LEDGER_LIST_LOST)
                ck->first_unexplained[unexplained] = (ledger_lost_t){seq, e->partition, e->offset};
            ck->lost++;
            ck->lost_lacked += e->lacked_by_elected;
            if (on_lost)
                on_lost(ctx, seq, e);
        } else if (e->partition < 0 || e->partition >= partitions ||
                   ledger_seq_at(&pr[e->partition], e->offset) != seq) {
            ck->misplaced++;
        }
    }
    free(copies);
    pthread_mutex_unlock(&l->mu);
}

