/*
 * scluster — running tools/samsa-cluster from a C tool (see scluster.h).
 *
 * Commands run as children in a process group of their own, so that a ^C
 * on the terminal reaches only the tool; the tool then finishes what it
 * runs and stops the cluster itself. A command's output goes through a
 * pipe that is read while the command runs, and the wait is for the child
 * itself, not for the pipe's end: a broker the command leaves running in
 * the background keeps the pipe open and must not hold the tool up.
 */
#include "scluster.h"

#include "util/clock.h"
#include "util/mem.h"
#include "zk/zkdata.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Between reads of the controller znode. */
#define SCLUSTER_POLL_MS 100

volatile sig_atomic_t scluster_interrupted;

static void scluster_on_signal(int sig) {
    (void)sig;
    scluster_interrupted = 1;
}

void scluster_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = scluster_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

void scluster_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !scluster_interrupted) {
    }
}

/* ---- finding programs and ports ------------------------------------------------- */

/* The folder of this executable (owned), or NULL. */
static char *scluster_self_dir(void) {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return mem_strdup(path);
}

static char *scluster_first_executable(const char *dir, const char *const *rel) {
    for (size_t i = 0; dir && rel[i]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, rel[i]);
        char *real = realpath(path, NULL);
        if (real && access(real, X_OK) == 0) {
            char *r = mem_strdup(real);
            free(real);
            return r;
        }
        free(real);
    }
    return NULL;
}

/* The absolute path of an executable named by an option (owned), or NULL
 * after a message. */
static char *scluster_given_executable(const scluster_t *c, const char *option, const char *given) {
    char *real = realpath(given, NULL);
    if (!real || access(real, X_OK) != 0) {
        fprintf(stderr, "%s: %s %s is not an executable\n", c->prog, option, given);
        free(real);
        return NULL;
    }
    char *r = mem_strdup(real);
    free(real);
    return r;
}

int scluster_find_script(scluster_t *c, const char *given) {
    if (given) {
        c->script = scluster_given_executable(c, "--cluster-script", given);
        return c->script ? 0 : -1;
    }
    static const char *const rel[] = {"samsa-cluster", "../../tools/samsa-cluster", NULL};
    char *self = scluster_self_dir();
    c->script = scluster_first_executable(self, rel);
    if (!c->script)
        fprintf(stderr, "%s: samsa-cluster not found next to %s or in its source tree: use --cluster-script\n",
                c->prog, self ? self : "this program");
    free(self);
    return c->script ? 0 : -1;
}

int scluster_choose_broker(const scluster_t *c, const char *given) {
    char *bin = NULL;
    if (given) {
        bin = scluster_given_executable(c, "--broker", given);
        if (!bin)
            return -1;
    } else if (!getenv("SAMSA_BROKER")) {
        static const char *const rel[] = {"samsa-broker", "../broker/samsa-broker", NULL};
        char *self = scluster_self_dir();
        bin = scluster_first_executable(self, rel);
        free(self);
    }
    if (bin)
        setenv("SAMSA_BROKER", bin, 1);
    free(bin);
    return 0;
}

int scluster_free_base_port(int count) {
    srand((unsigned)(getpid() ^ clock_wall_us()));
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = 20000 + rand() % (10000 - count);
        bool ok = true;
        for (int p = base; p < base + count && ok; p++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (ok)
            return base;
    }
    return 0;
}

/* ---- the cluster folder -------------------------------------------------------------- */

int scluster_setup_dir(scluster_t *c, const char *given, const char *temp_name) {
    if (given) {
        if (mkdir(given, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "%s: cannot create %s: %s\n", c->prog, given, strerror(errno));
            return -1;
        }
        c->dir = realpath(given, NULL);
        if (!c->dir)
            fprintf(stderr, "%s: %s: %s\n", c->prog, given, strerror(errno));
        return c->dir ? 0 : -1;
    }
    const char *tmp = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", temp_name);
    if (!mkdtemp(path)) {
        fprintf(stderr, "%s: cannot create a folder in %s: %s\n", c->prog, tmp && *tmp ? tmp : "/tmp",
                strerror(errno));
        return -1;
    }
    c->dir = mem_strdup(path);
    c->temp_dir = true;
    return 0;
}

/* ---- running commands ---------------------------------------------------------------- */

int scluster_exec_start(const scluster_t *c, scluster_cmd_t *cmd, const char *exe, const char *const *args) {
    const char *argv[16];
    size_t n = 0;
    argv[n++] = exe;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    *cmd = (scluster_cmd_t){.pid = -1, .fd = -1};
    buf_init(&cmd->out);
    /* what names the command by its first two words after --dir DIR */
    size_t first = args[0] && strcmp(args[0], "--dir") == 0 && args[1] ? 2 : 0;
    const char *w0 = args[first] ? args[first] : "", *w1 = args[first] && args[first + 1] ? args[first + 1] : "";
    snprintf(cmd->what, sizeof cmd->what, "%s%s%s", w0, *w1 ? " " : "", w1);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        fprintf(stderr, "%s: pipe: %s\n", c->prog, strerror(errno));
        return -1;
    }
    fflush(NULL);
    cmd->started_us = clock_wall_us();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", c->prog, strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL); /* the tool ignores it; what it starts must not */
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        execv(exe, (char *const *)argv);
        dprintf(2, "cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    cmd->pid = pid;
    cmd->fd = p[0];
    return 0;
}

int scluster_cmd_start(const scluster_t *c, scluster_cmd_t *cmd, const char *const *args) {
    const char *argv[16] = {"--dir", c->dir};
    size_t n = 2;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return scluster_exec_start(c, cmd, c->script, argv);
}

static void scluster_cmd_drain(scluster_cmd_t *cmd) {
    char chunk[4096];
    ssize_t r;
    while ((r = read(cmd->fd, chunk, sizeof chunk)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            buf_append(&cmd->out, chunk, (size_t)r);
}

int scluster_cmd_wait(scluster_cmd_t *cmd) {
    int status = 0;
    pid_t r;
    for (;;) {
        struct pollfd pfd = {cmd->fd, POLLIN, 0};
        poll(&pfd, 1, 50);
        scluster_cmd_drain(cmd);
        r = waitpid(cmd->pid, &status, WNOHANG);
        if (r == cmd->pid || (r < 0 && errno != EINTR))
            break;
    }
    scluster_cmd_drain(cmd);
    close(cmd->fd);
    cmd->fd = -1;
    if (r != cmd->pid)
        return 127; /* cannot happen: the child is ours */
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void scluster_cmd_show(const scluster_cmd_t *cmd, FILE *f) {
    if (cmd->out.len)
        fwrite(cmd->out.data, 1, cmd->out.len, f);
    if (cmd->out.len && cmd->out.data[cmd->out.len - 1] != '\n')
        fputc('\n', f);
}

/* Waits for a started command; see scluster_run. */
static int scluster_finish(const scluster_t *c, scluster_cmd_t *cmd, buf_t *out, const char *exe) {
    int rc = scluster_cmd_wait(cmd);
    if (rc != 0) {
        scluster_cmd_show(cmd, stderr);
        const char *name = strrchr(exe, '/');
        fprintf(stderr, "%s: %s %s failed (exit status %d)\n", c->prog, name ? name + 1 : exe, cmd->what, rc);
    } else if (out) {
        buf_append(out, cmd->out.data, cmd->out.len);
    }
    buf_free(&cmd->out);
    return rc == 0 ? 0 : -1;
}

int scluster_run(const scluster_t *c, buf_t *out, const char *const *args) {
    scluster_cmd_t cmd;
    if (scluster_cmd_start(c, &cmd, args) != 0)
        return -1;
    return scluster_finish(c, &cmd, out, c->script);
}

int scluster_exec(const scluster_t *c, buf_t *out, const char *exe, const char *const *args) {
    scluster_cmd_t cmd;
    if (scluster_exec_start(c, &cmd, exe, args) != 0)
        return -1;
    return scluster_finish(c, &cmd, out, exe);
}

/* ---- ZooKeeper ----------------------------------------------------------------------- */

int scluster_zk_open(scluster_t *c) {
    buf_t out = BUF_INIT;
    if (scluster_run(c, &out, (const char *const[]){"zookeeper", NULL}) != 0) {
        buf_free(&out);
        return -1;
    }
    buf_append(&out, "", 1);
    char *connect = (char *)out.data;
    connect[strcspn(connect, "\r\n")] = '\0';
    char err[256];
    c->loop = evloop_new("scluster-zk", err, sizeof err);
    if (!c->loop || evloop_start(c->loop, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", c->prog, err);
        buf_free(&out);
        return -1;
    }
    zkc_config_t zc = {.connect = connect,
                       .session_timeout_ms = SCLUSTER_SESSION_MS,
                       .connection_timeout_ms = SCLUSTER_CONNECT_MS,
                       .post = evloop_post,
                       .post_ctx = c->loop};
    c->zk = zkc_open(&zc, err, sizeof err);
    if (!c->zk)
        fprintf(stderr, "%s: ZooKeeper at %s: %s\n", c->prog, connect, err);
    buf_free(&out);
    return c->zk ? 0 : -1;
}

char *scluster_line(const scluster_t *c, const char *cmd) {
    buf_t out = BUF_INIT;
    if (scluster_run(c, &out, (const char *const[]){cmd, NULL}) != 0) {
        buf_free(&out);
        return NULL;
    }
    buf_append(&out, "", 1);
    char *line = (char *)out.data;
    line[strcspn(line, "\r\n")] = '\0';
    char *copy = mem_strdup(line);
    buf_free(&out);
    return copy;
}

pid_t scluster_broker_pid(const scluster_t *c, int32_t id) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/broker-%d/pid", c->dir, id);
    FILE *f = fopen(path, "r");
    long pid = -1;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return pid > 0 ? (pid_t)pid : -1;
}

uint64_t scluster_registered(zkc_t *zk) {
    zkc_strings_t ids = {0};
    uint64_t set = 0;
    if (zkc_children(zk, ZKDATA_PATH_BROKER_IDS, &ids) == ZKC_OK)
        for (size_t i = 0; i < ids.n; i++) {
            long id = strtol(ids.items[i], NULL, 10);
            if (id > 0 && id < 64)
                set |= 1ull << id;
        }
    zkc_strings_free(&ids);
    return set;
}

int32_t scluster_read_controller(zkc_t *zk) {
    char *data = NULL;
    int len = 0;
    int32_t id = -1;
    char err[256];
    if (zkc_get(zk, ZKDATA_PATH_CONTROLLER, &data, &len, NULL) == ZKC_OK &&
        zkdata_controller_decode(data, len < 0 ? 0 : (size_t)len, &id, err, sizeof err) != 0)
        id = -1;
    free(data);
    return id;
}

int32_t scluster_await_controller(const scluster_t *c, int32_t not, int timeout_s) {
    int64_t deadline = clock_mono_ms() + (int64_t)timeout_s * 1000;
    while (!scluster_interrupted && clock_mono_ms() < deadline) {
        int32_t id = scluster_read_controller(c->zk);
        if (id >= 0 && id != not)
            return id;
        scluster_sleep_ms(SCLUSTER_POLL_MS);
    }
    if (!scluster_interrupted)
        fprintf(stderr, "%s: no controller%s after %d s\n", c->prog, not >= 0 ? " other than the victim" : "",
                timeout_s);
    return -1;
}

/* ---- clean-up -------------------------------------------------------------------------- */

static int scluster_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void scluster_cleanup(scluster_t *c) {
    if (c->zk)
        zkc_close(c->zk);
    c->zk = NULL;
    evloop_free(c->loop);
    c->loop = NULL;
    char conf[PATH_MAX];
    struct stat st;
    if (c->up && c->dir && (snprintf(conf, sizeof conf, "%s/cluster.conf", c->dir), stat(conf, &st) == 0)) {
        printf("stopping the cluster\n");
        if (scluster_run(c, NULL, (const char *const[]){"stop", NULL}) != 0)
            fprintf(stderr, "%s: the cluster in %s may still be running (see samsa-cluster --dir %s status)\n",
                    c->prog, c->dir, c->dir);
    }
    if (c->temp_dir && !c->keep)
        nftw(c->dir, scluster_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (c->dir)
        printf("cluster folder kept: %s\n", c->dir);
    free(c->dir);
    free(c->script);
    c->dir = c->script = NULL;
}
