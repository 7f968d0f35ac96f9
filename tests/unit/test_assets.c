/* assets.h: every file of chaind/explorer/ and docs/openapi.json is in the
 * binary byte for byte, under its path, with its content type and the quoted
 * SHA-256 of its bytes as ETag; nothing else is found.
 *
 * The expected bytes are read from the source tree at test time and hashed
 * here, so a stale or mangled embedding fails. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "err.h"
#include "hash.h"
#include "hex.h"

#define EXPLORER_DIR CHAIN_SOURCE_DIR "/chaind/explorer"

/* The whole file at path (NUL-terminated; *len without the NUL). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static const char *type_for(const char *name)
{
    const char *dot = strrchr(name, '.');
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".json", "application/json"},
    };
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* The asset at url holds exactly the file at path, typed and tagged. */
static void check_same(const char *url, const char *path)
{
    size_t len;
    unsigned char *want = slurp(path, &len);
    assets_file_t a;
    cr_assert_eq(assets_find(url, &a), 0, "%s (from %s) is not embedded", url, path);
    cr_assert_eq(a.len, len, "%s: %zu bytes embedded, %zu in %s", url, a.len, len, path);
    cr_assert_eq(memcmp(a.data, want, len), 0, "%s: the embedded bytes differ from %s", url, path);
    cr_assert_eq(a.data[len], '\0', "%s: no NUL past the end", url);

    const char *type = type_for(path);
    cr_assert_not_null(type, "%s: a file type the test does not know", path);
    cr_assert_str_eq(a.content_type, type, "%s", url);

    uint8_t sha[32];
    char hex[65], etag[70];
    hash_sha256(sha, want, len);
    hex_encode(hex, sha, 32);
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    cr_assert_str_eq(a.etag, etag, "%s: the ETag is not the SHA-256 of the bytes", url);
    free(want);
}

Test(assets, every_explorer_file_is_embedded)
{
    DIR *d = opendir(EXPLORER_DIR);
    cr_assert_not_null(d, "cannot list %s", EXPLORER_DIR);
    size_t files = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        char url[300], path[sizeof EXPLORER_DIR + 300];
        snprintf(url, sizeof url, "/explorer/%s", ent->d_name);
        snprintf(path, sizeof path, "%s/%s", EXPLORER_DIR, ent->d_name);
        check_same(url, path);
        files++;
    }
    closedir(d);
    cr_assert_geq(files, 3, "the explorer has index.html, a script and a stylesheet at least");
}

Test(assets, the_page_and_the_api_description)
{
    check_same("/", EXPLORER_DIR "/index.html");
    check_same("/index.html", EXPLORER_DIR "/index.html");
    check_same("/openapi.json", CHAIN_SOURCE_DIR "/docs/openapi.json");
    assets_file_t root, index;
    cr_assert_eq(assets_find("/", &root), 0);
    cr_assert_eq(assets_find("/explorer/index.html", &index), 0);
    cr_assert_eq(root.data, index.data, "/ is the one copy of index.html");
}

Test(assets, the_page_names_only_embedded_files)
{
    /* a src= or href= of index.html that is no asset would be a 404 */
    assets_file_t page, a;
    cr_assert_eq(assets_find("/", &page), 0);
    const char *p = (const char *)page.data;
    size_t refs = 0;
    while ((p = strstr(p, "=\"/"))) {
        const char *end = strchr(p + 2, '"');
        cr_assert_not_null(end);
        char url[200];
        snprintf(url, sizeof url, "%.*s", (int)(end - p - 2), p + 2);
        cr_assert_eq(assets_find(url, &a), 0, "index.html names %s, which is not embedded", url);
        refs++;
        p = end;
    }
    cr_assert_geq(refs, 3, "index.html links its script, stylesheet and icon");
}

Test(assets, unknown_paths_are_not_found)
{
    static const char *const bad[] = {
        "", "/explorer", "/explorer/", "/explorer/nope.js", "/explorer/../docs/openapi.json",
        "/explorer/index.html/", "/index.htm", "//", "/INDEX.HTML", "/explorer/app.js?x=1",
        "/docs/openapi.json", "/status", "explorer/app.js",
    };
    assets_file_t a = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(assets_find(bad[i], &a), -ERR_NOT_FOUND, "\"%s\" was found", bad[i]);
        cr_assert_null(a.data, "\"%s\": *out was written", bad[i]);
    }
    cr_assert_eq(assets_find(NULL, &a), -ERR_NOT_FOUND);
}
