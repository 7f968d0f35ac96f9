/* Networks (DESIGN §3.5): the genesis blocks recomputed from their parts and
 * checked against the pinned hashes, the allocations against the demo key
 * files, and the constants the design fixes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "block.h"
#include "hash.h"
#include "hex.h"
#include "jsonfmt.h"
#include "key.h"
#include "params.h"
#include "script.h"
#include "tx.h"
#include "vectors.h"

static const char *const networks[] = {"demo", "regtest"};

/* HASH160 of the pubkey in deploy/demo-keys/<name>.pem. */
static hash20_t demo_key_hash(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/demo-keys/%s.pem", CHAIN_SOURCE_DIR, name);
    key_pair_t k;
    err_t e = {0};
    cr_assert_eq(key_load_pem(&k, path, &e), 0, "%s: %s", path, e.message);
    hash20_t h;
    hash_hash160(&h, k.pubkey, sizeof k.pubkey);
    return h;
}

static const chain_params_t *net(const char *name)
{
    const chain_params_t *p = params_by_name(name);
    cr_assert_not_null(p, "network %s", name);
    cr_assert_str_eq(p->name, name);
    return p;
}

static void decode_genesis(const chain_params_t *p, block_t *b)
{
    mp_buf_t out;
    mp_buf_init(&out, BLOCK_MAX_SIZE);
    cr_assert_eq(params_genesis_encode(p, &out), 0);
    err_t e = {0};
    cr_assert_eq(block_decode(b, out.data, out.len, &e), 0, "%s genesis: %s", p->name, e.message);
    mp_buf_free(&out);
}

Test(params, genesis_hash_and_check)
{
    for (size_t n = 0; n < 2; n++) {
        const chain_params_t *p = net(networks[n]);
        block_t b;
        decode_genesis(p, &b);
        hash32_t hash;
        block_header_hash(&hash, &b.header);
        char hex[65];
        jsonfmt_hash_hex(hex, &hash);
        cr_assert_str_eq(hex, p->genesis_hash, "%s genesis hash recomputed", p->name);
        err_t e = {0};
        cr_assert_eq(block_check(&b, p, &e), 0, "%s genesis: %s", p->name, e.message);

        /* the header the design describes */
        const block_header_t *h = &b.header;
        cr_assert_eq(h->version, 1);
        cr_assert(hash32_is_zero(&h->previous_block_hash), "genesis has no parent");
        cr_assert_eq(h->timestamp, 1320365123, "the tutorial's 2011-11-04 00:05:23");
        cr_assert_eq(h->timestamp, p->genesis_timestamp);
        cr_assert_eq(h->bits, p->genesis_bits);
        cr_assert_eq(h->nonce, p->genesis_nonce);
        cr_assert(block_bits_valid(h->bits, p));
        cr_assert(block_hash_meets(&hash, h->bits), "genesis meets its own bits");
        cr_assert_eq(b.n_txs, 1);
        cr_assert_arr_eq(h->merkle_root.b, b.txids[0].b, 32, "root of one tx is its txid");

        /* the coinbase form, height 0 */
        cr_assert(tx_is_coinbase(&b.txs[0]));
        uint64_t height = 99;
        cr_assert_eq(tx_coinbase_height(&b.txs[0], &height, &e), 0, "%s", e.message);
        cr_assert_eq(height, 0);
        block_free(&b);
    }
    /* two networks, two genesis blocks */
    cr_assert_str_neq(net("demo")->genesis_hash, net("regtest")->genesis_hash);
}

Test(params, genesis_allocations_match_the_demo_keys)
{
    static const char *const owner[PARAMS_DEMO_USERS] = {"albert", "bertrand", "camille",
                                                          "camille"};
    static const amount_t coins[PARAMS_DEMO_USERS] = {40, 30, 10, 5};

    const char *names[PARAMS_DEMO_USERS];
    const uint8_t *hashes[PARAMS_DEMO_USERS];
    amount_t amounts[PARAMS_DEMO_USERS];
    params_genesis_allocations(names, hashes, amounts);
    for (int i = 0; i < PARAMS_DEMO_USERS; i++) {
        cr_assert_str_eq(names[i], owner[i]);
        cr_assert_eq(amounts[i], coins[i] * 100000000u, "allocation %d", i);
        hash20_t key = demo_key_hash(owner[i]);
        cr_assert_arr_eq(hashes[i], key.b, 20, "allocation %d is %s's key", i, owner[i]);
    }

    for (size_t n = 0; n < 2; n++) {
        const chain_params_t *p = net(networks[n]);
        block_t b;
        decode_genesis(p, &b);
        const tx_t *tx = &b.txs[0];
        cr_assert_eq(tx->n_outputs, PARAMS_DEMO_USERS, "%s: four outputs", p->name);
        for (int i = 0; i < PARAMS_DEMO_USERS; i++) {
            cr_assert_eq(tx->outputs[i].amount, coins[i] * 100000000u, "%s output %d", p->name, i);
            hash20_t key = demo_key_hash(owner[i]), got;
            cr_assert(script_p2pkh_hash(tx->outputs[i].script, tx->outputs[i].script_len, &got),
                      "%s output %d is P2PKH", p->name, i);
            cr_assert_arr_eq(got.b, key.b, 20, "%s output %d pays %s", p->name, i, owner[i]);
        }
        block_free(&b);
    }
}

Test(params, demo_keys_load)
{
    /* the miner's key is a demo key too (DESIGN §3.5) */
    static const char *const all[] = {"albert", "bertrand", "camille", "miner"};
    hash20_t h[4];
    for (int i = 0; i < 4; i++)
        h[i] = demo_key_hash(all[i]);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            cr_assert(memcmp(h[i].b, h[j].b, 20) != 0, "%s and %s differ", all[i], all[j]);
}

Test(params, by_name)
{
    cr_assert_eq(params_by_name("demo"), net("demo"));
    cr_assert_null(params_by_name("mainnet"));
    cr_assert_null(params_by_name(""));
    cr_assert_null(params_by_name("Demo"));
    cr_assert_null(params_by_name("regtest "));
    cr_assert_null(params_by_name("demox"));
}

Test(params, subsidy)
{
    for (size_t n = 0; n < 2; n++) {
        const chain_params_t *p = net(networks[n]);
        cr_assert_eq(p->halving_interval, 210000);
        cr_assert_eq(params_subsidy(p, 1), 625000000, "the tutorial's 6.25");
        cr_assert_eq(params_subsidy(p, 209999), 625000000);
        cr_assert_eq(params_subsidy(p, 210000), 312500000, "first halving");
        cr_assert_eq(params_subsidy(p, 419999), 312500000);
        cr_assert_eq(params_subsidy(p, 420000), 156250000);
        cr_assert_eq(params_subsidy(p, 29 * 210000ull), 1, "625000000 >> 29");
        cr_assert_eq(params_subsidy(p, 30 * 210000ull), 0);
        cr_assert_eq(params_subsidy(p, 63 * 210000ull), 0);
        cr_assert_eq(params_subsidy(p, 64 * 210000ull), 0, "after 64 halvings");
        cr_assert_eq(params_subsidy(p, 64 * 210000ull + 1), 0);
        cr_assert_eq(params_subsidy(p, 1000 * 210000ull), 0);
        cr_assert_eq(params_subsidy(p, UINT64_MAX), 0);
        /* all subsidies together stay under max money */
        amount_t total = 0;
        for (uint64_t k = 0; k < 64; k++)
            cr_assert(amount_add(&total, params_subsidy(p, k * 210000) * 210000),
                      "era %llu overflows max money", (unsigned long long)k);
        cr_assert_lt(total, AMOUNT_MAX_MONEY);
    }
}

Test(params, network_constants)
{
    const chain_params_t *d = net("demo"), *r = net("regtest");
    cr_assert_eq(d->address_version, 0x1c);
    cr_assert_eq(r->address_version, 0x57);
    cr_assert_eq(d->coinbase_maturity, 20);
    cr_assert_eq(r->coinbase_maturity, 2);
    cr_assert_eq(r->pow_limit_bits, 0x207fffff, "regtest: the easiest target");
    cr_assert_eq(r->genesis_bits, 0x207fffff);
    cr_assert_not(r->retarget);
    cr_assert(d->retarget);
    cr_assert_eq(d->retarget_interval, 20);
    cr_assert_eq(d->genesis_timestamp, 1320365123);
    cr_assert_eq(r->genesis_timestamp, 1320365123);
    cr_assert(block_bits_valid(d->genesis_bits, d));

    /* the address versions give the vectors' addresses ('C…' and 'c…') */
    json_t *keys = vectors_section("keys"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        hash20_t h;
        vhex_exact(k, "pubkey_hash", h.b, 20);
        char addr[ADDRESS_MAX];
        address_encode(addr, d->address_version, &h);
        cr_assert_str_eq(addr, vstr(k, "address_demo"));
        cr_assert_eq(addr[0], 'C');
        address_encode(addr, r->address_version, &h);
        cr_assert_str_eq(addr, vstr(k, "address_regtest"));
        cr_assert_eq(addr[0], 'c');
    }
}
