/* gossip_fixture: what the gossipd tests share — a daemon with no peers on
 * ipc:// endpoints in a temp dir, its loop driven a pass at a time; peers
 * played by the test (a DEALER on its ROUTER, or a ROUTER where a peer
 * claims to listen); and a stand-in chaind (a ROUTER for requests, an XPUB
 * for events) that the daemon's client, or a client alone, talks to.
 * Every helper fails the test (criterion) rather than return an error; the
 * waits are bounded by 5 s (8 s for a dial-back) so a broken daemon fails
 * the test instead of hanging it. */
#ifndef TEST_GOSSIP_FIXTURE_H
#define TEST_GOSSIP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip.h"
#include "hash.h"
#include "mp.h"
#include "peer.h"
#include "proto.h"

/* A stand-in chaind on ipc:// endpoints in dir. */
typedef struct {
    void *rpc;       /* ROUTER: the client's requests */
    void *pub;       /* XPUB: events, and the subscriptions it saw */
    char rpc_ep[300], events_ep[300];
} tg_chaind_t;

/* Binds both sockets in zctx, under dir. */
void tg_chaind_open(tg_chaind_t *c, void *zctx, const char *dir);
void tg_chaind_close(tg_chaind_t *c);
/* Waits (calling pump(arg) between reads, when not NULL) until n
 * subscriptions reached the XPUB, so what is published next is delivered. */
void tg_chaind_subscribed(tg_chaind_t *c, size_t n, void (*pump)(void *arg), void *arg);
/* Waits (pumping as above) for one request: its routing id in rid, the
 * message into buf, decoded into *req. false after 5 s without one. */
bool tg_chaind_recv(tg_chaind_t *c, uint8_t rid[256], size_t *rid_len, proto_request_t *req,
                    uint8_t *buf, size_t cap, void (*pump)(void *arg), void *arg);
/* Sends b (one frame) to routing id rid. */
void tg_chaind_reply(tg_chaind_t *c, const uint8_t *rid, size_t rid_len, const mp_buf_t *b);
/* Publishes an event: the topic frame, then body. */
void tg_chaind_publish(tg_chaind_t *c, proto_topic_t topic, const mp_buf_t *body);

/* What a test daemon differs in (0 or NULL: the default). */
typedef struct {
    unsigned max_per_group; /* 0: 8 */
    const char *seeds;
    bool chaind; /* a stand-in chaind at its rpc and events endpoints */
} tg_options_t;

typedef struct {
    char dir[256], listen[300];
    gossip_t *g;
    void *zctx;
    mp_buf_t b; /* a message being built (PROTO_MAX_MSG) */
    bool has_chaind;
    tg_chaind_t chaind;
} tg_fixture_t;

/* A daemon of 8 inbound and 2 outbound slots, advertising 127.0.0.1:1 on
 * network regtest (o may be NULL). */
void tg_open(tg_fixture_t *f, const tg_options_t *o);
/* Closes the daemon (it saves its files) and keeps its directory. */
void tg_stop(tg_fixture_t *f);
/* tg_stop(), and the directory removed. */
void tg_close(tg_fixture_t *f);
/* One pass of the daemon's loop (at most ms); fails the test when polling fails. */
void tg_pass(tg_fixture_t *f, long ms);
/* tg_pass(f, 10): a pump for the tg_chaind_ waits. */
void tg_pump(void *f);

/* A DEALER connected to the daemon's ROUTER (linger 0; the caller closes it). */
void *tg_dial(tg_fixture_t *f);
void tg_send(void *s, const mp_buf_t *b);
/* Runs the daemon until s has a message of type, which lands in *m (its
 * body in buf); messages of other types are skipped. Fails after 5 s. */
void tg_expect(tg_fixture_t *f, void *s, proto_msg_t type, proto_peer_msg_t *m, uint8_t *buf,
               size_t cap);
/* After passes of the loop, want_ready ready peers: the first of them. */
const peer_t *tg_ready_peer(tg_fixture_t *f, size_t want_ready);
/* A peer that completed its handshake on s (its hello in f->b, the
 * daemon's back in *hello), the only ready one. */
const peer_t *tg_shake_hands(tg_fixture_t *f, void *s, const char *listen, uint8_t id_byte,
                             proto_peer_msg_t *hello, uint8_t *buf, size_t cap);
/* Sends a ping or pong of nonce on s. */
void tg_send_nonce(tg_fixture_t *f, void *s, proto_msg_t type, uint64_t nonce);
/* Sends a hello without a listen address (node id_byte) on a new connection. */
void *tg_hello_peer(tg_fixture_t *f, uint8_t id_byte);
/* A hello of node id_byte (all 8 id bytes) at version and height, claiming
 * listen, into b (reset first): what sample_hello() writes, with those two. */
void tg_hello(mp_buf_t *b, uint64_t version, uint64_t height, const char *listen,
              uint8_t id_byte);
/* The peer of node id_byte (all 8 id bytes), or NULL. */
const peer_t *tg_node(const tg_fixture_t *f, uint8_t id_byte);

/* A ready peer of node id_byte on a new DEALER (*s, the caller closes it),
 * after the daemon's hello: writable, for the tests of the daemon's own
 * modules (gossip_state.h). */
peer_t *tg_peer(tg_fixture_t *f, void **s, uint8_t id_byte);
/* The next message on s (5 s at most; the loop is not run): true with it in
 * *m, its body in buf. */
bool tg_recv(void *s, proto_peer_msg_t *m, uint8_t *buf, size_t cap);
/* An inv, getdata or notfound of kind and h[0..n) into b (reset first);
 * kind NULL: a getheaders of locator h[0..n). */
void tg_put_hashes(mp_buf_t *b, proto_msg_t type, const char *kind, const hash32_t *h, size_t n);
/* The "hashes" of an inv, getdata or notfound: their count, and (out not
 * NULL) the first cap of them into out. */
uint32_t tg_hashes(const proto_peer_msg_t *m, hash32_t *out, uint32_t cap);

/* The node a peer claims to be: a ROUTER on 127.0.0.1:port. */
typedef struct {
    void *sock;
    char addr[32];
} tg_listener_t;

void tg_listen_at(tg_fixture_t *f, tg_listener_t *l, int port);
/* Runs the daemon until l hears a message of type (others are skipped):
 * its sender's routing id in rid, the message in *m (its body in buf).
 * false after ms without one. */
bool tg_listener_expect(tg_fixture_t *f, tg_listener_t *l, proto_msg_t type, uint8_t rid[256],
                        size_t *rid_len, proto_peer_msg_t *m, uint8_t *buf, size_t cap, long ms);
void tg_listener_send(tg_listener_t *l, const uint8_t *rid, size_t rid_len, const mp_buf_t *b);

/* A peer message of one or two 8-byte fields into b (a proof, a probe, a
 * challenge: k2 NULL). */
void tg_put_bins(mp_buf_t *b, proto_msg_t type, const char *k1, const uint8_t *v1,
                 const char *k2, const uint8_t *v2);
/* Runs the daemon until p's dial-back is over (8 s at most). */
void tg_settle(tg_fixture_t *f, const peer_t *p);
/* Whether a line of the file at path holds needle (a missing file: false). */
bool tg_file_has(const char *path, const char *needle);

#endif
