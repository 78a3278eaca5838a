/* evloop: tasks run on the loop's thread in order, stopping runs what was
 * queued and refuses the rest, owned timers fire once per arm,
 * fire-and-forget timers fire once, or early when the loop ends. Waits are
 * event-driven (a semaphore the loop posts, or the join), never timed
 * guesses. */
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

/* --- fire-and-forget timers ------------------------------------------------------ */

typedef struct after_probe {
    probe_t *p;
    int fired[4];          /* calls per timer */
    bool in_loop[4];       /* each call ran on the loop thread */
    int order[8];          /* timer ids in firing order */
    int n;
    evloop_timer_t *other; /* cancelled by timer 0's callback */
    int late_fired;        /* timers added while the loop ended */
    int tasks_run;
} after_probe_t;

typedef struct after_arg {
    after_probe_t *ap;
    int id;
} after_arg_t;

static void after_record(after_arg_t *a) {
    after_probe_t *ap = a->ap;
    ap->fired[a->id]++;
    ap->in_loop[a->id] = evloop_in_loop(ap->p->loop);
    ap->order[ap->n++] = a->id;
}

static void after_post(void *arg) {
    after_arg_t *a = arg;
    after_record(a);
    sem_post(&a->ap->p->done);
}

static void after_never(void *arg) {
    after_arg_t *a = arg;
    a->ap->fired[a->id] += 100;
}

static void after_late(void *arg) {
    after_probe_t *ap = arg;
    ap->late_fired++;
}

static void after_task(void *arg) {
    after_probe_t *ap = arg;
    ap->tasks_run++;
}

/* Timer 1 is cancelled before it fires; timer 0 fires once and frees
 * itself (ASan would report a leak or a double free). */
static void add_fire_and_cancel(void *arg) {
    after_arg_t *a = arg; /* a[0] fires, a[1] is cancelled */
    evloop_timer_t *doomed = evloop_after(a[0].ap->p->loop, 1, after_never, &a[1]);
    evloop_after(a[0].ap->p->loop, 5, after_post, &a[0]);
    evloop_after_cancel(doomed);
    evloop_after_cancel(NULL); /* no-op */
}

static void test_after_fires_once_cancel(void) {
    probe_t p = {0};
    sem_init(&p.done, 0, 0);
    p.loop = started_loop();
    after_probe_t ap = {.p = &p};
    after_arg_t a[2] = {{&ap, 0}, {&ap, 1}};
    CU_ASSERT_EQUAL(evloop_run(p.loop, add_fire_and_cancel, a), 0);
    sem_wait(&p.done);
    evloop_free(p.loop);
    CU_ASSERT_EQUAL(ap.fired[0], 1);
    CU_ASSERT_TRUE(ap.in_loop[0]);
    CU_ASSERT_EQUAL(ap.fired[1], 0);
    sem_destroy(&p.done);
}

/* Pending when the loop ends: timer 0 fires early; its callback cancels
 * timer 2 (pending too: never called), adds a timer (freed uncalled) and
 * queues a task (runs: the queue is still open while timers fire). */
static void after_at_stop(void *arg) {
    after_arg_t *a = arg;
    after_probe_t *ap = a->ap;
    after_record(a);
    evloop_after_cancel(ap->other);
    evloop_after(ap->p->loop, 0, after_late, ap);
    CU_ASSERT_EQUAL(evloop_run(ap->p->loop, after_task, ap), 0);
}

typedef struct after_setup {
    after_arg_t a[3];
    bool break_loop; /* end the loop from its own thread */
} after_setup_t;

static void add_pending(void *arg) {
    after_setup_t *s = arg;
    evloop_t *l = s->a[0].ap->p->loop;
    evloop_after(l, 60000, after_at_stop, &s->a[0]); /* oldest: fires first */
    evloop_after(l, 30000, after_post, &s->a[1]);
    s->a[0].ap->other = evloop_after(l, 30000, after_never, &s->a[2]);
    if (s->break_loop)
        evloop_break(l);
}

static void check_ended(const after_probe_t *ap) {
    CU_ASSERT_EQUAL(ap->fired[0], 1);
    CU_ASSERT_EQUAL(ap->fired[1], 1);
    CU_ASSERT_EQUAL(ap->fired[2], 0);
    CU_ASSERT_TRUE(ap->in_loop[0]);
    CU_ASSERT_TRUE(ap->in_loop[1]);
    CU_ASSERT_EQUAL(ap->n, 2);
    CU_ASSERT_EQUAL(ap->order[0], 0);
    CU_ASSERT_EQUAL(ap->order[1], 1);
    CU_ASSERT_EQUAL(ap->late_fired, 0);
}

static void test_after_fires_early_at_stop(void) {
    probe_t p = {0};
    sem_init(&p.done, 0, 0);
    p.loop = started_loop();
    after_probe_t ap = {.p = &p};
    after_setup_t s = {{{&ap, 0}, {&ap, 1}, {&ap, 2}}, false};
    CU_ASSERT_EQUAL(evloop_run(p.loop, add_pending, &s), 0);
    evloop_stop(p.loop); /* returns after the ending: the timers fired */
    check_ended(&ap);
    CU_ASSERT_EQUAL(ap.tasks_run, 1);
    CU_ASSERT_EQUAL(evloop_run(p.loop, after_task, &ap), -1);
    evloop_free(p.loop); /* frees the timer added while ending */
    CU_ASSERT_EQUAL(ap.late_fired, 0);
    sem_destroy(&p.done);
}

static void wait_gate(void *arg) {
    sem_wait(arg);
}

/* A loop that ends itself (evloop_break, as net's loops do once drained):
 * tasks queued before the break and by the timers fired while ending run;
 * evloop_join waits for all of it; afterwards the queue refuses. The gate
 * holds the loop until everything is queued. */
static void test_loop_breaks_itself(void) {
    probe_t p = {0};
    sem_t gate;
    sem_init(&p.done, 0, 0);
    sem_init(&gate, 0, 0);
    p.loop = started_loop();
    after_probe_t ap = {.p = &p};
    after_setup_t s = {{{&ap, 0}, {&ap, 1}, {&ap, 2}}, true};
    CU_ASSERT_EQUAL(evloop_run(p.loop, wait_gate, &gate), 0);
    CU_ASSERT_EQUAL(evloop_run(p.loop, add_pending, &s), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(evloop_run(p.loop, after_task, &ap), 0); /* queued behind the break: run */
    sem_post(&gate);
    evloop_join(p.loop);
    check_ended(&ap);
    CU_ASSERT_EQUAL(ap.tasks_run, 4);
    CU_ASSERT_EQUAL(evloop_run(p.loop, after_task, &ap), -1);
    evloop_stop(p.loop); /* already ended: returns at once */
    evloop_free(p.loop);
    CU_ASSERT_EQUAL(ap.tasks_run, 4);
    sem_destroy(&gate);
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
        {"a fire-and-forget timer fires once; cancel frees it uncalled", test_after_fires_once_cancel},
        {"pending fire-and-forget timers fire early at stop, oldest first", test_after_fires_early_at_stop},
        {"a loop that breaks itself runs its timers and tasks; join waits", test_loop_breaks_itself},
        {"four threads post 40,000 tasks", test_concurrent_posters},
        {NULL, NULL},
    };
    unit_add_suite("evloop", tests);
}
