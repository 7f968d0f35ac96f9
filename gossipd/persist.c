#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The directory entry of the rename must reach the disk too, or a power cut
 * could bring back the old name. */
static void sync_dir(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int persist_write(const char *path, const char *data, size_t len, err_t *e)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return err_set(e, ERR_INTERNAL, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = errno;
            close(fd);
            unlink(tmp);
            return err_set(e, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(err));
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int err = errno;
        unlink(tmp);
        return err_set(e, ERR_INTERNAL, "cannot write %s: %s", tmp, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return err_set(e, ERR_INTERNAL, "cannot rename %s: %s", tmp, strerror(err));
    }
    sync_dir(path);
    return 0;
}

static int read_all(const char *path, size_t max, char **out, err_t *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        return err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(errno));
    }
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, ERR_INTERNAL, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        free(buf);
        return err_set(e, ERR_INTERNAL, "cannot read %s: %s", path,
                       bad ? "read error" : "file too large");
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

int persist_read_lines(const char *path, size_t max, void (*line)(void *ctx, char *text),
                       void *ctx, err_t *e)
{
    char *text;
    int rc = read_all(path, max, &text, e);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (l[0] != '#')
            line(ctx, l);
    free(text);
    return 0;
}
