#include "proto.h"

#include <stdio.h>
#include <string.h>

/* Body schemas: what each message type must carry. */
typedef enum { F_UINT, F_STR, F_BIN, F_BOOL, F_MAP, F_ARRAY } field_kind_t;

typedef struct {
    const char *key;
    field_kind_t kind;
    bool required;
    uint32_t len;       /* F_BIN: exact length (0: any up to max); F_STR: max */
    uint32_t max;       /* F_BIN: max length; F_ARRAY: max elements */
    field_kind_t elem;  /* F_ARRAY: element kind (F_BIN uses elem_len) */
    uint32_t elem_len;  /* F_ARRAY of F_BIN: exact element length; of F_STR: max */
} field_t;

#define MAX_FIELDS 6

typedef struct {
    const char *type;
    field_t fields[MAX_FIELDS];
} schema_t;

#define BIN32(k) {k, F_BIN, true, 32, 32, 0, 0}
#define BLOB(k, m) {k, F_BIN, true, 0, m, 0, 0}
#define UINT(k) {k, F_UINT, true, 0, 0, 0, 0}
#define STR(k, m) {k, F_STR, true, m, 0, 0, 0}
#define HASHES(k, m) {k, F_ARRAY, true, 0, m, F_BIN, 32}

static const schema_t requests[] = {
    {"get_tip", {{0}}},
    {"submit_tx", {BLOB("tx", PROTO_MAX_MSG), STR("origin", 128)}},
    {"submit_block", {BLOB("block", PROTO_MAX_MSG), STR("origin", 128)}},
    {"get_headers", {HASHES("locator", PROTO_MAX_LOCATOR), UINT("max")}},
    {"get_block", {BIN32("hash")}},
    {"get_tx", {BIN32("txid")}},
    {"get_job", {{0}}},
    {"submit_work", {UINT("job_id"), BLOB("extranonce", 64), UINT("timestamp"), UINT("nonce"),
                     {"payout", F_BIN, true, 20, 20, 0, 0}}},
    {"hashrate", {STR("worker", 64), UINT("rate")}},
    {"peers", {{"peers", F_ARRAY, true, 0, PROTO_MAX_PEERS, F_MAP, 0}}},
};

static const schema_t peer_msgs[] = {
    {"hello", {UINT("version"), UINT("height"), BIN32("tip"), STR("listen", 255),
               {"node_id", F_BIN, true, 8, 8, 0, 0}}},
    {"addr", {{"addrs", F_ARRAY, true, 0, PROTO_MAX_ADDRS, F_STR, 255}}},
    {"inv", {STR("kind", 8), HASHES("hashes", PROTO_MAX_INV)}},
    {"getdata", {STR("kind", 8), HASHES("hashes", PROTO_MAX_INV)}},
    {"notfound", {STR("kind", 8), HASHES("hashes", PROTO_MAX_INV)}},
    {"tx", {BLOB("tx", PROTO_MAX_MSG)}},
    {"block", {BLOB("block", PROTO_MAX_MSG)}},
    {"getheaders", {HASHES("locator", PROTO_MAX_LOCATOR)}},
    {"headers", {{"headers", F_ARRAY, true, 0, PROTO_MAX_HEADERS, F_BIN, 88}}},
    {"ping", {UINT("nonce")}},
    {"pong", {UINT("nonce")}},
};

static const char *const topics[] = {"block", "tx", "job", "peer.add"};

bool proto_topic_known(const char *topic, size_t len)
{
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        if (strlen(topics[i]) == len && memcmp(topics[i], topic, len) == 0)
            return true;
    return false;
}

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
static int check_value(mp_reader_t *r, field_kind_t kind, uint32_t exact, uint32_t max)
{
    const uint8_t *d;
    const char *s;
    size_t len;
    uint64_t u;
    bool flag;
    uint32_t n;
    switch (kind) {
    case F_UINT: return mp_get_uint(r, &u);
    case F_BOOL: return mp_get_bool(r, &flag);
    case F_STR:
        return mp_get_str(r, &s, &len) < 0 || (exact && len > exact) ? -1 : 0;
    case F_BIN:
        if (mp_get_bin(r, &d, &len) < 0 || (exact && len != exact) || (max && len > max))
            return -1;
        return 0;
    case F_MAP:
        return mp_peek(r) == MP_MAP ? mp_skip(r) : -1;
    case F_ARRAY:
        return mp_get_array(r, &n); /* elements are checked by the caller */
    }
    return -1;
}

static int check_field(const proto_body_t *body, const field_t *f, err_t *e)
{
    mp_reader_t r;
    if (find(body, f->key, &r) < 0) {
        if (f->required)
            return err_set(e, ERR_BAD_REQUEST, "field \"%s\" is missing", f->key);
        return 0;
    }
    if (f->kind != F_ARRAY) {
        if (check_value(&r, f->kind, f->len, f->max) < 0)
            return err_set(e, ERR_BAD_REQUEST, "field \"%s\" has the wrong type or length",
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

static int check_schema(const schema_t *schemas, size_t count, const char *type, size_t type_len,
                        const proto_body_t *body, const char **name, err_t *e)
{
    for (size_t i = 0; i < count; i++) {
        if (!str_is(type, type_len, schemas[i].type))
            continue;
        for (int f = 0; f < MAX_FIELDS && schemas[i].fields[f].key; f++) {
            int rc = check_field(body, &schemas[i].fields[f], e);
            if (rc < 0)
                return rc;
        }
        *name = schemas[i].type;
        return 0;
    }
    return err_set(e, ERR_UNKNOWN_TYPE, "unknown message type \"%.*s\"",
                   (int)(type_len > 32 ? 32 : type_len), type);
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
    const char *type, *name = NULL;
    size_t type_len;
    memset(req, 0, sizeof *req);
    int rc = open_envelope(&r, data, len, e);
    if (rc < 0)
        return rc;
    if (mp_get_str(&r, &type, &type_len) < 0 || mp_get_uint(&r, &req->id) < 0)
        return err_set(e, ERR_BAD_ENCODING, "a request starts with a type string and an id");
    if ((rc = check_body(&r, &req->body, e)) < 0 || (rc = close_envelope(&r, e)) < 0 ||
        (rc = check_schema(requests, sizeof requests / sizeof requests[0], type, type_len,
                           &req->body, &name, e)) < 0)
        return rc;
    snprintf(req->type, sizeof req->type, "%s", name);
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
    if (!str_is(status, status_len, "error"))
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
    if (!proto_topic_known(topic, topic_len))
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
    memcpy(ev->topic, topic, topic_len);
    ev->topic[topic_len] = '\0';
    return 0;
}

int proto_decode_peer(proto_peer_msg_t *msg, const char *network, const uint8_t *data,
                      size_t len, err_t *e)
{
    mp_reader_t r;
    const char *net, *type, *name = NULL;
    size_t net_len, type_len;
    memset(msg, 0, sizeof *msg);
    int rc = open_envelope(&r, data, len, e);
    if (rc < 0)
        return rc;
    if (mp_get_str(&r, &net, &net_len) < 0 || mp_get_str(&r, &type, &type_len) < 0)
        return err_set(e, ERR_BAD_ENCODING, "a peer message starts with network and type");
    if (!str_is(net, net_len, network))
        return err_set(e, ERR_BAD_NETWORK, "a message for another network");
    if ((rc = check_body(&r, &msg->body, e)) < 0 || (rc = close_envelope(&r, e)) < 0 ||
        (rc = check_schema(peer_msgs, sizeof peer_msgs / sizeof peer_msgs[0], type, type_len,
                           &msg->body, &name, e)) < 0)
        return rc;
    snprintf(msg->type, sizeof msg->type, "%s", name);
    return 0;
}

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

void proto_error(mp_buf_t *b, uint64_t id, err_code_t code, const char *message)
{
    proto_begin_request(b, "error", id, 2);
    mp_put_cstr(b, "code");
    mp_put_cstr(b, err_str(code));
    mp_put_cstr(b, "message");
    mp_put_cstr(b, message);
}

void proto_begin_event(mp_buf_t *b, uint64_t seq, uint32_t n_fields)
{
    mp_put_map(b, n_fields + 1);
    mp_put_cstr(b, "seq");
    mp_put_uint(b, seq);
}

void proto_begin_peer(mp_buf_t *b, const char *network, const char *type, uint32_t n_fields)
{
    mp_put_array(b, 3);
    mp_put_cstr(b, network);
    mp_put_cstr(b, type);
    mp_put_map(b, n_fields);
}
