/* key.h: RFC 8032 Ed25519 test vectors, the signature rule's edge cases
 * (vectors-ed25519.json, small-order and non-canonical encodings, S >= L),
 * the shared key vectors, and PEM files (round trip, refusal to overwrite,
 * clean failures, the demo keys signing as they always have). */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ed25519_edges.h"
#include "hash.h"
#include "hex.h"
#include "key.h"
#include "vectors.h"

/* RFC 8032 section 7.1, TEST 1, 2 and 3. */
static const struct {
    const char *name, *seed, *pubkey, *msg, *sig;
} rfc[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
     "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
     "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290"
     "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};
#define NRFC (sizeof rfc / sizeof rfc[0])

static void unhex(uint8_t *out, size_t len, const char *hex)
{
    cr_assert_eq(hex_decode_exact(out, len, hex), 0, "bad hex constant %s", hex);
}

/* RFC case i's public key, signature and message; the message's length. */
static size_t rfc_case(size_t i, uint8_t pub[32], uint8_t sig[64], uint8_t msg[8])
{
    size_t msglen = strlen(rfc[i].msg) / 2;
    unhex(pub, 32, rfc[i].pubkey);
    unhex(sig, 64, rfc[i].sig);
    cr_assert_eq(hex_decode(msg, 8, rfc[i].msg, strlen(rfc[i].msg)), (long)msglen);
    return msglen;
}

Test(ed25519, rfc8032_seed_to_pubkey)
{
    for (size_t i = 0; i < NRFC; i++) {
        uint8_t seed[32], pub[32];
        unhex(seed, 32, rfc[i].seed);
        unhex(pub, 32, rfc[i].pubkey);
        key_pair_t k;
        err_t e;
        cr_assert_eq(key_from_seed(&k, seed, &e), 0, "%s: %s", rfc[i].name, e.message);
        cr_assert_arr_eq(k.seed, seed, 32, "%s: seed not kept", rfc[i].name);
        cr_assert_arr_eq(k.pubkey, pub, 32, "%s: public key", rfc[i].name);
    }
}

Test(ed25519, rfc8032_sign_exact_and_verify)
{
    for (size_t i = 0; i < NRFC; i++) {
        uint8_t seed[32], want[64], sig[64], msg[8];
        size_t msglen = strlen(rfc[i].msg) / 2;
        unhex(seed, 32, rfc[i].seed);
        unhex(want, 64, rfc[i].sig);
        cr_assert_eq(hex_decode(msg, sizeof msg, rfc[i].msg, strlen(rfc[i].msg)), (long)msglen);
        key_pair_t k;
        err_t e;
        cr_assert_eq(key_from_seed(&k, seed, &e), 0);
        cr_assert_eq(key_sign(&k, sig, msg, msglen, &e), 0, "%s: %s", rfc[i].name, e.message);
        cr_assert_arr_eq(sig, want, 64, "%s: signature bytes", rfc[i].name);
        cr_assert(key_verify(k.pubkey, want, msg, msglen), "%s: RFC signature rejected",
                  rfc[i].name);
    }
}

Test(ed25519, rfc8032_tampering_fails)
{
    for (size_t i = 0; i < NRFC; i++) {
        uint8_t pub[32], sig[64], msg[8];
        size_t msglen = rfc_case(i, pub, sig, msg);
        cr_assert(key_verify(pub, sig, msg, msglen));

        /* a flipped bit anywhere in R or S */
        static const size_t sig_bits[] = {0, 7, 100, 255, 256, 300, 503, 511};
        for (size_t b = 0; b < sizeof sig_bits / sizeof sig_bits[0]; b++) {
            uint8_t bad[64];
            memcpy(bad, sig, 64);
            bad[sig_bits[b] / 8] ^= (uint8_t)(1u << (sig_bits[b] % 8));
            cr_assert_not(key_verify(pub, bad, msg, msglen), "%s: sig bit %zu flipped verifies",
                          rfc[i].name, sig_bits[b]);
        }
        /* a flipped bit in the message; the empty message gets a byte added */
        uint8_t other[9];
        memcpy(other, msg, msglen);
        if (msglen) {
            other[msglen - 1] ^= 0x01;
            cr_assert_not(key_verify(pub, sig, other, msglen), "%s: message bit", rfc[i].name);
            other[msglen - 1] ^= 0x01;
            other[0] ^= 0x80;
            cr_assert_not(key_verify(pub, sig, other, msglen), "%s: message bit", rfc[i].name);
        } else {
            other[0] = 0x00;
            cr_assert_not(key_verify(pub, sig, other, 1), "%s: extra byte", rfc[i].name);
        }
        /* a flipped bit in the public key */
        static const size_t key_bits[] = {0, 9, 128, 254, 255};
        for (size_t b = 0; b < sizeof key_bits / sizeof key_bits[0]; b++) {
            uint8_t bad[32];
            memcpy(bad, pub, 32);
            bad[key_bits[b] / 8] ^= (uint8_t)(1u << (key_bits[b] % 8));
            cr_assert_not(key_verify(bad, sig, msg, msglen), "%s: key bit %zu flipped verifies",
                          rfc[i].name, key_bits[b]);
        }
        /* another test's key */
        uint8_t wrong[32];
        unhex(wrong, 32, rfc[(i + 1) % NRFC].pubkey);
        cr_assert_not(key_verify(wrong, sig, msg, msglen), "%s: another key", rfc[i].name);
    }
}

Test(ed25519, non_canonical_s_rejected)
{
    /* Each RFC signature with S replaced by S + L (the group order): the
     * same equation holds, and a lax verifier accepts it, which would make
     * signatures malleable. S = L and S = 2^256 - 1 are out of range too. */
    for (size_t i = 0; i < NRFC; i++) {
        uint8_t pub[32], sig[64], msg[8];
        size_t msglen = rfc_case(i, pub, sig, msg);
        ed25519_add_l(sig + 32);
        cr_assert_not(key_verify(pub, sig, msg, msglen), "%s: S + L verifies", rfc[i].name);
        memcpy(sig + 32, ed25519_order_l, 32);
        cr_assert_not(key_verify(pub, sig, msg, msglen), "%s: S = L verifies", rfc[i].name);
        memset(sig + 32, 0xff, 32);
        cr_assert_not(key_verify(pub, sig, msg, msglen), "%s: S = 2^256-1", rfc[i].name);
    }
}

/* The identity as R with S = 0 passes the cofactorless equation for the
 * identity key ([0]B = R + [k]A), which is vectors-ed25519.json's case: here
 * every small-order point is tried as the key and as R. */
Test(ed25519, small_order_keys_and_r_rejected)
{
    static const uint8_t msg[32] = {1};
    uint8_t pub[32];
    unhex(pub, 32, rfc[0].pubkey);
    for (size_t i = 0; i < ED25519_SMALL_ORDER_COUNT; i++) {
        const ed25519_point_t *pt = &ed25519_small_order[i];
        for (size_t j = 0; j < ED25519_SMALL_ORDER_COUNT; j++) {
            uint8_t sig[64] = {0};
            memcpy(sig, ed25519_small_order[j].enc, 32);
            cr_assert_not(key_verify(pt->enc, sig, msg, sizeof msg),
                          "key %s, R %s, S 0 verifies", pt->name, ed25519_small_order[j].name);
        }
        /* R of small order under a real key, S = 0 and S = 1 */
        for (uint8_t s = 0; s < 2; s++) {
            uint8_t sig[64] = {0};
            memcpy(sig, pt->enc, 32);
            sig[32] = s;
            cr_assert_not(key_verify(pub, sig, msg, sizeof msg), "R %s, S %u", pt->name, s);
        }
    }
}

/* y >= p as the key: every one of the 19 values, either sign. p + 1 is the
 * identity written the long way, for which R = identity, S = 0 holds. */
Test(ed25519, non_canonical_keys_rejected)
{
    static const uint8_t msg[32] = {1};
    uint8_t identity_sig[64] = {0x01};
    for (unsigned k = 0; k < ED25519_NON_CANONICAL_COUNT; k++)
        for (int sign = 0; sign < 2; sign++) {
            uint8_t key[32];
            ed25519_non_canonical(key, k, sign);
            cr_assert_not(key_verify(key, identity_sig, msg, sizeof msg), "y = p + %u, sign %d",
                          k, sign);
        }
}

Test(ed25519_vectors, verdicts)
{
    json_t *arr = vectors_ed25519_section("signatures"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        uint8_t pub[32], sig[64], sighash[32];
        vhex_exact(v, "pubkey", pub, 32);
        vhex_exact(v, "signature", sig, 64);
        vhex_exact(v, "sighash", sighash, 32);
        bool valid = vbool(v, "valid");
        cr_assert_eq(key_verify(pub, sig, sighash, 32), valid, "\"%s\": key_verify says %s",
                     vstr(v, "description"), valid ? "invalid" : "valid");
    }
}

Test(ed25519, garbage_is_false_not_crash)
{
    /* 0xff..ff is no canonical point encoding (y >= p); an all-zero
     * signature does not verify under a real key */
    uint8_t pub[32], zero[64] = {0}, ff[64];
    memset(ff, 0xff, sizeof ff);
    unhex(pub, 32, rfc[0].pubkey);
    cr_assert_not(key_verify(pub, zero, (const uint8_t *)"", 0));
    cr_assert_not(key_verify(pub, ff, (const uint8_t *)"", 0));
    cr_assert_not(key_verify(ff, ff, (const uint8_t *)"x", 1));
    cr_assert_not(key_verify(ff, zero, (const uint8_t *)"", 0));
}

Test(keys, vectors_seed_pubkey_hash)
{
    json_t *keys = vectors_section("keys");
    size_t i;
    json_t *v;
    json_array_foreach(keys, i, v) {
        uint8_t seed[32], pub[32], pkh[20];
        vhex_exact(v, "seed", seed, 32);
        vhex_exact(v, "pubkey", pub, 32);
        vhex_exact(v, "pubkey_hash", pkh, 20);
        key_pair_t k;
        err_t e;
        cr_assert_eq(key_from_seed(&k, seed, &e), 0, "%s: %s", vstr(v, "name"), e.message);
        cr_assert_arr_eq(k.pubkey, pub, 32, "%s: pubkey", vstr(v, "name"));
        hash20_t h;
        hash_hash160(&h, k.pubkey, 32);
        cr_assert_arr_eq(h.b, pkh, 20, "%s: HASH160(pubkey)", vstr(v, "name"));
    }
}

Test(keys, vectors_transaction_signatures)
{
    /* The transaction vectors' signatures are Ed25519 over the 32 sighash
     * bytes by the named key: the exact bytes, since Ed25519 is deterministic. */
    json_t *keys = vectors_section("keys"), *txs = vectors_section("transactions");
    size_t i;
    json_t *t;
    json_array_foreach(txs, i, t) {
        const char *signer = vstr(t, "signer");
        json_t *kv = NULL, *it;
        size_t j;
        json_array_foreach(keys, j, it)
            if (strcmp(vstr(it, "name"), signer) == 0)
                kv = it;
        cr_assert_not_null(kv, "transaction %zu: unknown signer %s", i, signer);
        uint8_t seed[32], sighash[32], want[64], sig[64];
        vhex_exact(kv, "seed", seed, 32);
        vhex_exact(t, "sighash", sighash, 32);
        vhex_exact(t, "signature", want, 64);
        key_pair_t k;
        err_t e;
        cr_assert_eq(key_from_seed(&k, seed, &e), 0);
        cr_assert_eq(key_sign(&k, sig, sighash, 32, &e), 0);
        cr_assert_arr_eq(sig, want, 64, "transaction %zu: signature", i);
        cr_assert(key_verify(k.pubkey, want, sighash, 32));
    }
}

/* key_sign reads only the seed: a pair whose public half is wrong signs as
 * the seed's own key (libsodium hashes the public key it is given into the
 * signature; a wrong one would give a second signature that leaks the seed). */
Test(keys, sign_ignores_a_wrong_public_half)
{
    uint8_t seed[32], want[64], sig[64];
    unhex(seed, 32, rfc[0].seed);
    unhex(want, 64, rfc[0].sig);
    key_pair_t k;
    err_t e;
    cr_assert_eq(key_from_seed(&k, seed, &e), 0);
    unhex(k.pubkey, 32, rfc[1].pubkey);
    cr_assert_eq(key_sign(&k, sig, (const uint8_t *)"", 0, &e), 0);
    cr_assert_arr_eq(sig, want, 64);
}

/* The first use of the library may come from many threads at once (a
 * block's checks on the pool): every one gets a working verifier. */
#define INIT_THREADS 8

static void *verify_first(void *arg)
{
    uint8_t pub[32], sig[64];
    unhex(pub, 32, rfc[0].pubkey);
    unhex(sig, 64, rfc[0].sig);
    *(bool *)arg = key_verify(pub, sig, (const uint8_t *)"", 0);
    return NULL;
}

Test(keys, first_use_from_many_threads)
{
    pthread_t t[INIT_THREADS];
    bool ok[INIT_THREADS] = {false};
    for (int i = 0; i < INIT_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, verify_first, &ok[i]), 0);
    for (int i = 0; i < INIT_THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert(ok[i], "thread %d: a valid signature failed", i);
    }
    err_t e;
    cr_assert_eq(key_init(&e), 0, "%s", e.message);
    cr_assert_eq(key_init(NULL), 0);
}

Test(keys, generate_is_random_and_consistent)
{
    key_pair_t a, b, again;
    err_t e;
    cr_assert_eq(key_generate(&a, &e), 0, "%s", e.message);
    cr_assert_eq(key_generate(&b, &e), 0, "%s", e.message);
    cr_assert_arr_neq(a.seed, b.seed, 32, "two generated keys are equal");
    cr_assert_eq(key_from_seed(&again, a.seed, &e), 0);
    cr_assert_arr_eq(again.pubkey, a.pubkey, 32, "pubkey does not belong to the seed");
    uint8_t sig[64];
    cr_assert_eq(key_sign(&a, sig, (const uint8_t *)"m", 1, &e), 0);
    cr_assert(key_verify(a.pubkey, sig, (const uint8_t *)"m", 1));
    cr_assert_not(key_verify(b.pubkey, sig, (const uint8_t *)"m", 1));
}

/* ---- PEM files ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/chain-test-key-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    static const char *const names[] = {"k.pem", "garbage.pem", "empty.pem", "ec.pem",
                                        "rsa.pem", "x25519.pem", "ed448.pem", "pub.pem",
                                        "rfc1.pem", "truncated.pem"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* A load that must fail: ERR_BAD_KEY, returned and set, with a message. */
static void assert_load_fails(const char *path)
{
    key_pair_t k;
    err_t e = {.code = ERR_OK, .message = ""};
    cr_assert_eq(key_load_pem(&k, path, &e), -(int)ERR_BAD_KEY, "loading %s", path);
    cr_assert_eq(e.code, ERR_BAD_KEY, "%s: code %s", path, err_str(e.code));
    cr_assert_neq(e.message[0], '\0', "%s: no message", path);
    /* and a NULL err_t is allowed */
    cr_assert_eq(key_load_pem(&k, path, NULL), -(int)ERR_BAD_KEY);
}

/* Writes an OpenSSL key of another type (PKCS#8 PEM) to path. */
static void write_foreign_key(const char *path, EVP_PKEY *pkey)
{
    cr_assert_not_null(pkey);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    cr_assert_eq(fclose(f), 0);
    EVP_PKEY_free(pkey);
}

TestSuite(pem, .init = make_tmpdir, .fini = remove_tmpdir);

Test(pem, save_load_round_trip)
{
    char path[128];
    path_in_tmp(path, sizeof path, "k.pem");
    key_pair_t k, back;
    err_t e;
    cr_assert_eq(key_generate(&k, &e), 0);
    cr_assert_eq(key_save_pem(&k, path, &e), 0, "%s", e.message);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "key file mode %o", (unsigned)(st.st_mode & 0777));
    /* PKCS#8, unencrypted, as DESIGN §3.5's demo keys */
    FILE *f = fopen(path, "r");
    char line[64] = "";
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert_str_eq(line, "-----BEGIN PRIVATE KEY-----\n");
    memset(&back, 0, sizeof back);
    cr_assert_eq(key_load_pem(&back, path, &e), 0, "%s", e.message);
    cr_assert_arr_eq(back.seed, k.seed, 32);
    cr_assert_arr_eq(back.pubkey, k.pubkey, 32);
}

Test(pem, load_known_pkcs8)
{
    /* RFC 8032 TEST 1's seed in PKCS#8, as `openssl genpkey`/Python write it */
    char path[128];
    path_in_tmp(path, sizeof path, "rfc1.pem");
    write_file(path, "-----BEGIN PRIVATE KEY-----\n"
                     "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
                     "-----END PRIVATE KEY-----\n");
    uint8_t seed[32], pub[32];
    unhex(seed, 32, rfc[0].seed);
    unhex(pub, 32, rfc[0].pubkey);
    key_pair_t k;
    err_t e;
    cr_assert_eq(key_load_pem(&k, path, &e), 0, "%s", e.message);
    cr_assert_arr_eq(k.seed, seed, 32);
    cr_assert_arr_eq(k.pubkey, pub, 32);
}

Test(pem, save_refuses_overwrite)
{
    char path[128];
    path_in_tmp(path, sizeof path, "k.pem");
    key_pair_t k1, k2, back;
    err_t e = {0};
    cr_assert_eq(key_generate(&k1, &e), 0);
    cr_assert_eq(key_generate(&k2, &e), 0);
    cr_assert_eq(key_save_pem(&k1, path, &e), 0);
    e.message[0] = '\0';
    cr_assert_eq(key_save_pem(&k2, path, &e), -(int)ERR_BAD_KEY);
    cr_assert_eq(e.code, ERR_BAD_KEY);
    cr_assert_neq(e.message[0], '\0');
    /* the first key is still there */
    cr_assert_eq(key_load_pem(&back, path, &e), 0);
    cr_assert_arr_eq(back.seed, k1.seed, 32);
}

Test(pem, save_into_missing_directory_fails)
{
    key_pair_t k;
    err_t e = {0};
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/k.pem", tmpdir);
    cr_assert_eq(key_generate(&k, &e), 0);
    cr_assert_eq(key_save_pem(&k, path, &e), -(int)ERR_BAD_KEY);
    cr_assert_eq(e.code, ERR_BAD_KEY);
    cr_assert_neq(e.message[0], '\0');
}

Test(pem, load_missing_file)
{
    char path[128];
    path_in_tmp(path, sizeof path, "does-not-exist.pem");
    assert_load_fails(path);
}

Test(pem, load_garbage_empty_truncated)
{
    char path[128];
    path_in_tmp(path, sizeof path, "garbage.pem");
    write_file(path, "this is not a key\n\x01\x02\x03");
    assert_load_fails(path);
    path_in_tmp(path, sizeof path, "empty.pem");
    write_file(path, "");
    assert_load_fails(path);
    path_in_tmp(path, sizeof path, "truncated.pem");
    write_file(path, "-----BEGIN PRIVATE KEY-----\n"
                     "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/Vpguo\n"
                     "-----END PRIVATE KEY-----\n");
    assert_load_fails(path);
    /* a directory is not a key file either */
    assert_load_fails(tmpdir);
}

Test(pem, load_other_key_types)
{
    char path[128];
    path_in_tmp(path, sizeof path, "ec.pem");
    write_foreign_key(path, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    assert_load_fails(path);
    path_in_tmp(path, sizeof path, "rsa.pem");
    write_foreign_key(path, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024));
    assert_load_fails(path);
    /* same 32-byte raw form as Ed25519, but a key exchange key */
    path_in_tmp(path, sizeof path, "x25519.pem");
    write_foreign_key(path, EVP_PKEY_Q_keygen(NULL, NULL, "X25519"));
    assert_load_fails(path);
    /* the other EdDSA curve */
    path_in_tmp(path, sizeof path, "ed448.pem");
    write_foreign_key(path, EVP_PKEY_Q_keygen(NULL, NULL, "ED448"));
    assert_load_fails(path);
}

Test(pem, load_public_key_only)
{
    char path[128];
    path_in_tmp(path, sizeof path, "pub.pem");
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    cr_assert_not_null(pkey);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(PEM_write_PUBKEY(f, pkey), 1);
    cr_assert_eq(fclose(f), 0);
    EVP_PKEY_free(pkey);
    assert_load_fails(path);
}

Test(pem, demo_keys)
{
    /* Public keys as `openssl pkey -pubout` derives them from the files, and
     * each key's signature of demo_msg as `openssl pkeyutl -sign -rawin`
     * makes it (and the node did before libsodium): Ed25519 is
     * deterministic, so the same key signs the same bytes. */
    static const char demo_msg[] = "deploy/demo-keys: Ed25519 signing is deterministic";
    static const struct {
        const char *name, *pubkey, *sig;
    } demo[] = {
        {"albert", "95a198ea2c413e84d15496b0981b92d0ef5c4904f29fc0acfc1c26fb8e6e4a95",
         "b3a7e07e16978fa3b1707738637949ac06ee3027c0cc494230ae97cdc0c1108a"
         "5ce052bcb66be80fb74912f71e1db288362f073663b6b7348ced60aa278dbd0c"},
        {"bertrand", "7d1fa6dc1de03a0d3620d8df18a62c4140a7d7e152e19f0b9c8f5cd0f3f23fd4",
         "773db99812c8c5ffc8aa6162f9cc9f456cad5045941a024ffc94a0f8cfaf508c"
         "668246745520bd18e4c29f12be81b753d919203d688567daeb63cfadcb8dd80e"},
        {"camille", "7bc37181167270ff7624d3e5e72fd16c892d073ecf7fcf2029f346b1c649b162",
         "8b3c2514dfa40270be2682cefce176f632ffac7f633c0a5fb958ed42e320c386"
         "d39f1a6ed95322d8552b54d9c76bc486ca9851915192ab3559ed48115f0c050f"},
        {"miner", "f36144878e8123d5b82c958bd0fd2304f543442e8251111808e0ff5a3b002eac",
         "ec71692a88f8c0036384d29100826bd20c91b1b9463e3cec22193fb583710729"
         "a3b2bc2a3c276805d5e3657d5ad6d746423cb9660ba6578d888d5b42e92b2503"},
    };
    for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/deploy/demo-keys/%s.pem", CHAIN_SOURCE_DIR, demo[i].name);
        key_pair_t k, derived;
        err_t e;
        cr_assert_eq(key_load_pem(&k, path, &e), 0, "%s: %s", path, e.message);
        uint8_t pub[32];
        unhex(pub, 32, demo[i].pubkey);
        cr_assert_arr_eq(k.pubkey, pub, 32, "%s: public key", demo[i].name);
        /* the seed read from the file derives the same key */
        cr_assert_eq(key_from_seed(&derived, k.seed, &e), 0);
        cr_assert_arr_eq(derived.pubkey, pub, 32);
        uint8_t want[64], sig[64];
        unhex(want, 64, demo[i].sig);
        cr_assert_eq(key_sign(&k, sig, (const uint8_t *)demo_msg, strlen(demo_msg), &e), 0);
        cr_assert_arr_eq(sig, want, 64, "%s: not the signature it always made", demo[i].name);
        cr_assert(key_verify(pub, sig, (const uint8_t *)demo_msg, strlen(demo_msg)));
    }
}
