/* client: minerd's side of chaind's sockets (DESIGN §1, §2, §4.4) and the
 * loop that drives the worker pool.
 *
 *   events  SUB on the `job` topic: every job chaind publishes. A gap in the
 *           event seq (missed events, or a restarted chaind counting from 0)
 *           makes it ask get_job.
 *   rpc     DEALER: get_job at start, on every (re)connection, on a seq gap,
 *           after each submission, once a minute, and again when a request
 *           goes unanswered for CLIENT_TIMEOUT_MS; submit_work for each found
 *           block; hashrate every CLIENT_REPORT_MS.
 *
 * ZeroMQ reconnects by itself, so a chaind restart needs nothing but asking
 * for a job again: a socket monitor reports connections (a handshake that
 * succeeded) and losses, and, rate-limited, a key chaind refused. On tcp://
 * both sockets are CURVE clients with the miner key (DESIGN §1). While
 * chaind is gone, or while the job has no transactions and empty blocks are
 * not wanted, the pool idles, and the log says why. */
#ifndef MINERD_CLIENT_H
#define MINERD_CLIENT_H

#include <signal.h>
#include <stdbool.h>

#include "err.h"
#include "hash.h"
#include "params.h"
#include "rpckey.h"
#include "worker.h"

#define CLIENT_TIMEOUT_MS 5000   /* a request unanswered this long is sent again */
#define CLIENT_REPORT_MS 10000   /* hashrate reports to chaind */
#define CLIENT_LOG_MS 60000      /* the status line in the log, and a get_job */

typedef struct {
    const chain_params_t *params;
    const char *rpc_endpoint;    /* tcp:// or ipc:// */
    const char *events_endpoint;
    hash20_t payout;
    bool empty_blocks;           /* mine jobs without transactions too */
    const char *worker;          /* the name in hashrate reports, at most 64 bytes */
    const rpckey_client_t *key;  /* the CURVE key for tcp:// endpoints; NULL: none */
    const char *key_path;        /* where it was read, for the log */
} client_config_t;

typedef struct client client_t;

/* Connects both sockets (they reconnect by themselves) and draws the 8
 * random extranonce bytes of this process. The pool stays the caller's.
 * ERR_INTERNAL with the reason when ZeroMQ or the random source fails. */
int client_new(client_t **c, const client_config_t *cfg, worker_pool_t *pool, err_t *e)
    __attribute__((warn_unused_result));
/* Closes the sockets; *c becomes NULL. The pool is left as it is. */
void client_destroy(client_t **c);

/* Serves events, replies and found blocks until *stop is set; tick (may be
 * NULL) runs on every wake-up, at least every 100 ms (the watchdog). */
void client_run(client_t *c, volatile sig_atomic_t *stop, void (*tick)(void *ctx), void *ctx);

#endif
