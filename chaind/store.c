#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "log.h"

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

int store_open(store_t *s, const char *dir, size_t map_size, const char *network, err_t *e)
{
    memset(s, 0, sizeof *s);
    if (make_dirs(dir) < 0)
        return err_set(e, ERR_INTERNAL, "cannot create data directory %s: %s", dir,
                       strerror(errno));
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, 256);
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
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    struct { const char *name; MDB_dbi *dbi; } dbs[] = {
        {"meta", &s->meta},   {"index", &s->index},     {"blocks", &s->blocks},
        {"chain", &s->chain}, {"utxo", &s->utxo},       {"undo", &s->undo},
        {"txindex", &s->txindex}, {"addr", &s->addr},
    };
    for (size_t i = 0; rc == 0 && i < sizeof dbs / sizeof dbs[0]; i++)
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
    int mismatch = 0;
    if (rc == 0) {
        static const char key[] = "network";
        MDB_val k = {sizeof key - 1, (void *)key}, v;
        int g = mdb_get(txn, s->meta, &k, &v);
        if (g == MDB_NOTFOUND) {
            v.mv_size = strlen(network);
            v.mv_data = (void *)network;
            rc = mdb_put(txn, s->meta, &k, &v, 0);
        } else if (g != 0) {
            rc = g;
        } else if (v.mv_size != strlen(network) || memcmp(v.mv_data, network, v.mv_size) != 0) {
            mismatch = 1;
        }
    }
    if (rc == 0 && !mismatch)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0 || mismatch) {
        mdb_env_close(s->env);
        s->env = NULL;
        if (mismatch)
            return err_set(e, ERR_BAD_NETWORK, "%s holds another network's chain (not %s)", dir,
                           network);
        return err_set(e, ERR_INTERNAL, "cannot open the store's databases: %s",
                       mdb_strerror(rc));
    }
    return 0;
}

void store_close(store_t *s)
{
    if (s->env) {
        /* a clean stop leaves nothing to a later sync */
        int rc = mdb_env_sync(s->env, 1);
        if (rc != 0)
            LOGWARN("store: the final sync failed: %s", mdb_strerror(rc));
        mdb_env_close(s->env);
    }
    s->env = NULL;
}

void store_outpoint_key(uint8_t key[STORE_OUTPOINT_LEN], const hash32_t *txid, uint32_t index)
{
    memcpy(key, txid->b, 32);
    /* big-endian so that a txid's outputs sort by index */
    for (int i = 0; i < 4; i++)
        key[32 + i] = (uint8_t)(index >> (24 - 8 * i));
}

void store_height_key(uint8_t key[8], uint64_t height)
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(height >> (56 - 8 * i));
}

void store_index_encode(uint8_t out[STORE_INDEX_REC_LEN], const store_index_rec_t *rec)
{
    block_header_encode(out, &rec->header);
    bytes_put_le(out + BLOCK_HEADER_LEN, rec->height, 8);
    u256_to_be(out + BLOCK_HEADER_LEN + 8, &rec->chainwork);
    out[BLOCK_HEADER_LEN + 40] = rec->status;
}

int store_index_decode(store_index_rec_t *rec, const MDB_val *v)
{
    if (v->mv_size != STORE_INDEX_REC_LEN)
        return -1;
    const uint8_t *p = v->mv_data;
    block_header_decode(&rec->header, p);
    rec->height = bytes_get_le(p + BLOCK_HEADER_LEN, 8);
    u256_from_be(&rec->chainwork, p + BLOCK_HEADER_LEN + 8);
    rec->status = p[BLOCK_HEADER_LEN + 40];
    return 0;
}

size_t store_coin_size(const store_coin_t *c) { return 17 + c->script_len; }

void store_coin_encode(uint8_t *out, const store_coin_t *c)
{
    bytes_put_le(out, c->amount, 8);
    bytes_put_le(out + 8, c->height, 8);
    out[16] = c->coinbase;
    memcpy(out + 17, c->script, c->script_len);
}

int store_coin_decode(store_coin_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len < 17)
        return -1;
    c->amount = bytes_get_le(p, 8);
    c->height = bytes_get_le(p + 8, 8);
    c->coinbase = p[16] != 0;
    c->script = p + 17;
    c->script_len = len - 17;
    return 0;
}

int store_get_coin(MDB_txn *txn, const store_t *s, const hash32_t *txid, uint32_t index,
                   store_coin_t *coin)
{
    uint8_t key[STORE_OUTPOINT_LEN];
    store_outpoint_key(key, txid, index);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(txn, s->utxo, &k, &v);
    if (rc != 0)
        return rc;
    return store_coin_decode(coin, v.mv_data, v.mv_size) < 0 ? MDB_CORRUPTED : 0;
}

int store_get_chain_hash(MDB_txn *txn, const store_t *s, uint64_t height, hash32_t *hash)
{
    uint8_t key[8];
    store_height_key(key, height);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(txn, s->chain, &k, &v);
    if (rc != 0)
        return rc;
    if (v.mv_size != 32)
        return MDB_CORRUPTED;
    memcpy(hash->b, v.mv_data, 32);
    return 0;
}
