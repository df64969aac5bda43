/*
 * params.c -- dtypes and parameters: how many bytes, words and blocks a call's values take,
 * the representable values of each dtype, and the checks that turn the uniform's and the
 * normal's arguments into fi_params (the truncated normal's are in truncnorm.c, the
 * Bernoulli's in masks.c). Parameter setup runs once per call, so it is plain and exact
 * rather than fast.
 */
#include <float.h>
#include <math.h>
#include "engine_internal.h"

size_t fi_itemsize(int dtype)
{
    static const size_t sizes[FI_NDTYPES] = {2, 2, 4, 8, 1};
    return sizes[dtype];
}

int fi_words_per_value(int dist, int dtype, const fi_params *p)
{
    if (dist == FI_TRUNCNORM) return fi_truncnorm_one_word(dtype, p) ? 1 : 2;
    if (dist == FI_BERNOULLI) return 1;
    return dtype == FI_F64 ? 2 : 1;
}

uint64_t fi_blocks_for(int dist, int dtype, const fi_params *p, uint64_t n)
{
    uint64_t per_group = 64 / (uint64_t)fi_words_per_value(dist, dtype, p);
    return (n + per_group - 1) / per_group * 16;
}

/* ---- the representable values of each dtype ----------------------------------------- */

double fi_dtype_max(int dtype)
{
    switch (dtype) {
    case FI_F16: return 65504.0;
    case FI_BF16: return 0x1.fep127;
    case FI_F32: return FLT_MAX;
    default: return DBL_MAX;
    }
}

/* Nearest value of the dtype (any of the two neighbours would do: callers step from it). */
static double dtype_round(int dtype, double x)
{
    switch (dtype) {
    case FI_F16: return fi_f16_to_f32(fi_f32_to_f16((float)x));
    case FI_BF16: return fi_bf16_to_f32(fi_f32_to_bf16((float)x));
    case FI_F32: return (float)x;
    default: return x;
    }
}

/* The next value of the dtype after finite x, towards +inf (dir > 0) or -inf. */
static double dtype_step(int dtype, double x, int dir)
{
    if (dtype == FI_F64) return nextafter(x, dir > 0 ? INFINITY : -INFINITY);
    if (dtype == FI_F32) return nextafterf((float)x, dir > 0 ? INFINITY : -INFINITY);
    uint16_t h = dtype == FI_F16 ? fi_f32_to_f16((float)x) : fi_f32_to_bf16((float)x);
    int neg = (h & 0x8000u) != 0, mag = h & 0x7fff;
    if (mag == 0) h = dir > 0 ? 0x0001 : 0x8001;                /* across zero */
    else if ((dir > 0) != neg) h = (uint16_t)(h + 1);          /* away from zero */
    else h = (uint16_t)(h - 1);                                 /* towards zero */
    return dtype == FI_F16 ? fi_f16_to_f32(h) : fi_bf16_to_f32(h);
}

int fi_uniform_params(int dtype, double low, double high, fi_params *p)
{
    if (!isfinite(low) || !isfinite(high)) return FI_ERR_NONFINITE;
    if (!(low < high)) return FI_ERR_ORDER;
    double mx = fi_dtype_max(dtype);
    if (low < -mx || high > mx) return FI_ERR_RANGE;
    /* lo: the least value >= low; hi: the greatest value < high. */
    double lo = dtype_round(dtype, low), hi = dtype_round(dtype, high);
    while (lo < low) lo = dtype_step(dtype, lo, +1);
    while (lo > low && dtype_step(dtype, lo, -1) >= low) lo = dtype_step(dtype, lo, -1);
    while (hi >= high) hi = dtype_step(dtype, hi, -1);
    while (dtype_step(dtype, hi, +1) < high) hi = dtype_step(dtype, hi, +1);

    if (lo > hi) return FI_ERR_EMPTY;
    p->lo = lo;
    p->hi = hi;
    p->a = low;
    p->b = high - low;
    p->m = 1.0;
    /* The kernels compute in float for float16/bfloat16/float32, in double for float64.
     * Where high - low overflows that, work at half scale and double back (exactly). */
    if (isinf(dtype == FI_F64 ? p->b : (double)(float)p->b)) {
        p->a = low * 0.5;
        p->b = high * 0.5 - low * 0.5;
        p->m = 2.0;
    }
    return FI_OK;
}

/* The least value of the dtype >= x, and the greatest <= x (x finite, within range). */
double fi_dtype_ceil(int dtype, double x)
{
    double v = dtype_round(dtype, x);
    while (v < x) v = dtype_step(dtype, v, +1);
    while (v > x && dtype_step(dtype, v, -1) >= x) v = dtype_step(dtype, v, -1);
    return v;
}

double fi_dtype_floor(int dtype, double x)
{
    return -fi_dtype_ceil(dtype, -x);
}

int fi_normal_params(int dtype, double loc, double scale, fi_params *p)
{
    if (!isfinite(loc) || !isfinite(scale)) return FI_ERR_NONFINITE;
    if (scale < 0) return FI_ERR_SCALE;
    if (fabs(loc) > fi_dtype_max(dtype) || scale > fi_dtype_max(dtype)) return FI_ERR_RANGE;
    p->a = loc;
    p->b = scale;
    p->m = 1.0;
    p->lo = -INFINITY;
    p->hi = INFINITY;
    return FI_OK;
}
