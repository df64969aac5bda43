/*
 * simd/fused32.inc.h -- the 16/32-bit uniform and normal fills and the byte Bernoulli mask,
 * fused with Philox and written once over the op layer.
 *
 * Included by a kernel file after its op header and simd/philox.inc.h, before kernels.inc.h,
 * whose produce32 and produce_bernoulli these replace. kernels.inc.h's loops make the words of
 * a batch, store them, and read them back once per step (words, then values, then the
 * rejects, then the affine step, then the narrowing); here each vector of words goes from
 * Philox's registers through the whole computation to the output, and only the words of the
 * normal are kept (one aligned store), for the rare rejected draws. Those are listed by index
 * (compress_store_idx, branch-free) and finished after the batch by the scalar slow path
 * every target shares, fi_normal_slow_f32, exactly as kernels.inc.h's normal32 calls it.
 * Every vector operation is one kernels.inc.h's scalar loops do, in the same order, so the
 * bits are the scalar path's.
 */
#define FI_HAVE_PRODUCE32
#define FI_HAVE_BERNOULLI
#ifndef FI_NORMAL16_GROUPS
#define FI_NORMAL16_GROUPS FI_PHILOX_GROUPS
#endif

/* How the affine step runs: in float; in double (float32 whose step is not exact in float,
 * see fi_affine32_exact); or not at all, for a = +0, b = m = 1, where it changes nothing but
 * -0 into +0 (random() and standard_normal()). As kernels_avx512.c. */
enum { F32_AFFINE_FLOAT, F32_AFFINE_DOUBLE, F32_AFFINE_UNIT };

typedef struct {
    uint32_t words[FI_BATCH_GROUPS * 64];             /* the normal's words, for the rejects */
    uint16_t rej[FI_BATCH_GROUPS * 64 + 2 * FI_V_LANES]; /* batch-local indices, and spare */
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

/* Store a vector of results as the output dtype, rounded as narrow_bf16/narrow_f16 do. */
FI_FORCE_INLINE void store_as(int dtype, void *out, size_t i, vf32 x)
{
    if (dtype == FI_F32) st_f32((float *)out + i, x);
    else if (dtype == FI_BF16) st_bf16((uint16_t *)out + i, x);
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

/* One vector of words v, values i.. of the batch; returns the lanes the normal's fast path
 * rejects (none for the uniform). */
FI_FORCE_INLINE vmask emit32(int dist, int dtype, int mode, fused_batch *bt, void *out,
                             size_t i, v32 v)
{
    vf32 x;
    vmask rej = mask_none();
    if (dist == FI_UNIFORM) {
        vf32 u = mul_f32(cvt_i32_f32(shr(v, 8)), set1_f32(0x1p-24f));
        if (mode == F32_AFFINE_UNIT) {
            x = min_f32(bt->hi, u);     /* u >= +0 = lo already */
        } else if (mode == F32_AFFINE_DOUBLE) {
            x = affine_f64(FI_UNIFORM, bt, u);
        } else {
            x = mul_f32(add_f32(bt->a, mul_f32(bt->b, u)), bt->m);
            x = max_f32(bt->lo, x);     /* x < lo ? lo : x */
            x = min_f32(bt->hi, x);     /* x > hi ? hi : x */
        }
    } else {
        /* ziggurat32: layer idx = w & 0xff, sign bit 8, position u = w >> 9. */
        const v32 idx = and_(v, set1(0xffu)), u = shr(v, 9);
        v32 wt, kt;
        gather_pair_u32(fi_zig_normal.wk32, idx, &wt, &kt);
        vf32 z = mul_f32(cvt_i32_f32(u), as_f32(wt));
        z = as_f32(or_(as_u32(z), shl(and_(v, set1(0x100u)), 23)));
        rej = cmpge_u32(u, kt);
        if (mode == F32_AFFINE_UNIT) x = add_f32(set1_f32(0.0f), z);
        else if (mode == F32_AFFINE_DOUBLE) x = affine_f64(FI_NORMAL, bt, z);
        else x = add_f32(bt->a, mul_f32(bt->b, z));
        st(bt->words + i, v);
    }
    store_as(dtype, out, i, x);
    return rej;
}

FI_FORCE_INLINE void produce32_fused(int dist, int dtype, int mode, const fi_stream *s,
                                     uint64_t g0, size_t ngroups, void *out, const fi_params *p)
{
    _Static_assert(FI_BATCH_GROUPS * 64 <= 65536, "batch indices fit 16 bits");
    simd_keys rk;
    FI_ALIGN64 fused_batch bt;
    size_t nrej = 0;
    simd_make_keys(s->key, &rk);
    fused_batch_init(&bt, p);
    /* Groups in flight: the normal of the 16-bit dtypes keeps more in registers. */
    const int ng = dist == FI_NORMAL && dtype != FI_F32 ? FI_NORMAL16_GROUPS : FI_PHILOX_GROUPS;
    for (size_t g = 0; g < ngroups; g += (size_t)ng) {
        uint64_t b[FI_PHILOX_GROUPS];
        v32 x[4][FI_CHAINS];
        for (int gi = 0; gi < ng; gi++)
            b[gi] = s->counter + 16 * (g0 + (g + gi < ngroups ? g + gi : ngroups - 1));
        philox_main(&rk, b, ng, x);
        for (int gi = 0; gi < ng && g + gi < ngroups; gi++)
            for (int w = 0; w < 4; w++)
                for (int c = 0; c < FI_SETS; c++) {
                    const size_t i = 64 * (g + gi) + 16 * (size_t)w + FI_V_LANES * (size_t)c;
                    vmask r = emit32(dist, dtype, mode, &bt, out, i, x[w][gi * FI_SETS + c]);
                    if (dist == FI_NORMAL) nrej = compress_store_idx(bt.rej, nrej, (uint32_t)i, r);
                }
    }
    /* The rejected draws, as normal32 finishes them. */
    for (size_t r = 0; r < nrej; r++) {
        const size_t li = bt.rej[r];
        float z = fi_normal_slow_f32(bt.words[li], s, 64 * g0 + li, NULL);
        float v = dtype == FI_F32 ? (float)(p->a + p->b * (double)z) : (float)p->a + (float)p->b * z;
        fi_store_f32_as(dtype, out, li, v);
    }
}

/* One specialized loop per (distribution, dtype, affine mode). */
static void produce32(int dist, int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                      void *out, const fi_params *p)
{
    const int mode = fi_f64_bits(p->a) == 0 && p->b == 1.0 && p->m == 1.0 ? F32_AFFINE_UNIT
                   : dtype == FI_F32 && !fi_affine32_exact(p) ? F32_AFFINE_DOUBLE : F32_AFFINE_FLOAT;
#define CASE(D, T, M) \
    if (dist == D && dtype == T && mode == M) { produce32_fused(D, T, M, s, g0, ngroups, out, p); return; }
#define MODES(D) CASE(D, FI_F32, F32_AFFINE_FLOAT) CASE(D, FI_F32, F32_AFFINE_DOUBLE) \
    CASE(D, FI_F32, F32_AFFINE_UNIT) CASE(D, FI_BF16, F32_AFFINE_FLOAT) CASE(D, FI_BF16, F32_AFFINE_UNIT) \
    CASE(D, FI_F16, F32_AFFINE_FLOAT) CASE(D, FI_F16, F32_AFFINE_UNIT)
    MODES(FI_UNIFORM) MODES(FI_NORMAL)
#undef MODES
#undef CASE
}

/* Bernoulli masks into bytes, the compare fused with the words; other dtypes take
 * kernels.inc.h's loop (produce_bernoulli_scalar). */
static void produce_bernoulli_scalar(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                                     void *out, const fi_params *p);

static void produce_bernoulli(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                              void *out, const fi_params *p)
{
    if (dtype != FI_U8) {
        produce_bernoulli_scalar(dtype, s, g0, ngroups, out, p);
        return;
    }
    /* thresh = 2**32 (p = 1) holds for every word; below it, an unsigned compare. */
    const int all = p->thresh > 0xffffffffull;
    const v32 t = set1((uint32_t)p->thresh);
    uint8_t *o = (uint8_t *)out;
    simd_keys rk;
    simd_make_keys(s->key, &rk);
    for (size_t g = 0; g < ngroups; g += FI_PHILOX_GROUPS) {
        uint64_t b[FI_PHILOX_GROUPS];
        v32 x[4][FI_CHAINS];
        for (int gi = 0; gi < FI_PHILOX_GROUPS; gi++)
            b[gi] = s->counter + 16 * (g0 + (g + gi < ngroups ? g + gi : ngroups - 1));
        philox_main(&rk, b, FI_PHILOX_GROUPS, x);
        for (int gi = 0; gi < FI_PHILOX_GROUPS && g + gi < ngroups; gi++)
            for (int w = 0; w < 4; w++)
                for (int c = 0; c < FI_SETS; c++) {
                    const v32 v = x[w][gi * FI_SETS + c];
                    st_mask_u8(o + 64 * (g + gi) + 16 * w + FI_V_LANES * c, all ? mask_all() : cmplt_u32(v, t));
                }
    }
}
