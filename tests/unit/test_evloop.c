/* evloop: tasks run on the loop's thread in order, stopping runs what was
 * queued and refuses the rest, timers fire once per arm. Waits are
 * event-driven (a semaphore the loop posts), never timed guesses. */
#include "unit.h"

#include "net/evloop.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

typedef struct probe {
    evloop_t *loop;
    sem_t done;
    int order[64];
    int n;
    bool ran_in_loop;
} probe_t;

typedef struct step {
    probe_t *p;
    int value;
} step_t;

static void record_step(void *arg) {
    step_t *s = arg;
    s->p->order[s->p->n++] = s->value;
    s->p->ran_in_loop = evloop_in_loop(s->p->loop);
}

static void post_done(void *arg) {
    probe_t *p = arg;
    sem_post(&p->done);
}

static evloop_t *started_loop(void) {
    char err[128];
    evloop_t *l = evloop_new("test-loop", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL_FATAL(evloop_start(l, err, sizeof err), 0);
    return l;
}

static void test_tasks_in_order_on_loop_thread(void) {
    probe_t p = {0};
    sem_init(&p.done, 0, 0);
    p.loop = started_loop();
    step_t steps[20];
    for (int i = 0; i < 20; i++) {
        steps[i] = (step_t){&p, i};
        CU_ASSERT_EQUAL(evloop_run(p.loop, record_step, &steps[i]), 0);
    }
    CU_ASSERT_EQUAL(evloop_post(p.loop, post_done, &p), 0);
    sem_wait(&p.done);
    CU_ASSERT_EQUAL(p.n, 20);
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(p.order[i], i);
    CU_ASSERT_TRUE(p.ran_in_loop);
    CU_ASSERT_FALSE(evloop_in_loop(p.loop));
    evloop_free(p.loop);
    sem_destroy(&p.done);
}

/* A task queued from a task runs too (after the current batch). */
static void requeue_step(void *arg) {
    step_t *s = arg;
    record_step(s);
    if (s->value < 5) {
        s->value++;
        evloop_run(s->p->loop, requeue_step, s);
    } else {
        sem_post(&s->p->done);
    }
}

static void test_task_queues_task(void) {
    probe_t p = {0};
    sem_init(&p.done, 0, 0);
    p.loop = started_loop();
    step_t s = {&p, 0};
    evloop_run(p.loop, requeue_step, &s);
    sem_wait(&p.done);
    CU_ASSERT_EQUAL(p.n, 6);
    CU_ASSERT_EQUAL(p.order[5], 5);
    evloop_free(p.loop);
    sem_destroy(&p.done);
}

static void test_stop_runs_queued_then_refuses(void) {
    probe_t p = {0};
    p.loop = started_loop();
    step_t steps[10];
    for (int i = 0; i < 10; i++) {
        steps[i] = (step_t){&p, i};
        evloop_run(p.loop, record_step, &steps[i]);
    }
    evloop_stop(p.loop);
    CU_ASSERT_EQUAL(p.n, 10);
    step_t late = {&p, 99};
    CU_ASSERT_EQUAL(evloop_run(p.loop, record_step, &late), -1);
    evloop_stop(p.loop); /* idempotent */
    CU_ASSERT_EQUAL(p.n, 10);
    evloop_free(p.loop);
}

static void test_never_started_loop_frees(void) {
    char err[128];
    evloop_t *l = evloop_new("idle", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    step_t s = {NULL, 0};
    CU_ASSERT_EQUAL(evloop_run(l, record_step, &s), 0); /* queued, dropped at free */
    evloop_free(l);
    l = evloop_new("twice", err, sizeof err);
    CU_ASSERT_EQUAL(evloop_start(l, err, sizeof err), 0);
    CU_ASSERT_EQUAL(evloop_start(l, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "already started"));
    evloop_free(l);
}

/* run_sync returns after the task ran on the loop; from the loop itself it
 * runs inline; on a stopped loop it refuses. */
static void sync_inner(void *arg) {
    probe_t *p = arg;
    p->order[p->n++] = evloop_in_loop(p->loop) ? 2 : -2;
}

static void sync_outer(void *arg) {
    probe_t *p = arg;
    p->order[p->n++] = 1;
    CU_ASSERT_EQUAL(evloop_run_sync(p->loop, sync_inner, p), 0); /* inline: no deadlock */
    p->order[p->n++] = 3;
}

static void test_run_sync(void) {
    probe_t p = {0};
    p.loop = started_loop();
    CU_ASSERT_EQUAL(evloop_run_sync(p.loop, sync_outer, &p), 0);
    CU_ASSERT_EQUAL(p.n, 3); /* all of it ran before run_sync returned */
    CU_ASSERT_EQUAL(p.order[0], 1);
    CU_ASSERT_EQUAL(p.order[1], 2);
    CU_ASSERT_EQUAL(p.order[2], 3);
    evloop_stop(p.loop);
    CU_ASSERT_EQUAL(evloop_run_sync(p.loop, sync_inner, &p), -1);
    CU_ASSERT_EQUAL(p.n, 3);
    evloop_free(p.loop);
}

/* --- timers ------------------------------------------------------------------- */

typedef struct timer_probe {
    probe_t *p;
    evloop_timer_t *timer;
    evloop_timer_t *never;
    int fired;
} timer_probe_t;

static void on_timer(void *arg) {
    timer_probe_t *tp = arg;
    tp->fired++;
    CU_ASSERT_FALSE(evloop_timer_armed(tp->timer));
    if (tp->fired < 3)
        evloop_timer_arm(tp->timer, 1); /* re-arm from its own callback */
    else
        sem_post(&tp->p->done);
}

static void on_never(void *arg) {
    timer_probe_t *tp = arg;
    tp->fired += 100;
}

static void arm_timers(void *arg) {
    timer_probe_t *tp = arg;
    tp->timer = evloop_timer_new(tp->p->loop, on_timer, tp);
    tp->never = evloop_timer_new(tp->p->loop, on_never, tp);
    evloop_timer_arm(tp->never, 1);
    CU_ASSERT_TRUE(evloop_timer_armed(tp->never));
    evloop_timer_cancel(tp->never);
    CU_ASSERT_FALSE(evloop_timer_armed(tp->never));
    evloop_timer_arm(tp->timer, 0);
}

static void free_timers(void *arg) {
    timer_probe_t *tp = arg;
    evloop_timer_arm(tp->never, 60000); /* pending at free: never called */
    evloop_timer_free(tp->timer);
    evloop_timer_free(tp->never);
    sem_post(&tp->p->done);
}

static void test_timers(void) {
    probe_t p = {0};
    sem_init(&p.done, 0, 0);
    p.loop = started_loop();
    timer_probe_t tp = {&p, NULL, NULL, 0};
    evloop_run(p.loop, arm_timers, &tp);
    sem_wait(&p.done);
    CU_ASSERT_EQUAL(tp.fired, 3);
    evloop_run(p.loop, free_timers, &tp);
    sem_wait(&p.done);
    evloop_free(p.loop);
    CU_ASSERT_EQUAL(tp.fired, 3);
    sem_destroy(&p.done);
}

/* --- many producers ---------------------------------------------------------- */

typedef struct counter {
    evloop_t *loop;
    int count; /* touched on the loop thread only */
    sem_t done;
} counter_t;

static void count_one(void *arg) {
    counter_t *c = arg;
    if (++c->count == 4 * 10000)
        sem_post(&c->done);
}

static void *producer(void *arg) {
    counter_t *c = arg;
    for (int i = 0; i < 10000; i++)
        evloop_run(c->loop, count_one, c);
    return NULL;
}

static void test_concurrent_posters(void) {
    counter_t c = {started_loop(), 0, {{0}}};
    sem_init(&c.done, 0, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, producer, &c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    sem_wait(&c.done);
    evloop_free(c.loop);
    CU_ASSERT_EQUAL(c.count, 40000);
    sem_destroy(&c.done);
}

void unit_register(void) {
    static const unit_test_t tests[] = {
        {"tasks run in order on the loop thread", test_tasks_in_order_on_loop_thread},
        {"a task may queue another", test_task_queues_task},
        {"stop runs what was queued, then refuses", test_stop_runs_queued_then_refuses},
        {"a loop never started frees; start twice fails", test_never_started_loop_frees},
        {"run_sync waits for the task; inline on the loop", test_run_sync},
        {"timers fire once per arm, cancel, free pending", test_timers},
        {"four threads post 40,000 tasks", test_concurrent_posters},
        {NULL, NULL},
    };
    unit_add_suite("evloop", tests);
}
