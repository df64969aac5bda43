/*
 * simd/ops_neon.h -- the SIMD op set on AArch64 Advanced SIMD: 4 lanes of 32 bits.
 *
 * The 4-lane twin of ops_avx2.h (read its header for what the op layer is): the same names,
 * the same lane semantics, so the generic algorithm files give the same bits here. Where
 * NEON's instruction rounds or selects differently from the x86 one (max/min of equal zeros),
 * the op is built from compares and selects instead, to keep the x86 semantics.
 *
 * Include it after <arm_neon.h>. Advanced SIMD is part of every AArch64 CPU: no target pragma.
 */
#ifndef FI_SIMD_OPS_H
#define FI_SIMD_OPS_H

#include "compress.h"

#define FI_V_LANES 4

typedef uint32x4_t v32;
typedef float32x4_t vf32;
typedef float64x2_t vf64;
typedef uint32x4_t vmask;

/* ---- loads, stores, constants ---- */
FI_FORCE_INLINE v32 ld(const uint32_t *p) { return vld1q_u32(p); }
FI_FORCE_INLINE void st(uint32_t *p, v32 v) { vst1q_u32(p, v); }
/* 4 uint16 widened to the lanes (the batch-local indices of compress_store_idx). */
FI_FORCE_INLINE v32 ld_u16(const uint16_t *p) { return vmovl_u16(vld1_u16(p)); }
FI_FORCE_INLINE v32 set1(uint32_t x) { return vdupq_n_u32(x); }
FI_FORCE_INLINE v32 iota(void)
{
    static const uint32_t lane[4] = {0, 1, 2, 3};
    return vld1q_u32(lane);
}

/* ---- integer arithmetic and logic ---- */
FI_FORCE_INLINE v32 add(v32 a, v32 b) { return vaddq_u32(a, b); }
FI_FORCE_INLINE v32 xor_(v32 a, v32 b) { return veorq_u32(a, b); }
FI_FORCE_INLINE v32 and_(v32 a, v32 b) { return vandq_u32(a, b); }
FI_FORCE_INLINE v32 or_(v32 a, v32 b) { return vorrq_u32(a, b); }
/* NEON's immediate shifts need a literal; a shift by a register count (negative: right) folds
 * to the immediate form when the count is a constant, which it is at every call. */
FI_FORCE_INLINE v32 shr(v32 a, int n) { return vshlq_u32(a, vdupq_n_s32(-n)); }
FI_FORCE_INLINE v32 shl(v32 a, int n) { return vshlq_u32(a, vdupq_n_s32(n)); }
/* a ^ b ^ c and a | (b & c). */
FI_FORCE_INLINE v32 xor3(v32 a, v32 b, v32 c) { return veorq_u32(veorq_u32(a, b), c); }
FI_FORCE_INLINE v32 or_and(v32 a, v32 b, v32 c) { return vorrq_u32(a, vandq_u32(b, c)); }

/* 32x32 -> 64-bit products of every lane with M: NEON widens two lanes at a time, so the
 * halves of the four products are then gathered from the even and odd words. */
FI_FORCE_INLINE void mulhilo(v32 a, v32 M, v32 *hi, v32 *lo)
{
    uint32x4_t p01 = vreinterpretq_u32_u64(vmull_u32(vget_low_u32(a), vget_low_u32(M)));
    uint32x4_t p23 = vreinterpretq_u32_u64(vmull_high_u32(a, M));
    *lo = vuzp1q_u32(p01, p23);
    *hi = vuzp2q_u32(p01, p23);
}

/* ---- Philox's round layout (simd/philox.inc.h): the lanes as they are, a block each ---- */
#define FI_R_LANES FI_V_LANES
FI_FORCE_INLINE v32 r_iota(void) { return iota(); }
FI_FORCE_INLINE void mulhilo_r(v32 a, v32 M, v32 *hi, v32 *lo) { mulhilo(a, M, hi, lo); }
FI_FORCE_INLINE v32 to_rounds(v32 v, int part) { (void)part; return v; }
FI_FORCE_INLINE v32 from_rounds(const v32 *r) { return r[0]; }

/* ---- compares and masks ---- */
FI_FORCE_INLINE vmask cmpge_u32(v32 a, v32 b) { return vcgeq_u32(a, b); }
FI_FORCE_INLINE vmask cmplt_u32(v32 a, v32 b) { return vcltq_u32(a, b); }
FI_FORCE_INLINE vmask mask_none(void) { return vdupq_n_u32(0); }
FI_FORCE_INLINE vmask mask_all(void) { return vdupq_n_u32(0xffffffffu); }
FI_FORCE_INLINE uint32_t mask_bits(vmask m)
{
    static const uint32_t bit[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(m, vld1q_u32(bit)));
}
/* m ? b : a, lane by lane. */
FI_FORCE_INLINE v32 blend(vmask m, v32 a, v32 b) { return vbslq_u32(m, b, a); }
FI_FORCE_INLINE vmask mask_and(vmask a, vmask b) { return vandq_u32(a, b); }
FI_FORCE_INLINE vmask mask_or(vmask a, vmask b) { return vorrq_u32(a, b); }
FI_FORCE_INLINE vmask mask_andnot(vmask a, vmask b) { return vbicq_u32(a, b); }
/* Lane j set when bit j of b is. */
FI_FORCE_INLINE vmask mask_from_bits(uint32_t b)
{
    static const uint32_t bit[4] = {1, 2, 4, 8};
    return vtstq_u32(vdupq_n_u32(b), vld1q_u32(bit));
}

/* ---- table lookups ---- */
/* t[idx] for a table of 32-bit entries: no gather on NEON, so four lane loads. */
FI_FORCE_INLINE v32 gather_u32(const uint32_t *t, v32 idx)
{
    v32 r = vdupq_n_u32(t[vgetq_lane_u32(idx, 0)]);
    r = vld1q_lane_u32(t + vgetq_lane_u32(idx, 1), r, 1);
    r = vld1q_lane_u32(t + vgetq_lane_u32(idx, 2), r, 2);
    return vld1q_lane_u32(t + vgetq_lane_u32(idx, 3), r, 3);
}

FI_FORCE_INLINE vf32 gather_f32(const float *t, v32 idx)
{
    vf32 r = vdupq_n_f32(t[vgetq_lane_u32(idx, 0)]);
    r = vld1q_lane_f32(t + vgetq_lane_u32(idx, 1), r, 1);
    r = vld1q_lane_f32(t + vgetq_lane_u32(idx, 2), r, 2);
    return vld1q_lane_f32(t + vgetq_lane_u32(idx, 3), r, 3);
}

/* Both halves of t[idx] for a table of 64-bit entries: four 64-bit loads, then unzips. */
FI_FORCE_INLINE void gather_pair_u32(const uint64_t *t, v32 idx, v32 *lo, v32 *hi)
{
    uint64x2_t a = vcombine_u64(vld1_u64(t + vgetq_lane_u32(idx, 0)), vld1_u64(t + vgetq_lane_u32(idx, 1)));
    uint64x2_t b = vcombine_u64(vld1_u64(t + vgetq_lane_u32(idx, 2)), vld1_u64(t + vgetq_lane_u32(idx, 3)));
    *lo = vuzp1q_u32(vreinterpretq_u32_u64(a), vreinterpretq_u32_u64(b));
    *hi = vuzp2q_u32(vreinterpretq_u32_u64(a), vreinterpretq_u32_u64(b));
}

/* The ziggurat layers of four vectors of words: w[j] = t->w32[v[j] & 0xff], k[j] =
 * t->k32[v[j] & 0xff], by lane loads (a TBL on the byte planes would do 16 at a time). */
FI_FORCE_INLINE void zig_lookup4(const fi_zig *t, const v32 v[4], vf32 w[4], v32 k[4])
{
    for (int j = 0; j < 4; j++) {
        const v32 idx = vandq_u32(v[j], vdupq_n_u32(0xff));
        k[j] = gather_u32(t->k32, idx);
        w[j] = gather_f32(t->w32, idx);
    }
}

/* ---- float32 ---- */
FI_FORCE_INLINE vf32 as_f32(v32 v) { return vreinterpretq_f32_u32(v); }
FI_FORCE_INLINE v32 as_u32(vf32 v) { return vreinterpretq_u32_f32(v); }
FI_FORCE_INLINE vf32 set1_f32(float x) { return vdupq_n_f32(x); }
FI_FORCE_INLINE vf32 cvt_i32_f32(v32 v) { return vcvtq_f32_s32(vreinterpretq_s32_u32(v)); }
FI_FORCE_INLINE vf32 add_f32(vf32 a, vf32 b) { return vaddq_f32(a, b); }
FI_FORCE_INLINE vf32 mul_f32(vf32 a, vf32 b) { return vmulq_f32(a, b); }
FI_FORCE_INLINE vf32 sub_f32(vf32 a, vf32 b) { return vsubq_f32(a, b); }
FI_FORCE_INLINE vf32 div_f32(vf32 a, vf32 b) { return vdivq_f32(a, b); }
/* a > b ? a : b and a < b ? a : b, exactly as x86's maxps/minps (vmaxq_f32 would give +0
 * for max(-0, +0) where these give b). */
FI_FORCE_INLINE vf32 max_f32(vf32 a, vf32 b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
FI_FORCE_INLINE vf32 min_f32(vf32 a, vf32 b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
FI_FORCE_INLINE vmask cmplt_f32(vf32 a, vf32 b) { return vcltq_f32(a, b); }
FI_FORCE_INLINE vmask cmple_f32(vf32 a, vf32 b) { return vcleq_f32(a, b); }

/* ---- float64, half the lanes ---- */
FI_FORCE_INLINE vf64 set1_f64(double x) { return vdupq_n_f64(x); }
FI_FORCE_INLINE vf64 cvtlo_f32_f64(vf32 v) { return vcvt_f64_f32(vget_low_f32(v)); }
FI_FORCE_INLINE vf64 cvthi_f32_f64(vf32 v) { return vcvt_high_f64_f32(v); }
FI_FORCE_INLINE vf64 add_f64(vf64 a, vf64 b) { return vaddq_f64(a, b); }
FI_FORCE_INLINE vf64 mul_f64(vf64 a, vf64 b) { return vmulq_f64(a, b); }
FI_FORCE_INLINE vf64 div_f64(vf64 a, vf64 b) { return vdivq_f64(a, b); }
FI_FORCE_INLINE vf64 max_f64(vf64 a, vf64 b) { return vbslq_f64(vcgtq_f64(a, b), a, b); }
FI_FORCE_INLINE vf64 min_f64(vf64 a, vf64 b) { return vbslq_f64(vcltq_f64(a, b), a, b); }
FI_FORCE_INLINE vf32 cvt_f64_f32(vf64 lo, vf64 hi) { return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi); }

/* ---- float64 from half the lanes (half 0: lanes 0..1, 1: lanes 2..3): the ziggurat's
 * wedge test runs in double, as the scalar slow path's ---- */
typedef uint64x2_t v64;
typedef uint64x2_t vmask64;
FI_FORCE_INLINE uint32x2_t half_of(v32 v, int half) { return half ? vget_high_u32(v) : vget_low_u32(v); }
FI_FORCE_INLINE vf64 cvt_i32_f64(v32 v, int half) { return vcvtq_f64_s64(vmovl_s32(vreinterpret_s32_u32(half_of(v, half)))); }
FI_FORCE_INLINE vf64 cvt_u32_f64(v32 v, int half) { return vcvtq_f64_u64(vmovl_u32(half_of(v, half))); }
FI_FORCE_INLINE vf64 gather_f64(const double *t, v32 idx, int half)
{
    uint32x2_t i = half_of(idx, half);
    return vld1q_lane_f64(t + vget_lane_u32(i, 1), vdupq_n_f64(t[vget_lane_u32(i, 0)]), 1);
}
FI_FORCE_INLINE vf64 sub_f64(vf64 a, vf64 b) { return vsubq_f64(a, b); }
FI_FORCE_INLINE vmask64 cmplt_f64(vf64 a, vf64 b) { return vcltq_f64(a, b); }
FI_FORCE_INLINE uint32_t mask64_bits(vmask64 m)
{
    static const uint64_t bit[2] = {1, 2};
    return (uint32_t)vaddvq_u64(vandq_u64(m, vld1q_u64(bit)));
}
FI_FORCE_INLINE vmask64 cmple_f64(vf64 a, vf64 b) { return vcleq_f64(a, b); }
FI_FORCE_INLINE vmask64 mask64_and(vmask64 a, vmask64 b) { return vandq_u64(a, b); }
FI_FORCE_INLINE vmask64 mask64_or(vmask64 a, vmask64 b) { return vorrq_u64(a, b); }
FI_FORCE_INLINE vmask64 mask64_andnot(vmask64 a, vmask64 b) { return vbicq_u64(a, b); }
FI_FORCE_INLINE vf64 blend_f64(vmask64 m, vf64 a, vf64 b) { return vbslq_f64(m, b, a); }
FI_FORCE_INLINE v64 as_u64(vf64 v) { return vreinterpretq_u64_f64(v); }
FI_FORCE_INLINE vf64 as_f64(v64 v) { return vreinterpretq_f64_u64(v); }
FI_FORCE_INLINE v64 add_u64(v64 a, v64 b) { return vaddq_u64(a, b); }
FI_FORCE_INLINE v64 sub_u64(v64 a, v64 b) { return vsubq_u64(a, b); }
FI_FORCE_INLINE v64 shl_u64(v64 a, int n) { return vshlq_u64(a, vdupq_n_s64(n)); }

/* ---- 64-bit lanes from pairs of 32-bit lanes: the float64 fills ---- */
FI_FORCE_INLINE v64 set1_u64(uint64_t x) { return vdupq_n_u64(x); }
FI_FORCE_INLINE v64 and_u64(v64 a, v64 b) { return vandq_u64(a, b); }
FI_FORCE_INLINE v64 or_u64(v64 a, v64 b) { return vorrq_u64(a, b); }
FI_FORCE_INLINE v64 shr_u64(v64 a, int n) { return vshlq_u64(a, vdupq_n_s64(-n)); }
FI_FORCE_INLINE vmask64 cmplt_u64(v64 a, v64 b) { return vcltq_u64(a, b); }
/* Exact below 2**53; the op promises it below 2**52. */
FI_FORCE_INLINE vf64 cvt_u52_f64(v64 v) { return vcvtq_f64_u64(v); }
FI_FORCE_INLINE vf64 cvt_u53_f64(v64 v) { return vcvtq_f64_u64(v); }
FI_FORCE_INLINE vf64 gather64_f64(const double *t, v64 idx)
{
    return vld1q_lane_f64(t + vgetq_lane_u64(idx, 1), vdupq_n_f64(t[vgetq_lane_u64(idx, 0)]), 1);
}
FI_FORCE_INLINE v64 gather64_u64(const uint64_t *t, v64 idx)
{
    return vld1q_lane_u64(t + vgetq_lane_u64(idx, 1), vdupq_n_u64(t[vgetq_lane_u64(idx, 0)]), 1);
}
/* Pairs of 32-bit lanes as 64-bit ones, in the natural order: zips. */
FI_FORCE_INLINE void pair_u32(v32 lo, v32 hi, v64 *a, v64 *b)
{
    *a = vreinterpretq_u64_u32(vzip1q_u32(lo, hi));
    *b = vreinterpretq_u64_u32(vzip2q_u32(lo, hi));
}
FI_FORCE_INLINE void st_pair_f64(double *p, vf64 a, vf64 b) { vst1q_f64(p, a); vst1q_f64(p + 2, b); }
FI_FORCE_INLINE uint32_t pair_mask_bits(vmask64 a, vmask64 b) { return mask64_bits(a) | mask64_bits(b) << 2; }

/* ---- stores of the output dtypes ---- */
FI_FORCE_INLINE void st_f32(float *p, vf32 x) { vst1q_f32(p, x); }
/* bfloat16 rounded to nearest even by the integer route of fi_f32_to_bf16. */
FI_FORCE_INLINE void st_bf16(uint16_t *p, vf32 x)
{
    uint32x4_t u = vreinterpretq_u32_f32(x);
    u = vaddq_u32(u, vaddq_u32(vdupq_n_u32(0x7fff), vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1))));
    vst1_u16(p, vshrn_n_u32(u, 16));
}
/* float16 by the hardware conversion: round to nearest even (the FPCR default), subnormals
 * kept (FZ16 off), as fi_f32_to_f16. */
FI_FORCE_INLINE void st_f16(uint16_t *p, vf32 x)
{
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(x)));
}
/* One byte per lane: 1 where m is set, else 0. */
FI_FORCE_INLINE void st_mask_u8(uint8_t *p, vmask m)
{
    uint16x4_t h = vmovn_u32(vandq_u32(m, vdupq_n_u32(1)));
    uint8x8_t b = vmovn_u16(vcombine_u16(h, h));
    uint32_t x = vget_lane_u32(vreinterpret_u32_u8(b), 0);
    memcpy(p, &x, 4);
}
/* One 16-, 32- or 64-bit element per lane: one where m is set, else 0 (a mask lane is all
 * ones or zeros, so narrowing it, or widening it with its sign, keeps it so). */
FI_FORCE_INLINE void st_mask_u16(uint16_t *p, vmask m, uint16_t one)
{
    vst1_u16(p, vand_u16(vmovn_u32(m), vdup_n_u16(one)));
}
FI_FORCE_INLINE void st_mask_u32(uint32_t *p, vmask m, uint32_t one)
{
    vst1q_u32(p, vandq_u32(m, vdupq_n_u32(one)));
}
FI_FORCE_INLINE void st_mask_u64(uint64_t *p, vmask m, uint64_t one)
{
    const uint64x2_t c = vdupq_n_u64(one);
    int32x4_t s = vreinterpretq_s32_u32(m);
    vst1q_u64(p, vandq_u64(vreinterpretq_u64_s64(vmovl_s32(vget_low_s32(s))), c));
    vst1q_u64(p + 2, vandq_u64(vreinterpretq_u64_s64(vmovl_high_s32(s)), c));
}

/* ---- compress-store of lane indices ---- */
/* Appends base + j for every lane j set in m to list[n..] and returns the new n; writes 4
 * entries from n, so the list keeps 4 spare (simd/compress.h: branch-free). */
FI_FORCE_INLINE size_t compress_store_idx(uint16_t *list, size_t n, uint32_t base, vmask m)
{
    return fi_compress4(list, n, base, mask_bits(m));
}

/* compress_store_idx of four vectors whose lanes are values base .. base + 15, in order. */
FI_FORCE_INLINE size_t compress_store_idx4(uint16_t *list, size_t n, uint32_t base, const vmask m[4])
{
    for (int j = 0; j < 4; j++) n = compress_store_idx(list, n, base + FI_V_LANES * (uint32_t)j, m[j]);
    return n;
}

#endif
