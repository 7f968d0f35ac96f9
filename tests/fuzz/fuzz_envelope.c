/* fuzz_envelope: the daemon and peer message decoders on the same input.
 *
 *   proto_decode_request(input)
 *   proto_decode_reply(input)
 *   proto_decode_peer("regtest", input)
 *   proto_decode_event(topic, input + 1): the topic is picked by input[0]
 *     (one of the known topics, or an unknown one)
 *
 * Invariants (abort() when broken):
 *   - a failure answers a documented code, the one err_set() recorded;
 *   - a decoded message's body lies inside the input and its type is a known one;
 *   - every field the type's schema requires is there and of its kind, so the
 *     getters succeed (proto.h: "a schema's required fields are always present
 *     and of their kind"): the tables below mirror proto.c's schemas;
 *   - an error reply carries a code in the table and a NUL-terminated message;
 *   - an event's seq is the body's "seq".
 * Keep the tables in step with proto.c: a decoded type missing here aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mp.h"
#include "proto.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

typedef enum { K_UINT, K_STR, K_BIN, K_HASHES, K_HEADERS, K_STRS, K_MAPS } kind_t;

typedef struct {
    const char *key;
    kind_t kind;
    size_t len; /* K_BIN: exact length (0: any); K_STR: max length */
} field_t;

typedef struct {
    const char *type;
    field_t fields[6];
} schema_t;

static const schema_t requests[] = {
    {"get_tip", {{0}}},
    {"submit_tx", {{"tx", K_BIN, 0}, {"origin", K_STR, 128}}},
    {"submit_block", {{"block", K_BIN, 0}, {"origin", K_STR, 128}}},
    {"get_headers", {{"locator", K_HASHES, 0}, {"max", K_UINT, 0}}},
    {"get_block", {{"hash", K_BIN, 32}}},
    {"get_tx", {{"txid", K_BIN, 32}}},
    {"get_job", {{0}}},
    {"submit_work", {{"job_id", K_UINT, 0}, {"extranonce", K_BIN, 0}, {"timestamp", K_UINT, 0},
                     {"nonce", K_UINT, 0}, {"payout", K_BIN, 20}}},
    {"hashrate", {{"worker", K_STR, 64}, {"rate", K_UINT, 0}}},
    {"peers", {{"peers", K_MAPS, 0}}},
};

static const schema_t peer_msgs[] = {
    {"hello", {{"version", K_UINT, 0}, {"height", K_UINT, 0}, {"tip", K_BIN, 32},
               {"listen", K_STR, 255}, {"node_id", K_BIN, 8}}},
    {"addr", {{"addrs", K_STRS, 0}}},
    {"inv", {{"kind", K_STR, 8}, {"hashes", K_HASHES, 0}}},
    {"getdata", {{"kind", K_STR, 8}, {"hashes", K_HASHES, 0}}},
    {"notfound", {{"kind", K_STR, 8}, {"hashes", K_HASHES, 0}}},
    {"tx", {{"tx", K_BIN, 0}}},
    {"block", {{"block", K_BIN, 0}}},
    {"getheaders", {{"locator", K_HASHES, 0}}},
    {"headers", {{"headers", K_HEADERS, 0}}},
    {"ping", {{"nonce", K_UINT, 0}}},
    {"pong", {{"nonce", K_UINT, 0}}},
};

static const char *const topics[] = {"block", "tx", "job", "peer.add", "blocks"};

static const schema_t *find_schema(const schema_t *s, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].type, type) == 0)
            return &s[i];
    return NULL;
}

static void check_inside(const proto_body_t *b, const uint8_t *data, size_t len)
{
    CHECK(b->p >= data && b->len >= 1 && b->len <= len && b->p + b->len <= data + len);
}

static void check_fields(const schema_t *s, const proto_body_t *b)
{
    CHECK(s != NULL);
    for (int f = 0; f < 6 && s->fields[f].key; f++) {
        const field_t *fl = &s->fields[f];
        CHECK(proto_has(b, fl->key));
        uint64_t u;
        const uint8_t *d;
        size_t n;
        char str[256];
        mp_reader_t r;
        uint32_t count;
        switch (fl->kind) {
        case K_UINT:
            CHECK(proto_get_uint(b, fl->key, &u) == 0);
            break;
        case K_STR:
            CHECK(proto_get_str(b, fl->key, str, fl->len + 1) == 0);
            CHECK(strlen(str) <= fl->len);
            break;
        case K_BIN:
            CHECK(proto_get_bin(b, fl->key, &d, &n) == 0);
            if (fl->len) {
                uint8_t exact[32];
                CHECK(n == fl->len);
                CHECK(proto_get_bin_exact(b, fl->key, exact, fl->len) == 0);
            }
            break;
        case K_HASHES:
        case K_HEADERS:
        case K_STRS:
        case K_MAPS:
            CHECK(proto_get_array(b, fl->key, &r, &count) == 0);
            for (uint32_t i = 0; i < count; i++) {
                if (fl->kind == K_HASHES) {
                    uint8_t h[32];
                    CHECK(mp_get_bin_exact(&r, h, 32) == 0);
                } else if (fl->kind == K_HEADERS) {
                    uint8_t h[88];
                    CHECK(mp_get_bin_exact(&r, h, 88) == 0);
                } else if (fl->kind == K_STRS) {
                    const char *s8;
                    CHECK(mp_get_str(&r, &s8, &n) == 0 && n <= 255);
                } else {
                    CHECK(mp_peek(&r) == MP_MAP && mp_skip(&r) == 0);
                }
            }
            break;
        }
        /* a getter of another kind answers -1, never a wrong value */
        if (fl->kind != K_UINT)
            CHECK(proto_get_uint(b, fl->key, &u) < 0);
    }
}

static void check_failure(int rc, const err_t *e)
{
    CHECK(rc < 0 && rc == -(int)e->code);
    CHECK(e->code == ERR_TOO_LARGE || e->code == ERR_BAD_ENCODING ||
          e->code == ERR_UNKNOWN_TYPE || e->code == ERR_BAD_NETWORK ||
          e->code == ERR_BAD_REQUEST);
    CHECK(memchr(e->message, '\0', sizeof e->message) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    err_t e;
    int rc;

    proto_request_t req;
    rc = proto_decode_request(&req, data, len, &e);
    if (rc == 0) {
        check_inside(&req.body, data, len);
        check_fields(find_schema(requests, sizeof requests / sizeof requests[0], req.type),
                     &req.body);
    } else {
        check_failure(rc, &e);
    }

    proto_reply_t rep;
    rc = proto_decode_reply(&rep, data, len, &e);
    if (rc == 0) {
        check_inside(&rep.body, data, len);
        if (!rep.ok) {
            CHECK(rep.code > ERR_OK && rep.code < ERR_COUNT_);
            CHECK(memchr(rep.message, '\0', sizeof rep.message) != NULL);
            CHECK(proto_has(&rep.body, "code") && proto_has(&rep.body, "message"));
        }
    } else {
        check_failure(rc, &e);
        CHECK(e.code != ERR_UNKNOWN_TYPE && e.code != ERR_BAD_REQUEST);
    }

    proto_peer_msg_t msg;
    rc = proto_decode_peer(&msg, "regtest", data, len, &e);
    if (rc == 0) {
        check_inside(&msg.body, data, len);
        check_fields(find_schema(peer_msgs, sizeof peer_msgs / sizeof peer_msgs[0], msg.type),
                     &msg.body);
    } else {
        check_failure(rc, &e);
    }

    if (len >= 1) {
        const char *topic = topics[data[0] % (sizeof topics / sizeof topics[0])];
        proto_event_t ev;
        /* a copy of exactly its size, so ASan sees a read past the body */
        uint8_t *body = malloc(len - 1 ? len - 1 : 1);
        CHECK(body != NULL);
        memcpy(body, data + 1, len - 1);
        rc = proto_decode_event(&ev, topic, strlen(topic), body, len - 1, &e);
        if (rc == 0) {
            CHECK(proto_topic_known(topic, strlen(topic)) && strcmp(ev.topic, topic) == 0);
            check_inside(&ev.body, body, len - 1);
            uint64_t seq;
            CHECK(proto_get_uint(&ev.body, "seq", &seq) == 0 && seq == ev.seq);
        } else {
            check_failure(rc, &e);
            CHECK(e.code != ERR_BAD_NETWORK);
        }
        free(body);
    }
    return 0;
}
