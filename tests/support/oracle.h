/* oracle: msgpack-c as an independent judge of the project's codec (mp.h),
 * for the differential unit test and the fuzz target.
 *
 * msgpack-c's unpacker sizes each container's allocation from its declared
 * count before it reads the elements, so it is only fed input "within
 * bounds": at most ORACLE_MAX_DEPTH containers deep, and declaring no more
 * elements in all than the input has bytes (which every valid message
 * does: an element takes a byte at least). Input outside those bounds is
 * invalid msgpack, and the project's reader must reject it alone.
 *
 * Values compare as msgpack's types: nil, booleans, unsigned integers,
 * strings and binaries by value; arrays and maps element by element, in
 * order. The project's reader reads no signed integer, float or extension
 * value (no field takes one): those compare by type only, and a
 * non-negative integer in a signed format (int8 … int64), which msgpack-c
 * takes for a positive integer, is a signed integer to it. */
#ifndef CHAIN_TEST_ORACLE_H
#define CHAIN_TEST_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORACLE_MAX_DEPTH 24

/* Whether data[0..len) is within the bounds above. */
bool oracle_within_bounds(const uint8_t *data, size_t len);

/* Decodes one value filling all of data[0..len) with msgpack-c and with the
 * project's lenient reader. 0 when they agree: both take it, with the same
 * structure and values (*accepted true), or both refuse it (*accepted
 * false); -1 with why (NUL-terminated, capacity cap) when they disagree.
 * Input out of bounds is not given to msgpack-c: it agrees when the
 * project's reader refuses it. */
int oracle_compare(const uint8_t *data, size_t len, bool *accepted, char *why, size_t cap);

/* For what the project encodes: msgpack-c decodes all of it to the values
 * the project's reader sees, and packing msgpack-c's value again gives the
 * same bytes (both write the smallest forms). 0, or -1 with why. */
int oracle_check_encoding(const uint8_t *data, size_t len, char *why, size_t cap);

#endif
