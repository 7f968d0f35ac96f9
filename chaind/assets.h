/* assets: the files chaind serves from its own binary, the block explorer
 * (chaind/explorer/) and the API's OpenAPI description (docs/openapi.json).
 * They are embedded at build time (assets.cmake), so a running chaind reads
 * no file and fetches nothing to serve them.
 *
 * Paths:
 *   /, /index.html      the explorer's page (explorer/index.html)
 *   /explorer/NAME      each file of chaind/explorer/
 *   /openapi.json       docs/openapi.json
 * The lookup is exact: no directory listing, no "..", no query string (the
 * caller strips it), no trailing '/'. */
#ifndef CHAIND_ASSETS_H
#define CHAIND_ASSETS_H

#include <stddef.h>

/* One embedded file. Everything points into static storage: valid for the
 * process's life, never to be freed or written. */
typedef struct {
    const unsigned char *data; /* the bytes; data[len] is a NUL not counted */
    size_t len;
    const char *content_type;  /* for Content-Type, with charset for text */
    const char *etag;          /* strong ETag with its quotes: "\"<sha-256 hex>\"" */
} assets_file_t;

/* Fills *out with the file at path and returns 0; -ERR_NOT_FOUND (common/
 * err.h) for a path that names none, NULL included (*out untouched). */
int assets_find(const char *path, assets_file_t *out);

#endif
