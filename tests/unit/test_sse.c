/* sse.h in process: the text each event becomes, the suspend/resume
 * handshake, the cap on streams, the bounded queue that ends the stream of
 * a client that does not read, the keep-alive, and shutdown. The events are
 * built as node.c publishes them (proto_open_event). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "mp.h"
#include "proto.h"
#include "sse.h"

typedef struct {
    atomic_int suspends, resumes;
} io_count_t;

static void on_suspend(void *ctx) { atomic_fetch_add(&((io_count_t *)ctx)->suspends, 1); }
static void on_resume(void *ctx) { atomic_fetch_add(&((io_count_t *)ctx)->resumes, 1); }

static sse_client_t *join(sse_t *h, io_count_t *n)
{
    sse_io_t io = {on_suspend, on_resume, n};
    sse_client_t *c;
    err_t e;
    cr_assert_eq(sse_join(h, &io, &c, &e), 0, "%s", e.message);
    return c;
}

/* Everything queued for c, as a string (its hello comment skipped). */
static void drain(sse_client_t *c, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = sse_read(c, out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    static const char hello[] = ": chaind events\n\n";
    if (strncmp(out, hello, sizeof hello - 1) == 0)
        memmove(out, out + sizeof hello - 1, n - (sizeof hello - 1) + 1);
}

static void publish_block(sse_t *h, uint64_t seq, uint8_t fill, uint64_t height)
{
    mp_buf_t b;
    mp_buf_init(&b, 1024);
    uint8_t hash[32];
    memset(hash, fill, 32);
    proto_open_event(&b, PROTO_TOPIC_BLOCK, seq);
    mp_put_cstr(&b, "hash");
    mp_put_bin(&b, hash, 32);
    mp_put_cstr(&b, "height");
    mp_put_uint(&b, height);
    mp_put_cstr(&b, "origin");
    mp_put_cstr(&b, "miner");
    cr_assert(mp_buf_ok(&b));
    sse_publish(h, "block", b.data, b.len);
    mp_buf_free(&b);
}

static void publish_tx(sse_t *h, uint64_t seq, uint8_t fill)
{
    mp_buf_t b;
    mp_buf_init(&b, 1024);
    uint8_t txid[32];
    memset(txid, fill, 32);
    proto_open_event(&b, PROTO_TOPIC_TX, seq);
    mp_put_cstr(&b, "txid");
    mp_put_bin(&b, txid, 32);
    mp_put_cstr(&b, "origin");
    mp_put_cstr(&b, "http");
    cr_assert(mp_buf_ok(&b));
    sse_publish(h, "tx", b.data, b.len);
    mp_buf_free(&b);
}

static sse_t *hub(size_t max, unsigned keepalive_ms)
{
    sse_t *h;
    err_t e;
    cr_assert_eq(sse_new(&h, max, keepalive_ms, &e), 0, "%s", e.message);
    return h;
}

Test(sse, events_become_their_text_and_wake_a_waiting_client)
{
    sse_t *h = hub(4, 60000);
    io_count_t n = {0};
    sse_client_t *c = join(h, &n);
    char text[1024];
    drain(c, text, sizeof text);
    cr_assert_str_eq(text, "");
    cr_assert_eq(n.suspends, 1, "an empty queue suspends the reader");
    cr_assert_eq(n.resumes, 0);
    publish_block(h, 0, 0xab, 42);
    cr_assert_eq(n.resumes, 1, "an event resumes a suspended reader");
    publish_tx(h, 0, 0x01);
    cr_assert_eq(n.resumes, 1, "no second resume before the reader asks again");
    drain(c, text, sizeof text);
    char want[512], ab[65], one[65];
    memset(ab, 'a', 64);
    for (int i = 0; i < 64; i += 2)
        ab[i + 1] = 'b';
    ab[64] = '\0';
    hex_encode(one, (uint8_t[32]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 32);
    snprintf(want, sizeof want,
             "event: block\ndata: {\"hash\":\"%s\",\"height\":42}\n\n"
             "event: tx\ndata: {\"txid\":\"%s\"}\n\n", ab, one);
    cr_assert_str_eq(text, want);
    cr_assert_eq(n.suspends, 2);
    sse_leave(&c);
    cr_assert_null(c);
    sse_destroy(&h);
    cr_assert_null(h);
}

Test(sse, other_topics_and_malformed_bodies_are_not_streamed)
{
    sse_t *h = hub(4, 60000);
    io_count_t n = {0};
    sse_client_t *c = join(h, &n);
    char text[1024];
    drain(c, text, sizeof text);
    mp_buf_t b;
    mp_buf_init(&b, 1024);
    proto_open_event(&b, PROTO_TOPIC_PEER_ADD, 0);
    mp_put_cstr(&b, "hostname");
    mp_put_cstr(&b, "h:1");
    sse_publish(h, "peer.add", b.data, b.len);
    sse_publish(h, "block", b.data, b.len); /* a block topic whose body is not a block's */
    sse_publish(h, "tx", (const uint8_t *)"\xc1", 1);
    mp_buf_free(&b);
    cr_assert_eq(n.resumes, 0);
    drain(c, text, sizeof text);
    cr_assert_str_eq(text, "");
    sse_leave(&c);
    sse_destroy(&h);
}

Test(sse, streams_are_capped)
{
    sse_t *h = hub(2, 60000);
    io_count_t n = {0};
    sse_client_t *a = join(h, &n), *b = join(h, &n), *c = NULL;
    cr_assert_eq(sse_count(h), 2);
    sse_io_t io = {on_suspend, on_resume, &n};
    err_t e;
    cr_assert_eq(sse_join(h, &io, &c, &e), -(int)ERR_UNAVAILABLE);
    cr_assert_eq(e.code, ERR_UNAVAILABLE);
    cr_assert_null(c);
    sse_leave(&a);
    c = join(h, &n); /* a slot freed */
    cr_assert_eq(sse_count(h), 2);
    sse_leave(&b);
    sse_leave(&c);
    cr_assert_eq(sse_count(h), 0);
    sse_destroy(&h);
}

Test(sse, a_client_that_does_not_read_loses_its_stream)
{
    sse_t *h = hub(4, 60000);
    io_count_t slow = {0}, fast = {0};
    sse_client_t *s = join(h, &slow), *f = join(h, &fast);
    char text[SSE_QUEUE_BYTES + 1];
    drain(s, text, sizeof text); /* waiting */
    size_t events = 0;
    /* about 130 bytes an event: well past the queue */
    for (; events < 2 * SSE_QUEUE_BYTES / 100; events++) {
        publish_block(h, events, 0x22, events);
        if (events % 64 == 0)
            drain(f, text, sizeof text); /* this one reads */
    }
    cr_assert_eq(sse_read(s, text, sizeof text), -1, "the stream did not end");
    cr_assert_eq(sse_read(s, text, sizeof text), -1, "an ended stream stays ended");
    cr_assert_eq(slow.resumes, 1, "the end resumes a waiting reader");
    cr_assert_eq(sse_count(h), 1, "the lost stream still holds its slot");
    drain(f, text, sizeof text);
    cr_assert_gt(strlen(text), 0, "the reading client lost its events");
    cr_assert_eq(sse_read(f, text, sizeof text), 0, "the reading client's stream ended");
    sse_leave(&s);
    sse_leave(&f);
    sse_destroy(&h);
}

Test(sse, quiet_streams_get_a_keep_alive)
{
    sse_t *h = hub(4, 50);
    io_count_t n = {0};
    sse_client_t *c = join(h, &n);
    char text[1024];
    drain(c, text, sizeof text);
    for (int i = 0; i < 100 && n.resumes == 0; i++)
        nanosleep(&(struct timespec){0, 50 * 1000000}, NULL);
    cr_assert_gt(n.resumes, 0, "no keep-alive within 5 s");
    drain(c, text, sizeof text);
    cr_assert(strncmp(text, ": keep-alive\n\n", 14) == 0, "%s", text);
    sse_leave(&c);
    sse_destroy(&h);
}

Test(sse, shutdown_ends_every_stream_and_refuses_new_ones)
{
    sse_t *h = hub(4, 60000);
    io_count_t n = {0};
    sse_client_t *c = join(h, &n);
    char text[256];
    drain(c, text, sizeof text);
    sse_shutdown(h);
    cr_assert_eq(n.resumes, 1, "a waiting reader was not resumed for its end");
    cr_assert_eq(sse_read(c, text, sizeof text), -1);
    sse_io_t io = {on_suspend, on_resume, &n};
    sse_client_t *d = NULL;
    err_t e;
    cr_assert_eq(sse_join(h, &io, &d, &e), -(int)ERR_UNAVAILABLE);
    publish_tx(h, 0, 3); /* after shutdown: nothing, no crash */
    sse_shutdown(h);     /* twice */
    sse_leave(&c);
    sse_destroy(&h);
}
