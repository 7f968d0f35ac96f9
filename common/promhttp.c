#include "promhttp.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HOST_MAX 256

struct promhttp {
    struct MHD_Daemon *mhd;
    promhttp_render_fn render;
    void *ctx;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result error(struct MHD_Connection *c, err_code_t code, const char *message)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}",
                     err_str(code), message);
    return answer(c, (unsigned)err_http_status(code), "application/json", body, (size_t)n,
                  MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    (void)version, (void)upload, (void)upload_len, (void)state;
    promhttp_t *s = cls;
    if (strcmp(url, "/metrics") != 0)
        return error(c, ERR_NOT_FOUND, "only /metrics is served here");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return error(c, ERR_METHOD_NOT_ALLOWED, "/metrics takes GET");
    char *text;
    size_t len;
    err_t e;
    if (s->render(s->ctx, &text, &len, &e) < 0)
        return error(c, ERR_INTERNAL, "metrics could not be rendered");
    return answer(c, 200, PROMHTTP_CONTENT_TYPE, text, len, MHD_RESPMEM_MUST_FREE);
}

/* HOST:PORT (or [V6]:PORT) into a socket address. */
static int resolve(const char *hostport, struct addrinfo **ai, err_t *e)
{
    char host[HOST_MAX];
    const char *colon = strrchr(hostport, ':');
    size_t hl = colon ? (size_t)(colon - hostport) : 0;
    if (!colon || hl == 0 || hl >= sizeof host || !colon[1])
        return err_set(e, ERR_BAD_REQUEST, "--metrics is HOST:PORT, not '%s'", hostport);
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    if (getaddrinfo(h, colon + 1, &hints, ai) != 0)
        return err_set(e, ERR_BAD_REQUEST, "--metrics %s: host or port not understood",
                       hostport);
    return 0;
}

int promhttp_start(promhttp_t **out, const char *hostport, promhttp_render_fn render, void *ctx,
                   err_t *e)
{
    struct addrinfo *ai;
    int rc = resolve(hostport, &ai, e);
    if (rc < 0)
        return rc;
    promhttp_t *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    s->render = render;
    s->ctx = ctx;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)PROMHTTP_CONNECTIONS_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)PROMHTTP_TIMEOUT_S,
                              MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd) {
        free(s);
        return err_set(e, ERR_INTERNAL, "cannot serve metrics on %s (port in use?)", hostport);
    }
    *out = s;
    return 0;
}

void promhttp_stop(promhttp_t **s)
{
    if (!*s)
        return;
    MHD_stop_daemon((*s)->mhd);
    free(*s);
    *s = NULL;
}
