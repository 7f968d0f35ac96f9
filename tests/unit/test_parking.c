/* parking.h: the parked set's bounds (oldest out, by count and by bytes),
 * its copies and its lookups. What the node parks and when is test_mempool's. */
#include <criterion/criterion.h>
#include <string.h>

#include "parking.h"

static hash32_t id_of(uint32_t i)
{
    hash32_t id = {{0}};
    memcpy(id.b, &i, sizeof i);
    return id;
}

Test(parking, a_copy_is_kept_and_found_and_removed)
{
    parking_t p;
    parking_init(&p);
    static hash32_t pushed[PARKING_MAX_COUNT];
    size_t k;
    uint8_t raw[3] = {1, 2, 3};
    hash32_t a = id_of(7);
    cr_assert_eq(parking_add(&p, &a, raw, sizeof raw, 0x5, 99, pushed, &k), 0);
    raw[0] = 0xff; /* the set holds its own copy */
    const parking_entry_t *x = parking_get(&p, &a);
    cr_assert_not_null(x);
    cr_assert(x->len == 3 && x->raw[0] == 1 && x->flags == 0x5 && x->arrival == 99);
    cr_assert_eq(parking_add(&p, &a, raw, sizeof raw, 0, 0, pushed, &k), 0, "a second add");
    cr_assert_eq(parking_count(&p), 1);
    cr_assert_eq(p.bytes, 3);
    parking_remove(&p, &a);
    parking_remove(&p, &a); /* absent: a no-op */
    cr_assert_null(parking_get(&p, &a));
    cr_assert_eq(p.bytes, 0);
    parking_free(&p);
}

/* Past PARKING_MAX_COUNT, or PARKING_MAX_BYTES, the oldest go first; one
 * encoding over the bytes bound is refused. */
Test(parking, the_set_is_bounded_oldest_out)
{
    parking_t p;
    parking_init(&p);
    static hash32_t pushed[PARKING_MAX_COUNT];
    size_t k;
    uint8_t raw[64] = {0};
    for (uint32_t i = 0; i < PARKING_MAX_COUNT + 5; i++) {
        hash32_t id = {{0}};
        memcpy(id.b, &i, sizeof i);
        cr_assert_eq(parking_add(&p, &id, raw, sizeof raw, 0, i, pushed, &k), 0);
        cr_assert_eq(k, i < PARKING_MAX_COUNT ? 0u : 1u);
        if (k)
            cr_assert_eq(memcmp(pushed[0].b, &(uint32_t){i - PARKING_MAX_COUNT}, 4), 0,
                         "not the oldest out");
    }
    cr_assert_eq(parking_count(&p), PARKING_MAX_COUNT);
    static uint8_t big[PARKING_MAX_BYTES / 4 * 3];
    hash32_t b1 = {{0, 0, 0, 0, 0xb1}}, b2 = {{0, 0, 0, 0, 0xb2}}; /* no small one's id */
    cr_assert_eq(parking_add(&p, &b1, big, sizeof big, 0, 0, pushed, &k), 0);
    cr_assert_eq(parking_add(&p, &b2, big, sizeof big, 0, 0, pushed, &k), 0);
    cr_assert_leq(p.bytes, PARKING_MAX_BYTES);
    cr_assert_not_null(parking_get(&p, &b2));
    cr_assert_null(parking_get(&p, &b1), "the bytes bound kept the older big one");
    static uint8_t huge[PARKING_MAX_BYTES + 1];
    hash32_t h = {{0, 0, 0, 0, 0xcc}};
    cr_assert_eq(parking_add(&p, &h, huge, sizeof huge, 0, 0, pushed, &k), -1);
    cr_assert_eq(k, 0, "a refused add pushed others out");
    cr_assert_not_null(parking_get(&p, &b2));
    parking_free(&p);
}
