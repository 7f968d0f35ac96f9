/* fuzz_block: block_decode on arbitrary bytes.
 *
 * Invariants (abort() when broken):
 *   - decode then encode is the identity (one canonical encoding, §3.1);
 *   - a failure is ERR_BAD_ENCODING or ERR_TOO_LARGE and leaves nothing to free;
 *   - txids[i] = tx_txid(txs[i]);
 *   - block_check with the regtest params answers 0 or a known code, and
 *     the JSON form of the block can be built unless an amount is over
 *     INT64_MAX (refused, never shown negative);
 *   - that JSON parses back (jsonfmt_parse_block, POST /block's parser) to
 *     the very bytes, unless the timestamp is past INT64_MAX (JSON integers
 *     are signed: it shows negative, and the parser refuses it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "err.h"
#include "jsonfmt.h"
#include "mp.h"
#include "params.h"
#include "tx.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static const chain_params_t *regtest;
    if (!regtest)
        regtest = params_by_name("regtest");
    CHECK(regtest != NULL);

    block_t b;
    err_t e;
    int rc = block_decode(&b, data, len, &e);
    if (rc < 0) {
        CHECK(rc == -(int)e.code);
        CHECK(e.code == ERR_BAD_ENCODING || e.code == ERR_TOO_LARGE);
        CHECK(b.txs == NULL && b.txids == NULL && b.n_txs == 0);
        return 0;
    }
    CHECK(rc == 0 && b.owned);

    mp_buf_t out;
    mp_buf_init(&out, BLOCK_MAX_SIZE);
    CHECK(block_encode(&b, &out) == 0);
    CHECK(out.len == len && memcmp(out.data, data, len) == 0);
    mp_buf_free(&out);

    for (size_t i = 0; i < b.n_txs; i++) {
        hash32_t txid;
        CHECK(tx_txid(&b.txs[i], &txid) == 0);
        CHECK(hash32_eq(&txid, &b.txids[i]));
    }

    rc = block_check(&b, regtest, &e);
    CHECK(rc <= 0 && (rc == 0 || (rc == -(int)e.code && e.code < ERR_COUNT_)));
    if (rc == 0) {
        /* what passed the context-free rules has a coinbase first and meets its bits */
        CHECK(b.n_txs >= 1 && tx_is_coinbase(&b.txs[0]));
        hash32_t hash;
        block_header_hash(&hash, &b.header);
        CHECK(block_hash_meets(&hash, b.header.bits));
    }

    /* JSON shows every block but one with an amount over INT64_MAX (never
     * valid), which it refuses rather than show negative */
    bool fits = true;
    for (size_t i = 0; i < b.n_txs; i++)
        for (size_t k = 0; k < b.txs[i].n_outputs; k++)
            fits &= b.txs[i].outputs[k].amount <= INT64_MAX;
    json_t *j = jsonfmt_block(&b, 0);
    CHECK((j != NULL) == fits);
    if (j) {
        mp_buf_t back;
        rc = jsonfmt_parse_block(&back, j, &e);
        CHECK(rc == 0 || b.header.timestamp > INT64_MAX);
        CHECK(rc < 0 || (back.len == len && memcmp(back.data, data, len) == 0));
        mp_buf_free(&back);
    }
    json_decref(j);

    block_free(&b);
    CHECK(b.txs == NULL && b.n_txs == 0);
    return 0;
}
