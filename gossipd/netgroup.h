/* netgroup: which address group a peer's IP belongs to, the unit of the
 * inbound limits and of eviction (docs/PROTOCOL.md, "Peers"): an IPv4 /16
 * or an IPv6 /32, as Bitcoin Core's netgroups, so that one operator who
 * holds a block of addresses counts as one.
 *
 * IPs are as gossipd sees them: IPv4 dotted ("10.1.2.3"), IPv6 without
 * brackets ("2001:db8::1"), an IPv4-mapped IPv6 address already in its IPv4
 * form. Local peers (loopback, or "" for an ipc:// connection) all share one
 * address, so that address tells them apart from nothing: their group is
 * their verified listen address instead, which the caller knows. */
#ifndef GOSSIP_NETGROUP_H
#define GOSSIP_NETGROUP_H

#include <stdbool.h>

#define NETGROUP_MAX 48 /* a group's text, NUL included */

/* Whether ip is this machine's: loopback (127.0.0.0/8, ::1) or unknown (""). */
bool netgroup_local(const char *ip);
/* Whether two IPs in text are the same address (an IPv6 zone ignored). */
bool netgroup_same_ip(const char *a, const char *b);
/* The group of a non-local ip: "v4:a.b" (its /16) or "v6:xxxx:xxxx" (its
 * /32, hex of the first 32 bits); an ip that parses as neither is its own
 * group ("ip:" and the text, cut to fit). */
void netgroup_of(const char *ip, char out[NETGROUP_MAX]);

#endif
