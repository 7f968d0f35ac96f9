/* wallet: chain-cli's spending logic, apart from HTTP so tests can drive it.
 *
 * Builds a P2PKH transaction from a key's coins: picks coins, adds change
 * back to the key, and pays a fee of fee_rate units a byte of the final
 * encoding (signatures have a fixed length, so the size is known before
 * signing). */
#ifndef CLI_WALLET_H
#define CLI_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include "amount.h"
#include "err.h"
#include "hash.h"
#include "key.h"
#include "mp.h"

typedef struct {
    hash32_t txid;
    uint32_t index;
    amount_t amount;
} wallet_coin_t;

typedef struct {
    size_t n_inputs;     /* coins spent */
    amount_t fee;        /* paid */
    amount_t change;     /* back to the sender (0: no change output) */
    hash32_t txid;
} wallet_result_t;

/* Parses an amount in coins ("1", "0.5", "12.345678") into base units: at
 * most 8 decimals, at most max money. -1 on anything else. */
int wallet_parse_coins(const char *text, amount_t *units);
/* Formats units as coins with the needed decimals ("1.5"); out has 32 bytes. */
void wallet_format_coins(char out[32], amount_t units);

/* The fee rate a wallet pays at most: chaind's --min-fee-rate ceiling. */
#define WALLET_MAX_FEE_RATE 1000000

/* Spends coins[0..n) of key (largest first, as few as cover amount + fee)
 * paying `amount` to `to`, the rest less the fee back to the key; change
 * below the dust limit (TX_DUST_LIMIT) is left to the fee instead. Appends
 * the signed encoding to out. ERR_INSUFFICIENT_FUNDS (with what is spendable
 * and what is needed) when the coins do not cover it; ERR_BAD_AMOUNT for 0
 * or a fee rate over WALLET_MAX_FEE_RATE; ERR_DUST for an amount below the
 * dust limit. */
int wallet_build(mp_buf_t *out, wallet_result_t *res, const key_pair_t *key,
                 const wallet_coin_t *coins, size_t n, const hash20_t *to, amount_t amount,
                 uint64_t fee_rate, err_t *e) __attribute__((warn_unused_result));

#endif
