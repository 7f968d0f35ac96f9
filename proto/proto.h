/* proto: the messages between daemons and between nodes (DESIGN §2).
 *
 *   request  [type: str, id: uint, body: map]
 *   reply    ["ok", id, body] | ["error", id, {"code": str, "message": str}]
 *   event    frame 1: topic; frame 2: a map with "seq" (per-topic counter)
 *   peer     [network: str, type: str, body: map]
 *
 * Decoding checks everything before a caller sees a message: the envelope's
 * shape, a known type, at most PROTO_MAX_MSG bytes, unique string keys, and
 * every field that the type's schema names (kind, length, count). A decoded
 * message borrows the caller's bytes: it is valid while they are. Unknown
 * extra fields are allowed (newer peers) but must themselves be well formed.
 *
 * Encoding: proto_begin_*() write an envelope's head and open a body map of n
 * fields; the caller then writes n key/value pairs with mp_put_*(). */
#ifndef CHAIN_PROTO_H
#define CHAIN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mp.h"

#define PROTO_MAX_MSG (2u << 20) /* also the peers' ZMQ_MAXMSGSIZE */
#define PROTO_VERSION 1
#define PROTO_MAX_INV 1000       /* hashes in one inv / getdata / notfound */
#define PROTO_MAX_HEADERS 2000   /* headers in one headers message */
#define PROTO_MAX_LOCATOR 64     /* hashes in a locator */
#define PROTO_MAX_ADDRS 1000     /* addresses in one addr message */
#define PROTO_MAX_PEERS 1024     /* peers in one `peers` report */

/* A body: a validated msgpack map, borrowed. */
typedef struct {
    const uint8_t *p;
    size_t len;
} proto_body_t;

typedef struct {
    char type[24]; /* NUL-terminated; one of the known types */
    uint64_t id;
    proto_body_t body;
} proto_request_t;

typedef struct {
    bool ok;
    uint64_t id;
    proto_body_t body;       /* for errors: the {code, message} map */
    err_code_t code;         /* errors: the code (ERR_INTERNAL if unknown) */
    char message[160];       /* errors: the message, truncated */
} proto_reply_t;

typedef struct {
    char topic[16];
    uint64_t seq;
    proto_body_t body;
} proto_event_t;

typedef struct {
    char type[16];
    proto_body_t body;
} proto_peer_msg_t;

/* Decoders. 0, or a negative err code with a message: ERR_TOO_LARGE over
 * PROTO_MAX_MSG, ERR_BAD_ENCODING for a malformed envelope, ERR_UNKNOWN_TYPE,
 * ERR_BAD_NETWORK (peer messages for another network), ERR_BAD_REQUEST for a
 * body that breaks its type's schema (the field is named). */
int proto_decode_request(proto_request_t *req, const uint8_t *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
int proto_decode_reply(proto_reply_t *rep, const uint8_t *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
int proto_decode_event(proto_event_t *ev, const char *topic, size_t topic_len,
                       const uint8_t *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
int proto_decode_peer(proto_peer_msg_t *msg, const char *network, const uint8_t *data,
                      size_t len, err_t *e) __attribute__((warn_unused_result));

/* Field access on a validated body. -1 when the key is absent or of another
 * kind (a schema's required fields are always present and of their kind). */
int proto_get_uint(const proto_body_t *b, const char *key, uint64_t *v);
int proto_get_bool(const proto_body_t *b, const char *key, bool *v);
int proto_get_bin(const proto_body_t *b, const char *key, const uint8_t **data, size_t *len);
int proto_get_bin_exact(const proto_body_t *b, const char *key, void *out, size_t len);
/* Copies a string into out (capacity cap, NUL-terminated); -1 if it does not fit. */
int proto_get_str(const proto_body_t *b, const char *key, char *out, size_t cap);
/* An array field: *n elements, *r positioned at the first. */
int proto_get_array(const proto_body_t *b, const char *key, mp_reader_t *r, uint32_t *n);
bool proto_has(const proto_body_t *b, const char *key);

/* Encoders. */
void proto_begin_request(mp_buf_t *b, const char *type, uint64_t id, uint32_t n_fields);
void proto_begin_ok(mp_buf_t *b, uint64_t id, uint32_t n_fields);
void proto_error(mp_buf_t *b, uint64_t id, err_code_t code, const char *message);
/* Opens the event map with n_fields + 1 entries, "seq" written first. */
void proto_begin_event(mp_buf_t *b, uint64_t seq, uint32_t n_fields);
void proto_begin_peer(mp_buf_t *b, const char *network, const char *type, uint32_t n_fields);

/* The known event topics: "block", "tx", "job", "peer.add". */
bool proto_topic_known(const char *topic, size_t len);

#endif
