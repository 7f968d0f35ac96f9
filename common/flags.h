/* flags: command-line flags with environment-variable twins, one table per
 * daemon. A flag's value comes from, in order: the command line, its
 * environment variable, its default. --help and --version are built in.
 *
 *   static flag_t flags[] = {
 *       {"datadir", "CHAIND_DATADIR", "DIR", "data directory", "./data"},
 *       {"cors", "CHAIND_CORS", "ORIGIN", "allow browser clients from ORIGIN", NULL},
 *       {"empty-blocks", "MINERD_EMPTY_BLOCKS", NULL, "mine without transactions", NULL},
 *   };
 * A flag with a NULL metavar is a switch: its value is "1" when given (or its
 * variable is set to anything but "", "0" or "false"), else NULL. */
#ifndef CHAIN_FLAGS_H
#define CHAIN_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;    /* long option, without "--" */
    const char *env;     /* its environment twin */
    const char *metavar; /* NULL: a switch */
    const char *help;
    const char *value;   /* in: the default (may be NULL); out: the value in force */
    bool repeatable;     /* values given several times are joined with ',' */
} flag_t;

/* Parses argv. Returns 0 to run, 1 when --help or --version was answered
 * (exit 0), or -1 after printing a usage error to stderr (exit 2).
 * Repeated values live in storage that stays valid until the process ends. */
int flags_parse(flag_t *flags, size_t n, int argc, char **argv, const char *program,
                const char *summary);
/* The flag called name (a programmer error if absent). */
const char *flags_get(const flag_t *flags, size_t n, const char *name);
/* Parses an unsigned decimal in [min, max]; -1 with a message on stderr. */
int flags_uint(const char *program, const char *name, const char *text, uint64_t min, uint64_t max,
               uint64_t *out);

#endif
