/* persist: the one way gossipd writes its files (known peers, bans): the
 * whole content to path.tmp, fsync, rename over path, fsync the directory.
 * A crash at any moment leaves the old file or the new one, never a mix. */
#ifndef GOSSIP_PERSIST_H
#define GOSSIP_PERSIST_H

#include <stddef.h>

#include "err.h"

/* Replaces path with data[0..len). -1 with e (ERR_INTERNAL and the reason). */
int persist_write(const char *path, const char *data, size_t len, err_t *e)
    __attribute__((warn_unused_result));
/* Reads all of path (at most max bytes) into *out (malloc'd, NUL-terminated,
 * the caller frees). 0; 1 when the file does not exist (*out NULL); -1 with e
 * when it cannot be read or is over max. */
int persist_read(const char *path, size_t max, char **out, err_t *e)
    __attribute__((warn_unused_result));

#endif
