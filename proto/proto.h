/* proto: the messages between daemons and between nodes (DESIGN §2).
 *
 *   request  [type: str, id: uint, body: map]
 *   reply    ["ok", id, body] | ["error", id, {"code": str, "message": str}]
 *   event    frame 1: topic; frame 2: a map with "seq" (per-topic counter)
 *   peer     [network: str, type: str, body: map]
 *
 * One table of schemas (proto.c) names every type and says what its body
 * holds: requests, the ok reply to each request, peer messages and event
 * topics. It drives both directions.
 *
 * Decoding checks everything before a caller sees a message: the envelope's
 * shape, a known type (decoded to its enum), at most PROTO_MAX_MSG bytes,
 * unique string keys, and every field of the type's schema (kind, length,
 * count). A decoded message borrows the caller's bytes: it is valid while
 * they are. Unknown extra fields are allowed (newer peers) but must
 * themselves be well formed. Replies are checked as envelopes only: the
 * decoder cannot know which request one answers.
 *
 * Encoding: proto_open_*() write an envelope's head and open its body map
 * with one entry a field of the type's schema, so no count is written by
 * hand; the caller then writes each field, key then value, with mp_put_*().
 * proto_check() verifies a message so written against its schema, and
 * every sender asserts it (proto_assert(), debug builds), so a message that
 * breaks its own schema fails the tests rather than reaching a peer. */
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
#define PROTO_MAX_FIELDS 8       /* fields in one schema */

/* Requests to chaind; the same enum names the ok reply to each. */
typedef enum {
    PROTO_REQ_GET_TIP,
    PROTO_REQ_SUBMIT_TX,
    PROTO_REQ_SUBMIT_BLOCK,
    PROTO_REQ_GET_HEADERS,
    PROTO_REQ_GET_BLOCK,
    PROTO_REQ_GET_TX,
    PROTO_REQ_GET_JOB,
    PROTO_REQ_SUBMIT_WORK,
    PROTO_REQ_HASHRATE,
    PROTO_REQ_PEERS,
    PROTO_REQ_GET_MEMPOOL,
    PROTO_REQ_GET_UNBROADCAST,
    PROTO_REQ_MARK_BROADCAST,
    PROTO_REQ_COUNT
} proto_req_t;

/* Peer messages. */
typedef enum {
    PROTO_MSG_HELLO,
    PROTO_MSG_ADDR,
    PROTO_MSG_INV,
    PROTO_MSG_GETDATA,
    PROTO_MSG_NOTFOUND,
    PROTO_MSG_TX,
    PROTO_MSG_BLOCK,
    PROTO_MSG_GETHEADERS,
    PROTO_MSG_HEADERS,
    PROTO_MSG_PING,
    PROTO_MSG_PONG,
    PROTO_MSG_CHALLENGE, /* the dial-back check of a claimed listen address */
    PROTO_MSG_PROBE,
    PROTO_MSG_PROOF,
    PROTO_MSG_COUNT
} proto_msg_t;

/* Event topics: the one list of them (chaind publishes, gossipd and minerd
 * subscribe by these names). */
typedef enum {
    PROTO_TOPIC_BLOCK,
    PROTO_TOPIC_TX,
    PROTO_TOPIC_JOB,
    PROTO_TOPIC_PEER_ADD,
    PROTO_TOPIC_COUNT
} proto_topic_t;

/* --- schemas ------------------------------------------------------------------ */

typedef enum { PROTO_UINT, PROTO_STR, PROTO_BIN, PROTO_BOOL, PROTO_MAP, PROTO_ARRAY } proto_kind_t;

/* One field a body must hold. */
typedef struct {
    const char *key;
    proto_kind_t kind;
    uint32_t len;      /* PROTO_BIN: exact length (0: any up to max); PROTO_STR: max;
                          PROTO_UINT: the most bits the value may take (0: 64) */
    uint32_t max;      /* PROTO_BIN: max length; PROTO_ARRAY: max elements */
    proto_kind_t elem; /* PROTO_ARRAY: the elements' kind */
    uint32_t elem_len; /* PROTO_ARRAY of PROTO_BIN: exact length; of PROTO_STR: max */
} proto_field_t;

typedef struct {
    const char *name;                       /* the type as on the wire */
    proto_field_t fields[PROTO_MAX_FIELDS]; /* a NULL key ends the list */
} proto_schema_t;

typedef enum { PROTO_REQUEST, PROTO_OK_REPLY, PROTO_PEER, PROTO_EVENT } proto_family_t;

/* The schema of a type of a family (the ok reply to request `type` for
 * PROTO_OK_REPLY; an event schema omits the "seq" every event carries);
 * NULL when type is out of range. For tests, fuzzers and tools. */
const proto_schema_t *proto_schema(proto_family_t family, int type);
/* The number of fields a schema has. */
uint32_t proto_schema_fields(const proto_schema_t *s);

/* Wire names. */
const char *proto_req_name(proto_req_t type);
const char *proto_msg_name(proto_msg_t type);
const char *proto_topic_name(proto_topic_t topic);
/* The topic named topic[0..len), or -1 when no topic is. */
int proto_topic_of(const char *topic, size_t len);

/* --- decoding ------------------------------------------------------------------- */

/* A body: a validated msgpack map, borrowed. */
typedef struct {
    const uint8_t *p;
    size_t len;
} proto_body_t;

typedef struct {
    proto_req_t type;
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
    proto_topic_t type;
    char topic[16];          /* its name, NUL-terminated */
    uint64_t seq;
    proto_body_t body;
} proto_event_t;

typedef struct {
    proto_msg_t type;
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
 * kind (a schema's fields are always present and of their kind). */
int proto_get_uint(const proto_body_t *b, const char *key, uint64_t *v);
int proto_get_bool(const proto_body_t *b, const char *key, bool *v);
int proto_get_bin(const proto_body_t *b, const char *key, const uint8_t **data, size_t *len);
int proto_get_bin_exact(const proto_body_t *b, const char *key, void *out, size_t len);
/* Copies a string into out (capacity cap, NUL-terminated); -1 if it does not fit. */
int proto_get_str(const proto_body_t *b, const char *key, char *out, size_t cap);
/* An array field: *n elements, *r positioned at the first. */
int proto_get_array(const proto_body_t *b, const char *key, mp_reader_t *r, uint32_t *n);
bool proto_has(const proto_body_t *b, const char *key);

/* --- encoding ------------------------------------------------------------------- */

/* Open a message of a type from its schema: the envelope's head, then the
 * body map sized to the schema's fields. The caller writes those fields. */
void proto_open_request(mp_buf_t *b, proto_req_t type, uint64_t id);
/* The ok reply to a request of this type. */
void proto_open_ok(mp_buf_t *b, proto_req_t type, uint64_t id);
/* "seq" is written first; the caller writes the topic's fields. */
void proto_open_event(mp_buf_t *b, proto_topic_t topic, uint64_t seq);
void proto_open_peer(mp_buf_t *b, const char *network, proto_msg_t type);
/* A whole error reply: {code, message}. */
void proto_error(mp_buf_t *b, uint64_t id, err_code_t code, const char *message);

/* Checks a whole message as a sender wrote it: it decodes as a message of
 * that family and type, and its body holds exactly the type's schema (no
 * field missing, none extra, each of its kind). For PROTO_OK_REPLY, type is
 * the request answered, and an error reply with a known code passes too.
 * 0, or ERR_INTERNAL naming what is wrong. */
int proto_check(proto_family_t family, int type, const uint8_t *data, size_t len, err_t *e);
/* What every sender calls on what it is about to send: in debug builds a
 * failed proto_check() prints its reason and aborts (a message that breaks
 * its own schema is a bug of the sender, never the input's doing); release
 * builds (NDEBUG) skip it. */
void proto_assert(proto_family_t family, int type, const uint8_t *data, size_t len);

/* Raw heads that follow no schema, the field count given by the caller: for
 * writers of any envelope, malformed ones included (the decoders' tests,
 * fuzz seeds, test clients). The daemons use proto_open_*(). */
void proto_begin_request(mp_buf_t *b, const char *type, uint64_t id, uint32_t n_fields);
void proto_begin_ok(mp_buf_t *b, uint64_t id, uint32_t n_fields);

#endif
