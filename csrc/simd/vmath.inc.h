/*
 * simd/vmath.inc.h -- the elementary functions of internal.h (fi_exp, ...) on vectors, over
 * the op layer, operation for operation, so that a vector lane computes the scalar function's
 * very bits. Included by a kernel file after its op header, before the algorithm files that
 * use them (fused32.inc.h, ...).
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
