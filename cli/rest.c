#include "rest.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANSWER (64u << 20) /* a node's answer is bounded: /block pages at 4 MiB */

typedef struct {
    char *data;
    size_t len, cap;
} answer_t;

/* The buffer doubles: curl hands the answer over in 16 KiB pieces, and
 * growing by a piece at a time copies a big answer over and over. */
static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    answer_t *a = arg;
    size_t add = size * n;
    if (a->len + add > MAX_ANSWER)
        return 0;
    if (a->len + add + 1 > a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4096;
        while (cap < a->len + add + 1)
            cap *= 2;
        cap = cap > MAX_ANSWER + 1 ? MAX_ANSWER + 1 : cap;
        char *grown = realloc(a->data, cap);
        if (!grown)
            return 0;
        a->data = grown;
        a->cap = cap;
    }
    memcpy(a->data + a->len, data, add);
    a->len += add;
    a->data[a->len] = '\0';
    return add;
}

int rest_call(const char *base_url, const char *method, const char *path, const json_t *body,
                long *status, json_t **answer, err_t *e)
{
    *answer = NULL;
    size_t url_len = strlen(base_url) + strlen(path) + 1;
    char *url = malloc(url_len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    CURL *c = curl_easy_init();
    if (!url || !c || (body && !text)) {
        free(url);
        free(text);
        curl_easy_cleanup(c);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    /* "http://host:8080/" + "/block": one slash between */
    snprintf(url, url_len, "%s%s", base_url, path);
    size_t b = strlen(base_url);
    if (b && base_url[b - 1] == '/' && path[0] == '/')
        memmove(url + b - 1, url + b, strlen(url + b) + 1);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    answer_t a = {NULL, 0, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    CURLcode rc = curl_easy_perform(c);
    int result = 0;
    if (rc != CURLE_OK) {
        result = err_set(e, ERR_UNAVAILABLE, "cannot reach the node at %s: %s (is chaind "
                         "running? see --node)", base_url, curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        *answer = a.data ? json_loads(a.data, 0, NULL) : NULL;
    }
    free(a.data);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    free(text);
    free(url);
    return result;
}

int rest_error(const json_t *answer, long status, err_t *e)
{
    const char *code = json_string_value(json_object_get(answer, "error"));
    const char *message = json_string_value(json_object_get(answer, "message"));
    err_code_t c = code ? err_from_str(code) : ERR_COUNT_;
    return err_set(e, c == ERR_COUNT_ ? ERR_INTERNAL : c, "the node answered %ld %s: %s", status,
                   code ? code : "(no code)", message ? message : "(no message)");
}
