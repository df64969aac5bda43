/* kernels_avx512.c -- Philox4x32-10 sixteen blocks per register (one group per register);
 * the fills vectorized for AVX-512. Compiled for AVX-512 by the pragma; run only where CPUID
 * says so. */
#if defined(__x86_64__) || defined(_M_X64)
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,f16c")
#include <immintrin.h>
#include "philox.h"
#include "internal.h"

static inline void mulhilo16(__m512i a, __m512i M, __m512i *hi, __m512i *lo)
{
    __m512i pe = _mm512_mul_epu32(a, M);
    __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), M);
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}

/* One Philox round on two groups at once: two independent dependency chains. */
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)

static void philox_groups(const uint32_t key[2], uint64_t block0, size_t ngroups,
                          uint32_t *restrict w)
{
    const __m512i M0 = _mm512_set1_epi32((int)PHILOX_M0), M1 = _mm512_set1_epi32((int)PHILOX_M1);
    __m512i K0[PHILOX_ROUNDS], K1[PHILOX_ROUNDS];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        K0[r] = _mm512_set1_epi32((int)k0);
        K1[r] = _mm512_set1_epi32((int)k1);
    }
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t g = 0;
    while (g < ngroups) {
        uint64_t b = block0 + 16 * g;
        /* Two groups per pass when both are there and the low counter word does not wrap
         * inside them; otherwise one group, with the carry into the high word per lane. */
        int two = g + 1 < ngroups && (uint32_t)b <= 0xFFFFFFFFu - 31u;
        __m512i a0, a1, b0, b1;
        {
            __m512i lo = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)b), lane);
            __mmask16 carry = _mm512_cmplt_epu32_mask(lo, _mm512_set1_epi32((int)(uint32_t)b));
            a0 = lo;
            a1 = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(b >> 32)), carry,
                                       _mm512_set1_epi32((int)(uint32_t)(b >> 32)),
                                       _mm512_set1_epi32(1));
            b0 = _mm512_add_epi32(a0, _mm512_set1_epi32(16));
            b1 = a1;
        }
        __m512i a2 = _mm512_setzero_si512(), a3 = a2, b2 = a2, b3 = a2;
        for (int r = 0; r < PHILOX_ROUNDS; r++) {
            __m512i ahi0, alo0, ahi1, alo1, bhi0, blo0, bhi1, blo1;
            mulhilo16(a0, M0, &ahi0, &alo0);
            mulhilo16(a2, M1, &ahi1, &alo1);
            if (two) {
                mulhilo16(b0, M0, &bhi0, &blo0);
                mulhilo16(b2, M1, &bhi1, &blo1);
                b0 = XOR3(bhi1, b1, K0[r]);
                b2 = XOR3(bhi0, b3, K1[r]);
                b1 = blo1; b3 = blo0;
            }
            a0 = XOR3(ahi1, a1, K0[r]);
            a2 = XOR3(ahi0, a3, K1[r]);
            a1 = alo1; a3 = alo0;
        }
        _mm512_storeu_si512((void *)(w + 0), a0);
        _mm512_storeu_si512((void *)(w + 16), a1);
        _mm512_storeu_si512((void *)(w + 32), a2);
        _mm512_storeu_si512((void *)(w + 48), a3);
        if (two) {
            _mm512_storeu_si512((void *)(w + 64), b0);
            _mm512_storeu_si512((void *)(w + 80), b1);
            _mm512_storeu_si512((void *)(w + 96), b2);
            _mm512_storeu_si512((void *)(w + 112), b3);
        }
        g += two ? 2 : 1;
        w += two ? 128 : 64;
    }
}

/* The float32 ziggurat fast path, with the layer's width and threshold fetched together
 * by one 64-bit gather per eight values (compilers tend to avoid gathers on their own).
 * The same operations as the generic loop, hence the same bits. */
#include "ziggurat_tables.h"
#define FI_HAVE_ZIGGURAT_F32
static uint64_t zig_wk32[256];          /* (k << 32) | bits(w), filled on first use */

static void ziggurat_f32(const uint32_t *restrict w, size_t n, float *restrict z,
                         uint8_t *restrict rej)
{
    if (!zig_wk32[1])   /* benign race: every thread writes the same values */
        for (int i = 0; i < 256; i++)
            zig_wk32[i] = ((uint64_t)zig_k32[i] << 32) | fi_f32_bits(zig_w32[i]);
    const __m512i low8 = _mm512_set1_epi32(0xff), sign = _mm512_set1_epi32(0x100);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (size_t i = 0; i < n; i += 16) {
        __m512i wi = _mm512_loadu_si512((const void *)(w + i));
        __m512i idx = _mm512_and_si512(wi, low8);
        __m512i u = _mm512_srli_epi32(wi, 9);
        __m512i g0 = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx), (const void *)zig_wk32, 8);
        __m512i g1 = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx, 1), (const void *)zig_wk32, 8);
        __m512 wt = _mm512_castsi512_ps(_mm512_permutex2var_epi32(g0, even, g1));
        __m512i kt = _mm512_permutex2var_epi32(g0, odd, g1);
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(u), wt);
        __m512i sv = _mm512_or_si512(_mm512_castps_si512(v),
                                     _mm512_slli_epi32(_mm512_and_si512(wi, sign), 23));
        _mm512_storeu_si512((void *)(z + i), sv);
        __mmask16 r = _mm512_cmpge_epu32_mask(u, kt);
        _mm_storeu_si128((__m128i *)(rej + i), _mm_maskz_set1_epi8(r, 1));
    }
}

#define FI_CONTIG_NAME fi_fill_contig_avx512
#include "kernels.inc.h"
#endif
