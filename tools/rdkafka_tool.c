/*
 * rdkafka_tool — see rdkafka_tool.h.
 *
 * The option parser is hand-written rather than getopt_long because Kafka's
 * tools accept forms getopt does not: "--compression-codec lz4" as well as a
 * bare "--compression-codec" (an optional value given as the next word), and
 * "--producer-props a=1 b=2" (several words for one option).
 *
 * Statistics for --print-metrics arrive on librdkafka's own schedule through
 * a callback; the last document is kept in this file (each tool runs one
 * client) and printed when the tool asks.
 */
#include "rdkafka_tool.h"

#include "util/clock.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

volatile sig_atomic_t rdtool_stop;

/* --- options ----------------------------------------------------------------------- */

int rdtool_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return RDTOOL_EXIT_USAGE;
}

static void rdtool_opts_add(rdtool_opts_t *o, size_t id, const char *value) {
    o->values[id] = mem_realloc(o->values[id], (o->n_values[id] + 1) * sizeof *o->values[id]);
    o->values[id][o->n_values[id]++] = value;
}

/* The option "--name" abbreviates: exact match first, else a unique prefix
 * (joptsimple's rule). -1 when unknown or ambiguous. */
static int rdtool_find_opt(const rdtool_opts_t *o, const char *name, size_t len) {
    int found = -1;
    for (size_t i = 0; i < o->n_defs; i++) {
        if (strncmp(o->defs[i].name, name, len) != 0)
            continue;
        if (o->defs[i].name[len] == '\0')
            return (int)i;
        found = found == -1 ? (int)i : -2;
    }
    return found < 0 ? -1 : found;
}

static bool rdtool_is_option_word(const char *word) {
    return strncmp(word, "--", 2) == 0 && word[2] != '\0';
}

int rdtool_opts_parse(rdtool_opts_t *o, const rdtool_optdef_t *defs, size_t n_defs, int argc, char **argv) {
    o->defs = defs;
    o->n_defs = n_defs;
    o->n_values = mem_calloc(n_defs, sizeof *o->n_values);
    o->values = mem_calloc(n_defs, sizeof *o->values);
    for (int i = 1; i < argc; i++) {
        const char *word = argv[i];
        if (!rdtool_is_option_word(word))
            return rdtool_usage_error("Found non-option argument '%s'; options start with --", word);
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        int id = rdtool_find_opt(o, name, name_len);
        if (id < 0)
            return rdtool_usage_error("%.*s is not a recognized option", (int)name_len, name);
        const rdtool_optdef_t *d = &defs[id];
        if (d->kind == RDTOOL_FLAG) {
            if (eq)
                return rdtool_usage_error("Option %s does not take an argument", d->name);
            rdtool_opts_add(o, (size_t)id, NULL);
        } else if (eq) {
            rdtool_opts_add(o, (size_t)id, eq + 1);
        } else if (d->kind == RDTOOL_OPTIONAL_ARG) {
            bool has_value = i + 1 < argc && !rdtool_is_option_word(argv[i + 1]);
            rdtool_opts_add(o, (size_t)id, has_value ? argv[++i] : NULL);
        } else {
            if (i + 1 >= argc || (d->kind == RDTOOL_ARG_LIST && rdtool_is_option_word(argv[i + 1])))
                return rdtool_usage_error("Option %s requires an argument", d->name);
            rdtool_opts_add(o, (size_t)id, argv[++i]);
            while (d->kind == RDTOOL_ARG_LIST && i + 1 < argc && !rdtool_is_option_word(argv[i + 1]))
                rdtool_opts_add(o, (size_t)id, argv[++i]);
        }
    }
    return 0;
}

void rdtool_opts_free(rdtool_opts_t *o) {
    if (o->values)
        for (size_t i = 0; i < o->n_defs; i++)
            free(o->values[i]);
    free(o->values);
    free(o->n_values);
    o->values = NULL;
    o->n_values = NULL;
}

bool rdtool_has(const rdtool_opts_t *o, int id) {
    return o->n_values[id] > 0;
}

const char *rdtool_value(const rdtool_opts_t *o, int id) {
    return o->n_values[id] ? o->values[id][o->n_values[id] - 1] : NULL;
}

int rdtool_require(const rdtool_opts_t *o, int id) {
    if (!rdtool_has(o, id))
        return rdtool_usage_error("Missing required argument \"[%s]\"", o->defs[id].name);
    return 0;
}

int rdtool_int_opt(const rdtool_opts_t *o, int id, int64_t min, int64_t max, int64_t dflt, int64_t *out) {
    const char *text = rdtool_value(o, id);
    if (!text) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *text == ' ' || *end != '\0' || errno || v < min || v > max)
        return rdtool_usage_error("Cannot parse argument '%s' of option %s", text, o->defs[id].name);
    *out = v;
    return 0;
}

/* The description wrapped at word boundaries into joptsimple's second
 * column (41 characters in, 39 wide). */
void rdtool_print_wrapped(FILE *out, const char *head, const char *text) {
    const size_t width = 39;
    const char *p = text;
    bool first = true;
    do {
        size_t take = strlen(p);
        if (take > width) {
            take = width;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0) /* one word longer than the column */
                take = strcspn(p, " ");
        }
        fprintf(out, "%-41s%.*s\n", first ? head : "", (int)take, p);
        first = false;
        p += take;
        while (*p == ' ')
            p++;
    } while (*p);
}

void rdtool_print_help(FILE *out, const char *usage, const rdtool_optdef_t *defs, size_t n_defs) {
    fprintf(out, "%s\n"
                 "Option                                   Description\n"
                 "------                                   -----------\n",
            usage);
    for (size_t i = 0; i < n_defs; i++) {
        const rdtool_optdef_t *d = &defs[i];
        char head[160];
        switch (d->kind) {
        case RDTOOL_FLAG:
            snprintf(head, sizeof head, "--%s", d->name);
            break;
        case RDTOOL_OPTIONAL_ARG:
            snprintf(head, sizeof head, "--%s [%s]", d->name, d->arg_name);
            break;
        case RDTOOL_ARG:
            snprintf(head, sizeof head, "--%s <%s>", d->name, d->arg_name);
            break;
        case RDTOOL_ARG_LIST:
            snprintf(head, sizeof head, "--%s <%s> ...", d->name, d->arg_name);
            break;
        }
        bool long_head = strlen(head) > 40;
        if (long_head)
            fprintf(out, "%s\n", head);
        rdtool_print_wrapped(out, long_head ? "" : head, d->help);
    }
}

int rdtool_main(const rdtool_cli_t *cli, int argc, char **argv) {
    if (argc == 1 && cli->no_args_is_usage) {
        rdtool_print_help(stderr, cli->usage, cli->defs, cli->n_defs);
        return RDTOOL_EXIT_USAGE;
    }
    rdtool_opts_t o = {0};
    int rc = rdtool_opts_parse(&o, cli->defs, cli->n_defs, argc, argv);
    if (!rc) {
        int help = rdtool_find_opt(&o, "help", strlen("help"));
        int version = rdtool_find_opt(&o, "version", strlen("version"));
        if (help >= 0 && rdtool_has(&o, help))
            rdtool_print_help(stdout, cli->usage, cli->defs, cli->n_defs);
        else if (version >= 0 && rdtool_has(&o, version))
            printf("%s\n", PACKAGE_VERSION);
        else
            rc = cli->run(&o);
    }
    rdtool_opts_free(&o);
    return rc;
}

/* --- properties -------------------------------------------------------------------- */

void rdtool_props_set(rdtool_props_t *p, const char *name, const char *value) {
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->names[i], name) == 0) {
            free(p->values[i]);
            p->values[i] = mem_strdup(value);
            return;
        }
    }
    p->names = mem_realloc(p->names, (p->n + 1) * sizeof *p->names);
    p->values = mem_realloc(p->values, (p->n + 1) * sizeof *p->values);
    p->names[p->n] = mem_strdup(name);
    p->values[p->n] = mem_strdup(value);
    p->n++;
}

const char *rdtool_props_get(const rdtool_props_t *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->values[i];
    return NULL;
}

const char *rdtool_props_get_or(const rdtool_props_t *p, const char *name, const char *dflt) {
    const char *v = rdtool_props_get(p, name);
    return v ? v : dflt;
}

bool rdtool_props_true(const rdtool_props_t *p, const char *name) {
    const char *v = rdtool_props_get(p, name);
    if (!v)
        return false;
    v += strspn(v, " \t");
    return strncasecmp(v, "true", 4) == 0 && v[4 + strspn(v + 4, " \t")] == '\0';
}

void rdtool_props_free(rdtool_props_t *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
    free(p->names);
    free(p->values);
    *p = (rdtool_props_t){0};
}

static bool rdtool_is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n';
}

/* One logical line of a .properties file (continuations already joined):
 * the key ends at the first unescaped '=', ':' or blank. Escapes other than
 * line continuations are rare in client configs and kept as written. */
static void rdtool_props_parse_line(rdtool_props_t *p, char *line) {
    while (rdtool_is_blank(*line))
        line++;
    if (*line == '\0' || *line == '#' || *line == '!')
        return;
    char *key_end = line;
    while (*key_end && *key_end != '=' && *key_end != ':' && !rdtool_is_blank(*key_end))
        key_end++;
    char *value = key_end;
    while (rdtool_is_blank(*value))
        value++;
    if (*value == '=' || *value == ':')
        value++;
    while (rdtool_is_blank(*value))
        value++;
    size_t value_len = strlen(value);
    while (value_len > 0 && rdtool_is_blank(value[value_len - 1]))
        value[--value_len] = '\0';
    *key_end = '\0';
    rdtool_props_set(p, line, value);
}

int rdtool_props_load(rdtool_props_t *p, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return rdtool_usage_error("Cannot read %s: %s", path, strerror(errno));
    char *line = NULL, *logical = NULL;
    size_t cap = 0, logical_len = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        const char *piece = line;
        if (logical_len > 0) /* a continuation drops its leading blanks */
            while (rdtool_is_blank(*piece))
                piece++;
        size_t piece_len = strlen(piece);
        bool continued = piece_len > 0 && piece[piece_len - 1] == '\\';
        if (continued)
            piece_len--;
        logical = mem_realloc(logical, logical_len + piece_len + 1);
        memcpy(logical + logical_len, piece, piece_len);
        logical_len += piece_len;
        logical[logical_len] = '\0';
        if (!continued) {
            rdtool_props_parse_line(p, logical);
            logical_len = 0;
        }
    }
    if (logical_len > 0)
        rdtool_props_parse_line(p, logical);
    free(logical);
    free(line);
    fclose(f);
    return 0;
}

int rdtool_props_load_opt(rdtool_props_t *p, const rdtool_opts_t *o, int id) {
    return rdtool_has(o, id) ? rdtool_props_load(p, rdtool_value(o, id)) : 0;
}

int rdtool_props_add_kv(rdtool_props_t *p, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return rdtool_usage_error("Invalid command line properties: %s", kv);
    char *name = mem_strndup(kv, (size_t)(eq - kv));
    rdtool_props_set(p, name, eq + 1);
    free(name);
    return 0;
}

int rdtool_props_add_kv_opt(rdtool_props_t *p, const rdtool_opts_t *o, int id) {
    for (size_t i = 0; i < o->n_values[id]; i++) {
        int rc = rdtool_props_add_kv(p, o->values[id][i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Java client properties whose librdkafka name differs. A value scale
 * converts bytes to librdkafka's kilobytes. */
static const struct rdtool_java_name {
    const char *java;
    const char *rdkafka;
    int64_t divide_by;
} rdtool_java_names[] = {
    {"buffer.memory", "queue.buffering.max.kbytes", 1024},
    {"send.buffer.bytes", "socket.send.buffer.bytes", 1},
    {"receive.buffer.bytes", "socket.receive.buffer.bytes", 1},
    {"max.request.size", "message.max.bytes", 1},
    {"fetch.max.wait.ms", "fetch.wait.max.ms", 1},
};

/* Java classes a C client cannot load; the tools read and write bytes as
 * Kafka's tools do with the ByteArray (de)serializers. */
static const char *const rdtool_java_only[] = {
    "key.serializer", "value.serializer", "key.deserializer", "value.deserializer",
};

int rdtool_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    for (size_t i = 0; i < sizeof rdtool_java_only / sizeof rdtool_java_only[0]; i++)
        if (strcmp(name, rdtool_java_only[i]) == 0)
            return 0;
    const char *rd_name = name;
    char scaled[32];
    const char *rd_value = value;
    for (size_t i = 0; i < sizeof rdtool_java_names / sizeof rdtool_java_names[0]; i++) {
        if (strcmp(name, rdtool_java_names[i].java) != 0)
            continue;
        rd_name = rdtool_java_names[i].rdkafka;
        if (rdtool_java_names[i].divide_by > 1) {
            char *end;
            long long v = strtoll(value, &end, 10);
            if (*value && *end == '\0' && v >= 0) {
                snprintf(scaled, sizeof scaled, "%lld", v / rdtool_java_names[i].divide_by);
                rd_value = scaled;
            }
        }
    }
    /* Java's "none" (fail when there is no offset) is librdkafka's "error". */
    if (strcmp(name, "auto.offset.reset") == 0 && strcmp(value, "none") == 0)
        rd_value = "error";
    char err[512];
    if (rd_kafka_conf_set(conf, rd_name, rd_value, err, sizeof err) != RD_KAFKA_CONF_OK)
        return rdtool_usage_error("Invalid property %s=%s: %s", name, value, err);
    return 0;
}

int rdtool_conf_set_all(rd_kafka_conf_t *conf, const rdtool_props_t *props) {
    for (size_t i = 0; i < props->n; i++) {
        int rc = rdtool_conf_set(conf, props->names[i], props->values[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- clients ----------------------------------------------------------------------- */

rd_kafka_t *rdtool_new(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "Cannot create the Kafka client: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static void rdtool_on_stop_signal(int sig) {
    (void)sig;
    rdtool_stop = 1;
}

void rdtool_catch_stop_signals(void) {
    struct sigaction sa = {.sa_handler = rdtool_on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

rd_kafka_resp_err_t rdtool_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                                   const void *value, size_t value_len, rd_kafka_headers_t *headers, void *opaque) {
    for (;;) {
        rd_kafka_resp_err_t err;
        if (headers)
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                    RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        else
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                                    RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
        rd_kafka_poll(rk, 100); /* deliveries make room */
    }
}

void rdtool_flush(rd_kafka_t *rk) {
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
}

/* The partition count of topic once the topic and all its leaders are
 * known; -1 after wait_ms (< 0: until rdtool_stop). */
static int32_t rdtool_partition_count(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int64_t wait_ms) {
    int64_t deadline = clock_mono_ms() + wait_ms;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int32_t count = -1;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
            md->topics[0].err == 0 && md->topics[0].partition_cnt > 0) {
            count = md->topics[0].partition_cnt;
            for (int p = 0; p < md->topics[0].partition_cnt; p++)
                if (md->topics[0].partitions[p].leader < 0)
                    count = -1;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (count > 0 || rdtool_stop || (wait_ms >= 0 && clock_mono_ms() >= deadline))
            return count;
        nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
    }
}

static int rdtool_consumer_assign(rdtool_consumer_t *c, const char *topic, int32_t partition, int64_t start_offset,
                                  int64_t wait_ms) {
    c->rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    c->n_partitions = rdtool_partition_count(c->rk, c->rkt, wait_ms);
    if (c->n_partitions < 0) {
        if (!rdtool_stop)
            fprintf(stderr, "Topic %s not present in metadata after %" PRId64 " ms.\n", topic, wait_ms);
        return RDTOOL_EXIT_RUNTIME;
    }
    if (partition >= c->n_partitions) {
        fprintf(stderr, "Partition %" PRId32 " of topic %s does not exist (it has %" PRId32 ").\n", partition, topic,
                c->n_partitions);
        return RDTOOL_EXIT_RUNTIME;
    }
    c->only = partition;
    c->queue = rd_kafka_queue_new(c->rk);
    for (int32_t p = 0; p < c->n_partitions; p++) {
        if (c->only >= 0 && p != c->only)
            continue;
        if (rd_kafka_consume_start_queue(c->rkt, p, start_offset, c->queue) != 0) {
            fprintf(stderr, "Cannot consume %s-%" PRId32 ": %s\n", topic, p, rd_kafka_err2str(rd_kafka_last_error()));
            return RDTOOL_EXIT_RUNTIME;
        }
    }
    return 0;
}

/* How long a subscribing consumer waits for its topic's first Metadata
 * answer (a broker that is down costs this once). */
#define RDTOOL_SUBSCRIBE_METADATA_MS 2000

int rdtool_consumer_open(rdtool_consumer_t *c, rd_kafka_conf_t *conf, const char *topic, bool subscribe,
                         int32_t partition, int64_t start_offset, int64_t wait_ms) {
    *c = (rdtool_consumer_t){.only = -1, .subscribed = subscribe};
    c->rk = rdtool_new(RD_KAFKA_CONSUMER, conf);
    if (!c->rk)
        return RDTOOL_EXIT_USAGE;
    if (!subscribe)
        return rdtool_consumer_assign(c, topic, partition, start_offset, wait_ms);
    rd_kafka_poll_set_consumer(c->rk);
    /* Java's consumer asks Metadata for what it subscribes to, which
     * creates a missing topic under allow.auto.create.topics; librdkafka's
     * subscription does not, so one topic Metadata request does it (its
     * answer is not needed). */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(c->rk, 0, rkt, &md, RDTOOL_SUBSCRIBE_METADATA_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        fprintf(stderr, "Cannot subscribe to %s: %s\n", topic, rd_kafka_err2str(err));
        return RDTOOL_EXIT_RUNTIME;
    }
    return 0;
}

rd_kafka_message_t *rdtool_consumer_poll(rdtool_consumer_t *c, int timeout_ms) {
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left < 0)
            left = 0;
        rd_kafka_message_t *m = c->subscribed ? rd_kafka_consumer_poll(c->rk, (int)left)
                                              : rd_kafka_consume_queue(c->queue, (int)left);
        if (!m || !m->err)
            return m;
        static rd_kafka_resp_err_t last_reported;
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->err != last_reported) {
            fprintf(stderr, "WARN consumer: %s\n", rd_kafka_message_errstr(m));
            last_reported = m->err;
        }
        rd_kafka_message_destroy(m);
        if (left == 0)
            return NULL;
    }
}

void rdtool_consumer_close(rdtool_consumer_t *c) {
    if (!c->rk)
        return;
    if (c->subscribed) {
        rd_kafka_consumer_close(c->rk);
    } else if (c->queue) {
        for (int32_t p = 0; p < c->n_partitions; p++)
            if (c->only < 0 || p == c->only)
                rd_kafka_consume_stop(c->rkt, p);
    }
    if (c->queue)
        rd_kafka_queue_destroy(c->queue);
    if (c->rkt)
        rd_kafka_topic_destroy(c->rkt);
    rd_kafka_destroy(c->rk);
    *c = (rdtool_consumer_t){0};
}

/* --- --print-metrics ------------------------------------------------------------------ */

/* The newest statistics document and how many have arrived, written from
 * librdkafka's callback (run by rd_kafka_poll on the tool's thread). */
static char *rdtool_last_stats;
static unsigned rdtool_stats_seen;

static int rdtool_on_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque) {
    (void)rk;
    (void)opaque;
    free(rdtool_last_stats);
    rdtool_last_stats = mem_strndup(json, json_len);
    rdtool_stats_seen++;
    return 0; /* librdkafka frees json */
}

/* Often enough that a short run ends with fresh figures. */
#define RDTOOL_STATS_INTERVAL_MS "500"

void rdtool_metrics_enable(rd_kafka_conf_t *conf) {
    rd_kafka_conf_set(conf, "statistics.interval.ms", RDTOOL_STATS_INTERVAL_MS, NULL, 0);
    rd_kafka_conf_set_stats_cb(conf, rdtool_on_stats);
}

static int rdtool_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rdtool_metrics_print(rd_kafka_t *rk, bool consumer_queue, FILE *out) {
    unsigned seen = rdtool_stats_seen;
    int64_t deadline = clock_mono_ms() + 2000;
    while (rdtool_stats_seen == seen && clock_mono_ms() < deadline) {
        if (!consumer_queue) {
            rd_kafka_poll(rk, 100);
            continue;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }
    json_t *doc = rdtool_last_stats ? json_loads(rdtool_last_stats, 0, NULL) : NULL;
    if (!doc) {
        fprintf(out, "\nNo metrics received from librdkafka.\n");
        return;
    }
    /* librdkafka's client-wide figures: its top-level numbers. */
    const char *client_id = json_string_value(json_object_get(doc, "client_id"));
    char **rows = NULL;
    size_t n_rows = 0, name_width = strlen("Metric Name");
    const char *key;
    json_t *value;
    json_object_foreach(doc, key, value) {
        if (!json_is_number(value))
            continue;
        char row[256];
        int name_len = snprintf(row, sizeof row, "rdkafka-metrics:%s:{client-id=%s}", key, client_id ? client_id : "");
        if ((size_t)name_len > name_width)
            name_width = (size_t)name_len;
        char *tail = row + name_len;
        size_t tail_cap = sizeof row - (size_t)name_len;
        if (json_is_integer(value))
            snprintf(tail, tail_cap, "\t%" JSON_INTEGER_FORMAT, json_integer_value(value));
        else
            snprintf(tail, tail_cap, "\t%.3f", json_real_value(value));
        rows = mem_realloc(rows, (n_rows + 1) * sizeof *rows);
        rows[n_rows++] = mem_strdup(row);
    }
    qsort(rows, n_rows, sizeof *rows, rdtool_cmp_str);
    fprintf(out, "\n%-*s   %s\n", (int)name_width, "Metric Name", "Value");
    for (size_t i = 0; i < n_rows; i++) {
        char *tab = strchr(rows[i], '\t');
        *tab = '\0';
        fprintf(out, "%-*s : %s\n", (int)name_width, rows[i], tab + 1);
        free(rows[i]);
    }
    free(rows);
    json_decref(doc);
}
