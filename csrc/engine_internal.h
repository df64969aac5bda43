/*
 * engine_internal.h -- what the engine's files share, and the kernels do not. The engine is
 * the plain scalar C around the per-ISA kernels, one file per concern:
 *   params.c     dtypes, words and blocks per call, the uniform and normal parameters;
 *   zig_build.c  a truncated normal's own ziggurat, built for its interval, and the cache
 *                of the last few (a try-only lock, safe across fork);
 *   slow.c       the ziggurat's slow path (wedges, tail, redraws) that every SIMD path
 *                calls, so that all of them give the same bits;
 *   truncnorm.c  the truncated normal: choosing its proposal, and its scalar sampler;
 *   masks.c      Bernoulli parameters and sparse masks;
 *   dispatch.c   the SIMD paths: which this CPU runs, and the one in use;
 *   fills.c      prefaulting, and the contiguous, strided, block and constant fills.
 * What the kernels share with the engine is in internal.h; the API is fastinit.h.
 */
#ifndef FASTINIT_ENGINE_INTERNAL_H
#define FASTINIT_ENGINE_INTERNAL_H

#include <string.h>
#include "philox.h"
#include "internal.h"

/* ---- the representable values of each dtype (params.c) ------------------------------- */

double fi_dtype_max(int dtype);                 /* the largest finite value */
double fi_dtype_ceil(int dtype, double x);      /* the least value >= x (x finite, in range) */
double fi_dtype_floor(int dtype, double x);     /* the greatest value <= x */

/* ---- the retry stream ----------------------------------------------------------------- */

/* The draws reserved for one value: blocks (block, attempt = 1, 2, ..., slot), read in order. */
typedef struct {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int pos;
} retry_stream;

/* per_group: values per group of the call, 64 / words per value. retry1, if not NULL, is the
 * value's first retry block, computed ahead (by a vector unit). */
static inline void retry_init(retry_stream *r, const fi_stream *s, uint64_t per_group,
                              uint64_t index, const uint32_t *retry1)
{
    uint64_t in_group = index % per_group;
    uint64_t block = s->counter + 16 * (index / per_group) + in_group % 16;
    r->key[0] = s->key[0];
    r->key[1] = s->key[1];
    r->ctr[0] = (uint32_t)block;
    r->ctr[1] = (uint32_t)(block >> 32);
    r->ctr[2] = 0;
    r->ctr[3] = (uint32_t)(in_group / 16);      /* the value's slot in its block */
    r->pos = 4;
    if (retry1) {
        memcpy(r->buf, retry1, sizeof r->buf);
        r->ctr[2] = 1;
        r->pos = 0;
    }
}

static inline uint32_t retry_u32(retry_stream *r)
{
    if (r->pos == 4) {
        r->ctr[2]++;
        philox4x32(r->ctr, r->key, r->buf);
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

static inline uint64_t retry_u64(retry_stream *r)
{
    uint64_t lo = retry_u32(r);
    return ((uint64_t)retry_u32(r) << 32) | lo;
}

/* Uniform on (0, 1], 53 bits: never 0, so its log is finite. */
static inline double retry_open01(retry_stream *r)
{
    return (double)((retry_u64(r) >> 11) + 1) * 0x1p-53;
}

/* Uniform on [0, 1), 53 bits. */
static inline double retry_co01(retry_stream *r)
{
    return (double)(retry_u64(r) >> 11) * 0x1p-53;
}

/* ---- the ziggurat --------------------------------------------------------------------- */

/* A draw of the 32-bit (64-bit) ziggurat t from its first candidate, word (words), on,
 * taking further draws from r (slow.c): d, signed by the draw's sign bit. */
float fi_zig_draw32(const fi_zig *t, uint32_t word, retry_stream *r);
double fi_zig_draw64(const fi_zig *t, uint64_t words, retry_stream *r);

/* Past this, a centered ziggurat's layer-0 rectangle [0, beta] would hold more than a
 * layer's area. */
#define FI_ZIG_BETA_MAX 4.0

/* The ziggurat of the normal truncated to [-width, width] (offset 0) or to
 * [offset, offset + width] (offset > 0, a float), into t, from the cache when it holds it
 * (zig_build.c). Returns 0, or -1 when that ziggurat does not exist. */
int fi_zig_truncated_cached(double offset, double width, fi_zig *t);

/* ---- the SIMD path in use (dispatch.c) ------------------------------------------------- */

/* What fills a contiguous range: fi_fill_contig_scalar, or what fi_simd_set chose. */
extern fi_contig_fn fi_active_contig;
/* Its streamed constant fill, or NULL where it writes through the caches. */
extern fi_stream_fill_fn fi_active_stream_fill;

#endif
