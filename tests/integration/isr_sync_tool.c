/*
 * isr_sync_tool — submits one ISR change through isr_sync (broker/replica/
 * isr_sync.h) as the partition's leader would, against a real ZooKeeper and
 * a real controller; driven by tests/integration/test_isr_sync.py.
 *
 *   isr_sync_tool CONNECT IBP TOPIC PARTITION ISR [--zk-version N]
 *                 [--leader-epoch N] [--linger-ms N]
 *
 * The partition's leader, leader epoch, controller epoch and state version
 * are read from its state znode (the options override the version and the
 * epoch, to be stale on purpose); the tool acts as that leader (its broker
 * epoch from its /brokers/ids registration). ISR is "1,2". It prints
 *   done <ERROR_NAME> isr=<ids> version=<n> leader_epoch=<n>
 * and, with --linger-ms, keeps isr_sync running that long afterwards (the
 * ZooKeeper mode writes its isr_change notification after 5 s of quiet).
 * Exit status 0 once done was called, 1 on a usage or set-up failure.
 */
#include "replica/isr_sync.h"

#include "util/config.h"
#include "util/logger.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int64_t broker_epoch;
} tool_t;

static void tool_done(void *ctx, const char *topic, int32_t partition, int32_t leader_epoch, kerr_t err,
                      const int32_t *isr, int32_t nisr, int32_t new_zk_version) {
    tool_t *t = ctx;
    (void)topic, (void)partition;
    printf("done %s isr=", kerr_name(err));
    for (int32_t i = 0; i < nisr; i++)
        printf("%s%d", i ? "," : "", isr[i]);
    printf(" version=%d leader_epoch=%d\n", new_zk_version, leader_epoch);
    fflush(stdout);
    pthread_mutex_lock(&t->mu);
    t->done = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static int64_t tool_broker_epoch(void *ctx) {
    return ((tool_t *)ctx)->broker_epoch;
}

static int usage(void) {
    fprintf(stderr, "usage: isr_sync_tool CONNECT IBP TOPIC PARTITION ISR [--zk-version N] [--leader-epoch N] "
                    "[--linger-ms N]\n");
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 6)
        return usage();
    const char *connect = argv[1], *ibp = argv[2], *topic = argv[3];
    int32_t partition = atoi(argv[4]);
    int32_t isr[64], nisr = 0;
    for (char *tok = strtok(argv[5], ","); tok && nisr < 64; tok = strtok(NULL, ","))
        isr[nisr++] = atoi(tok);
    int zk_version = -1, leader_epoch = -1, linger_ms = 0;
    for (int i = 6; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--zk-version") == 0)
            zk_version = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--leader-epoch") == 0)
            leader_epoch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--linger-ms") == 0)
            linger_ms = atoi(argv[i + 1]);
        else
            return usage();
    }
    logger_set_level(LOGGER_WARN);

    char err[256];
    config_t *cfg = config_new();
    if (config_set(cfg, "inter.broker.protocol.version", ibp, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    evloop_t *loop = evloop_new("zk-events", err, sizeof err);
    if (!loop || evloop_start(loop, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    zkc_config_t zc = {.connect = connect, .session_timeout_ms = 6000, .connection_timeout_ms = 10000,
                       .post = evloop_post, .post_ctx = loop};
    zkc_t *zk = zkc_open(&zc, err, sizeof err);
    if (!zk) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    char path[ZKDATA_PATH_MAX];
    zkdata_path_partition_state(path, sizeof path, topic, partition);
    char *data = NULL;
    int len;
    zkc_stat_t stat;
    zkdata_partition_state_t st;
    if (zkc_get(zk, path, &data, &len, &stat) != ZKC_OK ||
        zkdata_partition_state_decode(data, len < 0 ? 0 : (size_t)len, &st, err, sizeof err) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    free(data);
    zkc_stat_t reg;
    zkdata_path_broker(path, sizeof path, st.leader);
    if (zkc_exists(zk, path, &reg) != ZKC_OK) {
        fprintf(stderr, "leader %d is not registered\n", st.leader);
        return 1;
    }

    tool_t t = {.broker_epoch = reg.czxid};
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    isr_sync_config_t sc = {.cfg = cfg, .broker_id = st.leader, .zk = zk, .loop = loop, .done = tool_done,
                            .broker_epoch = tool_broker_epoch, .ctx = &t};
    isr_sync_t *s = isr_sync_new(&sc);
    partition_isr_change_t c = {
        .topic = topic,
        .partition = partition,
        .leader_id = st.leader,
        .leader_epoch = leader_epoch >= 0 ? leader_epoch : st.leader_epoch,
        .controller_epoch = st.controller_epoch,
        .zk_version = zk_version >= 0 ? zk_version : stat.version,
        .isr = isr,
        .nisr = nisr,
    };
    isr_sync_submit(s, &c);
    pthread_mutex_lock(&t.mu);
    while (!t.done)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    if (linger_ms > 0)
        usleep((useconds_t)linger_ms * 1000);

    isr_sync_stop(s);
    zkc_close(zk);
    evloop_stop(loop);
    isr_sync_free(s);
    evloop_free(loop);
    zkdata_partition_state_free(&st);
    config_free(cfg);
    return 0;
}
