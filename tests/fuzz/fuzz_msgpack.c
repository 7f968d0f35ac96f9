/* fuzz_msgpack: the codec against msgpack-c (tests/support/oracle.h).
 *
 *   input[0] even: input + 1 is msgpack of any kind. The project's lenient
 *     reader and msgpack-c agree on it: both take it, with the same structure
 *     and values, or both refuse it (msgpack-c sees only input within the
 *     oracle's bounds; beyond them the reader must refuse alone).
 *   input[0] odd: input[1] picks a family, input[2] a type and input[3..] a
 *     seed: the message sample_message() writes from that type's schema
 *     decodes with msgpack-c to the values the reader sees, and msgpack-c
 *     packs them to the same bytes.
 *
 * A disagreement prints it and aborts, so libFuzzer reports the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "proto.h"
#include "sample.h"

static void disagree(const char *why)
{
    fprintf(stderr, "fuzz_msgpack: %s\n", why);
    abort();
}

static void encode(const uint8_t *data, size_t len)
{
    static const proto_family_t families[] = {PROTO_REQUEST, PROTO_OK_REPLY, PROTO_PEER,
                                              PROTO_EVENT};
    if (len < 3)
        return;
    proto_family_t f = families[data[1] % 4];
    int type = data[2] % sample_types(f);
    uint64_t seed = 0;
    memcpy(&seed, data + 3, len - 3 < sizeof seed ? len - 3 : sizeof seed);
    mp_buf_t b;
    mp_buf_init(&b, PROTO_MAX_MSG);
    sample_message(&b, f, type, seed);
    char why[160];
    if (!mp_buf_ok(&b) || oracle_check_encoding(b.data, b.len, why, sizeof why) < 0)
        disagree(mp_buf_ok(&b) ? why : "the sample did not fit its buffer");
    mp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1)
        return 0;
    if (data[0] & 1) {
        encode(data, len);
        return 0;
    }
    /* a copy of exactly its size, so ASan sees a read past the end */
    uint8_t *copy = malloc(len - 1 ? len - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, len - 1);
    bool accepted;
    char why[160];
    if (oracle_compare(copy, len - 1, &accepted, why, sizeof why) < 0)
        disagree(why);
    free(copy);
    return 0;
}
