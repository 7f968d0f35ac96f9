/* params: the networks (DESIGN §3.5) and their genesis blocks. Params are
 * static constants; nothing here allocates except params_genesis_encode(). */
#ifndef CHAIN_PARAMS_H
#define CHAIN_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "amount.h"
#include "mp.h"

typedef struct {
    const char *name;            /* "demo", "regtest" */
    uint8_t address_version;     /* Base58Check version byte */
    uint32_t pow_limit_bits;     /* the easiest target allowed */
    uint32_t genesis_bits;
    uint64_t genesis_timestamp;
    uint64_t genesis_nonce;      /* found once, pinned */
    const char *genesis_hash;    /* pinned; tests recompute it */
    bool retarget;
    uint32_t retarget_interval;  /* blocks */
    uint32_t target_spacing;     /* seconds */
    uint32_t coinbase_maturity;  /* blocks */
    amount_t subsidy;            /* at height 1 */
    uint32_t halving_interval;   /* blocks */
} chain_params_t;

#define PARAMS_DEMO_USERS 4

/* The network called name, or NULL. */
const chain_params_t *params_by_name(const char *name);
/* The block reward of a block at height (halving every halving_interval). */
amount_t params_subsidy(const chain_params_t *p, uint64_t height);
/* The genesis allocations, in order: albert 40, bertrand 30, camille 10,
 * camille 5 coins. names[i] and pubkey_hashes[i] (20 bytes) of output i. */
void params_genesis_allocations(const char *names[PARAMS_DEMO_USERS],
                                const uint8_t *pubkey_hashes[PARAMS_DEMO_USERS],
                                amount_t amounts[PARAMS_DEMO_USERS]);
/* Appends the network's genesis block encoding. -1 when the buffer failed. */
int params_genesis_encode(const chain_params_t *p, mp_buf_t *out)
    __attribute__((warn_unused_result));

#endif
