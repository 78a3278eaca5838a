/*
 * mock_cluster — librdkafka's in-memory mock cluster as a stand-alone process,
 * so that any Kafka client (kcat, kafka-python, our own C programs) can be
 * pointed at a real Kafka protocol endpoint on loopback today, and at
 * samsa-broker later, with nothing changed but the bootstrap address.
 *
 *   mock_cluster BROKERS TOPIC PARTITIONS [TOPIC PARTITIONS ...]
 *
 * Starts BROKERS mock brokers on 127.0.0.1 (ephemeral ports), creates each
 * TOPIC with PARTITIONS partitions (replication factor 1), prints the
 * bootstrap servers as one line ("127.0.0.1:PORT[,127.0.0.1:PORT...]") on
 * stdout, and serves until its stdin reaches end of file (or it gets SIGTERM
 * or SIGINT). Topics not created here are auto-created by the mock on their
 * first Metadata request, with the mock's default partition count.
 *
 * Exit status: 0 after a clean stop, 1 when the cluster cannot be set up,
 * 2 on usage.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t mock_stop_requested;

static void mock_on_signal(int sig) {
    (void)sig;
    mock_stop_requested = 1;
}

static int mock_parse_count(const char *s, int max) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max)
        return -1;
    return (int)v;
}

static void mock_usage(void) {
    fprintf(stderr, "usage: mock_cluster BROKERS TOPIC PARTITIONS [TOPIC PARTITIONS ...]\n");
    exit(2);
}

/* The mock cluster lives inside a client handle: a producer that never
 * produces is the cheapest one to create. */
static rd_kafka_t *mock_host_handle(void) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "mock_cluster: cannot create a client handle: %s\n", err);
        exit(1);
    }
    return rk;
}

/* Blocks until stdin is closed or a stop signal arrives. Polls with a
 * timeout so that a signal is noticed even if it lands between checks. */
static void mock_wait_for_stop(void) {
    char sink[4096];
    while (!mock_stop_requested) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r < 0)
            continue; /* EINTR: the loop condition decides */
        if (r == 0)
            continue;
        ssize_t n = read(STDIN_FILENO, sink, sizeof sink);
        if (n <= 0)
            return; /* EOF or a broken stdin: the parent is gone */
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || (argc - 2) % 2 != 0)
        mock_usage();
    int brokers = mock_parse_count(argv[1], 64);
    if (brokers < 0)
        mock_usage();
    for (int i = 2; i < argc; i += 2)
        if (argv[i][0] == '\0' || mock_parse_count(argv[i + 1], 10000) < 0)
            mock_usage();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mock_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rd_kafka_t *rk = mock_host_handle();
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "mock_cluster: cannot start a mock cluster of %d broker(s)\n", brokers);
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 2; i < argc; i += 2) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], mock_parse_count(argv[i + 1], 10000), 1);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mock_cluster: cannot create topic %s: %s\n", argv[i], rd_kafka_err2str(e));
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    mock_wait_for_stop();

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
