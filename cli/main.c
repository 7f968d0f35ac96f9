/* chain-cli: the user's tool. Offline: keygen (the tutorial's new-user
 * script), address, decode. Against a node's HTTP API: balance, send, tx,
 * block, status, peers. Logic lives in wallet.c (spending) and rest.c
 * (HTTP); this file parses arguments and prints. */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "rest.h"
#include "wallet.h"
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
            "  balance ADDRESS|PEM   the coins of an address (or of a key file)\n"
            "  send --from PEM --to ADDRESS --amount COINS [--fee-rate UNITS]\n"
            "                        pay COINS (e.g. 1.5): picks coins, returns change,\n"
            "                        pays UNITS a byte as fee (default 10), signs, submits\n"
            "  tx HASH               a transaction (mined or in the mempool)\n"
            "  block HASH|HEIGHT     a block\n"
            "  status                the node's height, tip, mempool, peers, hash rate\n"
            "  peers                 the nodes this node knows\n"
            "\n"
            "options:\n"
            "  --node URL       the node's HTTP API (default http://127.0.0.1:8080)\n"
            "                   env CHAIN_CLI_NODE\n"
            "  --network NAME   demo (default) or regtest      env CHAIN_CLI_NETWORK\n"
            "  --json           print JSON instead of text\n"
            "  -h, --help       this help\n"
            "  -V, --version    the version\n");
}

static const chain_params_t *network;
static int json_output;
static const char *node_url = "http://127.0.0.1:8080";

static int print_json(json_t *j)
{
    if (!j) {
        fprintf(stderr, "chain-cli: cannot show it as JSON (out of memory, or an amount over "
                "2^63 - 1)\n");
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
            err_t rule;
            /* decoding shows a transaction that breaks a rule too: say which */
            if (tx_check(&tx, NULL, &rule) < 0)
                fprintf(stderr, "chain-cli decode: note: the transaction breaks a rule (%s: %s)\n",
                        err_str(rule.code), rule.message);
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


/* An address or a key file's address: its pubkey hash and Base58Check form. */
static int resolve_address(const char *arg, hash20_t *pkh, char addr[ADDRESS_MAX])
{
    err_t e;
    FILE *f = fopen(arg, "r");
    if (f) {
        fclose(f);
        key_pair_t k;
        if (key_load_pem(&k, arg, &e) < 0) {
            fprintf(stderr, "chain-cli: %s\n", e.message);
            return -1;
        }
        hash_hash160(pkh, k.pubkey, KEY_PUBKEY_LEN);
    } else if (address_decode(pkh, network->address_version, arg, &e) < 0) {
        fprintf(stderr, "chain-cli: %s: %s\n", arg, e.message);
        return -1;
    }
    address_encode(addr, network->address_version, pkh);
    return 0;
}

/* GET or POST to the node; prints the node's error and returns -1 unless 2xx. */
static int call(const char *method, const char *path, const json_t *body, json_t **answer)
{
    long status = 0;
    err_t e;
    if (rest_call(node_url, method, path, body, &status, answer, &e) < 0) {
        fprintf(stderr, "chain-cli: %s\n", e.message);
        return -1;
    }
    if (status < 200 || status > 299) {
        rest_error(*answer, status, &e);
        fprintf(stderr, "chain-cli: %s\n", e.message);
        json_decref(*answer);
        *answer = NULL;
        return -1;
    }
    if (!*answer) {
        fprintf(stderr, "chain-cli: the node's answer is not JSON\n");
        return -1;
    }
    return 0;
}

/* Reads the spendable coins of an address (those no mempool tx spends);
 * *pending counts the others. */
static int fetch_coins(const char *addr, wallet_coin_t **coins, size_t *n, size_t *pending,
                       json_t **answer)
{
    char path[ADDRESS_MAX + 16];
    snprintf(path, sizeof path, "/utxo/%s", addr);
    if (call("GET", path, NULL, answer) < 0)
        return -1;
    json_t *list = json_object_get(*answer, "utxos");
    *coins = calloc(json_array_size(list) + 1, sizeof **coins);
    *n = *pending = 0;
    if (!*coins)
        return -1;
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u) {
        const char *txid = json_string_value(json_object_get(u, "transaction_hash"));
        wallet_coin_t *c = &(*coins)[*n];
        if (!txid || hex_decode_exact(c->txid.b, 32, txid) < 0)
            continue;
        if (json_is_true(json_object_get(u, "spent_in_mempool"))) {
            (*pending)++;
            continue;
        }
        c->index = (uint32_t)json_integer_value(json_object_get(u, "output_index"));
        c->amount = (amount_t)json_integer_value(json_object_get(u, "amount"));
        (*n)++;
    }
    return 0;
}

static int cmd_balance(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "chain-cli balance: give one address or key file\n");
        return 2;
    }
    hash20_t pkh;
    char addr[ADDRESS_MAX];
    json_t *answer;
    if (resolve_address(argv[0], &pkh, addr) < 0)
        return 1;
    char path[ADDRESS_MAX + 16];
    snprintf(path, sizeof path, "/utxo/%s", addr);
    if (call("GET", path, NULL, &answer) < 0)
        return 1;
    if (json_output)
        return print_json(answer);
    char total[32];
    wallet_format_coins(total, (amount_t)json_integer_value(json_object_get(answer, "total")));
    json_t *list = json_object_get(answer, "utxos");
    printf("address: %s\nbalance: %s coins in %zu coin(s)\n", addr, total, json_array_size(list));
    size_t i;
    json_t *u;
    json_array_foreach(list, i, u) {
        char amount[32];
        wallet_format_coins(amount, (amount_t)json_integer_value(json_object_get(u, "amount")));
        printf("  %s:%" JSON_INTEGER_FORMAT "  %s coins  height %" JSON_INTEGER_FORMAT "%s\n",
               json_string_value(json_object_get(u, "transaction_hash")),
               json_integer_value(json_object_get(u, "output_index")), amount,
               json_integer_value(json_object_get(u, "height")),
               json_is_true(json_object_get(u, "spent_in_mempool")) ? "  (being spent)" : "");
    }
    json_decref(answer);
    return 0;
}

/* Whole units a byte, from 0 to WALLET_MAX_FEE_RATE: strtoull would take
 * "-1" as 2^64 - 1 and wrap the fee. */
static int parse_fee_rate(const char *v, uint64_t *rate)
{
    size_t n = strlen(v);
    bool digits = n > 0 && n <= 7 && strspn(v, "0123456789") == n;
    *rate = digits ? strtoull(v, NULL, 10) : 0;
    if (!digits || *rate > WALLET_MAX_FEE_RATE) {
        fprintf(stderr, "chain-cli send: --fee-rate takes whole units a byte, from 0 to %d "
                "(not \"%s\")\n", WALLET_MAX_FEE_RATE, v);
        return -1;
    }
    return 0;
}

typedef struct {
    const char *from, *to, *amount_text;
    amount_t amount;
    uint64_t fee_rate;
} send_args_t;

/* send's flags, checked before the key or the node is touched. 0, or the
 * exit status of a usage error. */
static int parse_send(int argc, char **argv, send_args_t *a)
{
    *a = (send_args_t){.fee_rate = 10};
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--from") == 0 && v)
            a->from = v, i++;
        else if (strcmp(argv[i], "--to") == 0 && v)
            a->to = v, i++;
        else if (strcmp(argv[i], "--amount") == 0 && v)
            a->amount_text = v, i++;
        else if (strcmp(argv[i], "--fee-rate") == 0 && v && parse_fee_rate(v, &a->fee_rate) == 0)
            i++;
        else if (strcmp(argv[i], "--fee-rate") == 0 && v)
            return 2;
        else {
            fprintf(stderr, "chain-cli send: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!a->from || !a->to || !a->amount_text) {
        fprintf(stderr, "chain-cli send: needs --from PEM --to ADDRESS --amount COINS\n");
        return 2;
    }
    if (wallet_parse_coins(a->amount_text, &a->amount) < 0 || a->amount == 0) {
        fprintf(stderr, "chain-cli send: --amount is coins, e.g. 1.5 (at most 8 decimals)\n");
        return 2;
    }
    if (a->amount < TX_DUST_LIMIT) {
        char limit[32];
        wallet_format_coins(limit, TX_DUST_LIMIT);
        fprintf(stderr, "chain-cli send: --amount %s is %" PRIu64 " units, below the dust limit "
                "of %s coins: an output worth less than the fee to spend it\n", a->amount_text,
                a->amount, limit);
        return 2;
    }
    return 0;
}

/* POSTs the encoding as {"hex"}; 0 with the node's answer (the caller
 * decrefs), -1 after a message. */
static int post_tx_hex(const mp_buf_t *tx, json_t **answer)
{
    char *hex = malloc(2 * tx->len + 1);
    json_t *body = hex ? json_object() : NULL;
    if (hex)
        hex_encode(hex, tx->data, tx->len);
    if (!body || json_object_set_new(body, "hex", json_string(hex)) < 0) {
        fprintf(stderr, "chain-cli: out of memory\n");
        free(hex);
        json_decref(body);
        return -1;
    }
    free(hex);
    int rc = call("POST", "/transactions", body, answer);
    json_decref(body);
    if (rc < 0)
        fprintf(stderr, "chain-cli send: the transaction was not accepted\n");
    return rc < 0 ? -1 : 0;
}

static int cmd_send(int argc, char **argv)
{
    send_args_t a;
    int rc = parse_send(argc, argv, &a);
    if (rc != 0)
        return rc;
    key_pair_t key;
    err_t e;
    hash20_t to_pkh, from_pkh;
    char to_addr[ADDRESS_MAX], from_addr[ADDRESS_MAX];
    if (key_load_pem(&key, a.from, &e) < 0) {
        fprintf(stderr, "chain-cli send: %s\n", e.message);
        return 1;
    }
    if (resolve_address(a.to, &to_pkh, to_addr) < 0)
        return 1;
    hash_hash160(&from_pkh, key.pubkey, KEY_PUBKEY_LEN);
    address_encode(from_addr, network->address_version, &from_pkh);
    wallet_coin_t *coins = NULL;
    size_t n = 0, pending = 0;
    json_t *utxo = NULL, *answer = NULL;
    if (fetch_coins(from_addr, &coins, &n, &pending, &utxo) < 0) {
        free(coins);
        return 1;
    }
    json_decref(utxo);
    mp_buf_t tx;
    mp_buf_init(&tx, TX_MAX_SIZE);
    wallet_result_t res;
    rc = wallet_build(&tx, &res, &key, coins, n, &to_pkh, a.amount, a.fee_rate, &e);
    free(coins);
    if (rc < 0) {
        fprintf(stderr, "chain-cli send: %s\n", e.message);
        if (pending)
            fprintf(stderr, "chain-cli send: %zu more coin(s) are being spent by transactions "
                    "still in the mempool: they count once a block includes them\n", pending);
    }
    rc = rc < 0 ? -1 : post_tx_hex(&tx, &answer);
    mp_buf_free(&tx);
    if (rc < 0)
        return 1;
    if (json_output)
        return print_json(answer);
    char amt[32], change[32], txid[65];
    wallet_format_coins(amt, a.amount);
    wallet_format_coins(change, res.change);
    hex_encode(txid, res.txid.b, 32);
    printf("sent %s coins to %s\ntransaction: %s\nfee: %" PRIu64 " units; change back: %s coins; "
           "%zu coin(s) spent\nit waits in the mempool until a block includes it\n",
           amt, to_addr, txid, res.fee, change, res.n_inputs);
    json_decref(answer);
    return 0;
}

/* tx, block, status, peers: a GET whose JSON is printed as it comes. */
static int cmd_show(const char *route, int argc, char **argv, int want_args)
{
    if (argc != want_args) {
        fprintf(stderr, "chain-cli: %s takes %d argument(s)\n", route, want_args);
        return 2;
    }
    char path[160];
    if (want_args) {
        for (const char *p = argv[0]; *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))) {
                fprintf(stderr, "chain-cli: %s is not a hash or height\n", argv[0]);
                return 2;
            }
        if (strlen(argv[0]) > 64) {
            fprintf(stderr, "chain-cli: %s is not a hash or height\n", argv[0]);
            return 2;
        }
    }
    snprintf(path, sizeof path, "%s%s%s", route, want_args ? "/" : "", want_args ? argv[0] : "");
    json_t *answer;
    if (call("GET", path, NULL, &answer) < 0)
        return 1;
    return print_json(answer);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"network", required_argument, NULL, 'n'},
        {"node", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    const char *net = getenv("CHAIN_CLI_NETWORK");
    if (getenv("CHAIN_CLI_NODE"))
        node_url = getenv("CHAIN_CLI_NODE");
    int opt;
    /* "+": options end at the command; its own arguments follow it */
    while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
        switch (opt) {
        case 'n': net = optarg; break;
        case 'u': node_url = optarg; break;
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
    if (strcmp(cmd, "balance") == 0)
        return cmd_balance(n, args);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(n, args);
    if (strcmp(cmd, "tx") == 0)
        return cmd_show("/transactions", n, args, 1);
    if (strcmp(cmd, "block") == 0)
        return cmd_show("/block", n, args, 1);
    if (strcmp(cmd, "status") == 0)
        return cmd_show("/status", n, args, 0);
    if (strcmp(cmd, "peers") == 0)
        return cmd_show("/known_node_request", n, args, 0);
    fprintf(stderr, "chain-cli: unknown command \"%s\" (see chain-cli --help)\n", cmd);
    return 2;
}
