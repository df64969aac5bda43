/*
 * simd/bernoulli.inc.h -- Bernoulli masks, the compare fused with Philox, for every mask
 * dtype, written once over the op layer.
 *
 * Included by a kernel file after its op header and simd/philox.inc.h, before kernels.inc.h,
 * whose produce_bernoulli this replaces. Value i is 1 (the dtype's 1.0) when word i is below
 * the threshold, else 0: each vector of words goes from Philox's registers through one
 * unsigned compare to a store of the mask as the dtype's constant (st_mask_u8, st_mask_u16,
 * ...), the words never stored. A mask is cheap to make, so kernels.inc.h's loop (words to
 * memory, read back, compared, stored) spends most of its time on the round trip.
 */
#define FI_HAVE_BERNOULLI

/* The bits of the dtype's 1.0 (and of bytes' 1), as fi_sparse_mask's table. */
FI_FORCE_INLINE void bernoulli_store(int dtype, void *out, size_t i, vmask m)
{
    switch (dtype) {
    case FI_U8: st_mask_u8((uint8_t *)out + i, m); break;
    case FI_F16: st_mask_u16((uint16_t *)out + i, m, 0x3c00u); break;
    case FI_BF16: st_mask_u16((uint16_t *)out + i, m, 0x3f80u); break;
    case FI_F32: st_mask_u32((uint32_t *)out + i, m, 0x3f800000u); break;
    default: st_mask_u64((uint64_t *)out + i, m, 0x3ff0000000000000ull); break;
    }
}

FI_FORCE_INLINE void produce_bernoulli_fused(int dtype, const fi_stream *s, uint64_t g0,
                                             size_t ngroups, void *out, const fi_params *p)
{
    /* thresh = 2**32 (p = 1) holds for every word; below it, an unsigned compare. */
    const int all = p->thresh > 0xffffffffull;
    const v32 t = set1((uint32_t)p->thresh);
    simd_keys rk;
    simd_make_keys(s->key, &rk);
    for (size_t g = 0; g < ngroups; g += FI_PHILOX_GROUPS) {
        v32 x[4][FI_CHAINS];
        philox_groups_at(&rk, s->counter + 16 * g0, g, ngroups, x);
        for (int gi = 0; gi < FI_PHILOX_GROUPS && g + gi < ngroups; gi++)
            for (int w = 0; w < 4; w++)
                for (int c = 0; c < FI_SETS; c++) {
                    const v32 v = x[w][gi * FI_SETS + c];
                    const size_t i = 64 * (g + gi) + 16 * (size_t)w + FI_V_LANES * (size_t)c;
                    bernoulli_store(dtype, out, i, all ? mask_all() : cmplt_u32(v, t));
                }
    }
}

/* One loop per dtype, its store specialized. */
static void produce_bernoulli(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                              void *out, const fi_params *p)
{
    switch (dtype) {
    case FI_U8: produce_bernoulli_fused(FI_U8, s, g0, ngroups, out, p); break;
    case FI_F16: produce_bernoulli_fused(FI_F16, s, g0, ngroups, out, p); break;
    case FI_BF16: produce_bernoulli_fused(FI_BF16, s, g0, ngroups, out, p); break;
    case FI_F32: produce_bernoulli_fused(FI_F32, s, g0, ngroups, out, p); break;
    default: produce_bernoulli_fused(FI_F64, s, g0, ngroups, out, p); break;
    }
}
