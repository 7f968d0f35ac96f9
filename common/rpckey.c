#include "rpckey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char *const role_names[RPCKEY_ROLE_COUNT_] = {"gossip", "miner", "subscriber"};

const char *rpckey_role_name(rpckey_role_t role)
{
    return (unsigned)role < RPCKEY_ROLE_COUNT_ ? role_names[role] : NULL;
}

int rpckey_role_parse(const char *name, rpckey_role_t *role)
{
    for (int i = 0; i < RPCKEY_ROLE_COUNT_; i++)
        if (strcmp(name, role_names[i]) == 0) {
            *role = (rpckey_role_t)i;
            return 0;
        }
    return -1;
}

/* Z85 of a 32-byte key: 40 characters of the Z85 alphabet that decode. */
static bool z85_key_ok(const char *s)
{
    uint8_t raw[32];
    return strlen(s) == RPCKEY_Z85_LEN && zmq_z85_decode(raw, s) != NULL;
}

int rpckey_generate(rpckey_pair_t *pair, err_t *e)
{
    if (!zmq_has("curve") || zmq_curve_keypair(pair->public_key, pair->secret_key) != 0)
        return err_set(e, ERR_INTERNAL, "libzmq cannot make CURVE keys (built without "
                       "CURVE?): %s", zmq_strerror(zmq_errno()));
    return 0;
}

/* --- files ------------------------------------------------------------------ */

/* Creates path with mode 0600 holding text; an existing file is an error. */
static int write_new(const char *path, const char *text, err_t *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 || !ok) {
        unlink(path);
        return err_set(e, ERR_INTERNAL, "cannot write %s: %s", path, strerror(err));
    }
    return 0;
}

/* Whether a key file's mode keeps it to us: no access for others, no write
 * for the group, and group read only for our own group. That group may
 * already use chaind's ipc:// sockets (mode 0660), so reading a key gives it
 * nothing more; and it is how a Kubernetes Secret reaches a pod with an
 * fsGroup (root-owned, mode 0440, the pod's group). */
static bool private_mode(const struct stat *st)
{
    return !(st->st_mode & 027) && (!(st->st_mode & 040) || st->st_gid == getegid());
}

/* Reads a key file whole; refuses one that other users may read: a secret
 * anyone on the machine can copy authenticates nobody. */
static int read_secret_file(const char *path, char **out, err_t *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return err_set(e, ERR_BAD_KEY, "cannot read %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > RPCKEY_FILE_MAX) {
        close(fd);
        return err_set(e, ERR_BAD_KEY, "%s is not a key file (a regular file of at most %d "
                       "bytes)", path, RPCKEY_FILE_MAX);
    }
    if (!private_mode(&st)) {
        close(fd);
        return err_set(e, ERR_BAD_KEY, "%s may be read by other users (mode %03o): chmod 600 "
                       "it", path, (unsigned)(st.st_mode & 0777));
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(buf);
        return err_set(e, ERR_BAD_KEY, "cannot read %s", path);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Splits the next line off *p, surrounding blanks removed; a comment line
 * (starting with '#') comes back empty. Z85 uses '#', so a comment is never
 * cut from the end of a line. */
static char *next_line(char **p)
{
    if (!**p)
        return NULL;
    char *line = *p, *end = line + strcspn(line, "\n");
    *p = *end ? end + 1 : end;
    *end = '\0';
    line += strspn(line, " \t\r");
    if (*line == '#')
        *line = '\0';
    for (size_t n = strlen(line); n && strchr(" \t\r", line[n - 1]); n--)
        line[n - 1] = '\0';
    return line;
}

typedef struct {
    const char *name;
    char *value; /* RPCKEY_Z85_LEN + 1 bytes */
} field_t;

/* Parses `name = value` lines into the fields named; each must appear once,
 * each value a Z85 key unless it is the role. */
static int parse_fields(const char *path, char *text, field_t *fields, size_t n, err_t *e)
{
    unsigned seen = 0;
    int line_no = 0;
    for (char *line, *p = text; (line = next_line(&p)) != NULL;) {
        line_no++;
        if (!*line)
            continue;
        char *eq = strchr(line, '=');
        size_t i = 0, key_len = eq ? strcspn(line, " \t=") : 0;
        while (i < n && (strlen(fields[i].name) != key_len ||
                         strncmp(line, fields[i].name, key_len) != 0))
            i++;
        const char *value = eq ? eq + 1 + strspn(eq + 1, " \t") : "";
        if (i == n || (seen & 1u << i) || strlen(value) > RPCKEY_Z85_LEN)
            return err_set(e, ERR_BAD_KEY, "%s line %d: want one of each `name = value`",
                           path, line_no);
        strcpy(fields[i].value, value);
        seen |= 1u << i;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(seen & 1u << i))
            return err_set(e, ERR_BAD_KEY, "%s lacks `%s = …`", path, fields[i].name);
        if (strcmp(fields[i].name, "role") != 0 && !z85_key_ok(fields[i].value))
            return err_set(e, ERR_BAD_KEY, "%s: `%s` is not a Z85 key of %d characters", path,
                           fields[i].name, RPCKEY_Z85_LEN);
    }
    return 0;
}

/* The secret must be the public key's: a file pasted together from two
 * pairs would otherwise fail only at the handshake, without a word. */
static int check_pair(const char *path, const rpckey_pair_t *pair, err_t *e)
{
    char derived[RPCKEY_Z85_LEN + 1];
    if (zmq_curve_public(derived, pair->secret_key) != 0 ||
        strcmp(derived, pair->public_key) != 0)
        return err_set(e, ERR_BAD_KEY, "%s: the secret key does not belong to the public key",
                       path);
    return 0;
}

/* The fields of a key file, read with its permissions checked. */
static int load_fields(const char *path, field_t *fields, size_t n, err_t *e)
{
    char *text;
    int rc = read_secret_file(path, &text, e);
    if (rc < 0)
        return rc;
    rc = parse_fields(path, text, fields, n, e);
    free(text);
    return rc;
}

int rpckey_load_server(const char *path, rpckey_pair_t *pair, err_t *e)
{
    field_t fields[] = {{"public", pair->public_key}, {"secret", pair->secret_key}};
    int rc = load_fields(path, fields, 2, e);
    return rc < 0 ? rc : check_pair(path, pair, e);
}

int rpckey_load_client(const char *path, rpckey_client_t *c, err_t *e)
{
    char role[RPCKEY_Z85_LEN + 1];
    field_t fields[] = {{"role", role},
                        {"public", c->pair.public_key},
                        {"secret", c->pair.secret_key},
                        {"server", c->server_key}};
    int rc = load_fields(path, fields, 4, e);
    if (rc == 0 && rpckey_role_parse(role, &c->role) < 0)
        rc = err_set(e, ERR_BAD_KEY, "%s: role \"%s\" is none of gossip, miner, subscriber",
                     path, role);
    return rc < 0 ? rc : check_pair(path, &c->pair, e);
}

/* --- the clients file ---------------------------------------------------------- */

/* One line `ROLE PUBLIC [NAME]` into x: 0, or -1 when malformed. */
static int parse_client(char *line, rpckey_entry_t *x)
{
    char *role = strtok(line, " \t"), *key = strtok(NULL, " \t"), *name = strtok(NULL, " \t");
    if (!role || !key || strtok(NULL, " \t") || rpckey_role_parse(role, &x->role) < 0 ||
        !z85_key_ok(key) || (name && strlen(name) > RPCKEY_NAME_MAX))
        return -1;
    strcpy(x->public_key, key);
    snprintf(x->name, sizeof x->name, "%s", name ? name : "");
    return 0;
}

int rpckey_clients_load(const char *path, rpckey_clients_t *out, err_t *e)
{
    char *text;
    int rc = read_secret_file(path, &text, e);
    if (rc < 0)
        return rc;
    rpckey_entry_t *entries = calloc(RPCKEY_MAX_CLIENTS, sizeof *entries);
    size_t n = 0;
    int line_no = 0;
    if (!entries)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    for (char *line, *p = text; rc == 0 && (line = next_line(&p)) != NULL;) {
        line_no++;
        if (!*line)
            continue;
        if (n == RPCKEY_MAX_CLIENTS)
            rc = err_set(e, ERR_BAD_KEY, "%s: over %d keys", path, RPCKEY_MAX_CLIENTS);
        else if (parse_client(line, &entries[n]) < 0)
            rc = err_set(e, ERR_BAD_KEY, "%s line %d: want ROLE PUBLIC-KEY [NAME], a role of "
                         "gossip, miner or subscriber and a Z85 key", path, line_no);
        else if (!rpckey_clients_find(&(rpckey_clients_t){entries, n}, entries[n].public_key))
            n++;
    }
    free(text);
    if (rc < 0) {
        free(entries);
        return rc;
    }
    *out = (rpckey_clients_t){entries, n};
    return 0;
}

void rpckey_clients_free(rpckey_clients_t *c)
{
    free(c->entries);
    c->entries = NULL;
    c->count = 0;
}

const rpckey_entry_t *rpckey_clients_find(const rpckey_clients_t *c, const char *public_key)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].public_key, public_key) == 0)
            return &c->entries[i];
    return NULL;
}

/* --- making keys ------------------------------------------------------------------ */

static int append_client(const char *clients_path, const char *public_key, rpckey_role_t role,
                         const char *name, err_t *e)
{
    int fd = open(clients_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot open %s: %s", clients_path, strerror(errno));
    char line[32 + RPCKEY_Z85_LEN + RPCKEY_NAME_MAX];
    int len = snprintf(line, sizeof line, "%s %s %s\n", rpckey_role_name(role), public_key,
                       name);
    bool ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int err = errno;
    close(fd);
    return ok ? 0 : err_set(e, ERR_INTERNAL, "cannot write %s: %s", clients_path, strerror(err));
}

int rpckey_add_client(const char *clients_path, const char *path, rpckey_role_t role,
                      const char *name, const char *server_public, err_t *e)
{
    rpckey_pair_t pair;
    char text[256];
    if ((unsigned)role >= RPCKEY_ROLE_COUNT_ || strlen(name) > RPCKEY_NAME_MAX ||
        strpbrk(name, " \t\n#") || !z85_key_ok(server_public))
        return err_set(e, ERR_BAD_KEY, "a client key needs a role, a name of at most %d "
                       "characters without blanks or '#', and the server's Z85 key",
                       RPCKEY_NAME_MAX);
    int rc = rpckey_generate(&pair, e);
    if (rc < 0)
        return rc;
    snprintf(text, sizeof text, "# a chaind rpc client key: keep it secret\nrole = %s\n"
             "public = %s\nsecret = %s\nserver = %s\n", rpckey_role_name(role),
             pair.public_key, pair.secret_key, server_public);
    rc = write_new(path, text, e);
    return rc < 0 ? rc : append_client(clients_path, pair.public_key, role, name, e);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* dir/file into out (capacity PATH_CAP); false when it does not fit. */
#define PATH_CAP 4096
static bool path_in(char out[PATH_CAP], const char *dir, const char *file)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, file);
    return n > 0 && n < PATH_CAP;
}

/* Writes a complete set into dir (which exists and is empty). */
static int make_set(const char *dir, err_t *e)
{
    rpckey_pair_t server;
    char path[PATH_CAP], clients[PATH_CAP], file[32], text[256];
    int rc = rpckey_generate(&server, e);
    if (rc == 0 && !path_in(clients, dir, "clients"))
        rc = err_set(e, ERR_INTERNAL, "key directory path too long");
    for (int role = 0; rc == 0 && role < RPCKEY_ROLE_COUNT_; role++) {
        snprintf(file, sizeof file, "%s.key", role_names[role]);
        rc = path_in(path, dir, file) ? rpckey_add_client(clients, path, (rpckey_role_t)role,
                                                          role_names[role], server.public_key,
                                                          e)
                                      : err_set(e, ERR_INTERNAL, "key directory path too long");
    }
    snprintf(text, sizeof text, "# chaind's rpc server key: keep it secret\npublic = %s\n"
             "secret = %s\n", server.public_key, server.secret_key);
    if (rc == 0 && !path_in(path, dir, "server.key"))
        rc = err_set(e, ERR_INTERNAL, "key directory path too long");
    return rc < 0 ? rc : write_new(path, text, e);
}

/* Removes what an interrupted make_set() may have left in dir, then dir. */
static void remove_set(const char *dir)
{
    static const char *const files[] = {"server.key", "clients", "gossip.key", "miner.key",
                                        "subscriber.key"};
    char path[PATH_CAP];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (path_in(path, dir, files[i]))
            unlink(path);
    rmdir(dir);
}

/* Makes a rename in dir's parent durable: the clients were told of these
 * keys, a power cut must not take them back. */
static void sync_parent(const char *dir)
{
    char parent[PATH_CAP];
    if (snprintf(parent, sizeof parent, "%s", dir) >= (int)sizeof parent)
        return;
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(parent, ".");
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int rpckey_init_dir(const char *dir, bool *created, err_t *e)
{
    char server[PATH_CAP], clients[PATH_CAP], fresh[PATH_CAP];
    *created = false;
    int n = snprintf(fresh, sizeof fresh, "%s.new", dir);
    if (n < 0 || n >= (int)sizeof fresh || !path_in(server, dir, "server.key") ||
        !path_in(clients, dir, "clients"))
        return err_set(e, ERR_INTERNAL, "key directory path too long");
    if (exists(server))
        return exists(clients) ? 0
                               : err_set(e, ERR_BAD_KEY, "%s has a server key but no clients "
                                         "file: restore it, or list the keys in it", dir);
    if (exists(clients))
        return err_set(e, ERR_BAD_KEY, "%s has a clients file but no server.key: restore the "
                       "key, or remove the directory to make a new set", dir);
    /* made aside and renamed into place, so a crash never leaves half a set
     * (rename replaces an empty directory) */
    remove_set(fresh);
    if (mkdir(fresh, 0700) != 0)
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", fresh, strerror(errno));
    int rc = make_set(fresh, e);
    if (rc == 0 && rename(fresh, dir) != 0)
        rc = err_set(e, ERR_INTERNAL, "cannot move %s to %s: %s", fresh, dir, strerror(errno));
    if (rc == 0)
        sync_parent(dir);
    if (rc < 0) {
        remove_set(fresh);
        return rc;
    }
    *created = true;
    return 0;
}

int rpckey_new_client(const char *dir, const char *spec, err_t *e)
{
    char role_name[16], name[RPCKEY_NAME_MAX + 1], path[PATH_CAP], clients[PATH_CAP];
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    rpckey_role_t role;
    if (!c2 || (size_t)(c1 - spec) >= sizeof role_name || (size_t)(c2 - c1 - 1) >= sizeof name ||
        !c2[1])
        return err_set(e, ERR_BAD_KEY, "a new key is ROLE:NAME:FILE (gossip, miner or "
                       "subscriber; a name of at most %d characters; the file to write)",
                       RPCKEY_NAME_MAX);
    snprintf(role_name, sizeof role_name, "%.*s", (int)(c1 - spec), spec);
    snprintf(name, sizeof name, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    if (rpckey_role_parse(role_name, &role) < 0)
        return err_set(e, ERR_BAD_KEY, "role \"%s\" is none of gossip, miner, subscriber",
                       role_name);
    bool created;
    rpckey_pair_t server;
    int rc = rpckey_init_dir(dir, &created, e);
    if (rc == 0 && (!path_in(path, dir, "server.key") || !path_in(clients, dir, "clients")))
        rc = err_set(e, ERR_INTERNAL, "key directory path too long");
    if (rc == 0)
        rc = rpckey_load_server(path, &server, e);
    return rc < 0 ? rc : rpckey_add_client(clients, c2 + 1, role, name, server.public_key, e);
}

bool rpckey_endpoint_curve(const char *endpoint) { return strncmp(endpoint, "tcp://", 6) == 0; }

int rpckey_client_for(const char *path, const char *rpc, const char *events, rpckey_role_t role,
                      rpckey_client_t *key, err_t *e)
{
    const char *tcp = rpckey_endpoint_curve(rpc) ? rpc : rpckey_endpoint_curve(events) ? events
                                                                                      : NULL;
    if (!tcp)
        return 0;
    if (!path || !*path)
        return err_set(e, ERR_BAD_KEY, "chaind at %.48s speaks CURVE: give --rpc-key the %s key "
                       "chaind made (<chaind datadir>/rpc/%s.key)", tcp, rpckey_role_name(role),
                       rpckey_role_name(role));
    int rc = rpckey_load_client(path, key, e);
    if (rc == 0 && key->role != role)
        rc = err_set(e, ERR_BAD_KEY, "%s is a %s key; this daemon needs a %s key", path,
                     rpckey_role_name(key->role), rpckey_role_name(role));
    return rc < 0 ? rc : 1;
}
