#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "assets.h"
#include "dec.h"
#include "httpguard.h"
#include "log.h"
#include "metrics.h"
#include "sse.h"

#define DEFAULT_THREADS 4
#define MAX_THREADS 64 /* each thread holds at most one of the store's 256 snapshots */
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_BODY ((size_t)2 << 20)
#define CONNECTION_TIMEOUT_S 30
/* A request whose URI (path and query) or headers pass these bounds is
 * answered 414 or 431 too_large, JSON. MHD answers such requests itself,
 * with an HTML body, once they pass its per-connection memory, so that is
 * set well above them: a request between the bounds and the memory reaches
 * chaind's handler and gets chaind's JSON (past it, MHD's HTML still). MHD
 * maps each connection's memory (untouched pages cost nothing). */
#define URI_MAX (8 << 10)
#define HEAD_MAX (16 << 10)
#define CONNECTION_MEMORY ((size_t)64 << 10)
#define DEFAULT_MAX_PER_IP 64 /* connections from one address at once */
/* A body refused as too large is still read, and dropped, up to this many
 * bytes (and HTTPGUARD_DRAIN_MS), so that a client that writes its whole
 * request before it reads (Python's http.client) gets to read the 413
 * instead of a broken pipe: nginx's lingering close. */
#define DRAIN_MAX_BYTES ((uint64_t)16 << 20)
#define LOG_TEXT_MAX 160     /* bytes of a client's URL or method shown in a log line */

#define JSON_TYPE "application/json"
#define EVENTS_TYPE "text/event-stream"
#define EVENTS_BLOCK 4096 /* bytes MHD asks of an event stream at a time */
/* The kernel's send buffer of an event stream: left to autotuning, a stream
 * whose reader stalls would pin megabytes of it before its own queue fills. */
#define EVENTS_SNDBUF (64 << 10)
/* On every answer: nothing but the explorer's own files runs or loads in a
 * page of this origin, and no type is guessed. */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
/* The API's answers are never cached; the explorer's files are, revalidated
 * by their ETag each time (they change with the binary). */
#define CACHE_API "no-store"
#define CACHE_ASSET "no-cache"
/* The answer when even the error's JSON cannot be built. */
#define OOM_BODY "{\"error\":\"internal\",\"message\":\"out of memory\"}"

typedef struct req req_t;

struct http_server {
    struct MHD_Daemon *daemon;
    api_t *api;
    node_t *node;
    sse_t *sse;
    httpguard_t *guard;
    bool explorer;
    char *cors_origin;
    size_t max_body;
    _Atomic uint64_t requests;
    /* suspended connections whose answers wait for durability (at most
     * one a connection: the connection limit bounds them) */
    pthread_mutex_t wait_lock;
    req_t *waiters;
    bool stopping; /* no more suspending: answers wait in place */
    int subscription;
};

/* What answers a route besides api.c's handlers. */
typedef enum { SERVE_API, SERVE_PAGE, SERVE_OPENAPI, SERVE_EVENTS } serve_t;

/* A route: its path, where "*" stands for one non-empty segment (the
 * argument), and its handlers (NULL: the method is not allowed; both NULL
 * for the GET routes http.c answers itself). */
typedef struct {
    const char *path;
    api_handler_t get, post;
    serve_t serve;
} route_t;

static const route_t routes[] = {
    {"/block", api_get_blocks, api_post_block, SERVE_API},
    {"/blocks", api_get_summaries, NULL, SERVE_API},
    {"/block/*", api_get_block, NULL, SERVE_API},
    {"/block/*/txs", api_get_block_txs, NULL, SERVE_API},
    {"/transactions", NULL, api_post_tx, SERVE_API},
    {"/transactions/*", api_get_tx, NULL, SERVE_API},
    {"/utxo/*", api_get_utxo, NULL, SERVE_API},
    {"/utxo-set", api_get_utxo_set, NULL, SERVE_API},
    {"/address/*/txs", api_get_address_txs, NULL, SERVE_API},
    {"/new_node_advertisement", NULL, api_post_advert, SERVE_API},
    {"/known_node_request", api_get_peers, NULL, SERVE_API},
    {"/status", api_get_status, NULL, SERVE_API},
    {"/mempool", api_get_mempool, NULL, SERVE_API},
    {"/mempool/histogram", api_get_histogram, NULL, SERVE_API},
    {"/mempool/recent", api_get_recent, NULL, SERVE_API},
    {"/search", api_get_search, NULL, SERVE_API},
    {"/metrics", api_get_metrics, NULL, SERVE_API},
    {"/healthz", api_get_healthz, NULL, SERVE_API},
    {"/readyz", api_get_readyz, NULL, SERVE_API},
    {"/events", NULL, NULL, SERVE_EVENTS},
    {"/", NULL, NULL, SERVE_PAGE},
    {"/index.html", NULL, NULL, SERVE_PAGE},
    {"/explorer/*", NULL, NULL, SERVE_PAGE},
    {"/openapi.json", NULL, NULL, SERVE_OPENAPI},
};

/* One request's state, kept in MHD's con_cls across the handler's calls. */
struct req {
    struct timespec start;
    const char *route; /* its route's path (metrics.h), NULL: none */
    char *body; /* POST body so far, at most max_body bytes */
    size_t len, cap;
    size_t received; /* body bytes seen, kept or dropped */
    bool too_large;  /* past max_body: the rest is dropped, 413 follows */
    bool answered;
    bool holding;          /* held: the answer waits for its ticket (hold()) */
    api_answer_t held;
    struct MHD_Connection *c; /* while among the server's waiters */
    req_t *prev, *next;
};

/* What an answer needs. */
typedef struct {
    http_server_t *s;
    struct MHD_Connection *c;
    req_t *r;
    const char *method, *url;
    bool preflight; /* an OPTIONS answer: add the CORS preflight headers */
} ctx_t;

/* --- small helpers ------------------------------------------------------- */

/* Copies text for a log line or a JSON message: bytes outside printable
 * ASCII become '?', so neither can be forged or made invalid UTF-8. */
static void printable(char *out, size_t cap, const char *in)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < cap; i++)
        out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = '\0';
}

/* --- answers -------------------------------------------------------------- */

static double elapsed_ms(const req_t *r)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
           (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
}

/* The headers of an answer besides those every answer carries (each NULL
 * when absent). */
typedef struct {
    const char *type;  /* Content-Type; NULL: no body */
    const char *cache; /* Cache-Control */
    const char *allow;
    const char *etag;
} head_t;

/* Queues resp (taken) with h and the headers every answer carries. */
static enum MHD_Result queue(ctx_t *x, unsigned status, struct MHD_Response *resp,
                             const head_t *h)
{
    x->r->answered = true;
    const char *cors = x->s->cors_origin, *allow = h->allow;
    bool ok = (!h->type || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, h->type) ==
                               MHD_YES) &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, h->cache) == MHD_YES &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, CSP) ==
                  MHD_YES &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff") ==
                  MHD_YES;
    if (ok && h->etag)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, h->etag) == MHD_YES;
    if (ok && allow)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES;
    if (ok && cors)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, cors) ==
             MHD_YES;
    if (ok && cors && x->preflight)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS,
                                     allow) == MHD_YES &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_HEADERS,
                                     "Content-Type") == MHD_YES &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_MAX_AGE, "86400") ==
                 MHD_YES;
    enum MHD_Result rc = ok ? MHD_queue_response(x->c, status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    char method[32], url[LOG_TEXT_MAX];
    printable(method, sizeof method, x->method);
    printable(url, sizeof url, x->url);
    LOGDEBUG("http: %s %s %u %.1f ms", method, url, status, elapsed_ms(x->r));
    return rc;
}

/* Queues body (freed by MHD when mode is MHD_RESPMEM_MUST_FREE) as an API
 * answer. type: the Content-Type, or NULL for no body; allow: the Allow
 * header, or NULL. */
static enum MHD_Result send_body(ctx_t *x, unsigned status, const char *type, void *body,
                                 size_t len, enum MHD_ResponseMemoryMode mode, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        x->r->answered = true;
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    return queue(x, status, resp, &(head_t){type, CACHE_API, allow, NULL});
}

static enum MHD_Result reply_fail(ctx_t *x, unsigned status, err_code_t code, const char *allow,
                                  const char *message)
{
    char msg[sizeof ((err_t *)0)->message], method[32], url[LOG_TEXT_MAX];
    printable(msg, sizeof msg, message);
    printable(method, sizeof method, x->method);
    printable(url, sizeof url, x->url);
    /* a client can repeat a refusal at will: a line a second a code */
    log_limited(LOG_INFO, err_str(code), "http: %s %s -> %u %s: %s", method, url, status,
                err_str(code), msg);
    json_t *j = json_pack("{s:s, s:s}", "error", err_str(code), "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return send_body(x, 500, JSON_TYPE, (void *)OOM_BODY, sizeof OOM_BODY - 1,
                         MHD_RESPMEM_PERSISTENT, allow);
    return send_body(x, status, JSON_TYPE, text, strlen(text), MHD_RESPMEM_MUST_FREE, allow);
}

/* Answers a rejection with its code's status from the one table. */
static enum MHD_Result reply_err(ctx_t *x, const err_t *e)
{
    err_code_t code = e->code;
    /* a failure that forgot its code is still a failure */
    if (code == ERR_OK || (unsigned)code >= ERR_COUNT_)
        code = ERR_INTERNAL;
    return reply_fail(x, (unsigned)err_http_status(code), code, NULL, e->message);
}

static enum MHD_Result reply_error(ctx_t *x, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_error(ctx_t *x, err_code_t code, const char *fmt, ...)
{
    err_t e = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return reply_err(x, &e);
}

/* Takes j (NULL: memory ran out). */
static enum MHD_Result reply_json(ctx_t *x, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return reply_error(x, ERR_INTERNAL, "out of memory");
    return send_body(x, status, JSON_TYPE, text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
}

/* --- handlers -------------------------------------------------------------- */

/* The body as a JSON object (a new reference), or NULL with e set. */
static json_t *body_json(ctx_t *x, err_t *e)
{
    json_error_t je;
    json_t *j = json_loadb(x->r->body ? x->r->body : "", x->r->len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        err_set(e, ERR_BAD_JSON, "line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(e, ERR_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static bool query_arg(void *ctx, const char *key, const char **value, size_t *len)
{
    return MHD_lookup_connection_value_n(ctx, MHD_GET_ARGUMENT_KIND, key, strlen(key), value,
                                         len) == MHD_YES;
}

/* --- answers that wait for durability --------------------------------------- */

/* Sends a held answer once its ticket is durable (at once but while the
 * server stops), as api_settle() leaves it. */
static enum MHD_Result send_held(ctx_t *x)
{
    api_answer_t a = x->r->held;
    x->r->held = (api_answer_t){0};
    x->r->holding = false;
    node_wait_durable(x->s->node, a.ticket);
    err_t e;
    if (api_settle(x->s->api, &a, &e) < 0)
        return reply_err(x, &e);
    return reply_json(x, a.status, a.json);
}

static void waiter_unlink(http_server_t *s, req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->waiters = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->c = NULL;
}

/* A POST /transactions answer is a promise: it goes out once the record is
 * durable. Rather than block this pool thread for a group commit (it would
 * serve one request a commit), the connection is suspended and resumed by
 * on_durable(), so that one commit answers the requests of every thread. */
static enum MHD_Result hold(ctx_t *x, const api_answer_t *a)
{
    http_server_t *s = x->s;
    req_t *r = x->r;
    r->held = *a;
    r->holding = true;
    /* durable is read under the lock: on_durable() moves it before taking
     * the lock, so a waiter added here is never missed */
    pthread_mutex_lock(&s->wait_lock);
    bool wait = !s->stopping && node_durable(s->node) < a->ticket;
    if (wait) {
        MHD_suspend_connection(x->c);
        r->c = x->c;
        r->next = s->waiters;
        if (s->waiters)
            s->waiters->prev = r;
        s->waiters = r;
    }
    pthread_mutex_unlock(&s->wait_lock);
    return wait ? MHD_YES : send_held(x);
}

/* The journal's callback (its thread): resumes the connections whose
 * tickets are durable; MHD then calls on_request() for them again. */
static void on_durable(void *ctx, uint64_t durable)
{
    http_server_t *s = ctx;
    pthread_mutex_lock(&s->wait_lock);
    for (req_t *r = s->waiters, *next; r; r = next) {
        next = r->next;
        if (r->held.ticket > durable)
            continue;
        struct MHD_Connection *c = r->c;
        waiter_unlink(s, r);
        MHD_resume_connection(c);
    }
    pthread_mutex_unlock(&s->wait_lock);
}

/* Runs the route's handler for a complete request and sends its answer;
 * arg: the path's argument, arg_len bytes. */
static enum MHD_Result dispatch(ctx_t *x, const route_t *rt, bool post, const char *arg,
                                size_t arg_len)
{
    char *copy = arg ? strndup(arg, arg_len) : NULL;
    if (arg && !copy)
        return reply_error(x, ERR_INTERNAL, "out of memory");
    api_request_t q = {copy, NULL, query_arg, x->c, {http_requests_total(x->s), {{0}}}};
    httpguard_stats(x->s->guard, &q.http.guard);
    api_answer_t a = {0};
    err_t e;
    if (post && !(q.body = body_json(x, &e))) {
        free(copy);
        return reply_err(x, &e);
    }
    int rc = (post ? rt->post : rt->get)(x->s->api, &q, &a, &e);
    json_decref(q.body);
    free(copy);
    if (rc < 0)
        return reply_err(x, &e);
    if (a.ticket)
        return hold(x, &a);
    if (a.content_type)
        return send_body(x, a.status, a.content_type, a.text, a.text_len, MHD_RESPMEM_MUST_FREE,
                         NULL);
    return reply_json(x, a.status, a.json);
}

/* --- the explorer's files and the event stream ----------------------------- */

/* Whether an If-None-Match header (a list of entity tags, or "*") names etag;
 * the weak comparison, as the header asks (RFC 9110 §13.1.2). */
static bool etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " \t,");
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if ((len == 1 && *p == '*') || (len == n && memcmp(p, etag, n) == 0))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* An embedded file (assets.h), or 304 when the client's copy is current. */
static enum MHD_Result serve_asset(ctx_t *x, const route_t *rt)
{
    assets_file_t f;
    if (rt->serve == SERVE_PAGE && !x->s->explorer)
        return reply_error(x, ERR_NOT_FOUND, "the explorer is off (chaind --explorer off)");
    if (assets_find(x->url, &f) < 0)
        return reply_error(x, ERR_NOT_FOUND, "no such file");
    const char *inm =
        MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool current = etag_matches(inm, f.etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        current ? 0 : f.len, current ? (void *)"" : (void *)f.data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    return queue(x, current ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp,
                 &(head_t){current ? NULL : f.content_type, CACHE_ASSET, NULL, f.etag});
}

static void conn_suspend(void *c) { MHD_suspend_connection(c); }
static void conn_resume(void *c) { MHD_resume_connection(c); }

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    ssize_t n = sse_read(cls, buf, max);
    return n >= 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void events_free(void *cls)
{
    sse_client_t *c = cls;
    sse_leave(&c);
}

/* GET /events: a stream that holds no thread (sse.h: the connection is
 * suspended while nothing is queued), or 503 when every slot is taken. */
static enum MHD_Result serve_events(ctx_t *x)
{
    sse_client_t *c;
    err_t e;
    sse_io_t io = {conn_suspend, conn_resume, x->c};
    if (sse_join(x->s->sse, &io, &c, &e) < 0)
        return reply_err(x, &e);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(x->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sndbuf = EVENTS_SNDBUF;
    if (!ci || setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
        LOGDEBUG("http: an event stream keeps the kernel's send buffer size");
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVENTS_BLOCK,
                                                                  events_read, c, events_free);
    if (!resp) {
        sse_leave(&c);
        return reply_error(x, ERR_INTERNAL, "out of memory");
    }
    /* proxies that buffer (nginx) would hold the events back */
    if (MHD_add_response_header(resp, "X-Accel-Buffering", "no") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return queue(x, MHD_HTTP_OK, resp, &(head_t){EVENTS_TYPE, CACHE_API, NULL, NULL});
}

/* --- request flow --------------------------------------------------------- */

/* Whether url fits pattern; *arg and *arg_len the segment its "*" matched. */
static bool path_matches(const char *pattern, const char *url, const char **arg, size_t *arg_len)
{
    while (*pattern && *url) {
        if (*pattern == '*') {
            size_t n = strcspn(url, "/");
            if (n == 0)
                return false;
            *arg = url;
            *arg_len = n;
            url += n;
            pattern++;
        } else if (*pattern++ != *url++) {
            return false;
        }
    }
    return !*pattern && !*url;
}

static const route_t *route_find(const char *url, const char **arg, size_t *arg_len)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        *arg = NULL;
        *arg_len = 0;
        if (path_matches(routes[i].path, url, arg, arg_len))
            return &routes[i];
    }
    return NULL;
}

static const char *allow_str(const route_t *rt)
{
    if (rt->get && rt->post)
        return "GET, HEAD, POST, OPTIONS";
    return rt->post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
}

/* application/json, with parameters (charset) or not, any case. */
static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* First call of a POST, headers only: refuse what cannot succeed before a
 * byte of the body is read (MHD can answer only now or after the body; an
 * answer now also closes the connection, which suits a refused upload). */
static enum MHD_Result post_begin(ctx_t *x)
{
    const char *ct =
        MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(ct))
        return reply_error(x, ERR_NOT_JSON, "the body must be sent as application/json");
    const char *cl =
        MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t declared;
    if (!cl || dec_u64(cl, strlen(cl), &declared) < 0 || declared <= x->s->max_body)
        return MHD_YES;
    /* a client that waits for 100 Continue reads the 413 before it sends a
     * byte; one past the drain bound is not worth reading */
    const char *expect =
        MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if ((expect && strcasecmp(expect, "100-continue") == 0) || declared > DRAIN_MAX_BYTES)
        return reply_error(x, ERR_TOO_LARGE, "the body is over %zu bytes", x->s->max_body);
    x->r->too_large = true; /* drained, then answered (take_body) */
    httpguard_draining(x->c);
    return MHD_YES;
}

/* A piece of a request body; keep: a POST body the route reads. Past the
 * bound (or when not kept) the body is freed and the rest dropped; MHD
 * 0.9.75 cannot answer in mid-upload, so the answer (413 for a kept body)
 * goes out once the body ends, and a body running on past DRAIN_MAX_BYTES
 * (or HTTPGUARD_DRAIN_MS: the guard) is cut off by closing the connection. */
static enum MHD_Result take_body(ctx_t *x, const char *data, size_t *size, bool keep)
{
    req_t *r = x->r;
    size_t max = x->s->max_body, n = *size;
    *size = 0;
    httpguard_body(x->c, n);
    r->received = n > SIZE_MAX - r->received ? SIZE_MAX : r->received + n;
    if (keep && !r->too_large && r->received > max) {
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        r->too_large = true;
        httpguard_draining(x->c);
    }
    if (!keep || r->too_large)
        return r->received > max && r->received > DRAIN_MAX_BYTES ? MHD_NO : MHD_YES;
    size_t need = r->len + n; /* at most max: received bounds it */
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < need)
            cap = cap > max / 2 ? max : cap * 2;
        if (cap > max)
            cap = max;
        char *p = realloc(r->body, cap);
        if (!p)
            return MHD_NO;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

static enum MHD_Result add_len(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF or "&=" */
    return MHD_YES;
}

/* 414 or 431 JSON when the head passes URI_MAX or HEAD_MAX; MHD_YES else. */
static enum MHD_Result head_check(ctx_t *x)
{
    size_t uri = strlen(x->url), head = 0;
    MHD_get_connection_values(x->c, MHD_GET_ARGUMENT_KIND, add_len, &uri);
    MHD_get_connection_values(x->c, MHD_HEADER_KIND, add_len, &head);
    char msg[96];
    if (uri > URI_MAX) {
        snprintf(msg, sizeof msg, "the URI is over %d bytes", URI_MAX);
        return reply_fail(x, MHD_HTTP_URI_TOO_LONG, ERR_TOO_LARGE, NULL, msg);
    }
    if (head > HEAD_MAX) {
        snprintf(msg, sizeof msg, "the headers are over %d bytes", HEAD_MAX);
        return reply_fail(x, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, ERR_TOO_LARGE, NULL, msg);
    }
    return MHD_YES;
}

/* Whether a body follows the head (its pace is then the guard's). */
static bool has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strspn(cl, "0") != strlen(cl)) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

typedef enum { M_OTHER, M_GET, M_POST } method_t;

static method_t method_of(const char *method)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        return M_GET;
    return strcmp(method, MHD_HTTP_METHOD_POST) == 0 ? M_POST : M_OTHER;
}

/* MHD calls this once with the headers, once for each piece of the body, and
 * once more when the request is complete; the answer is queued on that last
 * call (an answer queued on the first would close a keep-alive connection). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    http_server_t *s = cls;
    req_t *r = *con_cls;
    ctx_t x = {s, c, r, method, url, false};
    const char *arg = NULL;
    size_t arg_len = 0;
    const route_t *rt = route_find(url, &arg, &arg_len);
    method_t m = method_of(method);
    bool post = rt && m == M_POST && rt->post;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = x.r = r;
        r->route = rt ? rt->path : NULL;
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        if (clock_gettime(CLOCK_MONOTONIC, &r->start) != 0)
            r->start = (struct timespec){0, 0};
        httpguard_head_done(c, has_body(c));
        enum MHD_Result refused = head_check(&x);
        if (refused != MHD_YES || r->answered)
            return refused;
        return post ? post_begin(&x) : MHD_YES;
    }
    if (r->answered) { /* answered on the first call: drop whatever MHD still passes on */
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->holding) /* resumed (or stopping): the held answer goes out */
        return send_held(&x);
    if (*upload_size)
        return take_body(&x, upload, upload_size, post);
    httpguard_body_done(c);
    if (!rt)
        return reply_error(&x, ERR_NOT_FOUND, "no such route");
    const char *allow = allow_str(rt);
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) {
        x.preflight = true;
        return send_body(&x, MHD_HTTP_NO_CONTENT, NULL, (void *)"", 0,
                         MHD_RESPMEM_PERSISTENT, allow);
    }
    if (!(m == M_GET && (rt->get || rt->serve != SERVE_API)) && !post)
        return reply_fail(&x, MHD_HTTP_METHOD_NOT_ALLOWED, ERR_METHOD_NOT_ALLOWED, allow,
                          "method not allowed on this route");
    if (post && r->too_large)
        return reply_error(&x, ERR_TOO_LARGE, "the body is over %zu bytes", s->max_body);
    if (rt->serve == SERVE_EVENTS)
        return serve_events(&x);
    if (rt->serve != SERVE_API)
        return serve_asset(&x, rt);
    return dispatch(&x, rt, post, arg, arg_len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server_t *s = cls;
    (void)toe;
    httpguard_request_done(c);
    req_t *r = *con_cls;
    if (r) {
        metrics_http_observe(r->route, &r->start);
        pthread_mutex_lock(&s->wait_lock);
        if (r->c)
            waiter_unlink(s, r);
        pthread_mutex_unlock(&s->wait_lock);
        json_decref(r->held.json);
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

/* MHD's own messages (bind failures, broken clients) into our log, a line
 * a second a kind at most: a client can make them repeat (a descriptor
 * limit hit once a connection, thousands a second). MHD passes its format
 * strings as literals, so the format is the kind. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char raw[512], line[512];
    vsnprintf(raw, sizeof raw, fmt, ap);
    raw[strcspn(raw, "\r\n")] = '\0';
    printable(line, sizeof line, raw);
    log_limited(LOG_INFO, fmt, "http: libmicrohttpd: %s", line);
}

/* "a.b.c.d:PORT", "[v6]:PORT" or "localhost:PORT" (127.0.0.1): numeric
 * hosts, so that exactly that address is bound. */
static int parse_listen(const char *text, struct sockaddr_storage *ss, bool *v6, uint16_t *port,
                        err_t *e)
{
    char host[INET6_ADDRSTRLEN];
    const char *p = NULL, *h = text, *end = NULL;
    if (text && text[0] == '[') {
        h = text + 1;
        end = strchr(h, ']');
        p = end && end[1] == ':' ? end + 2 : NULL;
    } else if (text) {
        end = strrchr(text, ':');
        p = end ? end + 1 : NULL;
    }
    *v6 = h != text;
    uint64_t n;
    if (!p || (size_t)(end - h) >= sizeof host || dec_u64(p, strlen(p), &n) < 0 ||
        n > 65535)
        return err_set(e, ERR_INTERNAL, "HTTP address \"%.64s\": want IPV4:PORT or [IPV6]:PORT",
                       text ? text : "");
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    if (!*v6 && strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    memset(ss, 0, sizeof *ss);
    *port = (uint16_t)n;
    int ok;
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(*port);
        ok = inet_pton(AF_INET6, host, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(*port);
        ok = inet_pton(AF_INET, host, &a->sin_addr);
    }
    if (ok != 1)
        return err_set(e, ERR_INTERNAL, "HTTP address \"%.64s\": the host must be a numeric "
                       "IPv4 or [IPv6] address", text);
    return 0;
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    *fail |= !d;
    return d;
}

/* Linux caps a listener's accept queue at net.core.somaxconn (128 before
 * kernel 5.4). Connections arriving while it is full are not refused: the
 * handshake's last ACK is dropped and the client, believing itself connected,
 * waits on retransmissions for seconds. Worth a warning when the queue is
 * smaller than the connections the operator allows. */
static void warn_small_accept_queue(unsigned conns)
{
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (!f)
        return;
    unsigned cap;
    if (fscanf(f, "%u", &cap) == 1 && cap < conns)
        LOGWARN("http: the kernel caps the accept queue at %u (net.core.somaxconn), below the "
                "%u connections allowed: a burst of new connections past it stalls until "
                "clients retransmit; raise it with sysctl -w net.core.somaxconn=%u",
                cap, conns, conns);
    fclose(f);
}

/* MHD must not stop with a connection suspended: every waiter is resumed,
 * and answers from now on wait in place (the journal outlives the server). */
static void resume_all(http_server_t *s)
{
    pthread_mutex_lock(&s->wait_lock);
    s->stopping = true;
    while (s->waiters) {
        struct MHD_Connection *c = s->waiters->c;
        waiter_unlink(s, s->waiters);
        MHD_resume_connection(c);
    }
    pthread_mutex_unlock(&s->wait_lock);
}

static void server_free(http_server_t *s)
{
    /* the streams end first: MHD cannot stop with connections suspended */
    if (s->sse) {
        node_set_listener(s->node, NULL, NULL);
        sse_shutdown(s->sse);
    }
    resume_all(s);
    if (s->subscription >= 0)
        node_unsubscribe_durable(s->node, s->subscription);
    if (s->daemon)
        MHD_stop_daemon(s->daemon); /* waits for requests in progress */
    httpguard_free(&s->guard);
    sse_destroy(&s->sse);
    api_destroy(&s->api);
    pthread_mutex_destroy(&s->wait_lock);
    free(s->cors_origin);
    free(s);
}

typedef struct {
    unsigned threads, conns, per_ip;
} limits_t;

static limits_t limits_of(const http_config_t *cfg)
{
    limits_t l;
    l.threads = cfg->threads ? cfg->threads : DEFAULT_THREADS;
    if (l.threads > MAX_THREADS)
        l.threads = MAX_THREADS;
    l.conns = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
    if (l.conns < l.threads) /* MHD splits the limit among the threads */
        l.conns = l.threads;
    l.per_ip = cfg->max_per_ip ? cfg->max_per_ip : DEFAULT_MAX_PER_IP;
    return l;
}

static int start_daemon(http_server_t *s, const http_config_t *cfg, struct sockaddr_storage *ss,
                        bool v6, uint16_t port, err_t *e)
{
    limits_t l = limits_of(cfg);
    /* A pool of internal threads, never one a connection, each with a poll()
     * loop. Not epoll: under the load test's burst of 1 000 connections,
     * libmicrohttpd 0.9.75's edge-triggered epoll loop once left one thread
     * asleep for 5 s with requests readable on some 50 of its connections,
     * until a client's close woke it; poll() is level-triggered, and its cost
     * over the few hundred connections a thread holds is small (bench_api). */
    /* suspend and resume: an event stream waits without holding a thread */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    s->daemon = MHD_start_daemon(
        /* the logger first, so that MHD's messages about the rest reach it */
        flags, port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss, MHD_OPTION_THREAD_POOL_SIZE, l.threads,
        MHD_OPTION_CONNECTION_LIMIT, l.conns, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
        /* one address cannot take every slot: the others' /status answers
         * (MHD counts an IPv6 address whole; the guard counts its /64) */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, l.per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_CONNECTION, httpguard_notify, (void *)s->guard, MHD_OPTION_END);
    if (!s->daemon) {
        int err = errno;
        return err_set(e, ERR_INTERNAL, "cannot serve HTTP on %s: %s", cfg->listen,
                       err ? strerror(err) : "libmicrohttpd failed to start");
    }
    LOGDEBUG("http: serving on %s (%u threads, %u connections, %u an address)", cfg->listen,
             l.threads, l.conns, l.per_ip);
    warn_small_accept_queue(l.conns);
    return 0;
}

int http_start(http_server_t **out, node_t *node, const http_config_t *cfg, err_t *e)
{
    *out = NULL;
    struct sockaddr_storage ss;
    bool v6 = false;
    uint16_t port = 0;
    int rc = parse_listen(cfg->listen, &ss, &v6, &port, e);
    if (rc < 0)
        return rc;
    /* MHD refuses a header value with a control character on every answer */
    for (const char *o = cfg->cors_origin; o && *o; o++)
        if ((unsigned char)*o < 0x20 || *o == 0x7f)
            return err_set(e, ERR_INTERNAL, "the CORS origin holds a control character");
    http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, ERR_INTERNAL, "out of memory");
    limits_t lim = limits_of(cfg);
    bool fail = false;
    s->node = node;
    s->cors_origin = dup_or_null(cfg->cors_origin, &fail);
    s->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
    s->node = node;
    s->explorer = !cfg->no_explorer;
    atomic_init(&s->requests, 0);
    pthread_mutex_init(&s->wait_lock, NULL);
    s->subscription = node_subscribe_durable(node, on_durable, s);
    if (s->subscription < 0)
        rc = err_set(e, ERR_INTERNAL, "no room to watch the mempool's durability");
    else
        rc = fail ? err_set(e, ERR_INTERNAL, "out of memory")
                  : api_new(&s->api, node, cfg->version, e);
    if (rc == 0)
        rc = sse_new(&s->sse, cfg->event_streams, SSE_KEEPALIVE_MS, e);
    if (rc == 0)
        rc = httpguard_new(&s->guard, &(httpguard_config_t){lim.conns, lim.per_ip}, e);
    if (rc == 0)
        rc = start_daemon(s, cfg, &ss, v6, port, e);
    if (rc < 0) {
        server_free(s);
        return rc;
    }
    node_set_listener(node, sse_publish, s->sse);
    *out = s;
    return 0;
}

void http_stop(http_server_t **s)
{
    if (!s || !*s)
        return;
    server_free(*s);
    *s = NULL;
}

uint64_t http_requests_total(const http_server_t *s)
{
    return s ? atomic_load_explicit(&s->requests, memory_order_relaxed) : 0;
}

uint16_t http_port(const http_server_t *s)
{
    const union MHD_DaemonInfo *info =
        s ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : 0;
}
