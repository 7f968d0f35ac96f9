#include "mp.h"

#include <stdlib.h>
#include <string.h>

void mp_buf_init(mp_buf_t *b, size_t max)
{
    *b = (mp_buf_t){.max = max};
}

void mp_buf_free(mp_buf_t *b)
{
    free(b->data);
    *b = (mp_buf_t){.max = b->max};
}

void mp_buf_reset(mp_buf_t *b)
{
    b->len = 0;
    b->failed = false;
}

static bool reserve(mp_buf_t *b, size_t more)
{
    if (b->failed)
        return false;
    if (more > b->max || b->len > b->max - more) {
        b->failed = true;
        return false;
    }
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void mp_put_raw(mp_buf_t *b, const void *data, size_t len)
{
    if (len && reserve(b, len)) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
}

static void put_be(mp_buf_t *b, uint8_t tag, uint64_t v, int width)
{
    uint8_t tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < width; i++)
        tmp[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    mp_put_raw(b, tmp, 1 + (size_t)width);
}

/* The container and string headers share one shape: a "fix" form holding small
 * lengths in the tag byte, then 8/16/32-bit forms. */
static void put_len(mp_buf_t *b, uint64_t n, uint8_t fix, uint64_t fixmax,
                    int has8, uint8_t tag8, uint8_t tag16, uint8_t tag32)
{
    if (n <= fixmax)
        put_be(b, (uint8_t)(fix | n), 0, 0);
    else if (has8 && n <= 0xff)
        put_be(b, tag8, n, 1);
    else if (n <= 0xffff)
        put_be(b, tag16, n, 2);
    else if (n <= 0xffffffffu)
        put_be(b, tag32, n, 4);
    else
        b->failed = true;
}

void mp_put_array(mp_buf_t *b, uint32_t n) { put_len(b, n, 0x90, 15, 0, 0, 0xdc, 0xdd); }
void mp_put_map(mp_buf_t *b, uint32_t n) { put_len(b, n, 0x80, 15, 0, 0, 0xde, 0xdf); }

void mp_put_uint(mp_buf_t *b, uint64_t v)
{
    if (v <= 0x7f)
        put_be(b, (uint8_t)v, 0, 0);
    else if (v <= 0xff)
        put_be(b, 0xcc, v, 1);
    else if (v <= 0xffff)
        put_be(b, 0xcd, v, 2);
    else if (v <= 0xffffffffu)
        put_be(b, 0xce, v, 4);
    else
        put_be(b, 0xcf, v, 8);
}

void mp_put_bin(mp_buf_t *b, const void *data, size_t len)
{
    /* bin has no "fix" form: a length of 0 still takes bin8 */
    if (len <= 0xff)
        put_be(b, 0xc4, len, 1);
    else
        put_len(b, len, 0, 0, 0, 0, 0xc5, 0xc6);
    mp_put_raw(b, data, len);
}

void mp_put_str(mp_buf_t *b, const char *s, size_t len)
{
    put_len(b, len, 0xa0, 31, 1, 0xd9, 0xda, 0xdb);
    mp_put_raw(b, s, len);
}

void mp_put_cstr(mp_buf_t *b, const char *s) { mp_put_str(b, s, strlen(s)); }
void mp_put_bool(mp_buf_t *b, bool v) { put_be(b, v ? 0xc3 : 0xc2, 0, 0); }
void mp_put_nil(mp_buf_t *b) { put_be(b, 0xc0, 0, 0); }

void mp_reader_init(mp_reader_t *r, const void *data, size_t len, bool strict)
{
    *r = (mp_reader_t){.p = data, .len = len, .strict = strict};
}

mp_type_t mp_peek(const mp_reader_t *r)
{
    if (r->pos >= r->len)
        return MP_INVALID;
    uint8_t t = r->p[r->pos];
    if (t <= 0x7f || t == 0xcc || t == 0xcd || t == 0xce || t == 0xcf)
        return MP_UINT;
    if (t >= 0xe0 || (t >= 0xd0 && t <= 0xd3))
        return MP_INT;
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf)
        return MP_MAP;
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd)
        return MP_ARRAY;
    if ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb)
        return MP_STR;
    if (t >= 0xc4 && t <= 0xc6)
        return MP_BIN;
    if (t == 0xc0)
        return MP_NIL;
    if (t == 0xc2 || t == 0xc3)
        return MP_BOOL;
    if (t == 0xca || t == 0xcb)
        return MP_FLOAT;
    if ((t >= 0xc7 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8))
        return MP_EXT;
    return MP_INVALID;
}

/* Reads a big-endian integer of width bytes after the tag at r->pos. */
static int read_be(const mp_reader_t *r, int width, uint64_t *v)
{
    if (mp_left(r) < 1 + (size_t)width)
        return -1;
    uint64_t x = 0;
    for (int i = 0; i < width; i++)
        x = x << 8 | r->p[r->pos + 1 + i];
    *v = x;
    return 0;
}

/* Decodes a length header: fix form (mask bits of the tag) or a sized form.
 * min is the smallest value each sized form may carry when strict. */
typedef struct {
    uint8_t fix, fixmask;
    uint8_t tag[3];
    int width[3];
    uint64_t min[3];
} len_form_t;

static int read_len(mp_reader_t *r, const len_form_t *f, uint64_t *n, size_t *hdr)
{
    if (r->pos >= r->len)
        return -1;
    uint8_t t = r->p[r->pos];
    if (f->fixmask && (t & (uint8_t)~f->fixmask) == f->fix) {
        *n = t & f->fixmask;
        *hdr = 1;
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        if (f->tag[i] && t == f->tag[i]) {
            if (read_be(r, f->width[i], n) < 0)
                return -1;
            if (r->strict && *n < f->min[i])
                return -1;
            *hdr = 1 + (size_t)f->width[i];
            return 0;
        }
    }
    return -1;
}

static const len_form_t form_array = {0x90, 0x0f, {0xdc, 0xdd, 0}, {2, 4, 0}, {16, 0x10000, 0}};
static const len_form_t form_map = {0x80, 0x0f, {0xde, 0xdf, 0}, {2, 4, 0}, {16, 0x10000, 0}};
static const len_form_t form_str = {0xa0, 0x1f, {0xd9, 0xda, 0xdb}, {1, 2, 4}, {32, 0x100, 0x10000}};
static const len_form_t form_bin = {0, 0, {0xc4, 0xc5, 0xc6}, {1, 2, 4}, {0, 0x100, 0x10000}};

static int get_container(mp_reader_t *r, const len_form_t *f, uint64_t per_item, uint32_t *n)
{
    uint64_t v;
    size_t hdr;
    if (read_len(r, f, &v, &hdr) < 0)
        return -1;
    /* every element takes at least one byte: a longer claim is a lie */
    if (v > (mp_left(r) - hdr) / per_item)
        return -1;
    r->pos += hdr;
    *n = (uint32_t)v;
    return 0;
}

int mp_get_array(mp_reader_t *r, uint32_t *n) { return get_container(r, &form_array, 1, n); }
int mp_get_map(mp_reader_t *r, uint32_t *n) { return get_container(r, &form_map, 2, n); }

static int get_bytes(mp_reader_t *r, const len_form_t *f, const uint8_t **data, size_t *len)
{
    uint64_t v;
    size_t hdr;
    if (read_len(r, f, &v, &hdr) < 0 || v > mp_left(r) - hdr)
        return -1;
    *data = r->p + r->pos + hdr;
    *len = (size_t)v;
    r->pos += hdr + (size_t)v;
    return 0;
}

int mp_get_bin(mp_reader_t *r, const uint8_t **data, size_t *len)
{
    return get_bytes(r, &form_bin, data, len);
}

int mp_get_str(mp_reader_t *r, const char **s, size_t *len)
{
    const uint8_t *d;
    if (get_bytes(r, &form_str, &d, len) < 0)
        return -1;
    *s = (const char *)d;
    return 0;
}

int mp_get_bin_exact(mp_reader_t *r, void *out, size_t len)
{
    size_t save = r->pos, got;
    const uint8_t *d;
    if (mp_get_bin(r, &d, &got) < 0)
        return -1;
    if (got != len) {
        r->pos = save;
        return -1;
    }
    memcpy(out, d, len);
    return 0;
}

int mp_get_uint(mp_reader_t *r, uint64_t *v)
{
    if (r->pos >= r->len)
        return -1;
    uint8_t t = r->p[r->pos];
    static const struct { uint8_t tag; int width; uint64_t min; } forms[] = {
        {0xcc, 1, 0x80}, {0xcd, 2, 0x100}, {0xce, 4, 0x10000}, {0xcf, 8, 0x100000000ull},
    };
    if (t <= 0x7f) {
        *v = t;
        r->pos++;
        return 0;
    }
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (t != forms[i].tag)
            continue;
        uint64_t x;
        if (read_be(r, forms[i].width, &x) < 0 || (r->strict && x < forms[i].min))
            return -1;
        *v = x;
        r->pos += 1 + (size_t)forms[i].width;
        return 0;
    }
    return -1;
}

int mp_get_bool(mp_reader_t *r, bool *v)
{
    if (r->pos >= r->len || (r->p[r->pos] != 0xc2 && r->p[r->pos] != 0xc3))
        return -1;
    *v = r->p[r->pos++] == 0xc3;
    return 0;
}

int mp_get_nil(mp_reader_t *r)
{
    if (r->pos >= r->len || r->p[r->pos] != 0xc0)
        return -1;
    r->pos++;
    return 0;
}

static int skip_depth(mp_reader_t *r, int depth)
{
    if (depth > 32)
        return -1;
    size_t save = r->pos;
    uint8_t t = r->pos < r->len ? r->p[r->pos] : 0;
    uint32_t n;
    const uint8_t *d;
    size_t len;
    uint64_t u;
    int rc = 0;
    switch (mp_peek(r)) {
    case MP_NIL: return mp_get_nil(r);
    case MP_BOOL: { bool b; return mp_get_bool(r, &b); }
    case MP_UINT: return mp_get_uint(r, &u);
    case MP_STR: { const char *s; return mp_get_str(r, &s, &len); }
    case MP_BIN: return mp_get_bin(r, &d, &len);
    case MP_ARRAY:
    case MP_MAP: {
        bool is_map = mp_peek(r) == MP_MAP;
        if ((is_map ? mp_get_map(r, &n) : mp_get_array(r, &n)) < 0)
            return -1;
        uint64_t items = (uint64_t)n * (is_map ? 2 : 1);
        for (uint64_t i = 0; i < items && rc == 0; i++)
            rc = skip_depth(r, depth + 1);
        break;
    }
    case MP_INT:
    case MP_FLOAT:
    case MP_EXT: {
        /* fixed sizes by tag; ext 8/16/32 carry a length then a type byte */
        size_t size;
        if (t >= 0xe0) size = 1;
        else if (t == 0xd0) size = 2;
        else if (t == 0xd1) size = 3;
        else if (t == 0xd2 || t == 0xca) size = 5;
        else if (t == 0xd3 || t == 0xcb) size = 9;
        else if (t >= 0xd4 && t <= 0xd8) size = 2 + ((size_t)1 << (t - 0xd4));
        else {
            int w = t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4;
            if (read_be(r, w, &u) < 0)
                return -1;
            size = 2 + (size_t)w;
            if (u > mp_left(r) - size)
                return -1;
            size += (size_t)u;
        }
        if (size > mp_left(r))
            return -1;
        r->pos += size;
        break;
    }
    default:
        return -1;
    }
    if (rc < 0)
        r->pos = save;
    return rc;
}

int mp_skip(mp_reader_t *r) { return skip_depth(r, 0); }
