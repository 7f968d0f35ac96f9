#include "netgroup.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool netgroup_local(const char *ip)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!ip[0])
        return true;
    if (inet_pton(AF_INET, ip, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, ip, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

/* ip parsed into out (16 bytes: an IPv4 address mapped); false when it is none. */
static bool parse(const char *ip, uint8_t out[16])
{
    char text[64];
    struct in_addr v4;
    snprintf(text, sizeof text, "%s", ip);
    text[strcspn(text, "%")] = '\0';
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, &v4) == 1) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, out) == 1;
}

bool netgroup_same_ip(const char *a, const char *b)
{
    uint8_t x[16], y[16];
    if (parse(a, x) && parse(b, y))
        return memcmp(x, y, 16) == 0;
    return strcmp(a, b) == 0;
}

void netgroup_of(const char *ip, char out[NETGROUP_MAX])
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, ip, &v4) == 1) {
        uint32_t a = ntohl(v4.s_addr);
        snprintf(out, NETGROUP_MAX, "v4:%u.%u", a >> 24, (a >> 16) & 255);
    } else if (inet_pton(AF_INET6, ip, &v6) == 1) {
        const uint8_t *b = v6.s6_addr;
        snprintf(out, NETGROUP_MAX, "v6:%02x%02x:%02x%02x", b[0], b[1], b[2], b[3]);
    } else {
        snprintf(out, NETGROUP_MAX, "ip:%.*s", NETGROUP_MAX - 4, ip);
    }
}
