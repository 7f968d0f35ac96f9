/* store: chaind's chain state on disk (DESIGN §4.1), behind a typed API.
 *
 * One LMDB environment under the data directory; nothing of LMDB shows
 * here. Its tables and their record layouts (integers little-endian unless
 * said otherwise):
 *   meta     "tip" -> block hash; "network" -> name
 *   index    block hash -> header (88) ‖ height (8) ‖ chain work (32, BE) ‖
 *            status (1)
 *   blocks   block hash -> the block's canonical encoding
 *   chain    height (8, BE) -> main-chain block hash
 *   utxo     outpoint (txid ‖ index, 4 BE) -> amount (8) ‖ height (8) ‖
 *            coinbase (1: 0 or 1) ‖ locking script
 *   undo     block hash -> for each coin its transactions spent, in order:
 *            outpoint (36) ‖ record length (4) ‖ utxo record
 *   txindex  txid -> hash of the main-chain block holding it
 *   addr     pubkey hash ‖ outpoint -> "" (the P2PKH coins of an address)
 *   mempool  txid -> format version (1: 1) ‖ flags (1) ‖ arrival (8, unix
 *            seconds) ‖ the transaction's canonical encoding: a pending
 *            transaction (DESIGN §4.1). Version 1 knows one flag,
 *            STORE_MEMPOOL_UNBROADCAST; a record with another version or
 *            flag does not decode.
 *   history  pubkey hash ‖ height (8, BE) ‖ position in the block (4, BE) ->
 *            txid ‖ received (8) ‖ sent (8): each main-chain transaction
 *            that paid a P2PKH output to the address or spent one of its
 *            coins, with what it paid it and what it spent of it
 *   spentby  outpoint -> txid ‖ input index (4): the main-chain transaction
 *            spending a coin (mempool spends live in the mempool)
 *   meta "indexes" -> version (1 byte): present when history and spentby
 *            hold exactly the main chain's; a store made before them lacks
 *            it and store_open builds them (see there)
 * Big-endian keys sort as numbers: the chain by height, a transaction's
 * outputs by index, an address's coins together.
 *
 * Transactions. Every read goes through a store_read_t: a read snapshot
 * (store_read_begin) sees the store as of its start, whatever commits later,
 * and takes no lock; or the reader of a write (store_write_reader), which
 * sees that write's changes. Every change goes through a store_write_t, all
 * of it or none (kill -9 included): chain.c makes each block connect or
 * disconnect one write, so the store holds the old tip or the new one.
 * Writes are serialised: store_write_begin waits while another is open.
 * The mempool's table has typed reads and writes of its own on the same two
 * types, so that a block's write moves its transactions out of it (or back)
 * in the same commit.
 *
 * Threads: store_open/close once; store_read_begin and store_write_begin from
 * any thread; each snapshot and iterator is used by one thread at a time,
 * and a write stays on the thread that began it, which holds no other
 * write. At most 256 snapshots are open at once (LMDB's reader slots).
 *
 * Borrowed data (scripts, raw blocks and transactions): valid until the
 * snapshot ends, or for a write's reader until that write's next change or
 * its end.
 *
 * Errors: each function returns 0 or a negative err code with e set (e may
 * be NULL): -ERR_NOT_FOUND when the record asked for is absent (the message
 * names it), -ERR_INTERNAL when the store failed or holds a record that
 * does not decode (the message names the table and the failure). A mempool
 * record that does not decode is -ERR_BAD_ENCODING instead: unlike the
 * chain's records, one can be dropped on its own. */
#ifndef CHAIND_STORE_H
#define CHAIND_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "block.h"
#include "err.h"
#include "hash.h"
#include "u256.h"

#define STORE_OUTPOINT_LEN 36
#define STORE_INDEX_BATCH 256 /* blocks a write when store_open builds the indexes */

typedef struct store store_t;
typedef struct store_read store_read_t;
typedef struct store_write store_write_t;
typedef struct store_iter store_iter_t;

/* Index record status bits. */
enum {
    STORE_VALID = 1,   /* connected to the main chain at least once */
    STORE_INVALID = 2, /* failed validation: never reconsidered */
};

typedef struct {
    block_header_t header;
    uint64_t height;
    u256_t chainwork;
    uint8_t status;
} store_index_rec_t;

/* A coin. script is borrowed (see above) when read; a caller's when written. */
typedef struct {
    amount_t amount;
    uint64_t height;
    bool coinbase;
    const uint8_t *script;
    size_t script_len;
} store_coin_t;

typedef struct {
    hash32_t txid;
    uint32_t index;
} store_outpoint_t;

/* Where a main-chain transaction is. raw is borrowed. */
typedef struct {
    hash32_t block;    /* the main-chain block holding it */
    uint64_t height;   /* that block's */
    uint32_t position; /* in the block: 0 is the coinbase */
    const uint8_t *raw; /* the transaction's canonical encoding */
    size_t len;
} store_tx_loc_t;

/* The UTXO set in one snapshot (docs/PROTOCOL.md, "UTXO-set digest"). */
typedef struct {
    uint64_t count;
    uint64_t total;  /* units */
    hash32_t digest; /* SHA-256 over the coins' records in key order */
} store_utxo_stats_t;

/* Mempool record flags (format version 1). */
enum {
    STORE_MEMPOOL_UNBROADCAST = 1, /* submitted here, not yet announced to a peer */
};
#define STORE_MEMPOOL_FLAGS STORE_MEMPOOL_UNBROADCAST /* every flag version 1 knows */

/* A mempool record. raw is borrowed (see above) when read; a caller's when
 * written. */
typedef struct {
    uint8_t flags;    /* STORE_MEMPOOL_* */
    uint64_t arrival; /* unix seconds */
    const uint8_t *raw; /* the transaction's canonical encoding, 1..TX_MAX_SIZE bytes */
    size_t len;
} store_mempool_rec_t;

/* Records in each table, as store_check() found them consistent. */
typedef struct {
    uint64_t index, blocks, chain, coins, addr, txs, undo, mempool;
    uint64_t history, spentby; /* 0 when the indexes are stale (store_set_indexing) */
} store_counts_t;

/* The 36-byte key of an outpoint: txid ‖ index big-endian (the utxo table's
 * order). */
void store_outpoint_key(uint8_t key[STORE_OUTPOINT_LEN], const hash32_t *txid, uint32_t index);

/* --- open and close ------------------------------------------------------ */

/* Opens (creating) the store in dir (created too, with its parents) with
 * map_size bytes of address space, and checks that it belongs to network
 * (recorded at creation). *s is owned by the caller (store_close). A store
 * whose history and spentby indexes are missing or stale (one made before
 * them, or written with store_set_indexing off) gets them built from its
 * main chain first, in one pass of writes of STORE_INDEX_BATCH blocks each,
 * with a log line before and after (0.3 to 0.6 s for bench_validate's
 * chain of 100 001 transactions: docs/PERFORMANCE.md); a crash during the
 * pass makes the next open start it again. Errors: ERR_BAD_NETWORK when
 * dir holds another network's chain; ERR_INTERNAL with the reason (the
 * directory, LMDB, a main-chain block or undo record that does not decode)
 * otherwise. */
int store_open(store_t **s, const char *dir, size_t map_size, const char *network, err_t *e)
    __attribute__((warn_unused_result));
/* Syncs and closes; *s becomes NULL. Safe on NULL. No snapshot or write may
 * be open. */
void store_close(store_t **s);
/* Puts every commit so far on disk, the meta page that makes the last one
 * current included: a commit alone leaves that page to the next commit's
 * sync (docs/PROTOCOL.md, "Durability"), so what must survive a power cut
 * by itself (an acknowledged transaction) calls this after its commit. Any
 * thread; INTERNAL when the sync failed. */
int store_sync(store_t *s, err_t *e) __attribute__((warn_unused_result));
/* How many writes have committed since the store was made (LMDB's last
 * transaction id): what a step cost in commits, each a sync of the data. */
uint64_t store_commits(store_t *s);

/* --- snapshots ----------------------------------------------------------- */

/* A read-only view of the last commit; the caller ends it (store_read_end).
 * ERR_INTERNAL when none can start (say, every reader slot taken). */
int store_read_begin(store_t *s, store_read_t **r, err_t *e) __attribute__((warn_unused_result));
/* Ends a snapshot; everything borrowed from it dies. *r becomes NULL; safe
 * on NULL. */
void store_read_end(store_read_t **r);

/* --- typed reads: r is a snapshot or a write's reader -------------------- */

/* A block's encoding, borrowed. NOT_FOUND: no such block. */
int store_get_block(store_read_t *r, const hash32_t *hash, const uint8_t **raw, size_t *len,
                    err_t *e) __attribute__((warn_unused_result));
/* A block decoded into *b (the caller's: block_free). *len (may be NULL)
 * gets its encoded size. NOT_FOUND: no such block; INTERNAL: it does not
 * decode. */
int store_load_block(store_read_t *r, const hash32_t *hash, block_t *b, size_t *len, err_t *e)
    __attribute__((warn_unused_result));
/* A block's index record. NOT_FOUND: the block is unknown. */
int store_get_index(store_read_t *r, const hash32_t *hash, store_index_rec_t *rec, err_t *e)
    __attribute__((warn_unused_result));
/* The main-chain block at height. NOT_FOUND: above the tip. */
int store_get_chain_hash(store_read_t *r, uint64_t height, hash32_t *hash, err_t *e)
    __attribute__((warn_unused_result));
/* The tip's hash and height (either may be NULL). NOT_FOUND: an empty store
 * (no genesis yet); INTERNAL when the tip record and the main chain's last
 * height disagree. */
int store_get_tip(store_read_t *r, hash32_t *hash, uint64_t *height, err_t *e)
    __attribute__((warn_unused_result));
/* An unspent coin; its script is borrowed. NOT_FOUND: spent or never made. */
int store_get_coin(store_read_t *r, const hash32_t *txid, uint32_t index, store_coin_t *coin,
                   err_t *e) __attribute__((warn_unused_result));
/* A main-chain transaction: its block, height, position and encoding
 * (borrowed). NOT_FOUND: not on the main chain (unknown, in the mempool, or
 * only in a side block); INTERNAL when the index points at a block that
 * is missing or lacks it. */
int store_find_tx(store_read_t *r, const hash32_t *txid, store_tx_loc_t *loc, err_t *e)
    __attribute__((warn_unused_result));
/* A mempool record; raw borrowed. NOT_FOUND: none for txid; BAD_ENCODING:
 * the record does not decode. */
int store_get_mempool(store_read_t *r, const hash32_t *txid, store_mempool_rec_t *rec, err_t *e)
    __attribute__((warn_unused_result));

/* --- iterators ----------------------------------------------------------- */
/* An iterator borrows its snapshot: end it (store_iter_end) before the
 * snapshot. A next function returns 1 with a record, 0 at the end, or an
 * error (INTERNAL: a record that does not decode). */

/* The coins of pubkey hash pkh (P2PKH locking scripts), by outpoint. */
int store_iter_address(store_read_t *r, const hash20_t *pkh, store_iter_t **it, err_t *e)
    __attribute__((warn_unused_result));
/* Every unspent coin, by outpoint. */
int store_iter_utxo(store_read_t *r, store_iter_t **it, err_t *e)
    __attribute__((warn_unused_result));
/* The coins a main-chain block's transactions spent, in the order they were
 * spent. NOT_FOUND: no undo record (the genesis, or a block not connected). */
int store_iter_undo(store_read_t *r, const hash32_t *block, store_iter_t **it, err_t *e)
    __attribute__((warn_unused_result));
/* Every index record (main chain and side branches), by hash. */
int store_iter_index(store_read_t *r, store_iter_t **it, err_t *e)
    __attribute__((warn_unused_result));
/* Next coin of an address, utxo or undo iterator; script borrowed. After
 * 0, every further call returns 0. */
int store_next_coin(store_iter_t *it, store_outpoint_t *op, store_coin_t *coin, err_t *e)
    __attribute__((warn_unused_result));
/* Next record of an index iterator. */
int store_next_index(store_iter_t *it, hash32_t *hash, store_index_rec_t *rec, err_t *e)
    __attribute__((warn_unused_result));
/* Every mempool record, by txid. */
int store_iter_mempool(store_read_t *r, store_iter_t **it, err_t *e)
    __attribute__((warn_unused_result));
/* Next record of a mempool iterator; raw borrowed. BAD_ENCODING: this
 * record does not decode; *txid names it and the iterator has moved past
 * it, so the caller may drop it (store_del_mempool) and go on. INTERNAL: the
 * table itself cannot be read (a key that is no txid, an LMDB failure);
 * every further call fails too. */
int store_next_mempool(store_iter_t *it, hash32_t *txid, store_mempool_rec_t *rec, err_t *e)
    __attribute__((warn_unused_result));
/* *it becomes NULL; safe on NULL. */
void store_iter_end(store_iter_t **it);

/* --- whole-store checks -------------------------------------------------- */

/* The UTXO set's count, total and digest in r (docs/PROTOCOL.md), reading
 * every coin once, in key order: about 0.1 s a million coins in memory on
 * the development machine, so callers cache it by tip. INTERNAL on a coin
 * that does not decode or a total past 2^64. */
int store_utxo_stats(store_read_t *r, store_utxo_stats_t *stats, err_t *e)
    __attribute__((warn_unused_result));
/* Checks that r is consistent: the main chain runs from height 0 to the tip
 * record's block, each height's block stored, decoding, and indexed (valid,
 * at that height, on the block below); every main-chain block above the
 * genesis has its undo record and no other block has one; the txindex holds
 * exactly the main chain's transactions, each to its block; the addr index
 * holds exactly the P2PKH coins; index and blocks count the same blocks;
 * every coin and index record decodes; every mempool record decodes, is
 * keyed by its transaction's txid and holds no main-chain transaction (a
 * block's write takes out what it confirms); unless they are stale, the
 * history and spentby indexes hold exactly the entries the main chain's
 * blocks and undo records give. An empty store (no tip) must be
 * empty throughout. Reads every main-chain block: for tests and operators,
 * not for a hot path. 0 with *counts (may be NULL), or INTERNAL naming the
 * first inconsistency found. */
int store_check(store_read_t *r, store_counts_t *counts, err_t *e)
    __attribute__((warn_unused_result));

/* --- writes -------------------------------------------------------------- */

/* Starts a write (waiting for another to end); the caller commits or aborts
 * it. */
int store_write_begin(store_t *s, store_write_t **w, err_t *e) __attribute__((warn_unused_result));
/* Makes every change of w durable at once (DESIGN §4.1); *w is freed and
 * NULL in every case. INTERNAL when the commit failed: nothing changed. */
int store_write_commit(store_write_t **w, err_t *e) __attribute__((warn_unused_result));
/* Drops every change of w; *w becomes NULL. Safe on NULL. */
void store_write_abort(store_write_t **w);
/* Ends w as the steps before went: commits when rc is 0 (returning the
 * commit's result), else aborts and returns rc. */
int store_write_end(store_write_t **w, int rc, err_t *e) __attribute__((warn_unused_result));
/* Reads that see w's changes; valid until w ends. */
store_read_t *store_write_reader(store_write_t *w);

/* Stores a block's encoding (not checked here) under hash. */
int store_put_block(store_write_t *w, const hash32_t *hash, const uint8_t *raw, size_t len,
                    err_t *e) __attribute__((warn_unused_result));
/* Writes (replacing) a block's index record. */
int store_put_index(store_write_t *w, const hash32_t *hash, const store_index_rec_t *rec,
                    err_t *e) __attribute__((warn_unused_result));
/* Adds a coin (and its addr entry when P2PKH). ERR_DUPLICATE_TX when the
 * outpoint is an unspent coin already (nothing written). */
int store_add_coin(store_write_t *w, const hash32_t *txid, uint32_t index, const store_coin_t *coin,
                   err_t *e) __attribute__((warn_unused_result));
/* Spends a coin: deletes it and its addr entry, and keeps it for the undo
 * record of the next store_connect() in w. NOT_FOUND when it is not unspent. */
int store_spend_coin(store_write_t *w, const hash32_t *txid, uint32_t index, err_t *e)
    __attribute__((warn_unused_result));
/* Indexes a main-chain transaction to its block. */
int store_put_tx(store_write_t *w, const hash32_t *txid, const hash32_t *block, err_t *e)
    __attribute__((warn_unused_result));
/* Makes block the main chain's block at height and the tip; above height 0,
 * writes its undo record: the coins spent in w since it began or since its
 * last store_connect(). The block's coins and txindex entries are the
 * caller's to write in w (store_add_coin, store_spend_coin, store_put_tx),
 * and so are its history and spentby entries (store_index_block, after
 * this). */
int store_connect(store_write_t *w, const hash32_t *block, uint64_t height, err_t *e)
    __attribute__((warn_unused_result));
/* Undoes the tip b (hash, at height > 0; its parent is b's previous block;
 * call store_index_block on it first, while its undo record exists):
 * brings back the coins its undo record holds, then deletes the coins its
 * transactions made (so a coin both made and spent inside b stays gone) and
 * their txindex entries, its undo record and its chain height; the parent
 * becomes the tip. INTERNAL when block is not the tip or its undo record is
 * missing or corrupt. */
int store_disconnect(store_write_t *w, const block_t *b, const hash32_t *hash, uint64_t height,
                     err_t *e) __attribute__((warn_unused_result));

/* Writes (replacing) the mempool record of txid. Nothing here checks the
 * transaction: the mempool's rules are the caller's. BAD_ENCODING when rec
 * has a flag version 1 does not know or no encoding (nothing written). */
int store_put_mempool(store_write_t *w, const hash32_t *txid, const store_mempool_rec_t *rec,
                      err_t *e) __attribute__((warn_unused_result));
/* Sets the flags of txid's record. NOT_FOUND: no record; BAD_ENCODING: it
 * does not decode, or flags has a bit version 1 does not know. */
int store_set_mempool_flags(store_write_t *w, const hash32_t *txid, uint8_t flags, err_t *e)
    __attribute__((warn_unused_result));
/* Deletes txid's record; *deleted (may be NULL) says whether there was one. */
int store_del_mempool(store_write_t *w, const hash32_t *txid, bool *deleted, err_t *e)
    __attribute__((warn_unused_result));
/* Deletes every mempool record (a table that cannot be read is emptied). */
int store_clear_mempool(store_write_t *w, err_t *e) __attribute__((warn_unused_result));

/* --- the explorer's indexes: history and spentby ----------------------- */

/* Writes (connect) or deletes (disconnect) the history and spentby entries
 * of block b (hash, at height) in w: connect right after its
 * store_connect(), disconnect right before its store_disconnect(), since
 * the coins its transactions spent come from its undo record. INTERNAL
 * when that record does not match the block's inputs. */
int store_index_block(store_write_t *w, const block_t *b, const hash32_t *hash, uint64_t height,
                      bool connect, err_t *e) __attribute__((warn_unused_result));
/* On by default. Off (for measuring what the indexes cost a connect):
 * store_index_block writes nothing but the mark that the indexes are
 * stale, so that the next store_open builds them again, and store_check
 * skips them meanwhile. Call before any write uses s. */
void store_set_indexing(store_t *s, bool on);

/* A history entry. */
typedef struct {
    hash32_t txid;
    uint64_t height;
    uint32_t position;  /* in its block; 0 is the coinbase */
    amount_t received;  /* its outputs to the address */
    amount_t sent;      /* the address's coins it spent */
} store_history_t;

/* The history of pubkey hash pkh, newest first (height, then position,
 * descending), from the entry just below *before (its height and
 * position; NULL: from the newest). */
int store_iter_history(store_read_t *r, const hash20_t *pkh, const store_history_t *before,
                       store_iter_t **it, err_t *e) __attribute__((warn_unused_result));
/* Next entry of a history iterator: 1, 0 past the address's oldest, or an
 * error. */
int store_next_history(store_iter_t *it, store_history_t *h, err_t *e)
    __attribute__((warn_unused_result));

/* The main-chain transaction spending txid:index and its input index.
 * NOT_FOUND: unspent, never made, or spent only in the mempool. */
typedef struct {
    hash32_t txid;
    uint32_t input;
} store_spender_t;
int store_get_spender(store_read_t *r, const hash32_t *txid, uint32_t index, store_spender_t *s,
                      err_t *e) __attribute__((warn_unused_result));

/* A stored block's size (bytes of its encoding) and transaction count, read
 * without decoding its transactions. NOT_FOUND: no such block. */
typedef struct {
    size_t size;
    size_t tx_count;
} store_block_info_t;
int store_get_block_info(store_read_t *r, const hash32_t *hash, store_block_info_t *info,
                         err_t *e) __attribute__((warn_unused_result));

#endif
