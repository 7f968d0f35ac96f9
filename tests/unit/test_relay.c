/* relay.h: the bounded known sets, announcing once and never back to the
 * sender, unique requests that expire and end with their peer, and the
 * bounded queues. */
#include <criterion/criterion.h>

#include "relay.h"
#include "sample.h"

Test(relay, known_set_is_bounded_and_keeps_the_newest)
{
    relay_set_t s;
    cr_assert_eq(relay_set_init(&s, 100), 0);
    for (uint64_t i = 0; i < 10000; i++) {
        hash32_t h = sample_hash(i, 9);
        cr_assert_geq(relay_set_add(&s, &h), 0);
        cr_assert_leq(relay_set_count(&s), 100, "the set passed its bound");
    }
    for (uint64_t i = 10000 - 50; i < 10000; i++) {
        hash32_t h = sample_hash(i, 9);
        cr_assert(relay_set_has(&s, &h), "a recent hash was forgotten");
    }
    hash32_t first = sample_hash(0, 9);
    cr_assert_not(relay_set_has(&s, &first));
    relay_set_free(&s);
}

Test(relay, announces_once_and_never_back)
{
    relay_t *r = relay_new(4);
    cr_assert_eq(relay_open(r, 1), 0);
    cr_assert_eq(relay_open(r, 2), 0);
    hash32_t h = sample_hash(1, 1), out[RELAY_INV_MAX];
    relay_learn(r, 2, &h); /* peer 2 sent it */
    cr_assert_eq(relay_announce(r, 1, RELAY_TX, &h), 1);
    cr_assert_eq(relay_announce(r, 1, RELAY_TX, &h), 0, "announced twice");
    cr_assert_eq(relay_announce(r, 2, RELAY_TX, &h), 0, "announced to the peer it came from");
    cr_assert_eq(relay_take_inv(r, 1, RELAY_TX, out), 1);
    cr_assert_eq(relay_announce(r, 1, RELAY_TX, &h), 0, "announced again after the flush");
    for (uint64_t i = 0; i < RELAY_INV_MAX; i++) {
        hash32_t x = sample_hash(i + 100, 1);
        cr_assert_eq(relay_announce(r, 1, RELAY_BLOCK, &x), 1);
    }
    hash32_t extra = sample_hash(99999, 1);
    cr_assert_eq(relay_announce(r, 1, RELAY_BLOCK, &extra), -1, "the queue passed its bound");
    cr_assert_eq(relay_take_inv(r, 1, RELAY_BLOCK, out), RELAY_INV_MAX);
    cr_assert_eq(relay_announce(r, 1, RELAY_BLOCK, &extra), 1);
    relay_destroy(&r);
}

Test(relay, requests_are_unique_expire_and_end_with_the_peer)
{
    relay_t *r = relay_new(4);
    cr_assert_eq(relay_open(r, 0), 0);
    cr_assert_eq(relay_open(r, 1), 0);
    hash32_t h = sample_hash(5, 5);
    cr_assert(relay_request(r, 0, RELAY_TX, &h, 0));
    cr_assert_not(relay_request(r, 1, RELAY_TX, &h, 0), "asked twice");
    cr_assert(relay_asked(r, 0, &h));
    cr_assert_not(relay_asked(r, 1, &h));
    cr_assert_not(relay_fulfil(r, 1, &h), "an answer from another peer counted as solicited");
    cr_assert(relay_fulfil(r, 0, &h));
    cr_assert(relay_request(r, 1, RELAY_TX, &h, 0));
    cr_assert_eq(relay_expire(r, RELAY_REQ_TIMEOUT_MS - 1), 0);
    cr_assert_eq(relay_expire(r, RELAY_REQ_TIMEOUT_MS), 1);
    cr_assert(relay_request(r, 1, RELAY_TX, &h, 0));
    relay_close(r, 1);
    cr_assert_not(relay_requested(r, &h), "a departed peer's request lingers");
    for (uint64_t i = 0; i < RELAY_REQ_MAX; i++) {
        hash32_t x = sample_hash(i, 6);
        cr_assert(relay_request(r, 0, RELAY_TX, &x, 0));
    }
    hash32_t more = sample_hash(0, 7);
    cr_assert_not(relay_request(r, 0, RELAY_TX, &more, 0), "the request table passed its bound");
    for (uint32_t i = 0; i < RELAY_SERVE_MAX; i++)
        cr_assert(relay_serve_push(r, 0, RELAY_BLOCK, &more));
    cr_assert_not(relay_serve_push(r, 0, RELAY_BLOCK, &more));
    relay_item_t item;
    cr_assert(relay_serve_pop(r, 0, &item));
    cr_assert_eq(item.kind, RELAY_BLOCK);
    relay_destroy(&r);
}
