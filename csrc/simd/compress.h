/*
 * simd/compress.h -- compress-store of lane indices, for the op headers without a compress
 * instruction (AVX2, NEON): a list of the lanes a mask sets, kept without a branch.
 *
 * A reject of the normal's fast path is rare (1.5% of draws) but falls at random, so a branch
 * on "any lane rejected?" would be mispredicted about once per ten vectors; a table indexed by
 * four mask bits gives the set lanes' numbers as four 16-bit fields of one 64-bit word, which
 * one add (of the base, to every field) and one 8-byte store append to the list, whatever
 * the mask. Fields past the set lanes are junk the next append overwrites. Little-endian
 * (every target fastinit has: x86-64, AArch64).
 */
#ifndef FI_SIMD_COMPRESS_H
#define FI_SIMD_COMPRESS_H

#include <string.h>
#include "../portable.h"

static const uint64_t fi_set_lanes4[16] = {
    0x0000000000000000ull, 0x0000000000000000ull, 0x0000000000000001ull, 0x0000000000010000ull,
    0x0000000000000002ull, 0x0000000000020000ull, 0x0000000000020001ull, 0x0000000200010000ull,
    0x0000000000000003ull, 0x0000000000030000ull, 0x0000000000030001ull, 0x0000000300010000ull,
    0x0000000000030002ull, 0x0000000300020000ull, 0x0000000300020001ull, 0x0003000200010000ull,
};

/* Appends base + j for each bit j set in the low 4 bits of bits to list[n..]; returns the new
 * n. Writes 4 entries from n. base + 3 must fit 16 bits (batch-local indices do). */
FI_FORCE_INLINE size_t fi_compress4(uint16_t *list, size_t n, uint32_t base, uint32_t bits)
{
    uint64_t e = fi_set_lanes4[bits & 15u] + (uint64_t)base * 0x0001000100010001ull;
    memcpy(list + n, &e, 8);
    return n + (size_t)fi_popcount32(bits & 15u);
}

#endif
