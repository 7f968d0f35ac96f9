/* fixture: what the chain, mempool, node and api tests share — buffers kept
 * until the test ends (freed by tb_keep_free(), so a failed assert leaks
 * nothing), transactions and blocks as their encodings with their hashes,
 * and a node in process (chaind/node.h). */
#ifndef TEST_FIXTURE_H
#define TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "builder.h"
#include "node.h"

typedef struct {
    uint8_t *raw; /* kept */
    size_t len;
    hash32_t txid;
} tb_rtx_t;

typedef struct {
    uint8_t *data; /* kept */
    size_t len;
    hash32_t hash, cb; /* the block's and its coinbase's */
    uint64_t height;
} tb_blk_t;

#define TB_MAX_BLOCK_TXS 64

/* p, kept until tb_keep_free() (at most 4096 buffers a test). */
void *tb_keep(void *p);
void tb_keep_free(void);

/* tb_tx_multi(), kept. */
tb_rtx_t tb_mktx(const tb_input_t *ins, size_t n_in, const tb_output_t *outs, size_t n_out,
                 int corrupt);
/* One input (txid:index worth in_amount, from's) to `amount` for `to` and
 * the change, less fee, back to from (no change output when none is left). */
tb_rtx_t tb_pay(const hash32_t *txid, uint32_t index, amount_t in_amount, const tb_wallet_t *from,
                const hash20_t *to, amount_t amount, amount_t fee);
/* tb_block() over txs[0..n) (n <= TB_MAX_BLOCK_TXS), kept; the coinbase at
 * cb_height pays value to payout; the block records height. */
tb_blk_t tb_mkblock(const hash32_t *parent, uint64_t height, uint64_t cb_height, uint64_t ts,
                    uint32_t bits, const hash20_t *payout, amount_t value, const tb_rtx_t *txs,
                    size_t n, uint64_t tag);

/* --- a node in process -------------------------------------------------- */

#define TB_NODE_FEE_RATE 10 /* min_fee_rate of tb_node_config(), units a byte */

/* The tests' node on regtest in datadir: a 1 GiB map, two verify threads, a
 * mempool of mempool_max_bytes at TB_NODE_FEE_RATE, 1000 cached signatures,
 * the default journal bound. */
node_config_t tb_node_config(const char *datadir, size_t mempool_max_bytes);
/* node_open(cfg), asserting that it opens. */
void tb_node_open(node_t **n, const node_config_t *cfg);
/* Submits t with flags, waits for the ticket as a submitter does, and asserts
 * the promise: admitted under t's txid with a ticket, durable, settled. */
void tb_node_submit_ok(node_t *n, const tb_rtx_t *t, uint8_t flags);
/* node_submit_block(b), asserting it is taken with status expect. */
void tb_node_block_ok(node_t *n, const tb_blk_t *b, chain_status_t expect);

#endif
