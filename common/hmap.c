#include "hmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Linear probing with backward-shift deletion: no tombstones, so lookups stay
 * short however many deletions a long-running mempool makes. */
struct hmap {
    size_t key_len, cap, count;
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

static size_t slot_of(const hmap_t *m, const void *key)
{
    uint64_t h = 0;
    memcpy(&h, key, m->key_len < 8 ? m->key_len : 8);
    /* keys are hashes, but an outpoint's index or a crafted txid should not
     * line up in one run of slots: mix (splitmix64 finaliser) */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (size_t)h & (m->cap - 1);
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
    hmap_t bigger = {.key_len = m->key_len, .cap = m->cap * 2};
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
