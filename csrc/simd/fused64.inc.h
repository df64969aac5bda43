/*
 * simd/fused64.inc.h -- the float64 uniform and normal fills, fused with Philox and written
 * once over the op layer.
 *
 * Included by a kernel file after its op header, simd/philox.inc.h, simd/vmath.inc.h and
 * simd/retry.inc.h, before kernels.inc.h, whose produce64 (uniform64, ziggurat64, normal64)
 * this replaces with the same bits. A float64 value takes two words: value 16*h + j of a group
 * takes word 2h of block j as its low word and word 2h + 1 as its high one, r = hi << 32 | lo.
 * Philox leaves a word of N blocks in one vector, so N values are two vectors, lo and hi;
 * pair_u32 makes them N 64-bit lanes, in the order the target shuffles cheapest, the values are
 * made lane by lane, and st_pair_f64 stores them in value order.
 *
 * The uniform: u = hi * 2**-32 + (lo >> 11) * 2**-53 (53 bits, exact), x = (a + b*u)*m clamped
 * to [lo, hi]. The normal: the ziggurat's fast path, layer r & 0xff, sign bit 8, position
 * u = r >> 12 (52 bits), z = u * w64[layer], accepted when u < k64[layer]; x = a + b*z. Its
 * bound is tested on the 32-bit words, N lanes at once, against the float32 table, as
 * k32 = k64 >> 29 (both are floor(2**bits * x[i+1]/x[i]): tools/gen_ziggurat_tables.py; checked
 * by tests/c/simd_check.c) and u >> 29 = hi >> 9, so that u >= k64 implies hi >> 9 >= k32: one
 * gather of N 32-bit entries rather than two of N/2 64-bit ones. The lanes so flagged are the
 * rejected ones and, once in about 2**23 draws, a draw with hi >> 9 = k32 that is in fact in the
 * fast region: the settle tests the 64-bit bound again and leaves such a draw to
 * fi_normal_slow_f64, which starts with the same test and returns the fast path's value.
 *
 * The flagged values are listed by index (compress_store_idx, branch-free), their words kept
 * (the batch's words, two stores per N values, in L1), and finished after the batch as
 * fused32.inc.h does for float32: the wedge accepted or a redraw in a fast region in vectors,
 * the rest (the tail, layer 0, longer chains) by the scalar slow path every target shares.
 * Every vector operation is one the scalar code does, in the same order (or an exact
 * conversion of the same integer), so the bits are the scalar path's.
 */
#define FI_HAVE_PRODUCE64

typedef struct {
    uint32_t words[FI_BATCH_GROUPS * 64];             /* the batch's words, for the rejects */
    uint16_t rej[FI_BATCH_GROUPS * 32 + FI_CHAINS * FI_V_LANES]; /* batch-local indices, spare */
    vf64 a, b, m, lo, hi;
} fused64_batch;

/* ziggurat64's fast-path value of 64-bit words r (the bound aside): z = u * w64[layer], signed
 * by bit 8 (or-ed in, as the scalar path: u * w is never negative). */
FI_FORCE_INLINE vf64 zig64_fast(const fi_zig *t, v64 r)
{
    const v64 idx = and_u64(r, set1_u64(0xff));
    const vf64 v = mul_f64(cvt_u52_f64(shr_u64(r, 12)), gather64_f64(t->w64, idx));
    return as_f64(or_u64(as_u64(v), shl_u64(and_u64(r, set1_u64(0x100)), 55)));
}

/* N values from their low and high words, values i.. of the batch (words wi.. and wi + 16..);
 * returns the lanes whose normal draw the fast path may reject (none for the uniform). unit:
 * a = +0, b = m = 1 (random(), standard_normal()), where the uniform's affine step and clamps
 * change nothing and the normal's only turns -0 into +0. */
FI_FORCE_INLINE vmask emit64(int dist, int unit, fused64_batch *bt, double *out, size_t i,
                             size_t wi, v32 lo, v32 hi)
{
    v64 r[2];
    vf64 x[2];
    vmask rej = mask_none();
    pair_u32(lo, hi, &r[0], &r[1]);
    if (dist == FI_NORMAL) {
        rej = cmpge_u32(shr(hi, 9), gather_u32(fi_zig_normal.k32, and_(lo, set1(0xffu))));
        st(bt->words + wi, lo);
        st(bt->words + wi + 16, hi);
    }
    for (int h = 0; h < 2; h++) {
        if (dist == FI_UNIFORM) {
            const vf64 uh = cvt_u52_f64(shr_u64(r[h], 32));
            const vf64 ul = cvt_u52_f64(and_u64(shr_u64(r[h], 11), set1_u64(0x1fffff)));
            x[h] = add_f64(mul_f64(uh, set1_f64(0x1p-32)), mul_f64(ul, set1_f64(0x1p-53)));
            if (!unit) {
                x[h] = mul_f64(add_f64(bt->a, mul_f64(bt->b, x[h])), bt->m);
                x[h] = max_f64(bt->lo, x[h]);       /* x < lo ? lo : x */
                x[h] = min_f64(bt->hi, x[h]);       /* x > hi ? hi : x */
            }
        } else {
            const vf64 z = zig64_fast(&fi_zig_normal, r[h]);
            x[h] = unit ? add_f64(set1_f64(0.0), z) : add_f64(bt->a, mul_f64(bt->b, z));
        }
    }
    st_pair_f64(out + i, x[0], x[1]);
    return rej;
}

/* The flagged draws rej[r0..] of a batch, nc * FI_V_LANES of them (nc <= FI_CHAINS vectors, a
 * constant where inlined), finished as normal64 does (fi_normal_slow_f64), but what the slow
 * path does first done in vectors:
 *   - the first retry block of each (retry_first_blocks, 32 values a group);
 *   - the 64-bit bound again (a draw in the fast region goes to the slow path, see above);
 *   - the wedge test of zig64 with 53 bits of height from the block's words 0-1,
 *     u1 = ((w1 << 32 | w0) >> 11) + 1) * 2**-53, and if it fails, the redraw from words 2-3
 *     when that lands in a layer's fast region.
 * The others (the tail, layer 0, longer chains) go to fi_normal_slow_f64 with their retry
 * block; it starts over and so takes the same steps. Lanes past the list's end read its spare
 * entries, masked into the batch: their results are not used. */
FI_FORCE_INLINE void settle64(int nc, const fused64_batch *bt, size_t r0, size_t cnt,
                              const fi_stream *s, uint64_t g0, const simd_keys *rk, double *out,
                              const fi_params *p)
{
    enum { N = FI_V_LANES, PER = FI_CHAINS * FI_V_LANES };
    _Static_assert(PER <= 64, "one bit a draw in a uint64_t");
    const fi_zig *t = &fi_zig_normal;
    const uint32_t all = (uint32_t)((1ull << N) - 1);
    const v64 low8 = set1_u64(0xff), zero = set1_u64(0);
    v32 li[FI_CHAINS], c0[FI_CHAINS], c1[FI_CHAINS], c2[FI_CHAINS], c3[FI_CHAINS];
    v64 r[2 * FI_CHAINS], next[2 * FI_CHAINS];
    vf64 x[2 * FI_CHAINS], y[2 * FI_CHAINS], e[2 * FI_CHAINS];
    FI_ALIGN64 uint32_t w[4][PER];
    FI_ALIGN64 double zx[PER], z2[PER];
    uint64_t accept = 0, redraw = 0;
    for (int c = 0; c < nc; c++)
        li[c] = and_(ld_u16(bt->rej + r0 + N * c), set1(FI_BATCH_GROUPS * 32 - 1));
    retry_first_blocks(rk, s->counter + 16 * g0, 5, nc, li, c0, c1, c2, c3);
    for (int c = 0; c < nc; c++) {
        /* The draw's words: value li is word (li >> 4)*32 + (li & 15) and 16 past it. */
        const v32 wl = add(shl(shr(li[c], 4), 5), and_(li[c], set1(15)));
        v64 h53[2];
        pair_u32(gather_u32(bt->words, wl), gather_u32(bt->words, add(wl, set1(16))), &r[2 * c], &r[2 * c + 1]);
        pair_u32(c0[c], c1[c], &h53[0], &h53[1]);
        pair_u32(c2[c], c3[c], &next[2 * c], &next[2 * c + 1]);
        for (int h = 0; h < 2; h++) {
            const int j = 2 * c + h;
            const v64 idx = and_u64(r[j], low8);
            x[j] = mul_f64(mul_f64(cvt_u52_f64(shr_u64(r[j], 12)), set1_f64(0x1p-52)), gather64_f64(t->x, idx));
            const vf64 f0 = gather64_f64(t->f, idx), f1 = gather64_f64(t->f, add_u64(idx, set1_u64(1)));
            /* (h53 >> 11) + 1 is up to 2**53, past cvt_u52_f64: it is hi * 2**21 +
             * (lo >> 11) + 1, each step exact. */
            const vf64 hd = add_f64(add_f64(mul_f64(cvt_u52_f64(shr_u64(h53[h], 32)), set1_f64(0x1p21)),
                                            cvt_u52_f64(and_u64(shr_u64(h53[h], 11), set1_u64(0x1fffff)))),
                                    set1_f64(1.0));
            const vf64 u1 = mul_f64(hd, set1_f64(0x1p-53));
            y[j] = add_f64(f0, mul_f64(u1, sub_f64(f1, f0)));
            e[j] = mul_f64(mul_f64(set1_f64(-0.5), x[j]), add_f64(x[j], set1_f64(t->two_offset)));
        }
    }
    exp_f64(e, 2 * nc);
    for (int c = 0; c < nc; c++) {
        const int a = 2 * c, b = 2 * c + 1;
        v64 ia = and_u64(r[a], low8), ib = and_u64(r[b], low8);
        /* Flagged but in the fast region after all: to the slow path. */
        const uint32_t fast = pair_mask_bits(cmplt_u64(shr_u64(r[a], 12), gather64_u64(t->k64, ia)),
                                             cmplt_u64(shr_u64(r[b], 12), gather64_u64(t->k64, ib)));
        /* Layer 0 is the tail's (t->tail): the scalar path's. */
        const uint32_t wedge = ~fast & (t->tail ? pair_mask_bits(cmplt_u64(zero, ia), cmplt_u64(zero, ib)) : all);
        const uint32_t acc = wedge & pair_mask_bits(cmplt_f64(y[a], e[a]), cmplt_f64(y[b], e[b]));
        const v64 sa = shl_u64(and_u64(r[a], set1_u64(0x100)), 55), sb = shl_u64(and_u64(r[b], set1_u64(0x100)), 55);
        st_pair_f64(zx + N * c, as_f64(or_u64(as_u64(x[a]), sa)), as_f64(or_u64(as_u64(x[b]), sb)));
        /* The redraw, as the fast path: the retry block's words 2-3. */
        ia = and_u64(next[a], low8);
        ib = and_u64(next[b], low8);
        const uint32_t fast2 = pair_mask_bits(cmplt_u64(shr_u64(next[a], 12), gather64_u64(t->k64, ia)),
                                              cmplt_u64(shr_u64(next[b], 12), gather64_u64(t->k64, ib)));
        st_pair_f64(z2 + N * c, zig64_fast(t, next[a]), zig64_fast(t, next[b]));
        accept |= (uint64_t)(acc & all) << (N * c);
        redraw |= (uint64_t)(wedge & ~acc & fast2 & all) << (N * c);
    }
    for (int c = 0; c < nc; c++) {
        st(w[0] + N * c, c0[c]);
        st(w[1] + N * c, c1[c]);
        st(w[2] + N * c, c2[c]);
        st(w[3] + N * c, c3[c]);
    }
    for (size_t q = 0; q < cnt; q++) {
        const size_t l = bt->rej[r0 + q], wl = (l >> 4) * 32 + (l & 15);
        double z;
        if (accept >> q & 1) z = zx[q];
        else if (redraw >> q & 1) z = z2[q];
        else {
            const uint32_t retry1[4] = {w[0][q], w[1][q], w[2][q], w[3][q]};
            const uint64_t words = (uint64_t)bt->words[wl + 16] << 32 | bt->words[wl];
            z = fi_normal_slow_f64(words, s, 32 * g0 + l, retry1);
        }
        out[l] = p->a + p->b * z;
    }
}

/* The flagged draws of a batch, settled FI_CHAINS vectors at a time, and the last few with as
 * many vectors as they fill: a batch has 1024 values and about 13 flagged, so a settle of all
 * the chains would mostly compute unused lanes. */
static void finish_rejected64(const fused64_batch *bt, size_t nrej, const fi_stream *s,
                              uint64_t g0, const simd_keys *rk, double *out, const fi_params *p)
{
    enum { N = FI_V_LANES, HALF = FI_CHAINS >= 2 ? FI_CHAINS / 2 : 1 };
    size_t r0 = 0;
    for (; r0 < nrej && nrej - r0 > HALF * N; r0 += FI_CHAINS * N) {
        const size_t cnt = nrej - r0 < FI_CHAINS * N ? nrej - r0 : FI_CHAINS * N;
        settle64(FI_CHAINS, bt, r0, cnt, s, g0, rk, out, p);
    }
    if (r0 < nrej) {
        if (nrej - r0 > N) settle64(HALF, bt, r0, nrej - r0, s, g0, rk, out, p);
        else settle64(1, bt, r0, nrej - r0, s, g0, rk, out, p);
    }
}

FI_FORCE_INLINE void produce64_fused(int dist, int unit, const fi_stream *s, uint64_t g0,
                                     size_t ngroups, double *out, const fi_params *p)
{
    _Static_assert(FI_BATCH_GROUPS * 32 <= 65536, "batch indices fit 16 bits");
    simd_keys rk;
    FI_ALIGN64 fused64_batch bt;
    size_t nrej = 0;
    simd_make_keys(s->key, &rk);
    bt.a = set1_f64(p->a);
    bt.b = set1_f64(p->b);
    bt.m = set1_f64(p->m);
    bt.lo = set1_f64(p->lo);
    bt.hi = set1_f64(p->hi);
    for (size_t g = 0; g < ngroups; g += FI_PHILOX_GROUPS) {
        v32 x[4][FI_CHAINS];
        philox_groups_at(&rk, s->counter + 16 * g0, g, ngroups, x);
        for (int gi = 0; gi < FI_PHILOX_GROUPS && g + gi < ngroups; gi++)
            for (int h = 0; h < 2; h++)             /* half-groups: words 0-1, then 2-3 */
                for (int c = 0; c < FI_SETS; c++) {
                    const size_t i = 32 * (g + gi) + 16 * (size_t)h + FI_V_LANES * (size_t)c;
                    const size_t wi = 64 * (g + gi) + 32 * (size_t)h + FI_V_LANES * (size_t)c;
                    const int k = gi * FI_SETS + c;
                    const vmask rj = emit64(dist, unit, &bt, out, i, wi, x[2 * h][k], x[2 * h + 1][k]);
                    if (dist == FI_NORMAL) nrej = compress_store_idx(bt.rej, nrej, (uint32_t)i, rj);
                }
    }
    if (nrej) finish_rejected64(&bt, nrej, s, g0, &rk, out, p);
}

/* One specialized loop per (distribution, unit): unit when the affine step changes nothing
 * (see emit64): a = +0, b = m = 1 and, for the uniform, clamps [lo, hi] holding [0, 1). */
static void produce64(int dist, const fi_stream *s, uint64_t g0, size_t ngroups, double *out,
                      const fi_params *p)
{
    const int unit = fi_f64_bits(p->a) == 0 && p->b == 1.0 && p->m == 1.0
                     && (dist == FI_NORMAL || (p->lo <= 0.0 && p->hi >= 1.0 - 0x1p-53));
    if (dist == FI_UNIFORM) {
        if (unit) produce64_fused(FI_UNIFORM, 1, s, g0, ngroups, out, p);
        else produce64_fused(FI_UNIFORM, 0, s, g0, ngroups, out, p);
    } else {
        if (unit) produce64_fused(FI_NORMAL, 1, s, g0, ngroups, out, p);
        else produce64_fused(FI_NORMAL, 0, s, g0, ngroups, out, p);
    }
}
