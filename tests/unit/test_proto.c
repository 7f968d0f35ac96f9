/* proto.h: the envelopes of DESIGN §2 — requests, replies, events and peer
 * messages. The decoders first, on messages written by hand (raw heads and
 * mp_put_*(), malformed ones too): every rejection with its code (and, for a
 * body that breaks its schema, the field named in the message). Then the
 * schema table: every type's wire name and enum, the encoders that open a
 * message from its schema, and proto_check() catching a sender that breaks
 * its own schema. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mp.h"
#include "proto.h"
#include "sample.h"

/* ---- helpers ---------------------------------------------------------- */

static mp_buf_t b;

static void setup(void) { mp_buf_init(&b, (size_t)PROTO_MAX_MSG + 4096); }
static void teardown(void) { mp_buf_free(&b); }

TestSuite(proto, .init = setup, .fini = teardown);

static const uint8_t h32[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t blob[5] = {0xde, 0xad, 0xbe, 0xef, 0x00};

/* Raw heads of a peer message and an event, counts given by hand. */
static void raw_peer(const char *network, const char *type, uint32_t n)
{
    mp_put_array(&b, 3);
    mp_put_cstr(&b, network);
    mp_put_cstr(&b, type);
    mp_put_map(&b, n);
}

static void raw_event(uint64_t seq, uint32_t n)
{
    mp_put_map(&b, n + 1);
    mp_put_cstr(&b, "seq");
    mp_put_uint(&b, seq);
}

static void kv_uint(const char *k, uint64_t v) { mp_put_cstr(&b, k); mp_put_uint(&b, v); }
static void kv_str(const char *k, const char *v) { mp_put_cstr(&b, k); mp_put_cstr(&b, v); }
static void kv_bin(const char *k, const void *d, size_t n)
{
    mp_put_cstr(&b, k);
    mp_put_bin(&b, d, n);
}
/* key: an array of n bins of each bytes (byte i of element j is j+i). */
static void kv_bins(const char *k, uint32_t n, size_t each)
{
    uint8_t e[128];
    mp_put_cstr(&b, k);
    mp_put_array(&b, n);
    for (uint32_t j = 0; j < n; j++) {
        for (size_t i = 0; i < each; i++)
            e[i] = (uint8_t)(j + i);
        mp_put_bin(&b, e, each);
    }
}

/* Decodes b's bytes from an exact-size copy (a read past the end would be a
 * read past the allocation). */
static uint8_t *copy_of(const uint8_t *d, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    cr_assert_not_null(c);
    if (len)
        memcpy(c, d, len);
    return c;
}

static int dec_request(proto_request_t *r, err_t *e)
{
    cr_assert(mp_buf_ok(&b));
    return proto_decode_request(r, b.data, b.len, e);
}

static int dec_reply(proto_reply_t *r, err_t *e)
{
    cr_assert(mp_buf_ok(&b));
    return proto_decode_reply(r, b.data, b.len, e);
}

static int dec_peer(proto_peer_msg_t *m, const char *network, err_t *e)
{
    cr_assert(mp_buf_ok(&b));
    return proto_decode_peer(m, network, b.data, b.len, e);
}

static int dec_event(proto_event_t *ev, const char *topic, err_t *e)
{
    cr_assert(mp_buf_ok(&b));
    return proto_decode_event(ev, topic, strlen(topic), b.data, b.len, e);
}

static void expect_fail(int rc, const err_t *e, err_code_t code, const char *field)
{
    cr_assert_eq(rc, -(int)code, "want %s, got rc %d (%s: %s)", err_str(code), rc,
                 rc < 0 ? err_str((err_code_t)-rc) : "ok", rc < 0 ? e->message : "");
    cr_assert_eq(e->code, code);
    if (field) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", field);
        cr_assert_not_null(strstr(e->message, quoted), "message \"%s\" does not name %s",
                           e->message, quoted);
    }
}

static void expect_request_fail(err_code_t code, const char *field)
{
    proto_request_t r;
    err_t e;
    expect_fail(dec_request(&r, &e), &e, code, field);
    mp_buf_reset(&b);
}

static void expect_peer_fail(err_code_t code, const char *field)
{
    proto_peer_msg_t m;
    err_t e;
    expect_fail(dec_peer(&m, "regtest", &e), &e, code, field);
    mp_buf_reset(&b);
}

static void decode_request_ok(proto_request_t *r, const char *type, uint64_t id)
{
    err_t e;
    int rc = dec_request(r, &e);
    cr_assert_eq(rc, 0, "%s: %s", type, e.message);
    cr_assert_str_eq(proto_req_name(r->type), type);
    cr_assert_eq(r->id, id);
    cr_assert(r->body.p >= b.data && r->body.p + r->body.len == b.data + b.len);
}

static void decode_peer_ok(proto_peer_msg_t *m, const char *type)
{
    err_t e;
    int rc = dec_peer(m, "regtest", &e);
    cr_assert_eq(rc, 0, "%s: %s", type, e.message);
    cr_assert_str_eq(proto_msg_name(m->type), type);
}

/* ---- requests: every type of DESIGN §2 (and docs/PROTOCOL.md) ---------- */

Test(proto, request_get_tip_and_get_job)
{
    static const char *const types[] = {"get_tip", "get_job"};
    for (int i = 0; i < 2; i++) {
        proto_request_t r;
        proto_begin_request(&b, types[i], 7 + (uint64_t)i, 0);
        decode_request_ok(&r, types[i], 7 + (uint64_t)i);
        cr_assert_eq(r.body.len, 1); /* the empty map */
        uint64_t v;
        cr_assert_eq(proto_get_uint(&r.body, "height", &v), -1);
        cr_assert_not(proto_has(&r.body, "height"));
        mp_buf_reset(&b);
    }
}

Test(proto, request_submit_tx_and_submit_block)
{
    static const char *const types[] = {"submit_tx", "submit_block"};
    static const char *const keys[] = {"tx", "block"};
    for (int i = 0; i < 2; i++) {
        proto_request_t r;
        proto_begin_request(&b, types[i], UINT64_MAX, 2);
        kv_bin(keys[i], blob, sizeof blob);
        kv_str("origin", "gossip");
        decode_request_ok(&r, types[i], UINT64_MAX);
        const uint8_t *d;
        size_t n;
        cr_assert_eq(proto_get_bin(&r.body, keys[i], &d, &n), 0);
        cr_assert_eq(n, sizeof blob);
        cr_assert_arr_eq(d, blob, sizeof blob);
        char origin[16];
        cr_assert_eq(proto_get_str(&r.body, "origin", origin, sizeof origin), 0);
        cr_assert_str_eq(origin, "gossip");
        /* a capacity that cannot hold the string and its NUL */
        cr_assert_eq(proto_get_str(&r.body, "origin", origin, 6), -1);
        cr_assert_eq(proto_get_str(&r.body, "origin", origin, 7), 0);
        /* getters of another kind */
        uint64_t v;
        cr_assert_eq(proto_get_uint(&r.body, "origin", &v), -1);
        cr_assert_eq(proto_get_str(&r.body, keys[i], origin, sizeof origin), -1);
        cr_assert_eq(proto_get_bin(&r.body, "origin", &d, &n), -1);
        mp_buf_reset(&b);
    }
}

Test(proto, request_get_headers)
{
    proto_request_t r;
    proto_begin_request(&b, "get_headers", 3, 2);
    kv_bins("locator", 3, 32);
    kv_uint("max", 2000);
    decode_request_ok(&r, "get_headers", 3);
    uint64_t max;
    cr_assert_eq(proto_get_uint(&r.body, "max", &max), 0);
    cr_assert_eq(max, 2000);
    mp_reader_t rd;
    uint32_t n;
    cr_assert_eq(proto_get_array(&r.body, "locator", &rd, &n), 0);
    cr_assert_eq(n, 3);
    for (uint32_t j = 0; j < n; j++) {
        uint8_t h[32];
        cr_assert_eq(mp_get_bin_exact(&rd, h, 32), 0);
        cr_assert_eq(h[0], j);
        cr_assert_eq(h[31], j + 31);
    }
    cr_assert_eq(proto_get_array(&r.body, "max", &rd, &n), -1);
}

Test(proto, request_get_headers_empty_locator)
{
    proto_request_t r;
    proto_begin_request(&b, "get_headers", 3, 2);
    kv_bins("locator", 0, 32);
    kv_uint("max", 0);
    decode_request_ok(&r, "get_headers", 3);
}

Test(proto, request_get_block_and_get_tx)
{
    static const char *const types[] = {"get_block", "get_tx"};
    static const char *const keys[] = {"hash", "txid"};
    for (int i = 0; i < 2; i++) {
        proto_request_t r;
        proto_begin_request(&b, types[i], 0, 1);
        kv_bin(keys[i], h32, 32);
        decode_request_ok(&r, types[i], 0);
        uint8_t got[32];
        cr_assert_eq(proto_get_bin_exact(&r.body, keys[i], got, 32), 0);
        cr_assert_arr_eq(got, h32, 32);
        cr_assert_eq(proto_get_bin_exact(&r.body, keys[i], got, 31), -1);
        cr_assert(proto_has(&r.body, keys[i]));
        mp_buf_reset(&b);
    }
}

Test(proto, request_submit_work)
{
    proto_request_t r;
    proto_begin_request(&b, "submit_work", 1u << 20, 5);
    kv_uint("job_id", 12);
    kv_bin("extranonce", blob, sizeof blob);
    kv_uint("timestamp", 1320365123);
    kv_uint("nonce", UINT64_MAX);
    kv_bin("payout", h32 + 12, 20);
    decode_request_ok(&r, "submit_work", 1u << 20);
    uint64_t job, ts, nonce;
    const uint8_t *x;
    size_t xn;
    uint8_t payout[20];
    cr_assert_eq(proto_get_bin_exact(&r.body, "payout", payout, 20), 0);
    cr_assert_arr_eq(payout, h32 + 12, 20);
    cr_assert_eq(proto_get_uint(&r.body, "job_id", &job), 0);
    cr_assert_eq(proto_get_uint(&r.body, "timestamp", &ts), 0);
    cr_assert_eq(proto_get_uint(&r.body, "nonce", &nonce), 0);
    cr_assert_eq(proto_get_bin(&r.body, "extranonce", &x, &xn), 0);
    cr_assert_eq(job, 12);
    cr_assert_eq(ts, 1320365123);
    cr_assert_eq(nonce, UINT64_MAX);
    cr_assert_eq(xn, sizeof blob);
    cr_assert_arr_eq(x, blob, sizeof blob);
}

Test(proto, request_submit_work_extranonce_bound)
{
    uint8_t x[65] = {0};
    proto_request_t r;
    proto_begin_request(&b, "submit_work", 1, 5);
    kv_uint("job_id", 1);
    kv_bin("extranonce", x, 64);
    kv_uint("timestamp", 1);
    kv_uint("nonce", 1);
    kv_bin("payout", h32, 20);
    decode_request_ok(&r, "submit_work", 1);
    mp_buf_reset(&b);
    proto_begin_request(&b, "submit_work", 1, 5);
    kv_uint("job_id", 1);
    kv_bin("extranonce", x, 65);
    kv_uint("timestamp", 1);
    kv_uint("nonce", 1);
    kv_bin("payout", h32, 20);
    expect_request_fail(ERR_BAD_REQUEST, "extranonce");
    /* the payout is a 20-byte pubkey hash */
    proto_begin_request(&b, "submit_work", 1, 5);
    kv_uint("job_id", 1);
    kv_bin("extranonce", x, 8);
    kv_uint("timestamp", 1);
    kv_uint("nonce", 1);
    kv_bin("payout", h32, 21);
    expect_request_fail(ERR_BAD_REQUEST, "payout");
    proto_begin_request(&b, "submit_work", 1, 4);
    kv_uint("job_id", 1);
    kv_bin("extranonce", x, 8);
    kv_uint("timestamp", 1);
    kv_uint("nonce", 1);
    expect_request_fail(ERR_BAD_REQUEST, "payout");
}

Test(proto, request_hashrate)
{
    proto_request_t r;
    proto_begin_request(&b, "hashrate", 77, 2);
    kv_str("worker", "minerd-1");
    kv_uint("rate", 1500000);
    decode_request_ok(&r, "hashrate", 77);
    char worker[65];
    uint64_t rate;
    cr_assert_eq(proto_get_str(&r.body, "worker", worker, sizeof worker), 0);
    cr_assert_str_eq(worker, "minerd-1");
    cr_assert_eq(proto_get_uint(&r.body, "rate", &rate), 0);
    cr_assert_eq(rate, 1500000);
    mp_buf_reset(&b);
    /* worker over 64 bytes; rate missing */
    char longname[66];
    memset(longname, 'w', 65);
    longname[65] = '\0';
    proto_begin_request(&b, "hashrate", 77, 2);
    kv_str("worker", longname);
    kv_uint("rate", 1);
    expect_request_fail(ERR_BAD_REQUEST, "worker");
    proto_begin_request(&b, "hashrate", 77, 1);
    kv_str("worker", "w");
    expect_request_fail(ERR_BAD_REQUEST, "rate");
}

Test(proto, request_peers)
{
    proto_request_t r;
    proto_begin_request(&b, "peers", 2, 1);
    mp_put_cstr(&b, "peers");
    mp_put_array(&b, 2);
    for (int i = 0; i < 2; i++) {
        mp_put_map(&b, 3);
        kv_str("addr", i ? "10.0.0.2:9333" : "10.0.0.1:9333");
        mp_put_cstr(&b, "inbound");
        mp_put_bool(&b, i == 1);
        kv_uint("height", 100 + (uint64_t)i);
    }
    decode_request_ok(&r, "peers", 2);
    mp_reader_t rd;
    uint32_t n, m;
    cr_assert_eq(proto_get_array(&r.body, "peers", &rd, &n), 0);
    cr_assert_eq(n, 2);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(mp_get_map(&rd, &m), 0);
        cr_assert_eq(m, 3);
        for (uint32_t k = 0; k < 2 * m; k++)
            cr_assert_eq(mp_skip(&rd), 0);
    }
    cr_assert_eq(mp_left(&rd), 0);
    mp_buf_reset(&b);

    /* an element that is not a map */
    proto_begin_request(&b, "peers", 2, 1);
    mp_put_cstr(&b, "peers");
    mp_put_array(&b, 1);
    mp_put_cstr(&b, "10.0.0.1:9333");
    expect_request_fail(ERR_BAD_REQUEST, "peers");
    /* over PROTO_MAX_PEERS */
    proto_begin_request(&b, "peers", 2, 1);
    mp_put_cstr(&b, "peers");
    mp_put_array(&b, PROTO_MAX_PEERS + 1);
    for (int i = 0; i < PROTO_MAX_PEERS + 1; i++)
        mp_put_map(&b, 0);
    expect_request_fail(ERR_BAD_REQUEST, "peers");
}

Test(proto, request_unknown_extra_fields_accepted)
{
    proto_request_t r;
    proto_begin_request(&b, "get_block", 5, 4);
    kv_str("comment", "from a newer node");
    kv_bin("hash", h32, 32);
    mp_put_cstr(&b, "nested");
    mp_put_map(&b, 1);
    mp_put_cstr(&b, "list");
    mp_put_array(&b, 3);
    mp_put_nil(&b);
    mp_put_bool(&b, true);
    mp_put_raw(&b, "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9); /* float64 1.0 */
    mp_put_cstr(&b, "negative");
    mp_put_raw(&b, "\xff", 1); /* fixint -1 */
    decode_request_ok(&r, "get_block", 5);
    uint8_t got[32];
    cr_assert_eq(proto_get_bin_exact(&r.body, "hash", got, 32), 0);
    cr_assert_arr_eq(got, h32, 32);
    char s[32];
    cr_assert_eq(proto_get_str(&r.body, "comment", s, sizeof s), 0);
    cr_assert_str_eq(s, "from a newer node");
    cr_assert(proto_has(&r.body, "nested"));
    mp_buf_reset(&b);

    /* but an unknown field must itself be well formed */
    proto_begin_request(&b, "get_tip", 5, 1);
    mp_put_cstr(&b, "broken");
    mp_put_raw(&b, "\xc1", 1); /* never used */
    expect_request_fail(ERR_BAD_ENCODING, NULL);
}

/* ---- replies ---------------------------------------------------------- */

Test(proto, reply_ok_round_trip)
{
    proto_reply_t rep;
    err_t e;
    proto_begin_ok(&b, 99, 3);
    kv_uint("height", 7);
    kv_bin("hash", h32, 32);
    kv_str("status", "tip");
    cr_assert_eq(dec_reply(&rep, &e), 0, "%s", e.message);
    cr_assert(rep.ok);
    cr_assert_eq(rep.id, 99);
    uint64_t height;
    uint8_t hash[32];
    char status[8];
    cr_assert_eq(proto_get_uint(&rep.body, "height", &height), 0);
    cr_assert_eq(height, 7);
    cr_assert_eq(proto_get_bin_exact(&rep.body, "hash", hash, 32), 0);
    cr_assert_arr_eq(hash, h32, 32);
    cr_assert_eq(proto_get_str(&rep.body, "status", status, sizeof status), 0);
    cr_assert_str_eq(status, "tip");
    mp_buf_reset(&b);

    proto_begin_ok(&b, 0, 0);
    cr_assert_eq(dec_reply(&rep, &e), 0, "%s", e.message);
    cr_assert(rep.ok);
    cr_assert_eq(rep.id, 0);
}

Test(proto, reply_error_round_trip_every_code)
{
    for (int c = ERR_OK + 1; c < ERR_COUNT_; c++) {
        proto_reply_t rep;
        err_t e;
        char msg[64];
        snprintf(msg, sizeof msg, "the message of %s", err_str((err_code_t)c));
        proto_error(&b, 1000 + (uint64_t)c, (err_code_t)c, msg);
        cr_assert_eq(dec_reply(&rep, &e), 0, "%s", e.message);
        cr_assert_not(rep.ok);
        cr_assert_eq(rep.id, 1000 + (uint64_t)c);
        cr_assert_eq(rep.code, (err_code_t)c, "%s came back as %s", err_str((err_code_t)c),
                     err_str(rep.code));
        cr_assert_str_eq(rep.message, msg);
        char code[32];
        cr_assert_eq(proto_get_str(&rep.body, "code", code, sizeof code), 0);
        cr_assert_str_eq(code, err_str((err_code_t)c));
        mp_buf_reset(&b);
    }
}

Test(proto, reply_error_unknown_code_is_internal)
{
    static const char *const codes[] = {
        "a_code_from_a_newer_node", "",
        "a_code_string_longer_than_thirty_two_bytes_from_someone",
        "ok", /* "ok" is no error: taking it would turn an error into a success */
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        proto_reply_t rep;
        err_t e;
        proto_begin_request(&b, "error", 4, 2);
        kv_str("code", codes[i]);
        kv_str("message", "m");
        cr_assert_eq(dec_reply(&rep, &e), 0, "code \"%s\": %s", codes[i], e.message);
        cr_assert_not(rep.ok);
        cr_assert_eq(rep.code, ERR_INTERNAL, "code \"%s\"", codes[i]);
        cr_assert_str_eq(rep.message, "m");
        mp_buf_reset(&b);
    }
}

Test(proto, reply_error_long_message_truncated)
{
    char msg[400];
    memset(msg, 'x', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    proto_reply_t rep;
    err_t e;
    proto_error(&b, 4, ERR_BAD_POW, msg);
    cr_assert_eq(dec_reply(&rep, &e), 0, "%s", e.message);
    cr_assert_eq(rep.code, ERR_BAD_POW);
    cr_assert_eq(strlen(rep.message), sizeof rep.message - 1);
    cr_assert_eq(memcmp(rep.message, msg, sizeof rep.message - 1), 0);
}

Test(proto, reply_rejections)
{
    proto_reply_t rep;
    err_t e;
    /* neither "ok" nor "error" */
    proto_begin_request(&b, "maybe", 1, 0);
    expect_fail(dec_reply(&rep, &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* an error without a message */
    proto_begin_request(&b, "error", 1, 1);
    kv_str("code", "bad_pow");
    expect_fail(dec_reply(&rep, &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* a code that is not a string */
    proto_begin_request(&b, "error", 1, 2);
    kv_uint("code", 3);
    kv_str("message", "m");
    expect_fail(dec_reply(&rep, &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* an id that is not an unsigned integer */
    mp_put_array(&b, 3);
    mp_put_cstr(&b, "ok");
    mp_put_raw(&b, "\xff", 1);
    mp_put_map(&b, 0);
    expect_fail(dec_reply(&rep, &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* trailing bytes */
    proto_begin_ok(&b, 1, 0);
    mp_put_nil(&b);
    expect_fail(dec_reply(&rep, &e), &e, ERR_BAD_ENCODING, NULL);
}

/* ---- events ----------------------------------------------------------- */

/* A block event as chaind writes it. */
static void block_event(uint64_t seq)
{
    raw_event(seq, 3);
    kv_bin("hash", h32, 32);
    kv_uint("height", 7);
    kv_str("origin", "miner");
}

Test(proto, event_every_topic)
{
    for (int t = 0; t < PROTO_TOPIC_COUNT; t++) {
        proto_event_t ev;
        err_t e;
        const char *name = proto_topic_name((proto_topic_t)t);
        cr_assert_eq(proto_topic_of(name, strlen(name)), t);
        sample_message(&b, PROTO_EVENT, t, 41 + (uint64_t)t);
        cr_assert_eq(dec_event(&ev, name, &e), 0, "%s: %s", name, e.message);
        cr_assert_eq(ev.type, (proto_topic_t)t);
        cr_assert_str_eq(ev.topic, name);
        uint64_t seq;
        cr_assert_eq(proto_get_uint(&ev.body, "seq", &seq), 0);
        cr_assert_eq(ev.seq, seq);
    }
    /* seq 0 and a large seq */
    proto_event_t ev;
    err_t e;
    mp_buf_reset(&b);
    block_event(0);
    cr_assert_eq(dec_event(&ev, "block", &e), 0, "%s", e.message);
    cr_assert_eq(ev.seq, 0);
    mp_buf_reset(&b);
    block_event(UINT64_MAX);
    cr_assert_eq(dec_event(&ev, "block", &e), 0, "%s", e.message);
    cr_assert_eq(ev.seq, UINT64_MAX);
    uint8_t got[32];
    cr_assert_eq(proto_get_bin_exact(&ev.body, "hash", got, 32), 0);
    cr_assert_arr_eq(got, h32, 32);
}

Test(proto, event_fields_follow_the_topic_schema)
{
    proto_event_t ev;
    err_t e;
    /* a block event without its height, a tx event whose txid is short, a
     * job without tx_count, a peer.add whose hostname is no string */
    raw_event(1, 2);
    kv_bin("hash", h32, 32);
    kv_str("origin", "miner");
    expect_fail(dec_event(&ev, "block", &e), &e, ERR_BAD_REQUEST, "height");
    mp_buf_reset(&b);
    raw_event(1, 2);
    kv_bin("txid", h32, 31);
    kv_str("origin", "http");
    expect_fail(dec_event(&ev, "tx", &e), &e, ERR_BAD_REQUEST, "txid");
    mp_buf_reset(&b);
    raw_event(1, 0);
    expect_fail(dec_event(&ev, "job", &e), &e, ERR_BAD_REQUEST, "job_id");
    mp_buf_reset(&b);
    raw_event(1, 1);
    kv_uint("hostname", 9333);
    expect_fail(dec_event(&ev, "peer.add", &e), &e, ERR_BAD_REQUEST, "hostname");
    mp_buf_reset(&b);
    /* an extra field is a newer chaind's, and allowed */
    block_event(2);
    mp_buf_reset(&b);
    raw_event(2, 4);
    kv_bin("hash", h32, 32);
    kv_uint("height", 7);
    kv_str("origin", "miner");
    kv_str("comment", "from a newer chaind");
    cr_assert_eq(dec_event(&ev, "block", &e), 0, "%s", e.message);
}

Test(proto, event_rejections)
{
    proto_event_t ev;
    err_t e;
    /* seq is required */
    mp_put_map(&b, 1);
    kv_uint("height", 3);
    expect_fail(dec_event(&ev, "block", &e), &e, ERR_BAD_REQUEST, "seq");
    mp_buf_reset(&b);
    /* and an unsigned integer */
    mp_put_map(&b, 1);
    kv_str("seq", "1");
    expect_fail(dec_event(&ev, "block", &e), &e, ERR_BAD_REQUEST, "seq");
    mp_buf_reset(&b);
    /* unknown topics, a prefix and an extension of a known one included */
    static const char *const bad[] = {"blocks", "bloc", "", "peer", "peer.add.x", "TX"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_event(1, 0);
        cr_assert_eq(proto_topic_of(bad[i], strlen(bad[i])), -1);
        expect_fail(dec_event(&ev, bad[i], &e), &e, ERR_UNKNOWN_TYPE, NULL);
        mp_buf_reset(&b);
    }
    /* not a map */
    mp_put_array(&b, 1);
    mp_put_uint(&b, 0);
    expect_fail(dec_event(&ev, "tx", &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* trailing bytes */
    raw_event(1, 0);
    mp_put_uint(&b, 0);
    expect_fail(dec_event(&ev, "tx", &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* a repeated key */
    raw_event(1, 1);
    kv_uint("seq", 2);
    expect_fail(dec_event(&ev, "tx", &e), &e, ERR_BAD_ENCODING, NULL);
    mp_buf_reset(&b);
    /* empty */
    expect_fail(proto_decode_event(&ev, "tx", 2, (const uint8_t *)"", 0, &e), &e,
                ERR_BAD_ENCODING, NULL);
}

/* ---- peer messages ---------------------------------------------------- */

Test(proto, peer_hello)
{
    proto_peer_msg_t m;
    uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    raw_peer("regtest", "hello", 5);
    kv_uint("version", PROTO_VERSION);
    kv_uint("height", 12);
    kv_bin("tip", h32, 32);
    kv_str("listen", "node1.example:9333");
    kv_bin("node_id", id, 8);
    decode_peer_ok(&m, "hello");
    uint64_t v, height;
    uint8_t tip[32], got_id[8];
    char listen[256];
    cr_assert_eq(proto_get_uint(&m.body, "version", &v), 0);
    cr_assert_eq(v, PROTO_VERSION);
    cr_assert_eq(proto_get_uint(&m.body, "height", &height), 0);
    cr_assert_eq(height, 12);
    cr_assert_eq(proto_get_bin_exact(&m.body, "tip", tip, 32), 0);
    cr_assert_arr_eq(tip, h32, 32);
    cr_assert_eq(proto_get_bin_exact(&m.body, "node_id", got_id, 8), 0);
    cr_assert_arr_eq(got_id, id, 8);
    cr_assert_eq(proto_get_str(&m.body, "listen", listen, sizeof listen), 0);
    cr_assert_str_eq(listen, "node1.example:9333");
    mp_buf_reset(&b);

    /* node_id of another length */
    raw_peer("regtest", "hello", 5);
    kv_uint("version", PROTO_VERSION);
    kv_uint("height", 12);
    kv_bin("tip", h32, 32);
    kv_str("listen", "node1.example:9333");
    kv_bin("node_id", id, 7);
    expect_peer_fail(ERR_BAD_REQUEST, "node_id");
}

/* A hello's version and height are shown as JSON numbers (signed 64-bit):
 * 2^63 - 1 passes, 2^63 and 2^64 - 1 are refused before anyone reads them. */
Test(proto, peer_hello_numbers_fit_json)
{
    static const struct {
        const char *field;
        uint64_t value;
        bool ok;
    } cases[] = {
        {"height", INT64_MAX, true},       {"height", (uint64_t)INT64_MAX + 1, false},
        {"height", UINT64_MAX, false},     {"version", INT64_MAX, true},
        {"version", (uint64_t)INT64_MAX + 1, false},
    };
    uint8_t id[8] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool height = strcmp(cases[i].field, "height") == 0;
        mp_buf_reset(&b);
        raw_peer("regtest", "hello", 5);
        kv_uint("version", height ? PROTO_VERSION : cases[i].value);
        kv_uint("height", height ? cases[i].value : 0);
        kv_bin("tip", h32, 32);
        kv_str("listen", "");
        kv_bin("node_id", id, 8);
        proto_peer_msg_t m;
        if (cases[i].ok)
            decode_peer_ok(&m, "hello");
        else
            expect_peer_fail(ERR_BAD_REQUEST, cases[i].field);
    }
}

/* The dial-back check's messages: a challenge, a probe, a proof. */
Test(proto, peer_challenge_probe_proof)
{
    proto_peer_msg_t m;
    uint8_t id[8] = {9, 8, 7, 6, 5, 4, 3, 2}, nonce[8] = {1, 1, 2, 3, 5, 8, 13, 21}, got[8];
    raw_peer("regtest", "challenge", 1);
    kv_bin("nonce", nonce, 8);
    decode_peer_ok(&m, "challenge");
    cr_assert_eq(m.type, PROTO_MSG_CHALLENGE);
    mp_buf_reset(&b);
    raw_peer("regtest", "probe", 1);
    kv_bin("node_id", id, 8);
    decode_peer_ok(&m, "probe");
    cr_assert_eq(m.type, PROTO_MSG_PROBE);
    mp_buf_reset(&b);
    raw_peer("regtest", "proof", 2);
    kv_bin("node_id", id, 8);
    kv_bin("nonce", nonce, 8);
    decode_peer_ok(&m, "proof");
    cr_assert_eq(m.type, PROTO_MSG_PROOF);
    cr_assert_eq(proto_get_bin_exact(&m.body, "nonce", got, 8), 0);
    cr_assert_arr_eq(got, nonce, 8);
    mp_buf_reset(&b);
    raw_peer("regtest", "proof", 2);
    kv_bin("node_id", id, 8);
    kv_bin("nonce", nonce, 7);
    expect_peer_fail(ERR_BAD_REQUEST, "nonce");
}

Test(proto, peer_addr)
{
    proto_peer_msg_t m;
    raw_peer("regtest", "addr", 1);
    mp_put_cstr(&b, "addrs");
    mp_put_array(&b, 2);
    mp_put_cstr(&b, "node1:9333");
    mp_put_cstr(&b, "10.1.2.3:9333");
    decode_peer_ok(&m, "addr");
    mp_reader_t rd;
    uint32_t n;
    const char *s;
    size_t len;
    cr_assert_eq(proto_get_array(&m.body, "addrs", &rd, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(mp_get_str(&rd, &s, &len), 0);
    cr_assert_eq(len, 10);
    cr_assert_eq(memcmp(s, "node1:9333", 10), 0);
    cr_assert_eq(mp_get_str(&rd, &s, &len), 0);
    cr_assert_eq(len, 13);
    mp_buf_reset(&b);

    /* an element that is not a string, and one over 255 bytes */
    raw_peer("regtest", "addr", 1);
    mp_put_cstr(&b, "addrs");
    mp_put_array(&b, 1);
    mp_put_uint(&b, 9333);
    expect_peer_fail(ERR_BAD_REQUEST, "addrs");
    char longaddr[257];
    memset(longaddr, 'a', 256);
    longaddr[256] = '\0';
    raw_peer("regtest", "addr", 1);
    mp_put_cstr(&b, "addrs");
    mp_put_array(&b, 1);
    mp_put_cstr(&b, longaddr);
    expect_peer_fail(ERR_BAD_REQUEST, "addrs");
    /* over PROTO_MAX_ADDRS */
    raw_peer("regtest", "addr", 1);
    mp_put_cstr(&b, "addrs");
    mp_put_array(&b, PROTO_MAX_ADDRS + 1);
    for (int i = 0; i < PROTO_MAX_ADDRS + 1; i++)
        mp_put_cstr(&b, "h:1");
    expect_peer_fail(ERR_BAD_REQUEST, "addrs");
}

Test(proto, peer_inv_getdata_notfound)
{
    static const char *const types[] = {"inv", "getdata", "notfound"};
    for (int i = 0; i < 3; i++) {
        proto_peer_msg_t m;
        raw_peer("regtest", types[i], 2);
        kv_str("kind", "block");
        kv_bins("hashes", 4, 32);
        decode_peer_ok(&m, types[i]);
        char kind[9];
        cr_assert_eq(proto_get_str(&m.body, "kind", kind, sizeof kind), 0);
        cr_assert_str_eq(kind, "block");
        mp_reader_t rd;
        uint32_t n;
        cr_assert_eq(proto_get_array(&m.body, "hashes", &rd, &n), 0);
        cr_assert_eq(n, 4);
        for (uint32_t j = 0; j < n; j++) {
            uint8_t h[32];
            cr_assert_eq(mp_get_bin_exact(&rd, h, 32), 0);
            cr_assert_eq(h[5], j + 5);
        }
        mp_buf_reset(&b);

        /* exactly PROTO_MAX_INV is fine, one more is not */
        raw_peer("regtest", types[i], 2);
        kv_str("kind", "tx");
        kv_bins("hashes", PROTO_MAX_INV, 32);
        decode_peer_ok(&m, types[i]);
        mp_buf_reset(&b);
        raw_peer("regtest", types[i], 2);
        kv_str("kind", "tx");
        kv_bins("hashes", PROTO_MAX_INV + 1, 32);
        expect_peer_fail(ERR_BAD_REQUEST, "hashes");

        /* a hash of 31 bytes among them */
        raw_peer("regtest", types[i], 2);
        kv_str("kind", "tx");
        mp_put_cstr(&b, "hashes");
        mp_put_array(&b, 2);
        mp_put_bin(&b, h32, 32);
        mp_put_bin(&b, h32, 31);
        expect_peer_fail(ERR_BAD_REQUEST, "hashes");

        /* kind over 8 bytes */
        raw_peer("regtest", types[i], 2);
        kv_str("kind", "blockblock");
        kv_bins("hashes", 1, 32);
        expect_peer_fail(ERR_BAD_REQUEST, "kind");
    }
}

Test(proto, peer_tx_block)
{
    static const char *const types[] = {"tx", "block"};
    for (int i = 0; i < 2; i++) {
        proto_peer_msg_t m;
        raw_peer("regtest", types[i], 1);
        kv_bin(types[i], blob, sizeof blob);
        decode_peer_ok(&m, types[i]);
        const uint8_t *d;
        size_t n;
        cr_assert_eq(proto_get_bin(&m.body, types[i], &d, &n), 0);
        cr_assert_eq(n, sizeof blob);
        cr_assert_arr_eq(d, blob, sizeof blob);
        mp_buf_reset(&b);
        /* str where bin is due */
        raw_peer("regtest", types[i], 1);
        kv_str(types[i], "93019190");
        expect_peer_fail(ERR_BAD_REQUEST, types[i]);
    }
}

Test(proto, peer_getheaders_headers)
{
    proto_peer_msg_t m;
    raw_peer("regtest", "getheaders", 1);
    kv_bins("locator", PROTO_MAX_LOCATOR, 32);
    decode_peer_ok(&m, "getheaders");
    mp_reader_t rd;
    uint32_t n;
    cr_assert_eq(proto_get_array(&m.body, "locator", &rd, &n), 0);
    cr_assert_eq(n, PROTO_MAX_LOCATOR);
    mp_buf_reset(&b);
    raw_peer("regtest", "getheaders", 1);
    kv_bins("locator", PROTO_MAX_LOCATOR + 1, 32);
    expect_peer_fail(ERR_BAD_REQUEST, "locator");

    raw_peer("regtest", "headers", 1);
    kv_bins("headers", 3, 88);
    decode_peer_ok(&m, "headers");
    cr_assert_eq(proto_get_array(&m.body, "headers", &rd, &n), 0);
    cr_assert_eq(n, 3);
    for (uint32_t j = 0; j < n; j++) {
        uint8_t h[88];
        cr_assert_eq(mp_get_bin_exact(&rd, h, 88), 0);
        cr_assert_eq(h[87], (uint8_t)(j + 87));
    }
    mp_buf_reset(&b);
    raw_peer("regtest", "headers", 1);
    kv_bins("headers", 1, 87);
    expect_peer_fail(ERR_BAD_REQUEST, "headers");
}

Test(proto, peer_ping_pong)
{
    static const char *const types[] = {"ping", "pong"};
    for (int i = 0; i < 2; i++) {
        proto_peer_msg_t m;
        raw_peer("regtest", types[i], 1);
        kv_uint("nonce", 0x0123456789abcdefull);
        decode_peer_ok(&m, types[i]);
        uint64_t nonce;
        cr_assert_eq(proto_get_uint(&m.body, "nonce", &nonce), 0);
        cr_assert_eq(nonce, 0x0123456789abcdefull);
        mp_buf_reset(&b);
        raw_peer("regtest", types[i], 0);
        expect_peer_fail(ERR_BAD_REQUEST, "nonce");
    }
}

Test(proto, peer_wrong_network)
{
    proto_peer_msg_t m;
    err_t e;
    static const char *const nets[] = {"demo", "regtes", "regtest2", "", "REGTEST"};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        raw_peer(nets[i], "ping", 1);
        kv_uint("nonce", 1);
        expect_fail(dec_peer(&m, "regtest", &e), &e, ERR_BAD_NETWORK, NULL);
        mp_buf_reset(&b);
    }
    /* the same message is fine on its own network */
    raw_peer("demo", "ping", 1);
    kv_uint("nonce", 1);
    cr_assert_eq(dec_peer(&m, "demo", &e), 0, "%s", e.message);
    cr_assert_eq(m.type, PROTO_MSG_PING);
    /* a request is no peer message: its second element is no string */
    mp_buf_reset(&b);
    proto_begin_request(&b, "get_tip", 1, 0);
    expect_fail(dec_peer(&m, "regtest", &e), &e, ERR_BAD_ENCODING, NULL);
}

Test(proto, peer_unknown_type)
{
    raw_peer("regtest", "get_tip", 0);
    expect_peer_fail(ERR_UNKNOWN_TYPE, NULL);
    raw_peer("regtest", "pingpong", 1);
    kv_uint("nonce", 1);
    expect_peer_fail(ERR_UNKNOWN_TYPE, NULL);
}

/* ---- envelope rejections ---------------------------------------------- */

/* A submit_tx whose whole encoding is exactly total bytes. */
static void submit_tx_of_size(size_t total)
{
    uint8_t *big = calloc(PROTO_MAX_MSG, 1);
    cr_assert_not_null(big);
    /* bin32 header from 65536 on: the overhead is the same for all sizes here */
    size_t data = PROTO_MAX_MSG - 1000;
    proto_begin_request(&b, "submit_tx", 1, 2);
    kv_bin("tx", big, data);
    kv_str("origin", "x");
    size_t overhead = b.len - data;
    mp_buf_reset(&b);
    cr_assert_geq(total, overhead + 0x10000);
    proto_begin_request(&b, "submit_tx", 1, 2);
    kv_bin("tx", big, total - overhead);
    kv_str("origin", "x");
    free(big);
    cr_assert(mp_buf_ok(&b));
    cr_assert_eq(b.len, total);
}

Test(proto, too_large)
{
    proto_request_t r;
    proto_reply_t rep;
    proto_peer_msg_t m;
    proto_event_t ev;
    err_t e;
    /* exactly PROTO_MAX_MSG is fine */
    submit_tx_of_size(PROTO_MAX_MSG);
    decode_request_ok(&r, "submit_tx", 1);
    mp_buf_reset(&b);
    /* one byte more is too large, however well formed */
    submit_tx_of_size(PROTO_MAX_MSG + 1);
    expect_fail(dec_request(&r, &e), &e, ERR_TOO_LARGE, NULL);
    expect_fail(dec_reply(&rep, &e), &e, ERR_TOO_LARGE, NULL);
    expect_fail(dec_peer(&m, "regtest", &e), &e, ERR_TOO_LARGE, NULL);
    mp_buf_reset(&b);
    /* events: a map of PROTO_MAX_MSG + 1 bytes */
    raw_event(0, 1);
    mp_put_cstr(&b, "pad");
    size_t before = b.len + 5;
    uint8_t *pad = calloc(PROTO_MAX_MSG, 1);
    cr_assert_not_null(pad);
    mp_put_bin(&b, pad, PROTO_MAX_MSG + 1 - before);
    cr_assert_eq(b.len, PROTO_MAX_MSG + 1);
    expect_fail(dec_event(&ev, "block", &e), &e, ERR_TOO_LARGE, NULL);
    free(pad);
}

Test(proto, envelope_shape)
{
    /* not an array */
    raw_event(0, 0);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    mp_put_cstr(&b, "get_tip");
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    /* an array of 2 and of 4 */
    mp_put_array(&b, 2);
    mp_put_cstr(&b, "get_tip");
    mp_put_uint(&b, 1);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    mp_put_array(&b, 4);
    mp_put_cstr(&b, "get_tip");
    mp_put_uint(&b, 1);
    mp_put_map(&b, 0);
    mp_put_nil(&b);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    /* a type that is not a string (bin), an id that is not a uint */
    mp_put_array(&b, 3);
    mp_put_bin(&b, "get_tip", 7);
    mp_put_uint(&b, 1);
    mp_put_map(&b, 0);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    mp_put_array(&b, 3);
    mp_put_cstr(&b, "get_tip");
    mp_put_cstr(&b, "1");
    mp_put_map(&b, 0);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    /* a body that is not a map */
    mp_put_array(&b, 3);
    mp_put_cstr(&b, "get_tip");
    mp_put_uint(&b, 1);
    mp_put_array(&b, 0);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    /* trailing bytes */
    proto_begin_request(&b, "get_tip", 1, 0);
    mp_put_uint(&b, 0);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    raw_peer("regtest", "ping", 1);
    kv_uint("nonce", 1);
    mp_put_raw(&b, "\x00", 1);
    expect_peer_fail(ERR_BAD_ENCODING, NULL);
    /* nothing at all */
    proto_request_t r;
    err_t e;
    expect_fail(proto_decode_request(&r, (const uint8_t *)"", 0, &e), &e, ERR_BAD_ENCODING,
                NULL);
    /* a map length that claims more than there is */
    mp_put_array(&b, 3);
    mp_put_cstr(&b, "get_tip");
    mp_put_uint(&b, 1);
    mp_put_raw(&b, "\xdf\xff\xff\xff\xff", 5);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
}

Test(proto, body_keys)
{
    /* a key that is not a string */
    proto_begin_request(&b, "get_tip", 1, 1);
    mp_put_uint(&b, 1);
    mp_put_uint(&b, 2);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    proto_begin_request(&b, "get_block", 1, 1);
    mp_put_bin(&b, "hash", 4);
    mp_put_bin(&b, h32, 32);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    /* a repeated key, with the same value or another */
    proto_begin_request(&b, "get_block", 1, 2);
    kv_bin("hash", h32, 32);
    kv_bin("hash", h32, 32);
    expect_request_fail(ERR_BAD_ENCODING, NULL);
    raw_peer("regtest", "ping", 3);
    kv_uint("nonce", 1);
    kv_uint("other", 1);
    kv_uint("nonce", 2);
    expect_peer_fail(ERR_BAD_ENCODING, NULL);
    /* 32 keys are fine, 33 are not */
    for (uint32_t n = 32; n <= 33; n++) {
        proto_begin_request(&b, "get_tx", 1, n);
        kv_bin("txid", h32, 32);
        for (uint32_t i = 1; i < n; i++) {
            char k[8];
            snprintf(k, sizeof k, "k%u", i);
            kv_uint(k, i);
        }
        if (n == 32) {
            proto_request_t r;
            decode_request_ok(&r, "get_tx", 1);
            uint64_t v;
            cr_assert_eq(proto_get_uint(&r.body, "k31", &v), 0);
            cr_assert_eq(v, 31);
            mp_buf_reset(&b);
        } else {
            expect_request_fail(ERR_BAD_ENCODING, NULL);
        }
    }
}

Test(proto, request_unknown_type)
{
    static const char *const types[] = {"get_tips", "", "GET_TIP", "ok", "error", "ping", "hello"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        proto_begin_request(&b, types[i], 1, 0);
        expect_request_fail(ERR_UNKNOWN_TYPE, NULL);
    }
    /* a type longer than proto_request_t can hold is just unknown */
    char longtype[300];
    memset(longtype, 'g', sizeof longtype - 1);
    longtype[sizeof longtype - 1] = '\0';
    proto_begin_request(&b, longtype, 1, 0);
    expect_request_fail(ERR_UNKNOWN_TYPE, NULL);
}

Test(proto, request_field_rejections)
{
    /* missing fields, each named */
    proto_begin_request(&b, "get_block", 1, 0);
    expect_request_fail(ERR_BAD_REQUEST, "hash");
    proto_begin_request(&b, "get_tx", 1, 1);
    kv_bin("hash", h32, 32); /* the key of another type */
    expect_request_fail(ERR_BAD_REQUEST, "txid");
    proto_begin_request(&b, "submit_tx", 1, 1);
    kv_bin("tx", blob, sizeof blob);
    expect_request_fail(ERR_BAD_REQUEST, "origin");
    proto_begin_request(&b, "get_headers", 1, 1);
    kv_bins("locator", 1, 32);
    expect_request_fail(ERR_BAD_REQUEST, "max");
    proto_begin_request(&b, "submit_work", 1, 3);
    kv_uint("job_id", 1);
    kv_bin("extranonce", blob, sizeof blob);
    kv_uint("timestamp", 1);
    expect_request_fail(ERR_BAD_REQUEST, "nonce");
    proto_begin_request(&b, "peers", 1, 0);
    expect_request_fail(ERR_BAD_REQUEST, "peers");

    /* wrong kinds */
    proto_begin_request(&b, "get_block", 1, 1);
    kv_str("hash", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    expect_request_fail(ERR_BAD_REQUEST, "hash");
    proto_begin_request(&b, "submit_tx", 1, 2);
    kv_bin("tx", blob, sizeof blob);
    kv_bin("origin", "gossip", 6);
    expect_request_fail(ERR_BAD_REQUEST, "origin");
    proto_begin_request(&b, "get_headers", 1, 2);
    kv_bins("locator", 1, 32);
    kv_str("max", "2000");
    expect_request_fail(ERR_BAD_REQUEST, "max");
    proto_begin_request(&b, "get_headers", 1, 2);
    kv_bin("locator", h32, 32); /* one hash, not an array of them */
    kv_uint("max", 1);
    expect_request_fail(ERR_BAD_REQUEST, "locator");
    proto_begin_request(&b, "submit_work", 1, 5);
    kv_uint("job_id", 1);
    kv_bin("extranonce", blob, sizeof blob);
    mp_put_cstr(&b, "timestamp");
    mp_put_raw(&b, "\xd0\xff", 2); /* int8 -1 */
    kv_uint("nonce", 1);
    kv_bin("payout", h32, 20);
    expect_request_fail(ERR_BAD_REQUEST, "timestamp");
    proto_begin_request(&b, "peers", 1, 1);
    mp_put_cstr(&b, "peers");
    mp_put_map(&b, 0);
    expect_request_fail(ERR_BAD_REQUEST, "peers");
}

Test(proto, request_field_length_rejections)
{
    uint8_t h31[31] = {0};
    /* bin32 of 31 and 33 bytes */
    proto_begin_request(&b, "get_block", 1, 1);
    kv_bin("hash", h31, 31);
    expect_request_fail(ERR_BAD_REQUEST, "hash");
    proto_begin_request(&b, "get_tx", 1, 1);
    uint8_t h33[33] = {0};
    kv_bin("txid", h33, 33);
    expect_request_fail(ERR_BAD_REQUEST, "txid");
    proto_begin_request(&b, "get_headers", 1, 2);
    mp_put_cstr(&b, "locator");
    mp_put_array(&b, 2);
    mp_put_bin(&b, h32, 32);
    mp_put_bin(&b, h31, 31);
    kv_uint("max", 1);
    expect_request_fail(ERR_BAD_REQUEST, "locator");

    /* too many hashes */
    proto_begin_request(&b, "get_headers", 1, 2);
    kv_bins("locator", PROTO_MAX_LOCATOR + 1, 32);
    kv_uint("max", 1);
    expect_request_fail(ERR_BAD_REQUEST, "locator");

    /* a string over its bound */
    char origin[130];
    memset(origin, 'o', 129);
    origin[129] = '\0';
    proto_begin_request(&b, "submit_block", 1, 2);
    kv_bin("block", blob, sizeof blob);
    kv_str("origin", origin);
    expect_request_fail(ERR_BAD_REQUEST, "origin");
    origin[128] = '\0';
    proto_request_t r;
    proto_begin_request(&b, "submit_block", 1, 2);
    kv_bin("block", blob, sizeof blob);
    kv_str("origin", origin);
    decode_request_ok(&r, "submit_block", 1);
}

Test(proto, peer_field_rejections)
{
    uint8_t h31[31] = {0};
    raw_peer("regtest", "hello", 4);
    kv_uint("version", 1);
    kv_uint("height", 1);
    kv_bin("tip", h32, 32);
    kv_str("listen", "h:1");
    expect_peer_fail(ERR_BAD_REQUEST, "node_id");
    raw_peer("regtest", "hello", 5);
    kv_uint("version", 1);
    kv_uint("height", 1);
    kv_bin("tip", h31, 31);
    kv_str("listen", "h:1");
    kv_bin("node_id", h32, 8);
    expect_peer_fail(ERR_BAD_REQUEST, "tip");
    raw_peer("regtest", "inv", 1);
    kv_bins("hashes", 1, 32);
    expect_peer_fail(ERR_BAD_REQUEST, "kind");
    raw_peer("regtest", "getdata", 2);
    kv_str("kind", "tx");
    kv_uint("hashes", 1);
    expect_peer_fail(ERR_BAD_REQUEST, "hashes");
    raw_peer("regtest", "headers", 0);
    expect_peer_fail(ERR_BAD_REQUEST, "headers");
    raw_peer("regtest", "ping", 1);
    kv_bin("nonce", blob, 1);
    expect_peer_fail(ERR_BAD_REQUEST, "nonce");
}

/* ---- truncation ------------------------------------------------------- */

typedef enum { AS_REQUEST, AS_REPLY, AS_PEER, AS_EVENT } as_t;

/* Every proper prefix of a valid message fails with ERR_BAD_ENCODING, read
 * from an allocation of exactly its size. */
static void check_truncations(as_t as, const char *topic)
{
    cr_assert(mp_buf_ok(&b));
    err_t e;
    /* the whole message decodes */
    int rc;
    proto_request_t r;
    proto_reply_t rep;
    proto_peer_msg_t m;
    proto_event_t ev;
    switch (as) {
    case AS_REQUEST: rc = proto_decode_request(&r, b.data, b.len, &e); break;
    case AS_REPLY: rc = proto_decode_reply(&rep, b.data, b.len, &e); break;
    case AS_PEER: rc = proto_decode_peer(&m, "regtest", b.data, b.len, &e); break;
    default: rc = proto_decode_event(&ev, topic, strlen(topic), b.data, b.len, &e); break;
    }
    cr_assert_eq(rc, 0, "%s", e.message);
    for (size_t k = 0; k < b.len; k++) {
        uint8_t *c = copy_of(b.data, k);
        memset(&e, 0, sizeof e);
        switch (as) {
        case AS_REQUEST: rc = proto_decode_request(&r, c, k, &e); break;
        case AS_REPLY: rc = proto_decode_reply(&rep, c, k, &e); break;
        case AS_PEER: rc = proto_decode_peer(&m, "regtest", c, k, &e); break;
        default: rc = proto_decode_event(&ev, topic, strlen(topic), c, k, &e); break;
        }
        free(c);
        cr_assert_eq(rc, -(int)ERR_BAD_ENCODING, "prefix of %zu of %zu bytes: rc %d (%s)", k,
                     b.len, rc, e.message);
        cr_assert_eq(e.code, ERR_BAD_ENCODING);
    }
    mp_buf_reset(&b);
}

Test(proto, truncation_at_every_length)
{
    proto_begin_request(&b, "get_tip", 1, 0);
    check_truncations(AS_REQUEST, NULL);
    proto_begin_request(&b, "submit_tx", 300, 2);
    kv_bin("tx", blob, sizeof blob);
    kv_str("origin", "gossip");
    check_truncations(AS_REQUEST, NULL);
    proto_begin_request(&b, "get_headers", 70000, 2);
    kv_bins("locator", 3, 32);
    kv_uint("max", 2000);
    check_truncations(AS_REQUEST, NULL);
    proto_begin_request(&b, "get_block", 1, 1);
    kv_bin("hash", h32, 32);
    check_truncations(AS_REQUEST, NULL);
    proto_begin_request(&b, "submit_work", UINT64_MAX, 5);
    kv_uint("job_id", 1);
    kv_bin("extranonce", blob, sizeof blob);
    kv_uint("timestamp", 1320365123);
    kv_uint("nonce", UINT64_MAX);
    kv_bin("payout", h32, 20);
    check_truncations(AS_REQUEST, NULL);
    proto_begin_request(&b, "peers", 1, 1);
    mp_put_cstr(&b, "peers");
    mp_put_array(&b, 1);
    mp_put_map(&b, 2);
    kv_str("addr", "h:1");
    mp_put_cstr(&b, "inbound");
    mp_put_bool(&b, false);
    check_truncations(AS_REQUEST, NULL);

    proto_begin_ok(&b, 5, 2);
    kv_uint("height", 1);
    kv_bin("hash", h32, 32);
    check_truncations(AS_REPLY, NULL);
    proto_error(&b, 6, ERR_DOUBLE_SPEND, "spent");
    check_truncations(AS_REPLY, NULL);

    raw_peer("regtest", "hello", 5);
    kv_uint("version", 1);
    kv_uint("height", 1);
    kv_bin("tip", h32, 32);
    kv_str("listen", "h:1");
    kv_bin("node_id", h32, 8);
    check_truncations(AS_PEER, NULL);
    raw_peer("regtest", "headers", 1);
    kv_bins("headers", 2, 88);
    check_truncations(AS_PEER, NULL);
    raw_peer("regtest", "addr", 1);
    mp_put_cstr(&b, "addrs");
    mp_put_array(&b, 1);
    mp_put_cstr(&b, "h:1");
    check_truncations(AS_PEER, NULL);

    block_event(3);
    check_truncations(AS_EVENT, "block");
}

/* ---- the schema table, the encoders and the check ----------------------- */

static const proto_family_t families[] = {PROTO_REQUEST, PROTO_OK_REPLY, PROTO_PEER, PROTO_EVENT};

Test(proto, the_table_names_every_type_once)
{
    const int counts[] = {PROTO_REQ_COUNT, PROTO_REQ_COUNT, PROTO_MSG_COUNT, PROTO_TOPIC_COUNT};
    for (size_t f = 0; f < 4; f++) {
        cr_assert_eq(sample_types(families[f]), counts[f], "family %zu: a type without a schema",
                     f);
        cr_assert_null(proto_schema(families[f], -1));
        cr_assert_null(proto_schema(families[f], counts[f]));
        for (int t = 0; t < counts[f]; t++) {
            const proto_schema_t *s = proto_schema(families[f], t);
            cr_assert(s->name && s->name[0], "family %zu type %d has no name", f, t);
            for (int u = 0; u < t; u++)
                cr_assert_str_neq(proto_schema(families[f], u)->name, s->name);
            for (uint32_t i = 0; i < proto_schema_fields(s); i++)
                for (uint32_t j = 0; j < i; j++)
                    cr_assert_str_neq(s->fields[i].key, s->fields[j].key, "%s", s->name);
        }
    }
    for (int t = 0; t < PROTO_REQ_COUNT; t++) {
        cr_assert_str_eq(proto_req_name((proto_req_t)t), proto_schema(PROTO_REQUEST, t)->name);
        cr_assert_str_eq(proto_schema(PROTO_OK_REPLY, t)->name, proto_req_name((proto_req_t)t));
    }
    for (int t = 0; t < PROTO_MSG_COUNT; t++)
        cr_assert_str_eq(proto_msg_name((proto_msg_t)t), proto_schema(PROTO_PEER, t)->name);
    for (int t = 0; t < PROTO_TOPIC_COUNT; t++)
        cr_assert_str_eq(proto_topic_name((proto_topic_t)t), proto_schema(PROTO_EVENT, t)->name);
}

/* Decodes b as family and returns its type and body. */
static int decode_as(proto_family_t family, int type, proto_body_t *body, err_t *e)
{
    proto_request_t r;
    proto_reply_t rep;
    proto_peer_msg_t m;
    proto_event_t ev;
    const char *topic = family == PROTO_EVENT ? proto_topic_name((proto_topic_t)type) : "";
    int rc = -1, got = -1;
    switch (family) {
    case PROTO_REQUEST: rc = dec_request(&r, e), got = (int)r.type, *body = r.body; break;
    case PROTO_OK_REPLY: rc = dec_reply(&rep, e), got = rep.ok ? type : -1, *body = rep.body; break;
    case PROTO_PEER: rc = dec_peer(&m, "regtest", e), got = (int)m.type, *body = m.body; break;
    case PROTO_EVENT: rc = dec_event(&ev, topic, e), got = (int)ev.type, *body = ev.body; break;
    }
    return rc < 0 ? rc : got;
}

Test(proto, every_type_written_from_its_schema_decodes_as_itself)
{
    for (size_t f = 0; f < 4; f++) {
        for (int t = 0; t < sample_types(families[f]); t++) {
            const proto_schema_t *s = proto_schema(families[f], t);
            for (uint64_t seed = 0; seed < 40; seed++) {
                err_t e;
                proto_body_t body = {0};
                sample_message(&b, families[f], t, seed);
                cr_assert(mp_buf_ok(&b));
                int got = decode_as(families[f], t, &body, &e);
                cr_assert_eq(got, t, "%s (seed %llu): %s", s->name, (unsigned long long)seed,
                             got < 0 ? e.message : "another type");
                cr_assert_eq(proto_check(families[f], t, b.data, b.len, &e), 0, "%s: %s",
                             s->name, e.message);
                /* the map holds exactly the schema's fields ("seq" besides, in events) */
                mp_reader_t r;
                uint32_t n;
                mp_reader_init(&r, body.p, body.len, false);
                cr_assert_eq(mp_get_map(&r, &n), 0);
                cr_assert_eq(n, proto_schema_fields(s) + (families[f] == PROTO_EVENT));
            }
        }
    }
}

/* A hello written field by field; `skip` omits a field, `extra` adds one. */
static void hello_by_hand(uint32_t count, const char *skip, bool extra)
{
    uint8_t id[8] = {1};
    raw_peer("regtest", "hello", count);
    if (strcmp(skip, "version") != 0)
        kv_uint("version", PROTO_VERSION);
    kv_uint("height", 1);
    kv_bin("tip", h32, 32);
    kv_str("listen", "h:1");
    if (strcmp(skip, "node_id") != 0)
        kv_bin("node_id", id, 8);
    if (extra)
        kv_str("extra", "x");
}

/* Each writer leaves one flaw in an otherwise good message. */
static void hello_short(void) { hello_by_hand(5, "node_id", false); }
static void hello_swapped(void) { hello_by_hand(5, "version", true); }
static void hello_long(void) { hello_by_hand(6, "", true); }
static void ping_as_pong(void)
{
    raw_peer("regtest", "pong", 1);
    kv_uint("nonce", 1);
}
static void tip_short(void)
{
    proto_open_ok(&b, PROTO_REQ_GET_TIP, 1);
    kv_uint("height", 1);
    kv_bin("hash", h32, 32);
    kv_bin("chainwork", h32, 31);
}
static void unknown_code(void)
{
    proto_begin_request(&b, "error", 1, 2);
    kv_str("code", "nope");
    kv_str("message", "m");
}
static void event_missing(void)
{
    raw_event(1, 2);
    kv_bin("hash", h32, 32);
    kv_uint("height", 1);
}
static void request_as_other(void) { proto_open_request(&b, PROTO_REQ_GET_JOB, 1); }

Test(proto, the_check_catches_a_sender_that_breaks_its_schema)
{
    typedef struct {
        const char *what;
        void (*write)(void);
        proto_family_t family;
        int type;
        const char *says; /* in the check's message */
    } case_t;
    static const case_t cases[] = {
        {"a field short of its count", hello_short, PROTO_PEER, PROTO_MSG_HELLO, "decode"},
        {"another field for one", hello_swapped, PROTO_PEER, PROTO_MSG_HELLO, "version"},
        {"a field past the schema", hello_long, PROTO_PEER, PROTO_MSG_HELLO, "6 fields"},
        {"another type", ping_as_pong, PROTO_PEER, PROTO_MSG_PING, "not a ping"},
        {"a field of the wrong length", tip_short, PROTO_OK_REPLY, PROTO_REQ_GET_TIP,
         "chainwork"},
        {"an unknown error code", unknown_code, PROTO_OK_REPLY, PROTO_REQ_GET_TIP, "code"},
        {"an event without its origin", event_missing, PROTO_EVENT, PROTO_TOPIC_BLOCK, "decode"},
        {"another request", request_as_other, PROTO_REQUEST, PROTO_REQ_GET_TIP, "not a get_tip"},
        {"no such type", request_as_other, PROTO_REQUEST, PROTO_REQ_COUNT, "no message type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t e;
        mp_buf_reset(&b);
        cases[i].write();
        cr_assert(mp_buf_ok(&b));
        cr_assert_eq(proto_check(cases[i].family, cases[i].type, b.data, b.len, &e),
                     -(int)ERR_INTERNAL, "%s passed the check", cases[i].what);
        cr_assert_not_null(strstr(e.message, cases[i].says), "%s: \"%s\"", cases[i].what,
                           e.message);
    }
    /* an error reply with a known code answers any request */
    for (int t = 0; t < PROTO_REQ_COUNT; t++) {
        err_t e;
        mp_buf_reset(&b);
        proto_error(&b, 9, ERR_NOT_FOUND, "no such block");
        cr_assert_eq(proto_check(PROTO_OK_REPLY, t, b.data, b.len, &e), 0, "%s", e.message);
    }
}

Test(proto, open_sizes_the_body_from_the_schema)
{
    /* the map header proto_open_*() writes last holds the schema's count
     * (a fixmap: no schema has 16 fields) */
    for (int t = 0; t < PROTO_MSG_COUNT; t++) {
        mp_buf_reset(&b);
        proto_open_peer(&b, "regtest", (proto_msg_t)t);
        uint32_t n = proto_schema_fields(proto_schema(PROTO_PEER, t));
        cr_assert_eq(b.data[b.len - 1], 0x80 | n, "%s", proto_msg_name((proto_msg_t)t));
    }
    for (int t = 0; t < PROTO_REQ_COUNT; t++) {
        mp_buf_reset(&b);
        proto_open_ok(&b, (proto_req_t)t, 1);
        uint32_t n = proto_schema_fields(proto_schema(PROTO_OK_REPLY, t));
        cr_assert_eq(b.data[b.len - 1], 0x80 | n, "%s", proto_req_name((proto_req_t)t));
    }
    /* a request without fields is whole once opened */
    mp_buf_reset(&b);
    proto_open_request(&b, PROTO_REQ_GET_TIP, 5);
    proto_request_t r;
    decode_request_ok(&r, "get_tip", 5);
    cr_assert_eq(r.type, PROTO_REQ_GET_TIP);
}
