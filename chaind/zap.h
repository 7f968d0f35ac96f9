/* zap: the control plane's ZAP handler (ZeroMQ RFC 27; DESIGN §1).
 *
 * chaind's tcp:// rpc and events sockets are CURVE servers. For every
 * handshake libzmq asks the handler bound at inproc://zeromq.zap.01 of their
 * context whether the client's public key may in, naming the socket by its
 * ZAP domain: "rpc" admits the gossip and miner roles, "events" every role
 * (the subscriber role reads events only). A key must be listed in the
 * clients file (rpckey.h) with its role; the reply carries the role as the
 * connection's User-Id, which the rpc loop reads from each request
 * (zmq_msg_gets "User-Id") to decide what the connection may ask.
 *
 * The handler runs in a thread of its own, on a reactor, so handshakes are
 * answered while the rpc loop is busy (a big block takes seconds). It owns
 * the list: a set reload flag (SIGHUP) makes it read the clients file again;
 * a file that does not parse leaves the old list in force, and the log says
 * why. A refused handshake costs a lookup and a rate-limited log line, and
 * the client gets nothing but ZeroMQ's ERROR command.
 *
 * Without a handler bound, libzmq 4.3 lets every CURVE client in (its
 * ZMQ_ZAP_ENFORCE_DOMAIN is a draft option): start the handler before the
 * sockets bind and stop it after they are closed. */
#ifndef CHAIND_ZAP_H
#define CHAIND_ZAP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rpckey.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN_RPC "rpc"
#define ZAP_DOMAIN_EVENTS "events"
#define ZAP_RELOAD_MS 200 /* how soon a set reload flag is seen */

/* The ZAP status codes the handler answers with. */
#define ZAP_OK 200
#define ZAP_DENIED 400

typedef struct zap zap_t;

/* The verdict on one handshake: ZAP_OK with *role when mechanism is
 * "CURVE", key (key_len bytes) is a public key the clients list names, and
 * its role may use domain; ZAP_DENIED for anything else (an unknown key or
 * domain, another mechanism, a role the domain does not admit). */
int zap_verdict(const rpckey_clients_t *clients, const char *domain, const char *mechanism,
                const uint8_t *key, size_t key_len, rpckey_role_t *role);

/* Reads clients_path (an error when it is missing or malformed: chaind does
 * not start with a broken list), binds ZAP_ENDPOINT on zctx and answers in a
 * thread of its own until zap_stop(). reload (may be NULL) is polled every
 * ZAP_RELOAD_MS: when set, it is cleared and the file read again.
 * clients_path is copied. */
int zap_start(zap_t **z, void *zctx, const char *clients_path, volatile sig_atomic_t *reload,
              err_t *e) __attribute__((warn_unused_result));
/* Ends the thread and closes the socket; *z becomes NULL. A no-op for NULL. */
void zap_stop(zap_t **z);

#endif
