#include "address.h"

#include <string.h>

#include "hex.h"

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

#define PAYLOAD_LEN 25 /* version, 20-byte hash, 4-byte checksum */

void address_encode(char out[ADDRESS_MAX], uint8_t version, const hash20_t *pubkey_hash)
{
    uint8_t payload[PAYLOAD_LEN];
    uint8_t check[32];
    hash32_t h;
    payload[0] = version;
    memcpy(payload + 1, pubkey_hash->b, 20);
    hash_sha256d(&h, payload, 21);
    memcpy(check, h.b, 4);
    memcpy(payload + 21, check, 4);

    /* base conversion 256 -> 58, most significant digit last */
    uint8_t digits[ADDRESS_MAX];
    size_t ndigits = 0;
    for (size_t i = 0; i < PAYLOAD_LEN; i++) {
        unsigned carry = payload[i];
        for (size_t j = 0; j < ndigits; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[ndigits++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < PAYLOAD_LEN && payload[i] == 0; i++)
        out[n++] = '1';
    while (ndigits)
        out[n++] = alphabet[digits[--ndigits]];
    out[n] = '\0';
}

static int base58_decode(uint8_t out[PAYLOAD_LEN], const char *text)
{
    uint8_t bytes[PAYLOAD_LEN] = {0}; /* little-endian while converting */
    size_t len = strlen(text), zeros = 0;
    if (len == 0 || len >= ADDRESS_MAX)
        return -1;
    while (text[zeros] == '1')
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        const char *p = strchr(alphabet, text[i]);
        if (!p || !*p)
            return -1;
        unsigned carry = (unsigned)(p - alphabet);
        for (size_t j = 0; j < PAYLOAD_LEN; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)carry;
            carry >>= 8;
        }
        if (carry)
            return -1; /* more than 25 bytes */
    }
    size_t used = PAYLOAD_LEN;
    while (used && bytes[used - 1] == 0)
        used--;
    if (zeros + used != PAYLOAD_LEN)
        return -1;
    for (size_t i = 0; i < PAYLOAD_LEN; i++)
        out[i] = bytes[PAYLOAD_LEN - 1 - i];
    return 0;
}

int address_decode(hash20_t *pubkey_hash, uint8_t version, const char *text, err_t *e)
{
    if (strlen(text) == 40) {
        if (hex_decode_exact(pubkey_hash->b, 20, text) == 0)
            return 0;
        return err_set(e, ERR_BAD_ADDRESS, "40 characters but not a hex pubkey hash");
    }
    uint8_t payload[PAYLOAD_LEN];
    if (base58_decode(payload, text) < 0)
        return err_set(e, ERR_BAD_ADDRESS, "not a Base58Check address or 40-hex pubkey hash");
    hash32_t h;
    hash_sha256d(&h, payload, 21);
    if (memcmp(h.b, payload + 21, 4) != 0)
        return err_set(e, ERR_BAD_ADDRESS, "address checksum mismatch (a typo?)");
    if (payload[0] != version)
        return err_set(e, ERR_BAD_ADDRESS, "address of another network (version byte 0x%02x)",
                       payload[0]);
    memcpy(pubkey_hash->b, payload + 1, 20);
    return 0;
}
