#include "flags.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const flag_t *flags, size_t n, const char *program, const char *summary,
                  FILE *out)
{
    fprintf(out, "usage: %s [options]\n\n%s\n\noptions (each also read from its environment "
            "variable):\n", program, summary);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, flags[i].metavar ? " " : "",
                 flags[i].metavar ? flags[i].metavar : "");
        fprintf(out, "  %-26s %s", left, flags[i].help);
        if (flags[i].value)
            fprintf(out, " (default %s)", flags[i].value);
        if (flags[i].repeatable)
            fprintf(out, " (repeatable)");
        fprintf(out, "\n  %-26s env %s\n", "", flags[i].env);
    }
    fprintf(out, "  %-26s %s\n  %-26s %s\n", "-h, --help", "this help", "-V, --version",
            "the version");
}

static bool env_switch(const char *v)
{
    return v && *v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

/* Appends value to a repeatable flag's list ("a,b"); *owned says whether
 * the list is already a buffer of ours, grown in place rather than copied
 * (so no earlier list is left behind unreachable). */
static int append(flag_t *f, const char *value, bool *from_cli, bool *owned)
{
    if (!*from_cli || !f->value) {
        f->value = value;
        *from_cli = true;
        return 0;
    }
    size_t old = strlen(f->value), len = old + 1 + strlen(value) + 1;
    char *joined = *owned ? realloc((char *)f->value, len) : malloc(len);
    if (!joined)
        return -1;
    if (!*owned)
        memcpy(joined, f->value, old);
    joined[old] = ',';
    memcpy(joined + old + 1, value, strlen(value) + 1);
    f->value = joined; /* lives until exit, as argv does */
    *owned = true;
    return 0;
}

int flags_parse(flag_t *flags, size_t n, int argc, char **argv, const char *program,
                const char *summary)
{
    bool given[64] = {false}, owned[64] = {false};
    assert(n <= 64);
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(flags[i].env);
        if (flags[i].metavar ? v != NULL && *v : env_switch(v))
            flags[i].value = flags[i].metavar ? v : "1";
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(flags, n, program, summary, stdout);
            return 1;
        }
        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            printf("%s %s\n", program, CHAIN_VERSION);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", program, arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        size_t i = 0;
        while (i < n && !(strlen(flags[i].name) == name_len &&
                          strncmp(flags[i].name, name, name_len) == 0))
            i++;
        if (i == n) {
            fprintf(stderr, "%s: unknown option \"%s\" (see --help)\n", program, arg);
            return -1;
        }
        const char *value;
        if (!flags[i].metavar) {
            if (eq) {
                fprintf(stderr, "%s: --%s takes no value\n", program, flags[i].name);
                return -1;
            }
            value = "1";
        } else if (eq) {
            value = eq + 1;
        } else if (a + 1 < argc) {
            value = argv[++a];
        } else {
            fprintf(stderr, "%s: --%s needs a value (%s)\n", program, flags[i].name,
                    flags[i].metavar);
            return -1;
        }
        if (flags[i].repeatable) {
            if (append(&flags[i], value, &given[i], &owned[i]) < 0) {
                fprintf(stderr, "%s: out of memory\n", program);
                return -1;
            }
        } else {
            flags[i].value = value;
        }
    }
    return 0;
}

const char *flags_get(const flag_t *flags, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(flags[i].name, name) == 0)
            return flags[i].value;
    assert(!"unknown flag");
    return NULL;
}

int flags_uint(const char *program, const char *name, const char *text, uint64_t min, uint64_t max,
               uint64_t *out)
{
    /* digits only: strtoull alone would take leading blanks and a sign, and
     * " -5" would wrap to 2^64 - 5 */
    bool digits = text && *text >= '0' && *text <= '9';
    char *end = NULL;
    errno = 0;
    unsigned long long v = digits ? strtoull(text, &end, 10) : 0;
    if (!digits || errno || *end || v < min || v > max) {
        fprintf(stderr, "%s: --%s must be a whole number from %" PRIu64 " to %" PRIu64
                " (got \"%s\")\n", program, name, min, max, text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}
