/* flags.h: where a value comes from (command line over environment over
 * default), switches, repeatable flags, --help and --version, usage errors,
 * and flags_uint's bounds. Table-driven: each row is one command line and
 * environment, and the value it must give. Criterion runs each test in its
 * own process, so the environment set here does not leak. Each row's flags
 * live in static storage, as a daemon's do: a joined list stays valid until
 * the process ends, and the leak check sees it still reachable then. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

#define MAX_ARGS 8

/* One flag of each kind, with fresh defaults for every parse. */
enum { F_DATADIR, F_SWITCH, F_PEER, N_TEST_FLAGS };

static void fresh(flag_t f[N_TEST_FLAGS])
{
    f[F_DATADIR] =
        (flag_t){"datadir", "TESTFLAGS_DATADIR", "DIR", "data directory", "./data", false};
    f[F_SWITCH] = (flag_t){"empty-blocks", "TESTFLAGS_EMPTY", NULL, "a switch", NULL, false};
    f[F_PEER] = (flag_t){"peer", "TESTFLAGS_PEER", "HOST:PORT", "a peer", NULL, true};
}

/* Parses args (NULL-terminated, without argv[0]) with env_value in the
 * flag's variable (NULL: unset) into f; flags_parse's return. */
static int parse(flag_t f[N_TEST_FLAGS], const char *env_name, const char *env_value,
                 const char *const *args)
{
    char *argv[MAX_ARGS + 2] = {"prog"};
    int argc = 1;
    for (; args[argc - 1]; argc++) {
        cr_assert_lt(argc, MAX_ARGS + 1, "test row with too many arguments");
        argv[argc] = (char *)args[argc - 1];
    }
    unsetenv("TESTFLAGS_DATADIR");
    unsetenv("TESTFLAGS_EMPTY");
    unsetenv("TESTFLAGS_PEER");
    if (env_value)
        setenv(env_name, env_value, 1);
    fresh(f);
    return flags_parse(f, N_TEST_FLAGS, argc, argv, "prog", "a test program");
}

typedef struct {
    const char *why;
    const char *env; /* NULL: the variable is unset */
    const char *args[MAX_ARGS + 1];
    const char *want; /* NULL: no value */
} row_t;

#define MAX_ROWS 16

static void check_rows(const row_t *rows, size_t n, int flag, const char *env_name)
{
    static flag_t store[MAX_ROWS][N_TEST_FLAGS];
    cr_assert_leq(n, (size_t)MAX_ROWS);
    for (size_t i = 0; i < n; i++) {
        flag_t *f = store[i];
        int rc = parse(f, env_name, rows[i].env, rows[i].args);
        cr_assert_eq(rc, 0, "%s: flags_parse returned %d", rows[i].why, rc);
        const char *got = flags_get(f, N_TEST_FLAGS, f[flag].name);
        if (!rows[i].want)
            cr_assert_null(got, "%s: got \"%s\", want no value", rows[i].why, got);
        else
            cr_assert(got && strcmp(got, rows[i].want) == 0, "%s: got \"%s\", want \"%s\"",
                      rows[i].why, got ? got : "(null)", rows[i].want);
    }
}

Test(flags, command_line_over_env_over_default)
{
    static const row_t rows[] = {
        {"nothing given: the default", NULL, {NULL}, "./data"},
        {"the variable over the default", "/env", {NULL}, "/env"},
        {"an empty variable is not a value", "", {NULL}, "./data"},
        {"the command line over the variable", "/env", {"--datadir", "/cli", NULL}, "/cli"},
        {"--name=value", "/env", {"--datadir=/eq", NULL}, "/eq"},
        {"--name= gives the empty value", NULL, {"--datadir=", NULL}, ""},
        {"the last of two wins", NULL, {"--datadir", "/a", "--datadir=/b", NULL}, "/b"},
        {"a value may start with --", NULL, {"--datadir", "--odd", NULL}, "--odd"},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], F_DATADIR, "TESTFLAGS_DATADIR");
}

Test(flags, switches)
{
    static const row_t rows[] = {
        {"not given", NULL, {NULL}, NULL},
        {"given", NULL, {"--empty-blocks", NULL}, "1"},
        {"variable 1", "1", {NULL}, "1"},
        {"variable yes", "yes", {NULL}, "1"},
        {"variable true", "true", {NULL}, "1"},
        {"variable empty", "", {NULL}, NULL},
        {"variable 0", "0", {NULL}, NULL},
        {"variable false", "false", {NULL}, NULL},
        {"given beats a variable that says no", "0", {"--empty-blocks", NULL}, "1"},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], F_SWITCH, "TESTFLAGS_EMPTY");
}

Test(flags, repeatable_values_join)
{
    static const row_t rows[] = {
        {"none", NULL, {NULL}, NULL},
        {"one", NULL, {"--peer", "a:1", NULL}, "a:1"},
        {"three, both spellings", NULL, {"--peer", "a:1", "--peer=b:2", "--peer", "c:3", NULL},
         "a:1,b:2,c:3"},
        {"the variable alone", "e:9", {NULL}, "e:9"},
        {"the command line replaces the variable", "e:9", {"--peer", "a:1", "--peer", "b:2", NULL},
         "a:1,b:2"},
    };
    check_rows(rows, sizeof rows / sizeof rows[0], F_PEER, "TESTFLAGS_PEER");
}

Test(flags, usage_errors)
{
    static const struct {
        const char *why;
        const char *args[MAX_ARGS + 1];
    } rows[] = {
        {"unknown option", {"--no-such", NULL}},
        {"unknown option with a value", {"--no-such=1", NULL}},
        {"a prefix of a name is not the name", {"--data", "/x", NULL}},
        {"a positional argument", {"datadir", NULL}},
        {"a single dash", {"-datadir", "/x", NULL}},
        {"a value missing at the end", {"--datadir", NULL}},
        {"a switch given a value", {"--empty-blocks=1", NULL}},
        {"an error after good flags", {"--datadir", "/x", "--bogus", NULL}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        flag_t f[N_TEST_FLAGS];
        cr_assert_eq(parse(f, NULL, NULL, rows[i].args), -1, "%s", rows[i].why);
    }
}

TestSuite(flags_answers, .init = cr_redirect_stdout);

/* --help and --version answer on stdout and return 1 (exit 0), wherever
 * they are on the line and whatever follows. */
Test(flags_answers, help_and_version)
{
    static const struct {
        const char *args[MAX_ARGS + 1];
        const char *first_line;
    } rows[] = {
        {{"--help", NULL}, "usage: prog [options]\n"},
        {{"-h", NULL}, "usage: prog [options]\n"},
        {{"--datadir", "/x", "--help", "--bogus", NULL}, "usage: prog [options]\n"},
        {{"--version", NULL}, "prog " CHAIN_VERSION "\n"},
        {{"-V", "--bogus", NULL}, "prog " CHAIN_VERSION "\n"},
    };
    FILE *out = cr_get_redirected_stdout();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        flag_t f[N_TEST_FLAGS];
        cr_assert_eq(parse(f, NULL, NULL, rows[i].args), 1, "row %zu", i);
        fflush(stdout);
        /* the answer's first line, then the rest of a help text */
        char line[256] = "";
        cr_assert_not_null(fgets(line, sizeof line, out));
        cr_assert_str_eq(line, rows[i].first_line, "row %zu", i);
        if (rows[i].first_line[0] == 'u')
            while (fgets(line, sizeof line, out) && strstr(line, "-V, --version") == NULL) {
            }
    }
}

Test(flags, uint_bounds)
{
    static const struct {
        const char *text;
        uint64_t min, max;
        int rc;
        uint64_t want;
    } rows[] = {
        {"0", 0, 10, 0, 0},
        {"10", 0, 10, 0, 10},
        {"11", 0, 10, -1, 0},
        {"4", 5, 10, -1, 0},
        {"5", 5, 10, 0, 5},
        {"007", 0, 10, 0, 7},
        {"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX},
        {"18446744073709551616", 0, UINT64_MAX, -1, 0},
        {"", 0, 10, -1, 0},
        {"-1", 0, UINT64_MAX, -1, 0},
        {" -5", 0, UINT64_MAX, -1, 0},
        {" 5", 0, 10, -1, 0},
        {"+5", 0, 10, -1, 0},
        {"5x", 0, 10, -1, 0},
        {"0x5", 0, 10, -1, 0},
        {"abc", 0, 10, -1, 0},
        {NULL, 0, 10, -1, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t out = 12345;
        int rc = flags_uint("prog", "n", rows[i].text, rows[i].min, rows[i].max, &out);
        const char *t = rows[i].text ? rows[i].text : "(null)";
        cr_assert_eq(rc, rows[i].rc, "\"%s\" in [%llu, %llu]: rc %d", t,
                     (unsigned long long)rows[i].min, (unsigned long long)rows[i].max, rc);
        cr_assert_eq(out, rc == 0 ? rows[i].want : 12345, "\"%s\": value %llu", t,
                     (unsigned long long)out);
    }
}
