/* address: Base58Check addresses (version byte ‖ HASH160(pubkey)) and the
 * tutorial's 40-hex pubkey-hash form. */
#ifndef CHAIN_ADDRESS_H
#define CHAIN_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

/* Longest address string with its NUL: 25 bytes give at most 35 digits. */
#define ADDRESS_MAX 40

/* Writes the Base58Check address of pubkey_hash for the network whose address
 * version byte is given. out has ADDRESS_MAX bytes. */
void address_encode(char out[ADDRESS_MAX], uint8_t version, const hash20_t *pubkey_hash);

/* Parses an address of the network with the given version byte, or 40 hex
 * digits of a pubkey hash, into *pubkey_hash. ERR_BAD_ADDRESS, with the reason
 * (bad checksum, another network's address, bad characters), on failure. */
int address_decode(hash20_t *pubkey_hash, uint8_t version, const char *text, err_t *e)
    __attribute__((warn_unused_result));

#endif
