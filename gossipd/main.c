/* gossipd: the peer-to-peer daemon. Parses flags, opens the gossip loop
 * (gossip.h) and runs it until SIGTERM, then saves known peers and bans. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "addrbook.h"
#include "daemon.h"
#include "flags.h"
#include "gossip.h"
#include "gossip_metrics.h"
#include "log.h"
#include "net.h"
#include "promhttp.h"
#include "rpckey.h"

static volatile sig_atomic_t stop;
static promhttp_t *metrics; /* --metrics, while the loop runs */

static flag_t flags[] = {
    {"network", "GOSSIPD_NETWORK", "NAME", "demo or regtest", "demo", false},
    {"datadir", "GOSSIPD_DATADIR", "DIR", "where known peers and bans are kept", "./data/gossipd",
     false},
    {"listen", "GOSSIPD_LISTEN", "HOST:PORT", "where other nodes connect (or a tcp:// / ipc:// "
     "endpoint)", "0.0.0.0:9333", false},
    {"peer", "GOSSIPD_PEER", "HOST:PORT", "a node to connect to (repeatable; the variable "
     "takes a comma-separated list)", NULL, true},
    {"rpc", "GOSSIPD_RPC", "ENDPOINT", "chaind's rpc endpoint", "tcp://127.0.0.1:9340", false},
    {"events", "GOSSIPD_EVENTS", "ENDPOINT", "chaind's events endpoint", "tcp://127.0.0.1:9341",
     false},
    {"rpc-key", "GOSSIPD_RPC_KEY", "FILE", "the gossip key chaind made, for tcp:// endpoints "
     "(<chaind datadir>/rpc/gossip.key)", NULL, false},
    {"advertise", "GOSSIPD_ADVERTISE", "HOST:PORT", "the address other nodes reach this one at "
     "(default: from --listen; a wildcard host lets peers use the address they see)", NULL,
     false},
    {"max-inbound", "GOSSIPD_MAX_INBOUND", "N", "inbound peers at most", "64", false},
    {"max-outbound", "GOSSIPD_MAX_OUTBOUND", "N", "outbound peers at most", "8", false},
    {"max-per-group", "GOSSIPD_MAX_PER_GROUP", "N", "inbound peers at most from one address "
     "group (an IPv4 /16, an IPv6 /32; on loopback, one verified listen address)", "8", false},
    {"ban-seconds", "GOSSIPD_BAN_SECONDS", "S", "how long a misbehaving peer stays banned",
     "86400", false},
    {"rebroadcast-interval", "GOSSIPD_REBROADCAST_INTERVAL", "S", "mean seconds between "
     "announcements of the payments submitted here that no peer has asked for yet", "15", false},
    {"metrics", "GOSSIPD_METRICS", "HOST:PORT", "serve Prometheus metrics at http://HOST:PORT"
     "/metrics (default: off)", NULL, false},
    {"log-level", "GOSSIPD_LOG_LEVEL", "LEVEL", "error, warn, info or debug", "info", false},
};
#define N_FLAGS (sizeof flags / sizeof flags[0])
#define FLAG(name) flags_get(flags, N_FLAGS, name)

/* The address put in hello when --advertise is not given: the listen
 * address itself, its wildcard host kept (peers then use the address the
 * connection comes from), or none for ipc://. */
static void derive_advertise(char *out, size_t cap, const char *listen)
{
    char host[ADDRBOOK_ADDR_MAX + 1];
    unsigned port;
    const char *hp = strncmp(listen, "tcp://", 6) == 0 ? listen + 6 : listen;
    out[0] = '\0';
    size_t len = strlen(hp);
    if (!strstr(hp, "://") && addrbook_split(hp, host, sizeof host, &port) == 0 && len < cap)
        memcpy(out, hp, len + 1);
}

/* Serves --metrics when given; 0 when not. */
static int start_metrics(err_t *e)
{
    return FLAG("metrics") ? promhttp_start(&metrics, FLAG("metrics"), gmetrics_render, NULL, e)
                           : 0;
}

int main(int argc, char **argv)
{
    int rc = flags_parse(flags, N_FLAGS, argc, argv, "gossipd",
                         "gossipd speaks to other nodes: handshake, address gossip, relay of "
                         "transactions and blocks, and sync of a node that is behind.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    const chain_params_t *params;
    uint64_t max_in, max_out, per_group, ban_seconds, rebroadcast_s;
    if (daemon_common_flags("gossipd", FLAG("log-level"), FLAG("network"), &params) < 0)
        return 2;
    if (flags_uint("gossipd", "max-inbound", FLAG("max-inbound"), 0, 1000, &max_in) ||
        flags_uint("gossipd", "max-outbound", FLAG("max-outbound"), 0, 24, &max_out) ||
        flags_uint("gossipd", "max-per-group", FLAG("max-per-group"), 1, 1000, &per_group) ||
        flags_uint("gossipd", "ban-seconds", FLAG("ban-seconds"), 1, (uint64_t)10 * 365 * 86400,
                   &ban_seconds) ||
        flags_uint("gossipd", "rebroadcast-interval", FLAG("rebroadcast-interval"), 1, 86400,
                   &rebroadcast_s))
        return 2;
    char listen[NET_ENDPOINT_MAX], advertise[ADDRBOOK_ADDR_MAX + 1];
    if (net_endpoint(listen, sizeof listen, FLAG("listen")) < 0) {
        fprintf(stderr, "gossipd: --listen is HOST:PORT, tcp://HOST:PORT or ipc://PATH\n");
        return 2;
    }
    if (FLAG("advertise")) {
        char host[ADDRBOOK_ADDR_MAX + 1];
        unsigned port;
        if (addrbook_split(FLAG("advertise"), host, sizeof host, &port) < 0) {
            fprintf(stderr, "gossipd: --advertise is HOST:PORT\n");
            return 2;
        }
        snprintf(advertise, sizeof advertise, "%s", FLAG("advertise"));
    } else {
        derive_advertise(advertise, sizeof advertise, listen);
    }
    rpckey_client_t key;
    err_t e;
    int keyed = rpckey_client_for(FLAG("rpc-key"), FLAG("rpc"), FLAG("events"), RPCKEY_GOSSIP,
                                  &key, &e);
    if (keyed < 0) {
        fprintf(stderr, "gossipd: %s\n", e.message);
        return 2;
    }
    daemon_signals(&stop);

    gossip_config_t cfg = {
        .params = params,
        .datadir = FLAG("datadir"),
        .listen = listen,
        .advertise = advertise,
        .seeds = FLAG("peer"),
        .rpc = FLAG("rpc"),
        .events = FLAG("events"),
        .rpc_key = keyed ? &key : NULL,
        .rpc_key_path = FLAG("rpc-key"),
        .max_inbound = (unsigned)max_in,
        .max_outbound = (unsigned)max_out,
        .max_per_group = (unsigned)per_group,
        .ban_seconds = ban_seconds,
        .rebroadcast_ms = rebroadcast_s * 1000,
    };
    gossip_t *g;
    LOGINFO("starting: network %s, data in %s, chaind at %s / %s", params->name, cfg.datadir,
            cfg.rpc, cfg.events);
    if (gossip_open(&g, &cfg, &e) < 0 || start_metrics(&e) < 0) {
        LOGERR("%s", e.message);
        gossip_close(&g);
        return 1;
    }
    daemon_watchdog_t wd;
    daemon_ready(&wd);

    gossip_run(g, &stop, daemon_watchdog_tick, &wd);

    daemon_stopping();
    promhttp_stop(&metrics);
    LOGINFO("stopping: saving known peers and bans");
    gossip_close(&g);
    LOGINFO("stopped");
    return 0;
}
