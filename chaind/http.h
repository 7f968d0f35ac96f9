/* http: chaind's HTTP/JSON API (DESIGN §4.3): the transport, on
 * libmicrohttpd. It matches routes, reads and bounds bodies, and sends the
 * answers that chaind/api.c's handlers give (JSON from chaind/views.c).
 *
 * A fixed pool of threads, each with its own poll() loop, serves every
 * connection; there is never a thread a connection.
 * Reads of the chain (blocks, coins, the transaction and address indexes) go
 * to store snapshots without the node's lock; everything else goes through
 * node.h, whose functions take the lock themselves.
 *
 * Routes and answers (JSON, except /metrics, /events and the explorer's
 * files; docs/openapi.json has every field):
 *   GET  /block?limit=N&from=H   main-chain blocks, newest first, from height H
 *                                (default and ceiling: the tip); N 1..1000,
 *                                default 100. The list also stops once the
 *                                blocks it holds pass 4 MiB of encoding (at
 *                                least one block is always given): page on
 *                                with from = the last height - 1.
 *   GET  /blocks?from=H&limit=N  {"blocks": summaries newest first ({"height",
 *                                "hash", "timestamp", "tx_count", "size",
 *                                "bits", "difficulty"}), "next": the from of
 *                                the next page, null past the genesis}; N
 *                                1..100, default 10
 *   GET  /block/<hash|height>    one block, plus "main_chain", "size" (bytes
 *                                of its encoding), "tx_count" and
 *                                "next_block_hash" (null at the tip or off
 *                                the main chain);
 *                                ?format=hex: {"hash", "height", "main_chain",
 *                                "hex": the block's canonical encoding} (what
 *                                an outside checker replays to recompute the
 *                                UTXO set); ?format=json is the default
 *   GET  /block/<id>/txs?offset=K&limit=N
 *                                the block's "header" and facts (as above)
 *                                with "offset" and "transactions" K..K+N-1
 *                                (N 1..100, default 25; K past the last: an
 *                                empty list), each a transaction as
 *                                /transactions/<txid> has it, without its
 *                                place: "size", "fee", "fee_rate",
 *                                "coinbase", each input's "spent_output"
 *                                {"address", "amount", "locking_script"}
 *                                (from the block's undo record; null for a
 *                                coinbase, and for every input, fee and
 *                                fee_rate of a block off the main chain),
 *                                each output's "address" and "spent_by"
 *                                {"transaction_hash", "input_index",
 *                                "in_mempool"} or null
 *   POST /block                  {"block": {"header": {...}, "transactions":
 *                                [...]}} (the header's fields may also sit in
 *                                the block object itself; "nonce" is 16 hex
 *                                digits or an integer; "hash", if given, must
 *                                match) or {"hex": "..."}
 *                                -> {"hash", "status": tip|side|orphan|known}
 *   POST /transactions           {"transaction": {...}} or {"hex": "..."}
 *                                -> {"transaction_hash"}; one already in the
 *                                mempool answers 200 with "known": true too.
 *                                A 200 goes out only once the transaction's
 *                                record is durable (docs/PROTOCOL.md,
 *                                "Durability of the mempool"): the connection
 *                                is suspended meanwhile, not a thread.
 *                                503 mempool_full "busy" when the mempool's
 *                                writes are behind
 *   GET  /transactions/<txid>    the tx (as in /block/<id>/txs) with
 *                                "in_mempool" always: false with
 *                                "block_hash", "height", "confirmations",
 *                                or true with "confirmations": 0
 *   GET  /utxo/<address>         {"user" (as given), "address" (Base58Check),
 *                                "total", "utxos": [{"transaction_hash",
 *                                "output_index", "amount", "height",
 *                                "coinbase", and "spent_in_mempool": true on
 *                                coins a mempool transaction spends}]}; at most
 *                                10 000 coins, then "truncated": true and
 *                                "total" sums the coins listed
 *   GET  /utxo-set               {"height", "tip", "count", "total" (units),
 *                                "digest": the UTXO set's SHA-256, 64 hex
 *                                digits (docs/PROTOCOL.md, "UTXO-set
 *                                digest")}, all of one snapshot; computed
 *                                once a tip (about 0.1 s a million coins),
 *                                then cached
 *   GET  /address/<address>/txs?cursor=C&limit=N
 *                                {"address", "transactions": [{"transaction_
 *                                hash", "height", "block_hash", "timestamp"
 *                                (null in the mempool), "received", "sent"}],
 *                                "next_cursor": opaque, null on the last
 *                                page}: mempool first (newest first), then
 *                                the main chain's from the tip down (the
 *                                store's address history); N 1..100,
 *                                default 25
 *   POST /new_node_advertisement {"hostname": "host:port"} -> {"hostname"}
 *   GET  /known_node_request     [{"hostname", ...}] from gossipd's reports
 *   GET  /status                 {"network", "height", "tip", "bits" (the
 *                                compact target as an integer), "difficulty"
 *                                (a float: the network's easiest target over
 *                                the tip's target, so 1.0 at the easiest),
 *                                "chainwork" (64 hex digits), "mempool_size",
 *                                "mempool_bytes", "peers", "hashrate",
 *                                "orphans", "version"}
 *   GET  /mempool                up to 1000 entries by fee rate, with
 *                                "unbroadcast": true on those submitted here
 *                                that no peer has asked for yet
 *   GET  /mempool/histogram      {"count", "bytes", "buckets": [{"fee_rate_min",
 *                                "fee_rate_max" (null for the last), "count",
 *                                "bytes"}]}, fixed edges 0, 10, 20, 50, 100,
 *                                200, 500, 1000 units a byte
 *   GET  /mempool/recent?limit=N {"transactions": the latest arrivals still
 *                                in the mempool, newest first, [{"transaction_
 *                                hash", "size", "fee", "fee_rate", "time"}]};
 *                                N 1..100, default 20
 *   GET  /search?q=TEXT          {"query", "kind": "block", "transaction",
 *                                "address" or null, "id": the block or
 *                                transaction hash or the address, "height":
 *                                a block's}: digits are a main-chain height,
 *                                64 hex digits a transaction (chain or
 *                                mempool) else any known block; nothing
 *                                found is 200 with kind null
 *   GET  /events                 text/event-stream: "block" {"hash",
 *                                "height"} and "tx" {"txid"} events as the
 *                                node publishes them, ": keep-alive" every
 *                                15 s; at most event_streams streams (503
 *                                unavailable past them), 64 KiB queued each
 *                                (a client that does not read loses its
 *                                stream); a waiting stream holds no thread
 *                                (MHD suspend/resume)
 *   GET  /metrics                Prometheus text format 0.0.4
 *   GET  /healthz                {"status": "ok"} while the process serves
 *   GET  /readyz                 {"status": "ready", "height"} when the store
 *                                answers a read, else 503 unavailable
 *   GET  /openapi.json           docs/openapi.json, as built in
 *   GET  /                       the block explorer's page (chaind/explorer/,
 *   GET  /index.html             built in: assets.h) and its files; all 404
 *   GET  /explorer/<file>        with no_explorer
 * Every answer carries a Content-Security-Policy that lets a page of this
 * origin run and load nothing but the explorer's own files, and
 * X-Content-Type-Options: nosniff. The API's answers are Cache-Control
 * no-store; the files no-cache with a strong ETag (their SHA-256), and an
 * If-None-Match naming it answers 304.
 * HEAD is answered wherever GET is. OPTIONS on a route answers 204 with
 * Allow (and the CORS preflight headers when cors_origin is set).
 *
 * Errors are {"error": code, "message": text} with the status of common/err.h;
 * unknown routes 404 not_found; a method a route lacks 405
 * method_not_allowed (with Allow); a POST body that is not application/json 415
 * not_json, that does not parse 400 bad_json, over max_body 413 too_large
 * (read and dropped first up to 16 MiB, so that the client can read it;
 * at once to an Expect: 100-continue); a URI over 8 KiB 414 too_large,
 * headers over 16 KiB 431 too_large (docs/PROTOCOL.md: what stays MHD's).
 * Slow clients are cut (httpguard.h: a 10 s deadline on the request head, a
 * minimum body rate), and one address holds max_per_ip connections at most.
 * A rejected request changes nothing. */
#ifndef CHAIND_HTTP_H
#define CHAIND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "node.h"

typedef struct http_server http_server_t;

typedef struct {
    const char *listen;       /* "1.2.3.4:8080", "[::1]:8080" or "localhost:8080" */
    const char *cors_origin;  /* NULL, or the value of Access-Control-Allow-Origin */
    unsigned threads;         /* thread pool size; 0: 4 (at most 64) */
    unsigned max_connections; /* 0: 1024 */
    unsigned max_per_ip;      /* connections from one address at once; 0: 64 */
    size_t max_body;          /* request body limit in bytes; 0: 2 MiB */
    const char *version;      /* shown by /status */
    bool no_explorer;         /* --explorer off: /, /index.html, /explorer/NAME answer 404 */
    unsigned event_streams;   /* GET /events streams at most; 0: SSE_DEFAULT_CLIENTS (64) */
} http_config_t;

/* Binds cfg->listen and starts serving node. The config's strings are copied.
 * ERR_INTERNAL with the reason when the address is malformed or cannot be
 * bound. */
int http_start(http_server_t **s, node_t *node, const http_config_t *cfg, err_t *e)
    __attribute__((warn_unused_result));
/* Stops serving (waiting for requests in progress) and frees; *s becomes
 * NULL. Safe on NULL. Call before node_close(). */
void http_stop(http_server_t **s);
/* Requests received so far (for /metrics). */
uint64_t http_requests_total(const http_server_t *s);
/* The port actually bound (useful when listen asked for port 0). */
uint16_t http_port(const http_server_t *s);

#endif
