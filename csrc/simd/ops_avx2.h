/*
 * simd/ops_avx2.h -- the SIMD op set on AVX2: 8 lanes of 32 bits.
 *
 * The op layer is what the generic algorithm files (philox.inc.h, fused32.inc.h) are written
 * over; every ISA trick lives in the op headers, and the algorithm files hold no intrinsic.
 * Each op header defines the same names with the same lane semantics (ops_neon.h is the
 * 4-lane twin), so an algorithm gives the same bits on every target. Float ops are only the
 * ones IEEE 754 rounds alike in any unit (add, multiply, divide, exact conversions,
 * compare-selects).
 *
 * Include it after <immintrin.h> and after FI_TARGET_BEGIN("avx2,f16c"), so that these
 * functions are compiled for AVX2 (and run only where CPUID says so).
 */
#ifndef FI_SIMD_OPS_H
#define FI_SIMD_OPS_H

#include "compress.h"

#define FI_V_LANES 8

typedef __m256i v32;        /* 8 x uint32 */
typedef __m256 vf32;        /* 8 x float */
typedef __m256d vf64;       /* 4 x double: half a v32's lanes */
typedef __m256i vmask;      /* a lane is all ones or all zeros (compare results) */

/* ---- loads, stores, constants ---- */
FI_FORCE_INLINE v32 ld(const uint32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
FI_FORCE_INLINE void st(uint32_t *p, v32 v) { _mm256_storeu_si256((__m256i *)p, v); }
/* 8 uint16 widened to the lanes (the batch-local indices of compress_store_idx). */
FI_FORCE_INLINE v32 ld_u16(const uint16_t *p) { return _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)); }
FI_FORCE_INLINE v32 set1(uint32_t x) { return _mm256_set1_epi32((int)x); }
FI_FORCE_INLINE v32 iota(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }

/* ---- integer arithmetic and logic ---- */
FI_FORCE_INLINE v32 add(v32 a, v32 b) { return _mm256_add_epi32(a, b); }
FI_FORCE_INLINE v32 xor_(v32 a, v32 b) { return _mm256_xor_si256(a, b); }
FI_FORCE_INLINE v32 and_(v32 a, v32 b) { return _mm256_and_si256(a, b); }
FI_FORCE_INLINE v32 or_(v32 a, v32 b) { return _mm256_or_si256(a, b); }
/* Shifts by a count the caller makes a constant (the compiler then emits the immediate form). */
FI_FORCE_INLINE v32 shr(v32 a, int n) { return _mm256_srli_epi32(a, n); }
FI_FORCE_INLINE v32 shl(v32 a, int n) { return _mm256_slli_epi32(a, n); }
/* a ^ b ^ c and a | (b & c) (one instruction each on AVX-512; two here). */
FI_FORCE_INLINE v32 xor3(v32 a, v32 b, v32 c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
FI_FORCE_INLINE v32 or_and(v32 a, v32 b, v32 c) { return _mm256_or_si256(a, _mm256_and_si256(b, c)); }

/* ---- Philox's round layout (simd/philox.inc.h): the lanes as they are, but words 1 and 3
 * with lanes 1 and 2 of each 128-bit half swapped (r_perm) ----
 * vpmuludq multiplies the even lanes only, so the odd ones go through it after a shift. The
 * high halves of the two products are sorted by one shufps (it takes its low two lanes from
 * one source, its high two from the other), which leaves them in r_perm's order of the
 * factor's lanes; the low halves by a shift and a blend, in the factor's own order. Putting
 * hi in lane order would take a shift and a blend too: a round of 8 blocks is 16 ops, not
 * 18. The orders line up across a round: words 0 and 2 are multiplied, each in the order
 * opposite to that of the word its hi is xored with (1 or 3) and equal to that of the word
 * its lo becomes (3 or 1), and the new words 0 and 2 take the order of 1 and 3. So words 1
 * and 3 are held in the order opposite to 0 and 2, which alternates from round to round;
 * after the ten rounds (an even count) 0 and 2 are in lane order, 1 and 3 in r_perm's, and
 * leave the rounds through it (philox.inc.h; r_perm undoes itself).
 * Sorting lo by a shufps as well (14 ops, words 2 and 3 in r_perm's order) made Philox alone
 * as fast, but the fused fills 5% slower on Sapphire Rapids: the shuffles share port 5 with
 * theirs. Here: the fused uniform and Bernoulli fills 9-10% faster than with the blends.
 * With FI_AVX2_MULLD (kernels_avx2_mulld.c, for AMD Zen 3 and later) lo is one vpmulld
 * instead, same bits: there it is one micro-op on a multiply port, where the shift and the
 * blend take a shuffle port that the shifts and shufps of the rounds already fill, and Philox
 * runs 7-9% faster on Zen 4. On Intel vpmulld is two micro-ops of 10 cycles. */
#define FI_R_LANES FI_V_LANES
#define FI_R_PERM_WORDS 0xA     /* words 1 and 3 */
FI_FORCE_INLINE v32 r_iota(void) { return iota(); }
/* hi of a's lanes times M in r_perm's order of them (lanes 0, 2, 1, 3 of each half), lo in
 * their own. */
FI_FORCE_INLINE void mulhilo_r(v32 a, v32 M, v32 *hi, v32 *lo)
{
    const __m256i pe = _mm256_mul_epu32(a, M);
    const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), M);
#ifdef FI_AVX2_MULLD
    *lo = _mm256_mullo_epi32(a, M);
#else
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
#endif
    *hi = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(pe), _mm256_castsi256_ps(po), 0xDD));
}
/* Lanes 1 and 2 of each 128-bit half swapped. */
FI_FORCE_INLINE v32 r_perm(v32 v) { return _mm256_shuffle_epi32(v, 0xD8); }
FI_FORCE_INLINE v32 to_rounds(v32 v, int part) { (void)part; return v; }
FI_FORCE_INLINE v32 from_rounds(const v32 *r) { return r[0]; }

/* ---- compares and masks ---- */
/* AVX2 compares signed only: a >= b unsigned is max(a, b) == a. */
FI_FORCE_INLINE vmask cmpge_u32(v32 a, v32 b) { return _mm256_cmpeq_epi32(_mm256_max_epu32(a, b), a); }
FI_FORCE_INLINE vmask cmplt_u32(v32 a, v32 b)
{
    const __m256i flip = _mm256_set1_epi32((int)0x80000000u);
    return _mm256_cmpgt_epi32(_mm256_xor_si256(b, flip), _mm256_xor_si256(a, flip));
}
FI_FORCE_INLINE vmask mask_none(void) { return _mm256_setzero_si256(); }
FI_FORCE_INLINE vmask mask_all(void) { return _mm256_set1_epi32(-1); }
FI_FORCE_INLINE uint32_t mask_bits(vmask m) { return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(m)); }
/* m ? b : a, lane by lane. */
FI_FORCE_INLINE v32 blend(vmask m, v32 a, v32 b) { return _mm256_blendv_epi8(a, b, m); }
FI_FORCE_INLINE vmask mask_and(vmask a, vmask b) { return _mm256_and_si256(a, b); }
FI_FORCE_INLINE vmask mask_or(vmask a, vmask b) { return _mm256_or_si256(a, b); }
/* a and not b (the intrinsic's operands are the other way round). */
FI_FORCE_INLINE vmask mask_andnot(vmask a, vmask b) { return _mm256_andnot_si256(b, a); }
/* Lane j set when bit j of b is: b in every lane, its lane's bit tested. */
FI_FORCE_INLINE vmask mask_from_bits(uint32_t b)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)b), bit), bit);
}

/* ---- table lookups ---- */
/* t[idx] for a table of 32-bit entries (idx in range: the caller masks it). */
FI_FORCE_INLINE v32 gather_u32(const uint32_t *t, v32 idx) { return _mm256_i32gather_epi32((const int *)t, idx, 4); }

FI_FORCE_INLINE vf32 gather_f32(const float *t, v32 idx) { return _mm256_i32gather_ps(t, idx, 4); }

/* Both halves of t[idx] for a table of 64-bit entries: two 4-element gathers load what two
 * 8-element ones would. The indices go in the order (0, 1, 4, 5 | 2, 3, 6, 7), so that the
 * in-lane shuffles that sort the halves leave them in the lanes' own order. */
FI_FORCE_INLINE void gather_pair_u32(const uint64_t *t, v32 idx, v32 *lo, v32 *hi)
{
    const __m256i ip = _mm256_permute4x64_epi64(idx, 0xD8);
    __m256 g0 = _mm256_castsi256_ps(_mm256_i32gather_epi64((const long long *)t, _mm256_castsi256_si128(ip), 8));
    __m256 g1 = _mm256_castsi256_ps(_mm256_i32gather_epi64((const long long *)t, _mm256_extracti128_si256(ip, 1), 8));
    *lo = _mm256_castps_si256(_mm256_shuffle_ps(g0, g1, 0x88));
    *hi = _mm256_castps_si256(_mm256_shuffle_ps(g0, g1, 0xDD));
}

/* The ziggurat layers of four vectors of words: w[j] = t->w32[v[j] & 0xff], k[j] =
 * t->k32[v[j] & 0xff]. On Intel by two 32-bit gathers each: the pair's shuffles load port 5,
 * which the fused fills already fill (the normal's fast path on Sapphire Rapids was faster
 * so, by up to 30% with the double affine step). On Zen (kernels_avx2_mulld.c) by one
 * gather_pair_u32 of the packed table: a gather costs Zen about a micro-op per element, and
 * its shuffles have two pipes. */
FI_FORCE_INLINE void zig_lookup4(const fi_zig *t, const v32 v[4], vf32 w[4], v32 k[4])
{
    for (int j = 0; j < 4; j++) {
        const v32 idx = _mm256_and_si256(v[j], _mm256_set1_epi32(0xff));
#ifdef FI_AVX2_MULLD
        v32 wb;
        gather_pair_u32(t->wk32, idx, &wb, &k[j]);
        w[j] = _mm256_castsi256_ps(wb);
#else
        k[j] = gather_u32(t->k32, idx);
        w[j] = gather_f32(t->w32, idx);
#endif
    }
}

/* ---- float32 ---- */
FI_FORCE_INLINE vf32 as_f32(v32 v) { return _mm256_castsi256_ps(v); }
FI_FORCE_INLINE v32 as_u32(vf32 v) { return _mm256_castps_si256(v); }
FI_FORCE_INLINE vf32 set1_f32(float x) { return _mm256_set1_ps(x); }
/* (float)(int32_t)lane: exact here, as the lanes are below 2**24. */
FI_FORCE_INLINE vf32 cvt_i32_f32(v32 v) { return _mm256_cvtepi32_ps(v); }
FI_FORCE_INLINE vf32 add_f32(vf32 a, vf32 b) { return _mm256_add_ps(a, b); }
FI_FORCE_INLINE vf32 mul_f32(vf32 a, vf32 b) { return _mm256_mul_ps(a, b); }
FI_FORCE_INLINE vf32 sub_f32(vf32 a, vf32 b) { return _mm256_sub_ps(a, b); }
FI_FORCE_INLINE vf32 div_f32(vf32 a, vf32 b) { return _mm256_div_ps(a, b); }
/* a > b ? a : b and a < b ? a : b, exactly (so the sign of equal zeros is b's): the
 * generic loops' clamps x < lo ? lo : x = max_f32(lo, x), x > hi ? hi : x = min_f32(hi, x). */
FI_FORCE_INLINE vf32 max_f32(vf32 a, vf32 b) { return _mm256_max_ps(a, b); }
FI_FORCE_INLINE vf32 min_f32(vf32 a, vf32 b) { return _mm256_min_ps(a, b); }
FI_FORCE_INLINE vmask cmplt_f32(vf32 a, vf32 b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
FI_FORCE_INLINE vmask cmple_f32(vf32 a, vf32 b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LE_OQ)); }

/* ---- float64, half the lanes: the affine step of float32 in double ---- */
FI_FORCE_INLINE vf64 set1_f64(double x) { return _mm256_set1_pd(x); }
FI_FORCE_INLINE vf64 cvtlo_f32_f64(vf32 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
FI_FORCE_INLINE vf64 cvthi_f32_f64(vf32 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
FI_FORCE_INLINE vf64 add_f64(vf64 a, vf64 b) { return _mm256_add_pd(a, b); }
FI_FORCE_INLINE vf64 mul_f64(vf64 a, vf64 b) { return _mm256_mul_pd(a, b); }
FI_FORCE_INLINE vf64 div_f64(vf64 a, vf64 b) { return _mm256_div_pd(a, b); }
FI_FORCE_INLINE vf64 max_f64(vf64 a, vf64 b) { return _mm256_max_pd(a, b); }
FI_FORCE_INLINE vf64 min_f64(vf64 a, vf64 b) { return _mm256_min_pd(a, b); }
/* Both halves rounded to float (to nearest, as a C cast) and joined. */
FI_FORCE_INLINE vf32 cvt_f64_f32(vf64 lo, vf64 hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

/* ---- float64 from half the lanes (half 0: lanes 0..3, 1: lanes 4..7): the ziggurat's
 * wedge test runs in double, as the scalar slow path's ---- */
typedef __m256i v64;        /* 4 x uint64 */
typedef __m256d vmask64;
FI_FORCE_INLINE __m128i half_of(v32 v, int half) { return half ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v); }
FI_FORCE_INLINE vf64 cvt_i32_f64(v32 v, int half) { return _mm256_cvtepi32_pd(half_of(v, half)); }
/* Unsigned: no such conversion before AVX-512, so flip the top bit, convert signed, add 2**31
 * back (exact: every uint32 is a double). */
FI_FORCE_INLINE vf64 cvt_u32_f64(v32 v, int half)
{
    __m256d d = _mm256_cvtepi32_pd(_mm_xor_si128(half_of(v, half), _mm_set1_epi32((int)0x80000000u)));
    return _mm256_add_pd(d, _mm256_set1_pd(0x1p31));
}
FI_FORCE_INLINE vf64 gather_f64(const double *t, v32 idx, int half) { return _mm256_i32gather_pd(t, half_of(idx, half), 8); }
FI_FORCE_INLINE vf64 sub_f64(vf64 a, vf64 b) { return _mm256_sub_pd(a, b); }
FI_FORCE_INLINE vmask64 cmplt_f64(vf64 a, vf64 b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
FI_FORCE_INLINE uint32_t mask64_bits(vmask64 m) { return (uint32_t)_mm256_movemask_pd(m); }
FI_FORCE_INLINE vmask64 cmple_f64(vf64 a, vf64 b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
FI_FORCE_INLINE vmask64 mask64_and(vmask64 a, vmask64 b) { return _mm256_and_pd(a, b); }
FI_FORCE_INLINE vmask64 mask64_or(vmask64 a, vmask64 b) { return _mm256_or_pd(a, b); }
FI_FORCE_INLINE vmask64 mask64_andnot(vmask64 a, vmask64 b) { return _mm256_andnot_pd(b, a); }
FI_FORCE_INLINE vf64 blend_f64(vmask64 m, vf64 a, vf64 b) { return _mm256_blendv_pd(a, b, m); }
FI_FORCE_INLINE v64 as_u64(vf64 v) { return _mm256_castpd_si256(v); }
FI_FORCE_INLINE vf64 as_f64(v64 v) { return _mm256_castsi256_pd(v); }
FI_FORCE_INLINE v64 add_u64(v64 a, v64 b) { return _mm256_add_epi64(a, b); }
FI_FORCE_INLINE v64 sub_u64(v64 a, v64 b) { return _mm256_sub_epi64(a, b); }
FI_FORCE_INLINE v64 shl_u64(v64 a, int n) { return _mm256_slli_epi64(a, n); }

/* ---- 64-bit lanes from pairs of 32-bit lanes: the float64 fills ---- */
FI_FORCE_INLINE v64 set1_u64(uint64_t x) { return _mm256_set1_epi64x((long long)x); }
FI_FORCE_INLINE v64 and_u64(v64 a, v64 b) { return _mm256_and_si256(a, b); }
FI_FORCE_INLINE v64 or_u64(v64 a, v64 b) { return _mm256_or_si256(a, b); }
FI_FORCE_INLINE v64 shr_u64(v64 a, int n) { return _mm256_srli_epi64(a, n); }
/* AVX2 compares 64-bit lanes signed only: flip the top bits. */
FI_FORCE_INLINE vmask64 cmplt_u64(v64 a, v64 b)
{
    const __m256i flip = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_xor_si256(b, flip), _mm256_xor_si256(a, flip)));
}
/* No such conversion before AVX-512: a lane below 2**52 under the exponent of 2**52 is the
 * double 2**52 + lane, exactly (fi_u52_to_f64). */
FI_FORCE_INLINE vf64 cvt_u52_f64(v64 v)
{
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_set1_epi64x(0x4330000000000000ll))),
                         _mm256_set1_pd(0x1p52));
}
/* Below 2**53: the high and low 32 bits each by cvt_u52_f64, joined exactly. */
FI_FORCE_INLINE vf64 cvt_u53_f64(v64 v)
{
    const vf64 hi = cvt_u52_f64(_mm256_srli_epi64(v, 32));
    const vf64 lo = cvt_u52_f64(_mm256_and_si256(v, _mm256_set1_epi64x(0xffffffffll)));
    return _mm256_add_pd(_mm256_mul_pd(hi, _mm256_set1_pd(0x1p32)), lo);
}
FI_FORCE_INLINE vf64 gather64_f64(const double *t, v64 idx) { return _mm256_i64gather_pd(t, idx, 8); }
FI_FORCE_INLINE v64 gather64_u64(const uint64_t *t, v64 idx) { return _mm256_i64gather_epi64((const long long *)t, idx, 8); }
/* Pairs of 32-bit lanes as 64-bit ones, in the order of the in-lane unpacks (one shuffle a
 * vector; a lane-crossing order would take two): a holds lanes 0, 1, 4, 5 and b lanes 2, 3,
 * 6, 7. st_pair_f64 puts them back with 16-byte stores, whose upper halves are extracted by
 * the store itself, not by a shuffle. */
FI_FORCE_INLINE void pair_u32(v32 lo, v32 hi, v64 *a, v64 *b)
{
    *a = _mm256_unpacklo_epi32(lo, hi);
    *b = _mm256_unpackhi_epi32(lo, hi);
}
FI_FORCE_INLINE void st_pair_f64(double *p, vf64 a, vf64 b)
{
    _mm_storeu_pd(p, _mm256_castpd256_pd128(a));
    _mm_storeu_pd(p + 2, _mm256_castpd256_pd128(b));
    _mm_storeu_pd(p + 4, _mm256_extractf128_pd(a, 1));
    _mm_storeu_pd(p + 6, _mm256_extractf128_pd(b, 1));
}
FI_FORCE_INLINE uint32_t pair_mask_bits(vmask64 a, vmask64 b)
{
    const uint32_t ma = (uint32_t)_mm256_movemask_pd(a), mb = (uint32_t)_mm256_movemask_pd(b);
    return (ma & 3u) | (mb & 3u) << 2 | (ma & 12u) << 2 | (mb & 12u) << 4;
}

/* ---- stores of the output dtypes ---- */
FI_FORCE_INLINE void st_f32(float *p, vf32 x) { _mm256_storeu_ps(p, x); }
/* bfloat16 rounded to nearest even by the integer route of fi_f32_to_bf16. */
FI_FORCE_INLINE void st_bf16(uint16_t *p, vf32 x)
{
    __m256i u = _mm256_castps_si256(x);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    u = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd)), 16);
    _mm_storeu_si128((__m128i *)p, _mm_packus_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1)));
}
/* float16 by F16C, which rounds as fi_f32_to_f16 (no NaN occurs). */
FI_FORCE_INLINE void st_f16(uint16_t *p, vf32 x)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
/* One byte per lane: 1 where m is set, else 0. */
FI_FORCE_INLINE void st_mask_u8(uint8_t *p, vmask m)
{
    __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    _mm_storel_epi64((__m128i *)p, _mm_and_si128(_mm_packs_epi16(h, h), _mm_set1_epi8(1)));
}
/* One 16-, 32- or 64-bit element per lane: one where m is set, else 0. The mask's lanes are
 * all ones or zeros, so a signed narrowing or widening keeps them so. */
FI_FORCE_INLINE void st_mask_u16(uint16_t *p, vmask m, uint16_t one)
{
    __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    _mm_storeu_si128((__m128i *)p, _mm_and_si128(h, _mm_set1_epi16((short)one)));
}
FI_FORCE_INLINE void st_mask_u32(uint32_t *p, vmask m, uint32_t one)
{
    _mm256_storeu_si256((__m256i *)p, _mm256_and_si256(m, _mm256_set1_epi32((int)one)));
}
FI_FORCE_INLINE void st_mask_u64(uint64_t *p, vmask m, uint64_t one)
{
    const __m256i c = _mm256_set1_epi64x((long long)one);
    _mm256_storeu_si256((__m256i *)p, _mm256_and_si256(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)), c));
    _mm256_storeu_si256((__m256i *)(p + 4), _mm256_and_si256(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)), c));
}

/* ---- compress-store of lane indices ---- */
/* Appends base + j for every lane j set in m to list[n..] and returns the new n (the mask's
 * popcount added); writes up to 8 entries past n, so the list keeps 8 spare. No compress
 * instruction before AVX-512: two table steps of simd/compress.h, branch-free. */
FI_FORCE_INLINE size_t compress_store_idx(uint16_t *list, size_t n, uint32_t base, vmask m)
{
    uint32_t b = mask_bits(m);
    n = fi_compress4(list, n, base, b);
    return fi_compress4(list, n, base + 4, b >> 4);
}

/* compress_store_idx of four vectors whose lanes are values base .. base + 31, in order. */
FI_FORCE_INLINE size_t compress_store_idx4(uint16_t *list, size_t n, uint32_t base, const vmask m[4])
{
    for (int j = 0; j < 4; j++) n = compress_store_idx(list, n, base + FI_V_LANES * (uint32_t)j, m[j]);
    return n;
}

/* ---- stores that bypass the caches (kernels.inc.h, for large fills) ----
 * A plain store first reads its line into the cache (the read for ownership), so a fill much
 * larger than the caches moves each line twice; a non-temporal store writes whole lines and
 * evicts nothing useful. stream_copy copies n bytes: the head up to dst's 32-byte alignment
 * and the tail by memcpy, the rest by aligned streaming stores. stream_fence orders them
 * before later stores (they are weakly ordered). */
#define FI_HAVE_STREAM_STORE 1
FI_FORCE_INLINE void stream_copy(void *dst, const void *src, size_t n)
{
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (size_t)(-(uintptr_t)d & 31);
    if (head > n) head = n;
    memcpy(d, s, head);
    d += head, s += head, n -= head;
    for (; n >= 32; n -= 32, d += 32, s += 32)
        _mm256_stream_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
    memcpy(d, s, n);
}
FI_FORCE_INLINE void stream_fence(void) { _mm_sfence(); }

#endif
