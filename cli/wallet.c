#include "wallet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"
#include "tx.h"

int wallet_parse_coins(const char *text, amount_t *units)
{
    amount_t whole = 0, frac = 0;
    int decimals = 0;
    const char *p = text;
    if (!*p || *p == '.')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > AMOUNT_MAX_MONEY / AMOUNT_COIN)
            return -1;
        whole = whole * 10 + (amount_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, decimals++) {
            if (decimals == 8)
                return -1;
            frac = frac * 10 + (amount_t)(*p - '0');
        }
        if (decimals == 0)
            return -1;
    }
    if (*p)
        return -1;
    for (; decimals < 8; decimals++)
        frac *= 10;
    if (whole > AMOUNT_MAX_MONEY / AMOUNT_COIN)
        return -1;
    amount_t v = whole * AMOUNT_COIN;
    if (!amount_add(&v, frac))
        return -1;
    *units = v;
    return 0;
}

void wallet_format_coins(char out[32], amount_t units)
{
    int n = snprintf(out, 32, "%" PRIu64 ".%08" PRIu64, units / AMOUNT_COIN, units % AMOUNT_COIN);
    /* drop trailing zeros, and the point if nothing is left after it */
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

static int by_amount_desc(const void *a, const void *b)
{
    amount_t x = ((const wallet_coin_t *)a)->amount, y = ((const wallet_coin_t *)b)->amount;
    return (x < y) - (x > y);
}

/* The size of the signed encoding with n inputs and outputs outputs: the
 * unlocking scripts have a fixed length, so a blank stand-in measures it. */
static size_t signed_size(size_t n_inputs, size_t n_outputs)
{
    static const uint8_t unlock[SCRIPT_P2PKH_UNLOCK_LEN], lock[SCRIPT_P2PKH_LOCK_LEN];
    tx_input_t *ins = calloc(n_inputs, sizeof *ins);
    tx_output_t outs[2] = {{AMOUNT_MAX_MONEY, lock, sizeof lock},
                           {AMOUNT_MAX_MONEY, lock, sizeof lock}};
    if (!ins)
        return SIZE_MAX;
    for (size_t i = 0; i < n_inputs; i++)
        ins[i] = (tx_input_t){.index = UINT32_MAX, .script = unlock, .script_len = sizeof unlock};
    tx_t tx = {.version = TX_VERSION, .n_inputs = n_inputs, .inputs = ins,
               .n_outputs = n_outputs, .outputs = outs};
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    size_t size = tx_encode(&tx, &b, false) == 0 ? b.len : SIZE_MAX;
    mp_buf_free(&b);
    free(ins);
    return size; /* an upper bound: amounts and indexes take their longest form */
}

int wallet_build(mp_buf_t *out, wallet_result_t *res, const key_pair_t *key,
                 const wallet_coin_t *coins, size_t n, const hash20_t *to, amount_t amount,
                 uint64_t fee_rate, err_t *e)
{
    if (amount == 0 || !amount_valid(amount))
        return err_set(e, ERR_BAD_AMOUNT, "the amount must be above 0 and at most max money");
    if (amount < TX_DUST_LIMIT)
        return err_set(e, ERR_DUST, "%" PRIu64 " units is below the dust limit of %" PRIu64
                       " units: an output worth less than the fee to spend it", amount,
                       TX_DUST_LIMIT);
    if (fee_rate > WALLET_MAX_FEE_RATE)
        return err_set(e, ERR_BAD_AMOUNT, "a fee rate of %" PRIu64 " units a byte is over %d",
                       fee_rate, WALLET_MAX_FEE_RATE);
    wallet_coin_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted)
        return err_set(e, ERR_INTERNAL, "out of memory");
    if (n)
        memcpy(sorted, coins, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_amount_desc);
    amount_t have = 0, total = 0, fee = 0;
    for (size_t i = 0; i < n; i++)
        (void)amount_add(&total, sorted[i].amount); /* coins of one chain stay under max */
    size_t used = 0;
    int rc = 0;
    for (;;) {
        /* with change: two outputs; the fee covers the larger size */
        fee = (amount_t)fee_rate * signed_size(used ? used : 1, 2);
        if (used > 0 && have >= amount + fee)
            break;
        if (used == n) {
            char h[32], need[32];
            wallet_format_coins(h, total);
            wallet_format_coins(need, amount + fee);
            rc = err_set(e, ERR_INSUFFICIENT_FUNDS, "%s coins spendable, %s needed (amount and "
                         "a fee of %" PRIu64 " units)", h, need, fee);
            break;
        }
        have += sorted[used++].amount;
    }
    if (rc == 0) {
        uint8_t lock_to[SCRIPT_P2PKH_LOCK_LEN], lock_back[SCRIPT_P2PKH_LOCK_LEN];
        hash20_t own;
        hash_hash160(&own, key->pubkey, KEY_PUBKEY_LEN);
        script_p2pkh_lock(lock_to, to);
        script_p2pkh_lock(lock_back, &own);
        amount_t change = have - amount - fee;
        if (change < TX_DUST_LIMIT) { /* change nobody could spend goes to the miner */
            fee += change;
            change = 0;
        }
        tx_output_t outs[2] = {{amount, lock_to, sizeof lock_to},
                               {change, lock_back, sizeof lock_back}};
        tx_input_t *ins = calloc(used, sizeof *ins);
        uint8_t(*unlock)[SCRIPT_P2PKH_UNLOCK_LEN] = calloc(used, sizeof *unlock);
        if (!ins || !unlock)
            rc = err_set(e, ERR_INTERNAL, "out of memory");
        for (size_t i = 0; rc == 0 && i < used; i++)
            ins[i] = (tx_input_t){.prev_txid = sorted[i].txid, .index = sorted[i].index};
        /* no change output for nothing: the fee stays the one computed for two */
        tx_t tx = {.version = TX_VERSION, .n_inputs = used, .inputs = ins,
                   .n_outputs = change ? 2 : 1, .outputs = outs};
        if (rc == 0)
            rc = tx_sign_p2pkh(&tx, key, unlock, e);
        if (rc == 0 && (tx_txid(&tx, &res->txid) < 0 || tx_encode(&tx, out, false) < 0))
            rc = err_set(e, ERR_INTERNAL, "out of memory encoding the transaction");
        if (rc == 0) {
            res->n_inputs = used;
            res->fee = fee;
            res->change = change;
        }
        free(ins);
        free(unlock);
    }
    free(sorted);
    return rc;
}
