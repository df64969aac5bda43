/*
 * simd/truncnorm.inc.h -- the truncated normal fused with Philox, written once over the op
 * layer: the normal and half-normal proposals in float16, bfloat16 and float32, one word per
 * value (fi_truncnorm_one_word), as fi_truncnorm_z32 and kernels.inc.h's produce_truncnorm
 * make them.
 *
 * Included by a kernel file after its op header, simd/philox.inc.h, simd/vmath.inc.h,
 * simd/fused32.inc.h (for store_as) and simd/truncnorm2.inc.h, before kernels.inc.h, whose
 * produce_truncnorm this replaces; the cases of two words per value (the uniform and
 * exponential proposals, float64) go to simd/truncnorm2.inc.h's produce_truncnorm2, no
 * attempts at all to kernels.inc.h's loop, produce_truncnorm_scalar.
 *
 * Each vector of words is a first proposal: a draw of the interval's ziggurat (fi_tn_zig),
 * accepted when it lies in its layer's fast region and inside [alpha, beta], then stored as
 * normal() would store it (the affine step, the clamp to [lo, hi], the narrowing). The rest
 * are listed by index and finished after the batch: a first draw outside the fast region as
 * the ziggurat's slow path goes on (a wedge accepted, a redraw in the fast region: retry
 * words 0 and 1), then, while a draw lands in the fast region but outside the bounds, the
 * next proposal from the next word of the value's first retry block; the others (the tail,
 * a later slow draw, the block used up) are started over by fi_truncnorm_z32. Every vector
 * operation is one the scalar code does, in the same order, so the bits are the scalar
 * path's. The algorithm was kernels_avx512.c's produce_truncnorm32_fused, on any lane count.
 */
#define FI_HAVE_TRUNCNORM

/* How x = a + b*z is made: as fused32.inc.h's modes, and TN_AFFINE_UNIT_INSIDE for x = +-z
 * whose clamp cannot act on an accepted value ([alpha, beta] lies inside [lo, hi]), so is
 * skipped (a rejected lane's value is stored again when it is settled). */
enum { TN_AFFINE_FLOAT, TN_AFFINE_DOUBLE, TN_AFFINE_UNIT, TN_AFFINE_UNIT_INSIDE };

typedef struct {
    uint32_t words[FI_BATCH_GROUPS * 64];             /* every value's word, for the rejects */
    uint16_t rej[FI_BATCH_GROUPS * 64 + FI_CHAINS * FI_V_LANES]; /* batch-local indices, spare */
    const fi_zig *zt;                                 /* the proposal's ziggurat */
    vf32 a, b, lo, hi;
    vf32 alpha, beta;           /* as floats: tn_float_ceil(alpha), tn_float_floor(beta) */
    vf32 offset;                /* the half-normal proposal's z = offset + |d| */
    vf64 ad, bd;
} tn32_batch;

/* The float thresholds equivalent to comparing a float z with the double alpha and beta:
 * (double)z >= alpha exactly when z >= the least float >= alpha. */
static float tn_float_ceil(double x)
{
    float f = (float)x;
    return (double)f < x ? nextafterf(f, INFINITY) : f;
}

static float tn_float_floor(double x)
{
    float f = (float)x;
    return (double)f > x ? nextafterf(f, -INFINITY) : f;
}

static inline void tn32_batch_init(tn32_batch *bt, const fi_params *p)
{
    bt->zt = fi_tn_zig(p);
    bt->a = set1_f32((float)p->a);
    bt->b = set1_f32((float)p->b);
    bt->lo = set1_f32((float)p->lo);
    bt->hi = set1_f32((float)p->hi);
    bt->alpha = set1_f32(tn_float_ceil(p->alpha));
    bt->beta = set1_f32(tn_float_floor(p->beta));
    bt->offset = set1_f32(bt->zt->offset);
    bt->ad = set1_f64(p->a);
    bt->bd = set1_f64(p->b);
}

/* The layer width (as float) and fast-path bound of each lane's draw: entry (word & 0xff)
 * of the ziggurat's packed table, one lookup for both. */
FI_FORCE_INLINE void tn_layer(const fi_zig *t, v32 word, vf32 *wt, v32 *kt)
{
    v32 w;
    gather_pair_u32(t->wk32, and_(word, set1(0xffu)), &w, kt);
    *wt = as_f32(w);
}

/* The 32-bit ziggurat's fast path on a vector of words, given their layers' width wt and
 * bound kt: z = u * wt, signed by bit 8 unless half, where z = offset + |d|
 * (fi_truncnorm_z32's fabsf(z) + offset), and in *fast the lanes inside their layer's
 * rectangle. */
FI_FORCE_INLINE vf32 tn_draw_at(const tn32_batch *bt, int half, v32 word, vf32 wt, v32 kt,
                                vmask *fast)
{
    const v32 u = shr(word, 9);
    vf32 z = mul_f32(cvt_i32_f32(u), wt);
    if (half) z = add_f32(z, bt->offset);
    else z = as_f32(or_and(as_u32(z), shl(word, 23), set1(0x80000000u)));   /* bit 8: sign */
    *fast = cmplt_u32(u, kt);
    return z;
}

/* tn_draw_at with the layer looked up. */
FI_FORCE_INLINE vf32 tn_draw(const tn32_batch *bt, int half, v32 word, vmask *fast)
{
    vf32 wt;
    v32 kt;
    tn_layer(bt->zt, word, &wt, &kt);
    return tn_draw_at(bt, half, word, wt, kt, fast);
}

FI_FORCE_INLINE vmask tn_inside(const tn32_batch *bt, vf32 z)
{
    return mask_and(cmple_f32(bt->alpha, z), cmple_f32(z, bt->beta));
}

/* fi_truncnorm_x32 of z (negated when mirrored: z >= 0 there, as the proposal is the
 * half-normal's, so the sign bit set is -z): the affine step as normal() makes it, then the
 * clamp. m is 1 for a truncated normal, so fi_affine32's product with it is left out. */
FI_FORCE_INLINE vf32 tn_x32(int mode, int mirror, const tn32_batch *bt, vf32 z)
{
    if (mirror) z = as_f32(or_(as_u32(z), set1(0x80000000u)));
    vf32 x;
    if (mode == TN_AFFINE_UNIT || mode == TN_AFFINE_UNIT_INSIDE) {
        x = add_f32(set1_f32(0.0f), z);
    } else if (mode == TN_AFFINE_DOUBLE) {
        x = cvt_f64_f32(add_f64(bt->ad, mul_f64(bt->bd, cvtlo_f32_f64(z))),
                        add_f64(bt->ad, mul_f64(bt->bd, cvthi_f32_f64(z))));
    } else {
        x = add_f32(bt->a, mul_f32(bt->b, z));
    }
    if (mode == TN_AFFINE_UNIT_INSIDE) return x;
    return min_f32(bt->hi, max_f32(bt->lo, x));    /* x < lo ? lo : x, then x > hi ? hi : x */
}

/* Values i.. of the batch from one vector of words v (their layers wt, kt): each stored as
 * its first proposal makes it; returns the lanes that proposal does not settle (outside the
 * fast region or the bounds), whose stores tn_finish32 makes again. */
FI_FORCE_INLINE vmask tn_emit32(int dtype, int mode, int half, int mirror, tn32_batch *bt,
                                void *out, size_t i, v32 v, vf32 wt, v32 kt)
{
    vmask fast;
    const vf32 z = tn_draw_at(bt, half, v, wt, kt, &fast);
    store_as(dtype, out, i, tn_x32(mode, mirror, bt, z));
    st(bt->words + i, v);
    return mask_andnot(mask_all(), mask_and(fast, tn_inside(bt, z)));
}

/* The values a batch's first proposals did not settle, FI_CHAINS * FI_V_LANES at a time with
 * their first retry blocks, counter (block, 1, slot) as fused32.inc.h's finish_rejected32
 * makes them, as fi_truncnorm_z32 goes on from there:
 *   - a first draw outside the fast region, as the ziggurat's slow path (zig32): the wedge
 *     test with retry word 0, and if it fails the redraw from word 1 when that lands in the
 *     fast region; then the bounds;
 *   - while a proposal lands in the fast region but outside the bounds (a first one settled
 *     by the ziggurat reads on from word 1 or 2, the others from word 0), the next
 *     proposal is the fast draw of the next word, up to max_attempts proposals.
 * Lanes that need more start over on fi_truncnorm_z32. Lanes past nrej read the list's spare
 * entries, masked into the batch: their results are not used. */
static void tn_finish32(int dtype, int mode, int half, int mirror, const tn32_batch *bt,
                        size_t nrej, const fi_stream *s, uint64_t g0, const simd_keys *rk,
                        void *out, const fi_params *p)
{
    enum { N = FI_V_LANES, PER = FI_CHAINS * FI_V_LANES, HALF = FI_V_LANES / 2 };
    _Static_assert(PER <= 64, "a batch's lanes as bits of a uint64_t");
    const fi_zig *t = bt->zt;
    const size_t es = fi_itemsize(dtype);
    const uint64_t base = s->counter + 16 * g0;
    const v32 base_lo = set1((uint32_t)base), base_hi = set1((uint32_t)(base >> 32));
    const v32 one = set1(1), low8 = set1(0xffu), sign = set1(0x100u);
    for (size_t r0 = 0; r0 < nrej; r0 += PER) {
        const size_t cnt = nrej - r0 < PER ? nrej - r0 : PER;
        const uint64_t valid = cnt >= 64 ? ~0ull : (1ull << cnt) - 1;
        v32 w[4][FI_CHAINS], word[FI_CHAINS];
        vf32 z[FI_CHAINS];
        vmask first_fast[FI_CHAINS], slow[FI_CHAINS], wacc[FI_CHAINS];
        uint64_t fast_bits = 0;
        for (int c = 0; c < FI_CHAINS; c++) {
            const v32 li = and_(ld_u16(bt->rej + r0 + N * c), set1(FI_BATCH_GROUPS * 64 - 1));
            const v32 off = add(shl(shr(li, 6), 4), and_(li, set1(15)));
            word[c] = gather_u32(bt->words, li);
            w[0][c] = add(base_lo, off);
            w[1][c] = blend(cmplt_u32(w[0][c], off), base_hi, add(base_hi, one));   /* the carry */
            w[2][c] = one;
            w[3][c] = shr(and_(li, set1(63)), 4);
            first_fast[c] = cmplt_u32(shr(word[c], 9), gather_u32(t->k32, and_(word[c], low8)));
            fast_bits |= (uint64_t)mask_bits(first_fast[c]) << (N * c);
            z[c] = set1_f32(0.0f);
            slow[c] = wacc[c] = mask_none();
        }
        philox_vectors(rk, FI_CHAINS, w[0], w[1], w[2], w[3]);
        if (~fast_bits & valid) {
            /* zig32's wedge: x = u * 2**-23 * x[idx], y = f[idx] + u1 * (f[idx+1] - f[idx])
             * with u1 = retry word 0 * 2**-32, accepted when y < exp(-0.5 * x * (x +
             * two_offset)); layer 0 is the tail's where t->tail (left to the scalar). */
            vf64 x[2 * FI_CHAINS], y[2 * FI_CHAINS], e[2 * FI_CHAINS];
            for (int c = 0; c < FI_CHAINS; c++) {
                const v32 idx = and_(word[c], low8), u = shr(word[c], 9);
                for (int h = 0; h < 2; h++) {
                    const int j = 2 * c + h;
                    x[j] = mul_f64(mul_f64(cvt_i32_f64(u, h), set1_f64(0x1p-23)), gather_f64(t->x, idx, h));
                    const vf64 f0 = gather_f64(t->f, idx, h), f1 = gather_f64(t->f, add(idx, one), h);
                    const vf64 u1 = mul_f64(cvt_u32_f64(w[0][c], h), set1_f64(0x1p-32));
                    y[j] = add_f64(f0, mul_f64(u1, sub_f64(f1, f0)));
                    e[j] = mul_f64(mul_f64(set1_f64(-0.5), x[j]), add_f64(x[j], set1_f64(t->two_offset)));
                }
            }
            exp_f64(e, 2 * FI_CHAINS);
            for (int c = 0; c < FI_CHAINS; c++) {
                const vmask wedge = t->tail ? cmpge_u32(and_(word[c], low8), one) : mask_all();
                const vmask acc = mask_and(wedge, mask_from_bits(mask64_bits(cmplt_f64(y[2 * c], e[2 * c]))
                                           | mask64_bits(cmplt_f64(y[2 * c + 1], e[2 * c + 1])) << HALF));
                const vf32 zx = as_f32(or_(as_u32(cvt_f64_f32(x[2 * c], x[2 * c + 1])),
                                           shl(and_(word[c], sign), 23)));
                /* The redraw, signed: z32 takes |z| itself below when half. */
                const v32 r1 = w[1][c], u2 = shr(r1, 9);
                vf32 wt;
                v32 kt;
                tn_layer(t, r1, &wt, &kt);
                const vf32 z2 = as_f32(or_(as_u32(mul_f32(cvt_i32_f32(u2), wt)), shl(and_(r1, sign), 23)));
                const vmask red = mask_andnot(mask_and(wedge, cmplt_u32(u2, kt)), acc);
                z[c] = as_f32(blend(red, as_u32(zx), as_u32(z2)));
                slow[c] = mask_andnot(mask_or(acc, red), first_fast[c]);
                wacc[c] = acc;
            }
        }
        /* Where each lane stands: done, or alive (its last proposal in the fast region but
         * outside the bounds), and the retry word its next proposal reads: 0, or 1 (at1:
         * the wedge read word 0) or 2 (at2: the redraw read word 1). */
        vmask done[FI_CHAINS], alive[FI_CHAINS], at1[FI_CHAINS], at2[FI_CHAINS];
        for (int c = 0; c < FI_CHAINS; c++) {
            if (half) z[c] = add_f32(as_f32(and_(as_u32(z[c]), set1(0x7fffffffu))), bt->offset);
            const vmask inside = tn_inside(bt, z[c]);
            done[c] = mask_and(slow[c], inside);
            alive[c] = mask_or(first_fast[c], mask_andnot(slow[c], inside));
            at1[c] = mask_and(slow[c], wacc[c]);
            at2[c] = mask_andnot(slow[c], wacc[c]);
        }
        for (int k = 0; k < 4 && p->max_attempts >= (uint32_t)k + 2; k++) {
            uint64_t any = 0;
            for (int c = 0; c < FI_CHAINS; c++) any |= (uint64_t)mask_bits(alive[c]) << (N * c);
            if (!(any & valid)) break;
            for (int c = 0; c < FI_CHAINS; c++) {
                /* Word k, k + 1 or k + 2 of the block; past word 3 the block is used up. */
                v32 cand = w[k][c];
                if (k + 1 < 4) cand = blend(at1[c], cand, w[k + 1][c]);
                else alive[c] = mask_andnot(alive[c], at1[c]);
                if (k + 2 < 4) cand = blend(at2[c], cand, w[k + 2][c]);
                else alive[c] = mask_andnot(alive[c], at2[c]);
                vmask fast;
                const vf32 zc = tn_draw(bt, half, cand, &fast);
                const vmask ok = mask_and(mask_and(alive[c], fast), tn_inside(bt, zc));
                z[c] = as_f32(blend(ok, as_u32(z[c]), as_u32(zc)));
                done[c] = mask_or(done[c], ok);
                alive[c] = mask_andnot(mask_and(alive[c], fast), ok);
            }
        }
        /* The settled values made in vectors, in the dtype; only their stores are scalar. */
        FI_ALIGN64 unsigned char xs[PER * 4];
        uint64_t settled = 0;
        for (int c = 0; c < FI_CHAINS; c++) {
            settled |= (uint64_t)mask_bits(done[c]) << (N * c);
            store_as(dtype, xs, (size_t)(N * c), tn_x32(mode, mirror, bt, z[c]));
        }
        for (size_t q = 0; q < cnt; q++) {
            const size_t li = bt->rej[r0 + q];
            if (settled >> q & 1) {
                memcpy((unsigned char *)out + li * es, xs + q * es, es);
            } else {
                const float zq = fi_truncnorm_z32(bt->words[li], s, 64 * g0 + li, p);
                fi_store_f32_as(dtype, out, li, fi_truncnorm_x32(dtype, p, zq));
            }
        }
    }
}

FI_FORCE_INLINE void produce_truncnorm32_fused(int dtype, int mode, int half, int mirror,
                                               const fi_stream *s, uint64_t g0, size_t ngroups,
                                               void *out, const fi_params *p)
{
    _Static_assert(FI_BATCH_GROUPS * 64 <= 65536, "batch indices fit 16 bits");
    simd_keys rk;
    FI_ALIGN64 tn32_batch bt;
    size_t nrej = 0;
    simd_make_keys(s->key, &rk);
    tn32_batch_init(&bt, p);
    for (size_t g = 0; g < ngroups; g += FI_PHILOX_GROUPS) {
        v32 x[4][FI_CHAINS];
        philox_groups_at(&rk, s->counter + 16 * g0, g, ngroups, x);
        /* As fused32.inc.h's produce32_fused: unrolled where the kernel file says (x then
         * stays in registers), a group's vectors four at a time in value order, so that the
         * layers' lookups (zig_lookup4) and the reject list (compress_store_idx4) see a
         * whole group on AVX-512. */
FI_UNROLL(FI_EMIT_UNROLL)
        for (int gi = 0; gi < FI_PHILOX_GROUPS; gi++) {
            if (gi > 0 && g + gi >= ngroups) break;
FI_UNROLL(FI_EMIT_UNROLL)
            for (int q = 0; q < 64 / FI_V_LANES; q += 4) {
                const size_t i = 64 * (g + gi) + FI_V_LANES * (size_t)q;
                v32 v[4], kt[4];
                vf32 wt[4];
                vmask r[4];
                for (int j = 0; j < 4; j++)
                    v[j] = x[(q + j) / FI_SETS][gi * FI_SETS + (q + j) % FI_SETS];
                zig_lookup4(bt.zt, v, wt, kt);
                for (int j = 0; j < 4; j++)
                    r[j] = tn_emit32(dtype, mode, half, mirror, &bt, out, i + FI_V_LANES * (size_t)j,
                                     v[j], wt[j], kt[j]);
                nrej = compress_store_idx4(bt.rej, nrej, (uint32_t)i, r);
            }
        }
    }
    if (nrej) tn_finish32(dtype, mode, half, mirror, &bt, nrej, s, g0, &rk, out, p);
}

/* One specialized loop per (dtype, affine mode, proposal, side), as produce32. */
static void produce_truncnorm32(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                                void *out, const fi_params *p)
{
    int mode = fi_f64_bits(p->a) == 0 && p->b == 1.0 && p->m == 1.0 ? TN_AFFINE_UNIT
             : dtype == FI_F32 && !fi_affine32_exact(p) ? TN_AFFINE_DOUBLE : TN_AFFINE_FLOAT;
    const int half = p->method == FI_TN_FOLDED, mirror = p->mirror;
    if (mode == TN_AFFINE_UNIT) {
        /* x = z or -z: with [alpha, beta] (as floats) inside [lo, hi], the clamp never acts
         * on an accepted value. */
        const float af = tn_float_ceil(p->alpha), bf = tn_float_floor(p->beta);
        const float xl = mirror ? -bf : af, xh = mirror ? -af : bf;
        if ((float)p->lo <= xl && xh <= (float)p->hi) mode = TN_AFFINE_UNIT_INSIDE;
    }
#define CASE(T, M, H, R) \
    if (dtype == T && mode == M && half == H && mirror == R) { \
        produce_truncnorm32_fused(T, M, H, R, s, g0, ngroups, out, p); return; }
    /* A normal proposal (the interval holds 0) is never mirrored. */
#define SIDES(T, M) CASE(T, M, 0, 0) CASE(T, M, 1, 0) CASE(T, M, 1, 1)
    SIDES(FI_F32, TN_AFFINE_FLOAT) SIDES(FI_F32, TN_AFFINE_DOUBLE) SIDES(FI_F32, TN_AFFINE_UNIT)
    SIDES(FI_F32, TN_AFFINE_UNIT_INSIDE) SIDES(FI_BF16, TN_AFFINE_FLOAT) SIDES(FI_BF16, TN_AFFINE_UNIT)
    SIDES(FI_BF16, TN_AFFINE_UNIT_INSIDE) SIDES(FI_F16, TN_AFFINE_FLOAT) SIDES(FI_F16, TN_AFFINE_UNIT)
    SIDES(FI_F16, TN_AFFINE_UNIT_INSIDE)
#undef SIDES
#undef CASE
    produce_truncnorm_scalar(dtype, s, g0, ngroups, out, p);
}

static void produce_truncnorm(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                              void *out, const fi_params *p)
{
    if (p->max_attempts > 0 && fi_truncnorm_one_word(dtype, p))
        produce_truncnorm32(dtype, s, g0, ngroups, out, p);
    else
        produce_truncnorm2(dtype, s, g0, ngroups, out, p);
}
