/* mp: a small msgpack writer and a bounded, optionally strict, reader.
 *
 * Why not msgpack-c: consensus objects need a decoder that sees the wire form
 * (a uint8 where a fixint is due, str where bin is due) to reject every
 * non-canonical encoding, and peer input needs a decoder that allocates
 * nothing from declared lengths. msgpack-c's object tree gives neither, so the
 * project has this one codec for consensus objects and envelopes alike.
 *
 * Writer: a heap buffer that grows up to a maximum. Errors are sticky: after an
 * allocation failure or once `max` would be passed, every put is a no-op and
 * mp_buf_ok() is false, so a caller checks once at the end.
 *
 * Reader: walks caller-owned bytes, never copies, never allocates. Every
 * declared array or map length is checked against the bytes left (each element
 * takes at least one byte), so no caller sizes an allocation from a lie. */
#ifndef CHAIN_MP_H
#define CHAIN_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data; /* owned; free with mp_buf_free() */
    size_t len;
    size_t cap;
    size_t max; /* the buffer never grows past this many bytes */
    bool failed;
} mp_buf_t;

/* An empty buffer that may grow to max bytes. Allocates nothing yet. */
void mp_buf_init(mp_buf_t *b, size_t max);
/* Frees the bytes and leaves an empty buffer (safe to call twice). */
void mp_buf_free(mp_buf_t *b);
/* Empties the buffer, keeping its storage and its error state cleared. */
void mp_buf_reset(mp_buf_t *b);
static inline bool mp_buf_ok(const mp_buf_t *b) { return !b->failed; }

/* Appends raw bytes (already encoded msgpack). */
void mp_put_raw(mp_buf_t *b, const void *data, size_t len);
/* Each put writes the smallest msgpack form of its value. */
void mp_put_array(mp_buf_t *b, uint32_t n);
void mp_put_map(mp_buf_t *b, uint32_t n);
void mp_put_uint(mp_buf_t *b, uint64_t v);
void mp_put_bin(mp_buf_t *b, const void *data, size_t len);
void mp_put_str(mp_buf_t *b, const char *s, size_t len);
void mp_put_cstr(mp_buf_t *b, const char *s);
void mp_put_bool(mp_buf_t *b, bool v);
void mp_put_nil(mp_buf_t *b);

typedef enum {
    MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT, MP_STR, MP_BIN,
    MP_ARRAY, MP_MAP, MP_EXT, MP_INVALID
} mp_type_t;

typedef struct {
    const uint8_t *p; /* borrowed */
    size_t len;
    size_t pos;
    bool strict; /* reject any form that is not the smallest for its value */
} mp_reader_t;

/* A reader over data[0..len). strict: the canonical rules of DESIGN §3.1. */
void mp_reader_init(mp_reader_t *r, const void *data, size_t len, bool strict);
static inline size_t mp_left(const mp_reader_t *r) { return r->len - r->pos; }

/* The type of the next value, without consuming it; MP_INVALID at the end or
 * on a byte that starts no msgpack value (0xc1). */
mp_type_t mp_peek(const mp_reader_t *r);

/* Each get consumes one value of its type and returns 0; on a wrong type, a
 * truncated value, or (strict) a non-smallest form it returns -1 and leaves
 * the position where it was. Borrowed pointers point into the reader's bytes. */
int mp_get_array(mp_reader_t *r, uint32_t *n);
int mp_get_map(mp_reader_t *r, uint32_t *n);
int mp_get_uint(mp_reader_t *r, uint64_t *v);
int mp_get_bin(mp_reader_t *r, const uint8_t **data, size_t *len);
int mp_get_str(mp_reader_t *r, const char **s, size_t *len);
int mp_get_bool(mp_reader_t *r, bool *v);
int mp_get_nil(mp_reader_t *r);
/* bin of exactly len bytes, copied into out. */
int mp_get_bin_exact(mp_reader_t *r, void *out, size_t len);
/* Skips one value of any type, nested at most 32 deep. */
int mp_skip(mp_reader_t *r);

#endif
