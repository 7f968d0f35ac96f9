#include "jobs.h"

#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "params.h"
#include "tx.h"

void jobs_init(jobs_t *j) { memset(j, 0, sizeof *j); }

static void entry_clear(jobs_entry_t *x)
{
    for (size_t i = 0; i < x->n_txs; i++)
        free(x->raws[i]);
    free(x->raws);
    free(x->lens);
    memset(x, 0, sizeof *x);
}

void jobs_free(jobs_t *j)
{
    for (int i = 0; i < JOBS_KEPT; i++)
        entry_clear(&j->ring[i]);
}

const jobs_entry_t *jobs_find(const jobs_t *j, uint64_t id)
{
    const jobs_entry_t *x = &j->ring[id % JOBS_KEPT];
    return j->next_id > id && x->id == id ? x : NULL;
}

const jobs_entry_t *jobs_current(const jobs_t *j)
{
    return j->next_id ? jobs_find(j, j->next_id - 1) : NULL;
}

/* Copies the selected transactions into x and the merkle branch of the
 * coinbase's place over them; adds their fees to *value. */
static int take_txs(jobs_entry_t *x, const mempool_entry_t **sel, size_t n_sel, amount_t *value)
{
    hash32_t *leaves = malloc((n_sel + 1) * sizeof *leaves);
    x->raws = calloc(n_sel ? n_sel : 1, sizeof *x->raws);
    x->lens = calloc(n_sel ? n_sel : 1, sizeof *x->lens);
    int rc = leaves && x->raws && x->lens ? 0 : -1;
    if (leaves)
        memset(leaves[0].b, 0, 32); /* the coinbase's place: the branch never reads it */
    for (size_t i = 0; rc == 0 && i < n_sel; i++) {
        if (!(x->raws[i] = malloc(sel[i]->len))) {
            rc = -1;
            break;
        }
        memcpy(x->raws[i], sel[i]->raw, sel[i]->len);
        x->lens[i] = sel[i]->len;
        x->n_txs = i + 1;
        leaves[i + 1] = sel[i]->txid;
        (void)amount_add(value, sel[i]->fee); /* fees of a block stay under max money */
    }
    if (rc == 0 && (x->branch_len = merkle_branch_first(x->branch, leaves, n_sel + 1)) < 0)
        rc = -1;
    free(leaves);
    return rc;
}

int jobs_make(jobs_t *j, const chain_t *c, const mempool_t *m, uint64_t now)
{
    const chain_entry_t *tip = chain_tip(c);
    const mempool_entry_t **sel;
    size_t n_sel;
    if (mempool_select(m, BLOCK_MAX_SIZE - JOBS_COINBASE_RESERVE, &sel, &n_sel) < 0)
        return -1;
    jobs_entry_t *x = &j->ring[j->next_id % JOBS_KEPT];
    entry_clear(x);
    amount_t value = params_subsidy(chain_params(c), tip->height + 1);
    int rc = take_txs(x, sel, n_sel, &value);
    free(sel);
    if (rc < 0) {
        entry_clear(x);
        return -1;
    }
    uint64_t mtp = chain_median_time(tip);
    x->id = j->next_id++;
    x->height = tip->height + 1;
    x->prev = tip->hash;
    x->bits = chain_next_bits(c, tip);
    x->timestamp = now > mtp ? now : mtp + 1;
    x->coinbase_value = value;
    return 0;
}

void jobs_put_pairs(const jobs_entry_t *x, mp_buf_t *out)
{
    mp_put_cstr(out, "job_id");
    mp_put_uint(out, x->id);
    mp_put_cstr(out, "height");
    mp_put_uint(out, x->height);
    mp_put_cstr(out, "previous_block_hash");
    mp_put_bin(out, x->prev.b, 32);
    mp_put_cstr(out, "bits");
    mp_put_uint(out, x->bits);
    mp_put_cstr(out, "timestamp");
    mp_put_uint(out, x->timestamp);
    mp_put_cstr(out, "coinbase_value");
    mp_put_uint(out, x->coinbase_value);
    mp_put_cstr(out, "merkle_branch");
    mp_put_array(out, (uint32_t)x->branch_len);
    for (int i = 0; i < x->branch_len; i++)
        mp_put_bin(out, x->branch[i].b, 32);
    mp_put_cstr(out, "tx_count");
    mp_put_uint(out, x->n_txs);
}

int jobs_assemble(const jobs_entry_t *x, const uint8_t *extranonce, size_t extranonce_len,
                  const hash20_t *payout, uint64_t timestamp, uint64_t nonce, mp_buf_t *out,
                  hash32_t *hash, err_t *e)
{
    if (extranonce_len > TX_EXTRANONCE_MAX)
        return err_set(e, ERR_BAD_REQUEST, "extranonce over %d bytes", TX_EXTRANONCE_MAX);
    /* the coinbase exactly as the miner built it (DESIGN §4.4, PROTOCOL.md) */
    tx_coinbase_t cb;
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = x->prev,
                        .timestamp = timestamp, .bits = x->bits, .nonce = nonce};
    hash32_t coinbase_txid;
    if (tx_coinbase_build(&cb, x->height, extranonce, extranonce_len, payout,
                          x->coinbase_value) < 0 ||
        tx_txid(&cb.tx, &coinbase_txid) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    merkle_root_from_branch(&h.merkle_root, &coinbase_txid, x->branch, (size_t)x->branch_len);
    block_header_hash(hash, &h);
    /* a cheap check before the block is assembled and validated */
    if (!block_hash_meets(hash, h.bits))
        return err_set(e, ERR_BAD_POW, "the solution does not meet the job's target");
    if (block_assemble(out, &h, &cb.tx, (const uint8_t *const *)x->raws, x->lens, x->n_txs) < 0)
        return err_set(e, ERR_TOO_LARGE, "the block does not fit");
    return 0;
}
