/* persist: the one way gossipd writes its files (known peers, bans): the
 * whole content to path.tmp, fsync, rename over path, fsync the directory.
 * A crash at any moment leaves the old file or the new one, never a mix.
 * And the one way it reads them back, a line at a time. */
#ifndef GOSSIP_PERSIST_H
#define GOSSIP_PERSIST_H

#include <stddef.h>

#include "err.h"

/* Replaces path with data[0..len). -1 with e (ERR_INTERNAL and the reason). */
int persist_write(const char *path, const char *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
/* Reads path (at most max bytes) and calls line(ctx, text) for each of its
 * non-empty lines that is not a comment ('#'), the newline cut off. 0, also
 * when the file does not exist; -1 with e when it cannot be read or is over
 * max (line not called). */
int persist_read_lines(const char *path, size_t max, void (*line)(void *ctx, char *text),
                       void *ctx, err_t *e) __attribute__((warn_unused_result));

#endif
