#include "views.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "jsonfmt.h"
#include "mp.h"
#include "pow.h"
#include "proto.h"
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

json_t *views_block(const block_t *b, uint64_t height, bool main_chain)
{
    return with(jsonfmt_block(b, (int64_t)jint(height)), "main_chain", json_boolean(main_chain));
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

json_t *views_chain_tx(const tx_t *tx, const hash32_t *txid, const store_tx_loc_t *loc,
                       uint64_t tip_height)
{
    uint64_t confirmations = tip_height >= loc->height ? tip_height - loc->height + 1 : 0;
    json_t *j = jsonfmt_tx(tx, txid);
    j = with(j, "block_hash", views_hash(&loc->block));
    j = with(j, "height", json_integer(jint(loc->height)));
    return with(j, "confirmations", json_integer(jint(confirmations)));
}

json_t *views_mempool_tx(const tx_t *tx, const hash32_t *txid)
{
    json_t *j = with(jsonfmt_tx(tx, txid), "in_mempool", json_true());
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
        if (json_array_append_new(list, o) < 0 || !o) {
            json_decref(list);
            list = NULL;
        }
    }
    return list;
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
    j = with(j, "peers", json_integer(jint(s->peers)));
    j = with(j, "hashrate", json_integer(jint(s->hashrate)));
    j = with(j, "orphans", json_integer(jint(s->orphans)));
    return with(j, "version", json_string(version));
}
