/* common/promhttp.h: the /metrics server of gossipd and minerd, scraped
 * with libcurl on 127.0.0.1 — the render's text under Prometheus's content
 * type, the JSON errors for other paths and methods and for a render that
 * fails, the addresses it refuses, a port already taken, and stop. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder.h"
#include "promhttp.h"

#define METRICS_TEXT "# TYPE x counter\nx 1\n"

typedef struct {
    atomic_int calls;
    bool fail;
} render_ctx_t;

static int render(void *ctx, char **text, size_t *len, err_t *e)
{
    render_ctx_t *r = ctx;
    atomic_fetch_add(&r->calls, 1);
    if (r->fail)
        return err_set(e, ERR_INTERNAL, "out of memory");
    *text = strdup(METRICS_TEXT);
    cr_assert_not_null(*text);
    *len = strlen(METRICS_TEXT);
    return 0;
}

typedef struct {
    promhttp_t *s;
    char hostport[64], url[96]; /* url: http://HOSTPORT */
} server_t;

/* On a free loopback port: another test may take one between its draw and
 * the bind, so a port in use is drawn again. */
static void start(server_t *srv, render_ctx_t *ctx)
{
    err_t e;
    for (int attempt = 0; attempt < 5; attempt++) {
        snprintf(srv->hostport, sizeof srv->hostport, "127.0.0.1:%d", tb_free_port());
        snprintf(srv->url, sizeof srv->url, "http://%s", srv->hostport);
        if (promhttp_start(&srv->s, srv->hostport, render, ctx, &e) == 0)
            return;
        cr_assert_eq(e.code, ERR_INTERNAL, "%s", e.message);
    }
    cr_assert_fail("no free port: %s", e.message);
}

typedef struct {
    long status;
    char type[128];
    tb_http_t r; /* the body (and its JSON) */
} reply_t;

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    reply_t *rep = arg;
    size_t len = size * n;
    if (len > 14 && strncasecmp(data, "Content-Type: ", 14) == 0) {
        size_t v = len - 14;
        while (v && (data[14 + v - 1] == '\r' || data[14 + v - 1] == '\n'))
            v--;
        snprintf(rep->type, sizeof rep->type, "%.*s", (int)v, data + 14);
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    tb_http_t *r = arg;
    size_t len = size * n;
    char *grown = realloc(r->body, r->len + len + 1);
    cr_assert_not_null(grown);
    memcpy(grown + r->len, data, len);
    r->body = grown;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

/* One request: its status, Content-Type and body. */
static void request(reply_t *rep, const char *method, const char *url)
{
    memset(rep, 0, sizeof *rep);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rep);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rep->r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
    curl_easy_cleanup(c);
    if (rep->r.body)
        rep->r.json = json_loads(rep->r.body, 0, NULL);
}

Test(promhttp, serves_the_render)
{
    render_ctx_t ctx = {0};
    server_t srv;
    start(&srv, &ctx);
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", srv.url);
    for (int i = 1; i <= 3; i++) { /* each scrape renders anew */
        reply_t rep;
        request(&rep, "GET", url);
        cr_assert_eq(rep.status, 200);
        cr_assert_str_eq(rep.type, PROMHTTP_CONTENT_TYPE);
        cr_assert_str_eq(rep.r.body, METRICS_TEXT);
        cr_assert_eq(atomic_load(&ctx.calls), i);
        tb_http_free(&rep.r);
    }
    reply_t head;
    request(&head, "HEAD", url);
    cr_assert_eq(head.status, 200);
    cr_assert_str_eq(head.type, PROMHTTP_CONTENT_TYPE);
    cr_assert_eq(head.r.len, 0);
    tb_http_free(&head.r);
    promhttp_stop(&srv.s);
    cr_assert_null(srv.s);
    promhttp_stop(&srv.s); /* NULL: nothing to do */
}

/* Everything but GET or HEAD /metrics: the JSON error with its stable code. */
Test(promhttp, answers_the_rest_with_json_errors)
{
    static const struct {
        const char *method, *path;
        bool fail;
        long status;
        const char *code;
    } cases[] = {
        {"GET", "/", false, 404, "not_found"},
        {"GET", "/metrics/", false, 404, "not_found"},
        {"GET", "/metricsx", false, 404, "not_found"},
        {"POST", "/nope", false, 404, "not_found"},
        {"POST", "/metrics", false, 405, "method_not_allowed"},
        {"DELETE", "/metrics", false, 405, "method_not_allowed"},
        {"PUT", "/metrics", false, 405, "method_not_allowed"},
        {"GET", "/metrics", true, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        render_ctx_t ctx = {.fail = cases[i].fail};
        server_t srv;
        start(&srv, &ctx);
        char url[160];
        snprintf(url, sizeof url, "%s%s", srv.url, cases[i].path);
        reply_t rep;
        request(&rep, cases[i].method, url);
        cr_assert_eq(rep.status, cases[i].status, "%s %s", cases[i].method, cases[i].path);
        cr_assert_str_eq(rep.type, "application/json");
        /* chaind's error shape: {"error": code, "message": text} */
        const char *code = json_string_value(json_object_get(rep.r.json, "error"));
        cr_assert_not_null(code, "%s %s: not the JSON error: %s", cases[i].method,
                           cases[i].path, rep.r.body);
        cr_assert_str_eq(code, cases[i].code);
        cr_assert_not_null(json_string_value(json_object_get(rep.r.json, "message")));
        cr_assert_eq(atomic_load(&ctx.calls), cases[i].fail ? 1 : 0,
                     "%s %s: rendered or not", cases[i].method, cases[i].path);
        tb_http_free(&rep.r);
        promhttp_stop(&srv.s);
    }
}

Test(promhttp, refuses_malformed_addresses)
{
    char long_host[400];
    memset(long_host, 'h', 300);
    strcpy(long_host + 300, ":9100");
    const char *bad[] = {"", "9100", "localhost", ":9100", "127.0.0.1:", "127.0.0.1:http",
                         "127.0.0.1:9x", "no-such-host.invalid:9100", "[::1", long_host};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        render_ctx_t ctx = {0};
        promhttp_t *s = (promhttp_t *)1;
        err_t e;
        cr_assert_eq(promhttp_start(&s, bad[i], render, &ctx, &e), -(int)ERR_BAD_REQUEST,
                     "'%s' accepted", bad[i]);
        cr_assert_eq(e.code, ERR_BAD_REQUEST);
        cr_assert_not_null(strstr(e.message, "--metrics"), "%s", e.message);
        cr_assert_eq(s, (promhttp_t *)1, "'%s': *out written on failure", bad[i]);
    }
}

Test(promhttp, a_port_in_use_is_named)
{
    render_ctx_t ctx = {0};
    server_t srv;
    start(&srv, &ctx);
    promhttp_t *second = NULL;
    err_t e;
    cr_assert_eq(promhttp_start(&second, srv.hostport, render, &ctx, &e), -(int)ERR_INTERNAL);
    cr_assert_null(second);
    cr_assert_not_null(strstr(e.message, srv.hostport), "%s", e.message);
    promhttp_stop(&srv.s);
}

/* Bracketed IPv6 where the machine has ::1 (a container may not). */
Test(promhttp, serves_on_ipv6_loopback)
{
    render_ctx_t ctx = {0};
    promhttp_t *s;
    err_t e;
    char hostport[64], url[96];
    snprintf(hostport, sizeof hostport, "[::1]:%d", tb_free_port());
    if (promhttp_start(&s, hostport, render, &ctx, &e) < 0)
        cr_skip_test("no IPv6 loopback here (or the port was taken): %s", e.message);
    snprintf(url, sizeof url, "http://%s/metrics", hostport);
    reply_t rep;
    request(&rep, "GET", url);
    cr_assert_eq(rep.status, 200);
    cr_assert_str_eq(rep.r.body, METRICS_TEXT);
    tb_http_free(&rep.r);
    promhttp_stop(&s);
}
