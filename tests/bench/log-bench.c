/*
 * log-bench — what the partition log costs next to plain write().
 *
 *   log-bench [--dir DIR] [--mib N] [--rounds R] [--partitions P]
 *
 * In one run, on the same disk and the same page cache:
 *   1. appends N MiB (default 1024) as 16 KiB batches through the log
 *      (validation, offset assignment, segment write, index entries), and
 *      writes the same bytes with plain write() of 16 KiB as the baseline;
 *      again with 1 KiB batches. Each case runs R times (default 2) and the
 *      best is kept, files removed in between so dirty pages don't carry over;
 *   2. the median and p99 of a random-offset lookup + read (log_read and a
 *      copy of the returned bytes, as a fetch would send them);
 *   3. the time a broker takes to open P (default 1000) partitions after a
 *      clean shutdown, and after a crash (every segment scanned).
 * It ends with "append/raw ratio: X.XX" (16 KiB case). Nothing is fsynced:
 * like Kafka by default, both sides rely on the page cache.
 */
#include "util/clock.h"
#include "util/config.h"
#include "util/endian.h"
#include "log/log.h"
#include "log/log_manager.h"
#include "util/logger.h"
#include "util/mem.h"
#include "log/record_batch.h"

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BENCH_T0 1600000000000LL

typedef struct bench_opts {
    char dir[3000];
    uint64_t bytes;
    int rounds;
    int partitions;
} bench_opts_t;

static int bench_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void bench_rmtree(const char *path) { nftw(path, bench_rm, 32, FTW_DEPTH | FTW_PHYS); }

/* One producer-style batch of about target bytes: records of value_size. */
static void bench_make_batch(buf_t *out, size_t target, size_t value_size) {
    size_t per_record = value_size + 8; /* varint framing of a keyless record */
    int n = (int)((target - BATCH_HEADER_SIZE) / per_record);
    if (n < 1)
        n = 1;
    uint8_t *value = mem_alloc(value_size);
    for (size_t i = 0; i < value_size; i++)
        value[i] = (uint8_t)('a' + i % 26);
    record_input_t *recs = mem_calloc((size_t)n, sizeof *recs);
    for (int i = 0; i < n; i++)
        recs[i] = (record_input_t){.key_len = -1, .value = value, .value_len = (int32_t)value_size,
                                   .timestamp = BENCH_T0 + i};
    batch_build_opts_t bo = {.partition_leader_epoch = -1, .compression = COMPRESSION_NONE, .producer_id = -1,
                             .producer_epoch = -1, .base_sequence = -1};
    buf_reset(out);
    if (record_batch_build(out, &bo, recs, n) != KERR_NONE) {
        fprintf(stderr, "log-bench: cannot build a batch\n");
        exit(1);
    }
    free(recs);
    free(value);
}

/* The baseline: the same bytes, the same chunk size, plain write(). */
static double bench_raw(const bench_opts_t *o, const buf_t *batch) {
    char path[3100];
    snprintf(path, sizeof path, "%s/raw.bin", o->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    uint64_t written = 0;
    int64_t t0 = clock_mono_ns();
    while (written < o->bytes) {
        if (write(fd, batch->data, batch->len) != (ssize_t)batch->len) {
            perror("write");
            exit(1);
        }
        written += batch->len;
    }
    int64_t t1 = clock_mono_ns();
    close(fd);
    unlink(path);
    return (double)written / (1024.0 * 1024.0) / ((double)(t1 - t0) / 1e9);
}

static log_t *bench_open_log(const char *dir) {
    log_config_t cfg;
    log_config_default(&cfg);
    cfg.file_delete_delay_ms = 0;
    log_open_opts_t lo = {.recovery_point = 0, .log_start_offset = -1, .high_watermark = -1,
                          .clean_shutdown = true, .now_ms = BENCH_T0};
    char err[512];
    log_t *log;
    if (log_open(dir, &cfg, &lo, &log, err, sizeof err) != KERR_NONE) {
        fprintf(stderr, "log-bench: %s\n", err);
        exit(1);
    }
    return log;
}

/* Appends the batch until o->bytes are in the log; returns MB/s. The batch
 * is reused: its base offset is reset to 0 as a producer would send it. */
static double bench_log_append(const bench_opts_t *o, buf_t *batch, log_t **keep) {
    char dir[3100];
    snprintf(dir, sizeof dir, "%s/bench-0", o->dir);
    bench_rmtree(dir);
    log_t *log = bench_open_log(dir);
    uint64_t written = 0;
    int64_t t0 = clock_mono_ns();
    while (written < o->bytes) {
        be64_store(batch->data, 0);
        log_append_info_t info;
        kerr_t e = log_append_as_leader(log, batch->data, batch->len, 0, BENCH_T0, &info);
        if (e != KERR_NONE) {
            fprintf(stderr, "log-bench: append: %s\n", kerr_name(e));
            exit(1);
        }
        written += batch->len;
    }
    int64_t t1 = clock_mono_ns();
    log_set_high_watermark(log, log_end_offset(log));
    if (keep) {
        *keep = log;
    } else {
        log_close(log);
        bench_rmtree(dir);
    }
    return (double)written / (1024.0 * 1024.0) / ((double)(t1 - t0) / 1e9);
}

static int bench_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Random offsets over the whole log: find the batch, copy what a fetch of
 * max_bytes would send. */
static void bench_lookups(log_t *log, const char *label, uint32_t max_bytes) {
    enum { N = 200000 };
    int64_t *ns = mem_alloc(N * sizeof *ns);
    uint8_t *sink = mem_alloc(max_bytes + 65536);
    uint64_t rng = 88172645463325252ull;
    int64_t leo = log_end_offset(log);
    uint64_t checksum = 0;
    for (int i = 0; i < N; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int64_t off = (int64_t)(rng % (uint64_t)leo);
        int64_t t0 = clock_mono_ns();
        log_read_info_t r;
        if (log_read(log, off, max_bytes, -1, true, &r) != KERR_NONE || !r.data) {
            fprintf(stderr, "log-bench: read of %" PRId64 " failed\n", off);
            exit(1);
        }
        memcpy(sink, r.data, r.length);
        int64_t t1 = clock_mono_ns();
        checksum += sink[r.length / 2];
        ns[i] = t1 - t0;
    }
    qsort(ns, N, sizeof *ns, bench_cmp_i64);
    printf("random lookup+read (%s, %u-byte reads): median %.2f us, p99 %.2f us  [%d reads, check %" PRIu64 "]\n",
           label, max_bytes, ns[N / 2] / 1000.0, ns[N * 99 / 100] / 1000.0, N, checksum % 10);
    free(ns);
    free(sink);
}

static config_t *bench_broker_config(const char *log_dir) {
    config_t *cfg = config_new();
    char err[512];
    if (config_set(cfg, "log.dirs", log_dir, err, sizeof err) != 0 ||
        config_set(cfg, "zookeeper.connect", "127.0.0.1:2181", err, sizeof err) != 0) {
        fprintf(stderr, "log-bench: %s\n", err);
        exit(1);
    }
    return cfg;
}

static double bench_open_manager(const config_t *cfg, log_manager_t **out) {
    log_manager_opts_t mo = {.now_ms = BENCH_T0};
    char err[512];
    int64_t t0 = clock_mono_ns();
    if (log_manager_open(cfg, 1, &mo, out, err, sizeof err) != KERR_NONE) {
        fprintf(stderr, "log-bench: %s\n", err);
        exit(1);
    }
    return (double)(clock_mono_ns() - t0) / 1e6;
}

/* P partitions with a few batches each, closed cleanly, then opened again;
 * then closed as in a crash and opened once more. */
static void bench_restart(const bench_opts_t *o) {
    char dir[3100];
    snprintf(dir, sizeof dir, "%s/restart", o->dir);
    bench_rmtree(dir);
    config_t *cfg = bench_broker_config(dir);
    log_manager_t *lm;
    bench_open_manager(cfg, &lm);
    buf_t batch = BUF_INIT;
    bench_make_batch(&batch, 4096, 100);
    char err[512];
    for (int p = 0; p < o->partitions; p++) {
        log_t *log;
        if (log_manager_get_or_create(lm, "restart", p, NULL, BENCH_T0, &log, err, sizeof err) != KERR_NONE) {
            fprintf(stderr, "log-bench: %s\n", err);
            exit(1);
        }
        for (int b = 0; b < 10; b++) {
            be64_store(batch.data, 0);
            log_append_as_leader(log, batch.data, batch.len, 0, BENCH_T0, NULL);
        }
    }
    log_manager_close(lm, true);
    double clean_ms = bench_open_manager(cfg, &lm);
    log_manager_close(lm, false);
    double crash_ms = bench_open_manager(cfg, &lm);
    log_manager_close(lm, true);
    printf("restart with %d partitions (10 x 4 KiB batches each): after a clean shutdown %.1f ms, "
           "after a crash (all segments scanned) %.1f ms\n",
           o->partitions, clean_ms, crash_ms);
    buf_free(&batch);
    config_free(cfg);
    bench_rmtree(dir);
}

static void bench_parse(int argc, char **argv, bench_opts_t *o) {
    const char *tmp = getenv("TMPDIR");
    snprintf(o->dir, sizeof o->dir, "%s/samsa-log-bench-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    o->bytes = 1024ull << 20;
    o->rounds = 2;
    o->partitions = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            snprintf(o->dir, sizeof o->dir, "%s/samsa-log-bench-%d", argv[++i], (int)getpid());
        else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            o->bytes = strtoull(argv[++i], NULL, 10) << 20;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            o->rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc)
            o->partitions = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: log-bench [--dir DIR] [--mib N] [--rounds R] [--partitions P]\n");
            exit(2);
        }
    }
    if (o->bytes == 0 || o->rounds < 1 || o->partitions < 1) {
        fprintf(stderr, "log-bench: --mib, --rounds and --partitions must be positive\n");
        exit(2);
    }
}

/* Many partitions cost file handles (the book's point): raise the soft
 * limit to the hard one, as a broker's service file would. */
static void bench_raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv) {
    bench_opts_t o;
    bench_parse(argc, argv, &o);
    bench_raise_fd_limit();
    logger_set_level(LOGGER_WARN);
    if (mkdir(o.dir, 0755) != 0) {
        perror(o.dir);
        return 1;
    }
    printf("log-bench: %" PRIu64 " MiB per case, best of %d rounds, in %s\n", o.bytes >> 20, o.rounds, o.dir);

    static const struct {
        const char *label;
        size_t batch, value;
    } cases[] = {{"16 KiB", 16384, 1000}, {"1 KiB", 1024, 100}};
    double ratio16 = 0;
    log_t *kept[2] = {NULL, NULL};
    for (int c = 0; c < 2; c++) {
        buf_t batch = BUF_INIT;
        bench_make_batch(&batch, cases[c].batch, cases[c].value);
        double best_raw = 0, best_log = 0;
        for (int r = 0; r < o.rounds; r++) {
            double raw = bench_raw(&o, &batch);
            double lg = bench_log_append(&o, &batch, NULL);
            best_raw = raw > best_raw ? raw : best_raw;
            best_log = lg > best_log ? lg : best_log;
        }
        printf("%-6s batches (%zu bytes): raw write() %.0f MB/s, log append %.0f MB/s, ratio %.2f\n",
               cases[c].label, batch.len, best_raw, best_log, best_log / best_raw);
        if (c == 0)
            ratio16 = best_log / best_raw;
        /* One more append run, kept for the lookup measurements. */
        bench_log_append(&o, &batch, &kept[c]);
        bench_lookups(kept[c], cases[c].label, 16384);
        log_close(kept[c]);
        char dir[3100];
        snprintf(dir, sizeof dir, "%s/bench-0", o.dir);
        bench_rmtree(dir);
        buf_free(&batch);
    }

    bench_restart(&o);
    bench_rmtree(o.dir);
    printf("append/raw ratio: %.2f\n", ratio16);
    return 0;
}
