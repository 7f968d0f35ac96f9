#include "zap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "reactor.h"
#include "zmqopt.h"

#define ZAP_FRAMES 8  /* RFC 27's seven, and one to see that there are more */
#define ZAP_BATCH 256 /* requests answered a pass */

/* Which roles each socket admits. */
static const struct {
    const char *domain;
    unsigned roles; /* bit r: role r */
} domains[] = {
    {ZAP_DOMAIN_RPC, 1u << RPCKEY_GOSSIP | 1u << RPCKEY_MINER},
    {ZAP_DOMAIN_EVENTS, 1u << RPCKEY_GOSSIP | 1u << RPCKEY_MINER | 1u << RPCKEY_SUBSCRIBER},
};

struct zap {
    void *rep;
    reactor_t *reactor;
    rpckey_clients_t clients;
    char *path;
    volatile sig_atomic_t *reload, stop;
    pthread_t thread;
};

int zap_verdict(const rpckey_clients_t *clients, const char *domain, const char *mechanism,
                const uint8_t *key, size_t key_len, rpckey_role_t *role)
{
    char z85[RPCKEY_Z85_LEN + 1];
    if (strcmp(mechanism, "CURVE") != 0 || key_len != 32 || !zmq_z85_encode(z85, key, 32))
        return ZAP_DENIED;
    const rpckey_entry_t *x = rpckey_clients_find(clients, z85);
    for (size_t i = 0; x && i < sizeof domains / sizeof domains[0]; i++)
        if (strcmp(domain, domains[i].domain) == 0 && (domains[i].roles & 1u << x->role)) {
            *role = x->role;
            return ZAP_OK;
        }
    return ZAP_DENIED;
}

/* Copies frame f of a request as text (at most cap - 1 bytes). */
static void frame_text(char *out, size_t cap, zmq_msg_t *f)
{
    size_t n = zmq_msg_size(f) < cap - 1 ? zmq_msg_size(f) : cap - 1;
    memcpy(out, zmq_msg_data(f), n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[i] = '?';
}

static void log_refusal(const char *domain, const char *address, const char *mechanism,
                        zmq_msg_t *key)
{
    char z85[RPCKEY_Z85_LEN + 1] = "";
    if (zmq_msg_size(key) == 32)
        zmq_z85_encode(z85, zmq_msg_data(key), 32);
    log_limited(LOG_INFO, NULL, "%s: refused a %s handshake from %s%s%s: the key is not in "
                "the clients file with a role this socket admits", domain, mechanism, address,
                *z85 ? ", key " : "", z85);
}

/* Answers one request: version, request id, status code and text, user id
 * (the role), metadata (none). */
static void reply(void *rep, zmq_msg_t *version, zmq_msg_t *id, int status, const char *user)
{
    const char *code = status == ZAP_OK ? "200" : status == ZAP_DENIED ? "400" : "500";
    const char *text = status == ZAP_OK ? "OK" : "refused";
    zmq_msg_send(version, rep, ZMQ_SNDMORE);
    zmq_msg_send(id, rep, ZMQ_SNDMORE);
    zmq_send(rep, code, 3, ZMQ_SNDMORE);
    zmq_send(rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(rep, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(rep, "", 0, 0);
}

/* One request, its frames then the verdict; false when none waits. A REP
 * must answer whatever it read, so a malformed request (which only a libzmq
 * bug would send) gets status 500. */
static bool answer_one(zap_t *z)
{
    zmq_msg_t f[ZAP_FRAMES];
    int n = 0, more = 1;
    while (more && n < ZAP_FRAMES) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], z->rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        more = zmq_msg_more(&f[n++]);
    }
    if (n == 0)
        return false;
    if (more)
        zmqopt_drain(z->rep, &f[n - 1]);
    char version[8] = "", domain[64] = "", address[64] = "", mechanism[16] = "";
    int status = 500;
    rpckey_role_t role = RPCKEY_SUBSCRIBER;
    if (n == 7 && !more) {
        frame_text(version, sizeof version, &f[0]);
        frame_text(domain, sizeof domain, &f[2]);
        frame_text(address, sizeof address, &f[3]);
        frame_text(mechanism, sizeof mechanism, &f[5]);
        if (strcmp(version, "1.0") == 0)
            status = zap_verdict(&z->clients, domain, mechanism, zmq_msg_data(&f[6]),
                                 zmq_msg_size(&f[6]), &role);
    }
    if (status == ZAP_DENIED)
        log_refusal(domain, address, mechanism, &f[6]);
    if (n >= 2) {
        reply(z->rep, &f[0], &f[1], status, status == ZAP_OK ? rpckey_role_name(role) : "");
    } else { /* no id to answer with: an empty reply keeps the REP usable */
        zmq_msg_t empty[2];
        zmq_msg_init(&empty[0]);
        zmq_msg_init(&empty[1]);
        reply(z->rep, &empty[0], &empty[1], 500, "");
        zmq_msg_close(&empty[0]);
        zmq_msg_close(&empty[1]);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return true;
}

/* The handshakes waiting, a bounded batch a pass (the reload timer runs in
 * between). */
static void on_request(void *arg)
{
    zap_t *z = arg;
    for (int i = 0; i < ZAP_BATCH && answer_one(z); i++)
        ;
}

/* Reads the clients file again; one that does not parse leaves the old list. */
static void reload(zap_t *z)
{
    rpckey_clients_t fresh;
    err_t e;
    if (rpckey_clients_load(z->path, &fresh, &e) < 0) {
        LOGWARN("rpc keys: %s; the %zu key(s) read before stay in force", e.message,
                z->clients.count);
        return;
    }
    rpckey_clients_free(&z->clients);
    z->clients = fresh;
    LOGINFO("rpc keys: %s read again: %zu key(s)", z->path, z->clients.count);
}

static void on_tick(void *arg)
{
    zap_t *z = arg;
    /* cleared before reading, so a signal during the read asks again */
    if (z->reload && *z->reload) {
        *z->reload = 0;
        reload(z);
    }
}

static void *run(void *arg)
{
    zap_t *z = arg;
    err_t e;
    if (reactor_run(z->reactor, &z->stop, &e) < 0)
        LOGERR("the ZAP handler stopped: %s", e.message);
    return NULL;
}

static void zap_free(zap_t *z)
{
    if (z->rep)
        zmq_close(z->rep);
    reactor_destroy(&z->reactor);
    rpckey_clients_free(&z->clients);
    free(z->path);
    free(z);
}

int zap_start(zap_t **out, void *zctx, const char *clients_path, volatile sig_atomic_t *reload_flag,
              err_t *e)
{
    *out = NULL;
    zap_t *z = calloc(1, sizeof *z);
    if (!z)
        return err_set(e, ERR_INTERNAL, "out of memory");
    z->reload = reload_flag;
    int rc = (z->path = strdup(clients_path)) ? rpckey_clients_load(z->path, &z->clients, e)
                                              : err_set(e, ERR_INTERNAL, "out of memory");
    zmqopt_t o = {.sndhwm = 1000, .rcvhwm = 1000};
    if (rc == 0 && (!(z->reactor = reactor_new(1, 1)) || !(z->rep = zmq_socket(zctx, ZMQ_REP))))
        rc = err_set(e, ERR_INTERNAL, "cannot create the ZAP handler's socket");
    if (rc == 0)
        rc = zmqopt_apply(z->rep, &o, e);
    if (rc == 0 && zmq_bind(z->rep, ZAP_ENDPOINT) < 0)
        rc = err_set(e, ERR_INTERNAL, "cannot bind %s: %s", ZAP_ENDPOINT,
                     zmq_strerror(zmq_errno()));
    if (rc == 0 && (reactor_add_socket(z->reactor, z->rep, on_request, z) < 0 ||
                    reactor_timer(z->reactor, ZAP_RELOAD_MS, ZAP_RELOAD_MS, on_tick, z) < 0))
        rc = err_set(e, ERR_INTERNAL, "the ZAP handler's loop has no room");
    /* the socket moves to the thread: pthread_create is the barrier ZeroMQ asks for */
    if (rc == 0 && pthread_create(&z->thread, NULL, run, z) != 0)
        rc = err_set(e, ERR_INTERNAL, "cannot start the ZAP handler's thread");
    if (rc < 0) {
        zap_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

void zap_stop(zap_t **zp)
{
    zap_t *z = *zp;
    if (!z)
        return;
    z->stop = 1; /* seen within ZAP_RELOAD_MS: the timer ends every wait */
    pthread_join(z->thread, NULL);
    zap_free(z);
    *zp = NULL;
}
