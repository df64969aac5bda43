/* params.h -- the fields of fi_params, which fastinit.h declares. Included by the C core
 * (internal.h) and by what allocates one: the Cython layer keeps fi_params on its stack, so
 * its size must be known there, and it holds a truncated normal's own ziggurat (fi_zig,
 * ziggurat.h) by value, so that a call owns its table while it runs. That is why this is
 * not part of fastinit.h: fi_zig and these fields are the kernels' business. */
#ifndef FASTINIT_PARAMS_H
#define FASTINIT_PARAMS_H

#include "fastinit.h"
#include "ziggurat.h"

/*
 * fi_params' fields (fastinit.h declares the type alone). A caller only allocates one and
 * passes it on: every field is the C core's own (the Cython layer declares none of them).
 *   uniform:   x = (a + b*u) * m, then clamped to [lo, hi], the representable values of the
 *              output dtype inside [low, high); m is 2 only when high - low overflows.
 *   normal:    x = a + b*z.
 *   truncnorm: x = a + b*z, z from N(0, 1) on [alpha, beta] (negated when mirror), by the
 *              proposal `method` (fi_truncnorm_method, internal.h); clamped to [lo, hi],
 *              the representable values in [low, high]. The normal and folded proposals
 *              are draws of the ziggurat fi_tn_zig(p).
 *   bernoulli: 1 when a 32-bit word is below thresh (p * 2**32, rounded), else 0.
 */
struct fi_params {
    double a, b, m, lo, hi;
    double alpha, beta, lam;    /* truncnorm: standardized bounds, exponential rate */
    double inv_lam;             /* truncnorm: 1 / lam, so proposals multiply */
    double edge;                /* truncnorm: the bound alpha stands for (high if mirror) */
    int method, mirror;
    int wide;                   /* truncnorm: 53-bit uniforms (float64), else 32-bit */
    uint32_t max_attempts;      /* truncnorm: proposals tried before the exact fallback */
    uint64_t thresh;
    /* truncnorm, normal and folded proposals: ztrunc says that the proposal is the
     * ziggurat zig, built for the interval, rather than the whole normal's (fi_zig_normal). */
    int ztrunc;
    fi_zig zig;
};

#endif
