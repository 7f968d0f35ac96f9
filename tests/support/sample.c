#include "sample.h"

#include <stdlib.h>
#include <string.h>

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* One of a few sizes that sit on the msgpack form boundaries, at most max. */
static size_t pick_len(uint64_t *x, size_t max)
{
    static const size_t edges[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536};
    size_t n = next(x) % 4 == 0 ? (size_t)(next(x) % 300)
                                : edges[next(x) % (sizeof edges / sizeof edges[0])];
    if (n > 300 && next(x) % 4) /* big ones now and then, not always */
        n = next(x) % 300;
    return n > max ? max : n;
}

static uint64_t pick_uint(uint64_t *x)
{
    static const uint64_t edges[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffu,
                                     0x100000000ull, UINT64_MAX};
    return next(x) % 4 == 0 ? next(x) : edges[next(x) % (sizeof edges / sizeof edges[0])];
}

static void put_str(mp_buf_t *b, uint64_t *x, size_t max)
{
    char s[1024];
    size_t n = pick_len(x, max < sizeof s ? max : sizeof s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(' ' + next(x) % 95);
    mp_put_str(b, s, n);
}

static void put_bin(mp_buf_t *b, uint64_t *x, uint32_t exact, uint32_t max)
{
    size_t n = exact ? exact : pick_len(x, max ? max : 70000);
    uint8_t *d = malloc(n ? n : 1);
    if (!d) {
        mp_put_bin(b, "", 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)next(x);
    mp_put_bin(b, d, n);
    free(d);
}

/* A peer table entry, as gossipd reports it. */
static void put_map(mp_buf_t *b, uint64_t *x)
{
    mp_put_map(b, 3);
    mp_put_cstr(b, "addr");
    put_str(b, x, 255);
    mp_put_cstr(b, "inbound");
    mp_put_bool(b, next(x) & 1);
    mp_put_cstr(b, "height");
    mp_put_uint(b, pick_uint(x));
}

static void put_value(mp_buf_t *b, uint64_t *x, proto_kind_t kind, uint32_t len, uint32_t max)
{
    switch (kind) {
    case PROTO_UINT: /* within the field's bits: UINT64_MAX becomes the top of the range */
        mp_put_uint(b, len ? pick_uint(x) & (UINT64_MAX >> (64 - len)) : pick_uint(x));
        break;
    case PROTO_STR: put_str(b, x, len); break;
    case PROTO_BIN: put_bin(b, x, len == max ? len : 0, max); break;
    case PROTO_BOOL: mp_put_bool(b, next(x) & 1); break;
    case PROTO_MAP: put_map(b, x); break;
    case PROTO_ARRAY: mp_put_array(b, 0); break; /* fields handle their arrays */
    }
}

static void put_field(mp_buf_t *b, uint64_t *x, const proto_field_t *f)
{
    mp_put_cstr(b, f->key);
    if (f->kind != PROTO_ARRAY) {
        put_value(b, x, f->kind, f->len, f->max);
        return;
    }
    size_t n = pick_len(x, f->max > 64 && next(x) % 2 ? 64 : f->max);
    mp_put_array(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_value(b, x, f->elem, f->elem_len, f->elem == PROTO_BIN ? f->elem_len : 0);
}

int sample_types(proto_family_t family)
{
    int n = 0;
    while (proto_schema(family, n))
        n++;
    return n;
}

void sample_message(mp_buf_t *b, proto_family_t family, int type, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    const proto_schema_t *s = proto_schema(family, type);
    mp_buf_reset(b);
    switch (family) {
    case PROTO_REQUEST: proto_open_request(b, (proto_req_t)type, pick_uint(&x)); break;
    case PROTO_OK_REPLY: proto_open_ok(b, (proto_req_t)type, pick_uint(&x)); break;
    case PROTO_PEER: proto_open_peer(b, "regtest", (proto_msg_t)type); break;
    case PROTO_EVENT: proto_open_event(b, (proto_topic_t)type, pick_uint(&x)); break;
    }
    for (uint32_t i = 0; i < proto_schema_fields(s); i++)
        put_field(b, &x, &s->fields[i]);
}

void sample_hello(mp_buf_t *b, const char *network, const char *listen, uint8_t id_byte)
{
    uint8_t id[8];
    memset(id, id_byte, sizeof id);
    sample_hello_of(b, network, listen, id);
}

void sample_hello_of(mp_buf_t *b, const char *network, const char *listen, const uint8_t id[8])
{
    uint8_t zero[32] = {0};
    mp_buf_reset(b);
    proto_open_peer(b, network, PROTO_MSG_HELLO);
    mp_put_cstr(b, "version");
    mp_put_uint(b, PROTO_VERSION);
    mp_put_cstr(b, "height");
    mp_put_uint(b, 0);
    mp_put_cstr(b, "tip");
    mp_put_bin(b, zero, 32);
    mp_put_cstr(b, "listen");
    mp_put_cstr(b, listen);
    mp_put_cstr(b, "node_id");
    mp_put_bin(b, id, 8);
}

hash32_t sample_hash(uint64_t n, uint8_t fill)
{
    hash32_t h;
    memset(h.b, fill, sizeof h.b);
    memcpy(h.b, &n, sizeof n);
    return h;
}
