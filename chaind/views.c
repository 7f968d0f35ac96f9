#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "hex.h"
#include "jsonfmt.h"
#include "mp.h"
#include "pow.h"
#include "proto.h"
#include "script.h"
#include "u256.h"

static json_int_t jint(uint64_t v) { return jsonfmt_count(v); }

json_t *views_hash(const hash32_t *h)
{
    char hex[65];
    jsonfmt_hash_hex(hex, h);
    return json_string(hex);
}

/* Adds key = value (taken) to j, which is given up (NULL) on failure: a
 * builder checks once at the end. */
static json_t *with(json_t *j, const char *key, json_t *value)
{
    if (j && json_object_set_new(j, key, value) == 0)
        return j;
    if (!j)
        json_decref(value);
    json_decref(j);
    return NULL;
}

/* The fields /block/<id> and /block/<id>/txs share, into j. */
static json_t *with_meta(json_t *j, size_t tx_count, const views_block_meta_t *m)
{
    j = with(j, "main_chain", json_boolean(m->main_chain));
    j = with(j, "size", json_integer(jint(m->size)));
    j = with(j, "tx_count", json_integer(jint(tx_count)));
    return with(j, "next_block_hash", m->has_next ? views_hash(&m->next) : json_null());
}

json_t *views_block(const block_t *b, const views_block_meta_t *m)
{
    return with_meta(jsonfmt_block(b, (int64_t)jint(m->height)), b->n_txs, m);
}

json_t *views_block_txs(const block_header_t *h, const hash32_t *hash, size_t tx_count,
                        const views_block_meta_t *m, size_t offset, json_t *txs)
{
    json_t *j = json_object();
    j = with(j, "header", jsonfmt_header(h, (int64_t)jint(m->height)));
    j = with(j, "hash", views_hash(hash));
    j = with(j, "height", json_integer(jint(m->height)));
    j = with_meta(j, tx_count, m);
    j = with(j, "offset", json_integer(jint(offset)));
    return with(j, "transactions", txs);
}

json_t *views_block_summary(const block_header_t *h, const hash32_t *hash, uint64_t height,
                            const store_block_info_t *info, const chain_params_t *p)
{
    json_t *j = json_object();
    j = with(j, "height", json_integer(jint(height)));
    j = with(j, "hash", views_hash(hash));
    j = with(j, "timestamp", json_integer(jint(h->timestamp)));
    j = with(j, "tx_count", json_integer(jint(info->tx_count)));
    j = with(j, "size", json_integer(jint(info->size)));
    j = with(j, "bits", json_integer(h->bits));
    return with(j, "difficulty", json_real(pow_difficulty(p, h->bits)));
}

json_t *views_blocks_page(json_t *blocks, bool has_next, uint64_t next)
{
    json_t *j = with(json_object(), "blocks", blocks);
    return with(j, "next", has_next ? json_integer(jint(next)) : json_null());
}

json_t *views_block_hex(const hash32_t *hash, uint64_t height, bool main_chain,
                        const uint8_t *raw, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (!hex)
        return NULL;
    hex_encode(hex, raw, len);
    json_t *j = json_object();
    j = with(j, "hash", views_hash(hash));
    j = with(j, "height", json_integer(jint(height)));
    j = with(j, "main_chain", json_boolean(main_chain));
    j = with(j, "hex", json_stringn(hex, 2 * len));
    free(hex);
    return j;
}

/* An address, or null for a script that is not P2PKH. */
static json_t *address_of(const uint8_t *script, size_t len, uint8_t version)
{
    hash20_t pkh;
    char text[ADDRESS_MAX];
    if (!script_p2pkh_hash(script, len, &pkh))
        return json_null();
    address_encode(text, version, &pkh);
    return json_string(text);
}

static json_t *spent_output(const store_coin_t *c, uint8_t version)
{
    json_t *j = json_object();
    j = with(j, "address", address_of(c->script, c->script_len, version));
    j = with(j, "amount", json_integer(jint(c->amount)));
    return with(j, "locking_script", jsonfmt_script(c->script, c->script_len));
}

static json_t *spent_by(const views_spender_t *s)
{
    if (!s->spent)
        return json_null();
    json_t *j = json_object();
    j = with(j, "transaction_hash", views_hash(&s->txid));
    j = with(j, "input_index", json_integer(s->input));
    return with(j, "in_mempool", json_boolean(s->in_mempool));
}

/* Sets key = value (taken) in o, an object another one owns. */
static bool set(json_t *o, const char *key, json_t *value)
{
    return o && value && json_object_set_new(o, key, value) == 0;
}

/* Adds what views_tx adds to each input and output of j (jsonfmt_tx's);
 * *in_sum gets the spent coins' total. false when memory ran out. */
static bool with_coins(json_t *j, const tx_t *tx, const store_coin_t *coins,
                       const views_spender_t *spenders, uint8_t version, amount_t *in_sum)
{
    json_t *ins = json_object_get(j, "inputs"), *outs = json_object_get(j, "outputs");
    bool ok = ins && outs, known = coins && !tx_is_coinbase(tx);
    *in_sum = 0;
    for (size_t i = 0; ok && i < tx->n_inputs; i++)
        ok = set(json_array_get(ins, i), "spent_output",
                 known ? spent_output(&coins[i], version) : json_null()) &&
             (!known || amount_add(in_sum, coins[i].amount));
    for (size_t i = 0; ok && i < tx->n_outputs; i++) {
        json_t *o = json_array_get(outs, i);
        ok = set(o, "address",
                 address_of(tx->outputs[i].script, tx->outputs[i].script_len, version)) &&
             set(o, "spent_by", spent_by(&spenders[i]));
    }
    return ok;
}

json_t *views_tx(const tx_t *tx, const hash32_t *txid, size_t size, const store_coin_t *coins,
                 const views_spender_t *spenders, uint8_t address_version)
{
    json_t *j = jsonfmt_tx(tx, txid);
    amount_t in_sum = 0, out_sum = 0;
    if (j && !with_coins(j, tx, coins, spenders, address_version, &in_sum)) {
        json_decref(j);
        return NULL;
    }
    for (size_t i = 0; i < tx->n_outputs; i++)
        (void)amount_add(&out_sum, tx->outputs[i].amount); /* checked when it was admitted */
    bool fee_known = coins && !tx_is_coinbase(tx) && in_sum >= out_sum;
    j = with(j, "size", json_integer(jint(size)));
    j = with(j, "coinbase", json_boolean(tx_is_coinbase(tx)));
    j = with(j, "fee", fee_known ? json_integer(jint(in_sum - out_sum)) : json_null());
    return with(j, "fee_rate", fee_known && size ? json_real((double)(in_sum - out_sum) /
                                                             (double)size)
                                                 : json_null());
}

json_t *views_chain_tx(json_t *tx, const store_tx_loc_t *loc, uint64_t tip_height)
{
    uint64_t confirmations = tip_height >= loc->height ? tip_height - loc->height + 1 : 0;
    json_t *j = with(tx, "in_mempool", json_false());
    j = with(j, "block_hash", views_hash(&loc->block));
    j = with(j, "height", json_integer(jint(loc->height)));
    return with(j, "confirmations", json_integer(jint(confirmations)));
}

json_t *views_mempool_tx(json_t *tx, bool parked)
{
    json_t *j = with(tx, "in_mempool", json_true());
    if (parked) /* pending, out of the pool proper until its parent confirms */
        j = with(j, "parked", json_true());
    return with(j, "confirmations", json_integer(0));
}

json_t *views_coin(const store_outpoint_t *op, const store_coin_t *c, bool spent_in_mempool)
{
    json_t *j = json_object();
    j = with(j, "transaction_hash", views_hash(&op->txid));
    j = with(j, "output_index", json_integer(op->index));
    j = with(j, "amount", json_integer(jint(c->amount)));
    j = with(j, "height", json_integer(jint(c->height)));
    j = with(j, "coinbase", json_boolean(c->coinbase));
    /* a wallet that skips these avoids a double spend */
    return spent_in_mempool ? with(j, "spent_in_mempool", json_true()) : j;
}

json_t *views_utxo(const char *user, const char *address, amount_t total, json_t *coins,
                   bool truncated)
{
    json_t *j = json_object();
    j = with(j, "user", json_string(user));
    j = with(j, "address", json_string(address));
    j = with(j, "total", json_integer(jint(total)));
    j = with(j, "utxos", coins);
    return truncated ? with(j, "truncated", json_true()) : j;
}

json_t *views_utxo_set(uint64_t height, const hash32_t *tip, const store_utxo_stats_t *st)
{
    json_t *j = json_object();
    j = with(j, "height", json_integer(jint(height)));
    j = with(j, "tip", views_hash(tip));
    j = with(j, "count", json_integer(jint(st->count)));
    j = with(j, "total", json_integer(jint(st->total)));
    return with(j, "digest", views_hash(&st->digest));
}

json_t *views_mempool(const node_mempool_item_t *items, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *o = json_object();
        o = with(o, "transaction_hash", views_hash(&items[i].txid));
        o = with(o, "size", json_integer(jint(items[i].size)));
        o = with(o, "fee", json_integer(jint(items[i].fee)));
        o = with(o, "fee_rate", json_real((double)items[i].fee / (double)items[i].size));
        if (items[i].unbroadcast) /* submitted here, no peer has asked for it yet */
            o = with(o, "unbroadcast", json_true());
        if (json_array_append_new(list, o) < 0 || !o) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

json_t *views_histogram(const uint64_t *edges, size_t n, const uint64_t *count,
                        const uint64_t *bytes)
{
    json_t *buckets = json_array();
    uint64_t all = 0, all_bytes = 0;
    for (size_t i = 0; buckets && i < n; i++) {
        json_t *o = json_object();
        o = with(o, "fee_rate_min", json_integer(jint(edges[i])));
        o = with(o, "fee_rate_max", i + 1 < n ? json_integer(jint(edges[i + 1])) : json_null());
        o = with(o, "count", json_integer(jint(count[i])));
        o = with(o, "bytes", json_integer(jint(bytes[i])));
        if (json_array_append_new(buckets, o) < 0 || !o) {
            json_decref(buckets);
            buckets = NULL;
        }
        all += count[i];
        all_bytes += bytes[i];
    }
    json_t *j = json_object();
    j = with(j, "count", json_integer(jint(all)));
    j = with(j, "bytes", json_integer(jint(all_bytes)));
    return with(j, "buckets", buckets);
}

json_t *views_recent(const node_mempool_item_t *items, size_t n)
{
    json_t *list = views_mempool(items, n);
    for (size_t i = 0; list && i < n; i++)
        if (!set(json_array_get(list, i), "time", json_integer(jint(items[i].time)))) {
            json_decref(list);
            list = NULL;
        }
    return with(json_object(), "transactions", list);
}

json_t *views_address_tx(const hash32_t *txid, amount_t received, amount_t sent,
                         const hash32_t *block, uint64_t height, uint64_t timestamp)
{
    json_t *j = json_object();
    j = with(j, "transaction_hash", views_hash(txid));
    j = with(j, "height", block ? json_integer(jint(height)) : json_null());
    j = with(j, "block_hash", block ? views_hash(block) : json_null());
    j = with(j, "timestamp", block ? json_integer(jint(timestamp)) : json_null());
    j = with(j, "received", json_integer(jint(received)));
    return with(j, "sent", json_integer(jint(sent)));
}

json_t *views_address_page(const char *address, json_t *txs, const char *cursor)
{
    json_t *j = with(json_object(), "address", json_string(address));
    j = with(j, "transactions", txs);
    return with(j, "next_cursor", cursor ? json_string(cursor) : json_null());
}

json_t *views_search(const char *query, const char *kind, const char *id,
                     const uint64_t *height)
{
    json_t *j = with(json_object(), "query", json_string(query));
    j = with(j, "kind", kind ? json_string(kind) : json_null());
    j = with(j, "id", id ? json_string(id) : json_null());
    return with(j, "height", height ? json_integer(jint(*height)) : json_null());
}

json_t *views_peers(const uint8_t *raw, size_t len)
{
    json_t *list = json_array();
    mp_reader_t r;
    uint32_t count;
    mp_reader_init(&r, raw, len, false);
    if (!list || len == 0 || mp_get_array(&r, &count) < 0)
        return list;
    for (uint32_t i = 0; i < count; i++) {
        size_t start = r.pos;
        if (mp_skip(&r) < 0)
            break;
        proto_body_t peer = {r.p + start, r.pos - start};
        char addr[256];
        uint64_t height = 0;
        bool inbound = false;
        if (proto_get_str(&peer, "addr", addr, sizeof addr) < 0)
            continue; /* gossipd's schema makes every field but addr optional */
        (void)proto_get_uint(&peer, "height", &height);
        (void)proto_get_bool(&peer, "inbound", &inbound);
        json_t *o = json_pack("{s:s, s:I, s:b}", "hostname", addr, "height", jint(height),
                              "inbound", inbound);
        if (json_array_append_new(list, o) < 0 || !o) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

json_t *views_status(const node_status_t *s, const chain_params_t *p, const char *version)
{
    char work[65];
    u256_to_hex(work, &s->chainwork);
    json_t *j = json_object();
    j = with(j, "network", json_string(p->name));
    j = with(j, "height", json_integer(jint(s->height)));
    j = with(j, "tip", views_hash(&s->hash));
    j = with(j, "tip_timestamp", json_integer(jint(s->timestamp)));
    j = with(j, "bits", json_integer(s->bits));
    j = with(j, "difficulty", json_real(pow_difficulty(p, s->bits)));
    j = with(j, "chainwork", json_string(work));
    j = with(j, "mempool_size", json_integer(jint(s->mempool_count)));
    j = with(j, "mempool_bytes", json_integer(jint(s->mempool_bytes)));
    j = with(j, "mempool_parked", json_integer(jint(s->mempool_parked)));
    j = with(j, "peers", json_integer(jint(s->peers)));
    j = with(j, "hashrate", json_integer(jint(s->hashrate)));
    j = with(j, "orphans", json_integer(jint(s->orphans)));
    return with(j, "version", json_string(version));
}
