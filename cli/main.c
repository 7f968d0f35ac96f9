/* chain-cli: the user's tool. This commands work offline:
 *   keygen   the tutorial's new-user script: a new Ed25519 key in a PEM file
 *   address  the address of a PEM key
 *   decode   a transaction or block in hex, as the JSON the HTTP API serves */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "block.h"
#include "hex.h"
#include "jsonfmt.h"
#include "key.h"
#include "params.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chain-cli [options] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  keygen [--out FILE]   create a key (PKCS#8 PEM, mode 0600) and print its\n"
            "                        public key, pubkey hash and address\n"
            "  address PEM           print the public key, pubkey hash and address of a key\n"
            "  decode HEX|-          decode a transaction or block (hex; - reads stdin)\n"
            "                        and print its JSON with its hashes\n"
            "\n"
            "options:\n"
            "  --network NAME   demo (default) or regtest      env CHAIN_CLI_NETWORK\n"
            "  --json           print JSON instead of text\n"
            "  -h, --help       this help\n"
            "  -V, --version    the version\n");
}

static const chain_params_t *network;
static int json_output;

static int print_json(json_t *j)
{
    if (!j) {
        fprintf(stderr, "chain-cli: out of memory\n");
        return 1;
    }
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        fprintf(stderr, "chain-cli: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

static int print_key(const key_pair_t *k, const char *path)
{
    hash20_t h;
    char pub[65], hash_hex[41], addr[ADDRESS_MAX];
    hash_hash160(&h, k->pubkey, KEY_PUBKEY_LEN);
    hex_encode(pub, k->pubkey, KEY_PUBKEY_LEN);
    hex_encode(hash_hex, h.b, 20);
    address_encode(addr, network->address_version, &h);
    if (json_output)
        return print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "key_file", path, "public_key",
                                    pub, "pubkey_hash", hash_hex, "address", addr, "network",
                                    network->name));
    printf("key file:    %s\npublic key:  %s\npubkey hash: %s\naddress:     %s (%s network)\n",
           path, pub, hash_hex, addr, network->name);
    return 0;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "chain-cli keygen: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    key_pair_t k;
    err_t e;
    if (key_generate(&k, &e) < 0) {
        fprintf(stderr, "chain-cli keygen: %s\n", e.message);
        return 1;
    }
    char path[64];
    if (!out) {
        /* a name no other key has: the start of its pubkey hash */
        hash20_t h;
        hash_hash160(&h, k.pubkey, KEY_PUBKEY_LEN);
        char hex[41];
        hex_encode(hex, h.b, 20);
        snprintf(path, sizeof path, "user-%.8s.pem", hex);
        out = path;
    }
    if (key_save_pem(&k, out, &e) < 0) {
        fprintf(stderr, "chain-cli keygen: %s\n", e.message);
        return 1;
    }
    return print_key(&k, out);
}

static int cmd_address(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "chain-cli address: give one PEM file\n");
        return 2;
    }
    key_pair_t k;
    err_t e;
    if (key_load_pem(&k, argv[0], &e) < 0) {
        fprintf(stderr, "chain-cli address: %s\n", e.message);
        return 1;
    }
    return print_key(&k, argv[0]);
}

/* Reads all of stdin as text, up to max bytes. NULL when larger. */
static char *read_stdin(size_t max)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *bigger = cap > max ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    return buf;
}

static int cmd_decode(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "chain-cli decode: give one hex string, or - to read stdin\n");
        return 2;
    }
    char *input = strcmp(argv[0], "-") == 0 ? read_stdin(4 * (size_t)BLOCK_MAX_SIZE) : NULL;
    const char *hex = strcmp(argv[0], "-") == 0 ? input : argv[0];
    if (!hex) {
        fprintf(stderr, "chain-cli decode: input over %d bytes\n", 2 * BLOCK_MAX_SIZE);
        return 1;
    }
    size_t hexlen = strcspn(hex, " \t\r\n");
    uint8_t *bytes = malloc(BLOCK_MAX_SIZE);
    long len = bytes ? hex_decode(bytes, BLOCK_MAX_SIZE, hex, hexlen) : -1;
    int rc = 1;
    if (len < 0) {
        fprintf(stderr, "chain-cli decode: not hex, or over %d bytes\n", BLOCK_MAX_SIZE);
    } else {
        tx_t tx;
        block_t b;
        err_t tx_err, block_err;
        if (tx_decode(&tx, bytes, (size_t)len, &tx_err) == 0) {
            hash32_t txid;
            rc = tx_txid(&tx, &txid) < 0 ? 1 : print_json(jsonfmt_tx(&tx, &txid));
            tx_free(&tx);
        } else if (block_decode(&b, bytes, (size_t)len, &block_err) == 0) {
            uint64_t height;
            err_t e;
            int64_t h = b.n_txs && tx_coinbase_height(&b.txs[0], &height, &e) == 0
                            ? (int64_t)height : -1;
            rc = print_json(jsonfmt_block(&b, h));
            block_free(&b);
        } else {
            fprintf(stderr, "chain-cli decode: neither a transaction (%s: %s) nor a block "
                    "(%s: %s)\n", err_str(tx_err.code), tx_err.message,
                    err_str(block_err.code), block_err.message);
        }
    }
    free(bytes);
    free(input);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"network", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    const char *net = getenv("CHAIN_CLI_NETWORK");
    int opt;
    /* "+": options end at the command; its own arguments follow it */
    while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
        switch (opt) {
        case 'n': net = optarg; break;
        case 'j': json_output = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("chain-cli %s\n", CHAIN_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    network = params_by_name(net ? net : "demo");
    if (!network) {
        fprintf(stderr, "chain-cli: unknown network \"%s\" (demo or regtest)\n", net);
        return 2;
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    int n = argc - optind - 1;
    char **args = argv + optind + 1;
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(n, args);
    if (strcmp(cmd, "address") == 0)
        return cmd_address(n, args);
    if (strcmp(cmd, "decode") == 0)
        return cmd_decode(n, args);
    fprintf(stderr, "chain-cli: unknown command \"%s\" (see chain-cli --help)\n", cmd);
    return 2;
}
