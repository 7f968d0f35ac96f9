#include "err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *str;
    int http;
    int ban;
} table[ERR_COUNT_] = {
#define ERR_ROW(e, s, h, b) [e] = {s, h, b},
    ERR_LIST(ERR_ROW)
#undef ERR_ROW
};

const char *err_str(err_code_t code)
{
    if ((unsigned)code >= ERR_COUNT_)
        return "internal";
    return table[code].str;
}

err_code_t err_from_str(const char *s)
{
    for (int i = 0; i < ERR_COUNT_; i++)
        if (strcmp(table[i].str, s) == 0)
            return (err_code_t)i;
    return ERR_COUNT_;
}

int err_http_status(err_code_t code)
{
    return (unsigned)code < ERR_COUNT_ ? table[code].http : 500;
}

int err_ban_score(err_code_t code)
{
    return (unsigned)code < ERR_COUNT_ ? table[code].ban : 0;
}

int err_tx_ban_score(err_code_t code)
{
    bool state = code == ERR_UNKNOWN_UTXO || code == ERR_IMMATURE_COINBASE ||
                 code == ERR_DOUBLE_SPEND;
    return state ? 0 : err_ban_score(code);
}

int err_set(err_t *e, err_code_t code, const char *fmt, ...)
{
    if (e) {
        e->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return -(int)code;
}
