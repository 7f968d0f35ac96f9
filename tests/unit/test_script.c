/* Script (DESIGN §3.3): the interpreter against the independent vectors, its
 * limits at their exact edges, the lossless ASM form, the P2PKH templates and
 * the pluggable signature checker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "script.h"
#include "tx.h"
#include "vectors.h"

/* ---- helpers ---------------------------------------------------------- */

static hash32_t vector_sighash(void)
{
    /* the sighash every "scripts" vector signs: the first tx vector's */
    hash32_t h;
    vhex_exact(json_array_get(vectors_section("transactions"), 0), "sighash", h.b, 32);
    return h;
}

static int verify(const uint8_t *u, size_t ul, const uint8_t *l, size_t ll, err_t *e)
{
    hash32_t sh = vector_sighash();
    return script_verify(u, ul, l, ll, &sh, NULL, e);
}

static void assert_valid(const uint8_t *u, size_t ul, const uint8_t *l, size_t ll, const char *why)
{
    err_t e = {0};
    int rc = verify(u, ul, l, ll, &e);
    cr_assert_eq(rc, 0, "%s: rejected: %s", why, e.message);
}

static void assert_fails(const uint8_t *u, size_t ul, const uint8_t *l, size_t ll, const char *why)
{
    err_t e = {0};
    int rc = verify(u, ul, l, ll, &e);
    cr_assert_eq(rc, -ERR_SCRIPT_FAILED, "%s: got %d, expected script_failed", why, rc);
    cr_assert_eq(e.code, ERR_SCRIPT_FAILED, "%s", why);
    cr_assert_neq(e.message[0], '\0', "%s: a failure says why", why);
}

/* Bytes from a hex literal (test data written in the test). */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    long n = hex_decode(out, cap, hex, strlen(hex));
    cr_assert(n >= 0, "bad test hex %s", hex);
    return (size_t)n;
}

/* ASM of bytes, malloc'd. */
static char *asm_of(const uint8_t *s, size_t n)
{
    char *a = malloc(SCRIPT_ASM_MAX(n));
    cr_assert_not_null(a);
    script_to_asm(a, s, n);
    cr_assert_lt(strlen(a), SCRIPT_ASM_MAX(n), "ASM within its documented bound");
    return a;
}

/* bytes -> ASM -> bytes gives the same bytes. */
static void assert_round_trip(const uint8_t *s, size_t n, const char *why)
{
    char *a = asm_of(s, n);
    uint8_t *back = malloc(n + 1);
    cr_assert_not_null(back);
    size_t len = 12345;
    err_t e = {0};
    cr_assert_eq(script_from_asm(back, n, &len, a, &e), 0, "%s: ASM \"%s\" does not parse: %s",
                 why, a, e.message);
    cr_assert_eq(len, n, "%s: ASM \"%s\" gives %zu bytes, not %zu", why, a, len, n);
    cr_assert_arr_eq(back, s, n, "%s: ASM \"%s\" changes the bytes", why, a);
    free(back);
    free(a);
}

/* ---- the "scripts" vectors ------------------------------------------- */

Test(script_vectors, verify)
{
    json_t *arr = vectors_section("scripts"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        size_t ul, ll;
        uint8_t *u = vhex(v, "unlocking", &ul), *l = vhex(v, "locking", &ll);
        hash32_t sh;
        vhex_exact(v, "sighash", sh.b, 32);
        json_t *valid = json_object_get(v, "valid");
        cr_assert(json_is_boolean(valid));
        err_t e = {0};
        int rc = script_verify(u, ul, l, ll, &sh, NULL, &e);
        if (json_is_true(valid)) {
            cr_assert_eq(rc, 0, "\"%s\" rejected: %s", vstr(v, "description"), e.message);
        } else {
            cr_assert_eq(rc, -ERR_SCRIPT_FAILED, "\"%s\" gave %d", vstr(v, "description"), rc);
            cr_assert_eq(e.code, ERR_SCRIPT_FAILED);
            cr_assert_neq(e.message[0], '\0');
        }
        /* e may be NULL */
        cr_assert_eq(script_verify(u, ul, l, ll, &sh, NULL, NULL), rc);
        free(u);
        free(l);
    }
}

/* Each signature edge case (vectors-ed25519.json) as the P2PKH spend it
 * stands for: the pair is the signature's own (40 <sig> 20 <pubkey> against
 * the pubkey's hash, so only OP_CHECKSIG can decide), and the interpreter's
 * verdict is the vector's. */
Test(script_vectors, ed25519_edges_as_p2pkh)
{
    json_t *arr = vectors_ed25519_section("signatures"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        const char *what = vstr(v, "description");
        uint8_t pub[32], sig[64], want_u[SCRIPT_P2PKH_UNLOCK_LEN], want_l[SCRIPT_P2PKH_LOCK_LEN];
        vhex_exact(v, "pubkey", pub, 32);
        vhex_exact(v, "signature", sig, 64);
        hash20_t pkh;
        hash_hash160(&pkh, pub, 32);
        script_p2pkh_unlock(want_u, sig, pub);
        script_p2pkh_lock(want_l, &pkh);
        size_t ul, ll;
        uint8_t *u = vhex(v, "unlocking", &ul), *l = vhex(v, "locking", &ll);
        cr_assert(ul == sizeof want_u && memcmp(u, want_u, ul) == 0,
                  "\"%s\": unlocking is not 40 <sig> 20 <pubkey>", what);
        cr_assert(ll == sizeof want_l && memcmp(l, want_l, ll) == 0,
                  "\"%s\": locking is not P2PKH to HASH160(pubkey)", what);
        hash32_t sh;
        vhex_exact(v, "sighash", sh.b, 32);
        err_t e = {0};
        int rc = script_verify(u, ul, l, ll, &sh, NULL, &e);
        if (vbool(v, "valid"))
            cr_assert_eq(rc, 0, "\"%s\" rejected: %s", what, e.message);
        else
            cr_assert_eq(rc, -ERR_SCRIPT_FAILED, "\"%s\" gave %d, not script_failed", what, rc);
        free(u);
        free(l);
    }
}

/* ---- ASM -------------------------------------------------------------- */

/* Each script of each transaction and coinbase vector renders as the JSON's
 * ASM, and that ASM parses back to the same bytes. */
Test(script_asm, vectors)
{
    const char *sections[] = {"transactions", "coinbase"};
    for (size_t s = 0; s < 2; s++) {
        json_t *arr = vectors_section(sections[s]), *v;
        size_t i;
        json_array_foreach(arr, i, v) {
            size_t len;
            uint8_t *raw = vhex(v, "hex", &len);
            tx_t tx;
            err_t e = {0};
            cr_assert_eq(tx_decode(&tx, raw, len, &e), 0, "%s", e.message);
            json_t *j = json_object_get(v, "json");
            json_t *ins = json_object_get(j, "inputs"), *outs = json_object_get(j, "outputs");
            cr_assert_eq(json_array_size(ins), tx.n_inputs);
            cr_assert_eq(json_array_size(outs), tx.n_outputs);
            for (size_t k = 0; k < tx.n_inputs + tx.n_outputs; k++) {
                bool is_in = k < tx.n_inputs;
                const uint8_t *sc = is_in ? tx.inputs[k].script
                                          : tx.outputs[k - tx.n_inputs].script;
                size_t sl = is_in ? tx.inputs[k].script_len
                                  : tx.outputs[k - tx.n_inputs].script_len;
                const char *expected = is_in
                    ? vstr(json_array_get(ins, k), "unlocking_script")
                    : vstr(json_array_get(outs, k - tx.n_inputs), "locking_script");
                char *a = asm_of(sc, sl);
                cr_assert_str_eq(a, expected, "%s %zu script %zu", sections[s], i, k);
                free(a);
                uint8_t back[SCRIPT_MAX_SIZE];
                size_t bl;
                cr_assert_eq(script_from_asm(back, sizeof back, &bl, expected, &e), 0, "%s",
                             e.message);
                cr_assert_eq(bl, sl);
                cr_assert_arr_eq(back, sc, sl, "%s %zu script %zu parses back", sections[s], i, k);
            }
            tx_free(&tx);
            free(raw);
        }
    }
}

Test(script_asm, tutorial_spelling_and_spaces)
{
    uint8_t out[64];
    size_t len;
    err_t e = {0};
    cr_assert_eq(script_from_asm(out, sizeof out, &len, "OP_EQUAL_VERIFY", &e), 0, "%s", e.message);
    cr_assert_eq(len, 1);
    cr_assert_eq(out[0], 0x88);

    /* the tutorial's P2PKH, with repeated spaces, is the standard P2PKH */
    const char *tut = "OP_DUP  OP_HASH160 9766bc6a50b376bd6fb25ecc5bd3288a663bbec9   "
                      "OP_EQUAL_VERIFY OP_CHECKSIG ";
    cr_assert_eq(script_from_asm(out, sizeof out, &len, tut, &e), 0, "%s", e.message);
    uint8_t expected[25];
    cr_assert_eq(unhex(expected, sizeof expected,
                       "76a9149766bc6a50b376bd6fb25ecc5bd3288a663bbec988ac"), 25);
    cr_assert_eq(len, 25);
    cr_assert_arr_eq(out, expected, 25);
    /* and renders with the standard name and single spaces */
    char *a = asm_of(out, len);
    cr_assert_str_eq(a, "OP_DUP OP_HASH160 9766bc6a50b376bd6fb25ecc5bd3288a663bbec9 "
                        "OP_EQUALVERIFY OP_CHECKSIG");
    free(a);

    /* every named opcode */
    static const struct {
        const char *name;
        uint8_t op;
    } ops[] = {{"OP_DUP", 0x76}, {"OP_HASH160", 0xa9}, {"OP_EQUAL", 0x87},
               {"OP_EQUALVERIFY", 0x88}, {"OP_CHECKSIG", 0xac}, {"OP_RETURN", 0x6a}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        cr_assert_eq(script_from_asm(out, sizeof out, &len, ops[i].name, &e), 0, "%s", ops[i].name);
        cr_assert_eq(len, 1);
        cr_assert_eq(out[0], ops[i].op, "%s", ops[i].name);
        a = asm_of(&ops[i].op, 1);
        cr_assert_str_eq(a, ops[i].name);
        free(a);
    }
    /* empty and blank texts are the empty script */
    cr_assert_eq(script_from_asm(out, 0, &len, "", &e), 0);
    cr_assert_eq(len, 0);
    cr_assert_eq(script_from_asm(out, 0, &len, "   ", &e), 0);
    cr_assert_eq(len, 0);
    /* uppercase hex is accepted, rendering is lowercase */
    cr_assert_eq(script_from_asm(out, sizeof out, &len, "ABCD", &e), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq(out[0], 2);
    cr_assert_eq(out[1], 0xab);
    a = asm_of(out, len);
    cr_assert_str_eq(a, "abcd");
    free(a);
}

/* Scripts that are no minimal pushes or known opcodes still render, as raw
 * 0x tokens, and parse back to the very same bytes. */
Test(script_asm, odd_scripts_round_trip)
{
    static const struct {
        const char *hex, *asm_text, *why;
    } cases[] = {
        {"b0", "0xb0", "unknown opcode"},
        {"00", "0x00", "byte 0x00"},
        {"4c050102030405", "0x4c050102030405", "non-minimal push (0x4c for 5 bytes)"},
        {"4c00", "0x4c00", "empty OP_PUSHDATA1"},
        {"05aa", "0x05aa", "truncated push"},
        {"4c", "0x4c", "OP_PUSHDATA1 without its length"},
        {"4c05aabb", "0x4c05aabb", "truncated OP_PUSHDATA1"},
        {"", "", "empty script"},
        {"76b001ff", "OP_DUP 0xb0 ff", "known, unknown, push"},
        {"01ff05aa", "ff 0x05aa", "a push then a truncated push"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t s[64];
        size_t n = unhex(s, sizeof s, cases[i].hex);
        char *a = asm_of(s, n);
        cr_assert_str_eq(a, cases[i].asm_text, "%s", cases[i].why);
        free(a);
        assert_round_trip(s, n, cases[i].why);
    }

    /* 0x4c push of 200 bytes: minimal (over 0x4b), so plain hex */
    uint8_t big[202];
    big[0] = OP_PUSHDATA1;
    big[1] = 200;
    for (int k = 0; k < 200; k++)
        big[2 + k] = (uint8_t)k;
    char *a = asm_of(big, sizeof big);
    cr_assert_eq(strlen(a), 400, "200 bytes as 400 hex digits, no 0x");
    cr_assert_eq(strncmp(a, "00010203", 8), 0);
    free(a);
    assert_round_trip(big, sizeof big, "0x4c push of 200 bytes");
    /* and a 0x4b direct push, the largest */
    big[1] = 0x4b;
    assert_round_trip(big + 1, 1 + 0x4b, "0x4b push");
}

/* Every single byte, and pseudo-random scripts, survive the round trip: ASM is
 * lossless (the JSON form must carry exactly the txid). */
Test(script_asm, round_trip_everything)
{
    for (int b = 0; b < 256; b++) {
        uint8_t s[3] = {(uint8_t)b, 0x01, 0x02};
        assert_round_trip(s, 1, "one byte");
        assert_round_trip(s, 3, "byte then two");
    }
    /* xorshift: deterministic, so a failure reproduces */
    uint32_t x = 2463534242u;
    uint8_t s[300];
    for (int iter = 0; iter < 3000; iter++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t n = x % sizeof s;
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            /* bias towards push headers and known opcodes, so the mix is rich */
            static const uint8_t common[] = {0x01, 0x02, 0x14, 0x4b, 0x4c, 0x76, 0x87,
                                             0x88, 0xa9, 0xac, 0x6a, 0x00};
            s[k] = (x & 0x300) ? (uint8_t)x : common[(x >> 12) % sizeof common];
        }
        assert_round_trip(s, n, "random script");
    }
}

Test(script_asm, bad_text)
{
    static const char *bad[] = {
        "OP_FOO", "OP_DUP OP_FOO", "op_dup", "OP_", "abc", "zz", "0x", "0xzz", "0xabc",
        "OP_DUP\tOP_DUP", "-1", "OP_EQUAL_VERIFYX",
    };
    uint8_t out[600];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        err_t e = {0};
        int rc = script_from_asm(out, sizeof out, &len, bad[i], &e);
        cr_assert_eq(rc, -ERR_BAD_SCRIPT, "\"%s\" gave %d", bad[i], rc);
        cr_assert_eq(e.code, ERR_BAD_SCRIPT);
        cr_assert_neq(e.message[0], '\0');
    }

    /* pushes: 255 bytes is the most a push token may hold */
    char text[2 * 256 + 1];
    memset(text, 'a', 2 * 255);
    text[2 * 255] = '\0';
    size_t len;
    err_t e = {0};
    cr_assert_eq(script_from_asm(out, sizeof out, &len, text, &e), 0, "255-byte push: %s",
                 e.message);
    cr_assert_eq(len, 2 + 255);
    cr_assert_eq(out[0], OP_PUSHDATA1);
    cr_assert_eq(out[1], 255);
    cr_assert_eq(out[2], 0xaa);
    memset(text, 'a', 2 * 256);
    text[2 * 256] = '\0';
    cr_assert_eq(script_from_asm(out, sizeof out, &len, text, &e), -ERR_BAD_SCRIPT,
                 "a 256-byte push");
    cr_assert_eq(e.code, ERR_BAD_SCRIPT);
}

Test(script_asm, output_capacity)
{
    const char *p2pkh = "OP_DUP OP_HASH160 9766bc6a50b376bd6fb25ecc5bd3288a663bbec9 "
                        "OP_EQUALVERIFY OP_CHECKSIG";
    uint8_t out[25];
    size_t len;
    err_t e = {0};
    cr_assert_eq(script_from_asm(out, 25, &len, p2pkh, &e), 0, "exactly enough room: %s",
                 e.message);
    cr_assert_eq(len, 25);
    /* one byte short at each place the parser appends: an opcode, a push
     * header, push data */
    for (size_t cap = 0; cap < 25; cap++) {
        uint8_t *tight = malloc(cap ? cap : 1);
        cr_assert_not_null(tight);
        memset(&e, 0, sizeof e);
        cr_assert_eq(script_from_asm(tight, cap, &len, p2pkh, &e), -ERR_BAD_SCRIPT,
                     "capacity %zu", cap);
        cr_assert_eq(e.code, ERR_BAD_SCRIPT);
        free(tight);
    }
    /* raw tokens too */
    uint8_t two[2];
    cr_assert_eq(script_from_asm(two, 2, &len, "0xaabb", &e), 0);
    cr_assert_eq(script_from_asm(two, 2, &len, "0xaabbcc", &e), -ERR_BAD_SCRIPT);
    /* a 0x4c push header needs two bytes */
    char text[2 * 76 + 1];
    memset(text, 'c', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    uint8_t buf[78];
    cr_assert_eq(script_from_asm(buf, 78, &len, text, &e), 0);
    cr_assert_eq(len, 78);
    cr_assert_eq(script_from_asm(buf, 77, &len, text, &e), -ERR_BAD_SCRIPT);
}

/* ---- limits ----------------------------------------------------------- */

/* `pairs` × (OP_DUP OP_EQUAL) after one true item leaves one true item; an
 * extra trailing OP_DUP keeps the result true too. So these scripts fail only
 * by their size. */
static size_t dup_equal_script(uint8_t *s, size_t pairs, bool trailing_dup)
{
    size_t n = 0;
    for (size_t k = 0; k < pairs; k++) {
        s[n++] = OP_DUP;
        s[n++] = OP_EQUAL;
    }
    if (trailing_dup)
        s[n++] = OP_DUP;
    return n;
}

Test(script_limits, script_size)
{
    static uint8_t l[SCRIPT_MAX_SIZE + 2];
    const uint8_t one[] = {0x01, 0x01};
    size_t n = dup_equal_script(l, 4999, true);
    cr_assert_eq(n, 9999);
    assert_valid(one, 2, l, n, "9999-byte locking");
    n = dup_equal_script(l, 5000, false);
    cr_assert_eq(n, SCRIPT_MAX_SIZE);
    assert_valid(one, 2, l, n, "10000-byte locking");
    n = dup_equal_script(l, 5000, true);
    cr_assert_eq(n, SCRIPT_MAX_SIZE + 1);
    assert_fails(one, 2, l, n, "10001-byte locking");

    /* unlocking: 38 pushes of 255 bytes (0x4c ff …) and one more push to fill */
    static uint8_t u[SCRIPT_MAX_SIZE + 1];
    memset(u, 0x01, sizeof u);
    size_t pos = 0;
    for (int k = 0; k < 38; k++) {
        u[pos] = OP_PUSHDATA1;
        u[pos + 1] = 0xff;
        pos += 2 + 255;
    }
    u[pos] = OP_PUSHDATA1;
    u[pos + 1] = (uint8_t)(SCRIPT_MAX_SIZE - pos - 2);
    cr_assert(script_is_push_only(u, SCRIPT_MAX_SIZE));
    assert_valid(u, SCRIPT_MAX_SIZE, NULL, 0, "10000-byte unlocking");
    u[pos + 1]++;
    cr_assert(script_is_push_only(u, SCRIPT_MAX_SIZE + 1));
    assert_fails(u, SCRIPT_MAX_SIZE + 1, NULL, 0, "10001-byte unlocking");
}

/* n one-byte pushes (01 01). */
static uint8_t *pushes(size_t n)
{
    uint8_t *s = malloc(2 * n + 1);
    cr_assert_not_null(s);
    for (size_t k = 0; k < n; k++) {
        s[2 * k] = 0x01;
        s[2 * k + 1] = 0x01;
    }
    return s;
}

Test(script_limits, stack_items)
{
    uint8_t *p1000 = pushes(SCRIPT_MAX_STACK), *p1001 = pushes(SCRIPT_MAX_STACK + 1);
    assert_valid(p1000, 2 * SCRIPT_MAX_STACK, NULL, 0, "1000 items");
    assert_fails(p1001, 2 * (SCRIPT_MAX_STACK + 1), NULL, 0, "1001 items");

    /* one stack for both scripts: 999 + 1 fine, 1000 + 1 not */
    const uint8_t one_push[] = {0x01, 0x01};
    assert_valid(p1000, 2 * (SCRIPT_MAX_STACK - 1), one_push, 2, "999 + 1 items");
    assert_fails(p1000, 2 * SCRIPT_MAX_STACK, one_push, 2, "1000 + 1 items");
    /* the limit counts pushes in the locking script alone too */
    assert_valid(NULL, 0, p1000, 2 * SCRIPT_MAX_STACK, "1000 items in locking");
    assert_fails(NULL, 0, p1001, 2 * (SCRIPT_MAX_STACK + 1), "1001 items in locking");

    /* OP_DUP makes an item too */
    const uint8_t dup[] = {OP_DUP};
    assert_valid(p1000, 2 * (SCRIPT_MAX_STACK - 1), dup, 1, "OP_DUP to 1000 items");
    assert_fails(p1000, 2 * SCRIPT_MAX_STACK, dup, 1, "OP_DUP at the stack limit");
    /* OP_EQUAL at the limit frees room (pops two, pushes one) */
    const uint8_t eq[] = {OP_EQUAL};
    assert_valid(p1000, 2 * SCRIPT_MAX_STACK, eq, 1, "OP_EQUAL at the limit");
    free(p1000);
    free(p1001);
}

/* ---- semantics -------------------------------------------------------- */

Test(script_ops, semantics)
{
    uint8_t u[128], l[128];
    size_t ul, ll;
    /* OP_HASH160 is RIPEMD160(SHA256(x)): the vector key's pubkey hashes to its
     * pubkey_hash (both from vectors.json) */
    const json_t *k1 = json_array_get(vectors_section("keys"), 0),
                 *k2 = json_array_get(vectors_section("keys"), 1);
    char hex[256];
    snprintf(hex, sizeof hex, "20%s", vstr(k1, "pubkey"));
    ul = unhex(u, sizeof u, hex);
    snprintf(hex, sizeof hex, "a914%s87", vstr(k1, "pubkey_hash"));
    ll = unhex(l, sizeof l, hex);
    assert_valid(u, ul, l, ll, "HASH160 of the pubkey equals its vector hash");
    snprintf(hex, sizeof hex, "a914%s87", vstr(k2, "pubkey_hash"));
    ll = unhex(l, sizeof l, hex);
    assert_fails(u, ul, l, ll, "HASH160 against another key's hash: false");
    snprintf(hex, sizeof hex, "a914%s88", vstr(k1, "pubkey_hash"));
    ll = unhex(l, sizeof l, hex);
    assert_fails(u, ul, l, ll, "EQUALVERIFY leaves an empty stack");
    snprintf(hex, sizeof hex, "a914%s8801ff", vstr(k1, "pubkey_hash"));
    ll = unhex(l, sizeof l, hex);
    assert_valid(u, ul, l, ll, "EQUALVERIFY passes, then a push");

    static const struct {
        const char *u, *l, *why;
        bool valid;
    } cases[] = {
        {"", "76", "OP_DUP on an empty stack", false},
        {"", "a9", "OP_HASH160 on an empty stack", false},
        {"0101", "87", "OP_EQUAL with one item", false},
        {"0101", "88", "OP_EQUALVERIFY with one item", false},
        {"0101", "ac", "OP_CHECKSIG with one item", false},
        {"0101", "7687", "DUP EQUAL: true", true},
        {"01010102", "87", "EQUAL of different items: false", false},
        {"01010102", "8801ff", "EQUALVERIFY of different items", false},
        {"0101", "6a", "OP_RETURN", false},
        {"0101", "05aa", "truncated push in locking", false},
        {"0101", "b0", "unknown opcode", false},
        {"0101", "00", "0x00 is no push here (any other byte fails)", false},
        {"00", "", "0x00 in unlocking: not push-only", false},
        {"4c0101", "", "OP_PUSHDATA1 push in unlocking", true},
        {"0100", "", "single zero byte", false},
        {"03000080", "", "0x000080 is true here (non-empty, not all zero)", true},
        {"0101", "0100", "zero pushed by locking on top", false},
        {"0100", "0101", "true above a false", true},
        {"02aabb", "", "non-zero two bytes", true},
        {"0101", "4c00", "an empty push is false", false},
        {"0101", "76a987", "HASH160 changes the item it hashes", false},
        {"", "", "nothing at all", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ul = unhex(u, sizeof u, cases[i].u);
        ll = unhex(l, sizeof l, cases[i].l);
        if (cases[i].valid)
            assert_valid(u, ul, l, ll, cases[i].why);
        else
            assert_fails(u, ul, l, ll, cases[i].why);
    }
}

Test(script_ops, push_only)
{
    static const struct {
        const char *hex;
        bool push_only;
    } cases[] = {
        {"", true},
        {"01aa", true},
        {"02aabb01cc", true},
        {"4c02aabb", true},
        {"4c00", true},
        {"4b", false},      /* a 75-byte push without its data */
        {"4c", false},      /* no length */
        {"4c02aa", false},  /* one byte short */
        {"02aa", false},
        {"76", false},
        {"01aa76", false},
        {"00", false},      /* not a push in this language */
        {"4d0100aa", false}, /* OP_PUSHDATA2 is no push here */
        {"6a", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t s[16];
        size_t n = unhex(s, sizeof s, cases[i].hex);
        cr_assert_eq(script_is_push_only(s, n), cases[i].push_only, "\"%s\"", cases[i].hex);
    }
}

/* ---- P2PKH ------------------------------------------------------------ */

Test(script_p2pkh, templates)
{
    const json_t *k1 = json_array_get(vectors_section("keys"), 0);
    const json_t *tx0 = json_array_get(vectors_section("transactions"), 0);
    const json_t *sc0 = json_array_get(vectors_section("scripts"), 0);
    hash20_t h;
    vhex_exact(k1, "pubkey_hash", h.b, 20);
    uint8_t pubkey[KEY_PUBKEY_LEN], sig[KEY_SIG_LEN];
    vhex_exact(k1, "pubkey", pubkey, sizeof pubkey);
    vhex_exact(tx0, "signature", sig, sizeof sig);

    /* lock: exactly the "valid P2PKH" vector's locking bytes */
    uint8_t lock[SCRIPT_P2PKH_LOCK_LEN];
    script_p2pkh_lock(lock, &h);
    size_t vl;
    uint8_t *vlock = vhex(sc0, "locking", &vl);
    cr_assert_eq(vl, SCRIPT_P2PKH_LOCK_LEN);
    cr_assert_arr_eq(lock, vlock, vl);
    free(vlock);

    /* unlock: the vector's unlocking bytes */
    uint8_t unlock[SCRIPT_P2PKH_UNLOCK_LEN];
    script_p2pkh_unlock(unlock, sig, pubkey);
    uint8_t *vunlock = vhex(sc0, "unlocking", &vl);
    cr_assert_eq(vl, SCRIPT_P2PKH_UNLOCK_LEN);
    cr_assert_arr_eq(unlock, vunlock, vl);
    free(vunlock);
    cr_assert(script_is_push_only(unlock, sizeof unlock));

    hash32_t sh;
    vhex_exact(tx0, "sighash", sh.b, 32);
    err_t e = {0};
    cr_assert_eq(script_verify(unlock, sizeof unlock, lock, sizeof lock, &sh, NULL, &e), 0, "%s",
                 e.message);
    /* another message: the same signature fails */
    sh.b[0] ^= 1;
    cr_assert_eq(script_verify(unlock, sizeof unlock, lock, sizeof lock, &sh, NULL, &e),
                 -ERR_SCRIPT_FAILED);

    /* recognising P2PKH */
    hash20_t got;
    memset(got.b, 0, 20);
    cr_assert(script_p2pkh_hash(lock, sizeof lock, &got));
    cr_assert_arr_eq(got.b, h.b, 20);
    cr_assert(script_p2pkh_hash(lock, sizeof lock, NULL));
    cr_assert_not(script_p2pkh_hash(lock, sizeof lock - 1, NULL), "24 bytes");
    uint8_t longer[SCRIPT_P2PKH_LOCK_LEN + 1];
    memcpy(longer, lock, sizeof lock);
    longer[sizeof lock] = OP_CHECKSIG;
    cr_assert_not(script_p2pkh_hash(longer, sizeof longer, NULL), "26 bytes");
    static const size_t fixed_pos[] = {0, 1, 2, 23, 24};
    for (size_t i = 0; i < sizeof fixed_pos / sizeof fixed_pos[0]; i++) {
        uint8_t m[SCRIPT_P2PKH_LOCK_LEN];
        memcpy(m, lock, sizeof m);
        m[fixed_pos[i]] ^= 0x01;
        cr_assert_not(script_p2pkh_hash(m, sizeof m, NULL), "byte %zu changed", fixed_pos[i]);
    }
    /* the hash bytes themselves may be anything */
    lock[10] ^= 0xff;
    cr_assert(script_p2pkh_hash(lock, sizeof lock, NULL));
    cr_assert_not(script_p2pkh_hash(NULL, 0, NULL), "empty script");

    /* recognising a P2PKH unlocking script: the vector's gives its parts */
    uint8_t got_sig[KEY_SIG_LEN], got_pub[KEY_PUBKEY_LEN];
    cr_assert(script_p2pkh_unlock_parse(unlock, sizeof unlock, got_sig, got_pub));
    cr_assert_arr_eq(got_sig, sig, sizeof sig);
    cr_assert_arr_eq(got_pub, pubkey, sizeof pubkey);
    cr_assert_not(script_p2pkh_unlock_parse(unlock, sizeof unlock - 1, got_sig, got_pub));
    cr_assert_not(script_p2pkh_unlock_parse(NULL, 0, got_sig, got_pub));
    static const size_t push_pos[] = {0, 1 + KEY_SIG_LEN};
    for (size_t i = 0; i < 2; i++) {
        uint8_t m[SCRIPT_P2PKH_UNLOCK_LEN];
        memcpy(m, unlock, sizeof m);
        m[push_pos[i]] ^= 0x01;
        cr_assert_not(script_p2pkh_unlock_parse(m, sizeof m, got_sig, got_pub),
                      "push byte %zu changed", push_pos[i]);
    }
}

/* ---- pluggable checker ------------------------------------------------ */

typedef struct {
    int calls;
    bool answer;
    uint8_t pubkey[KEY_PUBKEY_LEN];
    uint8_t sig[KEY_SIG_LEN];
    hash32_t sighash;
} checker_log_t;

static bool logging_check(void *ctx, const uint8_t pubkey[KEY_PUBKEY_LEN],
                          const uint8_t sig[KEY_SIG_LEN], const hash32_t *sighash)
{
    checker_log_t *log = ctx;
    log->calls++;
    memcpy(log->pubkey, pubkey, KEY_PUBKEY_LEN);
    memcpy(log->sig, sig, KEY_SIG_LEN);
    log->sighash = *sighash;
    return log->answer;
}

Test(script_checker, is_consulted_with_its_arguments)
{
    const json_t *sc0 = json_array_get(vectors_section("scripts"), 0);
    const json_t *k1 = json_array_get(vectors_section("keys"), 0);
    const json_t *tx0 = json_array_get(vectors_section("transactions"), 0);
    size_t ul, ll;
    uint8_t *u = vhex(sc0, "unlocking", &ul), *l = vhex(sc0, "locking", &ll);
    uint8_t pubkey[KEY_PUBKEY_LEN], sig[KEY_SIG_LEN];
    vhex_exact(k1, "pubkey", pubkey, sizeof pubkey);
    vhex_exact(tx0, "signature", sig, sizeof sig);
    hash32_t sh;
    vhex_exact(sc0, "sighash", sh.b, 32);

    checker_log_t log = {.answer = true};
    script_checker_t checker = {logging_check, &log};
    err_t e = {0};
    cr_assert_eq(script_verify(u, ul, l, ll, &sh, &checker, &e), 0, "%s", e.message);
    cr_assert_eq(log.calls, 1, "one OP_CHECKSIG, one call");
    cr_assert_arr_eq(log.pubkey, pubkey, KEY_PUBKEY_LEN, "the pubkey is the top item");
    cr_assert_arr_eq(log.sig, sig, KEY_SIG_LEN, "the signature is the second item");
    cr_assert_arr_eq(log.sighash.b, sh.b, 32);

    /* its answer is the verdict: false fails a good signature */
    log = (checker_log_t){.answer = false};
    cr_assert_eq(script_verify(u, ul, l, ll, &sh, &checker, &e), -ERR_SCRIPT_FAILED);
    cr_assert_eq(log.calls, 1);

    /* ... and true passes a signature key_verify would refuse */
    u[1] ^= 0x01;
    log = (checker_log_t){.answer = true};
    cr_assert_eq(script_verify(u, ul, l, ll, &sh, &checker, &e), 0, "%s", e.message);
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(script_verify(u, ul, l, ll, &sh, NULL, &e), -ERR_SCRIPT_FAILED,
                 "without the checker the flipped bit fails");
    /* a checker with no function falls back to key_verify */
    script_checker_t empty = {NULL, NULL};
    cr_assert_eq(script_verify(u, ul, l, ll, &sh, &empty, &e), -ERR_SCRIPT_FAILED);
    u[1] ^= 0x01;
    cr_assert_eq(script_verify(u, ul, l, ll, &sh, &empty, &e), 0, "%s", e.message);

    /* items of the wrong size never reach the checker */
    uint8_t small[] = {0x02, 0xaa, 0xbb, 0x01, 0xcc};
    const uint8_t cs[] = {OP_CHECKSIG};
    log = (checker_log_t){.answer = true};
    cr_assert_eq(script_verify(small, sizeof small, cs, 1, &sh, &checker, &e), -ERR_SCRIPT_FAILED);
    cr_assert_eq(log.calls, 0, "a 1-byte pubkey is not checked");

    /* a failure before OP_CHECKSIG means no call; two CHECKSIGs, two calls */
    uint8_t twice[2 * SCRIPT_P2PKH_UNLOCK_LEN];
    memcpy(twice, u, ul);
    memcpy(twice + ul, u, ul);
    const uint8_t two_cs[] = {OP_CHECKSIG, OP_CHECKSIG};
    log = (checker_log_t){.answer = true};
    /* stack: sig pub sig pub -> CHECKSIG -> sig pub true -> CHECKSIG(true as
     * pubkey: wrong size, so false and no call) */
    cr_assert_eq(script_verify(twice, sizeof twice, two_cs, 2, &sh, &checker, &e),
                 -ERR_SCRIPT_FAILED);
    cr_assert_eq(log.calls, 1);
    const uint8_t cs_then_return[] = {OP_CHECKSIG, OP_RETURN};
    log = (checker_log_t){.answer = true};
    cr_assert_eq(script_verify(u, ul, cs_then_return, 2, &sh, &checker, &e), -ERR_SCRIPT_FAILED);
    cr_assert_eq(log.calls, 1);
    const uint8_t return_then_cs[] = {OP_RETURN, OP_CHECKSIG};
    log = (checker_log_t){.answer = true};
    cr_assert_eq(script_verify(u, ul, return_then_cs, 2, &sh, &checker, &e), -ERR_SCRIPT_FAILED);
    cr_assert_eq(log.calls, 0);
    free(u);
    free(l);
}
