#include "tx.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

static const uint8_t zero32[32];

typedef struct {
    size_t n_inputs, n_outputs, script_bytes;
} tx_shape_t;

/* One parser serves both passes: with tx NULL it only checks the encoding and
 * measures it; with tx set it fills the storage sized from that measure. */
static int parse(mp_reader_t *r, tx_t *tx, tx_shape_t *shape)
{
    uint32_t n, n_in, n_out;
    uint64_t version;
    uint8_t *scripts = tx ? (uint8_t *)(tx->outputs + shape->n_outputs) : NULL;
    if (mp_get_array(r, &n) < 0 || n != 3 || mp_get_uint(r, &version) < 0 ||
        version > UINT32_MAX || mp_get_array(r, &n_in) < 0)
        return -1;
    shape->n_inputs = n_in;
    shape->script_bytes = 0;
    for (uint32_t i = 0; i < n_in; i++) {
        tx_input_t in;
        uint64_t index;
        const uint8_t *s;
        if (mp_get_array(r, &n) < 0 || n != 3 || mp_get_bin_exact(r, in.prev_txid.b, 32) < 0 ||
            mp_get_uint(r, &index) < 0 || index > UINT32_MAX ||
            mp_get_bin(r, &s, &in.script_len) < 0)
            return -1;
        in.index = (uint32_t)index;
        shape->script_bytes += in.script_len;
        if (tx) {
            memcpy(scripts, s, in.script_len);
            in.script = scripts;
            scripts += in.script_len;
            tx->inputs[i] = in;
        }
    }
    if (mp_get_array(r, &n_out) < 0)
        return -1;
    shape->n_outputs = n_out;
    for (uint32_t i = 0; i < n_out; i++) {
        tx_output_t out;
        const uint8_t *s;
        if (mp_get_array(r, &n) < 0 || n != 2 || mp_get_uint(r, &out.amount) < 0 ||
            mp_get_bin(r, &s, &out.script_len) < 0)
            return -1;
        shape->script_bytes += out.script_len;
        if (tx) {
            memcpy(scripts, s, out.script_len);
            out.script = scripts;
            scripts += out.script_len;
            tx->outputs[i] = out;
        }
    }
    if (tx)
        tx->version = (uint32_t)version;
    return 0;
}

int tx_read(tx_t *tx, mp_reader_t *r, err_t *e)
{
    size_t start = r->pos;
    tx_shape_t shape;
    memset(tx, 0, sizeof *tx);
    if (parse(r, NULL, &shape) < 0) {
        size_t at = r->pos;
        r->pos = start;
        return err_set(e, ERR_BAD_ENCODING, "not a canonical transaction encoding (near byte %zu)",
                       at);
    }
    if (r->pos - start > TX_MAX_SIZE) {
        r->pos = start;
        return err_set(e, ERR_TOO_LARGE, "transaction over %d bytes", TX_MAX_SIZE);
    }
    /* the measured counts are bounded by the bytes just read */
    size_t size = shape.n_inputs * sizeof(tx_input_t) + shape.n_outputs * sizeof(tx_output_t) +
                  shape.script_bytes;
    uint8_t *mem = malloc(size ? size : 1);
    if (!mem) {
        r->pos = start;
        return err_set(e, ERR_INTERNAL, "out of memory decoding a transaction");
    }
    tx->mem = mem;
    tx->inputs = (tx_input_t *)mem;
    tx->n_inputs = shape.n_inputs;
    tx->outputs = (tx_output_t *)(mem + shape.n_inputs * sizeof(tx_input_t));
    tx->n_outputs = shape.n_outputs;
    size_t end = r->pos;
    r->pos = start;
    /* the same bytes passed the first parse: the second cannot fail */
    int rc = parse(r, tx, &shape);
    assert(rc == 0 && r->pos == end);
    (void)rc;
    (void)end;
    return 0;
}

int tx_decode(tx_t *tx, const uint8_t *data, size_t len, err_t *e)
{
    memset(tx, 0, sizeof *tx);
    if (len > TX_MAX_SIZE)
        return err_set(e, ERR_TOO_LARGE, "transaction over %d bytes", TX_MAX_SIZE);
    mp_reader_t r;
    mp_reader_init(&r, data, len, true);
    int rc = tx_read(tx, &r, e);
    if (rc < 0)
        return rc;
    if (mp_left(&r) != 0) {
        tx_free(tx);
        return err_set(e, ERR_BAD_ENCODING, "%zu trailing bytes after the transaction",
                       mp_left(&r));
    }
    return 0;
}

void tx_free(tx_t *tx)
{
    free(tx->mem);
    memset(tx, 0, sizeof *tx);
}

int tx_encode(const tx_t *tx, mp_buf_t *out, bool blank_unlocking)
{
    if (tx->n_inputs > UINT32_MAX || tx->n_outputs > UINT32_MAX)
        return -1;
    mp_put_array(out, 3);
    mp_put_uint(out, tx->version);
    mp_put_array(out, (uint32_t)tx->n_inputs);
    for (size_t i = 0; i < tx->n_inputs; i++) {
        const tx_input_t *in = &tx->inputs[i];
        mp_put_array(out, 3);
        mp_put_bin(out, in->prev_txid.b, 32);
        mp_put_uint(out, in->index);
        mp_put_bin(out, in->script, blank_unlocking ? 0 : in->script_len);
    }
    mp_put_array(out, (uint32_t)tx->n_outputs);
    for (size_t i = 0; i < tx->n_outputs; i++) {
        mp_put_array(out, 2);
        mp_put_uint(out, tx->outputs[i].amount);
        mp_put_bin(out, tx->outputs[i].script, tx->outputs[i].script_len);
    }
    return mp_buf_ok(out) ? 0 : -1;
}

static int hash_encoding(const tx_t *tx, hash32_t *h, bool blank)
{
    mp_buf_t b;
    mp_buf_init(&b, (size_t)64 << 20);
    int rc = tx_encode(tx, &b, blank);
    if (rc == 0)
        hash_sha256d(h, b.data, b.len);
    mp_buf_free(&b);
    return rc;
}

int tx_txid(const tx_t *tx, hash32_t *txid) { return hash_encoding(tx, txid, false); }
int tx_sighash(const tx_t *tx, hash32_t *sighash) { return hash_encoding(tx, sighash, true); }

static bool is_coinbase_input(const tx_input_t *in)
{
    return in->index == TX_COINBASE_INDEX && memcmp(in->prev_txid.b, zero32, 32) == 0;
}

bool tx_is_coinbase(const tx_t *tx)
{
    return tx->n_inputs == 1 && is_coinbase_input(&tx->inputs[0]);
}

static int cmp_outpoint(const void *a, const void *b)
{
    const tx_input_t *x = *(const tx_input_t *const *)a, *y = *(const tx_input_t *const *)b;
    int c = memcmp(x->prev_txid.b, y->prev_txid.b, 32);
    if (c)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

static int check_no_duplicate_inputs(const tx_t *tx, err_t *e)
{
    if (tx->n_inputs < 2)
        return 0;
    const tx_input_t **sorted = malloc(tx->n_inputs * sizeof *sorted);
    if (!sorted)
        return err_set(e, ERR_INTERNAL, "out of memory checking inputs");
    for (size_t i = 0; i < tx->n_inputs; i++)
        sorted[i] = &tx->inputs[i];
    qsort(sorted, tx->n_inputs, sizeof *sorted, cmp_outpoint);
    int rc = 0;
    for (size_t i = 1; i < tx->n_inputs && rc == 0; i++)
        if (cmp_outpoint(&sorted[i - 1], &sorted[i]) == 0)
            rc = err_set(e, ERR_DUPLICATE_INPUT, "output %u of a transaction is spent twice",
                         sorted[i]->index);
    free(sorted);
    return rc;
}

int tx_check(const tx_t *tx, amount_t *out_sum, err_t *e)
{
    if (tx->version != TX_VERSION)
        return err_set(e, ERR_BAD_VERSION, "transaction version %u, only 1 is valid", tx->version);
    if (tx->n_inputs == 0)
        return err_set(e, ERR_NO_INPUTS, "a transaction needs at least one input");
    if (tx->n_outputs == 0)
        return err_set(e, ERR_NO_OUTPUTS, "a transaction needs at least one output");
    amount_t sum = 0;
    for (size_t i = 0; i < tx->n_outputs; i++) {
        if (!amount_add(&sum, tx->outputs[i].amount))
            return err_set(e, ERR_BAD_AMOUNT, "output %zu takes the total over max money", i);
        if (tx->outputs[i].script_len > SCRIPT_MAX_SIZE)
            return err_set(e, ERR_BAD_SCRIPT, "locking script %zu over %d bytes", i,
                           SCRIPT_MAX_SIZE);
    }
    for (size_t i = 0; i < tx->n_inputs; i++) {
        if (tx->inputs[i].script_len > SCRIPT_MAX_SIZE)
            return err_set(e, ERR_BAD_SCRIPT, "unlocking script %zu over %d bytes", i,
                           SCRIPT_MAX_SIZE);
        if (is_coinbase_input(&tx->inputs[i]) && tx->n_inputs != 1)
            return err_set(e, ERR_COINBASE_TX, "a coinbase input among other inputs");
    }
    if (tx_is_coinbase(tx)) {
        uint64_t height;
        int rc = tx_coinbase_height(tx, &height, e);
        if (rc < 0)
            return rc;
    }
    int rc = check_no_duplicate_inputs(tx, e);
    if (rc < 0)
        return rc;
    if (out_sum)
        *out_sum = sum;
    return 0;
}

int tx_coinbase_script(uint8_t *out, uint64_t height, const uint8_t *extranonce,
                       size_t extranonce_len)
{
    if (extranonce_len > TX_EXTRANONCE_MAX)
        return -1;
    size_t n = 0;
    out[n++] = 8;
    for (int i = 0; i < 8; i++)
        out[n++] = (uint8_t)(height >> (8 * i));
    if (extranonce_len > 0) {
        /* 0x01-0x4b push directly; longer needs OP_PUSHDATA1 (DESIGN §3.3) */
        if (extranonce_len > 0x4b)
            out[n++] = OP_PUSHDATA1;
        out[n++] = (uint8_t)extranonce_len;
        memcpy(out + n, extranonce, extranonce_len);
        n += extranonce_len;
    }
    return (int)n;
}

int tx_coinbase_height(const tx_t *coinbase, uint64_t *height, err_t *e)
{
    if (!tx_is_coinbase(coinbase))
        return err_set(e, ERR_BAD_COINBASE, "not a coinbase");
    const tx_input_t *in = &coinbase->inputs[0];
    if (in->script_len > TX_COINBASE_SCRIPT_MAX)
        return err_set(e, ERR_BAD_COINBASE, "coinbase script over %d bytes",
                       TX_COINBASE_SCRIPT_MAX);
    if (in->script_len < 9 || in->script[0] != 8)
        return err_set(e, ERR_BAD_COINBASE, "coinbase script must start with the 8-byte height");
    if (!script_is_push_only(in->script, in->script_len))
        return err_set(e, ERR_BAD_COINBASE, "coinbase script must be pushes only");
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)in->script[1 + i] << (8 * i);
    *height = h;
    return 0;
}

int tx_coinbase_build(tx_coinbase_t *cb, uint64_t height, const uint8_t *extranonce,
                      size_t extranonce_len, const hash20_t *payout, amount_t value)
{
    int len = tx_coinbase_script(cb->script, height, extranonce, extranonce_len);
    if (len < 0)
        return -1;
    script_p2pkh_lock(cb->lock, payout);
    cb->input = (tx_input_t){.index = TX_COINBASE_INDEX, .script = cb->script,
                             .script_len = (size_t)len};
    cb->output = (tx_output_t){value, cb->lock, sizeof cb->lock};
    cb->tx = (tx_t){.version = TX_VERSION, .n_inputs = 1, .inputs = &cb->input, .n_outputs = 1,
                    .outputs = &cb->output};
    return 0;
}

int tx_sign_p2pkh(tx_t *tx, const key_pair_t *key, uint8_t (*unlock)[SCRIPT_P2PKH_UNLOCK_LEN],
                  err_t *e)
{
    /* the sighash blanks every unlocking script, so one serves all inputs */
    hash32_t sighash;
    uint8_t sig[KEY_SIG_LEN];
    if (tx_sighash(tx, &sighash) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory hashing the transaction");
    int rc = key_sign(key, sig, sighash.b, sizeof sighash.b, e);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < tx->n_inputs; i++) {
        script_p2pkh_unlock(unlock[i], sig, key->pubkey);
        tx->inputs[i].script = unlock[i];
        tx->inputs[i].script_len = SCRIPT_P2PKH_UNLOCK_LEN;
    }
    return 0;
}
