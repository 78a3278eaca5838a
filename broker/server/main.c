/*
 * samsa-broker — the broker process.
 *
 *   samsa-broker [--check-config] server.properties [--override key=value]...
 *
 * Loads the configuration as kafka-server-start.sh does (the file, then the
 * overrides, then the cross-key checks of KafkaConfig). With --check-config it
 * prints the effective configuration and exits; otherwise it runs the broker
 * (broker.h) until SIGTERM or SIGINT.
 */
#include "server/broker.h"
#include "util/config.h"
#include "util/logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BROKER_EXIT_OK 0
#define BROKER_EXIT_CONFIG 1
#define BROKER_EXIT_USAGE 2

static int broker_usage(FILE *out) {
    fprintf(out, "usage: samsa-broker [--check-config] server.properties [--override key=value]...\n"
                 "  SAMSA_LOG_LEVEL=trace|debug|info|warn|error sets the log level (default info)\n");
    return BROKER_EXIT_USAGE;
}

/* Kafka sets its levels in log4j.properties; samsa has one level, taken
 * from the environment so that a cluster script can turn on debug lines
 * without another config key. -1 (printed) for a name it does not know. */
static int broker_log_level_from_env(void) {
    const char *name = getenv("SAMSA_LOG_LEVEL");
    logger_level_t level;
    if (!name || !*name)
        return 0;
    if (logger_level_parse(name, &level) != 0) {
        fprintf(stderr, "samsa-broker: SAMSA_LOG_LEVEL=%s: not a level (trace, debug, info, warn, error, off)\n", name);
        return -1;
    }
    logger_set_level(level);
    return 0;
}

/* Builds the configuration from argv; returns NULL after printing why. */
static config_t *broker_load_config(int argc, char **argv, int first) {
    char err[1024];
    config_t *cfg = config_new();
    const char *path = argv[first];
    if (config_load_file(cfg, path, err, sizeof err) != 0)
        goto fail;
    int rest = config_apply_args(cfg, argc - first - 1, argv + first + 1, err, sizeof err);
    if (rest < 0)
        goto fail;
    if (rest != argc - first - 1) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[first + 1 + rest]);
        goto fail;
    }
    if (config_validate(cfg, err, sizeof err) != 0)
        goto fail;
    return cfg;
fail:
    fprintf(stderr, "samsa-broker: %s\n", err);
    config_free(cfg);
    return NULL;
}

int main(int argc, char **argv) {
    int first = 1;
    int check_only = 0;
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return broker_usage(stdout), BROKER_EXIT_OK;
    if (argc > 1 && strcmp(argv[1], "--check-config") == 0) {
        check_only = 1;
        first = 2;
    }
    if (first >= argc || argv[first][0] == '-')
        return broker_usage(stderr);
    if (broker_log_level_from_env() != 0)
        return BROKER_EXIT_USAGE;

    config_t *cfg = broker_load_config(argc, argv, first);
    if (!cfg)
        return BROKER_EXIT_CONFIG;

    int rc = BROKER_EXIT_OK;
    if (check_only) {
        config_dump(cfg, stdout);
        printf("configuration OK (%zu unknown key%s)\n", config_unknown_count(cfg),
               config_unknown_count(cfg) == 1 ? "" : "s");
    } else {
        rc = broker_run(cfg);
    }
    config_free(cfg);
    return rc;
}
