/* fuzz_script: the script interpreter and the ASM form.
 *
 * Input format (make_seeds writes its seeds so):
 *   bytes 0-1  split position, little-endian; reduced modulo (rest length + 1)
 *   rest       unlocking script = rest[0..split), locking script = rest[split..)
 *
 * Invariants (abort() when broken):
 *   - script_verify answers 0 or ERR_SCRIPT_FAILED, and fails whenever the
 *     unlocking script is not push-only;
 *   - the ASM form is lossless: script_from_asm(script_to_asm(s)) == s, and the
 *     text fits SCRIPT_ASM_MAX (for scripts within SCRIPT_MAX_SIZE, the bound
 *     of the ASM parser's push buffer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"
#include "script.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* The sighash of the transaction in vectors.json's script section, so the seeds'
 * valid P2PKH spend really verifies. */
static const hash32_t sighash = {{
    0x7d, 0x35, 0x83, 0xbe, 0x18, 0x12, 0xf9, 0x8d, 0x3c, 0xc5, 0x97, 0x3d, 0x4a, 0x09, 0x47, 0x46,
    0x34, 0x98, 0x3e, 0xe8, 0xa6, 0x7d, 0x8d, 0x95, 0xe4, 0xc2, 0xa6, 0x0c, 0xc6, 0x71, 0x3f, 0x3f,
}};

static void check_asm(const uint8_t *s, size_t len)
{
    size_t cap = SCRIPT_ASM_MAX(len);
    char *text = malloc(cap); /* exactly the documented capacity: ASan sees an overrun */
    CHECK(text != NULL);
    script_to_asm(text, s, len);
    CHECK(strlen(text) < cap);
    if (len <= SCRIPT_MAX_SIZE) {
        uint8_t *back = malloc(len + 1);
        size_t back_len = 0;
        err_t e;
        CHECK(back != NULL);
        CHECK(script_from_asm(back, len, &back_len, text, &e) == 0);
        CHECK(back_len == len && memcmp(back, s, len) == 0);
        free(back);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    size_t n = len - 2;
    size_t split = ((size_t)data[0] | (size_t)data[1] << 8) % (n + 1);
    /* copies of exactly their size, so ASan sees any read past either script */
    uint8_t *unlocking = malloc(split ? split : 1), *locking = malloc(n - split ? n - split : 1);
    CHECK(unlocking && locking);
    memcpy(unlocking, data + 2, split);
    memcpy(locking, data + 2 + split, n - split);

    err_t e;
    int rc = script_verify(unlocking, split, locking, n - split, &sighash, NULL, &e);
    CHECK(rc == 0 || (rc == -(int)ERR_SCRIPT_FAILED && e.code == ERR_SCRIPT_FAILED));
    if (!script_is_push_only(unlocking, split))
        CHECK(rc != 0);

    check_asm(unlocking, split);
    check_asm(locking, n - split);

    free(unlocking);
    free(locking);
    return 0;
}
