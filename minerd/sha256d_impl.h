/* sha256d_impl: what the kernel files share with the dispatcher (sha256d.c)
 * and nothing else. Each sha256d_<isa>.c is compiled with its own instruction
 * set flags (minerd/CMakeLists.txt), so the dispatcher, compiled for the
 * baseline, decides whether the CPU may call into it; none of these may be
 * called before its kernel's supported() said yes. */
#ifndef MINERD_SHA256D_IMPL_H
#define MINERD_SHA256D_IMPL_H

#include "sha256d.h"

/* Entry points of each kernel, with the contracts of sha256d_kernel_t. */
void sha256d_generic_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32]);
bool sha256d_generic_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found);
void sha256d_shani_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32]);
bool sha256d_shani_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found);
void sha256d_avx2_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32]);
bool sha256d_avx2_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found);
void sha256d_avx512_hash(const sha256d_work_t *w, uint32_t lo, uint8_t (*out)[32]);
bool sha256d_avx512_scan(const sha256d_work_t *w, uint32_t lo, uint64_t count, uint32_t *found);

/* Nonces in flight in the SHA-NI kernel. On Zen 5 SHA256RNDS2 issues every
 * 2 cycles but takes about twice that to finish, and the message schedule
 * competes for the same unit: measured per core against OpenSSL, 2 streams
 * gave 1.6x, 4 gave 1.96x, 6 2.09x, 8 2.18x, 16 1.3x (spills). */
#define SHA256D_SHANI_STREAMS 8

/* Big-endian word <-> bytes, for digests. */
static inline void sha256d_put_be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
