#include "store.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "clock.h"
#include "hex.h"
#include "log.h"
#include "mp.h"
#include "script.h"

#define INDEX_REC_LEN (BLOCK_HEADER_LEN + 8 + 32 + 1)
#define COIN_HEAD_LEN 17 /* amount, height, coinbase flag: then the script */
#define ADDR_KEY_LEN (20 + STORE_OUTPOINT_LEN)
#define UNDO_MAX ((size_t)1 << 30) /* far above what a 1 MB block can spend */
#define MAX_READERS 256
#define MEMPOOL_VERSION 1
#define MEMPOOL_HEAD_LEN 10 /* version, flags, arrival: then the transaction */
#define MAX_DBS 16

struct store {
    MDB_env *env;
    MDB_dbi meta, index, blocks, chain, utxo, undo, txindex, addr, mempool;
    MDB_dbi history, spentby;
    bool indexing; /* store_set_indexing */
};

struct store_read {
    store_t *s;
    MDB_txn *txn;
};

struct store_write {
    store_read_t r; /* its txn is the write's: reads see the changes */
    mp_buf_t undo;  /* coins spent since the last store_connect() */
};

typedef enum {
    ITER_ADDRESS, ITER_UTXO, ITER_UNDO, ITER_INDEX, ITER_MEMPOOL, ITER_HISTORY
} iter_kind_t;

struct store_iter {
    iter_kind_t kind;
    store_read_t *r;
    MDB_cursor *cur; /* NULL for an undo iterator */
    bool started, broken; /* broken: ITER_MEMPOOL met a table it cannot read */
    hash20_t pkh;               /* ITER_ADDRESS */
    const uint8_t *undo;        /* ITER_UNDO: the record, borrowed */
    size_t undo_len, undo_pos;
    uint8_t seek[20 + 8 + 4];   /* ITER_HISTORY: the key the entries are below */
    bool done;                  /* ITER_HISTORY: past the address's oldest entry */
};

static const char tip_key[] = "tip";
static const char network_key[] = "network";

/* --- errors and small encodings ------------------------------------------ */

static int lmdb_fail(err_t *e, const char *what, int rc)
{
    return err_set(e, ERR_INTERNAL, "store: %s: %s", what, mdb_strerror(rc));
}

static int corrupt(err_t *e, const char *what)
{
    return err_set(e, ERR_INTERNAL, "store: corrupt %s: the data directory is damaged", what);
}

static MDB_val val(const void *data, size_t len) { return (MDB_val){len, (void *)data}; }

void store_outpoint_key(uint8_t key[STORE_OUTPOINT_LEN], const hash32_t *txid, uint32_t index)
{
    memcpy(key, txid->b, 32);
    /* big-endian so that a txid's outputs sort by index */
    for (int i = 0; i < 4; i++)
        key[32 + i] = (uint8_t)(index >> (24 - 8 * i));
}

static void outpoint_of_key(store_outpoint_t *op, const uint8_t *key)
{
    memcpy(op->txid.b, key, 32);
    op->index = (uint32_t)key[32] << 24 | (uint32_t)key[33] << 16 | (uint32_t)key[34] << 8 |
                key[35];
}

static void height_key(uint8_t key[8], uint64_t height)
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(height >> (56 - 8 * i));
}

static uint64_t height_of_key(const uint8_t key[8])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | key[i];
    return h;
}

static void index_encode(uint8_t out[INDEX_REC_LEN], const store_index_rec_t *rec)
{
    block_header_encode(out, &rec->header);
    bytes_put_le(out + BLOCK_HEADER_LEN, rec->height, 8);
    u256_to_be(out + BLOCK_HEADER_LEN + 8, &rec->chainwork);
    out[BLOCK_HEADER_LEN + 40] = rec->status;
}

static int index_decode(store_index_rec_t *rec, const MDB_val *v, err_t *e)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != INDEX_REC_LEN || p[BLOCK_HEADER_LEN + 40] & ~(STORE_VALID | STORE_INVALID))
        return corrupt(e, "block index record");
    block_header_decode(&rec->header, p);
    rec->height = bytes_get_le(p + BLOCK_HEADER_LEN, 8);
    u256_from_be(&rec->chainwork, p + BLOCK_HEADER_LEN + 8);
    rec->status = p[BLOCK_HEADER_LEN + 40];
    return 0;
}

static void coin_encode(uint8_t *out, const store_coin_t *c)
{
    bytes_put_le(out, c->amount, 8);
    bytes_put_le(out + 8, c->height, 8);
    out[16] = c->coinbase;
    memcpy(out + COIN_HEAD_LEN, c->script, c->script_len);
}

static int coin_decode(store_coin_t *c, const void *data, size_t len, err_t *e)
{
    const uint8_t *p = data;
    if (len < COIN_HEAD_LEN || p[16] > 1 || len - COIN_HEAD_LEN > SCRIPT_MAX_SIZE)
        return corrupt(e, "coin record");
    c->amount = bytes_get_le(p, 8);
    c->height = bytes_get_le(p + 8, 8);
    c->coinbase = p[16] != 0;
    c->script = p + COIN_HEAD_LEN;
    c->script_len = len - COIN_HEAD_LEN;
    return 0;
}

static void mempool_encode(uint8_t *out, const store_mempool_rec_t *rec)
{
    out[0] = MEMPOOL_VERSION;
    out[1] = rec->flags;
    bytes_put_le(out + 2, rec->arrival, 8);
    memcpy(out + MEMPOOL_HEAD_LEN, rec->raw, rec->len);
}

static int mempool_decode(store_mempool_rec_t *rec, const MDB_val *v, err_t *e)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size <= MEMPOOL_HEAD_LEN || v->mv_size - MEMPOOL_HEAD_LEN > TX_MAX_SIZE)
        return err_set(e, ERR_BAD_ENCODING, "store: corrupt mempool record (%zu bytes)",
                       v->mv_size);
    if (p[0] != MEMPOOL_VERSION || (p[1] & ~STORE_MEMPOOL_FLAGS))
        return err_set(e, ERR_BAD_ENCODING, "store: corrupt mempool record (version %u, "
                       "flags 0x%02x)", p[0], p[1]);
    rec->flags = p[1];
    rec->arrival = bytes_get_le(p + 2, 8);
    rec->raw = p + MEMPOOL_HEAD_LEN;
    rec->len = v->mv_size - MEMPOOL_HEAD_LEN;
    return 0;
}

static int get_hash(const MDB_val *v, hash32_t *h, err_t *e, const char *what)
{
    if (v->mv_size != 32)
        return corrupt(e, what);
    memcpy(h->b, v->mv_data, 32);
    return 0;
}

/* mdb_get with the store's error behaviour: NOT_FOUND says `missing`. */
static int get(store_read_t *r, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v,
               const char *table, err_t *e, const char *missing)
{
    MDB_val k = val(key, klen);
    int rc = mdb_get(r->txn, dbi, &k, v);
    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "%s", missing);
    return rc ? lmdb_fail(e, table, rc) : 0;
}

static int put(store_write_t *w, MDB_dbi dbi, const void *key, size_t klen, const void *data,
               size_t len, const char *what, err_t *e)
{
    MDB_val k = val(key, klen), v = val(data, len);
    int rc = mdb_put(w->r.txn, dbi, &k, &v, 0);
    return rc ? lmdb_fail(e, what, rc) : 0;
}

/* Deletes a record. A missing one sets *missing, or is INTERNAL when
 * missing is NULL. */
static int del(store_write_t *w, MDB_dbi dbi, const void *key, size_t klen, bool *missing,
               const char *what, err_t *e)
{
    MDB_val k = val(key, klen);
    int rc = mdb_del(w->r.txn, dbi, &k, NULL);
    if (rc == MDB_NOTFOUND && missing) {
        *missing = true;
        return 0;
    }
    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_INTERNAL, "store: %s: the record is missing", what);
    return rc ? lmdb_fail(e, what, rc) : 0;
}

/* --- open and close -------------------------------------------------------- */

static int open_indexes(store_t *s, err_t *e);

/* mkdir -p: a data directory such as ./data/chaind may have no parent yet. */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int open_env(store_t *s, const char *dir, size_t map_size, err_t *e)
{
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, MAX_DBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, MAX_READERS);
    /* MDB_NOTLS: HTTP worker threads hold read transactions of their own.
     * MDB_NOMETASYNC: a commit syncs its pages but not the meta page, which
     * the next commit's sync (or the OS) carries to disk: the store stays
     * consistent through any crash, and a crash of the machine (not of the
     * process) may forget the last block connected, which peers send again.
     * One sync a block instead of two (docs/PROTOCOL.md, "Store"). */
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0600);
    if (rc != 0) {
        if (s->env)
            mdb_env_close(s->env);
        s->env = NULL;
        return err_set(e, ERR_INTERNAL, "cannot open the store in %s: %s", dir,
                       mdb_strerror(rc));
    }
    return 0;
}

/* Opens the tables and records the network, or checks the one recorded. */
static int open_tables(store_t *s, const char *dir, const char *network, err_t *e)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(e, "opening the tables", rc);
    struct { const char *name; MDB_dbi *dbi; } dbs[] = {
        {"meta", &s->meta},   {"index", &s->index},     {"blocks", &s->blocks},
        {"chain", &s->chain}, {"utxo", &s->utxo},       {"undo", &s->undo},
        {"txindex", &s->txindex}, {"addr", &s->addr}, {"mempool", &s->mempool},
    };
    for (size_t i = 0; rc == 0 && i < sizeof dbs / sizeof dbs[0]; i++)
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
    bool mismatch = false;
    MDB_val k = val(network_key, sizeof network_key - 1), v;
    int g = rc ? rc : mdb_get(txn, s->meta, &k, &v);
    if (g == MDB_NOTFOUND) {
        v = val(network, strlen(network));
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (g != 0) {
        rc = g;
    } else {
        mismatch = v.mv_size != strlen(network) || memcmp(v.mv_data, network, v.mv_size) != 0;
    }
    if (rc == 0 && !mismatch)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (mismatch)
        return err_set(e, ERR_BAD_NETWORK, "%s holds another network's chain (not %s)", dir,
                       network);
    return rc ? lmdb_fail(e, "opening the tables", rc) : 0;
}

int store_open(store_t **out, const char *dir, size_t map_size, const char *network, err_t *e)
{
    *out = NULL;
    if (make_dirs(dir) < 0)
        return err_set(e, ERR_INTERNAL, "cannot create data directory %s: %s", dir,
                       strerror(errno));
    store_t *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, ERR_INTERNAL, "out of memory");
    s->indexing = true;
    int rc = open_env(s, dir, map_size, e);
    if (rc == 0 && (rc = open_tables(s, dir, network, e)) == 0)
        rc = open_indexes(s, e);
    if (rc < 0)
        mdb_env_close(s->env);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(store_t **sp)
{
    store_t *s = *sp;
    if (!s)
        return;
    /* a clean stop leaves nothing to a later sync */
    int rc = mdb_env_sync(s->env, 1);
    if (rc != 0)
        LOGWARN("store: the final sync failed: %s", mdb_strerror(rc));
    mdb_env_close(s->env);
    free(s);
    *sp = NULL;
}

int store_sync(store_t *s, err_t *e)
{
    int rc = mdb_env_sync(s->env, 1);
    return rc ? lmdb_fail(e, "syncing", rc) : 0;
}

uint64_t store_commits(store_t *s)
{
    MDB_envinfo info;
    return mdb_env_info(s->env, &info) == 0 ? (uint64_t)info.me_last_txnid : 0;
}

/* --- snapshots and writes ------------------------------------------------ */

int store_read_begin(store_t *s, store_read_t **out, err_t *e)
{
    *out = NULL;
    store_read_t *r = malloc(sizeof *r);
    if (!r)
        return err_set(e, ERR_INTERNAL, "out of memory");
    r->s = s;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
    if (rc != 0) {
        free(r);
        return lmdb_fail(e, "starting a read", rc);
    }
    *out = r;
    return 0;
}

void store_read_end(store_read_t **r)
{
    if (!*r)
        return;
    mdb_txn_abort((*r)->txn);
    free(*r);
    *r = NULL;
}

int store_write_begin(store_t *s, store_write_t **out, err_t *e)
{
    *out = NULL;
    store_write_t *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(e, ERR_INTERNAL, "out of memory");
    w->r.s = s;
    int rc = mdb_txn_begin(s->env, NULL, 0, &w->r.txn);
    if (rc != 0) {
        free(w);
        return lmdb_fail(e, "starting a write", rc);
    }
    mp_buf_init(&w->undo, UNDO_MAX);
    *out = w;
    return 0;
}

int store_write_commit(store_write_t **wp, err_t *e)
{
    store_write_t *w = *wp;
    int rc = mdb_txn_commit(w->r.txn); /* frees the txn even when it fails */
    mp_buf_free(&w->undo);
    free(w);
    *wp = NULL;
    return rc ? lmdb_fail(e, "committing", rc) : 0;
}

void store_write_abort(store_write_t **wp)
{
    if (!*wp)
        return;
    mdb_txn_abort((*wp)->r.txn);
    mp_buf_free(&(*wp)->undo);
    free(*wp);
    *wp = NULL;
}

int store_write_end(store_write_t **w, int rc, err_t *e)
{
    if (rc == 0)
        return store_write_commit(w, e);
    store_write_abort(w);
    return rc;
}

store_read_t *store_write_reader(store_write_t *w) { return &w->r; }

/* --- typed reads ----------------------------------------------------------- */

int store_get_block(store_read_t *r, const hash32_t *hash, const uint8_t **raw, size_t *len,
                    err_t *e)
{
    MDB_val v;
    int rc = get(r, r->s->blocks, hash->b, 32, &v, "reading a block", e, "unknown block");
    if (rc == 0) {
        *raw = v.mv_data;
        *len = v.mv_size;
    }
    return rc;
}

int store_load_block(store_read_t *r, const hash32_t *hash, block_t *b, size_t *len, err_t *e)
{
    const uint8_t *raw = NULL;
    size_t n = 0;
    int rc = store_get_block(r, hash, &raw, &n, e);
    if (rc < 0)
        return rc;
    err_t de;
    if (block_decode(b, raw, n, &de) < 0) {
        char hex[65];
        hex_encode(hex, hash->b, 32);
        return err_set(e, ERR_INTERNAL, "store: stored block %s does not decode: %s", hex,
                       de.message);
    }
    if (len)
        *len = n;
    return 0;
}

int store_get_index(store_read_t *r, const hash32_t *hash, store_index_rec_t *rec, err_t *e)
{
    MDB_val v;
    int rc = get(r, r->s->index, hash->b, 32, &v, "reading the block index", e, "unknown block");
    return rc ? rc : index_decode(rec, &v, e);
}

int store_get_chain_hash(store_read_t *r, uint64_t height, hash32_t *hash, err_t *e)
{
    uint8_t key[8];
    height_key(key, height);
    MDB_val k = val(key, 8), v;
    int rc = mdb_get(r->txn, r->s->chain, &k, &v);
    if (rc == MDB_NOTFOUND)
        return err_set(e, ERR_NOT_FOUND, "no main-chain block at height %" PRIu64, height);
    if (rc)
        return lmdb_fail(e, "reading the main chain", rc);
    return get_hash(&v, hash, e, "main-chain record");
}

int store_get_tip(store_read_t *r, hash32_t *hash, uint64_t *height, err_t *e)
{
    MDB_val v, k, last;
    hash32_t tip, at;
    int rc = get(r, r->s->meta, tip_key, sizeof tip_key - 1, &v, "reading the tip", e,
                 "the store holds no chain yet");
    if (rc == 0)
        rc = get_hash(&v, &tip, e, "tip record");
    if (rc < 0)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(r->txn, r->s->chain, &cur)) != 0)
        return lmdb_fail(e, "reading the main chain", rc);
    rc = mdb_cursor_get(cur, &k, &last, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND || (rc == 0 && k.mv_size != 8))
        return corrupt(e, "main chain (a tip but no chain)");
    if (rc)
        return lmdb_fail(e, "reading the main chain", rc);
    if ((rc = get_hash(&last, &at, e, "main-chain record")) < 0)
        return rc;
    if (!hash32_eq(&at, &tip))
        return corrupt(e, "tip record (not the main chain's last block)");
    if (hash)
        *hash = tip;
    if (height)
        *height = height_of_key(k.mv_data);
    return 0;
}

int store_get_coin(store_read_t *r, const hash32_t *txid, uint32_t index, store_coin_t *coin,
                   err_t *e)
{
    uint8_t key[STORE_OUTPOINT_LEN];
    store_outpoint_key(key, txid, index);
    MDB_val v;
    int rc = get(r, r->s->utxo, key, sizeof key, &v, "reading a coin", e,
                 "no such unspent output");
    return rc ? rc : coin_decode(coin, v.mv_data, v.mv_size, e);
}

/* The transaction txid among the encoded block's, found by hashing each
 * one's bytes (canonical, so they are its encoding). */
static int tx_in_block(const uint8_t *raw, size_t len, const hash32_t *txid,
                       store_tx_loc_t *loc)
{
    mp_reader_t rd;
    uint32_t n, n_txs;
    const uint8_t *header;
    size_t header_len;
    mp_reader_init(&rd, raw, len, true);
    if (mp_get_array(&rd, &n) < 0 || n != 2 || mp_get_bin(&rd, &header, &header_len) < 0 ||
        mp_get_array(&rd, &n_txs) < 0)
        return -1;
    for (uint32_t i = 0; i < n_txs; i++) {
        size_t start = rd.pos;
        hash32_t h;
        if (mp_skip(&rd) < 0)
            return -1;
        hash_sha256d(&h, raw + start, rd.pos - start);
        if (hash32_eq(&h, txid)) {
            loc->position = i;
            loc->raw = raw + start;
            loc->len = rd.pos - start;
            return 0;
        }
    }
    return -1;
}

int store_find_tx(store_read_t *r, const hash32_t *txid, store_tx_loc_t *loc, err_t *e)
{
    MDB_val v;
    store_index_rec_t rec;
    const uint8_t *raw = NULL;
    size_t len = 0;
    int rc = get(r, r->s->txindex, txid->b, 32, &v, "reading the transaction index", e,
                 "unknown transaction");
    if (rc == 0)
        rc = get_hash(&v, &loc->block, e, "transaction index record");
    if (rc < 0)
        return rc;
    char hex[65];
    hex_encode(hex, loc->block.b, 32);
    err_t le;
    /* past the txindex, whatever is missing is the store's fault */
    if (store_get_index(r, &loc->block, &rec, &le) < 0 ||
        store_get_block(r, &loc->block, &raw, &len, &le) < 0)
        return err_set(e, ERR_INTERNAL, "store: the transaction index names block %s: %s", hex,
                       le.message);
    loc->height = rec.height;
    if (tx_in_block(raw, len, txid, loc) < 0)
        return err_set(e, ERR_INTERNAL, "store: block %s lacks a transaction the transaction "
                       "index puts there", hex);
    return 0;
}

int store_get_mempool(store_read_t *r, const hash32_t *txid, store_mempool_rec_t *rec, err_t *e)
{
    MDB_val v;
    int rc = get(r, r->s->mempool, txid->b, 32, &v, "reading the mempool", e,
                 "no mempool record");
    return rc ? rc : mempool_decode(rec, &v, e);
}

/* --- iterators ----------------------------------------------------------- */

static int iter_new(store_read_t *r, iter_kind_t kind, MDB_dbi dbi, store_iter_t **out,
                    err_t *e)
{
    *out = NULL;
    store_iter_t *it = calloc(1, sizeof *it);
    if (!it)
        return err_set(e, ERR_INTERNAL, "out of memory");
    it->kind = kind;
    it->r = r;
    int rc = kind == ITER_UNDO ? 0 : mdb_cursor_open(r->txn, dbi, &it->cur);
    if (rc != 0) {
        free(it);
        return lmdb_fail(e, "opening a cursor", rc);
    }
    *out = it;
    return 0;
}

int store_iter_address(store_read_t *r, const hash20_t *pkh, store_iter_t **it, err_t *e)
{
    int rc = iter_new(r, ITER_ADDRESS, r->s->addr, it, e);
    if (rc == 0)
        (*it)->pkh = *pkh;
    return rc;
}

int store_iter_utxo(store_read_t *r, store_iter_t **it, err_t *e)
{
    return iter_new(r, ITER_UTXO, r->s->utxo, it, e);
}

int store_iter_index(store_read_t *r, store_iter_t **it, err_t *e)
{
    return iter_new(r, ITER_INDEX, r->s->index, it, e);
}

int store_iter_mempool(store_read_t *r, store_iter_t **it, err_t *e)
{
    return iter_new(r, ITER_MEMPOOL, r->s->mempool, it, e);
}

int store_iter_undo(store_read_t *r, const hash32_t *block, store_iter_t **it, err_t *e)
{
    MDB_val v;
    *it = NULL;
    int rc = get(r, r->s->undo, block->b, 32, &v, "reading undo data", e,
                 "no undo record for that block");
    if (rc == 0 && (rc = iter_new(r, ITER_UNDO, 0, it, e)) == 0) {
        (*it)->undo = v.mv_data;
        (*it)->undo_len = v.mv_size;
    }
    return rc;
}

void store_iter_end(store_iter_t **it)
{
    if (!*it)
        return;
    if ((*it)->cur)
        mdb_cursor_close((*it)->cur);
    free(*it);
    *it = NULL;
}

/* One record of an undo buffer at *pos: 1, 0 at its end, or INTERNAL. */
static int undo_next(const uint8_t *buf, size_t len, size_t *pos, store_outpoint_t *op,
                     store_coin_t *coin, err_t *e)
{
    if (*pos == len)
        return 0;
    if (len - *pos < STORE_OUTPOINT_LEN + 4)
        return corrupt(e, "undo record");
    const uint8_t *rec = buf + *pos;
    size_t n = (size_t)bytes_get_le(rec + STORE_OUTPOINT_LEN, 4);
    if (n > len - *pos - STORE_OUTPOINT_LEN - 4)
        return corrupt(e, "undo record");
    int rc = coin_decode(coin, rec + STORE_OUTPOINT_LEN + 4, n, e);
    if (rc < 0)
        return rc;
    outpoint_of_key(op, rec);
    *pos += STORE_OUTPOINT_LEN + 4 + n;
    return 1;
}

/* The cursor's next record (its first, at the start; for an address, the
 * first of its range): 1, 0 past the last, or INTERNAL. */
static int cursor_next(store_iter_t *it, MDB_val *k, MDB_val *v, err_t *e)
{
    int op = it->started ? MDB_NEXT : MDB_FIRST;
    if (!it->started && it->kind == ITER_ADDRESS) {
        *k = val(it->pkh.b, 20);
        op = MDB_SET_RANGE;
    }
    it->started = true;
    int rc = mdb_cursor_get(it->cur, k, v, op);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return lmdb_fail(e, "reading with a cursor", rc);
    if (it->kind == ITER_ADDRESS)
        return k->mv_size == ADDR_KEY_LEN && memcmp(k->mv_data, it->pkh.b, 20) == 0;
    return 1;
}

int store_next_coin(store_iter_t *it, store_outpoint_t *op, store_coin_t *coin, err_t *e)
{
    assert(it->kind != ITER_INDEX);
    if (it->kind == ITER_UNDO)
        return undo_next(it->undo, it->undo_len, &it->undo_pos, op, coin, e);
    MDB_val k, v;
    int rc;
    while ((rc = cursor_next(it, &k, &v, e)) == 1) {
        if (it->kind == ITER_UTXO) {
            if (k.mv_size != STORE_OUTPOINT_LEN)
                return corrupt(e, "coin key");
            outpoint_of_key(op, k.mv_data);
            return coin_decode(coin, v.mv_data, v.mv_size, e) < 0 ? -(int)ERR_INTERNAL : 1;
        }
        outpoint_of_key(op, (const uint8_t *)k.mv_data + 20);
        rc = store_get_coin(it->r, &op->txid, op->index, coin, e);
        if (rc != -(int)ERR_NOT_FOUND) /* an entry without its coin has nothing to spend */
            return rc < 0 ? rc : 1;
    }
    return rc;
}

int store_next_index(store_iter_t *it, hash32_t *hash, store_index_rec_t *rec, err_t *e)
{
    assert(it->kind == ITER_INDEX);
    MDB_val k, v;
    int rc = cursor_next(it, &k, &v, e);
    if (rc != 1)
        return rc;
    if (get_hash(&k, hash, e, "block index key") < 0 || index_decode(rec, &v, e) < 0)
        return -(int)ERR_INTERNAL;
    return 1;
}

int store_next_mempool(store_iter_t *it, hash32_t *txid, store_mempool_rec_t *rec, err_t *e)
{
    assert(it->kind == ITER_MEMPOOL);
    if (it->broken)
        return err_set(e, ERR_INTERNAL, "store: the mempool table cannot be read");
    MDB_val k, v;
    int rc = cursor_next(it, &k, &v, e);
    if (rc == 1 && get_hash(&k, txid, e, "mempool key (the table is damaged)") < 0)
        rc = -(int)ERR_INTERNAL;
    if (rc < 0) {
        it->broken = true;
        return rc;
    }
    if (rc == 1 && mempool_decode(rec, &v, e) < 0)
        return -(int)ERR_BAD_ENCODING;
    return rc;
}

/* --- writes ---------------------------------------------------------------- */

int store_put_block(store_write_t *w, const hash32_t *hash, const uint8_t *raw, size_t len,
                    err_t *e)
{
    return put(w, w->r.s->blocks, hash->b, 32, raw, len, "storing a block", e);
}

int store_put_index(store_write_t *w, const hash32_t *hash, const store_index_rec_t *rec,
                    err_t *e)
{
    uint8_t buf[INDEX_REC_LEN];
    index_encode(buf, rec);
    return put(w, w->r.s->index, hash->b, 32, buf, sizeof buf, "writing the block index", e);
}

int store_put_tx(store_write_t *w, const hash32_t *txid, const hash32_t *block, err_t *e)
{
    return put(w, w->r.s->txindex, txid->b, 32, block->b, 32, "indexing a transaction", e);
}

static int set_tip(store_write_t *w, const hash32_t *hash, err_t *e)
{
    return put(w, w->r.s->meta, tip_key, sizeof tip_key - 1, hash->b, 32, "writing the tip", e);
}

static void addr_key(uint8_t akey[ADDR_KEY_LEN], const hash20_t *pkh,
                     const uint8_t key[STORE_OUTPOINT_LEN])
{
    memcpy(akey, pkh->b, 20);
    memcpy(akey + 20, key, STORE_OUTPOINT_LEN);
}

/* Writes a coin and its addr entry; flags: mdb_put's (MDB_NOOVERWRITE). */
static int put_coin(store_write_t *w, const uint8_t key[STORE_OUTPOINT_LEN],
                    const store_coin_t *coin, unsigned flags, err_t *e)
{
    MDB_val k = val(key, STORE_OUTPOINT_LEN), v = {COIN_HEAD_LEN + coin->script_len, NULL};
    int rc = mdb_put(w->r.txn, w->r.s->utxo, &k, &v, flags | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        char hex[65];
        store_outpoint_t op;
        outpoint_of_key(&op, key);
        hex_encode(hex, op.txid.b, 32);
        return err_set(e, ERR_DUPLICATE_TX, "output %s:%" PRIu32 " is an unspent coin already",
                       hex, op.index);
    }
    if (rc)
        return lmdb_fail(e, "writing a coin", rc);
    coin_encode(v.mv_data, coin);
    hash20_t pkh;
    if (!script_p2pkh_hash(coin->script, coin->script_len, &pkh))
        return 0;
    uint8_t akey[ADDR_KEY_LEN];
    addr_key(akey, &pkh, key);
    return put(w, w->r.s->addr, akey, sizeof akey, "", 0, "writing the address index", e);
}

/* Deletes a coin and its addr entry (script: the coin's, read before the
 * delete moves it). A missing coin is fine when may_miss. */
static int del_coin(store_write_t *w, const uint8_t key[STORE_OUTPOINT_LEN],
                    const uint8_t *script, size_t script_len, bool may_miss, err_t *e)
{
    hash20_t pkh;
    bool p2pkh = script_p2pkh_hash(script, script_len, &pkh), missing = false;
    int rc = del(w, w->r.s->utxo, key, STORE_OUTPOINT_LEN, may_miss ? &missing : NULL,
                 "deleting a coin", e);
    if (rc < 0 || missing || !p2pkh)
        return rc;
    uint8_t akey[ADDR_KEY_LEN];
    addr_key(akey, &pkh, key);
    return del(w, w->r.s->addr, akey, sizeof akey, NULL, "deleting from the address index", e);
}

int store_add_coin(store_write_t *w, const hash32_t *txid, uint32_t index, const store_coin_t *coin,
                   err_t *e)
{
    uint8_t key[STORE_OUTPOINT_LEN];
    store_outpoint_key(key, txid, index);
    return put_coin(w, key, coin, MDB_NOOVERWRITE, e);
}

int store_spend_coin(store_write_t *w, const hash32_t *txid, uint32_t index, err_t *e)
{
    uint8_t key[STORE_OUTPOINT_LEN], len[4];
    store_outpoint_key(key, txid, index);
    MDB_val v;
    store_coin_t coin = {0};
    int rc = get(&w->r, w->r.s->utxo, key, sizeof key, &v, "reading a coin", e,
                 "no such unspent output");
    if (rc == 0)
        rc = coin_decode(&coin, v.mv_data, v.mv_size, e);
    if (rc < 0)
        return rc;
    bytes_put_le(len, v.mv_size, 4);
    mp_put_raw(&w->undo, key, sizeof key);
    mp_put_raw(&w->undo, len, sizeof len);
    mp_put_raw(&w->undo, v.mv_data, v.mv_size);
    if (!mp_buf_ok(&w->undo))
        return err_set(e, ERR_INTERNAL, "out of memory recording undo data");
    return del_coin(w, key, coin.script, coin.script_len, false, e);
}

int store_connect(store_write_t *w, const hash32_t *block, uint64_t height, err_t *e)
{
    uint8_t hkey[8];
    height_key(hkey, height);
    int rc = 0;
    if (height > 0)
        rc = put(w, w->r.s->undo, block->b, 32, w->undo.data ? w->undo.data : (uint8_t *)"",
                 w->undo.len, "writing undo data", e);
    if (rc == 0)
        rc = put(w, w->r.s->chain, hkey, sizeof hkey, block->b, 32, "extending the main chain",
                 e);
    if (rc == 0)
        rc = set_tip(w, block, e);
    mp_buf_reset(&w->undo);
    return rc;
}

/* A copy of block hash's undo record into *undo (malloc'd): the puts of a
 * write may move the page the record lives in. */
static int undo_copy(store_write_t *w, const hash32_t *hash, uint8_t **undo, size_t *len,
                     err_t *e)
{
    MDB_val v;
    int rc = get(&w->r, w->r.s->undo, hash->b, 32, &v, "reading undo data", e, "");
    if (rc == -(int)ERR_NOT_FOUND)
        return err_set(e, ERR_INTERNAL, "store: a main-chain block has no undo record");
    if (rc < 0)
        return rc;
    *len = v.mv_size;
    if (!(*undo = malloc(*len ? *len : 1)))
        return err_set(e, ERR_INTERNAL, "out of memory reading undo data");
    memcpy(*undo, v.mv_data, *len);
    return 0;
}

/* Brings back the coins the block's undo record holds. */
static int restore_undo(store_write_t *w, const hash32_t *hash, err_t *e)
{
    size_t len = 0, pos = 0;
    uint8_t *undo = NULL;
    int rc = undo_copy(w, hash, &undo, &len, e);
    if (rc < 0)
        return rc;
    store_outpoint_t op;
    store_coin_t coin;
    while ((rc = undo_next(undo, len, &pos, &op, &coin, e)) == 1) {
        uint8_t key[STORE_OUTPOINT_LEN];
        store_outpoint_key(key, &op.txid, op.index);
        rc = put_coin(w, key, &coin, 0, e);
        if (rc < 0)
            break;
    }
    free(undo);
    return rc;
}

int store_disconnect(store_write_t *w, const block_t *b, const hash32_t *hash, uint64_t height,
                     err_t *e)
{
    hash32_t tip;
    uint64_t tip_height;
    int rc = store_get_tip(&w->r, &tip, &tip_height, e);
    if (rc == 0 && (height == 0 || tip_height != height || !hash32_eq(&tip, hash)))
        rc = err_set(e, ERR_INTERNAL, "store: disconnecting a block that is not the tip (height "
                     "%" PRIu64 ", the tip's %" PRIu64 ")", height, tip_height);
    /* the coins first, then what the block made: a coin both made and spent
     * in it comes back in the first step and goes again in the second */
    if (rc == 0)
        rc = restore_undo(w, hash, e);
    for (size_t i = 0; rc == 0 && i < b->n_txs; i++) {
        const tx_t *tx = &b->txs[i];
        for (size_t j = 0; rc == 0 && j < tx->n_outputs; j++) {
            uint8_t key[STORE_OUTPOINT_LEN];
            store_outpoint_key(key, &b->txids[i], (uint32_t)j);
            rc = del_coin(w, key, tx->outputs[j].script, tx->outputs[j].script_len, true, e);
        }
        bool unindexed;
        if (rc == 0)
            rc = del(w, w->r.s->txindex, b->txids[i].b, 32, &unindexed,
                     "unindexing a transaction", e);
    }
    uint8_t hkey[8];
    height_key(hkey, height);
    if (rc == 0)
        rc = del(w, w->r.s->undo, hash->b, 32, NULL, "deleting undo data", e);
    if (rc == 0)
        rc = del(w, w->r.s->chain, hkey, sizeof hkey, NULL, "shortening the main chain", e);
    if (rc == 0)
        rc = set_tip(w, &b->header.previous_block_hash, e);
    return rc;
}

/* --- the mempool's table -------------------------------------------------- */

int store_put_mempool(store_write_t *w, const hash32_t *txid, const store_mempool_rec_t *rec,
                      err_t *e)
{
    if ((rec->flags & ~STORE_MEMPOOL_FLAGS) || rec->len == 0 || rec->len > TX_MAX_SIZE)
        return err_set(e, ERR_BAD_ENCODING, "store: a mempool record needs known flags and "
                       "1 to %d bytes of transaction", TX_MAX_SIZE);
    MDB_val k = val(txid->b, 32), v = {MEMPOOL_HEAD_LEN + rec->len, NULL};
    int rc = mdb_put(w->r.txn, w->r.s->mempool, &k, &v, MDB_RESERVE);
    if (rc)
        return lmdb_fail(e, "writing a mempool record", rc);
    mempool_encode(v.mv_data, rec);
    return 0;
}

int store_set_mempool_flags(store_write_t *w, const hash32_t *txid, uint8_t flags, err_t *e)
{
    store_mempool_rec_t rec;
    int rc = store_get_mempool(&w->r, txid, &rec, e);
    if (rc < 0 || rec.flags == flags)
        return rc;
    /* a copy: the record lives in the page the put replaces */
    uint8_t *raw = malloc(rec.len);
    if (!raw)
        return err_set(e, ERR_INTERNAL, "out of memory");
    memcpy(raw, rec.raw, rec.len);
    rec.raw = raw;
    rec.flags = flags;
    rc = store_put_mempool(w, txid, &rec, e);
    free(raw);
    return rc;
}

int store_del_mempool(store_write_t *w, const hash32_t *txid, bool *deleted, err_t *e)
{
    bool missing = false;
    int rc = del(w, w->r.s->mempool, txid->b, 32, &missing, "deleting a mempool record", e);
    if (rc == 0 && deleted)
        *deleted = !missing;
    return rc;
}

int store_clear_mempool(store_write_t *w, err_t *e)
{
    int rc = mdb_drop(w->r.txn, w->r.s->mempool, 0);
    return rc ? lmdb_fail(e, "emptying the mempool table", rc) : 0;
}

/* --- whole-store checks ---------------------------------------------------- */

#define DIGEST_BATCH ((size_t)64 << 10)
#define DIGEST_REC_HEAD (STORE_OUTPOINT_LEN + 8 + 1 + 8 + 4)

/* A coin's record in the digest (docs/PROTOCOL.md): txid ‖ index (BE) ‖
 * height ‖ coinbase ‖ amount ‖ script length ‖ script. */
static size_t digest_record(uint8_t *out, const store_outpoint_t *op, const store_coin_t *c)
{
    store_outpoint_key(out, &op->txid, op->index);
    bytes_put_le(out + 36, c->height, 8);
    out[44] = c->coinbase;
    bytes_put_le(out + 45, c->amount, 8);
    bytes_put_le(out + 53, c->script_len, 4);
    memcpy(out + DIGEST_REC_HEAD, c->script, c->script_len);
    return DIGEST_REC_HEAD + c->script_len;
}

int store_utxo_stats(store_read_t *r, store_utxo_stats_t *stats, err_t *e)
{
    store_iter_t *it;
    uint8_t *batch = malloc(DIGEST_BATCH + DIGEST_REC_HEAD + SCRIPT_MAX_SIZE);
    int rc = batch ? store_iter_utxo(r, &it, e) : err_set(e, ERR_INTERNAL, "out of memory");
    if (rc < 0) {
        free(batch);
        return rc;
    }
    hash_stream_t h;
    hash_sha256_begin(&h);
    store_utxo_stats_t st = {0};
    store_outpoint_t op;
    store_coin_t coin;
    size_t n = 0;
    while ((rc = store_next_coin(it, &op, &coin, e)) == 1) {
        if (st.total > UINT64_MAX - coin.amount) {
            rc = err_set(e, ERR_INTERNAL, "store: the coins sum past 2^64 units: corrupt");
            break;
        }
        st.total += coin.amount;
        st.count++;
        n += digest_record(batch + n, &op, &coin); /* room: a record fits past the batch */
        if (n >= DIGEST_BATCH) {
            hash_stream_update(&h, batch, n);
            n = 0;
        }
    }
    hash_stream_update(&h, batch, n);
    hash_stream_end(&h, st.digest.b);
    store_iter_end(&it);
    free(batch);
    if (rc == 0)
        *stats = st;
    return rc;
}

static int entries(store_read_t *r, MDB_dbi dbi, uint64_t *n, err_t *e)
{
    MDB_stat st;
    int rc = mdb_stat(r->txn, dbi, &st);
    if (rc)
        return lmdb_fail(e, "counting records", rc);
    *n = st.ms_entries;
    return 0;
}

static int inconsistent(err_t *e, const char *what, uint64_t height)
{
    return err_set(e, ERR_INTERNAL, "store check: %s (height %" PRIu64 ")", what, height);
}

/* Height h of the main chain: its block indexed at h on the block below
 * (*prev, then its own hash), stored, with its undo record above the
 * genesis, each of its transactions indexed to it (*n_txs counts them). */
static int check_height(store_read_t *r, uint64_t h, hash32_t *prev, uint64_t *n_txs, err_t *e)
{
    hash32_t hash;
    store_index_rec_t rec;
    block_t b;
    MDB_val v;
    int rc = store_get_chain_hash(r, h, &hash, e);
    if (rc == -(int)ERR_NOT_FOUND)
        return inconsistent(e, "a main-chain height is missing", h);
    if (rc == 0 && (rc = store_get_index(r, &hash, &rec, e)) == -(int)ERR_NOT_FOUND)
        return inconsistent(e, "a main-chain block is not indexed", h);
    if (rc == 0 && (rec.height != h || !(rec.status & STORE_VALID) ||
                    (rec.status & STORE_INVALID) ||
                    (h > 0 && !hash32_eq(&rec.header.previous_block_hash, prev))))
        return inconsistent(e, "a main-chain block's index record disagrees", h);
    if (rc == 0 && h > 0 &&
        (rc = get(r, r->s->undo, hash.b, 32, &v, "reading undo data", e, "")) ==
            -(int)ERR_NOT_FOUND)
        return inconsistent(e, "a main-chain block has no undo record", h);
    if (rc == 0 && (rc = store_load_block(r, &hash, &b, NULL, e)) == -(int)ERR_NOT_FOUND)
        return inconsistent(e, "a main-chain block is not stored", h);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < b.n_txs; i++) {
        hash32_t at;
        rc = get(r, r->s->txindex, b.txids[i].b, 32, &v, "reading the transaction index", e, "");
        if (rc == 0)
            rc = get_hash(&v, &at, e, "transaction index record");
        if (rc == -(int)ERR_NOT_FOUND || (rc == 0 && !hash32_eq(&at, &hash)))
            rc = inconsistent(e, "a main-chain transaction is not indexed to its block", h);
    }
    *n_txs += b.n_txs;
    block_free(&b);
    *prev = hash;
    return rc;
}

/* The main chain, the tip, undo records and the transaction index. */
static int check_chain(store_read_t *r, store_counts_t *c, err_t *e)
{
    hash32_t tip, prev = {{0}};
    uint64_t height;
    int rc = store_get_tip(r, &tip, &height, e);
    if (rc == -(int)ERR_NOT_FOUND) /* no chain yet: then nothing at all */
        return c->index || c->blocks || c->chain || c->coins || c->addr || c->txs || c->undo ||
                       c->mempool
                   ? err_set(e, ERR_INTERNAL, "store check: records but no tip")
                   : 0;
    if (rc == 0 && c->chain != height + 1)
        return inconsistent(e, "the main chain has heights above the tip", height);
    if (rc == 0 && c->undo != height)
        return inconsistent(e, "undo records of blocks off the main chain", height);
    uint64_t n_txs = 0;
    for (uint64_t h = 0; rc == 0 && h <= height; h++)
        rc = check_height(r, h, &prev, &n_txs, e);
    if (rc == 0 && n_txs != c->txs)
        return inconsistent(e, "the transaction index holds transactions off the main chain",
                           height);
    return rc;
}

/* Every coin and index record decodes; each P2PKH coin has its addr entry
 * and there are no others. */
static int check_records(store_read_t *r, const store_counts_t *c, err_t *e)
{
    store_iter_t *it;
    store_outpoint_t op;
    store_coin_t coin;
    uint64_t n_p2pkh = 0;
    int rc = store_iter_utxo(r, &it, e);
    while (rc == 0 && (rc = store_next_coin(it, &op, &coin, e)) == 1) {
        hash20_t pkh;
        uint8_t key[STORE_OUTPOINT_LEN], akey[ADDR_KEY_LEN];
        MDB_val v;
        if (!script_p2pkh_hash(coin.script, coin.script_len, &pkh)) {
            rc = 0;
            continue;
        }
        n_p2pkh++;
        store_outpoint_key(key, &op.txid, op.index);
        addr_key(akey, &pkh, key);
        rc = get(r, r->s->addr, akey, sizeof akey, &v, "reading the address index", e, "");
        if (rc == -(int)ERR_NOT_FOUND)
            rc = err_set(e, ERR_INTERNAL, "store check: a P2PKH coin lacks its address entry");
    }
    store_iter_end(&it);
    if (rc == 0 && n_p2pkh != c->addr)
        rc = err_set(e, ERR_INTERNAL, "store check: the address index holds %" PRIu64 " entries "
                     "for %" PRIu64 " P2PKH coins", c->addr, n_p2pkh);
    hash32_t hash;
    store_index_rec_t rec;
    if (rc == 0)
        rc = store_iter_index(r, &it, e);
    while (rc == 0 && (rc = store_next_index(it, &hash, &rec, e)) == 1)
        rc = 0;
    store_iter_end(&it);
    if (rc == 0 && c->index != c->blocks)
        rc = err_set(e, ERR_INTERNAL, "store check: %" PRIu64 " blocks indexed, %" PRIu64
                     " stored", c->index, c->blocks);
    return rc;
}

/* A mempool record is keyed by its txid and pending: a main-chain
 * transaction has left the table in its block's write. */
static int check_pending(store_read_t *r, const hash32_t *txid, const store_mempool_rec_t *rec,
                         err_t *e)
{
    hash32_t h;
    MDB_val v;
    hash_sha256d(&h, rec->raw, rec->len);
    if (!hash32_eq(&h, txid))
        return err_set(e, ERR_INTERNAL, "store check: a mempool record is not keyed by its "
                       "transaction's txid");
    int rc = get(r, r->s->txindex, txid->b, 32, &v, "reading the transaction index", e, "");
    if (rc == 0)
        return err_set(e, ERR_INTERNAL, "store check: a mempool record holds a confirmed "
                       "transaction");
    return rc == -(int)ERR_NOT_FOUND ? 0 : rc;
}

static int check_mempool(store_read_t *r, err_t *e)
{
    store_iter_t *it;
    hash32_t txid;
    store_mempool_rec_t rec;
    int rc = store_iter_mempool(r, &it, e);
    while (rc == 0 && (rc = store_next_mempool(it, &txid, &rec, e)) == 1)
        rc = check_pending(r, &txid, &rec, e);
    store_iter_end(&it);
    if (rc == -(int)ERR_BAD_ENCODING) { /* droppable alone, yet inconsistent */
        if (e)
            e->code = ERR_INTERNAL;
        rc = -(int)ERR_INTERNAL;
    }
    return rc;
}

static int check_indexes(store_read_t *r, store_counts_t *c, err_t *e);

int store_check(store_read_t *r, store_counts_t *counts, err_t *e)
{
    store_counts_t c;
    store_t *s = r->s;
    int rc = entries(r, s->index, &c.index, e);
    if (rc == 0)
        rc = entries(r, s->blocks, &c.blocks, e);
    if (rc == 0)
        rc = entries(r, s->chain, &c.chain, e);
    if (rc == 0)
        rc = entries(r, s->utxo, &c.coins, e);
    if (rc == 0)
        rc = entries(r, s->addr, &c.addr, e);
    if (rc == 0)
        rc = entries(r, s->txindex, &c.txs, e);
    if (rc == 0)
        rc = entries(r, s->undo, &c.undo, e);
    if (rc == 0)
        rc = entries(r, s->mempool, &c.mempool, e);
    if (rc == 0)
        rc = check_records(r, &c, e);
    if (rc == 0)
        rc = check_mempool(r, e);
    if (rc == 0)
        rc = check_chain(r, &c, e);
    if (rc == 0)
        rc = check_indexes(r, &c, e);
    if (rc == 0 && counts)
        *counts = c;
    return rc;
}

/* --- the explorer's indexes: history and spentby --------------------------- */

#define HISTORY_KEY_LEN (20 + 8 + 4)
#define HISTORY_REC_LEN (32 + 8 + 8)
#define SPENTBY_REC_LEN (32 + 4)
#define INDEXES_VERSION 1

static const char indexes_key[] = "indexes";

static void history_key(uint8_t key[HISTORY_KEY_LEN], const hash20_t *pkh, uint64_t height,
                        uint32_t position)
{
    memcpy(key, pkh->b, 20);
    height_key(key + 20, height);
    for (int i = 0; i < 4; i++)
        key[28 + i] = (uint8_t)(position >> (24 - 8 * i));
}

/* Adds what a transaction paid pkh and spent of its coins to its entry
 * (connect), or deletes the entry (disconnect; it may be gone already: a
 * transaction that both paid and spent the address). */
static int history_write(store_write_t *w, const hash20_t *pkh, uint64_t height, uint32_t position,
                         const hash32_t *txid, amount_t received, amount_t sent, bool connect,
                         err_t *e)
{
    store_t *s = w->r.s;
    uint8_t key[HISTORY_KEY_LEN], rec[HISTORY_REC_LEN];
    history_key(key, pkh, height, position);
    bool missing;
    if (!connect)
        return del(w, s->history, key, sizeof key, &missing, "deleting from the address history",
                   e);
    memcpy(rec, txid->b, 32);
    bytes_put_le(rec + 32, received, 8);
    bytes_put_le(rec + 40, sent, 8);
    /* one descent of the tree when the entry is new, the common case; an
     * entry there already (the transaction touched the address before)
     * comes back in v */
    MDB_val k = val(key, sizeof key), v = val(rec, sizeof rec);
    int rc = mdb_put(w->r.txn, s->history, &k, &v, MDB_NOOVERWRITE);
    if (rc != MDB_KEYEXIST)
        return rc ? lmdb_fail(e, "writing the address history", rc) : 0;
    const uint8_t *p = v.mv_data;
    if (v.mv_size != HISTORY_REC_LEN || memcmp(p, txid->b, 32) != 0 ||
        !amount_add(&received, bytes_get_le(p + 32, 8)) ||
        !amount_add(&sent, bytes_get_le(p + 40, 8)))
        return corrupt(e, "address history record");
    bytes_put_le(rec + 32, received, 8);
    bytes_put_le(rec + 40, sent, 8);
    return put(w, s->history, key, sizeof key, rec, sizeof rec, "writing the address history", e);
}

/* The history entries of transaction i's P2PKH outputs. */
static int index_outputs(store_write_t *w, const block_t *b, size_t i, uint64_t height,
                         bool connect, err_t *e)
{
    const tx_t *tx = &b->txs[i];
    int rc = 0;
    for (size_t j = 0; rc == 0 && j < tx->n_outputs; j++) {
        hash20_t pkh;
        if (script_p2pkh_hash(tx->outputs[j].script, tx->outputs[j].script_len, &pkh))
            rc = history_write(w, &pkh, height, (uint32_t)i, &b->txids[i],
                               tx->outputs[j].amount, 0, connect, e);
    }
    return rc;
}

/* The history and spentby entries of transaction i's inputs, whose coins
 * are the next records of the block's undo record (undo, len, at *pos). */
static int index_inputs(store_write_t *w, const block_t *b, size_t i, uint64_t height,
                        const uint8_t *undo, size_t len, size_t *pos, bool connect, err_t *e)
{
    const tx_t *tx = &b->txs[i];
    int rc = 0;
    for (size_t j = 0; rc == 0 && j < tx->n_inputs; j++) {
        store_outpoint_t op;
        store_coin_t coin;
        uint8_t key[STORE_OUTPOINT_LEN], rec[SPENTBY_REC_LEN];
        hash20_t pkh;
        if ((rc = undo_next(undo, len, pos, &op, &coin, e)) < 0)
            return rc;
        if (rc == 0 || !hash32_eq(&op.txid, &tx->inputs[j].prev_txid) ||
            op.index != tx->inputs[j].index)
            return corrupt(e, "undo record (it does not match the block's inputs)");
        rc = script_p2pkh_hash(coin.script, coin.script_len, &pkh)
                 ? history_write(w, &pkh, height, (uint32_t)i, &b->txids[i], 0, coin.amount,
                                 connect, e)
                 : 0;
        store_outpoint_key(key, &op.txid, op.index);
        memcpy(rec, b->txids[i].b, 32);
        bytes_put_le(rec + 32, j, 4);
        if (rc == 0)
            rc = connect ? put(w, w->r.s->spentby, key, sizeof key, rec, sizeof rec,
                               "writing the spent-by index", e)
                         : del(w, w->r.s->spentby, key, sizeof key, NULL,
                               "deleting from the spent-by index", e);
    }
    return rc;
}

int store_index_block(store_write_t *w, const block_t *b, const hash32_t *hash, uint64_t height,
                      bool connect, err_t *e)
{
    store_t *s = w->r.s;
    bool missing;
    if (!s->indexing)
        return del(w, s->meta, indexes_key, sizeof indexes_key - 1, &missing,
                   "marking the indexes stale", e);
    uint8_t *undo = NULL;
    size_t len = 0, pos = 0;
    int rc = height > 0 ? undo_copy(w, hash, &undo, &len, e) : 0;
    for (size_t i = 0; rc == 0 && i < b->n_txs; i++) {
        rc = index_outputs(w, b, i, height, connect, e);
        if (rc == 0 && i > 0)
            rc = index_inputs(w, b, i, height, undo, len, &pos, connect, e);
    }
    if (rc == 0 && pos != len)
        rc = corrupt(e, "undo record (it holds more coins than the block spends)");
    free(undo);
    return rc;
}

void store_set_indexing(store_t *s, bool on) { s->indexing = on; }

static int put_indexes_mark(store_write_t *w, err_t *e)
{
    uint8_t version = INDEXES_VERSION;
    return put(w, w->r.s->meta, indexes_key, sizeof indexes_key - 1, &version, 1,
               "marking the indexes built", e);
}

/* The entries of main-chain height h, into w. */
static int index_height(store_write_t *w, uint64_t h, err_t *e)
{
    hash32_t hash;
    block_t b;
    int rc = store_get_chain_hash(&w->r, h, &hash, e);
    if (rc == 0 && (rc = store_load_block(&w->r, &hash, &b, NULL, e)) == 0) {
        rc = store_index_block(w, &b, &hash, h, true, e);
        block_free(&b);
    }
    return rc;
}

/* Builds history and spentby from the main chain: empties them, then
 * STORE_INDEX_BATCH blocks a write; the last write marks them built. */
static int build_indexes(store_t *s, uint64_t tip, err_t *e)
{
    LOGINFO("store: building the address history and spent-by indexes from blocks 0 to %" PRIu64
            " (the store was made before them, or left them stale); once", tip);
    uint64_t t0 = clock_ms();
    int rc = 0;
    for (uint64_t from = 0; rc == 0 && from <= tip; from += STORE_INDEX_BATCH) {
        store_write_t *w;
        if ((rc = store_write_begin(s, &w, e)) < 0)
            break;
        int d = from ? 0 : mdb_drop(w->r.txn, s->history, 0);
        if (d == 0 && from == 0)
            d = mdb_drop(w->r.txn, s->spentby, 0);
        rc = d ? lmdb_fail(e, "emptying the indexes", d) : 0;
        for (uint64_t h = from; rc == 0 && h <= tip && h - from < STORE_INDEX_BATCH; h++)
            rc = index_height(w, h, e);
        if (rc == 0 && tip - from < STORE_INDEX_BATCH)
            rc = put_indexes_mark(w, e);
        rc = store_write_end(&w, rc, e);
    }
    if (rc == 0)
        LOGINFO("store: indexes built in %.1f s", (double)(clock_ms() - t0) / 1e3);
    return rc;
}

/* Opens history and spentby; marks them built in a store without a chain
 * yet, builds them in one whose mark is missing. */
static int open_indexes(store_t *s, err_t *e)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "history", MDB_CREATE, &s->history);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "spentby", MDB_CREATE, &s->spentby);
    MDB_val k = val(indexes_key, sizeof indexes_key - 1), v;
    int mark = rc ? rc : mdb_get(txn, s->meta, &k, &v);
    if (mark == 0 && (v.mv_size != 1 || *(uint8_t *)v.mv_data != INDEXES_VERSION))
        mark = MDB_NOTFOUND; /* another layout: build them again */
    MDB_val tk = val(tip_key, sizeof tip_key - 1), tv;
    int tip = mark == MDB_NOTFOUND ? mdb_get(txn, s->meta, &tk, &tv) : 0;
    if (mark == MDB_NOTFOUND && tip == MDB_NOTFOUND) { /* no chain: nothing to index */
        uint8_t version = INDEXES_VERSION;
        v = val(&version, 1);
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (rc == 0 && mark != 0 && mark != MDB_NOTFOUND) {
        rc = mark;
    } else if (rc == 0 && tip != 0 && tip != MDB_NOTFOUND) {
        rc = tip;
    }
    rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    if (rc)
        return lmdb_fail(e, "opening the indexes", rc);
    if (mark != MDB_NOTFOUND || tip == MDB_NOTFOUND)
        return 0;
    store_read_t *r;
    uint64_t height = 0;
    if ((rc = store_read_begin(s, &r, e)) == 0) {
        rc = store_get_tip(r, NULL, &height, e);
        store_read_end(&r);
    }
    return rc < 0 ? rc : build_indexes(s, height, e);
}

int store_iter_history(store_read_t *r, const hash20_t *pkh, const store_history_t *before,
                       store_iter_t **it, err_t *e)
{
    int rc = iter_new(r, ITER_HISTORY, r->s->history, it, e);
    if (rc == 0) {
        (*it)->pkh = *pkh;
        history_key((*it)->seek, pkh, before ? before->height : UINT64_MAX,
                    before ? before->position : UINT32_MAX);
    }
    return rc;
}

int store_next_history(store_iter_t *it, store_history_t *h, err_t *e)
{
    assert(it->kind == ITER_HISTORY);
    if (it->done)
        return 0;
    MDB_val k = val(it->seek, HISTORY_KEY_LEN), v;
    int rc;
    if (it->started) {
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_PREV);
    } else { /* the first key at or past the seek, then the one below it */
        it->started = true;
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(it->cur, &k, &v, MDB_LAST)
                                : rc ? rc : mdb_cursor_get(it->cur, &k, &v, MDB_PREV);
    }
    if (rc && rc != MDB_NOTFOUND)
        return lmdb_fail(e, "reading the address history", rc);
    if (rc == MDB_NOTFOUND || k.mv_size != HISTORY_KEY_LEN ||
        memcmp(k.mv_data, it->pkh.b, 20) != 0) {
        it->done = true;
        return 0;
    }
    const uint8_t *key = k.mv_data, *p = v.mv_data;
    if (v.mv_size != HISTORY_REC_LEN)
        return corrupt(e, "address history record");
    memcpy(h->txid.b, p, 32);
    h->height = height_of_key(key + 20);
    h->position = (uint32_t)key[28] << 24 | (uint32_t)key[29] << 16 | (uint32_t)key[30] << 8 |
                  key[31];
    h->received = bytes_get_le(p + 32, 8);
    h->sent = bytes_get_le(p + 40, 8);
    return 1;
}

int store_get_spender(store_read_t *r, const hash32_t *txid, uint32_t index, store_spender_t *sp,
                      err_t *e)
{
    uint8_t key[STORE_OUTPOINT_LEN];
    store_outpoint_key(key, txid, index);
    MDB_val v;
    int rc = get(r, r->s->spentby, key, sizeof key, &v, "reading the spent-by index", e,
                 "no main-chain transaction spends that output");
    if (rc < 0)
        return rc;
    if (v.mv_size != SPENTBY_REC_LEN)
        return corrupt(e, "spent-by record");
    memcpy(sp->txid.b, v.mv_data, 32);
    sp->input = (uint32_t)bytes_get_le((const uint8_t *)v.mv_data + 32, 4);
    return 0;
}

int store_get_block_info(store_read_t *r, const hash32_t *hash, store_block_info_t *info,
                         err_t *e)
{
    const uint8_t *raw = NULL, *header;
    size_t len = 0, header_len;
    int rc = store_get_block(r, hash, &raw, &len, e);
    if (rc < 0)
        return rc;
    mp_reader_t rd;
    uint32_t n, n_txs;
    mp_reader_init(&rd, raw, len, true);
    if (mp_get_array(&rd, &n) < 0 || n != 2 || mp_get_bin(&rd, &header, &header_len) < 0 ||
        mp_get_array(&rd, &n_txs) < 0)
        return corrupt(e, "block (its outer arrays)");
    info->size = len;
    info->tx_count = n_txs;
    return 0;
}

/* --- checking the explorer's indexes --------------------------------------- */

/* What a transaction did to one address. */
typedef struct {
    hash20_t pkh;
    amount_t received, sent;
} touch_t;

/* Transaction i of b (at height, its inputs' coins the next records of
 * undo at *pos): each input's spentby entry, and for each address it
 * touched (ts, room for its outputs and inputs) its history entry, counted
 * into *n_history. */
static int check_tx_indexes(store_read_t *r, const block_t *b, size_t i, uint64_t height,
                            const uint8_t *undo, size_t len, size_t *pos, touch_t *ts,
                            uint64_t *n_history, err_t *e)
{
    const tx_t *tx = &b->txs[i];
    size_t n = 0;
    MDB_val v;
    int rc = 0;
    for (size_t j = 0; j < tx->n_outputs; j++)
        if (script_p2pkh_hash(tx->outputs[j].script, tx->outputs[j].script_len, &ts[n].pkh)) {
            ts[n].received = tx->outputs[j].amount;
            ts[n++].sent = 0;
        }
    for (size_t j = 0; i > 0 && rc == 0 && j < tx->n_inputs; j++) {
        store_outpoint_t op;
        store_coin_t coin;
        uint8_t key[STORE_OUTPOINT_LEN];
        if ((rc = undo_next(undo, len, pos, &op, &coin, e)) != 1)
            return rc < 0 ? rc : inconsistent(e, "an undo record lacks a coin its block spent",
                                              height);
        if (script_p2pkh_hash(coin.script, coin.script_len, &ts[n].pkh)) {
            ts[n].received = 0;
            ts[n++].sent = coin.amount;
        }
        store_outpoint_key(key, &op.txid, op.index);
        rc = get(r, r->s->spentby, key, sizeof key, &v, "reading the spent-by index", e, "");
        if (rc == -(int)ERR_NOT_FOUND || (rc == 0 && (v.mv_size != SPENTBY_REC_LEN ||
                                                      memcmp(v.mv_data, b->txids[i].b, 32) != 0 ||
                                                      bytes_get_le((const uint8_t *)v.mv_data + 32,
                                                                   4) != j)))
            return inconsistent(e, "a spent coin's spent-by entry is missing or wrong", height);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        touch_t sum = {ts[k].pkh, 0, 0};
        bool first = true;
        for (size_t m = 0; m < n; m++) {
            if (memcmp(ts[m].pkh.b, sum.pkh.b, 20) != 0)
                continue;
            first &= m >= k;
            sum.received += ts[m].received; /* below max money: the block passed */
            sum.sent += ts[m].sent;
        }
        if (!first)
            continue;
        uint8_t key[HISTORY_KEY_LEN];
        const uint8_t *p;
        history_key(key, &sum.pkh, height, (uint32_t)i);
        rc = get(r, r->s->history, key, sizeof key, &v, "reading the address history", e, "");
        p = v.mv_data;
        if (rc == -(int)ERR_NOT_FOUND ||
            (rc == 0 && (v.mv_size != HISTORY_REC_LEN || memcmp(p, b->txids[i].b, 32) != 0 ||
                         bytes_get_le(p + 32, 8) != sum.received ||
                         bytes_get_le(p + 40, 8) != sum.sent)))
            return inconsistent(e, "an address history entry is missing or wrong", height);
        ++*n_history;
    }
    return rc;
}

/* The index entries main-chain height h gives. */
static int check_height_indexes(store_read_t *r, uint64_t h, uint64_t *n_history,
                                uint64_t *n_spentby, err_t *e)
{
    hash32_t hash;
    block_t b;
    MDB_val v = {0, NULL};
    int rc = store_get_chain_hash(r, h, &hash, e);
    if (rc == 0 && h > 0)
        rc = get(r, r->s->undo, hash.b, 32, &v, "reading undo data", e, "no undo record");
    if (rc == 0)
        rc = store_load_block(r, &hash, &b, NULL, e);
    if (rc < 0)
        return rc;
    size_t pos = 0, most = 0;
    for (size_t i = 0; i < b.n_txs; i++)
        most = b.txs[i].n_inputs + b.txs[i].n_outputs > most
                   ? b.txs[i].n_inputs + b.txs[i].n_outputs
                   : most;
    touch_t *ts = malloc((most + 1) * sizeof *ts);
    rc = ts ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < b.n_txs; i++) {
        rc = check_tx_indexes(r, &b, i, h, v.mv_data, v.mv_size, &pos, ts, n_history, e);
        *n_spentby += i > 0 ? b.txs[i].n_inputs : 0;
    }
    if (rc == 0 && pos != v.mv_size)
        rc = inconsistent(e, "an undo record holds coins its block did not spend", h);
    free(ts);
    block_free(&b);
    return rc;
}

/* history and spentby against the main chain, unless they are stale. */
static int check_indexes(store_read_t *r, store_counts_t *c, err_t *e)
{
    MDB_val v;
    uint64_t tip = 0, n_history = 0, n_spentby = 0;
    c->history = c->spentby = 0;
    int rc = get(r, r->s->meta, indexes_key, sizeof indexes_key - 1, &v, "reading the meta",
                 e, "");
    if (rc == -(int)ERR_NOT_FOUND)
        return 0;
    if (rc == 0)
        rc = entries(r, r->s->history, &c->history, e);
    if (rc == 0)
        rc = entries(r, r->s->spentby, &c->spentby, e);
    if (rc == 0 && (rc = store_get_tip(r, NULL, &tip, e)) == -(int)ERR_NOT_FOUND)
        return c->history || c->spentby /* no chain: no entries */
                   ? err_set(e, ERR_INTERNAL, "store check: index entries but no chain")
                   : 0;
    for (uint64_t h = 0; rc == 0 && h <= tip; h++)
        rc = check_height_indexes(r, h, &n_history, &n_spentby, e);
    if (rc == 0 && n_history != c->history)
        rc = err_set(e, ERR_INTERNAL, "store check: the address history holds %" PRIu64
                     " entries, the main chain gives %" PRIu64, c->history, n_history);
    if (rc == 0 && n_spentby != c->spentby)
        rc = err_set(e, ERR_INTERNAL, "store check: the spent-by index holds %" PRIu64
                     " entries, the main chain spends %" PRIu64 " coins", c->spentby, n_spentby);
    return rc;
}
