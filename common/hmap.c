#include "hmap.h"

#include <assert.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* Linear probing with backward-shift deletion: no tombstones, so lookups stay
 * short however many deletions a long-running mempool makes. */
struct hmap {
    size_t key_len, cap, count;
    uint64_t k0, k1; /* the secret SipHash key of this map */
    uint8_t *keys;  /* cap * key_len */
    void **values;  /* NULL marks an empty slot */
};

hmap_t *hmap_new(size_t key_len)
{
    assert(key_len > 0 && key_len <= 64);
    hmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->key_len = key_len;
    m->cap = 16;
    uint64_t k[2];
    if (RAND_bytes((unsigned char *)k, sizeof k) != 1) { /* still correct, only guessable */
        k[0] = (uint64_t)(uintptr_t)m;
        k[1] = (uint64_t)(uintptr_t)&k;
    }
    m->k0 = k[0];
    m->k1 = k[1];
    m->keys = malloc(m->cap * key_len);
    m->values = calloc(m->cap, sizeof *m->values);
    if (!m->keys || !m->values) {
        hmap_destroy(&m);
        return NULL;
    }
    return m;
}

void hmap_destroy(hmap_t **m)
{
    if (!*m)
        return;
    free((*m)->keys);
    free((*m)->values);
    free(*m);
    *m = NULL;
}

size_t hmap_count(const hmap_t *m) { return m->count; }

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                       \
    do {                                                                               \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                      \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                         \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                         \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                      \
    } while (0)

static uint64_t le64(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* SipHash-2-4 of the whole key under the map's secret key (as Bitcoin Core
 * hashes outpoints): every byte counts, so the outputs of one transaction
 * (keys that share their first 32 bytes) spread over the table, and a peer
 * that cannot see the key cannot grind txids or hashes into one run of slots. */
static size_t slot_of(const hmap_t *m, const void *key)
{
    const uint8_t *in = key;
    size_t len = m->key_len, full = len & ~(size_t)7;
    uint64_t v0 = m->k0 ^ 0x736f6d6570736575ull, v1 = m->k1 ^ 0x646f72616e646f6dull,
             v2 = m->k0 ^ 0x6c7967656e657261ull, v3 = m->k1 ^ 0x7465646279746573ull;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t w = le64(in + i, 8);
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    uint64_t last = (uint64_t)len << 56 | le64(in + full, len - full);
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return (size_t)(v0 ^ v1 ^ v2 ^ v3) & (m->cap - 1);
}

static size_t find(const hmap_t *m, const void *key, bool *found)
{
    size_t i = slot_of(m, key);
    while (m->values[i]) {
        if (memcmp(m->keys + i * m->key_len, key, m->key_len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & (m->cap - 1);
    }
    *found = false;
    return i;
}

void *hmap_get(const hmap_t *m, const void *key)
{
    bool found;
    size_t i = find(m, key, &found);
    return found ? m->values[i] : NULL;
}

static int grow(hmap_t *m)
{
    hmap_t bigger = {.key_len = m->key_len, .cap = m->cap * 2, .k0 = m->k0, .k1 = m->k1};
    bigger.keys = malloc(bigger.cap * m->key_len);
    bigger.values = calloc(bigger.cap, sizeof *bigger.values);
    if (!bigger.keys || !bigger.values) {
        free(bigger.keys);
        free(bigger.values);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->values[i])
            continue;
        bool found;
        size_t j = find(&bigger, m->keys + i * m->key_len, &found);
        memcpy(bigger.keys + j * m->key_len, m->keys + i * m->key_len, m->key_len);
        bigger.values[j] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = bigger.keys;
    m->values = bigger.values;
    m->cap = bigger.cap;
    return 0;
}

int hmap_put(hmap_t *m, const void *key, void *value)
{
    assert(value);
    bool found;
    size_t i = find(m, key, &found);
    if (found) {
        m->values[i] = value;
        return 0;
    }
    if ((m->count + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
        if (grow(m) < 0)
            return -1;
        i = find(m, key, &found);
    }
    memcpy(m->keys + i * m->key_len, key, m->key_len);
    m->values[i] = value;
    m->count++;
    return 0;
}

void *hmap_del(hmap_t *m, const void *key)
{
    bool found;
    size_t i = find(m, key, &found);
    if (!found)
        return NULL;
    void *old = m->values[i];
    m->values[i] = NULL;
    m->count--;
    /* shift back the entries of the run that follows into the hole */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->values[j])
            break;
        size_t home = slot_of(m, m->keys + j * m->key_len);
        /* j's entry may move to hole iff home is not cyclically in (hole, j] */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        memcpy(m->keys + hole * m->key_len, m->keys + j * m->key_len, m->key_len);
        m->values[hole] = m->values[j];
        m->values[j] = NULL;
        hole = j;
    }
    return old;
}

bool hmap_next(const hmap_t *m, size_t *pos, const void **key, void **value)
{
    while (*pos < m->cap) {
        size_t i = (*pos)++;
        if (m->values[i]) {
            *key = m->keys + i * m->key_len;
            *value = m->values[i];
            return true;
        }
    }
    return false;
}
