/*
 * simd/retry.inc.h -- the first retry block of rejected values, made in vectors over the op
 * layer, for the fused fills' settle steps (simd/fused64.inc.h; simd/fused32.inc.h makes the
 * same counters itself, with a shift of 6, and can call this instead).
 *
 * engine_internal.h's retry_stream gives each value a fast path rejects blocks of its own: counter
 * (block, attempt, slot, with attempt = 1, 2, ...) under the call's key, block and slot being
 * the value's main-stream block and its place among the values of that block. A settle makes
 * attempt 1 for many rejected values at once, uses its words in vectors, and hands them to the
 * scalar slow path (fi_normal_slow_*'s retry1) for the values it does not settle, so that no
 * block is made twice.
 *
 * Included after simd/philox.inc.h.
 */

/* The first retry blocks of nc <= FI_CHAINS vectors of values of a batch, given by their batch-local
 * indices li (below 2**16), the batch's first group starting at block base; shift is log2 of
 * the values a group holds (6 for one word per value, 5 for two). Value li reads block
 * base + 16*(li >> shift) + (li & 15), slot (li mod 2**shift) >> 4: an offset below 2**16,
 * so the carry into the high counter word is one unsigned compare. w0..w3 get the blocks'
 * words 0..3. */
FI_FORCE_INLINE void retry_first_blocks(const simd_keys *rk, uint64_t base, int shift, int nc,
                                        const v32 li[FI_CHAINS], v32 w0[FI_CHAINS],
                                        v32 w1[FI_CHAINS], v32 w2[FI_CHAINS], v32 w3[FI_CHAINS])
{
    const v32 base_lo = set1((uint32_t)base), base_hi = set1((uint32_t)(base >> 32)), one = set1(1);
    for (int c = 0; c < nc; c++) {
        const v32 off = add(shl(shr(li[c], shift), 4), and_(li[c], set1(15)));
        w0[c] = add(base_lo, off);
        w1[c] = add(base_hi, and_(cmplt_u32(w0[c], off), one));
        w2[c] = one;
        w3[c] = shr(and_(li[c], set1((1u << shift) - 1)), 4);
    }
    philox_rounds(rk, 0, nc, w0, w1, w2, w3);
}
