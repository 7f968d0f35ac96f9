/* amount: base units (1 coin = 100 000 000) with every sum checked against
 * max money, so no sum of amounts can overflow or mint coins. */
#ifndef CHAIN_AMOUNT_H
#define CHAIN_AMOUNT_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t amount_t;

#define AMOUNT_COIN ((amount_t)100000000)
#define AMOUNT_MAX_MONEY ((amount_t)21000000 * AMOUNT_COIN)

static inline bool amount_valid(amount_t a) { return a <= AMOUNT_MAX_MONEY; }

/* *sum += a. Returns false (leaving *sum unchanged) when a or the result is
 * above max money. Both operands are at most max money, so no overflow. */
static inline bool amount_add(amount_t *sum, amount_t a)
{
    if (!amount_valid(a) || !amount_valid(*sum) || a > AMOUNT_MAX_MONEY - *sum)
        return false;
    *sum += a;
    return true;
}

#endif
