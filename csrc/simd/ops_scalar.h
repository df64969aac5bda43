/*
 * simd/ops_scalar.h -- the SIMD op set in plain C: 4 lanes as arrays, each op a loop.
 *
 * The reference for the op semantics the other headers (ops_avx2.h, ops_neon.h) implement:
 * what each op does to each lane, with no ISA in the way. No kernel file uses it; the test
 * build compiles the generic algorithm files over it (tests/c/simd_ref.c), so that they are
 * checked against the scalar path on any machine, and a new target has a model to follow.
 */
#ifndef FI_SIMD_OPS_H
#define FI_SIMD_OPS_H

#include "compress.h"

#define FI_V_LANES 4
#define FI_L for (int j = 0; j < FI_V_LANES; j++)

typedef struct { uint32_t l[FI_V_LANES]; } v32;
typedef struct { float l[FI_V_LANES]; } vf32;
typedef struct { double l[FI_V_LANES / 2]; } vf64;
typedef struct { uint64_t l[FI_V_LANES / 2]; } v64;
typedef v32 vmask;          /* a lane is all ones or all zeros */
typedef v64 vmask64;

/* ---- loads, stores, constants ---- */
FI_FORCE_INLINE v32 ld(const uint32_t *p) { v32 r; FI_L r.l[j] = p[j]; return r; }
FI_FORCE_INLINE v32 ld_u16(const uint16_t *p) { v32 r; FI_L r.l[j] = p[j]; return r; }
FI_FORCE_INLINE void st(uint32_t *p, v32 v) { FI_L p[j] = v.l[j]; }
FI_FORCE_INLINE v32 set1(uint32_t x) { v32 r; FI_L r.l[j] = x; return r; }
FI_FORCE_INLINE v32 iota(void) { v32 r; FI_L r.l[j] = (uint32_t)j; return r; }

/* ---- integer arithmetic and logic ---- */
FI_FORCE_INLINE v32 add(v32 a, v32 b) { FI_L a.l[j] += b.l[j]; return a; }
FI_FORCE_INLINE v32 xor_(v32 a, v32 b) { FI_L a.l[j] ^= b.l[j]; return a; }
FI_FORCE_INLINE v32 and_(v32 a, v32 b) { FI_L a.l[j] &= b.l[j]; return a; }
FI_FORCE_INLINE v32 or_(v32 a, v32 b) { FI_L a.l[j] |= b.l[j]; return a; }
FI_FORCE_INLINE v32 shr(v32 a, int n) { FI_L a.l[j] >>= n; return a; }
FI_FORCE_INLINE v32 shl(v32 a, int n) { FI_L a.l[j] <<= n; return a; }
FI_FORCE_INLINE v32 xor3(v32 a, v32 b, v32 c) { FI_L a.l[j] ^= b.l[j] ^ c.l[j]; return a; }
FI_FORCE_INLINE v32 or_and(v32 a, v32 b, v32 c) { FI_L a.l[j] |= b.l[j] & c.l[j]; return a; }
/* hi and lo halves of the 64-bit products of every lane with M's. */
FI_FORCE_INLINE void mulhilo(v32 a, v32 M, v32 *hi, v32 *lo)
{
    FI_L {
        uint64_t p = (uint64_t)a.l[j] * M.l[j];
        hi->l[j] = (uint32_t)(p >> 32);
        lo->l[j] = (uint32_t)p;
    }
}

/* ---- Philox's round layout (simd/philox.inc.h) ----
 * Where a target's multiplier gives whole 64-bit products of the even lanes (AVX-512's
 * vpmuludq), the rounds run on FI_R_LANES = FI_V_LANES / 2 blocks per vector: block j in lane
 * 2j, its odd neighbour don't-care (no op carries an odd lane into an even one). Targets
 * whose rounds use their lanes as they are define FI_R_LANES = FI_V_LANES and these as
 * identities (ops_avx2.h). The reference takes the wide layout, so that the generic files'
 * handling of it is checked on every machine. */
#define FI_R_LANES (FI_V_LANES / 2)
/* Block offsets 0..FI_R_LANES-1 in the round layout. */
FI_FORCE_INLINE v32 r_iota(void) { v32 r; FI_L r.l[j] = j & 1 ? 0 : (uint32_t)j / 2; return r; }
/* The 64-bit products of the even lanes with M's: lo in the even lane (the odd one takes the
 * high half, as vpmuludq leaves it), hi in the even lane (the odd one 0). */
FI_FORCE_INLINE void mulhilo_r(v32 a, v32 M, v32 *hi, v32 *lo)
{
    for (int j = 0; j < FI_V_LANES; j += 2) {
        uint64_t p = (uint64_t)a.l[j] * M.l[j];
        lo->l[j] = (uint32_t)p, lo->l[j + 1] = (uint32_t)(p >> 32);
        hi->l[j] = (uint32_t)(p >> 32), hi->l[j + 1] = 0;
    }
}
/* Lanes FI_R_LANES*part.. of v in the round layout (zero-extended). */
FI_FORCE_INLINE v32 to_rounds(v32 v, int part)
{
    v32 r;
    FI_L r.l[j] = j & 1 ? 0 : v.l[FI_R_LANES * part + j / 2];
    return r;
}
/* The blocks of two round vectors r[0], r[1] as one v32: their even lanes. */
FI_FORCE_INLINE v32 from_rounds(const v32 *r)
{
    v32 v;
    FI_L v.l[j] = r[j / FI_R_LANES].l[2 * (j % FI_R_LANES)];
    return v;
}

/* ---- compares and masks ---- */
FI_FORCE_INLINE vmask cmpge_u32(v32 a, v32 b) { vmask m; FI_L m.l[j] = a.l[j] >= b.l[j] ? ~0u : 0; return m; }
FI_FORCE_INLINE vmask cmplt_u32(v32 a, v32 b) { vmask m; FI_L m.l[j] = a.l[j] < b.l[j] ? ~0u : 0; return m; }
FI_FORCE_INLINE vmask mask_none(void) { return set1(0); }
FI_FORCE_INLINE vmask mask_all(void) { return set1(~0u); }
/* Bit j set when lane j is. */
FI_FORCE_INLINE uint32_t mask_bits(vmask m) { uint32_t b = 0; FI_L b |= (m.l[j] >> 31) << j; return b; }
/* m ? b : a, lane by lane. */
FI_FORCE_INLINE v32 blend(vmask m, v32 a, v32 b) { FI_L a.l[j] = m.l[j] ? b.l[j] : a.l[j]; return a; }
/* Masks combined lane by lane (a target whose masks are bits, AVX-512, uses bit operations). */
FI_FORCE_INLINE vmask mask_and(vmask a, vmask b) { FI_L a.l[j] &= b.l[j]; return a; }
FI_FORCE_INLINE vmask mask_or(vmask a, vmask b) { FI_L a.l[j] |= b.l[j]; return a; }
FI_FORCE_INLINE vmask mask_andnot(vmask a, vmask b) { FI_L a.l[j] &= ~b.l[j]; return a; }
/* The mask whose lane j is set when bit j of b is: mask_bits's inverse. */
FI_FORCE_INLINE vmask mask_from_bits(uint32_t b) { vmask m; FI_L m.l[j] = (b >> j & 1u) ? ~0u : 0; return m; }

/* ---- table lookups ---- */
FI_FORCE_INLINE v32 gather_u32(const uint32_t *t, v32 idx) { v32 r; FI_L r.l[j] = t[idx.l[j]]; return r; }
FI_FORCE_INLINE vf32 gather_f32(const float *t, v32 idx) { vf32 r; FI_L r.l[j] = t[idx.l[j]]; return r; }
/* lo and hi halves of t[idx] for a table of 64-bit entries. */
FI_FORCE_INLINE void gather_pair_u32(const uint64_t *t, v32 idx, v32 *lo, v32 *hi)
{
    FI_L {
        lo->l[j] = (uint32_t)t[idx.l[j]];
        hi->l[j] = (uint32_t)(t[idx.l[j]] >> 32);
    }
}

/* The ziggurat layers of four vectors of words: w[j] = t->w32[v[j] & 0xff], k[j] =
 * t->k32[v[j] & 0xff] (AVX-512 with VBMI does a group's 64 by byte shuffles). */
FI_FORCE_INLINE void zig_lookup4(const fi_zig *t, const v32 v[4], vf32 w[4], v32 k[4])
{
    for (int q = 0; q < 4; q++)
        FI_L {
            k[q].l[j] = t->k32[v[q].l[j] & 0xffu];
            w[q].l[j] = t->w32[v[q].l[j] & 0xffu];
        }
}

/* ---- float32 ---- */
FI_FORCE_INLINE vf32 as_f32(v32 v) { vf32 r; memcpy(&r, &v, sizeof r); return r; }
FI_FORCE_INLINE v32 as_u32(vf32 v) { v32 r; memcpy(&r, &v, sizeof r); return r; }
FI_FORCE_INLINE vf32 set1_f32(float x) { vf32 r; FI_L r.l[j] = x; return r; }
FI_FORCE_INLINE vf32 cvt_i32_f32(v32 v) { vf32 r; FI_L r.l[j] = (float)(int32_t)v.l[j]; return r; }
FI_FORCE_INLINE vf32 add_f32(vf32 a, vf32 b) { FI_L a.l[j] = a.l[j] + b.l[j]; return a; }
FI_FORCE_INLINE vf32 mul_f32(vf32 a, vf32 b) { FI_L a.l[j] = a.l[j] * b.l[j]; return a; }
FI_FORCE_INLINE vf32 sub_f32(vf32 a, vf32 b) { FI_L a.l[j] = a.l[j] - b.l[j]; return a; }
/* Rounded as IEEE 754 says, like add and multiply (fi_logf's one division). */
FI_FORCE_INLINE vf32 div_f32(vf32 a, vf32 b) { FI_L a.l[j] = a.l[j] / b.l[j]; return a; }
/* a > b ? a : b and a < b ? a : b, exactly (x86's maxps/minps). */
FI_FORCE_INLINE vf32 max_f32(vf32 a, vf32 b) { FI_L a.l[j] = a.l[j] > b.l[j] ? a.l[j] : b.l[j]; return a; }
FI_FORCE_INLINE vf32 min_f32(vf32 a, vf32 b) { FI_L a.l[j] = a.l[j] < b.l[j] ? a.l[j] : b.l[j]; return a; }
/* Ordered compares (no NaN occurs where they are used). */
FI_FORCE_INLINE vmask cmplt_f32(vf32 a, vf32 b) { vmask m; FI_L m.l[j] = a.l[j] < b.l[j] ? ~0u : 0; return m; }
FI_FORCE_INLINE vmask cmple_f32(vf32 a, vf32 b) { vmask m; FI_L m.l[j] = a.l[j] <= b.l[j] ? ~0u : 0; return m; }

/* ---- float64, half the lanes (half 0: lanes 0..1, 1: lanes 2..3) ---- */
enum { FI_H = FI_V_LANES / 2 };
FI_FORCE_INLINE vf64 set1_f64(double x) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = x; return r; }
FI_FORCE_INLINE vf64 cvtlo_f32_f64(vf32 v) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = v.l[j]; return r; }
FI_FORCE_INLINE vf64 cvthi_f32_f64(vf32 v) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = v.l[FI_H + j]; return r; }
FI_FORCE_INLINE vf64 cvt_i32_f64(v32 v, int half) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = (int32_t)v.l[FI_H * half + j]; return r; }
FI_FORCE_INLINE vf64 cvt_u32_f64(v32 v, int half) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = v.l[FI_H * half + j]; return r; }
FI_FORCE_INLINE vf64 gather_f64(const double *t, v32 idx, int half) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = t[idx.l[FI_H * half + j]]; return r; }
FI_FORCE_INLINE vf64 add_f64(vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = a.l[j] + b.l[j]; return a; }
FI_FORCE_INLINE vf64 sub_f64(vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = a.l[j] - b.l[j]; return a; }
FI_FORCE_INLINE vf64 mul_f64(vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = a.l[j] * b.l[j]; return a; }
FI_FORCE_INLINE vf64 div_f64(vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = a.l[j] / b.l[j]; return a; }
FI_FORCE_INLINE vf64 max_f64(vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = a.l[j] > b.l[j] ? a.l[j] : b.l[j]; return a; }
FI_FORCE_INLINE vf64 min_f64(vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = a.l[j] < b.l[j] ? a.l[j] : b.l[j]; return a; }
FI_FORCE_INLINE vf32 cvt_f64_f32(vf64 lo, vf64 hi)
{
    vf32 r;
    for (int j = 0; j < FI_H; j++) r.l[j] = (float)lo.l[j], r.l[FI_H + j] = (float)hi.l[j];
    return r;
}
FI_FORCE_INLINE vmask64 cmplt_f64(vf64 a, vf64 b) { vmask64 m; for (int j = 0; j < FI_H; j++) m.l[j] = a.l[j] < b.l[j] ? ~0ull : 0; return m; }
FI_FORCE_INLINE uint32_t mask64_bits(vmask64 m) { uint32_t b = 0; for (int j = 0; j < FI_H; j++) b |= (uint32_t)(m.l[j] >> 63) << j; return b; }
/* The two-word truncated normal's masks (simd/truncnorm2.inc.h): the bounds, combined lane
 * by lane (bit operations where masks are bits, AVX-512), and m ? b : a. */
FI_FORCE_INLINE vmask64 cmple_f64(vf64 a, vf64 b) { vmask64 m; for (int j = 0; j < FI_H; j++) m.l[j] = a.l[j] <= b.l[j] ? ~0ull : 0; return m; }
FI_FORCE_INLINE vmask64 mask64_and(vmask64 a, vmask64 b) { for (int j = 0; j < FI_H; j++) a.l[j] &= b.l[j]; return a; }
FI_FORCE_INLINE vmask64 mask64_or(vmask64 a, vmask64 b) { for (int j = 0; j < FI_H; j++) a.l[j] |= b.l[j]; return a; }
FI_FORCE_INLINE vmask64 mask64_andnot(vmask64 a, vmask64 b) { for (int j = 0; j < FI_H; j++) a.l[j] &= ~b.l[j]; return a; }
FI_FORCE_INLINE vf64 blend_f64(vmask64 m, vf64 a, vf64 b) { for (int j = 0; j < FI_H; j++) a.l[j] = m.l[j] ? b.l[j] : a.l[j]; return a; }
FI_FORCE_INLINE v64 as_u64(vf64 v) { v64 r; memcpy(&r, &v, sizeof r); return r; }
FI_FORCE_INLINE vf64 as_f64(v64 v) { vf64 r; memcpy(&r, &v, sizeof r); return r; }
FI_FORCE_INLINE v64 add_u64(v64 a, v64 b) { for (int j = 0; j < FI_H; j++) a.l[j] += b.l[j]; return a; }
FI_FORCE_INLINE v64 sub_u64(v64 a, v64 b) { for (int j = 0; j < FI_H; j++) a.l[j] -= b.l[j]; return a; }
FI_FORCE_INLINE v64 shl_u64(v64 a, int n) { for (int j = 0; j < FI_H; j++) a.l[j] <<= n; return a; }

/* ---- 64-bit lanes from pairs of 32-bit lanes: the float64 fills ---- */
FI_FORCE_INLINE v64 set1_u64(uint64_t x) { v64 r; for (int j = 0; j < FI_H; j++) r.l[j] = x; return r; }
FI_FORCE_INLINE v64 and_u64(v64 a, v64 b) { for (int j = 0; j < FI_H; j++) a.l[j] &= b.l[j]; return a; }
FI_FORCE_INLINE v64 or_u64(v64 a, v64 b) { for (int j = 0; j < FI_H; j++) a.l[j] |= b.l[j]; return a; }
FI_FORCE_INLINE v64 shr_u64(v64 a, int n) { for (int j = 0; j < FI_H; j++) a.l[j] >>= n; return a; }
FI_FORCE_INLINE vmask64 cmplt_u64(v64 a, v64 b) { vmask64 m; for (int j = 0; j < FI_H; j++) m.l[j] = a.l[j] < b.l[j] ? ~0ull : 0; return m; }
/* (double)lane, for lanes below 2**52 (exact). */
FI_FORCE_INLINE vf64 cvt_u52_f64(v64 v) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = (double)v.l[j]; return r; }
/* The same for lanes below 2**53, a 53-bit uniform's (one instruction but on AVX2). */
FI_FORCE_INLINE vf64 cvt_u53_f64(v64 v) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = (double)v.l[j]; return r; }
/* t[idx] with the indices in 64-bit lanes (in range: the caller masks them). */
FI_FORCE_INLINE vf64 gather64_f64(const double *t, v64 idx) { vf64 r; for (int j = 0; j < FI_H; j++) r.l[j] = t[idx.l[j]]; return r; }
FI_FORCE_INLINE v64 gather64_u64(const uint64_t *t, v64 idx) { v64 r; for (int j = 0; j < FI_H; j++) r.l[j] = t[idx.l[j]]; return r; }
/* The lanes j of lo and hi as FI_V_LANES 64-bit values hi[j] << 32 | lo[j], in two vectors a
 * and b, in an order each target picks for speed (its cheapest shuffles). The float64 fills
 * work lane by lane between pair_u32 and the ops that undo its order, st_pair_f64 and
 * pair_mask_bits, so the order never shows. Here the even lanes go to a, the odd to b: not
 * the natural order, on purpose, so that the reference build catches a generic file that
 * depends on it. */
FI_FORCE_INLINE void pair_u32(v32 lo, v32 hi, v64 *a, v64 *b)
{
    for (int j = 0; j < FI_H; j++) {
        a->l[j] = (uint64_t)hi.l[2 * j] << 32 | lo.l[2 * j];
        b->l[j] = (uint64_t)hi.l[2 * j + 1] << 32 | lo.l[2 * j + 1];
    }
}
/* p[j] = the value of lane j, for the order of pair_u32. */
FI_FORCE_INLINE void st_pair_f64(double *p, vf64 a, vf64 b)
{
    for (int j = 0; j < FI_H; j++) p[2 * j] = a.l[j], p[2 * j + 1] = b.l[j];
}
/* Bit j set when lane j is set in a mask of a pair_u32 pair. */
FI_FORCE_INLINE uint32_t pair_mask_bits(vmask64 a, vmask64 b)
{
    uint32_t r = 0;
    for (int j = 0; j < FI_H; j++) r |= (uint32_t)(a.l[j] >> 63) << (2 * j) | (uint32_t)(b.l[j] >> 63) << (2 * j + 1);
    return r;
}

/* ---- stores of the output dtypes ---- */
FI_FORCE_INLINE void st_f32(float *p, vf32 x) { FI_L p[j] = x.l[j]; }
FI_FORCE_INLINE void st_bf16(uint16_t *p, vf32 x) { FI_L p[j] = fi_f32_to_bf16(x.l[j]); }
FI_FORCE_INLINE void st_f16(uint16_t *p, vf32 x) { FI_L p[j] = fi_f32_to_f16(x.l[j]); }
FI_FORCE_INLINE void st_mask_u8(uint8_t *p, vmask m) { FI_L p[j] = (uint8_t)(m.l[j] & 1u); }
/* One 16-, 32- or 64-bit element per lane: one where m is set, else 0 (the 1.0 of a float
 * dtype as its bits). */
FI_FORCE_INLINE void st_mask_u16(uint16_t *p, vmask m, uint16_t one) { FI_L p[j] = m.l[j] ? one : 0; }
FI_FORCE_INLINE void st_mask_u32(uint32_t *p, vmask m, uint32_t one) { FI_L p[j] = m.l[j] ? one : 0; }
FI_FORCE_INLINE void st_mask_u64(uint64_t *p, vmask m, uint64_t one) { FI_L p[j] = m.l[j] ? one : 0; }

/* ---- compress-store of lane indices ---- */
FI_FORCE_INLINE size_t compress_store_idx(uint16_t *list, size_t n, uint32_t base, vmask m)
{
    return fi_compress4(list, n, base, mask_bits(m));
}

/* compress_store_idx of four vectors whose lanes are values base .. base + 4*FI_V_LANES - 1. */
FI_FORCE_INLINE size_t compress_store_idx4(uint16_t *list, size_t n, uint32_t base, const vmask m[4])
{
    for (int j = 0; j < 4; j++) n = compress_store_idx(list, n, base + FI_V_LANES * (uint32_t)j, m[j]);
    return n;
}

#undef FI_L
#endif
