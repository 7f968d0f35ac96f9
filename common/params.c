#include "params.h"

#include <string.h>

#include "block.h"
#include "script.h"

/* HASH160 of the public keys in deploy/demo-keys/{albert,bertrand,camille}.pem
 * (a test checks them against the files). */
static const uint8_t hash_albert[20] = {
    0x99, 0x4a, 0x53, 0x35, 0x5b, 0x69, 0x7d, 0x95, 0xf5, 0x06,
    0x09, 0x3b, 0xc4, 0xd2, 0x93, 0x57, 0xc1, 0xa1, 0x9a, 0xea};
static const uint8_t hash_bertrand[20] = {
    0xe6, 0x6f, 0x6d, 0x5a, 0x21, 0x78, 0x3b, 0x3d, 0x1d, 0x9b,
    0x9e, 0x60, 0x19, 0xc7, 0x07, 0x15, 0x29, 0x9c, 0x99, 0xd7};
static const uint8_t hash_camille[20] = {
    0xe2, 0x02, 0x7e, 0x60, 0xaa, 0x98, 0x85, 0x92, 0x5d, 0xa8,
    0x26, 0xa1, 0xbe, 0x0c, 0xdd, 0xab, 0xdf, 0x01, 0x54, 0xbc};

/* demo: a laptop network. The first blocks need about 2^16 hashes (the
 * tutorial's four leading hex zeros); retargeting every 20 blocks toward 10 s
 * a block then follows the hash rate of the miners that join. */
static const chain_params_t demo = {
    .name = "demo",
    .address_version = 0x1c,
    .pow_limit_bits = 0x1f00ffff,
    .genesis_bits = 0x1f00ffff,
    .genesis_timestamp = 1320365123,
    .genesis_nonce = 20211,
    .genesis_hash = "00006956d88344dadac535fbce81c36a88e60684209471b18a0e7d43d3de911e",
    .retarget = true,
    .retarget_interval = 20,
    .target_spacing = 10,
    .coinbase_maturity = 20,
    .subsidy = 625000000,
    .halving_interval = 210000,
};

/* regtest: for tests — the easiest target, no retarget, quick maturity. */
static const chain_params_t regtest = {
    .name = "regtest",
    .address_version = 0x57,
    .pow_limit_bits = 0x207fffff,
    .genesis_bits = 0x207fffff,
    .genesis_timestamp = 1320365123,
    .genesis_nonce = 0,
    .genesis_hash = "4c25bebe29300ff03f7a0b3b5a4c0bf438b49fad9d4a3bf05a03ac97b215cfad",
    .retarget = false,
    .retarget_interval = 20,
    .target_spacing = 10,
    .coinbase_maturity = 2,
    .subsidy = 625000000,
    .halving_interval = 210000,
};

const chain_params_t *params_by_name(const char *name)
{
    if (strcmp(name, demo.name) == 0)
        return &demo;
    if (strcmp(name, regtest.name) == 0)
        return &regtest;
    return NULL;
}

amount_t params_subsidy(const chain_params_t *p, uint64_t height)
{
    uint64_t halvings = height / p->halving_interval;
    return halvings >= 64 ? 0 : p->subsidy >> halvings;
}

void params_genesis_allocations(const char *names[PARAMS_DEMO_USERS],
                                const uint8_t *pubkey_hashes[PARAMS_DEMO_USERS],
                                amount_t amounts[PARAMS_DEMO_USERS])
{
    static const char *const n[] = {"albert", "bertrand", "camille", "camille"};
    static const uint8_t *const h[] = {hash_albert, hash_bertrand, hash_camille, hash_camille};
    static const amount_t a[] = {40 * AMOUNT_COIN, 30 * AMOUNT_COIN, 10 * AMOUNT_COIN,
                                 5 * AMOUNT_COIN};
    for (int i = 0; i < PARAMS_DEMO_USERS; i++) {
        names[i] = n[i];
        pubkey_hashes[i] = h[i];
        amounts[i] = a[i];
    }
}

int params_genesis_encode(const chain_params_t *p, mp_buf_t *out)
{
    const char *names[PARAMS_DEMO_USERS];
    const uint8_t *hashes[PARAMS_DEMO_USERS];
    amount_t amounts[PARAMS_DEMO_USERS];
    params_genesis_allocations(names, hashes, amounts);

    uint8_t locks[PARAMS_DEMO_USERS][SCRIPT_P2PKH_LOCK_LEN];
    tx_output_t outputs[PARAMS_DEMO_USERS];
    for (int i = 0; i < PARAMS_DEMO_USERS; i++) {
        hash20_t h;
        memcpy(h.b, hashes[i], 20);
        script_p2pkh_lock(locks[i], &h);
        outputs[i] = (tx_output_t){amounts[i], locks[i], SCRIPT_P2PKH_LOCK_LEN};
    }
    uint8_t cb_script[TX_COINBASE_SCRIPT_MAX];
    int cb_len = tx_coinbase_script(cb_script, 0, NULL, 0);
    tx_input_t input = {.index = TX_COINBASE_INDEX, .script = cb_script,
                        .script_len = (size_t)cb_len};
    tx_t tx = {.version = TX_VERSION, .n_inputs = 1, .inputs = &input,
               .n_outputs = PARAMS_DEMO_USERS, .outputs = outputs};
    hash32_t txid;
    if (tx_txid(&tx, &txid) < 0)
        return -1;
    block_t b = {
        .header = {.version = BLOCK_VERSION, .merkle_root = txid,
                   .timestamp = p->genesis_timestamp, .bits = p->genesis_bits,
                   .nonce = p->genesis_nonce},
        .n_txs = 1, .txs = &tx, .txids = &txid,
    };
    return block_encode(&b, out);
}
