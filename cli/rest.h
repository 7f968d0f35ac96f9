/* rest: chain-cli's HTTP/JSON client for a node's API (libcurl). */
#ifndef CLI_REST_H
#define CLI_REST_H

#include <jansson.h>

#include "err.h"

/* One request to base_url + path, with body (may be NULL) as JSON. On a
 * reply, *status is its HTTP status and *answer its parsed JSON (the caller
 * owns it; NULL when the body is not JSON). ERR_UNAVAILABLE, with curl's
 * reason, when the node cannot be reached. */
int rest_call(const char *base_url, const char *method, const char *path, const json_t *body,
                long *status, json_t **answer, err_t *e) __attribute__((warn_unused_result));

/* The node's error answer as "code: message" into e (ERR_* from the code). */
int rest_error(const json_t *answer, long status, err_t *e);

#endif
