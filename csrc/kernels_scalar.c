/* kernels_scalar.c -- the portable path: one Philox block at a time, no intrinsics. */
#include "philox.h"
#include "internal.h"

static void philox_groups(const uint32_t key[2], uint64_t block0, size_t ngroups,
                          uint32_t *restrict w)
{
    for (size_t g = 0; g < ngroups; g++, w += 64) {
        for (int m = 0; m < 16; m++) {
            uint64_t b = block0 + 16 * g + (uint64_t)m;
            uint32_t c[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0}, r[4];
            philox4x32(c, key, r);
            w[m] = r[0]; w[16 + m] = r[1]; w[32 + m] = r[2]; w[48 + m] = r[3];
        }
    }
}

#define FI_CONTIG_NAME fi_fill_contig_scalar
#include "kernels.inc.h"
