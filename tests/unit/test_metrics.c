/* The metrics registry: the exposition text, exactly, for registries built here. */
#include "unit.h"

#include "util/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The registry's text as a NUL-terminated string (the caller frees it). */
static char *render(metrics_registry_t *r) {
    buf_t b;
    buf_init(&b);
    metrics_render(r, &b);
    buf_append(&b, "", 1);
    size_t len;
    return (char *)buf_release(&b, &len);
}

static void assert_text(metrics_registry_t *r, const char *want) {
    char *got = render(r);
    CU_ASSERT_STRING_EQUAL(got, want);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n--- got:\n%s--- want:\n%s", got, want);
    free(got);
}

static void test_counter_and_gauge(void) {
    metrics_registry_t *r = metrics_registry_new();
    metrics_counter_t *c = metrics_counter(r, "samsa_things", "Things seen.");
    metrics_gauge_t *g = metrics_gauge(r, "samsa_level", "Current level.");
    metrics_counter_add(c, 41);
    metrics_counter_inc(c);
    metrics_gauge_set(g, 7);
    metrics_gauge_add(g, -10);
    assert_text(r, "# HELP samsa_things_total Things seen.\n"
                   "# TYPE samsa_things_total counter\n"
                   "samsa_things_total 42\n"
                   "# HELP samsa_level Current level.\n"
                   "# TYPE samsa_level gauge\n"
                   "samsa_level -3\n");
    /* registering again finds the same metric */
    CU_ASSERT_PTR_EQUAL(metrics_counter(r, "samsa_things", "other help"), c);
    CU_ASSERT_PTR_EQUAL(metrics_gauge(r, "samsa_level", NULL), g);
    metrics_registry_free(r);
}

static void test_labels_and_sum_series(void) {
    metrics_registry_t *r = metrics_registry_new();
    metrics_family_t *f =
        metrics_family(r, METRICS_COUNTER, "kafka_server_brokertopicmetrics_messagesin", "Messages in.", "topic", NULL,
                       0, METRICS_SUM_SERIES);
    metrics_counter_t *a = metrics_family_counter(f, "a");
    metrics_counter_t *b = metrics_family_counter(f, "b");
    CU_ASSERT_PTR_EQUAL(metrics_family_counter(f, "a"), a);
    CU_ASSERT_PTR_NOT_EQUAL(a, b);
    metrics_counter_add(a, 3);
    metrics_counter_add(b, 4);
    metrics_family_t *q = metrics_family(r, METRICS_GAUGE, "samsa_queue", "Queued.", "request", NULL, 0, 0);
    metrics_gauge_set(metrics_family_gauge(q, "Produce"), 2);
    assert_text(r, "# HELP kafka_server_brokertopicmetrics_messagesin_total Messages in.\n"
                   "# TYPE kafka_server_brokertopicmetrics_messagesin_total counter\n"
                   "kafka_server_brokertopicmetrics_messagesin_total 7\n"
                   "kafka_server_brokertopicmetrics_messagesin_total{topic=\"a\"} 3\n"
                   "kafka_server_brokertopicmetrics_messagesin_total{topic=\"b\"} 4\n"
                   "# HELP samsa_queue Queued.\n"
                   "# TYPE samsa_queue gauge\n"
                   "samsa_queue{request=\"Produce\"} 2\n");
    metrics_registry_free(r);
}

static void test_escaping(void) {
    metrics_registry_t *r = metrics_registry_new();
    metrics_family_t *f = metrics_family(r, METRICS_COUNTER, "samsa_odd", "A \\ help\nline \"quoted\".", "name",
                                         NULL, 0, 0);
    metrics_counter_inc(metrics_family_counter(f, "back\\slash \"quote\"\nnewline"));
    assert_text(r, "# HELP samsa_odd_total A \\\\ help\\nline \"quoted\".\n"
                   "# TYPE samsa_odd_total counter\n"
                   "samsa_odd_total{name=\"back\\\\slash \\\"quote\\\"\\nnewline\"} 1\n");
    metrics_registry_free(r);
}

static void test_histogram_buckets(void) {
    metrics_registry_t *r = metrics_registry_new();
    static const double bounds[] = {0.5, 1, 2.5};
    metrics_family_t *f =
        metrics_family(r, METRICS_HISTOGRAM, "samsa_time_ms", "Time.", "request", bounds, 3, 0);
    metrics_histogram_t *h = metrics_family_histogram(f, "Fetch");
    /* le is "less than or equal": 1 lands in le="1", 2.5 in le="2.5" */
    metrics_histogram_observe(h, 0.25);
    metrics_histogram_observe(h, 1);
    metrics_histogram_observe(h, 2.5);
    metrics_histogram_observe(h, 100);
    metrics_histogram_t *u = metrics_histogram(r, "samsa_flush_ms", "Flush.", bounds, 3);
    assert_text(r, "# HELP samsa_time_ms Time.\n"
                   "# TYPE samsa_time_ms histogram\n"
                   "samsa_time_ms_bucket{request=\"Fetch\",le=\"0.5\"} 1\n"
                   "samsa_time_ms_bucket{request=\"Fetch\",le=\"1\"} 2\n"
                   "samsa_time_ms_bucket{request=\"Fetch\",le=\"2.5\"} 3\n"
                   "samsa_time_ms_bucket{request=\"Fetch\",le=\"+Inf\"} 4\n"
                   "samsa_time_ms_sum{request=\"Fetch\"} 103.75\n"
                   "samsa_time_ms_count{request=\"Fetch\"} 4\n"
                   "# HELP samsa_flush_ms Flush.\n"
                   "# TYPE samsa_flush_ms histogram\n"
                   "samsa_flush_ms_bucket{le=\"0.5\"} 0\n"
                   "samsa_flush_ms_bucket{le=\"1\"} 0\n"
                   "samsa_flush_ms_bucket{le=\"2.5\"} 0\n"
                   "samsa_flush_ms_bucket{le=\"+Inf\"} 0\n"
                   "samsa_flush_ms_sum 0\n"
                   "samsa_flush_ms_count 0\n");
    CU_ASSERT_PTR_NOT_NULL(u);
    metrics_registry_free(r);
}

static double fixed_value(void *ctx) {
    return *(double *)ctx;
}

static void test_callback_gauge_and_floats(void) {
    metrics_registry_t *r = metrics_registry_new();
    metrics_gauge_t *g = metrics_gauge(r, "samsa_cb", "Read at scrape.");
    double v = 0.1;
    metrics_gauge_fn(r, g, fixed_value, &v);
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb 0.1\n");
    v = NAN;
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb NaN\n");
    v = 1e21;
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb 1e+21\n");
    v = 20000; /* Go's shortest 'g': plain digits below 1e6, e-notation from there */
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb 20000\n");
    v = 1234567;
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb 1.234567e+06\n");
    v = -0.00125;
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb -0.00125\n");
    v = 0.00001;
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb 1e-05\n");
    metrics_gauge_fn(r, g, NULL, NULL); /* back to its plain value */
    metrics_gauge_set(g, 5);
    assert_text(r, "# HELP samsa_cb Read at scrape.\n# TYPE samsa_cb gauge\nsamsa_cb 5\n");
    metrics_registry_free(r);
}

static void test_conflicting_registration_is_not_exposed(void) {
    metrics_registry_t *r = metrics_registry_new();
    metrics_counter_inc(metrics_counter(r, "samsa_x", "X."));
    metrics_gauge_t *g = metrics_gauge(r, "samsa_x", "X as a gauge.");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    metrics_gauge_set(g, 9);
    assert_text(r, "# HELP samsa_x_total X.\n# TYPE samsa_x_total counter\nsamsa_x_total 1\n");
    metrics_registry_free(r);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"counter and gauge", test_counter_and_gauge},
        {"labels and the sum series", test_labels_and_sum_series},
        {"escaping", test_escaping},
        {"histogram buckets", test_histogram_buckets},
        {"callback gauge and floats", test_callback_gauge_and_floats},
        {"conflicting registration", test_conflicting_registration_is_not_exposed},
        {NULL, NULL},
    };
    unit_add_suite("metrics", tests);
}
