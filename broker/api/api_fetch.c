/* Fetch (key 1), v4+: batches from each partition's leader, straight from
 * the segment files (file ranges spliced into the response, never copied
 * into it). Consumers read below the high watermark, followers below the
 * log end offset. A fetch that finds fewer than min_bytes waits (Kafka's
 * DelayedFetch) until an append brings enough or max_wait_ms passes — no
 * polling: the partitions wake the waiting fetches (api_delayed.h) — a
 * consumer's when the high watermark moves, a follower's on every append
 * (else each replication round would wait max_wait_ms). A follower's fetch
 * is how the leader learns its position (partition_read). A consumer's
 * response stops at 1 MiB even when it allows more (fetch_response_cap:
 * smaller responses keep librdkafka's single fetch pipeline busy).
 *
 * Fetch v0-3 cannot read v2 batches: their records are down-converted to
 * message sets (magic 0 for v0-1, 1 for v2-3) in memory, as Kafka's lazy
 * down-conversion does (RecordsUtil.downConvert): batch by batch, the codec
 * kept, control batches left out, within the partition's byte limit but
 * always the first batch whole. Fetch v4+ never takes that path: its
 * batches stay file ranges.
 *
 * File ranges: partition_read returns a duplicate of the segment's fd, made
 * under the partition's lock, so a log deleted before the response is sent
 * (a StopReplica on another loop) cannot make the fd name another file. The
 * response owns those duplicates: api_respond hands them to net, which
 * closes them; a response dropped unsent (the fetch waits) closes them. */
#include "api/api.h"
#include "api/api_delayed.h"
#include "api/api_metrics.h"

#include "log/record_batch.h"
#include "proto/msgset.h"
#include "util/clock.h"
#include "util/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- down-conversion (Fetch v0-3) ---------------------------------------------- */

/* The newest message format a Fetch version reads (KIP-283's rule). */
static int8_t fetch_magic_for(int16_t version) { return version <= 1 ? 0 : version <= 3 ? 1 : 2; }

static kerr_t fetch_pread(int fd, int64_t pos, uint8_t *out, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, out + done, len - done, (off_t)pos + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return KERR_KAFKA_STORAGE_ERROR;
        done += (size_t)n;
    }
    return KERR_NONE;
}

/* Appends one stored batch's records to out as a message set of magic.
 * Records before fetch_offset are dropped from uncompressed batches only
 * (Kafka keeps a compressed batch whole: the client skips them). */
static kerr_t fetch_convert_batch(const uint8_t *batch, size_t len, int8_t magic, int64_t fetch_offset, buf_t *out) {
    record_iter_t it;
    kerr_t e = record_iter_init(&it, batch, len, BATCH_DEFAULT_MAX_UNCOMPRESSED);
    msgset_message_t *msgs = NULL;
    size_t n = 0, cap = 0;
    if (e == KERR_NONE) {
        const batch_header_t *h = &it.header;
        bool lat = batch_is_log_append_time(h);
        bool compressed = batch_compression(h) != COMPRESSION_NONE;
        record_t r;
        int rc;
        while ((rc = record_iter_next(&it, &r)) == 1) {
            int64_t offset = h->base_offset + r.offset_delta;
            if (!compressed && offset < fetch_offset)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                msgs = mem_realloc(msgs, cap * sizeof *msgs);
            }
            int64_t ts = lat ? h->max_timestamp : h->first_timestamp + r.timestamp_delta;
            msgs[n++] = (msgset_message_t){offset, ts, r.key, r.key_len, r.value, r.value_len};
        }
        e = rc < 0 ? it.err : msgset_write(out, magic, batch_compression(h), lat, h->max_timestamp, msgs, n);
    }
    free(msgs);
    record_iter_free(&it);
    return e;
}

/* The batches of data (a file range whose fd this closes) as a message set
 * of magic in the request's arena (*out). Batches are converted while the
 * result stays within limit, the first one always (Kafka sends at least
 * one converted batch). A zstd batch cannot be carried by magic 0/1: if it
 * comes first the partition gets UNSUPPORTED_COMPRESSION_TYPE, else the
 * conversion stops before it and the next fetch gets the error. */
static kerr_t fetch_down_convert(api_request_t *req, const log_read_info_t *data, int8_t magic, int64_t fetch_offset,
                                 int64_t limit, kp_records_t *out) {
    uint8_t *raw = mem_alloc(data->length);
    kerr_t e = fetch_pread(data->fd, data->position, raw, data->length);
    close(data->fd);
    buf_t conv;
    buf_init(&conv);
    size_t pos = 0;
    while (e == KERR_NONE && data->length - pos >= BATCH_HEADER_SIZE) {
        batch_header_t h;
        batch_header_read(raw + pos, &h);
        if (h.batch_length < 0 || batch_size(&h) > data->length - pos)
            break; /* the range may end inside a batch */
        size_t before = conv.len;
        if (batch_compression(&h) == COMPRESSION_ZSTD)
            e = KERR_UNSUPPORTED_COMPRESSION_TYPE;
        else if (!batch_is_control(&h))
            e = fetch_convert_batch(raw + pos, batch_size(&h), magic, fetch_offset, &conv);
        if (e != KERR_NONE || (before > 0 && conv.len > (uint64_t)limit)) {
            conv.len = before;
            break;
        }
        pos += batch_size(&h);
    }
    free(raw);
    if (conv.len > 0) {
        uint8_t *copy = kp_arena_alloc(&req->arena, conv.len);
        memcpy(copy, conv.data, conv.len);
        *out = (kp_records_t){copy, (int32_t)conv.len, -1, 0};
        e = KERR_NONE;
    }
    buf_free(&conv);
    return e;
}

/* --- reading ------------------------------------------------------------------ */

/* A consumer's response carries at most this many bytes, whatever larger
 * max_bytes it asks for (the protocol's max_bytes is a ceiling, not a
 * target; KIP-74's first whole batch still goes past it). librdkafka keeps
 * one Fetch in flight per broker and receives each response into one buffer
 * of its full size: answered up to its default fetch.max.bytes (50 MiB;
 * 100 MB over 64 partitions came back in 5 responses of ~20 MB) the client
 * idles while a response is read whole, then parses it while the socket
 * idles, and pays the page faults of a fresh 20 MB buffer each time (4x
 * the minor faults). 1 MiB responses keep both sides busy: the client's
 * CPU per million records falls to the mock broker's and its rate roughly
 * doubles (64 partitions, 100 B records, librdkafka 2.0.2). Followers are
 * left to replica.fetch.response.max.bytes, which their operator sets. */
#define FETCH_CONSUMER_RESPONSE_MAX_BYTES (1 << 20)

/* The bytes this fetch's response may carry (before KIP-74's exception). */
static int64_t fetch_response_cap(const kp_fetch_req_t *rq) {
    int64_t cap = rq->max_bytes > 0 ? rq->max_bytes : 0;
    if (rq->replica_id < 0 && cap > FETCH_CONSUMER_RESPONSE_MAX_BYTES)
        cap = FETCH_CONSUMER_RESPONSE_MAX_BYTES;
    return cap;
}

/* Reads every requested partition into resp (which then owns a duplicate
 * fd per partition with data). Kafka's rules: the request's
 * max_bytes bounds the total and partition_max_bytes each partition, except
 * that the first partition with data returns at least one whole batch
 * (KIP-74); a consumer's total is capped lower still (fetch_response_cap).
 * Returns the bytes found; *any_error tells whether a partition
 * failed or diverged (then the fetch is answered at once); *read_from (in req's arena)
 * holds the partition each response entry was read from, in response order
 * (NULL where none), for the BytesOut count once the response is sent. */
static uint64_t fetch_read_all(api_request_t *req, kp_fetch_resp_t *resp, bool *any_error,
                               partition_t ***read_from) {
    const kp_fetch_req_t *rq = req->body;
    broker_t *b = req->broker;
    int64_t remaining = fetch_response_cap(rq);
    int64_t now_ms = rq->replica_id >= 0 ? clock_wall_ms() : 0; /* only followers' fetches are timed */
    bool min_one = true;
    int8_t magic = fetch_magic_for(req->hdr.api_version);
    uint64_t total = 0;
    *any_error = false;
    const kp_fetch_req_topic_t *topics = rq->topics.items;
    int32_t nt = rq->topics.count > 0 ? rq->topics.count : 0;
    kp_fetch_resp_topic_t *rts = api_alloc_array(req, &resp->responses, nt, sizeof *rts);
    size_t nparts = 0;
    for (int32_t t = 0; t < nt; t++)
        nparts += topics[t].partitions.count > 0 ? (size_t)topics[t].partitions.count : 0;
    partition_t **from = kp_arena_alloc(&req->arena, (nparts ? nparts : 1) * sizeof *from);
    *read_from = from;
    for (int32_t t = 0; t < nt; t++) {
        rts[t].topic = topics[t].topic;
        const char *topic = api_strdup(req, topics[t].topic);
        const kp_fetch_req_partition_t *ps = topics[t].partitions.items;
        int32_t np = topics[t].partitions.count > 0 ? topics[t].partitions.count : 0;
        kp_fetch_resp_partition_t *rps = api_alloc_array(req, &rts[t].partition_responses, np, sizeof *rps);
        for (int32_t i = 0; i < np; i++) {
            kp_fetch_resp_partition_t *o = &rps[i];
            o->partition = ps[i].partition;
            o->high_watermark = o->last_stable_offset = o->log_start_offset = -1;
            o->preferred_read_replica = -1;
            /* v12's tagged fields: left at their defaults, they are not sent
             * (diverging_epoch only when the fetch's last_fetched_epoch
             * shows a diverged log; there is no Raft snapshot). */
            o->diverging_epoch = (kp_fetch_resp_epoch_end_offset_t){-1, -1};
            o->current_leader = (kp_fetch_resp_leader_id_and_epoch_t){-1, -1};
            o->snapshot_id = (kp_fetch_resp_snapshot_id_t){-1, -1};
            api_alloc_array(req, &o->aborted_transactions, 0, sizeof(kp_fetch_resp_aborted_t));
            o->record_set = (kp_records_t){NULL, 0, -1, 0};
            partition_t *p = replica_manager_get(b->replicas, topic, ps[i].partition);
            *from++ = p;
            if (!p) {
                o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                *any_error = true;
                continue;
            }
            int64_t limit = ps[i].partition_max_bytes < remaining ? ps[i].partition_max_bytes : remaining;
            partition_read_result_t r;
            partition_reader_t reader = {rq->replica_id, ps[i].current_leader_epoch, ps[i].log_start_offset, now_ms,
                                         ps[i].last_fetched_epoch >= 0, ps[i].last_fetched_epoch};
            /* Fetch v0-2 treat the limits as hard (KIP-74 came with v3). */
            bool read_min_one = min_one && req->hdr.api_version >= 3;
            kerr_t e =
                partition_read(p, ps[i].fetch_offset, limit > 0 ? (uint32_t)limit : 0, read_min_one, &reader, &r);
            o->error_code = (int16_t)e;
            o->high_watermark = r.high_watermark;
            o->last_stable_offset = r.high_watermark;
            o->log_start_offset = r.log_start_offset;
            if (e != KERR_NONE) {
                *any_error = true;
                continue;
            }
            if (r.diverged) { /* answered at once, as an error is (Kafka) */
                o->diverging_epoch = (kp_fetch_resp_epoch_end_offset_t){r.diverging_epoch.epoch,
                                                                        r.diverging_epoch.end_offset};
                *any_error = true;
                continue;
            }
            if (r.data.length > 0 && magic < 2) {
                e = fetch_down_convert(req, &r.data, magic, ps[i].fetch_offset, limit, &o->record_set);
                if (e != KERR_NONE) {
                    o->error_code = (int16_t)e;
                    *any_error = true;
                    continue;
                }
            } else if (r.data.length > 0) {
                o->record_set = (kp_records_t){NULL, (int32_t)r.data.length, r.data.fd, r.data.position};
            }
            if (o->record_set.len > 0) {
                min_one = false;
                total += (uint64_t)o->record_set.len;
                remaining -= o->record_set.len;
                if (remaining < 0)
                    remaining = 0;
            }
        }
    }
    return total;
}

/* --- waiting -------------------------------------------------------------------- */

/* Enough bytes across the watched partitions, or one of them cannot be
 * read any more (an error to report): answer now. */
static bool fetch_ready(api_delayed_t *d) {
    const kp_fetch_req_t *rq = d->req->body;
    uint64_t bytes = 0;
    for (int32_t i = 0; i < d->nwatches; i++) {
        bytes += partition_bytes_available(d->watches[i].partition, d->watches[i].offset, rq->replica_id);
        if (bytes >= (uint64_t)rq->min_bytes)
            return true;
    }
    return false;
}

/* Timed out or not, a fetch answers with whatever there is now. */
static void fetch_answer(api_delayed_t *d, bool timed_out) {
    (void)timed_out;
    kp_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    bool any_error;
    partition_t **read_from;
    fetch_read_all(d->req, &resp, &any_error, &read_from);
    api_metrics_fetch_out(d->req, &resp, read_from);
    api_respond(d->req, &resp);
}

static void fetch_wait(api_request_t *req) {
    const kp_fetch_req_t *rq = req->body;
    int32_t n = 0;
    const kp_fetch_req_topic_t *topics = rq->topics.items;
    for (int32_t t = 0; t < rq->topics.count; t++)
        n += topics[t].partitions.count > 0 ? topics[t].partitions.count : 0;
    api_delayed_t *d = api_delayed_new(req, n, fetch_ready, fetch_answer, NULL);
    for (int32_t t = 0; t < rq->topics.count; t++) {
        const char *topic = api_strdup(req, topics[t].topic);
        const kp_fetch_req_partition_t *ps = topics[t].partitions.items;
        for (int32_t i = 0; i < topics[t].partitions.count; i++) {
            partition_t *p = replica_manager_get(req->broker->replicas, topic, ps[i].partition);
            if (p)
                api_delayed_watch(d, p, rq->replica_id >= 0, ps[i].fetch_offset, NULL);
        }
    }
    api_delayed_start(d, rq->max_wait_ms);
}

void api_handle_fetch(api_request_t *req) {
    const kp_fetch_req_t *rq = req->body;
    kp_fetch_resp_t resp;
    memset(&resp, 0, sizeof resp);
    bool any_error;
    partition_t **read_from;
    uint64_t bytes = fetch_read_all(req, &resp, &any_error, &read_from);
    /* A response capped below min_bytes is as full as it can be: waiting
     * would only read the same bytes again. */
    int64_t enough = rq->min_bytes > 0 ? rq->min_bytes : 0;
    int64_t cap = fetch_response_cap(rq);
    if (enough > cap && cap > 0)
        enough = cap;
    if (rq->max_wait_ms <= 0 || bytes >= (uint64_t)enough || any_error || rq->topics.count <= 0) {
        api_metrics_fetch_out(req, &resp, read_from);
        api_respond(req, &resp);
        return;
    }
    /* Nothing worth sending yet: the response built so far is dropped (its
     * arrays stay in the arena, its fds are closed) and rebuilt when the
     * fetch completes. */
    kp_close_files(kp_api_find(KP_API_FETCH)->response, req->hdr.api_version, &resp);
    fetch_wait(req);
}
