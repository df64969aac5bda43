/*
 * engine.c -- what every SIMD path shares: parameter checks, the ziggurat's slow path,
 * strided output, and the choice of path.
 */
#include <float.h>
#include <math.h>
#include "philox.h"
#include "internal.h"
#include "ziggurat_tables.h"

#ifdef FI_X86
#include <cpuid.h>
#endif

size_t fi_itemsize(int dtype)
{
    static const size_t sizes[FI_NDTYPES] = {2, 2, 4, 8};
    return sizes[dtype];
}

uint64_t fi_blocks_for(int dtype, uint64_t n)
{
    uint64_t per_group = dtype == FI_F64 ? 32 : 64;
    return (n + per_group - 1) / per_group * 16;
}

/* ---- the representable values of each dtype ----------------------------------------- */

static double dtype_max(int dtype)
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
    double mx = dtype_max(dtype);
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

int fi_normal_params(int dtype, double loc, double scale, fi_params *p)
{
    if (!isfinite(loc) || !isfinite(scale)) return FI_ERR_NONFINITE;
    if (scale < 0) return FI_ERR_SCALE;
    if (fabs(loc) > dtype_max(dtype) || scale > dtype_max(dtype)) return FI_ERR_RANGE;
    p->a = loc;
    p->b = scale;
    p->m = 1.0;
    p->lo = -INFINITY;
    p->hi = INFINITY;
    return FI_OK;
}

/* ---- the ziggurat's slow path ------------------------------------------------------- */

/* The draws reserved for one value: blocks (block, attempt = 1, 2, ..., slot), read in order. */
typedef struct {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int pos;
} retry_stream;

static void retry_init(retry_stream *r, const fi_stream *s, int dtype, uint64_t index)
{
    uint64_t per_group = dtype == FI_F64 ? 32 : 64, in_group = index % per_group;
    uint64_t block = s->counter + 16 * (index / per_group) + in_group % 16;
    r->key[0] = s->key[0];
    r->key[1] = s->key[1];
    r->ctr[0] = (uint32_t)block;
    r->ctr[1] = (uint32_t)(block >> 32);
    r->ctr[2] = 0;
    r->ctr[3] = (uint32_t)(in_group / 16);      /* the value's slot in its block */
    r->pos = 4;
}

static uint32_t retry_u32(retry_stream *r)
{
    if (r->pos == 4) {
        r->ctr[2]++;
        philox4x32(r->ctr, r->key, r->buf);
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

static uint64_t retry_u64(retry_stream *r)
{
    uint64_t lo = retry_u32(r);
    return ((uint64_t)retry_u32(r) << 32) | lo;
}

/* Uniform on (0, 1], 53 bits: never 0, so its log is finite. */
static double retry_open01(retry_stream *r)
{
    return (double)((retry_u64(r) >> 11) + 1) * 0x1p-53;
}

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

/* Layer idx >= 1, |z| = x past the inner rectangle: accept under the curve. The height
 * takes 32 random bits for float32 (finer than its 24-bit values), 53 for float64. */
static int zig_wedge(retry_stream *r, int idx, double x, int bits53)
{
    double u = bits53 ? retry_open01(r) : (double)retry_u32(r) * 0x1p-32;
    double y = zig_f[idx] + u * (zig_f[idx + 1] - zig_f[idx]);
    return y < fi_exp(-0.5 * x * x);
}

float fi_normal_slow_f32(uint32_t word, const fi_stream *s, uint64_t index, const uint32_t *retry1)
{
    retry_stream r;
    retry_init(&r, s, FI_F32, index);
    if (retry1) {
        memcpy(r.buf, retry1, sizeof r.buf);
        r.ctr[2] = 1;
        r.pos = 0;
    }
    for (;;) {
        uint32_t idx = word & 0xffu, u = word >> 9;
        float sign = (word & 0x100u) ? -1.0f : 1.0f;
        if (u < zig_k32[idx])       /* a redraw that falls in the fast region: as the fast path */
            return sign * ((float)(int32_t)u * zig_w32[idx]);
        if (idx == 0)
            return sign * (float)zig_tail(&r);
        double x = (double)u * 0x1p-23 * zig_x[idx];
        if (zig_wedge(&r, (int)idx, x, 0))
            return sign * (float)x;
        word = retry_u32(&r);
    }
}

double fi_normal_slow_f64(uint64_t words, const fi_stream *s, uint64_t index, const uint32_t *retry1)
{
    retry_stream r;
    retry_init(&r, s, FI_F64, index);
    if (retry1) {
        memcpy(r.buf, retry1, sizeof r.buf);
        r.ctr[2] = 1;
        r.pos = 0;
    }
    for (;;) {
        uint64_t idx = words & 0xffu, u = words >> 12;
        double sign = (words & 0x100u) ? -1.0 : 1.0;
        if (u < zig_k64[idx])
            return sign * (fi_u52_to_f64(u) * zig_w64[idx]);
        if (idx == 0)
            return sign * zig_tail(&r);
        double x = fi_u52_to_f64(u) * 0x1p-52 * zig_x[idx];
        if (zig_wedge(&r, (int)idx, x, 1))
            return sign * x;
        words = retry_u64(&r);
    }
}

/* ---- choosing a SIMD path ----------------------------------------------------------- */

static int cpu_level = -1;
static fi_contig_fn active = fi_fill_contig_scalar;
static int active_level = FI_SIMD_SCALAR;

static int detect(void)
{
#ifdef FI_X86
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    __builtin_cpu_init();
    if (!f16c || !__builtin_cpu_supports("avx2")) return FI_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return FI_SIMD_AVX512;
    return FI_SIMD_AVX2;
#else
    return FI_SIMD_SCALAR;
#endif
}

int fi_simd_best(void)
{
    if (cpu_level < 0) cpu_level = detect();
    return cpu_level;
}

int fi_simd_supported(int level)
{
    return level >= 0 && level <= fi_simd_best();
}

int fi_simd_get(void) { return active_level; }

int fi_simd_set(int level)
{
    if (!fi_simd_supported(level)) return -1;
    switch (level) {
#ifdef FI_X86
    case FI_SIMD_AVX512: active = fi_fill_contig_avx512; break;
    case FI_SIMD_AVX2: active = fi_fill_contig_avx2; break;
#endif
    default: active = fi_fill_contig_scalar; break;
    }
    active_level = level;
    return 0;
}

/* ---- fills -------------------------------------------------------------------------- */

void fi_fill_contig(int dist, int dtype, const fi_stream *s, const fi_params *p,
                    void *dst, uint64_t start, uint64_t n)
{
    active(dist, dtype, s, p, dst, start, (size_t)n);
}

/* Copy n values to the strided output, value `start` first, walking C order. */
static void scatter(const char *src, uint64_t n, size_t es, const fi_out *o, uint64_t start)
{
    int64_t idx[FI_MAXDIM];
    int last = o->ndim - 1;
    uint64_t rem = start;
    for (int d = last; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (uint64_t)o->shape[d]);
        rem /= (uint64_t)o->shape[d];
    }
    while (n > 0) {
        char *p = o->data;
        for (int d = 0; d <= last; d++) p += idx[d] * o->strides[d];
        uint64_t run = (uint64_t)(o->shape[last] - idx[last]);
        if (run > n) run = n;
        const int64_t st = o->strides[last];
        switch (es) {
        case 2: for (uint64_t j = 0; j < run; j++, p += st, src += 2) memcpy(p, src, 2); break;
        case 4: for (uint64_t j = 0; j < run; j++, p += st, src += 4) memcpy(p, src, 4); break;
        default: for (uint64_t j = 0; j < run; j++, p += st, src += 8) memcpy(p, src, 8); break;
        }
        n -= run;
        idx[last] += (int64_t)run;
        for (int d = last; d > 0 && idx[d] == o->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void fi_fill_strided(int dist, int dtype, const fi_stream *s, const fi_params *p,
                     const fi_out *o, uint64_t start, uint64_t n)
{
    const size_t es = fi_itemsize(dtype);
    if (o->contiguous) {
        active(dist, dtype, s, p, o->data + start * es, start, (size_t)n);
        return;
    }
    if (o->ndim == 0) {     /* a 0-d view: one value */
        FI_ALIGN64 char one[8];
        active(dist, dtype, s, p, one, start, 1);
        memcpy(o->data, one, es);
        return;
    }
    FI_ALIGN64 char buf[FI_BATCH_GROUPS * 64 * 4];
    const uint64_t cap = sizeof buf / es;
    while (n > 0) {
        uint64_t k = n < cap ? n : cap;
        active(dist, dtype, s, p, buf, start, (size_t)k);
        scatter(buf, k, es, o, start);
        start += k;
        n -= k;
    }
}
