/* addrbook: the peer addresses gossipd knows ("host:port"), where each came
 * from, and when each may be dialled again.
 *
 * Backoff: a failed dial (refused, no hello in time) doubles the wait before
 * the next attempt, from ADDRBOOK_BACKOFF_BASE_MS up to ADDRBOOK_BACKOFF_MAX_MS;
 * a completed handshake resets it, so a peer that restarts is redialled within
 * a second. Addresses that never answer sink to the back and are the first
 * evicted when the book is full: it holds ADDRBOOK_MAX entries at most.
 *
 * Persistence: a text file, one address a line ("host:port last_seen failures
 * source"), written to a temporary file and renamed, so a crash leaves the old
 * file or the new one. Unreadable lines are skipped on load.
 *
 * Times: `now_ms` is a monotonic clock (backoff), `now_unix` the wall clock
 * (what is persisted). Not thread-safe. */
#ifndef GOSSIP_ADDRBOOK_H
#define GOSSIP_ADDRBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ADDRBOOK_MAX 1024
#define ADDRBOOK_ADDR_MAX 255 /* characters in "host:port", as the addr message allows */
#define ADDRBOOK_BACKOFF_BASE_MS 1000
#define ADDRBOOK_BACKOFF_MAX_MS (10 * 60 * 1000)
#define ADDRBOOK_ID_LEN 8

/* Where an address was learnt; lower values are dialled first. */
typedef enum {
    ADDR_ADVERT = 0, /* POST /new_node_advertisement (peer.add event) */
    ADDR_SEED = 1,   /* --peer */
    ADDR_GOSSIP = 2, /* an addr message or a peer's hello */
} addr_source_t;

typedef struct {
    char addr[ADDRBOOK_ADDR_MAX + 1];
    addr_source_t source;
    bool self;          /* our own address: never dialled */
    bool dialling;      /* an outbound connection holds it now */
    uint32_t failures;  /* consecutive failed dials */
    uint64_t next_try_ms;
    uint64_t last_seen; /* unix time of the last handshake (0: never) */
    bool have_id;       /* the node id last seen there */
    uint8_t node_id[ADDRBOOK_ID_LEN];
} addrbook_entry_t;

typedef struct addrbook addrbook_t;

/* Tells the dialler to pass over an entry (its node is connected already, it
 * is banned). */
typedef bool (*addrbook_skip_fn)(void *ctx, const addrbook_entry_t *entry);

/* An empty book. self_addr (may be NULL) is our own advertised address, never
 * added. NULL when memory runs out. */
addrbook_t *addrbook_new(const char *self_addr);
/* Frees the book; *ab becomes NULL. */
void addrbook_destroy(addrbook_t **ab);

/* Whether addr is a dialable "host:port": a hostname, IPv4 or [IPv6] host (no
 * wildcard 0.0.0.0, ::, *), a port 1-65535, at most ADDRBOOK_ADDR_MAX chars. */
bool addrbook_valid(const char *addr);
/* Splits "host:port" into host (brackets kept for IPv6, capacity host_cap)
 * and port; -1 when it is not of that form. Accepts wildcard hosts (for
 * --listen). */
int addrbook_split(const char *addr, char *host, size_t host_cap, unsigned *port);

/* Adds addr. 1: added; 0: already known (a better source upgrades it, and an
 * ADDR_ADVERT or ADDR_SEED makes it due now); -1: invalid, our own, or the
 * book is full of entries that cannot be evicted. */
int addrbook_add(addrbook_t *ab, const char *addr, addr_source_t source, uint64_t now_ms);
/* The entry for addr, or NULL. Valid until the book changes. */
const addrbook_entry_t *addrbook_find(const addrbook_t *ab, const char *addr);
size_t addrbook_count(const addrbook_t *ab);

/* The next address to dial: due (next_try_ms <= now_ms), not ours, not being
 * dialled, not skipped; advertised and seed addresses first, then those with
 * the fewest failures. Marks it dialling and returns it (valid until the book
 * changes), or NULL when none is due. */
const char *addrbook_next_dial(addrbook_t *ab, uint64_t now_ms, addrbook_skip_fn skip, void *ctx);
/* A dial of addr failed before a handshake: the backoff doubles. */
void addrbook_dial_failed(addrbook_t *ab, const char *addr, uint64_t now_ms);
/* A handshake with addr completed: failures reset, node id and time noted. */
void addrbook_connected(addrbook_t *ab, const char *addr, const uint8_t node_id[ADDRBOOK_ID_LEN],
                        uint64_t now_unix);
/* An established outbound connection to addr ended: due again after the base
 * backoff (a restarting peer is redialled quickly). */
void addrbook_disconnected(addrbook_t *ab, const char *addr, uint64_t now_ms);
/* addr turned out to be ourselves (our own node id answered): never dialled. */
void addrbook_mark_self(addrbook_t *ab, const char *addr);
/* Notes the node id found at addr (a duplicate connection): the dialler's
 * skip callback can then pass over it while that node is connected. */
void addrbook_note_id(addrbook_t *ab, const char *addr, const uint8_t node_id[ADDRBOOK_ID_LEN]);

/* Up to max addresses worth telling peers about (not ours, no failures),
 * most recently seen first. out[i] borrow the book's strings. */
size_t addrbook_sample(const addrbook_t *ab, const char **out, size_t max);

/* Writes the book to path atomically (path.tmp, fsync, rename). -1 with e. */
int addrbook_save(const addrbook_t *ab, const char *path, err_t *e)
    __attribute__((warn_unused_result));
/* Adds the addresses in path (a missing file is an empty book); failures and
 * last-seen times are restored, and each is due after its backoff from now.
 * -1 with e when the file exists but cannot be read. */
int addrbook_load(addrbook_t *ab, const char *path, uint64_t now_ms, err_t *e)
    __attribute__((warn_unused_result));

#endif
