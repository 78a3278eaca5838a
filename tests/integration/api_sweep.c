/*
 * api_sweep — every advertised API at every advertised version, through a
 * running broker (tests/integration/test_protocol_versions.py).
 *
 *   api_sweep HOST:PORT
 *
 * Asks ApiVersions v0 what the broker advertises, then for each advertised
 * API that the codec knows (kp_api_find) and each version in the range,
 * sends a request built from the schema's defaults (kp_set_defaults: empty
 * arrays, default integers — a well-formed minimal request of any API, the
 * group APIs another engineer adds included) and decodes the answer with
 * that version. Produce is the one exception: its default acks (0) gets no
 * answer, so it is sent with acks=1. Prints what is advertised, then one
 * line per API version:
 *
 *   advertised <key> <min> <max>
 *   <key> <name> v<version> ok|FAIL <why>
 *
 * and a last line "swept N versions of M apis". Exit status 0 when every
 * version answered and decoded, 1 otherwise, 2 on usage or connect errors.
 */
#include "proto/kproto.h"
#include "proto/kproto_apis.h"
#include "util/buf.h"
#include "util/endian.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int sweep_connect(const char *hostport) {
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {10, 0}; /* a request that gets no answer fails, never hangs */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int sweep_io(int fd, void *p, size_t len, bool writing) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = writing ? write(fd, (uint8_t *)p + done, len - done) : read(fd, (uint8_t *)p + done, len - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* Sends one request and decodes its response into *resp (in arena).
 * Returns NULL or what went wrong. */
static const char *sweep_call(int fd, int16_t key, int16_t version, int32_t corr, const void *body, kp_arena_t *arena,
                              void **resp, char *err, size_t errlen) {
    kp_writer_t w;
    kp_writer_init(&w);
    buf_t frame;
    buf_init(&frame);
    const char *why = NULL;
    if (kp_request_encode(key, version, corr, kp_str("api-sweep"), body, &w, err, errlen) != KP_OK)
        why = "cannot encode the request";
    else if (kp_writer_flatten(&w, &frame) != 0 || sweep_io(fd, frame.data, frame.len, true) != 0)
        why = "cannot send";
    kp_writer_free(&w);
    buf_free(&frame);
    if (why)
        return why;
    uint8_t size_be[4];
    if (sweep_io(fd, size_be, 4, false) != 0)
        return "no response (connection closed or timed out)";
    int32_t size = (int32_t)be32_load(size_be);
    if (size < 4 || size > (64 << 20))
        return "bad response size";
    uint8_t *payload = kp_arena_alloc(arena, (size_t)size);
    if (sweep_io(fd, payload, (size_t)size, false) != 0)
        return "truncated response";
    int32_t got_corr;
    if (kp_response_decode(payload, (size_t)size, key, version, arena, &got_corr, resp, err, errlen) != KP_OK)
        return err;
    return got_corr == corr ? NULL : "correlation id mismatch";
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: api_sweep HOST:PORT\n");
        return 2;
    }
    int fd = sweep_connect(argv[1]);
    if (fd < 0) {
        fprintf(stderr, "api_sweep: cannot connect to %s\n", argv[1]);
        return 2;
    }
    kp_arena_t arena = KP_ARENA_INIT;
    char err[256];
    kp_api_versions_req_t avreq = {KP_STR_NULL, KP_STR_NULL};
    void *body;
    int32_t corr = 1;
    const char *why = sweep_call(fd, KP_API_API_VERSIONS, 0, corr++, &avreq, &arena, &body, err, sizeof err);
    if (why) {
        fprintf(stderr, "api_sweep: ApiVersions v0: %s\n", why);
        return 2;
    }
    const kp_api_versions_resp_t *av = body;
    const kp_api_versions_resp_key_t *keys = av->api_keys.items;
    int failures = 0, versions = 0, apis = 0;
    for (int32_t i = 0; i < av->api_keys.count; i++)
        printf("advertised %d %d %d\n", keys[i].api_key, keys[i].min_version, keys[i].max_version);
    for (int32_t i = 0; i < av->api_keys.count; i++) {
        const kp_api_t *api = kp_api_find(keys[i].api_key);
        if (!api) {
            printf("%d ? FAIL advertised but unknown to the codec\n", keys[i].api_key);
            failures++;
            continue;
        }
        apis++;
        for (int16_t v = keys[i].min_version; v <= keys[i].max_version; v++) {
            kp_arena_t a = KP_ARENA_INIT;
            void *req = kp_arena_alloc(&a, api->request->size);
            kp_set_defaults(api->request, v, req);
            if (api->key == KP_API_PRODUCE)
                ((kp_produce_req_t *)req)->acks = 1;
            void *resp;
            why = sweep_call(fd, api->key, v, corr++, req, &a, &resp, err, sizeof err);
            printf("%d %s v%d %s%s\n", api->key, api->name, v, why ? "FAIL " : "ok", why ? why : "");
            versions++;
            if (why) {
                failures++;
                /* The broker may have closed the connection: go on with a new one. */
                close(fd);
                fd = sweep_connect(argv[1]);
                if (fd < 0) {
                    kp_arena_free(&a);
                    break;
                }
            }
            kp_arena_free(&a);
        }
        if (fd < 0)
            break;
    }
    printf("swept %d versions of %d apis\n", versions, apis);
    if (fd >= 0)
        close(fd);
    kp_arena_free(&arena);
    return failures || fd < 0 ? 1 : 0;
}
