/* persist.h: gossipd's files are replaced whole (never left half written)
 * and read back a line at a time, comments and blank lines skipped, with a
 * bound on the size read. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "builder.h"
#include "persist.h"

typedef struct {
    char lines[8][64];
    size_t n;
} seen_t;

static void take(void *ctx, char *text)
{
    seen_t *s = ctx;
    cr_assert_lt(s->n, 8);
    snprintf(s->lines[s->n++], sizeof s->lines[0], "%s", text);
}

Test(persist, a_file_is_replaced_whole_and_read_a_line_at_a_time)
{
    char dir[256], path[300], tmp[310];
    tb_tmpdir(dir);
    snprintf(path, sizeof path, "%s/peers.txt", dir);
    err_t e;
    seen_t s = {0};
    cr_assert_eq(persist_read_lines(path, 1024, take, &s, &e), 0, "a missing file is no error");
    cr_assert_eq(s.n, 0);
    const char text[] = "# a comment\n10.0.0.1:9333 1 0 2\n\n10.0.0.2:9333 5 1 0\n";
    cr_assert_eq(persist_write(path, text, sizeof text - 1, &e), 0, "%s", e.message);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct stat st;
    cr_assert_neq(stat(tmp, &st), 0, "the temporary file was left");
    cr_assert_eq(persist_read_lines(path, 1024, take, &s, &e), 0, "%s", e.message);
    cr_assert_eq(s.n, 2, "comments and blank lines are not lines");
    cr_assert_str_eq(s.lines[0], "10.0.0.1:9333 1 0 2");
    cr_assert_str_eq(s.lines[1], "10.0.0.2:9333 5 1 0");
    /* replaced: the old content is gone */
    cr_assert_eq(persist_write(path, "x\n", 2, &e), 0, "%s", e.message);
    s.n = 0;
    cr_assert_eq(persist_read_lines(path, 1024, take, &s, &e), 0);
    cr_assert(s.n == 1 && strcmp(s.lines[0], "x") == 0);
    /* over the bound: refused, nothing read */
    s.n = 0;
    cr_assert_eq(persist_read_lines(path, 1, take, &s, &e), -(int)ERR_INTERNAL);
    cr_assert(strstr(e.message, "too large"), "%s", e.message);
    cr_assert_eq(s.n, 0);
    tb_rmdir(dir);
}

Test(persist, a_file_that_cannot_be_written_is_an_error_that_says_where)
{
    err_t e;
    cr_assert_lt(persist_write("/nonexistent-dir/peers.txt", "x", 1, &e), 0);
    cr_assert(strstr(e.message, "/nonexistent-dir/peers.txt"), "%s", e.message);
}
