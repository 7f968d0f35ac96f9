/* fuzz_tx: tx_decode on arbitrary bytes.
 *
 * Invariants (abort() when broken):
 *   - decode then encode is the identity (one canonical encoding, §3.1);
 *   - a failure is ERR_BAD_ENCODING or ERR_TOO_LARGE and leaves nothing to free;
 *   - txid = SHA256d(input bytes);
 *   - tx_check answers 0 or a known code;
 *   - the JSON form carries the exact transaction: jsonfmt_tx then
 *     jsonfmt_parse_tx re-encodes to the input. JSON cannot carry an amount
 *     over INT64_MAX (jansson integers are signed): jsonfmt_tx refuses such a
 *     transaction (NULL) rather than show it negative; nor a script over
 *     SCRIPT_MAX_SIZE (the ASM parser's bound): the parser must then reject
 *     the JSON, never turn it into another transaction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"
#include "jsonfmt.h"
#include "mp.h"
#include "script.h"
#include "tx.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static bool amounts_fit_json(const tx_t *tx)
{
    for (size_t i = 0; i < tx->n_outputs; i++)
        if (tx->outputs[i].amount > INT64_MAX)
            return false;
    return true;
}

static bool scripts_fit_asm(const tx_t *tx)
{
    for (size_t i = 0; i < tx->n_inputs; i++)
        if (tx->inputs[i].script_len > SCRIPT_MAX_SIZE)
            return false;
    for (size_t i = 0; i < tx->n_outputs; i++)
        if (tx->outputs[i].script_len > SCRIPT_MAX_SIZE)
            return false;
    return true;
}

static void check_reencode(const tx_t *tx, const uint8_t *data, size_t len)
{
    mp_buf_t b;
    mp_buf_init(&b, TX_MAX_SIZE);
    CHECK(tx_encode(tx, &b, false) == 0);
    CHECK(b.len == len && memcmp(b.data, data, len) == 0);
    mp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    tx_t tx;
    err_t e;
    int rc = tx_decode(&tx, data, len, &e);
    if (rc < 0) {
        CHECK(rc == -(int)e.code);
        CHECK(e.code == ERR_BAD_ENCODING || e.code == ERR_TOO_LARGE);
        CHECK(tx.mem == NULL && tx.n_inputs == 0 && tx.n_outputs == 0);
        return 0;
    }
    CHECK(rc == 0);

    check_reencode(&tx, data, len);

    hash32_t txid, direct, sighash;
    CHECK(tx_txid(&tx, &txid) == 0);
    hash_sha256d(&direct, data, len);
    CHECK(hash32_eq(&txid, &direct));
    CHECK(tx_sighash(&tx, &sighash) == 0);

    amount_t sum = 0;
    rc = tx_check(&tx, &sum, &e);
    CHECK(rc <= 0 && (rc == 0 || (rc == -(int)e.code && e.code < ERR_COUNT_)));
    if (rc == 0)
        CHECK(amount_valid(sum));
    if (tx_is_coinbase(&tx)) {
        uint64_t height;
        rc = tx_coinbase_height(&tx, &height, &e);
        CHECK(rc == 0 || rc == -(int)ERR_BAD_COINBASE);
    }

    json_t *j = jsonfmt_tx(&tx, &txid);
    CHECK((j != NULL) == amounts_fit_json(&tx));
    if (j) {
        tx_t back;
        rc = jsonfmt_parse_tx(&back, j, &e);
        if (scripts_fit_asm(&tx)) {
            CHECK(rc == 0);
            check_reencode(&back, data, len);
            tx_free(&back);
        } else {
            CHECK(rc < 0 && back.mem == NULL);
        }
        json_decref(j);
    }

    tx_free(&tx);
    CHECK(tx.mem == NULL);
    return 0;
}
