#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder.h"
#include "rpckey.h"

static char dir[256], keys[300];

static void setup(void)
{
    tb_tmpdir(dir);
    snprintf(keys, sizeof keys, "%s/rpc", dir);
}

static void teardown(void) { tb_rmdir(dir); }

TestSuite(rpckey, .init = setup, .fini = teardown);

static void path_of(char *out, size_t cap, const char *file)
{
    snprintf(out, cap, "%s/%s", keys, file);
}

static void write_file(const char *file, const char *text, mode_t mode)
{
    char path[400];
    path_of(path, sizeof path, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

Test(rpckey, init_makes_a_complete_set_once)
{
    bool created;
    err_t e;
    cr_assert_eq(rpckey_init_dir(keys, &created, &e), 0, "%s", e.message);
    cr_assert(created);
    char path[400];
    rpckey_pair_t server;
    path_of(path, sizeof path, "server.key");
    cr_assert_eq(rpckey_load_server(path, &server, &e), 0, "%s", e.message);
    rpckey_clients_t clients;
    path_of(path, sizeof path, "clients");
    cr_assert_eq(rpckey_clients_load(path, &clients, &e), 0, "%s", e.message);
    cr_assert_eq(clients.count, RPCKEY_ROLE_COUNT_);
    for (int role = 0; role < RPCKEY_ROLE_COUNT_; role++) {
        char file[64];
        rpckey_client_t c;
        snprintf(file, sizeof file, "%s.key", rpckey_role_name((rpckey_role_t)role));
        path_of(path, sizeof path, file);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600, "%s is mode %o", file, st.st_mode & 0777);
        cr_assert_eq(rpckey_load_client(path, &c, &e), 0, "%s", e.message);
        cr_assert_eq(c.role, (rpckey_role_t)role);
        cr_assert_str_eq(c.server_key, server.public_key);
        const rpckey_entry_t *x = rpckey_clients_find(&clients, c.pair.public_key);
        cr_assert(x, "the %s key is not in the clients file", file);
        cr_assert_eq(x->role, (rpckey_role_t)role);
    }
    rpckey_clients_free(&clients);
    /* a second start keeps the set */
    cr_assert_eq(rpckey_init_dir(keys, &created, &e), 0, "%s", e.message);
    cr_assert_not(created);
    rpckey_pair_t again;
    path_of(path, sizeof path, "server.key");
    cr_assert_eq(rpckey_load_server(path, &again, &e), 0);
    cr_assert_str_eq(again.public_key, server.public_key);
}

Test(rpckey, init_refuses_half_a_set)
{
    bool created;
    err_t e;
    cr_assert_eq(rpckey_init_dir(keys, &created, &e), 0);
    char path[400];
    path_of(path, sizeof path, "server.key");
    cr_assert_eq(unlink(path), 0);
    cr_assert_lt(rpckey_init_dir(keys, &created, &e), 0);
    cr_assert(strstr(e.message, "server.key"), "%s", e.message);
    cr_assert_not(created);
}

Test(rpckey, add_client_appends_a_usable_key)
{
    bool created;
    err_t e;
    cr_assert_eq(rpckey_init_dir(keys, &created, &e), 0);
    char server_path[400], clients_path[400], path[400];
    rpckey_pair_t server;
    path_of(server_path, sizeof server_path, "server.key");
    path_of(clients_path, sizeof clients_path, "clients");
    path_of(path, sizeof path, "rig7.key");
    cr_assert_eq(rpckey_load_server(server_path, &server, &e), 0);
    cr_assert_eq(rpckey_add_client(clients_path, path, RPCKEY_MINER, "rig7", server.public_key,
                                   &e), 0, "%s", e.message);
    /* never over an existing file */
    cr_assert_lt(rpckey_add_client(clients_path, path, RPCKEY_MINER, "rig7", server.public_key,
                                   &e), 0);
    rpckey_client_t c;
    rpckey_clients_t clients;
    cr_assert_eq(rpckey_load_client(path, &c, &e), 0, "%s", e.message);
    cr_assert_eq(rpckey_clients_load(clients_path, &clients, &e), 0, "%s", e.message);
    cr_assert_eq(clients.count, RPCKEY_ROLE_COUNT_ + 1);
    const rpckey_entry_t *x = rpckey_clients_find(&clients, c.pair.public_key);
    cr_assert(x);
    cr_assert_str_eq(x->name, "rig7");
    cr_assert_eq(x->role, RPCKEY_MINER);
    rpckey_clients_free(&clients);
    cr_assert_lt(rpckey_add_client(clients_path, "/nonexistent/x.key", RPCKEY_MINER, "a b",
                                   server.public_key, &e), 0, "a name with a blank");
}

/* Files an operator might have broken, each refused with a reason. */
Test(rpckey, bad_files_are_refused)
{
    cr_assert_eq(mkdir(keys, 0700), 0);
    rpckey_pair_t pair, other;
    err_t e;
    cr_assert_eq(rpckey_generate(&pair, &e), 0);
    cr_assert_eq(rpckey_generate(&other, &e), 0);
    char good[256], swapped[256], readable[400], path[400];
    snprintf(good, sizeof good, "public = %s\nsecret = %s\n", pair.public_key, pair.secret_key);
    snprintf(swapped, sizeof swapped, "public = %s\nsecret = %s\n", pair.public_key,
             other.secret_key);
    static const struct { const char *text; mode_t mode; const char *why; } cases[] = {
        {"public = x\nsecret = y\n", 0600, "not a Z85 key"},
        {"", 0600, "lacks"},
        {"nonsense\n", 0600, "line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file("server.key", cases[i].text, cases[i].mode);
        path_of(path, sizeof path, "server.key");
        cr_assert_lt(rpckey_load_server(path, &pair, &e), 0, "case %zu", i);
        cr_assert(strstr(e.message, cases[i].why), "case %zu: %s", i, e.message);
    }
    write_file("server.key", swapped, 0600);
    cr_assert_lt(rpckey_load_server(path, &pair, &e), 0);
    cr_assert(strstr(e.message, "does not belong"), "%s", e.message);
    /* others may not read it, nor the group write it; our own group may
     * read it (a Secret mounted with the pod's fsGroup) */
    static const mode_t refused[] = {0644, 0604, 0660, 0620};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        write_file("server.key", good, refused[i]);
        cr_assert_lt(rpckey_load_server(path, &pair, &e), 0, "mode %o", refused[i]);
        cr_assert(strstr(e.message, "chmod 600"), "%s", e.message);
    }
    cr_assert_eq(chown(path, (uid_t)-1, getegid()), 0);
    write_file("server.key", good, 0640);
    cr_assert_eq(rpckey_load_server(path, &other, &e), 0, "%s", e.message);
    cr_assert_eq(chmod(path, 0440), 0);
    cr_assert_eq(rpckey_load_server(path, &other, &e), 0, "%s", e.message);
    cr_assert_eq(chmod(path, 0600), 0);
    write_file("server.key", good, 0600);
    cr_assert_eq(rpckey_load_server(path, &other, &e), 0, "%s", e.message);
    snprintf(readable, sizeof readable, "miner %s ok\nminer\n", pair.public_key);
    write_file("clients", readable, 0600);
    rpckey_clients_t clients;
    path_of(path, sizeof path, "clients");
    cr_assert_lt(rpckey_clients_load(path, &clients, &e), 0);
    cr_assert(strstr(e.message, "line 2"), "%s", e.message);
    snprintf(readable, sizeof readable, "# comment\n\nminer %s first\ngossip %s second\n",
             pair.public_key, pair.public_key);
    write_file("clients", readable, 0600);
    cr_assert_eq(rpckey_clients_load(path, &clients, &e), 0, "%s", e.message);
    cr_assert_eq(clients.count, 1, "a key listed twice keeps its first line");
    cr_assert_eq(clients.entries[0].role, RPCKEY_MINER);
    rpckey_clients_free(&clients);
}

Test(rpckey, roles_round_trip)
{
    for (int role = 0; role < RPCKEY_ROLE_COUNT_; role++) {
        rpckey_role_t back;
        cr_assert_eq(rpckey_role_parse(rpckey_role_name((rpckey_role_t)role), &back), 0);
        cr_assert_eq(back, (rpckey_role_t)role);
    }
    rpckey_role_t r;
    cr_assert_lt(rpckey_role_parse("admin", &r), 0);
    cr_assert_null(rpckey_role_name(RPCKEY_ROLE_COUNT_));
}

/* chaind --new-rpc-key ROLE:NAME:FILE: a key for the directory's server,
 * listed under NAME; a bad spec names what is wrong. */
Test(rpckey, new_client_from_a_spec)
{
    err_t e;
    char spec[512], path[400], clients_path[400], server_path[400];
    snprintf(path, sizeof path, "%s/rig:9.key", dir);
    snprintf(spec, sizeof spec, "miner:rig9:%s", path);
    cr_assert_eq(rpckey_new_client(keys, spec, &e), 0, "%s", e.message); /* makes the set too */
    rpckey_client_t c;
    rpckey_pair_t server;
    rpckey_clients_t clients;
    path_of(server_path, sizeof server_path, "server.key");
    path_of(clients_path, sizeof clients_path, "clients");
    cr_assert_eq(rpckey_load_client(path, &c, &e), 0, "%s", e.message);
    cr_assert_eq(rpckey_load_server(server_path, &server, &e), 0, "%s", e.message);
    cr_assert_str_eq(c.server_key, server.public_key);
    cr_assert_eq(c.role, RPCKEY_MINER);
    cr_assert_eq(rpckey_clients_load(clients_path, &clients, &e), 0, "%s", e.message);
    const rpckey_entry_t *x = rpckey_clients_find(&clients, c.pair.public_key);
    cr_assert(x && x->role == RPCKEY_MINER && strcmp(x->name, "rig9") == 0);
    rpckey_clients_free(&clients);
    static const char *const bad[] = {"miner", "miner:rig", "miner:rig:", "admin:x:/tmp/x.key",
                                      ":x:/tmp/x.key"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_lt(rpckey_new_client(keys, bad[i], &e), 0, "%s", bad[i]);
}

/* What gossipd and minerd load: a key for tcp://, nothing for ipc://, an
 * error naming chaind's file without one, or with another role's key. */
Test(rpckey, client_for_its_endpoints)
{
    bool created;
    err_t e;
    cr_assert_eq(rpckey_init_dir(keys, &created, &e), 0, "%s", e.message);
    char miner[400];
    path_of(miner, sizeof miner, "miner.key");
    rpckey_client_t c;
    cr_assert_eq(rpckey_client_for(NULL, "ipc:///run/chain/rpc", "ipc:///run/chain/events",
                                   RPCKEY_MINER, &c, &e), 0);
    cr_assert_eq(rpckey_client_for(miner, "tcp://127.0.0.1:9340", "ipc:///x", RPCKEY_MINER, &c,
                                   &e), 1, "%s", e.message);
    cr_assert_eq(c.role, RPCKEY_MINER);
    cr_assert_lt(rpckey_client_for(NULL, "ipc:///x", "tcp://127.0.0.1:9341", RPCKEY_GOSSIP, &c,
                                   &e), 0);
    cr_assert(strstr(e.message, "rpc/gossip.key"), "%s", e.message);
    cr_assert_lt(rpckey_client_for(miner, "tcp://127.0.0.1:9340", "tcp://127.0.0.1:9341",
                                   RPCKEY_GOSSIP, &c, &e), 0);
    cr_assert(strstr(e.message, "miner key"), "%s", e.message);
}
