/* store: chaind's LMDB environment (DESIGN §4.1) and its record layouts.
 *
 * Databases (all in one environment under the data directory):
 *   meta     "tip" -> block hash; "network" -> name
 *   index    block hash -> index record (header, height, chain work, status)
 *   blocks   block hash -> the block's canonical encoding
 *   chain    height (8 bytes BE) -> main-chain block hash
 *   utxo     outpoint (txid ‖ index BE) -> coin record
 *   undo     block hash -> the coins its transactions spent, in order
 *   txindex  txid -> hash of the main-chain block holding it
 *   addr     pubkey hash ‖ outpoint -> "" (the P2PKH coins of an address)
 * Each block connect or disconnect is one write transaction, so a kill -9
 * leaves the store at the old tip or the new one. */
#ifndef CHAIND_STORE_H
#define CHAIND_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "block.h"
#include "err.h"
#include "hash.h"
#include "u256.h"

#define STORE_OUTPOINT_LEN 36
#define STORE_INDEX_REC_LEN (BLOCK_HEADER_LEN + 8 + 32 + 1)
#define STORE_ADDR_KEY_LEN (20 + STORE_OUTPOINT_LEN)

/* Index record status bits. */
enum {
    STORE_VALID = 1,   /* connected to the main chain at least once */
    STORE_INVALID = 2, /* failed validation: never reconsidered */
};

typedef struct {
    MDB_env *env;
    MDB_dbi meta, index, blocks, chain, utxo, undo, txindex, addr;
} store_t;

typedef struct {
    block_header_t header;
    uint64_t height;
    u256_t chainwork;
    uint8_t status;
} store_index_rec_t;

/* A coin. script borrows from the LMDB value (valid until the transaction
 * that read it writes or ends) or from the caller. */
typedef struct {
    amount_t amount;
    uint64_t height;
    bool coinbase;
    const uint8_t *script;
    size_t script_len;
} store_coin_t;

/* Opens (creating) the environment in dir with a map of map_size bytes and
 * checks that it belongs to network. ERR_INTERNAL with LMDB's reason, or
 * ERR_BAD_NETWORK when the directory holds another network's chain. */
int store_open(store_t *s, const char *dir, size_t map_size, const char *network, err_t *e)
    __attribute__((warn_unused_result));
void store_close(store_t *s);

void store_outpoint_key(uint8_t key[STORE_OUTPOINT_LEN], const hash32_t *txid, uint32_t index);
void store_height_key(uint8_t key[8], uint64_t height);

void store_index_encode(uint8_t out[STORE_INDEX_REC_LEN], const store_index_rec_t *rec);
int store_index_decode(store_index_rec_t *rec, const MDB_val *v);

/* Coin records: amount(8) height(8) coinbase(1) script. */
size_t store_coin_size(const store_coin_t *c);
void store_coin_encode(uint8_t *out, const store_coin_t *c);
int store_coin_decode(store_coin_t *c, const void *data, size_t len);

/* Reads a coin in txn. 0, MDB_NOTFOUND, or another LMDB error. */
int store_get_coin(MDB_txn *txn, const store_t *s, const hash32_t *txid, uint32_t index,
                   store_coin_t *coin);

/* Reads the main-chain hash at height in txn: 0 or MDB_NOTFOUND. */
int store_get_chain_hash(MDB_txn *txn, const store_t *s, uint64_t height, hash32_t *hash);

#endif
