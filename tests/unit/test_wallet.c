/* chain-cli's wallet: amounts in coins, coin selection, change and fee. */
#include <criterion/criterion.h>
#include <string.h>

#include "builder.h"
#include "script.h"
#include "tx.h"
#include "wallet.h"

Test(wallet, parses_coins_exactly)
{
    static const struct { const char *text; amount_t units; } ok[] = {
        {"1", 100000000},        {"0.5", 50000000},   {"12.345678", 1234567800},
        {"0.00000001", 1},       {"21000000", 2100000000000000}, {"007", 700000000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        amount_t v;
        cr_assert_eq(wallet_parse_coins(ok[i].text, &v), 0, "%s", ok[i].text);
        cr_assert_eq(v, ok[i].units, "%s", ok[i].text);
    }
    static const char *bad[] = {"", ".", "1.", ".5", "-1", "1e3", "1.000000001", "21000000.00000001",
                                "99999999999999999999", "1,5", " 1", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        amount_t v;
        cr_assert_eq(wallet_parse_coins(bad[i], &v), -1, "\"%s\" should not parse", bad[i]);
    }
}

Test(wallet, formats_coins_without_trailing_zeros)
{
    char out[32];
    wallet_format_coins(out, 150000000);
    cr_assert_str_eq(out, "1.5");
    wallet_format_coins(out, 100000000);
    cr_assert_str_eq(out, "1");
    wallet_format_coins(out, 1);
    cr_assert_str_eq(out, "0.00000001");
    wallet_format_coins(out, 0);
    cr_assert_str_eq(out, "0");
}

/* Decodes what wallet_build made and checks it against the coins it spent. */
static void check_spend(const mp_buf_t *raw, const tb_wallet_t *from, const wallet_coin_t *coins,
                        size_t n, const hash20_t *to, amount_t amount, uint64_t fee_rate,
                        const wallet_result_t *res)
{
    tx_t tx;
    err_t e;
    cr_assert_eq(tx_decode(&tx, raw->data, raw->len, &e), 0, "%s", e.message);
    cr_assert_eq(tx_check(&tx, NULL, &e), 0, "%s", e.message);
    cr_assert_eq(tx.n_inputs, res->n_inputs);
    hash32_t sighash, txid;
    cr_assert_eq(tx_sighash(&tx, &sighash), 0);
    hash_sha256d(&txid, raw->data, raw->len);
    cr_assert(hash32_eq(&txid, &res->txid));
    uint8_t own_lock[SCRIPT_P2PKH_LOCK_LEN], to_lock[SCRIPT_P2PKH_LOCK_LEN];
    script_p2pkh_lock(own_lock, &from->pkh);
    script_p2pkh_lock(to_lock, to);
    amount_t in = 0;
    for (size_t i = 0; i < tx.n_inputs; i++) {
        const wallet_coin_t *c = NULL;
        for (size_t j = 0; j < n; j++)
            if (hash32_eq(&coins[j].txid, &tx.inputs[i].prev_txid) &&
                coins[j].index == tx.inputs[i].index)
                c = &coins[j];
        cr_assert_not_null(c, "input %zu spends a coin the wallet was not given", i);
        in += c->amount;
        cr_assert_eq(script_verify(tx.inputs[i].script, tx.inputs[i].script_len, own_lock,
                                   sizeof own_lock, &sighash, NULL, &e), 0, "%s", e.message);
    }
    cr_assert_eq(tx.outputs[0].amount, amount);
    cr_assert(tx.outputs[0].script_len == sizeof to_lock &&
              memcmp(tx.outputs[0].script, to_lock, sizeof to_lock) == 0);
    amount_t change = tx.n_outputs == 2 ? tx.outputs[1].amount : 0;
    if (tx.n_outputs == 2)
        cr_assert(memcmp(tx.outputs[1].script, own_lock, sizeof own_lock) == 0);
    cr_assert_eq(change, res->change);
    cr_assert_eq(in, amount + change + res->fee, "inputs = amount + change + fee");
    cr_assert_geq(res->fee, fee_rate * raw->len, "the fee pays at least the rate for its size");
    /* the fee is sized before the amounts are known, for the longest forms of
     * indexes (4 bytes more an input) and amounts (4 more an output), and for
     * a change output (about 35 bytes) even when none is needed */
    size_t slack = 4 * tx.n_inputs + 8 + (tx.n_outputs == 2 ? 0 : 40);
    /* and change below the dust limit goes to the fee */
    amount_t dust = tx.n_outputs == 2 ? 0 : TX_DUST_LIMIT - 1;
    cr_assert_leq(res->fee, fee_rate * (raw->len + slack) + dust,
                  "the fee is not far above the rate");
    if (tx.n_outputs == 2)
        cr_assert_geq(change, TX_DUST_LIMIT, "no dust change output");
    tx_free(&tx);
}

Test(wallet, picks_largest_coins_first_and_returns_change)
{
    tb_wallet_t albert, camille;
    tb_wallet(&albert, 1);
    tb_wallet(&camille, 2);
    wallet_coin_t coins[4];
    amount_t amounts[4] = {1 * AMOUNT_COIN, 5 * AMOUNT_COIN, 2 * AMOUNT_COIN, 3 * AMOUNT_COIN};
    for (int i = 0; i < 4; i++) {
        memset(coins[i].txid.b, i + 1, 32);
        coins[i].index = (uint32_t)i;
        coins[i].amount = amounts[i];
    }
    mp_buf_t raw;
    mp_buf_init(&raw, TX_MAX_SIZE);
    wallet_result_t res;
    err_t e;
    /* 7 coins: the 5 and the 3 */
    cr_assert_eq(wallet_build(&raw, &res, &albert.key, coins, 4, &camille.pkh, 7 * AMOUNT_COIN, 10,
                              &e), 0, "%s", e.message);
    cr_assert_eq(res.n_inputs, 2);
    check_spend(&raw, &albert, coins, 4, &camille.pkh, 7 * AMOUNT_COIN, 10, &res);
    mp_buf_free(&raw);
}

Test(wallet, everything_but_the_fee_leaves_no_change)
{
    tb_wallet_t a, b;
    tb_wallet(&a, 3);
    tb_wallet(&b, 4);
    wallet_coin_t coin = {.index = 0, .amount = AMOUNT_COIN};
    memset(coin.txid.b, 9, 32);
    mp_buf_t raw;
    mp_buf_init(&raw, TX_MAX_SIZE);
    wallet_result_t res;
    err_t e;
    /* find the fee for one input, then send the rest exactly */
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, TX_DUST_LIMIT, 10, &e), 0);
    amount_t fee = res.fee;
    mp_buf_reset(&raw);
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, AMOUNT_COIN - fee, 10, &e), 0);
    cr_assert_eq(res.change, 0);
    check_spend(&raw, &a, &coin, 1, &b.pkh, AMOUNT_COIN - fee, 10, &res);
    mp_buf_free(&raw);
}

Test(wallet, refuses_what_the_coins_cannot_cover)
{
    tb_wallet_t a, b;
    tb_wallet(&a, 5);
    tb_wallet(&b, 6);
    wallet_coin_t coin = {.index = 1, .amount = AMOUNT_COIN};
    memset(coin.txid.b, 7, 32);
    mp_buf_t raw;
    mp_buf_init(&raw, TX_MAX_SIZE);
    wallet_result_t res;
    err_t e;
    /* the whole coin leaves nothing for the fee */
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, AMOUNT_COIN, 10, &e),
                 -(int)ERR_INSUFFICIENT_FUNDS);
    cr_assert(strstr(e.message, "1 coins spendable") != NULL, "%s", e.message);
    cr_assert_eq(wallet_build(&raw, &res, &a.key, NULL, 0, &b.pkh, TX_DUST_LIMIT, 10, &e),
                 -(int)ERR_INSUFFICIENT_FUNDS);
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, 0, 10, &e),
                 -(int)ERR_BAD_AMOUNT);
    cr_assert_eq(raw.len, 0, "a refused spend writes nothing");
    mp_buf_free(&raw);
}

/* Outputs nobody would spend are never made: an amount below the dust limit
 * is refused, change below it is left to the fee. */
Test(wallet, makes_no_dust)
{
    tb_wallet_t a, b;
    tb_wallet(&a, 7);
    tb_wallet(&b, 8);
    wallet_coin_t coin = {.index = 0, .amount = AMOUNT_COIN};
    memset(coin.txid.b, 5, 32);
    mp_buf_t raw;
    mp_buf_init(&raw, TX_MAX_SIZE);
    wallet_result_t res;
    err_t e;
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, TX_DUST_LIMIT - 1, 10, &e),
                 -(int)ERR_DUST);
    cr_assert(strstr(e.message, "dust") != NULL, "%s", e.message);
    cr_assert_eq(raw.len, 0);
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, TX_DUST_LIMIT, 10, &e), 0,
                 "%s", e.message);
    amount_t fee = res.fee;
    /* what is left after the fee is 700 units: no change output, a fee 700 higher */
    amount_t amount = AMOUNT_COIN - fee - 700;
    mp_buf_reset(&raw);
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, amount, 10, &e), 0);
    cr_assert_eq(res.change, 0);
    cr_assert_eq(res.fee, fee + 700);
    check_spend(&raw, &a, &coin, 1, &b.pkh, amount, 10, &res);
    mp_buf_free(&raw);
}

Test(wallet, refuses_an_absurd_fee_rate)
{
    tb_wallet_t a, b;
    tb_wallet(&a, 9);
    tb_wallet(&b, 10);
    wallet_coin_t coin = {.index = 0, .amount = 1000 * AMOUNT_COIN};
    memset(coin.txid.b, 6, 32);
    mp_buf_t raw;
    mp_buf_init(&raw, TX_MAX_SIZE);
    wallet_result_t res;
    err_t e;
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, AMOUNT_COIN,
                              WALLET_MAX_FEE_RATE + 1, &e), -(int)ERR_BAD_AMOUNT);
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, AMOUNT_COIN,
                              UINT64_MAX, &e), -(int)ERR_BAD_AMOUNT, "a rate that would wrap");
    cr_assert_eq(wallet_build(&raw, &res, &a.key, &coin, 1, &b.pkh, AMOUNT_COIN,
                              WALLET_MAX_FEE_RATE, &e), 0, "%s", e.message);
    mp_buf_free(&raw);
}
