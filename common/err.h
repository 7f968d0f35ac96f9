/* err: the one table of reject codes.
 *
 * Every rejection of hostile or broken input (a peer message, an HTTP body, a
 * block) carries one of these codes. The code's string is stable: peers, HTTP
 * clients and logs see it. The table also says, in one place, which HTTP status
 * a code maps to and how much it adds to a peer's misbehaviour score. */
#ifndef CHAIN_ERR_H
#define CHAIN_ERR_H

#include <stddef.h>

#define ERR_LIST(X)                                                        \
    /*  enum             string                http  ban */               \
    X(ERR_OK,            "ok",                  200,   0)                  \
    X(ERR_BAD_ENCODING,  "bad_encoding",        400, 100)                  \
    X(ERR_TOO_LARGE,     "too_large",           413, 100)                  \
    X(ERR_BAD_VERSION,   "bad_version",         400, 100)                  \
    X(ERR_BAD_AMOUNT,    "bad_amount",          400, 100)                  \
    X(ERR_NO_INPUTS,     "no_inputs",           400, 100)                  \
    X(ERR_NO_OUTPUTS,    "no_outputs",          400, 100)                  \
    X(ERR_DUPLICATE_INPUT, "duplicate_input",   400, 100)                  \
    X(ERR_BAD_SCRIPT,    "bad_script",          400, 100)                  \
    X(ERR_SCRIPT_FAILED, "script_failed",       400, 100)                  \
    X(ERR_UNKNOWN_UTXO,  "unknown_utxo",        400,  10)                  \
    X(ERR_INSUFFICIENT_FUNDS, "insufficient_funds", 400, 100)              \
    X(ERR_IMMATURE_COINBASE, "immature_coinbase", 400, 10)                 \
    X(ERR_DOUBLE_SPEND,  "double_spend",        409,  10)                  \
    X(ERR_FEE_TOO_LOW,   "fee_too_low",         400,   0)                  \
    X(ERR_DUST,          "dust",                400,   0)                  \
    X(ERR_MEMPOOL_FULL,  "mempool_full",        503,   0)                  \
    X(ERR_COINBASE_TX,   "coinbase_tx",         400, 100)                  \
    X(ERR_BAD_COINBASE,  "bad_coinbase",        400, 100)                  \
    X(ERR_BAD_MERKLE,    "bad_merkle",          400, 100)                  \
    X(ERR_DUPLICATE_TX,  "duplicate_tx",        400, 100)                  \
    X(ERR_BAD_POW,       "bad_pow",             400, 100)                  \
    X(ERR_BAD_BITS,      "bad_bits",            400, 100)                  \
    X(ERR_BAD_TIMESTAMP, "bad_timestamp",       400,  20)                  \
    X(ERR_BAD_PREVIOUS,  "bad_previous",        400, 100)                  \
    X(ERR_UNKNOWN_BLOCK, "unknown_block",       404,   0)                  \
    X(ERR_ORPHAN,        "orphan",              202,   0)                  \
    X(ERR_KNOWN,         "known",               200,   0)                  \
    X(ERR_BAD_ADDRESS,   "bad_address",         400,   0)                  \
    X(ERR_BAD_KEY,       "bad_key",             400,   0)                  \
    X(ERR_BAD_NETWORK,   "bad_network",         400, 100)                  \
    X(ERR_BAD_REQUEST,   "bad_request",         400,  20)                  \
    X(ERR_FORBIDDEN,     "forbidden",           403,   0)                  \
    X(ERR_BAD_JSON,      "bad_json",            400,   0)                  \
    X(ERR_NOT_JSON,      "not_json",            415,   0)                  \
    X(ERR_NOT_FOUND,     "not_found",           404,   0)                  \
    X(ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, 0)                \
    X(ERR_UNKNOWN_TYPE,  "unknown_type",        400,  20)                  \
    X(ERR_FLOOD,         "flood",               429,  50)                  \
    X(ERR_UNAVAILABLE,   "unavailable",         503,   0)                  \
    X(ERR_INTERNAL,      "internal",            500,   0)

typedef enum {
#define ERR_ENUM(e, s, h, b) e,
    ERR_LIST(ERR_ENUM)
#undef ERR_ENUM
    ERR_COUNT_
} err_code_t;

/* A rejection: the stable code and a message a user can act on. */
typedef struct {
    err_code_t code;
    char message[160];
} err_t;

/* The stable string of a code ("bad_encoding"). Never NULL. */
const char *err_str(err_code_t code);
/* The code whose string is s, or ERR_COUNT_ when none is. */
err_code_t err_from_str(const char *s);
/* The HTTP status a rejection with this code answers with. */
int err_http_status(err_code_t code);
/* How much a peer that sent input rejected with this code adds to its score. */
int err_ban_score(err_code_t code);
/* The same for a relayed transaction: 0 for the verdicts that depend on the
 * receiver's own chain and mempool (unknown_utxo, immature_coinbase,
 * double_spend), which honest peers send in a race or from another branch
 * (after a partition, a node relays the payments of the branch it was on).
 * In a block the same codes are invalid for everyone: err_ban_score(). */
int err_tx_ban_score(err_code_t code);

/* Fills e (which may be NULL: then nothing is written) and returns -(int)code,
 * so that a function can `return err_set(e, ERR_X, "...")`. */
int err_set(err_t *e, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
