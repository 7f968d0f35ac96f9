#include "oracle.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mp.h"

/* --- the bounds ------------------------------------------------------------------ */

/* The header of the value at d (left bytes): its size, and for a container
 * the elements it declares (a map's pairs count twice). false when the tag
 * starts no value or the header is cut off. */
static bool header(const uint8_t *d, size_t left, size_t *size, uint64_t *items, bool *container)
{
    static const uint8_t width[4] = {1, 2, 4, 8};
    uint8_t t = d[0];
    uint64_t n = 0;
    size_t w = 0, extra = 0;
    *container = false;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        *size = 1;
        return true;
    }
    if ((t & 0xf0) == 0x80 || (t & 0xf0) == 0x90) {
        *container = true;
        *items = (uint64_t)(t & 0x0f) * ((t & 0xf0) == 0x80 ? 2 : 1);
        *size = 1;
        return true;
    }
    if ((t & 0xe0) == 0xa0) {
        *size = 1 + (size_t)(t & 0x1f);
        return true;
    }
    if (t >= 0xcc && t <= 0xd3) {
        *size = 1 + width[(t - 0xcc) % 4];
        return true;
    }
    if (t == 0xca || t == 0xcb) {
        *size = t == 0xca ? 5 : 9;
        return true;
    }
    if (t >= 0xd4 && t <= 0xd8) {
        *size = 2 + ((size_t)1 << (t - 0xd4));
        return true;
    }
    if (t >= 0xc4 && t <= 0xc6) w = width[t - 0xc4];
    else if (t >= 0xc7 && t <= 0xc9) w = width[t - 0xc7], extra = 1;
    else if (t >= 0xd9 && t <= 0xdb) w = width[t - 0xd9];
    else if (t >= 0xdc && t <= 0xdf) w = t & 1 ? 4 : 2, *container = true;
    else return false; /* 0xc1 */
    if (left < 1 + w)
        return false;
    for (size_t i = 0; i < w; i++)
        n = n << 8 | d[1 + i];
    if (*container) {
        *items = n * (t >= 0xde ? 2 : 1);
        *size = 1 + w;
    } else {
        *size = 1 + w + extra + n;
    }
    return true;
}

typedef enum { BOUNDED, TOO_DEEP, IMPOSSIBLE } bounds_t;

static bounds_t bounds(const uint8_t *d, size_t len)
{
    uint64_t pending[ORACLE_MAX_DEPTH + 1], declared = 0;
    size_t depth = 0, pos = 0;
    pending[0] = 1;
    while (pos < len) {
        size_t size;
        uint64_t items = 0;
        bool container;
        if (!header(d + pos, len - pos, &size, &items, &container))
            return BOUNDED; /* invalid from here on: both readers refuse it, cheaply */
        pos += size < len - pos ? size : len - pos;
        pending[depth]--;
        /* an empty container counts too: the project's reader nests it */
        if (container && depth == ORACLE_MAX_DEPTH)
            return TOO_DEEP;
        if (container && items > 0) {
            declared += items;
            if (declared > len)
                return IMPOSSIBLE; /* more elements than bytes */
            pending[++depth] = items;
        }
        while (pending[depth] == 0) {
            if (depth == 0)
                return BOUNDED; /* the value is complete */
            depth--;
        }
    }
    return BOUNDED;
}

bool oracle_within_bounds(const uint8_t *d, size_t len) { return bounds(d, len) == BOUNDED; }

/* --- the comparison ---------------------------------------------------------------- */

static int fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads the value at r with the project's reader and compares it with o
 * (msgpack-c leaves an empty string's or binary's pointer NULL). */
static int walk(mp_reader_t *r, const msgpack_object *o, int depth, char *why, size_t cap)
{
    size_t at = r->pos;
    uint64_t u;
    bool flag;
    const uint8_t *d;
    const char *s;
    size_t n;
    uint32_t count;
    switch (mp_peek(r)) {
    case MP_NIL:
        return mp_get_nil(r) == 0 && o->type == MSGPACK_OBJECT_NIL ? 0
               : fail(why, cap, "nil at %zu", at);
    case MP_BOOL:
        return mp_get_bool(r, &flag) == 0 && o->type == MSGPACK_OBJECT_BOOLEAN &&
                       flag == o->via.boolean
                   ? 0
                   : fail(why, cap, "boolean at %zu", at);
    case MP_UINT:
        return mp_get_uint(r, &u) == 0 && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                       u == o->via.u64
                   ? 0
                   : fail(why, cap, "unsigned integer at %zu", at);
    case MP_STR:
        return mp_get_str(r, &s, &n) == 0 && o->type == MSGPACK_OBJECT_STR &&
                       n == o->via.str.size && (n == 0 || memcmp(s, o->via.str.ptr, n) == 0)
                   ? 0
                   : fail(why, cap, "string at %zu", at);
    case MP_BIN:
        return mp_get_bin(r, &d, &n) == 0 && o->type == MSGPACK_OBJECT_BIN &&
                       n == o->via.bin.size && (n == 0 || memcmp(d, o->via.bin.ptr, n) == 0)
                   ? 0
                   : fail(why, cap, "binary at %zu", at);
    case MP_ARRAY:
        if (mp_get_array(r, &count) < 0 || o->type != MSGPACK_OBJECT_ARRAY ||
            count != o->via.array.size || depth >= ORACLE_MAX_DEPTH)
            return fail(why, cap, "array at %zu", at);
        for (uint32_t i = 0; i < count; i++)
            if (walk(r, &o->via.array.ptr[i], depth + 1, why, cap) < 0)
                return -1;
        return 0;
    case MP_MAP:
        if (mp_get_map(r, &count) < 0 || o->type != MSGPACK_OBJECT_MAP ||
            count != o->via.map.size || depth >= ORACLE_MAX_DEPTH)
            return fail(why, cap, "map at %zu", at);
        for (uint32_t i = 0; i < count; i++)
            if (walk(r, &o->via.map.ptr[i].key, depth + 1, why, cap) < 0 ||
                walk(r, &o->via.map.ptr[i].val, depth + 1, why, cap) < 0)
                return -1;
        return 0;
    case MP_INT:
        /* read by type only (see oracle.h) */
        return mp_skip(r) == 0 && (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                                   o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                   ? 0
                   : fail(why, cap, "signed integer at %zu", at);
    case MP_FLOAT:
        return mp_skip(r) == 0 && (o->type == MSGPACK_OBJECT_FLOAT32 ||
                                   o->type == MSGPACK_OBJECT_FLOAT64)
                   ? 0
                   : fail(why, cap, "float at %zu", at);
    case MP_EXT:
        return mp_skip(r) == 0 && o->type == MSGPACK_OBJECT_EXT
                   ? 0
                   : fail(why, cap, "extension at %zu", at);
    case MP_INVALID:
        break;
    }
    return fail(why, cap, "a byte that starts no value at %zu", at);
}

/* msgpack-c's verdict: true with *o when one value fills all of data. */
static bool theirs(msgpack_unpacked *u, const uint8_t *data, size_t len)
{
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(u, (const char *)data, len, &off);
    return rc == MSGPACK_UNPACK_SUCCESS && off == len;
}

/* The project's lenient reader's verdict on the whole input. */
static bool ours(const uint8_t *data, size_t len)
{
    mp_reader_t r;
    mp_reader_init(&r, data, len, false);
    return mp_skip(&r) == 0 && mp_left(&r) == 0;
}

int oracle_compare(const uint8_t *data, size_t len, bool *accepted, char *why, size_t cap)
{
    *accepted = ours(data, len);
    switch (bounds(data, len)) {
    case IMPOSSIBLE:
        return *accepted ? fail(why, cap, "more elements than bytes, yet the reader took it") : 0;
    case TOO_DEEP:
        return 0; /* deeper than msgpack-c is asked to go: no verdict to compare */
    case BOUNDED:
        break;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool them = theirs(&u, data, len);
    int rc = 0;
    if (them != *accepted) {
        rc = fail(why, cap, "msgpack-c %s it, the reader %s it", them ? "takes" : "refuses",
                  *accepted ? "takes" : "refuses");
    } else if (them) {
        mp_reader_t r;
        mp_reader_init(&r, data, len, false);
        rc = walk(&r, &u.data, 0, why, cap);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int oracle_check_encoding(const uint8_t *data, size_t len, char *why, size_t cap)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    mp_reader_t r;
    int rc = 0;
    if (!oracle_within_bounds(data, len) || !theirs(&u, data, len)) {
        rc = fail(why, cap, "msgpack-c does not decode all %zu bytes", len);
    } else {
        mp_reader_init(&r, data, len, true); /* what we write is canonical */
        rc = walk(&r, &u.data, 0, why, cap);
    }
    if (rc == 0) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (msgpack_pack_object(&pk, u.data) != 0 || sb.size != len ||
            memcmp(sb.data, data, len) != 0)
            rc = fail(why, cap, "msgpack-c packs the value in %zu bytes, not these %zu",
                      sb.size, len);
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}
