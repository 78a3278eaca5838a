/*
 * log_manager — every partition log of one broker across its log.dirs, with
 * Kafka 2.8's LogManager semantics (reference:
 * ../shared/reference/storage-and-replication.md §1, §3, §5, §6, §10).
 *
 *   <log.dir>/.lock                              flock()ed while open
 *   <log.dir>/.kafka_cleanshutdown               written by a clean close
 *   <log.dir>/recovery-point-offset-checkpoint   \
 *   <log.dir>/log-start-offset-checkpoint         } one line per log of the dir
 *   <log.dir>/replication-offset-checkpoint      /
 *   <log.dir>/cleaner-offset-checkpoint          compacted logs the cleaner has cleaned
 *   <log.dir>/<topic>-<partition>/               one log (log.h)
 *
 * Opening locks every dir, reads its checkpoints, consumes its clean-shutdown
 * marker, removes "<topic>-<p>.<32 hex>-delete" leftovers and opens every
 * "<topic>-<partition>" directory as a log. After a clean shutdown nothing
 * is scanned (log_open trusts the segments), so start-up is fast.
 *
 * Background work is Kafka's scheduler tasks, run by log_manager_tick()
 * when due — the broker's main thread calls it every 500 ms. The one thread
 * in here is the log cleaner's (cleaner.h; started at open unless
 * log.cleaner.enable=false, stopped first thing at close), which touches
 * no log: the tick hands it jobs and swaps in what it wrote.
 *
 *   task                      period (broker config)                    first run
 *   retention                 log.retention.check.interval.ms           open + 30 s
 *   flush (flush.ms due)      log.flush.scheduler.interval.ms           open + 30 s
 *   flush of rolled segments  every tick (Kafka: at once after a roll)   open
 *   recovery-point ckpt       log.flush.offset.checkpoint.interval.ms   open + 30 s
 *   log-start-offset ckpt     log.flush.start.offset.checkpoint...ms    open + 30 s
 *   high-watermark ckpt       replica.high.watermark.checkpoint...ms    open + period
 *   remove deleted segments   1 s (each log applies file.delete.delay.ms) open + 1 s
 *   cleaner: commit a finished every tick; choose the dirtiest           open
 *     job, hand out the next   compacted log when idle, else wait
 *                              log.cleaner.backoff.ms
 * Not a task of the tick: the leader-epoch checkpoints that deferred changes
 * left dirty, which the caller writes before each tick without its lock
 * (log_manager_write_leader_epochs); a recovery-point checkpoint writes the
 * ones still dirty first, under it.
 *
 * Times: now_ms everywhere (open, tick, get_or_create) is the wall clock in
 * ms, the clock record timestamps use, as retention compares the two.
 *
 * Checkpoint files list a dir's logs sorted by topic, then partition (Kafka
 * writes a hash map's order; any order reads back the same).
 *
 * meta.properties is the caller's (meta_properties.h): it checks and writes
 * the file in each of log_manager_dirs().
 *
 * Not thread-safe. In the broker every call after open is made under the
 * replica manager's logs_lock, from three threads: the main thread's tick,
 * the admin worker (LeaderAndIsr creating a log) and a network loop
 * (StopReplica deleting one); open and close run on the main thread alone
 * (close once the network and the admin worker stopped). Each log's part
 * of a task runs under the log's owner lock (log_manager_lock_fn:
 * partition.lock), taken inside logs_lock. Offline log dirs (a dir failing
 * while the broker runs) are not handled: errors are returned and logged,
 * and the dir stays in use.
 */
#ifndef SAMSA_LOG_MANAGER_H
#define SAMSA_LOG_MANAGER_H

#include "util/config.h"
#include "proto/kerr.h"
#include "log/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_MANAGER_LOCK_FILE ".lock"
#define LOG_MANAGER_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
#define LOG_MANAGER_DELETE_DIR_SUFFIX "-delete"

/* Kafka's InitialTaskDelayMs: the LogManager tasks first run this long after
 * start-up. */
#define LOG_MANAGER_INITIAL_TASK_DELAY_MS 30000
/* How often segments deleted by retention are checked for removal. */
#define LOG_MANAGER_REMOVE_DELETED_INTERVAL_MS 1000

/* Options, dirs and the callbacks immutable after open; the table of logs,
 * per-dir counts and the task schedule under: the caller's lock
 * (replica_manager.logs_lock in the broker). */
typedef struct log_manager log_manager_t;

/* A topic's overrides (NULL: the broker's defaults). The result is used
 * only during the call (the log keeps a resolved copy). */
typedef const config_topic_t *(*log_manager_topic_config_fn)(void *ctx, const char *topic);

/* Takes (lock true) or releases the lock under which the owner appends to
 * topic-partition's log, so that background tasks do not race with it.
 * After open it is called with the manager's caller lock held (in the
 * broker: replica_manager.logs_lock -> partition.lock); during open the
 * broker's has no replica manager yet and does nothing. */
typedef void (*log_manager_lock_fn)(void *ctx, const char *topic, int32_t partition, bool lock);

typedef struct log_manager_opts {
    log_manager_topic_config_fn topic_config; /* NULL: broker defaults for every topic */
    void *topic_config_ctx;
    log_manager_lock_fn log_lock; /* NULL: no one else touches the logs */
    void *log_lock_ctx;
    int64_t now_ms; /* start of the task schedule; opens the logs */
} log_manager_opts_t;

/* Opens the logs of every dir in log.dirs (else log.dir) of broker_cfg,
 * which must outlive the manager. Per dir: created if missing; refused if
 * not a readable, writable directory, if listed twice, or if another
 * process (or another manager) holds its lock; checkpoints read (a
 * malformed one is an error naming the file); the clean-shutdown marker
 * noted and deleted; "-delete" dirs removed; every "<topic>-<partition>"
 * dir opened with log_open (other directories are skipped with a warning).
 * The same partition in two dirs is an error ("Duplicate log
 * directories"). Nothing is left locked or open on error.
 * Errors: KERR_KAFKA_STORAGE_ERROR with one line in err. */
kerr_t log_manager_open(const config_t *broker_cfg, int32_t broker_id, const log_manager_opts_t *opts,
                        log_manager_t **out, char *err, size_t errlen);

/* clean: flushes every log, writes all three checkpoints and then, in each
 * dir where all of that succeeded, the clean-shutdown marker. Not clean (a
 * simulated crash): closes the files and writes nothing. Either way closes
 * every log, releases the locks and frees lm. Returns KERR_NONE, or
 * KERR_KAFKA_STORAGE_ERROR when something failed (logged). */
kerr_t log_manager_close(log_manager_t *lm, bool clean);

/* The log dirs in log.dirs order (paths as configured, without trailing
 * slashes); valid until close. *count gets their number. */
const char *const *log_manager_dirs(const log_manager_t *lm, size_t *count);

/* Whether dir i had the clean-shutdown marker at open. */
bool log_manager_dir_had_clean_shutdown(const log_manager_t *lm, size_t i);

/* --- logs ------------------------------------------------------------------ */

/* The log of topic-partition, or NULL. */
log_t *log_manager_get(const log_manager_t *lm, const char *topic, int32_t partition);

/* The log of topic-partition; when there is none, creates
 * "<topic>-<partition>" in the dir holding the fewest logs (the first
 * listed on a tie; the next one if creating fails there), with the settings
 * of topic_cfg (NULL: broker defaults). Errors: INVALID_TOPIC_EXCEPTION (bad
 * name), UNKNOWN_TOPIC_OR_PARTITION (negative partition),
 * KAFKA_STORAGE_ERROR (err filled). */
kerr_t log_manager_get_or_create(log_manager_t *lm, const char *topic, int32_t partition,
                                 const config_topic_t *topic_cfg, int64_t now_ms, log_t **out, char *err,
                                 size_t errlen);

/* Deletes the log: closes it, renames its dir to
 * "<topic>-<p>.<32 hex>-delete" (so a crash part-way leaves a dir that the
 * next open removes), removes that dir and rewrites the dir's checkpoints
 * without it. The log_t must no longer be used. Errors:
 * UNKNOWN_TOPIC_OR_PARTITION (no such log); KAFKA_STORAGE_ERROR when the
 * rename failed (the log is opened again, unchanged, if it can be) or when
 * the files or checkpoints could not be written (the log is gone from the
 * manager anyway). */
kerr_t log_manager_delete(log_manager_t *lm, const char *topic, int32_t partition, char *err,
                          size_t errlen);

/* Iteration: i from 0 to log_manager_count() - 1, in no particular order.
 * Indexes change when logs are created or deleted. */
typedef struct log_manager_entry {
    const char *topic; /* owned by the manager */
    int32_t partition;
    size_t dir;        /* index into log_manager_dirs() */
    log_t *log;
} log_manager_entry_t;

size_t log_manager_count(const log_manager_t *lm);
/* false when i >= log_manager_count(). */
bool log_manager_at(const log_manager_t *lm, size_t i, log_manager_entry_t *out);

/* --- checkpoints (each dir written atomically; all dirs even on errors) ------- */

/* recovery-point-offset-checkpoint: every log's recovery point. */
kerr_t log_manager_checkpoint_recovery_points(log_manager_t *lm, char *err, size_t errlen);

/* log-start-offset-checkpoint: only the logs whose log start offset is
 * above their first segment's base offset (Kafka's filter: otherwise the
 * segments say it). */
kerr_t log_manager_checkpoint_log_start_offsets(log_manager_t *lm, char *err, size_t errlen);

/* replication-offset-checkpoint: every log's high watermark. */
kerr_t log_manager_checkpoint_high_watermarks(log_manager_t *lm, char *err, size_t errlen);

/* Takes (lock true) or releases the caller's lock over the manager (in the
 * broker: replica_manager.logs_lock). */
typedef void (*log_manager_caller_lock_fn)(void *ctx, bool lock);

/* Writes the leader-epoch checkpoints that deferred changes left dirty, at
 * most max_files of them (the others wait for the next call), called
 * WITHOUT the caller's lock: it takes it (lock) only to copy the
 * caches, to rename the files into place and to mark the caches clean, and
 * leaves it free while the files and folders are fsynced, so that other
 * threads' calls (LeaderAndIsr attaching logs) need not wait for thousands
 * of fsyncs (log_manager.c says why it is safe).
 * KERR_KAFKA_STORAGE_ERROR when a file could not be written (logged; the
 * cache stays dirty and the next call tries again). */
kerr_t log_manager_write_leader_epochs(log_manager_t *lm, size_t max_files, log_manager_caller_lock_fn lock,
                                       void *ctx);

/* --- background tasks --------------------------------------------------------- */

/* Runs the tasks that are due at now_ms (see the table above), each at most
 * once per call; a task that fell behind runs once and is next due one
 * period later (no burst of catch-up runs). Returns KERR_NONE, or
 * KERR_KAFKA_STORAGE_ERROR if a task failed (logged; the others still ran). */
kerr_t log_manager_tick(log_manager_t *lm, int64_t now_ms);

#endif
