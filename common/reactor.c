#include "reactor.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zmq.h>

#include "clock.h"

/* An id is a slot and that slot's generation: the generation moves on when
 * the slot is freed, so an id kept past its registration matches nothing. */
#define SLOT_BITS 16
#define GEN_MASK 0x7fff

typedef struct {
    void *sock; /* NULL for a plain descriptor */
    int fd;
    reactor_fn fn;
    void *arg;
    uint16_t gen;
    bool live;
} io_t;

typedef struct {
    uint64_t due_ms, interval_ms;
    uint64_t order; /* when it was added: breaks ties between equal deadlines */
    uint64_t pass;  /* the last pass it fired in */
    reactor_fn fn;
    void *arg;
    uint16_t gen;
    bool live;
} rtimer_t;

struct reactor {
    io_t *io;
    size_t max_io;
    rtimer_t *timers;
    size_t max_timers;
    /* the poll set, rebuilt from io before a wait when a registration changed */
    zmq_pollitem_t *items;
    uint32_t *item_slot;
    uint16_t *item_gen;
    size_t n_items;
    bool dirty, stopped;
    uint64_t next_order, pass;
    reactor_fn on_pass;
    void *on_pass_arg;
    uint64_t pass_every_ms;
};

reactor_t *reactor_new(size_t max_io, size_t max_timers)
{
    if (max_io > REACTOR_MAX || max_timers > REACTOR_MAX)
        return NULL;
    reactor_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max_io = max_io;
    r->max_timers = max_timers;
    r->io = calloc(max_io ? max_io : 1, sizeof *r->io);
    r->timers = calloc(max_timers ? max_timers : 1, sizeof *r->timers);
    r->items = calloc(max_io ? max_io : 1, sizeof *r->items);
    r->item_slot = calloc(max_io ? max_io : 1, sizeof *r->item_slot);
    r->item_gen = calloc(max_io ? max_io : 1, sizeof *r->item_gen);
    if (!r->io || !r->timers || !r->items || !r->item_slot || !r->item_gen)
        reactor_destroy(&r);
    return r;
}

void reactor_destroy(reactor_t **rp)
{
    reactor_t *r = *rp;
    if (!r)
        return;
    free(r->io);
    free(r->timers);
    free(r->items);
    free(r->item_slot);
    free(r->item_gen);
    free(r);
    *rp = NULL;
}

static int make_id(size_t slot, uint16_t gen) { return (int)((uint32_t)gen << SLOT_BITS | slot); }

static size_t id_slot(int id) { return (size_t)((uint32_t)id & ((1u << SLOT_BITS) - 1)); }

static uint16_t id_gen(int id) { return (uint16_t)((uint32_t)id >> SLOT_BITS); }

static int add_io(reactor_t *r, void *sock, int fd, reactor_fn fn, void *arg)
{
    for (size_t i = 0; i < r->max_io; i++) {
        io_t *io = &r->io[i];
        if (io->live)
            continue;
        io->sock = sock;
        io->fd = fd;
        io->fn = fn;
        io->arg = arg;
        io->live = true;
        r->dirty = true;
        return make_id(i, io->gen);
    }
    return -1;
}

int reactor_add_socket(reactor_t *r, void *sock, reactor_fn fn, void *arg)
{
    return add_io(r, sock, -1, fn, arg);
}

int reactor_add_fd(reactor_t *r, int fd, reactor_fn fn, void *arg)
{
    return add_io(r, NULL, fd, fn, arg);
}

void reactor_remove(reactor_t *r, int id)
{
    if (id < 0 || id_slot(id) >= r->max_io)
        return;
    io_t *io = &r->io[id_slot(id)];
    if (!io->live || io->gen != id_gen(id))
        return;
    io->live = false;
    io->gen = (uint16_t)((io->gen + 1) & GEN_MASK);
    r->dirty = true;
}

int reactor_timer(reactor_t *r, uint64_t delay_ms, uint64_t interval_ms, reactor_fn fn,
                  void *arg)
{
    for (size_t i = 0; i < r->max_timers; i++) {
        rtimer_t *t = &r->timers[i];
        if (t->live)
            continue;
        t->due_ms = clock_ms() + delay_ms;
        t->interval_ms = interval_ms;
        t->order = r->next_order++;
        t->pass = 0;
        t->fn = fn;
        t->arg = arg;
        t->live = true;
        return make_id(i, t->gen);
    }
    return -1;
}

static rtimer_t *timer_of(reactor_t *r, int id)
{
    if (id < 0 || id_slot(id) >= r->max_timers)
        return NULL;
    rtimer_t *t = &r->timers[id_slot(id)];
    return t->live && t->gen == id_gen(id) ? t : NULL;
}

static void free_timer(rtimer_t *t)
{
    t->live = false;
    t->gen = (uint16_t)((t->gen + 1) & GEN_MASK);
}

void reactor_timer_cancel(reactor_t *r, int id)
{
    rtimer_t *t = timer_of(r, id);
    if (t)
        free_timer(t);
}

void reactor_timer_sooner(reactor_t *r, int id, uint64_t delay_ms)
{
    rtimer_t *t = timer_of(r, id);
    uint64_t due = clock_ms() + delay_ms;
    if (t && due < t->due_ms)
        t->due_ms = due;
}

void reactor_on_pass(reactor_t *r, reactor_fn fn, void *arg, uint64_t every_ms)
{
    r->on_pass = fn;
    r->on_pass_arg = arg;
    r->pass_every_ms = fn ? every_ms : 0;
}

void reactor_stop(reactor_t *r) { r->stopped = true; }

static void rebuild(reactor_t *r)
{
    r->n_items = 0;
    for (size_t i = 0; i < r->max_io; i++) {
        const io_t *io = &r->io[i];
        if (!io->live)
            continue;
        r->items[r->n_items] = (zmq_pollitem_t){io->sock, io->fd, ZMQ_POLLIN, 0};
        r->item_slot[r->n_items] = (uint32_t)i;
        r->item_gen[r->n_items] = io->gen;
        r->n_items++;
    }
    r->dirty = false;
}

/* The wait until the earliest timer (0 when one is due), or -1 without timers. */
static long until_next_timer(const reactor_t *r, uint64_t now)
{
    long wait = -1;
    for (size_t i = 0; i < r->max_timers; i++) {
        const rtimer_t *t = &r->timers[i];
        if (!t->live)
            continue;
        long w = t->due_ms <= now ? 0 : (long)(t->due_ms - now);
        if (wait < 0 || w < wait)
            wait = w;
    }
    return wait;
}

/* The due timer with the earliest deadline (then the oldest) that has not
 * fired in this pass and existed when the pass's timers began. */
static rtimer_t *next_due(reactor_t *r, uint64_t now, uint64_t before_order)
{
    rtimer_t *best = NULL;
    for (size_t i = 0; i < r->max_timers; i++) {
        rtimer_t *t = &r->timers[i];
        if (!t->live || t->due_ms > now || t->pass == r->pass || t->order >= before_order)
            continue;
        if (!best || t->due_ms < best->due_ms ||
            (t->due_ms == best->due_ms && t->order < best->order))
            best = t;
    }
    return best;
}

static void fire_timers(reactor_t *r)
{
    uint64_t now = clock_ms(), before_order = r->next_order;
    rtimer_t *t;
    while ((t = next_due(r, now, before_order)) != NULL) {
        reactor_fn fn = t->fn;
        void *arg = t->arg;
        t->pass = r->pass;
        if (t->interval_ms)
            t->due_ms = now + t->interval_ms;
        else
            free_timer(t);
        fn(arg);
    }
}

static void dispatch_io(reactor_t *r)
{
    for (size_t k = 0; k < r->n_items; k++) {
        if (!(r->items[k].revents & ZMQ_POLLIN))
            continue;
        /* an earlier callback of this pass may have removed (or replaced) it */
        const io_t *io = &r->io[r->item_slot[k]];
        if (io->live && io->gen == r->item_gen[k])
            io->fn(io->arg);
    }
}

int reactor_once(reactor_t *r, long max_wait_ms, err_t *e)
{
    r->pass++;
    if (r->dirty)
        rebuild(r);
    long wait = until_next_timer(r, clock_ms());
    if (r->pass_every_ms && (wait < 0 || (uint64_t)wait > r->pass_every_ms))
        wait = (long)r->pass_every_ms;
    if (max_wait_ms >= 0 && (wait < 0 || max_wait_ms < wait))
        wait = max_wait_ms;
    int rc = 0;
    if (r->n_items > 0 || wait > 0)
        rc = zmq_poll(r->n_items ? r->items : NULL, (int)r->n_items, wait);
    if (rc < 0 && zmq_errno() != EINTR)
        return err_set(e, ERR_INTERNAL, "zmq_poll: %s", zmq_strerror(zmq_errno()));
    if (rc > 0)
        dispatch_io(r);
    fire_timers(r);
    if (r->on_pass)
        r->on_pass(r->on_pass_arg);
    return 0;
}

static bool anything_registered(const reactor_t *r)
{
    if (r->pass_every_ms)
        return true;
    for (size_t i = 0; i < r->max_io; i++)
        if (r->io[i].live)
            return true;
    for (size_t i = 0; i < r->max_timers; i++)
        if (r->timers[i].live)
            return true;
    return false;
}

int reactor_run(reactor_t *r, volatile sig_atomic_t *stop, err_t *e)
{
    r->stopped = false;
    while (!r->stopped && !(stop && *stop) && anything_registered(r)) {
        int rc = reactor_once(r, -1, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}
