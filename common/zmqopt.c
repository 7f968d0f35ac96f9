#include "zmqopt.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static int set_int(void *sock, int option, const char *name, int v, err_t *e)
{
    if (zmq_setsockopt(sock, option, &v, sizeof v) < 0)
        return err_set(e, ERR_INTERNAL, "cannot set %s to %d: %s", name, v,
                       zmq_strerror(zmq_errno()));
    return 0;
}

/* An option left at 0 keeps ZeroMQ's default. */
static int set_given(void *sock, int option, const char *name, int v, err_t *e)
{
    return v ? set_int(sock, option, name, v, e) : 0;
}

static int set_str(void *sock, int option, const char *name, const char *v, err_t *e)
{
    if (zmq_setsockopt(sock, option, v, strlen(v)) < 0)
        return err_set(e, ERR_INTERNAL, "cannot set %s: %s", name, zmq_strerror(zmq_errno()));
    return 0;
}

/* CURVE as a server (with the ZAP domain its handler tells sockets apart
 * by) or as a client; a socket is at most one of them. */
static int set_curve(void *sock, const zmqopt_t *o, err_t *e)
{
    if (o->curve_server && o->curve_client)
        return err_set(e, ERR_INTERNAL, "a socket is a CURVE server or a client, not both");
    if (o->curve_server) {
        if (!o->zap_domain || !*o->zap_domain)
            return err_set(e, ERR_INTERNAL, "a CURVE server needs a ZAP domain");
        int rc = set_int(sock, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1, e);
        if (rc == 0)
            rc = set_str(sock, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
                         o->curve_server->secret_key, e);
        return rc == 0 ? set_str(sock, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", o->zap_domain, e) : rc;
    }
    if (!o->curve_client)
        return 0;
    int rc = set_str(sock, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY",
                     o->curve_client->server_key, e);
    if (rc == 0)
        rc = set_str(sock, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY",
                     o->curve_client->pair.public_key, e);
    return rc == 0 ? set_str(sock, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
                             o->curve_client->pair.secret_key, e)
                   : rc;
}

int zmqopt_apply(void *sock, const zmqopt_t *o, err_t *e)
{
    if (o->sndhwm <= 0 || o->rcvhwm <= 0)
        return err_set(e, ERR_INTERNAL, "a socket without high-water marks (%d, %d)", o->sndhwm,
                       o->rcvhwm);
    int rc = set_int(sock, ZMQ_SNDHWM, "ZMQ_SNDHWM", o->sndhwm, e);
    if (rc == 0)
        rc = set_int(sock, ZMQ_RCVHWM, "ZMQ_RCVHWM", o->rcvhwm, e);
    if (rc == 0)
        rc = set_int(sock, ZMQ_LINGER, "ZMQ_LINGER", 0, e);
    if (rc == 0 && o->max_msg && zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &o->max_msg,
                                                sizeof o->max_msg) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot set ZMQ_MAXMSGSIZE: %s", zmq_strerror(zmq_errno()));
    if (rc == 0)
        rc = set_given(sock, ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", o->heartbeat_ivl_ms, e);
    if (rc == 0)
        rc = set_given(sock, ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT",
                       o->heartbeat_timeout_ms, e);
    if (rc == 0)
        rc = set_given(sock, ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", o->heartbeat_ttl_ms, e);
    if (rc == 0)
        rc = set_given(sock, ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", o->reconnect_ivl_ms, e);
    if (rc == 0)
        rc = set_given(sock, ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX",
                       o->reconnect_ivl_max_ms, e);
    if (rc == 0 && o->ipv6)
        rc = set_int(sock, ZMQ_IPV6, "ZMQ_IPV6", 1, e);
    if (rc == 0 && o->router_mandatory)
        rc = set_int(sock, ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", 1, e);
    if (rc == 0)
        rc = set_given(sock, ZMQ_HANDSHAKE_IVL, "ZMQ_HANDSHAKE_IVL", o->handshake_ivl_ms, e);
    if (rc == 0)
        rc = set_given(sock, ZMQ_SNDBUF, "ZMQ_SNDBUF", o->sndbuf, e);
    if (rc == 0)
        rc = set_curve(sock, o, e);
    for (size_t i = 0; rc == 0 && o->subscribe && o->subscribe[i]; i++)
        if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, o->subscribe[i], strlen(o->subscribe[i])) < 0)
            rc = err_set(e, ERR_INTERNAL, "cannot subscribe to %s: %s", o->subscribe[i],
                         zmq_strerror(zmq_errno()));
    return rc;
}

void *zmqopt_monitor(void *zctx, void *sock, int events, err_t *e)
{
    /* inproc names are per context; a counter keeps each monitor's apart */
    static atomic_uint monitors;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://monitor-%u", atomic_fetch_add(&monitors, 1));
    if (zmq_socket_monitor(sock, ep, events) < 0) {
        err_set(e, ERR_INTERNAL, "cannot monitor a socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    void *pair = zmq_socket(zctx, ZMQ_PAIR);
    int linger = 0, hwm = ZMQOPT_MONITOR_HWM;
    /* the queue's size is fixed when the pipe is made: before the connect */
    if (!pair || zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(pair, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 || zmq_connect(pair, ep) < 0) {
        err_set(e, ERR_INTERNAL, "cannot read a socket's monitor: %s", zmq_strerror(zmq_errno()));
        zmq_socket_monitor(sock, NULL, 0);
        if (pair)
            zmq_close(pair);
        return NULL;
    }
    return pair;
}

void zmqopt_drain(void *sock, zmq_msg_t *last)
{
    while (zmq_msg_more(last)) {
        zmq_msg_close(last);
        zmq_msg_init(last);
        if (zmq_msg_recv(last, sock, ZMQ_DONTWAIT) < 0)
            break;
    }
}

int zmqopt_monitor_read(void *mon, uint16_t *event, int32_t *value)
{
    /* it loops only past malformed events, which the PAIR's queue bounds */
    for (;;) {
        zmq_msg_t head;
        zmq_msg_init(&head);
        if (!mon || zmq_msg_recv(&head, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            return 0;
        }
        /* frame 1: the event (16 bits) and its value (32 bits); frame 2: the endpoint */
        bool ok = zmq_msg_size(&head) >= 6;
        if (ok) {
            const uint8_t *d = zmq_msg_data(&head);
            memcpy(event, d, sizeof *event);
            memcpy(value, d + 2, sizeof *value);
        }
        zmqopt_drain(mon, &head);
        zmq_msg_close(&head);
        if (ok)
            return 1;
    }
}

void zmqopt_monitor_close(void *sock, void *mon)
{
    if (sock && mon)
        zmq_socket_monitor(sock, NULL, 0);
    if (mon)
        zmq_close(mon);
}

void zmqopt_redial(void *sock, const char *endpoint)
{
    (void)zmq_disconnect(sock, endpoint); /* usually gone already (ENOENT) */
    if (zmq_connect(sock, endpoint) < 0)
        LOGWARN("cannot connect to %s again: %s", endpoint, zmq_strerror(zmq_errno()));
}

void zmqopt_log_handshake(const char *endpoint, const char *key_path, uint16_t event,
                          int32_t value)
{
    const char *key = key_path ? key_path : "no key";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        log_limited(LOG_WARN, endpoint, "chaind at %s refused our key (%s, status %d): it is not "
                    "in chaind's clients file with a role that socket admits; add it there "
                    "(chaind --new-rpc-key makes one) and send chaind SIGHUP", endpoint, key,
                    (int)value);
    else
        log_limited(LOG_WARN, endpoint, "the handshake with chaind at %s failed (%s, %s %d): "
                    "a key made for another chaind's server key, or a tcp:// endpoint that is "
                    "not chaind's", endpoint, key,
                    event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "errno",
                    (int)value);
}
