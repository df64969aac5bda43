/*
 * simd/fused32.inc.h -- the 16/32-bit uniform and normal fills, fused with Philox and
 * written once over the op layer.
 *
 * Included by a kernel file after its op header and simd/philox.inc.h, before kernels.inc.h,
 * whose produce32 this replaces. kernels.inc.h's loops make the words of a batch, store
 * them, and read them back once per step (words, then values, then the rejects, then the
 * affine step, then the narrowing); here each vector of words goes from
 * Philox's registers through the whole computation to the output, and only the words of the
 * normal are kept (one aligned store), for the rare rejected draws. Those are listed by index
 * (compress_store_idx, branch-free) and finished after the batch: the common cases (a wedge
 * accepted, a redraw in the fast region) in vectors, the rest by the scalar slow path every
 * target shares, fi_normal_slow_f32, as kernels.inc.h's normal32 calls it. Every vector
 * operation is one the scalar code does, in the same order, so the bits are the scalar
 * path's.
 */
#define FI_HAVE_PRODUCE32

/* How the affine step runs: in float; in double (float32 whose step is not exact in float,
 * see fi_affine32_exact); or not at all, for a = +0, b = m = 1, where it changes nothing but
 * -0 into +0 (random() and standard_normal()). As kernels_avx512.c. */
enum { F32_AFFINE_FLOAT, F32_AFFINE_DOUBLE, F32_AFFINE_UNIT };

typedef struct {
    uint32_t words[FI_BATCH_GROUPS * 64];             /* the normal's words, for the rejects */
    uint16_t rej[FI_BATCH_GROUPS * 64 + 64];          /* batch-local indices, and spare */
    vf32 a, b, m, lo, hi;
    vf64 ad, bd, md, lod, hid;
} fused_batch;

static inline void fused_batch_init(fused_batch *bt, const fi_params *p)
{
    bt->a = set1_f32((float)p->a);
    bt->b = set1_f32((float)p->b);
    bt->m = set1_f32((float)p->m);
    bt->lo = set1_f32((float)p->lo);
    bt->hi = set1_f32((float)p->hi);
    bt->ad = set1_f64(p->a);
    bt->bd = set1_f64(p->b);
    bt->md = set1_f64(p->m);
    bt->lod = set1_f64(p->lo);
    bt->hid = set1_f64(p->hi);
}

/* bfloat16 by the op header's conversion instruction (st_bf16_hw), where the CPU has one:
 * a dtype of the loops alone (produce32). */
enum { FI_BF16_HW = 100 };

/* Whether no value of a fill can be a float subnormal, which the bfloat16 instruction
 * flushes (it rounds every other float to nearest even, as the integer route does). */
static FI_MAYBE_UNUSED int bf16_exact(int mode, const fi_params *p)
{
    if (mode == F32_AFFINE_UNIT) return 1;      /* |z| >= 2**-26 or 0; u >= 2**-24 or 0 */
    return (p->a == 0 || fabs(p->a) >= 0x1p-100) && p->b >= 0x1p-90
           && (p->lo == 0 || fabs(p->lo) >= 0x1p-100) && (p->hi == 0 || fabs(p->hi) >= 0x1p-100);
}

/* Store a vector of results as the output dtype, rounded as narrow_bf16/narrow_f16 do. */
FI_FORCE_INLINE void store_as(int dtype, void *out, size_t i, vf32 x)
{
    if (dtype == FI_F32) st_f32((float *)out + i, x);
    else if (dtype == FI_BF16) st_bf16((uint16_t *)out + i, x);
#ifdef FI_HAVE_BF16_HW
    else if (dtype == FI_BF16_HW) st_bf16_hw((uint16_t *)out + i, x);
#endif
    else st_f16((uint16_t *)out + i, x);
}

/* float32's affine step in double, half a vector at a time, rounded once: uniform32's
 * (a + b*u)*m clamped to [lo, hi], normal32's a + b*z. */
FI_FORCE_INLINE vf32 affine_f64(int dist, const fused_batch *bt, vf32 v)
{
    vf64 h[2] = {cvtlo_f32_f64(v), cvthi_f32_f64(v)};
    for (int j = 0; j < 2; j++) {
        vf64 x = add_f64(bt->ad, mul_f64(bt->bd, h[j]));
        if (dist == FI_UNIFORM) {
            x = mul_f64(x, bt->md);
            x = max_f64(bt->lod, x);
            x = min_f64(bt->hid, x);
        }
        h[j] = x;
    }
    return cvt_f64_f32(h[0], h[1]);
}

/* Values i .. i + 4*FI_V_LANES - 1 of the batch from four vectors of words v[0..3] (in
 * value order); the rejects of the normal's fast path are appended to the batch's list. The
 * four go together so that the layers' table lookups (zig_lookup4) and the list's
 * compress-store (compress_store_idx4) see a whole group on AVX-512. */
FI_FORCE_INLINE size_t emit4(int dist, int dtype, int mode, fused_batch *bt, void *out,
                             size_t i, const v32 v[4], size_t nrej)
{
    if (dist == FI_UNIFORM) {
        for (int j = 0; j < 4; j++) {
            vf32 x, u = mul_f32(cvt_i32_f32(shr(v[j], 8)), set1_f32(0x1p-24f));
            if (mode == F32_AFFINE_UNIT) {
                x = min_f32(bt->hi, u);     /* u >= +0 = lo already */
            } else if (mode == F32_AFFINE_DOUBLE) {
                x = affine_f64(FI_UNIFORM, bt, u);
            } else {
                x = mul_f32(add_f32(bt->a, mul_f32(bt->b, u)), bt->m);
                x = max_f32(bt->lo, x);     /* x < lo ? lo : x */
                x = min_f32(bt->hi, x);     /* x > hi ? hi : x */
            }
            store_as(dtype, out, i + FI_V_LANES * (size_t)j, x);
        }
        return nrej;
    }
    /* ziggurat32: layer w & 0xff, sign bit 8, position u = w >> 9. */
    vf32 wt[4];
    v32 kt[4];
    vmask rej[4];
    zig_lookup4(&fi_zig_normal, v, wt, kt);
    for (int j = 0; j < 4; j++) {
        const size_t ij = i + FI_V_LANES * (size_t)j;
        const v32 u = shr(v[j], 9);
        vf32 x, z = mul_f32(cvt_i32_f32(u), wt[j]);
        z = as_f32(or_and(as_u32(z), shl(v[j], 23), set1(0x80000000u)));  /* bit 8: sign */
        rej[j] = cmpge_u32(u, kt[j]);
        if (mode == F32_AFFINE_UNIT) x = add_f32(set1_f32(0.0f), z);
        else if (mode == F32_AFFINE_DOUBLE) x = affine_f64(FI_NORMAL, bt, z);
        else x = add_f32(bt->a, mul_f32(bt->b, z));
        st(bt->words + ij, v[j]);
        store_as(dtype, out, ij, x);
    }
    /* Without a branch: one vector in five has a reject, at random. */
    return compress_store_idx4(bt->rej, nrej, (uint32_t)i, rej);
}

/* The rejected draws of a batch, finished as normal32 does (fi_normal_slow_f32), but what the
 * slow path does first done in vectors, FI_CHAINS * FI_V_LANES draws at a time:
 *   - the first retry block of each, counter (block, 1, slot): value i = 64*g0 + li reads
 *     block base + 16*(li >> 6) + (li & 15), base = counter + 16*g0, slot (li & 63) >> 4 (the
 *     offset is below 2**16, so the carry into the high word is one unsigned compare);
 *   - the wedge test of zig32 with the block's word 0, and if it fails, the redraw from word 1
 *     when that lands in a layer's fast region.
 * Nine draws in ten are settled so; the others (the tail, layer 0, and longer chains) are
 * given to fi_normal_slow_f32 with their retry block, which starts over and so takes the same
 * steps. Lanes past nrej read the list's spare entries, masked into the batch: their results
 * are not used. */
static void finish_rejected32(int dtype, const fused_batch *bt, size_t nrej, const fi_stream *s,
                              uint64_t g0, const simd_keys *rk, void *out, const fi_params *p)
{
    enum { PER = FI_CHAINS * FI_V_LANES, HALF = FI_V_LANES / 2 };
    _Static_assert(PER <= 64, "the list's spare covers a read of PER entries");
    const fi_zig *t = &fi_zig_normal;
    const uint64_t base = s->counter + 16 * g0;
    const v32 base_lo = set1((uint32_t)base), base_hi = set1((uint32_t)(base >> 32)), one = set1(1);
    for (size_t r0 = 0; r0 < nrej; r0 += PER) {
        v32 c0[FI_CHAINS], c1[FI_CHAINS], c2[FI_CHAINS], c3[FI_CHAINS], word[FI_CHAINS];
        FI_ALIGN64 uint32_t w[4][PER];
        FI_ALIGN64 float z[2][PER];     /* z[1]: the redraw's value; z[0]: the wedge's */
        uint64_t settled = 0, redraw = 0;
        for (int c = 0; c < FI_CHAINS; c++) {
            const v32 li = and_(ld_u16(bt->rej + r0 + FI_V_LANES * c), set1(FI_BATCH_GROUPS * 64 - 1));
            const v32 off = add(shl(shr(li, 6), 4), and_(li, set1(15)));
            word[c] = gather_u32(bt->words, li);
            c0[c] = add(base_lo, off);
            c1[c] = blend(cmplt_u32(c0[c], off), base_hi, add(base_hi, one));
            c2[c] = one;
            c3[c] = shr(and_(li, set1(63)), 4);
        }
        philox_vectors(rk, FI_CHAINS, c0, c1, c2, c3);
        /* zig_wedge: x = u * 2**-23 * x[idx], y = f[idx] + u1 * (f[idx+1] - f[idx]) with u1 the
         * retry's word 0 * 2**-32, accepted when y < exp(-0.5 * x * (x + two_offset)). */
        vf64 x[2 * FI_CHAINS], y[2 * FI_CHAINS], e[2 * FI_CHAINS];
        for (int c = 0; c < FI_CHAINS; c++) {
            const v32 idx = and_(word[c], set1(0xffu)), u = shr(word[c], 9);
            for (int h = 0; h < 2; h++) {
                const int j = 2 * c + h;
                x[j] = mul_f64(mul_f64(cvt_i32_f64(u, h), set1_f64(0x1p-23)), gather_f64(t->x, idx, h));
                const vf64 f0 = gather_f64(t->f, idx, h), f1 = gather_f64(t->f, add(idx, one), h);
                const vf64 u1 = mul_f64(cvt_u32_f64(c0[c], h), set1_f64(0x1p-32));
                y[j] = add_f64(f0, mul_f64(u1, sub_f64(f1, f0)));
                e[j] = mul_f64(mul_f64(set1_f64(-0.5), x[j]), add_f64(x[j], set1_f64(t->two_offset)));
            }
        }
        exp_f64(e, 2 * FI_CHAINS);
        for (int c = 0; c < FI_CHAINS; c++) {
            const int sh = FI_V_LANES * c;
            /* Layer 0 is the tail's (t->tail): the scalar path's. */
            const uint32_t wedge = t->tail ? mask_bits(cmpge_u32(and_(word[c], set1(0xffu)), one))
                                           : (1u << FI_V_LANES) - 1;
            const uint32_t acc = wedge & (mask64_bits(cmplt_f64(y[2 * c], e[2 * c]))
                                          | mask64_bits(cmplt_f64(y[2 * c + 1], e[2 * c + 1])) << HALF);
            st_f32(z[0] + sh, as_f32(or_and(as_u32(cvt_f64_f32(x[2 * c], x[2 * c + 1])), shl(word[c], 23),
                                          set1(0x80000000u))));
            /* The redraw, as the fast path: a word of retry's word 1. */
            const v32 r1 = c1[c], idx2 = and_(r1, set1(0xffu)), u2 = shr(r1, 9);
            v32 wt, kt;
            gather_pair_u32(t->wk32, idx2, &wt, &kt);
            const vf32 zz = mul_f32(cvt_i32_f32(u2), as_f32(wt));
            st_f32(z[1] + sh, as_f32(or_and(as_u32(zz), shl(r1, 23), set1(0x80000000u))));
            const uint32_t red = wedge & ~acc & mask_bits(cmplt_u32(u2, kt));
            settled |= (uint64_t)(acc | red) << sh;
            redraw |= (uint64_t)red << sh;
        }
        for (int c = 0; c < FI_CHAINS; c++) {
            st(w[0] + FI_V_LANES * c, c0[c]);
            st(w[1] + FI_V_LANES * c, c1[c]);
            st(w[2] + FI_V_LANES * c, c2[c]);
            st(w[3] + FI_V_LANES * c, c3[c]);
        }
        const size_t cnt = nrej - r0 < PER ? nrej - r0 : PER;
        /* Which of the two a settled value takes is picked by an index, not a branch: the
         * choice is at random, and a branch on it mispredicted often. The values left to the
         * slow path are one in ten. */
        for (size_t q = 0; q < cnt; q++) {
            const size_t li = bt->rej[r0 + q];
            float zq = z[redraw >> q & 1][q];
            if (!(settled >> q & 1)) {
                const uint32_t retry1[4] = {w[0][q], w[1][q], w[2][q], w[3][q]};
                zq = fi_normal_slow_f32(bt->words[li], s, 64 * g0 + li, retry1);
            }
            float v = dtype == FI_F32 ? (float)(p->a + p->b * (double)zq) : (float)p->a + (float)p->b * zq;
            fi_store_f32_as(dtype == FI_BF16_HW ? FI_BF16 : dtype, out, li, v);
        }
    }
}

/* How far produce32_fused unrolls its loops over a set's groups and their vectors: 1 (not
 * at all), or the kernel file sets a full count (16). */
#ifndef FI_EMIT_UNROLL
#define FI_EMIT_UNROLL 1
#endif

FI_FORCE_INLINE void produce32_fused(int dist, int dtype, int mode, const fi_stream *s,
                                     uint64_t g0, size_t ngroups, void *out, const fi_params *p)
{
    _Static_assert(FI_BATCH_GROUPS * 64 <= 65536, "batch indices fit 16 bits");
    simd_keys rk;
    FI_ALIGN64 fused_batch bt;
    size_t nrej = 0;
    simd_make_keys(s->key, &rk);
    fused_batch_init(&bt, p);
    const int ng = FI_PHILOX_GROUPS;       /* groups in flight */
    for (size_t g = 0; g < ngroups; g += (size_t)ng) {
        v32 x[4][FI_CHAINS];
        philox_groups_at(&rk, s->counter + 16 * g0, g, ngroups, x);
        /* FI_EMIT_UNROLL: where the registers hold a set of groups (AVX-512), unrolled
         * fully, so that every index into x is a constant and x stays in registers (an index
         * that varies leaves the whole array in memory); elsewhere not, as x is spilled
         * anyway and the memory array is the cheaper spill. */
FI_UNROLL(FI_EMIT_UNROLL)
        for (int gi = 0; gi < ng; gi++) {
            if (gi > 0 && g + gi >= ngroups) break;
            /* The group's vectors in value order, four at a time: vector q holds values
             * 64*g + FI_V_LANES*q.., word q / FI_SETS of chain gi*FI_SETS + q % FI_SETS. */
FI_UNROLL(FI_EMIT_UNROLL)
            for (int q = 0; q < 64 / FI_V_LANES; q += 4) {
                v32 v[4];
                for (int j = 0; j < 4; j++)
                    v[j] = x[(q + j) / FI_SETS][gi * FI_SETS + (q + j) % FI_SETS];
                nrej = emit4(dist, dtype, mode, &bt, out, 64 * (g + gi) + FI_V_LANES * (size_t)q, v, nrej);
            }
        }
    }
    if (nrej) finish_rejected32(dtype, &bt, nrej, s, g0, &rk, out, p);
}

/* One specialized loop per (distribution, dtype, affine mode). */
static void produce32(int dist, int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                      void *out, const fi_params *p)
{
    const int mode = fi_f64_bits(p->a) == 0 && p->b == 1.0 && p->m == 1.0 ? F32_AFFINE_UNIT
                   : dtype == FI_F32 && !fi_affine32_exact(p) ? F32_AFFINE_DOUBLE : F32_AFFINE_FLOAT;
#ifdef FI_HAVE_BF16_HW
    if (dtype == FI_BF16 && bf16_hw() && bf16_exact(mode, p)) dtype = FI_BF16_HW;
#endif
#define CASE(D, T, M) \
    if (dist == D && dtype == T && mode == M) { produce32_fused(D, T, M, s, g0, ngroups, out, p); return; }
#define MODES(D) CASE(D, FI_F32, F32_AFFINE_FLOAT) CASE(D, FI_F32, F32_AFFINE_DOUBLE) \
    CASE(D, FI_F32, F32_AFFINE_UNIT) CASE(D, FI_BF16, F32_AFFINE_FLOAT) CASE(D, FI_BF16, F32_AFFINE_UNIT) \
    CASE(D, FI_F16, F32_AFFINE_FLOAT) CASE(D, FI_F16, F32_AFFINE_UNIT) HW_MODES(D)
#ifdef FI_HAVE_BF16_HW
#define HW_MODES(D) CASE(D, FI_BF16_HW, F32_AFFINE_FLOAT) CASE(D, FI_BF16_HW, F32_AFFINE_UNIT)
#else
#define HW_MODES(D)
#endif
    MODES(FI_UNIFORM) MODES(FI_NORMAL)
#undef HW_MODES
#undef MODES
#undef CASE
}
