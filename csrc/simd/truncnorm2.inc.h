/*
 * simd/truncnorm2.inc.h -- the truncated normal's cases of two words per value, fused with
 * Philox and written once over the op layer: the normal and half-normal proposals in float64,
 * the uniform and exponential ones in every dtype, as fi_truncnorm_value makes them (the
 * one-word cases are simd/truncnorm.inc.h's, which hands these to this file's
 * produce_truncnorm2).
 *
 * Included by a kernel file after its op header, simd/philox.inc.h, simd/vmath.inc.h,
 * simd/retry.inc.h and simd/fused64.inc.h (zig64_fast), before simd/truncnorm.inc.h.
 *
 * A value takes two words as fused64.inc.h's float64 values do: value 16h + j of a group the
 * words 2h and 2h + 1 of block j, so a group's 32 values are 32/N slots of N values, slot k
 * the words 2*(k / FI_SETS) and 2*(k / FI_SETS) + 1 of chain k % FI_SETS. FI_TN2_SLOTS slots
 * go through the math together, their chains interleaved (as the hand-written AVX-512 code
 * did with four vectors of eight doubles); each slot is two vectors of doubles, lane by lane:
 *   - wide (float64 values): 53-bit uniforms and 64-bit ziggurat draws, in 64-bit lanes
 *     joined by pair_u32 (its order; st_pair_f64 and pair_mask_bits undo it);
 *   - narrow (float16, bfloat16, float32): 32-bit uniforms, one word each, converted half a
 *     vector at a time (cvt_u32_f64), so the lanes keep their natural order and the values
 *     go to the dtype with cvt_f64_f32 (through float rounded to odd for the 16-bit dtypes,
 *     as fi_store_f64_as).
 * Each value's first proposal is made in vectors and stored as accepted; the others are
 * listed by index and finished after the batch: in vectors where the next step reads only the
 * value's first retry block (a float64 normal draw's wedge, redraw, second and third
 * proposals; a narrow uniform or exponential second proposal), else by fi_truncnorm_value,
 * which starts over from the value's words. Every vector operation is one the scalar code
 * does, in the same order, or an exact rewriting of it (said where), so the bits are the
 * scalar path's.
 */

/* Slots whose math runs together: 2 (four vectors of doubles on AVX-512), unless the kernel
 * file says otherwise; it must divide a group's 32/N and be at most FI_CHAINS. */
#ifndef FI_TN2_SLOTS
#define FI_TN2_SLOTS 2
#endif

/* kernels.inc.h's loop over fi_truncnorm_value, for what no vector form covers. */
static void produce_truncnorm_scalar(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                                     void *out, const fi_params *p);

typedef struct {
    uint32_t lo[FI_BATCH_GROUPS * 32], hi[FI_BATCH_GROUPS * 32];   /* each value's words */
    uint16_t rej[FI_BATCH_GROUPS * 32 + FI_CHAINS * FI_V_LANES]; /* batch-local indices, spare */
    const fi_zig *zt;                                   /* the normal proposals' ziggurat */
    vf64 a, b, xlo, xhi;        /* x = a + b*z clamped to [xlo, xhi]; b negated when mirrored */
    vf64 alpha, beta, width, m, lam, ninv_lam;
    vf64 offset;                /* the half-normal proposal's z = offset + |d| */
} tn2_batch;

static void tn2_batch_init(tn2_batch *bt, const fi_params *p)
{
    bt->zt = fi_tn_zig(p);
    bt->a = set1_f64(p->a);
    /* fi_truncnorm_x negates z when mirrored: b*(-z) is (-b)*z exactly, as a product's
     * rounding does not depend on the signs. */
    bt->b = set1_f64(p->mirror ? -p->b : p->b);
    bt->xlo = set1_f64(p->lo);
    bt->xhi = set1_f64(p->hi);
    bt->alpha = set1_f64(p->alpha);
    bt->beta = set1_f64(p->beta);
    bt->width = set1_f64(p->beta - p->alpha);
    bt->m = set1_f64(p->alpha > 0 ? p->alpha : 0.0);    /* the point of [alpha, beta] nearest 0 */
    bt->lam = set1_f64(p->lam);
    /* -log(u) * inv_lam is log(u) * -inv_lam exactly, likewise. */
    bt->ninv_lam = set1_f64(-p->inv_lam);
    bt->offset = set1_f64((double)bt->zt->offset);
}

/* fi_truncnorm_x: the affine step, then the clamp (x < lo ? lo : x, then x > hi ? hi : x). */
FI_FORCE_INLINE vf64 tn2_x(const tn2_batch *bt, vf64 z)
{
    return min_f64(bt->xhi, max_f64(bt->xlo, add_f64(bt->a, mul_f64(bt->b, z))));
}

FI_FORCE_INLINE vmask64 tn2_inside(const tn2_batch *bt, vf64 z)
{
    return mask64_and(cmple_f64(bt->alpha, z), cmple_f64(z, bt->beta));
}

/* Bit j set when value j of a slot's N is, from the masks of its two vectors of doubles. */
FI_FORCE_INLINE uint32_t tn2_bits(int wide, vmask64 a, vmask64 b)
{
    return wide ? pair_mask_bits(a, b) : mask64_bits(a) | mask64_bits(b) << (FI_V_LANES / 2);
}

/* Values i..i+N-1 stored as the dtype, fi_store_f64_as (narrow: x0 and x1 the lower and upper
 * halves): float32 rounds once; bfloat16 and float16 go through fi_f64_to_f32_odd, float
 * rounded toward zero with the sticky bit set where inexact, then to nearest. */
FI_FORCE_INLINE void tn2_store(int dtype, void *out, size_t i, vf64 x0, vf64 x1)
{
    if (dtype == FI_F64) { st_pair_f64((double *)out + i, x0, x1); return; }
    const vf32 f = cvt_f64_f32(x0, x1);
    if (dtype == FI_F32) { st_f32((float *)out + i, f); return; }
    const vf64 b0 = cvtlo_f32_f64(f), b1 = cvthi_f32_f64(f);
    const v64 abs = set1_u64(0x7fffffffffffffffull);
    const vf64 a0 = as_f64(and_u64(as_u64(x0), abs)), a1 = as_f64(and_u64(as_u64(x1), abs));
    const vf64 c0 = as_f64(and_u64(as_u64(b0), abs)), c1 = as_f64(and_u64(as_u64(b1), abs));
    const vmask inexact = mask_from_bits(tn2_bits(0, mask64_or(cmplt_f64(b0, x0), cmplt_f64(x0, b0)),
                                                  mask64_or(cmplt_f64(b1, x1), cmplt_f64(x1, b1))));
    const vmask away = mask_from_bits(tn2_bits(0, cmplt_f64(a0, c0), cmplt_f64(a1, c1)));
    v32 fb = as_u32(f);
    fb = blend(away, fb, add(fb, set1(0xffffffffu)));           /* nextafterf(f, 0): bits - 1 */
    fb = blend(inexact, fb, or_(fb, set1(1)));
    if (dtype == FI_BF16) st_bf16((uint16_t *)out + i, as_f32(fb));
    else st_f16((uint16_t *)out + i, as_f32(fb));
}

/* A 64-bit ziggurat draw's value z (signed; offset + |d| when half) and in *fast the lanes in
 * their layer's fast region: fi_zig_draw64's first step (and fi_truncnorm_value's fabs). */
FI_FORCE_INLINE vf64 tn2_draw(const tn2_batch *bt, int half, v64 r, vmask64 *fast)
{
    const v64 idx = and_u64(r, set1_u64(0xff)), u = shr_u64(r, 12);
    *fast = cmplt_u64(u, gather64_u64(bt->zt->k64, idx));
    if (!half) return zig64_fast(bt->zt, r);
    return add_f64(mul_f64(cvt_u52_f64(u), gather64_f64(bt->zt->w64, idx)), bt->offset);
}

/* ((r >> 11) + open) * 2**-53: retry_co01 (open 0) or retry_open01 (open 1) of 64-bit words
 * r; the conversion and the + 1.0 are exact, as the scalar integer sum and its conversion. */
FI_FORCE_INLINE vf64 tn2_u53(v64 r, int open)
{
    vf64 d = cvt_u53_f64(shr_u64(r, 11));
    if (open) d = add_f64(d, set1_f64(1.0));
    return mul_f64(d, set1_f64(0x1p-53));
}

/* The 32-bit uniforms of two words, w1 and w2 (u1 on (0, 1] for the exponential proposal),
 * lane by lane in their natural order: halves h of u1[h], u2[h]. */
FI_FORCE_INLINE void tn2_u32(int method, v32 w1, v32 w2, vf64 u1[2], vf64 u2[2])
{
    for (int h = 0; h < 2; h++) {
        const vf64 d1 = cvt_u32_f64(w1, h);
        u1[h] = mul_f64(method == FI_TN_EXP ? add_f64(d1, set1_f64(1.0)) : d1, set1_f64(0x1p-32));
        u2[h] = mul_f64(cvt_u32_f64(w2, h), set1_f64(0x1p-32));
    }
}

/* One uniform or exponential proposal on n <= 2 * FI_CHAINS vectors of doubles (pairs
 * 2j, 2j + 1 a slot's halves) from its uniforms u1 and u2: z, and in ok the lanes accepted,
 * as fi_truncnorm_value. fi_below_exp's bounds first, the exponential only if a lane needs it. */
FI_FORCE_INLINE void tn2_prop(int method, int wide, const tn2_batch *bt, int n,
                              const vf64 *u1, const vf64 *u2, vf64 *z, vmask64 *ok)
{
    vf64 f[2 * FI_CHAINS];
    vmask64 und[2 * FI_CHAINS];
    uint32_t any = 0;
    for (int j = 0; j < n; j++)
        z[j] = method == FI_TN_EXP ? u1[j] : add_f64(bt->alpha, mul_f64(bt->width, u1[j]));
    if (method == FI_TN_EXP) {
        if (wide) {
            log_f64(z, n);
        } else {
            /* (double)fi_logf((float)u1): a slot's two halves are one vector of floats. */
            vf32 lf[FI_CHAINS];
            for (int j = 0; j < n / 2; j++) lf[j] = cvt_f64_f32(z[2 * j], z[2 * j + 1]);
            logf_f32(lf, n / 2);
            for (int j = 0; j < n / 2; j++) {
                z[2 * j] = cvtlo_f32_f64(lf[j]);
                z[2 * j + 1] = cvthi_f32_f64(lf[j]);
            }
        }
        for (int j = 0; j < n; j++) {
            z[j] = add_f64(bt->alpha, mul_f64(z[j], bt->ninv_lam));
            const vf64 d = sub_f64(z[j], bt->lam);
            f[j] = mul_f64(mul_f64(set1_f64(-0.5), d), d);
        }
    } else {
        for (int j = 0; j < n; j++)
            f[j] = mul_f64(set1_f64(-0.5), mul_f64(sub_f64(z[j], bt->m), add_f64(z[j], bt->m)));
    }
    for (int j = 0; j < n; j++) {
        const vf64 lower = add_f64(set1_f64(1.0), f[j]);
        const vf64 upper = add_f64(lower, mul_f64(mul_f64(set1_f64(0.5), f[j]), f[j]));
        ok[j] = cmplt_f64(u2[j], lower);
        und[j] = mask64_andnot(cmplt_f64(u2[j], upper), ok[j]);
        any |= mask64_bits(und[j]);
    }
    if (any) {
        exp_f64(f, n);
        for (int j = 0; j < n; j++) ok[j] = mask64_or(ok[j], mask64_and(und[j], cmplt_f64(u2[j], f[j])));
    }
    if (method == FI_TN_EXP)
        for (int j = 0; j < n; j++) ok[j] = mask64_and(ok[j], cmple_f64(z[j], bt->beta));
}

/* Values i.. of the batch, FI_TN2_SLOTS slots from their words lo and hi (and, for a wide
 * uniform or exponential proposal, u2's words: w0 and w1 of the first retry block), stored as
 * their first proposal makes them. Returns the lanes it does not settle, N bits a slot. */
FI_FORCE_INLINE uint64_t tn2_emit(int dtype, int method, const tn2_batch *bt, void *out, size_t i,
                                  const v32 *lo, const v32 *hi, const v32 *w0, const v32 *w1)
{
    enum { N = FI_V_LANES, P = FI_TN2_SLOTS };
    const int wide = dtype == FI_F64;
    vf64 u1[2 * P], u2[2 * P], z[2 * P];
    vmask64 ok[2 * P];
    if (method <= FI_TN_FOLDED) {
        for (int j = 0; j < P; j++) {
            v64 r[2];
            pair_u32(lo[j], hi[j], &r[0], &r[1]);
            for (int h = 0; h < 2; h++) {
                vmask64 fast;
                z[2 * j + h] = tn2_draw(bt, method == FI_TN_FOLDED, r[h], &fast);
                ok[2 * j + h] = mask64_and(fast, tn2_inside(bt, z[2 * j + h]));
            }
        }
    } else {
        for (int j = 0; j < P; j++) {
            if (wide) {
                /* u1 from the two main-stream words, u2 from the retry block's words 0-1. */
                v64 r[2], r2[2];
                pair_u32(lo[j], hi[j], &r[0], &r[1]);
                pair_u32(w0[j], w1[j], &r2[0], &r2[1]);
                for (int h = 0; h < 2; h++) {
                    u1[2 * j + h] = tn2_u53(r[h], method == FI_TN_EXP);
                    u2[2 * j + h] = tn2_u53(r2[h], 0);
                }
            } else {
                tn2_u32(method, lo[j], hi[j], u1 + 2 * j, u2 + 2 * j);
            }
        }
        tn2_prop(method, wide, bt, 2 * P, u1, u2, z, ok);
    }
    uint64_t rej = 0;
    for (int j = 0; j < P; j++) {
        tn2_store(dtype, out, i + N * (size_t)j, tn2_x(bt, z[2 * j]), tn2_x(bt, z[2 * j + 1]));
        const uint32_t bits = tn2_bits(wide, ok[2 * j], ok[2 * j + 1]);
        rej |= (uint64_t)(~bits & (uint32_t)((1ull << N) - 1)) << (N * j);
    }
    return rej;
}

/* A float64 normal or half-normal draw's next steps for FI_CHAINS vectors of listed values
 * (words r1 in pair order, first retry blocks w0..w3), as fi_truncnorm_value goes on:
 *   - a first draw in the fast region but outside the bounds: the second proposal from words
 *     0-1, and if that lands in the fast region outside too, the third from words 2-3;
 *   - a first draw outside the fast region: zig64's wedge with the height from words 0-1,
 *     u1 = ((w1 << 32 | w0) >> 11) + 1) * 2**-53, and if it fails the redraw from words 2-3
 *     when that lands in a fast region (layer 0 is the tail's where t->tail: left out); then
 *     the bounds.
 * Stores the settled values as doubles at xs; returns them, a bit each. */
FI_FORCE_INLINE uint64_t tn2_settle_normal(int half, const tn2_batch *bt, const v32 *r1lo,
                                           const v32 *r1hi, const v32 *w0, const v32 *w1,
                                           const v32 *w2, const v32 *w3, double *xs,
                                           const fi_params *p)
{
    enum { N = FI_V_LANES, NV = 2 * FI_CHAINS };
    const fi_zig *t = bt->zt;
    const v64 low8 = set1_u64(0xff);
    v64 r1[NV], r2[NV], r3[NV];
    vf64 x[NV], y[NV], e[NV];
    for (int c = 0; c < FI_CHAINS; c++) {
        pair_u32(r1lo[c], r1hi[c], &r1[2 * c], &r1[2 * c + 1]);
        pair_u32(w0[c], w1[c], &r2[2 * c], &r2[2 * c + 1]);
        pair_u32(w2[c], w3[c], &r3[2 * c], &r3[2 * c + 1]);
    }
    for (int j = 0; j < NV; j++) {
        const v64 idx = and_u64(r1[j], low8);
        x[j] = mul_f64(mul_f64(cvt_u52_f64(shr_u64(r1[j], 12)), set1_f64(0x1p-52)), gather64_f64(t->x, idx));
        const vf64 f0 = gather64_f64(t->f, idx), f1 = gather64_f64(t->f, add_u64(idx, set1_u64(1)));
        y[j] = add_f64(f0, mul_f64(tn2_u53(r2[j], 1), sub_f64(f1, f0)));
        e[j] = mul_f64(mul_f64(set1_f64(-0.5), x[j]), add_f64(x[j], set1_f64(t->two_offset)));
    }
    exp_f64(e, NV);
    uint64_t settled = 0;
    for (int c = 0; c < FI_CHAINS; c++) {
        vf64 xv[2];
        vmask64 ok[2];
        for (int h = 0; h < 2; h++) {
            const int j = 2 * c + h;
            const v64 idx = and_u64(r1[j], low8);
            const vmask64 first_fast = cmplt_u64(shr_u64(r1[j], 12), gather64_u64(t->k64, idx));
            vmask64 fast2, fast3;
            const vf64 z2 = tn2_draw(bt, half, r2[j], &fast2), z3 = tn2_draw(bt, half, r3[j], &fast3);
            const vmask64 ok2 = mask64_and(fast2, tn2_inside(bt, z2));
            const vmask64 ok3 = mask64_and(fast3, tn2_inside(bt, z3));
            /* Every layer has a wedge but layer 0 where it holds the tail (idx < 256: all). */
            const vmask64 wedged = t->tail ? cmplt_u64(set1_u64(0), idx) : cmplt_u64(idx, set1_u64(256));
            const vmask64 wedge = mask64_andnot(wedged, first_fast);
            const vmask64 acc = mask64_and(wedge, cmplt_f64(y[j], e[j]));
            const vmask64 redraw = mask64_andnot(mask64_and(wedge, fast3), acc);
            /* The wedge's value signed by the draw's bit 8, or offset + x when half; the
             * redraw's is z3 (fi_zig_draw64's fast step, then the fabs and offset). */
            const vf64 zx = half ? add_f64(x[j], bt->offset)
                                 : as_f64(or_u64(as_u64(x[j]), shl_u64(and_u64(r1[j], set1_u64(0x100)), 55)));
            vf64 z = blend_f64(redraw, zx, z3);
            ok[h] = mask64_and(mask64_or(acc, redraw), tn2_inside(bt, z));
            if (p->max_attempts >= 2) {
                const vmask64 s2 = mask64_and(first_fast, ok2);
                z = blend_f64(s2, z, z2);
                ok[h] = mask64_or(ok[h], s2);
            }
            if (p->max_attempts >= 3) {
                const vmask64 s3 = mask64_and(mask64_andnot(mask64_and(first_fast, fast2), ok2), ok3);
                z = blend_f64(s3, z, z3);
                ok[h] = mask64_or(ok[h], s3);
            }
            xv[h] = tn2_x(bt, z);
        }
        st_pair_f64(xs + N * c, xv[0], xv[1]);
        settled |= (uint64_t)tn2_bits(1, ok[0], ok[1]) << (N * c);
    }
    return settled;
}

/* The values a batch's first proposals did not settle, FI_CHAINS * N at a time: the next
 * steps in vectors where they read only the first retry block (see tn2_settle_normal; a
 * narrow uniform or exponential proposal's second takes words 0 and 1 as its w1 and w2; a
 * wide one's takes words 2-3 and the second block: left to the scalar sampler), the rest by
 * fi_truncnorm_value. Lanes past nrej read the list's spare entries, masked into the batch:
 * their results are not used. */
static void tn2_finish(int dtype, int method, const tn2_batch *bt, size_t nrej,
                       const fi_stream *s, uint64_t g0, const simd_keys *rk, void *out,
                       const fi_params *p)
{
    enum { N = FI_V_LANES, PER = FI_CHAINS * FI_V_LANES };
    _Static_assert(PER <= 64, "a batch's lanes as bits of a uint64_t");
    const int normal = method <= FI_TN_FOLDED;
    const size_t es = fi_itemsize(dtype);
    const int vector = normal || (p->max_attempts >= 2 && dtype != FI_F64);
    for (size_t r0 = 0; r0 < nrej; r0 += PER) {
        const size_t cnt = nrej - r0 < PER ? nrej - r0 : PER;
        FI_ALIGN64 double xs[PER];              /* the settled values, in the dtype */
        uint64_t settled = 0;
        if (vector) {
            v32 li[FI_CHAINS], w0[FI_CHAINS], w1[FI_CHAINS], w2[FI_CHAINS], w3[FI_CHAINS];
            for (int c = 0; c < FI_CHAINS; c++)
                li[c] = and_(ld_u16(bt->rej + r0 + N * c), set1(FI_BATCH_GROUPS * 32 - 1));
            retry_first_blocks(rk, s->counter + 16 * g0, 5, FI_CHAINS, li, w0, w1, w2, w3);
            if (normal) {
                v32 lo[FI_CHAINS], hi[FI_CHAINS];
                for (int c = 0; c < FI_CHAINS; c++) {
                    lo[c] = gather_u32(bt->lo, li[c]);
                    hi[c] = gather_u32(bt->hi, li[c]);
                }
                settled = tn2_settle_normal(method == FI_TN_FOLDED, bt, lo, hi, w0, w1, w2, w3, xs, p);
            } else {
                vf64 u1[2 * FI_CHAINS], u2[2 * FI_CHAINS], z[2 * FI_CHAINS];
                vmask64 ok[2 * FI_CHAINS];
                for (int c = 0; c < FI_CHAINS; c++) tn2_u32(method, w0[c], w1[c], u1 + 2 * c, u2 + 2 * c);
                tn2_prop(method, 0, bt, 2 * FI_CHAINS, u1, u2, z, ok);
                for (int c = 0; c < FI_CHAINS; c++) {
                    tn2_store(dtype, xs, N * (size_t)c, tn2_x(bt, z[2 * c]), tn2_x(bt, z[2 * c + 1]));
                    settled |= (uint64_t)tn2_bits(0, ok[2 * c], ok[2 * c + 1]) << (N * c);
                }
            }
        }
        for (size_t q = 0; q < cnt; q++) {
            const size_t li = bt->rej[r0 + q];
            if (settled >> q & 1) {
                memcpy((unsigned char *)out + li * es, (unsigned char *)xs + q * es, es);
            } else {
                const double v = fi_truncnorm_value(bt->lo[li], bt->hi[li], s, 32 * g0 + li, p);
                fi_store_f64_as(dtype, out, li, v);
            }
        }
    }
}

/* A wide value's u2 for the FI_TN2_SLOTS slots k0.. of batch group gb: their first retry
 * blocks, made here for all, the counters retry_first_blocks makes for batch-local values
 * li = 32*gb + N*k + lane (shift 5): block base + 16*gb + ((N*k) & 15) + lane, slot
 * (N*k) >> 4, as N divides 16. Not by retry_first_blocks itself: from li, every counter
 * word is a vector worked out at run time; here word 3 and the block offsets are constants
 * of the unrolled loop, so the index arithmetic, the conversions of the constant words to
 * the round layout and part of round 1 fold away (on AVX-512, 289 -> 240 instructions for
 * two slots; by li, the uniform and exponential float64 fills were 7-13% slower than the
 * hand-written code this file replaced, which built its counters so). */
FI_FORCE_INLINE void tn2_retry_slots(const simd_keys *rk, uint64_t base, size_t gb, int k0,
                                     v32 w0[FI_CHAINS], v32 w1[FI_CHAINS], v32 w2[FI_CHAINS],
                                     v32 w3[FI_CHAINS])
{
    enum { N = FI_V_LANES };
    const uint64_t b = base + 16 * (uint64_t)gb;
    const v32 lo = set1((uint32_t)b), hi = set1((uint32_t)(b >> 32)), hi1 = set1((uint32_t)(b >> 32) + 1);
    for (int j = 0; j < FI_TN2_SLOTS; j++) {
        const int k = k0 + j;
        w0[j] = add(set1((uint32_t)b + (uint32_t)((N * k) & 15)), iota());
        /* The carry into the high word: the low one wrapped (a blend, as retry_first_blocks). */
        w1[j] = blend(cmplt_u32(w0[j], lo), hi, hi1);
        w2[j] = set1(1);
        w3[j] = set1((uint32_t)((N * k) >> 4));
    }
    philox_vectors(rk, FI_TN2_SLOTS, w0, w1, w2, w3);
}

FI_FORCE_INLINE void produce_truncnorm2_fused(int dtype, int method, const fi_stream *s,
                                              uint64_t g0, size_t ngroups, void *out,
                                              const fi_params *p)
{
    enum { N = FI_V_LANES, P = FI_TN2_SLOTS, SLOTS = 32 / FI_V_LANES };
    _Static_assert(SLOTS % P == 0 && P <= FI_CHAINS, "FI_TN2_SLOTS divides a group's slots");
    _Static_assert(FI_BATCH_GROUPS * 32 <= 65536, "batch indices fit 16 bits");
    const int retry_u2 = dtype == FI_F64 && method >= FI_TN_UNIFORM;
    const uint64_t base = s->counter + 16 * g0;
    simd_keys rk;
    FI_ALIGN64 tn2_batch bt;
    size_t nrej = 0;
    simd_make_keys(s->key, &rk);
    tn2_batch_init(&bt, p);
    for (size_t g = 0; g < ngroups; g += FI_PHILOX_GROUPS) {
        v32 x[4][FI_CHAINS];
        philox_groups_at(&rk, base, g, ngroups, x);
        /* Unrolled where the kernel file says (FI_EMIT_UNROLL, as fused32.inc.h): x, indexed
         * by constants then, stays in the registers. */
FI_UNROLL(FI_EMIT_UNROLL)
        for (int gi = 0; gi < FI_PHILOX_GROUPS; gi++) {
            if (gi > 0 && g + gi >= ngroups) break;
FI_UNROLL(FI_EMIT_UNROLL)
            for (int k0 = 0; k0 < SLOTS; k0 += P) {
                const size_t i = 32 * (g + gi) + N * (size_t)k0;
                v32 lo[FI_CHAINS], hi[FI_CHAINS], w0[FI_CHAINS], w1[FI_CHAINS], w2[FI_CHAINS], w3[FI_CHAINS];
                for (int j = 0; j < P; j++) {
                    const int k = k0 + j, c = gi * FI_SETS + k % FI_SETS;
                    lo[j] = x[2 * (k / FI_SETS)][c];
                    hi[j] = x[2 * (k / FI_SETS) + 1][c];
                    st(bt.lo + i + N * j, lo[j]);
                    st(bt.hi + i + N * j, hi[j]);
                }
                if (retry_u2) tn2_retry_slots(&rk, base, g + gi, k0, w0, w1, w2, w3);
                const uint64_t rej = tn2_emit(dtype, method, &bt, out, i, lo, hi, w0, w1);
                for (int j = 0; j < P; j++)
                    nrej = compress_store_idx(bt.rej, nrej, (uint32_t)(i + N * (size_t)j),
                                              mask_from_bits((uint32_t)(rej >> (N * j))));
            }
        }
    }
    if (nrej) tn2_finish(dtype, method, &bt, nrej, s, g0, &rk, out, p);
}

/* The cases of two words per value (from simd/truncnorm.inc.h's produce_truncnorm), one specialized
 * loop per (dtype, proposal): the normal and half-normal in float64, the uniform and
 * exponential in every dtype; no attempts at all (only the exact fallback) and the
 * proposal-free methods go to kernels.inc.h's loop. */
static void produce_truncnorm2(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                               void *out, const fi_params *p)
{
    const int m = p->method;
    if (p->max_attempts > 0 && m <= FI_TN_EXP) {
#define CASE(T, M) if (dtype == T && m == M) { produce_truncnorm2_fused(T, M, s, g0, ngroups, out, p); return; }
#define PROPS(T) CASE(T, FI_TN_UNIFORM) CASE(T, FI_TN_EXP)
        CASE(FI_F64, FI_TN_NORMAL) CASE(FI_F64, FI_TN_FOLDED)
        PROPS(FI_F64) PROPS(FI_F32) PROPS(FI_BF16) PROPS(FI_F16)
#undef PROPS
#undef CASE
    }
    produce_truncnorm_scalar(dtype, s, g0, ngroups, out, p);
}
