#include "script.h"

#include <string.h>

#include "hex.h"

static const struct {
    uint8_t op;
    const char *name;
} op_names[] = {
    {OP_DUP, "OP_DUP"},           {OP_HASH160, "OP_HASH160"}, {OP_EQUAL, "OP_EQUAL"},
    {OP_EQUALVERIFY, "OP_EQUALVERIFY"}, {OP_CHECKSIG, "OP_CHECKSIG"}, {OP_RETURN, "OP_RETURN"},
};

/* Decodes the push at s[*pos]: on success its data and the position after it.
 * Returns 1 for a push, 0 for an opcode, -1 for a truncated push. */
static int read_push(const uint8_t *s, size_t len, size_t *pos, const uint8_t **data, size_t *n)
{
    uint8_t op = s[*pos];
    size_t hdr;
    if (op >= 0x01 && op <= 0x4b) {
        *n = op;
        hdr = 1;
    } else if (op == OP_PUSHDATA1) {
        if (*pos + 1 >= len)
            return -1;
        *n = s[*pos + 1];
        hdr = 2;
    } else {
        return 0;
    }
    if (*n > len - *pos - hdr)
        return -1;
    *data = s + *pos + hdr;
    *pos += hdr + *n;
    return 1;
}

bool script_is_push_only(const uint8_t *s, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const uint8_t *d;
        size_t n;
        if (read_push(s, len, &pos, &d, &n) != 1)
            return false;
    }
    return true;
}

typedef struct {
    const uint8_t *p; /* NULL: the bytes are in own[] */
    size_t n;
    uint8_t own[20];
} item_t;

typedef struct {
    item_t items[SCRIPT_MAX_STACK];
    size_t depth;
} stack_t_;

static const uint8_t *item_data(const item_t *it) { return it->p ? it->p : it->own; }

static bool item_true(const item_t *it)
{
    const uint8_t *d = item_data(it);
    for (size_t i = 0; i < it->n; i++)
        if (d[i])
            return true;
    return false;
}

static bool items_equal(const item_t *a, const item_t *b)
{
    return a->n == b->n && memcmp(item_data(a), item_data(b), a->n) == 0;
}

static const uint8_t byte_true = 1;

static bool push(stack_t_ *st, const uint8_t *p, size_t n)
{
    if (st->depth >= SCRIPT_MAX_STACK)
        return false;
    st->items[st->depth++] = (item_t){.p = n ? p : &byte_true, .n = n};
    return true;
}

static bool checksig(const script_checker_t *checker, const item_t *pubkey, const item_t *sig,
                     const hash32_t *sighash)
{
    if (pubkey->n != KEY_PUBKEY_LEN || sig->n != KEY_SIG_LEN)
        return false;
    if (checker && checker->check)
        return checker->check(checker->ctx, item_data(pubkey), item_data(sig), sighash);
    return key_verify(item_data(pubkey), item_data(sig), sighash->b, sizeof sighash->b);
}

static int run(stack_t_ *st, const uint8_t *s, size_t len, const hash32_t *sighash,
               const script_checker_t *checker, err_t *e)
{
    size_t pos = 0;
    while (pos < len) {
        size_t at = pos;
        const uint8_t *d;
        size_t n;
        int kind = read_push(s, len, &pos, &d, &n);
        if (kind < 0)
            return err_set(e, ERR_SCRIPT_FAILED, "truncated push at byte %zu", at);
        if (kind == 1) {
            if (!push(st, d, n))
                return err_set(e, ERR_SCRIPT_FAILED, "stack over %d items", SCRIPT_MAX_STACK);
            continue;
        }
        uint8_t op = s[pos++];
        item_t *top = st->depth ? &st->items[st->depth - 1] : NULL;
        switch (op) {
        case OP_DUP:
            if (!top)
                return err_set(e, ERR_SCRIPT_FAILED, "OP_DUP on an empty stack");
            if (st->depth >= SCRIPT_MAX_STACK)
                return err_set(e, ERR_SCRIPT_FAILED, "stack over %d items", SCRIPT_MAX_STACK);
            st->items[st->depth] = *top;
            st->depth++;
            break;
        case OP_HASH160: {
            if (!top)
                return err_set(e, ERR_SCRIPT_FAILED, "OP_HASH160 on an empty stack");
            hash20_t h;
            hash_hash160(&h, item_data(top), top->n);
            memcpy(top->own, h.b, 20);
            top->p = NULL;
            top->n = 20;
            break;
        }
        case OP_EQUAL:
        case OP_EQUALVERIFY:
        case OP_CHECKSIG: {
            if (st->depth < 2)
                return err_set(e, ERR_SCRIPT_FAILED, "opcode 0x%02x needs two stack items", op);
            item_t *a = &st->items[st->depth - 2], *b = &st->items[st->depth - 1];
            bool result = op == OP_CHECKSIG ? checksig(checker, b, a, sighash) : items_equal(a, b);
            st->depth -= 2;
            if (op == OP_EQUALVERIFY) {
                if (!result)
                    return err_set(e, ERR_SCRIPT_FAILED, "OP_EQUALVERIFY: items differ "
                                   "(a key of another owner?)");
                break;
            }
            /* false is the empty item, as in Bitcoin */
            push(st, &byte_true, result ? 1 : 0);
            break;
        }
        case OP_RETURN:
            return err_set(e, ERR_SCRIPT_FAILED, "OP_RETURN: the output is unspendable data");
        default:
            return err_set(e, ERR_SCRIPT_FAILED, "unknown opcode 0x%02x at byte %zu", op, at);
        }
    }
    return 0;
}

int script_verify(const uint8_t *unlocking, size_t unlocking_len, const uint8_t *locking,
                  size_t locking_len, const hash32_t *sighash, const script_checker_t *checker,
                  err_t *e)
{
    if (unlocking_len > SCRIPT_MAX_SIZE || locking_len > SCRIPT_MAX_SIZE)
        return err_set(e, ERR_SCRIPT_FAILED, "script over %d bytes", SCRIPT_MAX_SIZE);
    if (!script_is_push_only(unlocking, unlocking_len))
        return err_set(e, ERR_SCRIPT_FAILED, "the unlocking script must be pushes only");
    static _Thread_local stack_t_ st; /* 40 KB: kept off the (worker) stacks */
    st.depth = 0;
    int rc = run(&st, unlocking, unlocking_len, sighash, checker, e);
    if (rc == 0)
        rc = run(&st, locking, locking_len, sighash, checker, e);
    if (rc < 0)
        return rc;
    if (st.depth == 0)
        return err_set(e, ERR_SCRIPT_FAILED, "empty stack at the end");
    if (!item_true(&st.items[st.depth - 1]))
        return err_set(e, ERR_SCRIPT_FAILED, "false on top of the stack (a bad signature?)");
    return 0;
}

void script_p2pkh_lock(uint8_t out[SCRIPT_P2PKH_LOCK_LEN], const hash20_t *pubkey_hash)
{
    out[0] = OP_DUP;
    out[1] = OP_HASH160;
    out[2] = 20;
    memcpy(out + 3, pubkey_hash->b, 20);
    out[23] = OP_EQUALVERIFY;
    out[24] = OP_CHECKSIG;
}

void script_p2pkh_unlock(uint8_t out[SCRIPT_P2PKH_UNLOCK_LEN], const uint8_t sig[KEY_SIG_LEN],
                         const uint8_t pubkey[KEY_PUBKEY_LEN])
{
    out[0] = KEY_SIG_LEN;
    memcpy(out + 1, sig, KEY_SIG_LEN);
    out[1 + KEY_SIG_LEN] = KEY_PUBKEY_LEN;
    memcpy(out + 2 + KEY_SIG_LEN, pubkey, KEY_PUBKEY_LEN);
}

bool script_p2pkh_unlock_parse(const uint8_t *s, size_t len, uint8_t sig[KEY_SIG_LEN],
                               uint8_t pubkey[KEY_PUBKEY_LEN])
{
    if (len != SCRIPT_P2PKH_UNLOCK_LEN || s[0] != KEY_SIG_LEN || s[1 + KEY_SIG_LEN] != KEY_PUBKEY_LEN)
        return false;
    memcpy(sig, s + 1, KEY_SIG_LEN);
    memcpy(pubkey, s + 2 + KEY_SIG_LEN, KEY_PUBKEY_LEN);
    return true;
}

bool script_p2pkh_hash(const uint8_t *s, size_t len, hash20_t *pubkey_hash)
{
    if (len != SCRIPT_P2PKH_LOCK_LEN || s[0] != OP_DUP || s[1] != OP_HASH160 || s[2] != 20 ||
        s[23] != OP_EQUALVERIFY || s[24] != OP_CHECKSIG)
        return false;
    if (pubkey_hash)
        memcpy(pubkey_hash->b, s + 3, 20);
    return true;
}

static const char *op_name(uint8_t op)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (op_names[i].op == op)
            return op_names[i].name;
    return NULL;
}

void script_to_asm(char *out, const uint8_t *s, size_t len)
{
    size_t pos = 0, o = 0;
    out[0] = '\0';
    while (pos < len) {
        if (o)
            out[o++] = ' ';
        size_t at = pos;
        const uint8_t *d;
        size_t n;
        int kind = read_push(s, len, &pos, &d, &n);
        const char *name = kind == 0 ? op_name(s[at]) : NULL;
        if (kind == 1 && (s[at] != OP_PUSHDATA1 || n > 0x4b)) {
            hex_encode(out + o, d, n);
            o += 2 * n;
        } else if (name) {
            size_t l = strlen(name);
            memcpy(out + o, name, l + 1);
            o += l;
            pos = at + 1;
        } else {
            /* raw bytes: an unknown opcode (one byte), a non-minimal push
             * (the push with its data), or a truncated push (all the rest) */
            size_t end = kind == 1 ? pos : kind == 0 ? at + 1 : len;
            memcpy(out + o, "0x", 2);
            hex_encode(out + o + 2, s + at, end - at);
            o += 2 + 2 * (end - at);
            pos = end;
        }
    }
    out[o] = '\0';
}

static int append(uint8_t *out, size_t cap, size_t *len, const uint8_t *d, size_t n)
{
    if (n > cap - *len)
        return -1;
    memcpy(out + *len, d, n);
    *len += n;
    return 0;
}

int script_from_asm(uint8_t *out, size_t cap, size_t *len, const char *asm_text, err_t *e)
{
    const char *p = asm_text;
    *len = 0;
    while (*p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t tl = strcspn(p, " ");
        const char *tok = p;
        p += tl;
        if (tl > 2 && tok[0] == 'O' && tok[1] == 'P' && tok[2] == '_') {
            uint8_t op = 0;
            for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
                if (strlen(op_names[i].name) == tl && memcmp(op_names[i].name, tok, tl) == 0)
                    op = op_names[i].op;
            if (!op && tl == 15 && memcmp(tok, "OP_EQUAL_VERIFY", 15) == 0)
                op = OP_EQUALVERIFY;
            if (!op)
                return err_set(e, ERR_BAD_SCRIPT, "unknown opcode %.*s", (int)(tl > 32 ? 32 : tl),
                               tok);
            if (append(out, cap, len, &op, 1) < 0)
                return err_set(e, ERR_BAD_SCRIPT, "script too long");
            continue;
        }
        bool raw = tl > 2 && tok[0] == '0' && tok[1] == 'x';
        const char *hex = raw ? tok + 2 : tok;
        size_t hl = raw ? tl - 2 : tl;
        uint8_t data[SCRIPT_MAX_SIZE];
        long n = hex_decode(data, sizeof data, hex, hl);
        if (n <= 0)
            return err_set(e, ERR_BAD_SCRIPT, "token %zu-%zu is neither an opcode nor hex",
                           (size_t)(tok - asm_text), (size_t)(tok - asm_text) + tl);
        if (!raw) {
            if (n > 0xff)
                return err_set(e, ERR_BAD_SCRIPT, "a push of %ld bytes: at most 255", n);
            uint8_t hdr[2] = {OP_PUSHDATA1, (uint8_t)n};
            int rc = n <= 0x4b ? append(out, cap, len, &hdr[1], 1) : append(out, cap, len, hdr, 2);
            if (rc < 0)
                return err_set(e, ERR_BAD_SCRIPT, "script too long");
        }
        if (append(out, cap, len, data, (size_t)n) < 0)
            return err_set(e, ERR_BAD_SCRIPT, "script too long");
    }
    return 0;
}
