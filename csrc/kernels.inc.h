/*
 * kernels.inc.h -- the fills, written once in plain C and compiled once per instruction set.
 *
 * Included by kernels_scalar.c, kernels_avx2.c, kernels_avx512.c and kernels_neon.c, each of
 * which first defines FI_CONTIG_NAME and philox_groups() for its vector width, and may replace
 * any of produce32, produce64, produce_truncnorm and produce_bernoulli by fused versions of its own
 * (FI_HAVE_PRODUCE32 and so on), which must give the same bits. The loops here are simple
 * enough for the compiler to vectorize, and use only operations that IEEE 754 rounds the same way
 * in any unit (add, multiply, compare, exact conversions; the build turns off FMA
 * contraction), so every path writes the same bits. The rare slow path of the normal
 * sampler is scalar, in slow.c, and shared by all paths.
 */
#include "internal.h"

/* ---- uniform ------------------------------------------------------------------------ */

#ifndef FI_HAVE_PRODUCE32
/* u on the 2**-24 grid, then x = (a + b*u)*m as fi_affine32 computes it, clamped to the
 * representable [lo, hi]. lo and hi are values of the output dtype, so clamping before the
 * final rounding is the same as clamping after it. */
static void uniform32(int dtype, const uint32_t *restrict w, size_t n, float *restrict out,
                      const fi_params *p)
{
    if (dtype == FI_F32) {
        const double a = p->a, b = p->b, m = p->m, lo = p->lo, hi = p->hi;
        for (size_t i = 0; i < n; i++) {
            double u = (double)(int32_t)(w[i] >> 8) * 0x1p-24;
            double x = (a + b * u) * m;
            x = x < lo ? lo : x;
            x = x > hi ? hi : x;
            out[i] = (float)x;
        }
        return;
    }
    const float a = (float)p->a, b = (float)p->b, m = (float)p->m;
    const float lo = (float)p->lo, hi = (float)p->hi;
    for (size_t i = 0; i < n; i++) {
        float u = (float)(int32_t)(w[i] >> 8) * 0x1p-24f;
        float x = (a + b * u) * m;
        x = x < lo ? lo : x;
        x = x > hi ? hi : x;
        out[i] = x;
    }
}

#endif

#ifndef FI_HAVE_PRODUCE64
/* float64: 53 bits, u = hi * 2**-32 + (lo >> 11) * 2**-53, a sum that is exact. */
static void uniform64(const uint32_t *restrict w, size_t ngroups, double *restrict out,
                      const fi_params *p)
{
    const double a = p->a, b = p->b, m = p->m, lo = p->lo, hi = p->hi;
    for (size_t g = 0; g < 2 * ngroups; g++) {         /* half-groups of 16 values */
        const uint32_t *wl = w + 32 * g, *wh = wl + 16;
        double *o = out + 16 * g;
        for (int j = 0; j < 16; j++) {
            double u = fi_u52_to_f64(wh[j]) * 0x1p-32 + fi_u52_to_f64(wl[j] >> 11) * 0x1p-53;
            double x = (a + b * u) * m;
            x = x < lo ? lo : x;
            x = x > hi ? hi : x;
            o[j] = x;
        }
    }
}
#endif

/* ---- normal: 256-layer ziggurat ----------------------------------------------------- */

/* float32 fast path of ziggurat t: 8 bits of layer, 1 of sign, 23 of position. rej[i]
 * marks the draws (1.5% for the normal) that fall outside the layer's inner rectangle. */
static inline FI_MAYBE_UNUSED void ziggurat32(const fi_zig *t, const uint32_t *restrict w,
                                                      size_t n, float *restrict z,
                                                      uint8_t *restrict rej)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t wi = w[i], idx = wi & 0xffu, u = wi >> 9;
        float v = (float)(int32_t)u * t->w32[idx];
        z[i] = fi_bits_f32(fi_f32_bits(v) | ((wi & 0x100u) << 23));
        rej[i] = u >= t->k32[idx];
    }
}

#ifndef FI_HAVE_PRODUCE64
/* float64 fast path of the normal: one 64-bit word per draw, 8 bits of layer, 1 of sign,
 * top 52 of position. */
static void ziggurat64(const uint32_t *restrict w, size_t ngroups, double *restrict z,
                       uint8_t *restrict rej)
{
    for (size_t g = 0; g < 2 * ngroups; g++) {
        const uint32_t *wl = w + 32 * g, *wh = wl + 16;
        for (int j = 0; j < 16; j++) {
            uint64_t r = ((uint64_t)wh[j] << 32) | wl[j];
            uint64_t idx = r & 0xffu, u = r >> 12;
            double v = fi_u52_to_f64(u) * fi_zig_normal.w64[idx];
            z[16 * g + j] = fi_bits_f64(fi_f64_bits(v) | ((r & 0x100u) << 55));
            rej[16 * g + j] = u >= fi_zig_normal.k64[idx];
        }
    }
}

#endif

/* The next i >= i0 with rej[i] set, or n; eight flags at a time, as rejections are rare.
 * n is a multiple of 8. */
static inline FI_MAYBE_UNUSED size_t next_rejected(const uint8_t *rej, size_t i0, size_t n)
{
    size_t i = i0;
    while (i < n && (i & 7)) { if (rej[i]) return i; i++; }
    for (; i < n; i += 8) {
        uint64_t f;
        memcpy(&f, rej + i, 8);
        if (f)
            for (size_t j = i; j < i + 8; j++)
                if (rej[j]) return j;
    }
    return n;
}

#ifndef FI_HAVE_PRODUCE32
static void normal32(int dtype, const uint32_t *restrict w, size_t n, float *restrict out,
                     const fi_stream *s, uint64_t index0, const fi_params *p)
{
    FI_ALIGN64 uint8_t rej[FI_BATCH_GROUPS * 64];
    ziggurat32(&fi_zig_normal, w, n, out, rej);
    for (size_t i = next_rejected(rej, 0, n); i < n; i = next_rejected(rej, i + 1, n))
        out[i] = fi_normal_slow_f32(w[i], s, index0 + i, NULL);
    if (dtype == FI_F32) {
        const double a = p->a, b = p->b;
        for (size_t i = 0; i < n; i++)
            out[i] = (float)(a + b * (double)out[i]);
    } else {
        const float a = (float)p->a, b = (float)p->b;
        for (size_t i = 0; i < n; i++)
            out[i] = a + b * out[i];
    }
}

#endif

#ifndef FI_HAVE_PRODUCE64
static void normal64(const uint32_t *restrict w, size_t ngroups, double *restrict out,
                     const fi_stream *s, uint64_t index0, const fi_params *p)
{
    FI_ALIGN64 uint8_t rej[FI_BATCH_GROUPS * 32];
    size_t n = 32 * ngroups;
    ziggurat64(w, ngroups, out, rej);
    for (size_t i = next_rejected(rej, 0, n); i < n; i = next_rejected(rej, i + 1, n)) {
        size_t g = i / 16, j = i % 16;
        uint64_t r = ((uint64_t)w[32 * g + 16 + j] << 32) | w[32 * g + j];
        out[i] = fi_normal_slow_f64(r, s, index0 + i, NULL);
    }
    const double a = p->a, b = p->b;
    for (size_t i = 0; i < n; i++)
        out[i] = a + b * out[i];
}
#endif

/* ---- narrowing ---------------------------------------------------------------------- */

#ifndef FI_HAVE_PRODUCE32
static void narrow_bf16(const float *restrict x, size_t n, uint16_t *restrict out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fi_f32_to_bf16(x[i]);
}

static void narrow_f16(const float *restrict x, size_t n, uint16_t *restrict out)
{
    size_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; i++)
        out[i] = fi_f32_to_f16(x[i]);
}

/* ---- one batch of whole groups, then the driver ------------------------------------- */

/* float16/bfloat16/float32: ngroups whole groups from group g0, values 64*g0 on. */
static void produce32(int dist, int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                      void *out, const fi_params *p)
{
    FI_ALIGN64 uint32_t w[FI_BATCH_GROUPS * 64];
    FI_ALIGN64 float tmp[FI_BATCH_GROUPS * 64];
    size_t n = 64 * ngroups;
    float *f = dtype == FI_F32 ? (float *)out : tmp;
    philox_groups(s->key, s->counter + 16 * g0, ngroups, w);
    if (dist == FI_UNIFORM) uniform32(dtype, w, n, f, p);
    else normal32(dtype, w, n, f, s, 64 * g0, p);
    if (dtype == FI_BF16) narrow_bf16(tmp, n, (uint16_t *)out);
    else if (dtype == FI_F16) narrow_f16(tmp, n, (uint16_t *)out);
}
#endif

#ifndef FI_HAVE_PRODUCE64
static void produce64(int dist, const fi_stream *s, uint64_t g0, size_t ngroups,
                      double *out, const fi_params *p)
{
    FI_ALIGN64 uint32_t w[FI_BATCH_GROUPS * 64];
    philox_groups(s->key, s->counter + 16 * g0, ngroups, w);
    if (dist == FI_UNIFORM) uniform64(w, ngroups, out, p);
    else normal64(w, ngroups, out, s, 32 * g0, p);
}
#endif

/* ---- truncated normal and Bernoulli: the same everywhere but for the words ----------- */

/* Truncated normal: two words per value, the sampler in truncnorm.c (scalar, shared). A target
 * file may define FI_HAVE_TRUNCNORM and a faster produce_truncnorm that falls back to this
 * one, produce_truncnorm_scalar, for what it does not vectorize. */
#ifdef FI_HAVE_TRUNCNORM
#define produce_truncnorm produce_truncnorm_scalar
#endif
static void produce_truncnorm(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                              void *out, const fi_params *p)
{
    FI_ALIGN64 uint32_t w[FI_BATCH_GROUPS * 64];
    philox_groups(s->key, s->counter + 16 * g0, ngroups, w);
    if (fi_truncnorm_one_word(dtype, p)) {
        /* The ziggurat's fast path for all (vectorized), then each value whose first draw
         * was not settled by it and the bounds on the sampler. */
        FI_ALIGN64 float z[FI_BATCH_GROUPS * 64];
        FI_ALIGN64 uint8_t rej[FI_BATCH_GROUPS * 64];
        const size_t n = 64 * ngroups;
        const int half = p->method == FI_TN_FOLDED;
        const float offset = fi_tn_zig(p)->offset;
        ziggurat32(fi_tn_zig(p), w, n, z, rej);
        for (size_t i = 0; i < n; i++) {
            float zi = half ? fabsf(z[i]) + offset : z[i];
            if (!rej[i] && (double)zi >= p->alpha && (double)zi <= p->beta && p->max_attempts > 0)
                zi = p->mirror ? -zi : zi;
            else
                zi = fi_truncnorm_z32(w[i], s, 64 * g0 + i, p);
            fi_store_f32_as(dtype, out, i, fi_truncnorm_x32(dtype, p, zi));
        }
        return;
    }
    for (size_t g = 0; g < 2 * ngroups; g++)           /* half-groups of 16 values */
        for (size_t j = 0; j < 16; j++) {
            size_t i = 16 * g + j;
            double x = fi_truncnorm_value(w[32 * g + j], w[32 * g + 16 + j], s, 32 * g0 + i, p);
            fi_store_f64_as(dtype, out, i, x);
        }
}

#ifdef FI_HAVE_TRUNCNORM
#undef produce_truncnorm
#endif

/* Bernoulli: one word per value against the threshold, written as 1 or 0 of the dtype. A
 * target file may define FI_HAVE_BERNOULLI and its own produce_bernoulli, as for the
 * truncated normal. */
#ifdef FI_HAVE_BERNOULLI
#define produce_bernoulli produce_bernoulli_scalar
#endif
/* (Unused where the target's own covers every dtype, as simd/bernoulli.inc.h's does.) */
static FI_MAYBE_UNUSED void produce_bernoulli(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                              void *out, const fi_params *p)
{
    FI_ALIGN64 uint32_t w[FI_BATCH_GROUPS * 64];
    const uint64_t t = p->thresh;
    const size_t n = 64 * ngroups;
    philox_groups(s->key, s->counter + 16 * g0, ngroups, w);
    switch (dtype) {
    case FI_U8: { uint8_t *o = out; for (size_t i = 0; i < n; i++) o[i] = (uint64_t)w[i] < t; } break;
    case FI_F16: { uint16_t *o = out; for (size_t i = 0; i < n; i++) o[i] = (uint64_t)w[i] < t ? 0x3c00 : 0; } break;
    case FI_BF16: { uint16_t *o = out; for (size_t i = 0; i < n; i++) o[i] = (uint64_t)w[i] < t ? 0x3f80 : 0; } break;
    case FI_F32: { float *o = out; for (size_t i = 0; i < n; i++) o[i] = (uint64_t)w[i] < t ? 1.0f : 0.0f; } break;
    default: { double *o = out; for (size_t i = 0; i < n; i++) o[i] = (uint64_t)w[i] < t ? 1.0 : 0.0; } break;
    }
}
#ifdef FI_HAVE_BERNOULLI
#undef produce_bernoulli
#endif

#ifndef FI_HAVE_STREAM_STORE
/* Targets without non-temporal stores in their op header (scalar, NEON) write through the
 * caches: `stream` is ignored there, and these are never called. */
#define FI_HAVE_STREAM_STORE 0
static inline void stream_copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
static inline void stream_fence(void) {}
#endif

void FI_CONTIG_NAME(int dist, int dtype, const fi_stream *s, const fi_params *p,
                    void *dst, uint64_t start, size_t n, int stream)
{
    /* A batch of the widest values: float64 Bernoulli masks, one word (so 64 values a group)
     * of 8 bytes each. */
    FI_ALIGN64 unsigned char stage[FI_BATCH_GROUPS * 64 * 8];
    const size_t es = fi_itemsize(dtype);
    const uint64_t per_group = 64 / (uint64_t)fi_words_per_value(dist, dtype, p);
    /* Streaming, every batch is made in stage (in L1) and copied out with non-temporal
     * stores, so the algorithms keep their plain stores and need no aligned output. */
    const int streaming = FI_HAVE_STREAM_STORE && stream;
    uint64_t g = start / per_group;
    size_t skip = (size_t)(start % per_group);
    char *out = (char *)dst;
    while (n > 0) {
        uint64_t need = (skip + n + per_group - 1) / per_group;
        size_t ng = need < FI_BATCH_GROUPS ? (size_t)need : FI_BATCH_GROUPS;
        size_t nv = ng * per_group;
        size_t take = nv - skip < n ? nv - skip : n;
        /* A ragged edge of the range goes through stage, whole, then the part wanted. */
        void *to = !streaming && skip == 0 && take == nv ? (void *)out : (void *)stage;
        if (dist == FI_TRUNCNORM) produce_truncnorm(dtype, s, g, ng, to, p);
        else if (dist == FI_BERNOULLI) produce_bernoulli(dtype, s, g, ng, to, p);
        else if (dtype == FI_F64) produce64(dist, s, g, ng, (double *)to, p);
        else produce32(dist, dtype, s, g, ng, to, p);
        if (streaming) stream_copy(out, stage + skip * es, take * es);
        else if (to == stage) memcpy(out, stage + skip * es, take * es);
        out += take * es;
        n -= take;
        g += ng;
        skip = 0;
    }
    /* Non-temporal stores are weakly ordered: fence them before the caller reports the
     * range done (the pool's completion), so every thread then sees them. */
    if (streaming) stream_fence();
}

#ifdef FI_STREAM_FILL_NAME
/* nbytes at dst: line (line_bytes, a multiple of the item size) over and over, streamed, then
 * fenced: the large constant fills (fi_fill_bits). */
void FI_STREAM_FILL_NAME(void *dst, const void *line, size_t line_bytes, size_t nbytes)
{
    char *d = (char *)dst;
    for (size_t off = 0; off < nbytes; off += line_bytes)
        stream_copy(d + off, line, nbytes - off < line_bytes ? nbytes - off : line_bytes);
    stream_fence();
}
#endif
