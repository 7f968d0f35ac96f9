#include "vectors.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

static json_t *loaded;

json_t *vectors(void)
{
    if (loaded)
        return loaded;
    const char *path = getenv("CHAIN_VECTORS");
    if (!path)
        path = CHAIN_VECTORS_PATH;
    json_error_t err;
    loaded = json_load_file(path, 0, &err);
    cr_assert_not_null(loaded, "cannot load the test vectors %s: %s (line %d). They are "
                       "required: put shared/ beside the checkout or set CHAIN_VECTORS",
                       path, err.text, err.line);
    return loaded;
}

json_t *vectors_section(const char *section)
{
    json_t *a = json_object_get(vectors(), section);
    cr_assert(json_is_array(a) && json_array_size(a) > 0, "vectors.json has no \"%s\" entries",
              section);
    return a;
}

const char *vstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    cr_assert_not_null(s, "vector field \"%s\" missing", key);
    return s;
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
