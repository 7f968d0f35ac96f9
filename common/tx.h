/* tx: transactions (DESIGN §3.2): canonical msgpack encoding, strict decoding,
 * txid, sighash, context-free checks and the coinbase form (§3.4).
 *
 * A tx_t is a plain struct. Its inputs, outputs and scripts are reached through
 * pointers, owned one of two ways:
 *   - built by a caller: mem is NULL and the caller owns every array and script;
 *   - filled by tx_decode()/tx_read(): everything lives in one allocation at
 *     mem, owned by the tx_t and freed by tx_free(). It borrows nothing from
 *     the decoded bytes. */
#ifndef CHAIN_TX_H
#define CHAIN_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "err.h"
#include "hash.h"
#include "key.h"
#include "mp.h"
#include "script.h"

#define TX_VERSION 1
#define TX_MAX_SIZE 1000000 /* a transaction must fit in a block */
#define TX_COINBASE_INDEX 0xffffffffu
#define TX_COINBASE_SCRIPT_MAX 100
#define TX_EXTRANONCE_MAX (TX_COINBASE_SCRIPT_MAX - 9 - 2) /* height push, 0x4c n */
/* Policy, not consensus (docs/PROTOCOL.md, "Dust"): an output worth less
 * than the fee for spending it — a P2PKH input is about 140 bytes, at the
 * default 10 units a byte — costs its owner more to spend than it holds, so
 * nobody ever spends it and every node keeps it forever. Nodes refuse to relay
 * transactions making one; wallets refuse to make one. */
#define TX_DUST_LIMIT ((amount_t)1500)

typedef struct {
    hash32_t prev_txid;
    uint32_t index;
    const uint8_t *script; /* unlocking script */
    size_t script_len;
} tx_input_t;

typedef struct {
    amount_t amount;
    const uint8_t *script; /* locking script */
    size_t script_len;
} tx_output_t;

typedef struct {
    uint32_t version;
    size_t n_inputs;
    tx_input_t *inputs;
    size_t n_outputs;
    tx_output_t *outputs;
    void *mem; /* set by the decoder; see above */
} tx_t;

/* Decodes exactly one transaction filling all of data[0..len) (§3.1 strict:
 * wrong types, lengths, non-smallest forms, str for bin, trailing bytes and
 * out-of-range values are ERR_BAD_ENCODING; over TX_MAX_SIZE is ERR_TOO_LARGE).
 * On success the caller owns *tx and frees it with tx_free(); on failure *tx
 * holds nothing to free. */
int tx_decode(tx_t *tx, const uint8_t *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
/* Decodes one transaction at the reader's position (a strict reader), leaving
 * the reader after it. Ownership as tx_decode(). */
int tx_read(tx_t *tx, mp_reader_t *r, err_t *e) __attribute__((warn_unused_result));
/* Frees what the decoder allocated and zeroes *tx. Safe on a built or zeroed tx. */
void tx_free(tx_t *tx);

/* Appends the canonical encoding; blank_unlocking writes every unlocking
 * script as empty bin (the sighash preimage). Returns 0, or -1 when the buffer
 * failed (its maximum or memory). */
int tx_encode(const tx_t *tx, mp_buf_t *out, bool blank_unlocking)
    __attribute__((warn_unused_result));
/* txid = SHA256d(encoding); sighash = SHA256d(encoding, unlocking blanked).
 * -1 only when memory for the encoding cannot be had. */
int tx_txid(const tx_t *tx, hash32_t *txid) __attribute__((warn_unused_result));
int tx_sighash(const tx_t *tx, hash32_t *sighash) __attribute__((warn_unused_result));

/* Whether tx has the coinbase's input: one input spending index 0xffffffff of
 * the all-zero txid. */
bool tx_is_coinbase(const tx_t *tx);

/* Context-free rules: version 1; at least one input and one output; every
 * amount and their sum at most max money (ERR_BAD_AMOUNT); no outpoint spent
 * twice (ERR_DUPLICATE_INPUT); scripts within 10 000 bytes; a coinbase input
 * only in a coinbase (ERR_COINBASE_TX), whose script has the form checked by
 * tx_coinbase_height(). *out_sum receives the sum of outputs (may be NULL). */
int tx_check(const tx_t *tx, amount_t *out_sum, err_t *e) __attribute__((warn_unused_result));

/* Writes the coinbase unlocking script (push of the 8-byte LE height, then a
 * push of the extranonce when extranonce_len > 0) into out (capacity
 * TX_COINBASE_SCRIPT_MAX). Returns its length, or -1 when the extranonce is
 * longer than TX_EXTRANONCE_MAX. */
int tx_coinbase_script(uint8_t *out, uint64_t height, const uint8_t *extranonce,
                       size_t extranonce_len);
/* Reads the height from a coinbase's unlocking script and checks its form:
 * at most 100 bytes, push-only, first a push of exactly 8 bytes.
 * ERR_BAD_COINBASE on any deviation. */
int tx_coinbase_height(const tx_t *coinbase, uint64_t *height, err_t *e)
    __attribute__((warn_unused_result));

/* The coinbase a miner builds for a job (DESIGN §4.4, docs/PROTOCOL.md): the
 * height push, the extranonce push, and one P2PKH output paying value to
 * payout. Scripts live in the struct and cb->tx points into it: build it in
 * place and never copy it. */
typedef struct {
    uint8_t script[TX_COINBASE_SCRIPT_MAX];
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
    tx_input_t input;
    tx_output_t output;
    tx_t tx;
} tx_coinbase_t;

/* -1 when the extranonce is longer than TX_EXTRANONCE_MAX. */
int tx_coinbase_build(tx_coinbase_t *cb, uint64_t height, const uint8_t *extranonce,
                      size_t extranonce_len, const hash20_t *payout, amount_t value)
    __attribute__((warn_unused_result));

/* Signs every input of tx with key, as P2PKH spends of the key's coins: each
 * input's unlocking script becomes `<sig> <pubkey>` in unlock[i] (caller
 * storage of n_inputs entries, which the inputs then point to). */
int tx_sign_p2pkh(tx_t *tx, const key_pair_t *key, uint8_t (*unlock)[SCRIPT_P2PKH_UNLOCK_LEN],
                  err_t *e) __attribute__((warn_unused_result));

#endif
