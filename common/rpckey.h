/* rpckey: the key files of chaind's authenticated control plane (DESIGN §1).
 *
 * Every tcp:// rpc and events endpoint speaks ZeroMQ's CURVE: chaind holds a
 * server key pair; each client (gossipd, a minerd, an event subscriber) holds
 * a key pair of its own whose public half chaind lists with a role. Keys are
 * Z85 text (40 characters for 32 bytes), as zmq_curve_keypair() makes them.
 *
 * Files, all mode 0600, in one directory (chaind's <datadir>/rpc by default;
 * a file the group may read is taken when the group is the process's own and
 * may not write it: a Kubernetes Secret mounted with an fsGroup):
 *   server.key     the server's pair:          public = …, secret = …
 *   <role>.key     a client's pair and the server's public key:
 *                  role = …, public = …, secret = …, server = …
 *   clients        the keys chaind accepts, one a line: ROLE PUBLIC [NAME]
 * Lines are `name = value` (key files) or space-separated (clients); a line
 * starting with `#` is a comment. A client needs its one .key file and
 * nothing else.
 *
 * Roles decide what a connection may do (docs/PROTOCOL.md, "Control plane"):
 * gossip (gossipd's requests), miner (get_tip, get_job, submit_work,
 * hashrate), subscriber (events only). */
#ifndef CHAIN_RPCKEY_H
#define CHAIN_RPCKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define RPCKEY_Z85_LEN 40          /* a 32-byte key in Z85, without the NUL */
#define RPCKEY_NAME_MAX 64         /* a client's name in the clients file */
#define RPCKEY_MAX_CLIENTS 1024    /* lines of the clients file taken at most */
#define RPCKEY_FILE_MAX (64 << 10) /* bytes of any key file read at most */

typedef enum { RPCKEY_GOSSIP, RPCKEY_MINER, RPCKEY_SUBSCRIBER, RPCKEY_ROLE_COUNT_ } rpckey_role_t;

typedef struct {
    char public_key[RPCKEY_Z85_LEN + 1];
    char secret_key[RPCKEY_Z85_LEN + 1];
} rpckey_pair_t;

/* What a client loads from its .key file. */
typedef struct {
    rpckey_role_t role;
    rpckey_pair_t pair;
    char server_key[RPCKEY_Z85_LEN + 1]; /* the server's public key */
} rpckey_client_t;

typedef struct {
    char public_key[RPCKEY_Z85_LEN + 1];
    rpckey_role_t role;
    char name[RPCKEY_NAME_MAX + 1];
} rpckey_entry_t;

/* The accepted keys (the clients file), in the file's order. */
typedef struct {
    rpckey_entry_t *entries; /* owned; free with rpckey_clients_free() */
    size_t count;
} rpckey_clients_t;

/* "gossip", "miner", "subscriber"; NULL for another value. */
const char *rpckey_role_name(rpckey_role_t role);
/* The role called name: 0, or -1 when there is none. */
int rpckey_role_parse(const char *name, rpckey_role_t *role);

/* A fresh key pair from libzmq (its random source is libsodium's).
 * ERR_INTERNAL when libzmq lacks CURVE. */
int rpckey_generate(rpckey_pair_t *pair, err_t *e) __attribute__((warn_unused_result));

/* Makes dir (mode 0700) hold a complete set when it holds none yet: a server
 * key, one client key a role, and the clients file listing them. A directory
 * with a server key is left as it is (an operator's or a Secret's set); one
 * with only some of the files is an error naming the missing one, never
 * silently completed. *created says whether anything was written. */
int rpckey_init_dir(const char *dir, bool *created, err_t *e) __attribute__((warn_unused_result));

/* Writes a new client key of role for the server whose public key is given to
 * path (created 0600; an existing file is never replaced) and appends its
 * public key, with name, to the clients file at clients_path. */
int rpckey_add_client(const char *clients_path, const char *path, rpckey_role_t role,
                      const char *name, const char *server_public, err_t *e)
    __attribute__((warn_unused_result));

/* `chaind --new-rpc-key ROLE:NAME:FILE` (spec): makes dir's set when it has
 * none (rpckey_init_dir()), then a new client key of ROLE for dir's server
 * in FILE (as rpckey_add_client(), listed as NAME in dir's clients file).
 * ERR_BAD_KEY for a malformed spec or role. */
int rpckey_new_client(const char *dir, const char *spec, err_t *e)
    __attribute__((warn_unused_result));

/* Reads the server's pair from path. ERR_BAD_KEY naming the file and line
 * when it is missing, unreadable, malformed or readable by others (or by a
 * group not ours, or writable by the group). */
int rpckey_load_server(const char *path, rpckey_pair_t *pair, err_t *e)
    __attribute__((warn_unused_result));
/* Reads a client's key file (same errors). */
int rpckey_load_client(const char *path, rpckey_client_t *client, err_t *e)
    __attribute__((warn_unused_result));

/* Whether endpoint is tcp://: a CURVE endpoint, where a key is needed
 * (ipc:// relies on the socket file's permissions). */
bool rpckey_endpoint_curve(const char *endpoint);

/* What a client of chaind (gossipd, minerd: role) loads at start: when rpc
 * or events is tcp://, the key file at path into *key (1); when both are
 * ipc://, nothing (0, path unused). ERR_BAD_KEY when a tcp:// endpoint has
 * no path (the message names the file chaind writes,
 * <chaind datadir>/rpc/<role>.key), the file cannot be used, or it holds a
 * key of another role. */
int rpckey_client_for(const char *path, const char *rpc, const char *events, rpckey_role_t role,
                      rpckey_client_t *key, err_t *e) __attribute__((warn_unused_result));

/* Reads the clients file into *clients (which the caller frees). A malformed
 * line is an error naming it: a reload keeps the old list rather than take
 * half a file. A key listed twice keeps its first line. */
int rpckey_clients_load(const char *path, rpckey_clients_t *clients, err_t *e)
    __attribute__((warn_unused_result));
void rpckey_clients_free(rpckey_clients_t *clients);
/* The entry of a Z85 public key, or NULL. */
const rpckey_entry_t *rpckey_clients_find(const rpckey_clients_t *clients,
                                          const char *public_key);

#endif
