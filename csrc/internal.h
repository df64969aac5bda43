/* internal.h -- shared between the engine and the per-ISA kernel files; not part of the API. */
#ifndef FASTINIT_INTERNAL_H
#define FASTINIT_INTERNAL_H

#include <math.h>
#include <string.h>
#include "fastinit.h"
#include "params.h"

#include "portable.h"
#define FI_BATCH_GROUPS 32          /* groups generated per batch: 8 KiB of words, stays in L1 */

/* stream: write dst with non-temporal stores where the target has them (fills.c says when). */
typedef void (*fi_contig_fn)(int dist, int dtype, const fi_stream *s, const fi_params *p,
                             void *dst, uint64_t start, size_t n, int stream);

void fi_fill_contig_scalar(int, int, const fi_stream *, const fi_params *, void *, uint64_t, size_t, int);
/* Where the path has streaming stores: nbytes at dst, a line repeated (kernels.inc.h). */
typedef void (*fi_stream_fill_fn)(void *dst, const void *line, size_t line_bytes, size_t nbytes);

#ifdef FI_X86
int fi_cpu_has_bf16(void);      /* AVX512_BF16 */
void fi_stream_fill_avx2(void *, const void *, size_t, size_t);
void fi_stream_fill_avx512(void *, const void *, size_t, size_t);
void fi_fill_contig_avx2(int, int, const fi_stream *, const fi_params *, void *, uint64_t, size_t, int);
void fi_fill_contig_avx2_mulld(int, int, const fi_stream *, const fi_params *, void *, uint64_t, size_t, int);
void fi_fill_contig_avx512(int, int, const fi_stream *, const fi_params *, void *, uint64_t, size_t, int);
void fi_fill_contig_avx512vbmi(int, int, const fi_stream *, const fi_params *, void *, uint64_t, size_t, int);
#endif
#ifdef FI_ARM64
void fi_fill_contig_neon(int, int, const fi_stream *, const fi_params *, void *, uint64_t, size_t, int);
#endif

#include "ziggurat_tables.h"

/* The truncated normal's proposal, fi_params.method (truncnorm.c chooses it):
 *   FI_TN_NORMAL: z, a signed draw of the ziggurat fi_tn_zig(p) (the interval holds 0);
 *   FI_TN_FOLDED: z = offset + |d|, d a draw of fi_tn_zig(p) folded onto one side: the
 *     half-normal where that is the whole normal's ziggurat (offset 0), else the normal past
 *     alpha0, from the ziggurat built from alpha0 = offset on;
 *   FI_TN_UNIFORM, FI_TN_EXP: z uniform on [alpha, beta], or alpha plus an exponential
 *     (Robert's), from two uniforms, accepted by fi_below_exp;
 *   FI_TN_POINT: no proposal; the law is a point mass at a bound to double precision (std
 *     far below the resolution of the bounds);
 *   FI_TN_FAR: no proposal; a tail so far out (alpha > 2**64) that the excess over the
 *     bound, t = z - alpha, is exponential with rate alpha to double precision; x is then
 *     made as bound + std*t, which keeps t.
 * The values are fixed: the kernels test method <= FI_TN_FOLDED for the ziggurat's two. */
enum fi_truncnorm_method { FI_TN_NORMAL = 0, FI_TN_FOLDED = 1, FI_TN_UNIFORM = 2, FI_TN_EXP = 3,
                           FI_TN_POINT = 4, FI_TN_FAR = 5 };

/* Whether a truncated normal takes one word per value: the normal and folded proposals in
 * float16, bfloat16 and float32 (truncnorm.c). */
int fi_truncnorm_one_word(int dtype, const fi_params *p);

/* The ziggurat a truncated normal's normal and folded proposals draw from. */
static inline const fi_zig *fi_tn_zig(const fi_params *p)
{
    return p->ztrunc ? &p->zig : &fi_zig_normal;
}

/* The ziggurat's rare slow path (wedges, tail, redraws), shared by every SIMD path so that
 * all of them give the same bits. word/words: the value's first (rejected) candidate.
 * retry1, if not NULL, is the value's first retry block, computed ahead by a vector unit. */
float fi_normal_slow_f32(uint32_t word, const fi_stream *s, uint64_t index, const uint32_t *retry1);
double fi_normal_slow_f64(uint64_t words, const fi_stream *s, uint64_t index, const uint32_t *retry1);
/* A truncated normal value, from its two main-stream words and its own retry blocks;
 * already clamped to the representable [lo, hi], still in double. */
double fi_truncnorm_value(uint32_t w_lo, uint32_t w_hi, const fi_stream *s, uint64_t index,
                          const fi_params *p);
/* x = mean + std*z (z negated when mirrored), clamped to the representable [lo, hi]: the
 * last step of every truncated-normal sampler. */
static inline double fi_truncnorm_x(const fi_params *p, double z)
{
    if (p->mirror) z = -z;
    double x = p->a + p->b * z;
    x = x < p->lo ? p->lo : x;
    x = x > p->hi ? p->hi : x;
    return x;
}
/* The standardized value from one main-stream word (fi_truncnorm_one_word), mirrored. */
float fi_truncnorm_z32(uint32_t word, const fi_stream *s, uint64_t index, const fi_params *p);

static inline uint32_t fi_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fi_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline uint64_t fi_f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fi_bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* Exact conversion of an integer below 2**52 to double, in a form every vector unit has. */
static inline double fi_u52_to_f64(uint64_t v)
{
    return fi_bits_f64(v | 0x4330000000000000ull) - 0x1p52;
}

/* float -> bfloat16, round to nearest even (inputs are never NaN here). */
static inline uint16_t fi_f32_to_bf16(float x)
{
    uint32_t u = fi_f32_bits(x);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* float -> float16, round to nearest even, subnormals and overflow as IEEE 754 says;
 * the same bits as the F16C instruction (NaN aside, which never occurs here). */
static inline uint16_t fi_f32_to_f16(float x)
{
    uint32_t u = fi_f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u >= 0x477ff000u)                   /* rounds to infinity (or is inf/NaN) */
        return sign | (u > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (u < 0x38800000u) {                  /* below 2**-14: a float16 subnormal or zero */
        /* Adding 0.5 puts the float16 subnormal grid (2**-24) on float's last bit,
         * so the hardware addition does the round-to-nearest-even. */
        float t = fi_bits_f32(u) + 0.5f;
        return sign | (uint16_t)(fi_f32_bits(t) - 0x3f000000u);
    }
    u += 0xc8000fffu + ((u >> 13) & 1u);    /* rebias the exponent by -112 and round */
    return sign | (uint16_t)(u >> 13);
}

static inline float fi_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0)
        return fi_bits_f32(sign) + (sign ? -1.0f : 1.0f) * (float)m * 0x1p-24f;
    if (e == 31)
        return fi_bits_f32(sign | 0x7f800000u | (m << 13));
    return fi_bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static inline float fi_bf16_to_f32(uint16_t h) { return fi_bits_f32((uint32_t)h << 16); }

/* double -> float rounded to odd: exact results stay, inexact ones get their last bit set.
 * Rounding that to nearest in a format at least 2 bits narrower (bfloat16, float16) is then
 * the correct rounding of the double: one rounding, not two. */
static inline float fi_f64_to_f32_odd(double x)
{
    float f = (float)x;
    if ((double)f == x || f != f) return f;
    if (fabs((double)f) > fabs(x)) f = nextafterf(f, 0.0f);     /* truncate toward zero */
    return fi_bits_f32(fi_f32_bits(f) | 1u);
}

/* Store double x as dtype, rounded to nearest once. */
static inline void fi_store_f64_as(int dtype, void *out, size_t i, double x)
{
    switch (dtype) {
    case FI_F64: ((double *)out)[i] = x; break;
    case FI_F32: ((float *)out)[i] = (float)x; break;
    case FI_BF16: ((uint16_t *)out)[i] = fi_f32_to_bf16(fi_f64_to_f32_odd(x)); break;
    default: ((uint16_t *)out)[i] = fi_f32_to_f16(fi_f64_to_f32_odd(x)); break;
    }
}

/* The affine step of the 16/32-bit fills, x = (a + b*v)*m. For float32 it runs in double
 * and rounds once, so a bound or loc that is not a float32 keeps its precision; for float16
 * and bfloat16 it runs in float, whose grid is 2**13 times finer than theirs. */
static inline float fi_affine32(int dtype, const fi_params *p, float v)
{
    if (dtype == FI_F32) return (float)((p->a + p->b * (double)v) * p->m);
    return ((float)p->a + (float)p->b * v) * (float)p->m;
}

/* A one-word truncated normal's value from its z: the affine step of normal() for the
 * dtype, clamped to the representable [lo, hi] (values of the dtype, so clamping before
 * the final rounding to bfloat16 or float16 is the same as after it). */
static inline float fi_truncnorm_x32(int dtype, const fi_params *p, float z)
{
    float x = fi_affine32(dtype, p, z), lo = (float)p->lo, hi = (float)p->hi;
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    return x;
}

static inline void fi_store_f32_as(int dtype, void *out, size_t i, float x)
{
    if (dtype == FI_F32) ((float *)out)[i] = x;
    else if (dtype == FI_BF16) ((uint16_t *)out)[i] = fi_f32_to_bf16(x);
    else ((uint16_t *)out)[i] = fi_f32_to_f16(x);
}

/* When a = 0, m = 1 and b is a power of two, b*v and 0 + b*v are exact in float as in
 * double: float arithmetic then gives float32's bits, and is faster. b >= 2**-96 keeps b*v
 * clear of float's subnormals (|v| >= 2**-26 when not 0), where a product could round to
 * a zero whose sign the double route would keep. */
static inline int fi_affine32_exact(const fi_params *p)
{
    return p->a == 0 && p->m == 1.0 && p->b >= 0x1p-96
           && (fi_f64_bits(p->b) & 0x000fffffffffffffull) == 0;
}

/* exp(v) for v in [-700, 0], within about 2 ulps, from adds and multiplies alone, so that a
 * vector unit computes the very same bits (simd/vmath.inc.h's exp_f64 mirrors it lane by lane). The
 * ziggurat's wedge test uses it; libm's exp may differ between machines and vector units.
 * Cody-Waite reduction v = n ln2 + r with fdlibm's split of ln2 (n*FI_LN2_HI is exact),
 * then Taylor to degree 12 on |r| <= 0.35. */
#define FI_LOG2E 0x1.71547652b82fep+0
#define FI_LN2_HI 0x1.62e42fee00000p-1
#define FI_LN2_LO 0x1.a39ef35793c76p-33
#define FI_ROUNDER 0x1.8p52             /* t + FI_ROUNDER - FI_ROUNDER rounds t to an integer */
static const double fi_exp_taylor[13] = {
    0x1.0000000000000p+0, 0x1.0000000000000p+0, 0x1.0000000000000p-1, 0x1.5555555555555p-3,
    0x1.5555555555555p-5, 0x1.1111111111111p-7, 0x1.6c16c16c16c17p-10, 0x1.a01a01a01a01ap-13,
    0x1.a01a01a01a01ap-16, 0x1.71de3a556c734p-19, 0x1.27e4fb7789f5cp-22, 0x1.ae64567f544e4p-26,
    0x1.1eed8eff8d898p-29,
};

static inline double fi_exp(double v)
{
    double k = v * FI_LOG2E + FI_ROUNDER;
    double n = k - FI_ROUNDER;
    double r = (v - n * FI_LN2_HI) - n * FI_LN2_LO;
    double p = fi_exp_taylor[12];
    for (int i = 11; i >= 0; i--)
        p = p * r + fi_exp_taylor[i];
    return fi_bits_f64(fi_f64_bits(p) + ((fi_f64_bits(k) - fi_f64_bits(FI_ROUNDER)) << 52));
}

/* u < exp(f) for f <= 0, the acceptance test of the uniform and exponential proposals.
 * 1 + f <= exp(f) <= 1 + f + f*f/2 decides almost every u without the exponential, which
 * a vector unit then skips when all its lanes are decided. Every path takes the same
 * steps, so the decisions, rounding included, are the same everywhere. */
static inline int fi_below_exp(double u, double f)
{
    double lower = 1.0 + f;
    if (u < lower) return 1;
    if (u >= lower + 0.5 * f * f) return 0;
    return u < fi_exp(f);
}

/* log(x) for normal x > 0, within about 2 ulps, from adds, multiplies and one division,
 * like fi_exp and for the same reason (simd/vmath.inc.h's log_f64 mirrors it). x = 2**e * m with m in
 * [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172, by its series
 * to s**19. */
static const double fi_log_series[10] = {
    0x1.0000000000000p+0, 0x1.5555555555555p-2, 0x1.999999999999ap-3, 0x1.2492492492492p-3,
    0x1.c71c71c71c71cp-4, 0x1.745d1745d1746p-4, 0x1.3b13b13b13b14p-4, 0x1.1111111111111p-4,
    0x1.e1e1e1e1e1e1ep-5, 0x1.af286bca1af28p-5,
};
#define FI_SQRT2 0x1.6a09e667f3bcdp+0

static inline double fi_log(double x)
{
    uint64_t b = fi_f64_bits(x);
    double e = (double)((int64_t)(b >> 52) - 1023);
    double m = fi_bits_f64((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    if (m > FI_SQRT2) {
        m = m * 0.5;
        e = e + 1.0;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double q = fi_log_series[9];
    for (int i = 8; i >= 0; i--)
        q = q * s2 + fi_log_series[i];
    return e * FI_LN2_HI + ((s + s) * q + e * FI_LN2_LO);
}

/* log(x) in float for normal x > 0, within a few ulps, the same way as fi_log (series to
 * s**9): the exponential proposal's log for float16, bfloat16 and float32 values, whose
 * grid is far coarser than its error. simd/vmath.inc.h's logf_f32 mirrors it. */
static const float fi_logf_series[5] = {0x1p+0f, 0x1.555556p-2f, 0x1.99999ap-3f, 0x1.24924ap-3f,
                                        0x1.c71c72p-4f};
#define FI_SQRT2F 0x1.6a09e6p+0f
#define FI_LN2_HIF 0x1.62e4p-1f         /* e * FI_LN2_HIF is exact for |e| < 256 */
#define FI_LN2_LOF 0x1.7f7d1cp-20f

static inline float fi_logf(float x)
{
    uint32_t b = fi_f32_bits(x);
    float e = (float)((int32_t)(b >> 23) - 127);
    float m = fi_bits_f32((b & 0x007fffffu) | 0x3f800000u);
    if (m > FI_SQRT2F) {
        m = m * 0.5f;
        e = e + 1.0f;
    }
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float q = fi_logf_series[4];
    for (int i = 3; i >= 0; i--)
        q = q * s2 + fi_logf_series[i];
    return e * FI_LN2_HIF + ((s + s) * q + e * FI_LN2_LOF);
}

#endif
