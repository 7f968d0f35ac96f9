/* httpguard.h's address groups, the unit of its per-address cap and of its
 * eviction: an IPv4 address is its own group, an IPv6 host its /64, and an
 * IPv4-mapped IPv6 address the IPv4 address it maps (a dual-stack listener
 * sees IPv4 clients so). The deadlines and the eviction themselves run
 * against the real daemon: tests/integration/test_httpguard.c. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "httpguard.h"

/* The key of ip (IPv4 or IPv6 text). */
static void key_of(const char *ip, uint8_t key[HTTPGUARD_GROUP_KEY_LEN])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        cr_assert_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1, "%s", ip);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        cr_assert_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1, "%s", ip);
    }
    cr_assert(httpguard_group_key((struct sockaddr *)&ss, key), "%s has no group", ip);
}

static const struct {
    const char *a, *b;
    bool same;
} pairs[] = {
    {"192.0.2.1", "192.0.2.1", true},
    {"192.0.2.1", "192.0.2.2", false}, /* IPv4: the address, not a subnet */
    {"10.0.0.1", "11.0.0.1", false},
    {"192.0.2.1", "::ffff:192.0.2.1", true}, /* mapped: the same client */
    {"192.0.2.1", "::ffff:192.0.2.2", false},
    {"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true}, /* one /64 */
    {"2001:db8:1:2::1", "2001:db8:1:3::1", false},
    {"2001:db8::1", "2001:db9::1", false},
    {"::1", "::2", true},
    /* an IPv6 address whose first bytes read as an IPv4 one is not that one */
    {"c000:0201::", "192.0.2.1", false},
    {"::", "0.0.0.0", false},
};

Test(httpguard, groups_are_an_ipv4_address_or_an_ipv6_slash_64)
{
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        uint8_t ka[HTTPGUARD_GROUP_KEY_LEN], kb[HTTPGUARD_GROUP_KEY_LEN];
        key_of(pairs[i].a, ka);
        key_of(pairs[i].b, kb);
        cr_expect_eq(memcmp(ka, kb, sizeof ka) == 0, pairs[i].same, "%s and %s: %s expected",
                     pairs[i].a, pairs[i].b, pairs[i].same ? "one group" : "two groups");
    }
}

Test(httpguard, an_address_of_another_family_has_no_group)
{
    uint8_t key[HTTPGUARD_GROUP_KEY_LEN];
    memset(key, 0xaa, sizeof key);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    cr_assert_not(httpguard_group_key((struct sockaddr *)&un, key));
    for (size_t i = 0; i < sizeof key; i++)
        cr_assert_eq(key[i], 0, "the key is zeroed");
    cr_assert_not(httpguard_group_key(NULL, key));
}
