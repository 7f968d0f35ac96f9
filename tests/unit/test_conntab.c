/* conntab.h (the groups it counts: test_netgroup.c): at most per_group
 * connections of one address group, the newest over it refused; local
 * connections uncounted by group; a full table making room with its oldest
 * connection not yet ready, never a ready one; descriptors reused under a
 * new accept order, and a message from another address not taken for the
 * connection's; the table never past its bound. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "conntab.h"
#include "netgroup.h"

Test(conntab, one_group_holds_per_group_and_no_more)
{
    conntab_t t;
    cr_assert_eq(conntab_init(&t, 64, 8), 0);
    uint64_t seq;
    conntab_ref_t v;
    for (int fd = 10; fd < 18; fd++)
        cr_assert_eq(conntab_accept(&t, fd, "10.1.0.1", "v4:10.1", &seq, &v), CONNTAB_ADMIT,
                     "fd %d", fd);
    /* the ninth of the group is refused, and holds nothing */
    cr_assert_eq(conntab_accept(&t, 18, "10.1.0.1", "v4:10.1", &seq, &v), CONNTAB_REFUSE);
    cr_assert_eq(seq, 0);
    cr_assert_not(conntab_find(&t, 18, NULL, &seq));
    /* another group is welcome; so are local connections, uncounted */
    cr_assert_eq(conntab_accept(&t, 19, "10.2.0.1", "v4:10.2", &seq, &v), CONNTAB_ADMIT);
    for (int fd = 20; fd < 40; fd++)
        cr_assert_eq(conntab_accept(&t, fd, "", "", &seq, &v), CONNTAB_ADMIT);
    /* one of the group ends: the group has room again */
    conntab_ref_t gone;
    cr_assert(conntab_closed(&t, 12, &gone));
    cr_assert_eq(conntab_accept(&t, 18, "10.1.0.1", "v4:10.1", &seq, &v), CONNTAB_ADMIT);
    cr_assert_eq(t.st.refused, 1);
    conntab_free(&t);
}

Test(conntab, a_full_table_evicts_its_oldest_connection_not_ready)
{
    conntab_t t;
    cr_assert_eq(conntab_init(&t, 4, 8), 0);
    uint64_t seq[4], s;
    conntab_ref_t v;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(conntab_accept(&t, 10 + i, "", "", &seq[i], &v), CONNTAB_ADMIT);
    cr_assert(conntab_ready(&t, (conntab_ref_t){10, seq[0]}, true));
    cr_assert_not(conntab_ready(&t, (conntab_ref_t){11, seq[0]}, true), "a wrong seq marked ready");
    /* full: the oldest not ready (11) goes, not the ready 10 */
    cr_assert_eq(conntab_accept(&t, 20, "", "", &s, &v), CONNTAB_EVICT);
    cr_assert_eq(v.fd, 11);
    cr_assert_eq(v.seq, seq[1]);
    cr_assert_not(conntab_find(&t, 11, NULL, &s));
    cr_assert(conntab_find(&t, 10, NULL, &s) && s == seq[0]);
    /* all ready: the newcomer is refused */
    uint64_t sx;
    cr_assert(conntab_find(&t, 12, NULL, &sx));
    cr_assert(conntab_ready(&t, (conntab_ref_t){12, sx}, true));
    cr_assert(conntab_find(&t, 13, NULL, &sx));
    cr_assert(conntab_ready(&t, (conntab_ref_t){13, sx}, true));
    cr_assert(conntab_find(&t, 20, NULL, &sx));
    cr_assert(conntab_ready(&t, (conntab_ref_t){20, sx}, true));
    cr_assert_eq(conntab_accept(&t, 21, "", "", &s, &v), CONNTAB_REFUSE);
    cr_assert_eq(t.n, 4, "the table passed its bound");
    cr_assert_eq(t.st.evicted, 1);
    conntab_free(&t);
}

Test(conntab, a_reused_descriptor_is_a_new_connection)
{
    conntab_t t;
    cr_assert_eq(conntab_init(&t, 8, 8), 0);
    uint64_t a, b, s;
    conntab_ref_t v, gone;
    cr_assert_eq(conntab_accept(&t, 7, "", "", &a, &v), CONNTAB_ADMIT);
    cr_assert(conntab_closed(&t, 7, &gone));
    cr_assert_eq(gone.seq, a);
    cr_assert_not(conntab_closed(&t, 7, &gone), "an end reported twice");
    cr_assert_eq(conntab_accept(&t, 7, "", "", &b, &v), CONNTAB_ADMIT);
    cr_assert_gt(b, a);
    /* what was meant for the old connection does not touch the new one */
    cr_assert_not(conntab_remove(&t, (conntab_ref_t){7, a}));
    cr_assert_not(conntab_ready(&t, (conntab_ref_t){7, a}, true));
    cr_assert(conntab_find(&t, 7, NULL, &s) && s == b);
    cr_assert(conntab_remove(&t, (conntab_ref_t){7, b}));
    cr_assert_eq(t.n, 0);
    conntab_free(&t);
}

Test(conntab, a_flood_never_passes_the_bound)
{
    conntab_t t;
    cr_assert_eq(conntab_init(&t, 80, 8), 0);
    uint64_t s;
    conntab_ref_t v;
    char group[NETGROUP_MAX];
    for (int i = 0; i < 100000; i++) {
        snprintf(group, sizeof group, "v4:10.%d", i % 50);
        (void)conntab_accept(&t, 1000 + i, "", i % 3 ? group : "", &s, &v);
        cr_assert_leq(t.n, 80);
    }
    conntab_free(&t);
}

/* A message read after its connection ended names a descriptor that a later
 * connection may hold: from another address, it is not that connection's. */
Test(conntab, a_descriptor_with_another_address_is_another_connection)
{
    conntab_t t;
    cr_assert_eq(conntab_init(&t, 8, 8), 0);
    uint64_t seq, s;
    conntab_ref_t v;
    cr_assert_eq(conntab_accept(&t, 5, "10.1.2.3", "v4:10.1", &seq, &v), CONNTAB_ADMIT);
    cr_assert(conntab_find(&t, 5, "10.1.2.3", &s) && s == seq);
    cr_assert(conntab_find(&t, 5, "::ffff:10.1.2.3", &s), "the mapped form is the same address");
    cr_assert(conntab_find(&t, 5, NULL, &s));
    cr_assert_not(conntab_find(&t, 5, "10.1.2.4", &s), "another address took the connection");
    cr_assert_eq(conntab_accept(&t, 6, "2001:db8::1", "v6:2001:0db8", &seq, &v), CONNTAB_ADMIT);
    cr_assert(conntab_find(&t, 6, "2001:0db8:0:0::1", &s));
    cr_assert_not(conntab_find(&t, 6, "2001:db8::2", &s));
    conntab_free(&t);
}
