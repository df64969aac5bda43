/* kernels_scalar.c -- the portable path: one Philox block at a time, no intrinsics. */
#include "philox.h"
#include "internal.h"

static void philox_groups(const uint32_t key[2], uint64_t block0, size_t ngroups,
                          uint32_t *restrict w)
{
    for (size_t g = 0; g < ngroups; g++, w += 64)
        philox_group16(key, block0 + 16 * g, w);
}

#define FI_CONTIG_NAME fi_fill_contig_scalar
#include "kernels.inc.h"
