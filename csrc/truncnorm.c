/*
 * truncnorm.c -- the truncated normal: choosing its proposal (fi_truncnorm_params: the
 * standardized bounds alpha and beta, the method with the best acceptance rate, the
 * ziggurat built for the interval, whether a value takes one word or two) and its scalar
 * sampler (fi_truncnorm_value, fi_truncnorm_z32), which every SIMD path calls for what it
 * does not settle in vectors, with the exact inverse-CDF fallback.
 */
#include <math.h>
#include "engine_internal.h"

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

int fi_truncnorm_params(int dtype, double mean, double std, double low, double high,
                        uint32_t max_attempts, fi_params *p)
{
    if (isnan(low) || isnan(high)) return FI_ERR_NAN;
    if (!isfinite(mean) || !isfinite(std)) return FI_ERR_NONFINITE;
    if (!(std > 0)) return FI_ERR_SCALE;
    if (!(low < high)) return FI_ERR_ORDER;
    double mx = fi_dtype_max(dtype);
    if (low > mx || high < -mx) return FI_ERR_EMPTY;
    /* The representable [lo, hi] inside the closed [low, high]. */
    p->lo = low < -mx ? -mx : fi_dtype_ceil(dtype, low);
    p->hi = high > mx ? mx : fi_dtype_floor(dtype, high);
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
        if (p->method == FI_TN_NORMAL && fi_zig_truncated_cached(0.0, m, &p->zig) == 0)
            p->ztrunc = 1;
        return FI_OK;
    }
    double lm = log_mass_upper(alpha, beta);
    double acc_half = log(2.0) + lm;
    double acc_uniform = isinf(beta) ? -INFINITY
                         : lm + LOG_SQRT_2PI - log(beta - alpha) + 0.5 * alpha * alpha;
    double acc_exp = lm + log(p->lam) + LOG_SQRT_2PI + p->lam * alpha - 0.5 * p->lam * p->lam;
    p->method = FI_TN_FOLDED;                       /* the half-normal: fi_zig_normal folded */
    double best = acc_half;
    if (acc_uniform > best) { p->method = FI_TN_UNIFORM; best = acc_uniform; }
    if (acc_exp > best) p->method = FI_TN_EXP;
    /* Rather: the ziggurat of the normal past the float alpha0 <= alpha, on [alpha0, beta],
     * which rejects almost nothing; z = alpha0 + |d| is made in float for the one-word
     * dtypes, as their normals are, in double for float64. Not past alpha = 256, where the
     * float grid near alpha grows coarse for the law's scale, 1/alpha. */
    double alpha0 = fi_dtype_floor(FI_F32, alpha);
    if (alpha <= 256.0 && alpha0 > 0
        && fi_zig_truncated_cached(alpha0, beta - alpha0, &p->zig) == 0) {
        p->method = FI_TN_FOLDED;
        p->ztrunc = 1;
    }
    return FI_OK;
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
        if (p->method == FI_TN_NORMAL || p->method == FI_TN_FOLDED) {
            z = fi_zig_draw64(fi_tn_zig(p), retry_u64(&r), &r);
            if (p->method == FI_TN_FOLDED) z = fabs(z) + (double)fi_tn_zig(p)->offset;
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
    return dtype != FI_F64 && (p->method == FI_TN_NORMAL || p->method == FI_TN_FOLDED);
}

/* The normal and folded proposals for float16, bfloat16 and float32: each proposal is
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
        z = fi_zig_draw32(zt, word, &r);
        if (p->method == FI_TN_FOLDED) z = fabsf(z) + zt->offset;
        if ((double)z >= p->alpha && (double)z <= p->beta) break;
        word = retry_u32(&r);
    }
    if (t == p->max_attempts)
        z = (float)truncnorm_inverse(p, retry_co01(&r));
    return p->mirror ? -z : z;
}
