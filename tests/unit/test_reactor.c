/* reactor.h: timers fire in deadline order (ties in the order added), each at
 * most once a pass; descriptors and ZeroMQ sockets call back when readable;
 * a registration removed during a callback is never called again; the
 * tables are bounded; the loop stops. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "reactor.h"

/* What the callbacks saw, in order. */
typedef struct {
    char fired[64];
    size_t n;
} trace_t;

typedef struct {
    trace_t *trace;
    char name;
    reactor_t *r;
    int id, other; /* its own registration; one it may remove */
    int fd;
    void *sock;
    int count;
} probe_t;

static void note(probe_t *p)
{
    if (p->trace->n < sizeof p->trace->fired)
        p->trace->fired[p->trace->n++] = p->name;
    p->count++;
}

static void on_fire(void *arg) { note(arg); }

static void run_passes(reactor_t *r, int passes, long wait)
{
    err_t e;
    for (int i = 0; i < passes; i++)
        cr_assert_eq(reactor_once(r, wait, &e), 0, "%s", e.message);
}

/* Passes (waiting at most 10 ms each) until trace holds n firings. */
static void run_until(reactor_t *r, const trace_t *t, size_t n)
{
    uint64_t until = clock_ms() + 5000;
    while (t->n < n && clock_ms() < until)
        run_passes(r, 1, 10);
    cr_assert_geq(t->n, n, "only %zu of %zu callbacks within 5 s", t->n, n);
}

Test(reactor, timers_fire_by_deadline_ties_in_the_order_added)
{
    reactor_t *r = reactor_new(0, 8);
    trace_t t = {0};
    struct { char name; uint64_t delay; } plan[] = {{'a', 40}, {'b', 15}, {'c', 15}, {'d', 0},
                                                   {'e', 25}};
    probe_t p[5];
    for (size_t i = 0; i < 5; i++) {
        p[i] = (probe_t){.trace = &t, .name = plan[i].name};
        cr_assert_geq(reactor_timer(r, plan[i].delay, 0, on_fire, &p[i]), 0);
    }
    run_until(r, &t, 5);
    cr_assert_eq(memcmp(t.fired, "dbcea", 5), 0, "fired %.5s", t.fired);
    run_passes(r, 3, 0);
    cr_assert_eq(t.n, 5, "a one-shot timer fired twice");
    reactor_destroy(&r);
    cr_assert_null(r);
}

static void fire_and_cancel_at_three(void *arg)
{
    probe_t *p = arg;
    note(p);
    if (p->count == 3)
        reactor_timer_cancel(p->r, p->id);
}

Test(reactor, a_repeating_timer_repeats_until_cancelled_from_its_callback)
{
    reactor_t *r = reactor_new(0, 2);
    trace_t t = {0};
    probe_t p = {.trace = &t, .name = 'r', .r = r};
    p.id = reactor_timer(r, 0, 5, fire_and_cancel_at_three, &p);
    uint64_t start = clock_ms();
    run_until(r, &t, 3);
    cr_assert_geq(clock_ms() - start, 10, "three firings 5 ms apart took under 10 ms");
    run_passes(r, 4, 10);
    cr_assert_eq(p.count, 3, "the timer outlived its cancel");
    /* the stale id is a no-op, and the slot's next timer has another id */
    reactor_timer_cancel(r, p.id);
    probe_t q = {.trace = &t, .name = 'q'};
    int id = reactor_timer(r, 0, 0, on_fire, &q);
    cr_assert_neq(id, p.id);
    reactor_timer_cancel(r, p.id);
    run_passes(r, 1, 0);
    cr_assert_eq(q.count, 1, "a stale id cancelled the slot's new timer");
    reactor_destroy(&r);
}

static void add_another(void *arg)
{
    probe_t *p = arg;
    note(p);
    /* due at once, yet not in this pass: a pass must end */
    cr_assert_geq(reactor_timer(p->r, 0, 0, add_another, p), 0);
    reactor_timer_sooner(p->r, p->other, 0);
}

Test(reactor, each_timer_fires_at_most_once_a_pass)
{
    reactor_t *r = reactor_new(0, 4);
    trace_t t = {0};
    probe_t chain = {.trace = &t, .name = 'c', .r = r};
    probe_t rep = {.trace = &t, .name = 'r'};
    chain.other = reactor_timer(r, 0, 1, on_fire, &rep);
    cr_assert_geq(reactor_timer(r, 0, 0, add_another, &chain), 0);
    for (int pass = 1; pass <= 5; pass++) {
        run_passes(r, 1, 0);
        cr_assert_eq(chain.count, pass, "pass %d: %d timers of the chain fired", pass,
                     chain.count);
        cr_assert_leq(rep.count, pass, "the repeating timer fired twice in a pass");
    }
    reactor_destroy(&r);
}

Test(reactor, sooner_brings_a_timer_forward_never_back)
{
    reactor_t *r = reactor_new(0, 2);
    trace_t t = {0};
    probe_t late = {.trace = &t, .name = 'l'}, soon = {.trace = &t, .name = 's'};
    int a = reactor_timer(r, 60000, 60000, on_fire, &late);
    int b = reactor_timer(r, 0, 0, on_fire, &soon);
    reactor_timer_sooner(r, b, 60000);
    run_passes(r, 1, 0);
    cr_assert_eq(soon.count, 1, "sooner delayed a timer");
    reactor_timer_sooner(r, a, 0);
    run_passes(r, 1, 0);
    cr_assert_eq(late.count, 1, "sooner did not bring the timer forward");
    reactor_destroy(&r);
}

/* --- readiness ------------------------------------------------------------------ */

static void read_fd(void *arg)
{
    probe_t *p = arg;
    char c;
    cr_assert_eq(read(p->fd, &c, 1), 1);
    note(p);
}

static void read_sock(void *arg)
{
    probe_t *p = arg;
    char buf[8];
    cr_assert_geq(zmq_recv(p->sock, buf, sizeof buf, ZMQ_DONTWAIT), 0);
    note(p);
}

/* A source of readiness: make it readable once, or register it. */
typedef struct {
    const char *what;
    int fds[2];
    void *zctx, *in, *out;
} source_t;

static void source_open(source_t *s, bool zmq)
{
    memset(s, 0, sizeof *s);
    s->what = zmq ? "a ZeroMQ socket" : "a descriptor";
    if (!zmq) {
        cr_assert_eq(pipe(s->fds), 0);
        return;
    }
    static int n;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://reactor-test-%d", n++);
    s->zctx = zmq_ctx_new();
    s->in = zmq_socket(s->zctx, ZMQ_PAIR);
    s->out = zmq_socket(s->zctx, ZMQ_PAIR);
    cr_assert_eq(zmq_bind(s->in, ep), 0);
    cr_assert_eq(zmq_connect(s->out, ep), 0);
}

static void source_poke(source_t *s)
{
    if (s->in)
        cr_assert_eq(zmq_send(s->out, "x", 1, 0), 1);
    else
        cr_assert_eq(write(s->fds[1], "x", 1), 1);
}

static int source_add(source_t *s, reactor_t *r, probe_t *p)
{
    p->fd = s->fds[0];
    p->sock = s->in;
    return s->in ? reactor_add_socket(r, s->in, read_sock, p)
                 : reactor_add_fd(r, s->fds[0], read_fd, p);
}

static void source_close(source_t *s)
{
    if (s->in) {
        zmq_close(s->in);
        zmq_close(s->out);
        zmq_ctx_term(s->zctx);
    } else {
        close(s->fds[0]);
        close(s->fds[1]);
    }
}

Test(reactor, descriptors_and_sockets_call_back_when_readable)
{
    for (int zmq = 0; zmq < 2; zmq++) {
        source_t s;
        source_open(&s, zmq);
        reactor_t *r = reactor_new(1, 0);
        trace_t t = {0};
        probe_t p = {.trace = &t, .name = 'x'};
        int id = source_add(&s, r, &p);
        cr_assert_geq(id, 0);
        run_passes(r, 1, 0);
        cr_assert_eq(p.count, 0, "%s called back before it was readable", s.what);
        source_poke(&s);
        run_until(r, &t, 1);
        run_passes(r, 1, 0);
        cr_assert_eq(p.count, 1, "%s called back with nothing to read", s.what);
        reactor_remove(r, id);
        source_poke(&s);
        run_passes(r, 2, 20);
        cr_assert_eq(p.count, 1, "%s called back after its removal", s.what);
        reactor_destroy(&r);
        source_close(&s);
    }
}

static void read_and_remove_other(void *arg)
{
    probe_t *p = arg;
    read_fd(p);
    reactor_remove(p->r, p->other);
}

static void read_and_remove_self(void *arg)
{
    probe_t *p = arg;
    read_fd(p);
    reactor_remove(p->r, p->id);
}

Test(reactor, removal_during_a_callback)
{
    source_t a, b;
    source_open(&a, false);
    source_open(&b, false);
    reactor_t *r = reactor_new(2, 0);
    trace_t t = {0};
    probe_t pa = {.trace = &t, .name = 'a', .r = r}, pb = {.trace = &t, .name = 'b', .r = r};
    pa.fd = a.fds[0];
    pb.fd = b.fds[0];
    pa.id = reactor_add_fd(r, pa.fd, read_and_remove_other, &pa);
    pb.id = reactor_add_fd(r, pb.fd, read_and_remove_other, &pb);
    pa.other = pb.id;
    pb.other = pa.id;
    /* both readable in one pass: whichever runs first removes the other */
    source_poke(&a);
    source_poke(&b);
    run_passes(r, 1, 1000);
    cr_assert_eq(t.n, 1, "both ran though the first removed the second");
    /* a callback that removes itself runs once, and its slot serves again */
    probe_t *left = pa.count ? &pa : &pb;
    source_t *src = pa.count ? &a : &b;
    reactor_remove(r, left->id);
    left->id = reactor_add_fd(r, left->fd, read_and_remove_self, left);
    source_poke(src);
    source_poke(src);
    run_passes(r, 3, 20);
    cr_assert_eq(left->count, 2, "a self-removed callback ran again");
    reactor_destroy(&r);
    source_close(&a);
    source_close(&b);
}

Test(reactor, bounded_tables)
{
    cr_assert_null(reactor_new(REACTOR_MAX + 1, 1));
    cr_assert_null(reactor_new(1, REACTOR_MAX + 1));
    reactor_t *r = reactor_new(2, 2);
    probe_t p = {0};
    int io[2], tm[2];
    for (int i = 0; i < 2; i++) {
        io[i] = reactor_add_fd(r, 0, on_fire, &p);
        tm[i] = reactor_timer(r, 1000, 0, on_fire, &p);
        cr_assert(io[i] >= 0 && tm[i] >= 0);
    }
    cr_assert_eq(reactor_add_socket(r, NULL, on_fire, &p), -1, "a registration past the bound");
    cr_assert_eq(reactor_timer(r, 0, 0, on_fire, &p), -1, "a timer past the bound");
    reactor_remove(r, io[0]);
    reactor_timer_cancel(r, tm[1]);
    cr_assert_geq(reactor_add_fd(r, 0, on_fire, &p), 0, "a freed registration slot stayed taken");
    cr_assert_geq(reactor_timer(r, 0, 0, on_fire, &p), 0, "a freed timer slot stayed taken");
    /* ids that never were, or are gone, are no-ops */
    reactor_remove(r, -1);
    reactor_remove(r, 0x7fffffff);
    reactor_timer_cancel(r, -1);
    reactor_timer_sooner(r, 12345, 0);
    reactor_destroy(&r);
}

/* --- the loop ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_flag;

static void set_stop(void *arg)
{
    note(arg);
    stop_flag = 1;
}

static void call_stop(void *arg)
{
    probe_t *p = arg;
    note(p);
    reactor_stop(p->r);
}

static void count_pass(void *arg) { ((probe_t *)arg)->count++; }

Test(reactor, runs_until_stopped_or_idle)
{
    reactor_t *r = reactor_new(1, 2);
    trace_t t = {0};
    probe_t p = {.trace = &t, .name = 's', .r = r}, passes = {0};
    err_t e;
    reactor_on_pass(r, count_pass, &passes, 0);
    cr_assert_geq(reactor_timer(r, 10, 0, set_stop, &p), 0);
    cr_assert_geq(reactor_timer(r, 60000, 0, on_fire, &p), 0);
    cr_assert_eq(reactor_run(r, &stop_flag, &e), 0, "%s", e.message);
    cr_assert_eq(p.count, 1);
    cr_assert_geq(passes.count, 1, "the pass hook never ran");
    stop_flag = 0;
    cr_assert_geq(reactor_timer(r, 0, 0, call_stop, &p), 0);
    cr_assert_eq(reactor_run(r, &stop_flag, &e), 0, "%s", e.message);
    cr_assert_eq(p.count, 2, "reactor_stop() did not end the loop");
    /* with nothing that could wake it, the loop returns at once */
    reactor_t *idle = reactor_new(1, 1);
    cr_assert_eq(reactor_run(idle, NULL, &e), 0);
    reactor_destroy(&idle);
    reactor_destroy(&r);
}

Test(reactor, a_failing_poll_is_reported)
{
    /* the context shut down under a registered socket: the poll fails, the
     * loop says why */
    source_t s;
    source_open(&s, true);
    reactor_t *r = reactor_new(1, 0);
    trace_t t = {0};
    probe_t p = {.trace = &t};
    cr_assert_geq(source_add(&s, r, &p), 0);
    zmq_ctx_shutdown(s.zctx);
    err_t e;
    cr_assert_eq(reactor_once(r, 0, &e), -(int)ERR_INTERNAL);
    cr_assert_not_null(strstr(e.message, "zmq_poll"), "%s", e.message);
    cr_assert_eq(reactor_run(r, NULL, &e), -(int)ERR_INTERNAL);
    reactor_destroy(&r);
    source_close(&s);
}

static void count_to_three(void *arg)
{
    probe_t *p = arg;
    if (++p->count == 3)
        reactor_stop(p->r);
}

Test(reactor, a_pass_hook_with_a_period_wakes_the_loop)
{
    /* nothing registered: the hook alone keeps the loop passing, 10 ms apart */
    reactor_t *r = reactor_new(0, 0);
    probe_t p = {.r = r};
    err_t e;
    reactor_on_pass(r, count_to_three, &p, 10);
    uint64_t start = clock_ms();
    cr_assert_eq(reactor_run(r, NULL, &e), 0, "%s", e.message);
    cr_assert_eq(p.count, 3);
    cr_assert_geq(clock_ms() - start, 20, "three passes 10 ms apart took under 20 ms");
    /* without a period it waits for what is registered: here nothing */
    reactor_on_pass(r, count_to_three, &p, 0);
    cr_assert_eq(reactor_run(r, NULL, &e), 0);
    cr_assert_eq(p.count, 3, "a hook without a period woke an empty loop");
    reactor_destroy(&r);
}
