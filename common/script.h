/* script: the stack language of DESIGN §3.3 — parsing and rendering its ASM
 * form, the interpreter, and the P2PKH templates.
 *
 * ASM is lossless: every byte string renders to a text that parses back to the
 * same bytes, so a transaction's JSON form carries exactly its txid. Known
 * opcodes render as names, minimal pushes as lowercase hex, and anything else
 * (an unknown opcode, a non-minimal or truncated push) as a raw token `0x<hex>`
 * of the bytes themselves. */
#ifndef CHAIN_SCRIPT_H
#define CHAIN_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "key.h"

#define SCRIPT_MAX_SIZE 10000
#define SCRIPT_MAX_STACK 1000

enum {
    OP_PUSHDATA1 = 0x4c,
    OP_RETURN = 0x6a,
    OP_DUP = 0x76,
    OP_EQUAL = 0x87,
    OP_EQUALVERIFY = 0x88,
    OP_HASH160 = 0xa9,
    OP_CHECKSIG = 0xac,
};

#define SCRIPT_P2PKH_LOCK_LEN 25
#define SCRIPT_P2PKH_UNLOCK_LEN (1 + KEY_SIG_LEN + 1 + KEY_PUBKEY_LEN)
/* Bytes enough for the ASM of a script of n bytes, with its NUL. */
#define SCRIPT_ASM_MAX(n) (16 * (size_t)(n) + 1)

/* Checks one signature for OP_CHECKSIG. chaind passes its own to consult a
 * signature cache; NULL means key_verify(). */
typedef struct {
    bool (*check)(void *ctx, const uint8_t pubkey[KEY_PUBKEY_LEN],
                  const uint8_t sig[KEY_SIG_LEN], const hash32_t *sighash);
    void *ctx;
} script_checker_t;

/* Whether the script is only well-formed pushes (0x01-0x4b n, 0x4c n). */
bool script_is_push_only(const uint8_t *s, size_t len);

/* Runs unlocking then locking on one stack (§3.3). Returns 0 when the spend is
 * valid; ERR_SCRIPT_FAILED with the reason otherwise (a failing op, a limit,
 * an unknown byte, an unlocking script that is not push-only, a false top). */
int script_verify(const uint8_t *unlocking, size_t unlocking_len, const uint8_t *locking,
                  size_t locking_len, const hash32_t *sighash, const script_checker_t *checker,
                  err_t *e) __attribute__((warn_unused_result));

/* out = 76 a9 14 <pubkey_hash> 88 ac. */
void script_p2pkh_lock(uint8_t out[SCRIPT_P2PKH_LOCK_LEN], const hash20_t *pubkey_hash);
/* out = 40 <sig> 20 <pubkey>. */
void script_p2pkh_unlock(uint8_t out[SCRIPT_P2PKH_UNLOCK_LEN], const uint8_t sig[KEY_SIG_LEN],
                         const uint8_t pubkey[KEY_PUBKEY_LEN]);
/* Whether s is a P2PKH unlocking script (40 <sig> 20 <pubkey>); if so, its
 * signature and public key. */
bool script_p2pkh_unlock_parse(const uint8_t *s, size_t len, uint8_t sig[KEY_SIG_LEN],
                               uint8_t pubkey[KEY_PUBKEY_LEN]);
/* Whether s is a P2PKH locking script; if so, its pubkey hash (may be NULL). */
bool script_p2pkh_hash(const uint8_t *s, size_t len, hash20_t *pubkey_hash);

/* Renders s as ASM into out (capacity SCRIPT_ASM_MAX(len)). */
void script_to_asm(char *out, const uint8_t *s, size_t len);
/* Parses ASM (single or repeated spaces; `OP_EQUAL_VERIFY` accepted for
 * OP_EQUALVERIFY) into out (capacity cap), its length in *len. ERR_BAD_SCRIPT
 * on an unknown name, bad hex, a push over 255 bytes, or a result over cap. */
int script_from_asm(uint8_t *out, size_t cap, size_t *len, const char *asm_text, err_t *e)
    __attribute__((warn_unused_result));

#endif
