/* hash.h against published vectors: SHA-256 (FIPS 180-2 appendix B and the
 * NIST one-million-'a' message), RIPEMD-160 (the algorithm authors' page),
 * and SHA-256d / HASH160 as compositions of the two. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hex.h"
#include "vectors.h"

/* The 448-bit message of FIPS 180-2 B.2 and the RIPEMD-160 page. */
static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void assert_hex(const uint8_t *got, size_t len, const char *want, const char *what)
{
    char hex[2 * 64 + 1];
    cr_assert_leq(len, 64);
    hex_encode(hex, got, len);
    cr_assert_str_eq(hex, want, "%s", what);
}

static void check_sha256(const void *data, size_t len, const char *want, const char *what)
{
    uint8_t out[32];
    hash_sha256(out, data, len);
    assert_hex(out, sizeof out, want, what);
}

static void check_ripemd160(const void *data, size_t len, const char *want, const char *what)
{
    uint8_t out[20];
    hash_ripemd160(out, data, len);
    assert_hex(out, sizeof out, want, what);
}

Test(sha256, fips_abc)
{
    check_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                 "SHA256(\"abc\")");
}

Test(sha256, empty)
{
    check_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                 "SHA256(\"\")");
}

Test(sha256, fips_448_bits)
{
    check_sha256(msg448, strlen(msg448),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
                 "SHA256(448-bit message)");
}

Test(sha256, one_million_a)
{
    size_t n = 1000000;
    char *a = malloc(n);
    cr_assert_not_null(a);
    memset(a, 'a', n);
    check_sha256(a, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                 "SHA256(10^6 x 'a')");
    free(a);
}

Test(ripemd160, published_vectors)
{
    static const struct {
        const char *msg;
        const char *digest;
    } v[] = {
        {"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"},
        {"a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"},
        {"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"},
        {"message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"},
        {"abcdefghijklmnopqrstuvwxyz", "f71c27109c692c1b56bbdceb5b9d2865b3708dbc"},
        {msg448, "12a053384a9c0c88e405a06c27dcf49ada62eb2b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "b0e20b6e3116640286ed3a87a5713079b21f5189"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "9b752e45573d4b39f4dbd3323cab82bf63326bfb"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_ripemd160(v[i].msg, strlen(v[i].msg), v[i].digest, v[i].msg);
}

Test(ripemd160, one_million_a)
{
    size_t n = 1000000;
    char *a = malloc(n);
    cr_assert_not_null(a);
    memset(a, 'a', n);
    check_ripemd160(a, n, "52783243c1697bdbe16d37f97f68f08325dc1528", "RIPEMD160(10^6 x 'a')");
    free(a);
}

Test(sha256d, known_values)
{
    /* SHA256(SHA256("hello")), the Bitcoin wiki's example, and of "abc". */
    hash32_t h;
    hash_sha256d(&h, "hello", 5);
    assert_hex(h.b, 32, "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50",
               "SHA256d(\"hello\")");
    hash_sha256d(&h, "abc", 3);
    assert_hex(h.b, 32, "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
               "SHA256d(\"abc\")");
}

Test(sha256d, is_sha256_twice)
{
    /* Several lengths around the 64-byte block boundary. */
    uint8_t data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    static const size_t lens[] = {0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 128, 200};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t once[32], twice[32];
        hash32_t d;
        hash_sha256(once, data, lens[i]);
        hash_sha256(twice, once, sizeof once);
        hash_sha256d(&d, data, lens[i]);
        cr_assert_arr_eq(d.b, twice, 32, "sha256d != sha256(sha256) for %zu bytes", lens[i]);
        /* and it is not just one round */
        cr_assert_arr_neq(d.b, once, 32);
    }
}

Test(hash160, is_ripemd160_of_sha256)
{
    uint8_t data[100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(255 - i);
    static const size_t lens[] = {0, 1, 32, 33, 65, 100};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t sha[32], rmd[20];
        hash20_t h;
        hash_sha256(sha, data, lens[i]);
        hash_ripemd160(rmd, sha, sizeof sha);
        hash_hash160(&h, data, lens[i]);
        cr_assert_arr_eq(h.b, rmd, 20, "hash160 != ripemd160(sha256) for %zu bytes", lens[i]);
    }
}

Test(hash160, key_vectors)
{
    /* The independent implementation's HASH160 of each test public key. */
    json_t *keys = vectors_section("keys");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        uint8_t pubkey[32], want[20];
        vhex_exact(k, "pubkey", pubkey, sizeof pubkey);
        vhex_exact(k, "pubkey_hash", want, sizeof want);
        hash20_t h;
        hash_hash160(&h, pubkey, sizeof pubkey);
        cr_assert_arr_eq(h.b, want, 20, "HASH160 of key %s", vstr(k, "name"));
    }
}

Test(hash32, eq_and_is_zero)
{
    hash32_t zero = {{0}}, a = {{0}}, b;
    cr_assert(hash32_is_zero(&zero));
    cr_assert(hash32_eq(&zero, &a));
    for (size_t i = 0; i < 32; i++) {
        /* a difference in any single byte, first to last, is seen */
        b = zero;
        b.b[i] = 0x01;
        cr_assert_not(hash32_is_zero(&b), "byte %zu set but hash reads as zero", i);
        cr_assert_not(hash32_eq(&zero, &b), "byte %zu differs but hashes compare equal", i);
        cr_assert_not(hash32_eq(&b, &zero));
        a = b;
        cr_assert(hash32_eq(&a, &b));
    }
    memset(b.b, 0xff, 32);
    a = b;
    a.b[31] = 0xfe;
    cr_assert_not(hash32_eq(&a, &b));
    cr_assert_not(hash32_is_zero(&a));
}

/* ---- SHA-256 in pieces (the UTXO-set digest) ---- */

Test(sha256, stream_equals_one_shot)
{
    /* the NIST one-million-'a' message, fed in uneven pieces */
    char *a = malloc(1000000);
    cr_assert_not_null(a);
    memset(a, 'a', 1000000);
    hash_stream_t s;
    uint8_t out[32];
    hash_sha256_begin(&s);
    for (size_t pos = 0, step = 1; pos < 1000000; pos += step, step = step * 3 % 65521 + 1)
        hash_stream_update(&s, a + pos, pos + step > 1000000 ? 1000000 - pos : step);
    hash_stream_end(&s, out);
    cr_assert_null(s.ctx_);
    assert_hex(out, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
               "SHA256(10^6 'a') in pieces");
    free(a);
    hash_sha256_begin(&s);
    hash_stream_update(&s, "", 0);
    hash_stream_end(&s, out);
    assert_hex(out, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "SHA256 of nothing");
}
