/*
 * slow.c -- the ziggurat's slow path: a draw the fast path (u < k[layer]) did not settle,
 * finished here in scalar code (wedge, tail, redraws from the value's retry stream). Every
 * SIMD path calls it for its rejected draws, so all of them give the same bits; the
 * truncated normal's samplers (truncnorm.c) draw their normal proposals with it too.
 */
#include <math.h>
#include "engine_internal.h"

/* Marsaglia's tail beyond ZIG_R: x = -ln(U1)/r, y = -ln(U2), accept when 2y > x^2. With
 * 53-bit uniforms |z| stays below r + sqrt(2 * 53 ln 2) = 12.23. */
static double zig_tail(retry_stream *r)
{
    for (;;) {
        double x = -log(retry_open01(r)) / ZIG_R;
        double y = -log(retry_open01(r));
        if (y + y > x * x) return ZIG_R + x;
    }
}

/* Layer idx, |d| = x past the inner rectangle: accept under the curve. The height takes 32
 * random bits for float32 (finer than its 24-bit values), 53 for float64. */
static int zig_wedge(const fi_zig *t, retry_stream *r, int idx, double x, int bits53)
{
    double u = bits53 ? retry_open01(r) : (double)retry_u32(r) * 0x1p-32;
    double y = t->f[idx] + u * (t->f[idx + 1] - t->f[idx]);
    return y < fi_exp(-0.5 * x * (x + t->two_offset));
}

/* The 32-bit ziggurat t from its first candidate on, taking further draws from r: d, signed
 * by the draw's sign bit. */
float fi_zig_draw32(const fi_zig *t, uint32_t word, retry_stream *r)
{
    for (;;) {
        uint32_t idx = word & 0xffu, u = word >> 9;
        float sign = (word & 0x100u) ? -1.0f : 1.0f;
        if (u < t->k32[idx])        /* a redraw that falls in the fast region: as the fast path */
            return sign * ((float)(int32_t)u * t->w32[idx]);
        if (idx == 0 && t->tail)
            return sign * (float)zig_tail(r);
        double x = (double)u * 0x1p-23 * t->x[idx];
        if (zig_wedge(t, r, (int)idx, x, 0))
            return sign * (float)x;
        word = retry_u32(r);
    }
}

float fi_normal_slow_f32(uint32_t word, const fi_stream *s, uint64_t index, const uint32_t *retry1)
{
    retry_stream r;
    retry_init(&r, s, 64, index, retry1);
    return fi_zig_draw32(&fi_zig_normal, word, &r);
}

/* The 64-bit ziggurat t from its first candidate on, taking further draws from r. */
double fi_zig_draw64(const fi_zig *t, uint64_t words, retry_stream *r)
{
    for (;;) {
        uint64_t idx = words & 0xffu, u = words >> 12;
        double sign = (words & 0x100u) ? -1.0 : 1.0;
        if (u < t->k64[idx])
            return sign * (fi_u52_to_f64(u) * t->w64[idx]);
        if (idx == 0 && t->tail)
            return sign * zig_tail(r);
        double x = fi_u52_to_f64(u) * 0x1p-52 * t->x[idx];
        if (zig_wedge(t, r, (int)idx, x, 1))
            return sign * x;
        words = retry_u64(r);
    }
}

double fi_normal_slow_f64(uint64_t words, const fi_stream *s, uint64_t index, const uint32_t *retry1)
{
    retry_stream r;
    retry_init(&r, s, 32, index, retry1);
    return fi_zig_draw64(&fi_zig_normal, words, &r);
}

