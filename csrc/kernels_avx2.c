/* kernels_avx2.c -- Philox4x32-10 eight blocks per register; the fills vectorized for AVX2.
 * Compiled for AVX2 by the pragma, whatever the build's flags; run only where CPUID says so. */
#include "portable.h"
#ifdef FI_X86
#include <immintrin.h>
#include "philox.h"
#include "internal.h"
FI_TARGET_BEGIN("avx2,f16c")

/* 32x32 -> 64-bit products of every lane with M: the even lanes directly, the odd ones
 * after a shift, then the halves sorted into hi and lo. */
static inline void mulhilo8(__m256i a, __m256i M, __m256i *hi, __m256i *lo)
{
    __m256i pe = _mm256_mul_epu32(a, M);
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), M);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

static void philox_groups(const uint32_t key[2], uint64_t block0, size_t ngroups,
                          uint32_t *restrict w)
{
    const __m256i M0 = _mm256_set1_epi32((int)PHILOX_M0), M1 = _mm256_set1_epi32((int)PHILOX_M1);
    __m256i K0[PHILOX_ROUNDS], K1[PHILOX_ROUNDS];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        K0[r] = _mm256_set1_epi32((int)k0);
        K1[r] = _mm256_set1_epi32((int)k1);
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t g = 0; g < ngroups; g++, w += 64) {
        uint64_t b = block0 + 16 * g;
        uint32_t lo = (uint32_t)b, hi = (uint32_t)(b >> 32);
        /* Two independent halves of the group (blocks m = 0..7 and 8..15) in flight at once.
         * The low counter word never wraps inside a half unless lo is within 16 of 2**32;
         * that group takes the scalar formula instead. */
        if (lo > 0xFFFFFFF0u) {
            philox_group16(key, b, w);
            continue;
        }
        __m256i a0 = _mm256_add_epi32(_mm256_set1_epi32((int)lo), lane);
        __m256i b0 = _mm256_add_epi32(a0, _mm256_set1_epi32(8));
        __m256i a1 = _mm256_set1_epi32((int)hi), b1 = a1;
        __m256i a2 = _mm256_setzero_si256(), b2 = a2, a3 = a2, b3 = a2;
        for (int r = 0; r < PHILOX_ROUNDS; r++) {
            __m256i ahi0, alo0, ahi1, alo1, bhi0, blo0, bhi1, blo1;
            mulhilo8(a0, M0, &ahi0, &alo0);
            mulhilo8(a2, M1, &ahi1, &alo1);
            mulhilo8(b0, M0, &bhi0, &blo0);
            mulhilo8(b2, M1, &bhi1, &blo1);
            a0 = _mm256_xor_si256(_mm256_xor_si256(ahi1, a1), K0[r]);
            a2 = _mm256_xor_si256(_mm256_xor_si256(ahi0, a3), K1[r]);
            a1 = alo1; a3 = alo0;
            b0 = _mm256_xor_si256(_mm256_xor_si256(bhi1, b1), K0[r]);
            b2 = _mm256_xor_si256(_mm256_xor_si256(bhi0, b3), K1[r]);
            b1 = blo1; b3 = blo0;
        }
        _mm256_storeu_si256((__m256i *)(w + 0), a0);
        _mm256_storeu_si256((__m256i *)(w + 8), b0);
        _mm256_storeu_si256((__m256i *)(w + 16), a1);
        _mm256_storeu_si256((__m256i *)(w + 24), b1);
        _mm256_storeu_si256((__m256i *)(w + 32), a2);
        _mm256_storeu_si256((__m256i *)(w + 40), b2);
        _mm256_storeu_si256((__m256i *)(w + 48), a3);
        _mm256_storeu_si256((__m256i *)(w + 56), b3);
    }
}

#define FI_CONTIG_NAME fi_fill_contig_avx2
#include "kernels.inc.h"
FI_TARGET_END
#endif
