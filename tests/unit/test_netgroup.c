/* netgroup.h, table by table: which IPs are this machine's (loopback, the
 * unknown ""), the group of every other (an IPv4 /16, an IPv6 /32, text
 * that parses as neither its own group, cut to fit), and when two IPs in
 * text are one address (forms of one IPv6 address, an IPv4 address and its
 * mapped form, a zone ignored); malformed and oversized text never crashes
 * and never passes for an address. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netgroup.h"

#define N(a) (sizeof (a) / sizeof (a)[0])

Test(netgroup, address_groups)
{
    static const struct {
        const char *ip, *group; /* group NULL: local */
    } cases[] = {
        {"10.1.2.3", "v4:10.1"},        {"10.1.200.9", "v4:10.1"},
        {"10.2.2.3", "v4:10.2"},        {"2001:db8:1::5", "v6:2001:0db8"},
        {"2001:db8:ffff::1", "v6:2001:0db8"}, {"2001:db9::1", "v6:2001:0db9"},
        {"127.0.0.1", NULL},            {"127.8.9.10", NULL},
        {"::1", NULL},                  {"", NULL},
        {"not-an-ip", "ip:not-an-ip"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        cr_assert_eq(netgroup_local(cases[i].ip), cases[i].group == NULL, "%s", cases[i].ip);
        if (!cases[i].group)
            continue;
        char g[NETGROUP_MAX];
        netgroup_of(cases[i].ip, g);
        cr_assert_str_eq(g, cases[i].group, "%s", cases[i].ip);
    }
}

/* The edges of each family: the /16 and /32 boundaries, the first and last
 * addresses, loopback's whole /8 and nothing past it. */
Test(netgroup, the_bounds_of_each_group)
{
    static const struct {
        const char *ip, *group;
        bool local;
    } cases[] = {
        {"0.0.0.0", "v4:0.0", false},
        {"255.255.255.255", "v4:255.255", false},
        {"192.168.255.255", "v4:192.168", false},
        {"192.169.0.0", "v4:192.169", false},
        {"126.255.255.255", "v4:126.255", false},
        {"128.0.0.1", "v4:128.0", false},
        {"127.0.0.0", NULL, true},
        {"127.255.255.255", NULL, true},
        {"::", "v6:0000:0000", false},
        {"::2", "v6:0000:0000", false},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "v6:ffff:ffff", false},
        {"2001:db8::", "v6:2001:0db8", false},
        {"2001:0db8:0000::1", "v6:2001:0db8", false},
        {"2001:db7:ffff:ffff::1", "v6:2001:0db7", false},
        {"fe80::1", "v6:fe80:0000", false},
        {"0:0:0:0:0:0:0:1", NULL, true},
    };
    for (size_t i = 0; i < N(cases); i++) {
        cr_assert_eq(netgroup_local(cases[i].ip), cases[i].local, "%s", cases[i].ip);
        if (!cases[i].group)
            continue;
        char g[NETGROUP_MAX];
        netgroup_of(cases[i].ip, g);
        cr_assert_str_eq(g, cases[i].group, "%s", cases[i].ip);
    }
}

/* Text that is no IP: never local (only "" is unknown), its own group with
 * the "ip:" prefix, never past NETGROUP_MAX, never an address's group. */
Test(netgroup, malformed_text_is_its_own_group_cut_to_fit)
{
    static const char *cases[] = {
        "10.1.2",        "10.1.2.3.4",     "256.1.2.3",      "10.1.2.3 ",     " 10.1.2.3",
        "1.2.3.-4",      "::ffff:1.2.3",   "2001:db8:::1",   "2001:db8::1::2", "12345::1",
        "g::1",          "[2001:db8::1]",  "10.1.2.3:9333",  "localhost",     "127.0.0.1%lo",
        "::1%lo",        "0x7f.0.0.1",     "\xff\xfe",       "%",             ":",
    };
    for (size_t i = 0; i < N(cases); i++) {
        cr_assert_not(netgroup_local(cases[i]), "\"%s\" taken for local", cases[i]);
        char g[NETGROUP_MAX];
        netgroup_of(cases[i], g);
        char want[NETGROUP_MAX];
        snprintf(want, sizeof want, "ip:%s", cases[i]);
        cr_assert_str_eq(g, want, "\"%s\"", cases[i]);
    }
    /* a long text is cut so that its group, NUL included, fits NETGROUP_MAX */
    char long_ip[300], g[NETGROUP_MAX + 8];
    memset(long_ip, 'a', sizeof long_ip - 1);
    long_ip[sizeof long_ip - 1] = '\0';
    memset(g, 0x55, sizeof g);
    netgroup_of(long_ip, g);
    cr_assert_eq(strlen(g), NETGROUP_MAX - 1);
    cr_assert_eq(strncmp(g, "ip:aaa", 6), 0);
    for (size_t k = NETGROUP_MAX; k < sizeof g; k++)
        cr_assert_eq((uint8_t)g[k], 0x55, "netgroup_of wrote past NETGROUP_MAX");
    /* the longest IPv6 text still fits */
    netgroup_of("0000:0000:0000:0000:0000:ffff:255.255.255.255", g);
    cr_assert_str_eq(g, "v6:0000:0000");
}

Test(netgroup, one_address_in_several_forms_is_the_same_ip)
{
    static const struct {
        const char *a, *b;
        bool same;
    } cases[] = {
        {"10.1.2.3", "10.1.2.3", true},
        {"10.1.2.3", "10.1.2.4", false},
        {"10.1.2.3", "::ffff:10.1.2.3", true},   /* the mapped form */
        {"::ffff:10.1.2.3", "10.1.2.3", true},
        {"10.1.2.3", "::10.1.2.3", false},       /* the compatible form is another */
        {"2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", true},
        {"2001:db8::1", "2001:DB8::1", true},
        {"2001:db8::1", "2001:db8::2", false},
        {"fe80::1%eth0", "fe80::1", true},      /* a zone is not the address */
        {"fe80::1%eth0", "fe80::1%eth1", true},
        {"fe80::1%eth0", "fe80::2%eth0", false},
        {"::1", "127.0.0.1", false},
        {"", "", true},                         /* neither parses: the text decides */
        {"", "10.1.2.3", false},
        {"not-an-ip", "not-an-ip", true},
        {"not-an-ip", "not-an-IP", false},
        {"10.1.2.3 ", "10.1.2.3", false},
    };
    for (size_t i = 0; i < N(cases); i++) {
        cr_assert_eq(netgroup_same_ip(cases[i].a, cases[i].b), cases[i].same, "\"%s\" vs \"%s\"",
                     cases[i].a, cases[i].b);
        cr_assert_eq(netgroup_same_ip(cases[i].b, cases[i].a), cases[i].same,
                     "\"%s\" vs \"%s\" (swapped)", cases[i].b, cases[i].a);
    }
}

/* A zone or text too long for the parser's buffer is no crash, and a long
 * zone still leaves the address itself to compare. */
Test(netgroup, oversized_text_is_compared_safely)
{
    char a[400], b[400];
    snprintf(a, sizeof a, "fe80::1%%%0300d", 7);
    snprintf(b, sizeof b, "fe80::1%%%0300d", 8);
    cr_assert(netgroup_same_ip(a, b));
    cr_assert(netgroup_same_ip(a, "fe80::1"));
    memset(a, '1', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    cr_assert(netgroup_same_ip(a, b));
    b[sizeof b - 2] = '2';
    cr_assert_not(netgroup_same_ip(a, b), "texts that differ past the parser's buffer");
    cr_assert_not(netgroup_local(a));
}
