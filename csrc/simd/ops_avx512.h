/*
 * simd/ops_avx512.h -- the SIMD op set on AVX-512 (F, BW, DQ, VL): 16 lanes of 32 bits.
 *
 * The 16-lane twin of ops_avx2.h (read its header for what the op layer is): the same names,
 * the same lane semantics. What AVX-512 adds is used inside the ops only:
 *   - compares give mask registers (vmask is __mmask16), so selects and compress-stores
 *     take them directly;
 *   - vpternlogd makes xor3 and or_and one instruction each;
 *   - Philox's rounds run on 8 blocks per register, one per 64-bit lane (FI_R_LANES 8):
 *     one vpmuludq then gives a whole 64-bit product, its high half one shift away, with no
 *     shuffle in the rounds (simd/philox.inc.h; to_rounds/from_rounds widen and narrow);
 *   - the ziggurat's layer lookups of a group (zig_lookup4) and its reject list
 *     (compress_store_idx4) work on four vectors at once; with FI_AVX512_VBMI (the build
 *     for CPUs with AVX512_VBMI and AVX512_VBMI2, kernels_avx512vbmi.c) by byte shuffles on
 *     the tables' byte planes and by word compression, 32 indices at a time;
 *   - bfloat16 by the AVX512_BF16 conversion where the CPU has it (st_bf16_hw).
 *
 * Include it after <immintrin.h> and after FI_TARGET_BEGIN with the AVX-512 features (and
 * avx512bf16; avx512vbmi and avx512vbmi2 with FI_AVX512_VBMI).
 */
#ifndef FI_SIMD_OPS_H
#define FI_SIMD_OPS_H

#include "compress.h"

#define FI_V_LANES 16

typedef __m512i v32;        /* 16 x uint32 */
typedef __m512 vf32;        /* 16 x float */
typedef __m512d vf64;       /* 8 x double: half a v32's lanes */
typedef __mmask16 vmask;    /* bit j: lane j */
typedef __m512i v64;        /* 8 x uint64 */
typedef __mmask8 vmask64;

/* ---- loads, stores, constants ---- */
FI_FORCE_INLINE v32 ld(const uint32_t *p) { return _mm512_loadu_si512((const void *)p); }
FI_FORCE_INLINE void st(uint32_t *p, v32 v) { _mm512_storeu_si512((void *)p, v); }
/* 16 uint16 widened to the lanes (the batch-local indices of compress_store_idx). */
FI_FORCE_INLINE v32 ld_u16(const uint16_t *p) { return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)); }
FI_FORCE_INLINE v32 set1(uint32_t x) { return _mm512_set1_epi32((int)x); }
FI_FORCE_INLINE v32 iota(void) { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

/* ---- integer arithmetic and logic ---- */
FI_FORCE_INLINE v32 add(v32 a, v32 b) { return _mm512_add_epi32(a, b); }
FI_FORCE_INLINE v32 xor_(v32 a, v32 b) { return _mm512_xor_si512(a, b); }
FI_FORCE_INLINE v32 and_(v32 a, v32 b) { return _mm512_and_si512(a, b); }
FI_FORCE_INLINE v32 or_(v32 a, v32 b) { return _mm512_or_si512(a, b); }
/* a ^ b ^ c and a | (b & c): one vpternlogd each (0x96 and 0xF8 are their truth tables). */
FI_FORCE_INLINE v32 xor3(v32 a, v32 b, v32 c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
FI_FORCE_INLINE v32 or_and(v32 a, v32 b, v32 c) { return _mm512_ternarylogic_epi32(a, b, c, 0xF8); }
FI_FORCE_INLINE v32 shr(v32 a, int n) { return _mm512_srli_epi32(a, n); }
FI_FORCE_INLINE v32 shl(v32 a, int n) { return _mm512_slli_epi32(a, n); }

/* 32x32 -> 64-bit products of every lane with M, in the lanes' own layout (Philox's rounds
 * use mulhilo_r instead): the even and odd products, sorted into hi and lo by two permutes. */
FI_FORCE_INLINE void mulhilo(v32 a, v32 M, v32 *hi, v32 *lo)
{
    const __m512i lo_of = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    const __m512i hi_of = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    __m512i pe = _mm512_mul_epu32(a, M), po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(M, 32));
    *lo = _mm512_permutex2var_epi32(pe, lo_of, po);
    *hi = _mm512_permutex2var_epi32(pe, hi_of, po);
}

/* ---- Philox's round layout (simd/philox.inc.h): block j of a round vector in lane 2j, the
 * low half of 64-bit lane j; what the odd lanes hold never reaches an even one (vpmuludq
 * reads the low halves only, the other ops are lane-wise). ---- */
#define FI_R_LANES 8
/* Block offsets 0..7 in the round layout. */
FI_FORCE_INLINE v32 r_iota(void) { return _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7); }
/* hi and lo halves of the products of the even lanes with M's: lo is the product itself
 * (its odd lane holds the high half: don't care). */
FI_FORCE_INLINE void mulhilo_r(v32 a, v32 M, v32 *hi, v32 *lo)
{
    *lo = _mm512_mul_epu32(a, M);
    *hi = _mm512_srli_epi64(*lo, 32);
}
/* Lanes 8*part .. 8*part+7 of v in the round layout (zero-extended). */
FI_FORCE_INLINE v32 to_rounds(v32 v, int part)
{
    return _mm512_cvtepu32_epi64(part ? _mm512_extracti64x4_epi64(v, 1) : _mm512_castsi512_si256(v));
}
/* The blocks of two round vectors r[0], r[1] back as one v32: their even lanes. */
FI_FORCE_INLINE v32 from_rounds(const v32 *r)
{
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_epi32(r[0], evens, r[1]);
}

/* ---- compares and masks ---- */
FI_FORCE_INLINE vmask cmpge_u32(v32 a, v32 b) { return _mm512_cmpge_epu32_mask(a, b); }
FI_FORCE_INLINE vmask cmplt_u32(v32 a, v32 b) { return _mm512_cmplt_epu32_mask(a, b); }
FI_FORCE_INLINE vmask mask_none(void) { return 0; }
FI_FORCE_INLINE vmask mask_all(void) { return 0xffff; }
FI_FORCE_INLINE uint32_t mask_bits(vmask m) { return (uint32_t)m; }
/* m ? b : a, lane by lane. */
FI_FORCE_INLINE v32 blend(vmask m, v32 a, v32 b) { return _mm512_mask_blend_epi32(m, a, b); }

/* ---- table lookups ---- */
FI_FORCE_INLINE v32 gather_u32(const uint32_t *t, v32 idx) { return _mm512_i32gather_epi32(idx, (const void *)t, 4); }
FI_FORCE_INLINE vf32 gather_f32(const float *t, v32 idx) { return _mm512_i32gather_ps(idx, (const void *)t, 4); }
/* Both halves of t[idx] for a table of 64-bit entries: two 8-element gathers, then the
 * halves sorted by permutes. */
FI_FORCE_INLINE void gather_pair_u32(const uint64_t *t, v32 idx, v32 *lo, v32 *hi)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512i g0 = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx), (const void *)t, 8);
    __m512i g1 = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx, 1), (const void *)t, 8);
    *lo = _mm512_permutex2var_epi32(g0, even, g1);
    *hi = _mm512_permutex2var_epi32(g0, odd, g1);
}

/* The ziggurat layers of a group's four vectors of words: w[j] = t->w32[v[j] & 0xff],
 * k[j] = t->k32[v[j] & 0xff]. */
FI_FORCE_INLINE void zig_lookup4(const fi_zig *t, const v32 v[4], vf32 w[4], v32 k[4])
{
#ifdef FI_AVX512_VBMI
    /* By byte shuffles on the table's byte planes (t->planes32: byte m of wk32), 64 lookups
     * per shuffle. The words' low bytes are packed so that the interleaving unpacks below,
     * which work within 128-bit lanes, give back entry (16c + 4t + d) of the packed order as
     * dword 4c + d of register t: packed byte p = 16c + 4t + d is byte 0 of word 4c + d of
     * v[t]. */
    static const FI_ALIGN64 uint8_t pack[64] = {
        0, 4, 8, 12, 64, 68, 72, 76, 0, 4, 8, 12, 64, 68, 72, 76,
        16, 20, 24, 28, 80, 84, 88, 92, 16, 20, 24, 28, 80, 84, 88, 92,
        32, 36, 40, 44, 96, 100, 104, 108, 32, 36, 40, 44, 96, 100, 104, 108,
        48, 52, 56, 60, 112, 116, 120, 124, 48, 52, 56, 60, 112, 116, 120, 124};
    const __m512i sel = _mm512_load_si512((const void *)pack);
    /* Bytes p with t = 2 or 3 (bit 3 of p) come from v[2] and v[3]. */
    __m512i idx = _mm512_mask_blend_epi8(0xFF00FF00FF00FF00ull,
                                         _mm512_permutex2var_epi8(v[0], sel, v[1]),
                                         _mm512_permutex2var_epi8(v[2], sel, v[3]));
    __mmask64 upper = _mm512_movepi8_mask(idx);     /* entries 128..255 */
    __m512i plane[8];
    for (int m = 0; m < 7; m++) {
        const uint8_t *b = t->planes32[m];
        __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512((const void *)b), idx,
                                              _mm512_load_si512((const void *)(b + 64)));
        __m512i hi = _mm512_permutex2var_epi8(_mm512_load_si512((const void *)(b + 128)), idx,
                                              _mm512_load_si512((const void *)(b + 192)));
        plane[m] = _mm512_mask_blend_epi8(upper, lo, hi);
    }
    plane[7] = _mm512_setzero_si512();               /* k <= 2**23: its top byte */
    for (int h = 0; h < 2; h++) {
        const __m512i *b = plane + 4 * h;
        __m512i l01 = _mm512_unpacklo_epi8(b[0], b[1]), h01 = _mm512_unpackhi_epi8(b[0], b[1]);
        __m512i l23 = _mm512_unpacklo_epi8(b[2], b[3]), h23 = _mm512_unpackhi_epi8(b[2], b[3]);
        __m512i r[4] = {_mm512_unpacklo_epi16(l01, l23), _mm512_unpackhi_epi16(l01, l23),
                        _mm512_unpacklo_epi16(h01, h23), _mm512_unpackhi_epi16(h01, h23)};
        for (int j = 0; j < 4; j++) {
            if (h == 0) w[j] = _mm512_castsi512_ps(r[j]);
            else k[j] = r[j];
        }
    }
#else
    /* One gather of the 64-bit wk32 entries per 8 lanes loads w and k together. */
    for (int j = 0; j < 4; j++) {
        v32 wt;
        gather_pair_u32(t->wk32, _mm512_and_si512(v[j], _mm512_set1_epi32(0xff)), &wt, &k[j]);
        w[j] = _mm512_castsi512_ps(wt);
    }
#endif
}

/* ---- float32 ---- */
FI_FORCE_INLINE vf32 as_f32(v32 v) { return _mm512_castsi512_ps(v); }
FI_FORCE_INLINE v32 as_u32(vf32 v) { return _mm512_castps_si512(v); }
FI_FORCE_INLINE vf32 set1_f32(float x) { return _mm512_set1_ps(x); }
FI_FORCE_INLINE vf32 cvt_i32_f32(v32 v) { return _mm512_cvtepi32_ps(v); }
FI_FORCE_INLINE vf32 add_f32(vf32 a, vf32 b) { return _mm512_add_ps(a, b); }
FI_FORCE_INLINE vf32 mul_f32(vf32 a, vf32 b) { return _mm512_mul_ps(a, b); }
FI_FORCE_INLINE vf32 sub_f32(vf32 a, vf32 b) { return _mm512_sub_ps(a, b); }
FI_FORCE_INLINE vf32 div_f32(vf32 a, vf32 b) { return _mm512_div_ps(a, b); }
/* a > b ? a : b and a < b ? a : b, exactly (vmaxps/vminps return b on equal or unordered). */
FI_FORCE_INLINE vf32 max_f32(vf32 a, vf32 b) { return _mm512_max_ps(a, b); }
FI_FORCE_INLINE vf32 min_f32(vf32 a, vf32 b) { return _mm512_min_ps(a, b); }

/* ---- float64, half the lanes (half 0: lanes 0..7, 1: lanes 8..15) ---- */
FI_FORCE_INLINE vf64 set1_f64(double x) { return _mm512_set1_pd(x); }
FI_FORCE_INLINE vf64 cvtlo_f32_f64(vf32 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
FI_FORCE_INLINE vf64 cvthi_f32_f64(vf32 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
FI_FORCE_INLINE vf64 add_f64(vf64 a, vf64 b) { return _mm512_add_pd(a, b); }
FI_FORCE_INLINE vf64 sub_f64(vf64 a, vf64 b) { return _mm512_sub_pd(a, b); }
FI_FORCE_INLINE vf64 mul_f64(vf64 a, vf64 b) { return _mm512_mul_pd(a, b); }
FI_FORCE_INLINE vf64 div_f64(vf64 a, vf64 b) { return _mm512_div_pd(a, b); }
FI_FORCE_INLINE vf64 max_f64(vf64 a, vf64 b) { return _mm512_max_pd(a, b); }
FI_FORCE_INLINE vf64 min_f64(vf64 a, vf64 b) { return _mm512_min_pd(a, b); }
/* Both halves rounded to float (to nearest, as a C cast) and joined. */
FI_FORCE_INLINE vf32 cvt_f64_f32(vf64 lo, vf64 hi)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}
FI_FORCE_INLINE __m256i half_of(v32 v, int half) { return half ? _mm512_extracti64x4_epi64(v, 1) : _mm512_castsi512_si256(v); }
FI_FORCE_INLINE vf64 cvt_i32_f64(v32 v, int half) { return _mm512_cvtepi32_pd(half_of(v, half)); }
FI_FORCE_INLINE vf64 cvt_u32_f64(v32 v, int half) { return _mm512_cvtepu32_pd(half_of(v, half)); }
FI_FORCE_INLINE vf64 gather_f64(const double *t, v32 idx, int half) { return _mm512_i32gather_pd(half_of(idx, half), t, 8); }
FI_FORCE_INLINE vmask64 cmplt_f64(vf64 a, vf64 b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
FI_FORCE_INLINE uint32_t mask64_bits(vmask64 m) { return (uint32_t)m; }
FI_FORCE_INLINE vmask64 cmple_f64(vf64 a, vf64 b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
FI_FORCE_INLINE vmask64 mask64_and(vmask64 a, vmask64 b) { return (vmask64)(a & b); }
FI_FORCE_INLINE vmask64 mask64_or(vmask64 a, vmask64 b) { return (vmask64)(a | b); }
FI_FORCE_INLINE vmask64 mask64_andnot(vmask64 a, vmask64 b) { return (vmask64)(a & ~b); }
FI_FORCE_INLINE vf64 blend_f64(vmask64 m, vf64 a, vf64 b) { return _mm512_mask_blend_pd(m, a, b); }
FI_FORCE_INLINE v64 as_u64(vf64 v) { return _mm512_castpd_si512(v); }
FI_FORCE_INLINE vf64 as_f64(v64 v) { return _mm512_castsi512_pd(v); }
FI_FORCE_INLINE v64 add_u64(v64 a, v64 b) { return _mm512_add_epi64(a, b); }
FI_FORCE_INLINE v64 sub_u64(v64 a, v64 b) { return _mm512_sub_epi64(a, b); }
FI_FORCE_INLINE v64 shl_u64(v64 a, int n) { return _mm512_slli_epi64(a, n); }

/* ---- stores of the output dtypes ---- */
FI_FORCE_INLINE void st_f32(float *p, vf32 x) { _mm512_storeu_ps(p, x); }
/* bfloat16 rounded to nearest even by the integer route of fi_f32_to_bf16. */
FI_FORCE_INLINE void st_bf16(uint16_t *p, vf32 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    u = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd));
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16)));
}
/* bfloat16 by the AVX512_BF16 conversion, where bf16_hw() says the CPU has it: it rounds
 * to nearest even as st_bf16 does but flushes subnormals, so the caller uses it only where
 * no value can be one (fused32.inc.h's bf16_exact). */
#define FI_HAVE_BF16_HW
FI_FORCE_INLINE int bf16_hw(void) { return fi_cpu_has_bf16(); }
FI_FORCE_INLINE void st_bf16_hw(uint16_t *p, vf32 x) { _mm256_storeu_si256((__m256i *)p, (__m256i)_mm512_cvtneps_pbh(x)); }
/* float16 by the hardware conversion, which rounds as fi_f32_to_f16 (no NaN occurs). */
FI_FORCE_INLINE void st_f16(uint16_t *p, vf32 x)
{
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
FI_FORCE_INLINE void st_mask_u8(uint8_t *p, vmask m) { _mm_storeu_si128((__m128i *)p, _mm_maskz_set1_epi8(m, 1)); }

/* ---- compress-store of lane indices ---- */
/* Appends base + j for every lane j set in m to list[n..] and returns the new n: vpcompressd,
 * narrowed to 16 bits; writes 16 entries from n. */
FI_FORCE_INLINE size_t compress_store_idx(uint16_t *list, size_t n, uint32_t base, vmask m)
{
    __m512i li = _mm512_add_epi32(iota(), _mm512_set1_epi32((int)base));
    _mm256_storeu_si256((__m256i *)(list + n), _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(m, li)));
    return n + (size_t)fi_popcount32(m);
}

/* compress_store_idx of four vectors whose lanes are values base .. base + 63, in order.
 * With VBMI2, 32 indices at a time by word compression (it runs for every group of the
 * normal, so its cost counts); writes 32 entries from n. */
FI_FORCE_INLINE size_t compress_store_idx4(uint16_t *list, size_t n, uint32_t base, const vmask m[4])
{
#ifdef FI_AVX512_VBMI
    static const FI_ALIGN64 uint16_t lane[32] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    __m512i li = _mm512_add_epi16(_mm512_load_si512((const void *)lane), _mm512_set1_epi16((short)base));
    for (int h = 0; h < 2; h++) {
        __mmask32 mm = _mm512_kunpackw((__mmask32)m[2 * h + 1], (__mmask32)m[2 * h]);
        _mm512_storeu_si512((void *)(list + n), _mm512_maskz_compress_epi16(mm, li));
        n += (size_t)fi_popcount32(mm);
        li = _mm512_add_epi16(li, _mm512_set1_epi16(32));
    }
    return n;
#else
    for (int j = 0; j < 4; j++) n = compress_store_idx(list, n, base + 16 * (uint32_t)j, m[j]);
    return n;
#endif
}

/* ---- 64-bit lanes from pairs of 32-bit lanes: the float64 fills (simd/fused64.inc.h) ---- */
FI_FORCE_INLINE v64 set1_u64(uint64_t x) { return _mm512_set1_epi64((long long)x); }
FI_FORCE_INLINE v64 and_u64(v64 a, v64 b) { return _mm512_and_si512(a, b); }
FI_FORCE_INLINE v64 or_u64(v64 a, v64 b) { return _mm512_or_si512(a, b); }
FI_FORCE_INLINE v64 shr_u64(v64 a, int n) { return _mm512_srli_epi64(a, n); }
FI_FORCE_INLINE vmask64 cmplt_u64(v64 a, v64 b) { return _mm512_cmplt_epu64_mask(a, b); }
/* AVX512DQ converts unsigned 64-bit lanes directly (exact below 2**53). */
FI_FORCE_INLINE vf64 cvt_u52_f64(v64 v) { return _mm512_cvtepu64_pd(v); }
FI_FORCE_INLINE vf64 cvt_u53_f64(v64 v) { return _mm512_cvtepu64_pd(v); }
FI_FORCE_INLINE vf64 gather64_f64(const double *t, v64 idx) { return _mm512_i64gather_pd(idx, (const void *)t, 8); }
FI_FORCE_INLINE v64 gather64_u64(const uint64_t *t, v64 idx) { return _mm512_i64gather_epi64(idx, (const void *)t, 8); }
/* Pairs of 32-bit lanes as 64-bit ones in the natural order, lanes 0..7 in a and 8..15 in
 * b: one two-source permute each, the cost of any order, so the stores and masks need no
 * shuffle to undo it. */
FI_FORCE_INLINE void pair_u32(v32 lo, v32 hi, v64 *a, v64 *b)
{
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    *a = _mm512_permutex2var_epi32(lo, first, hi);
    *b = _mm512_permutex2var_epi32(lo, second, hi);
}
FI_FORCE_INLINE void st_pair_f64(double *p, vf64 a, vf64 b)
{
    _mm512_storeu_pd(p, a);
    _mm512_storeu_pd(p + 8, b);
}
FI_FORCE_INLINE uint32_t pair_mask_bits(vmask64 a, vmask64 b) { return (uint32_t)a | (uint32_t)b << 8; }

/* ---- mask logic, float compares and mask stores (simd/bernoulli.inc.h, simd/truncnorm.inc.h) ---- */
/* On mask registers: kandw, korw, kandnw (a & ~b). */
FI_FORCE_INLINE vmask mask_and(vmask a, vmask b) { return (vmask)(a & b); }
FI_FORCE_INLINE vmask mask_or(vmask a, vmask b) { return (vmask)(a | b); }
FI_FORCE_INLINE vmask mask_andnot(vmask a, vmask b) { return (vmask)(a & ~b); }
/* Lane j set where bit j of b is. */
FI_FORCE_INLINE vmask mask_from_bits(uint32_t b) { return (vmask)b; }
FI_FORCE_INLINE vmask cmplt_f32(vf32 a, vf32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
FI_FORCE_INLINE vmask cmple_f32(vf32 a, vf32 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
/* One 16-, 32- or 64-bit element per lane: one where m is set, else 0 (a zero-masked
 * broadcast). */
FI_FORCE_INLINE void st_mask_u16(uint16_t *p, vmask m, uint16_t one)
{
    _mm256_storeu_si256((__m256i *)p, _mm256_maskz_set1_epi16(m, (short)one));
}
FI_FORCE_INLINE void st_mask_u32(uint32_t *p, vmask m, uint32_t one)
{
    _mm512_storeu_si512((void *)p, _mm512_maskz_set1_epi32(m, (int)one));
}
FI_FORCE_INLINE void st_mask_u64(uint64_t *p, vmask m, uint64_t one)
{
    _mm512_storeu_si512((void *)p, _mm512_maskz_set1_epi64((__mmask8)m, (long long)one));
    _mm512_storeu_si512((void *)(p + 8), _mm512_maskz_set1_epi64((__mmask8)(m >> 8), (long long)one));
}

/* ---- stores that bypass the caches (kernels.inc.h, for large fills) ----
 * A plain store first reads its line into the cache (the read for ownership), so a fill much
 * larger than the caches moves each line twice; a non-temporal store writes whole lines and
 * evicts nothing useful. stream_copy copies n bytes: the head up to dst's 64-byte alignment
 * and the tail by memcpy, the rest by aligned streaming stores. stream_fence orders them
 * before later stores (they are weakly ordered). */
#define FI_HAVE_STREAM_STORE 1
FI_FORCE_INLINE void stream_copy(void *dst, const void *src, size_t n)
{
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (size_t)(-(uintptr_t)d & 63);
    if (head > n) head = n;
    memcpy(d, s, head);
    d += head, s += head, n -= head;
    for (; n >= 64; n -= 64, d += 64, s += 64)
        _mm512_stream_si512((void *)d, _mm512_loadu_si512((const void *)s));
    memcpy(d, s, n);
}
FI_FORCE_INLINE void stream_fence(void) { _mm_sfence(); }

#endif
