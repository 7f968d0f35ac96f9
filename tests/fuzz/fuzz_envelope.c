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
 *   - every field of the type's schema (proto_schema(), the decoders' own
 *     table) is there and of its kind, so the getters succeed (proto.h: "a
 *     schema's fields are always present and of their kind"), and a getter
 *     of another kind answers -1, never a wrong value;
 *   - an error reply carries a code in the table and a NUL-terminated message;
 *   - an event's seq is the body's "seq", and its topic the one asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mp.h"
#include "proto.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_inside(const proto_body_t *b, const uint8_t *data, size_t len)
{
    CHECK(b->p >= data && b->len >= 1 && b->len <= len && b->p + b->len <= data + len);
}

static void check_value(mp_reader_t *r, proto_kind_t kind, uint32_t len)
{
    uint64_t u;
    bool flag;
    const uint8_t *d;
    const char *str;
    size_t n;
    uint32_t count;
    switch (kind) {
    case PROTO_UINT: CHECK(mp_get_uint(r, &u) == 0); break;
    case PROTO_BOOL: CHECK(mp_get_bool(r, &flag) == 0); break;
    case PROTO_STR: CHECK(mp_get_str(r, &str, &n) == 0 && n <= len); break;
    case PROTO_BIN: CHECK(mp_get_bin(r, &d, &n) == 0 && (!len || n == len)); break;
    case PROTO_MAP: CHECK(mp_peek(r) == MP_MAP && mp_skip(r) == 0); break;
    case PROTO_ARRAY: CHECK(mp_get_array(r, &count) == 0); break;
    }
}

static void check_fields(const proto_schema_t *s, const proto_body_t *b)
{
    CHECK(s != NULL);
    for (uint32_t f = 0; f < proto_schema_fields(s); f++) {
        const proto_field_t *fl = &s->fields[f];
        mp_reader_t r;
        uint32_t count;
        uint64_t u;
        bool flag;
        const uint8_t *d;
        size_t n;
        char str[1100];
        CHECK(proto_has(b, fl->key));
        switch (fl->kind) {
        case PROTO_UINT: CHECK(proto_get_uint(b, fl->key, &u) == 0); break;
        case PROTO_BOOL: CHECK(proto_get_bool(b, fl->key, &flag) == 0); break;
        case PROTO_MAP: break;
        case PROTO_STR:
            CHECK(fl->len < sizeof str && proto_get_str(b, fl->key, str, fl->len + 1) == 0);
            CHECK(strlen(str) <= fl->len);
            break;
        case PROTO_BIN:
            CHECK(proto_get_bin(b, fl->key, &d, &n) == 0 && (!fl->len || n == fl->len));
            break;
        case PROTO_ARRAY:
            CHECK(proto_get_array(b, fl->key, &r, &count) == 0 && count <= fl->max);
            for (uint32_t i = 0; i < count; i++)
                check_value(&r, fl->elem, fl->elem_len);
            break;
        }
        /* a getter of another kind answers -1, never a wrong value */
        if (fl->kind != PROTO_UINT)
            CHECK(proto_get_uint(b, fl->key, &u) < 0);
        if (fl->kind != PROTO_ARRAY)
            CHECK(proto_get_array(b, fl->key, &r, &count) < 0);
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
        check_fields(proto_schema(PROTO_REQUEST, (int)req.type), &req.body);
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
        check_fields(proto_schema(PROTO_PEER, (int)msg.type), &msg.body);
    } else {
        check_failure(rc, &e);
    }

    if (len >= 1) {
        int pick = data[0] % (PROTO_TOPIC_COUNT + 1);
        const char *topic = pick < PROTO_TOPIC_COUNT ? proto_topic_name((proto_topic_t)pick)
                                                     : "blocks"; /* an unknown one */
        proto_event_t ev;
        /* a copy of exactly its size, so ASan sees a read past the body */
        uint8_t *body = malloc(len - 1 ? len - 1 : 1);
        CHECK(body != NULL);
        memcpy(body, data + 1, len - 1);
        rc = proto_decode_event(&ev, topic, strlen(topic), body, len - 1, &e);
        if (rc == 0) {
            CHECK(proto_topic_of(topic, strlen(topic)) == (int)ev.type &&
                  strcmp(ev.topic, topic) == 0);
            check_inside(&ev.body, body, len - 1);
            check_fields(proto_schema(PROTO_EVENT, (int)ev.type), &ev.body);
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
