/* zkc without a ZooKeeper server: connect strings, error mapping, and the
 * failure to start when nothing answers (the rest is in
 * tests/integration/test_zkc.py, against a real ZooKeeper). */
#include "unit.h"

#include "zk/zkc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static void test_parse_connect(void) {
    char *hosts = NULL, *chroot = NULL;
    CU_ASSERT_EQUAL(zkc_parse_connect("localhost:2181", &hosts, &chroot, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(hosts, "localhost:2181");
    CU_ASSERT_PTR_NULL(chroot);
    free(hosts);

    CU_ASSERT_EQUAL(zkc_parse_connect("zk1:2181,zk2:2181,zk3:2181/samsa", &hosts, &chroot, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(hosts, "zk1:2181,zk2:2181,zk3:2181");
    CU_ASSERT_STRING_EQUAL(chroot, "/samsa");
    free(hosts);
    free(chroot);

    CU_ASSERT_EQUAL(zkc_parse_connect("127.0.0.1:2181/kafka/cluster-a", &hosts, &chroot, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(hosts, "127.0.0.1:2181");
    CU_ASSERT_STRING_EQUAL(chroot, "/kafka/cluster-a");
    free(hosts);
    free(chroot);

    /* "/" alone is no chroot */
    CU_ASSERT_EQUAL(zkc_parse_connect("h:1/", &hosts, &chroot, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(hosts, "h:1");
    CU_ASSERT_PTR_NULL(chroot);
    free(hosts);
    /* names that merely start with dots are fine */
    CU_ASSERT_EQUAL(zkc_parse_connect("h:1/.hidden/..x", &hosts, &chroot, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(chroot, "/.hidden/..x");
    free(hosts);
    free(chroot);
}

static void test_parse_connect_errors(void) {
    static const struct {
        const char *connect;
        const char *err;
    } cases[] = {
        {"", "zookeeper.connect is empty"},
        {"/samsa", "zookeeper.connect \"/samsa\" names no host"},
        {"h:1/samsa/", "zookeeper.connect has an invalid chroot path \"/samsa/\""},
        {"h:1/a//b", "zookeeper.connect has an invalid chroot path \"/a//b\""},
        {"h:1/a/./b", "zookeeper.connect has an invalid chroot path \"/a/./b\""},
        {"h:1/a/..", "zookeeper.connect has an invalid chroot path \"/a/..\""},
        {"h:1/a\tb", "zookeeper.connect has an invalid chroot path \"/a\tb\""},
        {"h 1:2181", "zookeeper.connect \"h 1:2181\" has a space or control character in its hosts"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *hosts = (char *)"x", *chroot = (char *)"x";
        char err[200] = "";
        CU_ASSERT_EQUAL(zkc_parse_connect(cases[i].connect, &hosts, &chroot, err, sizeof err), -1);
        CU_ASSERT_STRING_EQUAL(err, cases[i].err);
        CU_ASSERT_PTR_NULL(hosts);
        CU_ASSERT_PTR_NULL(chroot);
    }
    char *hosts, *chroot;
    CU_ASSERT_EQUAL(zkc_parse_connect(NULL, &hosts, &chroot, NULL, 0), -1);
}

static void test_error_mapping(void) {
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZOK), ZKC_OK);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZNONODE), ZKC_NONODE);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZNODEEXISTS), ZKC_NODEEXISTS);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZBADVERSION), ZKC_BADVERSION);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZNOTEMPTY), ZKC_NOTEMPTY);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZNOCHILDRENFOREPHEMERALS), ZKC_NOCHILDRENFOREPHEMERALS);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZCONNECTIONLOSS), ZKC_CONNECTIONLOSS);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZSESSIONMOVED), ZKC_CONNECTIONLOSS);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZOPERATIONTIMEOUT), ZKC_CONNECTIONLOSS);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZSESSIONEXPIRED), ZKC_SESSIONEXPIRED);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZINVALIDSTATE), ZKC_SESSIONEXPIRED);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZCLOSING), ZKC_CLOSING);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZNOAUTH), ZKC_NOAUTH);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZAUTHFAILED), ZKC_NOAUTH);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZINVALIDACL), ZKC_NOAUTH);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZBADARGUMENTS), ZKC_BADARGUMENTS);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZRUNTIMEINCONSISTENCY), ZKC_ROLLEDBACK);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZSYSTEMERROR), ZKC_ERROR);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(ZMARSHALLINGERROR), ZKC_ERROR);
    CU_ASSERT_EQUAL(zkc_err_from_zoo(12345), ZKC_ERROR);

    CU_ASSERT_STRING_EQUAL(zkc_strerror(ZKC_NONODE), "node does not exist");
    CU_ASSERT_STRING_EQUAL(zkc_strerror(ZKC_BADVERSION), "version conflict");
    CU_ASSERT_STRING_EQUAL(zkc_strerror(ZKC_ROLLEDBACK), "not applied: another operation of the transaction failed");
    CU_ASSERT_STRING_EQUAL(zkc_strerror((zkc_err_t)99), "unknown ZooKeeper error");
    CU_ASSERT_STRING_EQUAL(zkc_err_name(ZKC_OK), "OK");
    CU_ASSERT_STRING_EQUAL(zkc_err_name(ZKC_SESSIONEXPIRED), "SESSIONEXPIRED");
    CU_ASSERT_STRING_EQUAL(zkc_err_name(ZKC_ERROR), "ERROR");
    CU_ASSERT_STRING_EQUAL(zkc_err_name((zkc_err_t)99), "UNKNOWN");
    /* every error has its own text */
    for (int a = ZKC_OK; a <= ZKC_ERROR; a++)
        for (int b = a + 1; b <= ZKC_ERROR; b++)
            CU_ASSERT_STRING_NOT_EQUAL(zkc_strerror((zkc_err_t)a), zkc_strerror((zkc_err_t)b));
    CU_ASSERT_STRING_EQUAL(zkc_session_event_name(ZKC_SESSION_NEW), "new session");
    CU_ASSERT_STRING_EQUAL(zkc_watch_type_name(ZKC_WATCH_DROPPED), "dropped");
}

/* A port that refuses connections: bound, never listening. */
static int refusing_port(int *fd) {
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (*fd < 0 || bind(*fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(*fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    return ntohs(a.sin_port);
}

/* Start-up fails with a clear message when ZooKeeper cannot be reached
 * within zookeeper.connection.timeout.ms. */
static void test_open_unreachable(void) {
    int fd;
    int port = refusing_port(&fd);
    CU_ASSERT_FATAL(port > 0);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%d/samsa", port);
    zkc_config_t cfg = {.connect = connect, .session_timeout_ms = 4000, .connection_timeout_ms = 300};
    char err[300] = "";
    zkc_t *zkc = zkc_open(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NULL(zkc);
    char expected[300];
    snprintf(expected, sizeof expected,
             "timed out after 300 ms waiting for a ZooKeeper session with 127.0.0.1:%d "
             "(zookeeper.connection.timeout.ms), still in state CONNECTING",
             port);
    CU_ASSERT_STRING_EQUAL(err, expected);
    close(fd);

    cfg.connect = "h:1/bad/";
    CU_ASSERT_PTR_NULL(zkc_open(&cfg, err, sizeof err));
    CU_ASSERT_STRING_EQUAL(err, "zookeeper.connect has an invalid chroot path \"/bad/\"");
}

static void test_ops_init(void) {
    zkc_op_t op;
    zkc_op_create(&op, "/a", "x", 1, ZKC_EPHEMERAL);
    CU_ASSERT_EQUAL(op.type, ZKC_OP_CREATE);
    CU_ASSERT_EQUAL(op.len, 1);
    CU_ASSERT_EQUAL(op.flags, ZKC_EPHEMERAL);
    zkc_op_create(&op, "/a", NULL, 5, 0);
    CU_ASSERT_EQUAL(op.len, -1);
    zkc_op_set(&op, "/a", "yy", 2, 3);
    CU_ASSERT_EQUAL(op.type, ZKC_OP_SET);
    CU_ASSERT_EQUAL(op.version, 3);
    zkc_op_delete(&op, "/a", ZKC_ANY_VERSION);
    CU_ASSERT_EQUAL(op.version, -1);
    zkc_op_check(&op, "/a", 0);
    CU_ASSERT_EQUAL(op.type, ZKC_OP_CHECK);
    CU_ASSERT_EQUAL(op.version, 0);
    CU_ASSERT_PTR_NULL(op.created);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"parse connect", test_parse_connect},
        {"parse connect errors", test_parse_connect_errors},
        {"error mapping", test_error_mapping},
        {"open unreachable", test_open_unreachable},
        {"ops init", test_ops_init},
        {NULL, NULL},
    };
    unit_add_suite("zkc", tests);
}
