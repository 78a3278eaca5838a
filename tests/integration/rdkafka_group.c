/*
 * rdkafka_group — one librdkafka group consumer, driven line by line by an
 * integration test (test_groups.py).
 *
 *   rdkafka_group BOOTSTRAP GROUP TOPIC ASSIGNOR [SESSION_MS]
 *
 * Subscribes to TOPIC in GROUP with partition.assignment.strategy ASSIGNOR
 * (range, roundrobin, cooperative-sticky), auto commit off, reading from
 * the earliest offset when none is committed. Prints to stdout, one line
 * each, flushed:
 *   assignment P1 P2 ...   the partitions it owns after each rebalance
 *                          (sorted; "assignment" alone: none)
 *   record P OFFSET VALUE  each record consumed
 *   committed N            after a "commit" command: N partitions committed
 *   error TEXT             a consumer error
 * Reads commands on stdin: "commit" (commits the positions consumed so
 * far, synchronously), "quit" (closes the consumer: it leaves the group,
 * then exits 0). End of stdin counts as quit.
 */
#include <librdkafka/rdkafka.h>

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool cooperative;

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void print_assignment(rd_kafka_t *rk) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    int32_t *ps = calloc((size_t)a->cnt + 1, sizeof *ps);
    for (int i = 0; i < a->cnt; i++)
        ps[i] = a->elems[i].partition;
    qsort(ps, (size_t)a->cnt, sizeof *ps, cmp_i32);
    printf("assignment");
    for (int i = 0; i < a->cnt; i++)
        printf(" %d", ps[i]);
    printf("\n");
    fflush(stdout);
    free(ps);
    rd_kafka_topic_partition_list_destroy(a);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    (void)opaque;
    if (cooperative) {
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    } else {
        rd_kafka_assign(rk, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? parts : NULL);
    }
    print_assignment(rk);
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "rdkafka_group: %s=%s: %s\n", k, v, err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: rdkafka_group BOOTSTRAP GROUP TOPIC ASSIGNOR [SESSION_MS]\n");
        return 2;
    }
    cooperative = strcmp(argv[4], "cooperative-sticky") == 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set(conf, "bootstrap.servers", argv[1]) || set(conf, "group.id", argv[2]) ||
        set(conf, "partition.assignment.strategy", argv[4]) ||
        set(conf, "session.timeout.ms", argc > 5 ? argv[5] : "6000") ||
        set(conf, "heartbeat.interval.ms", "500") || set(conf, "enable.auto.commit", "false") ||
        set(conf, "auto.offset.reset", "earliest") || set(conf, "topic.metadata.refresh.interval.ms", "1000"))
        return 2;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rdkafka_group: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, argv[3], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);

    bool quit = false;
    char line[256];
    size_t have = 0;
    while (!quit) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                printf("record %d %lld %.*s\n", m->partition, (long long)m->offset, (int)m->len,
                       (const char *)m->payload);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                printf("error %s\n", rd_kafka_message_errstr(m));
            fflush(stdout);
            rd_kafka_message_destroy(m);
        }
        struct pollfd pfd = {0, POLLIN, 0};
        while (!quit && poll(&pfd, 1, 0) > 0) {
            ssize_t n = read(0, line + have, sizeof line - 1 - have);
            if (n <= 0) {
                quit = true;
                break;
            }
            have += (size_t)n;
            char *nl;
            while ((nl = memchr(line, '\n', have))) {
                *nl = '\0';
                if (strcmp(line, "quit") == 0) {
                    quit = true;
                } else if (strcmp(line, "commit") == 0) {
                    rd_kafka_topic_partition_list_t *pos = NULL;
                    rd_kafka_assignment(rk, &pos);
                    rd_kafka_position(rk, pos);
                    rd_kafka_resp_err_t e = rd_kafka_commit(rk, pos, 0);
                    if (e)
                        printf("error commit %s\n", rd_kafka_err2str(e));
                    else
                        printf("committed %d\n", pos->cnt);
                    fflush(stdout);
                    rd_kafka_topic_partition_list_destroy(pos);
                }
                size_t used = (size_t)(nl - line) + 1;
                memmove(line, nl + 1, have - used);
                have -= used;
            }
            if (have == sizeof line - 1)
                have = 0;
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}
