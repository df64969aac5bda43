/* kernels_avx512.c -- the AVX-512 path: the op set of simd/ops_avx512.h (16 lanes) under the
 * generic algorithm files: Philox (simd/philox.inc.h, two groups in flight), the fused
 * 16/32-bit uniform and normal (simd/fused32.inc.h), the fused float64 uniform and normal
 * (simd/fused64.inc.h), Bernoulli masks of every dtype (simd/bernoulli.inc.h) and the
 * one-word truncated normal (simd/truncnorm.inc.h). The truncated normal's two-word cases
 * below are still written in intrinsics, fused with Philox likewise; they take the op
 * layer's Philox and exp. Compiled for AVX-512 by the pragma,
 * whatever the build's flags; run only where CPUID says so. Every operation mirrors the
 * generic loops of kernels.inc.h, so the bits are the same. kernels_avx512vbmi.c compiles
 * this file again with FI_AVX512_VBMI, for CPUs with AVX512_VBMI and AVX512_VBMI2: there the
 * ziggurat's table lookups are byte shuffles instead of gathers, and rejected draws are
 * listed by word compression (ops_avx512.h). */
#include "portable.h"
#ifdef FI_X86
#include <immintrin.h>
#include "philox.h"
#include "internal.h"
#ifdef FI_AVX512_VBMI
FI_TARGET_BEGIN("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vbmi,avx512vbmi2,avx2,f16c")
#define FI_CONTIG_NAME fi_fill_contig_avx512vbmi
#else
FI_TARGET_BEGIN("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,f16c")
#define FI_CONTIG_NAME fi_fill_contig_avx512
#endif

#include "simd/ops_avx512.h"
/* Two groups (four chains of 8 blocks in the round layout) in flight. */
#define FI_PHILOX_GROUPS 2
#include "simd/philox.inc.h"
#include "simd/vmath.inc.h"
#define FI_EMIT_UNROLL 16       /* fused32.inc.h: a set of groups fits the 32 registers */
#include "simd/fused32.inc.h"
#include "simd/retry.inc.h"
#include "simd/fused64.inc.h"
#include "simd/bernoulli.inc.h"
/* The truncated normal: one word per value by simd/truncnorm.inc.h, two words by
 * produce_truncnorm_two_word below, in intrinsics (no generic version yet). */
static void produce_truncnorm_two_word(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                                       void *out, const fi_params *p);
#define FI_TN_TWO_WORD produce_truncnorm_two_word
#include "simd/truncnorm.inc.h"

/* One Philox state of 16 blocks, one register per counter word. */
typedef struct { __m512i c0, c1, c2, c3; } state16;

/* The main-stream counters of blocks b..b+15: (b + m, with the carry into the high word, 0, 0). */
static inline state16 group_counters(uint64_t b)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i base = _mm512_set1_epi32((int)(uint32_t)b), hi = _mm512_set1_epi32((int)(uint32_t)(b >> 32));
    state16 st;
    st.c0 = _mm512_add_epi32(base, lane);
    __mmask16 carry = _mm512_cmplt_epu32_mask(st.c0, base);
    st.c1 = _mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1));
    st.c2 = _mm512_setzero_si512();
    st.c3 = st.c2;
    return st;
}

/* Ten rounds on two 16-block states of any counters. */
FI_FORCE_INLINE void philox16x2(state16 *x, state16 *y, const simd_keys *rk)
{
    v32 c0[2] = {x->c0, y->c0}, c1[2] = {x->c1, y->c1}, c2[2] = {x->c2, y->c2}, c3[2] = {x->c3, y->c3};
    philox_vectors(rk, 2, c0, c1, c2, c3);
    x->c0 = c0[0], x->c1 = c1[0], x->c2 = c2[0], x->c3 = c3[0];
    y->c0 = c0[1], y->c1 = c1[1], y->c2 = c2[1], y->c3 = c3[1];
}

/* Ten rounds on the main-stream groups of blocks b and b2: their words, as state16s. */
FI_FORCE_INLINE void philox_main16x2(uint64_t b, uint64_t b2, const simd_keys *rk,
                                     state16 *x, state16 *y)
{
    const uint64_t bs[2] = {b, b2};
    v32 w[4][FI_CHAINS];
    philox_main(rk, bs, 2, w);
    x->c0 = w[0][0], x->c1 = w[1][0], x->c2 = w[2][0], x->c3 = w[3][0];
    y->c0 = w[0][1], y->c1 = w[1][1], y->c2 = w[2][1], y->c3 = w[3][1];
}

/* ---- helpers of the truncated normal's two-word fills ------------------------------ */

/* First retry blocks, counter (block, 1, slot), of up to 32 values given by their index
 * in the call, as engine.c's retry stream would compute them: w[k][q] is word k of value q. */
static void first_retry_blocks(int dtype, const fi_stream *s, const simd_keys *rk,
                               const uint64_t *index, size_t cnt, uint32_t w[4][32])
{
    FI_ALIGN64 uint32_t c0[32], c1[32], c3[32];
    /* Values per group: 32 or 64, so shifts and masks rather than divisions. */
    const unsigned shift = dtype == FI_F64 ? 5 : 6;
    const uint64_t in_group = ((uint64_t)1 << shift) - 1;
    for (size_t q = 0; q < 32; q++) {
        uint64_t i = index[q < cnt ? q : 0];
        uint64_t block = s->counter + 16 * (i >> shift) + (i & 15);
        c0[q] = (uint32_t)block;
        c1[q] = (uint32_t)(block >> 32);
        c3[q] = (uint32_t)((i & in_group) >> 4);
    }
    state16 x = {_mm512_load_si512(c0), _mm512_load_si512(c1), _mm512_set1_epi32(1),
                 _mm512_load_si512(c3)};
    state16 y = {_mm512_load_si512(c0 + 16), _mm512_load_si512(c1 + 16), _mm512_set1_epi32(1),
                 _mm512_load_si512(c3 + 16)};
    philox16x2(&x, &y, rk);
    _mm512_storeu_si512((void *)w[0], x.c0);
    _mm512_storeu_si512((void *)w[1], x.c1);
    _mm512_storeu_si512((void *)w[2], x.c2);
    _mm512_storeu_si512((void *)w[3], x.c3);
    _mm512_storeu_si512((void *)(w[0] + 16), y.c0);
    _mm512_storeu_si512((void *)(w[1] + 16), y.c1);
    _mm512_storeu_si512((void *)(w[2] + 16), y.c2);
    _mm512_storeu_si512((void *)(w[3] + 16), y.c3);
}

static inline __m512d exp8(__m512d v)
{
    exp_f64(&v, 1);
    return v;
}

/* The words of the eight rejected values listed at li (stale entries past the list's end
 * masked to the batch, as batch_words8). */
static inline __m512i words8_at(const uint64_t *words, const uint64_t *li)
{
    _Static_assert((FI_BATCH_GROUPS * 32 & (FI_BATCH_GROUPS * 32 - 1)) == 0, "a power of 2");
    __m512i idx = _mm512_and_si512(_mm512_loadu_si512((const void *)li),
                                   _mm512_set1_epi64(FI_BATCH_GROUPS * 32 - 1));
    return _mm512_i64gather_epi64(idx, (const void *)words, 8);
}

/* settle_f32 for float64 (as simd/fused64.inc.h's settle64, eight lanes): the wedge's height
 * from the first two retry words (53 bits, on (0, 1]), the redraw from the last two. */
static inline __mmask8 settle8_f64(const fi_zig *t, __m512i words, const uint32_t *r0, const uint32_t *r1,
                                   const uint32_t *r2, const uint32_t *r3, __m512d *z)
{
    const __m512i low8 = _mm512_set1_epi64(0xff), sign = _mm512_set1_epi64(0x100);
    const __m512i magic = _mm512_set1_epi64(0x4330000000000000ll);
    const __m512d two52 = _mm512_set1_pd(0x1p52);
    __m512i idx = _mm512_and_si512(words, low8);
    /* Layer 0 has a wedge too unless it holds the normal's tail (scalar). */
    __mmask8 wedge = (t->tail ? 0 : 0xff) | _mm512_cmpneq_epi64_mask(idx, _mm512_setzero_si512());
    __m512d u = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(words, 12), magic)), two52);
    __m512d x = _mm512_mul_pd(_mm512_mul_pd(u, _mm512_set1_pd(0x1p-52)), _mm512_i64gather_pd(idx, t->x, 8));
    __m512d f0 = _mm512_i64gather_pd(idx, t->f, 8);
    __m512d f1 = _mm512_i64gather_pd(_mm512_add_epi64(idx, _mm512_set1_epi64(1)), t->f, 8);
#define U64(lo, hi) _mm512_or_si512(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(lo))), \
                                    _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(hi))), 32))
    __m512i h = _mm512_add_epi64(_mm512_srli_epi64(U64(r0, r1), 11), _mm512_set1_epi64(1));
    __m512d uh = _mm512_mul_pd(_mm512_cvtepu64_pd(h), _mm512_set1_pd(0x1p-53));
    __m512d y = _mm512_add_pd(f0, _mm512_mul_pd(uh, _mm512_sub_pd(f1, f0)));
    __m512d e = exp8(_mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(-0.5), x),
                                   _mm512_add_pd(x, _mm512_set1_pd(t->two_offset))));
    __mmask8 accept = wedge & _mm512_cmp_pd_mask(y, e, _CMP_LT_OQ);
    __m512i zx = _mm512_or_si512(_mm512_castpd_si512(x), _mm512_slli_epi64(_mm512_and_si512(words, sign), 55));
    __m512i next = U64(r2, r3);
#undef U64
    __m512i idx2 = _mm512_and_si512(next, low8), u2 = _mm512_srli_epi64(next, 12);
    __m512d w2 = _mm512_i64gather_pd(idx2, t->w64, 8);
    __m512i k2 = _mm512_i64gather_epi64(idx2, (const void *)t->k64, 8);
    __mmask8 redraw = wedge & ~accept & _mm512_cmplt_epu64_mask(u2, k2);
    __m512d v2 = _mm512_mul_pd(_mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(u2, magic)), two52), w2);
    __m512i z2 = _mm512_or_si512(_mm512_castpd_si512(v2), _mm512_slli_epi64(_mm512_and_si512(next, sign), 55));
    *z = _mm512_castsi512_pd(_mm512_mask_blend_epi64(redraw, zx, z2));
    return accept | redraw;
}

/* ---- truncated normal, two words per value: every proposal ---------------------------- */

/* fi_store_f64_as, eight lanes: float32 rounds once; bfloat16 and float16 go through float
 * rounded to odd (fi_f64_to_f32_odd), then to nearest. */
static inline void store8_f64_as(int dtype, void *out, size_t i, __m512d x)
{
    if (dtype == FI_F64) { _mm512_storeu_pd((double *)out + i, x); return; }
    __m256 f = _mm512_cvtpd_ps(x);
    if (dtype == FI_F32) { _mm256_storeu_ps((float *)out + i, f); return; }
    __m512d back = _mm512_cvtps_pd(f);
    __mmask8 inexact = _mm512_cmp_pd_mask(back, x, _CMP_NEQ_UQ);
    __mmask8 away = _mm512_cmp_pd_mask(_mm512_abs_pd(back), _mm512_abs_pd(x), _CMP_GT_OQ);
    __m256i fb = _mm256_castps_si256(f);
    fb = _mm256_mask_sub_epi32(fb, away, fb, _mm256_set1_epi32(1));     /* toward zero */
    fb = _mm256_mask_or_epi32(fb, inexact, fb, _mm256_set1_epi32(1));   /* sticky bit */
    __m128i h;
    if (dtype == FI_BF16) {
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(fb, 16), _mm256_set1_epi32(1));
        fb = _mm256_add_epi32(fb, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd));
        h = _mm256_cvtepi32_epi16(_mm256_srli_epi32(fb, 16));
    } else {
        h = _mm256_cvtps_ph(_mm256_castsi256_ps(fb), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    _mm_storeu_si128((__m128i *)((uint16_t *)out + i), h);
}

typedef struct {
    __m512d a, b, lo, hi, alpha, beta, lam, inv_lam, width, m;
    __m512d offset;             /* the half-normal proposal's z = offset + |d| */
    const fi_zig *zt;           /* the normal proposal's ziggurat */
} tn_par;

/* As batch64: the words of a batch's first proposals, and the indices of those rejected. */
typedef struct {
    uint64_t words[FI_BATCH_GROUPS * 32];
    uint64_t rej_index[FI_BATCH_GROUPS * 32 + 8];
    size_t nrej;
} tn_rej;

static inline tn_par tn_par_of(const fi_params *p)
{
    tn_par t;
    t.a = _mm512_set1_pd(p->a);
    t.b = _mm512_set1_pd(p->b);
    t.lo = _mm512_set1_pd(p->lo);
    t.hi = _mm512_set1_pd(p->hi);
    t.alpha = _mm512_set1_pd(p->alpha);
    t.beta = _mm512_set1_pd(p->beta);
    t.lam = _mm512_set1_pd(p->lam);
    t.inv_lam = _mm512_set1_pd(p->inv_lam);
    t.width = _mm512_set1_pd(p->beta - p->alpha);
    t.m = _mm512_set1_pd(p->alpha > 0 ? p->alpha : 0.0);   /* the point of [alpha, beta] nearest 0 */
    t.zt = fi_tn_zig(p);
    t.offset = _mm512_set1_pd((double)t.zt->offset);
    return t;
}

/* The end of every vector truncated-normal step: x = a + b*z (z negated when mirrored),
 * clamped to [lo, hi], as fi_truncnorm_value; eight lanes. */
static inline __m512d tn_x8(const tn_par *bt, int mirror, __m512d z)
{
    if (mirror)
        z = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(z),
                                                 _mm512_set1_epi64((long long)0x8000000000000000ull)));
    __m512d x = _mm512_add_pd(bt->a, _mm512_mul_pd(bt->b, z));
    return _mm512_min_pd(bt->hi, _mm512_max_pd(bt->lo, x));
}

/* Store values i..i+7 and note the lanes not in ok (words r) in rj, when given, for the
 * scalar sampler. */
FI_FORCE_INLINE void tn_finish8(int dtype, int mirror,
                                const tn_par *bt, tn_rej *rj,
                                void *out, size_t i, __m512i r,
                                __m512d z, __mmask8 ok)
{
    store8_f64_as(dtype, out, i, tn_x8(bt, mirror, z));
    if (rj) {
        __mmask8 no = (__mmask8)~ok;
        const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
        _mm512_store_si512((void *)(rj->words + i), r);
        _mm512_storeu_si512((void *)(rj->rej_index + rj->nrej), _mm512_maskz_compress_epi64(no,
                            _mm512_add_epi64(lane, _mm512_set1_epi64((long long)i))));
        rj->nrej += (size_t)fi_popcount32(no);
    }
}

/* Values i..i+7 whose first proposal is a 64-bit ziggurat draw that lands in the fast
 * region and inside [alpha, beta]: what fi_truncnorm_value computes for them. Returns
 * those lanes; the others are noted in rj (when given) for the scalar sampler, which
 * starts over from the same words. */
FI_FORCE_INLINE __mmask8 tn_emit8(int dtype, int half, int mirror,
                                  const tn_par *bt, tn_rej *rj,
                                  void *out, size_t i, __m512i r,
                                  __mmask8 *fast)
{
    __m512i idx = _mm512_and_si512(r, _mm512_set1_epi64(0xff));
    __m512i u = _mm512_srli_epi64(r, 12);
    __m512d wt = _mm512_i64gather_pd(idx, bt->zt->w64, 8);
    __m512i kt = _mm512_i64gather_epi64(idx, (const void *)bt->zt->k64, 8);
    __m512d z = _mm512_mul_pd(_mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(u,
                    _mm512_set1_epi64(0x4330000000000000ll))), _mm512_set1_pd(0x1p52)), wt);
    if (!half)
        z = _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(z),
                _mm512_slli_epi64(_mm512_and_si512(r, _mm512_set1_epi64(0x100)), 55)));
    else
        z = _mm512_add_pd(z, bt->offset);
    __mmask8 in_fast = _mm512_cmplt_epu64_mask(u, kt);
    if (fast) *fast = in_fast;
    __mmask8 ok = in_fast
                  & _mm512_cmp_pd_mask(z, bt->alpha, _CMP_GE_OQ)
                  & _mm512_cmp_pd_mask(z, bt->beta, _CMP_LE_OQ);
    tn_finish8(dtype, mirror, bt, rj, out, i, r, z, ok);
    return ok;
}

/* fi_log of internal.h on n vectors of eight lanes, operation for operation, the chains
 * interleaved as in exp_f64 (simd/vmath.inc.h). */
FI_FORCE_INLINE void logN(__m512d *x, int n)
{
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d e[4], sv[4], s2[4], q[4];
    for (int j = 0; j < n; j++) {
        __m512i b = _mm512_castpd_si512(x[j]);
        e[j] = _mm512_cvtepi64_pd(_mm512_sub_epi64(_mm512_srli_epi64(b, 52), _mm512_set1_epi64(1023)));
        __m512d m = _mm512_castsi512_pd(_mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi64(0x000fffffffffffffll)),
                                                        _mm512_set1_epi64(0x3ff0000000000000ll)));
        __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(FI_SQRT2), _CMP_GT_OQ);
        m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
        e[j] = _mm512_mask_add_pd(e[j], big, e[j], one);
        sv[j] = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one));
        s2[j] = _mm512_mul_pd(sv[j], sv[j]);
        q[j] = _mm512_set1_pd(fi_log_series[9]);
    }
    for (int i = 8; i >= 0; i--)
        for (int j = 0; j < n; j++)
            q[j] = _mm512_add_pd(_mm512_mul_pd(q[j], s2[j]), _mm512_set1_pd(fi_log_series[i]));
    for (int j = 0; j < n; j++)
        x[j] = _mm512_add_pd(_mm512_mul_pd(e[j], _mm512_set1_pd(FI_LN2_HI)),
                             _mm512_add_pd(_mm512_mul_pd(_mm512_add_pd(sv[j], sv[j]), q[j]),
                                           _mm512_mul_pd(e[j], _mm512_set1_pd(FI_LN2_LO))));
}

/* fi_logf of internal.h on n vectors of sixteen lanes, operation for operation. */
FI_FORCE_INLINE void logfN(__m512 *x, int n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e[2], sv[2], s2[2], q[2];
    for (int j = 0; j < n; j++) {
        __m512i b = _mm512_castps_si512(x[j]);
        e[j] = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(b, 23), _mm512_set1_epi32(127)));
        __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi32(0x007fffff)),
                                                       _mm512_set1_epi32(0x3f800000)));
        __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(FI_SQRT2F), _CMP_GT_OQ);
        m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
        e[j] = _mm512_mask_add_ps(e[j], big, e[j], one);
        sv[j] = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
        s2[j] = _mm512_mul_ps(sv[j], sv[j]);
        q[j] = _mm512_set1_ps(fi_logf_series[4]);
    }
    for (int i = 3; i >= 0; i--)
        for (int j = 0; j < n; j++)
            q[j] = _mm512_add_ps(_mm512_mul_ps(q[j], s2[j]), _mm512_set1_ps(fi_logf_series[i]));
    for (int j = 0; j < n; j++)
        x[j] = _mm512_add_ps(_mm512_mul_ps(e[j], _mm512_set1_ps(FI_LN2_HIF)),
                             _mm512_add_ps(_mm512_mul_ps(_mm512_add_ps(sv[j], sv[j]), q[j]),
                                           _mm512_mul_ps(e[j], _mm512_set1_ps(FI_LN2_LOF))));
}

/* log of n <= 4 vectors of eight doubles as fi_truncnorm_value takes it for the narrower
 * dtypes: (double)fi_logf((float)u), two vectors to one register of floats. */
FI_FORCE_INLINE void log_via_float(__m512d *x, int n)
{
    __m512 f[2];
    const int nf = (n + 1) / 2;
    for (int h = 0; h < nf; h++) {
        __m256 lo = _mm512_cvtpd_ps(x[2 * h]);
        __m256 hi = 2 * h + 1 < n ? _mm512_cvtpd_ps(x[2 * h + 1]) : lo;
        f[h] = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    }
    logfN(f, nf);
    for (int j = 0; j < n; j++)
        x[j] = _mm512_cvtps_pd(j & 1 ? _mm512_extractf32x8_ps(f[j / 2], 1)
                                     : _mm512_castps512_ps256(f[j / 2]));
}

/* The uniform and exponential proposals: the first proposal of values i..i+8n-1 (n <= 4
 * vectors of eight, their chains interleaved), as fi_truncnorm_value makes it. With 32-bit
 * uniforms (float16, bfloat16, float32; r2 NULL) from their main-stream words w1 and w2
 * (r[j]: w1 low, w2 high); with 53-bit ones (float64) as described below. Rejected lanes
 * are noted in rj, when given, for the scalar sampler. Returns the accepted lanes, eight
 * bits a vector. */
FI_FORCE_INLINE uint32_t tn_propN(int dtype, int method, int mirror,
                                  const tn_par *bt, tn_rej *rj,
                                  void *out, size_t i,
                                  const __m512i *r, int n,
                                  const __m512i *r2)
{
    const __m512d two32 = _mm512_set1_pd(0x1p-32), two53 = _mm512_set1_pd(0x1p-53);
    __m512d z[4], u2[4], f[4];
    for (int j = 0; j < n; j++) {
        __m512d u1;
        if (r2) {
            /* float64: 53-bit uniforms, u1 from the two main-stream words (the retry
             * stream's retry_open01 or retry_co01), u2 from words 0 and 1 of the first
             * retry block (retry_co01), in r2. */
            __m512i b1 = _mm512_srli_epi64(r[j], 11);
            if (method == FI_TN_EXP) b1 = _mm512_add_epi64(b1, _mm512_set1_epi64(1));
            u1 = _mm512_mul_pd(_mm512_cvtepu64_pd(b1), two53);
            u2[j] = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(r2[j], 11)), two53);
        } else {
            __m256i w1 = _mm512_cvtepi64_epi32(r[j]), w2 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(r[j], 32));
            __m512d d1 = _mm512_cvtepu32_pd(w1);
            u2[j] = _mm512_mul_pd(_mm512_cvtepu32_pd(w2), two32);
            u1 = method == FI_TN_EXP ? _mm512_mul_pd(_mm512_add_pd(d1, _mm512_set1_pd(1.0)), two32)
                                     : _mm512_mul_pd(d1, two32);
        }
        z[j] = method == FI_TN_EXP ? u1 : _mm512_add_pd(bt->alpha, _mm512_mul_pd(bt->width, u1));
    }
    if (method == FI_TN_EXP) {
        if (r2) logN(z, n);
        else log_via_float(z, n);
        for (int j = 0; j < n; j++) {
            __m512d e = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(z[j]),
                                            _mm512_set1_epi64((long long)0x8000000000000000ull)));
            z[j] = _mm512_add_pd(bt->alpha, _mm512_mul_pd(e, bt->inv_lam));
            __m512d d = _mm512_sub_pd(z[j], bt->lam);
            f[j] = _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(-0.5), d), d);
        }
    } else {
        for (int j = 0; j < n; j++)
            f[j] = _mm512_mul_pd(_mm512_set1_pd(-0.5),
                                 _mm512_mul_pd(_mm512_sub_pd(z[j], bt->m), _mm512_add_pd(z[j], bt->m)));
    }
    /* fi_below_exp(u2, f): the bounds first, the exponential only if a lane needs it. */
    __mmask8 below[4], und[4], any = 0;
    for (int j = 0; j < n; j++) {
        __m512d lower = _mm512_add_pd(_mm512_set1_pd(1.0), f[j]);
        __m512d upper = _mm512_add_pd(lower, _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(0.5), f[j]), f[j]));
        below[j] = _mm512_cmp_pd_mask(u2[j], lower, _CMP_LT_OQ);
        und[j] = (__mmask8)(~below[j] & _mm512_cmp_pd_mask(u2[j], upper, _CMP_LT_OQ));
        any |= und[j];
    }
    if (any) {
        exp_f64(f, n);
        for (int j = 0; j < n; j++)
            below[j] |= und[j] & _mm512_cmp_pd_mask(u2[j], f[j], _CMP_LT_OQ);
    }
    uint32_t acc = 0;
    for (int j = 0; j < n; j++) {
        __mmask8 ok = below[j];
        if (method == FI_TN_EXP) ok &= _mm512_cmp_pd_mask(z[j], bt->beta, _CMP_LE_OQ);
        tn_finish8(dtype, mirror, bt, rj, out, i + 8 * (size_t)j, r[j], z[j], ok);
        acc |= (uint32_t)ok << (8 * j);
    }
    return acc;
}

/* One batch of truncated normals by a proposal that has a vector form: the first proposal of
 * every value in registers; for the normal ones, the second too where the first fell
 * outside [alpha, beta]; the rest on the scalar sampler. */
FI_FORCE_INLINE void produce_truncnorm_fused(
    int dtype, int method, int mirror, const fi_stream *s, uint64_t g0, size_t ngroups,
    void *out, const fi_params *p)
{
    const int half = method == FI_TN_FOLDED, normal = method <= FI_TN_FOLDED;
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    simd_keys rk;
    tn_par bt = tn_par_of(p);
    FI_ALIGN64 tn_rej rj;
    simd_make_keys(s->key, &rk);
    rj.nrej = 0;
    for (size_t g = 0; g < ngroups; g += 2) {
        state16 x, y;
        philox_main16x2(s->counter + 16 * (g0 + g),
                        s->counter + 16 * (g0 + (g + 1 < ngroups ? g + 1 : g)), &rk, &x, &y);
        const int ns = g + 1 < ngroups ? 2 : 1;
        for (int j = 0; j < ns; j++) {
            const state16 *st = j ? &y : &x;
            size_t i = 32 * (g + (size_t)j);
            /* Values 0..7 and 8..15 of each half-group: their (low, high) word pairs. */
            __m512i r[4] = {_mm512_permutex2var_epi32(st->c0, first, st->c1),
                            _mm512_permutex2var_epi32(st->c0, second, st->c1),
                            _mm512_permutex2var_epi32(st->c2, first, st->c3),
                            _mm512_permutex2var_epi32(st->c2, second, st->c3)};
            if (normal) {
                for (int k = 0; k < 4; k++)
                    tn_emit8(dtype, half, mirror, &bt, &rj, out, i + 8 * (size_t)k, r[k], NULL);
            } else if (dtype == FI_F64) {
                /* u2 of these 32 values: their first retry blocks, (block, 1, slot), the
                 * blocks of this group with slot 0 (x) and 1 (y). */
                state16 rx = group_counters(s->counter + 16 * (g0 + g + (size_t)j)), ry;
                rx.c2 = _mm512_set1_epi32(1);
                ry = rx;
                ry.c3 = rx.c2;
                philox16x2(&rx, &ry, &rk);
                __m512i r2[4] = {_mm512_permutex2var_epi32(rx.c0, first, rx.c1),
                                 _mm512_permutex2var_epi32(rx.c0, second, rx.c1),
                                 _mm512_permutex2var_epi32(ry.c0, first, ry.c1),
                                 _mm512_permutex2var_epi32(ry.c0, second, ry.c1)};
                tn_propN(dtype, method, mirror, &bt, &rj, out, i, r, 4, r2);
            } else {
                tn_propN(dtype, method, mirror, &bt, &rj, out, i, r, 4, NULL);
            }
        }
    }
    if (!normal) {
        /* The second proposal of a rejected value takes the first two words of its first
         * retry block: settle those eight at a time too. */
        for (size_t r0 = 0; r0 < rj.nrej; r0 += 32) {
            FI_ALIGN64 uint32_t w[4][32];
            FI_ALIGN64 uint64_t index[32];
            FI_ALIGN64 double xs[32];
            size_t cnt = rj.nrej - r0 < 32 ? rj.nrej - r0 : 32;
            uint32_t settled = 0;
            for (size_t q = 0; q < cnt; q++) index[q] = 32 * g0 + rj.rej_index[r0 + q];
            /* (float64's second proposal takes other words: the scalar sampler's.) */
            if (p->max_attempts >= 2 && dtype != FI_F64) {
                first_retry_blocks(FI_F64, s, &rk, index, cnt, w);
                /* All 32 slots in four interleaved vectors once more than eight are
                 * used (those past cnt hold value index[0]'s words: wasted, harmless). */
                __m512i r2[4];
                for (int k = 0; k < 4; k++)
                    r2[k] = _mm512_or_si512(
                        _mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(w[0] + 8 * k))),
                        _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(w[1] + 8 * k))), 32));
                settled = cnt > 8 ? tn_propN(FI_F64, method, mirror, &bt, NULL, xs, 0, r2, 4, NULL)
                                  : tn_propN(FI_F64, method, mirror, &bt, NULL, xs, 0, r2, 1, NULL);
            }
            for (size_t q = 0; q < cnt; q++) {
                size_t li = rj.rej_index[r0 + q];
                uint64_t wd = rj.words[rj.rej_index[r0 + q]];
                double v = settled >> q & 1 ? xs[q]
                         : fi_truncnorm_value((uint32_t)wd, (uint32_t)(wd >> 32), s, index[q], p);
                fi_store_f64_as(dtype, out, li, v);
            }
        }
        return;
    }
    /* A first draw that fell outside [alpha, beta] (the common rejection) is followed by a
     * second from the value's first retry block: settle those eight at a time, as the
     * scalar sampler would; the rest start over there. */
    for (size_t r0 = 0; r0 < rj.nrej; r0 += 32) {
        FI_ALIGN64 uint32_t w[4][32];
        FI_ALIGN64 uint64_t index[32];
        FI_ALIGN64 double xs[32];
        size_t cnt = rj.nrej - r0 < 32 ? rj.nrej - r0 : 32;
        uint32_t settled = 0;
        for (size_t q = 0; q < cnt; q++) index[q] = 32 * g0 + rj.rej_index[r0 + q];
        first_retry_blocks(FI_F64, s, &rk, index, cnt, w);
        for (size_t q = 0; q < cnt; q += 8) {
            __m512i r1 = words8_at(rj.words, rj.rej_index + r0 + q);
            __m512i k1 = _mm512_i64gather_epi64(_mm512_and_si512(r1, _mm512_set1_epi64(0xff)),
                                                (const void *)bt.zt->k64, 8);
            __mmask8 first_fast = _mm512_cmplt_epu64_mask(_mm512_srli_epi64(r1, 12), k1);
            __m512i r2 = _mm512_or_si512(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(w[0] + q))),
                         _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(w[1] + q))), 32));
            __mmask8 fast2;
            __mmask8 ok2 = tn_emit8(FI_F64, half, mirror, &bt, NULL, xs, q, r2, &fast2);
            if (p->max_attempts >= 2) settled |= (uint32_t)(first_fast & ok2) << q;
            /* A second draw in the fast region but outside too: the third, from words 2
             * and 3 of the block. */
            __mmask8 third = first_fast & fast2 & (__mmask8)~ok2;
            if (third && p->max_attempts >= 3) {
                __m512i r3 = _mm512_or_si512(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(w[2] + q))),
                             _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_load_si256((const __m256i *)(w[3] + q))), 32));
                FI_ALIGN64 double x3[8];
                __mmask8 ok3 = third & tn_emit8(FI_F64, half, mirror, &bt, NULL, x3, 0, r3, NULL);
                _mm512_mask_storeu_pd(xs + q, ok3, _mm512_load_pd(x3));
                settled |= (uint32_t)ok3 << q;
            }
            /* A first draw outside the fast region: its wedge or redraw, as for normals
             * (settle8_f64 reads the same retry words), then the bounds. */
            __m512d zw;
            __mmask8 wedge_ok = (__mmask8)~first_fast
                & settle8_f64(bt.zt, r1, w[0] + q, w[1] + q, w[2] + q, w[3] + q, &zw);
            if (half) zw = _mm512_add_pd(_mm512_abs_pd(zw), bt.offset);
            wedge_ok &= _mm512_cmp_pd_mask(zw, bt.alpha, _CMP_GE_OQ) & _mm512_cmp_pd_mask(zw, bt.beta, _CMP_LE_OQ);
            if (wedge_ok) {
                _mm512_mask_storeu_pd(xs + q, wedge_ok, tn_x8(&bt, mirror, zw));
                settled |= (uint32_t)wedge_ok << q;
            }
        }
        for (size_t q = 0; q < cnt; q++) {
            size_t li = rj.rej_index[r0 + q];
            if (settled >> q & 1) {
                fi_store_f64_as(dtype, out, li, xs[q]);
            } else {
                uint64_t r = rj.words[rj.rej_index[r0 + q]];
                double v = fi_truncnorm_value((uint32_t)r, (uint32_t)(r >> 32), s, index[q], p);
                fi_store_f64_as(dtype, out, li, v);
            }
        }
    }
}

/* The cases of two words per value (simd/truncnorm.inc.h's FI_TN_TWO_WORD): the normal and
 * half-normal proposals in float64, the uniform and exponential ones in every dtype. */
static void produce_truncnorm_two_word(int dtype, const fi_stream *s, uint64_t g0, size_t ngroups,
                                       void *out, const fi_params *p)
{
    int m = p->method;
    if (p->max_attempts == 0 || m > FI_TN_EXP) {
        produce_truncnorm_scalar(dtype, s, g0, ngroups, out, p);
        return;
    }
#define CASE(T, M, R) \
    if (dtype == T && m == M && p->mirror == R) { produce_truncnorm_fused(T, M, R, s, g0, ngroups, out, p); return; }
    /* A full normal is never mirrored. */
#define ALL(T) CASE(T, FI_TN_UNIFORM, 0) CASE(T, FI_TN_UNIFORM, 1) CASE(T, FI_TN_EXP, 0) CASE(T, FI_TN_EXP, 1)
    CASE(FI_F64, FI_TN_NORMAL, 0) CASE(FI_F64, FI_TN_FOLDED, 0) CASE(FI_F64, FI_TN_FOLDED, 1)
    ALL(FI_F64) ALL(FI_F32) ALL(FI_BF16) ALL(FI_F16)
#undef ALL
#undef CASE
}

#include "kernels.inc.h"
FI_TARGET_END
#endif
