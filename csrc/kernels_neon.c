/* kernels_neon.c -- Philox4x32-10 four blocks per register for AArch64 Advanced SIMD.
 * Advanced SIMD is part of every AArch64 CPU, so no pragma and no feature test: only the
 * word generator is vectorized here, and the fills are kernels.inc.h's plain C, which the
 * compiler vectorizes for this unit as it does for the scalar path. */
#include "portable.h"
#ifdef FI_ARM64
#include <arm_neon.h>
#include "philox.h"
#include "internal.h"

/* 32x32 -> 64-bit products of every lane with m: NEON widens two lanes at a time, so the
 * low and high halves of the four products are then gathered from the even and odd words. */
static inline void mulhilo4(uint32x4_t a, uint32_t m, uint32x4_t *hi, uint32x4_t *lo)
{
    uint32x4_t p01 = vreinterpretq_u32_u64(vmull_n_u32(vget_low_u32(a), m));
    uint32x4_t p23 = vreinterpretq_u32_u64(vmull_high_n_u32(a, m));
    *lo = vuzp1q_u32(p01, p23);
    *hi = vuzp2q_u32(p01, p23);
}

static void philox_groups(const uint32_t key[2], uint64_t block0, size_t ngroups,
                          uint32_t *restrict w)
{
    uint32x4_t K0[PHILOX_ROUNDS], K1[PHILOX_ROUNDS];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        K0[r] = vdupq_n_u32(k0);
        K1[r] = vdupq_n_u32(k1);
    }
    static const uint32_t lane[4] = {0, 1, 2, 3};
    const uint32x4_t lanes = vld1q_u32(lane);
    for (size_t g = 0; g < ngroups; g++, w += 64) {
        uint64_t b = block0 + 16 * g;
        uint32_t lo = (uint32_t)b, hi = (uint32_t)(b >> 32);
        /* The vector lanes add to the low counter word alone, so a group whose low word
         * wraps (lo within 16 of 2**32) takes the scalar formula instead. */
        if (lo > 0xFFFFFFF0u) {
            philox_group16(key, b, w);
            continue;
        }
        /* The group's four quarters (blocks 4q..4q+3) are independent chains, all four in
         * flight each round to hide the multiplies' latency. */
        uint32x4_t x0[4], x1[4], x2[4], x3[4];
        for (int q = 0; q < 4; q++) {
            x0[q] = vaddq_u32(vdupq_n_u32(lo + 4u * (uint32_t)q), lanes);
            x1[q] = vdupq_n_u32(hi);
            x2[q] = vdupq_n_u32(0);
            x3[q] = x2[q];
        }
        for (int r = 0; r < PHILOX_ROUNDS; r++) {
            for (int q = 0; q < 4; q++) {
                uint32x4_t hi0, lo0, hi1, lo1;
                mulhilo4(x0[q], PHILOX_M0, &hi0, &lo0);
                mulhilo4(x2[q], PHILOX_M1, &hi1, &lo1);
                x0[q] = veorq_u32(veorq_u32(hi1, x1[q]), K0[r]);
                x2[q] = veorq_u32(veorq_u32(hi0, x3[q]), K1[r]);
                x1[q] = lo1;
                x3[q] = lo0;
            }
        }
        for (int q = 0; q < 4; q++) {
            vst1q_u32(w + 4 * q, x0[q]);
            vst1q_u32(w + 16 + 4 * q, x1[q]);
            vst1q_u32(w + 32 + 4 * q, x2[q]);
            vst1q_u32(w + 48 + 4 * q, x3[q]);
        }
    }
}

#define FI_CONTIG_NAME fi_fill_contig_neon
#include "kernels.inc.h"
#endif
