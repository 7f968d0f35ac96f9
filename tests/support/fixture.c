#include "fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "block.h"
#include "err.h"
#include "mp.h"
#include "tx.h"

static void *kept[4096];
static size_t n_kept;

void *tb_keep(void *p)
{
    cr_assert(n_kept < sizeof kept / sizeof kept[0], "more buffers than a test may keep");
    return kept[n_kept++] = p;
}

void tb_keep_free(void)
{
    for (size_t i = 0; i < n_kept; i++)
        free(kept[i]);
    n_kept = 0;
}

tb_rtx_t tb_mktx(const tb_input_t *ins, size_t n_in, const tb_output_t *outs, size_t n_out,
                 int corrupt)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    tb_rtx_t r;
    tb_tx_multi(&b, &r.txid, ins, n_in, outs, n_out, corrupt);
    r.raw = tb_keep(b.data);
    r.len = b.len;
    return r;
}

tb_rtx_t tb_pay(const hash32_t *txid, uint32_t index, amount_t in_amount, const tb_wallet_t *from,
                const hash20_t *to, amount_t amount, amount_t fee)
{
    tb_input_t in = {*txid, index, from};
    tb_output_t outs[2] = {{amount, to}, {in_amount - amount - fee, &from->pkh}};
    cr_assert(amount + fee <= in_amount);
    return tb_mktx(&in, 1, outs, outs[1].amount ? 2 : 1, -1);
}

tb_blk_t tb_mkblock(const hash32_t *parent, uint64_t height, uint64_t cb_height, uint64_t ts,
                    uint32_t bits, const hash20_t *payout, amount_t value, const tb_rtx_t *txs,
                    size_t n, uint64_t tag)
{
    const uint8_t *raws[TB_MAX_BLOCK_TXS];
    size_t lens[TB_MAX_BLOCK_TXS];
    cr_assert(n <= TB_MAX_BLOCK_TXS);
    for (size_t i = 0; i < n; i++) {
        raws[i] = txs[i].raw;
        lens[i] = txs[i].len;
    }
    mp_buf_t b;
    mp_buf_init(&b, BLOCK_MAX_SIZE);
    tb_blk_t k = {0};
    tb_block(&b, &k.hash, &k.cb, parent, cb_height, ts, bits, payout, value, raws, lens, n, tag);
    k.data = tb_keep(b.data);
    k.len = b.len;
    k.height = height;
    return k;
}

node_config_t tb_node_config(const char *datadir, size_t mempool_max_bytes)
{
    return (node_config_t){
        .params = params_by_name("regtest"),
        .datadir = datadir,
        .map_size = (size_t)1 << 30,
        .verify_threads = 2,
        .mempool_max_bytes = mempool_max_bytes,
        .min_fee_rate = TB_NODE_FEE_RATE,
        .sigcache_entries = 1000,
    };
}

void tb_node_open(node_t **n, const node_config_t *cfg)
{
    err_t e;
    cr_assert_eq(node_open(n, cfg, &e), 0, "%s", e.message);
    cr_assert_not_null(*n);
}

void tb_node_submit_ok(node_t *n, const tb_rtx_t *t, uint8_t flags)
{
    hash32_t txid;
    uint64_t ticket = 0;
    err_t e = {0};
    int rc = node_submit_tx(n, t->raw, t->len, "test", flags, &txid, &ticket, &e);
    cr_assert_eq(rc, 0, "tx rejected: %s (%s)", err_str(e.code), e.message);
    cr_assert(hash32_eq(&txid, &t->txid), "another txid");
    cr_assert_gt(ticket, 0, "an admission without a ticket");
    node_wait_durable(n, ticket);
    cr_assert_geq(node_durable(n), ticket);
    cr_assert_eq(node_settle_tx(n, &txid, &e), 0, "%s", e.message);
}

void tb_node_block_ok(node_t *n, const tb_blk_t *b, chain_status_t expect)
{
    chain_status_t st;
    hash32_t h;
    err_t e = {0};
    int rc = node_submit_block(n, b->data, b->len, "test", &st, &h, &e);
    cr_assert_eq(rc, 0, "block rejected: %s (%s)", err_str(e.code), e.message);
    cr_assert_eq(st, expect, "status %d, expected %d", st, expect);
    cr_assert(hash32_eq(&h, &b->hash));
}
