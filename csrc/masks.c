/*
 * masks.c -- Bernoulli parameters and sparse masks (exactly k ones in every slice, by
 * Floyd's algorithm on each slice's own stream), with the blocks a sparse mask advances the
 * stream by. The Bernoulli fill itself is a kernel (kernels.inc.h).
 */
#include <stdlib.h>
#include <string.h>
#include "engine_internal.h"

uint64_t fi_mask_blocks(uint64_t nslices)
{
    return (nslices + 15) / 16 * 16;
}

int fi_bernoulli_params(double prob, fi_params *p)
{
    if (!(prob >= 0 && prob <= 1)) return FI_ERR_PROB;
    memset(p, 0, sizeof *p);
    p->a = prob;
    p->thresh = (uint64_t)(prob * 0x1p32 + 0.5);    /* 0 and 2**32 make p = 0 and 1 exact */
    return FI_OK;
}

/* A uniform integer in [0, m), m < 2**32, without bias (Lemire's multiply and reject). */
static uint32_t retry_below(retry_stream *r, uint32_t m)
{
    uint64_t prod = (uint64_t)retry_u32(r) * m;
    if ((uint32_t)prod < m) {
        uint32_t floor = (uint32_t)(-m) % m;
        while ((uint32_t)prod < floor) prod = (uint64_t)retry_u32(r) * m;
    }
    return (uint32_t)(prod >> 32);
}

static const uint64_t one_bits[FI_NDTYPES] = {0x3c00, 0x3f80, 0x3f800000, 0x3ff0000000000000ull, 1};

/* Slices [slice0, slice0 + nslices) of o (C order over all its dims but the last); slice j
 * of o is slice stream0 + j of the call, so a block of slices can be made on its own. */
void fi_sparse_mask(const fi_stream *s, int dtype, const fi_out *o, uint64_t slice0,
                    uint64_t nslices, uint64_t k, uint64_t stream0)
{
    const int last = o->ndim - 1;
    const uint64_t n = (uint64_t)o->shape[last];
    const int64_t st = o->strides[last];
    const size_t es = fi_itemsize(dtype);
    const int flip_to = !(k > n - k);          /* the value the chosen positions get */
    const uint64_t kk = flip_to ? k : n - k;
    const uint64_t on = flip_to ? one_bits[dtype] : 0;
    /* Which positions are taken, in a bitmap that stays in cache: the output is touched
     * only where a position is chosen (a slice is often a strided column). */
    uint64_t stack_bits[64], *taken = stack_bits;
    const size_t words = (size_t)((n + 63) / 64);
    if (words > 64 && !(taken = malloc(words * sizeof *taken))) {
        /* Out of memory for the bitmap: fall back to reading the output itself. */
        taken = NULL;
    }
    for (uint64_t j = slice0; j < slice0 + nslices; j++) {
        char *base = o->data;
        uint64_t rem = j;
        for (int d = last - 1; d >= 0; d--) {
            base += (int64_t)(rem % (uint64_t)o->shape[d]) * o->strides[d];
            rem /= (uint64_t)o->shape[d];
        }
        retry_stream r;
        uint64_t block = s->counter + stream0 + j;
        r.key[0] = s->key[0];
        r.key[1] = s->key[1];
        r.ctr[0] = (uint32_t)block;
        r.ctr[1] = (uint32_t)(block >> 32);
        r.ctr[2] = (uint32_t)-1;     /* retry_u32 steps it to 0 first: blocks (counter + j, t, 0) */
        r.ctr[3] = 0;
        r.pos = 4;
        if (taken) memset(taken, 0, words * sizeof *taken);
        /* Floyd: for i = n - kk .. n - 1 take a uniform t <= i; if t is taken already, take i. */
        for (uint64_t i = n - kk; i < n; i++) {
            uint64_t t = retry_below(&r, (uint32_t)(i + 1));
            int was;
            if (taken) {
                was = (int)(taken[t / 64] >> (t % 64) & 1);
            } else {
                uint64_t v = 0;
                memcpy(&v, base + (int64_t)t * st, es);
                was = (v != 0) == flip_to;
            }
            if (was) t = i;
            if (taken) taken[t / 64] |= 1ull << (t % 64);
            memcpy(base + (int64_t)t * st, &on, es);
        }
    }
    if (taken != stack_bits) free(taken);
}
