#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

#define BIN32(k) {k, PROTO_BIN, 32, 32, 0, 0}
#define BINN(k, n) {k, PROTO_BIN, n, n, 0, 0}
#define BLOB(k, m) {k, PROTO_BIN, 0, m, 0, 0}
#define UINT(k) {k, PROTO_UINT, 0, 0, 0, 0}
/* a value shown as a JSON number (a signed 64-bit integer there): below 2^63 */
#define UINT63(k) {k, PROTO_UINT, 63, 0, 0, 0}
#define STR(k, m) {k, PROTO_STR, m, 0, 0, 0}
#define HASHES(k, m) {k, PROTO_ARRAY, 0, m, PROTO_BIN, 32}
#define ORIGIN STR("origin", 128)
/* a mining job (DESIGN §4.4): the get_job reply and the job event */
#define JOB_FIELDS                                                                        \
    {UINT("job_id"), UINT("height"), BIN32("previous_block_hash"), UINT("bits"),          \
     UINT("timestamp"), UINT("coinbase_value"), HASHES("merkle_branch", MERKLE_MAX_BRANCH), \
     UINT("tx_count")}

static const proto_schema_t requests[PROTO_REQ_COUNT] = {
    [PROTO_REQ_GET_TIP] = {"get_tip", {{0}}},
    [PROTO_REQ_SUBMIT_TX] = {"submit_tx", {BLOB("tx", PROTO_MAX_MSG), ORIGIN}},
    [PROTO_REQ_SUBMIT_BLOCK] = {"submit_block", {BLOB("block", PROTO_MAX_MSG), ORIGIN}},
    [PROTO_REQ_GET_HEADERS] = {"get_headers", {HASHES("locator", PROTO_MAX_LOCATOR), UINT("max")}},
    [PROTO_REQ_GET_BLOCK] = {"get_block", {BIN32("hash")}},
    [PROTO_REQ_GET_TX] = {"get_tx", {BIN32("txid")}},
    [PROTO_REQ_GET_JOB] = {"get_job", {{0}}},
    [PROTO_REQ_SUBMIT_WORK] = {"submit_work", {UINT("job_id"), BLOB("extranonce", 64),
                                               UINT("timestamp"), UINT("nonce"),
                                               BINN("payout", 20)}},
    [PROTO_REQ_HASHRATE] = {"hashrate", {STR("worker", 64), UINT("rate")}},
    [PROTO_REQ_PEERS] = {"peers", {{"peers", PROTO_ARRAY, 0, PROTO_MAX_PEERS, PROTO_MAP, 0}}},
    [PROTO_REQ_GET_MEMPOOL] = {"get_mempool", {UINT("max")}},
    [PROTO_REQ_GET_UNBROADCAST] = {"get_unbroadcast", {{0}}},
    [PROTO_REQ_MARK_BROADCAST] = {"mark_broadcast", {HASHES("txids", PROTO_MAX_INV)}},
};

static const proto_schema_t replies[PROTO_REQ_COUNT] = {
    [PROTO_REQ_GET_TIP] = {"get_tip", {UINT("height"), BIN32("hash"), BIN32("chainwork")}},
    [PROTO_REQ_SUBMIT_TX] = {"submit_tx", {BIN32("txid")}},
    [PROTO_REQ_SUBMIT_BLOCK] = {"submit_block", {BIN32("hash"), STR("status", 8)}},
    [PROTO_REQ_GET_HEADERS] = {"get_headers", {{"headers", PROTO_ARRAY, 0, PROTO_MAX_HEADERS,
                                                PROTO_BIN, 88}}},
    [PROTO_REQ_GET_BLOCK] = {"get_block", {BLOB("block", PROTO_MAX_MSG)}},
    [PROTO_REQ_GET_TX] = {"get_tx", {BLOB("tx", PROTO_MAX_MSG)}},
    [PROTO_REQ_GET_JOB] = {"get_job", JOB_FIELDS},
    [PROTO_REQ_SUBMIT_WORK] = {"submit_work", {BIN32("hash")}},
    [PROTO_REQ_HASHRATE] = {"hashrate", {{0}}},
    [PROTO_REQ_PEERS] = {"peers", {{0}}},
    [PROTO_REQ_GET_MEMPOOL] = {"get_mempool", {HASHES("txids", PROTO_MAX_INV)}},
    [PROTO_REQ_GET_UNBROADCAST] = {"get_unbroadcast", {HASHES("txids", PROTO_MAX_INV)}},
    [PROTO_REQ_MARK_BROADCAST] = {"mark_broadcast", {{0}}},
};

static const proto_schema_t error_reply = {"error", {STR("code", 32), STR("message", 1024)}};

static const proto_schema_t peer_msgs[PROTO_MSG_COUNT] = {
    [PROTO_MSG_HELLO] = {"hello", {UINT63("version"), UINT63("height"), BIN32("tip"),
                                   STR("listen", 255), BINN("node_id", 8)}},
    [PROTO_MSG_ADDR] = {"addr", {{"addrs", PROTO_ARRAY, 0, PROTO_MAX_ADDRS, PROTO_STR, 255}}},
    [PROTO_MSG_INV] = {"inv", {STR("kind", 8), HASHES("hashes", PROTO_MAX_INV)}},
    [PROTO_MSG_GETDATA] = {"getdata", {STR("kind", 8), HASHES("hashes", PROTO_MAX_INV)}},
    [PROTO_MSG_NOTFOUND] = {"notfound", {STR("kind", 8), HASHES("hashes", PROTO_MAX_INV)}},
    [PROTO_MSG_TX] = {"tx", {BLOB("tx", PROTO_MAX_MSG)}},
    [PROTO_MSG_BLOCK] = {"block", {BLOB("block", PROTO_MAX_MSG)}},
    [PROTO_MSG_GETHEADERS] = {"getheaders", {HASHES("locator", PROTO_MAX_LOCATOR)}},
    [PROTO_MSG_HEADERS] = {"headers", {{"headers", PROTO_ARRAY, 0, PROTO_MAX_HEADERS, PROTO_BIN,
                                        88}}},
    [PROTO_MSG_PING] = {"ping", {UINT("nonce")}},
    [PROTO_MSG_PONG] = {"pong", {UINT("nonce")}},
    [PROTO_MSG_CHALLENGE] = {"challenge", {BINN("nonce", 8)}},
    [PROTO_MSG_PROBE] = {"probe", {BINN("node_id", 8)}},
    [PROTO_MSG_PROOF] = {"proof", {BINN("node_id", 8), BINN("nonce", 8)}},
};

/* "seq" comes first in every event and is not listed */
static const proto_schema_t topics[PROTO_TOPIC_COUNT] = {
    [PROTO_TOPIC_BLOCK] = {"block", {BIN32("hash"), UINT("height"), ORIGIN}},
    [PROTO_TOPIC_TX] = {"tx", {BIN32("txid"), ORIGIN}},
    [PROTO_TOPIC_JOB] = {"job", JOB_FIELDS},
    [PROTO_TOPIC_PEER_ADD] = {"peer.add", {STR("hostname", 255)}},
};

const proto_schema_t *proto_schema(proto_family_t family, int type)
{
    switch (family) {
    case PROTO_REQUEST: return type >= 0 && type < PROTO_REQ_COUNT ? &requests[type] : NULL;
    case PROTO_OK_REPLY: return type >= 0 && type < PROTO_REQ_COUNT ? &replies[type] : NULL;
    case PROTO_PEER: return type >= 0 && type < PROTO_MSG_COUNT ? &peer_msgs[type] : NULL;
    case PROTO_EVENT: return type >= 0 && type < PROTO_TOPIC_COUNT ? &topics[type] : NULL;
    }
    return NULL;
}

uint32_t proto_schema_fields(const proto_schema_t *s)
{
    uint32_t n = 0;
    while (n < PROTO_MAX_FIELDS && s->fields[n].key)
        n++;
    return n;
}

const char *proto_req_name(proto_req_t type) { return requests[type].name; }
const char *proto_msg_name(proto_msg_t type) { return peer_msgs[type].name; }
const char *proto_topic_name(proto_topic_t topic) { return topics[topic].name; }

static bool str_is(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* Finds key in a map that starts at b->p; on success *r sits on its value. */
static int find(const proto_body_t *b, const char *key, mp_reader_t *r)
{
    uint32_t n;
    mp_reader_init(r, b->p, b->len, false);
    if (mp_get_map(r, &n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t klen;
        if (mp_get_str(r, &k, &klen) < 0)
            return -1;
        if (str_is(k, klen, key))
            return 0;
        if (mp_skip(r) < 0)
            return -1;
    }
    return -1;
}

bool proto_has(const proto_body_t *b, const char *key)
{
    mp_reader_t r;
    return find(b, key, &r) == 0;
}

int proto_get_uint(const proto_body_t *b, const char *key, uint64_t *v)
{
    mp_reader_t r;
    return find(b, key, &r) < 0 ? -1 : mp_get_uint(&r, v);
}

int proto_get_bool(const proto_body_t *b, const char *key, bool *v)
{
    mp_reader_t r;
    return find(b, key, &r) < 0 ? -1 : mp_get_bool(&r, v);
}

int proto_get_bin(const proto_body_t *b, const char *key, const uint8_t **data, size_t *len)
{
    mp_reader_t r;
    return find(b, key, &r) < 0 ? -1 : mp_get_bin(&r, data, len);
}

int proto_get_bin_exact(const proto_body_t *b, const char *key, void *out, size_t len)
{
    mp_reader_t r;
    return find(b, key, &r) < 0 ? -1 : mp_get_bin_exact(&r, out, len);
}

int proto_get_str(const proto_body_t *b, const char *key, char *out, size_t cap)
{
    mp_reader_t r;
    const char *s;
    size_t len;
    if (find(b, key, &r) < 0 || mp_get_str(&r, &s, &len) < 0 || len >= cap)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

int proto_get_array(const proto_body_t *b, const char *key, mp_reader_t *r, uint32_t *n)
{
    if (find(b, key, r) < 0)
        return -1;
    return mp_get_array(r, n);
}

/* One value of a field's kind, with its length bounds. */
static int check_value(mp_reader_t *r, proto_kind_t kind, uint32_t exact, uint32_t max)
{
    const uint8_t *d;
    const char *s;
    size_t len;
    uint64_t u;
    bool flag;
    uint32_t n;
    switch (kind) {
    case PROTO_UINT: return mp_get_uint(r, &u) < 0 || (exact && exact < 64 && u >> exact) ? -1 : 0;
    case PROTO_BOOL: return mp_get_bool(r, &flag);
    case PROTO_STR:
        return mp_get_str(r, &s, &len) < 0 || (exact && len > exact) ? -1 : 0;
    case PROTO_BIN:
        if (mp_get_bin(r, &d, &len) < 0 || (exact && len != exact) || (max && len > max))
            return -1;
        return 0;
    case PROTO_MAP:
        return mp_peek(r) == MP_MAP ? mp_skip(r) : -1;
    case PROTO_ARRAY:
        return mp_get_array(r, &n); /* elements are checked by the caller */
    }
    return -1;
}

static int check_field(const proto_body_t *body, const proto_field_t *f, err_t *e)
{
    mp_reader_t r;
    if (find(body, f->key, &r) < 0)
        return err_set(e, ERR_BAD_REQUEST, "field \"%s\" is missing", f->key);
    if (f->kind != PROTO_ARRAY) {
        if (check_value(&r, f->kind, f->len, f->max) < 0)
            return err_set(e, ERR_BAD_REQUEST, "field \"%s\" has the wrong type, length or range",
                           f->key);
        return 0;
    }
    uint32_t n;
    if (mp_get_array(&r, &n) < 0 || n > f->max)
        return err_set(e, ERR_BAD_REQUEST, "field \"%s\" must be an array of at most %u",
                       f->key, f->max);
    for (uint32_t i = 0; i < n; i++)
        if (check_value(&r, f->elem, f->elem_len, 0) < 0)
            return err_set(e, ERR_BAD_REQUEST, "element %u of \"%s\" has the wrong type or length",
                           i, f->key);
    return 0;
}

static int check_fields(const proto_schema_t *s, const proto_body_t *body, err_t *e)
{
    for (uint32_t f = 0; f < PROTO_MAX_FIELDS && s->fields[f].key; f++) {
        int rc = check_field(body, &s->fields[f], e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A body must be a map with distinct string keys and well-formed values. */
#define MAX_KEYS 32

static int check_body(mp_reader_t *r, proto_body_t *body, err_t *e)
{
    size_t start = r->pos;
    uint32_t n;
    const char *keys[MAX_KEYS];
    size_t key_lens[MAX_KEYS];
    if (mp_get_map(r, &n) < 0)
        return err_set(e, ERR_BAD_ENCODING, "the body must be a map");
    if (n > MAX_KEYS)
        return err_set(e, ERR_BAD_ENCODING, "the body has over %d keys", MAX_KEYS);
    for (uint32_t i = 0; i < n; i++) {
        if (mp_get_str(r, &keys[i], &key_lens[i]) < 0)
            return err_set(e, ERR_BAD_ENCODING, "body key %u is not a string", i);
        for (uint32_t j = 0; j < i; j++)
            if (key_lens[j] == key_lens[i] && memcmp(keys[j], keys[i], key_lens[i]) == 0)
                return err_set(e, ERR_BAD_ENCODING, "body key %u repeats an earlier key", i);
        if (mp_skip(r) < 0)
            return err_set(e, ERR_BAD_ENCODING, "body value %u is malformed", i);
    }
    body->p = r->p + start;
    body->len = r->pos - start;
    return 0;
}

/* The type of a family whose name is type[0..len), checked against its schema. */
static int check_type(const proto_schema_t *schemas, int count, const char *type, size_t type_len,
                      const proto_body_t *body, int *out, err_t *e)
{
    for (int i = 0; i < count; i++) {
        if (!str_is(type, type_len, schemas[i].name))
            continue;
        *out = i;
        return check_fields(&schemas[i], body, e);
    }
    return err_set(e, ERR_UNKNOWN_TYPE, "unknown message type \"%.*s\"",
                   (int)(type_len > 32 ? 32 : type_len), type);
}

int proto_topic_of(const char *topic, size_t len)
{
    for (int i = 0; i < PROTO_TOPIC_COUNT; i++)
        if (str_is(topic, len, topics[i].name))
            return i;
    return -1;
}

static int open_envelope(mp_reader_t *r, const uint8_t *data, size_t len, err_t *e)
{
    uint32_t n;
    if (len > PROTO_MAX_MSG)
        return err_set(e, ERR_TOO_LARGE, "message of %zu bytes, over %u", len, PROTO_MAX_MSG);
    mp_reader_init(r, data, len, false);
    if (mp_get_array(r, &n) < 0 || n != 3)
        return err_set(e, ERR_BAD_ENCODING, "a message is an array of three");
    return 0;
}

static int close_envelope(const mp_reader_t *r, err_t *e)
{
    if (mp_left(r))
        return err_set(e, ERR_BAD_ENCODING, "%zu trailing bytes after the message", mp_left(r));
    return 0;
}

int proto_decode_request(proto_request_t *req, const uint8_t *data, size_t len, err_t *e)
{
    mp_reader_t r;
    const char *type;
    size_t type_len;
    int t = 0;
    memset(req, 0, sizeof *req);
    int rc = open_envelope(&r, data, len, e);
    if (rc < 0)
        return rc;
    if (mp_get_str(&r, &type, &type_len) < 0 || mp_get_uint(&r, &req->id) < 0)
        return err_set(e, ERR_BAD_ENCODING, "a request starts with a type string and an id");
    if ((rc = check_body(&r, &req->body, e)) < 0 || (rc = close_envelope(&r, e)) < 0 ||
        (rc = check_type(requests, PROTO_REQ_COUNT, type, type_len, &req->body, &t, e)) < 0)
        return rc;
    req->type = (proto_req_t)t;
    return 0;
}

int proto_decode_reply(proto_reply_t *rep, const uint8_t *data, size_t len, err_t *e)
{
    mp_reader_t r;
    const char *status;
    size_t status_len;
    memset(rep, 0, sizeof *rep);
    int rc = open_envelope(&r, data, len, e);
    if (rc < 0)
        return rc;
    if (mp_get_str(&r, &status, &status_len) < 0 || mp_get_uint(&r, &rep->id) < 0)
        return err_set(e, ERR_BAD_ENCODING, "a reply starts with \"ok\" or \"error\" and an id");
    if ((rc = check_body(&r, &rep->body, e)) < 0 || (rc = close_envelope(&r, e)) < 0)
        return rc;
    if (str_is(status, status_len, "ok")) {
        rep->ok = true;
        return 0;
    }
    if (!str_is(status, status_len, error_reply.name))
        return err_set(e, ERR_BAD_ENCODING, "a reply's status is \"ok\" or \"error\"");
    /* Any code string is taken (one this build does not know, however long,
     * is ERR_INTERNAL; "ok" is no error code) and a long message is truncated. */
    mp_reader_t cr, mr;
    const char *code, *msg;
    size_t code_len, msg_len;
    if (find(&rep->body, "code", &cr) < 0 || mp_get_str(&cr, &code, &code_len) < 0 ||
        find(&rep->body, "message", &mr) < 0 || mp_get_str(&mr, &msg, &msg_len) < 0)
        return err_set(e, ERR_BAD_ENCODING, "an error reply needs string code and message");
    char name[32];
    rep->code = ERR_COUNT_;
    if (code_len < sizeof name && !memchr(code, '\0', code_len)) {
        memcpy(name, code, code_len);
        name[code_len] = '\0';
        rep->code = err_from_str(name);
    }
    if (rep->code == ERR_COUNT_ || rep->code == ERR_OK)
        rep->code = ERR_INTERNAL;
    if (msg_len >= sizeof rep->message)
        msg_len = sizeof rep->message - 1;
    memcpy(rep->message, msg, msg_len);
    rep->message[msg_len] = '\0';
    return 0;
}

int proto_decode_event(proto_event_t *ev, const char *topic, size_t topic_len,
                       const uint8_t *data, size_t len, err_t *e)
{
    memset(ev, 0, sizeof *ev);
    int t = proto_topic_of(topic, topic_len);
    if (t < 0)
        return err_set(e, ERR_UNKNOWN_TYPE, "unknown event topic");
    if (len > PROTO_MAX_MSG)
        return err_set(e, ERR_TOO_LARGE, "event of %zu bytes, over %u", len, PROTO_MAX_MSG);
    mp_reader_t r;
    mp_reader_init(&r, data, len, false);
    int rc = check_body(&r, &ev->body, e);
    if (rc < 0 || (rc = close_envelope(&r, e)) < 0)
        return rc;
    if (proto_get_uint(&ev->body, "seq", &ev->seq) < 0)
        return err_set(e, ERR_BAD_REQUEST, "an event needs a \"seq\" counter");
    if ((rc = check_fields(&topics[t], &ev->body, e)) < 0)
        return rc;
    ev->type = (proto_topic_t)t;
    memcpy(ev->topic, topic, topic_len);
    ev->topic[topic_len] = '\0';
    return 0;
}

/* A peer message for network (NULL: any network). */
static int decode_peer(proto_peer_msg_t *msg, const char *network, const uint8_t *data,
                       size_t len, err_t *e)
{
    mp_reader_t r;
    const char *net, *type;
    size_t net_len, type_len;
    int t = 0;
    memset(msg, 0, sizeof *msg);
    int rc = open_envelope(&r, data, len, e);
    if (rc < 0)
        return rc;
    if (mp_get_str(&r, &net, &net_len) < 0 || mp_get_str(&r, &type, &type_len) < 0)
        return err_set(e, ERR_BAD_ENCODING, "a peer message starts with network and type");
    if (network && !str_is(net, net_len, network))
        return err_set(e, ERR_BAD_NETWORK, "a message for another network");
    if ((rc = check_body(&r, &msg->body, e)) < 0 || (rc = close_envelope(&r, e)) < 0 ||
        (rc = check_type(peer_msgs, PROTO_MSG_COUNT, type, type_len, &msg->body, &t, e)) < 0)
        return rc;
    msg->type = (proto_msg_t)t;
    return 0;
}

int proto_decode_peer(proto_peer_msg_t *msg, const char *network, const uint8_t *data,
                      size_t len, err_t *e)
{
    return decode_peer(msg, network, data, len, e);
}

/* --- encoding --------------------------------------------------------------------- */

void proto_begin_request(mp_buf_t *b, const char *type, uint64_t id, uint32_t n_fields)
{
    mp_put_array(b, 3);
    mp_put_cstr(b, type);
    mp_put_uint(b, id);
    mp_put_map(b, n_fields);
}

void proto_begin_ok(mp_buf_t *b, uint64_t id, uint32_t n_fields)
{
    proto_begin_request(b, "ok", id, n_fields);
}

void proto_open_request(mp_buf_t *b, proto_req_t type, uint64_t id)
{
    proto_begin_request(b, requests[type].name, id, proto_schema_fields(&requests[type]));
}

void proto_open_ok(mp_buf_t *b, proto_req_t type, uint64_t id)
{
    proto_begin_ok(b, id, proto_schema_fields(&replies[type]));
}

void proto_error(mp_buf_t *b, uint64_t id, err_code_t code, const char *message)
{
    proto_begin_request(b, error_reply.name, id, proto_schema_fields(&error_reply));
    mp_put_cstr(b, "code");
    mp_put_cstr(b, err_str(code));
    mp_put_cstr(b, "message");
    mp_put_cstr(b, message);
}

void proto_open_event(mp_buf_t *b, proto_topic_t topic, uint64_t seq)
{
    mp_put_map(b, proto_schema_fields(&topics[topic]) + 1);
    mp_put_cstr(b, "seq");
    mp_put_uint(b, seq);
}

void proto_open_peer(mp_buf_t *b, const char *network, proto_msg_t type)
{
    mp_put_array(b, 3);
    mp_put_cstr(b, network);
    mp_put_cstr(b, peer_msgs[type].name);
    mp_put_map(b, proto_schema_fields(&peer_msgs[type]));
}

/* --- checks of what a sender wrote ---------------------------------------------- */

/* The body holds the schema's fields (extra ones among them) and no more. */
static int check_exact(const char *what, const proto_schema_t *s, uint32_t extra,
                       const proto_body_t *body, err_t *e)
{
    err_t why;
    mp_reader_t r;
    uint32_t n = 0, want = proto_schema_fields(s) + extra;
    if (check_fields(s, body, &why) < 0)
        return err_set(e, ERR_INTERNAL, "%s %s breaks its schema: %s", what, s->name,
                       why.message);
    mp_reader_init(&r, body->p, body->len, false);
    if (mp_get_map(&r, &n) < 0 || n != want)
        return err_set(e, ERR_INTERNAL, "%s %s has %u fields, its schema %u", what, s->name, n,
                       want);
    return 0;
}

static int not_decoded(const char *what, const err_t *why, err_t *e)
{
    return err_set(e, ERR_INTERNAL, "%s does not decode: %s", what, why->message);
}

static int wrong_type(const char *what, const char *got, const char *want, err_t *e)
{
    return err_set(e, ERR_INTERNAL, "%s is a %s, not a %s", what, got, want);
}

static int check_request(proto_req_t type, const uint8_t *data, size_t len, err_t *e)
{
    proto_request_t req;
    err_t why;
    if (proto_decode_request(&req, data, len, &why) < 0)
        return not_decoded("a request", &why, e);
    if (req.type != type)
        return wrong_type("a request", requests[req.type].name, requests[type].name, e);
    return check_exact("request", &requests[type], 0, &req.body, e);
}

static int check_reply(proto_req_t type, const uint8_t *data, size_t len, err_t *e)
{
    proto_reply_t rep;
    err_t why;
    if (proto_decode_reply(&rep, data, len, &why) < 0)
        return not_decoded("a reply", &why, e);
    if (rep.ok)
        return check_exact("the reply to", &replies[type], 0, &rep.body, e);
    char code[33];
    if (proto_get_str(&rep.body, "code", code, sizeof code) < 0 ||
        err_from_str(code) == ERR_COUNT_ || err_from_str(code) == ERR_OK)
        return err_set(e, ERR_INTERNAL, "an error reply without a known code");
    return check_exact("reply", &error_reply, 0, &rep.body, e);
}

static int check_event(proto_topic_t topic, const uint8_t *data, size_t len, err_t *e)
{
    proto_event_t ev;
    err_t why;
    const char *name = topics[topic].name;
    if (proto_decode_event(&ev, name, strlen(name), data, len, &why) < 0)
        return not_decoded("an event", &why, e);
    return check_exact("event", &topics[topic], 1, &ev.body, e);
}

static int check_peer(proto_msg_t type, const uint8_t *data, size_t len, err_t *e)
{
    proto_peer_msg_t msg;
    err_t why;
    if (decode_peer(&msg, NULL, data, len, &why) < 0)
        return not_decoded("a peer message", &why, e);
    if (msg.type != type)
        return wrong_type("a peer message", peer_msgs[msg.type].name, peer_msgs[type].name, e);
    return check_exact("peer message", &peer_msgs[type], 0, &msg.body, e);
}

int proto_check(proto_family_t family, int type, const uint8_t *data, size_t len, err_t *e)
{
    if (!proto_schema(family, type))
        return err_set(e, ERR_INTERNAL, "no message type %d in family %d", type, (int)family);
    switch (family) {
    case PROTO_REQUEST: return check_request((proto_req_t)type, data, len, e);
    case PROTO_OK_REPLY: return check_reply((proto_req_t)type, data, len, e);
    case PROTO_PEER: return check_peer((proto_msg_t)type, data, len, e);
    case PROTO_EVENT: return check_event((proto_topic_t)type, data, len, e);
    }
    return err_set(e, ERR_INTERNAL, "no message family %d", (int)family);
}

void proto_assert(proto_family_t family, int type, const uint8_t *data, size_t len)
{
#ifdef NDEBUG
    (void)family, (void)type, (void)data, (void)len;
#else
    err_t e;
    if (proto_check(family, type, data, len, &e) < 0) {
        fprintf(stderr, "proto: a sender broke its schema: %s\n", e.message);
        abort();
    }
#endif
}
