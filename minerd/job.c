#include "job.h"

#include <assert.h>
#include <string.h>

static int bad(err_t *e, const char *field, const char *what)
{
    return err_set(e, ERR_BAD_REQUEST, "job field \"%s\" %s", field, what);
}

static int get_uint(const proto_body_t *b, const char *key, uint64_t *v, err_t *e)
{
    return proto_get_uint(b, key, v) < 0 ? bad(e, key, "is missing or not an unsigned integer") : 0;
}

/* Height of the merkle tree over n >= 1 leaves: the branch length of leaf 0. */
static size_t tree_height(uint64_t n)
{
    size_t h = 0;
    while (((uint64_t)1 << h) < n)
        h++;
    return h;
}

int job_decode(job_t *job, const proto_body_t *body, const chain_params_t *params, err_t *e)
{
    uint64_t bits, value;
    int rc;
    memset(job, 0, sizeof *job);
    if ((rc = get_uint(body, "job_id", &job->job_id, e)) < 0 ||
        (rc = get_uint(body, "height", &job->height, e)) < 0 ||
        (rc = get_uint(body, "bits", &bits, e)) < 0 ||
        (rc = get_uint(body, "timestamp", &job->timestamp, e)) < 0 ||
        (rc = get_uint(body, "coinbase_value", &value, e)) < 0 ||
        (rc = get_uint(body, "tx_count", &job->tx_count, e)) < 0)
        return rc;
    /* a target the network does not allow would have the threads grind for
     * a block that chaind must refuse */
    if (bits > UINT32_MAX || !block_bits_valid((uint32_t)bits, params))
        return bad(e, "bits", "is not a valid target for this network");
    job->bits = (uint32_t)bits;
    if (!amount_valid(value))
        return bad(e, "coinbase_value", "is over max money");
    job->coinbase_value = value;
    if (proto_get_bin_exact(body, "previous_block_hash", job->previous_block_hash.b, 32) < 0)
        return bad(e, "previous_block_hash", "is missing or not bin of 32 bytes");
    if (job->tx_count >= BLOCK_MAX_SIZE)
        return bad(e, "tx_count", "is more than a block can hold");

    mp_reader_t r;
    uint32_t n;
    if (proto_get_array(body, "merkle_branch", &r, &n) < 0)
        return bad(e, "merkle_branch", "is missing or not an array");
    /* the branch must fit the tree: a longer or shorter one gives a merkle
     * root that commits to other transactions than chaind will assemble */
    if (n != tree_height(job->tx_count + 1))
        return err_set(e, ERR_BAD_REQUEST, "job field \"merkle_branch\" has %u entries, not the "
                       "%zu of %llu transactions", n, tree_height(job->tx_count + 1),
                       (unsigned long long)job->tx_count + 1);
    for (uint32_t i = 0; i < n; i++)
        if (mp_get_bin_exact(&r, job->merkle_branch[i].b, 32) < 0)
            return err_set(e, ERR_BAD_REQUEST, "job field \"merkle_branch\": entry %u is not bin "
                           "of 32 bytes", i);
    job->branch_len = n;
    return 0;
}

void job_coinbase(tx_t *coinbase, tx_input_t *in, tx_output_t *out,
                  uint8_t script[TX_COINBASE_SCRIPT_MAX], uint8_t lock[SCRIPT_P2PKH_LOCK_LEN],
                  const job_t *job, const hash20_t *payout, const uint8_t *extranonce,
                  size_t extranonce_len)
{
    int len = tx_coinbase_script(script, job->height, extranonce, extranonce_len);
    assert(len > 0); /* the extranonce length is the caller's contract */
    script_p2pkh_lock(lock, payout);
    *in = (tx_input_t){.index = TX_COINBASE_INDEX, .script = script, .script_len = (size_t)len};
    *out = (tx_output_t){job->coinbase_value, lock, SCRIPT_P2PKH_LOCK_LEN};
    *coinbase = (tx_t){.version = TX_VERSION, .n_inputs = 1, .inputs = in, .n_outputs = 1,
                       .outputs = out};
}

int job_make_work(job_work_t *work, const job_t *job, const hash20_t *payout,
                  const uint8_t extranonce[JOB_EXTRANONCE_LEN])
{
    uint8_t script[TX_COINBASE_SCRIPT_MAX], lock[SCRIPT_P2PKH_LOCK_LEN];
    tx_input_t in;
    tx_output_t out;
    tx_t coinbase;
    memset(work, 0, sizeof *work);
    job_coinbase(&coinbase, &in, &out, script, lock, job, payout, extranonce, JOB_EXTRANONCE_LEN);
    if (tx_txid(&coinbase, &work->coinbase_txid) < 0)
        return -1;
    block_header_t h = {.version = BLOCK_VERSION, .previous_block_hash = job->previous_block_hash,
                        .timestamp = job->timestamp, .bits = job->bits, .nonce = 0};
    merkle_root_from_branch(&h.merkle_root, &work->coinbase_txid, job->merkle_branch,
                            job->branch_len);
    block_header_encode(work->header, &h);
    work->job_id = job->job_id;
    work->height = job->height;
    work->bits = job->bits;
    work->timestamp = job->timestamp;
    memcpy(work->extranonce, extranonce, JOB_EXTRANONCE_LEN);
    return 0;
}

void job_extranonce(uint8_t out[JOB_EXTRANONCE_LEN],
                    const uint8_t random[JOB_EXTRANONCE_RANDOM], uint32_t n)
{
    memcpy(out, random, JOB_EXTRANONCE_RANDOM);
    for (int i = 0; i < 4; i++)
        out[JOB_EXTRANONCE_RANDOM + i] = (uint8_t)(n >> (8 * i));
}
