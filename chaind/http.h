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
 * Routes and answers (JSON, except /metrics):
 *   GET  /block?limit=N&from=H   main-chain blocks, newest first, from height H
 *                                (default and ceiling: the tip); N 1..1000,
 *                                default 100. The list also stops once the
 *                                blocks it holds pass 4 MiB of encoding (at
 *                                least one block is always given): page on
 *                                with from = the last height - 1.
 *   GET  /block/<hash|height>    one block, plus "main_chain": bool;
 *                                ?format=hex: {"hash", "height", "main_chain",
 *                                "hex": the block's canonical encoding} (what
 *                                an outside checker replays to recompute the
 *                                UTXO set); ?format=json is the default
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
 *   GET  /transactions/<txid>    the tx with "block_hash", "height",
 *                                "confirmations", or with "in_mempool": true
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
 *   GET  /metrics                Prometheus text format 0.0.4
 *   GET  /healthz                {"status": "ok"} while the process serves
 *   GET  /readyz                 {"status": "ready", "height"} when the store
 *                                answers a read, else 503 unavailable
 * HEAD is answered wherever GET is. OPTIONS on a route answers 204 with
 * Allow (and the CORS preflight headers when cors_origin is set).
 *
 * Errors are {"error": code, "message": text} with the status of common/err.h;
 * unknown routes 404 not_found; a method a route lacks 405
 * method_not_allowed (with Allow); a POST body that is not application/json 415
 * not_json, that does not parse 400 bad_json, over max_body 413 too_large.
 * A rejected request changes nothing. */
#ifndef CHAIND_HTTP_H
#define CHAIND_HTTP_H

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
    size_t max_body;          /* request body limit in bytes; 0: 2 MiB */
    const char *version;      /* shown by /status */
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
