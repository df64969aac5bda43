/*
 * engine.c -- what every SIMD path shares: parameter checks, the ziggurat's slow path,
 * strided output, and the choice of path.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "philox.h"
#include "internal.h"
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23      /* Linux 5.14 */
#endif
#endif

#include "cpu.h"

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

uint64_t fi_mask_blocks(uint64_t nslices)
{
    return (nslices + 15) / 16 * 16;
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

/* The least value of the dtype >= x, and the greatest <= x (x finite, within range). */
static double dtype_ceil(int dtype, double x)
{
    double v = dtype_round(dtype, x);
    while (v < x) v = dtype_step(dtype, v, +1);
    while (v > x && dtype_step(dtype, v, -1) >= x) v = dtype_step(dtype, v, -1);
    return v;
}

static double dtype_floor(int dtype, double x)
{
    return -dtype_ceil(dtype, -x);
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

/* per_group: values per group of the call, 64 / words per value. retry1, if not NULL, is the
 * value's first retry block, computed ahead (by a vector unit). */
static void retry_init(retry_stream *r, const fi_stream *s, uint64_t per_group, uint64_t index,
                       const uint32_t *retry1)
{
    uint64_t in_group = index % per_group;
    uint64_t block = s->counter + 16 * (index / per_group) + in_group % 16;
    r->key[0] = s->key[0];
    r->key[1] = s->key[1];
    r->ctr[0] = (uint32_t)block;
    r->ctr[1] = (uint32_t)(block >> 32);
    r->ctr[2] = 0;
    r->ctr[3] = (uint32_t)(in_group / 16);      /* the value's slot in its block */
    r->pos = 4;
    if (retry1) {
        memcpy(r->buf, retry1, sizeof r->buf);
        r->ctr[2] = 1;
        r->pos = 0;
    }
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
static float zig32(const fi_zig *t, uint32_t word, retry_stream *r)
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
    return zig32(&fi_zig_normal, word, &r);
}

/* The 64-bit ziggurat t from its first candidate on, taking further draws from r. */
static double zig64(const fi_zig *t, uint64_t words, retry_stream *r)
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
    return zig64(&fi_zig_normal, words, &r);
}

/* Past this, a centered ziggurat's layer-0 rectangle [0, beta] would hold more than a
 * layer's area. */
#define FI_ZIG_BETA_MAX 4.0

/* g and its inverse on (0, 1], in a form that does not cancel for a large offset a:
 * d = 2L / (a + sqrt(a*a + 2L)), L = -log(y). */
static double zig_g(double a, double d) { return fi_exp(-0.5 * d * (d + 2.0 * a)); }

static double zig_ginv(double a, double y)
{
    double t = -2.0 * fi_log(y);
    return t / (a + sqrt(a * a + t));
}

/* The layer heights of the ziggurat of g on [0, width] with layer area v: f[0] = 0,
 * f[i+1] = f[i] + v / x[i], x[i] the curve's abscissa at height f[i], capped at width.
 * Returns the first i at which the layers reach the top (f[i] >= 1), or 256 + 1 if they do
 * not; x and f, when given, receive the layers up to there. */
static int zig_layers(double a, double width, double gw, double v, double *x, double *f)
{
    double y = 0, xi = width;
    for (int i = 0; i < 256; i++) {
        if (x) x[i] = xi, f[i] = y;
        y = y + v / xi;
        if (y >= 1.0) {
            if (f) f[i + 1] = y;
            return i + 1;
        }
        xi = y <= gw ? width : zig_ginv(a, y);
    }
    return 257;
}

/* Fill t with the ziggurat of the normal truncated to [-width, width] (offset = 0), or to
 * [offset, offset + width] (offset > 0, a float; width may be infinite: the proposal then
 * stops where g falls below 2**-80, whose mass beyond is far below any rounding here).
 * Returns 0, or -1 when the layout does not fit (offset 0 and width above about 3.6, where
 * layer 0 would need a tail; the plain normal then rejects almost nothing). Deterministic:
 * adds, multiplies, divisions, square roots, fi_log and fi_exp only. */
static int zig_truncated(double offset, double width, fi_zig *t)
{
    if (!(offset >= 0 && width > 0) || (double)(float)offset != offset) return -1;
    if (offset == 0 && !(width < FI_ZIG_BETA_MAX)) return -1;
    /* Where g falls to 2**-80 (2L = 160 ln 2): mass beyond is below 2**-80 of the whole. */
    const double far = 110.90354888959125 / (offset + sqrt(offset * offset + 110.90354888959125));
    if (width > far) width = far;
    const double gw = zig_g(offset, width);
    /* The least v (to 2**-40 relative) whose 256 layers reach the top: all the area under
     * the curve is covered, and the last layer's excess above g = 1, which costs a little
     * acceptance, is as small as bisection makes it. width * gw is below the area, and
     * width above it. */
    double lo = width * gw / 256, hi = width / 128;
    for (int it = 0; it < 200 && hi - lo > 0x1p-40 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (zig_layers(offset, width, gw, mid, NULL, NULL) <= 256) hi = mid;
        else lo = mid;
    }
    double v = hi;
    if (zig_layers(offset, width, gw, v, t->x, t->f) != 256) return -1;
    /* Centered, layer 0 must lie wholly under the curve (k = 2**bits): the float64 paths
     * treat a draw that leaves it as the normal's tail. */
    if (offset == 0 && t->f[1] > gw) return -1;
    t->x[256] = 0;
    t->two_offset = 2.0 * offset;
    t->offset = (float)offset;
    t->tail = 0;
    for (int i = 0; i < 256; i++) {
        double ratio = t->x[i + 1] / t->x[i];
        t->k32[i] = (uint32_t)floor(ratio * 0x1p23);
        t->k64[i] = (uint64_t)floor(ratio * 0x1p52);
        t->w32[i] = (float)(t->x[i] * 0x1p-23);
        t->w64[i] = t->x[i] * 0x1p-52;
        t->wk32[i] = ((uint64_t)t->k32[i] << 32) | fi_f32_bits(t->w32[i]);
        for (int m = 0; m < 7; m++)
            t->planes32[m][i] = (uint8_t)(t->wk32[i] >> (8 * m));
    }
    return 0;
}

/* ---- truncated normal --------------------------------------------------------------- */

#define SQRT_2PI 2.5066282746310002
#define LOG_SQRT_2PI 0.91893853320467274

/* log P(Z > x), accurate in both tails: erfc while it does not underflow, then the
 * asymptotic series (its next term is below 1e-11 relative at x = 26). */
static double log_phibar(double x)
{
    if (x == INFINITY) return -INFINITY;
    if (x < 26.0) return log(0.5 * erfc(x * 0.70710678118654752));
    double r = 1.0 / (x * x);
    return -0.5 * x * x - log(x) - LOG_SQRT_2PI
           + log1p(r * (-1.0 + r * (3.0 + r * (-15.0 + r * 105.0))));
}

/* log(P(alpha < Z < beta)) for 0 <= alpha < beta. */
static double log_mass_upper(double alpha, double beta)
{
    double la = log_phibar(alpha);
    return la + log(-expm1(log_phibar(beta) - la));
}

/* zig_truncated, remembering the last few tables: a model's layers mostly share one
 * interval, and a table costs about 0.5 ms to build. A table depends on (offset, width)
 * alone, so the cache changes only the time. The lock is only ever tried, a bounded number
 * of times: a holder just copies a table (about a microsecond), and a caller that cannot
 * get it builds or keeps its table without the cache. So no caller can wait forever, not
 * even in a child forked while another thread held the lock (there it stays held, and the
 * child just builds every table). */
#define ZIG_CACHE 8
#define ZIG_LOCK_TRIES 100000
static struct { double offset, width; fi_zig t; } zig_cache[ZIG_CACHE];
static int zig_cached, zig_next;
static fi_spinlock zig_lock;

static int zig_lock_take(void)
{
    for (int i = 0; i < ZIG_LOCK_TRIES; i++) {
        if (fi_spin_trylock(&zig_lock)) return 1;
        fi_cpu_relax();
    }
    return 0;
}

static int zig_truncated_cached(double offset, double width, fi_zig *t)
{
    int found = 0;
    if (zig_lock_take()) {
        for (int i = 0; i < zig_cached && !found; i++)
            if (zig_cache[i].offset == offset && zig_cache[i].width == width) {
                memcpy(t, &zig_cache[i].t, sizeof *t);
                found = 1;
            }
        fi_spin_unlock(&zig_lock);
    }
    if (found) return 0;
    if (zig_truncated(offset, width, t) != 0) return -1;
    if (zig_lock_take()) {
        zig_cache[zig_next].offset = offset;
        zig_cache[zig_next].width = width;
        memcpy(&zig_cache[zig_next].t, t, sizeof *t);
        zig_next = (zig_next + 1) % ZIG_CACHE;
        if (zig_cached < ZIG_CACHE) zig_cached++;
        fi_spin_unlock(&zig_lock);
    }
    return 0;
}

int fi_truncnorm_params(int dtype, double mean, double std, double low, double high,
                        uint32_t max_attempts, fi_params *p)
{
    if (isnan(low) || isnan(high)) return FI_ERR_NAN;
    if (!isfinite(mean) || !isfinite(std)) return FI_ERR_NONFINITE;
    if (!(std > 0)) return FI_ERR_SCALE;
    if (!(low < high)) return FI_ERR_ORDER;
    double mx = dtype_max(dtype);
    if (low > mx || high < -mx) return FI_ERR_EMPTY;
    /* The representable [lo, hi] inside the closed [low, high]. */
    p->lo = low < -mx ? -mx : dtype_ceil(dtype, low);
    p->hi = high > mx ? mx : dtype_floor(dtype, high);
    if (p->lo > p->hi) return FI_ERR_EMPTY;
    p->a = mean;
    p->b = std;
    p->m = 1.0;
    p->wide = dtype == FI_F64;
    p->max_attempts = max_attempts;
    p->ztrunc = 0;
    double alpha = (low - mean) / std, beta = (high - mean) / std;
    /* Work on the upper side: a left tail is a mirrored right tail. */
    p->mirror = beta <= 0;
    if (p->mirror) {
        double t = alpha;
        alpha = -beta;
        beta = -t;
    }
    p->alpha = alpha;
    p->beta = beta;
    p->edge = p->mirror ? high : low;
    p->lam = 0.5 * (alpha + hypot(alpha, 2.0));             /* Robert's optimal rate */
    p->inv_lam = 1.0 / p->lam;
    if (!(alpha < beta)) {
        /* The standardized bounds overflowed or met: all the mass sits at the bound
         * nearest the mean, to double precision. */
        p->method = FI_TN_POINT;
        return FI_OK;
    }
    if (alpha > 0x1p64 && (beta - alpha) * alpha >= 1.0) {
        p->method = FI_TN_FAR;
        return FI_OK;
    }
    /* Narrow for its position: the uniform proposal accepts at least exp(-1/2) and the
     * mass integrals below would cancel. */
    double far = fabs(alpha) > fabs(beta) ? fabs(alpha) : fabs(beta);
    if (beta - alpha < 1.0 && (beta - alpha) * far < 0.5) {
        p->method = FI_TN_UNIFORM;
        return FI_OK;
    }
    /* The proposal with the best acceptance rate (in logs, to reach far tails). */
    if (alpha < 0) {
        /* The interval holds 0: normal rejection, from the normal truncated to [-m, m],
         * m = max(-alpha, beta), where that ziggurat exists (then a symmetric interval
         * rejects nothing), else from the whole normal; or uniform when narrow. */
        double mass = 0.5 * (erfc(-beta * 0.70710678118654752) - erfc(-alpha * 0.70710678118654752));
        double acc_uniform = isinf(alpha) || isinf(beta) ? 0 : mass * SQRT_2PI / (beta - alpha);
        double m = -alpha > beta ? -alpha : beta;
        double acc_normal = m < FI_ZIG_BETA_MAX ? mass / erf(m * 0.70710678118654752) : mass;
        p->method = acc_uniform > acc_normal ? FI_TN_UNIFORM : FI_TN_NORMAL;
        if (p->method == FI_TN_NORMAL && zig_truncated_cached(0.0, m, &p->zig) == 0)
            p->ztrunc = 1;
        return FI_OK;
    }
    double lm = log_mass_upper(alpha, beta);
    double acc_half = log(2.0) + lm;
    double acc_uniform = isinf(beta) ? -INFINITY
                         : lm + LOG_SQRT_2PI - log(beta - alpha) + 0.5 * alpha * alpha;
    double acc_exp = lm + log(p->lam) + LOG_SQRT_2PI + p->lam * alpha - 0.5 * p->lam * p->lam;
    p->method = FI_TN_HALFNORMAL;
    double best = acc_half;
    if (acc_uniform > best) { p->method = FI_TN_UNIFORM; best = acc_uniform; }
    if (acc_exp > best) p->method = FI_TN_EXP;
    /* Rather: the ziggurat of the normal past the float alpha0 <= alpha, on [alpha0, beta],
     * which rejects almost nothing; z = alpha0 + |d| is made in float for the one-word
     * dtypes, as their normals are, in double for float64. Not past alpha = 256, where the
     * float grid near alpha grows coarse for the law's scale, 1/alpha. */
    double alpha0 = dtype_floor(FI_F32, alpha);
    if (alpha <= 256.0 && alpha0 > 0
        && zig_truncated_cached(alpha0, beta - alpha0, &p->zig) == 0) {
        p->method = FI_TN_HALFNORMAL;
        p->ztrunc = 1;
    }
    return FI_OK;
}

/* Uniform on [0, 1), 53 bits. */
static double retry_co01(retry_stream *r)
{
    return (double)(retry_u64(r) >> 11) * 0x1p-53;
}

/* Doubles in order as integers, so bisection can halve the set of doubles between two
 * bounds (64 steps at most, whatever their distance) rather than the real interval. */
static int64_t order_key(double x)
{
    int64_t k = (int64_t)fi_f64_bits(x);
    return k < 0 ? INT64_MIN - k : k;
}

static double from_order_key(int64_t k)
{
    return fi_bits_f64((uint64_t)(k < 0 ? INT64_MIN - k : k));
}

/* Gauss-Legendre, 8 nodes on [0, 1]: integral_0^u exp(-a s - s^2/2) ds for a narrow
 * interval (u < 1, |a| u < 1/2), where the smooth integrand makes it exact to rounding. */
static double narrow_mass(double a, double u)
{
    static const double x[4] = {0.18343464249564980, 0.52553240991632899,
                                0.79666647741362674, 0.96028985649753623};
    static const double w[4] = {0.36268378337836198, 0.31370664587788729,
                                0.22238103445337447, 0.10122853629037626};
    double sum = 0;
    for (int i = 0; i < 4; i++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            double s = 0.5 * u * (1.0 + sgn * x[i]);
            sum += w[i] * exp(-a * s - 0.5 * s * s);
        }
    return 0.5 * u * sum;
}

/* The exact fallback: the inverse CDF by bisection, F computed in log space in the upper
 * tail, and by quadrature on narrow intervals, for a value the proposals failed
 * max_attempts times. */
static double truncnorm_inverse(const fi_params *p, double u)
{
    double alpha = p->alpha, beta = p->beta;
    /* Beyond these the normal has no mass in double precision. */
    double lo = alpha < -40.0 ? -40.0 : alpha;
    double top = alpha < 0 ? 40.0 : alpha + 50.0, hi = beta > top ? top : beta;
    double far = fabs(alpha) > fabs(beta) ? fabs(alpha) : fabs(beta);
    int narrow = beta - alpha < 1.0 && (beta - alpha) * far < 0.5;
    double la = 0, lm = 0, pa = 0, mass = 0;
    if (narrow) {
        mass = narrow_mass(alpha, beta - alpha);
    } else if (alpha >= 0) {
        la = log_phibar(alpha);
        lm = expm1(log_phibar(beta) - la);              /* -(mass / P(Z > alpha)) */
    } else {
        pa = 0.5 * erfc(-alpha * 0.70710678118654752);
        mass = 0.5 * erfc(-beta * 0.70710678118654752) - pa;
    }
    int64_t klo = order_key(lo), khi = order_key(hi);
    while ((uint64_t)khi - (uint64_t)klo > 1) {     /* the distance can exceed INT64_MAX */
        int64_t kmid = (int64_t)((uint64_t)klo + ((uint64_t)khi - (uint64_t)klo) / 2);
        double mid = from_order_key(kmid);
        double F = narrow ? narrow_mass(alpha, mid - alpha) / mass
                 : alpha >= 0 ? expm1(log_phibar(mid) - la) / lm
                 : (0.5 * erfc(-mid * 0.70710678118654752) - pa) / mass;
        if (F < u) klo = kmid;
        else khi = kmid;
    }
    return from_order_key(khi);
}

double fi_truncnorm_value(uint32_t w_lo, uint32_t w_hi, const fi_stream *s, uint64_t index,
                          const fi_params *p)
{
    /* The value's own stream: its two main-stream words, then its retry blocks. */
    retry_stream r;
    retry_init(&r, s, 32, index, NULL);
    r.buf[2] = w_lo;
    r.buf[3] = w_hi;
    r.pos = 2;
    const double alpha = p->alpha, beta = p->beta, lam = p->lam;
    if (p->method == FI_TN_POINT)
        return p->mirror ? p->hi : p->lo;
    if (p->method == FI_TN_FAR) {
        /* t = z - alpha ~ Exp(alpha) on [0, beta - alpha]; x = bound -/+ std*t. Each try
         * lands below beta with probability 1 - exp(-alpha (beta - alpha)) >= 0.63. */
        double t = 0;
        for (uint32_t k = 0; k < 1000; k++) {
            t = -fi_log(retry_open01(&r)) / alpha;
            if (t <= beta - alpha) break;
            t = 0;
        }
        double x = p->mirror ? p->edge - p->b * t : p->edge + p->b * t;
        x = x < p->lo ? p->lo : x;
        x = x > p->hi ? p->hi : x;
        return x;
    }
    double z = 0;
    uint32_t t = 0;
    for (; t < p->max_attempts; t++) {
        if (p->method == FI_TN_NORMAL || p->method == FI_TN_HALFNORMAL) {
            z = zig64(fi_tn_zig(p), retry_u64(&r), &r);
            if (p->method == FI_TN_HALFNORMAL) z = fabs(z) + (double)fi_tn_zig(p)->offset;
            if (z >= alpha && z <= beta) break;
        } else {
            /* Two uniforms per proposal: 53-bit for float64, 32-bit (one word each, far
             * finer than the output grid) for the narrower dtypes, whose first proposal
             * then comes from the value's two main-stream words alone. */
            double u1, u2;
            if (p->wide) {
                u1 = p->method == FI_TN_EXP ? retry_open01(&r) : retry_co01(&r);
                u2 = retry_co01(&r);
            } else {
                uint32_t w1 = retry_u32(&r), w2 = retry_u32(&r);
                u1 = p->method == FI_TN_EXP ? ((double)w1 + 1.0) * 0x1p-32 : (double)w1 * 0x1p-32;
                u2 = (double)w2 * 0x1p-32;
            }
            if (p->method == FI_TN_UNIFORM) {
                z = alpha + (beta - alpha) * u1;
                double m = alpha > 0 ? alpha : 0.0;        /* the point of [alpha, beta] nearest 0 */
                if (fi_below_exp(u2, -0.5 * ((z - m) * (z + m)))) break;    /* no cancellation */
            } else {    /* Robert (1995): alpha + Exp(lam), accepted with exp(-(z - lam)^2 / 2) */
                /* The 32-bit uniform's log in float for the narrower dtypes: its error,
                 * a few parts in 2**24 of e, is far below their resolution near alpha. */
                double e = p->wide ? -fi_log(u1) : -(double)fi_logf((float)u1);
                z = alpha + e * p->inv_lam;
                double d = z - lam;
                if (fi_below_exp(u2, -0.5 * d * d) && z <= beta) break;
            }
        }
    }
    if (t == p->max_attempts)
        z = truncnorm_inverse(p, retry_co01(&r));
    return fi_truncnorm_x(p, z);
}

int fi_truncnorm_one_word(int dtype, const fi_params *p)
{
    return dtype != FI_F64 && (p->method == FI_TN_NORMAL || p->method == FI_TN_HALFNORMAL);
}

/* The normal and half-normal proposals for float16, bfloat16 and float32: each proposal is
 * a draw of the 32-bit ziggurat (what standard_normal gives these dtypes), the first from
 * the value's one main-stream word, the next ones from its retry words, which the
 * ziggurat's own slow path also reads, in order. Returns z, negated when mirrored, in
 * float: fi_truncnorm_x32 makes the value of it as normal() would. */
float fi_truncnorm_z32(uint32_t word, const fi_stream *s, uint64_t index, const fi_params *p)
{
    retry_stream r;
    retry_init(&r, s, 64, index, NULL);
    float z = 0;
    uint32_t t = 0;
    const fi_zig *zt = fi_tn_zig(p);
    for (; t < p->max_attempts; t++) {
        z = zig32(zt, word, &r);
        if (p->method == FI_TN_HALFNORMAL) z = fabsf(z) + zt->offset;
        if ((double)z >= p->alpha && (double)z <= p->beta) break;
        word = retry_u32(&r);
    }
    if (t == p->max_attempts)
        z = (float)truncnorm_inverse(p, retry_co01(&r));
    return p->mirror ? -z : z;
}

/* ---- masks -------------------------------------------------------------------------- */

int fi_bernoulli_params(double prob, fi_params *p)
{
    if (!(prob >= 0 && prob <= 1)) return FI_ERR_PROB;
    memset(p, 0, sizeof *p);
    p->a = prob;
    p->thresh = (uint64_t)(prob * 0x1p32 + 0.5);    /* 0 and 2**32 make p = 0 and 1 exact */
    return FI_OK;
}

/* A uniform integer in [0, m), m < 2**32, without bias (Lemire's multiply and reject). */
static uint32_t retry_below(retry_stream *r, uint32_t m)
{
    uint64_t prod = (uint64_t)retry_u32(r) * m;
    if ((uint32_t)prod < m) {
        uint32_t floor = (uint32_t)(-m) % m;
        while ((uint32_t)prod < floor) prod = (uint64_t)retry_u32(r) * m;
    }
    return (uint32_t)(prod >> 32);
}

static const uint64_t one_bits[FI_NDTYPES] = {0x3c00, 0x3f80, 0x3f800000, 0x3ff0000000000000ull, 1};

/* Slices [slice0, slice0 + nslices) of o (C order over all its dims but the last); slice j
 * of o is slice stream0 + j of the call, so a block of slices can be made on its own. */
void fi_sparse_mask(const fi_stream *s, int dtype, const fi_out *o, uint64_t slice0,
                    uint64_t nslices, uint64_t k, uint64_t stream0)
{
    const int last = o->ndim - 1;
    const uint64_t n = (uint64_t)o->shape[last];
    const int64_t st = o->strides[last];
    const size_t es = fi_itemsize(dtype);
    const int flip_to = !(k > n - k);          /* the value the chosen positions get */
    const uint64_t kk = flip_to ? k : n - k;
    const uint64_t on = flip_to ? one_bits[dtype] : 0;
    /* Which positions are taken, in a bitmap that stays in cache: the output is touched
     * only where a position is chosen (a slice is often a strided column). */
    uint64_t stack_bits[64], *taken = stack_bits;
    const size_t words = (size_t)((n + 63) / 64);
    if (words > 64 && !(taken = malloc(words * sizeof *taken))) {
        /* Out of memory for the bitmap: fall back to reading the output itself. */
        taken = NULL;
    }
    for (uint64_t j = slice0; j < slice0 + nslices; j++) {
        char *base = o->data;
        uint64_t rem = j;
        for (int d = last - 1; d >= 0; d--) {
            base += (int64_t)(rem % (uint64_t)o->shape[d]) * o->strides[d];
            rem /= (uint64_t)o->shape[d];
        }
        retry_stream r;
        uint64_t block = s->counter + stream0 + j;
        r.key[0] = s->key[0];
        r.key[1] = s->key[1];
        r.ctr[0] = (uint32_t)block;
        r.ctr[1] = (uint32_t)(block >> 32);
        r.ctr[2] = (uint32_t)-1;     /* retry_u32 steps it to 0 first: blocks (counter + j, t, 0) */
        r.ctr[3] = 0;
        r.pos = 4;
        if (taken) memset(taken, 0, words * sizeof *taken);
        /* Floyd: for i = n - kk .. n - 1 take a uniform t <= i; if t is taken already, take i. */
        for (uint64_t i = n - kk; i < n; i++) {
            uint64_t t = retry_below(&r, (uint32_t)(i + 1));
            int was;
            if (taken) {
                was = (int)(taken[t / 64] >> (t % 64) & 1);
            } else {
                uint64_t v = 0;
                memcpy(&v, base + (int64_t)t * st, es);
                was = (v != 0) == flip_to;
            }
            if (was) t = i;
            if (taken) taken[t / 64] |= 1ull << (t % 64);
            memcpy(base + (int64_t)t * st, &on, es);
        }
    }
    if (taken != stack_bits) free(taken);
}

/* ---- choosing a SIMD path ----------------------------------------------------------- */

static int cpu_level = -1;
static fi_contig_fn active = fi_fill_contig_scalar;
static int active_level = FI_SIMD_SCALAR;

static int detect(void)
{
#ifdef FI_X86
    unsigned f = fi_cpu_features();
    if (!(f & FI_CPU_AVX2)) return FI_SIMD_SCALAR;
    if (f & FI_CPU_AVX512)
        return (f & FI_CPU_AVX512_VBMI) ? FI_SIMD_AVX512_VBMI : FI_SIMD_AVX512;
    return FI_SIMD_AVX2;
#elif defined(FI_ARM64)
    return FI_SIMD_NEON;        /* Advanced SIMD is part of every AArch64 CPU */
#else
    return FI_SIMD_SCALAR;
#endif
}

#ifdef FI_X86
int fi_cpu_has_bf16(void) { return (fi_cpu_features() & FI_CPU_AVX512_BF16) != 0; }
#endif

int fi_simd_best(void)
{
    if (cpu_level < 0) cpu_level = detect();
    return cpu_level;
}

/* The x86 levels are nested: a CPU that runs one runs those below it. */
int fi_simd_supported(int level)
{
    if (level == FI_SIMD_SCALAR) return 1;
#if defined(FI_X86)
    return level >= FI_SIMD_AVX2 && level <= fi_simd_best();
#elif defined(FI_ARM64)
    return level == FI_SIMD_NEON;
#else
    return 0;
#endif
}

int fi_simd_get(void) { return active_level; }

int fi_simd_set(int level)
{
    if (!fi_simd_supported(level)) return -1;
    switch (level) {
#ifdef FI_X86
    case FI_SIMD_AVX512_VBMI: active = fi_fill_contig_avx512vbmi; break;
    case FI_SIMD_AVX512: active = fi_fill_contig_avx512; break;
    case FI_SIMD_AVX2: active = fi_fill_contig_avx2; break;
#endif
#ifdef FI_ARM64
    case FI_SIMD_NEON: active = fi_fill_contig_neon; break;
#endif
    default: active = fi_fill_contig_scalar; break;
    }
    active_level = level;
    return 0;
}

/* ---- fills -------------------------------------------------------------------------- */

#if defined(__linux__)
static int page_resident(uintptr_t a, uintptr_t page)
{
    unsigned char v = 0;
    return mincore((void *)(a - a % page), 1, &v) == 0 && (v & 1);
}
#endif

/* Map the pages under [dst, dst + nbytes) for writing with one call instead of a page fault
 * per page on first touch. Fresh memory (np.empty, torch.empty) is mapped lazily, and taking
 * its faults one by one is much of a large fill's time; the kernel populates a range for
 * less. Memory already mapped is left alone: there the call would still walk every page
 * (about 100 ns per 4 KiB page, half the fill's own time), so when the span's first, middle
 * and last pages are resident nothing is done. Nothing is done either for small spans or
 * where the kernel lacks the call. Mapping the span's edge pages writes nothing to them. */
static void prefault(void *dst, size_t nbytes)
{
#if defined(__linux__)
    if (nbytes < ((size_t)1 << 20)) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = (uintptr_t)dst, pg = (uintptr_t)page, start = a - a % pg;
    if (page_resident(a, pg) && page_resident(a + nbytes / 2, pg) && page_resident(a + nbytes - 1, pg))
        return;
    (void)madvise((void *)start, a + nbytes - start, MADV_POPULATE_WRITE);
#else
    (void)dst;
    (void)nbytes;
#endif
}

void fi_fill_contig(int dist, int dtype, const fi_stream *s, const fi_params *p,
                    void *dst, uint64_t start, uint64_t n)
{
    prefault(dst, (size_t)n * fi_itemsize(dtype));
    active(dist, dtype, s, p, dst, start, (size_t)n);
}

void fi_fill_bits(void *dst, size_t itemsize, uint64_t bits, size_t n)
{
    prefault(dst, n * itemsize);
    switch (itemsize) {
    case 1: memset(dst, (int)(uint8_t)bits, n); break;
    case 2: { uint16_t *d = dst, v = (uint16_t)bits; for (size_t i = 0; i < n; i++) d[i] = v; break; }
    case 4: { uint32_t *d = dst, v = (uint32_t)bits; for (size_t i = 0; i < n; i++) d[i] = v; break; }
    default: { uint64_t *d = dst; for (size_t i = 0; i < n; i++) d[i] = bits; break; }
    }
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
        case 8: for (uint64_t j = 0; j < run; j++, p += st, src += 8) memcpy(p, src, 8); break;
        default: for (uint64_t j = 0; j < run; j++, p += st, src += 1) *p = *src; break;
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

/* ---- blocks of a logical array ---------------------------------------------------------- */

/* Where block element idx[] goes in o. */
static char *block_dst(const fi_out *o, const int64_t *idx)
{
    char *d = o->data;
    for (int k = 0; k < o->ndim; k++) d += idx[k] * o->strides[k];
    return d;
}

void fi_fill_block(int dist, int dtype, const fi_stream *s, const fi_params *p,
                   const fi_out *o, const fi_block *b, uint64_t start, uint64_t n)
{
    const size_t es = fi_itemsize(dtype);
    const int last = b->ndim - 1;
    int64_t idx[FI_MAXDIM];
    uint64_t rem = start;
    for (int d = last; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (uint64_t)b->count[d]);
        rem /= (uint64_t)b->count[d];
    }
    FI_ALIGN64 char stage[FI_BATCH_GROUPS * 64 * 8];
    const uint64_t cap = sizeof stage / es;
    const int64_t step = b->step[last], ost = o->strides[last];
    const uint64_t astep = (uint64_t)(step < 0 ? -step : step);
    while (n > 0) {
        /* The rest of this row of the block: run values at flat base + j*step. */
        uint64_t base = 0;
        for (int d = 0; d < last; d++)
            base += (uint64_t)(b->start[d] + idx[d] * b->step[d]) * b->stride[d];
        base += (uint64_t)(b->start[last] + idx[last] * step);
        uint64_t run = (uint64_t)(b->count[last] - idx[last]);
        if (run > n) run = n;
        char *dst = block_dst(o, idx);
        if (step == 1 && ost == (int64_t)es) {
            fi_fill_contig(dist, dtype, s, p, dst, base, run);
        } else {
            /* Pieces whose span fits the stage: the span generated, every step-th value
             * kept. A step wider than the stage makes one value per piece. */
            uint64_t per = astep > cap ? 1 : (cap - 1) / astep + 1;
            for (uint64_t j = 0; j < run; j += per) {
                uint64_t m = run - j < per ? run - j : per;
                uint64_t first = step >= 0 ? base + j * astep : base - (j + m - 1) * astep;
                uint64_t span = (m - 1) * astep + 1;
                fi_fill_contig(dist, dtype, s, p, stage, first, span);
                for (uint64_t q = 0; q < m; q++) {
                    uint64_t at = step >= 0 ? q * astep : (m - 1 - q) * astep;
                    memcpy(dst + (int64_t)(j + q) * ost, stage + at * es, es);
                }
            }
        }
        n -= run;
        idx[last] += (int64_t)run;
        for (int d = last; d > 0 && idx[d] == b->count[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}
