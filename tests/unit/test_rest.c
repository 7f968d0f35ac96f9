/* cli/rest.h: chain-cli's requests against an HTTP server in the test's own
 * process (libmicrohttpd on 127.0.0.1, a port the kernel picks) that records
 * what it was sent and answers what the test scripted: the URL joined once,
 * the method and the JSON body sent, answers parsed or not JSON, the bound
 * on an answer, an unreachable node, and the node's error answers read
 * back by rest_error(). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rest.h"

#define MAX_ANSWER ((size_t)64u << 20) /* rest.c's bound on an answer */

typedef struct {
    struct MHD_Daemon *mhd;
    char base[64]; /* http://127.0.0.1:PORT */
    /* the script: what every request is answered */
    unsigned status;
    const char *body;
    size_t big; /* > 0: a body of this many spaces instead */
    /* what the last request was */
    pthread_mutex_t lock;
    int requests;
    char method[16], url[256], content_type[128];
    char *upload;
    size_t upload_len;
} server_t;

typedef struct {
    char *data;
    size_t len;
} upload_t;

static ssize_t spaces(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t total = *(size_t *)cls, n = total - (size_t)pos < max ? total - (size_t)pos : max;
    memset(buf, ' ', n);
    return (ssize_t)n;
}

static void record(server_t *s, struct MHD_Connection *c, const char *url, const char *method,
                   upload_t *u)
{
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    pthread_mutex_lock(&s->lock);
    s->requests++;
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->url, sizeof s->url, "%s", url);
    snprintf(s->content_type, sizeof s->content_type, "%s", type ? type : "");
    free(s->upload);
    s->upload = u->data;
    s->upload_len = u->len;
    pthread_mutex_unlock(&s->lock);
    free(u);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_len, void **state)
{
    (void)version;
    server_t *s = cls;
    upload_t *u = *state;
    if (!u) {
        *state = calloc(1, sizeof *u);
        return *state ? MHD_YES : MHD_NO;
    }
    if (*data_len) {
        char *grown = realloc(u->data, u->len + *data_len + 1);
        if (!grown)
            return MHD_NO;
        memcpy(grown + u->len, data, *data_len);
        u->data = grown;
        u->len += *data_len;
        u->data[u->len] = '\0';
        *data_len = 0;
        return MHD_YES;
    }
    *state = NULL;
    record(s, c, url, method, u);
    struct MHD_Response *r =
        s->big ? MHD_create_response_from_callback(s->big, 1 << 16, spaces, &s->big, NULL)
               : MHD_create_response_from_buffer(strlen(s->body), (void *)s->body,
                                                 MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(c, s->status, r);
    MHD_destroy_response(r);
    return rc;
}

static void server_start(server_t *s, unsigned status, const char *body)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->status = status;
    s->body = body;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_END);
    cr_assert_not_null(s->mhd, "the test's HTTP server did not start");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    cr_assert(info && info->port);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", (unsigned)info->port);
}

static void server_stop(server_t *s)
{
    MHD_stop_daemon(s->mhd);
    free(s->upload);
    pthread_mutex_destroy(&s->lock);
}

/* --- rest_call ------------------------------------------------------------------- */

Test(rest, get_parses_the_answer)
{
    server_t s;
    server_start(&s, 200, "{\"height\": 12, \"tip\": \"ab\"}");
    long status = 0;
    json_t *answer;
    err_t e;
    cr_assert_eq(rest_call(s.base, "GET", "/status", NULL, &status, &answer, &e), 0, "%s",
                 e.message);
    cr_assert_eq(status, 200);
    cr_assert_not_null(answer);
    cr_assert_eq(json_integer_value(json_object_get(answer, "height")), 12);
    cr_assert_str_eq(s.method, "GET");
    cr_assert_str_eq(s.url, "/status");
    cr_assert_eq(s.upload_len, 0, "a GET without a body sent one");
    cr_assert_eq(s.requests, 1);
    json_decref(answer);
    server_stop(&s);
}

Test(rest, post_sends_compact_json)
{
    server_t s;
    server_start(&s, 201, "{\"ok\": true}");
    json_t *body = json_pack("{s:s, s:[i,i]}", "hex", "00ff", "n", 1, 2), *answer;
    long status = 0;
    err_t e;
    cr_assert_eq(rest_call(s.base, "POST", "/transactions", body, &status, &answer, &e), 0, "%s",
                 e.message);
    cr_assert_eq(status, 201);
    cr_assert(json_is_true(json_object_get(answer, "ok")));
    cr_assert_str_eq(s.method, "POST");
    cr_assert_str_eq(s.url, "/transactions");
    cr_assert_str_eq(s.content_type, "application/json");
    cr_assert_not_null(s.upload);
    json_t *sent = json_loads(s.upload, 0, NULL);
    cr_assert(json_equal(sent, body), "the server got %s", s.upload);
    cr_assert_null(strchr(s.upload, ' '), "not compact: %s", s.upload);
    json_decref(sent);
    json_decref(body);
    json_decref(answer);
    server_stop(&s);
}

/* base_url and path are joined with one slash between them, whatever the
 * user typed in --node. */
Test(rest, url_is_joined_with_one_slash)
{
    static const struct {
        const char *base_tail, *path, *want;
    } cases[] = {
        {"", "/block", "/block"},
        {"/", "/block", "/block"},
        {"/api", "/block", "/api/block"},
        {"/api/", "/block", "/api/block"},
        {"/", "/utxo/Cabc?x=1", "/utxo/Cabc"},
    };
    server_t s;
    server_start(&s, 200, "[]");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char base[128];
        snprintf(base, sizeof base, "%s%s", s.base, cases[i].base_tail);
        long status;
        json_t *answer;
        err_t e;
        cr_assert_eq(rest_call(base, "GET", cases[i].path, NULL, &status, &answer, &e), 0,
                     "%s", e.message);
        cr_assert_str_eq(s.url, cases[i].want, "%s + %s", base, cases[i].path);
        json_decref(answer);
    }
    server_stop(&s);
}

/* Any reply is a reply: its status, and its JSON when it has some. */
Test(rest, replies_of_every_kind)
{
    static const struct {
        unsigned status;
        const char *body;
        bool json;
    } cases[] = {
        {200, "{}", true},
        {404, "{\"error\":\"not_found\",\"message\":\"no such block\"}", true},
        {500, "<html>oops</html>", false},
        {200, "", false},
        {204, "", false},
        {200, "{\"truncated\": ", false},
        {503, "[1, 2, 3]", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        server_t s;
        server_start(&s, cases[i].status, cases[i].body);
        long status = 0;
        json_t *answer = (json_t *)1;
        err_t e;
        cr_assert_eq(rest_call(s.base, "GET", "/x", NULL, &status, &answer, &e), 0,
                     "case %zu: %s", i, e.message);
        cr_assert_eq(status, (long)cases[i].status, "case %zu", i);
        cr_assert_eq(answer != NULL, cases[i].json, "case %zu: JSON or not", i);
        json_decref(answer);
        server_stop(&s);
    }
}

Test(rest, an_answer_at_the_bound_is_taken)
{
    server_t s;
    server_start(&s, 200, NULL);
    s.big = MAX_ANSWER;
    long status = 0;
    json_t *answer = (json_t *)1;
    err_t e;
    cr_assert_eq(rest_call(s.base, "GET", "/block", NULL, &status, &answer, &e), 0, "%s",
                 e.message);
    cr_assert_eq(status, 200);
    cr_assert_null(answer, "spaces are no JSON");
    server_stop(&s);
}

Test(rest, an_answer_past_the_bound_is_refused)
{
    server_t s;
    server_start(&s, 200, NULL);
    s.big = MAX_ANSWER + 1;
    long status;
    json_t *answer = (json_t *)1;
    err_t e;
    cr_assert_eq(rest_call(s.base, "GET", "/block", NULL, &status, &answer, &e),
                 -(int)ERR_UNAVAILABLE);
    cr_assert_null(answer);
    cr_assert_not_null(strstr(e.message, s.base), "%s", e.message);
    /* refused by the bound, not timed out */
    cr_assert_not_null(strstr(e.message, curl_easy_strerror(CURLE_WRITE_ERROR)), "%s",
                       e.message);
    server_stop(&s);
}

/* A loopback port bound but not listening: connections to it are refused,
 * and no other test can take it while the socket is held. */
static int refusing_port(int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(*fd, 0);
    cr_assert_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

Test(rest, an_unreachable_node_is_unavailable)
{
    int fd;
    char refused[64];
    snprintf(refused, sizeof refused, "http://127.0.0.1:%d", refusing_port(&fd));
    const char *bases[] = {refused, "nope://127.0.0.1:1", "http://[::1", ""};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        long status = -7;
        json_t *answer = (json_t *)1;
        err_t e;
        json_t *body = json_pack("{s:i}", "x", 1);
        cr_assert_eq(rest_call(bases[i], "POST", "/block", body, &status, &answer, &e),
                     -(int)ERR_UNAVAILABLE, "%s reached", bases[i]);
        cr_assert_eq(e.code, ERR_UNAVAILABLE);
        cr_assert_null(answer, "%s: an answer without a reply", bases[i]);
        cr_assert_eq(status, -7, "%s: a status without a reply", bases[i]);
        cr_assert_not_null(strstr(e.message, "cannot reach the node at"), "%s", e.message);
        cr_assert_not_null(strstr(e.message, "--node"), "no hint in: %s", e.message);
        json_decref(body);
    }
    close(fd);
}

/* --- rest_error ------------------------------------------------------------------- */

Test(rest, error_answers_are_read_back)
{
    static const struct {
        const char *answer;
        long status;
        err_code_t code;
        const char *message;
    } cases[] = {
        {"{\"error\":\"not_found\",\"message\":\"no block 9\"}", 404, ERR_NOT_FOUND,
         "the node answered 404 not_found: no block 9"},
        {"{\"error\":\"fee_too_low\",\"message\":\"pay more\"}", 400, ERR_FEE_TOO_LOW,
         "the node answered 400 fee_too_low: pay more"},
        {"{\"error\":\"mempool_full\"}", 503, ERR_MEMPOOL_FULL,
         "the node answered 503 mempool_full: (no message)"},
        {"{\"error\":\"made_up\",\"message\":\"?\"}", 400, ERR_INTERNAL,
         "the node answered 400 made_up: ?"},
        {"{\"error\":7,\"message\":\"x\"}", 500, ERR_INTERNAL,
         "the node answered 500 (no code): x"},
        {"{\"error\":{\"code\":\"not_found\"}}", 404, ERR_INTERNAL,
         "the node answered 404 (no code): (no message)"},
        {"[]", 502, ERR_INTERNAL, "the node answered 502 (no code): (no message)"},
        {NULL, 500, ERR_INTERNAL, "the node answered 500 (no code): (no message)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = cases[i].answer ? json_loads(cases[i].answer, 0, NULL) : NULL;
        cr_assert(j || !cases[i].answer);
        err_t e;
        cr_assert_eq(rest_error(j, cases[i].status, &e), -(int)cases[i].code, "case %zu", i);
        cr_assert_eq(e.code, cases[i].code, "case %zu", i);
        cr_assert_str_eq(e.message, cases[i].message, "case %zu", i);
        json_decref(j);
    }
}

/* A node's message of any length fits the error, cut short. */
Test(rest, a_long_message_is_cut_not_overflowed)
{
    char text[4096];
    memset(text, 'm', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    json_t *j = json_pack("{s:s, s:s}", "error", "bad_request", "message", text);
    err_t e;
    cr_assert_eq(rest_error(j, 400, &e), -(int)ERR_BAD_REQUEST);
    cr_assert_eq(strlen(e.message), sizeof e.message - 1);
    json_decref(j);
}
