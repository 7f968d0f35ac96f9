/* err.h: the table of stable reject codes, their strings, HTTP statuses and
 * err_set. The strings named in DESIGN §2 and the statuses of §4.3 are
 * spelled out here, since peers and HTTP clients depend on them. */
#include <criterion/criterion.h>
#include <string.h>

#include "err.h"

Test(err, strings_distinct_and_round_trip)
{
    for (int i = 0; i < ERR_COUNT_; i++) {
        const char *s = err_str((err_code_t)i);
        cr_assert_not_null(s, "code %d", i);
        cr_assert_neq(s[0], '\0', "code %d has an empty string", i);
        /* stable identifiers: lowercase letters and '_' only */
        cr_assert_eq(strspn(s, "abcdefghijklmnopqrstuvwxyz_"), strlen(s),
                     "code %d: \"%s\" is not a snake_case identifier", i, s);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(s, err_str((err_code_t)j), "codes %d and %d share \"%s\"", j, i, s);
        cr_assert_eq(err_from_str(s), (err_code_t)i, "err_from_str(\"%s\")", s);
    }
}

Test(err, design_strings)
{
    /* DESIGN §2 names these codes; gossipd and HTTP clients match on them. */
    static const struct {
        err_code_t code;
        const char *s;
    } v[] = {
        {ERR_OK, "ok"},
        {ERR_UNKNOWN_UTXO, "unknown_utxo"},
        {ERR_SCRIPT_FAILED, "script_failed"},
        {ERR_INSUFFICIENT_FUNDS, "insufficient_funds"},
        {ERR_DOUBLE_SPEND, "double_spend"},
        {ERR_BAD_ENCODING, "bad_encoding"},
        {ERR_BAD_POW, "bad_pow"},
        {ERR_TOO_LARGE, "too_large"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        cr_assert_str_eq(err_str(v[i].code), v[i].s);
        cr_assert_eq(err_from_str(v[i].s), v[i].code);
    }
}

Test(err, unknown_strings)
{
    static const char *const v[] = {"", "no_such_code", "OK", "Bad_Encoding", "bad_encoding ",
                                    " bad_encoding", "bad", "bad_encodingx", "internal\n"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(err_from_str(v[i]), ERR_COUNT_, "\"%s\" maps to a code", v[i]);
}

Test(err, out_of_range_code)
{
    /* a corrupted code still yields a string and a server error, never a crash */
    cr_assert_not_null(err_str(ERR_COUNT_));
    cr_assert_not_null(err_str((err_code_t)1000));
    cr_assert_eq(err_http_status(ERR_COUNT_), 500);
    cr_assert_eq(err_http_status((err_code_t)1000), 500);
    cr_assert_eq(err_ban_score((err_code_t)1000), 0);
}

Test(err, http_status_mapping)
{
    /* DESIGN §4.3: 400 invalid, 404 unknown, 409 double spend, 413 too large, 415 not JSON */
    cr_assert_eq(err_http_status(ERR_DOUBLE_SPEND), 409);
    cr_assert_eq(err_http_status(ERR_TOO_LARGE), 413);
    cr_assert_eq(err_http_status(ERR_NOT_JSON), 415);
    cr_assert_eq(err_http_status(ERR_NOT_FOUND), 404);
    cr_assert_eq(err_http_status(ERR_UNKNOWN_BLOCK), 404);
    cr_assert_eq(err_http_status(ERR_BAD_ENCODING), 400);
    cr_assert_eq(err_http_status(ERR_BAD_JSON), 400);
    cr_assert_eq(err_http_status(ERR_SCRIPT_FAILED), 400);
    cr_assert_eq(err_http_status(ERR_BAD_ADDRESS), 400);
    cr_assert_eq(err_http_status(ERR_INTERNAL), 500);
    cr_assert_eq(err_http_status(ERR_OK), 200);
    for (int i = 1; i < ERR_COUNT_; i++) {
        int h = err_http_status((err_code_t)i);
        cr_assert(h >= 200 && h <= 599, "code %s: HTTP %d", err_str((err_code_t)i), h);
    }
}

Test(err, ban_scores)
{
    /* accepted or harmless outcomes never count against a peer */
    cr_assert_eq(err_ban_score(ERR_OK), 0);
    cr_assert_eq(err_ban_score(ERR_KNOWN), 0);
    cr_assert_eq(err_ban_score(ERR_ORPHAN), 0);
    cr_assert_eq(err_ban_score(ERR_FEE_TOO_LOW), 0);
    cr_assert_eq(err_ban_score(ERR_INTERNAL), 0);
    /* undecodable input and invalid proof of work are hostile */
    cr_assert_gt(err_ban_score(ERR_BAD_ENCODING), 0);
    cr_assert_gt(err_ban_score(ERR_BAD_POW), 0);
    cr_assert_gt(err_ban_score(ERR_BAD_NETWORK), 0);
    for (int i = 0; i < ERR_COUNT_; i++) {
        int s = err_ban_score((err_code_t)i);
        cr_assert_geq(s, 0, "code %s: negative ban score %d", err_str((err_code_t)i), s);
    }
    /* a relayed transaction the receiver's own view refuses costs nothing
     * (honest peers on another branch send them); an invalid one still does */
    cr_assert_gt(err_ban_score(ERR_DOUBLE_SPEND), 0, "in a block it is invalid");
    cr_assert_eq(err_tx_ban_score(ERR_DOUBLE_SPEND), 0);
    cr_assert_eq(err_tx_ban_score(ERR_UNKNOWN_UTXO), 0);
    cr_assert_eq(err_tx_ban_score(ERR_IMMATURE_COINBASE), 0);
    cr_assert_eq(err_tx_ban_score(ERR_SCRIPT_FAILED), err_ban_score(ERR_SCRIPT_FAILED));
    cr_assert_eq(err_tx_ban_score(ERR_BAD_ENCODING), err_ban_score(ERR_BAD_ENCODING));
}

Test(err, set_fills_and_returns_negative_code)
{
    err_t e = {.code = ERR_OK, .message = "stale"};
    cr_assert_eq(err_set(&e, ERR_DOUBLE_SPEND, "input %d of %s", 3, "abc"),
                 -(int)ERR_DOUBLE_SPEND);
    cr_assert_eq(e.code, ERR_DOUBLE_SPEND);
    cr_assert_str_eq(e.message, "input 3 of abc");
    for (int i = 1; i < ERR_COUNT_; i++) {
        cr_assert_eq(err_set(&e, (err_code_t)i, "x"), -i);
        cr_assert_eq(e.code, (err_code_t)i);
        cr_assert_lt(err_set(&e, (err_code_t)i, "x"), 0, "failures are negative");
    }
}

Test(err, set_with_null)
{
    cr_assert_eq(err_set(NULL, ERR_BAD_POW, "hash %s above target", "00ff"), -(int)ERR_BAD_POW);
    cr_assert_eq(err_set(NULL, ERR_INTERNAL, "%s", ""), -(int)ERR_INTERNAL);
}

Test(err, set_truncates_long_message)
{
    char longmsg[1000];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    err_t e;
    memset(&e, 0x7a, sizeof e);
    cr_assert_eq(err_set(&e, ERR_BAD_REQUEST, "%s", longmsg), -(int)ERR_BAD_REQUEST);
    cr_assert_eq(strlen(e.message), sizeof e.message - 1, "message not truncated to fit");
    cr_assert_eq(e.message[0], 'm');
}
