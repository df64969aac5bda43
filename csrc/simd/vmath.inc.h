/*
 * simd/vmath.inc.h -- the elementary functions of internal.h (fi_exp, fi_log, fi_logf) on vectors, over
 * the op layer, operation for operation, so that a vector lane computes the scalar function's
 * very bits. Included by a kernel file after its op header, before the algorithm files that
 * use them (fused32.inc.h, truncnorm2.inc.h, ...).
 */

/* fi_exp of internal.h on n <= 2 * FI_CHAINS vectors, operation for operation. The n Horner chains advance
 * together: each is a long run of dependent adds and multiplies. */
FI_FORCE_INLINE void exp_f64(vf64 *v, int n)
{
    const vf64 rounder = set1_f64(FI_ROUNDER);
    vf64 k[2 * FI_CHAINS], r[2 * FI_CHAINS], q[2 * FI_CHAINS];
    for (int j = 0; j < n; j++) {
        k[j] = add_f64(mul_f64(v[j], set1_f64(FI_LOG2E)), rounder);
        const vf64 nn = sub_f64(k[j], rounder);
        r[j] = sub_f64(sub_f64(v[j], mul_f64(nn, set1_f64(FI_LN2_HI))), mul_f64(nn, set1_f64(FI_LN2_LO)));
        q[j] = set1_f64(fi_exp_taylor[12]);
    }
    for (int i = 11; i >= 0; i--)
        for (int j = 0; j < n; j++)
            q[j] = add_f64(mul_f64(q[j], r[j]), set1_f64(fi_exp_taylor[i]));
    for (int j = 0; j < n; j++)
        v[j] = as_f64(add_u64(as_u64(q[j]), shl_u64(sub_u64(as_u64(k[j]), as_u64(rounder)), 52)));
}

/* fi_log of internal.h (log of a normal x > 0) on n <= 2 * FI_CHAINS vectors, operation for
 * operation, the chains interleaved as in exp_f64. The exponent field is below 2**11, so its
 * conversion and the subtraction of the bias are exact, as the scalar integer ones. */
FI_FORCE_INLINE void log_f64(vf64 *x, int n)
{
    const vf64 one = set1_f64(1.0);
    vf64 e[2 * FI_CHAINS], s[2 * FI_CHAINS], s2[2 * FI_CHAINS], q[2 * FI_CHAINS];
    for (int j = 0; j < n; j++) {
        const v64 b = as_u64(x[j]);
        e[j] = sub_f64(cvt_u52_f64(shr_u64(b, 52)), set1_f64(1023.0));
        vf64 m = as_f64(or_u64(and_u64(b, set1_u64(0x000fffffffffffffull)), set1_u64(0x3ff0000000000000ull)));
        const vmask64 big = cmplt_f64(set1_f64(FI_SQRT2), m);
        m = blend_f64(big, m, mul_f64(m, set1_f64(0.5)));
        e[j] = blend_f64(big, e[j], add_f64(e[j], one));
        s[j] = div_f64(sub_f64(m, one), add_f64(m, one));
        s2[j] = mul_f64(s[j], s[j]);
        q[j] = set1_f64(fi_log_series[9]);
    }
    for (int i = 8; i >= 0; i--)
        for (int j = 0; j < n; j++)
            q[j] = add_f64(mul_f64(q[j], s2[j]), set1_f64(fi_log_series[i]));
    for (int j = 0; j < n; j++)
        x[j] = add_f64(mul_f64(e[j], set1_f64(FI_LN2_HI)),
                       add_f64(mul_f64(add_f64(s[j], s[j]), q[j]), mul_f64(e[j], set1_f64(FI_LN2_LO))));
}

/* fi_logf of internal.h (log of a normal float x > 0) on n <= FI_CHAINS vectors, operation
 * for operation. The exponent less its bias wraps to the int32 the scalar code computes. */
FI_FORCE_INLINE void logf_f32(vf32 *x, int n)
{
    const vf32 one = set1_f32(1.0f);
    vf32 e[FI_CHAINS], s[FI_CHAINS], s2[FI_CHAINS], q[FI_CHAINS];
    for (int j = 0; j < n; j++) {
        const v32 b = as_u32(x[j]);
        e[j] = cvt_i32_f32(add(shr(b, 23), set1((uint32_t)-127)));
        vf32 m = as_f32(or_(and_(b, set1(0x007fffffu)), set1(0x3f800000u)));
        const vmask big = cmplt_f32(set1_f32(FI_SQRT2F), m);
        m = as_f32(blend(big, as_u32(m), as_u32(mul_f32(m, set1_f32(0.5f)))));
        e[j] = as_f32(blend(big, as_u32(e[j]), as_u32(add_f32(e[j], one))));
        s[j] = div_f32(sub_f32(m, one), add_f32(m, one));
        s2[j] = mul_f32(s[j], s[j]);
        q[j] = set1_f32(fi_logf_series[4]);
    }
    for (int i = 3; i >= 0; i--)
        for (int j = 0; j < n; j++)
            q[j] = add_f32(mul_f32(q[j], s2[j]), set1_f32(fi_logf_series[i]));
    for (int j = 0; j < n; j++)
        x[j] = add_f32(mul_f32(e[j], set1_f32(FI_LN2_HIF)),
                       add_f32(mul_f32(add_f32(s[j], s[j]), q[j]), mul_f32(e[j], set1_f32(FI_LN2_LOF))));
}
