#include "vectors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

typedef struct {
    const char *env, *fallback, *name;
    json_t *loaded;
} vector_file_t;

static vector_file_t main_file = {"CHAIN_VECTORS", CHAIN_VECTORS_PATH, "vectors.json", NULL};
static vector_file_t ed25519_file = {"CHAIN_VECTORS_ED25519", CHAIN_VECTORS_ED25519_PATH,
                                     "vectors-ed25519.json", NULL};

static json_t *load(vector_file_t *f)
{
    if (f->loaded)
        return f->loaded;
    const char *path = getenv(f->env);
    if (!path)
        path = f->fallback;
    json_error_t err;
    f->loaded = json_load_file(path, 0, &err);
    cr_assert_not_null(f->loaded, "cannot load the test vectors %s: %s (line %d). They are "
                       "required: put shared/ beside the checkout or set %s",
                       path, err.text, err.line, f->env);
    return f->loaded;
}

static json_t *section(vector_file_t *f, const char *name)
{
    json_t *a = json_object_get(load(f), name);
    cr_assert(json_is_array(a) && json_array_size(a) > 0, "%s has no \"%s\" entries", f->name,
              name);
    return a;
}

json_t *vectors(void) { return load(&main_file); }
json_t *vectors_ed25519(void) { return load(&ed25519_file); }
json_t *vectors_section(const char *name) { return section(&main_file, name); }
json_t *vectors_ed25519_section(const char *name) { return section(&ed25519_file, name); }

const char *vstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    cr_assert_not_null(s, "vector field \"%s\" missing", key);
    return s;
}

bool vbool(const json_t *o, const char *key)
{
    json_t *b = json_object_get(o, key);
    cr_assert(json_is_boolean(b), "vector field \"%s\" is not a boolean", key);
    return json_is_true(b);
}

uint8_t *vhex(const json_t *o, const char *key, size_t *len)
{
    const char *s = vstr(o, key);
    size_t n = strlen(s) / 2;
    uint8_t *out = malloc(n ? n : 1);
    cr_assert_not_null(out);
    cr_assert_eq(hex_decode(out, n, s, strlen(s)), (long)n, "vector field \"%s\" is not hex", key);
    *len = n;
    return out;
}

void vhex_exact(const json_t *o, const char *key, uint8_t *out, size_t len)
{
    cr_assert_eq(hex_decode_exact(out, len, vstr(o, key)), 0,
                 "vector field \"%s\" is not %zu hex bytes", key, len);
}

uint8_t *vectors_block(size_t header_index, size_t *len)
{
    const json_t *hv = json_array_get(vectors_section("headers"), header_index);
    const json_t *cb = json_array_get(vectors_section("coinbase"), 0);
    cr_assert_not_null(hv);
    char hex[2048];
    int n = snprintf(hex, sizeof hex, "92c458%s91%s", vstr(hv, "hex"), vstr(cb, "hex"));
    cr_assert(n > 0 && (size_t)n < sizeof hex);
    *len = (size_t)n / 2;
    uint8_t *raw = malloc(*len);
    cr_assert_not_null(raw);
    cr_assert_eq(hex_decode(raw, *len, hex, (size_t)n), (long)*len);
    return raw;
}
