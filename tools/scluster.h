/*
 * scluster — what the tools that drive a private cluster share: they run
 * tools/samsa-cluster (and, through it, tools/samsa-zookeeper) as child
 * processes and watch the cluster through a ZooKeeper session of their
 * own. Used by samsa-failover-bench and samsa-kill-rounds.
 *
 *  - finding samsa-cluster and the broker to run (next to the program when
 *    installed, else in the build and source tree it belongs to);
 *  - the cluster folder: a given one, or a temporary one removed at the end;
 *  - running a samsa-cluster command in its own process group (a ^C on the
 *    terminal reaches only the tool, which then stops the cluster itself),
 *    its output collected so that it is shown only when the command fails;
 *  - the ZooKeeper session and the controller's id;
 *  - SIGINT and SIGTERM: they set scluster_interrupted, which every wait
 *    here checks.
 *
 * Every message is one line on stderr, prefixed with the tool's name
 * (scluster_t.prog).
 */
#ifndef SAMSA_TOOLS_SCLUSTER_H
#define SAMSA_TOOLS_SCLUSTER_H

#include "util/buf.h"
#include "net/evloop.h"
#include "zk/zkc.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The tools' own ZooKeeper session. */
#define SCLUSTER_SESSION_MS 10000
#define SCLUSTER_CONNECT_MS 10000

/* Set by SIGINT and SIGTERM once scluster_catch_signals ran: the one
 * process-wide variable (a signal handler can reach nothing else). */
extern volatile sig_atomic_t scluster_interrupted;

/* SIGINT and SIGTERM set scluster_interrupted; SIGPIPE is ignored. */
void scluster_catch_signals(void);

/* Sleeps ms milliseconds, cut short by an interruption. */
void scluster_sleep_ms(int ms);

/* The cluster a tool drives. Zero-initialise, set prog, then fill it with
 * scluster_find_script, scluster_setup_dir and scluster_zk_open; release
 * everything with scluster_cleanup. */
typedef struct scluster {
    const char *prog; /* the tool's name, for messages */
    char *script;     /* samsa-cluster (owned) */
    char *dir;        /* the cluster folder, absolute (owned) */
    bool temp_dir;    /* created here: removed by scluster_cleanup unless keep */
    bool keep;
    bool up;          /* `start` was run: scluster_cleanup runs `stop` */
    evloop_t *loop;   /* runs zkc's callbacks */
    zkc_t *zk;
} scluster_t;

/* samsa-cluster: given (--cluster-script), else next to this program, else
 * in the source tree of an in-tree or out-of-tree build. 0, or -1 after a
 * message. */
int scluster_find_script(scluster_t *c, const char *given);

/* Tells samsa-cluster (through SAMSA_BROKER, inherited by every command)
 * which broker to run: given (--broker), else the broker of the build this
 * program belongs to; without either samsa-cluster finds one itself. 0, or
 * -1 after a message. */
int scluster_choose_broker(const scluster_t *c, const char *given);

/* A port P with P..P+count-1 free on 127.0.0.1, below the kernel's
 * ephemeral range. 0 when none was found. */
int scluster_free_base_port(int count);

/* The cluster folder: given (created when missing), else a new temporary
 * folder named after temp_name. 0, or -1 after a message. */
int scluster_setup_dir(scluster_t *c, const char *given, const char *temp_name);

/* One samsa-cluster command running in the background, its standard output
 * and error collected in out (owned; buf_free it after scluster_cmd_wait). */
typedef struct scluster_cmd {
    pid_t pid;
    int fd; /* read end of its output */
    buf_t out;
    int64_t started_us; /* wall clock, just before the fork */
    char what[64];      /* "kill 2", for messages */
} scluster_cmd_t;

/* Starts `samsa-cluster --dir DIR args...` (args NULL-terminated, at most
 * 12). 0, or -1 after a message. */
int scluster_cmd_start(const scluster_t *c, scluster_cmd_t *cmd, const char *const *args);
/* Starts `exe args...` the same way (args[0] is the first argument). */
int scluster_exec_start(const scluster_t *c, scluster_cmd_t *cmd, const char *exe, const char *const *args);
/* Waits for the command (never abandoned: a ^C lets it finish) and returns
 * its exit status (128 + signal when killed). */
int scluster_cmd_wait(scluster_cmd_t *cmd);
/* Writes what the command printed to f. */
void scluster_cmd_show(const scluster_cmd_t *cmd, FILE *f);

/* Runs `samsa-cluster --dir DIR args...` to its end. Its output is shown on
 * failure (with a line naming the command); on success it is appended to
 * out when out is not NULL. 0 or -1. */
int scluster_run(const scluster_t *c, buf_t *out, const char *const *args);
/* The same for any program (exe, args[0] its first argument). */
int scluster_exec(const scluster_t *c, buf_t *out, const char *exe, const char *const *args);

/* Opens the tools' ZooKeeper session on the cluster's ZooKeeper
 * (`samsa-cluster zookeeper`). 0, or -1 after a message. */
int scluster_zk_open(scluster_t *c);

/* The first line `samsa-cluster --dir DIR cmd` printed (owned), or NULL
 * after the command's output was shown. */
char *scluster_line(const scluster_t *c, const char *cmd);

/* The pid samsa-cluster recorded for broker id, or -1. */
pid_t scluster_broker_pid(const scluster_t *c, int32_t id);

/* The ids registered under /brokers/ids, as a bit set (ids 1..63); 0 when
 * ZooKeeper cannot be read. */
uint64_t scluster_registered(zkc_t *zk);

/* The controller's id, or -1 while there is none. */
int32_t scluster_read_controller(zkc_t *zk);
/* Waits up to timeout_s for a controller other than broker `not` (-1: any);
 * its id, or -1 after a message. */
int32_t scluster_await_controller(const scluster_t *c, int32_t not, int timeout_s);

/* Stops the cluster when it was started (`samsa-cluster stop`), closes the
 * ZooKeeper session and removes a temporary folder unless keep. */
void scluster_cleanup(scluster_t *c);

#endif
