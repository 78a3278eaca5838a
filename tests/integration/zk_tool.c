/*
 * zk_tool — reads and writes ZooKeeper nodes for tests/integration
 * (test_samsa_topics.py), through samsa's own client (common/zkc) and
 * Kafka's znode formats (common/zkdata).
 *
 *   zk_tool CONNECT get PATH              the node's data on stdout, as is
 *   zk_tool CONNECT version PATH          the node's data version
 *   zk_tool CONNECT children PATH         the children, one a line
 *   zk_tool CONNECT create PATH [DATA]    persistent, parents created; no DATA: null
 *   zk_tool CONNECT set PATH DATA         any version
 *   zk_tool CONNECT broker ID [RACK]      registers broker ID as a broker would
 *                                         (/brokers/ids/ID, version 5 JSON,
 *                                         PLAINTEXT://localhost:9092); the node
 *                                         is persistent so that it outlives us
 *   zk_tool CONNECT state TOPIC P LEADER ISR
 *                                         writes partition P's state znode as the
 *                                         controller does (ISR "1,2"; epochs 0)
 *
 * Exit status: 0; 3 when the node does not exist (get, version, children,
 * set); 1 on other ZooKeeper errors; 2 on usage.
 */
#include "util/buf.h"
#include "util/logger.h"
#include "util/mem.h"
#include "zk/zkc.h"
#include "zk/zkdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int zt_result(zkc_err_t rc, const char *what) {
    if (rc == ZKC_OK)
        return 0;
    fprintf(stderr, "zk_tool: %s: %s\n", what, zkc_err_name(rc));
    return rc == ZKC_NONODE ? 3 : 1;
}

static int zt_get(zkc_t *zk, const char *path, bool version) {
    char *data = NULL;
    int len = 0;
    zkc_stat_t st;
    zkc_err_t rc = zkc_get(zk, path, &data, &len, &st);
    if (rc == ZKC_OK && version)
        printf("%d\n", st.version);
    else if (rc == ZKC_OK && len > 0)
        fwrite(data, 1, (size_t)len, stdout);
    free(data);
    return zt_result(rc, path);
}

static int zt_children(zkc_t *zk, const char *path) {
    zkc_strings_t s;
    zkc_err_t rc = zkc_children(zk, path, &s);
    for (size_t i = 0; i < s.n; i++)
        printf("%s\n", s.items[i]);
    zkc_strings_free(&s);
    return zt_result(rc, path);
}

static int zt_broker(zkc_t *zk, const char *id_text, const char *rack) {
    zkdata_broker_t b;
    zkdata_broker_init(&b);
    zkdata_broker_add_endpoint(&b, "PLAINTEXT", "PLAINTEXT", "localhost", 9092);
    b.jmx_port = -1;
    b.timestamp_ms = 1600000000000;
    b.rack = rack ? mem_strdup(rack) : NULL;
    buf_t json = BUF_INIT;
    char err[256], path[ZKDATA_PATH_MAX];
    int rc = 1;
    if (zkdata_broker_encode(&json, &b, ZKDATA_BROKER_VERSION, err, sizeof err) != 0)
        fprintf(stderr, "zk_tool: %s\n", err);
    else if (zkdata_path_broker(path, sizeof path, (int32_t)atoi(id_text)) < 0)
        fprintf(stderr, "zk_tool: bad broker id %s\n", id_text);
    else
        rc = zt_result(zkc_create(zk, path, json.data, (int)json.len, ZKC_PERSISTENT | ZKC_PARENTS, NULL), path);
    buf_free(&json);
    zkdata_broker_free(&b);
    return rc;
}

static int zt_state(zkc_t *zk, const char *topic, const char *partition, const char *leader, const char *isr) {
    zkdata_partition_state_t s;
    zkdata_partition_state_init(&s);
    s.leader = (int32_t)atoi(leader);
    s.isr = mem_alloc((strlen(isr) + 1) * sizeof *s.isr);
    for (const char *p = isr; *p;) {
        char *end;
        s.isr[s.n_isr++] = (int32_t)strtol(p, &end, 10);
        if (end == p)
            break;
        p = *end == ',' ? end + 1 : end;
    }
    buf_t json = BUF_INIT;
    zkdata_partition_state_encode(&json, &s);
    char path[ZKDATA_PATH_MAX];
    zkdata_path_partition_state(path, sizeof path, topic, (int32_t)atoi(partition));
    zkc_err_t rc = zkc_create(zk, path, json.data, (int)json.len, ZKC_PERSISTENT | ZKC_PARENTS, NULL);
    if (rc == ZKC_NODEEXISTS)
        rc = zkc_set(zk, path, json.data, (int)json.len, ZKC_ANY_VERSION, NULL);
    buf_free(&json);
    zkdata_partition_state_free(&s);
    return zt_result(rc, path);
}

static int zt_run(zkc_t *zk, int argc, char **argv) {
    const char *cmd = argv[2];
    if (strcmp(cmd, "get") == 0 && argc == 4)
        return zt_get(zk, argv[3], false);
    if (strcmp(cmd, "version") == 0 && argc == 4)
        return zt_get(zk, argv[3], true);
    if (strcmp(cmd, "children") == 0 && argc == 4)
        return zt_children(zk, argv[3]);
    if (strcmp(cmd, "create") == 0 && (argc == 4 || argc == 5))
        return zt_result(zkc_create(zk, argv[3], argc == 5 ? argv[4] : NULL, argc == 5 ? (int)strlen(argv[4]) : -1,
                                    ZKC_PERSISTENT | ZKC_PARENTS, NULL),
                         argv[3]);
    if (strcmp(cmd, "set") == 0 && argc == 5)
        return zt_result(zkc_set(zk, argv[3], argv[4], (int)strlen(argv[4]), ZKC_ANY_VERSION, NULL), argv[3]);
    if (strcmp(cmd, "broker") == 0 && (argc == 4 || argc == 5))
        return zt_broker(zk, argv[3], argc == 5 ? argv[4] : NULL);
    if (strcmp(cmd, "state") == 0 && argc == 7)
        return zt_state(zk, argv[3], argv[4], argv[5], argv[6]);
    fprintf(stderr, "zk_tool: bad command (see the header of zk_tool.c)\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: zk_tool CONNECT COMMAND [ARGS...]\n");
        return 2;
    }
    logger_set_level(LOGGER_ERROR);
    zkc_config_t cfg = {.connect = argv[1], .session_timeout_ms = 10000, .connection_timeout_ms = 10000};
    char err[512];
    zkc_t *zk = zkc_open(&cfg, err, sizeof err);
    if (!zk) {
        fprintf(stderr, "zk_tool: %s\n", err);
        return 1;
    }
    int rc = zt_run(zk, argc, argv);
    zkc_close(zk);
    fflush(stdout);
    return rc;
}
