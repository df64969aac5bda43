/*
 * simd/philox.inc.h -- Philox4x32-10 over the op layer, written once for every target.
 *
 * Included by a kernel file after its op header (simd/ops_*.h) and philox.h. A group is the
 * stream contract's 16 blocks b..b+15; on N lanes its words take 16/N vectors each, lane j of
 * vector s of word w holding word w of block b + N*s + j, so vector s of word w is stored at
 * w*16 + N*s of the group's 64 words: exactly the contract's layout, with no shuffle.
 *
 * The ten rounds of one vector are a chain of dependent multiplies; FI_PHILOX_GROUPS groups
 * (FI_PHILOX_GROUPS * 16/N chains) advance together, round by round, so the multiplier has
 * independent work while each product is in flight. How many pay depends on the target's
 * registers and multiply latency: the kernel file sets it (default 1).
 *
 * The rounds themselves run in the op header's round layout, FI_R_LANES blocks per vector
 * (to_rounds/from_rounds convert): the lanes as they are on most targets; on AVX-512 one
 * block per 64-bit lane, where one multiply gives a whole product (ops_avx512.h). A
 * target's mulhilo_r may give its products with the lanes of a round vector in another order,
 * r_perm's (an involution; AVX2: ops_avx2.h), when the words named by FI_R_PERM_WORDS are held
 * in that order during the rounds, the others in the lanes' own, and a round keeps it so
 * (every word then is a product in the order of its word xored with a word already in it).
 * Those words enter and leave the rounds through r_perm (r_word). Elsewhere r_perm is the
 * identity and FI_R_PERM_WORDS 0.
 */
#ifndef FI_PHILOX_GROUPS
#define FI_PHILOX_GROUPS 1
#endif
#define FI_SETS (16 / FI_V_LANES)                    /* vectors per word of a group */
#define FI_CHAINS (FI_PHILOX_GROUPS * FI_SETS)       /* vectors per word in flight */
#define FI_RPV (FI_V_LANES / FI_R_LANES)             /* round vectors per vector */
#define FI_RCHAINS (FI_CHAINS * FI_RPV)              /* independent chains in flight */
/* The words held in r_perm's order during the rounds, a bit each (the op header says). */
#ifndef FI_R_PERM_WORDS
#define FI_R_PERM_WORDS 0
FI_FORCE_INLINE v32 r_perm(v32 v) { return v; }
#endif
_Static_assert(FI_R_PERM_WORDS == 0 || FI_R_PERM_WORDS == 0xA, "philox_main's rounds 1 and 2 assume one of these");
/* Round vector v of word w into or out of its order in the rounds (r_perm undoes itself). */
FI_FORCE_INLINE v32 r_word(v32 v, int w) { return (FI_R_PERM_WORDS >> w & 1) ? r_perm(v) : v; }
/* Word w of the rounds, FI_RPV round vectors at r, as a v32 in the lanes' order. */
FI_FORCE_INLINE v32 from_rounds_w(const v32 *r, int w)
{
    v32 t[FI_RPV];
    for (int h = 0; h < FI_RPV; h++) t[h] = r_word(r[h], w);
    return from_rounds(t);
}

/* The key of each round, as scalars: a broadcast is folded into the instruction using it. */
typedef struct {
    uint32_t k0[PHILOX_ROUNDS], k1[PHILOX_ROUNDS];
} simd_keys;

static inline void simd_make_keys(const uint32_t key[2], simd_keys *rk)
{
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        rk->k0[r] = k0;
        rk->k1[r] = k1;
    }
}

/* Rounds from..9 on nc round vectors of any counters (c0..c3, words 0..3), in place. */
FI_FORCE_INLINE void philox_rounds(const simd_keys *rk, int from, int nc, v32 *c0, v32 *c1, v32 *c2, v32 *c3)
{
    const v32 M0 = set1(PHILOX_M0), M1 = set1(PHILOX_M1);
FI_UNROLL(10)
    for (int r = from; r < PHILOX_ROUNDS; r++) {
        const v32 k0 = set1(rk->k0[r]), k1 = set1(rk->k1[r]);
        for (int c = 0; c < nc; c++) {
            v32 hi0, lo0, hi1, lo1;
            mulhilo_r(c0[c], M0, &hi0, &lo0);
            mulhilo_r(c2[c], M1, &hi1, &lo1);
            c0[c] = xor3(hi1, c1[c], k0);
            c2[c] = xor3(hi0, c3[c], k1);
            c1[c] = lo1;
            c3[c] = lo0;
        }
    }
}

/* The ten rounds on nc <= FI_CHAINS vectors of any counters, in the lanes' own layout. */
FI_FORCE_INLINE void philox_vectors(const simd_keys *rk, int nc, v32 *c0, v32 *c1, v32 *c2, v32 *c3)
{
    v32 r0[FI_RCHAINS], r1[FI_RCHAINS], r2[FI_RCHAINS], r3[FI_RCHAINS];
    for (int c = 0; c < nc; c++)
        for (int h = 0; h < FI_RPV; h++) {
            r0[FI_RPV * c + h] = r_word(to_rounds(c0[c], h), 0);
            r1[FI_RPV * c + h] = r_word(to_rounds(c1[c], h), 1);
            r2[FI_RPV * c + h] = r_word(to_rounds(c2[c], h), 2);
            r3[FI_RPV * c + h] = r_word(to_rounds(c3[c], h), 3);
        }
    philox_rounds(rk, 0, FI_RPV * nc, r0, r1, r2, r3);
    for (int c = 0; c < nc; c++) {
        c0[c] = from_rounds_w(r0 + FI_RPV * c, 0);
        c1[c] = from_rounds_w(r1 + FI_RPV * c, 1);
        c2[c] = from_rounds_w(r2 + FI_RPV * c, 2);
        c3[c] = from_rounds_w(r3 + FI_RPV * c, 3);
    }
}

/* The words of the ng <= FI_PHILOX_GROUPS main-stream groups at blocks b[0], b[1], ...:
 * x[w][c] is word w of chain c = group * FI_SETS + s (blocks b[group] + N*s + lane). ng is a
 * constant at each call (the caller's interleave), which the inlining folds. */
FI_FORCE_INLINE void philox_main(const simd_keys *rk, const uint64_t *b, int ng, v32 x[4][FI_CHAINS])
{
    v32 c0[FI_RCHAINS], c1[FI_RCHAINS], c2[FI_RCHAINS], c3[FI_RCHAINS];
    int wraps = 0;
    for (int gi = 0; gi < ng; gi++) wraps |= (uint32_t)b[gi] > 0xFFFFFFF0u;
    if (wraps) {
        /* The low counter word wraps inside a group (once in 2**28 groups): all ten rounds
         * on counters (lo + m, hi + carry, 0, 0), the carry lane by lane. In vectors, not by
         * the scalar formula into memory and loads into x by a loop: that loop's varying
         * index kept the compiler from holding x in registers, in every fill. */
        for (int gi = 0; gi < ng; gi++) {
            const uint32_t lo = (uint32_t)b[gi], hi = (uint32_t)(b[gi] >> 32);
            for (int s = 0; s < 16 / FI_R_LANES; s++) {
                const int c = gi * (16 / FI_R_LANES) + s;
                const v32 ctr = add(set1(lo + (uint32_t)(FI_R_LANES * s)), r_iota());
                c0[c] = r_word(ctr, 0);
                c1[c] = r_word(blend(cmplt_u32(ctr, set1(lo)), set1(hi), set1(hi + 1)), 1);
                c2[c] = c3[c] = set1(0);
            }
        }
        philox_rounds(rk, 0, ng * FI_SETS * FI_RPV, c0, c1, c2, c3);
    } else {
        const v32 M0 = set1(PHILOX_M0), M1 = set1(PHILOX_M1);
        /* Rounds 1 and 2 of counters (lo + m, hi, 0, 0): words 2 and 3 start at 0, so round 1
         * multiplies only word 0 and leaves a word 0 that is the same in every lane, whose
         * product in round 2 is one scalar multiplication: two vector products, not four. */
        for (int gi = 0; gi < ng; gi++) {
            const uint32_t lo = (uint32_t)b[gi], hi = (uint32_t)(b[gi] >> 32);
            const uint32_t w0 = hi ^ rk->k0[0];                         /* round 1's word 0 */
            const uint64_t q = (uint64_t)PHILOX_M0 * w0;                /* round 2's M0 product */
            for (int s = 0; s < 16 / FI_R_LANES; s++) {
                const int c = gi * (16 / FI_R_LANES) + s;
                v32 hi0, lo0, hi1, lo1;
                mulhilo_r(add(set1(lo + (uint32_t)(FI_R_LANES * s)), r_iota()), M0, &hi0, &lo0);
                /* after round 1: (w0, 0, hi0 ^ k1[0], lo0); with FI_R_PERM_WORDS 0xA, hi0
                 * comes out in r_perm's order and lo0 in the lanes', as words 2 and 3 are to
                 * be after round 1, and round 2's hi1 in the lanes' and lo1 in r_perm's, as
                 * words 0 and 1 are to be after round 2. */
                mulhilo_r(xor_(hi0, set1(rk->k1[0])), M1, &hi1, &lo1);
                c0[c] = xor_(hi1, set1(rk->k0[1]));
                c1[c] = lo1;
                c2[c] = xor_(lo0, set1((uint32_t)(q >> 32) ^ rk->k1[1]));
                c3[c] = set1((uint32_t)q);
            }
        }
        philox_rounds(rk, 2, ng * FI_SETS * FI_RPV, c0, c1, c2, c3);
    }
    for (int c = 0; c < ng * FI_SETS; c++) {
        x[0][c] = from_rounds_w(c0 + FI_RPV * c, 0);
        x[1][c] = from_rounds_w(c1 + FI_RPV * c, 1);
        x[2][c] = from_rounds_w(c2 + FI_RPV * c, 2);
        x[3][c] = from_rounds_w(c3 + FI_RPV * c, 3);
    }
}

/* The words of groups g .. g + FI_PHILOX_GROUPS - 1 of a batch of ngroups whose first group
 * starts at block block0, into x. A last partial set of groups computes its last group again,
 * for the caller not to use. */
FI_FORCE_INLINE void philox_groups_at(const simd_keys *rk, uint64_t block0, size_t g,
                                      size_t ngroups, v32 x[4][FI_CHAINS])
{
    uint64_t b[FI_PHILOX_GROUPS];
    for (int gi = 0; gi < FI_PHILOX_GROUPS; gi++)
        b[gi] = block0 + 16 * (g + gi < ngroups ? g + gi : ngroups - 1);
    philox_main(rk, b, FI_PHILOX_GROUPS, x);
}

/* The words of whole groups, in memory, for the fills that are not fused (kernels.inc.h). */
static void philox_groups(const uint32_t key[2], uint64_t block0, size_t ngroups,
                          uint32_t *restrict w)
{
    simd_keys rk;
    simd_make_keys(key, &rk);
    for (size_t g = 0; g < ngroups; g += FI_PHILOX_GROUPS) {
        v32 x[4][FI_CHAINS];
        philox_groups_at(&rk, block0, g, ngroups, x);
        for (int gi = 0; gi < FI_PHILOX_GROUPS && g + gi < ngroups; gi++)
            for (int wd = 0; wd < 4; wd++)
                for (int s = 0; s < FI_SETS; s++)
                    st(w + 64 * (g + gi) + 16 * wd + FI_V_LANES * s, x[wd][gi * FI_SETS + s]);
    }
}
