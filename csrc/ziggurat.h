/*
 * ziggurat.h -- the type of a ziggurat's tables, fi_zig: kernel-private. Outside the C core
 * only params.h includes it: fi_params holds a truncated normal's own ziggurat by value, and
 * the Cython layer keeps fi_params on its stack, so the struct's size must be known there.
 * No code outside csrc/ reads a field of it (src/fastinit/_cdefs.pxi does not declare it).
 *
 * A 256-layer ziggurat (Marsaglia & Tsang, 2000) for the density of d = z - offset, z normal
 * and d >= 0: g(d) = exp(-d*d/2 - offset*d) (the normal's shape past offset, up to a
 * constant). Layer i (chosen by 8 random bits) is the rectangle [0, x[i]] x [f[i], f[i+1]];
 * all layers have the same area, so a point uniform in a uniformly chosen layer is uniform
 * under their union, and it is accepted where it lies under the curve. A draw of u (23 or
 * 52 bits) in layer i is d = u * w[i] (w = x[i] / 2**bits), under the curve at once when
 * u < k[i] (its strip lies wholly below g), else tested against g (the wedge).
 *   - fi_zig_normal (ziggurat_tables.h): the normal itself (offset 0, a random sign);
 *     layer 0 is the rectangle [0, r] plus the tail beyond r, folded into width x[0] (tail).
 *   - built per interval (zig_build.c, zig_truncated): the normal truncated to [-beta, beta]
 *     (offset 0, a random sign), or past offset > 0 to [offset, offset + width]
 *     (z = offset + |d|, for tails); no tail: layers whose strip lies below g(width) are
 *     whole rectangles [0, width] (k = 2**bits), and above them layer 0 too may have a
 *     wedge (offset > 0 only).
 * The entries are computed once, so every path reads the same ones.
 */
#ifndef FASTINIT_ZIGGURAT_H
#define FASTINIT_ZIGGURAT_H

#include <stdint.h>
#include "portable.h"

typedef struct FI_ALIGNED(64) {
    uint8_t planes32[7][256];   /* byte m of wk32[i]: for byte-shuffle lookups */
    uint64_t wk32[256];         /* (k32 << 32) | bits of w32: one gather for both */
    uint64_t k64[256];
    double w64[256];
    double x[257], f[257];
    float w32[256];
    uint32_t k32[256];
    double two_offset;          /* the wedge tests d*d/2 + offset*d as (d/2) * (d + 2*offset) */
    float offset;               /* a float: z = offset + |d| is then made in float */
    int tail;                   /* a draw leaving layer 0 is in the tail (fi_zig_normal) */
} fi_zig;

#endif
