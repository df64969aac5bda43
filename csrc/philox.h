/*
 * philox.h -- Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11), one block at a time.
 *
 * A counter-based generator: the output is a pure function of a 128-bit counter and a
 * 64-bit key, so any block can be computed without computing the ones before it.
 * That property is what makes fastinit's results independent of threads and chunking.
 * The SIMD kernels compute the same function 4, 8 or 16 blocks at a time.
 */
#ifndef FASTINIT_PHILOX_H
#define FASTINIT_PHILOX_H

#include <stdint.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10

static inline void philox4x32_round(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c[0] = hi1 ^ c[1] ^ k0;
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ k1;
    c[3] = lo0;
}

/* out = Philox4x32-10(counter, key). out may alias counter. */
static inline void philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        philox4x32_round(c, k0, k1);
    }
    out[0] = c[0]; out[1] = c[1]; out[2] = c[2]; out[3] = c[3];
}

/* A group: the 16 main-stream blocks b..b+15, counters (b + m, its high word, 0, 0), with
 * word k of block m at w[16k + m]. The SIMD kernels compute the same layout in vectors, and
 * this one where the low counter word wraps inside the group. */
static inline void philox_group16(const uint32_t key[2], uint64_t b, uint32_t *w)
{
    for (int m = 0; m < 16; m++) {
        uint64_t bm = b + (uint64_t)m;
        uint32_t c[4] = {(uint32_t)bm, (uint32_t)(bm >> 32), 0, 0}, r[4];
        philox4x32(c, key, r);
        w[m] = r[0]; w[16 + m] = r[1]; w[32 + m] = r[2]; w[48 + m] = r[3];
    }
}

#endif
